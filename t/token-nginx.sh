#!/bin/sh
# t/token-nginx.sh — calltrail-token behind a real nginx (SPEC sections 3,
# 6 and 7): nginx/calltrail.conf as shipped (only the socket, the listen
# address and the rate are changed with sed), every minted token checked
# by LiveKit's TokenVerifier, every error row of section 3, a burst, a
# killed worker, spawn-fcgi, plain CGI and configuration errors.
. "$top_srcdir/t/lib.sh"

command -v nginx >/dev/null || skip_all "nginx not installed (apt-get install nginx-light)"
command -v curl >/dev/null || skip_all "curl not installed"
command -v node >/dev/null || skip_all "node not installed"
need_node_modules

BIN=$top_builddir/cgi/calltrail-token
[ -x "$BIN" ] || bail "$BIN not built"
unset LIVEKIT_URL LIVEKIT_API_KEY LIVEKIT_API_SECRET CALLTRAIL_CONF
KEY=APIcalltrailtest
SECRET=calltrail-test-secret-0123456789abcdef
ORIGIN=https://www.example.com

cat >"$T/ct.conf" <<EOF
livekit_url = wss://lk.example.com
livekit_api_key = $KEY
livekit_api_secret = $SECRET
agents = sales-agent, support-agent
default_agent = sales-agent
cors_origin = $ORIGIN
EOF

PORT=$(free_port)       # the site as shipped
PORT2=$(free_port)      # same upstream, large bodies allowed: the service's own 413/404
PORT3=$(free_port)      # spawn-fcgi's socket
# The shipped site, with a rate no burst of this test reaches, and two
# more servers on the same nginx.
cat >"$T/extra.conf" <<EOF
	server {
		listen 127.0.0.1:$PORT2;
		client_max_body_size 1m;
		location / {
			fastcgi_param REQUEST_METHOD \$request_method;
			fastcgi_param CONTENT_TYPE \$content_type;
			fastcgi_param CONTENT_LENGTH \$content_length;
			fastcgi_param DOCUMENT_URI \$document_uri;
			fastcgi_keep_conn on;
			fastcgi_pass calltrail_token;
		}
	}
	server {
		listen 127.0.0.1:$PORT3;
		location / {
			fastcgi_param REQUEST_METHOD \$request_method;
			fastcgi_param CONTENT_TYPE \$content_type;
			fastcgi_param CONTENT_LENGTH \$content_length;
			fastcgi_param DOCUMENT_URI \$document_uri;
			fastcgi_pass unix:$T/spawn.sock;
		}
	}
EOF
CT_NGINX_RATE=100000r/s CT_NGINX_BURST=100000 CT_NGINX_EXTRA=$T/extra.conf \
	sh "$top_srcdir/scripts/nginx-conf.sh" "$T" "$T/token.sock" "127.0.0.1:$PORT" ||
	bail "scripts/nginx-conf.sh failed"

nginx -t -q -e "$T/nginx-error.log" -p "$T/" -c "$T/nginx.conf" 2>"$T/nginx-t.out"
ok $? "nginx -t accepts nginx/calltrail.conf inside http {}"
[ -s "$T/nginx-t.out" ] && diag "$(cat "$T/nginx-t.out")"

"$BIN" -c "$T/ct.conf" --listen "unix:$T/token.sock" --workers 2 --threads 2 2>"$T/token.log" &
SUP=$!
bg_pid $SUP
nginx -e "$T/nginx-error.log" -p "$T/" -c "$T/nginx.conf" -g 'daemon off;' 2>>"$T/nginx-error.log" &
bg_pid $!
URL=http://127.0.0.1:$PORT
wait_for 10 test -S "$T/token.sock" || bail "calltrail-token did not listen: $(cat "$T/token.log")"
wait_for 10 curl -sf "$URL/api/healthz" || bail "nginx did not come up: $(cat "$T/nginx-error.log")"

# post PATH BODY [curl args...]: prints the status line's code, then the body
# in $T/out, the headers in $T/hdr.
post() {
	_p=$1 _b=$2; shift 2
	curl -s -o "$T/out" -D "$T/hdr" -w '%{http_code}' -X POST \
	     -H 'Content-Type: application/json' --data-binary "$_b" "$@" "$URL$_p"
}
hdr() { tr -d '\r' <"$T/hdr" | grep -i "^$1:" | sed 's/^[^:]*: *//'; }
errcode() { sed -n 's/.*"error":"\([a-z_]*\)".*/\1/p' "$T/out"; }
verify() { LK_KEY=$KEY LK_SECRET=$SECRET node "$top_srcdir/t/token-verify.js"; }

