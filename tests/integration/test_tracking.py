#!/usr/bin/env python3
"""Delivery tracking end to end: loaxad sends through loaxa-sandbox, and the
sandbox sends the providers' receipts and the households' replies back to
loaxad's webhook listener, signed like the real providers sign them.

Covers: each provider's receipts moving the right deliveries forward
(sent -> delivered -> read) and only forward, with duplicates and
reordering; forged, replayed and oversized webhooks changing nothing;
Messenger watermarks; RSVP replies in Vietnamese with and without
diacritics; the "not reached" report against the deliveries; the
unconfirmed count.

Needs LOAXAD, LOAXA and LOAXA_SANDBOX (else exits 77). Python 3 stdlib only.
"""

import base64
import csv
import hashlib
import hmac
import http.client
import io
import json
import os
import sqlite3
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import harness  # noqa: E402

ZALO_SECRET = "tracking-oa-secret-0123"
MESSENGER_SECRET = "tracking-app-secret-4567"
VERIFY_TOKEN = "tracking-verify-token"
ESMS_PATH_SECRET = "esmsPathSecret0123456789"
ZALO_APP_ID = "sandbox-app-id"
MAX_BODY = 65536        # [webhooks] max_body = 64K (its minimum)

REACHED = ("sent", "delivered", "read")
NOT_REACHED = ("failed", "expired", "skipped", "cancelled")


def now_ms():
    return int(time.time() * 1000)


def phones(prefix, start, n):
    """n national mobile numbers that are no sandbox trigger."""
    return ["%s%06d" % (prefix, start + i) for i in range(n)]


def e164(national):
    return "+84" + national[1:]


# ---- signing, as the providers do (providers.md §1.5, §4.5, §5.4) ----

def zalo_sign(body, secret=ZALO_SECRET):
    o = json.loads(body)
    data = (str(o["app_id"]).encode() + body + str(o["timestamp"]).encode()
            + secret.encode())
    return "mac=" + hashlib.sha256(data).hexdigest()


def messenger_sign(body, secret=MESSENGER_SECRET):
    return "sha256=" + hmac.new(secret.encode(), body,
                                hashlib.sha256).hexdigest()


def twilio_sign(url, params, token=sbx.TWILIO_TOKEN):
    data = url + "".join(k + v for k, v in sorted(params.items()))
    mac = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


