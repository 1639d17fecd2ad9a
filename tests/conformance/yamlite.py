"""yamlite: a small reader for the YAML subset that suricata-verify's test.yaml files use.

PyYAML may be absent, and the files use only: block mappings and block sequences by
indentation (a sequence may sit at its parent key's indentation), "- key: value" items,
plain, single-quoted and double-quoted scalars, flow sequences of scalars ["a", "b"],
and comments. Scalars that read as integers become int, true/false become bool; anything
else stays a string. Anything outside the subset raises YamlError naming the line.
"""

import re


class YamlError(ValueError):
    pass


_DQ_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "r": "\r", "t": "\t", "0": "\0",
               "b": "\b", "f": "\f", "a": "\a", "e": "\x1b", " ": " ", "N": "\x85"}


def _strip_comment(text):
    """Removes a comment: '#' at the start or after whitespace, outside quotes."""
    quote = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote == '"':
            if c == "\\":
                i += 2
                continue
            if c == '"':
                quote = None
        elif quote == "'":
            if c == "'":
                quote = None
        elif c in "\"'" and (i == 0 or text[i - 1] in " \t[,:-"):
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
        i += 1
    return text.rstrip()


def _double_quoted(s, lineno):
    out = []
    i = 1
    while i < len(s):
        c = s[i]
        if c == '"':
            return "".join(out), s[i + 1:]
        if c == "\\":
            e = s[i + 1:i + 2]
            if e == "x":
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
            if e == "u":
                out.append(chr(int(s[i + 2:i + 6], 16)))
                i += 6
                continue
            if e not in _DQ_ESCAPES:
                raise YamlError("line %d: unknown escape \\%s" % (lineno, e))
            out.append(_DQ_ESCAPES[e])
            i += 2
            continue
        out.append(c)
        i += 1
    raise YamlError("line %d: unterminated double-quoted string" % lineno)


def _single_quoted(s, lineno):
    out = []
    i = 1
    while i < len(s):
        if s[i] == "'":
            if s[i + 1:i + 2] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), s[i + 1:]
        out.append(s[i])
        i += 1
    raise YamlError("line %d: unterminated single-quoted string" % lineno)


def _plain(s):
    if re.fullmatch(r"[-+]?[0-9]+", s):
        return int(s)
    if s in ("true", "True"):
        return True
    if s in ("false", "False"):
        return False
    if s in ("null", "~"):
        return None
    return s


def _scalar(s, lineno):
    s = s.strip()
    if s.startswith('"'):
        value, rest = _double_quoted(s, lineno)
    elif s.startswith("'"):
        value, rest = _single_quoted(s, lineno)
    elif s.startswith("["):
        return _flow_sequence(s, lineno)
    elif s.startswith("{"):
        raise YamlError("line %d: flow mappings are not supported" % lineno)
    else:
        return _plain(s)
    if rest.strip():
        raise YamlError("line %d: text after a quoted scalar" % lineno)
    return value


def _flow_sequence(s, lineno):
    if not s.endswith("]"):
        raise YamlError("line %d: flow sequence must end on its line" % lineno)
    body = s[1:-1].strip()
    items = []
    while body:
        if body[0] == '"':
            value, body = _double_quoted(body, lineno)
        elif body[0] == "'":
            value, body = _single_quoted(body, lineno)
        else:
            cut = body.find(",")
            raw = body if cut < 0 else body[:cut]
            value, body = _plain(raw.strip()), ("" if cut < 0 else body[cut:])
        items.append(value)
        body = body.strip()
        if body.startswith(","):
            body = body[1:].strip()
        elif body:
            raise YamlError("line %d: bad flow sequence" % lineno)
    return items


def _split_key(text, lineno):
    """'key: value' -> (key, value or None). The key is plain or quoted."""
    if text[:1] in "\"'":
        key, rest = (_double_quoted if text[0] == '"' else _single_quoted)(text, lineno)
        rest = rest.lstrip()
        if not rest.startswith(":"):
            raise YamlError("line %d: expected ':' after a quoted key" % lineno)
        rest = rest[1:]
    else:
        m = re.match(r"([^:]*?):(?:\s|$)", text)
        if not m:
            return None
        key, rest = m.group(1), text[m.end():]
    rest = rest.strip()
    return key, (rest if rest else None)


class _Lines:
    def __init__(self, text):
        self.items = []  # (indent, content, lineno)
        for n, raw in enumerate(text.splitlines(), 1):
            if "\t" in raw[:len(raw) - len(raw.lstrip())]:
                raise YamlError("line %d: tab in indentation" % n)
            content = _strip_comment(raw)
            if not content.strip() or content.strip() in ("---", "..."):
                continue
            self.items.append((len(content) - len(content.lstrip(" ")), content.strip(), n))
        self.pos = 0

    def peek(self):
        return self.items[self.pos] if self.pos < len(self.items) else None


def _is_seq_item(content):
    return content == "-" or content.startswith("- ")


def _parse_node(lines, indent):
    first = lines.peek()
    if first is None or first[0] < indent:
        return None
    if _is_seq_item(first[1]):
        return _parse_sequence(lines, first[0])
    return _parse_mapping(lines, first[0])


def _parse_sequence(lines, indent):
    out = []
    while True:
        cur = lines.peek()
        if cur is None or cur[0] != indent or not _is_seq_item(cur[1]):
            return out
        lines.pos += 1
        rest = cur[1][1:].strip()
        if not rest:
            out.append(_parse_node(lines, indent + 1))
            continue
        kv = None if rest[:1] in "[" else _split_key(rest, cur[2])
        if kv is None:
            out.append(_scalar(rest, cur[2]))
            continue
        # "- key: value": a mapping whose keys sit at the column of "key"
        col = indent + (len(cur[1]) - len(cur[1][1:].lstrip()))
        lines.items.insert(lines.pos, (col, rest, cur[2]))
        out.append(_parse_mapping(lines, col))


def _parse_mapping(lines, indent):
    out = {}
    while True:
        cur = lines.peek()
        if cur is None or cur[0] < indent:
            return out
        if cur[0] > indent:
            raise YamlError("line %d: unexpected indentation" % cur[2])
        if _is_seq_item(cur[1]):
            return out
        kv = _split_key(cur[1], cur[2])
        if kv is None:
            raise YamlError("line %d: expected 'key: value'" % cur[2])
        lines.pos += 1
        key, value = kv
        if value is not None:
            out[key] = _scalar(value, cur[2])
            continue
        nxt = lines.peek()
        if nxt is not None and (nxt[0] > indent or (nxt[0] == indent and _is_seq_item(nxt[1]))):
            out[key] = _parse_node(lines, nxt[0])
        else:
            out[key] = None


def loads(text):
    """Parses a document of the subset; returns dict, list, scalar or None."""
    lines = _Lines(text)
    node = _parse_node(lines, 0)
    if lines.peek() is not None:
        raise YamlError("line %d: unexpected text" % lines.peek()[2])
    return node


def load_file(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return loads(f.read())
