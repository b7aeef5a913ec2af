#!/usr/bin/env python3
"""The web console in a real browser: headless Debian chromium driven by
Selenium (python3-selenium), against the real loaxad on a loopback TCP
listener and the real loaxa-sandbox as its providers.

Users are made over the unix socket as the system admin: an admin 'an',
officials 'binh' and 'chi', a manager 'dung' of group 2A. Then, in the
browser: logging in, a CSV import with bad rows (the rejected rows shown
with their line and reason), household edits, a meeting to two groups
previewed and watched until done, the printable not-reached list, a
manager refused another group's households and broadcasts (in the page and
at the API with the same session), an urgent notice to every group waiting
for a second official's approval, given in the console, and the admin's
users and audit pages. The static files' security headers and ETag/304 are
checked over plain HTTP.

Screenshots of the main pages are saved as PNG in $LOAXA_SCREENSHOTS
(default: a 'screenshots' directory under a temporary directory, printed).

Needs LOAXAD and LOAXA_SANDBOX (else exits 77), and chromium, chromedriver
and python3-selenium (else exits 77, saying which is missing). Under a
Python without selenium (a pyenv python3 first on PATH) the file runs
itself again under /usr/bin/python3, where Debian's package puts it.
"""

import base64
import datetime
import http.client
import json
import os
import re
import sys
import tempfile
import time
import unittest

SKIP = 77
CHROMIUM = os.environ.get("LOAXA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LOAXA_CHROMEDRIVER", "/usr/bin/chromedriver")
SYSTEM_PYTHON = "/usr/bin/python3"

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        StaleElementReferenceException, TimeoutException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:
    if (os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
            and os.access(SYSTEM_PYTHON, os.X_OK)
            and not os.environ.get("LOAXA_CONSOLE_REEXEC")):
        os.environ["LOAXA_CONSOLE_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    print("python3-selenium is not installed: skipping (exit 77)")
    sys.exit(SKIP)

for _what, _path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)):
    if not os.access(_path, os.X_OK):
        print("%s is not installed (%s): skipping (exit 77)" % (_what, _path))
        sys.exit(SKIP)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox as sbx  # noqa: E402

sbx.require_env()

import harness  # noqa: E402
from test_broadcast import BroadcastCase  # noqa: E402

PASSWORDS = {
    "an": "an-mat-khau-2024",
    "binh": "binh-mat-khau-2024",
    "chi": "chi-mat-khau-2024",
    "dung": "dung-mat-khau-2024",
}
WAIT = 20          # seconds for the page to show something
DONE_WAIT = 60     # seconds for a broadcast to finish

SHOTS = os.environ.get("LOAXA_SCREENSHOTS") or os.path.join(
    tempfile.mkdtemp(prefix="loaxa-console-"), "screenshots")


def phones(prefix, start, n):
    return ["%s%06d" % (prefix, start + i) for i in range(n)]


