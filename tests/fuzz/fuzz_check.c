/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_check.c - see fuzz_check.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_check.h"

void fz_fail(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "FUZZ INVARIANT VIOLATED: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

size_t fz_utf8_decode(const unsigned char *p, size_t avail, uint32_t *cp)
{
    uint32_t v, min;
    size_t need, i;

    if (avail == 0) {
        return 0;
    }
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xe0) == 0xc0) {
        need = 1; min = 0x80; v = p[0] & 0x1fu;
    }
    else if ((p[0] & 0xf0) == 0xe0) {
        need = 2; min = 0x800; v = p[0] & 0x0fu;
    }
    else if ((p[0] & 0xf8) == 0xf0) {
        need = 3; min = 0x10000; v = p[0] & 0x07u;
    }
    else {
        return 0;
    }
    if (avail < need + 1) {
        return 0;
    }
    for (i = 1; i <= need; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (p[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        return 0;
    }
    *cp = v;
    return need + 1;
}

/* ---- JSON ---- */

typedef struct {
    const unsigned char *s;
    size_t len, pos;
    int depth;
} jp_t;

static void jp_ws(jp_t *j)
{
    while (j->pos < j->len && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t'
                               || j->s[j->pos] == '\n' || j->s[j->pos] == '\r')) {
        j->pos++;
    }
}

static int json_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int jp_hex4(jp_t *j, uint32_t *v)
{
    size_t i;
    int d;

    if (j->len - j->pos < 4) {
        return -1;
    }
    *v = 0;
    for (i = 0; i < 4; i++) {
        if ((d = json_hexval(j->s[j->pos + i])) < 0) {
            return -1;
        }
        *v = (*v << 4) | (uint32_t)d;
    }
    j->pos += 4;
    return 0;
}

/* One string at pos; code points go to cps when not NULL. */
static long jp_string(jp_t *j, uint32_t *cps, size_t cap)
{
    long n = 0;
    uint32_t cp, lo;
    size_t k;

    if (j->pos >= j->len || j->s[j->pos] != '"') {
        return -1;
    }
    j->pos++;
    for (;;) {
        unsigned char c;

        if (j->pos >= j->len) {
            return -1;
        }
        c = j->s[j->pos];
        if (c == '"') {
            j->pos++;
            return n;
        }
        if (c < 0x20) {
            return -1;
        }
        if (c == '\\') {
            if (++j->pos >= j->len) {
                return -1;
            }
            c = j->s[j->pos++];
            switch (c) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = 8; break;
            case 'f': cp = 12; break;
            case 'n': cp = 10; break;
            case 'r': cp = 13; break;
            case 't': cp = 9; break;
            case 'u':
                if (jp_hex4(j, &cp) != 0) {
                    return -1;
                }
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return -1;   /* lone low surrogate */
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (j->len - j->pos < 2 || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u') {
                        return -1;
                    }
                    j->pos += 2;
                    if (jp_hex4(j, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff) {
                        return -1;
                    }
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                break;
            default:
                return -1;
            }
        }
        else {
            k = fz_utf8_decode(j->s + j->pos, j->len - j->pos, &cp);
            if (k == 0) {
                return -1;
            }
            j->pos += k;
        }
        if (cps != NULL) {
            if ((size_t)n >= cap) {
                return -1;
            }
            cps[n] = cp;
        }
        n++;
    }
}

static int jp_lit(jp_t *j, const char *lit)
{
    size_t l = strlen(lit);

    if (j->len - j->pos < l || memcmp(j->s + j->pos, lit, l) != 0) {
        return -1;
    }
    j->pos += l;
    return 0;
}

static int jp_digits(jp_t *j)
{
    size_t start = j->pos;

    while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9') {
        j->pos++;
    }
    return j->pos > start ? 0 : -1;
}

