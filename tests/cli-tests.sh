# cli-tests: command-line behaviour, sourced by tests/run-tests.sh (uses pass, fail, $prog,
# $out). Exit codes: 0 success, 1 runtime error, 2 usage error or unreadable input; every
# error is one line naming the file and the cause.

# sessions FILE: the session records of an output, without the stats record that ends a run.
sessions() { grep -v '^{"timestamp":"[^"]*","event_type":"stats"' "$1"; }

# expect_run NAME WANT_RC STDERR_SUBSTRING -- ARGS...
expect_run() {
	name=$1 want=$2 msg=$3
	shift 4
	"$prog" "$@" >"$out/cli.out" 2>"$out/cli.err" </dev/null
	rc=$?
	if [ "$rc" -eq "$want" ] && { [ -z "$msg" ] || grep -qF -- "$msg" "$out/cli.err"; }; then
		pass "cli $name"
	else
		fail "cli $name (exit $rc, want $want; stderr: $(head -c 300 "$out/cli.err"))"
	fi
}

printf 'this is not a capture file, just text\n' >"$out/text.pcap"
: >"$out/empty.pcap"
head -c 10 samples/normal.pcap >"$out/short-header.pcap"
size=$(wc -c <samples/normal.pcap)
head -c $((size - 20)) samples/normal.pcap >"$out/truncated.pcap"

expect_run missing-file 2 "samples/no-such.pcap: No such file or directory" -- -r samples/no-such.pcap
expect_run not-a-capture 2 "$out/text.pcap: " -- -r "$out/text.pcap"
expect_run empty-file 2 "$out/empty.pcap: " -- -r "$out/empty.pcap"
expect_run short-global-header 2 "$out/short-header.pcap: " -- -r "$out/short-header.pcap"
expect_run no-input 2 "no input" --
expect_run bad-option 2 "Try 'smtptrace --help'" -- --no-such-option
expect_run bad-ports 2 "--ports" -- --ports 25,x -r samples/normal.pcap
expect_run bad-idle 2 "--idle-timeout" -- --idle-timeout -5 -r samples/normal.pcap
expect_run bad-checksum 2 "--checksum: 'on' is not auto, yes or no" -- --checksum on -r samples/normal.pcap
expect_run checksum-no 0 "" -- --checksum no -r samples/normal.pcap
grep -q '"outcome":"committed"' "$out/cli.out" && pass "cli checksum-no-output" ||
	fail "cli checksum-no-output"
expect_run bad-filter 2 "bad filter" -- -r samples/normal.pcap "tcp port and and"
expect_run help 0 "" -- --help
grep -q -- '--ports LIST' "$out/cli.out" && pass "cli help-lists-options" || fail "cli help-lists-options"
grep -q -- '--tls-ports LIST' "$out/cli.out" && pass "cli help-lists-tls-ports" ||
	fail "cli help-lists-tls-ports"
expect_run bad-tls-ports 2 "--tls-ports: bad port list '465,0'" -- --tls-ports 465,0 -r samples/normal.pcap
# --tls-ports: its ports are followed even when not in --ports; a session there that starts
# with plaintext SMTP (Postfix's 220) is followed as SMTP, with tls_port_plaintext.
expect_run tls-ports-followed 0 "" -- --ports 25 --tls-ports 2525 -r samples/normal.pcap
if grep -q '"outcome":"committed".*"anomalies":\["tls_port_plaintext"\]' "$out/cli.out"; then
	pass "cli tls-ports-plaintext"
else
	fail "cli tls-ports-plaintext"
fi
expect_run version 0 "" -- --version
grep -q '^smtptrace [0-9]' "$out/cli.out" && pass "cli version-line" || fail "cli version-line"

# A file cut in the middle of its last record: the sessions before the damage are still
# written, then one warning line, and the exit status (3) says the input was damaged.
expect_run truncated-record 3 "$out/truncated.pcap: " -- -r "$out/truncated.pcap"
if [ "$(sessions "$out/cli.out" | wc -l)" -eq 1 ] && grep -q '"smtp_session"' "$out/cli.out"; then
	pass "cli truncated-record-keeps-session"
else
	fail "cli truncated-record-keeps-session"
fi

# pcap_filename names the input as given: the file, the gzip copy, stdin.
for input in samples/normal.pcap samples/normal.pcap.gz; do
	"$prog" -r "$input" >"$out/name.out" 2>/dev/null
	if grep -qF "\"pcap_filename\":\"$input\"" "$out/name.out"; then
		pass "cli pcap-filename $input"
	else
		fail "cli pcap-filename $input"
	fi
done
"$prog" -r - <samples/normal.pcap >"$out/name.out" 2>/dev/null
grep -qF '"pcap_filename":"-"' "$out/name.out" && pass "cli pcap-filename stdin" ||
	fail "cli pcap-filename stdin"

# -o writes the file; several -r files share one flow table and keep their order.
# Nothing on stdout or stderr then: checked with the exit status, and against the same run
# without -o, whose records do reach stdout (the positive control).
"$prog" -r samples/normal.pcap -o "$out/o.json" >"$out/cli.out" 2>&1
rc=$?
"$prog" -r samples/normal.pcap >"$out/cli-stdout.out" 2>/dev/null
if [ "$rc" -eq 0 ] && [ -s "$out/o.json" ] && [ ! -s "$out/cli.out" ] &&
	[ "$(sessions "$out/cli-stdout.out" | wc -l)" -eq 1 ] &&
	[ "$(sessions "$out/o.json" | wc -l)" -eq 1 ]; then
	pass "cli output-file"
else
	fail "cli output-file (exit $rc)"
