/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_verdict.c - the documented diagnoses of `expectctl probe` and the
 * rules that pick them from the results of the checks.  Pure: the unit
 * tests feed it hand-made results.
 *
 * The keys, exit codes and texts are documented in expectctl.8 and
 * docs/TROUBLESHOOTING.md; scripts match on the keys and exit codes, so
 * change them only by adding.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "probe.h"

/* curl's default --expect100-timeout: a 100 slower than this is too late
 * for the most common client. */
#define CURL_EXPECT_WAIT_MS 1000

static const probe_diag_t diags[PROBE_D_COUNT] = {
    [PROBE_D_HONOURS] = {PROBE_D_HONOURS, "honours-100-continue", PROBE_SEV_OK, 0,
     "answers 100 Continue before the body, then the final status",
     PROBE_NOTHING,
     PROBE_NOTHING},
    [PROBE_D_FINAL_FIRST] = {PROBE_D_FINAL_FIRST, "final-status-before-body", PROBE_SEV_OK, 0,
     "answers a final status at once, without asking for the body: clients do not stall",
     PROBE_NOTHING "; to see the 100 path, probe a URL and method that accept an upload",
     PROBE_NOTHING},
    [PROBE_D_IGNORES] = {PROBE_D_IGNORES, "ignores-100-continue", PROBE_SEV_PROBLEM, 10,
     "never answers 100 Continue: every client that sends Expect: 100-continue stalls "
     "for its own timeout (curl 1 s) before it sends the body",
     "send the body without waiting: curl -H 'Expect:' (or a shorter --expect100-timeout); "
     "in other libraries turn Expect: 100-continue off",
     "answer 100 when the body is wanted, or a final status at once "
     "(mod_expect: ExpectPolicy continue); probe each hop to find the one that swallows the 100"},
    [PROBE_D_REJECTS] = {PROBE_D_REJECTS, "rejects-100-continue", PROBE_SEV_PROBLEM, 11,
     "answers 417 to Expect: 100-continue although the same request without it gets no 417 "
     "(the baseline check shows its status): clients that do not retry without the header "
     "lose the upload",
     "retry without Expect (RFC 9110 15.5.18): curl -H 'Expect:'; "
     ".NET Expect100Continue = false; or make the client retry after 417",
     "honour it (mod_expect: ExpectPolicy continue, or expectctl set VHOST continue); "
     "expectctl events shows who produced each 417"},
    [PROBE_D_DUPLICATE] = {PROBE_D_DUPLICATE, "duplicate-100", PROBE_SEV_PROBLEM, 12,
     "sends more than one 100 Continue to one request: an intermediary adds its own 100 "
     "to the backend's, and strict clients fail on the second",
     "send without Expect: 100-continue until the chain is fixed (curl -H 'Expect:')",
     "let one hop answer 100: fix or upgrade the intermediary that duplicates it "
     "(httpd: Proxy100Continue On relays the backend's 100, Off answers it itself)"},
    [PROBE_D_CLOSES] = {PROBE_D_CLOSES, "closes-without-response", PROBE_SEV_PROBLEM, 13,
     "closes the connection without a final response: clients see an empty reply "
     "and the upload is lost",
     "nothing reliable; retry without Expect to see whether the header is the trigger",
     "read the error log of that hop for a crash or a filter (WAF, load balancer) "
     "that drops the request; probe the next hop directly"},
    [PROBE_D_TIMEOUT] = {PROBE_D_TIMEOUT, "times-out", PROBE_SEV_PROBLEM, 14,
     "sends no response within the timeout: clients wait for their own timeout "
     "(probe skips the remaining checks)",
     "raise the client's timeout, or send without Expect to see whether it helps",
     "find the hop that holds the request: probe each hop directly, "
     "check httpd's Timeout and the backend"},
    [PROBE_D_ALWAYS_417] = {PROBE_D_ALWAYS_417, "always-417", PROBE_SEV_PROBLEM, 15,
     "answers 417 even without an Expect header: the 417 comes from the application "
     "or a filter, not from the handling of Expect",
     "dropping Expect will not help: the request itself is refused",
     "find the handler or backend that sends 417 "
     "(expectctl events: by=handler or by=backend)"},
    [PROBE_D_GARBLED] = {PROBE_D_GARBLED, "garbled-response", PROBE_SEV_PROBLEM, 16,
     "sends bytes that are not a valid HTTP/1.x or HTTP/2 response (see the check's detail)",
     "send without Expect: 100-continue until the chain is fixed",
     "capture the bytes (curl -v, or tcpdump on that hop) and fix the hop that writes them"},
    [PROBE_D_HTTP10_100] = {PROBE_D_HTTP10_100, "http10-gets-100", PROBE_SEV_PROBLEM, 17,
     "sends 100 Continue to an HTTP/1.0 request: RFC 9110 forbids it, and an HTTP/1.0 "
     "client reads the 100 as the final response",
     "use HTTP/1.1",
     "ignore 100-continue in HTTP/1.0 requests, as httpd does"},
    [PROBE_D_DESYNC] = {PROBE_D_DESYNC, "desync-risk", PROBE_SEV_PROBLEM, 18,
     "answers before the body but keeps the connection, then parses the body as the next "
     "request: the request-smuggling class of bug",
     "close the connection after a final status that arrives before the body is sent",
     "after answering before the body, close the connection or read and discard the body "
     "(httpd does this unless a module clears expecting_100; mod_expect's reject closes)"},
    [PROBE_D_LATE_100] = {PROBE_D_LATE_100, "late-100", PROBE_SEV_NOTE, 0,
     "the 100 Continue came after curl's 1 s wait: curl had already sent the body",
     PROBE_NOTHING,
     "answer 100 sooner: find the slow hop by probing each one"},
    [PROBE_D_UNKNOWN_417_LATE] = {PROBE_D_UNKNOWN_417_LATE,
     "unknown-expectation-417-after-body", PROBE_SEV_NOTE, 0,
     "answers 417 to an unknown expectation, but only after reading the body (httpd core does): "
     "a client that waits for a 100 first stalls",
     "send only Expect: 100-continue, in one header (two are merged into a list, which is unknown)",
     "with mod_expect, ExpectUnknown ignore on that vhost drops the unknown expectation "
     "and serves the request (without it, httpd 2.4's core answers this 417 before any "
     "module runs); expectctl stats counts these as 417-CORE"},
    [PROBE_D_UNKNOWN_417] = {PROBE_D_UNKNOWN_417, "unknown-expectation-417", PROBE_SEV_NOTE, 0,
     "answers 417 at once to an unknown expectation, as RFC 9110 allows",
     "send only Expect: 100-continue, in one header",
     PROBE_NOTHING},
    [PROBE_D_UNKNOWN_IGNORED] = {PROBE_D_UNKNOWN_IGNORED,
     "unknown-expectation-ignored", PROBE_SEV_NOTE, 0,
     "ignores an unknown expectation and serves the request, as RFC 9110 allows",
     PROBE_NOTHING,
     PROBE_NOTHING},
};

