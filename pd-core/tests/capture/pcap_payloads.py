#!/usr/bin/env python3
"""Extract DHCPv6 UDP payloads from a pcap (Ethernet/IPv6/UDP) into hex goldens.

usage: pcap_payloads.py CAPTURE.pcap OUTDIR

Writes one file per message kind, the first of each kind in capture order:
dhclient-solicit.hex, kea-advertise.hex, dhclient-request.hex, kea-reply.hex,
dhclient-release.hex, kea-reply-release.hex. Format: '#' comment lines, then
the payload as lowercase hex, 16 octets per line.
"""
import struct
import sys

NAMES = {1: "dhclient-solicit", 2: "kea-advertise", 3: "dhclient-request",
         7: "kea-reply", 8: "dhclient-release"}


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian = ">"
    else:
        sys.exit("not a classic pcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        sys.exit(f"link type {linktype} is not Ethernet")
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield data[off:off + incl]
        off += incl


def udp_payload(frame):
    if len(frame) < 14 + 40 + 8 or frame[12:14] != b"\x86\xdd":
        return None
    ip = frame[14:]
    if ip[6] != 17:  # next header UDP, no extension headers expected here
        return None
    src, dst = ip[8:24], ip[24:40]
    udp = ip[40:]
    sport, dport, ulen = struct.unpack(">HHH", udp[:6])
    return src, dst, sport, dport, udp[8:ulen]


def v6(b):
    import ipaddress
    return str(ipaddress.IPv6Address(bytes(b)))


def main():
    pcap, out = sys.argv[1], sys.argv[2]
    seen = set()
    for frame in packets(pcap):
        p = udp_payload(frame)
        if p is None or not p[4]:
            continue
        src, dst, sport, dport, payload = p
        kind = payload[0]
        name = NAMES.get(kind)
        if name is None:
            continue
        if name in seen:
            if kind == 7 and "dhclient-release" in seen and "kea-reply-release" not in seen:
                name = "kea-reply-release"
            else:
                continue
        seen.add(name)
        h = payload.hex()
        with open(f"{out}/{name}.hex", "w") as f:
            f.write(f"# captured by tests/capture/capture.sh: {name}\n")
            f.write(f"# [{v6(src)}]:{sport} -> [{v6(dst)}]:{dport}, {len(payload)} octets\n")
            for i in range(0, len(h), 32):
                f.write(h[i:i + 32] + "\n")
        print(f"{name}: {len(payload)} octets")
    want = set(NAMES.values()) | {"kea-reply-release"}
    if seen != want:
        sys.exit(f"missing messages: {sorted(want - seen)}")


if __name__ == "__main__":
    main()
