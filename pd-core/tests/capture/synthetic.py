#!/usr/bin/env python3
"""Write the hand-specified (synthetic) DHCPv6 goldens as annotated hex.

usage: synthetic.py [OUTDIR]   (default: ../golden next to this script)

An encoder independent of pd-core (plain struct packing), so the Rust decoder
is checked against bytes it did not produce. Each file lists one option per
line with a comment; the Rust tests ignore '#' comments and whitespace.
"""
import ipaddress
import os
import struct
import sys

CLIENT = bytes.fromhex("00010001" "2a2b2c2d" "02000000000a")   # DUID-LLT, ether, t, MAC
SERVER = bytes.fromhex("00030001" "02000000000b")               # DUID-LL, ether, MAC
PFX = "2001:db8:12:3400::"


def a(s):
    return ipaddress.IPv6Address(s).packed


class Opt:
    def __init__(self, code, fixed=b"", comment="", children=()):
        self.code, self.fixed, self.comment, self.children = code, fixed, comment, children

    def body(self):
        return self.fixed + b"".join(c.bytes() for c in self.children)

    def bytes(self):
        b = self.body()
        return struct.pack(">HH", self.code, len(b)) + b

    def lines(self, depth):
        ind = "  " * depth
        b = self.body()
        head = struct.pack(">HH", self.code, len(b)).hex()
        out = [f"{ind}{head} {self.fixed.hex()}".rstrip() + f"  # {self.comment} (code {self.code}, len {len(b)})"]
        for c in self.children:
            out += c.lines(depth + 1)
        return out


def client_id():
    return Opt(1, CLIENT, "Client ID: DUID-LLT 1, 0x2a2b2c2d, 02:00:00:00:00:0a")


def server_id():
    return Opt(2, SERVER, "Server ID: DUID-LL 1, 02:00:00:00:00:0b")


def elapsed(v):
    return Opt(8, struct.pack(">H", v), f"Elapsed Time {v}")


def oro(*codes):
    return Opt(6, b"".join(struct.pack(">H", c) for c in codes), f"ORO {list(codes)}")


def status(code, msg):
    return Opt(13, struct.pack(">H", code) + msg.encode(), f"Status Code {code} {msg!r}")


def iaprefix(pref, valid, plen, prefix, children=()):
    fixed = struct.pack(">IIB", pref, valid, plen) + a(prefix)
    return Opt(26, fixed, f"IAPREFIX {prefix}/{plen} preferred {pref} valid {valid}", children)


def ia_pd(iaid, t1, t2, children):
    return Opt(25, struct.pack(">III", iaid, t1, t2), f"IA_PD iaid {iaid} T1 {t1} T2 {t2}", children)


class Msg:
    def __init__(self, mtype, xid, name, opts):
        self.mtype, self.xid, self.name, self.opts = mtype, xid, name, opts

    def bytes(self):
        return bytes([self.mtype]) + bytes.fromhex(self.xid) + b"".join(o.bytes() for o in self.opts)

    def lines(self, depth=0):
        ind = "  " * depth
        out = [f"{ind}{self.mtype:02x} {self.xid}  # {self.name}, xid {self.xid}"]
        for o in self.opts:
            out += o.lines(depth + 1)
        return out


class Relay:
    def __init__(self, mtype, hop, link, peer, opts_before, inner, opts_after):
        self.mtype, self.hop, self.link, self.peer = mtype, hop, link, peer
        self.before, self.inner, self.after = opts_before, inner, opts_after

    def bytes(self):
        ib = self.inner.bytes()
        return (bytes([self.mtype, self.hop]) + a(self.link) + a(self.peer)
                + b"".join(o.bytes() for o in self.before)
                + struct.pack(">HH", 9, len(ib)) + ib
                + b"".join(o.bytes() for o in self.after))

    def lines(self, depth=0):
        ind = "  " * depth
        kind = "Relay-Forw" if self.mtype == 12 else "Relay-Repl"
        out = [f"{ind}{self.mtype:02x} {self.hop:02x}  # {kind}, hop-count {self.hop}",
               f"{ind}{a(self.link).hex()}  # link-address {self.link}",
               f"{ind}{a(self.peer).hex()}  # peer-address {self.peer}"]
        for o in self.before:
            out += o.lines(depth + 1)
        ib = self.inner.bytes()
        out.append(f"{ind}  {struct.pack('>HH', 9, len(ib)).hex()}  # Relay Message (code 9, len {len(ib)})")
        out += self.inner.lines(depth + 2)
        for o in self.after:
            out += o.lines(depth + 1)
        return out


