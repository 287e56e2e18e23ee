/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for expectctl's command line (ctl_args.c): no segment needed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl.h"

static int parse_args(ctl_opts_t *o, char *err, const char *env, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;
    char *a;

    argv[argc++] = (char *)"expectctl";
    va_start(ap, env);
    while ((a = va_arg(ap, char *)) != NULL && argc < 15) {
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;
    return ctl_parse_args(argc, argv, env, o, err, 256);
}

static void stats_forms(void **state)
{
    ctl_opts_t o;
    char err[256];
    (void)state;
    assert_int_equal(parse_args(&o, err, NULL, "stats", NULL), 0);
    assert_int_equal(o.verb, CTL_VERB_STATS);
    assert_null(o.vhost);
    assert_null(o.shm_path);
    assert_int_equal(o.format, CTL_FMT_TEXT);
    assert_int_equal(parse_args(&o, err, NULL, "-s", "/x.shm", "stats", "a:80", "--json", NULL), 0);
    assert_string_equal(o.shm_path, "/x.shm");
    assert_string_equal(o.vhost, "a:80");
    assert_int_equal(o.format, CTL_FMT_JSON);
    assert_int_equal(parse_args(&o, err, NULL, "stats", "--prometheus", NULL), 0);
    assert_int_equal(o.format, CTL_FMT_PROMETHEUS);
    assert_int_equal(parse_args(&o, err, NULL, "stats", "--json", "--prometheus", NULL), -1);
    assert_non_null(strstr(err, "one of"));
    assert_int_equal(parse_args(&o, err, NULL, "stats", "a", "b", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "stats", "--follow", NULL), -1);
}

static void env_and_flag_precedence(void **state)
{
    ctl_opts_t o;
    char err[256];
    (void)state;
    assert_int_equal(parse_args(&o, err, "/env.shm", "policy", NULL), 0);
    assert_string_equal(o.shm_path, "/env.shm");
    assert_int_equal(parse_args(&o, err, "/env.shm", "-s", "/flag.shm", "policy", NULL), 0);
    assert_string_equal(o.shm_path, "/flag.shm");
    assert_int_equal(parse_args(&o, err, "", "policy", NULL), 0);
    assert_null(o.shm_path);
    assert_int_equal(parse_args(&o, err, NULL, "-s", NULL), -1);
}

/* -i NAME: a Debian instance; beats $EXPECTCTL_SHM, conflicts with -s. */
static void instance_forms(void **state)
{
    ctl_opts_t o;
    char err[256], path[256];
    (void)state;
    assert_int_equal(parse_args(&o, err, "/env.shm", "-i", "two", "stats", NULL), 0);
    assert_string_equal(o.instance, "two");
    assert_null(o.shm_path);
    setenv("EXPECTCTL_RUNDIR", "/run/apache2", 1);
    assert_int_equal(ctl_segment_path(&o, path, sizeof(path)), 0);
    assert_string_equal(path, "/run/apache2-two/mod_expect.shm");
    o.instance = NULL;
    assert_int_equal(ctl_segment_path(&o, path, sizeof(path)), 0);
    assert_string_equal(path, "/run/apache2/mod_expect.shm");
    unsetenv("EXPECTCTL_RUNDIR");
    assert_int_equal(parse_args(&o, err, NULL, "-s", "/x.shm", "-i", "two", "stats", NULL), -1);
    assert_non_null(strstr(err, "one of -s and -i"));
    assert_int_equal(parse_args(&o, err, NULL, "-i", "../x", "stats", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "-i", "", "stats", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "-i", NULL), -1);
    assert_true(ctl_instance_name_ok("web-2.a_b"));
    assert_false(ctl_instance_name_ok("-x"));
    assert_false(ctl_instance_name_ok("a/b"));
}

static void events_forms(void **state)
{
    ctl_opts_t o;
    char err[256];
    (void)state;
    assert_int_equal(parse_args(&o, err, NULL, "events", NULL), 0);
    assert_int_equal(o.count, CTL_EVENTS_DEFAULT);
    assert_int_equal(parse_args(&o, err, NULL, "events", "-n", "5", "--follow", "--json", NULL), 0);
    assert_int_equal(o.count, 5);
    assert_true(o.follow);
    assert_int_equal(o.format, CTL_FMT_JSON);
    assert_int_equal(parse_args(&o, err, NULL, "events", "-n", "0", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "events", "-n", "5x", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "events", "-n", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "events", "-n", "-3", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--prometheus", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "events", "vhost", NULL), -1);
}

static void set_forms(void **state)
{
    ctl_opts_t o;
    char err[256];
    (void)state;
    assert_int_equal(parse_args(&o, err, NULL, "set", "a:80", "reject", NULL), 0);
    assert_int_equal(o.verb, CTL_VERB_SET);
    assert_string_equal(o.vhost, "a:80");
    assert_int_equal(o.set_value, EXPECT_POLICY_REJECT);
    assert_false(o.set_all);
    assert_int_equal(parse_args(&o, err, NULL, "set", "all", "default", NULL), 0);
    assert_true(o.set_all);
    assert_null(o.vhost);
    assert_int_equal(o.set_value, EXPECT_OVERRIDE_NONE);
    assert_int_equal(parse_args(&o, err, NULL, "set", "a:80", "IGNORE", NULL), 0);
    assert_int_equal(o.set_value, EXPECT_POLICY_IGNORE);
    assert_int_equal(parse_args(&o, err, NULL, "set", "a:80", "maybe", NULL), -1);
    assert_non_null(strstr(err, "continue, reject, ignore or default"));
    assert_int_equal(parse_args(&o, err, NULL, "set", "a:80", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "set", "a:80", "reject", "--json", NULL), -1);
}

static void misc_forms(void **state)
{
    ctl_opts_t o;
    char err[256];
    (void)state;
    assert_int_equal(parse_args(&o, err, NULL, NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "frobnicate", NULL), -1);
    assert_non_null(strstr(err, "unknown command"));
    assert_int_equal(parse_args(&o, err, NULL, "stats", "--bogus", NULL), -1);
    assert_non_null(strstr(err, "unknown option"));
    assert_int_equal(parse_args(&o, err, NULL, "--help", NULL), 0);
    assert_int_equal(o.verb, CTL_VERB_HELP);
    assert_int_equal(parse_args(&o, err, NULL, "--version", NULL), 0);
    assert_int_equal(o.verb, CTL_VERB_VERSION);
    assert_int_equal(parse_args(&o, err, NULL, "reset", NULL), 0);
    assert_null(o.vhost);
    assert_int_equal(parse_args(&o, err, NULL, "reset", "a:80", NULL), 0);
    assert_string_equal(o.vhost, "a:80");
    assert_non_null(ctl_verb_synopsis(0));
}

static void probe_forms(void **state)
{
    ctl_opts_t o;
    char err[256];
    (void)state;
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://127.0.0.1:8080/up", NULL), 0);
    assert_int_equal(o.verb, CTL_VERB_PROBE);
    assert_string_equal(o.url, "http://127.0.0.1:8080/up");
    assert_int_equal(o.timeout_ms, CTL_PROBE_TIMEOUT_MS);
    assert_string_equal(o.method, "POST");
    assert_int_equal(o.size, CTL_PROBE_SIZE);
    assert_false(o.insecure);
    assert_null(o.connect);
    assert_int_equal(o.format, CTL_FMT_TEXT);
    assert_null(o.vhost);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://h/", "--connect", "[::1]", NULL), 0);
    assert_string_equal(o.connect, "[::1]");
    assert_int_equal(parse_args(&o, err, NULL, "probe", "--timeout", "0.5", "--json", "--method",
                           "PUT", "--size", "65536", "--insecure", "https://[::1]/x", NULL), 0);
    assert_int_equal(o.timeout_ms, 500);
    assert_int_equal(o.format, CTL_FMT_JSON);
    assert_string_equal(o.method, "PUT");
    assert_int_equal(o.size, 65536);
    assert_true(o.insecure);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "-k", "--timeout", "60", "https://h/", NULL), 0);
    assert_true(o.insecure);
    assert_int_equal(o.timeout_ms, 60000);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "--timeout", "0.1", "http://h/", NULL), 0);
    assert_int_equal(o.timeout_ms, 100);
    /* probe needs no segment, but -s and $EXPECTCTL_SHM do no harm. */
    assert_int_equal(parse_args(&o, err, "/env.shm", "-s", "/x.shm", "probe", "http://h/", NULL), 0);
}