fi
"$prog" -r samples/normal.pcap -r samples/ipv6.pcap >"$out/two.out" 2>/dev/null
sessions "$out/two.out" >"$out/two.sessions"
if [ "$(wc -l <"$out/two.sessions")" -eq 2 ] && head -1 "$out/two.sessions" | grep -q '"src_ip":"127.0.0.1"' &&
	tail -1 "$out/two.sessions" | grep -q '"src_ip":"::1"'; then
	pass "cli two-inputs-in-order"
else
	fail "cli two-inputs-in-order"
fi
# --ports: a port list without 2525 sees nothing in the samples; the BPF filter likewise.
# Each check of an empty result also checks the exit status and that the stats record (the
# positive control: the run did read the file) is there.
no_sessions() {	# NAME: $out/p.out holds the stats record and nothing else, exit status 0
	if [ "$1" -eq 0 ] && [ "$(wc -l <"$out/p.out")" -eq 1 ] &&
		grep -q '"event_type":"stats".*"capture":{"packets":21,' "$out/p.out"; then
		pass "cli $2"
	else
		fail "cli $2 (exit $1)"
	fi
}
"$prog" -r samples/normal.pcap --ports 25 --no-detect >"$out/p.out" 2>/dev/null
no_sessions $? ports-excludes
"$prog" -r samples/normal.pcap "tcp port 9999" >"$out/p.out" 2>/dev/null
rc=$?
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$out/p.out")" -eq 1 ] &&
	grep -q '"event_type":"stats".*"capture":{"packets":0,' "$out/p.out"; then
	pass "cli bpf-excludes"
else
	fail "cli bpf-excludes (exit $rc)"
