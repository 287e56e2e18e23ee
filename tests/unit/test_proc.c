/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_proc: the start time and state read from /proc/PID/stat.  A
 * zombie (state Z) still answers kill(pid, 0); expectctl must read it as
 * dead, so the state letter has to come out right even when the command
 * name holds spaces and parentheses.  The last case makes a real zombie.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect_proc.h"

/* Fields 1-22 of a stat line; the start time (field 22) is 4242. */
#define TAIL " 1 100 100 0 -1 4194560 300 0 0 0 1 2 0 0 20 0 1 0 4242 1000 10"

static void parses_state_and_start(void **state)
{
    uint64_t start = 0;
    char st = 0;

    (void)state;
    assert_int_equal(expect_proc_parse_state("123 (apache2) S" TAIL, &st), 0);
    assert_int_equal(st, 'S');
    assert_int_equal(expect_proc_parse_start("123 (apache2) S" TAIL, &start), 0);
    assert_int_equal(start, 4242);
    assert_int_equal(expect_proc_parse_state("123 (apache2) Z" TAIL, &st), 0);
    assert_int_equal(st, 'Z');
}

static void command_name_with_parentheses(void **state)
{
    uint64_t start = 0;
    char st = 0;

    (void)state;
    /* A name like "a) R (b" must not be taken for the state field. */
    assert_int_equal(expect_proc_parse_state("7 (a) R (b) Z" TAIL, &st), 0);
    assert_int_equal(st, 'Z');
    assert_int_equal(expect_proc_parse_start("7 (a) R (b) Z" TAIL, &start), 0);
    assert_int_equal(start, 4242);
}

static void malformed_lines_refused(void **state)
{
    char st = 0;

    (void)state;
    assert_int_equal(expect_proc_parse_state("123 apache2 S", &st), -1);
    assert_int_equal(expect_proc_parse_state("123 (apache2)", &st), -1);
    assert_int_equal(expect_proc_parse_state("123 (apache2) ", &st), -1);
    assert_int_equal(expect_proc_parse_state("123 (apache2)S", &st), -1);
}

static void real_zombie_is_dead(void **state)
{
    uint64_t start = 0;
    int dead = -1, status;
    pid_t pid;

    (void)state;
    assert_int_equal(expect_proc_status(0, &start, &dead), 0);
    assert_int_equal(dead, 0);
    assert_true(start > 0);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(0);
    }
    /* Not reaped yet: the child lingers as a zombie until waitpid. */
    for (int i = 0; i < 500; i++) {
        assert_int_equal(expect_proc_status(pid, &start, &dead), 0);
        if (dead) {
            break;
        }
        usleep(10000);
    }
    assert_int_equal(dead, 1);
    assert_int_equal(kill(pid, 0), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(expect_proc_status(pid, &start, &dead), -1);
    assert_int_equal(errno, ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_state_and_start),
        cmocka_unit_test(command_name_with_parentheses),
        cmocka_unit_test(malformed_lines_refused),
        cmocka_unit_test(real_zombie_is_dead),
    };
    return cmocka_run_group_tests_name("proc", tests, NULL, NULL);
}
