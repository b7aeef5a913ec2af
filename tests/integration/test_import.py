#!/usr/bin/env python3
"""CSV import and export through loaxad's API (docs/api.md)."""

import csv
import io
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DaemonCase, EXPORT_HEADER  # noqa: E402

harness.require_env()

SAMPLE = os.path.join(harness.SRCDIR, "etc", "households.sample.csv")
SAMPLE_ROWS = 40
SAMPLE_PHONES = 43
REPORT_KEYS = {"dry_run", "rows", "created", "updated", "unchanged",
               "rejected", "warnings"}
ISSUE_KEYS = {"line", "column", "value", "code", "message"}


def read_sample():
    with open(SAMPLE, "rb") as f:
        return f.read()


class ImportCase(DaemonCase):
    def imp(self, d, body, group=None, dry_run=False, timeout=30.0):
        params = {}
        if group is not None:
            params["group"] = group
        if dry_run:
            params["dry_run"] = "1"
        path = "/v1/import"
        if params:
            path += "?" + urllib.parse.urlencode(params)
        return d.post(path, body, headers={"Content-Type": "text/csv"},
                      timeout=timeout)

    def report(self, r, rows, created=0, updated=0, unchanged=0,
               rejected=0, warnings=0, dry_run=False):
        """Check a 200 import answer's counts; return it."""
        self.assertStatus(r, 200)
        rep = r.body
        self.assertIsInstance(rep, dict, r)
        self.assertEqual(set(rep), REPORT_KEYS, rep)
        got = {k: rep[k] for k in ("dry_run", "rows", "created", "updated",
                                   "unchanged")}
        got["rejected"] = len(rep["rejected"])
        got["warnings"] = len(rep["warnings"])
        self.assertEqual(got, {"dry_run": dry_run, "rows": rows,
                               "created": created, "updated": updated,
                               "unchanged": unchanged, "rejected": rejected,
                               "warnings": warnings}, rep)
        for issue in rep["rejected"] + rep["warnings"]:
            self.assertEqual(set(issue), ISSUE_KEYS, issue)
            self.assertIsInstance(issue["line"], int)
            self.assertTrue(issue["message"], issue)
        return rep

    def issues(self, lst):
        return [(i["line"], i["column"], i["value"]) for i in lst]

    def status(self, d):
        r = d.get("/v1/status")
        self.assertStatus(r, 200)
        return r.body

    def all_households(self, d):
        r = d.get("/v1/households?limit=1000")
        self.assertStatus(r, 200)
        self.assertIsNone(r.body["next_after"])
        return r.body["households"]

    def by_phone(self, d, digits):
        r = d.get("/v1/households?q=" + digits)
        self.assertStatus(r, 200)
        hs = r.body["households"]
        self.assertEqual(len(hs), 1, "q=%s: %r" % (digits, hs))
        return hs[0]

    def group_counts(self, d):
        r = d.get("/v1/groups")
        self.assertStatus(r, 200)
        return {g["code"]: g["households"] for g in r.body["groups"]}


