/*
 * ctl_probe.c - `expectctl probe URL`: how a server, or the chain of
 * intermediaries in front of it, handles Expect: 100-continue.
 *
 * Four checks, each on a new connection to the same address:
 *
 *   baseline             the request without Expect, body sent at once:
 *                        what the URL answers anyway, and how fast
 *   expect-100-continue  Expect: 100-continue; wait for a 100 or a final
 *                        status, send the body after a 100 or after the
 *                        wait, read the final status
 *   unknown-expectation  Expect: x-probe, the same way
 *   http10               HTTP/1.0 with 100-continue, the same way
 *
 * Every interim response is counted; after each final response that
 * keeps the connection, a second request on it shows whether the server
 * is still in step.  probe_verdict.c turns the results into diagnoses.
 *
 * Bounds: each wait ends after --timeout S; the wait for a 100 is S/2;
 * after a check times out the rest are skipped; the whole probe ends
 * within TOTAL_TIMEOUTS x S (name resolution aside: that is the system
 * resolver's).  Every deadline is checked before every send and receive,
 * also while bytes keep arriving, and one request accepts at most
 * PROBE_INTERIM_MAX interim responses (probe.h), so no server behaviour
 * stretches the bound.
 *
 * No segment is attached: probe needs no privilege.  Text for people,
 * --json for machines (documented in expectctl.8; fields are only added).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "expect_format.h"
#include "probe.h"

#ifndef EXPECT_VERSION
#define EXPECT_VERSION "0.0.0"
#endif

/*
 * The checks after the first wait for an interim response three times as
 * long as the baseline took to answer, at least 0.3 s and at most the
 * 100-continue wait: long enough to see what a server says at once,
 * short enough that a server which never says anything costs little.
 */
#define WAIT_OTHER_FACTOR 3
#define WAIT_OTHER_MIN_MS 300
#define TOTAL_TIMEOUTS 8

typedef struct {
    int minor;
    const char *expect;         /* NULL: no Expect header */
    int wait;                   /* 0: body with the head, 1: the 100 wait, 2: the short wait */
    const char *label;
} check_spec_t;

static const check_spec_t specs[PROBE_CHECK_COUNT] = {
    {1, NULL, 0, "no Expect"},
    {1, "100-continue", 1, "Expect: 100-continue"},
    {1, "x-probe", 2, "Expect: x-probe"},
    {0, "100-continue", 2, "HTTP/1.0 + 100-continue"},
};

typedef struct {
    const ctl_opts_t *o;
    probe_url_t url;
    probe_addr_t addr;
    char connect_host[PROBE_HOST_MAX];  /* --connect, brackets removed; else the URL's */
    int first_fd;               /* connected while resolving; the baseline uses it */
    probe_tls_t *tls;
    char tls_info[96];
    int tls_verified;
    int head_request;
    int64_t start_us, end_us;
    long wait_other_ms;
    int followup_status;        /* what the baseline's second request got; 0: unknown */
    probe_result_t res;
    char err[512];
} probe_ctx_t;

static int64_t deadline(const probe_ctx_t *x, long ms)
{
    int64_t d = probe_now_us() + (int64_t)ms * 1000;
    return d < x->end_us ? d : x->end_us;
}

static long since_ms(int64_t t0)
{
    return (long)((probe_now_us() - t0) / 1000);
}

static size_t request_head(char *buf, size_t len, const probe_ctx_t *x, int minor,
                           const char *expect, long length, int last)
{
    int n = snprintf(buf, len,
                     "%s %s HTTP/1.%d\r\nHost: %s\r\nUser-Agent: expectctl-probe/%s\r\n"
                     "Accept: */*\r\n%s%s%sContent-Length: %ld\r\n%s\r\n",
                     x->o->method, x->url.target, minor, x->url.authority, EXPECT_VERSION,
                     expect ? "Expect: " : "", expect ? expect : "", expect ? "\r\n" : "",
                     length, last ? "Connection: close\r\n" : "");
    return n < 0 ? 0 : ((size_t)n < len ? (size_t)n : len - 1);
}

