/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_shm.c - the shared segment: layout, create/attach, validation of
 * damaged segments, the event ring, the control file and the pair.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect_shm.h"

typedef struct {
    char dir[256];
    char path[300];
    char cpath[320];
} fixture_t;

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));
    const char *tmp = getenv("TMPDIR");

    if (fx == NULL) {
        return -1;
    }
    snprintf(fx->dir, sizeof(fx->dir), "%s/expect-shm-XXXXXX",
             (tmp && *tmp) ? tmp : "/tmp");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/mod_expect.shm", fx->dir);
    snprintf(fx->cpath, sizeof(fx->cpath), "%s.ctl", fx->path);
    *state = fx;
    return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int teardown(void **state)
{
    fixture_t *fx = *state;

    nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static void make_segment(fixture_t *fx, expect_shm_t *h, uint32_t cap, uint32_t slots)
{
    char why[256] = "";

    assert_int_equal(expect_shm_create(h, fx->path, cap, slots, 64, why, sizeof(why)),
                     APR_SUCCESS);
    assert_non_null(h->base);
}

/*
 * The counters of a slot that must exist.  fail_msg() ends the test; the
 * abort() after it is never reached but lets the compiler see that the
 * result is not NULL where the test dereferences it.
 */
static expect_shm_vhost_t *vhost_of(const expect_shm_t *h, uint32_t slot)
{
    expect_shm_vhost_t *vh = expect_shm_vhost(h, slot);

    if (vh == NULL) {
        fail_msg("no vhost in slot %u", (unsigned)slot);
        abort();
    }
    return vh;
}

static void fill_event(expect_shm_event_t *ev, uint32_t k)
{
    char buf[64];

    expect_shm_event_init(ev);
    ev->time_usec = 1000u + k;
    ev->content_length = (int64_t)k;
    ev->vhost_slot = 0;
    ev->producer = EXPECT_PRODUCER_CORE;
    ev->reason = EXPECT_REASON_CORE_UNKNOWN;
    snprintf(buf, sizeof(buf), "/item/%u", k);
    EXPECT_SHM_EVENT_SET(ev, uri, buf);
    EXPECT_SHM_EVENT_SET(ev, method, "PUT");
    EXPECT_SHM_EVENT_SET(ev, vhost, "www.example.org:80");
}

/* ---- layout ---- */

static void test_layout(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h;
    long ps = sysconf(_SC_PAGESIZE);
    const expect_shm_header_t *hd;
    const expect_ctl_header_t *cd;
    struct stat st;

    assert_int_equal(sizeof(expect_shm_header_t), 136);
    assert_int_equal(sizeof(expect_ctl_header_t), 112);
    assert_int_equal(sizeof(expect_shm_vhost_t), 128);
    assert_int_equal(sizeof(expect_ctl_entry_t), 144);
    assert_int_equal(sizeof(expect_shm_event_t), 1128);
    assert_int_equal(sizeof(expect_shm_pending_t), 32);
    assert_int_equal(offsetof(expect_shm_header_t, pending_now) % 8, 0);
    assert_int_equal(offsetof(expect_shm_event_t, outcome) % 8, 0);
    assert_int_equal(offsetof(expect_shm_vhost_t, ctr) % 8, 0);
    assert_int_equal(offsetof(expect_shm_header_t, ring_head) % 8, 0);
    assert_int_equal(offsetof(expect_shm_header_t, layout_version), 8);
    assert_int_equal(offsetof(expect_ctl_header_t, layout_version), 8);
    assert_int_equal(offsetof(expect_ctl_entry_t, override), 0);
    assert_int_equal(offsetof(expect_shm_event_t, seq), 0);
    assert_int_equal(EXPECT_SHM_LAYOUT_VERSION, 5);
    assert_memory_not_equal(EXPECT_SHM_MAGIC, EXPECT_CTL_MAGIC, 8);

    assert_int_equal(expect_shm_size(0, 10, 0), 0);
    assert_int_equal(expect_shm_size(EXPECT_SHM_MAX_VHOSTS + 1, 10, 0), 0);
    assert_int_equal(expect_shm_size(1, EXPECT_SHM_MAX_RING_SLOTS + 1, 0), 0);
    assert_int_equal(expect_shm_control_size(0), 0);
    assert_int_equal(expect_shm_control_size(EXPECT_SHM_MAX_VHOSTS + 1), 0);
    assert_true(expect_shm_size(1, 0, 0) >= 2 * EXPECT_SHM_ALIGN);
    assert_true(expect_shm_control_size(1) >= 2 * EXPECT_SHM_ALIGN);
    assert_true(expect_shm_size(8, 1024, 0) > expect_shm_size(8, 0, 0));

    make_segment(fx, &h, 1500, 7);
    hd = h.hdr;
    cd = h.ctl_hdr;
    assert_int_equal(hd->total_size, expect_shm_size(1500, 7, 64));
    assert_int_equal(expect_shm_size(1, 0, 7), 0);   /* not whole buckets */
    assert_int_equal(expect_shm_size(1, 0, EXPECT_SHM_MAX_PENDING + 8), 0);
    assert_int_equal(hd->pending_offset % EXPECT_SHM_ALIGN, 0);
    assert_true(hd->pending_offset >= hd->ring_offset + 7ull * sizeof(expect_shm_event_t));
    assert_true(hd->pending_offset + 64ull * sizeof(expect_shm_pending_t) <= hd->total_size);
    assert_int_equal(h.pending_slots, 64);
    assert_int_equal(h.size, hd->total_size);
    assert_int_equal(cd->total_size, expect_shm_control_size(1500));
    assert_int_equal(h.ctl_size, cd->total_size);
    assert_int_equal(hd->vhosts_offset % EXPECT_SHM_ALIGN, 0);
    assert_int_equal(hd->vhosts_offset % (uint64_t)ps, 0);
    assert_int_equal(hd->ring_offset % EXPECT_SHM_ALIGN, 0);
    assert_int_equal(cd->entries_offset % (uint64_t)ps, 0);
    assert_true(hd->vhosts_offset >= sizeof(expect_shm_header_t));
    assert_true(hd->ring_offset >= hd->vhosts_offset + 1500ull * sizeof(expect_shm_vhost_t));
    assert_true(hd->ring_offset + 7ull * sizeof(expect_shm_event_t) <= hd->total_size);
    assert_true(cd->entries_offset + 1500ull * sizeof(expect_ctl_entry_t) <= cd->total_size);
    assert_memory_equal(hd->magic, EXPECT_SHM_MAGIC, 8);
    assert_memory_equal(cd->magic, EXPECT_CTL_MAGIC, 8);
    assert_int_equal(hd->layout_version, EXPECT_SHM_LAYOUT_VERSION);
    assert_int_equal(cd->layout_version, EXPECT_SHM_LAYOUT_VERSION);
    assert_int_equal(hd->creator_pid, (uint32_t)getpid());
    assert_true(hd->created_usec > 0);
    /* The pair: same token (non-zero) and capacity in both headers. */
    assert_true(hd->pair_token != 0);
    assert_int_equal(hd->pair_token, cd->pair_token);
    assert_int_equal(hd->vhost_capacity, cd->capacity);
    assert_int_equal(cd->count, 0);
    assert_int_equal(expect_shm_override(&h, 1499), EXPECT_POLICY_UNSET);
    assert_int_equal(h.ctl[1499].override, EXPECT_OVERRIDE_NONE);
    /* Every block allocated: no sparse file to SIGBUS a child later. */
    assert_int_equal(stat(fx->path, &st), 0);
    assert_true((uint64_t)st.st_blocks * 512 >= hd->total_size);
    assert_int_equal(stat(fx->cpath, &st), 0);
    assert_true((uint64_t)st.st_blocks * 512 >= cd->total_size);
    expect_shm_detach(&h);
    assert_null(h.base);
    assert_null(h.ctl_base);
}

/* ---- create / attach ---- */

static void test_create_attach_roundtrip(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h, r, h2;
    expect_shm_vhost_snap_t snap;
    struct stat st;
    char why[256] = "", side[340];
    uint32_t a, b, again;

    make_segment(fx, &h, 4, 8);
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_uid, geteuid());
    snprintf(side, sizeof(side), "%s.new", fx->path);
    assert_int_equal(access(side, F_OK), -1);   /* renamed, not left behind */
    assert_int_equal(stat(fx->cpath, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_uid, geteuid());
    snprintf(side, sizeof(side), "%s.new", fx->cpath);
    assert_int_equal(access(side, F_OK), -1);

    assert_int_equal(expect_shm_vhost_add(&h, "a.example:80", &a), APR_SUCCESS);
    assert_int_equal(expect_shm_vhost_add(&h, "b.example:443", &b), APR_SUCCESS);
    assert_int_equal(expect_shm_vhost_add(&h, "a.example:80", &again), APR_SUCCESS);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_int_equal(again, a);
    expect_shm_mark_active(&h, b, EXPECT_POLICY_REJECT, 1);
    expect_shm_count(expect_shm_vhost(&h, b), EXPECT_CTR_EXPECT);
    expect_shm_count(expect_shm_vhost(&h, b), EXPECT_CTR_EXPECT);
    expect_shm_count(expect_shm_vhost(&h, b), EXPECT_CTR_REJECTED);
    assert_int_equal(expect_shm_publish_state(&h, EXPECT_SEG_LIVE, 1, 4242, 77), APR_SUCCESS);

    assert_int_equal(expect_shm_attach(&r, fx->path, 0, why, sizeof(why)), EXPECT_SHM_OK);
    assert_int_equal(expect_shm_vhost_count(&r), 2);
    assert_int_equal(r.vhost_capacity, 4);
    assert_int_equal(r.ring_slots, 8);
    assert_int_equal(expect_shm_generation(&r), 1);
    {
        expect_shm_liveness_t l;
        expect_shm_liveness(&r, &l);
        assert_int_equal(l.state, EXPECT_SEG_LIVE);
        assert_int_equal(l.server_pid, 4242);
        assert_int_equal(l.server_start, 77);
        assert_true(l.state_usec >= l.created_usec && l.created_usec > 0);
    }
    assert_int_equal(expect_shm_vhost_find(&r, "b.example:443"), 1);
    assert_int_equal(expect_shm_vhost_find(&r, "b.example:80"), -1);
    assert_int_equal(expect_shm_snapshot(&r, 1, &snap), 0);
    assert_string_equal(snap.name, "b.example:443");
    assert_int_equal(snap.flags & EXPECT_VHOST_ACTIVE, EXPECT_VHOST_ACTIVE);
    assert_int_equal(snap.configured_policy, EXPECT_POLICY_REJECT);
    assert_int_equal(snap.strict, 1);
    assert_int_equal(snap.override, EXPECT_OVERRIDE_NONE);
    assert_int_equal(snap.ctr[EXPECT_CTR_EXPECT], 2);
    assert_int_equal(snap.ctr[EXPECT_CTR_REJECTED], 1);
    assert_int_equal(snap.ctr[EXPECT_CTR_CONTINUED], 0);
    assert_int_equal(expect_shm_snapshot(&r, 2, &snap), -1);

    /* Counting through one mapping shows through the other. */
    expect_shm_count(expect_shm_vhost(&h, a), EXPECT_CTR_HTTP10);
    assert_int_equal(expect_shm_snapshot(&r, 0, &snap), 0);
    assert_int_equal(snap.ctr[EXPECT_CTR_HTTP10], 1);

    /* A new segment replaces the file; the old mappings stay usable. */
    make_segment(fx, &h2, 4, 8);
    assert_int_not_equal(h2.ino, h.ino);
    expect_shm_count(expect_shm_vhost(&h, a), EXPECT_CTR_HTTP10);
    assert_int_equal(expect_shm_snapshot(&r, 0, &snap), 0);
    assert_int_equal(snap.ctr[EXPECT_CTR_HTTP10], 2);
    expect_shm_detach(&r);
    assert_int_equal(expect_shm_attach(&r, fx->path, 0, why, sizeof(why)), EXPECT_SHM_OK);
    assert_int_equal(expect_shm_vhost_count(&r), 0);

    expect_shm_detach(&r);
    expect_shm_detach(&h2);
    expect_shm_detach(&h);
}

static void test_vhost_table(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h;
    expect_shm_vhost_snap_t snap;
    char longname[200], other[200];
    uint32_t s, s2;

    make_segment(fx, &h, 2, 0);
    assert_int_equal(expect_shm_vhost_add(&h, "", &s), APR_EINVAL);
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    memcpy(other, longname, sizeof(other));
    other[190] = 'y';   /* differs only beyond what a record can hold */
    assert_int_equal(expect_shm_vhost_add(&h, longname, &s), APR_SUCCESS);
    assert_int_equal(strlen(h.ctl[s].name), EXPECT_SHM_NAME_LEN - 1);
    assert_int_equal(expect_shm_vhost_find(&h, longname), (int)s);
    /* Two long names that share all a row can hold never share a row:
     * the key is a prefix, '~' and a hash of the whole name. */
    assert_int_equal(expect_shm_vhost_find(&h, other), -1);
    assert_int_equal(h.ctl[s].name[EXPECT_SHM_NAME_LEN - 18], '~');
    assert_int_equal(expect_shm_vhost_add(&h, "two:80", &s2), APR_SUCCESS);
    assert_int_equal(expect_shm_vhost_add(&h, "three:80", &s2), APR_ENOSPC);
    assert_int_equal(expect_shm_vhost_find(&h, "three:80"), -1);

    expect_shm_mark_active(&h, 0, EXPECT_POLICY_IGNORE, 0);
    expect_shm_mark_active(&h, 1, (expect_policy_t)42, 0);  /* sanitised */
    assert_int_equal(h.ctl[1].configured_policy, EXPECT_POLICY_DEFAULT);
    expect_shm_mark_all_inactive(&h);
    assert_int_equal(expect_shm_snapshot(&h, 0, &snap), 0);
    assert_int_equal(snap.flags & EXPECT_VHOST_ACTIVE, 0);
    assert_int_equal(snap.configured_policy, EXPECT_POLICY_IGNORE);
    expect_shm_mark_active(&h, 0, EXPECT_POLICY_IGNORE, 0);
    assert_int_equal(h.ctl[0].flags & EXPECT_VHOST_ACTIVE, EXPECT_VHOST_ACTIVE);
    assert_int_equal(expect_shm_mark_active(&h, 2, EXPECT_POLICY_IGNORE, 0), APR_EINVAL);

    /* A child that scribbles over the whole statistics file (everything it
     * can write) changes neither the count, nor a name, nor a slot. */
    memset((char *)h.base + h.hdr->vhosts_offset, 0xff, h.size - h.hdr->vhosts_offset);
    memset(h.base, 0, sizeof(expect_shm_header_t));
    assert_int_equal(expect_shm_vhost_count(&h), 2);
    assert_int_equal(expect_shm_vhost_find(&h, "two:80"), 1);
    assert_int_equal(expect_shm_snapshot(&h, 1, &snap), 0);
    assert_string_equal(snap.name, "two:80");
    assert_null(expect_shm_vhost(&h, 2));

    /* Sealed, the parent cannot add or mark any more. */
    expect_shm_seal(&h);
    assert_int_equal(expect_shm_vhost_add(&h, "new:80", &s2), APR_EACCES);
    assert_int_equal(expect_shm_mark_active(&h, 0, EXPECT_POLICY_REJECT, 0), APR_EACCES);
    assert_int_equal(expect_shm_mark_all_inactive(&h), APR_EACCES);
    assert_int_equal(expect_shm_vhost_add(&h, "two:80", &s2), APR_SUCCESS);  /* found */
    expect_shm_detach(&h);
}

static void test_count_417(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h;
    expect_shm_vhost_t *vh;
    uint32_t s;

    make_segment(fx, &h, 1, 0);
    assert_int_equal(expect_shm_vhost_add(&h, "v:80", &s), APR_SUCCESS);
    vh = vhost_of(&h, s);
    expect_shm_count_417(vh, EXPECT_PRODUCER_MOD_EXPECT, 500);
    expect_shm_count_417(vh, EXPECT_PRODUCER_CORE, 700);
    expect_shm_count_417(vh, EXPECT_PRODUCER_HANDLER, 600);   /* older: time kept */
    expect_shm_count_417(vh, EXPECT_PRODUCER_BACKEND, 650);
    expect_shm_count_417(vh, (expect_producer_t)9, 10);
    assert_int_equal(vh->ctr[EXPECT_CTR_417_EXPECT], 1);
    assert_int_equal(vh->ctr[EXPECT_CTR_417_CORE], 1);
    assert_int_equal(vh->ctr[EXPECT_CTR_417_HANDLER], 1);
    assert_int_equal(vh->ctr[EXPECT_CTR_417_BACKEND], 1);
    assert_int_equal(vh->ctr[EXPECT_CTR_417_TOTAL], 5);
    assert_int_equal(vh->last_417_usec, 700);
    /* No-ops rather than crashes on bad input. */
    expect_shm_count(NULL, EXPECT_CTR_EXPECT);
    expect_shm_count(vh, EXPECT_CTR_COUNT);
    expect_shm_count_417(NULL, EXPECT_PRODUCER_CORE, 1);
    assert_int_equal(vh->ctr[EXPECT_CTR_EXPECT], 0);
    expect_shm_detach(&h);
}

/* ---- validation ---- */

typedef struct {
    unsigned char *buf;
    size_t len;
} image_t;

static image_t image_of(const expect_shm_t *h)
{
    image_t im;

    im.len = h->size;
    im.buf = malloc(im.len);
    assert_non_null(im.buf);
    memcpy(im.buf, h->base, im.len);
    return im;
}

static image_t ctl_image_of(const expect_shm_t *h)
{
    image_t im;

    im.len = h->ctl_size;
    im.buf = malloc(im.len);
    assert_non_null(im.buf);
    memcpy(im.buf, h->ctl_base, im.len);
    return im;
}

static expect_shm_header_t *image_hdr(image_t *im)
{
    return (expect_shm_header_t *)(void *)im->buf;
}

static expect_ctl_header_t *ctl_hdr(image_t *im)
{
    return (expect_ctl_header_t *)(void *)im->buf;
}

static expect_ctl_entry_t *ctl_entry(image_t *im, uint32_t i)
{
    return (expect_ctl_entry_t *)(void *)(im->buf + ctl_hdr(im)->entries_offset) + i;
}

static void expect_corrupt(const image_t *im, size_t len, const char *needle)
{
    char why[256] = "";

    assert_int_equal(expect_shm_validate(im->buf, len, why, sizeof(why)),
                     EXPECT_SHM_ECORRUPT);
    if (strstr(why, needle) == NULL) {
        fail_msg("reason \"%s\" lacks \"%s\"", why, needle);
    }
}

static void expect_ctl_corrupt(const image_t *im, size_t len, const char *needle)
{
    char why[256] = "";

    assert_int_equal(expect_shm_validate_control(im->buf, len, why, sizeof(why)),
                     EXPECT_SHM_ECORRUPT);
    if (strstr(why, needle) == NULL) {
        fail_msg("reason \"%s\" lacks \"%s\"", why, needle);
    }
}

static void test_validate_damage(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h;
    image_t good, im;
    uint32_t s;
    char why[256] = "";

    make_segment(fx, &h, 3, 4);
    assert_int_equal(expect_shm_vhost_add(&h, "ok:80", &s), APR_SUCCESS);
    good = image_of(&h);
    assert_int_equal(expect_shm_validate(good.buf, good.len, why, sizeof(why)), EXPECT_SHM_OK);
    im = image_of(&h);

#define RESTORE() memcpy(im.buf, good.buf, good.len)
    expect_corrupt(&im, 0, "too small");
    expect_corrupt(&im, sizeof(expect_shm_header_t) - 1, "too small");
    assert_int_equal(expect_shm_validate(NULL, 100, why, sizeof(why)), EXPECT_SHM_ECORRUPT);

    memcpy(image_hdr(&im)->magic, "MODEXPCX", 8);
    expect_corrupt(&im, im.len, "bad magic");
    RESTORE();
    /* The control file's magic is not the statistics file's. */
    memcpy(image_hdr(&im)->magic, EXPECT_CTL_MAGIC, 8);
    expect_corrupt(&im, im.len, "bad magic");
    RESTORE();

    image_hdr(&im)->layout_version = 7;
    expect_corrupt(&im, im.len, "layout version 7, expected 5");
    RESTORE();
    image_hdr(&im)->layout_version = 1;   /* the old single-file layout */
    expect_corrupt(&im, im.len, "layout version 1, expected 5");
    RESTORE();

    image_hdr(&im)->header_size = 64;
    expect_corrupt(&im, im.len, "header size");
    RESTORE();

    expect_corrupt(&im, im.len - EXPECT_SHM_ALIGN, "truncated");
    image_hdr(&im)->total_size = im.len - EXPECT_SHM_ALIGN;
    expect_corrupt(&im, im.len, "size mismatch");
    RESTORE();

    image_hdr(&im)->event_size = 1000;
    expect_corrupt(&im, im.len, "record sizes");
    RESTORE();

    image_hdr(&im)->ring_offset = image_hdr(&im)->total_size;   /* ring starts at EOF */
    expect_corrupt(&im, im.len, "event ring out of range");
    RESTORE();

    /* Offsets and sizes chosen so that offset + size wraps around 2^64. */
    image_hdr(&im)->vhosts_offset = UINT64_MAX - (EXPECT_SHM_ALIGN - 1);
    expect_corrupt(&im, im.len, "vhost table out of range");
    RESTORE();
    image_hdr(&im)->ring_slots = 0xFFFFFFFFu;
    expect_corrupt(&im, im.len, "implausible geometry");
    RESTORE();
    image_hdr(&im)->vhost_capacity = 0;
    expect_corrupt(&im, im.len, "implausible geometry");
    RESTORE();

    image_hdr(&im)->ring_offset += 8;
    expect_corrupt(&im, im.len, "not page-aligned");
    RESTORE();
    image_hdr(&im)->vhosts_offset = 0;   /* over the header */
    expect_corrupt(&im, im.len, "not page-aligned");
    RESTORE();

    /* Regions must not overlap: the ring inside the vhost table. */
    image_hdr(&im)->ring_offset = image_hdr(&im)->vhosts_offset;
    expect_corrupt(&im, im.len, "event ring out of range");
    RESTORE();

    /* Unaligned input (a fuzzer's buffer) must validate the same way. */
    {
        unsigned char *odd = malloc(good.len + 1);
        assert_non_null(odd);
        memcpy(odd + 1, good.buf, good.len);
        assert_int_equal(expect_shm_validate(odd + 1, good.len, why, sizeof(why)),
                         EXPECT_SHM_OK);
        free(odd);
    }
    /* A valid image after all that: RESTORE really restored. */
    assert_int_equal(expect_shm_validate(im.buf, im.len, why, sizeof(why)), EXPECT_SHM_OK);
#undef RESTORE
    free(im.buf);
    free(good.buf);
    expect_shm_detach(&h);
}

static void test_validate_control_damage(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h;
    image_t good, im, stats;
    uint32_t s;
    char why[256] = "";

    make_segment(fx, &h, 3, 4);
    assert_int_equal(expect_shm_vhost_add(&h, "ok:80", &s), APR_SUCCESS);
    good = ctl_image_of(&h);
    stats = image_of(&h);
    assert_int_equal(expect_shm_validate_control(good.buf, good.len, why, sizeof(why)),
                     EXPECT_SHM_OK);
    assert_int_equal(expect_shm_validate_pair(stats.buf, stats.len, good.buf, good.len,
                                              why, sizeof(why)), EXPECT_SHM_OK);
    /* Each file is not the other. */
    assert_int_equal(expect_shm_validate(good.buf, good.len, why, sizeof(why)),
                     EXPECT_SHM_ECORRUPT);
    assert_int_equal(expect_shm_validate_control(stats.buf, stats.len, why, sizeof(why)),
                     EXPECT_SHM_ECORRUPT);
    im = ctl_image_of(&h);

#define RESTORE() memcpy(im.buf, good.buf, good.len)
    expect_ctl_corrupt(&im, 0, "too small");
    expect_ctl_corrupt(&im, sizeof(expect_ctl_header_t) - 1, "too small");
    memcpy(ctl_hdr(&im)->magic, EXPECT_SHM_MAGIC, 8);
    expect_ctl_corrupt(&im, im.len, "bad magic");
    RESTORE();
    ctl_hdr(&im)->layout_version = 1;
    expect_ctl_corrupt(&im, im.len, "layout version 1, expected 5");
    RESTORE();
    ctl_hdr(&im)->header_size = 120;
    expect_ctl_corrupt(&im, im.len, "header size");
    RESTORE();
    expect_ctl_corrupt(&im, im.len - EXPECT_SHM_ALIGN, "truncated");
    ctl_hdr(&im)->total_size = im.len - EXPECT_SHM_ALIGN;
    expect_ctl_corrupt(&im, im.len, "size mismatch");
    RESTORE();
    ctl_hdr(&im)->entry_size = 240;
    expect_ctl_corrupt(&im, im.len, "entry size");
    RESTORE();
    ctl_hdr(&im)->capacity = 0;
    expect_ctl_corrupt(&im, im.len, "implausible geometry");
    RESTORE();
    ctl_hdr(&im)->capacity = 1000;   /* more entries than the file holds */
    expect_ctl_corrupt(&im, im.len, "entry table out of range");
    RESTORE();
    ctl_hdr(&im)->entries_offset = UINT64_MAX - (EXPECT_SHM_ALIGN - 1);
    expect_ctl_corrupt(&im, im.len, "entry table out of range");
    RESTORE();
    ctl_hdr(&im)->entries_offset = 8;
    expect_ctl_corrupt(&im, im.len, "not page-aligned");
    RESTORE();
    ctl_hdr(&im)->count = 4;
    expect_ctl_corrupt(&im, im.len, "4 vhosts in a table of 3");
    RESTORE();
    memset(ctl_entry(&im, 0)->name, 'A', EXPECT_SHM_NAME_LEN);
    expect_ctl_corrupt(&im, im.len, "vhost 0: name not terminated");
    RESTORE();
    /* An unused entry's name is not looked at; its override is. */
    memset(ctl_entry(&im, 1)->name, 'A', EXPECT_SHM_NAME_LEN);
    assert_int_equal(expect_shm_validate_control(im.buf, im.len, why, sizeof(why)),
                     EXPECT_SHM_OK);
    ctl_entry(&im, 0)->configured_policy = 9;
    expect_ctl_corrupt(&im, im.len, "policy 9 unknown");
    RESTORE();
    ctl_entry(&im, 0)->strict = 2;
    expect_ctl_corrupt(&im, im.len, "strict 2 unknown");
    RESTORE();
    ctl_entry(&im, 2)->override = 3;
    expect_ctl_corrupt(&im, im.len, "vhost 2: override 3 unknown");
    RESTORE();

    /* The pair: another token, or another capacity, is a mismatch. */
    ctl_hdr(&im)->pair_token ^= 1;
    assert_int_equal(expect_shm_validate_control(im.buf, im.len, why, sizeof(why)),
                     EXPECT_SHM_OK);
    assert_int_equal(expect_shm_validate_pair(stats.buf, stats.len, im.buf, im.len,
                                              why, sizeof(why)), EXPECT_SHM_ECORRUPT);
    assert_non_null(strstr(why, "do not belong together"));
    RESTORE();
    image_hdr(&stats)->vhost_capacity = 2;
    assert_int_equal(expect_shm_validate_pair(stats.buf, stats.len, im.buf, im.len,
                                              why, sizeof(why)), EXPECT_SHM_ECORRUPT);
    assert_non_null(strstr(why, "disagree"));
    assert_int_equal(expect_shm_validate_control(im.buf, im.len, why, sizeof(why)),
                     EXPECT_SHM_OK);
#undef RESTORE
    free(im.buf);
    free(good.buf);
    free(stats.buf);
    expect_shm_detach(&h);
}

static void test_attach_errors(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h, r;
    char why[256] = "", p[320];
    int fd;

    snprintf(p, sizeof(p), "%s/none", fx->dir);
    assert_int_equal(expect_shm_attach(&r, p, 0, why, sizeof(why)), EXPECT_SHM_ENOENT);
    snprintf(p, sizeof(p), "%s/none/deeper", fx->dir);
    assert_int_equal(expect_shm_attach(&r, p, 0, why, sizeof(why)), EXPECT_SHM_ENOENT);

    make_segment(fx, &h, 2, 2);

    /* A symlink, even to a good segment, is refused. */
    snprintf(p, sizeof(p), "%s/link.shm", fx->dir);
    assert_int_equal(symlink(fx->path, p), 0);
    assert_int_equal(expect_shm_attach(&r, p, 0, why, sizeof(why)), EXPECT_SHM_EACCES);
    assert_non_null(strstr(why, "symbolic link"));
    assert_null(r.base);

    /* A directory is not a segment: none there (planted, not damaged). */
    assert_int_equal(expect_shm_attach(&r, fx->dir, 0, why, sizeof(why)), EXPECT_SHM_ENOENT);
    assert_non_null(strstr(why, "not a regular file"));

    /* A truncated copy of a good segment. */
    snprintf(p, sizeof(p), "%s/short.shm", fx->dir);
    fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, h.base, h.size - EXPECT_SHM_ALIGN),
                     (ssize_t)(h.size - EXPECT_SHM_ALIGN));
    close(fd);
    assert_int_equal(expect_shm_attach(&r, p, 0, why, sizeof(why)), EXPECT_SHM_ECORRUPT);
    assert_non_null(strstr(why, "truncated"));
    assert_int_equal(truncate(p, 10), 0);
    assert_int_equal(expect_shm_attach(&r, p, 0, why, sizeof(why)), EXPECT_SHM_ECORRUPT);
    assert_non_null(strstr(why, "too small"));

    /* A good statistics file without its control file: no segment (3). */
    {
        char q[340], cq[360], cp[360];
        snprintf(q, sizeof(q), "%s/copy.shm", fx->dir);
        snprintf(cq, sizeof(cq), "%s.ctl", q);
        fd = open(q, O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, h.base, h.size), (ssize_t)h.size);
        close(fd);
        assert_int_equal(expect_shm_attach(&r, q, 0, why, sizeof(why)), EXPECT_SHM_ENOENT);
        assert_non_null(strstr(why, "control file"));
        /* With a copy of its control file: a valid pair. */
        fd = open(cq, O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, h.ctl_base, h.ctl_size), (ssize_t)h.ctl_size);
        close(fd);
        assert_int_equal(expect_shm_attach(&r, q, 0, why, sizeof(why)), EXPECT_SHM_OK);
        expect_shm_detach(&r);
        /* A symlink as control file, even to the right one, is refused. */
        assert_int_equal(unlink(cq), 0);
        assert_int_equal(symlink(fx->cpath, cq), 0);
        assert_int_equal(expect_shm_attach(&r, q, 0, why, sizeof(why)), EXPECT_SHM_EACCES);
        assert_non_null(strstr(why, "symbolic link"));
        assert_int_equal(unlink(cq), 0);
        /* A directory planted there: no control file (3). */
        assert_int_equal(mkdir(cq, 0700), 0);
        assert_int_equal(expect_shm_attach(&r, q, 0, why, sizeof(why)), EXPECT_SHM_ENOENT);
        assert_int_equal(rmdir(cq), 0);
        /* Another segment's control file: a mismatched pair (5). */
        snprintf(cp, sizeof(cp), "%s/other.shm", fx->dir);
        {
            expect_shm_t o;
            assert_int_equal(expect_shm_create(&o, cp, 2, 2, 8, why, sizeof(why)), APR_SUCCESS);
            fd = open(cq, O_WRONLY | O_CREAT | O_EXCL, 0600);
            assert_true(fd >= 0);
            assert_int_equal(write(fd, o.ctl_base, o.ctl_size), (ssize_t)o.ctl_size);
            close(fd);
            expect_shm_detach(&o);
        }
        assert_int_equal(expect_shm_attach(&r, q, 0, why, sizeof(why)), EXPECT_SHM_ECORRUPT);
        assert_non_null(strstr(why, "do not belong together"));
        assert_null(r.base);
        if (geteuid() == 0) {
            /* A control file someone else owns is not trusted. */
            fd = open(cq, O_WRONLY | O_TRUNC);
            assert_true(fd >= 0);
            assert_int_equal(write(fd, h.ctl_base, h.ctl_size), (ssize_t)h.ctl_size);
            close(fd);
            assert_int_equal(expect_shm_attach(&r, q, 0, why, sizeof(why)), EXPECT_SHM_OK);
            expect_shm_detach(&r);
            assert_int_equal(chown(cq, 12345, 12345), 0);
            assert_int_equal(expect_shm_attach(&r, q, 0, why, sizeof(why)), EXPECT_SHM_EACCES);
            assert_non_null(strstr(why, "uid 12345"));
        }
    }

    if (geteuid() == 0) {
        pid_t pid;
        int status;

        /* A segment owned by someone else is not trusted, even by root. */
        assert_int_equal(chown(p, 12345, 12345), 0);
        assert_int_equal(expect_shm_attach(&r, p, 0, why, sizeof(why)), EXPECT_SHM_EACCES);
        assert_non_null(strstr(why, "uid 12345"));

        /* An unprivileged user gets "permission denied" (exit code 4). */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            expect_shm_t c;
            if (setgid(65534) != 0 || setuid(65534) != 0) {
                _exit(99);
            }
            _exit((int)expect_shm_attach(&c, fx->path, 0, NULL, 0));
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), EXPECT_SHM_EACCES);
    }
    else {
        /* Our own file we may not open: permission denied, not "missing". */
        assert_int_equal(chmod(fx->path, 0), 0);
        assert_int_equal(expect_shm_attach(&r, fx->path, 0, why, sizeof(why)),
                         EXPECT_SHM_EACCES);
        assert_int_equal(chmod(fx->path, 0600), 0);
    }
    expect_shm_detach(&h);
}

