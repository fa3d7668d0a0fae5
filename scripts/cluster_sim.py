#!/usr/bin/env python3
"""Discrete-event simulation of cross-node share modes and byte-range locks.

Compares the designs of docs/cluster.md for a cluster of SMB nodes that
embed smb-handles:

  A       per-file owner claimed with an etcd transaction (the key attached
          to the claiming node's lease), cached by every node that asked;
          non-owners forward open/lock/unlock/close to the owner.
  A-hash  the same forwarding, but the owner of a file is a hash of the file
          number over the live members (etcd only for membership).
  B       record migration as CTDB does it: the file's record moves to the
          node that changes it; the lmaster (a hash of the key over the
          members) knows the dmaster (the node holding the record).

Each client is attached to one node (uniformly), runs open, lock, unlock,
close on a file picked by the shape, with an exponential think time between
operations. Every node is one FIFO server (its CPU); etcd is one FIFO server
with a capacity plus a fixed latency; the network is a fixed one-way delay
plus bytes / bandwidth. Standard library only; deterministic for a seed.
"""

import argparse
import bisect
import heapq
import random
import sys
import time

US = 1e-6
MS = 1e-3


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Simulate designs A, A-hash and B of docs/cluster.md "
        "(latency and throughput of open/lock/unlock/close across nodes).")
    p.add_argument("--seed", type=int, default=18, help="random seed (default 18)")
    p.add_argument("--nodes", default="3,16,64", help="node counts (default 3,16,64)")
    p.add_argument("--shapes", default="hot,distinct,zipf",
                   help="workload shapes (default hot,distinct,zipf)")
    p.add_argument("--designs", default="A,A-hash,B", help="designs (default A,A-hash,B)")
    p.add_argument("--clients-per-node", type=int, default=16,
                   help="clients attached to each node (default 16)")
    p.add_argument("--think-ms", type=float, default=1.0,
                   help="mean think time between a client's operations, ms (default 1.0)")
    p.add_argument("--ops", type=int, default=20000,
                   help="operations measured per run (default 20000)")
    p.add_argument("--warmup", type=int, default=5000,
                   help="operations run before measuring (default 5000)")
    p.add_argument("--table-op-us", type=float, default=0.3,
                   help="CPU of one table operation, us (default 0.3; BENCHMARKS.md)")
    p.add_argument("--msg-cpu-us", type=float, default=2.0,
                   help="CPU to send or to receive one node-to-node message, us (default 2.0)")
    p.add_argument("--rtt-ms", type=float, default=0.2,
                   help="node-to-node round trip, ms (default 0.2)")
    p.add_argument("--bandwidth-gbps", type=float, default=10.0,
                   help="node-to-node bandwidth, Gbit/s (default 10)")
    p.add_argument("--ser-ns-per-byte", type=float, default=1.0,
                   help="CPU to encode or decode a migrated record, ns per byte (default 1.0)")
    p.add_argument("--etcd-write-ms", type=float, default=2.0,
                   help="etcd write/transaction latency with fsync, ms (default 2.0)")
    p.add_argument("--etcd-read-ms", type=float, default=0.5,
                   help="etcd linearizable read latency, ms (default 0.5)")
    p.add_argument("--etcd-capacity", type=float, default=30000.0,
                   help="etcd requests per second it can complete (default 30000)")
    p.add_argument("--zipf-s", type=float, default=1.1, help="Zipf exponent (default 1.1)")
    p.add_argument("--zipf-files", type=int, default=100000,
                   help="files of the Zipf shape (default 100000)")
    p.add_argument("--open-bytes", type=int, default=48,
                   help="bytes a migrated record carries per open (default 48)")
    p.add_argument("--lock-bytes", type=int, default=32,
                   help="bytes a migrated record carries per lock (default 32)")
    p.add_argument("--record-bytes", type=int, default=64,
                   help="fixed bytes of a migrated record (default 64)")
    return p.parse_args(argv)