SOLICIT = Msg(1, "0a0b0c", "Solicit", [
    client_id(), oro(23, 82), elapsed(0),
    Opt(14, b"", "Rapid Commit"), Opt(20, b"", "Reconfigure Accept"),
    ia_pd(1, 0, 0, [iaprefix(0, 0, 56, "::")]),
])
ADVERTISE = Msg(2, "0a0b0c", "Advertise", [
    client_id(), server_id(), Opt(7, b"\xff", "Preference 255"),
    Opt(23, a("2001:db8:ffff::53") + a("2001:db8:ffff::54"), "DNS servers 2001:db8:ffff::53, ::54"),
    ia_pd(1, 3600, 5400, [iaprefix(7200, 10800, 56, PFX)]),
    Opt(82, struct.pack(">I", 3600), "SOL_MAX_RT 3600"),
])

FILES = {
    "solicit-hint": SOLICIT,
    "advertise": ADVERTISE,
    "request": Msg(3, "102030", "Request", [
        client_id(), server_id(), oro(23), elapsed(100),
        ia_pd(1, 0, 0, [iaprefix(0, 0, 56, PFX)]),
    ]),
    "reply": Msg(7, "102030", "Reply", [
        client_id(), server_id(),
        Opt(23, a("2001:db8:ffff::53"), "DNS servers 2001:db8:ffff::53"),
        ia_pd(1, 3600, 5400, [iaprefix(7200, 10800, 56, PFX, [
            Opt(67, bytes([64, 0]), "PD-Exclude /64, subnet id 0 (RFC 6603), kept raw"),
        ])]),
    ]),
    "reply-noprefixavail": Msg(7, "405060", "Reply", [
        client_id(), server_id(),
        ia_pd(1, 0, 0, [status(6, "no prefix available")]),
    ]),
    "renew": Msg(5, "708090", "Renew", [
        client_id(), server_id(), oro(23), elapsed(0),
        ia_pd(1, 3600, 5400, [iaprefix(7200, 10800, 56, PFX)]),
    ]),
    "rebind": Msg(6, "a0b0c0", "Rebind", [
        client_id(), oro(23), elapsed(250),
        ia_pd(1, 3600, 5400, [iaprefix(7200, 10800, 56, PFX)]),
    ]),
    "release": Msg(8, "c0d0e0", "Release", [
        client_id(), server_id(), elapsed(0),
        ia_pd(1, 0, 0, [iaprefix(0, 0, 56, PFX)]),
    ]),
    "information-request": Msg(11, "112233", "Information-Request", [
        client_id(), oro(23, 83), elapsed(0),
    ]),
    "relay-forw-2": Relay(12, 1, "2001:db8:b::1", "2001:db8:a::1", [], Relay(
        12, 0, "2001:db8:a::1", "fe80::ff:fe00:a", [], SOLICIT, [
            Opt(18, b"ge-0/0/1", "Interface-Id 'ge-0/0/1'"),
            Opt(37, struct.pack(">I", 9) + b"circuit-7", "Remote-Id enterprise 9 'circuit-7' (RFC 4649), kept raw"),
        ]), [Opt(18, b"eth1", "Interface-Id 'eth1'")]),
    "relay-repl-2": Relay(13, 1, "2001:db8:b::1", "2001:db8:a::1", [], Relay(
        13, 0, "2001:db8:a::1", "fe80::ff:fe00:a", [], ADVERTISE, [
            Opt(18, b"ge-0/0/1", "Interface-Id 'ge-0/0/1'"),
        ]), [Opt(18, b"eth1", "Interface-Id 'eth1'")]),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "golden")
    for name, m in FILES.items():
        with open(os.path.join(out, f"{name}.hex"), "w") as f:
            f.write(f"# synthetic golden written by tests/capture/synthetic.py: {name}, "
                    f"{len(m.bytes())} octets\n")
            f.write("\n".join(m.lines()) + "\n")
        # Self-check: the annotated text is exactly the packed bytes.
        text = open(os.path.join(out, f"{name}.hex")).read()
        hexs = "".join(l.split("#")[0].split() and "".join(l.split("#")[0].split()) or "" for l in text.splitlines())
        assert bytes.fromhex(hexs) == m.bytes(), name
        print(f"{name}: {len(m.bytes())} octets")


if __name__ == "__main__":
    main()