fi
"$prog" -r samples/normal.pcap "tcp port 2525" >"$out/p.out" 2>/dev/null
[ "$(sessions "$out/p.out" | wc -l)" -eq 1 ] && pass "cli bpf-includes" || fail "cli bpf-includes"
# Every line of every sample is valid JSON (python3's parser, independent of jansson).
for f in samples/*.pcap; do "$prog" -r "$f"; done >"$out/all-records.json" 2>/dev/null
sessions "$out/all-records.json" >"$out/all.json"
if python3 -c 'import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$out/all-records.json"; then
	pass "cli all-samples-valid-json"
else
	fail "cli all-samples-valid-json"
fi

# Every link type and IP variant end to end: the same crafted session (tests/tools/mkcapture.c)
# framed each way must give the same verdicts, and the expected ones.
want='192.0.2.10:40000>198.51.100.5:25 outcome=committed close=quit/client/fin style=rfc5321 policy={"rfc5321_delivered":1,"strict_quit_delivered":1} tx0=committed method=data size=88 from="<a@example.org>" to=["<b@example.net>"] refused=[] reply=250 tx_anomalies=[] anomalies=[]'
want6=$(printf '%s' "$want" | sed 's/192.0.2.10:40000>198.51.100.5:25/2001:db8::10:40000>2001:db8::5:25/')
for scenario in vlan qinq sll sll2 null loop raw4 raw6 ipv4 ipv6 ipv4opts ipv6ext pcapng; do
	if ! "$build/tools/mkcapture" "$scenario" "$out/link.pcap" 2>"$out/mk.err"; then
		fail "link $scenario (mkcapture: $(head -c 200 "$out/mk.err"))"
		continue
	fi
	got=$("$prog" -r "$out/link.pcap" 2>/dev/null | python3 tests/verdicts.py)
	case "$scenario" in raw6 | ipv6 | ipv6ext) expect=$want6 ;; *) expect=$want ;; esac
	if [ "$got" = "$expect" ]; then
		pass "link $scenario"
	else
		fail "link $scenario"
		printf '    got:  %s\n    want: %s\n' "$got" "$expect"
	fi
done
"$build/tools/mkcapture" user0 "$out/user0.pcap" 2>/dev/null
expect_run unsupported-link-type 2 "unsupported link type 147" -- -r "$out/user0.pcap"

# The envelope and the smtp object are Suricata's EVE as its own JSON schema (closed objects)
# describes it: every record of every sample, without smtp_session (smtptrace's own object,
# which EVE's schema does not know), validates (python3-jsonschema, Debian's package).
eve_schema=../shared/fixtures/eve/suricata-eve-schema.json
if [ ! -f "$eve_schema" ]; then
	skip "cli eve-schema" "../shared/fixtures absent"
elif ! /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
	skip "cli eve-schema" "python3-jsonschema not installed"
elif /usr/bin/python3 -c 'import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
check = jsonschema.Draft7Validator(schema)
bad = 0
for line in open(sys.argv[2]):
    rec = json.loads(line)
    rec.pop("smtp_session")
    for err in check.iter_errors(rec):
        bad += 1
        print("   ", rec["src_port"], list(err.path), err.message[:200])
sys.exit(1 if bad else 0)' "$eve_schema" "$out/all.json"; then
	pass "cli eve-schema"
else
	fail "cli eve-schema"
fi

# ---- live capture options, output safety, the stats record (issue: a live sensor) ----
# Every run ends with one stats record; --records session leaves it out.
"$prog" -r samples/normal.pcap >"$out/s.out" 2>/dev/null
rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l <"$out/s.out")" -eq 2 ] && tail -1 "$out/s.out" | python3 -c 'import json, sys
r = json.loads(sys.stdin.read()); s = r["stats"]
assert r["event_type"] == "stats" and r["timestamp"].endswith("+0000")
assert s["capture"]["packets"] == 21 and s["capture"]["bytes"] > 0 and s["decoder"]["tcp"] == 21
assert s["sessions"]["ended"] == 1 and s["sessions"]["open"] == 0
assert s["sessions"]["by_outcome"]["committed"] == 1 and sum(s["sessions"]["by_outcome"].values()) == 1
assert s["flows"]["created"] == 1 and s["memory"]["peak_rss_kib"] > 0 and "kernel_drops" not in s["capture"]'; then
	pass "cli stats-record"
else
	fail "cli stats-record (exit $rc)"
fi
"$prog" -r samples/normal.pcap --records session >"$out/s.out" 2>/dev/null
rc=$?
[ $rc -eq 0 ] && [ "$(wc -l <"$out/s.out")" -eq 1 ] && grep -q '"smtp_session"' "$out/s.out" &&
	pass "cli records-session-only" || fail "cli records-session-only (exit $rc)"
expect_run records-unknown 2 "--records: unknown record type 'flows'" -- -r samples/normal.pcap --records session,flows
"$prog" -r samples/normal.pcap -c 5 >"$out/s.out" 2>/dev/null
rc=$?
[ $rc -eq 0 ] && grep -q '"capture":{"packets":5,' "$out/s.out" && pass "cli count-limit" || fail "cli count-limit (exit $rc)"
# Options may follow the filter, as tcpdump allows.
"$prog" "tcp port 2525" -r samples/normal.pcap --records session >"$out/s.out" 2>/dev/null
[ $? -eq 0 ] && [ "$(wc -l <"$out/s.out")" -eq 1 ] && pass "cli options-after-filter" || fail "cli options-after-filter"
# -F: the filter from a file, with a comment; not together with one on the command line.
printf '# only the test port\ntcp port 9999\n' >"$out/filter.bpf"
"$prog" -r samples/normal.pcap -F "$out/filter.bpf" >"$out/s.out" 2>/dev/null
rc=$?
[ $rc -eq 0 ] && [ "$(wc -l <"$out/s.out")" -eq 1 ] && grep -q '"packets":0,' "$out/s.out" &&
	pass "cli filter-file" || fail "cli filter-file (exit $rc)"
expect_run filter-file-and-args 2 "not both" -- -r samples/normal.pcap -F "$out/filter.bpf" tcp
expect_run filter-file-missing 2 "-F $out/no-such.bpf: No such file or directory" -- -r samples/normal.pcap -F "$out/no-such.bpf"
expect_run files-and-interface 2 "not both" -- -r samples/normal.pcap -i lo
expect_run version-libraries 0 "" -- --version
grep -q 'libpcap version 1\..*zlib 1\..*jansson 2\.' "$out/cli.out" && pass "cli version-names-libraries" ||
	fail "cli version-names-libraries"
expect_run relinquish-unknown-user 2 "-Z no-such-user-x: no such user" -- -r samples/normal.pcap -Z no-such-user-x

# Output safety: an earlier run's records survive a later run that fails on its arguments,
# its inputs or its filter; -o naming an input is refused; a file is appended to unless
# --overwrite.
printf '{"earlier":"record"}\n' >"$out/keep.json"
cp "$out/keep.json" "$out/keep.orig"
kept() {	# NAME: keep.json is as it was
	cmp -s "$out/keep.json" "$out/keep.orig" && pass "cli $1" || fail "cli $1"
}
expect_run keep-on-bad-filter 2 "bad filter expression" -- -r samples/normal.pcap -o "$out/keep.json" "tcp port and"
kept output-kept-bad-filter
[ "$(grep -c 'bad filter' "$out/cli.err")" -eq 1 ] && pass "cli bad-filter-said-once" || fail "cli bad-filter-said-once"
expect_run keep-on-bad-filter-two-inputs 2 "bad filter expression" -- -r samples/normal.pcap -r samples/ipv6.pcap -o "$out/keep.json" "tcp port and"
[ "$(grep -c 'bad filter' "$out/cli.err")" -eq 1 ] && pass "cli bad-filter-said-once-two-inputs" || fail "cli bad-filter-said-once-two-inputs"
expect_run keep-on-missing-input 2 "samples/no-such.pcap: No such file or directory" -- -r samples/no-such.pcap -r samples/no-such-2.pcap -o "$out/keep.json"
kept output-kept-missing-input
# One unreadable input among good ones is said once and skipped: the good ones keep their
# records, and the status says an input was bad.
"$prog" -r samples/normal.pcap -r samples/no-such.pcap -r samples/ipv6.pcap --records session >"$out/s.out" 2>"$out/cli.err"
rc=$?
[ $rc -eq 3 ] && [ "$(wc -l <"$out/s.out")" -eq 2 ] && [ "$(wc -l <"$out/cli.err")" -eq 1 ] &&
	grep -q 'no-such.pcap: No such file' "$out/cli.err" && pass "cli bad-input-skipped" ||
	fail "cli bad-input-skipped (exit $rc)"
expect_run keep-on-bad-device 2 "no-such-if0: no such device (devices: " -- -i no-such-if0 -o "$out/keep.json"
kept output-kept-bad-device
cp samples/normal.pcap "$out/in.pcap"
expect_run output-is-input 2 "the output is also an input" -- -r "$out/in.pcap" -o "$out/in.pcap"
cmp -s "$out/in.pcap" samples/normal.pcap && pass "cli output-is-input-capture-intact" || fail "cli output-is-input-capture-intact"
"$prog" -r samples/normal.pcap -o "$out/keep.json" 2>/dev/null
rc=$?
[ $rc -eq 0 ] && [ "$(wc -l <"$out/keep.json")" -eq 3 ] && head -1 "$out/keep.json" | grep -q earlier &&
	pass "cli output-appended" || fail "cli output-appended (exit $rc)"
"$prog" -r samples/normal.pcap -o "$out/keep.json" --overwrite 2>/dev/null
rc=$?
[ $rc -eq 0 ] && [ "$(wc -l <"$out/keep.json")" -eq 2 ] && ! grep -q earlier "$out/keep.json" &&
	pass "cli output-overwrite" || fail "cli output-overwrite (exit $rc)"

# A name ending in .gz: the same records, gzip-compressed.
"$prog" -r samples/normal.pcap -r samples/ipv6.pcap --records session -o "$out/z.json.gz" 2>/dev/null
rc=$?
"$prog" -r samples/normal.pcap -r samples/ipv6.pcap --records session >"$out/z.json" 2>/dev/null
[ $rc -eq 0 ] && gzip -t "$out/z.json.gz" && zcat "$out/z.json.gz" | cmp -s - "$out/z.json" && [ -s "$out/z.json" ] &&
	pass "cli gzip-output" || fail "cli gzip-output (exit $rc)"

# Live capture's errors, each one line, before any output is touched.
if [ "$(id -u)" = 0 ]; then
	expect_run list-interfaces 0 "" -- -D
	grep -q '^[0-9]*\.lo \[.*Loopback' "$out/cli.out" && pass "cli list-interfaces-lo" || fail "cli list-interfaces-lo"
	expect_run live-bad-filter 2 "lo: bad filter expression: " -- -i lo "tcp port and"
	[ "$(wc -l <"$out/cli.err")" -eq 1 ] && pass "cli live-bad-filter-one-line" || fail "cli live-bad-filter-one-line"
	if setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all true 2>/dev/null; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
			"$(realpath "$prog")" -i lo -o /dev/null >"$out/cli.out" 2>"$out/cli.err"
		rc=$?
		if [ $rc -eq 2 ] && grep -q 'lo: permission denied: capturing needs root, or the CAP_NET_RAW and CAP_NET_ADMIN capabilities' "$out/cli.err" &&
			[ "$(wc -l <"$out/cli.err")" -eq 1 ]; then
			pass "cli live-permission-denied"
		else
			fail "cli live-permission-denied (exit $rc: $(head -c 200 "$out/cli.err"))"
		fi
	else
		skip "cli live-permission-denied" "setpriv cannot drop privileges here"
	fi
	# The systemd unit is one systemd accepts (with this build's path).
	if command -v systemd-analyze >/dev/null 2>&1; then
		sed "s|/usr/local/bin/smtptrace|$(realpath "$prog")|; s|^Documentation=.*||" docs/smtptrace.service >"$out/smtptrace.service"
		# silence is success only if a broken unit is not silent too (the positive control)
		sed 's|^ExecStart=|ExecStrat=|' "$out/smtptrace.service" >"$out/broken.service"
		systemd-analyze verify "$out/broken.service" >"$out/sd-broken.err" 2>&1
		if systemd-analyze verify "$out/smtptrace.service" >"$out/sd.err" 2>&1 && [ ! -s "$out/sd.err" ] &&
			grep -q 'ExecStrat' "$out/sd-broken.err"; then
			pass "cli systemd-unit-verifies"
		else
			fail "cli systemd-unit-verifies ($(head -c 300 "$out/sd.err") / $(head -c 200 "$out/sd-broken.err"))"
		fi
	else
		skip "cli systemd-unit-verifies" "systemd-analyze not installed"
	fi
else
	for c in list-interfaces live-bad-filter live-permission-denied systemd-unit-verifies; do
		skip "cli $c" "needs root"
	done
fi

# Progress on a terminal during a long offline run (a pty from python3), none with -q, none
# when standard error is not a terminal; --summary's table. The run is stopped for 0.3 s after
# every 50 ms it runs (SIGSTOP, SIGCONT), so each stretch it runs after a stop passes the 0.2 s
# between progress lines however fast the build is: the test does not rest on its speed.
if [ -x "$build/tools/mkbench" ] && "$build/tools/mkbench" -s 200M "$out/long.pcap" >/dev/null 2>&1; then
	for q in "" -q; do
		python3 - "$prog" "$out/long.pcap" $q >"$out/pty.out" <<'PY'
import os, pty, signal, subprocess, sys, time
m, s = pty.openpty()
p = subprocess.Popen([sys.argv[1], "-r", sys.argv[2], "-o", "/dev/null"] + sys.argv[3:],
                     stderr=s, stdout=subprocess.DEVNULL)
while p.poll() is None:
    time.sleep(0.05)
    try:
        p.send_signal(signal.SIGSTOP)
        time.sleep(0.3)
        p.send_signal(signal.SIGCONT)
    except ProcessLookupError:
        break
p.wait()
os.close(s)
data = b""
while True:
    try:
        d = os.read(m, 65536)
    except OSError:
        break
    if not d:
        break
    data += d
print(p.returncode, data.count(b" MB ("), data.count(b"(100%)"))
PY
		read -r rc lines full <"$out/pty.out"
		if [ -z "$q" ] && [ "$rc" = 0 ] && [ "$lines" -ge 2 ] && [ "$full" = 1 ]; then
			pass "cli progress-on-terminal ($lines updates)"
		elif [ -n "$q" ] && [ "$rc" = 0 ] && [ "$lines" = 0 ]; then
			pass "cli progress-quiet"
		else
			fail "cli progress${q:+-quiet} (exit $rc, $lines progress lines, $full at 100%)"
		fi
	done
	"$prog" -r "$out/long.pcap" -o /dev/null 2>"$out/cli.err"
	rc=$?
	[ $rc -eq 0 ] && [ ! -s "$out/cli.err" ] && pass "cli progress-not-a-terminal" || fail "cli progress-not-a-terminal (exit $rc)"
	# the sessions whose records the writer thread builds are given back as it goes: the
	# peak memory of 200 MB of sessions is about that of 20 MB (each kept to the end: 24 MB more)
	rss_of() { grep -o '"peak_rss_kib":[0-9]*' "$1" | cut -d: -f2; }
	rm -f "$out/rss-l.json" "$out/rss-s.json"
	"$prog" -r "$out/long.pcap" --records session,transaction,stats -o "$out/rss-l.json"
	rc_l=$?
	"$build/tools/mkbench" -s 20M "$out/short.pcap" >/dev/null 2>&1
	"$prog" -r "$out/short.pcap" --records session,transaction,stats -o "$out/rss-s.json"
	rc_s=$?
	rss_l=$(rss_of "$out/rss-l.json") rss_s=$(rss_of "$out/rss-s.json")
	if [ $rc_l -eq 0 ] && [ $rc_s -eq 0 ] && [ -n "$rss_l" ] && [ -n "$rss_s" ] &&
		[ "$rss_l" -lt $((rss_s + 8192)) ]; then
		pass "cli sessions-given-back (peak ${rss_l} KiB for 200 MB, ${rss_s} KiB for 20 MB)"
	else
		fail "cli sessions-given-back (exit $rc_l and $rc_s, peak ${rss_l:-?} KiB for 200 MB, ${rss_s:-?} KiB for 20 MB)"
	fi
	rm -f "$out/long.pcap" "$out/short.pcap" "$out/rss-l.json" "$out/rss-s.json"
else
	fail "cli progress (mkbench could not make the capture)"
fi
"$prog" -r samples/two-transactions.pcap -r samples/rfc821-drop.pcap -r samples/smuggle-lf-dot-lf.pcap \
	--summary -o /dev/null 2>"$out/cli.err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^smtptrace: 3 sessions, 5 transactions$' "$out/cli.err" &&
	grep -Eq '^  rfc821_drop +1$' "$out/cli.err" && grep -Eq '^  committed +2$' "$out/cli.err" &&
	grep -Eq '^  smuggling_eod +1$' "$out/cli.err" && grep -Eq '^  RFC 5321 \(2xx to end of data\) +5$' "$out/cli.err" &&
	grep -Eq '^  strict QUIT +4$' "$out/cli.err" && grep -Eq '^  on which they disagree +1$' "$out/cli.err"; then
	pass "cli summary"
else
	fail "cli summary (exit $rc: $(head -c 300 "$out/cli.err"))"
fi

# ---- record types, --eve-strict, --max-record, --redact ----
# smtp_transaction: one flat record per transaction, joined to its session by flow_id.
"$prog" -r samples/two-transactions.pcap --records session,transaction >"$out/tx.out" 2>/dev/null
rc=$?
if [ $rc -eq 0 ] && python3 - "$out/tx.out" <<'PY'; then
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["event_type"] for r in recs] == ["smtp_session", "smtp_transaction", "smtp_transaction"], recs
s, t0, t1 = recs
assert t0["flow_id"] == s["flow_id"] == t1["flow_id"] and t0["community_id"] == s["community_id"]
assert [t["smtp_transaction"]["tx_id"] for t in (t0, t1)] == [0, 1]
for t, tx in zip((t0, t1), s["smtp_session"]["transactions"]):
    st = dict(t["smtp_transaction"])
    assert st.pop("session") == {"outcome": s["smtp_session"]["outcome"], "close": s["smtp_session"]["close"],
                                 "client_style": s["smtp_session"]["client_style"]}
    assert st == tx, (st, tx)
    assert t["smtp"]["rcpt_to"] == tx["rcpt_to"] and t["smtp"]["mail_from"] == tx["mail_from"]
    assert t["smtp"]["helo"] == s["smtp"]["helo"]
PY
	pass "cli transaction-records"
else
	fail "cli transaction-records (exit $rc)"
fi

# --eve-strict: every sample's records and every corpus capture's are valid against
# Suricata's own EVE schema, one "smtp" event per transaction, verdicts in metadata.flowvars.
if [ -f "$eve_schema" ] && /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
	: >"$out/eve.json"
	for f in samples/*.pcap samples/*.pcap.gz; do "$prog" -r "$f" --eve-strict --records session; done >>"$out/eve.json" 2>/dev/null
	n_corpus=0
	if [ -d ../shared/corpus ]; then
		for f in $(find ../shared/corpus -name '*.pcap' -o -name '*.pcapng' | sort); do
			"$prog" -r "$f" --eve-strict --records session >>"$out/eve.json" 2>/dev/null
			n_corpus=$((n_corpus + 1))
		done
	fi
	if /usr/bin/python3 - "$eve_schema" "$out/eve.json" <<'PY'; then
import json, sys, jsonschema
check = jsonschema.Draft7Validator(json.load(open(sys.argv[1])))
n = bad = 0
for line in open(sys.argv[2]):
    rec = json.loads(line)
    n += 1
    assert rec["event_type"] == "smtp" and isinstance(rec["tx_id"], int), rec
    keys = [v["key"] for v in rec["metadata"]["flowvars"]]
    assert "smtptrace.session_outcome" in keys and "smtptrace.close" in keys, keys
    for err in check.iter_errors(rec):
        bad += 1
        print("   ", rec.get("pcap_filename"), list(err.path), err.message[:200])
assert n > 100, n
sys.exit(1 if bad else 0)
PY
		pass "cli eve-strict-valid (samples and $n_corpus corpus captures)"
	else
		fail "cli eve-strict-valid"
	fi
else
	skip "cli eve-strict-valid" "../shared/fixtures or python3-jsonschema absent"
fi

# --max-record: a session of 1500 pipelined recipients is cut to fit, with counts of what
# was left out; every line valid JSON and within the bound; without the bound it is longer.
{
	printf 'S: 220 mx.example.net ESMTP\\r\\n\n'
	printf 'C: EHLO client.example\\r\\n\n'
	printf 'S: 250-mx.example.net\\r\\n\nS+ 250 PIPELINING\\r\\n\n'
	printf 'C: MAIL FROM:<a@example.org>\\r\\n\n'
	i=0
	printf 'C+ RCPT TO:<recipient-%04d@example.net>\\r\\n\n' $(seq 1 1500)
	printf 'S: 250 2.1.0 Ok\\r\\n\n'
	printf 'S+ 250 2.1.5 Ok\\r\\n\n' $(seq 1 1500)
	printf 'C: QUIT\\r\\n\nS: 221 Bye\\r\\n\nFIN S\nFIN C\nACK S\n'
} >"$out/many.dlg"
if "$build/tools/dialogue" "$out/many.dlg" "$out/many.pcap" >/dev/null 2>"$out/dlg.err"; then
	for max in 16384 4096; do
		if [ "$max" = 16384 ]; then opt=; else opt="--max-record $max"; fi
		# shellcheck disable=SC2086
		"$prog" -r "$out/many.pcap" --max-rcpts 2000 --records session,transaction $opt 'tcp port 40000 or tcp port 25' >"$out/big.out" 2>/dev/null
		rc=$?
		if [ $rc -eq 0 ] && python3 - "$out/big.out" "$max" <<'PY'; then
import json, sys
lines = [l for l in open(sys.argv[1], "rb")]
assert all(len(l) <= int(sys.argv[2]) for l in lines), max(len(l) for l in lines)
recs = [json.loads(l) for l in lines]
s = [r for r in recs if r["event_type"] == "smtp_session" and r["src_port"] == 40000][0]
t = s["smtp_session"]["transactions"][0]
assert t["outcome"] == "aborted_by_quit" and 0 < len(t["rcpt_to"]) < 1500
assert len(t["rcpt_to"]) + t["rcpt_to_truncated"] == 1500, (len(t["rcpt_to"]), t.get("rcpt_to_truncated"))
PY
			pass "cli max-record-$max"
		else
			fail "cli max-record-$max (exit $rc)"
		fi
	done
	"$prog" -r "$out/many.pcap" --max-rcpts 2000 --records session --max-record 100000000 'tcp port 40000' >"$out/big.out" 2>/dev/null
	[ "$(head -1 "$out/big.out" | wc -c)" -gt 16384 ] && pass "cli max-record-control (uncut: $(head -1 "$out/big.out" | wc -c) bytes)" ||
		fail "cli max-record-control"
else
	fail "cli max-record (dialogue: $(head -c 200 "$out/dlg.err"))"
fi
expect_run max-record-too-small 2 "--max-record" -- -r samples/normal.pcap --max-record 10

# --redact: no local part and no HELO name left, domains kept; the same key, the same hashes.
"$prog" -r samples/two-transactions.pcap --records session,transaction --redact --redact-key s3cret >"$out/r1.out" 2>/dev/null
rc=$?
"$prog" -r samples/two-transactions.pcap --records session,transaction --redact --redact-key s3cret >"$out/r2.out" 2>/dev/null
"$prog" -r samples/two-transactions.pcap --records session,transaction --redact --redact-key other >"$out/r3.out" 2>/dev/null
# the positive control: without --redact the same names are in the records
"$prog" -r samples/two-transactions.pcap --records session,transaction >"$out/r0.out" 2>/dev/null
if [ $rc -eq 0 ] && [ -s "$out/r1.out" ] && ! grep -Eq 'sender@|alice@|bob@|client\.smtptrace\.test' "$out/r1.out" &&
	[ "$(grep -Eo 'sender@|alice@|bob@|client\.smtptrace\.test' "$out/r0.out" | sort -u | wc -l)" -eq 4 ] &&
	grep -q '@example.org>' "$out/r1.out" && grep -q '"helo":"h-[0-9a-f]\{16\}"' "$out/r1.out" &&
	cmp -s "$out/r1.out" "$out/r2.out" && ! cmp -s "$out/r1.out" "$out/r3.out"; then
	pass "cli redact"
else
	fail "cli redact (exit $rc)"
fi

# smtp_command: one record per command with its reply, pipelined or not, its latency; AUTH
# keeps its mechanism, never the credential that followed it on the line.
"$prog" -r samples/pipelining.pcap --records command >"$out/cmd.out" 2>/dev/null
rc=$?
if [ $rc -eq 0 ] && python3 - "$out/cmd.out" <<'PY'; then
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert all(r["event_type"] == "smtp_command" for r in recs)
got = [(c["seq"], c["verb"], c.get("args"), c["pipelined"], c["reply"]["code"], c["reply"].get("enhanced"))
       for c in (r["smtp_command"] for r in recs)]
want = [(0, "EHLO", "client.smtptrace.test", False, 250, None),
        (1, "MAIL", "FROM:<sender@example.org>", False, 250, "2.1.0"),
        (2, "RCPT", "TO:<alice@smtptrace.test>", True, 250, "2.1.5"),
        (3, "DATA", None, True, 354, None),
        (4, "QUIT", None, False, 221, "2.0.0")]
assert got == want, got
assert all(r["smtp_command"]["latency_ms"] >= 0 for r in recs)
assert len({r["flow_id"] for r in recs}) == 1 and recs[0]["timestamp"] < recs[-1]["timestamp"]
PY
	pass "cli command-records"
else
	fail "cli command-records (exit $rc)"
fi
"$prog" -r samples/auth-refused.pcap --records session,transaction,command >"$out/cmd.out" 2>/dev/null
rc=$?
if [ $rc -eq 0 ] && grep -q '"verb":"AUTH","args":"PLAIN","pipelined":false,"reply":{"code":503' "$out/cmd.out" &&
	strings samples/auth-refused.pcap | grep -q 'AUTH PLAIN AGZha2V1c2VyAGZha2VwYXNz' &&
	! grep -q 'AGZha2V1c2VyAGZha2VwYXNz' "$out/cmd.out"; then
	pass "cli command-records-no-credentials"
else
	fail "cli command-records-no-credentials (exit $rc)"
fi

# Records of two runs, the stats record's clock and memory fields aside.
ot_strip() { sed -E 's/"timestamp":"[^"]*","event_type":"stats"/"event_type":"stats"/; s/"uptime":[0-9.e+-]*,//; s/"peak_rss_kib":[0-9]*//'; }