/* Issue 15: HTTP/2 and the route options; their meaning is checked by
 * probe/probe_route.c (tests/unit/test_probe.c and the integration tests). */
static void probe_hop_options(void **state)
{
    ctl_opts_t o;
    char err[256];
    (void)state;
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://h/", NULL), 0);
    assert_int_equal(o.http2, 0);
    assert_false(o.compare);
    assert_null(o.connect_to);
    assert_null(o.proxy);
    assert_null(o.chain);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "https://h/", "--http2", "--compare",
                                "--connect-to", "10.0.0.5:8443", NULL), 0);
    assert_int_equal(o.http2, CTL_PROBE_H2);
    assert_true(o.compare);
    assert_string_equal(o.connect_to, "10.0.0.5:8443");
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://h/", "--h2c", "--h2c",
                                "--proxy", "http://p:3128", NULL), 0);
    assert_int_equal(o.http2, CTL_PROBE_H2C);
    assert_string_equal(o.proxy, "http://p:3128");
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://h/", "--chain", "a:1,b:2",
                                NULL), 0);
    assert_string_equal(o.chain, "a:1,b:2");
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://h/", "--http2", "--h2c", NULL),
                     -1);
    assert_non_null(strstr(err, "choose one of --http2 and --h2c"));
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://h/", "--connect-to", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://h/", "--proxy", "", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://h/", "--chain", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "stats", "--h2c", NULL), -1);
    assert_non_null(strstr(err, "is for probe"));
    assert_int_equal(parse_args(&o, err, NULL, "events", "--chain", "a:1", NULL), -1);
    assert_non_null(strstr(err, "is for probe"));
}

