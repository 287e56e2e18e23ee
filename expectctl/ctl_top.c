/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_top.c - `expectctl top`: the segment watched live, as varnishstat
 * and htop let one watch their numbers.  Every -d SECONDS it snapshots
 * every vhost (the way stats does), and the model turns two snapshots into
 * rates.  It never shows a dead segment's numbers as live: each frame asks
 * whether a running httpd still serves the files (ctl_live.c), shows a
 * STALE banner with the rates blanked when not, and attaches the new files
 * once httpd has rebuilt them.  --once, or no terminal: one frame as text,
 * with rates over -d SECONDS between two snapshots.
 */
#include <inttypes.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_top.h"
#include "expect_clients.h"
#include "expect_format.h"

/* The events the list's pane and a vhost's page draw from: the newest of
 * the ring, so that a page costs a bounded read. */
#define PANE_EVENTS 10
#define DETAIL_EVENTS 50
#define DETAIL_SCAN 4096
/* A restart in progress is not stale for this long (as ctl_live.c waits). */
#define RESTART_GRACE_S 3.0
/* How often --once looks again at a restart in progress. */
#define RESTART_POLL_MS 50

typedef struct {
    expect_shm_t *h;
    const ctl_opts_t *o;
    char stale[512];            /* "" while live */
    top_model_t m;
    expect_shm_vhost_snap_t *snaps;
    size_t nsnaps, snaps_cap;
    top_event_t events[DETAIL_EVENTS];
    size_t nevents;
    expect_shm_event_t *ring;   /* DETAIL_SCAN records, read into */
    expect_shm_liveness_t live;
    double restart_seen;        /* when a restart in progress was first seen; 0: none */
    int oom;
    int failed;                 /* the last snapshot could not be taken */
} top_state_t;

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void top_collect(const expect_shm_vhost_snap_t *v, void *arg)
{
    top_state_t *st = arg;
    void *p;

    if (st->nsnaps == st->snaps_cap) {
        size_t cap = st->snaps_cap ? st->snaps_cap * 2 : 256;
        if ((p = realloc(st->snaps, cap * sizeof(*st->snaps))) == NULL) {
            st->oom = 1;
            return;
        }
        st->snaps = p;
        st->snaps_cap = cap;
    }
    st->snaps[st->nsnaps++] = *v;
}

/* ---- events ---- */

/* The User-Agent's first product, for a client the table does not know. */
static void product_of(char *buf, size_t len, const char *ua)
{
    char first[64];
    size_t n = strcspn(ua, " ");

    if (*ua == '\0') {
        snprintf(buf, len, "(no User-Agent)");
        return;
    }
    snprintf(first, sizeof(first), "%.*s", (int)(n < sizeof(first) - 1 ? n : sizeof(first) - 1),
             ua);
    expect_escape_text(buf, len, first);
}

static void describe_event(const top_state_t *st, const expect_shm_event_t *e, top_event_t *out,
                           uint64_t now)
{
    const expect_client_t *c = expect_client_for_event(e->producer, e->reason, e->expect,
                                                       e->user_agent);
    uint32_t state = expect_outcome_state_at(st->h, e->outcome, e->seq / 2 - 1, e->time_usec,
                                             now);
    expect_client_facts_t facts;

    out->time_usec = e->time_usec;
    expect_escape_text(out->vhost, sizeof(out->vhost), e->vhost);
    expect_escape_text(out->client, sizeof(out->client), e->client);
    if (c != NULL) {
        snprintf(out->family, sizeof(out->family), "%s", c->family);
        expect_client_resolve(c, e->user_agent, &facts);
        expect_client_fix(out->fix, sizeof(out->fix), &facts, e->reason);
    }
    else {
        product_of(out->family, sizeof(out->family), e->user_agent);
        snprintf(out->fix, sizeof(out->fix), "%s", expect_reason_text(e->reason));
    }
    if (state == EXPECT_OUTCOME_RETRIED) {
        snprintf(out->outcome, sizeof(out->outcome), "retried after %" PRIu64 " ms",
                 expect_outcome_ms(e->outcome));
    }
    else {
        snprintf(out->outcome, sizeof(out->outcome), "%s", expect_outcome_name(state));
    }
}

