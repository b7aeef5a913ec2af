#!/usr/bin/env python3
"""The broadcast engine end to end: the real loaxad sending through the real
loaxa-sandbox (the fake providers) over loopback, driven by the control API
on its unix socket.

Covers each driver's request fields, what each class of provider error
leads to (fallback, failure, retry with backoff, auth and config pauses),
the rate limit, priorities, quiet hours, expiry, idempotency keys, cancel,
pause, resume and retry, and Zalo OAuth token rotation across a restart.

Needs LOAXAD and LOAXA_SANDBOX (else exits 77). Python 3 stdlib only.
"""

import datetime
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import harness  # noqa: E402

UTC7 = datetime.timezone(datetime.timedelta(hours=7))


def now_ms():
    return int(time.time() * 1000)


def phone_range(prefix, start, n):
    """n national mobile numbers prefix + 6 digits from start: the last six
    digits never form a sandbox trigger when start >= 100000 and does not
    begin with 0, 02 or 03."""
    return ["%s%06d" % (prefix, start + i) for i in range(n)]


def quiet_now():
    """Quiet hours from an hour ago to an hour ahead, local time (UTC+7,
    the default time zone)."""
    local = datetime.datetime.now(UTC7)
    a = local - datetime.timedelta(hours=1)
    z = local + datetime.timedelta(hours=1)
    return "%02d:%02d-%02d:%02d" % (a.hour, a.minute, z.hour, z.minute)


def densest(times, window=1000):
    """(count, arrival offsets in ms from the first) of the densest
    window of the given ms times (sorted)."""
    best = (0, [])
    j = 0
    for i in range(len(times)):
        while times[i] - times[j] >= window:
            j += 1
        if i - j + 1 > best[0]:
            best = (i - j + 1, [x - times[0] for x in times[j:i + 1]])
    return best


def intl(phone):
    """0912345678 -> 84912345678 (ZNS form)."""
    return "84" + phone[1:]


