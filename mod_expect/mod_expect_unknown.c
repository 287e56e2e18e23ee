/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect_unknown.c - ExpectUnknown ignore: tolerate expectations
 * other than 100-continue, which httpd core answers with 417 before any
 * module's post_read_request hook runs.
 *
 * Core's check (ap_check_request_header) reads the Expect header right
 * after the header lines are parsed.  So the header must not be called
 * Expect by then:
 *
 *   HTTP/1.x  a connection input filter (added once per connection, in
 *             pre_connection: per request it would cost more than the
 *             budget), armed in pre_read_request, sees each request and
 *             header line as ap_rgetline() reads it, and renames a line's "Expect" field
 *             name to HIDDEN, of the same length (so LimitRequestFieldSize
 *             and every other limit see the same line).  It takes nothing
 *             else out or in: continuation lines (obs-fold) are folded by
 *             core into the renamed field as they would have been into
 *             Expect, and duplicates are merged the same way.  It disarms
 *             at the blank line that ends the head: body reads, chunk-size
 *             lines and trailers pass through it untouched.
 *   HTTP/2    mod_http2 fills r->headers_in before pre_read_request and
 *             checks Expect after it: the field is renamed in the table.
 *
 * In post_read_request, where the virtual host is known, the hidden value
 * is judged with that vhost's ExpectUnknown: `reject` puts it back and
 * answers as core would have (417, or an expectation of 100-continue);
 * `ignore` keeps a 100-continue member and drops the rest.  The original
 * value goes to the note expect-original.
 *
 * None of this is registered unless some server says ExpectUnknown
 * ignore: with `reject` everywhere, requests pay nothing.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "mod_expect_config.h"
#include "mod_expect_unknown.h"

APLOG_USE_MODULE(expect);

/*
 * Same length as "Expect", a valid field name no client has a reason to
 * send; never seen past post_read_request.  Core parses the renamed line
 * with the very parser that reads the client's own lines, so no name it
 * accepts from this filter is one a client cannot send (with
 * HttpProtocolOptions Unsafe, any byte but whitespace and ':' may be in a
 * field name).  A client's own field of this name is therefore refused
 * with a 400 (EXP0032), over HTTP/1.x and HTTP/2 alike: core would merge
 * it into the renamed Expect, or take it for one.
 */
#define HIDDEN "Expec~"
#define FIELD_LEN 6
#define FILTER_NAME "EXPECT_UNKNOWN"

static ap_filter_rec_t *filter_handle;

/*
 * Per connection: the filter sits in the connection's chain for its whole
 * life (added once, in pre_connection), and looks at lines only while a
 * request head is being read: from pre_read_request to the blank line.
 * Body reads, chunk-size lines and trailers pass straight through.
 */
typedef struct {
    int in_head;            /* a head is being read */
    int seen_line;          /* a line with content has ended (core skips
                               blank lines before the request line) */
    int mid_line;           /* the last read did not end its line */
    int cr_only;            /* ... and that line so far is a lone CR */
    int hid;                /* what this head held, FIELD_* bits: an Expect
                               field renamed, the client's own HIDDEN */
    apr_bucket_brigade *more; /* check_field's reads, one per connection */
} unknown_conn;

#define FIELD_EXPECT 1
#define FIELD_HIDDEN 2

/* Does the start of a line, `len` bytes of it, begin "Expect:" (FIELD_EXPECT)
 * or HIDDEN and a colon (FIELD_HIDDEN), in any case?  0 neither, -1 cannot
 * tell yet (a prefix of one, and the line goes on). */
static int starts_expect(const char *s, apr_size_t len)
{
    static const char want[] = "expect:";
    int which = FIELD_EXPECT;
    apr_size_t i;

    for (i = 0; i < len && i < sizeof(want) - 1; i++) {
        if (apr_tolower((unsigned char)s[i]) == want[i]) {
            continue;
        }
        if (i == FIELD_LEN - 1 && s[i] == HIDDEN[FIELD_LEN - 1]) {
            which = FIELD_HIDDEN;
            continue;
        }
        return 0;
    }
    return i == sizeof(want) - 1 ? which : -1;
}