/*
 * Problems, most severe first, then the healthy diagnoses, then notes: the
 * verdict is the first finding in this order, so notes never decide it.
 */
static const probe_diag_id_t precedence[] = {
    PROBE_D_CLOSES, PROBE_D_GARBLED, PROBE_D_DUPLICATE, PROBE_D_TIMEOUT,
    PROBE_D_DESYNC, PROBE_D_ALWAYS_417, PROBE_D_REJECTS, PROBE_D_IGNORES,
    PROBE_D_HTTP10_100,
    PROBE_D_HONOURS, PROBE_D_FINAL_FIRST,
    PROBE_D_LATE_100, PROBE_D_UNKNOWN_417_LATE, PROBE_D_UNKNOWN_417,
    PROBE_D_UNKNOWN_IGNORED,
};

const probe_diag_t *probe_diag(probe_diag_id_t id)
{
    return (unsigned)id < PROBE_D_COUNT ? &diags[id] : NULL;
}

const char *probe_check_name(probe_check_id_t c)
{
    static const char *const names[PROBE_CHECK_COUNT] = {
        "baseline", "expect-100-continue", "unknown-expectation", "http10"
    };
    return (unsigned)c < PROBE_CHECK_COUNT ? names[c] : "unknown";
}

const char *probe_severity_name(probe_severity_t s)
{
    switch (s) {
    case PROBE_SEV_OK:      return "ok";
    case PROBE_SEV_NOTE:    return "note";
    case PROBE_SEV_PROBLEM: return "problem";
    default:                return "unknown";
    }
}

