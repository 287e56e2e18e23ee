# SPDX-License-Identifier: Apache-2.0
"""Every configuration example and every expectctl command the docs show works
when pasted.

Configuration: every ```apache block of README.md and docs/*.md is appended,
as it stands, to a minimal configuration that loads mod_expect (the
harness's Httpd, plus authz_host as on a stock Debian apache2) and must pass
`apache2 -t`.  ${APACHE_LOG_DIR} becomes that
server's log directory; any other ${VARIABLE} fails the test until it is
given a value here.  The configuration files the project ships
(mod_expect/expect.conf, debian/*.conf) get the same check.

A block that cannot stand alone is marked, on the line just before its
fence, with an HTML comment (invisible on a rendered page) that says why:

    <!-- example: fragment: goes inside a <VirtualHost> -->

Such a block is not checked.  Keep them rare: at most MAX_FRAGMENTS, each
with a reason.

Commands: every line of a ```sh block in README.md and docs/*.md that
starts with `expectctl ` runs against a live server, with `-s` naming that
server's segment; whatever follows ` # ` is a comment, and a pipe into
another program is cut off (expectctl's own exit code is checked).
`--follow` runs for a second and must stop cleanly on SIGINT.  A
`--from` command reads sample event logs instead of a segment: each path
with `expect-events.log` in it is taken below a private root, where the
test writes the logs it names (a `*` in the file name stands for two
plain days and a gzip-compressed one, a `*` directory for two servers'
directories), and the output must show
their 417s; a line `zcat ... | expectctl ...` runs whole, in bash, on
those files, and a line `journalctl ... | expectctl ...` on a journald of
the test's own (a journal namespace) that got sample lines through
`logger`, as the docs ship them.  The docs'
`expectctl probe` lines run in test_probe_hops.py, against a chain, and
so do expectctl.8's EXAMPLES with a hop or HTTP/2 option; its other
EXAMPLES run here.  Each NAME:PORT the commands
name is a virtual host of that server, and `probe URL` asks that server
(same path).  The exit code must be 0, or N where the comment says
`(exit N)`.
"""
import glob
import gzip
import json
import os
import re
import shlex
import signal
import subprocess
import time
from urllib.parse import urlsplit

import pytest

from httpd_harness import Httpd, expectctl, expectctl_path, serving
from testlib import private_journald, wait_for

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAX_FRAGMENTS = 2
FRAGMENT = re.compile(r"^<!--\s*example:\s*fragment:\s*(\S.*?)\s*-->$")
FENCE = re.compile(r"^```(\S*)\s*$")


def doc_files():
    return [os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))


def code_blocks(path, lang):
    """(line number of the opening fence, text, fragment reason or None) of
    each fenced block of the given language."""
    with open(path) as f:
        lines = f.read().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, j = i, i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if m.group(1) == lang:
            prev = next((lines[k].strip() for k in range(start - 1, -1, -1)
                         if lines[k].strip()), "")
            fm = FRAGMENT.match(prev)
            blocks.append((start + 1, "\n".join(lines[start + 1:j]) + "\n",
                           fm.group(1) if fm else None))
        i = j + 1
    return blocks


def apache_examples():
    out = []
    for path in doc_files():
        for line, text, fragment in code_blocks(path, "apache"):
            out.append((f"{os.path.relpath(path, REPO)}:{line}", text, fragment))
    return out


EXAMPLES = apache_examples()
SHIPPED = ["mod_expect/expect.conf"] + sorted(
    os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "debian", "*.conf")))


def configtest(text):
    # The modules a stock Debian apache2 has enabled that examples lean on:
    # authz_host for Require ip/local (log_config is built in).
    h = Httpd("", modules=("authz_host",), name="doc-example")
    try:
        body = text.replace("${APACHE_LOG_DIR}", h.logs)
        unknown = re.findall(r"\$\{\w+\}", body)
        assert not unknown, f"no value for {unknown}: add one to test_doc_examples.py"
        h.write_config(body)
        return h.configtest()
    finally:
        h.cleanup()


