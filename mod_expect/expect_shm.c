/*
 * expect_shm.c - create, attach, validate and use the shared segment: a
 * statistics file that httpd's children write, and a control file that
 * only root writes (see expect_shm.h).
 *
 * Plain C over POSIX: no httpd headers (expectctl and the tests link this).
 * All cross-process updates use the compiler's __atomic builtins directly,
 * not apr_atomic: an APR built with its mutex fallback would use locks
 * private to each process, which silently breaks counting between children.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
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
EXPECT_SHM_CHECK(header, sizeof(expect_shm_header_t) == 96);
EXPECT_SHM_CHECK(ctl_header, sizeof(expect_ctl_header_t) == 64);
EXPECT_SHM_CHECK(vhost, sizeof(expect_shm_vhost_t) == 96);
EXPECT_SHM_CHECK(ctl_entry, sizeof(expect_ctl_entry_t) == 144);
EXPECT_SHM_CHECK(event, sizeof(expect_shm_event_t) == 1120);
EXPECT_SHM_CHECK(header_fits, sizeof(expect_shm_header_t) <= EXPECT_SHM_ALIGN);
EXPECT_SHM_CHECK(ctl_header_fits, sizeof(expect_ctl_header_t) <= EXPECT_SHM_ALIGN);
EXPECT_SHM_CHECK(ctr_count, EXPECT_CTR_COUNT == 11);
EXPECT_SHM_CHECK(override_first, offsetof(expect_ctl_entry_t, override) == 0);

/* A pair caught between the two renames of a restart: how often and how
 * long attach retries before calling it a mismatch. */
#define PAIR_RETRIES   10
#define PAIR_RETRY_NS  20000000L

typedef struct {
    uint64_t vhosts_offset;
    uint64_t ring_offset;
    uint64_t total;
} layout_t;

typedef struct {
    uint64_t entries_offset;
    uint64_t total;
} ctl_layout_t;

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

/* Regions start on a boundary mmap() accepts as an offset here, and on
 * EXPECT_SHM_ALIGN everywhere so the layout check is host-independent. */
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
    l->vhosts_offset = a;
    l->ring_offset = round_up(l->vhosts_offset + (uint64_t)cap * sizeof(expect_shm_vhost_t), a);
    l->total = round_up(l->ring_offset + (uint64_t)slots * sizeof(expect_shm_event_t), a);
    return 0;
}