class Sample(ImportCase):
    def test_sample_imports_cleanly(self):
        d = self.daemon()
        r = self.imp(d, read_sample())
        self.report(r, rows=SAMPLE_ROWS, created=SAMPLE_ROWS)
        s = self.status(d)
        self.assertEqual((s["groups"], s["households"], s["phones"],
                          s["opted_out"]),
                         (4, SAMPLE_ROWS, SAMPLE_PHONES, 0))
        self.assertEqual(self.group_counts(d), {"2A": 10, "2B": 10,
                                                "dong-tan": 10,
                                                "nam-ha": 10})
        h = self.by_phone(d, "912345678")
        self.assertHousehold(h, group="2A", name="Nguyễn Văn An",
                             phones=["+84912345678", "+84987654321"],
                             address="Tổ 1, thôn 2A, xã Đông Hà",
                             note="Trưởng thôn 2A", zalo_user_id=None,
                             messenger_psid=None, opted_out=False)
        # old 11-digit Viettel number 0168 -> 038
        h = self.by_phone(d, "385550102")
        self.assertHousehold(h, group="2A", name="Lê Văn Cường",
                             phones=["+84385550102"])
        h = self.by_phone(d, "903555101")
        self.assertHousehold(h, name="Trần Thị Bích", note=None,
                             phones=["+84903555101"])
        h = self.by_phone(d, "935555104")   # written "+84 935 555 104"
        self.assertHousehold(h, name="Hoàng Văn Đức", note="Hộ nghèo")
        h = self.by_phone(d, "827555307")
        self.assertHousehold(h, group="dong-tan", name="Cao Văn Yên",
                             phones=["+84939555307", "+84827555307"])
        h = self.by_phone(d, "947555410")
        self.assertHousehold(h, group="nam-ha", name="Ngô Văn Quang",
                             address="Tổ 5, thôn Nam Hà, xã Đông Hà")

    def test_reimport_unchanged_then_modified(self):
        d = self.daemon()
        data = read_sample()
        self.report(self.imp(d, data), rows=40, created=40)
        before = self.all_households(d)
        self.report(self.imp(d, data), rows=40, unchanged=40)
        self.assertEqual(self.all_households(d), before)

        text = data.decode("utf-8")
        a = "Tổ 1, thôn 2A, xã Đông Hà\",Trưởng thôn 2A"
        self.assertEqual(text.count(a), 1)
        text = text.replace(a, "Tổ 6, thôn 2A, xã Đông Hà\",Trưởng thôn 2A")
        b = "Lý Thị Nga"
        self.assertEqual(text.count(b), 1)
        text = text.replace(b, "Lý Thị Ngà")
        e = "Hộ cận nghèo"
        self.assertEqual(text.count(e), 1)
        text = text.replace(e, "Hộ cận nghèo (2025)")
        text += "Nam Hà,Lâm Thị Phượng,0379 555 411,\"Tổ 6, thôn Nam Hà\",\n"

        # dry run first: the counts, but nothing written
        self.report(self.imp(d, text, dry_run=True), rows=41, created=1,
                    updated=3, unchanged=37, dry_run=True)
        self.assertEqual(self.all_households(d), before)
        self.report(self.imp(d, text), rows=41, created=1, updated=3,
                    unchanged=37)
        self.assertEqual(self.by_phone(d, "912345678")["address"],
                         "Tổ 6, thôn 2A, xã Đông Hà")
        self.assertEqual(self.by_phone(d, "962555202")["name"], "Lý Thị Ngà")
        self.assertEqual(self.by_phone(d, "365555404")["note"],
                         "Hộ cận nghèo (2025)")
        h = self.by_phone(d, "379555411")
        self.assertHousehold(h, group="nam-ha", name="Lâm Thị Phượng",
                             address="Tổ 6, thôn Nam Hà", note=None)
        self.assertEqual(self.status(d)["households"], 41)
        # and once more: all unchanged
        self.report(self.imp(d, text), rows=41, unchanged=41)

    def test_dry_run_writes_nothing(self):
        d = self.daemon()
        r = self.imp(d, read_sample(), dry_run=True)
        self.report(r, rows=40, created=40, dry_run=True)
        s = self.status(d)
        self.assertEqual((s["households"], s["phones"]), (0, 0))
        self.assertEqual(self.group_counts(d), {"2A": 0, "2B": 0,
                                                "dong-tan": 0, "nam-ha": 0})
        self.assertEqual(self.all_households(d), [])
        # the real import afterwards still creates everything
        self.report(self.imp(d, read_sample()), rows=40, created=40)


