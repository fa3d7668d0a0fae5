#!/usr/bin/env python3
"""Records real smbd's answers about durable handles (MS-SMB2 3.3.5.9.6-3.3.5.9.13).

Run through `bash scripts/samba-record.sh --durable OUT.json`, which starts a
throwaway smbd whose share has `durable handles = yes`, `kernel share modes =
no`, `kernel oplocks = no`, `posix locking = no`, `oplocks = yes`, `smb2
leases = yes` (smb.conf(5): durable handles need the first three), and a
second smbd user for the "another user" reconnect.

smbprotocol 1.17.0 builds none of the durable create contexts, so they are
packed here by hand from MS-SMB2 2.2.13.2.x (requests) and 2.2.14.2.x
(responses): DHnQ (2.2.13.2.3, 16 reserved bytes), DHnC (2.2.13.2.4,
FileId), DH2Q (2.2.13.2.11: Timeout, Flags, Reserved, CreateGuid), DH2C
(2.2.13.2.12: FileId, CreateGuid, Flags), RqLs v1/v2 (2.2.13.2.8 /
2.2.13.2.10, tests/samba/leases.py) and SMB2_CREATE_APP_INSTANCE_ID
(2.2.13.2.13: StructureSize 20, Reserved, AppInstanceId). Responses: DHnQ
(2.2.14.2.3, 8 reserved bytes: its presence is the grant) and DH2Q
(2.2.14.2.12: Timeout, Flags). The replay flag (SMB2_FLAGS_REPLAY_OPERATION,
2.2.1.2) is set in the header by swapping smbprotocol's header class for one
send.

Every scenario is a list of steps; every step records its command, its
arguments and smbd's NTSTATUS (by number and name), creates also the granted
oplock level, lease and durable grant, and every step the break
notifications that arrived because of it (leases.py's barrier: two ECHO
rounds on every live connection; breaks are acknowledged at once). FileIds
and GUIDs are not recorded as numbers (they change from run to run): a
create records which earlier handle's persistent/volatile FileId it
returned; GUIDs and keys are named (G1, K1, client GUID "A"). The format is in
tests/samba/DURABLE-FINDINGS.md. Every failure raises (non-zero exit).
"""

import argparse
import importlib.metadata
import json
import os
import struct
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import Client  # noqa: E402
from leases import (  # noqa: E402  (the lease recorder's break-receiving client)
    BreakClient, _Outstanding, ack_answer, lease_bits, lease_str, LEASE_PARENT_KEY_SET,
    TIMEOUT,
)

import smbprotocol.connection as smbconn  # noqa: E402
from smbprotocol.connection import Connection  # noqa: E402
from smbprotocol.create_contexts import SMB2CreateContextRequest  # noqa: E402
from smbprotocol.header import Smb2Flags, SMB2HeaderRequest  # noqa: E402
from smbprotocol.open import (  # noqa: E402
    ImpersonationLevel, SMB2CloseRequest, SMB2CreateRequest, SMB2CreateResponse,
    SMB2ReadRequest,
)
from smbprotocol.session import Session  # noqa: E402
from smbprotocol.tree import TreeConnect  # noqa: E402
import threading  # noqa: E402

R, W = 0x1, 0x2
RW = R | W
READ_ATTRIBUTES = 0x80
DELETE = 0x10000
SH_NONE, SH_R, SH_ALL = 0, 1, 7
FILE_OPEN, FILE_OPEN_IF = 1, 3
FILE_NON_DIRECTORY_FILE = 0x40
FILE_DELETE_ON_CLOSE = 0x1000
OPLOCK_NONE, OPLOCK_II, OPLOCK_EXCLUSIVE, OPLOCK_BATCH, OPLOCK_LEASE = 0, 1, 8, 9, 0xFF
DH2_PERSISTENT = 0x2
REPLAY = 0x20000000
LOCK_SHARED, LOCK_EXCLUSIVE, LOCK_UNLOCK, LOCK_FAIL_IMMEDIATELY = 1, 2, 4, 0x10

CTX_DHNQ, CTX_DHNC, CTX_DH2Q, CTX_DH2C, CTX_RQLS = b"DHnQ", b"DHnC", b"DH2Q", b"DH2C", b"RqLs"
CTX_APP_INSTANCE_ID = bytes.fromhex("45BCA66AEFA7F74A9008FA462E144D74")
CTX_NAMES = {CTX_APP_INSTANCE_ID: "APP_INSTANCE_ID"}

STATUS = {
    0x00000000: "STATUS_SUCCESS",
    0x00000103: "STATUS_PENDING",
    0xC0000008: "STATUS_INVALID_HANDLE",
    0xC000000D: "STATUS_INVALID_PARAMETER",
    0xC0000022: "STATUS_ACCESS_DENIED",
    0xC0000034: "STATUS_OBJECT_NAME_NOT_FOUND",
    0xC0000035: "STATUS_OBJECT_NAME_COLLISION",
    0xC0000043: "STATUS_SHARING_VIOLATION",
    0xC0000054: "STATUS_FILE_LOCK_CONFLICT",
    0xC0000055: "STATUS_LOCK_NOT_GRANTED",
    0xC00000B6: "STATUS_FILE_FORCED_CLOSED",
    0xC00000BB: "STATUS_NOT_SUPPORTED",
    0xC0000128: "STATUS_FILE_CLOSED",
    0xC000022A: "STATUS_DUPLICATE_OBJECTID",
    0xC0000467: "STATUS_FILE_NOT_AVAILABLE",
    0xC00000C9: "STATUS_NETWORK_NAME_DELETED",
    0xC0000203: "STATUS_USER_SESSION_DELETED",
    0xC0000001: "STATUS_UNSUCCESSFUL",
    0xC0000002: "STATUS_NOT_IMPLEMENTED",
}

# The scenario's named GUIDs and keys: fixed bytes from the name and the
# scenario number, so that every run sends the same values.


def named_bytes(scenario_no, name, kind):
    """16 bytes that stand for `name` in scenario `scenario_no` (kind: 'guid', 'key', 'app')."""
    tag = {"guid": 0x47, "key": 0x4B, "app": 0x41, "client": 0x43}[kind]
    raw = name.encode().ljust(10, b"_")[:10]
    return bytes([tag, 0x44, 0x55, 0x52]) + struct.pack("<H", scenario_no) + raw


