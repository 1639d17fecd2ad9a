#!/usr/bin/env python3
"""pcaptool.py: rewrites a classic pcap into variants for smtptrace's tests (IEEE 802.1Q,
802.1ad, Linux cooked capture v1/v2 as libpcap writes them).

    pcaptool.py MODE IN OUT
    pcaptool.py --list

Modes (each one function below, listed in MODES):
    vlan   one 802.1Q tag (TPID 0x8100, VID 100) inserted after the two MAC addresses
    qinq   802.1ad outer tag (TPID 0x88a8, VID 200), then 802.1Q inner tag (VID 100)
    sll    Linux cooked capture v1 header (DLT_LINUX_SLL, 113) instead of Ethernet
    sll2   Linux cooked capture v2 header (DLT_LINUX_SLL2, 276) instead of Ethernet

Input: a classic pcap file (either byte order, microsecond or nanosecond timestamps), such as
tcpdump writes; pcapng and compressed files are refused. All four modes want Ethernet frames
(DLT_EN10MB, 1). Output keeps the input's byte order and timestamp precision; every record
grows by the same number of bytes in its captured and its original length, and the file's
snaplen grows with it.

The cooked headers follow what `tcpdump -i any` writes for a frame seen on a host: packet
type 0 (PACKET_HOST), link-layer address = the Ethernet source, protocol = the Ethertype
(an 802.1Q tag stays in the payload, as libpcap puts it back). Frames whose two MAC addresses
are all zero (the loopback interface) get ARPHRD_LOOPBACK (772), others ARPHRD_ETHER (1);
SLL2's interface index is 1.

Structure for new modes: read_pcap() gives a Pcap (linktype, snaplen, records); a mode is a
function Pcap -> Pcap registered in MODES; write_pcap() writes it out. Modes that work on one
frame at a time use per_frame(); modes that reorder, duplicate or resegment work on
pcap.records directly. Python 3 standard library only.
"""

import struct
import sys
from dataclasses import dataclass, field

DLT_EN10MB = 1
DLT_LINUX_SLL = 113
DLT_LINUX_SLL2 = 276

MAGIC_US = 0xA1B2C3D4        # microsecond timestamps
MAGIC_NS = 0xA1B23C4D        # nanosecond timestamps

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
PACKET_HOST = 0


@dataclass
class Record:
    """One packet record: timestamp (seconds, fraction in the file's unit), captured bytes,
    and the original length on the wire."""
    ts_sec: int
    ts_frac: int
    data: bytes
    origlen: int


@dataclass
class Pcap:
    """A whole classic pcap file: header fields and its records in file order."""
    endian: str = "<"                    # "<" or ">", as struct wants it
    magic: int = MAGIC_US
    version: tuple = (2, 4)
    snaplen: int = 262144
    linktype: int = DLT_EN10MB
    records: list = field(default_factory=list)


