#!/usr/bin/env python3
"""Records real smbd's answers about delete-on-close, oplocks and leases.

Run through `bash scripts/samba-record.sh --leases OUT.json`, which starts a
throwaway smbd with `oplocks = yes`, `smb2 leases = yes`, `kernel oplocks =
no`, `kernel share modes = no`, `posix locking = no` and passes the options
below. The directed scenarios first, then `--count` (default 500) random
sequences of `--seed` (see "random sequences" below and
tests/samba/README.md); each is a list of steps, every step records smbd's answer and the set of break notifications
that arrived on any connection because of it. The JSON format and the rules
read from it are in tests/samba/LEASES-FINDINGS.md.

smbprotocol cannot receive a break notification: its receive thread looks
every incoming message up among the outstanding requests, and an unsolicited
one (MessageId 0xFFFFFFFFFFFFFFFF) is not there. `BreakClient` replaces the
connection's table of outstanding requests by a dict whose missing-key hook
hands such messages to the client instead: they are parsed (MS-SMB2 2.2.23.1
oplock break, 2.2.23.2 lease break) and, by the client's ack policy,
acknowledged at once from the receive thread (2.2.24.1 / 2.2.24.2; the
acknowledgement's response, 2.2.25, is picked up by the recorder after the
step) or left for the scenario to acknowledge by hand.

A step ends with a barrier instead of a sleep: every outstanding ack's
response is received, then an ECHO round trip is made on every connection,
twice (smbd sends asynchronous breaks from the breaker's process through its
messaging to the holder's process; the second round lets a break that was
queued while the first ECHO was in flight arrive). Breaks are then taken as
a set (sorted). Interim STATUS_PENDING answers are not recorded.
"""

import argparse
import importlib.metadata
import json
import os
import random
import shutil
import struct
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import Client  # noqa: E402  (the share-mode recorder's raw client)

from smbprotocol.connection import Connection  # noqa: E402
from smbprotocol.exceptions import SMBResponseException  # noqa: E402
from smbprotocol.header import Commands  # noqa: E402
from smbprotocol.open import (  # noqa: E402
    ImpersonationLevel,
    SMB2CreateRequest,
    SMB2CreateResponse,
)
from smbprotocol.create_contexts import SMB2CreateContextRequest  # noqa: E402
from smbprotocol.query_info import InfoType  # noqa: E402
from smbprotocol.session import Session  # noqa: E402
from smbprotocol.tree import TreeConnect  # noqa: E402

UNSOLICITED = 0xFFFFFFFFFFFFFFFF
STATUS_PENDING = 0x103
TIMEOUT = 15            # seconds for any one answer (smbd's break timeout is 35 s: see --slow)

# Access
FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA = 0x1, 0x2, 0x4
FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES = 0x80, 0x100
DELETE = 0x10000
SYNCHRONIZE = 0x100000
READ_CONTROL = 0x20000
R, W, RW = FILE_READ_DATA, FILE_WRITE_DATA, FILE_READ_DATA | FILE_WRITE_DATA
# Sharing
SH_R, SH_W, SH_D = 1, 2, 4
SH_ALL = 7
# Dispositions
FILE_OPEN, FILE_CREATE, FILE_OPEN_IF, FILE_OVERWRITE_IF = 1, 2, 3, 5
# Create options
FILE_DIRECTORY_FILE = 0x1
FILE_NON_DIRECTORY_FILE = 0x40
FILE_DELETE_ON_CLOSE = 0x1000
# Oplock levels (MS-SMB2 2.2.13)
OPLOCK_NONE, OPLOCK_II, OPLOCK_EXCLUSIVE, OPLOCK_BATCH, OPLOCK_LEASE = 0, 1, 8, 9, 0xFF
# Lease state bits (MS-SMB2 2.2.13.2.8)
LR, LH, LW = 1, 2, 4
LEASE_BREAK_ACK_REQUIRED = 0x1
LEASE_PARENT_KEY_SET = 0x4
CTX_LEASE = b"RqLs"

# Two lease keys (and a parent key for v2): fixed, so recordings compare equal.
KEYS = {"K1": bytes(range(0x10, 0x20)), "K2": bytes(range(0x20, 0x30)),
        "P1": bytes(range(0x30, 0x40))}
KEY_NAMES = {v: k for k, v in KEYS.items()}


def lease_str(state):
    """Lease state as letters in the order R, W, H (MS-SMB2 names); '' is none.
    Bits outside RWH are appended as +0x.. (never seen)."""
    s = ("R" if state & LR else "") + ("W" if state & LW else "") + ("H" if state & LH else "")
    rest = state & ~(LR | LW | LH)
    return s + (f"+0x{rest:x}" if rest else "")


def lease_bits(letters):
    return (LR if "R" in letters else 0) | (LW if "W" in letters else 0) | (LH if "H" in letters else 0)


class RawMessage:
    """An SMB2 request body built by hand (smbprotocol has no break acks)."""

    def __init__(self, command, body):
        self.COMMAND = command
        self._body = body

    def pack(self):
        return self._body

    def __len__(self):
        return len(self._body)


class _UnsolicitedSink:
    """Stands in for a Request when the receive thread looks up MessageId
    0xFFFFFFFFFFFFFFFF: setting the response hands the message to the client."""

    class _Reserved:
        @staticmethod
        def get_value():
            return 0

    class _Event:
        @staticmethod
        def set():
            pass

    session_id = None

    def __init__(self, client):
        self._client = client
        self.response_event_lock = threading.Lock()
        self.response_event = self._Event()
        self.message = {"reserved": self._Reserved()}
        self.async_id = None

    @property
    def response(self):
        return None

    @response.setter
    def response(self, header):
        self._client._unsolicited(header)


class _Outstanding(dict):
    def __init__(self, client):
        super().__init__()
        self._client = client

    def __missing__(self, message_id):
        if message_id == UNSOLICITED:
            return _UnsolicitedSink(self._client)
        raise KeyError(message_id)


class BreakClient(Client):
    """One connection (its own client GUID), session and tree connect that
    receives break notifications.

    ack_policy: "auto" acknowledges every break that needs it at once, from
    the receive thread, with the state/level offered; "manual" queues them
    for the scenario (Recorder.lease_ack / oplock_ack); "never" ignores them.
    """

    def __init__(self, name, host, port, user, password, share):
        self.name = name
        self.unc = rf"\\{host}\{share}"
        self.conn = Connection(uuid.uuid4(), host, port)
        self.conn.outstanding_requests = _Outstanding(self)
        self.lock = threading.Lock()
        self.arrived = []       # parsed breaks not yet taken by a step
        self.ack_requests = []  # (break dict, Request) of acks sent by the receive thread
        self.fids = {}          # file id -> [handle index, current oplock level]
        self.ack_policy = "auto"
        self.errors = []
        self.conn.connect(timeout=10)
        self.session = Session(self.conn, user, password, require_encryption=False)
        self.session.connect()
        self.tree = TreeConnect(self.session, self.unc)
        self.tree.connect(require_secure_negotiate=False)
        self.dropped = False

    # -- receive thread --------------------------------------------------
    def _unsolicited(self, header):
        try:
            self._parse_break(header)
        except Exception as e:  # never kill the receive thread
            with self.lock:
                self.errors.append(repr(e))

    def _parse_break(self, header):
        data = header["data"].get_value()
        command = header["command"].get_value()
        if command != Commands.SMB2_OPLOCK_BREAK:
            with self.lock:
                self.arrived.append({"client": self.name, "type": f"unsolicited command {command}"})
            return
        size = struct.unpack_from("<H", data)[0]
        if size == 44:  # 2.2.23.2 Lease Break Notification
            (_s, epoch, flags, key, cur, new, reason, _amh, _smh) = struct.unpack_from(
                "<HHI16sIIIII", data)
            brk = {"client": self.name, "type": "lease", "key": KEY_NAMES.get(key, key.hex()),
                   "from": lease_str(cur), "to": lease_str(new),
                   "ack_required": bool(flags & LEASE_BREAK_ACK_REQUIRED),
                   "epoch": epoch}
            if reason:
                brk["reason"] = reason
            ack = None
            if brk["ack_required"] and self.ack_policy == "auto":
                ack = self._send_lease_ack(key, new)
                brk["ack"] = {"state": lease_str(new)}
        elif size == 24:  # 2.2.23.1 Oplock Break Notification
            level = data[2]
            fid = data[8:24]
            h = self.fids.get(fid)
            held = h[1] if h else None
            brk = {"client": self.name, "type": "oplock",
                   "handle": h[0] if h else None, "from": held, "to": level,
                   # MS-SMB2 3.3.4.6: a break from exclusive or batch needs an ack;
                   # from level II (to none) it does not.
                   "ack_required": held in (OPLOCK_EXCLUSIVE, OPLOCK_BATCH)}
            ack = None
            if brk["ack_required"] and self.ack_policy == "auto":
                ack = self._send_oplock_ack(fid, level)
                brk["ack"] = {"level": level}
            if h:
                h[1] = level
        else:
            brk = {"client": self.name, "type": f"break of size {size}", "raw": data.hex()}
            ack = None
        with self.lock:
            self.arrived.append(brk)
            if ack is not None:
                self.ack_requests.append((brk, ack))

    def _send_lease_ack(self, key, state):
        # 2.2.24.2: StructureSize 36, Reserved, Flags, LeaseKey, LeaseState, LeaseDuration
        body = struct.pack("<HHI16sIQ", 36, 0, 0, key, state, 0)
        return self.conn.send(RawMessage(Commands.SMB2_OPLOCK_BREAK, body),
                              self.session.session_id, self.tree.tree_connect_id)

    def _send_oplock_ack(self, fid, level):
        # 2.2.24.1: StructureSize 24, OplockLevel, Reserved, Reserved2, FileId
        body = struct.pack("<HBBI16s", 24, level, 0, 0, fid)
        return self.conn.send(RawMessage(Commands.SMB2_OPLOCK_BREAK, body),
                              self.session.session_id, self.tree.tree_connect_id)

    # -- main thread -----------------------------------------------------
    def wait(self, request, timeout=TIMEOUT):
        """The final answer to a sent request (interim STATUS_PENDING skipped)."""
        try:
            resp = self.conn.receive(request, timeout=timeout)
        except SMBResponseException as e:
            return e.status & 0xFFFFFFFF, None
        return resp["status"].get_value() & 0xFFFFFFFF, resp

    def send(self, msg, tid=None):
        return self.conn.send(msg, self.session.session_id,
                              self.tree.tree_connect_id if tid is None else tid)

    def echo(self):
        self.conn.echo(sid=self.session.session_id, timeout=TIMEOUT)

    def take(self):
        with self.lock:
            out, self.arrived = self.arrived, []
            acks, self.ack_requests = self.ack_requests, []
        return out, acks


