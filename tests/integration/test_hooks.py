#!/usr/bin/env python3
"""The outbound event hook end to end: loaxad sends a broadcast through
loaxa-sandbox and POSTs each delivery's status change to a small receiver
on 127.0.0.1, signed with X-Loaxa-Signature (HMAC-SHA256 of the body).

Covers: one "sent" event per delivery with a valid signature and no
personal data; a receiver answering 500 gets the events later (retried),
none lost, also across a restart of loaxad; a SIGHUP switching the url.

Needs LOAXAD and LOAXA_SANDBOX (else exits 77). Python 3 stdlib only.
"""

import hashlib
import hmac
import http.server
import json
import os
import re
import signal
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import test_broadcast as tb  # noqa: E402

SECRET = "hook-secret-0123456789abcdef"


class Receiver:
    """An HTTP server in a thread that checks the signature of each POST
    and records the events of the requests it answers 2xx."""

    def __init__(self, secret=SECRET):
        self.secret = secret.encode()
        self.lock = threading.Lock()
        self.fail_with = 0          # non-zero: answer that status
        self.events = []            # of accepted requests
        self.requests = 0
        self.refused = 0            # answered fail_with
        self.bad = []               # signature or format problems
        self.deliveries = []        # X-Loaxa-Delivery of accepted ones
        self.raw = b""
        rcv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                sig = self.headers.get("X-Loaxa-Signature", "")
                want = "sha256=" + hmac.new(rcv.secret, body,
                                            hashlib.sha256).hexdigest()
                dlv = self.headers.get("X-Loaxa-Delivery", "")
                with rcv.lock:
                    rcv.requests += 1
                    if not hmac.compare_digest(sig, want):
                        rcv.bad.append("signature %r" % sig)
                    if not re.fullmatch(r"[0-9]+-[0-9]+", dlv):
                        rcv.bad.append("X-Loaxa-Delivery %r" % dlv)
                    if not self.headers.get("Content-Type", "") \
                            .startswith("application/json"):
                        rcv.bad.append("content type")
                    status = rcv.fail_with or 200
                    if status == 200:
                        try:
                            evs = json.loads(body)
                            assert isinstance(evs, list) and evs
                        except (ValueError, AssertionError):
                            rcv.bad.append("body %r" % body[:200])
                            evs = []
                        rcv.events += evs
                        rcv.deliveries.append(dlv)
                        rcv.raw += body
                    else:
                        rcv.refused += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/loaxa/events" % self.port

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def sent_ids(self):
        return [e["delivery_id"] for e in self.snapshot()
                if e.get("status") == "sent" and "delivery_id" in e]


class HookCase(tb.BroadcastCase):

    def receiver(self):
        r = Receiver()
        self.addCleanup(r.close)
        return r

    def hooked(self, sb, rcv, url=None):
        secret = sb.secret("hook", SECRET)
        bk = {"quiet_hours": "", "retry_initial": "1s", "retry_max": "2s"}
        text = ["[broadcast]"] + ["%s = %s" % kv for kv in bk.items()]
        text += ["", "[hooks]", "url = " + (url or rcv.url),
                 "secret_file = " + secret, "allow_http = yes"]
        text += ["", "[route]", "chain = zns", "",
                 sb.channel_config("zns", "zns")]
        return self.daemon(extra="\n".join(text))

    def outbox(self, d):
        con = sqlite3.connect("file:%s?mode=ro" % d.db_path, uri=True)
        try:
            return con.execute("SELECT count(*), max(attempts) FROM "
                               "hook_outbox").fetchone()
        finally:
            con.close()

    def test_one_sent_event_per_delivery(self):
        sb = self.sandbox()
        rcv = self.receiver()
        d = self.hooked(sb, rcv)
        numbers = tb.phone_range("0912", 300000, 12)
        self.import_phones(d, "2A", numbers)
        b = self.notice(d)
        b = self.wait_done(d, b["id"])
        self.assertEqual(b["counts"]["sent"], 12, b)
        dl = self.deliveries(d, b["id"])
        want = sorted(x["id"] for x in dl)
        self.wait(lambda: len(rcv.sent_ids()) >= 12, 15, "12 sent events")
        time.sleep(0.5)
        self.assertEqual(rcv.bad, [])
        got = rcv.sent_ids()
        self.assertEqual(sorted(got), want)          # once each
        by_id = {x["id"]: x for x in dl}
        for e in rcv.snapshot():
            self.assertEqual(set(e), {"event", "delivery_id",
                                      "broadcast_id", "household_id",
                                      "status", "channel", "code",
                                      "at_ms"}, e)
            self.assertEqual(e["event"], "delivery.status")
            self.assertEqual(e["broadcast_id"], b["id"])
            self.assertEqual(e["channel"], "zns")
            self.assertEqual(e["household_id"],
                             by_id[e["delivery_id"]]["household_id"])
            self.assertIsInstance(e["at_ms"], int)
        for n in numbers:
            self.assertNotIn(n[1:].encode(), rcv.raw)
        self.assertNotIn("Hộ".encode("utf-8"), rcv.raw)
        # sent events are deleted from the outbox
        self.wait(lambda: self.outbox(d)[0] == 0, 5, "an empty outbox")

    def test_retried_none_lost_across_restart(self):
        sb = self.sandbox()
        rcv = self.receiver()
        rcv.fail_with = 500
        d = self.hooked(sb, rcv)
        self.import_phones(d, "2A", tb.phone_range("0912", 400000, 8))
        b1 = self.notice(d)
        self.wait_done(d, b1["id"])
        self.wait(lambda: rcv.refused >= 2, 15, "two refused tries")
        self.assertEqual(rcv.snapshot(), [])
        n, attempts = self.outbox(d)
        self.assertEqual(n, 8)
        self.assertGreaterEqual(attempts, 1)
        self.assertTrue(d.wait_log("event hook", timeout=5))
        # a second broadcast, then a restart, while the receiver fails
        b2 = self.notice(d, title="Lần 2")
        self.wait_done(d, b2["id"])
        d.restart()
        self.assertEqual(self.outbox(d)[0], 16)
        rcv.fail_with = 0
        ids = sorted(x["id"] for x in self.deliveries(d, b1["id"]) +
                     self.deliveries(d, b2["id"]))
        self.wait(lambda: sorted(set(rcv.sent_ids())) == ids, 30,
                  "all 16 sent events")
        self.assertEqual(rcv.bad, [])
        self.assertEqual(len(rcv.sent_ids()), 16)   # no duplicate either
        self.wait(lambda: self.outbox(d)[0] == 0, 5, "an empty outbox")

    def test_reload_switches_url(self):
        sb = self.sandbox()
        dead = self.receiver()
        dead.fail_with = 503
        rcv = self.receiver()
        d = self.hooked(sb, rcv, url=dead.url)
        self.import_phones(d, "2A", tb.phone_range("0912", 500000, 3))
        b = self.notice(d)
        self.wait_done(d, b["id"])
        self.wait(lambda: dead.refused >= 1, 15, "a refused try")
        d.write_config(d.config_text.replace(dead.url, rcv.url))
        d.signal(signal.SIGHUP)
        # the rows wait for their backoff (at most a few seconds here)
        self.wait(lambda: len(set(rcv.sent_ids())) == 3, 20,
                  "3 sent events at the new url")
        self.assertEqual(rcv.bad, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
