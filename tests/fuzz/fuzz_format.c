/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_format.c - libFuzzer harness for expect_format.c: the text escaper
 * (with its measuring and truncating modes), the text, JSON and
 * Prometheus label writers, and the reason/producer names; and for
 * expect_clients.c: the string as a User-Agent and as an Expect value;
 * and for expect_event_json.c: the string in every string of an event,
 * as the events --json object and as an event-log line (valid JSON, and a
 * line under PIPE_BUF whatever the string).
 *
 * Input: byte 0 picks a destination size for the truncation check, bytes
 * 1-4 a reason/producer code, bytes 5-12 a time for ctl_format_time; the
 * rest, up to its first NUL, is the string.  Each writer's output is
 * checked against an independent decoder, not just for absence of crashes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "expect_clients.h"
#include "expect_event_json.h"
#include "expect_format.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 13

/* Run a writer into memory; returns the bytes (caller frees), length in *len. */
static char *capture(int (*fn)(FILE *, const char *), const char *s, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);

    FZ_ASSERT(f != NULL);
    FZ_ASSERT(fn(f, s) == 0);
    FZ_ASSERT(fclose(f) == 0);
    *len = n;
    return buf;
}

/* The text escape as documented, written independently. */
static char *ref_escape(const char *s, size_t *len)
{
    size_t n = strlen(s), i, o = 0;
    char *out = malloc(4 * n + 1);

    FZ_ASSERT(out != NULL);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\\') {
            out[o++] = '\\';
            out[o++] = '\\';
        }
        else if (c < 0x20 || c >= 0x7f || c == '"') {
            o += (size_t)sprintf(out + o, "\\x%02x", c);
        }
        else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* Undo the text escape; must give back exactly the original. */
static void check_unescape(const char *esc, size_t len, const char *orig)
{
    size_t i, o = 0, n = strlen(orig);
    char *back = malloc(len + 1);

    FZ_ASSERT(back != NULL);
    for (i = 0; i < len; i++) {
        if (esc[i] != '\\') {
            back[o++] = esc[i];
            continue;
        }
        FZ_ASSERT(i + 1 < len);
        if (esc[i + 1] == '\\') {
            back[o++] = '\\';
            i++;
            continue;
        }
        FZ_ASSERT(esc[i + 1] == 'x' && i + 3 < len);
        back[o++] = (char)strtol((char[3]){esc[i + 2], esc[i + 3], 0}, NULL, 16);
        i += 3;
    }
    FZ_ASSERT(o == n && memcmp(back, orig, n) == 0);
    free(back);
}

/* Truncated escape into exactly dstsize bytes (ASan sees an overrun). */
static void check_truncated(const char *s, const char *full, size_t full_len, size_t dstsize)
{
    char *dst = malloc(dstsize ? dstsize : 1);
    size_t r, w, i;

    FZ_ASSERT(dst != NULL);
    memset(dst, 'Z', dstsize ? dstsize : 1);
    r = expect_escape_text(dstsize ? dst : NULL, dstsize, s);
    FZ_ASSERT(r == full_len);                     /* snprintf-like return */
    if (dstsize == 0) {
        free(dst);
        return;
    }
    w = strnlen(dst, dstsize);
    FZ_ASSERT(w < dstsize);                       /* always NUL-terminated */
    FZ_ASSERT(memcmp(dst, full, w) == 0);         /* a prefix of the whole */
    /* Ends on an escape boundary, and is the longest such prefix that fits:
     * walk the whole escape by units. */
    for (i = 0; i < full_len;) {
        size_t u = full[i] != '\\' ? 1 : (full[i + 1] == '\\' ? 2 : 4);
        if (i + u > dstsize - 1) {
            break;
        }
        i += u;
    }
    FZ_ASSERT(w == i);
    free(dst);
}