def file_hash(f):
    # Fibonacci hashing; the same function for lmaster (B) and owner (A-hash).
    return ((f * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> 32


class Sim:
    def __init__(self, cfg, design, n, shape, rng, zipf_cdf):
        self.cfg, self.design, self.n, self.shape = cfg, design, n, shape
        self.rng = rng
        self.zipf_cdf = zipf_cdf
        self.now = 0.0
        self.heap = []
        self.seq = 0
        self.cpu_free = [0.0] * n
        self.cpu_busy = [0.0] * n
        self.etcd_free = 0.0
        self.etcd_svc = 1.0 / cfg.etcd_capacity
        self.t_op = cfg.table_op_us * US
        self.t_msg = cfg.msg_cpu_us * US
        self.half_rtt = cfg.rtt_ms * MS / 2
        self.sec_per_byte = 8.0 / (cfg.bandwidth_gbps * 1e9)
        self.ser = cfg.ser_ns_per_byte * 1e-9
        # Shared state of the model.
        self.opens = {}      # file -> live opens
        self.locks = {}      # file -> held locks
        self.owner = {}      # A: file -> owner node (what etcd holds)
        self.cache = [dict() for _ in range(n)]  # A: node -> file -> owner
        self.dmaster = {}    # B: file -> node holding the record
        self.held = set()    # B: records being changed (serialized per file)
        self.waiters = {}    # B: file -> FIFO of waiting processes
        self.next_file = 1   # distinct: a fresh file per open
        # Counters.
        self.done = 0
        self.lat = {"open": [], "lock": [], "unlock": [], "close": []}
        self.t_start = None
        self.t_end = None
        self.etcd_reqs = 0
        self.msgs = 0
        self.migrations = 0
        self.measuring = False

    # -- scheduler ---------------------------------------------------------
    def at(self, t, proc, val=None):
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, proc, val))

    def step(self, proc, val):
        try:
            req = proc.send(val)
        except StopIteration:
            return
        kind = req[0]
        if kind == "delay":
            self.at(self.now + req[1], proc)
        elif kind == "cpu":
            node, s = req[1], req[2]
            start = self.cpu_free[node] if self.cpu_free[node] > self.now else self.now
            self.cpu_free[node] = start + s
            self.cpu_busy[node] += s
            self.at(start + s, proc)
        elif kind == "claim":
            # One etcd Txn: create /own/<file> with the node's lease if absent,
            # else get it. etcd applies requests in order: first to commit wins.
            f, node = req[1], req[2]
            start = self.etcd_free if self.etcd_free > self.now else self.now
            self.etcd_free = start + self.etcd_svc
            won = self.owner.setdefault(f, node)
            if self.measuring:
                self.etcd_reqs += 1
            self.at(start + self.etcd_svc + self.cfg.etcd_write_ms * MS, proc, won)
        elif kind == "acquire":
            f = req[1]
            if f in self.held:
                self.waiters.setdefault(f, []).append(proc)
            else:
                self.held.add(f)
                self.at(self.now, proc)
        elif kind == "release":
            f = req[1]
            q = self.waiters.get(f)
            if q:
                nxt = q.pop(0)
                if not q:
                    del self.waiters[f]
                self.at(self.now, nxt)  # the record passes straight to the next
            else:
                self.held.discard(f)
            self.at(self.now, proc)
        else:
            raise ValueError(kind)

    def run(self):
        cfg = self.cfg
        total = cfg.warmup + cfg.ops
        for c in range(cfg.clients_per_node * self.n):
            proc = self.client(c)
            self.at(self.rng.random() * cfg.think_ms * MS, proc)
        while self.heap and self.done < total:
            t, _, proc, val = heapq.heappop(self.heap)
            self.now = t
            self.step(proc, val)
        self.t_end = self.now

    # -- building blocks ---------------------------------------------------
    def send(self, src, dst, nbytes=0):
        extra = nbytes * self.ser
        yield ("cpu", src, self.t_msg + extra)
        yield ("delay", self.half_rtt + nbytes * self.sec_per_byte)
        yield ("cpu", dst, self.t_msg + extra)
        if self.measuring:
            self.msgs += 1

    def pick_file(self):
        if self.shape == "hot":
            return 0
        if self.shape == "distinct":
            f = self.next_file
            self.next_file += 1
            return f
        return bisect.bisect_left(self.zipf_cdf, self.rng.random())

    def client(self, cid):
        node = cid % self.n
        rng = self.rng
        mean_think = self.cfg.think_ms * MS
        while True:
            f = self.pick_file()
            for op in ("open", "lock", "unlock", "close"):
                t0 = self.now
                if self.design == "B":
                    yield from self.op_b(node, f, op)
                else:
                    yield from self.op_a(node, f, op)
                self.finish(op, self.now - t0)
                yield ("delay", rng.expovariate(1.0 / mean_think))

    def finish(self, op, latency):
        self.done += 1
        if self.done == self.cfg.warmup:
            self.measuring = True
            self.t_start = self.now
        elif self.done > self.cfg.warmup:
            self.lat[op].append(latency)

    def apply(self, f, op):
        if op == "open":
            self.opens[f] = self.opens.get(f, 0) + 1
        elif op == "lock":
            self.locks[f] = self.locks.get(f, 0) + 1
        elif op == "unlock":
            self.locks[f] -= 1
        else:
            self.opens[f] -= 1

    # -- design A / A-hash: forwarding to the owner -------------------------
    def op_a(self, node, f, op):
        # The client's node: its own handle record (session, tree, location).
        yield ("cpu", node, self.t_op)
        if self.design == "A-hash":
            own = file_hash(f) % self.n
        else:
            own = self.cache[node].get(f)
            if own is None:
                own = yield ("claim", f, node)
                self.cache[node][f] = own
        if own == node:
            yield ("cpu", node, self.t_op)          # share check / lock at home
        else:
            yield from self.send(node, own)          # forward to the owner
            yield ("cpu", own, self.t_op)            # share check / lock there
            yield from self.send(own, node)          # its answer
        self.apply(f, op)

    # -- design B: CTDB-style record migration ------------------------------
    def record_bytes(self, f):
        c = self.cfg
        return c.record_bytes + c.open_bytes * self.opens.get(f, 0) + c.lock_bytes * self.locks.get(f, 0)

    def op_b(self, node, f, op):
        yield ("cpu", node, self.t_op)
        yield ("acquire", f)                         # the record is changed by one node at a time
        lm = file_hash(f) % self.n
        dm = self.dmaster.get(f, lm)                 # a new record starts at its lmaster
        if dm != node:
            size = self.record_bytes(f)
            if lm == node:                           # ask the dmaster directly
                yield from self.send(node, dm)
                yield from self.send(dm, node, size)
            elif dm == lm:                           # the lmaster holds it
                yield from self.send(node, lm)
                yield from self.send(lm, node, size)
            else:                                    # lmaster forwards; record comes back through it
                yield from self.send(node, lm)
                yield from self.send(lm, dm)
                yield from self.send(dm, lm, size)
                yield from self.send(lm, node, size)
            self.dmaster[f] = node
            if self.measuring:
                self.migrations += 1
        yield ("cpu", node, self.t_op)               # share check / lock, now local
        self.apply(f, op)
        yield ("release", f)

    # -- results -------------------------------------------------------------
    def result(self):
        def pct(xs, q):
            if not xs:
                return float("nan")
            xs = sorted(xs)
            return xs[min(len(xs) - 1, int(q * len(xs)))]
        span = self.t_end - self.t_start if self.t_start is not None else float("nan")
        measured = sum(len(v) for v in self.lat.values())
        lock_lat = self.lat["lock"] + self.lat["unlock"]
        # Work queued past the end counts as busy: clamp to the run.
        busiest = min(1.0, max(self.cpu_busy) / self.t_end) if self.t_end else 0.0
        return {
            "open": (pct(self.lat["open"], 0.5), pct(self.lat["open"], 0.99)),
            "lock": (pct(lock_lat, 0.5), pct(lock_lat, 0.99)),
            "close": (pct(self.lat["close"], 0.5), pct(self.lat["close"], 0.99)),
            "tput": measured / span if span > 0 else float("nan"),
            "etcd": self.etcd_reqs / measured,
            "msgs": self.msgs / measured,
            "migr": self.migrations / measured,
            "busiest": busiest,
        }


