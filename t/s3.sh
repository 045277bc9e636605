#!/bin/sh
# t/s3.sh — the S3 client (src/s3.c, src/s3list.c) through t/s3-drv,
# against s3rver behind t/s3-proxy.js, which re-checks every signature
# with the AWS SDK's signer and injects faults.
. "$top_srcdir/t/lib.sh"
. "$top_srcdir/t/s3-lib.sh"

DRV=$top_builddir/t/s3-drv
drv() { "$DRV" -c "$CONF" -b bucket -p "pre fix" "$@"; }

# N gzipped objects under keys that need encoding ('=' in day=, '.', '-', '_').
mkdir -p "$T/obj"
args=""
i=0
while [ $i -lt 40 ]; do
	printf '{"session_id":"voice_%d.a-b","n":%d}\n' $i $i >"$T/obj/$i.json"
	gzip -n -c "$T/obj/$i.json" >"$T/obj/$i.gz"
	args="$args sessions/year=2025/month=10/day=29/voice_$i.a-b_c.json.gz $T/obj/$i.gz"
	i=$((i + 1))
done

proxy_ctl reset >/dev/null
# shellcheck disable=SC2086
out=$(drv put $args 2>"$T/err"); rc=$?
snap
is 0 "$rc" "40 objects stored (exit 0)"
is 40 "$(printf '%s\n' "$out" | grep -c ' ok 1 ')" "each stored on the first try"
is 0 "$(stat_of sigFailures)" "the AWS SDK signer agrees with every signature"
is 0 "$(stat_of hashFailures)" "x-amz-content-sha256 and Content-MD5 match every body"
is 0 "$(stat_of pathFailures)" "every path is encoded as the AWS SDK encodes keys"
stat_of paths | grep -q '^PUT /bucket/pre%20fix/sessions/year%3D2025/month%3D10/day%3D29/voice_0.a-b_c.json.gz$'
ok $? "the key goes on the wire percent-encoded ('=' as %3D, ' ' as %20)"
maxin=$(stat_of maxInflight); conns=$(stat_of connections)
[ "$maxin" -gt 1 ] && [ "$maxin" -le 8 ]
ok $? "transfers run in parallel, at most s3_concurrency (max in flight: $maxin)"
# at most 8 for the uploads, plus the snapshot's own connection
[ "$conns" -le 9 ]
ok $? "connections are reused ($conns connections for 40 requests + 1 snapshot)"

node "$top_srcdir/t/s3-read.js" "$S3_PORT" bucket "pre fix/" >"$T/read" 2>"$T/read.err"
ok $? "the AWS SDK lists and reads the objects back"
i=0; same=0
while [ $i -lt 40 ]; do
	want=$(sha256sum <"$T/obj/$i.json" | cut -d' ' -f1)
	grep -qx "pre fix/sessions/year=2025/month=10/day=29/voice_$i.a-b_c.json.gz $want" "$T/read" &&
		same=$((same + 1))
	i=$((i + 1))
done
is 40 "$same" "every object gunzips to its record, byte for byte"

# ListObjectsV2 and GET through the client.
drv list sessions/year=2025/ >"$T/list"; rc=$?
is 0 "$rc" "list succeeds"
is 40 "$(wc -l <"$T/list" | tr -d ' ')" "list returns the 40 keys"
head -1 "$T/list" | grep -q "^sessions/year=2025/month=10/day=29/voice_0.a-b_c.json.gz $(wc -c <"$T/obj/0.gz" | tr -d ' ')\$"
ok $? "keys come back relative to the prefix, XML-decoded, with their size"
LC_ALL=C sort -c "$T/list"
ok $? "keys come in lexical order"
is 0 "$(drv list nothing/ | wc -l | tr -d ' ')" "an empty listing"
# Paging: S3 gives at most 1,000 keys a page; 7 a page walks the 40 keys
# through six continuation tokens, each signed and checked by the proxy.
snap; before=$(stat_of paths | grep -c 'continuation-token=')
CT_S3_LIST_MAX_KEYS=7 drv list sessions/year=2025/ >"$T/list7" 2>"$T/list7.err"; rc=$?
is 0 "$rc" "a listing of 7 keys a page succeeds" || diag "$(head -c 300 "$T/list7.err")"
cmp -s "$T/list" "$T/list7"
ok $? "... and gives the same 40 keys, in order, as one page"
snap
is 5 "$(( $(stat_of paths | grep -c 'continuation-token=') - before ))" \
	"... in six pages: five requests carried a continuation token"
