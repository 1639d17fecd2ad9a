#!/usr/bin/python3
"""schema-check: smtptrace's records against docs/schema/ (JSON Schema draft 7), and
docs/record.md's field reference against the same schema.

  schema-check.py validate [--fast] FILE...
                                     every line of every FILE validates against
                                     record.schema.json; prints "N records" and each error.
                                     --fast: through fastjsonschema (python3-fastjsonschema,
                                     compiled, some ten times faster) when it is installed,
                                     the first 2000 distinct records through jsonschema too
  schema-check.py doc RECORD.md      the tables marked <!-- schema: FILE#POINTER --> list
                                     exactly the schema's keys there, with the same types and
                                     the same "always" (required) keys, and every record type
                                     and every object with keys of its own has its table
  schema-check.py reject FILE        the schema refuses broken copies of FILE's first
                                     smtp_session record (a check that can fail must)
  schema-check.py lists [HEADER [RECORD.md]]
                                     the names each X-macro list of include/smtp_lists.h
                                     declares (anomalies, verbs, outcomes) are the schema's
                                     enums, and docs/record.md names them, the anomalies in
                                     the list's order: adding one without its docs fails
  schema-check.py estemplate [--check FILE]
                                     the Elasticsearch index template of the record types,
                                     derived from the schema; --check: FILE is that template

Uses Debian's python3-jsonschema (4.10: RefResolver; later versions keep it, deprecated), the
reference; python3-fastjsonschema, when installed, for the bulk of make check's records, held to
give the same answers as jsonschema on every case of "reject".
"""
import copy
import json
import os
import re
import sys
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
import jsonschema  # noqa: E402

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SCHEMA_DIR = os.path.normpath(os.path.join(TOP, "docs", "schema"))


def load_schemas():
    """{file name: schema} of every docs/schema/*.json."""
    out = {}
    for name in sorted(os.listdir(SCHEMA_DIR)):
        if name.endswith(".json"):
            with open(os.path.join(SCHEMA_DIR, name)) as f:
                out[name] = json.load(f)
    return out


def validator(schemas):
    base = "file://" + SCHEMA_DIR + "/"
    store = {base + name: s for name, s in schemas.items()}
    top = schemas["record.schema.json"]
    jsonschema.Draft7Validator.check_schema(top)
    for s in schemas.values():
        jsonschema.Draft7Validator.check_schema(s)
    resolver = jsonschema.RefResolver(base + "record.schema.json", top, store=store)
    return jsonschema.Draft7Validator(top, resolver=resolver,
                                      format_checker=jsonschema.FormatChecker())


def fast_validator():
    """A function(record) -> [error] compiled by fastjsonschema, or None without it."""
    try:
        import fastjsonschema
    except ImportError:
        return None

    def load(uri):
        with open(uri[len("file://"):]) as f:
            return json.load(f)

    top = load("file://" + SCHEMA_DIR + "/record.schema.json")
    top["$id"] = "file://" + SCHEMA_DIR + "/record.schema.json"
    compiled = fastjsonschema.compile(top, handlers={"file": load})

    def check(rec):
        try:
            compiled(rec)
        except fastjsonschema.JsonSchemaException as e:
            return ["%s: %s" % (getattr(e, "name", "data"), str(e)[:300])]
        return []
    return check


def errors_of(check, rec):
    """Error lines of one record, the deepest cause of each (if/then hides them)."""
    out = []
    for err in check.iter_errors(rec):
        leaves = [err]
        while leaves and leaves[0].context:
            leaves = sorted(leaves[0].context, key=lambda e: -len(e.absolute_path))
        for e in leaves[:3]:
            path = "/".join(str(p) for p in e.absolute_path)
            out.append("%s: %s" % (path or "(record)", e.message[:300]))
    return out