class TrackingCase(harness.DaemonCase):
    """A sandbox that sends webhooks to a daemon's webhook listener."""

    def setUp(self):
        self._sandboxes = []

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        ret = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for sb in getattr(self, "_sandboxes", []):
                err = sb.stderr()
                if err:
                    print("----- sandbox stderr -----\n" + err,
                          file=sys.stderr)
        return ret

    # ---- setup ----

    def setup(self, channels, route=None, rules=None, sandbox_args=(),
              webhooks_extra=""):
        """Start a sandbox (webhooks to a free port) and a daemon whose
        webhook listener is on that port. channels: (name, driver,
        {keys}). Returns (daemon, sandbox)."""
        self.wport = harness.free_tcp_port()
        self.public = "http://127.0.0.1:%d" % self.wport
        sb = sbx.Sandbox("--webhook-url", self.public,
                         "--zalo-oa-secret", ZALO_SECRET,
                         "--zalo-app-id", ZALO_APP_ID,
                         "--messenger-app-secret", MESSENGER_SECRET,
                         *sandbox_args)
        self.addCleanup(sb.close)
        self._sandboxes.append(sb)
        sb.start()
        if rules:
            sb.behaviour(rules)
        text = ["[broadcast]", "quiet_hours = ", "retry_initial = 1s",
                "retry_max = 2s", "",
                "[webhooks]",
                "listen = 127.0.0.1:%d" % self.wport,
                "public_url = " + self.public,
                "max_body = 64K",
                "unconfirmed_after = 1m",
                "zalo_oa_secret_file = " + sb.secret("zalo-oa",
                                                     ZALO_SECRET),
                "messenger_app_secret_file = " + sb.secret(
                    "messenger-app", MESSENGER_SECRET),
                "messenger_verify_token_file = " + sb.secret(
                    "messenger-verify", VERIFY_TOKEN),
                "esms_secret_file = " + sb.secret("esms-path",
                                                  ESMS_PATH_SECRET)]
        if webhooks_extra:
            text.append(webhooks_extra)
        names = []
        sections = []
        for name, driver, keys in channels:
            keys = dict(keys)
            if driver == "esms":
                keys.setdefault("callback_url", "%s/webhooks/esms/%s"
                                % (self.public, ESMS_PATH_SECRET))
            elif driver == "twilio":
                keys.setdefault("callback_url",
                                self.public + "/webhooks/twilio")
            names.append(name)
            sections.append(sb.channel_config(name, driver, **keys))
        text += ["", "[route]", "chain = " + ", ".join(route or names), ""]
        text += sections
        d = self.daemon(extra="\n".join(text))
        self.wait_listener()
        return d, sb

    def wait_listener(self):
        deadline = time.monotonic() + 10
        while True:
            try:
                self.hook("GET", "/webhooks/messenger?hub.mode=subscribe"
                          "&hub.verify_token=x&hub.challenge=1")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    # ---- the webhook listener, directly ----

    def hook(self, method, path, body=None, headers=None):
        """(status, parsed JSON or bytes) from loaxad's webhook port."""
        conn = http.client.HTTPConnection("127.0.0.1", self.wport,
                                          timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
        finally:
            conn.close()
        try:
            return status, json.loads(raw.decode())
        except ValueError:
            return status, raw

    def zalo_post(self, body, sig=None):
        return self.hook("POST", "/webhooks/zalo", body, {
            "Content-Type": "application/json",
            "X-ZEvent-Signature": sig if sig is not None else
            zalo_sign(body)})

    def messenger_post(self, body, sig=None):
        return self.hook("POST", "/webhooks/messenger", body, {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sig if sig is not None else
            messenger_sign(body)})

    def twilio_post(self, params, sig=None):
        body = urllib.parse.urlencode(params).encode()
        return self.hook("POST", "/webhooks/twilio", body, {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sig if sig is not None else
            twilio_sign(self.public + "/webhooks/twilio", params)})

    # ---- API helpers ----

    def ok(self, resp, status=200):
        self.assertStatus(resp, status)
        return resp.body

    _next_phone = 600000

    def household(self, d, name, phone=None, group="2A", **fields):
        if phone is None:
            TrackingCase._next_phone += 1
            phone = "0913%06d" % TrackingCase._next_phone
        body = {"group": group, "name": name, "phones": [phone]}
        body.update(fields)
        return self.ok(d.post("/v1/households", body), 201)

    def notice(self, d, groups=("2A",)):
        return self.ok(d.post("/v1/broadcasts", {
            "kind": "notice", "title": "Cúp điện",
            "body": "Mai cúp điện từ 8h đến 11h.",
            "groups": list(groups)}), 201)

    def meeting(self, d, groups=("2A",)):
        return self.ok(d.post("/v1/broadcasts", {
            "kind": "meeting", "title": "Họp tổ dân cư",
            "starts_at": "19:30 05/12/2099", "place": "Nhà văn hóa",
            "agenda": "Thu gom rác", "groups": list(groups)}), 201)

    def bcast(self, d, bid):
        return self.ok(d.get("/v1/broadcasts/%d" % bid))

    def deliveries(self, d, bid):
        out = []
        after = None
        while True:
            q = "limit=1000" + ("&after=%d" % after if after else "")
            body = self.ok(d.get("/v1/broadcasts/%d/deliveries?%s"
                                 % (bid, q)))
            out += body["deliveries"]
            after = body["next_after"]
            if after is None:
                return out

    def wait(self, fn, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            last = fn()
            if last:
                return last
            if time.monotonic() > deadline:
                self.fail("timed out after %.0f s waiting for %s; last: %r"
                          % (timeout, what, last))
            time.sleep(0.1)

    def wait_sent(self, d, bid, timeout=30):
        """Every delivery left queued/sending; the deliveries."""
        def check():
            dl = self.deliveries(d, bid)
            if dl and all(x["status"] not in ("queued", "sending")
                          for x in dl):
                return dl
            return None
        return self.wait(check, timeout, "broadcast %d sent" % bid)

    def wait_status(self, d, bid, want, timeout=30):
        """Until every delivery's status is want[household_id] (or want
        itself when a string); the deliveries."""
        def check():
            dl = self.deliveries(d, bid)
            for x in dl:
                w = want if isinstance(want, str) else \
                    want[x["household_id"]]
                if x["status"] != w:
                    return None
            return dl or None
        try:
            return self.wait(check, timeout, "statuses %r" % (want,))
        except AssertionError:
            dl = self.deliveries(d, bid)
            self.fail("deliveries did not reach %r: %r"
                      % (want, [(x["household_id"], x["status"],
                                 x["recipient"], x["msg_id"],
                                 x["sent_ms"]) for x in dl]))

    def wait_webhooks_idle(self, sb, timeout=30):
        """Until the sandbox has nothing queued; its webhook stats."""
        def check():
            w = sb.stats()["webhooks"]
            return w if w["pending"] == 0 else None
        return self.wait(check, timeout, "sandbox webhooks sent")

    def webhook_log(self, sb):
        return sb.control("GET", "webhooks?limit=100000")["webhooks"]

    def assert_all_200(self, sb, provider, at_least):
        w = sb.stats()["webhooks"]["providers"][provider]
        self.assertEqual(w["failed"], 0, w)
        self.assertEqual(w["dropped"], 0, w)
        self.assertEqual(set(w["by_status"]), {"200"}, w)
        self.assertGreaterEqual(w["by_status"]["200"], at_least, w)
        return w


# ---------------------------------------------------------------------------

class TestReceipts(TrackingCase):
    """Each provider's receipts, from the sandbox, move the right
    deliveries, idempotently and only forward."""

    def test_zns_delivered_with_duplicates(self):
        d, sb = self.setup([("zns", "zns", {})], rules={
            "provider": "zns", "receipt_delay_ms": [50, 400],
            "receipt_duplicate_rate": 1})
        ph = phones("0912", 210000, 5)
        hh = [self.household(d, "Hộ %d" % i, p) for i, p in enumerate(ph)]
        # one household ZNS refuses: no receipt, stays failed
        bad = self.household(d, "Hộ lỗi", "0912000118")
        b = self.notice(d)
        self.wait_sent(d, b["id"])
        want = {h["id"]: "delivered" for h in hh}
        want[bad["id"]] = "failed"
        dl = self.wait_status(d, b["id"], want)
        self.wait_webhooks_idle(sb)
        self.assert_all_200(sb, "zns", 10)
        log = [w for w in self.webhook_log(sb) if w["provider"] == "zns"]
        self.assertEqual(len(log), 10, log)       # each one twice
        self.assertEqual(sum(w["duplicate"] for w in log), 5, log)
        # the receipts name the deliveries by tracking id and msg_id
        by_msg = {x["msg_id"]: x for x in dl if x["status"] == "delivered"}
        for w in log:
            body = json.loads(w["body"])
            self.assertEqual(body["event_name"], "user_received_message")
            x = by_msg[body["message"]["msg_id"]]
            self.assertEqual(body["message"]["tracking_id"],
                             "loaxa-%d" % x["id"])
        # the duplicates changed nothing: still delivered, and a replay of
        # one more is answered 200 and changes nothing either
        dl2 = self.deliveries(d, b["id"])
        self.assertEqual([(x["id"], x["status"], x["updated_ms"])
                          for x in dl],
                         [(x["id"], x["status"], x["updated_ms"])
                          for x in dl2])
        body = log[0]["body"].encode()
        self.assertEqual(self.zalo_post(body)[0], 200)
        dl3 = self.deliveries(d, b["id"])
        self.assertEqual([(x["id"], x["status"]) for x in dl2],
                         [(x["id"], x["status"]) for x in dl3])
        self.assertEqual(self.bcast(d, b["id"])["unconfirmed"], 0)

    def test_oa_read_before_delivered_stays_read(self):
        d, sb = self.setup([("oa", "zalo_oa", {})], rules={
            "provider": "oa", "receipt_delay_ms": [50, 300],
            "receipt_reorder_rate": 1, "receipt_duplicate_rate": 0.5})
        uids = ["25125236254%05d" % (10000 + i) for i in range(4)]
        for i, u in enumerate(uids):
            self.household(d, "Hộ %d" % i, zalo_user_id=u)
        b = self.notice(d)
        self.wait_sent(d, b["id"])
        dl = self.wait_status(d, b["id"], "read")
        st = self.wait_webhooks_idle(sb)
        self.assertEqual(st["providers"]["oa"]["queued"],
                         st["providers"]["oa"]["sent"])
        self.assert_all_200(sb, "oa", 8)
        log = [w for w in self.webhook_log(sb) if w["provider"] == "oa"
               and not w["duplicate"]]
        # reordered: every read was sent before its delivered
        for x in dl:
            kinds = [w["kind"] for w in log if w["msg_id"] == x["msg_id"]]
            self.assertEqual(kinds, ["read", "delivered"], (x, log))
        # and the late "delivered" did not move anything back
        time.sleep(0.3)
        self.assertEqual({x["status"] for x in
                          self.deliveries(d, b["id"])}, {"read"})

    def test_messenger_delivered_then_read(self):
        d, sb = self.setup([("fb", "messenger", {})], rules={
            "provider": "messenger", "receipt_delay_ms": [50, 300],
            "receipt_duplicate_rate": 0.3, "receipt_reorder_rate": 0.3})
        psids = ["24680135%06d" % (200000 + i) for i in range(8)]
        for i, p in enumerate(psids):
            self.household(d, "Hộ %d" % i, messenger_psid=p)
        b = self.notice(d)
        self.wait_sent(d, b["id"])
        self.wait_webhooks_idle(sb)
        self.assert_all_200(sb, "messenger", 16)
        log = [w for w in self.webhook_log(sb)
               if w["provider"] == "messenger"]
        # Some deliveries came with a watermark only (no mids), as
        # Messenger does; every read has a watermark only.
        kinds = {(w["kind"], bool(json.loads(w["body"])["entry"][0]
                                  ["messaging"][0].get("delivery", {})
                                  .get("mids"))) for w in log}
        self.assertIn(("read", False), kinds)
        # Every message was read: the read watermark is the message's
        # own timestamp on the provider's side (providers.md §4.4), which
        # is before loaxad's sent_ms (taken when the answer arrived): a
        # daemon comparing "sent_ms <= watermark" misses the message
        # whenever the send took a millisecond or more.
        self.wait_status(d, b["id"], "read", timeout=5)

    def test_esms_report(self):
        d, sb = self.setup([("sms", "esms", {})], rules={
            "provider": "esms", "receipt_delay_ms": [50, 300],
            "receipt_duplicate_rate": 1})
        ph = phones("0983", 310000, 4)
        for i, p in enumerate(ph):
            self.household(d, "Hộ %d" % i, p)
        b = self.notice(d)
        self.wait_sent(d, b["id"])
        dl = self.wait_status(d, b["id"], "delivered")
        self.wait_webhooks_idle(sb)
        self.assert_all_200(sb, "esms", 8)
        for w in self.webhook_log(sb):
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(w["url"])
                                      .query)
            self.assertEqual(q["SendStatus"], ["5"], w)
            self.assertIn(q["SMSID"][0], {x["msg_id"] for x in dl})

    def test_twilio_callbacks(self):
        d, sb = self.setup([("tw", "twilio", {})], rules={
            "provider": "twilio", "receipt_delay_ms": [50, 300],
            "receipt_duplicate_rate": 0.5, "receipt_reorder_rate": 0.5})
        ph = phones("0971", 410000, 4)
        hh = [self.household(d, "Hộ %d" % i, p) for i, p in enumerate(ph)]
        lost = self.household(d, "Hộ tắt máy", "0912030003")
        b = self.notice(d)
        self.wait_sent(d, b["id"])
        want = {h["id"]: "delivered" for h in hh}
        want[lost["id"]] = "failed"
        dl = self.wait_status(d, b["id"], want)
        failed = [x for x in dl if x["status"] == "failed"]
        self.assertEqual(failed[0]["code"], "30003", failed)
        self.wait_webhooks_idle(sb)
        self.assert_all_200(sb, "twilio", 10)
        kinds = sorted(w["kind"] for w in self.webhook_log(sb)
                       if not w["duplicate"])
        self.assertEqual(kinds, ["delivered"] * 4 + ["sent"] * 5 +
                         ["undelivered"])


class TestHostileWebhooks(TrackingCase):
    """Forged, replayed and oversized webhooks change nothing."""

    def setup_sent(self):
        """One delivery per provider, sent, with no receipt (receipts
        off)."""
        d, sb = self.setup([("zns", "zns", {}), ("fb", "messenger", {}),
                            ("sms", "esms", {}), ("tw", "twilio", {})],
                           route=["fb", "zns"],
                           rules={"provider": "*", "receipts": False})
        self.household(d, "Hộ A", "0912210001")
        self.household(d, "Hộ B", messenger_psid="24680135220002")
        b = self.notice(d)
        dl = self.wait_sent(d, b["id"])
        self.assertEqual({x["status"] for x in dl}, {"sent"}, dl)
        time.sleep(0.3)
        self.assertEqual(sb.stats()["webhooks"]["providers"]["zns"]
                         ["queued"], 0)
        return d, sb, b, {x["channel"]: x for x in dl}

    def statuses(self, d, b):
        return sorted((x["id"], x["status"]) for x in
                      self.deliveries(d, b["id"]))

    def zns_receipt(self, x, ts=None):
        ts = str(ts or now_ms())
        return json.dumps({
            "app_id": ZALO_APP_ID, "sender": {"id": "1"},
            "recipient": {"id": x["recipient"]},
            "event_name": "user_received_message",
            "message": {"delivery_time": ts, "msg_id": x["msg_id"],
                        "tracking_id": "loaxa-%d" % x["id"]},
            "timestamp": ts}).encode()

    def messenger_read(self, psid, watermark, pad=0):
        item = {"sender": {"id": psid}, "recipient": {"id": sbx.PAGE_ID},
                "timestamp": now_ms(), "read": {"watermark": watermark}}
        o = {"object": "page", "entry": [{"id": sbx.PAGE_ID,
                                          "time": now_ms(),
                                          "messaging": [item]}]}
        if pad:
            o["padding"] = "x" * pad
        return json.dumps(o).encode()

    def test_forged(self):
        d, sb, b, by = self.setup_sent()
        before = self.statuses(d, b)
        zns, fb = by["zns"], by["fb"]
        body = self.zns_receipt(zns)
        self.assertEqual(self.zalo_post(body, sig="mac=" + "0" * 64)[0],
                         403)
        self.assertEqual(self.zalo_post(body, sig="")[0], 403)
        self.assertEqual(self.zalo_post(body, zalo_sign(body, "wrong"))[0],
                         403)
        # the signature covers the body: one byte changed is forged
        sig = zalo_sign(body)
        self.assertEqual(self.zalo_post(body.replace(b"loaxa-", b"loaxa-0"),
                                        sig)[0], 403)
        rd = self.messenger_read(fb["recipient"], now_ms())
        self.assertEqual(self.messenger_post(rd, messenger_sign(rd, "x"))[0],
                         403)
        self.assertEqual(self.messenger_post(
            rd, "sha1=" + hashlib.sha1(rd).hexdigest())[0], 403)
        params = {"MessageSid": "SM" + "0" * 32, "MessageStatus":
                  "delivered", "To": "+84912210001"}
        self.assertEqual(self.twilio_post(params, sig="AAAA")[0], 403)
        self.assertEqual(self.hook(
            "GET", "/webhooks/esms/wrong-secret?SMSID=x&SendStatus=5")[0],
            403)
        self.assertEqual(self.statuses(d, b), before)
        # the same receipts, signed, do move them
        self.assertEqual(self.zalo_post(body)[0], 200)
        self.assertEqual(self.messenger_post(rd)[0], 200)
        after = dict(self.statuses(d, b))
        self.assertEqual(after[zns["id"]], "delivered")
        self.assertEqual(after[fb["id"]], "read")

    def test_replayed(self):
        d, sb, b, by = self.setup_sent()
        zns = by["zns"]
        body = self.zns_receipt(zns)
        st, ans = self.zalo_post(body)
        self.assertEqual(st, 200, ans)
        first = [x for x in self.deliveries(d, b["id"])
                 if x["id"] == zns["id"]][0]
        self.assertEqual(first["status"], "delivered")
        time.sleep(0.01)
        for _ in range(3):
            st, ans = self.zalo_post(body)
            self.assertEqual(st, 200, ans)
        again = [x for x in self.deliveries(d, b["id"])
                 if x["id"] == zns["id"]][0]
        self.assertEqual(again, first)

    def test_oversized(self):
        d, sb, b, by = self.setup_sent()
        before = self.statuses(d, b)
        fb = by["fb"]
        rd = self.messenger_read(fb["recipient"], now_ms(), pad=MAX_BODY)
        self.assertGreater(len(rd), MAX_BODY)
        st, ans = self.messenger_post(rd)
        self.assertEqual(st, 413, ans)
        zb = json.loads(self.zns_receipt(by["zns"]))
        zb["padding"] = "y" * MAX_BODY
        zb = json.dumps(zb).encode()
        self.assertEqual(self.zalo_post(zb)[0], 413)
        self.assertEqual(self.statuses(d, b), before)
        # the listener still works after that
        rd = self.messenger_read(fb["recipient"], now_ms())
        self.assertEqual(self.messenger_post(rd)[0], 200)


class TestWatermark(TrackingCase):
    """A Messenger read watermark marks every delivery to that PSID sent
    at or before it, and none sent after."""

    def test_read_watermark(self):
        d, sb = self.setup([("fb", "messenger", {})],
                           rules={"provider": "*", "receipts": False})
        psid = "24680135230001"
        other = "24680135230002"
        self.household(d, "Hộ A", messenger_psid=psid)
        self.household(d, "Hộ B", messenger_psid=other)
        b1 = self.notice(d)
        d1 = {x["recipient"]: x for x in self.wait_sent(d, b1["id"])}
        time.sleep(0.05)
        b2 = self.notice(d)
        d2 = {x["recipient"]: x for x in self.wait_sent(d, b2["id"])}
        s1, s2 = d1[psid]["sent_ms"], d2[psid]["sent_ms"]
        self.assertLess(s1, s2)
        wm = (s1 + s2) // 2
        body = json.dumps({"object": "page", "entry": [{
            "id": sbx.PAGE_ID, "time": now_ms(), "messaging": [{
                "sender": {"id": psid}, "recipient": {"id": sbx.PAGE_ID},
                "timestamp": now_ms(), "read": {"watermark": wm}}]}]}
        ).encode()
        st, ans = self.messenger_post(body)
        self.assertEqual(st, 200, ans)

        def status(bid, rcpt):
            return [x for x in self.deliveries(d, bid)
                    if x["recipient"] == rcpt][0]["status"]
        self.assertEqual(status(b1["id"], psid), "read")
        self.assertEqual(status(b2["id"], psid), "sent")
        self.assertEqual(status(b1["id"], other), "sent")
        self.assertEqual(status(b2["id"], other), "sent")
        # a delivery watermark without mids, then, covers the second
        body = json.dumps({"object": "page", "entry": [{
            "id": sbx.PAGE_ID, "time": now_ms(), "messaging": [{
                "sender": {"id": psid}, "recipient": {"id": sbx.PAGE_ID},
                "delivery": {"watermark": s2}}]}]}).encode()
        self.assertEqual(self.messenger_post(body)[0], 200)
        self.assertEqual(status(b2["id"], psid), "delivered")
        self.assertEqual(status(b1["id"], psid), "read")     # not back
        self.assertEqual(status(b2["id"], other), "sent")


class TestReplies(TrackingCase):
    """Households' replies through the sandbox: RSVP counts, storage."""

    REPLIES = [
        ("zalo_oa", "Có ạ", "yes"),
        ("messenger", "co", "yes"),
        ("twilio", "1", "yes"),
        ("zalo_oa", "Không", "no"),
        ("messenger", "khong", "no"),
        ("twilio", "2", "no"),
        ("zalo_oa", "Có việc bận", None),
    ]

    def test_rsvp(self):
        d, sb = self.setup([("oa", "zalo_oa", {}), ("fb", "messenger", {}),
                            ("tw", "twilio", {})])
        senders = []
        for i, (prov, text, _) in enumerate(self.REPLIES):
            if prov == "zalo_oa":
                uid = "25125236254%05d" % (20000 + i)
                self.household(d, "Hộ %d" % i, zalo_user_id=uid)
                senders.append(uid)
            elif prov == "messenger":
                psid = "24680135%06d" % (240000 + i)
                self.household(d, "Hộ %d" % i, messenger_psid=psid)
                senders.append(psid)
            else:
                ph = "0912%06d" % (250000 + i)
                self.household(d, "Hộ %d" % i, ph)
                senders.append(e164(ph))
        b = self.meeting(d)
        self.wait_sent(d, b["id"])
        self.assertEqual(self.bcast(d, b["id"])["rsvp"],
                         {"yes": 0, "no": 0})
        for (prov, text, _), frm in zip(self.REPLIES, senders):
            st, ans = sb.request("POST", "/_sandbox/reply", {
                "provider": prov, "from": frm, "text": text})
            self.assertEqual(st, 202, ans)
            self.assertTrue(ans["queued"], ans)
        w = self.wait(lambda: (lambda s: s if s["pending"] == 0 and
                               s["replies"] == len(self.REPLIES) else None)
                      (sb.stats()["webhooks"]), 15, "replies sent")
        for prov in ("oa", "messenger", "twilio"):
            self.assertEqual(w["providers"][prov]["failed"], 0, w)
            self.assertNotIn("403", w["providers"][prov]["by_status"], w)
        replies = [x for x in self.webhook_log(sb) if x["kind"] == "reply"]
        self.assertEqual(len(replies), len(self.REPLIES), replies)
        self.assertEqual({x["status"] for x in replies}, {200}, replies)
        self.assertEqual(self.bcast(d, b["id"])["rsvp"],
                         {"yes": 3, "no": 3})
        # every reply is stored, the feedback one too, against the meeting
        db = sqlite3.connect("file:%s?mode=ro" % d.db_path, uri=True)
        try:
            rows = db.execute("SELECT text, rsvp, broadcast_id FROM replies"
                              " ORDER BY id").fetchall()
        finally:
            db.close()
        self.assertEqual([r[0] for r in rows],
                         [t for _, t, _ in self.REPLIES])
        self.assertEqual([r[1] for r in rows],
                         [{"yes": 1, "no": 2, None: 0}[v]
                          for _, _, v in self.REPLIES])
        self.assertEqual({r[2] for r in rows}, {b["id"]})
        # a replayed reply (same provider message id) is not counted twice
        body = [x for x in replies if x["provider"] == "messenger"][0]
        self.assertEqual(self.messenger_post(body["body"].encode())[0], 200)
        self.assertEqual(self.bcast(d, b["id"])["rsvp"],
                         {"yes": 3, "no": 3})

    def test_reply_validation(self):
        d, sb = self.setup([("oa", "zalo_oa", {})])
        for bad in ({"provider": "zns", "from": "1", "text": "1"},
                    {"provider": "messenger", "text": "1"},
                    {"provider": "messenger", "from": "1"},
                    {"provider": "messenger", "from": "1", "text": "1",
                     "extra": 1}):
            st, ans = sb.request("POST", "/_sandbox/reply", bad)
            self.assertEqual(st, 400, (bad, ans))


class TestReports(TrackingCase):

    def test_not_reached_matches_deliveries(self):
        d, sb = self.setup([("zns", "zns", {})], rules={
            "provider": "zns", "receipt_delay_ms": [20, 100]})
        ok = phones("0912", 260000, 3)
        for i, p in enumerate(ok):
            self.household(d, "Hộ được %d" % i, p)
        self.household(d, "Hộ không Zalo", "0912000118")    # -118: failed
        self.household(d, "Hộ chặn", "0912000114")          # -114: failed
        b = self.notice(d)
        self.wait_sent(d, b["id"])
        dl = self.wait(lambda: (lambda x: x if all(
            y["status"] in ("delivered",) + NOT_REACHED for y in x)
            else None)(self.deliveries(d, b["id"])), 20, "final")
        api_missed = sorted(x["name"] for x in dl
                            if x["status"] in NOT_REACHED)
        self.assertEqual(len(api_missed), 2, dl)
        r = d.cli("report", str(b["id"]), "--not-reached", "--csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = r.stdout.lstrip("\ufeff")
        rows = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual(sorted(x["name"] for x in rows), api_missed, rows)
        for row in rows:
            self.assertIn(row["status"], NOT_REACHED, row)
        reached = {x["name"] for x in dl if x["status"] in REACHED}
        self.assertFalse(reached & {x["name"] for x in rows})

    def test_unconfirmed(self):
        # receipts on: everything confirmed, unconfirmed is 0
        d, sb = self.setup([("zns", "zns", {})], rules={
            "provider": "zns", "receipt_delay_ms": [20, 100]})
        for i, p in enumerate(phones("0912", 270000, 3)):
            self.household(d, "Hộ %d" % i, p)
        b = self.notice(d)
        self.wait_sent(d, b["id"])
        self.wait_status(d, b["id"], "delivered")
        bc = self.bcast(d, b["id"])
        self.assertIn("unconfirmed", bc)
        self.assertEqual(bc["unconfirmed"], 0, bc)
        # receipts off: sent with no receipt, but not yet older than
        # unconfirmed_after (1 minute): still 0
        sb.behaviour({"provider": "zns", "receipts": False})
        b2 = self.notice(d)
        self.wait_sent(d, b2["id"])
        time.sleep(0.5)
        bc2 = self.bcast(d, b2["id"])
        self.assertEqual(bc2["counts"].get("sent"), 3, bc2)
        self.assertEqual(bc2["unconfirmed"], 0, bc2)


if __name__ == "__main__":
    harness.main()
