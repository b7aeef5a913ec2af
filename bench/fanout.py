#!/usr/bin/env python3
"""fanout: one notice to every household (groups "all", send_at now).

Figures: how long POST /v1/broadcasts takes to answer; how long until wave 0
holds one delivery per household and is no longer materialising; the
latency of GET /v1/status, sampled every 20 ms on a fresh unix-socket
connection while a broadcast materialises.

Two broadcasts run on the same daemon, one after the other:
 1. undisturbed: the end of materialisation is seen in loaxad's log ("wave
    0: N deliveries", read from its stderr file every 10 ms, which costs
    loaxad nothing) and then checked once with GET /v1/broadcasts/ID
    (waves[0].total == N, state no longer materialising). Polling that GET
    instead would measure the poller: at 1,000,000 households one GET
    holds loaxad's loop for about as long as a chunk of materialisation.
 2. the same again with the /v1/status sampler running.

Dispatch is kept out of the way by a channel limited to 1 message/s (the
sandbox answers at once): the broadcasts run as they would, only slowly.
"""
import common as c

DOC = __doc__.split("\n\n")[0]


def add_args(p):
    p.add_argument("--fanout-chunk", type=int, default=None,
                   help="[broadcast] fanout_chunk (default: loaxad's, 5000)")
    p.add_argument("--status-interval", type=float, default=0.020,
                   help="seconds between /v1/status samples (default 0.02)")


def materialise(d, n, timeout=900):
    """Create a notice to all; wait for its 'wave 0: n deliveries' log
    line. (broadcast, ack seconds, seconds from before the POST until the
    line was seen, the object read afterwards)."""
    since = d.log_size()
    t0 = c.time.perf_counter()
    b, ack = c.create_broadcast(d, c.notice())
    needle = "broadcast %d wave 0: %d deliveries" % (b["id"], n)
    while needle not in d.log()[since:]:
        if c.time.perf_counter() - t0 > timeout:
            raise RuntimeError("no %r in loaxad's log after %d s"
                               % (needle, timeout))
        c.time.sleep(0.01)
    t_mat = c.time.perf_counter() - t0
    bb = c.get_broadcast(d, b["id"])
    if not c.materialised(bb, n):
        raise RuntimeError("log says materialised, API says %r"
                           % bb.get("waves"))
    return b, ack, t_mat, bb


def run(args, rep):
    n = args.households
    rep.note("dispatch held back by a channel rate of 1/s (sandbox "
             "answering at once); broadcasts not paused")
    rep.note("fanout_chunk = %s" % (args.fanout_chunk or "default (5000)"))
    with c.Env(sandbox_args=c.sandbox_args(n), rate=1, max_in_flight=8,
               fanout_chunk=args.fanout_chunk) as env:
        d = env.d
        t = c.import_households(d, n)
        rep.add("import of households (setup)", t, "s")
        idle = [c.timed_get(d, "/v1/status") * 1000 for _ in range(20)]
        cpu = c.CpuMeter(env).start()
        b1, ack1, t1, bb1 = materialise(d, n)
        cpu.stop()
        g = c.timed_get(d, "/v1/broadcasts/%d" % b1["id"]) * 1000
        rep.add("POST /v1/broadcasts acknowledged", ack1 * 1000, "ms",
                200, "<")
        rep.add("all %d deliveries materialised (undisturbed)" % n, t1,
                "s", 5, "<")
        rep.add("materialisation rate", n / t1, "deliveries/s")
        rep.note("materialisation: " + cpu.text())
        st = c.Sampler(lambda: c.timed_get(d, "/v1/status"),
                       args.status_interval)
        st.start()
        c.time.sleep(0.3)
        t0 = c.time.perf_counter()
        b2, ack2, t2, bb2 = materialise(d, n)
        samples = st.stop()
        during = [v * 1000 for (ts, v) in samples if t0 <= ts <= t0 + t2]
        rep.add("/v1/status p50 during materialisation",
                c.pct(during, 50), "ms", 50, "<")
        rep.add("/v1/status p99 during materialisation",
                c.pct(during, 99), "ms", 50, "<")
        rep.add("/v1/status max during materialisation",
                max(during) if during else None, "ms")
        rep.add("/v1/status samples during materialisation", len(during),
                "")
        rep.add("/v1/status p50 / max when idle (before, 20 calls)",
                "%s / %s" % (c.fmt(c.pct(idle, 50)), c.fmt(max(idle))),
                "ms")
        rep.add("materialisation with the status sampler running", t2, "s")
        rep.add("POST /v1/broadcasts acknowledged (2nd broadcast)",
                ack2 * 1000, "ms", 200, "<")
        rep.add("GET /v1/broadcasts/ID after materialisation", g, "ms")
        if st.errors:
            rep.note("status sampler errors: %d, first %s"
                     % (len(st.errors), st.errors[0]))
        rep.extra["status_ms_during"] = [round(x, 2) for x in during]
        rep.extra["broadcasts"] = [{k: x.get(k) for k in
                                    ("id", "counts", "waves", "state")}
                                   for x in (bb1, bb2)]


MAIN_KW = dict(households=c.FULL_HOUSEHOLDS,
               quick_households=c.QUICK_HOUSEHOLDS, add_args=add_args)


if __name__ == "__main__":
    c.main("fanout", DOC, run, **MAIN_KW)
