/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_probe.c - libFuzzer harness for `expectctl probe`'s response side:
 * the parsers (probe_parse.c: URL, response heads, chunked bodies) and the
 * read loops (probe_read.c: heads, interim responses, bodies), the loops
 * fed by a fake transport that plays a server, with a fake clock.
 *
 * Input: byte 0 is flags (bit 0: HEAD request; bit 1: the clock never
 * moves; bit 2: the server repeats its bytes for ever; bit 3: the first
 * read stops at a 100, as the 100-continue wait does; bits 4-5: what the
 * transport says once its bytes run out: EOF, TIMEOUT, ERROR, EOF);
 * byte 1: at most 1 + byte bytes per receive; byte 2: the clock moves
 * 1 + byte % 64 ms per receive; byte 3: each read's deadline is
 * 50 + 4 x byte ms away.  The rest is what the server sends.
 *
 * A check is played as probe/probe_h1.c plays it: the read up to a final
 * status (or a 100), after a 100 the read after the body, the body, and,
 * when the response keeps the connection, the response to a second
 * request.  Invariants, besides ASan/UBSan:
 *
 *   - every read ends within a bounded number of receives: with a moving
 *     clock, ceil(deadline / step), since the deadline is checked before
 *     each one; with a clock that never moves, a read up to a final status
 *     still receives at most PROBE_READ_FINAL_MAX bytes (the interim limit
 *     and the head limit); the fake transport aborts past the bound, so a
 *     loop that does not end is a crash here, not a timeout;
 *   - interim counts stay within PROBE_INTERIM_MAX, late 100s within the
 *     100s, and a read that stops at a 100 returns a 100;
 *   - a final status is 200..599 and its framing is consistent;
 *   - the reader's offsets stay inside its buffer, receives write only
 *     into its free room, errors are NUL-terminated printable text;
 *   - with a clock that never moves and a server that stops, the outcome
 *     does not depend on how the bytes are split into receives (the same
 *     run with one byte per receive gives the same results);
 *   - the chunked decoder gives the same result fed at once or byte by
 *     byte; the URL parser's and the hop parser's output is within its
 *     bounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "probe/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 4
#define T0_US 1000000000LL     /* the fake clock's start */

typedef struct {
    const uint8_t *data;
    size_t len, pos, chunk;
    int cycle;
    probe_io_t at_end;
    int64_t now, step;
    const probe_reader_t *rd;
    uint64_t calls;             /* receives in the current read */
    uint64_t max_calls;         /* the bound of the current read */
    uint64_t bytes;             /* bytes in the current read */
    uint64_t max_bytes;         /* 0: no byte bound */
    uint64_t total_calls;
} fake_t;

static probe_io_t fz_recv(void *ctx, char *dst, size_t len, size_t *got, int64_t deadline_us)
{
    fake_t *f = ctx;
    const char *room_start = f->rd->buf + f->rd->len;
    size_t n = 0;

    /* Only into the reader's free room, and only before the deadline. */
    FZ_ASSERT(len > 0);
    FZ_ASSERT(dst == room_start);
    FZ_ASSERT(len == sizeof(f->rd->buf) - f->rd->len);
    FZ_ASSERT(f->now < deadline_us);
    f->calls++;
    f->total_calls++;
    if (f->calls > f->max_calls) {
        fz_fail("INVARIANT: a read made %llu receives, more than its bound %llu",
                (unsigned long long)f->calls, (unsigned long long)f->max_calls);
    }
    f->now += f->step;
    if (f->pos == f->len && f->cycle) {
        f->pos = 0;
    }
    if (f->pos == f->len) {
        return f->at_end;
    }
    while (n < len && n < f->chunk && f->pos < f->len) {
        dst[n++] = (char)f->data[f->pos++];
        if (f->pos == f->len && f->cycle) {
            f->pos = 0;
        }
    }
    *got = n;
    f->bytes += n;
    if (f->max_bytes != 0 && f->bytes > f->max_bytes) {
        fz_fail("INVARIANT: a read took %llu bytes, more than its bound %llu",
                (unsigned long long)f->bytes, (unsigned long long)f->max_bytes);
    }
    return PROBE_IO_OK;
}

static int64_t fz_now(void *ctx)
{
    return ((const fake_t *)ctx)->now;
}

/* What one played check gave, to compare two runs. */
typedef struct {
    probe_io_t io[4];
    int status[4];
    unsigned n100, n100_late, n_other, reuse_n;
    int64_t first_us;
    char err[4][160];
} outcome_t;

