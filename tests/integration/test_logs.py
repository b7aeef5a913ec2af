#!/usr/bin/env python3
"""Personal data and secrets stay out of the logs.

A full run with every subsystem at debug level: households imported, a
broadcast through ZNS (with fallback to eSMS and Twilio), provider receipts
and a household's reply through the webhook listener. Then no phone number
(in any of the forms loaxa or a provider writes it: 0912345678,
+84912345678, 84912345678) and no secret (tokens, keys, webhook secrets)
may appear in loaxad's log, while the log does hold the debug lines of the
run (so the check cannot pass on an empty log).

Needs LOAXAD, LOAXA, LOAXA_SANDBOX (else exits 77). Stdlib only.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import test_tracking as tt  # noqa: E402

ALL_DEBUG = "main,cfg,store,api,dir,http,dispatch,webhook"
SECRETS = (sbx.ACCESS_TOKEN, sbx.ESMS_KEY, sbx.ESMS_SECRET, sbx.TWILIO_TOKEN,
           tt.ZALO_SECRET, tt.MESSENGER_SECRET, tt.VERIFY_TOKEN,
           tt.ESMS_PATH_SECRET)


class Logs(tt.TrackingCase):

    def daemon(self, start=True, **kw):
        kw.setdefault("log_level", "debug")
        kw["daemon_extra"] = "debug = " + ALL_DEBUG
        return super().daemon(start=start, **kw)

    def test_no_phone_or_secret_in_logs(self):
        d, sb = self.setup([("zns", "zns", {}), ("sms", "esms", {}),
                            ("tw", "twilio", {})])
        nationals = ["0912%06d" % (310000 + i) for i in range(12)]
        # not a Zalo user: falls back to eSMS; an invalid one reaches Twilio
        nationals += ["0912000118", "0912000108"]
        for i, ph in enumerate(nationals):
            self.household(d, "Hộ %d" % i, ph)
        b = self.meeting(d)
        self.wait_sent(d, b["id"])
        st, ans = sb.request("POST", "/_sandbox/reply", {
            "provider": "twilio", "from": tt.e164(nationals[0]),
            "text": "Có ạ"})
        self.assertEqual(st, 202, ans)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            w = sb.stats()["webhooks"]
            if w["pending"] == 0 and w["replies"] == 1:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        self.assertEqual(d.stop(), 0)
        log = d.log()
        # the run is in the log, at debug level
        for needle in ("[dispatch]", "[http]", "[webhook]", "<7>"):
            self.assertIn(needle, log)
        for ph in nationals:
            for form in (ph, tt.e164(ph), "84" + ph[1:]):
                self.assertNotIn(form, log, "a phone number in the log")
        for secret in SECRETS:
            self.assertNotIn(secret, log, "a secret in the log")


if __name__ == "__main__":
    unittest.main(verbosity=2)
