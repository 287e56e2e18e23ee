/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_clients.c - `expectctl clients`: the client table compiled into the
 * core (expect_clients.c), in matching order, or the entry one User-Agent
 * matches.  Needs no segment and no privilege.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "expect_clients.h"
#include "expect_format.h"
#include "expect_shm_layout.h"

static const char *clients_match_name(expect_client_match_t m)
{
    switch (m) {
    case EXPECT_CLIENT_MATCH_PREFIX:    return "prefix";
    case EXPECT_CLIENT_MATCH_SUBSTRING: return "substring";
    case EXPECT_CLIENT_MATCH_EXACT:     return "exact";
    default:                            return "none";
    }
}

/* "on 417" for an entry with version ranges: each side of each fix, and
 * that other release lines are not verified. */
static void clients_print_ranges(const expect_client_t *c, const expect_client_versions_t *v)
{
    const expect_client_release_t *r;
    const char *harm;

    for (r = v->fixed; r->line != NULL; r++) {
        harm = expect_client_harm(c->flags);
        printf("%s%s.x before %s (measured on %s): %s%s%s\n", r == v->fixed ? "" : "              ",
               r->line, r->fixed_in, v->measured, c->on_417, harm ? "; " : "", harm ? harm : "");
        harm = expect_client_harm(v->fixed_flags);
        printf("              %s and later (%s): %s%s%s\n", r->fixed_in, r->by, v->fixed_on_417,
               harm ? "; " : "", harm ? harm : "");
    }
    printf("              other release lines: not verified\n");
}

/* c with the facts f of one User-Agent's version, or f NULL: the listing. */
static void clients_print_text(const expect_client_t *c, const expect_client_facts_t *f)
{
    char cond[256], range[96];
    const expect_client_versions_t *v = expect_client_versions(c);
    const char *harm = expect_client_harm(f != NULL ? f->flags : c->flags);
    const char *note = f != NULL ? f->policy_note : c->policy_note;

    printf("%s  [%s]\n", c->family, c->key);
    if (c->match == EXPECT_CLIENT_MATCH_NONE) {
        printf("  user-agent  %s\n", c->example_ua);
    }
    else {
        printf("  user-agent  %s %s, e.g. %s\n",
               c->match == EXPECT_CLIENT_MATCH_PREFIX ? "starts with"
               : c->match == EXPECT_CLIENT_MATCH_EXACT ? "is exactly" : "contains",
               c->pattern, c->example_ua);
    }
    printf("  expect      %s\n", c->sends_expect);
    if (f != NULL && v != NULL) {
        expect_client_range_label(range, sizeof(range), f);
        printf("  version     %s: %s\n", f->version[0] ? f->version : "none in the User-Agent",
               range);
    }
    if (v == NULL) {
        printf("  on 417      %s%s%s\n", c->on_417, harm ? "; " : "", harm ? harm : "");
    }
    else if (f != NULL && f->range != EXPECT_CLIENT_RANGE_UNVERIFIED) {
        printf("  on 417      %s%s%s\n", f->on_417, harm ? "; " : "", harm ? harm : "");
    }
    else {
        printf("  on 417      ");
        clients_print_ranges(c, v);
    }
    printf("  its switch  %s\n", c->client_fix);
    printf("  server      ExpectPolicy continue for it (%s)", note);
    if (c->match == EXPECT_CLIENT_MATCH_NONE) {
        printf(", where it uploads: it has no User-Agent to scope by\n");
    }
    else {
        expect_client_condition(cond, sizeof(cond), c);
        printf(":\n              <If '%s'>\n                  ExpectPolicy continue\n"
               "              </If>\n", cond);
    }
    printf("  measured    %s\n", (c->flags & EXPECT_CLIENT_MEASURED)
           ? "yes, see docs/CLIENTS.md" : "no: not in the measured matrix of docs/CLIENTS.md");
}

static void clients_json_field(const char *name, const char *value, int last)
{
    printf("\"%s\": ", name);
    if (value == NULL) {
        printf("null");
    }
    else {
        expect_fput_json_string(stdout, value);
    }
    printf("%s", last ? "" : ", ");
}

static void clients_json_flags(unsigned flags)
{
    printf("\"hangs_on_417\": %s, \"loses_upload_on_417\": %s, "
           "\"sends_body_before_417\": %s",
           (flags & EXPECT_CLIENT_HANGS) ? "true" : "false",
           (flags & EXPECT_CLIENT_LOSES_UPLOAD) ? "true" : "false",
           (flags & EXPECT_CLIENT_SENDS_BODY) ? "true" : "false");
}

/*
 * Added with the version ranges (additive: the fields above keep the
 * entry's own facts, which hold for every version when version_ranges is
 * null, and before each fix otherwise).
 */
