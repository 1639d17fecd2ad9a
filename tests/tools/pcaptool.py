#!/usr/bin/env python3
"""pcaptool.py: rewrites a capture into variants for smtptrace's tests: other link layers
(IEEE 802.1Q, 802.1ad, Linux cooked capture v1/v2 as libpcap writes them), and impaired
copies of the TCP streams (re-segmented, reordered, duplicated, overlapping).

    pcaptool.py MODE IN OUT [--size N] [--seed S] [--window W] [--rate R]
    pcaptool.py MODE+MODE... IN OUT [options]   several modes in turn, e.g. resegment+reorder
    pcaptool.py drop IN OUT        one copy per data-carrying TCP packet, without it: OUT holds
                                   %d, replaced by the packet's number among them (1, 2, ...)
    pcaptool.py snap IN OUT --snaplen N   every record's captured length cut to N bytes
    pcaptool.py --list
    pcaptool.py streams IN [OUT]   one line per TCP direction: bytes, SHA-1, holes, conflicts
    pcaptool.py --batch FILE       one such command per line of FILE (- for stdin), in one
                                   process: Python's start-up is most of the time on samples

Link-layer modes (want Ethernet input, DLT_EN10MB):
    vlan   one 802.1Q tag (TPID 0x8100, VID 100) inserted after the two MAC addresses
    qinq   802.1ad outer tag (TPID 0x88a8, VID 200), then 802.1Q inner tag (VID 100)
    sll    Linux cooked capture v1 header (DLT_LINUX_SLL, 113) instead of Ethernet
    sll2   Linux cooked capture v2 header (DLT_LINUX_SLL2, 276) instead of Ethernet

Impairment modes (any link type below; the stream bytes stay exactly what they were):
    resegment  every TCP data segment cut into pieces of at most --size bytes (default 7;
               --size 0: random sizes 1..16, from --seed)
    reorder    data segments of one direction shuffled within windows of --window packets
               (default 3), so later bytes come first
    duplicate  data segments sent again (--rate, default 1: each once more), right after the
               original or up to --window packets later
    overlap    for data segments (--rate, default 1), a retransmission that also covers part
               of the previous and part of the next segment of its direction
    impair     resegment (random sizes), duplicate (rate 0.5), overlap (rate 0.5), reorder,
               each from --seed

Loss modes (any link type; they destroy information on purpose, for tests/loss-tests.sh):
    drop   one copy per data-carrying TCP segment (payload, not cut by the snaplen), each
           without that one record: a packet the sensor lost. Everything else is unchanged.
    snap   every record's captured bytes cut to --snaplen N, its original length kept, and
           the file's snaplen set to N: what a sensor run with a snap length writes

Input: a classic pcap file (either byte order, microsecond or nanosecond timestamps) or a
pcapng file, either of them gzip-compressed or not. Output is always a classic pcap: in the
input's byte order and precision for pcap input; for pcapng little-endian, microseconds, or
nanoseconds when an interface's timestamps are finer than a microsecond. pcapng input must
have a single link type across its interfaces (else the tool says so and fails); its
comments, options and non-packet blocks are dropped. A classic pcap cut short in its last
record keeps that damaged tail, written back as it was. The link-layer modes grow every record
by the same number of bytes in its captured and its original length, and the snaplen with it.

Impairment modes find the IP header for link types EN10MB (802.1Q/802.1ad/0x9100 tags,
stacked), LINUX_SLL, LINUX_SLL2, NULL, LOOP, RAW and IPV4/IPV6; IPv4 (options) and IPv6
(hop-by-hop, routing and destination-options headers). Frames that are not TCP, that are
IP fragments, or whose packet the snaplen cut short are copied unchanged and never moved,
and no TCP segment moves past a cut one of its connection.
What the impairment modes keep, so that a correct analyzer must give the same verdicts:
- the bytes of each TCP direction, as sequence numbers place them: a copy carries the
  bytes of the first copy in the input, and two segments whose overlap differs (the input
  may have such) never change places, so the first copy of every byte stays what it was;
- the ACK number a byte first arrives with, what its sender had received: each piece
  carries its segment's ACK, and a copy only spans segments with one same ACK;
- the order between the two directions: a segment only moves past packets of its own
  direction, pure ACKs and other flows, never past the other direction's data, SYN, FIN or
  RST, so causality in capture order (DESIGN.md section 4) is what it was;
- the first data segment of a direction whose SYN is not in the capture stays first (a
  mid-stream pickup starts the stream where its first segment is);
- SYN and RST segments stay as they are; FIN goes on the last piece only;
- timestamps: pieces keep their segment's timestamp, a moved packet takes the timestamp of
  the place it moves to, an added copy that of the packet before it; a packet moves, or is
  copied, at most 1 s of packet time later (MAX_SHIFT) and never across a step back in
  time (files joined from several captures), so no idle timeout begins or ends. Where the
  input's timestamps do not decrease, the output's do not either.
Rebuilt frames get correct IPv4 header checksums, TCP checksums that are right when the
segment they come from had a right one and wrong otherwise (bad_checksum), the IP length
fields that fit their payload, and lose any Ethernet padding; frames not rebuilt keep theirs.

Structure: read_capture() gives a Pcap (linktype, snaplen, records); a mode is a function
(Pcap, options) -> Pcap registered in MODES; write_pcap() writes it out. Link-layer modes
work one frame at a time through per_frame(); impairment modes work on the list of records,
seeing each frame's TCP segment through tcp_view() and building new frames with
build_frame(). Python 3 standard library only.
"""

