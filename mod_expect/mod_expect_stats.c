/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect_stats.c - httpd glue for the shared statistics segment: its
 * lifetime across restarts (and across builds of another layout), the
 * record of what the judging hook decided (expect_stats_record, the one
 * call a judged request makes here), every 417 and its event
 * (log_transaction), and retry tracking's sweep.  The layout and every
 * lock-free operation are in the expect_shm_*.c core, which knows nothing
 * of httpd.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_listen.h"
#include "apr_strings.h"

#include "mod_expect_config.h"
#include "mod_expect_stats.h"
#include "expect_proc.h"

APLOG_USE_MODULE(expect);

#define MIN_VHOST_CAPACITY 64

typedef struct {
    expect_shm_t shm;
    const char *path;
    pid_t creator;
} expect_state;

/*
 * Kept in the process pool, which outlives every config generation and
 * every load of this DSO.  The key names the layout and the size of
 * expect_state, so a rebuilt module with another layout never takes the
 * previous build's struct for its own (and the mapping is validated before
 * reuse anyway).
 */
static const char *state_key(apr_pool_t *p)
{
    return expect_config_state_key(p, "segment", sizeof(expect_state));
}

/* This generation's segment; children inherit it with the address space. */
static expect_state *state;

/* What the request path's retry and override tests read while there is
 * no segment. */
static const uint64_t no_pending;
static const uint32_t no_override = EXPECT_OVERRIDE_NONE;
/* ExpectRetryWindow of this generation, microseconds; 0: not tracked. */
static uint64_t retry_window_usec;

/* What r->request_config holds when mod_expect said 417: the reason, and
 * what the judging hook had already looked up, for log_transaction. */
typedef struct {
    expect_reason_t reason;
    int has_content;
    const char *content_length;
} expect_rejected_t;

/* How many of this config's vhost names the segment does not hold yet. */
static uint32_t names_missing(const expect_shm_t *shm, server_rec *s)
{
    uint32_t missing = 0;
    for (; s != NULL; s = s->next) {
        const expect_srv_conf *sc = expect_srv_config(s);
        if (expect_shm_vhost_find(shm, sc->name) < 0) {
            missing++;
        }
    }
    return missing;
}

static apr_status_t assign_slot(expect_shm_t *shm, server_rec *s)
{
    expect_srv_conf *sc = expect_srv_config(s);
    const expect_dir_conf *dc = expect_dir_config(s->lookup_defaults);
    uint32_t slot;
    apr_status_t rv = expect_shm_vhost_add(shm, sc->name, &slot);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = expect_shm_mark_active(shm, slot, expect_configured_policy(dc),
                                expect_configured_strict(dc));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    sc->slot = (int)slot;
    return APR_SUCCESS;
}

/*
 * httpd keeps virtual hosts in reverse config order after the main server;
 * new slots are handed out in config order so that stats reads like the
 * config and like apache2 -S.
 */
static apr_status_t assign_slots(expect_shm_t *shm, server_rec *s, apr_pool_t *ptemp,
                                 uint32_t nvhosts)
{
    server_rec **order = apr_palloc(ptemp, sizeof(*order) * nvhosts);
    server_rec *v;
    uint32_t i = 0;
    apr_status_t rv;

    if ((rv = expect_shm_mark_all_inactive(shm)) != APR_SUCCESS) {
        return rv;
    }
    for (v = s->next; v != NULL && i < nvhosts; v = v->next) {
        order[i++] = v;
    }
    rv = assign_slot(shm, s);
    while (rv == APR_SUCCESS && i > 0) {
        rv = assign_slot(shm, order[--i]);
    }
    return rv;
}

/*
 * A rebuilt segment (table outgrown, ExpectEventSlots or ExpectShmFile
 * changed) continues the old one: the newest events that fit, re-pointed
 * at the renumbered vhost slots (the generation count goes on too).
 */
