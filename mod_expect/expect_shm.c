/*
 * expect_shm.c - create, attach, validate and use the shared segment.
 *
 * Plain C over POSIX: no httpd headers (expectctl and the tests link this).
 * All cross-process updates use the compiler's __atomic builtins directly,
 * not apr_atomic: an APR built with its mutex fallback would use locks
 * private to each process, which silently breaks counting between children.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "expect_shm.h"

/*
 * The builtins fall back to libatomic's process-private locks when a width
 * is not lock-free; on such a target the counters would be wrong, so refuse
 * to build rather than miscount.
 */
#if !defined(__GCC_ATOMIC_LLONG_LOCK_FREE) || __GCC_ATOMIC_LLONG_LOCK_FREE != 2 \
    || !defined(__GCC_ATOMIC_INT_LOCK_FREE) || __GCC_ATOMIC_INT_LOCK_FREE != 2
#error "mod_expect needs lock-free 32- and 64-bit atomics for its shared segment"
#endif

/* The layout is the wire format: pin the sizes this build writes. */
#define EXPECT_SHM_CHECK(name, cond) typedef char expect_shm_check_##name[(cond) ? 1 : -1]
EXPECT_SHM_CHECK(header, sizeof(expect_shm_header_t) == 112);
EXPECT_SHM_CHECK(vhost, sizeof(expect_shm_vhost_t) == 240);
EXPECT_SHM_CHECK(event, sizeof(expect_shm_event_t) == 1120);
EXPECT_SHM_CHECK(header_fits, sizeof(expect_shm_header_t) <= EXPECT_SHM_ALIGN);
EXPECT_SHM_CHECK(ctr_count, EXPECT_CTR_COUNT == 11);

/* Writers older than this many claims are presumed dead (see record). */
#define EXPECT_SHM_STALE_CLAIMS 1024u

typedef struct {
    uint64_t control_offset, control_size;
    uint64_t vhosts_offset;
    uint64_t ring_offset;
    uint64_t total;
} layout_t;

static void set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || whylen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

static uint64_t round_up(uint64_t v, uint64_t align)
{
    return (v + align - 1) / align * align;
}

/* Regions must start on a boundary mmap() accepts as an offset here, and
 * on EXPECT_SHM_ALIGN everywhere so the layout check is host-independent. */
static uint64_t layout_align(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    uint64_t a = EXPECT_SHM_ALIGN;

    if (ps > 0 && (uint64_t)ps > a) {
        a = round_up((uint64_t)ps, EXPECT_SHM_ALIGN);
    }
    return a;
}

static int compute_layout(uint32_t cap, uint32_t slots, layout_t *l)
{
    uint64_t a = layout_align();

    if (cap == 0 || cap > EXPECT_SHM_MAX_VHOSTS || slots > EXPECT_SHM_MAX_RING_SLOTS) {
        return -1;
    }
    l->control_offset = a;
    l->control_size = round_up((uint64_t)cap * sizeof(uint32_t), a);
    l->vhosts_offset = l->control_offset + l->control_size;
    l->ring_offset = round_up(l->vhosts_offset + (uint64_t)cap * sizeof(expect_shm_vhost_t), a);
    l->total = round_up(l->ring_offset + (uint64_t)slots * sizeof(expect_shm_event_t), a);
    return 0;
}

size_t expect_shm_size(uint32_t vhost_capacity, uint32_t ring_slots)
{
    layout_t l;

    if (compute_layout(vhost_capacity, ring_slots, &l) != 0 || l.total > SIZE_MAX) {
        return 0;
    }
    return (size_t)l.total;
}