def create_request(name, access, share, disposition, options, oplock=OPLOCK_NONE,
                   lease=None, attributes=0):
    req = SMB2CreateRequest()
    req["impersonation_level"] = ImpersonationLevel.Impersonation
    req["desired_access"] = access
    req["file_attributes"] = attributes
    req["share_access"] = share
    req["create_disposition"] = disposition
    req["create_options"] = options
    req["requested_oplock_level"] = oplock
    req["buffer_path"] = name.encode("utf-16-le")
    if lease is not None:
        key = KEYS[lease["key"]]
        state = lease_bits(lease["state"])
        if lease.get("v", 1) == 2:
            parent = lease.get("parent")
            flags = LEASE_PARENT_KEY_SET if parent else 0
            data = struct.pack("<16sIIQ16sHH", key, state, flags, 0,
                               KEYS[parent] if parent else b"\0" * 16, lease.get("epoch", 0), 0)
        else:
            data = struct.pack("<16sIIQ", key, state, 0, 0)
        ctx = SMB2CreateContextRequest()
        ctx["buffer_name"] = CTX_LEASE
        ctx["buffer_data"] = data
        req["buffer_contexts"] = SMB2CreateContextRequest.pack_multiple([ctx])
    return req


def set_info_request(fid, info_class, buf):
    """2.2.39 SET_INFO (SMB2_0_INFO_FILE), built by hand: smbprotocol's enum
    lacks some classes (FileDispositionInformationEx, 64)."""
    body = struct.pack("<HBBIHHI16s", 33, InfoType.SMB2_0_INFO_FILE, info_class, len(buf),
                       64 + 32, 0, 0, fid) + buf
    return RawMessage(Commands.SMB2_SET_INFO, body)


def parse_create_response(resp):
    cr = SMB2CreateResponse()
    cr.unpack(resp["data"].get_value())
    out = {"oplock_granted": cr["oplock_level"].get_value()}
    for ctx in cr["buffer"].get_value():
        if ctx["buffer_name"].get_value() != CTX_LEASE:
            continue
        d = ctx["buffer_data"].get_value()
        key, state, flags, _dur = struct.unpack_from("<16sIIQ", d)
        lg = {"key": KEY_NAMES.get(key, key.hex()), "state": lease_str(state), "flags": flags,
              "v": 2 if len(d) >= 52 else 1}
        if len(d) >= 52:
            parent, epoch = struct.unpack_from("<16sH", d, 32)
            lg["epoch"] = epoch
            if flags & LEASE_PARENT_KEY_SET or parent != b"\0" * 16:
                lg["parent"] = KEY_NAMES.get(parent, parent.hex())
        out["lease_granted"] = lg
    return cr["file_id"].get_value(), out


def ack_answer(status, resp):
    """An acknowledgement's answer (2.2.25): its status and, on success, the
    level (oplock) or lease state smbd echoes."""
    out = {"status": status}
    if status == 0 and resp is not None:
        body = resp["data"].get_value()
        if len(body) >= 36:
            out["answer_state"] = lease_str(struct.unpack_from("<I", body, 24)[0])
        elif len(body) >= 24:
            out["answer_level"] = body[2]
    return out


class Recorder:
    """One scenario: up to three clients A, B, C; steps recorded as JSON ops."""

    def __init__(self, clients, share_dir, prefix):
        self.clients = clients            # {"A": BreakClient, ...}
        self.share_dir = share_dir
        self.prefix = prefix
        self.ops = []
        self.handles = []                 # {"client", "fid", "open", "file"}
        self.pending = {}                 # handle -> (client, request, op) of async creates
        self.pending_io = []              # (client, request, op) of async reads/writes

    # -- helpers ---------------------------------------------------------
    def path(self, f):
        return os.path.join(self.share_dir, self.prefix + f)

    def make_file(self, f, size=64):
        """Creates the file in the share directly (no request); recorded as a
        `make_file` step so that a replay knows which names exist."""
        with open(self.path(f), "wb") as fh:
            fh.write(b"\0" * size)
        self.ops.append({"op": "make_file", "file": f, "size": size})

    def make_dir(self, f, children=()):
        """A directory (and files in it) made in the share directly; a `make_dir` step."""
        os.mkdir(self.path(f))
        for c in children:
            with open(os.path.join(self.path(f), c), "wb") as fh:
                fh.write(b"x")
        self.ops.append({"op": "make_dir", "file": f, "children": list(children)})

    def policy(self, client, policy):
        self.clients[client].ack_policy = policy
        self.ops.append({"op": "ack_policy", "client": client, "policy": policy})

    def barrier(self):
        """Ends a step: ack answers received, two ECHO rounds on every connection,
        the breaks that arrived (as a sorted set)."""
        breaks = []
        for _round in range(2):
            for c in self.clients.values():
                if c.dropped:
                    continue
                arrived, acks = c.take()
                for brk, req in acks:
                    brk["ack"].update(ack_answer(*c.wait(req)))
                breaks.extend(arrived)
                c.echo()
        for c in self.clients.values():
            if c.dropped:
                continue
            arrived, acks = c.take()
            for brk, req in acks:
                brk["ack"].update(ack_answer(*c.wait(req)))
            breaks.extend(arrived)
            if c.errors:
                raise RuntimeError(f"client {c.name}: break parsing failed: {c.errors}")
        # Any further breaks an ack released arrive with the next barrier round;
        # repeat until quiet.
        if any(b.get("ack") for b in breaks):
            more = self.barrier_breaks_only()
            breaks.extend(more)
        return sorted(breaks, key=lambda b: json.dumps(b, sort_keys=True))

    def barrier_breaks_only(self):
        out = []
        for c in self.clients.values():
            if c.dropped:
                continue
            c.echo()
            arrived, acks = c.take()
            for brk, req in acks:
                brk["ack"].update(ack_answer(*c.wait(req)))
            out.extend(arrived)
        if any(b.get("ack") for b in out):
            out.extend(self.barrier_breaks_only())
        return out

    def record(self, op):
        op["breaks"] = self.barrier()
        self.ops.append(op)
        return op

    def fid(self, h):
        fid = self.handles[h]["fid"]
        if fid is None:
            raise RuntimeError(f"{self.prefix}: request on handle {h}, whose CREATE failed")
        return fid

    def cl(self, h):
        return self.clients[self.handles[h]["client"]]

    # -- steps -----------------------------------------------------------
    def create(self, client, f, access, share=SH_ALL, disposition=FILE_OPEN, options=None,
               oplock=OPLOCK_NONE, lease=None, directory=False, wait=True, attributes=0):
        """lease: {"key": "K1", "state": "RWH", "v": 1|2, "parent": "P1", "epoch": n}.
        wait=False: the CREATE is sent and answered later by finish_create (the
        scenario acknowledges by hand in between)."""
        c = self.clients[client]
        if options is None:
            options = FILE_DIRECTORY_FILE if directory else FILE_NON_DIRECTORY_FILE
        req = create_request(self.prefix + f, access, share, disposition, options, oplock, lease,
                             attributes)
        h = len(self.handles)
        op = {"op": "create", "client": client, "handle": h, "file": f, "access": access,
              "share": share, "disposition": disposition, "options": options}
        if attributes:
            op["attributes"] = attributes
        if oplock:
            op["oplock"] = oplock
        if lease is not None:
            op["lease"] = dict(lease)
        self.handles.append({"client": client, "fid": None, "open": False, "file": f})
        request = c.send(req)
        if not wait:
            op["async"] = True
            self.pending[h] = (c, request, op)
            self.record(op)
            resp = request.response
            op["answered_in_step"] = (resp is not None
                                      and resp["status"].get_value() != STATUS_PENDING)
            return h
        self._complete(h, c, request, op)
        self.record(op)
        return h

    def _complete(self, h, c, request, op, timeout=TIMEOUT):
        t0 = time.monotonic()
        status, resp = c.wait(request, timeout)
        op["status"] = status
        if status == 0:
            fid, granted = parse_create_response(resp)
            op.update(granted)
            self.handles[h].update(fid=fid, open=True)
            c.fids[fid] = [h, granted["oplock_granted"]]
        return time.monotonic() - t0

    def finish_create(self, h, timeout=TIMEOUT):
        """Receives an async CREATE's final answer; the op 'create_done' carries it."""
        c, request, op = self.pending.pop(h)
        secs = self._complete(h, c, request, op, timeout)
        done = {"op": "create_done", "client": op["client"], "handle": h, "status": op["status"]}
        for k in ("oplock_granted", "lease_granted"):
            if k in op:
                done[k] = op[k]
        del op["status"]
        for k in ("oplock_granted", "lease_granted"):
            op.pop(k, None)
        self.record(done)
        return secs

    def close(self, h):
        c = self.cl(h)
        from smbprotocol.open import SMB2CloseRequest
        req = SMB2CloseRequest()
        req["file_id"] = self.fid(h)
        status = c.wait(c.send(req))[0]
        if status == 0:
            self.handles[h]["open"] = False
        return self.record({"op": "close", "client": self.handles[h]["client"], "handle": h,
                            "status": status})

    def set_disposition(self, h, value, info_class=13):
        """SET_INFO FileDispositionInformation (13, one byte DeletePending) or
        FileDispositionInformationEx (64, a ULONG of flags)."""
        c = self.cl(h)
        buf = bytes([value]) if info_class == 13 else struct.pack("<I", value)
        status = c.wait(c.send(set_info_request(self.fid(h), info_class, buf)))[0]
        return self.record({"op": "set_disposition", "client": self.handles[h]["client"],
                            "handle": h, "class": info_class, "value": value, "status": status})

    def io(self, kind, h, offset=0, length=4, wait=True):
        """wait=False: the request is sent; the step records whether its answer
        had arrived by the end of the step's barrier ("answered_in_step"), and
        finish_io receives it."""
        from smbprotocol.open import SMB2ReadRequest, SMB2WriteRequest
        c = self.cl(h)
        if kind == "read":
            req = SMB2ReadRequest()
            req["length"] = length
            req["offset"] = offset
            req["minimum_count"] = 0
            req["file_id"] = self.fid(h)
            req["padding"] = b"\x50"
        else:
            req = SMB2WriteRequest()
            req["length"] = length
            req["offset"] = offset
            req["file_id"] = self.fid(h)
            req["buffer"] = b"w" * length
        request = c.send(req)
        op = {"op": kind, "client": self.handles[h]["client"], "handle": h,
              "offset": offset, "length": length}
        if not wait:
            op["async"] = True
            self.record(op)
            resp = request.response
            op["answered_in_step"] = (resp is not None
                                      and resp["status"].get_value() != STATUS_PENDING)
            self.pending_io.append((c, request, op))
            return op
        op["status"] = c.wait(request)[0]
        return self.record(op)

    def finish_io(self):
        """The answers of async READ/WRITE requests: an 'io_done' op each."""
        for c, request, op in self.pending_io:
            self.record({"op": "io_done", "client": op["client"], "handle": op["handle"],
                         "status": c.wait(request)[0]})
        self.pending_io = []

    def lock(self, h, offset, length, exclusive=True):
        from smbprotocol.open import SMB2LockElement, SMB2LockRequest, LockFlags
        c = self.cl(h)
        el = SMB2LockElement()
        el["offset"] = offset
        el["length"] = length
        el["flags"] = ((LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK if exclusive
                        else LockFlags.SMB2_LOCKFLAG_SHARED_LOCK)
                       | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY)
        req = SMB2LockRequest()
        req["file_id"] = self.fid(h)
        req["locks"] = [el]
        status = c.wait(c.send(req))[0]
        return self.record({"op": "lock", "client": self.handles[h]["client"], "handle": h,
                            "offset": offset, "length": length, "exclusive": exclusive,
                            "status": status})

    def set_eof(self, h, size):
        """SET_INFO FileEndOfFileInformation (20)."""
        c = self.cl(h)
        status = c.wait(c.send(set_info_request(self.fid(h), 20, struct.pack("<q", size))))[0]
        return self.record({"op": "set_eof", "client": self.handles[h]["client"], "handle": h,
                            "size": size, "status": status})

    def lease_ack(self, client, key, state):
        c = self.clients[client]
        ans = ack_answer(*c.wait(c._send_lease_ack(KEYS[key], lease_bits(state))))
        return self.record(dict({"op": "lease_ack", "client": client, "key": key,
                                 "state": state}, **ans))

    def oplock_ack(self, h, level):
        c = self.cl(h)
        ans = ack_answer(*c.wait(c._send_oplock_ack(self.fid(h), level)))
        return self.record(dict({"op": "oplock_ack", "client": self.handles[h]["client"],
                                 "handle": h, "level": level}, **ans))

    def exists(self, f):
        """Whether the name is still in the share's directory (os.path.lexists on the server side)."""
        self.ops.append({"op": "exists", "file": f, "exists": os.path.lexists(self.path(f))})

    def finish(self, **extra):
        self.finish_io()
        for h, (c, request, op) in list(self.pending.items()):
            self.finish_create(h)
        for h, hd in enumerate(self.handles):
            if hd["open"]:
                self.close(h)
        for f in os.listdir(self.share_dir):
            if f.startswith(self.prefix):
                p = os.path.join(self.share_dir, f)
                shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
        return dict(extra, ops=self.ops)


