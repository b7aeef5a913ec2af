#!/usr/bin/env python3
"""dispatch: how fast loaxad sends a broadcast through one ZNS channel
(rate 0 = unlimited) to the sandbox.

Part 1: the sandbox answers at once; one notice to every household. The
sandbox's accepted count is polled every 0.25 s; the 'sent' count of GET
/v1/broadcasts/ID (read from the database: persisted state changes) every
2 s (or less often, so that these GETs take under 5 % of the time), until
every delivery is final (polling it more often slows loaxad down: the GET
holds its loop while it counts). The sustained rate is taken
between 10 % and 90 % of the messages.

Part 2: the sandbox answers after --latency ms (50); for each max_in_flight
(64, 256) the achieved rate is compared with max_in_flight / latency.
"""
import math

import common as c

DOC = __doc__.split("\n\n")[0]


def add_args(p):
    p.add_argument("--max-in-flight", type=int, default=64,
                   help="max_in_flight of part 1 (default 64)")
    p.add_argument("--latency", type=int, default=50,
                   help="sandbox latency of part 2, ms (default 50)")
    p.add_argument("--max-seconds", type=float, default=900,
                   help="stop part 1 after this long (default 900)")
    p.add_argument("--latency-in-flight", default="64,256",
                   help="max_in_flight values of part 2 (default 64,256)")


def crossing(samples, level):
    """Interpolated time at which the count first reached level."""
    prev = None
    for t, v in samples:
        if v >= level:
            if prev is None or v == prev[1]:
                return t
            return prev[0] + (t - prev[0]) * (level - prev[1]) / (v -
                                                                 prev[1])
        prev = (t, v)
    return None


def one(rep, label, n, latency, mif, seconds_cap=900.0, db_every=2.0):
    """Send one broadcast to n households; returns figures.

    The sandbox's accepted count is polled every 0.25 s (cheap, outside
    loaxad); the persisted 'sent' count (GET /v1/broadcasts/ID, which
    blocks loaxad's loop while it counts) only every db_every seconds."""
    sargs = c.sandbox_args(n, latency=latency)
    with c.Env(sandbox_args=sargs, rate=0, max_in_flight=mif) as env:
        d = env.d
        c.import_households(d, n, quiet=True)
        cpu = c.CpuMeter(env).start()
        b, _ = c.create_broadcast(d, c.notice())
        bid = b["id"]
        t0 = c.time.perf_counter()
        acc, sent, gets = [], [], []
        next_db = 0.0
        last = None
        while True:
            t = c.time.perf_counter() - t0
            acc.append((t, env.sb.stats()["messages"].get("zns", 0)))
            if t >= next_db or acc[-1][1] >= n:
                t1 = c.time.perf_counter()
                bb = c.get_broadcast(d, bid)
                gets.append(c.time.perf_counter() - t1)
                sent.append((t1 - t0, bb["counts"]["sent"]))
                # keep the GETs under ~5 % of loaxad's time
                next_db = t + max(db_every, 20 * gets[-1])
                if c.final_count(bb) >= n and bb["state"] == "done":
                    last = bb
                    break
                if t > seconds_cap:
                    last = bb
                    rep.note("%s: stopped after %d s at %d sent"
                             % (label, seconds_cap, bb["counts"]["sent"]))
                    break
            c.time.sleep(0.25)
        cpu.stop()
        a = crossing(acc, 0.1 * n)
        z = crossing(acc, 0.9 * n)
        if a is not None and z is None:    # stopped early: up to the end
            z = acc[-1][0]
            n_win = acc[-1][1] - 0.1 * n
        else:
            n_win = 0.8 * n
        by_min = []
        for i in range(0, len(acc)):
            if acc[i][0] >= 60 * (len(by_min) + 1):
                prev = sum(by_min)
                by_min.append(acc[i][1] - prev)
        sustained = n_win / (z - a) if a is not None and z and z > a \
            else None
        da = crossing(sent, 0.1 * n)
        dz = crossing(sent, 0.9 * n)
        db_sustained = 0.8 * n / (dz - da) if da is not None and dz and \
            dz > da else None
        total_t = sent[-1][0]
        stats = env.sb.stats()
        rates = []  # over 1 s (every 4th sample)
        for i in range(4, len(acc)):
            dt = acc[i][0] - acc[i - 4][0]
            if dt > 0 and acc[i][1] < n:
                rates.append((acc[i][1] - acc[i - 4][1]) / dt)
        res = {"n": n, "latency_ms": latency, "max_in_flight": mif,
               "sustained": sustained, "db_sustained": db_sustained,
               "total_s": total_t,
               "overall": last["counts"]["sent"] / total_t if total_t
               else None,
               "first_accepted_s": crossing(acc, 1),
               "counts": last["counts"],
               "sandbox_messages": stats["messages"].get("zns"),
               "sandbox_duplicates": stats["duplicates"],
               "sandbox_max_per_second": stats["max_per_second"].get("zns"),
               "rate_p10": c.pct(rates, 10), "rate_p50": c.pct(rates, 50),
               "rate_p90": c.pct(rates, 90),
               "accepted_per_minute": by_min,
               "get_broadcast_ms_p50": c.pct(gets, 50) * 1000,
               "get_broadcast_ms_max": max(gets) * 1000,
               "cpu": cpu.res, "cpu_text": cpu.text(),
               "accepted_samples": [(round(t, 2), v) for t, v in acc],
               "sent_samples": [(round(t, 2), v) for t, v in sent]}
        res["dispatch_log_tail"] = c.log_lines(d, "[dispatch]")[-5:]
        return res


