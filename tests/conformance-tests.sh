# conformance-tests: smtptrace over every capture of the peer corpus, held against the
# other tools' expectations (Suricata test.yaml, Zeek smtp.log, Arkime .test) and against
# tshark's SMTP dissector; tests/known-differences.tsv lists every disagreement with its
# reason. Sourced by tests/run-tests.sh (uses pass, fail, skip, $prog, $out; $san_prog, when
# set, names a sanitizer build run over the corpus too). The work is in
# tests/conformance/conformance.py (python3, standard library only): one result per check
# group (per capture, per test case, per capture for tshark), then the summary.

conf_corpus=../shared/corpus
conf_san=${san_prog:-build/san/smtptrace}
if [ ! -f "$conf_corpus/MANIFEST.tsv" ]; then
	skip conformance "corpus $conf_corpus absent"
elif ! command -v python3 >/dev/null 2>&1; then
	skip conformance "python3 not installed"
else
	conf_tab=$(printf '\t')
	conf_run() {
		python3 -B tests/conformance/conformance.py --prog "$prog" --corpus "$conf_corpus" \
			--known tests/known-differences.tsv --work "$out/conformance" --jobs 4 "$@" \
			>"$out/conformance.out" 2>"$out/conformance.err"
	}
	if [ -x "$conf_san" ]; then
		conf_run --san-prog "$conf_san"
	else
		conf_run
	fi
	conf_rc=$?
	while IFS=$conf_tab read -r conf_kind conf_status conf_name conf_detail; do
		case $conf_kind in
		RESULT)
			case $conf_status in
			pass) pass "conformance $conf_name" ;;
			skip) skip "conformance $conf_name" "$conf_detail" ;;
			*)
				fail "conformance $conf_name"
				printf '%s\n' "$conf_detail" | sed 's/ | /\n/g' | cut -c1-400 | sed 's/^/    /'
				;;
			esac
			;;
		SUMMARY) echo "conformance summary: $conf_status" ;;
		esac
	done <"$out/conformance.out"
	if [ "$conf_rc" -ne 0 ]; then
		fail "conformance checker (exit $conf_rc)"
		head -20 "$out/conformance.err" | sed 's/^/    /'
	fi
	if grep -q '^RESULT.fail' "$out/conformance.out" && [ -s "$out/conformance/new-differences.tsv" ]; then
		echo "    new differences, as lines for tests/known-differences.tsv (reason to fill in):"
		cut -c1-400 "$out/conformance/new-differences.tsv" | sed 's/^/    /'
	fi
fi
