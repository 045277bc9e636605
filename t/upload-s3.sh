#!/bin/sh
# t/upload-s3.sh — `calltrail-export upload` to an s3:// target, end to
# end: s3rver behind t/s3-proxy.js (every signature re-checked with the
# AWS SDK's signer, faults injected), objects read back with
# @aws-sdk/client-s3 and compared with the spooled records byte for byte.
. "$top_srcdir/t/lib.sh"

EXPORT=$top_builddir/exporter/calltrail-export
[ -x "$EXPORT" ] || bail "no $EXPORT (build first)"
command -v python3 >/dev/null || skip_all "python3 is needed to make and check records"
unset CALLTRAIL_CONF AWS_SHARED_CREDENTIALS_FILE
. "$top_srcdir/t/s3-lib.sh"

SPOOL=$T/spool
PREFIX="archive/calls"
s3_conf "$CONF" "$PREFIX"
up() { "$EXPORT" -c "$CONF" upload "$@"; }

# gen.py SPOOL N TAG: N valid records into new/ by the Maildir rule; the
# session ids carry '.', '-' and '_', the keys get '=' from day=.
cat >"$T/gen.py" <<'EOP'
import json, os, sys, time, datetime
spool, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for d in ("tmp", "new"):
    os.makedirs(os.path.join(spool, d), exist_ok=True)
