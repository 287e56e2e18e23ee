/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_clients.c - the client table: what known HTTP clients do with
 * Expect: 100-continue and with a 417, by User-Agent, and the fix for each.
 *
 * The first section is the data; edit it there.  Entries marked MEASURED
 * say what tests/integration/test_clients.py measured (docs/CLIENTS.md);
 * the others give the client's documented behaviour.  Order matters: the
 * first entry that matches wins, so a User-Agent that names two clients
 * ("aws-cli/... botocore/...", "GuzzleHttp/6 curl/7 PHP/8") must meet the
 * more specific one first.  No string may hold a double quote: the fix is
 * printed outside the quoted fields of an `expectctl events` line.
 */
#include <stdio.h>
#include <string.h>

#include "expect_clients.h"
#include "expect_policy.h"
#include "expect_shm_layout.h"

#define M EXPECT_CLIENT_MEASURED
#define HANGS EXPECT_CLIENT_HANGS
#define LOSES EXPECT_CLIENT_LOSES_UPLOAD
#define BODY EXPECT_CLIENT_SENDS_BODY

/* ---- the data ---------------------------------------------------------- */

static const expect_client_t clients[] = {
    /* AWS: aws-cli and Boto3 name botocore too, so they come first. */
    {"aws-cli", "AWS CLI (aws-cli, on botocore)",
     EXPECT_CLIENT_MATCH_PREFIX, "aws-cli/",
     "aws-cli/1.45.11 md/Botocore#1.43.11 ua/2.1 os/linux#6.1.0 md/arch#x86_64 "
     "lang/python#3.11.7 md/pyimpl#CPython cfg/retry-mode#legacy botocore/1.43.11",
     "by itself on every S3 upload (botocore's add_expect_header); waits 1 s for the 100",
     "417 before the body, reported as An error occurred (417) when calling the "
     "PutObject operation: Expectation Failed (botocore's ClientError: mod_expect's "
     "417 page is not XML, so botocore gives the status as the code), no retry",
     LOSES,
     "none: aws-cli has no setting for it (upload with boto3 and the handler "
     "unregistered, or fix the server)",
     "ignore costs it 1 s per upload"},
    {"boto3", "Boto3 (on botocore)",
     EXPECT_CLIENT_MATCH_SUBSTRING, "Boto3/",
     "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 os/linux#6.1.0 md/arch#x86_64 "
     "lang/python#3.11.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.43.11",
     "by itself on every S3 PUT and POST with a body (botocore's add_expect_header); "
     "waits 1 s for the 100",
     "417 before the body, raised as ClientError: An error occurred (417) when "
     "calling the PutObject operation: Expectation Failed (mod_expect's 417 page is "
     "not XML, so botocore gives the status as the code; measured with botocore "
     "1.29.27), no retry",
     LOSES,
     "s3.meta.events.unregister('before-call.s3', botocore.handlers.add_expect_header)",
     "ignore costs it 1 s per upload"},
    {"botocore", "botocore",
     EXPECT_CLIENT_MATCH_SUBSTRING, "Botocore/",
     "Botocore/1.29.27 Python/3.11.2 Linux/6.1.0",
     "by itself on every S3 PUT and POST with a body (add_expect_header); waits 1 s "
     "for the 100",
     "417 before the body, raised as ClientError: An error occurred (417) when "
     "calling the PutObject operation: Expectation Failed (mod_expect's 417 page is "
     "not XML, so botocore gives the status as the code; measured with botocore "
     "1.29.27), no retry",
     M | LOSES,
     "client.meta.events.unregister('before-call.s3', "
     "botocore.handlers.add_expect_header)",
     "ignore costs it 1 s per upload"},

    /* PHP and libcurl: Guzzle 6 and PHP applications name curl too. */
    {"guzzle", "Guzzle (PHP)",
     EXPECT_CLIENT_MATCH_SUBSTRING, "GuzzleHttp/",
     "GuzzleHttp/6.5.5 curl/7.88.1 PHP/8.2.36",
     "by itself on a body over 1 MB or of unknown size (its expect option); libcurl "
     "waits 1 s for the 100",
     "417 before the body, thrown as ClientException (http_errors on), no retry",
     LOSES,
     "the request option 'expect' => false",
     "ignore costs it 1 s per upload"},
    {"php-curl", "PHP cURL extension (libcurl)",
     EXPECT_CLIENT_MATCH_SUBSTRING, "PHP/",
     "MyApp/1.0 PHP/8.2.36",
     "libcurl adds it by itself to a CURLOPT_POSTFIELDS body over 1 MB; waits 1 s "
     "for the 100 (PHP cURL sends no User-Agent by default: matched only when the "
     "application names PHP/ in its own)",
     "417 before the body, returned to the application, no retry: curl_exec() does not "
     "fail, so unless the code checks CURLINFO_HTTP_CODE the upload is lost silently",
     M | LOSES,
     "curl_setopt($ch, CURLOPT_HTTPHEADER, ['Expect:'])",
     "ignore costs it 1 s per upload"},
    {"curl", "curl",
     EXPECT_CLIENT_MATCH_PREFIX, "curl/",
     "curl/7.88.1",
     "by itself on a body over 1 MB; waits 1 s for the 100 (--expect100-timeout)",
     "417 before the body, no retry, and exit status 0 unless -f is given: a script "
     "sees success",
     M | LOSES,
     "-H 'Expect:' (--expect100-timeout 0.2 only shortens the wait)",
     "ignore costs it 1 s per upload"},
    {"libcurl", "libcurl bindings that name it (PycURL, R curl, ...)",
     EXPECT_CLIENT_MATCH_SUBSTRING, "curl/",
     "PycURL/7.45.2 libcurl/7.88.1 OpenSSL/3.0.11 zlib/1.2.13",
     "libcurl adds it by itself to a body over 1 MB; waits 1 s for the 100",
     "417 before the body, returned as the response, no retry",
     LOSES,
     "an empty Expect: in CURLOPT_HTTPHEADER, in the binding's syntax",
     "ignore costs it 1 s per upload"},

    /* Java: the HttpClient's User-Agent starts with Java too. */
    {"java-httpclient", "Java HttpClient (java.net.http)",
     EXPECT_CLIENT_MATCH_PREFIX, "Java-http-client/",
     "Java-http-client/17.0.15",
     "only with HttpRequest.Builder.expectContinue(true); 17.0.15 has no fallback "
     "timer (JDK-8324209): without a 100 it waits for ever",
     "the 417 arrives and the request never completes, not even after its timeout() "
     "(JDK-8286171)",
     M | HANGS | LOSES,
     "HttpRequest.newBuilder(uri).expectContinue(false) (the default)",
     "ignore hangs it too: 17.0.15 waits for a 100 for ever (JDK-8324209)"},
    {"java-urlconnection", "Java HttpURLConnection",
     EXPECT_CLIENT_MATCH_PREFIX, "Java/",
     "Java/17.0.15",
     "only when the application sets the header (streaming mode); waits 5 s for the "
     "100 when no read timeout is set",
     "getOutputStream() throws ProtocolException: Server rejected operation, and "
     "getResponseCode() says 417, no retry",
     M | LOSES,
     "do not set the Expect request property (Java never adds it)",
     "ignore costs it 5 s per upload"},

    {"go", "Go net/http",
     EXPECT_CLIENT_MATCH_PREFIX, "Go-http-client/",
     "Go-http-client/1.1",
     "only when the application sets the header; waits Transport.ExpectContinueTimeout "
     "(with 0, it does not wait)",
     "417 returned as the response, the body unsent (with ExpectContinueTimeout 0, a "
     "race: up to all of it), no retry",
     M | LOSES,
     "do not set the Expect header (Go never adds it); ExpectContinueTimeout only "
     "changes the wait",
     "ignore costs it ExpectContinueTimeout per upload"},

    /* Python: requests is urllib3 is http.client; urllib is http.client. */
    {"python-requests", "Python requests",
     EXPECT_CLIENT_MATCH_PREFIX, "python-requests/",
     "python-requests/2.28.1",
     "never by itself; with the header set it does not wait: the head and the body "
     "go together",
     "pushes the whole body, then returns the 417, no retry",
     M | LOSES | BODY,
     "do not set the Expect header (requests never adds it)",
     "reject saves no bandwidth with it: it sends the whole body anyway"},
    {"urllib3", "Python urllib3",
     EXPECT_CLIENT_MATCH_PREFIX, "python-urllib3/",
     "python-urllib3/1.26.12",
     "never by itself; with the header set it does not wait (it is http.client "
     "underneath, as in requests)",
     "pushes the whole body, then returns the 417, no retry",
     LOSES | BODY,
     "do not set the Expect header (urllib3 never adds it)",
     "reject saves no bandwidth with it: it sends the whole body anyway"},
    {"python-urllib", "Python urllib.request",
     EXPECT_CLIENT_MATCH_PREFIX, "Python-urllib/",
     "Python-urllib/3.11",
     "never by itself; with the header set it does not wait (it is http.client "
     "underneath)",
     "pushes the whole body, then raises HTTPError 417, no retry",
     LOSES | BODY,
     "do not set the Expect header (urllib never adds it)",
     "reject saves no bandwidth with it: it sends the whole body anyway"},
    {"python-http-client", "Python http.client",
     EXPECT_CLIENT_MATCH_NONE, "",
     "none: http.client sends no User-Agent by default, so its 417s get the generic fix",
     "never by itself; with the header set it does not wait: the head and the body "
     "go together, and a 100 is skipped",
     "pushes the whole body, then returns the 417, no retry",
     M | LOSES | BODY,
     "do not set the Expect header (http.client never adds it)",
     "reject saves no bandwidth with it: it sends the whole body anyway"},

    /* .NET and PowerShell. */
    {"dotnet", ".NET HttpClient and HttpWebRequest",
     EXPECT_CLIENT_MATCH_NONE, "",
     "none: .NET sends no User-Agent by default, so its 417s get the generic fix",
     "on .NET Framework (HttpWebRequest, and HttpClient over it) by itself on a POST "
     "or PUT with a body, and waits 350 ms; on .NET (Core) only with ExpectContinue = "
     "true",
     "fails with (417) Expectation Failed (WebException or HttpRequestException), "
     "no retry",
     LOSES,
     "ServicePointManager.Expect100Continue = false, or "
     "HttpClient.DefaultRequestHeaders.ExpectContinue = false",
     "ignore costs it its expect timeout per upload"},
    {"powershell", "PowerShell (Invoke-WebRequest, Invoke-RestMethod)",
     EXPECT_CLIENT_MATCH_SUBSTRING, "PowerShell/",
     "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3570",
     "Windows PowerShell 5.1 (on HttpWebRequest) by itself on a POST or PUT with a "
     "body, and waits 350 ms; PowerShell 7 only when told",
     "the cmdlet fails with (417) Expectation Failed, no retry",
     LOSES,
     "[System.Net.ServicePointManager]::Expect100Continue = $false before the cmdlet",
     "ignore costs it its expect timeout per upload"},

    /* Node.js */
    {"node-http", "Node.js http",
     EXPECT_CLIENT_MATCH_NONE, "",
     "none: Node's http sends no User-Agent by default, so its 417s get the generic fix",
     "never by itself; with the header set the application decides when the body goes "
     "(on 'continue', and after a timer if it is wise)",
     "417 arrives on 'response', the body unsent if it waited, no retry",
     M | LOSES,
     "do not set the Expect header; if you must, send the body after a timer too",
     "ignore breaks code that sends the body only on 'continue'"},
    {"node-fetch-builtin", "Node.js fetch (undici inside Node)",
     EXPECT_CLIENT_MATCH_EXACT, "node",
     "node",
     "never: fetch refuses the header (expect header not supported)",
     "cannot get one for 100-continue: it never sends Expect",
     0,
     "nothing to do: it never sends Expect",
     "any policy works for it"},
    {"undici", "undici (the library, and older Node.js fetch)",
     EXPECT_CLIENT_MATCH_PREFIX, "undici",
     "undici",
     "never: it refuses the header (expect header not supported)",
     "cannot get one for 100-continue: it never sends Expect",
     0,
     "nothing to do: it never sends Expect",
     "any policy works for it"},
    {"node-fetch", "node-fetch",
     EXPECT_CLIENT_MATCH_PREFIX, "node-fetch",
     "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
     "never by itself; with the header set it writes the body at once, without waiting",
     "pushes the body, then resolves with status 417, no retry",
     LOSES | BODY,
     "do not set the Expect header (node-fetch never adds it)",
     "reject saves no bandwidth with it: it sends the body anyway"},
    {"axios", "axios (Node.js)",
     EXPECT_CLIENT_MATCH_PREFIX, "axios/",
     "axios/1.6.8",
     "never by itself; with the header set it writes the body at once, without waiting",
     "pushes the body, then rejects with Request failed with status code 417, no retry",
     LOSES | BODY,
     "do not set the Expect header (axios never adds it)",
     "reject saves no bandwidth with it: it sends the body anyway"},

    {"ruby", "Ruby Net::HTTP",
     EXPECT_CLIENT_MATCH_PREFIX, "Ruby",
     "Ruby",
     "never by itself; with the header set it waits continue_timeout for the 100, or "
     "without one sends the body at once",
     "with continue_timeout, 417 before the body, without it after pushing all of "
     "it, no retry",
     M | LOSES,
     "do not set the Expect header (Net::HTTP never adds it)",
     "ignore costs it continue_timeout per upload"},
    {"libwww-perl", "libwww-perl (LWP)",
     EXPECT_CLIENT_MATCH_SUBSTRING, "libwww-perl/",
     "libwww-perl/6.68",
     "never by itself; with the header set it waits 2 s for the 100, and then never "
     "sends the body (an internal 500)",
     "417 before the body, returned as the response, no retry",
     M | LOSES,
     "do not set the Expect header (LWP never adds it)",
     "ignore breaks it: without a 100 it never sends the body"},
    {"git", "git (smart HTTP)",
     EXPECT_CLIENT_MATCH_PREFIX, "git/",
     "git/2.39.5",
     "by itself on a push larger than http.postBuffer (sent chunked), and only when "
     "the server's 401 offered Basic along with Negotiate: git 2.39.5 sent none when "
     "it offered Negotiate and Digest alone; libcurl waits 1 s for the 100",
     "error: RPC failed; HTTP 417, the push fails, no retry",
     M | LOSES,
     "git config http.postBuffer 524288000 (above the pack size: no chunked push, "
     "no Expect)",
     "ignore costs each such push 1 s"},
    {"wget", "GNU Wget",
     EXPECT_CLIENT_MATCH_PREFIX, "Wget/",
     "Wget/1.21.3",
     "never by itself; given the header with --header it sends the head and the body "
     "at once",
     "pushes most or all of the body, then ERROR 417 (exit 8), no retry",
     M | LOSES | BODY,
     "do not pass --header 'Expect: 100-continue' (wget never adds it)",
     "reject saves no bandwidth with it: it sends the body anyway"},
};