def name_of(status):
    return STATUS.get(status, f"0x{status:08X}")


class DurableClient(BreakClient):
    """A BreakClient with a chosen client GUID and user; `drop` closes its TCP
    connection without LOGOFF."""

    def __init__(self, name, guid_name, guid, host, port, user, password, share):
        self.name = name
        self.guid_name = guid_name
        self.user = user
        self.unc = rf"\\{host}\{share}"
        self.conn = Connection(guid, host, port)
        self.conn.outstanding_requests = _Outstanding(self)
        self.lock = threading.Lock()
        self.arrived = []
        self.ack_requests = []
        self.fids = {}
        self.ack_policy = "auto"
        self.errors = []
        self.conn.connect(timeout=10)
        self.session = Session(self.conn, user, password, require_encryption=False)
        self.session.connect()
        self.tree = TreeConnect(self.session, self.unc)
        self.tree.connect(require_secure_negotiate=False)
        self.dropped = False


class _ReplayHeader(SMB2HeaderRequest):
    def __init__(self):
        super().__init__()
        self["flags"].set_flag(Smb2Flags.SMB2_FLAGS_REPLAY_OPERATIONS)


def ctx(name, data):
    c = SMB2CreateContextRequest()
    c["buffer_name"] = name
    c["buffer_data"] = data
    return c


