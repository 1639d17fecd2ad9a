# kafka-tests: the Kafka sink (--kafka-brokers, --kafka-topic) against librdkafka's mock
# cluster (tests/tools/kafkamock.c: brokers on localhost ports), sourced by tests/run-tests.sh
# (uses pass, fail, skip, $prog, $build, $out). Every record comes back intact and keyed by its
# Community ID; brokers that go away, or were never there, give counted failures and drops
# (delivered + failed + dropped = written) within a bounded time; SIGTERM flushes.

kafka_names="kafka-roundtrip kafka-stats-output kafka-keys kafka-roundtrip-asan kafka-usage kafka-broker-down kafka-no-broker kafka-sigterm"

# km_start TOPIC: starts the mock cluster (commands on fd 8); its bootstrap list in km_bs.
km_start() {
	rm -f "$out/km.ctl" "$out/km.out"
	mkfifo "$out/km.ctl"
	"$build/tools/kafkamock" "$1" 4 <"$out/km.ctl" >"$out/km.out" 2>"$out/km.err" &
	km_pid=$!
	exec 8>"$out/km.ctl"
	for _ in $(seq 50); do
		[ -s "$out/km.out" ] && break
		sleep 0.1
	done
	km_bs=$(head -n1 "$out/km.out")
}

km_cmd() { echo "$1" >&8; }

# km_dump: ends the mock's input; every message, "partition TAB key TAB value", in km.msgs and
# the values alone, sorted, without stats records, in km.values.
km_dump() {
	exec 8>&-
	wait "$km_pid"
	km_rc=$?
	tail -n +2 "$out/km.out" >"$out/km.msgs"
	cut -f3- "$out/km.msgs" | grep -v '"event_type":"stats"' | LC_ALL=C sort >"$out/km.values"
}

# no_stats FILE...: the records without the stats records, sorted.
no_stats() { cat "$@" | grep -v '"event_type":"stats"' | LC_ALL=C sort; }

# check_keys: every message's key is its record's community_id (none for stats records), and
# the records of one key are in one partition. Prints "ok N" or what is wrong.
check_keys() {
	python3 - "$out/km.msgs" <<'PY'
import json, sys
parts, n, bad = {}, 0, []
for line in open(sys.argv[1], encoding="utf-8"):
    p, k, v = line.rstrip("\n").split("\t", 2)
    rec = json.loads(v)
    want = rec.get("community_id", "")
    if k != want:
        bad.append("key %r for community_id %r" % (k, want))
    if k:
        parts.setdefault(k, set()).add(p)
    n += 1
bad += ["key %s in partitions %s" % (k, sorted(s)) for k, s in parts.items() if len(s) > 1]
print("ok %d" % n if not bad and n else "bad %d: %s" % (n, "; ".join(bad[:3])))
PY
}

# kafka_counts FILE: "written delivered failed dropped" from the sink's closing line, or "".
kafka_counts() {
	sed -n 's/.*kafka: [0-9]* of \([0-9]*\) records not delivered .* (\([0-9]*\) failed, \([0-9]*\) dropped; \([0-9]*\) delivered)$/\1 \4 \2 \3/p' "$1" | head -n1
}

