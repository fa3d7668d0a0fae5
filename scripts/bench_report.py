#!/usr/bin/env python3
"""Turn a criterion run and the memory benchmark into BENCHMARKS.md.

Usage: scripts/bench_report.py [CRITERION_DIR] [MEMORY_JSON] [OUTPUT]
Defaults: target/criterion, target/bench-memory.json, BENCHMARKS.md.

Reads every <group>/<function>/<value>/new/estimates.json with its sibling
benchmark.json; group ids are "<operation>/<shape>". The time per iteration
is the slope estimate when present, else the mean (median reported beside
it). Throughput turns it into time per element. Writes one table per
operation and shape, a targets summary (issue 8), memory per shape, and
the sessions section (issue 16: logoff, opens in a session, close by path
prefix, with its own targets), between SESSIONS_BEGIN and SESSIONS_END,
and the leases section (issue 20: lease opens against today's open, the
break decision against a scanning peer, with its own targets), between
LEASES_BEGIN and LEASES_END.

With --sessions-only (or --leases-only), only the sessions (or leases)
section is written: it replaces the one in OUTPUT (or is appended to it),
the rest of OUTPUT left as it was (scripts/bench.sh does this for
BENCH_ONLY=sessions and BENCH_ONLY=leases). The section then says that it
comes from a run of its own.
Python 3 standard library only.
"""
import datetime
import json
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_plots  # noqa: E402  (the charts, scripts/bench_plots.py)

OURS = "ours"
# Index-free peers, then the peers that keep per-file state.
PEERS = ["mutex_hashmap", "dashmap", "sharded_slab", "rwlock_slotmap", "naive_sharded_slab",
         "intrusive_list", "file_array", "slab_file_map", "lock_list"]