# === scenarios ===============================================================
# Every scenario gets fresh clients A, B, C (three connections, three client
# GUIDs) and file names under its own prefix. Handles are numbered from 0 in
# the order of the scenario's CREATEs (also failed ones).

A, B, C = "A", "B", "C"
DOC = FILE_DELETE_ON_CLOSE


# --- h. delete-on-close (no oplocks, no leases) -----------------------------

def doc_create_option_then_open(q):
    """A opens with FILE_DELETE_ON_CLOSE and DELETE: B's new open while A is
    open; A closes while B holds it; opens after that; B closes; the name is gone."""
    q.make_file("f")
    q.create(A, "f", DELETE | R, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)    # h0
    q.create(B, "f", R, SH_ALL)                                                    # h1
    q.create(C, "f", R, SH_R | SH_W)                                               # h2: no SHARE_DELETE
    q.close(0)
    q.exists("f")
    q.create(C, "f", R, SH_ALL)                                                    # h3
    q.create(C, "f", R, SH_ALL, disposition=FILE_OPEN_IF)                          # h4
    q.create(C, "f", R, SH_ALL, disposition=FILE_OVERWRITE_IF)                     # h5
    q.create(C, "f", FILE_READ_ATTRIBUTES, SH_ALL)                                 # h6: stat open
    q.io("read", 1)
    q.io("write", 1)
    q.close(1)
    q.exists("f")
    q.create(C, "f", R, SH_ALL)                                                    # h7
    q.create(C, "f", RW, SH_ALL, disposition=FILE_CREATE)                          # h8: re-created
    q.exists("f")


def doc_create_option_same_client(q):
    """The same handle's FILE_DELETE_ON_CLOSE, opens by the same client and
    session; closing the last handle removes the file."""
    q.make_file("f")
    q.create(A, "f", DELETE | R, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)    # h0
    q.create(A, "f", R, SH_ALL)                                                    # h1
    q.close(1)
    q.exists("f")
    q.close(0)
    q.exists("f")
    q.create(A, "f", R, SH_ALL)                                                    # h2


def doc_create_option_without_delete(q):
    """FILE_DELETE_ON_CLOSE without DELETE access (and with it but not shared,
    on a read-only share mode, on FILE_CREATE)."""
    q.make_file("f")
    q.create(A, "f", R, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)              # h0
    q.create(A, "f", RW, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)             # h1
    q.create(A, "f", 0x10000000, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)     # h2 GENERIC_ALL
    q.exists("f")
    q.create(A, "g", RW, SH_ALL, disposition=FILE_CREATE,
             options=FILE_NON_DIRECTORY_FILE | DOC)                                # h3
    q.exists("g")
    q.create(A, "g2", RW | DELETE, SH_ALL, disposition=FILE_CREATE,
             options=FILE_NON_DIRECTORY_FILE | DOC)                                # h4
    q.exists("g2")
    q.close(4)
    q.exists("g2")
    q.create(A, "f", DELETE, SH_R, options=FILE_NON_DIRECTORY_FILE | DOC)          # h5 (only one opener)
    q.close(5)
    q.exists("f")
    q.make_file("f")
    q.create(A, "f", 0x02000000, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)     # h6 MAXIMUM_ALLOWED
    q.create(A, "f", 0x10000000 | DELETE, SH_ALL,
             options=FILE_NON_DIRECTORY_FILE | DOC)                                # h7 GENERIC_ALL|DELETE
    q.close(7)
    q.exists("f")


def doc_create_option_shared_with_existing(q):
    """FILE_DELETE_ON_CLOSE when others already have it open (sharing decides),
    and while someone else already has it delete-pending."""
    q.make_file("f")
    q.create(B, "f", R, SH_R | SH_W)                                               # h0: no SHARE_DELETE
    q.create(A, "f", DELETE | R, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)    # h1: refused
    q.close(0)
    q.create(B, "f", R, SH_ALL)                                                    # h2
    q.create(A, "f", DELETE | R, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)    # h3
    q.set_disposition(2, 1)                                                        # no DELETE on h2
    q.create(C, "f", DELETE, SH_ALL)                                               # h4
    q.set_disposition(4, 1)
    q.create(C, "f", DELETE | R, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)    # h5: pending
    q.close(4)
    q.close(3)
    q.exists("f")
    q.close(2)
    q.exists("f")


def doc_set_info(q):
    """SET_INFO FileDispositionInformation: who may set it, when new opens see
    DELETE_PENDING, clearing it (by the same and by another handle), close order."""
    q.make_file("f")
    q.create(A, "f", R, SH_ALL)                                                    # h0 no DELETE
    q.create(B, "f", DELETE, SH_ALL)                                               # h1
    q.create(C, "f", DELETE | R, SH_ALL)                                           # h2
    q.set_disposition(0, 1)                                                        # ACCESS_DENIED?
    q.create(C, "f", R, SH_ALL)                                                    # h3: still fine
    q.set_disposition(1, 1)
    q.create(C, "f", R, SH_ALL)                                                    # h4: DELETE_PENDING?
    q.create(C, "f", FILE_READ_ATTRIBUTES, SH_ALL)                                 # h5 stat open
    q.create(A, "f", R, SH_ALL)                                                    # h6 same client as h0
    q.set_disposition(1, 1)                                                        # again
    q.set_disposition(1, 0)                                                        # cleared by the setter
    q.create(C, "f", R, SH_ALL)                                                    # h7
    q.set_disposition(1, 1)
    q.set_disposition(2, 0)                                                        # cleared by another handle
    q.create(C, "f", R, SH_ALL)                                                    # h8
    q.set_disposition(2, 1)
    q.close(2)                                                                     # setter closes first
    q.create(C, "f", R, SH_ALL)                                                    # h9
    q.io("read", 0)
    q.io("write", 1)
    q.exists("f")
    for h in (0, 1, 3, 7, 8):
        q.close(h)
    q.exists("f")
    q.create(A, "f", R, SH_ALL)                                                    # h10: gone


