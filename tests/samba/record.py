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
from smbprotocol.session import Session, SMB2Logoff
from smbprotocol.tree import SMB2TreeConnectRequest, SMB2TreeDisconnect, TreeConnect

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

# (file, first status, final status, attempts, seconds) of every polled CREATE, for the summary line.
POLLS = []


def mapped(mask):
    out = mask & 0x0FFFFFFF
    for bit, m in GENERIC_MAP.items():
        if mask & bit:
            out |= m
    return out


class Client:
    """One connection, session and tree connect; raw SMB2 requests."""

    def __init__(self, host, port, user, password, share):
        self.unc = rf"\\{host}\{share}"
        self.conn = Connection(uuid.uuid4(), host, port)
        self.conn.connect(timeout=10)
        self.session = Session(self.conn, user, password, require_encryption=False)
        self.session.connect()
        self.tree = TreeConnect(self.session, self.unc)
        self.tree.connect(require_secure_negotiate=False)
        self.dropped = False

    def call(self, req, tid=None):
        """Sends one request; returns (ntstatus, response header or None).

        After this client's TREE_DISCONNECT or LOGOFF the request still goes
        out with the old ids, so that smbd answers it: smbprotocol refuses to
        send on a tree it has forgotten while its session is known, so the
        tree is put back into its table for that one send (after a LOGOFF the
        session is unknown to smbprotocol and the request goes out unsigned).
        """
        tid = self.tree.tree_connect_id if tid is None else tid
        sid = self.session.session_id
        trees = self.session.tree_connect_table
        known = sid in self.conn.session_table
        put_back = bool(tid) and known and tid not in trees
        if put_back:
            trees[tid] = self.tree
        try:
            request = self.conn.send(req, sid, tid)
        finally:
            if put_back:
                del trees[tid]
        try:
            resp = self.conn.receive(request, timeout=30)
        except SMBResponseException as e:
            return e.status & 0xFFFFFFFF, None
        return resp["status"].get_value() & 0xFFFFFFFF, resp

    def tree_disconnect(self):
        """SMB2 TREE_DISCONNECT of this client's tree (raw: the status is smbd's)."""
        status, _ = self.call(SMB2TreeDisconnect())
        if status == 0:
            self.tree._connected = False
            self.session.tree_connect_table.pop(self.tree.tree_connect_id, None)
        return status

    def logoff(self):
        """SMB2 LOGOFF of this client's session, without disconnecting its tree first."""
        status, _ = self.call(SMB2Logoff(), tid=0)
        if status == 0:
            self.session._connected = False
            self.conn.session_table.pop(self.session.session_id, None)
        return status

    def tree_connect(self):
        """A raw SMB2 TREE_CONNECT to the share in this client's session; the
        new tree id is not used (only refused ones are recorded)."""
        req = SMB2TreeConnectRequest()
        req["buffer"] = self.unc.encode("utf-16-le")
        return self.call(req, tid=0)[0]

    def drop(self):
        """Closes the TCP connection without TREE_DISCONNECT or LOGOFF."""
        self.dropped = True
        self.conn.disconnect(close=False)

    def shutdown(self):
        """The end of a multi-client sequence: a clean disconnect of what is left."""
        if not self.dropped:
            self.dropped = True
            self.conn.disconnect(close=True)

    def create(self, name, access, share, directory=False):
        req = SMB2CreateRequest()
        req["impersonation_level"] = ImpersonationLevel.Impersonation
        req["desired_access"] = access
        req["file_attributes"] = 0
        req["share_access"] = share
        req["create_disposition"] = CreateDisposition.FILE_OPEN
        req["create_options"] = (CreateOptions.FILE_DIRECTORY_FILE if directory
                                 else CreateOptions.FILE_NON_DIRECTORY_FILE)
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
    return rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 3, 5, 7, 7, 7])


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


X, S = True, False
EXCL = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY
SHRD = LockFlags.SMB2_LOCKFLAG_SHARED_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY


class Seq:
    """One sequence on one fresh file (or directory): sends requests, records
    answers."""

    def __init__(self, client, share_dir, name, directory=False, clients=None):
        self.client = client
        # A multi-client sequence: its own Clients (connection, session, tree
        # each); every op then names its client. None: the shared client.
        self.clients = clients
        self.name = name
        self.directory = directory
        self.path = os.path.join(share_dir, name)
        if directory:
            os.mkdir(self.path)
        else:
            with open(self.path, "wb") as f:
                f.write(b"\0" * FILE_SIZE)
        self.ops = []
        self.handles = []  # {"fid", "open", "granted", "locks"}

    def cl(self, c):
        return self.client if self.clients is None else self.clients[c]

    def tag(self, op, c):
        if self.clients is not None:
            op["client"] = c
        return op

    def create(self, access, share, c=0, poll=None):
        """poll: seconds to retry a refused CREATE for (smbd releasing a dropped
        connection's opens); only the final answer is recorded."""
        client = self.cl(c)
        t0 = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            status, fid = client.create(self.name, access, share, self.directory)
            if attempts == 1:
                first = status
            if status == 0 or poll is None or time.monotonic() - t0 >= poll:
                break
            time.sleep(0.02)
        if poll is not None:
            POLLS.append((self.name, first, status, attempts, time.monotonic() - t0))
        op = self.tag({"op": "create", "handle": len(self.handles), "access": access,
                       "share": share, "status": status}, c)
        if self.directory:
            op["directory"] = True
        h = {"fid": fid, "open": status == 0, "granted": None, "locks": [], "client": c}
        if status == 0:
            g = client.granted_access(fid)
            op["granted"] = g
            h["granted"] = g if g is not None else mapped(access)
        self.handles.append(h)
        self.ops.append(op)
        return status

    def fid(self, i):
        fid = self.handles[i]["fid"]
        if fid is None:
            raise RuntimeError(f"{self.name}: request on handle {i}, whose CREATE failed")
        return fid

    def hcl(self, i):
        return self.cl(self.handles[i]["client"])

    def lock(self, i, els):
        """els: [(offset, length, exclusive)]"""
        st = self.hcl(i).lock(self.fid(i), [(o, l, EXCL if x else SHRD) for o, l, x in els])
        self.ops.append(self.tag({"op": "lock", "handle": i,
                                  "locks": [{"offset": o, "length": l, "exclusive": x}
                                            for o, l, x in els],
                                  "status": st}, self.handles[i]["client"]))
        if st == 0:
            self.handles[i]["locks"].extend((o, l) for o, l, _x in els)
        return st

    def unlock(self, i, ranges):
        els = [(o, l, LockFlags.SMB2_LOCKFLAG_UNLOCK) for o, l in ranges]
        st = self.hcl(i).lock(self.fid(i), els)
        self.ops.append(self.tag({"op": "unlock", "handle": i,
                                  "ranges": [{"offset": o, "length": l} for o, l in ranges],
                                  "status": st}, self.handles[i]["client"]))
        for r in ranges:  # only a source of plausible ranges for the generator
            if r in self.handles[i]["locks"]:
                self.handles[i]["locks"].remove(r)
        return st

    def io(self, kind, i, offset, length):
        fid = self.fid(i)
        if kind == "read":
            st = self.hcl(i).read(fid, offset, length)
        else:
            st = self.hcl(i).write(fid, offset, length)
        self.ops.append(self.tag({"op": kind, "handle": i, "offset": offset, "length": length,
                                  "status": st}, self.handles[i]["client"]))
        return st

    def close(self, i):
        st = self.hcl(i).close(self.fid(i))
        self.ops.append(self.tag({"op": "close", "handle": i, "status": st},
                                 self.handles[i]["client"]))
        self.handles[i]["open"] = False
        return st

    def ended(self, c):
        """smbd closed client c's handles (its tree, session or connection ended)."""
        for h in self.handles:
            if h["client"] == c:
                h["open"] = False

    def tree_disconnect(self, c):
        st = self.cl(c).tree_disconnect()
        self.ops.append({"op": "tree_disconnect", "client": c, "status": st})
        if st == 0:
            self.ended(c)
        return st

    def logoff(self, c):
        st = self.cl(c).logoff()
        self.ops.append({"op": "logoff", "client": c, "status": st})
        if st == 0:
            self.ended(c)
        return st

    def tree_connect(self, c):
        st = self.cl(c).tree_connect()
        if st == 0:
            raise RuntimeError(f"{self.name}: a TREE_CONNECT succeeded; only refused ones are "
                               "recorded (a client keeps its first tree id)")
        self.ops.append({"op": "tree_connect", "client": c, "status": st})
        return st

    def drop_connection(self, c):
        """Closes client c's socket (no LOGOFF). No answer: nothing is recorded but the step."""
        self.cl(c).drop()
        self.ops.append({"op": "drop_connection", "client": c})
        self.ended(c)

    def finish(self, **extra):
        for i, h in enumerate(self.handles):
            if h["open"]:
                self.close(i)
        for client in self.clients or []:
            client.shutdown()
        (os.rmdir if self.directory else os.unlink)(self.path)
        if self.clients is not None:
            extra["clients"] = len(self.clients)
        return dict(extra, file=self.name, ops=self.ops)


