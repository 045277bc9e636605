#!/bin/sh
# t/csv-target-big.sh — `csv --source target` over a file:// archive must
# cost memory per caller, not per object (SPEC 5: "memory follows the
# emails, not the objects").  Two days from the same few callers, one of
# CT_CSV_TBIG_SMALL objects (default 20,000) and one ten times that
# (CT_CSV_TBIG_N, default 200,000), are uploaded into a file:// archive
# and read back; the bigger day's peak RSS (GNU time) may exceed the
# smaller's by at most CT_CSV_TBIG_SLACK_KB (default 4 MiB): a listing
# that gathered a day's names to sort them grows by ~12 MiB here.
. "$top_srcdir/t/lib.sh"

EXPORT=$top_builddir/exporter/calltrail-export
# AddressSanitizer keeps freed memory in quarantine (256 MiB), so peak RSS
# says nothing there: the release build proves the bound.
grep -q __asan_init "$EXPORT" 2>/dev/null &&
	skip_all "an AddressSanitizer build: memory is not measured"
GEN=$top_builddir/t/csv-gen
SMALL=${CT_CSV_TBIG_SMALL:-20000}
N=${CT_CSV_TBIG_N:-200000}
SLACK=${CT_CSV_TBIG_SLACK_KB:-4096}
EMAILS=10
[ -x "$EXPORT" ] || bail "no $EXPORT (build first)"
[ -x "$GEN" ] || bail "no $GEN (make check builds it)"
[ -x /usr/bin/time ] || skip_all "GNU time is needed (apt-get install time)"

# tmpfs when writable: 220,000 file creates, twice (spool and archive).
BIG=$T/big
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	BIG=$(mktemp -d /dev/shm/ct-csv-tbig.XXXXXX) || bail "mktemp in /dev/shm failed"
	trap 'rm -rf "$BIG"; _cleanup' EXIT
fi
mkdir -p "$BIG/spool/tmp" "$BIG/spool/new" || bail "mkdir $BIG/spool failed"
cat >"$T/conf" <<EOF
spool_dir = $BIG/spool
target = file://$BIG/archive
csv_dir = $BIG/csv
EOF
unset CALLTRAIL_CONF

# load DAY COUNT: COUNT records of DAY into the archive, by upload (a
# run claims at most 100,000: run until new/ is empty).
load() {
	"$GEN" "$BIG/spool/new" "$2" "$1" "$EMAILS" || return 1
	while [ -n "$(ls -A "$BIG/spool/new")" ]; do
		"$EXPORT" -c "$T/conf" upload >/dev/null 2>&1
		[ $? -eq 0 ] || return 1
	done
	n=$(ls "$BIG/archive/sessions/year=${1%%-*}/month=$(echo "$1" | cut -d- -f2)/day=${1##*-}" | wc -l)
	[ "$n" -eq "$2" ]
}
# rss DAY: csv --source target for DAY; prints its peak RSS in KiB.
rss() {
	/usr/bin/time -v -o "$T/time" "$EXPORT" -c "$T/conf" csv --day "$1" \
		--source target >"$T/out" 2>"$T/err" || return 1
	grep -q "wrote $EMAILS rows .* read $2 calls" "$T/out" || return 1
	sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time"
}

load 2025-10-28 "$SMALL"; ok $? "$SMALL objects of 2025-10-28 in the file:// archive"
load 2025-10-29 "$N"; ok $? "$N objects of 2025-10-29 in the file:// archive"
small=$(rss 2025-10-28 "$SMALL"); ok $? "csv --source target over $SMALL objects: every call read"
big=$(rss 2025-10-29 "$N"); ok $? "csv --source target over $N objects: every call read"
[ -s "$T/err" ] && diag "$(head -5 "$T/err")"
diag "peak RSS: $small KiB for $SMALL objects, $big KiB for $N"
[ -n "$small" ] && [ -n "$big" ] && [ "$big" -le $((small + SLACK)) ]
ok $? "memory stays flat: $N objects cost at most $SLACK KiB more than $SMALL"

done_testing