# ---- health --------------------------------------------------------------
code=$(curl -s -o "$T/out" -w '%{http_code}' "$URL/api/healthz")
is "200 {\"status\":\"ok\"}" "$code $(cat "$T/out")" "GET /api/healthz answers 200 {\"status\":\"ok\"}"

# ---- the browser's request ------------------------------------------------
code=$(post /api/connection-details \
	'{"user_email":"jane.doe@acme.com","room_config":{"agents":[{"agent_name":"sales-agent"}]}}' \
	-H "Origin: $ORIGIN")
is 200 "$code" "the form's token request answers 200"
is "application/json" "$(hdr Content-Type)" "Content-Type: application/json"
is "no-store" "$(hdr Cache-Control)" "Cache-Control: no-store"
is "$ORIGIN" "$(hdr Access-Control-Allow-Origin)" "CORS origin sent once, by the service"
cp "$T/out" "$T/first.json"
res=$(WANT_EMAIL=jane.doe@acme.com WANT_AGENT=sales-agent WANT_NAME=Visitor verify <"$T/first.json")
ok $? "TokenVerifier accepts it; metadata, video grant and roomConfig (RoomConfiguration.fromJson) check out"
[ $? -eq 0 ] || diag "$res"
LK_KEY=$KEY LK_SECRET=wrong-secret-wrong-secret-wrong-secret node "$top_srcdir/t/token-verify.js" \
	<"$T/first.json" >"$T/wrong.out"
is "1 fail signature verification failed" "$? $(cat "$T/wrong.out")" "a wrong secret does not verify"

code=$(post /api/token '{"participant_name":"Jane","room_config":{"agents":[{"agent_name":"support-agent"}]},"room_name":"mine","participant_identity":"admin","participant_metadata":"{\"user_email\":\"x@evil.com\"}"}')
is 200 "$code" "POST /api/token answers 200"
res=$(WANT_EMAIL= WANT_AGENT=support-agent WANT_NAME=Jane verify <"$T/out")
ok $? "room_name, participant_identity and participant_metadata from the client are ignored"
[ $? -eq 0 ] || diag "$res"

code=$(curl -s -o /dev/null -D "$T/hdr" -w '%{http_code}' -X OPTIONS -H "Origin: $ORIGIN" \
	-H 'Access-Control-Request-Method: POST' "$URL/api/connection-details")
is "204 $ORIGIN" "$code $(hdr Access-Control-Allow-Origin)" "the CORS preflight answers 204 with the origin"
like "$(hdr Access-Control-Allow-Methods)" "POST" "the preflight allows POST"

# ---- every error row of section 3 -----------------------------------------
row() { # row WANT-CODE WANT-ERROR DESCRIPTION -- curl-args
	_c=$1 _e=$2 _d=$3; shift 4
	_got=$(curl -s -o "$T/out" -D "$T/hdr" -w '%{http_code}' "$@")
	is "$_c $_e" "$_got $(errcode)" "$_d"
}
J='Content-Type: application/json'
row 400 invalid_json "400 invalid_json: not JSON" -- -H "$J" -d '{"user_email":' "$URL/api/token"
row 400 invalid_json "400 invalid_json: not an object" -- -H "$J" -d '["a"]' "$URL/api/token"
deep=$(printf '{"a":%.0s' $(seq 40))1$(printf '}%.0s' $(seq 40))
row 400 invalid_json "400 invalid_json: nested too deep" -- -H "$J" -d "$deep" "$URL/api/token"
row 400 invalid_email "400 invalid_email" -- -H "$J" -d '{"user_email":"=cmd@x.com"}' "$URL/api/token"
row 400 unknown_agent "400 unknown_agent" -- -H "$J" \
	-d '{"room_config":{"agents":[{"agent_name":"root-agent"}]}}' "$URL/api/token"
row 400 invalid_field "400 invalid_field: participant_name not a string" -- -H "$J" \
	-d '{"participant_name":5}' "$URL/api/token"
row 405 method_not_allowed "405 method_not_allowed for GET" -- "$URL/api/connection-details"
is "POST" "$(hdr Allow)" "405 carries Allow: POST"
row 411 length_required "411 length_required without Content-Length" -- -X POST -H "$J" \
	"$URL/api/connection-details"