def random_sequence(client, rng, index, share_dir):
    q = Seq(client, share_dir, f"seq{index:05d}")
    all_ranges = []  # (offset, length) of every lock granted in this sequence

    for _ in range(rng.randint(2, 4)):
        q.create(random_access(rng), random_share(rng))

    for _ in range(rng.randint(6, 24)):
        live = [i for i, h in enumerate(q.handles) if h["open"]]
        closed = [i for i, h in enumerate(q.handles) if h["fid"] is not None and not h["open"]]
        r = rng.random()
        if not live or r < 0.10:
            q.create(random_access(rng), random_share(rng))
            continue
        if closed and r < 0.12:
            # A request on a closed handle: STATUS_FILE_CLOSED expected.
            i = rng.choice(closed)
            if rng.random() < 0.5:
                q.lock(i, [(0, 1, X)])
            else:
                q.close(i)
            continue
        i = rng.choice(live)
        h = q.handles[i]
        g = h["granted"]
        if r < 0.45:
            n = 1 if rng.random() < 0.7 else rng.randint(2, 4)
            els = []
            for _ in range(n):
                off, ln = random_range(rng, all_ranges)
                els.append((off, ln, rng.random() < 0.5))
            if q.lock(i, els) == 0:
                all_ranges.extend((o, l) for o, l, _x in els)
        elif r < 0.60:
            n = 1 if rng.random() < 0.8 else rng.randint(2, 3)
            rs = []
            for _ in range(n):
                if h["locks"] and rng.random() < 0.7:
                    rs.append(rng.choice(h["locks"]))
                else:
                    rs.append(random_range(rng, all_ranges))
            q.unlock(i, rs)
        elif r < 0.90:
            # Only requests the handle's access allows: smbd answers
            # ACCESS_DENIED otherwise, which the table does not model.
            can_read = g & (FILE_READ_DATA | FILE_EXECUTE)
            can_write = g & (FILE_WRITE_DATA | FILE_APPEND_DATA)
            kinds = (["read"] if can_read else []) + (["write"] if can_write else [])
            if not kinds:
                continue
            off, ln = io_range(rng)
            q.io(rng.choice(kinds), i, off, ln)
        else:
            q.close(i)
    return q.finish(index=index)


# --- directed scenarios (replayed like the random ones) ----------------------

RW = FILE_READ_DATA | FILE_WRITE_DATA
ALL_SHARE = 7


def sc_lock_refusal_status(q):
    """A refused lock is LOCK_NOT_GRANTED, also when repeated and at 0xEF000000."""
    a, b = q.create(RW, ALL_SHARE), q.create(RW, ALL_SHARE)
    for off in (0, 0xEF000000, 0xF0000000, 1 << 63, U64 - 9):
        q.lock(0, [(off, 10, X)])
        for _ in range(3):
            q.lock(1, [(off, 10, X)])
        q.lock(1, [(off + 1, 2, S)])
        q.lock(1, [(off, 10, X)])


