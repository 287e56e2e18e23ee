/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_prom.h - the Prometheus text format of the statistics, written
 * once for both expectctl (stats --prometheus) and the module's
 * expect-metrics handler.  No httpd headers.
 */
#ifndef EXPECT_PROM_H
#define EXPECT_PROM_H

#include <stddef.h>

#include "expect_format.h"
#include "expect_shm.h"

/* Writes every metric family for the n vhosts in v, in that order, then
 * the server-wide ones (evicted: the segment's pending_evicted). */
void expect_prom_write(const expect_shm_vhost_snap_t *v, size_t n, uint64_t evicted,
                       expect_emit_fn emit, void *ctx);

#endif /* EXPECT_PROM_H */
