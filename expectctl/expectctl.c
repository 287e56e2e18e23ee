/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expectctl.c - entry point: parse, attach the segment, run the verb,
 * turn every failure into one line on stderr and a documented exit code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctl.h"

#include "expect_version.h"

static void usage(FILE *f)
{
    size_t i;
    const char *syn;

    fprintf(f, "usage: expectctl [-s PATH] COMMAND [ARGS]\n\ncommands:\n");
    for (i = 0; (syn = ctl_verb_synopsis(i)) != NULL; i++) {
        fprintf(f, "  %s\n", syn);
    }
    fprintf(f, "\n  -s PATH      the segment (default: $EXPECTCTL_SHM, else %s/mod_expect.shm)\n"
               "  -i NAME      the segment of the Debian instance apache2-NAME (%s-NAME)\n"
               "  --help, --version\n\n"
               "exit codes: 0 ok, 1 failure, 2 usage, 3 no segment, 4 permission denied,\n"
               "            5 corrupt or incompatible segment, 6 partial data (events --from:\n"
               "            lines skipped, doubled or lost; 1 if a file cannot be opened);\n"
               "            probe: 0 healthy, 10-18 the verdict's problem (see expectctl(8));\n"
               "            with --compare or --chain the first problem, else 1 if a probe\n"
               "            could not run\n",
            ctl_runtime_dir(), ctl_runtime_dir());
}

/* How often a restart that replaces the files is followed, and how often
 * set writes again into a configuration that changed under it. */
#define ATTACH_TRIES 5
#define SET_TRIES 10

static const char *advice(expect_shm_err_t e)
{
    switch (e) {
    case EXPECT_SHM_ENOENT:
        return "is httpd running with mod_expect? check ExpectShmFile or pass -s PATH";
    case EXPECT_SHM_EACCES:
        return "run expectctl as root";
    case EXPECT_SHM_ECORRUPT:
        return "restart httpd to rebuild it, or use the expectctl built with this mod_expect";
    default:
        return "see the error above";
    }
}

/*
 * Attach what the verb needs: stats and events read counters and events,
 * so both files, validated; policy, set and reset need the control file
 * only, which httpd's children cannot write (so a damaged statistics file
 * never locks root out).  Then make sure a running httpd serves it.
 */
static int attach_live(expect_shm_t *h, const ctl_opts_t *o)
{
    int writable = o->verb == CTL_VERB_SET || o->verb == CTL_VERB_RESET;
    int both = o->verb == CTL_VERB_STATS || o->verb == CTL_VERB_EVENTS
               || o->verb == CTL_VERB_TOP;
    expect_shm_err_t e;
    char why[512];
    int tries;

    for (tries = 0;; tries++) {
        why[0] = '\0';
        e = both ? expect_shm_attach(h, o->shm_path, 0, why, sizeof(why))
                 : expect_shm_attach_control(h, o->shm_path, writable, why, sizeof(why));
        if (e != EXPECT_SHM_OK) {
            fprintf(stderr, "expectctl: %s: %s; %s\n", o->shm_path,
                    why[0] ? why : "cannot attach", advice(e));
            return (int)e;
        }
        switch (ctl_liveness(h, o->shm_path, why, sizeof(why))) {
        case CTL_LIVE:
            return CTL_EXIT_OK;
        case CTL_REPLACED:
            expect_shm_detach(h);
            if (tries < ATTACH_TRIES) {
                continue;   /* a restart put new files in place: take those */
            }
            break;
        default:
            expect_shm_detach(h);
            break;
        }
        fprintf(stderr, "expectctl: %s: %s; %s\n", o->shm_path, why,
                o->verb == CTL_VERB_SET || o->verb == CTL_VERB_RESET
                    ? "nothing was changed" : "is httpd running with mod_expect?");
        return CTL_EXIT_NOSEG;
    }
}

/*
 * set and reset must reach the configuration that serves: a graceful
 * restart may rebuild the segment, or re-mark its vhosts, while they write.
 * Write while the control file says LIVE with generation G, then look
 * again: still LIVE, still G, still the files at the path, and the restart
 * that may have begun since had not yet copied anything (the parent marks
 * RESTARTING before it reads a byte).  Otherwise write again, into
 * whatever serves now.
 */