def sc_range_limits(q):
    """Last byte at 2^64-1 is fine; one byte further is INVALID_LOCK_RANGE."""
    q.create(RW, ALL_SHARE)
    q.create(RW, ALL_SHARE)
    for off, ln in [(U64, 1), (U64, 2), (U64, 0), (1, U64), (2, U64), (0, U64),
                    (U64 - 15, 16), (U64 - 15, 17), (1 << 63, 1 << 63), (1 << 63, (1 << 63) + 1),
                    (U64, U64)]:
        q.lock(0, [(off, ln, S)])
    q.lock(1, [(5, 1, X)])  # (0, U64) shared by handle 0 covers it
    q.lock(1, [(U64, 1, S)])
    q.lock(1, [(U64, 1, X)])
    q.unlock(0, [(U64, 2)])  # never locked, and an invalid range


def sc_zero_length(q):
    """Zero-length locks: conflict only with a range holding bytes on both sides."""
    q.create(RW, ALL_SHARE)
    q.create(RW, ALL_SHARE)
    q.lock(0, [(10, 10, X)])        # bytes 10..19
    q.lock(1, [(10, 0, X)])         # at its first byte
    q.lock(1, [(15, 0, X)])         # inside
    q.lock(1, [(19, 0, X)])         # before its last byte
    q.lock(1, [(20, 0, X)])         # just past it
    q.lock(1, [(0, 0, X)])
    q.lock(0, [(100, 0, X)])
    q.lock(1, [(100, 0, X)])        # identical zero-length ranges
    q.lock(1, [(99, 2, X)])         # holds bytes 99 and 100
    q.lock(1, [(100, 5, X)])        # starts at it
    q.lock(1, [(95, 5, X)])         # ends at it
    q.lock(0, [(200, 0, X)])
    q.lock(0, [(200, 0, X)])        # same handle, same zero-length range
    q.lock(1, [(15, 0, S)])
    q.io("read", 1, 15, 0)          # zero-length I/O inside an exclusive lock
    q.io("write", 1, 15, 0)
    q.io("read", 1, 15, 1)
    q.unlock(0, [(200, 0)])
    q.unlock(0, [(200, 0)])
    q.unlock(0, [(200, 0)])


def sc_stacking(q):
    """Shared on own exclusive stacks; unlock removes the oldest matching lock."""
    q.create(RW, ALL_SHARE)
    q.create(RW, ALL_SHARE)
    q.lock(0, [(0, 10, X)])
    q.lock(0, [(0, 10, S)])         # stacks
    q.lock(0, [(0, 10, S)])         # stacks again
    q.lock(0, [(0, 10, X)])         # exclusive on own exclusive
    q.lock(0, [(5, 10, S)])         # partly over own exclusive
    q.lock(1, [(12, 1, S)])         # only over 0's shared part
    q.lock(1, [(8, 1, S)])          # over 0's exclusive
    q.io("read", 1, 12, 1)
    q.io("write", 0, 0, 4)          # own handle: shared locks there too
    q.unlock(0, [(0, 10)])          # Samba: removes the exclusive (oldest)
    q.lock(1, [(0, 10, S)])         # granted iff the exclusive went
    q.io("read", 1, 2, 2)
    q.unlock(0, [(0, 10)])
    q.unlock(0, [(0, 10)])
    q.unlock(0, [(0, 10)])          # nothing left with that range
    q.lock(0, [(30, 5, S)])
    q.lock(0, [(30, 5, X)])         # exclusive on own shared
    q.lock(0, [(40, 5, X), (40, 5, S)])  # stacking inside one request
    q.lock(1, [(40, 5, S)])
    q.unlock(0, [(40, 5)])
    q.lock(1, [(40, 5, S)])
    # Zero-length locks never overlap each other, so one handle can hold a
    # shared and then an exclusive lock at the same point: unlock removes the
    # older (shared) one, not the exclusive one.
    q.lock(0, [(60, 0, S)])
    q.lock(0, [(60, 0, X)])
    q.lock(1, [(55, 10, S)])        # spans 60: conflicts with the exclusive
    q.unlock(0, [(60, 0)])
    q.lock(1, [(55, 10, S)])
    q.unlock(0, [(60, 0)])
    q.lock(1, [(55, 10, S)])


