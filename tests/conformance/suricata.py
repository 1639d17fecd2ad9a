"""suricata: compares smtptrace's transactions with what suricata-verify's test.yaml files
expect of Suricata's "smtp" events.

Model. Suricata logs one "smtp" event per transaction of its SMTP parser; its
smtp.helo/smtp.mail_from/smtp.rcpt_to[i] are those of the transaction, as sent. Each such
event is compared with one smtptrace transaction (RFC 5321 3.3: MAIL to the end of the
transaction): tx_id is the transaction's index in its session, smtp.helo the session's
helo. The newest Suricata behaviour a test describes is used: filters that require
lt-version (or version 7) describe older releases and are left out.

Per filter of a test.yaml:
- "smtp" events: the number of smtptrace transactions matching the filter's locator keys
  (src_ip, src_port, dest_ip, dest_port, proto, tx_id) and its smtp.* keys must equal the
  count. Keys smtptrace has no counterpart for (email.*, pcap_cnt, files, ...) make the
  filter select a subset of events: then the count is a lower bound ("at least"), and a
  count of 0 is not comparable.
- other event types (alert, fileinfo) that carry smtp.* keys show the values of some
  transaction: at least one smtptrace transaction must have them (count 0 is skipped).
- a test whose Suricata runs as a simulated inline firewall that blocks traffic
  (--simulate-ips with blocked packets in its stats) logs fewer events than the capture
  holds: its counts become lower bounds too.
When a count disagrees, the transaction the filter is about (by tx_id, else the closest
one) is compared field by field, so the difference names the field."""

import os

from common import compare, fmt
from yamlite import load_file

LOCATOR_KEYS = {"src_ip", "src_port", "dest_ip", "dest_port", "proto", "tx_id", "event_type"}


def _wanted(filt):
    """False for filters of older Suricata releases."""
    req = filt.get("requires") or {}
    return not ("lt-version" in req or "version" in req)


def _test_applies(doc):
    req = (doc or {}).get("requires") or {}
    return not ("lt-version" in req or "version" in req or req.get("features"))


def _blocking(doc):
    args = " ".join(str(a) for a in (doc.get("args") or []))
    if "--simulate-ips" not in args:
        return False
    for check in doc.get("checks") or []:
        stats = (check or {}).get("stats") or {}
        for k, v in stats.items():
            if k.endswith("blocked") and isinstance(v, int) and v > 0:
                return True
    return False


def _smtp_keys(match):
    """(value keys, key-absence keys, ignored keys) of a filter's match."""
    values, absent, ignored = {}, [], []
    for k, v in match.items():
        if k in ("not-has-key", "has-key"):
            keys = v if isinstance(v, list) else [v]
            for key in keys:
                if key.startswith("smtp.") and k == "not-has-key":
                    absent.append(key)
                elif key.startswith("smtp."):
                    values[key] = _PRESENT
                else:
                    ignored.append(key)
        elif k.startswith("smtp."):
            values[k] = v
        elif k not in LOCATOR_KEYS:
            ignored.append(k)
    return values, absent, ignored


_PRESENT = object()


def _field(ev, key):
    """The value of a Suricata smtp.* key for one smtptrace transaction, or None."""
    sess, tx = ev
    if key == "smtp.helo":
        return sess.helo
    if key == "smtp.mail_from":
        return tx.get("mail_from")
    if key == "smtp.rcpt_to":
        return tx.get("rcpt_to") or None
    if key.startswith("smtp.rcpt_to[") and key.endswith("]"):
        i = int(key[len("smtp.rcpt_to["):-1])
        rc = tx.get("rcpt_to") or []
        return rc[i] if i < len(rc) else None
    return None


def _value_ok(ev, key, want):
    got = _field(ev, key)
    if want is _PRESENT:
        return got is not None
    return got == want


def _locate(events, match):
    out = []
    for ev in events:
        sess, tx = ev
        if not sess.matches(match.get("src_ip"), match.get("src_port"), match.get("dest_ip"),
                            match.get("dest_port")):
            continue
        if "proto" in match and str(match["proto"]).upper() != "TCP":
            continue
        if "tx_id" in match and tx.get("tx_id") != match["tx_id"]:
            continue
        out.append(ev)
    return out


def _matches(ev, values, absent):
    return all(_value_ok(ev, k, v) for k, v in values.items()) and \
        all(_field(ev, k) is None for k in absent)


def _events(sessions):
    return [(s, tx) for s in sessions for tx in s.txs]


