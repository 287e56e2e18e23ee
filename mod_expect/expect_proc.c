/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_proc.c - a process's start time from /proc (see expect_proc.h).
 * Separate from the segment code: the module records its own, expectctl
 * compares it with the running process of that pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "expect_proc.h"

int expect_proc_parse_start(const char *stat_line, uint64_t *out)
{
    const char *p = strrchr(stat_line, ')');
    unsigned long long v;
    int field;

    if (p == NULL) {
        return -1;
    }
    /* The command name may hold spaces and parentheses: count from the
     * last ')'.  Field 3 follows ") "; walk on to field 22. */
    for (field = 2; field < 22 && p != NULL; field++) {
        p = strchr(p + 1, ' ');
    }
    if (p == NULL || sscanf(p + 1, "%llu", &v) != 1) {
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int expect_proc_parse_state(const char *stat_line, char *out)
{
    const char *p = strrchr(stat_line, ')');

    if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[2] == ' ') {
        return -1;
    }
    *out = p[2];
    return 0;
}

int expect_proc_start_time(pid_t pid, uint64_t *out)
{
    int dead;

    return expect_proc_status(pid, out, &dead);
}

int expect_proc_status(pid_t pid, uint64_t *start, int *dead)
{
    char path[64], buf[1024], state;
    ssize_t n;
    int fd, err;

    if (pid == 0) {
        snprintf(path, sizeof(path), "/proc/self/stat");
    }
    else {
        snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        return -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    err = errno;
    close(fd);
    if (n <= 0) {
        errno = n < 0 ? err : EIO;
        return -1;
    }
    buf[n] = '\0';
    if (expect_proc_parse_start(buf, start) != 0
        || expect_proc_parse_state(buf, &state) != 0) {
        errno = EINVAL;
        return -1;
    }
    /* Z: exited, not reaped (a parent that never waits keeps it so for
     * ever); X: being torn down.  Either way nothing runs under the pid. */
    *dead = state == 'Z' || state == 'X';
    return 0;
}
