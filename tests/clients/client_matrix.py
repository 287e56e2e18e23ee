# SPDX-License-Identifier: Apache-2.0
"""Real HTTP clients against ExpectPolicy continue|reject|ignore.

Used by tests/integration/test_clients.py, which runs every client against
every policy, asserts the results and renders docs/CLIENTS.md and the
client table of docs/TROUBLESHOOTING.md from them.

Every client uploads SIZE random bytes through a counting relay
(tests/clients/wire.py) to one of three virtual hosts, one per policy.
What is measured, and by whom:

  server log   whether httpd saw Expect, every request of the upload (so a
               retry shows), the status httpd sent
  relay        the 100s httpd sent, the stall (end of the request head to
               the first body byte, or to the final response or the end of
               the connection if either came first), and the body bytes
               the client sent with a request that was answered 417
  client       the final status and error the application sees, and
               whether the body came back intact (echo, ETag or pushed ref)

A client still running after HANG_AFTER seconds is killed: it hangs.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 2 * 1024 * 1024
POLICIES = ("continue", "reject", "ignore")
HANG_AFTER = 15.0
# Node's "continue-only" pattern has no timeout of its own: the script's
# application-level timeout bounds it.
NODE_APP_TIMEOUT = 2.0
NODE_FALLBACK = 1.0
# Debian's interpreter, so that Debian's requests and botocore are measured.
PYTHON3 = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
GIT_USER, GIT_PASSWORD, GIT_REALM = "pusher", "push-secret", "git"


# ------------------------------------------------------------ expectations
# What a client does under one policy, in the terms of observe().

def _b(got_100=False, stall="none", outcome="ok", retried=False, pushed=None):
    return dict(got_100=got_100, stall=stall, outcome=outcome, retried=retried,
                pushed=pushed)


CONTINUE_OK = _b(got_100=True)
REJECT_BEFORE_BODY = _b(outcome=417, pushed="none")
REJECT_AFTER_BODY = _b(outcome=417, pushed="all")
# Writes the body while it reads, and stops when the 417 comes: how much
# went out first is a race.
REJECT_RACING = _b(outcome=417, pushed=("part", "all"))
IGNORE_WAITS = _b(stall="wait")
IGNORE_AT_ONCE = _b()
NO_EXPECT = {p: _b() for p in POLICIES}
# Sends Expect, waits for the 100 (or its timeout) before the body.
WAITER = {"continue": CONTINUE_OK, "reject": REJECT_BEFORE_BODY,
          "ignore": IGNORE_WAITS}
# Sends Expect but the body right behind the head.
PUSHER = {"continue": CONTINUE_OK, "reject": REJECT_AFTER_BODY,
          "ignore": IGNORE_AT_ONCE}


class Client:
    """One way of uploading.

    wait       how long it waits for a 100 that does not come (None: it
               does not wait)
    behaviour  {policy: expected observe() result}
    errors     {policy: (regex, text)}: the error the application sees,
               checked against the run, and how the doc words it
    switch     the client's own way to stop sending Expect (TROUBLESHOOTING)
    table      the key of the entry of expectctl's client table
               (mod_expect/expect_clients.c) that this run stands for: the
               tests check the entry's facts, for the version the client's
               User-Agent names, against what the run did
    versioned  its behaviour under reject depends on its version, as the
               table's entry says (version ranges): behaviour["reject"]
               lists both outcomes, and expected() picks the one the
               table gives the installed version
    """

    def __init__(self, key, program, label, args, expect_how, behaviour,
                 wait=None, wait_why=None, kind="echo", workaround=False,
                 errors=None, switch=None, sends_expect=True, table=None,
                 versioned=False):
        self.key = key
        self.program = program
        self.label = label
        self.args = args
        self.expect_how = expect_how
        self.behaviour = behaviour
        self.wait = wait
        self.wait_why = wait_why
        self.kind = kind
        self.workaround = workaround
        self.errors = errors or {}
        self.switch = switch
        self.sends_expect = sends_expect
        self.table = table
        self.versioned = versioned


LIBCURL = "added by libcurl for a body over 1 MB"
# What botocore raises for mod_expect's 417 page: the page is HTML, not the
# XML error S3 sends, so botocore gives the status as the error code and
# the reason phrase as the message.
BOTOCORE_417 = (r"^ClientError: An error occurred \(417\) when calling the PutObject "
                r"operation: Expectation Failed$",
                "`ClientError: An error occurred (417) when calling the PutObject "
                "operation: Expectation Failed`")
APP = "set by the application"
CLIENTS = [
    Client("curl", "curl", "curl (defaults)", [],
           "added by curl for a body over 1 MB", WAITER, table="curl",
           wait=1.0, wait_why="curl's built-in expect timeout",
           switch="`-H 'Expect:'`; `--expect100-timeout` shortens the wait"),
    Client("curl-timeout", "curl", "curl --expect100-timeout 0.2",
           ["--expect100-timeout", "0.2"], "added by curl for a body over 1 MB",
           WAITER, wait=0.2, wait_why="--expect100-timeout"),
    Client("php", "php", "PHP cURL (defaults)", ["default"], LIBCURL, WAITER,
           table="php-curl",
           wait=1.0, wait_why="libcurl's default expect timeout",
           switch="`CURLOPT_HTTPHEADER => ['Expect:']`"),
    Client("php-timeout", "php", "PHP cURL, CURLOPT_EXPECT_100_TIMEOUT_MS 200",
           ["timeout-ms=200"], LIBCURL, WAITER,
           wait=0.2, wait_why="CURLOPT_EXPECT_100_TIMEOUT_MS"),
    Client("node", "node", "Node http, body sent on 'continue' only",
           [f"continue-only:{int(NODE_APP_TIMEOUT * 1000)}"], APP,
           {**WAITER, "ignore": _b(stall="wait", outcome="error")}, table="node-http",
           wait=NODE_APP_TIMEOUT,
           wait_why="until the application's own timeout; Node never sends "
                    "the body by itself",
           errors={"ignore": (r"^no 100 within \d+ ms: application aborted$",
                              "the application gave up, no response")},
           switch="do not set the header (Node never adds it); with it, "
                  "send the body after a timer too"),
    Client("node-fallback", "node",
           f"Node http, body on 'continue' or after {NODE_FALLBACK:g} s",
           [f"fallback:{int(NODE_FALLBACK * 1000)}"], APP, WAITER,
           wait=NODE_FALLBACK, wait_why="the application's fallback timer"),
    Client("go", "go", "Go net/http, ExpectContinueTimeout 1 s",
           ["expect:1000"], APP, WAITER, table="go",
           wait=1.0, wait_why="ExpectContinueTimeout",
           switch="do not set the header (Go never adds it); "
                  "`ExpectContinueTimeout: 0` keeps the header and only "
                  "drops the wait"),
    Client("go-timeout0", "go", "Go net/http, ExpectContinueTimeout 0",
           ["expect:0"], APP,
           {**PUSHER, "reject": _b(outcome=417, pushed=("none", "part", "all"))}),
    Client("java-httpclient", "java",
           "Java HttpClient, expectContinue(true)", ["httpclient-expect"],
           "set by expectContinue(true)",
           # Under reject: hangs before the fix of JDK-8286171, gets the
           # 417 from it on; which, the table says by version.
           {"continue": CONTINUE_OK,
            "reject": _b(outcome=("hangs", 417), pushed="none"),
            "ignore": _b(stall="hangs", outcome="hangs")},
           table="java-httpclient", versioned=True,
           switch="`expectContinue(false)` (the default)"),
    Client("java-urlconnection", "java",
           "Java HttpURLConnection, fixed-length streaming + Expect header",
           ["urlconnection-expect"], APP,
           WAITER, wait=5.0, table="java-urlconnection",
           wait_why="HttpURLConnection's built-in 5 s when no read timeout is set",
           errors={"reject": (r"^java\.net\.ProtocolException: Server rejected operation$",
                              "`getOutputStream()` throws "
                              "`ProtocolException: Server rejected operation`; "
                              "`getResponseCode()` then says 417")},
           switch="do not set the header (Java never adds it)"),
    Client("python-httpclient", "python", "Python http.client, Expect header",
           ["httpclient-expect"], APP, PUSHER, table="python-http-client",
           switch="do not set the header: http.client never waits for a 100"),
    Client("requests-expect", "python", "requests, Expect header",
           ["requests-expect"], APP, PUSHER, table="python-requests",
           switch="do not set the header (requests never adds it)"),
    Client("botocore", "botocore", "botocore S3 PutObject, file body",
           ["botocore"], "added by botocore for a file-like body", WAITER,
           wait=1.0, wait_why="botocore's built-in 1 s", kind="s3", table="botocore",
           errors={"reject": BOTOCORE_417},
           switch="`client.meta.events.unregister('before-call.s3', "
                  "botocore.handlers.add_expect_header)`; no setting"),
    Client("botocore-bytes", "botocore", "botocore S3 PutObject, body as bytes",
           ["botocore-bytes"], "added by botocore, which wraps the bytes in a file object",
           WAITER, wait=1.0, wait_why="botocore's built-in 1 s", kind="s3",
           errors={"reject": BOTOCORE_417}),
    Client("ruby", "ruby", "Ruby Net::HTTP, continue_timeout 1 + Expect header",
           ["expect:1"], APP, WAITER, table="ruby",
           wait=1.0, wait_why="continue_timeout",
           switch="do not set the header (Net::HTTP never adds it); "
                  "without `continue_timeout` it sends the body at once"),
    Client("ruby-nowait", "ruby", "Ruby Net::HTTP, Expect header, no continue_timeout",
           ["expect"], APP, PUSHER),
    Client("git", "git",
           "git push, server's 401 offers Negotiate, Digest and Basic (chunked pack)",
           ["negotiate"], "added by git for a chunked push after Negotiate and Basic "
           "were offered",
           WAITER, wait=1.0, wait_why="libcurl's default expect timeout; git sets none",
           kind="git", table="git",
           errors={"reject": (r"RPC failed; HTTP 417",
                              "`error: RPC failed; HTTP 417`, push fails")},
           switch="`git -c http.postBuffer=BYTES` above the pack size (no "
                  "chunked request, no Expect); git sends it only when the "
                  "server's 401 offers Basic along with Negotiate"),
    Client("git-nobasic", "git",
           "git push, server's 401 offers Negotiate and Digest, no Basic",
           ["negotiate-nobasic"], "git adds none when Basic is not offered too",
           NO_EXPECT, kind="git", sends_expect=False),
    Client("git-digest", "git", "git push, server's 401 offers Digest only",
           ["digest"], "git adds none without Negotiate", NO_EXPECT,
           kind="git", sends_expect=False),
    Client("lwp", "lwp", "libwww-perl, Expect header", ["expect"], APP,
           {**WAITER, "ignore": _b(stall="wait", outcome="error")}, table="libwww-perl",
           wait=2.0, wait_why="LWP::Protocol::http's built-in 2 s",
           errors={"ignore": (r"^LWP internal 500: Can't use an undefined value "
                              r"as a SCALAR reference",
                              "LWP fails with an internal 500 "
                              "\"Can't use an undefined value as a SCALAR "
                              "reference\"; the body is never sent")},
           switch="do not set the header (LWP never adds it)"),
    Client("wget", "wget", "wget --post-file, --header 'Expect: 100-continue'",
           ["--header=Expect: 100-continue"], APP, {**PUSHER, "reject": REJECT_RACING},
           table="wget",
           errors={"reject": (r"^exit 8: ERROR 417", "exit 8, `ERROR 417`")},
           switch="do not pass the header (wget never adds it)"),
    # The advice, measured the same way.
    Client("curl-noexpect", "curl", "curl -H 'Expect:'", ["-H", "Expect:"],
           "removed", NO_EXPECT, workaround=True, sends_expect=False),
    Client("php-noexpect", "php", "PHP cURL, CURLOPT_HTTPHEADER ['Expect:']",
           ["no-expect"], "removed", NO_EXPECT, workaround=True,
           sends_expect=False),
    Client("node-noexpect", "node", "Node http, no Expect header", ["no-expect"],
           "not set by the application", NO_EXPECT, workaround=True,
           sends_expect=False),
    Client("java-httpclient-noexpect", "java",
           "Java HttpClient, expectContinue(false)", ["httpclient-noexpect"],
           "not set", NO_EXPECT, workaround=True, sends_expect=False),
    Client("requests-default", "python", "requests, defaults", ["requests-default"],
           "requests adds none", NO_EXPECT, workaround=True, sends_expect=False),
    Client("botocore-noexpect", "botocore",
           "botocore PutObject, add_expect_header unregistered",
           ["botocore-noexpect"], "removed", NO_EXPECT, kind="s3",
           workaround=True, sends_expect=False),
    Client("git-postbuffer", "git",
           "git push, Negotiate offered, http.postBuffer above the pack size",
           ["negotiate-postbuffer"], "git adds none to an unchunked request",
           NO_EXPECT, kind="git", workaround=True, sends_expect=False),
]
BY_KEY = {c.key: c for c in CLIENTS}
PROGRAMS = ("curl", "php", "node", "go", "java", "python", "botocore", "ruby",
            "git", "lwp", "wget")


def _ok(cmd, timeout=60):
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def missing_program(program):
    """Why `program` cannot run here (with the Debian package to install),
    or None.  EXPECT_CLIENTS_ONLY=curl,php,node treats every other program
    as missing: what a machine without install-deps.sh --clients has."""
    only = os.environ.get("EXPECT_CLIENTS_ONLY")
    if only is not None and program not in only.split(","):
        return f"{program} left out by EXPECT_CLIENTS_ONLY"
    if program == "curl":
        return None if shutil.which("curl") else "curl not installed"
    if program == "php":
        if not shutil.which("php"):
            return "php not installed (Debian: php-cli php-curl)"
        return None if _ok(["php", "-r", "exit(function_exists('curl_init') ? 0 : 1);"]) \
            else "PHP cURL extension missing (php-curl)"
    if program == "node":
        return None if shutil.which("node") else "node not installed (Debian: nodejs)"
    if program == "go":
        return None if shutil.which("go") else "go not installed (Debian: golang-go)"
    if program == "java":
        return None if shutil.which("javac") and shutil.which("java") else \
            "javac not installed (Debian: openjdk-17-jdk-headless)"
    if program == "python":
        return None if _ok([PYTHON3, "-c", "import requests"]) else \
            "python3-requests not installed"
    if program == "botocore":
        return None if _ok([PYTHON3, "-c", "import botocore"]) else \
            "python3-botocore not installed"
    if program == "ruby":
        return None if shutil.which("ruby") else "ruby not installed (Debian: ruby)"
    if program == "git":
        return None if shutil.which("git") and os.path.exists(GIT_HTTP_BACKEND) else \
            "git not installed (Debian: git)"
    if program == "lwp":
        return None if _ok(["perl", "-MLWP::UserAgent", "-MJSON::PP", "-e", "1"]) else \
            "libwww-perl not installed"
    if program == "wget":
        return None if shutil.which("wget") else "wget not installed (Debian: wget)"
    raise ValueError(program)


GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


def _first_line(cmd):
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (res.stdout or res.stderr).strip().splitlines()[0] if \
        (res.stdout or res.stderr).strip() else ""


def versions(missing):
    """Versions of the programs, as the doc shows them."""
    out = {}
    have = {p for p in PROGRAMS if not missing.get(p)}
    if "curl" in have:
        out["curl"] = "curl " + _first_line(["curl", "-V"]).split()[1]
    if "php" in have:
        out["php"] = _first_line(["php", "-r", 'echo "PHP ", PHP_VERSION, ", libcurl ", '
                                  'curl_version()["version"];'])
    if "node" in have:
        out["node"] = "Node " + _first_line(["node", "--version"])
    if "go" in have:
        m = re.search(r"go(\d[\w.]*)", _first_line(["go", "version"]))
        out["go"] = f"Go {m.group(1)}" if m else "Go"
    if "java" in have:
        m = re.search(r'"([^"]+)"', _first_line(["java", "-version"]))
        out["java"] = f"OpenJDK {m.group(1)}" if m else "Java"
    if "python" in have:
        out["python"] = _first_line([PYTHON3, "-c", "import sys, requests; print("
                                     "'Python', sys.version.split()[0] + ', requests', "
                                     "requests.__version__)"])
    if "botocore" in have:
        out["botocore"] = "botocore " + _first_line(
            [PYTHON3, "-c", "import botocore; print(botocore.__version__)"])
    if "ruby" in have:
        out["ruby"] = "Ruby " + _first_line(["ruby", "-e", "print RUBY_VERSION"])
    if "git" in have:
        out["git"] = "git " + _first_line(["git", "--version"]).split()[-1]
    if "lwp" in have:
        out["lwp"] = "libwww-perl " + _first_line(
            ["perl", "-MLWP", "-e", "print $LWP::VERSION"])
    if "wget" in have:
        out["wget"] = "GNU Wget " + _first_line(["wget", "--version"]).split()[2]
    apache2 = shutil.which("apache2") or "/usr/sbin/apache2"
    m = re.search(r"Apache/(\S+)", _first_line([apache2, "-v"]))
    out["httpd"] = f"Apache httpd {m.group(1)}" if m else "Apache httpd"
    return out


VERSION_NAMES = (("httpd", "Server"), ("curl", "curl"), ("php", "PHP cURL"),
                 ("node", "Node.js"), ("go", "Go"), ("java", "Java"),
                 ("python", "Python, requests"), ("botocore", "botocore"),
                 ("ruby", "Ruby"), ("git", "git"), ("lwp", "libwww-perl"),
                 ("wget", "wget"))


# ------------------------------------------------------------ preparation

def prepare(build_dir):
    """Compile the Go and Java clients offline into build_dir.  Returns
    {program: reason} for those that could not be built."""
    failed = {}
    if not missing_program("go"):
        env = dict(os.environ, GOPATH=os.path.join(build_dir, "gopath"),
                   GOCACHE=os.path.join(build_dir, "gocache"), GOTOOLCHAIN="local",
                   GOPROXY="off", GOFLAGS="", GO111MODULE="off", CGO_ENABLED="0",
                   GOENV="off")
        res = subprocess.run(["go", "build", "-o", os.path.join(build_dir, "go_http_upload"),
                              os.path.join(HERE, "go_http_upload.go")],
                             capture_output=True, text=True, env=env, timeout=300)
        if res.returncode:
            failed["go"] = f"go build failed: {res.stderr.strip()}"
    if not missing_program("java"):
        res = subprocess.run(["javac", "-d", build_dir, os.path.join(HERE, "JavaUpload.java")],
                             capture_output=True, text=True, timeout=300)
        if res.returncode:
            failed["java"] = f"javac failed: {res.stderr.strip()}"
    return failed


def prepare_git(work_dir, size=SIZE):
    """A repository with one commit holding `size` random bytes: its pack
    is a little over `size`, pushed as one chunked request."""
    env = git_env(work_dir)
    subprocess.run(["git", "init", "-q", work_dir], check=True, env=env)
    with open(os.path.join(work_dir, "payload.bin"), "wb") as f:
        f.write(os.urandom(size))
    subprocess.run(["git", "-C", work_dir, "add", "payload.bin"], check=True, env=env)
    subprocess.run(["git", "-C", work_dir, "-c", "user.name=test", "-c",
                    "user.email=test@localhost", "commit", "-q", "-m", "payload"],
                   check=True, env=env)
    return subprocess.run(["git", "-C", work_dir, "rev-parse", "HEAD"], check=True,
                          env=env, capture_output=True, text=True).stdout.strip()


def git_env(home):
    env = dict(os.environ, HOME=home, GIT_CONFIG_NOSYSTEM="1",
               GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0",
               GIT_ASKPASS="/bin/false", LC_ALL="C")
    env.pop("GIT_DIR", None)
    return env


def make_bare_repo(git_root, name):
    path = os.path.join(git_root, f"{name}.git")
    subprocess.run(["git", "init", "-q", "--bare", path], check=True, env=git_env(git_root))
    # info/refs for receive-pack is open; git-receive-pack itself needs auth.
    subprocess.run(["git", "--git-dir", path, "config", "http.receivepack", "true"],
                   check=True, env=git_env(git_root))
    if os.geteuid() == 0:
        # httpd's CGI runs as nobody, and git refuses repositories owned by
        # someone else.
        subprocess.run(["chown", "-R", "nobody:nogroup", path], check=True)
    return path


def digest_user_line():
    ha1 = hashlib.md5(f"{GIT_USER}:{GIT_REALM}:{GIT_PASSWORD}".encode()).hexdigest()
    return f"{GIT_USER}:{GIT_REALM}:{ha1}\n"


# ------------------------------------------------------------ running

_LOCAL = threading.local()


def _spawn(cmd, env=None, cwd=None):
    """Run cmd in its own process group; kill the group after HANG_AFTER.
    Returns (returncode or None when killed, stdout, stderr, seconds).  The
    time of a kill (time.monotonic(), the relay's clock) is kept in
    the calling thread's run_client() result."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=HANG_AFTER)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        _LOCAL.killed_at = time.monotonic()
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        rc = None
    return rc, out, err, time.monotonic() - t0


def _json_run(cmd, **kw):
    rc, out, err, secs = _spawn(cmd, **kw)
    if rc is None:
        return {"hung": True, "status": None, "error": None, "echo_ok": False,
                "elapsed": secs}
    lines = out.decode(errors="replace").strip().splitlines()
    if rc != 0 or not lines:
        raise RuntimeError(f"{cmd} failed ({rc}): {err.decode(errors='replace')}")
    r = json.loads(lines[-1])
    r["hung"] = False
    r["echo_ok"] = bool(r.get("echo_matches"))
    return r


def _run_curl(client, ctx, url):
    rc, out, err, secs = _spawn(
        ["curl", "-sS", "-v", "-o", "-", "--data-binary", f"@{ctx['payload']}",
         "--max-time", "20", *client.args,
         "-w", "\n%{http_code} %{size_upload} %{time_total}", url])
    if rc is None:
        return {"hung": True, "status": None, "error": None, "echo_ok": False}
    trace = err.decode(errors="replace")
    body, _, tail = out.rpartition(b"\n")
    code, _uploaded, _total = tail.decode().split()
    return {
        "hung": False,
        "status": int(code) or None,
        "error": trace.strip().splitlines()[-1] if rc else None,
        "echo_ok": int(code) == 200 and body == ctx["payload_bytes"],
        # The client's own view, checked against the server and the relay.
        "view": {
            "got_100": bool(re.search(r"^< HTTP/\S+ 100\b", trace, re.M)),
            "waited": "Done waiting for 100-continue" in trace,
            "requests": len(re.findall(r"^> POST ", trace, re.M)),
            "requests_with_expect": len(re.findall(r"^> Expect: 100-continue",
                                                   trace, re.M | re.I)),
        },
    }


def _run_php(client, ctx, url):
    host = url.split("/")[2]
    r = _json_run(["php", os.path.join(HERE, "php_curl_upload.php"), url, host,
                   str(ctx["size"]), *client.args])
    if not r["hung"]:
        r["view"] = {"got_100": r["got_100"], "waited": r["waited_for_100"],
                     "requests": r["requests"],
                     "requests_with_expect": r["requests_with_expect"]}
    return r


def _run_node(client, ctx, url):
    host = url.split("/")[2]
    r = _json_run(["node", os.path.join(HERE, "node_http_upload.js"), url, host,
                   str(ctx["size"]), *client.args])
    if not r["hung"]:
        r["view"] = {"got_100": r["got_100"],
                     "waited": r["app_gave_up"] or r["body_sent_by"] == "timeout",
                     "requests": r["requests"],
                     "requests_with_expect": r["requests_with_expect"]}
    return r


def _run_go(client, ctx, url):
    r = _json_run([os.path.join(ctx["build"], "go_http_upload"), url,
                   str(ctx["size"]), *client.args])
    if not r["hung"]:
        r["view"] = {"got_100": r["got_100"], "requests": r["requests"]}
    return r


def _run_java(client, ctx, url):
    return _json_run(["java", "-cp", ctx["build"], "JavaUpload", url,
                      str(ctx["size"]), *client.args])


def _run_python(client, ctx, url):
    return _json_run([PYTHON3, os.path.join(HERE, "python_upload.py"), url,
                      str(ctx["size"]), *client.args])


def _run_ruby(client, ctx, url):
    return _json_run(["ruby", os.path.join(HERE, "ruby_net_http_upload.rb"), url,
                      str(ctx["size"]), *client.args])


def _run_lwp(client, ctx, url):
    return _json_run(["perl", os.path.join(HERE, "lwp_upload.pl"), url,
                      str(ctx["size"]), *client.args])


def _run_wget(client, ctx, url):
    out_file = os.path.join(ctx["scratch"], f"wget-{os.getpid()}-{time.monotonic_ns()}.out")
    rc, _out, err, _secs = _spawn(
        ["wget", "-S", "-O", out_file, f"--post-file={ctx['payload']}",
         "--header=Content-Type: application/octet-stream", "--timeout=20",
         *client.args, url])
    if rc is None:
        return {"hung": True, "status": None, "error": None, "echo_ok": False}
    text = err.decode(errors="replace")
    statuses = [int(s) for s in re.findall(r"^\s+HTTP/\S+ (\d{3})", text, re.M)]
    finals = [s for s in statuses if s >= 200]
    try:
        with open(out_file, "rb") as f:
            got = f.read()
        os.unlink(out_file)
    except OSError:
        got = b""
    errors = re.findall(r"^.*(ERROR \d{3}.*)$", text, re.M)
    return {
        "hung": False,
        "status": finals[-1] if finals else None,
        "error": f"exit {rc}: {errors[-1] if errors else text.strip().splitlines()[-1]}"
                 if rc else None,
        "echo_ok": got == ctx["payload_bytes"],
        "view": {"requests": len(finals)},
    }


def _run_git(client, ctx, url):
    env = git_env(ctx["git_work"])
    env["GIT_TRACE_CURL"] = "1"
    env["GIT_TRACE_CURL_NO_DATA"] = "1"
    helper = f"!f() {{ echo username={GIT_USER}; echo password={GIT_PASSWORD}; }}; f"
    post_buffer = str(4 * ctx["size"]) if client.args[0].endswith("postbuffer") \
        else "65536"
    rc, _out, err, _secs = _spawn(
        ["git", "-C", ctx["git_work"], "-c", f"credential.helper={helper}",
         "-c", f"http.postBuffer={post_buffer}", "push", "-q", url,
         "HEAD:refs/heads/main"], env=env)
    if rc is None:
        return {"hung": True, "status": None, "error": None, "echo_ok": False}
    trace = err.decode(errors="replace")
    bare = os.path.join(ctx["git_root"], url.rstrip("/").rsplit("/", 1)[1])
    head = subprocess.run(["git", "--git-dir", bare, "rev-parse", "-q", "--verify",
                           "refs/heads/main"], capture_output=True, text=True,
                          env=git_env(ctx["git_root"])).stdout.strip()
    fatal = [ln for ln in trace.splitlines() if ln.startswith(("error:", "fatal:"))]
    statuses = [int(s) for s in re.findall(r"<= Recv header: HTTP/\S+ (\d{3})", trace)]
    return {
        "hung": False,
        # git reports no status unless it fails; the last one it received
        # is the one that decided.
        "status": statuses[-1] if statuses else None,
        "error": " / ".join(fatal) if rc else None,
        "echo_ok": rc == 0 and head == ctx["git_commit"],
        "view": {
            "got_100": any(s == 100 for s in statuses),
            "waited": "Done waiting for 100-continue" in trace,
            "requests_with_expect": len(re.findall(
                r"=> Send header: Expect: 100-continue", trace, re.I)),
        },
    }


RUNNERS = {"curl": _run_curl, "php": _run_php, "node": _run_node, "go": _run_go,
           "java": _run_java, "python": _run_python, "botocore": _run_python,
           "ruby": _run_ruby, "git": _run_git, "lwp": _run_lwp, "wget": _run_wget}


def url_for(client, port, tag):
    """The URL a client uploads to; the tag finds its requests in the
    access log and the relay (run_tag)."""
    base = f"http://127.0.0.1:{port}"
    if client.kind == "s3":
        return f"{base}/bucket/run/{tag}"
    if client.kind == "git":
        prefix = {"negotiate": "git", "negotiate-postbuffer": "git",
                  "negotiate-nobasic": "git-nobasic", "digest": "git-digest"}[client.args[0]]
        return f"{base}/{prefix}/{tag}.git"
    return f"{base}/echo?run={tag}"


TAG_RES = (re.compile(r"[?&]run=([\w.-]+)$"), re.compile(r"^/bucket/run/([\w.-]+)$"),
           re.compile(r"^/git[\w-]*/([\w.-]+?)\.git/"))


def run_tag(uri):
    for rx in TAG_RES:
        m = rx.search(uri)
        if m:
            return m.group(1)
    return None


def run_client(client, ctx, url):
    """Run one upload; returns the client's side of the measurement."""
    _LOCAL.killed_at = None
    run = RUNNERS[client.program](client, ctx, url)
    run["killed_at"] = _LOCAL.killed_at
    return run


# ------------------------------------------------------------ observation

def primary_request(wire):
    """The request that carries the upload: the first with Expect, else the
    one with the most body bytes."""
    with_expect = [r for r in wire if r["expect"]]
    if with_expect:
        return with_expect[0]
    return max(wire, key=lambda r: r["body_bytes"]) if wire else None


def observe(client, run):
    """The facts of one run, in the terms of Client.behaviour."""
    req = primary_request(run["wire"])
    got_100 = bool(req and 100 in req["interim"])
    s = req["stall"] if req else None
    w = client.wait
    killed = run.get("killed_at")
    if killed is not None and req and (req["stall_end_at"] is None or
                                       req["stall_end_at"] >= killed - 0.05):
        # Nothing came before the test gave up on the client.
        stall = "hangs"
    elif s is None:
        stall = "no request"
    elif w is not None and not got_100 and w * 0.9 <= s <= w + 2.5:
        stall = "wait"
    elif s < 0.5 or (got_100 and s < 2.0):
        # After a 100 that came at once, a slow start (a JVM, a loaded
        # machine) is no wait for a 100.
        stall = "none"
    else:
        stall = f"{s:.1f} s"
    final = req["final"] if req else None
    if run["hung"]:
        outcome = "hangs"
    elif run["status"] == 200 and run["echo_ok"] and req and req["body_complete"]:
        outcome = "ok"
    elif run["status"] is not None:
        outcome = run["status"]
    else:
        outcome = "error"
    pushed = None
    retried = False
    if final == 417:
        pushed = ("none" if req["body_bytes"] == 0 else
                  "all" if req["body_complete"] else "part")
        log = run["log"]
        idx = [i for i, ln in enumerate(log) if ln["status"] == 417]
        if idx:
            first = log[idx[0]]
            retried = any(ln["method"] == first["method"] and ln["uri"] == first["uri"]
                          for ln in log[idx[0] + 1:])
    return dict(got_100=got_100, stall=stall, outcome=outcome, retried=retried,
                pushed=pushed)


# ------------------------------------------------------------ the client table

def expectctl_path():
    """The expectctl whose client table the runs are checked against: the
    one the Makefile names, else the build's."""
    return os.path.abspath(os.environ.get("EXPECTCTL") or
                           os.path.join(HERE, "..", "..", "expectctl", "expectctl"))


_TABLE = {}


def table_entry(user_agent=None, key=None):
    """The entry of expectctl's client table that user_agent resolves to,
    with "resolved" (the facts of its version), or, for key, the entry
    itself (its version_ranges).  None when no entry matches."""
    arg = ("ua", user_agent) if user_agent is not None else ("key", key)
    if arg not in _TABLE:
        cmd = [expectctl_path(), "clients", "--json"]
        if user_agent is not None:
            cmd.insert(2, user_agent)
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        doc = json.loads(res.stdout)
        if user_agent is not None:
            _TABLE[arg] = doc["clients"][0] if doc["clients"] else None
        else:
            _TABLE[arg] = next((c for c in doc["clients"] if c["key"] == key), None)
    return _TABLE[arg]


def logged_user_agent(run):
    """The User-Agent httpd logged for the run's upload: of its first
    request with Expect, else of its first request; None when it sent none."""
    lines = run.get("log") or []
    with_expect = [ln for ln in lines if ln["expect"].lower() == "100-continue"]
    ua = (with_expect or lines or [{"ua": "-"}])[0].get("ua", "-")
    return None if ua in ("", "-") else ua


def version_facts(client, run):
    """The table's facts for this run's client at the version its
    User-Agent names: (entry, resolved)."""
    ua = logged_user_agent(run)
    entry = table_entry(user_agent=ua) if ua else None
    if entry is None:
        return table_entry(key=client.table), None
    return entry, entry["resolved"]


def expected(client, policy, run=None):
    """client.behaviour[policy], narrowed for a versioned client to what
    the table says of the version that ran (run given)."""
    want = client.behaviour[policy]
    if run is None or not client.versioned or policy != "reject":
        return want
    entry, facts = version_facts(client, run)
    if facts is None or not facts["verified"]:
        raise AssertionError(
            f"client table entry {client.table}: says nothing about version "
            f"{entry and entry.get('version')} of {logged_user_agent(run)}: add its release "
            "line to mod_expect/expect_clients.c (what a 417 does to it, measured here)")
    return dict(want, outcome="hangs" if facts["hangs_on_417"] else 417)


def versioned_text(client, hangs_text, fixed_text):
    """A versioned fact as the doc shows it, for every version: what holds
    before and from each fix in the table, and that other lines are not
    verified."""
    v = table_entry(key=client.table)["version_ranges"]
    parts = []
    for r in v["fixed_in"]:
        parts.append(f"before {r['release']}: {hangs_text}; from {r['release']} "
                     f"({r['by']}): {fixed_text}")
    return "; ".join(parts) + "; other release lines not verified"


def matches(client, policy, obs, run=None):
    """obs is what client.behaviour[policy] says; a tuple there lists the
    values a race may give.  With run, a versioned client's behaviour is
    the one the table gives its version."""
    want = expected(client, policy, run)
    return set(obs) == set(want) and all(
        obs[k] in want[k] if isinstance(want[k], tuple) else obs[k] == want[k]
        for k in want)


# ---------------------------------------------------------------- rendering

DOC_MARKER = "<!-- measured-with: "
TS_BEGIN = "<!-- clients-summary: generated by tests/integration/test_clients.py; make clients-doc -->"
TS_END = "<!-- end of clients-summary -->"


def _ok_text(client):
    return {"echo": "yes (200, 2 MiB echoed)",
            "s3": "yes (200, ETag is the body's MD5)",
            "git": "yes (pushed, the ref points at the commit)"}[client.kind]


def _error_text(client, policy):
    return client.errors[policy][1] if policy in client.errors else "error"


def facts(client, policy, run):
    """The cells of one row.  Only stable facts go in: a stall is shown as
    the client's nominal wait, which observe() checks the measurement
    against."""
    obs = observe(client, run)
    srv = run["server"]
    expect = ("yes: " if srv["with_expect"] else "no: ") + client.expect_how
    got_100 = "yes" if obs["got_100"] else "no"
    if obs["stall"] == "wait":
        stall = f"~{client.wait:g} s ({client.wait_why})"
    elif obs["stall"] == "hangs":
        stall = f"hangs (killed after {HANG_AFTER:g} s)"
    else:
        stall = obs["stall"]
    if obs["pushed"] is None:
        retry = "n/a (no 417)"
        pushed = "n/a (no 417)"
    else:
        retry = "yes" if obs["retried"] else "no"
        pushed = PUSHED_TEXT[_declared(client, policy, obs, "pushed")]
    out = obs["outcome"]
    if client.versioned and isinstance(client.behaviour[policy]["outcome"], tuple):
        # The same row for every version: the table's ranges, of which the
        # tests checked this run's.
        ok = "no: " + versioned_text(client, f"hangs, killed after {HANG_AFTER:g} s",
                                     "417, returned at once")
    elif out == "ok":
        ok = _ok_text(client)
    elif out == "hangs":
        ok = f"no: hangs, killed after {HANG_AFTER:g} s"
    elif out == "error":
        ok = "no: " + _error_text(client, policy)
    else:
        ok = f"no: {out}"
        if policy in client.errors:
            ok += ", " + client.errors[policy][1]
    return [client.label, policy, expect, got_100, stall, retry, pushed, ok]


PUSHED_TEXT = {
    "none": "0",
    "all": "the whole body",
    "part": "part of the body",
    ("part", "all"): "most or all of the body (a race with the 417)",
    ("none", "part", "all"): "0 to the whole body (a race with the 417)",
}


def _declared(client, policy, obs, key):
    """A racy fact is shown as the range the client declares, so that the
    doc does not change from run to run; the tests check the run is in it."""
    want = client.behaviour[policy][key]
    return want if isinstance(want, tuple) else obs[key]


HEAD = ["Client", "Policy", "Expect sent (server saw)", "100 sent to it",
        "Stall before the body", "Retries without Expect after 417",
        "Body bytes sent with the 417'd request", "Upload succeeds"]


def _table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _summary_cell(client, policy, run):
    obs = observe(client, run)
    if policy == "reject":
        if client.versioned and isinstance(client.behaviour[policy]["outcome"], tuple):
            return versioned_text(client, "417 arrives, the client hangs",
                                  "417 before the body; no retry")
        if obs["outcome"] == "hangs":
            return "417 arrives, the client hangs"
        if obs["pushed"] is None:
            return "no 417: sends no Expect"
        sent = {"none": "before the body", "all": "after pushing the whole body",
                "part": "after part of the body",
                ("part", "all"): "after pushing most or all of the body",
                ("none", "part", "all"): "while it pushes the body (0 to all of it, "
                                         "a race)"}[_declared(client, policy, obs, "pushed")]
        text = f"417 {sent}"
        if policy in client.errors:
            text += f" ({client.errors[policy][1]})"
        return text + ("; retries" if obs["retried"] else "; no retry")
    stall = obs["stall"]
    if obs["outcome"] == "hangs":
        return "hangs (waits for a 100 for ever)"
    if obs["outcome"] == "error":
        return f"waits {client.wait:g} s, then fails: {_error_text(client, policy)}"
    if stall == "wait":
        return f"waits {client.wait:g} s, then uploads"
    if not client.sends_expect:
        return "uploads at once (no Expect)"
    return "uploads at once"


def render_summary(results):
    """The client table of docs/TROUBLESHOOTING.md: main clients only."""
    rows = []
    for c in CLIENTS:
        if c.workaround or not all((c.key, p) in results for p in POLICIES):
            continue
        rows.append([c.label, _summary_cell(c, "reject", results[(c.key, "reject")]),
                     _summary_cell(c, "ignore", results[(c.key, "ignore")]),
                     c.switch or "(as above)"])
    return "\n".join([TS_BEGIN, "",
                      _table(["Client", "Under `reject`", "Under `ignore`",
                              "Its own switch to stop sending Expect"], rows),
                      "", TS_END])


ADVICE = {
    "curl": (
        "curl adds `Expect: 100-continue` to a POST body over 1 MB and then "
        "waits up to 1 s for the 100. "
        "Against `continue` it uploads at once. Against `ignore` it waits out "
        "the timeout, then uploads. Shorten the wait with "
        "`--expect100-timeout 0.2` (libcurl: `CURLOPT_EXPECT_100_TIMEOUT_MS`). "
        "To skip it, send `-H 'Expect:'`. "
        "After a 417 curl does not try again: it exits 0 and reports 417, "
        "so a script must check the status (`-f` or `-w '%{http_code}'`) "
        "and repeat the upload with `-H 'Expect:'`."),
    "php": (
        "The PHP cURL extension is libcurl, so its behaviour is curl's: "
        "it sends `Expect: 100-continue` by itself for a `CURLOPT_POSTFIELDS` "
        "body over 1 MB, waits 1 s when no 100 comes, and returns the 417 to "
        "the application without retrying. `curl_exec()` does not fail on a "
        "417, so unless the code checks `CURLINFO_HTTP_CODE` the upload is "
        "lost without an error. This is what hits PHP applications behind "
        "proxies that answer 417. Disable the expectation with "
        "`curl_setopt($ch, CURLOPT_HTTPHEADER, ['Expect:'])` (merge it into "
        "any headers you already set), or shorten the wait with "
        "`CURLOPT_EXPECT_100_TIMEOUT_MS`. "
        "After a 417, send the request again with `Expect:` removed."),
    "node": (
        "Node's http client never adds `Expect` by itself, and when the "
        "application adds it, Node never sends the body on its own. The "
        "pattern its 'continue' event suggests, "
        "`req.on('continue', () => req.end(body))`, waits for ever when no 100 "
        "comes, as against `ignore`: the upload never happens and only an "
        "application timeout ends it. Always pair the 'continue' handler with "
        "a timer that sends the body anyway (1 s, as curl does). Handle "
        "'response' before the body is sent: a 417 arrives there, and Node "
        "does not retry, so send the request again without `Expect`."),
    "go": (
        "Go's `net/http` never adds `Expect` by itself. With the header set "
        "and `Transport.ExpectContinueTimeout` above 0 it sends the head, "
        "waits that long for a 100, and sends the body when the 100 comes or "
        "the time is up; a 417 instead of the 100 is returned as the "
        "response, the body unsent, and not retried. "
        "`ExpectContinueTimeout: 0` does not stop the header, only the wait: "
        "Go then writes the body while it reads the answer and stops at the "
        "417, so against `reject` anything from none to all of the body has "
        "crossed the network by then, a race. To stop sending `Expect`, do "
        "not set the header."),
    "java": (
        "Neither of Java 17's clients adds `Expect` unless told to. "
        "`java.net.http.HttpClient` with `expectContinue(true)` (it sends "
        "`Expect: 100-Continue`) has no fallback timer: against `ignore` it "
        "waits for a 100 for ever, until httpd's `Timeout` or a request "
        "`timeout()` the application sets ends it (JDK-8324209, the missing "
        "timer). Against `reject` it depends on the version: before 17.0.17 "
        "it receives the 417 and still never completes the request "
        "(JDK-8286171; 17.0.15 does so here); the fix was backported to "
        "17.0.17 (JDK-8364017), from which it returns the 417 to the "
        "application at once. `expectctl clients Java-http-client/VERSION` "
        "says which applies to a version, and the test checks the installed "
        "one against it. Use `expectContinue(false)`, the default, and if you must "
        "send `Expect`, set `HttpRequest.Builder.timeout()`. "
        "`HttpURLConnection` in streaming mode with the `Expect` header set "
        "waits in `getOutputStream()`: 5 s when the connection has no read "
        "timeout, then it sends the body (with a read timeout set, the JDK's "
        "`expect100Continue()` throws `SocketTimeoutException` instead). A "
        "417 makes `getOutputStream()` throw `ProtocolException: Server "
        "rejected operation`, with `getResponseCode()` 417; it does not "
        "retry."),
    "python": (
        "`http.client` and requests (which uses it through urllib3) never "
        "add `Expect`, and when the application adds the header they do not "
        "wait: the head and the whole body go out together, then the "
        "response is read. So they never stall, but against `reject` they "
        "push the whole body before they read the 417, and they do not "
        "retry. The 100 a `continue` server sends is skipped silently. "
        "Leave the header out."),
    "botocore": (
        "botocore (the core of boto3 and the AWS CLI) adds "
        "`Expect: 100-continue` by itself to S3 PUT and POST requests with "
        "a file-like body (`add_expect_header` in botocore/handlers.py), "
        "whatever the size, and every PutObject has one: a `bytes` or `str` "
        "body is wrapped in a file object first "
        "(`convert_body_to_file_like_object`). It then waits 1 s for a 100 "
        "(its `AWSConnection`). A 417 instead of the 100 is returned without "
        "sending the body and raised as `ClientError`, and not retried. "
        "With mod_expect's 417 page the error reads `An error occurred (417) "
        "when calling the PutObject operation: Expectation Failed`: the page "
        "is HTML, not S3's XML error, so botocore takes the status for the "
        "error code and the reason phrase for the message. "
        "Debian's botocore has no configuration setting for this; unregister "
        "the handler, `client.meta.events.unregister('before-call.s3', "
        "botocore.handlers.add_expect_header)`, and it uploads without "
        "`Expect` (see Workarounds)."),
    "ruby": (
        "Ruby's Net::HTTP never adds `Expect`. With the header set and "
        "`continue_timeout` set, it sends the head, waits that long for a "
        "100, and then sends the body; a 417 instead of the 100 is returned "
        "as the response without sending the body, and not retried. Without "
        "`continue_timeout` Net::HTTP sends the body right behind the head, "
        "as http.client does, and pushes all of it before it reads a 417."),
    "git": (
        "git (2.39.5 here) sends `Expect: 100-continue` only for a push whose "
        "pack does not fit `http.postBuffer` (1 MiB by default), so that it "
        "goes out chunked, and only when the server's 401 offered Basic along "
        "with Negotiate. git decides from a small probe POST it sends first "
        "(remote-curl.c, `needs_100_continue`); otherwise it sends `Expect:`, "
        "which stops libcurl from adding its own. The rows show all three "
        "servers: a 401 offering Negotiate, Digest and Basic (mod_auth_digest, "
        "and mod_headers adds `WWW-Authenticate: Negotiate` and `Basic`) makes "
        "git 2.39.5 send `Expect`; Negotiate and Digest without Basic, or "
        "Digest alone, make it send none. Against `ignore` git then waits "
        "libcurl's 1 s; against `reject` the push fails with "
        "`RPC failed; HTTP 417` and is not retried. A larger "
        "`http.postBuffer` avoids the chunked request and with it the "
        "header."),
    "lwp": (
        "libwww-perl never adds `Expect`. With the header set, "
        "LWP::Protocol::http sends the head alone and waits up to 2 s for "
        "the 100; a 417 is returned as the response without the body, not "
        "retried. But when the 2 s pass without an answer, as against "
        "`ignore`, LWP 6.68 does not send the body: it fails with an "
        "internal 500 \"Can't use an undefined value as a SCALAR reference\" "
        "(the wait skipped filling its write buffer), and httpd logs a 400 "
        "for the abandoned body. Do not set `Expect` with LWP."),
    "wget": (
        "wget knows nothing of `Expect`: given the header with `--header`, "
        "it sends the head and the body at once and skips the 100. Against "
        "`reject` it stops writing when the 417 comes, by then most or all "
        "of the body is out, and reports `ERROR 417` (exit 8); it does not "
        "retry. Do not pass the header."),
}
ADVICE_TITLES = {"curl": "curl", "php": "PHP cURL extension", "node": "Node.js http",
                 "go": "Go net/http", "java": "Java 17",
                 "python": "Python http.client and requests", "botocore": "botocore",
                 "ruby": "Ruby Net::HTTP", "git": "git over smart HTTP",
                 "lwp": "libwww-perl", "wget": "wget"}
ADVICE_ORDER = ("curl", "php", "node", "go", "java", "python", "botocore", "ruby",
                "git", "lwp", "wget")


def render_markdown(results, vers):
    """results: {(client_key, policy): run}; vers: versions() output."""
    main, work = [], []
    for c in CLIENTS:
        for p in POLICIES:
            if (c.key, p) in results:
                (work if c.workaround else main).append(facts(c, p, results[(c.key, p)]))
    ver_rows = "\n".join(f"| {name} | {vers.get(key, 'not measured')} |"
                         for key, name in VERSION_NAMES)
    advice = "\n\n".join(f"### {ADVICE_TITLES[k]}\n\n{ADVICE[k]}" for k in ADVICE_ORDER)
    return f"""# Real clients against `ExpectPolicy`

<!-- GENERATED by tests/integration/test_clients.py from a real run: do not
     edit by hand.  Regenerate with `make clients-doc`. -->
{DOC_MARKER}{json.dumps(vers, sort_keys=True)} -->

What real clients do when they upload with `Expect: 100-continue` to a virtual
host with each policy:

- `continue`: the server answers 100 at once;
- `reject`: it answers 417 before any body byte is read;
- `ignore`: no 100 is sent and the body is read when it comes.

## Measured with

| | Version |
|---|---|
{ver_rows}

One httpd (event MPM) on 127.0.0.1 has three virtual hosts, one for each
policy, each on its own port. Each serves `/echo` with mod_reflector, a PUT
endpoint for botocore (a mod_lua handler that reads the body and answers 200
with its MD5 as the ETag, as S3 does) and git's smart HTTP (git-http-backend
through mod_cgid). Every client uploads 2 MiB (2,097,152 bytes) of random
data to each of them: as a POST, a PUT for botocore, and a push of one
commit holding a 2 MiB file for git. Each client talks to httpd through a
relay on 127.0.0.1 that passes every byte on unchanged and follows both
directions to measure what httpd's own logs cannot (see Definitions). The
clients run in parallel, a few at a time. A client still running after
{HANG_AFTER:g} s is killed: it hangs.

## Results

{_table(HEAD, main)}

### Definitions

- **Expect sent (server saw):** the `Expect` header as it reached httpd, read from
  the access log (`%{{Expect}}i`), and how it got there. `expectctl stats`
  counts the same requests for each virtual host.
- **100 sent to it:** httpd sent `100 Continue` for the upload request and the
  relay passed it to the client. Whether the client read it shows in the
  next columns.
- **Stall before the body:** on the relay, the time from the end of the
  upload request's head to its first body byte, or to the final response or
  the end of the connection if either came first. A stall is shown as the
  client's own timeout when it lasted at least 90% of it (and at most 2.5 s
  more); "none" is under 0.5 s, or under 2 s after a 100 that came at once.
  For git the upload request is the push that carries the pack.
- **Retries without Expect after 417:** whether httpd logged the same method
  and URI again after the 417, as RFC 9110 asks a client to do.
- **Body bytes sent with the 417'd request:** what the client put on the wire
  after the head of the request answered 417, counted by the relay until the
  next request or the end of the connection: "0" when it waited, "the whole
  body" when the body's framing (Content-Length, or chunks to the last one)
  completed. httpd's own count cannot show this: mod_logio's `%I` counts
  only what httpd read for the request, which under `reject` is the head;
  the body a client pushes anyway is read and thrown away while the
  connection lingers, and logged nowhere.
- **Upload succeeds:** the final status is 200, the relay saw the whole body
  go to httpd, and the client got proof that httpd read it intact: the
  echoed body byte for byte, the ETag, or the pushed ref.

## Workarounds, measured the same way

{_table(HEAD, work)}

## What to do

{advice}

### On the server

`continue` gives every client here an upload with no delay. `ignore` costs
each client that waits for a 100 its own timeout on every upload (1 s for
curl, PHP, botocore and git by default, 2 s for LWP, 5 s for Java's
HttpURLConnection), and breaks the clients that have no working fallback:
Java's HttpClient hangs, LWP fails, and Node code that sends the body only on
'continue' never uploads. `reject` makes every client that sent `Expect` fail
the upload with a 417: none of those measured here retries without `Expect`,
and Java's HttpClient before 17.0.17 hangs even after the 417. It saves bandwidth only with
clients that wait for the 100: those that send the head and the body together
(http.client, requests, Ruby without `continue_timeout`, wget, Go with
`ExpectContinueTimeout: 0`) push most or all of the body before the 417 stops
them. Use `reject` only for clients that you know resend the request without
`Expect`, and watch `expectctl stats`, whose `r417` counters show what
answered 417.
"""


def committed_versions(text):
    """The versions line of a committed CLIENTS.md, or None."""
    for line in text.splitlines():
        if line.startswith(DOC_MARKER) and line.endswith(" -->"):
            return json.loads(line[len(DOC_MARKER):-4])
    return None


def committed_summary(text):
    """The generated block of docs/TROUBLESHOOTING.md, or None."""
    start = text.find(TS_BEGIN)
    end = text.find(TS_END)
    if start < 0 or end < start:
        return None
    return text[start:end + len(TS_END)]
