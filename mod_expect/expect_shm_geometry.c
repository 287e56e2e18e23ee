/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_shm_geometry.c - where each region of the two files starts and
 * how long the files are, for a given capacity and ring size; and the
 * handle's shortcuts into a mapping of that geometry.
 *
 * Separate because every other expect_shm_*.c file needs this arithmetic,
 * and a reader must compute it exactly as the creator did.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "expect_shm_internal.h"

void expect_shm_set_why(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || whylen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

static uint64_t round_up(uint64_t v, uint64_t align)
{
    return (v + align - 1) / align * align;
}

/* Regions start on a boundary mmap() accepts as an offset here, and on
 * EXPECT_SHM_ALIGN everywhere so the layout check is host-independent. */
static uint64_t layout_align(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    uint64_t a = EXPECT_SHM_ALIGN;

    if (ps > 0 && (uint64_t)ps > a) {
        a = round_up((uint64_t)ps, EXPECT_SHM_ALIGN);
    }
    return a;
}

int expect_shm_layout(uint32_t cap, uint32_t slots, uint32_t pending, expect_layout_t *l)
{
    uint64_t a = layout_align();

    if (cap == 0 || cap > EXPECT_SHM_MAX_VHOSTS || slots > EXPECT_SHM_MAX_RING_SLOTS
        || pending > EXPECT_SHM_MAX_PENDING || pending % EXPECT_PENDING_WAYS != 0) {
        return -1;
    }
    l->vhosts_offset = a;
    l->ring_offset = round_up(l->vhosts_offset + (uint64_t)cap * sizeof(expect_shm_vhost_t), a);
    l->pending_offset = round_up(l->ring_offset + (uint64_t)slots * sizeof(expect_shm_event_t),
                                 a);
    l->total = round_up(l->pending_offset + (uint64_t)pending * sizeof(expect_shm_pending_t),
                        a);
    return 0;
}

int expect_shm_ctl_layout(uint32_t cap, expect_ctl_layout_t *l)
{
    uint64_t a = layout_align();

    if (cap == 0 || cap > EXPECT_SHM_MAX_VHOSTS) {
        return -1;
    }
    l->entries_offset = a;
    l->total = round_up(l->entries_offset + (uint64_t)cap * sizeof(expect_ctl_entry_t), a);
    return 0;
}

size_t expect_shm_size(uint32_t vhost_capacity, uint32_t ring_slots, uint32_t pending_slots)
{
    expect_layout_t l;

    if (expect_shm_layout(vhost_capacity, ring_slots, pending_slots, &l) != 0
        || l.total > SIZE_MAX) {
        return 0;
    }
    return (size_t)l.total;
}

size_t expect_shm_control_size(uint32_t vhost_capacity)
{
    expect_ctl_layout_t l;

    if (expect_shm_ctl_layout(vhost_capacity, &l) != 0 || l.total > SIZE_MAX) {
        return 0;
    }
    return (size_t)l.total;
}

int expect_shm_control_path(char *buf, size_t len, const char *path)
{
    int n;

    if (buf == NULL || path == NULL) {
        return -1;
    }
    n = snprintf(buf, len, "%s%s", path, EXPECT_SHM_CTL_SUFFIX);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

void expect_shm_zero_handle(expect_shm_t *h)
{
    memset(h, 0, sizeof(*h));
    h->ctl_fd = -1;
}

/* Point the handle's shortcuts into mappings whose geometry is trusted. */
void expect_shm_fill_handle(expect_shm_t *h, void *base, size_t size,
                        const expect_shm_header_t *geom,
                        void *cbase, size_t csize, const expect_ctl_header_t *cgeom)
{
    char *b = base, *cb = cbase;

    h->base = base;
    h->size = size;
    h->hdr = base;
    h->vhosts = (expect_shm_vhost_t *)(void *)(b + geom->vhosts_offset);
    h->ring = (expect_shm_event_t *)(void *)(b + geom->ring_offset);
    h->pending = geom->pending_slots
        ? (expect_shm_pending_t *)(void *)(b + geom->pending_offset) : NULL;
    h->pending_slots = geom->pending_slots;
    h->ctl_base = cbase;
    h->ctl_size = csize;
    h->ctl_hdr = cbase;
    h->ctl = (expect_ctl_entry_t *)(void *)(cb + cgeom->entries_offset);
    h->vhost_capacity = geom->vhost_capacity;
    h->ring_slots = geom->ring_slots;
    h->pair_token = geom->pair_token;
    h->retry_key[0] = cgeom->retry_key[0];
    h->retry_key[1] = cgeom->retry_key[1];
}

uint64_t expect_shm_now_usec(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
