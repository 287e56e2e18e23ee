/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_h2.c - the checks of `expectctl probe --http2 / --h2c`: the same
 * questions as over HTTP/1.1, asked of one HTTP/2 stream each (RFC 9113
 * 8.1): is a 100 sent on the stream (a HEADERS frame with :status 100
 * before the final one), is a final status sent before any DATA, what
 * happens to an unknown expectation.  libnghttp2 frames the connection and
 * does HPACK; this file decides what to send when, and what the frames
 * mean.
 *
 * Each check is one connection (probe_route.c opens it: TLS with ALPN h2,
 * or cleartext with prior knowledge, through a tunnel if needed) and one
 * stream whose body is held back (NGHTTP2_ERR_DEFERRED) until a 100, a
 * final status or the end of the wait; then, on a connection the server
 * kept, a second stream shows whether it still serves.
 *
 * Bounds, as over HTTP/1.1: every receive and every send ends by a
 * deadline (probe_net.c checks the clock before each); a stream accepts at
 * most PROBE_INTERIM_MAX interim responses and PROBE_HEAD_MAX bytes of
 * header fields per HEADERS block, and one more is "garbled", not a wait;
 * DATA is counted, never kept; server push is refused in our SETTINGS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "probe_run.h"

#include "expect_version.h"

#define H2_RECV_BUF 16384
/* HPACK's own accounting of a field: name, value and 32 bytes (RFC 7541 4.1). */
#define H2_FIELD_OVERHEAD 32

/* The state of the stream being read: a new request starts it afresh. */
typedef struct {
    int32_t sid;
    int body_go;                /* the deferred body may go */
    uint64_t body_left;
    int body_sent;              /* DATA with END_STREAM went out */
    int head_status;            /* :status of the HEADERS block being read */
    size_t head_bytes;
    int final_status;           /* 0 until the final HEADERS */
    int64_t final_us;
    int got_100;
    int ended;                  /* END_STREAM from the server */
    int closed;
    uint32_t close_code;
    int garbled;
    probe_interim_t im;
    char server[PROBE_FIELD_MAX];
    char via[PROBE_FIELD_MAX];
    char detail[160];
} h2_stream_t;

typedef struct {
    probe_run_t *x;
    probe_conn_t *c;
    nghttp2_session *s;
    int64_t deadline;           /* of the current pump: sends wait no longer */
    probe_io_t send_io;         /* why sending stopped; PROBE_IO_OK while it works */
    int received;               /* any byte from the server yet */
    int not_h2;                 /* the server answered in HTTP/1.x */
    int goaway;
    h2_stream_t st;
} h2_t;

static void h2_stream_reset(h2_t *h)
{
    memset(&h->st, 0, sizeof(h->st));
    h->st.sid = -1;
    h->st.final_us = -1;
    probe_interim_init(&h->st.im);
}

/* A fault of the current stream, in the server's frames: the first one is
 * the one worth reporting. */
static void h2_garbled(h2_t *h, const char *what, const char *why)
{
    if (!h->st.garbled) {
        h->st.garbled = 1;
        snprintf(h->st.detail, sizeof(h->st.detail), "%s%s%s", what, why ? ": " : "", why ? why : "");
    }
}

/* ---- nghttp2's callbacks ---- */

static ssize_t h2_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags,
                          void *ud)
{
    h2_t *h = ud;
    probe_io_t io;

    (void)s;
    (void)flags;
    if (h->send_io != PROBE_IO_OK) {
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    io = probe_send(h->c, (const char *)data, len, h->deadline);
    if (io != PROBE_IO_OK) {
        /* Nothing more goes out on this connection; what the server has
         * already said can still be read. */
        h->send_io = io;
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    return (ssize_t)len;
}

static ssize_t h2_body_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                          uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    h2_t *h = ud;
    size_t n;

    (void)s;
    (void)src;
    if (sid != h->st.sid) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
    }
    if (!h->st.body_go) {
        return NGHTTP2_ERR_DEFERRED;
    }
    n = h->st.body_left < (uint64_t)len ? (size_t)h->st.body_left : len;
    memset(buf, 'x', n);
    h->st.body_left -= n;
    if (h->st.body_left == 0) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (ssize_t)n;
}

