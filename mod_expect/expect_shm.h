/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_shm.h - the shared segment as a process uses it: the handle, and
 * every operation on it, grouped by the file that implements it.
 *
 *   expect_shm_layout.h    the wire format (the one header that defines it)
 *   expect_shm_geometry.c  sizes and offsets of a given geometry
 *   expect_shm_file.c      the files' lifecycle: create, seal, unseal, remove
 *   expect_shm_table.c     the vhost table and every control-file write
 *   expect_shm_ring.c      counting and the event ring (lock-free)
 *   expect_shm_validate.c  the validators: what a reader may trust
 *   expect_shm_attach.c    attach and view: map, validate, fill a handle
 *   expect_shm_carry.c     read another layout's rows, for an upgrade
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
#include "expect_shm_layout.h"

/*
 * All cross-process updates use the compiler's __atomic builtins directly,
 * not apr_atomic: an APR built with its mutex fallback would use locks
 * private to each process, which silently breaks counting between children.
 * The builtins fall back to libatomic's process-private locks when a width
 * is not lock-free; on such a target the counters would be wrong, so refuse
 * to build rather than miscount.
 */
#if !defined(__GCC_ATOMIC_LLONG_LOCK_FREE) || __GCC_ATOMIC_LLONG_LOCK_FREE != 2 \
    || !defined(__GCC_ATOMIC_INT_LOCK_FREE) || __GCC_ATOMIC_INT_LOCK_FREE != 2
#error "mod_expect needs lock-free 32- and 64-bit atomics for its shared segment"
#endif

/* How the control file may be written through this handle. */
#define EXPECT_CTL_RDONLY  0   /* not at all */
#define EXPECT_CTL_MAPPED  1   /* atomic stores through a read-write mapping (expectctl) */
#define EXPECT_CTL_PWRITE  2   /* pwrite() on ctl_fd; the mapping stays read-only (parent) */

/*
 * A process's view of a segment.  The geometry is copied here once it has
 * been validated and is never re-read from the files: a child that
 * scribbles over the statistics header must not steer a reader out of
 * bounds.
 */
typedef struct {
    /* the statistics file */
    void               *base;
    size_t              size;
    expect_shm_header_t *hdr;
    expect_shm_vhost_t *vhosts;
    expect_shm_event_t *ring;
    expect_shm_pending_t *pending;        /* NULL: retries are not tracked */
    /* the control file */
    void               *ctl_base;
    size_t              ctl_size;
    expect_ctl_header_t *ctl_hdr;
    expect_ctl_entry_t *ctl;
    /* trusted geometry */
    uint32_t            vhost_capacity;
    uint32_t            ring_slots;
    uint32_t            pending_slots;
    uint64_t            pair_token;
    uint64_t            retry_key[2];     /* from the control file */
    int                 writable;         /* statistics mapping is read-write */
    int                 control_writable; /* EXPECT_CTL_* */
    int                 ctl_fd;           /* open only while EXPECT_CTL_PWRITE */
    uint64_t            dev, ino;         /* the statistics file this maps */
    uint64_t            ctl_dev, ctl_ino; /* the control file this maps */
} expect_shm_t;

/*
 * expectctl's attach/validate results.  The values are expectctl's exit
 * codes on purpose, so it can exit with the result directly.
 */
typedef enum {
    EXPECT_SHM_OK      = 0,
    EXPECT_SHM_EOTHER  = 1,
    EXPECT_SHM_ENOENT  = 3,   /* no segment at that path (either file missing) */
    EXPECT_SHM_EACCES  = 4,   /* not allowed, or not trustworthy (symlink, owner) */
    EXPECT_SHM_ECORRUPT = 5   /* damaged, a layout this build does not know,
                                 or two files that do not belong together */
} expect_shm_err_t;

/* ---- layout ---- */

/* Size of the statistics file / of the control file for that geometry;
 * 0 if out of bounds (capacity 0, above the maxima, or pending_slots not a
 * multiple of EXPECT_PENDING_WAYS).  Depend on the host page size. */
size_t expect_shm_size(uint32_t vhost_capacity, uint32_t ring_slots, uint32_t pending_slots);
size_t expect_shm_control_size(uint32_t vhost_capacity);

/* buf = path + EXPECT_SHM_CTL_SUFFIX; -1 if it does not fit. */
int expect_shm_control_path(char *buf, size_t len, const char *path);

/* ---- parent (httpd post_config) ---- */

