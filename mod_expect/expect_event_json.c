/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_event_json.c - one recorded 417 as JSON, for `expectctl events
 * --json` and for ExpectEventLog's lines (see expect_event_json.h).
 *
 * Every string came from a client or from a process that may be
 * compromised: each goes through expect_emit_json_chars, and a line is cut
 * to fit one atomic pipe write only at the boundary of a whole escape or
 * UTF-8 sequence.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "expect_event_json.h"

void expect_format_time(char *buf, size_t len, uint64_t usec)
{
    time_t secs = (time_t)(usec / 1000000u);
    struct tm tm;

    if (usec == 0 || gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, len, "-");
        return;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)((usec / 1000u) % 1000u));
}

const char *expect_event_fix(const expect_shm_event_t *e, const expect_client_t **client,
                             char *buf, size_t len)
{
    expect_client_facts_t facts;

    *client = expect_client_for_event(e->producer, e->reason, e->expect, e->user_agent);
    if (*client == NULL) {
        return expect_reason_text(e->reason);
    }
    /* The facts of the version this User-Agent names. */
    expect_client_resolve(*client, e->user_agent, &facts);
    expect_client_fix(buf, len, &facts, e->reason);
    return buf;
}

/* The strings a line may cut, in the order they are cut. */
enum { CUT_URI, CUT_USER_AGENT, CUT_EXPECT, CUT_VHOST, CUT_CLIENT, CUT_METHOD,
       CUT_PROTOCOL, CUT_SERVER, CUT_COUNT };

typedef struct {
    size_t limit[CUT_COUNT];   /* bytes of JSON each may take */
    size_t used[CUT_COUNT];    /* bytes of JSON each took */
    int cut[CUT_COUNT];
} cuts_t;

static void cuts_none(cuts_t *c)
{
    size_t i;

    for (i = 0; i < CUT_COUNT; i++) {
        c->limit[i] = SIZE_MAX;
        c->used[i] = 0;
        c->cut[i] = 0;
    }
}

/* Output that counts every byte and keeps what fits (buf NULL: counts). */
typedef struct {
    char *buf;
    size_t cap;   /* bytes buf may take, its NUL included */
    size_t len;   /* bytes emitted, kept or not */
} sink_t;

static void sink_emit(void *ctx, const char *s, size_t n)
{
    sink_t *k = ctx;

    if (k->buf != NULL && k->len < k->cap && n < k->cap - k->len) {
        memcpy(k->buf + k->len, s, n);
    }
    k->len += n;
}

static void put(expect_emit_fn emit, void *ctx, const char *s)
{
    emit(ctx, s, strlen(s));
}

/* A JSON string, quoted, within its limit when it is one of the cut ones. */
static void put_str(expect_emit_fn emit, void *ctx, const char *s, cuts_t *c, int which)
{
    size_t limit = which >= 0 ? c->limit[which] : SIZE_MAX;
    int cut = 0;
    size_t used;

    emit(ctx, "\"", 1);
    used = expect_emit_json_chars(emit, ctx, s, limit, &cut);
    emit(ctx, "\"", 1);
    if (which >= 0) {
        c->used[which] = used;
        c->cut[which] = cut;
    }
}

/* , "key": and the string, as put_str. */
static void put_named(expect_emit_fn emit, void *ctx, const char *key, const char *s,
                      cuts_t *c, int which)
{
    put(emit, ctx, ", \"");
    put(emit, ctx, key);
    put(emit, ctx, "\": ");
    put_str(emit, ctx, s, c, which);
}

/* The fields of events --json, "time" to "retry_after_ms", no braces. */
static void put_fields(expect_emit_fn emit, void *ctx, const expect_shm_event_t *e,
                       uint32_t state, cuts_t *c)
{
    char num[96], when[40], fix[2048];
    const expect_client_t *client;
    const char *fixtext;

    expect_format_time(when, sizeof(when), e->time_usec);
    snprintf(num, sizeof(num), "\"time\": \"%s\", \"time_usec\": %" PRIu64 ", \"vhost\": ",
             when, e->time_usec);
    put(emit, ctx, num);
    put_str(emit, ctx, e->vhost, c, CUT_VHOST);
    put_named(emit, ctx, "client", e->client, c, CUT_CLIENT);
    put_named(emit, ctx, "method", e->method, c, CUT_METHOD);
    put_named(emit, ctx, "uri", e->uri, c, CUT_URI);
    put_named(emit, ctx, "protocol", e->protocol, c, CUT_PROTOCOL);
    put_named(emit, ctx, "expect", e->expect, c, CUT_EXPECT);
    put(emit, ctx, ", \"content_length\": ");
    if (e->content_length < 0) {
        put(emit, ctx, "null");
    }
    else {
        snprintf(num, sizeof(num), "%" PRId64, e->content_length);
        put(emit, ctx, num);
    }
    put_named(emit, ctx, "user_agent", e->user_agent, c, CUT_USER_AGENT);
    fixtext = expect_event_fix(e, &client, fix, sizeof(fix));
    snprintf(num, sizeof(num), ", \"status\": %u, \"producer\": \"%s\", \"reason\": \"%s\", "
             "\"fix\": ", (unsigned)e->status, expect_producer_name(e->producer),
             expect_reason_key(e->reason));
    put(emit, ctx, num);
    put_str(emit, ctx, fixtext, c, -1);
    /* Fields added for the client table ("client" is the address). */
    if (client != NULL) {
        put_named(emit, ctx, "client_key", client->key, c, -1);
        put_named(emit, ctx, "client_family", client->family, c, -1);
        put_named(emit, ctx, "client_fix", client->client_fix, c, -1);
    }
    else {
        put(emit, ctx, ", \"client_key\": null, \"client_family\": null, "
            "\"client_fix\": null");
    }
    /* Added for retry tracking. */
    snprintf(num, sizeof(num), ", \"outcome\": \"%s\", \"retry_after_ms\": ",
             expect_outcome_name(state));
    put(emit, ctx, num);
    if (state == EXPECT_OUTCOME_RETRIED) {
        snprintf(num, sizeof(num), "%" PRIu64, expect_outcome_ms(e->outcome));
        put(emit, ctx, num);
    }
    else {
        put(emit, ctx, "null");
    }
}

