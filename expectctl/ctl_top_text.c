/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_top_text.c - a `top` frame laid out as lines of text: the list of
 * vhosts, one vhost's page, or the help, for a terminal of a given size
 * (or, for --once, every row and as wide as the names need).  A line is
 * never wider than the width it is laid out for: every write goes through
 * a builder that counts columns.  No curses: the screen and --once are
 * sinks that take the lines.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl_top.h"
#include "expect_format.h"

#define LINE_BYTES 4096
/* Columns right of the name: policy, nine rates, pending, the sparkline. */
#define FIXED_COLS (5 + 4 * TOP_RATES + 4 + 1 + TOP_SPARK_CELLS)
#define NAME_MIN 8
#define NAME_SHORT 24
#define WIDTH_MAX 1000

typedef struct {
    char b[LINE_BYTES];
    size_t len;
    int cols, width;
} line_t;

static void line_init(line_t *l, int width)
{
    l->len = 0;
    l->cols = 0;
    l->width = width > WIDTH_MAX ? WIDTH_MAX : width;
    l->b[0] = '\0';
}

/* ASCII only (names are escaped): one byte, one column. */
static void line_add(line_t *l, const char *s)
{
    for (; *s != '\0' && l->cols < l->width && l->len + 1 < sizeof(l->b); s++) {
        l->b[l->len++] = *s;
        l->cols++;
    }
    l->b[l->len] = '\0';
}