typedef struct {
    int found[PROBE_D_COUNT];
    probe_check_id_t where[PROBE_D_COUNT];
} found_t;

static void add(found_t *f, probe_diag_id_t d, probe_check_id_t c)
{
    if (!f->found[d]) {
        f->found[d] = 1;
        f->where[d] = c;
    }
}

size_t probe_diagnose(const probe_result_t *r, probe_finding_t *out, size_t max)
{
    const probe_check_t *b = &r->check[PROBE_CHECK_BASELINE];
    const probe_check_t *c = &r->check[PROBE_CHECK_CONTINUE];
    const probe_check_t *u = &r->check[PROBE_CHECK_UNKNOWN];
    const probe_check_t *h = &r->check[PROBE_CHECK_HTTP10];
    found_t f;
    int k, always_417;
    size_t i, n = 0;

    for (k = 0; k < PROBE_D_COUNT; k++) {
        f.found[k] = 0;
        f.where[k] = PROBE_CHECK_BASELINE;
    }

    /* Faults any check can show, whatever it asked. */
    for (k = 0; k < PROBE_CHECK_COUNT; k++) {
        const probe_check_t *x = &r->check[k];
        switch (x->outcome) {
        case PROBE_OUT_CLOSED:  add(&f, PROBE_D_CLOSES, (probe_check_id_t)k); break;
        case PROBE_OUT_TIMEOUT: add(&f, PROBE_D_TIMEOUT, (probe_check_id_t)k); break;
        case PROBE_OUT_GARBLED: add(&f, PROBE_D_GARBLED, (probe_check_id_t)k); break;
        default: break;
        }
        if (x->n100 >= 2) {
            add(&f, PROBE_D_DUPLICATE, (probe_check_id_t)k);
        }
        if (x->reuse == PROBE_REUSE_DESYNC) {
            add(&f, PROBE_D_DESYNC, (probe_check_id_t)k);
        }
    }

    /* The main check did not run: the probe's total time ran out. */
    if (c->outcome == PROBE_OUT_SKIPPED) {
        add(&f, PROBE_D_TIMEOUT, PROBE_CHECK_CONTINUE);
    }

    /* A 417 without any Expect says nothing about Expect. */
    always_417 = b->outcome == PROBE_OUT_RESPONSE && b->status == 417;
    if (always_417) {
        add(&f, PROBE_D_ALWAYS_417, PROBE_CHECK_BASELINE);
    }

    if (c->outcome == PROBE_OUT_RESPONSE) {
        switch (c->before) {
        case PROBE_BEFORE_100:
            if (c->n100 < 2) {  /* two or more: duplicate-100 above */
                add(&f, PROBE_D_HONOURS, PROBE_CHECK_CONTINUE);
            }
            if (c->first_interim_ms > CURL_EXPECT_WAIT_MS) {
                add(&f, PROBE_D_LATE_100, PROBE_CHECK_CONTINUE);
            }
            break;
        case PROBE_BEFORE_FINAL:
            if (c->status != 417) {
                add(&f, PROBE_D_FINAL_FIRST, PROBE_CHECK_CONTINUE);
            }
            else if (!always_417) {
                add(&f, PROBE_D_REJECTS, PROBE_CHECK_CONTINUE);
            }
            break;
        case PROBE_BEFORE_NOTHING:
        default:
            /* A 100 after the body, or none: the client stalled either way. */
            if (c->status != 417) {
                add(&f, PROBE_D_IGNORES, PROBE_CHECK_CONTINUE);
            }
            else if (!always_417) {
                add(&f, PROBE_D_REJECTS, PROBE_CHECK_CONTINUE);
            }
            break;
        }
    }

    if (h->outcome != PROBE_OUT_SKIPPED && h->n100 > 0) {
        add(&f, PROBE_D_HTTP10_100, PROBE_CHECK_HTTP10);
    }

    if (u->outcome == PROBE_OUT_RESPONSE && !always_417) {
        if (u->status != 417) {
            add(&f, PROBE_D_UNKNOWN_IGNORED, PROBE_CHECK_UNKNOWN);
        }
        else if (u->before == PROBE_BEFORE_FINAL) {
            add(&f, PROBE_D_UNKNOWN_417, PROBE_CHECK_UNKNOWN);
        }
        else {
            add(&f, PROBE_D_UNKNOWN_417_LATE, PROBE_CHECK_UNKNOWN);
        }
    }

    for (i = 0; i < sizeof(precedence) / sizeof(precedence[0]) && n < max; i++) {
        probe_diag_id_t d = precedence[i];
        if (f.found[d]) {
            out[n].id = d;
            out[n].check = f.where[d];
            n++;
        }
    }
    if (n == 0 && max > 0) {
        /* Unreachable with results from probe_run.c: a check that ran ended
         * in a response or in one of the faults above.  Never claim health
         * without evidence. */
        out[0].id = PROBE_D_CLOSES;
        out[0].check = PROBE_CHECK_CONTINUE;
        n = 1;
    }
    return n;
}

