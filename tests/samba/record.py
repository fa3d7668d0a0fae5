#!/usr/bin/env python3
"""Records real smbd's answers to seeded random SMB2 sequences on one file.

Run through scripts/samba-record.sh, which installs Samba and smbprotocol,
starts a throwaway smbd and passes the options below. Each sequence works on
a fresh file of FILE_SIZE bytes: it opens 2-4 handles (SMB2 CREATE with a
random DesiredAccess and ShareAccess), then issues random LOCK, unlock, READ,
WRITE, CLOSE and further CREATEs through those handles, all on one
connection, session and tree connect, and records smbd's NTSTATUS for each
request (0 on success). The JSON format is described in tests/samba/README.md.

Every request is sent as a raw SMB2 message (smbprotocol's Connection.send /
receive), so each NTSTATUS is the server's, unfiltered.
"""

import argparse
import importlib.metadata
import json
import os
import random
import struct
import sys
import time
import uuid

from smbprotocol.connection import Connection
from smbprotocol.exceptions import SMBResponseException
from smbprotocol.open import (
    CreateDisposition,
    CreateOptions,
    ImpersonationLevel,
    LockFlags,
    SMB2CloseRequest,
    SMB2CreateRequest,
    SMB2CreateResponse,
    SMB2LockElement,
    SMB2LockRequest,
    SMB2QueryInfoRequest,
    SMB2QueryInfoResponse,
    SMB2ReadRequest,
    SMB2WriteRequest,
)
from smbprotocol.query_info import InfoType
from smbprotocol.session import Session
from smbprotocol.tree import TreeConnect

FILE_SIZE = 4096
U64 = (1 << 64) - 1

# MS-DTYP / MS-SMB2 access bits valid on a file.
FILE_READ_DATA = 0x1
FILE_WRITE_DATA = 0x2
FILE_APPEND_DATA = 0x4
FILE_READ_EA = 0x8
FILE_WRITE_EA = 0x10
FILE_EXECUTE = 0x20
FILE_DELETE_CHILD = 0x40
FILE_READ_ATTRIBUTES = 0x80
FILE_WRITE_ATTRIBUTES = 0x100
DELETE = 0x10000
READ_CONTROL = 0x20000
WRITE_DAC = 0x40000
WRITE_OWNER = 0x80000
SYNCHRONIZE = 0x100000
GENERIC_ALL = 0x10000000
GENERIC_EXECUTE = 0x20000000
GENERIC_WRITE = 0x40000000
GENERIC_READ = 0x80000000

DATA_BITS = [FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA, FILE_EXECUTE, DELETE]
STAT_BITS = [FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES, SYNCHRONIZE, READ_CONTROL,
             FILE_READ_EA, FILE_WRITE_EA]
OTHER_BITS = [WRITE_DAC, WRITE_OWNER, FILE_DELETE_CHILD]
GENERIC_BITS = [GENERIC_READ, GENERIC_WRITE, GENERIC_EXECUTE, GENERIC_ALL]
GENERIC_MAP = {GENERIC_READ: 0x120089, GENERIC_WRITE: 0x120116,
               GENERIC_EXECUTE: 0x1200A0, GENERIC_ALL: 0x1F01FF}

STATUS_PENDING = 0x00000103


def mapped(mask):
    out = mask & 0x0FFFFFFF
    for bit, m in GENERIC_MAP.items():
        if mask & bit:
            out |= m
    return out