static uint64_t now_usec(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Point the handle's shortcuts into a mapping whose geometry is trusted. */
static void fill_handle(expect_shm_t *h, void *base, size_t size,
                        const expect_shm_header_t *geom)
{
    char *b = base;

    h->base = base;
    h->size = size;
    h->hdr = base;
    h->control_offset = geom->control_offset;
    h->control_size = geom->control_size;
    h->control = (uint32_t *)(void *)(b + geom->control_offset);
    h->vhosts = (expect_shm_vhost_t *)(void *)(b + geom->vhosts_offset);
    h->ring = (expect_shm_event_t *)(void *)(b + geom->ring_offset);
    h->vhost_capacity = geom->vhost_capacity;
    h->ring_slots = geom->ring_slots;
}

apr_status_t expect_shm_create(expect_shm_t *h, const char *path,
                               uint32_t vhost_capacity, uint32_t ring_slots,
                               char *why, size_t whylen)
{
    char tmp[PATH_MAX];
    layout_t l;
    expect_shm_header_t geom;
    struct stat st;
    void *base;
    int fd, n, err;
    uint32_t i;

    memset(h, 0, sizeof(*h));
    if (compute_layout(vhost_capacity, ring_slots, &l) != 0 || l.total > SIZE_MAX) {
        set_why(why, whylen, "segment geometry out of range (%u vhosts, %u event slots)",
                vhost_capacity, ring_slots);
        return APR_EINVAL;
    }
    /* Build under a side name and rename() into place: a reader that
     * attaches meanwhile sees the old segment or the finished new one. */
    n = snprintf(tmp, sizeof(tmp), "%s.new", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        set_why(why, whylen, "path too long");
        return APR_FROM_OS_ERROR(ENAMETOOLONG);
    }
    if (unlink(tmp) != 0 && errno != ENOENT) {
        err = errno;
        set_why(why, whylen, "cannot remove stale %s: %s", tmp, strerror(err));
        return APR_FROM_OS_ERROR(err);
    }
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno;
        set_why(why, whylen, "cannot create %s: %s", tmp, strerror(err));
        return APR_FROM_OS_ERROR(err);
    }
    /* The umask may only have narrowed 0600; make sure nothing widened it. */
    if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)l.total) != 0
        || fstat(fd, &st) != 0) {
        err = errno;
        set_why(why, whylen, "cannot size %s: %s", tmp, strerror(err));
        close(fd);
        unlink(tmp);
        return APR_FROM_OS_ERROR(err);
    }
    base = mmap(NULL, (size_t)l.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        err = errno;
        set_why(why, whylen, "cannot map %s: %s", tmp, strerror(err));
        close(fd);
        unlink(tmp);
        return APR_FROM_OS_ERROR(err);
    }
    close(fd);

    memset(&geom, 0, sizeof(geom));
    geom.layout_version = EXPECT_SHM_LAYOUT_VERSION;
    geom.header_size = (uint32_t)sizeof(expect_shm_header_t);
    geom.total_size = l.total;
    geom.control_offset = l.control_offset;
    geom.control_size = l.control_size;
    geom.vhosts_offset = l.vhosts_offset;
    geom.vhost_size = (uint32_t)sizeof(expect_shm_vhost_t);
    geom.vhost_capacity = vhost_capacity;
    geom.event_size = (uint32_t)sizeof(expect_shm_event_t);
    geom.ring_offset = l.ring_offset;
    geom.ring_slots = ring_slots;
    geom.created_usec = now_usec();
    geom.creator_pid = (uint32_t)getpid();
    memcpy(base, &geom, sizeof(geom));
    fill_handle(h, base, (size_t)l.total, &geom);
    for (i = 0; i < vhost_capacity; i++) {
        h->control[i] = EXPECT_OVERRIDE_NONE;
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(h->hdr->magic, EXPECT_SHM_MAGIC, sizeof(h->hdr->magic));

    if (rename(tmp, path) != 0) {
        err = errno;
        set_why(why, whylen, "cannot move %s to %s: %s", tmp, path, strerror(err));
        unlink(tmp);
        munmap(base, (size_t)l.total);
        memset(h, 0, sizeof(*h));
        return APR_FROM_OS_ERROR(err);
    }
    h->writable = 1;
    h->control_writable = 1;
    h->dev = (uint64_t)st.st_dev;
    h->ino = (uint64_t)st.st_ino;
    return APR_SUCCESS;
}

static apr_status_t map_control(expect_shm_t *h, const char *path, int rw)
{
    struct stat st;
    void *want, *got;
    long ps = sysconf(_SC_PAGESIZE);
    int fd, err;

    if (h == NULL || h->base == NULL) {
        return APR_EINVAL;
    }
    if (ps <= 0 || h->control_offset % (uint64_t)ps != 0
        || h->control_size % (uint64_t)ps != 0) {
        /* Made on a host with smaller pages: cannot be mapped piecewise. */
        return APR_EINVAL;
    }
    fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if (fstat(fd, &st) != 0) {
        err = errno;
        close(fd);
        return APR_FROM_OS_ERROR(err);
    }
    if ((uint64_t)st.st_dev != h->dev || (uint64_t)st.st_ino != h->ino) {
        /* Someone replaced the file: its pages are not the ones we count in. */
        close(fd);
        return APR_EINVAL;
    }
    want = (char *)h->base + h->control_offset;
    got = mmap(want, (size_t)h->control_size, rw ? PROT_READ | PROT_WRITE : PROT_READ,
               MAP_SHARED | MAP_FIXED, fd, (off_t)h->control_offset);
    err = errno;
    close(fd);
    if (got == MAP_FAILED) {
        /* MAP_FIXED may have dropped the old pages; never touch them again. */
        h->control = NULL;
        h->control_writable = 0;
        return APR_FROM_OS_ERROR(err);
    }
    h->control = got;
    h->control_writable = rw;
    return APR_SUCCESS;
}