static expect_carried_t carried_events;

static void carry_over(expect_state *st, const expect_state *old, apr_pool_t *ptemp)
{
    uint32_t n = old->shm.ring_slots < st->shm.ring_slots ? old->shm.ring_slots
                                                          : st->shm.ring_slots;
    uint64_t head = expect_shm_ring_head(&old->shm), next, *claims;
    expect_shm_event_t *buf;
    size_t got, i;
    int slot;

    if (n == 0) {
        return;
    }
    buf = apr_palloc(ptemp, sizeof(*buf) * n);
    claims = apr_palloc(ptemp, sizeof(*claims) * n);
    got = expect_shm_read_events(&old->shm, head > n ? head - n : 0, buf, n, 0, &next);
    /* What the event log's writer needs to go on where it stopped. */
    carried_events.old_token = old->shm.pair_token;
    carried_events.old_head = next;
    carried_events.new_first = expect_shm_ring_head(&st->shm);
    carried_events.old_claims = claims;
    carried_events.n = 0;
    for (i = 0; i < got; i++) {
        slot = expect_shm_vhost_find(&st->shm, buf[i].vhost);
        buf[i].vhost_slot = slot >= 0 ? (uint32_t)slot : UINT32_MAX;
        /* Nobody else writes the new ring yet: claims follow each other. */
        if (expect_shm_record(&st->shm, &buf[i])) {
            claims[carried_events.n++] = expect_event_claim(&buf[i]);
        }
    }
    expect_config_set_carried(&carried_events);
}

/*
 * A graceful restart onto a build of another layout (a package upgrade)
 * finds no state of its own from the previous load, but finds the files
 * the previous build served, still marked as this parent's.  Read what
 * outlives a layout change; a segment some other server left behind (a
 * crash) is replaced as before.
 */
static int read_carry(const char *path, server_rec *s, expect_shm_carry_t *out)
{
    char why[256];
    uint64_t started = 0;
    expect_shm_err_t rc = expect_shm_carry_read(path, out, why, sizeof(why));

    if (rc != EXPECT_SHM_OK) {
        if (rc != EXPECT_SHM_ENOENT) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "segment %s not carried over: %s",
                         path, why);
        }
        return 0;
    }
    if (expect_proc_start_time(0, &started) != 0) {
        started = 0;
    }
    if (out->server_pid != (uint32_t)getpid()
        || (out->state != EXPECT_SEG_LIVE && out->state != EXPECT_SEG_RESTARTING)
        || (out->server_start != 0 && started != 0 && out->server_start != started)) {
        expect_shm_carry_free(out);
        return 0;
    }
    return 1;
}

/* Put the rows read by read_carry() into the new segment, and say in one
 * line what came over and what did not. */
static void adopt_carry(expect_state *st, expect_shm_carry_t *c, server_rec *s)
{
    uint32_t rows = 0, overrides = 0;
    apr_status_t rv = expect_shm_carry_into(&st->shm, c, &rows, &overrides);

    ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, EXPLOGNO(0040)
                 "statistics segment %s was written by a build of layout %u (this build: "
                 "layout %u, mod_expect " EXPECT_BUILD_STRING "): carried over %u of %u rows "
                 "with %s and %u runtime overrides (a row not carried was of a vhost no longer "
                 "configured); dropped %" APR_UINT64_T_FMT " events and %"
                 APR_UINT64_T_FMT " pending "
                 "retries, whose format changes with the layout", st->path, c->layout_version,
                 (unsigned)EXPECT_SHM_LAYOUT_VERSION, rows, c->nrows,
                 c->counters ? "their counters" : "NO counters (that layout's are not known)",
                 overrides, (apr_uint64_t)c->events, (apr_uint64_t)c->pending);
    expect_shm_carry_free(c);
}

/* Change the segment's state in its control file (reopened for pwrite()
 * and sealed again): a no-op when the files at path are no longer ours. */
