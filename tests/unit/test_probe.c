/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for expectctl probe's pure parts: URL parsing, response heads,
 * chunked bodies (probe_parse.c), and the diagnoses and verdict
 * (probe_verdict.c); and its read loops (probe_read.c) over a fake
 * transport with a fake clock.  No network, no real clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "probe/probe.h"

/* ---- URL ---- */

typedef struct {
    const char *url;
    int tls;
    const char *host;
    unsigned port;
    const char *target;
    const char *authority;
    int is_ip;
    int v6;
} url_case;

static void url_good(void **state)
{
    static const url_case cases[] = {
        {"http://example.com", 0, "example.com", 80, "/", "example.com", 0, 0},
        {"HTTP://Example.COM/up", 0, "Example.COM", 80, "/up", "Example.COM", 0, 0},
        {"https://example.com/a/b?c=d#frag", 1, "example.com", 443, "/a/b?c=d",
         "example.com", 0, 0},
        {"http://127.0.0.1:8080/echo", 0, "127.0.0.1", 8080, "/echo", "127.0.0.1:8080", 1, 0},
        {"http://[::1]:8443/x", 0, "::1", 8443, "/x", "[::1]:8443", 1, 1},
        {"https://[2001:db8::1]/", 1, "2001:db8::1", 443, "/", "[2001:db8::1]", 1, 1},
        {"http://host:80/", 0, "host", 80, "/", "host", 0, 0},
        {"https://host:80/", 1, "host", 80, "/", "host:80", 0, 0},
        {"http://host:/p", 0, "host", 80, "/p", "host", 0, 0},
        {"http://host?q=1", 0, "host", 80, "/?q=1", "host", 0, 0},
        {"http://my_host.local:65535", 0, "my_host.local", 65535, "/", "my_host.local:65535", 0, 0},
        {"http://h/%20x", 0, "h", 80, "/%20x", "h", 0, 0},
    };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        probe_url_t u;
        char err[200];
        const url_case *c = &cases[i];
        assert_int_equal(probe_parse_url(c->url, &u, err, sizeof(err)), 0);
        assert_int_equal(u.tls, c->tls);
        assert_string_equal(u.host, c->host);
        assert_int_equal(u.port, c->port);
        assert_string_equal(u.target, c->target);
        assert_string_equal(u.authority, c->authority);
        assert_int_equal(u.host_is_ip, c->is_ip);
        assert_int_equal(u.ipv6_literal, c->v6);
    }
}

static void url_bad(void **state)
{
    static const struct { const char *url; const char *why; } cases[] = {
        {"", "needs a URL"},
        {"ftp://host/", "http:// or https://"},
        {"host:80/", "http:// or https://"},
        {"http://", "no host"},
        {"http:///path", "no host"},
        {"http://:80/", "no host"},
        {"http://u:p@host/", "user:password"},
        {"http://[::1/", "unterminated"},
        {"http://[]/", "bad [IPv6"},
        {"http://[zz::1]/", "bad [IPv6"},
        {"http://[fe80::1%25eth0]/", "zone"},
        {"http://[::1]x/", "after ]"},
        {"http://ho st/", "character"},
        {"http://ho%st/", "character"},
        {"http://host:0/", "1 to 65535"},
        {"http://host:65536/", "1 to 65535"},
        {"http://host:8o/", "1 to 65535"},
        {"http://host:-1/", "1 to 65535"},
        {"http://host/a b", "percent-encode"},
        {"http://host/a\x01", "percent-encode"},
        {"http://host/\xc3\xa9", "percent-encode"},
    };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        probe_url_t u;
        char err[200];
        assert_int_equal(probe_parse_url(cases[i].url, &u, err, sizeof(err)), -1);
        if (strstr(err, cases[i].why) == NULL) {
            fail_msg("%s: got \"%s\", want \"%s\"", cases[i].url, err, cases[i].why);
        }
    }
    {
        probe_url_t u;
        char err[64];
        assert_int_equal(probe_parse_url(NULL, &u, err, sizeof(err)), -1);
    }
}