/* ---- event ring ---- */

static void test_ring_basic(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h;
    expect_shm_event_t ev, out[8];
    uint64_t next = 99;
    size_t n, i;

    make_segment(fx, &h, 1, 4);
    for (i = 0; i < 3; i++) {
        fill_event(&ev, (uint32_t)i);
        assert_int_equal(expect_shm_record(&h, &ev), 1);
    }
    assert_int_equal(expect_shm_ring_head(&h), 3);
    n = expect_shm_read_events(&h, 0, out, 8, 0, &next);
    assert_int_equal(n, 3);
    assert_int_equal(next, 3);
    for (i = 0; i < 3; i++) {
        char want[32];
        snprintf(want, sizeof(want), "/item/%u", (unsigned)i);
        assert_int_equal(out[i].seq, 2 * i + 2);
        assert_int_equal(out[i].seq / 2 - 1, i);
        assert_int_equal(out[i].time_usec, 1000 + i);
        assert_int_equal(out[i].content_length, (int64_t)i);
        assert_int_equal(out[i].status, 417);
        assert_int_equal(out[i].producer, EXPECT_PRODUCER_CORE);
        assert_string_equal(out[i].uri, want);
        assert_string_equal(out[i].method, "PUT");
        assert_string_equal(out[i].client, "");
    }
    /* Following on: nothing new yet, then exactly the new one. */
    assert_int_equal(expect_shm_read_events(&h, next, out, 8, 1, &next), 0);
    assert_int_equal(next, 3);
    fill_event(&ev, 3);
    expect_shm_record(&h, &ev);
    assert_int_equal(expect_shm_read_events(&h, next, out, 8, 1, &next), 1);
    assert_string_equal(out[0].uri, "/item/3");
    assert_int_equal(next, 4);

    /* Writers truncate over-long strings and always terminate them. */
    {
        char big[2000];
        memset(big, 'u', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        expect_shm_event_init(&ev);
        EXPECT_SHM_EVENT_SET(&ev, uri, big);
        EXPECT_SHM_EVENT_SET(&ev, user_agent, big);
        EXPECT_SHM_EVENT_SET(&ev, client, NULL);
        memset(ev.protocol, 'P', sizeof(ev.protocol));   /* caller forgot the NUL */
        assert_int_equal(expect_shm_record(&h, &ev), 1);
        assert_int_equal(expect_shm_read_events(&h, next, out, 8, 0, &next), 1);
        assert_int_equal(strlen(out[0].uri), sizeof(out[0].uri) - 1);
        assert_int_equal(strlen(out[0].user_agent), sizeof(out[0].user_agent) - 1);
        assert_int_equal(strlen(out[0].protocol), sizeof(out[0].protocol) - 1);
        assert_int_equal(out[0].content_length, -1);
    }
    expect_shm_detach(&h);
}

/* The module writes events in place: the slot still holds the previous
 * lap's bytes, and what it writes must be all that a reader sees. */
static void test_ring_in_place(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h;
    expect_shm_event_t ev, *slot, out[2];
    uint64_t ticket = 0, next;
    char big[600];

    make_segment(fx, &h, 1, 1);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    fill_event(&ev, 7);
    EXPECT_SHM_EVENT_SET(&ev, uri, big);
    EXPECT_SHM_EVENT_SET(&ev, user_agent, big);
    ev.status = 500;   /* ignored: an event is always a 417 */
    assert_int_equal(expect_shm_record(&h, &ev), 1);

    slot = expect_shm_claim(&h, &ticket);
    assert_non_null(slot);
    assert_int_equal(ticket, 3);            /* claim 1, odd: being written */
    assert_int_equal(slot->seq, 3);
    /* Half written: a reader skips it rather than show a mix. */
    EXPECT_SHM_EVENT_SET(slot, uri, "/short");
    assert_int_equal(expect_shm_read_events(&h, 1, out, 2, 0, &next), 0);
    slot->time_usec = 42;
    slot->content_length = -1;
    slot->vhost_slot = 0;
    slot->producer = EXPECT_PRODUCER_MOD_EXPECT;
    slot->reason = EXPECT_REASON_POLICY;
    slot->decision = 2;
    EXPECT_SHM_EVENT_SET(slot, vhost, "v:80");
    EXPECT_SHM_EVENT_SET(slot, client, "192.0.2.1");
    EXPECT_SHM_EVENT_SET(slot, method, "POST");
    EXPECT_SHM_EVENT_SET(slot, protocol, "HTTP/1.1");
    EXPECT_SHM_EVENT_SET(slot, expect, "100-continue");
    EXPECT_SHM_EVENT_SET(slot, user_agent, NULL);
    memset(slot->expect, 'e', sizeof(slot->expect));   /* a writer forgot the NUL */
    expect_shm_publish(slot, ticket);
    assert_int_equal(slot->seq, 4);

    assert_int_equal(expect_shm_read_events(&h, 0, out, 2, 0, &next), 1);
    assert_int_equal(next, 2);
    assert_int_equal(out[0].time_usec, 42);
    assert_int_equal(out[0].status, 417);
    assert_int_equal(out[0].reserved0, 0);
    assert_string_equal(out[0].uri, "/short");
    assert_string_equal(out[0].user_agent, "");
    /* Nothing of the older, longer strings survives past the new ones. */
    {
        size_t i;
        for (i = strlen("/short"); i < sizeof(slot->uri); i++) {
            assert_int_equal(slot->uri[i], 0);
        }
        for (i = 0; i < sizeof(slot->user_agent); i++) {
            assert_int_equal(slot->user_agent[i], 0);
        }
    }
    assert_string_equal(out[0].client, "192.0.2.1");
    assert_int_equal(strlen(out[0].expect), sizeof(out[0].expect) - 1);

    /* No ring: nothing to claim, and nothing counted as dropped. */
    expect_shm_detach(&h);
    make_segment(fx, &h, 1, 0);
    assert_null(expect_shm_claim(&h, &ticket));
    assert_int_equal(h.hdr->ring_dropped, 0);
    expect_shm_detach(&h);
}

static void test_ring_wrap(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h;
    expect_shm_event_t ev, out[8];
    uint64_t next;
    size_t n, i;

    make_segment(fx, &h, 1, 4);
    for (i = 0; i < 10; i++) {
        fill_event(&ev, (uint32_t)i);
        assert_int_equal(expect_shm_record(&h, &ev), 1);
    }
    assert_int_equal(expect_shm_ring_head(&h), 10);
    n = expect_shm_read_events(&h, 0, out, 8, 0, &next);
    assert_int_equal(n, 4);   /* only the last lap survives */
    assert_int_equal(next, 10);
    for (i = 0; i < 4; i++) {
        assert_int_equal(out[i].time_usec, 1000 + 6 + i);   /* oldest first */
    }
    /* A small buffer takes the oldest and says where to go on. */
    n = expect_shm_read_events(&h, 0, out, 2, 0, &next);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].time_usec, 1006);
    assert_int_equal(out[1].time_usec, 1007);
    assert_int_equal(next, 8);
    n = expect_shm_read_events(&h, next, out, 8, 0, &next);
    assert_int_equal(n, 2);
    assert_int_equal(out[1].time_usec, 1009);
    /* "the last N": from head - N */
    n = expect_shm_read_events(&h, expect_shm_ring_head(&h) - 1, out, 8, 0, &next);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].time_usec, 1009);
    /* A follower ahead of a recreated segment is brought back to its head. */
    n = expect_shm_read_events(&h, 1000, out, 8, 1, &next);
    assert_int_equal(n, 0);
    assert_int_equal(next, 10);
    expect_shm_detach(&h);
}