class Scenario:
    def __init__(self, args, number, name, note):
        self.args = args
        self.no = number
        self.name = name
        self.note = note
        self.prefix = f"d{number:02d}_"
        self.clients = {}
        self.ops = []
        self.handles = []   # {"client", "fid", "file"}
        self.t0 = time.monotonic()
        self.drop_time = {}
        self.timed = False      # record ms_after_drop (timeout_probe only)

    # -- setup steps -------------------------------------------------------
    def make_file(self, f, size=64):
        with open(os.path.join(self.args.share_dir, self.prefix + f), "wb") as fh:
            fh.write(b"\0" * size)
        os.chmod(os.path.join(self.args.share_dir, self.prefix + f), 0o666)
        self.ops.append({"op": "make_file", "file": f, "size": size})

    def connect(self, client, guid="", user=1):
        """A new connection, session and tree connect named `client`; its client
        GUID is named `guid` (default: the client's own name); user 1 or 2."""
        guid = guid or client
        if client in self.clients and not self.clients[client].dropped:
            raise RuntimeError(f"{self.name}: client {client} is already connected")
        u = self.args.user if user == 1 else self.args.user2
        if u is None:
            raise RuntimeError(f"{self.name}: a second user is needed (--user2)")
        g = uuid.UUID(bytes=named_bytes(self.no, guid, "client"))
        self.clients[client] = DurableClient(client, guid, g, self.args.host, self.args.port, u,
                                             self.args.password, self.args.share)
        self.ops.append({"op": "connect", "client": client, "client_guid": guid, "user": user})

    def drop(self, client):
        """Closes the client's TCP connection without LOGOFF, then waits until
        smbd has noticed (0.5 s: its per-connection process marks the durable
        opens disconnected when it reads the end of the stream)."""
        c = self.clients[client]
        c.drop()
        self.drop_time[client] = time.monotonic()
        time.sleep(0.5)
        self.ops.append({"op": "drop_connection", "client": client})

    def sleep(self, ms, why):
        time.sleep(ms / 1000)
        self.ops.append({"op": "sleep", "ms": ms, "why": why})

    # -- barrier (as leases.py's Recorder) ---------------------------------
    def _take(self, c, out):
        arrived, acks = c.take()
        for brk, req in acks:
            brk["ack"].update(ack_answer(*c.wait(req)))
        out.extend(arrived)

    def barrier(self):
        breaks = []
        for _ in range(2):
            for c in self.clients.values():
                if not c.dropped:
                    self._take(c, breaks)
                    c.echo()
        for c in self.clients.values():
            if not c.dropped:
                self._take(c, breaks)
                if c.errors:
                    raise RuntimeError(f"client {c.name}: break parsing failed: {c.errors}")
        for b in breaks:
            if isinstance(b.get("key"), str) and len(b["key"]) == 32:
                b["key"] = self.key_name(bytes.fromhex(b["key"]))
        return sorted(breaks, key=lambda b: json.dumps(b, sort_keys=True))

    def record(self, op):
        op["status_name"] = name_of(op["status"])
        if self.timed and self.drop_time:
            # Not deterministic: milliseconds since the last drop, rounded to 100.
            op["ms_after_drop"] = round((time.monotonic() - max(self.drop_time.values())) * 10) * 100
        breaks = self.barrier()
        if breaks:
            op["breaks"] = breaks
        self.ops.append(op)
        return op

    def key_name(self, raw):
        for n in ("K1", "K2", "K3"):
            if named_bytes(self.no, n, "key") == raw:
                return n
        return raw.hex()

    # -- requests ----------------------------------------------------------
    def create(self, client, f, access=RW, share=SH_ALL, disposition=FILE_OPEN, options=0,
               oplock=OPLOCK_NONE, lease=None, durable=None, reconnect=None, app=None,
               replay=False, note=None, volatile=False):
        """lease: ("K1", "RWH") or ("K1", "RWH", 2) (v2 lease, epoch 0).
        durable: {"v": 1} or {"v": 2, "timeout": ms, "flags": f, "guid": "G1"}.
        reconnect: {"v": 1, "of": h} or {"v": 2, "of": h, "guid": "G1", "flags": f};
          "tweak": "persistent+1" / "volatile+1" changes the FileId sent.
        app: the app instance id's name. replay: SMB2_FLAGS_REPLAY_OPERATION."""
        c = self.clients[client]
        op = {"op": "create", "client": client, "handle": len(self.handles), "file": f,
              "access": access, "share": share, "disposition": disposition}
        if options:
            op["options"] = options
        contexts = []
        if durable is not None:
            if durable["v"] == 1:
                contexts.append(ctx(CTX_DHNQ, b"\0" * 16))
            else:
                contexts.append(ctx(CTX_DH2Q, struct.pack(
                    "<IIQ16s", durable.get("timeout", 0), durable.get("flags", 0), 0,
                    named_bytes(self.no, durable["guid"], "guid"))))
            op["durable"] = dict(durable)
        if reconnect is not None:
            fid = self.fid(reconnect["of"])
            tweak = reconnect.get("tweak")
            if tweak == "persistent+1":
                fid = struct.pack("<Q", struct.unpack_from("<Q", fid)[0] + 1) + fid[8:]
            elif tweak == "volatile+1":
                fid = fid[:8] + struct.pack("<Q", struct.unpack_from("<Q", fid, 8)[0] + 1)
            elif tweak is not None:
                raise ValueError(tweak)
            if reconnect["v"] == 1:
                contexts.append(ctx(CTX_DHNC, fid))
            else:
                contexts.append(ctx(CTX_DH2C, struct.pack(
                    "<16s16sI", fid, named_bytes(self.no, reconnect["guid"], "guid"),
                    reconnect.get("flags", 0))))
            op["reconnect"] = dict(reconnect)
        if lease is not None:
            key = named_bytes(self.no, lease[0], "key")
            state = lease_bits(lease[1])
            if len(lease) > 2 and lease[2] == 2:
                data = struct.pack("<16sIIQ16sHH", key, state, 0, 0, b"\0" * 16, 0, 0)
            else:
                data = struct.pack("<16sIIQ", key, state, 0, 0)
            contexts.append(ctx(CTX_RQLS, data))
            oplock = OPLOCK_LEASE
            op["lease"] = {"key": lease[0], "state": lease[1], "v": lease[2] if len(lease) > 2 else 1}
        if oplock:
            op["oplock"] = oplock
        if app is not None:
            contexts.append(ctx(CTX_APP_INSTANCE_ID,
                                struct.pack("<HH16s", 20, 0, named_bytes(self.no, app, "app"))))
            op["app_instance_id"] = app
        if replay:
            op["replay"] = True
        if note:
            op["note"] = note
        if volatile:
            op["volatile"] = True   # the answer depends on timing: not for replay
        req = SMB2CreateRequest()
        req["impersonation_level"] = ImpersonationLevel.Impersonation
        req["desired_access"] = access
        req["file_attributes"] = 0
        req["share_access"] = share
        req["create_disposition"] = disposition
        req["create_options"] = FILE_NON_DIRECTORY_FILE | options
        req["requested_oplock_level"] = oplock
        req["buffer_path"] = (self.prefix + f).encode("utf-16-le")
        if contexts:
            req["buffer_contexts"] = SMB2CreateContextRequest.pack_multiple(contexts)
        self.handles.append({"client": client, "fid": None, "file": f})
        if replay:
            smbconn.SMB2HeaderRequest = _ReplayHeader
            try:
                request = c.send(req)
            finally:
                smbconn.SMB2HeaderRequest = SMB2HeaderRequest
        else:
            request = c.send(req)
        status, resp = c.wait(request)
        op["status"] = status
        if status == 0:
            self.parse_response(op, resp, c)
        return self.record(op)

    def parse_response(self, op, resp, c):
        cr = SMB2CreateResponse()
        cr.unpack(resp["data"].get_value())
        fid = cr["file_id"].get_value()
        h = op["handle"]
        op["oplock_granted"] = cr["oplock_level"].get_value()
        # Which earlier handle's FileId halves this one repeats.
        for k, other in enumerate(self.handles[:h]):
            if other["fid"] is None:
                continue
            if other["fid"][:8] == fid[:8]:
                op.setdefault("persistent_of", k)
            if other["fid"][8:] == fid[8:]:
                op.setdefault("volatile_of", k)
        self.handles[h]["fid"] = fid
        c.fids[fid] = [h, op["oplock_granted"]]
        op["durable_granted"] = False
        others = []
        for cx in cr["buffer"].get_value():
            name = cx["buffer_name"].get_value()
            data = cx["buffer_data"].get_value()
            if name == CTX_DHNQ:
                op["durable_granted"] = True
                op["durable_response"] = {"v": 1, "length": len(data)}
            elif name == CTX_DH2Q:
                timeout, flags = struct.unpack_from("<II", data)
                op["durable_granted"] = True
                op["durable_response"] = {"v": 2, "timeout": timeout, "flags": flags}
            elif name == CTX_RQLS:
                key, state, flags, _dur = struct.unpack_from("<16sIIQ", data)
                lg = {"key": self.key_name(key), "state": lease_str(state), "flags": flags,
                      "v": 2 if len(data) >= 52 else 1}
                if len(data) >= 52:
                    lg["epoch"] = struct.unpack_from("<H", data, 48)[0]
                    if flags & LEASE_PARENT_KEY_SET:
                        lg["parent"] = data[32:48].hex()
                op["lease_granted"] = lg
            else:
                others.append(CTX_NAMES.get(name, name.decode("latin-1")))
        if others:
            op["other_contexts"] = sorted(others)

    def fid(self, h):
        fid = self.handles[h]["fid"]
        if fid is None:
            raise RuntimeError(f"{self.name}: request on handle {h}, whose CREATE failed")
        return fid

    def _call(self, client, req):
        c = self.clients[client]
        if c.dropped:
            raise RuntimeError(f"{self.name}: client {client} is disconnected")
        return c.wait(c.send(req))

    def _lock(self, client, h, elements):
        c = self.clients[client]
        if c.dropped:
            raise RuntimeError(f"{self.name}: client {client} is disconnected")
        # BreakClient's `lock` attribute is its mutex: the request is record.Client's.
        return Client.lock(c, self.fid(h), elements)

    def lock(self, client, h, offset, length, exclusive=True, note=None):
        """One LOCK element with FAIL_IMMEDIATELY, sent by `client` on handle h's FileId."""
        flags = (LOCK_EXCLUSIVE if exclusive else LOCK_SHARED) | LOCK_FAIL_IMMEDIATELY
        status = self._lock(client, h, [(offset, length, flags)])
        op = {"op": "lock", "client": client, "handle": h, "offset": offset, "length": length,
              "exclusive": exclusive, "status": status}
        if note:
            op["note"] = note
        return self.record(op)

    def unlock(self, client, h, offset, length):
        status = self._lock(client, h, [(offset, length, LOCK_UNLOCK)])
        return self.record({"op": "unlock", "client": client, "handle": h, "offset": offset,
                            "length": length, "status": status})

    def read(self, client, h, note=None):
        req = SMB2ReadRequest()
        req["length"] = 1
        req["offset"] = 0
        req["minimum_count"] = 0
        req["file_id"] = self.fid(h)
        req["padding"] = b"\x50"
        status = self._call(client, req)[0]
        op = {"op": "read", "client": client, "handle": h, "offset": 0, "length": 1,
              "status": status}
        if note:
            op["note"] = note
        return self.record(op)

    def close(self, client, h):
        req = SMB2CloseRequest()
        req["file_id"] = self.fid(h)
        status = self._call(client, req)[0]
        return self.record({"op": "close", "client": client, "handle": h, "status": status})

    def exists(self, f):
        """Whether the name exists in the share directory (no request)."""
        e = os.path.exists(os.path.join(self.args.share_dir, self.prefix + f))
        self.ops.append({"op": "exists", "file": f, "exists": e})

    def expect(self, step, status, why):
        """A check on smbd's answer that the scenario depends on (later steps
        make no sense otherwise): a differing answer fails the recording loudly."""
        if step["status"] != status:
            raise RuntimeError(f"{self.name}: expected {name_of(status)} ({why}), smbd answered "
                               f"{step['status_name']}: {json.dumps(step)}")
        return step

    def finish(self):
        for c in self.clients.values():
            if not c.dropped:
                c.dropped = True
                try:
                    c.conn.disconnect(True, timeout=TIMEOUT)
                except Exception:
                    c.conn.disconnect(False)
        return {"name": self.name, "note": self.note, "ops": self.ops}