class Formats(ImportCase):
    def test_vietnamese_headers_semicolon_bom_quotes(self):
        d = self.daemon()
        text = ("\ufeffho_ten;so_dien_thoai;nhom;dia_chi;ghi_chu\n"      # 1
                "Nguyễn Văn An;0912 345 678;2A;\"Tổ 1; thôn 2A\";"      # 2
                "\"Gọi sau 5 giờ chiều\n"
                "Nhà có người già\"\n"                                  # 3
                "Trần Thị Bích;\"0903 555 101, 0903 555 102\";Đông Tân;"
                "Thôn Đông Tân;\n"                                      # 4
                "Lê Văn Cường;\"0977 555 103\n"                         # 5
                "0977 555 104\";nam-ha;\"Nói \"\"to\"\" vì tai kém\";\n"  # 6
                "Phạm Thị Dung;0868 555 106 hoặc 0868 555 107;2B;;\n"   # 7
                "Hộ Sai Số;028 3829 1234;2A;;\n"                        # 8
                "\n"                                                    # 9
                "Võ Thị Hồng;0356-555-105;dong tan;;\n")                # 10
        rep = self.report(self.imp(d, text), rows=6, created=5, rejected=1)
        self.assertEqual(self.issues(rep["rejected"]),
                         [(8, "phone", "028 3829 1234")])
        self.assertEqual(rep["rejected"][0]["code"], "landline")

        h = self.by_phone(d, "912345678")
        self.assertHousehold(h, group="2A", name="Nguyễn Văn An",
                             phones=["+84912345678"],
                             address="Tổ 1; thôn 2A",
                             note="Gọi sau 5 giờ chiều\nNhà có người già")
        h = self.by_phone(d, "903555102")
        self.assertHousehold(h, group="dong-tan", name="Trần Thị Bích",
                             phones=["+84903555101", "+84903555102"],
                             address="Thôn Đông Tân", note=None)
        h = self.by_phone(d, "977555104")
        self.assertHousehold(h, group="nam-ha", name="Lê Văn Cường",
                             phones=["+84977555103", "+84977555104"],
                             address="Nói \"to\" vì tai kém")
        h = self.by_phone(d, "868555107")
        self.assertHousehold(h, group="2B", name="Phạm Thị Dung",
                             phones=["+84868555106", "+84868555107"],
                             address=None)
        h = self.by_phone(d, "356555105")
        self.assertHousehold(h, group="dong-tan", name="Võ Thị Hồng")

    def test_header_aliases_crlf(self):
        d = self.daemon()
        text = ("Chủ hộ,Số ĐT,Thôn,Địa chỉ,Ghi chú,Zalo,Từ chối\r\n"
                "Nguyễn Văn An,0912 345 678,2A,Tổ 1,,zalo-111,\r\n"
                "Trần Thị Bích,0903 555 101,Nam Hà,Tổ 2,Ốm,,x\r\n"
                "Lê Văn Cường,0977 555 103,2B,,,,có\r\n"
                "Phạm Thị Dung,0868 555 106,2B,,,,1\r\n"
                "Hoàng Văn Đức,0935 555 104,2B,,,,yes\r\n"
                "Võ Thị Hồng,0356 555 105,2B,,,,0\r\n")
        self.report(self.imp(d, text), rows=6, created=6)
        h = self.by_phone(d, "912345678")
        self.assertHousehold(h, group="2A", name="Nguyễn Văn An",
                             address="Tổ 1", note=None,
                             zalo_user_id="zalo-111", opted_out=False)
        h = self.by_phone(d, "903555101")
        self.assertHousehold(h, group="nam-ha", note="Ốm", opted_out=True)
        for digits, out in (("977555103", True), ("868555106", True),
                            ("935555104", True), ("356555105", False)):
            with self.subTest(digits=digits):
                self.assertEqual(self.by_phone(d, digits)["opted_out"], out)
        self.assertEqual(self.status(d)["opted_out"], 4)

    def test_english_headers_messenger(self):
        d = self.daemon()
        text = ("Name,Phone,Group,Messenger_PSID,Zalo-User-ID\n"
                "Nguyễn Văn An,+84912345678,2A,2468013579,8765432101\n")
        self.report(self.imp(d, text), rows=1, created=1)
        h = self.by_phone(d, "912345678")
        self.assertHousehold(h, messenger_psid="2468013579",
                             zalo_user_id="8765432101")

    def test_default_group_parameter(self):
        d = self.daemon()
        text = ("nhom,ho_ten,so_dien_thoai\n"
                ",Nguyễn Văn An,0912 345 678\n"
                "2B,Trần Thị Bích,0903 555 101\n")
        self.report(self.imp(d, text, group="nam ha"), rows=2, created=2)
        self.assertEqual(self.by_phone(d, "912345678")["group"], "nam-ha")
        self.assertEqual(self.by_phone(d, "903555101")["group"], "2B")
        text = "ho_ten,sdt\nLê Văn Cường,0977 555 103\n"
        self.report(self.imp(d, text, group="Đông Tân"), rows=1, created=1)
        self.assertEqual(self.by_phone(d, "977555103")["group"], "dong-tan")


