"""schema: checks one smtptrace record against DESIGN.md section 6 and docs/record.md:
the fields that are always there, the types of the optional ones, the enumerations of
section 5, and the invariants between fields. Returns a list of problems (empty: valid)."""

import re

SESSION_OUTCOMES = {"tls", "incomplete", "abandoned_before_eod", "eod_unacknowledged",
                    "rfc821_drop", "closed_without_quit", "server_closed", "committed",
                    "no_mail"}
CLOSES = {"quit", "client_closed_without_quit", "server_closed", "idle_timeout",
          "capture_ended", "unknown", "reused"}
TX_OUTCOMES = {"committed", "rejected", "reset", "aborted_by_quit", "abandoned_before_eod",
               "eod_unacknowledged", "incomplete"}
ANOMALIES = ["early_talker", "pipelining_unadvertised", "data_before_354", "residue_after_eod",
             "unstuffed_dot", "bare_lf", "bare_cr", "smuggling_eod", "repeated_errors",
             "unknown_command", "line_too_long", "auth_attempt", "bdat", "midstream", "tcp_gap",
             "overlap_mismatch", "reply_without_command", "limit_reached", "bad_checksum",
             "starttls_plaintext", "starttls_command_injection", "starttls_response_injection",
             "tls_port_plaintext"]
