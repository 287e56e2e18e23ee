/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe.h - the probe engine's parts that need no run (expectctl/probe/;
 * probe_engine.h has the whole engine's list), and what its files share.
 *
 *   probe_parse.c    URL, hop and response-head parsing, chunked decoding (pure)
 *   probe_verdict.c  the documented diagnoses, the verdict, and the lines
 *                    comparing two protocols (pure)
 *   probe_read.c     the read loops: response heads, interim responses and
 *                    bodies, over a transport and a clock it is given
 *   probe_net.c      connect, TLS, bounded writes, and the socket transport
 *
 * One run of the checks (HTTP/1.x or HTTP/2, the route, the output, the
 * modes) is probe_run.h's.  Outside the engine, ctl_args.c includes this
 * header for the inline probe_method_ok alone.
 *
 * The pure parts take no clock and do no I/O, so tests/unit/test_probe.c
 * can drive every diagnosis from hand-made results; the read loops take
 * their recv function and their clock from a probe_transport_t, so the
 * unit tests and tests/fuzz/fuzz_probe.c feed them from a fake one.
 */
#ifndef EXPECTCTL_PROBE_H
#define EXPECTCTL_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* ---- URL ---- */

#define PROBE_HOST_MAX 256
#define PROBE_TARGET_MAX 4096

typedef struct {
    int tls;                         /* https */
    char host[PROBE_HOST_MAX];       /* without the brackets of an IPv6 literal */
    int host_is_ip;                  /* literal address: no SNI, IP name check */
    int ipv6_literal;
    unsigned port;
    char target[PROBE_TARGET_MAX];   /* path and query, never empty */
    char authority[PROBE_HOST_MAX + 8]; /* the Host header: [v6]:port, port omitted when default */
} probe_url_t;

/* 0, or -1 with a one-line reason. */
int probe_parse_url(const char *url, probe_url_t *u, char *err, size_t errlen);

/* A hop of --connect-to or --chain into host (no brackets) and port
 * (default_port when the hop names none); 0, or -1 with why. */
int probe_parse_hop(const char *s, unsigned default_port, char *host, size_t hostlen,
                    unsigned *port, char *err, size_t errlen);

/*
 * A method is an HTTP token of at most 32 characters: it goes into the
 * request line, so anything else is refused on the command line.  Inline
 * so that ctl_args.c needs none of probe's objects.
 */
static inline int probe_method_ok(const char *m)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    size_t n = 0;

    if (m == NULL || *m == '\0') {
        return 0;
    }
    for (; *m; m++, n++) {
        char c = *m;
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (n >= 32 || !(alnum || memchr(extra, c, sizeof(extra) - 1) != NULL)) {
            return 0;
        }
    }
    return 1;
}

/* ---- response heads ---- */

#define PROBE_HEAD_MAX 32768
#define PROBE_FIELD_MAX 96

typedef enum {
    PROBE_BODY_NONE = 0,      /* 1xx, 204, 304, HEAD, or Content-Length: 0 */
    PROBE_BODY_LENGTH,
    PROBE_BODY_CHUNKED,
    PROBE_BODY_UNTIL_CLOSE
} probe_body_kind_t;

typedef struct {
    int minor;                /* HTTP/1.minor */
    int status;
    char reason[PROBE_FIELD_MAX];
    char server[PROBE_FIELD_MAX];   /* Server: (which hop answered) */
    char via[PROBE_FIELD_MAX];      /* Via: (the intermediaries) */
    int conn_close;           /* Connection: close */
    int conn_keep_alive;      /* Connection: keep-alive */
    probe_body_kind_t body;
    uint64_t length;          /* PROBE_BODY_LENGTH */
} probe_head_t;

/*
 * Where the head that starts buf ends: the offset just past its blank line,
 * 0 if more bytes are needed.  CRLF and bare LF line ends are both accepted,
 * as RFC 9112 lets a recipient do.
 */
size_t probe_head_end(const char *buf, size_t len);

/* A field value into dst, cut to fit (dstsize > 0), always terminated. */
void probe_copy_field(char *dst, size_t dstsize, const char *v, size_t vlen);

/* Parse one head (status line and fields); 0, or -1 with why. */
int probe_parse_head(const char *buf, size_t len, int head_request,
                     probe_head_t *h, char *err, size_t errlen);

