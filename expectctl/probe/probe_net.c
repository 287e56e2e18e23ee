/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_net.c - the network half of `expectctl probe`: resolve, connect,
 * TLS, writes, and the socket as the transport of probe_read.c's read
 * loops; each ends by a deadline.
 *
 * Every socket is non-blocking, every send or receive first compares the
 * clock with the caller's deadline, and every wait is a poll() bounded by
 * it, so no server, however it misbehaves (silent, or sending without
 * end), can hold probe longer than the documented bound.  TLS runs over
 * the same non-blocking socket: OpenSSL's WANT_READ/WANT_WRITE turn into
 * the same bounded poll.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  /* SOCK_NONBLOCK, SOCK_CLOEXEC */
#endif
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "probe.h"

struct probe_tls {
    SSL_CTX *ctx;
    int insecure;
};

struct probe_conn {
    int fd;
    SSL *ssl;
    int verified;
    char tls_info[96];
    char alpn[16];                      /* what the server chose; "" if nothing */
    probe_reader_t rd;                  /* reads through conn_recv() */
};

/* 1 ready, 0 deadline passed, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline_us)
{
    struct pollfd p;
    int rc;

    for (;;) {
        int64_t left = deadline_us - probe_now_us();
        if (left <= 0) {
            return 0;
        }
        p.fd = fd;
        p.events = events;
        p.revents = 0;
        rc = poll(&p, 1, (int)((left + 999) / 1000));
        if (rc > 0) {
            return 1;
        }
        if (rc < 0 && errno != EINTR) {
            return -1;
        }
    }
}

/* ---- TLS context ---- */

probe_tls_t *probe_tls_new(int insecure, int h2, char *err, size_t errlen)
{
    static const unsigned char alpn_h1[] = "\x08http/1.1";
    static const unsigned char alpn_h2[] = "\x02h2";
    probe_tls_t *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->insecure = insecure;
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (t->ctx == NULL) {
        snprintf(err, errlen, "cannot create a TLS context");
        free(t);
        return NULL;
    }
    /* The system's trust store, or $SSL_CERT_FILE / $SSL_CERT_DIR. */
    SSL_CTX_set_default_verify_paths(t->ctx);
    SSL_CTX_set_verify(t->ctx, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                             | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* A server that closes without close_notify has closed: that is a
     * finding about the server, not a TLS failure of probe. */
    SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    /* Offer only the protocol the checks speak: an h2-first server may
     * refuse a client that says nothing, and one that offered both would
     * not know which the server took before the handshake. */
    if (h2) {
        SSL_CTX_set_alpn_protos(t->ctx, alpn_h2, sizeof(alpn_h2) - 1);
    }
    else {
        SSL_CTX_set_alpn_protos(t->ctx, alpn_h1, sizeof(alpn_h1) - 1);
    }
    return t;
}

void probe_tls_free(probe_tls_t *t)
{
    if (t != NULL) {
        SSL_CTX_free(t->ctx);
        free(t);
    }
}

/* ---- connecting ---- */

static int connect_one(const struct sockaddr *sa, socklen_t salen, int64_t deadline_us,
                       int *fdp, int *errnum)
{
    int fd, soerr = 0, one = 1, w;
    socklen_t sl = sizeof(soerr);

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *errnum = errno;
        return -1;
    }
    if (connect(fd, sa, salen) != 0) {
        if (errno != EINPROGRESS) {
            *errnum = errno;
            close(fd);
            return -1;
        }
        w = wait_fd(fd, POLLOUT, deadline_us);
        if (w <= 0) {
            *errnum = w == 0 ? ETIMEDOUT : errno;
            close(fd);
            return -1;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            *errnum = soerr ? soerr : errno;
            close(fd);
            return -1;
        }
    }
    /* The head and the body go out as the probe decides, not as Nagle does. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *fdp = fd;
    return 0;
}

static void numeric(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len)
{
    if (getnameinfo(sa, salen, buf, (socklen_t)len, NULL, 0, NI_NUMERICHOST) != 0) {
        snprintf(buf, len, "?");
    }
}

static void connect_error(char *err, size_t errlen, unsigned port, const char *host,
                          const char *addr, int errnum, long timeout_ms)
{
    char who[PROBE_HOST_MAX + 80];

    /* Name the address only when the host name did not. */
    if (strcmp(host, addr) == 0) {
        snprintf(who, sizeof(who), "%s port %u", addr, port);
    }
    else {
        snprintf(who, sizeof(who), "%.*s (%s) port %u", PROBE_HOST_MAX, host, addr, port);
    }
    if (errnum == ETIMEDOUT) {
        snprintf(err, errlen, "cannot connect to %s: no answer within %.1f s", who,
                 (double)timeout_ms / 1000.0);
    }
    else {
        snprintf(err, errlen, "cannot connect to %s: %s", who, strerror(errnum));
    }
}

