/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_args.c - expectctl's command line, as a table of verbs.  Pure: no
 * I/O, so the unit tests can drive it.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "ctl.h"
#include "probe/probe.h"  /* probe_method_ok, inline */

typedef struct {
    const char *name;
    ctl_verb_t verb;
    const char *synopsis;
} ctl_verb_def;

static const ctl_verb_def verbs[] = {
    {"stats", CTL_VERB_STATS, "stats [VHOST] [--json | --prometheus]   counters per virtual host"},
    {"events", CTL_VERB_EVENTS, "events [-n N] [--follow | --summary [--by server]] [--json]\n"
     "            [--since DURATION|TIME] [--from FILE...]\n"
     "                                          recent 417s, newest last, and what each client\n"
     "                                          did next; --summary: per vhost and client;\n"
     "                                          --from: event logs (- stdin, .gz too), any servers"},
    {"policy", CTL_VERB_POLICY, "policy [VHOST]                          configured, override and effective policy"},
    {"set", CTL_VERB_SET, "set (VHOST | all) (continue | reject | ignore | default)   runtime override, no reload"},
    {"reset", CTL_VERB_RESET, "reset [VHOST]                           zero the counters"},
    {"probe", CTL_VERB_PROBE, "probe URL [--timeout S] [--json] [--method M] [--size N]\n"
     "            [--insecure] [--http2 | --h2c [--compare]]\n"
     "            [--connect ADDR | --connect-to HOST:PORT | --proxy URL | --chain HOP,...]\n"
     "                                          how a server, or the chain in front of it,\n"
     "                                          handles Expect: 100-continue (no segment needed)"},
    {"clients", CTL_VERB_CLIENTS, "clients [USER-AGENT] [--json]           what each client does with 100-continue and\n"
     "                                          a 417, and its own switch (no segment needed)"},
    {"top", CTL_VERB_TOP, "top [-d SECONDS] [--once] [PATTERN]     live view of the vhosts whose name contains\n"
     "                                          PATTERN: rates, 417s, the newest 417s;\n"
     "                                          --once (or no terminal): one frame as text"},
    {NULL, CTL_VERB_NONE, NULL}
};

const char *ctl_verb_synopsis(size_t i)
{
    return (i < sizeof(verbs) / sizeof(verbs[0])) ? verbs[i].synopsis : NULL;
}

static int args_fail(char *err, size_t errlen, const char *msg, const char *arg)
{
    snprintf(err, errlen, "%s%s%s", msg, arg ? ": " : "", arg ? arg : "");
    return -1;
}

static int parse_count(const char *s, long *out)
{
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0') {
        return -1;
    }
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 1 || v > (long)EXPECT_SHM_MAX_RING_SLOTS) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Seconds, decimals allowed, within [min_ms, max_ms]: --timeout and -d. */
static int parse_seconds(const char *s, long min_ms, long max_ms, long *ms)
{
    char *end = NULL;
    double v;

    if (s == NULL || *s == '\0') {
        return -1;
    }
    v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v) || v * 1000.0 < (double)min_ms - 0.5
        || v * 1000.0 > (double)max_ms) {
        return -1;
    }
    *ms = (long)(v * 1000.0 + 0.5);
    return 0;
}

static int parse_size(const char *s, long *out)
{
    char *end = NULL;
    long v;

    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 1 || v > CTL_PROBE_SIZE_MAX) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to year-month-day (proleptic Gregorian), without
 * the C library's time zone state: ctl_args.c stays pure. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3u : 9u)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* n digits at s as a number; -1 if any is not a digit. */