static probe_conn_t *open_conn(probe_ctx_t *x)
{
    probe_conn_t *c;
    int fd, verified;

    if (x->first_fd >= 0) {
        fd = x->first_fd;
        x->first_fd = -1;
    }
    else {
        /* Within the probe's total bound, like every other wait. */
        long ms = (long)((deadline(x, x->o->timeout_ms) - probe_now_us()) / 1000);
        if (probe_connect_addr(&x->addr, ms > 0 ? ms : 1, &fd, x->err, sizeof(x->err)) != 0) {
            return NULL;
        }
    }
    c = probe_conn_open(fd, x->tls, &x->url, deadline(x, x->o->timeout_ms),
                        x->err, sizeof(x->err));
    if (c != NULL && x->tls != NULL && x->tls_info[0] == '\0') {
        snprintf(x->tls_info, sizeof(x->tls_info), "%s", probe_conn_tls_info(c, &verified));
        x->tls_verified = verified;
    }
    return c;
}

/*
 * Read heads until a final one, counting interim responses into im (at
 * most PROBE_INTERIM_MAX per request).  With stop_at_100 (the wait before
 * the body) a 100 ends the read too.
 */
static probe_io_t read_until_final(probe_ctx_t *x, probe_conn_t *c, probe_check_t *r,
                                   probe_interim_t *im, int64_t dl, int after_body,
                                   int stop_at_100, probe_head_t *h, int *got_100)
{
    probe_io_t io = probe_read_final(probe_conn_reader(c), x->head_request, after_body,
                                     stop_at_100, im, h, dl, r->detail, sizeof(r->detail));

    if (io == PROBE_IO_OK && h->status < 200) {
        *got_100 = 1;
    }
    return io;
}

/* The counts of the request's interim responses into its result. */
static void take_interim(probe_check_t *r, const probe_interim_t *im, int64_t t0)
{
    r->n100 = (int)im->n100;
    r->n100_late = (int)im->n100_late;
    r->n1xx_other = (int)im->n_other;
    r->first_interim_ms = im->first_us < 0 ? -1 : (long)((im->first_us - t0) / 1000);
}

static void take_final(probe_check_t *r, const probe_head_t *h, int64_t t0)
{
    r->outcome = PROBE_OUT_RESPONSE;
    r->status = h->status;
    r->minor = h->minor;
    r->final_ms = since_ms(t0);
    memcpy(r->reason, h->reason, sizeof(r->reason));
    memcpy(r->server, h->server, sizeof(r->server));
    memcpy(r->via, h->via, sizeof(r->via));
}

/*
 * A second request on the connection the response kept.  After a final
 * status that came before the body, probe first sends the body it
 * declared, as RFC 9112 lets a client do: a server that kept the
 * connection must then read and discard it.  One that parses it as a
 * request instead answers something else than the baseline's second
 * request got (400 for the filler): a desync.
 */
static void try_reuse(probe_ctx_t *x, probe_conn_t *c, probe_check_t *r, probe_check_id_t id)
{
    char req[PROBE_TARGET_MAX + 512], why[160];
    int early = r->before == PROBE_BEFORE_FINAL;
    int64_t dl = deadline(x, x->o->timeout_ms);
    size_t n = request_head(req, sizeof(req), x, 1, NULL, 0, 1);
    probe_head_t h;
    probe_interim_t im;
    probe_io_t io = PROBE_IO_OK;

    why[0] = '\0';
    probe_interim_init(&im);
    if (early) {
        io = probe_send_body(c, (uint64_t)x->o->size, dl);
    }
    if (io == PROBE_IO_OK) {
        io = probe_send(c, req, n, dl);
    }
    if (io == PROBE_IO_OK) {
        io = probe_read_final(probe_conn_reader(c), x->head_request, 1, 0, &im, &h, dl,
                              why, sizeof(why));
    }
    switch (io) {
    case PROBE_IO_OK:
        r->reuse_status = h.status;
        if (early && (x->followup_status != 0 ? h.status != x->followup_status
                                              : h.status == 400)) {
            r->reuse = PROBE_REUSE_DESYNC;
            snprintf(r->detail, sizeof(r->detail),
                     "after the body and a second request on the kept connection: %d "
                     "(the body was parsed as a request)", h.status);
        }
        else {
            r->reuse = PROBE_REUSE_OK;
        }
        if (id == PROBE_CHECK_BASELINE) {
            x->followup_status = h.status;
        }
        break;
    case PROBE_IO_TIMEOUT:
        r->reuse = PROBE_REUSE_STALLED;
        break;
    case PROBE_IO_ERROR:
        if (probe_interim_full(&im)) {
            /* Interim responses without end: no answer, as good as silence. */
            r->reuse = PROBE_REUSE_STALLED;
            break;
        }
        /* Bytes after a complete response that are not a response: the
         * server's framing and ours disagree. */
        r->reuse = PROBE_REUSE_DESYNC;
        snprintf(r->detail, sizeof(r->detail), "second request on the kept connection: %s", why);
        break;
    case PROBE_IO_EOF:
    default:
        r->reuse = PROBE_REUSE_CLOSED;
        break;
    }
}

