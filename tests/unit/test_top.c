/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expectctl top's model and layout (ctl_top_model.c, ctl_top_text.c),
 * without a segment or a terminal: made-up snapshots at made-up times.
 * Rates are deltas over the elapsed time; a reset counter, a vhost added
 * by a graceful restart and a rebuilt segment's other names at the same
 * slots are handled; the sparkline's cells age out; sorting and the filter;
 * and no laid-out line is ever wider than the width it was laid out for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ctl_top.h"

static expect_shm_vhost_snap_t snap(uint32_t slot, const char *name, uint64_t expect,
                                    uint64_t rejected, uint64_t r417)
{
    expect_shm_vhost_snap_t v;

    memset(&v, 0, sizeof(v));
    v.slot = slot;
    v.flags = EXPECT_VHOST_ACTIVE;
    v.override = EXPECT_OVERRIDE_NONE;
    v.configured_policy = EXPECT_POLICY_REJECT;
    snprintf(v.name, sizeof(v.name), "%s", name);
    v.ctr[EXPECT_CTR_EXPECT] = expect;
    v.ctr[EXPECT_CTR_REJECTED] = rejected;
    v.ctr[EXPECT_CTR_417_EXPECT] = r417;
    v.ctr[EXPECT_CTR_417_TOTAL] = r417;
    return v;
}

static const top_row_t *row(const top_model_t *m, const char *name)
{
    static const top_row_t none;
    size_t i;

    for (i = 0; i < m->nrows; i++) {
        if (strcmp(m->rows[i].v.name, name) == 0) {
            return &m->rows[i];
        }
    }
    fail_msg("no row %s", name);
    return &none;   /* not reached: fail_msg does not return */
}

static void rates_are_deltas_over_elapsed(void **state)
{
    top_model_t m;
    expect_shm_vhost_snap_t v[2] = {snap(0, "a:80", 100, 10, 10), snap(1, "b:80", 5, 0, 0)};

    (void)state;
    top_model_init(&m);
    assert_int_equal(top_model_update(&m, v, 2, 1000.0), 0);
    assert_false(row(&m, "a:80")->has_rate);   /* one snapshot: no interval */
    assert_true(m.elapsed == 0);
    v[0] = snap(0, "a:80", 140, 30, 30);
    v[1] = snap(1, "b:80", 5, 0, 0);
    assert_int_equal(top_model_update(&m, v, 2, 1002.0), 0);
    assert_true(row(&m, "a:80")->has_rate);
    assert_true(row(&m, "a:80")->rate[TOP_R_EXPECT] == 20.0);
    assert_true(row(&m, "a:80")->rate[TOP_R_REJECTED] == 10.0);
    assert_true(row(&m, "a:80")->rate[TOP_R_MOD] == 10.0);
    assert_true(row(&m, "b:80")->rate[TOP_R_EXPECT] == 0.0);
    assert_true(m.total_rate[TOP_R_EXPECT] == 20.0);
    assert_true(m.total_ctr[EXPECT_CTR_EXPECT] == 145);
    assert_int_equal(m.policies[EXPECT_POLICY_REJECT], 2);
    /* expectctl reset: the counters went down; when is unknown, so no
     * rate on that frame (never a huge unsigned difference)... */
    v[0] = snap(0, "a:80", 4, 0, 0);
    assert_int_equal(top_model_update(&m, v, 2, 1004.0), 0);
    assert_false(row(&m, "a:80")->has_rate);
    assert_true(row(&m, "a:80")->rate[TOP_R_EXPECT] == 0.0);
    assert_true(m.total_rate[TOP_R_EXPECT] == 0.0);
    /* ...and a rate again over the next interval, from the reset values. */
    v[0] = snap(0, "a:80", 10, 0, 0);
    assert_int_equal(top_model_update(&m, v, 2, 1006.0), 0);
    assert_true(row(&m, "a:80")->has_rate);
    assert_true(row(&m, "a:80")->rate[TOP_R_EXPECT] == 3.0);
    /* One counter down among others up is a reset too. */
    v[0] = snap(0, "a:80", 12, 0, 0);
    v[0].ctr[EXPECT_CTR_RETRIED] = 5;
    assert_int_equal(top_model_update(&m, v, 2, 1008.0), 0);
    assert_true(row(&m, "a:80")->has_rate);
    v[0] = snap(0, "a:80", 14, 0, 0);
    assert_int_equal(top_model_update(&m, v, 2, 1010.0), 0);
    assert_false(row(&m, "a:80")->has_rate);
    assert_true(row(&m, "a:80")->rate[TOP_R_RETRIED] == 0.0);
    top_model_free(&m);
}