# --- scenarios ------------------------------------------------------------------
# Each gets its own files (prefix dNN_), client GUIDs, CreateGuids and lease keys.

def v1_grants(q):
    """DHnQ (durable v1, 3.3.5.9.6) with each oplock level and lease state:
    durable only with a batch oplock or a lease with H caching."""
    q.make_file("f")
    q.connect("A")
    cases = [("batch", dict(oplock=OPLOCK_BATCH)), ("none", dict()),
             ("level II", dict(oplock=OPLOCK_II)), ("exclusive", dict(oplock=OPLOCK_EXCLUSIVE)),
             ("lease RWH", dict(lease=("K1", "RWH"))), ("lease RH", dict(lease=("K1", "RH"))),
             ("lease RW", dict(lease=("K1", "RW"))), ("lease R", dict(lease=("K1", "R"))),
             ("lease v2 RWH", dict(lease=("K1", "RWH", 2)))]
    for why, kw in cases:
        h = q.create("A", "f", durable={"v": 1}, note=why, **kw)
        q.expect(h, 0, "a plain open of an existing file")
        q.close("A", h["handle"])
    h = q.create("A", "f", access=RW | DELETE, options=FILE_DELETE_ON_CLOSE, oplock=OPLOCK_BATCH,
                 durable={"v": 1}, note="batch, FILE_DELETE_ON_CLOSE (smb.conf(5): never durable)")
    q.close("A", h["handle"])


def v2_grants(q):
    """DH2Q (durable v2, 3.3.5.9.10): the timeout smbd grants for 0, 60000,
    300000, 600000 ms, the persistent flag on a share that is not
    continuously available, v2 without an oplock, with leases, and DHnQ and
    DH2Q together."""
    q.make_file("f")
    q.connect("A")
    n = 0
    for timeout, flags, kw, why in [
            (0, 0, dict(oplock=OPLOCK_BATCH), "timeout 0: the server's default"),
            (60000, 0, dict(oplock=OPLOCK_BATCH), "timeout 60000"),
            (2000, 0, dict(oplock=OPLOCK_BATCH), "timeout 2000"),
            (300000, 0, dict(oplock=OPLOCK_BATCH), "timeout 300000"),
            (600000, 0, dict(oplock=OPLOCK_BATCH), "timeout 600000 (above 300000)"),
            (0, DH2_PERSISTENT, dict(oplock=OPLOCK_BATCH), "persistent, share not CA"),
            (0, DH2_PERSISTENT, dict(), "persistent, no oplock"),
            (0, 0, dict(), "no oplock"),
            (0, 0, dict(oplock=OPLOCK_II), "level II"),
            (0, 0, dict(lease=("K1", "RWH", 2)), "lease v2 RWH"),
            (0, 0, dict(lease=("K1", "RH", 2)), "lease v2 RH"),
            (0, 0, dict(lease=("K1", "R", 2)), "lease v2 R")]:
        n += 1
        h = q.create("A", "f", durable={"v": 2, "timeout": timeout, "flags": flags,
                                        "guid": f"G{n}"}, note=why, **kw)
        q.expect(h, 0, "a plain open of an existing file")
        q.close("A", h["handle"])
    # DHnQ and DH2Q in one request (3.3.5.9: the server MUST fail it).
    c = q.clients["A"]
    req = SMB2CreateRequest()
    req["impersonation_level"] = ImpersonationLevel.Impersonation
    req["desired_access"] = RW
    req["share_access"] = SH_ALL
    req["create_disposition"] = FILE_OPEN
    req["create_options"] = FILE_NON_DIRECTORY_FILE
    req["requested_oplock_level"] = OPLOCK_BATCH
    req["buffer_path"] = (q.prefix + "f").encode("utf-16-le")
    req["buffer_contexts"] = SMB2CreateContextRequest.pack_multiple([
        ctx(CTX_DHNQ, b"\0" * 16),
        ctx(CTX_DH2Q, struct.pack("<IIQ16s", 0, 0, 0, named_bytes(q.no, "G99", "guid")))])
    status, resp = c.wait(c.send(req))
    q.handles.append({"client": "A", "fid": None, "file": "f"})
    op = {"op": "create", "client": "A", "handle": len(q.handles) - 1, "file": "f",
          "access": RW, "share": SH_ALL, "disposition": FILE_OPEN, "oplock": OPLOCK_BATCH,
          "durable": {"v": "1+2", "guid": "G99"}, "note": "DHnQ and DH2Q together",
          "status": status}
    if status == 0:
        q.parse_response(op, resp, c)
    q.record(op)
    if status == 0:
        q.close("A", op["handle"])


