"""arkime: compares smtptrace's envelope addresses with Arkime's expected sessions (.test).

Arkime's SMTP parser puts the address of every MAIL FROM into email.src and of every RCPT
TO into email.dst, lower-cased and without angle brackets, de-duplicated, together with the
addresses of the From/To/Cc headers. So each envelope address smtptrace reports must be in
the matching Arkime list (the reverse does not hold: a header address need not be an
envelope one). A session Arkime saw as SMTP with addresses must be a session smtptrace
reports too."""

import json
import os

from common import bare_address, compare


def _norm(addr):
    a = bare_address(addr) or ""
    return a.lower()


def compare_test(case, test_path, capture, sessions, group):
    out = []
    with open(test_path, encoding="utf-8") as f:
        doc = json.load(f)
    for entry in doc.get("sessions3", []):
        body = entry.get("body", {})
        src, dst = body.get("source", {}), body.get("destination", {})
        email = body.get("email") or {}
        asrc, adst = email.get("src") or [], email.get("dst") or []
        loc = "case=%s session=%s" % (case, _ep(src.get("ip"), src.get("port")))
        sess = next((s for s in sessions if s.matches(src.get("ip"), src.get("port"),
                                                      dst.get("ip"), dst.get("port"))), None)
        if sess is None:
            if asrc or adst:
                out.append(compare(group, "arkime", capture, loc, "session", "absent", "present",
                                   equal=False))
            continue
        for tx in sess.txs:
            tloc = "%s tx=%d" % (loc, tx.get("tx_id", -1))
            if tx.get("mail_from") is not None and _norm(tx["mail_from"]):
                a = _norm(tx["mail_from"])
                out.append(compare(group, "arkime", capture, tloc, "mail_from in email.src", a,
                                   a if a in asrc else asrc, equal=a in asrc))
            for r in tx.get("rcpt_to") or []:
                a = _norm(r)
                out.append(compare(group, "arkime", capture, tloc, "rcpt_to in email.dst", a,
                                   a if a in adst else adst, equal=a in adst))
        if (asrc or adst) and not sess.txs:
            out.append(compare(group, "arkime", capture, loc, "envelope", "(none)",
                               {"src": asrc, "dst": adst}, equal=False))
    return out


def _ep(ip, port):
    return ("[%s]:%s" % (ip, port)) if ":" in str(ip) else ("%s:%s" % (ip, port))


def cases(corpus):
    root = os.path.join(corpus, "arkime")
    out = []
    for test in sorted(os.listdir(root)):
        tdir = os.path.join(root, test)
        tests = [f for f in os.listdir(tdir) if f.endswith(".test")]
        caps = [f for f in os.listdir(tdir) if f.endswith((".pcap", ".pcapng"))]
        if len(tests) == 1 and len(caps) == 1:
            out.append((test, os.path.join(tdir, tests[0]),
                        os.path.relpath(os.path.join(tdir, caps[0]), corpus)))
    return out