/*
 * Version ranges, by entry key: where a behaviour ended with a release.
 * Java's HttpClient hang on a 417 (JDK-8286171) was fixed, and backported
 * to 17.0.17 by JDK-8364017; the 17.0.15 measured here still hangs.  Its
 * other release lines are not listed: not verified here.
 */
static const expect_client_release_t java_httpclient_fixed[] = {
    {"17", "17.0.17", "JDK-8364017, the backport of JDK-8286171"},
    {NULL, NULL, NULL},
};

static const expect_client_versions_t client_versions[] = {
    {"java-httpclient", "Java-http-client/", java_httpclient_fixed, "17.0.15",
     "the 417 is returned to the application as the response, the body unsent, "
     "no retry",
     LOSES,
     "ignore may still hang it: it has no timer for the 100 (JDK-8324209)",
     "ignore may hang it: it has no timer for the 100 (JDK-8324209)"},
};

#undef M
#undef HANGS
#undef LOSES
#undef BODY

/* ---- lookup ------------------------------------------------------------ */

#define N_CLIENTS (sizeof(clients) / sizeof(clients[0]))

static unsigned char ascii_fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Does s start with p, ignoring ASCII case? */
static int starts_with_icase(const char *s, const char *p)
{
    for (; *p; s++, p++) {
        if (*s == '\0' || ascii_fold((unsigned char)*s) != ascii_fold((unsigned char)*p)) {
            return 0;
        }
    }
    return 1;
}