static void test_ring_torn(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h;
    expect_shm_event_t ev, out[8];
    uint64_t next;
    size_t n, i;

    make_segment(fx, &h, 1, 4);
    for (i = 0; i < 4; i++) {
        fill_event(&ev, (uint32_t)i);
        expect_shm_record(&h, &ev);
    }
    /* Claim 1 looks mid-write (odd), claim 2's slot carries a word from
     * another lap (as if overwritten while we looked). */
    h.ring[1].seq = 2 * 1 + 1;
    h.ring[2].seq = 2 * 6 + 2;
    n = expect_shm_read_events(&h, 0, out, 8, 0, &next);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].time_usec, 1000);
    assert_int_equal(out[1].time_usec, 1003);
    assert_int_equal(next, 4);
    /* A follower waits at the record still being written... */
    n = expect_shm_read_events(&h, 0, out, 8, 1, &next);
    assert_int_equal(n, 1);
    assert_int_equal(next, 1);
    /* ...and gets it once published. */
    h.ring[1].seq = 2 * 1 + 2;
    n = expect_shm_read_events(&h, next, out, 8, 1, &next);
    assert_int_equal(n, 2);   /* claim 1, then 3; claim 2 is gone */
    assert_int_equal(out[0].time_usec, 1001);
    assert_int_equal(out[1].time_usec, 1003);

    /* Claim 5 (slot 1) is taken but its writer has not marked the slot
     * yet: the word is still claim 1's.  A follower waits there instead of
     * skipping it for good; a plain read skips it. */
    h.hdr->ring_head = 6;
    h.ring[1].seq = 2 * 1 + 2;
    n = expect_shm_read_events(&h, 5, out, 8, 1, &next);
    assert_int_equal(n, 0);
    assert_int_equal(next, 5);
    n = expect_shm_read_events(&h, 5, out, 8, 0, &next);
    assert_int_equal(n, 0);
    assert_int_equal(next, 6);
    h.ring[1].seq = 2 * 5 + 2;   /* published now */
    n = expect_shm_read_events(&h, 5, out, 8, 1, &next);
    assert_int_equal(n, 1);
    assert_int_equal(next, 6);
    h.hdr->ring_head = 4;
    h.ring[1].seq = 2 * 1 + 2;

    /* Unterminated strings in a published slot come out terminated. */
    memset(h.ring[3].uri, 'X', sizeof(h.ring[3].uri));
    memset(h.ring[3].vhost, 'V', sizeof(h.ring[3].vhost));
    n = expect_shm_read_events(&h, 3, out, 8, 0, &next);
    assert_int_equal(n, 1);
    assert_int_equal(strlen(out[0].uri), sizeof(out[0].uri) - 1);
    assert_int_equal(strlen(out[0].vhost), sizeof(out[0].vhost) - 1);

    /* Writer side: a slot held by a recent writer is not raced for. */
    assert_int_equal(h.hdr->ring_dropped, 0);
    h.ring[0].seq = 2 * 4 + 1;   /* claim 4 "still writing" */
    h.hdr->ring_head = 8;        /* our claim will be 8, same slot */
    fill_event(&ev, 8);
    assert_int_equal(expect_shm_record(&h, &ev), 0);
    assert_int_equal(h.hdr->ring_dropped, 1);
    assert_int_equal(h.ring[0].seq, 2 * 4 + 1);
    /* Exactly one lap behind (the normal distance between a slot's
     * writers) and up to EXPECT_SHM_STALE_LAPS laps behind: still a live
     * writer, never raced. */
    h.hdr->ring_head = 4 + 4 * EXPECT_SHM_STALE_LAPS;
    assert_int_equal(expect_shm_record(&h, &ev), 0);
    assert_int_equal(h.hdr->ring_dropped, 2);
    assert_int_equal(h.ring[0].seq, 2 * 4 + 1);
    /* One claim more than that: presumed dead, taken over. */
    h.hdr->ring_head = 4 + 4 * EXPECT_SHM_STALE_LAPS + 4;
    fill_event(&ev, 78);
    assert_int_equal(expect_shm_record(&h, &ev), 1);
    assert_int_equal(h.ring[0].seq, 2 * (4 + 4 * EXPECT_SHM_STALE_LAPS + 4) + 2);
    h.ring[0].seq = 2 * 4 + 1;
    h.hdr->ring_dropped = 1;
    /* A writer that stalled thousands of claims ago is presumed dead. */
    h.hdr->ring_head = 4 + 4 * 1024;
    fill_event(&ev, 77);
    assert_int_equal(expect_shm_record(&h, &ev), 1);
    assert_int_equal(h.ring[0].seq, 2 * (4 + 4 * 1024) + 2);
    assert_int_equal(h.ring[0].time_usec, 1077);
    /* A slot already written by a later lap is never overwritten by an older claim. */
    h.hdr->ring_head = 8;
    assert_int_equal(expect_shm_record(&h, &ev), 0);
    assert_int_equal(h.hdr->ring_dropped, 2);
    expect_shm_detach(&h);
}