class Client:
    """One connection, session and tree connect; raw SMB2 requests."""

    def __init__(self, host, port, user, password, share):
        self.conn = Connection(uuid.uuid4(), host, port)
        self.conn.connect(timeout=10)
        self.session = Session(self.conn, user, password, require_encryption=False)
        self.session.connect()
        self.tree = TreeConnect(self.session, rf"\\{host}\{share}")
        self.tree.connect(require_secure_negotiate=False)

    def call(self, req):
        """Sends one request; returns (ntstatus, response header or None)."""
        request = self.conn.send(req, self.session.session_id, self.tree.tree_connect_id)
        try:
            resp = self.conn.receive(request, timeout=30)
        except SMBResponseException as e:
            return e.status & 0xFFFFFFFF, None
        return resp["status"].get_value() & 0xFFFFFFFF, resp

    def create(self, name, access, share):
        req = SMB2CreateRequest()
        req["impersonation_level"] = ImpersonationLevel.Impersonation
        req["desired_access"] = access
        req["file_attributes"] = 0
        req["share_access"] = share
        req["create_disposition"] = CreateDisposition.FILE_OPEN
        req["create_options"] = CreateOptions.FILE_NON_DIRECTORY_FILE
        req["buffer_path"] = name.encode("utf-16-le")
        status, resp = self.call(req)
        if status != 0:
            return status, None
        cr = SMB2CreateResponse()
        cr.unpack(resp["data"].get_value())
        return 0, cr["file_id"].get_value()

    def granted_access(self, fid):
        """FileAccessInformation (MS-FSCC 2.4.1): the access smbd granted."""
        req = SMB2QueryInfoRequest()
        req["info_type"] = InfoType.SMB2_0_INFO_FILE
        req["file_info_class"] = 8
        req["output_buffer_length"] = 4
        req["file_id"] = fid
        status, resp = self.call(req)
        if status != 0:
            return None
        qr = SMB2QueryInfoResponse()
        qr.unpack(resp["data"].get_value())
        return struct.unpack("<I", qr["buffer"].get_value()[:4])[0]

    def lock(self, fid, elements):
        """elements: list of (offset, length, flags)."""
        locks = []
        for offset, length, flags in elements:
            el = SMB2LockElement()
            el["offset"] = offset
            # smbprotocol declares Length signed; send the same 64 bits.
            el["length"] = length - (1 << 64) if length >= (1 << 63) else length
            el["flags"] = flags
            locks.append(el)
        req = SMB2LockRequest()
        req["file_id"] = fid
        req["locks"] = locks
        return self.call(req)[0]

    def read(self, fid, offset, length):
        req = SMB2ReadRequest()
        req["length"] = length
        req["offset"] = offset
        req["minimum_count"] = 0
        req["file_id"] = fid
        req["padding"] = b"\x50"
        return self.call(req)[0]

    def write(self, fid, offset, length):
        req = SMB2WriteRequest()
        req["length"] = length
        req["offset"] = offset
        req["file_id"] = fid
        req["buffer"] = b"w" * length
        return self.call(req)[0]

    def close(self, fid):
        req = SMB2CloseRequest()
        req["file_id"] = fid
        return self.call(req)[0]


# --- random sequences ---------------------------------------------------------

def random_access(rng):
    r = rng.random()
    if r < 0.15:  # stat open: no data bits
        mask = 0
        while mask == 0:
            mask = sum(b for b in STAT_BITS if rng.random() < 0.4)
        return mask
    if r < 0.30:  # generic
        mask = 0
        while mask == 0:
            mask = sum(b for b in GENERIC_BITS if rng.random() < 0.3)
        if rng.random() < 0.3:
            mask |= rng.choice(STAT_BITS + DATA_BITS)
        return mask
    mask = 0
    while mask == 0:
        mask = sum(b for b in DATA_BITS if rng.random() < 0.35)
    for b in STAT_BITS:
        if rng.random() < 0.25:
            mask |= b
    for b in OTHER_BITS:
        if rng.random() < 0.05:
            mask |= b
    return mask


def random_share(rng):
    # Favour restrictive modes a little so that refusals are common.
    return rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 1, 3, 5, 7])


BIG_OFFSETS = [U64, U64 - 1, U64 - 15, 1 << 63, (1 << 63) - 1, 0xEF000000,
               0xEF000000 - 1, 0xFFFFFFFF, 1 << 32]
BIG_LENGTHS = [0, 1, 2, 16, U64, U64 - 1, 1 << 63, (1 << 63) + 1]


def random_range(rng, held):
    r = rng.random()
    if held and r < 0.30:  # identical to a lock of some handle
        return rng.choice(held)
    if r < 0.40:
        return rng.choice(BIG_OFFSETS), rng.choice(BIG_LENGTHS)
    if r < 0.45:
        return rng.randrange(0, 48), rng.choice(BIG_LENGTHS)
    offset = rng.randrange(0, 48)
    length = 0 if rng.random() < 0.15 else rng.randrange(1, 17)
    return offset, length


def io_range(rng):
    if rng.random() < 0.05:
        return rng.randrange(0, 64), 0
    return rng.randrange(0, 64), rng.randrange(1, 17)


