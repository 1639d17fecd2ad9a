# shipper-tests: real log shippers take smtptrace's records. rsyslog (Debian's package: imfile
# and mmjsonparse) runs in the foreground as docs/examples/rsyslog-smtptrace.conf configures
# it, with a private work directory, pid file and paths (never the system's configuration or
# daemon), over smtptrace's output for every sample plus a record over 8 KiB; each record it
# writes back must equal smtptrace's, field by field and type by type. A second run without
# the example's maxMessageSize shows what rsyslog's 8 KiB default does to the long record.
# syslog-ng (json-parser) gets the same in `make check-syslog-ng`: `sh tests/shipper-tests.sh
# syslog-ng` (Debian's rsyslog and syslog-ng packages replace each other).
# Sourced by tests/run-tests.sh (uses pass, fail, skip, $prog, $build, $out); a shipper that
# cannot run is a skip, never a pass.

shp_mode=rsyslog
if ! command -v pass >/dev/null 2>&1; then
	cd "$(dirname "$0")/.." || exit 2
	shp_mode=${1:-rsyslog}
	prog=${2:-./smtptrace}
	build=${3:-build/opt}
	. tests/alone.sh
	shp_alone=1
fi
shp_dir=$out/shipper
shp_py=/usr/bin/python3
shp_check=tests/shipper-check.py
rm -rf "$shp_dir"
mkdir -p "$shp_dir"

# shp_big_dialogue: a dialogue script of one session with 200 long recipients: a record of
# about 24 KB (each recipient twice: smtp.rcpt_to and the transaction's rcpt_to).
shp_big_dialogue() {
	printf '%s\n' 'S: 220 mx.example.net ESMTP\r\n' 'C: EHLO client.example\r\n' \
		'S: 250-mx.example.net\r\n' 'S+ 250 8BITMIME\r\n' 'C: MAIL FROM:<a@example.org>\r\n' \
		'S: 250 2.1.0 Ok\r\n'
	i=1
	while [ $i -le 200 ]; do
		printf 'C: RCPT TO:<recipient-number-%d@a-rather-long-domain-name.example>\\r\\n\n' $i
		printf '%s\n' 'S: 250 2.1.5 Ok\r\n'
		i=$((i + 1))
	done
	printf '%s\n' 'C: DATA\r\n' 'S: 354 go ahead\r\n' 'C: Subject: many\r\n' 'C+ \r\n' \
		'C+ Hello.\r\n' 'C+ .\r\n' 'S: 250 2.0.0 Ok: queued as 1A2B\r\n' 'C: QUIT\r\n' \
		'S: 221 2.0.0 Bye\r\n' 'FIN S' 'FIN C' 'ACK S'
}