class Rejections(ImportCase):
    def test_bad_phones_exact_lines(self):
        d = self.daemon()
        text = ("ho_ten,so_dien_thoai\n"          # 1
                "Nguyễn Văn An,0912 345 678\n"    # 2
                "Trần Thị Bích,028 3829 1234\n"   # 3 landline
                "Lê Văn Cường,12345\n"            # 4 too short
                "Phạm Thị Dung,0977 555 103\n"    # 5
                "Hoàng Văn Đức,\n"                # 6 no phone
                "Võ Thị Hồng,0356 555 105\n"      # 7
                ",0903 555 101\n")                # 8 no name
        rep = self.report(self.imp(d, text, group="2A"), rows=7, created=3,
                          rejected=4)
        self.assertEqual(self.issues(rep["rejected"]),
                         [(3, "phone", "028 3829 1234"),
                          (4, "phone", "12345"),
                          (6, "phone", ""),
                          (8, "name", "")])
        self.assertEqual([i["code"] for i in rep["rejected"][:2]],
                         ["landline", "too_short"])
        # rejected rows don't prevent the others
        s = self.status(d)
        self.assertEqual((s["households"], s["phones"]), (3, 3))
        self.assertEqual(sorted(h["name"] for h in self.all_households(d)),
                         sorted(["Nguyễn Văn An", "Phạm Thị Dung",
                                 "Võ Thị Hồng"]))
        # the number of a rejected row was not stored anywhere
        self.assertEqual(d.get("/v1/households?q=903555101")
                         .body["households"], [])

    def test_good_number_with_landline_is_a_warning(self):
        d = self.daemon()
        text = ("ho_ten,so_dien_thoai\n"
                "Nguyễn Văn An,\"0912 345 678 / 024 1234 5678\"\n")
        rep = self.report(self.imp(d, text, group="2A"), rows=1, created=1,
                          warnings=1)
        self.assertEqual(self.issues(rep["warnings"]),
                         [(2, "phone", "024 1234 5678")])
        self.assertEqual(rep["warnings"][0]["code"], "landline")
        self.assertHousehold(self.by_phone(d, "912345678"),
                             phones=["+84912345678"])
        self.assertEqual(self.status(d)["phones"], 1)

    def test_duplicate_phone_in_file(self):
        d = self.daemon()
        text = ("ho_ten,so_dien_thoai\n"              # 1
                "Nguyễn Văn An,0912 345 678\n"        # 2
                "Trần Thị Bích,0903 555 101\n"        # 3
                "Lê Văn Cường,+84912345678\n"         # 4 same as line 2
                "Phạm Thị Dung,0903.555.101\n")       # 5 same as line 3
        rep = self.report(self.imp(d, text, group="2A"), rows=4, created=2,
                          rejected=2)
        self.assertEqual(self.issues(rep["rejected"]),
                         [(4, "phone", "+84912345678"),
                          (5, "phone", "0903.555.101")])
        self.assertRegex(rep["rejected"][0]["message"], r"\b2\b")
        self.assertRegex(rep["rejected"][1]["message"], r"\b3\b")
        self.assertEqual(self.by_phone(d, "912345678")["name"],
                         "Nguyễn Văn An")
        self.assertEqual(self.status(d)["households"], 2)

    def test_unknown_group(self):
        d = self.daemon()
        text = ("nhom,ho_ten,so_dien_thoai\n"
                "2A,Nguyễn Văn An,0912 345 678\n"
                "Thôn 9,Trần Thị Bích,0903 555 101\n"
                "dong tan,Lê Văn Cường,0977 555 103\n")
        rep = self.report(self.imp(d, text), rows=3, created=2, rejected=1)
        self.assertEqual(self.issues(rep["rejected"]),
                         [(3, "group", "Thôn 9")])
        self.assertEqual(self.group_counts(d), {"2A": 1, "2B": 0,
                                                "dong-tan": 1, "nam-ha": 0})

    def test_file_level_errors_422(self):
        d = self.daemon()
        cases = [
            (b"", None),
            (b"\n\n\n", None),
            ("ho_ten,so_dien_thoai\n", None),
            ("\ufeffho_ten;so_dien_thoai\r\n", None),
            ("ho_ten,dia_chi\nNguyễn Văn An,Thôn 2\n", "phone"),
            ("so_dien_thoai,dia_chi\n0912345678,Thôn 2\n", "name"),
        ]
        for body, mention in cases:
            with self.subTest(body=body):
                r = self.imp(d, body, group="2A")
                err = self.assertError(r, 422, "validation_failed")
                self.assertIsInstance(err.get("fields"), list, r)
                self.assertGreaterEqual(len(err["fields"]), 1, r)
                if mention:
                    self.assertIn(mention, str(err["fields"]).lower(), r)
        self.assertEqual(self.status(d)["households"], 0)

    def test_invalid_utf8_400(self):
        d = self.daemon()
        body = ("ho_ten,so_dien_thoai\n".encode() +
                b"Nguy\xe1\xbb n V\xff An,0912345678\n")
        self.assertError(self.imp(d, body, group="2A"), 400, "bad_request")
        self.assertEqual(self.status(d)["households"], 0)