# --shard I/N: the union of the three shards' records is the single run's, byte for byte after
# sorting (each connection in exactly one shard, with the same flow_id).
if "$build/tools/mkbench" -s 20M "$out/shard.pcap" >/dev/null 2>&1; then
	"$prog" -r "$out/shard.pcap" -r samples/two-transactions.pcap -r samples/ipv6.pcap --records session,transaction -q |
		LC_ALL=C sort >"$out/shard.all"
	for i in 0 1 2; do
		"$prog" -r "$out/shard.pcap" -r samples/two-transactions.pcap -r samples/ipv6.pcap --records session,transaction -q --shard $i/3 >"$out/shard.$i"
	done
	LC_ALL=C sort "$out/shard.0" "$out/shard.1" "$out/shard.2" >"$out/shard.union"
	n0=$(wc -l <"$out/shard.0") n1=$(wc -l <"$out/shard.1") n2=$(wc -l <"$out/shard.2")
	if [ -s "$out/shard.all" ] && cmp -s "$out/shard.all" "$out/shard.union" && [ "$n0" -gt 0 ] && [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ]; then
		pass "cli shard-union ($(wc -l <"$out/shard.all") records: $n0 + $n1 + $n2)"
	else
		fail "cli shard-union ($(wc -l <"$out/shard.all") records in all, $n0 + $n1 + $n2 in the shards)"
	fi
	# session records built on the writer thread: the bytes and order the analysis thread writes
	# with --one-thread, with every record type, redacted and cut to a small --max-record too
	for opts in "" "--redact --redact-key k1 --max-record 2048"; do
		"$prog" -q -r "$out/shard.pcap" -r samples/two-transactions.pcap $opts \
			--records session,transaction,command,flow,stats -o "$out/bw.json"
		rc_w=$?
		"$prog" -q -r "$out/shard.pcap" -r samples/two-transactions.pcap $opts --one-thread \
			--records session,transaction,command,flow,stats -o "$out/b1.json"
		rc_1=$?
		n_b=$(grep -c '"event_type":"smtp_session"' "$out/b1.json")
		if [ $rc_w -eq 0 ] && [ $rc_1 -eq 0 ] && [ "$n_b" -ge 700 ] &&
			ot_strip <"$out/bw.json" >"$out/bw.s" && ot_strip <"$out/b1.json" >"$out/b1.s" &&
			cmp -s "$out/bw.s" "$out/b1.s"; then
			pass "cli writer-builds-sessions${opts:+-redact} ($n_b sessions, $(wc -l <"$out/b1.json") records, the same bytes)"
		else
			fail "cli writer-builds-sessions${opts:+-redact} (exit $rc_w and $rc_1, $n_b sessions, or they differ)"
		fi
		rm -f "$out/bw.json" "$out/b1.json" "$out/bw.s" "$out/b1.s"
	done
	rm -f "$out/shard.pcap" "$out/shard.all" "$out/shard.union" "$out/shard.0" "$out/shard.1" "$out/shard.2"
