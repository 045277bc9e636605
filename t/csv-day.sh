#!/bin/sh
# t/csv-day.sh — `calltrail-export csv` end to end with the real binaries:
# records go in by `calltrail-spool put`, out by `calltrail-export upload`
# (file:// target, and s3rver when the S3 pieces are built), then the day
# file is built from sent/DAY and from the target and read back by
# csv-parse (npm) in strict mode.
. "$top_srcdir/t/lib.sh"

EXPORT=$top_builddir/exporter/calltrail-export
SPOOLPUT=$top_builddir/src/calltrail-spool
DATA=$top_srcdir/t/data/csv
DAY=2025-10-29
[ -x "$EXPORT" ] || bail "no $EXPORT (build first)"
[ -x "$SPOOLPUT" ] || bail "no $SPOOLPUT (build first)"
need_node_modules
command -v node >/dev/null || skip_all "node is not installed"
unset CALLTRAIL_CONF AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
	AWS_SHARED_CREDENTIALS_FILE AWS_PROFILE

SPOOL=$T/spool
ARCH=$T/archive
CSV=$T/csv
FILE=$CSV/salesforce-leads-$DAY.csv
# keep_days at its maximum: the fixed day of the test data must survive
# the prune that every upload runs.
write_conf() {
	cat >"$T/conf" <<EOF
spool_dir = $SPOOL
target = file://$ARCH
csv_dir = $CSV
keep_days = 3650
csv_upload = ${1:-no}
EOF
}
write_conf
csvx() { "$EXPORT" -c "$T/conf" csv "$@" >"$T/out" 2>"$T/err"; echo $? >"$T/rc"; }
rc() { cat "$T/rc"; }
summary() { cat "$T/out"; }
parse() { node "$top_srcdir/t/csv-parse.js" "$1" >"$T/parsed" 2>"$T/parse.err"; }
# field ROW COL: one cell of the parsed file (row 0 is the header).
field() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1])).rows;
	const x=(r[+process.argv[2]]||[])[+process.argv[3]]; process.stdout.write(x===undefined?"<none>":x)' \
	"$T/parsed" "$1" "$2"; }
nrows() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).rows.length-1)' "$T/parsed"; }

