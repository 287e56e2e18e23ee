/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A compromised httpd child cannot change a policy.  The parent builds the
 * segment as root and seals it before forking; the child drops to an
 * unprivileged user (as httpd's children do) and then tries every route:
 *
 *  - the control file's own mapping: mprotect, mremap + mprotect, a plain
 *    store (SIGSEGV), /proc/self/mem, /proc/self/map_files;
 *  - the control file by name: open O_RDWR / O_RDONLY, expect_shm_unseal,
 *    expect_shm_set_override; no descriptor of it is left in the child;
 *  - the READ-WRITE mapping it inherits of the statistics file:
 *    remap_file_pages() onto every page offset of that file (and past its
 *    end), and mremap() growth, looking for control data in each page and
 *    writing each one: the control file's magic never shows up and no
 *    override changes, because that mapping is of another file;
 *  - rewriting the statistics file wholesale with fake names, flags and
 *    counts: expect_shm_vhost_find, the snapshot and a fresh reader
 *    (expectctl's attach) still resolve the same vhosts to the same slots.
 *
 * Needs root (to create as root and to drop privileges); skipped otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect_shm.h"

/* Bits the child reports through a pipe: each one a route that worked. */
#define BAD_MPROTECT      0x0001u
#define BAD_OPEN_CTL_RW   0x0002u
#define BAD_SET_OVERRIDE  0x0004u
#define BAD_PROC_MEM      0x0008u
#define BAD_OPEN_CTL_RO   0x0010u
#define BAD_OPEN_STATS    0x0020u
#define BAD_UNSEAL        0x0040u
#define BAD_MAP_FILES     0x0080u
#define BAD_CTL_FD        0x0100u
#define BAD_REMAP_SEES    0x0200u   /* control data seen through the RW mapping */
#define BAD_OVERRIDE_MOVED 0x0400u  /* an override changed */
#define BAD_MREMAP_SEES   0x0800u
#define BAD_MREMAP_CTL    0x1000u
#define BAD_NO_REMAP      0x2000u   /* remap_file_pages never worked: test proves nothing */
#define BAD_SETUID        0x8000u

static char dir[64];
static char path[256], cpath[300];
static uint32_t slot_a, slot_b;

static sigjmp_buf probe_env;

static void on_fault(int sig)
{
    siglongjmp(probe_env, sig);
}

/* Does the page at p hold anything of the control file?  Reads under a
 * SIGBUS/SIGSEGV guard (pages past a file's end fault).  -1: unreadable. */
static int page_shows_control(const volatile unsigned char *p, size_t len)
{
    size_t i;

    if (sigsetjmp(probe_env, 1) != 0) {
        return -1;
    }
    for (i = 0; i + 8 <= len; i += 8) {
        if (memcmp((const void *)(p + i), EXPECT_CTL_MAGIC, 8) == 0) {
            return 1;
        }
    }
    /* The entries' names, as the control file stores them. */
    for (i = 0; i + 10 <= len; i++) {
        if (memcmp((const void *)(p + i), "a.test:80", 10) == 0
            || memcmp((const void *)(p + i), "b.test:80", 10) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Write every byte of the page (the override values a child would want). */
static void page_scribble(volatile unsigned char *p, size_t len)
{
    size_t i;

    if (sigsetjmp(probe_env, 1) != 0) {
        return;
    }
    for (i = 0; i + 4 <= len; i += 4) {
        *(volatile uint32_t *)(void *)(p + i) = (uint32_t)EXPECT_POLICY_REJECT;
    }
}

static int overrides_intact(const expect_shm_t *h)
{
    return expect_shm_override(h, slot_a) == EXPECT_POLICY_UNSET
           && expect_shm_override(h, slot_b) == EXPECT_POLICY_IGNORE;
}

static uint32_t attempt_everything(expect_shm_t *h, const struct passwd *pw)
{
    uint32_t bad = 0, want = EXPECT_POLICY_REJECT;
    long ps = sysconf(_SC_PAGESIZE);
    size_t stats_pages = h->size / (size_t)ps, pg;
    int fd, remapped = 0, rc;
    char p[320], link[512];
    void *grown, *moved;
    DIR *d;
    struct dirent *de;

    if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        return BAD_SETUID;
    }
    signal(SIGBUS, on_fault);
    signal(SIGSEGV, on_fault);

    /* ---- the control mapping itself ---- */
    if (mprotect(h->ctl_base, h->ctl_size, PROT_READ | PROT_WRITE) == 0) {
        bad |= BAD_MPROTECT;
    }
    if ((fd = open(cpath, O_RDWR)) >= 0) {
        bad |= BAD_OPEN_CTL_RW;
        close(fd);
    }
    if ((fd = open(cpath, O_RDONLY)) >= 0) {
        bad |= BAD_OPEN_CTL_RO;
        close(fd);
    }
    if ((fd = open(path, O_RDWR)) >= 0) {
        bad |= BAD_OPEN_STATS;
        close(fd);
    }
    if (expect_shm_set_override(h, slot_a, want) == APR_SUCCESS) {
        bad |= BAD_SET_OVERRIDE;
    }
    if (expect_shm_unseal(h, path) == APR_SUCCESS
        || expect_shm_set_override(h, slot_a, want) == APR_SUCCESS) {
        bad |= BAD_UNSEAL;
    }
    fd = open("/proc/self/mem", O_RDWR);
    if (fd >= 0) {
        off_t where = (off_t)(uintptr_t)&h->ctl[slot_a].override;
        if (pwrite(fd, &want, sizeof(want), where) == (ssize_t)sizeof(want)) {
            bad |= BAD_PROC_MEM;
        }
        close(fd);
    }
    snprintf(p, sizeof(p), "/proc/self/map_files/%lx-%lx",
             (unsigned long)(uintptr_t)h->ctl_base,
             (unsigned long)((uintptr_t)h->ctl_base + h->ctl_size));
    if ((fd = open(p, O_RDWR)) >= 0) {
        bad |= BAD_MAP_FILES;
        close(fd);
    }
    /* No descriptor of the control file survives into a child. */
    if ((d = opendir("/proc/self/fd")) != NULL) {
        while ((de = readdir(d)) != NULL) {
            ssize_t n;
            snprintf(p, sizeof(p), "/proc/self/fd/%s", de->d_name);
            n = readlink(p, link, sizeof(link) - 1);
            if (n > 0) {
                link[n] = '\0';
                if (strcmp(link, cpath) == 0) {
                    bad |= BAD_CTL_FD;
                }
            }
        }
        closedir(d);
    }
    /* Move the read-only control mapping, then try to make it writable. */
    moved = mremap(h->ctl_base, h->ctl_size, h->ctl_size + (size_t)ps, MREMAP_MAYMOVE);
    if (moved != MAP_FAILED) {
        if (mprotect(moved, h->ctl_size, PROT_READ | PROT_WRITE) == 0) {
            bad |= BAD_MREMAP_CTL;
        }
        /* Follow it: the final store goes to the moved (still read-only) pages. */
        h->ctl = (expect_ctl_entry_t *)(void *)((char *)moved
                                                + ((char *)h->ctl - (char *)h->ctl_base));
        h->ctl_hdr = moved;
        h->ctl_base = moved;
    }

    /* ---- the read-write mapping of the statistics file ----
     * Map every page offset of that file, and some past its end (where the
     * control area would follow if it were in the same file), into the
     * first page of the mapping: none may show control data, and writing
     * them all must not change an override. */
    for (pg = 0; pg < stats_pages + h->ctl_size / (size_t)ps + 4; pg++) {
        if (remap_file_pages(h->base, (size_t)ps, 0, pg, 0) != 0) {
            continue;
        }
        remapped = 1;
        rc = page_shows_control(h->base, (size_t)ps);
        if (rc == 1) {
            bad |= BAD_REMAP_SEES;
        }
        if (rc == 0) {
            page_scribble(h->base, (size_t)ps);
        }
        if (!overrides_intact(h)) {
            bad |= BAD_OVERRIDE_MOVED;
        }
    }
    if (!remapped) {
        bad |= BAD_NO_REMAP;
    }
    /* Put page 0 back (the header), then grow the mapping. */
    remap_file_pages(h->base, (size_t)ps, 0, 0, 0);
    grown = mremap(h->base, h->size, h->size + h->ctl_size + 2 * (size_t)ps, MREMAP_MAYMOVE);
    if (grown != MAP_FAILED) {
        for (pg = 0; pg < (h->size + h->ctl_size) / (size_t)ps + 2; pg++) {
            volatile unsigned char *q = (unsigned char *)grown + pg * (size_t)ps;
            if (page_shows_control(q, (size_t)ps) == 1) {
                bad |= BAD_MREMAP_SEES;
            }
        }
        for (pg = stats_pages; pg < (h->size + h->ctl_size) / (size_t)ps + 2; pg++) {
            page_scribble((unsigned char *)grown + pg * (size_t)ps, (size_t)ps);
        }
        if (!overrides_intact(h)) {
            bad |= BAD_OVERRIDE_MOVED;
        }
        h->base = grown;
    }
    signal(SIGBUS, SIG_DFL);
    signal(SIGSEGV, SIG_DFL);
    return bad;
}

/* Rewrite the statistics file as a hostile child would: fake names (the
 * other vhost's), flags and counts everywhere past the header, which stays
 * valid so that expectctl still attaches. */
static void rewrite_stats(expect_shm_t *h)
{
    unsigned char *b = h->base;
    size_t off;
    uint32_t v;

    for (off = (size_t)h->hdr->vhosts_offset; off + 16 <= h->size; off += 16) {
        memcpy(b + off, (off / 16) % 2 ? "b.test:80\0\0\0" : "a.test:80\0\0\0", 12);
        v = (off / 16) % 3 == 0 ? EXPECT_VHOST_ACTIVE : 0xFFFFFFFFu;
        memcpy(b + off + 12, &v, 4);
    }
}

static void child_cannot_write_policy(void **state)
{
    expect_shm_t h, r;
    expect_shm_header_t saved;
    char why[256];
    struct passwd *pw;
    uint32_t bad = 0xFFFFFFFFu;
    pid_t pid;
    int status = 0, pfd[2];
    (void)state;

    if (geteuid() != 0 || (pw = getpwnam("nobody")) == NULL) {
        skip();
    }
    snprintf(dir, sizeof(dir), "/tmp/mod_expect-priv-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/seg.shm", dir);
    assert_int_equal(expect_shm_control_path(cpath, sizeof(cpath), path), 0);
    assert_int_equal(expect_shm_create(&h, path, 8, 4, 8, why, sizeof(why)), APR_SUCCESS);
    assert_int_equal(expect_shm_vhost_add(&h, "a.test:80", &slot_a), APR_SUCCESS);
    assert_int_equal(expect_shm_vhost_add(&h, "b.test:80", &slot_b), APR_SUCCESS);
    assert_int_equal(expect_shm_mark_active(&h, slot_a, EXPECT_POLICY_CONTINUE, 0), APR_SUCCESS);
    assert_int_equal(expect_shm_mark_active(&h, slot_b, EXPECT_POLICY_CONTINUE, 0), APR_SUCCESS);
    assert_int_equal(expect_shm_set_override(&h, slot_b, EXPECT_POLICY_IGNORE), APR_SUCCESS);
    expect_shm_seal(&h);   /* as post_config does before children exist */
    assert_true(overrides_intact(&h));
    memcpy(&saved, h.hdr, sizeof(saved));

    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        bad = attempt_everything(&h, pw);
        if (write(pfd[1], &bad, sizeof(bad)) != (ssize_t)sizeof(bad)) {
            _exit(98);
        }
        if (bad & BAD_SETUID) {
            _exit(99);
        }
        /* Last: a plain store to the control mapping must fault. */
        ((volatile expect_ctl_entry_t *)h.ctl)[slot_a].override = EXPECT_POLICY_REJECT;
        _exit(0x10);
    }
    close(pfd[1]);
    assert_int_equal(read(pfd[0], &bad, sizeof(bad)), (ssize_t)sizeof(bad));
    close(pfd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (bad != 0) {
        fail_msg("routes that worked: %#x (1 mprotect, 2 open ctl rw, 4 set_override, "
                 "8 /proc/self/mem, 0x10 open ctl ro, 0x20 open stats, 0x40 unseal, "
                 "0x80 map_files, 0x100 ctl fd inherited, 0x200 remap_file_pages shows "
                 "control data, 0x400 an override changed, 0x800 mremap shows control "
                 "data, 0x1000 mremap+mprotect, 0x2000 remap_file_pages never worked, "
                 "0x8000 setuid failed)", bad);
    }
    if (WIFEXITED(status)) {
        fail_msg("child exited with %#x: the store to the control mapping succeeded",
                 WEXITSTATUS(status));
    }
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    assert_true(overrides_intact(&h));
    /* The child scribbled the statistics header too; put it back so that
     * a reader attaches, and look through a fresh mapping as well. */
    memcpy(h.hdr, &saved, sizeof(saved));
    assert_int_equal(expect_shm_attach(&r, path, 0, why, sizeof(why)), EXPECT_SHM_OK);
    assert_true(overrides_intact(&r));
    expect_shm_detach(&r);

    expect_shm_detach(&h);
    unlink(cpath);
    unlink(path);
    rmdir(dir);
}

static void child_cannot_rename_or_hide_vhosts(void **state)
{
    expect_shm_t h, r;
    expect_shm_vhost_snap_t snap;
    char why[256];
    struct passwd *pw;
    pid_t pid;
    int status = 0;
    (void)state;

    if (geteuid() != 0 || (pw = getpwnam("nobody")) == NULL) {
        skip();
    }
    snprintf(dir, sizeof(dir), "/tmp/mod_expect-priv-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/seg.shm", dir);
    assert_int_equal(expect_shm_control_path(cpath, sizeof(cpath), path), 0);
    assert_int_equal(expect_shm_create(&h, path, 8, 4, 8, why, sizeof(why)), APR_SUCCESS);
    assert_int_equal(expect_shm_vhost_add(&h, "a.test:80", &slot_a), APR_SUCCESS);
    assert_int_equal(expect_shm_vhost_add(&h, "b.test:80", &slot_b), APR_SUCCESS);
    assert_int_equal(expect_shm_mark_active(&h, slot_a, EXPECT_POLICY_CONTINUE, 0), APR_SUCCESS);
    assert_int_equal(expect_shm_mark_active(&h, slot_b, EXPECT_POLICY_REJECT, 1), APR_SUCCESS);
    assert_int_equal(expect_shm_set_override(&h, slot_b, EXPECT_POLICY_IGNORE), APR_SUCCESS);
    expect_shm_seal(&h);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
            _exit(99);
        }
        rewrite_stats(&h);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* The parent's view (its slot lookup on restart) and expectctl's. */
    for (int pass = 0; pass < 2; pass++) {
        expect_shm_t *v = &h;
        if (pass == 1) {
            assert_int_equal(expect_shm_attach(&r, path, 0, why, sizeof(why)), EXPECT_SHM_OK);
            v = &r;
        }
        assert_int_equal(expect_shm_vhost_count(v), 2);
        assert_int_equal(expect_shm_vhost_find(v, "a.test:80"), (int)slot_a);
        assert_int_equal(expect_shm_vhost_find(v, "b.test:80"), (int)slot_b);
        assert_int_equal(expect_shm_snapshot(v, slot_a, &snap), 0);
        assert_string_equal(snap.name, "a.test:80");
        assert_int_equal(snap.flags, EXPECT_VHOST_ACTIVE);
        assert_int_equal(snap.override, EXPECT_OVERRIDE_NONE);
        assert_int_equal(snap.configured_policy, EXPECT_POLICY_CONTINUE);
        assert_int_equal(expect_shm_snapshot(v, slot_b, &snap), 0);
        assert_string_equal(snap.name, "b.test:80");
        assert_int_equal(snap.flags, EXPECT_VHOST_ACTIVE);
        assert_int_equal(snap.override, EXPECT_POLICY_IGNORE);
        assert_int_equal(snap.configured_policy, EXPECT_POLICY_REJECT);
        assert_int_equal(snap.strict, 1);
        assert_int_equal(expect_shm_snapshot(v, 2, &snap), -1);
        assert_int_equal(expect_shm_override(v, slot_a), EXPECT_POLICY_UNSET);
        assert_int_equal(expect_shm_override(v, slot_b), EXPECT_POLICY_IGNORE);
    }
    expect_shm_detach(&r);
    expect_shm_detach(&h);
    unlink(cpath);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(child_cannot_write_policy),
        cmocka_unit_test(child_cannot_rename_or_hide_vhosts),
    };
    return cmocka_run_group_tests_name("privilege", tests, NULL, NULL);
}