else
	fail "cli shard-union (mkbench could not make the capture)"
fi
expect_run shard-bad 2 "--shard: give I/N" -- -r samples/normal.pcap --shard 3/3

# make bench's dump floor (tests/tools/dumpfloor.c) times jansson re-dumping smtptrace's own
# records: it must read every record and give back exactly the bytes smtptrace wrote, or the
# floor would time some other text.
if "$build/tools/mkbench" -s 4M "$out/floor.pcap" >/dev/null 2>&1 &&
	"$prog" -r "$out/floor.pcap" -r samples/two-transactions.pcap --records session,transaction,stats >"$out/floor.json" 2>/dev/null; then
	"$build/tools/dumpfloor" "$out/floor.json" >"$out/floor.out"
	rc=$?
	read -r f_records f_bytes f_secs <"$out/floor.out"
	lines=$(wc -l <"$out/floor.json") size=$(wc -c <"$out/floor.json")
	if [ "$rc" -eq 0 ] && [ "$lines" -gt 100 ] && [ "$f_records" = "$lines" ] && [ "$f_bytes" = "$size" ] && [ -n "$f_secs" ]; then
		pass "cli bench-dump-floor ($lines records, $size bytes re-dumped the same)"
	else
		fail "cli bench-dump-floor (exit $rc: '$f_records $f_bytes' for $lines records of $size bytes)"
	fi