/*
 * Build a fresh pair: PATH.new and PATH.ctl.new, both 0600, owned by the
 * caller, with every byte allocated (posix_fallocate: a full file system
 * fails here, not with SIGBUS in a child later), then rename()d onto
 * PATH.ctl and PATH.  The control file is mapped read-only from an
 * O_RDONLY descriptor; the handle keeps an O_RDWR descriptor for pwrite()
 * (control_writable EXPECT_CTL_PWRITE) until expect_shm_seal().  On error
 * nothing is left at the side names, the files at PATH are untouched, h is
 * zeroed, and an APR errno-based status is returned with, if why is not
 * NULL, a one-line explanation.
 */
apr_status_t expect_shm_create(expect_shm_t *h, const char *path,
                               uint32_t vhost_capacity, uint32_t ring_slots,
                               uint32_t pending_slots, char *why, size_t whylen);

/* Close the control file's write descriptor: from now on nothing in this
 * process can write the control file.  Call before forking children. */
void expect_shm_seal(expect_shm_t *h);

/*
 * Reopen PATH.ctl O_RDWR (O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) for
 * pwrite(), for a parent that must update names and flags of a segment it
 * sealed earlier.  Refuses (APR_EINVAL) anything but a regular file owned
 * by the effective user that is the very file the handle maps.
 */
apr_status_t expect_shm_unseal(expect_shm_t *h, const char *path);

/* 1 if PATH and PATH.ctl are still the files the handle maps (same device
 * and inode), 0 otherwise (replaced, removed, unreadable). */
int expect_shm_is_current(const expect_shm_t *h, const char *path);

/*
 * Validate what the handle maps, both files and the pair, as a reader
 * would, and check that the headers still describe the handle's geometry.
 * For the parent before it reuses a segment across a restart.
 */
expect_shm_err_t expect_shm_check(const expect_shm_t *h, char *why, size_t whylen);

/*
 * unlink(path) only if it is still the file (dev, ino): an old parent
 * exiting after a new server has replaced the file must not delete the
 * new one.  Returns 1 if removed, 0 if not (missing or another file),
 * -1 on error (errno set).  A symlink at path is never followed.
 */
int expect_shm_remove_if_same(const char *path, uint64_t dev, uint64_t ino);
/* Both files of the handle's segment at path, each only if it is ours. */
void expect_shm_remove(const expect_shm_t *h, const char *path);

/* Slot of that vhost in the control file, or -1.  Names are compared by
 * their key (expect_shm_name_key), the way they are stored. */
int expect_shm_vhost_find(const expect_shm_t *h, const char *name);
/* Find or add; APR_ENOSPC when the table is full, APR_EINVAL for "",
 * APR_EACCES when the control file or statistics is not writable here.
 * A new slot starts with zero counters and no override. */
apr_status_t expect_shm_vhost_add(expect_shm_t *h, const char *name,
                                  uint32_t *slot);
apr_status_t expect_shm_mark_all_inactive(expect_shm_t *h);
/* Mark present in the running config, with its configured behaviour. */
apr_status_t expect_shm_mark_active(expect_shm_t *h, uint32_t slot,
                                    expect_policy_t policy, int strict);

/*
 * Carry counters, last-417 time and overrides from `src` into `dst` by
 * vhost name (adding names to dst as needed), e.g. when the table has to
 * grow.  dst's control file must be writable.  Returns APR_ENOSPC if some
 * vhost did not fit (the others are copied).
 */
apr_status_t expect_shm_copy_vhosts(expect_shm_t *dst, const expect_shm_t *src,
                                    int active_only);

/* The configuration generation that last served the segment (control file). */
uint32_t expect_shm_generation(const expect_shm_t *h);

/*
 * Parent: publish in the control file that `pid` (started at `start`, see
 * expect_ctl_header_t) serves the segment with configuration number
 * `generation` (EXPECT_SEG_LIVE); or only change the state (RESTARTING
 * when a new configuration is being read, RETIRED when none serves it).
 * The control file must be writable here (between create or unseal and
 * seal).
 */
apr_status_t expect_shm_publish_state(expect_shm_t *h, uint32_t state, uint32_t generation,
                                      uint32_t pid, uint64_t start);
apr_status_t expect_shm_mark_state(expect_shm_t *h, uint32_t state);

/* What the control file says of the segment's liveness. */
typedef struct {
    uint32_t state;          /* EXPECT_SEG_* */
    uint32_t server_pid;
    uint32_t generation;
    uint64_t state_usec;
    uint64_t created_usec;
    uint64_t server_start;
} expect_shm_liveness_t;
void expect_shm_liveness(const expect_shm_t *h, expect_shm_liveness_t *out);