# ---- the day, through the real spool and upload --------------------------
n=0
for f in "$DATA"/day/*.json; do
	"$SPOOLPUT" put -d "$SPOOL" "$f" >/dev/null || bail "calltrail-spool put $f failed"
	n=$((n + 1))
done
"$EXPORT" -c "$T/conf" upload >"$T/up.out" 2>&1
is 0 $? "upload of $n crafted records"
is "$n" "$(ls "$SPOOL/sent/$DAY" | wc -l | tr -d ' ')" "all $n records are in sent/$DAY"

csvx --day "$DAY"
is 0 "$(rc)" "csv --day $DAY exits 0"
cmp -s "$FILE" "$DATA/day/expected.csv"
r=$?
ok $r "the file is byte for byte t/data/csv/day/expected.csv"
[ $r -eq 0 ] || { diag "got:"; od -c "$FILE" | head -20 | sed 's/^/#   /'; }
like "$(summary)" "^csv $DAY \(spool\): wrote 6 rows to $FILE; read $n calls;" \
	"summary: rows written and calls read"
like "$(summary)" "no email 2, bad email 0, email over 80 chars 1, unsafe cell 4, tier over 255 chars 0 \(sessions: voice_e2 voice_e1 voice_e4 voice_e3\), unreadable 0, other day 0" \
	"summary: left out by reason, unsafe rows by session id"
case "$(summary) $(cat "$T/err")" in
*e@x.com*|*d@x.com*|*t@x.com*|*p@x.com*|*HYPERLINK*) ok 1 "the summary names no email or cell" ;;
*) ok 0 "the summary names no email or cell" ;;
esac
is 640 "$(stat -c %a "$FILE")" "mode 0640"
# A csv run killed between create and rename leaves its temporary in
# csv_dir: the next run removes it once an hour old, and nothing else.
: >"$CSV/.tmp-0123456789abcdef" && touch -d '-2 hours' "$CSV/.tmp-0123456789abcdef"
: >"$CSV/.tmp-00000000000000ff"
: >"$CSV/.tmp-notmine" && touch -d '-2 hours' "$CSV/.tmp-notmine"
csvx --day "$DAY"
ok "$(test ! -e "$CSV/.tmp-0123456789abcdef" && test -f "$CSV/.tmp-00000000000000ff" &&
	test -f "$CSV/.tmp-notmine"; echo $?)" \
	"a killed run's stale temporary in csv_dir is removed, nothing else"
rm -f "$CSV"/.tmp-*
is 700 "$(stat -c %a "$CSV")" "csv_dir created 0700 (the owner's alone)"

parse "$FILE"
is 0 $? "csv-parse reads it in strict mode (no BOM, CRLF, 5 columns, header)"
[ -s "$T/parse.err" ] && diag "$(cat "$T/parse.err")"
is 6 "$(nrows)" "six rows"
is "a@x.com" "$(field 1 0)" "sorted by email in byte order ('@' < 'a')"
is "3" "$(field 1 4)" "A@x.com, ' a@X.com ' and a@x.COM are one caller with 3 calls"
is "voice_a3" "$(field 1 1)" "same end time: the larger session id wins"
is "2025-10-29T10:05:00.500Z" "$(field 1 2)" "end_time as YYYY-MM-DDTHH:MM:SS.sssZ"
is "voice_b1" "$(field 3 1)" "the latest end_time wins (+02:00 offset read as UTC)"
is 'say "hi", ok' "$(field 3 3)" "a tier with a comma and quotes round-trips"
is "$(printf 'caf\303\251\r\nline two')" "$(field 4 3)" "a tier with UTF-8 and CRLF round-trips"
is "" "$(field 2 3)" "no tier: an empty cell"
is "safe now" "$(field 5 3)" "an older unsafe call does not spoil the later one's row"
is "zed@example.org" "$(field 6 0)" "emails are lower-cased"
grep -q 'example.com.abcd' "$FILE"
is 1 $? "an 81-character email is left out (80 fits)"

# ---- reruns, the target, bad records ------------------------------------
cp "$FILE" "$T/first.csv"
sleep 1
csvx --day "$DAY"
cmp -s "$FILE" "$T/first.csv"
ok $? "a rerun gives the same bytes"

csvx --day "$DAY" --source target --out "$T/fromtarget"
is 0 "$(rc)" "--source target (file://) exits 0"
cmp -s "$T/fromtarget/salesforce-leads-$DAY.csv" "$T/first.csv"
ok $? "--source target gives the same bytes as --source spool"
like "$(summary)" "\(target\): wrote 6 rows .* read $n calls" "target summary"

cp "$DATA/garbage.json" "$SPOOL/sent/$DAY/1.1.bad.json"
cp "$DATA/otherday.json" "$SPOOL/sent/$DAY/1.2.da1.json"
# A record whose email breaks the rules (put refuses it; an older
# calltrail, another host or a hand may have filed it) is a call with a
# bad email, not an unreadable record; so is one whose email is a number.
cp "$DATA/bademail.json" "$SPOOL/sent/$DAY/1.3.bade.json"
sed 's/"user_email": *"[^"]*"/"user_email": 42/' "$DATA/bademail.json" \
	>"$SPOOL/sent/$DAY/1.4.bade2.json"
csvx --day "$DAY"
is 0 "$(rc)" "a broken record in sent/ is not fatal"
like "$(summary)" "read $((n + 4)) calls;.* bad email 2, .* unreadable 1, other day 1$" \
	"bad-email, unreadable and other-day records counted apart"
like "$(cat "$T/err")" "skipped 1.1.bad.json: record: " "the broken record is reported by name"
like "$(cat "$T/err")" "skipped 1.3.bade.json: user_email: " "the bad-email record is reported by name"
case "$(summary) $(cat "$T/err")" in
*not-an-email*) ok 1 "the bad email itself is never printed" ;;
*) ok 0 "the bad email itself is never printed" ;;
esac
cmp -s "$FILE" "$T/first.csv"
ok $? "and the file is unchanged"
rm -f "$SPOOL/sent/$DAY/1.1.bad.json" "$SPOOL/sent/$DAY/1.2.da1.json" \
	"$SPOOL/sent/$DAY/1.3.bade.json" "$SPOOL/sent/$DAY/1.4.bade2.json"
# ... and the same from the target: an object holding such a record.
PART=$ARCH/sessions/year=2025/month=10/day=29
gzip -n -c "$DATA/bademail.json" >"$PART/voice_bademail_000000000000.json.gz"
csvx --day "$DAY" --source target --out "$T/fromtarget2"
like "$(summary)" "\\(target\\): wrote 6 rows .* read $((n + 1)) calls; .* bad email 1, .* unreadable 0, other day 0$" \
	"--source target counts a bad-email record as bad email too"
rm -f "$PART/voice_bademail_000000000000.json.gz"

CT_CSV_THREADS=1 csvx --day "$DAY" --out "$T/one"
cmp -s "$T/one/salesforce-leads-$DAY.csv" "$T/first.csv"
ok $? "one reading thread or several: the same bytes"

# ---- reading sent/DAY: many records, odd sizes, pages not cached ---------
# The exporter reads the directory in chunks shared by its threads.
# Records whose size is a multiple of 512, one with only its first page
# cached, one of exactly 1 MiB, one over it, a symlink and a directory
# must come out as a plain read would have them.
GEN=$top_builddir/t/csv-gen
S2=$T/spool2
R2=$S2/sent/$DAY
mkdir -p "$R2" "$T/csv2"
cat >"$T/conf2" <<EOF
spool_dir = $S2
target = file://$T/archive2
csv_dir = $T/csv2
EOF
# rec HEX: the path of a record named by the spool's rule in $R2 (the
# reader passes nothing else).
rec() { echo "$R2/2.1.$1.json"; }
# padrec HEX NAME EMAIL SIZE: a valid record of exactly SIZE bytes,
# blank-padded, session id pad_NAME.
padrec() {
	body=$(printf '{"session_id":"pad_%s","user_email":"%s","start_time":"%sT01:00:00Z","end_time":"%sT01:00:01Z"}' \
		"$2" "$3" "$DAY" "$DAY")
	{ printf '%s' "$body"; head -c $(($4 - ${#body})) /dev/zero | tr '\0' ' '; } >"$(rec "$1")"
}
[ -x "$GEN" ] || bail "no $GEN (make check builds it)"
"$GEN" "$R2" 700 "$DAY" 7
for size in 512 4096 8192 1048576; do
	padrec "a$size" "s$size" "size$size@x.com" "$size"
done
padrec b16 big "big@x.com" 1048577
padrec ba9ed paged "paged@x.com" 20000
# A symlink with a record's name (reported, never followed), one with
# another name and a directory (not records: passed over in silence).
ln -s "$(rec a512)" "$(rec 11ac)"
ln -s "$(rec a512)" "$R2/link.json"
mkdir "$(rec d1)"
is 512 "$(wc -c <"$(rec a512)" | tr -d ' ')" "a 512-byte record"
is 1048577 "$(wc -c <"$(rec b16)" | tr -d ' ')" "a record 1 byte over the cap"
# Out of the page cache where the file system lets us: every record,
# then all but the first page of one (GNU dd: nocache, count=0).
sync "$R2"/*.json 2>/dev/null
for f in "$R2"/*.json; do
	[ -f "$f" ] && [ ! -L "$f" ] && dd if="$f" iflag=nocache count=0 2>/dev/null
done
cat "$(rec ba9ed)" >/dev/null
dd if="$(rec ba9ed)" iflag=nocache bs=4096 skip=1 count=0 2>/dev/null
"$EXPORT" -c "$T/conf2" csv --day "$DAY" >"$T/out" 2>"$T/err"
is 0 $? "csv over $R2 exits 0"
like "$(summary)" "wrote 12 rows .* read 707 calls; .* unreadable 2, other day 0$" \
	"700 generated + 5 padded records read; the over-cap one and the symlink unreadable"
like "$(cat "$T/err")" "skipped 2.1.b16.json: larger than 1048576 bytes" "the over-cap record is named"
like "$(cat "$T/err")" "skipped 2.1.11ac.json: .*is a symlink" "the symlink is named, not followed"
F2=$T/csv2/salesforce-leads-$DAY.csv
for size in 512 4096 8192 1048576; do
	is "size$size@x.com,pad_s$size,${DAY}T01:00:01.000Z,,1" \
		"$(grep "^size$size@" "$F2" | tr -d '\r')" "the $size-byte record is read whole"
done
is "paged@x.com,pad_paged,${DAY}T01:00:01.000Z,,1" \
	"$(grep '^paged@' "$F2" | tr -d '\r')" "a record with only its first page cached is read whole"
is "user6@example.com,big_699,${DAY}T00:00:00.699Z,t0,100" \
	"$(grep '^user6@' "$F2" | tr -d '\r')" "every chunk of the directory is read: 100 calls of user6"
CT_CSV_THREADS=1 "$EXPORT" -c "$T/conf2" csv --day "$DAY" --out "$T/csv2one" >/dev/null 2>&1
cmp -s "$F2" "$T/csv2one/salesforce-leads-$DAY.csv"
ok $? "one thread or several over many chunks: the same bytes"

# One read path: each record is opened relative to the day's directory
# with O_NOFOLLOW, read and closed; the symlink above is never followed.
NOLSAN="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
if strace -f -qq -e trace=none true 2>/dev/null &&
	env "$NOLSAN" strace -f -qq -o "$T/strace" -e trace=openat,open \
		"$EXPORT" -c "$T/conf2" csv --day "$DAY" --out "$T/csv2trace" >/dev/null 2>&1; then
	opens=$(grep -c 'openat([0-9]*, "[^"/]*\.json", [^)]*O_NOFOLLOW' "$T/strace")
	[ "$opens" -eq 706 ]
	ok $? "every record opened once, relative to the directory, O_NOFOLLOW ($opens)"
	grep -q 'open.*\(link\|11ac\)\.json.*= [0-9]' "$T/strace"
	is 1 $? "the symlinks are never opened"
else
	skip "strace is not usable"
	skip "strace is not usable"
fi

# ---- a tier too long for Salesforce's text field --------------------------
# 255 characters fit (UTF-16 units, as Salesforce counts: 255 two-byte
# characters fit, 128 four-byte ones do not); a longer tier leaves the
# row out and is reported like an unsafe cell, never cut.
S3=$T/spool3
mkdir -p "$S3/sent/$DAY"
printf 'spool_dir = %s\ntarget = file://%s\ncsv_dir = %s\n' \
	"$S3" "$T/archive3" "$T/csv3" >"$T/conf3"
# tierrec NAME EMAIL TIER
tierrec() {
	printf '{"session_id":"%s","user_email":"%s","start_time":"%sT01:00:00Z","end_time":"%sT01:00:01Z","discovered_signals":{"qualification_tier":"%s"}}' \
		"$1" "$2" "$DAY" "$DAY" "$3" >"$S3/sent/$DAY/3.$((tn = tn + 1)).0.json"
}
tn=0
rep() { i=0; r=; while [ $i -lt "$2" ]; do r=$r$1; i=$((i + 1)); done; printf '%s' "$r"; }
tierrec t255 t255@x.com "$(rep a 255)"
tierrec t256 t256@x.com "$(rep a 256)"
tierrec u255 u255@x.com "$(rep "$(printf '\303\251')" 255)"
tierrec e128 e128@x.com "$(rep "$(printf '\360\237\230\200')" 128)"
tierrec e127 e127@x.com "$(rep "$(printf '\360\237\230\200')" 127)a"
"$EXPORT" -c "$T/conf3" csv --day "$DAY" >"$T/out" 2>"$T/err"
is 0 $? "csv with over-long tiers exits 0"
like "$(summary)" "wrote 3 rows .* read 5 calls; .* unsafe cell 0, tier over 255 chars 2 \\(sessions: e128 t256\\), unreadable 0" \
	"two rows left out for their tier, named by session id"
F3=$T/csv3/salesforce-leads-$DAY.csv
is "t255@x.com,t255,${DAY}T01:00:01.000Z,$(rep a 255),1" "$(grep '^t255@' "$F3" | tr -d '\r')" \
	"a 255-character tier is written whole"
grep -q '^u255@' "$F3"
ok $? "255 two-byte characters fit"
grep -q '^e127@' "$F3"
ok $? "127 four-byte characters and one more fit (255 UTF-16 units)"
grep -q '^t256@\|^e128@' "$F3"
is 1 $? "the longer tiers' rows are left out, not cut"

# A symlinked sent/DAY is an error naming it, never a way out of the spool.
S4=$T/spool4
mkdir -p "$S4/sent" "$T/elsewhere"
cp "$DATA/day/a1.json" "$T/elsewhere/1.1.a1.json"
ln -s "$T/elsewhere" "$S4/sent/$DAY"
printf 'spool_dir = %s\ntarget = file://%s\ncsv_dir = %s\n' \
	"$S4" "$T/archive4" "$T/csv4" >"$T/conf4"
"$EXPORT" -c "$T/conf4" csv --day "$DAY" >"$T/out" 2>"$T/err"
is 74 $? "a symlinked sent/$DAY: exit 74"
like "$(cat "$T/err")" "sent/$DAY.*symlink" "... naming it"
test -e "$T/csv4/salesforce-leads-$DAY.csv"
is 1 $? "... and no file written"

# ---- csv_upload ---------------------------------------------------------
write_conf yes
csvx --day "$DAY"
is 0 "$(rc)" "csv_upload = yes exits 0"
cmp -s "$ARCH/salesforce/date=$DAY/leads.csv" "$T/first.csv"
ok $? "the file is stored at salesforce/date=$DAY/leads.csv in the target"
like "$(summary)" "and salesforce/date=$DAY/leads.csv;" "the summary says so"
write_conf

# ---- empty days and --day -----------------------------------------------
csvx --day 2025-10-28
is 0 "$(rc)" "a day without records exits 0"
is "$(printf 'Email,Last_Voice_Session__c,Last_Voice_Call_Date__c,Voice_Qualification_Tier__c,Voice_Calls__c\r\n')" \
	"$(cat "$CSV/salesforce-leads-2025-10-28.csv")" "... and writes the header alone"
parse "$CSV/salesforce-leads-2025-10-28.csv"
is 0 $? "csv-parse accepts the header-only file"
csvx --day 2025-10-28 --source target --out "$T/empty"
cmp -s "$T/empty/salesforce-leads-2025-10-28.csv" "$CSV/salesforce-leads-2025-10-28.csv"
ok $? "an empty partition in the target: the same header-only file"

csvx --day today
is 0 "$(rc)" "--day today"
test -f "$CSV/salesforce-leads-$(date -u +%Y-%m-%d).csv"
ok $? "today is the UTC day"
csvx --day yesterday
test -f "$CSV/salesforce-leads-$(date -u -d yesterday +%Y-%m-%d).csv"
ok $? "yesterday is the UTC day before"
for bad in 2025-13-01 2025-02-30 25-10-29 tomorrow "2025-10-29x" ""; do
	csvx --day "$bad"
	is 64 "$(rc)" "--day '$bad' is a usage error"
done
csvx
is 64 "$(rc)" "no --day is a usage error"
csvx --day "$DAY" --source elsewhere
is 64 "$(rc)" "--source elsewhere is a usage error"
csvx --day "$DAY" --frobnicate
is 64 "$(rc)" "an unknown option is a usage error"

# ---- failures -----------------------------------------------------------
mv "$SPOOL" "$T/spool.away"
csvx --day "$DAY"
is 74 "$(rc)" "a missing spool is an I/O error (74), not an empty day"
mv "$T/spool.away" "$SPOOL"
mkdir -p "$T/ro" && touch "$T/ro/file"
csvx --day "$DAY" --out "$T/ro/file/sub"
is 74 "$(rc)" "an output directory that cannot be made: 74"

# ---- sent/ housekeeping by upload (ct_spool_prune) ----------------------
old=$(date -u -d '-40 days' +%Y-%m-%d)
recent=$(date -u -d '-2 days' +%Y-%m-%d)
mkdir -p "$SPOOL/sent/$old" "$SPOOL/sent/$recent"
cp "$DATA/day/a1.json" "$SPOOL/sent/$old/x.json"
cp "$DATA/day/a1.json" "$SPOOL/sent/$recent/x.json"
sed 's/^keep_days = .*/keep_days = 35/' "$T/conf" >"$T/conf35"
"$EXPORT" -c "$T/conf35" upload >/dev/null 2>&1
is 0 $? "upload with keep_days = 35"
test -d "$SPOOL/sent/$old"
is 1 $? "a sent/ day older than keep_days is removed"
test -f "$SPOOL/sent/$recent/x.json"
ok $? "a newer day is kept"