/* ---- two protocols compared (--compare) ---- */

/* What a verdict says a server does with 100-continue: the phrase naming
 * it, and the shorter one after "while" ("h2 ignores 100-continue while
 * HTTP/1.1 honours it"). */
typedef struct {
    const char *full;
    const char *again;
} phrase_t;

static phrase_t verdict_phrase(probe_diag_id_t id)
{
    switch (id) {
    case PROBE_D_HONOURS:     return (phrase_t){"honours 100-continue", "honours it"};
    case PROBE_D_IGNORES:     return (phrase_t){"ignores 100-continue", "ignores it"};
    case PROBE_D_REJECTS:     return (phrase_t){"rejects 100-continue with 417", "rejects it"};
    case PROBE_D_FINAL_FIRST: return (phrase_t){"answers a final status before the body",
                                                "answers a final status before the body"};
    case PROBE_D_DUPLICATE:   return (phrase_t){"sends more than one 100", "sends more than one 100"};
    case PROBE_D_CLOSES:      return (phrase_t){"closes without a response",
                                                "closes without a response"};
    case PROBE_D_TIMEOUT:     return (phrase_t){"does not answer in time", "does not answer in time"};
    case PROBE_D_ALWAYS_417:  return (phrase_t){"answers 417 even without Expect",
                                                "answers 417 even without Expect"};
    case PROBE_D_GARBLED:     return (phrase_t){"sends a garbled response", "sends a garbled response"};
    case PROBE_D_HTTP10_100:  return (phrase_t){"sends 100 to HTTP/1.0", "sends 100 to HTTP/1.0"};
    case PROBE_D_DESYNC:      return (phrase_t){"parses an unread body as a request",
                                                "parses an unread body as a request"};
    default:                  return (phrase_t){"gives no verdict", "gives no verdict"};
    }
}

/* What a result says about an unknown expectation. */
static const char *unknown_phrase(const probe_finding_t *f, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        switch (f[i].id) {
        case PROBE_D_UNKNOWN_417:      return "answers it 417 at once";
        case PROBE_D_UNKNOWN_417_LATE: return "answers it 417 only after the body";
        case PROBE_D_UNKNOWN_IGNORED:  return "ignores it and serves the request";
        default:                       break;
        }
    }
    return "gives no final answer to it";
}

void probe_compare(const probe_finding_t *a, size_t na, const char *an,
                   const probe_finding_t *b, size_t nb, const char *bn,
                   probe_comparison_t *out)
{
    phrase_t pa = verdict_phrase(a[0].id), pb = verdict_phrase(b[0].id);
    const char *ua = unknown_phrase(a, na), *ub = unknown_phrase(b, nb);

    if (a[0].id == b[0].id) {
        snprintf(out->expect_100, sizeof(out->expect_100), "%s %s, as %s does", an, pa.full, bn);
    }
    else {
        snprintf(out->expect_100, sizeof(out->expect_100), "%s %s while %s %s", an, pa.full, bn,
                 pb.again);
    }
    if (strcmp(ua, ub) == 0) {
        snprintf(out->unknown, sizeof(out->unknown), "unknown expectation: %s %s, as %s does",
                 an, ua, bn);
    }
    else {
        snprintf(out->unknown, sizeof(out->unknown), "unknown expectation: %s %s while %s %s",
                 an, ua, bn, ub);
    }
}
