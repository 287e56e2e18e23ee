/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_top_model.c - the numbers of a `top` frame from successive
 * snapshots: per-second rates over the last interval, the sparkline of
 * 417s over the last minute, totals, and the order rows are shown in.
 * Pure: no I/O, no clock (the caller passes the time), so the unit tests
 * drive it with made-up snapshots.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl_top.h"

/* What identifies a slot's vhost between snapshots: slots never move
 * within a segment, but a rebuilt one may hold other names at them. */
static uint64_t name_id(const char *name)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */

    for (; *name != '\0'; name++) {
        h = (h ^ (unsigned char)*name) * 1099511628211ull;
    }
    return h ? h : 1;
}

void top_model_init(top_model_t *m)
{
    memset(m, 0, sizeof(*m));
}

void top_model_free(top_model_t *m)
{
    free(m->prev);
    free(m->prev_id);
    free(m->cells);
    free(m->rows);
    free(m->order);
    top_model_init(m);
}

void top_model_forget(top_model_t *m)
{
    if (m->cap > 0) {
        memset(m->prev_id, 0, m->cap * sizeof(*m->prev_id));
        memset(m->cells, 0, m->cap * sizeof(*m->cells));
    }
    m->have_prev = 0;
    m->elapsed = 0;
}

/* Room for slots [0, want): the per-slot memory grows, zeroed. */
static int grow_slots(top_model_t *m, uint32_t want)
{
    uint32_t cap = m->cap ? m->cap : 64;
    void *p;

    if (want <= m->cap) {
        return 0;
    }
    while (cap < want) {
        cap *= 2;
    }
    if ((p = realloc(m->prev, cap * sizeof(*m->prev))) == NULL) {
        return -1;
    }
    m->prev = p;
    if ((p = realloc(m->prev_id, cap * sizeof(*m->prev_id))) == NULL) {
        return -1;
    }
    m->prev_id = p;
    if ((p = realloc(m->cells, cap * sizeof(*m->cells))) == NULL) {
        return -1;
    }
    m->cells = p;
    memset(m->prev + m->cap, 0, (cap - m->cap) * sizeof(*m->prev));
    memset(m->prev_id + m->cap, 0, (cap - m->cap) * sizeof(*m->prev_id));
    memset(m->cells + m->cap, 0, (cap - m->cap) * sizeof(*m->cells));
    m->cap = cap;
    return 0;
}

static int grow_rows(top_model_t *m, size_t n)
{
    void *p;

    if (n <= m->rows_cap) {
        return 0;
    }
    if ((p = realloc(m->rows, n * sizeof(*m->rows))) == NULL) {
        return -1;
    }
    m->rows = p;
    if ((p = realloc(m->order, n * sizeof(*m->order))) == NULL) {
        return -1;
    }
    m->order = p;
    m->rows_cap = n;
    return 0;
}

/* A counter that went down was reset (expectctl reset): what it counted
 * since is unknown (the reset may have come at any time in the interval),
 * so the row has no rate on that frame rather than a made-up one. */
static int went_down(const uint64_t *now, const uint64_t *before)
{
    size_t k;

    for (k = 0; k < EXPECT_CTR_COUNT; k++) {
        if (now[k] < before[k]) {
            return 1;
        }
    }
    return 0;
}

static uint64_t delta(uint64_t now, uint64_t before)
{
    return now - before;   /* went_down() was checked first */
}

/* Move the sparkline's current cell to t's, emptying the cells passed. */
static void advance_epoch(top_model_t *m, double t)
{
    /* t is a monotonic clock's, never negative: truncation is floor. */
    int64_t epoch = (int64_t)(t / TOP_SPARK_SECS), e;
    uint32_t s;

    if (!m->have_prev || epoch <= m->epoch) {
        if (!m->have_prev) {
            m->epoch = epoch;
        }
        return;
    }
    for (e = m->epoch + 1; e <= epoch && e <= m->epoch + TOP_SPARK_CELLS; e++) {
        for (s = 0; s < m->cap; s++) {
            m->cells[s][e % TOP_SPARK_CELLS] = 0;
        }
    }
    m->epoch = epoch;
}

static void fill_rates(top_row_t *r, const uint64_t *before, double secs)
{
    const uint64_t *c = r->v.ctr;
    static const int plain[][2] = {
        {TOP_R_EXPECT, EXPECT_CTR_EXPECT}, {TOP_R_CONTINUED, EXPECT_CTR_CONTINUED},
        {TOP_R_IGNORED, EXPECT_CTR_IGNORED}, {TOP_R_REJECTED, EXPECT_CTR_REJECTED},
        {TOP_R_MOD, EXPECT_CTR_417_EXPECT}, {TOP_R_CORE, EXPECT_CTR_417_CORE},
        {TOP_R_RETRIED, EXPECT_CTR_RETRIED}, {TOP_R_ABANDONED, EXPECT_CTR_ABANDONED}
    };
    size_t i;

    for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        r->rate[plain[i][0]] = (double)delta(c[plain[i][1]], before[plain[i][1]]) / secs;
    }
    r->rate[TOP_R_OTHER] = (double)(delta(c[EXPECT_CTR_417_HANDLER],
                                          before[EXPECT_CTR_417_HANDLER])
                                    + delta(c[EXPECT_CTR_417_BACKEND],
                                            before[EXPECT_CTR_417_BACKEND])) / secs;
}