def doc_set_info_then_clear_with_create_option(q):
    """A handle opened with FILE_DELETE_ON_CLOSE: does SET_INFO 0 on it cancel
    the delete, and does SET_INFO 1 then 0 on another handle?"""
    q.make_file("f")
    q.create(A, "f", DELETE | R, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)    # h0
    q.set_disposition(0, 0)
    q.create(B, "f", R, SH_ALL)                                                    # h1
    q.close(0)
    q.exists("f")
    q.create(C, "f", R, SH_ALL)                                                    # h2
    q.close(1)
    q.exists("f")
    q.make_file("g")
    q.create(A, "g", DELETE | R, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)    # h3
    q.set_disposition(3, 1)
    q.create(B, "g", R, SH_ALL)                                                    # h4: pending now
    q.set_disposition(3, 0)
    q.create(B, "g", R, SH_ALL)                                                    # h5
    q.close(3)
    q.exists("g")
    q.create(B, "g", R, SH_ALL)                                                    # h6


def doc_last_closer_without_delete(q):
    """Delete pending set by a handle that closes early: the file goes at the
    last close, by a handle without DELETE access."""
    q.make_file("f")
    q.create(A, "f", R, SH_ALL)                                                    # h0
    q.create(B, "f", DELETE, SH_ALL)                                               # h1
    q.set_disposition(1, 1)
    q.close(1)
    q.exists("f")
    q.create(C, "f", DELETE, SH_ALL)                                               # h2
    q.create(C, "f", R, SH_ALL, disposition=FILE_CREATE)                           # h3
    q.close(0)
    q.exists("f")
    q.create(C, "f", R, SH_ALL)                                                    # h4


def doc_directories(q):
    """Delete-on-close and the disposition on directories: empty and not empty."""
    q.make_dir("empty")
    q.make_dir("full", ["child"])
    q.create(A, "empty", DELETE | R, SH_ALL, options=FILE_DIRECTORY_FILE | DOC)    # h0
    q.create(B, "empty", R, SH_ALL, directory=True)                                # h1
    q.close(0)
    q.create(B, "empty", R, SH_ALL, directory=True)                                # h2
    q.close(1)
    q.exists("empty")
    q.create(A, "full", DELETE | R, SH_ALL, options=FILE_DIRECTORY_FILE | DOC)     # h3
    q.exists("full")
    q.create(A, "full", DELETE | R, SH_ALL, directory=True)                        # h4
    q.set_disposition(4, 1)
    q.create(B, "full\\child", R, SH_ALL)                                          # h5
    q.create(B, "full\\new", RW, SH_ALL, disposition=FILE_CREATE)                  # h6
    q.close(4)
    q.exists("full")
    q.close(3)                                                                     # the DOC open of "full"
    q.exists("full")
    q.make_dir("d2")
    q.create(A, "d2", DELETE | R, SH_ALL, directory=True)                          # h7
    q.set_disposition(7, 1)
    q.create(B, "d2", R, SH_ALL, directory=True)                                   # h8
    q.create(B, "d2\\x", RW, SH_ALL, disposition=FILE_CREATE)                      # h9: into a delete-pending dir
    q.close(7)
    q.exists("d2")
    q.create(B, "d2", R, SH_ALL, directory=True)                                   # h10: pending gone?
    q.close(10)
    q.close(9)
    q.create(A, "d2", DELETE | R, SH_ALL, options=FILE_DIRECTORY_FILE | DOC)       # h11: not empty
    q.close(11)
    q.exists("d2")
    q.create(A, "d3", DELETE | R, SH_ALL, disposition=FILE_CREATE,
             options=FILE_DIRECTORY_FILE | DOC)                                    # h12: new dir
    q.exists("d3")
    q.close(12)
    q.exists("d3")


def doc_pending_vs_sharing(q):
    """While delete is pending: an open that also conflicts with the share
    modes, or needs FILE_CREATE, or is made of a name that is not the file."""
    q.make_file("f")
    q.create(A, "f", DELETE | RW, SH_R | SH_D)                                     # h0 shares no write
    q.set_disposition(0, 1)
    q.create(C, "f", W, SH_ALL)                                                    # h1 conflicts too
    q.create(C, "f", R, SH_R)                                                      # h2 conflicts too
    q.create(C, "f", R, SH_ALL)                                                    # h3 only pending
    q.create(C, "f", R, SH_ALL, disposition=FILE_CREATE)                           # h4
    q.create(C, "f", DELETE | R, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)    # h5
    q.set_disposition(0, 0)
    q.create(C, "f", W, SH_ALL)                                                    # h6 sharing only
    q.close(0)
    q.exists("f")


def doc_read_only(q):
    """A file created FILE_ATTRIBUTE_READONLY: FILE_DELETE_ON_CLOSE and the
    disposition on it."""
    q.create(A, "f", RW, SH_ALL, disposition=FILE_CREATE, attributes=0x1)           # h0
    q.close(0)
    q.create(A, "f", DELETE | R, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)    # h1
    q.create(A, "f", DELETE | R, SH_ALL)                                           # h2
    q.set_disposition(2, 1)
    q.close(2)
    q.exists("f")


def doc_disposition_ex(q):
    """FileDispositionInformationEx (class 64): DELETE (1), POSIX_SEMANTICS (2),
    ON_CLOSE (8); 0 clears."""
    q.make_file("f")
    q.create(A, "f", DELETE | R, SH_ALL)                                           # h0
    q.create(B, "f", R, SH_ALL)                                                    # h1
    q.set_disposition(0, 1, info_class=64)
    q.create(C, "f", R, SH_ALL)                                                    # h2
    q.set_disposition(0, 0, info_class=64)
    q.create(C, "f", R, SH_ALL)                                                    # h3
    q.set_disposition(0, 3, info_class=64)
    q.exists("f")
    q.create(C, "f", R, SH_ALL)                                                    # h4
    q.close(0)
    q.exists("f")


DOC_SCENARIOS = [doc_create_option_then_open, doc_create_option_same_client,
                 doc_create_option_without_delete, doc_create_option_shared_with_existing,
                 doc_set_info, doc_set_info_then_clear_with_create_option,
                 doc_last_closer_without_delete, doc_directories, doc_pending_vs_sharing,
                 doc_read_only, doc_disposition_ex]

# --- a. lease keys and clients ----------------------------------------------

def L(key, state, v=1, **kw):
    return dict(key=key, state=state, v=v, **kw)


OL = OPLOCK_LEASE


def lease_same_key(q):
    """A: RWH on a file nobody has open; A again with the same key (shares the
    lease); B (another client GUID) with the same key value; C with K2."""
    q.make_file("f")
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                  # h0
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h1 same lease
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "R"))                     # h2 asks less
    q.create(B, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h3 other client
    q.create(C, "f", R, SH_ALL, oplock=OL, lease=L("K2", "RWH"))                   # h4
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h5 A's key again


def lease_upgrade(q):
    """A's lease K1 granted R, then RH, then RWH by further opens with the same
    key; a different key of the same client meanwhile."""
    q.make_file("f")
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "R"))                     # h0
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RH"))                    # h1
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                  # h2
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K2", "RWH"))                   # h3 same client, other key
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h4
    q.close(3)
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h5 K2 gone
    q.make_file("g")
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K1", "W"))                     # h6 odd states
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K2", "H"))                     # h7
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K2", "WH"))                    # h8
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K2", "RW"))                    # h9
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K2", ""))                      # h10


def lease_valid_states(q):
    """Each requested state alone on a fresh file (what is granted for R, RW,
    RH, RWH, and the invalid W, H, WH)."""
    for i, st in enumerate(["R", "RW", "RH", "RWH", "W", "H", "WH", ""]):
        f = f"f{i}"
        q.make_file(f)
        h = q.create(A, f, RW, SH_ALL, oplock=OL, lease=L("K1", st))
        q.close(h)
    q.make_file("ro")
    h = q.create(A, "ro", R, SH_ALL, oplock=OL, lease=L("K1", "RWH"))               # read-only open
    q.close(h)
    q.make_file("st")
    h = q.create(A, "st", FILE_READ_ATTRIBUTES, SH_ALL, oplock=OL, lease=L("K1", "RWH"))  # stat open
    q.close(h)
    q.make_dir("d")
    h = q.create(A, "d", R, SH_ALL, oplock=OL, lease=L("K1", "RH"), directory=True)  # directory
    q.close(h)


# --- b. a lease against other opens --------------------------------------------

def lease_vs_read_open(q):
    """A holds RWH; B opens for read without a lease; then for write; then C
    with a lease RWH (K2)."""
    q.make_file("f")
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                  # h0
    q.create(B, "f", R, SH_ALL)                                                    # h1
    q.create(B, "f", W, SH_ALL)                                                    # h2
    q.create(C, "f", R, SH_ALL, oplock=OL, lease=L("K2", "RWH"))                   # h3
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h4 A asks again


