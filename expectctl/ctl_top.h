/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_top.h - what the files of `expectctl top` share:
 *
 *   ctl_top_model.c  the numbers of a frame from successive snapshots
 *                    (rates, sparklines, totals, order): pure, unit-tested
 *   ctl_top_text.c   a frame laid out as lines of text of a given width,
 *                    handed one by one to a sink (the screen or stdout)
 *   ctl_top_draw.c   ncurses: the terminal, drawing lines, reading keys
 *   ctl_top.c        the verb: attach, snapshot, follow rebuilds, keys
 *
 * No httpd headers, no curses here: the model and the layout are plain C.
 */
#ifndef EXPECTCTL_CTL_TOP_H
#define EXPECTCTL_CTL_TOP_H

#include <stddef.h>
#include <stdint.h>

#include "expect_shm.h"

/* The sparkline: 417s of the last minute in cells of TOP_SPARK_SECS. */
#define TOP_SPARK_CELLS 10
#define TOP_SPARK_SECS 6
#define TOP_SPARK_LEVELS 8

/* Per-second rates over the last interval, one per column. */
enum {
    TOP_R_EXPECT = 0, TOP_R_CONTINUED, TOP_R_IGNORED, TOP_R_REJECTED,
    TOP_R_MOD, TOP_R_CORE, TOP_R_OTHER,   /* 417s by producer; OTHER: handler + backend */
    TOP_R_RETRIED, TOP_R_ABANDONED,
    TOP_RATES
};

/* Sort keys, in the order `s` cycles through them. */
typedef enum {
    TOP_SORT_EXPECT = 0, TOP_SORT_CONTINUED, TOP_SORT_IGNORED, TOP_SORT_REJECTED,
    TOP_SORT_417, TOP_SORT_RETRIED, TOP_SORT_ABANDONED, TOP_SORT_PENDING,
    TOP_SORT_MINUTE, TOP_SORT_NAME,
    TOP_SORTS
} top_sort_t;

typedef struct {
    expect_shm_vhost_snap_t v;
    int has_rate;                      /* 0: first sight, no interval yet */
    double rate[TOP_RATES];
    uint32_t spark[TOP_SPARK_CELLS];   /* 417s per cell, oldest first */
    uint64_t minute;                   /* their sum */
} top_row_t;

typedef struct {
    /* What the model remembers per slot between snapshots. */
    uint32_t cap;
    uint64_t (*prev)[EXPECT_CTR_COUNT];
    uint64_t *prev_id;                 /* hash of the slot's name; 0: unseen */
    uint32_t (*cells)[TOP_SPARK_CELLS];/* ring, indexed by epoch % CELLS */
    int64_t epoch;                     /* the cell now being filled */
    int have_prev;
    double prev_t;
    double elapsed;                    /* seconds the rates are over; 0: none */
    /* The frame. */
    top_row_t *rows;
    size_t nrows, rows_cap;
    size_t *order;                     /* rows shown (filtered), sorted */
    size_t nshown;
    /* Over every row. */
    double total_rate[TOP_RATES];
    uint64_t total_ctr[EXPECT_CTR_COUNT];
    uint64_t total_pending, total_minute;
    unsigned policies[3], overrides;
} top_model_t;

/* ctl_top_model.c */
void top_model_init(top_model_t *m);
void top_model_free(top_model_t *m);
/* Forget every earlier snapshot (a rebuilt segment's slots are others). */
void top_model_forget(top_model_t *m);
/* Take n snapshots, taken at t seconds on a monotonic clock; -1 when out
 * of memory (the model is then as before). */
int top_model_update(top_model_t *m, const expect_shm_vhost_snap_t *v, size_t n, double t);
/* order[] := the rows whose name contains filter (NULL or "": all),
 * sorted by key, ties by name. */
void top_model_view(top_model_t *m, top_sort_t key, const char *filter);
/* 0 for v == 0, else 1..TOP_SPARK_LEVELS in proportion to max. */
int top_spark_level(uint32_t v, uint32_t max);
const char *top_sort_name(top_sort_t key);