static void check_reader(const probe_reader_t *rd)
{
    FZ_ASSERT(rd->off <= rd->len);
    FZ_ASSERT(rd->len <= sizeof(rd->buf));
    FZ_ASSERT(rd->scan <= rd->len - rd->off);
    FZ_ASSERT(rd->scan <= PROBE_HEAD_MAX);
}

static void check_err(const char *err, size_t cap)
{
    size_t n = strnlen(err, cap);

    FZ_ASSERT(n < cap);
    FZ_ASSERT(fz_text_clean(err, n, 0));
}

static void check_interim(const probe_interim_t *im)
{
    FZ_ASSERT(im->n100 <= PROBE_INTERIM_MAX);
    FZ_ASSERT(im->n_other <= PROBE_INTERIM_MAX);
    FZ_ASSERT(im->n100 + im->n_other <= PROBE_INTERIM_MAX);
    FZ_ASSERT(im->n100_late <= im->n100);
    FZ_ASSERT((im->first_us >= 0) == (im->n100 + im->n_other > 0));
}

static void check_final(const probe_head_t *h, int head_request)
{
    FZ_ASSERT(h->status >= 200 && h->status <= 599);
    FZ_ASSERT(h->minor >= 0 && h->minor <= 9);
    FZ_ASSERT(strnlen(h->reason, sizeof(h->reason)) < sizeof(h->reason));
    FZ_ASSERT(strnlen(h->server, sizeof(h->server)) < sizeof(h->server));
    FZ_ASSERT(strnlen(h->via, sizeof(h->via)) < sizeof(h->via));
    if (head_request || h->status == 204 || h->status == 304) {
        FZ_ASSERT(h->body == PROBE_BODY_NONE);
    }
    if (h->body == PROBE_BODY_LENGTH) {
        FZ_ASSERT(h->length > 0);
    }
    if (h->body == PROBE_BODY_UNTIL_CLOSE) {
        FZ_ASSERT(!probe_head_keeps_alive(h));
    }
}

/* Bound the next read: its receives by the clock, its bytes if it is one
 * up to a final status.  With a clock that never moves, the calls are
 * bounded by the bytes (each receive brings at least one). */
static void arm(fake_t *f, int64_t deadline, int final_read)
{
    f->calls = 0;
    f->bytes = 0;
    f->max_bytes = final_read ? PROBE_READ_FINAL_MAX : 0;
    if (f->step > 0) {
        f->max_calls = (uint64_t)((deadline - f->now + f->step - 1) / f->step);
    }
    else {
        FZ_ASSERT(final_read || !f->cycle);
        f->max_calls = (final_read ? PROBE_READ_FINAL_MAX : f->len) + 1;
    }
}

static void after_read(const fake_t *f, const probe_reader_t *rd, probe_io_t io, int64_t deadline)
{
    check_reader(rd);
    if (io == PROBE_IO_TIMEOUT) {
        /* The deadline passed, or the server went quiet (its TIMEOUT). */
        FZ_ASSERT(f->now >= deadline || f->at_end == PROBE_IO_TIMEOUT);
    }
}

