#!/usr/bin/env python3
"""The table of docs/store.md from a run of benches/store.rs.

Usage: scripts/store_bench_report.py [CRITERION_DIR...]   (default target/criterion)

Reads store_put/<function>/<callers>/new/estimates.json and benchmark.json:
time per put (slope when present, else mean; the median beside it), ops/s
from the median, and the ratio of each peer's median to ours
(group_commit) at the same number of callers. With several directories
(one per run: copy target/criterion after each), one table per run and
then the median over the runs of each cell (sync latency on a shared disk
changes between runs more than between functions). Python 3 standard
library only.
"""
import json
import os
import sys

OURS = "group_commit"
FUNCTIONS = [OURS, "commit_per_put", "sqlite_peer"]


def load(root):
    out = {}
    base = os.path.join(root, "store_put")
    for dirpath, _dirs, files in os.walk(base):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        point = (est.get("slope") or est["mean"])["point_estimate"]
        out[(bench["function_id"], int(bench["value_str"]))] = (point, est["median"]["point_estimate"])
    return out


def table(medians):
    """medians: {(function, callers): median ns} -> markdown lines."""
    callers = sorted({c for (_f, c) in medians})
    lines = ["| callers | " + " | ".join(f"{f} ops/s" for f in FUNCTIONS)
             + " | ours ÷ commit_per_put | ours ÷ sqlite_peer |",
             "|---:|" + "---:|" * (len(FUNCTIONS) + 2)]
    for c in callers:
        med = {f: medians[(f, c)] for f in FUNCTIONS if (f, c) in medians}
        cells = [f"{1e9 / med[f]:,.0f}".replace(",", " ") if f in med else "–" for f in FUNCTIONS]
        ratios = [f"{med[p] / med[OURS]:.2f}×" if OURS in med and p in med else "–"
                  for p in FUNCTIONS[1:]]
        lines.append(f"| {c} | " + " | ".join(cells + ratios) + " |")
    return lines


def main():
    roots = sys.argv[1:] or ["target/criterion"]
    runs = [{k: v[1] for k, v in load(r).items()} for r in roots]
    for root, run in zip(roots, runs):
        if len(runs) > 1:
            print(f"\n{root}:\n")
        print("\n".join(table(run)))
    if len(runs) > 1:
        keys = set().union(*runs)
        merged = {}
        for k in keys:
            values = sorted(r[k] for r in runs if k in r)
            n = len(values)
            merged[k] = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
        print(f"\nmedian over {len(runs)} runs:\n")
        print("\n".join(table(merged)))
        print(f"\nmedian of the {len(runs)} in-run ratios (peer ÷ ours):\n")
        print("| callers | " + " | ".join(f"ours ÷ {p}" for p in FUNCTIONS[1:]) + " |")
        print("|---:|" + "---:|" * (len(FUNCTIONS) - 1))
        for c in sorted({c for (_f, c) in keys}):
            cells = []
            for p in FUNCTIONS[1:]:
                rs = sorted(r[(p, c)] / r[(OURS, c)] for r in runs if (p, c) in r and (OURS, c) in r)
                n = len(rs)
                m = rs[n // 2] if n % 2 else (rs[n // 2 - 1] + rs[n // 2]) / 2
                cells.append(f"{m:.2f}×" if rs else "–")
            print(f"| {c} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
