#!/bin/sh
# t/deb.sh — the Debian package as an administrator meets it (SPEC section
# 6, issue 13): build it with dpkg-buildpackage, lint it, install it with
# apt-get, check the units with systemd-analyze, then run the whole flow as
# three Unix users:
#   nginx (the packaged site enabled beside Debian's default site, workers
#   as www-data) -> calltrail-token, started the way calltrail-token.socket
#   does (t/deb-launch.py: the socket as fd 3, a dynamic uid, the secret
#   and the config in $CREDENTIALS_DIRECTORY) -> a token;
#   an agent's user in group calltrail -> calltrail-spool put;
#   calltrail -> calltrail-export upload and csv (the units' and the cron
#   file's commands);
# and check the modes, what the agent cannot read, that root's upload
# exits 77 and changes nothing, that idle runs print nothing, that a
# restart under a request loop loses no request, that an upgrade keeps the
# administrator's edits and that remove keeps and purge removes what they
# should.  Everything it installs or creates is removed at exit.
#
# Needs root and dpkg-buildpackage (skipped otherwise); not part of
# `make check` (it installs a package on the machine): scripts/test.sh
# runs it once.  CT_DEB_KEEP=1 keeps the package installed for a look.
. "$top_srcdir/t/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (installs the package)"
command -v dpkg-buildpackage >/dev/null || skip_all "dpkg-buildpackage missing (apt-get install dpkg-dev debhelper)"
for c in apt-get dpkg-deb systemd-analyze nginx curl python3 runuser useradd; do
	command -v $c >/dev/null || skip_all "$c missing"
done
dpkg -s calltrail >/dev/null 2>&1 && skip_all "a calltrail package is installed already: not touching it"
for p in /etc/calltrail /var/spool/calltrail /var/lib/calltrail /run/calltrail; do
	[ -e $p ] && skip_all "$p exists already: not touching it"
done
getent passwd calltrail >/dev/null && skip_all "user calltrail exists already"
getent group calltrail >/dev/null && skip_all "group calltrail exists already"

export DEBIAN_FRONTEND=noninteractive
APT="apt-get -q -y -o DPkg::Lock::Timeout=900 --no-install-recommends"
AGENT=ctagent$$
KEY=APIdebtest
SECRET=calltrail-deb-test-secret-0123456789abcdef
SITE=calltrail.test
UNITS=/usr/lib/systemd/system
SPOOL=/var/spool/calltrail
LIB=/var/lib/calltrail
ENABLED=/etc/nginx/sites-enabled/calltrail
LAUNCH= NGINX=
chmod 0711 "$T"          # the dynamic user reaches its credentials below

deb_cleanup() {
	[ -n "$LAUNCH" ] && kill "$LAUNCH" 2>/dev/null && wait "$LAUNCH" 2>/dev/null
	[ -n "$NGINX" ] && kill "$NGINX" 2>/dev/null && wait "$NGINX" 2>/dev/null
	[ -n "${CT_DEB_KEEP:-}" ] && return
	if dpkg -s calltrail >/dev/null 2>&1; then
		$APT purge calltrail >"$T/cleanup.log" 2>&1 || cat "$T/cleanup.log" >&2
	fi
	[ -L "$ENABLED" ] && rm -f "$ENABLED"
	getent passwd "$AGENT" >/dev/null && userdel "$AGENT"
	getent passwd calltrail >/dev/null && userdel calltrail
	getent group calltrail >/dev/null && groupdel calltrail
	rm -rf /etc/calltrail "$SPOOL" "$LIB" /run/calltrail
}
trap 'deb_cleanup; _cleanup' EXIT