def cmd_validate(files):
    start = time.time()
    ref = validator(load_schemas())
    fast = None
    if files and files[0] == "--fast":
        files = files[1:]
        fast = fast_validator()
    n = bad = 0
    seen = set()
    for path in files:
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                n += 1
                if raw in seen:  # the suite writes many records twice (sanitizer runs)
                    continue
                seen.add(raw)
                try:
                    rec = json.loads(raw.decode("utf-8"))
                except ValueError as e:
                    errs = ["not a JSON line: %s" % e]
                else:
                    errs = fast(rec) if fast else []
                    if not fast or len(seen) <= 2000:
                        errs = errs or errors_of(ref, rec)
                if errs:
                    bad += 1
                    if bad <= 20:
                        for e in errs:
                            print("%s:%d: %s" % (path, lineno, e))
    print("%d distinct, %s, %.1f s" % (len(seen), "fastjsonschema" if fast else "jsonschema",
                                       time.time() - start))
    print("%d records, %d invalid" % (n, bad))
    return 1 if bad else 0


# ---- the field reference against the schema ----

class Node:
    """A schema node and where it lives: file and JSON pointer."""

    def __init__(self, schemas, fname, pointer):
        self.schemas, self.fname, self.pointer = schemas, fname, pointer
        node = schemas[fname]
        for part in [p for p in pointer.split("/") if p]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        self.s = node

    def child(self, *parts):
        return Node(self.schemas, self.fname, "/".join([self.pointer] + list(parts)))

    def deref(self):
        """Follows $ref (only) to the node that holds the content."""
        n = self
        while "$ref" in n.s:
            ref = n.s["$ref"]
            fname, _, ptr = ref.partition("#")
            n = Node(self.schemas, fname or n.fname, ptr)
        return n

    def parts(self):
        """The node and every node its allOf brings in, each dereferenced."""
        out = [self.deref()]
        for i, _ in enumerate(out[0].s.get("allOf", [])):
            out += out[0].child("allOf", str(i)).parts()
        return out

    def ident(self):
        """Where the content is: past $ref, and past an allOf of one that adds no keys."""
        n = self.deref()
        while len(n.s.get("allOf", [])) == 1 and "properties" not in n.s:
            n = n.child("allOf", "0").deref()
        return (n.fname, n.pointer.rstrip("/"))

    def properties(self):
        props, req = {}, set()
        for p in self.parts():
            for k in p.s.get("properties", {}):
                props.setdefault(k, p.child("properties", k))
            req |= set(p.s.get("required", []))
        return props, req

    def kind(self):
        """The type as docs/record.md writes it."""
        names = [p.pointer for p in self.parts()]
        if any(n.endswith("definitions/wire_text") for n in names):
            return "wire text"
        alts = self.deref().s.get("anyOf")
        if alts and "type" not in self.deref().s:
            kinds = {self.deref().child("anyOf", str(i)).kind() for i in range(len(alts))}
            return kinds.pop() if len(kinds) == 1 else "?"
        for p in self.parts():
            s = p.s
            t = s.get("type")
            if t == "array":
                item = p.child("items").kind()
                return "array of " + {"wire text": "wire text", "string": "strings",
                                      "integer": "integers", "object": "objects"}.get(item, item)
            if t:
                return {"number": "real"}.get(t, t)
            values = [s["const"]] if "const" in s else s.get("enum")
            if values:
                if all(v is True or v is False for v in values):
                    return "boolean"
                if all(isinstance(v, str) for v in values):
                    return "string"
        return "?"


MARK = re.compile(r"<!--\s*schema:\s*([\w.]+)#(\S*)\s*-->")


def doc_tables(path):
    """[(line, file, pointer, [(key, type, present)])] of the marked tables."""
    tables, cur = [], None
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            m = MARK.search(line)
            if m:
                cur = (lineno, m.group(1), m.group(2), [])
                tables.append(cur)
                continue
            if cur is None:
                continue
            if not line.startswith("|"):
                if cur[3]:
                    cur = None
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] in ("key", "") or set(cells[0]) <= set("-: "):
                continue
            key = cells[0].strip("`")
            cur[3].append((key, cells[1], cells[2]))
    return tables


def nested_objects(node):
    """Object nodes with keys of their own under node's properties (arrays looked into)."""
    props, _ = node.properties()
    for key, p in props.items():
        n = p
        while n.kind().startswith("array of"):
            n = [q for q in n.parts() if "items" in q.s][0].child("items")
        if n.kind() == "object" and n.properties()[0]:
            yield key, n


