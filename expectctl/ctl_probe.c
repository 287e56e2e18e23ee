/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_probe.c - the `probe` verb: the command line's probe options, handed
 * to the probe engine (expectctl/probe/, probe_engine.h), which probes and
 * prints.  A URL or route that cannot make a probe is a usage error (exit
 * 2) before anything is sent.  The engine never calls back into this file.
 */
#include <stdio.h>

#include "ctl.h"
#include "probe/probe_engine.h"

/* The engine's exit statuses are expectctl's. */
_Static_assert(PROBE_EXIT_OK == CTL_EXIT_OK && PROBE_EXIT_FAIL == CTL_EXIT_FAIL,
               "probe_engine.h's exit statuses differ from ctl.h's");

int ctl_probe(const ctl_opts_t *o)
{
    probe_opts_t po = {0};
    char why[256];

    po.url = o->url;
    po.timeout_ms = o->timeout_ms;
    po.method = o->method;
    po.size = o->size;
    po.insecure = o->insecure;
    po.connect = o->connect;
    po.connect_to = o->connect_to;
    po.proxy = o->proxy;
    po.chain = o->chain;
    po.proto = o->http2 == CTL_PROBE_H2 ? PROBE_PROTO_H2
             : o->http2 == CTL_PROBE_H2C ? PROBE_PROTO_H2C : PROBE_PROTO_H1;
    po.compare = o->compare;
    po.json = o->format == CTL_FMT_JSON;
    switch (probe_opts_check(&po, why, sizeof(why))) {
    case PROBE_OPTS_BAD_URL:
        fprintf(stderr, "expectctl: probe: bad URL: %s: %s\n", why, o->url ? o->url : "");
        return CTL_EXIT_USAGE;
    case PROBE_OPTS_BAD_ROUTE:
        fprintf(stderr, "expectctl: probe: %s\n", why);
        return CTL_EXIT_USAGE;
    case PROBE_OPTS_OK:
    default:
        break;
    }
    return probe_start(&po);
}