def run(args, rep):
    n = args.households
    r1 = one(rep, "latency 0", n, 0, args.max_in_flight,
             seconds_cap=args.max_seconds)
    rep.add("latency 0, max_in_flight %d: sustained (10%%..90%% "
            "accepted)" % args.max_in_flight, r1["sustained"], "msg/s",
            10000, ">=")
    rep.add("latency 0: same from persisted 'sent' counts",
            r1["db_sustained"], "msg/s", 10000, ">=")
    rep.add("latency 0: overall (create to all final)", r1["overall"],
            "msg/s")
    rep.add("latency 0: GET /v1/broadcasts/ID p50 / max while sending",
            "%s / %s" % (c.fmt(r1["get_broadcast_ms_p50"]),
                         c.fmt(r1["get_broadcast_ms_max"])), "ms")
    rep.add("latency 0: 1 s-window rate p10 / p50 / p90",
            "%s / %s / %s" % tuple(c.fmt(r1[k]) for k in
                                   ("rate_p10", "rate_p50", "rate_p90")),
            "msg/s")
    rep.add("latency 0: sandbox max per wall-clock second",
            r1["sandbox_max_per_second"], "msg/s")
    rep.add("latency 0: sent / sandbox accepted / duplicates",
            "%d / %s / %s" % (r1["counts"]["sent"], r1["sandbox_messages"],
                              r1["sandbox_duplicates"]), "")
    rep.add("latency 0: messages accepted in each minute",
            ", ".join(c.fmt(x) for x in r1["accepted_per_minute"]) or "-",
            "")
    rep.add("latency 0: time to first accepted message",
            r1["first_accepted_s"], "s")
    rep.note("latency 0: " + r1["cpu_text"])
    rep.extra["latency0"] = r1
    lat = args.latency
    for mif in [int(x) for x in args.latency_in_flight.split(",") if x]:
        ideal = mif * 1000.0 / lat
        m = int(min(n, math.ceil(ideal * args.seconds)))
        r = one(rep, "latency %d" % lat, m, lat, mif)
        rep.add("latency %d ms, max_in_flight %d: sustained (%d msgs; "
                "ideal %.0f/s)" % (lat, mif, m, ideal), r["sustained"],
                "msg/s", 0.8 * ideal, ">=", ratio=(r["sustained"] or 0) /
                ideal)
        rep.note("latency %d, max_in_flight %d: %s" % (lat, mif,
                                                       r["cpu_text"]))
        rep.extra["latency%d_mif%d" % (lat, mif)] = r
    rep.note("ratio of the latency rows is achieved / (max_in_flight / "
             "latency); target >= 0.8 of that")


MAIN_KW = dict(households=c.FULL_HOUSEHOLDS,
               quick_households=c.QUICK_HOUSEHOLDS, seconds=20,
               quick_seconds=6, add_args=add_args)


if __name__ == "__main__":
    c.main("dispatch", DOC, run, **MAIN_KW)
