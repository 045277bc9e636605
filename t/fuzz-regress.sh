#!/bin/sh
# t/fuzz-regress.sh — every seed of the fuzz corpora (t/fuzz/corpus/HARNESS/)
# and every input that once made a fuzzer fail (t/fuzz/regress/HARNESS/)
# replayed through the harness built as a plain program
# (fuzz/replay-HARNESS: fuzz/fuzz-*.c + fuzz/driver.c), with all its
# invariants.  Under the sanitizer build of scripts/test.sh this is also an
# ASan/UBSan run over every input.  Inputs of bugs still open are listed
# in t/fuzz/regress/KNOWN and reported as TODO (see that file).
#
# The record and handler harnesses also keep every input they accepted
# as JSON (CT_FUZZ_ACCEPTED, fuzz/accepted.h); at the end a second,
# strict parser, Python's json (t/fuzz-strict.py), must read each one.
. "$top_srcdir/t/lib.sh"

known=$top_srcdir/t/fuzz/regress/KNOWN
# The harnesses' scratch files go to our scratch directory.
TMPDIR=$T
export TMPDIR
ACC=$T/accepted
mkdir -p "$ACC"

for h in email record conf handler handler-headers fcgi s3xml sts; do
	bin=$top_builddir/fuzz/replay-$h
	[ -x "$bin" ] || bail "$bin not built"
	n=0
	for f in "$top_srcdir"/t/fuzz/corpus/$h/* "$top_srcdir"/t/fuzz/regress/$h/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		rel=${f#"$top_srcdir"/t/fuzz/}
		why=$(grep -v '^#' "$known" | awk -v k="${rel#regress/}" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }')
		case $h in
		record|handler*) CT_FUZZ_ACCEPTED=$ACC "$bin" "$f" >"$T/out" 2>&1 ;;
		*) "$bin" "$f" >"$T/out" 2>&1 ;;
		esac
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

# The property: what calltrail accepted, Python's json reads too.
nrec=$(ls "$ACC" | grep -c '^record-')
nhan=$(ls "$ACC" | grep -c '^handler-')
[ "$nrec" -gt 0 ] && [ "$nhan" -gt 0 ]
ok $? "the record and handler harnesses accepted inputs to check ($nrec, $nhan)"
if command -v python3 >/dev/null; then
	python3 "$top_srcdir/t/fuzz-strict.py" "$ACC" >"$T/strict" 2>&1
	rc=$?
	ok "$rc" "every input accepted as JSON is strict RFC 8259 JSON to Python's json"
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/strict" | tail -n 20
else
	skip "python3 is not installed"
fi
done_testing
