#!/usr/bin/env python3
"""GET /metrics: the real loaxad sends a small broadcast through the real
loaxa-sandbox (a fallback, a failure, an opt-out, a receipt through the
eSMS webhook), then its Prometheus exposition is parsed with
python3-prometheus-client's text-format parser and every figure is checked
against what the API says about the same database.

Needs LOAXAD and LOAXA_SANDBOX (else exits 77), and Debian's
python3-prometheus-client (scripts/deps.sh installs it). meson runs
``python3`` from PATH, which may be a Python without Debian's packages:
then this file runs itself again with /usr/bin/python3.
"""

import os
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    SYSTEM_PY = "/usr/bin/python3"
    if (os.path.exists(SYSTEM_PY) and not os.environ.get("LOAXA_REEXEC")
            and os.path.realpath(sys.executable)
            != os.path.realpath(SYSTEM_PY)):
        os.environ["LOAXA_REEXEC"] = "1"
        os.execv(SYSTEM_PY, [SYSTEM_PY] + sys.argv)
    print("prometheus_client is not installed (apt-get install "
          "python3-prometheus-client): skipping (exit 77)")
    sys.exit(77)

import time  # noqa: E402
import unittest  # noqa: E402
import urllib.parse  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import harness  # noqa: E402

STATUSES = ["queued", "sending", "sent", "delivered", "read", "failed",
            "expired", "cancelled", "skipped"]
OUTCOMES = ["accepted", "transient", "rate_limited", "permanent", "auth",
            "config", "none"]
CHAN_STATES = ["ok", "rate_limited", "circuit_open", "auth_failed",
               "config_error", "refreshing_token"]
BCAST_STATES = ["scheduled", "active", "paused", "cancelled", "done"]
ESMS_SECRET = "esms-callback-secret-0123456789"
CONTENT_TYPE = "text/plain; version=0.0.4"


class Metrics:
    """A parsed exposition: families by name, samples by (name, labels)."""

    def __init__(self, text):
        self.text = text
        self.families = {}
        self.samples = {}
        for fam in text_string_to_metric_families(text):
            if fam.name in self.families:
                raise AssertionError("family %s twice" % fam.name)
            self.families[fam.name] = fam
            for s in fam.samples:
                key = (s.name, frozenset(s.labels.items()))
                if key in self.samples:
                    raise AssertionError("sample %r twice" % (key,))
                self.samples[key] = s.value

    def get(self, name, **labels):
        """The value of one sample; KeyError when it is not there."""
        return self.samples[(name, frozenset(labels.items()))]

    def series(self, name):
        """[(labels dict, value)] of every sample with that name."""
        return [(dict(k[1]), v) for k, v in self.samples.items()
                if k[0] == name]

    def label_values(self, name, label):
        return {lb[label] for lb, _ in self.series(name)}


