#!/usr/bin/env python3
"""Write the committed seed corpora under fuzz/corpus/ (run from anywhere).

- wire_decode: every pd-core/tests/golden/*.hex as binary, plus a few
  hand-made edge cases (relay nesting at the hop limit, short options).
- ra_roundtrip: the RA/RS goldens of pd-core/tests/ra_codec.rs.
- server_engine: scripts in the server_engine frame format
  ([ctl][src][len u16 BE][payload]...) built from the goldens: full
  exchanges direct, relayed and from dhclient (with Kea's server DUID
  swapped for ours), several clients, time jumps past the lifetimes.
"""
import pathlib
import re
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "pd-core" / "tests" / "golden"
CORPUS = ROOT / "fuzz" / "corpus"


def golden(name):
    text = (GOLDEN / f"{name}.hex").read_text()
    hexs = "".join("".join(l.split("#", 1)[0].split()) for l in text.splitlines())
    return bytes.fromhex(hexs)


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def h(*parts):
    return bytes.fromhex("".join(parts).replace(" ", ""))


# --- wire_decode -------------------------------------------------------------
names = sorted(p.stem for p in GOLDEN.glob("*.hex"))
for n in names:
    write("wire_decode", f"golden-{n}", golden(n))

solicit = golden("solicit-hint")


def relay(inner, hop):
    return (bytes([12, hop]) + bytes(16) + bytes.fromhex("fe80000000000000000000fffe00000a")
            + struct.pack(">HH", 9, len(inner)) + inner)


nested = solicit
for i in range(8):
    nested = relay(nested, i)
write("wire_decode", "relay-8-hops", nested)
write("wire_decode", "relay-9-hops", relay(nested, 8))
write("wire_decode", "relay-no-relay-msg", bytes([12, 0]) + bytes(32) + h("0012 0004 65746831"))
# Solicit with a 1-byte Status Code and an option running past the end.
write("wire_decode", "short-status", h("01 010203 000d 0001 00"))
write("wire_decode", "overrun", h("01 010203 0001 00ff 0003 0001"))

# --- ra_roundtrip ------------------------------------------------------------
FULL_RA = h(
    "86 00 0000 40 c8 0708 00007530 000003e8",
    "01 01 525400123456",
    "05 01 0000 000005dc",
    "03 04 40 c0 00015180 00003840 00000000 20010db8000100020000000000000000",
    "03 04 30 80 ffffffff ffffffff 00000000 fd000001000000000000000000000000",
    "18 01 00 18 00000258",
    "18 02 28 08 000004b0 20010db8ff000000",
    "18 03 50 00 ffffffff 20010db8000100020003000000000000",
    "19 05 0000 00000e10 20010db8000000000000000000000053 20010db8000000000000000000000035",
)
RA_HDR = "86 00 0000 40 00 0708 00000000 00000000"
write("ra_roundtrip", "full-ra", FULL_RA)
write("ra_roundtrip", "minimal-ra", h("86 00 0000 00 00 0000 00000000 00000000"))
write("ra_roundtrip", "unknown-options", h(
    RA_HDR, "02 01 000000000001", "05 01 0000 00000500",
    "1f 02 0000 00000e10 0365 7861 6d70 6c65", "c8 01 ffffffffffff"))
write("ra_roundtrip", "duplicates", h(
    RA_HDR, "01 02 0102030405060708090a0b0c0d0e", "01 01 525400123456",
    "01 01 020000000001", "05 01 0000 000005dc", "05 01 0000 00000500"))
write("ra_roundtrip", "rs-lladdr", h("85 00 0000 00000000 01 01 525400123456"))
write("ra_roundtrip", "rs-bare", h("85 00 0000 00000000"))
write("ra_roundtrip", "rs-kernel", h("8500 71b5 0000 0000 0101 5254 0012 3456"))

# --- server_engine -----------------------------------------------------------
OURS = bytes.fromhex("0003000102000000000b")
KEA = bytes.fromhex("00030001020000000001")