void expect_event_json(expect_emit_fn emit, void *ctx, const expect_shm_event_t *e,
                       uint32_t state)
{
    cuts_t c;

    cuts_none(&c);
    emit(ctx, "{", 1);
    put_fields(emit, ctx, e, state, &c);
    emit(ctx, "}", 1);
}

static const char truncated_field[] = ", \"truncated\": true";

/* The whole line with c's limits; returns its length. */
static size_t put_line(sink_t *k, const char *server, uint64_t pid,
                       const expect_shm_event_t *e, uint32_t state, cuts_t *c)
{
    char num[96];
    int i, cut = 0;

    put(sink_emit, k, "{\"format\": \"mod_expect.event\", \"version\": ");
    snprintf(num, sizeof(num), "%d, \"server\": ", EXPECT_EVENT_LINE_VERSION);
    put(sink_emit, k, num);
    put_str(sink_emit, k, server, c, CUT_SERVER);
    snprintf(num, sizeof(num), ", \"pid\": %" PRIu64 ", \"seq\": %" PRIu64 ", ", pid,
             expect_event_claim(e));
    put(sink_emit, k, num);
    put_fields(sink_emit, k, e, state, c);
    for (i = 0; i < CUT_COUNT; i++) {
        cut |= c->cut[i];
    }
    if (cut) {
        put(sink_emit, k, truncated_field);
    }
    put(sink_emit, k, "}\n");
    return k->len;
}

size_t expect_event_line(char *dst, size_t dstsize, const char *server, uint64_t pid,
                         const expect_shm_event_t *e, uint32_t state)
{
    const size_t most = EXPECT_EVENT_LINE_MAX - 1;
    sink_t measure = { NULL, 0, 0 }, out = { dst, dstsize, 0 };
    cuts_t c;
    size_t whole, over, take;
    int i;

    if (dst == NULL || dstsize < EXPECT_EVENT_LINE_MAX) {
        return 0;
    }
    cuts_none(&c);
    whole = put_line(&measure, server, pid, e, state, &c);
    if (whole > most) {
        /* Take what is too much from the strings in their order, and room
         * for the mark that says so. */
        over = whole - most + (sizeof(truncated_field) - 1);
        for (i = 0; i < CUT_COUNT; i++) {
            take = over < c.used[i] ? over : c.used[i];
            c.limit[i] = c.used[i] - take;
            over -= take;
        }
        for (i = 0; i < CUT_COUNT; i++) {
            c.used[i] = 0;
            c.cut[i] = 0;
        }
    }
    put_line(&out, server, pid, e, state, &c);
    if (out.len > most) {
        dst[0] = '\0';
        return 0;
    }
    dst[out.len] = '\0';
    return out.len;
}

size_t expect_event_gap_line(char *dst, size_t dstsize, const char *server, uint64_t pid,
                             uint64_t now_usec, uint64_t lost)
{
    const size_t most = EXPECT_EVENT_LINE_MAX - 1;
    sink_t k = { dst, dstsize, 0 };
    cuts_t c;
    char num[160], when[40];

    if (dst == NULL || dstsize < EXPECT_EVENT_LINE_MAX) {
        return 0;
    }
    cuts_none(&c);
    /* The server's name is all that could be long: keep room for the rest. */
    c.limit[CUT_SERVER] = most - sizeof(num) - 64;
    snprintf(num, sizeof(num), "{\"format\": \"mod_expect.event.gap\", \"version\": %d, "
             "\"server\": ", EXPECT_EVENT_LINE_VERSION);
    put(sink_emit, &k, num);
    put_str(sink_emit, &k, server, &c, CUT_SERVER);
    expect_format_time(when, sizeof(when), now_usec);
    snprintf(num, sizeof(num), ", \"pid\": %" PRIu64 ", \"time\": \"%s\", \"time_usec\": %"
             PRIu64 ", \"lost\": %" PRIu64 "}\n", pid, when, now_usec, lost);
    put(sink_emit, &k, num);
    if (k.len > most) {
        dst[0] = '\0';
        return 0;
    }
    dst[k.len] = '\0';
    return k.len;
}
