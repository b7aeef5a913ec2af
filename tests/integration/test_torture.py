#!/usr/bin/env python3
"""Torture tests, short versions for CI: the real loaxad sending through the
real loaxa-sandbox while its world breaks.

1. A provider outage (refused connections, then 503, then 429): the
   circuit breaker keeps the request rate down to a few probes, nothing
   fails or expires, everything is sent after recovery.
2. A full disk under the state directory (a small tmpfs filled up): writes
   get 503 `unavailable`, reads go on, nothing acknowledged is lost, and
   all is well once space is freed.
3. A read-only database file (chattr +i): loaxad refuses to start with a
   clear message, and starts and finishes the job once it is writable.
4. The database locked by another program (a held BEGIN IMMEDIATE): writes
   get 503 `unavailable` ("locked"), reads go on, sending resumes after.

Cases 2 and 3 need root (mount, chattr); without them they are skipped with
the reason. Needs LOAXAD, LOAXA, LOAXA_SANDBOX and LOAXA_SRCDIR (else exits
77). Stdlib only. Whole file: well under 90 s.
"""

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

for _name in ("LOAXAD", "LOAXA", "LOAXA_SANDBOX", "LOAXA_SRCDIR"):
    if not os.environ.get(_name):
        print("%s is not set: skipping (exit 77)" % _name)
        sys.exit(77)

import sandbox as sbx  # noqa: E402

sbx.require_env()

import test_broadcast as tb  # noqa: E402

# Delivery statuses that are final and bad.
BAD = ("failed", "expired", "cancelled")


