#!/usr/bin/env python3
"""loaxa-sandbox, the fake messaging provider: every endpoint's success and
error shapes (as documented in docs/sandbox.md and providers.md), the
recipient triggers, the control API, the behaviour rules, the process
(options, port file, signals) and hostile input.

Run with LOAXA_SANDBOX=path/to/loaxa-sandbox; without it this file exits 77
(skipped). Python 3 stdlib only.
"""

import base64
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

SKIP = 77
SANDBOX = os.environ.get("LOAXA_SANDBOX", "")

ZNS = "/message/template"
OA_CS = "/v3.0/oa/message/cs"
OA_TX = "/v3.0/oa/message/transaction"
OAUTH = "/v4/oa/access_token"
ESMS = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
TWILIO = "/2010-04-01/Accounts/ACsandbox/Messages.json"
MESSENGER = "/v19.0/1234567890/messages"

ACCESS = "sandbox-access-token"
PAGE_TOKEN = "sandbox-page-token"
TWILIO_AUTH = "Basic " + base64.b64encode(
    b"ACsandbox:sandbox-twilio-token").decode()

DISCONNECTED = (http.client.RemoteDisconnected, ConnectionResetError,
                http.client.BadStatusLine, BrokenPipeError)


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name):
        return self.headers.get(name.lower())


