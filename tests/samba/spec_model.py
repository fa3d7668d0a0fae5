#!/usr/bin/env python3
"""SPEC §9-§10 as written, in Python, replayed against a recording of smbd.

    python3 tests/samba/spec_model.py RECORDING.json [--all] [--max N]

A development aid beside tests/samba_diff.rs (which replays the same JSON
through the real HandleTable): it answers each recorded request the way
SPEC §9-§11 says the table must, and lists where smbd answered otherwise,
grouped by kind, so that the spec and the table can be measured against
Samba before the Rust API exists. Exit status 1 when anything differs.
The model keeps the answers smbd gave (not its own) as the state that later
requests see only where that is unambiguous: a request the model refuses but
smbd grants is applied as smbd did, so that one difference does not cascade.
"""

import argparse
import collections
import json
import sys

U64 = (1 << 64) - 1
RD, WR, AP, EX, DEL = 0x1, 0x2, 0x4, 0x20, 0x10000
GENERIC_MAP = {0x80000000: 0x120089, 0x40000000: 0x120116,
               0x20000000: 0x1200A0, 0x10000000: 0x1F01FF}
SHARE_READ, SHARE_WRITE, SHARE_DELETE = 1, 2, 4

OK = 0
SHARING_VIOLATION = 0xC0000043
LOCK_NOT_GRANTED = 0xC0000055
RANGE_NOT_LOCKED = 0xC000007E
FILE_LOCK_CONFLICT = 0xC0000054
INVALID_LOCK_RANGE = 0xC00001A1
FILE_CLOSED = 0xC0000128

NAMES = {OK: "SUCCESS", SHARING_VIOLATION: "SHARING_VIOLATION",
         LOCK_NOT_GRANTED: "LOCK_NOT_GRANTED", RANGE_NOT_LOCKED: "RANGE_NOT_LOCKED",
         FILE_LOCK_CONFLICT: "FILE_LOCK_CONFLICT", INVALID_LOCK_RANGE: "INVALID_LOCK_RANGE",
         FILE_CLOSED: "FILE_CLOSED", 0xC0000022: "ACCESS_DENIED", 0xC0000011: "END_OF_FILE",
         0xC000000D: "INVALID_PARAMETER"}


def name(st):
    return NAMES.get(st, f"0x{st:08X}")


def mapped(mask):
    out = mask & 0x0FFFFFFF
    for bit, m in GENERIC_MAP.items():
        if mask & bit:
            out |= m
    return out


def is_stat(access):
    return mapped(access) & (RD | EX | WR | AP | DEL) == 0


def share_conflict(a_access, b_share):
    a = mapped(a_access)
    return ((a & (RD | EX) and not b_share & SHARE_READ)
            or (a & (WR | AP) and not b_share & SHARE_WRITE)
            or (a & DEL and not b_share & SHARE_DELETE))


def overlap(o1, l1, o2, l2):
    if l1 == 0 and l2 == 0:
        return False
    if l1 == 0:
        return o2 < o1 < o2 + l2
    if l2 == 0:
        return o1 < o2 < o1 + l1
    return o1 < o2 + l2 and o2 < o1 + l1


