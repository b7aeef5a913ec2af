#!/usr/bin/env python3
"""loaxa's broadcast commands end to end: invite, notify, show, watch (through
a pipe and in a pseudo-terminal) and report (tables, --not-reached, --csv).

Two kinds of server:
  * a fake loaxad (a scripted HTTP server on a unix socket, here), whose
    answers a test chooses one by one: exact lines, pending and
    materialising waves, errors, paging, sorting;
  * the real loaxad sending through the real loaxa-sandbox over loopback.

Needs LOAXA, LOAXAD and LOAXA_SANDBOX (else exits 77). Python 3 stdlib only.
"""

import csv
import datetime
import fcntl
import io
import json
import os
import pty
import re
import select
import signal
import socketserver
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import unicodedata
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

for _name in ("LOAXA", "LOAXAD", "LOAXA_SANDBOX"):
    if not os.environ.get(_name):
        print("%s is not set: skipping (exit 77)" % _name)
        sys.exit(77)

import harness  # noqa: E402
import sandbox as sbx  # noqa: E402

LOAXA = os.environ["LOAXA"]
SAMPLE = os.path.join(harness.SRCDIR, "etc", "households.sample.csv")
UTC7 = datetime.timezone(datetime.timedelta(hours=7))
BOM = "\ufeff"
LINE_RE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d broadcast (\d+)( \[(\w+)\])?: "
    r"(\d+)/(\d+) \((\d+)%\) (.*) rate (\S+) eta (\S+)$")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def now_ms():
    return int(time.time() * 1000)


def width(s):
    """Terminal columns of s: combining marks take none."""
    return sum(0 if unicodedata.combining(c) else 1 for c in s)


# ---------------------------------------------------------------------------
# A fake loaxad

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.fake.handle(self, "GET")

    def do_POST(self):
        self.server.fake.handle(self, "POST")


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class FakeLoaxad:
    """Answers GET /v1/broadcasts/{id} from a script (one answer per
    request, the last one repeated), the deliveries from a list in pages of
    page_size, and /v1/groups. Records every request."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "fake.sock")
        self.script = []
        self.deliveries = []
        self.deliveries_extra = {}      # e.g. {"pruned": True}
        self.page_size = 1000
        self.groups = [{"code": "2A", "name": "Nhóm dân cư 2A"},
                       {"code": "dong-tan", "name": "Nhóm dân cư Đông Tân"}]
        self.requests = []
        self.lock = threading.Lock()
        self.server = _UnixServer(self.path, _Handler)
        self.server.fake = self
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _reply(self, h, status, body):
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    def handle(self, h, method):
        url = urllib.parse.urlsplit(h.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        with self.lock:
            self.requests.append((method, url.path, q))
            n_get = sum(1 for m, p, _ in self.requests
                        if m == "GET" and re.fullmatch(
                            r"/v1/broadcasts/\d+", p))
        if method != "GET":
            return self._reply(h, 405, {"error": {
                "code": "method_not_allowed", "message": "no"}})
        if url.path == "/v1/groups":
            return self._reply(h, 200, {"groups": self.groups})
        m = re.fullmatch(r"/v1/broadcasts/(\d+)(/deliveries)?", url.path)
        if not m or not self.script:
            return self._reply(h, 404, {"error": {
                "code": "not_found", "message": "no such broadcast"}})
        if m.group(2):
            after = int(q.get("after", 0))
            rows = [d for d in self.deliveries if d["id"] > after]
            page = rows[:self.page_size]
            nxt = page[-1]["id"] if len(rows) > len(page) else None
            return self._reply(h, 200, dict({"deliveries": page,
                                             "next_after": nxt},
                                            **self.deliveries_extra))
        step = self.script[min(n_get, len(self.script)) - 1]
        if callable(step):
            step = step()
        if isinstance(step, tuple):
            return self._reply(h, step[0], step[1])
        return self._reply(h, 200, step)

    def broadcast_gets(self):
        return sum(1 for m, p, _ in self.requests
                   if m == "GET" and re.fullmatch(r"/v1/broadcasts/\d+", p))


STATUSES = ("queued", "sending", "sent", "delivered", "read", "failed",
            "expired", "cancelled", "skipped")


def bcast(state="active", waves=None, title="Cúp điện", **counts):
    """A broadcast answer with the given counts."""
    c = {s: counts.get(s, 0) for s in STATUSES}
    total = sum(c.values())
    final = total - c["queued"] - c["sending"]
    if waves is None:
        waves = [{"seq": 0, "send_at_ms": now_ms() - 5000,
                  "expires_ms": now_ms() + 86400000, "state": "ready",
                  "total": total}]
    by_group = {"2A": {k: v for k, v in c.items() if v}}
    return {"id": 7, "kind": "notice", "priority": "normal",
            "state": state, "title": title, "counts": c,
            "progress": {"total": total, "final": final,
                         "percent": final * 100.0 / total if total else 0},
            "waves": waves, "by_group": by_group,
            "by_channel": {"zns": {k: v for k, v in c.items() if v}}}


def wave(seq, state, send_at_ms, total=0):
    return {"seq": seq, "send_at_ms": send_at_ms,
            "expires_ms": send_at_ms + 86400000, "state": state,
            "total": total}


def delivery(i, name, address, phone, status, group="2A", wave_seq=0,
             household=None, channel="zns", code=None, message=None):
    return {"id": i, "wave": wave_seq, "household_id": household or i,
            "name": name, "group": group, "address": address,
            "phone": phone, "status": status, "channel": channel,
            "recipient": phone, "attempts": 1, "possible_duplicate": False,
            "msg_id": None, "code": code, "message": message,
            "sms_segments": None, "updated_ms": 0, "sent_ms": None,
            "final_ms": None}


def run_pty(args, cols=80, rows=24, timeout=60, on_output=None):
    """Run args in a pseudo-terminal of the given size; (exit code, all
    output as text). on_output(text so far, pid) is called as output comes
    and may signal the process."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.environ["TERM"] = "xterm"
            os.execv(args[0], args)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ,
                struct.pack("HHHH", rows, cols, 0, 0))
    os.kill(pid, signal.SIGWINCH)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                out += data
                if on_output:
                    on_output(out.decode("utf-8", "replace"), pid)
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


