/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_shm_carry.c - reading what a segment of ANOTHER layout holds
 * that outlives a layout change: each row's name, counters, last-417 time
 * and override, and the server that served it.
 *
 * A package upgrade replaces the module and restarts httpd gracefully; the
 * new build cannot map the old files (the validators refuse any layout but
 * their own), yet the overrides in them are an operator's decisions and
 * the counters are what dashboards plot.  expect_shm_layout.h promises
 * which fields stay in place from EXPECT_SHM_CARRY_MIN_LAYOUT on; this file
 * reads only those, with pread() into local copies, and checks every
 * offset first: the statistics file is writable by httpd's children.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expect_shm_internal.h"

/* Counters per row in the layouts before this one (expect_ctr_t only
 * grows, so a newer layout's first EXPECT_CTR_COUNT are ours). */
static uint32_t layout_counters(uint32_t layout)
{
    switch (layout) {
    case 3: return 11;
    case 4: return 14;
    case 5: return 14;
    default: return layout >= EXPECT_SHM_LAYOUT_VERSION ? EXPECT_CTR_COUNT : 0;
    }
}

/* Bounds for a row of another layout: records larger than this are not
 * ours to guess at. */
#define CARRY_MAX_RECORD 4096u

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    ssize_t got;
    size_t done = 0;

    while (done < len) {
        got = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return -1;
        }
        done += (size_t)got;
    }
    return 0;
}

