/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_shm_internal.h - what the expect_shm_*.c files share with each
 * other and with nobody else: layout arithmetic, handle filling, the one
 * control-file write primitive and the reason formatter.  Not installed,
 * not included by the module's glue, expectctl or the tests.
 */
#ifndef EXPECT_SHM_INTERNAL_H
#define EXPECT_SHM_INTERNAL_H

#include <sys/types.h>

#include "expect_shm.h"

/* Offsets and length of the statistics file / the control file. */
typedef struct {
    uint64_t vhosts_offset;
    uint64_t ring_offset;
    uint64_t pending_offset;
    uint64_t total;
} expect_layout_t;

typedef struct {
    uint64_t entries_offset;
    uint64_t total;
} expect_ctl_layout_t;

/* expect_shm_geometry.c */
void expect_shm_set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 0, or -1 when the geometry is out of bounds. */
int expect_shm_layout(uint32_t cap, uint32_t slots, uint32_t pending, expect_layout_t *l);
int expect_shm_ctl_layout(uint32_t cap, expect_ctl_layout_t *l);
void expect_shm_zero_handle(expect_shm_t *h);
/* Wall clock, microseconds since the epoch (0 if unreadable). */
uint64_t expect_shm_now_usec(void);
/* Point the handle's shortcuts into mappings whose geometry is trusted. */
void expect_shm_fill_handle(expect_shm_t *h, void *base, size_t size,
                            const expect_shm_header_t *geom,
                            void *cbase, size_t csize, const expect_ctl_header_t *cgeom);

/* expect_shm_file.c: pwrite() all of buf or fail with errno set. */
int expect_shm_pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* expect_shm_table.c: zero one slot's counters and last-417 time. */
void expect_shm_zero_counters(expect_shm_vhost_t *vh);

/* expect_shm_ring.c: NUL-terminate every string field of an event. */
void expect_shm_terminate_event(expect_shm_event_t *ev);

/* expect_shm_validate.c.  Both files valid; then do they belong together?
 * EXPECT_SHM_PAIR_MISMATCH marks a token mismatch, which attach retries
 * (a restart renames the new pair into place one file at a time). */
#define EXPECT_SHM_PAIR_MISMATCH 100
int expect_shm_check_pairing(const void *buf, const void *ctl, char *why, size_t whylen);

#endif /* EXPECT_SHM_INTERNAL_H */
