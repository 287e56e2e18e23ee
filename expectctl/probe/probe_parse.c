/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_parse.c - the pure half of `expectctl probe`'s HTTP: the URL, the
 * response heads and chunked bodies.  No I/O and no clock, so the unit
 * tests cover every branch.
 *
 * The parser is strict where a lenient one would hide the fault probe is
 * looking for (a garbled interim response, two different Content-Lengths)
 * and lenient where RFC 9112 lets a recipient be (bare LF line ends).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probe.h"

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

/* ---- URL ---- */

static int host_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_';
}

int probe_parse_url(const char *url, probe_url_t *u, char *err, size_t errlen)
{
    const char *p, *auth, *auth_end, *host, *host_end, *port_s = NULL, *t;
    size_t hlen, tlen;
    unsigned char a6[16], a4[4];
    char hostbuf[PROBE_HOST_MAX];
    unsigned long port;

    memset(u, 0, sizeof(*u));
    if (url == NULL || *url == '\0') {
        return fail(err, errlen, "probe needs a URL: probe http://HOST[:PORT]/PATH");
    }
    if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
    }
    else if (strncasecmp(url, "https://", 8) == 0) {
        p = url + 8;
        u->tls = 1;
    }
    else {
        return fail(err, errlen, "the URL must start with http:// or https://");
    }
    auth = p;
    auth_end = auth + strcspn(auth, "/?#");
    if (memchr(auth, '@', (size_t)(auth_end - auth)) != NULL) {
        return fail(err, errlen, "user:password@ in the URL is not supported");
    }
    if (auth == auth_end) {
        return fail(err, errlen, "the URL has no host");
    }
    if (*auth == '[') {
        host = auth + 1;
        host_end = memchr(host, ']', (size_t)(auth_end - host));
        if (host_end == NULL) {
            return fail(err, errlen, "unterminated [IPv6 address] in the URL");
        }
        hlen = (size_t)(host_end - host);
        if (hlen == 0 || hlen >= sizeof(hostbuf)) {
            return fail(err, errlen, "bad [IPv6 address] in the URL");
        }
        memcpy(hostbuf, host, hlen);
        hostbuf[hlen] = '\0';
        if (strchr(hostbuf, '%') != NULL) {
            return fail(err, errlen, "IPv6 zone identifiers (%) are not supported");
        }
        if (inet_pton(AF_INET6, hostbuf, a6) != 1) {
            return fail(err, errlen, "bad [IPv6 address] in the URL");
        }
        u->host_is_ip = 1;
        u->ipv6_literal = 1;
        p = host_end + 1;
        if (p < auth_end && *p != ':') {
            return fail(err, errlen, "unexpected text after ] in the URL");
        }
    }
    else {
        host = auth;
        host_end = memchr(auth, ':', (size_t)(auth_end - auth));
        if (host_end == NULL) {
            host_end = auth_end;
        }
        hlen = (size_t)(host_end - host);
        if (hlen == 0) {
            return fail(err, errlen, "the URL has no host");
        }
        if (hlen >= sizeof(hostbuf)) {
            return fail(err, errlen, "the host name in the URL is too long");
        }
        memcpy(hostbuf, host, hlen);
        hostbuf[hlen] = '\0';
        for (t = hostbuf; *t; t++) {
            if (!host_char((unsigned char)*t)) {
                return fail(err, errlen,
                            "the host in the URL has a character a host name cannot have");
            }
        }
        u->host_is_ip = inet_pton(AF_INET, hostbuf, a4) == 1;
        p = host_end;
    }
    memcpy(u->host, hostbuf, hlen + 1);

    u->port = u->tls ? 443 : 80;
    if (p < auth_end && *p == ':') {
        char *end = NULL;
        port_s = p + 1;
        if (port_s < auth_end) {
            if (!isdigit((unsigned char)*port_s)) {
                return fail(err, errlen, "the port in the URL must be a number from 1 to 65535");
            }
            port = strtoul(port_s, &end, 10);
            if (end != auth_end || port < 1 || port > 65535) {
                return fail(err, errlen, "the port in the URL must be a number from 1 to 65535");
            }
            u->port = (unsigned)port;
        }
    }

    /* Path and query, up to any fragment; "?q" alone means "/?q". */
    t = auth_end;
    tlen = strcspn(t, "#");
    if (tlen + 2 > sizeof(u->target)) {
        return fail(err, errlen, "the URL path is too long");
    }
    if (tlen == 0) {
        strcpy(u->target, "/");
    }
    else {
        size_t i, off = 0;
        if (*t == '?') {
            u->target[off++] = '/';
        }
        for (i = 0; i < tlen; i++) {
            unsigned char c = (unsigned char)t[i];
            if (c <= 0x20 || c >= 0x7f) {
                return fail(err, errlen,
                            "the URL has a space, control or non-ASCII byte: percent-encode it");
            }
        }
        memcpy(u->target + off, t, tlen);
        u->target[off + tlen] = '\0';
    }
    if ((u->tls && u->port == 443) || (!u->tls && u->port == 80)) {
        snprintf(u->authority, sizeof(u->authority), u->ipv6_literal ? "[%s]" : "%s",
                 u->host);
    }
    else {
        snprintf(u->authority, sizeof(u->authority), u->ipv6_literal ? "[%s]:%u" : "%s:%u",
                 u->host, u->port);
    }
    return 0;
}

