"""Shared code of loaxa's benchmarks (Python 3 stdlib only).

Every benchmark starts the real loaxad and the real loaxa-sandbox (built
from this tree) on a temporary directory, over loopback and a unix socket,
prints its figures as a table and writes them as JSON. Nothing here passes
or fails on timing: figures are printed next to their targets, with the
ratio, and a target that is missed is said plainly.

The binaries come from LOAXAD and LOAXA_SANDBOX, or from --build-dir
(daemon/loaxad, sandbox/loaxa-sandbox under it). bench/run builds them.

The daemon and sandbox wrappers are those of the integration tests
(tests/integration/harness.py and sandbox.py).
"""

import argparse
import datetime
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))

import harness  # noqa: E402
import sandbox as sbx  # noqa: E402

# Temporary directories: /tmp/lxbench-*, not the tests' /tmp/loaxa-it-* and
# /tmp/loaxa-sb-* (test runners on a shared machine clean those up).
TMP = os.environ.get("LOAXA_BENCH_TMP", "/tmp")


def _mkdtemp(prefix="tmp", dir=None, **kw):  # noqa: A002 - tempfile's name
    return tempfile.mkdtemp(prefix="lxbench-" + prefix.replace("loaxa-", ""),
                            dir=TMP, **kw)


harness.tempfile = types.SimpleNamespace(mkdtemp=_mkdtemp)
sbx.tempfile = types.SimpleNamespace(mkdtemp=_mkdtemp)

# A 1M-household database takes a while to open, migrate and stop.
harness.READY_TIMEOUT = 120.0
harness.STOP_TIMEOUT = 120.0

QUICK_HOUSEHOLDS = 100_000
FULL_HOUSEHOLDS = 1_000_000
IMPORT_CHUNK = 100_000

# The default village groups plus a small one for urgent notices.
GROUPS = [("2A", "Nhóm dân cư 2A"), ("2B", "Nhóm dân cư 2B"),
          ("dong-tan", "Nhóm dân cư Đông Tân"),
          ("nam-ha", "Nhóm dân cư Nam Hà")]
BIG_GROUPS = [g[0] for g in GROUPS]
SMALL_GROUP = ("khan", "Nhóm báo tin khẩn")


def now_ms():
    return int(time.time() * 1000)


# ---- phones ----

def phone(i):
    """The i-th benchmark phone, national form: 0 + a 9-digit mobile NSN
    whose first three digits are 900..999 (i // 900000) and whose last six
    are 100000..999999, so they never end in a sandbox trigger suffix
    (those all start with 0). Unique for i < 90,000,000."""
    p, s = divmod(i, 900_000)
    if p >= 100:
        raise ValueError("too many households")
    return "0%03d%06d" % (900 + p, 100_000 + s)


def zns_to(national):
    return "84" + national[1:]


# ---- binaries ----

def binaries(build_dir=None):
    """(loaxad, loaxa-sandbox) paths; exits with a message if missing."""
    d = os.environ.get("LOAXAD")
    s = os.environ.get("LOAXA_SANDBOX")
    if build_dir:
        d = os.path.join(build_dir, "daemon", "loaxad")
        s = os.path.join(build_dir, "sandbox", "loaxa-sandbox")
    if not d or not s:
        d = d or os.path.join(SRCDIR, "build-bench", "daemon", "loaxad")
        s = s or os.path.join(SRCDIR, "build-bench", "sandbox",
                              "loaxa-sandbox")
    for p in (d, s):
        if not os.access(p, os.X_OK):
            sys.exit("bench: %s is not an executable: build first "
                     "(bench/run does) or give --build-dir" % p)
    d, s = os.path.abspath(d), os.path.abspath(s)
    harness.LOAXAD = d
    sbx.SANDBOX = s
    return d, s


# ---- processes ----

class Sandbox(sbx.Sandbox):
    pass


