/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_out.c - what one run of `expectctl probe` prints: the text for
 * people, and the --json document for machines (documented in
 * expectctl.8; fields are only ever added).  Every string a server chose
 * is escaped before it reaches the terminal or the document.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "expect_format.h"
#include "probe_run.h"

/* ---- text ---- */

static void append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;

    if (used + 1 >= len) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

static const char *reuse_name(probe_reuse_t r)
{
    switch (r) {
    case PROBE_REUSE_OK:      return "reused";
    case PROBE_REUSE_CLOSED:  return "closed";
    case PROBE_REUSE_STALLED: return "stalled";
    case PROBE_REUSE_DESYNC:  return "desync";
    case PROBE_REUSE_NOT_TRIED:
    default:                  return "not-tried";
    }
}

static const char *outcome_name(probe_outcome_t o)
{
    switch (o) {
    case PROBE_OUT_RESPONSE: return "response";
    case PROBE_OUT_CLOSED:   return "closed";
    case PROBE_OUT_TIMEOUT:  return "timeout";
    case PROBE_OUT_GARBLED:  return "garbled";
    case PROBE_OUT_SKIPPED:
    default:                 return "skipped";
    }
}

static const char *before_name(probe_before_t b)
{
    switch (b) {
    case PROBE_BEFORE_100:     return "100";
    case PROBE_BEFORE_FINAL:   return "final";
    case PROBE_BEFORE_NOTHING: return "nothing";
    case PROBE_BEFORE_CLOSED:  return "closed";
    case PROBE_BEFORE_NA:
    default:                   return "sent-with-head";
    }
}

/* The HTTP/1.0 check, which an HTTP/2 run does not make. */
static int not_applicable(const probe_run_t *x, probe_check_id_t id)
{
    return x->proto != PROBE_PROTO_H1 && id == PROBE_CHECK_HTTP10;
}

/* How the checks reached the server, for the first lines of the text. */
static void route_text(const probe_run_t *x, char *buf, size_t len)
{
    buf[0] = '\0';
    if (x->via_proxy) {
        append(buf, len, ", via proxy %s%s", x->o->proxy, x->tunnel ? " (CONNECT)" : "");
    }
    else if (x->hop != NULL) {
        append(buf, len, ", hop %s", x->hop);
    }
    else if (x->o->connect != NULL) {
        append(buf, len, ", --connect");
    }
}

static void describe(const probe_run_t *x, probe_check_id_t id, char *buf, size_t len)
{
    const probe_check_t *r = &x->res.check[id];
    long wait = probe_specs[id].wait == 1 ? x->res.wait_100_ms : x->wait_other_ms;
    char reason[4 * PROBE_FIELD_MAX + 1];

    buf[0] = '\0';
    if (not_applicable(x, id)) {
        append(buf, len, "not applicable: HTTP/2 has no HTTP/1.0");
        return;
    }
    if (r->outcome == PROBE_OUT_SKIPPED) {
        append(buf, len, "skipped: an earlier check timed out");
        return;
    }
    switch (r->before) {
    case PROBE_BEFORE_100:
        append(buf, len, "100 in %ld ms, body sent, ", r->first_interim_ms);
        break;
    case PROBE_BEFORE_NOTHING:
        append(buf, len, "nothing in %ld ms, body sent, ", wait);
        break;
    case PROBE_BEFORE_FINAL:
        append(buf, len, "at once, before the body: ");
        break;
    default:
        break;
    }
    if (r->n100 > 1) {
        append(buf, len, "%d x 100 Continue, ", r->n100);
    }
    else if (r->n100_late > 0 && r->before != PROBE_BEFORE_100) {
        append(buf, len, "a late 100 after the body, ");
    }
    if (r->n1xx_other > 0) {
        append(buf, len, "%d other 1xx, ", r->n1xx_other);
    }
    switch (r->outcome) {
    case PROBE_OUT_RESPONSE:
        expect_escape_text(reason, sizeof(reason), r->reason);
        append(buf, len, "%d%s%s in %ld ms; ", r->status, reason[0] ? " " : "", reason,
               r->final_ms);
        switch (r->reuse) {
        case PROBE_REUSE_OK:
            append(buf, len, "connection reused");
            break;
        case PROBE_REUSE_CLOSED:
            append(buf, len, "closed without saying so");
            break;
        case PROBE_REUSE_STALLED:
            append(buf, len, "the next request on it got no answer");
            break;
        case PROBE_REUSE_DESYNC:
            append(buf, len, "DESYNC on the next request (%d)", r->reuse_status);
            break;
        case PROBE_REUSE_NOT_TRIED:
        default:
            append(buf, len, r->body_complete ? "connection closed" : "body incomplete, closed");
            break;
        }
        break;
    case PROBE_OUT_CLOSED:
        append(buf, len, "CLOSED without a response");
        break;
    case PROBE_OUT_TIMEOUT:
        append(buf, len, "NO RESPONSE within %.1f s", (double)x->o->timeout_ms / 1000.0);
        break;
    case PROBE_OUT_GARBLED:
    default:
        append(buf, len, "GARBLED");
        break;
    }
    if (r->detail[0] != '\0' && r->outcome != PROBE_OUT_RESPONSE) {
        append(buf, len, " (%s)", r->detail);
    }
}