static long digits(const char *s, int n)
{
    long v = 0;
    int i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/*
 * --since DURATION | TIME.  DURATION: a whole number and a unit, s, m, h,
 * d or w ("7d"), counted back from when the command runs.  TIME: UTC, as
 * events prints it: YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.fff]] with an
 * optional Z.  Anything else is refused rather than guessed at.
 */
#define SINCE_MAX_DAYS (100L * 366)
static int parse_since(const char *s, ctl_opts_t *o)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char *end = NULL;
    long v, y, mo, d, hh = 0, mm = 0, ss = 0;
    uint64_t unit;
    size_t n = strlen(s);

    if (n == 0) {
        return -1;
    }
    if (s[0] >= '0' && s[0] <= '9' && n <= 8 && strchr("smhdw", s[n - 1]) != NULL) {
        v = strtol(s, &end, 10);
        if (end != s + n - 1) {
            return -1;
        }
        unit = s[n - 1] == 's' ? 1u : s[n - 1] == 'm' ? 60u : s[n - 1] == 'h' ? 3600u
             : s[n - 1] == 'd' ? 86400u : 7u * 86400u;
        if (v < 1 || (uint64_t)v * unit > (uint64_t)SINCE_MAX_DAYS * 86400u) {
            return -1;
        }
        o->since_ago_usec = (uint64_t)v * unit * 1000000u;
        return 0;
    }
    if (n < 10 || s[4] != '-' || s[7] != '-' || (y = digits(s, 4)) < 1970
        || (mo = digits(s + 5, 2)) < 1 || mo > 12 || (d = digits(s + 8, 2)) < 1
        || d > (long)mdays[mo - 1]
        || (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))) {
        return -1;
    }
    s += 10;
    if (*s == 'T' || *s == ' ') {
        /* Left to right: each test reads only bytes the one before it
         * found inside the string. */
        if ((hh = digits(s + 1, 2)) < 0 || hh > 23 || s[3] != ':'
            || (mm = digits(s + 4, 2)) < 0 || mm > 59) {
            return -1;
        }
        s += 6;
        if (*s == ':') {
            if ((ss = digits(s + 1, 2)) < 0 || ss > 59) {
                return -1;
            }
            s += 3;
            if (*s == '.') {
                /* Milliseconds as events prints them; the second is enough. */
                for (s++; *s >= '0' && *s <= '9'; s++) {
                }
            }
        }
    }
    if (*s == 'Z') {
        s++;
    }
    if (*s != '\0') {
        return -1;
    }
    o->since_usec = ((uint64_t)days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400u
                     + (uint64_t)(hh * 3600 + mm * 60 + ss)) * 1000000u;
    return 0;
}

static int parse_set_value(const char *s, uint32_t *out)
{
    expect_policy_t p;

    if (strcmp(s, "default") == 0) {
        *out = EXPECT_OVERRIDE_NONE;
        return 0;
    }
    p = expect_policy_parse(s);
    if (p == EXPECT_POLICY_UNSET) {
        return -1;
    }
    *out = (uint32_t)p;
    return 0;
}

/*
 * stats and policy print a name's bytes outside printable ASCII as \xHH
 * and a backslash as \\ (expect_escape_text).  Taking that form back lets
 * an administrator paste a name as shown (or as completion offers it);
 * a name typed raw, with no such escape, is used as typed.
 */
static const char *vhost_arg(const char *a, char *buf, size_t len)
{
    size_t used = 0;
    char hex[3] = {0, 0, 0};
    unsigned long byte;

    if (strchr(a, '\\') == NULL || strlen(a) >= len) {
        return a;
    }
    while (*a != '\0') {
        if (a[0] != '\\') {
            buf[used++] = *a++;
        }
        else if (a[1] == '\\') {
            buf[used++] = '\\';
            a += 2;
        }
        else if (a[1] == 'x' && isxdigit((unsigned char)a[2])
                 && isxdigit((unsigned char)a[3])
                 && (hex[0] = a[2], hex[1] = a[3], byte = strtoul(hex, NULL, 16)) != 0) {
            buf[used++] = (char)byte;
            a += 4;
        }
        else {
            return NULL;
        }
    }
    buf[used] = '\0';
    return buf;
}

static int check_vhost(ctl_opts_t *o, char *err, size_t errlen)
{
    const char *typed = o->vhost;

    if (typed == NULL) {
        return 0;
    }
    if ((o->vhost = vhost_arg(typed, o->vhost_buf, sizeof(o->vhost_buf))) == NULL) {
        return args_fail(err, errlen, "a VHOST with a backslash takes only \\\\ and \\xHH "
                         "escapes, as expectctl policy prints them", typed);
    }
    return 0;
}

