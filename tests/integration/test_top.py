# SPDX-License-Identifier: Apache-2.0
"""expectctl top (issue #25), driven as a person would: in tmux, with
new-session -x 80 -y 24, send-keys and capture-pane, against a private
httpd.  Traffic shows up as rates (under event, worker and prefork), and
goes back to zero when it stops; s sorts by the next column; / filters;
Enter opens a vhost with its events and its clients' fixes; PgDn, End and
the arrows scroll through many vhosts; a resize to 132x40 redraws with no
line wider than the window; a stopped httpd shows STALE and blanks the
rates, a started one is reattached; q quits with 0; ? helps; p pauses; c
changes a policy exactly as expectctl set does, only as root and only
after y; --once and no terminal print one frame; NO_COLOR and a non-UTF-8
locale are honoured; TERM=screen works as xterm does."""
import os
import pwd
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from httpd_harness import MPMS, Httpd, expectctl, expectctl_path, serving
from testlib import upload, vhost, wait_for


NVHOSTS = 40
CONF = "".join([vhost("busy.test", "ExpectPolicy reject"),
                vhost("calm.test", "ExpectPolicy continue")]
               + [vhost(f"v{i:02d}.test", "ExpectPolicy continue") for i in range(NVHOSTS)])
ROW = re.compile(r"^(\S+)\s+(con|rej|ign)(\*?)\s+(.*)$")


class Tmux:
    """One private tmux server (-L) with one session running a command."""
    count = 0

    def __init__(self, args, shm, width=80, height=24, env=None, user=None):
        Tmux.count += 1
        self.sock = f"mod_expect-top-{os.getpid()}-{Tmux.count}"
        self.exit_file = f"/tmp/{self.sock}.exit"
        self.stty_file = f"/tmp/{self.sock}.stty"
        envs = {"TERM": "xterm", "LANG": "C.UTF-8", "LC_ALL": "", "NO_COLOR": ""}
        envs.update(env or {})
        cmd = ["env"] + [f"{k}={v}" for k, v in envs.items()] + [
            expectctl_path(), "-s", shm, "top"] + list(args)
        if user is not None:
            pw = pwd.getpwnam(user)
            cmd = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                   "--clear-groups", "--"] + cmd
        # After top, the pane's terminal as the shell has it (what a person
        # would type next into).
        shell = (" ".join(_quote(c) for c in cmd) + f"; echo $? > {self.exit_file}; "
                 f"stty -a > {self.stty_file}; sleep 600")
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), shell)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=30, check=True).stdout

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def screen(self, escapes=False):
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []))

    def lines(self):
        return self.screen().split("\n")

    def wait(self, pred, what, timeout=20):
        """The screen once pred(screen) holds."""
        last = []

        def check():
            last[:] = [self.screen()]
            return pred(last[0])
        try:
            wait_for(check, timeout=timeout, what=what, interval=0.2)
            return last[0]
        except AssertionError as e:
            raise AssertionError(f"{e}; the screen:\n{last[0] if last else ''}") from None

    def exit_code(self, timeout=10):
        def read():
            try:
                with open(self.exit_file) as f:
                    return f.read().strip() or None
            except OSError:
                return None
        return int(wait_for(read, timeout=timeout, what="top to exit"))

    def top_pid(self):
        """expectctl's pid: the pane's shell's child (env execs expectctl)."""
        shell = int(self.tmux("display-message", "-p", "#{pane_pid}").strip())
        with open(f"/proc/{shell}/task/{shell}/children") as f:
            return int(f.read().split()[0])

    def pane(self, fmt):
        return self.tmux("display-message", "-p", fmt).strip()

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)
        # kill-server can leave its socket behind.
        socket = os.path.join(os.environ.get("TMUX_TMPDIR") or "/tmp", f"tmux-{os.getuid()}",
                              self.sock)
        for path in (self.exit_file, self.stty_file, socket):
            try:
                os.unlink(path)
            except OSError:
                pass


def _quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


class Traffic(threading.Thread):
    """Uploads with Expect: 100-continue, round robin over hosts, until stopped."""

    def __init__(self, port, hosts, pause=0.02, ua=None):
        super().__init__(daemon=True)
        self.port, self.hosts, self.pause = port, hosts, pause
        self.headers = (f"User-Agent: {ua}",) if ua else ()
        self.halt = threading.Event()
        self.sent = 0

    def run(self):
        while not self.halt.is_set():
            for host in self.hosts:
                try:
                    upload(self.port, host, headers=self.headers, wait=1.0)
                    self.sent += 1
                except OSError:
                    pass
            time.sleep(self.pause)

    def stop(self):
        self.halt.set()
        self.join(10)