class ConsoleCase(BroadcastCase):
    """A sandbox, a daemon with TCP and the console, the four users, and a
    browser per test."""

    BROWSER = True

    def setUp(self):
        super().setUp()
        self.sb = self.sandbox()
        extra = "\n".join([
            "[broadcast]", "quiet_hours = ", "retry_initial = 1s",
            "retry_max = 2s", "",
            "[route]", "chain = zns, esms", "",
            self.sb.channel_config("zns", "zns"),
            self.sb.channel_config("esms", "esms")])
        self.d = self.daemon(tcp=True, extra=extra)
        self.base = "http://127.0.0.1:%d" % self.d.tcp_port
        for name, role, groups in (("an", "admin", None),
                                   ("binh", "official", None),
                                   ("chi", "official", None),
                                   ("dung", "manager", ["2A"])):
            body = {"name": name, "role": role,
                    "display_name": name.capitalize(),
                    "password": PASSWORDS[name]}
            if groups:
                body["groups"] = groups
            self.ok(self.d.post("/v1/users", body), 201)
        if self.BROWSER:
            self.browser = self.make_browser()
        os.makedirs(SHOTS, exist_ok=True)

    def make_browser(self):
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
                  "--window-size=1280,900", "--disable-dev-shm-usage",
                  "--lang=vi-VN", "--no-first-run",
                  "--disable-extensions", "--password-store=basic"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.addCleanup(drv.quit)
        drv.set_script_timeout(30)
        self.addCleanup(self.check_console_log, drv)
        return drv

    # ---- the browser ----

    def check_console_log(self, drv):
        """No script error and no CSP violation in the browser's log.
        Failed API calls (401 before logging in, the 403s a manager is
        meant to get) are logged by chromium as 'Failed to load resource'
        and are expected."""
        try:
            entries = drv.get_log("browser")
        except Exception:  # the browser may be gone after a failure
            return
        bad = [e for e in entries if e.get("level") == "SEVERE"
               and "Failed to load resource" not in e.get("message", "")]
        self.assertEqual(bad, [], "errors in the browser's console")

    def wait_for(self, cond, what, timeout=WAIT):
        try:
            return WebDriverWait(self.browser, timeout, 0.1, (
                StaleElementReferenceException,)).until(cond)
        except TimeoutException:
            self.shot("FAILED-" + what.replace(" ", "-")[:40])
            alert = self.browser.find_elements(By.ID, "alert")
            text = alert[0].text if alert else ""
            self.fail("timed out after %d s waiting for %s (url %s, "
                      "alert %r)" % (timeout, what,
                                     self.browser.current_url, text))

    def el(self, id_, timeout=WAIT):
        return self.wait_for(EC.visibility_of_element_located((By.ID, id_)),
                             "#" + id_, timeout)

    def css(self, sel):
        return self.browser.find_elements(By.CSS_SELECTOR, sel)

    def text_in(self, id_, text, timeout=WAIT):
        self.wait_for(EC.text_to_be_present_in_element((By.ID, id_), text),
                      "%r in #%s" % (text, id_), timeout)
        return self.browser.find_element(By.ID, id_).text

    def go(self, hash_):
        self.browser.get(self.base + "/" + hash_)

    def shot(self, name):
        """A PNG of the whole page (not only the window's part)."""
        path = os.path.join(SHOTS, name + ".png")
        b = self.browser
        try:
            w, h = b.execute_script(
                "return [document.documentElement.clientWidth,"
                " document.documentElement.scrollHeight]")
            png = b.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": w,
                         "height": min(h, 6000), "scale": 1}})
            with open(path, "wb") as f:
                f.write(base64.b64decode(png["data"]))
        except Exception:  # an old chromium: the window's part
            b.save_screenshot(path)
        return path

    def alert_text(self, timeout=WAIT):
        return self.el("alert", timeout).text

    def no_alert(self):
        a = self.browser.find_element(By.ID, "alert")
        self.assertFalse(a.is_displayed(), "alert shown: %r" % a.text)

    def phone(self, on):
        """Emulate a 360 px wide phone screen (a window cannot be made
        that narrow: headless chromium keeps it at least 500 px)."""
        if on:
            self.browser.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": 360, "height": 780, "deviceScaleFactor": 1,
                 "mobile": True})
        else:
            self.browser.execute_cdp_cmd(
                "Emulation.clearDeviceMetricsOverride", {})

    def login(self, name, password=None):
        self.go("#/groups")
        user = self.el("login-user")
        user.clear()
        user.send_keys(name)
        pw = self.browser.find_element(By.ID, "login-password")
        pw.clear()
        pw.send_keys(password or PASSWORDS[name])
        self.browser.find_element(By.ID, "login-submit").click()
        self.el("nav")
        self.text_in("who", name.capitalize())

    def logout(self):
        self.browser.find_element(By.ID, "logout").click()
        self.el("login-user")

    def set_value(self, id_, value):
        """Set an input (a date or time picker too) as a user would,
        firing input and change."""
        el = self.browser.find_element(By.ID, id_)
        self.browser.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('input',"
            " {bubbles: true}));"
            "arguments[0].dispatchEvent(new Event('change',"
            " {bubbles: true}));", el, value)

    def type_in(self, id_, text):
        el = self.browser.find_element(By.ID, id_)
        el.clear()
        el.send_keys(text)

    def fetch(self, method, path, body=None, csrf=True):
        """A request from the page with its session cookie (and the CSRF
        token the console holds, unless csrf is False): (status, json)."""
        return self.browser.execute_async_script("""
            const [method, path, body, csrf, done] = arguments;
            const headers = {'Accept': 'application/json'};
            if (body !== null) headers['Content-Type'] = 'application/json';
            (async () => {
                if (csrf && method !== 'GET') {
                    const me = await fetch('/v1/me',
                        {credentials: 'same-origin'});
                    headers['X-CSRF-Token'] = (await me.json()).csrf;
                }
                const r = await fetch(path, {method, headers,
                    credentials: 'same-origin',
                    body: body === null ? undefined : JSON.stringify(body)});
                let j = null;
                try { j = await r.json(); } catch (e) { }
                done([r.status, j]);
            })().catch((e) => done([0, String(e)]));
        """, method, path, body, csrf)

    def table_rows(self, table_id):
        """The text of each body row's cells."""
        return self.browser.execute_script("""
            return Array.from(document.querySelectorAll(
                '#' + arguments[0] + ' tbody tr'), (tr) =>
                Array.from(tr.querySelectorAll('th, td'),
                           (c) => c.innerText.trim()));
        """, table_id)

    def wait_state(self, state_text, timeout=DONE_WAIT):
        return self.text_in("bc-state", state_text, timeout)

    # ---- data ----

    def add_households(self, group, numbers, name="Hộ", start=1,
                       address="Tổ %d"):
        out = []
        for i, p in enumerate(numbers):
            out.append(self.household(self.d, "%s %s %d" % (name, group,
                                                           start + i),
                                      p, group=group,
                                      address=address % (start + i)))
        return out


