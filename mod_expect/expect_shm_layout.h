/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_shm_layout.h - the one description of mod_expect's shared
 * segment: its wire format.
 *
 * The httpd parent creates the segment, its children count into it, and
 * expectctl (another program, maybe another build) reads it.  So this header
 * is the wire format: every struct is made of explicit-width fields, every
 * region starts on a page boundary, and anything that changes the layout
 * must bump EXPECT_SHM_LAYOUT_VERSION so an old expectctl refuses a new
 * segment instead of misreading it.
 *
 * The segment is a PAIR of files:
 *
 *   PATH       the statistics file:
 *              [header page][vhost counters][event ring][pending 417s]
 *              Children map it read-write: they count and record events.
 *              Nothing in it decides a policy, and nothing reads it as
 *              authoritative for names or slots.
 *   PATH.ctl   the control file: [control header page][control entries]
 *              One entry per vhost slot: name, active flag, configured
 *              policy, strict, and the runtime override.  The httpd parent
 *              maps it ONLY from an O_RDONLY descriptor and writes it only
 *              with pwrite() on a short-lived O_RDWR descriptor during
 *              post_config; no read-write mapping of it ever exists in an
 *              httpd process, so a child (even with remap_file_pages() or
 *              mremap() on the mappings it inherits) can never write it.
 *              Only root's expectctl, opening it O_RDWR, writes overrides.
 *
 * Both headers carry the same pair_token (a random 64-bit id drawn at
 * creation) and the same capacity; readers refuse a pair that disagrees.
 *
 * Only the structs, constants and enums that are the bytes in the two
 * files live here; the process-local handle and the functions that use it
 * are declared in expect_shm.h.  No httpd headers: expectctl and the unit
 * tests include this.
 */
#ifndef EXPECT_SHM_LAYOUT_H
#define EXPECT_SHM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "expect_policy.h"

#define EXPECT_SHM_MAGIC          "MODEXPCT"   /* statistics file; 8 bytes, no NUL */
#define EXPECT_CTL_MAGIC          "MODEXCTL"   /* control file; 8 bytes, no NUL */
/* Overridable only so that the upgrade test can build a module and an
 * expectctl of another layout; never set it otherwise. */
#ifndef EXPECT_SHM_LAYOUT_VERSION
#define EXPECT_SHM_LAYOUT_VERSION 5u           /* both files */
#endif
#define EXPECT_SHM_CTL_SUFFIX     ".ctl"       /* control file = PATH + this */
/* Layout granularity.  Regions are also aligned to the real page size at
 * creation when that is larger. */
#define EXPECT_SHM_ALIGN          4096u

/* Bounds that keep a damaged header from making a reader map or walk
 * gigabytes; the directive parsers should enforce the same limits. */
#define EXPECT_SHM_MAX_VHOSTS     65536u
#define EXPECT_SHM_MAX_RING_SLOTS 1048576u
#define EXPECT_SHM_MAX_PENDING    1048576u
/* The pending table is set-associative: a key lives in one bucket of this
 * many entries, so a lookup reads at most this many (and a full bucket
 * gives up its oldest).  pending_slots is a multiple of it. */
#define EXPECT_PENDING_WAYS       8u

/* Override value meaning "no runtime override: use the configuration". */
#define EXPECT_OVERRIDE_NONE      0xFFFFFFFFu

#define EXPECT_SHM_NAME_LEN       128   /* "name:port" plus NUL */

/* control entry flags */
#define EXPECT_VHOST_ACTIVE       0x1u  /* present in the running config */

/* What both files' headers begin with, in the same order: a reader checks
 * this much before it knows which file it holds. */
typedef struct {
    char     magic[8];
    uint32_t layout_version;
    uint32_t header_size;
    uint64_t total_size;
} expect_shm_prefix_t;

