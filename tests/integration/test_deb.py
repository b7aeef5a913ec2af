"""The Debian package: built from this tree, installed, upgraded, purged.

Run by meson (suites 'integration' and 'slow') as
``python3 tests/integration/test_deb.py`` with LOAXA_SRCDIR set; by hand
it finds the tree from its own path. It needs dpkg-buildpackage and the
build dependencies in debian/control: scripts/deps.sh installs them, and a
missing tool is a failure here, not a skip.

1. The tree (git's files, tracked and untracked but not ignored) is copied
   into a temporary directory and built there with
   ``dpkg-buildpackage -us -uc -b``, which writes the .deb next to the copy
   and so never next to the real checkout.
2. The .deb's file list, control fields, conffiles and maintainer scripts
   are checked, and the packaged loaxad validates the packaged loaxa.ini.
3. The package is installed into a throwaway root with
   ``dpkg --root=ROOT --force-script-chrootless``: dpkg runs the real
   maintainer scripts on this machine with DPKG_ROOT=ROOT, and the tools
   they call honour it (systemd-sysusers --root and systemd-tmpfiles
   --root write ROOT/etc/passwd and ROOT/var/lib/loaxa, deb-systemd-helper
   writes the enable symlink under ROOT/etc/systemd). ROOT has a
   policy-rc.d that denies starting services, so deb-systemd-invoke never
   starts anything, and the package's dependencies are not installed in
   ROOT (--force-depends): they are this machine's libraries.
   Then: the installed loaxad and loaxa run with the installed loaxa.ini
   (paths moved into a temporary directory); an upgrade replaces an
   unchanged conffile; an upgrade keeps an edited conffile (the new one
   lands as loaxa.ini.dpkg-dist); remove keeps the conffile and the
   database; purge removes both and the enable symlink.

What a real "apt install ./loaxa_*.deb" on a running Debian 12 adds, which
a fake root cannot show: apt installs the dependencies; systemd-sysusers
and systemd-tmpfiles work on the real /etc/passwd and /var/lib;
"systemctl daemon-reload" and "deb-systemd-invoke start loaxad.service"
run because /run/systemd/system exists, so loaxad is running (as user
loaxa, socket /run/loaxa/api.sock) when apt returns. No test here starts
systemd.

Set LOAXA_KEEP_TMP=1 to keep the temporary directory.
"""

import grp
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

SRCDIR = os.environ.get("LOAXA_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VERSION = "0.1.0-1"
BUILD_TIMEOUT = 600

# Every file the package must hold (a unit may be in either directory).
REQUIRED = [
    "/usr/sbin/loaxad",
    "/usr/bin/loaxa",
    "/usr/bin/loaxa-sandbox",
    "/usr/lib/sysusers.d/loaxa.conf",
    "/usr/lib/tmpfiles.d/loaxa.conf",
    "/etc/loaxa/loaxa.ini",
    "/usr/share/loaxa/loaxa.ini.example",
    "/usr/share/man/man1/loaxa.1.gz",
    "/usr/share/man/man1/loaxa-sandbox.1.gz",
    "/usr/share/man/man5/loaxa.ini.5.gz",
    "/usr/share/man/man8/loaxad.8.gz",
    "/usr/share/bash-completion/completions/loaxa",
    "/usr/share/doc/loaxa/copyright",
    "/usr/share/doc/loaxa/changelog.Debian.gz",
]
UNIT_DIRS = ["/lib/systemd/system", "/usr/lib/systemd/system"]
CONFFILE = "/etc/loaxa/loaxa.ini"
WANTS = "/etc/systemd/system/multi-user.target.wants/loaxad.service"

# Build products never copied from the tree (an in-tree build leaves them).
SKIP_TOP = re.compile(r"^(\.git|build[^/]*|obj-[^/]*)(/|$)")
SKIP_ANY = re.compile(r"(^|/)(__pycache__)(/|$)|\.pyc$")
SKIP_DEBIAN = re.compile(
    r"^debian/(\.debhelper|loaxa|tmp)(/|$)|^debian/(files|"
    r"debhelper-build-stamp|.*\.substvars|.*\.debhelper(\.log)?)$")


def clean_env(home):
    """The environment for dpkg: none of meson test's or a developer's
    compiler settings, a fixed locale."""
    env = {
        "PATH": os.environ.get(
            "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
            "/sbin:/bin"),
        "HOME": home,
        "LC_ALL": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
    }
    for sbin in ("/usr/sbin", "/sbin"):
        if sbin not in env["PATH"].split(":"):
            env["PATH"] += ":" + sbin
    return env


def tree_files(src):
    """Relative paths of the tree's files: git's view (tracked, plus
    untracked files that are not ignored) or, without git, a walk."""
    names = None
    if os.path.isdir(os.path.join(src, ".git")) and shutil.which("git"):
        r = subprocess.run(
            ["git", "-C", src, "ls-files", "-z", "--cached", "--others",
             "--exclude-standard"], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            names = [n for n in r.stdout.decode().split("\0") if n]
    if names is None:
        names = []
        for d, dirs, files in os.walk(src):
            rel = os.path.relpath(d, src)
            rel = "" if rel == "." else rel + "/"
            dirs[:] = [x for x in dirs
                       if not SKIP_TOP.match(rel + x) or rel]
            names += [rel + f for f in files]
    return sorted(n for n in names
                  if not SKIP_TOP.match(n) and not SKIP_ANY.search(n)
                  and not SKIP_DEBIAN.match(n)
                  and os.path.lexists(os.path.join(src, n)))


def copy_tree(src, dst):
    for n in tree_files(src):
        s = os.path.join(src, n)
        d = os.path.join(dst, n)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        if os.path.islink(s):
            os.symlink(os.readlink(s), d)
        else:
            shutil.copy2(s, d)


def run(argv, env, timeout=120, check=True, **kw):
    r = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout, **kw)
    out = r.stdout.decode("utf-8", "replace")
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s"
                             % (" ".join(argv), r.returncode, out[-4000:]))
    return r.returncode, out


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


