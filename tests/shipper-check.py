#!/usr/bin/python3
"""shipper-check: what a log shipper wrote back, held against what smtptrace wrote.

  shipper-check.py exact SENT GOT
      GOT (one JSON object per line, the shipper's parse of each line of SENT, in order) must
      equal SENT record by record, every field with its type: rsyslog's mmjsonparse.
  shipper-check.py strings SENT GOT
      the same, but every scalar may arrive as a string (syslog-ng's json-parser): a number
      as its JSON text, true/false as "true"/"false"; an array of scalars as one string in
      syslog-ng's list form (a,"b c"); an array of objects as one string of its JSON text.
      Each must still carry the value sent. Prints the paths that changed type, one line per
      kind of change.
  shipper-check.py cut SENT FAILED LIMIT
      FAILED holds SENT's lines that are longer than LIMIT (one at least), in order, each cut
      to its first LIMIT bytes (how a shipper with a message size limit handles them).

Prints "N records intact (TYPE=N ...)" on success; exit 1 with the differences otherwise.
"""
import json
import sys


def load(path):
    with open(path, "rb") as f:
        return [json.loads(line) for line in f if line.strip()]


def kinds(sent):
    out = {}
    for rec in sent:
        out[rec.get("event_type")] = out.get(rec.get("event_type"), 0) + 1
    return " ".join("%s=%d" % kv for kv in sorted(out.items()))


def json_text(v):
    """A scalar as the string a shipper that keeps only text gives it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    return json.dumps(v)


def diff(path, a, b, out, changed):
    """Appends to out each difference between sent a and got b; changed is None for an exact
    comparison, else a dict (kind of change: paths) of the changes strings() allows."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in b:
                out.append("%s.%s: missing" % (path, k))
            elif k not in a:
                out.append("%s.%s: added (%r)" % (path, k, b[k]))
            else:
                diff(path + "." + k, a[k], b[k], out, changed)
    elif changed is not None and not (type(a) is type(b) and a == b):
        strings(path, a, b, out, changed)
    elif type(a) is not type(b):
        out.append("%s: sent %s %r, got %s %r" % (path, type(a).__name__, a, type(b).__name__, b))
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append("%s: %d elements sent, %d got" % (path, len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            diff("%s[%d]" % (path, i), x, y, out, changed)
    elif a != b:
        out.append("%s: sent %r, got %r" % (path, a, b))


def list_items(text):
    """The elements of syslog-ng's list form: a,"b c",d (quoted when needed, \\ escapes)."""
    items, cur, quoted, i = [], "", False, 0
    if text == "":
        return []
    while i < len(text):
        c = text[i]
        if quoted and c == "\\" and i + 1 < len(text):
            i += 1
            cur += text[i]
        elif c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            items.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    return items + [cur]


def strings(path, a, b, out, changed):
    """A value that a shipper keeping only text may have changed."""
    generic = path.split("[")[0]
    if isinstance(a, list) and isinstance(b, str) and a and isinstance(a[0], (dict, list)):
        try:
            same = json.loads(b) == a
        except ValueError:
            same = False
        if not same:
            out.append("%s: an array of objects sent, got %r" % (path, b[:200]))
        changed.setdefault("array of objects -> its JSON text", set()).add(generic)
    elif isinstance(a, list) and isinstance(b, str):
        if list_items(b) != [json_text(x) for x in a]:
            out.append("%s: sent %r, got %r" % (path, a, b[:200]))
        changed.setdefault("array -> one string (list form; [] -> \"\")", set()).add(generic)
    elif isinstance(b, str) and not isinstance(a, (list, dict)) and b == json_text(a):
        changed.setdefault("%s -> string" % type(a).__name__, set()).add(generic)
    elif isinstance(b, str) and isinstance(a, float) and abs(float(b) - a) <= 1e-9 * max(1, abs(a)):
        key = [k for k in changed if k.startswith("float -> string, reformatted")]
        key = key[0] if key else "float -> string, reformatted (e.g. %r as %r)" % (a, b)
        changed.setdefault(key, set()).add(generic)
    else:
        out.append("%s: sent %r, got %r" % (path, a, b))


def cmd_compare(mode, sent_path, got_path):
    sent, got = load(sent_path), load(got_path)
    problems, changed = [], {}
    if len(sent) != len(got):
        problems.append("%d records sent, %d arrived" % (len(sent), len(got)))
    for i, (a, b) in enumerate(zip(sent, got)):
        out = []
        diff("", a, b, out, None if mode == "exact" else changed)
        for p in out[:10]:
            problems.append("record %d (%s): %s" % (i + 1, a.get("event_type"), p))
    for what, paths in sorted(changed.items()):
        print("changed: %s: %s" % (what, " ".join(sorted(paths))))
    for p in problems[:40]:
        print(p)
    if problems or not sent:
        print("%d records sent, %d problems" % (len(sent), len(problems)))
        return 1
    print("%d records intact (%s)" % (len(sent), kinds(sent)))
    return 0


def cmd_cut(sent_path, failed_path, limit):
    with open(sent_path, "rb") as f:
        long_lines = [line.rstrip(b"\n") for line in f if len(line.rstrip(b"\n")) > limit]
    with open(failed_path, "rb") as f:
        failed = [line.rstrip(b"\n") for line in f]
    if not long_lines or len(long_lines) != len(failed):
        print("%d lines over %d bytes sent, %d unparsed lines" % (len(long_lines), limit,
                                                                 len(failed)))
        return 1
    for sent, got in zip(long_lines, failed):
        if got != sent[:limit]:
            print("an unparsed line (%d bytes) is not its record's first %d bytes" %
                  (len(got), limit))
            return 1
    print("%d records of %s bytes arrived cut to their first %d bytes, unparsed" %
          (len(long_lines), "/".join(str(len(x)) for x in long_lines), limit))
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] in ("exact", "strings"):
        return cmd_compare(argv[1], argv[2], argv[3])
    if len(argv) == 5 and argv[1] == "cut":
        return cmd_cut(argv[2], argv[3], int(argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
