/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_stats.c - `expectctl stats`: a table for people, one JSON document
 * and the Prometheus text format for machines.  The formats are documented
 * in expectctl.8; change them only by adding.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "expect_format.h"
#include "expect_prom.h"

static uint64_t others(const expect_shm_vhost_snap_t *v)
{
    return v->ctr[EXPECT_CTR_417_HANDLER] + v->ctr[EXPECT_CTR_417_BACKEND];
}

/* ---- table ---- */

typedef struct {
    int width;
    int any_override;
    int pass;  /* 0: measure, 1: print */
} table_ctx;

static void table_row(const expect_shm_vhost_snap_t *v, void *arg)
{
    table_ctx *t = arg;
    char name[4 * EXPECT_SHM_NAME_LEN + 1], last[40], policy[16];
    int len;

    len = (int)expect_escape_text(name, sizeof(name), v->name);
    if (t->pass == 0) {
        if (len > t->width) {
            t->width = len;
        }
        t->any_override |= v->override != EXPECT_OVERRIDE_NONE;
        return;
    }
    snprintf(policy, sizeof(policy), "%s%s",
             expect_policy_name((expect_policy_t)ctl_effective_policy(v)),
             v->override != EXPECT_OVERRIDE_NONE ? "*" : "");
    ctl_format_time(last, sizeof(last), v->last_417_usec);
    printf("%-*s %-9s %8" PRIu64 " %9" PRIu64 " %7" PRIu64 " %8" PRIu64 " %6" PRIu64
           " %10" PRIu64 " %8" PRIu64 " %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %9" PRIu64
           " %7" PRIu64 " %7" PRIu64 "  %s\n",
           t->width, name, policy, v->ctr[EXPECT_CTR_EXPECT],
           v->ctr[EXPECT_CTR_CONTINUED], v->ctr[EXPECT_CTR_IGNORED],
           v->ctr[EXPECT_CTR_BODYLESS], v->ctr[EXPECT_CTR_HTTP10],
           v->ctr[EXPECT_CTR_417_EXPECT], v->ctr[EXPECT_CTR_417_CORE], others(v),
           v->ctr[EXPECT_CTR_417_TOTAL], v->ctr[EXPECT_CTR_RETRIED],
           v->ctr[EXPECT_CTR_ABANDONED], v->pending, v->ctr[EXPECT_CTR_UNKNOWN_DROPPED], last);
}

/* What RETRIED, ABANDONED and PENDING mean here, in one line. */
static void retry_footer(const expect_shm_t *h)
{
    uint32_t window = __atomic_load_n(&h->hdr->retry_window_ms, __ATOMIC_RELAXED);
    uint64_t evicted = __atomic_load_n(&h->hdr->pending_evicted, __ATOMIC_RELAXED);

    if (h->pending_slots == 0 || window == 0) {
        printf("retry tracking is off (ExpectRetryWindow 0 or ExpectRetrySlots 0)\n");
        return;
    }
    printf("RETRIED/ABANDONED: 417'd clients that did / did not come back within %u s "
           "(ExpectRetryWindow)", (unsigned)(window / 1000u));
    if (evicted != 0) {
        printf("; %" PRIu64 " not followed, the retry table was full (ExpectRetrySlots %u)",
               evicted, (unsigned)h->pending_slots);
    }
    printf("\n");
}

static int stats_table(const expect_shm_t *h, const ctl_opts_t *o)
{
    table_ctx t = {5, 0, 0};
    int rc = ctl_each_vhost(h, o, table_row, &t);

    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    printf("%-*s %-9s %8s %9s %7s %8s %6s %10s %8s %9s %9s %7s %9s %7s %7s  %s\n", t.width,
           "VHOST", "POLICY", "EXPECT", "CONTINUED", "IGNORED", "BODYLESS", "HTTP10",
           "417-EXPECT", "417-CORE", "417-OTHER", "417-TOTAL", "RETRIED", "ABANDONED",
           "PENDING", "DROPPED", "LAST-417");
    t.pass = 1;
    ctl_each_vhost(h, o, table_row, &t);
    if (t.any_override) {
        printf("* runtime override (expectctl set VHOST default restores the configured policy)\n");
    }
    retry_footer(h);
    return CTL_EXIT_OK;
}

/* ---- JSON ---- */