is 0 "$(stat_of sigFailures)" "... every one of them signed right"
drv get sessions/year=2025/month=10/day=29/voice_7.a-b_c.json.gz 65536 | gzip -dc | cmp -s - "$T/obj/7.json"
ok $? "get returns the object's bytes"
drv get sessions/none.json.gz 65536 >/dev/null 2>&1
is 3 "$?" "get of a missing key is CT_ERR_NOTFOUND"
drv get sessions/year=2025/month=10/day=29/voice_7.a-b_c.json.gz 10 >/dev/null 2>"$T/err"
is 4 "$?" "get beyond the size cap fails"
like "$(cat "$T/err")" "larger than 10 bytes" "... saying it is too large"

# The SDKs' endpoint overrides, when s3_endpoint is empty:
# AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL (path style on either).
grep -v '^s3_endpoint' "$CONF" >"$T/noep.conf"
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$PROXY_PORT AWS_ENDPOINT_URL=http://127.0.0.1:1 \
	"$DRV" -c "$T/noep.conf" -b bucket -p "pre fix" list sessions/year=2025/ >"$T/l1" 2>&1
cmp -s "$T/list" "$T/l1"; ok $? "AWS_ENDPOINT_URL_S3 is used when s3_endpoint is empty"
AWS_ENDPOINT_URL=http://127.0.0.1:$PROXY_PORT \
	"$DRV" -c "$T/noep.conf" -b bucket -p "pre fix" list sessions/year=2025/ >"$T/l2" 2>&1
cmp -s "$T/list" "$T/l2"; ok $? "... else AWS_ENDPOINT_URL"

# get_many: s3_concurrency GETs at once, each with its own answer.
drv getmany 65536 sessions/year=2025/month=10/day=29/voice_3.a-b_c.json.gz \
	sessions/none.json.gz sessions/year=2025/month=10/day=29/voice_4.a-b_c.json.gz >"$T/gm"
is 0 "$?" "getmany of three keys, one missing, succeeds"
like "$(sed -n 2p "$T/gm")" "sessions/none.json.gz not found 0" "... the missing one says not found"
is "$(sha256sum <"$T/obj/4.gz" | cut -d' ' -f1)" "$(sed -n 3p "$T/gm" | cut -d' ' -f4)" \
	"... the others come back byte for byte"

# Allocation failures on the request path (open, PUT, list, GET): for
# every N the Nth allocation fails; each run ends in a clean error, frees
# what it allocated and does not crash (t/s3-fail.c).
"$top_builddir/t/s3-fail" -c "$CONF" -b bucket >"$T/fail.tap" 2>&1; rc=$?
if grep -q '^1\.\.0 # SKIP' "$T/fail.tap"; then
	skip "allocation failures cannot be injected in this build (sanitizer)"
else
	is 0 "$rc" "every allocation of the S3 request path failing in turn: clean, no leak"
	grep -v '^ok' "$T/fail.tap" | head -20 | sed 's/^#* */# s3-fail: /'
fi

# Faults: each is retried and every object still lands exactly once.
for kind in 503 429 reset lostreply etag stall; do
	proxy_ctl "fault?kind=$kind&count=3" >/dev/null
	# shellcheck disable=SC2086
	out=$(drv put $(echo $args | cut -d' ' -f1-12) 2>"$T/err"); rc=$?
	is 0 "$rc" "fault $kind on 3 PUTs: all 6 objects stored"
	retried=$(printf '%s\n' "$out" | awk '$3 > 1' | wc -l | tr -d ' ')
	[ "$retried" -ge 1 ]
	ok $? "fault $kind: the failed PUTs were retried ($retried objects)"
