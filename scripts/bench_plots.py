"""Charts for BENCHMARKS.md: one SVG per benchmark group and shape, drawn
from the same criterion run as the report's tables (scripts/bench_report.py
calls `group_chart`). Standard library only: the SVG is written by hand.

Each chart has one row per table value (live handles, threads, batch size)
and one bar per peer: the ratio peer ÷ ours on a log scale, so a bar right
of the 1× line is a peer slower than ours (we lead), left of it a peer
faster (we trail). Bars are green when we lead, red when we trail; the
figure at each bar's end is its ratio.
"""

import html
import math

BAR_H = 14
GAP = 4
LEFT = 170  # room for the peer names
RIGHT = 70
WIDTH = 720
# The log scale's ends: 1/20x .. 20x (ratios beyond are drawn at the edge).
LO, HI = math.log10(1 / 20), math.log10(20)


def _x(ratio):
    r = min(max(math.log10(max(ratio, 1e-9)), LO), HI)
    return LEFT + (r - LO) / (HI - LO) * (WIDTH - LEFT - RIGHT)


def group_chart(title, rows):
    """SVG text for `rows`: [(value label, [(peer, ratio), ...]), ...]."""
    out = []
    y = 40
    body = []
    for label, bars in rows:
        body.append(f'<text x="8" y="{y + 10}" font-weight="bold">{html.escape(str(label))}</text>')
        y += BAR_H + GAP
        for peer, ratio in bars:
            x0, x1 = _x(1.0), _x(ratio)
            lead = ratio >= 1.0
            colour = "#2e7d32" if lead else "#c62828"
            left, width = (x0, x1 - x0) if lead else (x1, x0 - x1)
            body.append(f'<text x="{LEFT - 6}" y="{y + 11}" text-anchor="end">{html.escape(peer)}</text>')
            body.append(
                f'<rect x="{left:.1f}" y="{y}" width="{max(width, 1):.1f}" height="{BAR_H}" '
                f'fill="{colour}"><title>{html.escape(peer)}: {ratio:.2f}x</title></rect>'
            )
            tx = (x1 + 4) if lead else (x1 - 4)
            anchor = "start" if lead else "end"
            body.append(f'<text x="{tx:.1f}" y="{y + 11}" text-anchor="{anchor}">{ratio:.2f}×</text>')
            y += BAR_H + GAP
        y += GAP * 2
    height = y + 30
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="11">'
    )
    out.append(f'<rect width="{WIDTH}" height="{height}" fill="white"/>')
    out.append(f'<text x="8" y="18" font-size="13" font-weight="bold">{html.escape(title)}</text>')
    out.append(
        f'<text x="{WIDTH - 8}" y="18" text-anchor="end" fill="#555">ratio = peer ÷ ours '
        f'(log scale; right of 1×: ours faster)</text>'
    )
    for tick in (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20):
        x = _x(tick)
        dash = "" if tick == 1 else ' stroke-dasharray="2,3"'
        stroke = "#000" if tick == 1 else "#bbb"
        out.append(f'<line x1="{x:.1f}" y1="28" x2="{x:.1f}" y2="{height - 24}" stroke="{stroke}"{dash}/>')
        out.append(f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" fill="#555">{tick:g}×</text>')
    out += body
    out.append("</svg>")
    return "\n".join(out) + "\n"


def rows_of(g, ours, peers, values, fmt_value=str):
    """The chart rows of criterion group data `g` (as bench_report.load gives)."""
    rows = []
    for v in values:
        if v not in g.get(ours, {}):
            continue
        mine = g[ours][v][0]
        bars = [(p, g[p][v][0] / mine) for p in peers if v in g.get(p, {})]
        if bars:
            rows.append((fmt_value(v), bars))
    return rows


if __name__ == "__main__":
    # A self-check: a chart of made-up ratios, written to stdout.
    print(group_chart("example — hot", [("1000", [("peer_a", 2.5), ("peer_b", 0.4)])]))