/* The newest events, newest first: all vhosts', or only `only`'s. */
static void read_events(top_state_t *st, const expect_shm_vhost_snap_t *only)
{
    uint64_t head, from, next;
    size_t want = only ? DETAIL_SCAN : PANE_EVENTS, n, i;
    uint64_t now = ctl_now_usec();

    st->nevents = 0;
    if (st->h->ring_slots == 0 || st->ring == NULL) {
        return;
    }
    head = expect_shm_ring_head(st->h);
    if (want > st->h->ring_slots) {
        want = st->h->ring_slots;
    }
    from = head > want ? head - want : 0;
    n = expect_shm_read_events(st->h, from, st->ring, want, 0, &next);
    for (i = n; i-- > 0 && st->nevents < DETAIL_EVENTS;) {
        const expect_shm_event_t *e = &st->ring[i];
        if (only != NULL && (e->vhost_slot != only->slot || strcmp(e->vhost, only->name) != 0)) {
            continue;
        }
        describe_event(st, e, &st->events[st->nevents++], now);
    }
}

/* ---- the segment ---- */

/* The files at the path are others (a rebuild, a stop and a start): take
 * them when a running httpd serves them. */
static int follow_rebuild(top_state_t *st)
{
    expect_shm_t fresh;
    char why[512];

    if (expect_shm_attach(&fresh, st->o->shm_path, 0, why, sizeof(why)) != EXPECT_SHM_OK) {
        return 0;
    }
    if (ctl_liveness_now(&fresh, st->o->shm_path, why, sizeof(why)) != CTL_LIVE) {
        expect_shm_detach(&fresh);
        return 0;
    }
    expect_shm_detach(st->h);
    *st->h = fresh;
    top_model_forget(&st->m);
    return 1;
}

/* A restart in progress (the old files RESTARTING, or new ones not yet
 * LIVE) reads its configuration while the children go on serving: it is
 * not stale unless it takes longer than stats would wait (ctl_live.c).
 * The grace is the running server's only: a parent that died mid-restart
 * (kill -9, a configuration that failed) leaves the files RESTARTING for
 * good, and its numbers are dead at once. */
static void not_live(top_state_t *st, int restarting, const char *why)
{
    double now = mono_now();

    restarting = restarting && ctl_server_runs(st->h);
    if (!restarting) {
        st->restart_seen = 0;
    }
    else if (st->restart_seen == 0) {
        st->restart_seen = now;
    }
    if (!restarting || now - st->restart_seen >= RESTART_GRACE_S) {
        snprintf(st->stale, sizeof(st->stale), "%s", why);
    }
}

/* Whether a running httpd serves the segment (st->stale, st->live), the
 * files a rebuild put in its place taken when one does.  Returns 1 when
 * it reattached. */
static int check_live(top_state_t *st)
{
    char why[512];
    int rebuilt = 0, current = expect_shm_is_current(st->h, st->o->shm_path);

    if (!current) {
        rebuilt = follow_rebuild(st);
        if (!rebuilt && access(st->o->shm_path, F_OK) == 0) {
            not_live(st, 1, "the segment was replaced by one no running httpd serves");
        }
        else if (!rebuilt) {
            not_live(st, 0, "the segment is gone (httpd stopped); waiting for a new one");
        }
    }
    if (rebuilt || current) {
        expect_shm_liveness(st->h, &st->live);
        if (ctl_liveness_now(st->h, st->o->shm_path, why, sizeof(why)) == CTL_LIVE) {
            st->stale[0] = '\0';
            st->restart_seen = 0;
        }
        else {
            not_live(st, st->live.state == EXPECT_SEG_RESTARTING
                         || st->live.state == EXPECT_SEG_BUILDING, why);
        }
    }
    expect_shm_liveness(st->h, &st->live);
    return rebuilt;
}

/* One snapshot of every vhost into the model, and whether it is live.
 * Returns 1 when it reattached to a rebuilt segment. */