import argparse
import gzip
import hashlib
import ipaddress
import re
import random
import struct
import sys
from dataclasses import dataclass, field

DLT_NULL = 0
DLT_EN10MB = 1
DLT_RAW_ALIASES = (12, 14, 101)      # DLT_RAW on most systems, OpenBSD/BSDOS, LINKTYPE_RAW
DLT_LOOP = 108
DLT_LINUX_SLL = 113
DLT_IPV4 = 228
DLT_IPV6 = 229
DLT_LINUX_SLL2 = 276

MAGIC_US = 0xA1B2C3D4        # microsecond timestamps
MAGIC_NS = 0xA1B23C4D        # nanosecond timestamps
PCAPNG_SHB = 0x0A0D0D0A

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
PACKET_HOST = 0

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)


@dataclass
class Record:
    """One packet record: timestamp (seconds, fraction in the file's unit), captured bytes,
    and the original length on the wire."""
    ts_sec: int
    ts_frac: int
    data: bytes
    origlen: int
    seg: object = False                  # its Seg once views() has looked (None: no TCP)


@dataclass
class Pcap:
    """A whole classic pcap file: header fields and its records in file order."""
    endian: str = "<"                    # "<" or ">", as struct wants it
    magic: int = MAGIC_US
    version: tuple = (2, 4)
    snaplen: int = 262144
    linktype: int = DLT_EN10MB
    records: list = field(default_factory=list)
    trailer: bytes = b""                 # a damaged last record, written back as it was


# ---------------------------------------------------------------- reading and writing

def read_capture(path):
    """Reads a classic pcap or pcapng file, gzip-compressed or not, into a Pcap; raises
    ValueError on anything else."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError("%s: bad gzip data: %s" % (path, e)) from None
    if len(raw) >= 4 and struct.unpack("<I", raw[:4])[0] == PCAPNG_SHB:
        return read_pcapng(path, raw)
    return read_pcap(path, raw)


def read_pcap(path, raw):
    """Parses the bytes of a classic pcap file."""
    if len(raw) < 24:
        raise ValueError("%s: too short for a pcap header" % path)
    for endian in ("<", ">"):
        magic = struct.unpack(endian + "I", raw[:4])[0]
        if magic in (MAGIC_US, MAGIC_NS):
            break
    else:
        raise ValueError("%s: neither a pcap nor a pcapng file" % path)
    vmaj, vmin, _zone, _sigfigs, snaplen, linktype = struct.unpack(endian + "HHiIII", raw[4:24])
    p = Pcap(endian, magic, (vmaj, vmin), snaplen, linktype & 0xFFFF, [])
    off = 24
    while off < len(raw):
        sec, frac, caplen, origlen = struct.unpack(endian + "IIII", raw[off:off + 16].ljust(16))
        if off + 16 + caplen > len(raw):
            p.trailer = raw[off:]         # cut short: kept, so that a reader sees the same damage
            break
        p.records.append(Record(sec, frac, raw[off + 16:off + 16 + caplen], origlen))
        off += 16 + caplen
    return p


def pcapng_tsresol(opts, e):
    """Ticks per second from an interface description block's options (if_tsresol, 9)."""
    off = 0
    while off + 4 <= len(opts):
        code, n = struct.unpack(e + "HH", opts[off:off + 4])
        if code == 0:
            break
        if code == 9 and n >= 1:
            v = opts[off + 4]
            return 2 ** (v & 0x7F) if v & 0x80 else 10 ** v
        off += 4 + (n + 3) // 4 * 4
    return 10 ** 6


