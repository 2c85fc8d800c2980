#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Fuzz the ckpt generic-netlink family from its YNL spec, with raw sockets.

    fuzz-family.py fuzz  [--count N] [--seed S] [--spec FILE] [--seconds-max T] [--progress FILE]
    fuzz-family.py churn [--seconds T] [--stop-file F] [--seed S]   sink register/close loops

  spec (Documentation/netlink/specs/ckpt.yaml)
    -> operations (ids: 1.. in list order unless `value:`), their request
       attributes, attribute sets (ids 1.. unless `value:`), types, checks,
       enums and flag sets, constants
    -> one message at a time, built from that, on a small pool of
       NETLINK_GENERIC sockets (family id from CTRL_CMD_GETFAMILY):
         well-typed  (~60%) every op, attributes of the right type with random
                     and boundary values, pids of real tasks (self, init,
                     kernel threads, zombies and stopped children of ours,
                     tasks that are exiting), valid and invalid flag bits,
                     rsids/crids the kernel handed out, dump flag on do ops
         ill-typed   (~40%) wrong fixed lengths, unknown attribute types,
                     truncated nlmsg/genl/attribute headers, garbage and
                     deep nesting, nla_len past the end, nlmsg_len larger than
                     the datagram, random cmds and versions, several messages
                     in one datagram, up to ~128 KiB datagrams
    -> counts replies per errno (per op too), never trusts the kernel to
       answer: every receive has a timeout.

