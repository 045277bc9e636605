#!/usr/bin/env bash
# scripts/test.sh — the full test suite, as CI runs it (.ci/run calls this):
#   1. install what the tests need (scripts/deps.sh),
#   2. build warning-free (-Werror) and run `make check`,
#   3. build again under AddressSanitizer + UndefinedBehaviorSanitizer and
#      run `make check` there,
#   4. `make distcheck` (the tarball builds, installs, tests, uninstalls),
#   5. run each libFuzzer harness for a bounded time (scripts/fuzz.sh),
#   6. lint the man pages (the sources and the installed copies),
#   7. as root: build, install and exercise the Debian package (t/deb.sh).
# Build trees go to build/ (ignored by git).  Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
jobs=${JOBS:-2}

bash scripts/deps.sh
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi

status=0
summary() {
	# One line CI can read, counted from every test's TAP log.
	local pass fail
	pass=$(cat "$@" 2>/dev/null | grep -c '^ok ' || true)
	fail=$(cat "$@" 2>/dev/null | grep -c '^not ok ' || true)
	echo "$pass passed, $fail failed"
}
check() { # name configure-args...
	local name=$1; shift
	local b=$top/build/$name
	rm -rf "$b" && mkdir -p "$b"
	echo "== $name: configure $*"
	(cd "$b" && "$top/configure" -q "$@")
	echo "== $name: make"
	make -C "$b" -j"$jobs" >/dev/null
	echo "== $name: make check"
	# Each passing assertion is in t/*.log; the console shows the rest.
	if ! make -C "$b" -j"$jobs" check 2>&1 | grep -v '^PASS: '; then
		cat "$b/test-suite.log" || true
		status=1
	fi
	echo "== $name: $(summary "$b"/t/*.log)"
}

check release --enable-werror
# -Werror is the release build's job: at -O1 with sanitizers gcc guesses
# format truncations it does not see at -O2.
# ASan keeps freed memory in quarantine (256 MiB), so the CSV's memory
# bound is the release build's to prove; here the big day is smaller.
CT_CSV_BIG_N=200000 CT_CSV_BIG_RSS_KB=1048576 \
check sanitize \
	CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	LDFLAGS="-fsanitize=address,undefined"

echo "== distcheck"
if ! make -C "$top/build/release" -j"$jobs" distcheck >"$top/build/distcheck.log" 2>&1; then
	tail -n 80 "$top/build/distcheck.log"
	status=1
else
	grep -E '^=+$|archives ready|calltrail-.*tar.gz' "$top/build/distcheck.log" | tail -n 3
fi

echo "== fuzz: every harness for ${FUZZ_SECONDS:-30} s"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}" || status=1

echo "== man pages: mandoc -Tlint"
for m in man/*.[0-9] "$top"/build/release/man/out/*.[0-9]; do
	mandoc -Tlint -Wwarning "$m" || status=1
done

# The package is built from a copy of this tree, installed with apt-get,
# run as separate users, and purged again; skipped when not root.
echo "== Debian package: t/deb.sh"
if ! top_srcdir=$top top_builddir=$top/build/release sh t/deb.sh >"$top/build/deb.log" 2>&1; then
	status=1
fi
grep -E '^(not ok|1\.\.0|Bail)' "$top/build/deb.log" || true
echo "== Debian package: $(summary "$top/build/deb.log")"

echo "total: $(summary "$top"/build/release/t/*.log "$top"/build/sanitize/t/*.log "$top/build/deb.log")"
[ "$status" = 0 ] && echo "scripts/test.sh: all passed" || echo "scripts/test.sh: FAILED"
exit "$status"
