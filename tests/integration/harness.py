"""Shared harness for loaxa's integration tests (Python 3 stdlib only).

Each test file is run by meson as ``python3 tests/integration/test_X.py``
with LOAXAD (the built daemon), LOAXA (the built CLI) and LOAXA_SRCDIR (the
repository root) in the environment. Without LOAXAD the file exits 77 (the
meson/automake "skipped" code).

A ``Daemon`` owns a temporary directory under /tmp holding the config, the
state directory, the unix API socket, an sd_notify datagram socket and the
daemon's captured stdout/stderr. It starts loaxad in the foreground and waits
for READY=1 on NOTIFY_SOCKET, then talks HTTP/1.1 to it over the unix socket
(or loopback TCP) and runs the CLI against it.

Set LOAXA_KEEP_TMP=1 to keep the temporary directories for inspection.
"""

import errno
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

SKIP = 77
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

LOAXAD = os.environ.get("LOAXAD", "")
LOAXA = os.environ.get("LOAXA", "")
SRCDIR = os.environ.get("LOAXA_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The groups loaxad creates when the config has no [groups] section.
DEFAULT_GROUPS = [
    ("2A", "Nhóm dân cư 2A"),
    ("2B", "Nhóm dân cư 2B"),
    ("dong-tan", "Nhóm dân cư Đông Tân"),
    ("nam-ha", "Nhóm dân cư Nam Hà"),
]

def schema_version():
    """STORE_SCHEMA_VERSION from include/loaxa/store.h."""
    path = os.path.join(SRCDIR, "include", "loaxa", "store.h")
    with open(path, encoding="utf-8") as f:
        m = re.search(r"^#define STORE_SCHEMA_VERSION (\d+)$", f.read(),
                      re.M)
    assert m, "no STORE_SCHEMA_VERSION in " + path
    return int(m.group(1))


HOUSEHOLD_KEYS = {
    "id", "group", "name", "phones", "address", "zalo_user_id",
    "messenger_psid", "note", "opted_out", "created_ms", "updated_ms",
}

EXPORT_HEADER = ("group,name,phones,address,zalo_user_id,messenger_psid,"
                 "note,opted_out")


def require_env(need_cli=False):
    """Exit 77 (skipped) when the binaries under test are not given."""
    if not LOAXAD:
        print("LOAXAD is not set: skipping (exit 77)")
        sys.exit(SKIP)
    if need_cli and not LOAXA:
        print("LOAXA is not set: skipping (exit 77)")
        sys.exit(SKIP)
    for name, path in (("LOAXAD", LOAXAD), ("LOAXA", LOAXA)):
        if path and not os.access(path, os.X_OK):
            print("%s=%s is not an executable file" % (name, path))
            sys.exit(1)


def quote(s):
    """Percent-encode one path segment (UTF-8)."""
    return urllib.parse.quote(s, safe="")


def free_tcp_port():
    """A loopback port that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class DaemonError(AssertionError):
    pass


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX stream socket."""

    def __init__(self, path, timeout=30.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


class Response:
    """(status, headers, body) with tuple unpacking, plus helpers."""

    def __init__(self, status, headers, body, raw):
        self.status = status
        self.headers = headers      # lower-cased names
        self.body = body            # parsed JSON, or raw bytes
        self.raw = raw

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        return "<HTTP %d %s %r>" % (self.status,
                                    self.headers.get("content-type", ""),
                                    self.raw[:2000])


class Daemon:
    """One loaxad in its own temporary directory.

    config:  full config text instead of the generated one; "@TMP@" is
             replaced by the temporary directory.
    groups:  list of (code, name) written as a [groups] section.
    tcp:     also listen on 127.0.0.1:<free port> with a bearer token.
    max_body: value for [api] max_body (e.g. "1K").
    daemon_extra / api_extra: lines appended to those sections.
    extra:   text appended at the end of the generated config.
    database: value for [daemon] database (else <state_dir>/loaxa.db).
    state_dir: value for [daemon] state_dir (else <tmp>/state, created).
    """

    TOKEN = "it-token-0123456789abcdef"

    def __init__(self, config=None, groups=None, tcp=False, max_body=None,
                 daemon_extra="", api_extra="", extra="", database=None,
                 state_dir=None, log_level="info"):
        self.tmp = tempfile.mkdtemp(prefix="loaxa-it-", dir="/tmp")
        self.state_dir = state_dir or os.path.join(self.tmp, "state")
        if state_dir is None:
            os.mkdir(self.state_dir)
        self.database = database
        self.socket_path = os.path.join(self.tmp, "api.sock")
        assert len(self.socket_path.encode()) < 100, self.socket_path
        self.notify_path = os.path.join(self.tmp, "notify.sock")
        self.config_path = os.path.join(self.tmp, "loaxa.ini")
        self.stdout_path = os.path.join(self.tmp, "loaxad.stdout")
        self.stderr_path = os.path.join(self.tmp, "loaxad.stderr")
        self.token_path = os.path.join(self.tmp, "token")
        self.tcp_port = None
        self.proc = None
        self.notify_sock = None
        self.notify_msgs = []
        self.notify_lock = threading.Lock()
        self.final_log = None
        self.closed = False
        self.start_failed = False
        self.runs = 0
        if tcp:
            self.tcp_port = free_tcp_port()
            with open(self.token_path, "w") as f:
                f.write(self.TOKEN + "\n")
            os.chmod(self.token_path, 0o600)
        if config is None:
            config = self._generate(groups, max_body, daemon_extra,
                                    api_extra, extra, log_level)
        self.write_config(config)

    # ---- configuration ----

    def _generate(self, groups, max_body, daemon_extra, api_extra, extra,
                  log_level):
        lines = ["[daemon]",
                 "state_dir = " + self.state_dir,
                 "log_level = " + log_level]
        if self.database:
            lines.append("database = " + self.database)
        if daemon_extra:
            lines.append(daemon_extra.rstrip("\n"))
        lines += ["", "[api]", "socket = " + self.socket_path]
        if self.tcp_port:
            lines.append("listen = 127.0.0.1:%d" % self.tcp_port)
            lines.append("token_file = " + self.token_path)
        if max_body:
            lines.append("max_body = " + max_body)
        if api_extra:
            lines.append(api_extra.rstrip("\n"))
        if groups is not None:
            lines += ["", "[groups]"]
            lines += ["%s = %s" % (c, n) for c, n in groups]
        if extra:
            lines += ["", extra.rstrip("\n")]
        return "\n".join(lines) + "\n"

    def base_config(self, groups=None):
        """The generated config text for this daemon with other groups."""
        return self._generate(groups, None, "", "", "", "info")

    def write_config(self, text):
        text = text.replace("@TMP@", self.tmp)
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(text)
        self.config_text = text

    @property
    def db_path(self):
        return self.database or os.path.join(self.state_dir, "loaxa.db")

    # ---- process control ----

    def _spawn(self):
        if self.notify_sock is None:
            self.notify_sock = socket.socket(socket.AF_UNIX,
                                             socket.SOCK_DGRAM)
            self.notify_sock.bind(self.notify_path)
        env = dict(os.environ)
        for k in ("WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS",
                  "LISTEN_PID", "LISTEN_FDNAMES"):
            env.pop(k, None)
        env["NOTIFY_SOCKET"] = self.notify_path
        self.runs += 1
        # append, so a restart keeps the earlier run's log
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [LOAXAD, "--config", self.config_path],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                cwd=self.tmp)
        finally:
            out.close()
            err.close()

    def _recv_notify(self, timeout):
        """Wait up to timeout for one datagram; store and return it."""
        with self.notify_lock:
            if not select.select([self.notify_sock], [], [], timeout)[0]:
                return None
            data = self.notify_sock.recv(65536)
        msg = data.decode("utf-8", "replace")
        self.notify_msgs.append(msg)
        return msg

    def drain_notify(self):
        """Read what is waiting, without blocking. Safe from several
        threads (request() calls it): the socket's blocking mode is never
        changed, each read says MSG_DONTWAIT."""
        if self.notify_sock is None:
            return
        with self.notify_lock:
            while select.select([self.notify_sock], [], [], 0)[0]:
                data = self.notify_sock.recv(65536)
                self.notify_msgs.append(data.decode("utf-8", "replace"))

    def notified(self, assignment):
        """True if some datagram so far held this line (e.g. READY=1)."""
        return any(assignment in m.split("\n") for m in self.notify_msgs)

    def start(self):
        """Start loaxad and wait for READY=1; raise DaemonError if it exits
        or does not get ready in time."""
        self.notify_msgs = []
        self.start_failed = True
        self._spawn()
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.notified("READY=1"):
                break
            rc = self.proc.poll()
            if rc is not None:
                self.drain_notify()
                if self.notified("READY=1"):
                    break
                raise DaemonError("loaxad exited with %d before READY=1; "
                                  "log ends:\n%s" % (rc, self.log_tail()))
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise DaemonError("loaxad sent no READY=1 within %.0f s; "
                                  "log ends:\n%s"
                                  % (READY_TIMEOUT, self.log_tail()))
            self._recv_notify(min(left, 0.1))
        if not os.path.exists(self.socket_path):
            raise DaemonError("READY=1 but no socket at " + self.socket_path)
        self.start_failed = False
        return self

    def run_to_exit(self, timeout=READY_TIMEOUT):
        """Start loaxad expecting it to fail: return its exit code, or
        None if it was still running after timeout (then it is killed)."""
        self.notify_msgs = []
        self._spawn()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        self.drain_notify()
        return rc

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM, wait; return the exit code (negative: killed by a
        signal). Reads the sd_notify datagrams sent meanwhile."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.drain_notify()
                raise DaemonError("loaxad did not stop within %.0f s of "
                                  "SIGTERM; log ends:\n%s"
                                  % (STOP_TIMEOUT, self.log_tail()))
        self.drain_notify()
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        rc = self.stop()
        if rc != 0:
            raise DaemonError("loaxad exited %r on SIGTERM; log ends:\n%s"
                              % (rc, self.log_tail()))
        return self.start()

    def log(self):
        if self.final_log is not None:
            return self.final_log
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=15):
        return "\n".join(self.log().splitlines()[-n:])

    def stdout(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_size(self):
        return len(self.log())

    def wait_log(self, needle, timeout=5.0, since=0):
        """Wait until the log (from character offset since) contains
        needle; return whether it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log()[since:]:
                return True
            time.sleep(0.05)
        return needle in self.log()[since:]

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.kill()
        self.final_log = None
        log = self.log()
        self.final_log = log
        if self.notify_sock is not None:
            self.notify_sock.close()
        if os.environ.get("LOAXA_KEEP_TMP"):
            print("kept " + self.tmp, file=sys.stderr)
        else:
            # a test may have made parts read-only
            for root, dirs, _ in os.walk(self.tmp):
                for d in dirs:
                    try:
                        os.chmod(os.path.join(root, d), 0o700)
                    except OSError:
                        pass
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type, exc, tb):
        self.close()
        if exc_type is not None:
            dump_log(self)
        return False

    # ---- HTTP ----

    def connection(self, tcp=False, timeout=30.0):
        if tcp:
            assert self.tcp_port, "daemon started without tcp=True"
            return http.client.HTTPConnection("127.0.0.1", self.tcp_port,
                                              timeout=timeout)
        return UnixHTTPConnection(self.socket_path, timeout=timeout)

    def request(self, method, path, body=None, headers=None, tcp=False,
                timeout=30.0):
        """One request on a fresh connection. body: dict/list (sent as
        JSON), str (UTF-8), bytes (as is) or None. Returns a Response
        that unpacks as (status, headers, json-or-bytes)."""
        # systemd reads every notification; so must we, or loaxad's
        # sd_notify (a blocking send) waits once ten are unread
        if self.proc is not None:
            self.drain_notify()
        hdrs = {}
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode("utf-8")
        if headers:
            hdrs.update(headers)
        conn = self.connection(tcp=tcp, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError):
                # loaxad may answer (e.g. 413) and close before it has
                # read the whole body: its answer is still there to read
                pass
            resp = conn.getresponse()
            raw = resp.read()
            rhdrs = {k.lower(): v for k, v in resp.getheaders()}
            status = resp.status
        finally:
            conn.close()
        parsed = raw
        ctype = rhdrs.get("content-type", "")
        if ctype.startswith("application/json") and raw:
            try:
                parsed = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise AssertionError("%s %s: invalid JSON answer (%s): %r"
                                     % (method, path, e, raw[:500]))
        return Response(status, rhdrs, parsed, raw)

    # shorthands
    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def raw(self, data, timeout=3.0, shut_wr=False):
        """Send raw bytes on the unix socket; return whatever comes back
        before EOF or timeout."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        chunks = []
        try:
            s.connect(self.socket_path)
            try:
                s.sendall(data)
                if shut_wr:
                    s.shutdown(socket.SHUT_WR)
            except OSError as e:
                if e.errno not in (errno.EPIPE, errno.ECONNRESET):
                    raise
            while True:
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    break
                if not b:
                    break
                chunks.append(b)
        finally:
            s.close()
        return b"".join(chunks)

    # ---- CLI ----

    def cli(self, *args, input=None, socket_path=None, timeout=120):
        """Run the CLI against this daemon; CompletedProcess (text)."""
        cmd = [LOAXA, "--socket", socket_path or self.socket_path]
        cmd += [str(a) for a in args]
        return subprocess.run(cmd, input=input, capture_output=True,
                              text=True, timeout=timeout,
                              stdin=None if input is not None
                              else subprocess.DEVNULL)


def dump_log(d, lines=200):
    log = d.log().splitlines()
    print("\n----- loaxad log (%s, last %d of %d lines) -----"
          % (d.tmp, min(lines, len(log)), len(log)), file=sys.stderr)
    for line in log[-lines:]:
        print(line, file=sys.stderr)
    print("----- end of loaxad log -----", file=sys.stderr)


class DaemonCase(unittest.TestCase):
    """TestCase with daemons that are cleaned up after each test and whose
    logs are printed when the test fails."""

    maxDiff = None

    def run(self, result=None):
        self._daemons = []
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        ret = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for d in self._daemons:
                dump_log(d)
        for d in self._daemons:
            d.close()
        return ret

    def daemon(self, start=True, **kw):
        d = Daemon(**kw)
        self._daemons.append(d)
        self.addCleanup(d.close)
        self.addCleanup(self._check_daemon_end, d)
        if start:
            d.start()
        return d

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                       "runtime error:", "WARNING: ThreadSanitizer")

    def _check_daemon_end(self, d):
        """After each test: a daemon still running must stop cleanly on
        SIGTERM, and no sanitizer may have reported anything."""
        if d.running():
            rc = d.stop()
            self.assertEqual(rc, 0, "loaxad exited %r on SIGTERM at the "
                             "end of the test" % rc)
        if d.start_failed:
            return      # the test's own error already carries the log
        log = d.log()
        for mark in self.SANITIZER_MARKS:
            if mark in log:
                self.fail("sanitizer report (%s) in loaxad's log: see the "
                          "log printed above" % mark)

    # ---- assertions ----

    def assertStatus(self, resp, status, msg=None):
        if resp.status != status:
            self.fail("expected HTTP %d, got %r%s"
                      % (status, resp, " (%s)" % msg if msg else ""))

    def assertError(self, resp, status, code):
        """An error answer: status, JSON body {"error":{code,message}}."""
        self.assertStatus(resp, status)
        ctype = resp.headers.get("content-type", "")
        self.assertTrue(ctype.startswith("application/json"),
                        "error answer is not JSON: %r" % (resp,))
        self.assertIsInstance(resp.body, dict, resp)
        self.assertIn("error", resp.body, resp)
        err = resp.body["error"]
        self.assertEqual(err.get("code"), code, resp)
        self.assertIsInstance(err.get("message"), str, resp)
        self.assertTrue(err["message"], resp)
        return err

    def assertFields(self, resp, expected):
        """422 validation_failed whose fields are exactly expected, a list
        of (field, code) pairs (code None: any)."""
        err = self.assertError(resp, 422, "validation_failed")
        fields = err.get("fields")
        self.assertIsInstance(fields, list, resp)
        got = [(f.get("field"), f.get("code")) for f in fields]
        want = [(f, c if c is not None else g[1])
                for (f, c), g in zip(expected, got)]
        self.assertEqual(got, want, resp)
        for f in fields:
            self.assertIsInstance(f.get("message"), str, resp)
            self.assertTrue(f["message"], resp)
        return fields

    def assertHousehold(self, h, **want):
        """h is a household object with exactly the documented keys and
        the given values."""
        self.assertIsInstance(h, dict)
        self.assertEqual(set(h), HOUSEHOLD_KEYS, h)
        self.assertIsInstance(h["id"], int)
        self.assertIsInstance(h["created_ms"], int)
        self.assertIsInstance(h["updated_ms"], int)
        self.assertIsInstance(h["opted_out"], bool)
        for k, v in want.items():
            self.assertEqual(h[k], v, "field %s of %r" % (k, h))


def main():
    unittest.main(verbosity=2)