static void probe_errors(void **state)
{
    ctl_opts_t o;
    char err[256];
    (void)state;
    assert_int_equal(parse_args(&o, err, NULL, "probe", NULL), -1);
    assert_non_null(strstr(err, "probe URL"));
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "http://b/", NULL), -1);
    /* The URL is checked by ctl_probe (tests/unit/test_probe.c). */
    assert_int_equal(parse_args(&o, err, NULL, "probe", "not a url", NULL), 0);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--timeout", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--timeout", "0.09", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--timeout", "61", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--timeout", "1s", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--timeout", "nan", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--timeout", "inf", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--size", "0", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--size", "+5", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--size", "67108865", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--method", "A B", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--method", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--prometheus", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--follow", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "-n", "3", NULL), -1);
    /* probe's options belong to probe. */
    assert_int_equal(parse_args(&o, err, NULL, "stats", "--timeout", "1", NULL), -1);
    assert_non_null(strstr(err, "is for probe"));
    assert_int_equal(parse_args(&o, err, NULL, "events", "--insecure", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "policy", "--size", "3", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "stats", "--connect", "h", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--connect", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "probe", "http://a/", "--connect", "", NULL), -1);
}

static void clients_forms(void **state)
{
    ctl_opts_t o;
    char err[256];
    (void)state;
    assert_int_equal(parse_args(&o, err, NULL, "clients", NULL), 0);
    assert_int_equal(o.verb, CTL_VERB_CLIENTS);
    assert_null(o.user_agent);
    assert_null(o.vhost);
    assert_int_equal(o.format, CTL_FMT_TEXT);
    assert_int_equal(parse_args(&o, err, NULL, "clients", "--json", NULL), 0);
    assert_int_equal(o.format, CTL_FMT_JSON);
    assert_int_equal(parse_args(&o, err, NULL, "clients", "Botocore/1.29.27 Python/3.11.2",
                                "--json", NULL), 0);
    assert_string_equal(o.user_agent, "Botocore/1.29.27 Python/3.11.2");
    assert_null(o.vhost);
    /* needs no segment, but -s and $EXPECTCTL_SHM do no harm */
    assert_int_equal(parse_args(&o, err, "/env.shm", "-s", "/x.shm", "clients", NULL), 0);
    /* an unquoted User-Agent is two arguments */
    assert_int_equal(parse_args(&o, err, NULL, "clients", "Botocore/1.29", "Python/3", NULL), -1);
    assert_non_null(strstr(err, "quote"));
    assert_int_equal(parse_args(&o, err, NULL, "clients", "--prometheus", NULL), -1);
    assert_non_null(strstr(err, "clients takes only --json"));
    assert_int_equal(parse_args(&o, err, NULL, "clients", "--follow", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "clients", "-n", "5", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "clients", "--timeout", "1", NULL), -1);
    assert_non_null(strstr(err, "option is for probe"));
    /* and the verb table lists it */
    {
        size_t i;
        int seen = 0;
        const char *syn;

        for (i = 0; (syn = ctl_verb_synopsis(i)) != NULL; i++) {
            seen |= strncmp(syn, "clients ", 8) == 0;
        }
        assert_true(seen);
    }
}

static void time_format(void **state)
{
    char buf[40];
    (void)state;
    ctl_format_time(buf, sizeof(buf), 0);
    assert_string_equal(buf, "-");
    ctl_format_time(buf, sizeof(buf), 1700000000123456ull);
    assert_string_equal(buf, "2023-11-14T22:13:20.123Z");
}

static void vhost_after_dashdash_and_escaped(void **state)
{
    ctl_opts_t o;
    char err[256];
    (void)state;
    /* A ServerName may start with '-': after --, it is a VHOST. */
    assert_int_equal(parse_args(&o, err, NULL, "set", "-dash.test:80", "reject", NULL), -1);
    assert_non_null(strstr(err, "unknown option"));
    assert_int_equal(parse_args(&o, err, NULL, "set", "--", "-dash.test:80", "reject", NULL), 0);
    assert_string_equal(o.vhost, "-dash.test:80");
    assert_int_equal(parse_args(&o, err, NULL, "-s", "/x.shm", "stats", "--", "-d", NULL), 0);
    assert_string_equal(o.vhost, "-d");
    assert_int_equal(parse_args(&o, err, NULL, "policy", "--", "a", "b", NULL), -1);
    /* The escaped form stats and policy print is taken back. */
    assert_int_equal(parse_args(&o, err, NULL, "set", "caf\\xc3\\xa9.test:80", "reject",
                                NULL), 0);
    assert_string_equal(o.vhost, "caf\xc3\xa9.test:80");
    assert_int_equal(parse_args(&o, err, NULL, "stats", "a\\\\b:80", NULL), 0);
    assert_string_equal(o.vhost, "a\\b:80");
    /* Raw bytes as typed stay as typed. */
    assert_int_equal(parse_args(&o, err, NULL, "stats", "caf\xc3\xa9.test", NULL), 0);
    assert_string_equal(o.vhost, "caf\xc3\xa9.test");
    assert_int_equal(parse_args(&o, err, NULL, "stats", "bad\\q", NULL), -1);
    assert_non_null(strstr(err, "escapes"));
    assert_int_equal(parse_args(&o, err, NULL, "stats", "nul\\x00", NULL), -1);
}

static void from_forms(void **state)
{
    ctl_opts_t o;
    char err[256];
    (void)state;
    assert_int_equal(parse_args(&o, err, NULL, "events", "--summary", "--from", "a.log",
                                "b.log.gz", "-", "--json", NULL), 0);
    assert_int_equal(o.nfrom, 3);
    assert_string_equal(o.from[0], "a.log");
    assert_string_equal(o.from[2], "-");
    assert_int_equal(o.format, CTL_FMT_JSON);
    assert_true(o.summary);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--summary", "--by", "server",
                                "--from", "a", NULL), 0);
    assert_true(o.by_server);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--from", "a", "-n", "5", NULL), 0);
    assert_int_equal(o.count, 5);
    /* Refused: no file, twice, with a segment, following, -n with
     * --summary, --by without --from or --summary, another verb. */
    assert_int_equal(parse_args(&o, err, NULL, "events", "--from", NULL), -1);
    assert_non_null(strstr(err, "files"));
    assert_int_equal(parse_args(&o, err, NULL, "events", "--from", "--json", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--from", "a", "--from", "b", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "-s", "/x", "events", "--from", "a", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "-i", "two", "events", "--from", "a", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "events", "-f", "--from", "a", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--summary", "-n", "3", "--from", "a",
                                NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--summary", "--by", "server", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--by", "server", "--from", "a", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--summary", "--by", "vhost",
                                "--from", "a", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "stats", "--from", "a", NULL), -1);
    assert_non_null(strstr(err, "events"));
    assert_int_equal(parse_args(&o, err, NULL, "policy", "--since", "1d", NULL), -1);
}

