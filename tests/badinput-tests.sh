# badinput-tests: the bad-input matrix (tests/badinput/README.md), sourced by tests/run-tests.sh
# (uses pass, fail, skip, $prog, $build, $out). Each case writes its hostile capture with
# $build/tools/mkhostile into $out (the big ones are made here on every run, never committed),
# runs smtptrace --stats on it and checks the defined result: the exit status and the error
# or warning line, the hostile session's verdicts, anomalies and counters, the normal
# sessions beside it still committed, every line valid JSON in valid UTF-8, and the peak
# memory under the case's bound. With build/san/smtptrace (make SAN=1) each case runs once
# more there: no sanitizer report, the same exit status, the same output.

bi_tool=$build/tools/mkhostile
bi_check=$out/bi-check.py
bi_san=build/san/smtptrace
bi_timeout=
command -v timeout >/dev/null 2>&1 && bi_timeout="timeout 120"

cat >"$bi_check" <<'EOF'
# bi-check LABEL RC JSON STDERR BOUND_KIB: the defined result of one bad-input case. The
# hostile input's path is in $BI_INPUT. Prints what is wrong; exit status 1 when anything is.
import codecs
import json
import os
import re
import sys

label, rc, jpath, epath, bound = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
path_b = os.environb.get(b"BI_INPUT", b"")
path = os.fsdecode(path_b)
problems = []


def want(cond, what):
    if not cond:
        problems.append(what)


# The whole output: valid UTF-8, one valid JSON object a line.
raw = open(jpath, "rb").read()
try:
    text = raw.decode("utf-8")
except UnicodeDecodeError as e:
    problems.append("output is not valid UTF-8: %s" % e)
    text = raw.decode("utf-8", "replace")
recs = []
for i, line in enumerate(text.splitlines()):
    try:
        rec = json.loads(line)
        if rec.get("event_type") != "stats":  # the run's counters, not a session
            recs.append(rec)
    except ValueError as e:
        problems.append("line %d is not JSON: %s" % (i + 1, e))
err = open(epath, encoding="utf-8", errors="replace").read()
m = re.search(r"peak memory: (\d+) KiB", err)
peak = int(m.group(1)) if m else None
want(peak is not None, "no 'peak memory' line on stderr")
if peak is not None:
    want(peak < bound, "peak memory %d KiB, bound %d KiB" % (peak, bound))
decode = {k: int(v) for k, v in re.findall(r"smtptrace: decode (\w+): (\d+)", err)}
m = re.search(r"flows created: (\d+), evicted: (\d+), timed out: (\d+), most at once: (\d+)", err)
flows = tuple(int(x) for x in m.groups()) if m else None
m = re.search(r"gaps: (\d+) \((\d+) bytes\)", err)
gaps = tuple(int(x) for x in m.groups()) if m else None


def esc(b):
    """Wire bytes as docs/record.md writes them: valid UTF-8 kept, any other byte and the
    backslash as \\xHH."""
    out = []
    for part in b.split(b"\\"):
        out.append(part.decode("utf-8", "bdhex"))
    return "\\x5c".join(out)


def _bdhex(e):
    return ("".join("\\x%02x" % c for c in e.object[e.start:e.end]), e.end)


codecs.register_error("bdhex", _bdhex)


def rec(port, ip="192.0.2.10"):
    """The one record of the client ip:port, or None (a problem)."""
    found = [r for r in recs if r.get("src_ip") == ip and r.get("src_port") == port]
    want(len(found) == 1, "%d records for %s:%d, want 1" % (len(found), ip, port))
    return found[0] if len(found) == 1 else None


def field(r, dotted):
    v = r
    for k in dotted.split("."):
        if isinstance(v, list):
            k = int(k)
            v = v[k] if k < len(v) else None
        elif isinstance(v, dict):
            v = v.get(k)
        else:
            return None
    return v


