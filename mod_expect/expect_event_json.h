/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_event_json.h - one recorded 417 as JSON: the object `expectctl
 * events --json` prints, and the line ExpectEventLog writes (the same
 * fields, after the line's own), from one formatter, so the two never
 * drift apart.  The schema is in docs/mod_expect.md (ExpectEventLog).
 *
 * No httpd headers: the module's parent and expectctl both link it.
 */
#ifndef EXPECT_EVENT_JSON_H
#define EXPECT_EVENT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "expect_clients.h"
#include "expect_format.h"
#include "expect_shm.h"

/* A line, newline included, is shorter than this: PIPE_BUF on Linux and
 * the least POSIX allows, so one write() of it never interleaves with
 * another process's on a pipe. */
#define EXPECT_EVENT_LINE_MAX 4096
/* The "version" of the lines' schema. */
#define EXPECT_EVENT_LINE_VERSION 1

/* "2026-01-31T12:00:00.250Z" (UTC, milliseconds), "-" for 0. */
void expect_format_time(char *buf, size_t len, uint64_t usec);

/*
 * The fix of an event: the client's own (its switch, whether it hangs or
 * loses the upload, the policy for it) when its User-Agent is known and it
 * sent 100-continue, else the reason's generic one; *client is that
 * client's entry or NULL.  buf (len bytes) may be used for the text.
 */
const char *expect_event_fix(const expect_shm_event_t *e, const expect_client_t **client,
                             char *buf, size_t len);

/*
 * The object of `expectctl events --json` for e, whose outcome a reader
 * sees as `state` (expect_outcome_state_at), through emit: "{...}", no
 * newline, nothing cut.
 */
void expect_event_json(expect_emit_fn emit, void *ctx, const expect_shm_event_t *e,
                       uint32_t state);

/*
 * The event log's line for e: {"format": "mod_expect.event", "version",
 * "server", "pid", "seq" (e's claim number), then the fields of
 * expect_event_json} and a newline, into dst (dstsize at least
 * EXPECT_EVENT_LINE_MAX), NUL-terminated.  A line that would reach
 * EXPECT_EVENT_LINE_MAX has strings cut (uri first, then user_agent, then
 * expect; only a ServerName of thousands of bytes can need more: then
 * vhost, client, method, protocol and server), never inside an escape or
 * a UTF-8 sequence, and ends with "truncated": true.  Returns the line's
 * length, 0 if dstsize is too small.
 */
size_t expect_event_line(char *dst, size_t dstsize, const char *server, uint64_t pid,
                         const expect_shm_event_t *e, uint32_t state);

/*
 * The line for `lost` events the writer never read (the ring wrapped
 * first): {"format": "mod_expect.event.gap", "version", "server", "pid",
 * "time", "time_usec", "lost"} and a newline.  As expect_event_line.
 */
size_t expect_event_gap_line(char *dst, size_t dstsize, const char *server, uint64_t pid,
                             uint64_t now_usec, uint64_t lost);

#endif /* EXPECT_EVENT_JSON_H */