class BroadcastCase(harness.DaemonCase):
    """A sandbox and a daemon per test, with helpers."""

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

    def sandbox(self, *args):
        sb = sbx.Sandbox(*args)
        self.addCleanup(sb.close)
        self._sandboxes.append(sb)
        return sb.start()

    def start(self, sb, channels, route=None, start=True, **bkeys):
        """A daemon whose route is the given channels: a list of (name,
        driver, {keys}) or (name, driver, {keys}, oauth). bkeys override
        [broadcast] keys (quiet hours off, 1 s first retry, 2 s at most)."""
        bk = {"quiet_hours": "", "retry_initial": "1s", "retry_max": "2s"}
        bk.update(bkeys)
        text = ["[broadcast]"] + ["%s = %s" % kv for kv in bk.items()]
        names = []
        sections = []
        for ch in channels:
            name, driver, keys = ch[0], ch[1], dict(ch[2])
            oauth = len(ch) > 3 and ch[3]
            names.append(name)
            sections.append(sb.channel_config(name, driver, oauth=oauth,
                                              **keys))
        text += ["", "[route]",
                 "chain = " + ", ".join(route or names), ""]
        text += sections
        return self.daemon(extra="\n".join(text), start=start)

    # ---- API helpers ----

    def ok(self, resp, status=200):
        self.assertStatus(resp, status)
        return resp.body

    def household(self, d, name, phone=None, group="2A", **fields):
        body = {"group": group, "name": name,
                "phones": [phone] if phone else []}
        body.update(fields)
        return self.ok(d.post("/v1/households", body), 201)

    def import_phones(self, d, group, phones, name="Hộ"):
        csv = "name,phone\n" + "".join(
            "%s %d,%s\n" % (name, i, p) for i, p in enumerate(phones))
        body = self.ok(d.post("/v1/import?group=" + harness.quote(group),
                              csv.encode("utf-8"),
                              headers={"Content-Type": "text/csv"}))
        self.assertEqual(body["created"], len(phones), body)
        self.assertEqual(body["rejected"], [], body)

    def create(self, d, body, status=201, headers=None):
        return self.ok(d.post("/v1/broadcasts", body, headers=headers),
                       status)

    def notice(self, d, groups=("2A",), priority="normal", **kw):
        body = {"kind": "notice", "priority": priority,
                "title": "Cúp điện", "body": "Mai cúp điện từ 8h đến 11h.",
                "groups": list(groups)}
        body.update(kw)
        return self.create(d, body)

    def bcast(self, d, bid):
        return self.ok(d.get("/v1/broadcasts/%d" % bid))

    def deliveries(self, d, bid, **query):
        out = []
        after = None
        while True:
            q = dict(query, limit=1000)
            if after is not None:
                q["after"] = after
            qs = "&".join("%s=%s" % (k, harness.quote(str(v)))
                          for k, v in q.items())
            body = self.ok(d.get("/v1/broadcasts/%d/deliveries?%s"
                                 % (bid, qs)))
            out += body["deliveries"]
            after = body["next_after"]
            if after is None:
                return out

    def status(self, d):
        return self.ok(d.get("/v1/status"))

    def chan_status(self, d, name):
        for c in self.status(d)["channels"]:
            if c["name"] == name:
                return c
        self.fail("no channel %s in /v1/status" % name)

    def wait_chan(self, d, name, state, timeout=15):
        def check():
            c = self.chan_status(d, name)
            return c if c["state"] == state else None
        return self.wait(check, timeout, "channel %s %s" % (name, state))

    def wait(self, fn, timeout, what):
        """Poll fn until it returns something true; its value."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = fn()
            if last:
                return last
            if time.monotonic() > deadline:
                self.fail("timed out after %.0f s waiting for %s; last: %r"
                          % (timeout, what, last))
            time.sleep(0.1)

    def wait_done(self, d, bid, timeout=30):
        """Wait until every delivery of the broadcast is final."""
        def done():
            b = self.bcast(d, bid)
            p = b["progress"]
            return b if p["total"] > 0 and p["final"] == p["total"] \
                and b["counts"]["sending"] == 0 else None
        return self.wait(done, timeout, "broadcast %d to finish" % bid)

    def wait_counts(self, d, bid, timeout, what, pred):
        return self.wait(lambda: (lambda b: b if pred(b["counts"]) else
                                  None)(self.bcast(d, bid)), timeout, what)

    def one_message(self, sb, provider, to=None):
        msgs = sb.messages(provider=provider, to=to)
        self.assertEqual(len(msgs), 1, msgs)
        self.assertNotIn("warnings", msgs[0], msgs[0])
        return msgs[0]


# ---------------------------------------------------------------------------

class TestDrivers(BroadcastCase):
    """Each driver's request, as the sandbox recorded it."""

    NOTICE_TEXT = "Thông báo: Cúp điện. Mai cúp điện từ 8h đến 11h."
    NOTICE_ASCII = "Thong bao: Cup dien. Mai cup dien tu 8h den 11h."

    def send_one(self, sb, driver, household, kind="notice", **keys):
        d = self.start(sb, [("ch", driver, keys)])
        h = self.household(d, **household)
        if kind == "notice":
            b = self.notice(d)
        else:
            b = self.create(d, {
                "kind": "meeting", "title": "Họp tổ dân cư",
                "starts_at": "19:30 05/12/2099", "place": "Nhà văn hóa",
                "agenda": "Thu gom rác", "groups": ["2A"]})
        b = self.wait_done(d, b["id"])
        self.assertEqual(b["counts"]["sent"], 1, b)
        dl = self.deliveries(d, b["id"])
        self.assertEqual(len(dl), 1, dl)
        self.assertEqual(dl[0]["household_id"], h["id"])
        self.assertEqual(dl[0]["status"], "sent", dl[0])
        self.assertEqual(dl[0]["channel"], "ch", dl[0])
        self.assertEqual(dl[0]["attempts"], 1, dl[0])
        return d, b, dl[0]

    def test_zns(self):
        sb = self.sandbox()
        d, b, dl = self.send_one(sb, "zns", {"name": "Nguyễn Văn An",
                                             "phone": "0912345678"},
                                 kind="meeting")
        m = self.one_message(sb, "zns")
        self.assertEqual(m["to"], "84912345678")
        self.assertEqual(m["template_id"], "123456")
        self.assertEqual(m["template_data"], {
            "name": "Nguyễn Văn An", "title": "Họp tổ dân cư",
            "time": b["starts_text"]})
        self.assertEqual(b["starts_text"], "19h30 thứ Bảy, 05/12/2099")
        self.assertRegex(m["tracking_id"], r"^[A-Za-z0-9_.:-]{1,48}$")
        self.assertIn(str(dl["id"]), m["tracking_id"])
        self.assertTrue(m["accepted"], m)
        self.assertEqual(dl["msg_id"], m["msg_id"])
        self.assertEqual(dl["recipient"], "+84912345678")

    def test_zalo_oa(self):
        sb = self.sandbox()
        d, b, dl = self.send_one(sb, "zalo_oa", {
            "name": "Trần Thị Bình", "phone": "0912345679",
            "zalo_user_id": "2512523625412515"})
        m = self.one_message(sb, "oa")
        self.assertEqual(m["to"], "2512523625412515")
        self.assertEqual(m["endpoint"], "cs")
        self.assertEqual(m["text"], self.NOTICE_TEXT)
        self.assertNotIn("attachment", m)
        self.assertEqual(dl["msg_id"], m["message_id"])
        self.assertEqual(dl["recipient"], "2512523625412515")

    def test_messenger(self):
        sb = self.sandbox()
        d, b, dl = self.send_one(sb, "messenger", {
            "name": "Lê Văn Cường", "phone": "0912345680",
            "messenger_psid": "24680135792468"})
        m = self.one_message(sb, "messenger")
        self.assertEqual(m["to"], "24680135792468")
        self.assertEqual(m["page_id"], sbx.PAGE_ID)
        self.assertEqual(m["messaging_type"], "MESSAGE_TAG")
        self.assertEqual(m["tag"], "CONFIRMED_EVENT_UPDATE")
        self.assertEqual(m["text"], self.NOTICE_TEXT)
        self.assertEqual(dl["msg_id"], m["message_id"])

    def test_esms(self):
        sb = self.sandbox()
        d, b, dl = self.send_one(sb, "esms", {"name": "Phạm Thị Dung",
                                              "phone": "0912345681"})
        m = self.one_message(sb, "esms")
        self.assertEqual(m["to"], "0912345681")
        self.assertEqual(m["brandname"], "DONGHA")
        self.assertEqual(m["text"], self.NOTICE_ASCII)
        self.assertEqual(m["is_unicode"], "0")
        self.assertEqual(m["sms_type"], "2")
        self.assertEqual(m["encoding"], "GSM-7")
        self.assertEqual(m["segments"], 1)
        self.assertIsInstance(m["request_id"], str)
        self.assertRegex(m["request_id"], r"^.{1,50}$")
        self.assertEqual(dl["msg_id"], m["smsid"])
        self.assertEqual(dl["sms_segments"], 1)

    def test_twilio(self):
        sb = self.sandbox()
        d, b, dl = self.send_one(sb, "twilio", {"name": "Hoàng Văn Em",
                                                "phone": "0912345682"})
        m = self.one_message(sb, "twilio")
        self.assertEqual(m["to"], "+84912345682")
        self.assertEqual(m["from"], sbx.TWILIO_FROM)
        self.assertEqual(m["text"], self.NOTICE_ASCII)
        self.assertEqual(m["encoding"], "GSM-7")
        self.assertNotEqual(m.get("delivery"), "undelivered", m)
        self.assertEqual(dl["msg_id"], m["sid"])

    def test_one_message_per_household_of_the_target_groups(self):
        """A household with two phones gets one message; households of
        other groups none."""
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {})])
        self.household(d, "Hộ A", "0912345601", group="2A")
        self.household(d, "Hộ B", "0912345602", group="2B")
        self.ok(d.post("/v1/households", {
            "group": "2A", "name": "Hộ C",
            "phones": ["0912345603", "0912345604"]}), 201)
        b = self.notice(d, groups=["2A"])
        b = self.wait_done(d, b["id"])
        self.assertEqual(b["progress"]["total"], 2, b)
        self.assertEqual(b["counts"]["sent"], 2, b)
        self.assertEqual(b["by_group"], {"2A": {"sent": 2}}, b)
        tos = sorted(m["to"] for m in sb.messages(provider="zns"))
        self.assertEqual(len(tos), 2, tos)
        self.assertEqual(tos[0], "84912345601")
        self.assertIn(tos[1], ("84912345603", "84912345604"))