static void test_ring_zero(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h, r;
    expect_shm_event_t ev, out[2];
    uint64_t next = 5;
    char why[128];

    make_segment(fx, &h, 1, 0);
    fill_event(&ev, 1);
    assert_int_equal(expect_shm_record(&h, &ev), 0);
    assert_int_equal(expect_shm_ring_head(&h), 0);
    assert_int_equal(expect_shm_read_events(&h, 0, out, 2, 0, &next), 0);
    assert_int_equal(next, 0);
    assert_int_equal(expect_shm_attach(&r, fx->path, 0, why, sizeof(why)), EXPECT_SHM_OK);
    assert_int_equal(r.ring_slots, 0);
    expect_shm_detach(&r);
    expect_shm_detach(&h);
}

/* Writers in other processes hammer a small ring while we read: every
 * record that comes out must be one writer's, whole. */
static void test_ring_concurrent(void **state)
{
    fixture_t *fx = *state;
    enum { WRITERS = 4, EACH = 3000, SLOTS = 16 };
    expect_shm_t h;
    expect_shm_event_t out[SLOTS];
    pid_t pids[WRITERS];
    uint64_t next = 0, checked = 0;
    int w, status, running;
    size_t n, i;

    make_segment(fx, &h, 1, SLOTS);
    for (w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            expect_shm_event_t ev;
            char uri[64];
            uint32_t k;
            for (k = 0; k < EACH; k++) {
                expect_shm_event_init(&ev);
                ev.time_usec = (uint64_t)w * 1000000u + k;
                ev.content_length = (int64_t)k;
                ev.vhost_slot = (uint32_t)w;
                snprintf(uri, sizeof(uri), "/w%d/%u", w, k);
                EXPECT_SHM_EVENT_SET(&ev, uri, uri);
                memset(ev.user_agent, 'a' + w, sizeof(ev.user_agent) - 1);
                expect_shm_record(&h, &ev);
            }
            _exit(0);
        }
    }
    do {
        running = 0;
        for (w = 0; w < WRITERS; w++) {
            if (pids[w] > 0 && waitpid(pids[w], &status, WNOHANG) == 0) {
                running = 1;
            }
        }
        n = expect_shm_read_events(&h, next, out, SLOTS, 0, &next);
        for (i = 0; i < n; i++) {
            char want[64];
            uint32_t wr = out[i].vhost_slot;
            assert_true(wr < WRITERS);
            assert_int_equal(out[i].time_usec, (uint64_t)wr * 1000000u
                             + (uint64_t)out[i].content_length);
            snprintf(want, sizeof(want), "/w%u/%lld", wr, (long long)out[i].content_length);
            assert_string_equal(out[i].uri, want);
            assert_int_equal(out[i].user_agent[0], 'a' + (int)wr);
            assert_int_equal(out[i].user_agent[158], 'a' + (int)wr);
            checked++;
        }
    } while (running);
    for (w = 0; w < WRITERS; w++) {
        waitpid(pids[w], &status, 0);
    }
    assert_int_equal(expect_shm_ring_head(&h), (uint64_t)WRITERS * EACH);
    /* The final lap is all there once writers are gone. */
    n = expect_shm_read_events(&h, 0, out, SLOTS, 0, &next);
    assert_true(n <= SLOTS);
    /* A slot missing from the last lap means that lap's writer dropped. */
    assert_true(n + h.hdr->ring_dropped >= SLOTS);
    for (i = 0; i < SLOTS; i++) {
        assert_int_equal(h.ring[i].seq % 2, 0);   /* nobody left mid-write */
    }
    assert_true(checked > 0);
    expect_shm_detach(&h);
}

