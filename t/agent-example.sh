#!/bin/sh
# t/agent-example.sh — docs/agent_example.py (the agent's hand-off logic,
# run by Debian's python3) against the real calltrail-spool: records land
# in new/ byte-exact, the email is asked for only when the metadata has
# none, a refused record is kept in the fallback directory, and the
# metadata calltrail-token mints round-trips through email-from-metadata.
. "$top_srcdir/t/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip_all "python3 is needed (apt-get install python3)"
EX=$top_srcdir/docs/agent_example.py
CALLTRAIL_SPOOL=${CALLTRAIL_SPOOL:-$top_builddir/src/calltrail-spool}
TOKEN=${CALLTRAIL_TOKEN:-$top_builddir/cgi/calltrail-token}
[ -x "$CALLTRAIL_SPOOL" ] || bail "no $CALLTRAIL_SPOOL (build first)"
CALLTRAIL_FALLBACK_DIR=$T/fallback
CALLTRAIL_CONF=$T/empty.conf
export CALLTRAIL_SPOOL CALLTRAIL_FALLBACK_DIR CALLTRAIL_CONF
: >"$CALLTRAIL_CONF"
S=$T/spool

count() { ls "$1" 2>/dev/null | wc -l | tr -d ' '; }

# example ARGS...: run the example; $rc, $out (stdout), $errout (its log)
example() {
	"$PY" "$EX" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	errout=$(cat "$T/err")
}

room=voice_1761761045_abcdefghijkl
meta='{"user_email":"jane@acme.com","session_start":"2025-10-29T18:04:05.123Z"}'

# --- the email from the participant metadata, the record byte-exact --------
example --room "$room" --participant-metadata "$meta" --tier hot \
	--start 2025-10-29T18:04:05.123456Z --end 2025-10-29T18:10:05.5Z --spool "$S"
is 0 "$rc" "hand-off exits 0"
like "$out" "^$S/new/[0-9]+\.[0-9]+\.[0-9a-f]+\.json$" "the example prints the spooled path"
printf '%s' '{"session_id":"voice_1761761045_abcdefghijkl","user_email":"jane@acme.com","start_time":"2025-10-29T18:04:05.123456Z","end_time":"2025-10-29T18:10:05.500000Z","duration_seconds":360.377,"discovered_signals":{"qualification_tier":"hot"}}' >"$T/want.json"
cmp -s "$T/want.json" "$out"; ok $? "the record in new/ is byte-exact"
case "$errout" in *asking*) ok 1 "not asked: the email was in the metadata";;
	*) ok 0 "not asked: the email was in the metadata";; esac

# --- no email in the metadata: asked; the job metadata as second source ---
example --room voice_2 --participant-metadata '{"user_email":""}' \
	--answer ' sam@example.org ' --spool "$S"
is 0 "$rc" "empty email: hand-off exits 0"
like "$errout" "asking the visitor" "empty email: the agent asks"
like "$(cat "$out" 2>/dev/null)" '"user_email":"sam@example.org"' "the answer goes into the record"
example --room voice_3 --participant-metadata 'not json' \
	--job-metadata '{"user_email":"kim@example.net"}' --spool "$S"
is 0 "$rc" "job metadata: hand-off exits 0"
like "$(cat "$out" 2>/dev/null)" '"user_email":"kim@example.net"' "the dispatch metadata is the second source"
case "$errout" in *asking*) ok 1 "job metadata: not asked";; *) ok 0 "job metadata: not asked";; esac
example --room voice_4 --spool "$S"
is 0 "$rc" "no metadata, no answer: still spooled"
like "$(cat "$out" 2>/dev/null)" '"user_email":""' "the record says no email"
is 4 "$(count "$S/new")" "four records in new/"

# --- refused by the spool: logged, kept in the fallback dir, never lost ---
example --room voice_5 --answer 'not-an-email' --spool "$S"
is 1 "$rc" "an invalid record: the example reports failure"
like "$errout" "exit 65" "the log has the exit code"
like "$errout" "user_email" "the log names the field"
is 1 "$(count "$CALLTRAIL_FALLBACK_DIR")" "the record is kept in the fallback dir"
like "$(cat "$CALLTRAIL_FALLBACK_DIR"/* 2>/dev/null)" '"session_id":"voice_5"' "the fallback holds the record"
is 4 "$(count "$S/new")" "nothing new in the spool"
CALLTRAIL_SPOOL=$T/no-such-program example --room voice_6 --answer a@b.co --spool "$S"
is 1 "$rc" "calltrail-spool missing: failure reported"
is 2 "$(count "$CALLTRAIL_FALLBACK_DIR")" "calltrail-spool missing: kept in the fallback dir"

# --- the metadata calltrail-token mints, read back -------------------------
if [ ! -x "$TOKEN" ]; then
	skip "calltrail-token not built: no minted metadata to read"
	skip "calltrail-token not built"
	skip "calltrail-token not built"
	skip "calltrail-token not built"
else
	body='{"user_email":"Jane.Doe@Acme.com"}'
	printf '%s' "$body" | env LIVEKIT_URL=wss://lk.example LIVEKIT_API_KEY=APItest \
		LIVEKIT_API_SECRET=test-secret-that-is-at-least-32-bytes-long \
		GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST CONTENT_TYPE=application/json \
		CONTENT_LENGTH=${#body} SCRIPT_NAME=/api/connection-details \
		"$TOKEN" >"$T/cgi.out" 2>"$T/cgi.err"
	# The JWT's payload: room name and the metadata string.
	"$PY" - "$T/cgi.out" >"$T/minted" <<'EOF'
import base64, json, sys
raw = open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[-1].split(b"\n\n", 1)[-1]
reply = json.loads(raw)
payload = reply["participantToken"].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
print(reply["roomName"])
print(claims["metadata"])
EOF
	minted_room=$(sed -n 1p "$T/minted")
	minted_meta=$(sed -n 2p "$T/minted")
	like "$minted_meta" '"session_start"' "calltrail-token minted metadata with session_start"
	is "Jane.Doe@Acme.com" "$("$CALLTRAIL_SPOOL" email-from-metadata "$minted_meta")" \
		"email-from-metadata reads the minted metadata"
	example --room "$minted_room" --participant-metadata "$minted_meta" --spool "$S"
	is 0 "$rc" "the minted room and metadata hand off"
	"$PY" - "$out" "$minted_room" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
sys.exit(0 if r["session_id"] == sys.argv[2] and r["user_email"] == "Jane.Doe@Acme.com" else 1)
EOF
	ok $? "the spooled record has the minted room and email"
fi

done_testing
