# schema-tests: the records against their JSON Schema (docs/schema/, draft 7) and
# docs/record.md against the schema, sourced by tests/run-tests.sh (uses pass, fail, skip,
# $prog, $build, $out, and $SMTPTRACE_TEST_RECORDS, the file every runner before it appended
# its smtptrace output to). The work is in tests/schema-check.py (Debian's python3-jsonschema).

sch_py=/usr/bin/python3
sch_check=tests/schema-check.py

# sch_run NAME WANT CMD...: passes when CMD exits 0 and its last line is WANT (any when "").
sch_run() {
	sch_name=$1 sch_want=$2
	shift 2
	"$@" >"$out/sch.out" 2>&1
	sch_rc=$?
	if [ "$sch_rc" -eq 0 ] && { [ -z "$sch_want" ] || [ "$(tail -1 "$out/sch.out")" = "$sch_want" ]; }; then
		if grep -q ' distinct, ' "$out/sch.out"; then
			pass "schema $sch_name ($(grep ' distinct, ' "$out/sch.out"))"
		else
			pass "schema $sch_name"
		fi
	else
		fail "schema $sch_name (exit $sch_rc, want \"$sch_want\")"
		head -20 "$out/sch.out" | cut -c1-300 | sed 's/^/    /'
	fi
}

# sch_stale NAME SED_SCRIPT WANT: docs/record.md changed by SED_SCRIPT must fail the doc check
# with a line holding WANT.
sch_stale() {
	sed "$2" docs/record.md >"$out/sch-stale.md"
	if cmp -s docs/record.md "$out/sch-stale.md"; then
		fail "schema doc-stale-$1 (the edit changed nothing)"
	elif ! "$sch_py" "$sch_check" doc "$out/sch-stale.md" >"$out/sch.out" 2>&1 &&
		grep -qF -- "$3" "$out/sch.out"; then
		pass "schema doc-stale-$1"
	else
		fail "schema doc-stale-$1 (a stale field reference passed)"
		head -5 "$out/sch.out" | sed 's/^/    /'
	fi
}

if ! "$sch_py" -c 'import jsonschema' 2>/dev/null; then
	skip schema "python3-jsonschema not installed"