/* ---- control area ---- */

static void test_override(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h, r, ro;
    expect_shm_vhost_snap_t snap;
    char why[128];
    uint32_t s, i;

    make_segment(fx, &h, 3, 0);
    expect_shm_vhost_add(&h, "a:80", &s);
    expect_shm_vhost_add(&h, "b:80", &s);
    expect_shm_mark_active(&h, 0, EXPECT_POLICY_CONTINUE, 0);
    expect_shm_mark_active(&h, 1, EXPECT_POLICY_CONTINUE, 0);
    expect_shm_seal(&h);
    expect_shm_count(expect_shm_vhost(&h, 0), EXPECT_CTR_EXPECT);
    expect_shm_count(expect_shm_vhost(&h, 1), EXPECT_CTR_EXPECT);
    expect_shm_count_417(expect_shm_vhost(&h, 1), EXPECT_PRODUCER_CORE, 5);

    assert_int_equal(expect_shm_attach(&r, fx->path, 1, why, sizeof(why)), EXPECT_SHM_OK);
    assert_int_equal(r.control_writable, EXPECT_CTL_MAPPED);
    assert_int_equal(expect_shm_set_override(&r, 1, EXPECT_POLICY_REJECT), APR_SUCCESS);
    assert_int_equal(expect_shm_override(&h, 1), EXPECT_POLICY_REJECT);
    assert_int_equal(expect_shm_override(&h, 0), EXPECT_POLICY_UNSET);
    assert_int_equal(expect_shm_snapshot(&r, 1, &snap), 0);
    assert_int_equal(snap.override, EXPECT_POLICY_REJECT);
    assert_int_equal(expect_shm_set_override(&r, 1, 7), APR_EINVAL);
    assert_int_equal(expect_shm_set_override(&r, 2, EXPECT_POLICY_IGNORE), APR_EINVAL); /* unused */
    assert_int_equal(expect_shm_set_override(&r, 3, EXPECT_POLICY_IGNORE), APR_EINVAL);
    assert_int_equal(expect_shm_override(&h, 1), EXPECT_POLICY_REJECT);
    assert_int_equal(expect_shm_set_override(&r, 1, EXPECT_OVERRIDE_NONE), APR_SUCCESS);
    assert_int_equal(expect_shm_override(&h, 1), EXPECT_POLICY_UNSET);
    assert_int_equal(expect_shm_set_override_all(&r, 7), APR_EINVAL);
    assert_int_equal(expect_shm_set_override_all(&r, EXPECT_POLICY_IGNORE), APR_SUCCESS);
    for (i = 0; i < 2; i++) {
        assert_int_equal(expect_shm_override(&h, i), EXPECT_POLICY_IGNORE);
    }
    /* "set all" is every ACTIVE entry of the control file, nothing else. */
    assert_int_equal(expect_shm_override(&h, 2), EXPECT_POLICY_UNSET);
    assert_int_equal(expect_shm_unseal(&h, fx->path), APR_SUCCESS);
    assert_int_equal(expect_shm_mark_all_inactive(&h), APR_SUCCESS);
    assert_int_equal(expect_shm_mark_active(&h, 1, EXPECT_POLICY_CONTINUE, 0), APR_SUCCESS);
    expect_shm_seal(&h);
    assert_int_equal(expect_shm_set_override_all(&r, EXPECT_POLICY_REJECT), APR_SUCCESS);
    assert_int_equal(expect_shm_override(&h, 0), EXPECT_POLICY_IGNORE);
    assert_int_equal(expect_shm_override(&h, 1), EXPECT_POLICY_REJECT);
    /* Garbage in a control word reads as "no override". */
    r.ctl[2].override = 12345;
    assert_int_equal(expect_shm_override(&h, 2), EXPECT_POLICY_UNSET);
    assert_int_equal(expect_shm_override(&h, 99), EXPECT_POLICY_UNSET);
    r.ctl[2].override = EXPECT_OVERRIDE_NONE;

    assert_int_equal(expect_shm_reset(&r, 1), APR_SUCCESS);
    assert_int_equal(h.vhosts[1].ctr[EXPECT_CTR_EXPECT], 0);
    assert_int_equal(h.vhosts[1].ctr[EXPECT_CTR_417_TOTAL], 0);
    assert_int_equal(h.vhosts[1].last_417_usec, 0);
    assert_int_equal(h.vhosts[0].ctr[EXPECT_CTR_EXPECT], 1);
    assert_int_equal(expect_shm_reset(&r, 2), APR_EINVAL);   /* slot not in use */
    assert_int_equal(expect_shm_reset_all(&r), APR_SUCCESS);
    assert_int_equal(h.vhosts[0].ctr[EXPECT_CTR_EXPECT], 0);
    /* Reset leaves overrides alone. */
    assert_int_equal(expect_shm_override(&h, 0), EXPECT_POLICY_IGNORE);

    /* A read-only attach changes nothing. */
    assert_int_equal(expect_shm_attach(&ro, fx->path, 0, why, sizeof(why)), EXPECT_SHM_OK);
    assert_int_equal(expect_shm_set_override(&ro, 0, EXPECT_POLICY_REJECT), APR_EACCES);
    assert_int_equal(expect_shm_set_override_all(&ro, EXPECT_POLICY_REJECT), APR_EACCES);
    assert_int_equal(expect_shm_reset(&ro, 0), APR_EACCES);
    assert_int_equal(expect_shm_reset_all(&ro), APR_EACCES);
    assert_int_equal(expect_shm_override(&ro, 0), EXPECT_POLICY_IGNORE);
    expect_shm_detach(&ro);
    expect_shm_detach(&r);
    expect_shm_detach(&h);
}

