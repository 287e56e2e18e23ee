/* SPDX-License-Identifier: Apache-2.0 */
/*
 * make_seeds.c - writes the seed corpus of fuzz_shm: real segments built
 * with expect_shm_create() and filled the way httpd's children fill them
 * (vhosts, counters, overrides, events), plus a few damaged ones.
 *
 *   make_seeds OUTDIR
 *
 * Each seed is one fuzz_shm input: a 4-byte little-endian length N, then
 * N bytes of the statistics file, then the control file (see fuzz_shm.c).
 * Times, the creator pid and the pair token are pinned so the seeds are
 * reproducible.  Geometries are the smallest that show each feature: on a
 * 4 KiB-page host the largest seed is 28 KiB (4 vhosts, 8 event slots).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect_shm.h"

#define FIXED_USEC 1700000000123456ull
#define FIXED_TOKEN 0x0123456789abcdefull

static const char *outdir;
static char segpath[4096];

static void die(const char *what, const char *why) __attribute__((noreturn));

static void die(const char *what, const char *why)
{
    fprintf(stderr, "make_seeds: %s: %s\n", what, why);
    exit(1);
}

/* The counters of a slot that must exist (never NULL: dies instead). */
static expect_shm_vhost_t *seed_vhost(const expect_shm_t *h, uint32_t slot)
{
    expect_shm_vhost_t *vh = expect_shm_vhost(h, slot);

    if (vh == NULL) {
        die("expect_shm_vhost", "no such slot");
    }
    return vh;
}

static void save(const char *name, const void *buf, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", outdir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        die(path, strerror(errno));
    }
    if (len > 200 * 1024) {
        fprintf(stderr, "make_seeds: warning: %s is %zu bytes\n", name, len);
    }
}

static void create(expect_shm_t *h, uint32_t cap, uint32_t slots)
{
    char why[256] = "";

    if (expect_shm_create(h, segpath, cap, slots, 16, why, sizeof(why)) != APR_SUCCESS) {
        die("expect_shm_create", why);
    }
}

static uint32_t add_vhost(expect_shm_t *h, const char *name, expect_policy_t p, int strict)
{
    uint32_t slot;

    if (expect_shm_vhost_add(h, name, &slot) != APR_SUCCESS) {
        die("expect_shm_vhost_add", name);
    }
    expect_shm_mark_active(h, slot, p, strict);
    return slot;
}

static void event(expect_shm_t *h, uint32_t slot, const char *vhost, uint32_t producer,
                  uint32_t reason, const char *uri, const char *expect, const char *ua,
                  int64_t cl, uint64_t k)
{
    expect_shm_event_t ev;

    expect_shm_event_init(&ev);
    ev.time_usec = FIXED_USEC + k * 1000003u;
    ev.content_length = cl;
    ev.vhost_slot = slot;
    ev.producer = producer;
    ev.reason = reason;
    ev.decision = reason == EXPECT_REASON_POLICY || reason == EXPECT_REASON_STRICT_BODYLESS
                  ? EXPECT_DECIDE_REJECT : EXPECT_DECIDE_NONE;
    EXPECT_SHM_EVENT_SET(&ev, vhost, vhost);
    EXPECT_SHM_EVENT_SET(&ev, client, k % 2 ? "192.0.2.7" : "2001:db8::1");
    EXPECT_SHM_EVENT_SET(&ev, method, k % 3 ? "PUT" : "POST");
    EXPECT_SHM_EVENT_SET(&ev, uri, uri);
    EXPECT_SHM_EVENT_SET(&ev, protocol, "HTTP/1.1");
    EXPECT_SHM_EVENT_SET(&ev, expect, expect);
    EXPECT_SHM_EVENT_SET(&ev, user_agent, ua);
    expect_shm_record(h, &ev);
}

/* The fuzz input of a pair: [u32 LE stats length][stats][control], with
 * the run-dependent header fields pinned in both. */
static unsigned char *pair_image(const expect_shm_t *h, size_t *len)
{
    unsigned char *img;
    expect_shm_header_t hd;
    expect_ctl_header_t cd;
    uint32_t n = (uint32_t)h->size;

    *len = 4 + h->size + h->ctl_size;
    img = malloc(*len);
    if (img == NULL) {
        die("malloc", "out of memory");
    }
    img[0] = (unsigned char)(n & 0xff);
    img[1] = (unsigned char)((n >> 8) & 0xff);
    img[2] = (unsigned char)((n >> 16) & 0xff);
    img[3] = (unsigned char)((n >> 24) & 0xff);
    memcpy(img + 4, h->base, h->size);
    memcpy(img + 4 + h->size, h->ctl_base, h->ctl_size);
    memcpy(&hd, img + 4, sizeof(hd));
    hd.created_usec = FIXED_USEC;
    hd.creator_pid = 4242;
    hd.pair_token = FIXED_TOKEN;
    memcpy(img + 4, &hd, sizeof(hd));
    memcpy(&cd, img + 4 + h->size, sizeof(cd));
    cd.created_usec = FIXED_USEC;
    cd.creator_pid = 4242;
    cd.pair_token = FIXED_TOKEN;
    cd.retry_key[0] = FIXED_TOKEN;
    cd.retry_key[1] = ~FIXED_TOKEN;
    /* Published, as a serving parent leaves it. */
    cd.state = EXPECT_SEG_LIVE;
    cd.server_pid = 4242;
    cd.generation = 1;
    cd.state_usec = FIXED_USEC;
    cd.server_start = 0;
    memcpy(img + 4 + h->size, &cd, sizeof(cd));
    return img;
}