def lease_vs_write_open(q):
    """A holds RWH; B opens for write without a lease (first opener after A)."""
    q.make_file("f")
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                  # h0
    q.create(B, "f", W, SH_ALL)                                                    # h1
    q.create(B, "f", R, SH_ALL, oplock=OL, lease=L("K2", "RH"))                    # h2


def lease_vs_stat_open(q):
    """A holds RWH; B's stat open (READ_ATTRIBUTES), READ_CONTROL open and
    DELETE-only open; then a lease asked while only a stat open exists; the
    same against a batch oplock."""
    q.make_file("f")
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                  # h0
    q.create(B, "f", FILE_READ_ATTRIBUTES, SH_ALL)                                 # h1
    q.create(B, "f", FILE_READ_ATTRIBUTES | SYNCHRONIZE, 0)                        # h2
    q.create(B, "f", READ_CONTROL, SH_ALL)                                         # h3
    q.create(B, "f", DELETE, SH_ALL)                                               # h4
    q.make_file("g")
    q.create(B, "g", FILE_READ_ATTRIBUTES, SH_ALL)                                 # h5
    q.create(A, "g", RW, SH_ALL, oplock=OL, lease=L("K2", "RWH"))                  # h6
    q.make_file("i")
    q.create(A, "i", RW, SH_ALL, oplock=OPLOCK_BATCH)                              # h7
    q.create(B, "i", FILE_READ_ATTRIBUTES, SH_ALL)                                 # h8
    q.create(B, "i", READ_CONTROL, SH_ALL)                                         # h9


def lease_vs_sharing_violation(q):
    """A holds RWH with RW access sharing all; B's open conflicts with A's
    access (B shares read only): H is broken first, then B is refused; again
    with A now holding RW; then A's open sharing nothing and B's open."""
    q.make_file("f")
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                  # h0
    q.create(B, "f", R, SH_R)                                                      # h1 conflict
    q.create(B, "f", R, SH_R)                                                      # h2 again
    q.create(B, "f", R, SH_ALL)                                                    # h3 compatible
    q.make_file("g")
    q.create(A, "g", RW, SH_R, oplock=OL, lease=L("K2", "RWH"))                    # h4 shares read only
    q.create(B, "g", W, SH_ALL)                                                    # h5 conflicts with A's share
    q.create(B, "g", R, SH_ALL)                                                    # h6 compatible


def lease_vs_overwrite(q):
    """A holds RWH (and, on g, RH); B opens with FILE_OVERWRITE_IF (and a delete-on-close open)."""
    q.make_file("f")
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                  # h0
    q.create(B, "f", RW, SH_ALL, disposition=FILE_OVERWRITE_IF)                    # h1
    q.make_file("g")
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K2", "RH"))                    # h2
    q.create(B, "g", RW, SH_ALL, disposition=FILE_OVERWRITE_IF)                    # h3
    q.make_file("h")
    q.create(A, "h", R, SH_ALL, oplock=OL, lease=L("K1", "RH"))                    # h4 K1 is on f
    q.close(2)
    q.close(3)
    q.create(A, "h", R, SH_ALL, oplock=OL, lease=L("K2", "RH"))                    # h5
    q.create(B, "h", DELETE | R, SH_ALL, options=FILE_NON_DIRECTORY_FILE | DOC)    # h6
    q.close(6)
    q.create(A, "h", R, SH_ALL, oplock=OL, lease=L("K2", "RH"))                    # h7 delete pending


def lease_vs_delete_disposition(q):
    """A holds RH; B sets the delete disposition on its own handle."""
    q.make_file("f")
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RH"))                    # h0
    q.create(B, "f", DELETE, SH_ALL)                                               # h1
    q.set_disposition(1, 1)
    q.set_disposition(1, 0)


def lease_two_keys_three_clients(q):
    """A (K1) and B (K2) hold RH on one file; C opens to write, writes,
    truncates."""
    q.make_file("f")
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RH"))                    # h0
    q.create(B, "f", R, SH_ALL, oplock=OL, lease=L("K2", "RH"))                    # h1
    q.create(C, "f", RW, SH_ALL)                                                   # h2
    q.io("write", 2)
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RH"))                    # h3
    q.create(B, "f", R, SH_ALL, oplock=OL, lease=L("K2", "RH"))                    # h4
    q.set_eof(2, 10)
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RH"))                    # h5
    q.io("read", 2)
    q.lock(2, 0, 1)


# --- c. oplocks ----------------------------------------------------------------

def oplock_grants(q):
    """Each level requested on a file nobody has open; then with another open
    (no oplock) present."""
    for i, lvl in enumerate([OPLOCK_BATCH, OPLOCK_EXCLUSIVE, OPLOCK_II]):
        f = f"f{i}"
        q.make_file(f)
        h = q.create(A, f, RW, SH_ALL, oplock=lvl)
        q.close(h)
    for i, lvl in enumerate([OPLOCK_BATCH, OPLOCK_EXCLUSIVE, OPLOCK_II]):
        f = f"g{i}"
        q.make_file(f)
        h0 = q.create(B, f, R, SH_ALL)
        h = q.create(A, f, RW, SH_ALL, oplock=lvl)
        q.close(h)
        q.close(h0)
    q.make_file("st")
    h0 = q.create(B, "st", FILE_READ_ATTRIBUTES, SH_ALL)
    h = q.create(A, "st", RW, SH_ALL, oplock=OPLOCK_BATCH)                        # a stat open present
    q.close(h)
    q.close(h0)
    q.make_file("ro")
    h = q.create(A, "ro", R, SH_ALL, oplock=OPLOCK_BATCH)                          # read-only open
    q.close(h)


def oplock_batch_breaks(q):
    """A holds batch; B asks batch (broken to II?); C opens without an oplock;
    then C asks exclusive."""
    q.make_file("f")
    q.create(A, "f", RW, SH_ALL, oplock=OPLOCK_BATCH)                               # h0
    q.create(B, "f", R, SH_ALL, oplock=OPLOCK_BATCH)                                # h1
    q.create(C, "f", R, SH_ALL)                                                     # h2
    q.create(C, "f", R, SH_ALL, oplock=OPLOCK_EXCLUSIVE)                            # h3
    q.create(A, "f", R, SH_ALL, oplock=OPLOCK_BATCH)                                # h4 A again


def oplock_vs_plain_opens(q):
    """Batch and exclusive broken by a plain open for read, for write, a stat
    open, an overwrite and a sharing conflict."""
    q.make_file("f")
    q.create(A, "f", RW, SH_ALL, oplock=OPLOCK_BATCH)                               # h0
    q.create(B, "f", FILE_READ_ATTRIBUTES, SH_ALL)                                  # h1 stat
    q.create(B, "f", R, SH_ALL)                                                     # h2
    q.make_file("g")
    q.create(A, "g", RW, SH_ALL, oplock=OPLOCK_EXCLUSIVE)                           # h3
    q.create(B, "g", W, SH_ALL)                                                     # h4
    q.make_file("h")
    q.create(A, "h", RW, SH_ALL, oplock=OPLOCK_BATCH)                               # h5
    q.create(B, "h", RW, SH_ALL, disposition=FILE_OVERWRITE_IF)                     # h6
    q.make_file("i")
    q.create(A, "i", RW, SH_ALL, oplock=OPLOCK_BATCH)                               # h7
    q.create(B, "i", R, SH_R)                                                       # h8 sharing conflict
    q.make_file("k")
    q.create(A, "k", RW, SH_ALL, oplock=OPLOCK_EXCLUSIVE)                           # h9
    q.create(B, "k", R, SH_R)                                                       # h10 sharing conflict
    q.make_file("j")
    q.create(A, "j", RW, SH_ALL, oplock=OPLOCK_II)                                  # h11
    q.create(B, "j", R, SH_ALL)                                                     # h12
    q.create(B, "j", RW, SH_ALL, disposition=FILE_OVERWRITE_IF)                     # h13