static void since_forms(void **state)
{
    ctl_opts_t o;
    char err[256];
    static const char *const bad[] = {"", "7", "d", "7x", "-7d", "0d", "99999999d", "7dd",
                                      "2026-13-01", "2026-02-29", "2026-04-31", "1969-12-31",
                                      "2026-05-01T24:00", "2026-05-01T08:60", "2026-05-01T08", "2026-05-01T",
                                      "2026-05-01T08:00:", "2026-05-01T08:00:0",
                                      "2026-05-01T08:00:00+02:00", "2026/05/01", "yesterday"};
    size_t i;
    (void)state;
    assert_int_equal(parse_args(&o, err, NULL, "events", "--since", "7d", NULL), 0);
    assert_true(o.since_ago_usec == 7ull * 86400 * 1000000);
    assert_true(o.since_usec == 0);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--since", "2w", NULL), 0);
    assert_true(o.since_ago_usec == 14ull * 86400 * 1000000);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--since", "90m", NULL), 0);
    assert_true(o.since_ago_usec == 5400ull * 1000000);
    /* UTC, as events prints times (date -u -d 2026-05-01 +%s: 1777593600). */
    assert_int_equal(parse_args(&o, err, NULL, "events", "--since", "2026-05-01", NULL), 0);
    assert_true(o.since_usec == 1777593600ull * 1000000);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--since", "2026-05-01T08:00:00Z",
                                NULL), 0);
    assert_true(o.since_usec == (1777593600ull + 8 * 3600) * 1000000);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--since", "2024-02-29T23:59:59.123Z",
                                NULL), 0);
    assert_true(o.since_usec == 1709251199ull * 1000000);
    assert_int_equal(parse_args(&o, err, NULL, "events", "--since", "1970-01-01T00:01", NULL), 0);
    assert_true(o.since_usec == 60ull * 1000000);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_args(&o, err, NULL, "events", "--since", bad[i], NULL) != -1) {
            fail_msg("--since %s was accepted", bad[i]);
        }
        assert_non_null(strstr(err, "--since"));
    }
}

