# t/lib.sh — shared helpers for the shell tests (sourced, POSIX sh + bash).
#
# Gives: TAP output (plan, ok, is, skip_all, bail, done_testing), a private
# scratch directory $T removed at exit (with every process registered by
# bg_pid), free_port, wait_for, and $NODE_PATH pointing at the test peers
# from t/node (installed with `npm ci` on first use when absent).

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

_tap_n=0
_tap_failed=0
_bg_pids=""

plan() { echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
# skip REASON: one test skipped, counted as passing (TAP's SKIP directive).
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # SKIP $*"; }
bail() { echo "Bail out! $*"; exit 99; }
diag() { printf '# %s\n' "$*"; }

# ok COND-EXIT-STATUS DESCRIPTION : ok $? "what"
ok() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}

# is WANT GOT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"; diag "  wanted: $1"; diag "     got: $2"
	fi
}

# like STRING ERE DESCRIPTION
like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else
		ok 1 "$3"; diag "  '$1' does not match /$2/"
	fi
}

done_testing() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; }

# Scratch space, and cleanup of every background process we started.
T=$(mktemp -d "${TMPDIR:-/tmp}/ct-test.XXXXXX") || bail "mktemp failed"
export T
bg_pid() { _bg_pids="$_bg_pids $1"; }
_cleanup() {
	for p in $_bg_pids; do kill "$p" 2>/dev/null; done
	for p in $_bg_pids; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null
	done
	[ -n "${CT_KEEP_TMP:-}" ] || rm -rf "$T"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# A TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: retry COMMAND every 0.05 s until it succeeds.
wait_for() {
	_deadline=$(( $(date +%s) + $1 )); shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$_deadline" ] && return 1
		sleep 0.05
	done
}

# The test peers from npm.  A read-only source tree (make distcheck) gets
# them installed under the build tree instead.
need_node_modules() {
	for d in "${CT_NODE_MODULES:-}" "$top_srcdir/t/node/node_modules" \
	         "$top_builddir/t/node/node_modules"; do
		if [ -n "$d" ] && [ -d "$d/livekit-server-sdk" ]; then
			NODE_PATH=$d; export NODE_PATH; return 0
		fi
	done
	command -v npm >/dev/null || bail "npm is needed for the test peers (apt-get install npm)"
	mkdir -p "$top_builddir/t/node" || bail "cannot create $top_builddir/t/node"
	cp "$top_srcdir/t/node/package.json" "$top_srcdir/t/node/package-lock.json" \
	   "$top_builddir/t/node/" 2>/dev/null
	(cd "$top_builddir/t/node" && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
		bail "npm ci in $top_builddir/t/node failed"
	NODE_PATH=$top_builddir/t/node/node_modules; export NODE_PATH
}