static int compute_ctl_layout(uint32_t cap, ctl_layout_t *l)
{
    uint64_t a = layout_align();

    if (cap == 0 || cap > EXPECT_SHM_MAX_VHOSTS) {
        return -1;
    }
    l->entries_offset = a;
    l->total = round_up(l->entries_offset + (uint64_t)cap * sizeof(expect_ctl_entry_t), a);
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

size_t expect_shm_control_size(uint32_t vhost_capacity)
{
    ctl_layout_t l;

    if (compute_ctl_layout(vhost_capacity, &l) != 0 || l.total > SIZE_MAX) {
        return 0;
    }
    return (size_t)l.total;
}

int expect_shm_control_path(char *buf, size_t len, const char *path)
{
    int n;

    if (buf == NULL || path == NULL) {
        return -1;
    }
    n = snprintf(buf, len, "%s%s", path, EXPECT_SHM_CTL_SUFFIX);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static uint64_t now_usec(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A pairing token: random, never 0. */
static uint64_t new_token(void)
{
    uint64_t t = 0;

    if (getrandom(&t, sizeof(t), GRND_NONBLOCK) != (ssize_t)sizeof(t)) {
        /* No entropy yet (early boot): unique enough for pairing. */
        t = now_usec() ^ ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)&t;
    }
    return t != 0 ? t : 1;
}

static void zero_handle(expect_shm_t *h)
{
    memset(h, 0, sizeof(*h));
    h->ctl_fd = -1;
}

/* Point the handle's shortcuts into mappings whose geometry is trusted. */
static void fill_handle(expect_shm_t *h, void *base, size_t size,
                        const expect_shm_header_t *geom,
                        void *cbase, size_t csize, const expect_ctl_header_t *cgeom)
{
    char *b = base, *cb = cbase;

    h->base = base;
    h->size = size;
    h->hdr = base;
    h->vhosts = (expect_shm_vhost_t *)(void *)(b + geom->vhosts_offset);
    h->ring = (expect_shm_event_t *)(void *)(b + geom->ring_offset);
    h->ctl_base = cbase;
    h->ctl_size = csize;
    h->ctl_hdr = cbase;
    h->ctl = (expect_ctl_entry_t *)(void *)(cb + cgeom->entries_offset);
    h->vhost_capacity = geom->vhost_capacity;
    h->ring_slots = geom->ring_slots;
    h->pair_token = geom->pair_token;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    const char *p = buf;
    ssize_t w;

    while (len > 0) {
        w = pwrite(fd, p, len, off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
        off += w;
    }
    return 0;
}

/* Create one side file, 0600, with all of its blocks allocated. */
static int create_side(const char *tmp, uint64_t total, struct stat *st,
                       char *why, size_t whylen)
{
    int fd, err;

    if (unlink(tmp) != 0 && errno != ENOENT) {
        err = errno;
        set_why(why, whylen, "cannot remove stale %s: %s", tmp, strerror(err));
        errno = err;
        return -1;
    }
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno;
        set_why(why, whylen, "cannot create %s: %s", tmp, strerror(err));
        errno = err;
        return -1;
    }
    /* The umask may only have narrowed 0600; make sure nothing widened it. */
    if (fchmod(fd, 0600) != 0) {
        err = errno;
        set_why(why, whylen, "cannot chmod %s: %s", tmp, strerror(err));
        goto fail;
    }
    /* Allocate every block now: a sparse file on a full file system would
     * let the creation succeed and SIGBUS a child at its first write. */
    err = posix_fallocate(fd, 0, (off_t)total);
    if (err != 0) {
        set_why(why, whylen, "cannot allocate %llu bytes for %s: %s",
                (unsigned long long)total, tmp, strerror(err));
        goto fail;
    }
    if (fstat(fd, st) != 0) {
        err = errno;
        set_why(why, whylen, "cannot stat %s: %s", tmp, strerror(err));
        goto fail;
    }
    if ((uint64_t)st->st_size != total) {
        err = EIO;
        set_why(why, whylen, "%s has %lld bytes, expected %llu", tmp,
                (long long)st->st_size, (unsigned long long)total);
        goto fail;
    }
    return fd;

fail:
    close(fd);
    unlink(tmp);
    errno = err;
    return -1;
}

/* The control file's contents: every override "none", then the header,
 * magic last.  Written with pwrite() only: never through a mapping. */
static int init_control(int fd, const ctl_layout_t *cl, uint32_t cap,
                        const expect_ctl_header_t *geom)
{
    enum { CHUNK = 256 };
    expect_ctl_entry_t buf[CHUNK];
    uint32_t i, n;

    memset(buf, 0, sizeof(buf));
    for (i = 0; i < CHUNK; i++) {
        buf[i].override = EXPECT_OVERRIDE_NONE;
        buf[i].configured_policy = EXPECT_POLICY_DEFAULT;
    }
    for (i = 0; i < cap; i += n) {
        n = cap - i < CHUNK ? cap - i : CHUNK;
        if (pwrite_all(fd, buf, n * sizeof(buf[0]),
                       (off_t)(cl->entries_offset + (uint64_t)i * sizeof(buf[0]))) != 0) {
            return -1;
        }
    }
    if (pwrite_all(fd, (const char *)geom + sizeof(geom->magic),
                   sizeof(*geom) - sizeof(geom->magic), (off_t)sizeof(geom->magic)) != 0
        || pwrite_all(fd, EXPECT_CTL_MAGIC, sizeof(geom->magic), 0) != 0) {
        return -1;
    }
    return 0;
}

apr_status_t expect_shm_create(expect_shm_t *h, const char *path,
                               uint32_t vhost_capacity, uint32_t ring_slots,
                               char *why, size_t whylen)
{
    char tmp[PATH_MAX], cpath[PATH_MAX], ctmp[PATH_MAX];
    layout_t l;
    ctl_layout_t cl;
    expect_shm_header_t geom;
    expect_ctl_header_t cgeom;
    struct stat st, cst, rst;
    void *base = MAP_FAILED, *cbase = MAP_FAILED;
    int fd = -1, cfd = -1, rofd, err = 0, ctl_renamed = 0;
    uint64_t token;
    int n;

    zero_handle(h);
    if (path == NULL || compute_layout(vhost_capacity, ring_slots, &l) != 0
        || compute_ctl_layout(vhost_capacity, &cl) != 0
        || l.total > SIZE_MAX || cl.total > SIZE_MAX) {
        set_why(why, whylen, "segment geometry out of range (%u vhosts, %u event slots)",
                vhost_capacity, ring_slots);
        return APR_EINVAL;
    }
    /* Build both under side names and rename() them into place: a reader
     * that attaches meanwhile sees the old pair or the new one (or, between
     * the two renames, a mismatched pair, which the token exposes). */
    n = snprintf(tmp, sizeof(tmp), "%s.new", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)
        || expect_shm_control_path(cpath, sizeof(cpath), path) != 0
        || (n = snprintf(ctmp, sizeof(ctmp), "%s.new", cpath)) < 0
        || (size_t)n >= sizeof(ctmp)) {
        set_why(why, whylen, "path too long");
        return APR_FROM_OS_ERROR(ENAMETOOLONG);
    }
    token = new_token();

    /* ---- the statistics file ---- */
    if ((fd = create_side(tmp, l.total, &st, why, whylen)) < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    base = mmap(NULL, (size_t)l.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        err = errno;
        set_why(why, whylen, "cannot map %s: %s", tmp, strerror(err));
        goto fail;
    }
    close(fd);
    fd = -1;
    memset(&geom, 0, sizeof(geom));
    geom.layout_version = EXPECT_SHM_LAYOUT_VERSION;
    geom.header_size = (uint32_t)sizeof(expect_shm_header_t);
    geom.total_size = l.total;
    geom.vhosts_offset = l.vhosts_offset;
    geom.vhost_size = (uint32_t)sizeof(expect_shm_vhost_t);
    geom.vhost_capacity = vhost_capacity;
    geom.ring_offset = l.ring_offset;
    geom.event_size = (uint32_t)sizeof(expect_shm_event_t);
    geom.ring_slots = ring_slots;
    geom.pair_token = token;
    geom.created_usec = now_usec();
    geom.creator_pid = (uint32_t)getpid();
    memcpy(base, &geom, sizeof(geom));
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(((expect_shm_header_t *)base)->magic, EXPECT_SHM_MAGIC, sizeof(geom.magic));

    /* ---- the control file: pwrite() only, mapped read-only ---- */
    if ((cfd = create_side(ctmp, cl.total, &cst, why, whylen)) < 0) {
        err = errno;
        goto fail;
    }
    memset(&cgeom, 0, sizeof(cgeom));
    cgeom.layout_version = EXPECT_SHM_LAYOUT_VERSION;
    cgeom.header_size = (uint32_t)sizeof(expect_ctl_header_t);
    cgeom.total_size = cl.total;
    cgeom.entries_offset = cl.entries_offset;
    cgeom.entry_size = (uint32_t)sizeof(expect_ctl_entry_t);
    cgeom.capacity = vhost_capacity;
    cgeom.count = 0;
    cgeom.creator_pid = geom.creator_pid;
    cgeom.pair_token = token;
    cgeom.created_usec = geom.created_usec;
    if (init_control(cfd, &cl, vhost_capacity, &cgeom) != 0) {
        err = errno;
        set_why(why, whylen, "cannot write %s: %s", ctmp, strerror(err));
        goto fail;
    }
    /* The only mapping of the control file comes from an O_RDONLY
     * descriptor, so it can never be made writable in this process or in
     * the children that inherit it. */
    rofd = open(ctmp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (rofd < 0) {
        err = errno;
        set_why(why, whylen, "cannot reopen %s: %s", ctmp, strerror(err));
        goto fail;
    }
    if (fstat(rofd, &rst) != 0 || rst.st_dev != cst.st_dev || rst.st_ino != cst.st_ino) {
        close(rofd);
        err = EINVAL;
        set_why(why, whylen, "%s was replaced while being built", ctmp);
        goto fail;
    }
    cbase = mmap(NULL, (size_t)cl.total, PROT_READ, MAP_SHARED, rofd, 0);
    err = errno;
    close(rofd);
    if (cbase == MAP_FAILED) {
        set_why(why, whylen, "cannot map %s: %s", ctmp, strerror(err));
        goto fail;
    }

    /* ---- into place: the control file first, then the statistics ---- */
    if (rename(ctmp, cpath) != 0) {
        err = errno;
        set_why(why, whylen, "cannot move %s to %s: %s", ctmp, cpath, strerror(err));
        goto fail;
    }
    ctl_renamed = 1;
    if (rename(tmp, path) != 0) {
        err = errno;
        set_why(why, whylen, "cannot move %s to %s: %s", tmp, path, strerror(err));
        goto fail;
    }
    fill_handle(h, base, (size_t)l.total, &geom, cbase, (size_t)cl.total, &cgeom);
    h->writable = 1;
    h->control_writable = EXPECT_CTL_PWRITE;
    h->ctl_fd = cfd;
    h->dev = (uint64_t)st.st_dev;
    h->ino = (uint64_t)st.st_ino;
    h->ctl_dev = (uint64_t)cst.st_dev;
    h->ctl_ino = (uint64_t)cst.st_ino;
    return APR_SUCCESS;

fail:
    if (fd >= 0) {
        close(fd);
    }
    if (cfd >= 0) {
        close(cfd);
    }
    if (base != MAP_FAILED) {
        munmap(base, (size_t)l.total);
    }
    if (cbase != MAP_FAILED) {
        munmap(cbase, (size_t)cl.total);
    }
    unlink(tmp);
    unlink(ctmp);
    if (ctl_renamed) {
        /* Ours, paired with nothing: leave no mismatched pair behind. */
        expect_shm_remove_if_same(cpath, (uint64_t)cst.st_dev, (uint64_t)cst.st_ino);
    }
    zero_handle(h);
    return APR_FROM_OS_ERROR(err ? err : EIO);
}

void expect_shm_seal(expect_shm_t *h)
{
    if (h == NULL) {
        return;
    }
    if (h->control_writable == EXPECT_CTL_PWRITE && h->ctl_fd >= 0) {
        close(h->ctl_fd);
    }
    h->ctl_fd = -1;
    if (h->control_writable == EXPECT_CTL_PWRITE) {
        h->control_writable = EXPECT_CTL_RDONLY;
    }
}

apr_status_t expect_shm_unseal(expect_shm_t *h, const char *path)
{
    char cpath[PATH_MAX];
    struct stat st;
    int fd, err;

    if (h == NULL || h->ctl_base == NULL || path == NULL
        || expect_shm_control_path(cpath, sizeof(cpath), path) != 0) {
        return APR_EINVAL;
    }
    if (h->control_writable == EXPECT_CTL_PWRITE) {
        return APR_SUCCESS;
    }
    if (h->control_writable != EXPECT_CTL_RDONLY) {
        return APR_EINVAL;
    }
    /* No symlink, no FIFO that would block, not inherited by a CGI. */
    fd = open(cpath, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if (fstat(fd, &st) != 0) {
        err = errno;
        close(fd);
        return APR_FROM_OS_ERROR(err);
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()
        || (uint64_t)st.st_dev != h->ctl_dev || (uint64_t)st.st_ino != h->ctl_ino) {
        /* Someone replaced the file: its bytes are not the ones we map. */
        close(fd);
        return APR_EINVAL;
    }
    h->ctl_fd = fd;
    h->control_writable = EXPECT_CTL_PWRITE;
    return APR_SUCCESS;
}

static int same_file(const char *path, uint64_t dev, uint64_t ino)
{
    struct stat st;

    return lstat(path, &st) == 0 && S_ISREG(st.st_mode)
           && (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

int expect_shm_is_current(const expect_shm_t *h, const char *path)
{
    char cpath[PATH_MAX];

    if (h == NULL || h->base == NULL || h->ctl_base == NULL || path == NULL
        || expect_shm_control_path(cpath, sizeof(cpath), path) != 0) {
        return 0;
    }
    return same_file(path, h->dev, h->ino) && same_file(cpath, h->ctl_dev, h->ctl_ino);
}

int expect_shm_remove_if_same(const char *path, uint64_t dev, uint64_t ino)
{
    struct stat st;

    if (path == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (lstat(path, &st) != 0) {
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    }
    if (S_ISLNK(st.st_mode) || (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino) {
        return 0;   /* not ours any more: a newer server's, or planted */
    }
    if (unlink(path) != 0) {
        return errno == ENOENT ? 0 : -1;
    }
    return 1;
}

void expect_shm_remove(const expect_shm_t *h, const char *path)
{
    char cpath[PATH_MAX];

    if (h == NULL || path == NULL) {
        return;
    }
    if (h->base != NULL) {
        expect_shm_remove_if_same(path, h->dev, h->ino);
    }
    if (h->ctl_base != NULL && expect_shm_control_path(cpath, sizeof(cpath), path) == 0) {
        expect_shm_remove_if_same(cpath, h->ctl_dev, h->ctl_ino);
    }
}

/* ---- control file writes ---- */

/*
 * Write len bytes at `field` (a place in the control mapping): an atomic
 * store through expectctl's read-write mapping, or pwrite() for the
 * parent, whose mapping is read-only.
 */
static apr_status_t ctl_write(expect_shm_t *h, void *field, const void *src, size_t len)
{
    uint64_t off;

    if (h == NULL || h->ctl_base == NULL) {
        return APR_EINVAL;
    }
    off = (uint64_t)((char *)field - (char *)h->ctl_base);
    if (off > h->ctl_size || len > h->ctl_size - off) {
        return APR_EINVAL;
    }
    switch (h->control_writable) {
    case EXPECT_CTL_MAPPED:
        if (len == sizeof(uint32_t) && off % sizeof(uint32_t) == 0) {
            uint32_t v;
            memcpy(&v, src, sizeof(v));
            __atomic_store_n((uint32_t *)field, v, __ATOMIC_RELEASE);
        }
        else {
            memcpy(field, src, len);
            __atomic_thread_fence(__ATOMIC_RELEASE);
        }
        return APR_SUCCESS;
    case EXPECT_CTL_PWRITE:
        if (h->ctl_fd < 0) {
            return APR_EACCES;
        }
        if (pwrite_all(h->ctl_fd, src, len, (off_t)off) != 0) {
            return APR_FROM_OS_ERROR(errno);
        }
        return APR_SUCCESS;
    default:
        return APR_EACCES;
    }
}

static apr_status_t ctl_set32(expect_shm_t *h, uint32_t *field, uint32_t v)
{
    return ctl_write(h, field, &v, sizeof(v));
}

uint32_t expect_shm_vhost_count(const expect_shm_t *h)
{
    uint32_t n;

    if (h == NULL || h->ctl_hdr == NULL) {
        return 0;
    }
    n = __atomic_load_n(&h->ctl_hdr->count, __ATOMIC_ACQUIRE);
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
        if (strncmp(h->ctl[i].name, key, EXPECT_SHM_NAME_LEN) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static void zero_counters(expect_shm_vhost_t *vh)
{
    int c;

    for (c = 0; c < EXPECT_CTR_COUNT; c++) {
        __atomic_store_n(&vh->ctr[c], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&vh->last_417_usec, 0, __ATOMIC_RELAXED);
}

apr_status_t expect_shm_vhost_add(expect_shm_t *h, const char *name, uint32_t *slot)
{
    expect_ctl_entry_t e;
    apr_status_t rv;
    uint32_t n;
    int found;

    if (h == NULL || h->ctl_hdr == NULL || h->hdr == NULL || name == NULL
        || name[0] == '\0' || slot == NULL) {
        return APR_EINVAL;
    }
    found = expect_shm_vhost_find(h, name);
    if (found >= 0) {
        *slot = (uint32_t)found;
        return APR_SUCCESS;
    }
    if (!h->writable || h->control_writable == EXPECT_CTL_RDONLY) {
        return APR_EACCES;
    }
    n = expect_shm_vhost_count(h);
    if (n >= h->vhost_capacity) {
        return APR_ENOSPC;
    }
    /* Only the parent adds, single-threaded.  The entry is complete
     * before the count that makes it visible. */
    memset(&e, 0, sizeof(e));
    e.override = EXPECT_OVERRIDE_NONE;
    e.configured_policy = EXPECT_POLICY_DEFAULT;
    stored_name(e.name, name);
    zero_counters(&h->vhosts[n]);
    if ((rv = ctl_write(h, &h->ctl[n], &e, sizeof(e))) != APR_SUCCESS
        || (rv = ctl_set32(h, &h->ctl_hdr->count, n + 1)) != APR_SUCCESS) {
        return rv;
    }
    *slot = n;
    return APR_SUCCESS;
}

apr_status_t expect_shm_mark_all_inactive(expect_shm_t *h)
{
    apr_status_t rv;
    uint32_t i, n = expect_shm_vhost_count(h), f;

    if (h == NULL || h->ctl == NULL) {
        return APR_EINVAL;
    }
    for (i = 0; i < n; i++) {
        f = __atomic_load_n(&h->ctl[i].flags, __ATOMIC_ACQUIRE);
        if ((f & EXPECT_VHOST_ACTIVE)
            && (rv = ctl_set32(h, &h->ctl[i].flags, f & ~EXPECT_VHOST_ACTIVE)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t expect_shm_mark_active(expect_shm_t *h, uint32_t slot,
                                    expect_policy_t policy, int strict)
{
    apr_status_t rv;
    uint32_t f;

    if (h == NULL || h->ctl == NULL || slot >= expect_shm_vhost_count(h)) {
        return APR_EINVAL;
    }
    if (policy < EXPECT_POLICY_CONTINUE || policy > EXPECT_POLICY_IGNORE) {
        policy = EXPECT_POLICY_DEFAULT;
    }
    f = __atomic_load_n(&h->ctl[slot].flags, __ATOMIC_ACQUIRE);
    if ((rv = ctl_set32(h, &h->ctl[slot].configured_policy, (uint32_t)policy)) != APR_SUCCESS
        || (rv = ctl_set32(h, &h->ctl[slot].strict, strict ? 1u : 0u)) != APR_SUCCESS
        || (rv = ctl_set32(h, &h->ctl[slot].flags, f | EXPECT_VHOST_ACTIVE)) != APR_SUCCESS) {
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t expect_shm_copy_vhosts(expect_shm_t *dst, const expect_shm_t *src,
                                    int active_only)
{
    expect_shm_vhost_snap_t snap;
    expect_shm_vhost_t *vh;
    apr_status_t rv = APR_SUCCESS, orv;
    uint32_t i, slot, n = expect_shm_vhost_count(src);
    int c;

    if (dst == NULL || !dst->writable || dst->control_writable == EXPECT_CTL_RDONLY) {
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
        orv = ctl_set32(dst, &dst->ctl[slot].configured_policy,
                        snap.configured_policy <= EXPECT_POLICY_IGNORE
                            ? snap.configured_policy : (uint32_t)EXPECT_POLICY_DEFAULT);
        if (orv == APR_SUCCESS) {
            orv = ctl_set32(dst, &dst->ctl[slot].strict, snap.strict ? 1u : 0u);
        }
        if (orv == APR_SUCCESS && snap.override != EXPECT_OVERRIDE_NONE) {
            orv = expect_shm_set_override(dst, slot, snap.override);
        }
        if (orv != APR_SUCCESS && rv == APR_SUCCESS) {
            rv = orv;
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
    if (h == NULL) {
        return;
    }
    expect_shm_seal(h);
    if (h->base != NULL) {
        munmap(h->base, h->size);
    }
    if (h->ctl_base != NULL) {
        munmap(h->ctl_base, h->ctl_size);
    }
    zero_handle(h);
}

/* ---- request path ---- */

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

void expect_shm_event_init(expect_shm_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->content_length = -1;
    ev->status = 417;
}

void expect_shm_strlcpy(char *dst, size_t dstsize, const char *src)
{
    if (dst == NULL || dstsize == 0) {
        return;
    }
    /* strncpy zeroes the whole rest: an event is written over an older,
     * longer one, whose tail (a query string, say) must not outlive it. */
    strncpy(dst, src != NULL ? src : "", dstsize - 1);
    dst[dstsize - 1] = '\0';
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

expect_shm_event_t *expect_shm_claim(expect_shm_t *h, uint64_t *ticket)
{
    expect_shm_event_t *rec;
    uint64_t n, mine, cur, stale;

    if (h == NULL || h->hdr == NULL || h->ring == NULL || h->ring_slots == 0) {
        return NULL;
    }
    n = __atomic_fetch_add(&h->hdr->ring_head, 1, __ATOMIC_RELAXED);
    rec = &h->ring[n % h->ring_slots];
    mine = 2 * n + 1;
    /* A holder this many claims behind ours is presumed dead.  One lap
     * (ring_slots claims) is the normal distance between a slot's
     * successive writers, so the bar must be several laps, not one. */
    stale = (uint64_t)EXPECT_SHM_STALE_LAPS * h->ring_slots;
    cur = __atomic_load_n(&rec->seq, __ATOMIC_RELAXED);
    for (;;) {
        if (cur >= mine) {
            /* A writer a lap ahead already owns the slot: ours is older news. */
            goto dropped;
        }
        if ((cur & 1) && (mine - cur) / 2 <= stale) {
            /* An earlier writer is still copying.  Waiting would be a lock;
             * racing it would publish a torn record.  Drop ours instead.
             * One more than EXPECT_SHM_STALE_LAPS laps older is presumed
             * dead and is taken over, so a crashed child cannot wedge the
             * slot for good. */
            goto dropped;
        }
        if (__atomic_compare_exchange_n(&rec->seq, &cur, mine, 0,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
            break;
        }
    }
    /* Readers must see the odd word before any payload byte changes. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *ticket = mine;
    return rec;

dropped:
    __atomic_add_fetch(&h->hdr->ring_dropped, 1, __ATOMIC_RELAXED);
    return NULL;
}

void expect_shm_publish(expect_shm_event_t *rec, uint64_t ticket)
{
    uint64_t cur = ticket;

    terminate_event_strings(rec);
    rec->status = 417;
    rec->reserved0 = 0;
    /* Publish only if nobody took the slot over meanwhile. */
    __atomic_compare_exchange_n(&rec->seq, &cur, ticket + 1, 0,
                                __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

int expect_shm_record(expect_shm_t *h, const expect_shm_event_t *ev)
{
    expect_shm_event_t *rec;
    uint64_t ticket;

    if (ev == NULL || (rec = expect_shm_claim(h, &ticket)) == NULL) {
        return 0;
    }
    memcpy((char *)rec + sizeof(rec->seq), (const char *)ev + sizeof(ev->seq),
           sizeof(*ev) - sizeof(ev->seq));
    expect_shm_publish(rec, ticket);
    return 1;
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

/* What both files' headers begin with, in the same order. */
typedef struct {
    char     magic[8];
    uint32_t layout_version;
    uint32_t header_size;
    uint64_t total_size;
} file_prefix_t;

#define SAME_PREFIX(T) \
    (offsetof(T, magic) == offsetof(file_prefix_t, magic) \
     && offsetof(T, layout_version) == offsetof(file_prefix_t, layout_version) \
     && offsetof(T, header_size) == offsetof(file_prefix_t, header_size) \
     && offsetof(T, total_size) == offsetof(file_prefix_t, total_size))
_Static_assert(SAME_PREFIX(expect_shm_header_t), "statistics header prefix");
_Static_assert(SAME_PREFIX(expect_ctl_header_t), "control header prefix");

/*
 * The checks both validators start with: room for a header, the magic,
 * the layout version, the header size and the file length.  label starts
 * every reason ("" or "control file: "); what names the file in the magic
 * message.
 */
static expect_shm_err_t check_prefix(const void *buf, size_t len, const char *magic,
                                     size_t header_size, const char *label,
                                     const char *what, char *why, size_t whylen)
{
    file_prefix_t pf;

    if (buf == NULL || len < header_size) {
        set_why(why, whylen, "%s%zu bytes, too small for a header (%zu)",
                label, len, header_size);
        return EXPECT_SHM_ECORRUPT;
    }
    /* The buffer may be unaligned (a fuzzer's): copy, never cast. */
    memcpy(&pf, buf, sizeof(pf));
    if (memcmp(pf.magic, magic, sizeof(pf.magic)) != 0) {
        set_why(why, whylen, "%sbad magic: not a mod_expect %s", label, what);
        return EXPECT_SHM_ECORRUPT;
    }
    if (pf.layout_version != EXPECT_SHM_LAYOUT_VERSION) {
        set_why(why, whylen, "%slayout version %u, expected %u",
                label, pf.layout_version, EXPECT_SHM_LAYOUT_VERSION);
        return EXPECT_SHM_ECORRUPT;
    }
    if (pf.header_size != header_size) {
        set_why(why, whylen, "%sheader size %u, expected %zu",
                label, pf.header_size, header_size);
        return EXPECT_SHM_ECORRUPT;
    }
    if (pf.total_size != (uint64_t)len) {
        set_why(why, whylen, "%s%s: header says %llu bytes, file has %zu", label,
                pf.total_size > (uint64_t)len ? "truncated" : "size mismatch",
                (unsigned long long)pf.total_size, len);
        return EXPECT_SHM_ECORRUPT;
    }
    return EXPECT_SHM_OK;
}

expect_shm_err_t expect_shm_validate(const void *buf, size_t len,
                                     char *why, size_t whylen)
{
    expect_shm_header_t hd;
    uint64_t vend, rend, max_total;
    size_t maxsz;

    if (check_prefix(buf, len, EXPECT_SHM_MAGIC, sizeof(hd), "", "statistics segment",
                     why, whylen) != EXPECT_SHM_OK) {
        return EXPECT_SHM_ECORRUPT;
    }
    /* The buffer may be unaligned (a fuzzer's): copy, never cast. */
    memcpy(&hd, buf, sizeof(hd));
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
    if (hd.vhosts_offset % EXPECT_SHM_ALIGN || hd.ring_offset % EXPECT_SHM_ALIGN
        || hd.vhosts_offset < EXPECT_SHM_ALIGN) {
        set_why(why, whylen, "region offsets not page-aligned");
        return EXPECT_SHM_ECORRUPT;
    }
    vend = (uint64_t)hd.vhost_capacity * hd.vhost_size;   /* < 2^32 * 2^8 */
    if (!region_ok(hd.vhosts_offset, vend, hd.total_size)) {
        set_why(why, whylen, "vhost table out of range");
        return EXPECT_SHM_ECORRUPT;
    }
    vend += hd.vhosts_offset;
    rend = (uint64_t)hd.ring_slots * hd.event_size;
    if (hd.ring_offset < vend || !region_ok(hd.ring_offset, rend, hd.total_size)) {
        set_why(why, whylen, "event ring out of range");
        return EXPECT_SHM_ECORRUPT;
    }
    return EXPECT_SHM_OK;
}

expect_shm_err_t expect_shm_validate_control(const void *buf, size_t len,
                                             char *why, size_t whylen)
{
    const unsigned char *b = buf;
    expect_ctl_header_t hd;
    uint64_t eend, max_total;
    uint32_t i;
    size_t maxsz;

    if (check_prefix(buf, len, EXPECT_CTL_MAGIC, sizeof(hd), "control file: ",
                     "control file", why, whylen) != EXPECT_SHM_OK) {
        return EXPECT_SHM_ECORRUPT;
    }
    memcpy(&hd, b, sizeof(hd));
    if (hd.entry_size != sizeof(expect_ctl_entry_t)) {
        set_why(why, whylen, "control file: entry size %u, expected %zu",
                hd.entry_size, sizeof(expect_ctl_entry_t));
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.capacity == 0 || hd.capacity > EXPECT_SHM_MAX_VHOSTS) {
        set_why(why, whylen, "control file: implausible geometry: %u vhosts", hd.capacity);
        return EXPECT_SHM_ECORRUPT;
    }
    maxsz = expect_shm_control_size(EXPECT_SHM_MAX_VHOSTS);
    max_total = maxsz ? (uint64_t)maxsz : UINT64_MAX;
    if (hd.total_size > max_total) {
        set_why(why, whylen, "control file: implausible size %llu",
                (unsigned long long)hd.total_size);
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.entries_offset % EXPECT_SHM_ALIGN || hd.entries_offset < EXPECT_SHM_ALIGN) {
        set_why(why, whylen, "control file: region offsets not page-aligned");
        return EXPECT_SHM_ECORRUPT;
    }
    eend = (uint64_t)hd.capacity * hd.entry_size;
    if (!region_ok(hd.entries_offset, eend, hd.total_size)) {
        set_why(why, whylen, "control file: entry table out of range");
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.count > hd.capacity) {
        set_why(why, whylen, "control file: %u vhosts in a table of %u",
                hd.count, hd.capacity);
        return EXPECT_SHM_ECORRUPT;
    }
    for (i = 0; i < hd.capacity; i++) {
        const unsigned char *rec = b + hd.entries_offset + (uint64_t)i * hd.entry_size;
        uint32_t ov = rd32(rec + offsetof(expect_ctl_entry_t, override));
        uint32_t pol = rd32(rec + offsetof(expect_ctl_entry_t, configured_policy));
        uint32_t strict = rd32(rec + offsetof(expect_ctl_entry_t, strict));

        if (ov != EXPECT_OVERRIDE_NONE && ov > (uint32_t)EXPECT_POLICY_IGNORE) {
            set_why(why, whylen, "vhost %u: override %u unknown", i, ov);
            return EXPECT_SHM_ECORRUPT;
        }
        if (i >= hd.count) {
            continue;
        }
        if (memchr(rec + offsetof(expect_ctl_entry_t, name), '\0', EXPECT_SHM_NAME_LEN) == NULL) {
            set_why(why, whylen, "vhost %u: name not terminated", i);
            return EXPECT_SHM_ECORRUPT;
        }
        if (pol > (uint32_t)EXPECT_POLICY_IGNORE) {
            set_why(why, whylen, "vhost %u: policy %u unknown", i, pol);
            return EXPECT_SHM_ECORRUPT;
        }
        if (strict > 1) {
            set_why(why, whylen, "vhost %u: strict %u unknown", i, strict);
            return EXPECT_SHM_ECORRUPT;
        }
    }
    return EXPECT_SHM_OK;
}

/* Both valid; then: do they belong together?  EXPECT_SHM_EOTHER + 100
 * marks a mismatch (attach retries those). */
#define PAIR_MISMATCH 100

static int check_pairing(const void *buf, const void *ctl, char *why, size_t whylen)
{
    expect_shm_header_t hd;
    expect_ctl_header_t cd;

    memcpy(&hd, buf, sizeof(hd));
    memcpy(&cd, ctl, sizeof(cd));
    if (hd.pair_token != cd.pair_token) {
        set_why(why, whylen, "statistics and control files do not belong together "
                "(pair tokens %016llx and %016llx)",
                (unsigned long long)hd.pair_token, (unsigned long long)cd.pair_token);
        return PAIR_MISMATCH;
    }
    if (hd.vhost_capacity != cd.capacity) {
        set_why(why, whylen, "statistics and control files disagree: %u and %u vhosts",
                hd.vhost_capacity, cd.capacity);
        return EXPECT_SHM_ECORRUPT;
    }
    return EXPECT_SHM_OK;
}

expect_shm_err_t expect_shm_validate_pair(const void *buf, size_t len,
                                          const void *ctl, size_t ctl_len,
                                          char *why, size_t whylen)
{
    expect_shm_err_t rc;

    if ((rc = expect_shm_validate(buf, len, why, whylen)) != EXPECT_SHM_OK
        || (rc = expect_shm_validate_control(ctl, ctl_len, why, whylen)) != EXPECT_SHM_OK) {
        return rc;
    }
    return check_pairing(buf, ctl, why, whylen) == EXPECT_SHM_OK ? EXPECT_SHM_OK
                                                                 : EXPECT_SHM_ECORRUPT;
}

expect_shm_err_t expect_shm_check(const expect_shm_t *h, char *why, size_t whylen)
{
    expect_shm_header_t hd;
    expect_ctl_header_t cd;
    expect_shm_err_t rc;

    if (h == NULL || h->base == NULL || h->ctl_base == NULL) {
        set_why(why, whylen, "no segment");
        return EXPECT_SHM_ENOENT;
    }
    rc = expect_shm_validate_pair(h->base, h->size, h->ctl_base, h->ctl_size, why, whylen);
    if (rc != EXPECT_SHM_OK) {
        return rc;
    }
    memcpy(&hd, h->base, sizeof(hd));
    memcpy(&cd, h->ctl_base, sizeof(cd));
    if (hd.vhost_capacity != h->vhost_capacity || hd.ring_slots != h->ring_slots
        || hd.pair_token != h->pair_token
        || (char *)h->vhosts != (char *)h->base + hd.vhosts_offset
        || (char *)h->ring != (char *)h->base + hd.ring_offset
        || (char *)h->ctl != (char *)h->ctl_base + cd.entries_offset) {
        set_why(why, whylen, "headers no longer describe the mapped geometry");
        return EXPECT_SHM_ECORRUPT;
    }
    return EXPECT_SHM_OK;
}

static expect_shm_err_t open_error(int err, const char *what, char *why, size_t whylen)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        set_why(why, whylen, "no %s there", what);
        return EXPECT_SHM_ENOENT;
    case EACCES:
    case EPERM:
        set_why(why, whylen, "%s: permission denied", what);
        return EXPECT_SHM_EACCES;
    case ELOOP:
        set_why(why, whylen, "%s is a symbolic link; refusing to follow it", what);
        return EXPECT_SHM_EACCES;
    default:
        set_why(why, whylen, "%s: %s", what, strerror(err));
        return EXPECT_SHM_EOTHER;
    }
}

/*
 * What attach does once the bytes are mapped, shared with expect_shm_view:
 * validate, then take the geometry from this one copy only (later header
 * writes are ignored).  Leaves h untouched on failure.
 */
static int adopt_pair(expect_shm_t *h, void *base, size_t size, void *cbase, size_t csize,
                      char *why, size_t whylen)
{
    expect_shm_header_t geom;
    expect_ctl_header_t cgeom;
    expect_shm_err_t rc;
    int pr;

    if ((rc = expect_shm_validate(base, size, why, whylen)) != EXPECT_SHM_OK
        || (rc = expect_shm_validate_control(cbase, csize, why, whylen)) != EXPECT_SHM_OK) {
        return rc;
    }
    if ((pr = check_pairing(base, cbase, why, whylen)) != EXPECT_SHM_OK) {
        return pr;
    }
    memcpy(&geom, base, sizeof(geom));
    memcpy(&cgeom, cbase, sizeof(cgeom));
    fill_handle(h, base, size, &geom, cbase, csize, &cgeom);
    return EXPECT_SHM_OK;
}

expect_shm_err_t expect_shm_view(expect_shm_t *h, void *buf, size_t len,
                                 void *ctl, size_t ctl_len,
                                 char *why, size_t whylen)
{
    int rc;

    zero_handle(h);
    if ((buf != NULL && (uintptr_t)buf % sizeof(uint64_t) != 0)
        || (ctl != NULL && (uintptr_t)ctl % sizeof(uint64_t) != 0)) {
        /* The reader does atomic 64-bit loads: those need aligned words. */
        set_why(why, whylen, "buffer not aligned for a segment");
        return EXPECT_SHM_EOTHER;
    }
    rc = adopt_pair(h, buf, len, ctl, ctl_len, why, whylen);
    if (rc != EXPECT_SHM_OK) {
        zero_handle(h);
        return rc == PAIR_MISMATCH ? EXPECT_SHM_ECORRUPT : (expect_shm_err_t)rc;
    }
    return EXPECT_SHM_OK;
}

/* A segment is trusted only from root (httpd's parent) or from ourselves. */
static expect_shm_err_t check_file(const struct stat *st, const char *what,
                                   char *why, size_t whylen)
{
    if (S_ISLNK(st->st_mode)) {
        set_why(why, whylen, "%s is a symbolic link; refusing to follow it", what);
        return EXPECT_SHM_EACCES;
    }
    if (!S_ISREG(st->st_mode)) {
        set_why(why, whylen, "%s is not a regular file", what);
        return EXPECT_SHM_ECORRUPT;
    }
    if (st->st_uid != 0 && st->st_uid != geteuid()) {
        set_why(why, whylen, "%s owned by uid %lu, neither root nor you; not trusted",
                what, (unsigned long)st->st_uid);
        return EXPECT_SHM_EACCES;
    }
    return EXPECT_SHM_OK;
}

/* Open, check and map one file of the pair.  `what` names it in reasons. */
static expect_shm_err_t map_file(const char *path, const char *what, size_t min_size,
                                 int writable, void **base, size_t *size, struct stat *st,
                                 char *why, size_t whylen)
{
    struct stat lst;
    expect_shm_err_t rc;
    void *b;
    int fd, err;

    if (lstat(path, &lst) != 0) {
        return open_error(errno, what, why, whylen);
    }
    if ((rc = check_file(&lst, what, why, whylen)) != EXPECT_SHM_OK) {
        return rc;
    }
    /* O_NOFOLLOW and O_NONBLOCK close the race with a swap to a symlink
     * or a FIFO between lstat() and open(). */
    fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return open_error(errno, what, why, whylen);
    }
    if (fstat(fd, st) != 0) {
        err = errno;
        close(fd);
        return open_error(err, what, why, whylen);
    }
    if ((rc = check_file(st, what, why, whylen)) != EXPECT_SHM_OK) {
        close(fd);
        return rc;
    }
    if (st->st_dev != lst.st_dev || st->st_ino != lst.st_ino) {
        close(fd);
        set_why(why, whylen, "%s replaced while being opened; try again", what);
        return EXPECT_SHM_EOTHER;
    }
    if (st->st_size < (off_t)min_size) {
        close(fd);
        set_why(why, whylen, "%s: %lld bytes, too small for a header (%zu)",
                what, (long long)st->st_size, min_size);
        return EXPECT_SHM_ECORRUPT;
    }
    if ((unsigned long long)st->st_size > (unsigned long long)SIZE_MAX) {
        close(fd);
        set_why(why, whylen, "%s: implausible size %lld", what, (long long)st->st_size);
        return EXPECT_SHM_ECORRUPT;
    }
    *size = (size_t)st->st_size;
    b = mmap(NULL, *size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    err = errno;
    close(fd);
    if (b == MAP_FAILED) {
        set_why(why, whylen, "%s: cannot map: %s", what, strerror(err));
        return err == EACCES || err == EPERM ? EXPECT_SHM_EACCES : EXPECT_SHM_EOTHER;
    }
    *base = b;
    return EXPECT_SHM_OK;
}

static int attach_once(expect_shm_t *h, const char *path, const char *cpath,
                       int writable, char *why, size_t whylen)
{
    struct stat st, cst;
    void *base = NULL, *cbase = NULL;
    size_t size = 0, csize = 0;
    int rc;

    /* The statistics file first: a damaged one is reported as such even
     * when its control file is missing. */
    rc = map_file(path, "segment", sizeof(expect_shm_header_t), writable,
                  &base, &size, &st, why, whylen);
    if (rc != EXPECT_SHM_OK) {
        return rc;
    }
    if ((rc = expect_shm_validate(base, size, why, whylen)) != EXPECT_SHM_OK) {
        munmap(base, size);
        return rc;
    }
    rc = map_file(cpath, "control file", sizeof(expect_ctl_header_t), writable,
                  &cbase, &csize, &cst, why, whylen);
    if (rc != EXPECT_SHM_OK) {
        munmap(base, size);
        return rc;
    }
    if ((rc = adopt_pair(h, base, size, cbase, csize, why, whylen)) != EXPECT_SHM_OK) {
        munmap(base, size);
        munmap(cbase, csize);
        return rc;
    }
    h->writable = writable ? 1 : 0;
    h->control_writable = writable ? EXPECT_CTL_MAPPED : EXPECT_CTL_RDONLY;
    h->dev = (uint64_t)st.st_dev;
    h->ino = (uint64_t)st.st_ino;
    h->ctl_dev = (uint64_t)cst.st_dev;
    h->ctl_ino = (uint64_t)cst.st_ino;
    return EXPECT_SHM_OK;
}

expect_shm_err_t expect_shm_attach(expect_shm_t *h, const char *path,
                                   int writable, char *why, size_t whylen)
{
    char cpath[PATH_MAX];
    struct timespec ts = {0, PAIR_RETRY_NS};
    int rc, tries;

    zero_handle(h);
    if (path == NULL || expect_shm_control_path(cpath, sizeof(cpath), path) != 0) {
        set_why(why, whylen, "path too long");
        return EXPECT_SHM_EOTHER;
    }
    for (tries = 0;; tries++) {
        rc = attach_once(h, path, cpath, writable, why, whylen);
        if (rc == EXPECT_SHM_OK) {
            return EXPECT_SHM_OK;
        }
        zero_handle(h);
        /* A restart renames the new pair into place one file at a time. */
        if (rc != PAIR_MISMATCH || tries + 1 >= PAIR_RETRIES) {
            break;
        }
        nanosleep(&ts, NULL);
    }
    return rc == PAIR_MISMATCH ? EXPECT_SHM_ECORRUPT : (expect_shm_err_t)rc;
}

int expect_shm_snapshot(const expect_shm_t *h, uint32_t slot,
                        expect_shm_vhost_snap_t *out)
{
    const expect_ctl_entry_t *e;
    const expect_shm_vhost_t *vh;
    int c;

    if (out == NULL || slot >= expect_shm_vhost_count(h)) {
        return -1;
    }
    e = &h->ctl[slot];
    vh = &h->vhosts[slot];
    memset(out, 0, sizeof(*out));
    out->slot = slot;
    out->flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
    out->configured_policy = __atomic_load_n(&e->configured_policy, __ATOMIC_RELAXED);
    if (out->configured_policy > (uint32_t)EXPECT_POLICY_IGNORE) {
        out->configured_policy = (uint32_t)EXPECT_POLICY_DEFAULT;
    }
    out->strict = __atomic_load_n(&e->strict, __ATOMIC_RELAXED) ? 1u : 0u;
    out->override = __atomic_load_n(&e->override, __ATOMIC_RELAXED);
    if (out->override > (uint32_t)EXPECT_POLICY_IGNORE) {
        out->override = EXPECT_OVERRIDE_NONE;
    }
    memcpy(out->name, e->name, sizeof(out->name));
    out->name[sizeof(out->name) - 1] = '\0';
    for (c = 0; c < EXPECT_CTR_COUNT; c++) {
        out->ctr[c] = __atomic_load_n(&vh->ctr[c], __ATOMIC_RELAXED);
    }
    out->last_417_usec = __atomic_load_n(&vh->last_417_usec, __ATOMIC_RELAXED);
    return 0;
}

static int valid_override(uint32_t value)
{
    return value == EXPECT_OVERRIDE_NONE || value <= (uint32_t)EXPECT_POLICY_IGNORE;
}

apr_status_t expect_shm_set_override(expect_shm_t *h, uint32_t slot, uint32_t value)
{
    if (h == NULL || h->ctl == NULL || slot >= expect_shm_vhost_count(h)
        || !valid_override(value)) {
        return APR_EINVAL;
    }
    if (h->control_writable == EXPECT_CTL_RDONLY) {
        return APR_EACCES;
    }
    return ctl_set32(h, &h->ctl[slot].override, value);
}

apr_status_t expect_shm_set_override_all(expect_shm_t *h, uint32_t value)
{
    apr_status_t rv;
    uint32_t i, n;

    if (h == NULL || h->ctl == NULL || !valid_override(value)) {
        return APR_EINVAL;
    }
    if (h->control_writable == EXPECT_CTL_RDONLY) {
        return APR_EACCES;
    }
    /* Which vhosts exist and are active is the control file's word. */
    n = expect_shm_vhost_count(h);
    for (i = 0; i < n; i++) {
        if (!(__atomic_load_n(&h->ctl[i].flags, __ATOMIC_ACQUIRE) & EXPECT_VHOST_ACTIVE)) {
            continue;
        }
        if ((rv = ctl_set32(h, &h->ctl[i].override, value)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t expect_shm_reset(expect_shm_t *h, uint32_t slot)
{
    if (h == NULL || slot >= expect_shm_vhost_count(h)) {
        return APR_EINVAL;
    }
    if (!h->writable) {
        return APR_EACCES;
    }
    zero_counters(&h->vhosts[slot]);
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
            /* Claimed but not published yet: being written (2n+1), or its
             * writer has not even marked the slot (an older lap's word). */
            if (s1 <= 2 * n + 1 && wait_pending) {
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
