# loss-tests: verdicts on captures that lack bytes (DESIGN.md section 4, "What the capture
# lacks"). Every golden sample (tests/TESTLIST, each content once) and the reference
# connection of every dialogue (tests/dialogues, `dialogue -1`) is rewritten by
# tests/tools/pcaptool.py into copies that each lost one data-carrying packet (drop) and into
# copies cut at snap lengths 96, 120 and 200; tests/losscheck.py compares every field of
# every record of each copy with the full capture's: the same value, honestly unknown
# (`incomplete`, `unknown`, left out), inferred (named in `inferred`, and right), or WRONG;
# and counts the anomalies the full capture lacks (false anomalies; tcp_gap and midstream
# aside). One pass or fail per mode: it fails when WRONG or the false anomalies exceed the
# baseline in tests/loss-baseline.txt, which only ever goes down (the goal is zero).
#
# Sourced by tests/run-tests.sh (uses pass, fail, skip, $prog, $out, and $build when set),
# or run alone: sh tests/loss-tests.sh [PROGRAM]; LOSS_DETAILS=FILE keeps the list of wrong
# values and false anomalies.
# shellcheck disable=SC2154 # prog and out come from the script that sources this one

loss_alone=
if ! command -v pass >/dev/null 2>&1; then
	loss_alone=1
	cd "$(dirname "$0")/.." || exit 2
	prog=${1:-./smtptrace}
	. tests/alone.sh
fi

loss_dir=$out/loss
loss_dlg=${build:-build/opt}/tools/dialogue
[ -x "$loss_dlg" ] || loss_dlg=build/opt/tools/dialogue
loss_snaps="96 120 200"