static int h2_begin_headers_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    h2_t *h = ud;

    (void)s;
    if (f->hd.stream_id == h->st.sid) {
        h->st.head_status = 0;
        h->st.head_bytes = 0;
    }
    return 0;
}

static int h2_header_cb(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *ud)
{
    h2_t *h = ud;

    (void)s;
    (void)flags;
    if (f->hd.stream_id != h->st.sid) {
        return 0;
    }
    h->st.head_bytes += namelen + valuelen + H2_FIELD_OVERHEAD;
    if (h->st.head_bytes > PROBE_HEAD_MAX) {
        h2_garbled(h, "header fields larger than 32768 bytes in one HEADERS block", NULL);
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    /* nghttp2 has checked :status (three digits) before it calls here. */
    if (namelen == 7 && memcmp(name, ":status", 7) == 0 && valuelen == 3) {
        h->st.head_status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
    }
    else if (namelen == 6 && memcmp(name, "server", 6) == 0) {
        probe_copy_field(h->st.server, sizeof(h->st.server), (const char *)value, valuelen);
    }
    else if (namelen == 3 && memcmp(name, "via", 3) == 0) {
        probe_copy_field(h->st.via, sizeof(h->st.via), (const char *)value, valuelen);
    }
    return 0;
}

/* A HEADERS block of the current stream, complete: interim or final. */
static int h2_on_headers(h2_t *h)
{
    if (h->st.final_status != 0 || h->st.head_status == 0) {
        return 0;  /* trailers */
    }
    if (h->st.head_status >= 200) {
        h->st.final_status = h->st.head_status;
        h->st.final_us = probe_now_us();
        return 0;
    }
    if (probe_interim_full(&h->st.im)) {
        h2_garbled(h, "more than 100 interim responses (1xx) on one stream "
                   "and no final status", NULL);
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (h->st.im.first_us < 0) {
        h->st.im.first_us = probe_now_us();
    }
    if (h->st.head_status == 100) {
        h->st.im.n100++;
        h->st.got_100 = 1;
        if (h->st.body_go) {
            h->st.im.n100_late++;
        }
    }
    else {
        h->st.im.n_other++;
    }
    return 0;
}

static int h2_frame_recv_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    h2_t *h = ud;

    (void)s;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        h->goaway = 1;
        if (f->goaway.error_code != NGHTTP2_NO_ERROR && h->st.detail[0] == '\0') {
            snprintf(h->st.detail, sizeof(h->st.detail), "the server sent GOAWAY (%s)",
                     nghttp2_http2_strerror(f->goaway.error_code));
        }
        return 0;
    }
    if (f->hd.stream_id != h->st.sid) {
        return 0;
    }
    if (f->hd.type == NGHTTP2_HEADERS) {
        int rv = h2_on_headers(h);
        if (rv != 0) {
            return rv;
        }
    }
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA)
        && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        h->st.ended = 1;
    }
    return 0;
}

static int h2_invalid_frame_cb(nghttp2_session *s, const nghttp2_frame *f, int lib_error,
                               void *ud)
{
    h2_t *h = ud;

    (void)s;
    if (f->hd.stream_id == h->st.sid || f->hd.stream_id == 0) {
        h2_garbled(h, "an invalid HTTP/2 frame or response from the server",
                   nghttp2_strerror(lib_error));
    }
    return 0;
}

/*
 * A connection error nghttp2 found in what the server sent (a frame over
 * the size we allow, a bad HPACK index or table size update, a field too
 * large to decode): nghttp2 answers it with GOAWAY and ends the session,
 * so the pump then has no more to read.  The server closed nothing: its
 * bytes were garbled, and that is what the check must say.  The probe
 * never ends a session with an error of its own, so such a GOAWAY always
 * means this.  Seen before it is sent: if the send fails, it still counts.
 */
static int h2_before_send_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    char why[100];
    size_t len;

    (void)s;
    if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR) {
        /* nghttp2 puts its reason in the opaque data. */
        len = f->goaway.opaque_data_len < sizeof(why) ? f->goaway.opaque_data_len
                                                       : sizeof(why) - 1;
        snprintf(why, sizeof(why), "%s%s%.*s", nghttp2_http2_strerror(f->goaway.error_code),
                 len > 0 ? ", " : "", (int)len, (const char *)f->goaway.opaque_data);
        h2_garbled(ud, "a connection error in the server's HTTP/2 frames", why);
    }
    return 0;
}

