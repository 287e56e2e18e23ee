/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect_eventlog.c - ExpectEventLog: one JSON line per 417, to a file
 * or through httpd's piped logs (rotatelogs, logger), for a fleet's log
 * pipeline.
 *
 * Children write nothing here: a 417 costs what it cost before.  The
 * parent, which has the segment mapped, reads the event ring from a cursor
 * in its monitor hook.  An event whose outcome is final is written at
 * once; one still pending (retry tracking may yet call it retried) is
 * copied out and looked at again each tick until it is final, or until
 * its ring slot is taken by a later 417 (then it is written as last seen).
 * A stop or a restart writes what is still pending as such, so every
 * event is written once.
 *
 * The parent never blocks on the log: its end of a piped log's pipe is
 * non-blocking (httpd makes it blocking, and the parent holds the read end
 * too, so a full pipe would hang it for good once the logger stops
 * reading).  A line the pipe does not take now waits in memory, in order,
 * for the next tick; past OUT_MAX bytes lines are counted as lost, and a
 * gap line says how many once writing works again.  The cursor outlives a graceful restart, which
 * unloads and reloads this DSO, in the process pool (no pointer into the
 * DSO is kept there).
 *
 * Each line is one apr_file_write() of less than PIPE_BUF bytes, so no
 * line interleaves with another writer's on the same pipe or file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_core.h"
#include "unixd.h"
#include "apr_file_io.h"
#include "apr_portable.h"
#include "apr_strings.h"

#include "mod_expect_config.h"
#include "mod_expect_eventlog.h"
#include "expect_event_json.h"

APLOG_USE_MODULE(expect);

/* Events read from the ring at a time. */
#define BATCH 64
/* How long a stop or a restart waits for a piped logger to take what was
 * just written, before httpd's cleanup of the piped log sends it SIGTERM
 * (which loses whatever it had not read yet). */
#define DRAIN_MAX_USEC (2 * APR_USEC_PER_SEC)
#define DRAIN_POLL_USEC (10 * 1000)
/* And once it has read it all, for it to write out its last read: until
 * it is seen back in read(), at most SETTLE_MAX_USEC; where that cannot be
 * seen, DRAIN_SETTLE_USEC. */
#define DRAIN_SETTLE_USEC (100 * 1000)
#define SETTLE_MAX_USEC (500 * 1000)
/* Lines waiting for a pipe that is full, at most: a ring's worth of long
 * lines; past it a stuck logger costs counted lines, not the parent's
 * memory. */
#define OUT_MAX (4 * 1024 * 1024)
/* A tick's time for a logger that reads, and for one that does not. */
#define TICK_FLUSH_USEC (500 * 1000)
#define STALL_USEC (50 * 1000)
#define FLUSH_POLL_USEC (2 * 1000)

/*
 * The writer's state, in the process pool: it outlives every generation
 * and every load of this DSO.  Plain data only.  The key names the layout
 * and the struct's size, as the segment's does.
 */
typedef struct {
    uint64_t token;           /* pair_token of the segment cursor counts in */
    uint64_t cursor;          /* the next claim to read */
    uint64_t stuck;           /* the unpublished claim the last tick stopped at */
    int logging;              /* the previous generation had a log */
    /* A line's seq is seq_origin + (claim - origin_claim): the claim itself
     * on the segment the log started on; after a rebuild, which numbers
     * its ring anew, it goes on from the lines already written, so that
     * (server, pid, seq) never repeats. */
    uint64_t seq_origin, origin_claim;
    uint32_t nkept, cap;      /* pending events copied out */
    expect_shm_event_t *kept; /* malloc()ed: cap of them */
    expect_shm_event_t *batch;/* malloc()ed: BATCH of them */
    /* Whole lines not written yet (the pipe was full, or its logger was
     * stopped at a restart), oldest first; a later generation's log, or
     * the logger started at a stop, gets them. */
    char *out;                /* malloc()ed */
    size_t outlen, outcap;
    uint64_t lost;            /* lines lost since the last gap line */
    int complained;           /* EXP0054 said for the current loss */
} eventlog_state;