class Daemon(harness.Daemon):
    """loaxad with a bench config: a ZNS channel on the sandbox, quiet
    hours off, a large [api] max_body, the bench groups."""

    def __init__(self, sb, rate=0, max_in_flight=64, fanout_chunk=None,
                 log_level="info", debug=None, channel_extra=None,
                 broadcast_extra=None):
        groups = GROUPS + [SMALL_GROUP]
        bk = {"quiet_hours": "", "retry_initial": "1s", "retry_max": "2s"}
        if fanout_chunk:
            bk["fanout_chunk"] = str(fanout_chunk)
        bk.update(broadcast_extra or {})
        ck = {"rate": str(rate), "max_in_flight": str(max_in_flight),
              "breaker_failures": "1000"}
        ck.update(channel_extra or {})
        extra = ["[broadcast]"] + ["%s = %s" % kv for kv in bk.items()]
        extra += ["", "[route]", "chain = zns", ""]
        extra.append(sb.channel_config("zns", "zns", **ck))
        daemon_extra = "debug = %s" % debug if debug else ""
        super().__init__(groups=groups, max_body="512M",
                         daemon_extra=daemon_extra, extra="\n".join(extra),
                         log_level=log_level)

    def timed_start(self):
        """Start and wait for READY=1; seconds from before the exec."""
        t0 = time.perf_counter()
        self.start()
        return time.perf_counter() - t0

    def timed_stop(self):
        t0 = time.perf_counter()
        rc = self.stop()
        return time.perf_counter() - t0, rc

    # JSON helpers that fail loudly
    def ok(self, method, path, body=None, status=(200, 201), timeout=600,
           **kw):
        r = self.request(method, path, body=body, timeout=timeout, **kw)
        if r.status not in status:
            raise RuntimeError("%s %s: %r" % (method, path, r))
        return r.body

    def pid(self):
        return self.proc.pid

    def rss(self):
        return proc_status(self.proc.pid)

    def checkpoint(self):
        """PRAGMA wal_checkpoint(TRUNCATE) from a second connection."""
        con = sqlite3.connect(self.db_path, timeout=60)
        try:
            return con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            con.close()


def proc_status(pid):
    """{'VmRSS': bytes, 'VmHWM': bytes} from /proc/PID/status."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "VmPeak", "VmSize"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def cpu_seconds(pid):
    """utime + stime of a process (with its waited-for children), s."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tck = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tck
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy():
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


class CpuMeter:
    """CPU used by loaxad, the sandbox, this process and the whole machine
    between start() and stop(): the hint at what is the bottleneck (on a
    machine others may be using too)."""

    def __init__(self, env):
        self.env = env

    def start(self):
        self.t0 = time.perf_counter()
        self.d0 = cpu_seconds(self.env.d.pid())
        self.s0 = cpu_seconds(self.env.sb.proc.pid)
        self.p0 = sum(os.times()[:2])
        self.m0 = machine_busy()
        self.load0 = os.getloadavg()[0]
        return self

    def stop(self):
        dt = time.perf_counter() - self.t0
        m1 = machine_busy()
        ncpu = os.cpu_count() or 1
        busy = (m1[0] - self.m0[0]) / max(1, m1[1] - self.m0[1]) * ncpu
        d = (cpu_seconds(self.env.d.pid()) - self.d0) / dt
        s = (cpu_seconds(self.env.sb.proc.pid) - self.s0) / dt
        p = (sum(os.times()[:2]) - self.p0) / dt
        self.res = {"seconds": round(dt, 2), "loaxad": round(d, 2),
                    "sandbox": round(s, 2), "bench_python": round(p, 2),
                    "machine_busy_cpus": round(busy, 2),
                    "others": round(max(0.0, busy - d - s - p), 2),
                    "loadavg_start": self.load0,
                    "loadavg_end": os.getloadavg()[0]}
        return self.res

    def text(self):
        r = self.res
        return ("CPUs used (of %d): loaxad %.2f, sandbox %.2f, bench %.2f, "
                "other processes %.2f; loadavg %.1f -> %.1f"
                % (os.cpu_count(), r["loaxad"], r["sandbox"],
                   r["bench_python"], r["others"], r["loadavg_start"],
                   r["loadavg_end"]))


def dir_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


class Env:
    """A sandbox and a daemon, closed together."""

    def __init__(self, sandbox_args=(), **daemon_kw):
        self.sb = Sandbox(*sandbox_args).start()
        self.d = None
        try:
            self.d = Daemon(self.sb, **daemon_kw)
            self.ready_s = self.d.timed_start()
        except BaseException:
            if self.d is not None:
                self.d.close()
            self.sb.close()
            raise

    def close(self):
        try:
            if self.d.running():
                self.d.stop()
        finally:
            self.d.close()
            self.sb.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is not None:
            harness.dump_log(self.d, 40)
        self.close()
        return False


