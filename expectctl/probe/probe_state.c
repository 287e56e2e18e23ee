/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_state.c - what every file of one probe run reads and no file of it
 * writes: the table of the four checks, the run's deadline, and the
 * protocols' names.  It calls nothing of the engine's but the clock
 * (probe_read.c), so the checks (probe_h1.c, probe_h2.c), the route and
 * the output call down into it and never back into the run (probe_run.c)
 * that calls them.
 */
#include <stddef.h>

#include "probe_run.h"

const probe_spec_t probe_specs[PROBE_CHECK_COUNT] = {
    {1, NULL, 0, "no Expect"},
    {1, "100-continue", 1, "Expect: 100-continue"},
    {1, "x-probe", 2, "Expect: x-probe"},
    {0, "100-continue", 2, "HTTP/1.0 + 100-continue"},
};

const char *probe_proto_name(probe_proto_t p)
{
    switch (p) {
    case PROBE_PROTO_H2:  return "h2";
    case PROBE_PROTO_H2C: return "h2c";
    case PROBE_PROTO_H1:
    default:              return "http/1.1";
    }
}

int64_t probe_run_deadline(const probe_run_t *x, long ms)
{
    int64_t d = probe_now_us() + (int64_t)ms * 1000;
    return d < x->end_us ? d : x->end_us;
}

long probe_since_ms(int64_t t0)
{
    return (long)((probe_now_us() - t0) / 1000);
}

