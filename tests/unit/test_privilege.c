/*
 * A compromised httpd child cannot change a policy: the parent seals the
 * control area read-only before fork, the child drops to an unprivileged
 * user (as httpd's children do), and then every way to write the override
 * fails: a store (SIGSEGV), mprotect, reopening the file, /proc/self/mem.
 * Needs root (to create as root and to drop privileges); skipped otherwise.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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

#define EXIT_STORE_FAULTED 0x40

static char dir[] = "/tmp/mod_expect-priv-XXXXXX";
static char path[256];

static int attempt_everything(expect_shm_t *h, const struct passwd *pw)
{
    int bad = 0, fd;
    uint32_t want = EXPECT_POLICY_REJECT;
    off_t where;

    if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        return 99;
    }
    if (mprotect(h->control, (size_t)h->control_size, PROT_READ | PROT_WRITE) == 0) {
        bad |= 0x1;
    }
    fd = open(path, O_RDWR);
    if (fd >= 0) {
        bad |= 0x2;
        close(fd);
    }
    if (expect_shm_set_override(h, 0, want) == APR_SUCCESS) {
        bad |= 0x4;
    }
    fd = open("/proc/self/mem", O_RDWR);
    if (fd >= 0) {
        where = (off_t)(uintptr_t)&h->control[0];
        if (pwrite(fd, &want, sizeof(want), where) == (ssize_t)sizeof(want)) {
            bad |= 0x8;
        }
        close(fd);
    }
    if (bad != 0) {
        return bad;
    }
    /* Last: a plain store must fault; reaching exit(0x10) means it wrote. */
    signal(SIGSEGV, SIG_DFL);
    ((volatile uint32_t *)h->control)[0] = want;
    return 0x10;
}

static void child_cannot_write_policy(void **state)
{
    expect_shm_t h;
    char why[256];
    uint32_t slot;
    struct passwd *pw;
    pid_t pid;
    int status = 0;
    (void)state;

    if (geteuid() != 0 || (pw = getpwnam("nobody")) == NULL) {
        skip();
    }
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/seg.shm", dir);
    assert_int_equal(expect_shm_create(&h, path, 8, 4, why, sizeof(why)), APR_SUCCESS);
    assert_int_equal(expect_shm_vhost_add(&h, "a.test:80", &slot), APR_SUCCESS);
    assert_int_equal(expect_shm_map_control_ro(&h, path), APR_SUCCESS);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(attempt_everything(&h, pw));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* The store must have been killed by SIGSEGV, after every other way failed. */
    if (WIFEXITED(status)) {
        fail_msg("child exited with %#x (bits: 1 mprotect, 2 open, 4 set_override, "
                 "8 /proc/self/mem, 0x10 store succeeded, 0x63 setuid failed)",
                 WEXITSTATUS(status));
    }
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    assert_int_equal(expect_shm_override(&h, slot), EXPECT_POLICY_UNSET);

    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(child_cannot_write_policy),
    };
    return cmocka_run_group_tests_name("privilege", tests, NULL, NULL);
}