class Export(ImportCase):
    def export(self, d, group=None):
        path = "/v1/export"
        if group is not None:
            path += "?" + urllib.parse.urlencode({"group": group})
        r = d.get(path)
        self.assertStatus(r, 200)
        ctype = r.headers.get("content-type", "").replace(" ", "").lower()
        self.assertEqual(ctype, "text/csv;charset=utf-8", r)
        text = r.raw.decode("utf-8")
        self.assertEqual(text.splitlines()[0], EXPORT_HEADER)
        rows = list(csv.DictReader(io.StringIO(text)))
        return r.raw, rows

    def test_export_reimport_unchanged(self):
        d = self.daemon()
        self.report(self.imp(d, read_sample()), rows=40, created=40)
        an = self.by_phone(d, "912345678")
        d.patch("/v1/households/%d" % an["id"],
                {"zalo_user_id": "8765432101234567890",
                 "messenger_psid": "2468013579",
                 "note": "Nhắn \"Zalo\", gọi sau 17h;\nnhà có chó"})
        binh = self.by_phone(d, "903555101")
        self.assertStatus(d.post("/v1/households/%d/opt-out" % binh["id"]),
                          200)
        before = self.all_households(d)

        raw, rows = self.export(d)
        self.assertEqual(len(rows), 40)
        row = [x for x in rows if x["name"] == "Nguyễn Văn An"][0]
        self.assertEqual(row, {
            "group": "2A", "name": "Nguyễn Văn An",
            "phones": "+84912345678 +84987654321",
            "address": "Tổ 1, thôn 2A, xã Đông Hà",
            "zalo_user_id": "8765432101234567890",
            "messenger_psid": "2468013579",
            "note": "Nhắn \"Zalo\", gọi sau 17h;\nnhà có chó",
            "opted_out": row["opted_out"]})
        row = [x for x in rows if x["name"] == "Trần Thị Bích"][0]
        self.assertEqual(row["note"], "")
        self.assertEqual(row["zalo_user_id"], "")
        self.assertEqual(len({x["opted_out"] for x in rows}), 2)

        rep = self.report(self.imp(d, raw), rows=40, unchanged=40)
        self.assertEqual(rep["created"] + rep["updated"], 0)
        self.assertEqual(self.all_households(d), before)

        # into an empty daemon: the same directory comes out
        d2 = self.daemon()
        self.report(self.imp(d2, raw), rows=40, created=40)

        def key(h):
            return (h["group"], h["name"], tuple(h["phones"]), h["address"],
                    h["zalo_user_id"], h["messenger_psid"], h["note"],
                    h["opted_out"])
        self.assertEqual(sorted(map(key, self.all_households(d2))),
                         sorted(map(key, before)))
        self.assertEqual(self.export(d2)[0], raw)

    def test_export_one_group(self):
        d = self.daemon()
        self.report(self.imp(d, read_sample()), rows=40, created=40)
        _, rows = self.export(d, group="dong tan")
        self.assertEqual(len(rows), 10)
        self.assertEqual({r["group"] for r in rows}, {"dong-tan"})
        self.assertIn("Lương Văn Tiến", [r["name"] for r in rows])
        self.assertStatus(d.post("/v1/groups", {"code": "3C",
                                                "name": "Nhóm 3C"}), 201)
        raw, rows = self.export(d, group="3C")
        self.assertEqual(rows, [])
        self.assertEqual(raw.decode().strip(), EXPORT_HEADER)
        self.assertError(d.get("/v1/export?group=nope"), 404, "not_found")


