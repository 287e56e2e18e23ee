/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_clients.c - the client table (expect_clients.c): every family is
 * found from a real User-Agent of that client, the order of the entries,
 * unknown and missing User-Agents, which 417s get a client's fix, and the
 * fix text itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "expect_clients.h"
#include "expect_shm.h"

/* User-Agents as the clients send them (the versions measured in
 * docs/CLIENTS.md where there are some), each with its family's key. */
static const struct {
    const char *ua;
    const char *key;
} real_uas[] = {
    {"curl/7.88.1", "curl"},
    {"curl/8.5.0", "curl"},
    {"PycURL/7.45.2 libcurl/7.88.1 OpenSSL/3.0.11 zlib/1.2.13 brotli/1.0.9", "libcurl"},
    {"GuzzleHttp/6.5.5 curl/7.88.1 PHP/8.2.36", "guzzle"},
    {"GuzzleHttp/7", "guzzle"},
    {"Uploader/2.0 PHP/8.2.36", "php-curl"},
    {"Java-http-client/17.0.15", "java-httpclient"},
    {"Java-http-client/11.0.22", "java-httpclient"},
    {"Java/17.0.15", "java-urlconnection"},
    {"Java/1.8.0_392", "java-urlconnection"},
    {"Go-http-client/1.1", "go"},
    {"Go-http-client/2.0", "go"},
    {"python-requests/2.28.1", "python-requests"},
    {"python-urllib3/1.26.12", "urllib3"},
    {"Python-urllib/3.11", "python-urllib"},
    {"Botocore/1.29.72 Python/3.11.2 Linux/6.1.0-18-amd64", "botocore"},
    {"Botocore/1.29.27 Python/3.11.2 Linux/6.1.0", "botocore"},
    {"Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 os/linux#6.1.0 md/arch#x86_64 "
     "lang/python#3.11.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.43.11", "boto3"},
    {"Boto3/1.26.0 Python/3.11.2 Linux/6.1.0 Botocore/1.29.0", "boto3"},
    {"aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0 exe/x86_64.debian.12 prompt/off "
     "command/s3.cp", "aws-cli"},
    {"aws-cli/1.45.11 md/Botocore#1.43.11 ua/2.1 os/linux#6.1.0 md/arch#x86_64 "
     "lang/python#3.11.7 md/pyimpl#CPython cfg/retry-mode#legacy botocore/1.43.11", "aws-cli"},
    {"Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3570",
     "powershell"},
    {"Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.19045; en-US) PowerShell/7.4.0",
     "powershell"},
    {"node", "node-fetch-builtin"},
    {"undici", "undici"},
    {"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "node-fetch"},
    {"node-fetch", "node-fetch"},
    {"axios/1.6.8", "axios"},
    {"Ruby", "ruby"},
    {"libwww-perl/6.68", "libwww-perl"},
    {"MyCrawler/0.3 libwww-perl/6.68", "libwww-perl"},
    {"git/2.39.5", "git"},
    {"git/2.43.0.windows.1", "git"},
    {"Wget/1.21.3", "wget"},
};

static void test_real_user_agents(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(real_uas) / sizeof(real_uas[0]); i++) {
        const expect_client_t *c = expect_client_match(real_uas[i].ua);

        if (c == NULL) {
            fail_msg("no entry for \"%s\"", real_uas[i].ua);
        }
        if (strcmp(c->key, real_uas[i].key) != 0) {
            fail_msg("\"%s\" is %s, not %s", real_uas[i].ua, c->key, real_uas[i].key);
        }
    }
}

/* Every entry that can match is found by some User-Agent above: a family
 * added to the table comes with a real User-Agent in this test. */