/* Replace the first FIELD_LEN bytes of bb (a field name) with HIDDEN. */
static apr_status_t hide_field(ap_filter_t *f, apr_bucket_brigade *bb)
{
    apr_bucket *after, *b;
    apr_status_t rv = apr_brigade_partition(bb, FIELD_LEN, &after);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    while ((b = APR_BRIGADE_FIRST(bb)) != after) {
        apr_bucket_delete(b);
    }
    /* `after` is a bucket: the line goes on past its field name. */
    b = apr_bucket_immortal_create(HIDDEN, FIELD_LEN, f->c->bucket_alloc);
    APR_BUCKET_INSERT_BEFORE(after, b);
    return APR_SUCCESS;
}

/* Move every bucket of `from` to the end of bb, which is not empty. */
static void append_all(apr_bucket_brigade *bb, apr_bucket_brigade *from)
{
    apr_bucket *e;

    while (!expect_past_last(from, e = APR_BRIGADE_FIRST(from))) {
        APR_BUCKET_REMOVE(e);
        APR_BUCKET_INSERT_AFTER(APR_BRIGADE_LAST(bb), e);
    }
}

/*
 * A header line that starts with an E: read on while what there is of it
 * is a prefix of "Expect:" and the line goes on (the field name split
 * across TCP segments, so across reads), then rename the field if it is
 * Expect.  Never reads past the end of the line.
 */
static apr_status_t check_field(ap_filter_t *f, apr_bucket_brigade *bb,
                                apr_read_type_e block, apr_off_t readbytes)
{
    char head[sizeof("expect:") - 1];
    unknown_conn *uc = f->ctx;
    apr_size_t len;
    apr_status_t rv;
    int is_expect, got;

    for (;;) {
        len = sizeof(head);
        if ((rv = apr_brigade_flatten(bb, head, &len)) != APR_SUCCESS) {
            return rv;
        }
        is_expect = starts_expect(head, len);
        if (is_expect >= 0 || memchr(head, '\n', len) != NULL) {
            break;
        }
        if (uc->more == NULL) {
            uc->more = apr_brigade_create(f->c->pool, f->c->bucket_alloc);
        }
        rv = ap_get_brigade(f->next, uc->more, AP_MODE_GETLINE, block, readbytes);
        got = !expect_past_last(uc->more, APR_BRIGADE_FIRST(uc->more));
        append_all(bb, uc->more);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (!got) {
            break;   /* nothing more to read now: let core see what there is */
        }
    }
    if (is_expect <= 0) {
        return APR_SUCCESS;
    }
    uc->hid |= is_expect;
    if (is_expect == FIELD_HIDDEN) {
        return APR_SUCCESS;   /* left as it is: post_read_request refuses it */
    }
    return hide_field(f, bb);
}

/*
 * What one read of a line tells: whether the line ended, and whether it
 * was the blank line that ends the head (CRLF or LF, in one read, or CR
 * and LF in two).
 */
static void note_read(unknown_conn *uc, char first, char last, apr_off_t len)
{
    int blank;

    if (last != '\n') {
        uc->cr_only = !uc->mid_line && len == 1 && first == '\r';
        uc->mid_line = 1;
        return;
    }
    blank = uc->mid_line ? uc->cr_only && len == 1
                         : len == 1 || (len == 2 && first == '\r');
    if (!blank) {
        uc->seen_line = 1;
    }
    else if (uc->seen_line) {
        uc->in_head = 0;   /* nothing after it is ours */
    }
    uc->mid_line = 0;
    uc->cr_only = 0;
}

/* Walk bb: its length, first and last byte (0 if none). */
static apr_status_t measure(apr_bucket_brigade *bb, apr_read_type_e block, apr_off_t *total,
                            char *first, char *last)
{
    const char *data;
    apr_size_t len;
    apr_bucket *b;
    apr_status_t rv;

    *total = 0;
    *first = *last = '\0';
    for (b = APR_BRIGADE_FIRST(bb); !expect_past_last(bb, b); b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_METADATA(b)) {
            continue;
        }
        if ((rv = apr_bucket_read(b, &data, &len, block)) != APR_SUCCESS) {
            return rv;
        }
        if (len > 0) {
            if (*total == 0) {
                *first = data[0];
            }
            *last = data[len - 1];
            *total += (apr_off_t)len;
        }
    }
    return APR_SUCCESS;
}