class Sandbox:
    """One loaxa-sandbox process on a free loopback port."""

    def __init__(self, *args):
        self.tmp = tempfile.mkdtemp(prefix="loaxa-sandbox-test-")
        self.port_file = os.path.join(self.tmp, "port")
        self.record = os.path.join(self.tmp, "record.jsonl")
        self.stderr_path = os.path.join(self.tmp, "stderr")
        self.stderr = open(self.stderr_path, "wb")
        cmd = [SANDBOX, "--listen", "127.0.0.1:0", "--port-file",
               self.port_file, "--record", self.record] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self.stderr,
                                     stdin=subprocess.DEVNULL)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        if not ready:
            self.kill()
            raise AssertionError("loaxa-sandbox did not start in 10 s")
        line = self.proc.stdout.readline().decode()
        m = re.match(r"^listening on 127\.0\.0\.1:(\d+)\n$", line)
        if not m:
            self.kill()
            raise AssertionError("unexpected first line %r, stderr: %s"
                                 % (line, self.read_stderr()))
        self.port = int(m.group(1))
        with open(self.port_file) as f:
            assert int(f.read().strip()) == self.port

    def read_stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def request(self, method, path, body=None, headers=None, timeout=10):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {})
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            return Reply(resp.status, hdrs, data)
        finally:
            conn.close()

    def post(self, path, body=None, headers=None, **kw):
        return self.request("POST", path, body, headers, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def control(self, method, path, body=None):
        r = self.request(method, "/_sandbox/" + path, body)
        return r.status, r.json()

    def stats(self):
        return self.control("GET", "stats")[1]

    def messages(self, **query):
        q = urllib.parse.urlencode(query)
        return self.control("GET", "messages" + ("?" + q if q else ""))[1]

    def rules(self, rules):
        status, body = self.control("POST", "behaviour", rules)
        assert status == 200, body
        return body

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        finally:
            self.kill()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        if not os.environ.get("LOAXA_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)


def zns_body(phone="84987654321", tracking_id="notice-1-hh-1", **extra):
    b = {"phone": phone, "template_id": "123456",
         "template_data": {"customer_name": "Nguyễn Văn A",
                           "meeting_time": "19:30 20/06"},
         "tracking_id": tracking_id}
    b.update(extra)
    return b


def oa_body(user_id="2512523625412515", text="Hop thon luc 19h30"):
    return {"recipient": {"user_id": user_id}, "message": {"text": text}}


def fb_body(psid="24680135792468", text="Hop to dan pho 19h30",
            messaging_type="UPDATE", **extra):
    b = {"recipient": {"id": psid}, "messaging_type": messaging_type,
         "message": {"text": text}}
    b.update(extra)
    return b


def esms_body(phone="0901888484", content="Cam on quy khach", **extra):
    b = {"ApiKey": "sandbox-key", "SecretKey": "sandbox-secret",
         "Phone": phone, "Content": content, "Brandname": "LOAXA",
         "SmsType": "2"}
    b.update(extra)
    return b


def form(**fields):
    return urllib.parse.urlencode(fields)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class SandboxCase(unittest.TestCase):
    """One sandbox for the class, reset before each test."""

    args = ()

    @classmethod
    def setUpClass(cls):
        cls.sb = Sandbox(*cls.args)

    @classmethod
    def tearDownClass(cls):
        rc = cls.sb.stop()
        if rc != 0:
            raise AssertionError("exit %s, stderr: %s" % (rc, ""))

    def setUp(self):
        status, body = self.sb.control("POST", "reset")
        self.assertEqual((status, body), (200, {"ok": True}))

    # ---- senders ----
    def zns(self, body, token=ACCESS, **kw):
        h = {"access_token": token} if token is not None else {}
        return self.sb.post(ZNS, body, h, **kw)

    def oa(self, body, path=OA_CS, token=ACCESS):
        h = {"access_token": token} if token is not None else {}
        return self.sb.post(path, body, h)

    def fb(self, body, path=MESSENGER, token=PAGE_TOKEN):
        if token is not None:
            path += "?access_token=" + urllib.parse.quote(token)
        return self.sb.post(path, body)

    def twilio(self, path=TWILIO, auth=TWILIO_AUTH, **fields):
        h = dict(FORM)
        if auth:
            h["Authorization"] = auth
        return self.sb.post(path, form(**fields), h)

    def assertZaloError(self, r, code):
        self.assertEqual(r.status, 200, r.body)
        j = r.json()
        self.assertEqual(j["error"], code, j)
        self.assertIsInstance(j["message"], str)
        self.assertNotIn("data", j)

    def assertGraphError(self, r, status, code, subcode=None):
        self.assertEqual(r.status, status, r.body)
        e = r.json()["error"]
        self.assertEqual(e["code"], code, e)
        if subcode is not None:
            self.assertEqual(e["error_subcode"], subcode, e)
        self.assertIsInstance(e["message"], str)
        self.assertIsInstance(e["type"], str)
        self.assertIsInstance(e["fbtrace_id"], str)

    def assertEsms(self, r, code):
        self.assertEqual(r.status, 200, r.body)
        j = r.json()
        self.assertEqual(j["CodeResult"], code, j)
        if code != "100":
            self.assertIsInstance(j["ErrorMessage"], str)

    def assertTwilioError(self, r, status, code):
        self.assertEqual(r.status, status, r.body)
        j = r.json()
        self.assertEqual(j["code"], code, j)
        self.assertEqual(j["status"], status)
        self.assertIsInstance(j["message"], str)
        self.assertTrue(j["more_info"].endswith(str(code)))


class Zns(SandboxCase):
    def test_success_shape(self):
        r = self.zns(zns_body())
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("content-type").startswith("application/json"))
        j = r.json()
        self.assertEqual(j["error"], 0)
        self.assertEqual(j["message"], "Success")
        d = j["data"]
        self.assertRegex(d["msg_id"], r"^[0-9a-f]{20}$")
        self.assertRegex(d["sent_time"], r"^\d{13}$")
        self.assertEqual(d["sending_mode"], "1")
        self.assertEqual(d["quota"]["dailyQuota"], "1000000")
        self.assertEqual(d["quota"]["remainingQuota"], "999999")
        self.assertLess(abs(int(d["sent_time"]) - time.time() * 1000), 60000)
        r2 = self.zns(zns_body("+84912345678", "notice-1-hh-2",
                               sending_mode="3"))
        d2 = r2.json()["data"]
        self.assertEqual(d2["quota"]["remainingQuota"], "999998")
        self.assertEqual(d2["sending_mode"], "3")
        self.assertNotEqual(d["msg_id"], d2["msg_id"])

    def test_auth(self):
        self.assertZaloError(self.zns(zns_body(), token=None), -124)
        self.assertZaloError(self.zns(zns_body(), token="expired"), -124)
        self.assertZaloError(self.zns(zns_body(), token=""), -124)
        # Authorization: Bearer is not how Zalo takes the token.
        r = self.sb.post(ZNS, zns_body(), {"Authorization": "Bearer " + ACCESS})
        self.assertZaloError(r, -124)
        self.assertEqual(self.sb.stats()["by_status"]["zns"], {"-124": 4})

    def test_validation(self):
        cases = [
            (zns_body("0987654321"), -108),       # national form
            (zns_body("987654321"), -108),
            (zns_body("84287654321"), -108),      # landline-like NSN
            (zns_body("8498765432"), -108),       # too short
            (zns_body("+8498765432x"), -108),
            (dict(zns_body(), phone=84987654321), -108),
            (dict(zns_body(), template_id=""), -109),
            (dict(zns_body(), template_id=123456), -109),
            (dict(zns_body(), template_data={}), -111),
            ({k: v for k, v in zns_body().items() if k != "template_data"},
             -111),
            (dict(zns_body(), template_data=["a"]), -112),
            (dict(zns_body(), template_data={"n": 1}), -112),
            (dict(zns_body(), template_data={"n": None}), -112),
            (dict(zns_body(), template_data={"n": "x" * 401}), -112),
            ({k: v for k, v in zns_body().items() if k != "tracking_id"},
             -201),
            (dict(zns_body(), sending_mode="2"), -201),
            (dict(zns_body(), sending_mode=1), -201),
        ]
        for body, code in cases:
            with self.subTest(body=body):
                self.assertZaloError(self.zns(body), code)
        self.assertZaloError(self.zns("not json"), -201)
        self.assertZaloError(self.zns([1, 2]), -201)
        self.assertZaloError(self.sb.request("GET", ZNS, None,
                                             {"access_token": ACCESS}), -106)
        self.assertEqual(self.sb.stats()["messages"]["zns"], 0)

    def test_triggers(self):
        for suffix, code in (("000118", -118), ("000114", -114),
                             ("000108", -108), ("000100", -100),
                             ("000110", -110), ("000124", -124)):
            with self.subTest(suffix=suffix):
                self.assertZaloError(self.zns(zns_body("84912" + suffix)),
                                     code)
        r = self.zns(zns_body("84912000429"))
        self.assertEqual(r.status, 429)
        self.assertEqual(r.header("retry-after"), "2")
        r = self.zns(zns_body("84912000503"))
        self.assertEqual(r.status, 503)
        self.assertIn(b"503", r.body)
        self.assertTrue(r.header("content-type").startswith("text/html"))
        with self.assertRaises(socket.timeout):
            self.zns(zns_body("84912000999"), timeout=0.3)
        st = self.sb.stats()
        self.assertEqual(st["messages"]["zns"], 0)
        self.assertEqual(st["by_status"]["zns"]["-118"], 1)
        self.assertEqual(st["by_status"]["zns"]["http_429"], 1)
        self.assertEqual(st["by_status"]["zns"]["hang"], 1)
        m = self.sb.messages(to="84912000118")
        self.assertEqual(m["matched"], 1)
        self.assertEqual(m["messages"][0]["result"], "-118")
        self.assertFalse(m["messages"][0]["accepted"])

    def test_quota(self):
        self.sb.rules({"provider": "zns", "zns_quota": 1, "clear": True})
        r = self.zns(zns_body())
        self.assertEqual(r.json()["data"]["quota"]["remainingQuota"], "0")
        r = self.zns(zns_body(tracking_id="x2"))
        self.assertZaloError(r, -115)
        self.assertIn("quota", r.json()["message"].lower())

    def test_duplicates_and_records(self):
        for _ in range(2):
            self.assertEqual(self.zns(zns_body()).json()["error"], 0)
        # Same person in the +84 form, same tracking id: still a duplicate.
        self.assertEqual(self.zns(zns_body("+84987654321")).json()["error"], 0)
        self.assertEqual(self.zns(zns_body(tracking_id="other")).json()
                         ["error"], 0)
        st = self.sb.stats()
        self.assertEqual(st["messages"]["zns"], 4)
        self.assertEqual(st["duplicates"], 2)
        m = self.sb.messages(provider="zns", to="0987654321")
        self.assertEqual(m["matched"], 4)
        first = m["messages"][0]
        self.assertEqual(first["count"], 3)
        self.assertFalse(first["duplicate"])
        self.assertTrue(m["messages"][1]["duplicate"])
        self.assertEqual(first["template_data"]["customer_name"],
                         "Nguyễn Văn A")
        self.assertEqual(first["tracking_id"], "notice-1-hh-1")
        self.assertEqual(first["to"], "84987654321")
        self.assertEqual(m["messages"][3]["count"], 1)
        # The record file gets the same lines (flushed within 100 ms).
        deadline = time.monotonic() + 3
        lines = []
        while time.monotonic() < deadline:
            with open(self.sb.record) as f:
                lines = [json.loads(x) for x in f if x.strip()]
            if len([x for x in lines if x["provider"] == "zns"]) >= 4:
                break
            time.sleep(0.05)
        zl = [x for x in lines if x["provider"] == "zns"][-4:]
        self.assertEqual([x["count"] for x in zl], [1, 2, 3, 1])
        self.assertEqual(zl[0]["template_data"]["meeting_time"], "19:30 20/06")
        self.assertRegex(zl[0]["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_warnings(self):
        r = self.zns(zns_body(tracking_id="x" * 60))
        self.assertEqual(r.json()["error"], 0)
        m = self.sb.messages(provider="zns")["messages"][-1]
        self.assertIn("tracking_id is longer than 48 characters",
                      m["warnings"])


class ZaloOA(SandboxCase):
    def test_cs_success(self):
        r = self.oa(oa_body())
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("x-ratelimit-limit"), "4000")
        self.assertEqual(r.header("x-ratelimit-remain"), "3999")
        j = r.json()
        self.assertEqual((j["error"], j["message"]), (0, "Success"))
        self.assertRegex(j["data"]["message_id"], r"^[0-9a-f]{20}$")
        self.assertEqual(j["data"]["user_id"], "2512523625412515")
        self.assertRegex(j["data"]["sent_time"], r"^\d{13}$")
        self.assertEqual(j["data"]["quota"],
                         {"quota_type": "reply", "remain": "8", "total": "8"})

    def test_transaction(self):
        att = {"type": "template",
               "payload": {"template_type": "transaction_order",
                           "language": "VI", "elements": []}}
        r = self.oa({"recipient": {"user_id": "77"},
                     "message": {"attachment": att}}, OA_TX)
        j = r.json()
        self.assertEqual(j["error"], 0, j)
        self.assertNotIn("quota", j["data"])
        # Text alone is not a transaction message.
        self.assertZaloError(self.oa(oa_body(), OA_TX), -201)
        m = self.sb.messages(provider="oa")["messages"][0]
        self.assertEqual(m["attachment"], att)
        self.assertEqual(m["endpoint"], "transaction")

    def test_errors(self):
        self.assertZaloError(self.oa(oa_body(), token=None), -216)
        self.assertZaloError(self.oa(oa_body(), token="nope"), -216)
        self.assertZaloError(self.oa(oa_body(user_id="abc")), -201)
        self.assertZaloError(self.oa(oa_body(text="")), -201)
        self.assertZaloError(self.oa(oa_body(text="x" * 2001)), -201)
        self.assertEqual(self.oa(oa_body(text="ư" * 2000)).json()["error"], 0)
        self.assertZaloError(self.oa({"recipient": {"user_id": "1"}}), -201)
        self.assertZaloError(self.sb.post(OA_CS, b"\xff\xfe",
                                          {"access_token": ACCESS}), -201)
        for suffix, code in (("000230", -230), ("000213", -213),
                             ("000244", -244), ("000032", -32)):
            self.assertZaloError(self.oa(oa_body(user_id="99" + suffix)), code)

    def test_expired_token(self):
        self.assertEqual(self.oa(oa_body()).json()["error"], 0)
        self.sb.rules({"expire_tokens": True})
        self.assertEqual(self.sb.control("GET", "behaviour")[1]["rules"], [])
        self.assertZaloError(self.oa(oa_body()), -220)
        self.assertZaloError(self.zns(zns_body()), -124)
        tokens = self.sb.control("GET", "tokens")[1]
        self.assertFalse(tokens["access_tokens"][0]["valid"])


class OAuth(SandboxCase):
    def refresh(self, token, secret="sandbox-app-secret",
                app_id="sandbox-app-id", grant="refresh_token", ctype=None):
        h = dict(FORM)
        if ctype:
            h["Content-Type"] = ctype
        if secret is not None:
            h["secret_key"] = secret
        return self.sb.post(OAUTH, form(refresh_token=token, app_id=app_id,
                                        grant_type=grant), h)

    def test_rotation(self):
        r = self.refresh("sandbox-refresh-token-0")
        self.assertEqual(r.status, 200)
        j = r.json()
        self.assertEqual(set(j), {"access_token", "refresh_token", "expires_in"})
        self.assertEqual(j["expires_in"], "90000")
        self.assertNotEqual(j["refresh_token"], "sandbox-refresh-token-0")
        self.assertNotEqual(j["access_token"], ACCESS)
        # The new access token works; the old one still does until expiry.
        self.assertEqual(self.zns(zns_body(), token=j["access_token"])
                         .json()["error"], 0)
        self.assertEqual(self.zns(zns_body(tracking_id="b")).json()["error"], 0)
        # Single use: the old refresh token is now rejected.
        again = self.refresh("sandbox-refresh-token-0")
        self.assertEqual(again.status, 200)
        self.assertLess(again.json()["error"], 0)
        self.assertNotIn("access_token", again.json())
        # The new one rotates again.
        j2 = self.refresh(j["refresh_token"]).json()
        self.assertNotEqual(j2["refresh_token"], j["refresh_token"])
        tokens = self.sb.control("GET", "tokens")[1]
        self.assertEqual(tokens["refresh_token"], j2["refresh_token"])
        self.assertEqual(tokens["refreshes"], 2)
        self.assertEqual(tokens["refresh_reused"], 1)

    def test_concurrent_refresh(self):
        """Two refreshes racing with one token: exactly one wins."""
        results = []

        def go():
            results.append(self.refresh("sandbox-refresh-token-0").json())

        ts = [threading.Thread(target=go) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wins = [r for r in results if "access_token" in r]
        self.assertEqual(len(wins), 1, results)
        self.assertTrue(all(r["error"] < 0 for r in results
                            if "access_token" not in r))

    def test_errors(self):
        for kw in ({"secret": None}, {"secret": "wrong"},
                   {"app_id": "other"}, {"grant": "authorization_code"},
                   {"ctype": "application/json"}):
            with self.subTest(kw=kw):
                r = self.refresh("sandbox-refresh-token-0", **kw)
                self.assertEqual(r.status, 200)
                self.assertLess(r.json()["error"], 0)
                self.assertIsInstance(r.json()["message"], str)
        r = self.refresh("never-issued")
        self.assertLess(r.json()["error"], 0)
        # None of the failures consumed the token.
        self.assertIn("access_token",
                      self.refresh("sandbox-refresh-token-0").json())


class TokenExpiry(SandboxCase):
    args = ("--token-ttl", "1")

    def test_ttl(self):
        self.assertEqual(self.zns(zns_body()).json()["error"], 0)
        time.sleep(1.2)
        self.assertZaloError(self.zns(zns_body()), -124)
        self.assertZaloError(self.oa(oa_body()), -220)
        j = self.sb.post(OAUTH, form(refresh_token="sandbox-refresh-token-0",
                                     app_id="sandbox-app-id",
                                     grant_type="refresh_token"),
                         dict(FORM, secret_key="sandbox-app-secret")).json()
        self.assertEqual(j["expires_in"], "1")
        self.assertEqual(self.zns(zns_body(), token=j["access_token"])
                         .json()["error"], 0)


class Messenger(SandboxCase):
    def test_success(self):
        r = self.fb(fb_body())
        self.assertEqual(r.status, 200, r.body)
        j = r.json()
        self.assertEqual(set(j), {"recipient_id", "message_id"})
        self.assertEqual(j["recipient_id"], "24680135792468")
        self.assertTrue(j["message_id"].startswith("m_"))
        r = self.fb(fb_body(messaging_type="MESSAGE_TAG",
                            tag="CONFIRMED_EVENT_UPDATE"), "/me/messages")
        self.assertEqual(r.status, 200, r.body)
        # Form-encoded, token in the form.
        body = form(recipient=json.dumps({"id": "555"}),
                    message=json.dumps({"text": "Hop"}),
                    messaging_type="RESPONSE", access_token=PAGE_TOKEN)
        r = self.sb.post("/v2.6/me/messages", body, FORM)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["recipient_id"], "555")
        m = self.sb.messages(provider="messenger")
        self.assertEqual(m["matched"], 3)
        self.assertEqual(m["messages"][1]["tag"], "CONFIRMED_EVENT_UPDATE")

    def test_errors(self):
        self.assertGraphError(self.fb(fb_body(), token=None), 400, 190)
        self.assertGraphError(self.fb(fb_body(), token="bad"), 400, 190)
        self.assertGraphError(self.fb(fb_body(), "/v19.0/999/messages"),
                              400, 100)
        b = fb_body()
        del b["messaging_type"]
        self.assertGraphError(self.fb(b), 400, 100)
        self.assertGraphError(self.fb(fb_body(messaging_type="MESSAGE_TAG")),
                              400, 100)
        self.assertGraphError(self.fb(fb_body(messaging_type="MESSAGE_TAG",
                                              tag="COMMUNITY_ALERT")), 400, 100)
        self.assertGraphError(self.fb(fb_body(text="x" * 2001)), 400, 100)
        self.assertEqual(self.fb(fb_body(text="đ" * 2000)).status, 200)
        self.assertGraphError(self.fb(fb_body(psid="abc")), 400, 100, 2018001)
        self.assertGraphError(self.fb({"recipient": {"id": "1"},
                                       "messaging_type": "UPDATE"}), 400, 100)
        self.assertGraphError(self.fb("{broken"), 400, 100)

    def test_triggers(self):
        self.assertGraphError(self.fb(fb_body(psid="1234000551")), 400,
                              551, 1545041)
        self.assertGraphError(self.fb(fb_body(psid="1234000010")), 400,
                              10, 2018278)
        r = self.fb(fb_body(psid="1234000002"))
        self.assertGraphError(r, 500, 2)
        self.assertTrue(r.json()["error"]["is_transient"])
        r = self.fb(fb_body(psid="1234000429"))
        self.assertEqual(r.status, 429)
        self.assertEqual(r.header("retry-after"), "2")
        by = self.sb.stats()["by_status"]["messenger"]
        self.assertEqual(by, {"551/1545041": 1, "10/2018278": 1, "2": 1,
                              "http_429": 1})


class MessengerLimit(SandboxCase):
    args = ("--messenger-limit-per-second", "3")

    def test_builtin_limit(self):
        codes = [self.fb(fb_body(text=str(i))).status for i in range(5)]
        self.assertEqual(codes, [200, 200, 200, 400, 400])
        st = self.sb.stats()
        self.assertEqual(st["by_status"]["messenger"]["613"], 2)
        self.assertEqual(st["max_per_1000ms"]["messenger"], 5)


class OALimit(SandboxCase):
    args = ("--oa-limit-per-minute", "2")

    def test_builtin_limit(self):
        rs = [self.oa(oa_body(text=str(i))) for i in range(3)]
        self.assertEqual([r.json()["error"] for r in rs], [0, 0, -32])
        self.assertEqual(rs[2].header("x-ratelimit-remain"), "0")


class Esms(SandboxCase):
    def test_success(self):
        r = self.sb.post(ESMS, esms_body(RequestId="req-1",
                                         SendDate="2026-06-20 08:00:00"))
        self.assertEsms(r, "100")
        j = r.json()
        self.assertEqual(j["CountRegenerate"], 0)
        self.assertRegex(j["SMSID"], r"^[0-9a-f-]{36}$")
        m = self.sb.messages(provider="esms", to="+84901888484")["messages"]
        self.assertEqual(len(m), 1)
        self.assertEqual(m[0]["text"], "Cam on quy khach")
        self.assertEqual(m[0]["request_id"], "req-1")
        # Same RequestId again: 124, not a second message.
        self.assertEsms(self.sb.post(ESMS, esms_body(RequestId="req-1")), "124")
        self.assertEqual(self.sb.stats()["messages"]["esms"], 1)
        # Sandbox=1 validates without sending.
        self.assertEsms(self.sb.post(ESMS, esms_body(Sandbox="1")), "100")
        self.assertEqual(self.sb.stats()["messages"]["esms"], 1)
        # SmsType 8 needs no brandname; number SmsType accepted.
        b = esms_body(SmsType=8)
        del b["Brandname"]
        self.assertEsms(self.sb.post(ESMS, b), "100")

    def test_errors(self):
        self.assertEsms(self.sb.post(ESMS, dict(esms_body(), ApiKey="x")), "101")
        self.assertEsms(self.sb.post(ESMS, {k: v for k, v in esms_body().items()
                                            if k != "SecretKey"}), "101")
        for phone in ("84901888484", "+84901888484", "090188848", "0201888484"):
            with self.subTest(phone=phone):
                self.assertEsms(self.sb.post(ESMS, esms_body(phone)), "108")
        self.assertEsms(self.sb.post(ESMS, dict(esms_body(), SmsType="1")), "118")
        self.assertEsms(self.sb.post(ESMS, dict(esms_body(),
                                                Brandname="TOO-LONG-NAME")), "104")
        self.assertEsms(self.sb.post(ESMS, dict(esms_body(), Content="")), "99")
        self.assertEsms(self.sb.post(ESMS, dict(esms_body(), RequestId="r" * 51)),
                        "99")
        self.assertEsms(self.sb.post(ESMS, dict(esms_body(), SendDate="tomorrow")),
                        "99")
        self.assertEsms(self.sb.post(ESMS, "garbage"), "99")
        for suffix, code in (("000099", "99"), ("000103", "103"),
                             ("000177", "177")):
            self.assertEsms(self.sb.post(ESMS, esms_body("0912" + suffix)), code)
        self.assertEqual(self.sb.stats()["messages"]["esms"], 0)

    def test_unicode_warning(self):
        self.assertEsms(self.sb.post(ESMS, esms_body(content="Họp thôn")), "100")
        m = self.sb.messages(provider="esms")["messages"][0]
        self.assertEqual(m["encoding"], "UCS-2")
        self.assertEqual(len(m["warnings"]), 1)


class Twilio(SandboxCase):
    def test_success_shape(self):
        r = self.twilio(To="+84912345678", From="+15005550006",
                        Body="Hop thon luc 19h30")
        self.assertEqual(r.status, 201, r.body)
        j = r.json()
        self.assertRegex(j["sid"], r"^SM[0-9a-f]{32}$")
        self.assertEqual(j["status"], "queued")
        self.assertEqual(j["num_segments"], "1")
        self.assertEqual(j["to"], "+84912345678")
        self.assertEqual(j["from"], "+15005550006")
        self.assertEqual(j["account_sid"], "ACsandbox")
        self.assertIsNone(j["error_code"])
        self.assertIsNone(j["price"])
        self.assertEqual(j["direction"], "outbound-api")
        self.assertEqual(j["uri"], "/2010-04-01/Accounts/ACsandbox/Messages/%s"
                         ".json" % j["sid"])
        r = self.twilio(To="+84912345678", MessagingServiceSid="MG" + "0" * 32,
                        Body="x")
        self.assertEqual(r.json()["status"], "accepted")
        self.assertIsNone(r.json()["from"])

    def test_segments(self):
        cases = [
            ("a" * 160, "1"), ("a" * 161, "2"), ("a" * 306, "2"),
            ("a" * 307, "3"), ("€" * 80, "1"), ("€" * 81, "2"),
            ("[" * 80 + "a", "2"), ("ư" * 70, "1"), ("ư" * 71, "2"),
            ("ư" * 134, "2"), ("ư" * 135, "3"), ("😀" * 35, "1"),
            ("😀" * 36, "2"), ("é" * 160, "1"), ("Họp thôn", "1"),
            ("`" * 70, "1"), ("`" * 71, "2"),
        ]
        for body, segs in cases:
            with self.subTest(body=body[:5], n=len(body)):
                r = self.twilio(To="+84912345678", From="LOAXA", Body=body)
                self.assertEqual(r.json()["num_segments"], segs)

    def test_errors(self):
        r = self.twilio(auth=None, To="+84912345678", From="x", Body="b")
        self.assertTwilioError(r, 401, 20003)
        self.assertIn("basic", r.header("www-authenticate").lower())
        bad = "Basic " + base64.b64encode(b"ACsandbox:wrong").decode()
        self.assertTwilioError(self.twilio(auth=bad, To="+84912345678",
                                           From="x", Body="b"), 401, 20003)
        self.assertTwilioError(self.twilio(auth="Basic !!!", To="+8491",
                                           From="x", Body="b"), 401, 20003)
        self.assertTwilioError(self.twilio(
            path="/2010-04-01/Accounts/ACother/Messages.json",
            To="+84912345678", From="x", Body="b"), 404, 20404)
        for to in ("0912345678", "84912345678", "+8491234567", "+84212345678",
                   "+0123456789"):
            with self.subTest(to=to):
                self.assertTwilioError(self.twilio(To=to, From="x", Body="b"),
                                       400, 21211)
        self.assertTwilioError(self.twilio(From="x", Body="b"), 400, 21604)
        self.assertTwilioError(self.twilio(To="+84912345678", Body="b"),
                               400, 21603)
        self.assertTwilioError(self.twilio(To="+84912345678", From="x"),
                               400, 21602)
        self.assertTwilioError(self.twilio(To="+84912345678", From="x",
                                           Body="a" * 1601), 400, 21617)
        self.assertEqual(self.twilio(To="+84912345678", From="x",
                                     Body="a" * 1600).status, 201)
        self.assertTwilioError(self.twilio(To="+84912021610", From="x",
                                           Body="b"), 400, 21610)
        r = self.twilio(To="+84912020429", From="x", Body="b")
        self.assertTwilioError(r, 429, 20429)
        self.assertEqual(r.header("retry-after"), "2")

    def test_async_failure(self):
        r = self.twilio(To="+84912030003", From="x", Body="b")
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json()["status"], "queued")
        m = self.sb.messages(provider="twilio")["messages"][0]
        self.assertEqual(m["delivery"], "undelivered")
        self.assertEqual(m["error_code"], 30003)
        self.assertEqual(m["sid"], r.json()["sid"])


class Control(SandboxCase):
    def test_stats_shape(self):
        self.zns(zns_body())
        self.zns(zns_body("84912000118"))
        self.sb.get("/nowhere")
        st = self.sb.stats()
        for key in ("requests", "messages", "duplicates", "by_status",
                    "max_per_second", "max_per_1000ms", "per_second", "http"):
            self.assertIn(key, st)
        for p in ("zns", "oa", "oauth", "messenger", "esms", "twilio"):
            self.assertIn(p, st["requests"])
            self.assertIn(p, st["messages"])
        self.assertEqual(st["requests"]["zns"], 2)
        self.assertEqual(st["requests"]["unknown"], 1)
        self.assertEqual(st["messages"]["zns"], 1)
        self.assertEqual(st["by_status"]["zns"], {"ok": 1, "-118": 1})
        self.assertEqual(st["http"]["404"], 1)
        ps = [e for e in st["per_second"] if e["provider"] == "zns"]
        self.assertEqual(sum(e["n"] for e in ps), 2)
        self.assertEqual(sum(e["ok"] for e in ps), 1)
        for e in ps:
            self.assertLessEqual(abs(e["t"] - time.time()), 60)

    def test_per_second_exact(self):
        n = 40
        for i in range(n):
            self.zns(zns_body(tracking_id="t%d" % i))
        st = self.sb.stats()
        ps = [e for e in st["per_second"] if e["provider"] == "zns"]
        self.assertEqual(sum(e["n"] for e in ps), n)
        self.assertEqual(max(e["n"] for e in ps), st["max_per_second"]["zns"])
        self.assertGreaterEqual(st["max_per_1000ms"]["zns"],
                                st["max_per_second"]["zns"])
        self.assertLessEqual(st["max_per_1000ms"]["zns"], n)

    def test_sliding_window(self):
        """Two bursts 600 ms apart share a 1000 ms window even when they
        fall in different wall-clock seconds."""
        for i in range(5):
            self.zns(zns_body(tracking_id="a%d" % i))
        time.sleep(0.6)
        for i in range(5):
            self.zns(zns_body(tracking_id="b%d" % i))
        time.sleep(1.1)
        self.zns(zns_body(tracking_id="c"))
        st = self.sb.stats()
        self.assertEqual(st["max_per_1000ms"]["zns"], 10)
        self.assertEqual(st["last_1000ms"]["zns"], 1)

    def test_messages_filters(self):
        self.zns(zns_body("84911111111", "a"))
        self.zns(zns_body("84922222222", "b"))
        self.zns(zns_body("84922000118", "c"))
        self.sb.post(ESMS, esms_body("0911111111"))
        m = self.sb.messages()
        self.assertEqual(m["matched"], 4)
        seqs = [x["seq"] for x in m["messages"]]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(self.sb.messages(to="+84911111111")["matched"], 2)
        self.assertEqual(self.sb.messages(to="0911111111",
                                          provider="esms")["matched"], 1)
        self.assertEqual(self.sb.messages(status="error")["matched"], 1)
        self.assertEqual(self.sb.messages(status="ok")["matched"], 3)
        last = self.sb.messages(limit=1)
        self.assertEqual(last["returned"], 1)
        self.assertEqual(last["messages"][0]["provider"], "esms")
        since = self.sb.messages(since=seqs[1])
        self.assertEqual([x["seq"] for x in since["messages"]], seqs[2:])
        for bad in ("provider=nope", "limit=x", "status=maybe", "since=-1"):
            status, body = self.sb.control("GET", "messages?" + bad)
            self.assertEqual(status, 400, bad)
            self.assertIn("error", body)

    def test_reset(self):
        self.zns(zns_body())
        self.sb.rules({"provider": "zns", "mode": "503"})
        self.sb.control("POST", "reset")
        st = self.sb.stats()
        self.assertEqual(st["requests"]["zns"], 0)
        self.assertEqual(self.sb.messages()["matched"], 0)
        self.assertEqual(self.sb.control("GET", "behaviour")[1]["rules"], [])
        self.assertEqual(self.zns(zns_body()).status, 200)
        self.assertEqual(self.sb.control("GET", "reset")[0], 405)

    def test_behaviour_validation(self):
        for bad in ({"mode": "sometimes"}, {"provider": "sms"},
                    {"latency_ms": -1}, {"error_rate": 2},
                    {"latnecy_ms": 5}, {"error": {"status": 99}},
                    {"error": {"stauts": 500}}, [], [{"mode": "ok"}, 5],
                    {"count": 0}, {"clear": True, "mode": "503"}, "x"):
            with self.subTest(bad=bad):
                status, body = self.sb.control("POST", "behaviour", bad)
                self.assertEqual(status, 400)
                self.assertIsInstance(body["error"], str)
        status, body = self.sb.control("POST", "behaviour", None)
        self.assertEqual(status, 400)
        # Nothing was applied by the failed calls.
        self.assertEqual(self.sb.control("GET", "behaviour")[1]["rules"], [])
        self.assertEqual(self.sb.control("PATCH", "behaviour")[0], 405)

    def test_behaviour_modes(self):
        self.sb.rules({"provider": "zns", "mode": "503", "retry_after": 5})
        r = self.zns(zns_body())
        self.assertEqual((r.status, r.header("retry-after")), (503, "5"))
        self.sb.rules({"provider": "zns", "mode": "429"})
        r = self.zns(zns_body())
        self.assertEqual((r.status, r.header("retry-after")), (429, "2"))
        self.assertEqual(r.json()["error"], -32)
        # Other providers are untouched.
        self.assertEqual(self.oa(oa_body()).json()["error"], 0)
        rules = self.sb.control("GET", "behaviour")[1]["rules"]
        self.assertEqual(rules, [{"provider": "zns", "mode": "429"}])
        self.sb.control("DELETE", "behaviour")
        self.assertEqual(self.zns(zns_body()).status, 200)

    def test_refuse(self):
        self.sb.rules({"provider": "*", "mode": "refuse"})
        for path, body in ((ZNS, zns_body()), (TWILIO, "To=x")):
            with self.assertRaises(DISCONNECTED):
                self.sb.post(path, body)
        # The control API still answers.
        st = self.sb.stats()
        self.assertEqual(st["refused"], 2)
        self.assertEqual(st["by_status"]["zns"], {"refused": 1})
        self.sb.rules({"provider": "*", "clear": True})
        self.assertEqual(self.zns(zns_body()).status, 200)

    def test_provider_rule_shadows_star(self):
        self.sb.rules([{"provider": "*", "mode": "503"},
                       {"provider": "esms", "mode": "ok"}])
        self.assertEqual(self.zns(zns_body()).status, 503)
        self.assertEsms(self.sb.post(ESMS, esms_body()), "100")

    def test_error_rate_and_count(self):
        self.sb.rules({"provider": "twilio", "error_rate": 1.0, "count": 2,
                       "error": {"status": 500, "body": {"code": 20500,
                                                         "message": "boom"}}})
        for _ in range(2):
            r = self.twilio(To="+84912345678", From="x", Body="b")
            self.assertEqual(r.status, 500)
            self.assertEqual(r.json(), {"code": 20500, "message": "boom"})
        self.assertEqual(self.twilio(To="+84912345678", From="x",
                                     Body="b").status, 201)
        self.assertEqual(self.sb.control("GET", "behaviour")[1]["rules"], [])
        self.assertEqual(self.sb.stats()["by_status"]["twilio"],
                         {"injected": 2, "ok": 1})
        # Default injected errors: ZNS answers -100 (transient).
        self.sb.rules({"provider": "zns", "error_rate": 1})
        self.assertZaloError(self.zns(zns_body()), -100)
        # A partial rate is a coin flip per request (seeded).
        self.sb.rules({"provider": "zns", "error_rate": 0.5})
        errs = sum(self.zns(zns_body(tracking_id=str(i))).json()["error"] != 0
                   for i in range(60))
        self.assertTrue(5 < errs < 55, errs)

    def test_for_ms(self):
        self.sb.rules({"provider": "zns", "mode": "503", "for_ms": 300})
        self.assertEqual(self.zns(zns_body()).status, 503)
        time.sleep(0.4)
        self.assertEqual(self.zns(zns_body()).status, 200)

    def test_max_per_second(self):
        self.sb.rules({"provider": "zns", "max_per_second": 3})
        codes = [self.zns(zns_body(tracking_id=str(i))).status
                 for i in range(5)]
        self.assertEqual(codes, [200, 200, 200, 429, 429])

    def test_latency_does_not_block(self):
        self.sb.rules({"provider": "zns", "latency_ms": 800})
        out = {}

        def slow():
            t0 = time.monotonic()
            out["r"] = self.zns(zns_body())
            out["t"] = time.monotonic() - t0

        threads = [threading.Thread(target=slow)]
        for i in range(20):
            threads.append(threading.Thread(
                target=lambda i=i: self.zns(zns_body(tracking_id="p%d" % i))))
        for t in threads:
            t.start()
        time.sleep(0.1)
        t0 = time.monotonic()
        self.assertEqual(self.oa(oa_body()).json()["error"], 0)
        self.assertEqual(self.sb.control("GET", "stats")[0], 200)
        self.assertLess(time.monotonic() - t0, 0.5)
        for t in threads:
            t.join()
        self.assertEqual(out["r"].json()["error"], 0)
        self.assertGreaterEqual(out["t"], 0.75)
        self.assertLess(out["t"], 3)
        self.assertEqual(self.sb.stats()["messages"]["zns"], 21)

    def test_hang_mode(self):
        self.sb.rules({"provider": "oa", "mode": "hang"})
        with self.assertRaises(socket.timeout):
            self.oa(oa_body())
        self.assertEqual(self.sb.stats()["hung"], 1)

    def test_misc_endpoints(self):
        status, info = self.sb.control("GET", "")
        self.assertEqual(status, 200)
        self.assertEqual(info["name"], "loaxa-sandbox")
        status, cfg = self.sb.control("GET", "config")
        self.assertEqual(cfg["zalo"]["access_token"], ACCESS)
        self.assertEqual(cfg["twilio"]["account_sid"], "ACsandbox")
        self.assertEqual(self.sb.control("GET", "nothing")[0], 404)
        r = self.sb.get("/v3.0/oa/message/broadcast")
        self.assertEqual(r.status, 404)


class Hostile(SandboxCase):
    args = ("--hang-max", "400")

    def test_garbage(self):
        paths = [ZNS, OA_CS, OA_TX, OAUTH, ESMS, TWILIO, MESSENGER,
                 "/me/messages", "/_sandbox/behaviour"]
        bodies = [b"", b"\x00" * 50, b"{" * 5000, b"[" * 100000,
                  b'{"phone":' + b"9" * 400 + b"}",
                  b'{"a":"\\ud800"}', bytes(range(256)) * 4,
                  b"%%%%&&&===&a=%ZZ&b=%e2%82&To=%00",
                  json.dumps({"recipient": {"id": ["x"]}}).encode(),
                  json.dumps(zns_body(template_data={"a": {"b": 1}})).encode()]
        hdrs = [{}, {"Content-Type": "application/x-www-form-urlencoded",
                     "access_token": ACCESS, "secret_key": "\u00ff".encode(
                         "latin-1").decode("latin-1"),
                     "Authorization": "Basic " + "A" * 3000}]
        for p in paths:
            for b in bodies:
                for h in hdrs:
                    r = self.sb.post(p, b, h)
                    self.assertLess(r.status, 600)
        self.assertEqual(self.sb.control("GET", "stats")[0], 200)

    def test_body_limit(self):
        big = b"x" * (1024 * 1024 + 1)
        r = self.sb.post(ZNS, big, {"access_token": ACCESS})
        self.assertEqual(r.status, 413)
        ok = json.dumps(dict(zns_body(), pad="y" * (1024 * 1024 - 400)))
        self.assertLessEqual(len(ok), 1024 * 1024)
        self.assertEqual(self.zns(json.loads(ok)).json()["error"], 0)

    def test_declared_huge_body(self):
        """Over 16 MiB declared: answered 413 before the body is read."""
        s = socket.create_connection(("127.0.0.1", self.sb.port), timeout=10)
        try:
            s.sendall(b"POST /message/template HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 99999999999\r\n\r\n")
            data = s.recv(4096)
            self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])
        finally:
            s.close()
        self.assertEqual(self.sb.stats()["http"]["413"], 1)

    def test_chunked_too_big(self):
        s = socket.create_connection(("127.0.0.1", self.sb.port), timeout=10)
        try:
            s.sendall(b"POST /message/template HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"x" * 65536
            for _ in range(17):
                s.sendall(b"10000\r\n" + chunk + b"\r\n")
            s.sendall(b"0\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                more = s.recv(4096)
                if not more:
                    break
                data += more
            self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])
        finally:
            s.close()

    def test_hang_closes_after_max(self):
        self.sb.rules({"provider": "esms", "mode": "hang"})
        t0 = time.monotonic()
        with self.assertRaises(DISCONNECTED):
            self.sb.post(ESMS, esms_body())
        self.assertLess(time.monotonic() - t0, 3)

    def test_invalid_utf8_form(self):
        r = self.twilio(To="+84912345678", From="x", Body="a")
        self.assertEqual(r.status, 201)
        raw = b"To=%2B84912345678&From=x&Body=%ff%fe%00abc"
        h = dict(FORM, Authorization=TWILIO_AUTH)
        r = self.sb.post(TWILIO, raw, h)
        self.assertEqual(r.status, 201)
        self.assertIn("\ufffd", r.json()["body"])
        m = self.sb.messages(provider="twilio")["messages"][-1]
        self.assertIn("\ufffd", m["text"])


