/*
 * expectctl.c - entry point: parse, attach the segment, run the verb,
 * turn every failure into one line on stderr and a documented exit code.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"

#ifndef EXPECT_DEFAULT_SHM
#define EXPECT_DEFAULT_SHM "/var/run/apache2/mod_expect.shm"
#endif
#ifndef EXPECT_VERSION
#define EXPECT_VERSION "0.0.0"
#endif

static void usage(FILE *f)
{
    size_t i;
    const char *syn;

    fprintf(f, "usage: expectctl [-s PATH] COMMAND [ARGS]\n\ncommands:\n");
    for (i = 0; (syn = ctl_verb_synopsis(i)) != NULL; i++) {
        fprintf(f, "  %s\n", syn);
    }
    fprintf(f, "\n  -s PATH      the segment (default: $EXPECTCTL_SHM, else %s)\n"
               "  --help, --version\n\n"
               "exit codes: 0 ok, 1 failure, 2 usage, 3 no segment, 4 permission denied,\n"
               "            5 corrupt or incompatible segment;\n"
               "            probe: 0 healthy, 10-18 the verdict's problem (see expectctl(8))\n",
            EXPECT_DEFAULT_SHM);
}

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

int main(int argc, char **argv)
{
    ctl_opts_t o;
    expect_shm_t h;
    expect_shm_err_t e;
    char err[512], why[256];
    int writable, rc;

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
        printf("expectctl %s (segment layout %u)\n", EXPECT_VERSION,
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
    if (o.shm_path == NULL) {
        o.shm_path = EXPECT_DEFAULT_SHM;
    }
    writable = o.verb == CTL_VERB_SET || o.verb == CTL_VERB_RESET;
    why[0] = '\0';
    e = expect_shm_attach(&h, o.shm_path, writable, why, sizeof(why));
    if (e != EXPECT_SHM_OK) {
        fprintf(stderr, "expectctl: %s: %s; %s\n", o.shm_path,
                why[0] ? why : "cannot attach", advice(e));
        return (int)e;
    }
    switch (o.verb) {
    case CTL_VERB_STATS:  rc = ctl_stats(&h, &o); break;
    case CTL_VERB_EVENTS: rc = ctl_events(&h, &o); break;
    case CTL_VERB_POLICY: rc = ctl_policy(&h, &o); break;
    case CTL_VERB_SET:    rc = ctl_set(&h, &o); break;
    case CTL_VERB_RESET:  rc = ctl_reset(&h, &o); break;
    default:              rc = CTL_EXIT_USAGE; break;
    }
    if (fflush(stdout) != 0 && rc == CTL_EXIT_OK) {
        rc = CTL_EXIT_FAIL;
    }
    expect_shm_detach(&h);
    return rc;
}