/* Whether the connection may carry another request after this response. */
int probe_head_keeps_alive(const probe_head_t *h);

/* Incremental chunked decoder: the data is counted, not kept. */
typedef struct {
    int state;
    uint64_t remaining;
    int digits;
} probe_chunked_t;

enum { PROBE_CHUNKED_MORE = 0, PROBE_CHUNKED_DONE = 1, PROBE_CHUNKED_ERROR = -1 };

void probe_chunked_init(probe_chunked_t *c);
/* Consume up to len bytes; *used says how many.  DONE stops at the end of
 * the trailer section, leaving what follows (a next response) unconsumed. */
int probe_chunked_feed(probe_chunked_t *c, const char *buf, size_t len, size_t *used);

/* ---- reading responses (probe_read.c) ---- */

typedef enum {
    PROBE_IO_OK = 0,
    PROBE_IO_EOF,               /* orderly close, or a reset */
    PROBE_IO_TIMEOUT,
    PROBE_IO_ERROR
} probe_io_t;

/* CLOCK_MONOTONIC in microseconds: the clock of every real deadline. */
int64_t probe_now_us(void);

/*
 * Where the read loops get their bytes and their time.  recv receives up
 * to len (> 0) bytes into dst, waiting no later than deadline_us, and
 * returns PROBE_IO_OK with 1 <= *got <= len, or EOF, TIMEOUT or ERROR.
 * now is the clock deadlines are compared with (NULL: probe_now_us).
 * probe_net.c's transport is the socket (plain or TLS); tests pass fakes.
 */
typedef probe_io_t (*probe_recv_fn)(void *ctx, char *dst, size_t len, size_t *got,
                                    int64_t deadline_us);
typedef int64_t (*probe_clock_fn)(void *ctx);

typedef struct {
    probe_recv_fn recv;
    probe_clock_fn now;
    void *ctx;
} probe_transport_t;

/*
 * The bounds of the read loops, whatever the server sends:
 *
 *   - before every recv, the loop compares the clock with its deadline, so
 *     a read ends by its deadline even when bytes never stop arriving;
 *   - a response head, with any empty lines before it, is at most
 *     PROBE_HEAD_MAX bytes;
 *   - one request accepts at most PROBE_INTERIM_MAX interim (1xx)
 *     responses; one more is an error ("garbled"), not a wait.
 *
 * So even with a clock that never moves, probe_read_final returns after
 * receiving at most PROBE_READ_FINAL_MAX bytes: (PROBE_INTERIM_MAX + 1)
 * heads, each with up to PROBE_HEAD_MAX bytes of empty lines before it,
 * plus one buffer.  Only a body is bounded by its deadline alone.
 */
#define PROBE_INTERIM_MAX 100u
#define PROBE_BUF_SIZE (PROBE_HEAD_MAX + 4096)
#define PROBE_READ_FINAL_MAX \
    ((uint64_t)(PROBE_INTERIM_MAX + 1) * 2 * PROBE_HEAD_MAX + PROBE_BUF_SIZE)

/*
 * Buffered bytes of one connection: unread ones are buf[off, len).  Bytes
 * are consumed by moving off; the unread rest moves to the front only when
 * the room behind it runs short, so no byte is copied twice per head.
 */
typedef struct {
    probe_transport_t t;
    size_t off;
    size_t len;
    size_t scan;                /* unread bytes already searched for a head's end */
    char buf[PROBE_BUF_SIZE];
} probe_reader_t;

void probe_reader_init(probe_reader_t *r, const probe_transport_t *t);
/* The reader's clock. */
int64_t probe_reader_now(const probe_reader_t *r);

/* Read one response head.  PROBE_IO_ERROR means garbled (err says how). */
probe_io_t probe_read_head(probe_reader_t *r, int head_request, probe_head_t *h,
                           int64_t deadline_us, char *err, size_t errlen);
/* Read and drop the body that h announces; PROBE_IO_OK when complete. */
probe_io_t probe_read_body(probe_reader_t *r, const probe_head_t *h, int64_t deadline_us);

/* The interim responses to one request; each count <= PROBE_INTERIM_MAX. */
typedef struct {
    unsigned n100;              /* 100 Continue */
    unsigned n100_late;         /* of those, read after the body was sent */
    unsigned n_other;           /* 102, 103 and other 1xx */
    int64_t first_us;           /* when the first was read (reader's clock); -1: none */
} probe_interim_t;

