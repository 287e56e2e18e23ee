/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_shm_retry.c - retry tracking: did a client that got a 417 come
 * back?  A table of pending 417s in the statistics file, shared by every
 * child, keyed by client address, User-Agent, method and request target.
 *
 * Separate from the ring because its rules differ: an entry is owned by
 * whoever swaps its key for EXPECT_PENDING_BUSY, so every operation is a
 * compare-and-swap on one word, and nothing ever waits.  The table is
 * set-associative (EXPECT_PENDING_WAYS entries per bucket), so a lookup
 * reads one bucket, and a full bucket gives up its oldest entry, counted
 * in pending_evicted.  A process that dies while it owns an entry loses
 * that entry (and its event stays "pending"): one slot, never a wedge.
 */
#include <string.h>

#include "expect_shm_internal.h"
#include "expect_siphash.h"

#define OUTCOME_STATE_MASK ((UINT64_C(1) << EXPECT_OUTCOME_STATE_BITS) - 1)
#define OUTCOME_MS_MASK    ((UINT64_C(1) << EXPECT_OUTCOME_MS_BITS) - 1)
/* How often an insert retries when others keep taking its victim. */
#define INSERT_TRIES 4

uint64_t expect_outcome_word(uint64_t claim, uint32_t state, uint64_t ms)
{
    if (ms > OUTCOME_MS_MASK) {
        ms = OUTCOME_MS_MASK;
    }
    return (claim << EXPECT_OUTCOME_TAG_SHIFT)
           | (ms << EXPECT_OUTCOME_STATE_BITS) | (state & OUTCOME_STATE_MASK);
}

uint32_t expect_outcome_state(uint64_t word, uint64_t claim)
{
    uint32_t state = (uint32_t)(word & OUTCOME_STATE_MASK);

    if ((word >> EXPECT_OUTCOME_TAG_SHIFT)
        != (claim & (UINT64_MAX >> EXPECT_OUTCOME_TAG_SHIFT))
        || state >= EXPECT_OUTCOME_STATES) {
        return EXPECT_OUTCOME_UNTRACKED;
    }
    return state;
}

uint64_t expect_outcome_ms(uint64_t word)
{
    return (word >> EXPECT_OUTCOME_STATE_BITS) & OUTCOME_MS_MASK;
}

const char *expect_outcome_name(uint32_t state)
{
    static const char *const names[EXPECT_OUTCOME_STATES] = {
        "untracked", "pending", "retried", "abandoned", "evicted", "repeated"
    };
    return state < EXPECT_OUTCOME_STATES ? names[state] : "untracked";
}

/* What a User-Agent's bytes are to put_products(): RFC 9110's tchar (what
 * a token, and so a product's name and version, is made of), the '/'
 * between the two, the ends of a word, or anything else. */
#define UA_OTHER 0
#define UA_TCHAR 1
#define UA_SLASH 2
#define UA_END   3   /* NUL, space, tab, or a comment's '(' */
static const unsigned char ua_class[256] = {
    ['\0'] = UA_END, [' '] = UA_END, ['\t'] = UA_END, ['('] = UA_END, ['/'] = UA_SLASH,
    ['!'] = UA_TCHAR, ['#'] = UA_TCHAR, ['$'] = UA_TCHAR, ['%'] = UA_TCHAR, ['&'] = UA_TCHAR,
    ['\''] = UA_TCHAR, ['*'] = UA_TCHAR, ['+'] = UA_TCHAR, ['-'] = UA_TCHAR, ['.'] = UA_TCHAR,
    ['^'] = UA_TCHAR, ['_'] = UA_TCHAR, ['`'] = UA_TCHAR, ['|'] = UA_TCHAR, ['~'] = UA_TCHAR,
    ['0' ... '9'] = UA_TCHAR, ['A' ... 'Z'] = UA_TCHAR, ['a' ... 'z'] = UA_TCHAR,
};

/*
 * The product tokens of a User-Agent, each a field, in order:
 * product = token ["/" token].  Comments (parenthesized, nested) and words
 * that are not products are left out: boto3 and aws-cli end theirs with a
 * feature list, "m/U,N,D,b,Z,e", whose order changes from one process to
 * the next, and a comma is no tchar.
 */