static void mark_state(expect_state *st, uint32_t seg_state)
{
    if (expect_shm_unseal(&st->shm, st->path) == APR_SUCCESS) {
        expect_shm_mark_state(&st->shm, seg_state);
        expect_shm_seal(&st->shm);
    }
}

/*
 * Runs in the parent at each stop and restart.  A restart marks the
 * segment RESTARTING: if the new configuration still loads mod_expect, its
 * post_config publishes it LIVE again; if not, expectctl sees a segment
 * no configuration took back, and calls it stale.  Only a stop removes
 * the files (after marking them RETIRED, in case removal fails), so
 * counters and overrides outlive graceful and plain restarts.  Only the
 * files this state maps are touched: after `-k graceful-stop` and a new
 * `-k start`, the old parent exits last and must not touch the new
 * server's segment.
 */
static apr_status_t segment_cleanup(void *data)
{
    expect_state *st = data;

    if (st->creator != getpid() || st->shm.base == NULL) {
        return APR_SUCCESS;
    }
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING) {
        mark_state(st, EXPECT_SEG_RETIRED);
        expect_shm_remove(&st->shm, st->path);
    }
    else {
        mark_state(st, EXPECT_SEG_RESTARTING);
    }
    return APR_SUCCESS;
}

/* Can this restart keep the previous generation's segment? */
static int reusable(const expect_state *old, const char *path, uint32_t ring,
                    uint32_t retry_slots, server_rec *s)
{
    char why[256];

    if (old == NULL || strcmp(old->path, path) != 0 || old->shm.ring_slots != ring
        || old->shm.pending_slots != retry_slots) {
        return 0;
    }
    if (!expect_shm_is_current(&old->shm, path)) {
        /* Replaced or removed behind our back: build a new one. */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, EXPLOGNO(0013)
                     "statistics segment %s was replaced or removed; rebuilding it", path);
        return 0;
    }
    if (expect_shm_check(&old->shm, why, sizeof(why)) != EXPECT_SHM_OK) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, EXPLOGNO(0014)
                     "statistics segment %s is damaged (%s); rebuilding it", path, why);
        return 0;
    }
    return expect_shm_vhost_count(&old->shm) + names_missing(&old->shm, s)
           <= old->shm.vhost_capacity;
}

/*
 * A segment that cannot be made costs the statistics, never the service:
 * the policies are enforced as configured (no runtime overrides), and
 * expectctl finds no live segment.  A previous one still at the path is
 * marked RETIRED, so expectctl calls it stale instead of live.
 */
static int without_statistics(apr_pool_t *pconf, server_rec *s, expect_state *prev,
                              apr_status_t rv, const char *what, const char *path,
                              const char *why)
{
    ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "%s %s%s%s; mod_expect goes on enforcing "
                 "the configured policies without statistics or runtime overrides "
                 "(check ExpectShmFile and its directory)", what, path, *why ? ": " : "", why);
    if (prev != NULL && prev->shm.base != NULL) {
        mark_state(prev, EXPECT_SEG_RETIRED);
        /* Still mapped and still ours: a stop removes it as usual. */
        apr_pool_cleanup_register(pconf, prev, segment_cleanup, apr_pool_cleanup_null);
    }
    state = NULL;
    expect_config_set_segment(NULL);
    retry_window_usec = 0;
    return OK;
}

/* Point each vhost's retry test at its row's gauge, and the server-wide
 * test at the table's count, now that the slots are known. */
static void wire_pending(expect_state *st, server_rec *s, uint32_t window)
{
    expect_srv_conf *sc;

    for (; s != NULL; s = s->next) {
        sc = expect_srv_config(s);
        if (sc->slot >= 0 && st->shm.vhosts != NULL) {
            sc->pending = &st->shm.vhosts[sc->slot].pending;
            sc->override = &st->shm.ctl[sc->slot].override;
        }
    }
    retry_window_usec = (uint64_t)window * APR_USEC_PER_SEC;
    __atomic_store_n(&st->shm.hdr->retry_window_ms, window * 1000u, __ATOMIC_RELAXED);
}