class Process(unittest.TestCase):
    def run_sandbox(self, *args, timeout=10):
        return subprocess.run([SANDBOX] + list(args), capture_output=True,
                              text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def test_help_version(self):
        p = self.run_sandbox("--help")
        self.assertEqual(p.returncode, 0)
        for opt in ("--listen", "--port-file", "--record", "--seed",
                    "--latency", "--token-ttl", "--allow-remote"):
            self.assertIn(opt, p.stdout)
        p = self.run_sandbox("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^loaxa-sandbox \S+\n$")

    def test_bad_options(self):
        for args in (["--nope"], ["--latency", "x"], ["--listen", "nowhere"],
                     ["--token-ttl", "0"], ["--listen"], ["extra"],
                     ["--config", "/nonexistent/file"]):
            with self.subTest(args=args):
                p = self.run_sandbox(*args)
                self.assertEqual(p.returncode, 2, p)
                self.assertEqual(p.stdout, "")
                self.assertTrue(p.stderr.startswith("loaxa-sandbox: "), p.stderr)

    def test_refuses_remote(self):
        for addr in ("0.0.0.0:0", "[::]:0", "192.0.2.1:0"):
            p = self.run_sandbox("--listen", addr)
            self.assertEqual(p.returncode, 2)
            self.assertIn("--allow-remote", p.stderr)

    def test_sigint_and_hanging(self):
        sb = Sandbox()
        try:
            sb.rules({"provider": "zns", "mode": "hang"})
            errors = []

            def hang():
                try:
                    sb.post(ZNS, zns_body(), {"access_token": ACCESS},
                            timeout=30)
                except DISCONNECTED:
                    errors.append("closed")
                except Exception as e:      # noqa: BLE001
                    errors.append(repr(e))

            ts = [threading.Thread(target=hang) for _ in range(3)]
            for t in ts:
                t.start()
            deadline = time.monotonic() + 5
            while sb.stats()["hung"] < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            t0 = time.monotonic()
            self.assertEqual(sb.stop(signal.SIGINT), 0)
            self.assertLess(time.monotonic() - t0, 5)
            for t in ts:
                t.join(10)
            self.assertEqual(errors, ["closed"] * 3)
        finally:
            sb.kill()

    def test_config_file(self):
        tmp = tempfile.mkdtemp(prefix="loaxa-sandbox-cfg-")
        try:
            cfg = os.path.join(tmp, "sandbox.conf")
            with open(cfg, "w") as f:
                f.write("# test\npage-token = from-file\n"
                        "esms-brandname = COMMUNE\n\nseed = 7\n")
            sb = Sandbox("--config", cfg, "--twilio-token", "tt")
            try:
                r = sb.post(MESSENGER + "?access_token=from-file", fb_body())
                self.assertEqual(r.status, 200, r.body)
                r = sb.post(ESMS, esms_body())
                self.assertEqual(r.json()["CodeResult"], "104")
                r = sb.post(ESMS, esms_body(Brandname="COMMUNE"))
                self.assertEqual(r.json()["CodeResult"], "100")
                auth = "Basic " + base64.b64encode(b"ACsandbox:tt").decode()
                r = sb.post(TWILIO, form(To="+84912345678", From="x", Body="b"),
                            dict(FORM, Authorization=auth))
                self.assertEqual(r.status, 201)
                self.assertEqual(sb.control("GET", "config")[1]["seed"], 7)
                self.assertEqual(sb.stop(), 0)
            finally:
                sb.kill()
            with open(cfg, "w") as f:
                f.write("no-such-key = 1\n")
            p = subprocess.run([SANDBOX, "--config", cfg], capture_output=True,
                               text=True, timeout=10)
            self.assertEqual(p.returncode, 2)
            self.assertIn(cfg + ":1:", p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_seed_determinism(self):
        ids = []
        for _ in range(2):
            sb = Sandbox("--seed", "42")
            try:
                r = sb.post(ZNS, zns_body(), {"access_token": ACCESS})
                ids.append(r.json()["data"]["msg_id"])
            finally:
                sb.stop()
                sb.kill()
        self.assertEqual(ids[0], ids[1])

    def test_keepalive(self):
        sb = Sandbox()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", sb.port, timeout=10)
            for i in range(20):
                conn.request("POST", ZNS, json.dumps(zns_body(
                    tracking_id=str(i))), {"access_token": ACCESS})
                resp = conn.getresponse()
                self.assertEqual(json.loads(resp.read())["error"], 0)
                self.assertNotEqual(resp.getheader("Connection", "").lower(),
                                    "close")
            conn.close()
        finally:
            sb.stop()
            sb.kill()


# ---- webhooks: receipts and replies sent to a fake loaxad ----

import hashlib  # noqa: E402
import hmac  # noqa: E402
import http.server  # noqa: E402

WH_ZALO_SECRET = "oa-secret-for-tests"
WH_FB_SECRET = "fb-app-secret-for-tests"


class Hooks:
    """A threaded HTTP server standing in for loaxad's webhook listener:
    it keeps every request and answers status_for(path) (default 200)."""

    def __init__(self):
        self.got = []
        self.lock = threading.Lock()
        self.status = {}
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with outer.lock:
                    outer.got.append((self.command, self.path,
                                      {k.lower(): v for k, v in
                                       self.headers.items()}, body))
                    st = outer.status.get(self.path.split("?")[0], 200)
                self.send_response(st)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = handle_one

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def clear(self):
        with self.lock:
            self.got = []
            self.status = {}

    def wait(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.got) >= n:
                    return list(self.got)
            if time.monotonic() > deadline:
                raise AssertionError("got %d webhooks, wanted %d: %r"
                                     % (len(self.got), n, self.got))
            time.sleep(0.02)


def zalo_mac(body, secret=WH_ZALO_SECRET):
    o = json.loads(body)
    return "mac=" + hashlib.sha256(
        o["app_id"].encode() + body + o["timestamp"].encode() +
        secret.encode()).hexdigest()


class Webhooks(SandboxCase):
    """Receipts after accepted messages, replies, their signatures."""

    @classmethod
    def setUpClass(cls):
        cls.hooks = Hooks()
        cls.args = ("--webhook-url", cls.hooks.url,
                    "--zalo-oa-secret", WH_ZALO_SECRET,
                    "--zalo-app-id", "app-42",
                    "--messenger-app-secret", WH_FB_SECRET)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.hooks.close()

    def setUp(self):
        self.idle()             # the previous test's last ones
        super().setUp()
        self.hooks.clear()
        self.sb.rules({"provider": "*", "receipt_delay_ms": [0, 20],
                       "receipt_duplicate_rate": 0,
                       "receipt_reorder_rate": 0})

    def idle(self):
        deadline = time.monotonic() + 10
        while self.sb.stats()["webhooks"]["pending"]:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        return self.sb.stats()["webhooks"]

    def test_zns_receipt(self):
        r = self.zns(zns_body(tracking_id="loaxa-7"))
        msg_id = r.json()["data"]["msg_id"]
        method, path, h, body = self.hooks.wait(1)[0]
        self.assertEqual((method, path), ("POST", "/webhooks/zalo"))
        self.assertEqual(h["x-zevent-server"], "ZNS")
        self.assertEqual(h["x-zevent-signature"], zalo_mac(body))
        o = json.loads(body)
        self.assertEqual(o["event_name"], "user_received_message")
        self.assertEqual(o["app_id"], "app-42")
        self.assertEqual(o["recipient"]["id"], "84987654321")
        self.assertEqual(o["message"]["msg_id"], msg_id)
        self.assertEqual(o["message"]["tracking_id"], "loaxa-7")
        self.assertRegex(o["message"]["delivery_time"], r"^\d{13}$")
        w = self.idle()
        self.assertEqual(w["providers"]["zns"]["sent"], 1)
        self.assertEqual(w["providers"]["zns"]["by_status"], {"200": 1})
        log = self.sb.control("GET", "webhooks")[1]["webhooks"]
        self.assertEqual([(x["provider"], x["kind"], x["status"])
                          for x in log], [("zns", "delivered", 200)])

    def test_no_receipt_for_errors(self):
        self.zns(zns_body(phone="84912000118"))
        self.fb(fb_body(psid="24680135000551"))
        time.sleep(0.3)
        self.assertEqual(self.hooks.got, [])

    def test_oa_and_messenger(self):
        self.sb.rules({"provider": "*", "receipt_delay_ms": 30,
                       "receipt_reorder_rate": 0})
        mid_oa = self.oa(oa_body()).json()["data"]["message_id"]
        got = self.hooks.wait(2)
        bodies = [json.loads(b) for _, _, _, b in got]
        self.assertEqual([b["event_name"] for b in bodies],
                         ["user_received_message", "user_seen_message"])
        self.assertEqual(bodies[0]["message"], {"msg_id": mid_oa})
        self.assertEqual(bodies[1]["message"], {"msg_ids": [mid_oa]})
        for _, _, h, b in got:
            self.assertEqual(h["x-zevent-signature"], zalo_mac(b))
            self.assertNotIn("x-zevent-server", h)
        self.hooks.clear()
        before = int(time.time() * 1000)
        mid = self.fb(fb_body()).json()["message_id"]
        got = self.hooks.wait(2)
        for method, path, h, b in got:
            self.assertEqual((method, path), ("POST", "/webhooks/messenger"))
            self.assertEqual(h["x-hub-signature-256"], "sha256=" + hmac.new(
                WH_FB_SECRET.encode(), b, hashlib.sha256).hexdigest())
        items = [json.loads(b)["entry"][0]["messaging"][0]
                 for _, _, _, b in got]
        dl, rd = items
        self.assertEqual(dl["sender"]["id"], "24680135792468")
        self.assertIn(dl["delivery"].get("mids", [mid]), ([mid],))
        wm = dl["delivery"]["watermark"]
        self.assertGreaterEqual(wm, before)
        self.assertEqual(rd["read"]["watermark"], wm)

    def test_esms_callback(self):
        cb = self.hooks.url + "/webhooks/esms/s3cret?x=1"
        r = self.sb.post(ESMS, esms_body(RequestId="loaxa-9",
                                         CallbackUrl=cb))
        smsid = r.json()["SMSID"]
        method, path, h, body = self.hooks.wait(1)[0]
        self.assertEqual(method, "GET")
        u = urllib.parse.urlsplit(path)
        self.assertEqual(u.path, "/webhooks/esms/s3cret")
        q = urllib.parse.parse_qs(u.query)
        self.assertEqual(q["x"], ["1"])
        self.assertEqual(q["SMSID"], [smsid])
        self.assertEqual(q["SendStatus"], ["5"])
        self.assertEqual(q["SendSuccess"], ["1"])
        self.assertEqual(q["RequestId"], ["loaxa-9"])
        self.assertEqual(q["phonenumber"], ["0901888484"])
        # no CallbackUrl, no --esms-callback: no report
        self.hooks.clear()
        self.sb.post(ESMS, esms_body())
        time.sleep(0.2)
        self.assertEqual(self.hooks.got, [])
        # a remote CallbackUrl is refused (no --allow-remote)
        self.sb.post(ESMS, esms_body(CallbackUrl="http://10.1.2.3/x"))
        time.sleep(0.1)
        self.assertEqual(self.sb.stats()["webhooks"]["refused"], 1)

    def twilio_check(self, url, h, body):
        params = dict(urllib.parse.parse_qsl(body.decode()))
        data = url + "".join(k + v for k, v in sorted(params.items()))
        want = base64.b64encode(hmac.new(
            b"sandbox-twilio-token", data.encode(), "sha1").digest())
        self.assertEqual(h["x-twilio-signature"], want.decode())
        return params

    def test_twilio_callbacks(self):
        cb = self.hooks.url + "/webhooks/twilio"
        sid = self.twilio(To="+84912345678", From="+15005550006",
                          Body="Hop", StatusCallback=cb).json()["sid"]
        got = self.hooks.wait(2)
        st = [self.twilio_check(cb, h, b) for _, _, h, b in got]
        self.assertEqual([p["MessageStatus"] for p in st],
                         ["sent", "delivered"])
        self.assertEqual({p["MessageSid"] for p in st}, {sid})
        self.assertEqual(st[0]["To"], "+84912345678")
        self.hooks.clear()
        self.twilio(To="+84912030003", From="+15005550006", Body="Hop",
                    StatusCallback=cb)
        got = self.hooks.wait(2)
        st = [self.twilio_check(cb, h, b) for _, _, h, b in got]
        self.assertEqual(st[1]["MessageStatus"], "undelivered")
        self.assertEqual(st[1]["ErrorCode"], "30003")

    def test_rules(self):
        self.sb.rules({"provider": "zns", "receipts": False})
        self.zns(zns_body())
        time.sleep(0.2)
        self.assertEqual(self.hooks.got, [])
        self.sb.rules({"provider": "zns", "receipt_duplicate_rate": 1,
                       "receipt_delay_ms": [0, 10]})
        self.zns(zns_body(tracking_id="t2"))
        got = self.hooks.wait(2)
        self.assertEqual(got[0][3], got[1][3])
        self.idle()
        log = self.sb.control("GET", "webhooks")[1]["webhooks"]
        self.assertEqual([x["duplicate"] for x in log], [False, True])
        # the answer's status is counted
        self.hooks.status["/webhooks/zalo"] = 403
        self.zns(zns_body(tracking_id="t3"))
        self.hooks.wait(4)
        w = self.idle()["providers"]["zns"]
        self.assertEqual(w["by_status"], {"200": 2, "403": 2}, w)
        for bad in ({"receipt_delay_ms": [5, 1]}, {"receipt_delay_ms": -1},
                    {"receipt_delay_ms": "1"}, {"receipts": 1},
                    {"receipt_duplicate_rate": 2},
                    {"receipt_reorder_rate": -0.1}):
            status, body = self.sb.control("POST", "behaviour", bad)
            self.assertEqual(status, 400, (bad, body))

    def test_reply(self):
        status, body = self.sb.control("POST", "reply", {
            "provider": "zalo_oa", "from": "2512523625412515",
            "text": "Có ạ"})
        self.assertEqual(status, 202, body)
        _, path, h, b = self.hooks.wait(1)[0]
        self.assertEqual(path, "/webhooks/zalo")
        self.assertEqual(h["x-zevent-signature"], zalo_mac(b))
        o = json.loads(b)
        self.assertEqual(o["event_name"], "user_send_text")
        self.assertEqual(o["sender"]["id"], "2512523625412515")
        self.assertEqual(o["message"]["text"], "Có ạ")
        self.assertEqual(o["message"]["msg_id"], body["msg_id"])
        self.hooks.clear()
        self.sb.control("POST", "reply", {"provider": "messenger",
                                          "from": "2468", "text": "co"})
        item = json.loads(self.hooks.wait(1)[0][3])["entry"][0][
            "messaging"][0]
        self.assertEqual(item["message"]["text"], "co")
        self.hooks.clear()
        self.sb.control("POST", "reply", {"provider": "twilio",
                                          "from": "+84912345678",
                                          "text": "2"})
        _, path, h, b = self.hooks.wait(1)[0]
        p = self.twilio_check(self.hooks.url + "/webhooks/twilio", h, b)
        self.assertEqual((p["From"], p["Body"], p["SmsStatus"]),
                         ("+84912345678", "2", "received"))
        self.assertEqual(self.idle()["replies"], 3)
        for bad in ({}, {"provider": "zns", "from": "1", "text": "x"},
                    {"provider": "twilio", "text": "x"},
                    {"provider": "twilio", "from": "1", "text": 3}):
            self.assertEqual(self.sb.control("POST", "reply", bad)[0], 400)


class WebhookOptions(unittest.TestCase):
    def test_remote_webhook_url_refused(self):
        for opt in ("--webhook-url", "--esms-callback"):
            p = subprocess.run([SANDBOX, opt, "http://192.0.2.1:8080"],
                               capture_output=True, timeout=10)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(b"loopback", p.stderr)
        p = subprocess.run([SANDBOX, "--webhook-url", "ftp://127.0.0.1/"],
                           capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 2, p.stderr)

    def test_reply_without_webhook_url(self):
        sb = Sandbox()
        try:
            status, body = sb.control("POST", "reply", {
                "provider": "messenger", "from": "1", "text": "x"})
            self.assertEqual(status, 400, body)
            self.assertIn("webhook-url", body["error"])
        finally:
            sb.stop()
            sb.kill()


if __name__ == "__main__":
    if not SANDBOX:
        print("LOAXA_SANDBOX is not set: skipping (exit 77)")
        sys.exit(SKIP)
    if not os.access(SANDBOX, os.X_OK):
        print("LOAXA_SANDBOX=%s is not an executable file" % SANDBOX)
        sys.exit(1)
    unittest.main(verbosity=2)
