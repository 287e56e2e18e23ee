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

static int run_on_segment(const ctl_opts_t *o)
{
    expect_shm_t h;
    int rc;

    if ((rc = ctl_attach_live(&h, o)) != CTL_EXIT_OK) {
        return rc;
    }
    switch (o->verb) {
    case CTL_VERB_STATS:  rc = ctl_stats(&h, o); break;
    case CTL_VERB_EVENTS:
        rc = o->summary ? ctl_events_summary(&h, o) : ctl_events(&h, o);
        break;
    case CTL_VERB_POLICY: rc = ctl_policy(&h, o); break;
    case CTL_VERB_TOP:    rc = ctl_top(&h, o); break;
    case CTL_VERB_SET:    rc = ctl_write_verified(&h, o, ctl_set, ctl_set_report); break;
    case CTL_VERB_RESET:  rc = ctl_write_verified(&h, o, ctl_reset, ctl_reset_report); break;
    default:              rc = CTL_EXIT_USAGE; break;
    }
    /* Safe after ctl_write_verified let go of it: a detached handle is zeroed. */
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