void probe_interim_init(probe_interim_t *im);

/*
 * Read heads until a final one (h->status >= 200), counting the interim
 * ones into im; with stop_at_100 a 100 ends the read too (PROBE_IO_OK,
 * h->status == 100).  after_body counts 100s as late.  One interim
 * response beyond PROBE_INTERIM_MAX for im is PROBE_IO_ERROR, with err
 * saying so and the counts left at the limit.
 */
probe_io_t probe_read_final(probe_reader_t *r, int head_request, int after_body,
                            int stop_at_100, probe_interim_t *im, probe_head_t *h,
                            int64_t deadline_us, char *err, size_t errlen);
/* Whether im is full: the error above. */
int probe_interim_full(const probe_interim_t *im);

/* ---- results of the checks ---- */

typedef enum {
    PROBE_CHECK_BASELINE = 0,   /* no Expect, body sent at once */
    PROBE_CHECK_CONTINUE,       /* Expect: 100-continue */
    PROBE_CHECK_UNKNOWN,        /* Expect: x-probe */
    PROBE_CHECK_HTTP10,         /* HTTP/1.0 with 100-continue */
    PROBE_CHECK_COUNT
} probe_check_id_t;

typedef enum {
    PROBE_OUT_SKIPPED = 0,      /* not run: an earlier check timed out */
    PROBE_OUT_RESPONSE,         /* a final status was read */
    PROBE_OUT_CLOSED,           /* EOF or reset before any final status */
    PROBE_OUT_TIMEOUT,          /* silent for the whole timeout */
    PROBE_OUT_GARBLED           /* bytes that are not an HTTP/1.x response */
} probe_outcome_t;

/* What the server said before the body was sent. */
typedef enum {
    PROBE_BEFORE_NA = 0,        /* the body went with the head (baseline) */
    PROBE_BEFORE_100,
    PROBE_BEFORE_FINAL,
    PROBE_BEFORE_NOTHING,       /* silent for the wait: body sent anyway */
    PROBE_BEFORE_CLOSED
} probe_before_t;

/* A second request on the same connection, after the check's response. */
typedef enum {
    PROBE_REUSE_NOT_TRIED = 0,  /* the response closed the connection */
    PROBE_REUSE_OK,             /* the next request got its own response */
    PROBE_REUSE_CLOSED,         /* closed although the response kept it */
    PROBE_REUSE_STALLED,        /* no answer to the next request */
    PROBE_REUSE_DESYNC          /* the abandoned body was parsed as a request */
} probe_reuse_t;

typedef struct {
    probe_outcome_t outcome;
    probe_before_t before;
    int body_sent;              /* the whole declared body went out */
    int n100;                   /* 100 Continue responses seen */
    int n100_late;              /* of those, after the body was sent */
    int n1xx_other;             /* 102, 103 and other interim responses */
    long first_interim_ms;      /* -1: none */
    long final_ms;              /* -1: none; from sending the request head */
    int status;                 /* 0: none */
    int minor;
    char reason[PROBE_FIELD_MAX];
    char server[PROBE_FIELD_MAX];
    char via[PROBE_FIELD_MAX];
    int keep_alive;             /* the response allowed reuse */
    int body_complete;          /* the response body was read to its end */
    probe_reuse_t reuse;
    int reuse_status;
    char detail[160];           /* what went wrong, for garbled and closed */
} probe_check_t;

typedef struct {
    probe_check_t check[PROBE_CHECK_COUNT];
    long wait_100_ms;           /* how long the 100-continue check waited */
    long timeout_ms;
} probe_result_t;

/* ---- diagnoses ---- */

typedef enum {
    PROBE_SEV_OK = 0,
    PROBE_SEV_NOTE,
    PROBE_SEV_PROBLEM
} probe_severity_t;

typedef enum {
    PROBE_D_HONOURS = 0,
    PROBE_D_FINAL_FIRST,
    PROBE_D_IGNORES,
    PROBE_D_REJECTS,
    PROBE_D_DUPLICATE,
    PROBE_D_CLOSES,
    PROBE_D_TIMEOUT,
    PROBE_D_ALWAYS_417,
    PROBE_D_GARBLED,
    PROBE_D_HTTP10_100,
    PROBE_D_DESYNC,
    PROBE_D_LATE_100,
    PROBE_D_UNKNOWN_417,
    PROBE_D_UNKNOWN_417_LATE,
    PROBE_D_UNKNOWN_IGNORED,
    PROBE_D_COUNT
} probe_diag_id_t;