def _ev_locator(ev):
    sess, tx = ev
    return "%s tx=%d" % (sess.locator(), tx.get("tx_id", -1))


def compare_case(case, doc, capture, sessions, group):
    """Comparisons for one test.yaml (already parsed) against the sessions of its capture."""
    out = []
    events = _events(sessions)
    blocking = _blocking(doc)
    for n, check in enumerate(doc.get("checks") or [], 1):
        filt = (check or {}).get("filter")
        if not filt or not _wanted(filt):
            continue
        match = filt.get("match") or {}
        count = filt.get("count")
        etype = match.get("event_type")
        values, absent, ignored = _smtp_keys(match)
        if etype != "smtp" and not values and not absent:
            continue
        if etype not in (None, "smtp") or ignored or blocking:
            mode = "at least"
        else:
            mode = "exactly"
        if etype not in (None, "smtp") and not values:
            continue
        if not isinstance(count, int) or (count == 0 and mode == "at least"):
            continue
        loc = "case=%s check=%d" % (case, n)
        candidates = _locate(events, match)
        hits = [ev for ev in candidates if _matches(ev, values, absent)]
        ok = len(hits) == count if mode == "exactly" else len(hits) >= count
        what = "count(%s)" % _describe(etype, match, values, absent, mode)
        if ok or count == 0 or not values:
            mine = len(hits)
            out.append(compare(group, "suricata", capture, loc, what, mine,
                               ("%d" if mode == "exactly" else ">=%d") % count, equal=ok))
            for k in list(values) + absent:
                if ok:
                    out.append(compare(group, "suricata", capture, loc, k, "", "", equal=True))
            continue
        # the count disagrees: name the fields of the transaction the filter is about
        best = _closest(candidates, values, absent)
        if best is None:
            out.append(compare(group, "suricata", capture, loc, "transaction", "absent",
                               "present", equal=False))
            continue
        floc = "%s %s" % (loc, _ev_locator(best))
        for k, want in values.items():
            got = _field(best, k)
            out.append(compare(group, "suricata", capture, floc, k, got,
                               "present" if want is _PRESENT else want,
                               equal=_value_ok(best, k, want)))
        for k in absent:
            got = _field(best, k)
            out.append(compare(group, "suricata", capture, floc, k, got, "absent",
                               equal=got is None))
    return out


def _describe(etype, match, values, absent, mode):
    parts = ["event_type=%s" % (etype or "any")]
    for k in ("tx_id", "src_port"):
        if k in match:
            parts.append("%s=%s" % (k, match[k]))
    parts += ["%s=%s" % (k, fmt("present" if v is _PRESENT else v)) for k, v in values.items()]
    parts += ["!%s" % k for k in absent]
    return ",".join(parts)


def _closest(candidates, values, absent):
    best, score = None, -1
    for ev in candidates:
        s = sum(_value_ok(ev, k, v) for k, v in values.items()) + \
            sum(_field(ev, k) is None for k in absent)
        if s > score:
            best, score = ev, s
    return best


def cases(corpus):
    """(case, test.yaml path, capture path relative to the corpus) for each suricata-verify
    test whose checks concern SMTP fields; captures resolved as the test runner does (the
    'pcap' key, else the one capture in the test's folder)."""
    root = os.path.join(corpus, "suricata-verify")
    out = []
    for dirpath, _dirs, files in sorted(os.walk(root)):
        if "test.yaml" not in files:
            continue
        path = os.path.join(dirpath, "test.yaml")
        doc = load_file(path) or {}
        case = os.path.relpath(dirpath, root)
        if not _test_applies(doc) or not _mentions_smtp(doc):
            continue
        if doc.get("pcap"):
            cap = os.path.normpath(os.path.join(dirpath, doc["pcap"]))
        else:
            caps = sorted(f for f in files if f.endswith((".pcap", ".pcapng")))
            if len(caps) != 1:
                continue
            cap = os.path.join(dirpath, caps[0])
        out.append((case, doc, os.path.relpath(cap, corpus)))
    return out


def _mentions_smtp(doc):
    for check in doc.get("checks") or []:
        filt = (check or {}).get("filter") or {}
        match = filt.get("match") or {}
        if match.get("event_type") == "smtp" or any(
                str(k).startswith("smtp.") for k in match) or any(
                str(k).startswith("smtp.") for key in ("not-has-key", "has-key")
                for k in (match.get(key) if isinstance(match.get(key), list) else [match.get(key) or ""])):
            return True
    return False
