/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_from.c - `expectctl events [--summary] --from FILE...`: the event
 * logs that ExpectEventLog writes, of any number of servers, read back into
 * the same list and summary as a segment gives (ctl_events_print,
 * ctl_summary_add: one code path for both sources).
 *
 * Plain and gzip-compressed files alike (zlib reads a file that is not
 * gzip as it is), "-" for standard input.  Nothing in a line is trusted
 * (ctl_eventlog.c parses); a line that cannot be read, a line read twice
 * (the same server, pid, claim and time) and the events the writer says it
 * lost (gap lines) are counted and reported per file on stderr, and the
 * output, which still goes out, is then partial: exit CTL_EXIT_PARTIAL,
 * never 0.  A file that cannot be opened is named with the reason, the
 * others are still read, and the exit status is CTL_EXIT_FAIL.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "ctl.h"
#include "expect_siphash.h"

#define CHUNK 65536

/* What one file held, for its report. */
typedef struct {
    uint64_t line;                 /* lines read so far */
    uint64_t bad, first_bad;       /* malformed lines, and the first one's number */
    char bad_why[256];
    uint64_t dups, first_dup;
    char dup_what[384];
    uint64_t lost, gaps, first_gap;
    char gap_server[256];
    uint64_t cut;                  /* lines the writer cut to fit ("truncated") */
    int damaged;                   /* the compressed data ended or broke mid-way */
    uint64_t damaged_after;        /* the last whole line before it */
    char damage[256];
} file_report_t;

/* A set of 64-bit keyed hashes of (kind, server, pid, seq, time): the lines
 * seen.  The key is random, so no line can be made to look like another. */
typedef struct {
    uint64_t *slot;
    size_t cap, n;
    uint64_t key[2];
} seen_t;

/* One event kept for the list: the newest -n N by time, in a min-heap. */
typedef struct {
    expect_shm_event_t ev;
    char server[256];
    uint64_t order;                /* reading order: ties keep it */
} kept_t;

typedef struct {
    const ctl_opts_t *o;
    ctl_summary_t *summary;        /* --summary; else the list: */
    kept_t *heap;
    size_t nheap, capheap;
    uint64_t order;
    seen_t seen;
    ctl_line_t line;               /* the line being read (large: not on the stack) */
    int oom;
} from_t;

static int seen_grow(seen_t *s)
{
    size_t cap = s->cap ? s->cap * 2 : 4096, i, j;
    uint64_t *slot = calloc(cap, sizeof(*slot));

    if (slot == NULL) {
        return -1;
    }
    for (i = 0; i < s->cap; i++) {
        if (s->slot[i] != 0) {
            for (j = s->slot[i] & (cap - 1); slot[j] != 0; j = (j + 1) & (cap - 1)) {
            }
            slot[j] = s->slot[i];
        }
    }
    free(s->slot);
    s->slot = slot;
    s->cap = cap;
    return 0;
}

/* 1 if the line was seen before (and is not added again), 0 if new, -1 out of memory. */
static int seen_add(seen_t *s, int kind, const ctl_line_t *l)
{
    expect_sip_t sip;
    uint64_t h, nums[4];
    size_t j;

    if (s->n * 2 >= s->cap && seen_grow(s) != 0) {
        return -1;
    }
    nums[0] = (uint64_t)kind;
    nums[1] = l->pid;
    nums[2] = kind == CTL_LINE_EVENT ? l->claim : 0;
    nums[3] = l->ev.time_usec;
    expect_sip_init(&sip, s->key);
    expect_sip_feed(&sip, nums, sizeof(nums));
    /* The server's name with its NUL: no two (name, numbers) run together. */
    expect_sip_feed(&sip, l->server, strlen(l->server) + 1);
    h = expect_sip_final(&sip);
    h = h ? h : 1;   /* 0 marks a free slot */
    for (j = h & (s->cap - 1); s->slot[j] != 0; j = (j + 1) & (s->cap - 1)) {
        if (s->slot[j] == h) {
            return 1;
        }
    }
    s->slot[j] = h;
    s->n++;
    return 0;
}