/* Any read the fast path does not settle: a line in several buckets, or
 * a header line that starts with an E. */
static apr_status_t head_read_slow(ap_filter_t *f, apr_bucket_brigade *bb,
                                   apr_read_type_e block, apr_off_t readbytes)
    __attribute__((noinline));
static apr_status_t head_read_slow(ap_filter_t *f, apr_bucket_brigade *bb,
                                   apr_read_type_e block, apr_off_t readbytes)
{
    unknown_conn *uc = f->ctx;
    apr_off_t total;
    char first, last;
    apr_status_t rv;

    if ((rv = measure(bb, block, &total, &first, &last)) != APR_SUCCESS) {
        return rv;
    }
    /* Only a header line: the request line (the first with content; core
     * skips blank lines before it) is never touched, whatever its method. */
    if (!uc->mid_line && uc->seen_line && (first | 0x20) == 'e') {
        if ((rv = check_field(f, bb, block, readbytes)) != APR_SUCCESS
            || (rv = measure(bb, block, &total, &first, &last)) != APR_SUCCESS) {
            return rv;
        }
    }
    if (total > 0) {
        note_read(uc, first, last, total);
    }
    return APR_SUCCESS;
}

/*
 * One read of a line of the head.  Core's GETLINE read gives a whole line
 * in one bucket, and its first byte settles nearly every line: that path
 * reads the bucket once and calls nothing else (make check-perf).
 */
static apr_status_t head_read(ap_filter_t *f, apr_bucket_brigade *bb, apr_read_type_e block,
                              apr_off_t readbytes) __attribute__((noinline));
static apr_status_t head_read(ap_filter_t *f, apr_bucket_brigade *bb, apr_read_type_e block,
                              apr_off_t readbytes)
{
    unknown_conn *uc = f->ctx;
    const char *data;
    apr_size_t len;
    apr_bucket *b;
    apr_status_t rv;

    /* What ap_get_brigade() does, without its call: a connection filter
     * always has one below it (make check-perf counts every line). */
    rv = f->next->frec->filter_func.in_func(f->next, bb, AP_MODE_GETLINE, block, readbytes);
    b = APR_BRIGADE_FIRST(bb);
    if (rv != APR_SUCCESS || expect_past_last(bb, b)) {
        return rv;
    }
    if (!expect_past_last(bb, APR_BUCKET_NEXT(b))) {
        return head_read_slow(f, bb, block, readbytes);
    }
    if (APR_BUCKET_IS_HEAP(b)) {
        /* Core's socket reads: read in place, no call through the type. */
        data = ((const apr_bucket_heap *)b->data)->base + b->start;
        len = b->length;
    }
    else if ((rv = apr_bucket_read(b, &data, &len, block)) != APR_SUCCESS) {
        return rv;
    }
    if (len == 0 || (!uc->mid_line && (data[0] | 0x20) == 'e')) {
        return head_read_slow(f, bb, block, readbytes);
    }
    if (!uc->mid_line && len > 2 && data[len - 1] == '\n') {
        uc->seen_line = 1;   /* a whole line with content: the usual read */
        return APR_SUCCESS;
    }
    note_read(uc, data[0], data[len - 1], (apr_off_t)len);
    return APR_SUCCESS;
}

/* Every read of the connection passes here: one test while no head is
 * being read, or for any mode but GETLINE. */
static apr_status_t unknown_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                   ap_input_mode_t mode, apr_read_type_e block,
                                   apr_off_t readbytes)
{
    if (mode == AP_MODE_GETLINE && ((const unknown_conn *)f->ctx)->in_head) {
        return head_read(f, bb, block, readbytes);
    }
    return ap_get_brigade(f->next, bb, mode, block, readbytes);
}

/* The request's own HIDDEN field, over HTTP/2 (in r->notes: there is no
 * per-connection state for a stream's requests). */
#define OWN_NOTE "expect-own-hidden"