static void check_text(const char *s, size_t dsel)
{
    size_t ref_len, full_len, out_len, i;
    char *ref = ref_escape(s, &ref_len), *full, *out;
    static const size_t fixed[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 64};

    /* Measuring mode: NULL/0 and NULL/n both just measure. */
    full_len = expect_escape_text(NULL, 0, s);
    FZ_ASSERT(full_len == ref_len);
    FZ_ASSERT(expect_escape_text(NULL, 17, s) == ref_len);

    full = malloc(full_len + 1);
    FZ_ASSERT(full != NULL);
    FZ_ASSERT(expect_escape_text(full, full_len + 1, s) == full_len);
    FZ_ASSERT(strlen(full) == full_len);
    FZ_ASSERT(memcmp(full, ref, ref_len) == 0);
    for (i = 0; i < full_len; i++) {
        unsigned char c = (unsigned char)full[i];
        FZ_ASSERT(c >= 0x20 && c < 0x7f && c != '"');
    }
    check_unescape(full, full_len, s);

    /* NULL src is "". */
    {
        char e[4] = "xyz";
        FZ_ASSERT(expect_escape_text(e, sizeof(e), NULL) == 0 && e[0] == '\0');
    }

    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        check_truncated(s, full, full_len, fixed[i]);
    }
    check_truncated(s, full, full_len, dsel);
    check_truncated(s, full, full_len, full_len);
    check_truncated(s, full, full_len, full_len + 1);

    /* fput_text writes exactly the full escape. */
    out = capture(expect_fput_text, s, &out_len);
    FZ_ASSERT(out_len == full_len && memcmp(out, full, full_len) == 0);
    free(out);
    free(full);
    free(ref);
}

static void check_json(const char *s)
{
    size_t n = strlen(s), out_len, i, k, ne = 0;
    char *out = capture(expect_fput_json_string, s, &out_len);
    uint32_t *got = malloc((out_len + 1) * sizeof(uint32_t));
    uint32_t *want = malloc((n + 1) * sizeof(uint32_t));
    long ng;

    FZ_ASSERT(got != NULL && want != NULL);
    /* A valid JSON value on its own, and exactly one string. */
    if (!fz_json_valid(out, out_len)) {
        fz_fail("fput_json_string output is not valid JSON (%zu bytes)", out_len);
    }
    ng = fz_json_string_decode(out, out_len, got, out_len + 1);
    FZ_ASSERT(ng >= 0);
    /* No raw DEL, raw C1 control (U+0080..U+009F as UTF-8) or raw bidi
     * embedding, override or isolate (U+202A..U+202E, U+2066..U+2069). */
    for (i = 0; i < out_len; i++) {
        unsigned char c = (unsigned char)out[i];
        FZ_ASSERT(c != 0x7f);
        if (c == 0xc2 && i + 1 < out_len) {
            FZ_ASSERT((unsigned char)out[i + 1] >= 0xa0);
        }
        if (c == 0xe2 && i + 2 < out_len) {
            unsigned char c1 = (unsigned char)out[i + 1], c2 = (unsigned char)out[i + 2];
            FZ_ASSERT(!(c1 == 0x80 && c2 >= 0xaa && c2 <= 0xae));
            FZ_ASSERT(!(c1 == 0x81 && c2 >= 0xa6 && c2 <= 0xa9));
        }
    }
    /* Decodes back to: each well-formed UTF-8 sequence as its code point,
     * each other byte as that byte read as Latin-1. */
    for (i = 0; i < n;) {
        uint32_t cp;
        k = fz_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (k == 0) {
            cp = (unsigned char)s[i];
            k = 1;
        }
        want[ne++] = cp;
        i += k;
    }
    FZ_ASSERT((size_t)ng == ne);
    FZ_ASSERT(ne == 0 || memcmp(got, want, ne * sizeof(uint32_t)) == 0);
    free(got);
    free(want);
    free(out);
}

static void check_prom(const char *s)
{
    size_t out_len, ref_len;
    char *out = capture(expect_fput_prom_label, s, &out_len);
    char *ref = ref_escape(s, &ref_len);
    char *back = malloc(out_len + 1);
    long nb;

    FZ_ASSERT(back != NULL);
    FZ_ASSERT(memchr(out, '\n', out_len) == NULL);
    FZ_ASSERT(fz_text_clean(out, out_len, 0));
    /* What a scraper reads back is exactly the text escape. */
    nb = fz_prom_label_decode(out, out_len, back, out_len + 1);
    FZ_ASSERT(nb >= 0);
    FZ_ASSERT((size_t)nb == ref_len && memcmp(back, ref, ref_len) == 0);
    free(back);
    free(ref);
    free(out);
}

