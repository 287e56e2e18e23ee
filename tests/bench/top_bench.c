/* SPDX-License-Identifier: Apache-2.0 */
/*
 * top_bench - what a frame of `expectctl top` costs with many vhosts,
 * measured without httpd: a synthetic segment made with the core's shm
 * API (this process publishes itself as its live server), traffic counted
 * into a few hundred vhosts between frames, then
 *
 *   screen  one frame as the screen makes it: every vhost snapshotted (as
 *           stats does), the model updated and sorted, 80x24 drawn by
 *           ncurses into a screen whose output goes to /dev/null;
 *   once    `expectctl top --once -d 0.1` run whole (start, attach, two
 *           snapshots, every row as text to /dev/null): its CPU time;
 *   loop    `expectctl top` (-d 2, the default) run for real on an 80x24 pseudo-terminal
 *           for LOOP_INTERVALS intervals with traffic in each, no key
 *           pressed: its CPU time (start-up included) per interval -- what
 *           the frame costs plus whatever the loop does between frames.
 *
 * CPU time, not wall time: the machine is shared.  Usage:
 *   top_bench EXPECTCTL VHOSTS FRAMES   -> one JSON line on stdout
 */
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_top.h"
#include "expect_proc.h"

static double cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

typedef struct {
    expect_shm_vhost_snap_t *v;
    size_t n, cap;
} snaps_t;

static void keep(const expect_shm_vhost_snap_t *v, void *arg)
{
    snaps_t *s = arg;

    if (s->n < s->cap) {
        s->v[s->n++] = *v;
    }
}

/* Requests between two frames, in 300 of the vhosts. */
static void traffic(expect_shm_t *h, uint32_t nvhosts, unsigned round)
{
    uint32_t i, slot;
    unsigned k;

    for (i = 0; i < 300 && i < nvhosts; i++) {
        slot = (i * 7919u + round * 31u) % nvhosts;
        for (k = 0; k < 1 + (i + round) % 5; k++) {
            expect_shm_count(expect_shm_vhost(h, slot), EXPECT_CTR_EXPECT);
            expect_shm_count(expect_shm_vhost(h, slot), EXPECT_CTR_REJECTED);
            expect_shm_count_417(expect_shm_vhost(h, slot), EXPECT_PRODUCER_MOD_EXPECT,
                                 ctl_now_usec());
        }
    }
}