/*
 * A hop: HOST:PORT, [IPv6]:PORT, or without :PORT the URL's port (an IPv6
 * address with more than one colon and no brackets is all host).  The same
 * host rules as a URL's, since the host goes to getaddrinfo and into the
 * text output.
 */
int probe_parse_hop(const char *s, unsigned default_port, char *host, size_t hostlen,
                    unsigned *port, char *err, size_t errlen)
{
    const char *h = s, *h_end, *p = NULL;
    unsigned char a6[16];
    size_t hl, i;

    if (s == NULL || *s == '\0') {
        return fail(err, errlen, "a hop is HOST:PORT");
    }
    if (*s == '[') {
        h = s + 1;
        h_end = strchr(h, ']');
        if (h_end == NULL || (h_end[1] != '\0' && h_end[1] != ':')) {
            return fail(err, errlen, "a hop is HOST:PORT, [IPv6]:PORT for an IPv6 address");
        }
        p = h_end[1] == ':' ? h_end + 2 : NULL;
    }
    else if (strchr(s, ':') != NULL && strchr(s, ':') == strrchr(s, ':')) {
        h_end = strchr(s, ':');
        p = h_end + 1;
    }
    else {
        h_end = s + strlen(s);
    }
    hl = (size_t)(h_end - h);
    if (hl == 0 || hl >= hostlen || hl >= PROBE_HOST_MAX) {
        return fail(err, errlen, "a hop needs a host name or address of at most 255 bytes");
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (*s == '[' || strchr(host, ':') != NULL) {
        if (inet_pton(AF_INET6, host, a6) != 1) {
            return fail(err, errlen, "bad IPv6 address in a hop");
        }
    }
    else {
        for (i = 0; i < hl; i++) {
            if (!host_char((unsigned char)host[i])) {
                return fail(err, errlen, "a hop's host has a character a host name cannot have");
            }
        }
    }
    *port = default_port;
    if (p != NULL) {
        char *end = NULL;
        unsigned long v;
        if (!isdigit((unsigned char)*p)) {
            return fail(err, errlen, "a hop's port must be a number from 1 to 65535");
        }
        v = strtoul(p, &end, 10);
        if (*end != '\0' || v < 1 || v > 65535) {
            return fail(err, errlen, "a hop's port must be a number from 1 to 65535");
        }
        *port = (unsigned)v;
    }
    return 0;
}

static int tchar(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* ---- response heads ---- */

size_t probe_head_end(const char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (buf[i] != '\n') {
            continue;
        }
        if (i + 1 < len && buf[i + 1] == '\n') {
            return i + 2;
        }
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
            return i + 3;
        }
    }
    return 0;
}

void probe_copy_field(char *dst, size_t dstsize, const char *v, size_t vlen)
{
    if (vlen >= dstsize) {
        vlen = dstsize - 1;
    }
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
}

