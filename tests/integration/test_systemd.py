#!/usr/bin/env python3
"""loaxad under systemd, without running systemd: the generated unit
(systemd-analyze verify and security --offline), the whole sd_notify
sequence of the real loaxad on a fake NOTIFY_SOCKET (READY, WATCHDOG at
half of WATCHDOG_USEC, RELOADING/READY on SIGHUP, STOPPING on SIGTERM), and
the system calls loaxad makes against the unit's SystemCallFilter.

Environment: LOAXAD (the built daemon, else exit 77), MESON_BUILD_ROOT (the
build directory holding systemd/loaxad.service and man/), LOAXA_SRCDIR.
Never starts systemd itself (see /work/shared/DEPS.md).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import LOAXAD, SRCDIR, DaemonCase  # noqa: E402

harness.require_env()

BUILD = os.environ.get("MESON_BUILD_ROOT", "")
UNIT = os.path.join(BUILD, "systemd", "loaxad.service") if BUILD else ""
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
MAX_EXPOSURE = 2.0

WATCHDOG_USEC = 400000           # as systemd would set for WatchdogSec=0.4
PING_S = WATCHDOG_USEC / 2e6     # loaxad pings at half the period


def build_options():
    """{name: value} of the build's meson options (prefix, sbindir, ...)."""
    path = os.path.join(BUILD, "meson-info", "intro-buildoptions.json")
    with open(path, encoding="utf-8") as f:
        return {o["name"]: o["value"] for o in json.load(f)}


def install_path(opts, name):
    """An installation directory as meson resolves it: relative to the
    prefix unless absolute."""
    return os.path.join(opts["prefix"], opts[name])


def parse_unit(text):
    """[(section, key, value)] of a unit file, in order (keys repeat)."""
    out, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep, "not a unit line: %r" % line
        out.append((section, key.strip(), value.strip()))
    return out


def unit_values(entries, key, section="Service"):
    return [v for s, k, v in entries if s == section and k == key]


# ---- the unit file ----------------------------------------------------

