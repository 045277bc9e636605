#!/usr/bin/env bash
# scripts/valgrind.sh — calltrail under valgrind's memcheck: zero errors
# and zero definite leaks, or this fails.
#
#   bash scripts/valgrind.sh [BUILD_DIR]     (default build/valgrind)
#
#   1. every C unit test (t/*-t) under memcheck;
#   2. t/valgrind-token.sh: 10,000 token requests through ONE
#      calltrail-token worker (--workers 1 --threads 1) behind nginx;
#   3. calltrail-export upload to file:// (records stored, one refused),
#      status, and csv for the day;
#   4. calltrail-spool put (a good record, a bad one) and
#      email-from-metadata.
# Each run: valgrind --error-exitcode=99 --leak-check=full
# --errors-for-leak-kinds=definite, so a definite leak is an error.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$top/build/valgrind}
command -v valgrind >/dev/null || { echo "valgrind: apt-get install valgrind" >&2; exit 69; }
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --track-fds=no)
fail=0
say() { printf '%-60s %s\n' "$1" "$2"; }

# -O1 -g: optimised enough to be the code that ships, stacks readable.
if [ ! -f "$b/Makefile" ]; then
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1)
	mkdir -p "$b" && (cd "$b" && "$top/configure" -q CFLAGS="-O1 -g") || exit 1
fi
make -C "$b" -j2 >/dev/null && make -C "$b" -j2 check TESTS= >/dev/null || exit 1
export top_srcdir=$top top_builddir=$b
T=$(mktemp -d "${TMPDIR:-/tmp}/ct-vg.XXXXXX")
trap 'rm -rf "$T"' EXIT

# vg NAME WANT-EXIT CMD...: run CMD under memcheck; 99 is memcheck's.
vg() {
	local name=$1 want=$2 rc; shift 2
	"${VG[@]}" --log-file="$T/vg.log" "$@" >"$T/out" 2>&1
	rc=$?
	if [ "$rc" = 99 ] || [ -s "$T/vg.log" ]; then
		say "$name" "MEMCHECK ERRORS"; sed -n '1,60p' "$T/vg.log"; fail=1
	elif [ "$rc" != "$want" ]; then
		say "$name" "exit $rc, wanted $want"; tail -n 20 "$T/out"; fail=1
	else
		say "$name" "ok"
	fi
}

echo "== unit tests under memcheck"
for t in "$b"/t/*-t; do
	[ -x "$t" ] || continue
	(cd "$b" && vg "t/$(basename "$t")" 0 "$t")
	grep -q '^not ok' "$T/out" && { say "  $(basename "$t")" "has failing TAP lines"; fail=1; }
done

echo "== calltrail-token: 10,000 requests through one worker, behind nginx"
if sh "$top/t/valgrind-token.sh" >"$T/token.tap" 2>&1 && ! grep -q '^not ok' "$T/token.tap"; then
	say "t/valgrind-token.sh" "ok ($(grep -c '^ok' "$T/token.tap") checks)"
else
	say "t/valgrind-token.sh" "FAILED"; cat "$T/token.tap"; fail=1
fi

echo "== calltrail-export and calltrail-spool"
SP=$T/spool DAY=$(date -u +%Y-%m-%d)
printf 'spool_dir = %s\ntarget = file://%s/archive\ncsv_dir = %s/csv\n' "$SP" "$T" "$T" >"$T/conf"
mkdir -p "$T/csv"
rec() { printf '{"session_id":"vg_%s","user_email":"%s","start_time":"%sT10:00:00Z","end_time":"%sT10:0%s:00.5Z","discovered_signals":{"qualification_tier":"warm"},"tool_calls":[{"n":1}]}' "$1" "$2" "$DAY" "$DAY" "$3"; }
SPOOL="$b/src/calltrail-spool"
rec a jane@acme.com 1 >"$T/r1.json"
vg "calltrail-spool put FILE" 0 "$SPOOL" put -d "$SP" "$T/r1.json"
vg "calltrail-spool put - (stdin)" 0 "$SPOOL" put -d "$SP" - <"$T/r1.json"
echo '{"session_id":"bad id!","start_time":"x"}' >"$T/bad.json"
vg "calltrail-spool put: an invalid record exits 65" 65 "$SPOOL" put -d "$SP" "$T/bad.json"
vg "calltrail-spool email-from-metadata" 0 "$SPOOL" email-from-metadata '{"user_email":"a@b.co"}'
vg "calltrail-spool email-from-metadata (not JSON)" 0 "$SPOOL" email-from-metadata 'nope'
for i in 2 3 4 5 6 7 8 9; do rec "$i" "c$i@example.com" "$i" >"$T/r.json"; "$SPOOL" put -d "$SP" "$T/r.json" >/dev/null; done
# A record that passes the spool's file rule but not validation: refused.
mkdir -p "$SP/new" && echo '{"session_id":"x"}' >"$SP/new/1.1.bad.json"
vg "calltrail-export upload (file://, one refused)" 0 "$b/exporter/calltrail-export" -c "$T/conf" upload
grep -q "stored 10, refused 1" "$T/out" || { say "  upload summary" "unexpected: $(tail -n 1 "$T/out")"; fail=1; }
vg "calltrail-export upload (nothing new)" 0 "$b/exporter/calltrail-export" -c "$T/conf" upload
vg "calltrail-export status --json" 0 "$b/exporter/calltrail-export" -c "$T/conf" status --json
vg "calltrail-export csv --day $DAY" 0 "$b/exporter/calltrail-export" -c "$T/conf" csv --day "$DAY" --out "$T/csv"

[ "$fail" = 0 ] && echo "scripts/valgrind.sh: no memcheck errors, no definite leaks" ||
	echo "scripts/valgrind.sh: FAILED"
exit "$fail"