/* The fixes of a side that has one; "nothing to change" twice is noise. */
static void print_fixes(const probe_diag_t *d)
{
    if (strcmp(d->client_fix, PROBE_NOTHING) != 0) {
        printf("    client: %s\n", d->client_fix);
    }
    if (strcmp(d->server_fix, PROBE_NOTHING) != 0) {
        printf("    server: %s\n", d->server_fix);
    }
}

void probe_print_text(const probe_run_t *x)
{
    const probe_finding_t *f = x->f;
    size_t nf = x->nf;
    const probe_diag_t *v = probe_diag(f[0].id);
    char line[1024], esc[4 * PROBE_FIELD_MAX + 1], route[PROBE_TARGET_MAX + 64];
    const char *server = "", *via = "";
    size_t i;
    int k;

    route_text(x, route, sizeof(route));
    printf("probe %s\n", x->o->url);
    printf("  %s port %u (%s%s); %s; %s with %ld bytes; timeout %.1f s; waits %.1f s for a 100\n",
           x->addr.numeric, x->via_proxy ? x->proxy.port : x->connect_port,
           x->addr.family == AF_INET6 ? "IPv6" : "IPv4", route,
           x->proto == PROBE_PROTO_H1 ? "HTTP/1.1" : probe_proto_name(x->proto),
           x->o->method, x->o->size, (double)x->o->timeout_ms / 1000.0,
           (double)x->res.wait_100_ms / 1000.0);
    if (x->url.tls) {  /* x->tls may be freed already (--chain) */
        printf("  TLS: %s, certificate %s\n", x->tls_info[0] ? x->tls_info : "-",
               x->tls_verified ? "verified" : "NOT verified (--insecure)");
    }
    printf("\n");
    for (k = 0; k < PROBE_CHECK_COUNT; k++) {
        const probe_check_t *r = &x->res.check[k];
        describe(x, (probe_check_id_t)k, line, sizeof(line));
        printf("  %-20s %-24s %s\n", probe_check_name((probe_check_id_t)k), probe_specs[k].label, line);
        if (server[0] == '\0' && r->server[0] != '\0') {
            server = r->server;
        }
        if (via[0] == '\0' && r->via[0] != '\0') {
            via = r->via;
        }
    }
    if (server[0] != '\0') {
        expect_escape_text(esc, sizeof(esc), server);
        printf("  Server: %s\n", esc);
    }
    if (via[0] != '\0') {
        expect_escape_text(esc, sizeof(esc), via);
        printf("  Via: %s\n", esc);
    }
    printf("\nverdict: %s (exit %d)\n  %s\n", v->key, v->exit_code, v->summary);
    if (v->severity == PROBE_SEV_PROBLEM) {
        print_fixes(v);
    }
    if (nf > 1) {
        printf("also:\n");
    }
    for (i = 1; i < nf; i++) {
        const probe_diag_t *d = probe_diag(f[i].id);
        printf("  %s %s (%s): %s\n", probe_severity_name(d->severity), d->key,
               probe_check_name(f[i].check), d->summary);
        if (d->severity != PROBE_SEV_OK) {
            print_fixes(d);
        }
    }
}

/* ---- JSON ---- */

void probe_json_str_or_null(const char *s)
{
    if (s == NULL || *s == '\0') {
        printf("null");
    }
    else {
        expect_fput_json_string(stdout, s);
    }
}

static void json_ms(long ms)
{
    if (ms < 0) {
        printf("null");
    }
    else {
        printf("%ld", ms);
    }
}

static void json_finding(const probe_finding_t *f)
{
    const probe_diag_t *d = probe_diag(f->id);

    printf("{\"key\": \"%s\", \"severity\": \"%s\", \"exit_code\": %d, \"check\": \"%s\",\n"
           "    \"summary\": ", d->key, probe_severity_name(d->severity), d->exit_code,
           probe_check_name(f->check));
    expect_fput_json_string(stdout, d->summary);
    printf(",\n    \"client_fix\": ");
    expect_fput_json_string(stdout, d->client_fix);
    printf(",\n    \"server_fix\": ");
    expect_fput_json_string(stdout, d->server_fix);
    printf("}");
}

