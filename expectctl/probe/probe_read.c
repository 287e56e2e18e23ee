/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_read.c - the read loops of `expectctl probe`: response heads, the
 * interim responses before a final one, and bodies, read through a
 * probe_transport_t (the socket in probe_net.c, a fake in the tests).
 *
 * Bounds (probe.h has the numbers): every loop that waits for bytes goes
 * through fill(), which compares the transport's clock with the deadline
 * before every recv, so a read ends by its deadline even when the server
 * never stops sending; a head and the empty lines before it are limited in
 * size, and the interim responses to one request in number, so the work
 * between two recv calls is bounded too.  Consumed bytes are skipped by
 * moving an offset; the unread rest moves to the front of the buffer only
 * when the room behind it runs short.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "probe.h"

/* Move the unread bytes to the front when less than this is free behind them. */
#define FILL_MIN_ROOM 4096

int64_t probe_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void probe_reader_init(probe_reader_t *r, const probe_transport_t *t)
{
    r->t = *t;
    r->off = 0;
    r->len = 0;
    r->scan = 0;
}

int64_t probe_reader_now(const probe_reader_t *r)
{
    return r->t.now != NULL ? r->t.now(r->t.ctx) : probe_now_us();
}

static size_t unread(const probe_reader_t *r)
{
    return r->len - r->off;
}

static void consume(probe_reader_t *r, size_t n)
{
    r->scan = 0;
    if (n >= unread(r)) {
        r->off = 0;
        r->len = 0;
        return;
    }
    r->off += n;
}

/*
 * Append what the transport has to the buffer.  The one place every read
 * loop waits for bytes, so the deadline is checked here, before every
 * recv: a server that never stops sending cannot keep a loop going.
 */
static probe_io_t fill(probe_reader_t *r, int64_t deadline_us)
{
    size_t room, got = 0;
    probe_io_t io;

    if (probe_reader_now(r) >= deadline_us) {
        return PROBE_IO_TIMEOUT;
    }
    if (r->off > 0 && sizeof(r->buf) - r->len < FILL_MIN_ROOM) {
        memmove(r->buf, r->buf + r->off, unread(r));
        r->len -= r->off;
        r->off = 0;
    }
    room = sizeof(r->buf) - r->len;
    if (room == 0) {
        return PROBE_IO_ERROR;  /* not reached: heads are smaller, bodies are consumed */
    }
    io = r->t.recv(r->t.ctx, r->buf + r->len, room, &got, deadline_us);
    if (io != PROBE_IO_OK) {
        return io;
    }
    if (got == 0 || got > room) {
        return PROBE_IO_ERROR;  /* a transport that breaks its contract */
    }
    r->len += got;
    return PROBE_IO_OK;
}

/*
 * The end of the head at the front, searched within its first
 * PROBE_HEAD_MAX bytes and only from where the last search stopped (an
 * end needs up to two bytes after its first '\n', so two are searched
 * again); 0 if not there yet.
 */
static size_t head_end(probe_reader_t *r)
{
    size_t n = unread(r), from, end;

    if (n > PROBE_HEAD_MAX) {
        n = PROBE_HEAD_MAX;
    }
    from = r->scan > 2 ? r->scan - 2 : 0;
    if (from >= n) {
        return 0;
    }
    end = probe_head_end(r->buf + r->off + from, n - from);
    r->scan = n;
    return end > 0 ? from + end : 0;
}

