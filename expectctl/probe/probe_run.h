/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_run.h - one run of `expectctl probe`: the state the engine's files
 * share.  This header is theirs alone; the verb sees probe_engine.h.
 * Calls go one way, top to bottom (make check-arch refuses a cycle):
 *
 *   probe_modes.c  the entry: options check, one probe, --compare
 *   probe_chain.c  --chain, one run per hop
 *   probe_run.c    one run: the checks in order and its bounds
 *   probe_h1.c     the checks over HTTP/1.x
 *   probe_h2.c     the same checks over HTTP/2 (libnghttp2 frames them)
 *   probe_out.c    the text and the --json document of one run
 *   probe_route.c  where a check connects: the URL's host, --connect,
 *                  --connect-to, or a forward proxy (--proxy), with a
 *                  CONNECT tunnel where one is needed, then TLS
 *   probe_state.c  what they all read: the checks' table, the run's
 *                  deadline, the protocols' names
 *
 * probe.h has the parts that need no run: parsers, read loops, verdicts,
 * sockets.
 */
#ifndef EXPECTCTL_PROBE_RUN_H
#define EXPECTCTL_PROBE_RUN_H

#include "probe.h"
#include "probe_engine.h"

/* How each check's request is shaped; the table is in probe_state.c. */
typedef struct {
    int minor;                  /* HTTP/1.minor; HTTP/2 skips the HTTP/1.0 check */
    const char *expect;         /* NULL: no Expect header */
    int wait;                   /* 0: body with the head, 1: the 100 wait, 2: the short wait */
    const char *label;
} probe_spec_t;

extern const probe_spec_t probe_specs[PROBE_CHECK_COUNT];

typedef struct {
    const probe_opts_t *o;
    probe_proto_t proto;
    const char *hop;            /* HOST:PORT of --connect-to or of a --chain hop; NULL */
    probe_url_t url;
    /* the route (probe_route.c) */
    char connect_host[PROBE_HOST_MAX];  /* where TCP goes: brackets removed */
    unsigned connect_port;
    int via_proxy;              /* --proxy */
    int tunnel;                 /* CONNECT through the proxy first */
    probe_url_t proxy;
    char target[PROBE_TARGET_MAX + PROBE_HOST_MAX + 16];  /* origin- or absolute-form */
    probe_addr_t addr;
    int first_fd;               /* connected while resolving; the baseline uses it */
    probe_tls_t *tls;
    char tls_info[96];
    int tls_verified;
    /* the checks */
    int head_request;
    int64_t start_us, end_us;
    long wait_other_ms;
    int followup_status;        /* what the baseline's second request got; 0: unknown */
    probe_result_t res;
    probe_finding_t f[PROBE_FINDINGS_MAX];
    size_t nf;
    long elapsed_ms;
    char err[512];
} probe_run_t;

/*
 * probe_run.c: one probe of the URL over proto, to hop (NULL: the route
 * the options give); 0 with x->f and x->nf filled, or -1 with x->err when
 * it could not probe.  Needs probe_route_free afterwards either way.
 */
int probe_run(probe_run_t *x, const probe_opts_t *o, probe_proto_t proto, const char *hop);
/* The exit status of a run's verdict. */
int probe_run_exit(const probe_run_t *x);
/* probe_chain.c: --chain, printed; returns the exit status. */
int probe_chain(const probe_opts_t *o);

/* probe_state.c: a deadline ms from now, never past the run's end. */
int64_t probe_run_deadline(const probe_run_t *x, long ms);
long probe_since_ms(int64_t t0);
/* "http/1.1", "h2" or "h2c". */
const char *probe_proto_name(probe_proto_t p);

/* probe_route.c: whether the route options fit together and with the
 * URL (before anything is sent); 0, or -1 with a usage error. */
int probe_route_check(const probe_opts_t *o, const probe_url_t *u, char *err, size_t errlen);
/* Resolve and connect once (x->first_fd); 0, or -1 with x->err. */
int probe_route_init(probe_run_t *x);
/* A connection ready for the first request (tunnel and TLS done); NULL with x->err. */
probe_conn_t *probe_route_open(probe_run_t *x);
void probe_route_free(probe_run_t *x);

/* One check; 0, or -1 when no connection could be made (x->err says why). */
int probe_h1_check(probe_run_t *x, probe_check_id_t id);
int probe_h2_check(probe_run_t *x, probe_check_id_t id);

/* probe_out.c: with --compare, http1 is the HTTP/1.1 run and cmp the
 * lines comparing it (else both NULL); exit_code is what expectctl exits. */
void probe_print_text(const probe_run_t *x);
void probe_print_json(const probe_run_t *x, const probe_run_t *http1,
                      const probe_comparison_t *cmp, int exit_code);
/* Shared by the outputs of every mode. */
void probe_json_str_or_null(const char *s);

#endif /* EXPECTCTL_PROBE_RUN_H */
