/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_format.c - escaping for text, JSON and Prometheus output, and the
 * reason/producer tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_format.h"
#include "expect_shm.h"

typedef int (*writer_fn)(FILE *f, const char *s);

/* Run a writer into memory; the caller frees the result. */
static char *render(writer_fn fn, const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    assert_int_equal(fn(f, s), 0);
    assert_int_equal(fclose(f), 0);
    assert_non_null(buf);
    assert_int_equal(strlen(buf), len);   /* no NUL smuggled into output */
    return buf;
}

static void assert_render(writer_fn fn, const char *in, const char *want)
{
    char *got = render(fn, in);

    assert_string_equal(got, want);
    free(got);
}

/* No byte a terminal could act on, and no line break. */
static void assert_inert(const char *s)
{
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            fail_msg("control byte 0x%02x in output \"%s\"", *p, s);
        }
    }
}

/* Every byte value 1..255, in order. */
static void all_bytes(char out[256])
{
    int i;

    for (i = 1; i < 256; i++) {
        out[i - 1] = (char)i;
    }
    out[255] = '\0';
}

/* ---- text ---- */

static void test_text_escape(void **state)
{
    char buf[64], every[256], *big;
    size_t need;
    const unsigned char *p;

    (void)state;
    need = expect_escape_text(buf, sizeof(buf), "GET /a\nFake: line");
    assert_string_equal(buf, "GET /a\\x0aFake: line");
    assert_int_equal(need, strlen(buf));
    expect_escape_text(buf, sizeof(buf), "\x1b[2J\x1b]0;pwned\x07");
    assert_string_equal(buf, "\\x1b[2J\\x1b]0;pwned\\x07");
    expect_escape_text(buf, sizeof(buf), "a\\x41\r\t\x7f");
    assert_string_equal(buf, "a\\\\x41\\x0d\\x09\\x7f");
    expect_escape_text(buf, sizeof(buf), "say \"hi\" caf\xc3\xa9 \xff");
    assert_string_equal(buf, "say \\x22hi\\x22 caf\\xc3\\xa9 \\xff");
    expect_escape_text(buf, sizeof(buf), NULL);
    assert_string_equal(buf, "");

    /* Measuring, and truncation that never splits an escape. */
    assert_int_equal(expect_escape_text(NULL, 0, "a\x01"), 5);
    memset(buf, '#', sizeof(buf));
    assert_int_equal(expect_escape_text(buf, 4, "ab\x01z"), 7);
    assert_string_equal(buf, "ab");
    assert_int_equal(expect_escape_text(buf, 2, "\\"), 2);
    assert_string_equal(buf, "");
    assert_int_equal(expect_escape_text(buf, 3, "\\"), 2);
    assert_string_equal(buf, "\\\\");

    all_bytes(every);
    need = expect_escape_text(NULL, 0, every);
    big = malloc(need + 1);
    assert_non_null(big);
    assert_int_equal(expect_escape_text(big, need + 1, every), need);
    assert_int_equal(strlen(big), need);
    assert_inert(big);
    for (p = (const unsigned char *)big; *p; p++) {
        assert_true(*p < 0x80);
    }
    free(big);

    assert_render(expect_fput_text, "x\ny\x1b", "x\\x0ay\\x1b");
    assert_render(expect_fput_text, NULL, "");
    big = render(expect_fput_text, every);
    assert_inert(big);
    free(big);
}

/* ---- JSON ---- */

/* A minimal JSON string checker: quotes balanced, escapes well-formed,
 * no raw control characters. */
static void assert_json_string(const char *s)
{
    size_t i, n = strlen(s);

    assert_true(n >= 2);
    assert_int_equal(s[0], '"');
    assert_int_equal(s[n - 1], '"');
    for (i = 1; i < n - 1; i++) {
        unsigned char c = (unsigned char)s[i];
        assert_true(c >= 0x20);
        assert_int_not_equal(c, '"');
        if (c == '\\') {
            i++;
            assert_true(i < n - 1);
            if (s[i] == 'u') {
                assert_true(i + 4 < n - 1);
                i += 4;
            }
            else {
                assert_non_null(strchr("\"\\/bfnrt", s[i]));
            }
        }
    }
}

