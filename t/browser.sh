#!/bin/sh
# t/browser.sh — the browser half (SPEC section 8) in a real browser:
# Debian's Chromium, headless, driven by playwright-core (t/browser.js).
#
# One nginx (scripts/nginx-conf.sh around nginx/calltrail.conf) in front of
# calltrail-token, with three origins:
#   A  the shipped site, plus web/ at /calltrail/ and livekit-client's
#      browser build at /lk/ (from t/node/node_modules: nothing from a CDN)
#   B  web/ and /lk/ only: cors_origin, so its pages may call A
#   C  the same as B, but not cors_origin: the browser must refuse
# t/browser.js prints the TAP itself; the screenshot of the demo page with
# its token lands in $top_builddir/t/browser-demo.png (docs/demo.png is one).
. "$top_srcdir/t/lib.sh"

CHROMIUM=${CT_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || skip_all "$CHROMIUM not installed (apt-get install chromium)"
command -v nginx >/dev/null || skip_all "nginx not installed (apt-get install nginx-light)"
command -v curl >/dev/null || skip_all "curl not installed"
command -v node >/dev/null || skip_all "node not installed"
need_node_modules
[ -d "$NODE_PATH/playwright-core" ] && [ -d "$NODE_PATH/livekit-client/dist" ] ||
	bail "playwright-core or livekit-client missing from $NODE_PATH (npm ci in t/node)"

BIN=$top_builddir/cgi/calltrail-token
[ -x "$BIN" ] || bail "$BIN not built"
unset LIVEKIT_URL LIVEKIT_API_KEY LIVEKIT_API_SECRET CALLTRAIL_CONF
KEY=APIcalltrailbrowser
SECRET=calltrail-browser-secret-0123456789abcdef
PORTA=$(free_port) PORTB=$(free_port) PORTC=$(free_port)
while [ "$PORTB" = "$PORTA" ]; do PORTB=$(free_port); done
while [ "$PORTC" = "$PORTA" ] || [ "$PORTC" = "$PORTB" ]; do PORTC=$(free_port); done
A=http://127.0.0.1:$PORTA B=http://127.0.0.1:$PORTB C=http://127.0.0.1:$PORTC

cat >"$T/ct.conf" <<EOF
livekit_url = ws://127.0.0.1:7880
livekit_api_key = $KEY
livekit_api_secret = $SECRET
agents = sales-agent, support-agent
default_agent = sales-agent
cors_origin = $B
EOF

# The static files: only what the page needs, with the types a module
# script must have (this nginx.conf includes no mime.types).
static() {
	cat <<EOF
		location /calltrail/ {
			alias $top_srcdir/web/;
			types { text/html html; text/javascript js mjs; }
			add_header Cache-Control no-store;
		}
		location /lk/ {
			alias $NODE_PATH/livekit-client/dist/;
			types { text/javascript js mjs; application/json map; }
		}
EOF
}
{
	for p in "$PORTB" "$PORTC"; do
		echo "	server {"
		echo "		listen 127.0.0.1:$p;"
		static
		echo "	}"
	done
} >"$T/extra.conf"
CT_NGINX_RATE=100000r/s CT_NGINX_BURST=100000 CT_NGINX_EXTRA=$T/extra.conf \
	sh "$top_srcdir/scripts/nginx-conf.sh" "$T" "$T/token.sock" "127.0.0.1:$PORTA" ||
	bail "scripts/nginx-conf.sh failed"
# Origin A serves the page beside the endpoint, as scripts/demo.sh does.
static >"$T/static.conf"
awk -v f="$T/static.conf" '/location @calltrail_too_large/ { while ((getline l < f) > 0) print l }
	{ print }' "$T/calltrail.conf" >"$T/calltrail.conf.new" && mv "$T/calltrail.conf.new" "$T/calltrail.conf"
grep -q "location /calltrail/" "$T/calltrail.conf" || bail "could not add web/ to the site"
nginx -t -q -e "$T/nginx-error.log" -p "$T/" -c "$T/nginx.conf" 2>"$T/nginx-t.out" ||
	bail "nginx -t: $(cat "$T/nginx-t.out")"

"$BIN" -c "$T/ct.conf" --listen "unix:$T/token.sock" --workers 1 2>"$T/token.log" &
bg_pid $!
nginx -e "$T/nginx-error.log" -p "$T/" -c "$T/nginx.conf" -g 'daemon off;' 2>>"$T/nginx-error.log" &
bg_pid $!
wait_for 10 test -S "$T/token.sock" || bail "calltrail-token did not listen: $(cat "$T/token.log")"
wait_for 10 curl -sf "$A/api/healthz" || bail "nginx did not come up: $(cat "$T/nginx-error.log")"
for u in "$A/calltrail/demo/" "$B/calltrail/calltrail.js" "$C/lk/livekit-client.esm.mjs"; do
	curl -sf -o /dev/null "$u" || bail "nginx does not serve $u"
done

mkdir -p "$top_builddir/t"
URL_A=$A URL_B=$B URL_C=$C LK_KEY=$KEY LK_SECRET=$SECRET CHROMIUM=$CHROMIUM \
	PROFILE=$T/chromium-profile TOKEN_LOG=$T/token.log SHOT=$top_builddir/t/browser-demo.png \
	node "$top_srcdir/t/browser.js"
rc=$?
[ $rc -eq 0 ] || { diag "calltrail-token log:"; sed 's/^/#   /' "$T/token.log" | tail -n 20; }
exit $rc