# okf RC DESCRIPTION FILE: ok, and on failure FILE's text as diagnostics.
okf() { ok "$1" "$2"; [ "$1" -eq 0 ] || sed 's/^/#   /' "$3" | tail -n 20; }
# mode PATH: "mode owner group"
mode() { stat -c '%a %U %G' "$1" 2>&1; }
# as USER CMD...: run as USER with a clean login-less environment
as() { _u=$1; shift; runuser -u "$_u" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

# ---- build and lint --------------------------------------------------------
mkdir -p "$T/pkg/src"
if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top_srcdir" && git ls-files -co --exclude-standard | tar -cf - -T -)
else
	(cd "$top_srcdir" && tar --exclude=./build --exclude=./autom4te.cache \
		--exclude=./t/node/node_modules -cf - .)
fi | tar -C "$T/pkg/src" -xf - || bail "cannot copy the source tree"
(cd "$T/pkg/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
	>"$T/build.log" 2>&1
ok $? "dpkg-buildpackage -us -uc -b builds the package"
DEB=$(ls "$T"/pkg/calltrail_*_*.deb 2>/dev/null | head -1)
[ -f "$DEB" ] || { tail -n 30 "$T/build.log" | sed 's/^/# /'; bail "no calltrail_*.deb"; }

if command -v lintian >/dev/null; then
	lintian "$DEB" >"$T/lintian.out" 2>&1
	grep '^E:' "$T/lintian.out" >"$T/lintian.err"
	is "" "$(cat "$T/lintian.err")" "lintian finds no error"
	grep '^W:' "$T/lintian.out" | sed 's/^/# lintian: /'
else
	skip "lintian not installed"
fi

dpkg-deb -c "$DEB" | awk '{print $1, $2, $6}' >"$T/contents"
have() { grep -q -- "$1" "$T/contents"; }
have '^-rwxr-xr-x root/root \./usr/sbin/calltrail-token$' &&
have '^-rwxr-xr-x root/root \./usr/sbin/calltrail-export$' &&
have '^-rwxr-xr-x root/root \./usr/bin/calltrail-spool$'
ok $? "calltrail-token and calltrail-export in /usr/sbin, calltrail-spool in /usr/bin"
have 'man8/calltrail-token\.8' && have 'man8/calltrail-export\.8' && have 'man1/calltrail-spool\.1' &&
have 'man5/calltrail\.conf\.5'
ok $? "... with their manuals (token and export in section 8)"
have '^-rw-r----- root/root \./etc/calltrail/calltrail\.conf$'
ok $? "calltrail.conf ships mode 0640"
have 'usr/share/doc/calltrail/agent_example\.py$' && have 'usr/share/doc/calltrail/deploy\.md'
ok $? "the agent example and the deployment page in /usr/share/doc/calltrail"
dpkg-deb -I "$DEB" conffiles >"$T/conffiles" 2>&1
is "/etc/calltrail/calltrail.conf
/etc/cron.d/calltrail
/etc/nginx/sites-available/calltrail" "$(sort "$T/conffiles")" \
	"conffiles: calltrail.conf, the cron file, the nginx site"
mkdir "$T/ctrl" && dpkg-deb -e "$DEB" "$T/ctrl"
stops=$(grep -o 'deb-systemd-invoke stop [^>]*' "$T/ctrl/prerm" | tr -d "'" | tr ' ' '\n' | grep calltrail | sort | tr '\n' ' ')
is "calltrail-csv.service calltrail-csv.timer calltrail-salesforce.service calltrail-salesforce.timer calltrail-token.service calltrail-token.socket calltrail-upload.service calltrail-upload.timer " \
	"$stops" "removing stops every unit (prerm)"

# ---- install -----------------------------------------------------------
$APT install "$DEB" >"$T/install.log" 2>&1
okf $? "apt-get install ./calltrail_*.deb" "$T/install.log"
dpkg -s calltrail >/dev/null 2>&1 || bail "the package did not install"

like "$(getent passwd calltrail)" "^calltrail:x:[0-9]+:[0-9]+:[^:]*:$LIB:/usr/sbin/nologin\$" \
	"sysusers.d created the user calltrail (home $LIB, no shell)"
getent group calltrail >/dev/null; ok $? "... and the group calltrail"
is "710 calltrail calltrail" "$(mode $SPOOL)" "the spool's root is 0710 calltrail:calltrail"
is "3730 calltrail calltrail
3730 calltrail calltrail" "$(mode $SPOOL/tmp; mode $SPOOL/new)" "tmp/ and new/ are 3730"
is "700 700 700" "$(stat -c %a $SPOOL/cur $SPOOL/sent $SPOOL/failed | tr '\n' ' ' | sed 's/ $//')" \
	"cur/, sent/ and failed/ are 0700"
is "700 calltrail calltrail
700 calltrail calltrail
700 calltrail calltrail" "$(mode $LIB; mode $LIB/archive; mode $LIB/csv)" \
	"$LIB, the archive and the CSV directory are calltrail's, 0700"
is "640 root calltrail" "$(mode /etc/calltrail/calltrail.conf)" "calltrail.conf is root:calltrail 0640"
grep -Eq '^[[:space:]]*livekit_api_secret[[:space:]]*=' /etc/calltrail/calltrail.conf
ok $((!$?)) "... and holds no secret"
[ ! -e /etc/nginx/sites-enabled/calltrail ] && [ -f /etc/nginx/sites-available/calltrail ]
ok $? "the nginx site is in sites-available, not enabled"
[ -L /etc/systemd/system/sockets.target.wants/calltrail-token.socket ] &&
[ -L /etc/systemd/system/timers.target.wants/calltrail-upload.timer ] &&
[ -L /etc/systemd/system/timers.target.wants/calltrail-csv.timer ]
ok $? "the socket and the timers are enabled"

# ---- units -------------------------------------------------------------
# --man=no: Debian's container images install no manual pages; the
# pages the units name are checked in the package instead.
out=$(cd / && systemd-analyze verify --man=no $UNITS/calltrail-token.socket $UNITS/calltrail-token.service \
	$UNITS/calltrail-upload.service $UNITS/calltrail-upload.timer \
	$UNITS/calltrail-csv.service $UNITS/calltrail-csv.timer \
	$UNITS/calltrail-salesforce.service $UNITS/calltrail-salesforce.timer 2>&1)
rc=$?
is "0 " "$rc $out" "systemd-analyze verify passes on every unit, silently"
miss=
for m in $(sed -n 's/^Documentation=//p' $UNITS/calltrail-*.* | tr ' ' '\n' | sed -n 's/^man:\(.*\)(\([0-9]\))$/\1.\2/p' | sort -u); do
	have "/man[0-9]/$m\.gz\$" || miss="$miss $m"
done
is "" "$miss" "every manual page the units name is in the package"
sec=$(systemd-analyze security --offline=true $UNITS/calltrail-token.service 2>&1 |
	sed -n 's/.*Overall exposure level for calltrail-token.service: \([0-9.]*\).*/\1/p')
[ -n "$sec" ] && awk -v s="$sec" 'BEGIN { exit !(s <= 2.0) }'
ok $? "systemd-analyze security rates calltrail-token.service $sec (at most 2.0)"
grep -q '^OnCalendar=\*-\*-\* 00:15:00 UTC$' $UNITS/calltrail-csv.timer &&
	grep -q '^Persistent=true$' $UNITS/calltrail-csv.timer &&
	grep -q '^User=calltrail$' $UNITS/calltrail-upload.service $UNITS/calltrail-csv.service
ok $? "csv at 00:15 UTC, persistent; upload and csv as calltrail"

# ---- the administrator's part (docs/deploy.md) -----------------------------
printf '%s\n' "$SECRET" | install -m 0600 -o root -g root /dev/stdin /etc/calltrail/livekit-api-secret
printf '\n# set by t/deb.sh\nlivekit_url = wss://lk.example.com\nlivekit_api_key = %s\n' "$KEY" \
	>>/etc/calltrail/calltrail.conf
is "600 root root" "$(mode /etc/calltrail/livekit-api-secret)" "the LiveKit secret is root:root 0600"

# An upgrade (the same package, a higher version) keeps those edits.
dpkg-deb -R "$DEB" "$T/up" && sed -i 's/^Version: .*/&+t1/' "$T/up/DEBIAN/control" &&
	dpkg-deb -b "$T/up" "$T/calltrail_up.deb" >/dev/null || bail "cannot repack for the upgrade"
$APT install "$T/calltrail_up.deb" >"$T/upgrade.log" 2>&1
okf $? "an upgrade installs" "$T/upgrade.log"
grep -q "^livekit_api_key = $KEY\$" /etc/calltrail/calltrail.conf &&
	is "640 root calltrail" "$(mode /etc/calltrail/calltrail.conf)" \
	"... and keeps the edited calltrail.conf, root:calltrail 0640" ||
	ok 1 "... and keeps the edited calltrail.conf"

# ---- the token service, as calltrail-token.socket starts it ----------------
unit() { sed -n "s/^$2=//p" "$UNITS/$1"; }
DYN=61184                 # the first uid systemd gives a DynamicUser
while getent passwd $DYN >/dev/null || getent group $DYN >/dev/null; do DYN=$((DYN + 1)); done
CRED=$T/credentials/calltrail-token.service
mkdir -p "$CRED" && chmod 0711 "$T/credentials"
env=
unit calltrail-token.service LoadCredential >"$T/creds"
while IFS=: read -r name path; do
	cp "$path" "$CRED/$name" || bail "LoadCredential: cannot read $path"
done <"$T/creds"
chown -R $DYN:$DYN "$CRED" && chmod 0400 "$CRED"/* && chmod 0500 "$CRED"
for e in $(unit calltrail-token.service Environment); do
	env="$env --env $(printf '%s' "$e" | sed "s|%d|$CRED|g")"
done
SOCK=$(unit calltrail-token.socket ListenStream)
is "/run/calltrail/token.sock www-data 0660" \
	"$SOCK $(unit calltrail-token.socket SocketGroup) $(unit calltrail-token.socket SocketMode)" \
	"the socket unit: /run/calltrail/token.sock, group www-data, 0660"
# shellcheck disable=SC2086
python3 "$top_srcdir/t/deb-launch.py" --listen "$SOCK" \
	--group "$(unit calltrail-token.socket SocketGroup)" --mode "$(unit calltrail-token.socket SocketMode)" \
	--uid $DYN --gid $DYN --env CREDENTIALS_DIRECTORY="$CRED" $env \
	-- $(unit calltrail-token.service ExecStart) 2>"$T/token.log" &
LAUNCH=$!
wait_for 10 test -S "$SOCK" || bail "no socket: $(cat "$T/token.log")"
is "660 root www-data" "$(mode "$SOCK")" "the socket is root:www-data 0660"

# nginx as Debian runs it (workers as www-data), the packaged site enabled
# next to the stock default site.
ln -s ../sites-available/calltrail "$ENABLED"
nginx -t -q 2>"$T/nginx-t.out"
okf $? "nginx -t passes with the site enabled next to Debian's default site" "$T/nginx-t.out"
PORT=$(free_port)
mkdir -p "$T/nginx/sites"
sed -e "s|^pid .*|pid $T/nginx/nginx.pid;|" -e "s|^error_log .*|error_log $T/nginx/error.log;|" \
    -e "s|access_log .*|access_log $T/nginx/access.log;|" \
    -e "s|include /etc/nginx/sites-enabled/\*;|include $T/nginx/sites/*;|" \
    /etc/nginx/nginx.conf >"$T/nginx/nginx.conf"
sed -e "s|listen 80 default_server;|listen 127.0.0.1:$PORT default_server;|" -e '/listen \[::\]:80/d' \
    /etc/nginx/sites-enabled/default >"$T/nginx/sites/default"
# As the administrator edits it (server_name), on a free port, with a rate
# limit no request loop of this test reaches.
sed -e "s|listen 80;|listen 127.0.0.1:$PORT;|" -e "s|server_name calltrail.example.com;|server_name $SITE;|" \
    -e "s|rate=10r/s|rate=100000r/s|" -e "s|burst=20 nodelay|burst=100000 nodelay|" \
    "$ENABLED" >"$T/nginx/sites/calltrail"
grep -q "server_name $SITE;" "$T/nginx/sites/calltrail" || bail "the site's server_name line moved"
nginx -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" -g 'daemon off;' 2>>"$T/nginx/error.log" &
NGINX=$!
URL=http://127.0.0.1:$PORT
wait_for 10 curl -s -o /dev/null "$URL/" || bail "nginx did not start: $(cat "$T/nginx/error.log")"
is "www-data" "$(ps -o user= --ppid $NGINX | sort -u | tr -d ' ')" "nginx's workers run as www-data"

post() { curl -s -o "$T/out" -w '%{http_code}' -H "Host: $SITE" -H 'Content-Type: application/json' \
	--data-binary "$1" "$URL/api/connection-details"; }
is 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $SITE" "$URL/api/healthz")" \
	"a request for the site's server_name reaches calltrail-token"
is 404 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: elsewhere.test' "$URL/api/healthz")" \
	"... any other host name goes to Debian's default site"
code=$(post '{"user_email":"Jane.Doe@acme.com"}')
[ "$code" = 200 ]; okf $? "POST /api/connection-details through nginx mints a token (got $code)" "$T/token.log"
cat >"$T/jwt.py" <<'EOF'
import base64, hashlib, hmac, json, sys
tok = json.load(open(sys.argv[1]))["participantToken"]
h, p, s = tok.split(".")
pad = lambda x: x + "=" * (-len(x) % 4)
mac = hmac.new(sys.argv[2].encode(), (h + "." + p).encode(), hashlib.sha256).digest()
assert base64.urlsafe_b64decode(pad(s)) == mac, "bad signature"
c = json.loads(base64.urlsafe_b64decode(pad(p)))
print(c["iss"], json.loads(c["metadata"])["user_email"], c["video"]["room"])
EOF
claims=$(python3 "$T/jwt.py" "$T/out" "$SECRET" 2>&1)
like "$claims" "^$KEY Jane.Doe@acme.com [A-Za-z0-9_.-]+\$" \
	"the token is signed with the secret from the credentials directory and carries the email"
ROOM=${claims##* }
main=$(pgrep -P $LAUNCH); kids=$(pgrep -P "${main:-1}" | tr '\n' ',')
ps -o uid=,comm= -p "${main:-1},${kids%,}" >"$T/ps"
is "$DYN calltrail-token" "$(sort -u "$T/ps" | sed 's/^ *//; s/  */ /')" \
	"calltrail-token and its workers run as the dynamic uid $DYN"
grep -F "$SECRET" "$T/token.log" >/dev/null; ok $((!$?)) "... and never logs the secret"

# ---- the agent: its own user in group calltrail ------------------------------
useradd --system --no-create-home --shell /usr/sbin/nologin --groups calltrail "$AGENT" ||
	bail "useradd $AGENT failed"
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
DAY=$(date -u +%Y-%m-%d)
printf '{"session_id":"%s","user_email":"jane.doe@acme.com","start_time":"%s","end_time":"%s","duration_seconds":1}\n' \
	"$ROOM" "$now" "$now" >"$T/rec.json"
chmod 0644 "$T/rec.json"
rec=$(as "$AGENT" calltrail-spool put <"$T/rec.json" 2>"$T/put.err")
okf $? "the agent's user spools a record with calltrail-spool put" "$T/put.err"
like "$rec" "^$SPOOL/new/[^/]+\\.json\$" "... and is told its path"
is "640 $AGENT calltrail" "$(mode "$rec")" "the record is 0640, group calltrail"
as "$AGENT" cat /etc/calltrail/livekit-api-secret >/dev/null 2>&1; ok $((!$?)) "the agent cannot read the LiveKit secret"
as "$AGENT" ls $SPOOL/new >/dev/null 2>&1; ok $((!$?)) "... nor list new/"
as "$AGENT" ls $LIB >/dev/null 2>&1; ok $((!$?)) "... nor look into $LIB (archive, CSV, credentials)"
as "$AGENT" calltrail-export upload >/dev/null 2>"$T/agent-up.err"
is 77 $? "... and calltrail-export as the agent exits 77"

# ---- root's upload changes nothing -------------------------------------------
snap() { find $SPOOL $LIB -printf '%p %u %g %m %s\n' 2>&1 | sort; }
snap >"$T/before"
calltrail-export upload >"$T/root.out" 2>"$T/root.err"
rc=$?; is 77 $rc "calltrail-export upload as root exits 77"
like "$(cat "$T/root.err")" "sudo -u calltrail" "... naming the spool's owner (sudo -u calltrail)"
snap >"$T/after"
diff "$T/before" "$T/after" >"$T/diff"; okf $? "... and changes nothing" "$T/diff"

# ---- the exporter: calltrail ---------------------------------------------------
up=$(unit calltrail-upload.service ExecStart)
as calltrail $up >"$T/up.out" 2>"$T/up.err"
okf $? "calltrail-upload.service's command, as calltrail, exits 0" "$T/up.err"
like "$(cat "$T/up.out" "$T/up.err")" "stored 1, refused 0" "... and says it stored the record"
obj=$(find $LIB/archive -name "${ROOM}_*.json.gz" | head -1)
[ -n "$obj" ] && [ "$(gzip -dc "$obj")" = "$(cat "$T/rec.json")" ]
ok $? "the archive holds the record, gzipped"
sent=$SPOOL/sent/$DAY/$(basename "$rec")
[ -f "$sent" ]; ok $? "the record moved to sent/$DAY/"
as "$AGENT" cat "$sent" >/dev/null 2>&1; ok $((!$?)) "the agent cannot read its record once it left new/"
as "$AGENT" cat "$obj" >/dev/null 2>&1; ok $((!$?)) "... nor the archived object"
as calltrail $up >"$T/idle" 2>&1
is "0 " "$? $(cat "$T/idle")" "an idle upload exits 0 and prints nothing"
as calltrail calltrail-export csv --day today >"$T/csv.out" 2>&1
is 0 $? "csv --day today as calltrail exits 0"
grep -q '^jane.doe@acme.com,' "$LIB/csv/salesforce-leads-$DAY.csv"
ok $? "... and the day's CSV has the call"
is "640 calltrail" "$(stat -c '%a %U' "$LIB/csv/salesforce-leads-$DAY.csv")" "... mode 0640"
as calltrail calltrail-export csv --day 2001-01-01 >"$T/idle" 2>&1
is "0 " "$? $(cat "$T/idle")" "csv of a day without calls exits 0 and prints nothing"
grep -q 'calltrail-export csv --day yesterday$' $UNITS/calltrail-csv.service; ok $? "the csv unit builds yesterday's file"
# Where systemd does not run (here), the cron file's lines do the job.
cronup=$(sed -n 's/^\*\/5 \* \* \* \*[[:space:]]*calltrail[[:space:]]*//p' /etc/cron.d/calltrail)
cronpath=$(sed -n 's/^PATH=//p' /etc/cron.d/calltrail)
case "$cronpath" in *:/usr/sbin:*) ok 0 "the cron file's PATH has /usr/sbin" ;;
	*) ok 1 "the cron file's PATH has /usr/sbin ($cronpath)" ;; esac
