#!/usr/bin/env bash
# scripts/demo.sh — the whole calltrail flow, end to end, on this machine:
#
#   1. build and install calltrail under build/demo/ (scripts/deps.sh first),
#   2. a fresh development LiveKit API key and secret,
#   3. nginx on 127.0.0.1 in front of calltrail-token (FastCGI, unix socket),
#   4. a token request with an email, exactly as the browser sends it, and
#      the token's decoded claims,
#   5. the agent's side: the email read back from the participant metadata,
#      a session record handed to calltrail-spool put,
#   6. calltrail-export upload into the local archive (the default target),
#      and a listing of what was stored,
#   7. calltrail-export csv for today, and the CSV itself,
#   8. the demo page (web/demo/) served by the same nginx: its URL, and on
#      a terminal the servers stay up until Enter (DEMO_WAIT=0: they don't).
#
# Everything runs from build/demo/ and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
demo=$top/build/demo
EMAIL=${DEMO_EMAIL:-Jane.Doe@Example.com}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. build and install into $demo/inst"
bash scripts/deps.sh >/dev/null
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
rm -rf "$demo" && mkdir -p "$demo/build" "$demo/run" "$demo/tmp"
(cd "$demo/build" && "$top/configure" -q --prefix="$demo/inst" \
	--localstatedir="$demo/var" && make -j2 >/dev/null && make install >/dev/null)
bin=$demo/inst/bin
ls "$bin"

say "2. a fresh development API key and secret"
KEY=API$(python3 -c 'import secrets; print(secrets.token_hex(6))')
umask 077
python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$demo/inst/etc/calltrail/secret"
cat >"$demo/inst/etc/calltrail/calltrail.conf" <<CONF
livekit_url             = ws://127.0.0.1:7880
livekit_api_key         = $KEY
livekit_api_secret_file = $demo/inst/etc/calltrail/secret
agents                  = sales-agent, support-agent
default_agent           = sales-agent
CONF
umask 022
export CALLTRAIL_CONF=$demo/inst/etc/calltrail/calltrail.conf
echo "api key $KEY, secret in $demo/inst/etc/calltrail/secret (mode 0600)"
echo "spool, archive and CSV under $demo/var (the defaults for this prefix)"

say "3. nginx on 127.0.0.1 -> calltrail-token"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$bin/calltrail-token" --listen "unix:$demo/run/token.sock" --workers 2 2>"$demo/token.log" &
pids+=($!)
sh scripts/nginx-conf.sh "$demo" "$demo/run/token.sock" "127.0.0.1:$PORT"
# The browser half beside the endpoint (same origin): the installed web/
# at /calltrail/, as docs/frontend.md shows.
web=$demo/inst/share/calltrail/web
cat >"$demo/web.conf" <<NGINX
	location /calltrail/ {
		alias $web/;
		types { text/html html; text/javascript js mjs; }
	}

NGINX
awk -v f="$demo/web.conf" '/location @calltrail_too_large/ { while ((getline l < f) > 0) print l }
	{ print }' "$demo/calltrail.conf" >"$demo/calltrail.conf.new"
mv "$demo/calltrail.conf.new" "$demo/calltrail.conf"
nginx -q -t -p "$demo/" -c "$demo/nginx.conf" -e "$demo/nginx-error.log"
nginx -p "$demo/" -c "$demo/nginx.conf" -e "$demo/nginx-error.log" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$PORT/api/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
echo "GET /api/healthz -> $(curl -fsS "http://127.0.0.1:$PORT/api/healthz")"
DEMO_URL=http://127.0.0.1:$PORT/calltrail/demo/
echo "the demo page (web/demo/, $(curl -fsS -o /dev/null -w '%{http_code}' "$DEMO_URL")): $DEMO_URL"

say "4. the browser asks for a token with the visitor's email"
body=$(printf '{"user_email":"%s","room_config":{"agents":[{"agent_name":"sales-agent"}]}}' "$EMAIL")
echo "POST /api/connection-details $body"
resp=$(curl -fsS -H 'Content-Type: application/json' --data "$body" \
	"http://127.0.0.1:$PORT/api/connection-details")
printf '%s\n' "$resp" | python3 -c '
import json, sys, base64
r = json.load(sys.stdin)
print("serverUrl:", r["serverUrl"], " roomName:", r["roomName"], " participantName:", r["participantName"])
def part(s): return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
h, c, _ = r["participantToken"].split(".")
print("header:", json.dumps(part(h)))
print("claims:", json.dumps(part(c), indent=2))
' | tee "$demo/claims.txt"
room=$(printf '%s' "$resp" | python3 -c 'import json,sys; print(json.load(sys.stdin)["roomName"])')
meta=$(printf '%s' "$resp" | python3 -c '
import json, sys, base64
t = json.load(sys.stdin)["participantToken"].split(".")[1]
print(json.loads(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))["metadata"])')
echo "token log line: $(tail -n 1 "$demo/token.log")"

say "5. the agent reads the email back and spools its session record"
email=$("$bin/calltrail-spool" email-from-metadata "$meta")
echo "calltrail-spool email-from-metadata -> $email"
start=$(python3 -c 'import datetime; print((datetime.datetime.now(datetime.timezone.utc)-datetime.timedelta(minutes=3)).isoformat(timespec="microseconds"))')
end=$(python3 -c 'import datetime; print(datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds"))')
record=$(printf '{"session_id":"%s","user_email":"%s","start_time":"%s","end_time":"%s","duration_seconds":180,"discovered_signals":{"qualification_tier":"hot, budget confirmed"},"tool_calls":[]}' \
	"$room" "$email" "$start" "$end")
printf '%s' "$record" | "$bin/calltrail-spool" put -

say "6. calltrail-export upload into the local archive"
"$bin/calltrail-export" upload
(cd "$demo/var/lib/calltrail/archive" && find . -type f -printf '%P  %s bytes\n' | sort)
obj=$(find "$demo/var/lib/calltrail/archive" -name '*.json.gz' | head -n 1)
echo "gunzip of the stored object equals the record: $(gzip -dc "$obj" | cmp -s - <(printf '%s' "$record") && echo yes || echo NO)"

say "7. the day's Salesforce CSV"
day=$(date -u +%Y-%m-%d)
"$bin/calltrail-export" csv --day "$day"
csv=$demo/var/lib/calltrail/csv/salesforce-leads-$day.csv
echo "$csv:"
cat -A "$csv" | sed 's/\^M\$$/  <CRLF>/'
"$bin/calltrail-export" status

say "8. the form in a browser"
echo "The demo page: $DEMO_URL"
echo "(served by the same nginx, beside /api/connection-details; it loads ../calltrail.js only)"
if [ -t 0 ] && [ -t 1 ] && [ "${DEMO_WAIT:-1}" != 0 ]; then
	echo "Open it in a browser on this machine, type an email and press Start."
	read -r -p "Press Enter to stop nginx and calltrail-token. " _ || true
fi