static const char *eventlog_key(apr_pool_t *p)
{
    return expect_config_state_key(p, "eventlog", sizeof(eventlog_state));
}

/* One more than the highest seq written by this parent, under a key of
 * its own that no layout change renames (a plain number). */
static uint64_t *seq_floor(server_rec *s)
{
    apr_pool_t *proc = s->process->pool;
    void *data = NULL;

    apr_pool_userdata_get(&data, "mod_expect.eventlog.seq_floor", proc);
    if (data == NULL) {
        data = apr_pcalloc(proc, sizeof(uint64_t));
        apr_pool_userdata_set(data, "mod_expect.eventlog.seq_floor", apr_pool_cleanup_null,
                              proc);
    }
    return data;
}

/* One generation's log, in pconf. */
typedef struct {
    eventlog_state *st;
    const expect_shm_t *shm;
    const char *target;       /* as configured, for messages */
    const char *server;       /* the main server's ServerName */
    apr_file_t *fd;
    piped_log *pl;            /* NULL for a file */
    server_rec *s;
    pid_t creator;
    uint64_t *next_seq;       /* see seq_floor */
} eventlog_gen;

/* This generation's log; NULL when off (the monitor hook's one test). */
static eventlog_gen *gen;

const char *expect_eventlog_set(cmd_parms *cmd, void *dconf, const char *arg)
{
    expect_srv_conf *conf = expect_srv_config(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    (void)dconf;
    if (err != NULL) {
        return err;
    }
    if (cmd->server->is_virtual) {
        return apr_psprintf(cmd->pool, EXPLOGNO(0050) "%s is not allowed in <VirtualHost> "
                            "(%s:%d): one log, set in the main server's configuration, holds "
                            "every virtual host's 417s, each line naming its vhost",
                            cmd->cmd->name, cmd->directive->filename,
                            cmd->directive->line_num);
    }
    if (arg[0] == '|') {
        if (arg[1 + strspn(arg + 1, " \t")] == '\0') {
            return apr_psprintf(cmd->pool, EXPLOGNO(0057) "%s \"%s\": no program after "
                                "the '|'", cmd->cmd->name, arg);
        }
        conf->event_log = arg;
        return NULL;
    }
    if (arg[0] == '\0') {
        return apr_psprintf(cmd->pool, EXPLOGNO(0057) "%s: give a file (relative to "
                            "ServerRoot) or \"|program\"", cmd->cmd->name);
    }
    conf->event_log = ap_server_root_relative(cmd->pool, arg);
    if (conf->event_log == NULL) {
        return apr_psprintf(cmd->pool, EXPLOGNO(0057) "%s: invalid path '%s'",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

/* One line, one write: a pipe takes it whole or not at all (< PIPE_BUF),
 * and an O_APPEND file whole at its end, or a part when the disk is full. */
static apr_status_t try_write(eventlog_gen *g, const char *line, apr_size_t len)
{
    apr_size_t n = len, nl = 1;
    apr_status_t rv = apr_file_write(g->fd, line, &n);

    if (rv == APR_SUCCESS && n == len) {
        return APR_SUCCESS;
    }
    if (n > 0) {
        /* A fragment in a file: end it, so that the next line starts a
         * line of its own (a reader counts the fragment as malformed). */
        apr_file_write(g->fd, "\n", &nl);
    }
    return rv != APR_SUCCESS ? rv : APR_EGENERAL;
}

static void lose(eventlog_gen *g, apr_status_t rv, const char *why)
{
    eventlog_state *st = g->st;

    st->lost++;
    if (!st->complained) {
        st->complained = 1;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, g->s, EXPLOGNO(0054)
                     "ExpectEventLog %s: %s; lines are lost until writing works again, "
                     "then a gap line counts them", g->target, why);
    }
}

/* Keep a line for later; past OUT_MAX, count it as lost. */
static void enqueue(eventlog_gen *g, const char *line, apr_size_t len)
{
    eventlog_state *st = g->st;
    size_t cap;
    char *grown;

    if (st->outlen + len > st->outcap) {
        if (st->outlen + len > OUT_MAX) {
            lose(g, APR_EAGAIN, "its program does not read, and the lines waiting for it "
                 "fill the memory kept for them");
            return;
        }
        cap = st->outcap != 0 ? st->outcap : 64 * 1024;
        while (cap < st->outlen + len) {
            cap *= 2;
        }
        if ((grown = realloc(st->out, cap)) == NULL) {
            lose(g, APR_ENOMEM, "no memory for the lines waiting for its program");
            return;
        }
        st->out = grown;
        st->outcap = cap;
    }
    memcpy(st->out + st->outlen, line, len);
    st->outlen += len;
}

/*
 * The waiting lines, oldest first, as far as the log takes them; then,
 * once none waits, a gap line for the ones lost.  Returns whether nothing
 * waits any more (a new line may then be written at once).
 */
static int flush(eventlog_gen *g)
{
    eventlog_state *st = g->st;
    char line[EXPECT_EVENT_LINE_MAX];
    size_t done = 0, len;
    const char *end;
    apr_status_t rv;

    while (done < st->outlen) {
        end = memchr(st->out + done, '\n', st->outlen - done);
        len = end != NULL ? (size_t)(end + 1 - (st->out + done)) : st->outlen - done;
        rv = try_write(g, st->out + done, len);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            break;
        }
        if (rv != APR_SUCCESS) {
            lose(g, rv, "cannot write a line");
        }
        done += len;
    }
    if (done != 0) {
        memmove(st->out, st->out + done, st->outlen - done);
        st->outlen -= done;
    }
    if (st->outlen != 0) {
        return 0;
    }
    if (st->lost != 0) {
        len = expect_event_gap_line(line, sizeof(line), g->server, (uint64_t)getpid(),
                                    (uint64_t)apr_time_now(), st->lost);
        if (try_write(g, line, len) != APR_SUCCESS) {
            return 0;
        }
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, g->s, EXPLOGNO(0056)
                     "ExpectEventLog %s: writing again; %" APR_UINT64_T_FMT " lines were "
                     "lost, and a gap line says so", g->target, (apr_uint64_t)st->lost);
        st->lost = 0;
        st->complained = 0;
    }
    return 1;
}

static void write_line(eventlog_gen *g, const char *line, apr_size_t len)
{
    apr_status_t rv;

    if (len == 0) {
        return;
    }
    if (!flush(g)) {
        enqueue(g, line, len);      /* after the older ones, in order */
        return;
    }
    rv = try_write(g, line, len);
    if (APR_STATUS_IS_EAGAIN(rv)) {
        enqueue(g, line, len);
    }
    else if (rv != APR_SUCCESS) {
        lose(g, rv, "cannot write a line");
    }
}

static void put_event(eventlog_gen *g, const expect_shm_event_t *e, uint32_t state)
{
    char line[EXPECT_EVENT_LINE_MAX];
    uint64_t seq = g->st->seq_origin + (expect_event_claim(e) - g->st->origin_claim);

    write_line(g, line, expect_event_line(line, sizeof(line), g->server, (uint64_t)getpid(),
                                          seq, e, state));
    if (seq >= *g->next_seq) {
        *g->next_seq = seq + 1;
    }
}

/* A gap line, and a warning, for events this writer never read. */
static void put_gap(eventlog_gen *g, uint64_t lost, uint64_t now, const char *why)
{
    char line[EXPECT_EVENT_LINE_MAX];

    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g->s, EXPLOGNO(0051)
                 "ExpectEventLog %s: %" APR_UINT64_T_FMT " events lost (%s); a gap line "
                 "says so.  Raise ExpectEventSlots if 417s come faster than the ring holds "
                 "between two ticks of the parent (about ten seconds)", g->target,
                 (apr_uint64_t)lost, why);
    write_line(g, line, expect_event_gap_line(line, sizeof(line), g->server,
                                            (uint64_t)getpid(), now, lost));
}