def cmd_doc(path):
    schemas = load_schemas()
    problems, seen = [], {}
    for lineno, fname, ptr, rows in doc_tables(path):
        where = "%s:%d (%s#%s)" % (path, lineno, fname, ptr)
        if fname not in schemas:
            problems.append("%s: no schema file %s" % (where, fname))
            continue
        try:
            node = Node(schemas, fname, ptr)
        except (KeyError, TypeError):
            problems.append("%s: no such place in the schema" % where)
            continue
        seen[node.ident()] = where
        props, req = node.properties()
        keys = [r[0] for r in rows]
        for k in sorted(set(props) - set(keys)):
            problems.append("%s: schema key %s is not documented" % (where, k))
        for k in sorted(set(keys) - set(props)):
            problems.append("%s: documented key %s is not in the schema" % (where, k))
        for key, typ, present in rows:
            if key not in props:
                continue
            if props[key].kind() != typ:
                problems.append("%s: %s is %r in the doc, %r in the schema" %
                                (where, key, typ, props[key].kind()))
            if present.startswith("always") != (key in req):
                problems.append("%s: %s is %s in the doc but %srequired in the schema" %
                                (where, key, present[:40], "" if key in req else "not "))
    want = {}
    top = Node(schemas, "record.schema.json", "")
    for i, _ in enumerate(top.s["allOf"]):
        rec = top.child("allOf", str(i), "then")
        want[rec.ident()] = "record type %s" % rec.deref().s["properties"]["event_type"]["const"]
    for ident in list(seen) + list(want):
        n = Node(schemas, *ident)
        for key, obj in nested_objects(n):
            want.setdefault(obj.ident(), "object %s (%s#%s)" % (key, ident[0], ident[1]))
    for ident, what in want.items():
        if ident not in seen:
            problems.append("%s: %s has no table in the doc" % (path, what))
    for p in problems:
        print(p)
    print("%d tables, %d problems" % (len(seen), len(problems)))
    return 1 if problems else 0


# ---- the Elasticsearch index template, derived from the schema ----

KEYWORD = {"type": "keyword", "ignore_above": 1024}
COUNTERS = [
    {"stats_integers": {"path_match": "stats.*", "match_mapping_type": "long",
                        "mapping": {"type": "long"}}},
    {"stats_reals": {"path_match": "stats.*", "match_mapping_type": "double",
                     "mapping": {"type": "double"}}},
]


