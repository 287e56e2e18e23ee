/*
 * mod_expect_private.h - what the module's glue files share.  Not for
 * expectctl: it must never need httpd headers.
 */
#ifndef MOD_EXPECT_PRIVATE_H
#define MOD_EXPECT_PRIVATE_H

#include "httpd.h"
#include "http_config.h"

#include "expect_policy.h"
#include "expect_shm.h"

/* The build hides every symbol (-fvisibility=hidden, so calls inside the
 * module skip the PLT); mod_so must still find this one with dlsym(). */
extern module AP_MODULE_DECLARE_DATA __attribute__((visibility("default"))) expect_module;

/* Stable log message IDs: tests and operators grep for these. */
#define EXPLOGNO(n) "EXP" #n ": "

#define EXPECT_UNSET (-1)
#define EXPECT_NOTE "expect-decision"  /* r->notes key, for %{expect-decision}n */
#define EXPECT_SHM_DEFAULT_NAME "mod_expect.shm"
#define EXPECT_EVENT_SLOTS_DEFAULT 1024

typedef struct {
    expect_policy_t policy;  /* EXPECT_POLICY_UNSET until configured */
    int strict;              /* EXPECT_UNSET until configured */
} expect_dir_conf;

typedef struct {
    const char *shm_path;  /* ExpectShmFile; NULL: runtime dir default */
    int event_slots;       /* ExpectEventSlots; EXPECT_UNSET until set */
    int slot;              /* this vhost's row in the segment, -1 if none */
    const char *name;      /* "name:port", as apache2 -S shows it */
} expect_srv_conf;

/* mod_expect_stats.c */
int expect_stats_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
expect_policy_t expect_stats_override(const request_rec *r);
void expect_stats_decided(request_rec *r, const expect_outcome_t *out);
int expect_stats_log_transaction(request_rec *r);
/* This generation's segment, or NULL if there is none. */
const expect_shm_t *expect_stats_segment(void);

/* mod_expect_bodywatch.c: for EXPECT_DECIDE_HTTP10 and EXPECT_DECIDE_IGNORE */
void expect_body_watch(request_rec *r, expect_decision_t decision);
void expect_body_watch_register(void);

/* mod_expect_status.c */
void expect_status_register_hooks(void);

#endif /* MOD_EXPECT_PRIVATE_H */