/* The kept events: each one final now, or whose slot a later 417 took, or
 * all of them at a stop or a restart, is written and dropped. */
static void recheck_kept(eventlog_gen *g, uint64_t now, int final)
{
    eventlog_state *st = g->st;
    uint32_t i, keep = 0, state;
    uint64_t word;
    int gone;

    for (i = 0; i < st->nkept; i++) {
        expect_shm_event_t *e = &st->kept[i];

        gone = !expect_shm_event_outcome(g->shm, expect_event_claim(e), &word);
        if (!gone) {
            e->outcome = word;
        }
        /* Gone: what the last look saw, which was pending (a final one
         * would have been written then).  Not the window's verdict: the
         * client may have come back after that look, and nothing says so
         * now. */
        state = gone ? EXPECT_OUTCOME_PENDING
                     : expect_outcome_state_at(g->shm, e->outcome, expect_event_claim(e),
                                               e->time_usec, now);
        if (state != EXPECT_OUTCOME_PENDING || gone || final) {
            put_event(g, e, state);
        }
        else {
            if (keep != i) {
                st->kept[keep] = *e;
            }
            keep++;
        }
    }
    st->nkept = keep;
}

/* The bytes in the pipe of f, on either end (Linux answers FIONREAD on
 * both). */
static int queued_in(apr_file_t *f)
{
    apr_os_file_t fd;
    int queued = 0;

    if (apr_os_file_get(&fd, f) != APR_SUCCESS || ioctl(fd, FIONREAD, &queued) != 0) {
        return 0;
    }
    return queued > 0 ? queued : 0;
}