/* HTTP/2: the head is already a table; move Expect out of core's way. */
static void hide_in_table(request_rec *r)
{
    const char *v = apr_table_get(r->headers_in, "Expect");

    /* A client's own field of that name must not pass for Expect, nor
     * vanish: post_read_request refuses the request. */
    if (apr_table_get(r->headers_in, HIDDEN) != NULL) {
        apr_table_setn(r->notes, OWN_NOTE, "1");
        apr_table_unset(r->headers_in, HIDDEN);
    }
    if (v != NULL) {
        /* apr_table_get() sees only the first of several Expect fields;
         * mod_http2 has already merged them into one. */
        apr_table_setn(r->headers_in, HIDDEN, v);
        apr_table_unset(r->headers_in, "Expect");
    }
}

static int unknown_pre_conn(conn_rec *c, void *csd)
{
    unknown_conn *uc;

    (void)csd;
    /* h2 streams take the table path; proxy backends' heads are responses. */
    if (c->master != NULL) {
        return DECLINED;
    }
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 116)
    if (c->outgoing) {
        return DECLINED;
    }
#else
    /* conn_rec->outgoing came with 2.4.49 (MMN 20120211.116).  Before it, a
     * proxy backend connection gets the filter too, but it stays disarmed:
     * only pre_read_request arms it, and mod_proxy never runs that hook on a
     * backend connection (it reads responses with ap_proxy_read_headers). */
#endif
    uc = apr_pcalloc(c->pool, sizeof(*uc));
    ap_set_module_config(c->conn_config, &expect_module, uc);
    ap_add_input_filter_handle(filter_handle, uc, NULL, c);
    return DECLINED;
}

static void unknown_pre_read(request_rec *r, conn_rec *c)
{
    unknown_conn *uc;

    if (c->master != NULL) {
        hide_in_table(r);
        return;
    }
    uc = ap_get_module_config(c->conn_config, &expect_module);
    if (uc != NULL) {
        uc->in_head = 1;
        uc->seen_line = 0;
        uc->mid_line = 0;
        uc->cr_only = 0;
        uc->hid = 0;
    }
}

static int unknown_post_read(request_rec *r)
{
    const unknown_conn *uc = ap_get_module_config(r->connection->conn_config, &expect_module);
    const expect_srv_conf *sc;
    const char *value;
    int keep, dropped;

    /* Over HTTP/1.x the filter says whether it renamed or saw anything. */
    if (r->connection->master == NULL && (uc == NULL || !uc->hid)) {
        return DECLINED;
    }
    if (r->prev == NULL && r->main == NULL
        && (r->connection->master == NULL ? uc->hid & FIELD_HIDDEN
                                          : apr_table_get(r->notes, OWN_NOTE) != NULL)) {
        /* Whatever core made of it, Expect and the client's field are
         * mixed: neither can be told apart now. */
        apr_table_unset(r->headers_in, HIDDEN);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, EXPLOGNO(0032)
                      "client sent a header field named %s, the name ExpectUnknown "
                      "ignore gives Expect while httpd reads the head: refused", HIDDEN);
        return HTTP_BAD_REQUEST;
    }
    if ((value = apr_table_get(r->headers_in, HIDDEN)) == NULL) {
        return DECLINED;
    }
    apr_table_unset(r->headers_in, HIDDEN);
    if (r->prev != NULL || r->main != NULL) {
        /* An internal redirect (an ErrorDocument) of a request core refused
         * before any hook ran shares its headers_in: give the field its
         * name back and judge nothing that core did not.  A client's own
         * HIDDEN field mixed into it made it no Expect: it stays dropped. */
        if (r->connection->master != NULL || !(uc->hid & FIELD_HIDDEN)) {
            apr_table_setn(r->headers_in, "Expect", value);
        }
        return DECLINED;
    }
    sc = expect_srv_config(r->server);
    if (sc->unknown != EXPECT_UNKNOWN_IGNORE) {
        /* As core would have answered. */
        apr_table_setn(r->headers_in, "Expect", value);
        if (!expect_is_unknown_expectation(value)) {
            r->expecting_100 = value[0] != '\0';
            return DECLINED;
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, EXPLOGNO(0030)
                      "client sent an unrecognized expectation value of Expect: %s "
                      "(ExpectUnknown reject)", value);
        return HTTP_EXPECTATION_FAILED;
    }
    keep = expect_unknown_keep(value, &dropped);
    if (keep) {
        apr_table_setn(r->headers_in, "Expect", dropped ? "100-continue" : value);
        r->expecting_100 = 1;
    }
    if (dropped) {
        apr_table_setn(r->notes, EXPECT_ORIGINAL_NOTE, value);
        if (sc->slot >= 0) {
            expect_shm_count(expect_shm_vhost(expect_config_segment(), (uint32_t)sc->slot),
                             EXPECT_CTR_UNKNOWN_DROPPED);
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, EXPLOGNO(0031)
                      "ExpectUnknown ignore: Expect: %s taken as %s", value,
                      keep ? "100-continue" : "no expectation");
    }
    return DECLINED;
}