int probe_connect_first(const char *host, unsigned port_n, long timeout_ms,
                        probe_addr_t *a, int *fd, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[8], addr[64] = "?";
    int rc, errnum = 0;
    int64_t deadline = probe_now_us() + (int64_t)timeout_ms * 1000;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", port_n);
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    /* Every address in turn, within the one connect timeout. */
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(a->addr)) {
            continue;
        }
        numeric(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr));
        if (connect_one(ai->ai_addr, ai->ai_addrlen, deadline, fd, &errnum) == 0) {
            memcpy(&a->addr, ai->ai_addr, ai->ai_addrlen);
            a->addrlen = ai->ai_addrlen;
            a->family = ai->ai_family;
            snprintf(a->numeric, sizeof(a->numeric), "%s", addr);
            freeaddrinfo(res);
            return 0;
        }
    }
    freeaddrinfo(res);
    connect_error(err, errlen, port_n, host, addr, errnum ? errnum : EADDRNOTAVAIL, timeout_ms);
    return -1;
}

int probe_connect_addr(const probe_addr_t *a, long timeout_ms, int *fd,
                       char *err, size_t errlen)
{
    int errnum = 0;

    if (connect_one((const struct sockaddr *)&a->addr, a->addrlen,
                    probe_now_us() + (int64_t)timeout_ms * 1000, fd, &errnum) == 0) {
        return 0;
    }
    if (errnum == ETIMEDOUT) {
        snprintf(err, errlen, "cannot connect again to %s: no answer within %.1f s",
                 a->numeric, (double)timeout_ms / 1000.0);
    }
    else {
        snprintf(err, errlen, "cannot connect again to %s: %s", a->numeric, strerror(errnum));
    }
    return -1;
}

/* ---- connections ---- */

static int has_peer_cert(SSL *ssl)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    return SSL_get0_peer_certificate(ssl) != NULL;
#else
    X509 *x = SSL_get_peer_certificate(ssl);  /* 1.1.1: a new reference */
    X509_free(x);
    return x != NULL;
#endif
}

static void tls_failure(probe_conn_t *c, const probe_url_t *u, int insecure,
                        char *err, size_t errlen)
{
    long vr = SSL_get_verify_result(c->ssl);
    unsigned long e = ERR_peek_last_error();
    char why[256];

    if (!insecure && vr != X509_V_OK) {
        snprintf(err, errlen, "the TLS certificate of %s is not trusted: %s; "
                 "pass --insecure to probe anyway, or point SSL_CERT_FILE at its CA",
                 u->host, X509_verify_cert_error_string(vr));
    }
    else if (e != 0) {
        ERR_error_string_n(e, why, sizeof(why));
        snprintf(err, errlen, "TLS handshake with %s failed: %s", u->host, why);
    }
    else {
        snprintf(err, errlen, "TLS handshake with %s failed: the server closed the connection",
                 u->host);
    }
    ERR_clear_error();
}

static probe_io_t conn_recv(void *ctx, char *dst, size_t len, size_t *got, int64_t deadline_us);

static void reader_init(probe_conn_t *c)
{
    const probe_transport_t t = {conn_recv, NULL, c};

    probe_reader_init(&c->rd, &t);
}

probe_conn_t *probe_conn_open(int fd, probe_tls_t *tls, const probe_url_t *u,
                              int64_t deadline_us, char *err, size_t errlen)
{
    probe_conn_t *c = malloc(sizeof(*c));

    if (c == NULL) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->fd = fd;
    c->ssl = NULL;
    c->verified = 0;
    c->tls_info[0] = '\0';
    c->alpn[0] = '\0';
    reader_init(c);
    if (tls != NULL && probe_conn_start_tls(c, tls, u, deadline_us, err, errlen) != 0) {
        probe_conn_close(c);
        return NULL;
    }
    return c;
}

int probe_conn_start_tls(probe_conn_t *c, probe_tls_t *tls, const probe_url_t *u,
                         int64_t deadline_us, char *err, size_t errlen)
{
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    int rc, e, w, fd = c->fd;

    /* Bytes a proxy sent after its CONNECT answer are not the server's. */
    reader_init(c);
    c->ssl = SSL_new(tls->ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
        snprintf(err, errlen, "cannot set up TLS");
        return -1;
    }
    if (!u->host_is_ip) {
        SSL_set_tlsext_host_name(c->ssl, u->host);
    }
    if (!tls->insecure) {
        if (u->host_is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), u->host);
        }
        else {
            SSL_set1_host(c->ssl, u->host);
        }
    }
    SSL_set_connect_state(c->ssl);
    for (;;) {
        ERR_clear_error();
        rc = SSL_do_handshake(c->ssl);
        if (rc == 1) {
            break;
        }
        e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            w = wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline_us);
            if (w == 0) {
                snprintf(err, errlen, "TLS handshake with %s: no answer in time", u->host);
                return -1;
            }
            if (w > 0) {
                continue;
            }
        }
        tls_failure(c, u, tls->insecure, err, errlen);
        return -1;
    }
    c->verified = SSL_get_verify_result(c->ssl) == X509_V_OK && has_peer_cert(c->ssl);
    snprintf(c->tls_info, sizeof(c->tls_info), "%s %s", SSL_get_version(c->ssl),
             SSL_get_cipher_name(c->ssl));
    SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
    if (alpn != NULL && alpn_len < sizeof(c->alpn)) {
        memcpy(c->alpn, alpn, alpn_len);
        c->alpn[alpn_len] = '\0';
    }
    return 0;
}