def sc_unlock(q):
    """Unlock needs this handle's lock with exactly that range; stops at the first miss."""
    q.create(RW, ALL_SHARE)
    q.create(RW, ALL_SHARE)
    q.unlock(0, [(0, 10)])
    q.lock(0, [(0, 10, S)])
    q.unlock(0, [(0, 5)])
    q.unlock(0, [(0, 11)])
    q.unlock(1, [(0, 10)])
    q.lock(0, [(20, 10, X)])
    q.unlock(0, [(0, 10), (0, 10), (20, 10)])  # second misses
    q.lock(1, [(0, 10, X)])         # first stayed unlocked
    q.lock(1, [(20, 10, X)])        # third was never reached
    q.unlock(0, [(20, 10)])
    q.lock(1, [(20, 10, X)])


def sc_multi(q):
    """Several elements: all or nothing, each checked against the earlier ones."""
    q.create(RW, ALL_SHARE)
    q.create(RW, ALL_SHARE)
    q.lock(0, [(0, 10, X), (20, 10, X), (5, 1, X)])  # third hits the first
    q.lock(1, [(0, 10, X)])
    q.unlock(1, [(0, 10)])
    q.lock(0, [(0, 10, S), (0, 10, S), (U64, 2, S)])
    q.lock(1, [(0, 10, X)])
    q.unlock(1, [(0, 10)])
    q.lock(1, [(50, 1, X)])
    q.lock(0, [(60, 1, X), (61, 1, S), (50, 1, S), (62, 1, X)])
    q.lock(1, [(60, 3, X)])
    q.unlock(1, [(60, 3)])
    q.lock(0, [(60, 1, X), (61, 1, S), (62, 1, X)])
    q.lock(1, [(61, 1, S)])
    q.lock(1, [(62, 1, S)])


def sc_io(q):
    """READ/WRITE against locks of the same and of other handles."""
    q.create(RW, ALL_SHARE)
    q.create(RW, ALL_SHARE)
    q.lock(0, [(0, 10, S)])
    for h in (0, 1):
        q.io("read", h, 0, 5)
        q.io("write", h, 0, 5)
        q.io("write", h, 9, 1)
        q.io("write", h, 10, 5)
    q.lock(0, [(20, 10, X)])
    for h in (0, 1):
        q.io("read", h, 20, 5)
        q.io("write", h, 25, 5)
        q.io("read", h, 18, 3)
        q.io("read", h, 29, 2)
        q.io("write", h, 30, 5)
    q.lock(0, [(20, 10, S)])        # stacked: own write now conflicts
    q.io("write", 0, 20, 1)
    q.io("read", 0, 20, 1)
    q.close(0)
    q.io("write", 1, 0, 40)         # locks went with the close


def sc_stat_opens(q):
    """Opens without data access neither are refused nor refuse."""
    q.create(FILE_READ_DATA, 0)
    for access in (FILE_READ_ATTRIBUTES, SYNCHRONIZE | READ_CONTROL, FILE_WRITE_ATTRIBUTES,
                   FILE_READ_EA | FILE_WRITE_EA, WRITE_DAC | WRITE_OWNER, FILE_DELETE_CHILD,
                   FILE_READ_ATTRIBUTES | SYNCHRONIZE):
        q.create(access, 0)
    q.create(FILE_READ_DATA, ALL_SHARE)
    q.close(0)
    q.create(FILE_READ_DATA, ALL_SHARE)
    q.create(FILE_WRITE_DATA, 0)    # stat opens with share 0 still live
    q.lock(1, [(0, 10, X)])         # a stat open can lock
    q.io("read", 9, 0, 5)


def sc_delete(q):
    """DELETE access and FILE_SHARE_DELETE."""
    q.create(DELETE, FILE_SHARE_READ | FILE_SHARE_WRITE)
    q.create(FILE_READ_DATA, ALL_SHARE)
    q.create(FILE_READ_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE)
    q.create(DELETE, ALL_SHARE)
    q.create(DELETE | FILE_READ_ATTRIBUTES, ALL_SHARE)
    q.close(0)
    q.create(DELETE, ALL_SHARE)
    q.create(DELETE, FILE_SHARE_READ)