static void to_capture(void *ctx, const char *s, size_t n)
{
    fwrite(s, 1, n, (FILE *)ctx);
}

/* The string as every string of an event (each cut to its field), the
 * code as producer, reason and outcome, and as the server's name. */
static void check_event_lines(const char *s, uint32_t code, uint64_t usec)
{
    expect_shm_event_t e;
    char line[EXPECT_EVENT_LINE_MAX], *obj = NULL;
    size_t len, n = 0;
    FILE *f;

    expect_shm_event_init(&e);
    e.seq = 2 * (usec & 0xffff) + 2;
    e.time_usec = usec;
    e.content_length = (int64_t)(code & 0xffff) - 1;
    e.producer = code & 7;
    e.reason = (code >> 3) & 7;
    e.outcome = expect_outcome_word(usec & 0xffff, (code >> 6) & 7, code >> 9);
    EXPECT_SHM_EVENT_SET(&e, vhost, s);
    EXPECT_SHM_EVENT_SET(&e, client, s);
    EXPECT_SHM_EVENT_SET(&e, method, s);
    EXPECT_SHM_EVENT_SET(&e, uri, s);
    EXPECT_SHM_EVENT_SET(&e, protocol, s);
    EXPECT_SHM_EVENT_SET(&e, expect, (code & 0x200) ? "100-continue" : s);
    EXPECT_SHM_EVENT_SET(&e, user_agent, s);

    f = open_memstream(&obj, &n);
    FZ_ASSERT(f != NULL);
    expect_event_json(to_capture, f, &e, (code >> 6) & 7);
    FZ_ASSERT(fclose(f) == 0);
    if (!fz_json_valid(obj, n)) {
        fz_fail("events --json object is not valid JSON (%zu bytes)", n);
    }
    free(obj);

    len = expect_event_line(line, sizeof(line), s, usec, usec, &e, (code >> 6) & 7);
    FZ_ASSERT(len > 2 && len < EXPECT_EVENT_LINE_MAX && strlen(line) == len);
    FZ_ASSERT(line[len - 1] == '\n' && memchr(line, '\n', len - 1) == NULL);
    if (!fz_json_valid(line, len - 1)) {
        fz_fail("event line is not valid JSON (%zu bytes)", len);
    }
    len = expect_event_gap_line(line, sizeof(line), s, usec, usec, code);
    FZ_ASSERT(len > 2 && len < EXPECT_EVENT_LINE_MAX && line[len - 1] == '\n');
    if (!fz_json_valid(line, len - 1)) {
        fz_fail("gap line is not valid JSON (%zu bytes)", len);
    }
}

static void check_name(const char *name)
{
    FZ_ASSERT(name != NULL && name[0] != '\0');
    FZ_ASSERT(fz_text_clean(name, strlen(name), 0));
}

static unsigned char ref_fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Does the pattern occur in ua at offset at, ignoring ASCII case? */
static int ref_at(const char *ua, size_t at, const char *pat)
{
    size_t i, n = strlen(pat);

    if (strlen(ua) < at + n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (ref_fold((unsigned char)ua[at + i]) != ref_fold((unsigned char)pat[i])) {
            return 0;
        }
    }
    return 1;
}

static int ref_matches(const expect_client_t *c, const char *ua)
{
    size_t at;

    switch (c->match) {
    case EXPECT_CLIENT_MATCH_PREFIX:
        return ref_at(ua, 0, c->pattern);
    case EXPECT_CLIENT_MATCH_EXACT:
        return ref_at(ua, 0, c->pattern) && strlen(ua) == strlen(c->pattern);
    case EXPECT_CLIENT_MATCH_SUBSTRING:
        for (at = 0; ua[at] != '\0'; at++) {
            if (ref_at(ua, at, c->pattern)) {
                return 1;
            }
        }
        return 0;
    default:
        return 0;
    }
}

