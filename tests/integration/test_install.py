#!/usr/bin/env python3
"""`meson install --destdir` lays out every file loaxa installs, and what it
installs fits together: the unit runs the installed loaxad with the
installed configuration path, the sysusers.d file creates the unit's user,
the tmpfiles.d file puts the shipped loaxa.ini in place without ever
replacing an edited one, and the man pages named by the unit are there and
render without warnings.

Environment: MESON_BUILD_ROOT (the build directory; else exit 77),
LOAXA_SRCDIR, MESON (the meson command; else `meson` from PATH).
systemd-sysusers and systemd-tmpfiles run only with --root inside the
temporary DESTDIR; the machine's own files are never touched.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

SKIP = 77
BUILD = os.environ.get("MESON_BUILD_ROOT", "")
SRCDIR = os.environ.get("LOAXA_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MESON = os.environ.get("MESON") or shutil.which("meson")

if not BUILD or not MESON:
    print("MESON_BUILD_ROOT or meson missing: skipping (exit 77)")
    sys.exit(SKIP)


def build_options():
    path = os.path.join(BUILD, "meson-info", "intro-buildoptions.json")
    with open(path, encoding="utf-8") as f:
        return {o["name"]: o["value"] for o in json.load(f)}


def project_version():
    path = os.path.join(BUILD, "meson-info", "intro-projectinfo.json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)["version"]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, **kw)


class Install(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="loaxa-install-", dir="/tmp")
        cls.dest = os.path.join(cls.tmp, "dest")
        p = run([MESON, "install", "-C", BUILD, "--destdir", cls.dest,
                 "--no-rebuild", "--quiet"])
        if p.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError("meson install failed (%d):\n%s\n%s"
                                 % (p.returncode, p.stdout, p.stderr))
        o = build_options()
        prefix = o["prefix"]
        cls.dirs = {k: os.path.join(prefix, o[k]) for k in
                    ("bindir", "sbindir", "sysconfdir", "datadir",
                     "mandir")}
        cls.dirs["unit"] = os.path.join(prefix, "lib", "systemd", "system")
        cls.dirs["sysusers"] = os.path.join(prefix, "lib", "sysusers.d")
        cls.dirs["tmpfiles"] = os.path.join(prefix, "lib", "tmpfiles.d")

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("LOAXA_KEEP_TMP"):
            print("kept " + cls.tmp, file=sys.stderr)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def d(self, path):
        """path (absolute, as installed) inside DESTDIR."""
        assert os.path.isabs(path), path
        return os.path.join(self.dest, path.lstrip("/"))

    def path(self, dirname, *parts):
        return os.path.join(self.dirs[dirname], *parts)

    def read(self, path):
        with open(self.d(path), encoding="utf-8") as f:
            return f.read()

    # ---- layout ----

    def test_every_expected_file(self):
        executables = [self.path("sbindir", "loaxad"),
                       self.path("bindir", "loaxa"),
                       self.path("bindir", "loaxa-sandbox")]
        files = [
            self.path("unit", "loaxad.service"),
            self.path("sysusers", "loaxa.conf"),
            self.path("tmpfiles", "loaxa.conf"),
            self.path("datadir", "loaxa", "loaxa.ini.example"),
            self.path("mandir", "man1", "loaxa.1"),
            self.path("mandir", "man1", "loaxa-sandbox.1"),
            self.path("mandir", "man5", "loaxa.ini.5"),
            self.path("mandir", "man8", "loaxad.8"),
            self.path("datadir", "bash-completion", "completions",
                      "loaxa"),
        ]
        missing = [f for f in executables + files
                   if not os.path.isfile(self.d(f))]
        self.assertEqual(missing, [])
        for f in executables:
            mode = os.stat(self.d(f)).st_mode
            self.assertTrue(mode & stat.S_IXOTH, "%s: %o" % (f, mode))
        for f in files:
            mode = os.stat(self.d(f)).st_mode
            self.assertEqual(mode & 0o7133, 0, "%s: %o" % (f, mode))

    def test_nothing_else_installed(self):
        """Every installed file is one this test knows; in particular
        nothing lands in sysconfdir, where it would replace a live
        configuration."""
        found = []
        for root, _, names in os.walk(self.dest):
            for n in names:
                found.append("/" + os.path.relpath(os.path.join(root, n),
                                                   self.dest))
        self.assertEqual(
            [f for f in found if f.startswith(self.dirs["sysconfdir"] + "/")],
            [])
        known = {
            self.path("sbindir", "loaxad"), self.path("bindir", "loaxa"),
            self.path("bindir", "loaxa-sandbox"),
            self.path("unit", "loaxad.service"),
            self.path("sysusers", "loaxa.conf"),
            self.path("tmpfiles", "loaxa.conf"),
            self.path("datadir", "loaxa", "loaxa.ini.example"),
            self.path("mandir", "man1", "loaxa.1"),
            self.path("mandir", "man1", "loaxa-sandbox.1"),
            self.path("mandir", "man5", "loaxa.ini.5"),
            self.path("mandir", "man8", "loaxad.8"),
            self.path("datadir", "bash-completion", "completions", "loaxa"),
        }
        self.assertEqual(sorted(set(found) - known), [],
                         "installed files this test does not know: add "
                         "them to the lists above")

    def test_config_example_is_the_shipped_file(self):
        with open(os.path.join(SRCDIR, "etc", "loaxa.ini"), "rb") as f:
            shipped = f.read()
        with open(self.d(self.path("datadir", "loaxa",
                                   "loaxa.ini.example")), "rb") as f:
            self.assertEqual(f.read(), shipped)

    # ---- the unit ----

    def unit_lines(self):
        return [line.strip() for line in
                self.read(self.path("unit", "loaxad.service")).splitlines()
                if line.strip() and not line.startswith(("#", ";"))]

    def exec_start(self):
        lines = [x for x in self.unit_lines() if x.startswith("ExecStart=")]
        self.assertEqual(len(lines), 1, lines)
        return lines[0][len("ExecStart="):].split()

    def test_unit_runs_the_installed_loaxad(self):
        argv = self.exec_start()
        self.assertEqual(argv[0], self.path("sbindir", "loaxad"))
        binary = self.d(argv[0])
        self.assertTrue(os.path.isfile(binary), binary)
        self.assertTrue(os.access(binary, os.X_OK), binary)
        # and it is the loaxad of this build
        p = run([binary, "--version"])
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(p.stdout.strip(), "loaxad " + project_version())
        self.assertEqual(argv[1:], ["--config",
                                    self.path("sysconfdir", "loaxa",
                                              "loaxa.ini")])
        reload_ = [x for x in self.unit_lines()
                   if x.startswith("ExecReload=")]
        self.assertEqual(reload_, ["ExecReload=/bin/kill -HUP $MAINPID"])
        self.assertTrue(os.access("/bin/kill", os.X_OK))

    def test_unit_documentation_installed(self):
        docs = [x for x in self.unit_lines()
                if x.startswith("Documentation=")]
        self.assertEqual(len(docs), 1, docs)
        pages = docs[0][len("Documentation="):].split()
        self.assertEqual(len(pages), 3, pages)
        for page in pages:
            m = re.fullmatch(r"man:([a-z.-]+)\((\d)\)", page)
            self.assertTrue(m, page)
            path = self.path("mandir", "man" + m.group(2),
                             "%s.%s" % (m.group(1), m.group(2)))
            self.assertTrue(os.path.isfile(self.d(path)), path)

    # ---- sysusers.d and tmpfiles.d, applied inside DESTDIR ----

    def apply_sysusers(self, root):
        tool = shutil.which("systemd-sysusers")
        if not tool:
            self.skipTest("systemd-sysusers not installed")
        os.makedirs(os.path.join(root, "etc"), exist_ok=True)
        p = run([tool, "--root=" + root,
                 self.d(self.path("sysusers", "loaxa.conf"))])
        if p.returncode != 0 and os.geteuid() != 0:
            self.skipTest("systemd-sysusers --root needs root here: "
                          + p.stderr.strip())
        self.assertEqual(p.returncode, 0, p)

    def apply_tmpfiles(self, root):
        tool = shutil.which("systemd-tmpfiles")
        if not tool:
            self.skipTest("systemd-tmpfiles not installed")
        p = run([tool, "--root=" + root, "--create",
                 self.d(self.path("tmpfiles", "loaxa.conf"))])
        self.assertEqual(p.returncode, 0, p)

    def fresh_root(self):
        """A copy of the DESTDIR tree to apply the files to."""
        root = tempfile.mkdtemp(prefix="root-", dir=self.tmp)
        shutil.copytree(self.dest, root, dirs_exist_ok=True, symlinks=True)
        return root

    def test_sysusers_creates_the_unit_user(self):
        root = self.fresh_root()
        self.apply_sysusers(root)
        with open(os.path.join(root, "etc", "passwd")) as f:
            users = {line.split(":")[0]: line.rstrip("\n").split(":")
                     for line in f if line.strip()}
        with open(os.path.join(root, "etc", "group")) as f:
            groups = {line.split(":")[0] for line in f if line.strip()}
        self.assertIn("loaxa", users)
        self.assertIn("loaxa", groups)
        self.assertNotEqual(users["loaxa"][2], "0")          # not root
        self.assertEqual(users["loaxa"][5], "/var/lib/loaxa")
        self.assertIn("nologin", users["loaxa"][6])
        unit = self.unit_lines()
        self.assertIn("User=loaxa", unit)
        self.assertIn("Group=loaxa", unit)

    def test_tmpfiles_installs_config_once(self):
        root = self.fresh_root()
        self.apply_sysusers(root)        # the d line names user loaxa
        self.apply_tmpfiles(root)
        config = self.exec_start()[2]
        live = os.path.join(root, config.lstrip("/"))
        with open(os.path.join(SRCDIR, "etc", "loaxa.ini"), "rb") as f:
            shipped = f.read()
        with open(live, "rb") as f:
            self.assertEqual(f.read(), shipped)
        state = os.path.join(root, "var", "lib", "loaxa")
        st = os.stat(state)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o750)

        # an edited configuration is never replaced
        with open(live, "ab") as f:
            f.write(b"; edited by the commune\n")
        self.apply_tmpfiles(root)
        with open(live, "rb") as f:
            self.assertEqual(f.read(),
                             shipped + b"; edited by the commune\n")

        # and the installed loaxad accepts the installed configuration
        loaxad = self.d(self.path("sbindir", "loaxad"))
        p = run([loaxad, "--config", live, "--check-config"])
        self.assertEqual(p.returncode, 0, p)

    # ---- man pages ----

    def man_pages(self):
        return [self.path("mandir", "man1", "loaxa.1"),
                self.path("mandir", "man1", "loaxa-sandbox.1"),
                self.path("mandir", "man5", "loaxa.ini.5"),
                self.path("mandir", "man8", "loaxad.8")]

    def test_man_pages_substituted(self):
        version = project_version()
        for page in self.man_pages()[2:]:
            text = self.read(page)
            self.assertNotRegex(text, r"@[A-Z_]+@", page)
            m = re.search(r'(?m)^\.TH \S+ \d "([^"]+)" "loaxa ([^"]+)"',
                          text)
            self.assertTrue(m, page)
            self.assertEqual(m.group(2), version, page)
            self.assertRegex(m.group(1), r"^(\d{4}-\d\d-\d\d|unknown date)$")
        # the paths the pages give are the installed ones
        text = self.read(self.path("mandir", "man8", "loaxad.8"))
        for f in (self.path("unit", "loaxad.service"),
                  self.path("datadir", "loaxa", "loaxa.ini.example"),
                  self.path("sysusers", "loaxa.conf"),
                  self.path("tmpfiles", "loaxa.conf")):
            self.assertIn(f, text.replace("\\-", "-"))

    def test_man_pages_render_cleanly(self):
        groff = shutil.which("groff")
        if not groff:
            self.skipTest("groff not installed")
        env = dict(os.environ, LC_ALL="C.UTF-8")
        for page in self.man_pages():
            p = run([groff, "-K", "utf8", "-Tutf8", "-t", "-man", "-ww",
                     "-z", self.d(page)], env=env)
            self.assertEqual((p.returncode, p.stderr), (0, ""), page)

    def test_man_pages_have_whatis(self):
        lexgrog = shutil.which("lexgrog")
        if not lexgrog:
            self.skipTest("lexgrog (man-db) not installed")
        for page in self.man_pages():
            p = run([lexgrog, self.d(page)])
            self.assertEqual(p.returncode, 0, p)
            name = os.path.basename(page).rsplit(".", 1)[0]
            self.assertIn('"%s - ' % name, p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
