/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_retry.c - retry tracking in the core (expect_shm_retry.c): the
 * outcome word, remember/resolve/sweep, a full bucket giving up its oldest
 * entry, a repeated 417, the gauges, and children racing on one table.
 * No httpd: a segment in a temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect_shm.h"

#define SEC UINT64_C(1000000)
#define T0  (UINT64_C(1700000000) * SEC)

typedef struct {
    char dir[256];
    char path[300];
    expect_shm_t h;
} fixture_t;

static int make(void **state, uint32_t pending)
{
    fixture_t *fx = calloc(1, sizeof(*fx));
    const char *tmp = getenv("TMPDIR");
    char why[256];
    uint32_t slot;

    if (fx == NULL) {
        return -1;
    }
    snprintf(fx->dir, sizeof(fx->dir), "%s/expect-retry-XXXXXX", (tmp && *tmp) ? tmp : "/tmp");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/seg", fx->dir);
    if (expect_shm_create(&fx->h, fx->path, 8, 16, pending, why, sizeof(why)) != APR_SUCCESS
        || expect_shm_vhost_add(&fx->h, "a:80", &slot) != APR_SUCCESS
        || expect_shm_vhost_add(&fx->h, "b:80", &slot) != APR_SUCCESS) {
        fprintf(stderr, "create: %s\n", why);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int retry_setup(void **state)
{
    return make(state, 64);
}

/* One bucket: every key shares it. */
static int setup_one_bucket(void **state)
{
    return make(state, EXPECT_PENDING_WAYS);
}

static int retry_teardown(void **state)
{
    fixture_t *fx = *state;

    expect_shm_remove(&fx->h, fx->path);
    expect_shm_detach(&fx->h);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* A 417 as the module records it: an event with a pending outcome, then
 * the table entry.  Returns the event's claim number. */
static uint64_t add_417(fixture_t *fx, uint64_t key, uint64_t when, uint32_t slot)
{
    expect_shm_event_t *ev;
    uint64_t ticket, claim;

    ev = expect_shm_claim(&fx->h, &ticket);
    assert_non_null(ev);
    claim = (ticket - 1) / 2;
    memset((char *)ev + sizeof(ev->seq), 0, sizeof(*ev) - sizeof(ev->seq));
    ev->time_usec = when;
    ev->vhost_slot = slot;
    ev->outcome = expect_outcome_word(claim, EXPECT_OUTCOME_PENDING, 0);
    expect_shm_publish(ev, ticket);
    assert_int_equal(expect_retry_remember(&fx->h, key, when, claim + 1, slot, 0), 1);
    return claim;
}

/* The outcome of event `claim`, as a reader sees it. */
static uint32_t outcome_of(const fixture_t *fx, uint64_t claim, uint64_t *ms)
{
    expect_shm_event_t ev[16];
    uint64_t next;
    size_t n, i;

    n = expect_shm_read_events(&fx->h, 0, ev, 16, 0, &next);
    for (i = 0; i < n; i++) {
        if (ev[i].seq / 2 - 1 == claim) {
            if (ms != NULL) {
                *ms = expect_outcome_ms(ev[i].outcome);
            }
            return expect_outcome_state(ev[i].outcome, claim);
        }
    }
    fail_msg("event %llu not found", (unsigned long long)claim);
    return EXPECT_OUTCOME_UNTRACKED;
}

static uint64_t ctr(const fixture_t *fx, uint32_t slot, expect_ctr_t c)
{
    return fx->h.vhosts[slot].ctr[c];
}

static void test_outcome_word(void **state)
{
    uint64_t w = expect_outcome_word(12345, EXPECT_OUTCOME_RETRIED, 850);

    (void)state;
    assert_int_equal(expect_outcome_state(w, 12345), EXPECT_OUTCOME_RETRIED);
    assert_int_equal(expect_outcome_ms(w), 850);
    /* Another claim's word (the slot was reused) reads as untracked. */
    assert_int_equal(expect_outcome_state(w, 12346), EXPECT_OUTCOME_UNTRACKED);
    /* A huge delay saturates instead of spilling into the tag. */
    w = expect_outcome_word(7, EXPECT_OUTCOME_RETRIED, UINT64_MAX);
    assert_int_equal(expect_outcome_state(w, 7), EXPECT_OUTCOME_RETRIED);
    assert_int_equal(expect_outcome_ms(w), UINT32_MAX);
    /* A state this build does not know is untracked, not trusted. */
    assert_int_equal(expect_outcome_state(expect_outcome_word(7, 7, 0), 7),
                     EXPECT_OUTCOME_UNTRACKED);
    assert_string_equal(expect_outcome_name(EXPECT_OUTCOME_ABANDONED), "abandoned");
    assert_string_equal(expect_outcome_name(99), "untracked");
}

static uint64_t key_with(const expect_shm_t *h, uint32_t slot, const char *client,
                         const char *ua)
{
    return expect_retry_key(h, slot, client, ua, "PUT", "/up");
}

static void test_key(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t other = fx->h;
    uint64_t k = key_with(&fx->h, 0, "192.0.2.1", "curl/7.88");

    assert_true(k > EXPECT_PENDING_BUSY);
    assert_true(k == key_with(&fx->h, 0, "192.0.2.1", "curl/7.88"));
    assert_true(k != key_with(&fx->h, 0, "192.0.2.2", "curl/7.88"));
    assert_true(k != key_with(&fx->h, 0, "192.0.2.1", "curl/8.0"));
    assert_true(k != expect_retry_key(&fx->h, 0, "192.0.2.1", "curl/7.88", "POST", "/up"));
    assert_true(k != expect_retry_key(&fx->h, 0, "192.0.2.1", "curl/7.88", "PUT", "/up?x"));
    /* Another vhost is another key: an outcome depends on one vhost only. */
    assert_true(k != key_with(&fx->h, 1, "192.0.2.1", "curl/7.88"));
    /* Another segment's secret, another key: nobody outside can aim. */
    other.retry_key[0] ^= 1;
    assert_true(k != key_with(&other, 0, "192.0.2.1", "curl/7.88"));
    /* Field boundaries count: "ab"+"c" is not "a"+"bc". */
    assert_true(expect_retry_key(&fx->h, 0, "ab", "c", "M", "/")
                != expect_retry_key(&fx->h, 0, "a", "bc", "M", "/"));
    /* No User-Agent is a value of its own, not a crash. */
    assert_true(key_with(&fx->h, 0, "192.0.2.1", NULL) > EXPECT_PENDING_BUSY);
    assert_true(key_with(&fx->h, 0, "192.0.2.1", NULL) == key_with(&fx->h, 0, "192.0.2.1", ""));
}

/* Only the product tokens of a User-Agent identify the client. */
static void test_key_products(void **state)
{
    fixture_t *fx = *state;
    const char *boto1 = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1.0 "
                        "md/arch#x86_64 lang/python#3.11.2 cfg/retry-mode#legacy "
                        "Botocore/1.34.0 m/U,N,D,b,Z,e";
    const char *boto2 = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1.0 "
                        "md/arch#x86_64 lang/python#3.11.2 cfg/retry-mode#legacy "
                        "Botocore/1.34.0 m/Z,e,U,b,D,N";
    const char *boto_new = "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1.0 "
                           "md/arch#x86_64 lang/python#3.11.2 cfg/retry-mode#legacy "
                           "Botocore/1.35.0 m/U,N,D,b,Z,e";

    assert_true(key_with(&fx->h, 0, "c", boto1) == key_with(&fx->h, 0, "c", boto2));
    assert_true(key_with(&fx->h, 0, "c", boto1) != key_with(&fx->h, 0, "c", boto_new));
    /* Comments (nested, with escapes) and spacing are not products. */
    assert_true(key_with(&fx->h, 0, "c", "Mozilla/5.0 (X11; Linux (x86_64) \\) ) Firefox/120.0")
                == key_with(&fx->h, 0, "c", "Mozilla/5.0   Firefox/120.0 (other)"));
    assert_true(key_with(&fx->h, 0, "c", "Mozilla/5.0 Firefox/120.0")
                != key_with(&fx->h, 0, "c", "Firefox/120.0 Mozilla/5.0"));
    /* Words that are not name/version ("a/b/c", "/x", "y/") are left out. */
    assert_true(key_with(&fx->h, 0, "c", "git/2.39.5 a/b/c /x y/")
                == key_with(&fx->h, 0, "c", "git/2.39.5"));
    /* A bare product name is a product. */
    assert_true(key_with(&fx->h, 0, "c", "git/2.39.5 libcurl")
                != key_with(&fx->h, 0, "c", "git/2.39.5"));
}

static void test_length_tag(void **state)
{
    fixture_t *fx = *state;
    uint64_t key = key_with(&fx->h, 0, "192.0.2.1", "git/2.39.5");

    (void)state;
    assert_int_equal(expect_retry_length_tag(-1), 0);
    assert_true(expect_retry_length_tag(0) != 0);
    assert_true(expect_retry_length_tag(4) != expect_retry_length_tag(5));
    assert_true(expect_retry_length_tag(INT64_MAX) != 0);
    /* A 417 to a push of 1,000,000 bytes; git's 4-byte probe to the same
     * target is not its retry; a resend of the same length, or one with no
     * length (chunked), is. */
    assert_int_equal(expect_retry_remember(&fx->h, key, T0, 0, 0, expect_retry_length_tag(1000000)),
                     1);
    assert_int_equal(expect_retry_resolve(&fx->h, key, T0 + SEC, 30 * SEC,
                                          expect_retry_length_tag(4)), 0);
    assert_int_equal(expect_retry_resolve(&fx->h, key, T0 + SEC, 30 * SEC,
                                          expect_retry_length_tag(1000000)), 1);
    assert_int_equal(expect_retry_remember(&fx->h, key, T0, 0, 0, expect_retry_length_tag(7)), 1);
    assert_int_equal(expect_retry_resolve(&fx->h, key, T0 + SEC, 30 * SEC, 0), 1);
    assert_int_equal(expect_retry_remember(&fx->h, key, T0, 0, 0, 0), 1);
    assert_int_equal(expect_retry_resolve(&fx->h, key, T0 + SEC, 30 * SEC,
                                          expect_retry_length_tag(4)), 1);
}

static void test_retried(void **state)
{
    fixture_t *fx = *state;
    uint64_t key = expect_retry_key(&fx->h, 0, "192.0.2.1", "ua", "PUT", "/a"), ms = 0, claim;

    claim = add_417(fx, key, T0, 1);
    assert_int_equal(fx->h.hdr->pending_now, 1);
    assert_int_equal(fx->h.vhosts[1].pending, 1);
    assert_int_equal(outcome_of(fx, claim, NULL), EXPECT_OUTCOME_PENDING);
    /* Another client, or another target, is not this one coming back. */
    assert_int_equal(expect_retry_resolve(&fx->h, key + 1, T0 + SEC, 30 * SEC, 0), 0);
    assert_int_equal(expect_retry_resolve(&fx->h, key, T0 + 850000, 30 * SEC, 0), 1);
    assert_int_equal(outcome_of(fx, claim, &ms), EXPECT_OUTCOME_RETRIED);
    assert_int_equal(ms, 850);
    assert_int_equal(ctr(fx, 1, EXPECT_CTR_RETRIED), 1);
    assert_int_equal(ctr(fx, 1, EXPECT_CTR_ABANDONED), 0);
    assert_int_equal(fx->h.hdr->pending_now, 0);
    assert_int_equal(fx->h.vhosts[1].pending, 0);
    /* Resolved once: a second request is nothing. */
    assert_int_equal(expect_retry_resolve(&fx->h, key, T0 + SEC, 30 * SEC, 0), 0);
    assert_int_equal(ctr(fx, 1, EXPECT_CTR_RETRIED), 1);
}

static void test_abandoned(void **state)
{
    fixture_t *fx = *state;
    uint64_t k1 = expect_retry_key(&fx->h, 0, "192.0.2.1", "ua", "PUT", "/a");
    uint64_t k2 = expect_retry_key(&fx->h, 0, "192.0.2.1", "ua", "PUT", "/b");
    uint64_t c1, c2;

    c1 = add_417(fx, k1, T0, 0);
    c2 = add_417(fx, k2, T0 + 20 * SEC, 0);
    /* Before the window ends nothing is abandoned. */
    assert_int_equal(expect_retry_sweep(&fx->h, T0 + 29 * SEC, 30 * SEC), 0);
    assert_int_equal(expect_retry_sweep(&fx->h, T0 + 31 * SEC, 30 * SEC), 1);
    assert_int_equal(outcome_of(fx, c1, NULL), EXPECT_OUTCOME_ABANDONED);
    assert_int_equal(outcome_of(fx, c2, NULL), EXPECT_OUTCOME_PENDING);
    assert_int_equal(ctr(fx, 0, EXPECT_CTR_ABANDONED), 1);
    assert_int_equal(fx->h.hdr->pending_now, 1);
    /* Back after the window, before a sweep saw it: still abandoned. */
    assert_int_equal(expect_retry_resolve(&fx->h, k2, T0 + 51 * SEC, 30 * SEC, 0), 1);
    assert_int_equal(outcome_of(fx, c2, NULL), EXPECT_OUTCOME_ABANDONED);
    assert_int_equal(ctr(fx, 0, EXPECT_CTR_ABANDONED), 2);
    assert_int_equal(ctr(fx, 0, EXPECT_CTR_RETRIED), 0);
    assert_int_equal(fx->h.hdr->pending_now, 0);
    assert_int_equal(fx->h.vhosts[0].pending, 0);
}

static void test_repeated(void **state)
{
    fixture_t *fx = *state;
    uint64_t key = expect_retry_key(&fx->h, 0, "192.0.2.1", "ua", "PUT", "/a"), c1, c2;

    c1 = add_417(fx, key, T0, 0);
    c2 = add_417(fx, key, T0 + SEC, 0);
    /* The client tried again with Expect: one upload, one entry. */
    assert_int_equal(outcome_of(fx, c1, NULL), EXPECT_OUTCOME_REPEATED);
    assert_int_equal(outcome_of(fx, c2, NULL), EXPECT_OUTCOME_PENDING);
    assert_int_equal(fx->h.hdr->pending_now, 1);
    assert_int_equal(expect_retry_resolve(&fx->h, key, T0 + 2 * SEC, 30 * SEC, 0), 1);
    assert_int_equal(outcome_of(fx, c2, NULL), EXPECT_OUTCOME_RETRIED);
    assert_int_equal(ctr(fx, 0, EXPECT_CTR_RETRIED), 1);
    assert_int_equal(ctr(fx, 0, EXPECT_CTR_ABANDONED), 0);
}

static void test_full_bucket_evicts_oldest(void **state)
{
    fixture_t *fx = *state;
    uint64_t claims[EXPECT_PENDING_WAYS + 2], keys[EXPECT_PENDING_WAYS + 2];
    char uri[32];
    uint32_t i;

    /* Inserted out of time order: eviction goes by age, not position. */
    for (i = 0; i < EXPECT_PENDING_WAYS + 2; i++) {
        snprintf(uri, sizeof(uri), "/u%u", i);
        keys[i] = expect_retry_key(&fx->h, 0, "192.0.2.1", "ua", "PUT", uri);
        claims[i] = add_417(fx, keys[i], T0 + (i == 3 ? 0 : (i + 10) * SEC), 0);
    }
    /* Entry 3 was the oldest, then entry 0. */
    assert_int_equal(outcome_of(fx, claims[3], NULL), EXPECT_OUTCOME_EVICTED);
    assert_int_equal(outcome_of(fx, claims[0], NULL), EXPECT_OUTCOME_EVICTED);
    assert_int_equal(outcome_of(fx, claims[1], NULL), EXPECT_OUTCOME_PENDING);
    assert_int_equal(fx->h.hdr->pending_evicted, 2);
    assert_int_equal(fx->h.hdr->pending_now, EXPECT_PENDING_WAYS);
    /* Evicted is neither retried nor abandoned; the others still resolve. */
    assert_int_equal(expect_retry_resolve(&fx->h, keys[3], T0 + 20 * SEC, 30 * SEC, 0), 0);
    assert_int_equal(expect_retry_resolve(&fx->h, keys[9], T0 + 20 * SEC, 30 * SEC, 0), 1);
    assert_int_equal(ctr(fx, 0, EXPECT_CTR_RETRIED), 1);
    assert_int_equal(ctr(fx, 0, EXPECT_CTR_ABANDONED), 0);
}

static void test_no_table(void **state)
{
    fixture_t *fx = *state;
    expect_shm_t none;
    char why[256];
    char path[340];

    snprintf(path, sizeof(path), "%s/none", fx->dir);
    assert_int_equal(expect_shm_create(&none, path, 1, 0, 0, why, sizeof(why)), APR_SUCCESS);
    assert_null(none.pending);
    assert_int_equal(expect_retry_remember(&none, 99, T0, 0, 0, 0), 0);
    assert_int_equal(expect_retry_resolve(&none, 99, T0, SEC, 0), 0);
    assert_int_equal(expect_retry_sweep(&none, T0, SEC), 0);
    expect_shm_remove(&none, path);
    expect_shm_detach(&none);
    assert_int_equal(expect_retry_remember(NULL, 99, T0, 0, 0, 0), 0);
    /* Reserved keys are never stored. */
    assert_int_equal(expect_retry_remember(&fx->h, EXPECT_PENDING_BUSY, T0, 0, 0, 0), 0);
}

/* A copied event (a rebuilt segment) keeps a settled outcome; a pending
 * one would never be settled there, so it becomes untracked. */
static void test_record_copies_outcome(void **state)
{
    fixture_t *fx = *state;
    uint64_t k1 = expect_retry_key(&fx->h, 0, "c", "ua", "PUT", "/1");
    uint64_t k2 = expect_retry_key(&fx->h, 0, "c", "ua", "PUT", "/2");
    expect_shm_event_t ev[4];
    uint64_t next, c1;
    size_t n;

    c1 = add_417(fx, k1, T0, 0);
    add_417(fx, k2, T0, 0);
    assert_int_equal(expect_retry_resolve(&fx->h, k1, T0 + 5000, 30 * SEC, 0), 1);
    n = expect_shm_read_events(&fx->h, 0, ev, 4, 0, &next);
    assert_int_equal(n, 2);
    assert_int_equal(ev[0].seq / 2 - 1, c1);
    assert_int_equal(expect_shm_record(&fx->h, &ev[0]), 1);
    assert_int_equal(expect_shm_record(&fx->h, &ev[1]), 1);
    assert_int_equal(outcome_of(fx, 2, NULL), EXPECT_OUTCOME_RETRIED);
    assert_int_equal(outcome_of(fx, 3, NULL), EXPECT_OUTCOME_UNTRACKED);
}

/* Children remember and resolve concurrently: every 417 ends exactly once
 * and the gauges come back to zero. */
static void test_concurrent(void **state)
{
    fixture_t *fx = *state;
    enum { KIDS = 4, EACH = 2000 };
    char ua[32], uri[32];
    uint64_t key, total;
    pid_t pids[KIDS];
    int i, j, st;

    for (i = 0; i < KIDS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            snprintf(ua, sizeof(ua), "kid%d", i);
            for (j = 0; j < EACH; j++) {
                snprintf(uri, sizeof(uri), "/%d", j % 16);
                key = expect_retry_key(&fx->h, 0, "c", ua, "PUT", uri);
                expect_retry_remember(&fx->h, key, T0 + (uint64_t)j, 0, (uint32_t)(i % 2), 0);
                if (j % 3 == 0) {
                    expect_retry_resolve(&fx->h, key, T0 + (uint64_t)j + 1, 30 * SEC, 0);
                }
            }
            _exit(0);
        }
    }
    for (i = 0; i < KIDS; i++) {
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    expect_retry_sweep(&fx->h, T0 + 3600 * SEC, 30 * SEC);
    assert_int_equal(fx->h.hdr->pending_now, 0);
    assert_int_equal(fx->h.vhosts[0].pending, 0);
    assert_int_equal(fx->h.vhosts[1].pending, 0);
    for (i = 0; i < (int)fx->h.pending_slots; i++) {
        assert_int_equal(fx->h.pending[i].key, EXPECT_PENDING_FREE);
    }
    total = ctr(fx, 0, EXPECT_CTR_RETRIED) + ctr(fx, 1, EXPECT_CTR_RETRIED)
            + ctr(fx, 0, EXPECT_CTR_ABANDONED) + ctr(fx, 1, EXPECT_CTR_ABANDONED);
    /* Every remembered 417 is retried, abandoned, evicted or repeated. */
    assert_true(total > 0);
    assert_true(total + fx->h.hdr->pending_evicted <= (uint64_t)KIDS * EACH);
}

/* What readers show as abandoned never goes down: an entry they already
 * show abandoned (its window over, the sweep not yet run) that a new 417
 * pushes out of a full bucket, or that the same client's new 417
 * replaces, is ended abandoned, not evicted or repeated. */
static void shown_abandoned(const fixture_t *fx, uint64_t now, uint64_t *abandoned,
                            uint64_t *pending)
{
    expect_shm_vhost_snap_t v;
    uint32_t overdue[8] = {0};

    assert_int_equal(expect_shm_snapshot(&fx->h, 0, &v), 0);
    expect_retry_overdue(&fx->h, now, overdue, 8);
    expect_retry_settle_view(&v, overdue[0]);
    *abandoned = v.ctr[EXPECT_CTR_ABANDONED];
    *pending = v.pending;
}

static void test_overdue_victim_is_abandoned(void **state)
{
    fixture_t *fx = *state;
    uint64_t keys[EXPECT_PENDING_WAYS], a0, p0, a1, p1, ms, c_first;
    char uri[16];
    uint32_t i;

    __atomic_store_n(&fx->h.hdr->retry_window_ms, 1000u, __ATOMIC_RELAXED);
    for (i = 0; i < EXPECT_PENDING_WAYS; i++) {
        snprintf(uri, sizeof(uri), "/%u", i);
        keys[i] = expect_retry_key(&fx->h, 0, "192.0.2.1", "ua", "PUT", uri);
        c_first = add_417(fx, keys[i], T0 + i, 0);
        (void)c_first;
    }
    shown_abandoned(fx, T0 + 5 * SEC, &a0, &p0);
    assert_int_equal(a0, EXPECT_PENDING_WAYS);
    assert_int_equal(p0, 0);
    /* A stranger's 417 needs a slot: the oldest gives way, abandoned. */
    add_417(fx, expect_retry_key(&fx->h, 0, "192.0.2.9", "ua", "PUT", "/x"), T0 + 5 * SEC, 0);
    shown_abandoned(fx, T0 + 5 * SEC, &a1, &p1);
    assert_int_equal(a1, EXPECT_PENDING_WAYS);
    assert_int_equal(p1, 1);
    assert_int_equal(__atomic_load_n(&fx->h.hdr->pending_evicted, __ATOMIC_RELAXED), 0);
    /* The same client again, its earlier 417 overdue: abandoned, not repeated. */
    add_417(fx, keys[3], T0 + 5 * SEC, 0);
    shown_abandoned(fx, T0 + 5 * SEC, &a1, &p1);
    assert_int_equal(a1, EXPECT_PENDING_WAYS);
    assert_int_equal(p1, 2);
    /* At window's end exactly, a resend is too late everywhere: the
     * resent one and the stranger's are abandoned too now. */
    assert_int_equal(expect_retry_resolve(&fx->h, keys[3], T0 + 6 * SEC, 1 * SEC, 0), 1);
    assert_int_equal(fx->h.vhosts[0].ctr[EXPECT_CTR_RETRIED], 0);
    shown_abandoned(fx, T0 + 6 * SEC, &a1, &p1);
    assert_int_equal(a1, EXPECT_PENDING_WAYS + 2);
    assert_int_equal(p1, 0);
    (void)ms;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcome_word),
        cmocka_unit_test_setup_teardown(test_key, retry_setup, retry_teardown),
        cmocka_unit_test_setup_teardown(test_key_products, retry_setup, retry_teardown),
        cmocka_unit_test_setup_teardown(test_length_tag, retry_setup, retry_teardown),
        cmocka_unit_test_setup_teardown(test_retried, retry_setup, retry_teardown),
        cmocka_unit_test_setup_teardown(test_abandoned, retry_setup, retry_teardown),
        cmocka_unit_test_setup_teardown(test_repeated, retry_setup, retry_teardown),
        cmocka_unit_test_setup_teardown(test_overdue_victim_is_abandoned, setup_one_bucket,
                                        retry_teardown),
        cmocka_unit_test_setup_teardown(test_full_bucket_evicts_oldest, setup_one_bucket,
                                        retry_teardown),
        cmocka_unit_test_setup_teardown(test_no_table, retry_setup, retry_teardown),
        cmocka_unit_test_setup_teardown(test_record_copies_outcome, retry_setup, retry_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, retry_setup, retry_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