done
# ExpiredToken: the credentials are asked for again (forced) and the
# request retried once at once; a second ExpiredToken is a refusal.
# (one request at a time, so the retry cannot meet a fault meant for
# another request)
S3_CONCURRENCY=1 s3_conf "$T/c1.conf"
proxy_ctl "fault?kind=expired&count=1" >/dev/null
# shellcheck disable=SC2086
out=$("$DRV" -c "$T/c1.conf" -b bucket -p "pre fix" put $(echo $args | cut -d' ' -f1-12) 2>"$T/err"); rc=$?
is 0 "$rc" "ExpiredToken on a PUT: refreshed, retried, all 6 objects stored"
is 1 "$(printf '%s\n' "$out" | awk '$3 == 2' | wc -l | tr -d ' ')" "... that one retried once"
proxy_ctl "fault?kind=expired&count=100" >/dev/null
out=$("$DRV" -c "$T/c1.conf" -b bucket -p "pre fix" put x/e.gz "$T/obj/1.gz" 2>"$T/err"); rc=$?
proxy_ctl "fault?kind=&count=0" >/dev/null
is 1 "$rc" "ExpiredToken again after the refresh is a refusal"
like "$out" "ExpiredToken even with refreshed credentials" "... saying so"

node "$top_srcdir/t/s3-read.js" "$S3_PORT" bucket "pre fix/" 2>/dev/null | wc -l | tr -d ' ' >"$T/n"
is 40 "$(cat "$T/n")" "still 40 objects, no duplicates under other keys"

# Retries exhausted: a temporary failure, the message names the status.
S3_RETRIES=1 s3_conf "$T/r1.conf"
proxy_ctl "fault?kind=503&count=100" >/dev/null
out=$("$DRV" -c "$T/r1.conf" -b bucket put k/a.json.gz "$T/obj/1.gz" 2>"$T/err"); rc=$?
proxy_ctl "fault?kind=&count=0" >/dev/null
is 2 "$rc" "503 beyond s3_retries is CT_ERR_TEMP"
like "$out" " 2 .*HTTP 503 SlowDown" "two tries, and the error names HTTP 503 SlowDown"

# Wrong secret: 403, a clear message, no secret, the rest not attempted.
S3_CONCURRENCY=1 s3_conf "$T/c1.conf"
out=$(AWS_SECRET_ACCESS_KEY=wrong-secret-wrong-secret-wrong "$DRV" -c "$T/c1.conf" -b bucket \
	put x/1.gz "$T/obj/1.gz" x/2.gz "$T/obj/2.gz" x/3.gz "$T/obj/3.gz" 2>"$T/err"); rc=$?
is 1 "$rc" "a wrong secret is CT_ERR_REMOTE"
like "$(cat "$T/err")" "HTTP 403 SignatureDoesNotMatch.*credentials" "the message names 403, the S3 code and the credentials"
printf '%s\n%s\n' "$out" "$(cat "$T/err")" | grep -q -e wrong-secret -e 'Signature=' 
ok $((! $?)) "neither the secret nor the signature is printed"
like "$out" "x/3.gz temporary failure 0 .*not attempted" "objects after the refusal are not attempted"

# Session token: sent and signed when AWS_SESSION_TOKEN is set.
s3_start_proxy "FQoGZXIvYXdzEJr//////////token+/="
s3_conf "$CONF"
drv put t/1.gz "$T/obj/1.gz" >/dev/null 2>&1
is 1 "$?" "without the session token the proxy refuses the signature"
AWS_SESSION_TOKEN="FQoGZXIvYXdzEJr//////////token+/=" drv put t/1.gz "$T/obj/1.gz" >/dev/null 2>"$T/err"
is 0 "$?" "with AWS_SESSION_TOKEN the request is accepted"
snap
[ "$(stat_of tokenSeen)" -ge 1 ]
ok $? "x-amz-security-token was sent and signed"

# No credentials at all: a configuration error naming the variable.
out=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$DRV" -c "$CONF" -b bucket list 2>&1); rc=$?
is 78 "$rc" "missing credentials are a configuration error"
like "$out" "AWS_ACCESS_KEY_ID|credentials" "the message names the credentials"

done_testing