int expect_stats_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    const expect_srv_conf *mc = expect_srv_config(s);
    apr_pool_t *proc = s->process->pool;
    void *data = NULL;
    expect_state *old, *st;
    const char *path, *key;
    uint32_t ring, retry_slots, window, nvhosts = 0, capacity, generation;
    uint64_t started;
    server_rec *v;
    char why[256];
    apr_status_t rv;
    expect_shm_carry_t carry;
    int carried = 0;

    expect_config_set_carried(NULL);
    /* The first, pre-config pass is thrown away: build nothing there. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    path = mc->shm_path ? mc->shm_path
                        : ap_runtime_dir_relative(ptemp, EXPECT_SHM_DEFAULT_NAME);
    ring = (uint32_t)(mc->event_slots == EXPECT_UNSET ? EXPECT_EVENT_SLOTS_DEFAULT
                                                      : mc->event_slots);
    retry_slots = (uint32_t)(mc->retry_slots == EXPECT_UNSET ? EXPECT_RETRY_SLOTS_DEFAULT
                                                             : mc->retry_slots);
    window = (uint32_t)(mc->retry_window == EXPECT_UNSET ? EXPECT_RETRY_WINDOW_DEFAULT
                                                         : mc->retry_window);
    for (v = s; v != NULL; v = v->next) {
        expect_srv_conf *sc = expect_srv_config(v);
        /*
         * httpd gives a vhost its own server config only when one of our
         * directives appears in it; otherwise it points at the main
         * server's.  Each vhost needs its own slot and name, so copy.
         */
        if (v != s && sc == mc) {
            sc = apr_pmemdup(pconf, mc, sizeof(*sc));
            ap_set_module_config(v->module_config, &expect_module, sc);
        }
        sc->slot = -1;
        sc->pending = &no_pending;
        sc->override = &no_override;
        nvhosts++;
    }
    expect_config_name_vhosts(pconf, ptemp, s);

    key = state_key(ptemp);   /* apr_pool_userdata_set() copies it */
    apr_pool_userdata_get(&data, key, proc);
    old = data;
    if (reusable(old, path, ring, retry_slots, s)
        && (rv = expect_shm_unseal(&old->shm, path)) == APR_SUCCESS) {
        /* A restart with room to spare: keep the segment old children use.
         * Names and flags go into the control file with pwrite() through a
         * descriptor that is closed again before any child is forked. */
        st = old;
        generation = expect_shm_generation(&st->shm);
        rv = assign_slots(&st->shm, s, ptemp, nvhosts);
    }
    else {
        /* No state of this build's from the last generation, or one whose
         * files another build of this same parent has replaced since (an
         * upgrade and a downgrade): the files at path are the newest. */
        carried = (old == NULL || (strcmp(old->path, path) == 0
                                   && !expect_shm_is_current(&old->shm, path)))
                  && read_carry(path, s, &carry);
        if (carried && old != NULL) {
            expect_shm_detach(&old->shm);
            old = NULL;
        }
        capacity = 2 * (nvhosts + (old ? expect_shm_vhost_count(&old->shm) : 0)
                        + (carried ? carry.nrows : 0));
        if (capacity < MIN_VHOST_CAPACITY) {
            capacity = MIN_VHOST_CAPACITY;
        }
        if (capacity > EXPECT_SHM_MAX_VHOSTS) {
            /* What fits is carried; the rest is said (APR_ENOSPC). */
            capacity = EXPECT_SHM_MAX_VHOSTS;
        }
        st = apr_pcalloc(proc, sizeof(*st));
        st->path = apr_pstrdup(proc, path);
        st->creator = getpid();
        /* Replaces whatever is at path, such as a segment left by a crash. */
        rv = expect_shm_create(&st->shm, path, capacity, ring, retry_slots, why, sizeof(why));
        if (rv != APR_SUCCESS) {
            if (carried) {
                expect_shm_carry_free(&carry);
            }
            return without_statistics(pconf, s, old, rv, EXPLOGNO(0010)
                                      "cannot create the statistics segment", path, why);
        }
        generation = old != NULL ? expect_shm_generation(&old->shm) : 0;
        if (carried) {
            generation = carry.generation;
            adopt_carry(st, &carry, s);
        }
        if (old != NULL && old->shm.base != NULL) {
            /* Growing, moving or replacing: carry counters and overrides by
             * name, then let go of the old mapping (old children keep their
             * own inherited copy of it). */
            expect_shm_copy_vhosts(&st->shm, &old->shm, 1);
            carry_over(st, old, ptemp);
            if (strcmp(old->path, path) != 0) {
                mark_state(old, EXPECT_SEG_RETIRED);
                expect_shm_remove(&old->shm, old->path);
            }
            expect_shm_detach(&old->shm);
        }
        rv = assign_slots(&st->shm, s, ptemp, nvhosts);
        apr_pool_userdata_set(st, key, apr_pool_cleanup_null, proc);
    }
    if (rv == APR_SUCCESS) {
        /* With the pid, the start time names this parent: expectctl is not
         * fooled by a reused pid. */
        if (expect_proc_start_time(0, &started) != 0) {
            started = 0;
        }
        rv = expect_shm_publish_state(&st->shm, EXPECT_SEG_LIVE, generation + 1,
                                      (uint32_t)getpid(), started);
    }
    expect_shm_seal(&st->shm);
    if (rv != APR_SUCCESS) {
        return without_statistics(pconf, s, st, rv, EXPLOGNO(0011)
                                  "cannot set up the statistics segment", path, "");
    }
    state = st;
    expect_config_set_segment(&st->shm);
    wire_pending(st, s, window);
    apr_pool_cleanup_register(pconf, st, segment_cleanup, apr_pool_cleanup_null);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, EXPLOGNO(0012)
                 "statistics segment %s: %u vhosts, %u event slots, %u retry slots, "
                 "generation %u", path, (unsigned)nvhosts, (unsigned)ring,
                 (unsigned)retry_slots,
                 (unsigned)expect_shm_generation(&st->shm));
    return OK;
}

