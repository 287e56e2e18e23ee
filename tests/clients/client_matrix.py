"""Real HTTP clients against ExpectPolicy continue|reject|ignore.

Used by tests/integration/test_clients.py, which runs every client against
every policy, asserts the results and renders docs/CLIENTS.md from them
(render_markdown).  Each client uploads SIZE bytes with POST to mod_reflector
and reports, as one dict per upload:

  status        final HTTP status, None when there was no final response
  got_100       the client saw "100 Continue"
  waited        the client's own sign that it waited for a 100 and gave up
                (curl/libcurl: "Done waiting for 100-continue"; Node: the
                script's timer fired)
  stall         seconds from the request's start to its first body byte, or
                to the end when no body byte was sent
  body_sent     any body byte left the client
  echo_ok       the echoed body is the one sent
  requests      requests the client itself says it made (-v trace)
"""
import json
import os
import re
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
PHP_SCRIPT = os.path.join(HERE, "php_curl_upload.php")
NODE_SCRIPT = os.path.join(HERE, "node_http_upload.js")

SIZE = 2 * 1024 * 1024
POLICIES = ("continue", "reject", "ignore")
# Node's "continue-only" pattern has no timeout of its own: the script's
# application-level timeout bounds it.
NODE_APP_TIMEOUT = 2.0
NODE_FALLBACK = 1.0


class Client:
    """One way of uploading.  `wait` is how long it waits for a 100 that
    does not come (None: it never sends Expect)."""

    def __init__(self, key, program, label, version_of, argv, wait, wait_why,
                 expect_how, workaround=False):
        self.key = key
        self.program = program
        self.label = label
        self.version_of = version_of
        self.argv = argv
        self.wait = wait
        self.wait_why = wait_why
        self.expect_how = expect_how
        self.workaround = workaround

    @property
    def sends_expect(self):
        return self.wait is not None


CLIENTS = [
    Client("curl", "curl", "curl (defaults)", "curl",
           [], 1.0, "curl's built-in expect timeout",
           "added by curl for a body over 1 MB"),
    Client("curl-timeout", "curl", "curl --expect100-timeout 0.2", "curl",
           ["--expect100-timeout", "0.2"], 0.2, "--expect100-timeout",
           "added by curl for a body over 1 MB"),
    Client("php", "php", "PHP cURL (defaults)", "php",
           ["default"], 1.0, "libcurl's default expect timeout",
           "added by libcurl for a body over 1 MB"),
    Client("php-timeout", "php", "PHP cURL, CURLOPT_EXPECT_100_TIMEOUT_MS 200",
           "php", ["timeout-ms=200"], 0.2, "CURLOPT_EXPECT_100_TIMEOUT_MS",
           "added by libcurl for a body over 1 MB"),
    Client("node", "node", "Node http, body sent on 'continue' only", "node",
           [f"continue-only:{int(NODE_APP_TIMEOUT * 1000)}"], NODE_APP_TIMEOUT,
           "until the application's own timeout; Node never sends the body "
           "by itself", "set by the application"),
    Client("node-fallback", "node",
           f"Node http, body on 'continue' or after {NODE_FALLBACK:g} s", "node",
           [f"fallback:{int(NODE_FALLBACK * 1000)}"], NODE_FALLBACK,
           "the application's fallback timer", "set by the application"),
    # The advice in docs/CLIENTS.md, measured the same way.
    Client("curl-noexpect", "curl", "curl -H 'Expect:'", "curl",
           ["-H", "Expect:"], None, None, "removed", workaround=True),
    Client("php-noexpect", "php", "PHP cURL, CURLOPT_HTTPHEADER ['Expect:']",
           "php", ["no-expect"], None, None, "removed",
           workaround=True),
    Client("node-noexpect", "node", "Node http, no Expect header", "node",
           ["no-expect"], None, None, "not set by the application", workaround=True),
]
BY_KEY = {c.key: c for c in CLIENTS}


def missing_program(program):
    """Why `program` cannot run here, or None."""
    if program == "curl":
        return None if shutil.which("curl") else "curl not installed"
    if program == "php":
        if not shutil.which("php"):
            return "php not installed (Debian: php-cli php-curl)"
        res = subprocess.run(["php", "-r", "exit(function_exists('curl_init') ? 0 : 1);"],
                             capture_output=True, timeout=30)
        return None if res.returncode == 0 else "PHP cURL extension missing (php-curl)"
    if program == "node":
        return None if shutil.which("node") else "node not installed (Debian: nodejs)"
    raise ValueError(program)


