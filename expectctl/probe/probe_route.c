/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_route.c - where the checks of `expectctl probe` connect, and how:
 *
 *   the URL's host and port            by default
 *   --connect ADDR                     another address, the URL's port
 *   --connect-to HOST:PORT, a --chain hop
 *                                      another address and port
 *   --proxy http://PROXY:PORT          a forward proxy: the request in
 *                                      absolute form for http over
 *                                      HTTP/1.1, else a CONNECT tunnel
 *                                      (https, and h2c, which a proxy
 *                                      cannot forward as a request)
 *
 * Whatever the route, the Host header (:authority), the TLS server name
 * and the certificate check are the URL's, as with curl's --connect-to:
 * a hop behind a load balancer answers as it does for the real name.
 * The address is resolved once; every check connects to it again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe_run.h"

#include "expect_version.h"

/* The proxy URL: http:// and nothing after the authority. */
static int parse_proxy(const char *s, probe_url_t *p, char *err, size_t errlen)
{
    char why[256];

    if (probe_parse_url(s, p, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "bad --proxy URL: %s", why);
        return -1;
    }
    if (p->tls) {
        snprintf(err, errlen, "--proxy speaks to the proxy in cleartext: give an http:// URL "
                 "(https targets go through it in a CONNECT tunnel)");
        return -1;
    }
    if (strcmp(p->target, "/") != 0) {
        snprintf(err, errlen, "--proxy takes http://HOST:PORT, without a path");
        return -1;
    }
    return 0;
}

/* Each hop of --chain, checked; the count in *n. */
static int check_chain(const char *chain, unsigned port, int *n, char *err, size_t errlen)
{
    char host[PROBE_HOST_MAX], hop[PROBE_HOST_MAX + 16], why[256];
    const char *p = chain;
    unsigned hp;

    *n = 0;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof(hop)) {
            snprintf(err, errlen, "--chain needs HOST:PORT,HOST:PORT,... (an empty or "
                     "overlong hop)");
            return -1;
        }
        memcpy(hop, p, len);
        hop[len] = '\0';
        if (probe_parse_hop(hop, port, host, sizeof(host), &hp, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "--chain: %s: %s", why, hop);
            return -1;
        }
        if (++*n > PROBE_CHAIN_MAX) {
            snprintf(err, errlen, "--chain takes at most %d hops", PROBE_CHAIN_MAX);
            return -1;
        }
        if (p[len] == '\0') {
            return 0;
        }
        p += len + 1;
    }
}

int probe_route_check(const probe_opts_t *o, const probe_url_t *u, char *err, size_t errlen)
{
    char host[PROBE_HOST_MAX], why[256];
    probe_url_t px;
    unsigned port;
    int routes = (o->connect != NULL) + (o->connect_to != NULL) + (o->proxy != NULL)
                 + (o->chain != NULL), n;

    if (routes > 1) {
        snprintf(err, errlen, "choose one of --connect, --connect-to, --proxy and --chain");
        return -1;
    }
    if (o->proto == PROBE_PROTO_H2 && !u->tls) {
        snprintf(err, errlen, "--http2 is h2 over TLS: give an https:// URL, "
                 "or use --h2c for http://");
        return -1;
    }
    if (o->proto == PROBE_PROTO_H2C && u->tls) {
        snprintf(err, errlen, "--h2c is h2 over cleartext: give an http:// URL, "
                 "or use --http2 for https://");
        return -1;
    }
    if (o->compare && o->proto == PROBE_PROTO_H1) {
        snprintf(err, errlen, "--compare compares h2 with HTTP/1.1: add --http2 or --h2c");
        return -1;
    }
    if (o->compare && o->chain != NULL) {
        snprintf(err, errlen, "--compare and --chain do not combine: probe the chain "
                 "once with --http2 or --h2c and once without");
        return -1;
    }
    if (o->connect_to != NULL
        && probe_parse_hop(o->connect_to, u->port, host, sizeof(host), &port,
                           why, sizeof(why)) != 0) {
        snprintf(err, errlen, "--connect-to: %s", why);
        return -1;
    }
    if (o->proxy != NULL && parse_proxy(o->proxy, &px, err, errlen) != 0) {
        return -1;
    }
    if (o->chain != NULL && check_chain(o->chain, u->port, &n, err, errlen) != 0) {
        return -1;
    }
    return 0;
}

