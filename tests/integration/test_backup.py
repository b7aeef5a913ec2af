#!/usr/bin/env python3
"""loaxa backup while a broadcast is being sent: the copy is a consistent
SQLite database that holds every broadcast the API acknowledged, and a
daemon restored from it starts and carries on.

Needs LOAXAD, LOAXA and LOAXA_SANDBOX (else exits 77). Stdlib only.
"""

import os
import shutil
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import test_broadcast as tb  # noqa: E402


def wait_for(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


class Backup(tb.BroadcastCase):

    def test_backup_while_sending_and_restore(self):
        sb = self.sandbox("--latency", "50")
        d = self.start(sb, [("zns", "zns", {"rate": "40"})])
        self.import_phones(d, "2A", tb.phone_range("0912", 200000, 300))
        ids = []
        for i in range(3):
            b = self.create(d, {"kind": "notice", "title": "Thông báo %d" % i,
                                "body": "Nội dung", "groups": ["2A"]})
            ids.append(b["id"])
        # wait until sending is under way, then back up mid-broadcast
        self.assertTrue(wait_for(
            lambda: self.ok(d.get("/v1/broadcasts/%d" % ids[0]))
            ["counts"]["sent"] > 0, 30))
        out = os.path.join(d.tmp, "backup.db")
        p = d.cli("backup", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("backup written to", p.stdout)
        self.assertFalse(os.path.exists(out + ".tmp"))

        con = sqlite3.connect("file:%s?mode=ro" % out, uri=True)
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check")
                             .fetchone()[0], "ok")
            got = [r[0] for r in con.execute(
                "SELECT id FROM broadcasts ORDER BY id")]
            self.assertEqual(got, ids)
            self.assertEqual(con.execute(
                "SELECT count(*) FROM households").fetchone()[0], 300)
            # every delivery of the copy is in a known state
            n = con.execute("SELECT count(*) FROM deliveries WHERE status"
                            " NOT BETWEEN 0 AND 8").fetchone()[0]
            self.assertEqual(n, 0)
        finally:
            con.close()

        # restore: stop, replace the database, start again
        self.assertEqual(d.stop(), 0)
        db = os.path.join(d.tmp, "state", "loaxa.db")
        for ext in ("-wal", "-shm"):
            if os.path.exists(db + ext):
                os.unlink(db + ext)
        shutil.copyfile(out, db)
        d.start()
        got = [b["id"] for b in
               self.ok(d.get("/v1/broadcasts"))["broadcasts"]]
        self.assertEqual(sorted(got), ids)
        # and the restored daemon finishes the job: nothing lost
        for i in ids:
            self.assertTrue(wait_for(
                lambda i=i: self.ok(d.get("/v1/broadcasts/%d" % i))
                ["counts"]["sent"] == 300, 60), i)


if __name__ == "__main__":
    unittest.main(verbosity=2)
