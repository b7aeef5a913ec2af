#!/usr/bin/env python3
"""Deliveries sent but never confirmed, and a broadcast's expected finish.

loaxad sends through loaxa-sandbox with receipts off, so the deliveries
stay "sent". Rather than wait for [webhooks] unconfirmed_after (1 minute,
its minimum), the test stops loaxad, makes some deliveries' sent_ms an
hour older in the SQLite file, and starts it again. Then: the deliveries
API flags exactly those ("unconfirmed": true), status=unconfirmed lists
exactly those, the broadcast's "unconfirmed" count matches, and `loaxa
report --not-reached --csv` lists their households as not reached. Also
"started_ms" and "eta_ms" of the broadcast object, and `loaxa show`.

Needs LOAXAD, LOAXA and LOAXA_SANDBOX (else exits 77). Python 3 stdlib only.
"""

import csv
import io
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import harness  # noqa: E402
from test_tracking import TrackingCase, phones  # noqa: E402

HOUR_MS = 3600000


def now_ms():
    return int(time.time() * 1000)


class TestUnconfirmed(TrackingCase):

    def age(self, d, ids, by_ms):
        """Make deliveries ids sent by_ms earlier, loaxad stopped."""
        self.assertEqual(d.stop(), 0, d.log_tail())
        db = sqlite3.connect(d.db_path)
        try:
            with db:
                db.executemany("UPDATE deliveries SET sent_ms = sent_ms - ?"
                               " WHERE id = ?", [(by_ms, i) for i in ids])
        finally:
            db.close()
        d.start()

    def test_unconfirmed(self):
        d, sb = self.setup([("zns", "zns", {})], rules={
            "provider": "zns", "receipts": False})
        names = []
        for i, p in enumerate(phones("0912", 280000, 4)):
            names.append("Hộ %d" % i)
            self.household(d, names[-1], p)
        b = self.notice(d)
        bid = b["id"]
        dl = self.wait_status(d, bid, "sent")
        self.assertEqual(len(dl), 4, dl)
        # Fresh: none is unconfirmed yet.
        for x in dl:
            self.assertIs(x["unconfirmed"], False, x)
        self.assertEqual(self.bcast(d, bid)["unconfirmed"], 0)
        body = self.ok(d.get("/v1/broadcasts/%d/deliveries?status="
                             "unconfirmed" % bid))
        self.assertEqual(body["deliveries"], [])

        old = sorted(dl, key=lambda x: x["id"])[:2]
        old_ids = {x["id"] for x in old}
        old_names = sorted(x["name"] for x in old)
        first_sent = min(x["sent_ms"] for x in dl)
        self.age(d, old_ids, HOUR_MS)

        dl = self.deliveries(d, bid)
        self.assertEqual({x["id"] for x in dl if x["unconfirmed"]}, old_ids,
                         dl)
        for x in dl:
            self.assertEqual(x["status"], "sent", x)
        body = self.ok(d.get("/v1/broadcasts/%d/deliveries?status="
                             "unconfirmed" % bid))
        self.assertEqual({x["id"] for x in body["deliveries"]}, old_ids,
                         body)
        for x in body["deliveries"]:
            self.assertIs(x["unconfirmed"], True, x)
        # Still a plain "sent" filter lists all four.
        body = self.ok(d.get("/v1/broadcasts/%d/deliveries?status=sent"
                             % bid))
        self.assertEqual(len(body["deliveries"]), 4, body)
        self.assertError(d.get("/v1/broadcasts/%d/deliveries?status="
                               "unconfirmedx" % bid), 400, "bad_request")

        bc = self.bcast(d, bid)
        self.assertEqual(bc["unconfirmed"], 2, bc)
        # started: the first send, now an hour earlier; nothing left.
        self.assertIsInstance(bc["started_ms"], int, bc)
        self.assertLessEqual(abs(bc["started_ms"] -
                                 (first_sent - HOUR_MS)), 1000, bc)
        self.assertIn("eta_ms", bc)
        self.assertIsNone(bc["eta_ms"], bc)

        # The report counts them as not reached, in plain words.
        r = d.cli("report", str(bid), "--not-reached", "--csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.DictReader(io.StringIO(r.stdout.lstrip("\ufeff"))))
        self.assertEqual(sorted(x["name"] for x in rows), old_names, rows)
        for row in rows:
            self.assertEqual(row["status"], "sent, unconfirmed", row)
            self.assertEqual(row["message"],
                             "đã gửi, chưa xác nhận nhận tin", row)
        r = d.cli("report", str(bid), "--not-reached")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("đã gửi, chưa xác nhận nhận tin", r.stdout)
        self.assertIn("Tổng cộng: 2 hộ", r.stdout)
        r = d.cli("report", str(bid))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("sent, unconfirmed"), 2, r.stdout)
        r = d.cli("report", str(bid), "--status", "unconfirmed", "--csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.DictReader(io.StringIO(r.stdout.lstrip("\ufeff"))))
        self.assertEqual(sorted(x["name"] for x in rows), old_names, rows)

        r = d.cli("show", str(bid))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("started:", r.stdout)
        self.assertIn("2 sent, no receipt yet", r.stdout)
        self.assertNotIn("expected finish:", r.stdout)

    def test_eta(self):
        d, sb = self.setup([("zns", "zns", {"rate": "4"})], rules={
            "provider": "zns", "receipts": False})
        for i, p in enumerate(phones("0912", 290000, 24)):
            self.household(d, "Hộ %d" % i, p)
        b = self.notice(d)
        bid = b["id"]
        bc = self.bcast(d, bid)
        self.assertIn("started_ms", bc)
        self.assertIn("eta_ms", bc)

        def moving():
            x = self.bcast(d, bid)
            c = x["counts"]
            return x if (c["sent"] >= 4 and c["queued"] + c["sending"] > 0
                         and x["eta_ms"] is not None) else None
        t0 = now_ms()
        bc = self.wait(moving, 20, "some sent, some left, an eta")
        t1 = now_ms()
        self.assertGreaterEqual(bc["started_ms"], t0 - 5000, bc)
        self.assertLessEqual(bc["started_ms"], t1, bc)
        left = bc["counts"]["queued"] + bc["counts"]["sending"]
        # 4 a second: left / 4 s from now, give or take.
        self.assertGreater(bc["eta_ms"], t0, bc)
        self.assertLess(bc["eta_ms"], t1 + left * 1000 + 10000, bc)
        r = d.cli("show", str(bid))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("started:", r.stdout)
        self.assertIn("expected finish:", r.stdout)
        bc = self.wait(lambda: (lambda x: x if x["counts"]["queued"] +
                                x["counts"]["sending"] == 0 else None)(
            self.bcast(d, bid)), 30, "all sent")
        self.assertIsNone(bc["eta_ms"], bc)


if __name__ == "__main__":
    harness.main()
