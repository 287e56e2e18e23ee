/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect_status.c - the statistics in httpd's own terms: a section in
 * mod_status (HTML table; Key: value lines for ?auto) and the
 * `SetHandler expect-metrics` handler serving the Prometheus text format,
 * access-controlled with the usual Require.
 */
#include <inttypes.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_optional_hooks.h"
#include "apr_strings.h"
#include "mod_status.h"

#include "mod_expect_config.h"
#include "mod_expect_status.h"
#include "expect_format.h"
#include "expect_prom.h"

APLOG_USE_MODULE(expect);

#define METRICS_HANDLER "expect-metrics"

/* Active vhosts of the segment, copied out once per report. */
static expect_shm_vhost_snap_t *snapshot_all(apr_pool_t *p, const expect_shm_t *h,
                                             size_t *n)
{
    uint32_t i, count = expect_shm_vhost_count(h);
    expect_shm_vhost_snap_t *v = apr_palloc(p, sizeof(*v) * (count ? count : 1));

    uint32_t *overdue = apr_pcalloc(p, sizeof(*overdue) * (count ? count : 1));
    size_t j;

    *n = 0;
    for (i = 0; i < count; i++) {
        if (expect_shm_snapshot(h, i, &v[*n]) == 0 && (v[*n].flags & EXPECT_VHOST_ACTIVE)) {
            (*n)++;
        }
    }
    /* A 417 whose retry window is over counts as abandoned at once, not
     * when the parent's sweep gets to it (snapshots first: see
     * expect_retry_overdue). */
    expect_retry_overdue(h, (uint64_t)apr_time_now(), overdue, count);
    for (j = 0; j < *n; j++) {
        expect_retry_settle_view(&v[j], v[j].slot < count ? overdue[v[j].slot] : 0);
    }
    return v;
}

static void emit_response(void *ctx, const char *s, size_t len)
{
    ap_rwrite(s, (int)len, (request_rec *)ctx);
}

static int metrics_serve(request_rec *r) __attribute__((noinline));

static int metrics_handler(request_rec *r)
{
    const char *handler = r->handler;

    /* Every request passes here: one byte decides for nearly all, and the
     * strcmp is left to the slow path, so that this one needs no saved
     * register. */
    if (handler == NULL || handler[0] != 'e') {
        return DECLINED;
    }
    return metrics_serve(r);
}

static int metrics_serve(request_rec *r)
{
    const expect_shm_t *h;
    expect_shm_vhost_snap_t *v;
    size_t n;

    if (strcmp(r->handler, METRICS_HANDLER) != 0) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        r->allowed = AP_METHOD_BIT << M_GET;
        return HTTP_METHOD_NOT_ALLOWED;
    }
    h = expect_config_segment();
    if (h == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, EXPLOGNO(0020)
                      "expect-metrics: no statistics segment in this server");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    v = snapshot_all(r->pool, h, &n);
    expect_prom_write(v, n, __atomic_load_n(&h->hdr->pending_evicted, __ATOMIC_RELAXED),
                      emit_response, r);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, EXPLOGNO(0021)
                  "expect-metrics: served %" APR_SIZE_T_FMT " vhosts", n);
    return OK;
}

static const char *policy_of(const expect_shm_vhost_snap_t *v)
{
    uint32_t eff = v->override != EXPECT_OVERRIDE_NONE ? v->override : v->configured_policy;
    return expect_policy_name((expect_policy_t)eff);
}

