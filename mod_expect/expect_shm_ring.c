/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_shm_ring.c - the request path's writes and the event ring:
 * counting a 417, claiming, writing and publishing an event, and reading
 * the ring back without locks (a seqlock word per slot).
 *
 * Separate because this is what children run concurrently; everything in
 * it is lock-free and never waits (see the memory-order comments).
 */
#include <string.h>

#include "expect_shm_internal.h"

/* ---- request path ---- */

void expect_shm_count_417(expect_shm_vhost_t *vh, expect_producer_t producer,
                          uint64_t now)
{
    static const expect_ctr_t by_producer[EXPECT_PRODUCER_COUNT] = {
        EXPECT_CTR_417_EXPECT, EXPECT_CTR_417_CORE,
        EXPECT_CTR_417_HANDLER, EXPECT_CTR_417_BACKEND
    };
    uint64_t last;

    if (vh == NULL) {
        return;
    }
    if ((unsigned)producer < EXPECT_PRODUCER_COUNT) {
        expect_shm_count(vh, by_producer[producer]);
    }
    expect_shm_count(vh, EXPECT_CTR_417_TOTAL);
    /* Keep the latest time even when children finish out of order. */
    last = __atomic_load_n(&vh->last_417_usec, __ATOMIC_RELAXED);
    while (last < now
           && !__atomic_compare_exchange_n(&vh->last_417_usec, &last, now, 0,
                                           __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        /* last was reloaded by the failed exchange */
    }
}

void expect_shm_event_init(expect_shm_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->content_length = -1;
    ev->status = 417;
}

void expect_shm_strlcpy(char *dst, size_t dstsize, const char *src)
{
    if (dst == NULL || dstsize == 0) {
        return;
    }
    /* strncpy zeroes the whole rest: an event is written over an older,
     * longer one, whose tail (a query string, say) must not outlive it. */
    strncpy(dst, src != NULL ? src : "", dstsize - 1);
    dst[dstsize - 1] = '\0';
}

void expect_shm_terminate_event(expect_shm_event_t *ev)
{
    ev->vhost[sizeof(ev->vhost) - 1] = '\0';
    ev->client[sizeof(ev->client) - 1] = '\0';
    ev->method[sizeof(ev->method) - 1] = '\0';
    ev->uri[sizeof(ev->uri) - 1] = '\0';
    ev->protocol[sizeof(ev->protocol) - 1] = '\0';
    ev->expect[sizeof(ev->expect) - 1] = '\0';
    ev->user_agent[sizeof(ev->user_agent) - 1] = '\0';
}

expect_shm_event_t *expect_shm_claim(expect_shm_t *h, uint64_t *ticket)
{
    expect_shm_event_t *rec;
    uint64_t n, mine, cur, stale;

    if (h == NULL || h->hdr == NULL || h->ring == NULL || h->ring_slots == 0) {
        return NULL;
    }
    n = __atomic_fetch_add(&h->hdr->ring_head, 1, __ATOMIC_RELAXED);
    rec = &h->ring[n % h->ring_slots];
    mine = 2 * n + 1;
    /* A holder this many claims behind ours is presumed dead.  One lap
     * (ring_slots claims) is the normal distance between a slot's
     * successive writers, so the bar must be several laps, not one. */
    stale = (uint64_t)EXPECT_SHM_STALE_LAPS * h->ring_slots;
    cur = __atomic_load_n(&rec->seq, __ATOMIC_RELAXED);
    for (;;) {
        if (cur >= mine) {
            /* A writer a lap ahead already owns the slot: ours is older news. */
            goto dropped;
        }
        if ((cur & 1) && (mine - cur) / 2 <= stale) {
            /* An earlier writer is still copying.  Waiting would be a lock;
             * racing it would publish a torn record.  Drop ours instead.
             * One more than EXPECT_SHM_STALE_LAPS laps older is presumed
             * dead and is taken over, so a crashed child cannot wedge the
             * slot for good. */
            goto dropped;
        }
        if (__atomic_compare_exchange_n(&rec->seq, &cur, mine, 0,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
            break;
        }
    }
    /* Readers must see the odd word before any payload byte changes. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *ticket = mine;
    return rec;

dropped:
    __atomic_add_fetch(&h->hdr->ring_dropped, 1, __ATOMIC_RELAXED);
    return NULL;
}

void expect_shm_publish(expect_shm_event_t *rec, uint64_t ticket)
{
    uint64_t cur = ticket;

    expect_shm_terminate_event(rec);
    rec->status = 417;
    rec->reserved0 = 0;
    /* Publish only if nobody took the slot over meanwhile. */
    __atomic_compare_exchange_n(&rec->seq, &cur, ticket + 1, 0,
                                __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

int expect_shm_record(expect_shm_t *h, const expect_shm_event_t *ev)
{
    expect_shm_event_t *rec;
    uint64_t ticket, claim;
    uint32_t state;

    if (ev == NULL || (rec = expect_shm_claim(h, &ticket)) == NULL) {
        return 0;
    }
    memcpy((char *)rec + sizeof(rec->seq), (const char *)ev + sizeof(ev->seq),
           sizeof(*ev) - sizeof(ev->seq));
    /* A copied event keeps a settled outcome under its new number; a
     * pending one is in no table here, so nobody would settle it. */
    claim = (ticket - 1) / 2;
    state = ev->seq >= 2 ? expect_outcome_state(ev->outcome, ev->seq / 2 - 1)
                         : EXPECT_OUTCOME_UNTRACKED;
    if (state == EXPECT_OUTCOME_PENDING) {
        state = EXPECT_OUTCOME_UNTRACKED;
    }
    rec->outcome = expect_outcome_word(claim, state, expect_outcome_ms(ev->outcome));
    expect_shm_publish(rec, ticket);
    return 1;
}

uint64_t expect_shm_ring_head(const expect_shm_t *h)
{
    if (h == NULL || h->hdr == NULL) {
        return 0;
    }
    return __atomic_load_n(&h->hdr->ring_head, __ATOMIC_ACQUIRE);
}

size_t expect_shm_read_events(const expect_shm_t *h, uint64_t from,
                              expect_shm_event_t *out, size_t max,
                              int wait_pending, uint64_t *next)
{
    uint64_t head, n, s1, s2, o;
    const expect_shm_event_t *rec;
    size_t got = 0;

    head = expect_shm_ring_head(h);
    if (h == NULL || h->ring == NULL || h->ring_slots == 0) {
        if (next != NULL) {
            *next = head;
        }
        return 0;
    }
    n = from;
    if (head >= h->ring_slots && n < head - h->ring_slots) {
        n = head - h->ring_slots;   /* older ones are overwritten */
    }
    if (n > head) {
        n = head;                   /* a new segment restarted the count */
    }
    for (; n < head && got < max; n++) {
        rec = &h->ring[n % h->ring_slots];
        s1 = __atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE);
        if (s1 != 2 * n + 2) {
            /* Claimed but not published yet: being written (2n+1), or its
             * writer has not even marked the slot (an older lap's word). */
            if (s1 <= 2 * n + 1 && wait_pending) {
                break;
            }
            continue;
        }
        memcpy(&out[got], rec, sizeof(*rec));
        /* The copy must be complete before the word is looked at again. */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        s2 = __atomic_load_n(&rec->seq, __ATOMIC_RELAXED);
        if (s1 != s2) {
            continue;               /* overwritten while we copied */
        }
        out[got].seq = s1;
        /* Settled after publication, without the seqlock: its own load. */
        o = __atomic_load_n(&rec->outcome, __ATOMIC_RELAXED);
        if (expect_outcome_state(o, n) == EXPECT_OUTCOME_UNTRACKED) {
            o = expect_outcome_word(n, EXPECT_OUTCOME_UNTRACKED, 0);
        }
        out[got].outcome = o;
        expect_shm_terminate_event(&out[got]);
        got++;
    }
    if (next != NULL) {
        *next = n;
    }
    return got;
}

int expect_shm_event_outcome(const expect_shm_t *h, uint64_t n, uint64_t *word)
{
    const expect_shm_event_t *rec;
    uint64_t o;

    if (h == NULL || h->ring == NULL || h->ring_slots == 0) {
        return 0;
    }
    rec = &h->ring[n % h->ring_slots];
    if (__atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE) != 2 * n + 2) {
        return 0;
    }
    o = __atomic_load_n(&rec->outcome, __ATOMIC_ACQUIRE);
    /* Taken by a later claim meanwhile: the word may be the new event's. */
    if (__atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE) != 2 * n + 2) {
        return 0;
    }
    *word = o;
    return 1;
}
