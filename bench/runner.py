#!/usr/bin/env python3
"""Run loaxa's benchmarks one after the other (see bench/README.md).

bench/run [NAME...] [--quick] [--build-dir DIR] [--json FILE]
          [--wait-idle SECONDS] [-- extra options for every benchmark]

Each benchmark also runs alone: python3 bench/NAME.py --help.
"""
import argparse
import importlib
import json
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common as c  # noqa: E402

NAMES = ["ceiling", "fanout", "dispatch", "memory", "ratelimit",
         "priority", "restart", "storage", "crash", "outage", "soak"]


def wait_idle(limit):
    """Wait up to limit seconds for the machine to be idle (other
    processes using less than 0.3 CPU over 2 s)."""
    t0 = time.monotonic()
    while True:
        b0 = c.machine_busy()
        time.sleep(2)
        b1 = c.machine_busy()
        busy = (b1[0] - b0[0]) / max(1, b1[1] - b0[1]) * os.cpu_count()
        if busy < 0.3:
            return busy
        if time.monotonic() - t0 > limit:
            print("bench: machine still busy (%.2f CPUs used by others) "
                  "after %d s: going on" % (busy, limit), file=sys.stderr)
            return busy
        time.sleep(3)


def main():
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    p.add_argument("names", nargs="*", help="benchmarks (default all): "
                   + ", ".join(NAMES))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--build-dir")
    p.add_argument("--json", default="/tmp/loaxa-bench.json",
                   help="combined figures (default /tmp/loaxa-bench.json); "
                   "each benchmark also writes /tmp/loaxa-bench-NAME.json")
    p.add_argument("--wait-idle", type=float, default=0,
                   help="before each benchmark wait up to this many "
                   "seconds for other processes to leave the CPUs idle")
    argv = sys.argv[1:]
    rest = []
    if "--" in argv:
        k = argv.index("--")
        argv, rest = argv[:k], argv[k + 1:]
    args = p.parse_args(argv)
    for n in args.names:
        if n not in NAMES:
            p.error("unknown benchmark %r (known: %s)"
                    % (n, ", ".join(NAMES)))
    names = args.names or NAMES
    out = {"machine": c.machine(), "started": c.iso(time.time()),
           "quick": args.quick, "benchmarks": []}
    failed = []
    for n in names:
        if args.wait_idle:
            wait_idle(args.wait_idle)
        mod = importlib.import_module(n)
        argv = list(rest)
        if args.quick:
            argv.append("--quick")
        if args.build_dir:
            argv += ["--build-dir", args.build_dir]
        argv += ["--json", "/tmp/loaxa-bench-%s.json" % n]
        print("\n### %s" % n, flush=True)
        try:
            rep = c.main(n, mod.DOC, mod.run, argv=argv, lenient=True,
                         **getattr(mod, "MAIN_KW", {}))
            out["benchmarks"].append(rep.as_dict())
        except Exception as e:  # noqa: BLE001 - the next one still runs
            traceback.print_exc()
            print("bench: %s failed: %r" % (n, e), file=sys.stderr)
            failed.append(n)
            out["benchmarks"].append({"benchmark": n, "error": repr(e)})
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("\ncombined json: " + args.json)
    missed = [(b["benchmark"], r["figure"]) for b in out["benchmarks"]
              for r in b.get("rows", []) if r.get("met") is False]
    if missed:
        print("targets missed:")
        for b, f in missed:
            print("  %s: %s" % (b, f))
    if failed:
        print("benchmarks that could not run: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
