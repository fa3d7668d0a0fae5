#!/usr/bin/env python3
"""Turn a criterion run and the memory benchmark into BENCHMARKS.md.

Usage: scripts/bench_report.py [CRITERION_DIR] [MEMORY_JSON] [OUTPUT]
Defaults: target/criterion, target/bench-memory.json, BENCHMARKS.md.

Reads every <group>/<function>/<value>/new/estimates.json with its sibling
benchmark.json; the time per iteration is the slope estimate when present,
else the mean (median reported beside it). Throughput turns it into time per
element. Python 3 standard library only.
"""
import datetime
import json
import os
import platform
import sys

OURS = "ours"
PEERS = ["mutex_hashmap", "dashmap", "sharded_slab", "rwlock_slotmap", "naive_sharded_slab"]
GROUPS = [
    ("close", "close one handle (random order); value = live handles"),
    ("close_batch", "close N random handles of 1 000 000; ours `close_batch`, peers a loop of `close`; value = N"),
    ("churn", "open + close pair in steady state; value = threads (time is wall time per pair over all threads)"),
    ("open", "open into a table of 1 000 000"),
    ("get", "snapshot one random handle of 1 000 000"),
    ("list_walk", "copy out every handle of 1 000 000 (ours: pages of 1 000; peers: one pass under their locks)"),
    ("list_file", "the handles of one file (ours: per-file index; peers: scan); value = live handles"),
    ("list_json", "serialize one page of 1 000 handles to JSON (ours only)"),
    ("close_batch_json", "a 1 000-element `POST /v1/smb/files/close` body (ours only)"),
]


def load(criterion_dir):
    """{group: {function: {value: (ns_per_element, median_ns_per_iter, elements)}}}"""
    out = {}
    for root, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(root) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(root, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(root, "estimates.json")) as f:
            est = json.load(f)
        point = (est.get("slope") or est["mean"])["point_estimate"]
        median = est["median"]["point_estimate"]
        elements = 1
        tp = bench.get("throughput") or {}
        if "Elements" in tp:
            elements = tp["Elements"]
        group = bench["group_id"]
        function = bench.get("function_id") or ""
        value = bench.get("value_str") or ""
        out.setdefault(group, {}).setdefault(function, {})[value] = (point / elements, median / elements, elements)
    return out


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def value_key(v):
    try:
        return (0, float(v))
    except ValueError:
        return (1, v)


def machine():
    cores = os.cpu_count()
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return cores, model


def main():
    criterion_dir = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
    memory_json = sys.argv[2] if len(sys.argv) > 2 else "target/bench-memory.json"
    output = sys.argv[3] if len(sys.argv) > 3 else "BENCHMARKS.md"
    data = load(criterion_dir)
    cores, model = machine()
    lines = [
        "# Benchmarks",
        "",
        "smb-handles against what a server author would otherwise write, every table",
        "storing the same record (file number, path and owner `Arc<str>`, access mask,",
        "lock count, version). Regenerate with `scripts/bench.sh` (criterion benches in",
        "`benches/table.rs`, peers in `benches/common/mod.rs`, memory in",
        "`benches/memory.rs`, this file by `scripts/bench_report.py`).",
        "",
        f"- machine: {cores} cores, {model}; shared with other work, so read the ratios,",
        "  which come from one run, rather than the absolute times",
        f"- date: {datetime.date.today().isoformat()}",
        "- time per element: criterion's slope estimate (else mean); median in brackets.",
        "  **ratio** = peer ÷ ours: above 1 means ours is faster. n/a: the peer cannot",
        "  do it (sharded-slab iterates only through `&mut self`; the JSON shapes are ours).",
        "",
    ]
    for group, what in GROUPS:
        if group not in data:
            continue
        g = data[group]
        lines.append(f"## {group}")
        lines.append("")
        lines.append(what + ".")
        lines.append("")
        values = sorted({v for f in g.values() for v in f}, key=value_key)
        peers = [p for p in PEERS if p in g]
        header = "| table | " + " | ".join(f"{v}" for v in values) + " |"
        lines.append(header)
        lines.append("|---|" + "---|" * len(values))
        ours = g.get(OURS, {})
        for name in [OURS] + PEERS:
            cells = []
            for v in values:
                r = g.get(name, {}).get(v)
                if r is None:
                    cells.append("n/a")
                    continue
                cell = f"{fmt_ns(r[0])} [{fmt_ns(r[1])}]"
                if name != OURS and v in ours:
                    cell += f" — **{r[0] / ours[v][0]:.2f}×**"
                cells.append(cell)
            if name == OURS or name in peers:
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    if os.path.exists(memory_json):
        with open(memory_json) as f:
            mem = json.load(f)
        rows = {t["table"]: t for t in mem["tables"]}
        lines += [
            "## memory",
            "",
            f"Bytes per live handle with {mem['handles']:,} handles open, counted by a global",
            "allocator (`benches/memory.rs`): everything the table allocated, beyond the",
            "path and owner strings, which every table shares the same way. Peak includes",
            "growth (a table's old buffer and its new one at once).",
            "",
            "| table | bytes/handle | ratio peer ÷ ours | live MiB | peak MiB |",
            "|---|---|---|---|---|",
        ]
        ours = rows.get(OURS)
        for name in [OURS] + PEERS:
            t = rows.get(name)
            if t is None:
                continue
            ratio = "" if name == OURS or ours is None else f"{t['bytes_per_handle'] / ours['bytes_per_handle']:.2f}×"
            lines.append(
                f"| {name} | {t['bytes_per_handle']:.1f} | {ratio} | "
                f"{t['live_bytes'] / 2**20:.1f} | {t['peak_bytes'] / 2**20:.1f} |"
            )
        lines.append("")
    with open(output, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