static int client_matches(const expect_client_t *c, const char *ua)
{
    const char *s;

    switch (c->match) {
    case EXPECT_CLIENT_MATCH_PREFIX:
        return starts_with_icase(ua, c->pattern);
    case EXPECT_CLIENT_MATCH_EXACT:
        return starts_with_icase(ua, c->pattern) && ua[strlen(c->pattern)] == '\0';
    case EXPECT_CLIENT_MATCH_SUBSTRING:
        for (s = ua; *s; s++) {
            if (starts_with_icase(s, c->pattern)) {
                return 1;
            }
        }
        return 0;
    default:
        return 0;
    }
}

const expect_client_t *expect_client_match(const char *user_agent)
{
    size_t i;

    if (user_agent == NULL || *user_agent == '\0') {
        return NULL;
    }
    for (i = 0; i < N_CLIENTS; i++) {
        if (client_matches(&clients[i], user_agent)) {
            return &clients[i];
        }
    }
    return NULL;
}

const expect_client_t *expect_client_at(size_t i)
{
    return i < N_CLIENTS ? &clients[i] : NULL;
}

size_t expect_client_count(void)
{
    return N_CLIENTS;
}

/* ---- versions ---------------------------------------------------------- */

#define N_VERSIONS (sizeof(client_versions) / sizeof(client_versions[0]))

