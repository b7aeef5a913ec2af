#!/usr/bin/env python3
"""priority: an urgent notice overtakes a queue of normal deliveries.

A normal notice to every household of the big groups is materialised and
sending through a channel limited to --rate (100/s; the sandbox answers at
once), so almost all of it stays queued. Then an urgent notice goes to a
small group (20 households); the figure is the time from just before its
POST /v1/broadcasts to the arrival at the sandbox (its received_ms, same
clock) of its first message. Repeated --repeat times (3).
"""
import common as c

DOC = __doc__.split("\n\n")[0]
SMALL = 20


def add_args(p):
    p.add_argument("--rate", type=int, default=100,
                   help="channel rate, messages/s (default 100)")
    p.add_argument("--repeat", type=int, default=3)


def run(args, rep):
    n = args.households
    with c.Env(sandbox_args=c.sandbox_args(n), rate=args.rate,
               max_in_flight=8) as env:
        d, sb = env.d, env.sb
        c.import_households(d, n)
        c.import_households(d, SMALL, start=n, groups=[c.SMALL_GROUP[0]],
                            quiet=True)
        small = {c.zns_to(c.phone(i)) for i in range(n, n + SMALL)}
        b, _ = c.create_broadcast(d, c.notice(groups=c.BIG_GROUPS))
        c.wait_materialised(d, b["id"], n, interval=0.25)
        c.time.sleep(1.0)
        firsts, acks, status_ms = [], [], []
        for k in range(args.repeat):
            seq = sb.request("GET", "/_sandbox/messages?limit=1")[1][
                "last_seq"]
            t0 = c.time.time()
            u, ack = c.create_broadcast(d, c.notice(
                groups=[c.SMALL_GROUP[0]], priority="urgent",
                title="Cảnh báo khẩn %d" % k))
            acks.append(ack * 1000)
            got = None
            while got is None and c.time.time() - t0 < 30:
                m = sb.request("GET", "/_sandbox/messages?limit=100000"
                               "&since=%d" % seq)[1]
                for msg in m["messages"]:
                    if msg["to"] in small:
                        got = msg
                        break
                    seq = msg["seq"]
                if got is None:
                    c.time.sleep(0.005)
            if got is None:
                firsts.append(None)
                rep.note("urgent #%d: no message within 30 s" % k)
            else:
                firsts.append(got["received_ms"] - t0 * 1000)
            ub = c.get_broadcast(d, u["id"])
            status_ms.append(ub["counts"])
            c.time.sleep(1.0)
        q = d.ok("GET", "/v1/status")["queue"]
        nb = c.get_broadcast(d, b["id"])["counts"]
    ok = [f for f in firsts if f is not None]
    rep.add("urgent: creation to first message at the sandbox (worst of "
            "%d)" % args.repeat, max(ok) if ok else None, "ms", 500, "<")
    rep.add("urgent: each try", ", ".join(c.fmt(f) for f in firsts), "ms")
    rep.add("urgent: POST /v1/broadcasts answered (worst)", max(acks),
            "ms")
    rep.add("normal deliveries still queued at the end", nb["queued"], "")
    rep.note("channel rate %d/s, max_in_flight 8; status queue at the end: "
             "%r" % (args.rate, q))
    rep.extra["urgent_counts"] = status_ms


MAIN_KW = dict(households=c.FULL_HOUSEHOLDS,
               quick_households=c.QUICK_HOUSEHOLDS, add_args=add_args)


if __name__ == "__main__":
    c.main("priority", DOC, run, **MAIN_KW)
