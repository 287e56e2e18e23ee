/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_format.c - escaping and small writers for expectctl's output.
 */
#include <string.h>

#include "expect_format.h"
#include "expect_shm.h"

static const char hexdig[] = "0123456789abcdef";

/*
 * Printable ASCII other than the escape character and the double quote
 * passes as is: a quote in a client's User-Agent must not close a quoted
 * field of an events line and fake the fields after it.
 */
static int text_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '\\' && c != '"';
}

/* Fill esc with the text escape of c; returns its length (1, 2 or 4). */
static size_t text_escape_byte(unsigned char c, char esc[4])
{
    if (text_plain(c)) {
        esc[0] = (char)c;
        return 1;
    }
    if (c == '\\') {
        esc[0] = '\\';
        esc[1] = '\\';
        return 2;
    }
    esc[0] = '\\';
    esc[1] = 'x';
    esc[2] = hexdig[c >> 4];
    esc[3] = hexdig[c & 0xf];
    return 4;
}

size_t expect_escape_text(char *dst, size_t dstsize, const char *src)
{
    const unsigned char *p = (const unsigned char *)(src ? src : "");
    size_t need = 0, used = 0, k;
    char esc[4];
    int full = 0;

    for (; *p; p++) {
        k = text_escape_byte(*p, esc);
        need += k;
        /* Stop writing at the first escape that does not fit whole, so a
         * truncated field never ends in a dangling backslash. */
        if (!full && dst != NULL && dstsize > 0 && used + k < dstsize) {
            memcpy(dst + used, esc, k);
            used += k;
        }
        else {
            full = 1;
        }
    }
    if (dst != NULL && dstsize > 0) {
        dst[used] = '\0';
    }
    return need;
}

static int done(FILE *f)
{
    return ferror(f) ? -1 : 0;
}

int expect_fput_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    char esc[4];

    for (; *p; p++) {
        fwrite(esc, 1, text_escape_byte(*p, esc), f);
    }
    return done(f);
}

/* Length of the well-formed UTF-8 sequence at p (1..4), 0 if ill-formed.
 * Rejects overlongs, surrogates and code points above U+10FFFF.  Never
 * reads past a NUL: each continuation test stops at the first mismatch. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned c = p[0];

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) {
            return 0;
        }
        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)) {
            return 0;
        }
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) {
            return 0;
        }
        if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)) {
            return 0;
        }
        return 4;
    }
    return 0;
}

/* \uXXXX for a code point of the Basic Multilingual Plane, lower-case hex. */
static void json_u(char u[6], unsigned c)
{
    u[0] = '\\';
    u[1] = 'u';
    u[2] = hexdig[(c >> 12) & 0xf];
    u[3] = hexdig[(c >> 8) & 0xf];
    u[4] = hexdig[(c >> 4) & 0xf];
    u[5] = hexdig[c & 0xf];
}

/*
 * The bidirectional formatting characters, U+202A-U+202E (embeddings,
 * overrides) and U+2066-U+2069 (isolates), as the code point of the
 * well-formed 3-byte sequence at p, or 0.  Valid in JSON, but a viewer
 * that shows the decoded string reorders the text around them: a
 * User-Agent could make an event read as something it is not.
 */
static unsigned bidi_control(const unsigned char *p)
{
    if (p[0] != 0xe2) {
        return 0;
    }
    if (p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) {
        return 0x2000u + (p[2] - 0x80u);
    }
    if (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9) {
        return 0x2040u + (p[2] - 0x80u);
    }
    return 0;
}

/*
 * The JSON form of the character at p: its bytes into out (at most 6),
 * their number into *outlen; returns how many input bytes it took.
 */