/*
 * Lines waiting for a pipe its logger is reading: a pipe holds 64 KiB, so
 * one try a tick would cap the log at 64 KiB each ten seconds.  Go on
 * while the logger takes bytes out, within TICK_FLUSH_USEC; a logger that
 * takes nothing for STALL_USEC costs no more.
 */
static void flush_while_read(eventlog_gen *g)
{
    apr_time_t deadline = apr_time_now() + TICK_FLUSH_USEC, still = 0;
    int last, queued;

    if (g->pl == NULL) {
        return;
    }
    last = queued_in(g->fd);
    while (!flush(g) && still < STALL_USEC && apr_time_now() < deadline) {
        apr_sleep(FLUSH_POLL_USEC);
        queued = queued_in(g->fd);
        still = queued < last ? 0 : still + FLUSH_POLL_USEC;
        last = queued;
    }
}

/*
 * One tick: the kept events, then what was claimed since the cursor.  A
 * record claimed but not yet published stops the reading (its writer is
 * still copying); one still unpublished a whole tick later belongs to a
 * writer that died or gave the slot up, and is passed (counted as lost).
 */
static void tick(eventlog_gen *g, int final)
{
    eventlog_state *st = g->st;
    const expect_shm_t *shm = g->shm;
    uint64_t now = (uint64_t)apr_time_now(), head, next, want, expected, c, lost = 0;
    size_t got, i;
    uint32_t state;

    flush(g);                 /* what an earlier tick could not write, first */
    recheck_kept(g, now, final);
    head = expect_shm_ring_head(shm);
    if (st->cursor > head) {
        st->cursor = head;     /* cannot happen on the same segment; be safe */
    }
    if (head - st->cursor > shm->ring_slots) {
        put_gap(g, head - shm->ring_slots - st->cursor, now,
                "the event ring wrapped before the parent read them");
        st->cursor = head - shm->ring_slots;
    }
    while (st->cursor < head) {
        want = head - st->cursor < BATCH ? head - st->cursor : BATCH;
        got = expect_shm_read_events(shm, st->cursor, st->batch, (size_t)want,
                                     st->stuck != st->cursor, &next);
        expected = st->cursor;
        for (i = 0; i < got; i++) {
            const expect_shm_event_t *e = &st->batch[i];

            c = expect_event_claim(e);
            if (c > expected) {
                lost += c - expected;
            }
            expected = c + 1;
            state = expect_outcome_state_at(shm, e->outcome, c, e->time_usec, now);
            if (state == EXPECT_OUTCOME_PENDING && !final && st->nkept < st->cap) {
                st->kept[st->nkept++] = *e;
            }
            else {
                put_event(g, e, state);
            }
        }
        if (next > expected) {
            lost += next - expected;
        }
        if (next <= st->cursor) {
            st->stuck = st->cursor;
            break;
        }
        st->cursor = next;
    }
    if (final && st->cursor < head && ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING) {
        /* Claimed by a child the stop killed before it published them:
         * no later tick will read them, so count them now. */
        lost += head - st->cursor;
        st->cursor = head;
    }
    if (lost != 0) {
        put_gap(g, lost, now, "overwritten while read, or never published by their writer");
    }
    if (!final) {
        flush_while_read(g);
    }
}