It must not raise: any Python exception is a bug of this script or a kernel
answer it cannot parse, and exits non-zero. Whether the kernel survived is
decided by the caller (the debug run reads dmesg and kmemleak). The family
may disappear and come back (rmmod/insmod cycles): ENOENT from genl makes it
look the family up again.
"""
import argparse
import errno
import os
import random
import select
import signal
import socket
import struct
import sys
import time

import yaml

NETLINK_GENERIC = 16
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_ECHO = 1, 2, 4, 8
NLM_F_ROOT, NLM_F_MATCH = 0x100, 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLMSG_ERROR, NLMSG_DONE = 2, 3
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_ATTR_VERSION = 1, 2, 3
CTRL_ATTR_MCAST_GROUPS = 7
CTRL_ATTR_MCAST_GRP_ID = 2
NLA_F_NESTED, NLA_F_NET_BYTEORDER = 0x8000, 0x4000
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 1, 10, 11
PF_KTHREAD = 0x00200000


def align4(n):
    return (n + 3) & ~3


def nla(atype, payload):
    payload = payload[:65531]  # an attribute's length is 16 bits
    return struct.pack("=HH", 4 + len(payload), atype) + payload + b"\0" * (align4(len(payload)) - len(payload))


def nlmsg(mtype, flags, seq, body, length=None):
    n = 16 + len(body) if length is None else length
    return struct.pack("=IHHII", n & 0xffffffff, mtype, flags, seq, 0) + body


def parse_attrs(buf):
    out, off = {}, 0
    while off + 4 <= len(buf):
        ln, t = struct.unpack_from("=HH", buf, off)
        if ln < 4 or off + ln > len(buf):
            break
        out.setdefault(t & 0x3fff, buf[off + 4:off + ln])
        off += align4(ln)
    return out


# ------------------------------------------------------------------ the spec
class Spec:
    """What the fuzzer needs from the YNL spec, with ids computed as YNL does."""

    def __init__(self, path):
        y = yaml.safe_load(open(path))
        self.name = y["name"]
        self.consts, self.enums, self.enum_names = {}, {}, {}
        for d in y.get("definitions", []):
            if d["type"] == "const":
                self.consts[d["name"]] = d["value"]
            elif d["type"] in ("enum", "flags"):
                start = d.get("value-start", 0)
                vals = []
                for i, e in enumerate(d.get("entries", [])):
                    v = e["value"] if isinstance(e, dict) and "value" in e else start + i
                    vals.append(v)
                if d["type"] == "flags":
                    vals = [1 << v for v in vals]
                self.enums[d["name"]] = (d["type"], vals)
                self.enum_names[d["name"]] = {(e["name"] if isinstance(e, dict) else e): v
                                              for e, v in zip(d.get("entries", []), vals)}
        self.sets = {}
        for s in y["attribute-sets"]:
            attrs, nxt = {}, 1
            for a in s["attributes"]:
                v = a.get("value", nxt)
                nxt = v + 1
                attrs[a["name"]] = dict(a, id=v)
            self.sets[s["name"]] = attrs
        self.ops = []
        nxt = 1
        for o in y["operations"]["list"]:
            v = o.get("value", nxt)
            nxt = v + 1
            kinds = [k for k in ("do", "dump") if k in o]
            req = []
            for k in kinds:
                r = (o[k] or {}).get("request") or {}
                req += [a for a in r.get("attributes", []) if a not in req]
            if "event" in o:  # the kernel never takes these; send their attributes anyway
                req += (o["event"] or {}).get("attributes", [])
            self.ops.append(dict(name=o["name"], id=v, kinds=kinds or ["event"],
                                 set=o.get("attribute-set", y["attribute-sets"][0]["name"]),
                                 req=req))
        self.mcgrps = [g["name"] for g in (y.get("mcast-groups") or {}).get("list", [])]

    def const(self, v):
        return self.consts.get(v, v) if isinstance(v, str) else v


# ------------------------------------------------------------------ tasks whose pids we use
class Tasks:
    """Real pids: ours (stopped, zombies, about to exit) and the guest's."""

    def __init__(self, rng):
        self.rng = rng
        self.stopped, self.zombies, self.exiting = [], [], []
        self.guest = [1]

    def _fork(self, what):
        pid = os.fork()
        if pid == 0:
            try:
                if what == "stop":
                    os.kill(os.getpid(), signal.SIGSTOP)
                    while True:
                        time.sleep(3600)
                elif what == "exit-soon":
                    time.sleep(self.rng.random() * 0.05)
            finally:
                os._exit(0)
        return pid

    def refresh(self):
        # Reap and replace, so pids come and go while messages name them.
        for p in self.zombies:
            try:
                os.waitpid(p, 0)
            except ChildProcessError:
                pass
        self.zombies = [self._fork("exit") for _ in range(2)]
        for p in self.exiting:
            try:
                os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                pass
        self.exiting = [self._fork("exit-soon") for _ in range(2)]
        if len(self.stopped) > 3 or (self.stopped and self.rng.random() < 0.3):
            p = self.stopped.pop(0)
            os.kill(p, signal.SIGKILL)
            os.waitpid(p, 0)
        while len(self.stopped) < 3:
            self.stopped.append(self._fork("stop"))
        self.guest = [int(d) for d in os.listdir("/proc") if d.isdigit()]

    def pick(self):
        r = self.rng.random()
        if r < 0.3 and self.stopped:
            return self.rng.choice(self.stopped)
        if r < 0.45 and self.zombies:
            return self.rng.choice(self.zombies)
        if r < 0.55 and self.exiting:
            return self.rng.choice(self.exiting)
        if r < 0.6:
            return self.rng.choice([os.getpid(), 1, 2, 0, 0x7fffffff, 0xffffffff, 4194304])
        return self.rng.choice(self.guest)  # kernel threads, init, the load's tasks

    def kill_all(self):
        for p in self.stopped + self.zombies + self.exiting:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(p, 0)
            except ChildProcessError:
                pass


# ------------------------------------------------------------------ sockets
def nl_socket(rcvbuf=None, cap_ack=True):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    s.bind((0, 0))
    try:
        s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        # Errors without the whole request echoed back: most sockets, for speed
        # (and so a tiny receive buffer still gets its acks).
        if cap_ack:
            s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
    except OSError:
        pass
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    return s


def recv_answers(s, want_seq, timeout):
    """Read until an NLMSG_ERROR/DONE for want_seq; returns errno (0 ok),
    'noreply' on timeout, plus the attributes of the last data reply."""
    end = time.monotonic() + timeout
    data = None
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return "noreply", data
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return "noreply", data
        try:
            buf = s.recv(1 << 17)
        except OSError as e:
            return errno.errorcode.get(e.errno, str(e.errno)), data
        off = 0
        while off + 16 <= len(buf):
            ln, typ, flags, seq, _ = struct.unpack_from("=IHHII", buf, off)
            if ln < 16 or off + ln > len(buf):
                break
            body = buf[off + 16:off + ln]
            off += align4(ln)
            if seq != want_seq:
                continue
            if typ == NLMSG_ERROR:
                (err,) = struct.unpack_from("=i", body, 0)
                return (errno.errorcode.get(-err, str(-err)) if err else 0), data
            if typ == NLMSG_DONE:
                return 0, data
            data = parse_attrs(body[4:])


