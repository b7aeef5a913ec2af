#!/usr/bin/env python3
"""ceiling: the sandbox's own throughput, so that it is not what the other
benchmarks measure.

ZNS sends (valid, accepted, unique tracking ids are not needed: duplicates
are counted, not refused) on keep-alive connections to a sandbox with
--latency 0: with wrk (Debian package wrk) when it is installed, and with a
Python client (threads, http.client keep-alive) in any case. The load
generator runs on the same machine and takes CPU from the sandbox.
"""
import http.client
import json
import shutil
import subprocess
import tempfile
import threading

import common as c

DOC = __doc__.split("\n\n")[0]

BODY = json.dumps({"phone": "84901100000", "template_id": "123456",
                   "template_data": {"name": "Ho 1", "title": "Thong bao"},
                   "tracking_id": "bench-1"})


def add_args(p):
    p.add_argument("--connections", type=int, default=64,
                   help="wrk connections (default 64)")
    p.add_argument("--threads", type=int, default=8,
                   help="Python client threads (default 8)")
    p.add_argument("--sandbox-threads", type=int, default=2,
                   help="the sandbox's --threads (default 2, its default)")


def python_load(port, threads, seconds):
    stop = threading.Event()
    counts = [0] * threads
    errors = [0] * threads
    hdrs = {"Content-Type": "application/json",
            "access_token": c.sbx.ACCESS_TOKEN}

    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            try:
                conn.request("POST", "/message/template", BODY, hdrs)
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    counts[k] += 1
                else:
                    errors[k] += 1
            except (OSError, http.client.HTTPException):
                errors[k] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port,
                                                  timeout=10)
        conn.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in
          range(threads)]
    t0 = c.time.perf_counter()
    for t in ts:
        t.start()
    c.time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    dt = c.time.perf_counter() - t0
    return sum(counts) / dt, sum(errors)


def wrk_load(port, conns, seconds):
    with tempfile.TemporaryDirectory(prefix="loaxa-bench-wrk-") as tmp:
        lua = tmp + "/post.lua"
        with open(lua, "w") as f:
            f.write('wrk.method = "POST"\n'
                    'wrk.body = %s\n'
                    'wrk.headers["Content-Type"] = "application/json"\n'
                    'wrk.headers["access_token"] = "%s"\n'
                    % (json.dumps(BODY), c.sbx.ACCESS_TOKEN))
        out = subprocess.run(
            ["wrk", "-t2", "-c%d" % conns, "-d%ds" % max(1, int(seconds)),
             "-s", lua, "http://127.0.0.1:%d/message/template" % port],
            capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = None
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            rps = float(line.split()[1])
    return rps, out


def run(args, rep):
    secs = args.seconds
    sargs = ["--zns-quota", "100000000", "--max-records", "1000",
             "--threads", str(args.sandbox_threads)]
    wrk = shutil.which("wrk")
    with c.Sandbox(*sargs) as sb:
        if wrk:
            base = sb.stats()["messages"].get("zns", 0)
            rps, out = wrk_load(sb.port, args.connections, secs)
            acc = sb.stats()["messages"].get("zns", 0) - base
            rep.add("wrk, %d connections, 2 threads" % args.connections,
                    rps, "req/s")
            rep.add("  accepted by the sandbox in that run", acc, "msg")
            rep.extra["wrk_output"] = out.splitlines()
        else:
            rep.note("wrk is not installed (apt-get install wrk): Python "
                     "client only")
        base = sb.stats()["messages"].get("zns", 0)
        rps, errs = python_load(sb.port, args.threads, secs)
        rep.add("Python http.client, %d keep-alive threads" % args.threads,
                rps, "req/s")
        rep.add("  errors", errs, "")
        st = sb.stats()
        rep.add("sandbox max_per_second over both runs",
                st["max_per_second"].get("zns"), "req/s", 10000, ">=")
    rep.note("load generator: %s; the sandbox should sustain well above "
             "the 10,000 msg/s dispatch target for it not to be the "
             "bottleneck" % ("wrk and Python" if wrk else "Python"))


MAIN_KW = dict(seconds=10, quick_seconds=5, add_args=add_args)


if __name__ == "__main__":
    c.main("ceiling", DOC, run, **MAIN_KW)
