#!/usr/bin/env python3
"""t/fuzz-strict.py DIR... -- the second, strict JSON parser of the fuzz
property (issue 12.6): every file in each DIR is an input that a harness
accepted (fuzz/accepted.h); each must be RFC 8259 JSON to Python's json
module too.  Its strict mode already refuses raw control characters in
strings; NaN, Infinity and -Infinity, which it takes by default, are
refused here, and the bytes must be UTF-8.  Prints one line per refused
file; exits 1 when there is one, 2 when there is nothing to read."""
import json
import os
import sys


def reject(name):
    raise ValueError("%s is not an RFC 8259 number" % name)


n = bad = 0
for d in sys.argv[1:]:
    for f in sorted(os.listdir(d)):
        path = os.path.join(d, f)
        with open(path, "rb") as fh:
            data = fh.read()
        n += 1
        try:
            json.loads(data.decode("utf-8"), parse_constant=reject)
        except (ValueError, RecursionError) as e:
            bad += 1
            print("%s: %s" % (path, e))
print("fuzz-strict: %d accepted inputs, %d refused by Python's json" % (n, bad),
      file=sys.stderr)
sys.exit(2 if n == 0 else 1 if bad else 0)