# ---------------------------------------------------------------------------

class TestErrorClasses(BroadcastCase):
    """What each class of provider error leads to."""

    def test_permanent_falls_back_at_once(self):
        sb = self.sandbox()
        # a 10 s backoff: "at once" cannot be a retry in disguise
        d = self.start(sb, [("zns", "zns", {}), ("sms", "esms", {})],
                       retry_initial="10s", retry_max="20s")
        self.household(d, "Không Zalo", "0912000118")
        b = self.notice(d)
        b = self.wait_done(d, b["id"], timeout=8)
        dl = self.deliveries(d, b["id"])
        self.assertEqual(len(dl), 1)
        self.assertEqual(dl[0]["status"], "sent", dl[0])
        self.assertEqual(dl[0]["channel"], "sms", dl[0])
        self.assertEqual(dl[0]["code"], "100", dl[0])
        self.assertEqual(dl[0]["attempts"], 2, dl[0])
        z = self.one_message(sb, "zns")
        self.assertEqual(z["result"], "-118")
        self.assertFalse(z["accepted"])
        s = self.one_message(sb, "esms")
        self.assertEqual(s["to"], "0912000118")
        self.assertTrue(s["accepted"])
        self.assertLess(s["received_ms"] - z["received_ms"], 5000)
        self.assertEqual(sb.stats()["requests"]["zns"], 1)

    def test_route_by_address_and_fallback(self):
        """OA needs a Zalo id, Messenger a PSID: households without one
        skip that channel; a permanent Messenger error (551) moves on."""
        sb = self.sandbox()
        d = self.start(sb, [("oa", "zalo_oa", {}),
                            ("fb", "messenger", {}),
                            ("zns", "zns", {})])
        self.household(d, "Chỉ số điện thoại", "0912345601")
        self.household(d, "Có Zalo", "0912345602",
                       zalo_user_id="2512523625412515")
        self.household(d, "Có Messenger", "0912345603",
                       messenger_psid="24680135792468")
        self.household(d, "Messenger lỗi", "0912345604",
                       messenger_psid="24680135000551")
        b = self.notice(d)
        b = self.wait_done(d, b["id"])
        self.assertEqual(b["counts"]["sent"], 4, b)
        dl = {x["name"]: x["channel"] for x in self.deliveries(d, b["id"])}
        self.assertEqual(dl, {"Chỉ số điện thoại": "zns", "Có Zalo": "oa",
                              "Có Messenger": "fb", "Messenger lỗi": "zns"})
        st = sb.stats()
        self.assertEqual(st["requests"]["oa"], 1, st)
        self.assertEqual(st["requests"]["messenger"], 2, st)
        self.assertEqual(st["by_status"]["messenger"],
                         {"ok": 1, "551/1545041": 1}, st)
        self.assertEqual(sorted(m["to"] for m in
                                sb.messages(provider="zns")),
                         ["84912345601", "84912345604"])

    def test_permanent_on_last_channel_fails(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {}), ("sms", "esms", {})])
        self.household(d, "Số sai", "0912000108")
        self.household(d, "Số tốt", "0912345678")
        b = self.notice(d)
        b = self.wait_done(d, b["id"])
        self.assertEqual(b["counts"]["failed"], 1, b)
        self.assertEqual(b["counts"]["sent"], 1, b)
        dl = {x["name"]: x for x in self.deliveries(d, b["id"])}
        bad = dl["Số sai"]
        self.assertEqual(bad["status"], "failed", bad)
        self.assertEqual(bad["channel"], "sms", bad)
        self.assertEqual(bad["code"], "108", bad)
        self.assertEqual(bad["message"], "Phone number is invalid", bad)
        self.assertIsNone(bad["sent_ms"], bad)
        self.assertIsInstance(bad["final_ms"], int, bad)
        self.assertEqual(dl["Số tốt"]["channel"], "zns")
        st = sb.stats()
        self.assertEqual(st["requests"]["zns"], 2)
        self.assertEqual(st["requests"]["esms"], 1)
        self.assertEqual(st["by_status"]["zns"].get("-108"), 1, st)
        self.assertEqual(st["by_status"]["esms"].get("108"), 1, st)
        # (rate_limited for a moment after a send: our own limit binds)
        self.wait_chan(d, "sms", "ok", timeout=5)

    def test_permanent_tries_next_phone_first(self):
        """A phone a phone-addressed channel refuses for good: the
        household's next phone on the same channel, before the next
        channel; with every phone refused, the next channel from the
        first phone again."""
        sb = self.sandbox()
        # a 10 s backoff: "at once" cannot be a retry in disguise
        d = self.start(sb, [("zns", "zns", {}), ("sms", "esms", {})],
                       retry_initial="10s", retry_max="20s")
        self.ok(d.post("/v1/households", {
            "group": "2A", "name": "Số đầu không Zalo",
            "phones": ["0912000118", "0912345611"]}), 201)
        self.ok(d.post("/v1/households", {
            "group": "2A", "name": "Hai số sai",
            "phones": ["0912000108", "0913000108"]}), 201)
        self.household(d, "Một số không Zalo", "0914000118")
        b = self.notice(d)
        b = self.wait_done(d, b["id"], timeout=8)
        dl = {x["name"]: x for x in self.deliveries(d, b["id"])}

        second = dl["Số đầu không Zalo"]
        self.assertEqual(second["status"], "sent", second)
        self.assertEqual(second["channel"], "zns", second)
        self.assertEqual(second["recipient"], "+84912345611", second)
        self.assertEqual(second["attempts"], 2, second)

        bad = dl["Hai số sai"]
        self.assertEqual(bad["status"], "failed", bad)
        self.assertEqual(bad["channel"], "sms", bad)
        self.assertEqual(bad["code"], "108", bad)
        self.assertEqual(bad["recipient"], "+84913000108", bad)
        self.assertEqual(bad["attempts"], 4, bad)

        one = dl["Một số không Zalo"]
        self.assertEqual(one["status"], "sent", one)
        self.assertEqual(one["channel"], "sms", one)
        self.assertEqual(one["attempts"], 2, one)

        zns = sb.messages(provider="zns")
        self.assertEqual(sorted((m["to"], m["result"]) for m in zns), [
            ("84912000108", "-108"), ("84912000118", "-118"),
            ("84912345611", "ok"), ("84913000108", "-108"),
            ("84914000118", "-118")], zns)
        by_to = {m["to"]: m for m in zns}
        self.assertLess(by_to["84912345611"]["received_ms"] -
                        by_to["84912000118"]["received_ms"], 5000)
        esms = sb.messages(provider="esms")
        # the first phone first, then the second; none for the household
        # reached on its second phone
        self.assertEqual([m["to"] for m in esms if m["to"] != "0914000118"],
                         ["0912000108", "0913000108"], esms)
        self.assertEqual(len(esms), 3, esms)

    def test_transient_keeps_the_phone(self):
        """A transient error retries the same phone; the next channel
        then starts from the first phone (the second is never tried)."""
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"max_attempts": "2"}),
                            ("sms", "esms", {})])
        self.ok(d.post("/v1/households", {
            "group": "2A", "name": "Lỗi tạm",
            "phones": ["0912000100", "0912345612"]}), 201)
        b = self.notice(d)
        b = self.wait_done(d, b["id"], timeout=15)
        dl = self.deliveries(d, b["id"])[0]
        self.assertEqual(dl["status"], "sent", dl)
        self.assertEqual(dl["channel"], "sms", dl)
        self.assertEqual(dl["recipient"], "+84912000100", dl)
        z = sb.messages(provider="zns")
        self.assertEqual([(m["to"], m["result"]) for m in z],
                         [("84912000100", "-100")] * 2, z)
        self.assertEqual(self.one_message(sb, "esms")["to"], "0912000100")

    def test_transient_backoff_max_attempts_then_next(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"max_attempts": "3"}),
                            ("sms", "esms", {})],
                       max_attempts="5", retry_max="4s")
        self.household(d, "Lỗi tạm", "0912000100")
        b = self.notice(d)
        b = self.wait_done(d, b["id"], timeout=30)
        dl = self.deliveries(d, b["id"])[0]
        self.assertEqual(dl["status"], "sent", dl)
        self.assertEqual(dl["channel"], "sms", dl)
        self.assertEqual(dl["attempts"], 4, dl)
        z = sb.messages(provider="zns")
        self.assertEqual([m["result"] for m in z], ["-100"] * 3, z)
        s = self.one_message(sb, "esms")
        t = [m["received_ms"] for m in z] + [s["received_ms"]]
        gaps = [b_ - a for a, b_ in zip(t, t[1:])]
        # retry_initial 1s doubled per attempt, each with jitter in
        # [d/2, d]: >= 500 ms, then >= 1000 ms; the move to the next
        # channel is immediate
        self.assertGreaterEqual(gaps[0], 500 - 1, gaps)
        self.assertGreaterEqual(gaps[1], 1000 - 1, gaps)
        self.assertLess(gaps[0], 1000 + 2000, gaps)
        self.assertLess(gaps[1], 2000 + 2000, gaps)
        self.assertLess(gaps[2], 1000, gaps)
        self.assertEqual(sb.stats()["requests"]["zns"], 3)

    def test_transient_http_503(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"max_attempts": "2"}),
                            ("sms", "esms", {})])
        sb.behaviour({"provider": "zns", "mode": "503", "retry_after": 1})
        self.household(d, "Máy chủ lỗi", "0912345678")
        b = self.notice(d)
        b = self.wait_done(d, b["id"], timeout=30)
        dl = self.deliveries(d, b["id"])[0]
        self.assertEqual(dl["status"], "sent", dl)
        self.assertEqual(dl["channel"], "sms", dl)
        st = sb.stats()
        self.assertEqual(st["requests"]["zns"], 2, st)
        self.assertEqual(st["by_status"]["zns"], {"http_503": 2}, st)
        self.assertEqual(st["messages"]["esms"], 1, st)

    def test_auth_error_pauses_channel(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"access_token_file":
                                             sb.secret("bad", "wrong")})])
        self.household(d, "Hộ 1", "0912345678")
        b = self.notice(d)
        c = self.wait_chan(d, "zns", "auth_failed")
        self.assertIn("-124", c["message"])
        self.assertEqual(c["failed"], 0, c)
        n = sb.stats()["requests"]["zns"]
        self.assertEqual(n, 1)
        time.sleep(2)   # a window in which nothing may happen
        b = self.bcast(d, b["id"])
        self.assertEqual(b["counts"]["queued"], 1, b)
        self.assertEqual(b["counts"]["failed"], 0, b)
        self.assertEqual(b["state"], "active", b)
        dl = self.deliveries(d, b["id"])[0]
        self.assertEqual(dl["status"], "queued", dl)
        self.assertEqual(sb.stats()["requests"]["zns"], n)
        self.assertEqual(self.chan_status(d, "zns")["state"], "auth_failed")

    def test_config_error_pauses_channel(self):
        # the sandbox accepts only template 999999: -109 for ours
        sb = self.sandbox("--zns-template", "999999")
        d = self.start(sb, [("zns", "zns", {})])
        self.household(d, "Hộ 1", "0912345678")
        b = self.notice(d)
        c = self.wait_chan(d, "zns", "config_error")
        self.assertIn("-109", c["message"])
        # (the sandbox does not record messages it rejects in validation)
        self.assertEqual(sb.stats()["by_status"]["zns"], {"-109": 1})
        time.sleep(2)
        dl = self.deliveries(d, b["id"])[0]
        self.assertEqual(dl["status"], "queued", dl)
        b = self.bcast(d, b["id"])
        self.assertEqual(b["counts"]["failed"], 0, b)
        self.assertEqual(sb.stats()["requests"]["zns"], 1)
        # the fix is a config change and a reload: the delivery was not
        # burned and goes out
        sb2 = self.sandbox()
        d.write_config(d.config_text.replace(
            "127.0.0.1:%d" % sb.port, "127.0.0.1:%d" % sb2.port))
        d.signal(signal.SIGHUP)
        b = self.wait_done(d, b["id"], timeout=20)
        self.assertEqual(b["counts"]["sent"], 1, b)
        self.one_message(sb2, "zns")