int top_model_update(top_model_t *m, const expect_shm_vhost_snap_t *v, size_t n, double t)
{
    uint32_t maxslot = 0;
    size_t i, k;
    double secs = m->have_prev ? t - m->prev_t : 0;
    int rated = m->have_prev && secs > 0;

    for (i = 0; i < n; i++) {
        if (v[i].slot + 1 > maxslot) {
            maxslot = v[i].slot + 1;
        }
    }
    if (grow_slots(m, maxslot) != 0 || grow_rows(m, n ? n : 1) != 0) {
        return -1;
    }
    advance_epoch(m, t);
    memset(m->total_rate, 0, sizeof(m->total_rate));
    memset(m->total_ctr, 0, sizeof(m->total_ctr));
    memset(m->policies, 0, sizeof(m->policies));
    m->total_pending = m->total_minute = 0;
    m->overrides = 0;
    for (i = 0; i < n; i++) {
        top_row_t *r = &m->rows[i];
        uint32_t s = v[i].slot, *cells = m->cells[s], eff;
        uint64_t id = name_id(v[i].name);
        /* Only a slot seen with this name at the last snapshot has a rate.
         * One first seen later may be new, but may as well be a vhost a
         * graceful restart removed and another brought back: its slot kept
         * its counters, so a delta from zero would be all it ever counted.
         * Like every vhost at start-up, it gets a rate one interval later. */
        int known = m->prev_id[s] == id && !went_down(v[i].ctr, m->prev[s]);

        memset(r, 0, sizeof(*r));
        r->v = v[i];
        if (m->prev_id[s] != id) {
            memset(m->prev[s], 0, sizeof(m->prev[s]));
            memset(cells, 0, sizeof(m->cells[s]));
        }
        if (rated && known) {
            r->has_rate = 1;
            fill_rates(r, m->prev[s], secs);
            cells[m->epoch % TOP_SPARK_CELLS] += (uint32_t)delta(
                v[i].ctr[EXPECT_CTR_417_TOTAL], m->prev[s][EXPECT_CTR_417_TOTAL]);
        }
        for (k = 0; k < TOP_SPARK_CELLS; k++) {
            r->spark[k] = cells[(m->epoch + 1 + (int64_t)k) % TOP_SPARK_CELLS];
            r->minute += r->spark[k];
        }
        memcpy(m->prev[s], v[i].ctr, sizeof(m->prev[s]));
        m->prev_id[s] = id;
        for (k = 0; k < TOP_RATES; k++) {
            m->total_rate[k] += r->rate[k];
        }
        for (k = 0; k < EXPECT_CTR_COUNT; k++) {
            m->total_ctr[k] += v[i].ctr[k];
        }
        m->total_pending += v[i].pending;
        m->total_minute += r->minute;
        eff = v[i].override != EXPECT_OVERRIDE_NONE ? v[i].override : v[i].configured_policy;
        if (eff < 3) {
            m->policies[eff]++;
        }
        m->overrides += v[i].override != EXPECT_OVERRIDE_NONE;
    }
    m->nrows = n;
    m->elapsed = rated ? secs : 0;
    m->prev_t = t;
    m->have_prev = 1;
    return 0;
}

static double sort_value(const top_row_t *r, top_sort_t key)
{
    switch (key) {
    case TOP_SORT_EXPECT:    return r->rate[TOP_R_EXPECT];
    case TOP_SORT_CONTINUED: return r->rate[TOP_R_CONTINUED];
    case TOP_SORT_IGNORED:   return r->rate[TOP_R_IGNORED];
    case TOP_SORT_REJECTED:  return r->rate[TOP_R_REJECTED];
    case TOP_SORT_417:
        return r->rate[TOP_R_MOD] + r->rate[TOP_R_CORE] + r->rate[TOP_R_OTHER];
    case TOP_SORT_RETRIED:   return r->rate[TOP_R_RETRIED];
    case TOP_SORT_ABANDONED: return r->rate[TOP_R_ABANDONED];
    case TOP_SORT_PENDING:   return (double)r->v.pending;
    case TOP_SORT_MINUTE:    return (double)r->minute;
    default:                 return 0;
    }
}

/* qsort has no context argument: the rows and key being sorted. */
static const top_row_t *sort_rows;
static top_sort_t sort_key;

static int by_key(const void *a, const void *b)
{
    const top_row_t *x = &sort_rows[*(const size_t *)a], *y = &sort_rows[*(const size_t *)b];
    double vx = sort_value(x, sort_key), vy = sort_value(y, sort_key);

    if (vx != vy) {
        return vx > vy ? -1 : 1;   /* the busiest first */
    }
    return strcmp(x->v.name, y->v.name);
}

void top_model_view(top_model_t *m, top_sort_t key, const char *filter)
{
    size_t i;

    m->nshown = 0;
    for (i = 0; i < m->nrows; i++) {
        if (filter == NULL || *filter == '\0' || strstr(m->rows[i].v.name, filter) != NULL) {
            m->order[m->nshown++] = i;
        }
    }
    sort_rows = m->rows;
    sort_key = key;
    qsort(m->order, m->nshown, sizeof(*m->order), by_key);
}

int top_spark_level(uint32_t v, uint32_t max)
{
    if (v == 0 || max == 0) {
        return 0;
    }
    if (v >= max) {
        return TOP_SPARK_LEVELS;
    }
    /* The smallest nonzero count still shows: level 1 at least. */
    return 1 + (int)((uint64_t)(v - 1) * (TOP_SPARK_LEVELS - 1) / max);
}

const char *top_sort_name(top_sort_t key)
{
    static const char *const names[TOP_SORTS] = {
        "EXP/s", "CON/s", "IGN/s", "REJ/s", "417/s", "RTR/s", "ABN/s", "PND",
        "417s in the last minute", "name"
    };
    return (unsigned)key < TOP_SORTS ? names[key] : "?";
}