class Build:
    """The one package build that every test uses."""
    tmp = None
    deb = None
    error = None
    log = None


def setUpModule():
    missing = [t for t in ("dpkg-buildpackage", "dpkg-deb", "dpkg",
                           "dh", "meson", "ninja")
               if shutil.which(t) is None]
    if missing:
        Build.error = ("missing %s: run scripts/deps.sh (it installs "
                       "debhelper, dpkg-dev and the build dependencies)"
                       % ", ".join(missing))
        return
    Build.tmp = tempfile.mkdtemp(prefix="loaxa-deb-", dir="/tmp")
    src = os.path.join(Build.tmp, "loaxa")
    os.mkdir(src)
    home = os.path.join(Build.tmp, "home")
    os.mkdir(home)
    copy_tree(SRCDIR, src)
    if not os.path.isfile(os.path.join(src, "debian", "control")):
        Build.error = "no debian/control in " + SRCDIR
        return
    Build.log = os.path.join(Build.tmp, "build.log")
    t0 = time.monotonic()
    with open(Build.log, "wb") as log:
        try:
            r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"],
                               cwd=src, env=clean_env(home),
                               stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT,
                               timeout=BUILD_TIMEOUT)
            rc = r.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout after %d s" % BUILD_TIMEOUT
    if rc != 0:
        # Once, with each line cut (compiler command lines are long).
        lines = read(Build.log, "rb").decode("utf-8", "replace").splitlines()
        print("dpkg-buildpackage log ends:\n"
              + "\n".join(l[:240] for l in lines[-40:]))
        Build.error = "dpkg-buildpackage failed: %s (log above)" % rc
        return
    print("dpkg-buildpackage: %.0f s" % (time.monotonic() - t0))
    arch = run(["dpkg", "--print-architecture"], clean_env(home))[1].strip()
    Build.deb = os.path.join(Build.tmp, "loaxa_%s_%s.deb" % (VERSION, arch))
    if not os.path.isfile(Build.deb):
        Build.error = ("no %s after the build; made: %s"
                       % (os.path.basename(Build.deb),
                          sorted(os.listdir(Build.tmp))))


def tearDownModule():
    if Build.tmp and not os.environ.get("LOAXA_KEEP_TMP"):
        shutil.rmtree(Build.tmp, ignore_errors=True)
    elif Build.tmp:
        print("kept " + Build.tmp)


class DebTest(unittest.TestCase):
    def setUp(self):
        if Build.error:
            self.fail(Build.error)
        self.env = clean_env(os.path.join(Build.tmp, "home"))

    def scratch(self, name):
        d = tempfile.mkdtemp(prefix=name + "-", dir=Build.tmp)
        return d


