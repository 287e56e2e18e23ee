/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect_bodywatch.c - keep-alive only when the body was really read.
 *
 * Two decisions let a request with content go on without a 100 Continue,
 * and both must make sure that a body the handler never read cannot be
 * parsed as the next request:
 *
 * - HTTP/1.0 (RFC 9110 s10.1.1: never a 100).  r->expecting_100 stays set,
 *   so httpd refuses keep-alive; if the handler did read the whole body
 *   before the response, nothing is left to misparse and the flag is
 *   cleared in time for a keep-alive client to keep its connection.  Two
 *   filters: the input side notes the end of the body, the output side
 *   runs before HTTP_HEADER (where ap_set_keepalive decides) and clears the
 *   flag then.  An internal redirect drops both and keeps the flag: safe.
 *
 * - ignore.  r->expecting_100 is cleared at once, so that neither HTTP_IN
 *   nor mod_proxy sends or asks for a 100.  Left at that, a response that
 *   goes out before the client has sent any body byte (a handler that does
 *   not want the body, directly or as an ErrorDocument) would keep the
 *   connection and wait for a body a client that saw a final status need
 *   never send: the desync.  (httpd's own error responses read the body
 *   first, and are safe.)  So the connection is closed unless the body had
 *   begun when the response started.  The input side is a protocol filter
 *   just below HTTP_IN, which sees every byte of the body; the output side
 *   is a gate ahead of HTTP_HEADER, so that the response says
 *   "Connection: close", and a second one among the protocol filters,
 *   because an internal redirect (ErrorDocument, rewrite) keeps only those:
 *   after one, the connection still closes, without the header.
 */
/* First: APR's bucket-ring macros use offsetof() only when <stddef.h>
 * came before them, and a null-pointer cast otherwise (UBSan flags it). */
#include <stddef.h>

#include "httpd.h"
#include "http_config.h"
#include "http_request.h"
#include "util_filter.h"

#include "mod_expect_config.h"
#include "mod_expect_bodywatch.h"

#define HTTP10_IN_FILTER   "EXPECT_HTTP10_IN"
#define HTTP10_OUT_FILTER  "EXPECT_HTTP10_OUT"
#define IGNORE_IN_FILTER   "EXPECT_IGNORE_IN"
#define IGNORE_GATE_FILTER "EXPECT_IGNORE_GATE"
#define IGNORE_LATE_FILTER "EXPECT_IGNORE_LATE_GATE"

typedef struct {
    int body_read;  /* the handler saw the end of the request body */
} http10_ctx;

typedef struct {
    int body_started;  /* the client has sent body bytes */
} ignore_ctx;

static apr_status_t http10_body_watch(ap_filter_t *f, apr_bucket_brigade *bb,
                                      ap_input_mode_t mode, apr_read_type_e block,
                                      apr_off_t readbytes)
{
    http10_ctx *ctx = f->ctx;
    apr_bucket *e;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);

    if (rv != APR_SUCCESS || mode == AP_MODE_SPECULATIVE) {
        return rv;
    }
    for (e = APR_BRIGADE_FIRST(bb); !expect_past_last(bb, e); e = APR_BUCKET_NEXT(e)) {
        if (APR_BUCKET_IS_EOS(e)) {
            ctx->body_read = 1;
            ap_remove_input_filter(f);
            break;
        }
    }
    return rv;
}

static apr_status_t http10_keepalive_gate(ap_filter_t *f, apr_bucket_brigade *bb)
{
    const http10_ctx *ctx = f->ctx;

    if (ctx->body_read) {
        f->r->expecting_100 = 0;
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* Below HTTP_IN: any byte it pulls is the client sending its body. */
static apr_status_t ignore_body_started(ap_filter_t *f, apr_bucket_brigade *bb,
                                        ap_input_mode_t mode, apr_read_type_e block,
                                        apr_off_t readbytes)
{
    ignore_ctx *ctx = f->ctx;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);

    if (rv == APR_SUCCESS && mode != AP_MODE_SPECULATIVE
        && !expect_past_last(bb, APR_BRIGADE_FIRST(bb))) {
        ctx->body_started = 1;
        ap_remove_input_filter(f);
    }
    return rv;
}

/* Both gates: the first brigade of the response decides. */
static apr_status_t ignore_keepalive_gate(ap_filter_t *f, apr_bucket_brigade *bb)
{
    const ignore_ctx *ctx = f->ctx;

    if (!ctx->body_started) {
        /* Also makes ap_discard_request_body() a no-op: nothing waits. */
        f->c->keepalive = AP_CONN_CLOSE;
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void expect_body_watch(request_rec *r, expect_decision_t decision)
{
    if (decision == EXPECT_DECIDE_IGNORE) {
        ignore_ctx *ctx = apr_pcalloc(r->pool, sizeof(*ctx));

        ap_add_input_filter(IGNORE_IN_FILTER, ctx, r, r->connection);
        ap_add_output_filter(IGNORE_GATE_FILTER, ctx, r, r->connection);
        ap_add_output_filter(IGNORE_LATE_FILTER, ctx, r, r->connection);
    }
    else {
        http10_ctx *ctx = apr_pcalloc(r->pool, sizeof(*ctx));

        ap_add_input_filter(HTTP10_IN_FILTER, ctx, r, r->connection);
        ap_add_output_filter(HTTP10_OUT_FILTER, ctx, r, r->connection);
    }
}

void expect_body_watch_register(void)
{
    /* RESOURCE: after HTTP_IN has framed (and dechunked) the body. */
    ap_register_input_filter(HTTP10_IN_FILTER, http10_body_watch, NULL, AP_FTYPE_RESOURCE);
    /* CONTENT_SET: ahead of HTTP_HEADER (PROTOCOL), which sets keep-alive. */
    ap_register_output_filter(HTTP10_OUT_FILTER, http10_keepalive_gate, NULL,
                              AP_FTYPE_CONTENT_SET);
    /* PROTOCOL: added after HTTP_IN, so just below it; and kept by
     * internal redirects, which rebuild only what is above the protocol
     * filters.  The late gate lands after HTTP_HEADER for the same reason. */
    ap_register_input_filter(IGNORE_IN_FILTER, ignore_body_started, NULL, AP_FTYPE_PROTOCOL);
    ap_register_output_filter(IGNORE_GATE_FILTER, ignore_keepalive_gate, NULL,
                              AP_FTYPE_CONTENT_SET);
    ap_register_output_filter(IGNORE_LATE_FILTER, ignore_keepalive_gate, NULL,
                              AP_FTYPE_PROTOCOL);
}
