# SPDX-License-Identifier: Apache-2.0
"""expectctl events [--summary] [--by server] [--json] --from FILE...: the
event logs ExpectEventLog writes, read back into the views a segment gives.

On log files written here in the schema of docs/MANY-SERVERS.md (no
server needed): plain and gzip files mixed, standard input, the list
(newest -n N by time across files) and the summary, --by server, --since,
--json documents that parse; malformed, cut-short and hostile lines
counted and reported per file with the first one's line number and why;
a line read twice counted once and reported; gap lines' lost events added
up; each of these exits 6 (partial data) with the output still printed; a
file that cannot be opened is named and exits 1.

The acceptance test of issue 24, under each MPM: two private httpds with
different ServerNames, each with `ExpectEventLog` to a file, get 417s that
are retried and 417s that are abandoned; `events --summary --from A B` is
the sum of what each server's own `events --summary` shows.
"""
import gzip
import json
import os
import subprocess
import time

import pytest

from httpd_harness import MPMS, Httpd, expectctl_path, serving
# One POST of 10 bytes on its own connection, as the writer's tests send
# it; returns the final status.
from test_event_log import request
from testlib import private_journald, wait_for

PARTIAL = 6
NOW = int(time.time()) * 1000000
CURL = "curl/7.88.1"
JAVA = "Java-http-client/17.0.2"


def event(server="www1.example", pid=4242, seq=0, usec=None, outcome="retried",
          ua=CURL, vhost="main", length=1000, **extra):
    """An event line exactly in the schema: the envelope, then the fields
    of events --json in their order."""
    obj = {"format": "mod_expect.event", "version": 1, "server": server, "pid": pid,
           "seq": seq, "time": "2026-05-01T08:00:00.000Z",
           "time_usec": usec if usec is not None else NOW - 3600000000 + seq * 1000000,
           "vhost": vhost, "client": "192.0.2.10", "method": "PUT", "uri": "/upload",
           "protocol": "HTTP/1.1", "expect": "100-continue", "content_length": length,
           "user_agent": ua, "status": 417, "producer": "mod_expect", "reason": "policy",
           "fix": "-", "client_key": None, "client_family": None, "client_fix": None,
           "outcome": outcome, "retry_after_ms": 40 if outcome == "retried" else None}
    obj.update(extra)
    return json.dumps(obj) + "\n"


def gap(server="www1.example", pid=4242, lost=5, usec=None):
    return json.dumps({"format": "mod_expect.event.gap", "version": 1, "server": server,
                       "pid": pid, "time": "2026-05-01T08:00:00.000Z",
                       "time_usec": usec or NOW - 1800000000, "lost": lost}) + "\n"


def write(path, text, gz=False):
    data = text.encode() if isinstance(text, str) else text
    if gz:
        data = gzip.compress(data)
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def ctl(*args, stdin=None):
    env = {k: v for k, v in os.environ.items() if k != "EXPECTCTL_SHM"}
    return subprocess.run([expectctl_path(), *args], capture_output=True, text=True,
                          input=stdin, timeout=60, env=env)


def summary(*args, stdin=None, want=0):
    res = ctl("events", "--summary", "--json", *args, stdin=stdin)
    assert res.returncode == want, (res.returncode, res.stderr)
    doc = json.loads(res.stdout)
    assert doc["format"] == "mod_expect.events.summary" and doc["version"] == 1
    return doc["groups"], res.stderr


def totals(groups):
    keys = ("count", "retried", "abandoned", "pending", "not_followed", "bytes_declared",
            "repeated")
    return {k: sum(g[k] for g in groups) for k in keys}


# ---- hand-written logs -------------------------------------------------------

@pytest.fixture
def fleet(tmp_path):
    """Two servers' logs: www1 plain and its rotated gzip, www2 gzip."""
    a = write(tmp_path / "www1.log", event(seq=1) + event(seq=2, outcome="abandoned", ua=JAVA))
    a1 = write(tmp_path / "www1.log.1.gz", event(seq=0, outcome="pending"), gz=True)
    b = write(tmp_path / "www2.log.gz",
              event(server="www2.example", pid=77, seq=0, outcome="abandoned", length=50)
              + event(server="www2.example", pid=77, seq=1, vhost="up.example:443"), gz=True)
    return a, a1, b