static void test_json_escape(void **state)
{
    char every[256], *out;

    (void)state;
    assert_render(expect_fput_json_string, "plain", "\"plain\"");
    assert_render(expect_fput_json_string, NULL, "\"\"");
    assert_render(expect_fput_json_string, "q\"b\\n\nr\rt\t",
                  "\"q\\\"b\\\\n\\nr\\rt\\t\"");
    assert_render(expect_fput_json_string, "\x01\x1b[0m\x7f",
                  "\"\\u0001\\u001b[0m\\u007f\"");
    /* Well-formed UTF-8 passes: 2, 3 and 4 byte sequences. */
    assert_render(expect_fput_json_string, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* Ill-formed: stray bytes, a cut sequence, overlong, surrogate, > U+10FFFF. */
    assert_render(expect_fput_json_string, "\xff\x80", "\"\\u00ff\\u0080\"");
    assert_render(expect_fput_json_string, "a\xc3", "\"a\\u00c3\"");
    assert_render(expect_fput_json_string, "\xe2\x82", "\"\\u00e2\\u0082\"");
    assert_render(expect_fput_json_string, "\xc0\xaf", "\"\\u00c0\\u00af\"");
    assert_render(expect_fput_json_string, "\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\"");
    assert_render(expect_fput_json_string, "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"");
    assert_render(expect_fput_json_string, "\xf4\x90\x80\x80",
                  "\"\\u00f4\\u0090\\u0080\\u0080\"");
    /* C1 control (CSI), though valid UTF-8, is escaped; U+00A0 is not. */
    assert_render(expect_fput_json_string, "\xc2\x9b" "31m\xc2\xa0",
                  "\"\\u009b31m\xc2\xa0\"");

    all_bytes(every);
    out = render(expect_fput_json_string, every);
    assert_json_string(out);
    free(out);
}

/*
 * Issue 12, item 9: the bidirectional embeddings, overrides and isolates
 * (U+202A-U+202E, U+2066-U+2069) are valid JSON raw, but a viewer of the
 * decoded string reorders the text around them, so a User-Agent with
 * U+202E could make an event read backwards.  Each is \uXXXX in lower-case
 * hex, like the escaper's \u00XX; their neighbours stay raw UTF-8.
 */
static void test_json_bidi_controls(void **state)
{
    static const struct { const char *utf8; const char *json; } bidi[] = {
        {"\xe2\x80\xaa", "\"\\u202a\""},   /* LRE */
        {"\xe2\x80\xab", "\"\\u202b\""},   /* RLE */
        {"\xe2\x80\xac", "\"\\u202c\""},   /* PDF */
        {"\xe2\x80\xad", "\"\\u202d\""},   /* LRO */
        {"\xe2\x80\xae", "\"\\u202e\""},   /* RLO */
        {"\xe2\x81\xa6", "\"\\u2066\""},   /* LRI */
        {"\xe2\x81\xa7", "\"\\u2067\""},   /* RLI */
        {"\xe2\x81\xa8", "\"\\u2068\""},   /* FSI */
        {"\xe2\x81\xa9", "\"\\u2069\""},   /* PDI */
    };
    /* Neighbours, kept as they are. */
    static const char *const raw[] = {
        "\xe2\x80\xa9",   /* U+2029 PARAGRAPH SEPARATOR */
        "\xe2\x80\xaf",   /* U+202F NARROW NO-BREAK SPACE */
        "\xe2\x81\xa5",   /* U+2065 */
        "\xe2\x81\xaa",   /* U+206A INHIBIT SYMMETRIC SWAPPING */
        "\xe2\x80\x8f",   /* U+200F RIGHT-TO-LEFT MARK */
        "\xe2\x82\xae",   /* U+20AE TUGRIK SIGN: same last byte as U+202E */
        "\xe3\x80\xae",   /* U+302E: same last two bytes */
    };
    char want[32], *out;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bidi) / sizeof(bidi[0]); i++) {
        assert_render(expect_fput_json_string, bidi[i].utf8, bidi[i].json);
    }
    for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        snprintf(want, sizeof(want), "\"%s\"", raw[i]);
        assert_render(expect_fput_json_string, raw[i], want);
    }
    /* In context: the User-Agent of the issue, and two in a row. */
    assert_render(expect_fput_json_string, "curl/8.0 \xe2\x80\xae" "txt.exe",
                  "\"curl/8.0 \\u202etxt.exe\"");
    assert_render(expect_fput_json_string, "\xe2\x81\xa6\xe2\x80\xaa" "a\xe2\x81\xa9",
                  "\"\\u2066\\u202aa\\u2069\"");
    /* Cut short, the bytes are invalid UTF-8 and escaped one by one. */
    assert_render(expect_fput_json_string, "\xe2\x80", "\"\\u00e2\\u0080\"");
    assert_render(expect_fput_json_string, "\xe2\x81\xa6\xe2\x81",
                  "\"\\u2066\\u00e2\\u0081\"");
    /* Text output already escaped every byte above 0x7e. */
    out = render(expect_fput_text, "\xe2\x80\xae");
    assert_string_equal(out, "\\xe2\\x80\\xae");
    free(out);
}

