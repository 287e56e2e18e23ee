/*
 * expect_shm.h - the one description of mod_expect's shared segment.
 *
 * The httpd parent creates the segment, its children count into it, and
 * expectctl (another program, maybe another build) reads it.  So this header
 * is the wire format: every struct is made of explicit-width fields, every
 * region starts on a page boundary, and anything that changes the layout
 * must bump EXPECT_SHM_LAYOUT_VERSION so an old expectctl refuses a new
 * segment instead of misreading it.
 *
 *   [header page][control area][vhost table][event ring]
 *
 * The control area (one override word per vhost slot) is alone on its pages
 * so that the parent can map it read-only from an O_RDONLY descriptor before
 * forking: children, once they run as User, can count but cannot change a
 * policy.  Only root's expectctl, opening the file O_RDWR, writes it.
 *
 * No httpd headers here: this is linked into expectctl and the unit tests.
 */
#ifndef EXPECT_SHM_H
#define EXPECT_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "apr.h"
#include "apr_errno.h"

#include "expect_policy.h"

#define EXPECT_SHM_MAGIC          "MODEXPCT"   /* 8 bytes, no NUL stored */
#define EXPECT_SHM_LAYOUT_VERSION 1u
/* Layout granularity.  Regions are also aligned to the real page size at
 * creation when that is larger, so the control area can be mmap()ed alone. */
#define EXPECT_SHM_ALIGN          4096u

/* Bounds that keep a damaged header from making a reader map or walk
 * gigabytes; the directive parsers should enforce the same limits. */
#define EXPECT_SHM_MAX_VHOSTS     65536u
#define EXPECT_SHM_MAX_RING_SLOTS 1048576u

/* Control word value meaning "no runtime override: use the configuration". */
#define EXPECT_OVERRIDE_NONE      0xFFFFFFFFu

#define EXPECT_SHM_NAME_LEN       128   /* "name:port" plus NUL */

/* vhost record flags */
#define EXPECT_VHOST_ACTIVE       0x1u  /* present in the running config */

typedef struct {
    char     magic[8];          /* EXPECT_SHM_MAGIC; written last at creation */
    uint32_t layout_version;
    uint32_t header_size;       /* sizeof(expect_shm_header_t) */
    uint64_t total_size;        /* file length */
    uint64_t control_offset;
    uint64_t control_size;      /* whole pages */
    uint64_t vhosts_offset;
    uint32_t vhost_size;        /* sizeof(expect_shm_vhost_t) */
    uint32_t vhost_capacity;
    uint32_t vhost_count;       /* slots [0, count) are in use; only grows */
    uint32_t event_size;        /* sizeof(expect_shm_event_t) */
    uint64_t ring_offset;
    uint32_t ring_slots;        /* 0: no events are recorded */
    uint32_t generation;        /* bumped by the parent at each restart */
    uint64_t created_usec;      /* wall clock, microseconds since the epoch */
    uint64_t ring_head;         /* next event sequence number to claim */
    uint64_t ring_dropped;      /* events lost to a slot another writer held */
    uint32_t creator_pid;
    uint32_t reserved0;
} expect_shm_header_t;

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
    EXPECT_CTR_COUNT
} expect_ctr_t;

