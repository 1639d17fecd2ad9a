#!/usr/bin/env python3
"""mkseeds: seed inputs for the fuzz targets, made from the sample captures (python3 stdlib).

    tests/fuzz/mkseeds.py OUTDIR [CAPTURE...]

writes OUTDIR/pipeline, OUTDIR/smtp, OUTDIR/reasm and OUTDIR/parse (CAPTURE defaults to
samples/*.pcap and samples/*.pcap.gz):
  pipeline  the captures themselves, and a pcapng copy of the first one
  smtp      each TCP session's two streams in fuzz_smtp's chunk framing (see fuzz_smtp.c)
  reasm     hand-made segment records in fuzz_reasm's format (see fuzz_reasm.c)
  parse     each stream's lines, and single packets, in fuzz_parse's format (see fuzz_parse.c)
The committed corpora (tests/fuzz/corpus/) grew from these; README.md says how.
"""
import glob
import gzip
import os
import struct
import sys

SERVER_PORTS = {25, 465, 587, 2525}
# fuzz_parse.c's link_types[], by index
PARSE_DLT_INDEX = {1: 0, 113: 1, 276: 2, 0: 3, 108: 4, 12: 5, 14: 6, 101: 7, 228: 8, 229: 9}
RAW_INDEX = 5  # DLT_RAW (12)
TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10


