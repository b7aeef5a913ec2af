#!/usr/bin/env python3
"""outage: the provider goes down for minutes while a broadcast is sending;
loaxad's request rate during the outage, and the recovery.

One notice through one ZNS channel (--rate 50/s, --max-in-flight 8, the
circuit breaker at its defaults: 5 failures, 30 s cooldown; --quick 2 s)
to the sandbox. Phases, each --phase-seconds long (120; --quick 10),
after --baseline-seconds (20; --quick 5) of normal sending:
  refuse  the sandbox's 'refuse' rule: every request's connection is
          closed as soon as its headers are read, unanswered;
  503     HTTP 503 with Retry-After: --retry-after (10; --quick 2);
  429     HTTP 429 with Retry-After: --retry-after;
then the rules are dropped (recovery) and the broadcast must finish.
The sandbox counts every request (refused ones too); its per-second counts
are polled every second, with the broadcast's counts and the channel's
state (GET /v1/status).

Guarantees (exit 1 when violated): no delivery fails, expires or is
cancelled during the outage (the notice's deadline is 24 h away), every
household gets the message after the recovery. Figures: requests/s in
each phase against the rate before the outage (target: at most a tenth of
it), the largest number in one second, time to the first accepted message
and to the end after the recovery. This is the long version of
tests/integration/test_torture.py's TestOutage.
"""
import collections
import sys

import common as c

DOC = __doc__.split("\n\n")[0]

BAD = ("failed", "expired", "cancelled")


def add_args(p):
    p.add_argument("--phase-seconds", type=float, default=None,
                   help="length of each outage phase (default 120, "
                   "--quick 10)")
    p.add_argument("--baseline-seconds", type=float, default=None,
                   help="normal sending before the outage (default 20, "
                   "--quick 5)")
    p.add_argument("--households", type=int, default=None,
                   help="households (default: rate x (2 x baseline + 30 "
                   "s); --quick: + 10 s)")
    p.add_argument("--rate", type=int, default=50,
                   help="the channel's rate, messages/s (default 50)")
    p.add_argument("--max-in-flight", type=int, default=8,
                   help="the channel's max_in_flight (default 8)")
    p.add_argument("--breaker-failures", type=int, default=5,
                   help="breaker_failures (default 5, loaxad's default)")
    p.add_argument("--breaker-cooldown", default=None,
                   help="breaker_cooldown (default 30s, loaxad's default; "
                   "--quick 2s)")
    p.add_argument("--retry-after", type=int, default=None,
                   help="Retry-After of the 503 and 429 answers, s "
                   "(default 10, --quick 2)")
    p.add_argument("--phases", default="refuse,503,429",
                   help="the outage phases, in order (default "
                   "refuse,503,429; e.g. 429 alone: the breaker opened by "
                   "the first phase keeps later ones to a probe or two)")
    p.add_argument("--drain-timeout", type=float, default=1800,
                   help="seconds to wait for the end after the recovery "
                   "(default 1800)")


class Watch:
    """Samples the sandbox, the broadcast and the channel every second;
    keeps the sandbox's per-second counts (it holds only 120 s)."""

    def __init__(self, env, bid):
        self.env, self.bid = env, bid
        self.per_sec = {}           # t -> (n, ok)
        self.samples = []
        self.bad_seen = []

    def sample(self, phase, t0):
        st = self.env.sb.stats()
        for p in st["per_second"]:
            if p["provider"] == "zns":
                self.per_sec[p["t"]] = (p["n"], p["ok"])
        b = c.get_broadcast(self.env.d, self.bid)
        s = self.env.d.ok("GET", "/v1/status", status=(200,))
        ch = next((x for x in s.get("channels", [])
                   if x.get("name") == "zns"), {})
        cnt = b["counts"]
        smp = {"t": round(c.time.perf_counter() - t0, 2),
               "wall": c.time.time(), "phase": phase,
               "requests": st["requests"].get("zns", 0),
               "accepted": st["messages"].get("zns", 0),
               "counts": cnt, "state": ch.get("state"),
               "in_flight": ch.get("in_flight"),
               "broadcast_state": b["state"]}
        self.samples.append(smp)
        bad = {k: cnt.get(k, 0) for k in BAD if cnt.get(k, 0)}
        if bad:
            self.bad_seen.append((phase, smp["t"], bad))
        return smp