def sandbox_args(n, latency=0, extra=()):
    """ZNS quota well above the message count; room for connections."""
    a = ["--zns-quota", str(max(10 * n, 10_000_000)), "--max-records",
         "1000", "--max-connections", "4096"]
    if latency:
        a += ["--latency", str(latency)]
    return a + list(extra)


# ---- households ----

def import_households(d, n, start=0, groups=None, chunk=IMPORT_CHUNK,
                      quiet=False):
    """Create n households (phones start..start+n-1) spread round robin
    over groups (the big ones by default) with POST /v1/import in chunks.
    Returns seconds taken."""
    groups = groups or BIG_GROUPS
    t0 = time.perf_counter()
    done = 0
    while done < n:
        k = min(chunk, n - done)
        lines = ["group,name,phone"]
        for i in range(start + done, start + done + k):
            lines.append("%s,Hộ %d,%s" % (groups[i % len(groups)], i,
                                          phone(i)))
        body = ("\n".join(lines) + "\n").encode("utf-8")
        r = d.ok("POST", "/v1/import", body,
                 headers={"Content-Type": "text/csv"}, status=(200,))
        if r.get("created") != k or r.get("rejected"):
            raise RuntimeError("import: created %r of %d, rejected %r"
                               % (r.get("created"), k,
                                  (r.get("rejected") or [])[:3]))
        done += k
        if not quiet:
            progress("imported %d/%d households (%.1f s)"
                     % (done, n, time.perf_counter() - t0))
    return time.perf_counter() - t0


def progress(msg):
    print("  .. " + msg, file=sys.stderr, flush=True)


# ---- broadcasts ----

def notice(groups="all", priority="normal", title="Thông báo thử tải",
           **kw):
    b = {"kind": "notice", "priority": priority, "title": title,
         "body": "Đây là tin nhắn đo hiệu năng của loaxa.",
         "groups": groups}
    b.update(kw)
    return b


def create_broadcast(d, body):
    """(broadcast object, seconds the API took to answer)."""
    t0 = time.perf_counter()
    b = d.ok("POST", "/v1/broadcasts", body, status=(201,))
    return b, time.perf_counter() - t0


def get_broadcast(d, bid):
    return d.ok("GET", "/v1/broadcasts/%d" % bid, status=(200,))


def materialised(b, n):
    w = (b.get("waves") or [None])[0]
    return (w is not None and w.get("total") == n and
            w.get("state") not in ("pending", "materialising"))


def wait_materialised(d, bid, n, timeout=600, interval=0.1):
    """Poll until wave 0 holds n deliveries and is no longer
    materialising; seconds from the call, and the last object."""
    t0 = time.perf_counter()
    while True:
        b = get_broadcast(d, bid)
        if materialised(b, n):
            return time.perf_counter() - t0, b
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError("broadcast %d not materialised after %d s: "
                               "waves %r" % (bid, timeout, b.get("waves")))
        time.sleep(interval)


FINAL = ("sent", "delivered", "read", "failed", "expired", "cancelled",
         "skipped")


def final_count(b):
    c = b.get("counts") or {}
    return sum(c.get(k, 0) for k in FINAL)


class Sampler(threading.Thread):
    """Calls fn every interval seconds in a thread; keeps (t, value)."""

    def __init__(self, fn, interval):
        super().__init__(daemon=True)
        self.fn, self.interval = fn, interval
        self.samples = []
        self.errors = []
        self._halt = threading.Event()

    def run(self):
        nxt = time.perf_counter()
        while not self._halt.is_set():
            try:
                self.samples.append((time.perf_counter(), self.fn()))
            except Exception as e:  # noqa: BLE001 - kept, reported
                self.errors.append(repr(e))
            nxt += self.interval
            delay = nxt - time.perf_counter()
            if delay > 0:
                self._halt.wait(delay)
            else:
                nxt = time.perf_counter()

    def stop(self):
        self._halt.set()
        self.join()
        return self.samples


def timed_get(d, path):
    t0 = time.perf_counter()
    r = d.request("GET", path, timeout=60)
    dt = time.perf_counter() - t0
    if r.status != 200:
        raise RuntimeError("GET %s: %r" % (path, r))
    return dt