like "$cronup" '^\[ -d /run/systemd/system \] \|\| calltrail-export upload$' \
	"the cron line does nothing where systemd runs"
runuser -u calltrail -- env -i PATH="$cronpath" sh -c "$cronup" >"$T/idle" 2>&1
is "0 " "$? $(cat "$T/idle")" "... and here runs an idle upload silently"
croncsv=$(sed -n 's/^15 \* \* \* \*[[:space:]]*calltrail[[:space:]]*//p' /etc/cron.d/calltrail | sed 's/\\%/%/g')
like "$croncsv" '^\[ -d /run/systemd/system \] \|\| .*calltrail-export csv --day yesterday$' \
	"the CSV's cron line does nothing where systemd runs, and builds yesterday's file"
runuser -u calltrail -- env -i PATH="$cronpath" sh -c "$croncsv" >"$T/idle" 2>&1
is "0 " "$? $(cat "$T/idle")" "... and here exits 0 silently (outside 00 UTC, or a day without calls)"
as calltrail calltrail-export status >"$T/status" 2>&1
is 0 $? "calltrail-export status as calltrail exits 0"

# ---- a restart under a request loop loses nothing -------------------------------
old=$(pgrep -u $DYN -o calltrail-token)
# Two clients on nginx's kept connections; meanwhile the service restarts
# 4 times, as `systemctl restart` does it (each after the previous one is
# done and the new process served a while).
started() { grep -c 'started /usr/sbin/calltrail-token' "$T/token.log"; }
restarted() { [ "$(started)" -ge "$1" ]; }
rm -f "$T/stop-loop"
for c in 1 2; do
	( i=0; while [ ! -e "$T/stop-loop" ] && [ $i -lt 5000 ]; do
		curl -s -o /dev/null -w '%{http_code}\n' -H "Host: $SITE" -H 'Content-Type: application/json' \
			--data-binary '{"user_email":"a@b.example.com"}' "$URL/api/connection-details"
		i=$((i + 1)); done ) >"$T/codes.$c" &
	eval loop$c=\$!