const char *expect_stats_path(void)
{
    return state != NULL ? state->path : NULL;
}


/* A 417 of ours: marked for log_transaction with what the judging hook
 * already looked up.  Apart, so that the other decisions' path makes no
 * call but its last. */
static void mark_rejected(request_rec *r, const expect_facts_t *f,
                          const expect_outcome_t *out) __attribute__((noinline));
static void mark_rejected(request_rec *r, const expect_facts_t *f, const expect_outcome_t *out)
{
    expect_rejected_t *mark = apr_palloc(r->pool, sizeof(*mark));

    mark->reason = out->why == EXPECT_WHY_STRICT ? EXPECT_REASON_STRICT_BODYLESS
                                                 : EXPECT_REASON_POLICY;
    mark->has_content = f->in.has_content;
    mark->content_length = f->content_length;
    ap_set_module_config(r->request_config, &expect_module, mark);
}

/* A 417'd client's upload come back: its pending 417 is retried. */
static void came_back(const request_rec *r, const expect_facts_t *f) __attribute__((noinline));
static void came_back(const request_rec *r, const expect_facts_t *f)
{
    uint64_t when = (uint64_t)r->request_time;
    uint32_t tag = expect_retry_length_tag(expect_content_length(f->content_length));

    if (!expect_retry_resolve(&state->shm, f->retry_key, when, retry_window_usec, tag)
        && f->retry_key_peer != 0) {
        /* Behind mod_remoteip, core's 417 (before its hook ran) was keyed
         * by the peer's address, the resend by the client's: a resend from
         * any client behind that proxy with the same products, method and
         * target matches it (documented under ExpectRetryWindow). */
        expect_retry_resolve(&state->shm, f->retry_key_peer, when, retry_window_usec, tag);
    }
}

