#!/usr/bin/env python3
"""loaxad as a process: options, config checking, signals, sd_notify,
locking, restarts, storage errors and log hygiene."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import LOAXAD, DaemonCase  # noqa: E402

harness.require_env()

LOG_LINE = re.compile(r"^<[0-7]>\[[a-z]+\] \S")


def run(*args, timeout=10):
    return subprocess.run([LOAXAD] + list(args), capture_output=True,
                          text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


class Options(DaemonCase):
    def test_version(self):
        p = run("--version")
        self.assertEqual(p.returncode, 0, p)
        self.assertIn("0.1.0", p.stdout)
        self.assertEqual(len(p.stdout.strip().splitlines()), 1, p.stdout)

    def test_help(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0, p)
        for opt in ("--config", "--check-config", "--version", "--help"):
            self.assertIn(opt, p.stdout)

    def test_unknown_option(self):
        p = run("--no-such-option")
        self.assertNotEqual(p.returncode, 0, p)
        self.assertIn("--no-such-option", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_check_config_good(self):
        d = self.daemon(start=False, tcp=True, max_body="1M",
                        groups=[("2A", "Nhóm dân cư 2A"),
                                ("dong-tan", "Nhóm dân cư Đông Tân")])
        p = run("--config", d.config_path, "--check-config")
        self.assertEqual(p.returncode, 0, p)
        self.assertIn("configuration OK", p.stdout)
        # it checks, it does not start: no socket, no database
        self.assertFalse(os.path.exists(d.socket_path))
        self.assertFalse(os.path.exists(d.db_path))

    def test_check_config_bad(self):
        d = self.daemon(start=False, config=(
            "[daemon]\n"                       # 1
            "state_dir = @TMP@/state\n"        # 2
            "log_level = loud\n"               # 3 bad value
            "\n"                               # 4
            "[api]\n"                          # 5
            "socket = @TMP@/api.sock\n"        # 6
            "max_body = lots\n"                # 7 bad value
            "colour = blue\n"                  # 8 unknown key
            "socket_mode = 0999\n"             # 9 bad octal
            "\n"                               # 10
            "[daemon]\n"                       # 11 duplicate section
            "\n"                               # 12
            "[groups]\n"                       # 13
            "2A = Nhóm dân cư 2A\n"            # 14
            "bad code! = Nhóm xấu\n"           # 15 bad group code
            "\n"                               # 16
            "[nonsense]\n"                     # 17 unknown section
            "a = b\n"))
        p = run("--config", d.config_path, "--check-config")
        self.assertEqual(p.returncode, 1, p)
        self.assertNotIn("configuration OK", p.stdout)
        for line in (3, 7, 8, 9, 11, 15, 17):
            with self.subTest(line=line):
                self.assertRegex(p.stderr, r"(?m)^%s:%d: \S"
                                 % (re.escape(d.config_path), line))
        for line in (1, 2, 5, 6, 14):
            self.assertNotRegex(p.stderr, r"(?m)^%s:%d: "
                                % (re.escape(d.config_path), line))

    def test_check_config_missing_file(self):
        p = run("--config", "/nonexistent/loaxa.ini", "--check-config")
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("/nonexistent/loaxa.ini", p.stderr)

    def test_start_with_bad_config_fails(self):
        d = self.daemon(start=False, config=(
            "[daemon]\n"
            "state_dir = @TMP@/state\n"
            "[api]\n"
            "socket = @TMP@/api.sock\n"
            "max_connections = many\n"))     # 5
        rc = d.run_to_exit()
        self.assertIsNotNone(rc, "loaxad kept running with a bad config")
        self.assertNotEqual(rc, 0)
        self.assertIn("%s:5:" % d.config_path, d.log())
        self.assertFalse(d.notified("READY=1"))
        self.assertFalse(os.path.exists(d.socket_path))

    def test_start_with_missing_config_fails(self):
        d = self.daemon(start=False)
        os.unlink(d.config_path)
        rc = d.run_to_exit()
        self.assertIsNotNone(rc)
        self.assertNotEqual(rc, 0)
        self.assertIn(d.config_path, d.log())


class Lifecycle(DaemonCase):
    def test_sigterm_stops_cleanly(self):
        d = self.daemon()
        self.assertTrue(d.notified("READY=1"))
        self.assertStatus(d.get("/v1/status"), 200)
        rc = d.stop()
        self.assertEqual(rc, 0)
        self.assertTrue(d.notified("STOPPING=1"), d.notify_msgs)
        self.assertEqual(d.stdout(), "")
        for line in d.log().splitlines():
            self.assertRegex(line, LOG_LINE)

    def test_second_daemon_refused(self):
        d1 = self.daemon()
        d2 = self.daemon(start=False, database=d1.db_path)
        rc = d2.run_to_exit()
        self.assertIsNotNone(rc, "second loaxad on the same database kept "
                             "running")
        self.assertNotEqual(rc, 0)
        self.assertIn("in use by another loaxad", d2.log())
        self.assertFalse(d2.notified("READY=1"))
        # the first one is undisturbed
        self.assertTrue(d1.running())
        self.assertStatus(d1.get("/v1/status"), 200)
        # once it is gone, the second may start
        self.assertEqual(d1.stop(), 0)
        d2.start()
        self.assertEqual(d2.get("/v1/status").body["database"], d1.db_path)

    def test_data_survives_restart(self):
        d = self.daemon()
        self.assertStatus(d.post("/v1/groups", {"code": "3C",
                                                "name": "Nhóm dân cư 3C"}),
                          201)
        r = d.post("/v1/households",
                   {"group": "3C", "name": "Nguyễn Văn An",
                    "phones": ["0912 345 678", "0987 654 321"],
                    "address": "Thôn 2, xã Đông Hà", "note": "Trưởng thôn"})
        self.assertStatus(r, 201)
        h = r.body
        d.post("/v1/households/%d/opt-out" % h["id"])
        h = d.get("/v1/households/%d" % h["id"]).body
        groups = d.get("/v1/groups").body
        d.restart()
        self.assertEqual(d.get("/v1/households/%d" % h["id"]).body, h)
        self.assertEqual(d.get("/v1/groups").body, groups)
        s = d.get("/v1/status").body
        self.assertEqual((s["groups"], s["households"], s["phones"],
                          s["opted_out"]), (5, 1, 2, 1))
        # after a crash too: what was acknowledged is on disk
        r = d.post("/v1/households", {"group": "2A", "name": "Trần Thị Bích",
                                      "phones": "0903 555 101"})
        self.assertStatus(r, 201)
        h2 = r.body
        d.kill()
        d.start()   # also copes with the stale socket file
        self.assertEqual(d.get("/v1/households/%d" % h2["id"]).body, h2)
        self.assertEqual(d.get("/v1/status").body["households"], 2)


class Reload(DaemonCase):
    GROUPS = [("2A", "Nhóm dân cư 2A"), ("2B", "Nhóm dân cư 2B")]

    def groups(self, d):
        r = d.get("/v1/groups")
        self.assertStatus(r, 200)
        return [(g["code"], g["name"], g["from_config"])
                for g in r.body["groups"]]

    def test_sighup_applies_new_groups(self):
        d = self.daemon(groups=self.GROUPS)
        self.assertEqual(self.groups(d), [("2A", "Nhóm dân cư 2A", True),
                                          ("2B", "Nhóm dân cư 2B", True)])
        r = d.post("/v1/households", {"group": "2B", "name": "Lý Thị Nga",
                                      "phones": ["0962 555 202"]})
        self.assertStatus(r, 201)
        d.write_config(d.base_config(groups=[
            ("2A", "Nhóm dân cư 2A (mới)"),
            ("3C", "Nhóm dân cư 3C")]))
        d.signal(signal.SIGHUP)
        self.assertTrue(wait_for(
            lambda: d.get("/v1/groups/3C").status == 200),
            "3C did not appear after SIGHUP")
        self.assertTrue(wait_for(
            lambda: d.get("/v1/groups/2A").body["name"]
            == "Nhóm dân cư 2A (mới)"))
        # 2B left the config: it stays (with its household), API-managed
        self.assertEqual(self.groups(d),
                         [("2A", "Nhóm dân cư 2A (mới)", True),
                          ("2B", "Nhóm dân cư 2B", False),
                          ("3C", "Nhóm dân cư 3C", True)])
        self.assertEqual(d.get("/v1/groups/2B").body["households"], 1)
        self.assertError(d.patch("/v1/groups/3C", {"name": "x"}), 409,
                         "group_in_config")
        self.assertStatus(d.patch("/v1/groups/2B", {"name": "Nhóm 2B"}),
                          200)
        self.assertTrue(d.running())
        # the new config also holds after a restart
        d.restart()
        self.assertEqual(self.groups(d),
                         [("2A", "Nhóm dân cư 2A (mới)", True),
                          ("2B", "Nhóm 2B", False),
                          ("3C", "Nhóm dân cư 3C", True)])

    def test_sighup_with_broken_config_keeps_old(self):
        d = self.daemon(groups=self.GROUPS)
        before = self.groups(d)
        good = d.base_config(groups=self.GROUPS + [("4D", "Nhóm 4D")])
        lines = good.splitlines()
        # break one value; remember its line number
        idx = next(i for i, l in enumerate(lines)
                   if l.startswith("log_level"))
        lines[idx] = "log_level = shouting"
        d.write_config("\n".join(lines) + "\n")
        mark = d.log_size()
        d.signal(signal.SIGHUP)
        needle = "%s:%d:" % (d.config_path, idx + 1)
        self.assertTrue(d.wait_log(needle, since=mark),
                        "no '%s' in the log after SIGHUP" % needle)
        self.assertTrue(d.running())
        self.assertStatus(d.get("/v1/status"), 200)
        self.assertError(d.get("/v1/groups/4D"), 404, "not_found")
        self.assertEqual(self.groups(d), before)
        # a later good reload still works
        d.write_config(good)
        d.signal(signal.SIGHUP)
        self.assertTrue(wait_for(
            lambda: d.get("/v1/groups/4D").status == 200),
            "4D did not appear after the second SIGHUP")
        self.assertTrue(d.running())

    def test_sighup_changes_log_level(self):
        d = self.daemon()
        self.assertStatus(d.get("/v1/status"), 200)
        self.assertNotIn("<7>[", d.log())
        d.write_config(d.base_config().replace("log_level = info",
                                               "log_level = debug"))
        d.signal(signal.SIGHUP)

        def debug_seen():
            d.get("/v1/status")
            return "<7>[" in d.log()
        self.assertTrue(wait_for(debug_seen),
                        "no debug lines after reloading log_level = debug")

    def test_sighup_nonreloadable_key_warns(self):
        d = self.daemon()
        other = os.path.join(d.tmp, "other.sock")
        d.write_config(d.base_config().replace(d.socket_path, other))
        mark = d.log_size()
        d.signal(signal.SIGHUP)
        self.assertTrue(d.wait_log("restart", since=mark),
                        "no warning that [api] socket needs a restart")
        self.assertIn("socket", d.log()[mark:])
        self.assertTrue(d.running())
        self.assertStatus(d.get("/v1/status"), 200)
        self.assertFalse(os.path.exists(other))

    def test_sighup_with_missing_config_keeps_running(self):
        d = self.daemon()
        os.unlink(d.config_path)
        mark = d.log_size()
        d.signal(signal.SIGHUP)
        self.assertTrue(d.wait_log(d.config_path, since=mark),
                        "the failed reload was not logged")
        self.assertTrue(d.running())
        self.assertEqual(len(d.get("/v1/groups").body["groups"]), 4)


class Storage(DaemonCase):
    def expect_failure(self, d, *needles):
        rc = d.run_to_exit()
        self.assertIsNotNone(rc, "loaxad kept running")
        self.assertNotEqual(rc, 0)
        self.assertFalse(d.notified("READY=1"))
        log = d.log()
        for n in needles:
            self.assertIn(n, log)
        return log

    def test_state_dir_is_not_a_directory(self):
        d = self.daemon(start=False)
        blocker = os.path.join(d.tmp, "blocker")
        with open(blocker, "w") as f:
            f.write("a file, not a directory\n")
        d.state_dir = os.path.join(blocker, "state")
        d.write_config(d.base_config())
        self.expect_failure(d, blocker)

    @staticmethod
    def _can_drop_write():
        return os.geteuid() != 0

    def test_state_dir_not_writable(self):
        d = self.daemon(start=False)
        if self._can_drop_write():
            os.chmod(d.state_dir, 0o500)
        else:
            # root ignores permissions; sysfs refuses new files even to
            # root (EACCES), and the daemon only tries to create its own
            try:
                open("/sys/loaxa-it-probe", "w").close()
                self.skipTest("cannot make an unwritable directory here")
            except PermissionError:
                pass
            except OSError:
                self.skipTest("cannot make an unwritable directory here")
            d.state_dir = "/sys"
            d.write_config(d.base_config())
        log = self.expect_failure(d, d.state_dir)
        self.assertFalse(os.path.exists(os.path.join(d.state_dir,
                                                     "loaxa.db")))
        return log

    def test_database_in_missing_directory(self):
        d = self.daemon(start=False)
        missing = os.path.join(d.tmp, "missing", "sub")
        d.database = os.path.join(missing, "loaxa.db")
        d.write_config(d.base_config())
        self.expect_failure(d, os.path.join(d.tmp, "missing"))
        self.assertFalse(os.path.exists(missing))

    def test_garbage_database(self):
        d = self.daemon(start=False)
        junk = b"This is a spreadsheet, not a database.\n" * 200
        with open(d.db_path, "wb") as f:
            f.write(junk)
        self.expect_failure(d, "not a loaxa database")
        with open(d.db_path, "rb") as f:
            self.assertEqual(f.read(), junk, "the file was modified")

    def test_newer_schema_refused(self):
        d = self.daemon()
        self.assertEqual(d.stop(), 0)
        con = sqlite3.connect(d.db_path)
        con.execute("PRAGMA user_version = 99")
        con.commit()
        con.close()
        self.expect_failure(d, d.db_path)
        con = sqlite3.connect(d.db_path)
        self.assertEqual(con.execute("PRAGMA user_version").fetchone()[0],
                         99)
        con.close()


class LogHygiene(DaemonCase):
    PHONES = ["0912 345 678", "0987 654 321", "01662345678", "0903555101",
              "0977 555 103", "0868555106"]
    NSN = ["912345678", "987654321", "362345678", "903555101", "977555103",
           "868555106"]

    def test_no_full_phone_number_in_logs(self):
        d = self.daemon(log_level="debug")
        r = d.post("/v1/households", {"group": "2A", "name": "Nguyễn Văn An",
                                      "phones": self.PHONES[0:2]})
        self.assertStatus(r, 201)
        hid = r.body["id"]
        r = d.post("/v1/households", {"group": "2B", "name": "Trần Thị Bích",
                                      "phones": [self.PHONES[2]]})
        self.assertStatus(r, 201)
        # conflicts name numbers in their answers; not in the log
        r = d.post("/v1/households", {"group": "2B", "name": "Lê Văn Cường",
                                      "phones": [self.PHONES[1]]})
        self.assertError(r, 409, "phone_taken")
        r = d.patch("/v1/households/%d" % hid,
                    {"phones": self.PHONES[0:2] + [self.PHONES[2]]})
        self.assertError(r, 409, "phone_taken")
        d.post("/v1/households/%d/opt-out" % hid)
        csv = ("ho_ten,so_dien_thoai\n"
               "Phạm Thị Dung,%s\n"
               "Hoàng Văn Đức,\"%s / 024 1234 5678\"\n"
               "Đặng Văn Hùng,%s\n"
               "Võ Thị Hồng,%s\n"
               % (self.PHONES[3], self.PHONES[4], self.PHONES[5],
                  self.PHONES[3]))
        r = d.post("/v1/import?group=2A", csv)
        self.assertStatus(r, 200)
        self.assertEqual((r.body["created"], len(r.body["rejected"]),
                          len(r.body["warnings"])), (3, 1, 1))
        r = d.get("/v1/households?q=0912345678")
        self.assertStatus(r, 200)
        r = d.get("/v1/households?q=" + self.NSN[1])
        self.assertStatus(r, 200)
        self.assertStatus(d.get("/v1/export"), 200)
        self.assertStatus(d.delete("/v1/households/%d" % hid), 204)
        self.assertEqual(d.stop(), 0)
        log = d.log()
        self.assertTrue(log, "empty log at log_level = debug")
        for nsn in self.NSN:
            with self.subTest(number=nsn):
                bad = [l for l in log.splitlines() if nsn in l]
                self.assertEqual(bad, [], "full phone number in the log")
        for line in log.splitlines():
            self.assertRegex(line, LOG_LINE)


if __name__ == "__main__":
    harness.main()