def sc_generic(q):
    """GENERIC_* bits count as what they map to."""
    q.create(GENERIC_READ, FILE_SHARE_READ)
    q.create(GENERIC_WRITE, ALL_SHARE)
    q.create(GENERIC_EXECUTE, ALL_SHARE)
    q.create(GENERIC_READ, ALL_SHARE)
    q.create(GENERIC_ALL, ALL_SHARE)
    q.create(FILE_EXECUTE, FILE_SHARE_READ)
    q.close(0)
    q.create(GENERIC_ALL, ALL_SHARE)
    q.create(GENERIC_ALL, FILE_SHARE_READ | FILE_SHARE_WRITE)


def sc_execute_append(q):
    """EXECUTE counts as read, APPEND as write."""
    q.create(FILE_EXECUTE, FILE_SHARE_WRITE)
    q.create(FILE_READ_DATA, ALL_SHARE)
    q.create(FILE_APPEND_DATA, FILE_SHARE_WRITE | FILE_SHARE_DELETE)
    q.create(FILE_APPEND_DATA, ALL_SHARE)
    q.create(FILE_WRITE_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE)
    q.io("write", 3, 0, 4)          # append-only handle writes at offset 0


def sc_closed(q):
    """Requests on a closed handle; close releases locks; refused opens change nothing."""
    q.create(RW, FILE_SHARE_READ)
    q.create(FILE_WRITE_DATA, ALL_SHARE)
    q.create(FILE_READ_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE)
    q.lock(0, [(0, 10, X)])
    q.close(0)
    q.lock(0, [(0, 10, X)])
    q.unlock(0, [(0, 10)])
    q.close(0)
    q.create(FILE_WRITE_DATA, FILE_SHARE_READ)
    q.lock(2, [(0, 10, X)])


def sc_directories(q):
    """Directories: the same sharing rule as files; LOCK, unlock and READ on a
    directory handle are refused with STATUS_INVALID_DEVICE_REQUEST."""
    q.create(FILE_READ_DATA, 0)                 # LIST_DIRECTORY, no sharing
    q.create(FILE_READ_DATA, ALL_SHARE)         # refused: h0 shares nothing
    q.create(FILE_READ_ATTRIBUTES, 0)           # a stat open is never refused
    q.create(DELETE, ALL_SHARE)                 # refused
    q.create(GENERIC_READ, FILE_SHARE_READ)     # refused
    q.lock(0, [(0, 10, X)])
    q.lock(2, [(0, 0, S)])
    q.unlock(0, [(0, 10)])
    q.io("read", 0, 0, 10)
    q.io("read", 2, 0, 0)
    q.close(0)
    q.create(FILE_READ_DATA | FILE_WRITE_DATA | DELETE, FILE_SHARE_READ)  # LIST, ADD_FILE, DELETE
    q.create(FILE_READ_DATA, FILE_SHARE_READ)   # refused: lacks FILE_SHARE_WRITE and _DELETE
    q.create(FILE_READ_DATA, ALL_SHARE)
    q.lock(7, [(5, 5, S)])
    q.lock(7, [((1 << 64) - 1, 2, X)])          # the directory check comes first
    q.unlock(5, [(5, 5)])
    q.unlock(5, [((1 << 64) - 1, 2)])


FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_SHARE_DELETE = 1, 2, 4

SCENARIOS = [sc_lock_refusal_status, sc_range_limits, sc_zero_length, sc_stacking, sc_unlock,
             sc_multi, sc_io, sc_stat_opens, sc_delete, sc_generic, sc_execute_append, sc_closed,
             sc_directories]
ON_DIRECTORY = {sc_directories}


# --- directed scenarios with two clients (replayed) ---------------------------
# Client A and client B each have their own TCP connection, session and tree
# connect (sequence field "clients": 2, every op names its "client").

A, B = 0, 1


def a_holds_b_refused(q):
    """A: RW denying write, X(0,10). B: a compatible READ open, a refused WRITE
    open, its read and lock under A's lock refused."""
    q.create(RW, FILE_SHARE_READ, A)                                # h0
    q.lock(0, [(0, 10, X)])
    q.create(FILE_READ_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, B)  # h1
    q.create(FILE_WRITE_DATA, ALL_SHARE, B)                         # h2: SHARING_VIOLATION
    q.io("read", 1, 0, 5)                                           # FILE_LOCK_CONFLICT
    q.lock(1, [(0, 10, X)])                                         # LOCK_NOT_GRANTED