class TestPackage(DebTest):
    """The .deb as built: files, fields, scripts."""

    def contents(self):
        out = run(["dpkg-deb", "-c", Build.deb], self.env)[1]
        paths = {}
        for line in out.splitlines():
            # drwxr-xr-x root/root 0 2026-11-29 04:40 ./usr/bin/loaxa
            f = line.split(None, 5)
            self.assertEqual(len(f), 6, line)
            path = f[5].split(" -> ")[0]
            self.assertTrue(path.startswith("./"), line)
            paths[path[1:].rstrip("/") or "/"] = (f[0], f[1])
        return paths

    def test_files(self):
        paths = self.contents()
        for p in REQUIRED:
            self.assertTrue(p in paths, "%s is not in the package" % p)
            self.assertEqual(paths[p][1], "root/root", p)
        for p in ("/usr/sbin/loaxad", "/usr/bin/loaxa",
                  "/usr/bin/loaxa-sandbox"):
            self.assertEqual(paths[p][0], "-rwxr-xr-x", p)
        self.assertEqual(paths[CONFFILE][0], "-rw-r--r--")
        units = [d + "/loaxad.service" for d in UNIT_DIRS
                 if d + "/loaxad.service" in paths]
        self.assertEqual(len(units), 1, "loaxad.service: %s" % units)
        # Nothing from the build or the tests, nothing under /usr/local.
        for p in paths:
            self.assertFalse(p.startswith("/usr/local"), p)
            self.assertNotIn("test", os.path.basename(p), p)
            self.assertFalse(p.startswith("/var/lib/loaxa"), p)

    def test_fields(self):
        def field(name):
            return run(["dpkg-deb", "-f", Build.deb, name],
                       self.env)[1].strip()
        self.assertEqual(field("Package"), "loaxa")
        self.assertEqual(field("Version"), VERSION)
        self.assertEqual(field("Maintainer"),
                         "loaxa developers <dev@loaxa.invalid>")
        deps = field("Depends")
        for lib in ("libc6", "libuv1", "libcurl4", "libsqlite3-0",
                    "libinih1", "libjansson4", "libmicrohttpd12",
                    "libsystemd0", "libssl3"):
            self.assertRegex(deps, r"(^|, )%s( |,|$)" % re.escape(lib),
                             "Depends lacks %s: %s" % (lib, deps))
        # dh_installsysusers' dependency: something runs systemd-sysusers.
        self.assertIn("systemd | systemd-standalone-sysusers", deps)
        # /bin/kill: the unit's ExecReload= (a minimal system lacks it).
        self.assertRegex(deps, r"(^|, )procps(,|$)")
        self.assertNotIn("cmocka", deps)

    def control_file(self, name):
        d = self.scratch("control")
        run(["dpkg-deb", "-e", Build.deb, d], self.env)
        p = os.path.join(d, name)
        return read(p) if os.path.exists(p) else None

    def test_conffiles(self):
        self.assertEqual(self.control_file("conffiles"), CONFFILE + "\n")

    def test_maintainer_scripts(self):
        postinst = self.control_file("postinst")
        self.assertIsNotNone(postinst, "no postinst")
        # In this order: the user before the directories it owns, both
        # before the service that runs as it.
        i_users = postinst.find("systemd-sysusers")
        i_tmp = postinst.find("systemd-tmpfiles")
        i_enable = postinst.find("deb-systemd-helper enable 'loaxad.service'")
        i_start = postinst.find("deb-systemd-invoke $_dh_action 'loaxad."
                                "service'")
        self.assertTrue(0 <= i_users < i_tmp < i_enable < i_start,
                        postinst)
        self.assertRegex(postinst, r"systemd-sysusers .*loaxa\.conf")
        self.assertRegex(postinst, r"systemd-tmpfiles .*--create loaxa\.conf")
        prerm = self.control_file("prerm")
        self.assertIn("deb-systemd-invoke stop 'loaxad.service'", prerm)
        postrm = self.control_file("postrm")
        self.assertIn("deb-systemd-helper purge 'loaxad.service'", postrm)
        for name, text in (("postinst", postinst), ("prerm", prerm),
                           ("postrm", postrm)):
            rc, out = run(["sh", "-n", "-c", text], self.env, check=False)
            self.assertEqual(rc, 0, "%s: %s" % (name, out))

    def test_shipped_binaries_and_config(self):
        root = self.scratch("x")
        run(["dpkg-deb", "-x", Build.deb, root], self.env)
        ini = root + CONFFILE
        self.assertEqual(read(ini, "rb"),
                         read(os.path.join(SRCDIR, "etc", "loaxa.ini"), "rb"))
        self.assertEqual(read(ini, "rb"),
                         read(root + "/usr/share/loaxa/loaxa.ini.example",
                              "rb"))
        for exe in ("/usr/sbin/loaxad", "/usr/bin/loaxa",
                    "/usr/bin/loaxa-sandbox"):
            out = run([root + exe, "--version"], self.env)[1]
            self.assertEqual(out.strip(),
                             "%s %s" % (os.path.basename(exe),
                                        VERSION.split("-")[0]))
        rc, out = run([root + "/usr/sbin/loaxad", "--check-config",
                       "--config", ini], self.env, check=False)
        self.assertEqual((rc, out.strip()), (0, "configuration OK"))
        # The unit runs what the package installs, with its config.
        unit = [root + d + "/loaxad.service" for d in UNIT_DIRS
                if os.path.exists(root + d + "/loaxad.service")][0]
        text = read(unit)
        self.assertIn("\nExecStart=/usr/sbin/loaxad --config "
                      "/etc/loaxa/loaxa.ini\n", text)
        self.assertIn("\nUser=loaxa\n", text)
        self.assertIn("\nWantedBy=multi-user.target\n", text)
        self.assertIn("u loaxa - ", read(root +
                                         "/usr/lib/sysusers.d/loaxa.conf"))
        # Pages name the installed paths, not meson's default /usr/local.
        man = run(["sh", "-c", "zcat %s/usr/share/man/man8/loaxad.8.gz"
                   % root], self.env)[1]
        self.assertNotIn("/usr/local", man)

    def test_lintian(self):
        if shutil.which("lintian") is None:
            self.skipTest("lintian is not installed")
        rc, out = run(["lintian", "--fail-on", "error", "--no-tag-display-"
                       "limit", Build.deb], self.env, timeout=300,
                      check=False)
        tags = [line for line in out.splitlines()
                if re.match(r"^[EWIPX]: ", line)]
        if tags:
            print("lintian:\n  " + "\n  ".join(tags))
        self.assertEqual([t for t in tags if t.startswith("E:")], [])
        self.assertEqual(rc, 0, out)

    def test_nothing_next_to_checkout(self):
        parent = os.path.dirname(os.path.abspath(SRCDIR))
        for name in os.listdir(parent):
            if name.startswith("loaxa_") and name.endswith(
                    (".deb", ".changes", ".buildinfo")):
                made = os.path.getmtime(os.path.join(parent, name))
                self.assertLess(made, os.path.getmtime(Build.deb),
                                "%s/%s: written by this build?"
                                % (parent, name))


