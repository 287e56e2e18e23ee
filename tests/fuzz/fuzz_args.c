/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_args.c - libFuzzer harness for expectctl's command line parser,
 * ctl_parse_args(), with argv split from the input at NUL bytes.
 *
 * Input: byte 0 is flags (bit 0: the first piece is $EXPECTCTL_SHM,
 * bits 1-2 pick the error buffer size: 256, 24, 1 or 0); the rest is split
 * at NULs into at most 8 arguments after argv[0] = "expectctl", each in an
 * exact-size allocation.  The result is checked against the parser's
 * contract: what each verb allows, where the pointers point, and that
 * argv is left untouched.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 8

static int points_into(const char *p, char **argv, int argc)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (p == argv[i]) {
            return 1;
        }
    }
    return 0;
}

static int is_positional(const char *a)
{
    return !(a[0] == '-' && a[1] != '\0');
}

static int saw_dashdash(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            return 1;
        }
    }
    return 0;
}

static void check_ok(const ctl_opts_t *o, int argc, char **argv, const char *env)
{
    int i, npos = 0, saw_help = 0;

    FZ_ASSERT(o->verb != CTL_VERB_NONE);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0
            || strcmp(argv[i], "--version") == 0) {
            saw_help = 1;
        }
    }
    if (o->verb == CTL_VERB_HELP || o->verb == CTL_VERB_VERSION) {
        FZ_ASSERT(saw_help);
        return;
    }
    /* -s needs a non-empty value; the path is -s's, else the env's, else
     * NULL; -i NAME (a valid instance name from argv) leaves it NULL. */
    FZ_ASSERT(o->shm_path == NULL || o->shm_path[0] != '\0');
    FZ_ASSERT(o->shm_path == NULL || o->shm_path == env || points_into(o->shm_path, argv, argc));
    FZ_ASSERT(o->instance == NULL
              || (o->shm_path == NULL && points_into(o->instance, argv, argc)
                  && ctl_instance_name_ok(o->instance)));
    if (env != NULL && env[0] != '\0' && o->shm_path != env && o->instance == NULL) {
        FZ_ASSERT(points_into(o->shm_path, argv, argc));
    }
    FZ_ASSERT(o->count >= 1 && o->count <= (long)EXPECT_SHM_MAX_RING_SLOTS);
    FZ_ASSERT(o->format == CTL_FMT_TEXT || o->format == CTL_FMT_JSON
              || o->format == CTL_FMT_PROMETHEUS);
    /* VHOST is an argument, or its decoding (\\ and \xHH, as stats prints
     * names) in vhost_buf; after "--" it may start with a dash. */
    FZ_ASSERT(o->vhost == NULL || points_into(o->vhost, argv, argc) || o->vhost == o->vhost_buf);
    FZ_ASSERT(o->vhost == NULL || is_positional(o->vhost) || saw_dashdash(argc, argv));
    for (i = 1; i < argc; i++) {
        npos += is_positional(argv[i]);
    }
    FZ_ASSERT(npos >= 1);
    switch (o->verb) {
    case CTL_VERB_STATS:
        FZ_ASSERT(!o->follow);
        break;
    case CTL_VERB_EVENTS:
        FZ_ASSERT(o->format != CTL_FMT_PROMETHEUS && o->vhost == NULL);
        break;
    case CTL_VERB_POLICY:
    case CTL_VERB_RESET:
    case CTL_VERB_SET:
        FZ_ASSERT(o->format == CTL_FMT_TEXT && !o->follow);
        break;
    case CTL_VERB_PROBE:
        /* The URL is a positional from argv; its syntax is checked later,
         * by the probe engine (probe/probe_modes.c, which ctl_probe.c
         * calls).  The bounds are the parser's promise to it. */
        FZ_ASSERT(o->url != NULL && points_into(o->url, argv, argc));
        FZ_ASSERT(o->timeout_ms >= CTL_PROBE_TIMEOUT_MIN_MS
                  && o->timeout_ms <= CTL_PROBE_TIMEOUT_MAX_MS);
        FZ_ASSERT(o->size >= 0 && o->size <= CTL_PROBE_SIZE_MAX);
        FZ_ASSERT(o->format != CTL_FMT_PROMETHEUS && !o->follow);
        break;
    case CTL_VERB_CLIENTS:
        /* At most one User-Agent, a positional from argv; no VHOST. */
        FZ_ASSERT(o->user_agent == NULL || points_into(o->user_agent, argv, argc));
        FZ_ASSERT(o->user_agent == NULL || is_positional(o->user_agent)
                  || saw_dashdash(argc, argv));
        FZ_ASSERT(o->vhost == NULL);
        FZ_ASSERT(o->format != CTL_FMT_PROMETHEUS && !o->follow);
        break;
    case CTL_VERB_TOP:
        /* -d within its bounds; at most one PATTERN, a positional from
         * argv (a part of names, not a VHOST); text only. */
        FZ_ASSERT(o->delay_ms >= CTL_TOP_DELAY_MIN_MS && o->delay_ms <= CTL_TOP_DELAY_MAX_MS);
        FZ_ASSERT(o->pattern == NULL || points_into(o->pattern, argv, argc));
        FZ_ASSERT(o->pattern == NULL || is_positional(o->pattern) || saw_dashdash(argc, argv));
        FZ_ASSERT(o->vhost == NULL);
        FZ_ASSERT(o->format == CTL_FMT_TEXT && !o->follow);
        break;
    default:
        fz_fail("unexpected verb %d", (int)o->verb);
    }
    FZ_ASSERT(o->verb == CTL_VERB_TOP || (o->pattern == NULL && !o->once
                                          && o->delay_ms == CTL_TOP_DELAY_MS));
    FZ_ASSERT(o->verb == CTL_VERB_CLIENTS || o->user_agent == NULL);
    /* --from FILE...: a run of argv's own entries, none empty, for events
     * only, and never with a segment (-s, -i) or --follow. */
    if (o->from != NULL) {
        FZ_ASSERT(o->verb == CTL_VERB_EVENTS && o->nfrom >= 1 && !o->follow);
        FZ_ASSERT(o->from > argv && o->from + o->nfrom <= argv + argc);
        FZ_ASSERT(o->instance == NULL);
        for (i = 0; i < o->nfrom; i++) {
            FZ_ASSERT(o->from[i][0] != '\0');
            FZ_ASSERT(o->from[i][0] != '-' || o->from[i][1] == '\0');
        }
    }
    else {
        FZ_ASSERT(o->nfrom == 0 && !o->by_server);
    }
    FZ_ASSERT(!o->by_server || o->summary);
    FZ_ASSERT(o->verb == CTL_VERB_EVENTS || (o->since_usec == 0 && o->since_ago_usec == 0));
    if (o->verb == CTL_VERB_SET) {
        FZ_ASSERT(o->set_value == EXPECT_OVERRIDE_NONE
                  || o->set_value <= (uint32_t)EXPECT_POLICY_IGNORE);
        FZ_ASSERT(o->set_all ? o->vhost == NULL : o->vhost != NULL);
    }
    else {
        FZ_ASSERT(o->set_value == EXPECT_OVERRIDE_NONE && !o->set_all);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t errlens[4] = {256, 24, 1, 0};
    char *argv[MAX_ARGS + 2], *saved[MAX_ARGS + 2], *env = NULL;
    char err[256];
    uint8_t flags = size ? data[0] : 0;
    size_t pos = size ? 1 : 0, errlen = errlens[(flags >> 1) & 3];
    int argc = 1, i, rc, rc2;
    ctl_opts_t o, o2;

    argv[0] = strdup("expectctl");
    FZ_ASSERT(argv[0] != NULL);
    while (pos < size && argc < MAX_ARGS + 1) {
        const uint8_t *nul = memchr(data + pos, 0, size - pos);
        size_t n = nul ? (size_t)(nul - (data + pos)) : size - pos;
        char *s = malloc(n + 1);

        FZ_ASSERT(s != NULL);
        memcpy(s, data + pos, n);
        s[n] = '\0';
        pos += n + 1;
        if ((flags & 1) && env == NULL) {
            env = s;
            continue;
        }
        argv[argc++] = s;
    }
    argv[argc] = NULL;
    for (i = 0; i < argc; i++) {
        saved[i] = strdup(argv[i]);
        FZ_ASSERT(saved[i] != NULL);
    }

    memset(err, 'E', sizeof(err));
    rc = ctl_parse_args(argc, argv, env, &o, errlen ? err : NULL, errlen);
    FZ_ASSERT(rc == 0 || rc == -1);
    if (rc == 0) {
        check_ok(&o, argc, argv, env);
    }
    else if (errlen > 0) {
        size_t n = strnlen(err, errlen);
        FZ_ASSERT(n < errlen);                 /* NUL-terminated */
        FZ_ASSERT(errlen == 1 || n > 0);       /* says something */
        FZ_ASSERT(err[errlen < sizeof(err) ? errlen : sizeof(err) - 1] == 'E'
                  || errlen == sizeof(err));   /* stayed inside errlen */
    }
    /* Deterministic, and argv untouched. */
    rc2 = ctl_parse_args(argc, argv, env, &o2, err, sizeof(err));
    FZ_ASSERT(rc2 == rc);
    if (rc == 0) {
        /* A decoded VHOST points into its own struct's buffer. */
        FZ_ASSERT((o.vhost == o.vhost_buf) == (o2.vhost == o2.vhost_buf));
        if (o.vhost == o.vhost_buf) {
            FZ_ASSERT(strcmp(o.vhost, o2.vhost) == 0);
            o.vhost = o2.vhost = NULL;
        }
        FZ_ASSERT(memcmp(&o, &o2, sizeof(o)) == 0);
    }
    for (i = 0; i < argc; i++) {
        FZ_ASSERT(strcmp(saved[i], argv[i]) == 0);
        free(saved[i]);
        free(argv[i]);
    }
    free(env);
    return 0;
}
