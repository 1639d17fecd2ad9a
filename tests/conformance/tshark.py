"""tshark: per session, the client commands and the server reply codes smtptrace followed
against those of tshark's SMTP dissector, an independent implementation.

smtptrace side: the proposed --trace fields of smtp_session, "command_verbs" (for every
line the server would read as a command, in order, its verb: EHLO, HELO, MAIL, RCPT, DATA,
BDAT, RSET, NOOP, VRFY, EXPN, HELP, QUIT, STARTTLS, AUTH, or "?" for anything else) and
"reply_codes" (the code of every complete reply, a multi-line reply once, in order).

tshark side: tshark -Y smtp -T fields with smtp.req.command and smtp.response, every
occurrence. Allowances for how tshark shows things:
- pipelined commands in one segment are several occurrences in one frame (shown
  comma-joined by default): they are taken one by one;
- tshark shows the first four characters of a command as sent ("STAR" for STARTTLS,
  "quit"): both sides are compared upper-cased, cut to four characters, and a command
  that is not an SMTP verb smtptrace knows is "?" on both sides;
- an empty command is an AUTH continuation line (a credential), not a command: dropped;
- tshark folds the lines of a multi-line reply that arrive in one segment into one
  response, but a reply split over segments shows each segment's lines again, each with
  a code: a response continues the previous one when that one was left open ("ddd-" as
  the last line of its segment) and has the same code.
Sessions are paired by their endpoints (in order, for a reused 4-tuple)."""

import subprocess

from common import compare, endpoint

SEP, AGG = "\x1e", "\x1f"
FIELDS = ["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
          "smtp.req.command", "smtp.response", "tcp.payload"]
DEFAULT_SMTP_PORTS = {25, 465, 587}


def run_tshark(tshark, path, ports, timeout=120):
    cmd = [tshark, "-n", "-r", path]
    for p in sorted(set(ports) - DEFAULT_SMTP_PORTS):
        cmd += ["-d", "tcp.port==%d,smtp" % p]
    cmd += ["-Y", "smtp", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=" + AGG,
            "-E", "separator=" + SEP]
    for f in FIELDS:
        cmd += ["-e", f]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return res.returncode, res.stdout.decode("utf-8", "surrogateescape"), \
        res.stderr.decode("utf-8", "replace")


def parse(text, server_ports):
    """Streams in first-seen order: {stream: {"client": (ip, port), "server": (ip, port),
    "commands": [...], "codes": [...]}}."""
    streams = {}
    for line in text.split("\n"):  # not splitlines(): it would split at \x1e and \x1f
        if not line:
            continue
        f = dict(zip(FIELDS, line.split(SEP)))
        src = (f["ip.src"] or f["ipv6.src"], int(f["tcp.srcport"] or 0))
        dst = (f["ip.dst"] or f["ipv6.dst"], int(f["tcp.dstport"] or 0))
        to_server = dst[1] in server_ports and src[1] not in server_ports or \
            (dst[1] in server_ports and src[1] in server_ports and dst[1] < src[1])
        st = streams.setdefault(f["tcp.stream"], {
            "client": src if to_server else dst, "server": dst if to_server else src,
            "commands": [], "codes": [], "open": None})
        if to_server and f["smtp.req.command"] != "":
            st["commands"] += [c for c in f["smtp.req.command"].split(AGG) if c != ""]
        if not to_server and f["smtp.response"]:
            _add_responses(st, f["smtp.response"].split(AGG), f["tcp.payload"])
    for st in streams.values():
        del st["open"]
    return streams


def _add_responses(st, responses, payload_hex):
    item = ""
    for line in responses:
        code = line[:3]
        if not code.isdigit():
            continue
        item = line
        if st["open"] is not None and st["open"] == code:
            st["open"] = None  # the rest of a reply begun in an earlier segment
            continue
        st["open"] = None
        st["codes"].append(int(code))
    # Was the segment's last response a multi-line reply whose last line is yet to come?
    # tshark shows only the first line of it: the segment's own bytes tell.
    st["open"] = None
    if item[3:4] != "-":
        return
    try:
        data = bytes.fromhex(payload_hex.replace(":", "").split(AGG)[-1])
    except ValueError:
        return
    lines = [x for x in data.split(b"\n") if x.strip()]
    last = lines[-1] if lines else b""
    if data.endswith(b"\n") and last[:3] == item[:3].encode() and last[3:4] == b"-":
        st["open"] = item[:3]


# The verbs --trace names; any other line the server read as a command is "?" (its text
# is never written: a line misread as a command may be a credential, DESIGN.md 3).
KNOWN_VERBS = {"EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "VRFY", "EXPN",
               "HELP", "QUIT", "STAR", "AUTH"}


def norm_verbs(verbs):
    out = []
    for v in verbs:
        v4 = v.upper()[:4]
        out.append(v4 if v4 in KNOWN_VERBS else "?")
    return out


def compare_capture(capture, sessions, streams, group):
    out = []
    pool = list(streams.values())
    for sess in sessions:
        loc = sess.locator()
        ss = sess.ss
        if "command_verbs" not in ss or "reply_codes" not in ss:
            continue
        st = next((s for s in pool if _same(s, sess)), None)
        if st is not None:
            pool.remove(st)
        mine_c = norm_verbs(ss["command_verbs"])
        mine_r = ss["reply_codes"]
        theirs_c = norm_verbs(st["commands"]) if st else []
        theirs_r = st["codes"] if st else []
        out.append(compare(group, "tshark", capture, loc, "commands", mine_c, theirs_c))
        out.append(compare(group, "tshark", capture, loc, "reply_codes", mine_r, theirs_r))
    for st in pool:
        if st["commands"] or st["codes"]:
            loc = "session=%s" % endpoint(*st["client"])
            out.append(compare(group, "tshark", capture, loc, "session", "absent",
                               "present", equal=False))
    return out


def _same(st, sess):
    from common import same_ip
    return (same_ip(st["client"][0], sess.client[0]) and st["client"][1] == sess.client[1] and
            same_ip(st["server"][0], sess.server[0]) and st["server"][1] == sess.server[1])
