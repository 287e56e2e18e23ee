/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_proc.h - which process is which: a process's start time from
 * /proc, so that a pid recorded in the control file names one process,
 * not whichever process reuses the number later.  Linux only; elsewhere
 * the start time is unknown (0) and only the pid is checked.
 */
#ifndef EXPECT_PROC_H
#define EXPECT_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* Field 22 of a /proc/PID/stat line (clock ticks since boot); -1 if the
 * line is malformed. */
int expect_proc_parse_start(const char *stat_line, uint64_t *out);

/* Field 3 of a /proc/PID/stat line, the state letter (R, S, Z, ...);
 * -1 if the line is malformed. */
int expect_proc_parse_state(const char *stat_line, char *out);

/* The start time of pid (0: this process): 0 on success, -1 with errno
 * set (ENOENT: no such process). */
int expect_proc_start_time(pid_t pid, uint64_t *out);

/* Like expect_proc_start_time, and *dead is set to 1 when the process has
 * exited but nobody reaped it yet (a zombie, or on its way out): its pid
 * still answers kill(pid, 0), yet it serves nothing. */
int expect_proc_status(pid_t pid, uint64_t *start, int *dead);

#endif /* EXPECT_PROC_H */