# pcap_split IN HEAD TAIL: the global header and the first half of IN's packets into HEAD, the
# rest into TAIL (HEAD then TAIL is IN again).
pcap_split() {
	python3 - "$@" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
e = "<" if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
offs, off = [], 24
while off + 16 <= len(d):
    offs.append(off)
    off += 16 + struct.unpack(e + "I", d[off + 8:off + 12])[0]
cut = offs[len(offs) // 2]
open(sys.argv[2], "wb").write(d[:cut])
open(sys.argv[3], "wb").write(d[cut:])
PY
}

kafka_roundtrip() {
	recs="--records session,transaction,stats"
	: >"$out/kref.json"
	for s in two-transactions normal; do
		# shellcheck disable=SC2086
		"$prog" -r samples/$s.pcap $recs -o "$out/kref-$s.json" 2>/dev/null
		cat "$out/kref-$s.json" >>"$out/kref.json"
	done
	km_start smtp
	rc=0
	: >"$out/kafka.err"
	for s in two-transactions normal; do
		# shellcheck disable=SC2086
		timeout 60 "$prog" -r samples/$s.pcap $recs --kafka-brokers "$km_bs" --kafka-topic smtp \
			2>>"$out/kafka.err" >"$out/kafka.out" || rc=$?
	done
	km_dump
	no_stats "$out/kref.json" >"$out/kref.values"
	stats=$(grep -c '"event_type":"stats"' "$out/km.msgs")
	if [ "$rc" -eq 0 ] && [ "$km_rc" -eq 0 ] && [ ! -s "$out/kafka.err" ] && [ ! -s "$out/kafka.out" ] &&
		[ -s "$out/kref.values" ] && cmp -s "$out/km.values" "$out/kref.values" && [ "$stats" -eq 2 ]; then
		pass "kafka-roundtrip ($(wc -l <"$out/km.msgs") records back intact)"
	else
		fail "kafka-roundtrip (exit $rc, mock $km_rc, $stats stats records; $(head -c 300 "$out/kafka.err"))"
		diff "$out/kref.values" "$out/km.values" | head -6 | cut -c1-200 | sed 's/^/    /'
	fi
	# the stats record counts what the sink did with the records before it: all written,
	# none failed or dropped (delivered or still in flight when it was written)
	if python3 - "$out/km.msgs" <<'PY'; then
import json, sys
for line in open(sys.argv[1]):
    v = line.rstrip("\n").split("\t", 2)[2]  # partition, key (none for stats), value
    if '"event_type":"stats"' not in v:
        continue
    o = json.loads(v)["stats"]["output"]
    assert o["failed"] == 0 and o["dropped"] == 0, o
    assert o["written"] >= 1 and o["written"] == o["delivered"] + o["in_flight"], o
PY
		pass "kafka-stats-output (the stats record counts the sink's deliveries and drops)"
	else
		fail "kafka-stats-output"
	fi
	keys=$(check_keys)
	case "$keys" in
	ok*) pass "kafka-keys (${keys#ok } messages keyed by community_id, one partition per key)" ;;
	*) fail "kafka-keys ($keys)" ;;
	esac
}

# The same under AddressSanitizer and UndefinedBehaviorSanitizer.
kafka_roundtrip_asan() {
	if [ ! -x build/san/smtptrace ]; then
		skip kafka-roundtrip-asan "build/san/smtptrace not built (make SAN=1)"
		return
	fi
	km_start smtp
	ASAN_OPTIONS=detect_leaks=1 timeout 60 build/san/smtptrace -r samples/two-transactions.pcap \
		--records session,transaction,stats --kafka-brokers "$km_bs" --kafka-topic smtp \
		>/dev/null 2>"$out/kafka.err"
	rc=$?
	km_dump
	no_stats "$out/kref-two-transactions.json" >"$out/kref.values"
	if [ "$rc" -eq 0 ] && [ ! -s "$out/kafka.err" ] && cmp -s "$out/km.values" "$out/kref.values"; then
		pass "kafka-roundtrip-asan"
	else
		fail "kafka-roundtrip-asan (exit $rc; $(head -c 300 "$out/kafka.err"))"
	fi
}