apr_status_t expect_shm_map_control_ro(expect_shm_t *h, const char *path)
{
    return map_control(h, path, 0);
}

apr_status_t expect_shm_map_control_rw(expect_shm_t *h, const char *path)
{
    return map_control(h, path, 1);
}

uint32_t expect_shm_vhost_count(const expect_shm_t *h)
{
    uint32_t n;

    if (h == NULL || h->hdr == NULL) {
        return 0;
    }
    n = __atomic_load_n(&h->hdr->vhost_count, __ATOMIC_ACQUIRE);
    return n > h->vhost_capacity ? h->vhost_capacity : n;
}

/* Stored names are truncated; compare against the name as it is stored. */
static void stored_name(char *dst, const char *name)
{
    expect_shm_strlcpy(dst, EXPECT_SHM_NAME_LEN, name);
}

int expect_shm_vhost_find(const expect_shm_t *h, const char *name)
{
    char key[EXPECT_SHM_NAME_LEN];
    uint32_t i, n = expect_shm_vhost_count(h);

    if (name == NULL) {
        return -1;
    }
    stored_name(key, name);
    for (i = 0; i < n; i++) {
        if (strncmp(h->vhosts[i].name, key, EXPECT_SHM_NAME_LEN) == 0) {
            return (int)i;
        }
    }
    return -1;
}

apr_status_t expect_shm_vhost_add(expect_shm_t *h, const char *name, uint32_t *slot)
{
    expect_shm_vhost_t *vh;
    uint32_t n;
    int found;

    if (h == NULL || h->hdr == NULL || !h->writable || name == NULL || name[0] == '\0') {
        return APR_EINVAL;
    }
    found = expect_shm_vhost_find(h, name);
    if (found >= 0) {
        *slot = (uint32_t)found;
        return APR_SUCCESS;
    }
    n = expect_shm_vhost_count(h);
    if (n >= h->vhost_capacity) {
        return APR_ENOSPC;
    }
    /* Only the parent adds, single-threaded; the release store makes the
     * record visible to readers no earlier than complete. */
    vh = &h->vhosts[n];
    memset(vh, 0, sizeof(*vh));
    stored_name(vh->name, name);
    vh->configured_policy = EXPECT_POLICY_DEFAULT;
    __atomic_store_n(&h->hdr->vhost_count, n + 1, __ATOMIC_RELEASE);
    *slot = n;
    return APR_SUCCESS;
}

void expect_shm_mark_all_inactive(expect_shm_t *h)
{
    uint32_t i, n = expect_shm_vhost_count(h);

    if (h == NULL || !h->writable) {
        return;
    }
    for (i = 0; i < n; i++) {
        __atomic_and_fetch(&h->vhosts[i].flags, ~EXPECT_VHOST_ACTIVE, __ATOMIC_RELAXED);
    }
}

void expect_shm_mark_active(expect_shm_t *h, uint32_t slot,
                            expect_policy_t policy, int strict)
{
    expect_shm_vhost_t *vh = expect_shm_vhost(h, slot);

    if (vh == NULL || !h->writable) {
        return;
    }
    if (policy < EXPECT_POLICY_CONTINUE || policy > EXPECT_POLICY_IGNORE) {
        policy = EXPECT_POLICY_DEFAULT;
    }
    __atomic_store_n(&vh->configured_policy, (uint32_t)policy, __ATOMIC_RELAXED);
    __atomic_store_n(&vh->strict, strict ? 1u : 0u, __ATOMIC_RELAXED);
    __atomic_or_fetch(&vh->flags, EXPECT_VHOST_ACTIVE, __ATOMIC_RELEASE);
}