static void status_auto(request_rec *r, const expect_shm_vhost_snap_t *v, size_t n)
{
    static const struct { const char *key; expect_ctr_t ctr; } totals[] = {
        {"ExpectRequests", EXPECT_CTR_EXPECT}, {"ExpectContinued", EXPECT_CTR_CONTINUED},
        {"ExpectRejected", EXPECT_CTR_REJECTED}, {"ExpectIgnored", EXPECT_CTR_IGNORED},
        {"ExpectBodyless", EXPECT_CTR_BODYLESS}, {"ExpectHTTP10", EXPECT_CTR_HTTP10},
        {"Expect417ModExpect", EXPECT_CTR_417_EXPECT}, {"Expect417Core", EXPECT_CTR_417_CORE},
        {"Expect417Handler", EXPECT_CTR_417_HANDLER},
        {"Expect417Backend", EXPECT_CTR_417_BACKEND}, {"Expect417Total", EXPECT_CTR_417_TOTAL},
        {"Expect417Retried", EXPECT_CTR_RETRIED}, {"Expect417Abandoned", EXPECT_CTR_ABANDONED},
        {"ExpectUnknownDropped", EXPECT_CTR_UNKNOWN_DROPPED},
    };
    size_t t, i;
    uint64_t sum;
    char name[4 * EXPECT_SHM_NAME_LEN + 1];

    for (t = 0; t < sizeof(totals) / sizeof(totals[0]); t++) {
        for (sum = 0, i = 0; i < n; i++) {
            sum += v[i].ctr[totals[t].ctr];
        }
        ap_rprintf(r, "%s: %" PRIu64 "\n", totals[t].key, sum);
    }
    for (sum = 0, i = 0; i < n; i++) {
        sum += v[i].pending;
    }
    ap_rprintf(r, "Expect417Pending: %" PRIu64 "\n", sum);
    for (i = 0; i < n; i++) {
        expect_escape_text(name, sizeof(name), v[i].name);
        ap_rprintf(r, "ExpectVhost: %s policy=%s%s expect=%" PRIu64 " continued=%" PRIu64
                   " ignored=%" PRIu64 " bodyless=%" PRIu64 " http10=%" PRIu64
                   " 417=%" PRIu64 " retried=%" PRIu64 " abandoned=%" PRIu64
                   " pending=%" PRIu64 " unknown_dropped=%" PRIu64 "\n", name, policy_of(&v[i]),
                   v[i].override != EXPECT_OVERRIDE_NONE ? "*" : "",
                   v[i].ctr[EXPECT_CTR_EXPECT], v[i].ctr[EXPECT_CTR_CONTINUED],
                   v[i].ctr[EXPECT_CTR_IGNORED], v[i].ctr[EXPECT_CTR_BODYLESS],
                   v[i].ctr[EXPECT_CTR_HTTP10], v[i].ctr[EXPECT_CTR_417_TOTAL],
                   v[i].ctr[EXPECT_CTR_RETRIED], v[i].ctr[EXPECT_CTR_ABANDONED],
                   v[i].pending, v[i].ctr[EXPECT_CTR_UNKNOWN_DROPPED]);
    }
}

static void status_html(request_rec *r, const expect_shm_vhost_snap_t *v, size_t n)
{
    size_t i;
    char name[4 * EXPECT_SHM_NAME_LEN + 1];

    ap_rputs("<hr />\n<h2><a name=\"mod_expect\">mod_expect</a></h2>\n"
             "<table border=\"0\"><tr><th>Virtual host</th><th>Policy</th>"
             "<th>Expect</th><th>Continued</th><th>Ignored</th><th>Bodyless</th>"
             "<th>HTTP/1.0</th><th>417 mod_expect</th><th>417 core</th>"
             "<th>417 other</th><th>417 total</th><th>Retried</th><th>Abandoned</th>"
             "<th>Pending</th><th>Unknown dropped</th></tr>\n", r);
    for (i = 0; i < n; i++) {
        expect_escape_text(name, sizeof(name), v[i].name);
        ap_rprintf(r, "<tr><td>%s</td><td>%s%s</td><td>%" PRIu64 "</td><td>%" PRIu64
                   "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
                   "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
                   "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
                   "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td></tr>\n",
                   ap_escape_html(r->pool, name), policy_of(&v[i]),
                   v[i].override != EXPECT_OVERRIDE_NONE ? " (runtime)" : "",
                   v[i].ctr[EXPECT_CTR_EXPECT], v[i].ctr[EXPECT_CTR_CONTINUED],
                   v[i].ctr[EXPECT_CTR_IGNORED], v[i].ctr[EXPECT_CTR_BODYLESS],
                   v[i].ctr[EXPECT_CTR_HTTP10], v[i].ctr[EXPECT_CTR_417_EXPECT],
                   v[i].ctr[EXPECT_CTR_417_CORE],
                   v[i].ctr[EXPECT_CTR_417_HANDLER] + v[i].ctr[EXPECT_CTR_417_BACKEND],
                   v[i].ctr[EXPECT_CTR_417_TOTAL], v[i].ctr[EXPECT_CTR_RETRIED],
                   v[i].ctr[EXPECT_CTR_ABANDONED], v[i].pending,
                   v[i].ctr[EXPECT_CTR_UNKNOWN_DROPPED]);
    }
    ap_rputs("</table>\n<p>Details, events and runtime control: "
             "<code>expectctl stats</code>, <code>expectctl events</code>.</p>\n", r);
}

static int status_hook(request_rec *r, int flags)
{
    const expect_shm_t *h = expect_config_segment();
    expect_shm_vhost_snap_t *v;
    size_t n;

    if (h == NULL) {
        return OK;
    }
    v = snapshot_all(r->pool, h, &n);
    if (flags & AP_STATUS_SHORT) {
        status_auto(r, v, n);
    }
    else {
        status_html(r, v, n);
    }
    return OK;
}

void expect_status_register_hooks(void)
{
    ap_hook_handler(metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* Optional: a no-op when mod_status is not loaded. */
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