big=$(head -c 17000 /dev/zero | tr '\0' a)
printf '{"participant_name":"%s"}' "$big" >"$T/big.json"
row 413 body_too_large "413 body_too_large from nginx (client_max_body_size 16k)" -- -H "$J" \
	--data-binary @"$T/big.json" "$URL/api/token"
row 415 unsupported_media_type "415 unsupported_media_type" -- -H 'Content-Type: text/plain' \
	-d '{}' "$URL/api/token"
row 200 "" "Content-Type with charset=utf-8 is fine" -- -H 'Content-Type: application/json; charset=utf-8' \
	-d '{}' "$URL/api/token"

# The service's own 413, and the kept-alive connection still serving after
# it: the second request rides the same upstream connection.
codes=$(curl -s -o /dev/null -w '%{http_code} ' -H "$J" --data-binary @"$T/big.json" \
	"http://127.0.0.1:$PORT2/api/token" --next -o "$T/out" -w '%{http_code}' -H "$J" \
	-d '{}' "http://127.0.0.1:$PORT2/api/token")
is "413 200" "$codes" "the service refuses 17000 bytes with 413 itself, then serves the next request"
row 404 not_found "404 not_found for another path" -- "http://127.0.0.1:$PORT2/api/other"

# ---- a burst: all 200, every token verified, nothing repeated ---------------
mkdir -p "$T/burst"
curl -s --parallel --parallel-max 16 -H "$J" -d '{"user_email":"burst@example.org"}' \
	-o "$T/burst/#1.json" -w '%{http_code}\n' "$URL/api/token?n=[1-2000]" >"$T/burst.codes" 2>/dev/null
is 2000 "$(grep -c '^200$' "$T/burst.codes")" "a burst of 2000 requests: all 200"
[ "$(grep -vc '^200$' "$T/burst.codes")" = 0 ] ||
	diag "other answers: $(grep -v '^200$' "$T/burst.codes" | sort | uniq -c | tr '\n' ' ')"
