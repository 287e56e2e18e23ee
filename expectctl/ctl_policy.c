/*
 * ctl_policy.c - `policy`, `set` and `reset`: reading and steering the
 * per-vhost policy at runtime.  Writes go to the control area, which only
 * root can map writable; httpd's children read it with one atomic load.
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
            rv == APR_EACCES ? "the control area is not writable (run as root)"
                             : "invalid slot or value");
    return rv == APR_EACCES ? CTL_EXIT_PERM : CTL_EXIT_FAIL;
}

int ctl_set(expect_shm_t *h, const ctl_opts_t *o)
{
    expect_shm_vhost_snap_t v;
    uint32_t i, n = expect_shm_vhost_count(h), slot;
    apr_status_t rv;
    char err[256];

    if (o->set_all) {
        for (i = 0; i < n; i++) {
            if (expect_shm_snapshot(h, i, &v) != 0 || !ctl_vhost_visible(&v)) {
                continue;
            }
            rv = expect_shm_set_override(h, i, o->set_value);
            if (rv != APR_SUCCESS) {
                return write_failed(rv, "set the policy");
            }
            if (expect_shm_snapshot(h, i, &v) == 0) {
                policy_line(&v, NULL);
            }
        }
        return CTL_EXIT_OK;
    }
    if (ctl_find_vhost(h, o->vhost, &slot, err, sizeof(err)) != 0) {
        fprintf(stderr, "expectctl: %s\n", err);
        return CTL_EXIT_FAIL;
    }
    rv = expect_shm_set_override(h, slot, o->set_value);
    if (rv != APR_SUCCESS) {
        return write_failed(rv, "set the policy");
    }
    if (expect_shm_snapshot(h, slot, &v) == 0) {
        policy_line(&v, NULL);
    }
    return CTL_EXIT_OK;
}

int ctl_reset(expect_shm_t *h, const ctl_opts_t *o)
{
    uint32_t slot;
    apr_status_t rv;
    char err[256];

    if (o->vhost == NULL) {
        rv = expect_shm_reset_all(h);
        if (rv != APR_SUCCESS) {
            return write_failed(rv, "reset the counters");
        }
        printf("counters reset for every virtual host\n");
        return CTL_EXIT_OK;
    }
    if (ctl_find_vhost(h, o->vhost, &slot, err, sizeof(err)) != 0) {
        fprintf(stderr, "expectctl: %s\n", err);
        return CTL_EXIT_FAIL;
    }
    rv = expect_shm_reset(h, slot);
    if (rv != APR_SUCCESS) {
        return write_failed(rv, "reset the counters");
    }
    printf("counters reset for ");
    expect_fput_text(stdout, o->vhost);
    putchar('\n');
    return CTL_EXIT_OK;
}