else
	sch_lines=$(cat tests/golden/*.json | wc -l)
	sch_run golden "$sch_lines records, 0 invalid" "$sch_py" "$sch_check" validate tests/golden/*.json

	# The schema refuses broken records (and takes the fields that are arriving).
	"$sch_py" "$sch_check" reject tests/golden/normal.json >"$out/sch.out" 2>&1
	sch_rc=$?
	while read -r sch_status sch_name sch_rest; do
		case $sch_status in
		ok) pass "schema $sch_name" ;;
		FAIL) fail "schema $sch_name $sch_rest" ;;
		esac
	done <"$out/sch.out"
	grep -q '^ok reject-' "$out/sch.out" || fail "schema reject (exit $sch_rc: $(head -c 300 "$out/sch.out"))"

	# The field reference says what the schema says; a stale one fails.
	sch_run doc "" "$sch_py" "$sch_check" doc docs/record.md
	sch_stale missing-row '/^| `commands` |/d' "schema key commands is not documented"
	sch_stale extra-row '/^| `commands` |/p; s/^| `commands` |/| `commandz` |/' \
		"documented key commandz is not in the schema"
	sch_stale wrong-type 's/^| `commands` | integer |/| `commands` | string |/' \
		"commands is 'string' in the doc, 'integer' in the schema"
	sch_stale not-always 's/^| `replies` | integer | always |/| `replies` | integer | when seen |/' \
		"replies is when seen in the doc but required"
	sch_stale missing-table '/schema: smtp_session.schema.json#\/definitions\/policy/d' \
		"object policy (smtp_session.schema.json#/definitions/session) has no table"

	# Every name an X-macro list declares (anomalies, verbs, outcomes) is in the schema and in
	# docs/record.md: an anomaly added to the list without its docs fails, so does a reorder.
	sch_run lists "4 lists, 54 names, 0 problems" "$sch_py" "$sch_check" lists
	sed 's/^\(\tX(BDAT, "bdat", 1)\)/\tX(NEW_ONE, "new_one", 0) \\\n\1/' include/smtp_lists.h >"$out/sch-lists.h"
	# sch_list_stale NAME HEADER RECORD.md WANT: a changed list or doc must fail with WANT.
	sch_list_stale() {
		if cmp -s "$2" include/smtp_lists.h && cmp -s "$3" docs/record.md; then
			fail "schema lists-stale-$1 (the edit changed nothing)"
		elif ! "$sch_py" "$sch_check" lists "$2" "$3" >"$out/sch.out" 2>&1 && grep -qF -- "$4" "$out/sch.out"; then
			pass "schema lists-stale-$1"
		else
			fail "schema lists-stale-$1 (a list the docs do not match passed)"
			head -5 "$out/sch.out" | sed 's/^/    /'
		fi
	}
	sch_list_stale new-anomaly "$out/sch-lists.h" docs/record.md \
		"in the list, not the schema: ['new_one']"
	sed 's/`early_talker`, `pipelining_unadvertised`/`pipelining_unadvertised`, `early_talker`/' \
		docs/record.md >"$out/sch-order.md"
	sch_list_stale anomaly-order include/smtp_lists.h "$out/sch-order.md" \
		"SMTP_ANOMALY: docs/record.md names them in another order"

	# The Elasticsearch index template is the schema's mapping, with the types it promises.
	sch_tpl=docs/examples/elasticsearch-template.json
	sch_run es-template "$sch_tpl: up to date with the schema" \
		"$sch_py" "$sch_check" estemplate --check "$sch_tpl"
	sch_run es-template-types "" "$sch_py" -c 'import json, sys
p = json.load(open(sys.argv[1]))["template"]["mappings"]["properties"]
def at(path):
    m = {"properties": p}
    for k in path.split("."):
        m = m["properties"][k]
    return m["type"]
want = {"timestamp": "date", "src_ip": "ip", "dest_ip": "ip", "flow_id": "long",
        "src_port": "integer", "smtp.mail_from": "keyword", "smtp.rcpt_to": "keyword",
        "smtp_session.outcome": "keyword", "smtp_session.duration": "double",
        "smtp_session.starttls": "boolean", "smtp_session.transactions": "nested",
        "smtp_session.transactions.outcome": "keyword",
        "smtp_session.transactions.rcpt_refused": "nested",
        "smtp_session.transactions.reply.code": "integer",
        "smtp_session.bytes_toserver": "long", "stats.capture.kernel_drops": "long",
        "stats.memory.peak_rss_kib": "long", "flow.outcome": "keyword"}
bad = ["%s: %s, want %s" % (k, at(k), v) for k, v in want.items() if at(k) != v]
print("\n".join(bad))
sys.exit(1 if bad else 0)' "$sch_tpl"

	# The command line's outputs: every sample plain, with --trace, with every record type,
	# in --eve-strict's shape, cut by a small --max-record, redacted; from stdin, through -o,
	# several inputs at once, and each link type mkcapture frames. (--max-record 2048, the
	# least it takes: the stats record, about 1.5 KiB of fixed counters, always fits.)
	: >"$out/sch-cli.json"
	sch_types=$("$prog" --help 2>/dev/null | tr '\n' ' ' |
		sed -n 's/.*record types, comma-separated: \([a-z, ]*\).*/\1/p' | tr -d ' ')
	for sch_f in samples/*.pcap samples/*.pcap.gz; do
		"$prog" -r "$sch_f" >>"$out/sch-cli.json" 2>/dev/null
		"$prog" -r "$sch_f" --trace >>"$out/sch-cli.json" 2>/dev/null
		[ -n "$sch_types" ] || continue
		for sch_o in "--records $sch_types" "--eve-strict" "--redact --records $sch_types" \
			"--max-record 2048 --records session,transaction,stats" \
			"--max-record 2048 --eve-strict --records session,stats"; do
			# shellcheck disable=SC2086
			"$prog" -r "$sch_f" $sch_o >>"$out/sch-cli.json" 2>/dev/null
		done
	done
	"$prog" -r - <samples/normal.pcap >>"$out/sch-cli.json" 2>/dev/null
	"$prog" -r samples/normal.pcap -r samples/ipv6.pcap -o "$out/sch-o.json" 2>/dev/null &&
		cat "$out/sch-o.json" >>"$out/sch-cli.json"
	for sch_s in vlan qinq sll sll2 null loop raw4 raw6 ipv4 ipv6 ipv4opts ipv6ext pcapng; do
		"$build/tools/mkcapture" "$sch_s" "$out/sch-link.pcap" 2>/dev/null &&
			"$prog" -r "$out/sch-link.pcap" --trace >>"$out/sch-cli.json" 2>/dev/null
	done
	sch_lines=$(wc -l <"$out/sch-cli.json")
	if [ "$sch_lines" -lt 10 ]; then
		fail "schema cli-outputs (only $sch_lines records)"
	else
		sch_run cli-outputs "$sch_lines records, 0 invalid" "$sch_py" "$sch_check" validate "$out/sch-cli.json"
	fi

	# Every line the suite's runs wrote (golden, dialogues, impaired copies, bad input, corpus).
	sch_all=${SMTPTRACE_TEST_RECORDS:-}
	if [ -z "$sch_all" ] || [ ! -s "$sch_all" ]; then
		fail "schema suite-records (no records collected in ${sch_all:-SMTPTRACE_TEST_RECORDS})"
	else
		sch_lines=$(wc -l <"$sch_all")
		sch_run "suite-records ($sch_lines lines)" "$sch_lines records, 0 invalid" \
			"$sch_py" "$sch_check" validate --fast "$sch_all"
	fi
fi
