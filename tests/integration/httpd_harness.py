# SPDX-License-Identifier: Apache-2.0
"""Start and stop a private Debian apache2 with the freshly built mod_expect.

Each Httpd lives in its own `mktemp -d` ServerRoot, listens on a free
loopback port, and is torn down by stop().  Nothing here touches
/etc/apache2 or the system's running server.
"""
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

# The httpd under test: Debian's apache2 unless the environment names
# another (make check-versions runs the tests against httpds built from
# source, whose layout is their own prefix: bin/httpd, modules/, conf/).
APACHE2 = (os.environ.get("EXPECT_HTTPD") or shutil.which("apache2")
           or "/usr/sbin/apache2")
MODDIR = os.environ.get("EXPECT_HTTPD_MODDIR") or "/usr/lib/apache2/modules"
# The MIME types file: Debian's media-types, else the httpd's own.
MIME_TYPES = os.environ.get("EXPECT_HTTPD_MIME_TYPES") or "/etc/mime.types"
MPMS = ("event", "worker", "prefork")

# Lines that mean a child died or httpd hit an internal error.
CRASH_PATTERNS = (
    "exit signal",
    "Segmentation fault",
    "AH00052",  # child pid exit signal
    "AH00060",  # seems deadlocked
    "Additionally, a 417",
)
# Error-log severities that are never expected in a passing test.
BAD_LEVEL = re.compile(r"\[[a-z_0-9]+:(emerg|alert|crit|error)\]")


def has_module(name):
    """Whether the httpd under test has mod_NAME as a loadable module."""
    return os.path.exists(os.path.join(MODDIR, f"mod_{name}.so"))


_VERSION = []


def httpd_version():
    """The httpd under test's version, as a tuple: (2, 4, 58)."""
    if not _VERSION:
        out = subprocess.run([APACHE2, "-v"], capture_output=True, text=True,
                             env=dict(os.environ, LANG="C")).stdout
        m = re.search(r"Apache/(\d+)\.(\d+)\.(\d+)", out)
        if not m:
            raise RuntimeError(f"cannot tell the version of {APACHE2}: {out!r}")
        _VERSION.append(tuple(int(x) for x in m.groups()))
    return _VERSION[0]


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def expectctl_path():
    path = os.environ.get("EXPECTCTL")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "expectctl", "expectctl")
    return os.path.abspath(path)


def expectctl(*args, shm=None, as_user=None, env=None, timeout=30):
    """Run expectctl; as_user runs it through setpriv as that user."""
    cmd = [expectctl_path()]
    if shm is not None:
        cmd += ["-s", shm]
    cmd += list(args)
    if as_user is not None:
        import pwd
        pw = pwd.getpwnam(as_user)
        cmd = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
               "--clear-groups", "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=env)


def module_path():
    path = os.environ.get("MOD_EXPECT_SO")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "mod_expect", "mod_expect.so")
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise RuntimeError(f"module not built: {path} (run make)")
    return path


