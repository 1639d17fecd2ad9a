#!/usr/bin/env python3
"""losscheck.py: compares smtptrace's records on a capture that lost bytes (a dropped packet,
a snap length) with its records on the full capture, field by field (tests/loss-tests.sh).

    losscheck.py PAIRS [DETAILS]

PAIRS has one line per copy: "MODE FULL.json COPY.json" (each beside its .rc, the exit
status). For each mode it prints one line of counts:

    MODE copies=N same=N unknown=N inferred=N wrong=N false_anomalies=N

and, in DETAILS when given, one line per wrong value and per false anomaly (copy, session,
field, full value, copy value). A field of a session is, on the copy:
- same: the full capture's value;
- unknown: honestly unknown: `incomplete` or `unknown`, or left out (DESIGN.md section 4);
- inferred: the full capture's value, and named in the session's `inferred` list;
- wrong: any other value: a confident verdict the capture did not support.
An anomaly the copy has and the full capture lacks is a false anomaly, but for tcp_gap and
midstream, which the loss itself causes; an anomaly the copy lacks is honestly unknown (not
raised across a gap). A session the copy lacks is unknown; one the full capture lacks is
wrong unless its outcome is `incomplete`; a different exit status is wrong.

Left out of the comparison, because they describe the packets and not the session: the
file name, timestamps, `flow_id` (the tuple and the first captured packet's time: a copy that
lost the first packet of a mid-stream pickup starts at another time; `community_id`, the
tuple alone, is compared), the duration, the packet counts and the counts of commands and
replies seen (a lost packet holds some: what was seen is all they claim); and the copy's own
account of what it lost (`gap_bytes`, `inferred`). Everything else is compared: verdicts,
transactions, envelopes, replies, sizes, byte counts (what was sent, DESIGN.md section 4),
smuggling, auth, TLS.
"""

import json
import sys
from collections import Counter, defaultdict

UNKNOWN = ("incomplete", "unknown")
LOSS_ANOMALIES = ("tcp_gap", "midstream")
SKIP_TOP = ("timestamp", "pcap_filename", "flow_id")
SKIP_SESSION = ("duration", "pkts_toserver", "pkts_toclient", "commands", "replies",
                "gap_bytes", "inferred", "anomalies")


def load(path):
    """The smtp_session records of one run, keyed by (client, server, n-th of that tuple),
    and the run's exit status."""
    recs, seen = {}, Counter()
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict) or not isinstance(rec.get("smtp_session"), dict):
                continue
            who = "%s:%s>%s:%s" % (rec.get("src_ip"), rec.get("src_port"), rec.get("dest_ip"),
                                   rec.get("dest_port"))
            recs[(who, seen[who])] = rec
            seen[who] += 1
    try:
        with open(path[:-len(".json")] + ".rc") as f:
            rc = f.read().strip()
    except OSError:
        rc = "?"
    return recs, rc


def flatten(v, path, out):
    """Every scalar (or list of scalars) of v under its path: a.b, a[0].b."""
    if isinstance(v, dict):
        for k, x in v.items():
            flatten(x, path + "." + k if path else k, out)
    elif isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v):
        for i, x in enumerate(v):
            flatten(x, "%s[%d]" % (path, i), out)
    else:
        out[path] = v
    return out


def fields(rec):
    """The compared fields of a record, and its anomaly sets by owner (session, tx N)."""
    top = {k: v for k, v in rec.items() if k not in SKIP_TOP and k != "smtp_session"}
    s = rec["smtp_session"]
    sess = {k: v for k, v in s.items() if k not in SKIP_SESSION}
    has_txs = "transactions" in sess  # left out: unknown, not an empty list
    txs = sess.pop("transactions", None) or []
    an = {"session": set(a if isinstance(a, str) else json.dumps(a)
                         for a in s.get("anomalies") or [])}
    clean = []
    for i, t in enumerate(txs):
        an["transactions[%d]" % i] = set(t.get("anomalies") or [])
        clean.append({k: v for k, v in t.items() if k != "anomalies"})
    out = flatten(top, "", {})
    flatten(sess, "", out)
    if has_txs:
        flatten({"transactions": clean}, "", out)
    return out, an


def judge(full, copy, inferred):
    """The class of one field: same, unknown, inferred or wrong."""
    if copy is None or copy in UNKNOWN:
        return "unknown" if copy != full else "same"
    if copy == full:
        return "same"
    return "wrong"


def compare(full, copy, counts, details, label):
    """Adds one session pair's counts (full may be None: a session only the copy has)."""
    cf, ca = fields(copy)
    inferred = set(copy["smtp_session"].get("inferred") or [])
    if full is None:
        bad = copy["smtp_session"].get("outcome") not in UNKNOWN
        counts["wrong" if bad else "unknown"] += 1
        if bad:
            details.append("%s: a session the full capture lacks" % label)
        return
    ff, fa = fields(full)
    for path in sorted(set(ff) | set(cf)):
        if path not in ff:
            cls = "unknown" if cf[path] is None or cf[path] in UNKNOWN else "wrong"
        else:
            cls = judge(ff[path], cf.get(path), inferred)
            if cls == "same" and path in inferred:
                cls = "inferred"
        counts[cls] += 1
        if cls == "wrong":
            details.append("%s: %s: %s, not %s" % (label, path, json.dumps(cf.get(path)),
                                                  json.dumps(ff.get(path))))
    for owner in sorted(set(fa) | set(ca)):
        f, c = fa.get(owner, set()), ca.get(owner, set())
        counts["same"] += len(f & c)
        counts["unknown"] += len(f - c)
        for a in sorted(c - f - set(LOSS_ANOMALIES)):
            counts["false_anomalies"] += 1
            details.append("%s: false anomaly %s (%s)" % (label, a, owner))


def main(argv):
    per_mode = defaultdict(Counter)
    details, cache = [], {}
    with open(argv[1]) as f:
        pairs = [line.split() for line in f if line.strip()]
    for mode, full_path, copy_path in pairs:
        if full_path not in cache:
            cache[full_path] = load(full_path)
        full, full_rc = cache[full_path]
        copy, copy_rc = load(copy_path)
        counts = per_mode[mode]
        counts["copies"] += 1
        if copy_rc != full_rc:
            counts["wrong"] += 1
            details.append("%s: exit status %s, not %s" % (copy_path, copy_rc, full_rc))
        for key in sorted(set(full) | set(copy)):
            label = "%s %s" % (copy_path, key[0])
            if key not in copy:
                counts["unknown"] += 1
            else:
                compare(full.get(key), copy[key], counts, details, label)
    for mode in sorted(per_mode):
        c = per_mode[mode]
        print("%s copies=%d same=%d unknown=%d inferred=%d wrong=%d false_anomalies=%d" % (
            mode, c["copies"], c["same"], c["unknown"], c["inferred"], c["wrong"],
            c["false_anomalies"]))
    if len(argv) > 2:
        with open(argv[2], "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("".join(d + "\n" for d in details))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