kafka_usage() {
	ok=1
	for args in "--kafka-brokers 127.0.0.1:1" "--kafka-topic smtp" \
		"--kafka-brokers 127.0.0.1:1 --kafka-topic smtp -o $out/x.json"; do
		# shellcheck disable=SC2086
		"$prog" -r samples/normal.pcap $args >"$out/kafka.out" 2>"$out/kafka.err"
		rc=$?
		[ "$rc" -eq 2 ] && grep -q 'give --kafka-brokers and --kafka-topic together' "$out/kafka.err" || ok=0
	done
	"$prog" -r samples/normal.pcap --kafka-brokers 127.0.0.1:1 --kafka-topic 'no/such topic' \
		>"$out/kafka.out" 2>"$out/kafka.err"
	rc=$?
	[ "$rc" -eq 2 ] && grep -q "is not a Kafka topic name" "$out/kafka.err" || ok=0
	"$prog" -i lo --workers 2 --kafka-brokers 127.0.0.1:1 --kafka-topic smtp >"$out/kafka.out" 2>"$out/kafka.err"
	rc=$?
	[ "$rc" -eq 2 ] && grep -q "not with --workers" "$out/kafka.err" || ok=0
	SMTPTRACE_KAFKA_QUEUE_MAX=0 "$prog" -r samples/normal.pcap --kafka-brokers 127.0.0.1:1 \
		--kafka-topic smtp >"$out/kafka.out" 2>"$out/kafka.err"
	rc=$?
	[ "$rc" -eq 2 ] && grep -q "SMTPTRACE_KAFKA_QUEUE_MAX: give 1 to" "$out/kafka.err" || ok=0
	"$prog" --version | grep -q '^librdkafka [0-9]' || ok=0
	[ "$ok" = 1 ] && pass "kafka-usage" || fail "kafka-usage (last: exit $rc; $(head -c 200 "$out/kafka.err"))"
}

# feed_split PAUSE_CMD END ARGS...: a run fed the capture through a pipe that stays open: the
# first half, a pause (during which PAUSE_CMD runs), then with END "eof" the second half and
# the end of its input, with END "term" SIGTERM instead; rc, and took: the seconds from the end
# of its input (or the signal) to its exit.
feed_split() {
	pause_cmd=$1 end=$2
	shift 2
	rm -f "$out/kin"
	mkfifo "$out/kin"
	timeout 120 "$prog" -r "$out/kin" --records session,transaction,stats "$@" >"$out/kafka.out" 2>"$out/kafka.err" &
	pid=$!
	exec 9>"$out/kin"
	cat "$out/khead.pcap" >&9
	sleep 2
	$pause_cmd
	sleep 1
	[ "$end" = term ] || cat "$out/ktail.pcap" >&9
	start=$(date +%s)
	if [ "$end" = term ]; then kill -TERM "$pid"; else exec 9>&-; fi
	wait "$pid"
	rc=$?
	took=$(($(date +%s) - start))
	exec 9>&-
}

# All brokers go away half-way through a run fed from a pipe: the run ends within a bounded
# time after its input, exit 1, one line with the counts, and nothing lost silently: what is
# written is what the same run writes to a file, delivered + failed + dropped = written, and
# every record consumed back is one of those, whole.
kafka_broker_down() {
	feed_split : eof -o "$out/ksplit.json"
	want=$(grep -c . "$out/ksplit.json")
	km_start smtp
	feed_split "km_cmd down" eof --kafka-brokers "$km_bs" --kafka-topic smtp
	km_dump
	read -r n_w n_d n_f n_x <<EOF
$(kafka_counts "$out/kafka.err")
EOF
	got=$(grep -c . "$out/km.msgs")
	no_stats "$out/ksplit.json" >"$out/kref.values"
	extra=$(cut -f3- "$out/km.msgs" | no_stats | LC_ALL=C comm -23 - "$out/kref.values" | grep -c .)
	lines=$(grep -c . "$out/kafka.err")
	if [ "$rc" -eq 1 ] && [ "$took" -le 30 ] && [ -n "$n_x" ] && [ "$n_w" -eq "$want" ] &&
		[ $((n_d + n_f + n_x)) -eq "$n_w" ] && [ $((n_f + n_x)) -gt 0 ] && [ "$n_d" -gt 0 ] &&
		[ "$got" -ge "$n_d" ] && [ "$extra" -eq 0 ] && [ "$lines" -le 6 ]; then
		pass "kafka-broker-down ($n_w records: $n_d delivered, $n_f failed, $n_x dropped; ended ${took}s after its input)"
	else
		fail "kafka-broker-down (exit $rc after ${took}s, counts '$n_w $n_d $n_f $n_x' of $want, $got consumed, $extra not intact, $lines stderr lines)"
		head -8 "$out/kafka.err" | cut -c1-200 | sed 's/^/    /'
	fi
}

