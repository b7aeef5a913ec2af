#!/usr/bin/env python3
"""loaxa's account commands against the real loaxad: user add/list/show/set/
passwd/disable/enable/token/tokens/revoke, whoami, approve/reject (through
the real loaxa-sandbox), audit and log; tokens given by LOAXA_TOKEN,
--token-file and LOAXA_TOKEN_FILE on the unix socket and over TCP; and the
usage errors of bad input.

The tests run loaxa as the same unix user as loaxad, which loaxad takes for
the system administrator on its socket; a personal token makes it act as
that token's user instead.

Needs LOAXAD, LOAXA and LOAXA_SANDBOX (else exits 77). Python 3 stdlib only.
"""

import json
import os
import pty
import pwd
import re
import select
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

for _name in ("LOAXA", "LOAXAD", "LOAXA_SANDBOX"):
    if not os.environ.get(_name):
        print("%s is not set: skipping (exit 77)" % _name)
        sys.exit(77)

import harness  # noqa: E402
import sandbox as sbx  # noqa: E402

LOAXA = os.environ["LOAXA"]
PASSWORD = "núi Bà Đen 1986"
NEW_PASSWORD = "sông Vàm Cỏ 2024"
TOKEN_RE = re.compile(r"^lxa_[A-Za-z0-9_-]{43}$")