done
n0=$(started)
for n in 1 2 3 4; do
	sleep 0.3; kill -HUP $LAUNCH
	wait_for 30 restarted $((n0 + n)) || break
done
sleep 0.3; touch "$T/stop-loop"
wait $loop1 $loop2
cat "$T/codes.1" "$T/codes.2" >"$T/codes"
sort "$T/codes" | uniq -c >"$T/codes.sum"
total=$(wc -l <"$T/codes" | tr -d ' ')
[ "$total" -ge 100 ] && [ "$(grep -vc '^200$' "$T/codes")" = 0 ]
okf $? "$total requests while the service restarts 4 times: every one answered 200" "$T/codes.sum"
is "4 4" "$(($(started) - n0)) $(grep -c 'stopped (status 0)' "$T/token.log")" \
	"... 4 restarts, each old process done with its requests and exiting 0"
new=$(pgrep -u $DYN -o calltrail-token)
[ -n "$new" ] && [ "$new" != "$old" ]; ok $? "... by new processes (pid $old, now $new)"
kill $LAUNCH; wait $LAUNCH 2>/dev/null; LAUNCH=
kill $NGINX; wait $NGINX 2>/dev/null; NGINX=

# ---- remove, then purge ----------------------------------------------------------
$APT remove calltrail >"$T/remove.log" 2>&1
okf $? "apt-get remove calltrail" "$T/remove.log"
[ ! -e /usr/sbin/calltrail-token ] && [ ! -e /usr/sbin/calltrail-export ] && [ ! -e /usr/bin/calltrail-spool ] &&
	[ ! -e $UNITS/calltrail-token.service ]
ok $? "... removes the programs and the units"
[ -f /etc/calltrail/calltrail.conf ] && [ -f /etc/calltrail/livekit-api-secret ] && [ -f "$sent" ] && [ -n "$obj" ] &&
	[ -f "$obj" ]
ok $? "... keeps the configuration, the secret and the data"
nginx -t -q 2>/dev/null; ok $? "... and nginx -t still passes"
$APT purge calltrail >"$T/purge.log" 2>&1
okf $? "apt-get purge calltrail" "$T/purge.log"
[ ! -e /etc/calltrail ] && [ ! -e /etc/cron.d/calltrail ] && [ ! -e /etc/nginx/sites-available/calltrail ]
ok $? "... removes /etc/calltrail (with the secret), the cron file and the site"
[ ! -L "$ENABLED" ] && nginx -t -q 2>/dev/null
ok $? "... and the site's link in sites-enabled, so nginx -t still passes"
ls /etc/systemd/system/*/calltrail-* >/dev/null 2>&1; ok $((!$?)) "... and the units' enable links"
[ -f "$sent" ] && [ -f "$obj" ] && getent passwd calltrail >/dev/null
ok $? "... and keeps the sessions (spool, archive) and the user that owns them"

done_testing
