/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_policy.c - `policy`, `set` and `reset`: reading and steering the
 * per-vhost policy at runtime.  Overrides go to the control file (PATH.ctl),
 * which only root can open for writing and which httpd's children map
 * read-only; they read an override with one atomic load.  Which vhosts
 * exist, their names and slots also come from the control file only, never
 * from the statistics file the children can write.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "expect_format.h"

static const char *override_name(uint32_t v)
{
    return v == EXPECT_OVERRIDE_NONE ? "-" : expect_policy_name((expect_policy_t)v);
}

static void policy_line(const expect_shm_vhost_snap_t *v, void *arg)
{
    (void)arg;
    expect_fput_text(stdout, v->name);
    printf(" effective=%s configured=%s override=%s strict=%s\n",
           expect_policy_name((expect_policy_t)ctl_effective_policy(v)),
           expect_policy_name((expect_policy_t)v->configured_policy),
           override_name(v->override), v->strict ? "on" : "off");
}

int ctl_policy(const expect_shm_t *h, const ctl_opts_t *o)
{
    return ctl_each_vhost(h, o, policy_line, NULL);
}

static int write_failed(apr_status_t rv, const char *what)
{
    fprintf(stderr, "expectctl: cannot %s: %s\n", what,
            rv == APR_EACCES ? "the control file is not writable (run as root)"
            : rv == APR_ENOENT ? "the statistics file is missing or too short"
                               : "invalid slot or value");
    return rv == APR_EACCES ? CTL_EXIT_PERM : CTL_EXIT_FAIL;
}

int ctl_set(expect_shm_t *h, const ctl_opts_t *o)
{
    uint32_t slot;
    apr_status_t rv;
    char err[1024];

    if (o->set_all) {
        /* Every vhost the control file marks active, in one pass over it. */
        rv = expect_shm_set_override_all(h, o->set_value);
        return rv == APR_SUCCESS ? CTL_EXIT_OK : write_failed(rv, "set the policy");
    }
    if (ctl_find_vhost(h, o->vhost, &slot, err, sizeof(err)) != 0) {
        fprintf(stderr, "expectctl: %s\n", err);
        return CTL_EXIT_FAIL;
    }
    rv = expect_shm_set_override(h, slot, o->set_value);
    return rv == APR_SUCCESS ? CTL_EXIT_OK : write_failed(rv, "set the policy");
}

/* All active vhosts after `set all`, else the one that was set. */
int ctl_set_report(const expect_shm_t *h, const ctl_opts_t *o)
{
    return ctl_each_vhost(h, o, policy_line, NULL);
}

int ctl_reset(expect_shm_t *h, const ctl_opts_t *o)
{
    uint32_t slot;
    apr_status_t rv;
    char err[1024];

    if (o->vhost == NULL) {
        rv = expect_shm_reset_all(h);
        return rv == APR_SUCCESS ? CTL_EXIT_OK : write_failed(rv, "reset the counters");
    }
    if (ctl_find_vhost(h, o->vhost, &slot, err, sizeof(err)) != 0) {
        fprintf(stderr, "expectctl: %s\n", err);
        return CTL_EXIT_FAIL;
    }
    rv = expect_shm_reset(h, slot);
    return rv == APR_SUCCESS ? CTL_EXIT_OK : write_failed(rv, "reset the counters");
}

int ctl_reset_report(const expect_shm_t *h, const ctl_opts_t *o)
{
    (void)h;
    if (o->vhost == NULL) {
        printf("counters reset for every virtual host\n");
        return CTL_EXIT_OK;
    }
    printf("counters reset for ");
    expect_fput_text(stdout, o->vhost);
    putchar('\n');
    return CTL_EXIT_OK;
}