/* The key a vhost name is stored and looked up under: the name itself when
 * it fits EXPECT_SHM_NAME_LEN, else a prefix, '~' and a hash of the whole
 * name, so two long names never share a row.  dst: EXPECT_SHM_NAME_LEN. */
void expect_shm_name_key(char *dst, const char *name);

/* Unmap both files and close the write descriptor if open. */
void expect_shm_detach(expect_shm_t *h);

/* ---- children (request path: lock-free) ---- */

/*
 * The three calls every judged request makes are inline: each is a bounds
 * check and one memory access, cheaper than the call (make check-perf).
 */

/* The counters of a slot, or NULL when out of range or h is NULL. */
static inline expect_shm_vhost_t *expect_shm_vhost(const expect_shm_t *h, uint32_t slot)
{
    if (h == NULL || h->vhosts == NULL || slot >= h->vhost_capacity) {
        return NULL;
    }
    return &h->vhosts[slot];
}

/* Atomic increment; NULL vh or a bad index is a no-op. */
static inline void expect_shm_count(expect_shm_vhost_t *vh, expect_ctr_t ctr)
{
    if (vh == NULL || (unsigned)ctr >= (unsigned)EXPECT_CTR_COUNT) {
        return;
    }
    __atomic_add_fetch(&vh->ctr[ctr], 1, __ATOMIC_RELAXED);
}
/* Count a 417 under its producer and the total, and note its time. */
void expect_shm_count_417(expect_shm_vhost_t *vh, expect_producer_t producer,
                          uint64_t now_usec);
/* The runtime override for the slot (one atomic load from the read-only
 * control mapping), or EXPECT_POLICY_UNSET. */
static inline expect_policy_t expect_shm_override(const expect_shm_t *h, uint32_t slot)
{
    uint32_t v;

    if (h == NULL || h->ctl == NULL || slot >= h->vhost_capacity) {
        return EXPECT_POLICY_UNSET;
    }
    v = __atomic_load_n(&h->ctl[slot].override, __ATOMIC_RELAXED);
    if (v > (uint32_t)EXPECT_POLICY_IGNORE) {
        return EXPECT_POLICY_UNSET;
    }
    return (expect_policy_t)v;
}

/* Zero the event, content_length -1, status 417. */
void expect_shm_event_init(expect_shm_event_t *ev);
/* Truncating copy that always NUL-terminates and zeroes the rest of dst;
 * NULL src gives "". */
void expect_shm_strlcpy(char *dst, size_t dstsize, const char *src);
#define EXPECT_SHM_EVENT_SET(ev, field, src) \
    expect_shm_strlcpy((ev)->field, sizeof((ev)->field), (src))

/* A writer still holding a slot this many laps of the ring behind a new
 * claim is presumed dead and its slot is taken over. */
#define EXPECT_SHM_STALE_LAPS 4u

/*
 * Claim the next ring slot, to be written in place and then published.
 * Returns NULL if nothing is to be written: no ring, or the slot was still
 * being written by an earlier writer no more than EXPECT_SHM_STALE_LAPS
 * laps behind, or already held a later lap (both counted in ring_dropped).
 * Never blocks or waits.  The slot holds the previous event's bytes: every
 * payload field must be written; publish writes status and reserved0 and
 * NUL-terminates each string field.
 */
expect_shm_event_t *expect_shm_claim(expect_shm_t *h, uint64_t *ticket);
void expect_shm_publish(expect_shm_event_t *rec, uint64_t ticket);

/* Claim, copy ev (its seq and status are ignored) and publish.  Returns 1
 * if recorded, 0 if not (see expect_shm_claim). */
int expect_shm_record(expect_shm_t *h, const expect_shm_event_t *ev);

/* ---- retry tracking (expect_shm_retry.c; request path: lock-free) ---- */

/* The key a 417'd request is remembered by: SipHash, keyed with the
 * control file's retry_key, of the vhost slot, the client's address, the
 * product tokens of its User-Agent (comments and anything that is not
 * name/version left out), the method and the request target; never 0 or 1.
 * Only the product tokens, because a client's own User-Agent can change
 * from one process to the next (boto3's feature list). */
uint64_t expect_retry_key(const expect_shm_t *h, uint32_t slot, const char *client,
                          const char *user_agent, const char *method, const char *target);