def test_examples_found():
    """The extractor sees the docs' examples (README has one, the reference
    more), and fragments stay rare and explained."""
    where = {e[0].split(":")[0] for e in EXAMPLES}
    assert "README.md" in where and "docs/mod_expect.md" in where, where
    fragments = [e for e in EXAMPLES if e[2] is not None]
    assert len(fragments) <= MAX_FRAGMENTS, [e[0] for e in fragments]


@pytest.mark.parametrize("where,text,fragment", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_apache_example_passes_configtest(where, text, fragment):
    if fragment is not None:
        pytest.skip(f"fragment: {fragment}")
    res = configtest(text)
    assert res.returncode == 0 and "Syntax OK" in res.stderr, \
        f"{where}: apache2 -t fails on the example:\n{text}\n{res.stderr}"


@pytest.mark.parametrize("rel", SHIPPED)
def test_shipped_config_passes_configtest(rel):
    with open(os.path.join(REPO, rel)) as f:
        text = f.read()
    res = configtest(text)
    assert res.returncode == 0 and "Syntax OK" in res.stderr, f"{rel}:\n{res.stderr}"


def test_configtest_catches_end_of_line_comment():
    """What this file guards against: Apache has no end-of-line comments, so
    the README's old example stopped apache2 -t."""
    res = configtest("ExpectPolicy reject          # clients retry without Expect\n")
    assert res.returncode != 0 and "ExpectPolicy" in res.stderr, res.stderr


def test_fragment_marker_is_read(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("text\n\n<!-- example: fragment: inside a vhost -->\n```apache\n"
                   "ExpectPolicy reject\n```\n\n```apache\nExpectStrict On\n```\n"
                   "```sh\nexpectctl stats\n```\n")
    blocks = code_blocks(str(doc), "apache")
    assert [(b[1], b[2]) for b in blocks] == [("ExpectPolicy reject\n", "inside a vhost"),
                                              ("ExpectStrict On\n", None)]


# ---- expectctl commands of README.md ------------------------------------------------

def doc_commands():
    out = []
    for path in doc_files():
        name = os.path.relpath(path, REPO)
        for line, text, _ in code_blocks(path, "sh"):
            for k, cmd in enumerate(text.split("\n")):
                if ZCAT_PIPE.match(cmd) or JOURNAL_PIPE.match(cmd):
                    out.append((f"{name}:{line + 1 + k}", cmd.strip(), 0))
                    continue
                if not cmd.startswith("expectctl ") or (
                        name != "README.md" and cmd.startswith("expectctl probe")):
                    continue
                code, _, comment = cmd.partition(" #")
                code = code.split(" | ")[0]
                m = re.search(r"\(exit (\d+)\)", comment)
                out.append((f"{name}:{line + 1 + k}", code.strip(),
                            int(m.group(1)) if m else 0))
    return out


# `zcat FILES | expectctl ...`: run whole, on the sample logs;
# `journalctl ... | expectctl ...`: run whole, on a private journald that
# got sample lines through logger, as the docs ship them.
ZCAT_PIPE = re.compile(r"^zcat \S.* \| expectctl ")
JOURNAL_PIPE = re.compile(r"^journalctl \S.* \| expectctl ")
# A path of an event log in a command: written below a private root.
EVENT_LOG = re.compile(r"^/\S*expect-events\S*$")
# What a `*` in a log's file name stands for: two days, the older one
# compressed (a name ending in .gz is written compressed).
LOG_NAMES = ("2026-05-02", "2026-05-01", "2026-04-30.gz")


def event_line(server, pid, seq, usec, outcome):
    """One line in the schema of docs/MANY-SERVERS.md (ExpectEventLog)."""
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(usec // 1000000)) + ".000Z"
    return json.dumps({
        "format": "mod_expect.event", "version": 1, "server": server, "pid": pid,
        "seq": seq, "time": when, "time_usec": usec, "vhost": "main",
        "client": "192.0.2.10", "method": "PUT", "uri": "/upload", "protocol": "HTTP/1.1",
        "expect": "100-continue", "content_length": 4096, "user_agent": "curl/7.88.1",
        "status": 417, "producer": "mod_expect", "reason": "policy", "fix": "-",
        "client_key": "curl", "client_family": "curl", "client_fix": "-H 'Expect:'",
        "outcome": outcome, "retry_after_ms": 40 if outcome == "retried" else None}) + "\n"


def sample_logs(root, cmd):
    """Write the logs a command's paths name below root; returns the command
    with each such path rooted there (globs left for the shell or glob)."""
    now = int(time.time()) * 1000000
    seq = 0
    for tok in shlex.split(cmd):
        if not EVENT_LOG.match(tok):
            continue
        parts = os.path.dirname(tok).strip("/").split("/")
        dirs = [""]
        for part in parts:
            subs = ["www1.example", "www2.example"] if "*" in part else [part]
            dirs = [os.path.join(d, sub) for d in dirs for sub in subs]
        for d in dirs:
            full = os.path.join(root, d)
            os.makedirs(full, exist_ok=True)
            server = os.path.basename(d) if "." in os.path.basename(d) else "www1.example"
            base = os.path.basename(tok)
            names = [base.replace("*", n, 1).replace(".gz.gz", ".gz") for n in LOG_NAMES] \
                if "*" in base else [base]
            for name in names:
                lines = ""
                for outcome in ("retried", "abandoned"):
                    seq += 1
                    lines += event_line(server, 4000, seq, now - seq * 60000000, outcome)
                path = os.path.join(full, name)
                if name.endswith(".gz"):
                    with gzip.open(path, "wt") as f:
                        f.write(lines)
                else:
                    with open(path, "w") as f:
                        f.write(lines)
    return " ".join(root + t if EVENT_LOG.match(t) else t for t in cmd.split(" "))


def run_journal(cmd):
    """`journalctl ... | expectctl ...` on a journald of its own, which got
    sample lines through `logger --size 4096 -t mod_expect` first."""
    now = int(time.time()) * 1000000
    text = "".join(event_line(s, 4000, k, now - k * 60000000, o) for k, (s, o) in
                   enumerate([("www1.example", "retried"), ("www2.example", "abandoned")]))
    with private_journald() as (ns, sock):
        subprocess.run(["logger", "--socket", sock, "--size", "4096", "-t", "mod_expect"],
                       input=text, text=True, check=True, timeout=30)
        line = cmd.replace("journalctl ", f"journalctl --namespace={ns} ", 1).replace(
            "| expectctl ", "| " + shlex.quote(expectctl_path()) + " ", 1)

        def run():
            res = subprocess.run(["bash", "-o", "pipefail", "-c", line], capture_output=True,
                                 text=True, timeout=60)
            return res if "no 417s recorded" not in res.stdout else None
        # journald files the lines a moment after logger returns.
        return wait_for(run, timeout=15, what="the lines back from journald")


def run_from(cmd, root):
    """A --from command (or a zcat or journalctl pipeline into one) on
    sample logs."""
    if JOURNAL_PIPE.match(cmd):
        return run_journal(cmd)
    rooted = sample_logs(root, cmd)
    if ZCAT_PIPE.match(cmd):
        line = rooted.replace("| expectctl ", "| " + shlex.quote(expectctl_path()) + " ", 1)
        return subprocess.run(["bash", "-o", "pipefail", "-c", line], capture_output=True,
                              text=True, timeout=60)
    args = []
    for a in shlex.split(rooted)[1:]:
        args += sorted(glob.glob(a)) if "*" in a else [a]
    env = {k: v for k, v in os.environ.items() if k != "EXPECTCTL_SHM"}
    return subprocess.run([expectctl_path(), *args], capture_output=True, text=True,
                          timeout=60, env=env)


# Options test_probe_hops.py runs the man page's examples with, against a
# chain of hops and an HTTP/2 server.
HOP_OPTIONS = re.compile(r"--(http2|h2c|compare|connect-to|proxy|chain)\b")


def man_commands():
    """expectctl.8's EXAMPLES, but for those with a hop or HTTP/2 option; a
    pipe or a redirection is cut off."""
    with open(os.path.join(REPO, "docs", "expectctl.8")) as f:
        man = f.read()
    start = man.index(".SH EXAMPLES")
    out = []
    for k, raw in enumerate(man[start:man.index(".SH SEE ALSO")].splitlines()):
        cmd = raw.replace("\\-", "-")
        if cmd.startswith("expectctl ") and not HOP_OPTIONS.search(cmd):
            line = man[:start].count("\n") + 1 + k
            out.append((f"docs/expectctl.8:{line}",
                        re.split(r" [|>] ", cmd)[0].strip(), 0))
    return out


COMMANDS = doc_commands() + man_commands()


@pytest.fixture(scope="module")
def live():
    """A server with every NAME:PORT the commands name as a virtual host
    (only its own port listens), and a reflector for probe."""
    vhosts = sorted({m for _, c, _ in COMMANDS
                     for m in re.findall(r"\b([a-z0-9.-]+\.[a-z]+):(\d+)\b", c)})
    body = "<Location />\n    SetHandler reflector\n</Location>\n" + "".join(
        f"<VirtualHost 127.0.0.1:{port}>\n    ServerName {name}\n</VirtualHost>\n"
        for name, port in vhosts)
    h = Httpd(body, name="doc-commands")
    with serving(h):
        yield h


def test_commands_found():
    verbs = {shlex.split(c)[1] for _, c, _ in COMMANDS}
    assert {"stats", "events", "policy", "set", "reset", "probe", "clients", "top"} <= verbs, verbs


def test_commands_found_in_the_docs_too():
    where = {w.split(":")[0] for w, _, _ in COMMANDS}
    assert {"README.md", "docs/TROUBLESHOOTING.md", "docs/expectctl.8"} <= where, where


@pytest.mark.parametrize("line,cmd,want", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_doc_command_runs(live, tmp_path, line, cmd, want):
    if "--from" in cmd:
        res = run_from(cmd, str(tmp_path))
        assert res.returncode == want, \
            f"{line}: {cmd} exited {res.returncode}, not {want}\n{res.stdout}\n{res.stderr}"
        # The sample's 417s are there: in the list, a server's name; in a
        # summary, the client family with its counts.
        assert "no 417s recorded" not in res.stdout and "curl" in res.stdout, \
            f"{line}: {cmd}\n{res.stdout}\n{res.stderr}"
        return
    args = shlex.split(cmd)[1:]
    if "--follow" in args:
        proc = subprocess.Popen([expectctl_path(), "-s", live.shm, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.0)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, f"{line}: {cmd}\n{out}\n{err}"
        return
    for i, a in enumerate(args):
        if a.startswith(("http://", "https://")):
            u = urlsplit(a)
            args[i] = f"http://127.0.0.1:{live.port}{u.path or '/'}"
    if "-i" in args:
        # -i NAME: the instance's runtime directory is the default one with
        # "-NAME"; point that at the live server's.
        rundir = os.path.join(live.root, "rundir")
        link = f"{rundir}-{args[args.index('-i') + 1]}"
        if not os.path.lexists(link):
            os.symlink(live.logs, link)
        env = {k: v for k, v in os.environ.items() if k != "EXPECTCTL_SHM"}
        res = expectctl(*args, env=dict(env, EXPECTCTL_RUNDIR=rundir), timeout=60)
    else:
        res = expectctl(*args, shm=live.shm, timeout=60)
    assert res.returncode == want, \
        f"{line}: {cmd} exited {res.returncode}, not {want}\n{res.stdout}\n{res.stderr}"