PER_FILE_PEERS = ["intrusive_list", "file_array", "slab_file_map"]
# The index-free peers issue 19 names: no per-file state, no share check.
INDEX_FREE_PEERS = ["sharded_slab", "naive_sharded_slab", "rwlock_slotmap"]
# Issue 19: ours at most this many times the best index-free peer's time.
INDEX_FREE_SLACK = 1.5
SHAPES = [
    ("hot", "200 opens per file on average, fresh path and owner strings on every open"),
    ("distinct", "one open per file, shared `Arc<str>` strings"),
    ("zipf", "Zipf(1) file popularity over as many files as live handles, shared strings"),
]
GROUPS = [
    ("open", "open into the big table; value = live handles"),
    ("open_str", "Rust API with borrowed strings: path and owner in fresh buffers of the caller's per open (allocated by the caller, timed for every table), ours `OpenSpec::borrowed`; peers copy into their own `Arc<str>`"),
    ("close", "close one handle (random order); value = live handles (1 000: a fresh table closed whole)"),
    ("close_batch", "close N random handles of the big table; ours `close_batch`, peers a loop of `close`; value = N"),
    ("get", "snapshot one random handle of the big table"),
    ("churn", "open + close pair in steady state, ~12 000 live; value = threads (time is wall time per pair over all threads)"),
    ("list_walk", "copy out every handle (ours: pages of 1 000; peers: one pass under their locks)"),
    ("list_file", "the handles of one file (ours and the per-file peers: per-file state; others: scan); time per query"),
    ("c_open", "C ABI: `smbh_open` with a fresh path and owner buffer per open (allocated by the caller, timed for every table); peers check UTF-8 and copy"),
    ("c_close", "C ABI: `smbh_close` (record dropped); value = live handles"),
    ("c_close_batch", "C ABI: `smbh_close_batch` of N random handles; peers a loop of close; value = N"),
    ("list_json", "serialize one page of 1 000 handles to JSON (ours only)"),
    ("close_batch_json", "a 1 000-element `POST /v1/smb/files/close` body (ours only)"),
    # Issue 9 (benches/pending/locks.rs, once built): no shape.
    ("share_open", "open with a share check on a file holding N opens; value = N. `ours_stat_open`: ours, the same opens as stat opens (no share check), so the check costs `ours` minus `ours_stat_open` (its ratio below 1)"),
    ("lock", "lock + unlock of one free range on a file holding N locks; value = N"),
    ("check_io", "read check of a free range on a file holding N locks; value = N"),
    ("check_io_no_locks", "ours: `check_io` of a handle whose file holds no lock; `get`: a get of the same handle (ratio above 1: the check costs less than a get)"),
]
# (operation, values or None for all, minimum best-peer ÷ ours).
RATIO_TARGETS = [
    ("open", None, 1.25), ("close", None, 1.25), ("get", None, 1.25), ("churn", None, 1.25),
    ("close_batch", None, 2.0),
    ("c_open", None, 1.25), ("c_close", None, 1.25), ("c_close_batch", None, 2.0),
]
# (operation, most ns per element for ours, what it is).
ABSOLUTE_TARGETS = [
    ("list_walk", 30.0, "≤ 30 ns/handle"),
    ("list_json", 505.0 / 2, "≥ 2× faster than 505 ns/handle"),
    ("close_batch_json", 952.0 / 2, "≥ 2× faster than 952 ns/handle"),
]
# Issue 16 (benches/sessions.rs): the groups of the sessions section.
SESSION_GROUPS = [
    ("logoff", "close every handle of one session holding N handles, in a table of 4 such sessions; "
     "time per handle; value = N. `ours`: `logoff`; `per_session_loop`: the server's own "
     "`Vec<Location>` per session closed by a loop of `close` (our table, no sessions); "
     "`owner_scan`: a walk of every open (pages of 1 000) closing the user's, as smbd's close-by-user"),
    ("session_open", "open into the big table; value = live handles. `ours`: through a tree connect "
     "(every handle of the table in it); `outside_session`: the same opens without one (what `open` "
     "measures)"),
    ("close_prefix", "time per call; value = live handles. `ours`: `close_selected` of a path prefix "
     "naming a folder of exactly 100 handles; `close_all`: `close_batch` of every handle"),
]
# (operation, peer, minimum peer ÷ ours, what the target is).
SESSION_TARGETS = [
    ("logoff", "per_session_loop", 2.0, "≥ 2× faster per handle than the per-session loop"),
    ("session_open", "outside_session", 1 / 1.10, "at most 10 % more than outside a session"),
    ("close_prefix", "close_all", 100.0, "at most 1 % of closing all"),
]
SESSIONS_BEGIN = "<!-- sessions: begin (scripts/bench_report.py) -->"
SESSIONS_END = "<!-- sessions: end -->"
# Issue 20 (benches/leases.rs): the groups of the leases section; the part
# of a group id after the operation is a shape or a case.
LEASE_GROUPS = [
    ("lease_open", ["hot", "distinct"],
     "an open asking for a lease that breaks nothing, then its close (`ours`: `open_cached` + "
     "`close`), against today's open + close with no request (`plain`), the same table and "
     "existing opens without leases; time per pair. `hot`: value = opens already on the one file, "
     "each with an RH lease of its own client, the new open asks RH with a fresh client; "
     "`distinct`: value = live handles, one per file, each with an RWH lease, the timed open is a "
     "new file's first (asks RWH)"),
    ("break_decision", ["compatible", "write_holder"],
     "the break decision of an open on a file holding 1 000 leases (value), timed as the whole "
     "open for both; `ksmbd_scan`: our table without leases plus a ksmbd-style per-file lease "
     "list walked on every open, with the same rules. `compatible`: 1 000 RH leases, an RH open "
     "of a fresh client + its close; `write_holder`: one RWH lease and 999 stat opens' RH leases, "
     "a reading open breaks the one write-caching holder and waits (open only)"),
]
# (operation, peer, minimum peer ÷ ours, what the target is).
LEASE_TARGETS = [
    ("lease_open", "plain", 1 / 1.10, "at most 10 % more than today's open"),
    ("break_decision", "ksmbd_scan", 10.0, "≥ 10× faster than the scanning peer"),
]
LEASES_BEGIN = "<!-- leases: begin (scripts/bench_report.py) -->"
LEASES_END = "<!-- leases: end -->"
# Issue 17 (benches/store.rs `persistent_open`, benches/recovery.rs): a
# hand-written section (its numbers and commands are in docs/store.md);
# a full regeneration keeps it as it is.
STORE_BEGIN = "<!-- store: begin (hand-written, see docs/store.md) -->"
STORE_END = "<!-- store: end -->"


