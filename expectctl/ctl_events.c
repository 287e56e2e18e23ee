/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_events.c - `expectctl events`: the recent 417s, newest last, one
 * line each; --json for machines; --follow streams new ones.  Every string
 * came from a client, so every string is escaped.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "expect_clients.h"
#include "expect_event_json.h"
#include "expect_format.h"

#define BATCH 256
#define FOLLOW_POLL_MS 200
/* A slot still being written after this long belongs to a dead writer. */
#define FOLLOW_PENDING_MS 2000
/* How often a follower checks that the files at the path are still its own. */
#define FOLLOW_CHECK_MS 1000

/* The newest event shown, so that a reattached follower skips it. */
static uint64_t last_shown_usec;

static volatile sig_atomic_t stop_following;

static void on_signal(int sig)
{
    (void)sig;
    stop_following = 1;
}

/* The event's claim number, which its outcome word is tagged with. */
static uint64_t claim_of(const expect_shm_event_t *e)
{
    return e->seq / 2 - 1;
}

/* "retried after 850 ms", "abandoned", "pending", ... */
static void outcome_text(const expect_shm_t *h, char *buf, size_t len,
                         const expect_shm_event_t *e)
{
    uint32_t st = expect_outcome_state_at(h, e->outcome, claim_of(e), e->time_usec,
                                          ctl_now_usec());

    if (st == EXPECT_OUTCOME_RETRIED) {
        snprintf(buf, len, "retried after %" PRIu64 " ms", expect_outcome_ms(e->outcome));
    }
    else {
        snprintf(buf, len, "%s", expect_outcome_name(st));
    }
}

static void print_event_text(const expect_shm_t *h, const expect_shm_event_t *e,
                             const char *server)
{
    char outcome[64];
    char fix[2048];
    const expect_client_t *client;
    char when[40];

    ctl_format_time(when, sizeof(when), e->time_usec);
    /* From an event log of many servers: which one. */
    if (server != NULL) {
        expect_fput_text(stdout, server);
        putchar(' ');
    }
    printf("%s ", when);
    expect_fput_text(stdout, e->vhost);
    putchar(' ');
    expect_fput_text(stdout, e->client);
    printf(" \"");
    expect_fput_text(stdout, e->method);
    putchar(' ');
    expect_fput_text(stdout, e->uri);
    putchar(' ');
    expect_fput_text(stdout, e->protocol);
    printf("\" expect=\"");
    expect_fput_text(stdout, e->expect);
    printf("\" length=");
    if (e->content_length < 0) {
        putchar('-');
    }
    else {
        printf("%" PRId64, e->content_length);
    }
    printf(" ua=\"");
    expect_fput_text(stdout, e->user_agent);
    outcome_text(h, outcome, sizeof(outcome), e);
    printf("\" outcome=\"%s\" by=%s: ", outcome, expect_producer_name(e->producer));
    expect_fput_text(stdout, expect_event_fix(e, &client, fix, sizeof(fix)));
    putchar('\n');
}

/* expect_event_json's output with "server" first, for an event of a log
 * line (events --from): the formatter's opening brace, then the field. */
typedef struct {
    const char *server;
    int opened;
} with_server_t;

static void emit_with_server(void *ctx, const char *s, size_t len)
{
    with_server_t *w = ctx;

    if (!w->opened && len > 0 && s[0] == '{') {
        w->opened = 1;
        fputs("{\"server\": ", stdout);
        expect_fput_json_string(stdout, w->server);
        fputs(", ", stdout);
        s++;
        len--;
    }
    ctl_emit_stdout(NULL, s, len);
}

/* The same formatter as ExpectEventLog's lines (expect_event_json.c);
 * added with --from: the ServerName of the log line, first. */
static void print_event_json(const expect_shm_t *h, const expect_shm_event_t *e,
                             const char *server)
{
    uint32_t state = expect_outcome_state_at(h, e->outcome, claim_of(e), e->time_usec,
                                             ctl_now_usec());
    with_server_t w;

    if (server == NULL) {
        expect_event_json(ctl_emit_stdout, NULL, e, state);
        return;
    }
    w.server = server;
    w.opened = 0;
    expect_event_json(emit_with_server, &w, e, state);
}

void ctl_events_begin(const ctl_opts_t *o)
{
    if (o->format == CTL_FMT_JSON && !o->follow) {
        printf("{\"format\": \"mod_expect.events\", \"version\": 1, \"events\": [");
    }
}

void ctl_events_print(const expect_shm_t *h, const expect_shm_event_t *e, const char *server,
                      const ctl_opts_t *o, int *first)
{
    if (o->format == CTL_FMT_JSON) {
        if (o->follow) {
            print_event_json(h, e, server);
            putchar('\n');
        }
        else {
            printf("%s\n  ", *first ? "" : ",");
            print_event_json(h, e, server);
        }
        *first = 0;
    }
    else {
        print_event_text(h, e, server);
    }
}