apr_status_t expect_shm_copy_vhosts(expect_shm_t *dst, const expect_shm_t *src,
                                    int active_only)
{
    expect_shm_vhost_snap_t snap;
    expect_shm_vhost_t *vh;
    apr_status_t rv = APR_SUCCESS;
    uint32_t i, slot, n = expect_shm_vhost_count(src);
    int c;

    if (dst == NULL || !dst->writable) {
        return APR_EINVAL;
    }
    for (i = 0; i < n; i++) {
        if (expect_shm_snapshot(src, i, &snap) != 0) {
            continue;
        }
        if (active_only && !(snap.flags & EXPECT_VHOST_ACTIVE)) {
            continue;
        }
        if (snap.name[0] == '\0' || expect_shm_vhost_add(dst, snap.name, &slot) != APR_SUCCESS) {
            rv = APR_ENOSPC;
            continue;
        }
        vh = &dst->vhosts[slot];
        for (c = 0; c < EXPECT_CTR_COUNT; c++) {
            __atomic_store_n(&vh->ctr[c], snap.ctr[c], __ATOMIC_RELAXED);
        }
        __atomic_store_n(&vh->last_417_usec, snap.last_417_usec, __ATOMIC_RELAXED);
        if (snap.configured_policy <= EXPECT_POLICY_IGNORE) {
            vh->configured_policy = snap.configured_policy;
        }
        vh->strict = snap.strict ? 1u : 0u;
        if (snap.override != EXPECT_OVERRIDE_NONE) {
            apr_status_t orv = expect_shm_set_override(dst, slot, snap.override);
            if (orv != APR_SUCCESS && rv == APR_SUCCESS) {
                rv = orv;
            }
        }
    }
    return rv;
}

uint32_t expect_shm_generation(const expect_shm_t *h)
{
    if (h == NULL || h->hdr == NULL) {
        return 0;
    }
    return __atomic_load_n(&h->hdr->generation, __ATOMIC_RELAXED);
}

uint32_t expect_shm_bump_generation(expect_shm_t *h)
{
    if (h == NULL || h->hdr == NULL || !h->writable) {
        return 0;
    }
    return __atomic_add_fetch(&h->hdr->generation, 1, __ATOMIC_RELAXED);
}

void expect_shm_detach(expect_shm_t *h)
{
    if (h != NULL && h->base != NULL) {
        munmap(h->base, h->size);
    }
    if (h != NULL) {
        memset(h, 0, sizeof(*h));
    }
}

/* ---- request path ---- */

expect_shm_vhost_t *expect_shm_vhost(const expect_shm_t *h, uint32_t slot)
{
    if (h == NULL || h->vhosts == NULL || slot >= h->vhost_capacity) {
        return NULL;
    }
    return &h->vhosts[slot];
}

void expect_shm_count(expect_shm_vhost_t *vh, expect_ctr_t ctr)
{
    if (vh == NULL || (unsigned)ctr >= (unsigned)EXPECT_CTR_COUNT) {
        return;
    }
    __atomic_add_fetch(&vh->ctr[ctr], 1, __ATOMIC_RELAXED);
}