class TestInstall(DebTest):
    """Install, upgrade, remove and purge in a throwaway root."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("dpkg --root needs root to set owners")
        self.root = self.scratch("root")
        for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log",
                  "etc", "usr/sbin"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        for f in ("var/lib/dpkg/status", "var/lib/dpkg/available"):
            open(os.path.join(self.root, f), "w").close()
        # Debian's way to keep maintainer scripts from starting services:
        # deb-systemd-invoke asks $DPKG_ROOT/usr/sbin/policy-rc.d.
        policy = os.path.join(self.root, "usr/sbin/policy-rc.d")
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)

    def r(self, path):
        return self.root + path

    def dpkg(self, *args):
        return run(["dpkg", "--root=" + self.root,
                    "--log=" + self.r("/var/log/dpkg.log"),
                    "--force-script-chrootless", "--force-depends",
                    "--force-unsafe-io"] + list(args), self.env,
                   timeout=120)[1]

    def status(self):
        rc, out = run(["dpkg", "--root=" + self.root, "-s", "loaxa"],
                      self.env, check=False)
        return out if rc == 0 else ""

    def passwd_entry(self, name):
        try:
            text = read(self.r("/etc/passwd"))
        except FileNotFoundError:
            return None
        lines = [l for l in text.splitlines()
                 if l.split(":")[0] == name]
        self.assertLessEqual(len(lines), 1, text)
        return lines[0].split(":") if lines else None

    def repack(self, version, ini_extra):
        """The built package as VERSION, its loaxa.ini with ini_extra
        appended: an upgrade whose conffile changed."""
        d = self.scratch("repack")
        tree = os.path.join(d, "tree")
        run(["dpkg-deb", "-R", Build.deb, tree], self.env)
        ini = tree + CONFFILE
        with open(ini, "a", encoding="utf-8") as f:
            f.write(ini_extra)
        ctl = os.path.join(tree, "DEBIAN", "control")
        text = read(ctl)
        self.assertIn("\nVersion: %s\n" % VERSION, text)
        with open(ctl, "w") as f:
            f.write(text.replace("\nVersion: %s\n" % VERSION,
                                 "\nVersion: %s\n" % version))
        sums = os.path.join(tree, "DEBIAN", "md5sums")
        lines = []
        for line in read(sums).splitlines():
            h, p = line.split("  ", 1)
            if "/" + p == CONFFILE:
                h = md5(ini)
            lines.append(h + "  " + p)
        with open(sums, "w") as f:
            f.write("\n".join(lines) + "\n")
        out = os.path.join(d, "loaxa_%s.deb" % version)
        run(["dpkg-deb", "--root-owner-group", "-b", tree, out], self.env)
        return out, read(ini, "rb")

    def host_state(self):
        """What a fake-root install must not change on this machine."""
        try:
            user = pwd.getpwnam("loaxa")
        except KeyError:
            user = None
        try:
            group = grp.getgrnam("loaxa")
        except KeyError:
            group = None
        return (user, group, os.path.lexists(WANTS),
                os.path.lexists(CONFFILE), os.path.lexists(
                    "/var/lib/systemd/deb-systemd-helper-enabled/"
                    "loaxad.service.dsh-also"))

    def check_installed(self, version):
        st = self.status()
        self.assertIn("\nStatus: install ok installed\n", st)
        self.assertIn("\nVersion: %s\n" % version, st)
        for p in REQUIRED:
            self.assertTrue(os.path.exists(self.r(p)), p)
        # The user and group, from sysusers.d.
        user = self.passwd_entry("loaxa")
        self.assertIsNotNone(user, "systemd-sysusers made no user loaxa")
        self.assertEqual(user[5], "/var/lib/loaxa")
        self.assertIn(user[6], ("/usr/sbin/nologin", "/sbin/nologin"))
        uid = int(user[2])
        self.assertLess(uid, 1000, "loaxa is not a system user")
        groups = [l.split(":") for l in read(self.r("/etc/group"))
                  .splitlines()]
        gid = [int(g[2]) for g in groups if g[0] == "loaxa"]
        self.assertEqual(gid, [int(user[3])])
        # The state directory, from tmpfiles.d.
        st = os.lstat(self.r("/var/lib/loaxa"))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777),
                         (uid, gid[0], 0o750))
        # Enabled: the symlink systemd follows at boot, into the unit.
        link = self.r(WANTS)
        self.assertTrue(os.path.islink(link), "loaxad.service not enabled")
        target = os.readlink(link)
        self.assertIn(os.path.dirname(target), UNIT_DIRS)
        self.assertTrue(os.path.isfile(self.r(target)), target)
        return uid, gid[0]

    def conffile_md5(self):
        m = re.search(r"\nConffiles:\n \S+ ([0-9a-f]{32})", self.status())
        self.assertIsNotNone(m, self.status())
        return m.group(1)

    def smoke(self):
        """The installed loaxad with the installed loaxa.ini (its paths
        moved here), asked by the installed loaxa."""
        d = self.scratch("run")
        state = os.path.join(d, "state")
        os.mkdir(state)
        sock = os.path.join(d, "api.sock")
        text = read(self.r(CONFFILE))
        text, n1 = re.subn(r"(?m)^;state_dir = /var/lib/loaxa$",
                           "state_dir = " + state, text)
        text, n2 = re.subn(r"(?m)^;socket = /run/loaxa/api.sock$",
                           "socket = " + sock, text)
        self.assertEqual((n1, n2), (1, 1), "loaxa.ini defaults moved?")
        ini = os.path.join(d, "loaxa.ini")
        with open(ini, "w", encoding="utf-8") as f:
            f.write(text)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify_path = os.path.join(d, "notify.sock")
        notify.bind(notify_path)
        env = dict(self.env, NOTIFY_SOCKET=notify_path)
        log = open(os.path.join(d, "loaxad.log"), "wb")
        proc = subprocess.Popen([self.r("/usr/sbin/loaxad"), "--config",
                                 ini], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=d)
        try:
            notify.settimeout(10)
            ready = False
            deadline = time.monotonic() + 10
            while not ready and time.monotonic() < deadline:
                try:
                    msg = notify.recv(65536).decode("utf-8", "replace")
                except socket.timeout:
                    break
                ready = "READY=1" in msg.split("\n")
            self.assertTrue(ready, "no READY=1: "
                            + read(os.path.join(d, "loaxad.log")))
            out = run([self.r("/usr/bin/loaxa"), "--socket", sock,
                       "groups"], self.env)[1]
            for code in ("2A", "2B", "dong-tan", "nam-ha"):
                self.assertIn(code, out)
            out = run([self.r("/usr/bin/loaxa"), "--socket", sock,
                       "status"], self.env)[1]
            self.assertIn("0.1.0", out)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
            notify.close()
        self.assertTrue(os.path.isfile(os.path.join(state, "loaxa.db")))

    def test_lifecycle(self):
        before = self.host_state()
        shipped = read(os.path.join(SRCDIR, "etc", "loaxa.ini"), "rb")

        # Install.
        self.dpkg("-i", Build.deb)
        uid, gid = self.check_installed(VERSION)
        self.assertEqual(read(self.r(CONFFILE), "rb"), shipped)
        self.assertEqual(self.conffile_md5(), md5(self.r(CONFFILE)))
        self.smoke()

        # Upgrade, loaxa.ini untouched: dpkg puts the new one in place.
        deb2, ini2 = self.repack("0.1.0-2", "; new in 0.1.0-2\n")
        self.dpkg("-i", deb2)
        self.check_installed("0.1.0-2")
        self.assertEqual(read(self.r(CONFFILE), "rb"), ini2)
        self.assertEqual(self.conffile_md5(), md5(self.r(CONFFILE)))
        self.assertEqual(self.check_installed("0.1.0-2"), (uid, gid))

        # The commune office edits loaxa.ini; the next upgrade, whose
        # loaxa.ini changed too, keeps the edit (as apt does with
        # --force-confold; without it dpkg asks) and leaves the new file
        # beside it.
        edited = ini2.replace(b"\n;log_level = info\n",
                              b"\nlog_level = notice\n")
        self.assertNotEqual(edited, ini2)
        with open(self.r(CONFFILE), "wb") as f:
            f.write(edited)
        deb3, ini3 = self.repack("0.1.0-3", "; new in 0.1.0-3\n")
        self.dpkg("--force-confold", "-i", deb3)
        self.check_installed("0.1.0-3")
        self.assertEqual(read(self.r(CONFFILE), "rb"), edited)
        self.assertEqual(read(self.r(CONFFILE + ".dpkg-dist"), "rb"), ini3)
        # dpkg registers the hash of the version it shipped, so the next
        # upgrade still knows the file was edited.
        self.assertEqual(self.conffile_md5(), hashlib.md5(ini3).hexdigest())
        rc, out = run([self.r("/usr/sbin/loaxad"), "--check-config",
                       "--config", self.r(CONFFILE)], self.env, check=False)
        self.assertEqual(rc, 0, out)

        # Remove: programs gone; configuration and database stay.
        with open(self.r("/var/lib/loaxa/loaxa.db"), "wb") as f:
            f.write(b"SQLite format 3\0")
        self.dpkg("-r", "loaxa")
        self.assertIn("\nStatus: deinstall ok config-files\n",
                      self.status())
        for p in ("/usr/sbin/loaxad", "/usr/bin/loaxa",
                  "/usr/lib/sysusers.d/loaxa.conf"):
            self.assertFalse(os.path.exists(self.r(p)), p)
        for d in UNIT_DIRS:
            self.assertFalse(os.path.exists(self.r(d + "/loaxad.service")))
        self.assertEqual(read(self.r(CONFFILE), "rb"), edited)
        self.assertTrue(os.path.exists(self.r("/var/lib/loaxa/loaxa.db")))

        # Purge: the configuration, the database and the enable symlink
        # go; the system user stays (Debian's practice).
        self.dpkg("-P", "loaxa")
        self.assertEqual(self.status(), "")
        for p in (CONFFILE, CONFFILE + ".dpkg-dist", "/etc/loaxa",
                  "/var/lib/loaxa", WANTS,
                  "/var/lib/systemd/deb-systemd-helper-enabled/"
                  "loaxad.service.dsh-also"):
            self.assertFalse(os.path.lexists(self.r(p)), p)
        self.assertIsNotNone(self.passwd_entry("loaxa"))

        # Nothing of this happened on this machine.
        self.assertEqual(self.host_state(), before)


# Run as root in the chroot, in a scratch mount and pid namespace: its /proc
# (systemd-tmpfiles needs one) and every process it starts end with it.
CHROOT_DAEMON = r"""
set -eu
install -d -m 0750 -o loaxa -g loaxa /run/loaxa    # RuntimeDirectory=
(umask 077; exec setpriv --reuid=loaxa --regid=loaxa --init-groups \
	/usr/sbin/loaxad --config /etc/loaxa/loaxa.ini) >/tmp/loaxad.log 2>&1 &