static int take_sample(top_state_t *st, ctl_opts_t *all)
{
    int rebuilt = check_live(st);

    st->nsnaps = 0;
    st->oom = 0;
    st->failed = 0;
    /* A snapshot that failed is no frame: zero vhosts shown as live would
     * say the server has none.  The model keeps the last one, and the
     * banner says the numbers are not live and why. */
    if (ctl_each_vhost(st->h, all, top_collect, st) != CTL_EXIT_OK || st->oom
        || top_model_update(&st->m, st->snaps, st->nsnaps, mono_now()) != 0) {
        snprintf(st->stale, sizeof(st->stale), "cannot read the virtual hosts (out of memory)");
        st->failed = 1;
    }
    return rebuilt;
}

static void view_facts(const top_state_t *st, top_view_t *v)
{
    v->pid = st->live.server_pid;
    v->generation = st->live.generation;
    v->started_usec = st->live.created_usec;
    v->now_usec = ctl_now_usec();
    v->stale = st->stale[0] != '\0' ? st->stale : NULL;
    v->interval = (double)st->o->delay_ms / 1000.0;
    v->events = st->events;
    v->nevents = st->nevents;
}

/* ---- --once ---- */

static void print_line(void *ctx, int y, top_line_t kind, const char *text)
{
    size_t n = strlen(text);

    (void)ctx;
    (void)y;
    (void)kind;
    while (n > 0 && text[n - 1] == ' ') {
        n--;
    }
    fwrite(text, 1, n, stdout);
    putchar('\n');
}

static int top_once(top_state_t *st, ctl_opts_t *all, int utf8)
{
    top_view_t v;

    take_sample(st, all);
    ctl_sleep_ms(st->o->delay_ms);
    take_sample(st, all);
    /* A restart still within its grace is neither live nor stale yet: the
     * exit code waits for which (at most the grace, as stats waits). */
    while (st->stale[0] == '\0' && st->restart_seen != 0) {
        ctl_sleep_ms(RESTART_POLL_MS);
        check_live(st);
    }
    top_model_view(&st->m, TOP_SORT_EXPECT, st->o->pattern);
    read_events(st, NULL);
    memset(&v, 0, sizeof(v));
    view_facts(st, &v);
    v.utf8 = utf8;
    v.filter = st->o->pattern;
    v.width = top_once_width(&st->m);
    top_frame(&st->m, &v, print_line, NULL);
    if (st->stale[0] != '\0') {
        fprintf(stderr, "expectctl: %s: %s\n", st->o->shm_path, st->stale);
        return st->failed ? CTL_EXIT_FAIL : CTL_EXIT_NOSEG;
    }
    return CTL_EXIT_OK;
}

/* ---- the policy, as set changes it ---- */

/* set prints the vhost's new policy line; on the screen the status line
 * says it instead. */
static int report_nothing(const expect_shm_t *h, const ctl_opts_t *o)
{
    (void)h;
    (void)o;
    return CTL_EXIT_OK;
}

/* Run set's own code -- its attach, its write, and its check that the
 * configuration that serves took the write, written again across a
 * restart (ctl_attach.c) -- on a control handle of its own, its complaint
 * (on stderr, which would tear the screen) caught for the status line. */
static void change_policy(top_state_t *st, const expect_shm_vhost_snap_t *v, uint32_t value,
                          char *msg, size_t len)
{
    expect_shm_t w;
    ctl_opts_t so = *st->o;
    char name[4 * EXPECT_SHM_NAME_LEN + 1], caught[512];
    const char *what = value == EXPECT_OVERRIDE_NONE ? "default"
                       : expect_policy_name((expect_policy_t)value);
    FILE *tmp;
    int saved, rc;

    expect_escape_text(name, sizeof(name), v->name);
    so.verb = CTL_VERB_SET;
    so.vhost = v->name;
    so.set_all = 0;
    so.set_value = value;
    caught[0] = '\0';
    fflush(stderr);
    tmp = tmpfile();
    saved = dup(STDERR_FILENO);
    if (tmp != NULL && saved >= 0) {
        dup2(fileno(tmp), STDERR_FILENO);
    }
    memset(&w, 0, sizeof(w));
    rc = ctl_attach_live(&w, &so);
    if (rc == CTL_EXIT_OK) {
        rc = ctl_write_verified(&w, &so, ctl_set, report_nothing);
        /* A detached handle is zeroed: safe whatever the wrapper did. */
        expect_shm_detach(&w);
    }
    fflush(stderr);
    if (tmp != NULL && saved >= 0) {
        dup2(saved, STDERR_FILENO);
        rewind(tmp);
        if (fgets(caught, sizeof(caught), tmp) == NULL) {
            caught[0] = '\0';
        }
        caught[strcspn(caught, "\n")] = '\0';
    }
    if (saved >= 0) {
        close(saved);
    }
    if (tmp != NULL) {
        fclose(tmp);
    }
    if (rc != CTL_EXIT_OK) {
        /* The first line is the reason; "expectctl: " adds nothing here. */
        const char *why = strncmp(caught, "expectctl: ", 11) == 0 ? caught + 11 : caught;
        snprintf(msg, len, "not changed: %.400s", why[0] ? why : "expectctl set failed");
    }
    else {
        snprintf(msg, len, "%.200s: policy set to %s (as expectctl set %.200s %s)", name, what,
                 name, what);
    }
}

