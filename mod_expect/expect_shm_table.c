/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_shm_table.c - the vhost table: names and slots, the active flag
 * and configured policy, runtime overrides, counter snapshots and resets.
 *
 * Separate because every write to the control file goes through
 * ctl_write() here: an atomic store through expectctl's read-write
 * mapping, or pwrite() from the parent, whose mapping is read-only.
 */
#include <errno.h>
#include <string.h>
#include <sys/types.h>

#include "expect_shm_internal.h"

/* ---- control file writes ---- */

/*
 * Write len bytes at `field` (a place in the control mapping): an atomic
 * store through expectctl's read-write mapping, or pwrite() for the
 * parent, whose mapping is read-only.
 */
static apr_status_t ctl_write(expect_shm_t *h, void *field, const void *src, size_t len)
{
    uint64_t off;

    if (h == NULL || h->ctl_base == NULL) {
        return APR_EINVAL;
    }
    off = (uint64_t)((char *)field - (char *)h->ctl_base);
    if (off > h->ctl_size || len > h->ctl_size - off) {
        return APR_EINVAL;
    }
    switch (h->control_writable) {
    case EXPECT_CTL_MAPPED:
        if (len == sizeof(uint32_t) && off % sizeof(uint32_t) == 0) {
            uint32_t v;
            memcpy(&v, src, sizeof(v));
            __atomic_store_n((uint32_t *)field, v, __ATOMIC_RELEASE);
        }
        else {
            memcpy(field, src, len);
            __atomic_thread_fence(__ATOMIC_RELEASE);
        }
        return APR_SUCCESS;
    case EXPECT_CTL_PWRITE:
        if (h->ctl_fd < 0) {
            return APR_EACCES;
        }
        if (expect_shm_pwrite_all(h->ctl_fd, src, len, (off_t)off) != 0) {
            return APR_FROM_OS_ERROR(errno);
        }
        return APR_SUCCESS;
    default:
        return APR_EACCES;
    }
}

static apr_status_t ctl_set32(expect_shm_t *h, uint32_t *field, uint32_t v)
{
    return ctl_write(h, field, &v, sizeof(v));
}

uint32_t expect_shm_vhost_count(const expect_shm_t *h)
{
    uint32_t n;

    if (h == NULL || h->ctl_hdr == NULL) {
        return 0;
    }
    n = __atomic_load_n(&h->ctl_hdr->count, __ATOMIC_ACQUIRE);
    return n > h->vhost_capacity ? h->vhost_capacity : n;
}

/* FNV-1a, 64 bits: stable across builds and hosts, which a stored key
 * must be (expectctl computes the same key from what the user typed). */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void expect_shm_name_key(char *dst, const char *name)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = strlen(name), keep, i;
    uint64_t h;

    if (len < EXPECT_SHM_NAME_LEN) {
        expect_shm_strlcpy(dst, EXPECT_SHM_NAME_LEN, name);
        return;
    }
    /* Too long to store: a prefix, '~' and the whole name's hash, so that
     * two names that share the prefix never share a row. */
    keep = EXPECT_SHM_NAME_LEN - 1 - 1 - 16;
    memcpy(dst, name, keep);
    dst[keep] = '~';
    h = name_hash(name);
    for (i = 0; i < 16; i++) {
        dst[keep + 1 + i] = hex[(h >> (60 - 4 * i)) & 0xf];
    }
    dst[EXPECT_SHM_NAME_LEN - 1] = '\0';
}

int expect_shm_vhost_find(const expect_shm_t *h, const char *name)
{
    char key[EXPECT_SHM_NAME_LEN];
    uint32_t i, n = expect_shm_vhost_count(h);

    if (name == NULL) {
        return -1;
    }
    expect_shm_name_key(key, name);
    for (i = 0; i < n; i++) {
        if (strncmp(h->ctl[i].name, key, EXPECT_SHM_NAME_LEN) == 0) {
            return (int)i;
        }
    }
    return -1;
}