def expect(r, **kv):
    """Each key (dots for nesting; "s." abbreviates "smtp_session.", "t0." its first
    transaction) has the value."""
    if r is None:
        return
    for k, want_v in kv.items():
        dotted = k.replace("__", ".")
        dotted = re.sub(r"^s\.", "smtp_session.", dotted)
        dotted = re.sub(r"^t0\.", "smtp_session.transactions.0.", dotted)
        got = field(r, dotted)
        want(got == want_v, "%s:%s %s = %r, want %r" % (r.get("src_ip"), r.get("src_port"), dotted, got, want_v))


def good(port):
    """A normal session: committed, ended with QUIT, nothing odd."""
    expect(rec(port), s__outcome="committed", s__close="quit", s__anomalies=[], s__commands=5,
           t0__outcome="committed", t0__size=69)


def status(want_rc, line=None):
    want(rc == want_rc, "exit status %d, want %d" % (rc, want_rc))
    if line is not None:
        want(line in err, "stderr lacks %r; stderr: %r" % (line, err[:400]))
    else:
        stats = r"smtptrace: (files|packets|decode|sessions|flows|segments|peak memory)"
        other = [l for l in err.splitlines() if not re.match(stats, l)]
        want(not other, "stderr: %r" % other[:3])


def n_records(n):
    want(len(recs) == n, "%d records, want %d" % (len(recs), n))


def file_error(msg):
    """A file smtptrace cannot read at all: one error line, the next file still read, exit 3."""
    status(3, "smtptrace: %s: %s" % (path, msg))
    n_records(1)
    good(40009)


def file_warning(msg, n):
    """A file damaged part way: its sessions before the damage, then one warning, exit 3."""
    status(3, "smtptrace: warning: %s: %s" % (path, msg))
    n_records(n)
    good(40001)


def flood(max_flows, evicted):
    # an unanswered SYN is no SMTP session (no_handshake, DESIGN.md section 5): the flood's
    # flows are made, evicted and counted, and written as no record
    status(0)
    n_records(2)
    good(40001)
    good(40002)
    want(flows == (100002, evicted, 0, max_flows), "flows %r, want %r" % (flows, (100002, evicted, 0, max_flows)))
    syn = [r for r in recs if r.get("src_ip", "").startswith("10.")]
    want(not syn, "%d flood records, want none" % len(syn))


NONUTF8_EXT = [b"PIPELINING", b"X-\xed\xa0\x80SURR", b"AUTH PLAIN \xf4\x90\x80\x80", b"8BITMIME"]

if label == "empty-file":
    file_error("empty file")
elif label == "not-a-capture":
    file_error("not a pcap or pcapng capture file")
elif label == "truncated-global-header":
    file_error("truncated capture file header (libpcap: truncated dump file")
elif label == "unknown-link-type":
    file_error("unsupported link type 65000 (unknown)")
elif label in ("truncated-record", "truncated-record-header"):
    file_warning("truncated capture file: the last record is cut short (libpcap: truncated dump file", 3)
    good(40009)
    expect(rec(41000), s__outcome="incomplete", s__close="capture_ended", s__anomalies=[],
           t0__outcome="incomplete")
elif label == "absurd-pcapng":
    file_warning("bad capture file (libpcap: pcapng block size 4294967280 > maximum", 2)
    good(40009)
elif label == "absurd-lengths":
    file_warning("bad capture file (libpcap: invalid packet capture length 4294967295", 2)
    good(40002)
    want(decode == {"ok": 40, "truncated": 7, "malformed": 4, "not_ip": 1}, "decode counts %r" % decode)
    want(flows is not None and flows[0] == 2, "flows %r: a bad header made a flow" % (flows,))
elif label in ("absurd-sll", "absurd-sll2"):
    status(0)
    n_records(2)
    good(40001)
    good(40002)
    want(decode == {"ok": 40, "truncated": 4}, "decode counts %r" % decode)
elif label == "caplen-above-snaplen":
    # libpcap reads the first snaplen bytes of the record and skips the rest: 1500 bytes of
    # the client's stream are never seen, a gap in the message text
    status(0)
    n_records(3)
    good(40001)
    good(40002)
    expect(rec(41000), s__outcome="committed", s__close="quit", s__anomalies=["tcp_gap"],
           s__gap_bytes={"toserver": 1500, "toclient": 0}, t0__outcome="committed")
    want(gaps == (1, 1500), "gaps %r" % (gaps,))