# ---- s3:// target (s3rver), when the S3 client is built -----------------
if [ -f "$top_srcdir/t/s3-lib.sh" ] && [ -z "${CT_CSV_NO_S3:-}" ]; then
	rm -rf "$SPOOL"   # s3-lib's configuration uses $T/spool too
	. "$top_srcdir/t/s3-lib.sh"
	echo "keep_days = 3650" >>"$CONF"
	for f in "$DATA"/day/*.json; do
		"$SPOOLPUT" put -d "$T/spool" "$f" >/dev/null || bail "put $f failed"
	done
	"$EXPORT" -c "$CONF" upload >"$T/s3up.out" 2>&1
	is 0 $? "upload to s3rver"
	"$EXPORT" -c "$CONF" csv --day "$DAY" --source target --out "$T/s3csv" >"$T/out" 2>"$T/err"
	is 0 $? "csv --source target from s3rver"
	[ -s "$T/err" ] && diag "$(cat "$T/err")"
	cmp -s "$T/s3csv/salesforce-leads-$DAY.csv" "$T/first.csv"
	ok $? "s3:// --source target gives the same bytes as the spool"
	"$EXPORT" -c "$CONF" csv --day "$DAY" --source spool --out "$T/s3spool" >/dev/null 2>&1
	cmp -s "$T/s3spool/salesforce-leads-$DAY.csv" "$T/first.csv"
	ok $? "... and as this spool's sent/$DAY"
fi

done_testing