static void test_control_ro(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h, r, h2;
    char why[128];
    uint32_t s;
    int fd;

    make_segment(fx, &h, 2, 1);
    expect_shm_vhost_add(&h, "a:80", &s);
    /* The parent's only mapping of the control file is read-only, from
     * the start; it writes through pwrite() until sealed. */
    assert_int_equal(h.control_writable, EXPECT_CTL_PWRITE);
    assert_int_equal(mprotect(h.ctl_base, h.ctl_size, PROT_READ | PROT_WRITE), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(expect_shm_set_override(&h, 0, EXPECT_POLICY_IGNORE), APR_SUCCESS);
    assert_int_equal(h.ctl[0].override, EXPECT_POLICY_IGNORE);   /* seen via the mapping */
    fd = h.ctl_fd;
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    expect_shm_seal(&h);
    assert_int_equal(h.control_writable, EXPECT_CTL_RDONLY);
    assert_int_equal(fcntl(fd, F_GETFD), -1);   /* closed */
    assert_int_equal(mprotect(h.ctl_base, h.ctl_size, PROT_READ | PROT_WRITE), -1);
    assert_int_equal(expect_shm_set_override(&h, 0, EXPECT_POLICY_REJECT), APR_EACCES);
    /* Counting still works through the statistics mapping. */
    expect_shm_count(expect_shm_vhost(&h, 0), EXPECT_CTR_CONTINUED);
    assert_int_equal(h.vhosts[0].ctr[EXPECT_CTR_CONTINUED], 1);

    /* expectctl's writes show through the read-only view. */
    assert_int_equal(expect_shm_attach(&r, fx->path, 1, why, sizeof(why)), EXPECT_SHM_OK);
    assert_int_equal(expect_shm_set_override(&r, 0, EXPECT_POLICY_REJECT), APR_SUCCESS);
    assert_int_equal(expect_shm_override(&h, 0), EXPECT_POLICY_REJECT);

    assert_int_equal(expect_shm_unseal(&h, fx->path), APR_SUCCESS);
    assert_int_equal(expect_shm_set_override(&h, 0, EXPECT_POLICY_IGNORE), APR_SUCCESS);
    assert_int_equal(expect_shm_override(&r, 0), EXPECT_POLICY_IGNORE);
    expect_shm_seal(&h);
    assert_int_equal(mprotect(h.ctl_base, h.ctl_size, PROT_READ | PROT_WRITE), -1);

    /* Another file at the path now: refuse to write into it. */
    make_segment(fx, &h2, 2, 1);
    assert_int_not_equal(expect_shm_unseal(&h, fx->path), APR_SUCCESS);
    assert_int_equal(h.control_writable, EXPECT_CTL_RDONLY);
    assert_int_equal(expect_shm_override(&h, 0), EXPECT_POLICY_IGNORE);
    /* Nor a symlink to our own control file. */
    expect_shm_detach(&h2);
    assert_int_equal(unlink(fx->cpath), 0);
    {
        char real[400];
        snprintf(real, sizeof(real), "%s/real.ctl", fx->dir);
        assert_int_equal(symlink(real, fx->cpath), 0);
        assert_int_not_equal(expect_shm_unseal(&h, fx->path), APR_SUCCESS);
    }
    expect_shm_detach(&r);
    expect_shm_detach(&h);
}

/* The parent's checks before it reuses a segment across a restart. */
static void test_reuse_checks(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h, h2;
    char why[256] = "", moved[340];
    uint32_t s;

    make_segment(fx, &h, 2, 2);
    expect_shm_vhost_add(&h, "a:80", &s);
    expect_shm_seal(&h);
    assert_int_equal(expect_shm_is_current(&h, fx->path), 1);
    assert_int_equal(expect_shm_check(&h, why, sizeof(why)), EXPECT_SHM_OK);

    /* A child scribbled the statistics header: not reusable. */
    h.hdr->ring_slots = 1000;
    assert_int_equal(expect_shm_check(&h, why, sizeof(why)), EXPECT_SHM_ECORRUPT);
    h.hdr->ring_slots = 2;
    h.hdr->pair_token ^= 1;
    assert_int_equal(expect_shm_check(&h, why, sizeof(why)), EXPECT_SHM_ECORRUPT);
    assert_non_null(strstr(why, "do not belong together"));
    h.hdr->pair_token ^= 1;
    assert_int_equal(expect_shm_check(&h, why, sizeof(why)), EXPECT_SHM_OK);

    /* Either file moved away or replaced: not current. */
    snprintf(moved, sizeof(moved), "%s.moved", fx->cpath);
    assert_int_equal(rename(fx->cpath, moved), 0);
    assert_int_equal(expect_shm_is_current(&h, fx->path), 0);
    assert_int_equal(rename(moved, fx->cpath), 0);
    assert_int_equal(expect_shm_is_current(&h, fx->path), 1);
    assert_int_equal(unlink(fx->path), 0);
    assert_int_equal(expect_shm_is_current(&h, fx->path), 0);
    make_segment(fx, &h2, 2, 2);
    assert_int_equal(expect_shm_is_current(&h, fx->path), 0);
    assert_int_equal(expect_shm_is_current(&h2, fx->path), 1);
    expect_shm_detach(&h2);
    expect_shm_detach(&h);
    assert_int_equal(expect_shm_check(&h, why, sizeof(why)), EXPECT_SHM_ENOENT);
    assert_int_equal(expect_shm_is_current(&h, fx->path), 0);
}

/* -k graceful-stop, then -k start: the old parent exits last.  It must
 * remove only its own files, not the new server's. */
static void test_remove_if_same(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t old, neu, r;
    char why[256] = "", link[340];
    struct stat st;

    make_segment(fx, &old, 2, 2);
    expect_shm_seal(&old);
    make_segment(fx, &neu, 2, 2);      /* the new server replaced both files */
    expect_shm_seal(&neu);
    expect_shm_remove(&old, fx->path); /* the old parent's exit */
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal((uint64_t)st.st_ino, neu.ino);
    assert_int_equal(stat(fx->cpath, &st), 0);
    assert_int_equal((uint64_t)st.st_ino, neu.ctl_ino);
    assert_int_equal(expect_shm_attach(&r, fx->path, 0, why, sizeof(why)), EXPECT_SHM_OK);
    expect_shm_detach(&r);

    assert_int_equal(expect_shm_remove_if_same(fx->path, old.dev, old.ino), 0);
    assert_int_equal(expect_shm_remove_if_same(fx->path, neu.dev, neu.ino), 1);
    assert_int_equal(access(fx->path, F_OK), -1);
    assert_int_equal(expect_shm_remove_if_same(fx->path, neu.dev, neu.ino), 0);  /* gone */
    /* A symlink to our file at the path is not ours to remove (nor followed). */
    snprintf(link, sizeof(link), "%s/elsewhere", fx->dir);
    assert_int_equal(rename(fx->cpath, link), 0);
    assert_int_equal(symlink(link, fx->cpath), 0);
    assert_int_equal(expect_shm_remove_if_same(fx->cpath, neu.ctl_dev, neu.ctl_ino), 0);
    assert_int_equal(lstat(link, &st), 0);
    assert_int_equal(unlink(fx->cpath), 0);
    assert_int_equal(rename(link, fx->cpath), 0);
    /* The new server's own stop removes both. */
    make_segment(fx, &r, 1, 0);
    expect_shm_detach(&r);
    expect_shm_detach(&neu);
    assert_int_equal(expect_shm_attach(&neu, fx->path, 0, why, sizeof(why)), EXPECT_SHM_OK);
    expect_shm_remove(&neu, fx->path);
    assert_int_equal(access(fx->path, F_OK), -1);
    assert_int_equal(access(fx->cpath, F_OK), -1);
    expect_shm_detach(&neu);
    expect_shm_detach(&old);
}

/* A file system without room must fail the creation cleanly (httpd then
 * logs EXP0010 and refuses to start), not leave a sparse file that
 * SIGBUSes a child at its first write.  RLIMIT_FSIZE makes the
 * allocation fail as a full file system would (EFBIG rather than ENOSPC). */
static void test_create_allocation_failure(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t h, r;
    char why[256] = "", side[340];
    pid_t pid;
    int status;

    make_segment(fx, &h, 1, 0);        /* a server already running here */
    expect_shm_seal(&h);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl;
        expect_shm_t c;
        apr_status_t rv;

        signal(SIGXFSZ, SIG_IGN);
        rl.rlim_cur = rl.rlim_max = 64 * 1024;
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
            _exit(90);
        }
        /* Both the large statistics file and a large control file. */
        rv = expect_shm_create(&c, fx->path, 64, 1024, 64, why, sizeof(why));
        if (rv == APR_SUCCESS) {
            _exit(91);
        }
        if (strstr(why, "cannot allocate") == NULL || c.base != NULL) {
            _exit(92);
        }
        rv = expect_shm_create(&c, fx->path, 450, 0, 0, why, sizeof(why));  /* stats fits, .ctl not */
        if (rv == APR_SUCCESS) {
            _exit(93);
        }
        if (strstr(why, ".ctl.new") == NULL) {
            _exit(94);
        }
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Nothing left at the side names, and the running segment untouched. */
    snprintf(side, sizeof(side), "%s.new", fx->path);
    assert_int_equal(access(side, F_OK), -1);
    snprintf(side, sizeof(side), "%s.new", fx->cpath);
    assert_int_equal(access(side, F_OK), -1);
    assert_int_equal(expect_shm_is_current(&h, fx->path), 1);
    assert_int_equal(expect_shm_attach(&r, fx->path, 0, why, sizeof(why)), EXPECT_SHM_OK);
    expect_shm_detach(&r);
    expect_shm_detach(&h);
}