elif label == "caplen-above-wirelen":
    # the captured bytes are used; the wire length is not looked at
    status(0)
    n_records(3)
    good(40001)
    good(40002)
    good(41000)
elif label == "ip-total-length-lies":
    status(0)
    n_records(4)
    good(40001)
    good(40002)
    expect(rec(41000), s__outcome="committed", s__close="quit", s__anomalies=[], s__commands=6,
           t0__outcome="committed", t0__size=22)
    # total length 0 in a 60-byte frame: the Ethernet padding must not become 6 bytes of
    # stream standing where QUIT comes next
    good(41001)
    want(decode == {"ok": 84, "malformed": 1}, "decode counts %r" % decode)
elif label == "tcp-data-offset":
    status(0)
    n_records(3)
    good(40001)
    good(40002)
    expect(rec(41000), s__outcome="committed", s__close="quit", s__anomalies=[], s__commands=6,
           s__replies=8, t0__outcome="committed", t0__size=22)
    want(decode == {"ok": 61, "truncated": 2, "malformed": 1}, "decode counts %r" % decode)
elif label == "syn-flood-max-flows-1000":
    # the first good session's flow ends 0.5 s (its close linger) into the flood: one flow
    # fewer to evict than flows beyond the cap
    flood(1000, 99001)
elif label == "syn-flood-default-max-flows":
    flood(65536, 34465)
elif label == "long-line":
    status(0)
    n_records(4)
    good(40001)
    good(40002)
    # the line cap (--max-line) is met and the line is over RFC 5321's 512: line_too_long,
    # whether or not the line ever ends
    expect(rec(41000), s__outcome="closed_without_quit", s__anomalies=["line_too_long"],
           s__commands=1, s__bytes_toserver=21 + (100 << 20))
    expect(rec(41001), s__outcome="closed_without_quit", s__anomalies=["line_too_long"],
           s__greeting=None, s__bytes_toclient=8 << 20)
elif label == "million-rcpt":
    status(0)
    n_records(3)
    good(40001)
    good(40002)
    r = rec(41000)
    expect(r, s__outcome="committed", s__close="quit", s__anomalies=["limit_reached"],
           s__commands=1000004, s__replies=1000006, t0__outcome="committed",
           t0__anomalies=["limit_reached"], t0__size=25,
           t0__rcpt_to__0="<r0000000@example.net>")
    if r:
        # the 1000 kept (--max-rcpts) do not fit --max-record's 16 KiB: the lists are cut,
        # each with the count of what was left out, and the line is within the bound
        kept = len(field(r, "smtp_session.transactions.0.rcpt_to"))
        cut = field(r, "smtp_session.transactions.0.rcpt_to_truncated")
        want(0 < kept < 1000 and kept + (cut or 0) == 1000,
             "%d recipients and %r left out, want 1000 in all" % (kept, cut))
        # written once: in the transaction, not again in smtp
        want(field(r, "smtp.rcpt_to") is None, "smtp.rcpt_to written too")
        want(max(len(l.encode()) for l in text.splitlines()) <= 16384, "a line over 16 KiB")
elif label == "endless-text":
    status(0)
    n_records(3)
    good(40001)
    good(40002)
    # 32 MiB of 1024-byte lines and one line of 2 MiB, all ended by CRLF, no end of data;
    # the text had not ended when the capture did, so its size is not known (left out);
    # nor are the bytes the client sent: no FIN or RST ended its direction
    expect(rec(41000), s__outcome="incomplete", s__close="capture_ended",
           s__anomalies=["line_too_long"], s__bytes_toserver=None,
           t0__outcome="incomplete", t0__anomalies=["line_too_long"], t0__size=None)
    want(rec(41000) is not None and "bytes_toserver" not in field(rec(41000), "smtp_session"),
         "41000: bytes_toserver written, the client's direction never ended")
    want(field(rec(41000), "smtp_session.pkts_toserver") == 1064,
         "41000: pkts_toserver %r, want every segment (1064) counted"
         % field(rec(41000), "smtp_session.pkts_toserver"))
    want(rec(41000) is None or "size" not in (field(rec(41000), "smtp_session.transactions.0") or {}),
         "41000: transactions[0].size written, the text had not ended")