def test_plain_gz_and_stdin_mixed(fleet):
    a, a1, b = fleet
    groups, err = summary("--from", a, a1, b)
    assert err == ""
    assert totals(groups) == {"count": 5, "retried": 2, "abandoned": 2, "pending": 1,
                              "not_followed": 0, "bytes_declared": 4050, "repeated": 0}
    # The outcome is the line's, not recomputed: a pending line of an hour
    # ago stays pending.
    curl_main = [g for g in groups if g["vhost"] == "main" and g["client_key"] == "curl"]
    assert len(curl_main) == 1 and curl_main[0]["pending"] == 1, groups
    # The same from standard input, and with "-" among files.
    with open(a) as f:
        plain = f.read()
    again, _ = summary("--from", "-", a1, b, stdin=plain)
    assert again == groups
    # Text: the same numbers for people.
    res = ctl("events", "--summary", "--from", a, a1, b)
    assert res.returncode == 0
    assert "main  curl: 3 417s, 1 retried, 1 abandoned, 1 pending" in res.stdout, res.stdout


def test_by_server(fleet):
    a, a1, b = fleet
    groups, _ = summary("--by", "server", "--from", a, a1, b)
    by = {(g["server"], g["vhost"], g["client_key"]): g["count"] for g in groups}
    assert by == {("www1.example", "main", "curl"): 2,
                  ("www1.example", "main", "java-httpclient"): 1,
                  ("www2.example", "main", "curl"): 1,
                  ("www2.example", "up.example:443", "curl"): 1}, by
    assert list(groups[0])[0] == "server"
    res = ctl("events", "--summary", "--by", "server", "--from", a, a1, b)
    assert res.returncode == 0
    assert "www2.example up.example:443  curl: 1 417s, 1 retried" in res.stdout, res.stdout
    # Without --by server, both servers' "main" rows fold together.
    plain, _ = summary("--from", a, a1, b)
    assert "server" not in plain[0]
    assert [g["count"] for g in plain if g["vhost"] == "main" and g["client_key"] == "curl"] == [3]


def test_list_newest_by_time_across_files(fleet, tmp_path):
    a, a1, b = fleet
    res = ctl("events", "--json", "-n", "3", "--from", b, a, a1)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["format"] == "mod_expect.events"
    got = [(e["server"], e["time_usec"]) for e in doc["events"]]
    # Oldest first, the three newest of five by time, whatever the file order.
    assert got == sorted(got, key=lambda x: x[1]) and len(got) == 3, got
    assert [u for _, u in got] == [NOW - 3600000000 + s * 1000000 for s in (1, 1, 2)], got
    assert doc["events"][-1]["outcome"] == "abandoned"
    assert doc["events"][-1]["retry_after_ms"] is None
    res = ctl("events", "--from", a)
    lines = res.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("www1.example "), lines
    assert 'outcome="retried after 40 ms"' in lines[0] and 'outcome="abandoned"' in lines[1]