void ctl_events_end(const ctl_opts_t *o)
{
    if (o->format == CTL_FMT_JSON && !o->follow) {
        printf("\n]}\n");
    }
}

/* Print events claimed in [from, until); returns the next claim to read. */
static uint64_t print_range(const expect_shm_t *h, uint64_t from, uint64_t until,
                            const ctl_opts_t *o, int *first, int wait_pending)
{
    static expect_shm_event_t batch[BATCH];
    uint64_t next = from, since = o->since_usec;
    size_t i, n;

    while (from < until) {
        size_t want = (until - from) < BATCH ? (size_t)(until - from) : BATCH;
        n = expect_shm_read_events(h, from, batch, want, wait_pending, &next);
        for (i = 0; i < n; i++) {
            if (batch[i].time_usec > last_shown_usec) {
                last_shown_usec = batch[i].time_usec;
            }
            if (batch[i].time_usec >= since) {
                ctl_events_print(h, &batch[i], NULL, o, first);
            }
        }
        if (next <= from) {
            break;  /* a pending record: the follower retries from here */
        }
        from = next;
    }
    return next;
}

/*
 * The follower's way onto a rebuilt segment (a graceful restart that grew
 * the table or changed ExpectEventSlots, a stop and a start): once the
 * files at the path are others, attach those when they are live, say so on
 * stderr, and go on from their oldest event newer than the last one shown
 * (a rebuild carries recent events over).  Returns 1 when reattached.
 */
static int reattach(expect_shm_t *h, const char *path, uint64_t *next, uint64_t after_usec)
{
    static expect_shm_event_t one;
    expect_shm_t fresh;
    char why[512];
    uint64_t head, n, got_next;

    if (expect_shm_attach(&fresh, path, 0, why, sizeof(why)) != EXPECT_SHM_OK) {
        return 0;
    }
    if (ctl_liveness(&fresh, path, why, sizeof(why)) != CTL_LIVE) {
        expect_shm_detach(&fresh);
        return 0;
    }
    expect_shm_detach(h);
    *h = fresh;
    head = expect_shm_ring_head(h);
    n = head > h->ring_slots ? head - h->ring_slots : 0;
    /* Skip what was carried over from the old segment and already shown. */
    for (; n < head; n = got_next) {
        if (expect_shm_read_events(h, n, &one, 1, 0, &got_next) == 1
            && one.time_usec > after_usec) {
            break;
        }
        if (got_next <= n) {
            got_next = n + 1;
        }
    }
    *next = n;
    fprintf(stderr, "expectctl: %s was rebuilt (generation %u); following the new "
            "segment\n", path, (unsigned)expect_shm_generation(h));
    return 1;
}

int ctl_events(expect_shm_t *h, const ctl_opts_t *o)
{
    uint64_t head = expect_shm_ring_head(h), from, next;
    int first = 1;
    long waited = 0, since_check = 0;
    int told_gone = 0;

    from = head > (uint64_t)o->count ? head - (uint64_t)o->count : 0;
    ctl_events_begin(o);
    next = print_range(h, from, head, o, &first, 0);
    ctl_events_end(o);
    fflush(stdout);
    if (!o->follow) {
        return CTL_EXIT_OK;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, on_signal);
    if (next < head) {
        next = head;
    }
    while (!stop_following) {
        uint64_t now_head = expect_shm_ring_head(h), got;
        if (now_head > next) {
            /* Fell more than a lap behind: skip what was overwritten. */
            if (h->ring_slots > 0 && now_head - next > h->ring_slots) {
                next = now_head - h->ring_slots;
            }
            got = print_range(h, next, now_head, o, &first, waited < FOLLOW_PENDING_MS);
            waited = (got == next) ? waited + FOLLOW_POLL_MS : 0;
            next = got;
            if (fflush(stdout) != 0) {
                break;
            }
        }
        since_check += FOLLOW_POLL_MS;
        if (since_check >= FOLLOW_CHECK_MS) {
            since_check = 0;
            if (!expect_shm_is_current(h, o->shm_path)) {
                if (reattach(h, o->shm_path, &next, last_shown_usec)) {
                    waited = 0;
                    told_gone = 0;
                    continue;
                }
                if (!told_gone) {
                    /* Stopped, or being rebuilt: say so once, then wait. */
                    fprintf(stderr, "expectctl: %s: no live segment any more; waiting "
                            "for httpd to make a new one\n", o->shm_path);
                    told_gone = 1;
                }
            }
        }
        ctl_sleep_ms(FOLLOW_POLL_MS);
    }
    return CTL_EXIT_OK;
}