/* The declared Content-Length folded into 32 bits (0: none declared). */
uint32_t expect_retry_length_tag(int64_t length);
/*
 * Remember a 417 sent at when_usec to key's client on vhost `slot`, whose
 * event has claim number claim_plus1 - 1 (0: no event), for an upload that
 * declared length_tag.  The same key still pending becomes REPEATED; a
 * full bucket gives up its oldest entry (EVICTED, counted in
 * pending_evicted).  Returns 1 if remembered.
 */
int expect_retry_remember(expect_shm_t *h, uint64_t key, uint64_t when_usec,
                          uint64_t claim_plus1, uint32_t slot, uint32_t length_tag);
/* The client came back at now_usec with an upload of length_tag: its
 * pending 417, if any and if both declared the same length (or either
 * none), is RETRIED (counted on the 417's vhost), or ABANDONED if older
 * than the window.  Returns 1 if one was found. */
int expect_retry_resolve(expect_shm_t *h, uint64_t key, uint64_t now_usec,
                         uint64_t window_usec, uint32_t length_tag);
/* Entries older than the window are ABANDONED; returns how many.  For the
 * httpd parent, from its monitor hook (about every ten seconds). */
uint32_t expect_retry_sweep(expect_shm_t *h, uint64_t now_usec, uint64_t window_usec);

/* The event outcome word (see expect_shm_layout.h). */
uint64_t expect_outcome_word(uint64_t claim, uint32_t state, uint64_t ms);
/* EXPECT_OUTCOME_*, or UNTRACKED when the word belongs to another claim. */
uint32_t expect_outcome_state(uint64_t word, uint64_t claim);
uint64_t expect_outcome_ms(uint64_t word);
/* "pending", "retried", ...: the names stats, events and JSON use. */
const char *expect_outcome_name(uint32_t state);

/* ---- expectctl (reader: trusts nothing) ---- */

/*
 * Check that buf[0, len) is a statistics file / a control file this build
 * can read, or that the two form a pair (each valid, same token and
 * capacity).  On failure writes a one-line reason ("bad magic", "layout
 * version 7, expected 2", ...) into why and returns EXPECT_SHM_ECORRUPT.
 */
expect_shm_err_t expect_shm_validate(const void *buf, size_t len,
                                     char *why, size_t whylen);
expect_shm_err_t expect_shm_validate_control(const void *buf, size_t len,
                                             char *why, size_t whylen);
expect_shm_err_t expect_shm_validate_pair(const void *buf, size_t len,
                                          const void *ctl, size_t ctl_len,
                                          char *why, size_t whylen);

/*
 * Map and validate the segment at path (PATH and PATH.ctl).  Refuses a
 * symlink, a non-regular file and a file owned by anyone but root or the
 * effective user.  writable maps both read-write (needed for set and
 * reset; control_writable is then EXPECT_CTL_MAPPED).  A pair seen while
 * a restart replaces it is retried briefly before being called corrupt.
 */
expect_shm_err_t expect_shm_attach(expect_shm_t *h, const char *path,
                                   int writable, char *why, size_t whylen);

/*
 * The control file alone, for policy, set and reset: a child that damages
 * the statistics file it can write must not lock root out of the control
 * plane.  Validates PATH.ctl only.  The statistics file is mapped for its
 * counter table alone, placed by the control file's capacity, if it is
 * long enough; its header is never read.  Without it, vhosts is NULL
 * (snapshots carry zero counters, reset fails); hdr and ring are NULL.
 */
expect_shm_err_t expect_shm_attach_control(expect_shm_t *h, const char *path,
                                           int writable, char *why, size_t whylen);

/*
 * The reader over bytes already in memory (copies of both files, or a
 * fuzzer's input): validates the pair and fills h exactly as attach does
 * after mmap(), read-only (writable and control_writable 0, dev and ino
 * 0).  Both buffers must stay valid while h is used and must be aligned
 * for uint64_t (EXPECT_SHM_EOTHER otherwise).  Never pass a view to
 * expect_shm_detach(): it did not map them; just forget the handle.
 */
expect_shm_err_t expect_shm_view(expect_shm_t *h, void *buf, size_t len,
                                 void *ctl, size_t ctl_len,
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
    uint64_t pending;            /* 417s awaiting their client now */
} expect_shm_vhost_snap_t;

/*
 * Put one row into dst by name (adding the name as needed): its counters,
 * last-417 time, configured policy, strict and override.  dst's control
 * file must be writable.  APR_ENOSPC if the name does not fit.
 */
apr_status_t expect_shm_put_snapshot(expect_shm_t *dst, const expect_shm_vhost_snap_t *snap,
                                     uint32_t *slot);

