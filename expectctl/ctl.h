/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl.h - what expectctl's files share.  No httpd headers: expectctl reads
 * the segment through expect_shm.h alone.
 */
#ifndef EXPECTCTL_CTL_H
#define EXPECTCTL_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "expect_event_json.h"
#include "expect_shm.h"

/* Exit codes; documented in expectctl.8 and product.md. */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAIL = 1,
    CTL_EXIT_USAGE = 2,
    CTL_EXIT_NOSEG = 3,
    CTL_EXIT_PERM = 4,
    CTL_EXIT_CORRUPT = 5,
    /* events --from: the output is there, but some lines were skipped
     * (malformed), doubled, or lost by the writer (gap lines). */
    CTL_EXIT_PARTIAL = 6
};

typedef enum { CTL_FMT_TEXT = 0, CTL_FMT_JSON, CTL_FMT_PROMETHEUS } ctl_format_t;

typedef enum {
    CTL_VERB_NONE = 0,
    CTL_VERB_STATS,
    CTL_VERB_EVENTS,
    CTL_VERB_POLICY,
    CTL_VERB_SET,
    CTL_VERB_RESET,
    CTL_VERB_HELP,
    CTL_VERB_VERSION,
    CTL_VERB_PROBE,
    CTL_VERB_CLIENTS,
    CTL_VERB_TOP
} ctl_verb_t;

/* Everything the command line said, checked for shape but not for meaning
 * (whether a vhost exists is known only once the segment is attached). */
typedef struct {
    ctl_verb_t verb;
    const char *shm_path;    /* -s, else $EXPECTCTL_SHM; NULL: see ctl_segment_path */
    const char *instance;    /* -i NAME: the Debian instance apache2-NAME */
    const char *vhost;       /* NULL: all */
    char vhost_buf[1024];    /* VHOST as typed in the escaped form stats prints */
    ctl_format_t format;
    long count;              /* events -n */
    int count_given;         /* -n was on the command line */
    int follow;              /* events --follow */
    int summary;             /* events --summary */
    int by_server;           /* events --summary --by server */
    uint64_t since_usec;     /* --since: events from then on (usec since the
                              * epoch; main turns a DURATION into it); 0: all */
    uint64_t since_ago_usec; /* --since DURATION: that long before now */
    char *const *from;       /* --from FILE...: into argv; NULL: the segment */
    int nfrom;
    uint32_t set_value;      /* set: EXPECT_OVERRIDE_NONE or a policy */
    int set_all;             /* set all */
    /* probe: needs no segment */
    const char *url;
    long timeout_ms;         /* --timeout: bound on each wait */
    const char *method;      /* --method */
    long size;               /* --size: declared body length */
    int insecure;            /* --insecure: do not verify the TLS certificate */
    const char *connect;     /* --connect: address to use instead of the URL's host */
    const char *connect_to;  /* --connect-to HOST:PORT: the hop to probe, with the URL's name */
    const char *proxy;       /* --proxy URL: a forward proxy */
    const char *chain;       /* --chain HOP,HOP,...: one probe per hop, front first */
    int http2;               /* CTL_PROBE_H2 (--http2), CTL_PROBE_H2C (--h2c); 0: HTTP/1.1 */
    int compare;             /* --compare: with --http2/--h2c, HTTP/1.1 too, compared */
    /* clients: needs no segment either */
    const char *user_agent;  /* clients USER-AGENT: the entry it matches; NULL: all */
    /* top */
    long delay_ms;           /* -d SECONDS: between two frames */
    int once;                /* --once: one frame as text */
    const char *pattern;     /* PATTERN: vhosts whose name contains it */
} ctl_opts_t;

