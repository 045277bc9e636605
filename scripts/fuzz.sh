#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] — build the libFuzzer harnesses with clang and
# run each for SECONDS (default 60) from its seed corpus.  Fails (exit 1)
# when any harness finds a crash, a leak, a timeout or a broken invariant;
# the input that did it is kept in build/fuzz/findings/HARNESS/ — copy it
# to t/fuzz/regress/HARNESS/ so `make check` replays it from then on.
#
# Needs clang (Debian: clang, which brings libFuzzer).  Builds out of tree
# in build/fuzz (FUZZ_BUILD overrides); the seed corpora are copied to a
# scratch directory, so the source tree is never written to.  CI runs
# `scripts/fuzz.sh 30`.  FUZZ_HARNESSES="email conf" runs only those.
set -euo pipefail
secs=${1:-60}
case $secs in ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
b=${FUZZ_BUILD:-$top/build/fuzz}
cc=${FUZZ_CC:-clang}
san=address,undefined
jobs=${JOBS:-2}

command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (apt-get install clang)" >&2; exit 2; }
[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)

# The library is instrumented for coverage (fuzzer-no-link) and the
# sanitizers; only the final links get libFuzzer's main().
mkdir -p "$b"
if [ ! -f "$b/Makefile" ]; then
	echo "== fuzz: configure in $b"
	(cd "$b" && CC=$cc "$top/configure" -q \
		CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,$san -fno-omit-frame-pointer -fno-sanitize-recover=undefined")
fi
echo "== fuzz: make src/libcalltrail.a"
make -C "$b" -j"$jobs" src/libcalltrail.a >/dev/null

libs=$(pkg-config --libs json-c libjwt libcrypto libcurl zlib expat)
cflags="-std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=undefined
        -Wall -Wextra -I$top/src -I$top/cgi -I$b $(pkg-config --cflags json-c libjwt)"
build() { # name source extra-flags...
	local name=$1 src=$2; shift 2
	echo "== fuzz: build $name"
	# shellcheck disable=SC2086
	"$cc" $cflags -fsanitize=fuzzer,$san "$@" -o "$b/fuzz/$name" "$top/$src" \
		"$b/src/libcalltrail.a" $libs
}
mkdir -p "$b/fuzz"
build fuzz-email fuzz/fuzz-email.c
build fuzz-record fuzz/fuzz-record.c
build fuzz-conf fuzz/fuzz-conf.c
build fuzz-handler fuzz/fuzz-handler.c "$top/cgi/handler.c"
build fuzz-handler-headers fuzz/fuzz-handler.c "$top/cgi/handler.c" -DCT_FUZZ_HEADERS
build fuzz-fcgi fuzz/fuzz-fcgi.c "$top/cgi/fcgi.c"
build fuzz-s3xml fuzz/fuzz-s3xml.c
build fuzz-sts fuzz/fuzz-sts.c

# harness:corpus:max_len.  The handler takes bodies past the 16 KiB cap so
# the 413 path is fuzzed too; records are capped far below their 1 MiB
# limit because the interesting structure is small and big inputs are slow.
runs="email:email:300 record:record:65536 conf:conf:8192
      handler:handler:20000 handler-headers:handler-headers:20000 fcgi:fcgi:20000
      s3xml:s3xml:65536 sts:sts:65536"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ct-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# The harnesses' own scratch files (fuzz-conf's secrets) go there too.
mkdir -p "$scratch/tmp"
export TMPDIR=$scratch/tmp
status=0
for r in $runs; do
	IFS=: read -r h corpus maxlen <<<"$r"
	case " ${FUZZ_HARNESSES:-$h} " in *" $h "*) ;; *) continue ;; esac
	dict=$top/t/fuzz/dict/$h.dict
	[ -f "$dict" ] || dict=$top/t/fuzz/dict/$corpus.dict
	mkdir -p "$scratch/$h" "$b/findings/$h"
	# The seeds, and every input that once failed, are where fuzzing starts.
	cp "$top/t/fuzz/corpus/$corpus"/* "$scratch/$h/" 2>/dev/null || true
	cp "$top/t/fuzz/regress/$corpus"/* "$scratch/$h/" 2>/dev/null || true
	args=(-max_total_time="$secs" -max_len="$maxlen" -timeout=10 -rss_limit_mb=2048
	      -print_final_stats=1 -artifact_prefix="$b/findings/$h/")
	[ -f "$dict" ] && args+=(-dict="$dict")
	echo "== fuzz: $h for ${secs}s (max_len $maxlen)"
	# stdin from /dev/null: nothing a harness does may wait for a terminal.
	if "$b/fuzz/fuzz-$h" "${args[@]}" "$scratch/$h" </dev/null >"$b/findings/$h.log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$b/findings/$h.log" | tail -n 2 || true
	else
		status=1
		echo "== fuzz: $h FAILED; the log is $b/findings/$h.log, the input:"
		ls -1 "$b/findings/$h/" | sed 's/^/   /'
		grep -E 'ERROR: |invariant broken|SUMMARY' "$b/findings/$h.log" | head -n 5 || true
	fi
	# The record and handler property (fuzz/accepted.h): every input of
	# the grown corpus that the harness accepted as JSON must be read by
	# a second, strict parser, Python's json (t/fuzz-strict.py).
	case $h in record|handler|handler-headers)
		mkdir -p "$scratch/accepted-$h"
		CT_FUZZ_ACCEPTED=$scratch/accepted-$h "$b/fuzz/fuzz-$h" -runs=0 "$scratch/$h" \
			</dev/null >"$b/findings/$h-accepted.log" 2>&1 || true
		if ! python3 "$top/t/fuzz-strict.py" "$scratch/accepted-$h" >"$b/findings/$h-strict.log" 2>&1; then
			status=1
			echo "== fuzz: $h accepted JSON that Python's json refuses (or nothing):"
			head -n 5 "$b/findings/$h-strict.log"
			mkdir -p "$b/findings/$h-accepted"
			cp "$scratch/accepted-$h"/* "$b/findings/$h-accepted/" 2>/dev/null || true
		fi ;;
	esac
done
[ "$status" = 0 ] && echo "fuzz: no findings" || echo "fuzz: FINDINGS (see above)"
exit "$status"
