/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_check.h - independent checkers the harnesses use to judge output:
 * a strict JSON validator, a reference UTF-8 decoder, and checks for the
 * one-line text and Prometheus exposition forms.  Written separately from
 * expect_format.c on purpose: a differential check, not a copy.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* Die with a message (then abort(), so libFuzzer records a crash). */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#define FZ_ASSERT(cond) \
    do { if (!(cond)) fz_fail("%s:%d: assertion failed: %s", __FILE__, __LINE__, #cond); } while (0)

/*
 * Well-formed UTF-8 sequence at p (avail bytes readable): its length 1..4
 * and code point, or 0 if ill-formed (overlong, surrogate, > U+10FFFF,
 * truncated, stray continuation byte).
 */
size_t fz_utf8_decode(const unsigned char *p, size_t avail, uint32_t *cp);

/* s[0, len) is exactly one JSON value (RFC 8259) with optional whitespace
 * around, raw bytes being well-formed UTF-8, no lone surrogate escapes. */
int fz_json_valid(const char *s, size_t len);

/*
 * s[0, len) is exactly one JSON string (quotes included).  Decodes it into
 * cps[0, cap) and returns the number of code points, or -1 if invalid or
 * more than cap.
 */
long fz_json_string_decode(const char *s, size_t len, uint32_t *cps, size_t cap);

/* Every byte is printable ASCII (0x20..0x7e) or, if allow_nl, '\n'. */
int fz_text_clean(const char *s, size_t len, int allow_nl);

/* Number of '\n' in s[0, len). */
size_t fz_count_lines(const char *s, size_t len);

/*
 * s[0, len) is a quoted Prometheus label value: "...", inside only \\ \"
 * \n escapes, no raw '"' or newline.  Unescapes into out (cap bytes, NUL
 * terminated) and returns the unescaped length, or -1.
 */
long fz_prom_label_decode(const char *s, size_t len, char *out, size_t cap);

/*
 * The whole text s[0, len) is Prometheus text exposition as expectctl
 * writes it: "# HELP name text" / "# TYPE name type" lines and sample
 * lines "name{k="v",...} number", every line ending in '\n'.  Returns the
 * number of sample lines, or -1 (*why says where it broke).
 */
long fz_prom_valid(const char *s, size_t len, const char **why);

/*
 * stdout as a memory file, for harnesses whose code under test prints:
 * fz_stdout_to_memory() once (LLVMFuzzerInitialize), fz_stdout_rewind()
 * before a writer runs, fz_stdout_take() after it: what it printed,
 * NUL-terminated, its length in *len (the buffer is reused by the next
 * take).  A stream error fails the run.
 */
void fz_stdout_to_memory(void);
void fz_stdout_rewind(void);
const char *fz_stdout_take(size_t *len);

#endif /* FUZZ_CHECK_H */
