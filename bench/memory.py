#!/usr/bin/env python3
"""memory: peak RSS of loaxad (VmHWM) over a whole broadcast to all
households, for a large and a small commune.

For each size: import the households, restart loaxad (so the import's own
peak is not counted), send one notice to all through the sandbox answering
at once (rate 0, max_in_flight 64) until every delivery is final, then read
VmHWM from /proc/PID/status. VmRSS is also sampled every 0.2 s.
"""
import common as c

DOC = __doc__.split("\n\n")[0]
MiB = 1024 * 1024


def add_args(p):
    p.add_argument("--small", type=int, default=10_000,
                   help="households of the small run (default 10000)")
    p.add_argument("--send-seconds", type=float, default=0,
                   help="cancel the broadcast after sending this long "
                   "(default 0: until every delivery is final)")


def one(n, send_seconds=0):
    with c.Env(sandbox_args=c.sandbox_args(n), rate=0,
               max_in_flight=64) as env:
        d = env.d
        c.import_households(d, n, quiet=True)
        hwm_import = d.rss().get("VmHWM")
        d.restart()
        hwm_idle = d.rss().get("VmHWM")
        sampler = c.rss_sampler(d)
        sampler.start()
        b, _ = c.create_broadcast(d, c.notice())
        t_mat, _ = c.wait_materialised(d, b["id"], n, interval=0.25)
        hwm_mat = d.rss().get("VmHWM")
        t_send = c.time.perf_counter()
        capped = False
        while True:
            bb = c.get_broadcast(d, b["id"])
            if bb["state"] in ("done", "cancelled"):
                break
            if send_seconds and c.time.perf_counter() - t_send > \
                    send_seconds:
                d.ok("POST", "/v1/broadcasts/%d/cancel" % b["id"])
                capped = True
            c.time.sleep(2.0)
        st = d.rss()
        samples = sampler.stop()
        return {"n": n, "hwm": st.get("VmHWM"), "rss_end": st.get("VmRSS"),
                "hwm_after_import": hwm_import,
                "hwm_idle_after_restart": hwm_idle,
                "hwm_after_materialise": hwm_mat,
                "rss_max_sampled": max(v for _, v in samples),
                "counts": bb["counts"], "capped": capped,
                "materialise_s": t_mat}


def run(args, rep):
    big = one(args.households, args.send_seconds)
    small = one(args.small, args.send_seconds)
    for r in (big, small):
        rep.add("VmHWM, broadcast to %d households" % r["n"],
                r["hwm"] / MiB, "MiB", 64 if r is big else None,
                "<" if r is big else None)
    ratio = big["hwm"] / small["hwm"]
    rep.add("VmHWM ratio %d / %d" % (big["n"], small["n"]), ratio, "",
            1.10, "<=")
    for r in (big, small):
        rep.add("  %d: VmHWM idle after restart / after materialising"
                % r["n"], "%.1f / %.1f" % (r["hwm_idle_after_restart"] / MiB,
                                           r["hwm_after_materialise"] / MiB),
                "MiB")
        rep.add("  %d: VmHWM during the import (setup, before restart)"
                % r["n"], r["hwm_after_import"] / MiB, "MiB")
    rep.note("the ratio's target is 'within 10 %%' (<= 1.10); sent: %d of "
             "%d%s and %d of %d" % (big["counts"]["sent"], big["n"],
                                   " (cancelled after %g s of sending)"
                                   % args.send_seconds if big["capped"]
                                   else "", small["counts"]["sent"],
                                   small["n"]))
    rep.extra["big"] = big
    rep.extra["small"] = small


MAIN_KW = dict(households=c.FULL_HOUSEHOLDS,
               quick_households=c.QUICK_HOUSEHOLDS, add_args=add_args)


if __name__ == "__main__":
    c.main("memory", DOC, run, **MAIN_KW)
