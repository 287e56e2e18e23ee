/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_shm.c - libFuzzer harness for expectctl's segment validator and
 * reader, and every writer expectctl runs over a segment.
 *
 * The input is a pair of files: a 4-byte little-endian length N, then N
 * bytes of the statistics file (PATH), then the control file (PATH.ctl) to
 * the end (shorter inputs: all statistics, no control file).  Each part is
 * copied into its own exact-size buffer, so ASan sees any read past its
 * end.  expect_shm_validate(), expect_shm_validate_control(),
 * expect_shm_validate_pair() and expect_shm_view() (the attach path minus
 * mmap) must agree; a rejected pair must come back as EXPECT_SHM_ECORRUPT
 * (expectctl's exit 5) with a printable reason.  An accepted one is read completely: every
 * vhost snapshot, every event (in one batch and page by page), then
 * `stats` as table, JSON and Prometheus (all vhosts, one by full name, one
 * by bare name), `policy` and `events` as text and JSON.  Their stdout
 * goes to an in-memory file and is checked: the JSON is one valid
 * document, the Prometheus text parses, the text is one clean line per row.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctl.h"
#include "expect_format.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *cap_buf;

/* stdout becomes a memory file, rewound before each writer runs. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_stdout_to_memory();
    return 0;
}

static void check_why(const char *why, size_t whylen)
{
    size_t n = strnlen(why, whylen);

    FZ_ASSERT(n < whylen);
    FZ_ASSERT(n > 0);
    FZ_ASSERT(fz_text_clean(why, n, 0));
}

static int same_event(const expect_shm_event_t *a, const expect_shm_event_t *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

static void check_event(const expect_shm_event_t *e, uint64_t lo, uint64_t head)
{
    uint64_t claim;

    FZ_ASSERT(e->seq >= 2 && e->seq % 2 == 0);
    claim = e->seq / 2 - 1;
    FZ_ASSERT(claim >= lo && claim < head);
    FZ_ASSERT(memchr(e->vhost, '\0', sizeof(e->vhost)) != NULL);
    FZ_ASSERT(memchr(e->client, '\0', sizeof(e->client)) != NULL);
    FZ_ASSERT(memchr(e->method, '\0', sizeof(e->method)) != NULL);
    FZ_ASSERT(memchr(e->uri, '\0', sizeof(e->uri)) != NULL);
    FZ_ASSERT(memchr(e->protocol, '\0', sizeof(e->protocol)) != NULL);
    FZ_ASSERT(memchr(e->expect, '\0', sizeof(e->expect)) != NULL);
    FZ_ASSERT(memchr(e->user_agent, '\0', sizeof(e->user_agent)) != NULL);
}

/* All events from claim `from`, checked; returns how many (into ev). */
static size_t read_all_events(const expect_shm_t *h, uint64_t from,
                              expect_shm_event_t *ev, size_t max)
{
    uint64_t head = expect_shm_ring_head(h), lo, next = 0, prev;
    size_t n, i;

    lo = head >= h->ring_slots ? head - h->ring_slots : 0;
    if (from > lo) {
        lo = from > head ? head : from;
    }
    n = expect_shm_read_events(h, from, ev, max, 0, &next);
    FZ_ASSERT(n <= max && n <= h->ring_slots);
    FZ_ASSERT(next <= head);
    for (i = 0; i < n; i++) {
        check_event(&ev[i], lo, head);
        if (i > 0) {
            FZ_ASSERT(ev[i].seq > ev[i - 1].seq);   /* oldest first */
        }
    }
    if (n < max) {
        FZ_ASSERT(next == head);                   /* nothing left behind */
    }
    /* wait_pending may only stop earlier: a prefix of the same events. */
    {
        expect_shm_event_t *w = calloc(max ? max : 1, sizeof(*w));
        size_t m;

        FZ_ASSERT(w != NULL);
        m = expect_shm_read_events(h, from, w, max, 1, &next);
        FZ_ASSERT(m <= n && next <= head);
        for (i = 0; i < m; i++) {
            FZ_ASSERT(same_event(&w[i], &ev[i]));
        }
        /* Page by page (as `events` reads in batches) gives the same list. */
        if (h->ring_slots <= 4096) {
            prev = from;
            m = 0;
            for (;;) {
                size_t k = expect_shm_read_events(h, prev, &w[m < max ? m : 0], 1, 0, &next);
                FZ_ASSERT(k <= 1);
                if (k == 1) {
                    FZ_ASSERT(m < n);
                    FZ_ASSERT(same_event(&w[m], &ev[m]));
                    m++;
                }
                if (next <= prev || k == 0 || m >= max) {
                    break;
                }
                prev = next;
            }
            FZ_ASSERT(m == n);
        }
        free(w);
    }
    return n;
}

typedef struct {
    uint32_t visible;
    int any_override;
} vh_stats_t;

static void count_row(const expect_shm_vhost_snap_t *v, void *arg)
{
    vh_stats_t *s = arg;

    s->visible++;
    s->any_override |= v->override != EXPECT_OVERRIDE_NONE;
}

static void run_stats(const expect_shm_t *h, ctl_opts_t *o)
{
    vh_stats_t vs = {0, 0};
    size_t len;
    long samples;
    const char *why = "";

    FZ_ASSERT(ctl_each_vhost(h, o, count_row, &vs) == CTL_EXIT_OK);

    o->format = CTL_FMT_TEXT;
    fz_stdout_rewind();
    FZ_ASSERT(ctl_stats(h, o) == CTL_EXIT_OK);
    cap_buf = fz_stdout_take(&len);
    FZ_ASSERT(fz_text_clean(cap_buf, len, 1));
    /* header, rows, the override note if any, the retry-tracking line */
    FZ_ASSERT(fz_count_lines(cap_buf, len) == 1 + vs.visible + (vs.any_override ? 1 : 0) + 1);

    o->format = CTL_FMT_JSON;
    fz_stdout_rewind();
    FZ_ASSERT(ctl_stats(h, o) == CTL_EXIT_OK);
    cap_buf = fz_stdout_take(&len);
    if (!fz_json_valid(cap_buf, len)) {
        fz_fail("stats --json is not valid JSON:\n%s", cap_buf);
    }

    o->format = CTL_FMT_PROMETHEUS;
    fz_stdout_rewind();
    FZ_ASSERT(ctl_stats(h, o) == CTL_EXIT_OK);
    cap_buf = fz_stdout_take(&len);
    samples = fz_prom_valid(cap_buf, len, &why);
    if (samples < 0) {
        fz_fail("stats --prometheus: %s:\n%s", why, cap_buf);
    }
    /* 1 + 5 decisions + 4 producers + 3 policies + 1 + 1 + 2 outcomes + pending
     * + unknown dropped, per vhost; then retry_evicted, once */
    FZ_ASSERT((uint64_t)samples == 19u * vs.visible + 1u);

    o->format = CTL_FMT_TEXT;
    fz_stdout_rewind();
    FZ_ASSERT(ctl_policy(h, o) == CTL_EXIT_OK);
    cap_buf = fz_stdout_take(&len);
    FZ_ASSERT(fz_text_clean(cap_buf, len, 1));
    FZ_ASSERT(fz_count_lines(cap_buf, len) == vs.visible);
}

static void run_events(const expect_shm_t *h, long count, expect_shm_event_t *ev, size_t max)
{
    ctl_opts_t o;
    uint64_t head = expect_shm_ring_head(h), from;
    size_t expected, len;
    /* ctl_events takes its handle mutable only to reattach while following;
     * without --follow it neither changes nor detaches it. */
    expect_shm_t view = *h;

    memset(&o, 0, sizeof(o));
    o.verb = CTL_VERB_EVENTS;
    o.count = count;
    o.set_value = EXPECT_OVERRIDE_NONE;
    from = head > (uint64_t)count ? head - (uint64_t)count : 0;
    expected = read_all_events(h, from, ev, max);

    o.format = CTL_FMT_TEXT;
    fz_stdout_rewind();
    FZ_ASSERT(ctl_events(&view, &o) == CTL_EXIT_OK);
    cap_buf = fz_stdout_take(&len);
    FZ_ASSERT(fz_text_clean(cap_buf, len, 1));
    FZ_ASSERT(fz_count_lines(cap_buf, len) == expected);

    o.format = CTL_FMT_JSON;
    fz_stdout_rewind();
    FZ_ASSERT(ctl_events(&view, &o) == CTL_EXIT_OK);
    cap_buf = fz_stdout_take(&len);
    if (!fz_json_valid(cap_buf, len)) {
        fz_fail("events --json is not valid JSON:\n%s", cap_buf);
    }

    /* --summary over whatever outcomes the bytes claim. */
    o.summary = 1;
    o.format = CTL_FMT_TEXT;
    fz_stdout_rewind();
    FZ_ASSERT(ctl_events_summary(h, &o) == CTL_EXIT_OK);
    cap_buf = fz_stdout_take(&len);
    FZ_ASSERT(fz_text_clean(cap_buf, len, 1));
    o.format = CTL_FMT_JSON;
    fz_stdout_rewind();
    FZ_ASSERT(ctl_events_summary(h, &o) == CTL_EXIT_OK);
    cap_buf = fz_stdout_take(&len);
    if (!fz_json_valid(cap_buf, len)) {
        fz_fail("events --summary --json is not valid JSON:\n%s", cap_buf);
    }
}

static void read_segment(const expect_shm_t *h)
{
    expect_shm_vhost_snap_t v;
    expect_shm_event_t *ev;
    ctl_opts_t o;
    uint32_t i, n = expect_shm_vhost_count(h), slot;
    char first_name[EXPECT_SHM_NAME_LEN] = "", bare[EXPECT_SHM_NAME_LEN], err[64];
    size_t max;
    char *colon;

    FZ_ASSERT(h->base != NULL && h->hdr != NULL && h->vhosts != NULL);
    FZ_ASSERT(h->ctl_base != NULL && h->ctl_hdr != NULL && h->ctl != NULL);
    FZ_ASSERT(!h->writable && !h->control_writable);
    FZ_ASSERT(n <= h->vhost_capacity);
    for (i = 0; i < n; i++) {
        FZ_ASSERT(expect_shm_snapshot(h, i, &v) == 0);
        FZ_ASSERT(v.slot == i);
        FZ_ASSERT(memchr(v.name, '\0', sizeof(v.name)) != NULL);
        FZ_ASSERT(v.configured_policy <= (uint32_t)EXPECT_POLICY_IGNORE);
        FZ_ASSERT(v.override == EXPECT_OVERRIDE_NONE
                  || v.override <= (uint32_t)EXPECT_POLICY_IGNORE);
        FZ_ASSERT(ctl_effective_policy(&v) <= (uint32_t)EXPECT_POLICY_IGNORE);
        if (first_name[0] == '\0' && ctl_vhost_visible(&v)) {
            memcpy(first_name, v.name, sizeof(first_name));
        }
    }
    FZ_ASSERT(expect_shm_snapshot(h, n, &v) == -1);
    FZ_ASSERT(expect_shm_snapshot(h, UINT32_MAX, &v) == -1);

    /* A file this big holds at most this many slots: the buffer stays small. */
    max = h->ring_slots ? h->ring_slots : 1;
    ev = calloc(max, sizeof(*ev));
    FZ_ASSERT(ev != NULL);
    read_all_events(h, 0, ev, max);
    read_all_events(h, UINT64_MAX, ev, max);
    run_events(h, CTL_EVENTS_DEFAULT, ev, max);
    run_events(h, 1, ev, max);
    run_events(h, (long)EXPECT_SHM_MAX_RING_SLOTS, ev, max);
    free(ev);

    memset(&o, 0, sizeof(o));
    o.verb = CTL_VERB_STATS;
    o.count = CTL_EVENTS_DEFAULT;
    o.set_value = EXPECT_OVERRIDE_NONE;
    o.shm_path = first_name;   /* bytes from the segment: escaped in JSON */
    run_stats(h, &o);
    if (first_name[0] != '\0') {
        /* By full name: found (possibly an earlier vhost with the same name). */
        FZ_ASSERT(ctl_find_vhost(h, first_name, &slot, err, sizeof(err)) == 0);
        FZ_ASSERT(slot < n);
        o.vhost = first_name;
        run_stats(h, &o);
        /* By bare name, only when it resolves (else expectctl prints to stderr). */
        memcpy(bare, first_name, sizeof(bare));
        if ((colon = strchr(bare, ':')) != NULL) {
            *colon = '\0';
        }
        if (bare[0] != '\0' && ctl_find_vhost(h, bare, &slot, err, sizeof(err)) == 0) {
            FZ_ASSERT(slot < n);
            FZ_ASSERT(expect_shm_snapshot(h, slot, &v) == 0 && ctl_vhost_visible(&v));
            o.vhost = bare;
            run_stats(h, &o);
        }
        else if (bare[0] != '\0') {
            FZ_ASSERT(strnlen(err, sizeof(err)) < sizeof(err));
        }
    }
}

/* Validator results must be one of the two and come with a clean reason. */
static expect_shm_err_t checked(expect_shm_err_t rv, const char *why, size_t whylen)
{
    FZ_ASSERT(rv == EXPECT_SHM_OK || rv == EXPECT_SHM_ECORRUPT);
    if (rv != EXPECT_SHM_OK) {
        check_why(why, whylen);
    }
    return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256], why2[256];
    expect_shm_err_t rs, rc, rp, rv;
    expect_shm_t h;
    const uint8_t *sp = data, *cp = data;
    size_t slen = size, clen = 0;
    void *stats, *ctl;

    if (size >= 4) {
        uint32_t n = (uint32_t)data[0] | (uint32_t)data[1] << 8
                     | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
        sp = data + 4;
        slen = n < size - 4 ? n : size - 4;
        cp = sp + slen;
        clen = size - 4 - slen;
    }
    /* Exact-size, malloc-aligned copies: ASan sees any read past either
     * end, and the view gets the alignment a mapping has. */
    stats = malloc(slen ? slen : 1);
    ctl = malloc(clen ? clen : 1);
    FZ_ASSERT(stats != NULL && ctl != NULL);
    if (slen) {
        memcpy(stats, sp, slen);
    }
    if (clen) {
        memcpy(ctl, cp, clen);
    }

    why[0] = '\0';
    rs = checked(expect_shm_validate(stats, slen, why, sizeof(why)), why, sizeof(why));
    why[0] = '\0';
    rc = checked(expect_shm_validate_control(ctl, clen, why, sizeof(why)), why, sizeof(why));
    why[0] = '\0';
    rp = checked(expect_shm_validate_pair(stats, slen, ctl, clen, why, sizeof(why)),
                 why, sizeof(why));
    /* The pair is valid only if each file is. */
    FZ_ASSERT(rp != EXPECT_SHM_OK || (rs == EXPECT_SHM_OK && rc == EXPECT_SHM_OK));
    /* A tiny why buffer must still be NUL-terminated. */
    if (rp != EXPECT_SHM_OK) {
        char tiny[5];
        memset(tiny, 'x', sizeof(tiny));
        FZ_ASSERT(expect_shm_validate_pair(stats, slen, ctl, clen, tiny, sizeof(tiny)) == rp);
        FZ_ASSERT(memchr(tiny, '\0', sizeof(tiny)) != NULL);
        FZ_ASSERT(expect_shm_validate_pair(stats, slen, ctl, clen, NULL, 0) == rp);
    }

    /* The attach path over the same bytes. */
    why2[0] = '\0';
    rv = expect_shm_view(&h, stats, slen, ctl, clen, why2, sizeof(why2));
    FZ_ASSERT(rv == rp);
    if (rv != EXPECT_SHM_OK) {
        FZ_ASSERT(strcmp(why, why2) == 0);
        FZ_ASSERT(h.base == NULL && h.hdr == NULL && h.ctl_base == NULL && h.ctl == NULL);
    }
    else {
        FZ_ASSERT(h.size == slen && h.ctl_size == clen);
        read_segment(&h);
        /* Reading never writes. */
        FZ_ASSERT(memcmp(stats, sp, slen) == 0);
        FZ_ASSERT(memcmp(ctl, cp, clen) == 0);
    }
    free(stats);
    free(ctl);
    return 0;
}