# ---------------------------------------------------------------------------

class TestFlow(BroadcastCase):
    """Rate limit, priorities, quiet hours, expiry."""

    def test_rate_limit_never_exceeded(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"rate": "20"})])
        phones = phone_range("0912", 310000, 200)
        self.import_phones(d, "2A", phones)
        b = self.notice(d)
        b = self.wait_done(d, b["id"], timeout=60)
        self.assertEqual(b["counts"]["sent"], 200, b)
        st = sb.stats()
        self.assertEqual(st["messages"]["zns"], 200, st)
        self.assertEqual(st["duplicates"], 0, st)
        t = sorted(m["received_ms"] for m in sb.messages(provider="zns"))
        self.assertLessEqual(st["max_per_1000ms"]["zns"], 20,
                             "densest 1000 ms at the sandbox: %r"
                             % (densest(t),))
        self.assertLessEqual(st["max_per_second"]["zns"], 20, st)
        self.assertEqual(len(t), 200)
        self.assertGreaterEqual(t[-1] - t[0], 9000)
        self.assertEqual(sorted(m["to"] for m in
                                sb.messages(provider="zns")),
                         sorted(intl(p) for p in phones))

    def test_urgent_overtakes_normal_backlog(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"rate": "20"})])
        self.import_phones(d, "2A", phone_range("0913", 100000, 1000))
        urgent_phones = phone_range("0914", 100000, 20)
        self.import_phones(d, "2B", urgent_phones)
        normal = self.notice(d, groups=["2A"])
        self.wait_counts(d, normal["id"], 30, "normal sends to begin",
                         lambda c: c["sent"] >= 20)
        urgent = self.notice(d, groups=["2B"], priority="urgent",
                             title="Cảnh báo lũ")
        u = self.wait_done(d, urgent["id"], timeout=30)
        n = self.bcast(d, normal["id"])
        self.assertEqual(u["counts"]["sent"], 20, u)
        # 1000 normal at 20/s need 50 s; the urgent ones went in between
        self.assertGreaterEqual(n["counts"]["queued"], 700, n)
        self.assertEqual(n["state"], "active", n)
        got = {m["to"] for m in sb.messages(provider="zns")
               if m["to"] in {intl(p) for p in urgent_phones}}
        self.assertEqual(len(got), 20)
        self.ok(d.post("/v1/broadcasts/%d/cancel" % normal["id"]))

    def test_quiet_hours_hold_normal_not_urgent(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {})], quiet_hours=quiet_now())
        self.household(d, "Hộ thường", "0912345601", group="2A")
        self.household(d, "Hộ khẩn", "0912345602", group="2B")
        normal = self.notice(d, groups=["2A"])
        urgent = self.notice(d, groups=["2B"], priority="urgent")
        self.wait_done(d, urgent["id"], timeout=15)
        time.sleep(2)   # normal has had time and must not have moved
        n = self.bcast(d, normal["id"])
        self.assertEqual(n["counts"]["queued"], 1, n)
        self.assertEqual(n["counts"]["sent"], 0, n)
        self.assertEqual([m["to"] for m in sb.messages(provider="zns")],
                         ["84912345602"])
        st = self.wait(lambda: (lambda s: s if s["queue"]["normal"] == 1
                                else None)(self.status(d)), 5,
                       "queue.normal == 1")
        self.assertEqual(st["queue"]["urgent"], 0, st)
        self.assertEqual(self.deliveries(d, normal["id"])[0]["status"],
                         "queued")

    def test_notice_expires_never_sent_late(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"timeout": "2s",
                                            "breaker_failures": "1000"})])
        self.household(d, "Lỗi 503", "0912000503")
        self.household(d, "Treo", "0912000999")
        expires = now_ms() + 5000
        b = self.notice(d, expires_at=expires)
        self.assertEqual(b["expires_ms"], expires, b)
        b = self.wait_done(d, b["id"], timeout=30)
        self.assertEqual(b["counts"]["expired"], 2, b)
        self.assertEqual(b["counts"]["sent"], 0, b)
        for x in self.deliveries(d, b["id"]):
            self.assertEqual(x["status"], "expired", x)
            self.assertIsNone(x["sent_ms"], x)
            # marked when the next try would come too late: at most
            # retry_max (2 s) early
            self.assertGreaterEqual(x["final_ms"], expires - 2000 - 50, x)
        msgs = sb.messages(provider="zns")
        self.assertGreaterEqual(len(msgs), 2, msgs)
        for m in msgs:
            self.assertLess(m["received_ms"], expires, m)
        n = sb.stats()["requests"]["zns"]
        time.sleep(2)
        self.assertEqual(sb.stats()["requests"]["zns"], n)

    def meeting(self, d, starts, **kw):
        body = {"kind": "meeting", "title": "Họp gấp", "starts_at": starts,
                "place": "Nhà văn hóa", "agenda": "Phòng chống lũ",
                "groups": ["2A"], "reminders": ["3 seconds before"]}
        body.update(kw)
        b = self.create(d, body)
        self.assertEqual(b["reminders_ms"], [3000], b)
        self.assertEqual(b["expires_ms"], starts, b)
        return b

    def test_meeting_waves_expire_at_start(self):
        """Quiet hours hold both waves of a normal meeting: at the start
        every delivery of both is expired, none sent."""
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {})], quiet_hours=quiet_now())
        self.household(d, "Hộ 1", "0912345601")
        self.household(d, "Hộ 2", "0912345602")
        starts = now_ms() + 6000
        b = self.meeting(d, starts)
        self.wait_counts(d, b["id"], 10, "both waves queued",
                         lambda c: c["queued"] == 4)
        self.assertLess(now_ms(), starts, "the machine is too slow")
        b = self.wait_done(d, b["id"], timeout=20)
        self.assertGreaterEqual(now_ms(), starts)
        self.assertEqual(b["counts"]["expired"], 4, b)
        self.assertEqual(b["progress"]["total"], 4, b)
        self.assertEqual(b["state"], "done", b)
        waves = b["waves"]
        self.assertEqual([(w["seq"], w["total"]) for w in waves],
                         [(0, 2), (1, 2)], waves)
        self.assertEqual(waves[1]["send_at_ms"], starts - 3000, waves)
        for w in waves:
            self.assertEqual(w["expires_ms"], starts, w)
        for x in self.deliveries(d, b["id"]):
            self.assertEqual(x["status"], "expired", x)
            self.assertGreaterEqual(x["final_ms"], starts, x)
        self.assertEqual(sb.stats()["requests"]["zns"], 0)

    def test_paused_meeting_expires_at_start(self):
        """A meeting paused before its waves went out, resumed after its
        start: each wave still has one delivery per household, recorded
        as expired (api.md: "Each wave has one delivery per household";
        "Expired deliveries are recorded as expired")."""
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {})])
        self.household(d, "Hộ 1", "0912345601")
        self.household(d, "Hộ 2", "0912345602")
        starts = now_ms() + 6000
        b = self.meeting(d, starts, send_at=starts - 4000)
        self.assertEqual(b["state"], "scheduled", b)
        self.assertEqual(self.ok(d.post("/v1/broadcasts/%d/pause"
                                        % b["id"]))["state"], "paused")
        self.wait(lambda: now_ms() > starts + 500, 20, "the start")
        r = d.post("/v1/broadcasts/%d/resume" % b["id"])
        b = self.wait(lambda: (lambda x: x if x["state"] == "done" else
                               None)(self.bcast(d, b["id"])), 20,
                      "the broadcast to be done")
        self.assertEqual(sb.stats()["requests"]["zns"], 0)
        self.assertEqual(b["counts"]["expired"], 4, (b, r))
        self.assertEqual(b["counts"]["sent"], 0, b)

    def test_meeting_sends_waves_until_start(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"breaker_failures": "1000"})])
        self.household(d, "Hộ 1", "0912345601")
        self.household(d, "Hộ 503", "0912000503")
        starts = now_ms() + 7000
        b = self.create(d, {"kind": "meeting", "title": "Họp gấp",
                            "starts_at": starts, "place": "Nhà văn hóa",
                            "agenda": "Phòng chống lũ", "groups": ["2A"],
                            "reminders": ["3s"]})
        b = self.wait(lambda: (lambda x: x if x["progress"]["final"] == 4
                               and x["counts"]["sending"] == 0 else None)(
                                   self.bcast(d, b["id"])), 30,
                      "both waves final")
        self.assertEqual(b["counts"]["sent"], 2, b)
        self.assertEqual(b["counts"]["expired"], 2, b)
        ok = sb.messages(provider="zns", to="84912345601")
        self.assertEqual(len(ok), 2, ok)
        self.assertGreaterEqual(ok[1]["received_ms"], starts - 3000)
        for m in sb.messages(provider="zns"):
            self.assertLess(m["received_ms"], starts, m)


