#!/usr/bin/env python3
"""crash: kill -9 loaxad at random moments of a broadcast and check that
nothing is lost and every duplicate is flagged.

One notice to --households households (100,000; --quick 10,000) through one
ZNS channel (rate 0, --max-in-flight 64) to the sandbox answering after
--latency ms (20), which records every message to a file. loaxad is killed
with SIGKILL --kills times (20) and restarted each time (the restart is
timed to READY=1). The kill moments are random (--seed), spread so that
they fall while the broadcast is sending: each wait is uniform in
[0.2, 1.8] x (the time the rest is expected to take / (kills left + 1)),
the rate being measured as it goes.

At each kill the killed daemon's database is read directly: how many
deliveries were final, and how many were 'sending' (committed as in flight:
the only ones whose fate is in doubt). At the end, the guarantees
(README, "Delivery guarantee"):
  - every household has exactly one delivery, in a final state, 'sent';
  - every delivery the provider accepted carries the provider's msg_id;
  - the messages the sandbox received more than once are at most the sum
    of the deliveries in flight at the kills (and at most kills x
    max_in_flight), and each belongs to a delivery flagged
    possible_duplicate.
Exits 1 when a guarantee is violated (the figures are printed first).
This is the long version of tests/integration/test_crash.py.
"""
import collections
import os
import random
import shutil
import sys

import common as c

DOC = __doc__.split("\n\n")[0]

# The sandbox's accepted duplicates are keyed by phone + tracking_id.
IDEM_KEY = "bench-crash-1"


def add_args(p):
    p.add_argument("--kills", type=int, default=None,
                   help="kill -9 and restart this many times (default 20, "
                   "--quick 8)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the kill moments (default: random, "
                   "printed)")
    p.add_argument("--latency", type=int, default=20,
                   help="sandbox answer latency, ms (default 20)")
    p.add_argument("--max-in-flight", type=int, default=64,
                   help="max_in_flight of the channel (default 64)")
    p.add_argument("--finish-timeout", type=float, default=900,
                   help="seconds to wait for the end after the last "
                   "restart (default 900)")


def notice_body():
    return c.notice(title="Thử tắt đột ngột",
                    body="Tin thử: loaxad bị tắt đột ngột khi đang gửi.")


def run(args, rep):
    n = args.households
    if args.kills is None:
        args.kills = 8 if args.quick else 20
        rep.args["kills"] = args.kills
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    rep.extra["seed"] = seed
    c.progress("seed %d (rerun with --seed %d)" % (seed, seed))
    rec_dir = c._mkdtemp("crash-rec-")
    rec_path = os.path.join(rec_dir, "sent.jsonl")
    sargs = c.sandbox_args(n, latency=args.latency,
                           extra=["--record", rec_path])
    mif = args.max_in_flight
    try:
        with c.Env(sandbox_args=sargs, rate=0, max_in_flight=mif) as env:
            run_env(args, rep, env, n, rng, mif, rec_path)
    finally:
        shutil.rmtree(rec_dir, ignore_errors=True)