def test_since(tmp_path):
    old = NOW - 10 * 86400 * 1000000
    f = write(tmp_path / "e.log", event(seq=0, usec=old) + event(seq=1) + gap(usec=old))
    # The gap is older than --since: no partial data within the window.
    groups, err = summary("--since", "7d", "--from", f)
    assert totals(groups)["count"] == 1 and err == ""
    groups, _ = summary("--since", "30d", "--from", f, want=PARTIAL)
    assert totals(groups)["count"] == 2
    day = time.strftime("%Y-%m-%d", time.gmtime(NOW // 1000000 - 86400))
    groups, _ = summary("--since", day, "--from", f)
    assert totals(groups)["count"] == 1


def test_malformed_lines_counted_never_fatal(tmp_path):
    bad = [
        "not json at all",                                       # 2
        "",                                                      # 3 empty
        event(seq=9, version=2).rstrip("\n"),                    # 4 another version
        json.dumps({"format": "apache.access", "version": 1}),   # 5 another format
        event(seq=10, pid="4242").rstrip("\n"),                  # 6 wrong type
        event(seq=11).replace('"uri": "/upload", ', "").rstrip("\n"),   # 7 missing field
        event(seq=12, uri="/" + "a" * 5000).rstrip("\n"),        # 8 overlong
        '{"format": "mod_expect.event", "version": 1, "server": "x\x00"}',  # 9 NUL
        '{"format": "mod_expect.event", "version": 1, "pid": 1, "pid": 2}',  # 10 dup key
        '[1, 2, 3]',                                             # 11
    ]
    text = event(seq=1) + "\n".join(bad) + "\n" + event(seq=2) + event(seq=3)[:100] + "\n"
    f = write(tmp_path / "bad.log", text)
    with open(f, "ab") as fh:
        fh.write(b"\xff\xfe binary \x1b[31m\n")                  # 14 not UTF-8, an escape
    groups, err = summary("--from", f, want=PARTIAL)
    # The good lines are all there.
    assert totals(groups)["count"] == 2
    assert "bad.log: 12 malformed lines skipped; the first, line 2: not JSON" in err, err
    assert "partial data: 12 lines skipped, 0 duplicates, 0 events lost" in err, err
    # Reports are printable: the hostile bytes do not reach the terminal.
    assert all(32 <= ord(c) < 127 for c in err.replace("\n", "")), err
    # Each kind alone says why.
    for line, why in ((bad[2], "version 2"), (bad[3], '"format"'), (bad[4], '"pid"'),
                      (bad[5], '"uri"'), (bad[6], "longer than"), (bad[7], "NUL"),
                      ("", "empty"), (bad[9], "object")):
        g = write(tmp_path / "one.log", line + "\n")
        res = ctl("events", "--from", g)
        assert res.returncode == PARTIAL, (line, res.stderr)
        assert "line 1: " in res.stderr and why in res.stderr, (why, res.stderr)
    # A last line without its newline was cut short.
    g = write(tmp_path / "cut.log", event(seq=1) + event(seq=2)[:-1])
    res = ctl("events", "--from", g)
    assert res.returncode == PARTIAL and "line 2: the file ends inside it" in res.stderr


def test_truncated_gzip_member(tmp_path):
    text = "".join(event(seq=s) for s in range(200))
    whole = gzip.compress(text.encode())
    f = write(tmp_path / "cut.log.gz", whole[:len(whole) // 2])
    groups, err = summary("--from", f, want=PARTIAL)
    n = totals(groups)["count"]
    # What came before the cut is read; the rest is reported, not guessed.
    assert 0 < n < 200, n
    assert "cut.log.gz: damaged after line %d: unexpected end of file" % n in err, err
    assert "1 damaged file" in err
    # Garbage after a gzip header: damaged too, never a crash.
    g = write(tmp_path / "junk.gz", whole[:10] + os.urandom(300))
    res = ctl("events", "--summary", "--from", g)
    assert res.returncode == PARTIAL and "damaged" in res.stderr, res.stderr


def test_duplicates_counted_once(tmp_path):
    lines = event(seq=1) + event(seq=2)
    a = write(tmp_path / "a.log", lines)
    # The same log collected twice, once compressed; one line again in a
    # third file, and the same seq at another time is another event (a
    # restarted ring).
    b = write(tmp_path / "a-copy.log.gz", lines, gz=True)
    c = write(tmp_path / "c.log", event(seq=2) + event(seq=2, usec=NOW - 5000000))
    groups, err = summary("--from", a, b, c, want=PARTIAL)
    assert totals(groups)["count"] == 3
    assert "a-copy.log.gz: 2 duplicate lines counted once; the first, line 1: " \
           "server www1.example pid 4242 seq 1" in err, err
    assert "c.log: 1 duplicate line counted once; the first, line 1" in err, err
    assert "3 duplicates" in err
    # Another server's line with the same pid, seq and time is no duplicate.
    d = write(tmp_path / "d.log", event(server="www9.example", seq=1))
    groups, err = summary("--from", a, d)
    assert totals(groups)["count"] == 3 and err == ""


def test_gap_lines_summed(tmp_path):
    f = write(tmp_path / "g.log", event(seq=1) + gap(lost=5) + event(seq=9)
              + gap(server="www2.example", lost=7, usec=NOW - 1700000000))
    groups, err = summary("--from", f, want=PARTIAL)
    assert totals(groups)["count"] == 2
    assert "g.log: the writer lost 12 events (2 gap lines; the first, line 2, of server " \
           "www1.example)" in err, err
    assert "12 events lost by the writer" in err
    res = ctl("events", "--from", f)
    assert res.returncode == PARTIAL and len(res.stdout.splitlines()) == 2


def test_truncated_flag_accepted(tmp_path):
    f = write(tmp_path / "t.log", event(seq=1, truncated=True))
    groups, err = summary("--from", f)
    assert totals(groups)["count"] == 1
    assert "1 line the writer cut to fit (read as written)" in err, err


def test_file_that_cannot_be_opened(tmp_path, fleet):
    a, _, _ = fleet
    missing = str(tmp_path / "nosuch.log")
    res = ctl("events", "--summary", "--json", "--from", missing, a)
    assert res.returncode == 1, res.stderr
    assert f"expectctl: {missing}: cannot open: No such file or directory" in res.stderr
    # The others are still read.
    assert totals(json.loads(res.stdout)["groups"])["count"] == 2
    res = ctl("events", "--from", str(tmp_path))
    assert res.returncode == 1 and "is a directory" in res.stderr and res.stdout == ""


def test_usage_errors(tmp_path):
    f = write(tmp_path / "e.log", event())
    for args, why in ((["--from"], "--from needs"),
                      (["--follow", "--from", f], "--follow"),
                      (["--summary", "-n", "5", "--from", f], "--since, not -n"),
                      (["--summary", "--by", "server"], "needs --from"),
                      (["--since", "yesterday", "--from", f], "--since needs")):
        res = ctl("events", *args)
        assert res.returncode == 2 and why in res.stderr, (args, res.stderr)
    res = subprocess.run([expectctl_path(), "-s", "/nonexistent", "events", "--from", f],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "choose one of -s, -i and --from" in res.stderr


# ---- the acceptance test of issue 24 -----------------------------------------

WINDOW = 4   # ExpectRetryWindow: room to resend once the 417s are remembered
TICK_WAIT = 45   # the parent writes from its monitor hook, about every 10 s


def main_retry(h):
    """The retry counters of the main server's row (named `main`)."""
    return next(v for v in h.ctl_json("stats")["vhosts"] if v["name"] == "main")["retry"]


def traffic(h, tag, retried, abandoned):
    """417s: `retried` come back without Expect within the window, the
    others never do; two client families."""
    n = retried + abandoned
    uas = [CURL if i % 2 else JAVA for i in range(n)]
    for i in range(n):
        assert request(h, f"/echo/{tag}-{i}".encode(), uas[i].encode()) == 417
    # A 417 is remembered once its response is written (a real client is a
    # round trip away): resend once all are.
    wait_for(lambda: main_retry(h)["pending"] == n, timeout=10,
             what=f"{n} pending 417s", interval=0.05)
    for i in range(retried):
        assert request(h, f"/echo/{tag}-{i}".encode(), uas[i].encode(), expect=False) == 200
    wait_for(lambda: main_retry(h)["retried"] == retried, timeout=10,
             what=f"{retried} retried 417s", interval=0.05)
    return n


def log_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("mpm", MPMS)
def test_from_two_servers_is_the_sum_of_each(mpm, tmp_path):
    conf = ("ServerName {name}\nExpectRetryWindow %d\nExpectEventLog logs/events.log\n"
            "ExpectPolicy reject\n<Location /echo>\n    SetHandler reflector\n</Location>\n"
            % WINDOW)
    a = Httpd(conf.format(name="a.fleet.test"), mpm=mpm, name=f"from-a-{mpm}")
    b = Httpd(conf.format(name="b.fleet.test"), mpm=mpm, name=f"from-b-{mpm}")
    logs = [os.path.join(a.logs, "events.log"), os.path.join(b.logs, "events.log")]
    with serving(a), serving(b):
        sent = [traffic(a, "a", retried=3, abandoned=2), traffic(b, "b", retried=1, abandoned=4)]
        # Every 417 has its final line once the windows closed.
        for path, n in zip(logs, sent):
            wait_for(lambda p=path, k=n: len(log_lines(p)) >= k or None, timeout=TICK_WAIT,
                     what=f"{n} lines in {path}")
        own = [summary_of_segment(h) for h in (a, b)]
        lines = [log_lines(p) for p in logs]
        # Read while the servers run: their directories go with them.
        merged, err = summary("--from", *logs)
        by, _ = summary("--by", "server", "--from", *logs)
    assert [len(x) for x in lines] == sent
    assert {x["server"] for x in lines[0]} == {"a.fleet.test"}
    assert {x["server"] for x in lines[1]} == {"b.fleet.test"}
    assert {x["outcome"] for x in lines[0] + lines[1]} == {"retried", "abandoned"}

    assert err == ""
    want = {}
    for groups in own:
        for g in groups:
            key = (g["vhost"], g["client_key"], g["client_versions"])
            acc = want.setdefault(key, {})
            for k in ("count", "retried", "abandoned", "pending", "not_followed",
                      "bytes_declared", "without_length", "repeated"):
                acc[k] = acc.get(k, 0) + g[k]
    got = {(g["vhost"], g["client_key"], g["client_versions"]):
           {k: g[k] for k in want[next(iter(want))]} for g in merged}
    assert got == want, (got, want)
    assert totals(merged)["retried"] == 4 and totals(merged)["abandoned"] == 6
    # --by server gives each server's own summary back.
    for name, groups in (("a.fleet.test", own[0]), ("b.fleet.test", own[1])):
        mine = [{k: v for k, v in g.items() if k != "server"} for g in by if g["server"] == name]
        assert sorted(mine, key=json.dumps) == sorted(groups, key=json.dumps), (name, mine)


def summary_of_segment(h):
    res = subprocess.run([expectctl_path(), "-s", h.shm, "events", "--summary", "--json"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["groups"]


def test_since_filters_a_segment_too():
    """--since on a live server's segment: the list and the summary keep
    the events from then on (not per request: one MPM is enough)."""
    h = Httpd("ExpectPolicy reject\n<Location /echo>\n    SetHandler reflector\n</Location>\n",
              name="from-since")
    with serving(h):
        for i in range(3):
            assert request(h, f"/echo/s{i}".encode()) == 417
        wait_for(lambda: len(h.ctl_json("events")["events"]) == 3, what="3 events")
        recent = h.ctl_json("events", "--since", "1h")["events"]
        assert len(recent) == 3
        assert h.ctl_json("events", "--since", "2099-01-01")["events"] == []
        res = subprocess.run([expectctl_path(), "-s", h.shm, "events", "--summary",
                              "--since", "2099-01-01T00:00:00Z"], capture_output=True,
                             text=True, timeout=30)
        assert res.returncode == 0 and res.stdout == "no 417s recorded\n", res
        groups = summary_of_segment(h)
        assert totals(groups)["count"] == 3


def test_journald_round_trip(tmp_path):
    """The lines shipped with the docs' logger line (util-linux's logger
    --size 4096 -t mod_expect) to journald, read back with `journalctl -t
    mod_expect -o cat` (systemd 252 on Debian 12) into `--from -`: the
    same summary as the file, long lines whole."""
    text = "".join(event(seq=i, uri="/u/" + "x" * 1500, ua=JAVA if i % 2 else CURL,
                         outcome="abandoned" if i % 3 else "retried")
                   for i in range(12)) + gap(lost=2)
    f = write(tmp_path / "e.log", text)
    want, _ = summary("--from", f, want=PARTIAL)
    with private_journald() as (ns, sock):
        subprocess.run(["logger", "--socket", sock, "--size", "4096", "-t", "mod_expect"],
                       input=text, text=True, check=True, timeout=30)

        def read_back():
            res = subprocess.run(["journalctl", f"--namespace={ns}", "-t", "mod_expect",
                                  "-o", "cat"], capture_output=True, text=True, timeout=30)
            return res.stdout if res.stdout.count("\n") >= 13 else None
        out = wait_for(read_back, timeout=15, what="13 lines in the private journal")
    assert out == text
    got, err = summary("--from", "-", stdin=out, want=PARTIAL)
    assert got == want and "standard input: the writer lost 2 events" in err, err