def read_pcapng(path, raw):
    """Parses the bytes of a pcapng file: section headers, interface descriptions, enhanced,
    simple and obsolete packet blocks; other blocks are skipped. One link type only."""
    ifaces, pkts, off, e, fine = [], [], 0, "<", False
    while off + 12 <= len(raw):
        btype = struct.unpack(e + "I", raw[off:off + 4])[0]
        if btype == PCAPNG_SHB:
            e = "<" if raw[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack(e + "I", raw[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(raw):
            raise ValueError("%s: truncated pcapng block at offset %d" % (path, off))
        body = raw[off + 8:off + blen - 4]
        if btype == 1:                                   # interface description
            link, _res, snap = struct.unpack(e + "HHI", body[:8])
            ifaces.append((link, snap, pcapng_tsresol(body[8:], e)))
            fine = fine or ifaces[-1][2] > 10 ** 6
        elif btype in (6, 2):                            # enhanced / obsolete packet
            if btype == 6:
                iface, hi, lo, cap, orig = struct.unpack(e + "IIIII", body[:20])
            else:
                iface, _drops, hi, lo, cap, orig = struct.unpack(e + "HHIIII", body[:20])
            if iface >= len(ifaces):
                raise ValueError("%s: packet for undeclared interface %d" % (path, iface))
            link, _snap, res = ifaces[iface]
            pkts.append((link, res, (hi << 32) | lo, body[20:20 + cap], orig))
        elif btype == 3:                                 # simple packet: no timestamp
            if not ifaces:
                raise ValueError("%s: packet before any interface description" % path)
            orig = struct.unpack(e + "I", body[:4])[0]
            link, snap, res = ifaces[0]
            ts = pkts[-1][2] * res // pkts[-1][1] if pkts else 0
            pkts.append((link, res, ts, body[4:4 + min(orig, snap or orig)], orig))
        off += blen
    links = {pk[0] for pk in pkts} if pkts else {i[0] for i in ifaces}
    if len(links) > 1:
        raise ValueError("%s: pcapng with several link types %s; this tool writes one pcap"
                         % (path, sorted(links)))
    unit = 10 ** 9 if fine else 10 ** 6
    p = Pcap("<", MAGIC_NS if fine else MAGIC_US, (2, 4),
             max([i[1] for i in ifaces] + [0]) or 262144,
             links.pop() if links else DLT_EN10MB, [])
    for _link, res, ts, data, orig in pkts:
        p.records.append(Record(ts // res, (ts % res) * unit // res, data, orig))
    return p


def write_pcap(path, p):
    """Writes a Pcap as a classic pcap file, in its own byte order and precision."""
    e = p.endian
    snaplen = max([p.snaplen] + [len(r.data) for r in p.records])  # copies may be longer
    out = [struct.pack(e + "IHHiIII", p.magic, p.version[0], p.version[1], 0, 0,
                       snaplen, p.linktype)]
    for r in p.records:
        out.append(struct.pack(e + "IIII", r.ts_sec, r.ts_frac, len(r.data), r.origlen))
        out.append(r.data)
    out.append(p.trailer)
    with open(path, "wb") as f:
        f.write(b"".join(out))


# ---------------------------------------------------------------- link-layer modes

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


def mode_vlan(p, _opt=None):
    """One 802.1Q tag (VID 100) after the MAC addresses."""
    return per_frame(p, DLT_EN10MB, DLT_EN10MB,
                     lambda f: f[:12] + vlan_tag(0x8100, 100) + f[12:])


def mode_qinq(p, _opt=None):
    """802.1ad outer tag (VID 200), then an 802.1Q inner tag (VID 100)."""
    return per_frame(p, DLT_EN10MB, DLT_EN10MB,
                     lambda f: f[:12] + vlan_tag(0x88A8, 200) + vlan_tag(0x8100, 100) + f[12:])


def hatype(frame):
    """ARPHRD type for a cooked header: loopback when both MACs are zero."""
    return ARPHRD_LOOPBACK if frame[:12] == bytes(12) else ARPHRD_ETHER


def mode_sll(p, _opt=None):
    """Linux cooked v1 header (DLT 113) instead of Ethernet.

    16 bytes, big-endian: packet type, ARPHRD type, address length, address (8 bytes,
    zero-padded), protocol."""
    def fn(f):
        hdr = struct.pack(">HHH8sH", PACKET_HOST, hatype(f), 6, f[6:12], 0)
        return hdr[:14] + f[12:]          # the protocol is the Ethertype already in f[12:14]
    return per_frame(p, DLT_EN10MB, DLT_LINUX_SLL, fn)


def mode_sll2(p, _opt=None):
    """Linux cooked v2 header (DLT 276) instead of Ethernet.

    20 bytes, big-endian: protocol, reserved, interface index, ARPHRD type, packet type,
    address length, address (8 bytes, zero-padded)."""
    def fn(f):
        hdr = struct.pack(">HHIHBB8s", struct.unpack(">H", f[12:14])[0], 0, 1, hatype(f),
                          PACKET_HOST, 6, f[6:12])
        return hdr + f[14:]
    return per_frame(p, DLT_EN10MB, DLT_LINUX_SLL2, fn)


# ---------------------------------------------------------------- TCP view of a frame

@dataclass
class Seg:
    """The TCP segment in one frame: the headers in front of it, kept as bytes to rebuild
    the frame, and the fields the impairments use. key names the direction (source
    address and port, destination address and port); conn names the connection."""
    link: bytes
    ip: bytes            # IPv4 header with options, or IPv6 header with extension headers
    tcp: bytes           # TCP header with options
    payload: bytes
    version: int
    src: bytes
    dst: bytes
    seq: int
    ack: int
    flags: int
    key: tuple
    conn: tuple
    cut: bool = False    # the snaplen cut the frame: payload is what was captured

    @property
    def end(self):
        return (self.seq + len(self.payload)) & 0xFFFFFFFF

    @property
    def is_data(self):
        """Carries stream bytes and may be cut, copied or moved: no SYN, no RST, whole."""
        return bool(self.payload) and not self.flags & (TCP_SYN | TCP_RST) and not self.cut

    @property
    def is_pure_ack(self):
        return not self.payload and not self.flags & (TCP_SYN | TCP_FIN | TCP_RST) \
            and not self.cut


def ip_offset(linktype, f):
    """Offset of the IP header in frame f, or None when the frame holds no IP packet."""
    if linktype == DLT_EN10MB or linktype == DLT_LINUX_SLL:
        off = 12 if linktype == DLT_EN10MB else 14
        if len(f) < off + 2:
            return None
        etype = struct.unpack(">H", f[off:off + 2])[0]
        while etype in VLAN_TPIDS and len(f) >= off + 6:
            off += 4
            etype = struct.unpack(">H", f[off:off + 2])[0]
        return off + 2 if etype in (0x0800, 0x86DD) else None
    if linktype == DLT_LINUX_SLL2:
        return 20 if len(f) >= 20 and f[0:2] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype in (DLT_NULL, DLT_LOOP):
        return 4
    if linktype in DLT_RAW_ALIASES + (DLT_IPV4, DLT_IPV6):
        return 0
    return None


def ipv6_tcp_offset(f, off):
    """Offset of the TCP header after an IPv6 header at off, walking hop-by-hop, routing and
    destination-options headers; None for anything else (fragments included)."""
    nxt, pos = f[off + 6], off + 40
    while nxt in (0, 43, 60):
        if len(f) < pos + 2:
            return None
        nxt, pos = f[pos], pos + (f[pos + 1] + 1) * 8
    return pos if nxt == 6 else None


def tcp_view(linktype, f, origlen):
    """The Seg in frame f (marked cut when the snaplen cut it short), or None: not IPv4 or
    IPv6 TCP, or a fragment.
    An IPv4 total length of 0 (TSO and BIG TCP captures) means the frame's own length, as
    smtptrace and Wireshark read it, when nothing was cut (origlen is the frame's)."""
    off = ip_offset(linktype, f)
    if off is None or len(f) < off + 20:
        return None
    version = f[off] >> 4
    if version == 4:
        ihl = (f[off] & 0x0F) * 4
        total, frag, proto = struct.unpack(">H", f[off + 2:off + 4])[0], \
            struct.unpack(">H", f[off + 6:off + 8])[0], f[off + 9]
        if total == 0 and origlen == len(f):
            total = len(f) - off
        if proto != 6 or frag & 0x3FFF or ihl < 20 or total < ihl:
            return None
        tcp, end, src, dst = off + ihl, off + total, f[off + 12:off + 16], f[off + 16:off + 20]
    elif version == 6 and len(f) >= off + 40:
        plen = struct.unpack(">H", f[off + 4:off + 6])[0]
        tcp, end = ipv6_tcp_offset(f, off), off + 40 + plen
        src, dst = f[off + 8:off + 24], f[off + 24:off + 40]
        if tcp is None or plen == 0:
            return None
    else:
        return None
    cut = end > len(f)                    # cut by the snaplen: seen, never changed or moved
    end = min(end, len(f))
    if end < tcp + 20:
        return None                       # lengths that do not add up, or no TCP header
    doff = (f[tcp + 12] >> 4) * 4
    if doff < 20 or tcp + doff > end:
        return None
    sport, dport, seq, ack = struct.unpack(">HHII", f[tcp:tcp + 12])
    key = (src, sport, dst, dport)
    return Seg(f[:off], f[off:tcp], f[tcp:tcp + doff], f[tcp + doff:end], version, src, dst,
               seq, ack, f[tcp + 13], key, min(key, (dst, dport, src, sport)), cut)


def checksum(data):
    """Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def bad_checksum(s):
    """1 when s's own TCP checksum is wrong (as checksum offloading leaves it, or a segment the
    receiver drops), so that a frame rebuilt from it stays wrong (a checksum made wrong by
    flipping its low bit), else 0: smtptrace checks checksums, and a copy must not change
    which segments are data."""
    tlen = len(s.tcp) + len(s.payload)
    if s.version == 4:
        pseudo = s.src + s.dst + struct.pack(">BBH", 0, 6, tlen)
    else:
        pseudo = s.src + s.dst + struct.pack(">IxxxB", tlen, 6)
    return 0 if checksum(pseudo + s.tcp + s.payload) == 0 else 1


def build_frame(s, seq, payload, flags, ack=None):
    """A frame like s's, carrying payload at seq with these flags (and ack, if given): IP
    length fields, IPv4 header checksum and TCP checksum made to fit. Returns the frame
    and its Seg."""
    tcp = bytearray(s.tcp)
    struct.pack_into(">II", tcp, 4, seq & 0xFFFFFFFF, s.ack if ack is None else ack)
    tcp[13] = flags
    tcp[16:18] = b"\0\0"
    tlen = len(tcp) + len(payload)
    ip = bytearray(s.ip)
    if s.version == 4:
        struct.pack_into(">H", ip, 2, len(ip) + tlen)
        ip[10:12] = b"\0\0"
        struct.pack_into(">H", ip, 10, checksum(bytes(ip)))
        pseudo = s.src + s.dst + struct.pack(">BBH", 0, 6, tlen)
    else:
        struct.pack_into(">H", ip, 4, len(ip) - 40 + tlen)
        pseudo = s.src + s.dst + struct.pack(">IxxxB", tlen, 6)
    struct.pack_into(">H", tcp, 16, checksum(pseudo + bytes(tcp) + payload) ^ bad_checksum(s))
    ip, tcp = bytes(ip), bytes(tcp)
    seq &= 0xFFFFFFFF
    return (s.link + ip + tcp + payload,
            Seg(s.link, ip, tcp, payload, s.version, s.src, s.dst, seq,
                s.ack if ack is None else ack, flags, s.key, s.conn))


def new_record(ts_from, frame):
    """A record for frame (data, Seg) with the timestamp of record ts_from."""
    data, seg = frame
    return Record(ts_from.ts_sec, ts_from.ts_frac, data, len(data), seg)


def views(p):
    """The Seg (or None) of every record of p, in file order."""
    for r in p.records:
        if r.seg is False:
            r.seg = tcp_view(p.linktype, r.data, r.origlen)
    return [r.seg for r in p.records]


def pinned_records(segs):
    """Indexes of the first data segment of every direction whose SYN comes later or never:
    a mid-stream pickup starts the stream there, so it must stay first."""
    seen, pinned = set(), set()
    for i, s in enumerate(segs):
        if s is None or s.key in seen:
            continue
        if s.flags & TCP_SYN:
            seen.add(s.key)
        elif s.is_data or s.cut and s.payload:
            seen.add(s.key)
            pinned.add(i)
    return pinned


def agree(s, t):
    """Whether segments s and t carry the same bytes where their sequence ranges overlap."""
    d = ((t.seq - s.seq + 2 ** 31) & 0xFFFFFFFF) - 2 ** 31      # t.seq - s.seq, signed
    lo, hi = max(0, d), min(len(s.payload), d + len(t.payload))
    return lo >= hi or s.payload[lo:hi] == t.payload[lo - d:hi - d]


MAX_SHIFT = 1.0     # seconds of packet time a packet may move or be copied across


def times(p):
    """Every record's timestamp in seconds."""
    unit = 1e9 if p.magic == MAGIC_NS else 1e6
    return [r.ts_sec + r.ts_frac / unit for r in p.records]


def near(ts, i, j):
    """Whether record j is at most MAX_SHIFT after record i (and not before it): a packet
    moves or is copied no further than that, so that no idle timeout begins or ends, and
    never across a step back in time (files joined from several captures have them)."""
    return 0 <= ts[j] - ts[i] <= MAX_SHIFT


def crosses(s, t):
    """Whether segment s may not move past packet t (Seg or None): t is the other direction
    of s's connection and carries data, SYN, FIN or RST (see the module comment)."""
    return t is not None and t.conn == s.conn and t.key != s.key and not t.is_pure_ack


# ---------------------------------------------------------------- impairment modes

def piece_sizes(n, size, rng):
    """Sizes that add up to n: all size, or random 1..16 when size is 0."""
    out = []
    while n > 0:
        k = min(n, size if size > 0 else rng.randint(1, 16))
        out.append(k)
        n -= k
    return out


def mode_resegment(p, opt):
    """Every TCP data segment cut into pieces of at most --size bytes (0: random 1..16)."""
    rng = random.Random("resegment-%s" % opt.seed)
    out = []
    for r, s in zip(p.records, views(p)):
        if s is None or not s.is_data or len(s.payload) <= max(opt.size, 1) and opt.size:
            out.append(r)
            continue
        sizes, off = piece_sizes(len(s.payload), opt.size, rng), 0
        for k, n in enumerate(sizes):
            last = k == len(sizes) - 1
            flags = s.flags if last else s.flags & ~(TCP_FIN | TCP_PSH)
            out.append(new_record(r, build_frame(s, s.seq + off, s.payload[off:off + n], flags)))
            off += n
    p.records = out
    return p


def mode_reorder(p, opt):
    """Data segments of one direction shuffled within windows of --window packets."""
    rng = random.Random("reorder-%s" % opt.seed)
    segs, recs, ts = views(p), p.records, times(p)
    pinned = pinned_records(segs)
    order, i, n = list(range(len(recs))), 0, len(recs)
    while i < n:
        s = segs[i]
        if s is None or not s.is_data or i in pinned:
            i += 1
            continue
        group, j = [i], i + 1
        while j < n and j < i + opt.window and near(ts, i, j):
            t = segs[j]
            if t is not None and t.key == s.key and t.is_data and j not in pinned \
                    and all(agree(segs[g], t) for g in group):
                group.append(j)
            elif crosses(s, t) or t is not None and t.key == s.key and not t.is_pure_ack:
                break             # incl. a copy that disagrees: which one comes first matters
            j += 1
        if len(group) > 1:
            perm = group[:]
            while perm == group:
                rng.shuffle(perm)
            for pos, src in zip(group, perm):
                order[pos] = src
        i = group[-1] + 1
    # a moved record takes the timestamp of the place it moves to
    p.records = [Record(recs[k].ts_sec, recs[k].ts_frac, recs[src].data, recs[src].origlen,
                        recs[src].seg) for k, src in enumerate(order)]
    return p


def place(out_slots, after, frame):
    """Queues frame (data, Seg) to go out right after the original record at index after."""
    out_slots[after].append(frame)


def emit_with_slots(p, slots):
    """The records of p, each followed by the copies queued after it; a copy takes the
    timestamp of the record in front of it."""
    out = []
    for r, extra in zip(p.records, slots):
        out.append(r)
        for frame in extra:
            out.append(new_record(out[-1], frame))
    p.records = out
    return p


def mode_duplicate(p, opt):
    """Data segments sent again (--rate), right after or up to --window packets later."""
    rng = random.Random("duplicate-%s" % opt.seed)
    segs, slots, ts = views(p), [[] for _ in p.records], times(p)
    rate = 1.0 if opt.rate is None else opt.rate
    for i, s in enumerate(segs):
        if s is None or not s.is_data or rng.random() >= rate:
            continue
        at, steps = i, rng.randint(0, opt.window - 1)
        while steps and at + 1 < len(segs) and near(ts, i, at + 1):
            t = segs[at + 1]
            if t is not None and t.conn == s.conn and t.flags & TCP_SYN:
                break                     # never past a new connection on the same ports
            at, steps = at + 1, steps - 1
        place(slots, at, (p.records[i].data, s))
    return emit_with_slots(p, slots)


def same_ack(s, t):
    """Whether segments s and t say the same about what their sender had received."""
    return (s.flags & TCP_ACK) == (t.flags & TCP_ACK) and (not s.flags & TCP_ACK
                                                            or s.ack == t.ack)


def mode_overlap(p, opt):
    """Data segments (--rate) sent again with parts of their neighbours: overlapping copies.

    Each copy covers part of the previous segment of its direction, the segment, and part
    of the next one, with the bytes the stream had there.

    The copy goes right after the segment when the next one follows it within MAX_SHIFT
    with only pure ACKs of the connection in between (so it brings new bytes early and the
    next segment then overlaps it), else right after the last segment it covers (a
    coalesced retransmission of bytes already sent). It spans only neighbours that carry
    the segment's own ACK number, and carries that too: whichever copy of a byte comes
    first, later reordered or not, it says what the sender had received."""
    rng = random.Random("overlap-%s" % opt.seed)
    segs, slots, ts = views(p), [[] for _ in p.records], times(p)
    rate = 1.0 if opt.rate is None else opt.rate
    by_start, by_end = {}, {}                 # first data segment at each seq, per direction
    for i, s in enumerate(segs):
        if s is not None and s.is_data:
            by_start.setdefault((s.key, s.seq), i)
            by_end.setdefault((s.key, s.end), i)
    for i, s in enumerate(segs):
        if s is None or not s.is_data or by_start[(s.key, s.seq)] != i or rng.random() >= rate:
            continue
        ip, inx = by_end.get((s.key, s.seq)), by_start.get((s.key, s.end))
        ip = ip if ip is not None and same_ack(segs[ip], s) else None
        inx = inx if inx is not None and same_ack(segs[inx], s) else None
        a = rng.randint(1, max(1, len(segs[ip].payload) - 1)) if ip is not None else 0
        b = rng.randint(1, max(1, len(segs[inx].payload) - 1)) if inx is not None else 0
        room = 65535 - len(s.ip) - len(s.tcp) - len(s.payload)     # IP length fields
        a = max(0, min(a, room))
        b = max(0, min(b, room - a))
        if a == 0 and b == 0:
            continue
        head = segs[ip].payload[-a:] if a else b""
        tail = segs[inx].payload[:b] if b else b""
        frame = build_frame(s, s.seq - a, head + s.payload + tail,
                            TCP_PSH | s.flags & TCP_ACK)
        early = (b and inx > i and (ip is None or ip < i) and near(ts, i, inx)
                 and all(segs[k] is None or segs[k].conn != s.conn or segs[k].is_pure_ack
                         for k in range(i + 1, inx)))
        place(slots, i if early else max(i, ip if a else i, inx if b else i), frame)
    return emit_with_slots(p, slots)


def mode_impair(p, opt):
    """Resegment (random sizes), duplicate (0.5), overlap (0.5), reorder; from --seed."""
    o = argparse.Namespace(**vars(opt))
    o.size = 0
    p = mode_resegment(p, o)
    o.rate = 0.5 if opt.rate is None else opt.rate
    p = mode_duplicate(p, o)
    p = mode_overlap(p, o)
    return mode_reorder(p, o)


def mode_snap(p, opt):
    """Every record's captured bytes cut to --snaplen, its wire length kept."""
    if opt.snaplen is None or opt.snaplen < 1:
        raise ValueError("snap wants --snaplen N, N 1 or more")
    for r in p.records:
        r.data, r.seg = r.data[:opt.snaplen], False
    p.snaplen = opt.snaplen
    return p


def drop_copies(p):
    """The copies of p that each lack one data-carrying TCP record, in file order."""
    lost = [i for i, s in enumerate(views(p)) if s is not None and s.payload and not s.cut]
    for i in lost:
        yield Pcap(p.endian, p.magic, p.version, p.snaplen, p.linktype,
                   p.records[:i] + p.records[i + 1:], p.trailer)


def write_drops(p, pattern):
    """Writes every drop copy of p to pattern % k (k from 1); returns how many."""
    if "%d" not in pattern:
        raise ValueError("drop wants an output name holding %d")
    n = 0
    for n, q in enumerate(drop_copies(p), 1):
        write_pcap(pattern % n, q)
    return n


def streams(p):
    """One line per TCP direction: its bytes as sequence numbers place them (first copy of
    each byte), how many of them a later copy contradicted, holes, FIN/RST seen. The check
    that an impaired copy carries what the original did."""
    dirs = {}
    for s in views(p):
        if s is None:
            continue
        d = dirs.setdefault(s.key, {"segs": [], "fin": 0, "rst": 0, "base": None})
        seq = s.seq + 1 if s.flags & TCP_SYN else s.seq
        if s.flags & TCP_SYN or d["base"] is None and s.payload:
            d["base"] = seq           # the stream starts after the SYN, else where first seen
        if s.payload:
            d["segs"].append((((seq - d["base"] + 2 ** 31) & 0xFFFFFFFF) - 2 ** 31, s.payload))
        d["fin"] |= bool(s.flags & TCP_FIN)
        d["rst"] |= bool(s.flags & TCP_RST)
    lines = []
    for key, d in dirs.items():
        runs, conflicts = stream_bytes(d["segs"])
        name = "%s:%d>%s:%d" % (fmt_addr(key[0]), key[1], fmt_addr(key[2]), key[3])
        lines.append("%s bytes=%d holes=%d conflicts=%d fin=%d rst=%d sha1=%s" % (
            name, sum(len(r) for r in runs), max(len(runs) - 1, 0), conflicts, d["fin"],
            d["rst"], hashlib.sha1(b"".join(runs)).hexdigest()))
    return sorted(lines)


def stream_bytes(segs):
    """The contiguous runs of a direction's bytes (first copy wins) from (offset, payload)
    pairs in file order, and how many bytes a later copy contradicted."""
    if not segs:
        return [], 0
    lo = min(o for o, _ in segs)
    n = max(o + len(pl) for o, pl in segs) - lo
    if n > 1 << 28:
        raise ValueError("a direction spans %d bytes of sequence space" % n)
    buf, have, bad = bytearray(n), bytearray(n), bytearray(n)
    for o, pl in segs:
        a, b = o - lo, o - lo + len(pl)
        free = have.count(0, a, b)
        if free == len(pl):
            buf[a:b], have[a:b] = pl, b"\1" * len(pl)
        elif free or buf[a:b] != pl:                  # partly new, or a differing copy
            for k in range(a, b):
                if not have[k]:
                    buf[k], have[k] = pl[k - a], 1
                elif buf[k] != pl[k - a]:
                    bad[k] = 1
    runs = [bytes(buf[m.start():m.end()]) for m in re.finditer(b"\1+", bytes(have))]
    return runs, bad.count(1)


def fmt_addr(a):
    return str(ipaddress.ip_address(a))


MODES = {
    "vlan": mode_vlan,
    "qinq": mode_qinq,
    "sll": mode_sll,
    "sll2": mode_sll2,
    "resegment": mode_resegment,
    "reorder": mode_reorder,
    "duplicate": mode_duplicate,
    "overlap": mode_overlap,
    "impair": mode_impair,
    "snap": mode_snap,
}


def run(args):
    """One command: MODE IN OUT [options], or streams IN [OUT]. Returns the exit status."""
    try:
        if args and args[0] == "streams" and len(args) in (2, 3):
            text = "\n".join(streams(read_capture(args[1]))) + "\n"
            if len(args) == 3:
                with open(args[2], "w") as f:
                    f.write(text)
            else:
                sys.stdout.write(text)
            return 0
        ap = argparse.ArgumentParser(prog="pcaptool.py", description="see the module comment")
        ap.add_argument("mode", help="a mode, or several joined by + (applied in order)")
        ap.add_argument("input")
        ap.add_argument("output")
        ap.add_argument("--size", type=int, default=7, help="resegment piece size, 0: random")
        ap.add_argument("--seed", default="1", help="seed of every random choice")
        ap.add_argument("--window", type=int, default=3, help="reorder/duplicate window")
        ap.add_argument("--rate", type=float, default=None, help="duplicate/overlap rate 0..1")
        ap.add_argument("--snaplen", type=int, default=None, help="snap: captured length")
        opt = ap.parse_args(args)
        if opt.size < 0 or opt.window < 1:
            ap.error("--size must be 0 or more, --window 1 or more")
        if opt.mode == "drop":
            write_drops(read_capture(opt.input), opt.output)
            return 0
        if not all(m in MODES for m in opt.mode.split("+")):
            ap.error("unknown mode %s (modes: %s)" % (opt.mode, ", ".join(MODES)))
        p = read_capture(opt.input)
        for m in opt.mode.split("+"):
            p = MODES[m](p, opt)
        write_pcap(opt.output, p)
    except (OSError, ValueError) as e:
        sys.stderr.write("pcaptool: %s\n" % e)
        return 1
    except SystemExit as e:               # argparse's usage errors
        return e.code if isinstance(e.code, int) else 2
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--list":
        for name, fn in list(MODES.items()) + [("drop", drop_copies)]:
            print("%-10s %s" % (name, fn.__doc__.split("\n")[0]))
        return 0
    if len(argv) == 3 and argv[1] == "--batch":
        # one command per line, as on the command line (split at white space): one Python
        # start for many files, which is most of the time on small captures
        rc = 0
        with (sys.stdin if argv[2] == "-" else open(argv[2])) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    rc = max(rc, run(line.split()))
        return rc
    return run(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
