/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect_config.h - what every glue file needs and nothing more: the
 * module record, the configuration structs and their accessors, the log
 * message IDs, and this generation's segment.  The glue files depend on
 * this and on the core (expect_*.h) only; mod_expect.c, which registers
 * the hooks, is the one file that knows them all.  Not for expectctl: it
 * must never need httpd headers.
 */
#ifndef MOD_EXPECT_CONFIG_H
#define MOD_EXPECT_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "apr_buckets.h"

#include "expect_policy.h"
#include "expect_shm.h"
#include "expect_version.h"

/* The build hides every symbol (-fvisibility=hidden, so calls inside the
 * module skip the PLT); mod_so must still find this one with dlsym(). */
extern module AP_MODULE_DECLARE_DATA __attribute__((visibility("default"))) expect_module;

/* Stable log message IDs: tests and operators grep for these. */
#define EXPLOGNO(n) "EXP" #n ": "

#define EXPECT_UNSET (-1)
#define EXPECT_NOTE "expect-decision"  /* r->notes key, for %{expect-decision}n */
/* r->notes key: the Expect value as sent, when ExpectUnknown ignore changed it. */
#define EXPECT_ORIGINAL_NOTE "expect-original"
#define EXPECT_SHM_DEFAULT_NAME "mod_expect.shm"
#define EXPECT_EVENT_SLOTS_DEFAULT 1024
#define EXPECT_RETRY_WINDOW_DEFAULT 30    /* seconds */
#define EXPECT_RETRY_WINDOW_MAX 86400
#define EXPECT_RETRY_SLOTS_DEFAULT 4096

typedef struct {
    expect_policy_t policy;  /* EXPECT_POLICY_UNSET until configured */
    int strict;              /* EXPECT_UNSET until configured */
} expect_dir_conf;

/* ExpectUnknown: what to do with expectations other than 100-continue. */
#define EXPECT_UNKNOWN_REJECT 0  /* the default: 417, as httpd core does */
#define EXPECT_UNKNOWN_IGNORE 1  /* drop them, keep a 100-continue */

/* ExpectJudge: where a server's requests are judged. */
#define EXPECT_JUDGE_FIXUPS 0  /* the default: after walks and access checks */
#define EXPECT_JUDGE_EARLY  1  /* translate_name, before them */

typedef struct {
    const char *shm_path;  /* ExpectShmFile; NULL: runtime dir default */
    int event_slots;       /* ExpectEventSlots; EXPECT_UNSET until set */
    int retry_window;      /* ExpectRetryWindow, seconds; EXPECT_UNSET until set */
    int retry_slots;       /* ExpectRetrySlots; EXPECT_UNSET until set */
    /* The segment's count of this vhost's pending 417s (a static zero
     * without one): what log_transaction tests before it looks anything
     * up.  Set in post_config with the slot. */
    const uint64_t *pending;
    /* This vhost's runtime override word in the control file (read-only
     * here; a static EXPECT_OVERRIDE_NONE without a segment), so that the
     * judging hook reads it without a call.  Set with the slot. */
    const uint32_t *override;
    int slot;              /* this vhost's row in the segment, -1 if none */
    const char *name;      /* the row name, see expect_config_row_names */
    const char *stats_name; /* ExpectStatsName; NULL until set */
    int judge;             /* EXPECT_JUDGE_*; EXPECT_UNSET until set, resolved
                              in check_config */
    const char *judge_at;  /* "file:line" of the ExpectJudge in effect */
    const char *section_at; /* the first ExpectPolicy/ExpectStrict in a section
                               of this server's own configuration, or NULL */
    int unknown;           /* EXPECT_UNKNOWN_*; EXPECT_UNSET until set */
    /* ExpectEventLog: "|program", or a file's path made absolute; NULL: off.
     * The main server's only (refused in a <VirtualHost>). */
    const char *event_log;
} expect_srv_conf;

void *expect_create_dir_conf(apr_pool_t *p, char *dir);
void *expect_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);
void *expect_create_srv_conf(apr_pool_t *p, server_rec *s);
void *expect_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);

static inline expect_srv_conf *expect_srv_config(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &expect_module);
}

static inline const expect_dir_conf *expect_dir_config(const ap_conf_vector_t *v)
{
    return ap_get_module_config(v, &expect_module);
}

/* The policy and strictness a vhost is configured with, outside any
 * section: what the segment's control file records for it. */
expect_policy_t expect_configured_policy(const expect_dir_conf *dc);
int expect_configured_strict(const expect_dir_conf *dc);

/* The main server's row.  Every vhost's automatic name has a ':' (a
 * ServerName's host part cannot), so none is ever this. */
#define EXPECT_MAIN_ROW_NAME "main"

/*
 * Every server's row name, in server order: its ExpectStatsName if it has
 * one; EXPECT_MAIN_ROW_NAME for the main server; else "name:port" as
 * apache2 -S shows it, "@address" after it where the vhost's address tells
 * it apart (httpd listens on that port elsewhere too), and "~N" for the
 * Nth of true duplicates.  Names too long for a row are keyed by the core
 * (never merged).  Returns NULL, or why two servers would share a row.
 */
const char *expect_config_row_names(apr_pool_t *p, apr_pool_t *ptemp, server_rec *s,
                                    apr_array_header_t **out);