def run(*argv):
    """(returncode, stdout+stderr) of a command; never raises."""
    try:
        p = subprocess.run(list(argv), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, str(e)
    return p.returncode, p.stdout.decode("utf-8", "replace").strip()


class TortureCase(tb.BroadcastCase):

    def no_loss(self, d, bid, n):
        """The broadcast still has its n deliveries, none of them failed,
        expired or cancelled; its counts."""
        b = self.bcast(d, bid)
        self.assertEqual(b["progress"]["total"], n, b)
        for k in BAD:
            self.assertEqual(b["counts"].get(k, 0), 0,
                             "%s deliveries: %r" % (k, b["counts"]))
        return b["counts"]

    def all_sent(self, d, bid, n, timeout):
        b = self.wait_done(d, bid, timeout)
        self.assertEqual(b["counts"]["sent"], n, b["counts"])
        return b

    def assertUnavailable(self, resp, word):
        err = self.assertError(resp, 503, "unavailable")
        self.assertIn(word, err["message"].lower(), resp)
        return err

    def assertUp(self, d):
        self.assertTrue(d.running(), "loaxad exited (%r); log ends:\n%s"
                        % (d.proc.poll(), d.log_tail()))


# ---------------------------------------------------------------------------

class TestOutage(TortureCase):
    """Refused connections for ~6 s, 503 for ~4 s, 429 (Retry-After: 1)
    for ~3 s, then normal."""

    N = 100
    PHASES = [("refuse", {"mode": "refuse"}, 6.0),
              ("503", {"mode": "503", "retry_after": 1}, 4.0),
              ("429", {"mode": "429", "retry_after": 1}, 3.0)]
    MAX_PER_SECOND = 10

    def test_outage_breaker_and_recovery(self):
        sb = self.sandbox()
        # rate 200/s: the rate limit is not what keeps the requests down
        # during the outage, the breaker is. At most 4 in flight so that
        # the first burst before the breaker opens stays small.
        d = self.start(sb, [("zns", "zns", {
            "rate": "200", "max_in_flight": "4",
            "breaker_failures": "3", "breaker_cooldown": "2s"})],
            retry_initial="1s", retry_max="2s")
        self.import_phones(d, "2A", tb.phone_range("0912", 200000, self.N))

        spans = {}          # phase -> (start, end) wall seconds
        states = set()
        first = True
        bid = None
        for name, rule, secs in self.PHASES:
            r = dict(rule, provider="zns", for_ms=int((secs + 5) * 1000))
            t0 = time.time()
            sb.behaviour(r)
            if first:
                bid = self.create(d, {
                    "kind": "notice", "title": "Cúp nước",
                    "body": "Mai cúp nước cả ngày.", "groups": ["2A"]})["id"]
                first = False
            end = time.monotonic() + secs
            while time.monotonic() < end:
                self.assertUp(d)
                states.add(self.chan_status(d, "zns")["state"])
                self.no_loss(d, bid, self.N)
                time.sleep(0.1)
            spans[name] = (t0, time.time())
        sb.clear_behaviour()
        t_recover = time.time()

        stats = sb.stats()
        per_sec = [p for p in stats["per_second"] if p["provider"] == "zns"]
        during = {}
        for name, (a, z) in spans.items():
            during[name] = [(p["t"], p["n"]) for p in per_sec
                            if int(a) <= p["t"] <= int(z)]
        accepted = sum(p["ok"] for p in per_sec if p["t"] < int(t_recover))
        # nothing got through the outage
        self.assertEqual(accepted, 0, per_sec)
        self.assertEqual(stats["messages"]["zns"], 0, stats)
        # the breaker kept loaxad to a few probes a second
        worst = max((n for _, n in during["refuse"]), default=0)
        self.assertLessEqual(
            worst, self.MAX_PER_SECOND,
            "requests per second while refused: %r" % during["refuse"])
        total_refuse = sum(n for _, n in during["refuse"])
        self.assertLess(total_refuse, self.N // 2,
                        "requests while refused: %r" % during["refuse"])
        for name in ("503", "429"):
            worst = max((n for _, n in during[name]), default=0)
            self.assertLessEqual(
                worst, self.MAX_PER_SECOND,
                "requests per second during the %s phase: %r"
                % (name, during[name]))
        self.assertIn("circuit_open", states,
                      "channel states seen during the outage: %r" % states)
        # after recovery: all 100 sent, none failed or expired
        self.all_sent(d, bid, self.N, 40)
        self.no_loss(d, bid, self.N)
        self.assertEqual(self.chan_status(d, "zns")["state"], "ok")
        got = {m["to"] for m in sb.messages(provider="zns", status="ok")}
        self.assertEqual(got, {tb.intl(p) for p in
                               tb.phone_range("0912", 200000, self.N)})
        print("\noutage: per-second zns requests: %s"
              % {k: v for k, v in during.items()}, file=sys.stderr)


class TestRateLimited(TortureCase):
    """429 with Retry-After alone (no breaker opens): the limit is the
    provider account's, so the whole channel waits, not only the message
    that got the answer; then everything goes through."""

    N = 60

    def test_429_holds_the_channel(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {
            "rate": "200", "max_in_flight": "4",
            "breaker_failures": "1000"})],
            retry_initial="1s", retry_max="2s")
        self.import_phones(d, "2A", tb.phone_range("0912", 210000, self.N))
        secs = 4.0
        sb.behaviour({"provider": "zns", "mode": "429", "retry_after": 1,
                      "for_ms": int((secs + 5) * 1000)})
        t0 = time.time()
        bid = self.create(d, {
            "kind": "notice", "title": "Cúp điện",
            "body": "Mai cúp điện buổi sáng.", "groups": ["2A"]})["id"]
        states = set()
        end = time.monotonic() + secs
        while time.monotonic() < end:
            self.assertUp(d)
            states.add(self.chan_status(d, "zns")["state"])
            time.sleep(0.1)
        t1 = time.time()
        sb.clear_behaviour()
        per_sec = [p for p in sb.stats()["per_second"]
                   if p["provider"] == "zns" and int(t0) <= p["t"] <= int(t1)]
        total = sum(p["n"] for p in per_sec)
        # without the hold: 200/s for 4 s. With it: the first few in
        # flight, then about one probe per Retry-After.
        self.assertLessEqual(total, 20, "requests during the 429s: %r"
                             % per_sec)
        self.assertIn("rate_limited", states, states)
        self.all_sent(d, bid, self.N, 40)
        self.no_loss(d, bid, self.N)
        self.assertEqual(self.chan_status(d, "zns")["state"], "ok")


# ---------------------------------------------------------------------------