elif label == "bdat-huge":
    status(0)
    n_records(4)
    good(40001)
    good(40002)
    # a size that does not parse: the server answers 501 and reads no octets (RFC 3030), so
    # the next BDAT is read as a command
    expect(rec(41000), s__outcome="committed", s__close="quit", s__anomalies=["bdat"],
           s__commands=6, s__replies=7, t0__outcome="committed", t0__method="bdat", t0__size=12)
    # 2^63-1 parses: every later client byte is chunk data, to the close
    expect(rec(41001), s__outcome="abandoned_before_eod", s__anomalies=["bdat"], s__commands=4,
           t0__outcome="abandoned_before_eod", t0__method="bdat", t0__size=1000)
elif label == "bdat-negative":
    status(0)
    n_records(3)
    good(40001)
    good(40002)
    expect(rec(41000), s__outcome="committed", s__close="quit", s__anomalies=["bdat"],
           s__commands=7, s__replies=8, t0__outcome="committed", t0__method="bdat", t0__size=12)
elif label == "nul-bytes":
    status(0)
    n_records(3)
    good(40001)
    good(40002)
    expect(rec(41000), s__outcome="committed", s__close="quit", s__anomalies=["unknown_command"],
           s__commands=8, s__replies=10, smtp__helo="cl\x00ient.example",
           smtp__mail_from="<a\x00b@example.org>", t0__rcpt_to=["<c\x00d@example.net>"],
           t0__outcome="committed", t0__size=21)
    # helo, smtp.mail_from, the transaction's mail_from and its recipient (written once)
    want(text.count("\\u0000") == 4, "NUL written other than as \\u0000")
elif label == "non-utf8":
    status(0)
    n_records(3)
    good(40001)
    good(40002)
    want(esc(b"ESMTP \xff\xfe caf\xc3\xa9") == "ESMTP \\xff\\xfe caf\u00e9", "esc() itself is wrong")
    expect(rec(41000), s__outcome="committed", s__close="quit", s__anomalies=["auth_attempt"],
           pcap_filename=esc(path_b),
           s__greeting__text=esc(b"mx.example.net ESMTP \xff\xfe caf\xc3\xa9"),
           smtp__helo=esc(b"cl\xc0\xafient\\x"),
           s__extensions=[esc(x) for x in NONUTF8_EXT],
           s__auth={"mechanism": esc(b"X\xe2\x82\x41"), "result": 504, "attempts": 1,
                    "failures": 1},
           smtp__mail_from=esc(b"<s\xe9nder@example.org>"),
           t0__mail_params=esc(b"SIZE=10 X=\x80"),
           t0__rcpt_to=[esc(b"<r\xc3\xa9\xff@example.net>"), esc(b"<\xff\xfe@example.net>")],
           t0__rcpt_refused=[{"to": esc(b"<\xff\xfe@example.net>"), "code": 550}],
           t0__reply__text=esc(b"Ok: queued as \xe2\x82"), t0__outcome="committed")
else:
    problems.append("no such case " + label)

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF

# bi_make CASE: writes CASE's capture to $out/bi-CASE.pcap (or to $2).
bi_make() {
	if "$bi_tool" "$1" "${2:-$out/bi-$1.pcap}" 2>"$out/bi.mkerr"; then
		return 0
	fi
	fail "badinput $1 (mkhostile: $(head -c 300 "$out/bi.mkerr"))"
	return 1
}