static void url_long(void **state)
{
    char url[PROBE_TARGET_MAX + 64], err[200];
    probe_url_t u;
    (void)state;

    strcpy(url, "http://h/");
    memset(url + 9, 'a', PROBE_TARGET_MAX);
    url[9 + PROBE_TARGET_MAX] = '\0';
    assert_int_equal(probe_parse_url(url, &u, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too long"));
    strcpy(url, "http://");
    memset(url + 7, 'h', PROBE_HOST_MAX);
    url[7 + PROBE_HOST_MAX] = '\0';
    assert_int_equal(probe_parse_url(url, &u, err, sizeof(err)), -1);
}

static void methods(void **state)
{
    (void)state;
    assert_true(probe_method_ok("POST"));
    assert_true(probe_method_ok("PUT"));
    assert_true(probe_method_ok("X-CUSTOM.1"));
    assert_false(probe_method_ok(""));
    assert_false(probe_method_ok(NULL));
    assert_false(probe_method_ok("PO ST"));
    assert_false(probe_method_ok("POST\r\n"));
    assert_false(probe_method_ok("GET/"));
    assert_false(probe_method_ok("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
}

/* ---- heads ---- */

static int parse(const char *s, int head_req, probe_head_t *h, char *err)
{
    size_t len = strlen(s);
    size_t end = probe_head_end(s, len);
    return probe_parse_head(s, end ? end : len, head_req, h, err, 200);
}

static void hops(void **state)
{
    char host[PROBE_HOST_MAX], err[256];
    unsigned port = 0;
    (void)state;
    assert_int_equal(probe_parse_hop("10.0.0.5:8443", 80, host, sizeof(host), &port, err,
                                     sizeof(err)), 0);
    assert_string_equal(host, "10.0.0.5");
    assert_int_equal(port, 8443);
    /* No port: the URL's. */
    assert_int_equal(probe_parse_hop("lb.example", 443, host, sizeof(host), &port, err,
                                     sizeof(err)), 0);
    assert_string_equal(host, "lb.example");
    assert_int_equal(port, 443);
    assert_int_equal(probe_parse_hop("[::1]:8080", 80, host, sizeof(host), &port, err,
                                     sizeof(err)), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 8080);
    assert_int_equal(probe_parse_hop("[2001:db8::1]", 80, host, sizeof(host), &port, err,
                                     sizeof(err)), 0);
    assert_int_equal(port, 80);
    /* More than one colon and no brackets: all of it is an IPv6 address. */
    assert_int_equal(probe_parse_hop("2001:db8::1", 80, host, sizeof(host), &port, err,
                                     sizeof(err)), 0);
    assert_string_equal(host, "2001:db8::1");
    assert_int_equal(port, 80);
    {
        static const char *const bad[] = {
            "", ":80", "h:", "h:0", "h:65536", "h:8o", "h:-1", "h: 1", "a b:1", "h/x:1",
            "[::1", "[::1]x", "[zz::1]:1", "[]:1", "h:1:2:x", "[::1]:", NULL
        };
        size_t i;
        for (i = 0; bad[i] != NULL; i++) {
            err[0] = '\0';
            assert_int_equal(probe_parse_hop(bad[i], 80, host, sizeof(host), &port, err,
                                             sizeof(err)), -1);
            assert_true(err[0] != '\0');
        }
    }
    {
        char longhost[PROBE_HOST_MAX + 8];
        memset(longhost, 'a', sizeof(longhost) - 3);
        strcpy(longhost + sizeof(longhost) - 3, ":1");
        assert_int_equal(probe_parse_hop(longhost, 80, host, sizeof(host), &port, err,
                                         sizeof(err)), -1);
    }
}

static void compare_lines(void **state)
{
    probe_finding_t ign[2] = {{PROBE_D_IGNORES, PROBE_CHECK_CONTINUE},
                              {PROBE_D_UNKNOWN_417, PROBE_CHECK_UNKNOWN}};
    probe_finding_t hon[2] = {{PROBE_D_HONOURS, PROBE_CHECK_CONTINUE},
                              {PROBE_D_UNKNOWN_417_LATE, PROBE_CHECK_UNKNOWN}};
    probe_finding_t timeout[1] = {{PROBE_D_TIMEOUT, PROBE_CHECK_BASELINE}};
    probe_comparison_t c;
    (void)state;
    probe_compare(ign, 2, "h2", hon, 2, "HTTP/1.1", &c);
    assert_string_equal(c.expect_100, "h2 ignores 100-continue while HTTP/1.1 honours it");
    assert_string_equal(c.unknown, "unknown expectation: h2 answers it 417 at once while "
                        "HTTP/1.1 answers it 417 only after the body");
    probe_compare(hon, 2, "h2c", hon, 2, "HTTP/1.1", &c);
    assert_string_equal(c.expect_100, "h2c honours 100-continue, as HTTP/1.1 does");
    assert_string_equal(c.unknown, "unknown expectation: h2c answers it 417 only after the "
                        "body, as HTTP/1.1 does");
    /* A check that never answered says nothing about the unknown one. */
    probe_compare(timeout, 1, "h2", ign, 2, "HTTP/1.1", &c);
    assert_string_equal(c.expect_100, "h2 does not answer in time while HTTP/1.1 ignores it");
    assert_string_equal(c.unknown, "unknown expectation: h2 gives no final answer to it while "
                        "HTTP/1.1 answers it 417 at once");
}

static void head_end_cases(void **state)
{
    (void)state;
    assert_int_equal(probe_head_end("HTTP/1.1 100 Continue\r\n\r\nHTTP", 29), 25);
    assert_int_equal(probe_head_end("HTTP/1.1 100 Continue\n\nX", 24), 23);
    assert_int_equal(probe_head_end("HTTP/1.1 100 Continue\r\n\r", 24), 0);
    assert_int_equal(probe_head_end("HTTP/1.1 100 Continue\r\n", 23), 0);
    assert_int_equal(probe_head_end("", 0), 0);
}

static void head_basic(void **state)
{
    probe_head_t h;
    char err[200];
    (void)state;

    assert_int_equal(parse("HTTP/1.1 100 Continue\r\n\r\n", 0, &h, err), 0);
    assert_int_equal(h.status, 100);
    assert_int_equal(h.minor, 1);
    assert_string_equal(h.reason, "Continue");
    assert_int_equal(h.body, PROBE_BODY_NONE);

    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nServer: Apache/2.4\r\n"
                           "Via: 1.1 proxy\r\n\r\n", 0, &h, err), 0);
    assert_int_equal(h.body, PROBE_BODY_LENGTH);
    assert_int_equal(h.length, 12);
    assert_string_equal(h.server, "Apache/2.4");
    assert_string_equal(h.via, "1.1 proxy");
    assert_true(probe_head_keeps_alive(&h));

    /* No reason phrase; bare LF line ends. */
    assert_int_equal(parse("HTTP/1.0 417\nContent-Length: 0\n\n", 0, &h, err), 0);
    assert_int_equal(h.status, 417);
    assert_string_equal(h.reason, "");
    assert_int_equal(h.body, PROBE_BODY_NONE);
    assert_false(probe_head_keeps_alive(&h));  /* HTTP/1.0 without keep-alive */

    assert_int_equal(parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
                           "Content-Length: 1\r\n\r\n", 0, &h, err), 0);
    assert_true(h.conn_keep_alive);
    assert_true(probe_head_keeps_alive(&h));

    assert_int_equal(parse("HTTP/1.1 417 Expectation Failed\r\nConnection: foo, CLOSE\r\n"
                           "Content-Length: 5\r\n\r\n", 0, &h, err), 0);
    assert_true(h.conn_close);
    assert_false(probe_head_keeps_alive(&h));

    /* Obsolete folding is skipped, not fatal. */
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 2\r\n\r\n",
                           0, &h, err), 0);
    assert_int_equal(h.length, 2);
}