void expect_shm_count_417(expect_shm_vhost_t *vh, expect_producer_t producer,
                          uint64_t now)
{
    static const expect_ctr_t by_producer[EXPECT_PRODUCER_COUNT] = {
        EXPECT_CTR_417_EXPECT, EXPECT_CTR_417_CORE,
        EXPECT_CTR_417_HANDLER, EXPECT_CTR_417_BACKEND
    };
    uint64_t last;

    if (vh == NULL) {
        return;
    }
    if ((unsigned)producer < EXPECT_PRODUCER_COUNT) {
        expect_shm_count(vh, by_producer[producer]);
    }
    expect_shm_count(vh, EXPECT_CTR_417_TOTAL);
    /* Keep the latest time even when children finish out of order. */
    last = __atomic_load_n(&vh->last_417_usec, __ATOMIC_RELAXED);
    while (last < now
           && !__atomic_compare_exchange_n(&vh->last_417_usec, &last, now, 0,
                                           __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        /* last was reloaded by the failed exchange */
    }
}

expect_policy_t expect_shm_override(const expect_shm_t *h, uint32_t slot)
{
    uint32_t v;

    if (h == NULL || h->control == NULL || slot >= h->vhost_capacity) {
        return EXPECT_POLICY_UNSET;
    }
    v = __atomic_load_n(&h->control[slot], __ATOMIC_RELAXED);
    if (v > (uint32_t)EXPECT_POLICY_IGNORE) {
        return EXPECT_POLICY_UNSET;
    }
    return (expect_policy_t)v;
}

void expect_shm_event_init(expect_shm_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->content_length = -1;
    ev->status = 417;
}

void expect_shm_strlcpy(char *dst, size_t dstsize, const char *src)
{
    size_t n;

    if (dst == NULL || dstsize == 0) {
        return;
    }
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    n = strnlen(src, dstsize - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void terminate_event_strings(expect_shm_event_t *ev)
{
    ev->vhost[sizeof(ev->vhost) - 1] = '\0';
    ev->client[sizeof(ev->client) - 1] = '\0';
    ev->method[sizeof(ev->method) - 1] = '\0';
    ev->uri[sizeof(ev->uri) - 1] = '\0';
    ev->protocol[sizeof(ev->protocol) - 1] = '\0';
    ev->expect[sizeof(ev->expect) - 1] = '\0';
    ev->user_agent[sizeof(ev->user_agent) - 1] = '\0';
}

int expect_shm_record(expect_shm_t *h, const expect_shm_event_t *ev)
{
    expect_shm_event_t *rec;
    uint64_t n, mine, cur;
    const size_t payload = sizeof(*ev) - sizeof(ev->seq);

    if (h == NULL || h->hdr == NULL || h->ring == NULL || h->ring_slots == 0 || ev == NULL) {
        return 0;
    }
    n = __atomic_fetch_add(&h->hdr->ring_head, 1, __ATOMIC_RELAXED);
    rec = &h->ring[n % h->ring_slots];
    mine = 2 * n + 1;
    cur = __atomic_load_n(&rec->seq, __ATOMIC_RELAXED);
    for (;;) {
        if (cur >= mine) {
            /* A writer a lap ahead already owns the slot: ours is older news. */
            goto dropped;
        }
        if ((cur & 1) && (mine - cur) / 2 < EXPECT_SHM_STALE_CLAIMS) {
            /* An earlier writer is still copying.  Waiting would be a lock;
             * racing it would publish a torn record.  Drop ours instead.
             * One far older than that is presumed dead and is taken over,
             * so a crashed child cannot wedge the slot for good. */
            goto dropped;
        }
        if (__atomic_compare_exchange_n(&rec->seq, &cur, mine, 0,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
            break;
        }
    }
    /* Readers must see the odd word before any payload byte changes. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    memcpy((char *)rec + sizeof(rec->seq), (const char *)ev + sizeof(ev->seq), payload);
    terminate_event_strings(rec);
    /* Publish only if nobody took the slot over meanwhile. */
    cur = mine;
    __atomic_compare_exchange_n(&rec->seq, &cur, mine + 1, 0,
                                __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    return 1;

dropped:
    __atomic_add_fetch(&h->hdr->ring_dropped, 1, __ATOMIC_RELAXED);
    return 0;
}

/* ---- reader ---- */

static int region_ok(uint64_t off, uint64_t size, uint64_t total)
{
    return off <= total && size <= total - off;
}

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

expect_shm_err_t expect_shm_validate(const void *buf, size_t len,
                                     char *why, size_t whylen)
{
    const unsigned char *b = buf;
    expect_shm_header_t hd;
    uint64_t vend, rend, max_total;
    uint32_t i;
    size_t maxsz;

    if (buf == NULL || len < sizeof(hd)) {
        set_why(why, whylen, "%zu bytes, too small for a header (%zu)", len, sizeof(hd));
        return EXPECT_SHM_ECORRUPT;
    }
    /* The buffer may be unaligned (a fuzzer's): copy, never cast. */
    memcpy(&hd, b, sizeof(hd));
    if (memcmp(hd.magic, EXPECT_SHM_MAGIC, sizeof(hd.magic)) != 0) {
        set_why(why, whylen, "bad magic: not a mod_expect segment");
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.layout_version != EXPECT_SHM_LAYOUT_VERSION) {
        set_why(why, whylen, "layout version %u, expected %u",
                hd.layout_version, EXPECT_SHM_LAYOUT_VERSION);
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.header_size != sizeof(hd)) {
        set_why(why, whylen, "header size %u, expected %zu", hd.header_size, sizeof(hd));
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.total_size != (uint64_t)len) {
        set_why(why, whylen, "%s: header says %llu bytes, file has %zu",
                hd.total_size > (uint64_t)len ? "truncated" : "size mismatch",
                (unsigned long long)hd.total_size, len);
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.vhost_size != sizeof(expect_shm_vhost_t)
        || hd.event_size != sizeof(expect_shm_event_t)) {
        set_why(why, whylen, "record sizes %u/%u, expected %zu/%zu",
                hd.vhost_size, hd.event_size,
                sizeof(expect_shm_vhost_t), sizeof(expect_shm_event_t));
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.vhost_capacity == 0 || hd.vhost_capacity > EXPECT_SHM_MAX_VHOSTS
        || hd.ring_slots > EXPECT_SHM_MAX_RING_SLOTS) {
        set_why(why, whylen, "implausible geometry: %u vhosts, %u event slots",
                hd.vhost_capacity, hd.ring_slots);
        return EXPECT_SHM_ECORRUPT;
    }
    maxsz = expect_shm_size(EXPECT_SHM_MAX_VHOSTS, EXPECT_SHM_MAX_RING_SLOTS);
    max_total = maxsz ? (uint64_t)maxsz : UINT64_MAX;
    if (hd.total_size > max_total) {
        set_why(why, whylen, "implausible size %llu", (unsigned long long)hd.total_size);
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.control_offset % EXPECT_SHM_ALIGN || hd.control_size % EXPECT_SHM_ALIGN
        || hd.vhosts_offset % EXPECT_SHM_ALIGN || hd.ring_offset % EXPECT_SHM_ALIGN
        || hd.control_offset < EXPECT_SHM_ALIGN) {
        set_why(why, whylen, "region offsets not page-aligned");
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.control_size < (uint64_t)hd.vhost_capacity * sizeof(uint32_t)
        || !region_ok(hd.control_offset, hd.control_size, hd.total_size)) {
        set_why(why, whylen, "control area out of range");
        return EXPECT_SHM_ECORRUPT;
    }
    vend = (uint64_t)hd.vhost_capacity * hd.vhost_size;   /* < 2^32 * 2^8 */
    if (hd.vhosts_offset < hd.control_offset + hd.control_size
        || !region_ok(hd.vhosts_offset, vend, hd.total_size)) {
        set_why(why, whylen, "vhost table out of range");
        return EXPECT_SHM_ECORRUPT;
    }
    vend += hd.vhosts_offset;
    rend = (uint64_t)hd.ring_slots * hd.event_size;
    if (hd.ring_offset < vend || !region_ok(hd.ring_offset, rend, hd.total_size)) {
        set_why(why, whylen, "event ring out of range");
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.vhost_count > hd.vhost_capacity) {
        set_why(why, whylen, "%u vhosts in a table of %u", hd.vhost_count, hd.vhost_capacity);
        return EXPECT_SHM_ECORRUPT;
    }
    for (i = 0; i < hd.vhost_count; i++) {
        const unsigned char *rec = b + hd.vhosts_offset + (uint64_t)i * hd.vhost_size;
        uint32_t pol = rd32(rec + offsetof(expect_shm_vhost_t, configured_policy));

        if (memchr(rec, '\0', EXPECT_SHM_NAME_LEN) == NULL) {
            set_why(why, whylen, "vhost %u: name not terminated", i);
            return EXPECT_SHM_ECORRUPT;
        }
        if (pol > (uint32_t)EXPECT_POLICY_IGNORE) {
            set_why(why, whylen, "vhost %u: policy %u unknown", i, pol);
            return EXPECT_SHM_ECORRUPT;
        }
    }
    for (i = 0; i < hd.vhost_capacity; i++) {
        uint32_t ov = rd32(b + hd.control_offset + (uint64_t)i * sizeof(uint32_t));

        if (ov != EXPECT_OVERRIDE_NONE && ov > (uint32_t)EXPECT_POLICY_IGNORE) {
            set_why(why, whylen, "vhost %u: override %u unknown", i, ov);
            return EXPECT_SHM_ECORRUPT;
        }
    }
    return EXPECT_SHM_OK;
}

static expect_shm_err_t open_error(int err, char *why, size_t whylen)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        set_why(why, whylen, "no segment there");
        return EXPECT_SHM_ENOENT;
    case EACCES:
    case EPERM:
        set_why(why, whylen, "permission denied");
        return EXPECT_SHM_EACCES;
    case ELOOP:
        set_why(why, whylen, "is a symbolic link; refusing to follow it");
        return EXPECT_SHM_EACCES;
    default:
        set_why(why, whylen, "%s", strerror(err));
        return EXPECT_SHM_EOTHER;
    }
}

/*
 * What attach does once the bytes are mapped, shared with expect_shm_view:
 * validate, then take the geometry from this one copy only (later header
 * writes are ignored).  Leaves h untouched on failure.
 */
static expect_shm_err_t adopt_segment(expect_shm_t *h, void *base, size_t size,
                                      char *why, size_t whylen)
{
    expect_shm_header_t geom;
    expect_shm_err_t rc;

    if ((rc = expect_shm_validate(base, size, why, whylen)) != EXPECT_SHM_OK) {
        return rc;
    }
    memcpy(&geom, base, sizeof(geom));
    fill_handle(h, base, size, &geom);
    return EXPECT_SHM_OK;
}

expect_shm_err_t expect_shm_view(expect_shm_t *h, void *buf, size_t len,
                                 char *why, size_t whylen)
{
    memset(h, 0, sizeof(*h));
    if (buf != NULL && (uintptr_t)buf % sizeof(uint64_t) != 0) {
        /* The reader does atomic 64-bit loads: those need aligned words. */
        set_why(why, whylen, "buffer not aligned for a segment");
        return EXPECT_SHM_EOTHER;
    }
    return adopt_segment(h, buf, len, why, whylen);
}

/* A segment is trusted only from root (httpd's parent) or from ourselves. */
static expect_shm_err_t check_file(const struct stat *st, char *why, size_t whylen)
{
    if (S_ISLNK(st->st_mode)) {
        set_why(why, whylen, "is a symbolic link; refusing to follow it");
        return EXPECT_SHM_EACCES;
    }
    if (!S_ISREG(st->st_mode)) {
        set_why(why, whylen, "not a regular file");
        return EXPECT_SHM_ECORRUPT;
    }
    if (st->st_uid != 0 && st->st_uid != geteuid()) {
        set_why(why, whylen, "owned by uid %lu, neither root nor you; not trusted",
                (unsigned long)st->st_uid);
        return EXPECT_SHM_EACCES;
    }
    return EXPECT_SHM_OK;
}

expect_shm_err_t expect_shm_attach(expect_shm_t *h, const char *path,
                                   int writable, char *why, size_t whylen)
{
    struct stat lst, st;
    expect_shm_err_t rc;
    void *base;
    size_t size;
    int fd, err;

    memset(h, 0, sizeof(*h));
    if (lstat(path, &lst) != 0) {
        return open_error(errno, why, whylen);
    }
    if ((rc = check_file(&lst, why, whylen)) != EXPECT_SHM_OK) {
        return rc;
    }
    /* O_NOFOLLOW and O_NONBLOCK close the race with a swap to a symlink
     * or a FIFO between lstat() and open(). */
    fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return open_error(errno, why, whylen);
    }
    if (fstat(fd, &st) != 0) {
        err = errno;
        close(fd);
        return open_error(err, why, whylen);
    }
    if ((rc = check_file(&st, why, whylen)) != EXPECT_SHM_OK) {
        close(fd);
        return rc;
    }
    if (st.st_dev != lst.st_dev || st.st_ino != lst.st_ino) {
        close(fd);
        set_why(why, whylen, "replaced while being opened; try again");
        return EXPECT_SHM_EOTHER;
    }
    if (st.st_size < (off_t)sizeof(expect_shm_header_t)) {
        close(fd);
        set_why(why, whylen, "%lld bytes, too small for a header (%zu)",
                (long long)st.st_size, sizeof(expect_shm_header_t));
        return EXPECT_SHM_ECORRUPT;
    }
    if ((unsigned long long)st.st_size > (unsigned long long)SIZE_MAX) {
        close(fd);
        set_why(why, whylen, "implausible size %lld", (long long)st.st_size);
        return EXPECT_SHM_ECORRUPT;
    }
    size = (size_t)st.st_size;
    base = mmap(NULL, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    err = errno;
    close(fd);
    if (base == MAP_FAILED) {
        set_why(why, whylen, "cannot map: %s", strerror(err));
        return err == EACCES || err == EPERM ? EXPECT_SHM_EACCES : EXPECT_SHM_EOTHER;
    }
    if ((rc = adopt_segment(h, base, size, why, whylen)) != EXPECT_SHM_OK) {
        munmap(base, size);
        return rc;
    }
    h->writable = writable ? 1 : 0;
    h->control_writable = h->writable;
    h->dev = (uint64_t)st.st_dev;
    h->ino = (uint64_t)st.st_ino;
    return EXPECT_SHM_OK;
}

int expect_shm_snapshot(const expect_shm_t *h, uint32_t slot,
                        expect_shm_vhost_snap_t *out)
{
    const expect_shm_vhost_t *vh;
    int c;

    if (out == NULL || slot >= expect_shm_vhost_count(h)) {
        return -1;
    }
    vh = &h->vhosts[slot];
    memset(out, 0, sizeof(*out));
    out->slot = slot;
    out->flags = __atomic_load_n(&vh->flags, __ATOMIC_ACQUIRE);
    out->configured_policy = __atomic_load_n(&vh->configured_policy, __ATOMIC_RELAXED);
    out->strict = __atomic_load_n(&vh->strict, __ATOMIC_RELAXED);
    out->override = h->control != NULL
        ? __atomic_load_n(&h->control[slot], __ATOMIC_RELAXED) : EXPECT_OVERRIDE_NONE;
    memcpy(out->name, vh->name, sizeof(out->name));
    out->name[sizeof(out->name) - 1] = '\0';
    for (c = 0; c < EXPECT_CTR_COUNT; c++) {
        out->ctr[c] = __atomic_load_n(&vh->ctr[c], __ATOMIC_RELAXED);
    }
    out->last_417_usec = __atomic_load_n(&vh->last_417_usec, __ATOMIC_RELAXED);
    return 0;
}

apr_status_t expect_shm_set_override(expect_shm_t *h, uint32_t slot, uint32_t value)
{
    if (h == NULL || h->control == NULL || slot >= h->vhost_capacity
        || (value != EXPECT_OVERRIDE_NONE && value > (uint32_t)EXPECT_POLICY_IGNORE)) {
        return APR_EINVAL;
    }
    if (!h->control_writable) {
        return APR_EACCES;
    }
    __atomic_store_n(&h->control[slot], value, __ATOMIC_RELEASE);
    return APR_SUCCESS;
}

apr_status_t expect_shm_set_override_all(expect_shm_t *h, uint32_t value)
{
    apr_status_t rv;
    uint32_t i;

    if (h == NULL) {
        return APR_EINVAL;
    }
    /* Every slot, used or not: a vhost added later must not inherit a
     * stale override from an earlier "set all". */
    for (i = 0; i < h->vhost_capacity; i++) {
        if ((rv = expect_shm_set_override(h, i, value)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t expect_shm_reset(expect_shm_t *h, uint32_t slot)
{
    expect_shm_vhost_t *vh;
    int c;

    if (h == NULL || slot >= expect_shm_vhost_count(h)) {
        return APR_EINVAL;
    }
    if (!h->writable) {
        return APR_EACCES;
    }
    vh = &h->vhosts[slot];
    for (c = 0; c < EXPECT_CTR_COUNT; c++) {
        __atomic_store_n(&vh->ctr[c], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&vh->last_417_usec, 0, __ATOMIC_RELAXED);
    return APR_SUCCESS;
}

apr_status_t expect_shm_reset_all(expect_shm_t *h)
{
    apr_status_t rv;
    uint32_t i, n = expect_shm_vhost_count(h);

    if (h == NULL) {
        return APR_EINVAL;
    }
    if (!h->writable) {
        return APR_EACCES;
    }
    for (i = 0; i < n; i++) {
        if ((rv = expect_shm_reset(h, i)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

uint64_t expect_shm_ring_head(const expect_shm_t *h)
{
    if (h == NULL || h->hdr == NULL) {
        return 0;
    }
    return __atomic_load_n(&h->hdr->ring_head, __ATOMIC_ACQUIRE);
}

size_t expect_shm_read_events(const expect_shm_t *h, uint64_t from,
                              expect_shm_event_t *out, size_t max,
                              int wait_pending, uint64_t *next)
{
    uint64_t head, n, s1, s2;
    const expect_shm_event_t *rec;
    size_t got = 0;

    head = expect_shm_ring_head(h);
    if (h == NULL || h->ring == NULL || h->ring_slots == 0) {
        if (next != NULL) {
            *next = head;
        }
        return 0;
    }
    n = from;
    if (head >= h->ring_slots && n < head - h->ring_slots) {
        n = head - h->ring_slots;   /* older ones are overwritten */
    }
    if (n > head) {
        n = head;                   /* a new segment restarted the count */
    }
    for (; n < head && got < max; n++) {
        rec = &h->ring[n % h->ring_slots];
        s1 = __atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE);
        if (s1 != 2 * n + 2) {
            if (s1 == 2 * n + 1 && wait_pending) {
                break;
            }
            continue;
        }
        memcpy(&out[got], rec, sizeof(*rec));
        /* The copy must be complete before the word is looked at again. */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        s2 = __atomic_load_n(&rec->seq, __ATOMIC_RELAXED);
        if (s1 != s2) {
            continue;               /* overwritten while we copied */
        }
        out[got].seq = s1;
        terminate_event_strings(&out[got]);
        got++;
    }
    if (next != NULL) {
        *next = n;
    }
    return got;
}