# bi_case LABEL INPUT BOUND_KIB ARGS...: runs smtptrace --stats ARGS and checks LABEL's
# defined result (INPUT names the hostile file in the messages); then the same under the
# sanitizers.
bi_case() {
	bi_label=$1 bi_input=$2 bi_bound=$3
	shift 3
	$bi_timeout "$prog" --stats "$@" >"$out/bi.json" 2>"$out/bi.err" </dev/null
	bi_rc=$?
	cat "$out/bi.json" >>"${SMTPTRACE_TEST_RECORDS:-/dev/null}"
	if BI_INPUT=$bi_input python3 "$bi_check" "$bi_label" "$bi_rc" "$out/bi.json" "$out/bi.err" \
		"$bi_bound" >"$out/bi.why" 2>&1; then
		pass "badinput $bi_label"
	else
		fail "badinput $bi_label (exit $bi_rc)"
		head -12 "$out/bi.why" | cut -c1-300 | sed 's/^/    /'
	fi
	[ -x "$bi_san" ] || return 0
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		$bi_timeout "$bi_san" "$@" >"$out/bi-san.json" 2>"$out/bi-san.err" </dev/null
	bi_san_rc=$?
	# the session records must be the same; the stats record counts time and memory too
	grep -v '"event_type":"stats"' "$out/bi.json" >"$out/bi.sessions"
	grep -v '"event_type":"stats"' "$out/bi-san.json" >"$out/bi-san.sessions"
	if [ "$bi_san_rc" -eq "$bi_rc" ] && cmp -s "$out/bi.sessions" "$out/bi-san.sessions" &&
		! grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$out/bi-san.err"; then
		pass "badinput-asan-ubsan $bi_label"
	else
		fail "badinput-asan-ubsan $bi_label (exit $bi_san_rc, opt exit $bi_rc)"
		grep -E 'ERROR|runtime error|#[0-9]+ ' "$out/bi-san.err" | head -10 | cut -c1-300 |
			sed 's/^/    /'
	fi
	rm -f "$out/bi-san.json"
}

if [ ! -x "$bi_tool" ]; then
	skip badinput "$bi_tool not built (make tools)"
else
	bi_make good
	# Files that cannot be read at all: the normal session is in the next file (-r good).
	for bi in empty-file not-a-capture truncated-global-header unknown-link-type; do
		bi_make "$bi" && bi_case "$bi" "$out/bi-$bi.pcap" 16384 \
			-r "$out/bi-$bi.pcap" -r "$out/bi-good.pcap"
	done
	# Files damaged after a normal session: read up to the damage, then the next file.
	for bi in truncated-record truncated-record-header absurd-pcapng; do
		bi_make "$bi" && bi_case "$bi" "$out/bi-$bi.pcap" 16384 \
			-r "$out/bi-$bi.pcap" -r "$out/bi-good.pcap"
	done
	# Everything else: normal sessions before and after the hostile part, in one file.
	for bi in caplen-above-snaplen caplen-above-wirelen absurd-lengths absurd-sll absurd-sll2 \
		ip-total-length-lies tcp-data-offset long-line million-rcpt endless-text bdat-huge \
		bdat-negative nul-bytes; do
		bi_make "$bi" && bi_case "$bi" "$out/bi-$bi.pcap" 16384 -r "$out/bi-$bi.pcap"
		rm -f "$out/bi-$bi.pcap"
	done
	# The flood: 1000 flows at most with --max-flows 1000 (about 1.8 KiB each: 16 MiB holds
	# them and the program), and the default 65536 bounding it without the option (160 MiB:
	# 65536 x 2 KiB and room; all 100,002 flows at once would take some 180 MiB).
	if bi_make syn-flood; then
		bi_case syn-flood-max-flows-1000 "$out/bi-syn-flood.pcap" 16384 \
			-r "$out/bi-syn-flood.pcap" --max-flows 1000
		bi_case syn-flood-default-max-flows "$out/bi-syn-flood.pcap" 163840 \
			-r "$out/bi-syn-flood.pcap"
		rm -f "$out/bi-syn-flood.pcap"
	fi
	# A file name that is not UTF-8 either: pcap_filename is a text field too.
	bi_file=$out/bi-non-utf8-$(printf '\377\376').pcap
	bi_make non-utf8 "$bi_file" && bi_case non-utf8 "$bi_file" 16384 -r "$bi_file"
	rm -f "$out"/bi-*.pcap "$out/bi.json" "$bi_file"
fi