class UsersCase(harness.DaemonCase):
    """Runs loaxa against self.d, as the system admin or with a token."""

    def run_cli(self, *args, input=None, token=None, token_file=None,
                env_token_file=None, url=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("LOAXA_") or k == "LOAXA_SRCDIR"}
        if token is not None:
            env["LOAXA_TOKEN"] = token
        if env_token_file is not None:
            env["LOAXA_TOKEN_FILE"] = env_token_file
        cmd = [LOAXA]
        if url:
            cmd += ["--url", url]
        else:
            cmd += ["--socket", self.d.socket_path]
        if token_file is not None:
            cmd += ["--token-file", token_file]
        cmd += [str(a) for a in args]
        return subprocess.run(cmd, input=input, capture_output=True,
                              text=True, timeout=60, env=env,
                              stdin=None if input is not None
                              else subprocess.DEVNULL)

    def rc(self, code, *args, **kw):
        p = self.run_cli(*args, **kw)
        self.assertEqual(p.returncode, code,
                         "loaxa %s -> %d (want %d)\nstdout: %s\nstderr: %s"
                         % (" ".join(map(str, args)), p.returncode, code,
                            p.stdout, p.stderr))
        return p

    def ok(self, *args, **kw):
        return self.rc(0, *args, **kw)

    def js(self, *args, **kw):
        p = self.ok("--json", *args, **kw)
        try:
            return json.loads(p.stdout)
        except ValueError:
            self.fail("--json %s printed no JSON: %r" % (args, p.stdout))

    def usage(self, needle, *args, **kw):
        """A usage error (exit 2) whose message holds needle, nothing
        sent to loaxad."""
        p = self.rc(2, *args, **kw)
        self.assertIn(needle, p.stderr)
        self.assertEqual(p.stdout, "")
        return p

    def token(self, name, label="test"):
        p = self.ok("user", "token", name, "--label", label)
        tok = p.stdout.strip()
        self.assertRegex(tok, TOKEN_RE)
        self.assertEqual(p.stdout, tok + "\n")   # the token alone
        self.assertIn("cannot be shown again", p.stderr)
        return tok

    def on_tty(self, args, answers, timeout=30):
        """Run loaxa on a new pseudo-terminal; answer each prompt (a
        (prompt, text) pair, in order) when it shows. Returns (exit code,
        everything the terminal showed)."""
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execv(LOAXA, [LOAXA, "--socket", self.d.socket_path]
                         + [str(a) for a in args])
            finally:
                os._exit(127)
        seen = b""
        pending = list(answers)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if pending and pending[0][0].encode() in seen:
                    prompt, text = pending.pop(0)
                    seen = seen.replace(prompt.encode(),
                                        b"<" + prompt.encode() + b">", 1)
                    os.write(fd, text.encode() + b"\n")
                r, _, _ = select.select([fd], [], [], 0.2)
                if not r:
                    continue
                try:
                    chunk = os.read(fd, 4096)
                except OSError:          # EIO: the child is gone
                    break
                if not chunk:
                    break
                seen += chunk
        finally:
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        self.assertFalse(pending, "prompts not shown: %r (terminal: %r)"
                         % (pending, seen))
        return os.waitstatus_to_exitcode(status), seen.decode(
            "utf-8", "replace")

    def write(self, name, text):
        path = os.path.join(self.d.tmp, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path


class Accounts(UsersCase):
    def setUp(self):
        self.d = self.daemon(tcp=True)

    def test_add_list_show_set(self):
        p = self.ok("user", "add", "lan", "--role", "manager", "--group",
                    "2A", "--display-name", "Nguyễn Văn Lân",
                    "--password-stdin", input=PASSWORD + "\n")
        self.assertIn("created user lan", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^role: +manager$")
        u = self.js("user", "show", "lan")
        self.assertEqual(
            {k: u[k] for k in ("name", "display_name", "role", "groups",
                               "unix_uid", "disabled", "has_password")},
            {"name": "lan", "display_name": "Nguyễn Văn Lân",
             "role": "manager", "groups": ["2A"], "unix_uid": None,
             "disabled": False, "has_password": True})
        self.assertEqual(u, self.d.get("/v1/users/lan").body)
        self.assertNotIn(PASSWORD, json.dumps(u, ensure_ascii=False))

        p = self.ok("user", "add", "hoa", "--role", "official", "--uid",
                    "4242")
        self.assertNotIn("No password and no unix user", p.stdout)
        u = self.js("user", "show", "hoa")
        self.assertEqual((u["role"], u["unix_uid"], u["has_password"],
                          u["groups"]), ("official", 4242, False, []))
        # a unix user by login name, looked up here
        me = pwd.getpwuid(os.getuid())
        other = [e for e in pwd.getpwall()
                 if e.pw_uid not in (0, os.getuid())][:1]
        if other:
            u = self.js("user", "add", "nam", "--role", "official",
                        "--unix-user", other[0].pw_name)
            self.assertEqual(u["unix_uid"], other[0].pw_uid)
            p = self.ok("user", "show", "nam")
            self.assertRegex(p.stdout, r"(?m)^unix user: +%s \(%d\)$"
                             % (re.escape(other[0].pw_name),
                                other[0].pw_uid))
        p = self.ok("user", "add", "bot", "--role", "admin")
        self.assertIn("No password and no unix user", p.stdout)
        self.assertIn("loaxa user token bot", p.stdout)

        # list: one row per user, the documented columns
        p = self.ok("user", "list")
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split(),
                         ["NAME", "ROLE", "GROUPS", "UNIX", "USER",
                          "DISABLED", "PASSWORD"])
        rows = {line.split()[0]: line for line in lines[1:]}
        self.assertRegex(rows["lan"], r"^lan +manager +2A +- +no +yes$")
        self.assertRegex(rows["hoa"],
                         r"^hoa +official +all +uid 4242 +no +no$")
        self.assertRegex(rows["bot"], r"^bot +admin +all +- +no +no$")
        listed = self.js("user", "list")
        self.assertEqual(listed, self.d.get("/v1/users").body)
        self.assertEqual(sorted(u["name"] for u in listed["users"]),
                         sorted(["lan", "hoa", "bot"]
                                + (["nam"] if other else [])))

        # set: groups replaced, display name, unix user cleared
        u = self.js("user", "set", "lan", "--group", "2A", "--group", "2B",
                    "--display-name", "Lân")
        self.assertEqual((u["groups"], u["display_name"], u["role"]),
                         (["2A", "2B"], "Lân", "manager"))
        p = self.ok("user", "set", "hoa", "--no-unix-user")
        self.assertIn("changed user hoa", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^unix user: +-$")
        self.assertIsNone(self.d.get("/v1/users/hoa").body["unix_uid"])
        u = self.js("user", "set", "hoa", "--uid", me.pw_uid + 100000)
        self.assertEqual(u["unix_uid"], me.pw_uid + 100000)
        u = self.js("user", "set", "hoa", "--role", "admin")
        self.assertEqual(u["role"], "admin")

        # a name already taken
        p = self.rc(1, "user", "add", "LAN", "--role", "admin")
        self.assertTrue(p.stderr.startswith("loaxa: "), p.stderr)
        # an unknown user
        p = self.rc(1, "user", "show", "khong-co")
        self.assertTrue(p.stderr.startswith("loaxa: "), p.stderr)
        self.rc(1, "user", "disable", "khong-co")

    def test_bad_input(self):
        self.usage("unknown role 'boss': expected admin, official or manager",
                   "user", "add", "lan", "--role", "boss")
        self.usage("unknown role 'Manager'", "user", "set", "lan", "--role",
                   "Manager")
        self.usage("missing --role", "user", "add", "lan")
        self.usage("a manager needs at least one --group CODE",
                   "user", "add", "lan", "--role", "manager")
        self.usage("--group is for managers only",
                   "user", "add", "lan", "--role", "official", "--group",
                   "2A")
        for bad in ("a b", "ông", "x" * 65, ".hidden", "a/b", ""):
            self.usage("invalid user name", "user", "add", "--role",
                       "admin", "--", bad)
        self.usage("exclude each other", "user", "add", "lan", "--role",
                   "admin", "--uid", "5", "--unix-user", "root")
        self.usage("exclude each other", "user", "add", "lan", "--role",
                   "admin", "--password-stdin", "--password-prompt")
        self.usage("invalid --uid 'abc'", "user", "add", "lan", "--role",
                   "admin", "--uid", "abc")
        self.usage("no unix user 'khong-co-ai-ca'", "user", "add", "lan",
                   "--role", "admin", "--unix-user", "khong-co-ai-ca")
        self.usage("nothing to change", "user", "set", "lan")
        self.usage("invalid token id 'x'", "user", "revoke", "lan", "x")
        self.usage("invalid broadcast id 'abc'", "approve", "abc")
        self.usage("invalid --limit '0'", "audit", "--limit", "0")
        self.usage("no such option '--all'", "user", "list", "--all")
        # a prompt with no terminal: a clear message, not a hang
        p = subprocess.run(
            [LOAXA, "--socket", self.d.socket_path, "user", "add", "lan",
             "--role", "admin", "--password-prompt"],
            capture_output=True, text=True, timeout=30,
            stdin=subprocess.DEVNULL, start_new_session=True)
        self.assertEqual(p.returncode, 2, p)
        self.assertIn("use --password-stdin", p.stderr)
        # password on stdin: none, empty
        self.usage("no password on standard input", "user", "add", "lan",
                   "--role", "admin", "--password-stdin", input="")
        self.usage("is empty", "user", "add", "lan", "--role", "admin",
                   "--password-stdin", input="\n")
        # nothing was created by any of these
        self.assertEqual(self.d.get("/v1/users").body["users"], [])

        # what only loaxad knows: an unknown group, a weak password
        p = self.rc(1, "user", "add", "lan", "--role", "manager", "--group",
                    "9Z")
        self.assertIn("9Z", p.stderr)
        p = self.rc(1, "user", "add", "lan", "--role", "admin",
                    "--password-stdin", input="ngan\n")
        self.assertIn("password", p.stderr)
        self.assertNotIn("ngan", p.stderr)
        self.assertEqual(self.d.get("/v1/users").body["users"], [])
        # a bad token in LOAXA_TOKEN is refused before anything is sent
        self.usage("LOAXA_TOKEN: the token may only hold printable ASCII",
                   "whoami", token="a b")

    def test_password(self):
        self.ok("user", "add", "lan", "--role", "manager", "--group", "2A",
                "--password-stdin", input=PASSWORD + "\r\n")

        def login(pw):
            return self.d.post("/v1/login", {"user": "lan", "password": pw},
                               tcp=True).status

        self.assertEqual(login(PASSWORD), 200)
        # the admin sets it without the old one
        p = self.ok("user", "passwd", "lan", "--password-stdin",
                    input=NEW_PASSWORD + "\n")
        self.assertIn("changed the password of lan", p.stdout)
        self.assertEqual(login(PASSWORD), 401)
        self.assertEqual(login(NEW_PASSWORD), 200)
        # one's own: the old password first
        tok = self.token("lan")
        p = self.rc(1, "user", "passwd", "lan", "--password-stdin",
                    input="sai mật khẩu cũ\n" + PASSWORD + "\n",
                    token=tok)
        self.assertNotIn("sai mật khẩu", p.stderr)
        self.assertEqual(login(NEW_PASSWORD), 200)
        self.usage("no new password (second line)", "user", "passwd", "lan",
                   "--password-stdin", input=NEW_PASSWORD + "\n", token=tok)
        self.ok("user", "passwd", "lan", "--password-stdin",
                input=NEW_PASSWORD + "\n" + PASSWORD + "\n", token=tok)
        self.assertEqual(login(PASSWORD), 200)
        # too weak: loaxad's reason, nothing changed
        p = self.rc(1, "user", "passwd", "lan", "--password-stdin",
                    input="aaaaaaaaaaaa\n")
        self.assertTrue(p.stderr.startswith("loaxa: "), p.stderr)
        self.assertEqual(login(PASSWORD), 200)
        # a manager may not set another's password
        self.ok("user", "add", "hoa", "--role", "official")
        p = self.rc(1, "user", "passwd", "hoa", "--password-stdin",
                    input=PASSWORD + "\n", token=tok)
        self.assertIn("loaxa: ", p.stderr)
        # never in the audit log
        audit = json.dumps(self.js("audit", "--all"), ensure_ascii=False)
        for secret in (PASSWORD, NEW_PASSWORD, tok):
            self.assertNotIn(secret, audit)

    def test_password_prompt(self):
        code, out = self.on_tty(
            ["user", "add", "lan", "--role", "manager", "--group", "2A",
             "--password-prompt"],
            [("Password for lan: ", PASSWORD), ("Again: ", PASSWORD)])
        self.assertEqual(code, 0, out)
        self.assertNotIn(PASSWORD, out)         # not echoed
        self.assertIn("created user lan", out)
        self.assertTrue(self.d.get("/v1/users/lan").body["has_password"])
        self.assertEqual(self.d.post("/v1/login", {"user": "lan",
                                                   "password": PASSWORD},
                                     tcp=True).status, 200)
        # typed differently twice: nothing sent
        code, out = self.on_tty(
            ["user", "add", "hoa", "--role", "official",
             "--password-prompt"],
            [("Password for hoa: ", PASSWORD), ("Again: ", NEW_PASSWORD)])
        self.assertEqual(code, 2, out)
        self.assertIn("the two passwords differ", out)
        self.assertEqual(self.d.get("/v1/users/hoa").status, 404)
        # passwd of oneself asks the current password first
        tok = self.token("lan")
        os.environ["LOAXA_TOKEN"] = tok
        try:
            code, out = self.on_tty(
                ["user", "passwd", "lan"],
                [("Current password: ", PASSWORD),
                 ("New password for lan: ", NEW_PASSWORD),
                 ("Again: ", NEW_PASSWORD)])
        finally:
            del os.environ["LOAXA_TOKEN"]
        self.assertEqual(code, 0, out)
        self.assertNotIn(NEW_PASSWORD, out)
        self.assertEqual(self.d.post("/v1/login", {"user": "lan",
                                                   "password": NEW_PASSWORD},
                                     tcp=True).status, 200)
        # the admin is not asked for it
        code, out = self.on_tty(
            ["user", "passwd", "lan"],
            [("New password for lan: ", PASSWORD), ("Again: ", PASSWORD)])
        self.assertEqual(code, 0, out)
        self.assertNotIn("Current password", out)

    def test_tokens_whoami_revoke(self):
        self.ok("user", "add", "lan", "--role", "manager", "--group", "2A",
                "--display-name", "Nguyễn Văn Lân")
        # the system admin, by unix uid
        me = self.js("whoami")
        self.assertEqual(me["user"]["role"], "admin")
        self.assertEqual(me["user"]["name"],
                         pwd.getpwuid(os.geteuid()).pw_name)

        tok = self.token("lan", label="máy tính xã")
        p = self.ok("whoami", token=tok)
        self.assertRegex(p.stdout, r"(?m)^name: +lan$")
        self.assertRegex(p.stdout, r"(?m)^role: +manager$")
        self.assertRegex(p.stdout, r"(?m)^groups: +2A$")
        self.assertRegex(p.stdout, r"(?m)^display name: +Nguyễn Văn Lân$")
        me = self.js("whoami", token=tok)
        self.assertEqual((me["user"]["name"], me["user"]["groups"]),
                         ("lan", ["2A"]))
        self.assertEqual(me, self.d.get(
            "/v1/me", headers={"Authorization": "Bearer " + tok}).body)
        # the same token from a file, from LOAXA_TOKEN_FILE, and over TCP
        path = self.write("lan.token", tok + "\n")
        self.assertEqual(self.js("whoami", token_file=path)["user"]["name"],
                         "lan")
        self.assertEqual(
            self.js("whoami", env_token_file=path)["user"]["name"], "lan")
        url = "http://127.0.0.1:%d" % self.d.tcp_port
        self.assertEqual(self.js("whoami", url=url, token=tok)["user"]
                         ["name"], "lan")
        # --token-file beats LOAXA_TOKEN, which beats LOAXA_TOKEN_FILE
        admin_file = self.d.token_path
        self.assertEqual(self.js("whoami", token=tok,
                                 token_file=admin_file)["user"]["role"],
                         "admin")
        self.assertEqual(self.js("whoami", token=tok,
                                 env_token_file=admin_file)["user"]["name"],
                         "lan")
        # TCP without any token: 401 and the hint
        p = self.rc(1, "whoami", url=url)
        self.assertIn("LOAXA_TOKEN", p.stderr)

        # what the manager may not do
        p = self.rc(1, "user", "list", token=tok)
        self.assertIn("loaxa: ", p.stderr)
        self.rc(1, "audit", token=tok)
        self.rc(1, "log", "--level", "debug", token=tok)
        self.rc(1, "user", "add", "x", "--role", "admin", token=tok)

        # list the tokens; a second one of their own
        tok2 = self.token("lan", label="điện thoại")
        self.assertNotEqual(tok, tok2)
        tokens = self.js("user", "tokens", "lan")["tokens"]
        self.assertEqual(sorted(t["label"] for t in tokens),
                         sorted(["máy tính xã", "điện thoại"]))
        self.assertEqual(self.js("user", "tokens", "lan", token=tok),
                         {"tokens": tokens})
        p = self.ok("user", "tokens", "lan")
        self.assertEqual(p.stdout.splitlines()[0].split(),
                         ["ID", "LABEL", "CREATED", "LAST", "USED"])
        self.assertIn("máy tính xã", p.stdout)
        for secret in (tok, tok2):
            self.assertNotIn(secret, p.stdout)
        first = [t for t in tokens if t["label"] == "máy tính xã"][0]
        second = [t for t in tokens if t["label"] == "điện thoại"][0]

        # revoke: that token stops at once, the other goes on
        p = self.ok("user", "revoke", "lan", first["id"])
        self.assertIn("revoked token %d of lan" % first["id"], p.stdout)
        p = self.rc(1, "whoami", token=tok)
        self.assertIn("refused the token of LOAXA_TOKEN", p.stderr)
        p = self.rc(1, "whoami", token_file=path)
        self.assertIn("refused the token of " + path, p.stderr)
        self.assertEqual(self.js("whoami", token=tok2)["user"]["name"],
                         "lan")
        self.rc(1, "user", "revoke", "lan", first["id"])
        # one's own token, by oneself
        self.ok("user", "revoke", "lan", second["id"], token=tok2)
        self.rc(1, "whoami", token=tok2)
        p = self.ok("user", "tokens", "lan")
        self.assertEqual(p.stdout, "")
        self.assertIn("No API tokens", p.stderr)

    def test_disable_enable(self):
        self.ok("user", "add", "lan", "--role", "manager", "--group", "2A",
                "--password-stdin", input=PASSWORD + "\n")
        tok = self.token("lan")
        self.ok("whoami", token=tok)
        p = self.ok("user", "disable", "lan")
        self.assertIn("user lan is disabled", p.stdout)
        self.assertTrue(self.d.get("/v1/users/lan").body["disabled"])
        self.rc(1, "whoami", token=tok)
        self.assertEqual(self.d.post("/v1/login", {"user": "lan",
                                                   "password": PASSWORD},
                                     tcp=True).status, 401)
        p = self.ok("user", "list")
        self.assertRegex(p.stdout, r"(?m)^lan +manager +2A +- +yes +yes$")
        p = self.ok("user", "enable", "lan")
        self.assertIn("user lan is enabled", p.stdout)
        self.assertEqual(self.js("whoami", token=tok)["user"]["name"], "lan")

    def test_audit(self):
        self.ok("user", "add", "lan", "--role", "manager", "--group", "2A")
        self.ok("user", "add", "hoa", "--role", "official",
                "--password-stdin", input=PASSWORD + "\n")
        tok = self.token("hoa")
        self.ok("group", "add", "3C", "Nhóm dân cư 3C")
        self.ok("household", "add", "--group", "2A", "--name",
                "Nguyễn Văn An", "--phone", "0912345678", token=tok)
        self.ok("user", "disable", "lan")
        self.rc(1, "user", "add", "lan", "--role", "admin")   # 409

        full = self.d.get("/v1/audit?limit=1000").body
        p = self.ok("audit")
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split(),
                         ["TIME", "USER", "ORIGIN", "ACTION", "TARGET",
                          "STATUS", "DETAIL"])
        body = "\n".join(lines[1:])
        self.assertIn("POST /v1/users", body)
        self.assertIn("PATCH /v1/users/*", body)
        self.assertIn("POST /v1/groups", body)
        self.assertRegex(body, r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +hoa "
                         r"+unix uid \d+ +POST /v1/households .*201")
        self.assertRegex(body, r"(?m)POST /v1/users .*409")
        # never the phone number, the password or the token
        for secret in ("0912345678", "84912345678", PASSWORD, tok):
            self.assertNotIn(secret, p.stdout)
        # newest first: the failed add came last
        self.assertIn("409", lines[1])

        # --limit: one page, and the note that there is more
        page = self.js("audit", "--limit", "2")
        self.assertEqual(len(page["entries"]), 2)
        self.assertIsInstance(page["next_before"], int)
        self.assertEqual(page["entries"], full["entries"][:2])
        p = self.ok("audit", "--limit", "2")
        self.assertEqual(len(p.stdout.splitlines()), 3)
        self.assertIn("loaxa audit --all", p.stderr)
        # --all follows the pages to the oldest
        every = self.js("audit", "--all", "--limit", "2")
        self.assertEqual(every, {"entries": full["entries"],
                                 "next_before": None})
        p = self.ok("audit", "--all", "--limit", "3")
        self.assertEqual(len(p.stdout.splitlines()),
                         1 + len(full["entries"]))
        self.assertEqual(p.stderr, "")

    def test_log(self):
        p = self.ok("log")
        self.assertRegex(p.stdout, r"(?m)^level: +info$")
        self.assertRegex(p.stdout, r"(?m)^debug: +none$")
        self.assertEqual(self.js("log"), self.d.get("/v1/log").body)

        p = self.ok("log", "--level", "notice", "--debug", "api, store")
        self.assertRegex(p.stdout, r"(?m)^level: +notice$")
        self.assertIn("until loaxad reloads or restarts", p.stdout)
        got = self.d.get("/v1/log").body
        self.assertEqual((got["level"], sorted(got["debug"])),
                         ("notice", ["api", "store"]))
        # --debug may be repeated; the level stays
        self.ok("log", "--debug", "http", "--debug", "dispatch")
        got = self.js("log")
        self.assertEqual((got["level"], sorted(got["debug"])),
                         ("notice", ["dispatch", "http"]))
        # debug for the api shows in loaxad's log at once
        size = self.d.log_size()
        self.ok("log", "--level", "info", "--debug", "api")
        self.ok("groups")
        self.d.wait_log("[api]", since=size)
        self.ok("log", "--debug", "none")
        self.assertEqual(self.js("log")["debug"], [])
        # loaxad's checks
        p = self.rc(1, "log", "--level", "loud")
        self.assertRegex(p.stderr, r"(?m)^  level: ")
        p = self.rc(1, "log", "--debug", "api,nothing-such")
        self.assertRegex(p.stderr, r"(?m)^  debug\[1\]: ")
        self.assertEqual(self.js("log")["level"], "info")


class Approval(UsersCase):
    """An urgent notice to every group waits for a second official."""

    def setUp(self):
        self.sb = sbx.Sandbox()
        self.addCleanup(self.sb.close)
        self.sb.start()
        text = ["[broadcast]", "quiet_hours =", "approval = urgent-all", "",
                "[route]", "chain = sms", "",
                self.sb.channel_config("sms", "esms", rate="20")]
        self.d = self.daemon(extra="\n".join(text))
        self.ok("household", "add", "--group", "2A", "--name",
                "Nguyễn Văn An", "--phone", "0912345678")
        self.ok("household", "add", "--group", "2B", "--name",
                "Trần Thị Bình", "--phone", "0987654321")
        self.ok("user", "add", "hoa", "--role", "official")
        self.ok("user", "add", "lan", "--role", "manager", "--group", "2A")
        self.hoa = self.token("hoa")
        self.lan = self.token("lan")

    def notify(self, title, token):
        p = self.ok("notify", "--urgent", "--all", "--title", title,
                    "--body", "Nước sông dâng cao.", token=token)
        m = re.search(r"^created urgent notice (\d+)$", p.stdout, re.M)
        self.assertTrue(m, p.stdout)
        self.assertRegex(p.stdout, r"(?m)^state: +awaiting_approval$")
        return int(m.group(1))

    def test_approve_reject(self):
        bid = self.notify("Cảnh báo lũ", self.hoa)
        b = self.d.get("/v1/broadcasts/%d" % bid).body
        self.assertEqual((b["state"], b["requested_by"], b["approved_by"]),
                         ("awaiting_approval", "hoa", None))
        # listed with its state as loaxad gives it
        p = self.ok("broadcasts", "--state", "awaiting_approval")
        self.assertRegex(p.stdout, r"(?m)^ *%d +notice +urgent +"
                         r"awaiting_approval +Cảnh báo lũ" % bid)
        p = self.ok("broadcasts")
        self.assertIn("awaiting_approval", p.stdout)
        self.assertEqual(self.sb.messages(), [])

        # the one who asked may not approve, nor a manager
        p = self.rc(1, "approve", bid, token=self.hoa)
        self.assertIn("second official", p.stderr)
        self.assertIn("hint: another official or an admin must run "
                      "'loaxa approve %d'" % bid, p.stderr)
        p = self.rc(1, "--json", "approve", bid, token=self.hoa)
        self.assertEqual(json.loads(p.stdout)["error"]["code"],
                         "same_person")
        p = self.rc(1, "approve", bid, token=self.lan)
        self.assertTrue(p.stderr.startswith("loaxa: "), p.stderr)
        p = self.rc(1, "reject", bid, token=self.hoa)
        self.assertIn("second official", p.stderr)
        self.assertEqual(self.d.get("/v1/broadcasts/%d" % bid).body["state"],
                         "awaiting_approval")

        # a second person approves: it is sent
        p = self.ok("approve", bid)
        self.assertRegex(p.stdout, r"^broadcast %d approved, now "
                         r"(scheduled|active|done)\n$" % bid)
        b = self.d.get("/v1/broadcasts/%d" % bid).body
        self.assertEqual(b["approved_by"], pwd.getpwuid(os.geteuid())
                         .pw_name)
        self.ok("watch", bid, "--interval", "0.2")
        self.assertEqual(len(self.sb.messages()), 2)
        # not awaiting any more
        p = self.rc(1, "approve", bid)
        self.assertIn("hint: only a broadcast in state awaiting_approval",
                      p.stderr)
        self.rc(1, "reject", bid)

        # a rejected one is cancelled and never sent
        bid2 = self.notify("Cảnh báo bão", self.hoa)
        p = self.ok("reject", bid2, "--reason", "sai ngày", token=None)
        self.assertEqual(p.stdout, "broadcast %d rejected, now cancelled\n"
                         % bid2)
        self.assertEqual(self.d.get("/v1/broadcasts/%d" % bid2)
                         .body["state"], "cancelled")
        self.assertEqual(len(self.sb.messages()), 2)
        # by the API's ids
        self.rc(1, "approve", 99999)
        # the audit names who did what
        entries = self.js("audit", "--all")["entries"]
        actions = [(e["user"], e["action"], e["status"]) for e in entries]
        self.assertIn(("hoa", "POST /v1/broadcasts/*/approve", 403), actions)
        self.assertIn((pwd.getpwuid(os.geteuid()).pw_name,
                       "POST /v1/broadcasts/*/reject", 200), actions)


if __name__ == "__main__":
    unittest.main(verbosity=2)