static void new_slots_and_rebuilt_segments(void **state)
{
    top_model_t m;
    expect_shm_vhost_snap_t v[2] = {snap(0, "a:80", 100, 0, 0), snap(1, "new:80", 6, 0, 0)};

    (void)state;
    top_model_init(&m);
    assert_int_equal(top_model_update(&m, v, 1, 10.0), 0);
    /* A graceful restart added slot 1 -- or re-added a vhost an earlier
     * one removed, whose slot kept its counters (500,000 here): no rate on
     * the frame it first shows in, as at start-up... */
    v[1] = snap(1, "new:80", 1000000, 0, 0);
    assert_int_equal(top_model_update(&m, v, 2, 12.0), 0);
    assert_false(row(&m, "new:80")->has_rate);
    assert_true(row(&m, "new:80")->rate[TOP_R_EXPECT] == 0.0);
    assert_true(m.total_rate[TOP_R_EXPECT] == 0.0);
    /* ...and its true rate one interval later. */
    v[1] = snap(1, "new:80", 1000006, 0, 0);
    assert_int_equal(top_model_update(&m, v, 2, 14.0), 0);
    assert_true(row(&m, "new:80")->has_rate);
    assert_true(row(&m, "new:80")->rate[TOP_R_EXPECT] == 3.0);
    v[1] = snap(1, "new:80", 6, 0, 0);
    /* Another name at slot 0 (a rebuilt segment seen without forget):
     * its counters are not this vhost's history. */
    v[0] = snap(0, "other:80", 500, 0, 0);
    assert_int_equal(top_model_update(&m, v, 2, 16.0), 0);
    assert_false(row(&m, "other:80")->has_rate);
    /* After forget, nothing has a rate until the next interval. */
    top_model_forget(&m);
    assert_int_equal(top_model_update(&m, v, 2, 18.0), 0);
    assert_false(row(&m, "new:80")->has_rate);
    assert_int_equal(top_model_update(&m, v, 2, 20.0), 0);
    assert_true(row(&m, "new:80")->has_rate);
    top_model_free(&m);
}

static void sparkline_cells_age_out(void **state)
{
    top_model_t m;
    expect_shm_vhost_snap_t v = snap(0, "a:80", 0, 0, 0);
    double t = 600.0;   /* a cell boundary */
    uint64_t n417 = 0;
    int k;

    (void)state;
    top_model_init(&m);
    assert_int_equal(top_model_update(&m, &v, 1, t), 0);
    n417 = 7;
    v = snap(0, "a:80", 7, 7, n417);
    assert_int_equal(top_model_update(&m, &v, 1, t + 1), 0);
    assert_int_equal(row(&m, "a:80")->spark[TOP_SPARK_CELLS - 1], 7);
    assert_int_equal(row(&m, "a:80")->minute, 7);
    /* One cell later the 7 has moved left by one. */
    n417 += 2;
    v = snap(0, "a:80", 9, 9, n417);
    assert_int_equal(top_model_update(&m, &v, 1, t + 1 + TOP_SPARK_SECS), 0);
    assert_int_equal(row(&m, "a:80")->spark[TOP_SPARK_CELLS - 2], 7);
    assert_int_equal(row(&m, "a:80")->spark[TOP_SPARK_CELLS - 1], 2);
    assert_int_equal(m.total_minute, 9);
    /* A minute of nothing empties it. */
    assert_int_equal(top_model_update(&m, &v, 1, t + 70), 0);
    for (k = 0; k < TOP_SPARK_CELLS; k++) {
        assert_int_equal(row(&m, "a:80")->spark[k], 0);
    }
    assert_int_equal(row(&m, "a:80")->minute, 0);
    top_model_free(&m);
}

static void sort_and_filter(void **state)
{
    top_model_t m;
    expect_shm_vhost_snap_t v[3] = {snap(0, "b:80", 0, 0, 0), snap(1, "a:80", 0, 0, 0),
                                    snap(2, "c:81", 0, 0, 0)};

    (void)state;
    top_model_init(&m);
    assert_int_equal(top_model_update(&m, v, 3, 1.0), 0);
    v[0].ctr[EXPECT_CTR_EXPECT] = 10;
    v[2].ctr[EXPECT_CTR_EXPECT] = 20;
    v[0].pending = 1;
    assert_int_equal(top_model_update(&m, v, 3, 2.0), 0);
    top_model_view(&m, TOP_SORT_EXPECT, NULL);
    assert_int_equal(m.nshown, 3);
    assert_string_equal(m.rows[m.order[0]].v.name, "c:81");
    assert_string_equal(m.rows[m.order[1]].v.name, "b:80");
    assert_string_equal(m.rows[m.order[2]].v.name, "a:80");
    top_model_view(&m, TOP_SORT_NAME, NULL);
    assert_string_equal(m.rows[m.order[0]].v.name, "a:80");
    top_model_view(&m, TOP_SORT_PENDING, NULL);
    assert_string_equal(m.rows[m.order[0]].v.name, "b:80");
    top_model_view(&m, TOP_SORT_EXPECT, ":80");
    assert_int_equal(m.nshown, 2);
    assert_string_equal(m.rows[m.order[0]].v.name, "b:80");
    top_model_view(&m, TOP_SORT_EXPECT, "nothing");
    assert_int_equal(m.nshown, 0);
    assert_string_equal(top_sort_name(TOP_SORT_EXPECT), "EXP/s");
    top_model_free(&m);
}