static size_t json_token(const unsigned char *p, char out[6], size_t *outlen)
{
    unsigned c = *p;
    size_t n;

    switch (c) {
    case '"':  out[0] = '\\'; out[1] = '"';  *outlen = 2; return 1;
    case '\\': out[0] = '\\'; out[1] = '\\'; *outlen = 2; return 1;
    case '\n': out[0] = '\\'; out[1] = 'n';  *outlen = 2; return 1;
    case '\r': out[0] = '\\'; out[1] = 'r';  *outlen = 2; return 1;
    case '\t': out[0] = '\\'; out[1] = 't';  *outlen = 2; return 1;
    default: break;
    }
    *outlen = 6;
    if (c < 0x20 || c == 0x7f) {
        json_u(out, c);
        return 1;
    }
    n = utf8_len(p);
    if (n == 0) {
        json_u(out, c);
        return 1;
    }
    if (n == 2 && c == 0xc2 && p[1] < 0xa0) {
        /* C1 controls: valid JSON raw, but some terminals obey them. */
        json_u(out, p[1]);
        return 2;
    }
    if (n == 3 && bidi_control(p) != 0) {
        json_u(out, bidi_control(p));
        return 3;
    }
    memcpy(out, p, n);
    *outlen = n;
    return n;
}

size_t expect_emit_json_chars(expect_emit_fn emit, void *ctx, const char *s, size_t limit,
                              int *cut)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    char tok[6];
    size_t used = 0, k, n;

    if (cut != NULL) {
        *cut = 0;
    }
    while (*p) {
        n = json_token(p, tok, &k);
        /* A whole escape or a whole UTF-8 sequence, or nothing: a cut
         * string stays valid JSON and valid UTF-8. */
        if (k > limit - used) {
            if (cut != NULL) {
                *cut = 1;
            }
            break;
        }
        emit(ctx, tok, k);
        used += k;
        p += n;
    }
    return used;
}

static void emit_file(void *ctx, const char *s, size_t len)
{
    fwrite(s, 1, len, (FILE *)ctx);
}

int expect_fput_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    expect_emit_json_chars(emit_file, f, s, SIZE_MAX, NULL);
    fputc('"', f);
    return done(f);
}

void expect_emit_prom_label(expect_emit_fn emit, void *ctx, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    char esc[4];
    size_t k, i;

    emit(ctx, "\"", 1);
    for (; *p; p++) {
        k = text_escape_byte(*p, esc);
        for (i = 0; i < k; i++) {
            if (esc[i] == '\\') {
                emit(ctx, "\\\\", 2);
            }
            else if (esc[i] == '"') {
                emit(ctx, "\\\"", 2);
            }
            else {
                /* A newline cannot reach here: text escaping turned it into \x0a. */
                emit(ctx, &esc[i], 1);
            }
        }
    }
    emit(ctx, "\"", 1);
}

int expect_fput_prom_label(FILE *f, const char *s)
{
    expect_emit_prom_label(emit_file, f, s);
    return done(f);
}

static const char *const reason_text[EXPECT_REASON_COUNT] = {
    "no reason recorded",
    "ExpectPolicy reject on this vhost/location; the client should resend "
    "without Expect, or set ExpectPolicy continue",
    "ExpectStrict On and the request has no content; the client must not send "
    "100-continue without a body, or set ExpectStrict Off",
    "only 100-continue is defined; httpd rejects other expectations before "
    "modules run; fix the client, or set ExpectUnknown ignore to drop them",
    "a handler or script answered 417 itself; check the application",
    "the proxied backend answered 417; check the backend's Expect handling "
    "(Proxy100Continue)"
};

static const char *const reason_key[EXPECT_REASON_COUNT] = {
    "none", "policy", "strict", "unknown-expectation", "handler", "backend"
};

static const char *const producer_name[EXPECT_PRODUCER_COUNT] = {
    "mod_expect", "core", "handler", "backend"
};

const char *expect_reason_text(uint32_t reason)
{
    return reason < EXPECT_REASON_COUNT ? reason_text[reason] : "unknown reason code";
}

const char *expect_reason_key(uint32_t reason)
{
    return reason < EXPECT_REASON_COUNT ? reason_key[reason] : "unknown";
}

const char *expect_producer_name(uint32_t producer)
{
    return producer < EXPECT_PRODUCER_COUNT ? producer_name[producer] : "unknown";
}