# shp_input FILE: smtptrace's records over every sample, one with --trace (its arrays of
# verbs and codes), one in --eve-strict's shape, then the long one. Every record type that
# --help lists for --records is asked for (the default types when that is refused). Fails
# (status 1) when smtptrace does.
shp_input() {
	shp_records=$("$prog" --help 2>/dev/null | tr '\n' ' ' |
		sed -n 's/.*record types, comma-separated: \([a-z, ]*\).*/\1/p' | tr -d ' ')
	[ -n "$shp_records" ] && shp_records="--records $shp_records"
	# shellcheck disable=SC2086
	[ -n "$shp_records" ] && ! "$prog" -r samples/normal.pcap $shp_records >/dev/null 2>&1 && shp_records=
	: >"$1"
	for shp_f in samples/*.pcap; do
		# shellcheck disable=SC2086
		"$prog" -r "$shp_f" $shp_records >>"$1" 2>/dev/null || return 1
	done
	# shellcheck disable=SC2086
	"$prog" -r samples/normal.pcap --trace $shp_records >>"$1" 2>/dev/null || return 1
	if "$prog" --help 2>/dev/null | grep -q -- '--eve-strict'; then
		"$prog" -r samples/two-transactions.pcap --eve-strict >>"$1" 2>/dev/null || return 1
	fi
	shp_big_dialogue >"$shp_dir/big.dlg"
	"$build/tools/dialogue" "$shp_dir/big.dlg" "$shp_dir/big.pcap" >/dev/null || return 1
	# shellcheck disable=SC2086
	"$prog" -r "$shp_dir/big.pcap" $shp_records 'tcp port 40000' >"$shp_dir/big.json" || return 1
	cat "$shp_dir/big.json" >>"$1"
	cat "$shp_dir/big.json" >>"${SMTPTRACE_TEST_RECORDS:-/dev/null}"
}

# shp_wait FILE... -- N PID: until the FILEs hold N lines together (30 s at most), or PID ends.
shp_wait() {
	shp_files=
	while [ "$1" != -- ]; do
		shp_files="$shp_files $1"
		shift
	done
	shp_n=$2 shp_pid=$3 shp_t=0
	while [ $shp_t -lt 150 ] && kill -0 "$shp_pid" 2>/dev/null; do
		# shellcheck disable=SC2086
		[ "$(cat $shp_files 2>/dev/null | wc -l)" -ge "$shp_n" ] && return 0
		sleep 0.2
		shp_t=$((shp_t + 1))
	done
	return 1
}

# shp_serve NAME LINES OUTPUT... -- DAEMON...: runs DAEMON (in the foreground, in the
# background of this shell) until the OUTPUT files of $shp_run hold LINES lines together, then
# stops it; fails NAME when they do not after 30 s.
shp_serve() {
	shp_name=$1 shp_lines=$2
	shift 2
	shp_outs=
	while [ "$1" != -- ]; do
		shp_outs="$shp_outs $shp_run/$1"
		shift
	done
	shift
	"$@" >"$shp_run/daemon.out" 2>&1 &
	shp_pid=$!
	# shellcheck disable=SC2086
	shp_wait $shp_outs -- "$shp_lines" "$shp_pid"
	shp_rc=$?
	kill "$shp_pid" 2>/dev/null
	wait "$shp_pid" 2>/dev/null
	# shellcheck disable=SC2086
	touch $shp_outs
	if [ $shp_rc -ne 0 ]; then
		# shellcheck disable=SC2086
		fail "$shp_name (after 30 s: $(cat $shp_outs | wc -l) of $shp_lines lines out; $(head -c 300 "$shp_run/daemon.out"))"
		return 1
	fi
}

# shp_rsyslog NAME SENT CONFIG_SED: rsyslogd -n on the example configuration edited by
# CONFIG_SED, reading SENT, until all its lines are out (parsed.json or unparsed.log).
shp_rsyslog() {
	shp_run=$shp_dir/$1
	mkdir -p "$shp_run/work"
	cp "$2" "$shp_run/records.json"
	{
		echo "global(workDirectory=\"$shp_run/work\")"
		sed -e "s|/var/log/smtptrace|$shp_run|g" -e "$3" docs/examples/rsyslog-smtptrace.conf
	} >"$shp_run/rsyslog.conf"
	if ! rsyslogd -N1 -f "$shp_run/rsyslog.conf" >"$shp_run/check.out" 2>&1; then
		fail "shipper rsyslog $1 config (rsyslogd -N1: $(grep -i error "$shp_run/check.out" | head -2))"
		return 1
	fi
	shp_serve "shipper rsyslog $1" "$(wc -l <"$2")" parsed.json unparsed.log -- \
		rsyslogd -n -f "$shp_run/rsyslog.conf" -i "$shp_run/rsyslogd.pid"
}

# shp_syslog_ng SENT: syslog-ng -F on the example configuration (its paths private, files
# flushed at once), reading SENT, until every line is out of both outputs.
shp_syslog_ng() {
	shp_run=$shp_dir/syslog-ng
	mkdir -p "$shp_run"
	cp "$1" "$shp_run/records.json"
	{
		echo "@version: 3.38"
		echo "options { stats-freq(0); flush-lines(1); };"
		sed -e "s|/var/log/smtptrace|$shp_run|g" docs/examples/syslog-ng-smtptrace.conf
	} >"$shp_run/syslog-ng.conf"
	if ! syslog-ng -s -f "$shp_run/syslog-ng.conf" >"$shp_run/check.out" 2>&1; then
		fail "shipper syslog-ng config (syslog-ng -s: $(head -c 300 "$shp_run/check.out"))"
		return 1
	fi
	shp_lines=$(wc -l <"$1")
	shp_serve "shipper syslog-ng" $((2 * shp_lines)) parsed.json records-kept.json unparsed.log -- \
		syslog-ng -F --no-caps -f "$shp_run/syslog-ng.conf" -p "$shp_run/syslog-ng.pid" \
		-R "$shp_run/syslog-ng.persist" -c "$shp_run/syslog-ng.ctl"
}

# shp_result NAME CMD...: pass or fail by CMD's status, its last line in the name.
shp_result() {
	shp_name=$1
	shift
	if "$@" >"$shp_dir/check.out" 2>&1; then
		pass "$shp_name: $(tail -1 "$shp_dir/check.out")"
		grep '^changed:' "$shp_dir/check.out" | cut -c1-400 | sed 's/^/    /'
	else
		fail "$shp_name"
		head -20 "$shp_dir/check.out" | cut -c1-300 | sed 's/^/    /'
	fi
}

# shp_verify LABEL NAME MODE ALTER_SED: $shp_run/parsed.json against sent.json (MODE of
# shipper-check.py); the same with its first line altered by ALTER_SED must fail (the check
# can fail); and nothing in $shp_run/unparsed.log.
shp_verify() {
	shp_result "$1 $2" "$shp_py" "$shp_check" "$3" "$shp_dir/sent.json" "$shp_run/parsed.json"
	sed "$4" "$shp_run/parsed.json" >"$shp_dir/altered.json"
	if cmp -s "$shp_run/parsed.json" "$shp_dir/altered.json" ||
		"$shp_py" "$shp_check" "$3" "$shp_dir/sent.json" "$shp_dir/altered.json" >/dev/null 2>&1; then
		fail "$1 compare-sees-a-change (an altered record passed)"
	else
		pass "$1 compare-sees-a-change"
	fi
	if [ -s "$shp_run/unparsed.log" ]; then
		fail "$1 nothing-unparsed ($(wc -l <"$shp_run/unparsed.log") lines)"
	else
		pass "$1 nothing-unparsed"
	fi
}

# The examples for the shippers that cannot run here: each parses (YAML, TOML, JSON), says it
# is untested, and reads the file the tested ones read.
shp_examples() {
	if "$shp_py" -c 'import json, sys, tomllib, yaml
bad = []
for path in sys.argv[1:]:
    text = open(path).read()
    if path.endswith((".yml", ".yaml")):
        yaml.safe_load(text)
    elif path.endswith(".toml"):
        tomllib.loads(text)
    if "UNTESTED: cannot run here" not in text:
        bad.append(path + ": not marked untested")
    if "/var/log/smtptrace/records.json" not in text:
        bad.append(path + ": does not read /var/log/smtptrace/records.json")
json.load(open("docs/examples/elasticsearch-template.json"))
print("\n".join(bad))
sys.exit(1 if bad else 0)' docs/examples/filebeat.yml docs/examples/fluent-bit.yaml \
		docs/examples/vector.toml docs/examples/logstash.conf >"$shp_dir/examples.out" 2>&1; then
		pass "shipper examples-parse"
	else
		fail "shipper examples-parse"
		tail -5 "$shp_dir/examples.out" | sed 's/^/    /'
	fi
}

shp_test_rsyslog() {
	shp_examples
	if ! command -v rsyslogd >/dev/null 2>&1 ||
		! ls /usr/lib/*/rsyslog/imfile.so /usr/lib/*/rsyslog/mmjsonparse.so >/dev/null 2>&1; then
		skip "shipper rsyslog" "rsyslog with imfile and mmjsonparse not installed"
		return
	fi
	if ! rsyslogd -v >/dev/null 2>&1; then
		skip "shipper rsyslog" "rsyslogd -v fails: cannot run here"
		return
	fi
	if ! shp_input "$shp_dir/sent.json"; then
		fail "shipper rsyslog (smtptrace could not write the records)"
		return
	fi
	# The example as a user runs it, maxMessageSize raised: every record, parsed, intact.
	if shp_rsyslog big-limit "$shp_dir/sent.json" ''; then
		shp_verify "shipper rsyslog" records-intact exact '1s/"src_port":\([0-9]*\)/"src_port":"\1"/'
	fi
	# rsyslog's default limit: each record over 8096 bytes is cut to its first 8096 bytes
	# and not parsed; the records around them arrive whole.
	{
		head -1 "$shp_dir/sent.json"
		cat "$shp_dir/big.json"
		head -2 "$shp_dir/sent.json" | tail -1
	} >"$shp_dir/sent-8k.json"
	if shp_rsyslog default-limit "$shp_dir/sent-8k.json" '/^global(maxMessageSize=/d'; then
		awk 'length($0) <= 8096' "$shp_dir/sent-8k.json" >"$shp_dir/sent-8k-short.json"
		shp_result "shipper rsyslog default-8k-others-intact" "$shp_py" "$shp_check" exact \
			"$shp_dir/sent-8k-short.json" "$shp_dir/default-limit/parsed.json"
		shp_result "shipper rsyslog default-8k-cuts-long-records" "$shp_py" "$shp_check" cut \
			"$shp_dir/sent-8k.json" "$shp_dir/default-limit/unparsed.log" 8096
	fi
}

shp_test_syslog_ng() {
	if ! command -v syslog-ng >/dev/null 2>&1; then
		skip "shipper syslog-ng" "syslog-ng not installed (make check-syslog-ng installs it)"
		return
	fi
	if ! syslog-ng --version >/dev/null 2>&1; then
		skip "shipper syslog-ng" "syslog-ng --version fails: cannot run here"
		return
	fi
	if ! shp_input "$shp_dir/sent.json"; then
		fail "shipper syslog-ng (smtptrace could not write the records)"
		return
	fi
	shp_syslog_ng "$shp_dir/sent.json" || return
	shp_result "shipper syslog-ng records-kept-intact" \
		"$shp_py" "$shp_check" exact "$shp_dir/sent.json" "$shp_run/records-kept.json"
	shp_verify "shipper syslog-ng" parsed-fields-as-strings strings \
		'1s/"outcome":"[a-z_]*"/"outcome":"bogus"/'
}

case $shp_mode in
rsyslog) shp_test_rsyslog ;;
syslog-ng) shp_test_syslog_ng ;;
*) fail "shipper (unknown shipper $shp_mode)" ;;
esac

if [ -n "${shp_alone:-}" ]; then
	alone_end
fi