/* ---- Prometheus ---- */

static void test_prom_escape(void **state)
{
    char every[256], *out;
    const char *p;

    (void)state;
    assert_render(expect_fput_prom_label, "www.example.org:443", "\"www.example.org:443\"");
    assert_render(expect_fput_prom_label, NULL, "\"\"");
    /* The quote is text-escaped first (\x22), so the label never holds one. */
    assert_render(expect_fput_prom_label, "a\"b", "\"a\\\\x22b\"");
    /* A backslash in the value is \\ after text escaping, \\\\ on the wire. */
    assert_render(expect_fput_prom_label, "a\\b", "\"a\\\\\\\\b\"");
    /* A newline or ESC reads back as the text \x0a / \x1b. */
    assert_render(expect_fput_prom_label, "a\nb\x1b", "\"a\\\\x0ab\\\\x1b\"");
    assert_render(expect_fput_prom_label, "\xc3\xa9", "\"\\\\xc3\\\\xa9\"");

    /* Every escape on the wire is one the exposition format knows. */
    all_bytes(every);
    out = render(expect_fput_prom_label, every);
    assert_inert(out);
    assert_int_equal(out[0], '"');
    for (p = out + 1; p[1] != '\0'; p++) {
        assert_int_not_equal(*p, '"');
        if (*p == '\\') {
            p++;
            assert_non_null(strchr("\\\"n", *p));
        }
    }
    assert_int_equal(*p, '"');
    free(out);
}

/* ---- tables ---- */

static void test_reason_tables(void **state)
{
    uint32_t r;

    (void)state;
    for (r = 0; r < EXPECT_REASON_COUNT; r++) {
        const char *t = expect_reason_text(r);
        assert_non_null(t);
        assert_true(strlen(t) > 10);
        assert_null(strchr(t, '\n'));
        assert_inert(t);
        assert_string_not_equal(expect_reason_key(r), "unknown");
    }
    assert_non_null(strstr(expect_reason_text(EXPECT_REASON_POLICY), "ExpectPolicy continue"));
    assert_non_null(strstr(expect_reason_text(EXPECT_REASON_STRICT_BODYLESS),
                           "ExpectStrict Off"));
    assert_non_null(strstr(expect_reason_text(EXPECT_REASON_CORE_UNKNOWN), "100-continue"));
    assert_non_null(strstr(expect_reason_text(EXPECT_REASON_HANDLER), "handler"));
    assert_non_null(strstr(expect_reason_text(EXPECT_REASON_BACKEND), "Proxy100Continue"));
    assert_string_equal(expect_reason_key(EXPECT_REASON_POLICY), "policy");
    assert_string_equal(expect_reason_key(EXPECT_REASON_STRICT_BODYLESS), "strict");
    assert_string_equal(expect_reason_text(EXPECT_REASON_COUNT), "unknown reason code");
    assert_string_equal(expect_reason_key(0xFFFFFFFFu), "unknown");

    assert_string_equal(expect_producer_name(EXPECT_PRODUCER_MOD_EXPECT), "mod_expect");
    assert_string_equal(expect_producer_name(EXPECT_PRODUCER_CORE), "core");
    assert_string_equal(expect_producer_name(EXPECT_PRODUCER_HANDLER), "handler");
    assert_string_equal(expect_producer_name(EXPECT_PRODUCER_BACKEND), "backend");
    assert_string_equal(expect_producer_name(EXPECT_PRODUCER_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_escape),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_json_bidi_controls),
        cmocka_unit_test(test_prom_escape),
        cmocka_unit_test(test_reason_tables),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