void expect_stats_record(request_rec *r, const expect_facts_t *f, const expect_outcome_t *out)
{
    expect_shm_vhost_t *vh;
    expect_ctr_t ctr = EXPECT_CTR_COUNT;

    if (out != NULL) {
        switch (out->decision) {
        case EXPECT_DECIDE_REJECT:
            mark_rejected(r, f, out);
            ctr = EXPECT_CTR_REJECTED;
            break;
        case EXPECT_DECIDE_CONTINUE: ctr = EXPECT_CTR_CONTINUED; break;
        case EXPECT_DECIDE_IGNORE:   ctr = EXPECT_CTR_IGNORED; break;
        case EXPECT_DECIDE_BODYLESS: ctr = EXPECT_CTR_BODYLESS; break;
        case EXPECT_DECIDE_HTTP10:   ctr = EXPECT_CTR_HTTP10; break;
        case EXPECT_DECIDE_NONE:
        default:
            return;
        }
    }
    if (state == NULL || f->sc->slot < 0) {
        return;
    }
    if (ctr != EXPECT_CTR_COUNT) {
        vh = expect_shm_vhost(&state->shm, (uint32_t)f->sc->slot);
        expect_shm_count(vh, EXPECT_CTR_EXPECT);
        expect_shm_count(vh, ctr);
    }
    /* An upload let through, with its Expect (after `expectctl set VHOST
     * continue`, say) or without, is a 417'd client's upload come back. */
    if (f->retry_key != 0 && (out == NULL || out->status != HTTP_EXPECTATION_FAILED)) {
        came_back(r, f);
    }
}


/* Who produced the 417 this request ended with, and why. */
static void classify(const request_rec *r, const request_rec *last, const char *expect,
                     const expect_rejected_t *mark, expect_producer_t *producer,
                     expect_reason_t *reason)
{
    if (mark != NULL) {
        *producer = EXPECT_PRODUCER_MOD_EXPECT;
        *reason = mark->reason;
    }
    else if (expect_is_unknown_expectation(expect)) {
        /* Core rejects these before any hook but this one runs. */
        *producer = EXPECT_PRODUCER_CORE;
        *reason = EXPECT_REASON_CORE_UNKNOWN;
    }
    else if (r->proxyreq != PROXYREQ_NONE || last->proxyreq != PROXYREQ_NONE) {
        *producer = EXPECT_PRODUCER_BACKEND;
        *reason = EXPECT_REASON_BACKEND;
    }
    else {
        *producer = EXPECT_PRODUCER_HANDLER;
        *reason = EXPECT_REASON_HANDLER;
    }
}

static void record_event(expect_shm_event_t *ev, const request_rec *r,
                         const expect_srv_conf *sc, expect_producer_t producer,
                         expect_reason_t reason, uint64_t when, int64_t length,
                         const char *expect, const char *user_agent, uint64_t outcome);