static void top_forms(void **state)
{
    ctl_opts_t o;
    char err[256];
    (void)state;
    assert_int_equal(parse_args(&o, err, NULL, "top", NULL), 0);
    assert_int_equal(o.verb, CTL_VERB_TOP);
    assert_int_equal(o.delay_ms, CTL_TOP_DELAY_MS);
    assert_false(o.once);
    assert_null(o.pattern);
    assert_null(o.vhost);
    assert_int_equal(parse_args(&o, err, NULL, "top", "-d", "0.5", "--once", "uploads", NULL), 0);
    assert_int_equal(o.delay_ms, 500);
    assert_true(o.once);
    /* A part of names, not a VHOST: nothing narrows stats' walk. */
    assert_string_equal(o.pattern, "uploads");
    assert_null(o.vhost);
    assert_int_equal(parse_args(&o, err, NULL, "-s", "/x.shm", "top", "-d", "3600", NULL), 0);
    assert_int_equal(o.delay_ms, 3600000);
    assert_int_equal(parse_args(&o, err, NULL, "top", "-d", "0.1", NULL), 0);
    assert_int_equal(o.delay_ms, 100);
    assert_int_equal(parse_args(&o, err, NULL, "top", "-d", "0.05", NULL), -1);
    assert_non_null(strstr(err, "-d needs seconds from 0.1 to 3600"));
    assert_int_equal(parse_args(&o, err, NULL, "top", "-d", "3601", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "top", "-d", "1s", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "top", "-d", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "top", "--json", NULL), -1);
    assert_non_null(strstr(err, "top takes"));
    assert_int_equal(parse_args(&o, err, NULL, "top", "-n", "3", NULL), -1);
    assert_int_equal(parse_args(&o, err, NULL, "top", "a", "b", NULL), -1);
    assert_non_null(strstr(err, "too many arguments"));
    assert_int_equal(parse_args(&o, err, NULL, "events", "--once", NULL), -1);
    assert_non_null(strstr(err, "option is for top"));
    assert_int_equal(parse_args(&o, err, NULL, "stats", "-d", "1", NULL), -1);
    assert_non_null(strstr(err, "option is for top"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stats_forms),
        cmocka_unit_test(env_and_flag_precedence),
        cmocka_unit_test(instance_forms),
        cmocka_unit_test(events_forms),
        cmocka_unit_test(set_forms),
        cmocka_unit_test(misc_forms),
        cmocka_unit_test(probe_forms),
        cmocka_unit_test(probe_errors),
        cmocka_unit_test(probe_hop_options),
        cmocka_unit_test(clients_forms),
        cmocka_unit_test(top_forms),
        cmocka_unit_test(time_format),
        cmocka_unit_test(vhost_after_dashdash_and_escaped),
        cmocka_unit_test(from_forms),
        cmocka_unit_test(since_forms),
    };
    return cmocka_run_group_tests_name("expectctl_args", tests, NULL, NULL);
}