#define CTL_EVENTS_DEFAULT 20
#define CTL_TOP_DELAY_MS 2000
#define CTL_TOP_DELAY_MIN_MS 100
#define CTL_TOP_DELAY_MAX_MS 3600000
#define CTL_PROBE_TIMEOUT_MS 3000
#define CTL_PROBE_TIMEOUT_MIN_MS 100
#define CTL_PROBE_TIMEOUT_MAX_MS 60000
#define CTL_PROBE_SIZE 1024
#define CTL_PROBE_SIZE_MAX (64L * 1024 * 1024)
#define CTL_PROBE_H2 1
#define CTL_PROBE_H2C 2
/* --chain: at most this long a list (the engine bounds the hops:
 * PROBE_CHAIN_MAX in probe/probe_engine.h). */
#define CTL_PROBE_CHAIN_LEN 4096

/* ctl_args.c: parse argv; on error returns -1 with a one-line reason. */
int ctl_parse_args(int argc, char **argv, const char *env_shm,
                   ctl_opts_t *o, char *err, size_t errlen);
const char *ctl_verb_synopsis(size_t i);  /* NULL past the end */

/* ctl_paths.c: where the segment is (see there). */
const char *ctl_runtime_dir(void);
int ctl_instance_name_ok(const char *name);
/* -s / $EXPECTCTL_SHM, else -i, else the default; -1 if it does not fit. */
int ctl_segment_path(const ctl_opts_t *o, char *buf, size_t len);
/* Print the other instances' segments, one per line (out NULL: only
 * count them); returns how many. */
int ctl_list_instances(FILE *out);

/* ctl_vhosts.c: resolve a VHOST argument to a slot among active vhosts. */
int ctl_find_vhost(const expect_shm_t *h, const char *want, uint32_t *slot,
                   char *err, size_t errlen);
int ctl_vhost_visible(const expect_shm_vhost_snap_t *v);
/* fn for every active vhost, or for the one o->vhost names (exit 1 if none). */
int ctl_each_vhost(const expect_shm_t *h, const ctl_opts_t *o,
                   void (*fn)(const expect_shm_vhost_snap_t *, void *), void *arg);
uint32_t ctl_effective_policy(const expect_shm_vhost_snap_t *v);
void ctl_format_time(char *buf, size_t len, uint64_t usec);
/* An expect_emit_fn that writes to standard output (ctx unused). */
void ctl_emit_stdout(void *ctx, const char *s, size_t len);
/* Wall clock, microseconds since the epoch, as the segment keeps time. */
uint64_t ctl_now_usec(void);

/* ctl_attach.c: attach what o's verb needs (both files, or the control
 * file, writable for set and reset) and make sure a running httpd serves
 * it; CTL_EXIT_OK, or an exit code with the reason on stderr. */
int ctl_attach_live(expect_shm_t *h, const ctl_opts_t *o);
/* write(), then verify that the generation that serves took it (writing
 * again across a restart), then report(); h may be detached and attached
 * again on the way, and is detached on failure. */
int ctl_write_verified(expect_shm_t *h, const ctl_opts_t *o,
                       int (*write)(expect_shm_t *, const ctl_opts_t *),
                       int (*report)(const expect_shm_t *, const ctl_opts_t *));

/* ctl_live.c: is the segment served by a running httpd? */
typedef enum { CTL_LIVE = 0, CTL_STALE, CTL_REPLACED } ctl_live_t;
/* LIVE, or STALE / REPLACED (path now names other files) with a reason. */
ctl_live_t ctl_liveness(const expect_shm_t *h, const char *path, char *why, size_t len);
/* The same without waiting out a restart in progress (a screen that
 * redraws every second must not stop for three). */
ctl_live_t ctl_liveness_now(const expect_shm_t *h, const char *path, char *why, size_t len);
/* Whether the httpd the control file names still runs (whatever the
 * segment's state): only then is a restart in progress worth waiting for. */
int ctl_server_runs(const expect_shm_t *h);
void ctl_sleep_ms(long ms);