def frame(payload, dt=0, src=1, jump=False, timeout=False, reload=False):
    ctl = (dt & 0x1f) | (0x20 if jump else 0) | (0x40 if timeout else 0) | (0x80 if reload else 0)
    return bytes([ctl, src]) + struct.pack(">H", len(payload)) + payload


def other_client(msg, n):
    """The synthetic client's DUID-LLT with another link-layer address."""
    return msg.replace(bytes.fromhex("02000000000a"), bytes([2, 0, 0, 0, 0, n]))


seq = [golden(n) for n in ("solicit-hint", "request", "renew", "rebind", "release")]
write("server_engine", "exchange-direct", b"".join(
    frame(m, dt=i) for i, m in enumerate(seq)))
write("server_engine", "exchange-expire", b"".join([
    frame(seq[0]), frame(seq[1]), frame(seq[2], dt=10, timeout=True),
    frame(seq[3], jump=True, timeout=True), frame(seq[1], reload=True)]))
write("server_engine", "many-clients", b"".join(
    frame(other_client(golden("request"), n), src=n, dt=1) for n in range(1, 20)))
write("server_engine", "relayed", b"".join([
    frame(golden("relay-forw-2"), src=0x80),
    frame(golden("information-request"), src=3),
    frame(golden("relay-forw-2"), src=0x81, dt=31, timeout=True)]))
dh = [golden(n).replace(KEA, OURS) for n in ("dhclient-solicit", "dhclient-request",
                                             "dhclient-release")]
write("server_engine", "dhclient", b"".join(
    frame(m, src=2, dt=2) for m in dh) + frame(dh[1], src=0x42))
write("server_engine", "eth2-and-global", b"".join([
    frame(seq[1], src=0x45), frame(other_client(seq[1], 7), src=0xc7),
    frame(seq[2], src=0x45, dt=20, timeout=True)]))

# --- client_engine -----------------------------------------------------------
# Frames [time][op][len u16 BE][payload]: time bits 0-6 in 100 ms (bit 7:
# 60 s) units; op 1 = jump to the next timeout, 2 = timeout now, 3 = release,
# 4 = restart from the saved lease, 8 = patch in our last xid.
JUMP, TIMEOUT, RELEASE, RESTART, XID = 1, 2, 3, 4, 8


def cframe(payload=b"", time=0, op=0):
    return bytes([time, op]) + struct.pack(">H", len(payload)) + payload


adv, rep = golden("advertise"), golden("reply")
rapid = rep + h("000e 0000")  # the same Reply with Rapid Commit
write("client_engine", "full-life", b"".join([
    cframe(adv, op=JUMP | XID),                # Solicit sent; Advertise in the first RT
    cframe(rep, op=JUMP | XID),                # RT over: Request; its Reply
    cframe(time=0x80 | 60, op=JUMP),           # T1 (3600 s): Renew
    cframe(rep, time=3, op=XID),               # extended
    cframe(time=0x80 | 90, op=JUMP),           # T2: Rebind
    cframe(time=0x80 | 127, op=JUMP),          # lifetimes run out
    cframe(adv, op=JUMP | XID),
    cframe(rep, op=JUMP | XID),
    cframe(rep, time=1, op=RELEASE | XID),     # Release and its Reply
]))
write("client_engine", "rapid-commit", cframe(rapid, time=12, op=JUMP | XID)
      + cframe(time=0x80 | 60, op=JUMP) + cframe(rep, op=XID))
write("client_engine", "restart", b"".join([
    cframe(adv, op=JUMP | XID), cframe(rep, op=JUMP | XID),
    cframe(time=0x80 | 10, op=RESTART), cframe(rep, op=XID),
    cframe(time=0x80 | 127, op=RESTART | JUMP)]))
write("client_engine", "no-prefix", b"".join([
    cframe(golden("reply-noprefixavail"), op=JUMP | XID),
    cframe(adv.replace(b"\x00\x00\x1c\x20", b"\xff\xff\xff\xff"), op=JUMP | XID),
    cframe(rep, op=JUMP | XID)]))