/* Whether this configuration's hooks are in: httpd drops every hook
 * before it reads a configuration. */
static int hooked;

void expect_unknown_reset(void)
{
    hooked = 0;
}

void expect_unknown_hook(void)
{
    if (!hooked) {
        hooked = 1;
        /* REALLY_FIRST: before any other module reads the head. */
        ap_hook_pre_connection(unknown_pre_conn, NULL, NULL, APR_HOOK_REALLY_FIRST);
        ap_hook_pre_read_request(unknown_pre_read, NULL, NULL, APR_HOOK_REALLY_FIRST);
        ap_hook_post_read_request(unknown_post_read, NULL, NULL, APR_HOOK_REALLY_FIRST);
    }
}

/*
 * mod_http2 of httpd 2.4.49 (MMN 20120211.107, ap_check_request_header)
 * to 2.4.57 runs pre_read_request before it copies the HPACK headers into
 * r->headers_in, then checks Expect itself: there is no hook between the
 * two, so over h2 an unknown expectation gets core's 417 whatever
 * ExpectUnknown says.  Read in the mod_http2 sources of 2.4.52 (too late)
 * and 2.4.58 (headers first, since 20120211.129), tested on both by make
 * check-versions; before .107 mod_http2 copied the headers first too
 * (2.4.37).  Rather than ignore over HTTP/1.1 and not over h2 on the same
 * vhost, refuse the configuration at -t.
 */
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 107) && !AP_MODULE_MAGIC_AT_LEAST(20120211, 129)
#define H2_HEADERS_AFTER_PRE_READ 1
#endif

#ifdef H2_HEADERS_AFTER_PRE_READ
static int unknown_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                server_rec *s)
{
    server_rec *v;

    (void)pconf;
    (void)plog;
    if (ap_find_linked_module("mod_http2.c") == NULL) {
        return OK;
    }
    for (v = s; v != NULL; v = v->next) {
        const char *proto;

        if (expect_srv_config(v)->unknown != EXPECT_UNKNOWN_IGNORE) {
            continue;
        }
        proto = ap_is_allowed_protocol(NULL, NULL, v, "h2") ? "h2"
              : ap_is_allowed_protocol(NULL, NULL, v, "h2c") ? "h2c" : NULL;
        if (proto != NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL, EXPLOGNO(0033)
                         "ExpectUnknown ignore cannot work over HTTP/2 on %s (Protocols "
                         "allows %s) with httpd %s: its mod_http2 checks Expect "
                         "before any module sees the request's headers (httpd 2.4.49 to "
                         "2.4.57; 2.4.58 and later, and 2.4.48 and older, work).  Take %s "
                         "out of that server's Protocols, or remove ExpectUnknown ignore",
                         expect_server_label(ptemp, v), proto, AP_SERVER_BASEREVISION,
                         proto);
            return !OK;
        }
    }
    return OK;
}
#endif

void expect_unknown_register(void)
{
#ifdef H2_HEADERS_AFTER_PRE_READ
    ap_hook_check_config(unknown_check_config, NULL, NULL, APR_HOOK_MIDDLE);
#endif
    filter_handle = ap_register_input_filter(FILTER_NAME, unknown_filter, NULL,
                                             AP_FTYPE_CONNECTION);
}
