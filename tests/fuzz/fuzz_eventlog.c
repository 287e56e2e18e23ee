/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_eventlog.c - libFuzzer harness for the event-log reader: the line
 * parser (expectctl/ctl_eventlog.c) on every line of the input, then the
 * whole of `events --from` (ctl_from.c: zlib, the line splitter, duplicate
 * and gap accounting, the list and the summary writers) on the input as a
 * file.
 *
 * Input: byte 0 picks the options (bit 0 --summary, bit 1 --by server
 * with it, bit 2 --json, bits 3-4 -n 1, 2, 20 or 1000); the rest is the
 * file, plain or gzip (zlib reads either).  Checks besides "no crash":
 * every event's strings end inside their fields, its outcome is a known
 * state, a refusal has a reason; the reader exits 0 or 6 only, and for a
 * plain file exactly 6 when a line is refused, doubled or a gap line is
 * read, else 0 (computed here independently of ctl_from.c); its JSON is
 * one valid document, its text and its reports printable lines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctl.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* stdout becomes a memory file, emptied before each run.  The reader's
 * reports go to a memory stream put in place of stderr for the call only:
 * libFuzzer's own messages keep file descriptor 2. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_stdout_to_memory();
    return 0;
}

/* The identity a duplicate shares: kind, server, pid, claim, time. */
typedef struct {
    int kind;
    char server[256];
    uint32_t pid;
    uint64_t claim, usec;
} ident_t;

static int same_ident(const ident_t *a, const ident_t *b)
{
    return a->kind == b->kind && a->pid == b->pid && a->claim == b->claim
           && a->usec == b->usec && strcmp(a->server, b->server) == 0;
}

#define FIELD_OK(ev, f) FZ_ASSERT(strnlen((ev)->f, sizeof((ev)->f)) < sizeof((ev)->f))

/* Parse each line; returns 1 when a plain file's data is partial. */
static int parse_lines(const uint8_t *p, size_t n)
{
    static ctl_line_t l;
    static ident_t seen[512];
    size_t nseen = 0, i, start = 0, k;
    char why[256];
    int partial = 0, kind;

    for (i = 0; i <= n; i++) {
        if (i < n && p[i] != '\n') {
            continue;
        }
        if (i == n) {
            /* Bytes after the last newline: a line cut short. */
            partial |= start < n;
            break;
        }
        memset(why, 0x55, sizeof(why));
        kind = ctl_eventlog_parse((const char *)p + start, i - start, &l, why, sizeof(why));
        start = i + 1;
        if (kind == CTL_LINE_BAD) {
            FZ_ASSERT(strnlen(why, sizeof(why)) < sizeof(why) && why[0] != '\0');
            partial = 1;
            continue;
        }
        FZ_ASSERT(kind == CTL_LINE_EVENT || kind == CTL_LINE_GAP);
        FZ_ASSERT(strnlen(l.server, sizeof(l.server)) < sizeof(l.server));
        FZ_ASSERT(l.pid >= 1 && l.ev.time_usec >= 1);
        if (kind == CTL_LINE_GAP) {
            FZ_ASSERT(l.lost >= 1);
            partial = 1;
        }
        else {
            FIELD_OK(&l.ev, vhost);
            FIELD_OK(&l.ev, client);
            FIELD_OK(&l.ev, method);
            FIELD_OK(&l.ev, uri);
            FIELD_OK(&l.ev, protocol);
            FIELD_OK(&l.ev, expect);
            FIELD_OK(&l.ev, user_agent);
            FZ_ASSERT(l.ev.seq / 2 - 1 == l.claim);
            FZ_ASSERT(expect_outcome_state_at(NULL, l.ev.outcome, l.claim, l.ev.time_usec,
                                              UINT64_MAX) < EXPECT_OUTCOME_STATES);
            FZ_ASSERT(l.ev.status >= 100 && l.ev.status <= 599);
        }
        if (nseen < sizeof(seen) / sizeof(seen[0])) {
            ident_t *me = &seen[nseen];
            me->kind = kind;
            memcpy(me->server, l.server, sizeof(me->server));
            me->pid = l.pid;
            me->claim = kind == CTL_LINE_EVENT ? l.claim : 0;
            me->usec = l.ev.time_usec;
            for (k = 0; k < nseen; k++) {
                if (same_ident(&seen[k], me)) {
                    partial = 1;
                    break;
                }
            }
            nseen += k == nseen;
        }
        else {
            partial = -1;   /* too many lines to judge duplicates here */
        }
    }
    return partial;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long counts[4] = {1, 2, 20, 1000};
    ctl_opts_t o;
    char path[64];
    char *from[1];
    int fd, rc, partial;
    size_t got, err_len = 0;
    char *err_buf = NULL;
    const char *out;
    FILE *saved;

    if (size < 1) {
        return 0;
    }
    partial = parse_lines(data + 1, size - 1);

    memset(&o, 0, sizeof(o));
    o.verb = CTL_VERB_EVENTS;
    o.summary = data[0] & 1;
    o.by_server = o.summary && (data[0] & 2);
    o.format = (data[0] & 4) ? CTL_FMT_JSON : CTL_FMT_TEXT;
    o.count = counts[(data[0] >> 3) & 3];
    fd = memfd_create("fuzz_eventlog_input", MFD_CLOEXEC);
    FZ_ASSERT(fd >= 0);
    FZ_ASSERT(write(fd, data + 1, size - 1) == (ssize_t)(size - 1));
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    from[0] = path;
    o.from = from;
    o.nfrom = 1;

    fz_stdout_rewind();
    saved = stderr;
    stderr = open_memstream(&err_buf, &err_len);
    FZ_ASSERT(stderr != NULL);
    rc = ctl_events_from(&o);
    FZ_ASSERT(fclose(stderr) == 0);
    stderr = saved;
    close(fd);
    FZ_ASSERT(rc == CTL_EXIT_OK || rc == CTL_EXIT_PARTIAL);
    /* zlib decodes input that starts like gzip; the rest is read as it is. */
    if (size < 3 || data[1] != 0x1f || data[2] != 0x8b) {
        if (partial >= 0) {
            FZ_ASSERT(rc == (partial ? CTL_EXIT_PARTIAL : CTL_EXIT_OK));
        }
    }
    out = fz_stdout_take(&got);
    if (o.format == CTL_FMT_JSON) {
        FZ_ASSERT(fz_json_valid(out, got));
    }
    else {
        FZ_ASSERT(fz_text_clean(out, got, 1));
    }
    FZ_ASSERT(fz_text_clean(err_buf, err_len, 1));
    FZ_ASSERT((rc == CTL_EXIT_PARTIAL) == (strstr(err_buf, "partial data") != NULL));
    free(err_buf);
    return 0;
}