/* One of the newest 417s, ready to show. */
typedef struct {
    uint64_t time_usec;
    char vhost[4 * EXPECT_SHM_NAME_LEN + 1];   /* escaped */
    char client[4 * 64 + 1];                   /* the address, escaped */
    char family[96];                           /* the client's family, or the User-Agent's product */
    char outcome[48];
    char fix[1024];                            /* the client's fix, or the reason's */
} top_event_t;

/* Which screen a frame shows. */
typedef enum { TOP_SCREEN_LIST = 0, TOP_SCREEN_DETAIL, TOP_SCREEN_HELP } top_screen_t;

/* Everything a frame shows besides the model. */
typedef struct {
    int width, height;          /* height 0: every row, no key line (--once) */
    int utf8;                   /* sparkline glyphs; else ASCII */
    top_screen_t screen;
    top_sort_t sort;
    const char *filter;
    size_t first, sel;          /* first row shown, selected row (in order[]) */
    size_t scroll;              /* detail and help: first body line shown */
    int paused;
    const char *stale;          /* NULL, or why the numbers are not live */
    const char *message;        /* the status line's, instead of the keys */
    double interval;            /* -d */
    uint32_t pid, generation;
    uint64_t started_usec, now_usec;
    const top_event_t *events;  /* newest first */
    size_t nevents;
    const expect_shm_vhost_snap_t *detail;   /* TOP_SCREEN_DETAIL: its vhost */
} top_view_t;

/* Line kinds, for the screen's attributes. */
typedef enum {
    TOP_L_TITLE = 0, TOP_L_INFO, TOP_L_BANNER, TOP_L_HEAD, TOP_L_ROW, TOP_L_SELECTED,
    TOP_L_PANE, TOP_L_TEXT, TOP_L_STATUS
} top_line_t;

/* Where a frame's lines go: y is the screen line, text at most width
 * columns (bytes may be more: UTF-8 sparklines). */
typedef void (*top_sink_fn)(void *ctx, int y, top_line_t kind, const char *text);

/* ctl_top_text.c: lay a frame out; returns the number of vhost rows the
 * list has room for (what PgDn moves), or the detail's body lines. */
size_t top_frame(const top_model_t *m, const top_view_t *view, top_sink_fn sink, void *ctx);
/* How many body lines the detail or help screen has at view's width (0
 * for the list): what their scroll is bounded by. */
size_t top_body_lines(const top_model_t *m, const top_view_t *view);
/* A rate in at most 3 columns: 0, .02, 0.3, 12, 123, 12k, .3M, 12M. */
void top_rate_text(char *buf, size_t len, double r);
/* The widest a line of --once is: its vhost names are never cut. */
int top_once_width(const top_model_t *m);

/* ctl_top_draw.c: the terminal. */
int top_draw_open(char *err, size_t errlen);   /* 0, or -1 with why */
void top_draw_close(void);
int top_draw_utf8(void);
void top_draw_size(int *width, int *height);
/* Draw a frame (clears, lays out, refreshes); returns top_frame's answer. */
size_t top_draw_frame(const top_model_t *m, const top_view_t *view);
/* A key within ms milliseconds (ms < 0: however long it takes), or -1;
 * TOP_KEY_* for the special ones, TOP_KEY_QUIT once a signal asked top to
 * end (top_draw_signal says which). */
int top_draw_key(long ms);
int top_draw_signal(void);
/* Read a line at the bottom after prompt (Esc: -1, buf untouched). */
int top_draw_prompt(const char *prompt, char *buf, size_t len);
enum {
    TOP_KEY_UP = 0x1000, TOP_KEY_DOWN, TOP_KEY_PGUP, TOP_KEY_PGDN, TOP_KEY_HOME,
    TOP_KEY_END, TOP_KEY_ENTER, TOP_KEY_ESC, TOP_KEY_RESIZE, TOP_KEY_BACKSPACE, TOP_KEY_QUIT
};

#endif /* EXPECTCTL_CTL_TOP_H */
