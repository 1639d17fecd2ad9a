# impair-tests: TCP reassembly against impaired copies of real captures. Every golden sample
# (tests/TESTLIST) is rewritten by tests/tools/pcaptool.py in each impairment mode, every
# capture of ../shared/corpus in the combined one, and smtptrace must give the same verdicts
# (tests/verdicts.py: outcome, close, client style, transactions, anomalies) and the same
# exit status on the copy as on the original: one pass or fail per (capture, mode).
#
# Sourced by tests/run-tests.sh (uses pass, fail, skip, $prog, $out), or run alone from
# anywhere: sh tests/impair-tests.sh [PROGRAM]   (default ./smtptrace)
# IMPAIR_SAMPLES=0 leaves out the samples, IMPAIR_CORPUS=0 the corpus; IMPAIR_CORPUS_DIR
# names another corpus folder (default ../shared/corpus).
#
# The copies carry exactly the bytes of each direction that the original did, with the same
# ACK numbers and the same order between the two directions (see pcaptool.py's comment);
# the test checks that first (`pcaptool.py streams`), so a verdict that differs is
# smtptrace's doing, not the tool's. No impairment here destroys information, so no case is
# excused: a capture cut short in its last record keeps that damage in its copies, and the
# first segment of a stream picked up mid-way stays first. A capture the tool cannot read
# (pcapng with several link types) is skipped with the tool's message.
#
# Python starts slowly, so all copies are made by two pcaptool processes (--batch, one per
# core), smtptrace runs once per file, and verdicts.py once for all of them.

imp_alone=
if ! command -v pass >/dev/null 2>&1; then
	imp_alone=1
	cd "$(dirname "$0")/.." || exit 2
	prog=${1:-./smtptrace}
	. tests/alone.sh
fi

imp_tool=tests/tools/pcaptool.py
imp_dir=$out/impair
imp_corpus=${IMPAIR_CORPUS_DIR:-../shared/corpus}
# label and pcaptool arguments of each mode run on the samples; the corpus gets impair-seed1.
# The samples were recorded on loopback: every send is one segment, and the next send of
# the same side follows the other side's reply, so reorder and overlap alone find no two
# data segments of one direction side by side and would change nothing (reorder) or add
# only whole retransmissions (overlap). They run on 7-byte pieces instead.
imp_modes='resegment-1:resegment --size 1
resegment-random:resegment --size 0 --seed 1
reorder:resegment+reorder --size 7 --seed 1
duplicate:duplicate --seed 1
overlap:resegment+overlap --size 7 --seed 1
impair-seed1:impair --seed 1
impair-seed2:impair --seed 2'

# imp_list_samples: the captures of tests/TESTLIST without options or stdin, each distinct
# content once (normal.pcap.gz is normal.pcap), as "samples/FILE" lines.
imp_list_samples() {
	while read -r imp_n imp_c imp_e imp_o; do
		case "$imp_n" in '' | '#'*) continue ;; esac
		case "$imp_c" in stdin:*) continue ;; esac
		if [ -z "$imp_o" ] && [ -n "$imp_e" ] && [ -f "samples/$imp_c" ]; then
			echo "$(gzip -dcf "samples/$imp_c" | cksum | tr ' ' _) samples/$imp_c"
		fi
	done <tests/TESTLIST | awk '!seen[$1]++ { print $2 }'
}

# imp_plan KIND MODES: reads capture paths on stdin and numbers them (KIND1, KIND2, ...);
# writes "ID PATH" lines to KIND.ids, and the pcaptool commands (copies, and the streams of
# the original and of each copy) to KIND.batch0 and KIND.batch1, balanced by input size:
# the biggest captures first, each command to the lighter batch, a copy's streams with it.
imp_plan() {
	imp_i=0
	while read -r imp_f; do
		imp_i=$((imp_i + 1))
		echo "$1$imp_i $(wc -c <"$imp_f") $imp_f"
	done >"$imp_dir/$1.list"
	sort -k2,2nr "$imp_dir/$1.list" | while read -r imp_id imp_size imp_f; do
		echo "- streams $imp_f $imp_dir/$imp_id.orig.streams"
		echo "$2" | while IFS=: read -r imp_label imp_args; do
			echo "$imp_size $imp_args $imp_f $imp_dir/$imp_id.$imp_label.pcap"
			echo "- streams $imp_dir/$imp_id.$imp_label.pcap $imp_dir/$imp_id.$imp_label.streams"
		done
	done | awk -v b0="$imp_dir/$1.batch0" -v b1="$imp_dir/$1.batch1" '
		$1 != "-" { cur = (w1 < w0); if (cur) w1 += $1; else w0 += $1 }
		{ sub(/^[^ ]+ /, ""); print > (cur ? b1 : b0) }'
	awk '{ print $1, $3 }' "$imp_dir/$1.list" >"$imp_dir/$1.ids"
}