def es_mapping(node):
    """The Elasticsearch mapping of a schema node: keyword for strings (addresses, verdicts,
    wire text), ip, date for the timestamp, integer for ports and reply codes, long for
    counters, double for reals, nested for arrays of objects."""
    names = [p.pointer for p in node.parts()]
    if any(n.endswith("definitions/timestamp") for n in names):
        return {"type": "date", "format": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSZ||strict_date_optional_time"}
    if any(n.endswith("definitions/ip") for n in names):
        return {"type": "ip"}
    alts = node.deref().s.get("anyOf")
    if alts and "type" not in node.deref().s:  # the union of the alternatives' mappings
        merged = {}
        for i in range(len(alts)):
            m = es_mapping(node.deref().child("anyOf", str(i)))
            props = dict(merged.get("properties", {}))
            for k, v in m.get("properties", {}).items():
                props.setdefault(k, v)
            merged = dict(m, **merged)
            if props:
                merged["properties"] = props
        return merged
    kind = node.kind()
    if kind.startswith("array of"):
        item = [q for q in node.parts() if "items" in q.s][0].child("items")
        m = es_mapping(item)
        return dict(m, type="nested") if m.get("type") == "object" else m
    if kind == "object":
        props, _ = node.properties()
        m = {"type": "object"}
        if props:
            m["properties"] = {k: es_mapping(v) for k, v in props.items()}
        return m
    if kind == "integer":
        small = any(n.endswith("definitions/port") for n in names) or \
            node.deref().s.get("maximum", 0) == 599
        return {"type": "integer"} if small else {"type": "long"}
    return {"real": {"type": "double"}, "boolean": {"type": "boolean"},
            "string": KEYWORD, "wire text": KEYWORD}.get(kind, {"type": "keyword"})


def es_template():
    schemas = load_schemas()
    top = Node(schemas, "record.schema.json", "")
    props, clashes = {}, []
    for i, _ in enumerate(top.s["allOf"]):
        rec = top.child("allOf", str(i), "then").deref()
        for k, v in rec.properties()[0].items():
            m = es_mapping(v)
            if k in props and props[k] != m:
                clashes.append(k)
            props.setdefault(k, m)
    if clashes:
        raise SystemExit("record types map %s differently" % ", ".join(clashes))
    return {
        "_meta": {"description": "smtptrace records (smtp_session, smtp_transaction, smtp_command, smtp, "
                                 "stats, flow), one index per type or one for all; derived "
                                 "from docs/schema/ by tests/schema-check.py estemplate"},
        "index_patterns": ["smtptrace-*"],
        "priority": 200,
        "template": {"mappings": {"dynamic_templates": COUNTERS, "properties": props}},
    }


def cmd_estemplate(args):
    want = json.dumps(es_template(), indent=2) + "\n"
    if not args:
        sys.stdout.write(want)
        return 0
    with open(args[-1]) as f:
        have = f.read()
    if have == want:
        print("%s: up to date with the schema" % args[-1])
        return 0
    print("%s differs from the schema's mapping: regenerate it with "
          "tests/schema-check.py estemplate > %s" % (args[-1], args[-1]))
    return 1


# ---- the schema must refuse what is wrong ----

def breakages():
    """(name, function mutating a record) pairs, each making it invalid."""
    def s(rec):
        return rec["smtp_session"]

    def tx(rec):
        return s(rec)["transactions"][0]

    return [
        ("unknown-outcome", lambda r: s(r).update(outcome="delivered")),
        ("unknown-close", lambda r: s(r).update(close="fin")),
        ("unknown-anomaly", lambda r: s(r)["anomalies"].append("weird")),
        ("extra-session-key", lambda r: s(r).update(extra=1)),
        ("extra-top-key", lambda r: r.update(extra=1)),
        ("missing-policy", lambda r: s(r).pop("policy")),
        ("missing-timestamp", lambda r: r.pop("timestamp")),
        ("string-counter", lambda r: s(r).update(pkts_toserver="10")),
        ("negative-counter", lambda r: s(r).update(bytes_toclient=-1)),
        ("bad-timestamp", lambda r: r.update(timestamp="2026-11-28 14:56:50")),
        ("bad-ip", lambda r: r.update(src_ip="127.0.0.256")),
        ("bad-community-id", lambda r: r.update(community_id="1:abc")),
        ("null-field", lambda r: r["smtp"].update(helo=None)),
        ("lone-backslash", lambda r: r["smtp"].update(helo="a\\b")),
        ("bad-reply-code", lambda r: s(r)["greeting"].update(code=99)),
        ("tx-outcome", lambda r: tx(r).update(outcome="queued")),
        ("rejected-without-where", lambda r: tx(r).update(outcome="rejected")),
        ("where-without-rejected", lambda r: tx(r).update(rejected_at="rcpt")),
        ("auth-attempts-string", lambda r: s(r).update(auth={"mechanism": "PLAIN",
                                                              "attempts": "5"})),
        ("inferred-not-array", lambda r: s(r).update(inferred="close")),
        ("stats-negative", lambda r: r.clear() or r.update(
            timestamp="2026-11-28T14:56:50.054459+0000", event_type="stats",
            stats={"capture": {"packets": -1}})),
        ("stats-string-counter", lambda r: r.clear() or r.update(
            timestamp="2026-11-28T14:56:50.054459+0000", event_type="stats",
            stats={"sessions": {"by_outcome": {"committed": "3"}}})),
        ("stats-unknown-outcome", lambda r: r.clear() or r.update(
            timestamp="2026-11-28T14:56:50.054459+0000", event_type="stats",
            stats={"sessions": {"by_outcome": {"delivered": 3}}})),
        ("unknown-event-type", lambda r: r.update(event_type="smtp")),
        ("truncated-zero", lambda r: r["smtp"].update(rcpt_to_truncated=0)),
        ("truncated-string", lambda r: r["smtp"].update(rcpt_to_truncated="5")),
        ("truncated-unknown-key", lambda r: r["smtp"].update(rcpt_to_cut=5)),
        ("cut-session-extra-key", lambda r: r.update(smtp_session={
            "outcome": "committed", "close": "quit", "truncated": True, "commands": 1})),
        ("cut-session-not-marked", lambda r: r.update(smtp_session={
            "outcome": "committed", "close": "quit"})),
        ("command-unknown-verb", lambda r: command_record(r) or
         r["smtp_command"].update(verb="XYZZY")),
        ("command-not-pipelined-bool", lambda r: command_record(r) or
         r["smtp_command"].update(pipelined="no")),
        ("stats-extra-top-key", lambda r: stats_record(r) or r.update(src_ip="127.0.0.1")),
        ("stats-not-object", lambda r: stats_record(r) or r.update(stats=[1])),
        ("flow-unknown-outcome", lambda r: flow_record(r) or r["flow"].update(outcome="tls")),
        ("flow-missing-counter", lambda r: flow_record(r) or r["flow"].pop("pkts_toclient")),
    ]


def stats_record(rec):
    """Turns rec into a stats record; returns None."""
    rec.clear()
    rec.update(timestamp="2026-11-28T14:56:50.054459+0000", event_type="stats",
               stats={"uptime": 1.5,
                      "capture": {"packets": 10, "bytes": 900, "kernel_drops": 0,
                                  "if_drops": 0, "new_counter": 1},
                      "decoder": {"ipv4": 10}, "flows": {"evicted": 0},
                      "sessions": {"open": 0, "ended": 1,
                                   "by_outcome": {"committed": 1, "no_smtp": 2}},
                      "tcp": {"gaps": 0, "retransmissions": {"toserver": 1}},
                      "memory": {"peak_rss_kib": 4000}})


def command_record(rec):
    """Turns rec (an smtp_session record) into an smtp_command record; returns None."""
    for k in ("smtp", "smtp_session"):
        rec.pop(k, None)
    rec.update(event_type="smtp_command",
               smtp_command={"seq": 1, "verb": "MAIL", "args": "FROM:<a@example.org>",
                             "pipelined": False, "reply": {"code": 250, "enhanced": "2.1.0",
                                                           "text": "Ok"},
                             "latency_ms": 0.5})


def flow_record(rec):
    """Turns rec (an smtp_session record) into a flow record; returns None."""
    for k in ("app_proto", "smtp", "smtp_session"):
        rec.pop(k, None)
    rec.update(event_type="flow",
               flow={"outcome": "refused", "detected": "port", "duration": 0.0, "pkts_toserver": 1,
                     "pkts_toclient": 1, "bytes_toserver": 0, "bytes_toclient": 0})


def cmd_reject(path):
    ref, fast = validator(load_schemas()), fast_validator()

    def check_both(rec):
        """jsonschema's errors; fastjsonschema, when there, must agree."""
        errs = errors_of(ref, rec)
        if fast and bool(fast(rec)) != bool(errs):
            return None
        return errs
    with open(path) as f:
        base = json.loads(f.readline())
    good = [
        ("as-is", lambda r: None),
        ("with-upcoming-fields", lambda r: r["smtp_session"].update(
            inferred=["close"], close="reused",
            auth={"mechanism": "PLAIN", "result": 535, "attempts": 5, "failures": 5})),
        ("cut-lists", lambda r: r["smtp"].update(rcpt_to_truncated=3) or
         r["smtp_session"].update(extensions_truncated=5)),
        ("cut-to-minimum", lambda r: [r.pop(k) for k in ("smtp", "pcap_filename") if k in r] and
         r.update(smtp_session={"outcome": "committed", "close": "quit", "truncated": True})),
        ("command-record", command_record),
        ("stats-record", stats_record),
        ("flow-record", flow_record),
    ]
    rc = 0
    for name, mutate in good:
        rec = copy.deepcopy(base)
        mutate(rec)
        errs = check_both(rec)
        print("%s %s%s" % ("ok" if errs == [] else "FAIL", "accept-" + name,
                           (": " + errs[0]) if errs else ": the validators disagree"
                           if errs is None else ""))
        rc |= errs != []
    for name, mutate in breakages():
        rec = copy.deepcopy(base)
        mutate(rec)
        errs = check_both(rec)
        refused = bool(errs)
        print("%s reject-%s%s" % ("ok" if refused else "FAIL", name,
                                  ": the validators disagree" if errs is None else ""))
        rc |= not refused
    return rc


LIST = re.compile(r"#define (\w+)_LIST\(X\)(.*?)(?:\n\n|\n#)", re.S)
ENTRY = re.compile(r'X\(\w+,\s*"([^"]*)"')
# each X-macro list, the schema enum that must hold its names, and the line of record.md
# (by its leading cell) that must name them; the anomalies also in the list's order
LISTS = (
    ("SMTP_ANOMALY", "common.schema.json", "anomaly", "`anomalies`", True),
    ("SMTP_VERB", "common.schema.json", "verb", None, False),
    ("CLS_OUTCOME", "common.schema.json", "session_outcome", "`outcome` | string | always | the session", False),
    ("CLS_TX_OUTCOME", "common.schema.json", "tx_outcome", "`outcome` | string | always | `committed`", False),
)


def header_lists(path):
    """{LIST name: [names in order]} of the X-macro lists in the header."""
    with open(path) as f:
        text = f.read()
    return {m.group(1): ENTRY.findall(m.group(2)) for m in LIST.finditer(text)}


def doc_line(lines, lead):
    """The first record.md table line starting with "| LEAD"."""
    for line in lines:
        if line.startswith("| " + lead):
            return line
    return None


def list_problems(names, enum, line, ordered, label):
    problems = []
    if set(names) != set(enum):
        problems.append("%s: in the list, not the schema: %s; in the schema, not the list: %s"
                        % (label, sorted(set(names) - set(enum)), sorted(set(enum) - set(names))))
    if line is None:
        return problems
    ticks = re.findall(r"`([^`]+)`", line)
    missing = [n for n in names if n not in ticks]
    if missing:
        problems.append("%s: not named in docs/record.md: %s" % (label, missing))
    elif ordered and [t for t in ticks if t in names] != names:
        problems.append("%s: docs/record.md names them in another order than the list" % label)
    return problems


def cmd_lists(header, record_md):
    lists = header_lists(header)
    schemas = load_schemas()
    defs = {f: schemas[f].get("definitions", {}) for f in set(x[1] for x in LISTS)}
    with open(record_md) as f:
        lines = f.read().splitlines()
    problems = []
    for name, fname, key, lead, ordered in LISTS:
        if name not in lists:
            problems.append("%s_LIST: not in %s" % (name, header))
            continue
        enum = defs[fname].get(key, {}).get("enum", [])
        line = doc_line(lines, lead) if lead else None
        if lead and line is None:
            problems.append("%s: no docs/record.md line starting %s" % (name, lead))
        problems += list_problems(lists[name], enum, line, ordered, name)
    for p in problems:
        print(p)
    print("%d lists, %d names, %d problems" % (len(LISTS), sum(len(lists.get(x[0], [])) for x in LISTS), len(problems)))
    return 1 if problems else 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "validate":
        return cmd_validate(argv[2:])
    if len(argv) == 3 and argv[1] == "doc":
        return cmd_doc(argv[2])
    if len(argv) in (2, 4) and argv[1] == "estemplate" and argv[2:3] in ([], ["--check"]):
        return cmd_estemplate(argv[3:])
    if 2 <= len(argv) <= 4 and argv[1] == "lists":
        rest = argv[2:] + [None, None]
        return cmd_lists(rest[0] or os.path.join(TOP, "include", "smtp_lists.h"),
                         rest[1] or os.path.join(TOP, "docs", "record.md"))
    if len(argv) == 3 and argv[1] == "reject":
        return cmd_reject(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