const char *probe_conn_alpn(const probe_conn_t *c)
{
    return c->alpn;
}

void probe_conn_close(probe_conn_t *c)
{
    if (c == NULL) {
        return;
    }
    if (c->ssl != NULL) {
        /* One close_notify, no waiting for the peer's: probe is done. */
        (void)SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c);
}

const char *probe_conn_tls_info(const probe_conn_t *c, int *verified)
{
    *verified = c->verified;
    return c->tls_info;
}

/* ---- bounded I/O ---- */

/*
 * One bounded send (src) or receive (dst) of up to len bytes, plain or TLS,
 * waiting for the socket as needed until deadline_us.  A reset, a close or
 * a TLS alert is an EOF: the server is gone.
 */
static probe_io_t transfer(probe_conn_t *c, const char *src, char *dst, size_t len,
                           size_t *done, int64_t deadline_us)
{
    const int chunk = len > 65536 ? 65536 : (int)len;
    ssize_t n;
    int e, r, w;

    for (;;) {
        /* Checked before every attempt, not only when the socket would
         * block: a peer that always has bytes ready cannot outlast it. */
        if (probe_now_us() >= deadline_us) {
            return PROBE_IO_TIMEOUT;
        }
        if (c->ssl == NULL) {
            n = src != NULL ? send(c->fd, src, len, MSG_NOSIGNAL) : recv(c->fd, dst, len, 0);
            if (n > 0 || (n == 0 && src != NULL)) {
                *done = (size_t)n;
                return PROBE_IO_OK;
            }
            if (n == 0 || errno == ECONNRESET || errno == EPIPE) {
                return PROBE_IO_EOF;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                return PROBE_IO_ERROR;
            }
            w = wait_fd(c->fd, src != NULL ? POLLOUT : POLLIN, deadline_us);
        }
        else {
            ERR_clear_error();
            r = src != NULL ? SSL_write(c->ssl, src, chunk) : SSL_read(c->ssl, dst, chunk);
            if (r > 0) {
                *done = (size_t)r;
                return PROBE_IO_OK;
            }
            e = SSL_get_error(c->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                ERR_clear_error();
                return PROBE_IO_EOF;
            }
            w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline_us);
        }
        if (w == 0) {
            return PROBE_IO_TIMEOUT;
        }
        if (w < 0) {
            return PROBE_IO_ERROR;
        }
    }
}

probe_io_t probe_send(probe_conn_t *c, const char *buf, size_t len, int64_t deadline_us)
{
    while (len > 0) {
        size_t done = 0;
        probe_io_t io = transfer(c, buf, NULL, len, &done, deadline_us);
        if (io != PROBE_IO_OK) {
            return io;
        }
        buf += done;
        len -= done;
    }
    return PROBE_IO_OK;
}

probe_io_t probe_send_body(probe_conn_t *c, uint64_t n, int64_t deadline_us)
{
    char fill[16384];

    /*
     * 'x' filler ending in CRLF: a server that wrongly parses it as the next
     * request sees a request line with no method and no target, which every
     * server answers 400, so the desync shows in the next status.
     */
    memset(fill, 'x', sizeof(fill));
    while (n > 0) {
        size_t part = n > sizeof(fill) ? sizeof(fill) : (size_t)n;
        probe_io_t io;
        if (part == n) {
            fill[part - 1] = '\n';
            if (part >= 2) {
                fill[part - 2] = '\r';
            }
        }
        io = probe_send(c, fill, part, deadline_us);
        if (io != PROBE_IO_OK) {
            return io;
        }
        n -= part;
    }
    return PROBE_IO_OK;
}

/* ---- the socket as probe_read.c's transport ---- */

static probe_io_t conn_recv(void *ctx, char *dst, size_t len, size_t *got, int64_t deadline_us)
{
    return transfer(ctx, NULL, dst, len, got, deadline_us);
}

probe_reader_t *probe_conn_reader(probe_conn_t *c)
{
    return &c->rd;
}

probe_io_t probe_recv(probe_conn_t *c, char *dst, size_t len, size_t *got, int64_t deadline_us)
{
    probe_reader_t *r = &c->rd;
    size_t n;

    /* What the reader already took off the socket comes first: behind a
     * proxy, the server's first bytes can arrive with the CONNECT answer. */
    if (r->off < r->len && len > 0) {
        n = r->len - r->off < len ? r->len - r->off : len;
        memcpy(dst, r->buf + r->off, n);
        r->off += n;
        r->scan = 0;
        *got = n;
        return PROBE_IO_OK;
    }
    return transfer(c, NULL, dst, len, got, deadline_us);
}