int expect_eventlog_monitor(apr_pool_t *p, server_rec *s)
{
    (void)p;
    (void)s;
    if (gen != NULL) {
        tick(gen, 0);
    }
    return DECLINED;
}

/*
 * The pid of the child of this process that reads the pipe of rd on its
 * standard input (the logger), or 0: a shell that did not exec its
 * command, a system without /proc.
 */
static pid_t reader_pid(apr_file_t *rd)
{
    char path[64], link[64], want[64], list[4096], *p, *end;
    apr_os_file_t fd;
    struct stat sb;
    ssize_t n;
    FILE *f;
    long pid;

    if (apr_os_file_get(&fd, rd) != APR_SUCCESS || fstat(fd, &sb) != 0) {
        return 0;
    }
    snprintf(want, sizeof(want), "pipe:[%lu]", (unsigned long)sb.st_ino);
    snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)getpid());
    if ((f = fopen(path, "r")) == NULL) {
        return 0;
    }
    n = (ssize_t)fread(list, 1, sizeof(list) - 1, f);
    fclose(f);
    list[n > 0 ? n : 0] = '\0';
    for (p = list; (pid = strtol(p, &end, 10)) > 0 && end != p; p = end) {
        snprintf(path, sizeof(path), "/proc/%ld/fd/0", pid);
        n = readlink(path, link, sizeof(link) - 1);
        if (n > 0) {
            link[n] = '\0';
            if (strcmp(link, want) == 0) {
                return (pid_t)pid;
            }
        }
    }
    return 0;
}

/* Whether pid sleeps in read() on its standard input: it has written out
 * what it read before (a logger reads, writes, and reads again). */