else
	fail "cli bench-dump-floor (no capture or no records)"
fi
rm -f "$out/floor.pcap" "$out/floor.json" "$out/floor.out"

# flow records: connections that never carried SMTP, only with --records flow.
"$prog" -r samples/scanners.pcap --records session,flow >"$out/flow.out" 2>/dev/null
rc=$?
"$prog" -r samples/scanners.pcap >"$out/noflow.out" 2>/dev/null
if [ $rc -eq 0 ] && python3 - "$out/flow.out" "$out/noflow.out" <<'PY'; then
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
kinds = collections.Counter(r["flow"]["outcome"] for r in recs if r["event_type"] == "flow")
assert kinds == {"refused": 3, "no_handshake": 2, "no_smtp": 2}, kinds
assert [r["event_type"] for r in recs].count("smtp_session") == 1
assert all("app_proto" not in r for r in recs if r["event_type"] == "flow")
plain = [json.loads(l) for l in open(sys.argv[2])]
assert [r["event_type"] for r in plain] == ["smtp_session", "stats"], plain
f = plain[-1]["stats"]["flows"]
assert (f["refused"], f["no_handshake"], f["no_smtp"]) == (3, 2, 2), f
PY
	pass "cli flow-records"
else
	fail "cli flow-records (exit $rc)"