/* 0, or -1 when no connection could be made (x->err says why). */
static int run_check(probe_ctx_t *x, probe_check_id_t id)
{
    const check_spec_t *s = &specs[id];
    probe_check_t *r = &x->res.check[id];
    long tmo = x->o->timeout_ms;
    char head[PROBE_TARGET_MAX + 512];
    size_t hl;
    probe_conn_t *c;
    probe_head_t h;
    probe_interim_t im;
    probe_io_t io;
    int64_t t0;
    int got_100 = 0;

    r->first_interim_ms = -1;
    r->final_ms = -1;
    probe_interim_init(&im);
    c = open_conn(x);
    if (c == NULL) {
        return -1;
    }
    hl = request_head(head, sizeof(head), x, s->minor, s->expect, x->o->size, 0);
    t0 = probe_now_us();
    io = probe_send(c, head, hl, deadline(x, tmo));
    if (io == PROBE_IO_TIMEOUT) {
        r->outcome = PROBE_OUT_TIMEOUT;
        snprintf(r->detail, sizeof(r->detail), "the server did not take the request head");
        goto done;
    }
    if (s->wait == 0) {
        r->before = PROBE_BEFORE_NA;
        if (io == PROBE_IO_OK) {
            io = probe_send_body(c, (uint64_t)x->o->size, deadline(x, tmo));
            r->body_sent = io == PROBE_IO_OK;
        }
        /* A server that closed while we sent may still have answered. */
    }
    else {
        long wait = s->wait == 1 ? x->res.wait_100_ms : x->wait_other_ms;
        io = read_until_final(x, c, r, &im, deadline(x, wait), 0, 1, &h, &got_100);
        switch (io) {
        case PROBE_IO_TIMEOUT:
            r->before = PROBE_BEFORE_NOTHING;
            break;
        case PROBE_IO_ERROR:
            r->outcome = PROBE_OUT_GARBLED;
            goto done;
        case PROBE_IO_EOF:
            r->before = PROBE_BEFORE_CLOSED;
            r->outcome = PROBE_OUT_CLOSED;
            if (r->detail[0] == '\0') {
                snprintf(r->detail, sizeof(r->detail), "closed before any response");
            }
            goto done;
        case PROBE_IO_OK:
        default:
            if (!got_100) {
                r->before = PROBE_BEFORE_FINAL;
                goto final;
            }
            r->before = PROBE_BEFORE_100;
            break;
        }
        io = probe_send_body(c, (uint64_t)x->o->size, deadline(x, tmo));
        r->body_sent = io == PROBE_IO_OK;
    }
    if (io == PROBE_IO_TIMEOUT) {
        r->outcome = PROBE_OUT_TIMEOUT;
        snprintf(r->detail, sizeof(r->detail), "the server stopped reading the body");
        goto done;
    }

    io = read_until_final(x, c, r, &im, deadline(x, tmo), 1, 0, &h, &got_100);
    switch (io) {
    case PROBE_IO_TIMEOUT:
        r->outcome = PROBE_OUT_TIMEOUT;
        snprintf(r->detail, sizeof(r->detail), "no final response within %.1f s",
                 (double)tmo / 1000.0);
        goto done;
    case PROBE_IO_ERROR:
        r->outcome = PROBE_OUT_GARBLED;
        goto done;
    case PROBE_IO_EOF:
        r->outcome = PROBE_OUT_CLOSED;
        if (r->detail[0] == '\0') {
            snprintf(r->detail, sizeof(r->detail), "closed without a final response");
        }
        goto done;
    case PROBE_IO_OK:
    default:
        break;
    }
final:
    take_final(r, &h, t0);
    r->body_complete = probe_read_body(probe_conn_reader(c), &h, deadline(x, tmo))
                       == PROBE_IO_OK;
    r->keep_alive = r->body_complete && probe_head_keeps_alive(&h);
    if (r->keep_alive) {
        try_reuse(x, c, r, id);
    }
done:
    take_interim(r, &im, t0);
    probe_conn_close(c);
    return 0;
}