static void spark_levels(void **state)
{
    (void)state;
    assert_int_equal(top_spark_level(0, 10), 0);
    assert_int_equal(top_spark_level(1, 1000), 1);     /* one 417 still shows */
    assert_int_equal(top_spark_level(10, 10), TOP_SPARK_LEVELS);
    assert_int_equal(top_spark_level(5, 0), 0);
    assert_true(top_spark_level(5, 10) > 1 && top_spark_level(5, 10) < TOP_SPARK_LEVELS);
}

static void rates_fit_three_columns(void **state)
{
    static const double r[] = {0, 0.001, 0.02, 0.094, 0.3, 9.94, 9.96, 12.4, 999.4, 999.6,
                               12345, 99499, 99501, 500000, 949999, 950001, 12e6, 5e9};
    static const char *const want[] = {"0", ".01", ".02", ".09", "0.3", "9.9", "10", "12",
                                       "999", "1k", "12k", "99k", ".1M", ".5M", ".9M", "1M",
                                       "12M", "99M"};
    char buf[16];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        top_rate_text(buf, sizeof(buf), r[i]);
        assert_string_equal(buf, want[i]);
        assert_true(strlen(buf) <= 3);
    }
}

/* ---- the layout ---- */

typedef struct {
    int width, lines, widest, maxy;
    int twice;                  /* a screen line drawn over */
    unsigned char at[64];       /* lines drawn at each y */
    top_line_t kind_at[64];
    char all[16384];
} sink_t;

/* Columns of a UTF-8 line: every byte but continuation bytes. */
static int columns(const char *s)
{
    int n = 0;

    for (; *s != '\0'; s++) {
        n += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return n;
}

static void sink(void *ctx, int y, top_line_t kind, const char *text)
{
    sink_t *k = ctx;
    size_t used = strlen(k->all);

    k->lines++;
    k->widest = columns(text) > k->widest ? columns(text) : k->widest;
    /* -1 stays below any height: a line at y < 0 fails the bounds check. */
    k->maxy = y > k->maxy ? y : k->maxy;
    if (y < 0 || y >= 64) {
        k->maxy = 1 << 20;
    }
    else {
        k->twice |= k->at[y]++ > 0;
        k->kind_at[y] = kind;
    }
    snprintf(k->all + used, sizeof(k->all) - used, "%s\n", text);
}

static void fill_model(top_model_t *m, top_event_t *ev)
{
    expect_shm_vhost_snap_t v[3] = {
        snap(0, "a-very-long-virtual-host-name-that-goes-on-and-on.example.com:8443", 0, 0, 0),
        snap(1, "b:80", 0, 0, 0), snap(2, "main", 0, 0, 0)};

    top_model_init(m);
    assert_int_equal(top_model_update(m, v, 3, 6.0), 0);
    v[0] = snap(0, v[0].name, 4000, 4000, 4000);
    v[0].override = EXPECT_POLICY_CONTINUE;
    assert_int_equal(top_model_update(m, v, 3, 8.0), 0);
    top_model_view(m, TOP_SORT_EXPECT, NULL);
    memset(ev, 0, sizeof(*ev));
    ev->time_usec = 1700000000000000ull;
    snprintf(ev->vhost, sizeof(ev->vhost), "%s", v[0].name);
    snprintf(ev->client, sizeof(ev->client), "192.0.2.1");
    snprintf(ev->family, sizeof(ev->family), "Java HttpClient (java.net.http)");
    snprintf(ev->outcome, sizeof(ev->outcome), "retried after 12 ms");
    memset(ev->fix, 'x', 600);
    ev->fix[300] = ' ';
}

static void no_line_wider_than_the_screen(void **state)
{
    static const int sizes[][2] = {{80, 24}, {132, 40}, {40, 10}, {20, 5}, {80, 3}, {1, 1}};
    top_screen_t screens[] = {TOP_SCREEN_LIST, TOP_SCREEN_DETAIL, TOP_SCREEN_HELP};
    top_model_t m;
    top_event_t ev;
    top_view_t v;
    sink_t k;
    size_t i, s, u, st;

    (void)state;
    fill_model(&m, &ev);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (s = 0; s < 3; s++) {
            for (u = 0; u < 2; u++) {
                memset(&v, 0, sizeof(v));
                memset(&k, 0, sizeof(k));
                v.width = sizes[i][0];
                v.height = sizes[i][1];
                v.utf8 = (int)u;
                v.screen = screens[s];
                v.detail = &m.rows[0].v;
                v.events = &ev;
                v.nevents = 1;
                v.interval = 2;
                for (st = 0; st < 2; st++) {
                    memset(&k, 0, sizeof(k));
                    k.maxy = -1;
                    /* A stale banner takes two lines more above the rows. */
                    v.stale = st ? "stale segment: httpd pid 1, which served it, is no "
                                   "longer running (state changed long ago)" : NULL;
                    top_frame(&m, &v, sink, &k);
                    assert_true(k.widest <= sizes[i][0]);
                    /* Every line on the screen, none drawn over another... */
                    assert_true(k.maxy < sizes[i][1]);
                    assert_true(k.lines > 0 && k.maxy >= 0);
                    if (k.twice) {
                        fail_msg("drawn over: %dx%d screen %d utf8 %d stale %d:\n%s", sizes[i][0], sizes[i][1], (int)s, (int)u, (int)st, k.all);
                    }
                    /* ...and the keys on the bottom line, where there is room. */
                    if (sizes[i][1] >= 5) {
                        assert_int_equal(k.at[sizes[i][1] - 1], 1);
                        assert_int_equal(k.kind_at[sizes[i][1] - 1], TOP_L_STATUS);
                    }
                }
            }
        }
    }
    top_model_free(&m);
}