static void head_framing(void **state)
{
    probe_head_t h;
    char err[200];
    (void)state;

    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n"
                           "Content-Length: 9\r\n\r\n", 0, &h, err), 0);
    assert_int_equal(h.body, PROBE_BODY_CHUNKED);  /* TE wins over CL */
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                           0, &h, err), 0);
    assert_int_equal(h.body, PROBE_BODY_UNTIL_CLOSE);
    assert_false(probe_head_keeps_alive(&h));
    assert_int_equal(parse("HTTP/1.1 200 OK\r\n\r\n", 0, &h, err), 0);
    assert_int_equal(h.body, PROBE_BODY_UNTIL_CLOSE);
    assert_int_equal(parse("HTTP/1.1 204 No Content\r\n\r\n", 0, &h, err), 0);
    assert_int_equal(h.body, PROBE_BODY_NONE);
    assert_int_equal(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 0, &h, err), 0);
    assert_int_equal(h.body, PROBE_BODY_NONE);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 1, &h, err), 0);
    assert_int_equal(h.body, PROBE_BODY_NONE);  /* HEAD */
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n", 0, &h, err), 0);
    assert_int_equal(h.length, 7);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\ncontent-length: 7\r\nContent-Length: 7\r\n\r\n",
                           0, &h, err), 0);
}

static void head_garbled(void **state)
{
    static const char *bad[] = {
        "HTTP/2 200\r\n\r\n",
        "HTTP/1.1 1OO Continue\r\n\r\n",
        "HTTP/1.1 99 Low\r\n\r\n",
        "HTTP/1.1 600 High\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1200 OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "no newline at all",
    };
    size_t i;
    probe_head_t h;
    char err[200];
    (void)state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (parse(bad[i], 0, &h, err) != -1) {
            fail_msg("accepted: %s", bad[i]);
        }
        assert_true(err[0] != '\0');
    }
}

static void head_long_values_cut(void **state)
{
    char buf[700];
    probe_head_t h;
    char err[200];
    (void)state;

    snprintf(buf, sizeof(buf), "HTTP/1.1 200 %0300d\r\nServer: %0300d\r\n\r\n", 0, 0);
    assert_int_equal(parse(buf, 0, &h, err), 0);
    assert_int_equal(strlen(h.reason), PROBE_FIELD_MAX - 1);
    assert_int_equal(strlen(h.server), PROBE_FIELD_MAX - 1);
}

/* ---- chunked ---- */

static int feed_all(const char *s, size_t *used)
{
    probe_chunked_t c;
    probe_chunked_init(&c);
    return probe_chunked_feed(&c, s, strlen(s), used);
}

static void chunked(void **state)
{
    static const char body[] = "5\r\nhello\r\n1a; ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                               "0\r\nTrailer: x\r\n\r\nHTTP/1.1 200 OK";
    probe_chunked_t c;
    size_t used, i, total = 0;
    int rc = PROBE_CHUNKED_MORE;
    (void)state;

    assert_int_equal(feed_all(body, &used), PROBE_CHUNKED_DONE);
    assert_string_equal(body + used, "HTTP/1.1 200 OK");

    /* One byte at a time gives the same end. */
    probe_chunked_init(&c);
    for (i = 0; i < strlen(body) && rc == PROBE_CHUNKED_MORE; i++) {
        rc = probe_chunked_feed(&c, body + i, 1, &used);
        total += used;
    }
    assert_int_equal(rc, PROBE_CHUNKED_DONE);
    assert_string_equal(body + total, "HTTP/1.1 200 OK");

    assert_int_equal(feed_all("0\r\n\r\n", &used), PROBE_CHUNKED_DONE);
    assert_int_equal(used, 5);
    assert_int_equal(feed_all("3\nabc\n0\n\n", &used), PROBE_CHUNKED_DONE);  /* bare LF */
    assert_int_equal(feed_all("A\r\n0123456789\r\n", &used), PROBE_CHUNKED_MORE);
    assert_int_equal(used, 15);
    assert_int_equal(feed_all("x\r\n", &used), PROBE_CHUNKED_ERROR);
    assert_int_equal(feed_all("\r\n", &used), PROBE_CHUNKED_ERROR);
    assert_int_equal(feed_all("3\r\nabcX", &used), PROBE_CHUNKED_ERROR);
    assert_int_equal(feed_all("3\rX", &used), PROBE_CHUNKED_ERROR);
    assert_int_equal(feed_all("ffffffffffffffff1\r\n", &used), PROBE_CHUNKED_ERROR);
    assert_int_equal(feed_all("0\r\n\rX", &used), PROBE_CHUNKED_ERROR);
}

/* ---- read loops over a fake transport ---- */

/*
 * Serves data in pieces of at most chunk bytes, over and over when cycle
 * is set (a server that never stops), else then at_end.  The clock moves
 * step microseconds per recv (0: it never moves, so only the loops' own
 * limits can end them).  More than max_calls receives fails the test
 * instead of hanging it.
 */