def b_goes_through(q, poll=None):
    """After A's end: B's WRITE open, read and lock succeed; B's own lock then
    blocks B's other handle, as any lock does."""
    q.create(FILE_WRITE_DATA, ALL_SHARE, B, poll=poll)              # h3
    q.io("read", 1, 0, 5)
    q.lock(1, [(0, 10, X)])
    q.io("write", 3, 0, 5)                                          # FILE_LOCK_CONFLICT (h1's)


def sc_tree_disconnect_releases(q):
    """Two clients. A's TREE_DISCONNECT closes A's open: B's conflicting open,
    read and lock go through; then A's CREATE on the disconnected tree and a
    second TREE_DISCONNECT -> NETWORK_NAME_DELETED."""
    a_holds_b_refused(q)
    q.tree_disconnect(A)
    b_goes_through(q)
    q.create(FILE_READ_DATA, ALL_SHARE, A)
    q.tree_disconnect(A)


def sc_logoff_releases(q):
    """Two clients. A's LOGOFF (no TREE_DISCONNECT first) closes A's open: B's
    conflicting open, read and lock go through; then A's CREATE (old session
    and tree ids), TREE_CONNECT and a second LOGOFF -> USER_SESSION_DELETED."""
    a_holds_b_refused(q)
    q.logoff(A)
    b_goes_through(q)
    q.create(FILE_READ_DATA, ALL_SHARE, A)
    q.tree_connect(A)
    q.logoff(A)


def sc_dropped_connection_releases(q):
    """Two clients. A's TCP connection is closed without LOGOFF; smbd closes
    A's (non-durable) open: B's conflicting open (retried for up to 5 s, the
    final answer recorded), read and lock go through. The table: logoff."""
    a_holds_b_refused(q)
    q.drop_connection(A)
    b_goes_through(q, poll=5.0)


SESSION_SCENARIOS = [sc_tree_disconnect_releases, sc_logoff_releases,
                     sc_dropped_connection_releases]


# --- probes (recorded, not replayed: answers the table does not model) -------

def pr_rollback_unlocks_oldest(q):
    """A failed multi-element lock rolls back with unlock-by-range, which removes
    the handle's OLDEST lock of that range: here the earlier exclusive lock,
    not the shared one the failed request had stacked on it."""
    q.create(RW, ALL_SHARE)
    q.create(RW, ALL_SHARE)
    q.create(RW, ALL_SHARE)
    q.lock(0, [(0, 10, X)])
    q.lock(1, [(50, 1, X)])
    q.lock(0, [(0, 10, S), (50, 1, X)])  # refused; rollback
    q.lock(2, [(0, 10, S)])        # spec: refused (0 still holds X)
    q.io("read", 2, 0, 5)
    q.io("write", 2, 0, 5)


def pr_access_checks(q):
    """READ/WRITE need access; locks need none."""
    q.create(FILE_WRITE_DATA, ALL_SHARE)
    q.create(FILE_READ_DATA, ALL_SHARE)
    q.create(FILE_READ_ATTRIBUTES, ALL_SHARE)
    q.io("read", 0, 0, 4)
    q.io("write", 1, 0, 4)
    q.io("read", 2, 0, 4)
    q.lock(2, [(0, 4, X)])
    q.create(0, ALL_SHARE)
    q.create(0x02000000, ALL_SHARE)        # MAXIMUM_ALLOWED
    q.create(0x02000000, 0)
    q.create(0x01000000, ALL_SHARE)        # ACCESS_SYSTEM_SECURITY
    q.create(0x00200000, ALL_SHARE)        # a reserved bit


def pr_eof(q):
    """Reads at or past end of file, with and without a conflicting lock."""
    q.create(RW, ALL_SHARE)
    q.create(RW, ALL_SHARE)
    q.io("read", 0, FILE_SIZE, 1)
    q.io("read", 0, FILE_SIZE - 2, 10)
    q.io("read", 0, FILE_SIZE, 0)
    q.lock(1, [(FILE_SIZE, 100, X)])
    q.io("read", 0, FILE_SIZE, 1)
    q.io("read", 0, FILE_SIZE + 50, 1)


