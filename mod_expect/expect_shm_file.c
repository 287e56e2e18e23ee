/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_shm_file.c - the life of the two files in the httpd parent:
 * build a fresh pair and rename it into place, seal and unseal the
 * control file's write descriptor, tell whether the files at a path are
 * still ours, remove them, and unmap.
 *
 * Separate because it is the only code that creates or deletes files;
 * its safety rules (O_EXCL, O_NOFOLLOW, posix_fallocate, dev/ino checks
 * before unlink) are easier to review alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "expect_shm_internal.h"

/* A pairing token: random, never 0. */
static uint64_t new_token(void)
{
    uint64_t t = 0;

    if (getrandom(&t, sizeof(t), GRND_NONBLOCK) != (ssize_t)sizeof(t)) {
        /* No entropy yet (early boot): unique enough for pairing. */
        t = expect_shm_now_usec() ^ ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)&t;
    }
    return t != 0 ? t : 1;
}

/* Retry tracking's hash key: a secret, so never a guess from the clock.
 * getrandom() without blocking, else /dev/urandom (which never blocks). */
static int new_secret(uint64_t key[2])
{
    int fd, ok;

    if (getrandom(key, 2 * sizeof(key[0]), GRND_NONBLOCK) == (ssize_t)(2 * sizeof(key[0]))) {
        return 0;
    }
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ok = read(fd, key, 2 * sizeof(key[0])) == (ssize_t)(2 * sizeof(key[0]));
    close(fd);
    return ok ? 0 : -1;
}