day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
for i in range(n):
    rec = {"session_id": "voice_%s.%d-x_y" % (tag, i), "user_email": "c%d@example.com" % i,
           "start_time": day + "T00:00:00Z", "end_time": day + "T01:%02d:%02d.5" % (i // 60 % 60, i % 60)}
    name = "%d.%d.%x.json" % (time.time_ns(), os.getpid(), i)
    with open(os.path.join(spool, "tmp", name), "w") as f:
        f.write(json.dumps(rec, separators=(",", ":")))
    os.rename(os.path.join(spool, "tmp", name), os.path.join(spool, "new", name))
EOP
# want.py SPOOL PREFIX: "KEY SHA256" for every record in sent/, sorted.
cat >"$T/want.py" <<'EOP'
import hashlib, json, os, sys, datetime
spool, prefix = sys.argv[1], sys.argv[2]
out = []
for day in os.listdir(os.path.join(spool, "sent")):
    for name in os.listdir(os.path.join(spool, "sent", day)):
        data = open(os.path.join(spool, "sent", day, name), "rb").read()
        rec = json.loads(data)
        end = datetime.datetime.fromisoformat(rec["end_time"].replace("Z", "+00:00"))
        key = "%s/sessions/year=%04d/month=%02d/day=%02d/%s_%s.json.gz" % (
            prefix, end.year, end.month, end.day, rec["session_id"],
            hashlib.sha256(data).hexdigest()[:12])
        out.append("%s %s" % (key, hashlib.sha256(data).hexdigest()))
print("\n".join(sorted(out)))
EOP
count() { find "$SPOOL/$1" -type f ! -name '*.why' 2>/dev/null | wc -l | tr -d ' '; }
# same: every record in sent/ is in the bucket, gunzips to the same
# bytes, and the bucket holds nothing else.
same() {
	python3 "$T/want.py" "$SPOOL" "$PREFIX" >"$T/want"
	node "$top_srcdir/t/s3-read.js" "$S3_PORT" bucket "$PREFIX/" 2>/dev/null | LC_ALL=C sort >"$T/have"
	cmp -s "$T/want" "$T/have"
}

# 1. A plain upload: 200 records, 8 at a time, on reused connections.
python3 "$T/gen.py" "$SPOOL" 200 a
proxy_ctl reset >/dev/null
up >"$T/out" 2>&1; rc=$?
snap
is 0 "$rc" "upload of 200 records exits 0"
like "$(cat "$T/out")" "stored 200, refused 0, retried 0, left 0 \\(target s3://bucket/$PREFIX\\)" "the summary line"
is 200 "$(count sent)" "every record moved to sent/DAY/"
same; ok $? "the bucket holds exactly the 200 records, gzipped, under their keys"
is 0 "$(stat_of sigFailures)" "the AWS SDK's signer agrees with every signature"
is 00 "$(stat_of hashFailures)$(stat_of pathFailures)" "payload SHA-256, Content-MD5 and key encoding all checked out"
stat_of paths | grep -q "^PUT /bucket/archive/calls/sessions/year%3D[0-9]*/month%3D[0-9]*/day%3D[0-9]*/voice_a\\.0-x_y_[0-9a-f]\\{12\\}\\.json\\.gz\$"
ok $? "keys go on the wire encoded as AWS does ('=' as %3D)"
maxin=$(stat_of maxInflight); conns=$(stat_of connections)
[ "$maxin" -gt 1 ] && [ "$maxin" -le 8 ]; ok $? "uploads run in parallel, at most 8 (saw $maxin)"
[ "$conns" -le 9 ]; ok $? "connections are reused ($conns for 200 PUTs + 1 snapshot)"

up >"$T/out" 2>&1
is 0 "$?" "a rerun with nothing new exits 0"
is "" "$(cat "$T/out")" "... stores nothing, and prints nothing"

# 2. 503s, resets and lost replies are retried; every record lands once.
python3 "$T/gen.py" "$SPOOL" 40 b
proxy_ctl "fault?kind=503&count=6" >/dev/null
up >"$T/out" 2>&1; rc1=$?
python3 "$T/gen.py" "$SPOOL" 40 c
proxy_ctl "fault?kind=reset&count=4" >/dev/null
up >>"$T/out" 2>&1; rc2=$?
python3 "$T/gen.py" "$SPOOL" 40 d
proxy_ctl "fault?kind=lostreply&count=4" >/dev/null
up >>"$T/out" 2>&1; rc3=$?
is "0 0 0" "$rc1 $rc2 $rc3" "runs with 503s, resets and lost replies exit 0"
like "$(cat "$T/out")" "retried [1-9]" "the summary counts the retries"
is 320 "$(count sent)" "every record is in sent/"
same; ok $? "the bucket holds each record exactly once, byte-exact"

# 3. A stalled PUT times out and is retried.
python3 "$T/gen.py" "$SPOOL" 10 e
proxy_ctl "fault?kind=stall&count=2" >/dev/null
up >"$T/out" 2>&1
is 0 "$?" "a run with stalled PUTs exits 0 (timeout, then retry)"
is 330 "$(count sent)" "... and stores everything"

# 4. Retries exhausted: records stay for the next run, exit 75.
S3_RETRIES=1 s3_conf "$T/r1.conf" "$PREFIX"
python3 "$T/gen.py" "$SPOOL" 5 f
proxy_ctl "fault?kind=503&count=1000" >/dev/null
"$EXPORT" -c "$T/r1.conf" upload >"$T/out" 2>&1; rc=$?
proxy_ctl "fault?kind=&count=0" >/dev/null
is 75 "$rc" "503 beyond s3_retries exits 75"
like "$(cat "$T/out")" "left 5" "the summary says 5 are left for the next run"
is 5 "$(count new)" "the 5 records are back in new/"

# 5. Wrong credentials: 403, a clear message, every record kept.
AWS_SECRET_ACCESS_KEY=not-the-right-secret-not-the-right up >"$T/out" 2>&1; rc=$?
[ "$rc" -ne 0 ]; ok $? "a wrong secret fails the run (exit $rc)"
like "$(cat "$T/out")" "403.*SignatureDoesNotMatch" "the message names HTTP 403 and SignatureDoesNotMatch"
like "$(cat "$T/out")" "credentials|permission" "... and points at credentials or permissions"
grep -q -e not-the-right-secret -e 'Signature=' "$T/out"
ok $((! $?)) "neither the secret nor a signature is printed"
is 5 "$(count new)" "every record is still in new/"
is 0 "$(count cur)" "nothing is left claimed in cur/"

# 6. Session token: sent and signed when AWS_SESSION_TOKEN is set.
s3_start_proxy "IQoJb3JpZ2luX2VjE//////////token+/="
s3_conf "$CONF" "$PREFIX"
AWS_SESSION_TOKEN="IQoJb3JpZ2luX2VjE//////////token+/=" up >"$T/out" 2>&1; rc=$?
snap
is 0 "$rc" "with AWS_SESSION_TOKEN the upload succeeds"
[ "$(stat_of tokenSeen)" -ge 5 ]; ok $? "x-amz-security-token was sent (and signed) on every PUT"
is 335 "$(count sent)" "the 5 records left earlier are stored now"
s3_start_proxy
s3_conf "$CONF" "$PREFIX"

# 7. Two runs at once: one uploads, the other says so and exits 0.
python3 "$T/gen.py" "$SPOOL" 30 g
proxy_ctl "fault?kind=stall&count=1" >/dev/null
up >"$T/out1" 2>&1 &
p1=$!
wait_for 10 sh -c "find '$SPOOL/cur' -type f | grep -q ."
up >"$T/out2" 2>&1; rc2=$?
wait $p1; rc1=$?
is "0 0" "$rc1 $rc2" "both runs exit 0"
like "$(cat "$T/out2")" "another calltrail-export upload is running" "the second says another run is active"
is 365 "$(count sent)" "the first run stored all 30"

# 8. kill -9 mid-run, then a rerun: every record stored exactly once.
python3 "$T/gen.py" "$SPOOL" 100 h
proxy_ctl "fault?kind=slow&count=1000" >/dev/null
# (the binary itself in the background, so kill hits the exporter)
"$EXPORT" -c "$CONF" upload >"$T/out" 2>&1 &
p=$!
wait_for 20 sh -c "[ \$(find '$SPOOL/sent' -type f | wc -l) -gt 375 ]"
kill -9 $p; wait $p 2>/dev/null
n=$(count sent)
[ "$n" -gt 365 ] && [ "$n" -lt 465 ]; ok $? "killed mid-run ($((n - 365)) of 100 stored)"
proxy_ctl "fault?kind=&count=0" >/dev/null
up >"$T/out" 2>&1
is 0 "$?" "the rerun after kill -9 exits 0"
is 465 "$(count sent)" "every record reached sent/"
is 0 "$(( $(count new) + $(count cur) ))" "nothing is left in new/ or cur/"
same; ok $? "the bucket holds every record exactly once, byte-exact"

# 9. No credentials for an s3:// target: a configuration error, exit 78,
# before anything is claimed.
python3 "$T/gen.py" "$SPOOL" 3 i
out=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$EXPORT" -c "$CONF" upload 2>&1); rc=$?
is 78 "$rc" "missing AWS credentials exit 78"
like "$out" "AWS_ACCESS_KEY_ID|credentials" "the message names the credentials"
is 3 "$(count new)" "... and the records wait in new/"

# 10. The day of the whole bucket, from the target: the listing paged (7
# keys a page), GETs s3_concurrency at once on reused connections, the
# same bytes as from this host's spool.
up >/dev/null 2>&1
DAY=$(date -u +%Y-%m-%d)
proxy_ctl reset >/dev/null
CT_S3_LIST_MAX_KEYS=7 "$EXPORT" -c "$CONF" csv --day "$DAY" --source target --out "$T/tcsv" \
	>"$T/out" 2>&1; rc=$?
snap
is 0 "$rc" "csv --source target over $(count sent) objects exits 0" || diag "$(tail -3 "$T/out")"
"$EXPORT" -c "$CONF" csv --day "$DAY" --out "$T/scsv" >/dev/null 2>&1
cmp -s "$T/tcsv/salesforce-leads-$DAY.csv" "$T/scsv/salesforce-leads-$DAY.csv"
ok $? "... the same bytes as from the spool"
[ "$(stat_of paths | grep -c 'continuation-token=')" -ge 10 ]
ok $? "... the listing went page by page ($(stat_of paths | grep -c 'continuation-token=') continuation tokens)"
maxin=$(stat_of maxInflight); conns=$(stat_of connections)
[ "$maxin" -gt 1 ] && [ "$maxin" -le 8 ]; ok $? "... GETs in parallel, at most 8 (saw $maxin)"
[ "$conns" -le 9 ]; ok $? "... on reused connections ($conns for $(stat_of gets) GETs + 1 snapshot)"

# 11. A record whose day the archive cannot file (end_time before 1970)
# is quarantined with its reason, never put back to loop.
python3 - "$SPOOL" <<'EOP'
import json, os, sys
spool = sys.argv[1]
rec = {"session_id": "old_one", "user_email": "o@example.com",
       "start_time": "1969-12-31T23:00:00Z", "end_time": "1969-12-31T23:59:00Z"}
with open(os.path.join(spool, "tmp", "1.1.0d.json"), "w") as f:
    f.write(json.dumps(rec))
os.rename(os.path.join(spool, "tmp", "1.1.0d.json"), os.path.join(spool, "new", "1.1.0d.json"))
EOP
up >"$T/out" 2>&1; rc=$?
is 0 "$rc" "a run with a record from 1969 exits 0"
[ -f "$SPOOL/failed/1.1.0d.json" ] && [ -f "$SPOOL/failed/1.1.0d.json.why" ]
ok $? "... the record is in failed/ with its .why"
is 0 "$(( $(count new) + $(count cur) ))" "... and nothing is left to loop in new/ or cur/"
node "$top_srcdir/t/s3-read.js" "$S3_PORT" bucket "$PREFIX/sessions/year=1969" 2>/dev/null | grep -c . >"$T/n"
is 0 "$(cat "$T/n")" "... and nothing was stored under year=1969"

# 13. A bucket encrypted with SSE-KMS: x-amz-server-side-encryption and
# the key id sent and signed, and its ETags (not the MD5) accepted, so
# every record is stored on the first try.
{ cat "$CONF"; printf 's3_sse = aws:kms\ns3_sse_kms_key_id = arn:aws:kms:us-east-1:111122223333:key/1234abcd\n'; } >"$T/kms.conf"
python3 "$T/gen.py" "$SPOOL" 20 k
base=$(count sent)
proxy_ctl reset >/dev/null; proxy_ctl "mode?kms=1" >/dev/null
"$EXPORT" -c "$T/kms.conf" upload >"$T/out" 2>&1; rc=$?
snap; proxy_ctl "mode?kms=0" >/dev/null
is 0 "$rc" "SSE-KMS bucket: upload exits 0"
like "$(cat "$T/out")" "stored 20, refused 0, retried 0, left 0" "... every record stored on the first try"
is "20 0" "$(stat_of sseSeen) $(stat_of sigFailures)" "... each PUT sent x-amz-server-side-encryption, signed"
is "aws:kms arn:aws:kms:us-east-1:111122223333:key/1234abcd" "$(stat_of sse)" "... with aws:kms and the key id"
same; ok $? "... and the bucket holds every record, byte-exact"

# 14. A body corrupted on the way: refused by its Content-MD5 (400
# BadDigest), retried, never stored wrong.
python3 "$T/gen.py" "$SPOOL" 12 m
proxy_ctl reset >/dev/null; proxy_ctl "fault?kind=corrupt&count=4" >/dev/null
up >"$T/out" 2>&1; rc=$?
snap
is 0 "$rc" "4 PUTs corrupted on the way: upload exits 0"
is 4 "$(stat_of badDigests)" "... each answered 400 BadDigest"
like "$(cat "$T/out")" "stored 12, refused 0, retried [4-9]" "... and retried"
same; ok $? "... and the bucket holds every record, byte-exact"

# 15. A bucket in another region stops the run, upload and csv alike,
# naming the bucket's region, every record kept and no file written.
python3 "$T/gen.py" "$SPOOL" 6 r
for answer in 400 301; do
	proxy_ctl "mode?region=eu-west-1&answer=$answer" >/dev/null
	up >"$T/out" 2>&1; rc=$?
	is 78 "$rc" "bucket in eu-west-1 ($answer): upload exits 78"
	like "$(cat "$T/out")" "region eu-west-1.*s3_region = eu-west-1" "... the message names the bucket's region"
	is 6 "$(count new)" "... every record kept in new/"
	rm -rf "$T/rcsv"
	"$EXPORT" -c "$CONF" csv --day "$DAY" --source target --out "$T/rcsv" >"$T/out" 2>&1; rc=$?
	is 78 "$rc" "... csv --source target exits 78"
	like "$(cat "$T/out")" "region eu-west-1" "... naming the region"
	[ ! -e "$T/rcsv/salesforce-leads-$DAY.csv" ]; ok $? "... and writes no file"
	# csv --source spool with csv_upload = yes stores the CSV before it
	# writes the local file: a region error leaves no file at all.
	{ cat "$CONF"; printf 'csv_upload = yes\n'; } >"$T/up.conf"
	rm -rf "$T/rcsv"
	"$EXPORT" -c "$T/up.conf" csv --day "$DAY" --out "$T/rcsv" >"$T/out" 2>&1; rc=$?
	is 78 "$rc" "... csv --source spool with csv_upload = yes exits 78"
	like "$(cat "$T/out")" "region eu-west-1" "... naming the region"
	[ -z "$(ls -A "$T/rcsv" 2>/dev/null)" ]; ok $? "... and writes no file (nor a temporary)"
done
proxy_ctl "mode?region=" >/dev/null
up >/dev/null 2>&1
is 0 "$(count new)" "with the region right the records are stored"
rm -rf "$T/rcsv"
"$EXPORT" -c "$T/up.conf" csv --day "$DAY" --out "$T/rcsv" >"$T/out" 2>&1; rc=$?
is 0 "$rc" "... and csv with csv_upload = yes exits 0"
[ -s "$T/rcsv/salesforce-leads-$DAY.csv" ]; ok $? "... writes the local file"
node "$top_srcdir/t/s3-read.js" "$S3_PORT" bucket "$PREFIX/salesforce/date=$DAY/" 2>/dev/null | grep -c "leads.csv" >"$T/n"
is 1 "$(cat "$T/n")" "... and stores it in the bucket"

# 12. --help lists only the exit statuses the program returns (0 64 74 75
# 78 here; 65 and 77 come from salesforce and the owner check, tested in
# t/salesforce.sh and t/spool-perm.sh).
"$EXPORT" --help >"$T/help"
grep -Eq '(^|[^0-9])(66|69|70|71|72|73|76)([^0-9]|$)' "$T/help"
ok $((! $?)) "calltrail-export --help names no exit status it never returns"

done_testing