/* ---- the screen ---- */

typedef struct {
    top_view_t v;
    size_t room;                 /* rows (or body lines) the last frame had */
    uint32_t detail_slot;
    char detail_name[EXPECT_SHM_NAME_LEN];
    top_screen_t back;           /* where help returns to */
    char filter[256];
    char message[1024];
    int quit;
    /* The selection follows its vhost when new rates reorder the rows. */
    int follow, jump_top;
    uint32_t follow_slot;
    char follow_name[EXPECT_SHM_NAME_LEN];
} screen_t;

static const top_row_t *selected(const top_state_t *st, const screen_t *s)
{
    if (s->v.sel < st->m.nshown) {
        return &st->m.rows[st->m.order[s->v.sel]];
    }
    return NULL;
}

static const expect_shm_vhost_snap_t *detail_vhost(const top_state_t *st, const screen_t *s)
{
    size_t i;

    for (i = 0; i < st->m.nrows; i++) {
        if (st->m.rows[i].v.slot == s->detail_slot
            && strcmp(st->m.rows[i].v.name, s->detail_name) == 0) {
            return &st->m.rows[i].v;
        }
    }
    return NULL;
}

/* The answer to the question in s->v.message: a resize redraws the
 * question at the new size rather than answering it, and a signal ends
 * top with nothing changed. */
static int ask(top_state_t *st, screen_t *s)
{
    int k;

    for (;;) {
        top_draw_size(&s->v.width, &s->v.height);
        top_draw_frame(&st->m, &s->v);
        if ((k = top_draw_key(-1)) != TOP_KEY_RESIZE) {
            break;
        }
    }
    if (k == TOP_KEY_QUIT) {
        s->quit = 1;
    }
    return k;
}

static void ask_policy(top_state_t *st, screen_t *s)
{
    const expect_shm_vhost_snap_t *v = s->v.screen == TOP_SCREEN_DETAIL
                                       ? detail_vhost(st, s)
                                       : selected(st, s) ? &selected(st, s)->v : NULL;
    expect_shm_vhost_snap_t copy;
    char name[4 * EXPECT_SHM_NAME_LEN + 1], q[1024];
    uint32_t value;
    int k;

    if (v == NULL) {
        snprintf(s->message, sizeof(s->message), "no virtual host selected");
        return;
    }
    if (geteuid() != 0) {
        snprintf(s->message, sizeof(s->message), "changing a policy needs root: nothing "
                 "was changed (run expectctl top or expectctl set as root)");
        return;
    }
    copy = *v;
    expect_escape_text(name, sizeof(name), copy.name);
    snprintf(q, sizeof(q), "policy for %s: c continue, r reject, i ignore, d default "
             "(the configured one); Esc cancels", name);
    s->v.message = q;
    k = ask(st, s);
    switch (k) {
    case 'c': value = EXPECT_POLICY_CONTINUE; break;
    case 'r': value = EXPECT_POLICY_REJECT; break;
    case 'i': value = EXPECT_POLICY_IGNORE; break;
    case 'd': value = EXPECT_OVERRIDE_NONE; break;
    default:
        snprintf(s->message, sizeof(s->message), "nothing was changed");
        return;
    }
    snprintf(q, sizeof(q), "set %s to %s, as expectctl set does? y/n", name,
             value == EXPECT_OVERRIDE_NONE ? "default"
             : expect_policy_name((expect_policy_t)value));
    k = ask(st, s);
    if (k != 'y' && k != 'Y') {
        snprintf(s->message, sizeof(s->message), "nothing was changed");
        return;
    }
    change_policy(st, &copy, value, s->message, sizeof(s->message));
}

