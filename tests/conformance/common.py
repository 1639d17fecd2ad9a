"""Shared pieces of the conformance checks: the comparison record, value formatting for the
known-differences file, address normalisation, and the smtptrace session index."""

import hashlib
import json
import re


class Comparison:
    """One field compared between smtptrace and another tool.

    group: the check group it belongs to ("suricata bug-3616-smtp", "tshark arkime/...").
    tool, capture, locator, field: the key of a known difference.
    mine, other: the two values, already formatted by fmt().
    status: "agree", "differ", or "na" (not comparable: smtptrace's record has no such
    value; counted apart, never a known difference)."""

    __slots__ = ("group", "tool", "capture", "locator", "field", "mine", "other", "status")

    def __init__(self, group, tool, capture, locator, field, mine, other, status):
        self.group, self.tool, self.capture, self.locator = group, tool, capture, locator
        self.field, self.mine, self.other, self.status = field, mine, other, status

    def key(self):
        return (self.tool, self.capture, self.locator, self.field, self.mine, self.other)


def compare(group, tool, capture, locator, field, mine, other, equal=None):
    """Builds a Comparison; equal defaults to mine == other."""
    if equal is None:
        equal = mine == other
    return Comparison(group, tool, capture, locator, field, fmt(mine), fmt(other),
                      "agree" if equal else "differ")


def not_comparable(group, tool, capture, locator, field, other):
    return Comparison(group, tool, capture, locator, field, "absent", fmt(other), "na")


ABSENT = object()


def fmt(value):
    """A value as written in tests/known-differences.tsv: one line, no tab, deterministic.
    Lists of verbs or codes are run-length compressed ("RCPT*600"); anything longer than 200
    characters keeps its head and a hash."""
    if value is ABSENT or value is None:
        text = "absent"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)) and all(isinstance(v, (str, int)) for v in value):
        text = " ".join(_runs(value)) if value else "(none)"
    else:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")
    if len(text) > 200:
        digest = hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        text = "%s...(%d chars, sha1 %s)" % (text[:60], len(text), digest)
    return text


def _runs(seq):
    out = []
    i = 0
    while i < len(seq):
        j = i
        while j + 1 < len(seq) and seq[j + 1] == seq[i]:
            j += 1
        item = str(seq[i]) if seq[i] != "" else '""'
        out.append(item if j == i else "%s*%d" % (item, j - i + 1))
        i = j + 1
    return out


def bare_address(path):
    """An envelope path as Zeek and Arkime log it: without the angle brackets."""
    if path is None:
        return None
    p = path.strip()
    m = re.fullmatch(r"<(.*)>", p)
    return m.group(1) if m else p


class Session:
    """One smtptrace record, with what the oracles look up."""

    def __init__(self, capture, index, rec):
        self.capture = capture
        self.index = index
        self.rec = rec
        self.ss = rec.get("smtp_session", {})
        self.client = (rec.get("src_ip"), rec.get("src_port"))
        self.server = (rec.get("dest_ip"), rec.get("dest_port"))
        self.txs = self.ss.get("transactions", [])
        self.helo = rec.get("smtp", {}).get("helo")

    nth = 1  # the nth session of the capture with this client endpoint (a reused 4-tuple)

    def locator(self):
        base = "session=%s" % endpoint(*self.client)
        return base if self.nth == 1 else "%s#%d" % (base, self.nth)

    def matches(self, client_ip=None, client_port=None, server_ip=None, server_port=None):
        return ((client_ip is None or same_ip(client_ip, self.client[0])) and
                (client_port is None or int(client_port) == self.client[1]) and
                (server_ip is None or same_ip(server_ip, self.server[0])) and
                (server_port is None or int(server_port) == self.server[1]))


def endpoint(ip, port):
    return ("[%s]:%s" % (ip, port)) if ":" in str(ip) else ("%s:%s" % (ip, port))


def same_ip(a, b):
    import ipaddress
    try:
        return ipaddress.ip_address(str(a)) == ipaddress.ip_address(str(b))
    except ValueError:
        return str(a) == str(b)