typedef struct {
    const char *data;
    size_t len, pos, chunk;
    int cycle;
    probe_io_t at_end;
    int64_t now, step;
    unsigned long calls, max_calls;
    uint64_t bytes;
} fake_t;

static probe_io_t fake_recv(void *ctx, char *dst, size_t len, size_t *got, int64_t deadline_us)
{
    fake_t *f = ctx;
    size_t n = 0;
    (void)deadline_us;

    assert_true(len > 0);
    if (++f->calls > f->max_calls) {
        fail_msg("the read loop made %lu receives, more than %lu: it does not end",
                 f->calls, f->max_calls);
    }
    f->now += f->step;
    if (f->pos == f->len && f->cycle) {
        f->pos = 0;
    }
    if (f->pos == f->len) {
        return f->at_end;
    }
    while (n < len && n < f->chunk && f->pos < f->len) {
        dst[n++] = f->data[f->pos++];
        if (f->pos == f->len && f->cycle) {
            f->pos = 0;
        }
    }
    *got = n;
    f->bytes += n;
    return PROBE_IO_OK;
}

static int64_t fake_now(void *ctx)
{
    return ((fake_t *)ctx)->now;
}

static probe_reader_t *fake_reader(fake_t *f, const char *data, size_t chunk, int cycle)
{
    static probe_reader_t rd;   /* 36 KB: not on cmocka's stack */
    probe_transport_t t;

    memset(f, 0, sizeof(*f));
    f->data = data;
    f->len = strlen(data);
    f->chunk = chunk;
    f->cycle = cycle;
    f->at_end = PROBE_IO_EOF;
    f->max_calls = 1000000;
    t.recv = fake_recv;
    t.now = fake_now;
    t.ctx = f;
    probe_reader_init(&rd, &t);
    return &rd;
}

/*
 * Issue 12: a server that sends "HTTP/1.1 102" heads back to back, for
 * ever.  The old loop counted them in an int and read on until the
 * deadline, which it only checked when recv would block: with bytes
 * always there it never ended.  Now the 101st interim response is an
 * error, the counts stop at the limit, and with a clock that never moves
 * (so no deadline can help) the loop still ends after a bounded number of
 * bytes and receives.
 */
static void read_endless_interim_is_capped(void **state)
{
    static const char *const streams[] = {"HTTP/1.1 102\r\n\r\n", "HTTP/1.1 102\n\n",
                                          "HTTP/1.1 102 Processing\r\nX: y\r\n\r\n\r\n"};
    static const size_t chunks[] = {1, 13, 65536};
    size_t i, j;
    int stop;
    (void)state;

    for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++)
    for (j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++)
    for (stop = 0; stop < 2; stop++) {
        fake_t f;
        probe_reader_t *rd = fake_reader(&f, streams[i], chunks[j], 1);
        probe_interim_t im;
        probe_head_t h;
        char err[200] = "";

        f.max_calls = PROBE_READ_FINAL_MAX + 1;
        probe_interim_init(&im);
        assert_int_equal(probe_read_final(rd, 0, 0, stop, &im, &h, 1, err, sizeof(err)),
                         PROBE_IO_ERROR);
        assert_int_equal(im.n_other, PROBE_INTERIM_MAX);
        assert_int_equal(im.n100, 0);
        assert_true(probe_interim_full(&im));
        assert_non_null(strstr(err, "more than 100 interim responses"));
        assert_true(f.bytes <= PROBE_READ_FINAL_MAX);
        /* The 101 heads and at most one buffer more. */
        assert_true(f.bytes <= 101 * strlen(streams[i]) + PROBE_BUF_SIZE);
        assert_true(f.now == 0);
    }
}

/* 100s count toward the limit too, and the limit is per request: the
 * counts carry from the wait before the body to the read after it. */