static void put_products(expect_sip_t *s, const char *ua)
{
    const unsigned char *p = (const unsigned char *)(ua != NULL ? ua : ""), *w, *slash;
    unsigned char cls;
    int depth;

    for (;;) {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0') {
            return;
        }
        if (*p == '(') {
            for (depth = 0; *p != '\0'; p++) {
                if (*p == '\\' && p[1] != '\0') {
                    p++;
                }
                else if (*p == '(') {
                    depth++;
                }
                else if (*p == ')' && --depth == 0) {
                    p++;
                    break;
                }
            }
            continue;
        }
        w = p;
        slash = NULL;
        while ((cls = ua_class[*p]) == UA_TCHAR) {
            p++;
        }
        if (cls == UA_SLASH && p != w) {
            slash = p++;
            while ((cls = ua_class[*p]) == UA_TCHAR) {
                p++;
            }
        }
        if (cls == UA_END && (slash == NULL || p != slash + 1)) {
            expect_sip_field(s, w, (size_t)(p - w));
            continue;
        }
        /* Not a product: skip the rest of the word. */
        while (ua_class[*p] != UA_END) {
            p++;
        }
    }
}

static void put_field(expect_sip_t *s, const char *v)
{
    if (v == NULL) {
        v = "";
    }
    expect_sip_field(s, v, strlen(v));
}

uint64_t expect_retry_key(const expect_shm_t *h, uint32_t slot, const char *client,
                          const char *user_agent, const char *method, const char *target)
{
    static const uint64_t no_key[2];
    expect_sip_t s;
    uint64_t k;

    expect_sip_init(&s, h != NULL ? h->retry_key : no_key);
    expect_sip_word(&s, slot);
    put_field(&s, client);
    put_products(&s, user_agent);
    /* The end of the products: a word no product's words can be (a
     * product is ASCII, and its last word holds its NUL). */
    expect_sip_word(&s, ~UINT64_C(0));
    put_field(&s, method);
    put_field(&s, target);
    k = expect_sip_final_fields(&s);
    return k > EXPECT_PENDING_BUSY ? k : k + 2;
}

uint32_t expect_retry_length_tag(int64_t length)
{
    uint64_t v = (uint64_t)length;
    uint32_t t;

    if (length < 0) {
        return 0;
    }
    t = (uint32_t)(v ^ (v >> 32)) + 1u;
    return t != 0 ? t : 1;
}

static expect_shm_pending_t *bucket_of(const expect_shm_t *h, uint64_t key)
{
    uint64_t buckets = h->pending_slots / EXPECT_PENDING_WAYS;

    return &h->pending[(key % buckets) * EXPECT_PENDING_WAYS];
}

/* Change the outcome of event `claim` if it is still that event's and
 * still pending: a slot reused by a newer event is left alone. */
