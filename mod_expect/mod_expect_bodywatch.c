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
 *   cleared in time for a keep-alive client to keep its connection.
 * - ignore.  r->expecting_100 is cleared at once, so that neither HTTP_IN
 *   nor mod_proxy sends or asks for a 100.  But a request answered without
 *   its body being read (an error from access control, a handler that does
 *   not want the body) would then keep the connection and wait for a body
 *   a client that saw a final status correctly never sends: the desync.
 *   So the connection is closed unless the client has begun its body.
 *
 * Two filters, added only to such requests, find out in time: the input
 * side notes the start and the end of the body, the output side runs before HTTP_HEADER
 * (where ap_set_keepalive decides) and acts then.
 */
/* First: APR's bucket-ring macros use offsetof() only when <stddef.h>
 * came before them, and a null-pointer cast otherwise (UBSan flags it). */
#include <stddef.h>

#include "httpd.h"
#include "http_config.h"
#include "http_request.h"
#include "util_filter.h"

#include "mod_expect_private.h"

#define IN_FILTER  "EXPECT_BODY_IN"
#define OUT_FILTER "EXPECT_BODY_OUT"

typedef struct {
    expect_decision_t decision;  /* EXPECT_DECIDE_HTTP10 or EXPECT_DECIDE_IGNORE */
    int body_started;            /* the handler got body bytes (or the end) */
    int body_read;               /* the handler saw the end of the request body */
} watch_ctx;

static apr_status_t body_watch(ap_filter_t *f, apr_bucket_brigade *bb,
                               ap_input_mode_t mode, apr_read_type_e block,
                               apr_off_t readbytes)
{
    watch_ctx *ctx = f->ctx;
    apr_bucket *e;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);

    if (rv != APR_SUCCESS || mode == AP_MODE_SPECULATIVE) {
        return rv;
    }
    if (!APR_BRIGADE_EMPTY(bb)) {
        ctx->body_started = 1;
    }
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb); e = APR_BUCKET_NEXT(e)) {
        if (APR_BUCKET_IS_EOS(e)) {
            ctx->body_read = 1;
            ap_remove_input_filter(f);
            break;
        }
    }
    return rv;
}

static apr_status_t keepalive_gate(ap_filter_t *f, apr_bucket_brigade *bb)
{
    const watch_ctx *ctx = f->ctx;

    if (ctx->decision == EXPECT_DECIDE_HTTP10) {
        if (ctx->body_read) {
            f->r->expecting_100 = 0;
        }
    }
    else if (!ctx->body_started) {
        /* The client has sent no body byte and may now send none.  Closing
         * also makes ap_discard_request_body() a no-op: nothing waits for
         * it.  (A client that has begun its body sends the rest, so a
         * streaming handler that answers while reading keeps keep-alive.) */
        f->r->connection->keepalive = AP_CONN_CLOSE;
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void expect_body_watch(request_rec *r, expect_decision_t decision)
{
    watch_ctx *ctx = apr_pcalloc(r->pool, sizeof(*ctx));

    ctx->decision = decision;
    ap_add_input_filter(IN_FILTER, ctx, r, r->connection);
    ap_add_output_filter(OUT_FILTER, ctx, r, r->connection);
}

void expect_body_watch_register(void)
{
    /* RESOURCE: after HTTP_IN has framed (and dechunked) the body. */
    ap_register_input_filter(IN_FILTER, body_watch, NULL, AP_FTYPE_RESOURCE);
    /* CONTENT_SET: ahead of HTTP_HEADER (PROTOCOL), which sets keep-alive. */
    ap_register_output_filter(OUT_FILTER, keepalive_gate, NULL, AP_FTYPE_CONTENT_SET);
}