LOOKALIKES = {"<LF>.<LF>", "<CR><LF>.<LF>", "<LF>.<CR><LF>", "<CR>.<CR>"}

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000")
COMMUNITY_ID = re.compile(r"1:[A-Za-z0-9+/]{27}=")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_str_list(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


class _Checker:
    def __init__(self):
        self.problems = []

    def need(self, obj, key, test, what, where):
        if key not in obj:
            self.problems.append("%s: missing %s" % (where, key))
            return False
        return self.check(obj, key, test, what, where)

    def check(self, obj, key, test, what, where):
        if key in obj and not test(obj[key]):
            self.problems.append("%s: %s is not %s: %r" % (where, key, what, obj[key]))
            return False
        return key in obj


def _reply(c, obj, key, where):
    if not c.check(obj, key, lambda v: isinstance(v, dict), "an object", where):
        return
    r = obj[key]
    c.need(r, "code", lambda v: _is_int(v) and 100 <= v <= 599, "a reply code", where + "." + key)
    c.check(r, "enhanced", lambda v: isinstance(v, str), "a string", where + "." + key)
    c.check(r, "text", lambda v: isinstance(v, str), "a string", where + "." + key)


def _transaction(c, tx, i, session_outcome):
    w = "transactions[%d]" % i
    if not isinstance(tx, dict):
        c.problems.append("%s is not an object" % w)
        return
    c.need(tx, "tx_id", lambda v: v == i, "its index %d" % i, w)
    c.check(tx, "mail_from", lambda v: isinstance(v, str), "a string", w)
    c.check(tx, "mail_params", lambda v: isinstance(v, str), "a string", w)
    # left out, with rcpt_refused, when a gap may have hidden a RCPT (DESIGN.md section 4)
    c.check(tx, "rcpt_to", _is_str_list, "a list of strings", w)
    if "rcpt_refused" in tx and "rcpt_to" not in tx:
        c.problems.append("%s: rcpt_refused without rcpt_to" % w)
    if c.check(tx, "rcpt_refused", lambda v: isinstance(v, list) and all(
            isinstance(x, dict) and isinstance(x.get("to"), str) and _is_int(x.get("code"))
            for x in v), "a list of {to, code}", w):
        for x in tx["rcpt_refused"]:
            if x["to"] not in tx.get("rcpt_to", []) or not 400 <= x["code"] <= 599:
                c.problems.append("%s: rcpt_refused %r is not a refused recipient" % (w, x))
    c.check(tx, "method", lambda v: v in ("data", "bdat"), "data or bdat", w)
    # left out when the end of data was in a gap (DESIGN.md section 4): not countable
    c.check(tx, "size", lambda v: _is_int(v) and v >= 0, "a non-negative integer", w)
    c.need(tx, "outcome", lambda v: v in TX_OUTCOMES, "a transaction outcome", w)
    rejected = tx.get("outcome") == "rejected"
    if rejected != ("rejected_at" in tx):
        c.problems.append("%s: rejected_at present iff outcome is rejected" % w)
    c.check(tx, "rejected_at", lambda v: v in ("mail", "rcpt", "data", "eod"), "a place", w)
    _reply(c, tx, "reply", w)
    c.check(tx, "reply_after_close", lambda v: v is True, "true (only written when true)", w)
    c.check(tx, "smuggled", lambda v: v is True, "true (only written when true)", w)
    c.check(tx, "eod_reply_ms", lambda v: _is_num(v) and v >= 0, "a non-negative number", w)
    c.check(tx, "anomalies", lambda v: _is_str_list(v) and all(a in ANOMALIES for a in v),
            "a list of anomaly names", w)
    if tx.get("outcome") == "committed" and (tx.get("reply", {}).get("code", 0) // 100) != 2:
        c.problems.append("%s: committed without a 2xx reply to end of data" % w)


TLS_KEYS = {"handshake", "version", "cipher_suite", "sni", "alpn", "ja4", "certificate", "alert"}
JA4 = re.compile(r"t(13|12|11|10|s3|s2|00)[di]\d{4}[0-9A-Za-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}")


def _tls(c, t):
    """smtp_session.tls (docs/record.md, TLS)."""
    w = "tls"
    c.need(t, "handshake", lambda v: v in ("completed", "failed", "partial"), "a handshake state", w)
    for k in ("version", "cipher_suite", "sni"):
        c.check(t, k, lambda v: isinstance(v, str) and v, "a string", w)
    c.check(t, "alpn", lambda v: _is_str_list(v) and v, "a non-empty list of strings", w)
    c.check(t, "ja4", lambda v: isinstance(v, str) and JA4.fullmatch(v), "a JA4 fingerprint", w)
    if c.check(t, "certificate", lambda v: isinstance(v, dict), "an object", w):
        for k in ("subject", "issuer", "not_before", "not_after"):
            c.need(t["certificate"], k, lambda v: isinstance(v, str), "a string", "certificate")
        c.need(t["certificate"], "sha256", lambda v: isinstance(v, str) and
               re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){31}", v), "a SHA-256 fingerprint",
               "certificate")
    if c.check(t, "alert", lambda v: isinstance(v, dict), "an object", w):
        c.need(t["alert"], "level", lambda v: v in ("warning", "fatal", "unknown"), "a level", "alert")
        c.need(t["alert"], "description", lambda v: isinstance(v, str) and v, "a name", "alert")
    if ("version" in t) != ("cipher_suite" in t):
        c.problems.append("tls has one of version and cipher_suite without the other")
    extra = set(t) - TLS_KEYS
    if extra:
        c.problems.append("tls carries undocumented keys: %s" % sorted(extra))


def check_record(rec, trace=False):
    """Problems with one parsed record (a dict); trace: the record must carry the proposed
    --trace fields command_verbs and reply_codes."""
    c = _Checker()
    if not isinstance(rec, dict):
        return ["record is not a JSON object"]
    w = "record"
    c.need(rec, "timestamp", lambda v: isinstance(v, str) and TIMESTAMP.fullmatch(v),
           "UTC with microseconds and +0000", w)
    c.need(rec, "flow_id", lambda v: _is_int(v) and 0 <= v < 2 ** 51, "an integer under 2^51", w)
    c.need(rec, "event_type", lambda v: v == "smtp_session", '"smtp_session"', w)
    for k in ("src_ip", "dest_ip"):
        c.need(rec, k, lambda v: isinstance(v, str) and v, "an address", w)
    for k in ("src_port", "dest_port"):
        c.need(rec, k, lambda v: _is_int(v) and 0 <= v <= 65535, "a port", w)
    c.need(rec, "proto", lambda v: v == "TCP", '"TCP"', w)
    c.need(rec, "app_proto", lambda v: v == "smtp", '"smtp"', w)
    c.need(rec, "community_id", lambda v: isinstance(v, str) and COMMUNITY_ID.fullmatch(v),
           "a Community ID v1", w)
    c.need(rec, "pcap_filename", lambda v: isinstance(v, str) and v, "a file name", w)
    if c.check(rec, "smtp", lambda v: isinstance(v, dict) and v, "a non-empty object", w):
        s = rec["smtp"]
        c.check(s, "helo", lambda v: isinstance(v, str), "a string", "smtp")
        c.check(s, "mail_from", lambda v: isinstance(v, str), "a string", "smtp")
        if "rcpt_to" in s:
            c.problems.append("smtp.rcpt_to: recipients are in their transactions only")
    if not c.need(rec, "smtp_session", lambda v: isinstance(v, dict), "an object", w):
        return c.problems
    ss = rec["smtp_session"]
    w = "smtp_session"
    c.need(ss, "outcome", lambda v: v in SESSION_OUTCOMES, "a session outcome", w)
    c.need(ss, "close", lambda v: v in CLOSES, "a close", w)
    c.need(ss, "close_by", lambda v: v in ("client", "server", "none", "unknown"),
           "client/server/none/unknown", w)
    c.need(ss, "close_how", lambda v: v in ("fin", "rst", "none", "unknown"), "fin/rst/none/unknown",
           w)
    c.need(ss, "client_style", lambda v: v in ("rfc821", "rfc5321", "unknown"), "a client style", w)
    c.need(ss, "duration", lambda v: _is_num(v) and v >= 0, "a non-negative number", w)
    _reply(c, ss, "greeting", w)
    c.check(ss, "helo_command", lambda v: v in ("EHLO", "HELO"), "EHLO or HELO", w)
    c.check(ss, "extensions", _is_str_list, "a list of strings", w)
    # left out when a gap hid whether a STARTTLS was accepted (docs/record.md)
    c.check(ss, "starttls", lambda v: isinstance(v, bool), "a boolean", w)
    if c.check(ss, "tls", lambda v: isinstance(v, dict), "an object", w):
        _tls(c, ss["tls"])
    if c.check(ss, "auth", lambda v: isinstance(v, dict) and isinstance(v.get("mechanism"), str),
               "an object with a mechanism", w):
        c.check(ss["auth"], "result", lambda v: _is_int(v) and 100 <= v <= 599, "a reply code", "auth")
        for k in ("attempts", "failures"):
            c.check(ss["auth"], k, lambda v: _is_int(v) and v >= 0, "a count", "auth")
        if _is_int(ss["auth"].get("failures")) and _is_int(ss["auth"].get("attempts")) and \
                ss["auth"]["failures"] > ss["auth"]["attempts"]:
            c.problems.append("auth: more failures than attempts")
        extra = set(ss["auth"]) - {"mechanism", "result", "attempts", "failures"}
        if extra:
            c.problems.append("auth carries more than mechanism, result and counts: %s"
                              % sorted(extra))
    # left out when none was seen and lost client bytes may have held one
    if c.check(ss, "transactions", lambda v: isinstance(v, list), "a list", w):
        for i, tx in enumerate(ss["transactions"]):
            _transaction(c, tx, i, ss.get("outcome"))
    if c.need(ss, "policy", lambda v: isinstance(v, dict), "an object", w):
        p = ss["policy"]
        # each count left out when what it counts is not known (DESIGN.md section 4)
        c.check(p, "rfc5321_delivered", lambda v: _is_int(v) and v >= 0, "a count", "policy")
        c.check(p, "strict_quit_delivered", lambda v: _is_int(v) and v >= 0, "a count", "policy")
        if "rfc5321_delivered" not in p and not (
                any(isinstance(t, dict) and t.get("outcome") == "incomplete"
                    for t in ss.get("transactions", []))
                or (ss.get("gap_bytes") or {}).get("toserver")):
            c.problems.append("policy.rfc5321_delivered left out with nothing unknown")
        committed = sum(1 for t in ss.get("transactions", []) if isinstance(t, dict)
                        and t.get("outcome") == "committed")
        if _is_int(p.get("rfc5321_delivered")) and p["rfc5321_delivered"] != committed:
            c.problems.append("policy.rfc5321_delivered %s != %d committed transactions"
                              % (p["rfc5321_delivered"], committed))
        if "strict_quit_delivered" in p and \
                p["strict_quit_delivered"] not in (0, p.get("rfc5321_delivered")):
            c.problems.append("policy.strict_quit_delivered is neither 0 nor rfc5321_delivered")
    if c.need(ss, "anomalies", lambda v: _is_str_list(v) and all(a in ANOMALIES for a in v),
              "a list of anomaly names", w):
        names = ss["anomalies"]
        if names != sorted(set(names), key=ANOMALIES.index):
            c.problems.append("anomalies not each once in the documented order: %r" % names)
    if c.check(ss, "smuggling", lambda v: isinstance(v, dict), "an object", w):
        c.need(ss["smuggling"], "lookalike", lambda v: v in LOOKALIKES, "a look-alike", "smuggling")
        c.need(ss["smuggling"], "server_acted", lambda v: v in ("yes", "no", "unknown"),
               "yes/no/unknown", "smuggling")
    if c.check(ss, "gap_bytes", lambda v: isinstance(v, dict), "an object", w):
        for k in ("toserver", "toclient"):
            c.need(ss["gap_bytes"], k, lambda v: _is_int(v) and v >= 0, "a count", "gap_bytes")
    for k in ("commands", "replies", "pkts_toserver", "pkts_toclient"):
        c.need(ss, k, lambda v: _is_int(v) and v >= 0, "a count", w)
    # what was sent: left out where the capture cannot tell (a mid-stream pickup, a last
    # segment that may have been a FIN; docs/record.md)
    for k in ("bytes_toserver", "bytes_toclient"):
        c.check(ss, k, lambda v: _is_int(v) and v >= 0, "a count", w)
    if trace:
        if c.need(ss, "command_verbs", _is_str_list, "a list of strings", w) and \
                _is_int(ss.get("commands")) and len(ss["command_verbs"]) != ss["commands"]:
            c.problems.append("command_verbs has %d entries, commands says %d"
                              % (len(ss["command_verbs"]), ss["commands"]))
        if c.need(ss, "reply_codes", lambda v: isinstance(v, list) and all(
                _is_int(x) and 100 <= x <= 599 for x in v), "a list of reply codes", w) and \
                _is_int(ss.get("replies")) and len(ss["reply_codes"]) != ss["replies"]:
            c.problems.append("reply_codes has %d entries, replies says %d"
                              % (len(ss["reply_codes"]), ss["replies"]))
    # smtp (Suricata's summary) mirrors the last transaction
    txs = ss.get("transactions") or []
    last = txs[-1] if txs and isinstance(txs[-1], dict) else {}
    s = rec.get("smtp", {})
    if isinstance(s, dict):
        if s.get("mail_from") != last.get("mail_from"):
            c.problems.append("smtp.mail_from %r is not the last transaction's %r"
                              % (s.get("mail_from"), last.get("mail_from")))
    return c.problems