static void read_interim_limit_is_per_request(void **state)
{
    fake_t f;
    probe_reader_t *rd;
    probe_interim_t im;
    probe_head_t h;
    char err[200], *stream;
    size_t i, off = 0;
    const size_t one = strlen("HTTP/1.1 100 Continue\r\n\r\n");
    (void)state;

    /* Exactly PROBE_INTERIM_MAX interim responses, then a final one: fine. */
    stream = malloc((PROBE_INTERIM_MAX + 1) * one + 64);
    assert_non_null(stream);
    for (i = 0; i < PROBE_INTERIM_MAX; i++) {
        off += (size_t)sprintf(stream + off, "HTTP/1.1 %d Continue\r\n\r\n",
                               i == 0 ? 100 : 103);
    }
    strcpy(stream + off, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    rd = fake_reader(&f, stream, 7, 0);
    probe_interim_init(&im);
    assert_int_equal(probe_read_final(rd, 0, 0, 1, &im, &h, 1, err, sizeof(err)), PROBE_IO_OK);
    assert_int_equal(h.status, 100);                   /* stop_at_100 */
    assert_int_equal(im.n100, 1);
    assert_int_equal(im.n100_late, 0);
    assert_int_equal(probe_read_final(rd, 0, 1, 0, &im, &h, 1, err, sizeof(err)), PROBE_IO_OK);
    assert_int_equal(h.status, 200);
    assert_int_equal(im.n_other, PROBE_INTERIM_MAX - 1);
    assert_false(probe_interim_full(&im) && h.status < 200);

    /* One more interim response: the error, before the final status. */
    memmove(stream + one, stream, strlen(stream) + 1);
    memcpy(stream, "HTTP/1.1 100 Continue\r\n\r\n", one);
    rd = fake_reader(&f, stream, 4096, 0);
    probe_interim_init(&im);
    assert_int_equal(probe_read_final(rd, 0, 1, 0, &im, &h, 1, err, sizeof(err)),
                     PROBE_IO_ERROR);
    assert_int_equal(im.n100 + im.n_other, PROBE_INTERIM_MAX);
    assert_int_equal(im.n100, 2);
    assert_int_equal(im.n100_late, 2);
    free(stream);
}

static void read_counts_and_first_time(void **state)
{
    fake_t f;
    probe_reader_t *rd = fake_reader(&f, "\r\nHTTP/1.1 100 Continue\r\n\r\n"
                                         "HTTP/1.1 103 Early Hints\nLink: </a>\n\n"
                                         "HTTP/1.1 100 Continue\r\n\r\n"
                                         "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc"
                                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                         "3\r\nxyz\r\n0\r\n\r\n"
                                         "HTTP/1.1 204 No Content\r\n\r\n", 5, 0);
    probe_interim_t im;
    probe_head_t h;
    char err[200];
    (void)state;

    f.now = 1000;
    f.step = 10;
    probe_interim_init(&im);
    assert_int_equal(im.first_us, -1);
    assert_int_equal(probe_read_final(rd, 0, 1, 0, &im, &h, 1000000, err, sizeof(err)),
                     PROBE_IO_OK);
    assert_int_equal(h.status, 201);
    assert_int_equal(im.n100, 2);
    assert_int_equal(im.n100_late, 2);
    assert_int_equal(im.n_other, 1);
    assert_true(im.first_us > 1000 && im.first_us < f.now);
    assert_int_equal(probe_read_body(rd, &h, 1000000), PROBE_IO_OK);
    probe_interim_init(&im);
    assert_int_equal(probe_read_final(rd, 0, 0, 0, &im, &h, 1000000, err, sizeof(err)),
                     PROBE_IO_OK);
    assert_int_equal(h.body, PROBE_BODY_CHUNKED);
    assert_int_equal(probe_read_body(rd, &h, 1000000), PROBE_IO_OK);
    assert_int_equal(probe_read_final(rd, 0, 0, 0, &im, &h, 1000000, err, sizeof(err)),
                     PROBE_IO_OK);
    assert_int_equal(h.status, 204);
    assert_int_equal(im.n100 + im.n_other, 0);
    assert_int_equal(probe_read_final(rd, 0, 0, 0, &im, &h, 1000000, err, sizeof(err)),
                     PROBE_IO_EOF);
}

/*
 * A body that never ends, bytes always ready: the read ends at its
 * deadline, checked before every receive, not only when one would block.
 */
static void read_deadline_holds_while_bytes_arrive(void **state)
{
    fake_t f;
    probe_reader_t *rd;
    probe_interim_t im;
    probe_head_t h;
    char err[200];
    (void)state;

    rd = fake_reader(&f, "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999\r\n\r\n", 65536, 0);
    probe_interim_init(&im);
    assert_int_equal(probe_read_final(rd, 0, 0, 0, &im, &h, 1000, err, sizeof(err)), PROBE_IO_OK);
    f.data = "xxxxxxxxxxxxxxxx";
    f.len = strlen(f.data);
    f.pos = 0;
    f.cycle = 1;
    f.step = 1000;            /* 1 ms per receive */
    f.calls = 0;
    f.max_calls = 1000;
    /* 500 ms from now: the 500th receive reaches it, none after. */
    assert_int_equal(probe_read_body(rd, &h, f.now + 500000), PROBE_IO_TIMEOUT);
    assert_int_equal(f.calls, 500);

    /* The same for a body read until close, and for a chunked one. */
    h.body = PROBE_BODY_UNTIL_CLOSE;
    f.calls = 0;
    assert_int_equal(probe_read_body(rd, &h, f.now + 300000), PROBE_IO_TIMEOUT);
    assert_int_equal(f.calls, 300);
    rd = fake_reader(&f, "1\r\nx\r\n", 3, 1);     /* chunks without a last one */
    f.step = 1000;
    f.max_calls = 1000;
    h.body = PROBE_BODY_CHUNKED;
    assert_int_equal(probe_read_body(rd, &h, 200000), PROBE_IO_TIMEOUT);
    assert_int_equal(f.calls, 200);
    rd = fake_reader(&f, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 3, 1);
    f.step = 1000;
    f.max_calls = 1000;
    h.body = PROBE_BODY_UNTIL_CLOSE;
    assert_int_equal(probe_read_body(rd, &h, 0), PROBE_IO_TIMEOUT);     /* already past */
    assert_int_equal(f.calls, 0);

    /* Interim responses that come slower than the limit: the deadline. */
    rd = fake_reader(&f, "HTTP/1.1 102\r\n\r\n", 1, 1);
    f.step = 1000;
    f.max_calls = 100;
    probe_interim_init(&im);
    assert_int_equal(probe_read_final(rd, 0, 0, 0, &im, &h, 50000, err, sizeof(err)),
                     PROBE_IO_TIMEOUT);
    assert_int_equal(f.calls, 50);
    assert_int_equal(im.n_other, 3);           /* 16 bytes each, a byte per ms */
}

/* Empty lines without end, a head without end: errors, not waits. */
static void read_size_limits(void **state)
{
    fake_t f;
    probe_reader_t *rd;
    probe_interim_t im;
    probe_head_t h;
    char err[200], *big;
    size_t n;
    (void)state;

    rd = fake_reader(&f, "\r\n", 100, 1);
    f.max_calls = 2 * PROBE_HEAD_MAX;
    probe_interim_init(&im);
    assert_int_equal(probe_read_final(rd, 0, 0, 0, &im, &h, 1, err, sizeof(err)),
                     PROBE_IO_ERROR);
    assert_non_null(strstr(err, "empty lines"));

    rd = fake_reader(&f, "HTTP/1.1 200 OK\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1000, 1);
    f.max_calls = PROBE_HEAD_MAX;
    assert_int_equal(probe_read_head(rd, 0, &h, 1, err, sizeof(err)), PROBE_IO_ERROR);
    assert_non_null(strstr(err, "larger than 32768"));

    /* A head of exactly PROBE_HEAD_MAX bytes is read, one more is not. */
    big = malloc(PROBE_HEAD_MAX + 2);
    assert_non_null(big);
    n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: ");
    memset(big + n, 'a', PROBE_HEAD_MAX - n - 4);
    memcpy(big + PROBE_HEAD_MAX - 4, "\r\n\r\n", 5);
    assert_int_equal(strlen(big), PROBE_HEAD_MAX);
    rd = fake_reader(&f, big, 977, 0);
    assert_int_equal(probe_read_head(rd, 0, &h, 1, err, sizeof(err)), PROBE_IO_OK);
    assert_int_equal(h.status, 200);
    memmove(big + n + 1, big + n, PROBE_HEAD_MAX - n + 1);
    rd = fake_reader(&f, big, 977, 0);
    assert_int_equal(probe_read_head(rd, 0, &h, 1, err, sizeof(err)), PROBE_IO_ERROR);
    free(big);

    /* Not HTTP at all, EOF in a head, a transport that returns nothing. */
    rd = fake_reader(&f, "SSH-2.0-OpenSSH\r\n", 64, 0);
    assert_int_equal(probe_read_head(rd, 0, &h, 1, err, sizeof(err)), PROBE_IO_ERROR);
    assert_non_null(strstr(err, "HTTP/"));
    rd = fake_reader(&f, "HTTP/1.1 200 OK\r\n", 64, 0);
    assert_int_equal(probe_read_head(rd, 0, &h, 1, err, sizeof(err)), PROBE_IO_ERROR);
    assert_non_null(strstr(err, "middle"));
    rd = fake_reader(&f, "", 64, 0);
    f.at_end = PROBE_IO_TIMEOUT;
    assert_int_equal(probe_read_head(rd, 0, &h, 1, err, sizeof(err)), PROBE_IO_TIMEOUT);
}

/* ---- diagnoses ---- */

static void diag_table(void **state)
{
    int i, j, seen_exit[256];
    (void)state;

    memset(seen_exit, 0, sizeof(seen_exit));
    assert_null(probe_diag(PROBE_D_COUNT));
    for (i = 0; i < PROBE_D_COUNT; i++) {
        const probe_diag_t *d = probe_diag((probe_diag_id_t)i);
        assert_non_null(d);
        assert_int_equal(d->id, i);
        assert_true(d->key[0] && d->summary[0] && d->client_fix[0] && d->server_fix[0]);
        if (d->severity == PROBE_SEV_PROBLEM) {
            /* Problem codes sit above every other expectctl exit code. */
            assert_true(d->exit_code >= 10 && d->exit_code < 256);
            assert_int_equal(seen_exit[d->exit_code]++, 0);
        }
        else {
            assert_int_equal(d->exit_code, 0);
        }
        for (j = 0; j < i; j++) {
            assert_string_not_equal(d->key, probe_diag((probe_diag_id_t)j)->key);
        }
    }
    /* A baseline of 405 is no success: the text claims only what it saw. */
    assert_null(strstr(probe_diag(PROBE_D_REJECTS)->summary, "succeeds"));
    assert_non_null(strstr(probe_diag(PROBE_D_REJECTS)->summary, "baseline"));
    /* httpd 2.4 with mod_expect can change it now: the note says how. */
    assert_non_null(strstr(probe_diag(PROBE_D_UNKNOWN_417_LATE)->server_fix,
                           "ExpectUnknown ignore"));
    assert_string_equal(probe_check_name(PROBE_CHECK_CONTINUE), "expect-100-continue");
    assert_string_equal(probe_check_name(PROBE_CHECK_COUNT), "unknown");
    assert_string_equal(probe_severity_name(PROBE_SEV_NOTE), "note");
}

static void response(probe_check_t *c, probe_before_t before, int status)
{
    memset(c, 0, sizeof(*c));
    c->outcome = PROBE_OUT_RESPONSE;
    c->before = before;
    c->status = status;
    c->first_interim_ms = before == PROBE_BEFORE_100 ? 1 : -1;
    c->n100 = before == PROBE_BEFORE_100;
    c->final_ms = 2;
}

/* httpd with ExpectPolicy continue, as the integration tests see it. */
static void healthy(probe_result_t *r)
{
    memset(r, 0, sizeof(*r));
    r->wait_100_ms = 1500;
    r->timeout_ms = 3000;
    response(&r->check[PROBE_CHECK_BASELINE], PROBE_BEFORE_NA, 200);
    response(&r->check[PROBE_CHECK_CONTINUE], PROBE_BEFORE_100, 200);
    response(&r->check[PROBE_CHECK_UNKNOWN], PROBE_BEFORE_NOTHING, 417);
    response(&r->check[PROBE_CHECK_HTTP10], PROBE_BEFORE_NOTHING, 200);
}

static int has(const probe_finding_t *f, size_t n, probe_diag_id_t d)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (f[i].id == d) {
            return 1;
        }
    }
    return 0;
}

