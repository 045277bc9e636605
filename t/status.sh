#!/bin/sh
# t/status.sh — `calltrail-export status` and `status --json` after real
# puts, uploads and a refused record.
. "$top_srcdir/t/lib.sh"

EXPORT=$top_builddir/exporter/calltrail-export
SPOOLPUT=$top_builddir/src/calltrail-spool
[ -x "$EXPORT" ] || bail "no $EXPORT (build first)"
[ -x "$SPOOLPUT" ] || bail "no $SPOOLPUT (build first)"
command -v node >/dev/null || skip_all "node is not installed"
unset CALLTRAIL_CONF AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

SPOOL=$T/spool
TODAY=$(date -u +%Y-%m-%d)
cat >"$T/conf" <<EOF
spool_dir = $SPOOL
target = file://$T/archive
csv_dir = $T/csv
EOF
st() { "$EXPORT" -c "$T/conf" status "$@" >"$T/out" 2>"$T/err"; echo $? >"$T/rc"; }
# j EXPR: evaluate EXPR on the --json output (as `s`).
j() { node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1]));
	const v=eval(process.argv[2]); console.log(typeof v==="object"?JSON.stringify(v):v)' "$T/out" "$1"; }
rec() {
	printf '{"session_id":"%s","user_email":"c%s@example.com","start_time":"%sT00:00:00Z","end_time":"%sT00:00:01Z"}' \
		"$1" "$1" "$TODAY" "$TODAY" >"$T/rec.json"
	"$SPOOLPUT" put -d "$SPOOL" "$T/rec.json" >/dev/null || bail "put failed"
}

# A spool nobody has used yet.
mkdir -p "$SPOOL"
st
is 0 "$(cat "$T/rc")" "status on an empty spool exits 0"
like "$(cat "$T/out")" "last run never" "no upload yet: last run never"
st --json
is null "$(j s.last_run)" "--json: last_run null"
is 0 "$(j s.new.count)" "--json: nothing in new/"

# Three records uploaded, one refused, two waiting (one of them old).
rec s1; rec s2; rec s3
printf '{"session_id":"bad id!","start_time":"x","end_time":"y"}' >"$SPOOL/tmp/bad.json"
mv "$SPOOL/tmp/bad.json" "$SPOOL/new/1.1.bad.json"
"$EXPORT" -c "$T/conf" upload >/dev/null 2>&1
is 0 $? "upload: three stored, one refused"
rec w1; rec w2
old=$(ls "$SPOOL/new" | head -n 1)
touch -d '-2 hours' "$SPOOL/new/$old"

st
is 0 "$(cat "$T/rc")" "status exits 0"
like "$(cat "$T/out")" "new +2 waiting, oldest 2h0[0-1]m" "text: new/ count and the oldest's age"
like "$(cat "$T/out")" "cur +0 claimed" "text: cur/"
like "$(cat "$T/out")" "failed +1" "text: one refused record"
like "$(cat "$T/out")" "1\.1\.bad\.json: session_id: " "text: its .why line"
like "$(cat "$T/out")" "$TODAY 3" "text: sent/ per day"
like "$(cat "$T/out")" "last run [0-9T:.-]+Z exit 0: stored 3, refused 1, retried 0, left 0" \
	"text: the last run"

st --json
is 0 "$(cat "$T/rc")" "--json exits 0"
is 2 "$(j s.new.count)" "--json: new.count"
age=$(j s.new.oldest_age_seconds)
[ "$age" -ge 7190 ] && [ "$age" -le 7300 ]
ok $? "--json: new.oldest_age_seconds ($age) is about 2 hours"
is 0 "$(j s.cur.count)" "--json: cur.count"
is 1 "$(j s.failed.count)" "--json: failed.count"
is 1.1.bad.json "$(j 's.failed.recent[0].name')" "--json: failed.recent names the record"
like "$(j 's.failed.recent[0].why')" "^session_id: " "--json: ... and says why"
is '{"'"$TODAY"'":3}' "$(j s.sent)" "--json: sent per day"
is 3 "$(j s.last_run.stored)" "--json: last_run.stored"
is 1 "$(j s.last_run.refused)" "--json: last_run.refused"

# A .why that would paint a terminal or flood it is cut and defanged.
printf 'x' >"$SPOOL/failed/2.2.eeee.json"
{ printf '\033[31mred\007'; head -c 600 /dev/zero | tr '\0' 'A'; printf '\n2nd line\n'; } \
	>"$SPOOL/failed/2.2.eeee.json.why"
touch -d '+1 minute' "$SPOOL/failed/2.2.eeee.json.why"
st
line=$(grep '2.2.eeee.json:' "$T/out")
case "$line" in *"$(printf '\033')"*|*"$(printf '\007')"*) r=1 ;; *) r=0 ;; esac
ok $r "control bytes of a .why never reach the terminal"
[ ${#line} -le 240 ]
ok $? "a long .why line is cut (${#line} bytes shown)"
like "$(cat "$T/out")" "failed +2" "two refused records"
grep -q "2nd line" "$T/out"
is 1 $? "only the first line of a .why is shown"
st --json
is 2.2.eeee.json "$(j 's.failed.recent[0].name')" "--json: newest .why first"

# A clock set back: every file looks younger than now.  Ages are 0, never
# negative (text and JSON).
for f in "$SPOOL"/new/*; do touch -d '+3 hours' "$f"; done
st --json
is 0 "$(j s.new.oldest_age_seconds)" "--json: a file from the future has age 0, not negative"
st
like "$(cat "$T/out")" "new +2 waiting, oldest 0m00s" "text: ... 0m00s"

# Only what the spool's name rule calls a record counts (what upload
# would claim), and nothing is followed through a symlink.
printf 'x' >"$SPOOL/new/notes.txt"
ln -s /etc/passwd "$SPOOL/new/9.9.ab.json"
st --json
is 2 "$(j s.new.count)" "--json: neither a non-record nor a symlink is counted"
like "$(cat "$T/err")" "new/9\.9\.ab\.json\" is a symlink" "... the symlink is reported on stderr"
rm -f "$SPOOL/new/notes.txt" "$SPOOL/new/9.9.ab.json"
mkdir -p "$T/elsewhere/2020-01-01"
: >"$T/elsewhere/2020-01-01/1.1.a.json"
mv "$SPOOL/sent" "$T/sent.real"
ln -s "$T/elsewhere" "$SPOOL/sent"
st
is 74 "$(cat "$T/rc")" "a symlinked sent/: 74"
like "$(cat "$T/err")" "$SPOOL/sent\" is a symlink" "... naming it"
rm "$SPOOL/sent"
mv "$T/sent.real" "$SPOOL/sent"

# Failures.
st --frobnicate
is 64 "$(cat "$T/rc")" "an unknown argument is a usage error"
mv "$SPOOL" "$T/gone"
st
is 74 "$(cat "$T/rc")" "a spool that cannot be read: 74"
like "$(cat "$T/err")" "spool \"$SPOOL\" cannot be read" "... and says which"

done_testing
