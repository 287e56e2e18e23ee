/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_shm_attach.c - expectctl's way in: open and map both files
 * (refusing symlinks, FIFOs and untrusted owners), validate them, and
 * fill a handle from one validated copy of the geometry; and the same
 * over bytes already in memory (expect_shm_view, for the fuzzer).
 *
 * Separate because it is the reader's trust boundary, apart from the
 * parent's creation code in expect_shm_file.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "expect_shm_internal.h"

/* A pair caught between the two renames of a restart: how often and how
 * long attach retries before calling it a mismatch. */
#define PAIR_RETRIES   10
#define PAIR_RETRY_NS  20000000L

static expect_shm_err_t open_error(int err, const char *what, char *why, size_t whylen)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        expect_shm_set_why(why, whylen, "no %s there", what);
        return EXPECT_SHM_ENOENT;
    case EACCES:
    case EPERM:
        expect_shm_set_why(why, whylen, "%s: permission denied", what);
        return EXPECT_SHM_EACCES;
    case ELOOP:
        expect_shm_set_why(why, whylen, "%s is a symbolic link; refusing to follow it", what);
        return EXPECT_SHM_EACCES;
    default:
        expect_shm_set_why(why, whylen, "%s: %s", what, strerror(err));
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

    /* One copy of the statistics header, taken once: a child can rewrite
     * the file between two reads, so the copy that is validated is the one
     * the geometry comes from.  (The validators read only the header of a
     * statistics file; len is the file's.)  The control file only root
     * writes. */
    if (size < sizeof(geom)) {
        return expect_shm_validate(base, size, why, whylen);
    }
    memcpy(&geom, base, sizeof(geom));
    if ((rc = expect_shm_validate(&geom, size, why, whylen)) != EXPECT_SHM_OK
        || (rc = expect_shm_validate_control(cbase, csize, why, whylen)) != EXPECT_SHM_OK) {
        return rc;
    }
    if ((pr = expect_shm_check_pairing(&geom, cbase, why, whylen)) != EXPECT_SHM_OK) {
        return pr;
    }
    memcpy(&cgeom, cbase, sizeof(cgeom));
    expect_shm_fill_handle(h, base, size, &geom, cbase, csize, &cgeom);
    return EXPECT_SHM_OK;
}

expect_shm_err_t expect_shm_view(expect_shm_t *h, void *buf, size_t len,
                                 void *ctl, size_t ctl_len,
                                 char *why, size_t whylen)
{
    int rc;

    expect_shm_zero_handle(h);
    if ((buf != NULL && (uintptr_t)buf % sizeof(uint64_t) != 0)
        || (ctl != NULL && (uintptr_t)ctl % sizeof(uint64_t) != 0)) {
        /* The reader does atomic 64-bit loads: those need aligned words. */
        expect_shm_set_why(why, whylen, "buffer not aligned for a segment");
        return EXPECT_SHM_EOTHER;
    }
    rc = adopt_pair(h, buf, len, ctl, ctl_len, why, whylen);
    if (rc != EXPECT_SHM_OK) {
        expect_shm_zero_handle(h);
        return rc == EXPECT_SHM_PAIR_MISMATCH ? EXPECT_SHM_ECORRUPT : (expect_shm_err_t)rc;
    }
    return EXPECT_SHM_OK;
}

