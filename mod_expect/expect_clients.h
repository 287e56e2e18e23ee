/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_clients.h - what known HTTP clients do with Expect: 100-continue
 * and with a 417, told apart by their User-Agent, and the fix for each:
 * the client's own switch to stop sending Expect and the server-side
 * policy to give it.
 *
 * expectctl uses it to name the fix of a recorded 417 (`expectctl events`)
 * and to print the table (`expectctl clients`).  Not on the request path.
 * No httpd or APR headers: plain C99.
 */
#ifndef EXPECT_CLIENTS_H
#define EXPECT_CLIENTS_H

#include <stddef.h>
#include <stdint.h>

/* How an entry's pattern is compared with a User-Agent, always ignoring
 * ASCII case. */
typedef enum {
    EXPECT_CLIENT_MATCH_NONE = 0,   /* sends no User-Agent by default: never matched */
    EXPECT_CLIENT_MATCH_PREFIX,     /* the User-Agent starts with the pattern */
    EXPECT_CLIENT_MATCH_SUBSTRING,  /* the pattern occurs anywhere in it */
    EXPECT_CLIENT_MATCH_EXACT       /* the User-Agent is the pattern */
} expect_client_match_t;

/* Flags: what a 417 to its Expect: 100-continue does to the client. */
/* It does not return: the request never completes. */
#define EXPECT_CLIENT_HANGS        0x1u
/* It does not resend without Expect: the upload fails (or is dropped). */
#define EXPECT_CLIENT_LOSES_UPLOAD 0x2u
/* It sends the body with the head, so most or all of it crosses the
 * network before the 417 stops it: reject saves no bandwidth. */
#define EXPECT_CLIENT_SENDS_BODY   0x4u
/* The behaviour was measured by tests/integration/test_clients.py
 * (docs/CLIENTS.md); otherwise it comes from the client's documentation
 * or source. */
#define EXPECT_CLIENT_MEASURED     0x8u

typedef struct {
    const char *key;          /* stable token for JSON: "java-httpclient" */
    const char *family;       /* "Java HttpClient (java.net.http)" */
    expect_client_match_t match;
    const char *pattern;      /* "" for EXPECT_CLIENT_MATCH_NONE */
    const char *example_ua;   /* a real User-Agent it sends, or what to know when none */
    const char *sends_expect; /* when it sends Expect, and how it waits for the 100 */
    const char *on_417;       /* what it does when the answer is 417 */
    unsigned flags;           /* EXPECT_CLIENT_* */
    const char *client_fix;   /* its own switch to stop sending Expect */
    const char *policy_note;  /* why ExpectPolicy continue is the policy for it */
} expect_client_t;

/*
 * Version ranges.  A User-Agent carries the client's version, and a
 * behaviour can end with a release: an entry may name, per release line,
 * the first release that fixed it, and what holds from then on.  A version
 * in a line the entry names nothing for is not verified: its facts are
 * never claimed.
 */
typedef struct {
    const char *line;      /* "17": the versions 17 and 17.x.y */
    const char *fixed_in;  /* the first release with the fixed behaviour: "17.0.17" */
    const char *by;        /* the change that fixed it: "JDK-8364017" */
} expect_client_release_t;

typedef struct {
    const char *key;                /* the entry it belongs to */
    const char *version_after;      /* the version follows this in the User-Agent */
    const expect_client_release_t *fixed;  /* per release line, NULL-terminated */
    const char *measured;           /* the versions the entry's own facts were measured on */
    const char *fixed_on_417;       /* what a 417 does from the fix on */
    unsigned fixed_flags;           /* EXPECT_CLIENT_* from the fix on */
    const char *fixed_policy_note;  /* policy_note from the fix on */
    const char *unverified_note;    /* policy_note for a version not verified */
} expect_client_versions_t;

typedef enum {
    EXPECT_CLIENT_RANGE_ALL = 0,    /* the entry has no ranges: its facts, any version */
    EXPECT_CLIENT_RANGE_BEFORE,     /* a release line it names, before the fix */
    EXPECT_CLIENT_RANGE_FIXED,      /* a release line it names, the fix or later */
    EXPECT_CLIENT_RANGE_UNVERIFIED  /* another line, or no version in the User-Agent */
} expect_client_range_t;