static void json_row(const expect_shm_vhost_snap_t *v, void *arg)
{
    int *first = arg;
    char last[40];

    printf("%s\n    {\"name\": ", *first ? "" : ",");
    *first = 0;
    expect_fput_json_string(stdout, v->name);
    printf(", \"policy\": \"%s\", \"configured_policy\": \"%s\", \"override\": ",
           expect_policy_name((expect_policy_t)ctl_effective_policy(v)),
           expect_policy_name((expect_policy_t)v->configured_policy));
    if (v->override == EXPECT_OVERRIDE_NONE) {
        printf("null");
    }
    else {
        printf("\"%s\"", expect_policy_name((expect_policy_t)v->override));
    }
    printf(", \"strict\": %s,\n     \"expect\": %" PRIu64 ", \"continued\": %" PRIu64
           ", \"rejected\": %" PRIu64 ", \"ignored\": %" PRIu64 ", \"bodyless\": %" PRIu64
           ", \"http10\": %" PRIu64 ",\n     \"r417\": {\"mod_expect\": %" PRIu64
           ", \"core\": %" PRIu64 ", \"handler\": %" PRIu64 ", \"backend\": %" PRIu64
           ", \"others\": %" PRIu64 ", \"total\": %" PRIu64 "},\n     \"retry\": "
           "{\"retried\": %" PRIu64 ", \"abandoned\": %" PRIu64 ", \"pending\": %" PRIu64
           "}, \"unknown_dropped\": %" PRIu64 ", \"last_417\": ",
           v->strict ? "true" : "false",
           v->ctr[EXPECT_CTR_EXPECT], v->ctr[EXPECT_CTR_CONTINUED],
           v->ctr[EXPECT_CTR_REJECTED], v->ctr[EXPECT_CTR_IGNORED],
           v->ctr[EXPECT_CTR_BODYLESS], v->ctr[EXPECT_CTR_HTTP10],
           v->ctr[EXPECT_CTR_417_EXPECT], v->ctr[EXPECT_CTR_417_CORE],
           v->ctr[EXPECT_CTR_417_HANDLER], v->ctr[EXPECT_CTR_417_BACKEND],
           others(v), v->ctr[EXPECT_CTR_417_TOTAL], v->ctr[EXPECT_CTR_RETRIED],
           v->ctr[EXPECT_CTR_ABANDONED], v->pending, v->ctr[EXPECT_CTR_UNKNOWN_DROPPED]);
    if (v->last_417_usec == 0) {
        printf("null}");
    }
    else {
        ctl_format_time(last, sizeof(last), v->last_417_usec);
        printf("\"%s\"}", last);
    }
}

static int stats_json(const expect_shm_t *h, const ctl_opts_t *o)
{
    int first = 1, rc;
    char created[40];

    ctl_format_time(created, sizeof(created), h->hdr->created_usec);
    printf("{\"format\": \"mod_expect.stats\", \"version\": 1,\n \"segment\": {\"path\": ");
    expect_fput_json_string(stdout, o->shm_path);
    printf(", \"created\": \"%s\", \"generation\": %u, \"event_slots\": %u,\n"
           "  \"retry_window_ms\": %u, \"retry_slots\": %u, \"retry_evicted\": %" PRIu64 "},\n"
           " \"vhosts\": [", created, (unsigned)expect_shm_generation(h),
           (unsigned)h->ring_slots,
           (unsigned)__atomic_load_n(&h->hdr->retry_window_ms, __ATOMIC_RELAXED),
           (unsigned)h->pending_slots,
           (uint64_t)__atomic_load_n(&h->hdr->pending_evicted, __ATOMIC_RELAXED));
    rc = ctl_each_vhost(h, o, json_row, &first);
    printf("\n ]}\n");
    return rc;
}

/* ---- Prometheus: the writer is shared with the module's handler ---- */

typedef struct {
    expect_shm_vhost_snap_t *v;
    size_t n;
    size_t cap;
} collected;

/* Bounded: the count in the segment can change while we walk it. */
static void collect(const expect_shm_vhost_snap_t *v, void *arg)
{
    collected *c = arg;
    if (c->n < c->cap) {
        c->v[c->n++] = *v;
    }
}

/* An expect_emit_fn that writes to standard output. */
void ctl_emit_stdout(void *ctx, const char *s, size_t len)
{
    (void)ctx;
    fwrite(s, 1, len, stdout);
}

static int stats_prometheus(const expect_shm_t *h, const ctl_opts_t *o)
{
    collected c;
    int rc;

    c.n = 0;
    c.cap = h->vhost_capacity ? h->vhost_capacity : 1;
    c.v = calloc(c.cap, sizeof(*c.v));
    if (c.v == NULL) {
        fprintf(stderr, "expectctl: out of memory\n");
        return CTL_EXIT_FAIL;
    }
    rc = ctl_each_vhost(h, o, collect, &c);
    if (rc == CTL_EXIT_OK) {
        expect_prom_write(c.v, c.n, __atomic_load_n(&h->hdr->pending_evicted, __ATOMIC_RELAXED),
                          ctl_emit_stdout, NULL);
    }
    free(c.v);
    return rc;
}

int ctl_stats(const expect_shm_t *h, const ctl_opts_t *o)
{
    switch (o->format) {
    case CTL_FMT_JSON:       return stats_json(h, o);
    case CTL_FMT_PROMETHEUS: return stats_prometheus(h, o);
    case CTL_FMT_TEXT:
    default:                 return stats_table(h, o);
    }
}
