# SPDX-License-Identifier: Apache-2.0
"""A short run of the soak test (tests/soak/soak.py): the same code path
with 3,000 requests per MPM and 2 graceful restarts, under event, worker
and prefork.  Every invariant of the full soak is asserted: no client
error or unexpected response, no crash in the error log, 417 totals equal
in shared memory, the access log and the clients, per-vhost decision
counters equal what was sent, the generation went up by the number of
restarts, and child RssAnon/VmRSS do not grow over the final phase.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "soak"))

import soak  # noqa: E402

REQUESTS = 3000
RESTARTS = 2
THREADS = 8
# The final phase here is a few hundred requests, still within warm-up: an
# event or worker child's threads each take their first glibc arena then
# (seen: +600 kB over 673 requests on a loaded machine, no leak).  The full
# soak (make soak) keeps the 512 kB floor over 12,500 requests; this run
# guards the code path and still fails a leak of a few kB per request.
RSS_FLOOR_KB = 2048


@pytest.mark.parametrize("mpm", soak.MPMS)
def test_soak_short(mpm):
    r = soak.run_mpm(mpm, requests=REQUESTS, restarts=RESTARTS, threads=THREADS,
                     timeout=50, rss_floor_kb=RSS_FLOOR_KB)
    print(soak.format_summary(r))
    assert not r["failures"], soak.format_summary(r)
    # The invariants, stated once more on the result itself.
    assert r["served"] == REQUESTS
    assert r["client_errors"] == 0 and r["unexpected_responses"] == 0
    assert r["restarts_survived"] == RESTARTS
    q = r["r417"]
    assert q["shm"] == q["access_log"] == q["clients"] > 0
    assert q["shm_by_producer"]["mod_expect"] > 0 and q["shm_by_producer"]["core"] > 0
    assert all(v == 0 for v in r["crash_lines"].values()), r["crash_lines"]
    assert r["bad_error_log_lines"] == 0
    assert not r["rss"]["violations"]
    assert all(v > 0 for v in r["by_kind"].values()), r["by_kind"]