def load(criterion_dir):
    """{group_id: {function: {value: (ns_per_element, median_ns_per_element, elements)}}}"""
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
    mem = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f", {int(line.split()[1]) / 2**20:.0f} GiB RAM"
                    break
    except OSError:
        pass
    return cores, model + mem


def best(g, value, peers):
    """(name, ns) of the fastest of `peers` at `value` in group g, or None."""
    found = [(g[p][value][0], p) for p in peers if value in g.get(p, {})]
    if not found:
        return None
    ns, name = min(found)
    return name, ns


def render_group(group, shape, what, g):
    """The markdown table of group `gid` (every table, every value)."""
    body = []
    body.append(f"### {group} — {shape}" if shape else f"### {group}")
    body.append("")
    body.append(what + ".")
    body.append("")
    values = sorted({v for f in g.values() for v in f}, key=value_key)
    body.append("| table | " + " | ".join(f"{v}" for v in values) + " |")
    body.append("|---|" + "---|" * len(values))
    ours = g.get(OURS, {})
    others = sorted(set(g) - {OURS} - set(PEERS))  # e.g. check_io_no_locks' `get`
    for name in [OURS] + PEERS + others:
        if name not in g:
            continue
        cells = []
        for v in values:
            r = g[name].get(v)
            if r is None:
                cells.append("n/a")
                continue
            cell = f"{fmt_ns(r[0])} [{fmt_ns(r[1])}]"
            if name != OURS and v in ours:
                cell += f" — **{r[0] / ours[v][0]:.2f}×**"
            cells.append(cell)
        body.append(f"| {name} | " + " | ".join(cells) + " |")
    if ours and any(p in g for p in PEERS):
        cells = []
        for v in values:
            b = best(g, v, PEERS)
            if b is None or v not in ours:
                cells.append("")
                continue
            cells.append(f"{b[1] / ours[v][0]:.2f}× ({b[0]})")
        body.append("| **best peer ÷ ours** | " + " | ".join(cells) + " |")
    body.append("")
    return body


def target_rows(summary):
    """The rows of a targets table: (operation, shape, value, peer, ratio,
    second peer, its ratio, target, met), a ratio of None shown empty."""
    cell = lambda r: f"{r:.2f}×" if r is not None else ""  # noqa: E731
    return [f"| {op} | {shape} | {v} | {p1} | {cell(r1)} | {p2} | {cell(r2)} | {target} | "
            f"{'yes' if ok else '**no**'} |"
            for op, shape, v, p1, r1, p2, r2, target, ok in summary]