/* The list of fill_model's rows laid out at width x height into k;
 * returns the rows that fit. */
static size_t list_frame(top_model_t *m, top_event_t *ev, int width, int height,
                         const char *stale, sink_t *k)
{
    top_view_t v;

    fill_model(m, ev);
    memset(&v, 0, sizeof(v));
    memset(k, 0, sizeof(*k));
    v.width = width;
    v.height = height;
    v.events = ev;
    v.nevents = 1;
    v.interval = 2;
    v.stale = stale;
    return top_frame(m, &v, sink, k);
}

static void list_at_80x24(void **state)
{
    top_model_t m;
    top_event_t ev;
    sink_t k;

    (void)state;
    assert_int_equal(list_frame(&m, &ev, 80, 24, NULL, &k), 12);   /* rows that fit */
    /* Cut in the middle, the port kept; overridden policy marked. */
    assert_non_null(strstr(k.all, "a-very-long~ple.com:8443 con*  2k   0   0  2k  2k"));
    assert_non_null(strstr(k.all, "\nq quit"));
    /* The key line whole at 80 columns: its last key is not cut. */
    assert_non_null(strstr(k.all, "? help\n"));
    assert_non_null(strstr(k.all, "per second: EXP 2k"));
    assert_null(strstr(k.all, "STALE"));
    top_model_free(&m);
}

static void stale_blanks_every_rate(void **state)
{
    top_model_t m;
    top_event_t ev;
    sink_t k;

    (void)state;
    /* Height 0, as --once: every row, no key line. */
    list_frame(&m, &ev, 80, 0, "the segment is gone", &k);
    assert_non_null(strstr(k.all, "STALE, not live"));
    assert_non_null(strstr(k.all, "per second: EXP -"));
    assert_non_null(strstr(k.all, "b:80"));
    assert_non_null(strstr(k.all, "con*   -   -   -   -   -   -   -   -   -   -"));
    assert_null(strstr(k.all, "2k"));
    assert_null(strstr(k.all, "q quit"));
    /* The longest name, whole. */
    assert_int_equal(top_once_width(&m), 56 + (int)strlen(m.rows[0].v.name));
    top_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rates_are_deltas_over_elapsed),
        cmocka_unit_test(new_slots_and_rebuilt_segments),
        cmocka_unit_test(sparkline_cells_age_out),
        cmocka_unit_test(sort_and_filter),
        cmocka_unit_test(spark_levels),
        cmocka_unit_test(rates_fit_three_columns),
        cmocka_unit_test(no_line_wider_than_the_screen),
        cmocka_unit_test(list_at_80x24),
        cmocka_unit_test(stale_blanks_every_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
