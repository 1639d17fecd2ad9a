# cli-tests: command-line behaviour, sourced by tests/run-tests.sh (uses pass, fail, $prog,
# $out). Exit codes: 0 success, 1 runtime error, 2 usage error or unreadable input; every
# error is one line naming the file and the cause.

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
expect_run version 0 "" -- --version
grep -q '^smtptrace [0-9]' "$out/cli.out" && pass "cli version-line" || fail "cli version-line"

# A file cut in the middle of its last record: the sessions before the damage are still
# written, then one warning line, and the exit status says the input was damaged.
expect_run truncated-record 2 "$out/truncated.pcap: " -- -r "$out/truncated.pcap"
if [ "$(wc -l <"$out/cli.out")" -eq 1 ] && grep -q '"smtp_session"' "$out/cli.out"; then
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
"$prog" -r samples/normal.pcap -o "$out/o.json" >"$out/cli.out" 2>&1
if [ -s "$out/o.json" ] && [ ! -s "$out/cli.out" ]; then pass "cli output-file"; else fail "cli output-file"; fi
"$prog" -r samples/normal.pcap -r samples/ipv6.pcap >"$out/two.out" 2>/dev/null
if [ "$(wc -l <"$out/two.out")" -eq 2 ] && head -1 "$out/two.out" | grep -q '"src_ip":"127.0.0.1"' &&
	tail -1 "$out/two.out" | grep -q '"src_ip":"::1"'; then
	pass "cli two-inputs-in-order"
else
	fail "cli two-inputs-in-order"
fi
# --ports: a port list without 2525 sees nothing in the samples; the BPF filter likewise.
"$prog" -r samples/normal.pcap --ports 25 >"$out/p.out" 2>/dev/null
[ ! -s "$out/p.out" ] && pass "cli ports-excludes" || fail "cli ports-excludes"
"$prog" -r samples/normal.pcap "tcp port 9999" >"$out/p.out" 2>/dev/null
[ ! -s "$out/p.out" ] && pass "cli bpf-excludes" || fail "cli bpf-excludes"
"$prog" -r samples/normal.pcap "tcp port 2525" >"$out/p.out" 2>/dev/null
[ "$(wc -l <"$out/p.out")" -eq 1 ] && pass "cli bpf-includes" || fail "cli bpf-includes"
# Every line of every sample is valid JSON (python3's parser, independent of jansson).
for f in samples/*.pcap; do "$prog" -r "$f"; done >"$out/all.json" 2>/dev/null
if python3 -c 'import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$out/all.json"; then
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
