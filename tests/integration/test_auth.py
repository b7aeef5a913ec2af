#!/usr/bin/env python3
"""Accounts, roles, sessions, approval and the audit log at the control API:
the real loaxad, sending through loaxa-sandbox, listening on its unix
socket and on TCP 127.0.0.1 with the console enabled.

Users are made through the unix socket by the system admin (this test's
uid: root or loaxad's own uid map to the system admin), then used over TCP
with a console session (cookie + X-CSRF-Token) or a personal token.

Covers: a manager of 2A refused 2B's households, broadcasts, import rows
and export, lists filtered for managers; an official sends urgent notices,
a manager may not; approval (the requester may not approve, a second
official does, then it is sent; reject cancels); CSRF; the login rate
limit (429 + Retry-After); a disabled user's token and session refused;
audit entries with origin and no secrets; GET/PUT /v1/log; the unix uid
mapping (only when run as root: a child drops to another uid).

Needs LOAXAD and LOAXA_SANDBOX (else exits 77). Python 3 stdlib only.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import harness  # noqa: E402
from test_broadcast import BroadcastCase  # noqa: E402

GROUPS = [("2A", "Nhóm 2A"), ("2B", "Nhóm 2B")]
PASSWORD = "correct horse battery"


class Client:
    """Requests over TCP as one user: a console session or a token."""

    def __init__(self, d, cookie=None, csrf=None, token=None):
        self.d, self.cookie, self.csrf, self.token = d, cookie, csrf, token

    def req(self, method, path, body=None, headers=None, csrf=True):
        h = {}
        if self.cookie:
            h["Cookie"] = "loaxa_session=" + self.cookie
            if csrf and self.csrf and method not in ("GET", "HEAD"):
                h["X-CSRF-Token"] = self.csrf
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if headers:
            h.update(headers)
        return self.d.request(method, path, body=body, headers=h, tcp=True)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.req("PATCH", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.req("PUT", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)


def session_cookie(resp):
    sc = resp.headers.get("set-cookie", "")
    m = re.match(r"loaxa_session=([^;]*)", sc)
    return (m.group(1) if m else None), sc


class AuthCase(BroadcastCase):
    def boot(self, **bkeys):
        sb = self.sandbox()
        bk = {"quiet_hours": "", "retry_initial": "1s", "retry_max": "2s"}
        bk.update(bkeys.pop("broadcast", {}))
        text = ["[broadcast]"] + ["%s = %s" % kv for kv in bk.items()]
        text += ["", "[route]", "chain = sms", "",
                 sb.channel_config("sms", "esms")]
        text += bkeys.pop("extra", [])
        d = self.daemon(tcp=True, groups=GROUPS, extra="\n".join(text),
                        **bkeys)
        return sb, d

    def user(self, d, name, role, groups=None, password=PASSWORD, **kw):
        body = {"name": name, "role": role}
        if groups is not None:
            body["groups"] = groups
        if password:
            body["password"] = password
        body.update(kw)
        return self.ok(d.post("/v1/users", body), 201)

    def login(self, d, name, password=PASSWORD):
        r = d.post("/v1/login", {"user": name, "password": password},
                   tcp=True)
        self.assertStatus(r, 200)
        cookie, sc = session_cookie(r)
        self.assertTrue(cookie, sc)
        return Client(d, cookie=cookie, csrf=r.body["csrf"])

    def token(self, d, name):
        t = self.ok(d.post("/v1/users/%s/tokens" % name, {"label": "t"}),
                    201)
        self.assertTrue(t["token"].startswith("lxa_"), t)
        return Client(d, token=t["token"])

    def hh(self, d, name, phone, group):
        return self.household(d, name, phone, group=group)

    def notice(self, group="2A", urgent=False, title="Thông báo"):
        b = {"kind": "notice", "title": title, "body": "Nội dung",
             "groups": group}
        if urgent:
            b["priority"] = "urgent"
        return b


class Sessions(AuthCase):
    def test_unix_socket_is_the_system_admin(self):
        _, d = self.boot()
        me = self.ok(d.get("/v1/me"))
        self.assertEqual(me["user"]["role"], "admin")
        self.assertIsNone(me["csrf"])
        self.assertEqual(me["approval"], "urgent-all")
        if os.geteuid() == 0:
            self.assertEqual(me["user"]["name"], "root")
        # the static token acts as the system admin too
        r = d.get("/v1/me", tcp=True,
                  headers={"Authorization": "Bearer " + d.TOKEN})
        self.assertEqual(self.ok(r)["user"]["name"], "admin-token")
        # nobody on TCP
        self.assertError(d.get("/v1/me", tcp=True), 401, "unauthorized")

    def test_login_cookie_csrf_logout(self):
        _, d = self.boot()
        self.user(d, "lan", "official", display_name="Chị Lan")
        r = d.post("/v1/login", {"user": "lan", "password": PASSWORD},
                   tcp=True)
        self.assertStatus(r, 200)
        cookie, sc = session_cookie(r)
        self.assertTrue(cookie)
        for part in ("Path=/", "HttpOnly", "SameSite=Strict",
                     "Max-Age=43200"):
            self.assertIn(part, sc)
        self.assertNotIn("Secure", sc)
        self.assertEqual(r.body["user"]["name"], "lan")
        self.assertEqual(r.body["user"]["display_name"], "Chị Lan")
        self.assertTrue(r.body["user"]["has_password"])
        c = Client(d, cookie=cookie, csrf=r.body["csrf"])
        r = c.get("/v1/me")
        me = self.ok(r)
        # the cookie comes again, its Max-Age following the idle lifetime
        self.assertEqual(session_cookie(r)[0], cookie)
        self.assertEqual(me["user"]["role"], "official")
        self.assertEqual(me["csrf"], r.body["csrf"])
        # a write without the CSRF header, or with a wrong one: 403
        h = {"group": "2A", "name": "Hộ A", "phones": ["0912000101"]}
        self.assertError(c.post("/v1/households", h, csrf=False), 403,
                         "csrf")
        self.assertError(c.post("/v1/households", h, csrf=False,
                                headers={"X-CSRF-Token": "lxc_nope"}),
                         403, "csrf")
        self.assertStatus(c.post("/v1/households", h), 201)
        # logout ends the session and clears the cookie
        r = c.post("/v1/logout")
        self.assertStatus(r, 204)
        self.assertIn("Max-Age=0", r.headers.get("set-cookie", ""))
        r = c.get("/v1/me")
        self.assertError(r, 401, "unauthorized")
        self.assertIn("Max-Age=0", r.headers.get("set-cookie", ""))
        # wrong password, unknown user: the same answer
        a = d.post("/v1/login", {"user": "lan", "password": "wrong one!!"},
                   tcp=True)
        b = d.post("/v1/login", {"user": "nobody", "password": PASSWORD},
                   tcp=True)
        self.assertEqual(self.assertError(a, 401, "bad_login")["message"],
                         self.assertError(b, 401, "bad_login")["message"])
        # not on the unix socket
        self.assertError(d.post("/v1/login", {"user": "lan",
                                              "password": PASSWORD}),
                         404, "not_found")

    def test_login_rate_limit(self):
        _, d = self.boot(extra=["[console]", "login_attempts = 3"])
        self.user(d, "lan", "official")
        for name in ("lan", "LAN", "Lan"):
            r = d.post("/v1/login", {"user": name, "password": "bad-pass!"},
                       tcp=True)
            self.assertError(r, 401, "bad_login")
        r = d.post("/v1/login", {"user": "lan", "password": PASSWORD},
                   tcp=True)
        self.assertError(r, 429, "too_many_attempts")
        self.assertGreater(int(r.headers["retry-after"]), 0)
        # another name from the same address is not held back
        self.user(d, "hoa", "official")
        self.login(d, "hoa")

    def test_disabled_user_refused_at_once(self):
        _, d = self.boot()
        self.user(d, "lan", "official")
        c = self.login(d, "lan")
        t = self.token(d, "lan")
        self.ok(c.get("/v1/me"))
        self.ok(t.get("/v1/me"))
        self.ok(d.patch("/v1/users/lan", {"disabled": True}))
        self.assertError(c.get("/v1/me"), 401, "unauthorized")
        self.assertError(t.get("/v1/me"), 401, "unauthorized")
        r = d.post("/v1/login", {"user": "lan", "password": PASSWORD},
                   tcp=True)
        self.assertError(r, 401, "bad_login")
        self.ok(d.patch("/v1/users/lan", {"disabled": False}))
        self.ok(t.get("/v1/me"))

    def test_personal_tokens(self):
        _, d = self.boot()
        self.user(d, "lan", "official")
        c = self.login(d, "lan")
        t = self.ok(c.post("/v1/users/lan/tokens", {"label": "laptop"}),
                    201)
        tok = Client(d, token=t["token"])
        self.assertEqual(self.ok(tok.get("/v1/me"))["user"]["name"], "lan")
        lst = self.ok(c.get("/v1/users/lan/tokens"))["tokens"]
        self.assertEqual([x["label"] for x in lst], ["laptop"])
        self.assertNotIn(t["token"], json.dumps(lst))
        # a token works on the unix socket too
        r = d.get("/v1/me", headers={"Authorization": "Bearer " +
                                     t["token"]})
        self.assertEqual(self.ok(r)["user"]["name"], "lan")
        # not another's tokens
        self.user(d, "hoa", "official")
        self.assertError(c.get("/v1/users/hoa/tokens"), 403, "forbidden")
        self.assertError(c.post("/v1/users/hoa/tokens", {"label": "x"}),
                         403, "forbidden")
        self.assertStatus(c.delete("/v1/users/lan/tokens/%d" % t["id"]),
                          204)
        self.assertError(tok.get("/v1/me"), 401, "unauthorized")

    def test_users_validation_and_self_service(self):
        _, d = self.boot()
        r = d.post("/v1/users", {"name": "-bad", "role": "official"})
        self.assertError(r, 422, "invalid")
        r = d.post("/v1/users", {"name": "minh", "role": "manager"})
        err = self.assertError(r, 422, "invalid")
        self.assertEqual(err["fields"][0]["field"], "groups")
        r = d.post("/v1/users", {"name": "minh", "role": "manager",
                                 "groups": ["9Z"]})
        self.assertError(r, 422, "invalid")
        r = d.post("/v1/users", {"name": "minh", "role": "boss"})
        self.assertError(r, 422, "invalid")
        r = d.post("/v1/users", {"name": "minh", "role": "official",
                                 "password": "short"})
        err = self.assertError(r, 422, "invalid")
        self.assertEqual(err["fields"][0]["field"], "password")
        u = self.user(d, "minh", "manager", groups=["2A"])
        self.assertEqual(u["groups"], ["2A"])
        self.assertIsNone(u["unix_uid"])
        self.assertError(d.post("/v1/users", {"name": "MINH",
                                              "role": "official"}),
                         409, "exists")
        users = self.ok(d.get("/v1/users"))["users"]
        self.assertEqual([x["name"] for x in users], ["minh"])
        c = self.login(d, "minh")
        self.assertError(c.get("/v1/users"), 403, "forbidden")
        self.ok(c.get("/v1/users/minh"))
        # self: the password only, with the present one
        self.assertError(c.patch("/v1/users/minh", {"role": "admin"}),
                         403, "forbidden")
        r = c.patch("/v1/users/minh", {"password": "another good one"})
        self.assertError(r, 422, "invalid")
        r = c.patch("/v1/users/minh", {"password": "another good one",
                                       "old_password": PASSWORD})
        self.ok(r)
        # the password change ended the session
        self.assertError(c.get("/v1/me"), 401, "unauthorized")
        c = self.login(d, "minh", "another good one")
        # guessing the old password is limited as logins are
        for _ in range(5):
            r = c.patch("/v1/users/minh", {"password": "a third good one",
                                           "old_password": "a wrong guess"})
            self.assertError(r, 422, "invalid")
        r = c.patch("/v1/users/minh", {"password": "a third good one",
                                       "old_password": "another good one"})
        self.assertError(r, 429, "too_many_attempts")
        self.assertTrue(r.headers.get("retry-after"), r.headers)
        # the last enabled admin stays
        self.user(d, "boss", "admin")
        self.assertError(d.patch("/v1/users/boss", {"disabled": True}),
                         409, "last_admin")
        self.assertError(d.patch("/v1/users/boss", {"role": "official"}),
                         409, "last_admin")
        self.user(d, "boss2", "admin")
        self.ok(d.patch("/v1/users/boss", {"role": "official"}))


class ManagerScope(AuthCase):
    def setUp(self):
        super().setUp()
        self.sb, self.d = self.boot()
        d = self.d
        self.a1 = self.hh(d, "Hộ 2A một", "0912000201", "2A")
        self.b1 = self.hh(d, "Hộ 2B một", "0912000301", "2B")
        self.user(d, "minh", "manager", groups=["2A"])
        self.m = self.token(d, "minh")

    def test_taken_phone_names_no_household(self):
        # a manager learns the number is taken, not whose it is
        m, d = self.m, self.d
        r = m.post("/v1/households", {"group": "2A", "name": "Hộ mới",
                                      "phones": ["0912000301"]})
        err = self.assertError(r, 409, "phone_taken")
        text = json.dumps(err, ensure_ascii=False)
        self.assertNotIn("household %d" % self.b1["id"], text)
        self.assertIn("another household", text)
        # the system admin still gets the id
        r = d.post("/v1/households", {"group": "2A", "name": "Hộ mới",
                                      "phones": ["0912000301"]})
        err = self.assertError(r, 409, "phone_taken")
        self.assertIn("household %d" % self.b1["id"],
                      json.dumps(err, ensure_ascii=False))

    def test_households_groups_import_export(self):
        m, d = self.m, self.d
        groups = self.ok(m.get("/v1/groups"))["groups"]
        self.assertEqual([g["code"] for g in groups], ["2A"])
        self.ok(m.get("/v1/groups/2A"))
        err = self.assertError(m.get("/v1/groups/2B"), 403, "forbidden")
        self.assertIn("2B", err["message"])
        self.assertIn("minh", err["message"])
        hs = self.ok(m.get("/v1/households"))["households"]
        self.assertEqual([h["id"] for h in hs], [self.a1["id"]])
        self.assertError(m.get("/v1/households?group=2B"), 403,
                         "forbidden")
        self.assertError(m.get("/v1/households/%d" % self.b1["id"]), 403,
                         "forbidden")
        self.assertError(m.get("/v1/households/%d/history" %
                               self.b1["id"]), 403, "forbidden")
        self.assertError(m.patch("/v1/households/%d" % self.b1["id"],
                                 {"name": "X"}), 403, "forbidden")
        self.assertError(m.patch("/v1/households/%d" % self.a1["id"],
                                 {"group": "2B"}), 403, "forbidden")
        self.assertError(m.delete("/v1/households/%d" % self.b1["id"]),
                         403, "forbidden")
        self.assertError(m.post("/v1/households/%d/opt-out" %
                                self.b1["id"]), 403, "forbidden")
        self.assertError(m.post("/v1/households", {
            "group": "2B", "name": "Mới", "phones": ["0912000302"]}),
            403, "forbidden")
        self.assertStatus(m.post("/v1/households", {
            "group": "2A", "name": "Mới", "phones": ["0912000202"]}), 201)
        self.ok(m.patch("/v1/households/%d" % self.a1["id"],
                        {"note": "đã sửa"}))
        # managers do not manage groups, backups, users, the audit
        self.assertError(m.post("/v1/groups", {"code": "3C",
                                               "name": "Nhóm 3C"}),
                         403, "forbidden")
        self.assertError(m.post("/v1/backup"), 403, "forbidden")
        self.assertError(m.get("/v1/audit"), 403, "forbidden")
        self.assertError(m.get("/metrics"), 403, "forbidden")
        # import: rows for 2B rejected one by one, the rest taken
        csv = ("group,name,phone\n"
               "2A,Hộ nhập một,0912000203\n"
               "2B,Hộ nhập hai,0912000303\n"
               "2A,Hộ chiếm số,0912000301\n")
        r = self.ok(m.post("/v1/import", csv.encode(),
                           headers={"Content-Type": "text/csv"}))
        self.assertEqual(r["created"], 1, r)
        self.assertEqual(sorted(x["line"] for x in r["rejected"]), [3, 4],
                         r)
        msgs = " ".join(x["message"] for x in r["rejected"])
        self.assertIn("group 2B is not yours", msgs)
        self.assertError(m.post("/v1/import?group=2B", csv.encode(),
                                headers={"Content-Type": "text/csv"}),
                         403, "forbidden")
        # the 2B household is untouched
        b = self.ok(d.get("/v1/households/%d" % self.b1["id"]))
        self.assertEqual(b["group"], "2B")
        self.assertEqual(b["name"], "Hộ 2B một")
        # export: 2A only
        r = m.get("/v1/export")
        self.assertStatus(r, 200)
        text = r.body.decode()
        self.assertTrue(text.startswith("group,name"), text)
        self.assertIn("Hộ 2A một", text)
        self.assertNotIn("2B", text)
        self.assertError(m.get("/v1/export?group=2B"), 403, "forbidden")

    def test_broadcasts(self):
        m, d = self.m, self.d
        b = self.ok(m.post("/v1/broadcasts", self.notice("2A")), 201)
        self.assertEqual(b["requested_by"], "minh")
        self.assertIsNone(b["approved_by"])
        self.assertIsNone(b["pruned_at"])
        err = self.assertError(m.post("/v1/broadcasts", self.notice("2B")),
                               403, "forbidden")
        self.assertIn("2B", err["message"])
        self.assertError(m.post("/v1/broadcasts", self.notice("all")),
                         403, "forbidden")
        self.assertError(m.post("/v1/broadcasts",
                                self.notice(["2A", "2B"])),
                         403, "forbidden")
        err = self.assertError(m.post("/v1/broadcasts",
                                      self.notice("2A", urgent=True)),
                               403, "forbidden")
        self.assertIn("urgent", err["message"])
        # an official's broadcast to 2B: invisible to the manager
        other = self.create(d, self.notice("2B"))
        ids = [x["id"] for x in self.ok(m.get("/v1/broadcasts"))[
            "broadcasts"]]
        self.assertEqual(ids, [b["id"]])
        all_ids = [x["id"] for x in self.ok(d.get("/v1/broadcasts"))[
            "broadcasts"]]
        self.assertEqual(sorted(all_ids), sorted([b["id"], other["id"]]))
        for path in ("", "/deliveries"):
            self.assertError(m.get("/v1/broadcasts/%d%s" % (other["id"],
                                                            path)),
                             403, "forbidden")
        for act in ("cancel", "pause", "retry"):
            self.assertError(m.post("/v1/broadcasts/%d/%s" %
                                    (other["id"], act)), 403, "forbidden")
        self.assertError(m.get("/v1/replies?broadcast=%d" % other["id"]),
                         403, "forbidden")
        self.ok(m.get("/v1/replies"))
        self.ok(m.get("/v1/broadcasts/%d/deliveries" % b["id"]))
        self.wait_done(d, b["id"])
        to = [m.get("to") for m in self.sb.messages()]
        self.assertEqual(len(to), 1, to)
        self.assertIn("912000201", json.dumps(to))


class Approval(AuthCase):
    def test_official_urgent_and_second_official(self):
        sb, d = self.boot()
        self.hh(d, "Hộ 2A", "0912000401", "2A")
        self.hh(d, "Hộ 2B", "0912000402", "2B")
        self.user(d, "lan", "official")
        self.user(d, "hoa", "official")
        self.user(d, "minh", "manager", groups=["2A"])
        lan, hoa = self.login(d, "lan"), self.login(d, "hoa")
        minh = self.token(d, "minh")
        # an official sends an urgent notice to a group: no approval
        b = self.ok(lan.post("/v1/broadcasts",
                             self.notice("2A", urgent=True)), 201)
        self.assertIn(b["state"], ("scheduled", "active"))
        self.wait_done(d, b["id"])
        # urgent to every group waits for a second official
        w = self.ok(lan.post("/v1/broadcasts",
                             self.notice("all", urgent=True,
                                         title="Bão")), 201)
        self.assertEqual(w["state"], "awaiting_approval")
        self.assertEqual(w["requested_by"], "lan")
        before = len(sb.messages())
        time.sleep(1.5)
        self.assertEqual(len(sb.messages()), before)
        self.assertEqual(self.ok(d.get("/v1/broadcasts/%d" % w["id"]))[
            "counts"]["queued"], 0)
        lst = self.ok(d.get("/v1/broadcasts?state=awaiting_approval"))
        self.assertEqual([x["id"] for x in lst["broadcasts"]], [w["id"]])
        err = self.assertError(lan.post("/v1/broadcasts/%d/approve" %
                                        w["id"]), 403, "same_person")
        self.assertIn("second official", err["message"])
        self.assertError(minh.post("/v1/broadcasts/%d/approve" % w["id"]),
                         403, "forbidden")
        a = self.ok(hoa.post("/v1/broadcasts/%d/approve" % w["id"]))
        self.assertIn(a["state"], ("scheduled", "active"))
        self.assertEqual(a["approved_by"], "hoa")
        self.assertIsInstance(a["approved_at"], int)
        self.wait_done(d, w["id"])
        self.assertEqual(len(sb.messages()), before + 2)
        self.assertError(hoa.post("/v1/broadcasts/%d/approve" % w["id"]),
                         409, "state")
        # reject cancels, and nothing is sent
        x = self.ok(lan.post("/v1/broadcasts",
                             self.notice("all", urgent=True,
                                         title="Sai")), 201)
        self.assertEqual(x["state"], "awaiting_approval")
        r = self.ok(hoa.post("/v1/broadcasts/%d/reject" % x["id"],
                             {"reason": "sai nội dung, gọi 0912345678"}))
        self.assertEqual(r["state"], "cancelled")
        time.sleep(1.0)
        self.assertEqual(len(sb.messages()), before + 2)
        self.assertError(hoa.post("/v1/broadcasts/%d/reject" % x["id"]),
                         409, "state")
        # the audit: who approved and rejected, from where, no secrets
        ent = self.ok(d.get("/v1/audit?limit=1000"))["entries"]
        acts = [(e["user"], e["action"], e["target"], e["status"])
                for e in ent]
        self.assertIn(("hoa", "POST /v1/broadcasts/*/approve",
                       "broadcast %d" % w["id"], 200), acts)
        self.assertIn(("lan", "POST /v1/broadcasts/*/approve",
                       "broadcast %d" % w["id"], 403), acts)
        rej = [e for e in ent if e["action"] ==
               "POST /v1/broadcasts/*/reject" and e["status"] == 200]
        self.assertEqual(len(rej), 1)
        self.assertNotIn("0912345678", json.dumps(ent))
        self.assertEqual(rej[0]["origin"], "127.0.0.1")


class Audit(AuthCase):
    def test_entries_origin_no_secrets(self):
        _, d = self.boot()
        self.user(d, "lan", "official")
        c = self.login(d, "lan")
        d.post("/v1/login", {"user": "lan", "password": "wrong pass 1"},
               tcp=True)
        t = self.ok(c.post("/v1/users/lan/tokens", {"label": "cli"}), 201)
        self.ok(c.post("/v1/households", {"group": "2A", "name": "Hộ",
                                          "phones": ["0912000501"]}), 201)
        c.post("/v1/households", {"group": "2A"})    # 422
        self.assertStatus(c.post("/v1/logout"), 204)
        self.assertError(c.get("/v1/audit"), 401, "unauthorized")
        lan = self.token(d, "lan")
        self.assertError(lan.get("/v1/audit"), 403, "forbidden")
        r = self.ok(d.get("/v1/audit?limit=3"))
        self.assertEqual(len(r["entries"]), 3)
        self.assertIsInstance(r["next_before"], int)
        r2 = self.ok(d.get("/v1/audit?limit=3&before=%d" %
                           r["next_before"]))
        self.assertTrue(all(e["id"] < r["next_before"]
                            for e in r2["entries"]))
        ent = self.ok(d.get("/v1/audit?limit=1000"))["entries"]
        by = {}
        for e in ent:
            by.setdefault(e["action"], []).append(e)
        ok_login = [e for e in by["login"] if e["user"] == "lan"]
        self.assertTrue(ok_login)
        self.assertEqual(ok_login[0]["origin"], "127.0.0.1")
        self.assertEqual(ok_login[0]["status"], 200)
        self.assertEqual(by["login_failed"][0]["user"], "lan")
        self.assertEqual(by["login_failed"][0]["status"], 401)
        self.assertTrue(by["logout"])
        users = by["POST /v1/users"]
        self.assertTrue(users[0]["origin"].startswith("unix uid "), users)
        self.assertEqual(users[-1]["target"], "user lan")
        hh = by["POST /v1/households"]
        self.assertEqual(sorted(e["status"] for e in hh), [201, 422])
        self.assertTrue(any(e["target"].startswith("household ")
                            for e in hh), hh)
        dump = json.dumps(ent)
        for secret in (PASSWORD, "wrong pass 1", t["token"], c.cookie,
                       c.csrf, "0912000501", "84912000501"):
            self.assertNotIn(secret, dump)
        # no GET is audited
        self.assertFalse(any(e["action"].startswith("GET ") for e in ent))


class Logging(AuthCase):
    def test_get_put_log(self):
        _, d = self.boot()
        self.assertEqual(self.ok(d.get("/v1/log")),
                         {"level": "info", "debug": []})
        r = self.ok(d.request("PUT", "/v1/log", {"debug": ["api"]}))
        self.assertEqual(r, {"level": "info", "debug": ["api"]})
        since = d.log_size()
        d.get("/v1/status")
        d.wait_log("GET /v1/status -> 200", since=since)
        r = d.request("PUT", "/v1/log", {"debug": ["nope"]})
        self.assertError(r, 422, "invalid")
        r = self.ok(d.request("PUT", "/v1/log", {"level": "warning",
                                                 "debug": []}))
        self.assertEqual(r, {"level": "warning", "debug": []})
        self.user(d, "lan", "official")
        lan = self.token(d, "lan")
        self.assertError(lan.get("/v1/log"), 403, "forbidden")
        self.assertError(lan.put("/v1/log", {"level": "debug"}), 403,
                         "forbidden")


class Pruned(AuthCase):
    """A broadcast whose details retention pruned: counts from the saved
    summary, no deliveries (the summary is written here by hand, as
    store-prune.c would)."""

    def test_counts_from_summary(self):
        import sqlite3
        _, d = self.boot()
        self.hh(d, "Hộ 2A", "0912000601", "2A")
        b = self.create(d, self.notice("2A"))
        done = self.wait_done(d, b["id"])
        self.assertIsNone(done["pruned_at"])
        d.stop()
        summary = {"counts": dict(done["counts"], sent=7, delivered=0),
                   "progress": {"total": 7, "final": 7, "percent": 100.0},
                   "unconfirmed": 7, "started_ms": done["started_ms"],
                   "by_group": {"2A": {"sent": 7}},
                   "by_channel": {"sms": {"sent": 7}},
                   "pruned_ms": 1800000000000}
        db = sqlite3.connect(d.db_path)
        with db:
            db.execute("UPDATE broadcasts SET summary = ?, pruned_ms = ?"
                       " WHERE id = ?", (json.dumps(summary),
                                         1800000000000, b["id"]))
            db.execute("DELETE FROM attempts WHERE delivery_id IN (SELECT"
                       " id FROM deliveries WHERE broadcast_id = ?)",
                       (b["id"],))
            db.execute("DELETE FROM deliveries WHERE broadcast_id = ?",
                       (b["id"],))
        db.close()
        d.start()
        got = self.ok(d.get("/v1/broadcasts/%d" % b["id"]))
        self.assertEqual(got["pruned_at"], 1800000000000)
        self.assertEqual(got["counts"]["sent"], 7)
        self.assertEqual(got["progress"]["total"], 7)
        self.assertEqual(got["unconfirmed"], 7)
        self.assertEqual(got["by_group"], {"2A": {"sent": 7}})
        lst = self.ok(d.get("/v1/broadcasts"))["broadcasts"]
        self.assertEqual(lst[0]["counts"]["sent"], 7)
        dl = self.ok(d.get("/v1/broadcasts/%d/deliveries" % b["id"]))
        self.assertEqual(dl, {"deliveries": [], "next_after": None,
                              "pruned": True})

    def _summary(self, done, pruned_ms=None):
        s = {"counts": done["counts"], "progress": done["progress"],
             "unconfirmed": 0, "started_ms": done["started_ms"],
             "by_group": done["by_group"],
             "by_channel": done["by_channel"]}
        if pruned_ms:
            s["pruned_ms"] = pruned_ms
        return json.dumps(s)

    def test_retry_refused_once_pruning_began(self):
        import sqlite3
        sb, d = self.boot()
        self.hh(d, "Số sai", "0912000108", "2A")      # the SMS fails
        self.hh(d, "Số tốt", "0912000602", "2A")
        b = self.create(d, self.notice("2A"))
        done = self.wait_done(d, b["id"])
        self.assertEqual(done["counts"]["failed"], 1, done)
        sent = len(sb.messages())
        # pruning began (the summary is stored), rows are still there
        d.stop()
        db = sqlite3.connect(d.db_path)
        with db:
            db.execute("UPDATE broadcasts SET summary = ? WHERE id = ?",
                       (self._summary(done, 1800000000000), b["id"]))
        db.close()
        d.start()
        err = self.assertError(d.post("/v1/broadcasts/%d/retry" % b["id"]),
                               409, "pruned")
        self.assertIn("retention", err["message"])
        got = self.ok(d.get("/v1/broadcasts/%d" % b["id"]))
        self.assertEqual(got["state"], done["state"])
        self.assertEqual(got["counts"]["failed"], 1)
        self.assertEqual(got["counts"]["queued"], 0)
        # pruned: the details are gone
        d.stop()
        db = sqlite3.connect(d.db_path)
        with db:
            db.execute("UPDATE broadcasts SET pruned_ms = ? WHERE id = ?",
                       (1800000000000, b["id"]))
            db.execute("DELETE FROM attempts WHERE delivery_id IN (SELECT"
                       " id FROM deliveries WHERE broadcast_id = ?)",
                       (b["id"],))
            db.execute("DELETE FROM deliveries WHERE broadcast_id = ?",
                       (b["id"],))
        db.close()
        d.start()
        self.assertError(d.post("/v1/broadcasts/%d/retry" % b["id"]),
                         409, "pruned")
        got = self.ok(d.get("/v1/broadcasts/%d" % b["id"]))
        self.assertEqual(got["state"], done["state"])
        time.sleep(1.0)
        self.assertEqual(len(sb.messages()), sent)
        ent = self.ok(d.get("/v1/audit?limit=100"))["entries"]
        self.assertIn(("POST /v1/broadcasts/*/retry", 409, "pruned"),
                      [(e["action"], e["status"], e["detail"])
                       for e in ent])


class Messages(AuthCase):
    """Error answers say what is wrong once, and name the value."""

    def test_one_summary_then_each_field(self):
        _, d = self.boot()
        err = self.assertError(d.post("/v1/users", {"name": "minh",
                                                    "role": "boss"}),
                               422, "invalid")
        self.assertEqual(err["message"], "1 field is invalid")
        self.assertEqual([f["field"] for f in err["fields"]], ["role"])
        err = self.assertError(d.post("/v1/users", {"name": "-x",
                                                    "role": "boss"}),
                               422, "invalid")
        self.assertEqual(err["message"], "2 fields are invalid")
        err = self.assertError(d.post("/v1/households", {
            "group": "2A", "name": "Hộ", "phones": ["028 3829 1234"]}),
            422, "validation_failed")
        self.assertEqual(err["message"], "1 field is invalid")
        self.assertEqual(err["fields"][0]["field"], "phones[0]")
        self.hh(d, "Hộ 1", "0912000701", "2A")
        err = self.assertError(d.post("/v1/households", {
            "group": "2A", "name": "Hộ 2", "phones": ["0912000701"]}),
            409, "phone_taken")
        f = err["fields"][0]
        self.assertNotIn(f["message"], err["message"])
        self.assertIn("household", f["message"])

    def test_log_names_the_value_and_the_subsystems(self):
        _, d = self.boot()
        r = d.request("PUT", "/v1/log", {"debug": ["api", "engine"]})
        err = self.assertError(r, 422, "invalid")
        f = err["fields"]
        self.assertEqual(len(f), 1, f)
        self.assertEqual(f[0]["field"], "debug[1]")
        self.assertIn("'engine'", f[0]["message"])
        for name in ("main", "cfg", "store", "api", "dir", "http",
                     "dispatch", "webhook"):
            self.assertIn(name, f[0]["message"])
        r = d.request("PUT", "/v1/log", {"debug": [3]})
        f = self.assertError(r, 422, "invalid")["fields"]
        self.assertEqual((f[0]["field"], f[0]["code"]),
                         ("debug[0]", "wrong_type"))
        r = d.request("PUT", "/v1/log", {"level": "verbose"})
        f = self.assertError(r, 422, "invalid")["fields"]
        self.assertIn("'verbose'", f[0]["message"])
        self.assertIn("warning", f[0]["message"])
        # nothing was applied
        self.assertEqual(self.ok(d.get("/v1/log")),
                         {"level": "info", "debug": []})

    def test_users_and_tokens_say_which(self):
        _, d = self.boot()
        err = self.assertError(d.post("/v1/users", {
            "name": "minh", "role": "manager", "groups": ["9Z"]}),
            422, "invalid")
        self.assertEqual(err["fields"][0]["field"], "groups[0]")
        self.assertIn("no group named '9Z'", err["fields"][0]["message"])
        err = self.assertError(d.post("/v1/users", {
            "name": "minh", "role": "official", "colour": "red"}),
            422, "invalid")
        self.assertIn("unknown field 'colour'",
                      err["fields"][0]["message"])
        self.assertIn("display_name", err["fields"][0]["message"])
        self.user(d, "lan", "official", unix_uid=4242)
        err = self.assertError(d.post("/v1/users", {
            "name": "hoa", "role": "official", "unix_uid": 4242}),
            409, "exists")
        self.assertIn("uid 4242", err["message"])
        self.assertIn("lan", err["message"])
        err = self.assertError(d.post("/v1/users", {
            "name": "LAN", "role": "official"}), 409, "exists")
        self.assertIn("'LAN'", err["message"])
        err = self.assertError(d.delete("/v1/users/lan/tokens/999"),
                               404, "not_found")
        self.assertIn("lan has no token 999", err["message"])
        err = self.assertError(d.get("/v1/me", tcp=True, headers={
            "Authorization": "Bearer lxa_nope"}), 401, "unauthorized")
        self.assertIn("not valid", err["message"])
        err = self.assertError(d.get("/v1/me", tcp=True, headers={
            "Authorization": "Basic eDp5"}), 401, "unauthorized")
        self.assertIn("Bearer", err["message"])
        err = self.assertError(d.get("/v1/me", tcp=True), 401,
                               "unauthorized")
        self.assertIn("log in", err["message"])
        # a long name in the path, cut on a character, never in two
        name = "ễ" * 40
        r = d.get("/v1/users/" + harness.quote(name))
        err = self.assertError(r, 404, "not_found")
        self.assertIn("ễ" * 5, err["message"])


class AuditPrivacy(AuthCase):
    """Whatever is typed where a name or an id goes, the audit holds no
    phone number, and every record can be read back."""

    def test_no_phone_number_and_always_readable(self):
        _, d = self.boot()
        self.user(d, "hoa", "official")
        hoa = self.token(d, "hoa")
        # a phone number typed as the user name
        r = d.post("/v1/login", {"user": "0912345678",
                                 "password": "wrong password"}, tcp=True)
        self.assertError(r, 401, "bad_login")
        # ... and as an id in a path
        self.assertError(d.post("/v1/households/0912345679/opt-out"),
                         404, "not_found")
        self.assertError(d.patch("/v1/users/84912345670",
                                 {"disabled": True}), 404, "not_found")
        # a reason with a number written with slashes
        w = self.create(d, self.notice("all", urgent=True))
        self.assertEqual(w["state"], "awaiting_approval")
        self.ok(hoa.post("/v1/broadcasts/%d/reject" % w["id"],
                         {"reason": "gọi 0912/345/671 trước"}))
        # a long name of many-byte characters in a path
        self.assertError(d.patch("/v1/users/" + harness.quote("ễ" * 40),
                                 {"disabled": True}), 404, "not_found")
        r = d.get("/v1/audit?limit=1000")
        ent = self.ok(r)["entries"]
        dump = json.dumps(ent, ensure_ascii=False)
        for digits in ("0912345678", "912345679", "84912345670",
                       "345/671", "345671"):
            self.assertNotIn(digits, dump)
        rej = [e for e in ent if e["action"] ==
               "POST /v1/broadcasts/*/reject"]
        self.assertEqual(rej[0]["detail"], "rejected: gọi ####/###/### "
                         "trước")
        failed = [e for e in ent if e["action"] == "login_failed"]
        self.assertEqual(failed[0]["user"], "#" * 10)
        long = [e for e in ent if e["target"].startswith("user ễ")]
        self.assertEqual(len(long), 1, ent)
        self.assertTrue(long[0]["target"].endswith("ễ"), long)


class StoreFailures(AuthCase):
    """A store call that fails is never answered as a success."""

    def test_sessions_that_cannot_end(self):
        import sqlite3
        _, d = self.boot()
        self.user(d, "lan", "official")
        lan = self.login(d, "lan")
        d.stop()
        db = sqlite3.connect(d.db_path)
        with db:
            db.execute("CREATE TRIGGER keep_sessions BEFORE DELETE ON "
                       "sessions BEGIN SELECT RAISE(ABORT, 'test: "
                       "sessions stay'); END")
        db.close()
        d.start()
        self.ok(lan.get("/v1/me"))
        # a new password would leave the old session working: refused,
        # and nothing changed
        r = lan.patch("/v1/users/lan", {"password": "another good one",
                                        "old_password": PASSWORD})
        self.assertGreaterEqual(r.status, 400, r)
        self.ok(lan.get("/v1/me"))
        self.login(d, "lan")                       # the old password
        # disabling: the same
        r = d.patch("/v1/users/lan", {"disabled": True})
        self.assertGreaterEqual(r.status, 400, r)
        self.assertFalse(self.ok(d.get("/v1/users/lan"))["disabled"])
        # logging out: not a 204 that leaves the session working
        r = lan.post("/v1/logout")
        self.assertGreaterEqual(r.status, 400, r)
        self.assertNotIn("Max-Age=0", r.headers.get("set-cookie", ""))
        self.ok(lan.get("/v1/me"))


CHILD = r"""
import json, os, socket, sys
os.setgid(int(sys.argv[2])); os.setuid(int(sys.argv[2]))
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"GET /v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
print(json.dumps({"status": int(head.split()[1]),
                  "body": json.loads(body or b"null")}))
"""


class UnixUid(AuthCase):
    """The uid of a unix-socket peer maps to a user (root only: a child
    drops to another uid)."""

    def test_uid_mapping(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to connect as another uid")
        _, d = self.boot(api_extra="socket_mode = 0666")
        os.chmod(d.tmp, 0o711)
        uid = 65534

        def me():
            out = subprocess.run([sys.executable, "-c", CHILD,
                                  d.socket_path, str(uid)],
                                 capture_output=True, timeout=30,
                                 check=True)
            return json.loads(out.stdout)

        r = me()
        self.assertEqual(r["status"], 403, r)
        self.assertEqual(r["body"]["error"]["code"], "forbidden")
        self.assertIn("uid %d is not a loaxa user" % uid,
                      r["body"]["error"]["message"])
        self.user(d, "nobody1", "manager", groups=["2A"], password=None,
                  unix_uid=uid)
        r = me()
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(r["body"]["user"]["name"], "nobody1")
        self.assertEqual(r["body"]["user"]["unix_uid"], uid)
        self.ok(d.patch("/v1/users/nobody1", {"disabled": True}))
        r = me()
        self.assertEqual(r["status"], 403, r)


if __name__ == "__main__":
    harness.main()