static void play(const uint8_t *stream, size_t slen, uint8_t flags, size_t chunk,
                 int64_t step, int64_t window, outcome_t *out)
{
    const int head_request = flags & 1, stop_at_100 = (flags >> 3) & 1;
    static const probe_io_t ends[4] = {PROBE_IO_EOF, PROBE_IO_TIMEOUT, PROBE_IO_ERROR,
                                       PROBE_IO_EOF};
    probe_reader_t *rd = malloc(sizeof(*rd));  /* the buffer ends at a redzone */
    probe_transport_t t;
    probe_interim_t im, im2;
    probe_head_t h;
    probe_io_t io;
    int64_t dl;
    fake_t f;

    FZ_ASSERT(rd != NULL);
    memset(out, 0, sizeof(*out));
    memset(&f, 0, sizeof(f));
    f.data = stream;
    f.len = slen;
    f.chunk = chunk;
    f.cycle = ((flags >> 2) & 1) && slen > 0;
    f.at_end = ends[(flags >> 4) & 3];
    f.now = T0_US;
    f.step = step;
    f.rd = rd;
    t.recv = fz_recv;
    t.now = fz_now;
    t.ctx = &f;
    probe_reader_init(rd, &t);
    probe_interim_init(&im);
    FZ_ASSERT(probe_reader_now(rd) == T0_US);

    /* The response to the request: up to a final status, or a 100. */
    memset(out->err, 0x55, sizeof(out->err));
    dl = f.now + window;
    arm(&f, dl, 1);
    io = out->io[0] = probe_read_final(rd, head_request, 0, stop_at_100, &im, &h, dl,
                                       out->err[0], sizeof(out->err[0]));
    after_read(&f, rd, io, dl);
    check_interim(&im);
    if (io == PROBE_IO_ERROR) {
        check_err(out->err[0], sizeof(out->err[0]));
    }
    if (io == PROBE_IO_OK && h.status < 200) {
        FZ_ASSERT(stop_at_100 && h.status == 100 && im.n100 >= 1);
        out->status[0] = h.status;
        /* After a 100 the body goes out, then the final status comes. */
        dl = f.now + window;
        arm(&f, dl, 1);
        io = out->io[1] = probe_read_final(rd, head_request, 1, 0, &im, &h, dl,
                                           out->err[1], sizeof(out->err[1]));
        after_read(&f, rd, io, dl);
        check_interim(&im);
        if (io == PROBE_IO_ERROR) {
            check_err(out->err[1], sizeof(out->err[1]));
        }
    }
    if (io == PROBE_IO_ERROR && probe_interim_full(&im)) {
        FZ_ASSERT(strstr(out->err[0], "interim") != NULL
                  || strstr(out->err[1], "interim") != NULL);
    }
    out->n100 = im.n100;
    out->n100_late = im.n100_late;
    out->n_other = im.n_other;
    out->first_us = im.first_us < 0 ? -1 : im.first_us - T0_US;
    if (io != PROBE_IO_OK) {
        free(rd);
        return;
    }
    check_final(&h, head_request);
    out->status[1] = h.status;

    /* Its body.  A server that never stops, with a clock that never
     * moves, would be read for ever: only a deadline ends a body. */
    if (f.step == 0 && f.cycle) {
        f.step = 1000;
    }
    dl = f.now + window;
    arm(&f, dl, 0);
    io = out->io[2] = probe_read_body(rd, &h, dl);
    after_read(&f, rd, io, dl);
    if (io != PROBE_IO_OK || !probe_head_keeps_alive(&h)) {
        free(rd);
        return;
    }

    /* A second request on the kept connection: its own interim counts. */
    probe_interim_init(&im2);
    dl = f.now + window;
    arm(&f, dl, 1);
    io = out->io[3] = probe_read_final(rd, head_request, 1, 0, &im2, &h, dl,
                                       out->err[3], sizeof(out->err[3]));
    after_read(&f, rd, io, dl);
    check_interim(&im2);
    out->reuse_n = im2.n100 + im2.n_other;
    if (io == PROBE_IO_OK) {
        check_final(&h, head_request);
        out->status[3] = h.status;
    }
    else if (io == PROBE_IO_ERROR) {
        check_err(out->err[3], sizeof(out->err[3]));
    }
    free(rd);
}

static int same(const outcome_t *a, const outcome_t *b)
{
    int i;

    for (i = 0; i < 4; i++) {
        if (a->io[i] != b->io[i] || a->status[i] != b->status[i]) {
            return 0;
        }
        /* Heads say why they failed; bodies (i == 2) do not. */
        if (i != 2 && a->io[i] == PROBE_IO_ERROR && strcmp(a->err[i], b->err[i]) != 0) {
            return 0;
        }
    }
    return a->n100 == b->n100 && a->n100_late == b->n100_late && a->n_other == b->n_other
           && a->reuse_n == b->reuse_n;
}

/* The chunked decoder, all at once and a byte at a time. */
static void check_chunked(const uint8_t *s, size_t n)
{
    probe_chunked_t a, b;
    size_t used_a = 0, used_b = 0, i, u;
    int ra, rb = PROBE_CHUNKED_MORE;

    probe_chunked_init(&a);
    ra = probe_chunked_feed(&a, (const char *)s, n, &used_a);
    FZ_ASSERT(ra == PROBE_CHUNKED_MORE || ra == PROBE_CHUNKED_DONE || ra == PROBE_CHUNKED_ERROR);
    if (ra != PROBE_CHUNKED_ERROR) {
        FZ_ASSERT(used_a <= n);
    }
    if (ra == PROBE_CHUNKED_MORE) {
        FZ_ASSERT(used_a == n);
    }
    probe_chunked_init(&b);
    for (i = 0; i < n && rb == PROBE_CHUNKED_MORE; i++) {
        u = 0;
        rb = probe_chunked_feed(&b, (const char *)s + i, 1, &u);
        if (rb != PROBE_CHUNKED_ERROR) {
            FZ_ASSERT(u == 1);
            used_b += u;
        }
    }
    FZ_ASSERT(ra == rb);
    if (ra == PROBE_CHUNKED_DONE) {
        FZ_ASSERT(used_a == used_b);
    }
}