static int jp_number(jp_t *j)
{
    if (j->pos < j->len && j->s[j->pos] == '-') {
        j->pos++;
    }
    if (j->pos < j->len && j->s[j->pos] == '0') {
        j->pos++;
    }
    else if (jp_digits(j) != 0) {
        return -1;
    }
    if (j->pos < j->len && j->s[j->pos] == '.') {
        j->pos++;
        if (jp_digits(j) != 0) {
            return -1;
        }
    }
    if (j->pos < j->len && (j->s[j->pos] == 'e' || j->s[j->pos] == 'E')) {
        j->pos++;
        if (j->pos < j->len && (j->s[j->pos] == '+' || j->s[j->pos] == '-')) {
            j->pos++;
        }
        if (jp_digits(j) != 0) {
            return -1;
        }
    }
    return 0;
}

static int jp_value(jp_t *j);

static int jp_container(jp_t *j, unsigned char open, unsigned char close)
{
    int first = 1;

    if (++j->depth > 64) {
        return -1;
    }
    j->pos++;   /* open */
    (void)open;
    for (;;) {
        jp_ws(j);
        if (j->pos >= j->len) {
            return -1;
        }
        if (j->s[j->pos] == close) {
            j->pos++;
            j->depth--;
            return 0;
        }
        if (!first) {
            if (j->s[j->pos] != ',') {
                return -1;
            }
            j->pos++;
            jp_ws(j);
        }
        first = 0;
        if (close == '}') {
            if (jp_string(j, NULL, 0) < 0) {
                return -1;
            }
            jp_ws(j);
            if (j->pos >= j->len || j->s[j->pos] != ':') {
                return -1;
            }
            j->pos++;
            jp_ws(j);
        }
        if (jp_value(j) != 0) {
            return -1;
        }
    }
}

static int jp_value(jp_t *j)
{
    if (j->pos >= j->len) {
        return -1;
    }
    switch (j->s[j->pos]) {
    case '{': return jp_container(j, '{', '}');
    case '[': return jp_container(j, '[', ']');
    case '"': return jp_string(j, NULL, 0) < 0 ? -1 : 0;
    case 't': return jp_lit(j, "true");
    case 'f': return jp_lit(j, "false");
    case 'n': return jp_lit(j, "null");
    default:  return jp_number(j);
    }
}

int fz_json_valid(const char *s, size_t len)
{
    jp_t j = { (const unsigned char *)s, len, 0, 0 };

    jp_ws(&j);
    if (jp_value(&j) != 0) {
        return 0;
    }
    jp_ws(&j);
    return j.pos == j.len;
}

long fz_json_string_decode(const char *s, size_t len, uint32_t *cps, size_t cap)
{
    jp_t j = { (const unsigned char *)s, len, 0, 0 };
    long n = jp_string(&j, cps, cap);

    return (n >= 0 && j.pos == len) ? n : -1;
}

/* ---- text ---- */

int fz_text_clean(const char *s, size_t len, int allow_nl)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\n' && allow_nl) {
            continue;
        }
        if (c < 0x20 || c > 0x7e) {
            return 0;
        }
    }
    return 1;
}

size_t fz_count_lines(const char *s, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        n += s[i] == '\n';
    }
    return n;
}

/* ---- Prometheus ---- */