def resolve(name):
    s = nl_socket()
    try:
        body = struct.pack("=BBH", CTRL_CMD_GETFAMILY, 1, 0) + nla(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0")
        s.send(nlmsg(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, 1, body))
        err, a = recv_answers(s, 1, 5)
        if err or not a or CTRL_ATTR_FAMILY_ID not in a:
            return None
        fid = struct.unpack("=H", a[CTRL_ATTR_FAMILY_ID][:2])[0]
        ver = struct.unpack("=I", a[CTRL_ATTR_VERSION][:4])[0] if CTRL_ATTR_VERSION in a else 1
        groups = []
        g = a.get(CTRL_ATTR_MCAST_GROUPS, b"")
        for sub in parse_attrs(g).values():
            ga = parse_attrs(sub)
            if CTRL_ATTR_MCAST_GRP_ID in ga:
                groups.append(struct.unpack("=I", ga[CTRL_ATTR_MCAST_GRP_ID][:4])[0])
        return fid, ver, groups
    finally:
        s.close()


# ------------------------------------------------------------------ message builders
INTERESTING32 = [0, 1, 2, 3, 7, 8, 15, 16, 255, 256, 4095, 4096, 65535, 65536, 0x7fffffff,
                 0x80000000, 0xfffffffe, 0xffffffff]
INTERESTING64 = INTERESTING32 + [1 << 32, (1 << 63) - 1, 1 << 63, (1 << 64) - 1,
                                 0xfffffffffffff000, 0x7ffffffff000, 0x400000, 16777216,
                                 16777217]


class Fuzzer:
    def __init__(self, spec, rng, tasks):
        self.spec, self.rng, self.tasks = spec, rng, tasks
        self.ids = {"rsid": [1, 2], "crid": [1, 2]}  # values the kernel handed out
        self.seq_hint = 0

    def rand_bytes(self, n):
        return self.rng.randbytes(n)

    def int_value(self, a, bits):
        r = self.rng
        name = a["name"]
        if name in ("pid", "tid", "tgid", "ppid"):
            return self.tasks.pick()
        if name in self.ids and r.random() < 0.7:
            return r.choice(self.ids[name]) + r.choice([0, 0, 0, 1, -1]) & ((1 << bits) - 1)
        if name == "seq" and r.random() < 0.5:
            return r.choice([0, 1, 2, self.seq_hint, self.seq_hint + 1])
        enum = a.get("enum")
        if enum in self.spec.enums and r.random() < 0.7:
            kind, vals = self.spec.enums[enum]
            if kind == "flags" or a.get("enum-as-flags"):
                allbits = 0
                for v in vals:
                    allbits |= v
                return r.choice([0, allbits, r.choice(vals) if vals else 0,
                                 (allbits << 1) | 1, r.getrandbits(bits)])
            return r.choice(vals + [max(vals, default=0) + 1, r.getrandbits(bits)])
        checks = a.get("checks") or {}
        cands = INTERESTING32 if bits == 32 else INTERESTING64
        lo, hi = self.spec.const(checks.get("min")), self.spec.const(checks.get("max"))
        extra = [v for v in (lo, hi) if isinstance(v, int)]
        extra += [v + d for v in extra for d in (-1, 1)]
        if name == "timeout-ms" and r.random() < 0.9:  # keep most streams short
            return r.choice([0, 1, 10, 100, 1000, 3000])
        v = r.choice(cands + extra) if r.random() < 0.7 else r.getrandbits(bits)
        return v & ((1 << bits) - 1)

    def attr_payload(self, a, depth):
        r = self.rng
        t = a.get("type", "binary")
        if t in ("u8", "s8"):
            return struct.pack("=B", r.getrandbits(8))
        if t in ("u16", "s16"):
            return struct.pack("=H", r.getrandbits(16))
        if t in ("u32", "s32"):
            return struct.pack("=I", self.int_value(a, 32))
        if t in ("u64", "s64", "uint", "sint"):
            return struct.pack("=Q", self.int_value(a, 64))
        if t == "flag":
            return b""
        if t == "pad":
            return self.rand_bytes(r.choice([0, 4, 8]))
        if t == "string":
            s = r.choice([b"", b"x86_64", b"/tmp", b"a" * r.randint(1, 300), self.rand_bytes(r.randint(1, 64))])
            return s + (b"\0" if r.random() < 0.8 else b"")
        if t == "nest":
            return self.attrs(a.get("nested-attributes"), depth + 1, well=True)
        # binary and anything newer
        n = r.choice([0, 1, 8, 216, 4095, 4096, r.randint(0, 512)] * 6 + [8192, r.randint(0, 65531), 65531])
        return self.rand_bytes(n)

    def attrs(self, setname, depth=0, well=True, names=None):
        r = self.rng
        aset = self.spec.sets.get(setname, {})
        out = b""
        if names is None:
            names = list(aset)
        if depth == 0:
            chosen = [n for n in names if r.random() < 0.75]
        else:  # a nest: a few of its attributes (the meta set has 40)
            chosen = r.sample(names, min(len(names), r.randint(0, 8 if depth < 3 else 2)))
        for n in chosen:
            a = aset.get(n)
            if not a:
                continue
            p = self.attr_payload(a, depth)
            if len(p) > 65531:
                p = p[:65531]
            t = a["id"] | (NLA_F_NESTED if a.get("type") == "nest" and r.random() < 0.8 else 0)
            out += nla(t, p)
            if r.random() < 0.05:  # duplicate
                out += nla(t, p)
        return out

    def ill_attrs(self, setname, depth=0):
        """Attributes that are wrong in one or more ways."""
        r = self.rng
        aset = self.spec.sets.get(setname, {})
        maxid = max([a["id"] for a in aset.values()] or [0])
        out = b""
        for _ in range(r.randint(1, 6)):
            k = r.randrange(9)
            a = r.choice(list(aset.values())) if aset else {"id": 1, "type": "u32", "name": "x"}
            if k == 0:   # wrong length for the type
                out += nla(a["id"], self.rand_bytes(r.choice([0, 1, 2, 3, 5, 6, 7, 9, 12, 16])))
            elif k == 1:  # unknown types
                out += nla(r.choice([0, maxid + 1, maxid + 2, 0x3fff, r.randrange(0x4000)]) |
                           r.choice([0, NLA_F_NESTED, NLA_F_NET_BYTEORDER]),
                           self.rand_bytes(r.choice([0, 4, 8, 13])))
            elif k == 2:  # nested garbage
                out += nla(a["id"] | NLA_F_NESTED, self.rand_bytes(r.randint(0, 200)))
            elif k == 3:  # deep nesting
                inner = self.rand_bytes(r.randint(0, 16))
                for _ in range(r.randint(2, 40)):
                    inner = nla(r.choice([a["id"], 1, r.randrange(1, maxid + 2)]) | NLA_F_NESTED, inner)
                out += inner
            elif k == 4:  # nla_len past the end / below the header
                p = self.rand_bytes(r.randint(0, 32))
                bad = r.choice([0, 1, 2, 3, len(p) + 5 + r.randint(0, 65000), 0xffff])
                out += struct.pack("=HH", bad, a["id"]) + p
            elif k == 5:  # truncated attribute header at the very end
                out += struct.pack("=HH", 8, a["id"])[:r.randint(1, 3)]
            elif k == 6:  # a nest whose set is right but its contents ill-typed
                nested = a.get("nested-attributes")
                out += nla(a["id"] | NLA_F_NESTED, self.ill_attrs(nested, depth + 1) if nested and depth < 3
                           else self.rand_bytes(16))
            elif k == 7:  # a big binary
                out += nla(a["id"], self.rand_bytes(r.choice([4096, 32768, 65531])))
            else:          # a well-typed attribute with the wrong byte order flag
                out += nla(a["id"] | NLA_F_NET_BYTEORDER, self.attr_payload(a, depth))
        return out

    def message(self, fam, ver, seq):
        """(bytes, op name, expects an answer), at most ~128 KiB"""
        m, name, answers = self._message(fam, ver, seq)
        return m[:1 << 17], name, answers

    def _message(self, fam, ver, seq):
        r = self.rng
        op = r.choice(self.spec.ops)
        cmd = op["id"]
        flags = NLM_F_REQUEST | NLM_F_ACK
        if "dump" in op["kinds"] and ("do" not in op["kinds"] or r.random() < 0.5):
            flags |= NLM_F_DUMP
        elif r.random() < 0.03:
            flags |= NLM_F_DUMP
        well = r.random() < 0.6
        gver = ver if well or r.random() < 0.5 else r.getrandbits(8)
        if well:
            body = self.attrs(op["set"], names=op["req"] if r.random() < 0.9 else None)
            return nlmsg(fam, flags, seq, struct.pack("=BBH", cmd, gver, 0) + body), op["name"], True
        k = r.randrange(8)
        if k == 0:    # random command, well-formed body
            cmd = r.choice([0, max(o["id"] for o in self.spec.ops) + 1, 0xff, r.getrandbits(8)])
            body = self.attrs(op["set"])
            return (nlmsg(fam, flags, seq, struct.pack("=BBH", cmd, gver, 0) + body),
                    "cmd-%s" % (cmd if cmd in (0, 0xff) else "random"), True)
        if k == 1:    # truncated genl header
            body = struct.pack("=BBH", cmd, gver, 0)[:r.randint(0, 3)]
            return nlmsg(fam, flags, seq, body), op["name"] + "/short-genlhdr", True
        if k == 2:    # nlmsg_len lies (larger than the datagram, or below the header)
            body = struct.pack("=BBH", cmd, gver, 0) + self.attrs(op["set"], names=op["req"])
            ln = r.choice([0, 1, 15, 17, 16 + len(body) + r.randint(1, 1 << 16), 0xffffffff])
            return nlmsg(fam, flags, seq, body, length=ln), op["name"] + "/bad-nlmsg-len", ln >= 16 and ln <= 16 + len(body)
        if k == 3:    # several messages in one datagram, some broken
            out = b""
            for i in range(r.randint(2, 5)):
                o = r.choice(self.spec.ops)
                b = struct.pack("=BBH", o["id"], gver, 0) + (self.attrs(o["set"], names=o["req"])
                                                            if r.random() < 0.5 else self.ill_attrs(o["set"]))
                m = nlmsg(fam, flags, seq, b)
                out += m + b"\0" * (align4(len(m)) - len(m))
            return out, "batch", True
        if k == 4:    # a truncated datagram (shorter than a nlmsghdr)
            return nlmsg(fam, flags, seq, b"")[:r.randint(0, 15)], "short-nlmsghdr", False
        if k == 5:    # a big datagram of many attributes (up to ~128 KiB)
            body = b"".join(self.attrs(op["set"], names=op["req"]) + self.ill_attrs(op["set"])
                            for _ in range(r.randint(1, 3)))
            body += nla(1, self.rand_bytes(65531)) * r.randint(0, 1)
            return nlmsg(fam, flags, seq, struct.pack("=BBH", cmd, gver, 0) + body), op["name"] + "/big", True
        if k == 6:    # wrong family: the controller, or a family id nobody has
            t = r.choice([GENL_ID_CTRL, fam + 1, 0xffff, NLMSG_ERROR, NLMSG_DONE])
            body = struct.pack("=BBH", r.getrandbits(8), 1, 0) + self.ill_attrs(op["set"])
            return nlmsg(t, flags, seq, body), "other-type", t >= GENL_ID_CTRL
        body = self.ill_attrs(op["set"])
        if r.random() < 0.5:
            body = self.attrs(op["set"], names=op["req"]) + body
        return nlmsg(fam, flags, seq, struct.pack("=BBH", cmd, gver, 0) + body), op["name"] + "/ill", True

    def learn(self, op, attrs):
        if not attrs:
            return
        for name, key in (("rsid", "rsid"), ("crid", "crid")):
            a = self.spec.sets.get(self.spec.ops[0]["set"], {}).get(name)
            if a and a["id"] in attrs:
                p = attrs[a["id"]]
                v = struct.unpack("=Q", p[:8])[0] if len(p) >= 8 else struct.unpack("=I", p[:4])[0] if len(p) >= 4 else 0
                self.ids[key] = (self.ids[key] + [v])[-16:]


def crc32c(crc, data, _t=[]):
    if not _t:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _t.append(c)
    crc ^= 0xffffffff
    for b in data:
        crc = _t[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc ^ 0xffffffff


class Session:
    """A restart session that gets past the first checks: restart-begin on one of
    our stopped children, then an image built from its /proc/PID/maps (header,
    task, mm, a vma equal to a private writable mapping, a page of random data
    in it, trailer) and a commit with the right counts and checksum, each step
    mutated now and then. Reaches the staging, validation and commit paths the
    random messages never do."""

    def __init__(self, spec, rng):
        self.spec, self.rng = spec, rng
        ck = spec.sets.get(spec.ops[0]["set"], {})
        self.a = {n: v["id"] for n, v in ck.items()}
        self.m = {n: v["id"] for n, v in spec.sets.get("meta", {}).items()}
        self.ops = {o["name"]: o["id"] for o in spec.ops}
        self.rt = spec.enum_names.get("record-type", {})

    def meta(self, fields):
        out = b""
        for name, v in fields:
            if name not in self.m:
                continue
            if isinstance(v, bytes):
                out += nla(self.m[name], v)
            elif isinstance(v, tuple):
                out += nla(self.m[name], struct.pack("=Q", v[0]))
            else:
                out += nla(self.m[name], struct.pack("=I", v))
        return out

    def messages(self, pid, rsid, version):
        """Yields (cmd, body) for records and the commit."""
        r = self.rng
        try:
            maps = open("/proc/%d/maps" % pid).read().splitlines()
        except OSError:
            return
        rw = [l for l in maps if l.split()[1].startswith("rw") and l.split()[1][3] == "p"]
        if not rw:
            return
        lo, hi = (int(x, 16) for x in r.choice(rw).split()[0].split("-"))
        page = r.randbytes(4096)
        recs = [  # (type, id, parent, meta, data)
            (self.rt.get("header", 1), 1, 0, self.meta([("arch", b"x86_64\0"), ("page-size", 4096),
                                 ("release", os.uname().release.encode() + b"\0"), ("time-ns", (1,))]), b""),
            (self.rt.get("task", 2), 2, 0, self.meta([("pid", pid), ("tgid", pid), ("ppid", os.getpid()), ("comm", b"python3\0"),
                                 ("uid", 0), ("gid", 0), ("euid", 0), ("egid", 0)]), b""),
            (self.rt.get("mm", 4), 3, 2, self.meta([(f, (0,)) for f in ("start-code", "end-code", "start-data", "end-data",
                                                    "start-brk", "brk", "start-stack", "arg-start",
                                                    "arg-end", "env-start", "env-end")]), b""),
            (self.rt.get("vma", 5), 4, 3, self.meta([("start", (lo,)), ("end", (hi,)), ("vm-flags", (0x3,)), ("pgoff", (0,))]), b""),
            (self.rt.get("pages", 6), 5, 4, self.meta([("addr", (lo,)), ("nr-pages", 1)]), page),
            (self.rt.get("trailer", 8), 6, 0, self.meta([("nr-threads", 0), ("nr-vmas", 1), ("nr-pages-total", (1,)), ("nr-files", 0)]), b""),
        ]
        seq, crc, nbytes = 0, 0, 0
        for typ, rid, parent, meta, data in recs:
            if r.random() < 0.05:
                typ = r.getrandbits(4)
            if r.random() < 0.05:
                meta = meta[:r.randrange(len(meta) + 1)]
            crc = crc32c(crc, meta + data)
            nbytes += len(meta) + len(data)
            off = 0
            frag = r.choice([len(data), 1000, 4000]) or 1
            while True:
                chunk = data[off:off + frag]
                b = (nla(self.a["rsid"], struct.pack("=I", rsid)) + nla(self.a["seq"], struct.pack("=I", seq)) +
                     nla(self.a["rec-type"], struct.pack("=I", typ)) + nla(self.a["rec-id"], struct.pack("=I", rid)) +
                     nla(self.a["rec-parent"], struct.pack("=I", parent)) +
                     nla(self.a["data-len"], struct.pack("=Q", len(data))) +
                     nla(self.a["data-offset"], struct.pack("=Q", off)))
                if off == 0:
                    b += nla(self.a["meta"] | NLA_F_NESTED, meta)
                if chunk:
                    b += nla(self.a["data"], chunk)
                yield self.ops["restart-record"], b
                seq += 1
                off += len(chunk)
                if off >= len(data):
                    break
        if r.random() < 0.1:
            crc ^= 1
        yield self.ops["restart-commit"], (nla(self.a["rsid"], struct.pack("=I", rsid)) +
                                           nla(self.a["seq"], struct.pack("=I", seq)) +
                                           nla(self.a["records"], struct.pack("=Q", len(recs))) +
                                           nla(self.a["bytes"], struct.pack("=Q", nbytes)) +
                                           nla(self.a["checksum"], struct.pack("=I", crc)))


def cmd_fuzz(args):
    rng = random.Random(args.seed)
    spec = Spec(args.spec)
    tasks = Tasks(rng)
    fz = Fuzzer(spec, rng, tasks)
    needed = {"restart-begin", "restart-record", "restart-commit"}
    sess = Session(spec, rng) if needed <= {o["name"] for o in spec.ops} else None
    sessions = {}
    found = None
    for _ in range(100):
        found = resolve(spec.name)
        if found:
            break
        time.sleep(0.1)
    if not found:
        print("fuzz-family: family %r not registered" % spec.name)
        return 1
    fam, ver, groups = found
    socks = [nl_socket() for _ in range(4)]
    counts, per_op = {}, {}
    sent = resolves = reopened = 0
    last_resolve = 0
    start = time.monotonic()
    tasks.refresh()
    # "N OP" of the message about to be sent, rewritten in place: a watcher
    # tells a fuzzer stuck in the kernel from a slow one, and by what.
    prog = os.open(args.progress, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if args.progress else None

    def progress(op):
        if prog is not None:
            os.pwrite(prog, ("%d %s" % (sent, op)).encode().ljust(63) + b"\n", 0)
    try:
        while sent < args.count:
            if args.seconds_max and time.monotonic() - start > args.seconds_max:
                print("fuzz-family: stopped at the time limit (%d s)" % args.seconds_max)
                break
            if sent % 200 == 0:
                tasks.refresh()
            if rng.random() < 0.01:   # a socket goes away with whatever it had open
                i = rng.randrange(len(socks))
                socks[i].close()
                socks[i] = nl_socket(rcvbuf=rng.choice([None] * 6 + [1024, 4096]), cap_ack=rng.random() < 0.8)
                if groups and rng.random() < 0.5:
                    try:
                        socks[i].setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, rng.choice(groups))
                    except OSError:
                        pass
                reopened += 1
            s = rng.choice(socks)
            seq = sent + 1
            if sess and rng.random() < 0.01 and tasks.stopped:
                # a whole restart session, counted per message
                pid = rng.choice(tasks.stopped)
                progress("restart-session")
                body = nla(sess.a["pid"], struct.pack("=I", pid))
                try:
                    s.send(nlmsg(fam, NLM_F_REQUEST | NLM_F_ACK, seq, struct.pack("=BBH", sess.ops["restart-begin"], ver, 0) + body))
                    res, attrs = recv_answers(s, seq, 1)
                except OSError as e:
                    res, attrs = errno.errorcode.get(e.errno, str(e.errno)), None
                sent += 1
                key = "begin:" + str(res or "OK")
                sessions[key] = sessions.get(key, 0) + 1
                if res == 0 and attrs and sess.a["rsid"] in attrs:
                    rsid = struct.unpack("=I", attrs[sess.a["rsid"]][:4])[0]
                    for cmd, body in sess.messages(pid, rsid, ver):
                        seq = sent + 1
                        try:
                            s.send(nlmsg(fam, NLM_F_REQUEST | NLM_F_ACK, seq, struct.pack("=BBH", cmd, ver, 0) + body))
                            res, attrs = recv_answers(s, seq, 1)
                        except OSError as e:
                            res, attrs = errno.errorcode.get(e.errno, str(e.errno)), None
                        sent += 1
                        key = ("commit:" if cmd == sess.ops["restart-commit"] else "record:") + str(res or "OK")
                        sessions[key] = sessions.get(key, 0) + 1
                        if res:
                            break
                continue
            msg, opname, answers = fz.message(fam, ver, seq)
            progress(opname)
            try:
                s.send(msg)
                res, attrs = recv_answers(s, seq, 0.3 if answers else 0)
            except OSError as e:
                res, attrs = errno.errorcode.get(e.errno, str(e.errno)), None
            if res == "noreply" and not answers:
                res = "noreply(expected)"
            sent += 1
            fz.learn(opname, attrs)
            counts[res] = counts.get(res, 0) + 1
            po = per_op.setdefault(opname.split("/")[0], {})
            po[res] = po.get(res, 0) + 1
            # The family went away (rmmod) or came back with another id.
            if res == "ENOENT" and time.monotonic() - last_resolve > 1:
                last_resolve = time.monotonic()
                f = resolve(spec.name)
                resolves += 1
                if f:
                    fam, ver, groups = f
            if sent % 1000 == 0:
                print("fuzz-family: %d sent (%.0f s)" % (sent, time.monotonic() - start), flush=True)
    finally:
        tasks.kill_all()
        for s in socks:
            s.close()
    el = time.monotonic() - start
    print("fuzz-family: uid=%d sent=%d in %.0f s (%.0f/s), family lookups %d, sockets reopened %d"
          % (os.getuid(), sent, el, sent / el if el else 0, resolves, reopened))
    print("fuzz-family: per errno: " + " ".join("%s=%d" % (k if k else "OK", v)
                                               for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))
    for op in sorted(per_op):
        print("fuzz-family:   %-22s " % op + " ".join("%s=%d" % (k if k else "OK", v)
                                                     for k, v in sorted(per_op[op].items(), key=lambda kv: -kv[1])))
    print("fuzz-family: restart sessions: " + " ".join("%s=%d" % (k, v)
                                                      for k, v in sorted(sessions.items(), key=str)))
    if sent < args.count:
        print("fuzz-family: FAIL: %d of %d messages sent" % (sent, args.count))
        return 1
    print("fuzz-family: done")
    return 0


def cmd_churn(args):
    """Register a sink, sometimes stall or unregister it, close it; repeat."""
    rng = random.Random(args.seed)
    spec = Spec(args.spec)
    ops = {o["name"]: o["id"] for o in spec.ops}
    reg, unreg = ops.get("sink-register"), ops.get("sink-unregister")
    if reg is None:
        print("churn: the spec has no sink-register operation")
        return 1
    counts = {}
    end = time.monotonic() + args.seconds
    n = 0
    found = None
    while time.monotonic() < end and not (args.stop_file and os.path.exists(args.stop_file)):
        if not found:
            found = resolve(spec.name)
            if not found:
                time.sleep(0.05)
                continue
        fam, ver, _ = found
        s = nl_socket(rcvbuf=rng.choice([None, 1024, 65536]))
        n += 1
        s.send(nlmsg(fam, NLM_F_REQUEST | NLM_F_ACK, n, struct.pack("=BBH", reg, ver, 0)))
        res, _ = recv_answers(s, n, 3)
        counts[res] = counts.get(res, 0) + 1
        if res == "ENOENT":
            found = None
        if res == 0:
            r = rng.random()
            if r < 0.3:    # a sink that never reads: streams stall on it
                time.sleep(rng.random() * 0.5)
            elif r < 0.6:  # a sink that reads a while
                stop = time.monotonic() + rng.random() * 0.3
                while time.monotonic() < stop:
                    if select.select([s], [], [], 0.05)[0]:
                        try:
                            s.recv(1 << 17)
                        except OSError:
                            pass
            if unreg is not None and rng.random() < 0.3:
                n += 1
                s.send(nlmsg(fam, NLM_F_REQUEST | NLM_F_ACK, n, struct.pack("=BBH", unreg, ver, 0)))
        s.close()
        time.sleep(rng.random() * 0.05)
    print("churn: %d registrations: " % n + " ".join("%s=%d" % (k if k else "OK", v) for k, v in sorted(counts.items(), key=str)))
    print("churn: done")
    return 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["fuzz", "churn"])
    ap.add_argument("--spec", default=os.path.join(here, "../../kernel-patch/Documentation/netlink/specs/ckpt.yaml"))
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--seconds", type=float, default=1e9, help="churn: at most this long")
    ap.add_argument("--stop-file", help="churn: stop when this file exists")
    ap.add_argument("--seconds-max", type=float, default=0)
    ap.add_argument("--progress", help="fuzz: keep 'SENT OP' of the current message in this file")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    print("%s: seed %d" % (args.mode, args.seed), flush=True)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    return cmd_fuzz(args) if args.mode == "fuzz" else cmd_churn(args)


if __name__ == "__main__":
    sys.exit(main())