/* Is a older than b in the list's order (time, then reading order)? */
static int older(const kept_t *a, const kept_t *b)
{
    return a->ev.time_usec != b->ev.time_usec ? a->ev.time_usec < b->ev.time_usec
                                              : a->order < b->order;
}

static void heap_swap(kept_t *a, kept_t *b)
{
    static kept_t t;

    t = *a;
    *a = *b;
    *b = t;
}

static void heap_down(kept_t *h, size_t n, size_t i)
{
    size_t c;

    for (; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && older(&h[c + 1], &h[c])) {
            c++;
        }
        if (!older(&h[c], &h[i])) {
            break;
        }
        heap_swap(&h[c], &h[i]);
    }
}

/* Keep the event if it is among the newest N read so far. */
static void keep(from_t *f, const ctl_line_t *l)
{
    size_t want = (size_t)f->o->count, i;
    kept_t *k;

    if (f->nheap == want) {
        /* Full: it replaces the oldest kept, if it is newer. */
        if (l->ev.time_usec < f->heap[0].ev.time_usec) {
            return;
        }
        k = &f->heap[0];
        k->ev = l->ev;
        memcpy(k->server, l->server, sizeof(k->server));
        k->order = f->order++;
        heap_down(f->heap, f->nheap, 0);
        return;
    }
    if (f->nheap == f->capheap) {
        size_t cap = f->capheap ? f->capheap * 2 : 64;
        kept_t *grown;
        cap = cap < want ? cap : want;
        if ((grown = realloc(f->heap, cap * sizeof(*grown))) == NULL) {
            f->oom = 1;
            return;
        }
        f->heap = grown;
        f->capheap = cap;
    }
    k = &f->heap[f->nheap];
    k->ev = l->ev;
    memcpy(k->server, l->server, sizeof(k->server));
    k->order = f->order++;
    /* Up, towards the oldest at the root. */
    for (i = f->nheap++; i > 0 && older(&f->heap[i], &f->heap[(i - 1) / 2]); i = (i - 1) / 2) {
        heap_swap(&f->heap[i], &f->heap[(i - 1) / 2]);
    }
}

static int by_time(const void *a, const void *b)
{
    return older(a, b) ? -1 : older(b, a) ? 1 : 0;
}

/* One line of a file, without its newline. */
static void take_line(from_t *f, file_report_t *r, const char *text, size_t n, int overlong)
{
    char why[256];
    int kind, dup;
    ctl_line_t *l = &f->line;

    r->line++;
    kind = overlong ? CTL_LINE_BAD
                    : ctl_eventlog_parse(text, n, l, why, sizeof(why));
    if (overlong) {
        snprintf(why, sizeof(why), "longer than a line of the event log can be "
                 "(%d bytes with its newline)", CTL_EVENTLOG_LINE_MAX);
    }
    if (kind == CTL_LINE_BAD) {
        if (r->bad++ == 0) {
            r->first_bad = r->line;
            memcpy(r->bad_why, why, sizeof(r->bad_why));
        }
        return;
    }
    if (l->ev.time_usec < f->o->since_usec) {
        return;
    }
    if ((dup = seen_add(&f->seen, kind, l)) < 0) {
        f->oom = 1;
        return;
    }
    if (dup) {
        if (r->dups++ == 0) {
            r->first_dup = r->line;
            if (kind == CTL_LINE_EVENT) {
                snprintf(r->dup_what, sizeof(r->dup_what), "server %s pid %u seq %" PRIu64,
                         l->server, (unsigned)l->pid, l->claim);
            }
            else {
                snprintf(r->dup_what, sizeof(r->dup_what), "a gap line of server %s pid %u",
                         l->server, (unsigned)l->pid);
            }
        }
        return;
    }
    if (kind == CTL_LINE_GAP) {
        if (r->gaps++ == 0) {
            r->first_gap = r->line;
            memcpy(r->gap_server, l->server, sizeof(r->gap_server));
        }
        r->lost = r->lost > UINT64_MAX - l->lost ? UINT64_MAX : r->lost + l->lost;
        return;
    }
    r->cut += l->truncated != 0;
    if (f->summary != NULL) {
        ctl_summary_add(f->summary, NULL, &l->ev, l->server, 0);
    }
    else {
        keep(f, l);
    }
}