const expect_client_versions_t *expect_client_versions(const expect_client_t *c)
{
    size_t i;

    for (i = 0; c != NULL && i < N_VERSIONS; i++) {
        if (strcmp(client_versions[i].key, c->key) == 0) {
            return &client_versions[i];
        }
    }
    return NULL;
}

/* The next numeric component of a version, advancing *p past it and its
 * dot; 0 once the digits and dots are over. */
static unsigned long version_next(const char **p)
{
    unsigned long n = 0;
    const char *s = *p;

    if (*s < '0' || *s > '9') {
        return 0;
    }
    while (*s >= '0' && *s <= '9') {
        /* Saturate: a version is not a place to overflow. */
        n = n > 400000000ul ? 4000000000ul : n * 10 + (unsigned long)(*s - '0');
        s++;
    }
    if (*s == '.' && s[1] >= '0' && s[1] <= '9') {
        s++;
    }
    *p = s;
    return n;
}

int expect_client_version_cmp(const char *a, const char *b)
{
    while ((*a >= '0' && *a <= '9') || (*b >= '0' && *b <= '9')) {
        unsigned long x = version_next(&a), y = version_next(&b);

        if (x != y) {
            return x < y ? -1 : 1;
        }
    }
    return 0;
}

int expect_client_version_in_line(const char *v, const char *line)
{
    if (v == NULL || line == NULL || *v < '0' || *v > '9') {
        return 0;
    }
    while (*line >= '0' && *line <= '9') {
        if (version_next(&v) != version_next(&line)) {
            return 0;
        }
    }
    return 1;
}

