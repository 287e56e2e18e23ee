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

static void clients_print_text(const expect_client_t *c)
{
    char cond[256];
    const char *harm = expect_client_harm(c);

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
    printf("  on 417      %s%s%s\n", c->on_417, harm ? "; " : "", harm ? harm : "");
    printf("  its switch  %s\n", c->client_fix);
    printf("  server      ExpectPolicy continue for it (%s)", c->policy_note);
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

static void clients_print_json(const expect_client_t *c)
{
    char cond[256], server[1024];
    int none = c->match == EXPECT_CLIENT_MATCH_NONE;

    expect_client_condition(cond, sizeof(cond), c);
    expect_client_server_fix(server, sizeof(server), c, EXPECT_REASON_POLICY);
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
    printf("}");
}

int ctl_clients(const ctl_opts_t *o)
{
    const expect_client_t *c, *only = NULL;
    size_t i;
    int first = 1;

    if (o->user_agent != NULL) {
        only = expect_client_match(o->user_agent);
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
            clients_print_json(c);
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
        clients_print_text(only);
        return CTL_EXIT_OK;
    }
    printf("%u client families, in matching order: the first whose User-Agent rule\n"
           "matches wins, ignoring case.  expectctl events gives a 417 to their\n"
           "100-continue the fix below.\n", (unsigned)expect_client_count());
    for (i = 0; (c = expect_client_at(i)) != NULL; i++) {
        putchar('\n');
        clients_print_text(c);
    }
    return CTL_EXIT_OK;
}