static void clients_json_versions(const expect_client_t *c, const expect_client_facts_t *f)
{
    const expect_client_versions_t *v = expect_client_versions(c);
    const expect_client_release_t *r;
    char range[96];

    printf(", \"version_ranges\": ");
    if (v == NULL) {
        printf("null");
    }
    else {
        printf("{");
        clients_json_field("version_after", v->version_after, 0);
        clients_json_field("measured_on", v->measured, 0);
        printf("\"fixed_in\": [");
        for (r = v->fixed; r->line != NULL; r++) {
            printf("%s{", r == v->fixed ? "" : ", ");
            clients_json_field("line", r->line, 0);
            clients_json_field("release", r->fixed_in, 0);
            clients_json_field("by", r->by, 1);
            printf("}");
        }
        printf("], \"fixed\": {");
        clients_json_field("on_417", v->fixed_on_417, 0);
        clients_json_flags(v->fixed_flags);
        printf("}, \"other_lines\": \"not verified\"}");
    }
    if (f == NULL) {
        return;
    }
    /* One User-Agent: the facts of its version. */
    expect_client_range_label(range, sizeof(range), f);
    printf(", \"version\": ");
    if (f->version[0] != '\0') {
        expect_fput_json_string(stdout, f->version);
    }
    else {
        printf("null");
    }
    printf(", \"resolved\": {\"range\": ");
    if (f->range == EXPECT_CLIENT_RANGE_ALL) {
        printf("\"every version\"");
    }
    else {
        expect_fput_json_string(stdout, range);
    }
    printf(", \"verified\": %s, ", f->range == EXPECT_CLIENT_RANGE_UNVERIFIED ? "false" : "true");
    clients_json_field("on_417", f->on_417, 0);
    if (f->range == EXPECT_CLIENT_RANGE_UNVERIFIED) {
        printf("\"hangs_on_417\": null, \"loses_upload_on_417\": null, "
               "\"sends_body_before_417\": null");
    }
    else {
        clients_json_flags(f->flags);
    }
    printf(", ");
    clients_json_field("policy_note", f->policy_note, 1);
    printf("}");
}

static void clients_print_json(const expect_client_t *c, const expect_client_facts_t *f)
{
    char cond[256], server[1024];
    int none = c->match == EXPECT_CLIENT_MATCH_NONE;
    expect_client_facts_t own;

    /* The entry's own facts, for the fields that were there first. */
    expect_client_resolve(c, NULL, &own);
    own.range = EXPECT_CLIENT_RANGE_ALL;
    own.on_417 = c->on_417;
    own.flags = c->flags;
    own.policy_note = c->policy_note;
    expect_client_condition(cond, sizeof(cond), c);
    expect_client_server_fix(server, sizeof(server), &own, EXPECT_REASON_POLICY);
    printf("{");
    clients_json_field("key", c->key, 0);
    clients_json_field("family", c->family, 0);
    printf("\"match\": \"%s\", ", clients_match_name(c->match));
    clients_json_field("pattern", none ? NULL : c->pattern, 0);
    clients_json_field("user_agent", c->example_ua, 0);
    clients_json_field("sends_expect", c->sends_expect, 0);
    clients_json_field("on_417", c->on_417, 0);
    printf("\"hangs_on_417\": %s, \"loses_upload_on_417\": %s, "
           "\"sends_body_before_417\": %s, \"measured\": %s, ",
           (c->flags & EXPECT_CLIENT_HANGS) ? "true" : "false",
           (c->flags & EXPECT_CLIENT_LOSES_UPLOAD) ? "true" : "false",
           (c->flags & EXPECT_CLIENT_SENDS_BODY) ? "true" : "false",
           (c->flags & EXPECT_CLIENT_MEASURED) ? "true" : "false");
    clients_json_field("client_fix", c->client_fix, 0);
    clients_json_field("condition", none ? NULL : cond, 0);
    clients_json_field("server_fix", server, 1);
    clients_json_versions(c, f);
    printf("}");
}

int ctl_clients(const ctl_opts_t *o)
{
    const expect_client_t *c, *only = NULL;
    expect_client_facts_t facts;
    size_t i;
    int first = 1;

    if (o->user_agent != NULL) {
        only = expect_client_match(o->user_agent);
        expect_client_resolve(only, o->user_agent, &facts);
    }
    if (o->format == CTL_FMT_JSON) {
        printf("{\"format\": \"mod_expect.clients\", \"version\": 1, \"user_agent\": ");
        if (o->user_agent != NULL) {
            expect_fput_json_string(stdout, o->user_agent);
        }
        else {
            printf("null");
        }
        printf(", \"clients\": [");
        for (i = 0; (c = expect_client_at(i)) != NULL; i++) {
            if (o->user_agent != NULL && c != only) {
                continue;
            }
            printf("%s\n  ", first ? "" : ",");
            clients_print_json(c, o->user_agent != NULL ? &facts : NULL);
            first = 0;
        }
        printf("\n]}\n");
        return o->user_agent != NULL && only == NULL ? CTL_EXIT_FAIL : CTL_EXIT_OK;
    }
    if (o->user_agent != NULL) {
        if (only == NULL) {
            printf("no entry matches User-Agent \"");
            expect_fput_text(stdout, o->user_agent);
            printf("\": expectctl events gives its 417s the generic fix\n");
            return CTL_EXIT_FAIL;
        }
        clients_print_text(only, &facts);
        return CTL_EXIT_OK;
    }
    printf("%u client families, in matching order: the first whose User-Agent rule\n"
           "matches wins, ignoring case.  expectctl events gives a 417 to their\n"
           "100-continue the fix below.\n", (unsigned)expect_client_count());
    for (i = 0; (c = expect_client_at(i)) != NULL; i++) {
        putchar('\n');
        clients_print_text(c, NULL);
    }
    return CTL_EXIT_OK;
}