/* Statistics file header (child-writable: informational only). */
typedef struct {
    char     magic[8];          /* EXPECT_SHM_MAGIC; written last at creation */
    uint32_t layout_version;
    uint32_t header_size;       /* sizeof(expect_shm_header_t) */
    uint64_t total_size;        /* file length */
    uint64_t vhosts_offset;
    uint32_t vhost_size;        /* sizeof(expect_shm_vhost_t) */
    uint32_t vhost_capacity;    /* equals the control file's capacity */
    uint64_t ring_offset;
    uint32_t event_size;        /* sizeof(expect_shm_event_t) */
    uint32_t ring_slots;        /* 0: no events are recorded */
    uint64_t pair_token;        /* equals the control file's */
    uint64_t created_usec;      /* wall clock, microseconds since the epoch */
    uint64_t ring_head;         /* next event sequence number to claim */
    uint64_t ring_dropped;      /* events lost to a slot another writer held */
    uint32_t generation;        /* bumped by the parent at each restart */
    uint32_t creator_pid;
    /* Retry tracking (expect_shm_retry.c). */
    uint64_t pending_offset;
    uint32_t pending_size;      /* sizeof(expect_shm_pending_t) */
    uint32_t pending_slots;     /* 0: retries are not tracked */
    uint64_t pending_now;       /* entries in the table: the request path's
                                   one-load test for "nothing to look up" */
    uint64_t pending_evicted;   /* entries a full bucket gave up early */
    uint32_t retry_window_ms;   /* ExpectRetryWindow, for readers */
    uint32_t reserved0;
} expect_shm_header_t;

/* Control file header (written only by root). */
typedef struct {
    char     magic[8];          /* EXPECT_CTL_MAGIC; written last at creation */
    uint32_t layout_version;
    uint32_t header_size;       /* sizeof(expect_ctl_header_t) */
    uint64_t total_size;        /* file length */
    uint64_t entries_offset;
    uint32_t entry_size;        /* sizeof(expect_ctl_entry_t) */
    uint32_t capacity;          /* entries; equals the statistics capacity */
    uint32_t count;             /* entries [0, count) are in use; only grows */
    uint32_t creator_pid;
    uint64_t pair_token;        /* equals the statistics file's */
    uint64_t created_usec;
    /* Liveness, for expectctl to tell a segment some httpd serves from one
     * left behind: written by the parent only, `state` last. */
    uint32_t state;             /* EXPECT_SEG_* */
    uint32_t server_pid;        /* the httpd parent that last served it */
    uint32_t generation;        /* bumped by each configuration that serves it */
    uint32_t reserved0;
    uint64_t state_usec;        /* when state last changed */
    uint64_t server_start;      /* server_pid's start time (/proc/PID/stat
                                   field 22, clock ticks since boot; 0 if
                                   unknown): a reused pid has another */
    /* The secret key of retry tracking's hash (SipHash-1-3), drawn at
     * creation: here, where no child can write it, so that nobody who can
     * send requests can choose which pending entries share a bucket. */
    uint64_t retry_key[2];
} expect_ctl_header_t;

/* Control header `state`. */
#define EXPECT_SEG_BUILDING   0u  /* never published with this value */
#define EXPECT_SEG_LIVE       1u  /* served by server_pid's current configuration */
#define EXPECT_SEG_RESTARTING 2u  /* server_pid is reading a new configuration */
#define EXPECT_SEG_RETIRED    3u  /* no configuration serves it any more */

/* One vhost slot's policy facts: authoritative, sealed from children. */
typedef struct {
    uint32_t override;                   /* EXPECT_OVERRIDE_NONE or a policy */
    uint32_t flags;                      /* EXPECT_VHOST_* */
    uint32_t configured_policy;          /* expect_policy_t, 0..2 */
    uint32_t strict;                     /* 0 or 1 */
    char     name[EXPECT_SHM_NAME_LEN];  /* NUL-terminated "name:port" */
} expect_ctl_entry_t;

/* Counter indices.  Stored in this order; append only (with a version bump). */
typedef enum {
    EXPECT_CTR_EXPECT = 0,     /* Expect header judged by mod_expect or rejected by core */
    EXPECT_CTR_CONTINUED,
    EXPECT_CTR_REJECTED,       /* decision reject (policy or strict) */
    EXPECT_CTR_IGNORED,
    EXPECT_CTR_BODYLESS,
    EXPECT_CTR_HTTP10,
    EXPECT_CTR_417_EXPECT,     /* 417 produced by mod_expect */
    EXPECT_CTR_417_CORE,       /* core's unknown-expectation 417 */
    EXPECT_CTR_417_HANDLER,
    EXPECT_CTR_417_BACKEND,    /* a proxied backend's 417 */
    EXPECT_CTR_417_TOTAL,
    EXPECT_CTR_RETRIED,        /* a 417'd client came back within the window */
    EXPECT_CTR_ABANDONED,      /* ... and one that did not */
    EXPECT_CTR_UNKNOWN_DROPPED,/* ExpectUnknown ignore dropped an expectation */
    EXPECT_CTR_COUNT
} expect_ctr_t;

