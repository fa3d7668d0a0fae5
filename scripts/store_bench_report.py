#!/usr/bin/env python3
"""The table of docs/store.md from a run of benches/store.rs.

Usage: scripts/store_bench_report.py [CRITERION_DIR]   (default target/criterion)

Reads store_put/<function>/<callers>/new/estimates.json and benchmark.json:
time per put (slope when present, else mean; the median beside it), ops/s
from the median, and the ratio of each peer's median to ours
(group_commit) at the same number of callers. Python 3 standard library only.
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


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
    data = load(root)
    callers = sorted({c for (_f, c) in data})
    print("| callers | " + " | ".join(f"{f} ops/s (median)" for f in FUNCTIONS)
          + " | ours ÷ commit_per_put | ours ÷ sqlite_peer |")
    print("|---:|" + "---:|" * (len(FUNCTIONS) + 2))
    for c in callers:
        cells, med = [], {}
        for f in FUNCTIONS:
            if (f, c) in data:
                med[f] = data[(f, c)][1]
                cells.append(f"{1e9 / med[f]:,.0f}".replace(",", " "))
            else:
                cells.append("–")
        ratios = [f"{med[p] / med[OURS]:.2f}×" if OURS in med and p in med else "–"
                  for p in FUNCTIONS[1:]]
        print(f"| {c} | " + " | ".join(cells + ratios) + " |")


if __name__ == "__main__":
    main()