/* Where the followed vhost is in the new order. */
static void follow_selection(const top_state_t *st, screen_t *s)
{
    size_t i;

    for (i = 0; s->follow && i < st->m.nshown; i++) {
        const expect_shm_vhost_snap_t *v = &st->m.rows[st->m.order[i]].v;
        if (v->slot == s->follow_slot && strcmp(v->name, s->follow_name) == 0) {
            s->v.sel = i;
            return;
        }
    }
}

/* After a key: the vhost now selected is the one to follow (after s or /,
 * none: the top of the new order). */
static void remember_selection(const top_state_t *st, screen_t *s)
{
    const top_row_t *r;

    s->follow = 0;
    if (s->jump_top) {
        s->jump_top = 0;
        return;
    }
    if (s->v.screen == TOP_SCREEN_LIST && (r = selected(st, s)) != NULL) {
        s->follow = 1;
        s->follow_slot = r->v.slot;
        memcpy(s->follow_name, r->v.name, sizeof(s->follow_name));
    }
}

/* Keep the selection on the screen and in range. */
static void clamp(const top_state_t *st, screen_t *s)
{
    size_t room = s->room ? s->room : 1;

    if (st->m.nshown == 0) {
        s->v.sel = s->v.first = 0;
        return;
    }
    if (s->v.sel >= st->m.nshown) {
        s->v.sel = st->m.nshown - 1;
    }
    if (s->v.sel < s->v.first) {
        s->v.first = s->v.sel;
    }
    if (s->v.sel >= s->v.first + room) {
        s->v.first = s->v.sel - room + 1;
    }
    if (s->v.first + room > st->m.nshown) {
        s->v.first = st->m.nshown > room ? st->m.nshown - room : 0;
    }
}

static void move_by(screen_t *s, long d)
{
    size_t *p = s->v.screen == TOP_SCREEN_LIST ? &s->v.sel : &s->v.scroll;

    if (d < 0 && (size_t)-d > *p) {
        *p = 0;
    }
    else {
        *p += (size_t)d;
    }
}

static void on_key(top_state_t *st, screen_t *s, int k, int *fresh)
{
    long page = s->room > 1 ? (long)s->room - 1 : 1;
    const top_row_t *r;

    if (k != -1 && k != TOP_KEY_RESIZE) {
        s->message[0] = '\0';
    }
    switch (k) {
    case TOP_KEY_QUIT:
        s->quit = 1;
        break;
    case 'q': case 'Q': case TOP_KEY_ESC:
        if (s->v.screen == TOP_SCREEN_HELP) {
            s->v.screen = s->back;
            s->v.scroll = 0;
        }
        else if (s->v.screen == TOP_SCREEN_DETAIL) {
            s->v.screen = TOP_SCREEN_LIST;
        }
        else if (k != TOP_KEY_ESC) {
            s->quit = 1;
        }
        break;
    case TOP_KEY_UP:   move_by(s, -1); break;
    case TOP_KEY_DOWN: move_by(s, 1); break;
    case TOP_KEY_PGUP:
    case TOP_KEY_PGDN:
        /* A page turns the view, the selection staying where it was on it. */
        if (s->v.screen == TOP_SCREEN_LIST) {
            long turn = k == TOP_KEY_PGDN ? (long)(s->room ? s->room : 1)
                                          : -(long)(s->room ? s->room : 1);
            size_t sel = s->v.sel;
            move_by(s, turn);
            s->v.first = turn < 0 ? s->v.first - (sel - s->v.sel > s->v.first ? s->v.first
                                                                                : sel - s->v.sel)
                                  : s->v.first + (s->v.sel - sel);
        }
        else {
            move_by(s, k == TOP_KEY_PGDN ? page : -page);
        }
        break;
    /* As far as it goes: the drawing bounds it (clamp, top_body_lines). */
    case TOP_KEY_HOME: move_by(s, -(1L << 30)); break;
    case TOP_KEY_END:  move_by(s, 1L << 30); break;
    case 's':
        s->v.sort = (top_sort_t)((s->v.sort + 1) % TOP_SORTS);
        s->v.sel = s->v.first = 0;
        s->jump_top = 1;
        break;
    case '/':
        if (top_draw_prompt("filter: vhosts whose name contains (empty: all) ", s->filter,
                            sizeof(s->filter)) == 0) {
            s->v.sel = s->v.first = 0;
            s->jump_top = 1;
        }
        break;
    case TOP_KEY_ENTER:
        if (s->v.screen == TOP_SCREEN_LIST && (r = selected(st, s)) != NULL) {
            s->detail_slot = r->v.slot;
            memcpy(s->detail_name, r->v.name, sizeof(s->detail_name));
            s->v.screen = TOP_SCREEN_DETAIL;
            s->v.scroll = 0;
            *fresh = 1;
        }
        break;
    case 'p': case 'P':
        s->v.paused = !s->v.paused;
        *fresh = !s->v.paused;
        break;
    case '?': case 'h':
        if (s->v.screen != TOP_SCREEN_HELP) {
            s->back = s->v.screen;
            s->v.screen = TOP_SCREEN_HELP;
            s->v.scroll = 0;
        }
        break;
    case 'c': case 'C':
        if (s->v.screen != TOP_SCREEN_HELP) {
            ask_policy(st, s);
            *fresh = 1;
        }
        break;
    default:
        break;
    }
}