static probe_diag_id_t verdict(const probe_result_t *r, probe_finding_t *f, size_t *n)
{
    *n = probe_diagnose(r, f, PROBE_FINDINGS_MAX);
    assert_true(*n >= 1);
    return f[0].id;
}

static void verdicts(void **state)
{
    probe_result_t r;
    probe_finding_t f[PROBE_FINDINGS_MAX];
    size_t n;
    (void)state;

    healthy(&r);
    assert_int_equal(verdict(&r, f, &n), PROBE_D_HONOURS);
    assert_true(has(f, n, PROBE_D_UNKNOWN_417_LATE));
    assert_int_equal(f[0].check, PROBE_CHECK_CONTINUE);

    /* ExpectPolicy reject */
    healthy(&r);
    response(&r.check[PROBE_CHECK_CONTINUE], PROBE_BEFORE_FINAL, 417);
    assert_int_equal(verdict(&r, f, &n), PROBE_D_REJECTS);
    assert_int_equal(probe_diag(f[0].id)->exit_code, 11);

    /* ExpectPolicy ignore */
    healthy(&r);
    response(&r.check[PROBE_CHECK_CONTINUE], PROBE_BEFORE_NOTHING, 200);
    assert_int_equal(verdict(&r, f, &n), PROBE_D_IGNORES);
    /* ...and a 100 that only came after the body is still a stall. */
    r.check[PROBE_CHECK_CONTINUE].n100 = r.check[PROBE_CHECK_CONTINUE].n100_late = 1;
    assert_int_equal(verdict(&r, f, &n), PROBE_D_IGNORES);

    /* 417 for everything, with or without Expect. */
    healthy(&r);
    response(&r.check[PROBE_CHECK_BASELINE], PROBE_BEFORE_NA, 417);
    response(&r.check[PROBE_CHECK_CONTINUE], PROBE_BEFORE_FINAL, 417);
    response(&r.check[PROBE_CHECK_UNKNOWN], PROBE_BEFORE_FINAL, 417);
    assert_int_equal(verdict(&r, f, &n), PROBE_D_ALWAYS_417);
    assert_false(has(f, n, PROBE_D_REJECTS));
    assert_false(has(f, n, PROBE_D_UNKNOWN_417));
    /* 417 only after the body, also without Expect: still always-417. */
    response(&r.check[PROBE_CHECK_CONTINUE], PROBE_BEFORE_NOTHING, 417);
    assert_int_equal(verdict(&r, f, &n), PROBE_D_ALWAYS_417);
    /* 417 after the body for 100-continue only. */
    healthy(&r);
    response(&r.check[PROBE_CHECK_CONTINUE], PROBE_BEFORE_NOTHING, 417);
    assert_int_equal(verdict(&r, f, &n), PROBE_D_REJECTS);

    /* Two 100s: duplicate, and no claim that it honours the expectation. */
    healthy(&r);
    r.check[PROBE_CHECK_CONTINUE].n100 = 2;
    assert_int_equal(verdict(&r, f, &n), PROBE_D_DUPLICATE);
    assert_false(has(f, n, PROBE_D_HONOURS));
    /* Traefik: two 100s and no final response; the duplicate is the cause. */
    r.check[PROBE_CHECK_CONTINUE].outcome = PROBE_OUT_TIMEOUT;
    memset(&r.check[PROBE_CHECK_UNKNOWN], 0, sizeof(probe_check_t));
    memset(&r.check[PROBE_CHECK_HTTP10], 0, sizeof(probe_check_t));
    assert_int_equal(verdict(&r, f, &n), PROBE_D_DUPLICATE);
    assert_true(has(f, n, PROBE_D_TIMEOUT));

    /* Closes at once: every check. */
    memset(&r, 0, sizeof(r));
    {
        int k;
        for (k = 0; k < PROBE_CHECK_COUNT; k++) {
            r.check[k].outcome = PROBE_OUT_CLOSED;
            r.check[k].before = k ? PROBE_BEFORE_CLOSED : PROBE_BEFORE_NA;
        }
    }
    assert_int_equal(verdict(&r, f, &n), PROBE_D_CLOSES);
    assert_int_equal(f[0].check, PROBE_CHECK_BASELINE);
    assert_int_equal(n, 1);

    /* Slow: the baseline times out, the rest are skipped. */
    memset(&r, 0, sizeof(r));
    r.check[PROBE_CHECK_BASELINE].outcome = PROBE_OUT_TIMEOUT;
    assert_int_equal(verdict(&r, f, &n), PROBE_D_TIMEOUT);
    assert_int_equal(n, 1);

    /* Garbled */
    healthy(&r);
    r.check[PROBE_CHECK_CONTINUE].outcome = PROBE_OUT_GARBLED;
    assert_int_equal(verdict(&r, f, &n), PROBE_D_GARBLED);
    assert_int_equal(f[0].check, PROBE_CHECK_CONTINUE);

    /* A 100 to HTTP/1.0; the 1.1 path is fine. */
    healthy(&r);
    r.check[PROBE_CHECK_HTTP10].n100 = 1;
    assert_int_equal(verdict(&r, f, &n), PROBE_D_HTTP10_100);
    assert_int_equal(probe_diag(f[0].id)->exit_code, 17);
    assert_true(has(f, n, PROBE_D_HONOURS));

    /* Early 417 on a kept connection, body parsed as a request. */
    healthy(&r);
    response(&r.check[PROBE_CHECK_CONTINUE], PROBE_BEFORE_FINAL, 417);
    r.check[PROBE_CHECK_CONTINUE].reuse = PROBE_REUSE_DESYNC;
    assert_int_equal(verdict(&r, f, &n), PROBE_D_DESYNC);
    assert_true(has(f, n, PROBE_D_REJECTS));

    /* A 100 slower than curl waits: healthy, with a note. */
    healthy(&r);
    r.check[PROBE_CHECK_CONTINUE].first_interim_ms = 1200;
    assert_int_equal(verdict(&r, f, &n), PROBE_D_HONOURS);
    assert_true(has(f, n, PROBE_D_LATE_100));
    r.check[PROBE_CHECK_CONTINUE].first_interim_ms = 1000;
    verdict(&r, f, &n);
    assert_false(has(f, n, PROBE_D_LATE_100));

    /* A final status at once that is not 417. */
    healthy(&r);
    response(&r.check[PROBE_CHECK_CONTINUE], PROBE_BEFORE_FINAL, 405);
    assert_int_equal(verdict(&r, f, &n), PROBE_D_FINAL_FIRST);

    /* Unknown expectations: at once, after the body, or served. */
    healthy(&r);
    response(&r.check[PROBE_CHECK_UNKNOWN], PROBE_BEFORE_FINAL, 417);
    verdict(&r, f, &n);
    assert_true(has(f, n, PROBE_D_UNKNOWN_417));
    response(&r.check[PROBE_CHECK_UNKNOWN], PROBE_BEFORE_NOTHING, 200);
    verdict(&r, f, &n);
    assert_true(has(f, n, PROBE_D_UNKNOWN_IGNORED));

    /* Closing without a response anywhere outranks everything else. */
    healthy(&r);
    r.check[PROBE_CHECK_CONTINUE].n100 = 2;
    r.check[PROBE_CHECK_HTTP10].outcome = PROBE_OUT_CLOSED;
    assert_int_equal(verdict(&r, f, &n), PROBE_D_CLOSES);
    assert_int_equal(f[0].check, PROBE_CHECK_HTTP10);

    /* The output array bound is respected. */
    assert_int_equal(probe_diagnose(&r, f, 1), 1);
}