def pct(values, p):
    """The p-th percentile (nearest rank) of values."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def rss_sampler(d, interval=0.2):
    return Sampler(lambda: proc_status(d.pid()).get("VmRSS", 0), interval)


def log_lines(d, needle):
    return [line for line in d.log().splitlines() if needle in line]


# ---- results ----

class Report:
    """Rows of (figure, target, measured, unit, ratio, met) plus notes."""

    def __init__(self, name, args):
        self.name = name
        self.args = args
        self.rows = []
        self.notes = []
        self.extra = {}
        self.started = time.time()

    def add(self, figure, measured, unit, target=None, op=None,
            ratio=None):
        """op: '<' / '<=' / '>=' / '>' compares measured with target;
        ratio defaults to measured / target."""
        met = None
        if target is not None and measured is not None and op:
            met = {"<": measured < target, "<=": measured <= target,
                   ">": measured > target, ">=": measured >= target}[op]
        if ratio is None and target and measured is not None:
            ratio = measured / target
        self.rows.append({"figure": figure, "measured": measured,
                          "unit": unit, "target": target, "op": op,
                          "ratio": ratio, "met": met})

    def note(self, text):
        self.notes.append(text)

    def as_dict(self):
        return {"benchmark": self.name, "args": self.args,
                "rows": self.rows, "notes": self.notes,
                "extra": self.extra, "machine": machine(),
                "started": iso(self.started),
                "duration_s": round(time.time() - self.started, 1)}

    def print(self):
        print()
        print("== %s ==" % self.name)
        head = ("figure", "target", "measured", "ratio", "")
        rows = []
        for r in self.rows:
            tgt = ""
            if r["target"] is not None:
                tgt = "%s %s %s" % (r["op"] or "", fmt(r["target"]),
                                    r["unit"])
            rows.append((r["figure"], tgt.strip(),
                         "%s %s" % (fmt(r["measured"]), r["unit"]),
                         "" if r["ratio"] is None else "%.2f" % r["ratio"],
                         {True: "met", False: "MISSED",
                          None: ""}[r["met"]]))
        w = [max(len(x[i]) for x in rows + [head]) for i in range(5)]
        for x in [head] + rows:
            print("  ".join(c.ljust(w[i]) for i, c in
                            enumerate(x)).rstrip())
        for n in self.notes:
            print("note: " + n)
        sys.stdout.flush()

    def write(self, path):
        with open(path, "w") as f:
            json.dump(self.as_dict(), f, indent=1, ensure_ascii=False)
            f.write("\n")
        print("json: " + path)


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 100:
            return "%.0f" % v
        if abs(v) >= 10:
            return "%.1f" % v
        return "%.3g" % v
    if isinstance(v, int):
        return "{:,}".format(v)
    return str(v)


def iso(t):
    return datetime.datetime.fromtimestamp(
        t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_MACHINE = None


def machine():
    global _MACHINE
    if _MACHINE is None:
        cpu = ""
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        mem = 0
        try:
            with open("/proc/meminfo") as f:
                mem = int(f.readline().split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        try:
            commit = subprocess.run(
                ["git", "-C", SRCDIR, "rev-parse", "--short", "HEAD"],
                capture_output=True, text=True).stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", SRCDIR, "status", "--porcelain",
                 "--untracked-files=no"],
                capture_output=True, text=True).stdout.strip()
            if dirty:
                commit += "+dirty"
        except OSError:
            commit = ""
        built = {}
        for name in ("LOAXAD", "SANDBOX"):
            p = harness.LOAXAD if name == "LOAXAD" else sbx.SANDBOX
            try:
                built[name.lower()] = {"path": p, "mtime": iso(
                    os.stat(p).st_mtime)}
            except OSError:
                pass
        _MACHINE = {"nproc": os.cpu_count(), "mem_bytes": mem, "cpu": cpu,
                    "binaries": built,
                    "kernel": platform.release(), "commit": commit,
                    "python": platform.python_version()}
    return _MACHINE


# ---- command line ----

def parser(name, doc, households=None, seconds=None, quick_households=None,
           quick_seconds=None):
    p = argparse.ArgumentParser(prog="bench/" + name, description=doc)
    p.add_argument("--build-dir", help="meson build dir holding "
                   "daemon/loaxad and sandbox/loaxa-sandbox")
    p.add_argument("--json", default=None,
                   help="where to write the figures (default "
                   "/tmp/loaxa-bench-%s.json)" % name)
    p.add_argument("--quick", action="store_true",
                   help="small sizes and short durations")
    if households is not None:
        p.add_argument("--households", type=int, default=None,
                       help="households (default %d, --quick %s)"
                       % (households, quick_households))
    if seconds is not None:
        p.add_argument("--seconds", type=float, default=None,
                       help="duration in seconds (default %g, --quick %s)"
                       % (seconds, quick_seconds))
    return p


def main(name, doc, run, households=None, quick_households=None,
         seconds=None, quick_seconds=None, argv=None, add_args=None,
         lenient=False):
    """Parse the options, run(args, report), print and write the report.
    lenient: ignore options this benchmark does not have (bench/run passes
    the same extra options to every benchmark)."""
    p = parser(name, doc, households, seconds, quick_households,
               quick_seconds)
    if add_args:
        add_args(p)
    if lenient:
        args, _ = p.parse_known_args(argv)
    else:
        args = p.parse_args(argv)
    if households is not None and args.households is None:
        args.households = quick_households if args.quick else households
    if seconds is not None and args.seconds is None:
        args.seconds = quick_seconds if args.quick else seconds
    binaries(args.build_dir)
    rep = Report(name, {k: v for k, v in vars(args).items()
                        if k not in ("json", "build_dir")})
    m0, l0 = machine_busy(), os.getloadavg()[0]
    try:
        run(args, rep)
    finally:
        m1 = machine_busy()
        busy = (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * (os.cpu_count()
                                                          or 1)
        rep.extra["machine_busy_cpus"] = round(busy, 2)
        rep.note("machine during this benchmark: %.2f of %d CPUs busy on "
                 "average (every process, this one included); loadavg "
                 "%.1f -> %.1f" % (busy, os.cpu_count(), l0,
                                   os.getloadavg()[0]))
        rep.print()
        rep.write(args.json or "/tmp/loaxa-bench-%s.json" % name)
    return rep


# ---- torture (crash, outage) ----

STATUS_NAMES = ("queued", "sending", "sent", "delivered", "read", "failed",
                "expired", "cancelled", "skipped")   # store.h's order


def all_deliveries(d, bid, status=None):
    """Every delivery of a broadcast (GET .../deliveries, 1000 a page)."""
    out, after = [], None
    while True:
        q = "limit=1000"
        if after is not None:
            q += "&after=%d" % after
        if status:
            q += "&status=" + status
        r = d.ok("GET", "/v1/broadcasts/%d/deliveries?%s" % (bid, q),
                 status=(200,))
        out += r["deliveries"]
        after = r.get("next_after")
        if after is None:
            return out


def db_status_counts(db_path, bid):
    """{status name: deliveries} of a broadcast read from the database
    file itself (for a loaxad that was just killed: what it had
    committed), plus 'possible_duplicate' and 'total'."""
    con = sqlite3.connect(db_path, timeout=60)
    try:
        out = {k: 0 for k in STATUS_NAMES}
        for st, n in con.execute("SELECT status, count(*) FROM deliveries "
                                 "WHERE broadcast_id = ? GROUP BY status",
                                 (bid,)):
            name = STATUS_NAMES[st] if 0 <= st < len(STATUS_NAMES) \
                else "status_%d" % st
            out[name] = out.get(name, 0) + n
        out["possible_duplicate"] = con.execute(
            "SELECT count(*) FROM deliveries WHERE broadcast_id = ? AND "
            "possible_dup != 0", (bid,)).fetchone()[0]
        out["total"] = sum(out[k] for k in STATUS_NAMES)
        return out
    finally:
        con.close()


def read_record(path):
    """The messages a sandbox wrote with --record FILE (one JSON object a
    line), in arrival order. Stop the sandbox first: it flushes at exit."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
    return out


def print_table(head, rows, title=None):
    """A plain text table: head is a tuple of column names, rows tuples
    of values (formatted with fmt)."""
    cells = [tuple(fmt(v) if not isinstance(v, str) else v for v in r)
             for r in rows]
    w = [max(len(x[i]) for x in cells + [head]) for i in range(len(head))]
    if title:
        print(title)
    for x in [head] + cells:
        print("  ".join(c.rjust(w[i]) if i else c.ljust(w[i])
                        for i, c in enumerate(x)).rstrip())
    sys.stdout.flush()
