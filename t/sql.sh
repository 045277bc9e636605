#!/bin/sh
# t/sql.sh — sql/ (SPEC section 10): the daily leads query (sql/leads.sql,
# the one query for Athena, Trino and DuckDB) over sql/duckdb.sql's view,
# run by @duckdb/node-api over an archive
# this test wrote with the real programs (calltrail-spool put, then
# calltrail-export upload to a file:// target), gives the very bytes of
# `calltrail-export csv` for the same day: the crafted day of
# t/data/csv/day (ties, offsets, quoting, unsafe cells, long and missing
# emails) and a generated day of many calls per caller.
. "$top_srcdir/t/lib.sh"

EXPORT=$top_builddir/exporter/calltrail-export
SPOOLPUT=$top_builddir/src/calltrail-spool
GEN=$top_builddir/t/csv-gen
[ -x "$EXPORT" ] && [ -x "$SPOOLPUT" ] && [ -x "$GEN" ] || bail "build first"
need_node_modules
command -v node >/dev/null || skip_all "node is not installed"
[ -d "$NODE_PATH/@duckdb/node-api" ] || bail "@duckdb/node-api is missing from $NODE_PATH"
unset CALLTRAIL_CONF

cat >"$T/conf" <<EOF
spool_dir = $T/spool
target = file://$T/archive/calltrail
csv_dir = $T/csv
keep_days = 3650
EOF

# day DAY: the CSV of calltrail-export and of the DuckDB query, compared.
day() {
	d=$1
	"$EXPORT" -c "$T/conf" csv --day "$d" --source target >"$T/csv.out" 2>&1
	is 0 $? "$d: calltrail-export csv --source target"
	node "$top_srcdir/t/sql-duckdb.js" "$top_srcdir/sql" "$T/archive/calltrail" "$d" \
		>"$T/duck.csv" 2>"$T/duck.err"
	is 0 $? "$d: the DuckDB query ran $(head -c 300 "$T/duck.err")"
	if cmp -s "$T/csv/salesforce-leads-$d.csv" "$T/duck.csv"; then
		ok 0 "$d: the DuckDB query gives calltrail's CSV byte for byte ($(wc -l <"$T/duck.csv" | tr -d " ") lines)"
	else
		ok 1 "$d: the DuckDB query gives calltrail's CSV byte for byte"
		diff "$T/csv/salesforce-leads-$d.csv" "$T/duck.csv" | head -n 10 | sed 's/^/# /'
	fi
}

# ---- the crafted day
for f in "$top_srcdir"/t/data/csv/day/*.json; do
	"$SPOOLPUT" put -d "$T/spool" "$f" >/dev/null || bail "calltrail-spool put $f failed"
done
"$EXPORT" -c "$T/conf" upload >"$T/up.out" 2>&1
is 0 $? "upload of the crafted day to a file:// archive"
day 2025-10-29
cmp -s "$T/duck.csv" "$top_srcdir/t/data/csv/day/expected.csv"
ok $? "2025-10-29: which is t/data/csv/day/expected.csv"

# ---- a generated day: 1,200 calls from 150 callers (mixed case), tiers
# changing, each caller's last call winning
mkdir -p "$T/gen"
CT_CSV_GEN_JOBS=2 "$GEN" "$T/gen" 1200 2025-11-03 150 || bail "csv-gen failed"
for f in "$T/gen"/*.json; do
	"$SPOOLPUT" put -d "$T/spool" "$f" >/dev/null || bail "calltrail-spool put $f failed"
done
"$EXPORT" -c "$T/conf" upload >"$T/up.out" 2>&1
is 0 $? "upload of 1,200 generated calls"
day 2025-11-03
is 151 "$(wc -l <"$T/duck.csv" | tr -d ' ')" "2025-11-03: a header and 150 rows"

# ---- the other SQL files name what they must
like "$(cat "$top_srcdir/sql/athena.sql")" "projection.day.values" "athena.sql: partition projection on year/month/day"
like "$(cat "$top_srcdir/sql/athena.sql")" "org.openx.data.jsonserde.JsonSerDe" "athena.sql: the JSON SerDe"
like "$(cat "$top_srcdir/sql/leads.sql")" "FROM calltrail_sessions" "leads.sql: reads athena.sql's table"
done_testing