/* One frame on the screen, as the state and the keys have it: redrawn
 * for a new sample, a key or a resize only (nothing else changes it). */
static void draw_screen(top_state_t *st, screen_t *s)
{
    char name[4 * EXPECT_SHM_NAME_LEN + 1];
    size_t lines;
    int width, height;

    /* The open vhost is gone (a rebuilt segment without it): back to the
     * list, saying why, rather than a list drawn under a page's keys. */
    if ((s->v.screen == TOP_SCREEN_DETAIL
         || (s->v.screen == TOP_SCREEN_HELP && s->back == TOP_SCREEN_DETAIL))
        && detail_vhost(st, s) == NULL) {
        expect_escape_text(name, sizeof(name), s->detail_name);
        snprintf(s->message, sizeof(s->message), "%.300s is gone: httpd no longer has it "
                 "(back to the list)", name);
        if (s->v.screen == TOP_SCREEN_DETAIL) {
            s->v.screen = TOP_SCREEN_LIST;
            s->v.scroll = 0;
        }
        s->back = TOP_SCREEN_LIST;
    }
    top_draw_size(&width, &height);
    view_facts(st, &s->v);
    s->v.width = width;
    s->v.height = height;
    s->v.filter = s->filter;
    s->v.message = s->message[0] ? s->message : NULL;
    s->v.detail = s->v.screen == TOP_SCREEN_DETAIL ? detail_vhost(st, s) : NULL;
    if (s->v.screen == TOP_SCREEN_LIST) {
        clamp(st, s);
    }
    s->room = top_draw_frame(&st->m, &s->v);
    if (s->v.screen == TOP_SCREEN_LIST && s->v.sel >= s->v.first + (s->room ? s->room : 1)) {
        clamp(st, s);
        s->room = top_draw_frame(&st->m, &s->v);
    }
    if (s->v.screen != TOP_SCREEN_LIST) {
        /* The page showed its last lines at most: Up from End moves at once. */
        lines = top_body_lines(&st->m, &s->v);
        lines = lines > s->room ? lines - s->room : 0;
        if (s->v.scroll > lines) {
            s->v.scroll = lines;
        }
    }
}

/* How top ends once the terminal is restored: Ctrl-C is the way out that
 * every terminal program has, and leaves as q does (0); SIGTERM, SIGHUP
 * and Ctrl-\ end it by the same signal, so that whoever sent one sees it
 * was obeyed (no core for Ctrl-\: there is nothing to debug). */