class TestStatic(ConsoleCase):
    """The console's files over plain HTTP."""

    BROWSER = False

    def test_headers_etag_304(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.d.tcp_port,
                                          timeout=10)
        try:
            seen = {}
            for path, ctype in (("/", "text/html"),
                                ("/index.html", "text/html"),
                                ("/app.js", "text/javascript"),
                                ("/style.css", "text/css")):
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                self.assertEqual(r.status, 200, path)
                self.assertTrue(r.getheader("Content-Type", "")
                                .startswith(ctype), path)
                csp = r.getheader("Content-Security-Policy", "")
                for part in ("default-src 'self'", "frame-ancestors 'none'",
                             "base-uri 'none'", "form-action 'self'"):
                    self.assertIn(part, csp, path)
                self.assertEqual(r.getheader("X-Content-Type-Options"),
                                 "nosniff", path)
                self.assertEqual(r.getheader("Referrer-Policy"),
                                 "same-origin", path)
                etag = r.getheader("ETag")
                self.assertRegex(etag or "", r'^"[0-9a-f]+"$', path)
                self.assertTrue(body, path)
                seen[path] = (etag, body)
                # the same again with its ETag: 304, no body
                conn.request("GET", path, headers={"If-None-Match": etag})
                r = conn.getresponse()
                self.assertEqual(r.status, 304, path)
                self.assertEqual(r.read(), b"", path)
                self.assertEqual(r.getheader("ETag"), etag, path)
                self.assertEqual(r.getheader("X-Content-Type-Options"),
                                 "nosniff", path)
                # a list, a weak form; another tag: the file
                conn.request("GET", path, headers={
                    "If-None-Match": '"nope", W/%s' % etag})
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 304, path)
                conn.request("GET", path, headers={"If-None-Match":
                                                   '"other"'})
                r = conn.getresponse()
                self.assertEqual(r.read(), body, path)
                self.assertEqual(r.status, 200, path)
            self.assertEqual(seen["/"], seen["/index.html"])
            # HEAD: the headers, no body
            conn.request("HEAD", "/app.js")
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.read(), b"")
            self.assertEqual(r.getheader("ETag"), seen["/app.js"][0])
            # no other path is the console's, and the API still asks
            for path in ("/nope.js", "/index.htm", "/app.js/x", "/.git",
                         "/../daemon/api.c", "/%2e%2e/etc/passwd"):
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                self.assertIn(r.status, (401, 404), path)
            conn.request("GET", "/v1/groups")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 401)
        finally:
            conn.close()
        # the pages use no inline script or style, and nothing outside
        html = seen["/"][1].decode("utf-8")
        self.assertNotIn("<script>", html)
        self.assertNotIn("style=", html)
        self.assertNotIn("http://", html.replace(
            "http://www.w3.org", ""))
        js = seen["/app.js"][1].decode("utf-8")
        for bad in (r"\.(inner|outer)HTML\s*=", r"insertAdjacentHTML",
                    r"document\.write", r"\beval\(", r"new Function",
                    r"https?://"):
            self.assertIsNone(re.search(bad, js), "app.js has " + bad)