/* One vhost slot's counters in the statistics file (the slot's name and
 * policy are in the control entry of the same index). */
typedef struct {
    uint64_t ctr[EXPECT_CTR_COUNT];
    uint64_t last_417_usec;              /* 0: never */
    /* 417s of this vhost in the pending table now: a gauge, not a counter
     * (reset leaves it alone), and the request path's second test. */
    uint64_t pending;
} expect_shm_vhost_t;

/* Who produced a 417.  Stored in events; values are stable. */
typedef enum {
    EXPECT_PRODUCER_MOD_EXPECT = 0,
    EXPECT_PRODUCER_CORE       = 1,
    EXPECT_PRODUCER_HANDLER    = 2,
    EXPECT_PRODUCER_BACKEND    = 3
} expect_producer_t;
#define EXPECT_PRODUCER_COUNT 4

/* Why; the text with the fix lives in expect_format.c, not in the segment. */
typedef enum {
    EXPECT_REASON_NONE            = 0,
    EXPECT_REASON_POLICY          = 1,   /* ExpectPolicy reject */
    EXPECT_REASON_STRICT_BODYLESS = 2,   /* ExpectStrict On, no content */
    EXPECT_REASON_CORE_UNKNOWN    = 3,   /* expectation other than 100-continue */
    EXPECT_REASON_HANDLER         = 4,
    EXPECT_REASON_BACKEND         = 5
} expect_reason_t;
#define EXPECT_REASON_COUNT 6

/*
 * One ring slot.  `seq` is a seqlock word: 2n+1 while claim n is being
 * written, 2n+2 once it is published.  Everything after it is the payload.
 */
typedef struct {
    uint64_t seq;
    uint64_t time_usec;
    int64_t  content_length;     /* -1: no Content-Length */
    /* What the client did next (EXPECT_OUTCOME_*), tagged with the event's
     * claim number: changed after publication, by compare-and-swap only,
     * so a late update never lands on a newer event in the same slot. */
    uint64_t outcome;
    uint32_t vhost_slot;
    uint32_t producer;           /* expect_producer_t */
    uint32_t reason;             /* expect_reason_t */
    uint32_t decision;           /* expect_decision_t */
    uint32_t status;             /* 417 */
    uint32_t reserved0;
    char vhost[EXPECT_SHM_NAME_LEN];
    char client[64];
    char method[32];
    char uri[512];
    char protocol[16];
    char expect[160];
    char user_agent[160];
} expect_shm_event_t;

/* Event `outcome` word: bits 0-2 the state, 3-34 the delay of a retry in
 * milliseconds, 35-63 the low bits of the event's claim number. */
#define EXPECT_OUTCOME_UNTRACKED 0u  /* no Expect, tracking off, or lost in a rebuild */
#define EXPECT_OUTCOME_PENDING   1u  /* within the window, no resend yet */
#define EXPECT_OUTCOME_RETRIED   2u  /* resent, and not answered 417 */
#define EXPECT_OUTCOME_ABANDONED 3u  /* no resend within the window */
#define EXPECT_OUTCOME_EVICTED   4u  /* a full bucket gave it up early */
#define EXPECT_OUTCOME_REPEATED  5u  /* resent with Expect and 417'd again: the
                                        later event carries the outcome */
#define EXPECT_OUTCOME_STATES    6u
#define EXPECT_OUTCOME_STATE_BITS 3u
#define EXPECT_OUTCOME_MS_BITS   32u
#define EXPECT_OUTCOME_TAG_SHIFT (EXPECT_OUTCOME_STATE_BITS + EXPECT_OUTCOME_MS_BITS)

/*
 * One entry of the pending table: a 417 whose client may still come back.
 * `key` is the state word: 0 free, 1 held by a writer, anything else a
 * keyed hash of the vhost slot, the client's address, the product tokens
 * of its User-Agent, the method and the request target.
 * Whoever swaps a key for 1 owns the entry until it stores a key again.
 */