def run_sequence(client, rng, index, share_dir):
    name = f"seq{index:05d}"
    path = os.path.join(share_dir, name)
    with open(path, "wb") as f:
        f.write(b"\0" * FILE_SIZE)

    ops = []
    handles = []  # index -> {"fid": bytes or None, "open": bool, "granted": int}
    all_ranges = []  # (offset, length) of every lock granted in this sequence

    def do_create():
        access = random_access(rng)
        share = random_share(rng)
        status, fid = client.create(name, access, share)
        op = {"op": "create", "handle": len(handles), "access": access, "share": share,
              "status": status}
        h = {"fid": fid, "open": status == 0, "granted": None, "locks": []}
        if status == 0:
            g = client.granted_access(fid)
            op["granted"] = g
            h["granted"] = g if g is not None else mapped(access)
        handles.append(h)
        ops.append(op)

    for _ in range(rng.randint(2, 4)):
        do_create()

    for _ in range(rng.randint(6, 24)):
        live = [i for i, h in enumerate(handles) if h["open"]]
        closed = [i for i, h in enumerate(handles) if h["fid"] is not None and not h["open"]]
        r = rng.random()
        if not live or r < 0.10:
            do_create()
            continue
        if closed and r < 0.12:
            # A request on a closed handle: STATUS_FILE_CLOSED expected.
            i = rng.choice(closed)
            kind = rng.choice(["lock", "close"])
            if kind == "lock":
                st = client.lock(handles[i]["fid"], [(0, 1, LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK
                                                      | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY)])
                ops.append({"op": "lock", "handle": i,
                            "locks": [{"offset": 0, "length": 1, "exclusive": True}], "status": st})
            else:
                st = client.close(handles[i]["fid"])
                ops.append({"op": "close", "handle": i, "status": st})
            continue
        i = rng.choice(live)
        h = handles[i]
        g = h["granted"]
        if r < 0.45:
            n = 1 if rng.random() < 0.7 else rng.randint(2, 4)
            els = []
            for _ in range(n):
                off, ln = random_range(rng, all_ranges)
                els.append((off, ln, rng.random() < 0.5))
            flags = [(o, l, (LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK if x else LockFlags.SMB2_LOCKFLAG_SHARED_LOCK)
                      | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY) for o, l, x in els]
            st = client.lock(h["fid"], flags)
            ops.append({"op": "lock", "handle": i,
                        "locks": [{"offset": o, "length": l, "exclusive": x} for o, l, x in els],
                        "status": st})
            if st == 0:
                for o, l, _x in els:
                    h["locks"].append((o, l))
                    all_ranges.append((o, l))
        elif r < 0.60:
            n = 1 if rng.random() < 0.8 else rng.randint(2, 3)
            rs = []
            for _ in range(n):
                if h["locks"] and rng.random() < 0.7:
                    rs.append(rng.choice(h["locks"]))
                else:
                    rs.append(random_range(rng, all_ranges))
            els = [(o, l, LockFlags.SMB2_LOCKFLAG_UNLOCK) for o, l in rs]
            st = client.lock(h["fid"], els)
            ops.append({"op": "unlock", "handle": i,
                        "ranges": [{"offset": o, "length": l} for o, l in rs], "status": st})
            # Keep the local list only as a source of plausible ranges.
            for o, l in rs:
                if (o, l) in h["locks"]:
                    h["locks"].remove((o, l))
        elif r < 0.90:
            can_read = g & (FILE_READ_DATA | FILE_EXECUTE)
            can_write = g & (FILE_WRITE_DATA | FILE_APPEND_DATA)
            kinds = (["read"] if can_read else []) + (["write"] if can_write else [])
            if not kinds:
                continue
            kind = rng.choice(kinds)
            off, ln = io_range(rng)
            if kind == "read":
                st = client.read(h["fid"], off, ln)
            else:
                st = client.write(h["fid"], off, ln)
            ops.append({"op": kind, "handle": i, "offset": off, "length": ln, "status": st})
        else:
            st = client.close(h["fid"])
            ops.append({"op": "close", "handle": i, "status": st})
            h["open"] = False

    for i, h in enumerate(handles):
        if h["open"]:
            st = client.close(h["fid"])
            ops.append({"op": "close", "handle": i, "status": st})
            h["open"] = False
    os.unlink(path)
    return {"index": index, "file": name, "ops": ops}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--share", required=True)
    ap.add_argument("--share-dir", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--server-version", default="")
    args = ap.parse_args()

    t0 = time.monotonic()
    client = Client(args.host, args.port, args.user, args.password, args.share)
    sequences = []
    for i in range(args.count):
        rng = random.Random(args.seed * 1_000_003 + i)
        sequences.append(run_sequence(client, rng, i, args.share_dir))
    client.conn.disconnect(True)

    smbd_version = args.server_version or "smbd (unknown version)"
    doc = {
        "format": 1,
        "server": smbd_version,
        "client": "smbprotocol " + importlib.metadata.version("smbprotocol"),
        "dialect": f"0x{client.conn.dialect:04x}",
        "seed": args.seed,
        "count": args.count,
        "file_size": FILE_SIZE,
        "sequences": sequences,
    }
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, args.out)
    n_ops = sum(len(s["ops"]) for s in sequences)
    print(f"record.py: {len(sequences)} sequences, {n_ops} answers in "
          f"{time.monotonic() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