pid=$!
i=0
while [ ! -S /run/loaxa/api.sock ] && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
cat /tmp/loaxad.log
loaxa status
useradd -m clerk && usermod -aG loaxa clerk && useradd -m stranger
su clerk -c "loaxa groups"
if su stranger -c "loaxa groups" 2>/tmp/stranger.err; then
	echo "stranger was let in"; exit 1
fi
cat /tmp/stranger.err
ls -ln /var/lib/loaxa
kill -TERM $pid
wait $pid
echo "loaxad exit $?"
"""


class TestChroot(DebTest):
    """Opt-in (LOAXA_TEST_CHROOT=1; root, debootstrap and the Debian
    mirror; about two minutes): "apt install ./loaxa_*.deb" in a fresh
    minimal Debian 12 made by debootstrap, as a commune office does it,
    then loaxad as user loaxa with the installed configuration and paths
    (systemd is not started: its RuntimeDirectory= is made by hand), the
    loaxa command as a member of group loaxa and as a stranger, and
    "apt purge". LOAXA_TEST_MIRROR overrides the mirror."""

    def in_chroot(self, root, script, timeout=300):
        return run(["unshare", "--mount", "--pid", "--fork",
                    "--propagation", "private", "sh", "-c",
                    'mount -t proc proc "$0/proc" && '
                    'exec chroot "$0" sh -c "$1"', root, script],
                   dict(self.env, PATH="/usr/sbin:/usr/bin:/sbin:/bin"),
                   timeout=timeout)[1]

    def test_apt_install(self):
        if not os.environ.get("LOAXA_TEST_CHROOT"):
            self.skipTest("set LOAXA_TEST_CHROOT=1 to run")
        if os.geteuid() != 0:
            self.skipTest("debootstrap and chroot need root")
        for tool in ("debootstrap", "unshare"):
            self.assertIsNotNone(shutil.which(tool), tool + " is missing")
        root = self.scratch("chroot")
        os.chmod(root, 0o755)   # its "/": mkdtemp made it 0700
        mirror = os.environ.get("LOAXA_TEST_MIRROR",
                                "http://deb.debian.org/debian")
        run(["debootstrap", "--variant=minbase", "bookworm", root, mirror],
            self.env, timeout=600)
        shutil.copy(Build.deb, root + "/tmp/")
        deb = "/tmp/" + os.path.basename(Build.deb)
        out = self.in_chroot(root, "apt-get update -q && apt-get install "
                             "-y -q --no-install-recommends ." + deb)
        self.assertIn("Creating user 'loaxa'", out)
        out = self.in_chroot(root, "getent passwd loaxa; stat -c '%U:%G %a'"
                             " /var/lib/loaxa /etc/loaxa/loaxa.ini; "
                             "readlink " + WANTS)
        self.assertRegex(out, r"(?m)^loaxa:x:\d+:\d+:loaxa daemon:"
                         r"/var/lib/loaxa:/usr/sbin/nologin$")
        self.assertIn("loaxa:loaxa 750\nroot:root 644\n", out)
        self.assertRegex(out, r"(?m)^(/usr)?/lib/systemd/system/"
                         r"loaxad\.service$")
        out = self.in_chroot(root, CHROOT_DAEMON, timeout=120)
        self.assertIn("database:        /var/lib/loaxa/loaxa.db", out)
        self.assertRegex(out, r"(?m)^dong-tan +Nhóm dân cư Đông Tân")
        self.assertIn("only members of group 'loaxa'", out)
        self.assertIn("loaxad exit 0", out)
        self.in_chroot(root, "apt-get purge -y -q loaxa")
        for p in ("/etc/loaxa", "/var/lib/loaxa", WANTS, "/usr/sbin/loaxad"):
            self.assertFalse(os.path.lexists(root + p), p)


if __name__ == "__main__":
    unittest.main(verbosity=2)