/* Read gz line by line; a line longer than the log allows is skipped to
 * its newline, never buffered whole. */
static void read_lines(from_t *f, gzFile gz, file_report_t *r)
{
    static char chunk[CHUNK];
    static char text[CTL_EVENTLOG_LINE_MAX + 1];
    size_t n = 0, i, k;
    int got, overlong = 0, errnum = Z_OK;
    const char *msg, *nl;

    while ((got = gzread(gz, chunk, sizeof(chunk))) > 0) {
        for (i = 0; i < (size_t)got; i = k + 1) {
            nl = memchr(chunk + i, '\n', (size_t)got - i);
            k = nl != NULL ? (size_t)(nl - chunk) : (size_t)got;
            if (!overlong && n + (k - i) <= CTL_EVENTLOG_LINE_MAX) {
                memcpy(text + n, chunk + i, k - i);
                n += k - i;
            }
            else {
                overlong = 1;
            }
            if (nl == NULL) {
                break;
            }
            take_line(f, r, text, n, overlong);
            n = 0;
            overlong = 0;
        }
    }
    msg = gzerror(gz, &errnum);
    /* zlib names the file "<fd:N>: " first; the report names it better. */
    if (msg != NULL && strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ">: ") != NULL) {
        msg = strstr(msg, ">: ") + 3;
    }
    if (got < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
        r->damaged = 1;
        r->damaged_after = r->line;
        snprintf(r->damage, sizeof(r->damage), "%s",
                 errnum == Z_ERRNO ? strerror(errno) : msg != NULL ? msg : "read error");
    }
    if (n > 0 || overlong) {
        /* The writer ends every line with a newline: this one was cut. */
        r->line++;
        if (r->bad++ == 0) {
            r->first_bad = r->line;
            snprintf(r->bad_why, sizeof(r->bad_why), "%s", r->damaged
                     ? "cut short where the data broke off"
                     : "the file ends inside it (no newline): cut short");
        }
    }
}

/* A report's text on stderr: a byte outside printable ASCII as \xHH, so
 * that nothing from a file reaches the terminal raw; quotes are kept (the
 * reasons quote field names), unlike expect_fput_text. */
static void put_clean(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f) {
            fprintf(stderr, "\\x%02x", c);
        }
        else {
            fputc(c, stderr);
        }
    }
}