/* The version that follows `after` in the User-Agent (case ignored):
 * digits, letters, dots, '_', '-' and '+', at most dstsize - 1 of them. */
static void version_of(char *dst, size_t dstsize, const char *ua, const char *after)
{
    const char *s;
    size_t n = 0;

    dst[0] = '\0';
    if (ua == NULL) {
        return;
    }
    for (s = ua; *s; s++) {
        if (starts_with_icase(s, after)) {
            s += strlen(after);
            while (n + 1 < dstsize && ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z')
                                       || (*s >= 'A' && *s <= 'Z') || *s == '.' || *s == '_'
                                       || *s == '-' || *s == '+')) {
                dst[n++] = *s++;
            }
            dst[n] = '\0';
            return;
        }
    }
}

void expect_client_resolve(const expect_client_t *c, const char *user_agent,
                           expect_client_facts_t *f)
{
    const expect_client_versions_t *v = expect_client_versions(c);
    const expect_client_release_t *r;

    memset(f, 0, sizeof(*f));
    f->client = c;
    if (c == NULL) {
        return;
    }
    f->on_417 = c->on_417;
    f->flags = c->flags;
    f->policy_note = c->policy_note;
    if (v == NULL) {
        return;
    }
    version_of(f->version, sizeof(f->version), user_agent, v->version_after);
    for (r = v->fixed; r->line != NULL; r++) {
        if (expect_client_version_in_line(f->version, r->line)) {
            f->release = r;
            if (expect_client_version_cmp(f->version, r->fixed_in) >= 0) {
                f->range = EXPECT_CLIENT_RANGE_FIXED;
                f->on_417 = v->fixed_on_417;
                f->flags = v->fixed_flags;
                f->policy_note = v->fixed_policy_note;
            }
            else {
                f->range = EXPECT_CLIENT_RANGE_BEFORE;
            }
            return;
        }
    }
    /* A line the entry says nothing about: claim nothing. */
    f->range = EXPECT_CLIENT_RANGE_UNVERIFIED;
    f->on_417 = NULL;
    f->flags = 0;
    f->policy_note = v->unverified_note;
}

