#!/usr/bin/env python3
"""ratelimit: a channel with rate = 50 sending for --seconds (60).

The sandbox counts requests per wall-clock second (per_second) and over a
sliding 1000 ms window (max_per_1000ms): every full second should see
50 +- 1, and no window more than 50.
"""
import common as c

DOC = __doc__.split("\n\n")[0]
RATE = 50


def run(args, rep):
    secs = args.seconds
    if secs > 110:
        rep.note("the sandbox keeps 120 s of per-second counts: figures "
                 "cover the last ~110 s")
    n = int(RATE * secs + 10 * RATE)
    sargs = c.sandbox_args(n, extra=["--max-records", str(n)])
    with c.Env(sandbox_args=sargs, rate=RATE,
               max_in_flight=8) as env:
        d, sb = env.d, env.sb
        c.import_households(d, n, quiet=True)
        b, _ = c.create_broadcast(d, c.notice())
        while sb.stats()["messages"].get("zns", 0) == 0:
            c.time.sleep(0.01)
        c.time.sleep(secs)
        st = sb.stats()
        msgs = sb.messages(provider="zns", limit=n)
        d.ok("POST", "/v1/broadcasts/%d/cancel" % b["id"])
    per = sorted((p["t"], p["n"]) for p in st["per_second"]
                 if p["provider"] == "zns")
    full = per[1:-1]   # the first and last seconds are partial
    ns = [v for _, v in full]
    inside = sum(1 for v in ns if RATE - 1 <= v <= RATE + 1)
    rep.add("full seconds observed", len(ns), "s")
    rep.add("seconds within 50 +- 1", inside, "s", len(ns), ">=")
    rep.add("per-second count min / mean / max",
            "%d / %.2f / %d" % (min(ns), sum(ns) / len(ns), max(ns))
            if ns else "-", "msg")
    rep.add("max_per_second (wall-clock seconds)",
            st["max_per_second"].get("zns"), "msg", RATE, "<=")
    rep.add("max_per_1000ms (sliding window)",
            st["max_per_1000ms"].get("zns"), "msg", RATE, "<=")
    times = sorted(m["received_ms"] for m in msgs)
    best, j, at = 0, 0, None
    for i in range(len(times)):
        while times[i] - times[j] >= 1000:
            j += 1
        if i - j + 1 > best:
            best, at = i - j + 1, times[j] - times[0]
    rep.add("densest 1000 ms window, from recorded arrivals", best, "msg",
            RATE, "<=")
    rep.add("  it starts this long after the first message", at, "ms")
    tail = [t for t in times if t >= times[0] + 2000]
    best2, j = 0, 0
    for i in range(len(tail)):
        while tail[i] - tail[j] >= 1000:
            j += 1
        best2 = max(best2, i - j + 1)
    rep.add("densest 1000 ms window after the first 2 s", best2, "msg",
            RATE, "<=")
    rep.add("messages accepted in the run", st["messages"].get("zns"),
            "msg")
    rep.extra["per_second"] = per


MAIN_KW = dict(seconds=60, quick_seconds=15)


if __name__ == "__main__":
    c.main("ratelimit", DOC, run, **MAIN_KW)