static void say(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line on stderr: "expectctl: NAME: ..." with the name escaped. */
static void say(const char *name, const char *fmt, ...)
{
    va_list ap;

    fputs("expectctl: ", stderr);
    put_clean(name);
    fputs(": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* The file's report; returns 1 when its data was partial. */
static int report(const char *name, const file_report_t *r)
{
    if (r->bad != 0) {
        say(name, "%" PRIu64 " malformed line%s skipped; the first, line %" PRIu64 ": ",
            r->bad, r->bad == 1 ? "" : "s", r->first_bad);
        put_clean(r->bad_why);
        fputc('\n', stderr);
    }
    if (r->dups != 0) {
        say(name, "%" PRIu64 " duplicate line%s counted once; the first, line %" PRIu64 ": ",
            r->dups, r->dups == 1 ? "" : "s", r->first_dup);
        put_clean(r->dup_what);
        fputc('\n', stderr);
    }
    if (r->gaps != 0) {
        say(name, "the writer lost %" PRIu64 " event%s (%" PRIu64 " gap line%s; the first, "
            "line %" PRIu64 ", of server ", r->lost, r->lost == 1 ? "" : "s", r->gaps,
            r->gaps == 1 ? "" : "s", r->first_gap);
        put_clean(r->gap_server);
        fputs(")\n", stderr);
    }
    if (r->damaged) {
        say(name, "damaged after line %" PRIu64 ": ", r->damaged_after);
        put_clean(r->damage);
        fputs("; the rest of the file is not read\n", stderr);
    }
    if (r->cut != 0) {
        say(name, "%" PRIu64 " line%s the writer cut to fit (read as written)\n", r->cut,
            r->cut == 1 ? "" : "s");
    }
    return r->bad != 0 || r->dups != 0 || r->gaps != 0 || r->damaged;
}

/* Open a file for reading, "-" as standard input; NULL with a reason. */
static gzFile open_log(const char *name, char *why, size_t len)
{
    struct stat st;
    gzFile gz;
    int fd;

    fd = strcmp(name, "-") == 0 ? dup(STDIN_FILENO) : open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, len, "%s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(why, len, "is a directory");
        close(fd);
        return NULL;
    }
    if ((gz = gzdopen(fd, "rb")) == NULL) {
        snprintf(why, len, "cannot read it (out of memory)");
        close(fd);
        return NULL;
    }
    gzbuffer(gz, CHUNK);
    return gz;
}

static void print_list(from_t *f)
{
    int first = 1;
    size_t i;

    if (f->nheap > 1) {
        qsort(f->heap, f->nheap, sizeof(*f->heap), by_time);
    }
    ctl_events_begin(f->o);
    for (i = 0; i < f->nheap; i++) {
        ctl_events_print(NULL, &f->heap[i].ev, f->heap[i].server, f->o, &first);
    }
    ctl_events_end(f->o);
}

int ctl_events_from(const ctl_opts_t *o)
{
    static from_t f;
    static file_report_t r;
    uint64_t bad = 0, dups = 0, lost = 0;
    int i, opened = 0, failed = 0, partial = 0, damaged = 0;
    char why[256];
    gzFile gz;

    memset(&f, 0, sizeof(f));
    f.o = o;
    if (getrandom(f.seen.key, sizeof(f.seen.key), 0) != (ssize_t)sizeof(f.seen.key)) {
        /* A fixed key only lets a crafted log make lines look alike. */
        f.seen.key[0] = (uint64_t)getpid();
    }
    if ((o->summary && (f.summary = ctl_summary_new(o->by_server)) == NULL)
        || seen_grow(&f.seen) != 0) {
        fprintf(stderr, "expectctl: out of memory\n");
        return CTL_EXIT_FAIL;
    }
    for (i = 0; i < o->nfrom && !f.oom; i++) {
        const char *name = strcmp(o->from[i], "-") == 0 ? "standard input" : o->from[i];
        if ((gz = open_log(o->from[i], why, sizeof(why))) == NULL) {
            say(name, "cannot open: %s\n", why);
            failed = 1;
            continue;
        }
        opened++;
        memset(&r, 0, sizeof(r));
        read_lines(&f, gz, &r);
        gzclose(gz);
        partial |= report(name, &r);
        bad += r.bad;
        damaged += r.damaged;
        dups += r.dups;
        lost = lost > UINT64_MAX - r.lost ? UINT64_MAX : lost + r.lost;
    }
    if (f.oom) {
        fprintf(stderr, "expectctl: out of memory reading the event logs\n");
        ctl_summary_free(f.summary);
        free(f.heap);
        free(f.seen.slot);
        return CTL_EXIT_FAIL;
    }
    if (opened > 0) {
        if (f.summary != NULL) {
            ctl_summary_print(f.summary, o->format);
        }
        else {
            print_list(&f);
        }
    }
    ctl_summary_free(f.summary);
    free(f.heap);
    free(f.seen.slot);
    if (partial) {
        fprintf(stderr, "expectctl: partial data: %" PRIu64 " line%s skipped, %" PRIu64
                " duplicate%s, %" PRIu64 " event%s lost by the writer, %d damaged file%s; "
                "the output counts what could be read (exit %d)\n", bad, bad == 1 ? "" : "s",
                dups, dups == 1 ? "" : "s", lost, lost == 1 ? "" : "s", damaged,
                damaged == 1 ? "" : "s", CTL_EXIT_PARTIAL);
    }
    return failed ? CTL_EXIT_FAIL : partial ? CTL_EXIT_PARTIAL : CTL_EXIT_OK;
}
