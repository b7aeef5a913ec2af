#!/usr/bin/env python3
"""soak: a mixed workload for --duration seconds (600) with loaxad's RSS
and open file descriptors sampled every 5 s: they must not grow.

loaxad gets a ZNS channel (rate --rate, 200/s) falling back to a Twilio
SMS channel, both on loaxa-sandbox, which sends the signed receipts and
the households' replies back to loaxad's webhook listener. The workload:
re-imports of the household list (some rows changed, a few households
deleted in between and created again), notices and meeting invitations to
random groups (some urgent, some scheduled, some with reminders, some with
an Idempotency-Key sent twice), cancels mid-flight, pauses and resumes,
retries of failed deliveries, replies, household edits and opt-outs; a
second thread reads status, broadcasts, deliveries, replies, histories,
metrics, exports and (with the loaxa CLI) `loaxa report`; a backup now and
then. A few households have sandbox trigger numbers (no Zalo, transient
errors, HTTP 503), so retries, fallbacks and failures happen too.

The figures: RSS and fds over time (a table: time, RSS, fds, deliveries
final, requests); the RSS slope over the second half (least squares); the
largest RSS of the last quarter over that of the second quarter; fds at
the end, with nothing in flight, against fds after the warm-up, also
idle. At the end every broadcast must be final (done or cancelled) and
every delivery have one final status; no answer may be a 5xx.
"""
import collections
import os
import random
import statistics
import threading

import common as c

DOC = __doc__.split("\n\n")[0]
MiB = 1024 * 1024

# Sandbox trigger numbers given to a few households (docs/sandbox.md):
# every TRIGGER_EVERY-th has no Zalo account (ZNS -118: falls back to SMS)
# or gets a transient ZNS error (-100: retried, then SMS); every other
# household of the small group gets HTTP 503 from every provider (retried
# on the last channel until the broadcast expires: `expired`).
TRIGGERS = ("000118", "000100")
FAILING = "000503"
PREFIXES = ("091", "093", "094", "096", "097", "098", "032", "033", "034",
            "035", "036", "037", "038", "039", "070", "076", "077", "078",
            "079", "081", "082", "083", "084", "085", "086", "088", "089")
TRIGGER_EVERY = 97
SMALL_EVERY = 250
ZALO_SECRET = "soak-oa-secret-0123"
MESSENGER_SECRET = "soak-app-secret-4567"
REPLIES = ("1", "Có ạ", "không", "2", "co", "Cho hỏi họp mấy giờ?")
FINAL_STATES = ("done", "cancelled")
# Answers that are part of the workload, not errors: a cancel, pause or
# resume racing the broadcast's own end (409 wrong_state).
EXPECTED = {409}