@unittest.skipUnless(UNIT, "MESON_BUILD_ROOT not set")
class Unit(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        with open(UNIT, encoding="utf-8") as f:
            cls.text = f.read()
        cls.entries = parse_unit(cls.text)
        cls.opts = build_options()

    def one(self, key, section="Service"):
        v = unit_values(self.entries, key, section)
        self.assertEqual(len(v), 1, "%s= in [%s]: %r" % (key, section, v))
        return v[0]

    def test_no_placeholder_left(self):
        self.assertNotRegex(self.text, r"@[A-Za-z_]+@")

    def test_paths_are_the_installed_ones(self):
        sbindir = install_path(self.opts, "sbindir")
        sysconfdir = install_path(self.opts, "sysconfdir")
        self.assertEqual(self.one("ExecStart"),
                         "%s/loaxad --config %s/loaxa/loaxa.ini"
                         % (sbindir, sysconfdir))

    def test_lifecycle(self):
        want = {
            "Type": "notify",
            "NotifyAccess": "main",
            "ExecReload": "/bin/kill -HUP $MAINPID",
            "WatchdogSec": "30s",
            "Restart": "on-failure",
            "RestartSec": "5s",
            "User": "loaxa",
            "Group": "loaxa",
            "StateDirectory": "loaxa",
            "RuntimeDirectory": "loaxa",
            "RuntimeDirectoryMode": "0750",
            "ConfigurationDirectory": "loaxa",
            "UMask": "0077",
        }
        got = {k: self.one(k) for k in want}
        self.assertEqual(got, want)
        self.assertEqual(self.one("Documentation", "Unit").split(),
                         ["man:loaxad(8)", "man:loaxa.ini(5)",
                          "man:loaxa(1)"])
        # a restart loop ends: a burst within an interval
        burst = int(self.one("StartLimitBurst", "Unit"))
        self.assertTrue(1 <= burst <= 10, burst)
        self.assertTrue(self.one("StartLimitIntervalSec", "Unit"))
        self.assertEqual(self.one("WantedBy", "Install"),
                         "multi-user.target")

    def test_hardening(self):
        # STYLE.md §K rule 33, plus what lowers the exposure further
        want = {
            "NoNewPrivileges": "yes",
            "CapabilityBoundingSet": "",
            "AmbientCapabilities": "",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "PrivateDevices": "yes",
            "PrivateUsers": "yes",
            "PrivateIPC": "yes",
            "DevicePolicy": "closed",
            "ProtectKernelTunables": "yes",
            "ProtectKernelModules": "yes",
            "ProtectKernelLogs": "yes",
            "ProtectControlGroups": "yes",
            "ProtectClock": "yes",
            "ProtectHostname": "yes",
            "ProtectProc": "invisible",
            "ProcSubset": "pid",
            "RemoveIPC": "yes",
            "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
            "RestrictNamespaces": "yes",
            "RestrictRealtime": "yes",
            "RestrictSUIDSGID": "yes",
            "LockPersonality": "yes",
            "MemoryDenyWriteExecute": "yes",
            "SystemCallArchitectures": "native",
            "SystemCallErrorNumber": "EPERM",
        }
        got = {k: self.one(k) for k in want}
        self.assertEqual(got, want)
        self.assertEqual(unit_values(self.entries, "SystemCallFilter"),
                         ["@system-service", "~@privileged @resources"])
        # loaxad must reach the providers: no network lock-down
        self.assertEqual(unit_values(self.entries, "PrivateNetwork"), [])
        self.assertEqual(unit_values(self.entries, "IPAddressDeny"), [])

    def test_loadcredential_example_commented(self):
        self.assertRegex(self.text, r"(?m)^#LoadCredential=\S+:/\S+$")
        self.assertEqual(unit_values(self.entries, "LoadCredential"), [])


@unittest.skipUnless(UNIT, "MESON_BUILD_ROOT not set")
@unittest.skipUnless(SYSTEMD_ANALYZE, "systemd-analyze not installed")
class Analyze(unittest.TestCase):
    """systemd-analyze on a copy of the unit whose ExecStart is the built
    loaxad: verify needs the binary to exist."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="loaxa-unit-", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        with open(UNIT, encoding="utf-8") as f:
            text = f.read()
        text, n = re.subn(r"(?m)^ExecStart=\S+/loaxad ",
                          "ExecStart=%s " % LOAXAD, text)
        self.assertEqual(n, 1)
        self.unit = os.path.join(self.tmp, "loaxad.service")
        with open(self.unit, "w", encoding="utf-8") as f:
            f.write(text)
        # The pages of Documentation=, where man finds them
        pages = [(os.path.join(BUILD, "man", "loaxad.8"), "man8"),
                 (os.path.join(BUILD, "man", "loaxa.ini.5"), "man5"),
                 (os.path.join(SRCDIR, "man", "loaxa.1"), "man1")]
        for src, sub in pages:
            os.makedirs(os.path.join(self.tmp, "man", sub), exist_ok=True)
            shutil.copy(src, os.path.join(self.tmp, "man", sub))
        self.env = dict(os.environ, MANPATH=os.path.join(self.tmp, "man"),
                        SYSTEMD_LOG_COLOR="0", SYSTEMD_PAGER="")

    def analyze(self, *args):
        return subprocess.run([SYSTEMD_ANALYZE] + list(args),
                              capture_output=True, text=True, env=self.env,
                              timeout=60, stdin=subprocess.DEVNULL)

    def test_verify_clean(self):
        # man pages checked too: Documentation= must name real pages
        p = self.analyze("verify", "--man=yes", self.unit)
        self.assertEqual(p.returncode, 0, p)
        # warnings (unknown keys, bad values) do not change the exit code
        self.assertEqual(p.stdout + p.stderr, "", p)

    def test_verify_catches_mistakes(self):
        # the check can fail: a bad Type= and a missing man page
        with open(self.unit, encoding="utf-8") as f:
            good = f.read()
        with open(self.unit, "w", encoding="utf-8") as f:
            f.write(good.replace("Type=notify", "Type=notifyy")
                    .replace("man:loaxa(1)", "man:loaxa-no-such(1)"))
        p = self.analyze("verify", "--man=yes", self.unit)
        self.assertNotEqual(p.returncode, 0, p)
        self.assertIn("loaxa-no-such", p.stdout + p.stderr)

    def test_security_exposure(self):
        p = self.analyze("security", "--offline=true", self.unit)
        self.assertEqual(p.returncode, 0, p)
        m = re.search(r"Overall exposure level for loaxad\.service: "
                      r"(\d+\.\d+)", p.stdout)
        self.assertTrue(m, p.stdout)
        score = float(m.group(1))
        print("systemd-analyze security --offline=true: %.1f" % score,
              file=sys.stderr)
        self.assertLessEqual(score, MAX_EXPOSURE, p.stdout)


# ---- sd_notify against the real loaxad --------------------------------

class NotifyDaemon(harness.Daemon):
    """harness.Daemon started with the watchdog environment systemd sets,
    recording when each datagram arrived.

    watchdog_pid: "self" makes WATCHDOG_PID loaxad's own pid (a shell that
    exports $$ and execs loaxad), "other" names another process (loaxad must
    then not ping), None leaves it unset."""

    def __init__(self, watchdog_pid="self", **kw):
        super().__init__(**kw)
        self.watchdog_pid = watchdog_pid
        self.timed = []          # (monotonic time, message)

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
        env["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
        argv = [LOAXAD, "--config", self.config_path]
        if self.watchdog_pid == "self":
            argv = ["sh", "-c", 'export WATCHDOG_PID=$$; exec "$0" "$@"'] \
                + argv
        elif self.watchdog_pid == "other":
            env["WATCHDOG_PID"] = str(os.getpid())
        self.runs += 1
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, env=env,
                                         cwd=self.tmp)
        finally:
            out.close()
            err.close()

    def _recv_notify(self, timeout):
        msg = super()._recv_notify(timeout)
        if msg is not None:
            self.timed.append((time.monotonic(), msg))
        return msg

    def drain_notify(self):
        n = len(self.notify_msgs)
        super().drain_notify()
        now = time.monotonic()
        self.timed += [(now, m) for m in self.notify_msgs[n:]]

    def collect(self, seconds):
        """Receive every datagram for this long (keeps the socket's queue
        empty: the kernel holds only net.unix.max_dgram_qlen of them, and
        then loaxad's sd_notify would block)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._recv_notify(left)

    def collect_until(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._recv_notify(min(left, 0.05))
        return True

    def stop_collecting(self):
        """SIGTERM, receiving datagrams until loaxad exits; the exit
        code."""
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + harness.STOP_TIMEOUT
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                raise harness.DaemonError("loaxad did not stop on SIGTERM")
            self._recv_notify(0.05)
        self.drain_notify()
        return self.proc.returncode


def lines(msg):
    return msg.split("\n")


class Notify(DaemonCase):
    def notify_daemon(self, **kw):
        d = NotifyDaemon(**kw)
        self._daemons.append(d)
        self.addCleanup(d.close)
        self.addCleanup(self._check_daemon_end, d)
        return d

    def test_whole_sequence(self):
        d = self.notify_daemon(watchdog_pid="self")
        t_start = time.monotonic()
        d.start()
        # READY=1 comes once, with a STATUS=, after the socket listens
        ready = [m for _, m in d.timed if "READY=1" in lines(m)]
        self.assertEqual(len(ready), 1, d.notify_msgs)
        # the one-line summary: directory and queue (channels are named
        # only when they are not "ok"; this daemon has none)
        self.assertRegex(ready[0], r"^READY=1\nSTATUS=serving 0 households "
                         r"in 4 groups; queue 0 urgent, 0 normal$")

        # WATCHDOG=1 every ~200 ms (half of 400 ms), never a full period
        d.collect(1.3)
        pings = [t for t, m in d.timed if m == "WATCHDOG=1"]
        self.assertGreaterEqual(len(pings), 5, d.notify_msgs)
        self.assertLessEqual(len(pings),
                             int((time.monotonic() - t_start) / PING_S) + 1)
        gaps = sorted(b - a for a, b in zip(pings, pings[1:]))
        median = gaps[len(gaps) // 2]
        self.assertTrue(0.75 * PING_S <= median <= 1.5 * PING_S,
                        "median gap between pings %.3f s" % median)
        self.assertLess(gaps[-1], WATCHDOG_USEC / 1e6,
                        "a gap of a whole watchdog period: systemd would "
                        "have killed loaxad (gaps %r)" % gaps)
        self.assertTrue(all(m in ("WATCHDOG=1",) or "READY=1" in lines(m)
                            for _, m in d.timed), d.notify_msgs)
        self.assertIn("watchdog enabled: pinging every 200 ms", d.log())

        # SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 again
        n = len(d.timed)
        before = time.monotonic()
        d.signal(signal.SIGHUP)
        self.assertTrue(d.collect_until(
            lambda: any("READY=1" in lines(m) for _, m in d.timed[n:])),
            d.notify_msgs)
        after = time.monotonic()
        seq = [m for _, m in d.timed[n:] if m != "WATCHDOG=1"]
        self.assertEqual(len(seq), 2, seq)
        m = re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=(\d+)", seq[0])
        self.assertTrue(m, seq)
        # the same clock as ours (CLOCK_MONOTONIC), read in between
        usec = int(m.group(1))
        self.assertTrue(before * 1e6 - 1000 <= usec <= after * 1e6 + 1000,
                        (before, usec, after))
        self.assertRegex(seq[1], r"^READY=1\nSTATUS=serving 0 households "
                         r"in 4 groups; queue 0 urgent, 0 normal$")
        self.assertTrue(d.wait_log("configuration reloaded"))

        # the watchdog goes on after the reload
        n = len(d.timed)
        d.collect(0.5)
        self.assertGreaterEqual(
            sum(m == "WATCHDOG=1" for _, m in d.timed[n:]), 1)

        # SIGTERM: STOPPING=1, exit 0, nothing but pings after it
        n = len(d.timed)
        rc = d.stop_collecting()
        self.assertEqual(rc, 0, d.log_tail())
        seq = [m for _, m in d.timed[n:] if m != "WATCHDOG=1"]
        self.assertEqual(seq, ["STOPPING=1"], d.notify_msgs)

    def test_failed_reload_is_framed_too(self):
        d = self.notify_daemon(watchdog_pid="self")
        d.start()
        good = d.config_text
        d.write_config(good + "\n[api]\nmax_body = lots\n")
        n = len(d.timed)
        d.signal(signal.SIGHUP)
        self.assertTrue(d.collect_until(
            lambda: any("READY=1" in lines(m) for _, m in d.timed[n:])),
            d.notify_msgs)
        seq = [m for _, m in d.timed[n:] if m != "WATCHDOG=1"]
        self.assertEqual([lines(m)[0] for m in seq],
                         ["RELOADING=1", "READY=1"])
        self.assertTrue(d.wait_log("keeping the running configuration"))
        self.assertTrue(d.running())
        self.assertStatus(d.get("/v1/status"), 200)
        rc = d.stop_collecting()
        self.assertEqual(rc, 0)

    def test_watchdog_pid_of_another_process(self):
        # systemd names the main process; a child that inherited the
        # variables must not ping for it
        d = self.notify_daemon(watchdog_pid="other")
        d.start()
        d.collect(0.7)
        self.assertNotIn("WATCHDOG=1", d.notify_msgs)
        self.assertNotIn("watchdog enabled", d.log())
        self.assertEqual(d.stop_collecting(), 0)

    def test_watchdog_pid_unset(self):
        # without WATCHDOG_PID, WATCHDOG_USEC alone enables the watchdog
        d = self.notify_daemon(watchdog_pid=None)
        d.start()
        d.collect(0.7)
        self.assertGreaterEqual(d.notify_msgs.count("WATCHDOG=1"), 2,
                                d.notify_msgs)
        self.assertEqual(d.stop_collecting(), 0)

    def test_failed_start_is_never_ready(self):
        d = self.notify_daemon(config=(
            "[daemon]\nstate_dir = @TMP@/state\n"
            "[api]\nsocket = @TMP@/api.sock\nsocket_mode = 0999\n"))
        rc = d.run_to_exit()
        self.assertEqual(rc, 1, d.log_tail())
        self.assertEqual(d.notify_msgs, [])

    def test_check_config_sends_nothing(self):
        d = self.notify_daemon()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(d.notify_path)
        d.notify_sock = sock
        env = dict(os.environ, NOTIFY_SOCKET=d.notify_path,
                   WATCHDOG_USEC=str(WATCHDOG_USEC))
        p = subprocess.run([LOAXAD, "--config", d.config_path,
                            "--check-config"], capture_output=True,
                           text=True, env=env, timeout=30,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p)
        sock.setblocking(False)
        with self.assertRaises(BlockingIOError):
            sock.recv(4096)


# ---- system calls against the unit's filter ---------------------------

def syscall_groups():
    """{"@group": [members]} from systemd-analyze syscall-filter."""
    out = subprocess.run([SYSTEMD_ANALYZE, "syscall-filter"],
                         capture_output=True, text=True, timeout=60,
                         check=True).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = line.strip()
            groups[cur] = []
        elif cur and line.startswith(" ") and line.strip() and \
                not line.strip().startswith("#"):
            groups[cur].append(line.strip())
        elif not line.strip():
            cur = None
    return groups


def expand(groups, name, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for m in groups[name]:
        if not m.startswith("@"):
            out.add(m)
        elif m not in seen:
            seen.add(m)
            out |= expand(groups, m, seen)
    return out


@unittest.skipUnless(UNIT, "MESON_BUILD_ROOT not set")
@unittest.skipUnless(SYSTEMD_ANALYZE, "systemd-analyze not installed")
@unittest.skipUnless(shutil.which("strace"), "strace not installed")
class SyscallFilter(DaemonCase):
    """loaxad's system calls while it starts, serves, reloads and stops
    (traced with strace) all pass the unit's SystemCallFilter=. Sending to
    providers is not exercised here (curl's calls are the same kinds)."""

    def test_calls_allowed(self):
        with open(UNIT, encoding="utf-8") as f:
            entries = parse_unit(f.read())
        filt = unit_values(entries, "SystemCallFilter")
        groups = syscall_groups()
        allowed = set()
        for f in filt:
            names = f.lstrip("~").split()
            s = set()
            for n in names:
                s |= expand(groups, n) if n.startswith("@") else {n}
            allowed = allowed - s if f.startswith("~") else allowed | s

        d = self.daemon(start=False)
        trace = os.path.join(d.tmp, "strace.out")
        real = LOAXAD

        # strace attaches to a shell that then execs loaxad, so loaxad
        # keeps its pid and gets the signals itself. LeakSanitizer cannot
        # run under ptrace: off for this run of a sanitizer build.
        wrapper = os.path.join(d.tmp, "traced-loaxad")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nstrace -f -qq -o "%s" -p $$ 2>"%s.err" &\n'
                    'i=0; while [ ! -s "%s" ] && [ $i -lt 50 ]; do '
                    'sleep 0.1; i=$((i+1)); done\n'
                    'ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}'
                    'detect_leaks=0"\nexport ASAN_OPTIONS\n'
                    'exec "%s" "$@"\n' % (trace, trace, trace, real))
        os.chmod(wrapper, 0o755)
        harness_loaxad = harness.LOAXAD
        harness.LOAXAD = wrapper
        try:
            d.start()
        finally:
            harness.LOAXAD = harness_loaxad
        if not os.path.exists(trace) or os.path.getsize(trace) == 0:
            d.stop()
            err = open(trace + ".err").read() if os.path.exists(
                trace + ".err") else ""
            self.skipTest("strace could not attach (ptrace not allowed?) "
                          "%s" % err.strip())
        self.assertStatus(d.get("/v1/status"), 200)
        self.assertStatus(d.post("/v1/households", {
            "group": "2A", "name": "Nguyễn Văn An",
            "phones": ["0912345678"]}), 201)
        d.signal(signal.SIGHUP)
        self.assertTrue(d.wait_log("configuration reloaded"))
        self.assertEqual(d.stop(), 0)
        time.sleep(0.3)      # strace writes its last lines

        used = set()
        pid = None
        with open(trace, errors="replace") as f:
            for line in f:
                m = re.match(r"^(\d+)\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]",
                             line)
                if not m:
                    continue
                # calls from the exec of loaxad on (not the shell's)
                if pid is None:
                    if m.group(2) == "execve" and real in line:
                        pid = m.group(1)
                    continue
                used.add(m.group(2))
        self.assertIsNotNone(pid, "no execve of loaxad in the trace")
        self.assertIn("epoll_wait", used)       # the trace is real
        self.assertIn("bind", used)
        denied = used - allowed
        if os.geteuid() == 0:
            # SQLite chowns its -wal/-shm/-journal to the database's owner
            # only when running as root; the unit runs as loaxa
            denied -= {"fchown"}
        self.assertEqual(denied, set(),
                         "loaxad needs system calls the unit's "
                         "SystemCallFilter= denies (EPERM)")


if __name__ == "__main__":
    harness.main()
