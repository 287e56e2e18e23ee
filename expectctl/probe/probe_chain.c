/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_chain.c - `expectctl probe URL --chain HOP1,HOP2,...`: the same
 * probe against each hop in turn (each as --connect-to: the URL's Host and
 * TLS name, the hop's address and port), and the hop that changes the
 * verdict.
 *
 * Hops are listed front first, as a request meets them (load balancer,
 * proxy, httpd, backend).  Walking from the last hop towards the front,
 * the first hop whose verdict differs from the one behind it is where the
 * chain changes what clients see: the hop to look at.
 *
 * The exit status is the first problem verdict, front first; 0 only when
 * every hop was probed and every verdict is healthy; 1 when a hop could
 * not be probed and no other shows a problem: a chain with a hole in it
 * is no evidence of health.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_format.h"
#include "probe_run.h"

typedef struct {
    int n;
    char hop[PROBE_CHAIN_MAX][PROBE_HOST_MAX + 16];
    probe_run_t run[PROBE_CHAIN_MAX];
    int ok[PROBE_CHAIN_MAX];
    int change[PROBE_CHAIN_MAX];    /* hop i's verdict differs from the one behind it */
    int behind[PROBE_CHAIN_MAX];    /* the probed hop behind hop i; -1: none */
    int first;                          /* the change nearest the back; -1: none */
} chain_t;

/* The hops, already checked by probe_route_check. */
static void split_hops(chain_t *c, const char *list)
{
    const char *p = list;

    c->n = 0;
    while (c->n < PROBE_CHAIN_MAX) {
        size_t len = strcspn(p, ",");
        snprintf(c->hop[c->n], sizeof(c->hop[0]), "%.*s", (int)len, p);
        c->n++;
        if (p[len] == '\0') {
            break;
        }
        p += len + 1;
    }
}

static const char *key_of(const chain_t *c, int i)
{
    return probe_diag(c->run[i].f[0].id)->key;
}

static void find_changes(chain_t *c)
{
    int i, next = -1;

    c->first = -1;
    for (i = c->n - 1; i >= 0; i--) {
        c->change[i] = 0;
        c->behind[i] = next;
        if (!c->ok[i]) {
            continue;
        }
        if (next >= 0 && c->run[i].f[0].id != c->run[next].f[0].id) {
            c->change[i] = 1;
            if (c->first < 0) {
                c->first = i;
            }
        }
        next = i;
    }
}

static int chain_exit(const chain_t *c)
{
    int i, all = 1;

    for (i = 0; i < c->n; i++) {
        if (c->ok[i] && probe_run_exit(&c->run[i]) != PROBE_EXIT_OK) {
            return probe_run_exit(&c->run[i]);
        }
        all = all && c->ok[i];
    }
    return all ? PROBE_EXIT_OK : PROBE_EXIT_FAIL;
}

/* The last probed hop: what the origin side says. */
static int last_ok(const chain_t *c)
{
    int i;

    for (i = c->n - 1; i >= 0; i--) {
        if (c->ok[i]) {
            return i;
        }
    }
    return -1;
}

static void print_text(const chain_t *c, int rc)
{
    char esc[4 * PROBE_TARGET_MAX + 1];
    int i, origin = last_ok(c);

    for (i = 0; i < c->n; i++) {
        printf("== hop %d of %d: %s\n", i + 1, c->n, c->hop[i]);
        if (c->ok[i]) {
            probe_print_text(&c->run[i]);
        }
        else {
            expect_escape_text(esc, sizeof(esc), c->run[i].err);
            printf("could not probe: %s\n", esc);
        }
        printf("\n");
    }
    printf("chain, front first:\n");
    for (i = 0; i < c->n; i++) {
        if (c->ok[i]) {
            printf("  hop %-2d %-40s %s (exit %d)%s\n", i + 1, c->hop[i], key_of(c, i),
                   probe_run_exit(&c->run[i]), c->change[i] ? "  <- changes the verdict" : "");
        }
        else {
            printf("  hop %-2d %-40s could not probe\n", i + 1, c->hop[i]);
        }
    }
    if (c->first >= 0) {
        int b = c->behind[c->first];
        printf("chain: hop %d (%s) changes the verdict: %s there, %s behind it (hop %d)\n",
               c->first + 1, c->hop[c->first], key_of(c, c->first), key_of(c, b), b + 1);
    }
    else if (origin >= 0) {
        printf("chain: no hop changes the verdict: every hop probed says %s\n",
               key_of(c, origin));
    }
    else {
        printf("chain: no hop could be probed\n");
    }
    printf("(exit %d)\n", rc);
}

static void json_hop(const chain_t *c, int i)
{
    printf("{\"index\": %d, \"hop\": ", i + 1);
    expect_fput_json_string(stdout, c->hop[i]);
    if (c->ok[i]) {
        printf(", \"verdict\": \"%s\", \"exit_code\": %d", key_of(c, i),
               probe_run_exit(&c->run[i]));
    }
    else {
        printf(", \"verdict\": null, \"exit_code\": %d", PROBE_EXIT_FAIL);
    }
    printf(", \"behind\": ");
    if (c->behind[i] >= 0) {
        printf("%d", c->behind[i] + 1);
    }
    else {
        printf("null");
    }
    printf(", \"changes_verdict\": %s, \"error\": ", c->change[i] ? "true" : "false");
    probe_json_str_or_null(c->ok[i] ? NULL : c->run[i].err);
    printf(",\n  \"probe\": ");
    if (c->ok[i]) {
        probe_print_json(&c->run[i], NULL, NULL, probe_run_exit(&c->run[i]));
    }
    else {
        printf("null");
    }
    printf("}");
}

static void print_json(const chain_t *c, probe_proto_t proto, const char *url, int rc)
{
    int i;

    printf("{\"format\": \"mod_expect.probe-chain\", \"version\": 1, \"url\": ");
    expect_fput_json_string(stdout, url);
    printf(", \"protocol\": \"%s\",\n \"hops\": [", probe_proto_name(proto));
    for (i = 0; i < c->n; i++) {
        printf("%s\n ", i ? "," : "");
        json_hop(c, i);
    }
    printf("],\n \"changed_at\": ");
    if (c->first >= 0) {
        printf("%d", c->first + 1);
    }
    else {
        printf("null");
    }
    printf(", \"exit_code\": %d}\n", rc);
}

int probe_chain(const probe_opts_t *o)
{
    chain_t *c = calloc(1, sizeof(*c));
    probe_proto_t proto = o->proto;
    int i, rc;

    if (c == NULL) {
        fprintf(stderr, "expectctl: probe: out of memory\n");
        return PROBE_EXIT_FAIL;
    }
    split_hops(c, o->chain);
    for (i = 0; i < c->n; i++) {
        c->ok[i] = probe_run(&c->run[i], o, proto, c->hop[i]) == 0;
        probe_route_free(&c->run[i]);
    }
    find_changes(c);
    rc = chain_exit(c);
    if (o->json) {
        print_json(c, proto, o->url, rc);
    }
    else {
        print_text(c, rc);
    }
    free(c);
    return rc;
}