def versions():
    """Versions of the programs, as the doc shows them."""
    out = {}
    if not missing_program("curl"):
        first = subprocess.run(["curl", "-V"], capture_output=True, text=True,
                               timeout=30).stdout.split()
        out["curl"] = f"curl {first[1]}"
    if not missing_program("php"):
        out["php"] = subprocess.run(
            ["php", "-r", 'echo "PHP ", PHP_VERSION, ", libcurl ", '
             'curl_version()["version"];'],
            capture_output=True, text=True, timeout=30).stdout.strip()
    if not missing_program("node"):
        out["node"] = "Node " + subprocess.run(
            ["node", "--version"], capture_output=True, text=True,
            timeout=30).stdout.strip()
    apache2 = shutil.which("apache2") or "/usr/sbin/apache2"
    res = subprocess.run([apache2, "-v"], capture_output=True, text=True, timeout=30)
    m = re.search(r"Apache/(\S+)", res.stdout)
    out["httpd"] = f"Apache httpd {m.group(1)}" if m else "Apache httpd"
    return out


def _run_curl(client, url, host, payload, size):
    res = subprocess.run(
        ["curl", "-sS", "-v", "-o", "-", "--data-binary", f"@{payload}",
         "-H", f"Host: {host}", "--max-time", "20", *client.argv,
         "-w", "\n%{http_code} %{size_upload} %{time_total}", url],
        capture_output=True, timeout=60)
    out, trace = res.stdout, res.stderr.decode(errors="replace")
    body, _, tail = out.rpartition(b"\n")
    code, uploaded, total = tail.decode().split()
    with open(payload, "rb") as f:
        sent = f.read()
    return {
        "status": int(code) or None,
        "error": trace.strip().splitlines()[-1] if res.returncode else None,
        "got_100": bool(re.search(r"^< HTTP/\S+ 100\b", trace, re.M)),
        "waited": "Done waiting for 100-continue" in trace,
        # curl reports no time for its first body byte; on loopback the
        # 2 MiB take milliseconds, so the total is the wait.
        "stall": float(total),
        "body_sent": int(float(uploaded)) > 0,
        "echo_ok": int(code) == 200 and body == sent,
        # The CLI's -v marks every request header line with "> ".
        "requests": len(re.findall(r"^> POST ", trace, re.M)),
        "requests_with_expect": len(re.findall(r"^> Expect: 100-continue", trace,
                                               re.M | re.I)),
    }


