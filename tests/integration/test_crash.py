#!/usr/bin/env python3
"""Crash safety of the broadcast engine: loaxad is killed with SIGKILL at
random moments of a 2000-household broadcast through loaxa-sandbox (20 ms
answer latency, so requests are in flight at each kill) and restarted each
time. At the end every household has exactly one delivery, in a final
state; none is lost; a message the provider received twice belongs to a
delivery flagged possible_duplicate, and no unflagged delivery was received
twice.

Needs LOAXAD and LOAXA_SANDBOX (else exits 77). LOAXA_CRASH_SEED fixes the
kill moments. Python 3 stdlib only.
"""

import collections
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import harness  # noqa: E402

HOUSEHOLDS = 2000
KILLS = 5
MAX_IN_FLIGHT = 8
FINAL = {"sent", "delivered", "read", "failed", "expired", "cancelled",
         "skipped"}


class TestCrash(harness.DaemonCase):

    def setUp(self):
        seed = os.environ.get("LOAXA_CRASH_SEED")
        self.seed = int(seed) if seed else random.randrange(1 << 30)
        print("\nLOAXA_CRASH_SEED=%d" % self.seed, file=sys.stderr)
        self.rng = random.Random(self.seed)
        self.sb = sbx.Sandbox("--latency", "20")
        self.addCleanup(self.sb.close)
        self.sb.start()

    def ok(self, resp, status=200):
        self.assertStatus(resp, status)
        return resp.body

    def bcast(self, d, bid):
        return self.ok(d.get("/v1/broadcasts/%d" % bid))

    def deliveries(self, d, bid):
        out, after = [], None
        while True:
            q = "limit=1000" + ("&after=%d" % after if after else "")
            body = self.ok(d.get("/v1/broadcasts/%d/deliveries?%s"
                                 % (bid, q)))
            out += body["deliveries"]
            after = body["next_after"]
            if after is None:
                return out

    def test_kill_9_mid_broadcast(self):
        sb = self.sb
        extra = "\n".join([
            "[broadcast]", "quiet_hours =", "retry_initial = 1s",
            "retry_max = 2s", "", "[route]", "chain = zns", "",
            sb.channel_config("zns", "zns", rate="150",
                              max_in_flight=str(MAX_IN_FLIGHT))])
        d = self.daemon(extra=extra)
        phones = ["0915%06d" % (100000 + i) for i in range(HOUSEHOLDS)]
        csv = "name,phone\n" + "".join("Hộ %d,%s\n" % (i, p)
                                       for i, p in enumerate(phones))
        r = self.ok(d.post("/v1/import?group=2A", csv.encode(),
                           headers={"Content-Type": "text/csv"}))
        self.assertEqual(r["created"], HOUSEHOLDS, r)
        b = self.ok(d.post("/v1/broadcasts", {
            "kind": "notice", "title": "Cúp nước",
            "body": "Thứ Hai cúp nước cả ngày.", "groups": ["2A"]},
            headers={"Idempotency-Key": "crash-1"}), 201)
        bid = b["id"]

        sent_at_kill = []
        for k in range(KILLS):
            time.sleep(self.rng.uniform(0.3, 1.8))
            d.kill()
            self.assertFalse(d.running())
            d.start()
            # the create is idempotent across restarts too
            again = d.post("/v1/broadcasts", {
                "kind": "notice", "title": "Cúp nước",
                "body": "Thứ Hai cúp nước cả ngày.", "groups": ["2A"]},
                headers={"Idempotency-Key": "crash-1"})
            self.assertEqual(self.ok(again)["id"], bid)
            c = self.bcast(d, bid)["counts"]
            self.assertLessEqual(c["sending"], MAX_IN_FLIGHT,
                                 "after restart %d: %r" % (k + 1, c))
            sent_at_kill.append(c["sent"])
        print("sent after each restart: %r" % sent_at_kill, file=sys.stderr)
        self.assertLess(sent_at_kill[-1], HOUSEHOLDS,
                        "the broadcast ended before the last kill: the "
                        "kills must fall mid-broadcast")

        deadline = time.monotonic() + 80
        while True:
            b = self.bcast(d, bid)
            if b["progress"]["final"] == HOUSEHOLDS and \
                    b["counts"]["sending"] == 0:
                break
            self.assertLess(time.monotonic(), deadline,
                            "broadcast not finished: %r" % b)
            time.sleep(0.2)
        self.assertEqual(b["state"], "done", b)
        self.assertEqual(b["progress"]["total"], HOUSEHOLDS, b)
        self.assertEqual(b["counts"]["sent"], HOUSEHOLDS, b)
        self.assertEqual(len(self.ok(d.get("/v1/broadcasts"))
                             ["broadcasts"]), 1)

        dl = self.deliveries(d, bid)
        self.assertEqual(len(dl), HOUSEHOLDS)
        self.assertEqual(len({x["household_id"] for x in dl}), HOUSEHOLDS)
        self.assertEqual(sorted(x["phone"] for x in dl),
                         sorted("+84" + p[1:] for p in phones))
        for x in dl:
            self.assertIn(x["status"], FINAL, x)

        recs = collections.defaultdict(list)
        msgs = sb.messages(provider="zns")
        st = sb.stats()
        self.assertEqual(len(msgs), st["requests"]["zns"], st)
        for m in msgs:
            recs[m["to"]].append(m)
        flagged = 0
        extra_receipts = 0
        for x in dl:
            got = recs.get("84" + x["phone"][3:], [])
            accepted = [m for m in got if m["accepted"]]
            self.assertGreaterEqual(len(accepted), 1,
                                    "sent but never received: %r" % x)
            self.assertIn(x["msg_id"], {m["msg_id"] for m in accepted}, x)
            self.assertEqual(len({m["tracking_id"] for m in got}), 1, got)
            if x["possible_duplicate"]:
                flagged += 1
            else:
                self.assertEqual(len(got), 1, "received %d times but not "
                                 "flagged possible_duplicate: %r; %r"
                                 % (len(got), x, got))
            extra_receipts += len(accepted) - 1
        self.assertEqual(st["duplicates"], extra_receipts, st)
        self.assertEqual(st["messages"]["zns"], HOUSEHOLDS + extra_receipts)
        # only what was in flight at a kill can be in doubt
        self.assertLessEqual(flagged, KILLS * MAX_IN_FLIGHT)
        print("%d deliveries flagged possible_duplicate, %d received twice"
              % (flagged, extra_receipts), file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
