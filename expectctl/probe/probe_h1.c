/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_h1.c - the checks of `expectctl probe` over HTTP/1.x: each on a
 * new connection, the request head, the wait for a 100 or a final status,
 * the body, the final status, and a second request on every connection the
 * response kept (probe_run.c says which checks, probe_route.c where to).
 *
 * Every interim response is counted, at most PROBE_INTERIM_MAX per
 * request (probe_read.c); every wait ends by a deadline within the run's
 * total bound (probe_run_deadline).
 */
#include <stdio.h>
#include <string.h>

#include "probe_run.h"

#include "expect_version.h"

static size_t request_head(char *buf, size_t len, const probe_run_t *x, int minor,
                           const char *expect, long length, int last)
{
    int n = snprintf(buf, len,
                     "%s %s HTTP/1.%d\r\nHost: %s\r\nUser-Agent: expectctl-probe/%s\r\n"
                     "Accept: */*\r\n%s%s%sContent-Length: %ld\r\n%s\r\n",
                     x->o->method, x->target, minor, x->url.authority, EXPECT_VERSION,
                     expect ? "Expect: " : "", expect ? expect : "", expect ? "\r\n" : "",
                     length, last ? "Connection: close\r\n" : "");
    return n < 0 ? 0 : ((size_t)n < len ? (size_t)n : len - 1);
}

/*
 * Read heads until a final one, counting interim responses into im (at
 * most PROBE_INTERIM_MAX per request).  With stop_at_100 (the wait before
 * the body) a 100 ends the read too.
 */
static probe_io_t read_until_final(probe_run_t *x, probe_conn_t *c, probe_check_t *r,
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
    r->final_ms = probe_since_ms(t0);
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
static void try_reuse(probe_run_t *x, probe_conn_t *c, probe_check_t *r, probe_check_id_t id)
{
    char req[PROBE_TARGET_MAX + 512], why[160];
    int early = r->before == PROBE_BEFORE_FINAL;
    int64_t dl = probe_run_deadline(x, x->o->timeout_ms);
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

int probe_h1_check(probe_run_t *x, probe_check_id_t id)
{
    const probe_spec_t *s = &probe_specs[id];
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
    c = probe_route_open(x);
    if (c == NULL) {
        return -1;
    }
    hl = request_head(head, sizeof(head), x, s->minor, s->expect, x->o->size, 0);
    t0 = probe_now_us();
    io = probe_send(c, head, hl, probe_run_deadline(x, tmo));
    if (io == PROBE_IO_TIMEOUT) {
        r->outcome = PROBE_OUT_TIMEOUT;
        snprintf(r->detail, sizeof(r->detail), "the server did not take the request head");
        goto done;
    }
    if (s->wait == 0) {
        r->before = PROBE_BEFORE_NA;
        if (io == PROBE_IO_OK) {
            io = probe_send_body(c, (uint64_t)x->o->size, probe_run_deadline(x, tmo));
            r->body_sent = io == PROBE_IO_OK;
        }
        /* A server that closed while we sent may still have answered. */
    }
    else {
        long wait = s->wait == 1 ? x->res.wait_100_ms : x->wait_other_ms;
        io = read_until_final(x, c, r, &im, probe_run_deadline(x, wait), 0, 1, &h, &got_100);
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
        io = probe_send_body(c, (uint64_t)x->o->size, probe_run_deadline(x, tmo));
        r->body_sent = io == PROBE_IO_OK;
    }
    if (io == PROBE_IO_TIMEOUT) {
        r->outcome = PROBE_OUT_TIMEOUT;
        snprintf(r->detail, sizeof(r->detail), "the server stopped reading the body");
        goto done;
    }

    io = read_until_final(x, c, r, &im, probe_run_deadline(x, tmo), 1, 0, &h, &got_100);
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
    r->body_complete = probe_read_body(probe_conn_reader(c), &h, probe_run_deadline(x, tmo))
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