/* ---- text ---- */

static void append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;

    if (used + 1 >= len) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

static const char *reuse_name(probe_reuse_t r)
{
    switch (r) {
    case PROBE_REUSE_OK:      return "reused";
    case PROBE_REUSE_CLOSED:  return "closed";
    case PROBE_REUSE_STALLED: return "stalled";
    case PROBE_REUSE_DESYNC:  return "desync";
    case PROBE_REUSE_NOT_TRIED:
    default:                  return "not-tried";
    }
}

static const char *outcome_name(probe_outcome_t o)
{
    switch (o) {
    case PROBE_OUT_RESPONSE: return "response";
    case PROBE_OUT_CLOSED:   return "closed";
    case PROBE_OUT_TIMEOUT:  return "timeout";
    case PROBE_OUT_GARBLED:  return "garbled";
    case PROBE_OUT_SKIPPED:
    default:                 return "skipped";
    }
}

static const char *before_name(probe_before_t b)
{
    switch (b) {
    case PROBE_BEFORE_100:     return "100";
    case PROBE_BEFORE_FINAL:   return "final";
    case PROBE_BEFORE_NOTHING: return "nothing";
    case PROBE_BEFORE_CLOSED:  return "closed";
    case PROBE_BEFORE_NA:
    default:                   return "sent-with-head";
    }
}

static void describe(const probe_ctx_t *x, probe_check_id_t id, char *buf, size_t len)
{
    const probe_check_t *r = &x->res.check[id];
    long wait = specs[id].wait == 1 ? x->res.wait_100_ms : x->wait_other_ms;
    char reason[4 * PROBE_FIELD_MAX + 1];

    buf[0] = '\0';
    if (r->outcome == PROBE_OUT_SKIPPED) {
        append(buf, len, "skipped: an earlier check timed out");
        return;
    }
    switch (r->before) {
    case PROBE_BEFORE_100:
        append(buf, len, "100 in %ld ms, body sent, ", r->first_interim_ms);
        break;
    case PROBE_BEFORE_NOTHING:
        append(buf, len, "nothing in %ld ms, body sent, ", wait);
        break;
    case PROBE_BEFORE_FINAL:
        append(buf, len, "at once, before the body: ");
        break;
    default:
        break;
    }
    if (r->n100 > 1) {
        append(buf, len, "%d x 100 Continue, ", r->n100);
    }
    else if (r->n100_late > 0 && r->before != PROBE_BEFORE_100) {
        append(buf, len, "a late 100 after the body, ");
    }
    if (r->n1xx_other > 0) {
        append(buf, len, "%d other 1xx, ", r->n1xx_other);
    }
    switch (r->outcome) {
    case PROBE_OUT_RESPONSE:
        expect_escape_text(reason, sizeof(reason), r->reason);
        append(buf, len, "%d%s%s in %ld ms; ", r->status, reason[0] ? " " : "", reason,
               r->final_ms);
        switch (r->reuse) {
        case PROBE_REUSE_OK:
            append(buf, len, "connection reused");
            break;
        case PROBE_REUSE_CLOSED:
            append(buf, len, "closed without saying so");
            break;
        case PROBE_REUSE_STALLED:
            append(buf, len, "the next request on it got no answer");
            break;
        case PROBE_REUSE_DESYNC:
            append(buf, len, "DESYNC on the next request (%d)", r->reuse_status);
            break;
        case PROBE_REUSE_NOT_TRIED:
        default:
            append(buf, len, r->body_complete ? "connection closed" : "body incomplete, closed");
            break;
        }
        break;
    case PROBE_OUT_CLOSED:
        append(buf, len, "CLOSED without a response");
        break;
    case PROBE_OUT_TIMEOUT:
        append(buf, len, "NO RESPONSE within %.1f s", (double)x->o->timeout_ms / 1000.0);
        break;
    case PROBE_OUT_GARBLED:
    default:
        append(buf, len, "GARBLED");
        break;
    }
    if (r->detail[0] != '\0' && r->outcome != PROBE_OUT_RESPONSE) {
        append(buf, len, " (%s)", r->detail);
    }
}