static void test_copy_vhosts(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t old, neu;
    expect_shm_vhost_snap_t snap;
    uint32_t s;
    char why[128];
    int slot;

    make_segment(fx, &old, 2, 0);
    expect_shm_vhost_add(&old, "keep:80", &s);
    expect_shm_mark_active(&old, s, EXPECT_POLICY_REJECT, 1);
    expect_shm_count(expect_shm_vhost(&old, s), EXPECT_CTR_REJECTED);
    expect_shm_count_417(expect_shm_vhost(&old, s), EXPECT_PRODUCER_MOD_EXPECT, 4242);
    expect_shm_set_override(&old, s, EXPECT_POLICY_IGNORE);
    expect_shm_vhost_add(&old, "gone:80", &s);
    expect_shm_count(expect_shm_vhost(&old, s), EXPECT_CTR_EXPECT);

    assert_int_equal(expect_shm_create(&neu, fx->path, 8, 4, 8, why, sizeof(why)), APR_SUCCESS);
    expect_shm_vhost_add(&neu, "first:80", &s);   /* slots need not line up */
    assert_int_equal(expect_shm_copy_vhosts(&neu, &old, 1), APR_SUCCESS);
    assert_int_equal(expect_shm_vhost_find(&neu, "gone:80"), -1);
    slot = expect_shm_vhost_find(&neu, "keep:80");
    assert_int_equal(slot, 1);
    assert_int_equal(expect_shm_snapshot(&neu, (uint32_t)slot, &snap), 0);
    assert_int_equal(snap.ctr[EXPECT_CTR_REJECTED], 1);
    assert_int_equal(snap.ctr[EXPECT_CTR_417_EXPECT], 1);
    assert_int_equal(snap.ctr[EXPECT_CTR_417_TOTAL], 1);
    assert_int_equal(snap.last_417_usec, 4242);
    assert_int_equal(snap.override, EXPECT_POLICY_IGNORE);
    assert_int_equal(snap.configured_policy, EXPECT_POLICY_REJECT);

    assert_int_equal(expect_shm_copy_vhosts(&neu, &old, 0), APR_SUCCESS);
    slot = expect_shm_vhost_find(&neu, "gone:80");
    assert_true(slot >= 0);
    assert_int_equal(neu.vhosts[slot].ctr[EXPECT_CTR_EXPECT], 1);

    /* Too small a destination copies what fits and says so. */
    expect_shm_detach(&neu);
    assert_int_equal(expect_shm_create(&neu, fx->path, 1, 0, 0, why, sizeof(why)), APR_SUCCESS);
    assert_int_equal(expect_shm_copy_vhosts(&neu, &old, 0), APR_ENOSPC);
    assert_int_equal(expect_shm_vhost_find(&neu, "keep:80"), 0);
    expect_shm_detach(&neu);
    expect_shm_detach(&old);
}