static void settle_event(expect_shm_t *h, uint64_t claim, uint32_t state, uint64_t ms)
{
    expect_shm_event_t *rec;
    uint64_t expected;

    if (h->ring == NULL || h->ring_slots == 0) {
        return;
    }
    rec = &h->ring[claim % h->ring_slots];
    expected = expect_outcome_word(claim, EXPECT_OUTCOME_PENDING, 0);
    __atomic_compare_exchange_n(&rec->outcome, &expected,
                                expect_outcome_word(claim, state, ms), 0,
                                __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

static void gauges_add(expect_shm_t *h, uint32_t slot, int64_t d)
{
    if (slot < h->vhost_capacity) {
        __atomic_add_fetch(&h->vhosts[slot].pending, (uint64_t)d, __ATOMIC_RELAXED);
    }
    __atomic_add_fetch(&h->hdr->pending_now, (uint64_t)d, __ATOMIC_RELAXED);
}

/*
 * The owner (key swapped for BUSY) of a live entry ends it: its event gets
 * `state`, its vhost the matching counter, and the gauges lose it.  The
 * caller then frees or refills the entry.
 */
static void end_entry(expect_shm_t *h, const expect_shm_pending_t *e, uint32_t state,
                      uint64_t now_usec)
{
    uint64_t ms = now_usec > e->time_usec ? (now_usec - e->time_usec) / 1000u : 0;
    expect_shm_vhost_t *vh = e->vhost_slot < h->vhost_capacity ? &h->vhosts[e->vhost_slot]
                                                                : NULL;

    if (e->claim != 0) {
        settle_event(h, e->claim - 1, state, ms);
    }
    if (state == EXPECT_OUTCOME_RETRIED) {
        expect_shm_count(vh, EXPECT_CTR_RETRIED);
    }
    else if (state == EXPECT_OUTCOME_ABANDONED) {
        expect_shm_count(vh, EXPECT_CTR_ABANDONED);
    }
    else if (state == EXPECT_OUTCOME_EVICTED) {
        __atomic_add_fetch(&h->hdr->pending_evicted, 1, __ATOMIC_RELAXED);
    }
    gauges_add(h, e->vhost_slot, -1);
}

/* Is an owned entry's window over at now_usec?  The same edge everywhere:
 * at time + window it is over (expect_retry_overdue, the sweep, resolve). */
static int overdue(const expect_shm_t *h, const expect_shm_pending_t *e, uint64_t now_usec)
{
    uint64_t window = (uint64_t)__atomic_load_n(&h->hdr->retry_window_ms, __ATOMIC_RELAXED) * 1000u;

    return window != 0 && e->time_usec + window <= now_usec;
}

static int tracking(const expect_shm_t *h)
{
    return h != NULL && h->hdr != NULL && h->pending != NULL && h->pending_slots != 0
           && h->vhosts != NULL;
}

int expect_retry_remember(expect_shm_t *h, uint64_t key, uint64_t when_usec,
                          uint64_t claim_plus1, uint32_t slot, uint32_t length_tag)
{
    expect_shm_pending_t *b, *victim;
    uint64_t k, seen, oldest, t;
    uint32_t i, state;
    int tries;

    if (!tracking(h) || key <= EXPECT_PENDING_BUSY) {
        return 0;
    }
    b = bucket_of(h, key);
    for (tries = 0; tries < INSERT_TRIES; tries++) {
        /* The same request 417'd again, else a free entry, else the oldest. */
        victim = NULL;
        seen = 0;
        oldest = UINT64_MAX;
        for (i = 0; i < EXPECT_PENDING_WAYS; i++) {
            k = __atomic_load_n(&b[i].key, __ATOMIC_ACQUIRE);
            if (k == key) {
                victim = &b[i];
                seen = k;
                break;
            }
            if (k == EXPECT_PENDING_FREE && (victim == NULL || seen != EXPECT_PENDING_FREE)) {
                victim = &b[i];
                seen = k;
                oldest = 0;
            }
            else if (k > EXPECT_PENDING_BUSY
                     && (t = __atomic_load_n(&b[i].time_usec, __ATOMIC_RELAXED)) < oldest) {
                victim = &b[i];
                seen = k;
                oldest = t;
            }
        }
        if (victim == NULL) {
            break;   /* every entry is being written: drop this one */
        }
        if (!__atomic_compare_exchange_n(&victim->key, &seen, EXPECT_PENDING_BUSY, 0,
                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            continue;
        }
        if (seen != EXPECT_PENDING_FREE) {
            /* One whose window is over was abandoned, whatever comes now:
             * readers already show it so (expect_retry_overdue), and the
             * count they show must never go down. */
            state = overdue(h, victim, when_usec) ? EXPECT_OUTCOME_ABANDONED
                    : seen == key ? EXPECT_OUTCOME_REPEATED : EXPECT_OUTCOME_EVICTED;
            end_entry(h, victim, state, when_usec);
        }
        __atomic_store_n(&victim->time_usec, when_usec, __ATOMIC_RELAXED);
        victim->claim = claim_plus1;
        victim->vhost_slot = slot;
        __atomic_store_n(&victim->length_tag, length_tag, __ATOMIC_RELAXED);
        /* Counted before the key is visible: a gauge never goes below 0. */
        gauges_add(h, slot, 1);
        __atomic_store_n(&victim->key, key, __ATOMIC_RELEASE);
        return 1;
    }
    if (claim_plus1 != 0) {
        /* Never shown as pending when nobody will settle it. */
        settle_event(h, claim_plus1 - 1, EXPECT_OUTCOME_UNTRACKED, 0);
    }
    __atomic_add_fetch(&h->hdr->pending_evicted, 1, __ATOMIC_RELAXED);
    return 0;
}

/* Can a request that declared this length be that upload?  Not when both
 * declared one and they differ (git's 4-byte probe before its push). */
static int same_upload(uint32_t a, uint32_t b)
{
    return a == 0 || b == 0 || a == b;
}

int expect_retry_resolve(expect_shm_t *h, uint64_t key, uint64_t now_usec,
                         uint64_t window_usec, uint32_t length_tag)
{
    expect_shm_pending_t *b;
    uint64_t seen;
    uint32_t i;

    if (!tracking(h) || key <= EXPECT_PENDING_BUSY) {
        return 0;
    }
    b = bucket_of(h, key);
    for (i = 0; i < EXPECT_PENDING_WAYS; i++) {
        seen = key;
        if (__atomic_load_n(&b[i].key, __ATOMIC_RELAXED) == key
            && same_upload(__atomic_load_n(&b[i].length_tag, __ATOMIC_RELAXED), length_tag)
            && __atomic_compare_exchange_n(&b[i].key, &seen, EXPECT_PENDING_BUSY, 0,
                                           __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            /* Owned now: the tag read before the swap may have been
             * another 417's. */
            if (!same_upload(b[i].length_tag, length_tag)) {
                __atomic_store_n(&b[i].key, key, __ATOMIC_RELEASE);
                continue;
            }
            /* Back, but later than the window: the sweep was just slow. */
            end_entry(h, &b[i], b[i].time_usec + window_usec > now_usec
                                    ? EXPECT_OUTCOME_RETRIED : EXPECT_OUTCOME_ABANDONED,
                      now_usec);
            __atomic_store_n(&b[i].key, EXPECT_PENDING_FREE, __ATOMIC_RELEASE);
            return 1;
        }
    }
    return 0;
}

uint32_t expect_retry_sweep(expect_shm_t *h, uint64_t now_usec, uint64_t window_usec)
{
    expect_shm_pending_t *e;
    uint64_t k;
    uint32_t i, n = 0;

    if (!tracking(h)) {
        return 0;
    }
    for (i = 0; i < h->pending_slots; i++) {
        e = &h->pending[i];
        k = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);
        if (k <= EXPECT_PENDING_BUSY
            || __atomic_load_n(&e->time_usec, __ATOMIC_RELAXED) + window_usec > now_usec
            || !__atomic_compare_exchange_n(&e->key, &k, EXPECT_PENDING_BUSY, 0,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            continue;
        }
        /* Owned now: the time read before the swap may have been another
         * 417's, so look again. */
        if (e->time_usec + window_usec > now_usec) {
            __atomic_store_n(&e->key, k, __ATOMIC_RELEASE);
            continue;
        }
        end_entry(h, e, EXPECT_OUTCOME_ABANDONED, now_usec);
        __atomic_store_n(&e->key, EXPECT_PENDING_FREE, __ATOMIC_RELEASE);
        n++;
    }
    return n;
}

/*
 * The parent's sweep settles overdue entries every few seconds (httpd runs
 * the monitor hook about every 10); a reader that knows the window and the
 * clock need not show them as pending meanwhile.
 */
uint32_t expect_retry_overdue(const expect_shm_t *h, uint64_t now_usec, uint32_t *per_slot,
                              uint32_t nslots)
{
    uint64_t window, k;
    uint32_t i, n = 0, slot;

    if (!tracking(h) || __atomic_load_n(&h->hdr->pending_now, __ATOMIC_RELAXED) == 0) {
        return 0;
    }
    window = (uint64_t)__atomic_load_n(&h->hdr->retry_window_ms, __ATOMIC_RELAXED) * 1000u;
    for (i = 0; i < h->pending_slots; i++) {
        k = __atomic_load_n(&h->pending[i].key, __ATOMIC_ACQUIRE);
        if (k <= EXPECT_PENDING_BUSY
            || __atomic_load_n(&h->pending[i].time_usec, __ATOMIC_RELAXED) + window > now_usec) {
            continue;
        }
        slot = __atomic_load_n(&h->pending[i].vhost_slot, __ATOMIC_RELAXED);
        if (slot < nslots) {
            per_slot[slot]++;
        }
        n++;
    }
    return n;
}

void expect_retry_settle_view(expect_shm_vhost_snap_t *v, uint32_t overdue)
{
    if (overdue > v->pending) {
        overdue = (uint32_t)v->pending;
    }
    v->pending -= overdue;
    v->ctr[EXPECT_CTR_ABANDONED] += overdue;
}

uint32_t expect_outcome_state_at(const expect_shm_t *h, uint64_t word, uint64_t claim,
                                 uint64_t event_usec, uint64_t now_usec)
{
    uint32_t state = expect_outcome_state(word, claim);
    uint64_t window;

    if (state == EXPECT_OUTCOME_PENDING && h != NULL && h->hdr != NULL) {
        window = (uint64_t)__atomic_load_n(&h->hdr->retry_window_ms, __ATOMIC_RELAXED) * 1000u;
        if (event_usec + window <= now_usec) {
            state = EXPECT_OUTCOME_ABANDONED;
        }
    }
    return state;
}