def targeted_section(data, own_run, spec):
    """A section of its own bench file: targets, then one table per group
    and shape (or case); empty when the run has none of its groups.
    `spec`: (groups as (operation, shapes or cases, what), targets, note
    function of (operation, ours ns, peer, ratio, value), begin and end
    markers, title, bench name, name of the shape column)."""
    groups, targets, note_of, begin, end, title, bench, column = spec
    summary = []  # (operation, shape, value, peer, ratio, target, ok, note)
    body = []
    for group, shapes, what in groups:
        for shape in shapes:
            g = data.get(f"{group}/{shape}")
            if not g:
                continue
            body += render_group(group, shape, what, g)
            ours = g.get(OURS, {})
            for op, peer, least, text in targets:
                if op != group or peer not in g:
                    continue
                for v in sorted(ours, key=value_key):
                    if v not in g[peer]:
                        continue
                    ratio = g[peer][v][0] / ours[v][0]
                    note = note_of(op, ours[v][0], peer, g[peer][v][0], ratio, v)
                    summary.append((group, shape, v, peer, ratio, text, ratio >= least, note))
    if not body:
        return []
    cores, model = machine()
    lines = [begin, title, ""]
    if own_run:
        lines += [
            f"From a run of `benches/{bench}.rs` alone (`BENCH_ONLY={bench} scripts/bench.sh`),",
            "not the run the sections above come from: compare its ratios with each other,",
            "not its times with theirs.",
            "",
            f"- machine: {cores} cores, {model}; shared with other work",
            f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
            "",
        ]
    lines += [
        "Ratio = peer ÷ ours, from one run (above 1: ours is faster).",
        "",
        f"| operation | {column} | value | peer | ratio | target | met | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for op, shape, v, peer, r, text, ok, note in summary:
        lines.append(f"| {op} | {shape} | {v} | {peer} | {r:.2f}× | {text} | "
                     f"{'yes' if ok else '**no**'} | {note} |")
    lines.append("")
    return lines + body + [end, ""]


def session_note(op, ours, peer, _peer_ns, ratio, v):
    if op == "close_prefix":
        return (f"ours {fmt_ns(ours)} per call = {ours / float(v):.2f} ns "
                f"per slot of {v}; {100 / ratio:.1f} % of `{peer}`")
    if op == "session_open":
        return f"ours {100 * (1 / ratio - 1):+.1f} % against `{peer}`"
    return ""


def lease_note(op, ours, peer, peer_ns, ratio, _v):
    note = f"ours {fmt_ns(ours)}, `{peer}` {fmt_ns(peer_ns)}"
    if op == "lease_open":
        note += f"; ours {100 * (1 / ratio - 1):+.1f} %"
    return note


def sessions_section(data, own_run):
    """The sessions section (issue 16)."""
    groups = [(group, [s for s, _ in SHAPES], what) for group, what in SESSION_GROUPS]
    return targeted_section(data, own_run, (groups, SESSION_TARGETS, session_note, SESSIONS_BEGIN,
                                            SESSIONS_END, "## Sessions (issue 16)", "sessions", "shape"))


def leases_section(data, own_run):
    """The leases section (issue 20)."""
    return targeted_section(data, own_run, (LEASE_GROUPS, LEASE_TARGETS, lease_note, LEASES_BEGIN,
                                            LEASES_END, "## Leases (issue 20)", "leases",
                                            "shape or case"))


def splice(output, section, begin, end):
    """Replaces the section between `begin` and `end` of `output` (or
    appends one)."""
    old = open(output).read() if os.path.exists(output) else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
    else:
        head, tail = old.rstrip("\n") + "\n\n", ""
    with open(output, "w") as f:
        f.write(head + "\n".join(section) + tail)


def main():
    # --<bench>-only: (its section, begin and end markers).
    own = {
        "sessions": (sessions_section, SESSIONS_BEGIN, SESSIONS_END),
        "leases": (leases_section, LEASES_BEGIN, LEASES_END),
    }
    only = [b for b in own if f"--{b}-only" in sys.argv[1:]]
    args = [a for a in sys.argv[1:] if a not in {f"--{b}-only" for b in own}]
    criterion_dir = args[0] if len(args) > 0 else "target/criterion"
    memory_json = args[1] if len(args) > 1 else "target/bench-memory.json"
    output = args[2] if len(args) > 2 else "BENCHMARKS.md"
    data = load(criterion_dir)
    for bench in only:
        make, begin, end = own[bench]
        section = make(data, own_run=True)
        if not section:
            sys.exit(f"{criterion_dir}: no {bench} groups (run benches/{bench}.rs first)")
        splice(output, section, begin, end)
        print(f"wrote the {bench} section of {output}")
    if only:
        return
    cores, model = machine()
    lines = [
        "# Benchmarks",
        "",
        "smb-handles against what a server author would otherwise write, every table",
        "storing the same record (file number, path, owner, access mask, lock count,",
        "version). Regenerated from one run of `scripts/bench.sh` (criterion benches in",
        "`benches/table.rs`, peers and workload shapes in `benches/common/mod.rs`, memory",
        "in `benches/memory.rs`, this file by `scripts/bench_report.py`).",
        "",
        f"- machine: {cores} cores, {model}; shared with other work, so read the ratios,",
        "  which come from one run, rather than the absolute times",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        "- time per element: criterion's slope estimate (else mean); median in brackets.",
        "  **ratio** = peer ÷ ours: above 1 means ours is faster. n/a: the peer cannot",
        "  do it (sharded-slab iterates only through `&mut self`; the JSON shapes are ours).",
        "- peers: index-free `mutex_hashmap`, `dashmap`, `sharded_slab`, `rwlock_slotmap`,",
        "  `naive_sharded_slab`; with per-file state (maintained by close)",
        "  `intrusive_list` (ksmbd), `file_array` (Samba), `slab_file_map`.",
        "- shapes:",
    ]
    for shape, what in SHAPES:
        lines.append(f"  - `{shape}`: {what}")
    lines.append("")

    summary = []  # (operation, shape, value, best peer, ratio, per-file best, ratio, target, ok)
    # Issue 19: (operation, shape, value, per-file best, ratio, index-free best, ratio, target, ok)
    summary19 = []
    body = []
    charts = []  # (title, path relative to the report)
    chart_dir = os.path.join(os.path.dirname(output) or ".", "docs", "bench")
    for group, what in GROUPS:
        for shape in [s for s, _ in SHAPES] + [None]:
            gid = f"{group}/{shape}" if shape else group
            if gid not in data:
                continue
            g = data[gid]
            body += render_group(group, shape, what, g)
            chart_values = sorted({v for f in g.values() for v in f}, key=value_key)
            rows = bench_plots.rows_of(g, OURS, PEERS, chart_values)
            if rows:
                title = f"{group} — {shape}" if shape else group
                name = f"{group}-{shape}.svg" if shape else f"{group}.svg"
                os.makedirs(chart_dir, exist_ok=True)
                with open(os.path.join(chart_dir, name), "w") as f:
                    f.write(bench_plots.group_chart(title, rows))
                charts.append((title, f"docs/bench/{name}"))
            ours = g.get(OURS, {})
            values = sorted({v for f in g.values() for v in f}, key=value_key)
            for op, only, target in RATIO_TARGETS:
                if op != group:
                    continue
                for v in values:
                    if (only and v not in only) or v not in ours:
                        continue
                    b = best(g, v, PEERS)
                    bf = best(g, v, PER_FILE_PEERS)
                    if b is None:
                        continue
                    ratio = b[1] / ours[v][0]
                    fratio = bf[1] / ours[v][0] if bf else None
                    summary.append((group, shape, v, b[0], ratio, bf[0] if bf else "",
                                    fratio, f"≥ {target}×", ratio >= target))
                    # A peer missing from the run leaves its ratio empty and
                    # the row unmet: it is never dropped from the count.
                    bi = best(g, v, INDEX_FREE_PEERS)
                    iratio = bi[1] / ours[v][0] if bi else None
                    summary19.append((group, shape, v, bf[0] if bf else "(not run)", fratio,
                                      bi[0] if bi else "(not run)", iratio,
                                      f"≥ {target}× per-file, ≥ {1 / INDEX_FREE_SLACK:.2f}× index-free",
                                      fratio is not None and iratio is not None
                                      and fratio >= target and iratio >= 1 / INDEX_FREE_SLACK))
            for op, limit, text in ABSOLUTE_TARGETS:
                if op == group and ours:
                    for v in values:
                        if v in ours:
                            ns = ours[v][0]
                            summary.append((group, shape, v, "", None, "", None,
                                            f"{text} (ours {fmt_ns(ns)})", ns <= limit))

    mem_lines = []
    if os.path.exists(memory_json):
        with open(memory_json) as f:
            mem = json.load(f)
        by_shape = {}
        for t in mem["tables"]:
            by_shape.setdefault(t.get("shape", "distinct"), {})[t["table"]] = t
        mem_lines += [
            "## memory",
            "",
            f"Bytes per live handle with {mem['handles']:,} handles open, counted by a global",
            "allocator (`benches/memory.rs`): everything the table allocated and still holds,",
            "strings included (with `hot`, each open's fresh path and owner are allocated",
            "in the counted window; with shared strings, only what a table copies). Peak",
            "includes growth (a table's old buffer and its new one at once).",
            "",
        ]
        for shape, _ in SHAPES:
            rows = by_shape.get(shape)
            if not rows:
                continue
            mem_lines += [
                f"### memory — {shape}",
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
                mem_lines.append(
                    f"| {name} | {t['bytes_per_handle']:.1f} | {ratio} | "
                    f"{t['live_bytes'] / 2**20:.1f} | {t['peak_bytes'] / 2**20:.1f} |"
                )
            mem_lines.append("")
            if ours is not None:
                peers = [(rows[p]["bytes_per_handle"], p) for p in PEERS if p in rows]
                if peers:
                    least, name = min(peers)
                    summary.append(("memory", shape, f"{mem['handles']}", name,
                                    least / ours["bytes_per_handle"], "", None,
                                    "below every peer", ours["bytes_per_handle"] < least))
                per_file = [(rows[p]["bytes_per_handle"], p) for p in PER_FILE_PEERS if p in rows]
                naive = rows.get("naive_sharded_slab")
                mine = ours["bytes_per_handle"]
                least, name = min(per_file) if per_file else (None, "(not run)")
                ok = least is not None and mine < least
                target = "below every per-file peer"
                iname, iratio = "", None
                if shape == "distinct":
                    target += ", ≥ 0.80× naive_sharded_slab"
                    iname = "naive_sharded_slab" if naive else "(not run)"
                    iratio = naive["bytes_per_handle"] / mine if naive else None
                    ok = ok and iratio is not None and iratio >= 1 / 1.25
                summary19.append(("memory", shape, f"{mem['handles']}", name,
                                  least / mine if least is not None else None,
                                  iname, iratio, target, ok))

    if charts:
        lines += [
            "## Charts",
            "",
            "Each chart is one group of the tables below: per value, one bar per peer,",
            "the ratio peer ÷ ours on a log scale (green, right of 1×: ours is faster;",
            "red, left of it: the peer is). Drawn from this same run by",
            "`scripts/bench_plots.py`.",
            "",
        ]
        for title, path in charts:
            lines += [f"![{title}]({path})", ""]
    if summary:
        lines += [
            "## Targets (issue 8)",
            "",
            "Ratio = best peer ÷ ours (time, or bytes for memory); the best per-file",
            "peer (one that keeps per-file state, as a server must) beside it.",
            "",
            "| operation | shape | value | best peer | ratio | best per-file peer | ratio | target | met |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += target_rows(summary)
        lines.append("")
    if summary19:
        lines += [
            "## Targets (issue 19)",
            "",
            "Ratio = peer ÷ ours: the fastest (or smallest) per-file peer, and the",
            "fastest of the index-free peers issue 19 names (" + ", ".join(f"`{p}`" for p in INDEX_FREE_PEERS) + "),",
            f"which ours must be within {INDEX_FREE_SLACK}× of (a ratio of at least {1 / INDEX_FREE_SLACK:.2f}×).",
            "",
            "| operation | shape | value | best per-file peer | ratio | best index-free peer | ratio | target | met |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += target_rows(summary19)
        met = sum(1 for row in summary19 if row[-1])
        lines += ["", f"Met: {met} of {len(summary19)}.", ""]
    lines += ["## Time per operation", ""] + body + mem_lines
    for section in (sessions_section(data, own_run=False), leases_section(data, own_run=False)):
        if section:
            lines += [""] + section
    old = open(output).read() if os.path.exists(output) else ""
    if STORE_BEGIN in old and STORE_END in old:
        kept = STORE_BEGIN + old.split(STORE_BEGIN, 1)[1].split(STORE_END, 1)[0] + STORE_END
        lines += ["", kept, ""]
    with open(output, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