/* A segment is trusted only from root (httpd's parent) or from ourselves. */
static expect_shm_err_t check_file(const struct stat *st, const char *what,
                                   char *why, size_t whylen)
{
    if (S_ISLNK(st->st_mode)) {
        expect_shm_set_why(why, whylen, "%s is a symbolic link; refusing to follow it", what);
        return EXPECT_SHM_EACCES;
    }
    if (!S_ISREG(st->st_mode)) {
        /* A directory or a device planted at the path: nothing httpd made. */
        expect_shm_set_why(why, whylen, "%s is not a regular file: no segment there", what);
        return EXPECT_SHM_ENOENT;
    }
    if (st->st_uid != 0 && st->st_uid != geteuid()) {
        expect_shm_set_why(why, whylen, "%s owned by uid %lu, neither root nor you; not trusted",
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
        expect_shm_set_why(why, whylen, "%s replaced while being opened; try again", what);
        return EXPECT_SHM_EOTHER;
    }
    if (st->st_size < (off_t)min_size) {
        close(fd);
        expect_shm_set_why(why, whylen, "%s: %lld bytes, too small for a header (%zu)",
                what, (long long)st->st_size, min_size);
        return EXPECT_SHM_ECORRUPT;
    }
    if ((unsigned long long)st->st_size > (unsigned long long)SIZE_MAX) {
        close(fd);
        expect_shm_set_why(why, whylen, "%s: implausible size %lld", what, (long long)st->st_size);
        return EXPECT_SHM_ECORRUPT;
    }
    *size = (size_t)st->st_size;
    b = mmap(NULL, *size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    err = errno;
    close(fd);
    if (b == MAP_FAILED) {
        expect_shm_set_why(why, whylen, "%s: cannot map: %s", what, strerror(err));
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

    expect_shm_zero_handle(h);
    if (path == NULL || expect_shm_control_path(cpath, sizeof(cpath), path) != 0) {
        expect_shm_set_why(why, whylen, "path too long");
        return EXPECT_SHM_EOTHER;
    }
    for (tries = 0;; tries++) {
        rc = attach_once(h, path, cpath, writable, why, whylen);
        if (rc == EXPECT_SHM_OK) {
            return EXPECT_SHM_OK;
        }
        expect_shm_zero_handle(h);
        /* A restart renames the new pair into place one file at a time. */
        if (rc != EXPECT_SHM_PAIR_MISMATCH || tries + 1 >= PAIR_RETRIES) {
            break;
        }
        nanosleep(&ts, NULL);
    }
    return rc == EXPECT_SHM_PAIR_MISMATCH ? EXPECT_SHM_ECORRUPT : (expect_shm_err_t)rc;
}

expect_shm_err_t expect_shm_attach_control(expect_shm_t *h, const char *path, int writable,
                                           char *why, size_t whylen)
{
    char cpath[PATH_MAX], ignored[8];
    struct stat st, cst;
    expect_ctl_header_t cgeom;
    expect_layout_t l;
    void *base = NULL, *cbase = NULL;
    size_t size = 0, csize = 0, need;
    expect_shm_err_t rc;

    expect_shm_zero_handle(h);
    if (path == NULL || expect_shm_control_path(cpath, sizeof(cpath), path) != 0) {
        expect_shm_set_why(why, whylen, "path too long");
        return EXPECT_SHM_EOTHER;
    }
    /* A statistics file someone else planted is refused as attach does,
     * though its bytes are not needed. */
    if (lstat(path, &st) == 0
        && (rc = check_file(&st, "segment", why, whylen)) == EXPECT_SHM_EACCES) {
        return rc;
    }
    rc = map_file(cpath, "control file", sizeof(expect_ctl_header_t), writable,
                  &cbase, &csize, &cst, why, whylen);
    if (rc != EXPECT_SHM_OK) {
        return rc;
    }
    if ((rc = expect_shm_validate_control(cbase, csize, why, whylen)) != EXPECT_SHM_OK) {
        munmap(cbase, csize);
        return rc;
    }
    memcpy(&cgeom, cbase, sizeof(cgeom));
    /* The counter table's place follows from the capacity alone. */
    if (expect_shm_layout(cgeom.capacity, 0, 0, &l) == 0) {
        need = (size_t)(l.vhosts_offset + (uint64_t)cgeom.capacity * sizeof(expect_shm_vhost_t));
        if (map_file(path, "segment", need, writable, &base, &size, &st, ignored,
                     sizeof(ignored)) != EXPECT_SHM_OK) {
            base = NULL;   /* counters unavailable; the policy is not */
        }
    }
    h->ctl_base = cbase;
    h->ctl_size = csize;
    h->ctl_hdr = cbase;
    h->ctl = (expect_ctl_entry_t *)(void *)((char *)cbase + cgeom.entries_offset);
    h->vhost_capacity = cgeom.capacity;
    h->pair_token = cgeom.pair_token;
    h->control_writable = writable ? EXPECT_CTL_MAPPED : EXPECT_CTL_RDONLY;
    h->ctl_dev = (uint64_t)cst.st_dev;
    h->ctl_ino = (uint64_t)cst.st_ino;
    if (base != NULL) {
        h->base = base;
        h->size = size;
        h->vhosts = (expect_shm_vhost_t *)(void *)((char *)base + l.vhosts_offset);
        h->writable = writable ? 1 : 0;
        h->dev = (uint64_t)st.st_dev;
        h->ino = (uint64_t)st.st_ino;
    }
    return EXPECT_SHM_OK;
}