int expect_shm_pwrite_all(int fd, const void *buf, size_t len, off_t off)
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
        expect_shm_set_why(why, whylen, "cannot remove stale %s: %s", tmp, strerror(err));
        errno = err;
        return -1;
    }
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno;
        expect_shm_set_why(why, whylen, "cannot create %s: %s", tmp, strerror(err));
        errno = err;
        return -1;
    }
    /* The umask may only have narrowed 0600; make sure nothing widened it. */
    if (fchmod(fd, 0600) != 0) {
        err = errno;
        expect_shm_set_why(why, whylen, "cannot chmod %s: %s", tmp, strerror(err));
        goto fail;
    }
    /* Allocate every block now: a sparse file on a full file system would
     * let the creation succeed and SIGBUS a child at its first write. */
    err = posix_fallocate(fd, 0, (off_t)total);
    if (err != 0) {
        expect_shm_set_why(why, whylen, "cannot allocate %llu bytes for %s: %s",
                (unsigned long long)total, tmp, strerror(err));
        goto fail;
    }
    if (fstat(fd, st) != 0) {
        err = errno;
        expect_shm_set_why(why, whylen, "cannot stat %s: %s", tmp, strerror(err));
        goto fail;
    }
    if ((uint64_t)st->st_size != total) {
        err = EIO;
        expect_shm_set_why(why, whylen, "%s has %lld bytes, expected %llu", tmp,
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
static int init_control(int fd, const expect_ctl_layout_t *cl, uint32_t cap,
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
        if (expect_shm_pwrite_all(fd, buf, n * sizeof(buf[0]),
                       (off_t)(cl->entries_offset + (uint64_t)i * sizeof(buf[0]))) != 0) {
            return -1;
        }
    }
    if (expect_shm_pwrite_all(fd, (const char *)geom + sizeof(geom->magic),
                   sizeof(*geom) - sizeof(geom->magic), (off_t)sizeof(geom->magic)) != 0
        || expect_shm_pwrite_all(fd, EXPECT_CTL_MAGIC, sizeof(geom->magic), 0) != 0) {
        return -1;
    }
    return 0;
}

apr_status_t expect_shm_create(expect_shm_t *h, const char *path,
                               uint32_t vhost_capacity, uint32_t ring_slots,
                               uint32_t pending_slots, char *why, size_t whylen)
{
    char tmp[PATH_MAX], cpath[PATH_MAX], ctmp[PATH_MAX];
    expect_layout_t l;
    expect_ctl_layout_t cl;
    expect_shm_header_t geom;
    expect_ctl_header_t cgeom;
    struct stat st, cst, rst;
    void *base = MAP_FAILED, *cbase = MAP_FAILED;
    int fd = -1, cfd = -1, rofd, err = 0, ctl_renamed = 0;
    uint64_t token;
    int n;

    expect_shm_zero_handle(h);
    if (path == NULL || expect_shm_layout(vhost_capacity, ring_slots, pending_slots, &l) != 0
        || expect_shm_ctl_layout(vhost_capacity, &cl) != 0
        || l.total > SIZE_MAX || cl.total > SIZE_MAX) {
        expect_shm_set_why(why, whylen, "segment geometry out of range (%u vhosts, %u event "
                           "slots, %u retry slots)", vhost_capacity, ring_slots, pending_slots);
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
        expect_shm_set_why(why, whylen, "path too long");
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
        expect_shm_set_why(why, whylen, "cannot map %s: %s", tmp, strerror(err));
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
    geom.pending_offset = l.pending_offset;
    geom.pending_size = (uint32_t)sizeof(expect_shm_pending_t);
    geom.pending_slots = pending_slots;
    geom.pair_token = token;
    geom.created_usec = expect_shm_now_usec();
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
    cgeom.state = EXPECT_SEG_BUILDING;  /* until the parent publishes it */
    cgeom.server_pid = geom.creator_pid;
    cgeom.state_usec = geom.created_usec;
    if (new_secret(cgeom.retry_key) != 0) {
        err = errno ? errno : EIO;
        expect_shm_set_why(why, whylen, "no random bytes for the retry key: %s", strerror(err));
        goto fail;
    }
    if (init_control(cfd, &cl, vhost_capacity, &cgeom) != 0) {
        err = errno;
        expect_shm_set_why(why, whylen, "cannot write %s: %s", ctmp, strerror(err));
        goto fail;
    }
    /* The only mapping of the control file comes from an O_RDONLY
     * descriptor, so it can never be made writable in this process or in
     * the children that inherit it. */
    rofd = open(ctmp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (rofd < 0) {
        err = errno;
        expect_shm_set_why(why, whylen, "cannot reopen %s: %s", ctmp, strerror(err));
        goto fail;
    }
    if (fstat(rofd, &rst) != 0 || rst.st_dev != cst.st_dev || rst.st_ino != cst.st_ino) {
        close(rofd);
        err = EINVAL;
        expect_shm_set_why(why, whylen, "%s was replaced while being built", ctmp);
        goto fail;
    }
    cbase = mmap(NULL, (size_t)cl.total, PROT_READ, MAP_SHARED, rofd, 0);
    err = errno;
    close(rofd);
    if (cbase == MAP_FAILED) {
        expect_shm_set_why(why, whylen, "cannot map %s: %s", ctmp, strerror(err));
        goto fail;
    }

    /* ---- into place: the control file first, then the statistics ---- */
    if (rename(ctmp, cpath) != 0) {
        err = errno;
        expect_shm_set_why(why, whylen, "cannot move %s to %s: %s", ctmp, cpath, strerror(err));
        goto fail;
    }
    ctl_renamed = 1;
    if (rename(tmp, path) != 0) {
        err = errno;
        expect_shm_set_why(why, whylen, "cannot move %s to %s: %s", tmp, path, strerror(err));
        goto fail;
    }
    expect_shm_fill_handle(h, base, (size_t)l.total, &geom, cbase, (size_t)cl.total, &cgeom);
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
    expect_shm_zero_handle(h);
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

    if (h == NULL || h->ctl_base == NULL || path == NULL
        || expect_shm_control_path(cpath, sizeof(cpath), path) != 0) {
        return 0;
    }
    /* A handle of expect_shm_attach_control may map no statistics file. */
    return (h->base == NULL || same_file(path, h->dev, h->ino))
           && same_file(cpath, h->ctl_dev, h->ctl_ino);
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
    expect_shm_zero_handle(h);
}