def run(args, rep):
    q = args.quick
    if args.phase_seconds is None:
        args.phase_seconds = 10.0 if q else 120.0
    if args.baseline_seconds is None:
        args.baseline_seconds = 5.0 if q else 20.0
    if args.breaker_cooldown is None:
        args.breaker_cooldown = "2s" if q else "30s"
    if args.retry_after is None:
        args.retry_after = 2 if q else 10
    if args.households is None:
        args.households = int(args.rate * (2 * args.baseline_seconds +
                                           (10 if q else 30)))
    for k in ("phase_seconds", "baseline_seconds", "breaker_cooldown",
              "retry_after", "households"):
        rep.args[k] = getattr(args, k)
    n = args.households
    ra = args.retry_after
    rules = {"refuse": {"mode": "refuse"},
             "503": {"mode": "503", "retry_after": ra},
             "429": {"mode": "429", "retry_after": ra}}
    phases = []
    for name in (x.strip() for x in args.phases.split(",") if x.strip()):
        if name not in rules:
            sys.exit("bench/outage: unknown phase %r (known: refuse, 503, "
                     "429)" % name)
        phases.append((name, rules[name]))
    sargs = ["--zns-quota", str(max(10 * n, 1_000_000)), "--max-records",
             str(max(4 * n, 1000)), "--max-connections", "4096"]
    ck = {"breaker_failures": str(args.breaker_failures),
          "breaker_cooldown": args.breaker_cooldown}
    with c.Env(sandbox_args=sargs, rate=args.rate,
               max_in_flight=args.max_in_flight, channel_extra=ck) as env:
        d, sb = env.d, env.sb
        c.import_households(d, n, quiet=True)
        b, _ = c.create_broadcast(d, c.notice(
            title="Thử mất kết nối", body="Tin thử: nhà cung cấp ngừng "
            "dịch vụ trong lúc gửi."))
        bid = b["id"]
        w = Watch(env, bid)
        t0 = c.time.perf_counter()
        spans = []   # (name, wall start, wall end, perf start, perf end)

        def hold(name, secs):
            ws, ps = c.time.time(), c.time.perf_counter()
            end = ps + secs
            while True:
                w.sample(name, t0)
                left = end - c.time.perf_counter()
                if left <= 0:
                    break
                c.time.sleep(min(1.0, left))
            spans.append((name, ws, c.time.time(), ps,
                          c.time.perf_counter()))
            c.progress("%s: %s" % (name, w.samples[-1]))

        hold("before", args.baseline_seconds)
        for name, rule in phases:
            sb.behaviour(dict(rule, provider="zns"))
            hold(name, args.phase_seconds)
        sb.clear_behaviour()
        t_rec, p_rec = c.time.time(), c.time.perf_counter()
        first_ok = None
        acc_at_rec = w.samples[-1]["accepted"]
        deadline = p_rec + args.drain_timeout
        last = None
        while True:
            last = w.sample("recovery", t0)
            if first_ok is None and last["accepted"] > acc_at_rec:
                first_ok = c.time.perf_counter() - p_rec
            if last["broadcast_state"] == "done" and \
                    last["counts"]["queued"] == 0 and \
                    last["counts"]["sending"] == 0:
                break
            if c.time.perf_counter() > deadline:
                break
            c.time.sleep(0.5)
        drain_s = c.time.perf_counter() - p_rec
        spans.append(("recovery", t_rec, c.time.time(), p_rec,
                      c.time.perf_counter()))
        st = sb.stats()
        msgs = sb.messages(provider="zns", status="ok", limit=4 * n + 10)
        dl = c.all_deliveries(d, bid)
        ch_final = last["state"]

    # ---- per phase ----
    req_at = {}     # phase -> (requests at start, at end)
    acc_at = {}
    prev = None
    for smp in w.samples:
        ph = smp["phase"]
        if ph not in req_at:
            start = prev or {"requests": 0, "accepted": 0}
            req_at[ph] = [start["requests"], smp["requests"]]
            acc_at[ph] = [start["accepted"], smp["accepted"]]
        req_at[ph][1] = smp["requests"]
        acc_at[ph][1] = smp["accepted"]
        prev = smp
    rows = []
    base = None
    for name, ws, we, ps, pe in spans:
        dur = pe - ps
        nreq = req_at[name][1] - req_at[name][0]
        nacc = acc_at[name][1] - acc_at[name][0]
        secs = [v[0] for t, v in w.per_sec.items()
                if ws <= t and t + 1 <= we]
        states = collections.Counter(s["state"] for s in w.samples
                                     if s["phase"] == name)
        rps = nreq / dur if dur > 0 else None
        if name == "before":
            base = rps
        rows.append({"phase": name, "seconds": round(dur, 1),
                     "requests": nreq, "accepted": nacc,
                     "req_per_s": rps,
                     "max_in_1s": max(secs) if secs else None,
                     "vs_before": rps / base if base and rps is not None
                     else None,
                     "channel_states": dict(states)})
    c.print_table(
        ("phase", "seconds", "requests", "accepted", "req/s",
         "max in 1 s", "x before", "channel state (samples)"),
        [(r["phase"], r["seconds"], r["requests"], r["accepted"],
          r["req_per_s"], r["max_in_1s"],
          "-" if r["vs_before"] is None else "%.3f" % r["vs_before"],
          ", ".join("%s %d" % kv for kv in r["channel_states"].items()))
         for r in rows],
        title="\nper phase (requests: what the sandbox received, refused "
              "ones included):")

    # ---- the verdict ----
    bad = []
    for ph, t, counts in w.bad_seen:
        bad.append("during %s at %.1f s: %r" % (ph, t, counts))
        if len(bad) > 5:
            break
    by_status = collections.Counter(x["status"] for x in dl)
    want = {"84" + c.phone(i)[1:] for i in range(n)}
    got = {m["to"] for m in msgs}
    if len(dl) != n:
        bad.append("%d deliveries for %d households" % (len(dl), n))
    sent = sum(by_status.get(k, 0) for k in ("sent", "delivered", "read"))
    if sent != n:
        bad.append("after the recovery %d of %d sent (%.0f s): %r"
                   % (sent, n, args.drain_timeout, dict(by_status)))
    if want - got:
        bad.append("%d households the sandbox never got a message for"
                   % len(want - got))
    flagged = sum(1 for x in dl if x["possible_duplicate"])
    outage = [r for r in rows if r["phase"] in ("refuse", "503", "429")]
    for r in rows:
        if r["phase"] in ("refuse", "503", "429"):
            rep.add("%s phase (%.0f s): requests/s vs %.1f/s before"
                    % (r["phase"], r["seconds"], base or 0),
                    r["req_per_s"], "req/s",
                    0.1 * base if base else None, "<=")
            rep.add("%s phase: max requests in one second; total"
                    % r["phase"], "%s; %s" % (c.fmt(r["max_in_1s"]),
                                              c.fmt(r["requests"])), "")
    rep.add("before the outage: requests/s (channel rate %d)" % args.rate,
            base, "req/s")
    tot = sum(r["requests"] for r in outage)
    secs = sum(r["seconds"] for r in outage)
    rep.add("whole outage: requests/s", tot / secs if secs else None,
            "req/s", 0.1 * base if base else None, "<=")
    rep.add("deliveries failed/expired/cancelled during the outage",
            len(w.bad_seen), "samples", 0, "<=")
    rep.add("recovery: first accepted message after", first_ok, "s")
    rep.add("recovery: all %d final after (drained %d)"
            % (n, acc_at["recovery"][1] - acc_at["recovery"][0]),
            drain_s, "s")
    rep.add("deliveries sent / of households", "%s / %s"
            % (c.fmt(sent), c.fmt(n)), "")
    rep.add("flagged possible_duplicate; sandbox duplicates",
            "%d; %d" % (flagged, st["duplicates"]), "")
    rep.add("channel state at the end", ch_final or "-", "")
    rep.add("guarantees violated (see the notes)", len(bad), "", 0, "<=")
    rep.add("VERDICT", "PASS" if not bad else "FAIL: %d violation(s)"
            % len(bad), "")
    for v in bad:
        rep.note("VIOLATION: " + v)
    rep.note("channel: rate %d, max_in_flight %d, breaker_failures %d, "
             "breaker_cooldown %s; [broadcast] retry_initial 1s, retry_max "
             "2s; Retry-After %d s" % (args.rate, args.max_in_flight,
                                       args.breaker_failures,
                                       args.breaker_cooldown, ra))
    if flagged:
        rep.note("possible_duplicate: requests whose connection was closed "
                 "unanswered may have reached the provider, so loaxad "
                 "flags them (the sandbox processed none of them: its "
                 "duplicates count is the truth here)")
    rep.extra.update({"phases": rows, "violations": bad,
                      "deliveries_by_status": dict(by_status),
                      "sandbox_by_status": st["by_status"].get("zns"),
                      "per_second": sorted(w.per_sec.items()),
                      "samples": [{k: v for k, v in s.items()
                                   if k != "wall"} for s in w.samples]})


MAIN_KW = dict(add_args=add_args)


if __name__ == "__main__":
    r = c.main("outage", DOC, run, **MAIN_KW)
    sys.exit(1 if r.extra.get("violations") else 0)
