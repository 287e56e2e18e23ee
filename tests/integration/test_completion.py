# SPDX-License-Identifier: Apache-2.0
"""expectctl's bash completion (expectctl/expectctl.bash-completion): bash
sources the script, the test sets COMP_WORDS, COMP_CWORD, COMP_LINE and
COMP_POINT as bash does when TAB is pressed, calls the completion function
and reads COMPREPLY.  Verbs, each verb's options, set's values, and virtual
host names from `expectctl policy`, both from a stand-in that prints its
format and from a live server's segment."""
import os
import subprocess
import textwrap

import pytest

from httpd_harness import Httpd, expectctl_path, serving

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(REPO, "expectctl", "expectctl.bash-completion")

# Calls the completion for the line in $1 (the cursor at its end) and prints
# COMPREPLY, one entry per line.
DRIVER = textwrap.dedent("""\
    source "$SCRIPT"
    complete -p expectctl >/dev/null || { echo "not registered" >&2; exit 3; }
    COMP_LINE=$1
    COMP_POINT=${#COMP_LINE}
    read -r -a COMP_WORDS <<< "$COMP_LINE"
    case $COMP_LINE in *' ') COMP_WORDS+=(""); esac
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    _expectctl
    printf '%s\\n' "${COMPREPLY[@]}"
""")


def complete(line, path=None):
    env = dict(os.environ, SCRIPT=SCRIPT)
    if path:
        env["PATH"] = path + os.pathsep + env.get("PATH", "")
    res = subprocess.run(["bash", "--norc", "--noprofile", "-c", DRIVER, "complete", line],
                         capture_output=True, text=True, env=env, timeout=30)
    assert res.returncode == 0, res.stderr
    return [w for w in res.stdout.split("\n") if w]


VERBS = ["stats", "events", "policy", "set", "reset", "probe", "clients", "top"]


@pytest.mark.parametrize("line,want", [
    ("expectctl ", VERBS),
    ("expectctl st", ["stats"]),
    ("expectctl p", ["policy", "probe"]),
    ("expectctl -", ["-s", "-i", "--help", "--version"]),
    ("expectctl -s /tmp/seg ", VERBS),           # -s takes its PATH, then the verb
    ("expectctl stats --", ["--json", "--prometheus"]),
    ("expectctl events -", ["-s", "-n", "--follow", "--summary", "--json", "--since", "--by",
                            "--from"]),
    ("expectctl events --summary --by ", ["server"]),
    ("expectctl events --since ", []),           # a duration or a time: nothing to offer
    ("expectctl events -n ", []),                # a number: nothing to offer
    ("expectctl probe --", ["--timeout", "--json", "--method", "--size",
                            "--insecure", "--connect", "--connect-to", "--proxy",
                            "--chain", "--http2", "--h2c", "--compare"]),
    ("expectctl probe --h", ["--http2", "--h2c"]),
    ("expectctl probe --connect-to ", []),       # HOST:PORT: nothing to offer
    ("expectctl probe --chain a:1,b:2 --c", ["--connect", "--connect-to", "--chain",
                                             "--compare"]),
    ("expectctl probe http://127.0.0.1/ --method P", ["POST", "PUT", "PATCH"]),
    ("expectctl c", ["clients"]),
    ("expectctl clients -", ["--json"]),
    ("expectctl clients ", []),                  # a User-Agent: nothing to offer
    ("expectctl set all ", ["continue", "reject", "ignore", "default"]),
    ("expectctl set all re", ["reject"]),
    ("expectctl set all reject ", []),           # set takes two arguments
    ("expectctl t", ["top"]),
    ("expectctl top -", ["-s", "-d", "--once"]),
    ("expectctl top --", ["--once"]),
    ("expectctl top -d ", []),                   # seconds: nothing to offer
])
def test_verbs_and_options(line, want):
    assert complete(line) == want


@pytest.fixture
def fake_ctl(tmp_path):
    """An `expectctl` that prints `policy` lines in expectctl's format and
    records the -s it was given."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "seen-s"
    stub = bindir / "expectctl"
    stub.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$1" = -s ]; then echo "$2" > {log}; shift 2; fi
        [ "$1" = policy ] || exit 2
        echo "uploads.example:443 effective=reject configured=continue override=reject strict=off"
        echo "uploads.example:80 effective=continue configured=continue override=- strict=off"
        echo "legacy.example:80 effective=reject configured=reject override=- strict=on"
        echo 'x$(touch${{IFS}}{tmp_path}/pwned1)\\`touch${{IFS}}{tmp_path}/pwned2\\`.example:80 effective=continue configured=continue override=- strict=off'
        """))
    stub.chmod(0o755)
    return str(bindir), log


