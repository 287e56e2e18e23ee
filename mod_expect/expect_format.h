/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_format.h - escaping and small writers for expectctl's output.
 *
 * Everything expectctl prints from the segment came from a client (URI,
 * Expect value, User-Agent) or from a process that may be compromised, so
 * every string goes through one of these escapers: none of them can emit a
 * control character, a newline or an unbalanced quote.
 *
 * No httpd or APR headers: plain C99 + stdio.
 */
#ifndef EXPECT_FORMAT_H
#define EXPECT_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * One-line text: bytes below 0x20, 0x7f and bytes from 0x80 up and the double quote become
 * \xHH, a backslash becomes \\; everything else is copied.  Works like
 * snprintf: returns the length of the whole escaped string (so
 * dst == NULL, dstsize == 0 measures a column width), and writes as much
 * as fits without splitting an escape, always NUL-terminated when
 * dstsize > 0.  NULL src is "".
 */
size_t expect_escape_text(char *dst, size_t dstsize, const char *src);

/* The writers return 0, or -1 if the stream reported an error.  NULL s is "". */

/* s escaped as above. */
int expect_fput_text(FILE *f, const char *s);

/*
 * s as a JSON string, quotes included: \" \\ \n \r \t, \u00XX for other
 * controls, DEL and C1 controls, \u202a-\u202e and \u2066-\u2069 for the
 * bidirectional embeddings, overrides and isolates (lower-case hex); other
 * valid UTF-8 is kept; each byte of invalid UTF-8 becomes \u00XX (that
 * byte read as Latin-1), so the output is always valid JSON.
 */
int expect_fput_json_string(FILE *f, const char *s);

/*
 * s as a Prometheus label value, quotes included.  The value a scraper
 * reads back is exactly expect_escape_text(s): non-printable bytes appear
 * as the four characters \xHH, a backslash as \\.  (The exposition format
 * itself only knows \\ \" \n, hence the doubling on the wire.)
 */
int expect_fput_prom_label(FILE *f, const char *s);

/*
 * Output through a callback, so the same writers serve expectctl (stdio)
 * and the module's handlers (the response body).
 */
typedef void (*expect_emit_fn)(void *ctx, const char *s, size_t len);

/*
 * The characters of s as a JSON string has them, quotes not included, as
 * expect_fput_json_string writes them, through emit; at most limit bytes
 * (SIZE_MAX: all), never part of an escape or of a UTF-8 sequence.
 * Returns the bytes emitted; *cut (if not NULL) says whether s was cut.
 */
size_t expect_emit_json_chars(expect_emit_fn emit, void *ctx, const char *s, size_t limit,
                              int *cut);

/* s as a Prometheus label value, quotes included, as expect_fput_prom_label. */
void expect_emit_prom_label(expect_emit_fn emit, void *ctx, const char *s);

/* One-line explanation with the fix, for an expect_reason_t value. */
const char *expect_reason_text(uint32_t reason);
/* Short stable token for JSON and labels: "policy", "strict", ... */
const char *expect_reason_key(uint32_t reason);
/* "mod_expect", "core", "handler", "backend"; "unknown" otherwise. */
const char *expect_producer_name(uint32_t producer);

#endif /* EXPECT_FORMAT_H */