#define EXPECT_PENDING_FREE 0u
#define EXPECT_PENDING_BUSY 1u
typedef struct {
    uint64_t key;
    uint64_t time_usec;          /* the 417'd request's arrival */
    uint64_t claim;              /* its event's claim number + 1; 0: none */
    uint32_t vhost_slot;
    uint32_t length_tag;         /* the declared Content-Length, folded
                                    (expect_retry_length_tag); 0: none */
} expect_shm_pending_t;

/*
 * What every layout from EXPECT_SHM_CARRY_MIN_LAYOUT on keeps in place, so
 * that a graceful restart onto a build of another layout (a package
 * upgrade or downgrade) carries the counters and the overrides over
 * (expect_shm_carry.c).  A new layout may append to these structs, and add
 * counters at the end of expect_ctr_t, but never moves these:
 *   - both files' prefix (expect_shm_prefix_t);
 *   - the statistics header up to creator_pid, and from layout 4 on
 *     pending_now;
 *   - the control header up to server_start;
 *   - a control entry's override, flags, configured_policy, strict, name;
 *   - a vhost record begins with its counters, in expect_ctr_t order.
 * The events and the pending table are per layout, and are dropped by a
 * layout change (the parent logs what it dropped: EXP0040).
 */
#define EXPECT_SHM_CARRY_MIN_LAYOUT 3u
_Static_assert(offsetof(expect_shm_header_t, vhosts_offset) == 24
               && offsetof(expect_shm_header_t, vhost_size) == 32
               && offsetof(expect_shm_header_t, vhost_capacity) == 36
               && offsetof(expect_shm_header_t, ring_slots) == 52
               && offsetof(expect_shm_header_t, pair_token) == 56
               && offsetof(expect_shm_header_t, ring_head) == 72
               && offsetof(expect_shm_header_t, generation) == 88
               && offsetof(expect_shm_header_t, pending_now) == 112,
               "statistics header fields carried across layouts stay in place");
_Static_assert(offsetof(expect_ctl_header_t, entries_offset) == 24
               && offsetof(expect_ctl_header_t, entry_size) == 32
               && offsetof(expect_ctl_header_t, capacity) == 36
               && offsetof(expect_ctl_header_t, count) == 40
               && offsetof(expect_ctl_header_t, pair_token) == 48
               && offsetof(expect_ctl_header_t, state) == 64
               && offsetof(expect_ctl_header_t, server_pid) == 68
               && offsetof(expect_ctl_header_t, generation) == 72
               && offsetof(expect_ctl_header_t, server_start) == 88,
               "control header fields carried across layouts stay in place");
_Static_assert(offsetof(expect_ctl_entry_t, name) == 16
               && offsetof(expect_shm_vhost_t, ctr) == 0,
               "control entry and counters carried across layouts stay in place");

/* The layout is the wire format: pin the sizes this build writes. */
_Static_assert(sizeof(expect_shm_header_t) == 136, "statistics header size");
_Static_assert(sizeof(expect_ctl_header_t) == 112, "control header size");
_Static_assert(sizeof(expect_shm_vhost_t) == 128, "vhost record size");
_Static_assert(sizeof(expect_shm_pending_t) == 32, "pending entry size");
_Static_assert(sizeof(expect_ctl_entry_t) == 144, "control entry size");
_Static_assert(sizeof(expect_shm_event_t) == 1128, "event record size");
_Static_assert(sizeof(expect_shm_header_t) <= EXPECT_SHM_ALIGN, "statistics header fits a page");
_Static_assert(sizeof(expect_ctl_header_t) <= EXPECT_SHM_ALIGN, "control header fits a page");
_Static_assert(EXPECT_CTR_COUNT == 14, "counter count");
_Static_assert(offsetof(expect_ctl_entry_t, override) == 0, "override first");
#define EXPECT_SHM_SAME_PREFIX(T) \
    (offsetof(T, magic) == offsetof(expect_shm_prefix_t, magic) \
     && offsetof(T, layout_version) == offsetof(expect_shm_prefix_t, layout_version) \
     && offsetof(T, header_size) == offsetof(expect_shm_prefix_t, header_size) \
     && offsetof(T, total_size) == offsetof(expect_shm_prefix_t, total_size))
_Static_assert(EXPECT_SHM_SAME_PREFIX(expect_shm_header_t), "statistics header prefix");
_Static_assert(EXPECT_SHM_SAME_PREFIX(expect_ctl_header_t), "control header prefix");

#endif /* EXPECT_SHM_LAYOUT_H */
