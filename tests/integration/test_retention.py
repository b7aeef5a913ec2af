#!/usr/bin/env python3
"""Retention ([daemon] retention) end to end: the real loaxad sends a
meeting through the real loaxa-sandbox, receipts and a reply come back over
the webhook listener, the daemon is stopped and the broadcast made 400 days
old in the database; started again (LOAXA_PRUNE_DELAY_MS=0: the first
retention run at once, loaxad(8)), loaxad deletes its deliveries, attempts
and receipts, keeps the reply and the counts, logs it, and leaves a newer
broadcast alone. A retention longer than the broadcast's age prunes
nothing; shortening it by SIGHUP prunes at once.

Needs LOAXAD and LOAXA_SANDBOX (else exits 77). Python 3 stdlib only.
"""

import json
import os
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import harness  # noqa: E402
import test_tracking as tt  # noqa: E402

DAY_MS = 86400 * 1000

# What the API shows for a broadcast that the summary must keep.
KEPT = ("counts", "progress", "unconfirmed", "rsvp", "by_group",
        "by_channel", "started_ms")


class TestRetention(tt.TrackingCase):

    def db(self, d):
        return sqlite3.connect("file:%s?mode=ro" % d.db_path, uri=True)

    def scalar(self, d, sql, *args):
        con = self.db(d)
        try:
            return con.execute(sql, args).fetchone()[0]
        finally:
            con.close()

    def rows_of(self, d, bid):
        """(deliveries, attempts, receipts) of broadcast bid."""
        return (
            self.scalar(d, "SELECT count(*) FROM deliveries"
                        " WHERE broadcast_id = ?", bid),
            self.scalar(d, "SELECT count(*) FROM attempts a JOIN"
                        " deliveries x ON x.id = a.delivery_id"
                        " WHERE x.broadcast_id = ?", bid),
            self.scalar(d, "SELECT count(*) FROM receipts r JOIN"
                        " deliveries x ON x.id = r.delivery_id"
                        " WHERE x.broadcast_id = ?", bid))

    def set_retention(self, d, value):
        text = d.config_text
        lines = [l for l in text.split("\n")
                 if not l.startswith("retention = ")]
        i = lines.index("[daemon]")
        lines.insert(i + 1, "retention = " + value)
        d.write_config("\n".join(lines))

    def test_old_broadcast_pruned(self):
        d, sb = self.setup(
            [("zns", "zns", {}), ("tw", "twilio", {})], route=["zns"],
            rules={"provider": "zns", "receipt_delay_ms": [10, 50]})
        ok2a = tt.phones("0912", 270000, 4)
        ok2b = tt.phones("0912", 280000, 2)
        for i, p in enumerate(ok2a):
            self.household(d, "Hộ 2A %d" % i, p, group="2A")
        for i, p in enumerate(ok2b):
            self.household(d, "Hộ 2B %d" % i, p, group="2B")
        self.household(d, "Hộ không Zalo", "0912000118")   # fails: -118
        old = self.meeting(d, groups=("2A", "2B"))["id"]
        want = {"delivered": 6, "failed": 1}

        def settled(bid, counts):
            b = self.bcast(d, bid)
            c = {k: v for k, v in b["counts"].items() if v}
            return b if b["state"] == "done" and c == counts else None
        self.wait(lambda: settled(old, want), 30, "meeting delivered")
        # a reply from a household: "1" means yes
        st, ans = sb.request("POST", "/_sandbox/reply", {
            "provider": "twilio", "from": tt.e164(ok2a[0]), "text": "1"})
        self.assertEqual(st, 202, ans)
        before = self.wait(lambda: (lambda b: b if b["rsvp"]["yes"] == 1
                                    else None)(self.bcast(d, old)), 15,
                           "the reply counted")
        # a newer broadcast, finished too
        new = self.notice(d, groups=("2B",))["id"]
        self.wait(lambda: settled(new, {"delivered": 2}), 30,
                  "notice delivered")
        before = self.bcast(d, old)
        self.assertIsNone(before.get("pruned_at"), before)
        old_rows = self.rows_of(d, old)
        new_rows = self.rows_of(d, new)
        self.assertEqual(old_rows[0], 7, old_rows)
        self.assertGreaterEqual(old_rows[1], 7, old_rows)
        self.assertGreaterEqual(old_rows[2], 6, old_rows)
        replies = self.scalar(d, "SELECT count(*) FROM replies")
        self.assertEqual(replies, 1)

        # 400 days ago; a retention of 10 years keeps it
        self.assertEqual(d.stop(), 0)
        con = sqlite3.connect(d.db_path)
        try:
            con.execute("UPDATE broadcasts SET finished_ms = finished_ms"
                        " - ? WHERE id = ?", (400 * DAY_MS, old))
            con.commit()
        finally:
            con.close()
        self.set_retention(d, "3650d")
        os.environ["LOAXA_PRUNE_DELAY_MS"] = "0"
        try:
            mark = len(d.log())
            d.start()
            time.sleep(1.5)
            self.assertNotIn("pruned broadcast", d.log()[mark:])
            self.assertEqual(self.rows_of(d, old), old_rows)
            self.assertIsNone(self.scalar(
                d, "SELECT summary FROM broadcasts WHERE id = ?", old))

            # a year, by reload: pruned at once
            self.set_retention(d, "365d")
            d.signal(signal.SIGHUP)
            self.assertTrue(d.wait_log("configuration reloaded", 5, mark),
                            d.log_tail())
            line = "pruned broadcast %d: %d deliveries, %d attempts, " \
                   "%d receipts" % ((old,) + old_rows)
            self.assertTrue(d.wait_log(line, 10, mark),
                            "no '%s' in:\n%s" % (line, d.log_tail()))
            self.assertNotIn("pruned broadcast %d:" % new,
                             d.log()[mark:])
        finally:
            del os.environ["LOAXA_PRUNE_DELAY_MS"]

        # the details are gone; the reply, the waves and the newer
        # broadcast are not
        self.assertEqual(self.rows_of(d, old), (0, 0, 0))
        # (a late receipt of the newer one may still have come in: the
        # sandbox sends some after "delivered", and retries across the
        # restart)
        now_rows = self.rows_of(d, new)
        self.assertEqual(now_rows[:2], new_rows[:2])
        self.assertGreaterEqual(now_rows[2], new_rows[2])
        self.assertEqual(self.scalar(d, "SELECT count(*) FROM replies"
                                     " WHERE broadcast_id = ?", old), 1)
        self.assertEqual(self.scalar(d, "SELECT count(*) FROM waves"
                                     " WHERE broadcast_id = ?", old), 1)
        self.assertIsNotNone(self.scalar(
            d, "SELECT pruned_ms FROM broadcasts WHERE id = ?", old))
        self.assertIsNone(self.scalar(
            d, "SELECT summary FROM broadcasts WHERE id = ?", new))
        summary = json.loads(self.scalar(
            d, "SELECT summary FROM broadcasts WHERE id = ?", old))
        for k in KEPT:
            self.assertEqual(summary[k], before[k], k)

        # the API: the same figures, no deliveries
        after = self.bcast(d, old)
        self.assertEqual(after["id"], old)
        self.assertEqual(after["rsvp"], {"yes": 1, "no": 0})
        self.assertEqual(self.deliveries(d, old), [])
        self.assertIsNotNone(after["pruned_at"], after)
        for k in KEPT:
            self.assertEqual(after[k], before[k], k)
        self.assertIsNone(self.bcast(d, new).get("pruned_at"))

        # again: nothing more to do, nothing changes
        mark = len(d.log())
        os.environ["LOAXA_PRUNE_DELAY_MS"] = "0"
        try:
            d.restart()
        finally:
            del os.environ["LOAXA_PRUNE_DELAY_MS"]
        time.sleep(1.0)
        self.assertNotIn("pruned broadcast", d.log()[mark:])
        self.assertEqual(json.loads(self.scalar(
            d, "SELECT summary FROM broadcasts WHERE id = ?", old)),
            summary)
        again = self.rows_of(d, new)   # a late receipt may add one
        self.assertEqual(again[:2], new_rows[:2])
        self.assertGreaterEqual(again[2], new_rows[2])

    def test_bad_delay_is_ignored(self):
        os.environ["LOAXA_PRUNE_DELAY_MS"] = "soon"
        try:
            d = self.daemon()
        finally:
            del os.environ["LOAXA_PRUNE_DELAY_MS"]
        self.assertTrue(d.wait_log("LOAXA_PRUNE_DELAY_MS=soon is not a "
                                   "number", 5), d.log_tail())


if __name__ == "__main__":
    harness.main()