static void test_every_family_covered(void **state)
{
    size_t i, j;
    const expect_client_t *c;

    (void)state;
    for (i = 0; (c = expect_client_at(i)) != NULL; i++) {
        int seen = 0;

        if (c->match == EXPECT_CLIENT_MATCH_NONE) {
            continue;
        }
        for (j = 0; j < sizeof(real_uas) / sizeof(real_uas[0]); j++) {
            seen |= strcmp(real_uas[j].key, c->key) == 0;
        }
        if (!seen) {
            fail_msg("no real User-Agent in the test for %s", c->key);
        }
    }
}

/* A User-Agent that names several clients is the most specific one. */
static void test_order(void **state)
{
    const char *aws = "aws-cli/1.45.11 md/Botocore#1.43.11 botocore/1.43.11";
    const expect_client_t *a = expect_client_match(aws), *b = NULL, *c;
    size_t i, ia = 0, ib = 0, ij = 0, iu = 0;

    (void)state;
    assert_non_null(a);
    assert_string_equal(a->key, "aws-cli");
    /* The botocore entry alone would match it too. */
    for (i = 0; (c = expect_client_at(i)) != NULL; i++) {
        if (strcmp(c->key, "botocore") == 0) {
            b = c;
            ib = i;
        }
        if (strcmp(c->key, "aws-cli") == 0) {
            ia = i;
        }
        if (strcmp(c->key, "java-httpclient") == 0) {
            ij = i;
        }
        if (strcmp(c->key, "java-urlconnection") == 0) {
            iu = i;
        }
    }
    assert_non_null(b);
    /* What follows "aws-cli/1.45.11 " is botocore's alone. */
    assert_ptr_equal(expect_client_match(aws + strlen("aws-cli/1.45.11 ")), b);
    assert_true(ia < ib);
    assert_true(ij < iu);
    /* The Java HttpClient's User-Agent does not start with "Java/". */
    assert_string_equal(expect_client_match("Java-http-client/17.0.15")->key, "java-httpclient");
    assert_string_equal(expect_client_match("Boto3/1.26.0 Botocore/1.29.0")->key, "boto3");
    assert_string_equal(expect_client_match("GuzzleHttp/6.5.5 curl/7.88.1 PHP/8.2")->key,
                        "guzzle");
    assert_string_equal(expect_client_match("X/1 curl/7.88.1 PHP/8.2")->key, "php-curl");
    /* python-urllib3 is not Python-urllib. */
    assert_string_equal(expect_client_match("python-urllib3/2.0.7")->key, "urllib3");
}

static void test_case_and_rules(void **state)
{
    (void)state;
    assert_string_equal(expect_client_match("CURL/8.0")->key, "curl");
    assert_string_equal(expect_client_match("java-HTTP-client/21")->key, "java-httpclient");
    assert_string_equal(expect_client_match("x botocore/1.0")->key, "botocore");
    /* prefix rules do not match in the middle */
    assert_null(expect_client_match("Mozilla/5.0 Wget/1.21.3"));
    /* but anything that names curl/ is libcurl underneath */
    assert_string_equal(expect_client_match("my-curl/1.0 x")->key, "libcurl");
    assert_null(expect_client_match("NotJava/17"));
    assert_null(expect_client_match("Mozilla/5.0 git/2.39"));
    /* exact: "node" alone, nothing longer */
    assert_string_equal(expect_client_match("NODE")->key, "node-fetch-builtin");
    assert_null(expect_client_match("nodejs/20"));
    assert_null(expect_client_match("node "));
}

static void test_unknown_and_missing(void **state)
{
    (void)state;
    assert_null(expect_client_match(NULL));
    assert_null(expect_client_match(""));
    assert_null(expect_client_match("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
                                    "Firefox/128.0"));
    assert_null(expect_client_match("okhttp/4.12.0"));
    assert_null(expect_client_match("Apache-HttpClient/4.5.14 (Java/17.0.15)"));
    assert_null(expect_client_match("expectctl-probe/0.1.0"));
    assert_null(expect_client_match("stats-test"));
    assert_null(expect_client_match("c"));
}

