#!/usr/bin/env python3
"""Soak, short: the mixed workload of bench/soak.py (imports and
re-imports, notices and meetings to random groups, cancels mid-flight,
pauses and resumes, retries, replies and receipts from loaxa-sandbox,
household edits, exports, backups, `loaxa report`, reads of every list)
for about a minute against a small household list, with loaxad's RSS and
open file descriptors sampled.

Asserts: every broadcast reaches a final state (done or cancelled), every
delivery has exactly one final status and the counts add up, no answer is
a 5xx (nor an error the workload does not expect), the sandbox accepted no
message twice and every receipt was answered 200; open fds at the end (idle)
<= after the warm-up (idle) + 2, not counting the kept-alive connections to
and from the sandbox (libcurl's connection cache follows the load: those
are only bounded by 2 x max_in_flight); the last RSS sample <= 1.5 x the
RSS after the warm-up (3 x under ASan, whose quarantine keeps freed
memory); loaxad still answers and exits 0 on SIGTERM.

LOAXA_SOAK_SECONDS (default 35) and LOAXA_SOAK_HOUSEHOLDS (1500) change the
size. The full 10-minute run is `bench/run soak` (bench/README.md).

Needs LOAXAD and LOAXA_SANDBOX (else exits 77); uses LOAXA when given.
Python 3 stdlib only.
"""

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sandbox as sbx  # noqa: E402

sbx.require_env()

import harness  # noqa: E402

# The workload lives in bench/soak.py. Importing it imports bench/common.py,
# which points the harness' temporary directories at /tmp/lxbench-* and
# waits longer for loaxad: put the tests' settings back.
_saved = (harness.READY_TIMEOUT, harness.STOP_TIMEOUT)
sys.path.insert(0, os.path.join(harness.SRCDIR, "bench"))
import soak  # noqa: E402

harness.tempfile = tempfile
sbx.tempfile = tempfile
harness.READY_TIMEOUT, harness.STOP_TIMEOUT = _saved

SECONDS = float(os.environ.get("LOAXA_SOAK_SECONDS") or 35)
HOUSEHOLDS = int(os.environ.get("LOAXA_SOAK_HOUSEHOLDS") or 1500)
WARMUP = 12.0
MiB = 1024 * 1024


def sanitized(path):
    """Whether the binary was built with AddressSanitizer."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


class SoakTest(harness.DaemonCase):

    def setUp(self):
        self.sb = None

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        ret = super().run(result)
        if len(result.failures) + len(result.errors) > before and self.sb:
            err = self.sb.stderr()
            if err:
                print("----- sandbox stderr -----\n" + err[-4000:],
                      file=sys.stderr)
        return ret

    def start(self):
        wport = harness.free_tcp_port()
        self.sb = sbx.Sandbox(*soak.sandbox_args(wport, HOUSEHOLDS))
        self.addCleanup(self.sb.close)
        self.sb.start()
        d = self.daemon(groups=soak.c.GROUPS + [soak.c.SMALL_GROUP],
                        max_body="64M",
                        extra=soak.config_extra(self.sb, wport, rate=200))
        w = soak.Workload(d, self.sb, HOUSEHOLDS, seed=7, webhook_port=wport,
                          loaxa=harness.LOAXA or None, backup_every=15,
                          export_every=6, import_every=10, expire=(8, 15))
        return d, w

    def test_soak(self):
        d, w = self.start()
        pid = d.proc.pid
        r = w.import_all()
        self.assertIsNotNone(r, w.errors)
        self.assertEqual(r["created"], HOUSEHOLDS, r)

        # warm-up: every code path once, then idle
        w.run(WARMUP)
        self.assertEqual(w.drain(timeout=90), [], "warm-up did not end")
        kinds_warm, kinds_end = {}, {}
        fds_warm = soak.idle_fds(pid, w, kinds=kinds_warm)
        rss_warm = soak.rss_bytes(pid)

        probe = soak.Probe(w, pid, interval=2.0)
        probe.start()
        w.run(SECONDS)
        samples = probe.stop()
        left = w.drain(timeout=120)
        fds_end = soak.idle_fds(pid, w, kinds=kinds_end)
        problems = w.check()
        for t, s in samples:
            print("  %5.1fs rss %.1f MiB fds %s final %s requests %d"
                  % (t - samples[0][0], (s["rss"] or 0) / MiB, s["fds"],
                     s["final"], s["requests"]), file=sys.stderr)
        print("  ops %r; answers %r; fds warm %d %r, end %d %r; rss warm "
              "%.1f MiB" % (dict(w.ops), dict(w.status), fds_warm,
                            kinds_warm, fds_end, kinds_end, rss_warm / MiB),
              file=sys.stderr)

        # the workload did what it says
        for op in ("broadcast", "cancel", "pause", "resume", "import",
                   "reply", "export", "backup"):
            self.assertGreater(w.ops[op], 0, "no %s in %r" % (op, w.ops))
        self.assertGreater(w.requests, 200)
        self.assertGreater(samples[-1][1]["final"], 0)

        # every broadcast final, every delivery once and final, no 5xx
        self.assertEqual([(b["id"], b["state"]) for b in left], [],
                         "not final: %r; answers 409: %r"
                         % ([{k: b.get(k) for k in ("id", "state", "counts",
                                                     "waves", "reminders_ms",
                                                     "expires_ms")}
                             for b in left], w.expected))
        self.assertEqual(problems, [])
        self.assertEqual([k for k in w.status
                          if k == "exception" or k >= 500], [])

        # no leak of fds or memory
        # (kept-alive connections to and from the sandbox follow the
        # load: libcurl caches up to max_in_flight per channel)
        self.assertLessEqual(soak.unpooled(kinds_end),
                             soak.unpooled(kinds_warm) + 2,
                             "fds after warm-up %d %r, at the end %d %r"
                             % (fds_warm, kinds_warm, fds_end, kinds_end))
        self.assertLessEqual(kinds_end.get("tcp to sandbox", 0), 2 * 16,
                             kinds_end)
        bound = 3.0 if sanitized(harness.LOAXAD) else 1.5
        rss_last = samples[-1][1]["rss"]
        self.assertLessEqual(rss_last, bound * rss_warm,
                             "RSS after warm-up %.1f MiB, last sample "
                             "%.1f MiB" % (rss_warm / MiB, rss_last / MiB))

        # still answers, then stops cleanly
        self.assertStatus(d.get("/v1/status"), 200)
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    harness.main()
