/*
 * mod_expect_http10.c - HTTP/1.0 with content and "Expect: 100-continue".
 *
 * No 100 is ever sent to HTTP/1.0 (RFC 9110 s10.1.1).  The decision keeps
 * r->expecting_100 set so that httpd refuses keep-alive: a body the handler
 * never read can then not be parsed as the next request.  But when the
 * handler did read the whole body before the response goes out, nothing is
 * left to misparse, and a keep-alive client may keep its connection.  Two
 * filters, added only to such requests, find out which case it is in time:
 * the input side notes the end of the body, the output side runs before
 * HTTP_HEADER (where ap_set_keepalive decides) and clears the flag then.
 */
/* First: APR's bucket-ring macros use offsetof() only when <stddef.h>
 * came before them, and a null-pointer cast otherwise (UBSan flags it). */
#include <stddef.h>

#include "httpd.h"
#include "http_config.h"
#include "http_request.h"
#include "util_filter.h"

#include "mod_expect_private.h"

#define IN_FILTER  "EXPECT_HTTP10_IN"
#define OUT_FILTER "EXPECT_HTTP10_OUT"

typedef struct {
    int body_read;  /* the handler saw the end of the request body */
} http10_ctx;

static apr_status_t body_watch(ap_filter_t *f, apr_bucket_brigade *bb,
                               ap_input_mode_t mode, apr_read_type_e block,
                               apr_off_t readbytes)
{
    http10_ctx *ctx = f->ctx;
    apr_bucket *e;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);

    if (rv != APR_SUCCESS || mode == AP_MODE_SPECULATIVE) {
        return rv;
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
    const http10_ctx *ctx = f->ctx;

    if (ctx->body_read) {
        f->r->expecting_100 = 0;
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void expect_http10_watch(request_rec *r)
{
    http10_ctx *ctx = apr_pcalloc(r->pool, sizeof(*ctx));

    ap_add_input_filter(IN_FILTER, ctx, r, r->connection);
    ap_add_output_filter(OUT_FILTER, ctx, r, r->connection);
}

void expect_http10_register(void)
{
    /* RESOURCE: after HTTP_IN has framed (and dechunked) the body. */
    ap_register_input_filter(IN_FILTER, body_watch, NULL, AP_FTYPE_RESOURCE);
    /* CONTENT_SET: ahead of HTTP_HEADER (PROTOCOL), which sets keep-alive. */
    ap_register_output_filter(OUT_FILTER, keepalive_gate, NULL, AP_FTYPE_CONTENT_SET);
}
