/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_summary.c - `expectctl events --summary`: the ring folded per
 * virtual host and client family, so that an operator sees at once which
 * client keeps getting 417s, whether it comes back, how many bytes it
 * meant to send, and what to do about it.  Text for people, --json for
 * machines (documented in expectctl.8; change it only by adding).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "expect_clients.h"
#include "expect_format.h"

#define BATCH 256
/* Past this many groups the rest are folded into the last one: the ring
 * is bounded, but a flood of User-Agents must not make this quadratic. */
#define MAX_GROUPS 512

typedef struct {
    char server[256];                /* --by server: the log line's ServerName */
    char vhost[EXPECT_SHM_NAME_LEN];
    const expect_client_t *client;   /* NULL: not a known client */
    expect_client_facts_t facts;     /* of the first event's version: its range */
    uint64_t by_reason[EXPECT_REASON_COUNT];
    uint64_t n417, retried, abandoned, pending, other;
    uint64_t repeated;               /* superseded by a later 417 of the same upload */
    uint64_t bytes;                  /* declared Content-Length, summed (saturating) */
    int bytes_saturated;             /* the sum passed UINT64_MAX */
    uint64_t unknown_length;         /* events without a Content-Length */
} group_t;

struct ctl_summary {
    group_t *g;
    size_t n;
    size_t last;        /* the group the previous event went to: often again */
    int by_server;
};
typedef struct ctl_summary groups_t;

/* Two versions of a client belong together when the same facts hold for
 * both: the same range of the same release line. */
static int same_range(const expect_client_facts_t *a, const expect_client_facts_t *b)
{
    return a->range == b->range && a->release == b->release;
}

static int group_is(const groups_t *gs, const group_t *g, const expect_shm_event_t *e,
                    const char *server, const expect_client_t *c,
                    const expect_client_facts_t *f)
{
    return g->client == c && strcmp(g->vhost, e->vhost) == 0 && same_range(&g->facts, f)
           && (!gs->by_server || strcmp(g->server, server) == 0);
}

static group_t *group_for(groups_t *gs, const expect_shm_event_t *e, const char *server,
                          const expect_client_t *c, const expect_client_facts_t *f)
{
    size_t i;

    if (gs->last < gs->n && group_is(gs, &gs->g[gs->last], e, server, c, f)) {
        return &gs->g[gs->last];
    }
    for (i = 0; i < gs->n; i++) {
        if (group_is(gs, &gs->g[i], e, server, c, f)) {
            gs->last = i;
            return &gs->g[i];
        }
    }
    if (gs->n == MAX_GROUPS - 1) {
        /* The last group is everything else, and says so. */
        snprintf(gs->g[gs->n].vhost, sizeof(gs->g[gs->n].vhost), "(other vhosts and clients)");
        snprintf(gs->g[gs->n].server, sizeof(gs->g[gs->n].server), "(other servers)");
        gs->g[gs->n].client = NULL;
        expect_client_resolve(NULL, NULL, &gs->g[gs->n].facts);
        gs->n++;
    }
    if (gs->n == MAX_GROUPS) {
        return &gs->g[MAX_GROUPS - 1];
    }
    memcpy(gs->g[gs->n].vhost, e->vhost, sizeof(e->vhost));
    snprintf(gs->g[gs->n].server, sizeof(gs->g[gs->n].server), "%s", server);
    gs->g[gs->n].client = c;
    gs->g[gs->n].facts = *f;
    gs->last = gs->n;
    return &gs->g[gs->n++];
}