class MetricsCase(harness.DaemonCase):

    def setUp(self):
        self._sandboxes = []

    def sandbox(self, *args):
        sb = sbx.Sandbox(*args)
        self.addCleanup(sb.close)
        self._sandboxes.append(sb)
        return sb.start()

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

    def start(self, sb, channels, wh_metrics=None, oauth=False):
        """loaxad with the given (name, driver) channels as its route, and
        a webhook listener taking eSMS receipts."""
        self.wh_port = harness.free_tcp_port()
        secret = sb.secret("esms-callback", ESMS_SECRET)
        text = ["[broadcast]", "quiet_hours =", "retry_initial = 1s",
                "retry_max = 2s", "",
                "[webhooks]", "listen = 127.0.0.1:%d" % self.wh_port,
                "esms_secret_file = " + secret]
        if wh_metrics is not None:
            text.append("metrics = " + ("yes" if wh_metrics else "no"))
        text += ["", "[route]",
                 "chain = " + ", ".join(n for n, _ in channels), ""]
        for name, driver in channels:
            text.append(sb.channel_config(name, driver,
                                          oauth=oauth and driver == "zns"))
        return self.daemon(extra="\n".join(text))

    # ---- API helpers ----

    def ok(self, resp, status=200):
        self.assertStatus(resp, status)
        return resp.body

    def household(self, d, name, phone, group="2A", **fields):
        body = {"group": group, "name": name, "phones": [phone]}
        body.update(fields)
        return self.ok(d.post("/v1/households", body), 201)

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

    def bcast(self, d, bid):
        return self.ok(d.get("/v1/broadcasts/%d" % bid))

    def wait_done(self, d, bid, timeout=30):
        def done():
            b = self.bcast(d, bid)
            p = b["progress"]
            return b if p["total"] > 0 and p["final"] == p["total"] \
                and b["counts"]["sending"] == 0 else None
        return self.wait(done, timeout, "broadcast %d to finish" % bid)

    def deliveries(self, d, bid):
        body = self.ok(d.get("/v1/broadcasts/%d/deliveries?limit=1000"
                             % bid))
        self.assertIsNone(body["next_after"])
        return body["deliveries"]

    def metrics(self, d, tcp_port=None):
        """GET /metrics (control socket, or the webhook listener) parsed."""
        if tcp_port is None:
            resp = d.get("/metrics")
        else:
            import http.client
            conn = http.client.HTTPConnection("127.0.0.1", tcp_port,
                                              timeout=30)
            try:
                conn.request("GET", "/metrics")
                r = conn.getresponse()
                raw = r.read()
                resp = harness.Response(
                    r.status, {k.lower(): v for k, v in r.getheaders()},
                    raw, raw)
            finally:
                conn.close()
        self.assertStatus(resp, 200, "GET /metrics")
        ctype = resp.headers.get("content-type", "")
        self.assertTrue(ctype.startswith(CONTENT_TYPE),
                        "Content-Type %r" % ctype)
        text = resp.raw.decode("utf-8")
        self.assertTrue(text.endswith("\n"), text[-200:])
        return Metrics(text)

    def esms_receipt(self, msg_id):
        import http.client
        q = urllib.parse.urlencode({"SMSID": msg_id, "SendStatus": "5",
                                    "SendSuccess": "1", "SendFailed": "0"})
        conn = http.client.HTTPConnection("127.0.0.1", self.wh_port,
                                          timeout=10)
        try:
            conn.request("GET", "/webhooks/esms/%s?%s" % (ESMS_SECRET, q))
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, body)
        finally:
            conn.close()

    # ---- the scenario ----

    def scenario(self, sb, **kw):
        """zns then esms: A and D sent by zns, B by esms after zns -118
        (then delivered, by an eSMS receipt), C failed on both (-108, 108),
        E opted out (skipped), F in another group (not targeted). An
        unknown eSMS receipt too. Returns (daemon, broadcast)."""
        d = self.start(sb, [("zns", "zns"), ("esms", "esms")], **kw)
        self.household(d, "Hộ A", "0912100001")
        self.household(d, "Hộ B", "0912000118")
        self.household(d, "Hộ C", "0912000108")
        self.household(d, "Hộ D", "0912100002")
        self.household(d, "Hộ E", "0912100003", opted_out=True)
        self.household(d, "Hộ F", "0912100004", group="2B")
        b = self.ok(d.post("/v1/broadcasts", {
            "kind": "notice", "title": "Cúp điện",
            "body": "Mai cúp điện từ 8h đến 11h.", "groups": ["2A"]}), 201)
        b = self.wait_done(d, b["id"])
        dl = {x["name"]: x for x in self.deliveries(d, b["id"])}
        self.assertEqual(dl["Hộ B"]["channel"], "esms", dl["Hộ B"])
        self.assertEqual(dl["Hộ B"]["status"], "sent", dl["Hộ B"])
        self.esms_receipt(dl["Hộ B"]["msg_id"])
        self.esms_receipt("no-such-sms-id")
        b = self.wait(lambda: (lambda x: x if x["counts"]["delivered"] == 1
                               else None)(self.bcast(d, b["id"])),
                      10, "the receipt to be applied")
        return d, b

    def check_against_api(self, d, b, m):
        """Every figure of m against the API's view of the database."""
        status = self.ok(d.get("/v1/status"))
        self.assertEqual(m.get("loaxa_up"), 1)
        self.assertEqual(m.get("loaxa_build_info",
                               version=status["version"]), 1)
        self.assertEqual(m.get("loaxa_households"), status["households"])
        self.assertEqual(m.get("loaxa_households_opted_out"),
                         status["opted_out"])

        # broadcasts by state
        blist = self.ok(d.get("/v1/broadcasts?limit=200"))["broadcasts"]
        for st in BCAST_STATES:
            self.assertEqual(m.get("loaxa_broadcasts", state=st),
                             sum(1 for x in blist if x["state"] == st), st)

        # deliveries: by channel and status, as the API counts them (the
        # only broadcast, so the whole table)
        by_channel = {("none" if k == "" else k): v
                      for k, v in b["by_channel"].items()}
        self.assertEqual(m.label_values("loaxa_deliveries", "channel"),
                         {"zns", "esms", "none"})
        for ch in ("zns", "esms", "none"):
            for st in STATUSES:
                self.assertEqual(
                    m.get("loaxa_deliveries", status=st, channel=ch),
                    by_channel.get(ch, {}).get(st, 0), (ch, st))
        for st in STATUSES:
            self.assertEqual(sum(v for lb, v in
                                 m.series("loaxa_deliveries")
                                 if lb["status"] == st),
                             b["counts"][st], st)

        # attempts: one per request (plus none: a failure before any)
        dls = self.deliveries(d, b["id"])
        total = sum(v for _, v in m.series("loaxa_attempts_total"))
        self.assertEqual(total, sum(x["attempts"] for x in dls))
        want = {("zns", "accepted"): 2, ("zns", "permanent"): 2,
                ("esms", "accepted"): 1, ("esms", "permanent"): 1}
        for ch in ("zns", "esms", "none"):
            for o in OUTCOMES:
                self.assertEqual(m.get("loaxa_attempts_total", channel=ch,
                                       outcome=o),
                                 want.get((ch, o), 0), (ch, o))
        errors = {(lb["channel"], lb["code"]): v
                  for lb, v in m.series("loaxa_attempt_errors_total")}
        self.assertEqual(errors, {("zns", "-118"): 1, ("zns", "-108"): 1,
                                  ("esms", "108"): 1})
        failed = [x for x in dls if x["status"] == "failed"]
        self.assertEqual([x["code"] for x in failed], ["108"])

        # receipts and their latency
        rc = {(lb["provider"], lb["kind"], lb["outcome"]): v
              for lb, v in m.series("loaxa_receipts_total")}
        self.assertEqual(rc, {("esms", "delivered", "applied"): 1,
                              ("esms", "delivered", "unknown"): 1})
        n = b["counts"]["delivered"] + b["counts"]["read"]
        self.assertEqual(n, 1)
        self.assertEqual(m.get("loaxa_receipt_latency_seconds_count"), n)
        self.assertEqual(m.get("loaxa_receipt_latency_seconds_bucket",
                               le="+Inf"), n)
        sent_ms = [x for x in dls if x["status"] == "delivered"][0]["sent_ms"]
        lat = m.get("loaxa_receipt_latency_seconds_sum")
        self.assertGreaterEqual(lat, 0)
        self.assertLessEqual(lat, (time.time() * 1000 - sent_ms) / 1000 + 1)
        hist = m.families["loaxa_receipt_latency_seconds"]
        self.assertEqual(hist.type, "histogram")
        les = [s.labels["le"] for s in hist.samples
               if s.name.endswith("_bucket")]
        self.assertEqual(les, ["1", "5", "15", "60", "300", "900", "3600",
                               "+Inf"])

        # the engine: idle, both channels ok, no OAuth token
        self.assertEqual(m.get("loaxa_queue_depth", priority="urgent"), 0)
        self.assertEqual(m.get("loaxa_queue_depth", priority="normal"), 0)
        self.assertEqual(m.get("loaxa_oldest_queued_seconds"), 0)
        for ch in status["channels"]:
            name = ch["name"]
            self.assertEqual(m.get("loaxa_in_flight", channel=name),
                             ch["in_flight"])
            for st in CHAN_STATES:
                self.assertEqual(m.get("loaxa_channel_state", channel=name,
                                       state=st),
                                 1 if st == ch["state"] else 0, (name, st))
            self.assertEqual(m.get("loaxa_circuit_open", channel=name),
                             1 if ch["state"] == "circuit_open" else 0)
            self.assertEqual(m.get("loaxa_rate_limit_waits_total",
                                   channel=name),
                             ch["rate_limit_waits"])
        self.assertEqual(m.series("loaxa_token_expiry_seconds"), [])

        # the types Prometheus will see
        types = {name: f.type for name, f in m.families.items()}
        for name, t in (("loaxa_deliveries", "gauge"),
                        ("loaxa_attempts", "counter"),
                        ("loaxa_attempt_errors", "counter"),
                        ("loaxa_receipts", "counter"),
                        ("loaxa_rate_limit_waits", "counter"),
                        ("loaxa_channel_state", "gauge"),
                        ("loaxa_queue_depth", "gauge")):
            self.assertEqual(types.get(name), t, name)

    # ---- tests ----

    def test_counters_match_the_database(self):
        sb = self.sandbox()
        d, b = self.scenario(sb)
        m = self.metrics(d)
        self.check_against_api(d, b, m)
        # a second scrape: the same (the counters are not counted twice)
        m2 = self.metrics(d)
        for name in ("loaxa_attempts_total", "loaxa_attempt_errors_total",
                     "loaxa_receipts_total", "loaxa_deliveries"):
            self.assertEqual(sorted(map(repr, m2.series(name))),
                             sorted(map(repr, m.series(name))), name)
        # after a restart: read from the database again, the same
        d.restart()
        m3 = self.metrics(d)
        self.check_against_api(d, self.bcast(d, b["id"]), m3)

    def test_webhook_listener(self):
        """With [webhooks] metrics = yes, the webhook listener serves the
        same /metrics; without it, it does not."""
        sb = self.sandbox()
        d, b = self.scenario(sb, wh_metrics=True)
        m = self.metrics(d, tcp_port=self.wh_port)
        self.check_against_api(d, b, m)
        d.stop()
        d2 = self.start(sb, [("zns", "zns")])
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.wh_port,
                                          timeout=10)
        try:
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 404)
        finally:
            conn.close()
        self.assertTrue(d2.running())

    def test_token_expiry(self):
        """A Zalo channel with OAuth: seconds until its token expires."""
        sb = self.sandbox()
        d = self.start(sb, [("zns", "zns")], oauth=True)

        def token():
            for ch in self.ok(d.get("/v1/status"))["channels"]:
                if ch["name"] == "zns" and ch["token_expires_ms"] \
                        and ch["state"] == "ok":
                    return ch["token_expires_ms"]
            return None
        self.household(d, "Hộ A", "0912100001")
        b = self.ok(d.post("/v1/broadcasts", {
            "kind": "notice", "title": "Cúp điện", "body": "Mai cúp điện.",
            "groups": ["2A"]}), 201)
        self.wait_done(d, b["id"])
        expires_ms = self.wait(token, 15, "a Zalo access token")
        before = time.time()
        m = self.metrics(d)
        after = time.time()
        v = m.get("loaxa_token_expiry_seconds", channel="zns")
        self.assertGreater(v, 0)
        self.assertLessEqual(v, expires_ms / 1000 - before + 1)
        self.assertGreaterEqual(v, expires_ms / 1000 - after - 1)
        self.assertEqual(m.get("loaxa_attempts_total", channel="zns",
                               outcome="accepted"), 1)


if __name__ == "__main__":
    harness.main()