class Httpd:
    """One private httpd.  `body` is config appended after the base."""

    def __init__(self, body="", mpm="event", modules=(), load_expect=True,
                 loglevel="info expect:debug", name="httpd"):
        self.mpm = mpm
        self.root = tempfile.mkdtemp(prefix=f"mod_expect-{name}-")
        # httpd children run as nobody and must read the docs and scripts.
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.htdocs = os.path.join(self.root, "htdocs")
        self.logs = os.path.join(self.root, "logs")
        os.makedirs(self.htdocs)
        os.makedirs(self.logs)
        with open(os.path.join(self.htdocs, "index.html"), "w") as f:
            f.write("index page\n")
        os.makedirs(os.path.join(self.htdocs, "errdocs"))
        with open(os.path.join(self.htdocs, "errdocs", "417.html"), "w") as f:
            f.write("custom 417 page\n")
        self.conf = os.path.join(self.root, "httpd.conf")
        self.error_log = os.path.join(self.logs, "error_log")
        self.access_log = os.path.join(self.logs, "access_log")
        self.pidfile = os.path.join(self.root, "httpd.pid")
        mods = ["authz_core", "mime", "alias", "reflector"] + list(modules)
        lines = [
            f"ServerRoot {self.root}",
            f"LoadModule mpm_{mpm}_module {MODDIR}/mod_mpm_{mpm}.so",
        ]
        seen = set()
        for m in mods:
            if m not in seen:
                seen.add(m)
                lines.append(f"LoadModule {m}_module {MODDIR}/mod_{m}.so")
        if load_expect:
            lines.append(f"LoadModule expect_module {module_path()}")
        lines += [
            f"Listen 127.0.0.1:{self.port}",
            f"PidFile {self.pidfile}",
            f"DefaultRuntimeDir {self.logs}",
            f"ErrorLog {self.error_log}",
            f"LogLevel {loglevel}",
            'LogFormat "%h %v:%p \\"%r\\" %>s %b \\"%{Expect}i\\" '
            'decision=%{expect-decision}n" expect',
            f"CustomLog {self.access_log} expect",
            "ServerName localhost",
            f"DocumentRoot {self.htdocs}",
            f"TypesConfig {MIME_TYPES}",
            "KeepAlive On",
            "KeepAliveTimeout 5",
            "Timeout 10",
            "StartServers 2",
        ]
        if os.geteuid() == 0:
            lines += ["User nobody", "Group nogroup"]
        if mpm == "prefork":
            lines += ["MinSpareServers 2", "MaxSpareServers 4"]
        else:
            lines += ["ThreadsPerChild 8", "MinSpareThreads 8",
                      "MaxSpareThreads 32", "MaxRequestWorkers 32",
                      "ServerLimit 4"]
        self.base = "\n".join(lines) + "\n"
        self.body = body
        self.write_config()

    def write_config(self, body=None):
        if body is not None:
            self.body = body
        with open(self.conf, "w") as f:
            f.write(self.base)
            f.write(self.body.replace("@PORT@", str(self.port))
                    .replace("@ROOT@", self.root))

    def ctl(self, *args, check=True):
        return subprocess.run([APACHE2, "-d", self.root, "-f", self.conf, *args],
                              capture_output=True, text=True, check=check,
                              timeout=60, env=httpd_env())

    def configtest(self):
        return self.ctl("-t", check=False)

    def start(self, timeout=20):
        # The port is bound before httpd daemonizes, but post_config (which
        # builds the segment) runs after: wait for the generation's notice.
        before = self._generations()
        res = self.ctl("-k", "start", check=False)
        if res.returncode != 0:
            raise RuntimeError(f"apache2 failed to start: {res.stderr}\n"
                               f"{self.read_error_log()}")
        deadline = time.time() + timeout
        while self._generations() <= before:
            if time.time() > deadline:
                raise RuntimeError(f"httpd did not come up\n{self.read_error_log()}")
            time.sleep(0.02)
        self.wait_listening()
        return self

    def wait_listening(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"httpd did not listen on {self.port}\n"
                           f"{self.read_error_log()}")

    @property
    def shm(self):
        """The segment: DefaultRuntimeDir is the logs directory."""
        return os.path.join(self.logs, "mod_expect.shm")

    def ctl_json(self, *args):
        import json
        res = expectctl(*args, "--json", shm=self.shm)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    def vhost_stats(self, name):
        """The stats --json row of the vhost whose name starts with name:."""
        for v in self.ctl_json("stats")["vhosts"]:
            if v["name"] == f"{name}:{self.port}":
                return v
        raise KeyError(name)

    def _generations(self):
        return self.read_error_log().count("resuming normal operations")

    def reload(self, how="graceful", timeout=20):
        """apache2 -k graceful|restart, and wait for the new generation."""
        before = self._generations()
        self.ctl("-k", how)
        deadline = time.time() + timeout
        while self._generations() <= before:
            if time.time() > deadline:
                raise RuntimeError(f"no new generation after -k {how}\n"
                                   f"{self.read_error_log()[-2000:]}")
            time.sleep(0.05)
        self.wait_listening()

    def pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        pid = self.pid()
        self.ctl("-k", "stop", check=False)
        if pid:
            deadline = time.time() + 15
            while time.time() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                os.kill(pid, signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if os.environ.get("KEEP_TEST_ROOT"):
            return
        shutil.rmtree(self.root, ignore_errors=True)

    def read_error_log(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def read_access_log(self):
        try:
            with open(self.access_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_mark(self):
        """Offsets to read only what a test adds to the logs."""
        return (os.path.getsize(self.error_log) if os.path.exists(self.error_log) else 0,
                os.path.getsize(self.access_log) if os.path.exists(self.access_log) else 0)

    def error_log_since(self, mark):
        with open(self.error_log, errors="replace") as f:
            f.seek(mark[0])
            return f.read()

    def access_log_since(self, mark, settle=0.3):
        # Access log lines are written when the request ends; give lingering
        # close a moment.
        deadline = time.time() + settle
        text = ""
        while True:
            with open(self.access_log, errors="replace") as f:
                f.seek(mark[1])
                text = f.read()
            if text or time.time() > deadline:
                return text
            time.sleep(0.02)

    def assert_clean_error_log(self, allowed=()):
        bad = []
        for line in self.read_error_log().splitlines():
            if any(p in line for p in CRASH_PATTERNS) or BAD_LEVEL.search(line):
                if not any(re.search(a, line) for a in allowed):
                    bad.append(line)
        assert not bad, "unexpected error log lines:\n" + "\n".join(bad)


@contextlib.contextmanager
def serving(httpd, allowed_errors=()):
    """Start `httpd`, yield it, then stop it and require a clean error log."""
    httpd.start()
    try:
        yield httpd
    finally:
        httpd.stop()
    try:
        httpd.assert_clean_error_log(allowed_errors)
    finally:
        httpd.cleanup()


def httpd_env():
    """The environment for an httpd a test starts itself: with a sanitizer
    build of the module, its runtime preloaded (build/sanitize.sh sets
    MOD_EXPECT_PRELOAD), as Httpd.ctl does."""
    preload = os.environ.get("MOD_EXPECT_PRELOAD")
    return dict(os.environ, LD_PRELOAD=preload) if preload else None
