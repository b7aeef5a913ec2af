#!/usr/bin/env python3
"""restart: SIGTERM loaxad with a large queue, start it again.

A notice to every household is materialised and sending through a channel
limited to 100/s, so nearly all deliveries are queued. loaxad is stopped
with SIGTERM (time to exit) and started again: the figure is the time from
before its exec to READY=1 on NOTIFY_SOCKET. Repeated --repeat times (3).
Also: time from READY=1 to the next message at the sandbox.
"""
import common as c

DOC = __doc__.split("\n\n")[0]


def add_args(p):
    p.add_argument("--repeat", type=int, default=3)


def run(args, rep):
    n = args.households
    with c.Env(sandbox_args=c.sandbox_args(n), rate=100,
               max_in_flight=8) as env:
        d, sb = env.d, env.sb
        c.import_households(d, n)
        b, _ = c.create_broadcast(d, c.notice())
        c.wait_materialised(d, b["id"], n, interval=0.25)
        c.time.sleep(1.0)
        stops, starts, resumes = [], [], []
        for _ in range(args.repeat):
            queued = c.get_broadcast(d, b["id"])["counts"]["queued"]
            t_stop, rc = d.timed_stop()
            if rc != 0:
                raise RuntimeError("loaxad exited %r on SIGTERM" % rc)
            stops.append(t_stop * 1000)
            before = sb.stats()["messages"].get("zns", 0)
            t_start = d.timed_start()
            starts.append(t_start * 1000)
            t1 = c.time.perf_counter()
            while sb.stats()["messages"].get("zns", 0) == before and \
                    c.time.perf_counter() - t1 < 30:
                c.time.sleep(0.005)
            resumes.append((c.time.perf_counter() - t1) * 1000)
            c.time.sleep(1.0)
        rep.add("exec to READY=1 with %d deliveries queued (worst of %d)"
                % (queued, args.repeat), max(starts), "ms", 1000, "<")
        rep.add("exec to READY=1, each", ", ".join(c.fmt(x)
                                                   for x in starts), "ms")
        rep.add("SIGTERM to exit, each", ", ".join(c.fmt(x)
                                                  for x in stops), "ms")
        rep.add("READY=1 to next message at the sandbox, each",
                ", ".join(c.fmt(x) for x in resumes), "ms")
        rep.add("first start (empty database)", env.ready_s * 1000, "ms")
        rep.extra["log_tail"] = d.log_tail(20).splitlines()


MAIN_KW = dict(households=c.FULL_HOUSEHOLDS,
               quick_households=c.QUICK_HOUSEHOLDS, add_args=add_args)


if __name__ == "__main__":
    c.main("restart", DOC, run, **MAIN_KW)