/*
 * Every combination the checks can report gives a verdict that is a
 * problem or a healthy diagnosis, never a note, with the exit code of
 * that verdict.
 */
static void verdict_is_never_a_note(void **state)
{
    static const int statuses[] = {200, 405, 417};
    probe_result_t r;
    probe_finding_t f[PROBE_FINDINGS_MAX];
    int bo, bs, co, cb, cs, n100, uo, ho, h100, reuse;
    size_t n, i;
    (void)state;

    for (bo = PROBE_OUT_SKIPPED; bo <= PROBE_OUT_GARBLED; bo++)
    for (bs = 0; bs < 3; bs++)
    for (co = PROBE_OUT_SKIPPED; co <= PROBE_OUT_GARBLED; co++)
    for (cb = PROBE_BEFORE_NA; cb <= PROBE_BEFORE_CLOSED; cb++)
    for (cs = 0; cs < 3; cs++)
    for (n100 = 0; n100 < 3; n100++)
    for (uo = PROBE_OUT_SKIPPED; uo <= PROBE_OUT_RESPONSE; uo++)
    for (ho = PROBE_OUT_SKIPPED; ho <= PROBE_OUT_RESPONSE; ho++)
    for (h100 = 0; h100 < 2; h100++)
    for (reuse = PROBE_REUSE_NOT_TRIED; reuse <= PROBE_REUSE_DESYNC; reuse += 4) {
        if (bo == PROBE_OUT_SKIPPED) {
            continue;  /* the baseline always runs */
        }
        memset(&r, 0, sizeof(r));
        r.check[0].outcome = (probe_outcome_t)bo;
        r.check[0].status = statuses[bs];
        r.check[1].outcome = (probe_outcome_t)co;
        r.check[1].before = (probe_before_t)cb;
        r.check[1].status = statuses[cs];
        r.check[1].n100 = n100;
        r.check[1].first_interim_ms = n100 ? 5 : -1;
        r.check[1].reuse = (probe_reuse_t)reuse;
        r.check[2].outcome = (probe_outcome_t)uo;
        r.check[2].status = 417;
        r.check[3].outcome = (probe_outcome_t)ho;
        r.check[3].n100 = h100;
        n = probe_diagnose(&r, f, PROBE_FINDINGS_MAX);
        assert_true(n >= 1);
        assert_int_not_equal(probe_diag(f[0].id)->severity, PROBE_SEV_NOTE);
        /* Problems come first, and each diagnosis appears once. */
        for (i = 1; i < n; i++) {
            if (probe_diag(f[i].id)->severity == PROBE_SEV_PROBLEM) {
                assert_int_equal(probe_diag(f[i - 1].id)->severity, PROBE_SEV_PROBLEM);
            }
            assert_int_not_equal(f[i].id, f[i - 1].id);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_good),
        cmocka_unit_test(url_bad),
        cmocka_unit_test(url_long),
        cmocka_unit_test(methods),
        cmocka_unit_test(hops),
        cmocka_unit_test(compare_lines),
        cmocka_unit_test(head_end_cases),
        cmocka_unit_test(head_basic),
        cmocka_unit_test(head_framing),
        cmocka_unit_test(head_garbled),
        cmocka_unit_test(head_long_values_cut),
        cmocka_unit_test(chunked),
        cmocka_unit_test(read_endless_interim_is_capped),
        cmocka_unit_test(read_interim_limit_is_per_request),
        cmocka_unit_test(read_counts_and_first_time),
        cmocka_unit_test(read_deadline_holds_while_bytes_arrive),
        cmocka_unit_test(read_size_limits),
        cmocka_unit_test(diag_table),
        cmocka_unit_test(verdicts),
        cmocka_unit_test(verdict_is_never_a_note),
    };
    return cmocka_run_group_tests_name("expectctl_probe", tests, NULL, NULL);
}