def _reconnect_with_lock(q, v, lease, same_guid):
    q.make_file("f")
    q.connect("A")
    q.connect("C")
    durable = {"v": 1} if v == 1 else {"v": 2, "timeout": 60000, "guid": "G1"}
    h0 = q.expect(q.create("A", "f", durable=durable, lease=lease,
                           oplock=OPLOCK_BATCH if lease is None else 0), 0, "first open")
    if not h0["durable_granted"]:
        raise RuntimeError(f"{q.name}: durable not granted: {h0}")
    q.expect(q.lock("A", 0, 0, 10, note="A locks [0,10)"), 0, "A's own lock")
    h1 = q.expect(q.create("C", "f"), 0, "C's plain open")["handle"]
    q.lock("C", h1, 0, 10, note="C, A connected")
    q.drop("A")
    q.lock("C", h1, 0, 10, note="C, A disconnected")
    q.lock("C", h1, 20, 10, note="C, outside A's range")
    q.unlock("C", h1, 20, 10)
    q.connect("B", guid="A" if same_guid else "B")
    rc = {"v": 1, "of": 0} if v == 1 else {"v": 2, "of": 0, "guid": "G1"}
    h2 = q.create("B", "f", reconnect=rc, lease=lease)
    q.lock("C", h1, 0, 10, note="C, after B's reconnect")
    if h2["status"] == 0:
        b = h2["handle"]
        q.lock("B", b, 0, 10, note="B on the reconnected handle: A's own lock is still there")
        q.unlock("B", b, 0, 10)
        q.lock("C", h1, 0, 10, note="C, after B unlocked")
        q.read("B", b)
        q.close("B", b)
    q.close("C", h1)


def reconnect_v1_batch_lock(q):
    """Durable v1 with a batch oplock and a lock [0,10); C's plain open breaks
    the batch oplock (to level II); A's connection dropped; B (a new
    connection, another client GUID, same user) reconnects with DHnC; C's lock
    on the range before the drop, while disconnected, after the reconnect."""
    _reconnect_with_lock(q, 1, None, same_guid=False)


def reconnect_v1_lease_lock(q):
    """As reconnect_v1_batch_lock with a v1 lease RWH (C's open breaks it to RH);
    B reuses A's client GUID (a lease belongs to its client GUID) and sends
    DHnC with the same lease key."""
    _reconnect_with_lock(q, 1, ("K1", "RWH"), same_guid=True)


def reconnect_v2_lease_lock(q):
    """As reconnect_v1_lease_lock with DH2Q (timeout 60000, CreateGuid G1) and
    a v2 lease RWH; the reconnect is DH2C with FileId and G1."""
    _reconnect_with_lock(q, 2, ("K1", "RWH", 2), same_guid=True)


def _lock_survives(q, v, lease):
    q.make_file("f")
    q.connect("A")
    durable = {"v": 1} if v == 1 else {"v": 2, "timeout": 60000, "guid": "G1"}
    h0 = q.expect(q.create("A", "f", durable=durable, lease=lease,
                           oplock=OPLOCK_BATCH if lease is None else 0), 0, "first open")
    if not h0["durable_granted"]:
        raise RuntimeError(f"{q.name}: durable not granted: {h0}")
    q.expect(q.lock("A", 0, 0, 10, note="A locks [0,10)"), 0, "A's own lock")
    q.drop("A")
    q.connect("B", guid="A")
    rc = {"v": 1, "of": 0} if v == 1 else {"v": 2, "of": 0, "guid": "G1"}
    b = q.expect(q.create("B", "f", reconnect=rc, lease=lease), 0, "the reconnect")["handle"]
    q.connect("C")
    c = q.expect(q.create("C", "f"), 0, "C's plain open")["handle"]
    q.lock("C", c, 0, 10, note="C, after B's reconnect")
    q.lock("B", b, 0, 10, note="B: A's lock is B's now (LOCK_NOT_GRANTED: held)")
    q.unlock("B", b, 0, 10)
    q.lock("C", c, 0, 10, note="C, after B unlocked")
    q.close("C", c)
    q.close("B", b)


def lock_survives_v1_batch(q):
    """Durable v1 with a batch oplock and a lock [0,10); A dropped with no other
    open on the file; B (same user, A's client GUID) reconnects with DHnC;
    then C opens and locks the range; B unlocks; C locks again."""
    _lock_survives(q, 1, None)


def lock_survives_v2_lease(q):
    """As lock_survives_v1_batch with DH2Q (60000, G1) and a v2 lease RWH."""
    _lock_survives(q, 2, ("K1", "RWH", 2))


def other_open_at_disconnect(q):
    """A durable v1 (batch) and C's plain open (breaks A to level II) exist
    when A's connection drops; nobody touches the file while A is
    disconnected; B (A's client GUID) reconnects. Then the same with a lease
    RWH (C's open breaks it to RH)."""
    q.make_file("f")
    q.make_file("g")
    q.connect("A")
    q.connect("C")
    q.expect(q.create("A", "f", oplock=OPLOCK_BATCH, durable={"v": 1}), 0, "open")
    q.expect(q.create("A", "g", lease=("K1", "RWH"), durable={"v": 1}), 0, "open")
    c1 = q.expect(q.create("C", "f"), 0, "C's open")["handle"]
    c2 = q.expect(q.create("C", "g"), 0, "C's open")["handle"]
    q.drop("A")
    q.connect("B", guid="A")
    r1 = q.create("B", "f", reconnect={"v": 1, "of": 0}, note="batch broken to II before the drop")
    r2 = q.create("B", "g", reconnect={"v": 1, "of": 1}, lease=("K1", "RWH"),
                  note="lease broken to RH before the drop")
    for x in (r1, r2):
        if x["status"] == 0:
            q.close("B", x["handle"])
    q.close("C", c1)
    q.close("C", c2)


def delete_on_close_durable(q):
    """DHnQ with FILE_DELETE_ON_CLOSE and a batch oplock (smb.conf(5): 'durability
    is not granted'), A dropped, B reconnects; does the file still exist?"""
    q.make_file("f")
    q.connect("A")
    q.expect(q.create("A", "f", access=RW | DELETE, options=FILE_DELETE_ON_CLOSE,
                      oplock=OPLOCK_BATCH, durable={"v": 1}), 0, "open")
    q.drop("A")
    q.connect("B", guid="A")
    r = q.create("B", "f", access=RW | DELETE, options=FILE_DELETE_ON_CLOSE,
                 reconnect={"v": 1, "of": 0})
    if r["status"] == 0:
        q.close("B", r["handle"])
    q.exists("f")