def read_pcap(path):
    """Reads a classic pcap file into a Pcap; raises ValueError on anything else."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 24:
        raise ValueError("%s: too short for a pcap header" % path)
    for endian in ("<", ">"):
        magic = struct.unpack(endian + "I", raw[:4])[0]
        if magic in (MAGIC_US, MAGIC_NS):
            break
    else:
        raise ValueError("%s: not a classic pcap file (pcapng or compressed?)" % path)
    vmaj, vmin, _zone, _sigfigs, snaplen, linktype = struct.unpack(endian + "HHiIII", raw[4:24])
    p = Pcap(endian, magic, (vmaj, vmin), snaplen, linktype & 0xFFFF, [])
    off = 24
    while off < len(raw):
        if off + 16 > len(raw):
            raise ValueError("%s: truncated record header at offset %d" % (path, off))
        sec, frac, caplen, origlen = struct.unpack(endian + "IIII", raw[off:off + 16])
        off += 16
        if off + caplen > len(raw):
            raise ValueError("%s: truncated record at offset %d" % (path, off))
        p.records.append(Record(sec, frac, raw[off:off + caplen], origlen))
        off += caplen
    return p


def write_pcap(path, p):
    """Writes a Pcap as a classic pcap file, in its own byte order and precision."""
    e = p.endian
    out = [struct.pack(e + "IHHiIII", p.magic, p.version[0], p.version[1], 0, 0,
                       p.snaplen, p.linktype)]
    for r in p.records:
        out.append(struct.pack(e + "IIII", r.ts_sec, r.ts_frac, len(r.data), r.origlen))
        out.append(r.data)
    with open(path, "wb") as f:
        f.write(b"".join(out))


def per_frame(p, want, linktype, fn):
    """Applies fn(frame) -> new frame to every record of a capture of link type want; the
    result has link type linktype. Original lengths and the snaplen grow by the same amount
    as the frame (the largest growth, for the snaplen)."""
    if p.linktype != want:
        raise ValueError("this mode wants link type %d, the input has %d" % (want, p.linktype))
    grow = 0
    for r in p.records:
        if len(r.data) < 14:
            raise ValueError("a frame of %d bytes is shorter than an Ethernet header"
                             % len(r.data))
        new = fn(r.data)
        delta = len(new) - len(r.data)
        grow = max(grow, delta)
        r.data, r.origlen = new, r.origlen + delta
    p.linktype = linktype
    p.snaplen += grow
    return p


def vlan_tag(tpid, vid):
    """One 4-byte tag: TPID, then TCI with priority 0, DEI 0 and the VLAN ID."""
    return struct.pack(">HH", tpid, vid & 0x0FFF)


def mode_vlan(p):
    """One 802.1Q tag (VID 100) after the MAC addresses."""
    return per_frame(p, DLT_EN10MB, DLT_EN10MB,
                     lambda f: f[:12] + vlan_tag(0x8100, 100) + f[12:])


def mode_qinq(p):
    """802.1ad outer tag (VID 200), then an 802.1Q inner tag (VID 100)."""
    return per_frame(p, DLT_EN10MB, DLT_EN10MB,
                     lambda f: f[:12] + vlan_tag(0x88A8, 200) + vlan_tag(0x8100, 100) + f[12:])


def hatype(frame):
    """ARPHRD type for a cooked header: loopback when both MACs are zero."""
    return ARPHRD_LOOPBACK if frame[:12] == bytes(12) else ARPHRD_ETHER


def mode_sll(p):
    """Linux cooked v1 header (DLT 113) instead of Ethernet.

    16 bytes, big-endian: packet type, ARPHRD type, address length, address (8 bytes,
    zero-padded), protocol."""
    def fn(f):
        hdr = struct.pack(">HHH8sH", PACKET_HOST, hatype(f), 6, f[6:12], 0)
        return hdr[:14] + f[12:]          # the protocol is the Ethertype already in f[12:14]
    return per_frame(p, DLT_EN10MB, DLT_LINUX_SLL, fn)


def mode_sll2(p):
    """Linux cooked v2 header (DLT 276) instead of Ethernet.

    20 bytes, big-endian: protocol, reserved, interface index, ARPHRD type, packet type,
    address length, address (8 bytes, zero-padded)."""
    def fn(f):
        hdr = struct.pack(">HHIHBB8s", struct.unpack(">H", f[12:14])[0], 0, 1, hatype(f),
                          PACKET_HOST, 6, f[6:12])
        return hdr + f[14:]
    return per_frame(p, DLT_EN10MB, DLT_LINUX_SLL2, fn)


MODES = {
    "vlan": mode_vlan,
    "qinq": mode_qinq,
    "sll": mode_sll,
    "sll2": mode_sll2,
}


def main(argv):
    if len(argv) == 2 and argv[1] == "--list":
        for name, fn in MODES.items():
            print("%-6s %s" % (name, fn.__doc__.split("\n")[0]))
        return 0
    if len(argv) != 4 or argv[1] not in MODES:
        sys.stderr.write("usage: pcaptool.py MODE IN OUT   (MODE: %s; --list)\n"
                         % ", ".join(MODES))
        return 2
    try:
        write_pcap(argv[3], MODES[argv[1]](read_pcap(argv[2])))
    except (OSError, ValueError) as e:
        sys.stderr.write("pcaptool: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