static int h2_frame_send_cb(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    h2_t *h = ud;

    (void)s;
    if (f->hd.type == NGHTTP2_DATA && f->hd.stream_id == h->st.sid
        && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        h->st.body_sent = 1;
    }
    return 0;
}

static int h2_stream_close_cb(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
    h2_t *h = ud;

    (void)s;
    if (sid == h->st.sid) {
        h->st.closed = 1;
        h->st.close_code = code;
    }
    return 0;
}

static int h2_data_cb(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                      size_t len, void *ud)
{
    /* Counted by nghttp2's flow control, dropped here: a body is never kept. */
    (void)s;
    (void)flags;
    (void)sid;
    (void)data;
    (void)len;
    (void)ud;
    return 0;
}

static int h2_session_new(h2_t *h)
{
    static const nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, PROBE_HEAD_MAX},
    };
    nghttp2_session_callbacks *cb;
    int rv;

    if (nghttp2_session_callbacks_new(&cb) != 0) {
        return -1;
    }
    nghttp2_session_callbacks_set_send_callback(cb, h2_send_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, h2_begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2_header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_frame_recv_cb);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, h2_invalid_frame_cb);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, h2_frame_send_cb);
    nghttp2_session_callbacks_set_before_frame_send_callback(cb, h2_before_send_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_stream_close_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_data_cb);
    rv = nghttp2_session_client_new(&h->s, cb, h);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) {
        h->s = NULL;
        return -1;
    }
    return nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]))
           == 0 ? 0 : -1;
}

/* ---- sending and receiving ---- */

#define H2_NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), \
                     NGHTTP2_NV_FLAG_NONE}

/* One request on a new stream; its body (length bytes) waits for body_go
 * unless it goes at once.  0, or -1 when nghttp2 refuses it. */
static int h2_submit(h2_t *h, const char *expect, uint64_t length, int body_now)
{
    char len_s[24], ua[64];
    const probe_run_t *x = h->x;
    nghttp2_data_provider body;
    nghttp2_nv nv[8] = {
        H2_NV(":method", x->o->method),
        H2_NV(":scheme", x->url.tls ? "https" : "http"),
        H2_NV(":authority", x->url.authority),
        H2_NV(":path", x->url.target),
    };
    size_t n = 4;
    int32_t sid;

    snprintf(ua, sizeof(ua), "expectctl-probe/%s", EXPECT_VERSION);
    snprintf(len_s, sizeof(len_s), "%llu", (unsigned long long)length);
    nv[n++] = (nghttp2_nv)H2_NV("user-agent", ua);
    nv[n++] = (nghttp2_nv)H2_NV("accept", "*/*");
    nv[n++] = (nghttp2_nv)H2_NV("content-length", len_s);
    if (expect != NULL) {
        nv[n++] = (nghttp2_nv)H2_NV("expect", expect);
    }
    h2_stream_reset(h);
    h->st.body_left = length;
    h->st.body_go = body_now;
    body.source.ptr = NULL;
    body.read_callback = h2_body_cb;
    /* Without a body, HEADERS carries END_STREAM. */
    sid = nghttp2_submit_request(h->s, NULL, nv, n, length > 0 ? &body : NULL, NULL);
    if (sid < 0) {
        snprintf(h->x->err, sizeof(h->x->err), "cannot submit an HTTP/2 request: %s",
                 nghttp2_strerror(sid));
        return -1;
    }
    h->st.sid = sid;
    return 0;
}

typedef int (*h2_until_fn)(const h2_t *h);

/* The wait before the body: a 100, or anything that ends the wait. */
static int h2_until_answer(const h2_t *h)
{
    return h->st.got_100 || h->st.final_status != 0 || h->st.closed || h->st.garbled;
}

static int h2_until_final(const h2_t *h)
{
    return h->st.final_status != 0 || h->st.closed || h->st.garbled;
}

static int h2_until_end(const h2_t *h)
{
    return h->st.ended || h->st.closed || h->st.garbled;
}