def test_vhost_names_from_policy(fake_ctl):
    path, log = fake_ctl
    names = ["uploads.example:443", "uploads.example:80", "legacy.example:80"]
    evil = [n for n in complete("expectctl stats ", path) if n.startswith("x")]
    # A name with $(...) and backticks is offered as it is, never run.
    assert len(evil) == 1 and "$(touch" in evil[0] and "`touch" in evil[0], evil
    assert not os.path.exists(os.path.join(os.path.dirname(path), "pwned1"))
    assert not os.path.exists(os.path.join(os.path.dirname(path), "pwned2"))
    assert complete("expectctl stats u", path) == names[:2]
    assert complete("expectctl stats ", path) == names + evil
    assert complete("expectctl policy l", path) == ["legacy.example:80"]
    assert complete("expectctl reset up", path) == names[:2]
    assert complete("expectctl set ", path) == ["all"] + names + evil
    # A name holds a colon, which bash's word splitting breaks at: the
    # completion offers what follows it.
    assert complete("expectctl set uploads.example:4", path) == ["443"]
    assert complete("expectctl set uploads.example:", path) == ["443", "80"]
    assert not log.exists()
    # -s PATH is passed on to the policy call.
    assert complete("expectctl -s /srv/seg.shm policy leg", path) == ["legacy.example:80"]
    assert log.read_text().strip() == "/srv/seg.shm"
    # events takes no VHOST; top's PATTERN starts from the names.
    assert complete("expectctl events ", path) == []
    assert complete("expectctl top -d 1 up", path) == names[:2]
    assert complete("expectctl top uploads.example:443 ", path) == []


def test_vhost_names_from_live_segment():
    """The real expectctl against a running server: `policy`'s output is
    what the completion parses."""
    conf = "".join(f"<VirtualHost 127.0.0.1:@PORT@>\nServerName {n}\n</VirtualHost>\n"
                   for n in ("alpha.test", "beta.test"))
    h = Httpd(conf, name="completion")
    with serving(h):
        ctl = expectctl_path()
        words = complete(f"{ctl} -s {h.shm} set ")
        assert words[0] == "all"
        assert f"alpha.test:{h.port}" in words and f"beta.test:{h.port}" in words
        assert complete(f"{ctl} -s {h.shm} stats be") == [f"beta.test:{h.port}"]
        assert complete(f"{ctl} -s {h.shm} set beta.test:") == [str(h.port)]


def test_events_summary_and_instances(tmp_path):
    assert complete("expectctl events --s") == ["--summary", "--since"]
    run = tmp_path / "apache2"
    for name, seg in (("two", True), ("three", True), ("empty", False), (".hidden", True)):
        d = tmp_path / f"apache2-{name}"
        d.mkdir()
        if seg:
            (d / "mod_expect.shm").write_bytes(b"")
    env = dict(os.environ, SCRIPT=SCRIPT, EXPECTCTL_RUNDIR=str(run))
    res = subprocess.run(["bash", "--norc", "--noprofile", "-c", DRIVER, "complete",
                          "expectctl -i "], capture_output=True, text=True, env=env,
                         timeout=30)
    assert res.returncode == 0, res.stderr
    # Only the instances with a segment, as expectctl -i lists them.
    assert res.stdout.split() == ["three", "two"]
    res = subprocess.run(["bash", "--norc", "--noprofile", "-c", DRIVER, "complete",
                          "expectctl -i tw"], capture_output=True, text=True, env=env,
                         timeout=30)
    assert res.stdout.split() == ["two"]


def test_offered_names_work_with_set():
    """A ServerName starting with '-' is offered behind --, a non-ASCII one
    in the escaped form policy prints: what completion inserts, run by the
    shell, is a set that reaches that vhost."""
    names = ("-dash.test", "caf\u00e9.test")
    conf = "".join(f"<VirtualHost 127.0.0.1:@PORT@>\nServerName {n}\n</VirtualHost>\n"
                   for n in names)
    h = Httpd(conf, name="completion-names")
    with serving(h):
        ctl = expectctl_path()
        dash = complete(f"{ctl} -s {h.shm} set -")
        assert f"-- -dash.test:{h.port}" in dash, dash
        cafe = complete(f"{ctl} -s {h.shm} set caf")
        assert cafe == [f"caf\\\\xc3\\\\xa9.test:{h.port}"], cafe
        for word in (dash[-1], cafe[0]):
            # The line as the user accepts it, through the shell.
            res = subprocess.run(["bash", "--norc", "--noprofile", "-c",
                                  f"{ctl} -s {h.shm} set {word} reject"],
                                 capture_output=True, text=True, timeout=30)
            assert res.returncode == 0, (word, res.stderr)
        res = subprocess.run([ctl, "-s", h.shm, "policy"], capture_output=True,
                             text=True, timeout=30)
        lines = {ln.split()[0]: ln for ln in res.stdout.splitlines()}
        assert "override=reject" in lines[f"-dash.test:{h.port}"], res.stdout
        assert "override=reject" in lines[f"caf\\xc3\\xa9.test:{h.port}"], res.stdout
        # Without --, the name is taken for an option.
        res = subprocess.run([ctl, "-s", h.shm, "set", f"-dash.test:{h.port}", "default"],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 2 and "unknown option" in res.stderr, res


def test_from_offers_files(tmp_path):
    """events --from FILE...: files, for the word after --from and for every
    word after it up to the next option; an option again after that."""
    (tmp_path / "expect-events.log").write_text("")
    (tmp_path / "expect-events.log.1.gz").write_bytes(b"")
    (tmp_path / "other").write_text("")
    pre = str(tmp_path / "expect-")
    want = sorted([str(tmp_path / "expect-events.log"), str(tmp_path / "expect-events.log.1.gz")])
    assert sorted(complete(f"expectctl events --summary --from {pre}")) == want
    assert sorted(complete(f"expectctl events --from {tmp_path}/other {pre}")) == want
    assert sorted(complete(f"expectctl events --from - {pre}")) == want
    assert complete(f"expectctl events --from {tmp_path}/other --j") == ["--json"]
    # After another option, a word is no file of --from: events takes none.
    assert complete(f"expectctl events --from {tmp_path}/other --json {pre}") == []
