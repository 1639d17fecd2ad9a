#!/bin/sh
# update-golden: rewrites the expected output of the named TESTLIST cases (all when none is
# named) from the current ./smtptrace. Review every change with git diff before committing:
# a golden file is only as right as the verdicts someone checked in it.
set -eu
cd "$(dirname "$0")/.."
prog=${PROG:-./smtptrace}
grep -v '^#' tests/TESTLIST | while read -r name capture expected options; do
	[ -n "$name" ] || continue
	case "$capture" in stdin:*) continue ;; esac
	if [ $# -gt 0 ]; then
		match=0
		for want in "$@"; do [ "$want" = "$name" ] && match=1; done
		[ $match = 1 ] || continue
	fi
	# shellcheck disable=SC2086
	"$prog" -r "samples/$capture" --records session $options | sed 's/"pcap_filename":"[^"]*",//' >"tests/golden/$expected"
	echo "updated tests/golden/$expected ($name)"
done
