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
 * The verb (ctl_probe.c) calls probe_opts_check, then probe_start; no
 * segment is attached: probe needs no privilege.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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

const probe_spec_t probe_specs[PROBE_CHECK_COUNT] = {
    {1, NULL, 0, "no Expect"},
    {1, "100-continue", 1, "Expect: 100-continue"},
    {1, "x-probe", 2, "Expect: x-probe"},
    {0, "100-continue", 2, "HTTP/1.0 + 100-continue"},
};

const char *probe_proto_name(probe_proto_t p)
{
    switch (p) {
    case PROBE_PROTO_H2:  return "h2";
    case PROBE_PROTO_H2C: return "h2c";
    case PROBE_PROTO_H1:
    default:              return "http/1.1";
    }
}

int64_t probe_run_deadline(const probe_run_t *x, long ms)
{
    int64_t d = probe_now_us() + (int64_t)ms * 1000;
    return d < x->end_us ? d : x->end_us;
}

long probe_since_ms(int64_t t0)
{
    return (long)((probe_now_us() - t0) / 1000);
}

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

static int one_probe(const probe_opts_t *o)
{
    probe_run_t *x = calloc(1, sizeof(*x));
    int rc = PROBE_EXIT_FAIL;

    if (x == NULL) {
        fprintf(stderr, "expectctl: probe: out of memory\n");
        return PROBE_EXIT_FAIL;
    }
    if (probe_run(x, o, o->proto, o->connect_to) != 0) {
        fprintf(stderr, "expectctl: probe: %s\n", x->err);
    }
    else {
        rc = probe_run_exit(x);
        if (o->json) {
            probe_print_json(x, NULL, NULL, rc);
        }
        else {
            probe_print_text(x);
        }
    }
    probe_route_free(x);
    free(x);
    return rc;
}

/*
 * --compare: h2 (or h2c) first, then HTTP/1.1 along the same route.  The
 * status is the first problem of the two, h2's first; 1 if either could
 * not be probed and neither has a problem: half a comparison is no
 * evidence of health.
 */
static int compare_probe(const probe_opts_t *o)
{
    probe_run_t *x = calloc(2, sizeof(*x));
    probe_proto_t proto = o->proto;
    probe_comparison_t cmp;
    int ok[2], rc, k;

    if (x == NULL) {
        fprintf(stderr, "expectctl: probe: out of memory\n");
        return PROBE_EXIT_FAIL;
    }
    ok[0] = probe_run(&x[0], o, proto, o->connect_to) == 0;
    ok[1] = probe_run(&x[1], o, PROBE_PROTO_H1, o->connect_to) == 0;
    rc = PROBE_EXIT_OK;
    for (k = 0; k < 2; k++) {
        if (!ok[k]) {
            fprintf(stderr, "expectctl: probe: %s: %s\n", probe_proto_name(x[k].proto), x[k].err);
        }
    }
    for (k = 1; k >= 0; k--) {
        if (ok[k] && probe_run_exit(&x[k]) != PROBE_EXIT_OK) {
            rc = probe_run_exit(&x[k]);
        }
    }
    if (rc == PROBE_EXIT_OK && !(ok[0] && ok[1])) {
        rc = PROBE_EXIT_FAIL;
    }
    if (ok[0] && ok[1]) {
        probe_compare(x[0].f, x[0].nf, probe_proto_name(proto), x[1].f, x[1].nf, "HTTP/1.1",
                      &cmp);
        if (o->json) {
            probe_print_json(&x[0], &x[1], &cmp, rc);
        }
        else {
            probe_print_text(&x[0]);
            printf("\n");
            probe_print_text(&x[1]);
            printf("\ncompare: %s\ncompare: %s\n(exit %d)\n", cmp.expect_100, cmp.unknown, rc);
        }
    }
    else if (ok[0] || ok[1]) {
        /* Half a comparison: show the half there is, and say it is half. */
        k = ok[0] ? 0 : 1;
        if (o->json) {
            probe_print_json(&x[k], NULL, NULL, rc);
        }
        else {
            probe_print_text(&x[k]);
            printf("\ncompare: not made: %s could not be probed\n(exit %d)\n",
                   probe_proto_name(x[1 - k].proto), rc);
        }
    }
    for (k = 0; k < 2; k++) {
        probe_route_free(&x[k]);
    }
    free(x);
    return rc;
}

probe_opts_status_t probe_opts_check(const probe_opts_t *o, char *err, size_t errlen)
{
    probe_url_t u;

    if (probe_parse_url(o->url, &u, err, errlen) != 0) {
        return PROBE_OPTS_BAD_URL;
    }
    if (probe_route_check(o, &u, err, errlen) != 0) {
        return PROBE_OPTS_BAD_ROUTE;
    }
    return PROBE_OPTS_OK;
}

int probe_start(const probe_opts_t *o)
{
    /* Plain sockets write with MSG_NOSIGNAL; OpenSSL's writes do not. */
    signal(SIGPIPE, SIG_IGN);
    if (o->chain != NULL) {
        return probe_chain(o);
    }
    if (o->compare) {
        return compare_probe(o);
    }
    return one_probe(o);
}
