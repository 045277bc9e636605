#!/bin/sh
# t/fuzz-regress.sh — every seed of the fuzz corpora (t/fuzz/corpus/HARNESS/)
# and every input that once made a fuzzer fail (t/fuzz/regress/HARNESS/)
# replayed through the harness built as a plain program
# (fuzz/replay-HARNESS: fuzz/fuzz-*.c + fuzz/driver.c), with all its
# invariants.  Under the sanitizer build of scripts/test.sh this is also an
# ASan/UBSan run over every input.  Inputs of bugs still open are listed
# in t/fuzz/regress/KNOWN and reported as TODO (see that file).
. "$top_srcdir/t/lib.sh"

known=$top_srcdir/t/fuzz/regress/KNOWN
# The harnesses' scratch files go to our scratch directory.
TMPDIR=$T
export TMPDIR

for h in email record conf handler handler-headers fcgi s3xml sts; do
	bin=$top_builddir/fuzz/replay-$h
	[ -x "$bin" ] || bail "$bin not built"
	n=0
	for f in "$top_srcdir"/t/fuzz/corpus/$h/* "$top_srcdir"/t/fuzz/regress/$h/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		rel=${f#"$top_srcdir"/t/fuzz/}
		why=$(grep -v '^#' "$known" | awk -v k="${rel#regress/}" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }')
		"$bin" "$f" >"$T/out" 2>&1
		rc=$?
		if [ -n "$why" ]; then
			# An open bug: expected to fail until it is fixed.
			_tap_n=$((_tap_n + 1))
			if [ "$rc" -eq 0 ]; then
				echo "ok $_tap_n - $h: $rel # TODO fixed? remove it from t/fuzz/regress/KNOWN"
			else
				echo "not ok $_tap_n - $h: $rel # TODO $why"
			fi
			continue
		fi
		ok "$rc" "$h: $rel"
		[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/out" | tail -n 30
	done
	[ "$n" -gt 0 ] || ok 1 "$h: no inputs in t/fuzz/corpus/$h"
done
done_testing