def reconnect_twice(q):
    """Is a reconnected open still durable (the reconnect's answer has no
    durable context)? v1 batch on f, v2 batch on g; A dropped; B (A's client
    GUID) reconnects both; B dropped; B2 (A's client GUID) reconnects both again."""
    q.make_file("f")
    q.make_file("g")
    q.connect("A")
    q.expect(q.create("A", "f", oplock=OPLOCK_BATCH, durable={"v": 1}), 0, "v1 open")
    q.expect(q.create("A", "g", oplock=OPLOCK_BATCH,
                      durable={"v": 2, "timeout": 60000, "guid": "G1"}), 0, "v2 open")
    q.drop("A")
    q.connect("B", guid="A")
    q.expect(q.create("B", "f", reconnect={"v": 1, "of": 0}), 0, "first reconnect")
    q.expect(q.create("B", "g", reconnect={"v": 2, "of": 1, "guid": "G1"}), 0, "first reconnect")
    q.drop("B")
    q.connect("B2", guid="A")
    r1 = q.create("B2", "f", reconnect={"v": 1, "of": 2}, note="second reconnect, v1")
    r2 = q.create("B2", "g", reconnect={"v": 2, "of": 3, "guid": "G1"}, note="second reconnect, v2")
    for r in (r1, r2):
        if r["status"] == 0:
            q.close("B2", r["handle"])


def reconnect_v2_batch_other_guid(q):
    """DH2Q with a batch oplock; B reconnects with DH2C from another client
    GUID (MS-SMB2 3.3.5.9.12 compares Open.ClientGuid only for persistent...
    recorded), then from A's client GUID."""
    q.make_file("f")
    q.connect("A")
    q.expect(q.create("A", "f", oplock=OPLOCK_BATCH,
                      durable={"v": 2, "timeout": 60000, "guid": "G1"}), 0, "first open")
    q.drop("A")
    q.connect("B", guid="B")
    r = q.create("B", "f", reconnect={"v": 2, "of": 0, "guid": "G1"}, note="another client GUID")
    if r["status"] == 0:
        q.close("B", r["handle"])
        return
    q.connect("A2", guid="A")
    r = q.create("A2", "f", reconnect={"v": 2, "of": 0, "guid": "G1"}, note="A's client GUID")
    if r["status"] == 0:
        q.close("A2", r["handle"])


def reconnect_wrong_create_guid(q):
    """DH2C with a CreateGuid other than the open's (G2 for G1), then the right one."""
    q.make_file("f")
    q.connect("A")
    q.expect(q.create("A", "f", oplock=OPLOCK_BATCH,
                      durable={"v": 2, "timeout": 60000, "guid": "G1"}), 0, "first open")
    q.drop("A")
    q.connect("B", guid="A")
    q.create("B", "f", reconnect={"v": 2, "of": 0, "guid": "G2"}, note="wrong CreateGuid")
    r = q.create("B", "f", reconnect={"v": 2, "of": 0, "guid": "G1"}, note="right CreateGuid")
    if r["status"] == 0:
        q.close("B", r["handle"])


def reconnect_wrong_lease_key(q):
    """DHnC of an open with lease K1: with lease K2, without a lease, then with K1."""
    q.make_file("f")
    q.connect("A")
    q.expect(q.create("A", "f", lease=("K1", "RWH"), durable={"v": 1}), 0, "first open")
    q.drop("A")
    q.connect("B", guid="A")
    q.create("B", "f", reconnect={"v": 1, "of": 0}, lease=("K2", "RWH"), note="wrong lease key")
    q.create("B", "f", reconnect={"v": 1, "of": 0}, note="no lease context")
    r = q.create("B", "f", reconnect={"v": 1, "of": 0}, lease=("K1", "RWH"), note="right key")
    if r["status"] == 0:
        q.close("B", r["handle"])


def reconnect_wrong_file_id(q):
    """DHnC with Persistent+1, then with Volatile+1 (3.3.5.9.7 looks the open up
    by FileId.Persistent only), then the right FileId."""
    q.make_file("f")
    q.connect("A")
    q.expect(q.create("A", "f", oplock=OPLOCK_BATCH, durable={"v": 1}), 0, "first open")
    q.drop("A")
    q.connect("B")
    q.create("B", "f", reconnect={"v": 1, "of": 0, "tweak": "persistent+1"}, note="wrong persistent")
    r = q.create("B", "f", reconnect={"v": 1, "of": 0, "tweak": "volatile+1"},
                 note="wrong volatile")
    if r["status"] == 0:
        q.close("B", r["handle"])
        return
    r = q.create("B", "f", reconnect={"v": 1, "of": 0}, note="right FileId")
    if r["status"] == 0:
        q.close("B", r["handle"])


def reconnect_other_user(q):
    """DHnC and DH2C from a session of another user (3.3.5.9.7 / 3.3.5.9.12:
    the security context must match Open.DurableOwner), then from the same user."""
    q.make_file("f")
    q.make_file("g")
    q.connect("A")
    q.expect(q.create("A", "f", oplock=OPLOCK_BATCH, durable={"v": 1}), 0, "v1 open")
    q.expect(q.create("A", "g", oplock=OPLOCK_BATCH,
                      durable={"v": 2, "timeout": 60000, "guid": "G1"}), 0, "v2 open")
    q.drop("A")
    q.connect("U2", guid="A", user=2)
    q.create("U2", "f", reconnect={"v": 1, "of": 0}, note="v1, another user")
    q.create("U2", "g", reconnect={"v": 2, "of": 1, "guid": "G1"}, note="v2, another user")
    q.connect("B", guid="A")
    r1 = q.create("B", "f", reconnect={"v": 1, "of": 0}, note="v1, same user")
    r2 = q.create("B", "g", reconnect={"v": 2, "of": 1, "guid": "G1"}, note="v2, same user")
    for r in (r1, r2):
        if r["status"] == 0:
            q.close("B", r["handle"])