static int idle_in_read(pid_t pid)
{
    char path[64], buf[256], *st;
    FILE *f;
    size_t n;
    int sleeping;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if ((f = fopen(path, "r")) == NULL) {
        return 1;                         /* gone: nothing more to wait for */
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    st = strrchr(buf, ')');
    sleeping = st != NULL && st[1] == ' ' && st[2] == 'S';
    snprintf(path, sizeof(path), "/proc/%ld/syscall", (long)pid);
    if (!sleeping || (f = fopen(path, "r")) == NULL) {
        return 0;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strncmp(buf, "0 0x0 ", 6) == 0;   /* read (0 on x86_64) of fd 0 */
}

/*
 * After the logger has taken the last bytes out of the pipe, before it is
 * stopped: until it is back in read() (so it wrote them out), within
 * deadline; where that cannot be seen, DRAIN_SETTLE_USEC.
 */
static void settle(piped_log *pl, apr_time_t deadline)
{
    pid_t pid = reader_pid(ap_piped_log_read_fd(pl));

#if defined(__linux__) && defined(__x86_64__)
    if (pid != 0) {
        while (!idle_in_read(pid) && apr_time_now() < deadline) {
            apr_sleep(DRAIN_POLL_USEC / 5);
        }
        return;
    }
#else
    (void)pid;
#endif
    apr_sleep(DRAIN_SETTLE_USEC);
}

/*
 * Write the waiting lines to a live logger, and wait for it to read them
 * all, until deadline.  Returns the bytes still not read out of the pipe
 * (lines still waiting in memory are in st->outlen).  Settles a moment
 * after, only when there was something to read, for the logger to write
 * out what it read last before it is stopped.
 */
static int feed(eventlog_gen *g, piped_log *pl, apr_time_t deadline)
{
    int queued = queued_in(g->fd), had = queued > 0 || g->st->outlen > 0;

    while ((!flush(g) || (queued = queued_in(g->fd)) > 0) && apr_time_now() < deadline) {
        apr_sleep(DRAIN_POLL_USEC);
    }
    queued = queued_in(g->fd);
    if (had && queued == 0) {
        settle(pl, apr_time_now() + SETTLE_MAX_USEC);
    }
    return queued;
}

/*
 * What the pipe still holds, taken back in front of the waiting lines:
 * only when its logger is known stopped (nobody else reads it then).
 * The pipe holds whole lines only (each went in in one write).
 */
static void take_back(eventlog_gen *g)
{
    eventlog_state *st = g->st;
    apr_file_t *rd = ap_piped_log_read_fd(g->pl);
    int queued = queued_in(rd);
    apr_size_t got = 0, n;
    char *buf;

    if (queued == 0 || (buf = malloc((size_t)queued + st->outlen)) == NULL) {
        return;
    }
    apr_file_pipe_timeout_set(rd, 0);
    while (got < (apr_size_t)queued) {
        n = (apr_size_t)queued - got;
        if (apr_file_read(rd, buf + got, &n) != APR_SUCCESS || n == 0) {
            break;
        }
        got += n;
    }
    if (st->outlen != 0) {
        memcpy(buf + got, st->out, st->outlen);
    }
    free(st->out);
    st->out = buf;
    st->outlen += got;
    st->outcap = (size_t)queued + st->outlen - got;
    if (st->outcap < st->outlen) {
        st->outcap = st->outlen;
    }
}

/* Count the waiting lines as lost (the logger that was to get them could
 * not be started, or did not read them in time). */
static void lose_waiting(eventlog_gen *g, const char *why)
{
    eventlog_state *st = g->st;
    uint64_t lines = 0;
    size_t i;

    for (i = 0; i < st->outlen; i++) {
        lines += st->out[i] == '\n';
    }
    if (lines + st->lost == 0) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, g->s, EXPLOGNO(0054)
                 "ExpectEventLog %s: %s: the last %" APR_UINT64_T_FMT " lines are lost",
                 g->target, why, (apr_uint64_t)(lines + st->lost));
    st->outlen = 0;
    st->lost = 0;
    st->complained = 0;
}

/*
 * At a stop httpd has stopped the piped loggers (it reclaimed its
 * children) before pconf's cleanups run: the last lines, and what the old
 * logger had not read, go to a logger of their own, for at most
 * DRAIN_MAX_USEC.
 */
static void relay(eventlog_gen *g)
{
    eventlog_state *st = g->st;
    apr_time_t deadline = apr_time_now() + DRAIN_MAX_USEC;
    apr_file_t *old = g->fd;
    apr_pool_t *tp;
    piped_log *pl;
    int left;

    if (st->outlen == 0 && st->lost == 0) {
        return;
    }
    if (apr_pool_create(&tp, NULL) != APR_SUCCESS) {
        return;
    }
    pl = ap_open_piped_log(tp, g->target + 1);
    if (pl == NULL) {
        lose_waiting(g, "its program had stopped, and could not be started again");
        apr_pool_destroy(tp);
        return;
    }
    g->fd = ap_piped_log_write_fd(pl);
    apr_file_pipe_timeout_set(g->fd, 0);
    left = feed(g, pl, deadline);
    if (st->outlen != 0 || left != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, g->s, EXPLOGNO(0054)
                     "ExpectEventLog %s: its program, started again at the stop, had not "
                     "read %d bytes out of its pipe within %d s: they are lost with it",
                     g->target, left, (int)(DRAIN_MAX_USEC / APR_USEC_PER_SEC));
        lose_waiting(g, "its program, started again at the stop, did not take them "
                     "in time");
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, g->s, EXPLOGNO(0058)
                     "ExpectEventLog %s: its program had stopped; the last lines went to "
                     "a new one", g->target);
    }
    g->fd = old;
    apr_pool_destroy(tp);     /* stops that logger, now that it has read all */
}