def read_pcap(path):
    """Returns (linktype, [(ts_sec, ts_frac, bytes)]) of a classic pcap, plain or gzip."""
    data = open(path, 'rb').read()
    if data[:2] == b'\x1f\x8b':
        data = gzip.decompress(data)
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        end = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        end = '>'
    else:
        raise ValueError('%s: not a classic pcap' % path)
    linktype = struct.unpack(end + 'I', data[20:24])[0] & 0x0fffffff
    pkts, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + 'IIII', data[off:off + 16])
        pkts.append((sec, frac, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return linktype, pkts


def ip_of(linktype, pkt):
    """The IP packet inside a frame, or None."""
    if linktype == 1:
        off, etype = 14, struct.unpack('>H', pkt[12:14])[0]
        while etype in (0x8100, 0x88a8) and len(pkt) >= off + 4:
            etype = struct.unpack('>H', pkt[off + 2:off + 4])[0]
            off += 4
    elif linktype == 113:
        off, etype = 16, struct.unpack('>H', pkt[14:16])[0]
    elif linktype == 276:
        off, etype = 20, struct.unpack('>H', pkt[0:2])[0]
    elif linktype in (0, 108):
        return pkt[4:]
    elif linktype in (12, 14, 101, 228, 229):
        return pkt
    else:
        return None
    return pkt[off:] if etype in (0x0800, 0x86dd) else None


def tcp_of(ip):
    """(src, dst, sport, dport, seq, ack, flags, payload) of a TCP packet, or None."""
    if not ip:
        return None
    if ip[0] >> 4 == 4:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack('>H', ip[2:4])[0]
        if ip[9] != 6:
            return None
        src, dst, tcp = ip[12:16], ip[16:20], ip[ihl:total]
    elif ip[0] >> 4 == 6:
        if ip[6] != 6:
            return None
        plen = struct.unpack('>H', ip[4:6])[0]
        src, dst, tcp = ip[8:24], ip[24:40], ip[40:40 + plen]
    else:
        return None
    sport, dport, seq, ack, doff, flags = struct.unpack('>HHIIBB', tcp[:14])
    return src, dst, sport, dport, seq, ack, flags, tcp[(doff >> 4) * 4:]


def sessions(linktype, pkts):
    """TCP segments grouped per connection, in capture order: {key: [(dir, seg)]}."""
    flows = {}
    for _sec, _frac, pkt in pkts:
        seg = tcp_of(ip_of(linktype, pkt))
        if not seg:
            continue
        src, dst, sport, dport = seg[:4]
        if dport in SERVER_PORTS:
            key, d = (src, sport, dst, dport), 0
        elif sport in SERVER_PORTS:
            key, d = (dst, dport, src, sport), 1
        else:
            continue
        flows.setdefault(key, []).append((d, seg))
    return flows


def length_bytes(n):
    return bytes([n]) if n < 255 else b'\xff' + struct.pack('<H', n)


def smtp_chunks(segs):
    """One session in fuzz_smtp's framing."""
    first_syn = segs and segs[0][1][6] & TCP_SYN
    out = bytearray([0 if first_syn else 1])  # config: mid-stream when no handshake
    isn, nxt, fed = [None, None], [None, None], [0, 0]
    for d, seg in segs:
        _s, _d, _sp, _dp, seq, ack, flags, payload = seg
        if flags & TCP_SYN:
            isn[d] = nxt[d] = (seq + 1) & 0xffffffff
            seq = (seq + 1) & 0xffffffff
        elif isn[d] is None:
            isn[d] = nxt[d] = seq
        skip = (nxt[d] - seq) & 0xffffffff
        if skip >= 1 << 31:  # ahead of what was fed: a hole
            out += bytes([0x60 | d << 7 | 16]) + length_bytes(min((seq - nxt[d]) & 0xffffffff, 65535))
            nxt[d], skip = seq, 0
        payload = payload[skip:] if skip < len(payload) else b''
        acked = None
        if flags & TCP_ACK and isn[1 - d] is not None:
            acked = min((ack - isn[1 - d]) & 0xffffffff, fed[1 - d])
        while payload:
            part, payload = payload[:65535], payload[65535:]
            if acked is None:
                out += bytes([d << 7]) + length_bytes(len(part)) + part
            else:
                out += bytes([0x40 | d << 7]) + length_bytes(len(part)) + struct.pack('<I', acked) + part
            fed[d] += len(part)
            nxt[d] = (nxt[d] + len(part)) & 0xffffffff
        if flags & (TCP_FIN | TCP_RST):
            how = 10 if flags & TCP_RST else 0
            back = 0 if acked is None else min(fed[1 - d] - acked + 1, 254)
            out += bytes([0x60 | d << 7 | how, back])
    return bytes(out)


def streams(segs):
    """The bytes each direction sent, new bytes only, in capture order."""
    data, nxt = [bytearray(), bytearray()], [None, None]
    for d, seg in segs:
        seq, flags, payload = seg[4], seg[6], seg[7]
        if flags & TCP_SYN:
            seq = (seq + 1) & 0xffffffff
            nxt[d] = seq
        if nxt[d] is None:
            nxt[d] = seq
        skip = (nxt[d] - seq) & 0xffffffff
        if skip < len(payload):
            data[d] += payload[skip:]
            nxt[d] = (seq + len(payload)) & 0xffffffff
    return data


def pcapng_of(linktype, pkts):
    """A pcapng copy (SHB, IDB, EPBs, microsecond time stamps)."""
    def block(btype, body):
        body += b'\0' * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack('<II', btype, n) + body + struct.pack('<I', n)
    out = block(0x0a0d0d0a, struct.pack('<IHHq', 0x1a2b3c4d, 1, 0, -1))
    out += block(1, struct.pack('<HHI', linktype, 0, 262144))
    for sec, frac, pkt in pkts:
        t = sec * 1000000 + frac
        out += block(6, struct.pack('<IIIII', 0, t >> 32, t & 0xffffffff, len(pkt), len(pkt)) + pkt)
    return out


def reasm_seeds():
    """Hand-made records: flags u8 (bit 7 dir, bit 6 dirty, TCP flags), seq u32, ack u16,
    len u16, after isn0 u32, isn1 u32 and a cap index."""
    def rec(d, flags, seq, ack, n, dirty=False):
        return struct.pack('<BIHH', d << 7 | (0x40 if dirty else 0) | flags, seq & 0xffffffff, ack, n)

    def head(isn0, isn1, cap):
        return struct.pack('<IIB', isn0, isn1, cap)
    S, A, F, R = TCP_SYN, TCP_ACK, TCP_FIN, TCP_RST
    hs = rec(0, S, 0, 0, 0) + rec(1, S | A, 0, 0, 0) + rec(0, A, 1, 0, 0)
    seeds = {
        'in-order': head(1000, 5000, 6) + hs + rec(1, A, 1, 0, 30) + rec(0, A, 1, 30, 12) +
        rec(1, A, 31, 12, 8) + rec(0, A | F, 13, 38, 0) + rec(1, A | F, 39, 13, 0),
        'reordered': head(7, 9, 6) + hs + rec(0, A, 21, 0, 20) + rec(0, A, 1, 0, 20) +
        rec(0, A, 61, 0, 10) + rec(0, A, 41, 0, 20) + rec(0, A | F, 71, 0, 0),
        'overlap': head(0, 0, 6) + hs + rec(0, A, 11, 0, 20) + rec(0, A, 5, 0, 20) +
        rec(0, A, 15, 0, 10, dirty=True) + rec(0, A, 1, 0, 40) + rec(0, A, 1, 0, 40),
        'wrap': head(0xfffffff0, 0xffffffff, 5) + hs + rec(0, A, 1, 0, 40) + rec(1, A, 1, 40, 40) +
        rec(0, A, 61, 40, 16) + rec(0, A, 41, 40, 20) + rec(1, A | F, 41, 77, 0),
        'cap': head(100, 200, 2) + hs + b''.join(rec(0, A, 1 + 50 * i, 0, 30) for i in range(1, 8)) +
        b''.join(rec(1, A, 1 + 40 * i, 0, 20) for i in range(1, 5)) + rec(0, A, 1, 0, 50),
        'rst': head(3, 4, 4) + hs + rec(0, A, 1, 0, 10) + rec(0, A, 31, 0, 10) + rec(1, R, 1, 0, 0) +
        rec(0, A | R, 11, 0, 0),
        'midstream': head(123456, 654321, 6) + rec(1, A, 500, 40, 100) + rec(0, A, 40, 600, 20) +
        rec(0, A | F, 60, 600, 0) + rec(1, A | F, 600, 61, 0),
        'syn-data': head(42, 43, 6) + rec(0, S, 0, 0, 12) + rec(1, S | A, 0, 13, 0) +
        rec(0, A, 13, 1, 5) + rec(0, A, 0, 1, 18),
        'far-ahead': head(1, 2, 6) + hs + rec(0, A, 1 << 31, 0, 10) + rec(0, A, (1 << 30) + 5, 0, 10) +
        rec(0, A, 1, 0, 10),
        'tiny-segments': head(9, 9, 7) + hs + b''.join(rec(0, A, 1 + 2 * i, 0, 1) for i in range(1, 200)) +
        rec(0, A, 1, 0, 1),
    }
    return seeds


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    captures = sys.argv[2:] or sorted(glob.glob('samples/*.pcap') + glob.glob('samples/*.pcap.gz'))
    for t in ('pipeline', 'smtp', 'reasm', 'parse'):
        os.makedirs(os.path.join(outdir, t), exist_ok=True)
    for i, path in enumerate(captures):
        name = os.path.basename(path)
        write(os.path.join(outdir, 'pipeline', name), open(path, 'rb').read())
        linktype, pkts = read_pcap(path)
        if i == 0:
            write(os.path.join(outdir, 'pipeline', name + '.pcapng'), pcapng_of(linktype, pkts))
        if path.endswith('.gz'):
            continue
        for n, segs in enumerate(sessions(linktype, pkts).values()):
            write(os.path.join(outdir, 'smtp', '%s-%d' % (name, n)), smtp_chunks(segs))
            for d, text in enumerate(streams(segs)):
                if text:
                    write(os.path.join(outdir, 'parse', '%s-%d-%s' % (name, n, 'cs'[d])), b'\0' + text)
        shown = 0
        for _sec, _frac, pkt in pkts:
            seg = tcp_of(ip_of(linktype, pkt))
            if not seg or (not seg[7] and not seg[6] & TCP_SYN) or shown == 2:
                continue
            write(os.path.join(outdir, 'parse', '%s-pkt%d' % (name, shown)),
                  bytes([PARSE_DLT_INDEX.get(linktype, 0)]) + pkt)
            write(os.path.join(outdir, 'parse', '%s-pkt%d-raw' % (name, shown)),
                  bytes([RAW_INDEX]) + ip_of(linktype, pkt))
            shown += 1
    for name, data in reasm_seeds().items():
        write(os.path.join(outdir, 'reasm', name), data)


if __name__ == '__main__':
    main()