/* The fix text of a side that has nothing to fix. */
#define PROBE_NOTHING "nothing to change"

typedef struct {
    probe_diag_id_t id;
    const char *key;            /* stable token, e.g. "ignores-100-continue" */
    probe_severity_t severity;
    int exit_code;              /* 0 unless a problem */
    const char *summary;
    const char *client_fix;
    const char *server_fix;
} probe_diag_t;

const probe_diag_t *probe_diag(probe_diag_id_t id);
const char *probe_check_name(probe_check_id_t c);
const char *probe_severity_name(probe_severity_t s);

/* One diagnosis found, and the check that showed it. */
typedef struct {
    probe_diag_id_t id;
    probe_check_id_t check;
} probe_finding_t;

#define PROBE_FINDINGS_MAX 16

/*
 * Every diagnosis the results support, most severe first, and the verdict:
 * the first of them.  Returns the number of findings (always >= 1).
 */
size_t probe_diagnose(const probe_result_t *r, probe_finding_t *out, size_t max);

/*
 * Two results of the same URL compared (--compare: h2 and HTTP/1.1), as
 * two lines: what each does with 100-continue (from the verdicts), and
 * with an unknown expectation.  an and bn name the protocols.
 */
typedef struct {
    char expect_100[192];
    char unknown[192];
} probe_comparison_t;

void probe_compare(const probe_finding_t *a, size_t na, const char *an,
                   const probe_finding_t *b, size_t nb, const char *bn,
                   probe_comparison_t *out);

/* ---- network (probe_net.c) ---- */

typedef struct probe_tls probe_tls_t;       /* one SSL_CTX for the whole probe */
typedef struct probe_conn probe_conn_t;

/* The address every check connects to, resolved once. */
typedef struct {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int family;
    char numeric[64];
} probe_addr_t;

/* ALPN offers h2 alone when h2, else http/1.1 alone. */
probe_tls_t *probe_tls_new(int insecure, int h2, char *err, size_t errlen);
void probe_tls_free(probe_tls_t *t);

/*
 * Resolve host (the URL's, a hop's or a proxy's) and connect to the first
 * address that answers on port; fills addr.
 */
int probe_connect_first(const char *host, unsigned port, long timeout_ms,
                        probe_addr_t *addr, int *fd, char *err, size_t errlen);
/* Connect again to the address found first. */
int probe_connect_addr(const probe_addr_t *a, long timeout_ms, int *fd,
                       char *err, size_t errlen);

/* Takes fd; runs the TLS handshake when tls != NULL.  NULL with err set. */
probe_conn_t *probe_conn_open(int fd, probe_tls_t *tls, const probe_url_t *u,
                              int64_t deadline_us, char *err, size_t errlen);
void probe_conn_close(probe_conn_t *c);
/* TLS on an open plain connection (after a proxy's CONNECT), with the
 * URL's server name and certificate check; 0, or -1 with err. */
int probe_conn_start_tls(probe_conn_t *c, probe_tls_t *tls, const probe_url_t *u,
                         int64_t deadline_us, char *err, size_t errlen);
/* The protocol the server chose by ALPN; "" when none. */
const char *probe_conn_alpn(const probe_conn_t *c);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or "" for plain TCP. */
const char *probe_conn_tls_info(const probe_conn_t *c, int *verified);

probe_io_t probe_send(probe_conn_t *c, const char *buf, size_t len, int64_t deadline_us);
/* Send n bytes of body filler. */
probe_io_t probe_send_body(probe_conn_t *c, uint64_t n, int64_t deadline_us);

/* The reader of the connection's responses (probe_read.c's loops). */
probe_reader_t *probe_conn_reader(probe_conn_t *c);
/* One bounded receive of up to len bytes, past the reader (HTTP/2 frames
 * go to nghttp2, not to the HTTP/1 reader). */
probe_io_t probe_recv(probe_conn_t *c, char *dst, size_t len, size_t *got, int64_t deadline_us);

#endif /* EXPECTCTL_PROBE_H */