static int token_in_list(const char *v, size_t vlen, const char *tok)
{
    size_t tl = strlen(tok), i = 0;

    while (i < vlen) {
        size_t s, e;
        while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        s = i;
        while (i < vlen && v[i] != ',') {
            i++;
        }
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) {
            e--;
        }
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The last transfer coding is chunked: only then is the length known. */
static int last_coding_chunked(const char *v, size_t vlen)
{
    size_t e = vlen, s;

    while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == ',')) {
        e--;
    }
    s = e;
    while (s > 0 && v[s - 1] != ',') {
        s--;
    }
    while (s < e && (v[s] == ' ' || v[s] == '\t')) {
        s++;
    }
    return e - s == 7 && strncasecmp(v + s, "chunked", 7) == 0;
}

/* Content-Length: digits, or a list of identical values (RFC 9110 8.6). */
static int parse_length(const char *v, size_t vlen, uint64_t *out)
{
    size_t i = 0;
    int have = 0;
    uint64_t first = 0;

    while (i < vlen) {
        uint64_t n = 0;
        size_t digits = 0;
        while (i < vlen && (v[i] == ' ' || v[i] == '\t')) {
            i++;
        }
        while (i < vlen && isdigit((unsigned char)v[i])) {
            if (n > (UINT64_MAX - 9) / 10) {
                return -1;
            }
            n = n * 10 + (uint64_t)(v[i] - '0');
            i++;
            digits++;
        }
        while (i < vlen && (v[i] == ' ' || v[i] == '\t')) {
            i++;
        }
        if (digits == 0 || (i < vlen && v[i] != ',')) {
            return -1;
        }
        if (have && n != first) {
            return -1;
        }
        first = n;
        have = 1;
        i++;
    }
    if (!have) {
        return -1;
    }
    *out = first;
    return 0;
}

int probe_parse_head(const char *buf, size_t len, int head_request,
                     probe_head_t *h, char *err, size_t errlen)
{
    const char *p = buf, *end = buf + len, *eol, *rs;
    int have_cl = 0, have_te = 0, chunked = 0;
    uint64_t cl = 0, n;

    memset(h, 0, sizeof(*h));
    eol = memchr(p, '\n', len);
    if (eol == NULL) {
        return fail(err, errlen, "no status line");
    }
    if (eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)p[7])
        || p[8] != ' ' || !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10])
        || !isdigit((unsigned char)p[11])) {
        return fail(err, errlen, "status line is not HTTP/1.x NNN");
    }
    h->minor = p[7] - '0';
    h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (h->status < 100 || h->status > 599) {
        return fail(err, errlen, "status code out of range 100-599");
    }
    rs = p + 12;
    if (rs < eol && *rs != ' ' && *rs != '\r') {
        return fail(err, errlen, "status code is not three digits");
    }
    if (rs < eol && *rs == ' ') {
        const char *re = eol;
        rs++;
        if (re > rs && re[-1] == '\r') {
            re--;
        }
        probe_copy_field(h->reason, sizeof(h->reason), rs, (size_t)(re - rs));
    }
    p = eol + 1;

    while (p < end) {
        const char *colon, *v, *ve;
        size_t nlen, vlen;

        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) {
            return fail(err, errlen, "header section does not end");
        }
        ve = eol;
        if (ve > p && ve[-1] == '\r') {
            ve--;
        }
        if (ve == p) {
            break;  /* the blank line */
        }
        if (*p == ' ' || *p == '\t') {
            p = eol + 1;  /* obsolete line folding: carries nothing we read */
            continue;
        }
        colon = memchr(p, ':', (size_t)(ve - p));
        if (colon == NULL || colon == p) {
            return fail(err, errlen, "header line without a field name");
        }
        nlen = (size_t)(colon - p);
        for (v = p; v < colon; v++) {
            if (!tchar((unsigned char)*v)) {
                return fail(err, errlen, "bad character in a field name");
            }
        }
        v = colon + 1;
        while (v < ve && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }
        vlen = (size_t)(ve - v);
        if (nlen == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
            if (parse_length(v, vlen, &n) != 0 || (have_cl && n != cl)) {
                return fail(err, errlen, "invalid or conflicting Content-Length");
            }
            cl = n;
            have_cl = 1;
        }
        else if (nlen == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
            have_te = 1;
            chunked = last_coding_chunked(v, vlen);
        }
        else if (nlen == 10 && strncasecmp(p, "Connection", 10) == 0) {
            h->conn_close |= token_in_list(v, vlen, "close");
            h->conn_keep_alive |= token_in_list(v, vlen, "keep-alive");
        }
        else if (nlen == 6 && strncasecmp(p, "Server", 6) == 0) {
            probe_copy_field(h->server, sizeof(h->server), v, vlen);
        }
        else if (nlen == 3 && strncasecmp(p, "Via", 3) == 0) {
            probe_copy_field(h->via, sizeof(h->via), v, vlen);
        }
        p = eol + 1;
    }

    if (h->status < 200 || h->status == 204 || h->status == 304 || head_request) {
        h->body = PROBE_BODY_NONE;
    }
    else if (have_te) {
        h->body = chunked ? PROBE_BODY_CHUNKED : PROBE_BODY_UNTIL_CLOSE;
    }
    else if (have_cl) {
        h->body = cl == 0 ? PROBE_BODY_NONE : PROBE_BODY_LENGTH;
        h->length = cl;
    }
    else {
        h->body = PROBE_BODY_UNTIL_CLOSE;
    }
    return 0;
}