long fz_prom_label_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t i, n = 0;

    if (len < 2 || s[0] != '"' || s[len - 1] != '"' || cap == 0) {
        return -1;
    }
    for (i = 1; i < len - 1; i++) {
        char c = s[i];

        if (c == '"' || c == '\n') {
            return -1;
        }
        if (c == '\\') {
            if (i + 1 >= len - 1) {
                return -1;   /* would escape the closing quote */
            }
            c = s[++i];
            if (c == 'n') {
                c = '\n';
            }
            else if (c != '\\' && c != '"') {
                return -1;
            }
        }
        if (n + 1 >= cap) {
            return -1;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return (long)n;
}

static int metric_name_char(unsigned char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'
           || (!first && c >= '0' && c <= '9');
}

static int label_name_char(unsigned char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
           || (!first && c >= '0' && c <= '9');
}

/* A sample line without its '\n'. */
static int prom_sample(const char *s, size_t len)
{
    size_t i = 0, start;
    int seen_digit = 0;

    while (i < len && metric_name_char((unsigned char)s[i], i == 0)) {
        i++;
    }
    if (i == 0) {
        return -1;
    }
    if (i < len && s[i] == '{') {
        i++;
        for (;;) {
            start = i;
            while (i < len && label_name_char((unsigned char)s[i], i == start)) {
                i++;
            }
            if (i == start || i >= len || s[i] != '=') {
                return -1;
            }
            i++;
            if (i >= len || s[i] != '"') {
                return -1;
            }
            i++;
            while (i < len && s[i] != '"') {
                if (s[i] == '\\') {
                    if (i + 1 >= len || (s[i + 1] != '\\' && s[i + 1] != '"' && s[i + 1] != 'n')) {
                        return -1;
                    }
                    i++;
                }
                i++;
            }
            if (i >= len) {
                return -1;
            }
            i++;   /* closing quote */
            if (i < len && s[i] == ',') {
                i++;
                continue;
            }
            if (i < len && s[i] == '}') {
                i++;
                break;
            }
            return -1;
        }
    }
    if (i >= len || s[i] != ' ') {
        return -1;
    }
    i++;
    /* expectctl writes unsigned integers and seconds.micros only */
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        seen_digit = 1;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    }
    return (seen_digit && i == len) ? 0 : -1;
}

long fz_prom_valid(const char *s, size_t len, const char **why)
{
    size_t pos = 0, end;
    long samples = 0;

    while (pos < len) {
        const char *nl = memchr(s + pos, '\n', len - pos);

        if (nl == NULL) {
            *why = "last line not terminated";
            return -1;
        }
        end = (size_t)(nl - s);
        if (!fz_text_clean(s + pos, end - pos, 0)) {
            *why = "control or non-ASCII byte in a line";
            return -1;
        }
        if (end - pos >= 7 && (memcmp(s + pos, "# HELP ", 7) == 0
                               || memcmp(s + pos, "# TYPE ", 7) == 0)) {
            /* comment lines: clean text is all that matters */
        }
        else if (prom_sample(s + pos, end - pos) != 0) {
            *why = "malformed sample line";
            return -1;
        }
        else {
            samples++;
        }
        pos = end + 1;
    }
    return samples;
}

static char *out_buf;
static size_t out_size;

void fz_stdout_to_memory(void)
{
    int fd;

    fflush(stdout);
    fd = memfd_create("fuzz_stdout", MFD_CLOEXEC);
    if (fd < 0) {
        FILE *t = tmpfile();
        if (t == NULL) {
            fz_fail("no memfd and no tmpfile: %s", strerror(errno));
        }
        fd = dup(fileno(t));
        fclose(t);
    }
    if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
        fz_fail("cannot redirect stdout: %s", strerror(errno));
    }
    close(fd);
}

void fz_stdout_rewind(void)
{
    fflush(stdout);
    if (ftruncate(STDOUT_FILENO, 0) != 0 || fseek(stdout, 0, SEEK_SET) != 0) {
        fz_fail("cannot rewind stdout: %s", strerror(errno));
    }
    clearerr(stdout);
}

const char *fz_stdout_take(size_t *len)
{
    off_t end;
    size_t got = 0;
    ssize_t r;

    FZ_ASSERT(fflush(stdout) == 0 && !ferror(stdout));
    end = lseek(STDOUT_FILENO, 0, SEEK_END);
    FZ_ASSERT(end >= 0);
    if ((size_t)end + 1 > out_size) {
        out_size = (size_t)end + 1;
        out_buf = realloc(out_buf, out_size);
        FZ_ASSERT(out_buf != NULL);
    }
    while (got < (size_t)end) {
        r = pread(STDOUT_FILENO, out_buf + got, (size_t)end - got, (off_t)got);
        FZ_ASSERT(r > 0);
        got += (size_t)r;
    }
    out_buf[got] = '\0';
    *len = got;
    return out_buf;
}