class TestFullDisk(TortureCase):
    """The state directory on an 8 MiB tmpfs, filled up while sending.
    (TestFullDiskSmall: the same on 2 MiB.)"""

    N = 40
    SIZE = "8m"

    def mount_tmpfs(self, d):
        rc, out = run("mount", "-t", "tmpfs", "-o", "size=" + self.SIZE,
                      "loaxa-torture", d.state_dir)
        if rc != 0:
            self.skipTest("cannot mount a tmpfs (%s): the full-disk case "
                          "needs root and mount rights" % out)

        def cleanup():
            try:
                if d.running():
                    d.stop()
            finally:
                d.kill()
                for _ in range(20):
                    if run("umount", d.state_dir)[0] == 0:
                        return
                    time.sleep(0.1)
                run("umount", "-l", d.state_dir)
        self.addCleanup(cleanup)

    def fill(self, path):
        """Write zeros into path until the file system is full."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        chunk = b"\0" * 65536
        try:
            while True:
                try:
                    os.write(fd, chunk)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    if len(chunk) == 1:
                        break
                    chunk = chunk[:len(chunk) // 2]
        finally:
            os.close(fd)
        st = os.statvfs(os.path.dirname(path))
        self.assertEqual(st.f_bavail, 0, "the tmpfs is not full")

    def test_full_disk(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"rate": "8"})], start=False)
        self.mount_tmpfs(d)
        d.start()
        self.import_phones(d, "2A", tb.phone_range("0912", 300000, self.N))
        h = self.household(d, "Hộ trước", "0912399001", group="2B")
        bid = self.notice(d)["id"]
        # sending is under way (40 at 8/s: about 5 s)
        self.wait_counts(d, bid, 10, "first sends",
                         lambda c: c["sent"] > 0)
        filler = os.path.join(d.state_dir, "filler")
        self.fill(filler)
        t_full = time.monotonic()

        # writes: 503 unavailable, nothing written. The WAL may have room
        # left for a few small writes, so try a handful.
        created = []
        resp = None
        for i in range(50):
            resp = d.post("/v1/households", {
                "group": "2B", "name": "Hộ mới %d" % i,
                "phones": ["09124%05d" % (i + 10000)]})
            if resp.status == 201:
                created.append(resp.body["id"])
                continue
            break
        self.assertUnavailable(resp, "full")
        resp = d.post("/v1/broadcasts", {
            "kind": "notice", "title": "Họp", "body": "Họp tổ.",
            "groups": ["2B"]})
        self.assertUnavailable(resp, "full")
        # reads go on
        self.ok(d.get("/v1/households/%d" % h["id"]))
        self.ok(d.get("/v1/status"))
        self.ok(d.get("/v1/broadcasts"))
        # keep the disk full for ~3 s while the engine is sending
        while time.monotonic() - t_full < 3.0:
            self.assertUp(d)
            self.no_loss(d, bid, self.N)
            self.ok(d.get("/v1/households?group=2A"))
            time.sleep(0.2)
        self.assertUp(d)

        os.unlink(filler)
        # writes work again
        h2 = self.household(d, "Hộ sau", "0912399002", group="2B")
        b2 = self.create(d, {"kind": "notice", "title": "Họp",
                             "body": "Họp tổ.", "groups": ["2B"]})
        try:
            self.all_sent(d, bid, self.N, 15)
            self.wait_done(d, b2["id"], 10)
        except AssertionError as e:
            st = os.statvfs(d.state_dir)
            sizes = {n: os.path.getsize(os.path.join(d.state_dir, n))
                     for n in os.listdir(d.state_dir)}
            raise AssertionError(
                "%s\nafter the filler was deleted: %d of %d blocks free "
                "on the %s tmpfs; files: %r" % (e, st.f_bavail, st.f_blocks,
                                                self.SIZE, sizes)) from None
        # nothing acknowledged is lost, even across a restart
        d.restart()
        self.all_sent(d, bid, self.N, 5)
        self.ok(d.get("/v1/households/%d" % h["id"]))
        self.ok(d.get("/v1/households/%d" % h2["id"]))
        for hid in created:
            self.ok(d.get("/v1/households/%d" % hid))
        got = {m["to"] for m in sb.messages(provider="zns", status="ok")}
        want = {tb.intl(p) for p in tb.phone_range("0912", 300000, self.N)}
        self.assertLessEqual(want, got)
        self.assertTrue(d.wait_log("full", 1), "no log line about the "
                        "full disk")


class TestFullDiskSmall(TestFullDisk):
    """The same on 2 MiB, which holds this data many times over. SQLite
    checkpoints its WAL only at 1000 pages (~4 MiB) and each delivery
    outcome adds ~45 KiB of WAL frames: unless loaxad checkpoints (and
    truncates the WAL) when the disk is full, the WAL itself fills the disk
    again once the filler is gone and sending stays held for good."""

    SIZE = "2m"


# ---------------------------------------------------------------------------

class TestReadOnlyDatabase(TortureCase):

    N = 20

    def test_read_only_database_refused_at_start(self):
        if not shutil.which("chattr"):
            self.skipTest("chattr not found: cannot make the database "
                          "read-only for root")
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"rate": "50"})])
        self.import_phones(d, "2A", tb.phone_range("0912", 400000, self.N))
        # the provider is down: the broadcast stays pending
        sb.behaviour({"provider": "zns", "mode": "503", "retry_after": 1})
        bid = self.notice(d)["id"]
        self.assertEqual(d.stop(), 0)
        db = d.db_path
        rc, out = run("chattr", "+i", db)
        if rc != 0:
            self.skipTest("chattr +i %s failed: %s" % (db, out))
        self.addCleanup(run, "chattr", "-i", db)
        since = d.log_size()
        rc = d.run_to_exit()
        self.assertIsNotNone(rc, "loaxad kept running on a read-only "
                             "database")
        self.assertGreater(rc, 0, "loaxad exit status %r (negative: "
                           "killed by a signal)" % rc)
        log = d.log()[since:]
        print("\nread-only start refused (exit %d):\n%s"
              % (rc, log.strip()), file=sys.stderr)
        self.assertIn(db, log)
        self.assertIn("read-only", log)
        for mark in self.SANITIZER_MARKS:
            self.assertNotIn(mark, log)

        self.assertEqual(run("chattr", "-i", db)[0], 0)
        sb.clear_behaviour()
        d.start()
        self.all_sent(d, bid, self.N, 20)


# ---------------------------------------------------------------------------

class TestLockedDatabase(TortureCase):

    N = 60

    def test_locked_by_another_program(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"rate": "15"})])
        self.import_phones(d, "2A", tb.phone_range("0912", 500000, self.N))
        h = self.household(d, "Hộ trước", "0912599001", group="2B")
        bid = self.notice(d)["id"]
        self.wait_counts(d, bid, 10, "first sends",
                         lambda c: c["sent"] > 0)

        con = sqlite3.connect(d.db_path, timeout=10, isolation_level=None)
        self.addCleanup(con.close)
        con.execute("BEGIN IMMEDIATE")
        locked = True
        try:
            t0 = time.monotonic()
            resp = d.post("/v1/households", {
                "group": "2B", "name": "Hộ mới", "phones": ["0912599002"]})
            self.assertUnavailable(resp, "locked")
            resp = d.post("/v1/broadcasts", {
                "kind": "notice", "title": "Họp", "body": "Họp tổ.",
                "groups": ["2B"]})
            self.assertUnavailable(resp, "locked")
            # reads go on, the engine keeps its deliveries safe
            while time.monotonic() - t0 < 3.0:
                self.assertUp(d)
                self.ok(d.get("/v1/households/%d" % h["id"]))
                self.ok(d.get("/v1/status"))
                self.no_loss(d, bid, self.N)
                time.sleep(0.2)
            con.execute("ROLLBACK")
            locked = False
        finally:
            if locked:
                con.execute("ROLLBACK")
            con.close()

        # writes work again, sending resumes and ends
        self.household(d, "Hộ mới", "0912599002", group="2B")
        self.all_sent(d, bid, self.N, 30)
        d.restart()
        self.all_sent(d, bid, self.N, 5)
        got = {m["to"] for m in sb.messages(provider="zns", status="ok")}
        want = {tb.intl(p) for p in tb.phone_range("0912", 500000, self.N)}
        self.assertLessEqual(want, got)


if __name__ == "__main__":
    unittest.main(verbosity=2)