def reconnect_while_connected(q):
    """DHnC and DH2C of A's durable opens while A is still connected, from B
    (same user, another client GUID and from A's client GUID), then A's
    handles are used again."""
    q.make_file("f")
    q.make_file("g")
    q.connect("A")
    q.expect(q.create("A", "f", oplock=OPLOCK_BATCH, durable={"v": 1}), 0, "v1 open")
    q.expect(q.create("A", "g", oplock=OPLOCK_BATCH,
                      durable={"v": 2, "timeout": 60000, "guid": "G1"}), 0, "v2 open")
    q.connect("B")
    q.create("B", "f", reconnect={"v": 1, "of": 0}, note="v1, A connected")
    q.create("B", "g", reconnect={"v": 2, "of": 1, "guid": "G1"}, note="v2, A connected")
    q.create("A", "f", reconnect={"v": 1, "of": 0}, note="v1, A itself on its own connection")
    q.create("A", "g", reconnect={"v": 2, "of": 1, "guid": "G1"}, note="v2, A itself")
    q.read("A", 0, note="A's v1 handle afterwards")
    q.read("A", 1, note="A's v2 handle afterwards")
    q.close("A", 0)
    q.close("A", 1)


def reconnect_after_timeout(q):
    """DH2Q with timeout 2000 ms (batch, share none) on three files, A dropped;
    B (A's client GUID) reconnects to h 1 s after the drop (inside the
    timeout), to f 3.5 s after it (past the timeout); at 3.5 s B's plain
    conflicting open of g (share none), then B's reconnect to g."""
    for f in ("f", "g", "h"):
        q.make_file(f)
    q.connect("A")
    for i, f in enumerate(("f", "g", "h")):
        q.expect(q.create("A", f, share=SH_NONE, oplock=OPLOCK_BATCH,
                          durable={"v": 2, "timeout": 2000, "guid": f"G{i + 1}"}), 0, "open")
    q.drop("A")
    q.connect("B", guid="A")
    q.sleep(500, "1 s after the drop (0.5 s in drop)")
    r = q.create("B", "h", share=SH_NONE, reconnect={"v": 2, "of": 2, "guid": "G3"},
                 note="1 s after the drop, inside the 2000 ms timeout")
    if r["status"] == 0:
        q.close("B", r["handle"])
    q.sleep(2500, "3.5 s after the drop, 1.5 s past the timeout")
    q.create("B", "f", share=SH_NONE, reconnect={"v": 2, "of": 0, "guid": "G1"},
             note="3.5 s after the drop")
    b = q.create("B", "g", share=SH_NONE, note="conflicting plain open 3.5 s after the drop")
    if b["status"] == 0:
        q.close("B", b["handle"])
    q.create("B", "g", share=SH_NONE, reconnect={"v": 2, "of": 1, "guid": "G2"},
             note="reconnect of g afterwards")


def _disconnected(q, a_kw, b_kw):
    """A's durable v1 open of f and of g (a_kw), A dropped; B (another client
    GUID) opens both (b_kw); B closes g; A's client GUID reconnects to f
    (B's open still there) and to g (B's open closed)."""
    q.make_file("f")
    q.make_file("g")
    q.connect("A")
    def per_file(kw, f):
        # One lease key per file (a key in use on another file: INVALID_PARAMETER).
        kw = dict(kw)
        if "lease" in kw:
            kw["lease"] = ("K1" if f == "f" else "K2",) + tuple(kw["lease"][1:])
        return kw

    for f in ("f", "g"):
        q.expect(q.create("A", f, durable={"v": 1}, **per_file(a_kw, f)), 0, "A's open")
        if not q.ops[-1]["durable_granted"]:
            raise RuntimeError(f"{q.name}: durable not granted: {q.ops[-1]}")
    q.drop("A")
    q.connect("B")
    bf = q.create("B", "f", note="B's open, kept", **b_kw)
    bg = q.create("B", "g", note="B's open, closed before A's reconnect", **b_kw)
    if bg["status"] == 0:
        q.close("B", bg["handle"])
    q.connect("A2", guid="A")
    rkw = {k: v for k, v in a_kw.items() if k in ("access", "share", "lease")}
    rf = q.create("A2", "f", reconnect={"v": 1, "of": 0}, note="A's reconnect, B's open there",
                  **per_file(rkw, "f"))
    rg = q.create("A2", "g", reconnect={"v": 1, "of": 1}, note="A's reconnect, B's open closed",
                  **per_file(rkw, "g"))
    for x, c in ((bf, "B"), (rf, "A2"), (rg, "A2")):
        if x["status"] == 0:
            q.close(c, x["handle"])


def disconnected_share_conflict(q):
    """A: RW, share none, batch (disconnected). B: READ, share all: a share
    conflict (and a batch break: smbd breaks before it checks sharing)."""
    _disconnected(q, dict(share=SH_NONE, oplock=OPLOCK_BATCH), dict(access=R))


def disconnected_share_conflict_lease(q):
    """A: READ, share none, lease RH (disconnected). B: READ, share all: a
    share conflict that needs A's H broken."""
    _disconnected(q, dict(access=R, share=SH_NONE, lease=("K1", "RH")), dict(access=R))


def disconnected_lease_break(q):
    """A: RW, share all, lease RWH (disconnected). B: RW, share all: A's W
    would be broken."""
    _disconnected(q, dict(lease=("K1", "RWH")), dict())


def disconnected_batch_break(q):
    """A: RW, share all, batch (disconnected). B: RW, share all: A's batch
    oplock would be broken."""
    _disconnected(q, dict(oplock=OPLOCK_BATCH), dict())


def disconnected_no_conflict(q):
    """A: READ, share all, lease RH (disconnected). B: READ, share all: no share
    conflict, no break of RH needed."""
    _disconnected(q, dict(access=R, lease=("K1", "RH")), dict(access=R))


def disconnected_stat_open(q):
    """A: READ, share all, lease RH (disconnected). B: a stat open
    (READ_ATTRIBUTES)."""
    _disconnected(q, dict(access=R, lease=("K1", "RH")), dict(access=READ_ATTRIBUTES))


def timeout_probe(q):
    """Six DH2Q opens with timeout 2000 ms, A dropped; one reconnect each at
    1.5, 2.0, 2.25, 2.5, 3.0 and 5.0 s after the drop (each on its own open):
    when smbd forgets a disconnected open. The answers at 2.0 and 2.25 s depend on
    timing ("volatile": true); every step has ms_after_drop (not
    deterministic either)."""
    q.timed = True
    at = [1500, 2000, 2250, 2500, 3000, 5000]
    for i in range(len(at)):
        q.make_file(f"f{i}")
    q.connect("A")
    for i in range(len(at)):
        q.expect(q.create("A", f"f{i}", oplock=OPLOCK_BATCH,
                          durable={"v": 2, "timeout": 2000, "guid": f"G{i}"}), 0, "open")
    q.drop("A")
    q.connect("B", guid="A")
    for i, ms in enumerate(at):
        left = ms / 1000 - (time.monotonic() - q.drop_time["A"])
        if left > 0:
            time.sleep(left)
        r = q.create("B", f"f{i}", reconnect={"v": 2, "of": i, "guid": f"G{i}"},
                     note=f"{ms} ms after the drop", volatile=abs(ms - 2000) < 500)
        if r["status"] == 0:
            q.close("B", r["handle"])