void expect_shm_zero_counters(expect_shm_vhost_t *vh)
{
    int c;

    for (c = 0; c < EXPECT_CTR_COUNT; c++) {
        __atomic_store_n(&vh->ctr[c], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&vh->last_417_usec, 0, __ATOMIC_RELAXED);
}

apr_status_t expect_shm_vhost_add(expect_shm_t *h, const char *name, uint32_t *slot)
{
    expect_ctl_entry_t e;
    apr_status_t rv;
    uint32_t n;
    int found;

    if (h == NULL || h->ctl_hdr == NULL || h->hdr == NULL || name == NULL
        || name[0] == '\0' || slot == NULL) {
        return APR_EINVAL;
    }
    found = expect_shm_vhost_find(h, name);
    if (found >= 0) {
        *slot = (uint32_t)found;
        return APR_SUCCESS;
    }
    if (!h->writable || h->control_writable == EXPECT_CTL_RDONLY) {
        return APR_EACCES;
    }
    n = expect_shm_vhost_count(h);
    if (n >= h->vhost_capacity) {
        return APR_ENOSPC;
    }
    /* Only the parent adds, single-threaded.  The entry is complete
     * before the count that makes it visible. */
    memset(&e, 0, sizeof(e));
    e.override = EXPECT_OVERRIDE_NONE;
    e.configured_policy = EXPECT_POLICY_DEFAULT;
    expect_shm_name_key(e.name, name);
    expect_shm_zero_counters(&h->vhosts[n]);
    if ((rv = ctl_write(h, &h->ctl[n], &e, sizeof(e))) != APR_SUCCESS
        || (rv = ctl_set32(h, &h->ctl_hdr->count, n + 1)) != APR_SUCCESS) {
        return rv;
    }
    *slot = n;
    return APR_SUCCESS;
}

apr_status_t expect_shm_mark_all_inactive(expect_shm_t *h)
{
    apr_status_t rv;
    uint32_t i, n = expect_shm_vhost_count(h), f;

    if (h == NULL || h->ctl == NULL) {
        return APR_EINVAL;
    }
    for (i = 0; i < n; i++) {
        f = __atomic_load_n(&h->ctl[i].flags, __ATOMIC_ACQUIRE);
        if ((f & EXPECT_VHOST_ACTIVE)
            && (rv = ctl_set32(h, &h->ctl[i].flags, f & ~EXPECT_VHOST_ACTIVE)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t expect_shm_mark_active(expect_shm_t *h, uint32_t slot,
                                    expect_policy_t policy, int strict)
{
    apr_status_t rv;
    uint32_t f;

    if (h == NULL || h->ctl == NULL || slot >= expect_shm_vhost_count(h)) {
        return APR_EINVAL;
    }
    if (policy < EXPECT_POLICY_CONTINUE || policy > EXPECT_POLICY_IGNORE) {
        policy = EXPECT_POLICY_DEFAULT;
    }
    f = __atomic_load_n(&h->ctl[slot].flags, __ATOMIC_ACQUIRE);
    if ((rv = ctl_set32(h, &h->ctl[slot].configured_policy, (uint32_t)policy)) != APR_SUCCESS
        || (rv = ctl_set32(h, &h->ctl[slot].strict, strict ? 1u : 0u)) != APR_SUCCESS
        || (rv = ctl_set32(h, &h->ctl[slot].flags, f | EXPECT_VHOST_ACTIVE)) != APR_SUCCESS) {
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t expect_shm_put_snapshot(expect_shm_t *dst, const expect_shm_vhost_snap_t *snap,
                                     uint32_t *slot)
{
    expect_shm_vhost_t *vh;
    apr_status_t rv;
    int c;

    if (dst == NULL || !dst->writable || dst->control_writable == EXPECT_CTL_RDONLY) {
        return APR_EINVAL;
    }
    if (snap->name[0] == '\0' || expect_shm_vhost_add(dst, snap->name, slot) != APR_SUCCESS) {
        return APR_ENOSPC;
    }
    vh = &dst->vhosts[*slot];
    for (c = 0; c < EXPECT_CTR_COUNT; c++) {
        __atomic_store_n(&vh->ctr[c], snap->ctr[c], __ATOMIC_RELAXED);
    }
    __atomic_store_n(&vh->last_417_usec, snap->last_417_usec, __ATOMIC_RELAXED);
    rv = ctl_set32(dst, &dst->ctl[*slot].configured_policy,
                   snap->configured_policy <= EXPECT_POLICY_IGNORE
                       ? snap->configured_policy : (uint32_t)EXPECT_POLICY_DEFAULT);
    if (rv == APR_SUCCESS) {
        rv = ctl_set32(dst, &dst->ctl[*slot].strict, snap->strict ? 1u : 0u);
    }
    if (rv == APR_SUCCESS && snap->override != EXPECT_OVERRIDE_NONE) {
        rv = expect_shm_set_override(dst, *slot, snap->override);
    }
    return rv;
}

apr_status_t expect_shm_copy_vhosts(expect_shm_t *dst, const expect_shm_t *src,
                                    int active_only)
{
    expect_shm_vhost_snap_t snap;
    apr_status_t rv = APR_SUCCESS, orv;
    uint32_t i, slot, n = expect_shm_vhost_count(src);

    if (dst == NULL || !dst->writable || dst->control_writable == EXPECT_CTL_RDONLY) {
        return APR_EINVAL;
    }
    for (i = 0; i < n; i++) {
        if (expect_shm_snapshot(src, i, &snap) != 0) {
            continue;
        }
        if (active_only && !(snap.flags & EXPECT_VHOST_ACTIVE)) {
            continue;
        }
        orv = expect_shm_put_snapshot(dst, &snap, &slot);
        if (orv != APR_SUCCESS && rv == APR_SUCCESS) {
            rv = orv;
        }
    }
    return rv;
}

uint32_t expect_shm_generation(const expect_shm_t *h)
{
    if (h == NULL || h->ctl_hdr == NULL) {
        return 0;
    }
    return __atomic_load_n(&h->ctl_hdr->generation, __ATOMIC_ACQUIRE);
}

apr_status_t expect_shm_publish_state(expect_shm_t *h, uint32_t state, uint32_t generation,
                                      uint32_t pid, uint64_t start)
{
    expect_ctl_header_t *c;
    apr_status_t rv;

    if (h == NULL || h->ctl_hdr == NULL || state > EXPECT_SEG_RETIRED) {
        return APR_EINVAL;
    }
    c = h->ctl_hdr;
    /* Everything a reader checks against the state is in place before the
     * state that makes it count (mark_state writes that last). */
    if ((rv = ctl_set32(h, &c->generation, generation)) != APR_SUCCESS
        || (rv = ctl_set32(h, &c->server_pid, pid)) != APR_SUCCESS
        || (rv = ctl_write(h, &c->server_start, &start, sizeof(start))) != APR_SUCCESS
        || (rv = expect_shm_mark_state(h, state)) != APR_SUCCESS) {
        return rv;
    }
    /* The statistics header's copy is informational (children can write it). */
    if (h->hdr != NULL && h->writable) {
        __atomic_store_n(&h->hdr->generation, generation, __ATOMIC_RELAXED);
    }
    return APR_SUCCESS;
}

apr_status_t expect_shm_mark_state(expect_shm_t *h, uint32_t state)
{
    expect_ctl_header_t *c;
    uint64_t now = expect_shm_now_usec();
    apr_status_t rv;

    if (h == NULL || h->ctl_hdr == NULL || state > EXPECT_SEG_RETIRED) {
        return APR_EINVAL;
    }
    c = h->ctl_hdr;
    if ((rv = ctl_write(h, &c->state_usec, &now, sizeof(now))) != APR_SUCCESS) {
        return rv;
    }
    return ctl_set32(h, &c->state, state);
}

void expect_shm_liveness(const expect_shm_t *h, expect_shm_liveness_t *out)
{
    const expect_ctl_header_t *c;

    memset(out, 0, sizeof(*out));
    if (h == NULL || h->ctl_hdr == NULL) {
        return;
    }
    c = h->ctl_hdr;
    out->state = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
    out->server_pid = __atomic_load_n(&c->server_pid, __ATOMIC_RELAXED);
    out->generation = __atomic_load_n(&c->generation, __ATOMIC_RELAXED);
    out->state_usec = __atomic_load_n(&c->state_usec, __ATOMIC_RELAXED);
    out->created_usec = __atomic_load_n(&c->created_usec, __ATOMIC_RELAXED);
    out->server_start = __atomic_load_n(&c->server_start, __ATOMIC_RELAXED);
}


int expect_shm_snapshot(const expect_shm_t *h, uint32_t slot,
                        expect_shm_vhost_snap_t *out)
{
    const expect_ctl_entry_t *e;
    const expect_shm_vhost_t *vh;
    int c;

    if (out == NULL || slot >= expect_shm_vhost_count(h)) {
        return -1;
    }
    e = &h->ctl[slot];
    vh = h->vhosts != NULL ? &h->vhosts[slot] : NULL;
    memset(out, 0, sizeof(*out));
    out->slot = slot;
    out->flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
    out->configured_policy = __atomic_load_n(&e->configured_policy, __ATOMIC_RELAXED);
    if (out->configured_policy > (uint32_t)EXPECT_POLICY_IGNORE) {
        out->configured_policy = (uint32_t)EXPECT_POLICY_DEFAULT;
    }
    out->strict = __atomic_load_n(&e->strict, __ATOMIC_RELAXED) ? 1u : 0u;
    out->override = __atomic_load_n(&e->override, __ATOMIC_RELAXED);
    if (out->override > (uint32_t)EXPECT_POLICY_IGNORE) {
        out->override = EXPECT_OVERRIDE_NONE;
    }
    memcpy(out->name, e->name, sizeof(out->name));
    out->name[sizeof(out->name) - 1] = '\0';
    if (vh == NULL) {
        return 0;   /* a control-only handle: no counters */
    }
    for (c = 0; c < EXPECT_CTR_COUNT; c++) {
        out->ctr[c] = __atomic_load_n(&vh->ctr[c], __ATOMIC_RELAXED);
    }
    out->last_417_usec = __atomic_load_n(&vh->last_417_usec, __ATOMIC_RELAXED);
    /* A gauge children write: never more than the table holds. */
    out->pending = __atomic_load_n(&vh->pending, __ATOMIC_RELAXED);
    if (out->pending > h->pending_slots) {
        out->pending = h->pending_slots;
    }
    return 0;
}

static int valid_override(uint32_t value)
{
    return value == EXPECT_OVERRIDE_NONE || value <= (uint32_t)EXPECT_POLICY_IGNORE;
}

apr_status_t expect_shm_set_override(expect_shm_t *h, uint32_t slot, uint32_t value)
{
    if (h == NULL || h->ctl == NULL || slot >= expect_shm_vhost_count(h)
        || !valid_override(value)) {
        return APR_EINVAL;
    }
    if (h->control_writable == EXPECT_CTL_RDONLY) {
        return APR_EACCES;
    }
    return ctl_set32(h, &h->ctl[slot].override, value);
}

apr_status_t expect_shm_set_override_all(expect_shm_t *h, uint32_t value)
{
    apr_status_t rv;
    uint32_t i, n;

    if (h == NULL || h->ctl == NULL || !valid_override(value)) {
        return APR_EINVAL;
    }
    if (h->control_writable == EXPECT_CTL_RDONLY) {
        return APR_EACCES;
    }
    /* Which vhosts exist and are active is the control file's word. */
    n = expect_shm_vhost_count(h);
    for (i = 0; i < n; i++) {
        if (!(__atomic_load_n(&h->ctl[i].flags, __ATOMIC_ACQUIRE) & EXPECT_VHOST_ACTIVE)) {
            continue;
        }
        if ((rv = ctl_set32(h, &h->ctl[i].override, value)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t expect_shm_reset(expect_shm_t *h, uint32_t slot)
{
    if (h == NULL || slot >= expect_shm_vhost_count(h)) {
        return APR_EINVAL;
    }
    if (h->vhosts == NULL) {
        return APR_ENOENT;
    }
    if (!h->writable) {
        return APR_EACCES;
    }
    expect_shm_zero_counters(&h->vhosts[slot]);
    return APR_SUCCESS;
}

apr_status_t expect_shm_reset_all(expect_shm_t *h)
{
    apr_status_t rv;
    uint32_t i, n = expect_shm_vhost_count(h);

    if (h == NULL) {
        return APR_EINVAL;
    }
    if (h->vhosts == NULL) {
        return APR_ENOENT;
    }
    if (!h->writable) {
        return APR_EACCES;
    }
    for (i = 0; i < n; i++) {
        if ((rv = expect_shm_reset(h, i)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}