/* What holds for one client at one version. */
typedef struct {
    const expect_client_t *client;
    expect_client_range_t range;
    const expect_client_release_t *release;  /* its line's fix: BEFORE and FIXED */
    char version[32];          /* from the User-Agent, "" when none */
    const char *on_417;        /* NULL when UNVERIFIED */
    unsigned flags;            /* EXPECT_CLIENT_*; 0 when UNVERIFIED */
    const char *policy_note;
} expect_client_facts_t;

/* The version ranges of an entry, or NULL when its facts hold for every
 * version. */
const expect_client_versions_t *expect_client_versions(const expect_client_t *c);

/*
 * Compare two versions numerically, component by component ("17.0.9" <
 * "17.0.17"; a missing component is 0; anything after the leading digits
 * and dots is ignored).  <0, 0, >0 like strcmp.
 */
int expect_client_version_cmp(const char *a, const char *b);

/*
 * Whether version v belongs to the release line ("17" holds 17, 17.0.15,
 * 17.1); 0 for a version that does not start with a digit.
 */
int expect_client_version_in_line(const char *v, const char *line);

/*
 * The facts of client c for the version its user_agent names (NULL or no
 * version: UNVERIFIED for an entry with ranges).  c NULL: f->client NULL.
 */
void expect_client_resolve(const expect_client_t *c, const char *user_agent,
                           expect_client_facts_t *f);

/* "before 17.0.17", "17.0.17 and later", "version not verified" or NULL
 * (RANGE_ALL): the range the facts hold for, as a label. */
size_t expect_client_range_label(char *dst, size_t dstsize, const expect_client_facts_t *f);


/*
 * The entry for a User-Agent, the first in the table's order that matches
 * (so "aws-cli/... botocore/..." is aws-cli, not botocore); NULL when none
 * does, or for a NULL or empty user_agent.  A linear scan.
 */
const expect_client_t *expect_client_match(const char *user_agent);

/* The table, in matching order: entry i, NULL past the end. */
const expect_client_t *expect_client_at(size_t i);
size_t expect_client_count(void);

/* "known to hang and lose the upload on a 417", "known to hang on a 417",
 * "known to lose the upload on a 417", or NULL: what the flags say. */
const char *expect_client_harm(unsigned flags);

/*
 * The client whose fix belongs to a recorded 417: only when the request's
 * Expect was exactly 100-continue and the 417 came from mod_expect (policy,
 * strict), a handler or a backend; httpd core's unknown-expectation 417
 * keeps its own fix.  NULL: use expect_reason_text(reason).
 */
const expect_client_t *expect_client_for_event(uint32_t producer, uint32_t reason,
                                               const char *expect, const char *user_agent);

/*
 * The ap_expr condition that selects the client's requests, for an <If>
 * section, e.g. %{HTTP_USER_AGENT} =~ m#^Java-http-client/#i ; empty for an
 * entry that is never matched.  Works like snprintf: returns the whole
 * length, writes what fits, NUL-terminated when dstsize > 0.
 */
size_t expect_client_condition(char *dst, size_t dstsize, const expect_client_t *c);

/*
 * The one-line fix of a recorded 417 (reason: an expect_reason_t) for a
 * client at its version (f from expect_client_resolve): what happened,
 * whether that version is known to hang or to lose the upload on a 417 (or
 * that it is not verified), its own switch, and the server-side policy for
 * it.  No double quote, no control character.  snprintf-like, as above.
 */
size_t expect_client_fix(char *dst, size_t dstsize, const expect_client_facts_t *f,
                         uint32_t reason);

/* The server-side part alone, for the reason. snprintf-like, as above. */
size_t expect_client_server_fix(char *dst, size_t dstsize, const expect_client_facts_t *f,
                                uint32_t reason);

#endif /* EXPECT_CLIENTS_H */