def pr_bad_lock_requests(q):
    """Malformed LOCK requests."""
    q.create(RW, ALL_SHARE)
    c = q.client
    fid = q.handles[0]["fid"]
    for flags in ([EXCL | LockFlags.SMB2_LOCKFLAG_SHARED_LOCK],
                  [EXCL, LockFlags.SMB2_LOCKFLAG_UNLOCK],
                  [LockFlags.SMB2_LOCKFLAG_UNLOCK, EXCL],
                  [LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK, EXCL],
                  [LockFlags.SMB2_LOCKFLAG_UNLOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY]):
        st = c.lock(fid, [(i * 10, 5, f) for i, f in enumerate(flags)])
        q.ops.append({"op": "raw_lock", "handle": 0,
                      "elements": [{"offset": i * 10, "length": 5, "flags": f}
                                   for i, f in enumerate(flags)], "status": st})


def pr_directory_write(q):
    """WRITE on a directory handle, even one opened with FILE_WRITE_DATA
    (ADD_FILE): smbd answers STATUS_ACCESS_DENIED, its access check (outside
    the table's model) coming first."""
    q.create(FILE_READ_DATA | FILE_WRITE_DATA, ALL_SHARE)
    q.io("write", 0, 0, 10)
    q.io("write", 0, 0, 0)


def pr_stale_handles(q):
    """Requests on a handle whose tree was disconnected (client 0) or whose
    session logged off (client 1): smbd checks the tree and session before
    the file id, so these are not FILE_CLOSED."""
    q.create(RW, ALL_SHARE, 0)
    q.create(RW, ALL_SHARE, 1)
    q.lock(0, [(0, 10, X)])
    q.lock(1, [(20, 10, X)])
    q.tree_disconnect(0)
    q.logoff(1)
    for h in (0, 1):
        q.lock(h, [(40, 1, X)])
        q.unlock(h, [(0, 10)])
        q.io("read", h, 0, 1)
        q.close(h)


PROBES = [pr_rollback_unlocks_oldest, pr_access_checks, pr_eof, pr_bad_lock_requests,
          pr_directory_write, pr_stale_handles]
ON_DIRECTORY.add(pr_directory_write)
TWO_CLIENTS = {pr_stale_handles}


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

    def connect():
        return Client(args.host, args.port, args.user, args.password, args.share)

    client = connect()
    sequences = []
    for n, sc in enumerate(SCENARIOS + SESSION_SCENARIOS):
        clients = [connect(), connect()] if sc in SESSION_SCENARIOS else None
        if sc is SESSION_SCENARIOS[0]:
            t_sessions = time.monotonic()
        q = Seq(client, args.share_dir, f"scenario{n:02d}", directory=sc in ON_DIRECTORY,
                clients=clients)
        sc(q)
        sequences.append(q.finish(index=len(sequences), name=sc.__name__[3:],
                                  note=" ".join(sc.__doc__.split())))
    t_sessions = time.monotonic() - t_sessions
    for i in range(args.count):
        rng = random.Random(args.seed * 1_000_003 + i)
        sequences.append(random_sequence(client, rng, len(sequences), args.share_dir))
    probes = []
    for n, pr in enumerate(PROBES):
        q = Seq(client, args.share_dir, f"probe{n:02d}", directory=pr in ON_DIRECTORY,
                clients=[connect(), connect()] if pr in TWO_CLIENTS else None)
        pr(q)
        probes.append(q.finish(name=pr.__name__[3:], note=" ".join(pr.__doc__.split())))
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
        "probes": probes,
    }
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, args.out)
    n_ops = sum(len(s["ops"]) for s in sequences)
    n_directed = len(SCENARIOS) + len(SESSION_SCENARIOS)
    print(f"record.py: {len(sequences)} sequences ({n_directed} directed, "
          f"{len(SESSION_SCENARIOS)} with two clients: {t_sessions:.2f} s), {len(probes)} probes, "
          f"{n_ops} answers in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    for name, first, status, attempts, secs in POLLS:
        print(f"record.py: {name}: polled CREATE answered 0x{status:08X} at attempt {attempts}, "
              f"after {secs * 1000:.0f} ms (first answer 0x{first:08X})", file=sys.stderr)


if __name__ == "__main__":
    main()