fi

# The records these checks made go to the suite's collector (tests/run-tests.sh), which
# validates every line against the JSON Schema at the end (tests/schema-tests.sh); the files
# that hold something else on purpose (keep.json's earlier line, the --eve-strict run checked
# against Suricata's own schema above) are left out.
for f in s.out p.out two.out all-records.json tx.out cmd.out flow.out noflow.out r1.out r3.out \
	big.out z.json; do
	[ -f "$out/$f" ] && cat "$out/$f" >>"${SMTPTRACE_TEST_RECORDS:-/dev/null}"
done

# -U: each record leaves in a write of its own as its session ends (strace counts the writes
# of records, -f: in the writer thread too); without it, records of a file input leave in
# batches.
if command -v strace >/dev/null 2>&1; then
	for u in -U ""; do
		# shellcheck disable=SC2086
		strace -f -e trace=write -s 20 -o "$out/strace.$u" "$prog" -r samples/two-transactions.pcap \
			--records session,transaction,stats $u -o "$out/u.json" --overwrite 2>/dev/null
	done
	n_u=$(grep -c '^[0-9 ]*write([0-9]*, "{\\"timestamp' "$out/strace.-U")
	n_plain=$(grep -c '^[0-9 ]*write([0-9]*, "{\\"timestamp' "$out/strace.")
	if [ "$n_u" -eq 4 ] && [ "$(wc -l <"$out/u.json")" -eq 4 ] && [ "$n_plain" -lt 4 ]; then
		pass "cli packet-buffered (4 records in $n_u writes with -U, $n_plain without)"
	else
		fail "cli packet-buffered ($n_u writes with -U, $n_plain without)"
	fi