int expect_stats_log_transaction(request_rec *r)
{
    const request_rec *last = r;
    expect_producer_t producer;
    expect_reason_t reason;
    expect_shm_vhost_t *vh;
    expect_shm_event_t *ev;
    const expect_srv_conf *sc;
    const char *expect, *user_agent, *cl;
    const expect_rejected_t *mark;
    int64_t length;
    uint64_t when, ticket, claim = 0;
    int follow;

    while (last->next != NULL) {
        last = last->next;
    }
    if (last->status != HTTP_EXPECTATION_FAILED || state == NULL) {
        return DECLINED;
    }
    sc = expect_srv_config(r->server);
    if (sc->slot < 0) {
        return DECLINED;
    }
    expect = apr_table_get(r->headers_in, "Expect");
    mark = ap_get_module_config(r->request_config, &expect_module);
    classify(r, last, expect, mark, &producer, &reason);
    /* The request's arrival, as the access log's %t shows it (and no
     * clock read): a 417 is answered within the same moment. */
    when = (uint64_t)r->request_time;
    vh = expect_shm_vhost(&state->shm, (uint32_t)sc->slot);
    if (producer == EXPECT_PRODUCER_CORE) {
        expect_shm_count(vh, EXPECT_CTR_EXPECT);
    }
    expect_shm_count_417(vh, producer, when);

    /* Only an upload with an expectation can be retried without one: a 417
     * to a request that declared no body lost nothing. */
    cl = mark != NULL ? mark->content_length : apr_table_get(r->headers_in, "Content-Length");
    follow = expect != NULL && retry_window_usec != 0 && state->shm.pending_slots != 0
             && (mark != NULL ? mark->has_content : expect_content_given(r, cl));
    /* Looked up before the slot is claimed, to hold it for the copies only. */
    user_agent = apr_table_get(r->headers_in, "User-Agent");
    length = expect_content_length(cl);
    ev = state->shm.ring_slots != 0 ? expect_shm_claim(&state->shm, &ticket) : NULL;
    if (ev != NULL) {
        claim = (ticket - 1) / 2;
        record_event(ev, r, sc, producer, reason, when, length, expect, user_agent,
                     expect_outcome_word(claim, follow ? EXPECT_OUTCOME_PENDING
                                                       : EXPECT_OUTCOME_UNTRACKED, 0));
        expect_shm_publish(ev, ticket);
        claim++;
    }
    if (follow) {
        expect_retry_remember(&state->shm, expect_request_retry_key(r, &state->shm, sc->slot, r->useragent_ip, user_agent),
                              when, claim, (uint32_t)sc->slot, expect_retry_length_tag(length));
    }
    return DECLINED;
}

/* Write every payload field in place: the slot holds an old event. */
static void record_event(expect_shm_event_t *ev, const request_rec *r,
                         const expect_srv_conf *sc, expect_producer_t producer,
                         expect_reason_t reason, uint64_t when, int64_t length,
                         const char *expect, const char *user_agent, uint64_t outcome)
{
    ev->time_usec = when;
    ev->content_length = length;
    ev->outcome = outcome;
    ev->vhost_slot = (uint32_t)sc->slot;
    ev->producer = (uint32_t)producer;
    ev->reason = (uint32_t)reason;
    ev->decision = producer == EXPECT_PRODUCER_MOD_EXPECT ? EXPECT_DECIDE_REJECT
                                                          : EXPECT_DECIDE_NONE;
    /* The row's key, so that events name a vhost as stats does (and a
     * rebuilt segment finds it again), long names included. */
    memcpy(ev->vhost, state->shm.ctl[sc->slot].name, sizeof(ev->vhost));
    ev->vhost[sizeof(ev->vhost) - 1] = '\0';
    EXPECT_SHM_EVENT_SET(ev, client, r->useragent_ip);
    EXPECT_SHM_EVENT_SET(ev, method, r->method);
    EXPECT_SHM_EVENT_SET(ev, uri, r->unparsed_uri);
    EXPECT_SHM_EVENT_SET(ev, protocol, r->protocol);
    EXPECT_SHM_EVENT_SET(ev, expect, expect);
    EXPECT_SHM_EVENT_SET(ev, user_agent, user_agent);
}

int expect_stats_monitor(apr_pool_t *p, server_rec *s)
{
    (void)p;
    (void)s;
    /* With tracking turned off (window 0), what is left is abandoned. */
    if (state != NULL && state->shm.pending_slots != 0) {
        expect_retry_sweep(&state->shm, (uint64_t)apr_time_now(), retry_window_usec);
    }
    return DECLINED;
}