int probe_head_keeps_alive(const probe_head_t *h)
{
    if (h->body == PROBE_BODY_UNTIL_CLOSE || h->conn_close) {
        return 0;
    }
    return h->minor >= 1 || h->conn_keep_alive;
}

/* ---- chunked ---- */

enum {
    CH_SIZE = 0, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF,
    CH_TRAILER, CH_TRAILER_LINE, CH_END_LF
};

void probe_chunked_init(probe_chunked_t *c)
{
    memset(c, 0, sizeof(*c));
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

int probe_chunked_feed(probe_chunked_t *c, const char *buf, size_t len, size_t *used)
{
    size_t i = 0;

    while (i < len) {
        unsigned char ch = (unsigned char)buf[i];
        int size_line_done = 0;

        switch (c->state) {
        case CH_SIZE:
            if (hexval(ch) >= 0) {
                if (++c->digits > 15) {
                    return PROBE_CHUNKED_ERROR;
                }
                c->remaining = c->remaining * 16 + (uint64_t)hexval(ch);
            }
            else if (c->digits == 0) {
                return PROBE_CHUNKED_ERROR;
            }
            else if (ch == ';' || ch == ' ' || ch == '\t') {
                c->state = CH_EXT;
            }
            else if (ch == '\r') {
                c->state = CH_SIZE_LF;
            }
            else if (ch == '\n') {
                size_line_done = 1;
            }
            else {
                return PROBE_CHUNKED_ERROR;
            }
            i++;
            break;
        case CH_EXT:
            if (ch == '\n') {
                size_line_done = 1;
            }
            i++;
            break;
        case CH_SIZE_LF:
            if (ch != '\n') {
                return PROBE_CHUNKED_ERROR;
            }
            size_line_done = 1;
            i++;
            break;
        case CH_DATA: {
            size_t take = len - i;
            if ((uint64_t)take > c->remaining) {
                take = (size_t)c->remaining;
            }
            c->remaining -= take;
            i += take;
            if (c->remaining == 0) {
                c->state = CH_DATA_CR;
            }
            break;
        }
        case CH_DATA_CR:
            if (ch == '\r') {
                c->state = CH_DATA_LF;
            }
            else if (ch == '\n') {
                c->state = CH_SIZE;
                c->digits = 0;
            }
            else {
                return PROBE_CHUNKED_ERROR;
            }
            i++;
            break;
        case CH_DATA_LF:
            if (ch != '\n') {
                return PROBE_CHUNKED_ERROR;
            }
            c->state = CH_SIZE;
            c->digits = 0;
            i++;
            break;
        case CH_TRAILER:
            i++;
            if (ch == '\n') {
                *used = i;
                return PROBE_CHUNKED_DONE;
            }
            c->state = ch == '\r' ? CH_END_LF : CH_TRAILER_LINE;
            break;
        case CH_END_LF:
            if (ch != '\n') {
                return PROBE_CHUNKED_ERROR;
            }
            *used = i + 1;
            return PROBE_CHUNKED_DONE;
        case CH_TRAILER_LINE:
        default:
            if (ch == '\n') {
                c->state = CH_TRAILER;
            }
            i++;
            break;
        }
        if (size_line_done) {
            c->state = c->remaining == 0 ? CH_TRAILER : CH_DATA;
        }
    }
    *used = i;
    return PROBE_CHUNKED_MORE;
}