const expect_client_t *expect_client_for_event(uint32_t producer, uint32_t reason,
                                               const char *expect, const char *user_agent)
{
    const char *p = expect;

    if (producer == EXPECT_PRODUCER_CORE) {
        return NULL;
    }
    if (reason != EXPECT_REASON_POLICY && reason != EXPECT_REASON_STRICT_BODYLESS
        && reason != EXPECT_REASON_HANDLER && reason != EXPECT_REASON_BACKEND) {
        return NULL;
    }
    /* Exactly 100-continue: not empty (a 417 without Expect is not about
     * it), and nothing core would call an unknown expectation. */
    while (p != NULL && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (p == NULL || *p == '\0' || expect_is_unknown_expectation(p)) {
        return NULL;
    }
    return expect_client_match(user_agent);
}

/* ---- the fix, as text -------------------------------------------------- */

/* An snprintf-like writer: counts everything, stores what fits. */
typedef struct {
    char *dst;
    size_t size;
    size_t len;
} client_buf_t;

static void client_put(client_buf_t *b, const char *s)
{
    for (; *s; s++, b->len++) {
        if (b->dst != NULL && b->len + 1 < b->size) {
            b->dst[b->len] = *s;
        }
    }
}

static size_t client_done(client_buf_t *b)
{
    if (b->dst != NULL && b->size > 0) {
        b->dst[b->len < b->size ? b->len : b->size - 1] = '\0';
    }
    return b->len;
}

static void client_put_condition(client_buf_t *b, const expect_client_t *c)
{
    static const char meta[] = ".^$|?*+()[]{}\\#";
    char one[3] = {0, 0, 0};
    const char *p;

    if (c->match == EXPECT_CLIENT_MATCH_NONE || c->pattern == NULL || *c->pattern == '\0') {
        return;
    }
    client_put(b, "%{HTTP_USER_AGENT} =~ m#");
    if (c->match != EXPECT_CLIENT_MATCH_SUBSTRING) {
        client_put(b, "^");
    }
    for (p = c->pattern; *p; p++) {
        if (strchr(meta, *p) != NULL) {
            one[0] = '\\';
            one[1] = *p;
        }
        else {
            one[0] = *p;
            one[1] = '\0';
        }
        client_put(b, one);
    }
    if (c->match == EXPECT_CLIENT_MATCH_EXACT) {
        client_put(b, "$");
    }
    client_put(b, "#i");
}

size_t expect_client_condition(char *dst, size_t dstsize, const expect_client_t *c)
{
    client_buf_t b = {dst, dstsize, 0};

    if (c != NULL) {
        client_put_condition(&b, c);
    }
    return client_done(&b);
}

/* "<directive> for it, in <If '...'>" or, without a User-Agent to scope
 * by, "<directive> where it uploads". */
static void client_put_scoped(client_buf_t *b, const expect_client_t *c, const char *directive)
{
    client_put(b, directive);
    if (c->match == EXPECT_CLIENT_MATCH_NONE) {
        client_put(b, " where it uploads (it has no User-Agent to scope by)");
        return;
    }
    client_put(b, " for it, in <If '");
    client_put_condition(b, c);
    client_put(b, "'>");
}

static void client_put_server(client_buf_t *b, const expect_client_facts_t *f,
                              uint32_t reason)
{
    const expect_client_t *c = f->client;

    switch (reason) {
    case EXPECT_REASON_HANDLER:
        client_put(b, "the application answered 417 itself; check it (mod_expect "
                      "let the request through)");
        return;
    case EXPECT_REASON_BACKEND:
        client_put(b, "Proxy100Continue Off where it is proxied (httpd answers the "
                      "100 itself and the backend sees no Expect), and ");
        client_put_scoped(b, c, "ExpectPolicy continue");
        break;
    case EXPECT_REASON_STRICT_BODYLESS:
        client_put_scoped(b, c, "ExpectStrict Off");
        return;
    default:
        client_put_scoped(b, c, "ExpectPolicy continue");
        break;
    }
    client_put(b, " (");
    client_put(b, f->policy_note);
    client_put(b, ")");
}

size_t expect_client_server_fix(char *dst, size_t dstsize, const expect_client_facts_t *f,
                                uint32_t reason)
{
    client_buf_t b = {dst, dstsize, 0};

    if (f != NULL && f->client != NULL) {
        client_put_server(&b, f, reason);
    }
    return client_done(&b);
}

const char *expect_client_harm(unsigned flags)
{
    if ((flags & EXPECT_CLIENT_HANGS) && (flags & EXPECT_CLIENT_LOSES_UPLOAD)) {
        return "known to hang and lose the upload on a 417";
    }
    if (flags & EXPECT_CLIENT_HANGS) {
        return "known to hang on a 417";
    }
    if (flags & EXPECT_CLIENT_LOSES_UPLOAD) {
        return "known to lose the upload on a 417";
    }
    return NULL;
}

static void client_put_range(client_buf_t *b, const expect_client_facts_t *f)
{
    switch (f->range) {
    case EXPECT_CLIENT_RANGE_BEFORE:
        client_put(b, "before ");
        client_put(b, f->release->fixed_in);
        break;
    case EXPECT_CLIENT_RANGE_FIXED:
        client_put(b, f->release->fixed_in);
        client_put(b, " and later");
        break;
    case EXPECT_CLIENT_RANGE_UNVERIFIED:
        client_put(b, "version not verified");
        break;
    default:
        break;
    }
}

size_t expect_client_range_label(char *dst, size_t dstsize, const expect_client_facts_t *f)
{
    client_buf_t b = {dst, dstsize, 0};

    if (f != NULL && f->client != NULL) {
        client_put_range(&b, f);
    }
    return client_done(&b);
}

/* "before 17.0.17 ...; from 17.0.17 (JDK-...) ...", for each line the
 * entry names: what is known, for a version that is not verified. */
static void client_put_known_lines(client_buf_t *b, const expect_client_t *c,
                                   const expect_client_versions_t *v)
{
    const expect_client_release_t *r;
    const char *harm;

    if (v == NULL) {
        return;
    }
    for (r = v->fixed; r->line != NULL; r++) {
        client_put(b, r == v->fixed ? "known for " : "; for ");
        client_put(b, r->line);
        client_put(b, ".x only: before ");
        client_put(b, r->fixed_in);
        harm = expect_client_harm(c->flags);
        client_put(b, " it is ");
        client_put(b, harm != NULL ? harm : "harmless on a 417");
        client_put(b, ", from ");
        client_put(b, r->fixed_in);
        client_put(b, " (");
        client_put(b, r->by);
        client_put(b, ") ");
        harm = expect_client_harm(v->fixed_flags);
        client_put(b, harm != NULL ? harm : "harmless on a 417");
    }
}

static const char *client_cause(uint32_t reason)
{
    switch (reason) {
    case EXPECT_REASON_POLICY:
        return "ExpectPolicy reject on this vhost/location";
    case EXPECT_REASON_STRICT_BODYLESS:
        return "ExpectStrict On and the request has no content";
    case EXPECT_REASON_HANDLER:
        return "a handler or script answered 417 to its 100-continue";
    case EXPECT_REASON_BACKEND:
        return "the proxied backend answered 417 to its 100-continue";
    default:
        return "417 to its 100-continue";
    }
}

size_t expect_client_fix(char *dst, size_t dstsize, const expect_client_facts_t *f,
                         uint32_t reason)
{
    client_buf_t b = {dst, dstsize, 0};
    const expect_client_t *c;
    const char *harm;

    if (f == NULL || f->client == NULL) {
        return client_done(&b);
    }
    c = f->client;
    harm = expect_client_harm(f->flags);
    client_put(&b, client_cause(reason));
    client_put(&b, ". Client ");
    client_put(&b, c->family);
    if (f->range != EXPECT_CLIENT_RANGE_ALL) {
        client_put(&b, " ");
        client_put(&b, f->version[0] != '\0' ? f->version : "(no version in its User-Agent)");
    }
    if (f->range == EXPECT_CLIENT_RANGE_UNVERIFIED) {
        /* Neither side of the fix is claimed for a version it was not
         * verified for. */
        client_put(&b, ": what a 417 does to this version is not verified (");
        client_put_known_lines(&b, c, expect_client_versions(c));
        client_put(&b, ")");
    }
    else {
        if (harm != NULL) {
            client_put(&b, " is ");
            client_put(&b, harm);
        }
        client_put(&b, ": ");
        client_put(&b, f->on_417);
        if (f->range == EXPECT_CLIENT_RANGE_BEFORE) {
            client_put(&b, ", as in every version before ");
            client_put(&b, f->release->fixed_in);
            client_put(&b, " (fixed by ");
            client_put(&b, f->release->by);
            client_put(&b, ")");
        }
        else if (f->range == EXPECT_CLIENT_RANGE_FIXED) {
            client_put(&b, ", as from ");
            client_put(&b, f->release->fixed_in);
            client_put(&b, " on (");
            client_put(&b, f->release->by);
            client_put(&b, ")");
        }
    }
    client_put(&b, ". Its switch: ");
    client_put(&b, c->client_fix);
    client_put(&b, ". Server: ");
    client_put_server(&b, f, reason);
    return client_done(&b);
}