def _run_script(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if res.returncode != 0 or not res.stdout.strip():
        raise RuntimeError(f"{cmd} failed ({res.returncode}): {res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _run_php(client, url, host, payload, size):
    r = _run_script(["php", PHP_SCRIPT, url, host, str(size), *client.argv])
    body_sent = r["first_body_at"] is not None
    return {
        "status": r["status"],
        "error": r["error"],
        "got_100": r["got_100"],
        "waited": r["waited_for_100"],
        "stall": r["first_body_at"] if body_sent else r["elapsed"],
        "body_sent": body_sent,
        "echo_ok": r["status"] == 200 and r["echo_matches"],
        "requests": r["requests"],
        "requests_with_expect": r["requests_with_expect"],
    }


def _run_node(client, url, host, payload, size):
    r = _run_script(["node", NODE_SCRIPT, url, host, str(size), *client.argv])
    body_sent = r["body_sent_by"] is not None
    return {
        "status": r["status"],
        "error": r["error"],
        "got_100": r["got_100"],
        "waited": r["app_gave_up"] or r["body_sent_by"] == "timeout",
        "stall": r["first_body_at"] if body_sent else r["elapsed"],
        "body_sent": body_sent,
        "echo_ok": r["status"] == 200 and r["echo_matches"],
        "requests": r["requests"],
        "requests_with_expect": r["requests_with_expect"],
    }


RUNNERS = {"curl": _run_curl, "php": _run_php, "node": _run_node}


def run_client(client, url, host, payload, size=SIZE):
    """Upload `payload` (a file of `size` bytes, for curl; PHP and Node make
    their own random body of that size) and return the measured dict."""
    return RUNNERS[client.program](client, url, host, payload, size)


# ---------------------------------------------------------------- rendering

DOC_MARKER = "<!-- measured-with: "

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
}
ADVICE_TITLES = {"curl": "curl", "php": "PHP cURL extension", "node": "Node.js http"}


def facts(client, policy, run):
    """The cells of one row, derived from one measured run.  Only what is
    stable goes in: stall lengths are shown as the client's nominal wait,
    which the tests check the measurement against."""
    srv = run["server"]
    expect = ("yes: " if srv["with_expect"] else "no: ") + client.expect_how
    got_100 = "yes" if run["got_100"] else "no"
    if not run["waited"] and run["stall"] < 0.5:
        if run["body_sent"]:
            stall = "no"
        elif run["status"] is not None:
            stall = f"no ({run['status']} at once, no body byte sent)"
        else:
            stall = "no"
    elif client.wait is not None and client.wait * 0.9 <= run["stall"] <= client.wait + 2:
        stall = f"yes, {client.wait:g} s ({client.wait_why})"
    else:
        stall = f"yes, {run['stall']:.1f} s (unexpected)"
    if 417 in srv["statuses"]:
        if srv["requests"] > 1:
            retry = (f"yes: {srv['requests']} requests, "
                     f"{srv['requests'] - srv['with_expect']} without Expect")
        else:
            retry = "no (1 request, ends with 417)"
    else:
        retry = "n/a (no 417)"
    if run["echo_ok"] and run["status"] == 200:
        ok = "yes (200, 2 MiB echoed)"
    elif run["status"] is None:
        ok = "no: " + ("the application gave up, no response"
                       if run["waited"] else f"no response ({run['error']})")
    else:
        ok = f"no: {run['status']}, nothing uploaded"
    return [client.label, policy, expect, got_100, stall, retry, ok]


def _table(rows):
    head = ["Client", "Policy", "Expect sent (server saw)", "100 received",
            "Stalls", "Retries without Expect after 417", "Upload succeeds"]
    out = ["| " + " | ".join(head) + " |",
           "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def render_markdown(results, vers):
    """results: {(client_key, policy): run}; vers: versions() output."""
    main, work = [], []
    for c in CLIENTS:
        for p in POLICIES:
            if (c.key, p) in results:
                (work if c.workaround else main).append(facts(c, p, results[(c.key, p)]))
    ver_rows = "\n".join(f"| {name} | {vers.get(key, 'not measured')} |"
                         for key, name in (("httpd", "Server"), ("curl", "curl"),
                                           ("php", "PHP cURL"), ("node", "Node.js")))
    advice = "\n\n".join(f"### {ADVICE_TITLES[k]}\n\n{ADVICE[k]}" for k in ("curl", "php", "node"))
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

One httpd (event MPM) on 127.0.0.1 has three name-based virtual hosts, one for
each policy. Each serves `/echo` with mod_reflector. Every client POSTs 2 MiB
(2,097,152 bytes) of random data to each of them.

## Results

{_table(main)}

### Definitions

- **Expect sent (server saw):** the `Expect` header as it reached httpd, read from
  the access log (`%{{Expect}}i`). `expectctl stats` counts the same requests
  for each virtual host.
- **100 received:** the client saw `100 Continue`. For curl this comes from its
  `-v` trace, for PHP from `CURLOPT_HEADERFUNCTION`, and for Node from the
  `'continue'` event.
- **Stalls:** the time from the start of the request to the first body byte,
  or to the final response when no body byte was sent. A run counts as a stall
  when the client itself reports that it waited for a 100 that did not come
  (libcurl's "Done waiting for 100-continue", or the script's timer in Node)
  and the wait lasted at least 90% of the client's own timeout. The number
  shown is that timeout; the tests check the measured wait against it.
- **Retries without Expect after 417:** the number of requests httpd logged for
  one upload. A client that retried would show as a second request.
- **Upload succeeds:** the final status is 200 and the echoed body is
  byte-for-byte the one sent.

## Workarounds, measured the same way

{_table(work)}

## What to do

{advice}

### On the server

`continue` gives every client here an upload with no delay. `ignore` costs
curl and PHP their expect timeout (1 s by default) on every upload. Node
clients that follow the documented pattern without a timer never upload at
all. `reject` makes each of these clients fail the upload with a 417: none of
them retries. Use `reject` only for clients that you know resend the request
without `Expect`, and watch `expectctl stats`, whose `r417` counters show what
answered 417.
"""


def committed_versions(text):
    """The versions line of a committed CLIENTS.md, or None."""
    for line in text.splitlines():
        if line.startswith(DOC_MARKER) and line.endswith(" -->"):
            return json.loads(line[len(DOC_MARKER):-4])
    return None
