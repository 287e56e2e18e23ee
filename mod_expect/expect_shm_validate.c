/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect_shm_validate.c - the validators: given bytes that claim to be a
 * statistics file, a control file, or a pair, decide whether a reader
 * can trust their geometry, and say why not in one line.
 *
 * Separate because it is the code that faces hostile bytes (a child can
 * write the statistics file; the fuzzer feeds it anything): it copies,
 * never casts, and checks every offset before anything uses it.
 */
#include <stddef.h>
#include <string.h>

#include "expect_shm_internal.h"

/* ---- reader ---- */

static int region_ok(uint64_t off, uint64_t size, uint64_t total)
{
    return off <= total && size <= total - off;
}

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}


/*
 * The checks both validators start with: room for a header, the magic,
 * the layout version, the header size and the file length.  label starts
 * every reason ("" or "control file: "); what names the file in the magic
 * message.
 */
static expect_shm_err_t check_prefix(const void *buf, size_t len, const char *magic,
                                     size_t header_size, const char *label,
                                     const char *what, char *why, size_t whylen)
{
    expect_shm_prefix_t pf;

    if (buf == NULL || len < header_size) {
        expect_shm_set_why(why, whylen, "%s%zu bytes, too small for a header (%zu)",
                label, len, header_size);
        return EXPECT_SHM_ECORRUPT;
    }
    /* The buffer may be unaligned (a fuzzer's): copy, never cast. */
    memcpy(&pf, buf, sizeof(pf));
    if (memcmp(pf.magic, magic, sizeof(pf.magic)) != 0) {
        expect_shm_set_why(why, whylen, "%sbad magic: not a mod_expect %s", label, what);
        return EXPECT_SHM_ECORRUPT;
    }
    if (pf.layout_version != EXPECT_SHM_LAYOUT_VERSION) {
        expect_shm_set_why(why, whylen, "%slayout version %u, expected %u",
                label, pf.layout_version, EXPECT_SHM_LAYOUT_VERSION);
        return EXPECT_SHM_ECORRUPT;
    }
    if (pf.header_size != header_size) {
        expect_shm_set_why(why, whylen, "%sheader size %u, expected %zu",
                label, pf.header_size, header_size);
        return EXPECT_SHM_ECORRUPT;
    }
    if (pf.total_size != (uint64_t)len) {
        expect_shm_set_why(why, whylen, "%s%s: header says %llu bytes, file has %zu", label,
                pf.total_size > (uint64_t)len ? "truncated" : "size mismatch",
                (unsigned long long)pf.total_size, len);
        return EXPECT_SHM_ECORRUPT;
    }
    return EXPECT_SHM_OK;
}

