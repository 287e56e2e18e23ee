/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_eventlog.c - one line of the event log (ExpectEventLog) read back
 * into the event record `events` prints from a segment, so that the list
 * and the summary have one code path for both sources.  Pure: no I/O, so
 * the unit tests and the fuzzer drive it.
 *
 * The lines come from files anyone along the log pipeline may have
 * touched, so nothing is trusted: jansson parses (it refuses invalid UTF-8,
 * NUL bytes and, with JSON_REJECT_DUPLICATES, a key given twice), and every
 * field is checked for its type and range before it is used.  A line that
 * fails is refused with a short reason, never half taken.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "expect_format.h"

#define EVENT_FORMAT "mod_expect.event"
#define GAP_FORMAT "mod_expect.event.gap"
/* The writer's (expect_event_json.c): one schema for both sides. */
#define LOG_VERSION EXPECT_EVENT_LINE_VERSION

static int refuse(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return CTL_LINE_BAD;
}

/* The longest prefix of s that fits n - 1 bytes and does not end inside a
 * UTF-8 sequence: a decoded string may be longer than the segment's field
 * (the writer turns each invalid byte into a two-byte character). */
static void copy_cut(char *dst, size_t n, const char *s, size_t slen)
{
    size_t k = slen < n - 1 ? slen : n - 1;

    if (k < slen) {
        /* Back off continuation bytes, then the lead byte they follow. */
        while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80) {
            k--;
        }
    }
    memcpy(dst, s, k);
    dst[k] = '\0';
}

/* A string field into dst (size n); -1 when absent or not a string. */
static int get_string(json_t *obj, const char *key, char *dst, size_t n)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_string(v)) {
        return -1;
    }
    copy_cut(dst, n, json_string_value(v), json_string_length(v));
    return 0;
}

/* A string or null; -1 otherwise. */
static int string_or_null(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_string(v) || json_is_null(v) ? 0 : -1;
}

/* An integer from min to max; -1 otherwise. */
static int get_int(json_t *obj, const char *key, json_int_t min, json_int_t max,
                   json_int_t *out)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* name among names[0..n), or "unknown" (n); -1 for anything else. */
static int name_index(const char *name, const char *(*name_of)(uint32_t), uint32_t n,
                      uint32_t *out)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(name, name_of(i)) == 0) {
            *out = i;
            return 0;
        }
    }
    /* A segment's out-of-range code is written as "unknown", and printed
     * so again. */
    if (strcmp(name, "unknown") == 0) {
        *out = n;
        return 0;
    }
    return -1;
}

/* The fields both kinds of line begin with. */
static int parse_origin(json_t *root, ctl_line_t *out, char *why, size_t len)
{
    json_int_t pid, usec;

    if (get_string(root, "server", out->server, sizeof(out->server)) != 0) {
        return refuse(why, len, "%s is missing or not a string", "\"server\"");
    }
    if (get_int(root, "pid", 1, INT32_MAX, &pid) != 0) {
        return refuse(why, len, "%s is missing or not a process id", "\"pid\"");
    }
    if (get_int(root, "time_usec", 1, INT64_MAX, &usec) != 0) {
        return refuse(why, len, "%s is missing or not a positive integer", "\"time_usec\"");
    }
    if (!json_is_string(json_object_get(root, "time"))) {
        return refuse(why, len, "%s is missing or not a string", "\"time\"");
    }
    out->pid = (uint32_t)pid;
    out->ev.time_usec = (uint64_t)usec;
    return 0;
}

static int parse_gap(json_t *root, ctl_line_t *out, char *why, size_t len)
{
    json_int_t lost;

    if (parse_origin(root, out, why, len) != 0) {
        return CTL_LINE_BAD;
    }
    if (get_int(root, "lost", 1, INT64_MAX, &lost) != 0) {
        return refuse(why, len, "%s is missing or not a count from 1 up", "\"lost\"");
    }
    out->lost = (uint64_t)lost;
    return CTL_LINE_GAP;
}

/* The strings of the segment's record, in the schema's order. */
static const struct {
    const char *key;
    size_t off, size;
} event_strings[] = {
    {"vhost", offsetof(expect_shm_event_t, vhost), sizeof(((expect_shm_event_t *)0)->vhost)},
    {"client", offsetof(expect_shm_event_t, client), sizeof(((expect_shm_event_t *)0)->client)},
    {"method", offsetof(expect_shm_event_t, method), sizeof(((expect_shm_event_t *)0)->method)},
    {"uri", offsetof(expect_shm_event_t, uri), sizeof(((expect_shm_event_t *)0)->uri)},
    {"protocol", offsetof(expect_shm_event_t, protocol),
     sizeof(((expect_shm_event_t *)0)->protocol)},
    {"expect", offsetof(expect_shm_event_t, expect), sizeof(((expect_shm_event_t *)0)->expect)},
    {"user_agent", offsetof(expect_shm_event_t, user_agent),
     sizeof(((expect_shm_event_t *)0)->user_agent)},
};