/* Overwrite 4 bytes of a file in place (the files of a segment of another
 * layout are made from one of this layout). */
static void poke32(const char *path, off_t off, uint32_t v)
{
    int fd = open(path, O_WRONLY);

    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &v, sizeof(v), off), (ssize_t)sizeof(v));
    close(fd);
}

static void test_carry(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t old, neu;
    expect_shm_carry_t c;
    expect_shm_event_t ev;
    expect_shm_vhost_snap_t snap;
    uint32_t s, rows, overrides;
    char why[256];
    int slot;

    make_segment(fx, &old, 4, 8);
    expect_shm_vhost_add(&old, "keep:80", &s);
    expect_shm_mark_active(&old, s, EXPECT_POLICY_REJECT, 1);
    expect_shm_count(expect_shm_vhost(&old, s), EXPECT_CTR_REJECTED);
    expect_shm_count(expect_shm_vhost(&old, s), EXPECT_CTR_RETRIED);
    expect_shm_count_417(expect_shm_vhost(&old, s), EXPECT_PRODUCER_MOD_EXPECT, 4242);
    expect_shm_set_override(&old, s, EXPECT_POLICY_IGNORE);
    expect_shm_vhost_add(&old, "other:80", &s);
    fill_event(&ev, 1);
    expect_shm_record(&old, &ev);
    expect_shm_publish_state(&old, EXPECT_SEG_LIVE, 7, 4321, 99);
    expect_shm_detach(&old);

    /* This layout's own files. */
    assert_int_equal(expect_shm_carry_read(fx->path, &c, why, sizeof(why)), EXPECT_SHM_OK);
    assert_int_equal(c.layout_version, EXPECT_SHM_LAYOUT_VERSION);
    assert_int_equal(c.nrows, 2);
    assert_int_equal(c.counters, EXPECT_CTR_COUNT);
    assert_int_equal(c.events, 1);
    assert_int_equal(c.server_pid, 4321);
    assert_int_equal(c.server_start, 99);
    assert_int_equal(c.generation, 7);
    assert_int_equal(c.state, EXPECT_SEG_LIVE);
    assert_string_equal(c.rows[0].name, "keep:80");
    assert_int_equal(c.rows[0].ctr[EXPECT_CTR_RETRIED], 1);
    assert_int_equal(c.rows[0].last_417_usec, 4242);
    assert_int_equal(c.rows[0].override, EXPECT_POLICY_IGNORE);

    /* Into a new segment, by name. */
    assert_int_equal(expect_shm_create(&neu, fx->path, 8, 4, 8, why, sizeof(why)), APR_SUCCESS);
    expect_shm_vhost_add(&neu, "first:80", &s);
    assert_int_equal(expect_shm_carry_into(&neu, &c, &rows, &overrides), APR_SUCCESS);
    /* other:80 was never marked active: a vhost no longer configured. */
    assert_int_equal(rows, 1);
    assert_int_equal(overrides, 1);
    assert_int_equal(expect_shm_vhost_find(&neu, "other:80"), -1);
    slot = expect_shm_vhost_find(&neu, "keep:80");
    assert_int_equal(slot, 1);
    assert_int_equal(expect_shm_snapshot(&neu, (uint32_t)slot, &snap), 0);
    assert_int_equal(snap.ctr[EXPECT_CTR_REJECTED], 1);
    assert_int_equal(snap.ctr[EXPECT_CTR_417_TOTAL], 1);
    assert_int_equal(snap.override, EXPECT_POLICY_IGNORE);
    assert_int_equal(snap.configured_policy, EXPECT_POLICY_REJECT);
    expect_shm_carry_free(&c);
    expect_shm_detach(&neu);

    /* The same files as layout 3 would have them: 11 counters, and the
     * later ones (retried) are not read. */
    make_segment(fx, &old, 4, 8);
    expect_shm_vhost_add(&old, "keep:80", &s);
    expect_shm_count(expect_shm_vhost(&old, s), EXPECT_CTR_HTTP10);
    expect_shm_count(expect_shm_vhost(&old, s), EXPECT_CTR_RETRIED);
    expect_shm_detach(&old);
    poke32(fx->path, offsetof(expect_shm_header_t, layout_version), 3);
    poke32(fx->cpath, offsetof(expect_ctl_header_t, layout_version), 3);
    assert_int_equal(expect_shm_carry_read(fx->path, &c, why, sizeof(why)), EXPECT_SHM_OK);
    assert_int_equal(c.counters, 11);
    assert_int_equal(c.rows[0].ctr[EXPECT_CTR_HTTP10], 1);
    assert_int_equal(c.rows[0].ctr[EXPECT_CTR_RETRIED], 0);
    assert_int_equal(c.pending, 0);
    expect_shm_carry_free(&c);

    /* Older than the first layout whose fields are known: refused. */
    poke32(fx->path, offsetof(expect_shm_header_t, layout_version), 2);
    poke32(fx->cpath, offsetof(expect_ctl_header_t, layout_version), 2);
    assert_int_equal(expect_shm_carry_read(fx->path, &c, why, sizeof(why)), EXPECT_SHM_ECORRUPT);
    assert_non_null(strstr(why, "older than 3"));
    assert_null(c.rows);

    /* Headers that lie about their own files. */
    poke32(fx->path, offsetof(expect_shm_header_t, layout_version), EXPECT_SHM_LAYOUT_VERSION);
    poke32(fx->cpath, offsetof(expect_ctl_header_t, layout_version), EXPECT_SHM_LAYOUT_VERSION);
    poke32(fx->cpath, offsetof(expect_ctl_header_t, count), 5);   /* capacity 4 */
    assert_int_equal(expect_shm_carry_read(fx->path, &c, why, sizeof(why)), EXPECT_SHM_ECORRUPT);
    assert_non_null(strstr(why, "disagree"));
    poke32(fx->cpath, offsetof(expect_ctl_header_t, count), 1);
    assert_int_equal(truncate(fx->path, 4096), 0);
    assert_int_equal(expect_shm_carry_read(fx->path, &c, why, sizeof(why)), EXPECT_SHM_ECORRUPT);
    unlink(fx->path);
    assert_int_equal(expect_shm_carry_read(fx->path, &c, why, sizeof(why)), EXPECT_SHM_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_attach_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vhost_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_417, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_control_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attach_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_torn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_ro, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reuse_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_if_same, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_allocation_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_vhosts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_carry, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
