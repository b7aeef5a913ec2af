#!/usr/bin/env python3
"""loaxa notify warns before a notice whose SMS needs many segments, and
sends it only with --yes; --preview shows the texts and creates nothing.
The real loaxad with a Unicode eSMS channel of the real sandbox.

Needs LOAXAD, LOAXA, LOAXA_SANDBOX (else exits 77). Stdlib only.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import test_broadcast as tb  # noqa: E402

# Vietnamese with diacritics is UCS-2: 70 characters a segment, 67 when
# concatenated; this body needs well over the default limit of 3.
LONG = ("Thông báo của Ủy ban nhân dân xã Đông Hà về lịch tiêm phòng, "
        "thu gom rác và họp dân trong tuần tới. ") * 4


class NotifySegments(tb.BroadcastCase):

    def notify(self, d, *extra):
        return d.cli("notify", "--title", "Thông báo", "--body", LONG,
                     "--group", "2A", *extra)

    def count(self, d):
        return len(self.ok(d.get("/v1/broadcasts"))["broadcasts"])

    def test_warns_and_needs_yes(self):
        sb = self.sandbox()
        d = self.start(sb, [("sms", "esms", {"unicode": "yes"})])
        p = self.notify(d)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("segments", p.stderr)
        self.assertIn("UCS-2", p.stderr)
        self.assertIn("--yes", p.stderr)
        self.assertEqual(self.count(d), 0)

        p = self.notify(d, "--preview")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("UCS-2", p.stdout)
        self.assertEqual(self.count(d), 0)

        p = self.notify(d, "--yes")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.count(d), 1)

    def test_short_notice_needs_no_yes(self):
        sb = self.sandbox()
        d = self.start(sb, [("sms", "esms", {"unicode": "yes"})])
        p = d.cli("notify", "--title", "Họp", "--body", "19h30 tối nay.",
                  "--group", "2A")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("segments", p.stderr)
        self.assertEqual(self.count(d), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