# ---------------------------------------------------------------------------

class TestControl(BroadcastCase):
    """Idempotency, cancel, pause, resume, retry, status, preview."""

    def test_idempotency_key(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {})])
        self.household(d, "Hộ 1", "0912345601")
        body = {"kind": "notice", "title": "Họp", "body": "Tối nay",
                "groups": ["2A"]}
        a = self.create(d, body, headers={"Idempotency-Key": "abc-1"})
        a2 = self.create(d, body, status=200,
                         headers={"Idempotency-Key": "abc-1"})
        self.assertEqual(a2["id"], a["id"])
        self.assertEqual(a2["idempotency_key"], "abc-1")
        b = self.create(d, dict(body, idempotency_key="abc-2"))
        b2 = self.create(d, dict(body, idempotency_key="abc-2"),
                         status=200)
        self.assertEqual(b2["id"], b["id"])
        self.assertNotEqual(a["id"], b["id"])
        lst = self.ok(d.get("/v1/broadcasts"))["broadcasts"]
        self.assertEqual(sorted(x["id"] for x in lst),
                         sorted([a["id"], b["id"]]))
        self.wait_done(d, a["id"])
        self.wait_done(d, b["id"])
        self.assertEqual(len(sb.messages(provider="zns")), 2)

    def test_cancel(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"rate": "10"})])
        self.import_phones(d, "2A", phone_range("0912", 400000, 100))
        b = self.notice(d)
        self.wait_counts(d, b["id"], 30, "some sent",
                         lambda c: c["sent"] >= 5)
        r = self.ok(d.post("/v1/broadcasts/%d/cancel" % b["id"]))
        self.assertEqual(r["state"], "cancelled", r)
        b = self.wait_counts(d, b["id"], 15, "nothing in flight",
                             lambda c: c["sending"] == 0)
        c = b["counts"]
        self.assertEqual(c["queued"], 0, b)
        self.assertGreater(c["cancelled"], 50, b)
        self.assertEqual(c["sent"] + c["cancelled"], 100, b)
        time.sleep(1.5)
        st = sb.stats()
        self.assertEqual(st["requests"]["zns"], c["sent"], st)
        self.assertEqual(self.bcast(d, b["id"])["counts"], c)
        cancelled = self.deliveries(d, b["id"], status="cancelled")
        self.assertEqual(len(cancelled), c["cancelled"])
        sent_to = {m["to"] for m in sb.messages(provider="zns")}
        for x in cancelled:
            self.assertNotIn(x["phone"][1:], sent_to, x)
        self.assertStatus(d.post("/v1/broadcasts/%d/resume" % b["id"]),
                          409)

    def test_pause_resume(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"rate": "20"})])
        self.import_phones(d, "2A", phone_range("0912", 500000, 60))
        b = self.notice(d)
        self.wait_counts(d, b["id"], 30, "some sent",
                         lambda c: c["sent"] >= 5)
        r = self.ok(d.post("/v1/broadcasts/%d/pause" % b["id"]))
        self.assertEqual(r["state"], "paused", r)
        p = self.wait_counts(d, b["id"], 15, "nothing in flight",
                             lambda c: c["sending"] == 0)
        n = sb.stats()["requests"]["zns"]
        self.assertEqual(n, p["counts"]["sent"], p)
        self.assertLess(n, 60)
        time.sleep(2)
        self.assertEqual(sb.stats()["requests"]["zns"], n)
        self.assertEqual(self.bcast(d, b["id"])["counts"], p["counts"])
        r = self.ok(d.post("/v1/broadcasts/%d/resume" % b["id"]))
        self.assertEqual(r["state"], "active", r)
        b = self.wait_done(d, b["id"], timeout=30)
        self.assertEqual(b["counts"]["sent"], 60, b)
        self.assertEqual(b["state"], "done", b)
        st = sb.stats()
        self.assertEqual(st["messages"]["zns"], 60, st)
        self.assertEqual(st["duplicates"], 0, st)

    def test_retry_failed(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {})])
        self.import_phones(d, "2A", phone_range("0912", 600000, 5))
        sb.behaviour({"provider": "zns", "error_rate": 1, "error": {
            "status": 200, "body": {"error": -118,
                                    "message": "Zalo account not existed"}}})
        b = self.notice(d)
        b = self.wait_done(d, b["id"])
        self.assertEqual(b["counts"]["failed"], 5, b)
        self.assertEqual(b["state"], "done", b)
        for x in self.deliveries(d, b["id"]):
            self.assertEqual(x["code"], "-118", x)
        self.assertEqual(sb.stats()["messages"]["zns"], 0)
        sb.clear_behaviour()
        r = self.ok(d.post("/v1/broadcasts/%d/retry" % b["id"]))
        self.assertEqual(r["requeued"], 5, r)
        b = self.wait_done(d, b["id"])
        self.assertEqual(b["counts"]["sent"], 5, b)
        self.assertEqual(b["counts"]["failed"], 0, b)
        self.assertEqual(sb.stats()["messages"]["zns"], 5)
        r = self.ok(d.post("/v1/broadcasts/%d/retry" % b["id"]))
        self.assertEqual(r["requeued"], 0, r)

    def test_status_queue_and_channels(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {"rate": "7"}),
                            ("sms", "esms", {})], quiet_hours=quiet_now())
        self.import_phones(d, "2A", phone_range("0912", 700000, 5))
        t0 = now_ms()
        self.notice(d)
        st = self.wait(lambda: (lambda s: s if s["queue"]["normal"] == 5
                                else None)(self.status(d)), 10,
                       "queue.normal == 5")
        self.assertEqual(st["queue"]["urgent"], 0, st)
        self.assertGreaterEqual(st["queue"]["oldest_ms"], t0 - 1000, st)
        self.assertLessEqual(st["queue"]["oldest_ms"], now_ms(), st)
        ch = {c["name"]: c for c in st["channels"]}
        self.assertEqual(set(ch), {"zns", "sms"})
        self.assertEqual(ch["zns"]["driver"], "zns")
        self.assertEqual(ch["sms"]["driver"], "esms")
        self.assertEqual(ch["zns"]["state"], "ok")
        self.assertEqual(ch["zns"]["rate"], 7)
        self.assertEqual(ch["zns"]["in_flight"], 0)
        self.assertEqual(ch["zns"]["sent"], 0)

    def test_preview_sms_segments(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {}), ("sms", "esms", {}),
                            ("tw", "twilio", {"unicode": "yes"})])
        self.household(d, "Hộ 1", "0912345601")
        body = "Điện " + "a" * 190
        r = self.ok(d.post("/v1/broadcasts/preview", {
            "kind": "notice", "title": "Cúp", "body": body,
            "groups": ["2A"]}))
        ms = {m["channel"]: m for m in r["messages"]}
        self.assertEqual(list(ms), ["zns", "sms", "tw"])
        self.assertEqual(ms["sms"]["driver"], "esms")
        ascii_ = "Thong bao: Cup. Dien " + "a" * 190
        self.assertEqual(ms["sms"]["text"], ascii_)
        self.assertEqual(ms["sms"]["sms"], {"encoding": "GSM-7",
                                            "segments": 2,
                                            "units": len(ascii_)})
        uni = "Thông báo: Cúp. " + body
        self.assertEqual(ms["tw"]["text"], uni)
        self.assertEqual(ms["tw"]["sms"], {"encoding": "UCS-2",
                                           "segments": 4,
                                           "units": len(uni)})
        self.assertNotIn("sms", ms["zns"])
        self.assertEqual(r["sms_warn_segments"], 3)
        self.assertEqual(self.ok(d.get("/v1/broadcasts"))["broadcasts"], [])
        self.assertEqual(sb.stats()["requests"]["zns"], 0)


