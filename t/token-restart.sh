#!/bin/sh
# t/token-restart.sh — calltrail-token started the way its systemd socket
# unit starts it (SPEC section 6, issue 13 point 4): the listening socket
# as fd 3 (LISTEN_FDS, LISTEN_PID) from systemd-socket-activate and from a
# launcher that, like systemd, keeps the socket across restarts; the
# LiveKit secret from $CREDENTIALS_DIRECTORY.  SIGTERM lets a request in
# flight finish; restarting the service under a request loop through
# nginx loses no request.
. "$top_srcdir/t/lib.sh"

command -v nginx >/dev/null || skip_all "nginx not installed (apt-get install nginx-light)"
command -v curl >/dev/null || skip_all "curl not installed"
BIN=$top_builddir/cgi/calltrail-token
PEER="python3 $top_srcdir/t/fcgi-peer.py"
[ -x "$BIN" ] || bail "$BIN not built"
unset LIVEKIT_URL LIVEKIT_API_KEY LIVEKIT_API_SECRET CALLTRAIL_CONF CREDENTIALS_DIRECTORY
umask 077
# No secret in the configuration: it comes as a credential (LoadCredential=).
printf '%s\n' "livekit_url = wss://lk.example.com" "livekit_api_key = APIcalltrailrestart" >"$T/ct.conf"
mkdir "$T/creds"
printf '%s' "calltrail-test-secret-0123456789abcdef" >"$T/creds/livekit-api-secret"
chmod 0400 "$T/creds/livekit-api-secret"
PORT=$(free_port)
# A kept upstream connection the stopping service closes in the very
# moment nginx sends on it is a race FastCGI cannot close (no "do not
# reuse" signal), and nginx retries no POST it began to send unless told
# to: minting has no side effect, so the site should say
#   fastcgi_next_upstream error timeout non_idempotent;
# (nginx/calltrail.conf; given here at the http level until it does).
echo "fastcgi_next_upstream error timeout non_idempotent;" >"$T/extra.conf"
CT_NGINX_RATE=100000r/s CT_NGINX_BURST=100000 CT_NGINX_EXTRA=$T/extra.conf \
	sh "$top_srcdir/scripts/nginx-conf.sh" "$T" "$T/token.sock" "127.0.0.1:$PORT" ||
	bail "scripts/nginx-conf.sh failed"
nginx -e "$T/nginx-error.log" -p "$T/" -c "$T/nginx.conf" -g 'daemon off;' 2>>"$T/nginx-error.log" &
bg_pid $!
URL=http://127.0.0.1:$PORT/api/token
ask() { curl -s -o "$T/out" -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' -d '{}' "$URL"; }

# ---- no secret anywhere: refused, saying where to put it ----------------------
"$BIN" -c "$T/ct.conf" >/dev/null 2>"$T/err" </dev/null
is 78 "$?" "no secret and no credentials directory: exit 78"
like "$(cat "$T/err")" "calltrail/livekit-api-secret .*LoadCredential" "... saying where to put the secret"

# ---- systemd-socket-activate: fd 3 and the credential ------------------------
if command -v systemd-socket-activate >/dev/null; then
	systemd-socket-activate -l "$T/token.sock" -E CREDENTIALS_DIRECTORY="$T/creds" \
		"$BIN" -c "$T/ct.conf" --workers 2 2>"$T/sa.log" &
	SA=$!
	bg_pid $SA
	wait_for 10 test -S "$T/token.sock" || bail "systemd-socket-activate did not listen"
	is 200 "$(ask)" "under systemd-socket-activate (LISTEN_FDS, fd 3) a token request answers 200"
	like "$(cat "$T/out")" '"participantToken":"eyJ' "... with a token signed with the credential's secret"
	is 2 "$(pgrep -c -P "$SA")" "... from --workers 2 workers"
	kill -TERM "$SA"
	wait "$SA"
	is 0 "$?" "SIGTERM: exit 0"
	! grep -q "LISTEN_FDS" "$T/sa.log"
	ok $? "... and nothing to say about the socket"
	rm -f "$T/token.sock"
else
	skip "systemd-socket-activate not installed (package systemd)"
	skip "systemd-socket-activate not installed"
	skip "systemd-socket-activate not installed"
	skip "systemd-socket-activate not installed"
	skip "systemd-socket-activate not installed"
fi

# ---- SIGTERM finishes the request in flight --------------------------------
CREDENTIALS_DIRECTORY=$T/creds $PEER launch "$T/token.sock" 1 0 -- \
	"$BIN" -c "$T/ct.conf" --workers 1 >"$T/launch.out" 2>"$T/launch.log" &
L=$!
bg_pid $L
wait_for 10 grep -q '^started' "$T/launch.out" || bail "the launcher failed: $(cat "$T/launch.log")"
SUP=$(sed -n 's/^started //p' "$T/launch.out")
wait_for 5 pgrep -P "$SUP" || bail "no worker: $(cat "$T/launch.log")"
is "Status: 200 OK" "$($PEER stall "$T/token.sock" "$SUP" SIGTERM)" \
	"a request half sent when SIGTERM arrives is still answered"
gone() { ! ps -o stat= -p "$1" | grep -q '[^Z ]'; }
wait_for 12 gone "$SUP"
ok $? "... and then the service exits"
kill "$L" 2>/dev/null
wait "$L" 2>/dev/null
rm -f "$T/token.sock"

# ---- restarts under load: nothing lost ---------------------------------------
CREDENTIALS_DIRECTORY=$T/creds $PEER launch "$T/token.sock" 1.5 3 -- \
	"$BIN" -c "$T/ct.conf" --workers 2 >"$T/launch.out" 2>"$T/launch.log" &
L=$!
bg_pid $L
wait_for 10 grep -q '^started' "$T/launch.out" || bail "the launcher failed: $(cat "$T/launch.log")"
wait_for 5 test "$(ask)" = 200
$PEER http "$URL" 6 8 >"$T/load.out" 2>&1
kill "$L"
wait "$L"
is 4 "$(grep -c '^exit 0' "$T/launch.out")" "the service was restarted 3 times (and stopped), each stop exiting 0"
n=$(sed -n 's/^200 //p' "$T/load.out")
diag "requests during the restarts: $(tr '\n' ' ' <"$T/load.out")"
ok "$([ "${n:-0}" -gt 100 ]; echo $?)" "a request loop ran across the restarts (${n:-0} answered 200)"
is "200 ${n:-0}" "$(cat "$T/load.out")" "... and every request was answered 200: none lost"

done_testing