/* The fixes of a side that has one; "nothing to change" twice is noise. */
static void print_fixes(const probe_diag_t *d)
{
    if (strcmp(d->client_fix, PROBE_NOTHING) != 0) {
        printf("    client: %s\n", d->client_fix);
    }
    if (strcmp(d->server_fix, PROBE_NOTHING) != 0) {
        printf("    server: %s\n", d->server_fix);
    }
}

static void print_text(const probe_ctx_t *x, const probe_finding_t *f, size_t nf)
{
    const probe_diag_t *v = probe_diag(f[0].id);
    char line[1024], esc[4 * PROBE_FIELD_MAX + 1];
    const char *server = "", *via = "";
    size_t i;
    int k;

    printf("probe %s\n", x->o->url);
    printf("  %s port %u (%s%s); %s with %ld bytes; timeout %.1f s; waits %.1f s for a 100\n",
           x->addr.numeric, x->url.port, x->addr.family == AF_INET6 ? "IPv6" : "IPv4",
           x->o->connect ? ", --connect" : "",
           x->o->method, x->o->size, (double)x->o->timeout_ms / 1000.0,
           (double)x->res.wait_100_ms / 1000.0);
    if (x->tls != NULL) {
        printf("  TLS: %s, certificate %s\n", x->tls_info[0] ? x->tls_info : "-",
               x->tls_verified ? "verified" : "NOT verified (--insecure)");
    }
    printf("\n");
    for (k = 0; k < PROBE_CHECK_COUNT; k++) {
        const probe_check_t *r = &x->res.check[k];
        describe(x, (probe_check_id_t)k, line, sizeof(line));
        printf("  %-20s %-24s %s\n", probe_check_name((probe_check_id_t)k), specs[k].label, line);
        if (server[0] == '\0' && r->server[0] != '\0') {
            server = r->server;
        }
        if (via[0] == '\0' && r->via[0] != '\0') {
            via = r->via;
        }
    }
    if (server[0] != '\0') {
        expect_escape_text(esc, sizeof(esc), server);
        printf("  Server: %s\n", esc);
    }
    if (via[0] != '\0') {
        expect_escape_text(esc, sizeof(esc), via);
        printf("  Via: %s\n", esc);
    }
    printf("\nverdict: %s (exit %d)\n  %s\n", v->key, v->exit_code, v->summary);
    if (v->severity == PROBE_SEV_PROBLEM) {
        print_fixes(v);
    }
    if (nf > 1) {
        printf("also:\n");
    }
    for (i = 1; i < nf; i++) {
        const probe_diag_t *d = probe_diag(f[i].id);
        printf("  %s %s (%s): %s\n", probe_severity_name(d->severity), d->key,
               probe_check_name(f[i].check), d->summary);
        if (d->severity != PROBE_SEV_OK) {
            print_fixes(d);
        }
    }
}

/* ---- JSON ---- */

static void json_str_or_null(const char *s)
{
    if (s == NULL || *s == '\0') {
        printf("null");
    }
    else {
        expect_fput_json_string(stdout, s);
    }
}

static void json_ms(long ms)
{
    if (ms < 0) {
        printf("null");
    }
    else {
        printf("%ld", ms);
    }
}