static int open_file(const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        return -1;
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

static int region_fits(uint64_t off, uint64_t count, uint64_t size, uint64_t total)
{
    return size != 0 && count <= (total / size) && off <= total
           && count * size <= total - off;
}

static expect_shm_err_t read_rows(int fd, int cfd, const expect_shm_header_t *h,
                                  const expect_ctl_header_t *c, uint32_t ncounters,
                                  expect_shm_carry_t *out, char *why, size_t whylen)
{
    unsigned char rec[CARRY_MAX_RECORD];
    expect_ctl_entry_t e;
    expect_shm_vhost_snap_t *row;
    uint32_t i;

    out->rows = calloc(c->count ? c->count : 1, sizeof(*out->rows));
    if (out->rows == NULL) {
        expect_shm_set_why(why, whylen, "out of memory for %u rows", c->count);
        return EXPECT_SHM_EOTHER;
    }
    for (i = 0; i < c->count; i++) {
        if (read_at(cfd, &e, sizeof(e), c->entries_offset + (uint64_t)i * c->entry_size) != 0
            || read_at(fd, rec, h->vhost_size, h->vhosts_offset + (uint64_t)i * h->vhost_size)
                   != 0) {
            expect_shm_set_why(why, whylen, "row %u cannot be read", i);
            return EXPECT_SHM_ECORRUPT;
        }
        row = &out->rows[out->nrows];
        memset(row, 0, sizeof(*row));
        memcpy(row->name, e.name, sizeof(row->name));
        row->name[sizeof(row->name) - 1] = '\0';
        if (row->name[0] == '\0') {
            continue;
        }
        row->slot = i;
        row->flags = e.flags;
        row->configured_policy = e.configured_policy <= EXPECT_POLICY_IGNORE
                                     ? e.configured_policy : (uint32_t)EXPECT_POLICY_DEFAULT;
        row->strict = e.strict ? 1u : 0u;
        row->override = e.override <= EXPECT_POLICY_IGNORE ? e.override : EXPECT_OVERRIDE_NONE;
        memcpy(row->ctr, rec, (size_t)ncounters * sizeof(uint64_t));
        /* Layouts up to this one keep the last 417's time after the
         * counters; a newer one may not. */
        if (out->layout_version <= EXPECT_SHM_LAYOUT_VERSION
            && h->vhost_size >= (ncounters + 1) * sizeof(uint64_t)) {
            memcpy(&row->last_417_usec, rec + ncounters * sizeof(uint64_t), sizeof(uint64_t));
        }
        out->nrows++;
    }
    return EXPECT_SHM_OK;
}

expect_shm_err_t expect_shm_carry_read(const char *path, expect_shm_carry_t *out,
                                       char *why, size_t whylen)
{
    char cpath[4096];
    expect_shm_header_t h;
    expect_ctl_header_t c;
    struct stat st, cst;
    expect_shm_err_t rc = EXPECT_SHM_ECORRUPT;
    uint32_t ncounters;
    int fd = -1, cfd = -1;

    memset(out, 0, sizeof(*out));
    memset(&h, 0, sizeof(h));
    memset(&c, 0, sizeof(c));
    if (expect_shm_control_path(cpath, sizeof(cpath), path) != 0) {
        expect_shm_set_why(why, whylen, "path too long");
        return EXPECT_SHM_EOTHER;
    }
    fd = open_file(path, &st);
    cfd = fd < 0 ? -1 : open_file(cpath, &cst);
    if (fd < 0 || cfd < 0) {
        int err = errno;   /* before anything can change it */

        expect_shm_set_why(why, whylen, "%s: %s", fd < 0 ? path : cpath, strerror(err));
        rc = err == ENOENT ? EXPECT_SHM_ENOENT : EXPECT_SHM_EACCES;
        goto done;
    }
    /* Only the server's own control file says who served the pair. */
    if (cst.st_uid != geteuid()) {
        expect_shm_set_why(why, whylen, "%s is not owned by this user", cpath);
        rc = EXPECT_SHM_EACCES;
        goto done;
    }
    /* The fixed part of each header: as long as layout 3's, at least. */
    if (read_at(fd, &h, offsetof(expect_shm_header_t, pending_offset), 0) != 0
        || read_at(cfd, &c, offsetof(expect_ctl_header_t, retry_key), 0) != 0) {
        expect_shm_set_why(why, whylen, "headers too short");
        goto done;
    }
    if (memcmp(h.magic, EXPECT_SHM_MAGIC, 8) != 0 || memcmp(c.magic, EXPECT_CTL_MAGIC, 8) != 0) {
        expect_shm_set_why(why, whylen, "bad magic: not a mod_expect segment");
        goto done;
    }
    out->layout_version = h.layout_version;
    if (c.layout_version != h.layout_version || h.layout_version < EXPECT_SHM_CARRY_MIN_LAYOUT) {
        expect_shm_set_why(why, whylen, "layout version %u (control file %u): older than %u, "
                           "whose fields are not known", h.layout_version, c.layout_version,
                           EXPECT_SHM_CARRY_MIN_LAYOUT);
        goto done;
    }
    if (h.total_size != (uint64_t)st.st_size || c.total_size != (uint64_t)cst.st_size
        || h.pair_token != c.pair_token || h.vhost_capacity != c.capacity
        || c.count > c.capacity || c.capacity > EXPECT_SHM_MAX_VHOSTS
        || h.vhost_size > CARRY_MAX_RECORD || c.entry_size < sizeof(expect_ctl_entry_t)
        || c.entry_size > CARRY_MAX_RECORD
        || !region_fits(h.vhosts_offset, c.count, h.vhost_size, h.total_size)
        || !region_fits(c.entries_offset, c.count, c.entry_size, c.total_size)) {
        expect_shm_set_why(why, whylen, "layout %u files disagree with their own headers",
                           h.layout_version);
        goto done;
    }
    ncounters = layout_counters(h.layout_version);
    if (ncounters * sizeof(uint64_t) > h.vhost_size) {
        ncounters = h.vhost_size / sizeof(uint64_t);
    }
    out->counters = ncounters;
    out->state = c.state;
    out->server_pid = c.server_pid;
    out->server_start = c.server_start;
    out->generation = c.generation;
    out->events = h.ring_head < h.ring_slots ? h.ring_head : h.ring_slots;
    if (h.layout_version >= 4
        && read_at(fd, &out->pending, sizeof(out->pending),
                   offsetof(expect_shm_header_t, pending_now)) != 0) {
        out->pending = 0;
    }
    rc = read_rows(fd, cfd, &h, &c, ncounters, out, why, whylen);
done:
    if (fd >= 0) {
        close(fd);
    }
    if (cfd >= 0) {
        close(cfd);
    }
    if (rc != EXPECT_SHM_OK) {
        expect_shm_carry_free(out);
    }
    return rc;
}

void expect_shm_carry_free(expect_shm_carry_t *c)
{
    if (c != NULL) {
        free(c->rows);
        c->rows = NULL;
        c->nrows = 0;
    }
}

apr_status_t expect_shm_carry_into(expect_shm_t *dst, const expect_shm_carry_t *c,
                                   uint32_t *rows, uint32_t *overrides)
{
    apr_status_t rv = APR_SUCCESS, orv;
    uint32_t i, slot;

    *rows = *overrides = 0;
    for (i = 0; i < c->nrows; i++) {
        /* As a rebuild of the same layout does: rows of vhosts the old
         * configuration no longer had are not carried, so they never pile
         * up from one upgrade to the next. */
        if (!(c->rows[i].flags & EXPECT_VHOST_ACTIVE)) {
            continue;
        }
        orv = expect_shm_put_snapshot(dst, &c->rows[i], &slot);
        if (orv != APR_SUCCESS) {
            rv = orv;
            continue;
        }
        (*rows)++;
        if (c->rows[i].override != EXPECT_OVERRIDE_NONE) {
            (*overrides)++;
        }
    }
    return rv;
}
