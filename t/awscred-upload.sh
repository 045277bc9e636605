#!/bin/sh
# t/awscred-upload.sh — an upload that outlasts its first credentials
# ends with every record stored.  The S3 client asks the credential chain
# before each request; the IMDSv2 stand-in (t/aws-standin.js) hands out
# credentials that expire in 301 s, so less than a second after each
# fetch they are inside the five-minute refresh window and the next
# request fetches new ones, while s3rver behind the signature-checking
# proxy (t/s3-lib.sh) holds every request 40 ms.
. "${top_srcdir:-.}/t/lib.sh"
EXPORT=$top_builddir/exporter/calltrail-export
SPOOLPUT=$top_builddir/src/calltrail-spool
GEN=$top_builddir/t/csv-gen
[ -x "$EXPORT" ] && [ -x "$SPOOLPUT" ] && [ -x "$GEN" ] || bail "build first"
. "$top_srcdir/t/s3-lib.sh"
TOKEN=imds-session-STANDINTOKEN-upload
s3_start_proxy "$TOKEN"
S3_CONCURRENCY=4 s3_conf "$CONF" refresh

STANDIN_TTL=301 STANDIN_AK=$AWS_ACCESS_KEY_ID STANDIN_SK=$AWS_SECRET_ACCESS_KEY \
STANDIN_TOKEN=$TOKEN node "$top_srcdir/t/aws-standin.js" "$T/standin.port" 2>"$T/standin.log" &
bg_pid $!
wait_for 20 test -s "$T/standin.port" || bail "aws-standin did not start: $(cat "$T/standin.log")"
P=$(cat "$T/standin.port")
imds_fetches() {
	curl -sf "http://127.0.0.1:$P/__standin/stats" |
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).imds))'
}
# the credentials come from IMDSv2 only
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_SHARED_CREDENTIALS_FILE \
	AWS_CONFIG_FILE AWS_PROFILE AWS_EC2_METADATA_DISABLED
AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$P; export AWS_EC2_METADATA_SERVICE_ENDPOINT

N=150
DAY=$(date -u +%Y-%m-%d)   # a recent day: keep_days keeps it in sent/
mkdir -p "$T/gen"
CT_CSV_GEN_JOBS=2 "$GEN" "$T/gen" "$N" "$DAY" 40 || bail "csv-gen failed"
for f in "$T/gen"/*.json; do
	"$SPOOLPUT" put -d "$T/spool" "$f" >/dev/null || bail "calltrail-spool put $f failed"
done
proxy_ctl "mode?delay=40" >/dev/null || bail "proxy mode"
t0=$(date +%s)
"$EXPORT" -c "$CONF" upload >"$T/up.out" 2>&1
rc=$?
secs=$(($(date +%s) - t0))
is 0 "$rc" "upload with IMDSv2 credentials exits 0 ($secs s: $(tail -n 1 "$T/up.out"))"
is "$N" "$(ls "$T/spool/sent/$DAY" 2>/dev/null | wc -l | tr -d ' ')" "every one of the $N records is stored"
n=$(imds_fetches)
ok "$([ "$n" -ge 3 ] && echo 0 || echo 1)" "the credentials were fetched again during the run ($n fetches from IMDSv2)"
if grep -q 'STANDINTOKEN\|calltrail-test-secret' "$T/up.out"; then ok 1 "no credential in the output"
else ok 0 "no credential in the output"; fi
done_testing
