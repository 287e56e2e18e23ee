/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_engine.h - the probe engine as the `probe` verb sees it: the
 * options of one `expectctl probe`, whether they fit together, and the
 * run of the mode they ask for.
 *
 * expectctl/probe/ is the engine.  It includes no header from outside its
 * folder but the core's, and calls no function of a verb file: the verb
 * (ctl_probe.c) turns the command line into a probe_opts_t and calls in,
 * never the other way round (make check-arch checks both).  Its files:
 *
 *   probe_modes.c    this header's functions: the options check, one
 *                    probe, --compare (h2 and HTTP/1.1, compared)
 *   probe_chain.c    --chain: one probe per hop, the hop that changes
 *   probe_run.c      one probe: the four checks in order, their bounds,
 *                    the exit status of a verdict
 *   probe_state.c    the checks' table, the run's deadline, names
 *   probe_route.c    where a check connects (--connect, --connect-to,
 *                    --proxy, a hop), with a tunnel and TLS as needed
 *   probe_h1.c       the checks over HTTP/1.x
 *   probe_h2.c       the same checks over HTTP/2 (libnghttp2 frames them)
 *   probe_out.c      the text and the --json document of one run
 *   probe_parse.c    URL, hop and response-head parsing, chunked decoding
 *   probe_verdict.c  the documented diagnoses and the verdict
 *   probe_read.c     the read loops over a transport and a clock
 *   probe_net.c      connect, TLS, bounded writes, the socket transport
 *
 * probe_run.h is the state one run's files share; probe.h the parts that
 * need no run (the unit tests and the fuzz harness use those alone).
 */
#ifndef EXPECTCTL_PROBE_ENGINE_H
#define EXPECTCTL_PROBE_ENGINE_H

#include <stddef.h>

/* What the checks speak. */
typedef enum {
    PROBE_PROTO_H1 = 0,         /* HTTP/1.1 (http/1.1 by ALPN over TLS) */
    PROBE_PROTO_H2,             /* h2 over TLS, chosen by ALPN */
    PROBE_PROTO_H2C             /* h2 over cleartext, with prior knowledge */
} probe_proto_t;

/* The exit statuses the engine gives besides a verdict's own (10-18):
 * expectctl's, which ctl_probe.c checks at compile time. */
#define PROBE_EXIT_OK 0
#define PROBE_EXIT_FAIL 1

/* --chain: at most this many hops. */
#define PROBE_CHAIN_MAX 16

/* One `expectctl probe`, as the command line gave it. */
typedef struct {
    const char *url;
    long timeout_ms;            /* --timeout: bound on each wait */
    const char *method;         /* --method, an HTTP token */
    long size;                  /* --size: declared body length */
    int insecure;               /* --insecure: do not verify the TLS certificate */
    const char *connect;        /* --connect: address to use instead of the URL's host */
    const char *connect_to;     /* --connect-to HOST:PORT: the hop to probe, with the URL's name */
    const char *proxy;          /* --proxy URL: a forward proxy */
    const char *chain;          /* --chain HOP,HOP,...: one probe per hop, front first */
    probe_proto_t proto;        /* --http2, --h2c, else HTTP/1.1 */
    int compare;                /* --compare: h2 and HTTP/1.1, compared */
    int json;                   /* --json */
} probe_opts_t;

/* Whether the options make a probe, before anything is sent. */
typedef enum {
    PROBE_OPTS_OK = 0,
    PROBE_OPTS_BAD_URL,         /* err says what is wrong with the URL */
    PROBE_OPTS_BAD_ROUTE        /* err is the usage error of the route options */
} probe_opts_status_t;

probe_opts_status_t probe_opts_check(const probe_opts_t *o, char *err, size_t errlen);

/* The mode the options ask for (one probe, --compare or --chain), printed
 * on stdout, errors on stderr; returns the exit status: PROBE_EXIT_OK, a
 * verdict's code, or PROBE_EXIT_FAIL when a probe could not be made. */
int probe_start(const probe_opts_t *o);

#endif /* EXPECTCTL_PROBE_ENGINE_H */