void ctl_summary_add(ctl_summary_t *gs, const expect_shm_t *h, const expect_shm_event_t *e,
                     const char *server, uint64_t now)
{
    const expect_client_t *c = expect_client_for_event(e->producer, e->reason, e->expect,
                                                       e->user_agent);
    expect_client_facts_t f;
    group_t *g;
    uint32_t state;

    expect_client_resolve(c, e->user_agent, &f);
    g = group_for(gs, e, server != NULL ? server : "", c, &f);
    state = expect_outcome_state_at(h, e->outcome, e->seq / 2 - 1, e->time_usec, now);

    g->n417++;
    if (e->reason < EXPECT_REASON_COUNT) {
        g->by_reason[e->reason]++;
    }
    switch (state) {
    case EXPECT_OUTCOME_RETRIED:   g->retried++; break;
    case EXPECT_OUTCOME_ABANDONED: g->abandoned++; break;
    case EXPECT_OUTCOME_PENDING:   g->pending++; break;
    /* The same upload 417'd again: its later event tells what became of
     * it, and carries its bytes. */
    case EXPECT_OUTCOME_REPEATED:  g->repeated++; return;
    default:                       g->other++; break;
    }
    if (e->content_length >= 0) {
        if (g->bytes > UINT64_MAX - (uint64_t)e->content_length) {
            g->bytes = UINT64_MAX;
            g->bytes_saturated = 1;
        }
        else {
            g->bytes += (uint64_t)e->content_length;
        }
    }
    else {
        g->unknown_length++;
    }
}

/*
 * What to do, from what the clients did: nothing when every one came back;
 * otherwise the known client's harm and both of its fixes, or the generic
 * fix of the reason.
 */
/* The reason most of the group's 417s had. */
static uint32_t main_reason(const group_t *g)
{
    uint32_t r, best = 0;

    for (r = 1; r < EXPECT_REASON_COUNT; r++) {
        if (g->by_reason[r] > g->by_reason[best]) {
            best = r;
        }
    }
    return best;
}

static void action(char *buf, size_t len, const group_t *g)
{
    char server[1024];
    const char *harm;

    if (g->retried + g->repeated == g->n417) {
        snprintf(buf, len, "none needed: every client came back within the window");
        return;
    }
    if (g->client == NULL) {
        snprintf(buf, len, "%s", expect_reason_text(main_reason(g)));
        return;
    }
    harm = expect_client_harm(g->facts.flags);
    expect_client_server_fix(server, sizeof(server), &g->facts, main_reason(g));
    if (g->facts.range == EXPECT_CLIENT_RANGE_UNVERIFIED) {
        /* Nothing is claimed for a version the table does not cover. */
        snprintf(buf, len, "what a 417 does to these versions is not verified -> %s; "
                 "or fix the client: %s", server, g->client->client_fix);
        return;
    }
    snprintf(buf, len, "%s%s%s%s; or fix the client: %s", harm ? "this client is " : "",
             harm ? harm : "", harm ? " -> " : "", server, g->client->client_fix);
}

static const char *family(const group_t *g)
{
    return g->client != NULL ? g->client->family : "other clients";
}

/* The family, and the range of versions whose facts the group has:
 * "Java HttpClient (java.net.http) before 17.0.17". */
static void family_label(char *buf, size_t len, const group_t *g)
{
    char range[96];

    if (g->client == NULL || g->facts.range == EXPECT_CLIENT_RANGE_ALL) {
        snprintf(buf, len, "%s", family(g));
        return;
    }
    expect_client_range_label(range, sizeof(range), &g->facts);
    snprintf(buf, len, "%s %s", family(g), range);
}

static void summary_text(const groups_t *gs)
{
    char act[2048], label[256];
    size_t i;

    if (gs->n == 0) {
        printf("no 417s recorded\n");
        return;
    }
    for (i = 0; i < gs->n; i++) {
        const group_t *g = &gs->g[i];
        if (gs->by_server) {
            expect_fput_text(stdout, g->server);
            putchar(' ');
        }
        expect_fput_text(stdout, g->vhost);
        family_label(label, sizeof(label), g);
        printf("  %s: %" PRIu64 " 417s, %" PRIu64 " retried, %" PRIu64 " abandoned, %" PRIu64
               " pending", label, g->n417, g->retried, g->abandoned, g->pending);
        if (g->repeated != 0) {
            printf(", %" PRIu64 " repeated (the same upload 417'd again)", g->repeated);
        }
        if (g->other != 0) {
            printf(", %" PRIu64 " not followed", g->other);
        }
        if (g->bytes_saturated) {
            printf(", more than %" PRIu64 " bytes declared (too many to add up)", g->bytes);
        }
        else {
            printf(", %" PRIu64 " bytes declared", g->bytes);
        }
        if (g->unknown_length != 0) {
            printf(" (+%" PRIu64 " without Content-Length)", g->unknown_length);
        }
        action(act, sizeof(act), g);
        printf("\n  -> ");
        expect_fput_text(stdout, act);
        putchar('\n');
    }
}

