#!/usr/bin/env python3
"""golden-diff.py: says whether two versions of golden files differ in more than the named
keys, for reviewing a regeneration (tests/update-golden.sh) that should change only those.

    tests/golden-diff.py KEY[,KEY...] OLD_DIR NEW_DIR

Prints each file whose records differ once the keys are removed (a plain name at any depth,
a dotted one at that path only); exits 1 then.
"""
import json
import os
import sys


def strip(v, keys, path=""):
    """Removes every member named in keys: a plain name at any depth, a dotted one
    ("smtp.rcpt_to") at that path only."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            p = path + "." + k if path else k
            if k in keys or p in keys:
                continue
            out[k] = strip(x, keys, p)
        return out
    if isinstance(v, list):
        return [strip(x, keys, path) for x in v]
    return v


def load(path, keys):
    with open(path, encoding="utf-8") as f:
        return [strip(json.loads(l), keys) for l in f if l.strip()]


def main(argv):
    keys = set(argv[1].split(","))
    bad = 0
    for name in sorted(os.listdir(argv[3])):
        old, new = os.path.join(argv[2], name), os.path.join(argv[3], name)
        if not name.endswith(".json") or not os.path.exists(old):
            continue
        if load(old, keys) != load(new, keys):
            print("differs beyond %s: %s" % (",".join(sorted(keys)), name))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