def screen_lines(text):
    """The block's lines as drawn (ANSI sequences and CRs removed)."""
    return [ANSI_RE.sub("", line).replace("\r", "")
            for line in text.split("\n")]


class FakeCase(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="loaxa-fake-", dir="/tmp")
        self.fake = FakeLoaxad(self.tmp)
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        self.fake.close()
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cli(self, *args, timeout=60):
        return subprocess.run([LOAXA, "--socket", self.fake.path] +
                              [str(a) for a in args], capture_output=True,
                              text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def ok(self, *args):
        p = self.cli(*args)
        self.assertEqual(p.returncode, 0, "loaxa %s -> %d\nstdout: %s\n"
                         "stderr: %s" % (args, p.returncode, p.stdout,
                                         p.stderr))
        return p

    def no_writes(self):
        self.assertEqual([r for r in self.fake.requests if r[0] != "GET"],
                         [], "watch/report must only read")


class TestWatchFake(FakeCase):

    def test_pipe_lines_and_summary(self):
        self.fake.script = [
            bcast(queued=10),
            bcast(sent=5, queued=4, sending=1),
            bcast(sent=5, queued=4, sending=1),       # no change: no line
            bcast(sent=9, failed=1, waves=[
                wave(0, "ready", now_ms() - 5000, 10),
                wave(1, "pending", now_ms() + 3 * 86400000)]),
        ]
        p = self.ok("watch", 7, "--interval", "0.2")
        lines = p.stdout.splitlines()
        prog = [LINE_RE.match(x) for x in lines if LINE_RE.match(x)]
        self.assertEqual(len(prog), 3, p.stdout)
        self.assertEqual(prog[0].group(4, 5, 6), ("0", "10", "0"))
        self.assertEqual(prog[0].group(7), "sent 0 queued 10 sending 0")
        self.assertEqual(prog[0].group(8, 9), ("—", "—"))
        self.assertEqual(prog[1].group(7), "sent 5 queued 4 sending 1")
        self.assertEqual(prog[2].group(4, 5, 6), ("10", "10", "100"))
        self.assertEqual(prog[2].group(7),
                         "sent 9 failed 1 queued 0 sending 0")
        self.assertEqual(prog[2].group(9), "0s")
        self.assertIsNone(prog[0].group(2))           # active: no [state]
        self.assertIn("broadcast 7: Cúp điện (active): 10 of 10 "
                      "deliveries final", p.stdout)
        self.assertIn("Deliveries by status:", p.stdout)
        self.assertIn("By group:", p.stdout)
        self.assertRegex(p.stdout, r"next wave \(reminder\) at "
                         r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
        self.assertIn("loaxa report 7 --not-reached", p.stdout)
        self.assertIn("loaxa retry 7", p.stdout)
        self.assertNotIn("\x1b", p.stdout)
        self.assertEqual(self.fake.broadcast_gets(), 4)
        self.no_writes()

    def test_rate_and_eta(self):
        state = {"sent": 0}

        def step():
            state["sent"] = min(state["sent"] + 2, 40)
            return bcast(sent=state["sent"], queued=40 - state["sent"])
        self.fake.script = [step]
        p = self.ok("watch", 7, "--interval", "0.25")
        rates = [LINE_RE.match(x).group(8, 9) for x in p.stdout.splitlines()
                 if LINE_RE.match(x)]
        # 2 per answer, one answer per 0.25 s or more (a loaded machine
        # answers later): at most 8/s once the window has samples
        known = [(float(r[:-2]), e) for r, e in rates if r != "—"]
        self.assertTrue(known, p.stdout)
        for r, e in known[2:]:
            self.assertGreater(r, 1.0, p.stdout)
            self.assertLess(r, 9.0, p.stdout)
            self.assertRegex(e, r"^\d+s$", p.stdout)

    def test_materialising_and_due_waves_keep_watching(self):
        t = now_ms()
        self.fake.script = [
            # nothing queued yet, but the first wave is being prepared
            bcast(waves=[wave(0, "materialising", t - 1000)]),
            # a wave whose time has come, not started yet
            bcast(sent=3, waves=[wave(0, "ready", t - 1000, 3),
                                 wave(1, "pending", t - 500)]),
            bcast(sent=6, waves=[wave(0, "ready", t - 1000, 3),
                                 wave(1, "ready", t - 500, 3)]),
        ]
        p = self.ok("watch", 7, "--interval", "0.2")
        self.assertEqual(self.fake.broadcast_gets(), 3, p.stdout)
        self.assertIn("6/6 (100%)", p.stdout)
        self.assertNotIn("next wave", p.stdout)

    def test_future_first_wave_ends_at_once(self):
        self.fake.script = [bcast(state="scheduled", waves=[
            wave(0, "pending", now_ms() + 3600 * 1000)])]
        p = self.ok("watch", 7, "--interval", "0.2")
        self.assertEqual(self.fake.broadcast_gets(), 1)
        self.assertIn("broadcast 7 [scheduled]: 0/0 (0%)", p.stdout)
        self.assertRegex(p.stdout, r"next wave at \d{4}-")
        self.assertNotIn("(reminder)", p.stdout)

    def test_done_and_cancelled_end(self):
        for state in ("done", "cancelled"):
            with self.subTest(state=state):
                self.fake.requests.clear()
                self.fake.script = [bcast(state=state, sent=2, queued=1)]
                p = self.ok("watch", 7)
                self.assertIn("[%s]" % state, p.stdout)
                self.assertEqual(self.fake.broadcast_gets(), 1)

    def test_paused_keeps_watching(self):
        self.fake.script = [bcast(state="paused", queued=3),
                            bcast(state="paused", queued=3),
                            bcast(state="active", sent=3)]
        p = self.ok("watch", 7, "--interval", "0.2")
        self.assertIn("broadcast 7 [paused]: 0/3 (0%)", p.stdout)
        self.assertEqual(self.fake.broadcast_gets(), 3)
        self.assertEqual(len([x for x in p.stdout.splitlines()
                              if LINE_RE.match(x)]), 2, p.stdout)

    def test_awaiting_approval_keeps_watching(self):
        t = now_ms()
        waiting = bcast(state="awaiting_approval",
                        waves=[wave(0, "pending", t - 1000)])
        self.fake.script = [waiting, waiting, bcast(sent=3)]
        p = self.ok("watch", 7, "--interval", "0.2")
        self.assertEqual(self.fake.broadcast_gets(), 3, p.stdout)
        lines = p.stdout.splitlines()
        wait = [x for x in lines if "approval" in x]
        self.assertEqual(len(wait), 1, p.stdout)      # once, not per look
        self.assertRegex(wait[0], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
                         r"broadcast 7 \[awaiting_approval\]: nothing is "
                         r"sent: waiting for a second official's approval: "
                         r"loaxa approve 7$")
        self.assertIn("3/3 (100%)", p.stdout)
        self.assertIn("(active): 3 of 3 deliveries final", p.stdout)
        # a first wave for later does not end watch while it awaits;
        # a rejection (cancelled) does
        self.fake.requests.clear()
        self.fake.script = [bcast(state="awaiting_approval", waves=[
            wave(0, "pending", t + 3600 * 1000)]),
            bcast(state="cancelled")]
        p = self.ok("watch", 7, "--interval", "0.2")
        self.assertEqual(self.fake.broadcast_gets(), 2, p.stdout)
        self.assertIn("waiting for a second official's approval",
                      p.stdout)
        self.assertIn("(cancelled)", p.stdout)
        self.no_writes()

    def test_pty_awaiting_approval(self):
        self.fake.script = [bcast(state="awaiting_approval", waves=[
            wave(0, "pending", now_ms() - 1000)])] * 2 + [bcast(sent=1)]
        rc, out = run_pty([LOAXA, "--socket", self.fake.path, "watch", "7",
                           "--interval", "0.2"], cols=100)
        self.assertEqual(rc, 0, out)
        lines = screen_lines(out)
        self.assertIn("waiting for a second official's approval: loaxa "
                      "approve 7   (Ctrl-C stops watching)", lines, out)
        self.assertIn("broadcast 7: Cúp điện (awaiting_approval)", lines)
        self.assertIn("1/1  100%", out)

    def test_errors(self):
        p = self.cli("watch", 7)                  # empty script: 404
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("no such broadcast", p.stderr)
        self.fake.script = [bcast(queued=1),
                            (503, {"error": {"code": "unavailable",
                                             "message": "database locked"}})]
        p = self.cli("watch", 7, "--interval", "0.2")
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("database locked", p.stderr)
        for bad in ("0", "0.1", "abc", "-1", "1e3", "3601", ""):
            with self.subTest(interval=bad):
                p = self.cli("watch", 7, "--interval", bad)
                self.assertEqual(p.returncode, 2, p)
                self.assertIn("--interval", p.stderr)
        p = self.cli("watch", "x7")
        self.assertEqual(p.returncode, 2)
        p = self.cli("--socket", os.path.join(self.tmp, "none.sock"),
                     "watch", 7)
        self.assertEqual(p.returncode, 3)

    def test_interval_with_comma(self):
        self.fake.script = [bcast(sent=1)]
        self.ok("watch", 7, "--interval", "0,5")

    def test_sigint_stops_watching_only(self):
        self.fake.script = [bcast(queued=5)]
        proc = subprocess.Popen([LOAXA, "--socket", self.fake.path, "watch",
                                 "7", "--interval", "0.2"],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            first = proc.stdout.readline()
            self.assertRegex(first, LINE_RE)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("stopped watching; broadcast 7 goes on", err)
        self.assertNotIn("Deliveries by status", out)
        self.no_writes()

    def test_json_lines(self):
        self.fake.script = [bcast(queued=2), bcast(queued=2),
                            bcast(sent=2)]
        p = self.ok("--json", "watch", 7, "--interval", "0.2")
        objs = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertEqual([o["counts"]["sent"] for o in objs], [0, 2])

    def test_pty_block(self):
        title = ("Thông báo về việc thu gom rác thải sinh hoạt của các hộ "
                 "gia đình ở thôn Đông Tân")
        self.fake.script = [bcast(title=title, queued=8),
                            bcast(title=title, sent=4, queued=3, sending=1),
                            bcast(title=title, sent=7, skipped=1)]
        rc, out = run_pty([LOAXA, "--socket", self.fake.path, "watch", "7",
                           "--interval", "0.2"], cols=60)
        self.assertEqual(rc, 0, out)
        self.assertTrue(out.startswith("\x1b[?25l"), repr(out[:40]))
        self.assertIn("\x1b[?25h", out)
        self.assertEqual(out.count("\x1b[4A"), 2, repr(out))   # 2 redraws
        self.assertIn("\x1b[2K", out)
        lines = screen_lines(out)
        for line in lines[:12]:
            self.assertLessEqual(width(line), 59, line)
        bars = [x for x in lines if "░" in x or "█" in x]
        self.assertEqual(len(bars), 3, lines)
        self.assertTrue(bars[0].startswith("░" * 36), bars[0])
        self.assertIn("0/8  0%", bars[0])
        self.assertTrue(bars[2].startswith("█" * 36), bars[2])
        self.assertIn("8/8  100%", bars[2])
        self.assertIn("sent 7  failed 0  expired 0  skipped 1  queued 0  "
                      "sending 0", out)
        self.assertRegex(lines[0], r"^broadcast 7: Thông báo .*…$")
        self.assertIn("Deliveries by status:", out)

    def test_pty_sigint(self):
        self.fake.script = [bcast(queued=5)]
        sent = []

        def on_output(text, pid):
            if "eta" in text and not sent:
                sent.append(1)
                os.kill(pid, signal.SIGINT)
        rc, out = run_pty([LOAXA, "--socket", self.fake.path, "watch", "7"],
                          on_output=on_output, timeout=20)
        self.assertEqual(rc, 130, out)
        self.assertIn("\x1b[?25h", out)           # the cursor is back
        self.assertIn("stopped watching", out)
        self.no_writes()


class TestShowFake(FakeCase):

    def test_awaiting_approved_pruned(self):
        b = bcast(state="awaiting_approval", waves=[
            wave(0, "pending", now_ms() - 1000)])
        b.update(requested_by="lan", approved_by=None, approved_at=None,
                 pruned_at=None)
        self.fake.script = [b]
        p = self.ok("show", 7)
        self.assertRegex(p.stdout, r"(?m)^requested by: +lan$")
        self.assertNotIn("approved by:", p.stdout)
        self.assertNotIn("pruned at:", p.stdout)
        self.assertIn("Nothing is sent yet: waiting for a second "
                      "official's approval: loaxa approve 7\n", p.stdout)
        self.assertIn("(an official or admin other than lan approves it; "
                      "'loaxa reject 7' cancels it)", p.stdout)

        self.fake.requests.clear()
        at = 1796000000000
        b = bcast(state="done", sent=3)
        b.update(requested_by="lan", approved_by="hoa", approved_at=at,
                 pruned_at=at + 86400000)
        self.fake.script = [b]
        p = self.ok("show", 7)
        self.assertRegex(p.stdout, r"(?m)^requested by: +lan$")
        self.assertRegex(p.stdout, r"(?m)^approved by: +hoa$")
        local = datetime.datetime.fromtimestamp(at / 1000)
        self.assertRegex(p.stdout, r"(?m)^approved at: +%s" %
                         local.strftime("%Y-%m-%d %H:%M"))
        self.assertRegex(p.stdout, r"(?m)^pruned at: +\d{4}-\d\d-\d\d ")
        self.assertIn("Retention removed its deliveries", p.stdout)
        self.assertNotIn("waiting for a second", p.stdout)

    def test_deliveries_of_a_pruned_broadcast(self):
        self.fake.script = [bcast(state="done")]
        self.fake.deliveries_extra = {"pruned": True}
        p = self.ok("deliveries", 7)
        self.assertEqual(p.stdout, "")
        self.assertIn("retention", p.stderr)
        self.assertIn("loaxa show 7", p.stderr)
        self.assertNotIn("No deliveries found", p.stderr)
        p = self.ok("--json", "deliveries", 7)
        self.assertEqual(json.loads(p.stdout), {"deliveries": [],
                                                "pruned": True})


class TestReportFake(FakeCase):

    def setUp(self):
        super().setUp()
        self.fake.script = [bcast(title="Họp tổ dân cư", sent=5, failed=2,
                                  skipped=1, expired=1, queued=1)]
        self.fake.deliveries = [
            delivery(1, "Đặng Văn Hùng", "Tổ 2, thôn 2A", "+84912345678",
                     "failed", channel="sms", code="108",
                     message="Phone number is invalid"),
            delivery(2, "Dương Văn Minh", "Tổ 2, thôn 2A", "+84903555101",
                     "sent"),
            delivery(3, "Anh Thị Ba", "Tổ 10, thôn 2A", "+84977555103",
                     "skipped", channel=None, code="opted_out"),
            delivery(4, "Bùi Thị Lan", "Tổ 2, thôn 2A", "+84832555107",
                     "expired", code="expired"),
            delivery(5, "Chu Văn An", "", "+15005550006", "failed",
                     channel="sms", code="-118",
                     message="-118 Zalo account not existed"),
            delivery(6, "Lâm Văn Trung", "Tổ 1, thôn Đông Tân",
                     "+84345555303", "sent", group="dong-tan"),
            delivery(7, "Kiều Thị Uyên", "Tổ 2, thôn Đông Tân",
                     "+84817555304", "queued", group="dong-tan"),
            # failed in the first wave, reached by the reminder
            delivery(8, "Tạ Văn Việt", "Tổ 3, thôn Đông Tân",
                     "+84563555305", "failed", group="dong-tan",
                     household=20, code="500", message="boom"),
            delivery(9, "Tạ Văn Việt", "Tổ 3, thôn Đông Tân",
                     "+84563555305", "sent", group="dong-tan",
                     household=20, wave_seq=1),
            delivery(10, "Dương Văn An", "Tổ 2, thôn 2A", "+84903555111",
                     "sent"),
            delivery(11, "Giáp Văn Tú", "Tổ 2, thôn 2A", "+84903555112",
                     "sent"),
        ]
        self.fake.page_size = 3

    def test_table(self):
        p = self.ok("report", 7)
        out = p.stdout
        # every page was read
        pages = [q for m, path, q in self.fake.requests
                 if path.endswith("/deliveries")]
        self.assertEqual([q.get("after") for q in pages],
                         [None, "3", "6", "9"])
        self.assertIn("Nhóm dân cư 2A (2A): 7 deliveries", out)
        self.assertIn("Nhóm dân cư Đông Tân (dong-tan): 4 deliveries", out)
        names = [n for n in re.findall(r"^(\S+ \S+ \S+)\s", out, re.M)
                 if not n.startswith("Nhóm")]
        # by address (Tổ 2 before Tổ 10, no address last), then name
        # (Vietnamese order: Bùi < Dương An < Dương Minh < Đặng < Giáp)
        self.assertEqual(names[:7], [
            "Bùi Thị Lan", "Dương Văn An", "Dương Văn Minh",
            "Đặng Văn Hùng", "Giáp Văn Tú", "Anh Thị Ba", "Chu Văn An"],
            out)
        self.assertIn("0912 345 678", out)
        self.assertIn("+15005550006", out)
        self.assertIn("108: Phone number is invalid", out)
        self.assertIn("từ chối nhận tin", out)
        self.assertIn("hết hạn", out)
        self.assertRegex(out, r"(?m)^NAME +ADDRESS +PHONE +STATUS +CHANNEL "
                         r"+WAVE +REASON$")
        self.no_writes()

    def test_filters_are_passed(self):
        self.ok("report", 7, "--status", "failed", "--group", "Đông Tân",
                "--channel", "sms")
        q = [q for m, path, q in self.fake.requests
             if path.endswith("/deliveries")][0]
        self.assertEqual((q["status"], q["group"], q["channel"]),
                         ("failed", "Đông Tân", "sms"))

    def test_not_reached(self):
        p = self.ok("report", 7, "--not-reached")
        out = p.stdout
        self.assertEqual(out.count("Danh sách hộ chưa nhận được tin — "
                                   "Họp tổ dân cư"), 1, out)
        self.assertIn("Nhóm dân cư 2A: 4 hộ", out)
        self.assertNotIn("Đông Tân", out)      # reached, or still queued
        rows = re.findall(r"^\s*(\d+)  (.+?)  .*$", out, re.M)
        self.assertEqual([r[0] for r in rows], ["1", "2", "3", "4"], out)
        self.assertEqual([r[1].strip() for r in rows][:4], [
            "Bùi Thị Lan", "Đặng Văn Hùng", "Anh Thị Ba", "Chu Văn An"])
        self.assertRegex(out, r"Bùi Thị Lan .* 0832 555 107 +hết hạn")
        self.assertRegex(out, r"Đặng Văn Hùng .* 0912 345 678 +Phone "
                         r"number is invalid\n")
        self.assertRegex(out, r"Anh Thị Ba .* từ chối nhận tin")
        self.assertIn("Tổng cộng: 4 hộ chưa nhận được tin.", out)
        self.assertIn("Còn 1 hộ đang chờ gửi", out)

    def test_not_reached_none(self):
        self.fake.deliveries = [delivery(1, "A", "x", "+84912345678",
                                         "sent")]
        p = self.ok("report", 7, "--not-reached")
        self.assertIn("Không có hộ nào", p.stdout)

    def test_csv(self):
        p = subprocess.run([LOAXA, "--socket", self.fake.path, "report", "7",
                            "--csv"], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        raw = p.stdout
        self.assertTrue(raw.startswith(b"\xef\xbb\xbfgroup,name,address,"
                                       b"phone,status,channel,code,"
                                       b"message\r\n"), raw[:80])
        text = raw.decode("utf-8")
        rows = list(csv.reader(io.StringIO(text[1:], newline="")))
        self.assertEqual(rows[0], ["group", "name", "address", "phone",
                                   "status", "channel", "code", "message"])
        self.assertEqual(len(rows), 12)
        by_name = {r[1]: r for r in rows[1:]}
        self.assertEqual(by_name["Đặng Văn Hùng"],
                         ["2A", "Đặng Văn Hùng", "Tổ 2, thôn 2A",
                          "0912 345 678", "failed", "sms", "108",
                          "Phone number is invalid"])
        self.assertEqual(by_name["Anh Thị Ba"][7], "từ chối nhận tin")
        # no formula for Excel
        self.assertEqual(by_name["Chu Văn An"][6], "'-118")
        self.assertEqual(by_name["Chu Văn An"][7],
                         "'-118 Zalo account not existed")
        self.assertEqual(by_name["Chu Văn An"][3], "'+15005550006")

    def test_csv_not_reached(self):
        p = self.ok("report", 7, "--not-reached", "--csv")
        rows = list(csv.reader(io.StringIO(p.stdout.lstrip(BOM),
                                           newline="")))
        self.assertEqual([r[1] for r in rows[1:]], [
            "Bùi Thị Lan", "Đặng Văn Hùng", "Anh Thị Ba", "Chu Văn An"])

    def test_json(self):
        p = self.ok("--json", "report", 7, "--not-reached")
        o = json.loads(p.stdout)
        self.assertEqual(o["broadcast"], 7)
        self.assertEqual(o["pending"], 1)
        self.assertEqual([d["id"] for d in o["deliveries"]], [4, 1, 3, 5])

    def test_usage(self):
        for args in (("--status", "failed", "--not-reached"),
                     ("--csv", "--json")):
            p = self.cli("report", 7, *args)
            self.assertEqual(p.returncode, 2, p)
        self.fake.script = []
        p = self.cli("report", 7)
        self.assertEqual(p.returncode, 1, p)


# ---------------------------------------------------------------------------
# The real loaxad and loaxa-sandbox

class TestRealDaemon(harness.DaemonCase):

    def setUp(self):
        self.sb = sbx.Sandbox("--latency", "200")
        self.addCleanup(self.sb.close)
        self.sb.start()
        text = ["[broadcast]", "quiet_hours =", "", "[route]",
                "chain = zns, sms", "",
                self.sb.channel_config("zns", "zns", rate="5",
                                       template_data="name={name}, "
                                       "title={title}"),
                self.sb.channel_config("sms", "esms", rate="5")]
        self.d = self.daemon(extra="\n".join(text))
        self.ok("import", SAMPLE)
        self.ok("household", "add", "--group", "2A", "--name",
                "Người Không Zalo", "--phone", "0912000118", "--address",
                "Tổ 9, thôn 2A")
        self.ok("household", "add", "--group", "2B", "--name", "Số Sai",
                "--phone", "0912000108", "--address", "Tổ 9, thôn 2B")
        h = json.loads(self.ok("--json", "household", "add", "--group",
                               "2B", "--name", "Ông Từ Chối", "--phone",
                               "0912777777").stdout)
        self.ok("opt-out", h["id"])

    def ok(self, *args, timeout=120):
        p = self.d.cli(*args, timeout=timeout)
        self.assertEqual(p.returncode, 0, "loaxa %s -> %d\nstdout: %s\n"
                         "stderr: %s" % (args, p.returncode, p.stdout,
                                         p.stderr))
        return p

    def created_id(self, p):
        m = re.search(r"^created (?:urgent )?(?:notice|meeting) (\d+)$",
                      p.stdout, re.M)
        self.assertTrue(m, p.stdout)
        return int(m.group(1))

    def test_notify_watch_show_report(self):
        p = self.ok("notify", "--title", "Cúp điện", "--body",
                    "Mai cúp điện từ 8h đến 11h.", "--all")
        self.assertIn("loaxa watch", p.stdout)
        bid = self.created_id(p)
        t0 = time.monotonic()
        p = self.ok("watch", bid)
        took = time.monotonic() - t0
        lines = [LINE_RE.match(x) for x in p.stdout.splitlines()
                 if LINE_RE.match(x)]
        self.assertGreaterEqual(len(lines), 3, p.stdout)  # ~9 s at 5/s
        self.assertGreater(took, 3, p.stdout)
        last = lines[-1]
        self.assertEqual(last.group(4, 5, 6), ("43", "43", "100"), p.stdout)
        self.assertIn("sent 41 failed 1 skipped 1 queued 0 sending 0",
                      last.group(7))
        # the rate was measured: about 5 a second (2 channels at 5/s, but
        # nearly all go by ZNS)
        rates = [float(m.group(8)[:-2]) for m in lines[1:-1]
                 if m.group(8) != "—"]
        self.assertTrue(rates, p.stdout)
        self.assertTrue(all(1 < r < 15 for r in rates), rates)
        self.assertIn("Deliveries by status:", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^2B +10 +1 +1 +12$")
        self.assertIn("loaxa report %d --not-reached" % bid, p.stdout)

        b = json.loads(self.ok("--json", "show", bid).stdout)
        self.assertEqual(b["state"], "done")
        self.assertEqual(b["counts"]["failed"], 1)

        p = self.ok("report", bid, "--not-reached")
        out = p.stdout
        self.assertIn("Danh sách hộ chưa nhận được tin — Cúp điện", out)
        self.assertIn("Nhóm dân cư 2B: 2 hộ", out)
        self.assertRegex(out, r"Số Sai +Tổ 9, thôn 2B +0912 000 108 +\S")
        self.assertRegex(out, r"Ông Từ Chối +0912 777 777 +từ chối nhận "
                         r"tin")
        self.assertNotIn("Người Không Zalo", out)    # reached by SMS
        self.assertIn("Tổng cộng: 2 hộ chưa nhận được tin.", out)

        p = self.ok("report", bid)
        self.assertIn("Nhóm dân cư Đông Tân (dong-tan): 10 deliveries",
                      p.stdout)
        self.assertRegex(p.stdout, r"Người Không Zalo +Tổ 9, thôn 2A +"
                         r"0912 000 118 +sent +sms")

        p = subprocess.run([LOAXA, "--socket", self.d.socket_path,
                            "report", str(bid), "--csv"],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith(b"\xef\xbb\xbf"))
        rows = list(csv.reader(io.StringIO(
            p.stdout.decode("utf-8").lstrip(BOM), newline="")))
        self.assertEqual(rows[0][:4], ["group", "name", "address", "phone"])
        self.assertEqual(len(rows), 44)
        row = [r for r in rows if r[1] == "Nguyễn Văn An"][0]
        self.assertEqual(row[:6], ["2A", "Nguyễn Văn An",
                                   "Tổ 1, thôn 2A, xã Đông Hà",
                                   "0912 345 678", "sent", "zns"])
        row = [r for r in rows if r[1] == "Số Sai"][0]
        self.assertEqual(row[4:6], ["failed", "sms"])
        self.assertTrue(row[7])                    # the provider's message

    def test_invite_watch_pty_and_reminder(self):
        start = datetime.datetime.now(UTC7) + datetime.timedelta(days=10)
        p = self.ok("invite", "--title", "Họp tổ dân cư", "--at",
                    start.strftime("19:30 %d/%m/%Y"), "--place",
                    "Nhà văn hóa thôn 2A", "--group", "2A", "--remind",
                    "1 day before")
        bid = self.created_id(p)
        rc, out = run_pty([LOAXA, "--socket", self.d.socket_path, "watch",
                           str(bid)], cols=100, timeout=60)
        self.assertEqual(rc, 0, out)
        self.assertIn("\x1b[4A", out)
        self.assertIn("\x1b[?25h", out)
        lines = screen_lines(out)
        self.assertTrue(any("11/11  100%" in x for x in lines), out)
        self.assertIn("sent 11  failed 0  expired 0  skipped 0  queued 0",
                      out)
        self.assertRegex(out, r"next wave \(reminder\) at \d{4}-")
        b = json.loads(self.ok("--json", "show", bid).stdout)
        self.assertEqual([w["state"] for w in b["waves"]],
                         ["done", "pending"])

    def test_awaiting_approval(self):
        p = self.ok("notify", "--urgent", "--title", "Cảnh báo lũ",
                    "--body", "Nước sông dâng cao.", "--all")
        bid = self.created_id(p)
        self.assertRegex(p.stdout, r"(?m)^state: +awaiting_approval$")
        self.assertIn("waiting for a second official's approval: loaxa "
                      "approve %d\n" % bid, p.stdout)
        me = self.d.get("/v1/me").body["user"]["name"]
        p = self.ok("show", bid)
        self.assertRegex(p.stdout, r"(?m)^requested by: +%s$" %
                         re.escape(me))
        self.assertIn("loaxa approve %d" % bid, p.stdout)
        # watch says why nothing moves, and keeps watching
        proc = subprocess.Popen([LOAXA, "--socket", self.d.socket_path,
                                 "watch", str(bid), "--interval", "0.2"],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            first = proc.stdout.readline()
            self.assertIn("[awaiting_approval]: nothing is sent: waiting "
                          "for a second official's approval: loaxa "
                          "approve %d" % bid, first)
            time.sleep(1.0)
            self.assertIsNone(proc.poll())
            # a second official approves: it goes, and watch follows it
            r = self.d.post("/v1/users", {"name": "hoa",
                                          "role": "official"})
            self.assertEqual(r.status, 201, r)
            r = self.d.post("/v1/users/hoa/tokens", {"label": "t"})
            self.assertEqual(r.status, 201, r)
            r = self.d.post("/v1/broadcasts/%d/approve" % bid, headers={
                "Authorization": "Bearer " + r.body["token"]})
            self.assertEqual(r.status, 200, r)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("(done): 43 of 43 deliveries final", out)
        p = self.ok("show", bid)
        self.assertRegex(p.stdout, r"(?m)^approved by: +hoa$")
        self.assertRegex(p.stdout, r"(?m)^approved at: +\d{4}-")
        self.assertNotIn("waiting for a second", p.stdout)

    def test_field_errors_are_printed_once(self):
        for args, field in (
                (("household", "add", "--group", "2A", "--name", "Bàn",
                  "--phone", "028 3829 1234"), "phones[0]"),
                (("user", "add", "lan", "--role", "manager", "--group",
                  "9Z"), "groups[0]")):
            with self.subTest(args=args):
                p = self.d.cli(*args)
                self.assertEqual(p.returncode, 1, p)
                lines = p.stderr.splitlines()
                self.assertEqual(lines[0], "loaxa: 1 field is invalid",
                                 p.stderr)
                self.assertEqual(len([x for x in lines if field in x]), 1,
                                 p.stderr)
                self.assertTrue(lines[1].startswith("  %s: " % field),
                                p.stderr)

    def test_sigint_leaves_the_broadcast_going(self):
        p = self.ok("notify", "--title", "Cúp nước", "--body", "Mai cúp "
                    "nước.", "--all")
        bid = self.created_id(p)
        proc = subprocess.Popen([LOAXA, "--socket", self.d.socket_path,
                                 "watch", str(bid)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            self.assertRegex(proc.stdout.readline(), LINE_RE)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 130, err)
        b = json.loads(self.ok("--json", "show", bid).stdout)
        self.assertIn(b["state"], ("active", "done"))
        self.assertEqual(b["counts"]["cancelled"], 0)
        # and it finishes by itself
        p = self.ok("watch", bid, "--interval", "0.5")
        self.assertIn("(done)", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
