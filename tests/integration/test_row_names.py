# SPDX-License-Identifier: Apache-2.0
"""A row's name is what identifies the vhost to a client, nothing else.

- Debian's layout (a main server and a 000-default vhost without ServerName,
  which shares the main server's name): the main server's row is `main`,
  the vhost's `localhost:PORT`; a comment line at the top of the vhost's
  file, its file renamed so the order changes, and an unrelated vhost added
  in between leave every row's name, counters, override and Prometheus
  label as they were, across a graceful restart, under all three MPMs;
- true duplicates (same name, port and address) are `name:port`,
  `name:port~2`: unrelated vhosts and lines inserted between them move
  neither name nor override;
- the address is in the name where httpd listens on the port elsewhere too;
- ExpectStatsName names a row; a name two rows would share, or one that is
  not a name, is refused at apache2 -t with EXP0018 and both servers named.
"""
import json
import os
import socket

import pytest

from httpd_harness import MPMS, Httpd, expectctl, serving
from rawhttp import expect_post
from testlib import rows

SITE = """<VirtualHost *:@PORT@>
    ExpectPolicy reject
    {name}
    <Location /echo>
        SetHandler reflector
    </Location>
</VirtualHost>
"""


def site(name=None, extra=""):
    return SITE.format(name=f"ServerName {name}\n    {extra}" if name else extra)


def write_sites(h, files):
    """Replace the sites directory with files: {filename: text}."""
    d = os.path.join(h.root, "sites")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    for f, text in files.items():
        with open(os.path.join(d, f), "w") as fh:
            fh.write(text.replace("@PORT@", str(h.port)))


def policy_lines(h):
    return {ln.split()[0]: ln for ln in expectctl("policy", shm=h.shm).stdout.splitlines()}


def prometheus_labels(h):
    out = expectctl("stats", "--prometheus", shm=h.shm).stdout
    return {ln.split('vhost="')[1].split('"')[0]
            for ln in out.splitlines() if 'vhost="' in ln and not ln.startswith("#")}


def counters(r):
    return r["r417"]["total"], r["expect"]


@pytest.mark.parametrize("mpm", MPMS)
def test_debian_layout_names_survive_edits(mpm):
    h = Httpd("IncludeOptional @ROOT@/sites/*.conf\n", mpm=mpm, name=f"rownames-{mpm}")
    p = h.port
    write_sites(h, {"000-default.conf": site(),
                    "010-shop.conf": site("shop.test", "ExpectPolicy continue")})
    with serving(h):
        before = rows(h)
        assert set(before) == {"main", f"localhost:{p}", f"shop.test:{p}"}, sorted(before)
        # The vhost without ServerName takes the requests for the main name.
        assert expect_post(p, "localhost")[1] == 417
        assert expect_post(p, "localhost")[1] == 417
        assert expect_post(p, "shop.test") == ("100", 200)
        res = expectctl("set", f"shop.test:{p}", "reject", shm=h.shm)
        assert res.returncode == 0, res.stderr
        # "localhost" alone names the vhost: the main server's row is apart.
        res = expectctl("set", "localhost", "continue", shm=h.shm)
        assert res.returncode == 0, res.stderr
        before = rows(h)
        pol_before = policy_lines(h)
        labels_before = prometheus_labels(h)
        assert counters(before[f"localhost:{p}"]) == (2, 2)
        assert labels_before == {"main", f"localhost:{p}", f"shop.test:{p}"}

        # A comment on top, the shop's file renamed to come first, and an
        # unrelated vhost between them.
        write_sites(h, {"000-default.conf": "# managed by hand\n\n" + site(),
                        "001-shop.conf": site("shop.test", "ExpectPolicy continue"),
                        "005-new.conf": site("new.test")})
        h.reload("graceful")
        after = rows(h)
        assert set(after) == set(before) | {f"new.test:{p}"}, sorted(after)
        for name in before:
            assert counters(after[name]) == counters(before[name]), name
            assert policy_lines(h)[name] == pol_before[name]
        assert prometheus_labels(h) == labels_before | {f"new.test:{p}"}
        # The overrides still act on the vhosts they were set on.
        assert expect_post(p, "shop.test")[1] == 417
        assert expect_post(p, "localhost") == ("100", 200)


DUP = """<VirtualHost *:@PORT@>
    ServerName dup.test
    ExpectPolicy {policy}
    <Location /echo>
        SetHandler reflector
    </Location>
</VirtualHost>
"""


def test_true_duplicates_have_stable_suffixes():
    conf = DUP.format(policy="reject") + DUP.format(policy="continue")
    h = Httpd(conf, name="rownames-dup")
    p = h.port
    with serving(h):
        names = [v["name"] for v in h.ctl_json("stats")["vhosts"]]
        assert names == ["main", f"dup.test:{p}", f"dup.test:{p}~2"], names
        res = expectctl("set", f"dup.test:{p}~2", "ignore", shm=h.shm)
        assert res.returncode == 0, res.stderr
        # httpd routes the name to the first of them.
        assert expect_post(p, "dup.test")[1] == 417
        before = policy_lines(h)
        # Another vhost and lines between and before them move nothing.
        h.write_config("# a comment\n\n" + site("other.test") + DUP.format(policy="reject")
                       + "\n# more\n" + site("between.test") + DUP.format(policy="continue"))
        h.reload("graceful")
        after = policy_lines(h)
        for name in (f"dup.test:{p}", f"dup.test:{p}~2"):
            assert after[name] == before[name], (after, before)
        assert "override=ignore" in after[f"dup.test:{p}~2"]
        assert rows(h)[f"dup.test:{p}"]["r417"]["total"] == 1
        # Without the number, the plain name is the first duplicate's own.
        res = expectctl("policy", f"dup.test:{p}", shm=h.shm)
        assert res.returncode == 0 and "override=ignore" not in res.stdout, res


