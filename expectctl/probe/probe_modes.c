/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_modes.c - the engine's entry (probe_engine.h): whether the options
 * make a probe, and the mode they ask for: one probe, --compare (h2 or h2c,
 * then HTTP/1.1 along the same route, and the lines comparing them), or
 * --chain (probe_chain.c).  Each probe is a run of probe_run.c; the exit
 * status is the verdict's, or the first problem of several.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "probe_run.h"

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
