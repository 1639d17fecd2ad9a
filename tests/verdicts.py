#!/usr/bin/env python3
"""verdicts.py: the verdict projection of smtptrace's JSON Lines, one line per session, for
comparing two runs whose packets differ but whose streams do not (tests/impair-tests.sh).

    smtptrace -r X.pcap | tests/verdicts.py          projection of stdin on stdout
    tests/verdicts.py A.json B.json ...              writes A.json.v, B.json.v, ...

A line holds the client and server address and port, then what DESIGN.md section 5 calls
verdicts: outcome, close, close_by, close_how, client_style; per transaction its outcome
(with rejected_at), method, size, mail_from, accepted recipients, refused recipients with
their codes, the reply code to its end of data and whether that reply came after the close,
its own anomalies; the policy counts; the session's anomalies, sorted. Packet and byte
counts, timestamps, durations, flow ids and reply texts are left out: they describe the
packets, not the session, and impairments change the packets.

No anomaly is filtered out. An impaired copy carries exactly the bytes of each direction
that the original did (tests/tools/pcaptool.py keeps them, and the test checks it with
`pcaptool.py streams`), the same ACK numbers for them and the same order between the two
directions, so none of tcp_gap, overlap_mismatch, midstream or any other anomaly may appear
or disappear because of the impairment; if one does, that is the finding.

Sessions are sorted by their addresses and ports (a stable sort, so sessions that reuse
one 4-tuple keep their order): the order in which smtptrace emits sessions follows the
packets that close them, which is not a verdict. Lines that are not JSON objects with an
"smtp_session" member are projected as themselves, marked "other:", so nothing is lost.
"""

import json
import sys


def j(v):
    """Compact JSON for one value (strings quoted, so empty and absent differ)."""
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def anomalies(lst):
    """Anomaly names sorted; an anomaly written as an object is kept whole."""
    return sorted(a if isinstance(a, str) else j(a) for a in (lst or []))


def transaction(t):
    reply = t.get("reply") or {}
    parts = [
        "tx%s=%s" % (t.get("tx_id"), t.get("outcome")),
        "at=%s" % t["rejected_at"] if "rejected_at" in t else "",
        "method=%s" % t.get("method", "-"),
        "size=%s" % t.get("size"),
        "from=%s" % j(t.get("mail_from")),
        "to=%s" % j(t.get("rcpt_to", [])),
        "refused=%s" % j(sorted((r.get("to"), r.get("code")) if isinstance(r, dict) else r
                                for r in t.get("rcpt_refused", []))),
        "reply=%s" % reply.get("code", "-"),
        "after_close" if t.get("reply_after_close") else "",
        "tx_anomalies=%s" % j(anomalies(t.get("anomalies"))),
    ]
    return " ".join(p for p in parts if p)


def project(line):
    """The projection of one JSON line, and its sort key."""
    try:
        rec = json.loads(line)
    except ValueError:
        return ("~", "other: " + line.rstrip("\n"))
    s = rec.get("smtp_session") if isinstance(rec, dict) else None
    if not isinstance(s, dict):
        return ("~", "other: " + j(rec))
    who = "%s:%s>%s:%s" % (rec.get("src_ip"), rec.get("src_port"), rec.get("dest_ip"),
                           rec.get("dest_port"))
    parts = [who,
             "outcome=%s" % s.get("outcome"),
             "close=%s/%s/%s" % (s.get("close"), s.get("close_by"), s.get("close_how")),
             "style=%s" % s.get("client_style"),
             "policy=%s" % j(s.get("policy"))]
    parts += [transaction(t) for t in s.get("transactions", [])]
    parts.append("anomalies=%s" % j(anomalies(s.get("anomalies"))))
    return (who, " ".join(parts))


def is_stats(line):
    """The stats record that ends a run counts packets and time, not sessions."""
    return line.startswith('{"timestamp":') and '"event_type":"stats"' in line[:100]


def projection(lines):
    return [text for _key, text in sorted((project(l) for l in lines
                                           if l.strip() and not is_stats(l)),
                                          key=lambda kt: kt[0])]


def main(argv):
    if len(argv) == 1:
        sys.stdout.write("".join(l + "\n" for l in projection(sys.stdin)))
        return 0
    for path in argv[1:]:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            out = projection(f)
        with open(path + ".v", "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("".join(l + "\n" for l in out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