static int ended_by(int sig)
{
    struct rlimit none = {0, 0};

    if (sig == 0 || sig == SIGINT) {
        return CTL_EXIT_OK;
    }
    if (sig == SIGQUIT) {
        setrlimit(RLIMIT_CORE, &none);
    }
    fflush(stdout);
    signal(sig, SIG_DFL);
    raise(sig);
    return CTL_EXIT_FAIL;   /* not reached: the default action ends the process */
}

static int top_screen(top_state_t *st, ctl_opts_t *all)
{
    screen_t s;
    char err[512], sorted_filter[sizeof(s.filter)];
    double next = 0, last = 0, now, every = (double)st->o->delay_ms / 1000.0;
    int fresh = 0, resort = 1, dirty = 1, k;
    long wait_ms;
    top_sort_t sorted_by = TOP_SORT_EXPECT;

    memset(&s, 0, sizeof(s));
    if (top_draw_open(err, sizeof(err)) != 0) {
        fprintf(stderr, "expectctl: %s\n", err);
        return CTL_EXIT_FAIL;
    }
    s.v.utf8 = top_draw_utf8();
    s.v.sort = TOP_SORT_EXPECT;
    if (st->o->pattern != NULL) {
        snprintf(s.filter, sizeof(s.filter), "%s", st->o->pattern);
    }
    sorted_filter[0] = '\0';
    while (!s.quit) {
        now = mono_now();
        /* A sample when -d has passed; Enter, c and un-pausing want fresh
         * news too, but rates over a sliver of an interval are noise (one
         * request in 50 ms is 20/s, and the rows jump): those keys take a
         * sample only once half an interval has passed, else the events. */
        if (!s.v.paused && (now >= next || (fresh && now - last >= every / 2))) {
            if (take_sample(st, all)) {
                snprintf(s.message, sizeof(s.message), "reattached: httpd rebuilt the "
                         "segment (generation %u); rates start again",
                         (unsigned)expect_shm_generation(st->h));
            }
            last = now;
            next = now + every;
            resort = fresh = 1;
        }
        if (fresh) {
            read_events(st, s.v.screen == TOP_SCREEN_DETAIL ? detail_vhost(st, &s) : NULL);
            fresh = 0;
            dirty = 1;
        }
        /* Sorting 10,000 rows is most of a frame: only for new numbers or
         * another order, never for a key that only moves the selection. */
        if (resort || s.v.sort != sorted_by || strcmp(s.filter, sorted_filter) != 0) {
            top_model_view(&st->m, s.v.sort, s.filter);
            sorted_by = s.v.sort;
            memcpy(sorted_filter, s.filter, sizeof(sorted_filter));
            if (s.v.screen == TOP_SCREEN_LIST) {
                follow_selection(st, &s);
            }
            resort = 0;
            dirty = 1;
        }
        if (dirty) {
            draw_screen(st, &s);
            dirty = 0;
        }
        /* Wait for a key, at most until the next sample. */
        now = mono_now();
        wait_ms = s.v.paused ? -1 : next <= now ? 0 : (long)((next - now) * 1000) + 1;
        k = top_draw_key(wait_ms);
        if (k != -1) {
            on_key(st, &s, k, &fresh);
            remember_selection(st, &s);
            dirty = 1;
        }
    }
    top_draw_close();
    return ended_by(top_draw_signal());
}

int ctl_top(expect_shm_t *h, const ctl_opts_t *o)
{
    top_state_t st;
    ctl_opts_t all = *o;
    int rc, utf8;
    const char *cs;

    /* The terminal's character set, for ncursesw and the sparkline. */
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C");
    cs = top_draw_utf8() ? "UTF-8" : NULL;
    utf8 = cs != NULL;
    memset(&st, 0, sizeof(st));
    st.h = h;
    st.o = o;
    all.vhost = NULL;
    top_model_init(&st.m);
    st.ring = calloc(DETAIL_SCAN, sizeof(*st.ring));
    if (st.ring == NULL) {
        fprintf(stderr, "expectctl: out of memory\n");
        return CTL_EXIT_FAIL;
    }
    if (o->once || !isatty(STDOUT_FILENO)) {
        rc = top_once(&st, &all, utf8);
    }
    else {
        rc = top_screen(&st, &all);
    }
    top_model_free(&st.m);
    free(st.snaps);
    free(st.ring);
    return rc;
}