void probe_print_json(const probe_run_t *x, const probe_run_t *http1,
                      const probe_comparison_t *cmp, int exit_code)
{
    const probe_finding_t *f = x->f;
    size_t i, nf = x->nf;
    int k;

    printf("{\"format\": \"mod_expect.probe\", \"version\": 1,\n \"url\": ");
    expect_fput_json_string(stdout, x->o->url);
    printf(", \"scheme\": \"%s\", \"host\": ", x->url.tls ? "https" : "http");
    expect_fput_json_string(stdout, x->url.host);
    printf(", \"port\": %u,\n \"address\": ", x->url.port);
    expect_fput_json_string(stdout, x->addr.numeric);
    printf(", \"family\": \"%s\", \"connect\": ", x->addr.family == AF_INET6 ? "ipv6" : "ipv4");
    probe_json_str_or_null(x->hop != NULL ? x->hop : x->o->connect);
    printf(", \"protocol\": \"%s\", \"proxy\": ", probe_proto_name(x->proto));
    if (x->via_proxy) {
        printf("{\"url\": ");
        expect_fput_json_string(stdout, x->o->proxy);
        printf(", \"tunnel\": %s}", x->tunnel ? "true" : "false");
    }
    else {
        printf("null");
    }
    printf(", \"tls\": ");
    if (!x->url.tls) {
        printf("null");
    }
    else {
        char ver[48] = "", cipher[64] = "";
        sscanf(x->tls_info, "%47s %63s", ver, cipher);
        printf("{\"version\": ");
        probe_json_str_or_null(ver);
        printf(", \"cipher\": ");
        probe_json_str_or_null(cipher);
        printf(", \"verified\": %s}", x->tls_verified ? "true" : "false");
    }
    printf(",\n \"method\": ");
    expect_fput_json_string(stdout, x->o->method);
    printf(", \"size\": %ld, \"timeout_ms\": %ld, \"wait_100_ms\": %ld, \"wait_other_ms\": %ld,\n"
           " \"checks\": [", x->o->size, x->o->timeout_ms, x->res.wait_100_ms, x->wait_other_ms);
    for (k = 0; k < PROBE_CHECK_COUNT; k++) {
        const probe_check_t *r = &x->res.check[k];
        int ran = r->outcome != PROBE_OUT_SKIPPED;
        if (x->proto == PROBE_PROTO_H1) {
            printf("%s\n  {\"name\": \"%s\", \"protocol\": \"HTTP/1.%d\", \"expect\": ",
                   k ? "," : "", probe_check_name((probe_check_id_t)k), probe_specs[k].minor);
        }
        else {
            printf("%s\n  {\"name\": \"%s\", \"protocol\": \"HTTP/2\", \"expect\": ",
                   k ? "," : "", probe_check_name((probe_check_id_t)k));
        }
        probe_json_str_or_null(probe_specs[k].expect);
        printf(", \"outcome\": \"%s\",\n   \"before_body\": ",
               not_applicable(x, (probe_check_id_t)k) ? "not-applicable" : outcome_name(r->outcome));
        if (ran) {
            printf("\"%s\"", before_name(r->before));
        }
        else {
            printf("null");
        }
        printf(", \"body_sent\": %s, \"interim_100\": %d, \"interim_100_after_body\": %d,"
               " \"interim_other\": %d,\n   \"first_interim_ms\": ",
               r->body_sent ? "true" : "false", r->n100, r->n100_late, r->n1xx_other);
        json_ms(ran ? r->first_interim_ms : -1);
        printf(", \"final_ms\": ");
        json_ms(ran ? r->final_ms : -1);
        printf(", \"status\": ");
        if (r->status) {
            printf("%d", r->status);
        }
        else {
            printf("null");
        }
        printf(", \"reason\": ");
        if (r->status && x->proto == PROBE_PROTO_H1) {  /* HTTP/2 has no reason phrase */
            expect_fput_json_string(stdout, r->reason);
        }
        else {
            printf("null");
        }
        printf(",\n   \"server\": ");
        probe_json_str_or_null(r->server);
        printf(", \"via\": ");
        probe_json_str_or_null(r->via);
        printf(", \"keep_alive\": %s, \"body_complete\": %s, \"reuse\": \"%s\", \"reuse_status\": ",
               r->keep_alive ? "true" : "false", r->body_complete ? "true" : "false",
               reuse_name(r->reuse));
        if (r->reuse_status) {
            printf("%d", r->reuse_status);
        }
        else {
            printf("null");
        }
        printf(",\n   \"detail\": ");
        probe_json_str_or_null(r->detail);
        printf("}");
    }
    printf("\n ],\n \"verdict\": ");
    json_finding(&f[0]);
    printf(",\n \"findings\": [");
    for (i = 0; i < nf; i++) {
        printf("%s\n  ", i ? "," : "");
        json_finding(&f[i]);
    }
    printf("\n ],\n \"comparison\": ");
    if (http1 != NULL && cmp != NULL) {
        printf("{\"expect_100\": ");
        expect_fput_json_string(stdout, cmp->expect_100);
        printf(", \"unknown\": ");
        expect_fput_json_string(stdout, cmp->unknown);
        printf(",\n  \"http1\": ");
        probe_print_json(http1, NULL, NULL, probe_diag(http1->f[0].id)->exit_code);
        printf("}");
    }
    else {
        printf("null");
    }
    printf(",\n \"exit_code\": %d, \"elapsed_ms\": %ld}\n", exit_code, x->elapsed_ms);
}