int ctl_parse_args(int argc, char **argv, const char *env_shm,
                   ctl_opts_t *o, char *err, size_t errlen)
{
    const char *pos[3] = {NULL, NULL, NULL};
    const char *probe_opt = NULL;   /* the first probe-only option seen */
    const char *top_opt = NULL;     /* the first top-only option seen */
    const char *events_opt = NULL;  /* the first events-only option seen */
    int npos = 0, i, saw_n = 0, saw_s = 0, dashdash = 0;
    size_t v;

    memset(o, 0, sizeof(*o));
    o->shm_path = (env_shm != NULL && *env_shm != '\0') ? env_shm : NULL;
    o->count = CTL_EVENTS_DEFAULT;
    o->set_value = EXPECT_OVERRIDE_NONE;
    o->timeout_ms = CTL_PROBE_TIMEOUT_MS;
    o->method = "POST";
    o->size = CTL_PROBE_SIZE;
    o->delay_ms = CTL_TOP_DELAY_MS;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (dashdash || strcmp(a, "--") == 0) {
            /* After --, a VHOST may start with '-' (ServerName -x.example). */
            if (!dashdash) {
                dashdash = 1;
            }
            else if (npos < 3) {
                pos[npos++] = a;
            }
            else {
                return args_fail(err, errlen, "too many arguments", a);
            }
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->verb = CTL_VERB_HELP;
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            o->verb = CTL_VERB_VERSION;
            return 0;
        }
        if (strcmp(a, "-s") == 0) {
            if (++i >= argc || argv[i][0] == '\0') {
                return args_fail(err, errlen, "-s needs a path", NULL);
            }
            o->shm_path = argv[i];
            saw_s = 1;
        }
        else if (strcmp(a, "-i") == 0) {
            if (++i >= argc || !ctl_instance_name_ok(argv[i])) {
                return args_fail(err, errlen, "-i needs an instance name such as 'two' "
                                 "(for apache2-two)", i < argc ? argv[i] : NULL);
            }
            o->instance = argv[i];
        }
        else if (strcmp(a, "--json") == 0) {
            if (o->format != CTL_FMT_TEXT) {
                return args_fail(err, errlen, "choose one of --json and --prometheus", NULL);
            }
            o->format = CTL_FMT_JSON;
        }
        else if (strcmp(a, "--prometheus") == 0) {
            if (o->format != CTL_FMT_TEXT) {
                return args_fail(err, errlen, "choose one of --json and --prometheus", NULL);
            }
            o->format = CTL_FMT_PROMETHEUS;
        }
        else if (strcmp(a, "--follow") == 0 || strcmp(a, "-f") == 0) {
            o->follow = 1;
        }
        else if (strcmp(a, "--summary") == 0) {
            o->summary = 1;
        }
        else if (strcmp(a, "--since") == 0) {
            events_opt = events_opt ? events_opt : a;
            if (++i >= argc || parse_since(argv[i], o) != 0) {
                return args_fail(err, errlen, "--since needs a duration such as 7d, 12h or 30m, "
                                 "or a UTC time such as 2026-05-01 or 2026-05-01T08:00:00Z",
                                 i < argc ? argv[i] : NULL);
            }
        }
        else if (strcmp(a, "--by") == 0) {
            events_opt = events_opt ? events_opt : a;
            if (++i >= argc || strcmp(argv[i], "server") != 0) {
                return args_fail(err, errlen, "--by takes 'server'", i < argc ? argv[i] : NULL);
            }
            o->by_server = 1;
        }
        else if (strcmp(a, "--from") == 0) {
            events_opt = events_opt ? events_opt : a;
            if (o->from != NULL) {
                return args_fail(err, errlen, "give --from once, with every file after it", NULL);
            }
            /* Every argument up to the next option is a file; "-" is
             * standard input (a file named like an option: ./-name). */
            o->from = argv + i + 1;
            while (i + 1 < argc && (argv[i + 1][0] != '-' || strcmp(argv[i + 1], "-") == 0)) {
                if (argv[i + 1][0] == '\0') {
                    return args_fail(err, errlen, "--from: an empty file name", NULL);
                }
                i++;
                o->nfrom++;
            }
            if (o->nfrom == 0) {
                return args_fail(err, errlen, "--from needs one or more files (- for standard "
                                 "input)", NULL);
            }
        }
        else if (strcmp(a, "-n") == 0) {
            if (++i >= argc || parse_count(argv[i], &o->count) != 0) {
                return args_fail(err, errlen, "-n needs a number from 1 up", i < argc ? argv[i] : NULL);
            }
            saw_n = 1;
            o->count_given = 1;
        }
        else if (strcmp(a, "-d") == 0) {
            top_opt = top_opt ? top_opt : a;
            if (++i >= argc || parse_seconds(argv[i], CTL_TOP_DELAY_MIN_MS,
                                                CTL_TOP_DELAY_MAX_MS, &o->delay_ms) != 0) {
                return args_fail(err, errlen, "-d needs seconds from 0.1 to 3600",
                                 i < argc ? argv[i] : NULL);
            }
        }
        else if (strcmp(a, "--once") == 0) {
            top_opt = top_opt ? top_opt : a;
            o->once = 1;
        }
        else if (strcmp(a, "--timeout") == 0) {
            probe_opt = probe_opt ? probe_opt : a;
            if (++i >= argc || parse_seconds(argv[i], CTL_PROBE_TIMEOUT_MIN_MS,
                                                CTL_PROBE_TIMEOUT_MAX_MS, &o->timeout_ms) != 0) {
                return args_fail(err, errlen, "--timeout needs seconds from 0.1 to 60",
                            i < argc ? argv[i] : NULL);
            }
        }
        else if (strcmp(a, "--method") == 0) {
            probe_opt = probe_opt ? probe_opt : a;
            if (++i >= argc || !probe_method_ok(argv[i])) {
                return args_fail(err, errlen, "--method needs an HTTP method such as POST or PUT",
                            i < argc ? argv[i] : NULL);
            }
            o->method = argv[i];
        }
        else if (strcmp(a, "--size") == 0) {
            probe_opt = probe_opt ? probe_opt : a;
            if (++i >= argc || parse_size(argv[i], &o->size) != 0) {
                return args_fail(err, errlen, "--size needs a byte count from 1 to 67108864",
                            i < argc ? argv[i] : NULL);
            }
        }
        else if (strcmp(a, "--connect") == 0) {
            probe_opt = probe_opt ? probe_opt : a;
            if (++i >= argc || argv[i][0] == '\0' || strlen(argv[i]) >= 256) {
                return args_fail(err, errlen, "--connect needs a host name or address", NULL);
            }
            o->connect = argv[i];
        }
        else if (strcmp(a, "--connect-to") == 0 || strcmp(a, "--proxy") == 0) {
            probe_opt = probe_opt ? probe_opt : a;
            if (++i >= argc || argv[i][0] == '\0' || strlen(argv[i]) >= PROBE_TARGET_MAX) {
                return args_fail(err, errlen, a[2] == 'c' ? "--connect-to needs HOST:PORT"
                                                          : "--proxy needs a URL such as "
                                                            "http://proxy.example:3128", NULL);
            }
            if (a[2] == 'c') {
                o->connect_to = argv[i];
            }
            else {
                o->proxy = argv[i];
            }
        }
        else if (strcmp(a, "--chain") == 0) {
            probe_opt = probe_opt ? probe_opt : a;
            if (++i >= argc || argv[i][0] == '\0' || strlen(argv[i]) >= CTL_PROBE_CHAIN_LEN) {
                return args_fail(err, errlen, "--chain needs HOST:PORT,HOST:PORT,... "
                                 "(the hops, front first)", NULL);
            }
            o->chain = argv[i];
        }
        else if (strcmp(a, "--http2") == 0 || strcmp(a, "--h2c") == 0) {
            int want = a[3] == 't' ? CTL_PROBE_H2 : CTL_PROBE_H2C;
            probe_opt = probe_opt ? probe_opt : a;
            if (o->http2 != 0 && o->http2 != want) {
                return args_fail(err, errlen, "choose one of --http2 and --h2c", NULL);
            }
            o->http2 = want;
        }
        else if (strcmp(a, "--compare") == 0) {
            probe_opt = probe_opt ? probe_opt : a;
            o->compare = 1;
        }
        else if (strcmp(a, "--insecure") == 0 || strcmp(a, "-k") == 0) {
            probe_opt = probe_opt ? probe_opt : a;
            o->insecure = 1;
        }
        else if (a[0] == '-' && a[1] != '\0') {
            return args_fail(err, errlen, "unknown option", a);
        }
        else if (npos < 3) {
            pos[npos++] = a;
        }
        else {
            return args_fail(err, errlen, "too many arguments", a);
        }
    }
    if (npos == 0) {
        return args_fail(err, errlen, "no command given (try --help)", NULL);
    }
    for (v = 0; verbs[v].name != NULL; v++) {
        if (strcmp(pos[0], verbs[v].name) == 0) {
            o->verb = verbs[v].verb;
            break;
        }
    }
    if (o->verb == CTL_VERB_NONE) {
        return args_fail(err, errlen, "unknown command", pos[0]);
    }

    if (probe_opt != NULL && o->verb != CTL_VERB_PROBE) {
        return args_fail(err, errlen, "option is for probe", probe_opt);
    }
    if (top_opt != NULL && o->verb != CTL_VERB_TOP) {
        return args_fail(err, errlen, "option is for top", top_opt);
    }
    if (events_opt != NULL && o->verb != CTL_VERB_EVENTS) {
        return args_fail(err, errlen, "option is for events", events_opt);
    }
    if (o->summary && (o->verb != CTL_VERB_EVENTS || o->follow)) {
        return args_fail(err, errlen, o->follow ? "choose one of --follow and --summary"
                                                : "--summary is for events", NULL);
    }
    switch (o->verb) {
    case CTL_VERB_PROBE:
        if (o->format == CTL_FMT_PROMETHEUS || o->follow || saw_n) {
            return args_fail(err, errlen,
                        "probe takes --timeout, --json, --method, --size, --insecure, "
                        "--http2, --h2c, --compare, --connect, --connect-to, --proxy, --chain",
                        NULL);
        }
        break;
    case CTL_VERB_CLIENTS:
        if (o->format == CTL_FMT_PROMETHEUS || o->follow || saw_n) {
            return args_fail(err, errlen, "clients takes only --json", NULL);
        }
        if (npos > 2) {
            return args_fail(err, errlen, "too many arguments (quote the User-Agent)", pos[2]);
        }
        break;
    case CTL_VERB_STATS:
        if (o->follow) {
            return args_fail(err, errlen, "--follow is for events", NULL);
        }
        break;
    case CTL_VERB_EVENTS:
        if (o->format == CTL_FMT_PROMETHEUS) {
            return args_fail(err, errlen, "--prometheus is for stats", NULL);
        }
        if (npos > 1) {
            return args_fail(err, errlen, "events takes no VHOST", pos[1]);
        }
        if (o->by_server && (o->from == NULL || !o->summary)) {
            return args_fail(err, errlen, o->from == NULL
                             ? "--by server needs --from (a segment is one server's)"
                             : "--by server groups the summary: add --summary", NULL);
        }
        if (o->from != NULL) {
            if (o->follow) {
                return args_fail(err, errlen, "--follow reads a segment, not --from files",
                                 NULL);
            }
            if (saw_s || o->instance != NULL) {
                return args_fail(err, errlen, "choose one of -s, -i and --from", NULL);
            }
            if (o->summary && saw_n) {
                return args_fail(err, errlen, "--summary --from folds every line: choose them "
                                 "with --since, not -n", NULL);
            }
        }
        break;
    case CTL_VERB_TOP:
        if (o->format != CTL_FMT_TEXT || o->follow || saw_n) {
            return args_fail(err, errlen, "top takes -d SECONDS, --once and a PATTERN", NULL);
        }
        break;
    case CTL_VERB_POLICY:
    case CTL_VERB_RESET:
    case CTL_VERB_SET:
        if (o->format != CTL_FMT_TEXT || o->follow) {
            return args_fail(err, errlen, "option not valid for this command", pos[0]);
        }
        break;
    default:
        break;
    }
    if (o->instance != NULL) {
        if (saw_s) {
            return args_fail(err, errlen, "choose one of -s and -i", NULL);
        }
        o->shm_path = NULL;   /* -i says more than $EXPECTCTL_SHM */
    }
    if (o->verb == CTL_VERB_SET) {
        if (npos != 3) {
            return args_fail(err, errlen,
                        "usage: set (VHOST | all) (continue | reject | ignore | default)", NULL);
        }
        if (parse_set_value(pos[2], &o->set_value) != 0) {
            return args_fail(err, errlen,
                        "policy must be continue, reject, ignore or default", pos[2]);
        }
        o->set_all = strcmp(pos[1], "all") == 0;
        o->vhost = o->set_all ? NULL : pos[1];
        return check_vhost(o, err, errlen);
    }
    if (o->verb == CTL_VERB_CLIENTS) {
        o->user_agent = npos == 2 ? pos[1] : NULL;
        return 0;
    }
    if (o->verb == CTL_VERB_TOP) {
        /* A part of names, not one VHOST: it may match none yet. */
        if (npos > 2) {
            return args_fail(err, errlen, "too many arguments", pos[2]);
        }
        o->pattern = npos == 2 ? pos[1] : NULL;
        return 0;
    }
    if (o->verb == CTL_VERB_PROBE) {
        /* The URL's shape is checked by ctl_probe (exit 2 too), which owns
         * the URL parser; this file stays free of probe's objects. */
        if (npos != 2) {
            return args_fail(err, errlen, npos < 2 ? "usage: probe URL (http:// or https://)"
                                              : "too many arguments", npos > 2 ? pos[2] : NULL);
        }
        o->url = pos[1];
        return 0;
    }
    if (npos > 2) {
        return args_fail(err, errlen, "too many arguments", pos[2]);
    }
    o->vhost = npos == 2 ? pos[1] : NULL;
    return check_vhost(o, err, errlen);
}
