#!/bin/sh
# scripts/nginx-conf.sh DIR SOCKET ADDRESS — a private nginx around the
# shipped site, for the demo, the tests and the benchmarks:
#   DIR/calltrail.conf  nginx/calltrail.conf with its sed points set: the
#                       socket (unix:SOCKET), the listen ADDRESS
#                       (HOST:PORT), and, from the environment, the rate
#                       and burst of limit_req (CT_NGINX_RATE, default 10r/s;
#                       CT_NGINX_BURST, default 20) and the upstream
#                       keepalive (CT_NGINX_KEEPALIVE, default as shipped);
#   DIR/nginx.conf      worker_processes CT_NGINX_WORKERS (default 1), pid,
#                       logs and temporary files under DIR, the site, and
#                       the http-level text of the file CT_NGINX_EXTRA if set.
# Run nginx with: nginx -p DIR/ -c DIR/nginx.conf -e DIR/nginx-error.log
# Exit 1 when a sed point is no longer in nginx/calltrail.conf.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 DIR SOCKET HOST:PORT" >&2; exit 64; }
dir=$1 sock=$2 addr=$3
top=$(cd "$(dirname "$0")/.." && pwd)
rate=${CT_NGINX_RATE:-10r/s} burst=${CT_NGINX_BURST:-20}
mkdir -p "$dir/tmp"
ka=
[ -n "${CT_NGINX_KEEPALIVE:-}" ] && ka="s|keepalive 32;|keepalive $CT_NGINX_KEEPALIVE;|"
sed -e "s|unix:/run/calltrail/token.sock|unix:$sock|" \
    -e "s|listen 80;|listen $addr;|" \
    -e "s|rate=10r/s|rate=$rate|" \
    -e "s|burst=20 nodelay|burst=$burst nodelay|" \
    -e "${ka:-s|^||}" \
    "$top/nginx/calltrail.conf" >"$dir/calltrail.conf"
grep -q "unix:$sock;" "$dir/calltrail.conf" && grep -q "listen $addr;" "$dir/calltrail.conf" &&
	grep -q "rate=$rate;" "$dir/calltrail.conf" && grep -q "burst=$burst nodelay" "$dir/calltrail.conf" &&
	{ [ -z "${CT_NGINX_KEEPALIVE:-}" ] || grep -q "keepalive $CT_NGINX_KEEPALIVE;" "$dir/calltrail.conf"; } || {
	echo "$0: the sed points of nginx/calltrail.conf moved" >&2
	exit 1
}
{
	# nginx started as root would switch to nobody, who cannot reach DIR.
	[ "$(id -u)" -eq 0 ] && echo "user root;"
	cat <<NGINX
worker_processes ${CT_NGINX_WORKERS:-1};
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $dir/tmp/body;
	fastcgi_temp_path $dir/tmp/fastcgi;
	proxy_temp_path $dir/tmp/proxy;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	include $dir/calltrail.conf;
NGINX
	[ -n "${CT_NGINX_EXTRA:-}" ] && cat "$CT_NGINX_EXTRA"
	echo "}"
} >"$dir/nginx.conf"