def run_env(args, rep, env, n, rng, mif, rec_path):
    d, sb = env.d, env.sb
    c.import_households(d, n, quiet=True)
    t = c.time.perf_counter()
    b = d.ok("POST", "/v1/broadcasts", notice_body(), status=(201,),
             headers={"Idempotency-Key": IDEM_KEY})
    api_s = c.time.perf_counter() - t
    bid = b["id"]
    t0 = c.time.perf_counter()
    # kill schedule: expected rate at first half of the ideal
    rate = 0.5 * mif * 1000.0 / max(1, args.latency)
    kills = []
    prev_final, alive_since = 0, t0
    idem_ok = True
    for k in range(args.kills):
        left = max(1, n - prev_final)
        mean = left / rate / (args.kills - k + 1)
        c.time.sleep(max(0.05, rng.uniform(0.2, 1.8) * mean))
        t_kill = c.time.perf_counter()
        d.kill()
        alive = t_kill - alive_since
        db = c.db_status_counts(d.db_path, bid)
        final = sum(db[s] for s in c.FINAL)
        if alive > 0.2 and final > prev_final:
            seg = (final - prev_final) / alive
            rate = seg if not kills else 0.5 * rate + 0.5 * seg
        ready_s = d.timed_start()
        alive_since = c.time.perf_counter()
        again = d.request("POST", "/v1/broadcasts", body=notice_body(),
                          headers={"Idempotency-Key": IDEM_KEY}, timeout=60)
        if again.status not in (200, 201) or again.body.get("id") != bid:
            idem_ok = False
        kills.append({"kill": k + 1, "t_s": round(t_kill - t0, 3),
                      "materialised": db["total"], "final": final,
                      "sending": db["sending"], "queued": db["queued"],
                      "flagged": db["possible_duplicate"],
                      "ready_ms": round(ready_s * 1000, 1)})
        c.progress("kill %d at %.2f s: %d final, %d sending; ready in "
                   "%.0f ms" % (k + 1, t_kill - t0, final, db["sending"],
                                ready_s * 1000))
        prev_final = final
    t_last = c.time.perf_counter()
    # the end
    deadline = t_last + args.finish_timeout
    while True:
        bb = c.get_broadcast(d, bid)
        if bb["progress"]["final"] >= n and bb["counts"]["sending"] == 0 \
                and bb["state"] == "done":
            break
        if c.time.perf_counter() > deadline:
            break
        c.time.sleep(0.25)
    t_end = c.time.perf_counter()
    dl = c.all_deliveries(d, bid)
    nb = len(d.ok("GET", "/v1/broadcasts", status=(200,))["broadcasts"])
    stats = sb.stats()
    sb.stop()                   # flushes the record file
    recs = c.read_record(rec_path)

    c.print_table(
        ("kill", "t (s)", "materialised", "final so far", "in flight",
         "queued", "flagged so far", "restart->READY (ms)"),
        [(x["kill"], x["t_s"], x["materialised"], x["final"], x["sending"],
          x["queued"], x["flagged"], x["ready_ms"]) for x in kills],
        title="\nper kill (t from the broadcast's creation; counts from "
              "the killed daemon's database; in flight = 'sending'):")

    # ---- the verdict ----
    bad = []
    want = {"+84" + c.phone(i)[1:] for i in range(n)}
    by_status = collections.Counter(x["status"] for x in dl)
    hh = collections.Counter(x["household_id"] for x in dl)
    if bb["state"] != "done":
        bad.append("broadcast not done %.0f s after the last restart: "
                   "state %s, counts %r" % (args.finish_timeout, bb["state"],
                                            bb["counts"]))
    if nb != 1:
        bad.append("%d broadcasts (the idempotent create made another)"
                   % nb)
    if not idem_ok:
        bad.append("the create with the same Idempotency-Key did not "
                   "return broadcast %d after a restart" % bid)
    if len(dl) != n:
        bad.append("%d deliveries for %d households" % (len(dl), n))
    more = [h for h, k in hh.items() if k > 1]
    if more:
        bad.append("%d households with more than one delivery" % len(more))
    got_phones = {x["phone"] for x in dl}
    lost = want - got_phones
    if lost:
        bad.append("%d households without a delivery" % len(lost))
    not_final = sum(v for s, v in by_status.items() if s not in c.FINAL)
    if not_final:
        bad.append("%d deliveries not final: %r" % (not_final,
                                                    dict(by_status)))
    not_sent = sum(v for s, v in by_status.items()
                   if s in c.FINAL and s not in ("sent", "delivered",
                                                 "read"))
    if not_sent:
        bad.append("%d deliveries final but not sent: %r"
                   % (not_sent, dict(by_status)))

    acc = collections.defaultdict(list)
    for m in recs:
        if m.get("provider") == "zns" and m.get("accepted"):
            acc[m["to"]].append(m)
    dup_msgs = unflagged = no_msg = wrong_id = 0
    flagged = sum(1 for x in dl if x["possible_duplicate"])
    dup_households = 0
    for x in dl:
        got = acc.get("84" + x["phone"][3:], [])
        if x["status"] in ("sent", "delivered", "read"):
            if not got:
                no_msg += 1
            elif x["msg_id"] not in {m.get("msg_id") for m in got}:
                wrong_id += 1
        if len(got) > 1:
            dup_households += 1
            dup_msgs += len(got) - 1
            if not x["possible_duplicate"]:
                unflagged += 1
    in_flight_sum = sum(x["sending"] for x in kills)
    bound = args.kills * mif
    if no_msg:
        bad.append("%d deliveries 'sent' that the sandbox never accepted"
                   % no_msg)
    if wrong_id:
        bad.append("%d deliveries whose msg_id is not the sandbox's"
                   % wrong_id)
    if unflagged:
        bad.append("%d households received more than once without "
                   "possible_duplicate" % unflagged)
    if dup_msgs > in_flight_sum:
        bad.append("%d duplicate messages > %d in flight at the kills"
                   % (dup_msgs, in_flight_sum))
    if flagged > in_flight_sum:
        bad.append("%d deliveries flagged possible_duplicate > %d in "
                   "flight at the kills" % (flagged, in_flight_sum))
    if stats["duplicates"] != dup_msgs:
        bad.append("the sandbox counted %d duplicates, its record holds %d"
                   % (stats["duplicates"], dup_msgs))
    over = [x["kill"] for x in kills if x["sending"] > mif]
    if over:
        bad.append("more than max_in_flight (%d) deliveries 'sending' at "
                   "kill(s) %r" % (mif, over))
    mid = [x for x in kills if x["final"] < n]
    ready = [x["ready_ms"] for x in kills]

    rep.add("households / deliveries / distinct households",
            "%s / %s / %s" % (c.fmt(n), c.fmt(len(dl)), c.fmt(len(hh))), "")
    rep.add("kills that fell mid-broadcast", len(mid), "of %d"
            % args.kills, args.kills, ">=")
    rep.add("deliveries final / sent (incl. delivered, read)",
            "%s / %s" % (c.fmt(n - not_final), c.fmt(n - not_final -
                                                    not_sent)), "")
    rep.add("households without a final delivery (lost)",
            len(lost) + not_final, "", 0, "<=")
    rep.add("in flight at the kills: sum of 'sending' (max in one kill)",
            "%s (%s)" % (c.fmt(in_flight_sum),
                         c.fmt(max((x["sending"] for x in kills),
                                   default=0))), "",)
    rep.add("bound: kills x max_in_flight", bound, "")
    rep.add("duplicate messages the sandbox received", dup_msgs, "msgs",
            in_flight_sum, "<=")
    rep.add("households that got a duplicate, all flagged",
            "%d (%d unflagged)" % (dup_households, unflagged), "")
    rep.add("deliveries flagged possible_duplicate", flagged, "",
            in_flight_sum, "<=")
    rep.add("restart -> READY=1, p50 / max",
            "%s / %s" % (c.fmt(c.pct(ready, 50)), c.fmt(max(ready))), "ms")
    rep.add("POST /v1/broadcasts answered in", api_s * 1000, "ms")
    rep.add("time: create -> last kill / last restart -> done",
            "%.1f / %.1f" % (t_last - t0, t_end - t_last), "s")
    rep.add("sandbox requests / accepted / duplicates",
            "%s / %s / %s" % (c.fmt(stats["requests"].get("zns", 0)),
                              c.fmt(stats["messages"].get("zns", 0)),
                              c.fmt(stats["duplicates"])), "")
    rep.add("guarantees violated (see the notes)", len(bad), "", 0, "<=")
    rep.add("VERDICT", "PASS" if not bad else "FAIL: %d violation(s)"
            % len(bad), "")
    for v in bad:
        rep.note("VIOLATION: " + v)
    if len(mid) < args.kills:
        rep.note("%d kill(s) came after every delivery was final: no "
                 "violation, but they tested nothing; more households or "
                 "a smaller --max-in-flight make the broadcast longer"
                 % (args.kills - len(mid)))
    rep.note("seed %d; sandbox latency %d ms, max_in_flight %d, rate 0"
             % (rep.extra["seed"], args.latency, mif))
    rep.extra.update({"kills": kills, "violations": bad,
                      "deliveries_by_status": dict(by_status),
                      "duplicate_messages": dup_msgs,
                      "flagged": flagged, "in_flight_sum": in_flight_sum,
                      "sandbox_stats": {k: stats[k] for k in
                                        ("requests", "messages",
                                         "duplicates", "by_status")}})


MAIN_KW = dict(households=100_000, quick_households=10_000,
               add_args=add_args)


if __name__ == "__main__":
    r = c.main("crash", DOC, run, **MAIN_KW)
    sys.exit(1 if r.extra.get("violations") else 0)
