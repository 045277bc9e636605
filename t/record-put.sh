#!/bin/sh
# t/record-put.sh — the record rules of issue 12 through the real
# `calltrail-spool put`: strict RFC 8259 JSON, years 1970-9999, and a
# session_id that begins with a letter or digit.  Each refusal exits 65
# with a message naming what broke the rule, and writes nothing.
# (t/record-t holds the full table of cases; this proves the program
# applies them.)
. "$top_srcdir/t/lib.sh"

BIN=$top_builddir/src/calltrail-spool
[ -x "$BIN" ] || bail "no $BIN (build first)"
unset CALLTRAIL_CONF CALLTRAIL_SPOOL_DIR
: >"$T/empty.conf"
S=$T/spool

# put NAME JSON: put the record; sets $rc and $errout
put() {
	printf '%s' "$2" >"$T/$1.json"
	"$BIN" put -c "$T/empty.conf" -d "$S" "$T/$1.json" >"$T/out" 2>"$T/err"
	rc=$?
	errout=$(cat "$T/err")
}
# refused NAME JSON FIELD-ERE: exit 65, the message names it, nothing written
refused() {
	put "$1" "$2"
	is 65 "$rc" "$1: exit 65"
	like "$errout" "$3" "$1: the message names it"
	is 0 "$(ls "$S/new" 2>/dev/null | wc -l | tr -d ' ')" "$1: nothing written"
}

T0='"start_time":"2025-10-29T18:04:05Z","end_time":"2025-10-29T18:10:05Z"'
TAB=$(printf '\t')

refused single-quoted-key "{\"session_id\":\"s\",$T0,'x':1}" "invalid record: record: not valid JSON"
refused raw-tab-in-string "{\"session_id\":\"s\",$T0,\"user_metadata\":{\"a\":\"x${TAB}y\"}}" "record: not valid JSON"
refused number-trailing-dot "{\"session_id\":\"s\",$T0,\"duration_seconds\":1.}" "record: not valid JSON"
refused nan "{\"session_id\":\"s\",$T0,\"duration_seconds\":NaN}" "record: not valid JSON"
refused trailing-garbage "{\"session_id\":\"s\",$T0}x" "record: not valid JSON"
refused end-1969 '{"session_id":"s","start_time":"1970-01-01T00:00:00Z","end_time":"1969-12-31T23:59:59Z"}' \
	"end_time: year outside 1970-9999"
refused start-1969 '{"session_id":"s","start_time":"1969-12-31T23:59:59Z","end_time":"1970-01-01T00:00:00Z"}' \
	"start_time: year outside 1970-9999"
refused end-year-1-by-offset '{"session_id":"s","start_time":"1970-01-01T00:00:00Z","end_time":"1970-01-01T00:30:00+01:00"}' \
	"end_time: year outside 1970-9999"
refused end-10000 '{"session_id":"s","start_time":"2025-01-01T00:00:00Z","end_time":"9999-12-31T23:30:00-01:00"}' \
	"end_time: not an RFC 3339"
refused session-id-dot "{\"session_id\":\".\",$T0}" "session_id: must begin with a letter or digit"
refused session-id-dotdot "{\"session_id\":\"..\",$T0}" "session_id: must begin with a letter or digit"
refused session-id-tmp "{\"session_id\":\".tmp-abc\",$T0}" "session_id: must begin with a letter or digit"
refused session-id-dash "{\"session_id\":\"-x\",$T0}" "session_id: must begin with a letter or digit"

put epoch '{"session_id":"0.a_b-c","start_time":"1970-01-01T00:00:00Z","end_time":"1970-01-01T00:00:00Z"}'
is 0 "$rc" "1970-01-01T00:00:00Z and a session id that begins with a digit are accepted"
put year-9999 '{"session_id":"s","start_time":"9999-12-31T23:59:59Z","end_time":"9999-12-31T23:59:59.999999Z"}'
is 0 "$rc" "the last microsecond of 9999 is accepted"
done_testing
