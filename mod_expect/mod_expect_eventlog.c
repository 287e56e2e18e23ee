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
 * event is written once.  The cursor outlives a graceful restart, which
 * unloads and reloads this DSO, in the process pool (no pointer into the
 * DSO is kept there).
 *
 * Each line is one apr_file_write() of less than PIPE_BUF bytes, so no
 * line interleaves with another writer's on the same pipe or file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_core.h"
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
/* And once it has read it all, for it to write out its last read. */
#define DRAIN_SETTLE_USEC (100 * 1000)

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
    uint32_t nkept, cap;      /* pending events copied out */
    expect_shm_event_t *kept; /* malloc()ed: cap of them */
    expect_shm_event_t *batch;/* malloc()ed: BATCH of them */
} eventlog_state;

static const char *eventlog_key(apr_pool_t *p)
{
    return expect_config_state_key(p, "eventlog", sizeof(eventlog_state));
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
    uint64_t failed;          /* lines lost to failed writes since the last good one */
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
 * and an O_APPEND file whole at its end. */
static void write_line(eventlog_gen *g, const char *line, apr_size_t len)
{
    apr_size_t n = len;
    apr_status_t rv;

    if (len == 0) {
        return;
    }
    rv = apr_file_write(g->fd, line, &n);
    if (rv == APR_SUCCESS && n == len) {
        if (g->failed != 0) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, g->s, EXPLOGNO(0056)
                         "ExpectEventLog %s: writing again; %" APR_UINT64_T_FMT
                         " lines were lost", g->target, (apr_uint64_t)g->failed);
            g->failed = 0;
        }
        return;
    }
    if (g->failed++ == 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, g->s, EXPLOGNO(0054)
                     "ExpectEventLog %s: cannot write a line (%" APR_SIZE_T_FMT " of %"
                     APR_SIZE_T_FMT " bytes written); lines are lost until writing works "
                     "again", g->target, n, len);
    }
}

static void put_event(eventlog_gen *g, const expect_shm_event_t *e, uint32_t state)
{
    char line[EXPECT_EVENT_LINE_MAX];

    write_line(g, line, expect_event_line(line, sizeof(line), g->server, (uint64_t)getpid(),
                                        e, state));
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
        /* Gone: the last word seen, which an overdue pending reads as
         * abandoned, as every reader shows it. */
        state = expect_outcome_state_at(g->shm, e->outcome, expect_event_claim(e), e->time_usec, now);
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
    if (lost != 0) {
        put_gap(g, lost, now, "overwritten while read, or never published by their writer");
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

/* Wait until nothing is left in the pipe of fd, or DRAIN_MAX_USEC; returns
 * the bytes still in it.  Linux answers FIONREAD on either end of a pipe. */
static int wait_read(apr_file_t *f)
{
    apr_os_file_t fd;
    apr_time_t waited = 0;
    int queued = 0;

    if (apr_os_file_get(&fd, f) != APR_SUCCESS) {
        return 0;
    }
    while (ioctl(fd, FIONREAD, &queued) == 0 && queued > 0 && waited < DRAIN_MAX_USEC) {
        apr_sleep(DRAIN_POLL_USEC);
        waited += DRAIN_POLL_USEC;
    }
    return queued > 0 ? queued : 0;
}

/*
 * The lines nobody read out of the pipe, handed to a logger of their own:
 * at a stop or a plain restart httpd has already stopped the piped loggers
 * (when it reclaimed its children) before pconf's cleanups run.  The
 * parent holds the pipe's read end too, so they are still there.
 */
static void relay(eventlog_gen *g, int queued)
{
    apr_pool_t *tp;
    apr_file_t *rd = ap_piped_log_read_fd(g->pl), *wr;
    piped_log *pl;
    char *buf, *line, *end;
    apr_size_t got = 0, n;

    if (apr_pool_create(&tp, NULL) != APR_SUCCESS) {
        return;
    }
    buf = apr_palloc(tp, (apr_size_t)queued + 1);
    apr_file_pipe_timeout_set(rd, 0);
    while (got < (apr_size_t)queued) {
        n = (apr_size_t)queued - got;
        if (apr_file_read(rd, buf + got, &n) != APR_SUCCESS || n == 0) {
            break;
        }
        got += n;
    }
    pl = ap_open_piped_log(tp, g->target + 1);
    if (pl == NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, g->s, EXPLOGNO(0054)
                     "ExpectEventLog %s: its program had stopped, and could not be started "
                     "again for the last %" APR_SIZE_T_FMT " bytes; they are lost",
                     g->target, got);
        apr_pool_destroy(tp);
        return;
    }
    wr = ap_piped_log_write_fd(pl);
    /* Line by line, each one write, as they were written the first time. */
    for (line = buf; line < buf + got; line = end) {
        end = memchr(line, '\n', (size_t)(buf + got - line));
        end = end != NULL ? end + 1 : buf + got;
        n = (apr_size_t)(end - line);
        apr_file_write(wr, line, &n);
    }
    wait_read(wr);
    apr_sleep(DRAIN_SETTLE_USEC);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, g->s, EXPLOGNO(0058)
                 "ExpectEventLog %s: its program had stopped; the last %" APR_SIZE_T_FMT
                 " bytes went to a new one", g->target, got);
    apr_pool_destroy(tp);     /* stops that logger, now that it has read all */
}

/* Make sure a piped logger has what was written (see DRAIN_*). */
static void drain(eventlog_gen *g)
{
    int queued;

    if (g->pl == NULL) {
        return;
    }
    queued = wait_read(g->fd);
    if (queued > 0) {
        relay(g, queued);
        return;
    }
    apr_sleep(DRAIN_SETTLE_USEC);
}

/*
 * Registered after the log was opened, so it runs before the log's own
 * cleanup closes it: a stop or a restart writes every event read or kept,
 * the pending ones as pending, and they are never written again (the
 * cursor is past them).
 */
static apr_status_t eventlog_cleanup(void *data)
{
    eventlog_gen *g = data;

    if (g->creator != getpid()) {
        return APR_SUCCESS;
    }
    tick(g, 1);
    drain(g);
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
    if (mc->event_log[0] == '|') {
        /* As CustomLog "|...": "|$cmd" through the shell, "||prog" as "|prog". */
        g->pl = ap_open_piped_log(pconf, mc->event_log + 1);
        if (g->pl == NULL) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, EXPLOGNO(0053)
                         "ExpectEventLog: cannot start the program \"%s\"", mc->event_log + 1);
            return !OK;
        }
        g->fd = ap_piped_log_write_fd(g->pl);
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
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, EXPLOGNO(0055)
                 "ExpectEventLog %s: writing events from claim %" APR_UINT64_T_FMT
                 " of the segment on", mc->event_log, (apr_uint64_t)st->cursor);
    return OK;
}