# No broker at all, and a local queue of 10 records: 10 failed (undelivered at close), the rest
# dropped, all counted, each error said once.
kafka_no_broker() {
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	start=$(date +%s)
	SMTPTRACE_KAFKA_QUEUE_MAX=10 timeout 120 "$prog" -r "$out/kbig.pcap" --records session,transaction,stats \
		--kafka-brokers "127.0.0.1:$port" --kafka-topic smtp >"$out/kafka.out" 2>"$out/kafka.err"
	rc=$?
	took=$(($(date +%s) - start))
	read -r n_w n_d n_f n_x <<EOF
$(kafka_counts "$out/kafka.err")
EOF
	lines=$(grep -c . "$out/kafka.err")
	want=$(grep -c . "$out/kbig.json")
	if [ "$rc" -eq 1 ] && [ "$took" -le 30 ] && [ -n "$n_x" ] && [ "$n_w" -eq "$want" ] && [ "$n_d" -eq 0 ] &&
		[ "$n_f" -eq 10 ] && [ "$n_x" -eq $((n_w - 10)) ] && [ "$lines" -le 5 ] &&
		grep -q "the local queue is full" "$out/kafka.err"; then
		pass "kafka-no-broker ($n_w records: $n_f failed, $n_x dropped, $lines lines on stderr, ${took}s)"
	else
		fail "kafka-no-broker (exit $rc after ${took}s, counts '$n_w $n_d $n_f $n_x' of $want, $lines stderr lines)"
		head -8 "$out/kafka.err" | cut -c1-200 | sed 's/^/    /'
	fi
}

# SIGTERM in a run fed from a pipe: the sessions it ends and the stats record are delivered,
# the same records as the same run writing to a file.
kafka_sigterm() {
	feed_split : term -o "$out/kterm.json"
	ref_rc=$rc
	no_stats "$out/kterm.json" >"$out/kref.values"
	km_start smtp
	feed_split : term --kafka-brokers "$km_bs" --kafka-topic smtp
	km_dump
	stats=$(grep -c '"event_type":"stats"' "$out/km.msgs")
	if [ "$ref_rc" -eq 0 ] && [ "$rc" -eq 0 ] && [ "$took" -le 15 ] && [ -s "$out/kref.values" ] && [ "$stats" -eq 1 ] &&
		cmp -s "$out/km.values" "$out/kref.values" && ! grep -q kafka "$out/kafka.err"; then
		pass "kafka-sigterm ($(wc -l <"$out/km.values") records and the stats record delivered, ${took}s after the signal)"
	else
		fail "kafka-sigterm (exit $rc, file run $ref_rc, $stats stats records; $(head -c 300 "$out/kafka.err"))"
		diff "$out/kref.values" "$out/km.values" | head -6 | cut -c1-200 | sed 's/^/    /'
	fi
}

if ! "$prog" --version 2>/dev/null | grep -q '^librdkafka '; then
	for t in $kafka_names; do skip "$t" "built without librdkafka"; done
elif [ ! -x "$build/tools/kafkamock" ] || ! command -v python3 >/dev/null 2>&1; then
	for t in $kafka_names; do skip "$t" "$build/tools/kafkamock or python3 missing"; done
else
	kafka_roundtrip
	kafka_roundtrip_asan
	kafka_usage
	# A capture of 18 sessions (54 records), cut in two halves at a packet boundary.
	if "$build/tools/mkbench" -s 400K -c 8 "$out/kbig.pcap" >/dev/null 2>&1 &&
		pcap_split "$out/kbig.pcap" "$out/khead.pcap" "$out/ktail.pcap"; then
		"$prog" -r "$out/kbig.pcap" --records session,transaction,stats -o "$out/kbig.json" 2>/dev/null
		kafka_broker_down
		kafka_no_broker
		kafka_sigterm
	else
		for t in kafka-broker-down kafka-no-broker kafka-sigterm; do fail "$t (no capture from mkbench)"; done
	fi
	rm -f "$out"/kbig.* "$out"/khead.pcap "$out"/ktail.pcap "$out"/kin "$out"/km.*
fi