class Model:
    def __init__(self):
        self.handles = {}  # index -> {"access", "share", "open"}
        self.locks = []    # [handle, offset, length, exclusive]

    def lock_conflict(self, h, o, l, x, locks):
        for (h2, o2, l2, x2) in locks:
            if not overlap(o, l, o2, l2):
                continue
            if not x and not x2:
                continue
            if h2 == h and not x and x2:
                continue  # shared stacks on own exclusive
            return True
        return False

    def answer(self, op):
        """SPEC's answer; also applies it (or, if smbd differed, smbd's)."""
        kind, h = op["op"], op["handle"]
        smbd = op["status"]
        if kind == "create":
            live = [v for v in self.handles.values() if v["open"]]
            st = OK
            if not is_stat(op["access"]):
                for v in live:
                    if is_stat(v["access"]):
                        continue
                    if share_conflict(v["access"], op["share"]) or share_conflict(op["access"], v["share"]):
                        st = SHARING_VIOLATION
                        break
            self.handles[h] = {"access": op["access"], "share": op["share"], "open": smbd == OK}
            return st
        hd = self.handles.get(h)
        if hd is None or not hd["open"]:
            return FILE_CLOSED
        if kind == "close":
            hd["open"] = False
            self.locks = [k for k in self.locks if k[0] != h]
            return OK
        if kind == "lock":
            granted = list(self.locks)
            st = OK
            for el in op["locks"]:
                o, l, x = el["offset"], el["length"], el["exclusive"]
                if l > 0 and o + l - 1 > U64:
                    st = INVALID_LOCK_RANGE
                    break
                if self.lock_conflict(h, o, l, x, granted):
                    st = LOCK_NOT_GRANTED
                    break
                granted.append([h, o, l, x])
            if smbd == OK:
                self.locks = self.locks + [[h, e["offset"], e["length"], e["exclusive"]] for e in op["locks"]]
            return st
        if kind == "unlock":
            st = OK
            locks = list(self.locks)
            for r in op["ranges"]:
                for i, k in enumerate(locks):
                    if k[0] == h and k[1] == r["offset"] and k[2] == r["length"]:
                        del locks[i]
                        break
                else:
                    st = RANGE_NOT_LOCKED
                    break
            self.locks = locks  # ranges before a failing one stay unlocked
            return st
        if kind in ("read", "write"):
            o, l = op["offset"], op["length"]
            for (h2, o2, l2, x2) in self.locks:
                if not overlap(o, l, o2, l2):
                    continue
                if kind == "read" and h2 != h and x2:
                    return FILE_LOCK_CONFLICT
                if kind == "write" and (h2 != h or not x2):
                    return FILE_LOCK_CONFLICT
            return OK
        raise ValueError(kind)


def fmt_op(op):
    k = op["op"]
    if k == "create":
        g = op.get("granted")
        return (f"create h{op['handle']} access=0x{op['access']:08X} share={op['share']}"
                + (f" granted=0x{g:08X}" if g is not None and g != op["access"] else ""))
    if k == "lock":
        els = ", ".join(f"{'X' if e['exclusive'] else 'S'}({e['offset']:#x},{e['length']:#x})" for e in op["locks"])
        return f"lock h{op['handle']} [{els}]"
    if k == "unlock":
        els = ", ".join(f"({e['offset']:#x},{e['length']:#x})" for e in op["ranges"])
        return f"unlock h{op['handle']} [{els}]"
    if k in ("read", "write"):
        return f"{k} h{op['handle']} ({op['offset']},{op['length']})"
    return f"{k} h{op['handle']}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("recording")
    ap.add_argument("--max", type=int, default=3, help="examples shown per kind")
    ap.add_argument("--all", action="store_true", help="print every sequence that differs")
    args = ap.parse_args()
    doc = json.load(open(args.recording))
    kinds = collections.Counter()
    examples = collections.defaultdict(list)
    compared = 0
    for seq in doc["sequences"]:
        m = Model()
        lines = []
        first = None
        for n, op in enumerate(seq["ops"]):
            want = m.answer(op)
            compared += 1
            mark = ""
            if want != op["status"]:
                key = (op["op"], name(op["status"]), name(want))
                kinds[key] += 1
                mark = f"   <-- smbd {name(op['status'])}, spec {name(want)}"
                if first is None:
                    first = (n, key)
            lines.append(f"  {n:3d} {fmt_op(op)} -> {name(op['status'])}{mark}")
        if first is not None:
            if len(examples[first[1]]) < args.max or args.all:
                examples[first[1]].append((seq["index"], lines))
    print(f"{len(doc['sequences'])} sequences, {compared} answers; differences by "
          f"(op, smbd, spec):")
    for key, n in kinds.most_common():
        print(f"  {n:5d}  {key}")
    for key, exs in examples.items():
        print(f"\n== first difference {key}")
        for idx, lines in exs:
            print(f" sequence {idx}:")
            print("\n".join(lines))
    return 1 if kinds else 0


if __name__ == "__main__":
    sys.exit(main())