static void line_addf(line_t *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void line_addf(line_t *l, const char *fmt, ...)
{
    char buf[LINE_BYTES];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    line_add(l, buf);
}

/* One glyph of one column, in however many bytes. */
static void line_glyph(line_t *l, const char *g)
{
    size_t n = strlen(g);

    if (l->cols < l->width && l->len + n < sizeof(l->b)) {
        memcpy(l->b + l->len, g, n + 1);
        l->len += n;
        l->cols++;
    }
}

static void line_pad(line_t *l, int col)
{
    while (l->cols < col && l->cols < l->width && l->len + 1 < sizeof(l->b)) {
        l->b[l->len++] = ' ';
        l->cols++;
    }
    l->b[l->len] = '\0';
}

/* The frame being laid out: where the next line goes and how many fit. */
typedef struct {
    const top_view_t *view;
    top_sink_fn sink;
    void *ctx;
    int y;
    /* Body lines (detail, help) scroll: the first `skip` are not shown,
     * and no more than `room`. */
    size_t body, skip, room;
    int nw;                     /* the name column's width */
} frame_t;

static void emit(frame_t *f, top_line_t kind, const line_t *l)
{
    /* A terminal too small for the frame shows its top, and the keys on
     * the bottom line (the way out) rather than what would run into it. */
    if (f->view->height == 0 || f->y < f->view->height - 1
        || (kind == TOP_L_STATUS && f->y == f->view->height - 1)) {
        f->sink(f->ctx, f->y, kind, l->b);
    }
    f->y++;
}

static void emit_text(frame_t *f, top_line_t kind, const char *text)
{
    line_t l;

    line_init(&l, f->view->width);
    line_add(&l, text);
    emit(f, kind, &l);
}

/* A body line, scrolled and bounded; long text wraps at blanks, the
 * continuation indented by `indent`. */
static void body_text(frame_t *f, const char *text, int indent)
{
    int width = f->view->width;
    const char *p = text;

    do {
        char piece[LINE_BYTES];
        int avail = width - (p == text ? 0 : indent), n, cut;
        line_t l;

        if (avail < 10) {
            avail = width;
        }
        n = (int)strlen(p);
        cut = n;
        if (n > avail) {
            for (cut = avail; cut > avail / 2 && p[cut] != ' '; cut--) {
            }
            if (p[cut] != ' ') {
                cut = avail;
            }
        }
        snprintf(piece, sizeof(piece), "%*s%.*s", p == text ? 0 : indent, "", cut, p);
        p += cut;
        while (*p == ' ') {
            p++;
        }
        if (f->body >= f->skip && (f->view->height == 0 || f->body - f->skip < f->room)) {
            line_init(&l, width);
            line_add(&l, piece);
            emit(f, TOP_L_TEXT, &l);
        }
        f->body++;
    } while (*p != '\0');
}

static void body_printf(frame_t *f, int indent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void body_printf(frame_t *f, int indent, const char *fmt, ...)
{
    char buf[LINE_BYTES];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    body_text(f, buf, indent);
}

void top_rate_text(char *buf, size_t len, double r)
{
    if (r <= 0) {
        snprintf(buf, len, "0");
    }
    else if (r < 0.095) {
        /* Never 0.0 for something that happened: .01 to .09. */
        snprintf(buf, len, ".0%d", r * 100 < 1.5 ? 1 : (int)(r * 100 + 0.5));
    }
    else if (r < 9.95) {
        snprintf(buf, len, "%.1f", r);
    }
    else if (r < 999.5) {
        snprintf(buf, len, "%.0f", r);
    }
    else if (r < 99500) {
        snprintf(buf, len, "%.0fk", r / 1000);
    }
    else if (r < 950000) {
        snprintf(buf, len, ".%dM", (int)(r / 100000 + 0.5));
    }
    else {
        snprintf(buf, len, "%.0fM", r >= 99.5e6 ? 99.0 : r / 1e6);
    }
}

/* A count in at most 3 columns, like a rate. */
static void count_text(char *buf, size_t len, uint64_t n)
{
    if (n < 1000) {
        snprintf(buf, len, "%" PRIu64, n);
    }
    else {
        top_rate_text(buf, len, (double)n);
    }
}

static const char *policy_short(const expect_shm_vhost_snap_t *v)
{
    static const char *const names[] = {"con", "rej", "ign"};
    uint32_t eff = v->override != EXPECT_OVERRIDE_NONE ? v->override : v->configured_policy;

    return eff < 3 ? names[eff] : "?";
}

static const char *policy_long(uint32_t p)
{
    return expect_policy_name((expect_policy_t)p);
}

static void duration_text(char *buf, size_t len, uint64_t secs)
{
    if (secs >= 86400) {
        snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", secs / 86400, secs % 86400 / 3600);
    }
    else if (secs >= 3600) {
        snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", secs / 3600, secs % 3600 / 60);
    }
    else if (secs >= 60) {
        snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", secs / 60, secs % 60);
    }
    else {
        snprintf(buf, len, "%" PRIu64 "s", secs);
    }
}

static void clock_text(char *buf, size_t len, uint64_t usec)
{
    time_t secs = (time_t)(usec / 1000000u);
    struct tm tm;

    if (usec == 0 || gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, len, "--:--:--");
        return;
    }
    snprintf(buf, len, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Cut an escaped name in the middle to width columns: both the host and
 * the port tell rows apart. */
static void cut_middle(char *name, int width)
{
    int len = (int)strlen(name), head, tail;

    if (len <= width || width < 3) {
        return;
    }
    head = (width - 1) / 2;
    tail = width - 1 - head;
    memmove(name + head + 1, name + len - tail, (size_t)tail + 1);
    name[head] = '~';
}

/* As wide as the longest name shown needs (at least NAME_SHORT), within
 * what the terminal leaves: a wide terminal does not push the numbers
 * away from short names. */
static int name_width(const top_model_t *m, const top_view_t *view)
{
    int room = view->width - FIXED_COLS, longest = NAME_SHORT;
    size_t i;

    for (i = 0; i < m->nshown; i++) {
        int n = (int)expect_escape_text(NULL, 0, m->rows[m->order[i]].v.name);
        longest = n > longest ? n : longest;
    }
    if (room > longest) {
        room = longest;
    }
    return room < NAME_MIN ? NAME_MIN : room;
}

int top_once_width(const top_model_t *m)
{
    size_t i, longest = 5;

    for (i = 0; i < m->nshown; i++) {
        size_t n = expect_escape_text(NULL, 0, m->rows[m->order[i]].v.name);
        if (n > longest) {
            longest = n;
        }
    }
    if (longest + FIXED_COLS < 80) {
        return 80;
    }
    return (int)(longest + FIXED_COLS) > WIDTH_MAX ? WIDTH_MAX : (int)(longest + FIXED_COLS);
}

static void spark_text(line_t *l, const uint32_t *cells, int utf8, int blank)
{
    static const char *const glyphs[TOP_SPARK_LEVELS + 1] = {
        " ", "\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84", "\xe2\x96\x85",
        "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88"
    };
    static const char ascii[] = " .:-=+*#@";
    uint32_t max = 0;
    int k;
    char one[2] = {0, 0};

    for (k = 0; k < TOP_SPARK_CELLS; k++) {
        max = cells[k] > max ? cells[k] : max;
    }
    for (k = 0; k < TOP_SPARK_CELLS; k++) {
        int lv = blank ? 0 : top_spark_level(cells[k], max);
        if (utf8) {
            line_glyph(l, glyphs[lv]);
        }
        else {
            one[0] = ascii[lv];
            line_add(l, one);
        }
    }
}

/* ---- the list ---- */

/* STALE and why, on two lines at most on a screen (all of it for
 * --once): the why names the pid and when it stopped serving. */
static void banner(frame_t *f)
{
    const top_view_t *v = f->view;
    const char *why = v->stale, *p;
    char text[LINE_BYTES];
    int shown = 0, cut, n;
    line_t l;

    if (strncmp(why, "stale segment: ", 15) == 0) {
        why += 15;
    }
    snprintf(text, sizeof(text), "STALE, not live (numbers as last written): %s", why);
    for (p = text; *p != '\0' && (v->height == 0 || shown < 2); shown++) {
        n = (int)strlen(p);
        cut = n;
        if (n > v->width) {
            for (cut = v->width; cut > v->width / 2 && p[cut] != ' '; cut--) {
            }
            if (p[cut] != ' ') {
                cut = v->width;
            }
        }
        line_init(&l, v->width);
        line_addf(&l, "%.*s", cut, p);
        line_pad(&l, v->width);
        emit(f, TOP_L_BANNER, &l);
        for (p += cut; *p == ' '; p++) {
        }
    }
}

/* The title, and the banner when the numbers are not live. */
static void header_title(frame_t *f)
{
    const top_view_t *v = f->view;
    char up[32];
    line_t l;

    duration_text(up, sizeof(up), v->now_usec > v->started_usec
                                      ? (v->now_usec - v->started_usec) / 1000000u : 0);
    line_init(&l, v->width);
    line_addf(&l, "expectctl top%s  httpd pid %u  up %s  generation %u  every %.1fs  "
              "sort: %s", v->paused ? "  PAUSED" : "", (unsigned)v->pid, up,
              (unsigned)v->generation, v->interval, top_sort_name(v->sort));
    emit(f, TOP_L_TITLE, &l);
    if (v->stale != NULL) {
        banner(f);
    }
}

static void header(frame_t *f, const top_model_t *m)
{
    const top_view_t *v = f->view;
    char r[TOP_RATES][16], total[16];
    line_t l;
    int k;

    header_title(f);
    line_init(&l, v->width);
    line_addf(&l, "%zu vhosts", m->nrows);
    if (v->filter != NULL && *v->filter != '\0') {
        line_addf(&l, " (%zu match /%s)", m->nshown, v->filter);
    }
    line_addf(&l, ": %u continue, %u reject, %u ignore, %u overridden", m->policies[0],
              m->policies[1], m->policies[2], m->overrides);
    emit(f, TOP_L_INFO, &l);
    for (k = 0; k < TOP_RATES; k++) {
        if (v->stale != NULL || m->elapsed <= 0) {
            snprintf(r[k], sizeof(r[k]), "-");
        }
        else {
            top_rate_text(r[k], sizeof(r[k]), m->total_rate[k]);
        }
    }
    if (v->stale != NULL || m->elapsed <= 0) {
        snprintf(total, sizeof(total), "-");
    }
    else {
        top_rate_text(total, sizeof(total), m->total_rate[TOP_R_MOD] + m->total_rate[TOP_R_CORE]
                                                + m->total_rate[TOP_R_OTHER]);
    }
    line_init(&l, v->width);
    line_addf(&l, "per second: EXP %s  CON %s  IGN %s  REJ %s  417 %s  RTR %s  ABN %s",
              r[TOP_R_EXPECT], r[TOP_R_CONTINUED],
              r[TOP_R_IGNORED], r[TOP_R_REJECTED], total, r[TOP_R_RETRIED],
              r[TOP_R_ABANDONED]);
    emit(f, TOP_L_INFO, &l);
    line_init(&l, v->width);
    line_addf(&l, "%s: EXP %" PRIu64 "  417 %" PRIu64 " (MOD %" PRIu64 " COR %"
              PRIu64 " OTH %" PRIu64 ")  RTR %" PRIu64 "  ABN %" PRIu64
              "  PND %" PRIu64, v->stale ? "last written" : "since start",
              m->total_ctr[EXPECT_CTR_EXPECT], m->total_ctr[EXPECT_CTR_417_TOTAL],
              m->total_ctr[EXPECT_CTR_417_EXPECT], m->total_ctr[EXPECT_CTR_417_CORE],
              m->total_ctr[EXPECT_CTR_417_HANDLER] + m->total_ctr[EXPECT_CTR_417_BACKEND],
              m->total_ctr[EXPECT_CTR_RETRIED], m->total_ctr[EXPECT_CTR_ABANDONED],
              m->total_pending);
    emit(f, TOP_L_INFO, &l);
}

static void column_heads(frame_t *f)
{
    static const char *const heads[TOP_RATES] = {
        "EXP", "CON", "IGN", "REJ", "MOD", "COR", "OTH", "RTR", "ABN"
    };
    line_t l;
    int k;

    line_init(&l, f->view->width);
    line_addf(&l, "%-*s %4s", f->nw, "VHOST", "POL");
    for (k = 0; k < TOP_RATES; k++) {
        line_addf(&l, " %3s", heads[k]);
    }
    line_addf(&l, " %3s %s", "PND", "417s 1min");
    emit(f, TOP_L_HEAD, &l);
}

static void vhost_row(frame_t *f, const top_row_t *r, int selected)
{
    const top_view_t *v = f->view;
    char name[4 * EXPECT_SHM_NAME_LEN + 1], pol[8], num[16];
    int nw = f->nw, live = v->stale == NULL && r->has_rate, k;

    line_t l;

    expect_escape_text(name, sizeof(name), r->v.name);
    cut_middle(name, nw);
    snprintf(pol, sizeof(pol), "%s%s", policy_short(&r->v),
             r->v.override != EXPECT_OVERRIDE_NONE ? "*" : "");
    line_init(&l, v->width);
    line_addf(&l, "%-*s %4s", nw, name, pol);
    for (k = 0; k < TOP_RATES; k++) {
        if (live) {
            top_rate_text(num, sizeof(num), r->rate[k]);
        }
        else {
            snprintf(num, sizeof(num), "-");
        }
        line_addf(&l, " %3s", num);
    }
    if (v->stale == NULL) {
        count_text(num, sizeof(num), r->v.pending);
    }
    else {
        snprintf(num, sizeof(num), "-");
    }
    line_addf(&l, " %3s ", num);
    spark_text(&l, r->spark, v->utf8, v->stale != NULL);
    if (selected) {
        line_pad(&l, v->width);
    }
    emit(f, selected ? TOP_L_SELECTED : TOP_L_ROW, &l);
}

/* The pane's columns: time, vhost (as wide as the list's), client, outcome. */
#define OUTCOME_COLS 20

static int family_width(const top_view_t *v, int first)
{
    int w = v->width - 9 - (first + 1) - (OUTCOME_COLS + 1);

    /* Families are at most this long; the outcome stays near them. */
    return w < 10 ? 10 : w > 40 ? 40 : w;
}

static void pane_event_line(frame_t *f, const top_event_t *e, int with_vhost)
{
    char when[16], first[sizeof(e->vhost)];
    int nw = f->nw;
    line_t l;

    clock_text(when, sizeof(when), e->time_usec);
    snprintf(first, sizeof(first), "%s", with_vhost ? e->vhost : e->client);
    cut_middle(first, nw);
    line_init(&l, f->view->width);
    line_addf(&l, "%s %-*s %-*.*s %s", when, nw, first, family_width(f->view, nw),
              family_width(f->view, nw), e->family, e->outcome);
    emit(f, TOP_L_TEXT, &l);
}

/* How many of the newest 417s the bottom pane shows at this height. */
static int pane_events(int height)
{
    if (height == 0) {
        return 10;
    }
    if (height >= 24) {
        return 5 + (height - 24) / 4;
    }
    return height > 14 ? (height - 14) / 2 : 0;
}

/* Within 80 columns, ? help included (the arrows go without saying; the
 * help names them). */
static const char *const list_keys =
    "q quit  PgUp PgDn  s sort  / filter  Enter open  c policy  p pause  ? help";

static size_t list_screen(frame_t *f, const top_model_t *m)
{
    const top_view_t *v = f->view;
    int pane = pane_events(v->height), rows, k;
    size_t i, shown;

    header(f, m);
    column_heads(f);
    rows = v->height == 0 ? (int)m->nshown
                          : v->height - f->y - (pane > 0 ? pane + 1 : 0) - 1;
    if (rows < 0) {
        rows = 0;
    }
    for (i = v->first, shown = 0; i < m->nshown && (int)shown < rows; i++, shown++) {
        vhost_row(f, &m->rows[m->order[i]], v->height != 0 && i == v->sel);
    }
    if (m->nshown == 0) {
        emit_text(f, TOP_L_TEXT, m->nrows == 0 ? "(no virtual host in the running "
                                                 "configuration)"
                                               : "(no virtual host matches the filter)");
    }
    if (pane > 0) {
        if (v->height != 0) {
            f->y = v->height - pane - 2;
        }
        line_t l;
        line_init(&l, v->width);
        line_addf(&l, "%-8s %-*s %-*s %s", "UTC", f->nw, "VHOST (newest 417s)",
                  family_width(v, f->nw), "CLIENT", "OUTCOME");
        emit(f, TOP_L_PANE, &l);
        for (k = 0; k < pane && (size_t)k < v->nevents; k++) {
            pane_event_line(f, &v->events[k], 1);
        }
        if (v->nevents == 0) {
            emit_text(f, TOP_L_TEXT, v->stale ? "(not live)" : "(none in the event ring)");
        }
    }
    if (v->height != 0) {
        f->y = v->height - 1;
        emit_text(f, TOP_L_STATUS, v->message ? v->message : list_keys);
    }
    return (size_t)rows;
}

/* ---- one vhost ---- */

static void rates_text(char *buf, size_t len, const double *rate, int live)
{
    char r[TOP_RATES][16];
    int k;

    for (k = 0; k < TOP_RATES; k++) {
        if (live) {
            top_rate_text(r[k], sizeof(r[k]), rate[k]);
        }
        else {
            snprintf(r[k], sizeof(r[k]), "-");
        }
    }
    snprintf(buf, len, "per second: Expect %s, continued %s, ignored %s, rejected %s; 417 by "
             "mod_expect %s, core %s, handler or backend %s; retried %s, abandoned %s",
             r[TOP_R_EXPECT], r[TOP_R_CONTINUED], r[TOP_R_IGNORED], r[TOP_R_REJECTED],
             r[TOP_R_MOD], r[TOP_R_CORE], r[TOP_R_OTHER], r[TOP_R_RETRIED],
             r[TOP_R_ABANDONED]);
}

static const top_row_t *row_of(const top_model_t *m, const expect_shm_vhost_snap_t *v)
{
    size_t i;

    for (i = 0; i < m->nrows; i++) {
        if (m->rows[i].v.slot == v->slot) {
            return &m->rows[i];
        }
    }
    return NULL;
}

static void detail_body(frame_t *f, const top_model_t *m)
{
    const top_view_t *v = f->view;
    const top_row_t *r = row_of(m, v->detail);
    const expect_shm_vhost_snap_t *s = r ? &r->v : v->detail;
    const uint64_t *c = s->ctr;
    char name[4 * EXPECT_SHM_NAME_LEN + 1], buf[LINE_BYTES], last[16];
    size_t i, j;
    line_t l;

    expect_escape_text(name, sizeof(name), s->name);
    body_printf(f, 2, "vhost %s", name);
    if (s->override != EXPECT_OVERRIDE_NONE) {
        body_printf(f, 2, "policy: %s, a runtime override (configured: %s; strict %s); "
                    "expectctl set %s default restores the configuration",
                    policy_long(s->override), policy_long(s->configured_policy),
                    s->strict ? "on" : "off", name);
    }
    else {
        body_printf(f, 2, "policy: %s, as configured (strict %s)",
                    policy_long(s->configured_policy), s->strict ? "on" : "off");
    }
    rates_text(buf, sizeof(buf), r ? r->rate : NULL, r && r->has_rate && v->stale == NULL);
    body_text(f, buf, 2);
    body_printf(f, 2, "%s: Expect %" PRIu64 ", continued %" PRIu64 ", ignored %" PRIu64
                ", rejected %" PRIu64 ", bodyless %" PRIu64 ", HTTP/1.0 %" PRIu64
                ", expectations dropped %" PRIu64, v->stale ? "last written" : "since start",
                c[EXPECT_CTR_EXPECT], c[EXPECT_CTR_CONTINUED], c[EXPECT_CTR_IGNORED],
                c[EXPECT_CTR_REJECTED], c[EXPECT_CTR_BODYLESS], c[EXPECT_CTR_HTTP10],
                c[EXPECT_CTR_UNKNOWN_DROPPED]);
    clock_text(last, sizeof(last), s->last_417_usec);
    body_printf(f, 2, "417s: %" PRIu64 " (mod_expect %" PRIu64 ", core %" PRIu64 ", handler %"
                PRIu64 ", backend %" PRIu64 "), last at %s; retried %" PRIu64 ", abandoned %"
                PRIu64 ", pending %" PRIu64, c[EXPECT_CTR_417_TOTAL], c[EXPECT_CTR_417_EXPECT],
                c[EXPECT_CTR_417_CORE], c[EXPECT_CTR_417_HANDLER], c[EXPECT_CTR_417_BACKEND],
                last, c[EXPECT_CTR_RETRIED], c[EXPECT_CTR_ABANDONED], s->pending);
    if (r != NULL && f->body >= f->skip && f->body - f->skip < f->room) {
        line_init(&l, v->width);
        line_add(&l, "417s in the last minute: ");
        spark_text(&l, r->spark, v->utf8, v->stale != NULL);
        line_addf(&l, " (%" PRIu64 ")", r->minute);
        emit(f, TOP_L_TEXT, &l);
    }
    f->body += r != NULL;
    body_text(f, "", 0);
    body_text(f, "what to do, per client (of its newest 417s):", 2);
    for (i = 0; i < v->nevents; i++) {
        for (j = 0; j < i && strcmp(v->events[j].family, v->events[i].family) != 0; j++) {
        }
        if (j == i) {   /* the first of its family: newest */
            body_printf(f, 4, "  %s: %s", v->events[i].family, v->events[i].fix);
        }
    }
    if (v->nevents == 0) {
        body_text(f, "  (no 417 of it in the event ring)", 2);
    }
    body_text(f, "", 0);
    body_printf(f, 2, "its newest 417s (UTC):");
    for (i = 0; i < v->nevents; i++) {
        if (f->body >= f->skip && f->body - f->skip < f->room) {
            pane_event_line(f, &v->events[i], 0);
        }
        f->body++;
    }
}

static void sink_nothing(void *ctx, int y, top_line_t kind, const char *text)
{
    (void)ctx;
    (void)y;
    (void)kind;
    (void)text;
}

static void help_body(frame_t *f);

size_t top_body_lines(const top_model_t *m, const top_view_t *view)
{
    top_view_t v = *view;
    frame_t f;

    /* Laid out whole, into nothing: height 0 bounds no line. */
    v.height = 0;
    memset(&f, 0, sizeof(f));
    f.view = &v;
    f.sink = sink_nothing;
    f.room = (size_t)-1;
    f.nw = name_width(m, &v);
    if (v.screen == TOP_SCREEN_HELP) {
        help_body(&f);
    }
    else if (v.screen == TOP_SCREEN_DETAIL && v.detail != NULL) {
        detail_body(&f, m);
    }
    return f.body;
}

/* The first body line shown: scrolled no further than the last page (End
 * must not leave a blank one). */
static size_t bounded_skip(const frame_t *f, const top_model_t *m)
{
    size_t lines = top_body_lines(m, f->view);

    if (lines <= f->room) {
        return 0;
    }
    return f->view->scroll < lines - f->room ? f->view->scroll : lines - f->room;
}

static size_t detail_screen(frame_t *f, const top_model_t *m)
{
    const top_view_t *v = f->view;

    header_title(f);
    f->room = v->height == 0 ? (size_t)-1 : (size_t)(v->height > f->y + 1 ? v->height - f->y - 1 : 0);
    f->skip = v->height == 0 ? 0 : bounded_skip(f, m);
    detail_body(f, m);
    if (v->height != 0) {
        f->y = v->height - 1;
        emit_text(f, TOP_L_STATUS, v->message ? v->message
                  : "Esc or q back  arrows PgUp PgDn scroll  c policy  p pause  ? help");
    }
    return f->room;
}

/* ---- help ---- */

static const char *const help_text[] = {
    "expectctl top: Expect: 100-continue traffic, live, per virtual host.",
    "",
    "keys:",
    "  q          quit (on a vhost's page or the help: back)",
    "  arrows     move the selection; PgUp PgDn a page; Home End",
    "  s          sort by the next column: EXP CON IGN REJ 417 RTR ABN PND, "
    "417s in the last minute, name",
    "  /          show only vhosts whose name contains a text (empty: all)",
    "  Enter      open the selected vhost: its counters, its newest 417s, and what to "
    "do for each of its clients",
    "  c          change the selected vhost's policy (as root, after a y/n question; "
    "the same as expectctl set)",
    "  p          pause: the numbers stay as they are until p again",
    "  ?          this help; Esc or q leaves it",
    "",
    "columns (per second over the last interval; k thousands, M millions):",
    "  POL        the policy in force: con(tinue), rej(ect), ign(ore); * an override",
    "  EXP        requests with an Expect header",
    "  CON IGN REJ  of those: continued, ignored, rejected",
    "  MOD COR OTH  417s sent by mod_expect, by httpd core (an unknown expectation), "
    "by a handler or a backend",
    "  RTR ABN    417'd clients that came back without Expect / did not, within "
    "ExpectRetryWindow",
    "  PND        417s whose client may still come back (now)",
    "  417s 1min  the 417s of the last minute, in cells of 6 seconds",
    "",
    "A STALE banner means no running httpd serves the segment: the numbers are as "
    "last written, not live; top follows a rebuilt segment by itself.",
};

static void help_body(frame_t *f)
{
    size_t i;

    for (i = 0; i < sizeof(help_text) / sizeof(help_text[0]); i++) {
        body_text(f, help_text[i], 13);
    }
}

static size_t help_screen(frame_t *f, const top_model_t *m)
{
    const top_view_t *v = f->view;

    emit_text(f, TOP_L_TITLE, "expectctl top: help");
    f->room = (size_t)(v->height > f->y + 1 ? v->height - f->y - 1 : 0);
    f->skip = bounded_skip(f, m);
    help_body(f);
    f->y = v->height - 1;
    emit_text(f, TOP_L_STATUS, "Esc or q back  arrows scroll");
    return f->room;
}

size_t top_frame(const top_model_t *m, const top_view_t *view, top_sink_fn sink, void *ctx)
{
    frame_t f;

    memset(&f, 0, sizeof(f));
    f.view = view;
    f.sink = sink;
    f.ctx = ctx;
    f.room = (size_t)-1;
    f.nw = name_width(m, view);
    if (view->screen == TOP_SCREEN_HELP && view->height > 0) {
        return help_screen(&f, m);
    }
    if (view->screen == TOP_SCREEN_DETAIL && view->detail != NULL) {
        return detail_screen(&f, m);
    }
    return list_screen(&f, m);
}
