#!/usr/bin/env python3
"""The loaxa CLI against a real loaxad."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DEFAULT_GROUPS, EXPORT_HEADER, DaemonCase  # noqa: E402

harness.require_env(need_cli=True)

SAMPLE = os.path.join(harness.SRCDIR, "etc", "households.sample.csv")


class CliCase(DaemonCase):
    def ok(self, d, *args, input=None):
        p = d.cli(*args, input=input)
        self.assertEqual(p.returncode, 0, "loaxa %s -> %d\nstdout: %s\n"
                         "stderr: %s" % (" ".join(map(str, args)),
                                         p.returncode, p.stdout, p.stderr))
        return p

    def rc(self, d, code, *args, input=None, socket_path=None):
        p = d.cli(*args, input=input, socket_path=socket_path)
        self.assertEqual(p.returncode, code, "loaxa %s -> %d (want %d)\n"
                         "stdout: %s\nstderr: %s"
                         % (" ".join(map(str, args)), p.returncode, code,
                            p.stdout, p.stderr))
        return p

    def js(self, d, *args, input=None):
        p = self.ok(d, "--json", *args, input=input)
        try:
            return json.loads(p.stdout)
        except ValueError:
            self.fail("--json %s printed no JSON: %r" % (args, p.stdout))

    def write(self, d, name, text):
        path = os.path.join(d.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def add(self, d, group, name, *phones, **opts):
        args = ["household", "add", "--group", group, "--name", name]
        for p in phones:
            args += ["--phone", p]
        for k, v in opts.items():
            args += ["--" + k.replace("_", "-"), v]
        return self.js(d, *args)


class Basics(CliCase):
    def test_status(self):
        d = self.daemon()
        p = self.ok(d, "status")
        self.assertTrue(p.stdout.strip())
        self.assertEqual(p.stderr, "")
        s = self.js(d, "status")
        self.assertEqual(s, dict(d.get("/v1/status").body,
                                 uptime_s=s["uptime_s"]))
        self.assertEqual((s["groups"], s["households"]), (4, 0))

    def test_groups(self):
        d = self.daemon()
        p = self.ok(d, "groups")
        for code, name in DEFAULT_GROUPS:
            self.assertIn(code, p.stdout)
            self.assertIn(name, p.stdout)
        self.assertEqual(self.js(d, "groups"), d.get("/v1/groups").body)

    def test_group_add_rename_remove(self):
        d = self.daemon()
        self.ok(d, "group", "add", "3C", "Nhóm dân cư 3C")
        self.assertEqual(d.get("/v1/groups/3C").body,
                         {"code": "3C", "name": "Nhóm dân cư 3C",
                          "households": 0, "from_config": False})
        self.assertIn("Nhóm dân cư 3C", self.ok(d, "groups").stdout)
        g = self.js(d, "group", "rename", "3c", "Nhóm Bàu Sen")
        self.assertEqual(g, {"code": "3C", "name": "Nhóm Bàu Sen",
                             "households": 0, "from_config": False})
        # duplicate code: the daemon says no
        p = self.rc(d, 1, "group", "add", "3C", "Khác")
        self.assertTrue(p.stderr.strip())
        # non-empty: refused without --force
        self.add(d, "3C", "Nguyễn Văn An", "0912 345 678")
        self.rc(d, 1, "group", "remove", "3C")
        self.assertStatus(d.get("/v1/groups/3C"), 200)
        self.ok(d, "group", "remove", "Nhóm Bàu Sen", "--force")
        self.assertError(d.get("/v1/groups/3C"), 404, "not_found")
        self.assertEqual(d.get("/v1/status").body["households"], 0)
        self.rc(d, 1, "group", "remove", "3C")


class HouseholdCommands(CliCase):
    def test_add_show_edit_remove(self):
        d = self.daemon()
        h = self.add(d, "Đông Tân", "Nguyễn Văn An", "0912 345 678",
                     "01662345678", address="Thôn Đông Tân, xã Đông Hà",
                     note="Trưởng thôn", zalo_id="8765432101",
                     psid="2468013579")
        self.assertHousehold(h, group="dong-tan", name="Nguyễn Văn An",
                             phones=["+84912345678", "+84362345678"],
                             address="Thôn Đông Tân, xã Đông Hà",
                             note="Trưởng thôn", zalo_user_id="8765432101",
                             messenger_psid="2468013579", opted_out=False)
        hid = h["id"]
        self.assertEqual(d.get("/v1/households/%d" % hid).body, h)
        self.assertEqual(self.js(d, "household", "show", hid), h)
        p = self.ok(d, "household", "show", hid)
        self.assertIn("Nguyễn Văn An", p.stdout)
        self.assertIn("Thôn Đông Tân, xã Đông Hà", p.stdout)

        # --phone replaces the list; --clear empties optional fields
        self.ok(d, "household", "edit", hid, "--name", "Nguyễn Văn Anh",
                "--phone", "0987.654.321", "--phone", "0903 555 101",
                "--clear", "address", "--clear", "zalo-id")
        h2 = d.get("/v1/households/%d" % hid).body
        self.assertHousehold(h2, name="Nguyễn Văn Anh",
                             phones=["+84987654321", "+84903555101"],
                             address=None, zalo_user_id=None,
                             messenger_psid="2468013579",
                             note="Trưởng thôn", group="dong-tan")
        h3 = self.js(d, "household", "edit", hid, "--group", "2B",
                     "--clear", "note", "--clear", "psid")
        self.assertHousehold(h3, group="2B", note=None, messenger_psid=None,
                             name="Nguyễn Văn Anh",
                             phones=["+84987654321", "+84903555101"])
        self.assertEqual(d.get("/v1/households/%d" % hid).body, h3)

        self.ok(d, "household", "remove", hid)
        self.assertError(d.get("/v1/households/%d" % hid), 404, "not_found")
        p = self.rc(d, 1, "household", "show", hid)
        self.assertTrue(p.stderr.strip())
        self.rc(d, 1, "household", "remove", hid)

    def test_opt_out_in(self):
        d = self.daemon()
        hid = self.add(d, "2A", "Trần Thị Bích", "0903 555 101")["id"]
        self.ok(d, "opt-out", hid)
        self.assertTrue(d.get("/v1/households/%d" % hid).body["opted_out"])
        self.assertEqual(d.get("/v1/status").body["opted_out"], 1)
        h = self.js(d, "opt-in", hid)
        self.assertHousehold(h, id=hid, opted_out=False)
        self.assertFalse(d.get("/v1/households/%d" % hid).body["opted_out"])
        self.rc(d, 1, "opt-out", 999999)

    def test_validation_error_names_the_field(self):
        d = self.daemon()
        p = self.rc(d, 1, "household", "add", "--group", "2A", "--name",
                    "Nguyễn Văn An", "--phone", "0912 345 678", "--phone",
                    "028 3829 1234")
        self.assertIn("phones[1]", p.stderr)
        self.assertIn("landline", p.stderr)
        self.assertEqual(d.get("/v1/status").body["households"], 0)
        # taken number
        self.add(d, "2A", "Nguyễn Văn An", "0912 345 678")
        p = self.rc(d, 1, "household", "add", "--group", "2B", "--name",
                    "Trần Thị Bích", "--phone", "+84912345678")
        self.assertTrue(p.stderr.strip())
        self.assertEqual(d.get("/v1/status").body["households"], 1)
        # --json still exits 1 and prints the API's error object
        p = self.rc(d, 1, "--json", "household", "add", "--group", "2A",
                    "--name", "Lê Văn Cường", "--phone", "12345")
        err = json.loads(p.stdout)["error"]
        self.assertEqual(err["code"], "validation_failed")
        self.assertEqual([(f["field"], f["code"]) for f in err["fields"]],
                         [("phones[0]", "too_short")])


class Listing(CliCase):
    def populate(self, d):
        ids = []
        ids.append(self.add(d, "2A", "Nguyễn Văn An", "0912 345 678")["id"])
        ids.append(self.add(d, "2A", "Trần Thị Bích", "0903 555 101")["id"])
        ids.append(self.add(d, "nam ha", "Lê Văn Cường",
                            "0977 555 103")["id"])
        self.ok(d, "opt-out", ids[1])
        return ids

    def test_households_table(self):
        d = self.daemon()
        ids = self.populate(d)
        p = self.ok(d, "households")
        for name in ("Nguyễn Văn An", "Trần Thị Bích", "Lê Văn Cường"):
            self.assertIn(name, p.stdout)
        for i in ids:
            self.assertIn(str(i), p.stdout)
        p = self.ok(d, "households", "--group", "2A")
        self.assertIn("Trần Thị Bích", p.stdout)
        self.assertNotIn("Lê Văn Cường", p.stdout)

    def test_households_json(self):
        d = self.daemon()
        ids = self.populate(d)
        api = d.get("/v1/households").body["households"]
        self.assertEqual(self.js(d, "households"), {"households": api})

        def names(*args):
            return [h["name"] for h in
                    self.js(d, "households", *args)["households"]]
        self.assertEqual(names("--group", "2A"),
                         ["Nguyễn Văn An", "Trần Thị Bích"])
        self.assertEqual(names("--search", "Cường"), ["Lê Văn Cường"])
        self.assertEqual(names("--search", "903555101"), ["Trần Thị Bích"])
        self.assertEqual(names("--opted-out"), ["Trần Thị Bích"])
        self.assertEqual(names("--active"), ["Nguyễn Văn An",
                                             "Lê Văn Cường"])
        self.assertEqual(names("--active", "--group", "2A"),
                         ["Nguyễn Văn An"])
        page = self.js(d, "households", "--limit", "2")
        self.assertEqual(page, {"households": api[:2],
                                "next_after": ids[1]})
        self.rc(d, 2, "households", "--limit", "many")

    def test_households_follows_paging(self):
        d = self.daemon()
        rows = ["ho_ten,so_dien_thoai"]
        rows += ["Hộ số %d,0961 %06d" % (i, i) for i in range(250)]
        path = self.write(d, "many.csv", "\n".join(rows) + "\n")
        self.ok(d, "import", "--group", "2B", path)
        got = self.js(d, "households")["households"]
        self.assertEqual(len(got), 250)
        self.assertEqual([h["name"] for h in got],
                         ["Hộ số %d" % i for i in range(250)])
        self.assertEqual(len({h["id"] for h in got}), 250)


class ImportExport(CliCase):
    def test_import_file_and_stdin(self):
        d = self.daemon()
        rep = self.js(d, "import", SAMPLE)
        self.assertEqual({k: rep[k] for k in ("dry_run", "rows", "created",
                                              "updated", "unchanged")},
                         {"dry_run": False, "rows": 40, "created": 40,
                          "updated": 0, "unchanged": 0})
        self.assertEqual((rep["rejected"], rep["warnings"]), ([], []))
        self.assertEqual(d.get("/v1/status").body["households"], 40)
        with open(SAMPLE, encoding="utf-8") as f:
            text = f.read()
        p = self.ok(d, "import", "-", input=text)
        self.assertTrue(p.stdout.strip())
        rep = self.js(d, "import", "-", input=text)
        self.assertEqual((rep["rows"], rep["unchanged"], rep["created"]),
                         (40, 40, 0))

    def test_import_dry_run_and_default_group(self):
        d = self.daemon()
        path = self.write(d, "a.csv", "ho_ten,sdt\nNguyễn Văn An,0912345678\n"
                          "Trần Thị Bích,0903 555 101\n")
        rep = self.js(d, "import", "--dry-run", "--group", "Đông Tân", path)
        self.assertEqual((rep["dry_run"], rep["created"]), (True, 2))
        self.assertEqual(d.get("/v1/status").body["households"], 0)
        self.ok(d, "import", "--group", "Đông Tân", path)
        self.assertEqual(d.get("/v1/groups/dong-tan").body["households"], 2)

    def test_import_rejected_rows_exit_4(self):
        d = self.daemon()
        text = ("ho_ten,so_dien_thoai\n"
                "Nguyễn Văn An,0912 345 678\n"
                "Trần Thị Bích,028 3829 1234\n")
        path = self.write(d, "bad.csv", text)
        p = self.rc(d, 4, "import", "--group", "2A", path)
        self.assertIn("028 3829 1234", p.stdout + p.stderr)
        self.assertEqual(d.get("/v1/status").body["households"], 1)
        p = self.rc(d, 4, "--json", "import", "--group", "2A", "-",
                    input=text)
        rep = json.loads(p.stdout)
        self.assertEqual((rep["unchanged"], len(rep["rejected"])), (1, 1))
        self.assertEqual(rep["rejected"][0]["line"], 3)
        self.assertEqual(rep["rejected"][0]["column"], "phone")

    def test_import_file_level_error_exit_1(self):
        d = self.daemon()
        path = self.write(d, "empty.csv", "ho_ten,so_dien_thoai\n")
        self.rc(d, 1, "import", "--group", "2A", path)

    def test_export(self):
        d = self.daemon()
        self.ok(d, "import", SAMPLE)
        api = d.get("/v1/export").raw
        self.assertTrue(api.decode().startswith(EXPORT_HEADER + "\n"))
        out = os.path.join(d.tmp, "export.csv")
        self.ok(d, "export", "-o", out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), api)
        p = self.ok(d, "export")
        self.assertEqual(p.stdout.encode("utf-8"), api)
        p = self.ok(d, "export", "--group", "nam-ha")
        self.assertEqual(p.stdout.encode("utf-8"),
                         d.get("/v1/export?group=nam-ha").raw)
        self.assertEqual(len(p.stdout.splitlines()), 11)
        # the export imports back unchanged
        rep = self.js(d, "import", out)
        self.assertEqual((rep["rows"], rep["unchanged"], rep["created"],
                          rep["updated"]), (40, 40, 0, 0))


class ExitCodes(CliCase):
    def test_usage_errors_exit_2(self):
        d = self.daemon()
        for args in ([], ["frobnicate"], ["household"],
                     ["household", "show"], ["household", "show", "abc"],
                     ["household", "show", "1", "2"],
                     ["household", "add", "--group", "2A", "--phone",
                      "0912345678"],
                     ["status", "--no-such-option"],
                     ["group", "add", "3C"],
                     ["import", os.path.join(d.tmp, "no-such-file.csv")]):
            with self.subTest(args=args):
                p = self.rc(d, 2, *args)
                self.assertTrue(p.stderr.strip())
        self.assertEqual(d.get("/v1/status").body["households"], 0)

    def test_unreachable_exit_3(self):
        d = self.daemon()
        missing = os.path.join(d.tmp, "nowhere", "api.sock")
        p = self.rc(d, 3, "status", socket_path=missing)
        self.assertIn(missing, p.stderr)
        self.rc(d, 3, "households", socket_path=missing)
        self.assertEqual(d.stop(), 0)
        self.rc(d, 3, "status")

    def test_daemon_error_exit_1(self):
        d = self.daemon()
        self.rc(d, 1, "household", "show", "999999")
        self.rc(d, 1, "group", "rename", "nope", "Tên")
        self.rc(d, 1, "households", "--group", "nope")


if __name__ == "__main__":
    harness.main()