/*
 * The string as a User-Agent: the match is the first entry a reference
 * matcher accepts, or NULL when none does; the event's client needs an
 * Expect of exactly 100-continue; every fix is one clean line without a
 * quote, measured as written, truncated safely.
 */
static void check_clients(const char *ua, uint32_t code)
{
    const expect_client_t *got = expect_client_match(ua), *c, *want = NULL;
    expect_client_facts_t facts;
    char fix[2048], small[24];
    size_t i, n;

    for (i = 0; (c = expect_client_at(i)) != NULL && want == NULL; i++) {
        if (ua[0] != '\0' && ref_matches(c, ua)) {
            want = c;
        }
    }
    FZ_ASSERT(got == want);
    FZ_ASSERT(expect_client_for_event(EXPECT_PRODUCER_MOD_EXPECT, EXPECT_REASON_POLICY,
                                      "100-continue", ua) == want);
    FZ_ASSERT(expect_client_for_event(EXPECT_PRODUCER_CORE, EXPECT_REASON_CORE_UNKNOWN,
                                      "100-continue", ua) == NULL);
    /* the string as the Expect value of a known client's request */
    c = expect_client_for_event(code & 3, code >> 8 & 7, ua, "curl/7.88.1");
    FZ_ASSERT(c == NULL || c == expect_client_match("curl/7.88.1"));
    c = got != NULL ? got : expect_client_at(code % expect_client_count());
    /* the facts of the client at the fuzzed User-Agent's version */
    expect_client_resolve(c, ua, &facts);
    n = expect_client_fix(fix, sizeof(fix), &facts, code & 7);
    FZ_ASSERT(n > 0 && n < sizeof(fix) && strlen(fix) == n);
    FZ_ASSERT(fz_text_clean(fix, n, 0) && strchr(fix, '"') == NULL);
    FZ_ASSERT(expect_client_fix(small, sizeof(small), &facts, code & 7) == n);
    FZ_ASSERT(strlen(small) == sizeof(small) - 1 && memcmp(small, fix, sizeof(small) - 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t hdr[HDR] = {0};
    uint32_t code;
    uint64_t usec;
    size_t slen;
    char *s, when[40];

    memcpy(hdr, data, size < HDR ? size : HDR);
    memcpy(&code, hdr + 1, sizeof(code));
    memcpy(&usec, hdr + 5, sizeof(usec));

    /* The string in its own exact-size allocation. */
    if (size > HDR) {
        const uint8_t *p = data + HDR, *nul = memchr(p, 0, size - HDR);
        slen = nul ? (size_t)(nul - p) : size - HDR;
        s = malloc(slen + 1);
        FZ_ASSERT(s != NULL);
        memcpy(s, p, slen);
    }
    else {
        slen = 0;
        s = malloc(1);
        FZ_ASSERT(s != NULL);
    }
    s[slen] = '\0';

    check_text(s, hdr[0]);
    check_json(s);
    check_prom(s);

    /* NULL is "" for every writer. */
    {
        size_t n;
        char *o = capture(expect_fput_json_string, NULL, &n);
        FZ_ASSERT(n == 2 && memcmp(o, "\"\"", 2) == 0);
        free(o);
        o = capture(expect_fput_prom_label, NULL, &n);
        FZ_ASSERT(n == 2 && memcmp(o, "\"\"", 2) == 0);
        free(o);
    }

    check_clients(s, code);
    check_event_lines(s, code, usec);
    check_name(expect_reason_text(code));
    check_name(expect_reason_key(code));
    check_name(expect_producer_name(code));
    check_name(expect_reason_text(code & 7));
    check_name(expect_producer_name(code & 7));

    ctl_format_time(when, sizeof(when), usec);
    FZ_ASSERT(strnlen(when, sizeof(when)) < sizeof(when));
    FZ_ASSERT(fz_text_clean(when, strlen(when), 0));
    ctl_format_time(when, 5, usec);
    FZ_ASSERT(strnlen(when, 5) < 5);

    free(s);
    return 0;
}