/*
 * Whether httpd has stopped this generation's piped logger: at a stop
 * (the MPM reclaimed its children, the loggers among them) and at a plain
 * restart; a graceful restart leaves it running until the piped log's own
 * cleanup, after this one.
 */
static int logger_stopped(void)
{
    ap_unixd_mpm_retained_data *r;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING) {
        return 1;
    }
    /* The MPM's pconf cleanup that resets is_ungraceful, registered when
     * it set its signals (after this module's post_config), has run by
     * now and left its verdict in was_graceful. */
    r = ap_unixd_mpm_get_retained_data();
    return r != NULL && (r->is_ungraceful || !r->was_graceful);
}

/*
 * Registered after the log was opened, so it runs before the log's own
 * cleanup closes it: a stop or a restart writes every event read or kept,
 * the pending ones as pending, and they are never written again (the
 * cursor is past them).  It never blocks, and a stop spends at most
 * DRAIN_MAX_USEC here, whatever the logger does.
 */
static apr_status_t eventlog_cleanup(void *data)
{
    eventlog_gen *g = data;
    int left;

    if (g->creator != getpid()) {
        return APR_SUCCESS;
    }
    tick(g, 1);
    if (g->pl != NULL) {
        if (!logger_stopped()) {
            /* A graceful restart: the logger reads on until the piped log's
             * cleanup stops it; what it has not read by then is lost, and
             * what it was not given waits for the next generation's. */
            left = feed(g, g->pl, apr_time_now() + DRAIN_MAX_USEC);
            if (left != 0) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, g->s, EXPLOGNO(0059)
                             "ExpectEventLog %s: at a graceful restart its program had not "
                             "read the last %d bytes in the pipe within %d s; they are "
                             "lost with it (not counted in a gap line)", g->target, left,
                             (int)(DRAIN_MAX_USEC / APR_USEC_PER_SEC));
            }
        }
        else {
            take_back(g);
            if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING) {
                relay(g);
            }
            /* else a plain restart: the next generation's logger gets them */
        }
    }
    if (gen == g) {
        gen = NULL;
    }
    return APR_SUCCESS;
}

static eventlog_state *get_state(server_rec *s, apr_pool_t *ptemp)
{
    apr_pool_t *proc = s->process->pool;
    const char *key = eventlog_key(ptemp);   /* apr_pool_userdata_set() copies it */
    void *data = NULL;
    eventlog_state *st;

    apr_pool_userdata_get(&data, key, proc);
    if (data != NULL) {
        return data;
    }
    st = apr_pcalloc(proc, sizeof(*st));
    st->stuck = UINT64_MAX;
    apr_pool_userdata_set(st, key, apr_pool_cleanup_null, proc);
    return st;
}

/* Where this generation's first tick reads from. */
static void resume(eventlog_gen *g, uint64_t *lost)
{
    eventlog_state *st = g->st;
    const expect_carried_t *cr = expect_config_carried();
    uint64_t head = expect_shm_ring_head(g->shm);
    size_t i;

    *lost = 0;
    if (st->logging && st->token == g->shm->pair_token) {
        return;                           /* the same segment: go on */
    }
    if (st->logging && cr != NULL && cr->old_token == st->token) {
        /* Rebuilt, and the old ring's newest events carried over under new
         * numbers: go on at the first of them this writer had not read. */
        for (i = 0; i < cr->n && cr->old_claims[i] < st->cursor; i++) {
            continue;
        }
        if (cr->old_head > st->cursor && cr->old_head - st->cursor > cr->n - i) {
            *lost = cr->old_head - st->cursor - (cr->n - i);
        }
        st->cursor = cr->new_first + i;
    }
    else {
        /* A new segment, or a log that was off: from now on. */
        st->cursor = head;
    }
    st->stuck = UINT64_MAX;
    /* Claims from the new cursor on are new lines: numbered on from the
     * last line's seq, or as their claims where that is higher (a start). */
    st->origin_claim = st->cursor;
    st->seq_origin = *g->next_seq > st->cursor ? *g->next_seq : st->cursor;
}

