/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_attach.c - attaching a segment a running httpd serves, and writing
 * into it so that the write reaches the configuration that serves: what
 * every verb on a segment starts with (expectctl.c), and what set and
 * reset, and top's policy change, write through.  In a file of its own so
 * that top calls the same code as set without a call cycle.
 */
#include <stdio.h>

#include "ctl.h"

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
int ctl_attach_live(expect_shm_t *h, const ctl_opts_t *o)
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
int ctl_write_verified(expect_shm_t *h, const ctl_opts_t *o,
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
        if ((rc = ctl_attach_live(h, o)) != CTL_EXIT_OK) {
            /* The write may sit in a segment a restart will take back. */
            fprintf(stderr, "expectctl: it was written to the segment as a restart "
                    "began; check with expectctl policy once httpd serves again\n");
            return rc;
        }
    }
}
