#!/bin/sh
# run-tests: the whole suite: unit test binaries, golden captures (tests/TESTLIST), the
# command-line checks (tests/cli-tests.sh). Ends with the line "N passed, N failed" and a
# non-zero status on any failure.
#   tests/run-tests.sh BUILD_DIR PROGRAM
set -u
build=${1:-build/opt}
prog=${2:-./smtptrace}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
passed=0
failed=0
skipped=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Every JSON line the suite's runs write is appended here; tests/schema-tests.sh validates them.
export SMTPTRACE_TEST_RECORDS="$out/records.jsonl"

pass() { passed=$((passed + 1)); echo "ok $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "skip $1 ($2)"; }

# Unit tests: each binary prints "ok NAME" or "FAIL NAME" per test.
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	"$t" >"$out/unit.out" 2>"$out/unit.err"
	rc=$?
	p=$(grep -c '^ok ' "$out/unit.out")
	f=$(grep -c '^FAIL ' "$out/unit.out")
	grep -E '^(ok|FAIL|skip) ' "$out/unit.out" | sed "s/^/$name: /"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + $(grep -c '^skip ' "$out/unit.out")))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		fail "$name (exit $rc)"
	fi
	[ "$f" -gt 0 ] || [ "$rc" -ne 0 ] && sed 's/^/    /' "$out/unit.err"
done

# Golden tests, tcpdump's TESTLIST style: name capture expected [options].
# A capture written "stdin:FILE" is fed on standard input. pcap_filename names the input as
# given, so it is left out of the comparison (tests/cli-tests.sh checks it).
# The stats record that ends every run counts packets and time, not sessions: left out of
# the comparison too (tests/live-tests.sh and cli-tests.sh check it).
strip_name() { grep -v '^{"timestamp":"[^"]*","event_type":"stats"' | sed 's/"pcap_filename":"[^"]*",//'; }

# golden LABEL RUNNER...: runs every TESTLIST case with "RUNNER... -r FILE [options]"; a
# case passes when the exit status is 0, the output is the expected one, and standard
# error holds no sanitizer or valgrind report. LIMIT, when set, runs only the first LIMIT.
golden() {
	label=$1
	shift
	n=0
	while read -r name capture expected options; do
		case "$name" in '' | '#'*) continue ;; esac
		n=$((n + 1))
		[ -n "${LIMIT:-}" ] && [ "$n" -gt "$LIMIT" ] && break
		case "$capture" in
		stdin:*) src=samples/${capture#stdin:} ;;
		*) src=samples/$capture ;;
		esac
		if [ ! -f "$src" ] || [ ! -f "tests/golden/$expected" ]; then
			fail "$label $name (missing $src or tests/golden/$expected)"
			continue
		fi
		# shellcheck disable=SC2086
		case "$capture" in
		stdin:*) "$@" -r - $options <"$src" >"$out/got" 2>"$out/err" ;;
		*) "$@" -r "$src" $options >"$out/got" 2>"$out/err" ;;
		esac
		rc=$?
		cat "$out/got" >>"${SMTPTRACE_TEST_RECORDS:-/dev/null}"
		if [ $rc -eq 0 ] && strip_name <"$out/got" | cmp -s - "tests/golden/$expected" &&
			! grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$out/err"; then
			pass "$label $name"
		else
			fail "$label $name (exit $rc)"
			strip_name <"$out/got" | diff "tests/golden/$expected" - | head -20 | cut -c1-600 | sed 's/^/    /'
			sed 's/^/    /' "$out/err" | head -8
		fi
	done <tests/TESTLIST
}

golden golden "$prog"

# The same under AddressSanitizer and UndefinedBehaviorSanitizer (make SAN=1), and a subset
# under valgrind's memcheck: no error, no leak.
if [ -x build/san/smtptrace ]; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		golden golden-asan-ubsan build/san/smtptrace
else
	skip golden-asan-ubsan "build/san/smtptrace not built (make SAN=1)"
fi
if command -v valgrind >/dev/null 2>&1; then
	LIMIT=8 golden golden-valgrind valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect "$prog"
else
	skip golden-valgrind "valgrind not installed"
fi

# Command-line behaviour: exit codes, error lines, options.
. tests/cli-tests.sh
. tests/read-ahead-tests.sh # the reader thread: the same bytes as --one-thread
. tests/detect-tests.sh # SMTP found by content on any port (analyzer/detect.c)
. tests/kafka-tests.sh # the Kafka sink against librdkafka's mock cluster

# The live sensor, end to end (tests/live/live-tests.sh: root, Postfix, namespaces): its
# "ok", "FAIL" and "skip" lines are counted as the unit tests' are.
count_lines() {	# LABEL FILE
	grep -E '^(ok|FAIL|skip) |^    ' "$2" | sed "s/^\(ok\|FAIL\|skip\) /\1 $1 /"
	passed=$((passed + $(grep -c '^ok ' "$2")))
	failed=$((failed + $(grep -c '^FAIL ' "$2")))
	skipped=$((skipped + $(grep -c '^skip ' "$2")))
}
bash tests/live/live-tests.sh "$prog" "$build" >"$out/live.out" 2>"$out/live.err"
live_rc=$?
count_lines live "$out/live.out"
sed 's/^/    /' "$out/live.err"
if [ "$live_rc" -ne 0 ] && ! grep -q '^FAIL ' "$out/live.out"; then
	fail "live (exit $live_rc)"
fi

# SMTP dialogues, each replayed whole, in one-byte segments and cut at every offset.
. tests/dialogue-tests.sh

# Impaired copies (re-segmented, reordered, duplicated, overlapping) of every golden sample
# and corpus capture must give the same verdicts as the original.
. tests/impair-tests.sh

# Copies that lost a packet or were cut by a snap length: no confident wrong verdict and no
# false anomaly beyond the baseline of tests/loss-baseline.txt (DESIGN.md section 4).
. tests/loss-tests.sh

# The bad-input matrix (tests/badinput/README.md): damaged files, absurd and lying lengths,
# floods, endless input; each case's defined result, the normal sessions kept, bounded memory.
. tests/badinput-tests.sh

# The fuzz targets' committed corpora and crash reproducers, replayed by gcc builds (no clang).
. tests/fuzz-tests.sh

# The peer corpus against Suricata, Zeek, Arkime and tshark (tests/known-differences.tsv).
. tests/conformance-tests.sh

# Every TLS session of the samples and the corpus against tshark's TLS dissector.
. tests/tls-tshark-tests.sh

# A real shipper (rsyslog: imfile, mmjsonparse) takes every record with its fields intact.
. tests/shipper-tests.sh

# The JSON Schema of the records (docs/schema/), docs/record.md against it, and every line above.
. tests/schema-tests.sh

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
