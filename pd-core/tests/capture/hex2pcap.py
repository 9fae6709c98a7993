#!/usr/bin/env python3
"""Wrap golden .hex payloads in Ethernet/IPv6/UDP frames in one pcap, so an
independent dissector (tcpdump -vv -r) can read them.

usage: hex2pcap.py OUT.pcap FILE.hex...
Client messages go fe80::a:546 -> ff02::1:2:547, server and relay messages
port 547 -> 546/547. UDP checksums are left zero (tcpdump notes it).
"""
import struct
import sys


def payload(path):
    text = open(path).read()
    return bytes.fromhex("".join("".join(l.split("#")[0].split()) for l in text.splitlines()))


def frame(p):
    client = p[0] in (1, 3, 4, 5, 6, 8, 9, 11)
    sport, dport = (546, 547) if client else (547, 547 if p[0] in (12, 13) else 546)
    src = bytes.fromhex("fe80000000000000000000fffe00000a")
    dst = bytes.fromhex("ff020000000000000000000000010002")
    udp = struct.pack(">HHHH", sport, dport, 8 + len(p), 0) + p
    ip = struct.pack(">IHBB", 0x60000000, len(udp), 17, 64) + src + dst + udp
    return b"\x33\x33\x00\x01\x00\x02" + b"\x02\x00\x00\x00\x00\x0a" + b"\x86\xdd" + ip


def main():
    out = open(sys.argv[1], "wb")
    out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, path in enumerate(sys.argv[2:]):
        f = frame(payload(path))
        out.write(struct.pack("<IIII", i, 0, len(f), len(f)) + f)


if __name__ == "__main__":
    main()
