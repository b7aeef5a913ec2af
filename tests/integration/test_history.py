#!/usr/bin/env python3
"""A household's history and the replies list, end to end: loaxad sends
through loaxa-sandbox, the sandbox sends receipts and a household's replies
back, and GET /v1/households/{id}/history, GET /v1/replies, `loaxa history`
and `loaxa replies` show them.

Needs LOAXAD, LOAXA and LOAXA_SANDBOX (else exits 77). Python 3 stdlib only.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import harness  # noqa: E402
from test_tracking import TrackingCase, e164  # noqa: E402


class TestHistory(TrackingCase):

    def reply(self, sb, frm, text, want_total):
        st, ans = sb.request("POST", "/_sandbox/reply", {
            "provider": "twilio", "from": frm, "text": text})
        self.assertEqual(st, 202, ans)
        self.wait(lambda: (lambda s: s if s["pending"] == 0 and
                           s["replies"] == want_total else None)
                  (sb.stats()["webhooks"]), 15, "replies sent")

    def build(self):
        """Two households of 2A and one of 2B; a meeting (delivered), an
        RSVP and feedback, then a notice. Returns (d, sb, ids, bcasts)."""
        d, sb = self.setup([("zns", "zns", {}), ("tw", "twilio", {})],
                           route=["zns", "tw"], rules={
                               "provider": "zns",
                               "receipt_delay_ms": [20, 80]})
        st = d.post("/v1/groups", {"code": "2B", "name": "Nhóm 2B"}).status
        self.assertIn(st, (201, 409))
        ph = ["0912310001", "0912310002", "0912310003"]
        a = self.household(d, "Nguyễn Văn An", ph[0])
        b = self.household(d, "Trần Thị Bình", ph[1])
        c = self.household(d, "Lê Văn Cường", ph[2], group="2B")
        m = self.meeting(d, groups=("2A", "2B"))
        self.wait_sent(d, m["id"])
        self.wait_status(d, m["id"], "delivered")
        self.reply(sb, e164(ph[0]), "Có ạ", 1)
        self.reply(sb, e164(ph[2]), "Không", 2)
        self.reply(sb, e164(ph[1]), "Đèn đường hỏng", 3)
        n = self.notice(d)
        self.wait_sent(d, n["id"])
        return d, sb, (a["id"], b["id"], c["id"]), (m["id"], n["id"])

    def history(self, d, hid, q=""):
        return self.ok(d.get("/v1/households/%d/history%s" % (hid, q)))

    def test_history_api(self):
        d, sb, (a, b, c), (m, n) = self.build()
        h = self.history(d, a)
        self.assertEqual(h["household_id"], a)
        self.assertEqual(h["household"]["name"], "Nguyễn Văn An")
        self.assertIsNone(h["next_after"])
        e = h["entries"]
        self.assertEqual([(x["type"], x["broadcast_id"]) for x in e],
                         [("delivery", n), ("reply", m), ("delivery", m)],
                         e)
        notice, rep, meet = e
        self.assertEqual(notice["kind"], "notice")
        self.assertEqual(notice["title"], "Cúp điện")
        self.assertIn(notice["status"], ("sent", "delivered", "read"))
        self.assertEqual(meet["kind"], "meeting")
        self.assertEqual(meet["title"], "Họp tổ dân cư")
        self.assertEqual(meet["wave"], 0)
        self.assertEqual(meet["status"], "delivered")
        self.assertEqual(meet["channel"], "zns")
        self.assertEqual(meet["recipient"], "+84912310001")
        self.assertIsInstance(meet["sent_ms"], int)
        self.assertIsInstance(meet["delivered_ms"], int)
        self.assertGreaterEqual(meet["delivered_ms"], meet["sent_ms"] - 5000)
        self.assertIsNone(meet["read_ms"])
        self.assertIsInstance(meet["updated_ms"], int)
        for k in ("id", "code", "message", "at_ms"):
            self.assertIn(k, meet)
        self.assertEqual(rep["text"], "Có ạ")
        self.assertEqual(rep["rsvp"], "yes")
        self.assertEqual(rep["provider"], "twilio")
        self.assertIsInstance(rep["received_ms"], int)
        # the household's own only: b's feedback is not in a's history
        self.assertEqual([x["text"] for x in self.history(d, b)["entries"]
                          if x["type"] == "reply"], ["Đèn đường hỏng"])
        self.assertEqual([x["rsvp"] for x in self.history(d, c)["entries"]
                          if x["type"] == "reply"], ["no"])
        # paged one by one: the same entries, then the end
        seen, after = [], None
        for _ in range(5):
            q = "?limit=1" + ("&after=" + after if after else "")
            p = self.history(d, a, q)
            seen += p["entries"]
            after = p["next_after"]
            if after is None:
                break
            self.assertIsInstance(after, str)
        self.assertEqual([(x["type"], x["id"]) for x in seen],
                         [(x["type"], x["id"]) for x in e])
        # errors
        for q in ("?after=12", "?after=x.d1", "?after=1.q1", "?limit=0",
                  "?limit=1001"):
            self.assertStatus(d.get("/v1/households/%d/history%s"
                                    % (a, q)), 400)
        self.assertStatus(d.get("/v1/households/999999/history"), 404)
        self.assertStatus(d.get("/v1/households/abc/history"), 404)
        self.assertStatus(d.post("/v1/households/%d/history" % a, {}), 405)
        # a removed household keeps its history
        self.assertStatus(d.delete("/v1/households/%d" % b), 204)
        h = self.history(d, b)
        self.assertIsNone(h["household"])
        self.assertEqual(len(h["entries"]), 3, h)

    def replies(self, d, q=""):
        return self.ok(d.get("/v1/replies" + q))

    def test_replies_api(self):
        d, sb, (a, b, c), (m, n) = self.build()
        r = self.replies(d)
        self.assertIsNone(r["next_after"])
        rows = r["replies"]
        self.assertEqual([(x["household_id"], x["text"], x["rsvp"])
                          for x in rows],
                         [(a, "Có ạ", "yes"), (c, "Không", "no"),
                          (b, "Đèn đường hỏng", None)])
        first = rows[0]
        self.assertEqual(first["name"], "Nguyễn Văn An")
        self.assertEqual(first["group"], "2A")
        self.assertEqual(first["broadcast_id"], m)
        self.assertIsInstance(first["received_ms"], int)
        self.assertIsInstance(first["id"], int)

        def texts(q):
            return [x["text"] for x in self.replies(d, q)["replies"]]
        self.assertEqual(texts("?rsvp=yes"), ["Có ạ"])
        self.assertEqual(texts("?rsvp=no"), ["Không"])
        self.assertEqual(texts("?rsvp=none"), ["Đèn đường hỏng"])
        self.assertEqual(texts("?group=2b"), ["Không"])
        self.assertEqual(texts("?group=2A&rsvp=none"), ["Đèn đường hỏng"])
        self.assertEqual(texts("?broadcast=%d" % m), [x["text"]
                                                      for x in rows])
        self.assertEqual(texts("?broadcast=%d" % n), [])
        # paging
        p = self.replies(d, "?limit=2")
        self.assertEqual(len(p["replies"]), 2)
        self.assertEqual(p["next_after"], p["replies"][1]["id"])
        p2 = self.replies(d, "?limit=2&after=%d" % p["next_after"])
        self.assertEqual([x["id"] for x in p["replies"] + p2["replies"]],
                         [x["id"] for x in rows])
        self.assertIsNone(p2["next_after"])
        # errors
        for q in ("?rsvp=maybe", "?limit=0", "?broadcast=x", "?after=-1"):
            self.assertStatus(d.get("/v1/replies" + q), 400)
        self.assertStatus(d.get("/v1/replies?broadcast=999999"), 404)
        self.assertStatus(d.get("/v1/replies?group=nowhere"), 404)

    def test_cli(self):
        d, sb, (a, b, c), (m, n) = self.build()
        r = d.cli("history", a)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Nguyễn Văn An", r.stdout)
        self.assertIn("Họp tổ dân cư", r.stdout)
        self.assertIn("Cúp điện", r.stdout)
        self.assertIn("rsvp yes", r.stdout)
        self.assertIn("delivered", r.stdout)
        r = d.cli("--json", "history", a)
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        api = self.history(d, a)
        self.assertEqual(j["entries"], api["entries"])
        self.assertEqual(j["household"]["id"], a)
        r = d.cli("--json", "history", a, "--limit", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(json.loads(r.stdout)["entries"]), 1)
        self.assertEqual(d.cli("history", "999999").returncode, 1)
        self.assertEqual(d.cli("history", "x").returncode, 2)
        self.assertEqual(d.cli("history").returncode, 2)

        r = d.cli("replies")
        self.assertEqual(r.returncode, 0, r.stderr)
        for t in ("Có ạ", "Không", "Đèn đường hỏng", "Lê Văn Cường"):
            self.assertIn(t, r.stdout)
        r = d.cli("--json", "replies", "--rsvp", "yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([x["household_id"] for x in
                          json.loads(r.stdout)["replies"]], [a])
        r = d.cli("--json", "replies", "--group", "2B", "--broadcast", m)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([x["text"] for x in
                          json.loads(r.stdout)["replies"]], ["Không"])
        r = d.cli("replies", "--broadcast", n)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("No replies", r.stderr)
        self.assertEqual(d.cli("replies", "--rsvp", "maybe").returncode, 2)
        self.assertEqual(d.cli("replies", "--broadcast", "x").returncode, 2)
        self.assertEqual(d.cli("replies", "--broadcast", "999999")
                         .returncode, 1)


if __name__ == "__main__":
    harness.main()