class TestLoginAndHouseholds(ConsoleCase):

    CSV = (
        "ho_ten,so_dien_thoai,dia_chi\n"
        "Nguyễn Văn An,0912 345 601,Tổ 1\n"
        "Trần Thị Bình,0912345602,Tổ 2\n"
        "Lê Văn Cường,028 3829 1234,Tổ 3\n"        # line 4: landline
        ",0912345604,Tổ 4\n"                         # line 5: no name
        "Phạm Thị Dung,12345,Tổ 5\n"                 # line 6: too short
        "Hoàng Văn Em,0912345606,Tổ 6\n"
    )

    def test_login_groups_import_edit(self):
        b = self.browser
        self.go("")
        self.el("login-user")
        self.assertEqual(b.find_element(By.TAG_NAME, "html")
                         .get_attribute("lang"), "vi")
        self.shot("01-login")
        # a wrong password: the API's message, in the alert
        self.type_in("login-user", "an")
        self.type_in("login-password", "not-the-password")
        b.find_element(By.ID, "login-submit").click()
        self.assertIn("wrong user name or password", self.alert_text())
        self.assertFalse(self.css("#nav a"))

        self.login("an")
        self.assertTrue(b.current_url.endswith("#/groups"))
        # an admin sees every page
        nav = [a.get_attribute("href").split("#")[1]
               for a in self.css("#nav a")]
        self.assertEqual(nav, ["/groups", "/meeting/new", "/notice/new",
                               "/broadcasts", "/approvals", "/channels",
                               "/audit", "/users"])
        self.add_households("2A", ["0913000001"])
        b.refresh()
        self.el("groups-table")
        rows = self.table_rows("groups-table")
        self.assertEqual([r[0] for r in rows],
                         [c for c, _ in harness.DEFAULT_GROUPS])
        self.assertEqual(rows[0], ["2A", "Nhóm dân cư 2A", "1"])
        self.shot("02-groups")

        # the group page, the import with its per-row report
        b.find_element(By.LINK_TEXT, "2A").click()
        self.text_in("page-title", "Nhóm dân cư 2A (2A)")
        self.el("households-table")
        path = os.path.join(self.d.tmp, "ho-2A.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.CSV)
        b.find_element(By.ID, "import-file").send_keys(path)
        b.find_element(By.ID, "import-submit").click()
        self.text_in("import-summary", "6")
        summary = b.find_element(By.ID, "import-summary").text
        self.assertIn("3 hộ thêm mới", summary)
        self.assertIn("3 dòng bị từ chối", summary)
        rejected = self.table_rows("import-rejected")
        self.assertEqual([r[0] for r in rejected], ["4", "5", "6"],
                         rejected)
        self.assertEqual(rejected[0][1], "phone")
        self.assertIn("028 3829 1234", rejected[0][2])
        self.assertTrue(all(r[3] for r in rejected), rejected)
        self.assertEqual(rejected[1][1], "name")
        self.shot("03-group-import")
        # the list shows the new households, phones as people dial them
        self.wait_for(lambda _: len(self.table_rows("households-table"))
                      == 4, "4 households listed")
        names = [r[0] for r in self.table_rows("households-table")]
        self.assertIn("Nguyễn Văn An", names)
        self.assertIn("0912 345 601", b.find_element(
            By.ID, "households-table").text)
        self.text_in("group-count", "4")

        # add a household with the form; a bad phone is a field error
        b.find_element(By.ID, "hh-add").click()
        self.type_in("hh-name", "Đỗ Thị Giang <b>x</b>")
        self.type_in("hh-phones", "0243 123 456")
        self.type_in("hh-address", "Tổ 7")
        b.find_element(By.ID, "hh-save").click()
        self.assertIn("phones[0]", self.alert_text())
        self.type_in("hh-phones", "0912 345 607")
        b.find_element(By.ID, "hh-save").click()
        self.el("notice")
        self.wait_for(lambda _: len(self.table_rows("households-table"))
                      == 5, "5 households listed")
        # the name is text, not markup
        self.assertIn("Đỗ Thị Giang <b>x</b>",
                      b.find_element(By.ID, "households-table").text)
        self.assertFalse(self.css("#households-table b"))

        # edit it
        def row_of(hid):
            return b.find_element(By.CSS_SELECTOR,
                                  '#households-table tr[data-id="%d"]'
                                  % hid)
        row = [tr for tr in self.css("#households-table tbody tr")
               if "Giang" in tr.text][0]
        hid = int(row.get_attribute("data-id"))
        row.find_element(By.XPATH, ".//button[1]").click()
        self.assertEqual(b.find_element(By.ID, "hh-name")
                         .get_attribute("value"), "Đỗ Thị Giang <b>x</b>")
        self.type_in("hh-name", "Đỗ Thị Giang")
        self.type_in("hh-address", "Tổ 8")
        b.find_element(By.ID, "hh-save").click()
        self.wait_for(lambda _: "Tổ 8" in row_of(hid).text,
                      "the edit shown")
        self.assertEqual(self.ok(self.d.get("/v1/households/%d" % hid))
                         ["address"], "Tổ 8")

        # opt out, then in again
        row_of(hid).find_element(By.XPATH, ".//button[2]").click()
        self.wait_for(lambda _: "Từ chối nhận tin" in row_of(hid).text,
                      "opted out shown")
        self.assertTrue(self.ok(self.d.get("/v1/households/%d" % hid))
                        ["opted_out"])
        row_of(hid).find_element(By.XPATH, ".//button[2]").click()
        self.wait_for(lambda _: "Từ chối nhận tin" not in row_of(hid).text,
                      "opted in shown")
        self.assertFalse(self.ok(self.d.get("/v1/households/%d" % hid))
                         ["opted_out"])

        # search
        self.type_in("hh-search", "Bình")
        b.find_element(By.CSS_SELECTOR, "form.search button").click()
        self.wait_for(lambda _: len(self.table_rows("households-table"))
                      == 1, "one household found")
        self.assertIn("Trần Thị Bình",
                      self.table_rows("households-table")[0][0])
        self.type_in("hh-search", "")
        b.find_element(By.CSS_SELECTOR, "form.search button").click()
        self.wait_for(lambda _: len(self.table_rows("households-table"))
                      == 5, "all households again")
        self.shot("04-group")

        # the export link gives the group's CSV with the session cookie
        href = b.find_element(By.ID, "group-export").get_attribute("href")
        self.assertTrue(href.endswith("/v1/export?group=2A"), href)
        csv_text = b.execute_async_script("""
            const done = arguments[1];
            fetch(arguments[0], {credentials: 'same-origin'})
              .then((r) => r.text()).then(done, (e) => done(String(e)));
        """, href)
        self.assertTrue(csv_text.startswith(harness.EXPORT_HEADER),
                        csv_text[:200])
        self.assertIn("Đỗ Thị Giang", csv_text)

        # English, remembered across a reload
        b.find_element(By.ID, "lang").click()
        self.text_in("page-title", "Nhóm dân cư 2A")
        self.wait_for(lambda _: b.find_element(By.ID, "hh-add").text
                      == "Add a household", "English labels")
        b.refresh()
        self.wait_for(lambda _: b.find_element(By.ID, "logout").text
                      == "Log out", "English after a reload")
        self.assertEqual(b.find_element(By.TAG_NAME, "html")
                         .get_attribute("lang"), "en")
        b.find_element(By.ID, "lang").click()
        self.wait_for(lambda _: b.find_element(By.ID, "logout").text
                      == "Đăng xuất", "Vietnamese again")

        # a phone's screen, 360 px wide: nothing wider than the screen
        self.phone(True)
        for page, shot in (("#/groups/2A", "05-group-phone"),
                           ("#/groups", None), ("#/meeting/new", None),
                           ("#/users", None)):
            self.go(page)
            self.el("page-title")
            self.el("nav")
            time.sleep(0.3)
            w = b.execute_script(
                "return [document.documentElement.clientWidth,"
                " document.documentElement.scrollWidth]")
            self.assertEqual(w, [360, 360], page)
            if shot:
                self.shot(shot)
        self.phone(False)

        # logging out ends the session: the API answers 401
        self.logout()
        status, _ = self.fetch("GET", "/v1/groups")
        self.assertEqual(status, 401)
        self.no_alert()


class TestMeeting(ConsoleCase):

    def test_meeting_two_groups_not_reached(self):
        b = self.browser
        a = self.add_households("2A", phones("0914", 100001, 3))
        # one whose number every provider refuses, one opted out
        bad = self.household(self.d, "Vũ Văn Hỏng", "0912000108",
                             group="2A", address="Tổ 9")
        bb = self.add_households("2B", phones("0915", 100001, 2))
        out = self.household(self.d, "Ngô Thị Từ Chối", "0915200009",
                             group="2B", address="Tổ 3")
        self.ok(self.d.post("/v1/households/%d/opt-out" % out["id"]))
        self.add_households("dong-tan", phones("0916", 100001, 1))
        total = len(a) + 1 + len(bb) + 1

        self.login("binh")
        b.find_element(By.LINK_TEXT, "Lịch họp mới").click()
        self.el("bf-title")
        self.type_in("bf-title", "Họp tổ dân cư về thu gom rác")
        day = (datetime.date.today() + datetime.timedelta(days=3))
        self.set_value("bf-date", day.isoformat())
        self.set_value("bf-time", "19:30")
        self.type_in("bf-place", "Nhà văn hóa thôn 2A")
        self.type_in("bf-agenda", "Lịch thu gom rác mới; đóng góp quỹ")
        b.find_element(By.ID, "grp-2A").click()
        b.find_element(By.ID, "grp-2B").click()
        b.find_element(By.ID, "preview-btn").click()
        msgs = self.wait_for(EC.visibility_of_all_elements_located(
            (By.CSS_SELECTOR, "#preview .preview-msg")), "the preview")
        self.assertEqual([m.get_attribute("data-channel") for m in msgs],
                         ["zns", "esms"])
        esms = msgs[1].text
        # the SMS as sent: without diacritics (GSM-7), with its segments
        self.assertIn("Hop to dan cu ve thu gom rac", esms)
        self.assertIn("Nha van hoa thon 2A", esms)
        self.assertRegex(esms, r"SMS: \d+ phần tin")
        self.assertFalse(msgs[0].find_elements(By.CLASS_NAME, "sms-info"))
        self.shot("06-meeting-preview")

        b.find_element(By.ID, "send-btn").click()
        self.wait_for(EC.url_matches(r"#/broadcasts/\d+$"),
                      "the broadcast page")
        bid = int(b.current_url.rsplit("/", 1)[1])
        self.assertIn("Đã tạo tin", self.el("notice").text)
        self.wait_state("Hoàn tất")
        self.text_in("bc-progress-text", "%d/%d" % (total, total))
        prog = b.find_element(By.ID, "bc-progress")
        self.assertEqual(prog.get_attribute("value"),
                         prog.get_attribute("max"))
        groups = [r[0] for r in self.table_rows("bc-by-group")]
        self.assertEqual(groups, ["2A", "2B"])
        chans = [r[0] for r in self.table_rows("bc-by-channel")]
        self.assertIn("zns", chans)
        self.assertEqual(b.find_element(By.ID, "rsvp-yes").text, "0")
        body = self.bcast(self.d, bid)
        self.assertEqual(body["state"], "done")
        self.assertEqual(body["requested_by"], "binh")
        self.assertEqual(sorted(body["groups"]), ["2A", "2B"])
        self.assertEqual(body["counts"]["failed"], 1, body)
        self.assertEqual(body["counts"]["skipped"], 1, body)
        counts = {li.get_attribute("data-status"):
                  li.find_element(By.TAG_NAME, "strong").text
                  for li in self.css("#bc-counts li")}
        self.assertEqual(counts.get("failed"), "1")
        self.assertEqual(counts.get("skipped"), "1")
        self.shot("07-broadcast-live")

        # the not-reached list: one table per group, and why
        b.find_element(By.ID, "bc-not-reached-link").click()
        self.el("print-btn")
        sections = self.css("section.nr-group")
        self.assertEqual([s.get_attribute("data-group") for s in sections],
                         ["2A", "2B"])
        rows_a = [[c.text for c in tr.find_elements(By.TAG_NAME, "td")]
                  for tr in sections[0].find_elements(
                      By.CSS_SELECTOR, "tbody tr")]
        self.assertEqual(len(rows_a), 1, rows_a)
        self.assertEqual(rows_a[0][1:4], ["Vũ Văn Hỏng", "Tổ 9",
                                          "0912 000 108"])
        self.assertTrue(rows_a[0][4], rows_a)
        rows_b = sections[1].find_elements(By.CSS_SELECTOR, "tbody tr")
        self.assertEqual(len(rows_b), 1)
        self.assertIn("Ngô Thị Từ Chối", rows_b[0].text)
        self.assertIn("từ chối nhận tin", rows_b[0].text)
        self.shot("08-not-reached")
        # per group: the other tables hide
        Select(b.find_element(By.ID, "nr-group")).select_by_value("2B")
        self.assertFalse(sections[0].is_displayed())
        self.assertTrue(sections[1].is_displayed())
        Select(b.find_element(By.ID, "nr-group")).select_by_value("")
        # the Print button prints (window.print stubbed in the test)
        b.execute_script("window.__printed = 0;"
                         "window.print = () => { window.__printed++; };")
        b.find_element(By.ID, "print-btn").click()
        self.assertEqual(b.execute_script("return window.__printed"), 1)
        # the print layout: no navigation, no buttons, the tables
        b.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        self.assertFalse(b.find_element(By.ID, "nav").is_displayed())
        self.assertFalse(b.find_element(By.ID, "print-btn").is_displayed())
        self.assertTrue(sections[0].is_displayed())
        self.assertEqual(sections[1].value_of_css_property("break-before"),
                         "page")
        self.shot("09-not-reached-print")
        b.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        pdf = b.print_page()
        with open(os.path.join(SHOTS, "09-not-reached.pdf"), "wb") as f:
            f.write(base64.b64decode(pdf))

        # the list of broadcasts shows it, done
        self.go("#/broadcasts")
        self.el("broadcasts-table")
        row = b.find_element(By.CSS_SELECTOR,
                             '#broadcasts-table tr[data-id="%d"]' % bid)
        self.assertIn("Hoàn tất", row.text)
        self.assertIn("100%", row.text)
        # the channels page
        self.go("#/channels")
        self.el("channels-table")
        self.assertEqual(sorted(r[0] for r in
                                self.table_rows("channels-table")),
                         ["esms", "zns"])
        self.shot("10-channels")


class TestManager(ConsoleCase):

    def test_manager_sees_only_2A(self):
        b = self.browser
        self.add_households("2A", phones("0914", 200001, 2))
        hb = self.add_households("2B", phones("0915", 200001, 2))
        # a broadcast to 2B by the system admin, and one to 2A
        other = self.notice(self.d, groups=["2B"])
        mine = self.notice(self.d, groups=["2A"])
        self.wait_done(self.d, other["id"])
        self.wait_done(self.d, mine["id"])

        self.login("dung")
        nav = [a.get_attribute("href").split("#")[1]
               for a in self.css("#nav a")]
        self.assertEqual(nav, ["/groups", "/meeting/new", "/notice/new",
                               "/broadcasts", "/channels"])
        self.el("groups-table")
        self.assertEqual([r[0] for r in self.table_rows("groups-table")],
                         ["2A"])
        # 2B's page: refused, with the API's message
        self.go("#/groups/2B")
        self.el("group-refused")
        self.assertIn("2B", self.alert_text())
        self.assertFalse(self.css("#households-table"))
        self.shot("11-manager-refused")
        # the list of broadcasts has 2A's only; 2B's page is refused
        self.go("#/broadcasts")
        self.el("broadcasts-table")
        ids = [int(tr.get_attribute("data-id"))
               for tr in self.css("#broadcasts-table tbody tr")]
        self.assertEqual(ids, [mine["id"]])
        self.go("#/broadcasts/%d" % other["id"])
        self.assertTrue(self.alert_text())
        self.assertFalse(self.css("#bc-progress"))
        self.go("#/broadcasts/%d/not-reached" % other["id"])
        self.assertTrue(self.alert_text())
        self.assertFalse(self.css("section.nr-group"))
        # the forms: only 2A, no "all groups", no urgent switch
        self.go("#/notice/new")
        self.el("bf-title")
        boxes = [x.get_attribute("id")
                 for x in self.css("#bf-groups input[type=checkbox]")]
        self.assertEqual(boxes, ["grp-2A"])
        self.assertFalse(self.css("#bf-urgent"))
        self.assertFalse(self.css("#grp-all"))

        # the API with the same session says 403 too
        for path in ("/v1/households?group=2B", "/v1/groups/2B",
                     "/v1/households/%d" % hb[0]["id"],
                     "/v1/broadcasts/%d" % other["id"],
                     "/v1/broadcasts/%d/deliveries" % other["id"],
                     "/v1/replies?group=2B", "/v1/export?group=2B",
                     "/v1/users", "/v1/audit"):
            status, body = self.fetch("GET", path)
            self.assertEqual(status, 403, (path, body))
            self.assertEqual(body["error"]["code"], "forbidden", path)
        status, body = self.fetch("POST", "/v1/broadcasts", {
            "kind": "notice", "title": "Thử", "body": "Thử gửi 2B",
            "groups": ["2B"]})
        self.assertEqual(status, 403, body)
        status, body = self.fetch("POST", "/v1/households/%d/opt-out"
                                  % hb[0]["id"])
        self.assertEqual(status, 403, body)
        # a write without the CSRF header: refused whatever it is
        status, body = self.fetch("POST", "/v1/households/%d/opt-out"
                                  % hb[0]["id"], csrf=False)
        self.assertEqual(status, 403, body)
        self.assertEqual(body["error"]["code"], "csrf")
        status, body = self.fetch("GET", "/v1/groups")
        self.assertEqual(status, 200)
        self.assertEqual([g["code"] for g in body["groups"]], ["2A"])
        # and the manager may send to 2A from the console
        self.go("#/notice/new")
        self.type_in("bf-title", "Cúp nước")
        self.type_in("bf-body", "Mai cúp nước từ 8h đến 11h.")
        # the manager's only group is ticked already
        self.assertTrue(b.find_element(By.ID, "grp-2A").is_selected())
        b.find_element(By.ID, "send-btn").click()
        self.wait_for(EC.url_matches(r"#/broadcasts/\d+$"),
                      "the broadcast page")
        self.wait_state("Hoàn tất")


class TestApproval(ConsoleCase):

    def test_urgent_all_needs_chi(self):
        b = self.browser
        for code, prefix in (("2A", "0914"), ("2B", "0915"),
                             ("dong-tan", "0916"), ("nam-ha", "0917")):
            self.add_households(code, phones(prefix, 300001, 2))

        self.login("binh")
        self.go("#/notice/new")
        self.el("bf-title")
        self.type_in("bf-title", "Cảnh báo lũ")
        text = ("Nước sông dâng cao, đề nghị các hộ ven sông di dời "
                "tài sản.")
        self.type_in("bf-body", text)
        self.text_in("bf-body-count", "%d/2000" % len(text))
        self.assertFalse(b.find_element(By.ID, "bf-approval").is_displayed())
        b.find_element(By.ID, "bf-urgent").click()
        b.find_element(By.ID, "grp-all").click()
        self.assertTrue(b.find_element(By.ID, "bf-approval").is_displayed())
        self.assertFalse(b.find_element(By.ID, "grp-2A").is_enabled())
        b.find_element(By.ID, "send-btn").click()
        self.wait_for(EC.url_matches(r"#/broadcasts/\d+$"),
                      "the broadcast page")
        bid = int(b.current_url.rsplit("/", 1)[1])
        self.wait_state("Chờ duyệt")
        self.assertIn("chờ một cán bộ khác duyệt", self.el("notice").text)
        # binh may not approve his own
        self.assertFalse(self.css("#approve-%d" % bid))
        status, body = self.fetch("POST", "/v1/broadcasts/%d/approve" % bid,
                                  {})
        self.assertEqual(status, 403, body)
        self.assertEqual(body["error"]["code"], "same_person")
        time.sleep(1)
        self.assertEqual(self.bcast(self.d, bid)["state"],
                         "awaiting_approval")
        self.assertEqual(self.sb.messages(), [], "sent before approval")
        self.logout()

        # chi approves it from the approvals page
        self.login("chi")
        self.go("#/approvals")
        card = self.wait_for(EC.visibility_of_element_located(
            (By.CSS_SELECTOR, 'article.approval[data-id="%d"]' % bid)),
            "the broadcast awaiting approval")
        self.assertIn("Cảnh báo lũ", card.text)
        self.assertIn("binh", card.text)
        self.shot("12-approvals")
        b.find_element(By.ID, "approve-%d" % bid).click()
        self.text_in("notice", "Đã duyệt")
        self.el("approvals-none")
        self.go("#/broadcasts/%d" % bid)
        self.wait_state("Hoàn tất")
        body = self.bcast(self.d, bid)
        self.assertEqual(body["approved_by"], "chi")
        self.assertEqual(body["requested_by"], "binh")
        self.assertEqual(body["counts"]["sent"], 8, body)
        self.assertIn("chi", b.find_element(By.CSS_SELECTOR,
                                            "dl.meta").text)
        self.shot("13-approved-done")
        self.logout()

        # the admin's audit log has both, and the users page
        self.login("an")
        self.go("#/audit")
        self.el("audit-table")
        text = b.find_element(By.ID, "audit-table").text
        self.assertIn("POST /v1/broadcasts/*/approve", text)
        self.assertIn("chi", text)
        self.assertNotIn(PASSWORDS["chi"], text)
        self.shot("14-audit")
        self.go("#/users")
        self.el("users-table")
        self.assertEqual(sorted(r[0] for r in self.table_rows("users-table")),
                         ["an", "binh", "chi", "dung"])
        # add a manager of 2B, then disable binh
        self.type_in("us-name", "em")
        self.type_in("us-display", "Em")
        Select(b.find_element(By.ID, "us-role")).select_by_value("manager")
        b.find_element(By.ID, "ug-2B").click()
        self.type_in("us-password", "em-mat-khau-2024")
        b.find_element(By.ID, "us-create").click()
        self.text_in("notice", "em")
        self.wait_for(lambda _: len(self.table_rows("users-table")) == 5,
                      "5 users")
        u = self.ok(self.d.get("/v1/users/em"))
        self.assertEqual((u["role"], u["groups"]), ("manager", ["2B"]))
        row = b.find_element(By.CSS_SELECTOR,
                             '#users-table tr[data-user="binh"]')
        row.find_element(By.TAG_NAME, "button").click()
        self.wait_for(lambda _: "Đã khoá" in b.find_element(
            By.CSS_SELECTOR, '#users-table tr[data-user="binh"]').text,
            "binh disabled")
        self.assertTrue(self.ok(self.d.get("/v1/users/binh"))["disabled"])
        self.shot("15-users")


if __name__ == "__main__":
    print("screenshots: " + SHOTS, file=sys.stderr)
    harness.main()