def replay(q):
    """DH2Q create G1 (batch, RW, share all); the same create again from A with
    SMB2_FLAGS_REPLAY_OPERATION while the open is live (3.3.5.9.10: the same
    open), without the flag, from B (another client GUID) with and without the
    flag, and after A's close."""
    q.make_file("f")
    q.connect("A")
    d = {"v": 2, "timeout": 60000, "guid": "G1"}
    h0 = q.expect(q.create("A", "f", oplock=OPLOCK_BATCH, durable=d), 0, "first open")
    q.create("A", "f", oplock=OPLOCK_BATCH, durable=d, replay=True, note="replay, same client")
    q.create("A", "f", oplock=OPLOCK_BATCH, durable=d, note="same CreateGuid without replay flag")
    q.connect("B")
    q.create("B", "f", oplock=OPLOCK_BATCH, durable=d,
             note="same CreateGuid, another client GUID, no replay flag")
    q.create("B", "f", oplock=OPLOCK_BATCH, durable=d, replay=True,
             note="replay from another client GUID")
    first = q.handles[h0["handle"]]["fid"]
    for k, hd in enumerate(q.handles):
        if hd["fid"] is not None and k != h0["handle"] and hd["fid"] != first:
            q.close(hd["client"], k)
    q.close("A", h0["handle"])
    r = q.create("A", "f", oplock=OPLOCK_BATCH, durable=d, replay=True,
                 note="replay after the close")
    if r["status"] == 0:
        q.close("A", r["handle"])


def app_instance_id(q):
    """A (client GUID A) opens with DH2Q and app instance id X (RW, share
    none); B (client GUID B) opens the same file with X and DH2Q: is A's open
    closed (3.3.5.9.13)? Then: A's next request on its handle. Then the same
    with B from A's client GUID (3.3.5.9.13: only another client GUID closes),
    and B with X but without DH2Q."""
    for f in ("f", "g", "h"):
        q.make_file(f)
    q.connect("A")
    q.connect("B")
    q.connect("A2", guid="A")
    for f, other, dur, why in [("f", "B", True, "another client GUID, DH2Q"),
                               ("g", "A2", True, "A's client GUID (another connection), DH2Q"),
                               ("h", "B", False, "another client GUID, no durable context")]:
        a = q.expect(q.create("A", f, share=SH_NONE, oplock=OPLOCK_BATCH, app="X",
                              durable={"v": 2, "timeout": 60000, "guid": "G" + f}), 0, "A's open")
        kw = {"durable": {"v": 2, "timeout": 60000, "guid": "H" + f}} if dur else {}
        b = q.create(other, f, share=SH_NONE, oplock=OPLOCK_BATCH, app="X", note=why, **kw)
        q.read("A", a["handle"], note="A's handle afterwards")
        if b["status"] == 0:
            q.close(other, b["handle"])
        q.close("A", a["handle"])


SCENARIOS = [v1_grants, v2_grants, reconnect_v1_batch_lock, reconnect_v1_lease_lock,
             reconnect_v2_lease_lock, lock_survives_v1_batch, lock_survives_v2_lease,
             other_open_at_disconnect, delete_on_close_durable, reconnect_twice,
             reconnect_v2_batch_other_guid, reconnect_wrong_create_guid,
             reconnect_wrong_lease_key, reconnect_wrong_file_id, reconnect_other_user,
             reconnect_while_connected, reconnect_after_timeout, timeout_probe,
             disconnected_share_conflict, disconnected_share_conflict_lease,
             disconnected_lease_break, disconnected_batch_break, disconnected_no_conflict,
             disconnected_stat_open,
             replay, app_instance_id]


def dumps_one_op_per_line(doc):
    head = {k: v for k, v in doc.items() if k != "scenarios"}
    out = json.dumps(head, indent=1)[:-2] + ',\n "scenarios": [\n'
    parts = []
    for s in doc["scenarios"]:
        meta = {k: v for k, v in s.items() if k != "ops"}
        ops = ",\n".join("   " + json.dumps(o, sort_keys=True) for o in s["ops"])
        parts.append(" " + json.dumps(meta)[:-1] + ', "ops": [\n' + ops + "]}")
    return out + ",\n".join(parts) + "]}\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--user2", default=None, help="a second smbd user (same password)")
    ap.add_argument("--password", required=True)
    ap.add_argument("--share", required=True)
    ap.add_argument("--share-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--server-version", default="")
    ap.add_argument("--only", action="append", default=[],
                    help="record only scenarios whose name contains this (repeatable)")
    args = ap.parse_args()
    todo = SCENARIOS
    if args.only:
        todo = [s for s in todo if any(o in s.__name__ for o in args.only)]
        if not todo:
            raise SystemExit(f"durable.py: no scenario matches {args.only}")
    t0 = time.monotonic()
    scenarios = []
    dialect = None
    for n, sc in enumerate(SCENARIOS):
        if sc not in todo:
            continue
        ts = time.monotonic()
        q = Scenario(args, n, sc.__name__, " ".join(sc.__doc__.split()))
        try:
            sc(q)
            for c in q.clients.values():
                dialect = dialect or c.conn.dialect
        finally:
            rec = q.finish()
        scenarios.append(rec)
        print(f"durable.py: {sc.__name__}: {len(rec['ops'])} steps, "
              f"{time.monotonic() - ts:.2f} s", file=sys.stderr)
    doc = {"format": 1,
           "kind": "durable",
           "server": args.server_version or "smbd (unknown version)",
           "client": "smbprotocol " + importlib.metadata.version("smbprotocol"),
           "dialect": f"0x{dialect:04x}" if dialect else None,
           "scenarios": scenarios}
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(dumps_one_op_per_line(doc))
    os.replace(tmp, args.out)
    print(f"durable.py: {len(scenarios)} scenarios, {sum(len(s['ops']) for s in scenarios)} steps "
          f"in {time.monotonic() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