static void save_seg(const char *name, expect_shm_t *h)
{
    size_t len;
    unsigned char *img = pair_image(h, &len);

    save(name, img, len);
    free(img);
}

int main(int argc, char **argv)
{
    expect_shm_t h;
    uint32_t a, b, c, d, k;
    char dir[] = "/tmp/make-seeds-XXXXXX";
    unsigned char *img;
    size_t len;

    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    if (mkdtemp(dir) == NULL) {
        die("mkdtemp", strerror(errno));
    }
    snprintf(segpath, sizeof(segpath), "%s/seg", dir);

    /* 0. Retry tracking: 417s pending, retried, abandoned, repeated and
     *    evicted, and one outcome word of another claim (a reused slot). */
    create(&h, 2, 8);
    /* The image pins the retry key: the keys below must be made with it. */
    h.retry_key[0] = FIXED_TOKEN;
    h.retry_key[1] = ~FIXED_TOKEN;
    a = add_vhost(&h, "up.example:443", EXPECT_POLICY_REJECT, 0);
    for (k = 0; k < 6; k++) {
        const char *ua = k % 2 ? "Java-http-client/17" : "curl/7.88.1";
        uint64_t key = expect_retry_key(&h, 0, "192.0.2.1", ua, "PUT", k < 3 ? "/a" : "/b");
        uint64_t ticket, claim;
        expect_shm_event_t *ev = expect_shm_claim(&h, &ticket);

        if (ev == NULL) {
            die("expect_shm_claim", "no slot");
        }
        claim = (ticket - 1) / 2;
        memset((char *)ev + sizeof(ev->seq), 0, sizeof(*ev) - sizeof(ev->seq));
        ev->time_usec = FIXED_USEC + k;
        ev->content_length = 1024 * (int64_t)k;
        ev->vhost_slot = a;
        ev->producer = EXPECT_PRODUCER_MOD_EXPECT;
        ev->reason = EXPECT_REASON_POLICY;
        ev->decision = EXPECT_DECIDE_REJECT;
        ev->outcome = expect_outcome_word(claim, EXPECT_OUTCOME_PENDING, 0);
        EXPECT_SHM_EVENT_SET(ev, vhost, "up.example:443");
        EXPECT_SHM_EVENT_SET(ev, expect, "100-continue");
        EXPECT_SHM_EVENT_SET(ev, user_agent, ua);
        expect_shm_publish(ev, ticket);
        expect_retry_remember(&h, key, FIXED_USEC + k, claim + 1, a, 0);
    }
    expect_retry_resolve(&h, expect_retry_key(&h, 0, "192.0.2.1", "curl/7.88.1", "PUT", "/b"),
                         FIXED_USEC + 1000, 30000000u, 0);
    expect_retry_sweep(&h, FIXED_USEC + 60000000u, 30000000u);
    h.ring[1].outcome = expect_outcome_word(99, EXPECT_OUTCOME_RETRIED, 5);
    save_seg("retry_outcomes", &h);
    expect_shm_detach(&h);

    /* 1. The smallest segment: one vhost, no ring (2 x 8 KiB). */
    create(&h, 1, 0);
    a = add_vhost(&h, "localhost:80", EXPECT_POLICY_CONTINUE, 0);
    expect_shm_count(expect_shm_vhost(&h, a), EXPECT_CTR_EXPECT);
    expect_shm_count(expect_shm_vhost(&h, a), EXPECT_CTR_CONTINUED);
    save_seg("min_1vhost_noring", &h);
    expect_shm_detach(&h);

    /* 2. Empty table, a few slots: a fresh parent before post_config. */
    create(&h, 2, 4);
    save_seg("empty_2vhosts_4slots", &h);
    expect_shm_detach(&h);

    /* 3. Four vhosts (one inactive, two on the same name), overrides,
     *    counters, and a few events with hostile strings. */
    create(&h, 4, 8);
    a = add_vhost(&h, "www.example.com:80", EXPECT_POLICY_CONTINUE, 0);
    b = add_vhost(&h, "www.example.com:443", EXPECT_POLICY_REJECT, 1);
    c = add_vhost(&h, "api.example.com:8080", EXPECT_POLICY_IGNORE, 0);
    d = add_vhost(&h, "old.example.com:80", EXPECT_POLICY_CONTINUE, 0);
    expect_shm_mark_all_inactive(&h);
    expect_shm_mark_active(&h, a, EXPECT_POLICY_CONTINUE, 0);
    expect_shm_mark_active(&h, b, EXPECT_POLICY_REJECT, 1);
    expect_shm_mark_active(&h, c, EXPECT_POLICY_IGNORE, 0);
    (void)d;
    expect_shm_set_override(&h, b, EXPECT_POLICY_CONTINUE);
    expect_shm_set_override(&h, c, EXPECT_POLICY_REJECT);
    for (k = 0; k < 7; k++) {
        expect_shm_count(expect_shm_vhost(&h, k % 3), (expect_ctr_t)(k % EXPECT_CTR_COUNT));
        expect_shm_count_417(expect_shm_vhost(&h, k % 3), (expect_producer_t)(k % 4),
                             FIXED_USEC + k);
    }
    event(&h, b, "www.example.com:443", EXPECT_PRODUCER_MOD_EXPECT, EXPECT_REASON_POLICY,
          "/upload?x=\"1\"&y=\\", "100-continue", "curl/8.5.0", 1024, 1);
    event(&h, a, "www.example.com:80", EXPECT_PRODUCER_CORE, EXPECT_REASON_CORE_UNKNOWN,
          "/a\r\nSet-Cookie: x", "200-ok\x1b[31m", "M\xc3\xbcller \xe2\x82\xac \xc2\x85 \xff\xfe", -1, 2);
    event(&h, c, "api.example.com:8080", EXPECT_PRODUCER_BACKEND, EXPECT_REASON_BACKEND,
          "/\xf0\x9f\x98\x80\xed\xa0\x80\xc0\xaf", "100-Continue", "\x7f\t", 0, 3);
    event(&h, a, "www.example.com:80", 9, 99, "/", "", "", 5, 4);
    save_seg("four_vhosts_overrides_events", &h);
    expect_shm_detach(&h);

    /* 4. A wrapped ring (12 claims in 4 slots) with one record left
     *    half-written by a dead writer and one torn by a later lap. */
    create(&h, 1, 4);
    a = add_vhost(&h, "ring.example:80", EXPECT_POLICY_REJECT, 0);
    for (k = 0; k < 12; k++) {
        event(&h, a, "ring.example:80", k % 4, k % 6, "/r", "100-continue", "ua", (int64_t)k, k);
    }
    h.ring[1].seq = 2 * 9 + 1;      /* claim 9 still being written */
    h.ring[2].seq = 2 * 14 + 2;     /* claim 14: from the future */
    save_seg("wrapped_ring_pending", &h);
    expect_shm_detach(&h);

    /* 5. A long name truncated at 127 bytes, strict, all counters full. */
    create(&h, 2, 1);
    {
        char longname[300];
        memset(longname, 'n', sizeof(longname) - 1);
        memcpy(longname + 200, ":443", 5);
        a = add_vhost(&h, longname, EXPECT_POLICY_IGNORE, 1);
        b = add_vhost(&h, "\xe2\x98\x83 \"quoted\"\\:80", EXPECT_POLICY_CONTINUE, 0);
        for (k = 0; k < EXPECT_CTR_COUNT; k++) {
            seed_vhost(&h, a)->ctr[k] = UINT64_MAX - k;
        }
        seed_vhost(&h, a)->last_417_usec = UINT64_MAX;
        seed_vhost(&h, b)->last_417_usec = 1;
        event(&h, b, longname, EXPECT_PRODUCER_HANDLER, EXPECT_REASON_HANDLER,
              longname, longname, longname, INT64_MAX, 1);
    }
    save_seg("long_names_full_counters", &h);

    /* 6. Damaged copies of the last one: the validators' early exits. */
    img = pair_image(&h, &len);
    {
        unsigned char *stats = img + 4, *ctl = img + 4 + h.size;
        expect_ctl_header_t cd;
        uint32_t v;

        save("bad_header_only", img, 4 + sizeof(expect_shm_header_t));
        ((expect_shm_header_t *)(void *)stats)->layout_version = 1;
        save("bad_version", img, len);
        free(img);
        img = pair_image(&h, &len);
        stats = img + 4;
        ctl = img + 4 + h.size;
        memcpy(&cd, ctl, sizeof(cd));
        v = 7;    /* override word of slot 0 */
        memcpy(ctl + cd.entries_offset + offsetof(expect_ctl_entry_t, override), &v, 4);
        save("bad_override", img, len);
        v = EXPECT_OVERRIDE_NONE;
        memcpy(ctl + cd.entries_offset + offsetof(expect_ctl_entry_t, override), &v, 4);
        /* Another segment's control file: same geometry, other token. */
        cd.pair_token ^= 0x5a5a;
        memcpy(ctl, &cd, sizeof(cd));
        save("mismatched_pair", img, len);
        cd.pair_token ^= 0x5a5a;
        memcpy(ctl, &cd, sizeof(cd));
        /* A statistics file with no control file at all. */
        save("no_control_file", img, 4 + h.size);
        (void)stats;
    }
    expect_shm_detach(&h);
    free(img);

    unlink(segpath);
    {
        char cpath[4200];
        if (expect_shm_control_path(cpath, sizeof(cpath), segpath) == 0) {
            unlink(cpath);
        }
    }
    rmdir(dir);
    return 0;
}