def rows_of(screen):
    """{vhost name: [policy, override mark, columns...]} of the list."""
    out = {}
    for line in screen.split("\n"):
        m = ROW.match(line)
        if m and m.group(1) != "VHOST":
            out[m.group(1)] = [m.group(2), m.group(3)] + m.group(4).split()
    return out


def row_names(screen):
    return [line.split()[0] for line in screen.split("\n")
            if ROW.match(line) and not line.startswith("VHOST")]


def widest(screen):
    return max(len(line) for line in screen.split("\n"))


def rate(cell):
    """A rate as top prints it: 0, .02, 0.3, 12, 12k, .3M; "-" (none yet,
    or not live) is NaN, which compares false with any number."""
    if cell == "-":
        return float("nan")
    scale = {"k": 1e3, "M": 1e6}.get(cell[-1:], 1)
    return float(cell.rstrip("kM")) * scale


@pytest.fixture(scope="module", params=MPMS)
def server(request):
    h = Httpd(CONF, mpm=request.param, name=f"top-{request.param}")
    with serving(h):
        yield h


@pytest.fixture(scope="module")
def event_server():
    h = Httpd(CONF, mpm="event", name="top-keys")
    with serving(h):
        yield h


@pytest.fixture
def top_factory():
    """Start top in a private tmux; the --once tests need no tmux."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (build/install-deps.sh installs it)")
    made = []

    def make(h, *args, **kw):
        t = Tmux(args, h.shm, **kw)
        made.append(t)
        return t
    yield make
    for t in made:
        t.close()


def screens_during(top, action, count=60, timed=False):
    """The screens captured every 50 ms while action() runs, and after;
    timed: (seconds since action() began, screen) pairs."""
    seen = []
    t0 = time.monotonic()

    def watch():
        for _ in range(count):
            seen.append((time.monotonic() - t0, top.screen()))
            time.sleep(0.05)
    watcher = threading.Thread(target=watch)
    watcher.start()
    action()
    watcher.join()
    return seen if timed else [screen for _, screen in seen]


# top waits this long for a restart in progress before it says STALE
# (RESTART_GRACE_S in ctl_top.c): a STALE banner before it is a bug, one
# after it may be a loaded machine's slow graceful.
RESTART_GRACE_S = 3.0


def stale_within_the_grace(seen):
    return [s for t, s in seen if "STALE" in s and t < RESTART_GRACE_S]


def sort_by_name(top):
    """Press s until the rows are in the order of their names: the screen."""
    top.wait(lambda s: "VHOST" in s, "the list")
    for _ in range(9):
        top.keys("s")
    return top.wait(lambda s: "sort: name" in s, "sort by name")


def name(h, host):
    return f"{host}:{h.port}"


# ---- rates, under every MPM ----------------------------------------------------

def test_traffic_shows_up_as_rates_and_goes_back_to_zero(server, top_factory):
    h = server
    busy = name(h, "busy.test")
    top = top_factory(h, "-d", "1")
    top.wait(lambda s: "VHOST" in s and busy in s, "the list")
    traffic = Traffic(h.port, ["busy.test"])
    traffic.start()
    try:
        screen = top.wait(lambda s: busy in rows_of(s) and rate(rows_of(s)[busy][2]) > 0
                          and rate(rows_of(s)[busy][5]) > 0, "busy.test's rates")
    finally:
        traffic.stop()
    row = rows_of(screen)[busy]
    # EXP, REJ and 417s by mod_expect move together under ExpectPolicy reject;
    # nothing is continued or sent by core.
    assert row[0] == "rej" and row[1] == ""
    assert rate(row[2]) > 0 and rate(row[5]) > 0 and rate(row[6]) > 0, row
    assert rate(row[3]) == 0 and rate(row[7]) == 0, row
    assert row_names(screen)[0] == busy, "the busiest vhost sorts first"
    assert widest(screen) <= 80
    assert traffic.sent > 0
    # The newest 417s pane names the vhost.
    assert re.search(r"^\d\d:\d\d:\d\d busy\.test", screen, re.M), screen
    # Rates, not totals: once the traffic stops, they fall back to 0.
    top.wait(lambda s: busy in rows_of(s) and rate(rows_of(s)[busy][2]) == 0,
             "the rate to fall back to 0")
    top.keys("q")
    assert top.exit_code() == 0


@pytest.mark.parametrize("mpm", MPMS)
def test_stale_banner_after_stop_then_reattached_after_start(mpm, top_factory):
    if True:
        h = Httpd(CONF, mpm=mpm, name=f"top-stale-{mpm}")
        try:
            h.start()
            top = top_factory(h, "-d", "0.5")
            top.wait(lambda s: "VHOST" in s and "STALE" not in s, "the live list")
            gen = re.search(r"generation (\d+)", top.screen()).group(1)
            pid = h.pid()
            traffic = Traffic(h.port, ["busy.test"])
            traffic.start()
            busy = name(h, "busy.test")
            try:
                top.wait(lambda s: busy in rows_of(s) and rate(rows_of(s)[busy][2]) > 0,
                         "traffic")
            finally:
                traffic.stop()
            h.stop()
            screen = top.wait(lambda s: "STALE" in s, "the STALE banner")
            # Old numbers are never shown as live: every rate and PEND is "-".
            row = rows_of(screen)[busy]
            assert set(row[2:13]) == {"-"}, row
            assert "last written" in screen
            assert re.search(r"per second: EXP -", screen), screen
            h.start()
            screen = top.wait(lambda s: "STALE" not in s and "reattached" in s,
                              "the reattached segment")
            assert busy in rows_of(screen)
            # The stop removed the counters: the new segment starts from zero.
            assert "since start: EXP 0 " in screen, screen
            # A new server (its pid) with a new segment, whose generation
            # counts from a first start's again.
            assert int(re.search(r"generation (\d+)", screen).group(1)) == int(gen), screen
            assert f"httpd pid {h.pid()} " in screen and f"httpd pid {pid} " not in screen
            top.keys("q")
            assert top.exit_code() == 0
        finally:
            h.cleanup()


def test_graceful_restart_is_never_stale(event_server, top_factory):
    """A graceful restart keeps serving: no STALE flash, the generation moves."""
    h = event_server
    top = top_factory(h, "-d", "0.2")
    screen = top.wait(lambda s: "VHOST" in s and "STALE" not in s, "the live list")
    gen = int(re.search(r"generation (\d+)", screen).group(1))
    seen = screens_during(top, lambda: h.reload("graceful"), timed=True)
    assert not stale_within_the_grace(seen), stale_within_the_grace(seen)[:1]
    top.wait(lambda s: f"generation {gen + 1}" in s and "STALE" not in s, "the next generation")


def test_graceful_that_rebuilds_the_segment_is_followed(top_factory):
    """Vhosts beyond the table's capacity make a graceful restart build new
    files: top attaches them without a STALE flash, and lists the new
    vhosts with the counters carried over."""
    small = vhost("busy.test", "ExpectPolicy reject")
    h = Httpd(small, name="top-grow")
    with serving(h):
        top = top_factory(h, "-d", "0.3")
        top.wait(lambda s: "VHOST" in s and name(h, "busy.test") in s, "the small list")
        assert upload(h.port, "busy.test") == 417
        top.wait(lambda s: "since start: EXP 1 " in s, "the 417 counted")
        ino = os.stat(h.shm).st_ino
        h.write_config(small + "".join(vhost(f"g{i:02d}.test") for i in range(70)))
        seen = screens_during(top, lambda: h.reload("graceful"), timed=True)
        assert os.stat(h.shm).st_ino != ino, "the graceful did not rebuild the segment"
        screen = top.wait(lambda s: "72 vhosts" in s and "STALE" not in s, "the grown table")
        assert "since start: EXP 1 " in screen, "the counters came along"
        assert not stale_within_the_grace(seen), stale_within_the_grace(seen)[:1]
        # The message stays until a key: on the screen that shows the new table.
        assert "reattached" in screen or any("reattached" in s for _, s in seen), screen


def test_reset_while_top_runs_gives_no_rate_for_a_frame(event_server, top_factory):
    """expectctl reset takes a vhost's counters down: the frame that sees it
    shows no rate for the vhost ("-"), not one made up from the drop, and
    the next frame its true rate again."""
    h = event_server
    busy = name(h, "busy.test")
    top = top_factory(h, "-d", "0.5", "busy.test")
    traffic = Traffic(h.port, ["busy.test"])
    traffic.start()
    try:
        screen = top.wait(lambda s: busy in rows_of(s) and rate(rows_of(s)[busy][2]) > 0,
                          "busy's rate")
        before = rate(rows_of(screen)[busy][2])

        def reset():
            res = expectctl("reset", busy, shm=h.shm)
            assert res.returncode == 0, res.stderr
        seen = screens_during(top, reset, count=40)
        top.wait(lambda s: busy in rows_of(s) and rate(rows_of(s)[busy][2]) > 0,
                 "busy's rate again")
    finally:
        traffic.stop()
    cells = [rows_of(s)[busy][2] for s in seen if busy in rows_of(s)]
    assert "-" in cells, cells
    assert max(rate(c) for c in cells if c != "-") < 10 * before + 50, cells


def test_stale_banner_when_the_parent_is_killed(top_factory):
    """kill -9 leaves the files in place, LIVE in the control file: only
    the dead parent tells the numbers are not live."""
    h = Httpd(CONF, name="top-killed")
    try:
        h.start()
        top = top_factory(h, "-d", "0.5")
        top.wait(lambda s: "VHOST" in s and "STALE" not in s, "the live list")
        pid = h.pid()
        os.kill(pid, signal.SIGKILL)
        screen = top.wait(lambda s: "STALE" in s, "the STALE banner")
        assert f"httpd pid {pid}, which served it, is no longer running" \
            in " ".join(screen.split()), screen
        assert os.path.exists(h.shm), "the files are still there"
        assert set(rows_of(screen)[name(h, "busy.test")][2:]) == {"-"}
    finally:
        kill_orphans(h)
        h.cleanup()


def kill_orphans(h):
    """The children of a parent that died: end them, by their ServerRoot."""
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if h.conf.encode() in f.read():
                    os.kill(int(entry), signal.SIGKILL)
        except (OSError, ValueError):
            pass


# ---- keys ----------------------------------------------------------------------

@pytest.fixture
def two_loads(event_server):
    """busy.test (reject) twice as busy as calm.test (continue)."""
    t = Traffic(event_server.port, ["busy.test", "busy.test", "calm.test"], ua="curl/7.88.1")
    t.start()
    yield event_server
    t.stop()


def test_s_cycles_the_sort_column(two_loads, top_factory):
    h = two_loads
    busy, calm = name(h, "busy.test"), name(h, "calm.test")
    top = top_factory(h, "-d", "1")
    screen = top.wait(lambda s: row_names(s)[:2] == [busy, calm], "busy over calm by EXP/s")
    assert "sort: EXP/s" in screen
    top.keys("s")
    screen = top.wait(lambda s: "sort: CON/s" in s and row_names(s)[0] == calm,
                      "calm first by CON/s")
    # Cycle on to the name: alphabetical, main between calm and v00.
    for _ in range(8):
        top.keys("s")
    screen = top.wait(lambda s: "sort: name" in s, "sort by name")
    names = row_names(screen)
    assert names == sorted(names) and names[0] == busy, names
    top.keys("s")
    top.wait(lambda s: "sort: EXP/s" in s, "back to the first column")


def test_slash_filters_by_vhost(event_server, top_factory):
    h = event_server
    top = top_factory(h, "-d", "1")
    top.wait(lambda s: "VHOST" in s, "the list")
    top.keys("/")
    top.wait(lambda s: "filter:" in s, "the filter prompt")
    top.keys("v1", "Enter")
    screen = top.wait(lambda s: "match /v1" in s, "the filtered list")
    names = row_names(screen)
    assert names == [name(h, f"v1{i}.test") for i in range(10)], names
    assert "10 match /v1" in screen
    top.keys("/", "C-u")
    top.keys("BSpace", "BSpace", "Enter")
    top.wait(lambda s: "match /" not in s and name(h, "busy.test") in s, "the whole list again")


def test_pattern_argument_filters(event_server, top_factory):
    h = event_server
    top = top_factory(h, "-d", "1", "v2")
    screen = top.wait(lambda s: "match /v2" in s, "the filtered list")
    assert all("v2" in n for n in row_names(screen)) and len(row_names(screen)) == 10


def test_enter_opens_a_vhost_with_its_events_and_fixes(two_loads, top_factory):
    h = two_loads
    busy = name(h, "busy.test")
    # PATTERN leaves busy alone: Enter cannot open another row that a
    # new frame sorted first.
    top = top_factory(h, "-d", "1", "busy.test")
    top.wait(lambda s: row_names(s) == [busy], "busy alone")
    top.keys("Enter")
    screen = top.wait(lambda s: f"vhost {busy}" in s and "what to do" in s
                      and "curl" in s.split("what to do")[1], "busy's page with curl's fix")
    assert "policy: reject, as configured" in screen
    assert re.search(r"^\d\d:\d\d:\d\d 127\.0\.0\.1 +curl", screen, re.M), screen
    # curl's own switch, from the client table (expectctl clients curl/...).
    fix = " ".join(screen.split("what to do, per client")[1].split())
    assert "-H 'Expect:'" in fix, fix
    top.keys("q")
    top.wait(lambda s: "VHOST" in s and "POL" in s, "back to the list")
    assert top.screen() and not os.path.exists(top.exit_file)


def test_arrows_and_pgdn_scroll_many_vhosts(event_server, top_factory):
    h = event_server
    top = top_factory(h, "-d", "1")
    screen = sort_by_name(top)   # a fixed order
    first = row_names(screen)
    assert len(first) == 12 and first[0] == name(h, "busy.test"), first
    last = name(h, f"v{NVHOSTS - 1:02d}.test")
    assert last not in first
    top.keys("NPage")
    screen = top.wait(lambda s: row_names(s) and row_names(s)[0] != first[0], "the next page")
    assert row_names(screen)[0] not in first[:-1]
    top.keys("End")
    screen = top.wait(lambda s: last in row_names(s), "the last vhost")
    assert row_names(screen)[-1] == last
    top.keys("Home")
    top.wait(lambda s: row_names(s)[:1] == [first[0]], "the top again")
    for _ in range(12):
        top.keys("Down")
    screen = top.wait(lambda s: row_names(s)[:1] == [first[1]], "one line down")
    assert widest(screen) <= 80


def selected_row(top):
    """The name of the row drawn in reverse video (NO_COLOR), or None."""
    for raw in top.screen(escapes=True).split("\n"):
        text = re.sub(r"\x1b\[[0-9;]*m", "", raw)
        if "\x1b[7m" in raw and ROW.match(text) and not text.startswith("VHOST"):
            return text.split()[0]
    return None


def test_selection_follows_its_vhost_when_rows_reorder(event_server, top_factory):
    h = event_server
    top = top_factory(h, "-d", "0.5", env={"NO_COLOR": "1"})
    v00, v05 = name(h, "v00.test"), name(h, "v05.test")
    top.wait(lambda s: row_names(s)[3:4] == [v00], "v00 fourth, by name among zeros")
    top.keys("Down", "Down", "Down")   # busy calm main v00
    # send-keys returns before top has read them: the selection is seen on
    # v00 before any reorder may come.
    wait_for(lambda: selected_row(top) == v00, timeout=20, what="v00 selected")
    traffic = Traffic(h.port, ["v05.test"])
    traffic.start()
    try:
        top.wait(lambda s: row_names(s)[:1] == [v05], "v05 first by its traffic")
        assert selected_row(top) == v00, "the selection stayed on its vhost"
        top.keys("c")
        screen = top.wait(lambda s: "policy for " in s, "the policy question")
        assert f"policy for {v00}:" in screen, screen
    finally:
        traffic.stop()
    top.keys("Escape")
    top.wait(lambda s: "nothing was changed" in s, "nothing changed")


def test_enter_right_after_a_sample_makes_no_rate_of_a_sliver(event_server, top_factory):
    """Enter just after a sample re-reads the events only: a rate over the
    few milliseconds since would make one request 20/s or more.  The rate
    comes with the next sample, over the whole interval (1 in 4 s)."""
    h = event_server
    v07 = name(h, "v07.test")
    top = top_factory(h, "-d", "4", "v07.test")
    # The list is first drawn right after top's first sample.
    top.wait(lambda s: row_names(s) == [v07], "v07 alone")
    assert upload(h.port, "v07.test") == 200
    top.keys("Enter")
    top.wait(lambda s: f"vhost {v07}" in s, "v07's page")
    seen = []

    def expect_rate(screen):
        seen.append(screen)
        m = re.search(r"per second: Expect (\S+),", " ".join(screen.split()))
        return m and m.group(1) != "-" and rate(m.group(1)) > 0 and m.group(1)
    got = top.wait(expect_rate, "a rate for the request", timeout=20)
    cells = [re.search(r"per second: Expect (\S+),", " ".join(s.split())) for s in seen]
    rates = [rate(c.group(1)) for c in cells if c and c.group(1) != "-"]
    assert max(rates) <= 1, (rates, got)


def test_end_in_the_help_shows_its_last_page(event_server, top_factory):
    h = event_server
    top = top_factory(h, "-d", "1")
    top.wait(lambda s: "VHOST" in s, "the list")
    top.keys("?")
    top.wait(lambda s: "keys:" in s, "the help")
    top.keys("End")
    screen = top.wait(lambda s: "keys:" not in s, "the help scrolled")
    body = [line for line in screen.split("\n")[1:-1] if line.strip()]
    assert "not live; top follows a rebuilt segment" in " ".join(screen.split()), screen
    assert len(body) >= 10, screen   # a full page, not the last line alone
    top.keys("Up")
    top.wait(lambda s: s != screen, "Up moves at once from the end")


def test_an_open_vhost_that_is_gone_goes_back_to_the_list(top_factory):
    """A graceful restart that drops the open vhost: the list, in list
    mode (its keys, Enter opens again), and a line that says why."""
    conf = vhost("keep.test") + vhost("drop.test")
    h = Httpd(conf, name="top-gone")
    with serving(h):
        top = top_factory(h, "-d", "0.3", "drop.test")
        drop = name(h, "drop.test")
        top.wait(lambda s: row_names(s) == [drop], "drop alone")
        top.keys("Enter")
        top.wait(lambda s: f"vhost {drop}" in s, "drop's page")
        h.write_config(vhost("keep.test"))
        h.reload("graceful")
        screen = top.wait(lambda s: "is gone" in s, "the vhost gone")
        assert "VHOST" in screen and drop in screen and f"vhost {drop}" not in screen
        top.keys("/")
        top.wait(lambda s: "filter:" in s, "the filter prompt, as in the list")
        top.keys("C-u")
        for _ in range(12):
            top.keys("BSpace")
        top.keys("Enter")
        screen = top.wait(lambda s: name(h, "keep.test") in row_names(s), "the list")
        top.keys("Enter")
        top.wait(lambda s: "vhost " in s and "what to do" in s, "a page opened from the list")


def test_resize_to_132x40_redraws(event_server, top_factory):
    h = event_server
    top = top_factory(h, "-d", "1")
    screen = top.wait(lambda s: "VHOST" in s, "the list")
    assert len(row_names(screen)) == 12 and widest(screen) <= 80
    top.tmux("resize-window", "-x", "132", "-y", "40")
    # The key line is drawn last: a screen with it is not one caught mid-redraw.
    screen = top.wait(lambda s: len(row_names(s)) > 12 and s.rstrip("\n").split("\n")[-1]
                      .startswith("q quit"), "the bigger list")
    assert widest(screen) <= 132
    assert len(screen.rstrip("\n").split("\n")) <= 40
    assert len(row_names(screen)) == 24, row_names(screen)
    # The pane's client column took the room the short names leave.
    head = next(line for line in screen.split("\n") if line.startswith("UTC "))
    assert len(head) > 80, head
    top.tmux("resize-window", "-x", "80", "-y", "24")
    screen = top.wait(lambda s: len(row_names(s)) == 12, "the small list again")
    assert widest(screen) <= 80


def test_help_and_pause(two_loads, top_factory):
    h = two_loads
    top = top_factory(h, "-d", "0.5")
    top.wait(lambda s: "VHOST" in s, "the list")
    top.keys("?")
    screen = top.wait(lambda s: "keys:" in s, "the help")
    assert "Enter" in screen and widest(screen) <= 80
    top.keys("q")
    top.wait(lambda s: "VHOST" in s, "back from the help")
    assert not os.path.exists(top.exit_file), "q in the help goes back, not out"
    top.keys("p")
    screen = top.wait(lambda s: "PAUSED" in s, "PAUSED")
    frozen = [line for line in screen.split("\n") if line.startswith("since start")]
    time.sleep(2)
    assert [line for line in top.lines() if line.startswith("since start")] == frozen
    top.keys("p")
    top.wait(lambda s: "PAUSED" not in s and [line for line in s.split("\n")
                                              if line.startswith("since start")] != frozen,
             "numbers moving again")


def policy_line(h, host):
    res = expectctl("policy", name(h, host), shm=h.shm)
    assert res.returncode == 0, res.stderr
    return res.stdout.split(" ", 1)[1]


def test_policy_change_asks_then_does_what_set_does(event_server, top_factory):
    h = event_server
    top = top_factory(h, "-d", "1")
    sort_by_name(top)
    top.keys("Down", "Down", "Down", "Down")   # busy calm main v00 v01
    before = policy_line(h, "v01.test")
    top.keys("c")
    top.wait(lambda s: "policy for " + name(h, "v01.test") in s, "the policy question")
    top.keys("r")
    top.wait(lambda s: "y/n" in s, "the confirmation")
    top.keys("n")
    top.wait(lambda s: "nothing was changed" in s, "the refusal")
    assert policy_line(h, "v01.test") == before
    top.keys("c")
    top.wait(lambda s: "policy for " in s, "the policy question")
    top.keys("r")
    top.wait(lambda s: "y/n" in s, "the confirmation")
    top.keys("y")
    screen = top.wait(lambda s: "policy set to reject" in s, "the change")
    assert rows_of(top.wait(lambda s: rows_of(s).get(name(h, "v01.test"), [""])[:2]
                            == ["rej", "*"], "the override mark"))
    by_top = policy_line(h, "v01.test")
    res = expectctl("set", name(h, "v02.test"), "reject", shm=h.shm)
    assert res.returncode == 0, res.stderr
    assert by_top == policy_line(h, "v02.test") != before
    assert "override=reject" in by_top and screen
    for host in ("v01.test", "v02.test"):
        assert expectctl("set", name(h, host), "default", shm=h.shm).returncode == 0


def test_resize_during_the_policy_question_keeps_asking(event_server, top_factory):
    """A resize redraws the question at the new size; it is not an answer."""
    h = event_server
    top = top_factory(h, "-d", "1", "v03.test")
    top.wait(lambda s: row_names(s) == [name(h, "v03.test")], "v03 alone")
    before = policy_line(h, "v03.test")
    top.keys("c")
    top.wait(lambda s: "policy for " in s, "the policy question")
    top.tmux("resize-window", "-x", "100", "-y", "30")
    screen = top.wait(lambda s: len(s.rstrip("\n").split("\n")) > 24, "the bigger screen")
    assert "policy for " in screen and "nothing was changed" not in screen, screen
    top.keys("i")
    top.wait(lambda s: "y/n" in s, "the confirmation")
    top.tmux("resize-window", "-x", "80", "-y", "24")
    screen = top.wait(lambda s: len(s.rstrip("\n").split("\n")) <= 24 and "y/n" in s,
                      "the confirmation, at 80x24")
    assert "nothing was changed" not in screen, screen
    top.keys("y")
    top.wait(lambda s: "policy set to ignore" in s, "the change")
    try:
        assert "override=ignore" in policy_line(h, "v03.test") != before
    finally:
        assert expectctl("set", name(h, "v03.test"), "default", shm=h.shm).returncode == 0


def test_policy_change_refused_as_non_root(event_server, top_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root, to run top as another user")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    h = event_server
    # Let nobody read the segment (root's, 0600): top shows it, the
    # control file stays root's to write.
    modes = {p: os.stat(p).st_mode for p in (h.shm, h.shm + ".ctl")}
    try:
        for p in modes:
            os.chmod(p, 0o644)
        before = policy_line(h, "busy.test")
        top = top_factory(h, "-d", "1", user="nobody")
        top.wait(lambda s: "VHOST" in s, "the list as nobody")
        top.keys("c")
        screen = top.wait(lambda s: "needs root" in s, "the refusal")
        assert "nothing was changed" in screen
        assert policy_line(h, "busy.test") == before
        top.keys("q")
        assert top.exit_code() == 0
    finally:
        for p, m in modes.items():
            os.chmod(p, m & 0o7777)


# ---- the terminal ----------------------------------------------------------------

COLOUR_SGR = re.compile(r"\x1b\[[0-9;]*(3[0-7]|4[0-7]|38;|48;)[0-9;]*m")


def test_no_color_and_ascii_sparkline(two_loads, top_factory):
    h = two_loads
    busy = name(h, "busy.test")
    coloured = top_factory(h, "-d", "1")
    plain = top_factory(h, "-d", "1", env={"NO_COLOR": "1", "LANG": "C"})
    s1 = coloured.wait(lambda s: busy in rows_of(s) and "\u2588" in s, "a UTF-8 sparkline")
    s2 = plain.wait(lambda s: re.search(r"^busy\.test\S* .*@", s, re.M), "an ASCII sparkline")
    assert not re.search(r"[^\x00-\x7f]", s2), "a non-UTF-8 locale gets ASCII only"
    assert COLOUR_SGR.search(coloured.screen(escapes=True))
    esc = plain.screen(escapes=True)
    assert not COLOUR_SGR.search(esc), repr(esc[:400])
    assert "\x1b[7m" in esc, "without colour, reverse video marks the heads"
    assert s1


def test_term_screen_works(event_server, top_factory):
    h = event_server
    top = top_factory(h, "-d", "1", env={"TERM": "screen"})
    screen = top.wait(lambda s: "VHOST" in s and name(h, "busy.test") in s, "the list")
    assert widest(screen) <= 80
    top.keys("q")
    assert top.exit_code() == 0


def test_unknown_term_is_a_clear_error(event_server, top_factory):
    h = event_server
    top = top_factory(h, "-d", "1", env={"TERM": "no-such-terminal"})
    assert top.exit_code() == 1
    assert "TERM=no-such-terminal" in top.screen()


@pytest.mark.parametrize("sig,key,status", [
    (signal.SIGQUIT, "C-\\", 128 + signal.SIGQUIT), (signal.SIGINT, "C-c", 0),
    (signal.SIGHUP, None, 128 + signal.SIGHUP), (signal.SIGTERM, None, 128 + signal.SIGTERM)])
def test_a_signal_leaves_the_terminal_sane(event_server, top_factory, sig, key, status):
    """Ctrl-\\, Ctrl-C, a hangup, kill: the terminal comes back as it was
    (main screen, cursor shown, canonical input with echo), and the exit
    status says how top ended: 0 for Ctrl-C as for q, else the signal."""
    h = event_server
    top = top_factory(h, "-d", "1")
    top.wait(lambda s: "VHOST" in s, "the list")
    assert top.pane("#{alternate_on}") == "1" and top.pane("#{cursor_flag}") == "0"
    if key is not None:
        top.keys(key)
    else:
        os.kill(top.top_pid(), sig)
    assert top.exit_code() == status
    stty = wait_for(lambda: os.path.exists(top.stty_file) and open(top.stty_file).read(),
                    timeout=10, what="stty -a in the pane")
    flags = stty.split()
    assert "icanon" in flags and "echo" in flags, stty
    assert "-icanon" not in flags and "-echo" not in flags, stty
    assert top.pane("#{alternate_on}") == "0", "still in the alternate screen"
    assert top.pane("#{cursor_flag}") == "1", "the cursor is still hidden"


# ---- --once ----------------------------------------------------------------------

def test_once_without_a_terminal(two_loads):
    h = two_loads
    res = subprocess.run([expectctl_path(), "-s", h.shm, "top", "-d", "1"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    rows = rows_of(res.stdout)
    assert len(rows) == NVHOSTS + 3, sorted(rows)   # every vhost, not a screenful
    busy = rows[name(h, "busy.test")]
    assert rate(busy[2]) > 0 and rate(busy[5]) > 0, busy
    assert "q quit" not in res.stdout
    assert "\x1b" not in res.stdout
    assert res.stdout.startswith("expectctl top  httpd pid ")
    res = subprocess.run([expectctl_path(), "-s", h.shm, "top", "--once", "-d", "0.2", "calm"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and list(rows_of(res.stdout)) == [name(h, "calm.test")]


def test_once_on_a_dead_segment_is_not_0():
    h = Httpd(CONF, name="top-once-dead")
    try:
        h.start()
        res = expectctl("top", "--once", "-d", "0.1", shm=h.shm)
        assert res.returncode == 0, res.stderr
        h.stop()
        res = expectctl("top", "--once", "-d", "0.1", shm=h.shm)
        assert res.returncode == 3, res
    finally:
        h.cleanup()


def test_once_reports_a_segment_that_dies_between_its_snapshots():
    h = Httpd(CONF, name="top-once-dies")
    try:
        h.start()
        proc = subprocess.Popen([expectctl_path(), "-s", h.shm, "top", "--once", "-d", "6"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The stop comes after its first snapshot: once it sleeps out -d.
        wait_for(lambda: sleeping(proc.pid), timeout=20, what="top's first snapshot")
        h.stop()
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 3, (out, err)
        assert "STALE" in out and "httpd stopped" in err
        assert re.search(r"per second: EXP -", out), out
    finally:
        h.cleanup()


def sleeping(pid):
    """Whether pid sleeps in nanosleep (x86-64 and arm64 syscall numbers)."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            if "nanosleep" in f.read():
                return True
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().split()[0] in ("35", "230", "101", "115")
    except (OSError, IndexError):
        return False