/* The head at the start of s, parsed on its own. */
static void check_head(const uint8_t *s, size_t n, int head_request)
{
    size_t end = probe_head_end((const char *)s, n);
    probe_head_t h;
    char err[160];

    FZ_ASSERT(end <= n);
    if (end == 0) {
        return;
    }
    FZ_ASSERT(s[end - 1] == '\n');
    memset(err, 0x55, sizeof(err));
    if (probe_parse_head((const char *)s, end, head_request, &h, err, sizeof(err)) == 0) {
        FZ_ASSERT(h.status >= 100 && h.status <= 599);
        if (h.status >= 200) {
            check_final(&h, head_request);
        }
        else {
            FZ_ASSERT(h.body == PROBE_BODY_NONE);
        }
    }
    else {
        check_err(err, sizeof(err));
    }
}

/* The same bytes as a hop of --connect-to / --chain: the host fits, has
 * no brackets, and is what getaddrinfo and the text output may see. */
static void check_hop(const char *hop)
{
    char host[PROBE_HOST_MAX], err[160];
    unsigned port = 0;

    memset(err, 0x55, sizeof(err));
    if (probe_parse_hop(hop, 80, host, sizeof(host), &port, err, sizeof(err)) == 0) {
        FZ_ASSERT(port >= 1 && port <= 65535);
        FZ_ASSERT(host[0] != '\0' && strnlen(host, sizeof(host)) < sizeof(host));
        FZ_ASSERT(strchr(host, '[') == NULL && strchr(host, ']') == NULL);
        FZ_ASSERT(fz_text_clean(host, strlen(host), 0));
    }
    else {
        check_err(err, sizeof(err));
    }
}

static void check_url(const uint8_t *s, size_t n)
{
    char *url = malloc(n + 1);
    probe_url_t u;
    char err[160];

    FZ_ASSERT(url != NULL);
    memcpy(url, s, n);
    url[n] = '\0';
    memset(err, 0x55, sizeof(err));
    if (probe_parse_url(url, &u, err, sizeof(err)) == 0) {
        FZ_ASSERT(u.port >= 1 && u.port <= 65535);
        FZ_ASSERT(u.host[0] != '\0' && strnlen(u.host, sizeof(u.host)) < sizeof(u.host));
        FZ_ASSERT(u.target[0] == '/' && strnlen(u.target, sizeof(u.target)) < sizeof(u.target));
        FZ_ASSERT(strnlen(u.authority, sizeof(u.authority)) < sizeof(u.authority));
        FZ_ASSERT(fz_text_clean(u.target, strlen(u.target), 0));
        FZ_ASSERT(fz_text_clean(u.authority, strlen(u.authority), 0));
    }
    else {
        check_err(err, sizeof(err));
    }
    check_hop(url);
    free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t hdr[HDR] = {0};
    const uint8_t *stream = size > HDR ? data + HDR : data + size;
    size_t slen = size > HDR ? size - HDR : 0;
    uint8_t flags;
    size_t chunk;
    int64_t step, window;
    outcome_t a, b;

    memcpy(hdr, data, size < HDR ? size : HDR);
    flags = hdr[0];
    chunk = 1 + (size_t)hdr[1];
    step = (flags & 2) ? 0 : (int64_t)(1 + hdr[2] % 64) * 1000;
    window = (int64_t)(50 + 4 * (int)hdr[3]) * 1000;

    check_url(stream, strnlen((const char *)stream, slen));
    check_head(stream, slen, flags & 1);
    check_chunked(stream, slen);

    play(stream, slen, flags, chunk, step, window, &a);
    if (step == 0 && !((flags >> 2) & 1)) {
        /* No clock, a server that stops: the split must not matter. */
        play(stream, slen, flags, chunk == 1 ? 4096 : 1, step, window, &b);
        if (!same(&a, &b)) {
            fz_fail("INVARIANT: the outcome depends on the receive size (%zu vs %zu)",
                    chunk, chunk == 1 ? (size_t)4096 : (size_t)1);
        }
    }
    return 0;
}
