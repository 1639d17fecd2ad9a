# fuzz-tests: the fuzz targets' committed inputs replayed by their gcc builds (make fuzz-replay,
# tests/fuzz/replay.c), sourced by tests/run-tests.sh (uses pass, fail, skip, $build, $out).
# Builds nothing. Each target's corpus (tests/fuzz/corpus/TARGET) is one test, and each saved
# crash reproducer (tests/fuzz/crashes/TARGET/NAME) one more: every input must run without a
# crash, a broken invariant or a sanitizer report. When build/san/fuzz exists (make SAN=1
# fuzz-replay), everything runs again there, under AddressSanitizer, UBSan and LeakSanitizer.

fuzz_san_report='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|invariant broken'

# fuzz_replay LABEL BINARY INPUT: runs BINARY over INPUT (a directory or a file).
fuzz_replay() {
	label=$1 bin=$2 input=$3
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
		"$bin" "$input" >"$out/fuzz.out" 2>"$out/fuzz.err"
	rc=$?
	if [ "$rc" -eq 0 ] && ! grep -qE "$fuzz_san_report" "$out/fuzz.err"; then
		n=$(sed -n 's/^replay: .*: \([0-9]*\) inputs$/\1/p' "$out/fuzz.out")
		pass "$label${n:+ ($n inputs)}"
	else
		fail "$label (exit $rc)"
		grep -E "$fuzz_san_report|^ *#[0-9]+ .* in [a-z_]+ (analyzer|tests)/" "$out/fuzz.err" |
			head -12 | cut -c1-300 | sed 's/^/    /'
	fi
}

# fuzz_suite TAG DIR: every corpus and reproducer with the replay binaries of DIR.
fuzz_suite() {
	tag=$1 bins=$2
	for corpus in tests/fuzz/corpus/*/; do
		[ -d "$corpus" ] || continue
		t=$(basename "$corpus")
		if [ ! -x "$bins/fuzz_$t" ]; then
			fail "$tag $t ($bins/fuzz_$t not built: make fuzz-replay)"
			continue
		fi
		fuzz_replay "$tag $t" "$bins/fuzz_$t" "$corpus"
		for crash in tests/fuzz/crashes/"$t"/*; do
			[ -f "$crash" ] || continue
			fuzz_replay "$tag $t crash $(basename "$crash")" "$bins/fuzz_$t" "$crash"
		done
	done
}

fuzz_suite fuzz-replay "$build/fuzz"
if [ "$build" = build/san ]; then
	: # the run above was the sanitized one
elif [ -d build/san/fuzz ]; then
	fuzz_suite fuzz-replay-asan-ubsan build/san/fuzz
else
	skip fuzz-replay-asan-ubsan "build/san/fuzz not built (make SAN=1 fuzz-replay)"
fi