static int write_verified(expect_shm_t *h, const ctl_opts_t *o,
                          int (*write)(expect_shm_t *, const ctl_opts_t *),
                          int (*report)(const expect_shm_t *, const ctl_opts_t *))
{
    expect_shm_liveness_t before, after;
    int rc, tries;

    for (tries = 0;; tries++) {
        expect_shm_liveness(h, &before);
        if ((rc = write(h, o)) != CTL_EXIT_OK) {
            return rc;
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        expect_shm_liveness(h, &after);
        if (after.state == EXPECT_SEG_LIVE && after.generation == before.generation
            && before.state == EXPECT_SEG_LIVE && expect_shm_is_current(h, o->shm_path)) {
            return report(h, o);
        }
        expect_shm_detach(h);
        if (tries >= SET_TRIES) {
            fprintf(stderr, "expectctl: %s: httpd kept restarting while this was being "
                    "written; it may not have reached every virtual host: run the "
                    "command again\n", o->shm_path);
            return CTL_EXIT_FAIL;
        }
        if ((rc = attach_live(h, o)) != CTL_EXIT_OK) {
            /* The write may sit in a segment a restart will take back. */
            fprintf(stderr, "expectctl: it was written to the segment as a restart "
                    "began; check with expectctl policy once httpd serves again\n");
            return rc;
        }
    }
}

static int run_on_segment(const ctl_opts_t *o)
{
    expect_shm_t h;
    int rc;

    if ((rc = attach_live(&h, o)) != CTL_EXIT_OK) {
        return rc;
    }
    switch (o->verb) {
    case CTL_VERB_STATS:  rc = ctl_stats(&h, o); break;
    case CTL_VERB_EVENTS:
        rc = o->summary ? ctl_events_summary(&h, o) : ctl_events(&h, o);
        break;
    case CTL_VERB_POLICY: rc = ctl_policy(&h, o); break;
    case CTL_VERB_TOP:    rc = ctl_top(&h, o); break;
    case CTL_VERB_SET:    rc = write_verified(&h, o, ctl_set, ctl_set_report); break;
    case CTL_VERB_RESET:  rc = write_verified(&h, o, ctl_reset, ctl_reset_report); break;
    default:              rc = CTL_EXIT_USAGE; break;
    }
    /* Safe after write_verified let go of it: a detached handle is zeroed. */
    expect_shm_detach(&h);
    return rc;
}

int main(int argc, char **argv)
{
    ctl_opts_t o;
    char err[512], path[1024];
    int rc, explicit_path = 1;

    if (ctl_parse_args(argc, argv, getenv("EXPECTCTL_SHM"), &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "expectctl: %s\n", err);
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (o.verb == CTL_VERB_HELP) {
        usage(stdout);
        return CTL_EXIT_OK;
    }
    if (o.verb == CTL_VERB_VERSION) {
        printf("expectctl %s (%s; segment layout %u)\n", EXPECT_VERSION, EXPECT_BUILD,
               (unsigned)EXPECT_SHM_LAYOUT_VERSION);
        return CTL_EXIT_OK;
    }
    if (o.verb == CTL_VERB_PROBE) {
        /* probe talks to a server over the network: no segment, no root. */
        rc = ctl_probe(&o);
        if (fflush(stdout) != 0 && rc == CTL_EXIT_OK) {
            rc = CTL_EXIT_FAIL;
        }
        return rc;
    }
    if (o.since_ago_usec != 0) {
        /* --since DURATION counts back from now, once for the whole run. */
        uint64_t now = ctl_now_usec();
        o.since_usec = now > o.since_ago_usec ? now - o.since_ago_usec : 1;
    }
    if (o.verb == CTL_VERB_EVENTS && o.from != NULL) {
        /* Event logs: no segment, and no privilege beyond reading them. */
        rc = ctl_events_from(&o);
        if (fflush(stdout) != 0 && rc == CTL_EXIT_OK) {
            rc = CTL_EXIT_FAIL;
        }
        return rc;
    }
    if (o.verb == CTL_VERB_CLIENTS) {
        /* The table is compiled in: no segment, no root. */
        rc = ctl_clients(&o);
        if (fflush(stdout) != 0 && rc == CTL_EXIT_OK) {
            rc = CTL_EXIT_FAIL;
        }
        return rc;
    }
    if (o.shm_path == NULL) {
        explicit_path = o.instance != NULL;
        if (ctl_segment_path(&o, path, sizeof(path)) != 0) {
            fprintf(stderr, "expectctl: the segment's path is too long\n");
            return CTL_EXIT_USAGE;
        }
        o.shm_path = path;
        if (o.instance != NULL && access(path, F_OK) != 0 && errno == ENOENT) {
            /* A mistyped -i: say so, and which names would work. */
            fprintf(stderr, "expectctl: no instance '%s' exists: no segment at %s\n",
                    o.instance, path);
            if (ctl_list_instances(NULL) > 0) {
                fprintf(stderr, "expectctl: the instances with a segment:\n");
                ctl_list_instances(stderr);
            }
            else {
                fprintf(stderr, "expectctl: no instance has a segment (is httpd running "
                        "with mod_expect?)\n");
            }
            return CTL_EXIT_NOSEG;
        }
    }
    rc = run_on_segment(&o);
    if (rc == CTL_EXIT_NOSEG && !explicit_path && access(o.shm_path, F_OK) != 0) {
        /* The default is absent: say which instances do have a segment. */
        if (ctl_list_instances(NULL) > 0) {
            fprintf(stderr, "expectctl: other httpd instances have a segment:\n");
            ctl_list_instances(stderr);
            fprintf(stderr, "expectctl: name one with -i NAME or -s PATH\n");
        }
    }
    if (fflush(stdout) != 0 && rc == CTL_EXIT_OK) {
        rc = CTL_EXIT_FAIL;
    }
    return rc;
}