/* Set every server's name from expect_config_row_names (post_config). */
void expect_config_name_vhosts(apr_pool_t *p, apr_pool_t *ptemp, server_rec *s);

/* The process pool's userdata key for state of `what` that outlives the
 * DSO's unload at a restart: it names the layout and the struct's size,
 * so a build with another layout never takes the previous one's struct
 * for its own. */
const char *expect_config_state_key(apr_pool_t *p, const char *what, size_t size);

/* "the main server", or "virtual host NAME (file:line)", for messages. */
const char *expect_server_label(apr_pool_t *p, const server_rec *s);

/* This generation's segment (set in post_config by the statistics glue),
 * or NULL if there is none.  Children inherit it with the address space. */
/* This generation's segment, NULL when the server runs without one: a
 * load, not a call, for the request path. */
extern const expect_shm_t *expect_current_segment __attribute__((visibility("hidden")));
static inline const expect_shm_t *expect_config_segment(void)
{
    return expect_current_segment;
}
/* Publishes this generation's segment (NULL: none), with its count of
 * pending 417s for the request path's test (expect_pending_now). */
void expect_config_set_segment(const expect_shm_t *shm);

/*
 * When this generation's post_config rebuilt the segment and carried the
 * old one's newest events over (expect_shm_record renumbers them): the old
 * segment's pair token, the claim the old ring would have given next, and
 * the old claim number of each carried event, in order, the first of them
 * now at claim new_first of the new ring.  For the event log's writer,
 * which counts claims.  Valid until the next post_config.
 */
typedef struct {
    uint64_t old_token;
    uint64_t old_head;
    const uint64_t *old_claims;
    size_t n;
    uint64_t new_first;
} expect_carried_t;
/* Set by the statistics' post_config when it carried events over (NULL
 * at the start of each); read by the event log's. */
void expect_config_set_carried(const expect_carried_t *c);
const expect_carried_t *expect_config_carried(void);
/*
 * How many 417s the segment's retry table holds (a static zero without a
 * segment): the judging hook's second test for a request without Expect,
 * so that while nothing is pending such a request pays one load for retry
 * tracking.  A plain load, not an __atomic one: an aligned 64-bit load is
 * atomic on every target the build accepts (expect_shm.h), and a plain one
 * lets the compiler test the word in memory (cmpq) instead of loading it
 * first, which is one instruction of the no-Expect budget.  Each request
 * reads afresh: nothing is cached across requests.
 */
extern const uint64_t *expect_pending_now __attribute__((visibility("hidden")));

/* May this request be a 417'd client coming back?  Only while 417s are
 * pending on the server and in its own vhost. */
static inline int expect_maybe_retry(const expect_srv_conf *sc)
{
    return *expect_pending_now != 0 && *sc->pending != 0;
}

/* expectctl's runtime override for the vhost, or EXPECT_POLICY_UNSET: one
 * load from the control file's read-only mapping. */
static inline expect_policy_t expect_config_override(const expect_srv_conf *sc)
{
    uint32_t v = __atomic_load_n(sc->override, __ATOMIC_RELAXED);

    return v <= (uint32_t)EXPECT_POLICY_IGNORE ? (expect_policy_t)v : EXPECT_POLICY_UNSET;
}

/* The key retry tracking knows a request by: the same client (address
 * and the product tokens of its User-Agent) sending the same method and
 * target to the same vhost (expect_retry_key). */
static inline uint64_t expect_request_retry_key(const request_rec *r, const expect_shm_t *h,
                                                int slot, const char *client,
                                                const char *user_agent)
{
    return expect_retry_key(h, (uint32_t)slot, client, user_agent, r->method, r->unparsed_uri);
}

/*
 * What the judging hook reads of a request, once.  A request walks
 * mod_expect.c (gathers this) -> expect_policy.c (decides) ->
 * mod_expect_stats.c (records) -> mod_expect_bodywatch.c, and never back.
 */
typedef struct {
    expect_input_t in;            /* expect_decide()'s input, override included */
    const expect_srv_conf *sc;    /* the vhost: slot, gauges, override */
    const char *content_length;   /* the header; NULL if absent */
    /* Retry tracking, filled only for an upload let through while 417s
     * are pending in its vhost (retry_key 0 otherwise): the keys its
     * client's 417 may have been remembered by (retry_key_peer: the peer's
     * address, behind mod_remoteip; 0 if the same). */
    uint64_t retry_key, retry_key_peer;
} expect_facts_t;

/*
 * Does the request declare a body?  A Content-Length starting 1-9 is
 * content whatever else was sent; only otherwise is Transfer-Encoding
 * looked up (expect_has_content() has the rules).  Used by the judging
 * hook and by retry tracking, which follows uploads only.
 */
static inline int expect_content_given(const request_rec *r, const char *cl)
{
    return (cl != NULL && cl[0] >= '1' && cl[0] <= '9')
           || expect_has_content(apr_table_get(r->headers_in, "Transfer-Encoding"), cl);
}

/*
 * APR's brigade sentinel is a cast of the brigade's list head to a bucket,
 * which clang's -Wcast-align flags in every macro that uses it; a bucket is
 * the sentinel exactly when its link is that head, so compare the links.
 */
static inline int expect_past_last(const apr_bucket_brigade *bb, const apr_bucket *e)
{
    return (const void *)&e->link == (const void *)&bb->list;
}

#endif /* MOD_EXPECT_CONFIG_H */