static double once_cpu_ms(const char *expectctl, const char *path)
{
    struct rusage ru;
    int status, fd;
    pid_t pid = fork();

    if (pid == 0) {
        fd = open("/dev/null", O_WRONLY);
        dup2(fd, STDOUT_FILENO);
        execl(expectctl, expectctl, "-s", path, "top", "--once", "-d", "0.1", (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status)
        || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "top_bench: expectctl top --once failed\n");
        exit(1);
    }
    return (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3
           + (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
}

#define LOOP_INTERVALS 5
#define LOOP_INTERVAL_MS 2000

static double ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double loop_cpu_ms(const char *expectctl, const char *path, expect_shm_t *h,
                          uint32_t nvhosts)
{
    struct winsize ws = {24, 80, 0, 0};
    struct rusage ru;
    struct pollfd pfd;
    char buf[65536];
    double end, until;
    int master, status, i;
    pid_t pid = forkpty(&master, NULL, NULL, &ws);

    if (pid == 0) {
        setenv("TERM", "xterm", 1);
        execl(expectctl, expectctl, "-s", path, "top", "-d", "2", (char *)NULL);
        _exit(127);
    }
    if (pid < 0) {
        perror("top_bench: forkpty");
        exit(1);
    }
    /* Drain the screen (a full pty would stop top) while traffic arrives. */
    pfd.fd = master;
    pfd.events = POLLIN;
    end = ms_now() + LOOP_INTERVALS * LOOP_INTERVAL_MS;
    for (i = 0; ms_now() < end; i++) {
        traffic(h, nvhosts, 1000u + (unsigned)i);
        until = ms_now() + LOOP_INTERVAL_MS;
        while (ms_now() < until) {
            if (poll(&pfd, 1, (int)(until - ms_now()) + 1) > 0 && read(master, buf, sizeof(buf)) < 0) {
                break;
            }
        }
    }
    /* Still running after every interval: it did not fail at start (its
     * end by SIGTERM is no failure, whatever status it gives). */
    if (waitpid(pid, &status, WNOHANG) != 0) {
        fprintf(stderr, "top_bench: expectctl top ended before it was stopped\n");
        exit(1);
    }
    kill(pid, SIGTERM);
    while (poll(&pfd, 1, 100) > 0 && read(master, buf, sizeof(buf)) > 0) {
    }
    if (wait4(pid, &status, 0, &ru) != pid) {
        fprintf(stderr, "top_bench: expectctl top failed\n");
        exit(1);
    }
    close(master);
    return ((double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3
            + (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3)
           / LOOP_INTERVALS;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/mod_expect-top-bench-XXXXXX", path[256], name[64], why[512], err[256];
    uint32_t nvhosts, i, slot;
    int frames, f, devnull, saved;
    uint64_t start = 0;
    expect_shm_t h, r;
    ctl_opts_t o;
    snaps_t s;
    top_model_t m;
    top_view_t v;
    double *screen_ms, *once_ms, t0, t = 1000.0, loop_ms;

    if (argc != 4 || (nvhosts = (uint32_t)atoi(argv[2])) == 0 || (frames = atoi(argv[3])) < 1) {
        fprintf(stderr, "usage: top_bench EXPECTCTL VHOSTS FRAMES\n");
        return 2;
    }
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/mod_expect.shm", dir);
    if (expect_shm_create(&h, path, nvhosts, 1024, 1024, why, sizeof(why)) != APR_SUCCESS) {
        fprintf(stderr, "top_bench: %s\n", why);
        return 1;
    }
    for (i = 0; i < nvhosts; i++) {
        snprintf(name, sizeof(name), "v%u.bench.example:443", (unsigned)i);
        if (expect_shm_vhost_add(&h, name, &slot) != APR_SUCCESS
            || expect_shm_mark_active(&h, slot, EXPECT_POLICY_REJECT, 0) != APR_SUCCESS) {
            fprintf(stderr, "top_bench: cannot add vhost %u\n", (unsigned)i);
            return 1;
        }
    }
    expect_proc_start_time(0, &start);
    expect_shm_publish_state(&h, EXPECT_SEG_LIVE, 1, (uint32_t)getpid(), start);
    expect_shm_seal(&h);
    if (expect_shm_attach(&r, path, 0, why, sizeof(why)) != EXPECT_SHM_OK) {
        fprintf(stderr, "top_bench: attach: %s\n", why);
        return 1;
    }

    /* The screen: ncurses draws into /dev/null as an 80x24 xterm. */
    setenv("TERM", "xterm", 1);
    setenv("COLUMNS", "80", 1);
    setenv("LINES", "24", 1);
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    devnull = open("/dev/null", O_RDWR);
    dup2(devnull, STDOUT_FILENO);
    if (top_draw_open(err, sizeof(err)) != 0) {
        dup2(saved, STDOUT_FILENO);
        fprintf(stderr, "top_bench: %s\n", err);
        return 1;
    }
    memset(&o, 0, sizeof(o));
    s.cap = nvhosts;
    s.v = calloc(s.cap, sizeof(*s.v));
    screen_ms = calloc((size_t)frames, sizeof(double));
    once_ms = calloc((size_t)frames, sizeof(double));
    if (s.v == NULL || screen_ms == NULL || once_ms == NULL) {
        return 1;
    }
    top_model_init(&m);
    memset(&v, 0, sizeof(v));
    v.width = 80;
    v.height = 24;
    v.utf8 = 1;
    v.interval = 2;
    for (f = -1; f < frames; f++) {
        traffic(&h, nvhosts, (unsigned)(f + 1));
        t += 2;
        t0 = cpu_ms();
        s.n = 0;
        ctl_each_vhost(&r, &o, keep, &s);
        top_model_update(&m, s.v, s.n, t);
        top_model_view(&m, TOP_SORT_EXPECT, NULL);
        v.now_usec = ctl_now_usec();
        top_draw_frame(&m, &v);
        if (f >= 0) {   /* the first frame has no rates: not counted */
            screen_ms[f] = cpu_ms() - t0;
        }
    }
    top_draw_close();
    dup2(saved, STDOUT_FILENO);
    for (f = 0; f < frames; f++) {
        once_ms[f] = once_cpu_ms(argv[1], path);
    }
    loop_ms = loop_cpu_ms(argv[1], path, &h, nvhosts);
    qsort(screen_ms, (size_t)frames, sizeof(double), by_value);
    qsort(once_ms, (size_t)frames, sizeof(double), by_value);
    printf("{\"vhosts\": %u, \"frames\": %d, \"screen_ms\": {\"median\": %.3f, \"min\": %.3f, "
           "\"max\": %.3f}, \"once_ms\": {\"median\": %.3f, \"min\": %.3f, \"max\": %.3f}, "
           "\"loop_ms_per_interval\": %.3f, \"loop_intervals\": %d}\n",
           (unsigned)nvhosts, frames, screen_ms[frames / 2], screen_ms[0], screen_ms[frames - 1],
           once_ms[frames / 2], once_ms[0], once_ms[frames - 1], loop_ms, LOOP_INTERVALS);
    top_model_free(&m);
    expect_shm_detach(&r);
    expect_shm_remove(&h, path);
    expect_shm_detach(&h);
    rmdir(dir);
    free(s.v);
    free(screen_ms);
    free(once_ms);
    return 0;
}