static int parse_event(json_t *root, ctl_line_t *out, char *why, size_t len)
{
    json_int_t seq, status, ms = 0, length;
    json_t *v;
    char name[64];
    uint32_t state;
    size_t i;
    uint64_t claim;

    if (parse_origin(root, out, why, len) != 0) {
        return CTL_LINE_BAD;
    }
    /* A claim number the segment's seqlock word (2n + 2) can hold. */
    if (get_int(root, "seq", 0, INT64_MAX / 2 - 1, &seq) != 0) {
        return refuse(why, len, "%s is missing or not a claim number", "\"seq\"");
    }
    for (i = 0; i < sizeof(event_strings) / sizeof(event_strings[0]); i++) {
        if (get_string(root, event_strings[i].key, (char *)&out->ev + event_strings[i].off,
                       event_strings[i].size) != 0) {
            return refuse(why, len, "\"%s\" is missing or not a string", event_strings[i].key);
        }
    }
    v = json_object_get(root, "content_length");
    if (json_is_null(v)) {
        out->ev.content_length = -1;
    }
    else if (get_int(root, "content_length", 0, INT64_MAX, &length) == 0) {
        out->ev.content_length = (int64_t)length;
    }
    else {
        return refuse(why, len, "%s is missing or not a length or null", "\"content_length\"");
    }
    if (get_int(root, "status", 100, 599, &status) != 0) {
        return refuse(why, len, "%s is missing or not an HTTP status", "\"status\"");
    }
    out->ev.status = (uint32_t)status;
    if (get_string(root, "producer", name, sizeof(name)) != 0
        || name_index(name, expect_producer_name, EXPECT_PRODUCER_COUNT,
                      &out->ev.producer) != 0) {
        return refuse(why, len, "%s is missing or not a known producer", "\"producer\"");
    }
    if (get_string(root, "reason", name, sizeof(name)) != 0
        || name_index(name, expect_reason_key, EXPECT_REASON_COUNT, &out->ev.reason) != 0) {
        return refuse(why, len, "%s is missing or not a known reason", "\"reason\"");
    }
    /* What the writer derived from the fields above: checked for type only,
     * and derived again by whoever prints them, as from a segment. */
    if (!json_is_string(json_object_get(root, "fix"))) {
        return refuse(why, len, "%s is missing or not a string", "\"fix\"");
    }
    if (string_or_null(root, "client_key") != 0 || string_or_null(root, "client_family") != 0
        || string_or_null(root, "client_fix") != 0) {
        return refuse(why, len, "%s", "\"client_key\", \"client_family\" or \"client_fix\" "
                      "is missing or not a string or null");
    }
    /* The outcome as written: the writer's truth at the time. */
    if (get_string(root, "outcome", name, sizeof(name)) != 0
        || name_index(name, expect_outcome_name, EXPECT_OUTCOME_STATES, &state) != 0
        || state == EXPECT_OUTCOME_STATES) {
        return refuse(why, len, "%s is missing or not a known outcome", "\"outcome\"");
    }
    v = json_object_get(root, "retry_after_ms");
    if (state == EXPECT_OUTCOME_RETRIED
        ? get_int(root, "retry_after_ms", 0, INT64_MAX, &ms) != 0 : !json_is_null(v)) {
        return refuse(why, len, "%s", state == EXPECT_OUTCOME_RETRIED
                      ? "\"retry_after_ms\" of a retried event is missing or not a count"
                      : "\"retry_after_ms\" is not null for an event that was not retried");
    }
    v = json_object_get(root, "truncated");
    if (v != NULL && !json_is_true(v)) {
        return refuse(why, len, "%s is there but not true", "\"truncated\"");
    }
    out->truncated = v != NULL;
    out->claim = (uint64_t)seq;
    /* The record as the ring would hold it once published: the outcome
     * word tagged with this claim, so that readers (given no segment)
     * show exactly the state written. */
    out->ev.seq = 2 * (uint64_t)seq + 2;
    claim = out->ev.seq / 2 - 1;
    out->ev.outcome = expect_outcome_word(claim, state, (uint64_t)ms);
    return CTL_LINE_EVENT;
}

int ctl_eventlog_parse(const char *line, size_t n, ctl_line_t *out, char *why, size_t len)
{
    json_error_t err;
    json_t *root, *fmt;
    json_int_t version;
    int rc;

    memset(out, 0, sizeof(*out));
    expect_shm_event_init(&out->ev);
    if (n == 0) {
        return refuse(why, len, "%s", "an empty line");
    }
    if (n >= CTL_EVENTLOG_LINE_MAX) {
        return refuse(why, len, "%s", "longer than a line of the event log can be");
    }
    if (memchr(line, '\0', n) != NULL) {
        return refuse(why, len, "%s", "a NUL byte in the line");
    }
    root = json_loadb(line, n, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        /* jansson's text names no input bytes beyond a short token, which
         * the text escape makes printable where it is shown. */
        snprintf(why, len, "not JSON: %s", err.text);
        return CTL_LINE_BAD;
    }
    fmt = json_object_get(root, "format");
    if (!json_is_object(root)) {
        rc = refuse(why, len, "%s", "not a JSON object");
    }
    else if (!json_is_string(fmt)
             || (strcmp(json_string_value(fmt), EVENT_FORMAT) != 0
                 && strcmp(json_string_value(fmt), GAP_FORMAT) != 0)) {
        rc = refuse(why, len, "%s", "\"format\" is not \"" EVENT_FORMAT "\" or \""
                    GAP_FORMAT "\"");
    }
    else if (get_int(root, "version", INT64_MIN, INT64_MAX, &version) != 0) {
        rc = refuse(why, len, "%s is missing or not an integer", "\"version\"");
    }
    else if (version != LOG_VERSION) {
        snprintf(why, len, "version %" PRId64 " (this expectctl reads version %d)",
                 (int64_t)version, LOG_VERSION);
        rc = CTL_LINE_BAD;
    }
    else if (strcmp(json_string_value(fmt), GAP_FORMAT) == 0) {
        rc = parse_gap(root, out, why, len);
    }
    else {
        rc = parse_event(root, out, why, len);
    }
    json_decref(root);
    return rc;
}