static void json_finding(const probe_finding_t *f)
{
    const probe_diag_t *d = probe_diag(f->id);

    printf("{\"key\": \"%s\", \"severity\": \"%s\", \"exit_code\": %d, \"check\": \"%s\",\n"
           "    \"summary\": ", d->key, probe_severity_name(d->severity), d->exit_code,
           probe_check_name(f->check));
    expect_fput_json_string(stdout, d->summary);
    printf(",\n    \"client_fix\": ");
    expect_fput_json_string(stdout, d->client_fix);
    printf(",\n    \"server_fix\": ");
    expect_fput_json_string(stdout, d->server_fix);
    printf("}");
}

static void print_json(const probe_ctx_t *x, const probe_finding_t *f, size_t nf)
{
    size_t i;
    int k;

    printf("{\"format\": \"mod_expect.probe\", \"version\": 1,\n \"url\": ");
    expect_fput_json_string(stdout, x->o->url);
    printf(", \"scheme\": \"%s\", \"host\": ", x->url.tls ? "https" : "http");
    expect_fput_json_string(stdout, x->url.host);
    printf(", \"port\": %u,\n \"address\": ", x->url.port);
    expect_fput_json_string(stdout, x->addr.numeric);
    printf(", \"family\": \"%s\", \"connect\": ", x->addr.family == AF_INET6 ? "ipv6" : "ipv4");
    json_str_or_null(x->o->connect);
    printf(", \"tls\": ");
    if (x->tls == NULL) {
        printf("null");
    }
    else {
        char ver[48] = "", cipher[64] = "";
        sscanf(x->tls_info, "%47s %63s", ver, cipher);
        printf("{\"version\": ");
        json_str_or_null(ver);
        printf(", \"cipher\": ");
        json_str_or_null(cipher);
        printf(", \"verified\": %s}", x->tls_verified ? "true" : "false");
    }
    printf(",\n \"method\": ");
    expect_fput_json_string(stdout, x->o->method);
    printf(", \"size\": %ld, \"timeout_ms\": %ld, \"wait_100_ms\": %ld, \"wait_other_ms\": %ld,\n"
           " \"checks\": [", x->o->size, x->o->timeout_ms, x->res.wait_100_ms, x->wait_other_ms);
    for (k = 0; k < PROBE_CHECK_COUNT; k++) {
        const probe_check_t *r = &x->res.check[k];
        int ran = r->outcome != PROBE_OUT_SKIPPED;
        printf("%s\n  {\"name\": \"%s\", \"protocol\": \"HTTP/1.%d\", \"expect\": ",
               k ? "," : "", probe_check_name((probe_check_id_t)k), specs[k].minor);
        json_str_or_null(specs[k].expect);
        printf(", \"outcome\": \"%s\",\n   \"before_body\": ", outcome_name(r->outcome));
        if (ran) {
            printf("\"%s\"", before_name(r->before));
        }
        else {
            printf("null");
        }
        printf(", \"body_sent\": %s, \"interim_100\": %d, \"interim_100_after_body\": %d,"
               " \"interim_other\": %d,\n   \"first_interim_ms\": ",
               r->body_sent ? "true" : "false", r->n100, r->n100_late, r->n1xx_other);
        json_ms(ran ? r->first_interim_ms : -1);
        printf(", \"final_ms\": ");
        json_ms(ran ? r->final_ms : -1);
        printf(", \"status\": ");
        if (r->status) {
            printf("%d", r->status);
        }
        else {
            printf("null");
        }
        printf(", \"reason\": ");
        if (r->status) {
            expect_fput_json_string(stdout, r->reason);
        }
        else {
            printf("null");
        }
        printf(",\n   \"server\": ");
        json_str_or_null(r->server);
        printf(", \"via\": ");
        json_str_or_null(r->via);
        printf(", \"keep_alive\": %s, \"body_complete\": %s, \"reuse\": \"%s\", \"reuse_status\": ",
               r->keep_alive ? "true" : "false", r->body_complete ? "true" : "false",
               reuse_name(r->reuse));
        if (r->reuse_status) {
            printf("%d", r->reuse_status);
        }
        else {
            printf("null");
        }
        printf(",\n   \"detail\": ");
        json_str_or_null(r->detail);
        printf("}");
    }
    printf("\n ],\n \"verdict\": ");
    json_finding(&f[0]);
    printf(",\n \"findings\": [");
    for (i = 0; i < nf; i++) {
        printf("%s\n  ", i ? "," : "");
        json_finding(&f[i]);
    }
    printf("\n ],\n \"exit_code\": %d, \"elapsed_ms\": %ld}\n", probe_diag(f[0].id)->exit_code,
           since_ms(x->start_us));
}