/* One file per verb family. */
int ctl_stats(const expect_shm_t *h, const ctl_opts_t *o);
int ctl_events(expect_shm_t *h, const ctl_opts_t *o);
/* The list's one writer, whatever the source: the document's head (JSON),
 * one event (server: the ServerName a log line named; NULL from a
 * segment), the document's end.  h is NULL for a log line: its outcome
 * word then gives exactly the state the writer wrote. */
void ctl_events_begin(const ctl_opts_t *o);
void ctl_events_print(const expect_shm_t *h, const expect_shm_event_t *e, const char *server,
                      const ctl_opts_t *o, int *first);
void ctl_events_end(const ctl_opts_t *o);

/* ctl_summary.c: events --summary, folded by one code path whatever the
 * source: a segment's ring (ctl_events_summary) or log lines (ctl_from.c). */
typedef struct ctl_summary ctl_summary_t;
ctl_summary_t *ctl_summary_new(int by_server);
/* h and now resolve a segment's pending event whose window has closed;
 * h NULL takes the outcome word as it is. */
void ctl_summary_add(ctl_summary_t *s, const expect_shm_t *h, const expect_shm_event_t *e,
                     const char *server, uint64_t now);
void ctl_summary_print(const ctl_summary_t *s, ctl_format_t format);
void ctl_summary_free(ctl_summary_t *s);
/* After the summary: 1 (and a line on stderr) when groups past the
 * maximum were folded together, so the output is partial. */
int ctl_summary_report_folded(const ctl_summary_t *s);
int ctl_events_summary(const expect_shm_t *h, const ctl_opts_t *o);

/* ctl_eventlog.c: one line of the event log (the schema is in
 * docs/MANY-SERVERS.md).  A line with its newline is shorter than
 * PIPE_BUF, so its text is at most this long minus one. */
#define CTL_EVENTLOG_LINE_MAX (EXPECT_EVENT_LINE_MAX - 1)
enum { CTL_LINE_BAD = -1, CTL_LINE_EVENT = 1, CTL_LINE_GAP = 2 };
typedef struct {
    expect_shm_event_t ev;   /* event: as a segment's published record */
    char server[256];        /* the main server's ServerName */
    uint32_t pid;            /* the httpd parent's */
    uint64_t claim;          /* "seq": its claim number in that ring */
    uint64_t lost;           /* gap: events the writer lost */
    int truncated;           /* the writer cut a string to fit the line */
} ctl_line_t;
/* line[0..n) without its newline: CTL_LINE_EVENT or CTL_LINE_GAP, or
 * CTL_LINE_BAD with a one-line reason in why. */
int ctl_eventlog_parse(const char *line, size_t n, ctl_line_t *out, char *why, size_t len);

/* ctl_from.c: events [--summary] --from FILE...: no segment needed. */
int ctl_events_from(const ctl_opts_t *o);
int ctl_policy(const expect_shm_t *h, const ctl_opts_t *o);
/* set: write the override(s) (ctl_set), then, once main has made sure the
 * generation that serves took them, print the result (ctl_set_report). */
int ctl_set(expect_shm_t *h, const ctl_opts_t *o);
int ctl_set_report(const expect_shm_t *h, const ctl_opts_t *o);
/* reset: the same two steps as set. */
int ctl_reset(expect_shm_t *h, const ctl_opts_t *o);
int ctl_reset_report(const expect_shm_t *h, const ctl_opts_t *o);
/* ctl_probe.c: the options to the probe engine (probe/); returns 0,
 * CTL_EXIT_FAIL, CTL_EXIT_USAGE or a verdict's code. */
int ctl_probe(const ctl_opts_t *o);
/* ctl_clients.c: the client table, or the entry o->user_agent matches
 * (CTL_EXIT_FAIL when none does). */
int ctl_clients(const ctl_opts_t *o);
/* ctl_top.c: the live screen, or --once one frame as text; h may be
 * replaced by a rebuilt segment's (the caller detaches whatever it holds). */
int ctl_top(expect_shm_t *h, const ctl_opts_t *o);

#endif /* EXPECTCTL_CTL_H */