def loopback2_free(port):
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", port))
        return True
    except OSError:
        return False


def test_address_in_the_name_where_it_tells_vhosts_apart():
    conf = ("<VirtualHost 127.0.0.1:@PORT@>\n    ServerName ip.test\n</VirtualHost>\n"
            "<VirtualHost 127.0.0.2:@PORT@>\n    ServerName ip.test\n</VirtualHost>\n")
    h = Httpd(conf, name="rownames-addr")
    p = h.port
    try:
        # Listening at that address only: the address tells nothing apart.
        res = h.configtest()
        assert res.returncode == 0, res.stderr
        if not loopback2_free(p):
            pytest.skip(f"127.0.0.2:{p} is taken on this machine")
        h.write_config(f"Listen 127.0.0.2:{p}\n" + conf)
    except BaseException:
        h.cleanup()
        raise
    with serving(h):
        names = [v["name"] for v in h.ctl_json("stats")["vhosts"]]
        assert names == ["main", f"ip.test:{p}@127.0.0.1", f"ip.test:{p}@127.0.0.2"], names
        res = expectctl("set", f"ip.test:{p}", "reject", shm=h.shm)
        assert res.returncode == 1 and "ambiguous" in res.stderr, res
        assert expectctl("set", f"ip.test:{p}@127.0.0.2", "reject",
                         shm=h.shm).returncode == 0


def test_single_address_keeps_plain_name():
    h = Httpd("<VirtualHost 127.0.0.1:@PORT@>\n    ServerName one.test\n</VirtualHost>\n",
              name="rownames-one")
    with serving(h):
        assert [v["name"] for v in h.ctl_json("stats")["vhosts"]] == \
            ["main", f"one.test:{h.port}"]


def test_stats_name_names_a_row():
    conf = (site("shop.test", "ExpectStatsName shop-eu")
            + site("dup.test") + site("dup.test", "ExpectStatsName dup-second")
            + site("dup.test") + "ExpectStatsName front\n"
            # No directive of ours: httpd hands it the main server's config,
            # but not the main server's name.
            + "<VirtualHost *:@PORT@>\n    ServerName bare.test\n</VirtualHost>\n")
    h = Httpd(conf, name="rownames-named")
    p = h.port
    with serving(h):
        names = [v["name"] for v in h.ctl_json("stats")["vhosts"]]
        # Naming one duplicate leaves the others' numbers alone.
        assert sorted(names) == sorted(["front", "shop-eu", f"dup.test:{p}", "dup-second",
                                        f"dup.test:{p}~3", f"bare.test:{p}"]), names
        assert expect_post(p, "shop.test")[1] == 417
        out = expectctl("stats", "--prometheus", shm=h.shm).stdout
        assert 'mod_expect_417_responses_total{vhost="shop-eu",' in out, out
        ev = json.loads(expectctl("events", "--json", shm=h.shm).stdout)["events"]
        assert [e["vhost"] for e in ev] == ["shop-eu"]
        res = expectctl("set", "shop-eu", "continue", shm=h.shm)
        assert res.returncode == 0, res.stderr
        assert expect_post(p, "shop.test") == ("100", 200)


COLLISIONS = [
    (site("a.test", "ExpectStatsName same") + site("b.test", "ExpectStatsName same"),
     ["EXP0018", "virtual host a.test (", "virtual host b.test (", "'same'",
      "ExpectStatsName"]),
    # With an automatic name.
    (site("a.test") + site("b.test", "ExpectStatsName a.test:@PORT@"),
     ["EXP0018", "virtual host a.test (", "virtual host b.test (", "'a.test:"]),
    # With the main server's reserved name.
    (site("a.test", "ExpectStatsName main"),
     ["EXP0018", "virtual host a.test (", ") and the main server would both", "'main'"]),
    ("ExpectStatsName -front\n", ["ExpectStatsName", "'-front' cannot name a row",
                                  "starting with a letter or digit"]),
    (site("a.test", 'ExpectStatsName "two words"'),
     ["ExpectStatsName", "'two words' cannot name a row"]),
    ("ExpectStatsName " + "x" * 128 + "\n", ["ExpectStatsName", "1 to 127"]),
]


@pytest.mark.parametrize("snippet,needles", COLLISIONS,
                         ids=["two-named", "named-as-automatic", "named-main", "leading-dash",
                              "space", "too-long"])
def test_bad_stats_names_refused_at_configtest(snippet, needles):
    h = Httpd(snippet, name="rownames-bad")
    try:
        res = h.configtest()
        assert res.returncode != 0, res.stderr
        for n in needles:
            assert n.replace("@PORT@", str(h.port)) in res.stderr, res.stderr
    finally:
        h.cleanup()


def test_good_stats_names_pass_configtest():
    h = Httpd(site("a.test", "ExpectStatsName shop_eu-1.a:443@x~2+b")
              + "ExpectStatsName front-door\n", name="rownames-good")
    try:
        res = h.configtest()
        assert res.returncode == 0 and "Syntax OK" in res.stderr, res.stderr
    finally:
        h.cleanup()
