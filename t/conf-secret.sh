#!/bin/sh
# t/conf-secret.sh — the LiveKit secret is the token service's alone
# (SPEC section 2, issue 13): with livekit_api_secret_file naming a file
# nobody here may read, calltrail-spool and calltrail-export still work,
# and calltrail-token refuses to start naming the file.
. "$top_srcdir/t/lib.sh"

SPOOL=$top_builddir/src/calltrail-spool
EXPORT=$top_builddir/exporter/calltrail-export
TOKEN=$top_builddir/cgi/calltrail-token
for b in "$SPOOL" "$EXPORT" "$TOKEN"; do [ -x "$b" ] || bail "no $b (build first)"; done
unset CALLTRAIL_CONF LIVEKIT_API_SECRET CREDENTIALS_DIRECTORY
plan 10

mkdir -p "$T/spool" "$T/archive" "$T/csv"
# Missing when we are root (root reads any file); mode 000 otherwise.
SECRET_FILE=$T/livekit-api-secret
if [ "$(id -u)" != 0 ]; then
	echo calltrail-test-secret-0123456789abcdef >"$SECRET_FILE"
	chmod 000 "$SECRET_FILE"
fi
cat >"$T/c.conf" <<CONF
livekit_url = wss://example.livekit.cloud
livekit_api_key = APItest
livekit_api_secret_file = $SECRET_FILE
spool_dir = $T/spool
target = file://$T/archive
csv_dir = $T/csv
CONF

rec='{"session_id":"voice_1_abc","user_email":"jane@acme.com","start_time":"2025-10-29T18:04:05Z","end_time":"2025-10-29T18:10:05Z"}'
out=$(printf '%s\n' "$rec" | "$SPOOL" put -c "$T/c.conf" - 2>"$T/err")
is 0 $? "calltrail-spool put works without reading the secret file"
like "$out" "/new/" "... and prints the record's path"
! grep -q livekit_api_secret "$T/err"
ok $? "... and says nothing about the secret"

"$EXPORT" -c "$T/c.conf" upload >"$T/out" 2>"$T/err"
is 0 $? "calltrail-export upload works without reading the secret file"
! grep -q livekit_api_secret "$T/err"
ok $? "... and says nothing about the secret"
n=$(find "$T/archive" -name '*.json.gz' | wc -l)
is 1 "$n" "... and stored the record"
"$EXPORT" -c "$T/c.conf" status >/dev/null 2>"$T/err"
is 0 $? "calltrail-export status works too"
"$EXPORT" -c "$T/c.conf" csv --day 2025-10-29 >/dev/null 2>"$T/err"
is 0 $? "calltrail-export csv works too"

"$TOKEN" -c "$T/c.conf" --listen "unix:$T/token.sock" >/dev/null 2>"$T/err"
is 78 $? "calltrail-token refuses to start (EX_CONFIG)"
like "$(cat "$T/err")" "calltrail-token: livekit_api_secret_file: .*livekit-api-secret" \
	"... naming the key and the file"