typedef struct {
    char     name[EXPECT_SHM_NAME_LEN];  /* NUL-terminated "name:port" */
    uint32_t flags;                      /* EXPECT_VHOST_* */
    uint32_t configured_policy;          /* expect_policy_t, 0..2 */
    uint32_t strict;                     /* 0 or 1 */
    uint32_t reserved0;
    uint64_t ctr[EXPECT_CTR_COUNT];
    uint64_t last_417_usec;              /* 0: never */
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

/*
 * A process's view of a segment.  The geometry is copied here once it has
 * been validated and is never re-read from the segment: a child that
 * scribbles over the header must not steer a reader out of bounds.
 */
typedef struct {
    void               *base;
    size_t              size;
    expect_shm_header_t *hdr;
    uint32_t           *control;
    expect_shm_vhost_t *vhosts;
    expect_shm_event_t *ring;
    uint32_t            vhost_capacity;
    uint32_t            ring_slots;
    uint64_t            control_offset;
    uint64_t            control_size;
    int                 writable;         /* header, vhosts, ring */
    int                 control_writable; /* control area */
    uint64_t            dev, ino;         /* the file this maps */
} expect_shm_t;

/*
 * expectctl's attach/validate results.  The values are expectctl's exit
 * codes on purpose, so it can exit with the result directly.
 */
typedef enum {
    EXPECT_SHM_OK      = 0,
    EXPECT_SHM_EOTHER  = 1,
    EXPECT_SHM_ENOENT  = 3,   /* no segment at that path */
    EXPECT_SHM_EACCES  = 4,   /* not allowed, or not trustworthy (symlink, owner) */
    EXPECT_SHM_ECORRUPT = 5   /* damaged, or a layout this build does not know */
} expect_shm_err_t;

/* ---- layout ---- */

/* Total file size for a segment of that geometry; 0 if out of bounds
 * (capacity 0 or above the maxima).  Depends on the host page size. */
size_t expect_shm_size(uint32_t vhost_capacity, uint32_t ring_slots);

/* ---- parent (httpd post_config) ---- */

/*
 * Build a fresh segment and move it onto `path` with rename(), so a reader
 * never sees a half-built file.  The file is 0600, owned by the caller.
 * The whole mapping (control area included) is writable until
 * expect_shm_map_control_ro().  On error returns an APR errno-based status
 * and, if why is not NULL, a one-line explanation.
 */
apr_status_t expect_shm_create(expect_shm_t *h, const char *path,
                               uint32_t vhost_capacity, uint32_t ring_slots,
                               char *why, size_t whylen);

/*
 * Replace the handle's view of the control area with a read-only mapping
 * of `path` opened O_RDONLY (the descriptor is closed again).  Pages mapped
 * that way cannot be made writable by mprotect(), so children forked after
 * this cannot change overrides even though they can count.  The file at
 * `path` must still be the one the handle maps (same device and inode).
 */
apr_status_t expect_shm_map_control_ro(expect_shm_t *h, const char *path);
/* The reverse, from an O_RDWR descriptor: for a parent that must write
 * overrides into a segment it sealed earlier. */
apr_status_t expect_shm_map_control_rw(expect_shm_t *h, const char *path);

/* Slot of that vhost, or -1.  Names longer than the record are compared
 * truncated, the same way they are stored. */
int expect_shm_vhost_find(const expect_shm_t *h, const char *name);
/* Find or add; APR_ENOSPC when the table is full, APR_EINVAL for "". */
apr_status_t expect_shm_vhost_add(expect_shm_t *h, const char *name,
                                  uint32_t *slot);
void expect_shm_mark_all_inactive(expect_shm_t *h);
/* Mark present in the running config, with its configured behaviour. */
void expect_shm_mark_active(expect_shm_t *h, uint32_t slot,
                            expect_policy_t policy, int strict);

/*
 * Carry counters, last-417 time and overrides from `src` into `dst` by
 * vhost name (adding names to dst as needed), e.g. when the table has to
 * grow.  dst's control area must still be writable.  Returns APR_ENOSPC if
 * some vhost did not fit (the others are copied).
 */
apr_status_t expect_shm_copy_vhosts(expect_shm_t *dst, const expect_shm_t *src,
                                    int active_only);

uint32_t expect_shm_generation(const expect_shm_t *h);
uint32_t expect_shm_bump_generation(expect_shm_t *h);

/* Unmap.  The parent never needs this for a segment it keeps. */
void expect_shm_detach(expect_shm_t *h);

/* ---- children (request path: lock-free) ---- */

/* The record of a slot, or NULL when out of range or h is NULL. */
expect_shm_vhost_t *expect_shm_vhost(const expect_shm_t *h, uint32_t slot);
/* Atomic increment; NULL vh or a bad index is a no-op. */
void expect_shm_count(expect_shm_vhost_t *vh, expect_ctr_t ctr);
/* Count a 417 under its producer and the total, and note its time. */
void expect_shm_count_417(expect_shm_vhost_t *vh, expect_producer_t producer,
                          uint64_t now_usec);
/* The runtime override for the slot, or EXPECT_POLICY_UNSET. */
expect_policy_t expect_shm_override(const expect_shm_t *h, uint32_t slot);

/* Zero the event, content_length -1, status 417. */
void expect_shm_event_init(expect_shm_event_t *ev);
/* Truncating copy that always NUL-terminates; NULL src gives "". */
void expect_shm_strlcpy(char *dst, size_t dstsize, const char *src);
#define EXPECT_SHM_EVENT_SET(ev, field, src) \
    expect_shm_strlcpy((ev)->field, sizeof((ev)->field), (src))

/*
 * Append an event to the ring (its seq field is ignored).  Returns 1 if
 * recorded, 0 if not: no ring, or the slot was still being written by an
 * earlier writer, or already held a later lap (both counted in
 * ring_dropped).  Never blocks or waits.
 */
int expect_shm_record(expect_shm_t *h, const expect_shm_event_t *ev);

/* ---- expectctl (reader: trusts nothing) ---- */

/*
 * Check that buf[0, len) is a segment this build can read.  On failure
 * writes a one-line reason ("bad magic", "layout version 7, expected 1", ...)
 * into why and returns EXPECT_SHM_ECORRUPT.
 */
expect_shm_err_t expect_shm_validate(const void *buf, size_t len,
                                     char *why, size_t whylen);

/*
 * Map and validate the segment at path.  Refuses a symlink, a non-regular
 * file and a file owned by anyone but root or the effective user.
 * writable maps it read-write (needed for set and reset).
 */
expect_shm_err_t expect_shm_attach(expect_shm_t *h, const char *path,
                                   int writable, char *why, size_t whylen);

/*
 * The reader over bytes already in memory (a copy of a segment, or a
 * fuzzer's input): validates buf[0, len) and fills h exactly as attach does
 * after mmap(), read-only (writable and control_writable are 0, dev and ino
 * 0).  buf must stay valid while h is used and must be aligned for
 * uint64_t (EXPECT_SHM_EOTHER otherwise).  Never pass a view to
 * expect_shm_detach(): it did not map buf; just forget the handle.
 */
expect_shm_err_t expect_shm_view(expect_shm_t *h, void *buf, size_t len,
                                 char *why, size_t whylen);

typedef struct {
    uint32_t slot;
    uint32_t flags;
    uint32_t configured_policy;
    uint32_t strict;
    uint32_t override;           /* EXPECT_OVERRIDE_NONE or a policy */
    char     name[EXPECT_SHM_NAME_LEN];  /* always NUL-terminated */
    uint64_t ctr[EXPECT_CTR_COUNT];
    uint64_t last_417_usec;
} expect_shm_vhost_snap_t;

/* Number of slots in use, clamped to the validated capacity. */
uint32_t expect_shm_vhost_count(const expect_shm_t *h);
/* Copy one vhost out; -1 if slot >= expect_shm_vhost_count(). */
int expect_shm_snapshot(const expect_shm_t *h, uint32_t slot,
                        expect_shm_vhost_snap_t *out);

/* value: EXPECT_OVERRIDE_NONE or 0..2.  APR_EINVAL for another value or
 * slot, APR_EACCES when the control area is not mapped writable. */
apr_status_t expect_shm_set_override(expect_shm_t *h, uint32_t slot,
                                     uint32_t value);
apr_status_t expect_shm_set_override_all(expect_shm_t *h, uint32_t value);
/* Zero counters and last-417 time (one slot / every slot in use). */
apr_status_t expect_shm_reset(expect_shm_t *h, uint32_t slot);
apr_status_t expect_shm_reset_all(expect_shm_t *h);

/* The next sequence number a writer will claim. */
uint64_t expect_shm_ring_head(const expect_shm_t *h);

/*
 * Copy published events with claim numbers from max(from, head - slots)
 * upwards into out[0, max), oldest first, and set *next to the claim
 * number to pass next time (for --follow).  A record overwritten or torn
 * while being copied is skipped.  A record still being written is skipped
 * too, unless wait_pending is set: then reading stops there and *next
 * points at it, so a follower picks it up on its next call.  (A follower
 * should retry once with wait_pending 0 if *next stays put for long: its
 * writer may have died.)  Strings in out are always NUL-terminated.
 * The claim number of out[i] is out[i].seq / 2 - 1.
 */
size_t expect_shm_read_events(const expect_shm_t *h, uint64_t from,
                              expect_shm_event_t *out, size_t max,
                              int wait_pending, uint64_t *next);

#endif /* EXPECT_SHM_H */