def oplock_and_lease(q):
    """Oplocks and leases on one file: A batch then B lease RWH; A lease RWH
    then B batch."""
    q.make_file("f")
    q.create(A, "f", RW, SH_ALL, oplock=OPLOCK_BATCH)                               # h0
    q.create(B, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                    # h1
    q.make_file("g")
    q.create(A, "g", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h2
    q.create(B, "g", R, SH_ALL, oplock=OPLOCK_BATCH)                                # h3
    q.create(C, "g", R, SH_ALL, oplock=OPLOCK_II)                                   # h4


# --- d. acknowledgements ---------------------------------------------------------

def ack_lease_rules(q):
    """A acknowledges by hand: more than offered, then the offered state
    (B's open waits for it), then again; less than offered; an unknown key."""
    q.make_file("f")
    q.policy(A, "manual")
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h0
    q.create(B, "f", R, SH_ALL, wait=False)                                         # h1 waits
    q.lease_ack(A, "K1", "RWH")                                                     # more than offered
    q.lease_ack(A, "K1", "RH")
    q.finish_create(1)
    q.lease_ack(A, "K1", "RH")                                                      # twice
    q.lease_ack(A, "K2", "")                                                        # no such lease
    q.make_file("g")
    q.create(A, "g", RW, SH_ALL, oplock=OL, lease=L("K2", "RWH"))                   # h2
    q.create(B, "g", R, SH_ALL, wait=False)                                         # h3 waits
    q.lease_ack(A, "K2", "R")                                                       # less than offered
    q.finish_create(3)
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K2", "RWH"))                    # h4: what now?
    q.close(0)
    q.close(1)
    q.make_file("h")
    q.create(A, "h", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h5
    q.create(B, "h", R, SH_ALL, wait=False)                                         # h6 waits
    q.lease_ack(A, "K1", "W")                                                       # other bits
    q.lease_ack(A, "K1", "")                                                        # nothing
    q.finish_create(6)
    q.create(A, "h", R, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                    # h7


def ack_lease_after_close(q):
    """A closes its handle instead of acknowledging: B's open goes on; A's
    late acknowledgement."""
    q.make_file("f")
    q.policy(A, "manual")
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h0
    q.create(B, "f", R, SH_ALL, wait=False)                                         # h1 waits
    q.close(0)
    q.finish_create(1)
    q.lease_ack(A, "K1", "RH")


def ack_lease_break_while_breaking(q):
    """A's break RWH->RH is not yet acknowledged when C's conflicting open
    (sharing) arrives; then A acknowledges."""
    q.make_file("f")
    q.policy(A, "manual")
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h0
    q.create(B, "f", R, SH_ALL, wait=False)                                         # h1 waits
    q.create(C, "f", W, SH_ALL, wait=False)                                         # h2 waits too
    q.lease_ack(A, "K1", "RH")
    q.finish_create(1)
    q.finish_create(2)
    q.create(C, "f", R, SH_R, wait=False)                                           # h3 conflict: H
    q.lease_ack(A, "K1", "R")
    q.finish_create(3)


def ack_oplock_rules(q):
    """A acknowledges oplock breaks by hand: a higher level than offered, the
    offered level, again; a lower one; after close."""
    q.make_file("f")
    q.policy(A, "manual")
    q.create(A, "f", RW, SH_ALL, oplock=OPLOCK_BATCH)                               # h0
    q.create(B, "f", R, SH_ALL, wait=False)                                         # h1 waits
    q.oplock_ack(0, OPLOCK_BATCH)                                                   # more
    q.oplock_ack(0, OPLOCK_II)
    q.finish_create(1)
    q.oplock_ack(0, OPLOCK_II)                                                      # twice
    q.make_file("g")
    q.create(A, "g", RW, SH_ALL, oplock=OPLOCK_BATCH)                               # h2
    q.create(B, "g", R, SH_ALL, wait=False)                                         # h3 waits
    q.oplock_ack(2, OPLOCK_NONE)                                                    # less
    q.finish_create(3)
    q.make_file("h")
    q.create(A, "h", RW, SH_ALL, oplock=OPLOCK_EXCLUSIVE)                           # h4
    q.create(B, "h", R, SH_ALL, wait=False)                                         # h5 waits
    q.close(4)
    q.finish_create(5)
    q.oplock_ack(4, OPLOCK_II)                                                      # after close
    q.make_file("i")
    q.create(A, "i", RW, SH_ALL, oplock=OPLOCK_II)                                  # h6
    q.oplock_ack(6, OPLOCK_NONE)                                                    # nothing to ack
    q.create(A, "i", RW, SH_ALL)                                                    # h7 no oplock
    q.oplock_ack(7, OPLOCK_NONE)


def ack_lease_break_in_progress(q):
    """A's break RWH->RH is not yet acknowledged when C's open conflicting with
    A's sharing arrives (it needs H too): no second notification; A's ack of RH
    is answered, then a further break RH->R follows; A acks R."""
    q.make_file("f")
    q.policy(A, "manual")
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h0
    q.create(B, "f", R, SH_ALL, wait=False)                                         # h1 waits
    q.create(C, "f", R, SH_R, wait=False)                                           # h2 waits, conflicts
    q.lease_ack(A, "K1", "RH")
    q.lease_ack(A, "K1", "R")
    q.finish_create(1)
    q.finish_create(2)


def write_waits_for_ack(q):
    """Does a write that breaks A's RH (ack required) wait for A's ack? A
    acknowledges by hand after the write's step."""
    q.make_file("f")
    q.policy(A, "manual")
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RH"))                     # h0
    q.create(B, "f", RW, SH_ALL)                                                    # h1
    q.io("write", 1, wait=False)
    q.finish_io()
    q.create(C, "f", R, SH_ALL, wait=False)                                         # h2: lease breaking
    q.lease_ack(A, "K1", "")
    q.finish_create(2)


def grants_with_byte_range_locks(q):
    """A file with a byte-range lock held by B: what a lease or an oplock
    request is granted."""
    q.make_file("f")
    q.create(B, "f", RW, SH_ALL)                                                    # h0
    q.lock(0, 0, 1)
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h1
    q.create(A, "f", RW, SH_ALL, oplock=OPLOCK_BATCH)                               # h2
    q.create(A, "f", R, SH_ALL, oplock=OPLOCK_II)                                   # h3
    q.make_file("g")
    q.create(A, "g", RW, SH_ALL, oplock=OL, lease=L("K2", "RWH"))                   # h4
    q.lock(4, 0, 1)                                                                 # own lock
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K2", "RWH"))                    # h5


# --- e/f. writes and locks against read caching ----------------------------------

def write_breaks_read_caching(q):
    """B writes while A holds level II (f) / a lease R (g) / RH (h): breaks to
    none without an ack; A's own write."""
    q.make_file("f")
    q.create(A, "f", R, SH_ALL, oplock=OPLOCK_II)                                   # h0
    q.create(B, "f", RW, SH_ALL)                                                    # h1
    q.io("write", 1)
    q.io("write", 1)
    q.make_file("g")
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K1", "R"))                      # h2
    q.create(B, "g", RW, SH_ALL)                                                    # h3
    q.io("write", 3)
    q.make_file("h")
    q.create(A, "h", RW, SH_ALL, oplock=OL, lease=L("K2", "RH"))                    # h4
    q.create(B, "h", RW, SH_ALL)                                                    # h5
    q.io("read", 5)
    q.io("write", 5)
    q.create(A, "h", R, SH_ALL, oplock=OL, lease=L("K2", "RH"))                     # h6 regained?
    q.io("write", 4)                                                                # holder's own write
    for h in (2, 3, 4, 5, 6):                                                       # free K1, K2
        q.close(h)
    q.make_file("i")
    q.create(A, "i", RW, SH_ALL, oplock=OL, lease=L("K1", "RH"))                    # h7
    q.create(B, "i", RW, SH_ALL, oplock=OL, lease=L("K2", "RH"))                    # h8
    q.io("write", 7)                                                                # a lease holder writes


def lock_breaks_read_caching(q):
    """B's byte-range lock while A holds level II / lease R / RH / RWH."""
    q.make_file("f")
    q.create(A, "f", R, SH_ALL, oplock=OPLOCK_II)                                   # h0
    q.create(B, "f", RW, SH_ALL)                                                    # h1
    q.lock(1, 0, 1)
    q.make_file("g")
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K1", "RH"))                     # h2
    q.create(B, "g", RW, SH_ALL)                                                    # h3
    q.lock(3, 0, 1, exclusive=False)
    q.make_file("h")
    q.create(A, "h", RW, SH_ALL, oplock=OL, lease=L("K2", "RWH"))                   # h4
    q.lock(4, 0, 1)                                                                 # holder's own lock
    q.create(B, "h", RW, SH_ALL)                                                    # h5
    q.lock(5, 10, 1)
    q.make_file("i")
    q.create(A, "i", RW, SH_ALL, oplock=OPLOCK_BATCH)                               # h6
    q.lock(6, 0, 1)
    for h in (2, 3, 4, 5):                                                          # free K1, K2
        q.close(h)
    q.make_file("j")
    q.create(A, "j", R, SH_ALL, oplock=OL, lease=L("K1", "RH"))                     # h7
    q.create(B, "j", RW, SH_ALL, oplock=OL, lease=L("K2", "R"))                     # h8
    q.set_eof(8, 10)                                                                # EOF by a lease holder


# --- g. v2 leases ------------------------------------------------------------------

def lease_v2_epochs(q):
    """v2 leases: epochs in grants and breaks; the parent key."""
    q.make_file("f")
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH", 2, parent="P1"))   # h0
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RWH", 2, parent="P1"))    # h1 same
    q.create(B, "f", R, SH_ALL)                                                     # h2 W lost
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RWH", 2, parent="P1"))    # h3
    q.create(B, "f", R, SH_R)                                                       # h4 H lost
    q.create(C, "f", RW, SH_ALL)                                                    # h5
    q.io("write", 5)                                                                # R lost
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RH", 2, parent="P1"))     # h6
    q.make_file("g")
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K2", "R", 2, epoch=7))          # h7 client epoch
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K2", "RH", 2, epoch=3))         # h8 upgrade
    q.create(A, "g", R, SH_ALL, oplock=OL, lease=L("K2", "RWH", 2))                 # h9 upgrade
    q.create(B, "g", R, SH_ALL, oplock=OL, lease=L("K2", "RWH", 2))                 # h10 other client
    for h in (0, 1, 3, 6):                                                          # K1 free
        q.close(h)
    q.make_file("h")
    q.create(A, "h", R, SH_ALL, oplock=OL, lease=L("K1", "RH", 2))                  # h11
    q.create(A, "h", R, SH_ALL, oplock=OL, lease=L("K1", "RH", 1))                  # h12 v1, same key
    q.create(B, "h", R, SH_W)                                                       # h13 denies A's read: H
    q.create(A, "h", R, SH_ALL, oplock=OL, lease=L("K1", "RWH", 1))                 # h14


# --- the 35 s break timeout (only with --slow) -----------------------------------

def slow_unacknowledged_lease_break(q):
    """A never acknowledges RWH->RH: B's open waits for smbd's break timeout;
    what A's lease is afterwards."""
    q.make_file("f")
    q.policy(A, "never")
    q.create(A, "f", RW, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                   # h0
    q.create(B, "f", R, SH_ALL, wait=False)                                         # h1
    secs = q.finish_create(1, timeout=60)
    q.ops[-1]["waited_over_30s"] = secs > 30
    q.create(A, "f", R, SH_ALL, oplock=OL, lease=L("K1", "RWH"))                    # h2
    q.lease_ack(A, "K1", "RH")


def slow_unacknowledged_oplock_break(q):
    """A never acknowledges batch->II: B's open waits for smbd's break timeout."""
    q.make_file("f")
    q.policy(A, "never")
    q.create(A, "f", RW, SH_ALL, oplock=OPLOCK_BATCH)                               # h0
    q.create(B, "f", R, SH_ALL, wait=False)                                         # h1
    secs = q.finish_create(1, timeout=60)
    q.ops[-1]["waited_over_30s"] = secs > 30
    q.oplock_ack(0, OPLOCK_II)


LEASE_SCENARIOS = [lease_same_key, lease_upgrade, lease_valid_states, lease_vs_read_open,
                   lease_vs_write_open, lease_vs_stat_open, lease_vs_sharing_violation,
                   lease_vs_overwrite, lease_vs_delete_disposition, lease_two_keys_three_clients,
                   oplock_grants, oplock_batch_breaks, oplock_vs_plain_opens, oplock_and_lease,
                   ack_lease_rules, ack_lease_after_close, ack_lease_break_while_breaking,
                   ack_lease_break_in_progress, ack_oplock_rules, write_breaks_read_caching,
                   write_waits_for_ack, lock_breaks_read_caching, grants_with_byte_range_locks,
                   lease_v2_epochs]
SCENARIOS = DOC_SCENARIOS + LEASE_SCENARIOS
SLOW_SCENARIOS = [slow_unacknowledged_lease_break, slow_unacknowledged_oplock_break]


# === random sequences ===========================================================
# One file per sequence, three connections A, B, C (reused by every sequence:
# their client GUIDs stay, every handle of a sequence is closed at its end)
# with two lease keys each (K1, K2: a key value names a different lease per
# client GUID). Sequence i is drawn from random.Random(seed * 1000003 + i);
# its choices also depend on smbd's earlier answers (the grants and breaks it
# recorded), so a recording is reproducible against the same Samba.

GENERIC_READ, GENERIC_WRITE = 0x80000000, 0x40000000
RANDOM_ACCESS = [R, R, W, RW, RW, RW | DELETE, FILE_APPEND_DATA, R | FILE_APPEND_DATA,
                 FILE_READ_ATTRIBUTES, FILE_READ_ATTRIBUTES | SYNCHRONIZE, READ_CONTROL, DELETE,
                 GENERIC_READ, GENERIC_WRITE, GENERIC_READ | GENERIC_WRITE]
FILE_SUPERSEDE, FILE_OVERWRITE = 0, 4
RANDOM_DISPOSITIONS = [FILE_OPEN] * 5 + [FILE_OPEN_IF] * 2 + [
    FILE_OVERWRITE_IF, FILE_OVERWRITE, FILE_SUPERSEDE, FILE_CREATE]
TRUNCATES = (FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF)
RANDOM_LEASE_STATES = ["R", "RW", "RH", "RWH", "RWH", "RH", "RWH", "", "W", "H", "WH"]
MAX_OPEN = 6
DATA_ACCESS = R | W | FILE_APPEND_DATA | GENERIC_READ | GENERIC_WRITE


def subsets(letters):
    """The proper subsets of a lease state, as letters."""
    out = [""]
    for b in "RWH":
        out += [s + b for s in out if b in letters]
    return [s for s in out if s != letters]


class RandomRecorder(Recorder):
    """A Recorder that follows what smbd answered, so that the generator can
    choose acknowledgements (right and wrong ones) and knows when a CREATE
    may wait for a manual client's acknowledgement (then it is sent async)."""

    def __init__(self, clients, share_dir, prefix, manual):
        super().__init__(clients, share_dir, prefix)
        self.manual = set(manual)
        self.leases = {}            # (client, key) -> state letters
        self.lease_of = {}          # handle -> (client, key)
        self.lease_breaking = {}    # (client, key) -> offered state (manual, not acked)
        self.oplocks = {}           # handle -> level
        self.oplock_breaking = {}   # handle -> offered level (manual, not acked)
        self.dispositions = {}      # handle -> disposition
        self.accesses = {}          # handle -> DesiredAccess
        self.size = 0

    def record(self, op):
        # A READ breaks nothing: no barrier after it.
        quiet = op["op"] == "read" and not op.get("async")
        op["breaks"] = [] if quiet else self.barrier()
        self.ops.append(op)
        self.track(op)
        return op

    def track(self, op):
        for b in op.get("breaks", []):
            if b["type"] == "lease":
                ck = (b["client"], b["key"])
                self.leases[ck] = b["to"]
                if b["ack_required"] and b["client"] in self.manual:
                    self.lease_breaking[ck] = b["to"]
            elif b["type"] == "oplock" and b.get("handle") is not None:
                self.oplocks[b["handle"]] = b["to"]
                if b["ack_required"] and b["client"] in self.manual:
                    self.oplock_breaking[b["handle"]] = b["to"]
        kind, st = op["op"], op.get("status")
        if kind in ("create", "create_done") and st == 0:
            h = op["handle"]
            lg = op.get("lease_granted")
            if lg:
                ck = (op["client"], lg["key"])
                self.leases[ck] = lg["state"]
                self.lease_of[h] = ck
            elif op.get("oplock_granted"):
                self.oplocks[h] = op["oplock_granted"]
            if self.dispositions[h] in TRUNCATES:
                self.size = 0
        elif kind == "close" and st == 0:
            h = op["handle"]
            self.oplocks.pop(h, None)
            self.oplock_breaking.pop(h, None)
            ck = self.lease_of.pop(h, None)
            if ck and ck not in self.lease_of.values():
                self.leases.pop(ck, None)
                self.lease_breaking.pop(ck, None)
        elif kind == "lease_ack" and st == 0:
            ck = (op["client"], op["key"])
            self.lease_breaking.pop(ck, None)
            self.leases[ck] = op.get("answer_state", op["state"])
        elif kind == "oplock_ack" and st == 0:
            self.oplock_breaking.pop(op["handle"], None)
            self.oplocks[op["handle"]] = op.get("answer_level", op["level"])
        elif kind == "write" and st == 0:
            self.size = max(self.size, op["offset"] + op["length"])
        elif kind == "set_eof" and st == 0:
            self.size = op["size"]

    def may_wait(self):
        """Whether a CREATE now may wait for a manual client's acknowledgement."""
        if self.pending or self.lease_breaking or self.oplock_breaking:
            return True
        for (c, _k), st in self.leases.items():
            if c in self.manual and ("W" in st or "H" in st):
                return True
        return any(self.handles[h]["client"] in self.manual and lvl in (OPLOCK_EXCLUSIVE,
                                                                         OPLOCK_BATCH)
                   for h, lvl in self.oplocks.items())

    def create_random(self, client, f, access, share, disposition, oplock, lease):
        h = len(self.handles)
        self.dispositions[h] = disposition
        self.accesses[h] = access
        # FILE_CREATE of the existing file is refused at once (the name).
        wait = disposition == FILE_CREATE or not (self.manual and self.may_wait())
        self.create(client, f, access, share, disposition, oplock=oplock, lease=lease, wait=wait)
        return h

    def poll_pending(self):
        """create_done steps for the async CREATEs smbd has answered by now."""
        for h in sorted(self.pending):
            _c, request, _op = self.pending[h]
            resp = request.response
            if resp is not None and resp["status"].get_value() != STATUS_PENDING:
                self.finish_create(h)

    def open_handles(self, client=None):
        return [h for h, hd in enumerate(self.handles)
                if hd["open"] and (client is None or hd["client"] == client)]

    def release(self):
        """Before the final closes: acknowledges every break a manual client
        still owes with the offered state, and closes handles if an async
        CREATE still waits, so that nothing waits for smbd's 35 s timeout."""
        for _ in range(64):
            self.poll_pending()
            if self.lease_breaking:
                (c, k), to = sorted(self.lease_breaking.items())[0]
                op = self.lease_ack(c, k, to)
                if op["status"] != 0:           # not breaking after all
                    self.lease_breaking.pop((c, k), None)
            elif self.oplock_breaking:
                h, to = sorted(self.oplock_breaking.items())[0]
                op = self.oplock_ack(h, to)
                if op["status"] != 0:
                    self.oplock_breaking.pop(h, None)
            elif self.pending:
                hs = ([h for h in self.open_handles() if self.handles[h]["client"] in self.manual]
                      or self.open_handles())
                if not hs:
                    raise RuntimeError(f"{self.prefix}: a CREATE waits and nothing is open")
                self.close(hs[0])
            else:
                return
        raise RuntimeError(f"{self.prefix}: could not release the waiting CREATEs")


def random_lease(rng):
    lease = {"key": rng.choice(["K1", "K2"]), "state": rng.choice(RANDOM_LEASE_STATES),
             "v": rng.choice([1, 2])}
    if lease["v"] == 2:
        if rng.random() < 0.3:
            lease["epoch"] = rng.randint(1, 9)
        if rng.random() < 0.2:
            lease["parent"] = "P1"
    return lease


def random_sequence(q, rng):
    """One random sequence on file "f" (see RANDOM_* for the value pools)."""
    q.make_file("f")
    q.size = 64
    for c in sorted(q.manual):
        q.policy(c, "manual")
    steps = rng.randint(6, 18)
    for n in range(steps):
        open_hs = q.open_handles()
        # Only handles with data access read, write, lock and set the size:
        # smbd 4.17.12 crashes (SIGSEGV in smbd_smb2_request_process_lock)
        # after a SET_INFO EndOfFile on a stat open answered SHARING_VIOLATION.
        data_hs = [h for h in open_hs if q.accesses[h] & DATA_ACCESS]
        acks_owed = bool(q.lease_breaking or q.oplock_breaking)
        # At most one CREATE waits at a time: smbd retries several waiting
        # opens (each in its connection's process) in a racy order when one
        # acknowledgement or close releases them together.
        kinds = ["create"] * (5 if len(open_hs) < MAX_OPEN and not q.pending else 0)
        if open_hs:
            kinds += ["close"] * 2
        if data_hs:
            kinds += ["write"] * 2 + ["read"] * 2 + ["lock"] * 2
            if rng.random() < 0.15:
                kinds.append("set_eof")
        if q.manual:
            kinds += ["ack"] * (6 if acks_owed else 1)
        kind = rng.choice(kinds) if n else "create"
        if kind == "create":
            client = rng.choice([A, B, C])
            access = rng.choice(RANDOM_ACCESS)
            share = rng.choice([SH_ALL] * 6 + [0, 1, 2, 3, 4, 5, 6])
            disposition = rng.choice(RANDOM_DISPOSITIONS)
            r = rng.random()
            if q.manual and not q.open_handles() and rng.random() < 0.7:
                # a manual client holding W or H makes the later opens wait
                client = rng.choice(sorted(q.manual))
                access, share, disposition = RW, SH_ALL, FILE_OPEN
                r = 0.0 if rng.random() < 0.6 else 0.7
                if r == 0.0:
                    q.create_random(client, "f", access, share, disposition, OPLOCK_LEASE,
                                    dict(random_lease(rng), state="RWH"))
                else:
                    q.create_random(client, "f", access, share, disposition, OPLOCK_BATCH, None)
                q.poll_pending()
                continue
            if r < 0.55:
                q.create_random(client, "f", access, share, disposition, OPLOCK_LEASE,
                                random_lease(rng))
            elif r < 0.8:
                q.create_random(client, "f", access, share, disposition,
                                rng.choice([OPLOCK_II, OPLOCK_EXCLUSIVE, OPLOCK_BATCH]), None)
            else:
                q.create_random(client, "f", access, share, disposition, OPLOCK_NONE, None)
        elif kind == "write":
            writers = [h for h in data_hs if q.accesses[h] & (W | FILE_APPEND_DATA
                                                                      | GENERIC_WRITE)]
            h = rng.choice(writers if writers and rng.random() < 0.85 else data_hs)
            q.io("write", h, rng.randint(0, max(q.size, 1) + 8), rng.randint(1, 16))
        elif kind == "read":
            readers = [h for h in data_hs if q.accesses[h] & (R | GENERIC_READ)]
            h = rng.choice(readers if readers and rng.random() < 0.85 else data_hs)
            if q.size > 0:
                off = rng.randint(0, q.size - 1)
                q.io("read", h, off, rng.randint(1, min(16, q.size - off)))
        elif kind == "lock":
            h = rng.choice(data_hs)
            if any(o != h and lvl in (OPLOCK_EXCLUSIVE, OPLOCK_BATCH)
                   for o, lvl in q.oplocks.items()):
                # smbd 4.17.12 PANICs (assert !EXCLUSIVE_OPLOCK_TYPE in
                # contend_level2_oplocks_begin, smb2_oplock.c:1231) on a LOCK
                # next to another handle's exclusive or batch oplock, e.g. a
                # stat open's LOCK beside a batch: not recorded.
                continue
            q.lock(h, rng.randint(0, 60), rng.randint(1, 10), exclusive=rng.random() < 0.5)
        elif kind == "set_eof":
            q.set_eof(rng.choice(data_hs), rng.randint(0, 96))
        elif kind == "close":
            q.close(rng.choice(open_hs))
        elif kind == "ack":
            random_ack(q, rng)
        q.poll_pending()
    q.release()


def random_ack(q, rng):
    """A manual client's acknowledgement: mostly of a break it owes (the
    offered state, less, or more: refused), sometimes of nothing owed."""
    owed_l = sorted(q.lease_breaking.items())
    owed_o = sorted(q.oplock_breaking.items())
    r = rng.random()
    if owed_l and (r < 0.8 or not owed_o and r < 0.9):
        (c, k), to = rng.choice(owed_l)
        s = rng.random()
        if s < 0.6:
            state = to
        elif s < 0.8 and subsets(to):
            state = rng.choice(subsets(to))
        else:
            more = [x for x in ("RWH", "RH", "RW", "R", "W", "H") if set(x) - set(to)]
            state = rng.choice(more)
        q.lease_ack(c, k, state)
    elif owed_o and r < 0.9:
        h, to = rng.choice(owed_o)
        q.oplock_ack(h, rng.choice([to, to, to, OPLOCK_NONE, OPLOCK_BATCH, OPLOCK_EXCLUSIVE]))
    else:
        c = rng.choice(sorted(q.manual))
        if rng.random() < 0.6:
            q.lease_ack(c, rng.choice(["K1", "K2"]), rng.choice(["R", "RH", ""]))
        else:
            hs = [h for h, hd in enumerate(q.handles) if hd["client"] == c and hd["fid"]]
            if hs:
                q.oplock_ack(rng.choice(hs), rng.choice([OPLOCK_II, OPLOCK_NONE]))
            else:
                q.lease_ack(c, rng.choice(["K1", "K2"]), "R")


def record_random(args, seed, count):
    """COUNT random sequences over one set of connections; returns them."""
    clients = {name: BreakClient(name, args.host, args.port, args.user, args.password,
                                 args.share) for name in (A, B, C)}
    out = []
    try:
        for i in range(count):
            rng = random.Random(seed * 1000003 + i)
            manual = []
            if rng.random() < 0.4:
                manual = rng.sample([A, B, C], rng.choice([1, 1, 2]))
            for c in clients.values():
                c.ack_policy = "auto"
                c.take()
            q = RandomRecorder(clients, args.share_dir, f"r{i:05d}_", manual)
            try:
                random_sequence(q, rng)
            except Exception:
                print(f"leases.py: random_{i:05d} failed after these steps:", file=sys.stderr)
                for op in q.ops:
                    print("  " + json.dumps(op), file=sys.stderr)
                raise
            rec = q.finish(name=f"random_{i:05d}", note=f"random sequence {i} of seed {seed}",
                           seed=seed, index=i)
            for c in clients.values():
                arrived, acks = c.take()
                if arrived or acks or c.errors:
                    raise RuntimeError(f"random_{i:05d}: client {c.name}: late breaks "
                                       f"{arrived} / errors {c.errors}")
            out.append(rec)
    finally:
        for c in clients.values():
            try:
                c.conn.disconnect(True, timeout=TIMEOUT)
            except Exception:
                c.conn.disconnect(False)
    return out


def dumps_one_op_per_line(doc):
    """JSON with one line per step (diffs of two recordings stay readable)."""
    head = {k: v for k, v in doc.items() if k != "scenarios"}
    out = [json.dumps(head)[:-1] + ', "scenarios": [']
    for i, sc in enumerate(doc["scenarios"]):
        meta = {k: v for k, v in sc.items() if k != "ops"}
        out.append(" " + json.dumps(meta)[:-1] + ', "ops": [')
        for j, op in enumerate(sc["ops"]):
            out.append("  " + json.dumps(op) + ("," if j + 1 < len(sc["ops"]) else ""))
        out.append(" ]}" + ("," if i + 1 < len(doc["scenarios"]) else ""))
    out.append("]}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--share", required=True)
    ap.add_argument("--share-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--server-version", default="")
    ap.add_argument("--only", action="append", default=[],
                    help="record only scenarios whose name contains this (repeatable)")
    ap.add_argument("--slow", action="store_true",
                    help="also the scenarios that wait for smbd's 35 s break timeout")
    ap.add_argument("--seed", type=int, default=1,
                    help="seed of the random sequences (sequence i: random.Random(seed*1000003+i))")
    ap.add_argument("--count", type=int, default=None,
                    help="number of random sequences (default 500; 0 with --only)")
    args = ap.parse_args()
    if args.count is None:
        args.count = 0 if args.only else 500

    t0 = time.monotonic()
    todo = SCENARIOS + (SLOW_SCENARIOS if args.slow else [])
    if args.only:
        todo = [s for s in todo if any(o in s.__name__ for o in args.only)]
    scenarios = []
    dialect = None
    for n, sc in enumerate(todo):
        ts = time.monotonic()
        clients = {name: BreakClient(name, args.host, args.port, args.user, args.password,
                                     args.share) for name in (A, B, C)}
        dialect = clients[A].conn.dialect
        q = Recorder(clients, args.share_dir, f"s{n:02d}_")
        try:
            sc(q)
            rec = q.finish(name=sc.__name__, note=" ".join(sc.__doc__.split()))
        finally:
            for c in clients.values():
                if not c.dropped:
                    c.dropped = True
                    try:
                        c.conn.disconnect(True, timeout=TIMEOUT)
                    except Exception:
                        c.conn.disconnect(False)
        scenarios.append(rec)
        print(f"leases.py: {sc.__name__}: {len(rec['ops'])} steps, "
              f"{time.monotonic() - ts:.2f} s", file=sys.stderr)

    if args.count:
        tr = time.monotonic()
        rnd = record_random(args, args.seed, args.count)
        scenarios.extend(rnd)
        print(f"leases.py: {len(rnd)} random sequences (seed {args.seed}), "
              f"{sum(len(s['ops']) for s in rnd)} steps in {time.monotonic() - tr:.1f} s",
              file=sys.stderr)

    doc = {
        "format": 1,
        "server": args.server_version or "smbd (unknown version)",
        "client": "smbprotocol " + importlib.metadata.version("smbprotocol"),
        "dialect": f"0x{dialect:04x}" if dialect else None,
        "seed": args.seed,
        "count": args.count,
        "scenarios": scenarios,
    }
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(dumps_one_op_per_line(doc))
    os.replace(tmp, args.out)
    print(f"leases.py: {len(scenarios)} scenarios, "
          f"{sum(len(s['ops']) for s in scenarios)} steps in {time.monotonic() - t0:.1f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
