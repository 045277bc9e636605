# t/s3-lib.sh — sourced by t/s3.sh and t/upload-s3.sh after t/lib.sh:
# starts s3rver (bucket "bucket") and t/s3-proxy.js in front of it, and
# writes a calltrail.conf pointing at the proxy.
#
# Gives: $S3_PORT (s3rver), $PROXY_PORT, $CONF, proxy_ctl PATH (prints
# the proxy's JSON), snap + stat_of NAME (one counter of a snapshot).

need_node_modules
command -v node >/dev/null || skip_all "node is not installed"

# The access key s3rver knows; the secret is checked by the proxy only.
AWS_ACCESS_KEY_ID=S3RVER
AWS_SECRET_ACCESS_KEY=calltrail-test-secret-0123456789abcdef
AWS_SESSION_TOKEN=
AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION
unset AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_WEB_IDENTITY_TOKEN_FILE \
	AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
	AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
# No instance metadata on a test host: without credentials in the
# environment the chain ends at once (a configuration error, 78) instead
# of waiting for 169.254.169.254.
AWS_EC2_METADATA_DISABLED=true; export AWS_EC2_METADATA_DISABLED
HOME=$T/home; export HOME; mkdir -p "$HOME"

s3_start_s3rver() {
	S3_PORT=$(free_port)
	mkdir -p "$T/s3"
	# s3rver's ListObjectsV2 continuation tokens are DES-encrypted, which
	# OpenSSL 3 keeps in its legacy provider: without it every truncated
	# listing (more keys than max-keys) is a 500.
	node --openssl-legacy-provider -e '
const S3rver = require("s3rver");
new S3rver({ port: +process.argv[1], address: "127.0.0.1", silent: true,
  directory: process.argv[2], configureBuckets: [{ name: "bucket" }] }).run()
  .then(() => require("fs").writeFileSync(process.argv[3], "up"))
  .catch((e) => { console.error(e); process.exit(1); });
' "$S3_PORT" "$T/s3" "$T/s3rver.up" 2>"$T/s3rver.log" &
	bg_pid $!
	wait_for 20 test -f "$T/s3rver.up" || bail "s3rver did not start: $(cat "$T/s3rver.log")"
}

# s3_start_proxy [TOKEN]: (re)start the proxy; it expects TOKEN when given.
s3_start_proxy() {
	[ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
	rm -f "$T/proxy.port"
	PROXY_AK=$AWS_ACCESS_KEY_ID PROXY_SK=$AWS_SECRET_ACCESS_KEY PROXY_TOKEN=${1:-} \
		node "$top_srcdir/t/s3-proxy.js" 0 "$S3_PORT" "$T/proxy.port" 2>"$T/proxy.log" &
	PROXY_PID=$!
	bg_pid $PROXY_PID
	wait_for 20 test -s "$T/proxy.port" || bail "s3-proxy did not start: $(cat "$T/proxy.log")"
	PROXY_PORT=$(cat "$T/proxy.port")
}

proxy_ctl() { curl -sf "http://127.0.0.1:$PROXY_PORT/__proxy/$1"; }
# snap: take one snapshot of the proxy's counters (each call is itself a
# connection, so read them all from one snapshot); stat_of NAME reads it.
snap() { proxy_ctl stats >"$T/stats"; }
stat_of() {
	node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];console.log(Array.isArray(v)?v.join("\n"):v)})' "$1" <"$T/stats"
}

# s3_conf FILE [PREFIX]: a configuration for an s3:// target via the proxy.
s3_conf() {
	cat >"$1" <<EOC
spool_dir = $T/spool
target = s3://bucket${2:+/$2}
s3_endpoint = http://127.0.0.1:$PROXY_PORT
s3_region = us-east-1
s3_concurrency = ${S3_CONCURRENCY:-8}
s3_retries = ${S3_RETRIES:-5}
csv_dir = $T/csv
EOC
}

# Small timeouts and backoff so the fault cases stay fast.
# (curl's low-speed check averages over ~5 s, so the total timeout is
# what catches a stalled reply quickly here.)
CT_S3_STALL_TIMEOUT=2
CT_S3_TIMEOUT=2
CT_S3_BACKOFF_MS=20
export CT_S3_STALL_TIMEOUT CT_S3_TIMEOUT CT_S3_BACKOFF_MS

s3_start_s3rver
s3_start_proxy
CONF=$T/calltrail.conf
s3_conf "$CONF"
