# alone.sh: what tests/run-tests.sh gives the test pieces it sources (pass, fail, skip, their
# counters and a scratch $out), for a piece run on its own; sourced from the project's root.
# alone_end prints run-tests.sh's closing line and fails when a test failed.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0 failed=0 skipped=0
pass() { passed=$((passed + 1)); echo "ok $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "skip $1 ($2)"; }
alone_end() {
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
}
