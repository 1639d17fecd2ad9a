"""zeek: compares smtptrace with the smtp.log baselines of Zeek's btests.

Each smtp.log row is one Zeek SMTP record. Rows with neither mailfrom nor rcptto record a
session without a mail transaction (a STARTTLS session, a HELO and QUIT): they are not
transactions (RFC 5321 3.3: a transaction starts with MAIL) and count only for the tls flag.
Per connection (the row's 4-tuple; rows of one uid in log order):
- transactions: the number of transaction rows equals smtptrace's transactions;
- when the numbers agree, row i and transaction i: mailfrom (Zeek logs the address without
  its angle brackets), rcptto (a set: compared as sets, recipients as sent, refused ones
  included, as Zeek adds them on the RCPT command), last_reply (the code: smtptrace's reply
  to end of data, else the code of the last refused recipient when every recipient was
  refused; "not comparable" when the transaction ended before any end of data by a reply
  or command (reset, QUIT, MAIL or DATA refused): smtptrace's record keeps no code for it);
- tls: any row with tls=T equals smtptrace's starttls."""

import os

from common import bare_address, compare, not_comparable

UNSET = "-"


def read_log(path):
    fields, sep, set_sep, empty = None, "\t", ",", "(empty)"
    rows = []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#separator"):
                sep = line.split(" ", 1)[1].encode().decode("unicode_escape")
            elif line.startswith("#set_separator"):
                set_sep = line.split(sep, 1)[1]
            elif line.startswith("#empty_field"):
                empty = line.split(sep, 1)[1]
            elif line.startswith("#fields"):
                fields = line.split(sep)[1:]
            elif line.startswith("#") or not line:
                continue
            else:
                vals = line.split(sep)
                row = dict(zip(fields, vals))
                row["_set_sep"], row["_empty"] = set_sep, empty
                rows.append(row)
    return rows


def _set(row, key):
    v = row.get(key, UNSET)
    if v in (UNSET, row["_empty"]):
        return []
    return v.split(row["_set_sep"])


def _str(row, key):
    v = row.get(key, UNSET)
    return None if v in (UNSET, row["_empty"]) else v


def _my_last_reply(tx):
    if "reply" in tx:
        return tx["reply"].get("code")
    refused = tx.get("rcpt_refused") or []
    if tx.get("outcome") == "rejected" and tx.get("rejected_at") == "rcpt" and refused:
        return refused[-1]["code"]
    return None


def _ended_before_eod(tx):
    """The transaction ended by a reply or command before any end of data: the record keeps
    no code for that reply (only the reply to end of data and refused recipients)."""
    out = tx.get("outcome")
    return out in ("reset", "aborted_by_quit") or (
        out == "rejected" and tx.get("rejected_at") in ("mail", "data"))


def compare_log(case, log_path, capture, sessions, group):
    out = []
    rows = read_log(log_path)
    conns = []  # [(key, [rows])] in first-seen order
    for row in rows:
        key = (row["id.orig_h"], row["id.orig_p"], row["id.resp_h"], row["id.resp_p"], row["uid"])
        for k, lst in conns:
            if k == key:
                lst.append(row)
                break
        else:
            conns.append((key, [row]))
    used = set()
    for (oh, op, rh, rp, _uid), crow in conns:
        sess = next((s for s in sessions if s.index not in used and s.matches(oh, op, rh, rp)), None)
        loc = "case=%s session=%s" % (case, _ep(oh, op))
        if sess is None:
            out.append(compare(group, "zeek", capture, loc, "session", "absent", "present",
                               equal=False))
            continue
        used.add(sess.index)
        txrows = [r for r in crow if _str(r, "mailfrom") is not None or _set(r, "rcptto")]
        out.append(compare(group, "zeek", capture, loc, "transactions", len(sess.txs), len(txrows)))
        tls = any(r.get("tls") == "T" for r in crow)
        out.append(compare(group, "zeek", capture, loc, "tls", sess.ss.get("starttls"), tls))
        if len(txrows) != len(sess.txs):
            continue
        for i, (row, tx) in enumerate(zip(txrows, sess.txs)):
            tloc = "%s tx=%d" % (loc, i)
            out.append(compare(group, "zeek", capture, tloc, "mailfrom",
                               bare_address(tx.get("mail_from")), _str(row, "mailfrom")))
            mine = sorted(bare_address(r) for r in tx.get("rcpt_to") or [])
            theirs = sorted(_set(row, "rcptto"))
            out.append(compare(group, "zeek", capture, tloc, "rcptto", mine, theirs))
            last = _str(row, "last_reply")
            code = int(last[:3]) if last and last[:3].isdigit() else None
            my = _my_last_reply(tx)
            if my is None and code is not None and _ended_before_eod(tx):
                out.append(not_comparable(group, "zeek", capture, tloc, "last_reply", code))
            else:
                out.append(compare(group, "zeek", capture, tloc, "last_reply", my, code))
    return out


def _ep(ip, port):
    return ("[%s]:%s" % (ip, port)) if ":" in ip else ("%s:%s" % (ip, port))


def cases(corpus):
    """(case, smtp.log path, capture) for each Zeek baseline smtp.log; the capture is the
    one capture in the baseline's test folder. Btests that disable the analyzer part-way
    (*-disable-analyzer) are left out."""
    root = os.path.join(corpus, "zeek")
    out = []
    for test in sorted(os.listdir(root)):
        tdir = os.path.join(root, test)
        caps = sorted(f for f in os.listdir(tdir) if f.endswith((".pcap", ".pcapng")))
        base = os.path.join(tdir, "baseline")
        if len(caps) != 1 or not os.path.isdir(base):
            continue
        for btest in sorted(os.listdir(base)):
            log = os.path.join(base, btest, "smtp.log")
            # a btest that disables the SMTP analyzer part-way describes that setting,
            # not the traffic
            if os.path.isfile(log) and not btest.endswith("-disable-analyzer"):
                out.append(("%s/%s" % (test, btest), log, os.path.relpath(os.path.join(tdir, caps[0]), corpus)))
    return out