probe_io_t probe_read_head(probe_reader_t *r, int head_request, probe_head_t *h,
                           int64_t deadline_us, char *err, size_t errlen)
{
    size_t skipped = 0;

    for (;;) {
        size_t skip = 0, end, n;
        const char *p;
        probe_io_t io;

        /* Stray line ends between responses carry nothing (RFC 9112 2.2),
         * but they count: a server cannot send them forever. */
        if (r->scan == 0) {
            p = r->buf + r->off;
            n = unread(r);
            while (skip < n && (p[skip] == '\r' || p[skip] == '\n')) {
                skip++;
            }
            consume(r, skip);
            skipped += skip;
            if (skipped > PROBE_HEAD_MAX) {
                snprintf(err, errlen, "more than %u bytes of empty lines before a response head",
                         (unsigned)PROBE_HEAD_MAX);
                return PROBE_IO_ERROR;
            }
        }
        p = r->buf + r->off;
        n = unread(r);
        /* Say "garbled" as soon as the bytes cannot be a response. */
        if (n > 0 && strncmp(p, "HTTP/", n < 5 ? n : 5) != 0) {
            snprintf(err, errlen, "response does not start with HTTP/");
            return PROBE_IO_ERROR;
        }
        end = head_end(r);
        if (end > 0) {
            int rc = probe_parse_head(p, end, head_request, h, err, errlen);
            consume(r, end);
            return rc == 0 ? PROBE_IO_OK : PROBE_IO_ERROR;
        }
        if (n >= PROBE_HEAD_MAX) {
            snprintf(err, errlen, "response head larger than %u bytes", (unsigned)PROBE_HEAD_MAX);
            return PROBE_IO_ERROR;
        }
        io = fill(r, deadline_us);
        if (io == PROBE_IO_EOF && unread(r) > 0) {
            snprintf(err, errlen, "connection closed in the middle of a response head");
            return PROBE_IO_ERROR;
        }
        if (io == PROBE_IO_ERROR) {
            snprintf(err, errlen, "read error: %s", strerror(errno));
            return PROBE_IO_EOF;
        }
        if (io != PROBE_IO_OK) {
            return io;
        }
    }
}

void probe_interim_init(probe_interim_t *im)
{
    im->n100 = 0;
    im->n100_late = 0;
    im->n_other = 0;
    im->first_us = -1;
}

int probe_interim_full(const probe_interim_t *im)
{
    return im->n100 + im->n_other >= PROBE_INTERIM_MAX;
}

probe_io_t probe_read_final(probe_reader_t *r, int head_request, int after_body,
                            int stop_at_100, probe_interim_t *im, probe_head_t *h,
                            int64_t deadline_us, char *err, size_t errlen)
{
    for (;;) {
        probe_io_t io = probe_read_head(r, head_request, h, deadline_us, err, errlen);
        if (io != PROBE_IO_OK || h->status >= 200) {
            return io;
        }
        /* No server needs more: one that sends them without end is broken,
         * and a count that only grows would be a hang, and then overflow. */
        if (probe_interim_full(im)) {
            snprintf(err, errlen, "more than %u interim responses (1xx) to one request "
                     "and no final status", PROBE_INTERIM_MAX);
            return PROBE_IO_ERROR;
        }
        if (im->first_us < 0) {
            im->first_us = probe_reader_now(r);
        }
        if (h->status == 100) {
            im->n100++;
            if (after_body) {
                im->n100_late++;
            }
            if (stop_at_100) {
                return PROBE_IO_OK;
            }
        }
        else {
            im->n_other++;
        }
    }
}

probe_io_t probe_read_body(probe_reader_t *r, const probe_head_t *h, int64_t deadline_us)
{
    uint64_t left = h->length;
    probe_chunked_t ch;
    probe_io_t io;

    switch (h->body) {
    case PROBE_BODY_NONE:
        return PROBE_IO_OK;
    case PROBE_BODY_LENGTH:
        for (;;) {
            size_t take = unread(r);
            if ((uint64_t)take > left) {
                take = (size_t)left;
            }
            consume(r, take);
            left -= take;
            if (left == 0) {
                return PROBE_IO_OK;
            }
            io = fill(r, deadline_us);
            if (io != PROBE_IO_OK) {
                return io;
            }
        }
    case PROBE_BODY_CHUNKED:
        probe_chunked_init(&ch);
        for (;;) {
            size_t used = 0;
            int rc = probe_chunked_feed(&ch, r->buf + r->off, unread(r), &used);
            consume(r, used);
            if (rc == PROBE_CHUNKED_DONE) {
                return PROBE_IO_OK;
            }
            if (rc == PROBE_CHUNKED_ERROR) {
                return PROBE_IO_ERROR;
            }
            io = fill(r, deadline_us);
            if (io != PROBE_IO_OK) {
                return io;
            }
        }
    case PROBE_BODY_UNTIL_CLOSE:
    default:
        for (;;) {
            consume(r, unread(r));
            io = fill(r, deadline_us);
            if (io == PROBE_IO_EOF) {
                return PROBE_IO_OK;
            }
            if (io != PROBE_IO_OK) {
                return io;
            }
        }
    }
}