def test_once_over_a_parent_that_died_mid_restart_is_3():
    """A graceful restart whose configuration fails ends the parent after it
    marked the files RESTARTING (as kill -9 mid-restart does): nothing runs
    that could finish the restart, so no grace: the frame is STALE and the
    exit status 3, whether the first snapshot came before or after."""
    h = Httpd(CONF, name="top-once-mid-restart")
    try:
        h.start()
        pid = h.pid()
        proc = subprocess.Popen([expectctl_path(), "-s", h.shm, "top", "--once", "-d", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The first snapshot is taken once it sleeps out -d (the only sleep
        # of a --once over a live segment): the restart comes after it.
        wait_for(lambda: sleeping(proc.pid), timeout=20, what="top's first snapshot")
        h.write_config(CONF + "NoSuchDirectiveAnywhere on\n")
        os.kill(pid, signal.SIGUSR1)

        def gone():
            try:
                os.kill(pid, 0)
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().split(") ")[1].startswith("Z")
            except OSError:
                return True
        wait_for(gone, timeout=20, what="the parent to die on its bad configuration")
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 3, (out, err)
        assert "STALE" in out, (out, err)
        assert f"httpd pid {pid}" in err and "no longer running" in err, err
    finally:
        kill_orphans(h)
        h.cleanup()


def test_bad_arguments():
    for args, msg in ((["-d", "0"], "-d needs seconds"), (["--json"], "top takes"),
                      (["a", "b"], "too many arguments")):
        res = expectctl("top", *args, shm="/nonexistent")
        assert res.returncode == 2 and msg in res.stderr, (args, res.stderr)
    res = expectctl("stats", "--once", shm="/nonexistent")
    assert res.returncode == 2 and "option is for top" in res.stderr
