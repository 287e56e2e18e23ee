/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_run.c - the engine of `expectctl probe URL`: how a server, or the
 * chain of intermediaries in front of it, handles Expect: 100-continue.
 *
 * Four checks, each on a new connection to the same address:
 *
 *   baseline             the request without Expect, body sent at once:
 *                        what the URL answers anyway, and how fast
 *   expect-100-continue  Expect: 100-continue; wait for a 100 or a final
 *                        status, send the body after a 100 or after the
 *                        wait, read the final status
 *   unknown-expectation  Expect: x-probe, the same way
 *   http10               HTTP/1.0 with 100-continue, the same way (not
 *                        over HTTP/2, which has no HTTP/1.0)
 *
 * over HTTP/1.1 (probe_h1.c) or HTTP/2 (probe_h2.c), along the route
 * probe_route.c opens.  probe_verdict.c turns the results into diagnoses.
 * Three modes: one probe; --compare, the same URL over h2 and HTTP/1.1
 * with a line that compares them; --chain, one probe per hop and the hop
 * that first changes the verdict.
 *
 * Bounds: each wait ends after --timeout S; the wait for a 100 is S/2;
 * after a check times out the rest are skipped; one probe ends within
 * TOTAL_TIMEOUTS x S (name resolution aside: that is the system
 * resolver's), and each further probe of --compare or --chain has a bound
 * of its own.  Every deadline is checked before every send and receive,
 * also while bytes keep arriving, and one request accepts at most
 * PROBE_INTERIM_MAX interim responses (probe.h), so no server behaviour
 * stretches the bound.
 *
 * This file runs the checks of one probe; probe_modes.c runs one, two
 * (--compare) or one per hop (probe_chain.c), and the verb (ctl_probe.c)
 * calls probe_modes.c.  No segment is attached: probe needs no privilege.
 */
#include <string.h>
#include <strings.h>

#include "probe_run.h"

/*
 * The checks after the first wait for an interim response three times as
 * long as the baseline took to answer, at least 0.3 s and at most the
 * 100-continue wait: long enough to see what a server says at once,
 * short enough that a server which never says anything costs little.
 */
#define WAIT_OTHER_FACTOR 3
#define WAIT_OTHER_MIN_MS 300
#define TOTAL_TIMEOUTS 8

int probe_run(probe_run_t *x, const probe_opts_t *o, probe_proto_t proto, const char *hop)
{
    int k, skip = 0;

    memset(x, 0, sizeof(*x));
    x->o = o;
    x->proto = proto;
    x->hop = hop;
    x->first_fd = -1;
    if (probe_parse_url(o->url, &x->url, x->err, sizeof(x->err)) != 0) {
        return -1;  /* checked before: not reached */
    }
    x->head_request = strcasecmp(o->method, "HEAD") == 0;
    x->res.timeout_ms = o->timeout_ms;
    x->res.wait_100_ms = o->timeout_ms / 2;
    x->wait_other_ms = x->res.wait_100_ms;
    x->start_us = probe_now_us();
    x->end_us = x->start_us + (int64_t)TOTAL_TIMEOUTS * o->timeout_ms * 1000;
    if (probe_route_init(x) != 0) {
        return -1;
    }
    for (k = 0; k < PROBE_CHECK_COUNT; k++) {
        probe_check_t *r = &x->res.check[k];
        int rc;
        if (skip || probe_now_us() >= x->end_us) {
            continue;  /* stays PROBE_OUT_SKIPPED */
        }
        if (proto != PROBE_PROTO_H1 && k == PROBE_CHECK_HTTP10) {
            continue;  /* HTTP/2 has no HTTP/1.0: not applicable */
        }
        rc = proto == PROBE_PROTO_H1 ? probe_h1_check(x, (probe_check_id_t)k)
                                     : probe_h2_check(x, (probe_check_id_t)k);
        if (rc != 0) {
            return -1;
        }
        skip = r->outcome == PROBE_OUT_TIMEOUT;
        if (k == PROBE_CHECK_BASELINE && r->outcome == PROBE_OUT_RESPONSE) {
            long w = r->final_ms * WAIT_OTHER_FACTOR;
            x->wait_other_ms = w < WAIT_OTHER_MIN_MS ? WAIT_OTHER_MIN_MS : w;
            if (x->wait_other_ms > x->res.wait_100_ms) {
                x->wait_other_ms = x->res.wait_100_ms;
            }
        }
    }
    x->nf = probe_diagnose(&x->res, x->f, PROBE_FINDINGS_MAX);
    x->elapsed_ms = probe_since_ms(x->start_us);
    return 0;
}

int probe_run_exit(const probe_run_t *x)
{
    return probe_diag(x->f[0].id)->exit_code;
}