static int has_bad_char(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c >= 0x7f || c == '"') {
            return 1;
        }
    }
    return 0;
}

#define FIELD_OK(c, f)                                                          \
    do {                                                                        \
        if ((c)->f == NULL || (c)->f[0] == '\0' || has_bad_char((c)->f)) {      \
            fail_msg("%s: field " #f " is empty or holds a quote or control", (c)->key); \
        }                                                                       \
    } while (0)

static void test_entries_complete(void **state)
{
    const expect_client_t *c, *d;
    size_t i, j, n = expect_client_count();
    int hangs = 0, none = 0;

    (void)state;
    assert_true(n >= 20);
    assert_null(expect_client_at(n));
    for (i = 0; (c = expect_client_at(i)) != NULL; i++) {
        assert_non_null(c->key);
        FIELD_OK(c, key);
        FIELD_OK(c, family);
        FIELD_OK(c, example_ua);
        FIELD_OK(c, sends_expect);
        FIELD_OK(c, on_417);
        FIELD_OK(c, client_fix);
        FIELD_OK(c, policy_note);
        assert_non_null(c->pattern);
        assert_false(has_bad_char(c->pattern));
        if (c->match == EXPECT_CLIENT_MATCH_NONE) {
            assert_string_equal(c->pattern, "");
            none++;
        }
        else {
            assert_true(c->match == EXPECT_CLIENT_MATCH_PREFIX
                        || c->match == EXPECT_CLIENT_MATCH_SUBSTRING
                        || c->match == EXPECT_CLIENT_MATCH_EXACT);
            assert_true(strlen(c->pattern) >= 4);
            /* Its own example finds it, and no earlier entry shadows it. */
            d = expect_client_match(c->example_ua);
            if (d != c) {
                fail_msg("%s: its example \"%s\" is matched by %s", c->key, c->example_ua,
                         d ? d->key : "nothing");
            }
        }
        hangs += (c->flags & EXPECT_CLIENT_HANGS) != 0;
        assert_true((c->flags & ~0xfu) == 0);
        for (j = 0; j < i; j++) {
            assert_string_not_equal(expect_client_at(j)->key, c->key);
        }
    }
    assert_int_equal(hangs, 1);    /* Java's HttpClient */
    assert_int_equal(none, 3);     /* http.client, .NET, Node's http send no User-Agent */
}

static void test_for_event(void **state)
{
    const char *java = "Java-http-client/17.0.15";
    const expect_client_t *c;

    (void)state;
    c = expect_client_for_event(EXPECT_PRODUCER_MOD_EXPECT, EXPECT_REASON_POLICY,
                                "100-continue", java);
    assert_non_null(c);
    assert_string_equal(c->key, "java-httpclient");
    /* Java sends 100-Continue; case and surrounding blanks do not matter */
    assert_ptr_equal(expect_client_for_event(EXPECT_PRODUCER_MOD_EXPECT, EXPECT_REASON_POLICY,
                                             " 100-Continue ", java), c);
    assert_ptr_equal(expect_client_for_event(EXPECT_PRODUCER_MOD_EXPECT,
                                             EXPECT_REASON_STRICT_BODYLESS,
                                             "100-continue", java), c);
    assert_ptr_equal(expect_client_for_event(EXPECT_PRODUCER_HANDLER, EXPECT_REASON_HANDLER,
                                             "100-continue", java), c);
    assert_ptr_equal(expect_client_for_event(EXPECT_PRODUCER_BACKEND, EXPECT_REASON_BACKEND,
                                             "100-continue", java), c);
    /* core's unknown expectation keeps its own fix */
    assert_null(expect_client_for_event(EXPECT_PRODUCER_CORE, EXPECT_REASON_CORE_UNKNOWN,
                                        "100-continue, foo", java));
    assert_null(expect_client_for_event(EXPECT_PRODUCER_CORE, EXPECT_REASON_CORE_UNKNOWN,
                                        "100-continue", java));
    /* a 417 to a request without 100-continue is not about Expect */
    assert_null(expect_client_for_event(EXPECT_PRODUCER_HANDLER, EXPECT_REASON_HANDLER, "", java));
    assert_null(expect_client_for_event(EXPECT_PRODUCER_HANDLER, EXPECT_REASON_HANDLER, NULL,
                                        java));
    assert_null(expect_client_for_event(EXPECT_PRODUCER_BACKEND, EXPECT_REASON_BACKEND,
                                        "x-custom", java));
    assert_null(expect_client_for_event(EXPECT_PRODUCER_MOD_EXPECT, EXPECT_REASON_NONE,
                                        "100-continue", java));
    assert_null(expect_client_for_event(EXPECT_PRODUCER_MOD_EXPECT, 99, "100-continue", java));
    /* an unknown or absent User-Agent gets the generic fix */
    assert_null(expect_client_for_event(EXPECT_PRODUCER_MOD_EXPECT, EXPECT_REASON_POLICY,
                                        "100-continue", "stats-test"));
    assert_null(expect_client_for_event(EXPECT_PRODUCER_MOD_EXPECT, EXPECT_REASON_POLICY,
                                        "100-continue", ""));
}

static void test_condition(void **state)
{
    char buf[128];
    size_t n;

    (void)state;
    n = expect_client_condition(buf, sizeof(buf), expect_client_match("Java-http-client/17"));
    assert_string_equal(buf, "%{HTTP_USER_AGENT} =~ m#^Java-http-client/#i");
    assert_int_equal(n, strlen(buf));
    expect_client_condition(buf, sizeof(buf), expect_client_match("x Botocore/1"));
    assert_string_equal(buf, "%{HTTP_USER_AGENT} =~ m#Botocore/#i");
    expect_client_condition(buf, sizeof(buf), expect_client_match("node"));
    assert_string_equal(buf, "%{HTTP_USER_AGENT} =~ m#^node$#i");
    /* measuring, and truncation that stays NUL-terminated */
    assert_int_equal(expect_client_condition(NULL, 0, expect_client_match("curl/8")),
                     strlen("%{HTTP_USER_AGENT} =~ m#^curl/#i"));
    assert_int_equal(expect_client_condition(buf, 5, expect_client_match("curl/8")),
                     strlen("%{HTTP_USER_AGENT} =~ m#^curl/#i"));
    assert_string_equal(buf, "%{HT");
    assert_int_equal(expect_client_condition(buf, sizeof(buf), NULL), 0);
    assert_string_equal(buf, "");
}

static void test_fix_text(void **state)
{
    char buf[2048], small[16];
    expect_client_facts_t java_f, curl_f, f;
    const expect_client_facts_t *java = &java_f, *curl = &curl_f;
    const expect_client_t *c;
    size_t i, n;

    (void)state;
    expect_client_resolve(expect_client_match("Java-http-client/17.0.15"),
                          "Java-http-client/17.0.15", &java_f);
    expect_client_resolve(expect_client_match("curl/7.88.1"), "curl/7.88.1", &curl_f);
    n = expect_client_fix(buf, sizeof(buf), java, EXPECT_REASON_POLICY);
    assert_int_equal(n, strlen(buf));
    assert_true(n < sizeof(buf));
    assert_non_null(strstr(buf, "ExpectPolicy reject"));
    assert_non_null(strstr(buf, "Java HttpClient"));
    assert_non_null(strstr(buf, "known to hang"));
    assert_non_null(strstr(buf, "expectContinue(false)"));
    assert_non_null(strstr(buf, "JDK-8286171"));
    assert_non_null(strstr(buf, "Java HttpClient (java.net.http) 17.0.15 is known to hang"));
    assert_non_null(strstr(buf, "as in every version before 17.0.17 (fixed by JDK-8364017"));
    assert_non_null(strstr(buf, "ExpectPolicy continue for it, in <If '%{HTTP_USER_AGENT} =~ "
                                "m#^Java-http-client/#i'>"));

    expect_client_fix(buf, sizeof(buf), curl, EXPECT_REASON_POLICY);
    assert_non_null(strstr(buf, "known to lose the upload"));
    assert_null(strstr(buf, "hang"));
    assert_non_null(strstr(buf, "-H 'Expect:'"));

    /* the server side follows the reason */
    expect_client_fix(buf, sizeof(buf), curl, EXPECT_REASON_STRICT_BODYLESS);
    assert_non_null(strstr(buf, "ExpectStrict On"));
    assert_non_null(strstr(buf, "ExpectStrict Off for it"));
    expect_client_fix(buf, sizeof(buf), curl, EXPECT_REASON_BACKEND);
    assert_non_null(strstr(buf, "Proxy100Continue Off"));
    expect_client_fix(buf, sizeof(buf), curl, EXPECT_REASON_HANDLER);
    assert_non_null(strstr(buf, "check it"));
    assert_null(strstr(buf, "ExpectPolicy continue"));
    expect_client_server_fix(buf, sizeof(buf), curl, EXPECT_REASON_POLICY);
    assert_string_equal(buf, "ExpectPolicy continue for it, in <If '%{HTTP_USER_AGENT} =~ "
                             "m#^curl/#i'> (ignore costs it 1 s per upload)");

    /* every entry, every reason: one clean line, measured as written */
    for (i = 0; (c = expect_client_at(i)) != NULL; i++) {
        uint32_t r;

        for (r = 0; r < EXPECT_REASON_COUNT + 1; r++) {
            /* with no version, which is UNVERIFIED for an entry with
             * ranges, and with its example's */
            expect_client_resolve(c, NULL, &f);
            n = expect_client_fix(buf, sizeof(buf), &f, r);
            assert_true(n > 0 && n < sizeof(buf));
            assert_int_equal(n, strlen(buf));
            assert_int_equal(expect_client_fix(NULL, 0, &f, r), n);
            assert_false(has_bad_char(buf));
            assert_non_null(strstr(buf, c->client_fix));
            expect_client_resolve(c, c->example_ua, &f);
            n = expect_client_fix(buf, sizeof(buf), &f, r);
            assert_true(n > 0 && n < sizeof(buf));
            assert_false(has_bad_char(buf));
        }
    }
    /* truncation */
    n = expect_client_fix(small, sizeof(small), java, EXPECT_REASON_POLICY);
    assert_true(n > sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(expect_client_fix(buf, sizeof(buf), NULL, EXPECT_REASON_POLICY), 0);
    assert_string_equal(buf, "");
}

static void test_version_cmp(void **state)
{
    (void)state;
    /* numerically, not as text */
    assert_true(expect_client_version_cmp("17.0.9", "17.0.17") < 0);
    assert_true(expect_client_version_cmp("17.0.17", "17.0.9") > 0);
    assert_int_equal(expect_client_version_cmp("17.0.17", "17.0.17"), 0);
    assert_true(expect_client_version_cmp("17.0.16", "17.0.17") < 0);
    assert_true(expect_client_version_cmp("17.1", "17.0.17") > 0);
    /* a missing component is 0 */
    assert_int_equal(expect_client_version_cmp("17", "17.0.0"), 0);
    assert_true(expect_client_version_cmp("17", "17.0.1") < 0);
    /* what follows the digits and dots is ignored */
    assert_int_equal(expect_client_version_cmp("17.0.17+10", "17.0.17"), 0);
    assert_int_equal(expect_client_version_cmp("1.8.0_392", "1.8.0"), 0);
    assert_true(expect_client_version_cmp("17.0.15-ea", "17.0.17") < 0);
    /* no version sorts first, and huge components saturate */
    assert_true(expect_client_version_cmp("", "1") < 0);
    assert_int_equal(expect_client_version_cmp("", "x"), 0);
    assert_true(expect_client_version_cmp("99999999999999999999", "17") > 0);

    assert_true(expect_client_version_in_line("17.0.15", "17"));
    assert_true(expect_client_version_in_line("17", "17"));
    assert_false(expect_client_version_in_line("170.0.1", "17"));
    assert_false(expect_client_version_in_line("1.7", "17"));
    assert_false(expect_client_version_in_line("21.0.2", "17"));
    assert_true(expect_client_version_in_line("11.0.22", "11.0"));
    assert_false(expect_client_version_in_line("11.1", "11.0"));
    assert_false(expect_client_version_in_line("", "17"));
    assert_false(expect_client_version_in_line("x17", "17"));
    assert_false(expect_client_version_in_line(NULL, "17"));
}

/* The version a User-Agent names decides which facts hold. */
static void test_resolve(void **state)
{
    static const struct {
        const char *ua;
        expect_client_range_t range;
        const char *version;
        int hangs;
    } cases[] = {
        {"Java-http-client/17.0.15", EXPECT_CLIENT_RANGE_BEFORE, "17.0.15", 1},
        {"Java-http-client/17.0.9", EXPECT_CLIENT_RANGE_BEFORE, "17.0.9", 1},
        {"Java-http-client/17.0.16", EXPECT_CLIENT_RANGE_BEFORE, "17.0.16", 1},
        {"Java-http-client/17.0.17", EXPECT_CLIENT_RANGE_FIXED, "17.0.17", 0},
        {"java-http-client/17.0.19", EXPECT_CLIENT_RANGE_FIXED, "17.0.19", 0},
        {"Java-http-client/17.0.21+7-Debian", EXPECT_CLIENT_RANGE_FIXED,
         "17.0.21+7-Debian", 0},
        {"Java-http-client/17.1", EXPECT_CLIENT_RANGE_FIXED, "17.1", 0},
        /* lines the entry says nothing about: never claimed */
        {"Java-http-client/21.0.2", EXPECT_CLIENT_RANGE_UNVERIFIED, "21.0.2", 0},
        {"Java-http-client/11.0.22", EXPECT_CLIENT_RANGE_UNVERIFIED, "11.0.22", 0},
        {"Java-http-client/", EXPECT_CLIENT_RANGE_UNVERIFIED, "", 0},
        {"Java-http-client/beta", EXPECT_CLIENT_RANGE_UNVERIFIED, "beta", 0},
    };
    expect_client_facts_t f;
    char buf[2048];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const expect_client_t *c = expect_client_match(cases[i].ua);

        assert_non_null(c);
        assert_string_equal(c->key, "java-httpclient");
        expect_client_resolve(c, cases[i].ua, &f);
        if (f.range != cases[i].range) {
            fail_msg("%s: range %d, not %d", cases[i].ua, (int)f.range, (int)cases[i].range);
        }
        assert_string_equal(f.version, cases[i].version);
        assert_int_equal(!!(f.flags & EXPECT_CLIENT_HANGS), cases[i].hangs);
        expect_client_fix(buf, sizeof(buf), &f, EXPECT_REASON_POLICY);
        if (cases[i].range == EXPECT_CLIENT_RANGE_UNVERIFIED) {
            assert_null(f.on_417);
            assert_int_equal(f.flags, 0);
            assert_non_null(strstr(buf, ": what a 417 does to this version is not verified "
                                        "(known for 17.x only: before 17.0.17 it is known to "
                                        "hang"));
            /* nothing is claimed for this version itself */
            assert_null(strstr(buf, ") is known"));
            if (cases[i].version[0] != '\0') {
                char want[96];

                snprintf(want, sizeof(want), "%s: what a 417 does", cases[i].version);
                assert_non_null(strstr(buf, want));
            }
            else {
                assert_non_null(strstr(buf, "(no version in its User-Agent): what a 417"));
            }
        }
        else {
            assert_non_null(f.release);
            assert_string_equal(f.release->fixed_in, "17.0.17");
            assert_true((f.flags & EXPECT_CLIENT_LOSES_UPLOAD) != 0);
            assert_int_equal(strstr(buf, "known to hang") != NULL, cases[i].hangs);
            assert_null(strstr(buf, "not verified"));
        }
    }
    /* the labels */
    expect_client_resolve(expect_client_match("Java-http-client/17.0.15"),
                          "Java-http-client/17.0.15", &f);
    expect_client_range_label(buf, sizeof(buf), &f);
    assert_string_equal(buf, "before 17.0.17");
    expect_client_resolve(expect_client_match("Java-http-client/17.0.19"),
                          "Java-http-client/17.0.19", &f);
    expect_client_range_label(buf, sizeof(buf), &f);
    assert_string_equal(buf, "17.0.17 and later");
    expect_client_fix(buf, sizeof(buf), &f, EXPECT_REASON_POLICY);
    assert_non_null(strstr(buf, "17.0.19 is known to lose the upload on a 417: the 417 is "
                                "returned"));
    assert_null(strstr(buf, "never completes"));
    expect_client_resolve(expect_client_match("Java-http-client/21"), "Java-http-client/21", &f);
    expect_client_range_label(buf, sizeof(buf), &f);
    assert_string_equal(buf, "version not verified");
    /* an entry without ranges: its facts for every version, no label */
    expect_client_resolve(expect_client_match("curl/8.5.0"), "curl/8.5.0", &f);
    assert_int_equal(f.range, EXPECT_CLIENT_RANGE_ALL);
    assert_null(expect_client_versions(f.client));
    assert_int_equal(expect_client_range_label(buf, sizeof(buf), &f), 0);
    assert_string_equal(f.version, "");
    assert_ptr_equal(f.on_417, f.client->on_417);
    /* NULL */
    expect_client_resolve(NULL, "curl/8", &f);
    assert_null(f.client);
    assert_int_equal(expect_client_range_label(buf, sizeof(buf), &f), 0);
}

/* Every entry with ranges belongs to an entry, and each of its lines has a
 * fix. */
static void test_versions_complete(void **state)
{
    const expect_client_t *c;
    const expect_client_versions_t *v;
    const expect_client_release_t *r;
    size_t i, with = 0;

    (void)state;
    for (i = 0; (c = expect_client_at(i)) != NULL; i++) {
        v = expect_client_versions(c);
        if (v == NULL) {
            continue;
        }
        with++;
        assert_non_null(v->version_after);
        assert_non_null(v->fixed);
        assert_non_null(v->fixed->line);
        for (r = v->fixed; r->line != NULL; r++) {
            assert_true(expect_client_version_in_line(r->fixed_in, r->line));
            assert_true(strlen(r->by) > 0);
        }
        assert_true(strlen(v->fixed_on_417) > 0 && strlen(v->measured) > 0);
        assert_true(strlen(v->fixed_policy_note) > 0 && strlen(v->unverified_note) > 0);
        /* the measured version is one the entry's own facts hold for */
        {
            char ua[96];
            expect_client_facts_t f;

            snprintf(ua, sizeof(ua), "%s%s", v->version_after, v->measured);
            expect_client_resolve(c, ua, &f);
            assert_int_equal(f.range, EXPECT_CLIENT_RANGE_BEFORE);
        }
    }
    assert_true(with >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_user_agents),
        cmocka_unit_test(test_every_family_covered),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_case_and_rules),
        cmocka_unit_test(test_unknown_and_missing),
        cmocka_unit_test(test_entries_complete),
        cmocka_unit_test(test_for_event),
        cmocka_unit_test(test_condition),
        cmocka_unit_test(test_fix_text),
        cmocka_unit_test(test_version_cmp),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_versions_complete),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
