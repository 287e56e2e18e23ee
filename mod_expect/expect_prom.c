/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_prom.c - the Prometheus text exposition of the statistics.  The
 * metric names and labels are a stable interface (documented in
 * expectctl.8 and docs/mod_expect.md): only ever add to them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "expect_prom.h"

typedef struct {
    const char *name;
    const char *type;
    const char *help;
} prom_family;

static const prom_family families[] = {
    {"mod_expect_expect_requests_total", "counter",
     "Requests with an Expect header that mod_expect judged or httpd core rejected."},
    {"mod_expect_decisions_total", "counter",
     "Expect: 100-continue decisions, by decision."},
    {"mod_expect_417_responses_total", "counter",
     "417 Expectation Failed responses sent, by who produced them."},
    {"mod_expect_policy", "gauge",
     "Effective Expect policy: 1 for the policy in force, 0 for the others."},
    {"mod_expect_policy_override", "gauge",
     "1 when the policy was set at runtime with expectctl set."},
    {"mod_expect_last_417_timestamp_seconds", "gauge",
     "Unix time of the last 417 sent; 0 if none."},
    {"mod_expect_417_outcomes_total", "counter",
     "417s to an expectation, by what the client did next: retried (came back "
     "within ExpectRetryWindow) or abandoned (did not)."},
    {"mod_expect_417_pending", "gauge",
     "417s whose client may still come back within ExpectRetryWindow."},
    {"mod_expect_unknown_expectations_dropped_total", "counter",
     "Requests whose unknown expectations ExpectUnknown ignore dropped."},
};

static const struct { expect_ctr_t ctr; const char *name; } decisions[] = {
    {EXPECT_CTR_CONTINUED, "continue"}, {EXPECT_CTR_REJECTED, "reject"},
    {EXPECT_CTR_IGNORED, "ignore"}, {EXPECT_CTR_BODYLESS, "bodyless"},
    {EXPECT_CTR_HTTP10, "http10"},
};

static const struct { expect_ctr_t ctr; const char *name; } producers[] = {
    {EXPECT_CTR_417_EXPECT, "mod_expect"}, {EXPECT_CTR_417_CORE, "core"},
    {EXPECT_CTR_417_HANDLER, "handler"}, {EXPECT_CTR_417_BACKEND, "backend"},
};

static void emit_str(expect_emit_fn emit, void *ctx, const char *s)
{
    emit(ctx, s, strlen(s));
}

/* name{vhost="...",key="val"} value\n */
static void sample(expect_emit_fn emit, void *ctx, const char *family,
                   const expect_shm_vhost_snap_t *v, const char *key, const char *val,
                   const char *value)
{
    emit_str(emit, ctx, family);
    emit_str(emit, ctx, "{vhost=");
    expect_emit_prom_label(emit, ctx, v->name);
    if (key != NULL) {
        emit_str(emit, ctx, ",");
        emit_str(emit, ctx, key);
        emit_str(emit, ctx, "=\"");
        emit_str(emit, ctx, val);
        emit_str(emit, ctx, "\"");
    }
    emit_str(emit, ctx, "} ");
    emit_str(emit, ctx, value);
    emit_str(emit, ctx, "\n");
}

static const char *u64(char *buf, size_t len, uint64_t n)
{
    snprintf(buf, len, "%" PRIu64, n);
    return buf;
}

static void family_rows(size_t f, const expect_shm_vhost_snap_t *v,
                        expect_emit_fn emit, void *ctx)
{
    const char *name = families[f].name;
    uint32_t eff = v->override != EXPECT_OVERRIDE_NONE ? v->override : v->configured_policy;
    char num[48];
    size_t i;
    expect_policy_t p;

    switch (f) {
    case 0:
        sample(emit, ctx, name, v, NULL, NULL, u64(num, sizeof(num), v->ctr[EXPECT_CTR_EXPECT]));
        break;
    case 1:
        for (i = 0; i < sizeof(decisions) / sizeof(decisions[0]); i++) {
            sample(emit, ctx, name, v, "decision", decisions[i].name,
                   u64(num, sizeof(num), v->ctr[decisions[i].ctr]));
        }
        break;
    case 2:
        for (i = 0; i < sizeof(producers) / sizeof(producers[0]); i++) {
            sample(emit, ctx, name, v, "producer", producers[i].name,
                   u64(num, sizeof(num), v->ctr[producers[i].ctr]));
        }
        break;
    case 3:
        for (p = EXPECT_POLICY_CONTINUE; p <= EXPECT_POLICY_IGNORE; p++) {
            sample(emit, ctx, name, v, "policy", expect_policy_name(p),
                   (uint32_t)p == eff ? "1" : "0");
        }
        break;
    case 4:
        sample(emit, ctx, name, v, NULL, NULL, v->override != EXPECT_OVERRIDE_NONE ? "1" : "0");
        break;
    case 5:
        snprintf(num, sizeof(num), "%" PRIu64 ".%06" PRIu64, v->last_417_usec / 1000000u,
                 v->last_417_usec % 1000000u);
        sample(emit, ctx, name, v, NULL, NULL, num);
        break;
    case 6:
        sample(emit, ctx, name, v, "outcome", "retried",
               u64(num, sizeof(num), v->ctr[EXPECT_CTR_RETRIED]));
        sample(emit, ctx, name, v, "outcome", "abandoned",
               u64(num, sizeof(num), v->ctr[EXPECT_CTR_ABANDONED]));
        break;
    case 7:
        sample(emit, ctx, name, v, NULL, NULL, u64(num, sizeof(num), v->pending));
        break;
    default:
        sample(emit, ctx, name, v, NULL, NULL,
               u64(num, sizeof(num), v->ctr[EXPECT_CTR_UNKNOWN_DROPPED]));
        break;
    }
}

void expect_prom_write(const expect_shm_vhost_snap_t *v, size_t n, uint64_t evicted,
                       expect_emit_fn emit, void *ctx)
{
    char num[32];
    size_t f, i;

    for (f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        emit_str(emit, ctx, "# HELP ");
        emit_str(emit, ctx, families[f].name);
        emit_str(emit, ctx, " ");
        emit_str(emit, ctx, families[f].help);
        emit_str(emit, ctx, "\n# TYPE ");
        emit_str(emit, ctx, families[f].name);
        emit_str(emit, ctx, " ");
        emit_str(emit, ctx, families[f].type);
        emit_str(emit, ctx, "\n");
        for (i = 0; i < n; i++) {
            family_rows(f, &v[i], emit, ctx);
        }
    }
    /* Server-wide: an evicted 417 belongs to no outcome, so the alert on
     * abandoned uploads cannot see it; this one can. */
    emit_str(emit, ctx, "# HELP mod_expect_retry_evicted_total 417s retry tracking stopped "
             "following before their window was over, because their bucket of the table "
             "was full (a flood of 417s, or ExpectRetrySlots too small): what their clients "
             "did is unknown.\n# TYPE mod_expect_retry_evicted_total counter\n"
             "mod_expect_retry_evicted_total ");
    emit_str(emit, ctx, u64(num, sizeof(num), evicted));
    emit_str(emit, ctx, "\n");
}
