#!/bin/sh
# t/csv-big.sh — a day of CT_CSV_BIG_N records (default 1,000,000) from
# CT_CSV_BIG_EMAILS callers (default 1000) must build in bounded memory:
# the aggregation keeps one entry per caller, never the records.  Peak RSS
# (from GNU time) is asserted under CT_CSV_BIG_RSS_KB (default 64 MiB);
# the seconds are reported, not asserted, since this machine is shared.
#
# The records go to tmpfs (/dev/shm) when it is writable: a million file
# creates on a journalled disk take longer than the test may run.
. "$top_srcdir/t/lib.sh"

EXPORT=$top_builddir/exporter/calltrail-export
GEN=$top_builddir/t/csv-gen
N=${CT_CSV_BIG_N:-1000000}
EMAILS=${CT_CSV_BIG_EMAILS:-1000}
RSS_MAX=${CT_CSV_BIG_RSS_KB:-65536}
DAY=2025-10-29
[ -x "$EXPORT" ] || bail "no $EXPORT (build first)"
[ -x "$GEN" ] || bail "no $GEN (make check builds it)"
[ -x /usr/bin/time ] || skip_all "GNU time is needed (apt-get install time)"
[ "$N" -ge "$EMAILS" ] || bail "CT_CSV_BIG_N must be at least CT_CSV_BIG_EMAILS"

BIG=$T/big
if [ -z "${CT_CSV_BIG_DIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	BIG=$(mktemp -d /dev/shm/ct-csv-big.XXXXXX) || bail "mktemp in /dev/shm failed"
	trap 'rm -rf "$BIG"; _cleanup' EXIT
elif [ -n "${CT_CSV_BIG_DIR:-}" ]; then
	BIG=$(mktemp -d "$CT_CSV_BIG_DIR/ct-csv-big.XXXXXX") || bail "mktemp failed"
	trap 'rm -rf "$BIG"; _cleanup' EXIT
fi
mkdir -p "$BIG/spool/sent/$DAY" "$BIG/csv"
cat >"$T/conf" <<EOF
spool_dir = $BIG/spool
target = file://$BIG/archive
csv_dir = $BIG/csv
EOF
unset CALLTRAIL_CONF

t0=$(date +%s)
"$GEN" "$BIG/spool/sent/$DAY" "$N" "$DAY" "$EMAILS"
is 0 $? "generated $N records from $EMAILS callers"
diag "generating took $(( $(date +%s) - t0 )) s in $BIG"

/usr/bin/time -v -o "$T/time" "$EXPORT" -c "$T/conf" csv --day "$DAY" >"$T/out" 2>"$T/err"
is 0 $? "csv over $N records exits 0"
[ -s "$T/err" ] && diag "$(head -5 "$T/err")"
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time")
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$T/time")
user=$(sed -n 's/.*User time (seconds): //p' "$T/time")
sys=$(sed -n 's/.*System time (seconds): //p' "$T/time")
diag "csv: $wall wall, ${user}s user, ${sys}s system, peak RSS $rss KiB"
[ -n "$rss" ] && [ "$rss" -lt "$RSS_MAX" ]
ok $? "peak RSS ${rss} KiB < $RSS_MAX KiB: memory follows callers, not calls"
like "$(cat "$T/out")" "wrote $EMAILS rows .* read $N calls; left out: no email 0, bad email 0, email over 80 chars 0, unsafe cell 0, tier over 255 chars 0, unreadable 0, other day 0" \
	"summary: every call read, one row per caller"

# Caller 0's last call is record N - EMAILS + (0): csv-gen ends record i
# at DAY 00:00:00 + i ms and gives it tier t(i % 3).
FILE=$BIG/csv/salesforce-leads-$DAY.csv
i=$(( (N - 1) / EMAILS * EMAILS ))
ms=$(( i % 86400000 ))
when=$(printf '%sT%02d:%02d:%02d.%03dZ' "$DAY" $((ms / 3600000)) $((ms / 60000 % 60)) \
	$((ms / 1000 % 60)) $((ms % 1000)))
calls=$(( (N + EMAILS - 1) / EMAILS ))
want=$(printf 'user0@example.com,big_%d,%s,t%d,%d\r' "$i" "$when" $((i % 3)) "$calls")
is "$want" "$(grep '^user0@example.com,' "$FILE")" "caller 0: latest call wins, all calls counted"
is $((EMAILS + 1)) "$(wc -l <"$FILE" | tr -d ' ')" "header + one line per caller"

done_testing
