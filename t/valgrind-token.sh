#!/bin/sh
# t/valgrind-token.sh — calltrail-token under valgrind's memcheck behind a
# real nginx: 10,000 token requests through ONE worker with one thread
# (every request reuses the same handler buffers, json-c objects and HMAC
# context, so a per-request leak of even a few bytes shows as thousands of
# lost blocks), a sample of the tokens checked by LiveKit's TokenVerifier,
# connections that time out or pipeline and hang up, then a clean stop
# with idle connections open.  Passes only with zero memcheck errors and zero
# definite leaks in the supervisor and the worker.  CT_VG_REQUESTS changes
# the count (scripts/valgrind.sh uses the default).
. "$top_srcdir/t/lib.sh"

command -v valgrind >/dev/null || skip_all "valgrind not installed (apt-get install valgrind)"
command -v nginx >/dev/null || skip_all "nginx not installed"
command -v curl >/dev/null || skip_all "curl not installed"
BIN=$top_builddir/cgi/calltrail-token
[ -x "$BIN" ] || bail "$BIN not built"
# A sanitizer build cannot run under valgrind (scripts/test.sh's second pass).
grep -q __asan_init "$BIN" && skip_all "an AddressSanitizer build; valgrind cannot run it"
N=${CT_VG_REQUESTS:-10000}
unset LIVEKIT_URL LIVEKIT_API_KEY LIVEKIT_API_SECRET CALLTRAIL_CONF
KEY=APIcalltrailvg
SECRET=calltrail-valgrind-secret-0123456789abcdef

cat >"$T/ct.conf" <<EOF
livekit_url = wss://lk.example.com
livekit_api_key = $KEY
livekit_api_secret = $SECRET
agents = sales-agent, support-agent
default_agent = sales-agent
cors_origin = https://www.example.com
EOF
PORT=$(free_port)
CT_NGINX_RATE=100000r/s CT_NGINX_BURST=100000 \
	sh "$top_srcdir/scripts/nginx-conf.sh" "$T" "$T/token.sock" "127.0.0.1:$PORT" ||
	bail "scripts/nginx-conf.sh failed"

# One log per process (%p): the supervisor and the worker it forks.
valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --log-file="$T/vg.%p.log" \
	"$BIN" -c "$T/ct.conf" --listen "unix:$T/token.sock" --workers 1 --threads 1 --timeout 2 \
	2>"$T/token.log" &
SUP=$!
bg_pid $SUP
nginx -e "$T/nginx-error.log" -p "$T/" -c "$T/nginx.conf" -g 'daemon off;' 2>>"$T/nginx-error.log" &
NGX=$!
bg_pid $NGX
URL=http://127.0.0.1:$PORT
wait_for 60 test -S "$T/token.sock" || bail "calltrail-token did not listen: $(cat "$T/token.log")"
wait_for 30 curl -sf "$URL/api/healthz" || bail "nginx did not come up: $(cat "$T/nginx-error.log")"

# N requests on one kept-alive client connection, alternating the
# browser's request with the error paths (bad email, unknown agent,
# attributes, agent metadata) so every branch runs many times.
mkdir -p "$T/out"
J='Content-Type: application/json'
curl -s -H "$J" -H "Origin: https://www.example.com" \
	-d '{"user_email":"jane.doe@acme.com","room_config":{"agents":[{"agent_name":"sales-agent","metadata":"{\"plan\":\"pro\"}"}]},"participant_attributes":{"a":"b"}}' \
	-o "$T/out/tok#1.json" -w '%{http_code}\n' "$URL/api/connection-details?n=[1-$((N * 8 / 10))]" \
	>"$T/codes" 2>/dev/null
curl -s -H "$J" -d '{"user_email":"=bad@x.com"}' -o /dev/null -w '%{http_code}\n' \
	"$URL/api/token?n=[1-$((N / 10))]" >>"$T/codes" 2>/dev/null
curl -s -H "$J" -d '{"room_config":{"agents":[{"agent_name":"root"}]}}' -o /dev/null \
	-w '%{http_code}\n' "$URL/api/token?n=[1-$((N - N * 8 / 10 - N / 10))]" >>"$T/codes" 2>/dev/null
is "$((N * 8 / 10)) $((N - N * 8 / 10))" "$(grep -c '^200$' "$T/codes") $(grep -c '^400$' "$T/codes")" \
	"$N requests through one worker under valgrind: the 200s and the 400s expected"

if command -v node >/dev/null && need_node_modules 2>/dev/null; then
	ls "$T"/out/*.json | awk 'NR % 500 == 1' | while read -r f; do cat "$f"; echo; done >"$T/sample"
	LK_KEY=$KEY LK_SECRET=$SECRET WANT_EMAIL=jane.doe@acme.com WANT_AGENT=sales-agent \
		node "$top_srcdir/t/token-verify.js" <"$T/sample" >"$T/verify.out"
	is "$(grep -c . "$T/sample")" "$(grep -c '^ok ' "$T/verify.out")" \
		"TokenVerifier accepts a sample of the tokens minted under valgrind"
else
	skip "node or livekit-server-sdk not available"
fi
workers=$(grep -o 'calltrail-token\[[0-9]*\]: status=' "$T/token.log" | sort -u | wc -l)
is 1 "$workers" "one worker process answered them all"

# The resource paths under memcheck too (loop.c): connections closed by
# the timeout, peers that pipeline and hang up with answers unwritten, and
# idle connections still open when SIGTERM comes.
PEER="python3 $top_srcdir/t/fcgi-peer.py"
$PEER idle "$T/token.sock" 20 4 >"$T/idle.out" 2>&1
is "closed 20" "$(tail -n 1 "$T/idle.out")" "idle connections are closed after --timeout under valgrind"
$PEER pipeline "$T/token.sock" 5 300 "$SUP" >/dev/null 2>&1
$PEER idle "$T/token.sock" 3 10 >/dev/null 2>&1 &
IDLE=$!
bg_pid $IDLE
sleep 1

# Stop nginx first (it holds the kept-alive upstream connection), then
# calltrail-token: the worker leaves its loop and exits normally, which is
# when memcheck counts the leaks.
kill "$NGX"
wait "$NGX" 2>/dev/null
kill -TERM "$SUP"
gone() { ! kill -0 "$SUP" 2>/dev/null; }
wait_for 60 gone
ok $? "calltrail-token stops on SIGTERM under valgrind"
wait "$SUP"
is 0 "$?" "the supervisor exits 0 (99 would be a memcheck error)"
nlogs=$(ls "$T"/vg.*.log 2>/dev/null | wc -l)
is 2 "$nlogs" "memcheck logs for the supervisor and the worker"
# -q: a clean process writes nothing at all; anything else is an error
# or a definite leak, with its stack.
for f in "$T"/vg.*.log; do
	if [ -s "$f" ]; then
		ok 1 "no memcheck error and no definite leak in $(basename "$f")"
		sed -n '1,40p' "$f" | while IFS= read -r l; do diag "$l"; done
	else
		ok 0 "no memcheck error and no definite leak in $(basename "$f")"
	fi
done
grep -q "killed by signal" "$T/token.log"
ok $((!$?)) "no worker was killed (a killed worker reports no leaks)"

done_testing