/* ---- the probe ---- */

int ctl_probe(const ctl_opts_t *o)
{
    probe_ctx_t *x = calloc(1, sizeof(*x));
    probe_finding_t f[PROBE_FINDINGS_MAX];
    size_t nf;
    int fd, k, skip = 0, rc = CTL_EXIT_FAIL;
    char why[256];

    if (x == NULL) {
        fprintf(stderr, "expectctl: probe: out of memory\n");
        return CTL_EXIT_FAIL;
    }
    x->o = o;
    x->first_fd = -1;
    if (probe_parse_url(o->url, &x->url, why, sizeof(why)) != 0) {
        fprintf(stderr, "expectctl: probe: bad URL: %s: %s\n", why, o->url ? o->url : "");
        free(x);
        return CTL_EXIT_USAGE;
    }
    /* Plain sockets write with MSG_NOSIGNAL; OpenSSL's writes do not. */
    signal(SIGPIPE, SIG_IGN);
    x->head_request = strcasecmp(o->method, "HEAD") == 0;
    x->res.timeout_ms = o->timeout_ms;
    x->res.wait_100_ms = o->timeout_ms / 2;
    x->wait_other_ms = x->res.wait_100_ms;
    x->start_us = probe_now_us();
    x->end_us = x->start_us + (int64_t)TOTAL_TIMEOUTS * o->timeout_ms * 1000;

    if (x->url.tls && (x->tls = probe_tls_new(o->insecure, x->err, sizeof(x->err))) == NULL) {
        fprintf(stderr, "expectctl: probe: %s\n", x->err);
        goto out;
    }
    /* --connect: another address for the same URL (a hop behind a load
     * balancer); Host, SNI and the certificate name stay the URL's. */
    if (o->connect != NULL) {
        size_t cl = strlen(o->connect);
        if (cl > 2 && o->connect[0] == '[' && o->connect[cl - 1] == ']') {
            snprintf(x->connect_host, sizeof(x->connect_host), "%.*s", (int)(cl - 2),
                     o->connect + 1);
        }
        else {
            snprintf(x->connect_host, sizeof(x->connect_host), "%s", o->connect);
        }
    }
    else {
        snprintf(x->connect_host, sizeof(x->connect_host), "%s", x->url.host);
    }
    if (probe_connect_first(&x->url, x->connect_host, o->timeout_ms, &x->addr, &fd,
                            x->err, sizeof(x->err)) != 0) {
        fprintf(stderr, "expectctl: probe: %s\n", x->err);
        goto out;
    }
    x->first_fd = fd;

    for (k = 0; k < PROBE_CHECK_COUNT; k++) {
        probe_check_t *r = &x->res.check[k];
        if (skip || probe_now_us() >= x->end_us) {
            continue;  /* stays PROBE_OUT_SKIPPED */
        }
        if (run_check(x, (probe_check_id_t)k) != 0) {
            fprintf(stderr, "expectctl: probe: %s\n", x->err);
            goto out;
        }
        skip = r->outcome == PROBE_OUT_TIMEOUT;
        if (k == PROBE_CHECK_BASELINE && r->outcome == PROBE_OUT_RESPONSE) {
            long w = r->final_ms * WAIT_OTHER_FACTOR;
            x->wait_other_ms = w < WAIT_OTHER_MIN_MS ? WAIT_OTHER_MIN_MS : w;
            if (x->wait_other_ms > x->res.wait_100_ms) {
                x->wait_other_ms = x->res.wait_100_ms;
            }
        }
    }

    nf = probe_diagnose(&x->res, f, PROBE_FINDINGS_MAX);
    if (o->format == CTL_FMT_JSON) {
        print_json(x, f, nf);
    }
    else {
        print_text(x, f, nf);
    }
    rc = probe_diag(f[0].id)->exit_code;
out:
    if (x->first_fd >= 0) {
        close(x->first_fd);
    }
    probe_tls_free(x->tls);
    free(x);
    return rc;
}