/*
 * Send what nghttp2 has queued, then receive and feed it until done(h),
 * the deadline or the end of the connection.  PROBE_IO_OK when done(h);
 * PROBE_IO_ERROR when the server's bytes are not HTTP/2 (h->not_h2 when
 * they are HTTP/1.x); EOF when the connection is over.
 */
static probe_io_t h2_pump(h2_t *h, int64_t deadline_us, h2_until_fn done)
{
    char buf[H2_RECV_BUF];

    h->deadline = deadline_us;
    for (;;) {
        size_t got = 0;
        ssize_t used;
        probe_io_t io;

        if (h->send_io == PROBE_IO_OK && nghttp2_session_send(h->s) != 0) {
            h2_garbled(h, "the HTTP/2 session failed", NULL);
            return PROBE_IO_ERROR;
        }
        if (done(h)) {
            return PROBE_IO_OK;
        }
        if (h->send_io == PROBE_IO_TIMEOUT) {
            return PROBE_IO_TIMEOUT;
        }
        if (!nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s)) {
            return PROBE_IO_EOF;
        }
        io = probe_recv(h->c, buf, sizeof(buf), &got, deadline_us);
        if (io != PROBE_IO_OK) {
            return io;
        }
        if (!h->received) {
            h->received = 1;
            if (got >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
                h->not_h2 = 1;
                return PROBE_IO_ERROR;
            }
        }
        used = nghttp2_session_mem_recv(h->s, (const uint8_t *)buf, got);
        if (used < 0) {
            h2_garbled(h, "the server broke the HTTP/2 protocol",
                       nghttp2_strerror((int)used));
            return PROBE_IO_ERROR;
        }
    }
}

/* ---- the check ---- */

/* Why a stream ended without a final status. */
static void h2_closed_detail(h2_t *h, probe_io_t io, const char *when)
{
    if (h->st.detail[0] != '\0') {
        return;
    }
    if (h->st.closed) {
        snprintf(h->st.detail, sizeof(h->st.detail), "the stream was reset %s (%s)", when,
                 nghttp2_http2_strerror(h->st.close_code));
    }
    else {
        snprintf(h->st.detail, sizeof(h->st.detail), "%s %s",
                 io == PROBE_IO_EOF ? "the connection closed" : "read error", when);
    }
}

/* A second stream on the connection the response kept. */
static void h2_reuse(h2_t *h, probe_check_t *r)
{
    const probe_run_t *x = h->x;
    probe_io_t io;

    if (!h->st.closed) {
        /* The first request's body may still be held back: end it. */
        nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, h->st.sid, NGHTTP2_CANCEL);
    }
    if (h2_submit(h, NULL, 0, 1) != 0) {
        r->reuse = PROBE_REUSE_CLOSED;
        return;
    }
    io = h2_pump(h, probe_run_deadline(x, x->o->timeout_ms), h2_until_end);
    if (h->st.final_status != 0 && !h->st.garbled) {
        r->reuse = PROBE_REUSE_OK;
        r->reuse_status = h->st.final_status;
    }
    else if (io == PROBE_IO_TIMEOUT) {
        r->reuse = PROBE_REUSE_STALLED;
    }
    else {
        r->reuse = PROBE_REUSE_CLOSED;
    }
}

static void h2_take_interim(probe_check_t *r, const probe_interim_t *im, int64_t t0)
{
    r->n100 = (int)im->n100;
    r->n100_late = (int)im->n100_late;
    r->n1xx_other = (int)im->n_other;
    r->first_interim_ms = im->first_us < 0 ? -1 : (long)((im->first_us - t0) / 1000);
}

/* The outcome of a read that ended without a final status. */
static void h2_no_final(h2_t *h, probe_check_t *r, probe_io_t io, const char *when)
{
    if (h->st.garbled) {
        r->outcome = PROBE_OUT_GARBLED;
    }
    else if (io == PROBE_IO_TIMEOUT) {
        r->outcome = PROBE_OUT_TIMEOUT;
    }
    else {
        r->outcome = PROBE_OUT_CLOSED;
        h2_closed_detail(h, io, when);
    }
}