for f in "$T"/burst/*.json; do cat "$f"; echo; done >"$T/burst.all"
WANT_EMAIL=burst@example.org WANT_AGENT=sales-agent verify <"$T/burst.all" >"$T/burst.ok"
is 2000 "$(grep -c '^ok ' "$T/burst.ok")" "TokenVerifier accepts all 2000 tokens"
is 0 "$(cut -d' ' -f2 "$T/burst.ok" | sort | uniq -d | wc -l)" "no room name twice"
is 0 "$(cut -d' ' -f3 "$T/burst.ok" | sort | uniq -d | wc -l)" "no identity twice"

# ---- a worker killed with SIGKILL is respawned -----------------------------
workers() { ps -o pid= --ppid "$SUP" | tr -d ' ' | sort; }
before=$(workers)
victim=$(echo "$before" | head -n 1)
kill -9 "$victim"
respawned() { _w=$(workers); [ "$(echo "$_w" | grep -c .)" -eq 2 ] && ! echo "$_w" | grep -qx "$victim"; }
wait_for 10 respawned
ok $? "the supervisor starts a new worker after kill -9"
n=0
for i in $(seq 20); do
	[ "$(post /api/token '{}')" = 200 ] && n=$((n + 1))
done
is 20 "$n" "the service keeps answering after the kill"
grep -q "killed by signal 9" "$T/token.log"
ok $? "the supervisor logs the death"
grep -q "jane.doe@acme.com" "$T/token.log" || grep -q "$SECRET" "$T/token.log" || grep -q "eyJ" "$T/token.log"
ok $((!$?)) "the log holds no whole email, secret or token"
grep -q "email=j\*\*\*@acme.com" "$T/token.log"
ok $? "the log masks the email"
# Each request's line names the worker that answered, never the supervisor.
lines_of() { grep -c "calltrail-token\[$1\]: status=" "$T/token.log"; }
n=0
for w in $(workers); do n=$((n + $(lines_of "$w"))); done
ok "$([ "$n" -gt 0 ] && [ "$(lines_of "$SUP")" -eq 0 ]; echo $?)" \
	"request lines carry the answering worker's pid ($n from the live workers)"
# A loop holds its lines while it works and writes them before it sleeps:
# a lone request's line is in the log at once, not with the next one.
code=$(post /api/token '{"user_email":"quiet.caller@lone.example"}')
wait_for 2 grep -q "status=200 .*email=q\*\*\*@lone.example" "$T/token.log"
ok $? "a lone request's line is written when its loop goes idle ($code)"

# ---- a peer that breaks FastCGI is cut off; nobody else notices -------------
# Straight to the socket: a record of version 9, then a connection that
# sends half a record and hangs up.  Each is closed with a log line, and
# the workers go on serving nginx.
python3 - "$T/token.sock" <<'PY' >"$T/abuse.out" 2>&1
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(bytes([9, 1, 0, 1, 0, 8, 0, 0]) + bytes(8))
s.settimeout(5)
print("closed" if s.recv(100) == b"" else "answered")
t = socket.socket(socket.AF_UNIX); t.connect(sys.argv[1])
t.sendall(bytes([1, 1, 0, 1, 0, 8]))
t.close()
PY
is closed "$(cat "$T/abuse.out")" "a record of FastCGI version 9 gets the connection closed"
wait_for 5 grep -q "FastCGI: record version 9, not 1; connection closed" "$T/token.log"
ok $? "with a log line saying why"
is 200 "$(post /api/token '{}')" "and the service goes on answering"

# ---- spawn-fcgi: fd 0 is the listening socket --------------------------------
if command -v spawn-fcgi >/dev/null; then
	spawn-fcgi -n -s "$T/spawn.sock" -M 0600 -- "$BIN" -c "$T/ct.conf" 2>"$T/spawn.log" &
	bg_pid $!
	wait_for 10 test -S "$T/spawn.sock"
	code=$(curl -s -o "$T/out" -w '%{http_code}' -H "$J" -d '{"user_email":"s@example.org"}' \
		"http://127.0.0.1:$PORT3/api/token")
	res=$(WANT_EMAIL=s@example.org verify <"$T/out")
	is "200 0" "$code $?" "under spawn-fcgi a token request answers 200 with a valid token"
else
	skip "spawn-fcgi not installed"
fi

# ---- plain CGI -------------------------------------------------------------
body='{"user_email":"cgi@example.org"}'
printf '%s' "$body" | env REQUEST_METHOD=POST SCRIPT_NAME=/api/token CONTENT_TYPE=application/json \
	CONTENT_LENGTH=${#body} GATEWAY_INTERFACE=CGI/1.1 "$BIN" -c "$T/ct.conf" >"$T/cgi.out" 2>/dev/null
head -n 1 "$T/cgi.out" | tr -d '\r' >"$T/cgi.status"
tail -n 1 "$T/cgi.out" >"$T/out"
res=$(WANT_EMAIL=cgi@example.org verify <"$T/out")
is "Status: 200 OK 0" "$(cat "$T/cgi.status") $?" "as a plain CGI program it answers one request"

# ---- configuration errors: exit 78, one line naming the key -----------------
badconf() { # badconf KEY DESCRIPTION CONF-TEXT
	printf '%b' "$3" >"$T/bad.conf"
	"$BIN" -c "$T/bad.conf" --listen "unix:$T/bad.sock" >/dev/null 2>"$T/bad.err"
	_rc=$?
	is "78 1" "$_rc $(wc -l <"$T/bad.err" | tr -d ' ')" "$2: exit 78 with one line"
	like "$(cat "$T/bad.err")" "$1" "$2: the line names $1"
}
badconf livekit_api_secret "missing livekit_api_secret" \
	'livekit_url = wss://x\nlivekit_api_key = K\n'
badconf livekit_api_secret "a secret shorter than 32 bytes" \
	'livekit_url = wss://x\nlivekit_api_key = K\nlivekit_api_secret = short\n'
badconf livekit_colour "an unknown key" \
	"livekit_url = wss://x\nlivekit_api_key = K\nlivekit_api_secret = $SECRET\nlivekit_colour = blue\n"
test ! -e "$T/bad.sock"
ok $? "a refused configuration opens no socket"

# ---- SIGTERM stops the supervisor and its workers cleanly -------------------
gone() { ! ps -o stat= -p "$1" | grep -q '[^Z ]'; }
kill -TERM "$SUP"
wait_for 10 gone "$SUP"
ok $? "SIGTERM stops calltrail-token"
wait "$SUP"
is 0 "$?" "and it exits 0"
test ! -e "$T/token.sock"
ok $? "and removes its socket"
row 503 unavailable "with the service down nginx answers JSON 503 unavailable" -- -H "$J" -d '{}' \
	"$URL/api/token"

done_testing