static void summary_json(const groups_t *gs)
{
    char act[2048], label[96];
    size_t i;

    printf("{\"format\": \"mod_expect.events.summary\", \"version\": 1, \"groups\": [");
    for (i = 0; i < gs->n; i++) {
        const group_t *g = &gs->g[i];
        printf("%s\n  {", i ? "," : "");
        /* Added with --by server: the group's server. */
        if (gs->by_server) {
            printf("\"server\": ");
            expect_fput_json_string(stdout, g->server);
            printf(", ");
        }
        printf("\"vhost\": ");
        expect_fput_json_string(stdout, g->vhost);
        printf(", \"client_key\": ");
        if (g->client != NULL) {
            expect_fput_json_string(stdout, g->client->key);
        }
        else {
            printf("null");
        }
        printf(", \"client_family\": ");
        expect_fput_json_string(stdout, family(g));
        /* Added with the version ranges: the range of versions whose facts
         * the group's action gives, null for a family without ranges. */
        printf(", \"client_versions\": ");
        if (g->client != NULL && g->facts.range != EXPECT_CLIENT_RANGE_ALL) {
            expect_client_range_label(label, sizeof(label), &g->facts);
            expect_fput_json_string(stdout, label);
        }
        else {
            printf("null");
        }
        printf(", \"count\": %" PRIu64 ", \"retried\": %" PRIu64 ", \"abandoned\": %" PRIu64
               ", \"pending\": %" PRIu64 ", \"not_followed\": %" PRIu64
               ", \"bytes_declared\": %" PRIu64 ", \"without_length\": %" PRIu64
               ", \"repeated\": %" PRIu64 ", \"bytes_saturated\": %s"
               ", \"action\": ", g->n417, g->retried, g->abandoned, g->pending, g->other,
               g->bytes, g->unknown_length, g->repeated, g->bytes_saturated ? "true" : "false");
        action(act, sizeof(act), g);
        expect_fput_json_string(stdout, act);
        printf("}");
    }
    printf("\n]}\n");
}

ctl_summary_t *ctl_summary_new(int by_server)
{
    ctl_summary_t *s = calloc(1, sizeof(*s));

    if (s == NULL || (s->g = calloc(MAX_GROUPS, sizeof(*s->g))) == NULL) {
        free(s);
        return NULL;
    }
    s->by_server = by_server;
    return s;
}

void ctl_summary_print(const ctl_summary_t *s, ctl_format_t format)
{
    if (format == CTL_FMT_JSON) {
        summary_json(s);
    }
    else {
        summary_text(s);
    }
}

void ctl_summary_free(ctl_summary_t *s)
{
    if (s != NULL) {
        free(s->g);
        free(s);
    }
}

int ctl_events_summary(const expect_shm_t *h, const ctl_opts_t *o)
{
    static expect_shm_event_t batch[BATCH];
    uint64_t head = expect_shm_ring_head(h), from, next;
    ctl_summary_t *gs;
    size_t i, n;
    uint64_t now = ctl_now_usec(), since = o->since_usec;

    if ((gs = ctl_summary_new(0)) == NULL) {
        fprintf(stderr, "expectctl: out of memory\n");
        return CTL_EXIT_FAIL;
    }
    /* The whole ring, unless -n asks for the newest N only. */
    from = o->count_given && head > (uint64_t)o->count ? head - (uint64_t)o->count : 0;
    while (from < head) {
        n = expect_shm_read_events(h, from, batch, BATCH, 0, &next);
        for (i = 0; i < n; i++) {
            if (batch[i].time_usec >= since) {
                ctl_summary_add(gs, h, &batch[i], NULL, now);
            }
        }
        if (next <= from) {
            break;
        }
        from = next;
    }
    ctl_summary_print(gs, o->format);
    ctl_summary_free(gs);
    return CTL_EXIT_OK;
}