# imp_make: runs the batches of both kinds, one pcaptool process per core; its messages go
# to all.err0 and all.err1.
imp_make() {
	cat "$imp_dir/sample.batch0" "$imp_dir/corpus.batch0" >"$imp_dir/all.batch0"
	cat "$imp_dir/sample.batch1" "$imp_dir/corpus.batch1" >"$imp_dir/all.batch1"
	python3 "$imp_tool" --batch "$imp_dir/all.batch0" 2>"$imp_dir/all.err0" &
	imp_p0=$!
	python3 "$imp_tool" --batch "$imp_dir/all.batch1" 2>"$imp_dir/all.err1" &
	imp_p1=$!
	wait "$imp_p0"
	wait "$imp_p1"
}

# imp_run CAPTURE BASE: smtptrace's output in BASE.json, its stderr in BASE.err, its exit
# status in BASE.rc.
# --checksum no: auto's choice rests on counts of packets, which copies change by design.
imp_run() {
	"$prog" -r "$1" --checksum no >"$2.json" 2>"$2.err"
	echo "exit $?" >"$2.rc"
	cat "$2.json" >>"${SMTPTRACE_TEST_RECORDS:-/dev/null}"
}

# imp_compare KIND LABELS: smtptrace on every original and copy, verdicts.py once on all
# of them, then one pass or fail per capture and label.
imp_compare() {
	while read -r imp_id imp_f; do
		imp_run "$imp_f" "$imp_dir/$imp_id.orig"
		for imp_label in $2; do
			imp_base=$imp_dir/$imp_id.$imp_label
			if [ -f "$imp_base.pcap" ]; then imp_run "$imp_base.pcap" "$imp_base"; fi
		done
	done <"$imp_dir/$1.ids"
	# shellcheck disable=SC2046 # file names made here, without spaces
	python3 tests/verdicts.py $(ls "$imp_dir/$1"*.json) || {
		fail "impair $1 (verdicts.py failed)"
		return
	}
	while read -r imp_id imp_f; do
		cat "$imp_dir/$imp_id.orig.rc" "$imp_dir/$imp_id.orig.json.v" >"$imp_dir/$imp_id.orig.v"
		imp_n=$(wc -l <"$imp_dir/$imp_id.orig.json.v")
		for imp_label in $2; do
			imp_one "$1" "$imp_id" "${imp_f#"$imp_corpus"/}" "$imp_label" "$imp_n"
		done
	done <"$imp_dir/$1.ids"
}

# imp_one KIND ID NAME LABEL SESSIONS: the verdict on one copy.
imp_one() {
	imp_base=$imp_dir/$2.$4
	imp_name="impair $1 $3 $4"
	if [ ! -s "$imp_base.pcap" ]; then
		imp_msg=$(grep -h -F "$3" "$imp_dir/all.err0" "$imp_dir/all.err1" | head -1)
		case "$1:$imp_msg" in
		corpus:*"several link types"*) skip "$imp_name" "${imp_msg#pcaptool: }" ;;
		*) fail "$imp_name (pcaptool made no copy: ${imp_msg:-no message})" ;;
		esac
		return
	fi
	if [ -s "$imp_dir/$2.orig.streams" ] &&
		! cmp -s "$imp_dir/$2.orig.streams" "$imp_base.streams"; then
		fail "$imp_name (the copy's stream bytes differ: a bug in pcaptool, not smtptrace)"
		diff "$imp_dir/$2.orig.streams" "$imp_base.streams" | head -6 | sed 's/^/    /'
		return
	fi
	cat "$imp_base.rc" "$imp_base.json.v" >"$imp_base.v"
	if cmp -s "$imp_dir/$2.orig.v" "$imp_base.v"; then
		pass "$imp_name ($5 sessions)"
	else
		fail "$imp_name"
		diff "$imp_dir/$2.orig.v" "$imp_base.v" | grep '^[<>]' | head -8 | cut -c1-600 |
			sed 's/^/    /'
		head -3 "$imp_base.err" | sed 's/^/    stderr: /'
	fi
	rm -f "$imp_base.pcap" "$imp_base.json"
}

mkdir -p "$imp_dir"
for imp_f in sample.ids corpus.ids sample.batch0 sample.batch1 corpus.batch0 corpus.batch1; do
	: >"$imp_dir/$imp_f"
done
if ! command -v python3 >/dev/null 2>&1; then
	skip "impair" "no python3"
else
	imp_start=$(date +%s)
	if [ "${IMPAIR_SAMPLES:-1}" != 0 ]; then
		imp_list_samples | imp_plan sample "$imp_modes"
	fi
	if [ "${IMPAIR_CORPUS:-1}" = 0 ]; then
		:
	elif [ ! -d "$imp_corpus" ]; then
		skip "impair corpus" "$imp_corpus not found"
	else
		find "$imp_corpus" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.pcap.gz' \) |
			LC_ALL=C sort | imp_plan corpus "impair-seed1:impair --seed 1"
	fi
	imp_make
	if [ -s "$imp_dir/sample.ids" ]; then
		imp_compare sample "$(echo "$imp_modes" | cut -d: -f1)"
	fi
	if [ -s "$imp_dir/corpus.ids" ]; then imp_compare corpus impair-seed1; fi
	echo "impair tests: $(($(date +%s) - imp_start)) s"
fi

if [ -n "$imp_alone" ]; then
	alone_end
fi