expect_shm_err_t expect_shm_validate(const void *buf, size_t len,
                                     char *why, size_t whylen)
{
    expect_shm_header_t hd;
    uint64_t vend, rend, pend, max_total;
    size_t maxsz;

    if (check_prefix(buf, len, EXPECT_SHM_MAGIC, sizeof(hd), "", "statistics segment",
                     why, whylen) != EXPECT_SHM_OK) {
        return EXPECT_SHM_ECORRUPT;
    }
    /* The buffer may be unaligned (a fuzzer's): copy, never cast. */
    memcpy(&hd, buf, sizeof(hd));
    if (hd.vhost_size != sizeof(expect_shm_vhost_t)
        || hd.event_size != sizeof(expect_shm_event_t)
        || hd.pending_size != sizeof(expect_shm_pending_t)) {
        expect_shm_set_why(why, whylen, "record sizes %u/%u/%u, expected %zu/%zu/%zu",
                hd.vhost_size, hd.event_size, hd.pending_size,
                sizeof(expect_shm_vhost_t), sizeof(expect_shm_event_t),
                sizeof(expect_shm_pending_t));
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.vhost_capacity == 0 || hd.vhost_capacity > EXPECT_SHM_MAX_VHOSTS
        || hd.ring_slots > EXPECT_SHM_MAX_RING_SLOTS
        || hd.pending_slots > EXPECT_SHM_MAX_PENDING
        || hd.pending_slots % EXPECT_PENDING_WAYS != 0) {
        expect_shm_set_why(why, whylen, "implausible geometry: %u vhosts, %u event slots, "
                "%u retry slots", hd.vhost_capacity, hd.ring_slots, hd.pending_slots);
        return EXPECT_SHM_ECORRUPT;
    }
    maxsz = expect_shm_size(EXPECT_SHM_MAX_VHOSTS, EXPECT_SHM_MAX_RING_SLOTS,
                            EXPECT_SHM_MAX_PENDING);
    max_total = maxsz ? (uint64_t)maxsz : UINT64_MAX;
    if (hd.total_size > max_total) {
        expect_shm_set_why(why, whylen, "implausible size %llu", (unsigned long long)hd.total_size);
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.vhosts_offset % EXPECT_SHM_ALIGN || hd.ring_offset % EXPECT_SHM_ALIGN
        || hd.pending_offset % EXPECT_SHM_ALIGN || hd.vhosts_offset < EXPECT_SHM_ALIGN) {
        expect_shm_set_why(why, whylen, "region offsets not page-aligned");
        return EXPECT_SHM_ECORRUPT;
    }
    vend = (uint64_t)hd.vhost_capacity * hd.vhost_size;   /* < 2^32 * 2^8 */
    if (!region_ok(hd.vhosts_offset, vend, hd.total_size)) {
        expect_shm_set_why(why, whylen, "vhost table out of range");
        return EXPECT_SHM_ECORRUPT;
    }
    vend += hd.vhosts_offset;
    rend = (uint64_t)hd.ring_slots * hd.event_size;
    if (hd.ring_offset < vend || !region_ok(hd.ring_offset, rend, hd.total_size)) {
        expect_shm_set_why(why, whylen, "event ring out of range");
        return EXPECT_SHM_ECORRUPT;
    }
    rend += hd.ring_offset;
    pend = (uint64_t)hd.pending_slots * hd.pending_size;
    if (hd.pending_offset < rend || !region_ok(hd.pending_offset, pend, hd.total_size)) {
        expect_shm_set_why(why, whylen, "retry table out of range");
        return EXPECT_SHM_ECORRUPT;
    }
    return EXPECT_SHM_OK;
}

expect_shm_err_t expect_shm_validate_control(const void *buf, size_t len,
                                             char *why, size_t whylen)
{
    const unsigned char *b = buf;
    expect_ctl_header_t hd;
    uint64_t eend, max_total;
    uint32_t i;
    size_t maxsz;

    if (check_prefix(buf, len, EXPECT_CTL_MAGIC, sizeof(hd), "control file: ",
                     "control file", why, whylen) != EXPECT_SHM_OK) {
        return EXPECT_SHM_ECORRUPT;
    }
    memcpy(&hd, b, sizeof(hd));
    if (hd.entry_size != sizeof(expect_ctl_entry_t)) {
        expect_shm_set_why(why, whylen, "control file: entry size %u, expected %zu",
                hd.entry_size, sizeof(expect_ctl_entry_t));
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.capacity == 0 || hd.capacity > EXPECT_SHM_MAX_VHOSTS) {
        expect_shm_set_why(why, whylen, "control file: implausible geometry: %u vhosts", hd.capacity);
        return EXPECT_SHM_ECORRUPT;
    }
    maxsz = expect_shm_control_size(EXPECT_SHM_MAX_VHOSTS);
    max_total = maxsz ? (uint64_t)maxsz : UINT64_MAX;
    if (hd.total_size > max_total) {
        expect_shm_set_why(why, whylen, "control file: implausible size %llu",
                (unsigned long long)hd.total_size);
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.entries_offset % EXPECT_SHM_ALIGN || hd.entries_offset < EXPECT_SHM_ALIGN) {
        expect_shm_set_why(why, whylen, "control file: region offsets not page-aligned");
        return EXPECT_SHM_ECORRUPT;
    }
    eend = (uint64_t)hd.capacity * hd.entry_size;
    if (!region_ok(hd.entries_offset, eend, hd.total_size)) {
        expect_shm_set_why(why, whylen, "control file: entry table out of range");
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.state > EXPECT_SEG_RETIRED) {
        expect_shm_set_why(why, whylen, "control file: state %u unknown", hd.state);
        return EXPECT_SHM_ECORRUPT;
    }
    if (hd.count > hd.capacity) {
        expect_shm_set_why(why, whylen, "control file: %u vhosts in a table of %u",
                hd.count, hd.capacity);
        return EXPECT_SHM_ECORRUPT;
    }
    for (i = 0; i < hd.capacity; i++) {
        const unsigned char *rec = b + hd.entries_offset + (uint64_t)i * hd.entry_size;
        uint32_t ov = rd32(rec + offsetof(expect_ctl_entry_t, override));
        uint32_t pol = rd32(rec + offsetof(expect_ctl_entry_t, configured_policy));
        uint32_t strict = rd32(rec + offsetof(expect_ctl_entry_t, strict));

        if (ov != EXPECT_OVERRIDE_NONE && ov > (uint32_t)EXPECT_POLICY_IGNORE) {
            expect_shm_set_why(why, whylen, "vhost %u: override %u unknown", i, ov);
            return EXPECT_SHM_ECORRUPT;
        }
        if (i >= hd.count) {
            continue;
        }
        if (memchr(rec + offsetof(expect_ctl_entry_t, name), '\0', EXPECT_SHM_NAME_LEN) == NULL) {
            expect_shm_set_why(why, whylen, "vhost %u: name not terminated", i);
            return EXPECT_SHM_ECORRUPT;
        }
        if (pol > (uint32_t)EXPECT_POLICY_IGNORE) {
            expect_shm_set_why(why, whylen, "vhost %u: policy %u unknown", i, pol);
            return EXPECT_SHM_ECORRUPT;
        }
        if (strict > 1) {
            expect_shm_set_why(why, whylen, "vhost %u: strict %u unknown", i, strict);
            return EXPECT_SHM_ECORRUPT;
        }
    }
    return EXPECT_SHM_OK;
}