def _trigger(slot, suffix):
    if slot >= 10 * len(PREFIXES):
        return None
    return "%s%d%s" % (PREFIXES[slot // 10], slot % 10, suffix)


def household_phone(i):
    """Household i's phone: a benchmark number, or a sandbox trigger."""
    p = None
    if i % SMALL_EVERY == 7 and (i // SMALL_EVERY) % 2 == 0:
        p = _trigger(i // SMALL_EVERY // 2, FAILING)
    elif i % TRIGGER_EVERY == 5:
        k = i // TRIGGER_EVERY
        p = _trigger(k // len(TRIGGERS), TRIGGERS[k % len(TRIGGERS)])
    return p or c.phone(i)


def household_group(i):
    if i % SMALL_EVERY == 7:
        return c.SMALL_GROUP[0]
    return c.BIG_GROUPS[i % len(c.BIG_GROUPS)]


def e164(national):
    return "+84" + national[1:]


# ---- configuration ----

def sandbox_args(webhook_port, n):
    return c.sandbox_args(n, extra=[
        "--webhook-url", "http://127.0.0.1:%d" % webhook_port,
        "--zalo-oa-secret", ZALO_SECRET,
        "--messenger-app-secret", MESSENGER_SECRET])


def config_extra(sb, webhook_port, rate=200, max_in_flight=16):
    """The config text after [api]: broadcast keys, the webhook listener,
    route zns then sms, the two channels."""
    public = "http://127.0.0.1:%d" % webhook_port
    text = ["[broadcast]", "quiet_hours = ", "retry_initial = 1s",
            "retry_max = 2s", "max_attempts = 3", "",
            "[webhooks]",
            "listen = 127.0.0.1:%d" % webhook_port,
            "public_url = " + public,
            "unconfirmed_after = 1m",
            "zalo_oa_secret_file = " + sb.secret("zalo-oa", ZALO_SECRET),
            "messenger_app_secret_file = " + sb.secret("messenger-app",
                                                       MESSENGER_SECRET),
            "", "[route]", "chain = zns, sms", "",
            sb.channel_config("zns", "zns", rate=str(rate),
                              max_in_flight=str(max_in_flight),
                              breaker_failures="1000"),
            sb.channel_config("sms", "twilio", rate=str(rate),
                              max_in_flight=str(max_in_flight),
                              breaker_failures="1000",
                              callback_url=public + "/webhooks/twilio")]
    return "\n".join(text)


class SoakDaemon(c.Daemon):
    """loaxad with the soak config (not the other benchmarks' one)."""

    def __init__(self, sb, webhook_port, rate=200, log_level="info"):
        c.harness.Daemon.__init__(
            self, groups=c.GROUPS + [c.SMALL_GROUP], max_body="64M",
            extra=config_extra(sb, webhook_port, rate),
            log_level=log_level)


# ---- /proc ----

def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def _tcp_inodes(pid):
    """{socket inode: (local port, remote port, state)} of the process's
    network namespace (/proc/PID/net/tcp and tcp6)."""
    out = {}
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                next(f)
                for line in f:
                    v = line.split()
                    out[v[9]] = (int(v[1].rsplit(":", 1)[1], 16),
                                 int(v[2].rsplit(":", 1)[1], 16), v[3])
        except (OSError, StopIteration, IndexError, ValueError):
            pass
    return out


def fd_kinds(pid, sandbox_port=None, webhook_port=None):
    """Open fds of pid by kind: tcp to the sandbox (libcurl's connection
    cache), tcp from the sandbox on the webhook listener, listening tcp,
    other tcp, unix sockets, files, anon inodes (epoll, eventfd, timerfd,
    signalfd), pipes."""
    kinds = collections.Counter()
    tcp = None
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return kinds
    for n in names:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, n))
        except OSError:
            continue
        if link.startswith("socket:["):
            if tcp is None:
                tcp = _tcp_inodes(pid)
            t = tcp.get(link[8:-1])
            if t is None:
                kinds["unix"] += 1
            elif t[2] == "0A":
                kinds["tcp listening"] += 1
            elif sandbox_port and t[1] == sandbox_port:
                kinds["tcp to sandbox"] += 1
            elif webhook_port and t[0] == webhook_port:
                kinds["tcp webhooks in"] += 1
            else:
                kinds["tcp other"] += 1
        elif link.startswith("anon_inode:"):
            kinds["anon"] += 1
        elif link.startswith("pipe:"):
            kinds["pipe"] += 1
        else:
            kinds["file"] += 1
    return kinds


POOLED = ("tcp to sandbox", "tcp webhooks in")


def unpooled(kinds):
    """fds but the kept-alive connections to and from the providers
    (libcurl's connection cache, the sandbox's webhook sender): their
    number follows the load, up to max_in_flight per channel."""
    return sum(v for k, v in kinds.items() if k not in POOLED)


def rss_bytes(pid):
    return c.proc_status(pid).get("VmRSS")


def slope(points):
    """Least-squares slope of [(x, y)]; None for fewer than 2 points."""
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if not sxx:
        return None
    return sum((x - mx) * (y - my) for x, y in points) / sxx


# ---- the workload ----

class Workload:
    """The mixed workload against a running daemon d (a harness.Daemon)
    and sandbox sb. run(seconds) mutates from this thread and reads from
    a second one; drain() lets every broadcast end; check() lists what is
    wrong at the end. loaxa: the CLI, for `loaxa report` (optional)."""

    def __init__(self, d, sb, households, seed=1, loaxa=None,
                 webhook_port=None,
                 backup_every=60.0, export_every=15.0, import_every=30.0,
                 max_active=6, expire=(60, 120)):
        self.d, self.sb = d, sb
        self.webhook_port = webhook_port
        self.n = households
        self.rng = random.Random(seed)
        self.loaxa = loaxa
        self.backup_every = backup_every
        self.export_every = export_every
        self.import_every = import_every
        self.max_active = max_active
        self.expire = expire
        self.lock = threading.Lock()
        self.requests = 0
        self.status = collections.Counter()
        self.ops = collections.Counter()
        self.errors = []            # 5xx, unexpected answers, exceptions
        self.expected = []          # the EXPECTED answers (last 100)
        self.bids = []              # every broadcast created
        self.paused = {}            # id -> monotonic time to resume at
        self.gen = 0                # import generation
        self.deleted = set()        # households deleted since last import
        self.halt = threading.Event()

    def drain_notify(self):
        """Read loaxad's sd_notify datagrams (STATUS= every 10 s while the
        queue moves). The harness reads them only while starting and
        stopping; unread, 10 of them (net.unix.max_dgram_qlen) fill the
        socket and loaxad blocks in sendto(): its loop stops. Called
        from the main thread only."""
        f = getattr(self.d, "drain_notify", None)
        if f is not None:
            f()

    # -- requests --

    def call(self, method, path, body=None, ok=(200,), headers=None,
             timeout=120):
        """One request; counts it; records a 5xx or an answer neither in ok
        nor EXPECTED. Returns the Response (None after an exception)."""
        try:
            r = self.d.request(method, path, body=body, headers=headers,
                               timeout=timeout)
        except Exception as e:  # noqa: BLE001 - recorded, the run goes on
            with self.lock:
                self.requests += 1
                self.status["exception"] += 1
                self.errors.append("%s %s: %r" % (method, path, e))
            return None
        with self.lock:
            self.requests += 1
            self.status[r.status] += 1
            if r.status >= 500 or (r.status not in ok and
                                   r.status not in EXPECTED):
                self.errors.append("%s %s: %d %r" % (method, path, r.status,
                                                     r.raw[:300]))
            elif r.status not in ok:
                self.expected = self.expected[-99:] + [
                    "%s %s: %d" % (method, path, r.status)]
        return r

    def body(self, method, path, body=None, ok=(200,), **kw):
        r = self.call(method, path, body, ok=ok, **kw)
        if r is None or r.status not in ok:
            return None
        return r.body

    # -- households --

    def csv(self):
        """The household list of this generation: every 20th row (a
        different 20th each time) renamed, every 50th with a new address,
        every 300th opted out."""
        g = self.gen
        lines = ["group,name,phone,address,opted_out"]
        for i in range(self.n):
            name = "Hộ %d" % i
            if i % 20 == g % 20:
                name += " (sửa %d)" % g
            addr = "Xóm %d, số %d" % (i % 9, (i + g // 50 * 7) % 97)
            out = "x" if (i + g) % 300 == 0 else ""
            lines.append("%s,%s,%s,%s,%s" % (household_group(i), name,
                                             household_phone(i), addr, out))
        return ("\n".join(lines) + "\n").encode("utf-8")

    def import_all(self):
        self.gen += 1
        r = self.body("POST", "/v1/import", self.csv(),
                      headers={"Content-Type": "text/csv"})
        self.ops["import"] += 1
        if r and r.get("rejected"):
            with self.lock:
                self.errors.append("import rejected %r"
                                   % r["rejected"][:3])
        self.deleted.clear()
        return r

    def household_id(self, i):
        r = self.body("GET", "/v1/households?q=%s&limit=1"
                      % household_phone(i)[1:])
        if r and r.get("households"):
            return r["households"][0]["id"]
        return None

    def edit_household(self):
        """One of: delete, opt-out/in, rename through the API."""
        i = self.rng.randrange(self.n)
        hid = self.household_id(i)
        if hid is None:
            return
        what = self.rng.random()
        if what < 0.2 and len(self.deleted) < 50:
            self.call("DELETE", "/v1/households/%d" % hid, ok=(204,))
            self.deleted.add(i)
            self.ops["delete"] += 1
        elif what < 0.5:
            self.call("POST", "/v1/households/%d/opt-%s"
                      % (hid, self.rng.choice(("out", "in"))))
            self.ops["opt"] += 1
        else:
            self.call("PATCH", "/v1/households/%d" % hid,
                      {"note": "ghi chú %d" % self.rng.randrange(1000),
                       "address": None if what > 0.9 else "Xóm mới"})
            self.ops["patch"] += 1

    def reply(self):
        i = self.rng.randrange(self.n)
        try:
            st, r = self.sb.request("POST", "/_sandbox/reply", {
                "provider": "twilio", "from": e164(household_phone(i)),
                "text": self.rng.choice(REPLIES)})
        except Exception as e:  # noqa: BLE001 - recorded
            st, r = 0, e
        self.ops["reply"] += 1
        if st != 202:
            with self.lock:
                self.errors.append("sandbox reply: %d %r" % (st, r))

    # -- broadcasts --

    def broadcast(self):
        rng = self.rng
        x = rng.random()
        if x < 0.08:
            groups = "all"
        elif x < 0.2:
            groups = [c.SMALL_GROUP[1]]     # by its name
        else:
            groups = rng.sample(c.BIG_GROUPS, rng.choice((1, 1, 2)))
        now = c.now_ms()
        seq = len(self.bids)
        # what cannot be sent (the 503 households) expires soon
        expires = now + int(rng.uniform(*self.expire) * 1000)
        if rng.random() < 0.7:
            b = {"kind": "notice", "title": "Thông báo thử %d" % seq,
                 "body": "Đây là tin nhắn chạy thử dài hạn của loaxa, "
                 "số %d." % seq, "groups": groups, "expires_at": expires}
        else:
            b = {"kind": "meeting", "title": "Họp tổ dân cư %d" % seq,
                 "starts_at": expires, "place": "Nhà văn hóa thôn",
                 "agenda": "Thu gom rác", "groups": groups}
            if rng.random() < 0.3:
                # a reminder wave days away (cancelled when draining)
                b["starts_at"] = now + 3 * 86400 * 1000
                b["reminders"] = ["1 day before"]
        if rng.random() < 0.1:
            b["priority"] = "urgent"
        if rng.random() < 0.1:
            b["send_at"] = now + rng.randrange(3000, 10000)
        hdrs = None
        if rng.random() < 0.1:
            hdrs = {"Idempotency-Key": "soak-%d-%d" % (seq, now)}
        r = self.body("POST", "/v1/broadcasts", b, ok=(201,), headers=hdrs)
        if r is None:
            return None
        self.bids.append(r["id"])
        self.ops["broadcast"] += 1
        if hdrs:
            again = self.body("POST", "/v1/broadcasts", b, headers=hdrs)
            if again and again.get("id") != r["id"]:
                with self.lock:
                    self.errors.append("Idempotency-Key gave %r then %r"
                                       % (r["id"], again.get("id")))
        return r["id"]

    def active(self):
        """Ids of the broadcasts not yet final, with their objects."""
        out = {}
        r = self.body("GET", "/v1/broadcasts?limit=50")
        for b in (r or {}).get("broadcasts", []):
            if b["state"] not in FINAL_STATES:
                out[b["id"]] = b
        return out

    def act(self, b):
        """Cancel, pause or retry one broadcast (or nothing)."""
        bid = b["id"]
        x = self.rng.random()
        if b["state"] in ("active", "scheduled") and x < 0.15:
            self.call("POST", "/v1/broadcasts/%d/cancel" % bid)
            self.paused.pop(bid, None)
            self.ops["cancel"] += 1
        elif b["state"] == "active" and x < 0.35 and bid not in self.paused:
            r = self.call("POST", "/v1/broadcasts/%d/pause" % bid)
            if r is not None and r.status == 200:
                self.paused[bid] = (c.time.monotonic() +
                                    self.rng.uniform(1, 6))
                self.ops["pause"] += 1

    def resume_due(self, all_=False):
        now = c.time.monotonic()
        for bid, at in list(self.paused.items()):
            if all_ or at <= now:
                self.call("POST", "/v1/broadcasts/%d/resume" % bid)
                del self.paused[bid]
                self.ops["resume"] += 1

    def retry_failed(self):
        """Retry the failed deliveries of a done broadcast that has not
        expired yet. (A retry after the expiry re-queues deliveries that
        are then never sent nor expired: the broadcast stays active; see
        bench/README.md, soak.)"""
        r = self.body("GET", "/v1/broadcasts?state=done&limit=20")
        soon = c.now_ms() + 10000
        for b in (r or {}).get("broadcasts", []):
            if (b.get("counts") or {}).get("failed") and \
                    (b.get("expires_ms") or 0) > soon:
                self.call("POST", "/v1/broadcasts/%d/retry" % b["id"])
                self.ops["retry"] += 1
                return

    # -- the reader --

    def read_once(self, rng):
        bid = rng.choice(self.bids) if self.bids else None
        x = rng.random()
        if x < 0.15:
            self.call("GET", "/v1/status")
        elif x < 0.3 and bid:
            self.call("GET", "/v1/broadcasts/%d" % bid)
        elif x < 0.45 and bid:
            q = rng.choice(("", "&status=sent", "&status=failed",
                            "&status=unconfirmed", "&group=2A",
                            "&channel=sms", "&status=queued"))
            self.call("GET", "/v1/broadcasts/%d/deliveries?limit=%d%s"
                      % (bid, rng.choice((10, 100, 1000)), q))
        elif x < 0.55:
            self.call("GET", "/v1/broadcasts?limit=%d"
                      % rng.choice((5, 50, 200)))
        elif x < 0.65:
            self.call("GET", "/v1/replies?limit=100%s"
                      % ("&broadcast=%d" % bid if bid and rng.random() < 0.5
                         else ""))
        elif x < 0.75:
            hid = rng.randrange(1, self.n + 1)
            self.call("GET", "/v1/households/%d/history?limit=20" % hid,
                      ok=(200, 404))
        elif x < 0.85:
            self.call("GET", "/v1/households?limit=100&q=%d"
                      % rng.randrange(100))
        elif x < 0.93:
            self.call("GET", "/metrics")
        else:
            self.call("GET", "/v1/groups")

    def report(self, rng):
        """`loaxa report ID --not-reached` (or --csv) with the CLI."""
        if not self.loaxa or not self.bids:
            return
        bid = rng.choice(self.bids)
        args = [self.loaxa, "--socket", self.d.socket_path, "report",
                str(bid)] + rng.choice((["--not-reached"], ["--csv"],
                                        ["--status", "sent"]))
        try:
            p = c.subprocess.run(args, capture_output=True, text=True,
                                 timeout=120, stdin=c.subprocess.DEVNULL)
        except Exception as e:  # noqa: BLE001 - recorded
            with self.lock:
                self.errors.append("loaxa report: %r" % e)
            return
        with self.lock:
            self.requests += 1
            self.ops["report"] += 1
            if p.returncode != 0:
                self.errors.append("loaxa report %d: exit %d: %s"
                                   % (bid, p.returncode, p.stderr[-300:]))

    def reader(self):
        rng = random.Random(self.rng.random())
        next_export = c.time.monotonic() + self.export_every
        while not self.halt.is_set():
            self.read_once(rng)
            if c.time.monotonic() >= next_export:
                next_export += self.export_every
                q = rng.choice(("", "?group=2A", "?group=khan"))
                self.call("GET", "/v1/export" + q)
                self.ops["export"] += 1
                self.report(rng)
            self.halt.wait(rng.uniform(0.05, 0.3))

    # -- the run --

    def run(self, seconds):
        """The mixed workload for seconds; the reader alongside."""
        t = threading.Thread(target=self.reader, daemon=True)
        t.start()
        try:
            self._mutate(seconds)
        finally:
            self.halt.set()
            t.join()
            self.halt.clear()

    def _mutate(self, seconds):
        rng = self.rng
        t0 = c.time.monotonic()
        end = t0 + seconds
        next_import = t0 + self.import_every
        next_backup = t0 + self.backup_every
        while c.time.monotonic() < end:
            self.drain_notify()
            now = c.time.monotonic()
            if now >= next_import:
                next_import += self.import_every
                self.import_all()
            if now >= next_backup:
                next_backup += self.backup_every
                r = self.call("POST", "/v1/backup")
                if r is not None and r.status == 200 and \
                        not r.raw.startswith(b"SQLite format 3\0"):
                    with self.lock:
                        self.errors.append("backup is not a database")
                self.ops["backup"] += 1
            self.resume_due()
            act = self.active()
            if len(act) < self.max_active and rng.random() < 0.5:
                self.broadcast()
            elif act:
                self.act(act[rng.choice(list(act))])
            x = rng.random()
            if x < 0.2:
                self.edit_household()
            elif x < 0.4:
                self.reply()
            elif x < 0.45:
                self.retry_failed()
            c.time.sleep(rng.uniform(0.2, 0.8))

    def drain(self, timeout=600):
        """Resume the paused broadcasts, cancel those waiting for a later
        wave or a later send_at, and wait until every broadcast is final.
        Returns the broadcasts still not final (empty when all are)."""
        self.resume_due(all_=True)
        deadline = c.time.monotonic() + timeout
        left = list(self.bids)
        while left:
            self.drain_notify()
            still = []
            for bid in left:
                b = self.body("GET", "/v1/broadcasts/%d" % bid)
                if b is None or b["state"] in FINAL_STATES:
                    continue
                if b.get("reminders_ms") and b["state"] != "cancelled":
                    # a reminder wave days away (and the 503 households
                    # retried until the meeting): end it now
                    self.call("POST", "/v1/broadcasts/%d/cancel" % bid)
                elif b["state"] == "paused":
                    self.call("POST", "/v1/broadcasts/%d/resume" % bid)
                still.append(b)
            left = [b["id"] for b in still]
            if not left or c.time.monotonic() > deadline:
                return still
            c.time.sleep(0.5)
        return []

    def check(self):
        """What is wrong at the end, as a list of sentences: broadcasts not
        final, deliveries without one final status, counts that do not add
        up, 5xx answers and unexpected ones, duplicates at the sandbox."""
        bad = []
        for bid in self.bids:
            self.drain_notify()
            b = self.body("GET", "/v1/broadcasts/%d" % bid)
            if b is None:
                bad.append("broadcast %d: cannot read it" % bid)
                continue
            if b["state"] not in FINAL_STATES:
                bad.append("broadcast %d ended %r" % (bid, b["state"]))
            seen, codes = {}, {}
            after = None
            while True:
                q = "limit=1000" + ("&after=%d" % after if after else "")
                r = self.body("GET", "/v1/broadcasts/%d/deliveries?%s"
                              % (bid, q))
                if r is None:
                    bad.append("broadcast %d: cannot list deliveries" % bid)
                    break
                for dl in r["deliveries"]:
                    if dl["id"] in seen:
                        bad.append("delivery %d listed twice" % dl["id"])
                    seen[dl["id"]] = dl["status"]
                    if dl["status"] not in c.FINAL:
                        codes[dl["id"]] = dl.get("code")
                after = r["next_after"]
                if after is None:
                    break
            notfinal = [k for k, s in seen.items() if s not in c.FINAL]
            if notfinal:
                bad.append("broadcast %d (%s): %d deliveries not final "
                           "(e.g. %d %s, last code %s)"
                           % (bid, b["state"], len(notfinal), notfinal[0],
                              seen[notfinal[0]], codes.get(notfinal[0])))
            total = sum(wv.get("total") or 0
                        for wv in b.get("waves") or [])
            counts = b.get("counts") or {}
            if sum(counts.values()) != len(seen) or total != len(seen):
                bad.append("broadcast %d: counts %r add up to %d, waves to "
                           "%d, deliveries listed %d"
                           % (bid, counts, sum(counts.values()), total,
                              len(seen)))
            by = collections.Counter(seen.values())
            for k, v in counts.items():
                if by.get(k, 0) != v:
                    bad.append("broadcast %d: counts[%s] = %d, listed %d"
                               % (bid, k, v, by.get(k, 0)))
        bad += self.sandbox_problems()
        with self.lock:
            bad += self.errors[:20]
            if len(self.errors) > 20:
                bad.append("... %d more errors" % (len(self.errors) - 20))
        return bad

    def sandbox_problems(self):
        """A message accepted twice for one delivery, a webhook loaxad
        answered with anything but 200 (or not at all)."""
        bad = []
        st = self.sb.stats()
        if st.get("duplicates"):
            bad.append("the sandbox accepted %d duplicate messages"
                       % st["duplicates"])
        wh = (st.get("webhooks") or {}).get("providers") or {}
        for prov, v in wh.items():
            other = {k: n for k, n in (v.get("by_status") or {}).items()
                     if k != "200"}
            if other or v.get("failed") or v.get("dropped"):
                bad.append("webhooks to loaxad (%s): answers %r, %d failed, "
                           "%d dropped" % (prov, v.get("by_status"),
                                           v.get("failed", 0),
                                           v.get("dropped", 0)))
        return bad

    def deliveries_final(self):
        """Deliveries in a final status, from GET /metrics (None if it
        cannot be read)."""
        try:
            r = self.d.request("GET", "/metrics", timeout=60)
        except Exception:  # noqa: BLE001 - a sample, not the workload
            return None
        if r.status != 200:
            return None
        total = 0
        for line in r.raw.decode("utf-8", "replace").splitlines():
            if line.startswith("loaxa_deliveries{"):
                labels, _, v = line.rpartition(" ")
                for st in c.FINAL:
                    if 'status="%s"' % st in labels:
                        total += int(float(v))
        return total


class Probe(c.Sampler):
    """Every interval: (rss, fds, deliveries final, requests)."""

    def __init__(self, w, pid, interval=5.0):
        self.w, self.pid = w, pid
        super().__init__(self.sample, interval)

    def sample(self):
        return {"rss": rss_bytes(self.pid), "fds": fd_count(self.pid),
                "final": self.w.deliveries_final(),
                "requests": self.w.requests}


def idle_fds(pid, w, settle=3.0, timeout=60.0, kinds=None):
    """Open fds of loaxad once nothing is in flight: the lowest of a few
    samples over settle seconds after the sandbox has no webhook pending.
    kinds: a dict to fill with fd_kinds() of that moment."""
    deadline = c.time.monotonic() + timeout
    while c.time.monotonic() < deadline:
        w.drain_notify()
        try:
            if not w.sb.stats()["webhooks"].get("pending"):
                break
        except Exception:  # noqa: BLE001 - best effort
            break
        c.time.sleep(0.5)
    best = None
    t_end = c.time.monotonic() + settle
    while c.time.monotonic() < t_end:
        n = fd_count(pid)
        if n is not None and (best is None or n < best):
            best = n
            if kinds is not None:
                kinds.clear()
                kinds.update(fd_kinds(pid, w.sb.port, w.webhook_port))
        c.time.sleep(0.5)
    return best


def verdict(samples, t0):
    """Growth figures from Probe samples [(t, {...})] taken from t0: the
    RSS slope (bytes/minute) over the second half, the largest RSS of the
    last quarter over that of the second quarter, fds of the second half
    (median, max)."""
    pts = [(t - t0, s["rss"]) for t, s in samples if s.get("rss")]
    if len(pts) < 8:
        return None
    span = pts[-1][0]
    half = [p for p in pts if p[0] >= span / 2]
    q2 = [y for x, y in pts if span / 4 <= x < span / 2]
    q4 = [y for x, y in pts if x >= 3 * span / 4]
    fds = [s["fds"] for t, s in samples if s.get("fds") is not None and
           t - t0 >= span / 2]
    return {"slope_bytes_per_min": (slope(half) or 0.0) * 60,
            "ratio_q4_q2": max(q4) / max(q2) if q2 and q4 else None,
            "rss_q2_max": max(q2) if q2 else None,
            "rss_q4_max": max(q4) if q4 else None,
            "fds_half_median": statistics.median(fds) if fds else None,
            "fds_half_max": max(fds) if fds else None}


# ---- the benchmark ----

def add_args(p):
    p.add_argument("--duration", dest="seconds", type=float,
                   help="the same as --seconds")
    p.add_argument("--rate", type=int, default=200,
                   help="messages/s of each channel (default 200)")
    p.add_argument("--warmup", type=float, default=None,
                   help="seconds of workload before the figures start "
                   "(default a tenth of the duration, at least 20)")
    p.add_argument("--interval", type=float, default=5.0,
                   help="seconds between samples (default 5)")
    p.add_argument("--seed", type=int, default=1)


def table(samples, t0):
    head = ("time", "rss", "fds", "final", "requests")
    print("\n  %6s  %9s  %4s  %9s  %8s" % head)
    for t, s in samples:
        print("  %5.0fs  %5.1f MiB  %4s  %9s  %8d"
              % (t - t0, (s["rss"] or 0) / MiB, s["fds"],
                 c.fmt(s["final"]), s["requests"]))


def loaxa_cli(build_dir):
    p = os.environ.get("LOAXA")
    if not p:
        d = os.path.dirname(os.path.dirname(c.harness.LOAXAD))
        p = os.path.join(d, "cli", "loaxa")
    return p if os.access(p, os.X_OK) else None


def run(args, rep):
    n = args.households
    warm = args.warmup if args.warmup is not None else max(
        20.0, args.seconds / 10)
    wport = c.harness.free_tcp_port()
    sb = c.Sandbox(*sandbox_args(wport, n)).start()
    d = None
    try:
        d = SoakDaemon(sb, wport, rate=args.rate)
        d.timed_start()
        w = Workload(d, sb, n, seed=args.seed,
                     loaxa=loaxa_cli(args.build_dir), webhook_port=wport)
        one(args, rep, d, sb, w, warm)
    except BaseException:
        if d is not None:
            c.harness.dump_log(d, 40)
        raise
    finally:
        if d is not None:
            if d.running():
                d.stop()
            d.close()
        sb.close()


def one(args, rep, d, sb, w, warm):
    pid = d.pid()
    fds_start = fd_count(pid)
    t_imp = c.time.perf_counter()
    w.import_all()
    t_imp = c.time.perf_counter() - t_imp
    c.progress("imported %d households in %.1f s; warming up %g s"
               % (w.n, t_imp, warm))
    w.run(warm)
    left = w.drain(timeout=300)
    kinds_warm, kinds_end = {}, {}
    fds_warm = idle_fds(pid, w, kinds=kinds_warm)
    rss_warm = rss_bytes(pid)
    c.progress("warm: RSS %.1f MiB, %d fds idle; running %g s"
               % (rss_warm / MiB, fds_warm, args.seconds))
    probe = Probe(w, pid, args.interval)
    t0 = c.time.perf_counter()
    cpu = c.CpuMeter(types_env(d, sb)).start()
    probe.start()
    w.run(args.seconds)
    samples = probe.stop()
    cpu.stop()
    c.progress("workload done; draining")
    left = w.drain(timeout=w.expire[1] + 120)
    fds_end = idle_fds(pid, w, kinds=kinds_end)
    rss_end = rss_bytes(pid)
    bad = w.check()
    table(samples, t0)
    v = verdict(samples, t0) or {}
    hwm = c.proc_status(pid).get("VmHWM")
    rc = d.stop()
    if rc != 0:
        bad.append("loaxad exited %r on SIGTERM" % rc)
    # a tenth of the warm RSS per 10 minutes counts as growth
    slope_target = rss_warm / 10 / 10
    rep.add("RSS slope over the second half", v.get(
        "slope_bytes_per_min", 0) / 1024, "KiB/min", slope_target / 1024,
        "<=")
    rep.add("max RSS last quarter / second quarter", v.get("ratio_q4_q2"),
            "", 1.05, "<=")
    rep.add("RSS after warm-up (idle) / last sample / end (idle)",
            "%.1f / %.1f / %.1f" % (rss_warm / MiB,
                                    (samples[-1][1]["rss"] or 0) / MiB,
                                    rss_end / MiB), "MiB")
    rep.add("VmHWM at the end", hwm / MiB if hwm else None, "MiB")
    rep.add("open fds at the end, idle (after warm-up: %d)" % fds_warm,
            fds_end, "", fds_warm, "<=")
    rep.add("  the same without kept-alive provider connections (after "
            "warm-up: %d)" % unpooled(kinds_warm), unpooled(kinds_end), "",
            unpooled(kinds_warm), "<=")
    rep.add("open fds, second half: median / max",
            "%s / %s" % (v.get("fds_half_median"), v.get("fds_half_max")),
            "")
    rep.add("API requests (and CLI reports)", w.requests, "")
    rep.add("broadcasts created", len(w.bids), "")
    fin = samples[-1][1]["final"] if samples else None
    rep.add("deliveries final (all broadcasts, at the last sample)", fin,
            "")
    rep.add("problems at the end (see notes)", len(bad), "", 0, "<=")
    for b in bad[:30]:
        rep.note("problem: " + b)
    if left:
        rep.note("not final after draining: %s"
                 % ", ".join("%d %s" % (b["id"], b["state"]) for b in left))
    rep.note("operations: " + ", ".join("%s %d" % kv for kv in
                                        sorted(w.ops.items())))
    rep.note("answers by HTTP status: " + ", ".join(
        "%s %d" % kv for kv in sorted(w.status.items(), key=str)))
    rep.note("sandbox: %s" % sandbox_summary(sb))
    rep.note(cpu.text())
    rep.note("fds at start %s, after warm-up %d, end %d; import of %d "
             "households %.1f s; warm-up %g s, %d samples every %g s"
             % (fds_start, fds_warm, fds_end, w.n, t_imp, warm,
                len(samples), args.interval))
    rep.note("open fds by kind after warm-up: %s; at the end: %s"
             % (dict(kinds_warm), dict(kinds_end)))
    rep.extra["fds_warm"] = dict(kinds_warm)
    rep.extra["fds_end"] = dict(kinds_end)
    rep.extra["samples"] = [dict(s, t=round(t - t0, 2)) for t, s in samples]
    rep.extra["verdict"] = v
    rep.extra["rss_warm"] = rss_warm
    rep.extra["rss_end"] = rss_end
    rep.extra["ops"] = dict(w.ops)
    rep.extra["status"] = {str(k): v for k, v in w.status.items()}
    rep.extra["problems"] = bad
    rep.extra["cpu"] = cpu.res


def sandbox_summary(sb):
    try:
        st = sb.stats()
    except Exception as e:  # noqa: BLE001 - a note only
        return repr(e)
    wh = st.get("webhooks") or {}
    return ("messages accepted %s; duplicates %d; webhooks sent (loaxad's "
            "answers): %s; replies %d"
            % ({k: v for k, v in st.get("messages", {}).items() if v},
               st.get("duplicates", 0),
               {k: (v.get("sent"), v.get("by_status")) for k, v in
                (wh.get("providers") or {}).items() if v.get("queued")},
               wh.get("replies", 0)))


def types_env(d, sb):
    return c.types.SimpleNamespace(d=d, sb=sb)


MAIN_KW = dict(households=5000, quick_households=2000, seconds=600,
               quick_seconds=120, add_args=add_args)


if __name__ == "__main__":
    c.main("soak", DOC, run, **MAIN_KW)
