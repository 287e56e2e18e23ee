/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_vhosts.c - naming virtual hosts the way apache2 -S does ("name:port"),
 * and the small facts every verb needs about one.  Names, slots and the
 * active flag come from the control file (through expect_shm_snapshot and
 * expect_shm_vhost_count), which httpd's children cannot write: a child
 * cannot hide a vhost or steer an override to another one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "expect_event_json.h"

int ctl_vhost_visible(const expect_shm_vhost_snap_t *v)
{
    return (v->flags & EXPECT_VHOST_ACTIVE) != 0;
}

uint32_t ctl_effective_policy(const expect_shm_vhost_snap_t *v)
{
    return v->override != EXPECT_OVERRIDE_NONE ? v->override : v->configured_policy;
}

/*
 * A row's automatic name is "name:port", "name:port@address" where the
 * address tells the vhost apart, and "...~N" for the Nth of true
 * duplicates (see mod_expect.md).  What the user typed matches a row
 * exactly, or it stops where a row's name goes on with ':' (no port
 * given), '@' (no address) or '~' (no number).  One such row is taken;
 * several are ambiguous, and the error names them.
 */
static int extends(const char *name, const char *want, size_t wlen)
{
    const char *seps = strchr(want, '~') ? "" : strchr(want, '@') ? "~"
                       : strchr(want, ':') ? "@~" : ":";

    return strncmp(name, want, wlen) == 0 && name[wlen] != '\0'
           && strchr(seps, name[wlen]) != NULL;
}

int ctl_find_vhost(const expect_shm_t *h, const char *want, uint32_t *slot,
                   char *err, size_t errlen)
{
    uint32_t i, n = expect_shm_vhost_count(h), hits = 0;
    size_t wlen = strlen(want), used = 0;
    char key[EXPECT_SHM_NAME_LEN], list[512];
    expect_shm_vhost_snap_t v;
    int w;

    expect_shm_name_key(key, want);
    list[0] = '\0';
    for (i = 0; i < n; i++) {
        if (expect_shm_snapshot(h, i, &v) != 0 || !ctl_vhost_visible(&v)) {
            continue;
        }
        if (strcmp(v.name, key) == 0) {
            *slot = i;
            return 0;
        }
        if (extends(v.name, want, wlen)) {
            *slot = i;
            if (hits++ < 8 && used < sizeof(list)) {
                w = snprintf(list + used, sizeof(list) - used, "%s%s", hits > 1 ? ", " : "",
                             v.name);
                used += w > 0 ? (size_t)w : 0;
            }
        }
    }
    if (hits == 1) {
        return 0;
    }
    if (hits > 1) {
        snprintf(err, errlen, "'%s' is ambiguous: it names %u virtual hosts (%s%s); "
                 "name one of them", want, (unsigned)hits, list, hits > 8 ? ", ..." : "");
    }
    else {
        snprintf(err, errlen, "no virtual host '%s' in the running configuration "
                 "(expectctl policy lists them)", want);
    }
    return -1;
}

uint64_t ctl_now_usec(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Calls fn for each vhost to show: all active ones, or the one asked for.
 * A 417 whose retry window is over shows as abandoned at once, though the
 * parent's sweep settles it some seconds later. */
int ctl_each_vhost(const expect_shm_t *h, const ctl_opts_t *o,
                      void (*fn)(const expect_shm_vhost_snap_t *, void *), void *arg)
{
    expect_shm_vhost_snap_t *v;
    uint32_t i, n = expect_shm_vhost_count(h), slot = 0, *overdue, shown = 0;
    char err[1024];

    if (o->vhost != NULL && ctl_find_vhost(h, o->vhost, &slot, err, sizeof(err)) != 0) {
        fprintf(stderr, "expectctl: %s\n", err);
        return CTL_EXIT_FAIL;
    }
    v = calloc(n ? n : 1, sizeof(*v));
    overdue = calloc(n ? n : 1, sizeof(*overdue));
    if (v == NULL || overdue == NULL) {
        free(v);
        free(overdue);
        fprintf(stderr, "expectctl: out of memory\n");
        return CTL_EXIT_FAIL;
    }
    /* Every snapshot first, then the table: see expect_retry_overdue. */
    for (i = 0; i < n; i++) {
        if ((o->vhost == NULL || i == slot) && expect_shm_snapshot(h, i, &v[shown]) == 0
            && (o->vhost != NULL || ctl_vhost_visible(&v[shown]))) {
            shown++;
        }
    }
    expect_retry_overdue(h, ctl_now_usec(), overdue, n);
    for (i = 0; i < shown; i++) {
        expect_retry_settle_view(&v[i], v[i].slot < n ? overdue[v[i].slot] : 0);
        fn(&v[i], arg);
    }
    free(v);
    free(overdue);
    return CTL_EXIT_OK;
}

void ctl_format_time(char *buf, size_t len, uint64_t usec)
{
    expect_format_time(buf, len, usec);
}