static void h2_run(h2_t *h, probe_check_id_t id, probe_check_t *r)
{
    const probe_spec_t *sp = &probe_specs[id];
    probe_run_t *x = h->x;
    long tmo = x->o->timeout_ms;
    int64_t t0 = probe_now_us();
    probe_io_t io;

    if (sp->wait == 0) {
        r->before = PROBE_BEFORE_NA;
    }
    else {
        long wait = sp->wait == 1 ? x->res.wait_100_ms : x->wait_other_ms;
        io = h2_pump(h, probe_run_deadline(x, wait), h2_until_answer);
        if (h->not_h2) {
            return;
        }
        if (h->st.got_100 && !h->st.garbled) {
            /* A final status in the same read comes after it: as over
             * HTTP/1.1, the 100 asked for the body. */
            r->before = PROBE_BEFORE_100;
        }
        else if (h->st.final_status != 0) {
            r->before = PROBE_BEFORE_FINAL;
            goto final;
        }
        else if (io == PROBE_IO_TIMEOUT && h->send_io == PROBE_IO_OK) {
            r->before = PROBE_BEFORE_NOTHING;
        }
        else {
            r->before = h->st.garbled ? PROBE_BEFORE_NA : PROBE_BEFORE_CLOSED;
            h2_no_final(h, r, io, "before any response");
            goto done;
        }
        h->st.body_go = 1;
        (void)nghttp2_session_resume_data(h->s, h->st.sid);
    }
    io = h2_pump(h, probe_run_deadline(x, tmo), h2_until_final);
    if (h->not_h2) {
        return;
    }
    if (h->st.final_status == 0) {
        h2_no_final(h, r, io, "without a final response");
        if (io == PROBE_IO_TIMEOUT) {
            snprintf(h->st.detail, sizeof(h->st.detail), h->st.body_sent
                     ? "no final response within %.1f s"
                     : "no final response within %.1f s, and the body was not all taken",
                     (double)tmo / 1000.0);
        }
        goto done;
    }
final:
    r->outcome = PROBE_OUT_RESPONSE;
    r->status = h->st.final_status;
    r->minor = 0;
    r->final_ms = (long)((h->st.final_us - t0) / 1000);
    memcpy(r->server, h->st.server, sizeof(r->server));
    memcpy(r->via, h->st.via, sizeof(r->via));
    io = h2_pump(h, probe_run_deadline(x, tmo), h2_until_end);
    if (h->not_h2) {
        return;
    }
    r->body_complete = h->st.ended && !h->st.garbled;
    r->body_sent = h->st.body_sent;
    h2_take_interim(r, &h->st.im, t0);
    snprintf(r->detail, sizeof(r->detail), "%s", h->st.detail);
    r->keep_alive = r->body_complete && !h->goaway && h->send_io == PROBE_IO_OK;
    if (r->keep_alive) {
        h2_reuse(h, r);
    }
    return;
done:
    r->body_sent = h->st.body_sent;
    h2_take_interim(r, &h->st.im, t0);
    snprintf(r->detail, sizeof(r->detail), "%s", h->st.detail);
}

int probe_h2_check(probe_run_t *x, probe_check_id_t id)
{
    probe_check_t *r = &x->res.check[id];
    h2_t *h = calloc(1, sizeof(*h));
    int rc = 0;

    if (h == NULL) {
        snprintf(x->err, sizeof(x->err), "out of memory");
        return -1;
    }
    r->first_interim_ms = -1;
    r->final_ms = -1;
    h->x = x;
    h->send_io = PROBE_IO_OK;
    h2_stream_reset(h);
    h->c = probe_route_open(x);
    if (h->c == NULL) {
        free(h);
        return -1;
    }
    if (h2_session_new(h) != 0) {
        snprintf(x->err, sizeof(x->err), "cannot start an HTTP/2 session: out of memory");
        rc = -1;
    }
    else if (h2_submit(h, probe_specs[id].expect, (uint64_t)x->o->size,
                       probe_specs[id].wait == 0) != 0) {
        rc = -1;
    }
    else {
        h2_run(h, id, r);
        if (h->not_h2) {
            snprintf(x->err, sizeof(x->err), "%s port %u does not speak HTTP/2 with prior "
                     "knowledge: it answered in HTTP/1.x (probe it without --h2c)",
                     x->url.host, x->connect_port);
            rc = -1;
        }
    }
    nghttp2_session_del(h->s);
    probe_conn_close(h->c);
    free(h);
    return rc;
}