int expect_shm_check_pairing(const void *buf, const void *ctl, char *why, size_t whylen)
{
    expect_shm_header_t hd;
    expect_ctl_header_t cd;

    memcpy(&hd, buf, sizeof(hd));
    memcpy(&cd, ctl, sizeof(cd));
    if (hd.pair_token != cd.pair_token) {
        expect_shm_set_why(why, whylen, "statistics and control files do not belong together "
                "(pair tokens %016llx and %016llx)",
                (unsigned long long)hd.pair_token, (unsigned long long)cd.pair_token);
        return EXPECT_SHM_PAIR_MISMATCH;
    }
    if (hd.vhost_capacity != cd.capacity) {
        expect_shm_set_why(why, whylen, "statistics and control files disagree: %u and %u vhosts",
                hd.vhost_capacity, cd.capacity);
        return EXPECT_SHM_ECORRUPT;
    }
    return EXPECT_SHM_OK;
}

expect_shm_err_t expect_shm_validate_pair(const void *buf, size_t len,
                                          const void *ctl, size_t ctl_len,
                                          char *why, size_t whylen)
{
    expect_shm_err_t rc;

    if ((rc = expect_shm_validate(buf, len, why, whylen)) != EXPECT_SHM_OK
        || (rc = expect_shm_validate_control(ctl, ctl_len, why, whylen)) != EXPECT_SHM_OK) {
        return rc;
    }
    return expect_shm_check_pairing(buf, ctl, why, whylen) == EXPECT_SHM_OK ? EXPECT_SHM_OK
                                                                 : EXPECT_SHM_ECORRUPT;
}

expect_shm_err_t expect_shm_check(const expect_shm_t *h, char *why, size_t whylen)
{
    expect_shm_header_t hd;
    expect_ctl_header_t cd;
    expect_shm_err_t rc;

    if (h == NULL || h->base == NULL || h->ctl_base == NULL) {
        expect_shm_set_why(why, whylen, "no segment");
        return EXPECT_SHM_ENOENT;
    }
    rc = expect_shm_validate_pair(h->base, h->size, h->ctl_base, h->ctl_size, why, whylen);
    if (rc != EXPECT_SHM_OK) {
        return rc;
    }
    memcpy(&hd, h->base, sizeof(hd));
    memcpy(&cd, h->ctl_base, sizeof(cd));
    if (hd.vhost_capacity != h->vhost_capacity || hd.ring_slots != h->ring_slots
        || hd.pending_slots != h->pending_slots || hd.pair_token != h->pair_token
        || (char *)h->vhosts != (char *)h->base + hd.vhosts_offset
        || (char *)h->ring != (char *)h->base + hd.ring_offset
        || (char *)h->ctl != (char *)h->ctl_base + cd.entries_offset) {
        expect_shm_set_why(why, whylen, "headers no longer describe the mapped geometry");
        return EXPECT_SHM_ECORRUPT;
    }
    return EXPECT_SHM_OK;
}