int expect_eventlog_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    const expect_srv_conf *mc = expect_srv_config(s);
    const expect_shm_t *shm = expect_config_segment();
    eventlog_state *st;
    eventlog_gen *g;
    apr_status_t rv;
    uint64_t lost;
    void *grown;

    gen = NULL;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    st = get_state(s, ptemp);
    if (mc->event_log == NULL) {
        st->logging = 0;
        st->outlen = 0;       /* no log to write them to any more */
        st->lost = 0;
        return OK;
    }
    if (shm == NULL || shm->ring_slots == 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, EXPLOGNO(0052)
                     "ExpectEventLog %s: nothing will be written: %s", mc->event_log,
                     shm == NULL ? "the server runs without its statistics segment "
                                   "(see EXP0010/EXP0011)"
                                 : "ExpectEventSlots 0 records no events");
        st->logging = 0;
        return OK;
    }
    if (st->batch == NULL && (st->batch = malloc(sizeof(*st->batch) * BATCH)) == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (st->cap < shm->ring_slots) {
        /* At most a ring's worth is ever pending: a kept event is written
         * once its slot is taken. */
        grown = realloc(st->kept, sizeof(*st->kept) * shm->ring_slots);
        if (grown == NULL) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        st->kept = grown;
        st->cap = shm->ring_slots;
    }
    g = apr_pcalloc(pconf, sizeof(*g));
    g->st = st;
    g->shm = shm;
    g->s = s;
    g->target = mc->event_log;
    g->server = s->server_hostname != NULL ? s->server_hostname : "";
    g->creator = getpid();
    g->next_seq = seq_floor(s);
    if (mc->event_log[0] == '|') {
        /* As CustomLog "|...": "|$cmd" through the shell, "||prog" as "|prog". */
        g->pl = ap_open_piped_log(pconf, mc->event_log + 1);
        if (g->pl == NULL) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, EXPLOGNO(0053)
                         "ExpectEventLog: cannot start the program \"%s\"", mc->event_log + 1);
            return !OK;
        }
        g->fd = ap_piped_log_write_fd(g->pl);
        /* Only this process writes to it: never wait on a full pipe. */
        apr_file_pipe_timeout_set(g->fd, 0);
    }
    else {
        rv = apr_file_open(&g->fd, mc->event_log,
                           APR_WRITE | APR_APPEND | APR_CREATE | APR_LARGEFILE,
                           APR_OS_DEFAULT, pconf);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, EXPLOGNO(0053)
                         "ExpectEventLog: cannot open %s", mc->event_log);
            return !OK;
        }
    }
    st->nkept = 0;            /* the last cleanup wrote them all */
    resume(g, &lost);
    st->token = shm->pair_token;
    st->logging = 1;
    gen = g;
    apr_pool_cleanup_register(pconf, g, eventlog_cleanup, apr_pool_cleanup_null);
    if (lost != 0) {
        put_gap(g, lost, (uint64_t)apr_time_now(), "not carried over when the segment "
                "was rebuilt");
    }
    flush(g);                 /* the lines the last generation could not write */
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, EXPLOGNO(0055)
                 "ExpectEventLog %s: writing events from claim %" APR_UINT64_T_FMT
                 " of the segment on", mc->event_log, (apr_uint64_t)st->cursor);
    return OK;
}