int probe_route_init(probe_run_t *x)
{
    const probe_opts_t *o = x->o;
    const char *host;
    unsigned port;
    int fd;

    snprintf(x->connect_host, sizeof(x->connect_host), "%s", x->url.host);
    x->connect_port = x->url.port;
    if (x->hop != NULL) {
        if (probe_parse_hop(x->hop, x->url.port, x->connect_host, sizeof(x->connect_host),
                            &x->connect_port, x->err, sizeof(x->err)) != 0) {
            return -1;
        }
    }
    else if (o->connect != NULL) {
        size_t cl = strlen(o->connect);
        if (cl > 2 && o->connect[0] == '[' && o->connect[cl - 1] == ']') {
            snprintf(x->connect_host, sizeof(x->connect_host), "%.*s", (int)(cl - 2),
                     o->connect + 1);
        }
        else {
            snprintf(x->connect_host, sizeof(x->connect_host), "%s", o->connect);
        }
    }
    host = x->connect_host;
    port = x->connect_port;
    snprintf(x->target, sizeof(x->target), "%s", x->url.target);
    if (o->proxy != NULL) {
        if (parse_proxy(o->proxy, &x->proxy, x->err, sizeof(x->err)) != 0) {
            return -1;
        }
        x->via_proxy = 1;
        /* A proxy forwards HTTP/1.x requests; anything else needs a tunnel. */
        x->tunnel = x->url.tls || x->proto != PROBE_PROTO_H1;
        if (!x->tunnel) {
            snprintf(x->target, sizeof(x->target), "http://%s%s", x->url.authority,
                     x->url.target);
        }
        host = x->proxy.host;
        port = x->proxy.port;
    }
    if (x->url.tls
        && (x->tls = probe_tls_new(o->insecure, x->proto == PROBE_PROTO_H2,
                                   x->err, sizeof(x->err))) == NULL) {
        return -1;
    }
    if (probe_connect_first(host, port, o->timeout_ms, &x->addr, &fd,
                            x->err, sizeof(x->err)) != 0) {
        return -1;
    }
    x->first_fd = fd;
    return 0;
}

void probe_route_free(probe_run_t *x)
{
    if (x->first_fd >= 0) {
        close(x->first_fd);
        x->first_fd = -1;
    }
    probe_tls_free(x->tls);
    x->tls = NULL;
}

/* CONNECT through the proxy to the URL's authority; 0, or -1 with x->err. */
static int tunnel(probe_run_t *x, probe_conn_t *c)
{
    char req[2 * PROBE_HOST_MAX + 128], auth[PROBE_HOST_MAX + 16], why[160];
    int64_t dl = probe_run_deadline(x, x->o->timeout_ms);
    probe_interim_t im;
    probe_head_t h;
    probe_io_t io;
    int n;

    /* CONNECT's target always names the port (RFC 9110 9.3.6). */
    snprintf(auth, sizeof(auth), x->url.ipv6_literal ? "[%s]:%u" : "%s:%u", x->url.host,
             x->url.port);
    n = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
                 "User-Agent: expectctl-probe/%s\r\n\r\n", auth, auth, EXPECT_VERSION);
    why[0] = '\0';
    probe_interim_init(&im);
    io = probe_send(c, req, (size_t)n, dl);
    if (io == PROBE_IO_OK) {
        /* head_request: a 2xx to CONNECT has no body; the tunnel follows. */
        io = probe_read_final(probe_conn_reader(c), 1, 0, 0, &im, &h, dl, why, sizeof(why));
    }
    if (io != PROBE_IO_OK) {
        snprintf(x->err, sizeof(x->err), "the proxy %.100s port %u gave no answer to "
                 "CONNECT %.120s%s%.160s", x->proxy.host, x->proxy.port, auth, why[0] ? ": " : "", why);
        return -1;
    }
    if (h.status < 200 || h.status > 299) {
        snprintf(x->err, sizeof(x->err), "the proxy %.100s port %u refused CONNECT %.120s: %d "
                 "(it must allow CONNECT to port %u)", x->proxy.host, x->proxy.port, auth,
                 h.status, x->url.port);
        return -1;
    }
    return 0;
}

probe_conn_t *probe_route_open(probe_run_t *x)
{
    probe_conn_t *c;
    int fd, verified;
    const char *alpn;

    if (x->first_fd >= 0) {
        fd = x->first_fd;
        x->first_fd = -1;
    }
    else {
        /* Within the probe's total bound, like every other wait. */
        long ms = (long)((probe_run_deadline(x, x->o->timeout_ms) - probe_now_us()) / 1000);
        if (probe_connect_addr(&x->addr, ms > 0 ? ms : 1, &fd, x->err, sizeof(x->err)) != 0) {
            return NULL;
        }
    }
    c = probe_conn_open(fd, NULL, &x->url, 0, x->err, sizeof(x->err));
    if (c == NULL) {
        return NULL;
    }
    if (x->tunnel && tunnel(x, c) != 0) {
        probe_conn_close(c);
        return NULL;
    }
    if (x->tls == NULL) {
        return c;
    }
    if (probe_conn_start_tls(c, x->tls, &x->url, probe_run_deadline(x, x->o->timeout_ms),
                             x->err, sizeof(x->err)) != 0) {
        size_t n = strlen(x->err);
        if (x->proto == PROBE_PROTO_H2 && n + 1 < sizeof(x->err)) {
            /* A server without h2 may pick http/1.1 anyway, which the
             * client must refuse: say what was offered. */
            snprintf(x->err + n, sizeof(x->err) - n, " (--http2 offers only h2 by ALPN: "
                     "does the server speak h2? probe it without --http2)");
        }
        probe_conn_close(c);
        return NULL;
    }
    alpn = probe_conn_alpn(c);
    if (x->proto == PROBE_PROTO_H2 && strcmp(alpn, "h2") != 0) {
        snprintf(x->err, sizeof(x->err), "%s port %u does not speak h2: it chose %s by ALPN "
                 "(probe it without --http2)", x->url.host, x->connect_port,
                 alpn[0] ? alpn : "no protocol");
        probe_conn_close(c);
        return NULL;
    }
    if (x->tls_info[0] == '\0') {
        snprintf(x->tls_info, sizeof(x->tls_info), "%s", probe_conn_tls_info(c, &verified));
        x->tls_verified = verified;
    }
    return c;
}