else
	skip "cli packet-buffered" "strace not installed"
fi

# --one-thread: the records the analysis thread writes itself are those of the writer thread,
# byte for byte and in the same order (the stats record's clock fields aside).
"$prog" -q -r samples/pipelining.pcap -r samples/bdat.pcap -r samples/two-transactions.pcap \
	--records session,transaction,command,flow,stats >"$out/ot-w.json" 2>&1
rc_w=$?
"$prog" -q -r samples/pipelining.pcap -r samples/bdat.pcap -r samples/two-transactions.pcap \
	--records session,transaction,command,flow,stats --one-thread >"$out/ot-1.json" 2>&1
rc_1=$?
n_ot=$(grep -c '"event_type"' "$out/ot-1.json")
if [ $rc_w -eq 0 ] && [ $rc_1 -eq 0 ] && [ "$n_ot" -ge 8 ] &&
	ot_strip <"$out/ot-w.json" >"$out/ot-w.s" && ot_strip <"$out/ot-1.json" >"$out/ot-1.s" &&
	cmp -s "$out/ot-w.s" "$out/ot-1.s"; then
	pass "cli one-thread ($n_ot records, the same bytes)"
else
	fail "cli one-thread (exit $rc_w and $rc_1, $n_ot records, or they differ)"
fi

# SMTPTRACE_TRACE: every change of the client's reading mode, one line "old -> new" on stderr.
# The positive control is normal.pcap's exact trace; over every sample no change is one the
# model does not expect; without the variable, nothing.
SMTPTRACE_TRACE=1 "$prog" -q -r samples/normal.pcap >/dev/null 2>"$out/mode.err"
rc=$?
printf '%s\n' "smtptrace: client mode command -> hold at client byte 92" \
	"smtptrace: client mode hold -> text at client byte 98" \
	"smtptrace: client mode text -> command at client byte 222" >"$out/mode.want"
if [ "$rc" -eq 0 ] && cmp -s "$out/mode.err" "$out/mode.want"; then
	pass "cli mode-trace"
else
	fail "cli mode-trace (exit $rc: $(head -c 300 "$out/mode.err"))"
fi
for f in samples/*.pcap; do SMTPTRACE_TRACE=1 "$prog" -q -r "$f" 2>&1 >/dev/null; done >"$out/mode-all.err"
n_changes=$(grep -c ' client mode .* -> ' "$out/mode-all.err")
if [ "$n_changes" -gt 100 ] && ! grep -q 'unexpected' "$out/mode-all.err"; then
	pass "cli mode-trace-all-expected ($n_changes changes)"
else
	fail "cli mode-trace-all-expected ($n_changes changes: $(grep -m1 unexpected "$out/mode-all.err"))"
fi
"$prog" -q -r samples/normal.pcap >/dev/null 2>"$out/mode.err"
rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$out/mode.err" ]; then
	pass "cli mode-trace-off"
else
	fail "cli mode-trace-off (exit $rc)"
fi
