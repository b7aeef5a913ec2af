#!/usr/bin/env python3
"""Count test cases from meson's JSON test logs and print the closing line
"N passed, N failed".

Each meson test is one program: a cmocka executable, a corpus replayer, or
a Python unittest file. Where the program reports its own cases (cmocka's
"[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)", unittest's
"Ran N tests" / "FAILED (failures=a, errors=b)"), those are counted; a
program whose output has no such lines counts as one case. A program that
failed without reporting failed cases (a crash, a sanitizer abort, a
timeout) counts one failure more, so a crash is never hidden.
"""
import json
import re
import sys

CM_PASS = re.compile(r"^\[  PASSED  \] (\d+) test", re.M)
CM_FAIL = re.compile(r"^\[  FAILED  \] (\d+) test", re.M)
CM_SKIP = re.compile(r"^\[  SKIPPED \] (\d+) test", re.M)
PY_RAN = re.compile(r"^Ran (\d+) tests?", re.M)
PY_FAILED = re.compile(r"^FAILED \((.*)\)$", re.M)
PY_SKIP = re.compile(r"skipped=(\d+)")


def count(entry):
    out = (entry.get("stdout") or "") + "\n" + (entry.get("stderr") or "")
    ok = entry.get("result") in ("OK", "SKIP", "EXPECTEDFAIL")
    passed = failed = 0
    if CM_PASS.search(out) or CM_FAIL.search(out):
        passed = sum(int(n) for n in CM_PASS.findall(out))
        failed = sum(int(n) for n in CM_FAIL.findall(out))
    elif PY_RAN.search(out):
        ran = sum(int(n) for n in PY_RAN.findall(out))
        bad = 0
        skipped = 0
        for m in PY_FAILED.findall(out):
            bad += sum(int(x) for x in re.findall(r"(?:failures|errors)=(\d+)", m))
        for m in re.findall(r"^(?:OK|FAILED) \((.*)\)$", out, re.M):
            skipped += sum(int(x) for x in PY_SKIP.findall(m))
        passed, failed = ran - bad - skipped, bad
    elif entry.get("result") == "SKIP":
        return 0, 0
    else:
        passed, failed = (1, 0) if ok else (0, 1)
    if not ok and failed == 0:
        failed = 1
    return passed, failed


def main(paths):
    passed = failed = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.readlines()
        except OSError as e:
            print(f"cannot read {path}: {e}", file=sys.stderr)
            failed += 1
            continue
        for line in lines:
            line = line.strip()
            if not line:
                continue
            p, fl = count(json.loads(line))
            passed += p
            failed += fl
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