def fmt_t(s):
    if s != s:
        return "n/a"
    if s < 1e-3:
        return "%.1f µs" % (s / US)
    if s < 1.0:
        return "%.2f ms" % (s / MS)
    return "%.2f s" % s


def zipf_cdf(n, s):
    acc, out = 0.0, []
    for k in range(1, n + 1):
        acc += k ** -s
        out.append(acc)
    return [x / acc for x in out]


def main(argv):
    cfg = parse_args(argv)
    nodes = [int(x) for x in cfg.nodes.split(",")]
    shapes = cfg.shapes.split(",")
    designs = cfg.designs.split(",")
    for s in shapes:
        if s not in ("hot", "distinct", "zipf"):
            sys.exit("unknown shape %r" % s)
    for d in designs:
        if d not in ("A", "A-hash", "B"):
            sys.exit("unknown design %r" % d)
    cdf = zipf_cdf(cfg.zipf_files, cfg.zipf_s) if "zipf" in shapes else None
    t0 = time.time()
    print("| design | nodes | shape | open p50 | open p99 | lock p50 | lock p99 "
          "| close p50 | close p99 | ops/s | etcd req/op | msgs/op | migrations/op | busiest node CPU |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d in designs:
        for n in nodes:
            for shape in shapes:
                # One generator per run, seeded from (seed, design, nodes, shape):
                # a run does not depend on which others were selected.
                rng = random.Random("%d/%s/%d/%s" % (cfg.seed, d, n, shape))
                sim = Sim(cfg, d, n, shape, rng, cdf)
                sim.run()
                r = sim.result()
                print("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %.3f | %.2f | %.3f | %.0f %% |" % (
                    d, n, shape,
                    fmt_t(r["open"][0]), fmt_t(r["open"][1]),
                    fmt_t(r["lock"][0]), fmt_t(r["lock"][1]),
                    fmt_t(r["close"][0]), fmt_t(r["close"][1]),
                    "{:,}".format(int(round(r["tput"]))).replace(",", " "),
                    r["etcd"], r["msgs"], r["migr"], 100 * r["busiest"]))
                sys.stdout.flush()
    print("\n(%d runs, %.1f s wall; seed %d, %d clients per node, think %.1f ms, "
          "RTT %.2f ms, etcd write %.1f ms / read %.1f ms / %.0f req/s, table op %.1f µs, "
          "message CPU %.1f µs)" % (
              len(designs) * len(nodes) * len(shapes), time.time() - t0, cfg.seed,
              cfg.clients_per_node, cfg.think_ms, cfg.rtt_ms, cfg.etcd_write_ms,
              cfg.etcd_read_ms, cfg.etcd_capacity, cfg.table_op_us, cfg.msg_cpu_us),
          file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