class Large(ImportCase):
    N = 50000

    def test_50000_rows(self):
        d = self.daemon()
        groups = ["2A", "2B", "Đông Tân", "nam-ha"]
        parts = ["nhom,ho_ten,so_dien_thoai,dia_chi\n"]
        for i in range(self.N):
            parts.append("%s,Hộ số %d,096 %03d %04d,\"Tổ %d, xã Đông Hà\"\n"
                         % (groups[i % 4], i, i // 10000, i % 10000,
                            i % 9 + 1))
        body = "".join(parts).encode("utf-8")
        t0 = time.monotonic()
        r = self.imp(d, body, timeout=120.0)
        elapsed = time.monotonic() - t0
        self.report(r, rows=self.N, created=self.N)
        self.assertLess(elapsed, 60.0, "import took %.1f s" % elapsed)
        s = self.status(d)
        self.assertEqual((s["households"], s["phones"]), (self.N, self.N))
        self.assertEqual(self.group_counts(d),
                         {"2A": self.N // 4, "2B": self.N // 4,
                          "dong-tan": self.N // 4, "nam-ha": self.N // 4})
        h = self.by_phone(d, "960049999")
        self.assertHousehold(h, name="Hộ số 49999", group="nam-ha",
                             phones=["+84960049999"])
        r = d.get("/v1/export", timeout=60.0)
        self.assertStatus(r, 200)
        self.assertEqual(r.raw.count(b"\n"), self.N + 1)
        # the same file again: nothing to do
        t1 = time.monotonic()
        r = self.imp(d, body, timeout=120.0)
        again = time.monotonic() - t1
        self.report(r, rows=self.N, unchanged=self.N)
        self.assertLess(again, 60.0, "re-import took %.1f s" % again)
        # and its export back, as a dry run
        r = self.imp(d, d.get("/v1/export", timeout=60.0).raw,
                     dry_run=True, timeout=120.0)
        self.report(r, rows=self.N, unchanged=self.N, dry_run=True)
        print("\n50000-row import: %.2f s, again: %.2f s"
              % (elapsed, again), file=sys.stderr)


if __name__ == "__main__":
    harness.main()
