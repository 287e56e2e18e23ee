/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_live.c - is the segment live?  expectctl presents a segment only
 * while a running httpd serves it: its control file (which only root
 * writes) says LIVE, and the parent process it names is running and is
 * the same process (its start time matches, so a reused pid does not
 * count).  A restart in progress is waited out briefly.  Anything else is
 * a stale segment, reported with who served it last and when.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "expect_proc.h"

/* How long a restart (RESTARTING) is waited for, and how often looked at. */
#define RESTART_WAIT_MS 3000
#define RESTART_POLL_MS 50

/* server_state's answers. */
#define SERVER_GONE 0
#define SERVER_RUNS 1
#define SERVER_ZOMBIE 2

/* SERVER_RUNS: pid runs and is the process that started at `start` (when
 * known); SERVER_ZOMBIE: it exited (e.g. kill -9) and its parent never
 * reaped it, so the pid still answers signals though nothing serves;
 * SERVER_GONE otherwise.  The answer errs towards running when /proc
 * cannot tell. */
static int server_state(uint32_t pid, uint64_t start)
{
    uint64_t now_start;
    int dead;

    if (pid == 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
        return SERVER_GONE;
    }
    if (expect_proc_status((pid_t)pid, &now_start, &dead) != 0) {
        return errno == ENOENT ? SERVER_GONE : SERVER_RUNS;
    }
    if (start != 0 && now_start != start) {
        return SERVER_GONE;
    }
    return dead ? SERVER_ZOMBIE : SERVER_RUNS;
}

static int server_running(uint32_t pid, uint64_t start)
{
    return server_state(pid, start) == SERVER_RUNS;
}

int ctl_server_runs(const expect_shm_t *h)
{
    expect_shm_liveness_t l;

    expect_shm_liveness(h, &l);
    return server_running(l.server_pid, l.server_start);
}

void ctl_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* When the statistics file was last written, for the stale message. */
static void last_written(const char *path, char *buf, size_t len)
{
    struct stat st;

    if (path == NULL || stat(path, &st) != 0) {
        snprintf(buf, len, "-");
        return;
    }
    ctl_format_time(buf, len, (uint64_t)st.st_mtim.tv_sec * 1000000u
                                  + (uint64_t)st.st_mtim.tv_nsec / 1000u);
}

/* wait_ms: how long a restart in progress is waited out. */
static ctl_live_t liveness(const expect_shm_t *h, const char *path, char *why, size_t len,
                           long wait_ms)
{
    expect_shm_liveness_t l;
    char when[40], written[40];
    long waited = 0;

    for (;;) {
        if (path != NULL && !expect_shm_is_current(h, path)) {
            snprintf(why, len, "the segment was replaced while being read");
            return CTL_REPLACED;
        }
        expect_shm_liveness(h, &l);
        /* A restart, or new files not yet published: wait a little. */
        if ((l.state != EXPECT_SEG_RESTARTING && l.state != EXPECT_SEG_BUILDING)
            || waited >= wait_ms
            || !server_running(l.server_pid, l.server_start)) {
            break;
        }
        ctl_sleep_ms(RESTART_POLL_MS);
        waited += RESTART_POLL_MS;
    }
    ctl_format_time(when, sizeof(when), l.state_usec);
    last_written(path, written, sizeof(written));
    if (!server_running(l.server_pid, l.server_start)) {
        snprintf(why, len, "stale segment: httpd pid %lu, which served it, is no longer "
                 "running%s (state changed %s, statistics last written %s)",
                 (unsigned long)l.server_pid,
                 server_state(l.server_pid, l.server_start) == SERVER_ZOMBIE
                     ? " (a zombie: it exited and its parent has not reaped it)" : "",
                 when, written);
        return CTL_STALE;
    }
    switch (l.state) {
    case EXPECT_SEG_LIVE:
        return CTL_LIVE;
    case EXPECT_SEG_RESTARTING:
        snprintf(why, len, "stale segment: httpd pid %lu began a restart at %s and no "
                 "configuration has taken the segment back (mod_expect is no longer "
                 "loaded, or the restart is still running; statistics last written %s)",
                 (unsigned long)l.server_pid, when, written);
        return CTL_STALE;
    case EXPECT_SEG_RETIRED:
        snprintf(why, len, "stale segment: httpd pid %lu stopped serving it at %s "
                 "(statistics last written %s)", (unsigned long)l.server_pid, when,
                 written);
        return CTL_STALE;
    default:
        snprintf(why, len, "segment still being built by httpd pid %lu (since %s)",
                 (unsigned long)l.server_pid, when);
        return CTL_STALE;
    }
}

ctl_live_t ctl_liveness(const expect_shm_t *h, const char *path, char *why, size_t len)
{
    return liveness(h, path, why, len, RESTART_WAIT_MS);
}

ctl_live_t ctl_liveness_now(const expect_shm_t *h, const char *path, char *why, size_t len)
{
    return liveness(h, path, why, len, 0);
}