# loss_captures: "ID PATH OPTIONS" for every capture: the samples of tests/TESTLIST without
# options or stdin, then every other capture in samples/ (those TESTLIST reads only with
# options, such as the two halves of time-backwards), each content once, then one capture per
# dialogue (its OPTIONS kept).
loss_captures() {
	{
		awk '!/^#/ && NF == 3 && $2 !~ /^stdin:/ { print $2 }' tests/TESTLIST
		for loss_c in samples/*.pcap samples/*.pcapng samples/*.gz; do
			[ -f "$loss_c" ] && echo "${loss_c#samples/}"
		done
	} | while read -r loss_c; do
		[ -f "samples/$loss_c" ] && echo "$(gzip -dcf "samples/$loss_c" | cksum) $loss_c"
	done | awk '!seen[$1 $2]++ { print "s" NR, "samples/" $3 }'
	loss_i=0
	for loss_f in tests/dialogues/*.dlg; do
		loss_i=$((loss_i + 1))
		"$loss_dlg" -1 "$loss_f" "$loss_dir/d$loss_i.pcap" >/dev/null 2>&1 || continue
		echo "d$loss_i $loss_dir/d$loss_i.pcap $("$loss_dlg" --options "$loss_f")"
	done
}

# loss_run CAPTURE BASE OPTIONS: smtptrace's records in BASE.json, its status in BASE.rc.
loss_run() {
	# shellcheck disable=SC2086 # options split at blanks on purpose
	"$prog" -r "$1" $3 >"$2.json" 2>/dev/null
	echo "$?" >"$2.rc"
}

# loss_make: the copies of every capture, by two pcaptool processes (one per core).
loss_make() {
	while read -r loss_id loss_f loss_o; do
		echo "drop $loss_f $loss_dir/$loss_id.drop%d.pcap"
		for loss_n in $loss_snaps; do
			echo "snap $loss_f $loss_dir/$loss_id.snap$loss_n.pcap --snaplen $loss_n"
		done
	done <"$loss_dir/ids" | awk -v d="$loss_dir" '{ print > (d "/batch" (NR % 2)) }'
	: >>"$loss_dir/batch0"
	: >>"$loss_dir/batch1"
	python3 tests/tools/pcaptool.py --batch "$loss_dir/batch0" 2>"$loss_dir/err0" &
	loss_p0=$!
	python3 tests/tools/pcaptool.py --batch "$loss_dir/batch1" 2>"$loss_dir/err1"
	wait "$loss_p0"
}

# loss_pairs: smtptrace on every capture and copy; "MODE FULL COPY" lines on stdout.
loss_pairs() {
	while read -r loss_id loss_f loss_o; do
		loss_run "$loss_f" "$loss_dir/$loss_id.full" "$loss_o"
		for loss_c in "$loss_dir/$loss_id".drop*.pcap "$loss_dir/$loss_id".snap*.pcap; do
			[ -f "$loss_c" ] || continue
			loss_b=${loss_c%.pcap}
			loss_run "$loss_c" "$loss_b" "$loss_o"
			loss_m=${loss_b##*.}
			case "$loss_m" in drop*) loss_m=drop ;; esac
			echo "$loss_m $loss_dir/$loss_id.full.json $loss_b.json"
			rm -f "$loss_c"
		done
	done <"$loss_dir/ids"
}

# loss_judge: one pass or fail per mode against tests/loss-baseline.txt.
loss_judge() {
	while read -r loss_m loss_copies loss_same loss_unk loss_inf loss_wrong loss_false; do
		loss_w=${loss_wrong#wrong=}
		loss_a=${loss_false#false_anomalies=}
		loss_base=$(awk -v m="$loss_m" '$1 == m { print $2, $3 }' tests/loss-baseline.txt)
		loss_bw=${loss_base% *}
		loss_ba=${loss_base#* }
		loss_name="loss $loss_m ($loss_copies $loss_same $loss_unk $loss_inf WRONG=$loss_w false_anomalies=$loss_a)"
		if [ -z "$loss_base" ]; then
			fail "$loss_name (no baseline for $loss_m in tests/loss-baseline.txt)"
		elif [ "${loss_same#same=}" -eq 0 ]; then
			fail "$loss_name (no field compared the same: did $prog run?)"
		elif [ "$loss_w" -gt "$loss_bw" ] || [ "$loss_a" -gt "$loss_ba" ]; then
			fail "$loss_name (baseline: WRONG=$loss_bw false_anomalies=$loss_ba)"
			grep -F ".$loss_m" "$loss_dir/details" | head -12 | sed "s|$loss_dir/||; s/^/    /"
		else
			[ "$loss_w" -lt "$loss_bw" ] || [ "$loss_a" -lt "$loss_ba" ] &&
				echo "note: loss $loss_m is below its baseline ($loss_bw $loss_ba): lower tests/loss-baseline.txt"
			pass "$loss_name"
		fi
	done <"$loss_dir/counts"
}

if ! command -v python3 >/dev/null 2>&1; then
	skip "loss" "no python3"
elif ! "$prog" --version >/dev/null 2>&1; then
	fail "loss ($prog does not run)"
elif [ ! -x "$loss_dlg" ]; then
	fail "loss (no $loss_dlg: build it with make tools)"
else
	loss_start=$(date +%s)
	mkdir -p "$loss_dir"
	loss_captures >"$loss_dir/ids"
	loss_make
	loss_pairs >"$loss_dir/pairs"
	if python3 tests/losscheck.py "$loss_dir/pairs" "$loss_dir/details" >"$loss_dir/counts" &&
		[ "$(wc -l <"$loss_dir/counts")" -eq 4 ]; then
		loss_judge
	else
		fail "loss (losscheck.py failed: $(head -c 300 "$loss_dir/counts"))"
	fi
	[ -n "${LOSS_DETAILS:-}" ] && cp "$loss_dir/details" "$LOSS_DETAILS"
	echo "loss tests: $(wc -l <"$loss_dir/ids") captures, $(($(date +%s) - loss_start)) s"
fi

if [ -n "$loss_alone" ]; then
	alone_end
fi