/* ---- retry tracking, as a reader shows it (expect_shm_retry.c) ---- */

/* Entries of the pending table whose window is over at now_usec (the
 * sweep has yet to settle them), counted per vhost slot into per_slot[0,
 * nslots), which the caller zeroed; returns them all.  Read snapshots
 * first, then this: an entry settled in between is then counted once. */
uint32_t expect_retry_overdue(const expect_shm_t *h, uint64_t now_usec, uint32_t *per_slot,
                              uint32_t nslots);
/* Show a snapshot's overdue entries as abandoned, not pending. */
void expect_retry_settle_view(expect_shm_vhost_snap_t *v, uint32_t overdue);
/* An event's outcome as a reader should show it at now_usec: pending
 * past the segment's window is abandoned. */
uint32_t expect_outcome_state_at(const expect_shm_t *h, uint64_t word, uint64_t claim,
                                 uint64_t event_usec, uint64_t now_usec);

/* ---- another layout's segment (expect_shm_carry.c) ---- */

/* What a segment pair of any layout from EXPECT_SHM_CARRY_MIN_LAYOUT on
 * holds that can outlive a layout change. */
typedef struct {
    uint32_t layout_version;          /* the files' */
    uint32_t state;                   /* EXPECT_SEG_* */
    uint32_t server_pid;
    uint32_t generation;
    uint64_t server_start;
    uint32_t counters;                /* counters per row read (0: none known) */
    uint32_t nrows;
    uint64_t events;                  /* events the ring held: not carried */
    uint64_t pending;                 /* 417s awaiting their client: not carried */
    expect_shm_vhost_snap_t *rows;    /* nrows of them; expect_shm_carry_free() */
} expect_shm_carry_t;

/* Read the pair at path (statistics file and PATH.ctl) whatever its
 * layout; EXPECT_SHM_OK with *out filled, or an error and why. */
expect_shm_err_t expect_shm_carry_read(const char *path, expect_shm_carry_t *out,
                                       char *why, size_t whylen);
void expect_shm_carry_free(expect_shm_carry_t *c);
/* Put every row read that was active (configured) into dst; *rows and
 * *overrides count what was put. */
apr_status_t expect_shm_carry_into(expect_shm_t *dst, const expect_shm_carry_t *c,
                                   uint32_t *rows, uint32_t *overrides);

/* Number of slots in use (the control file's count), clamped to the
 * validated capacity. */
uint32_t expect_shm_vhost_count(const expect_shm_t *h);
/* Copy one vhost out (name, flags, policy from the control file; counters
 * from the statistics file); -1 if slot >= expect_shm_vhost_count(). */
int expect_shm_snapshot(const expect_shm_t *h, uint32_t slot,
                        expect_shm_vhost_snap_t *out);

/* value: EXPECT_OVERRIDE_NONE or 0..2.  APR_EINVAL for another value or a
 * slot not in use, APR_EACCES when the control file is not writable here. */
apr_status_t expect_shm_set_override(expect_shm_t *h, uint32_t slot,
                                     uint32_t value);
/* The same for every slot the control file marks active. */
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
 * while being copied is skipped.  A record claimed but not yet published
 * (its word still odd, or still an older lap's) is skipped too, unless
 * wait_pending is set: then reading stops there and *next points at it, so
 * a follower picks it up on its next call.  (A follower should retry once
 * with wait_pending 0 if *next stays put for long: its writer may have
 * died or dropped the record.)  Strings in out are always NUL-terminated.
 * The claim number of out[i] is out[i].seq / 2 - 1; out[i].outcome is read
 * last, atomically, and is UNTRACKED if it was another claim's.
 */
size_t expect_shm_read_events(const expect_shm_t *h, uint64_t from,
                              expect_shm_event_t *out, size_t max,
                              int wait_pending, uint64_t *next);

/* The claim number of an event read from the ring: its seq is published
 * as 2n+2 for claim n. */
static inline uint64_t expect_event_claim(const expect_shm_event_t *e)
{
    return e->seq >= 2 ? e->seq / 2 - 1 : 0;
}

/*
 * The outcome word of claim n while its ring slot still holds it (1, and
 * *word), or 0 once a later claim has taken the slot (or it never held
 * n): for the event log's writer, which rechecks a pending event it
 * copied out until its outcome is final.
 */
int expect_shm_event_outcome(const expect_shm_t *h, uint64_t n, uint64_t *word);

#endif /* EXPECT_SHM_H */