# ---------------------------------------------------------------------------

class TestOAuth(BroadcastCase):

    def test_token_rotation_persisted_across_restart(self):
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns", {}, True)])
        self.household(d, "Hộ 1", "0912345601")
        self.household(d, "Hộ 2", "0912345602", group="2B")
        b = self.notice(d, groups=["2A"])
        self.wait_done(d, b["id"], timeout=20)
        tok = sb.tokens()
        m = self.one_message(sb, "zns")
        self.assertTrue(m["accepted"], m)
        refreshes = sb.stats()["by_status"].get("oauth", {})
        self.assertEqual(refreshes, {"ok": 1}, (refreshes, tok))
        self.wait_chan(d, "zns", "ok", timeout=5)
        # the first refresh token is spent; loaxad holds -1
        d.restart()
        sb.behaviour({"expire_tokens": True})
        b = self.notice(d, groups=["2B"])
        b = self.wait_done(d, b["id"], timeout=30)
        self.assertEqual(b["counts"]["sent"], 1, b)
        st = sb.stats()
        self.assertEqual(st["by_status"]["oauth"], {"ok": 2}, st)
        self.assertEqual(st["by_status"]["zns"].get("-124"), 1, st)
        self.assertEqual(st["messages"]["zns"], 2, st)
        self.wait_chan(d, "zns", "ok", timeout=5)
        # and once more: the second rotation persisted too
        d.restart()
        sb.behaviour({"expire_tokens": True})
        b = self.notice(d, groups=["2A", "2B"])
        b = self.wait_done(d, b["id"], timeout=30)
        self.assertEqual(b["counts"]["sent"], 2, b)
        self.assertEqual(sb.stats()["by_status"]["oauth"], {"ok": 3})


if __name__ == "__main__":
    unittest.main(verbosity=2)
