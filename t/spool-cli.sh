#!/bin/sh
# t/spool-cli.sh — calltrail-spool as the agent runs it: put (file, stdin,
# config, every kind of bad record, size cap, full disk) and
# email-from-metadata, checked by exit codes, messages and the spool's
# contents.
. "$top_srcdir/t/lib.sh"

BIN=${CALLTRAIL_SPOOL:-$top_builddir/src/calltrail-spool}
[ -x "$BIN" ] || bail "no $BIN (build first)"


# Unmount the tiny file system (when we made one) before lib.sh removes $T.
trap 'mountpoint -q "$T/full" 2>/dev/null && umount "$T/full"; _cleanup' EXIT

: >"$T/empty.conf"
unset CALLTRAIL_CONF CALLTRAIL_SPOOL_DIR
S=$T/spool

# count DIR: entries of DIR that are not dotfiles
count() { ls "$1" 2>/dev/null | wc -l | tr -d ' '; }

# run ARGS...: run the program, stdin from $IN (default /dev/null);
# sets $rc, $out, $errout
run() {
	"$BIN" "$@" <"${IN:-/dev/null}" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	errout=$(cat "$T/err")
}

good='{"session_id":"voice_1761761045_abcdefghijkl","user_email":"jane@acme.com","start_time":"2025-10-29T18:04:05.123456","end_time":"2025-10-29T18:10:05Z","duration_seconds":360,"discovered_signals":{"qualification_tier":"hot"},"extra":"kept"}'
printf '%s\n' "$good" >"$T/good.json"

# --- help and usage -------------------------------------------------------
run --help
is 0 "$rc" "--help exits 0"
like "$out" "email-from-metadata" "--help names the commands"
like "$out" "65 invalid record" "--help gives the exit codes"
run put --help
is 0 "$rc" "put --help exits 0"
like "$out" "usage: calltrail-spool put" "put --help answers"
run email-from-metadata --help
is 0 "$rc" "email-from-metadata --help exits 0"
run --version
is 0 "$rc" "--version exits 0"
like "$out" "^calltrail-spool \(calltrail\) [0-9]" "--version prints the version"
run
is 64 "$rc" "no command: usage error 64"
run frobnicate
is 64 "$rc" "unknown command: 64"
like "$errout" "unknown command" "unknown command: says so"
run put -c "$T/empty.conf" -d "$S" a b
is 64 "$rc" "put with two files: 64"

# --- put from a file and from stdin ---------------------------------------
run put -c "$T/empty.conf" -d "$S" "$T/good.json"
is 0 "$rc" "put FILE exits 0"
like "$out" "^$S/new/[0-9]{19,20}\.[0-9]+\.[0-9a-f]{16}\.json$" "put prints the path in new/"
cmp -s "$T/good.json" "$out" ; ok $? "the record in new/ is byte-exact"
is "640" "$(stat -c %a "$out")" "record file mode 0640"
is "710" "$(stat -c %a "$S")" "spool dir created 0710"
is "3730 3730 700 700 700" "$(cd "$S" && stat -c %a tmp new cur sent failed | tr "\n" " " | sed "s/ $//")" "tmp/ new/ 3730, cur/ sent/ failed/ 0700"
is 0 "$(count "$S/tmp")" "tmp/ is empty"

IN=$T/good.json run put -c "$T/empty.conf" -d "$S" -
is 0 "$rc" "put - (stdin) exits 0"
cmp -s "$T/good.json" "$out"; ok $? "stdin record byte-exact"
IN=$T/good.json run put -c "$T/empty.conf" -d "$S"
is 0 "$rc" "put without FILE reads stdin"
is 3 "$(count "$S/new")" "three records in new/"

# -d beats spool_dir; without -d spool_dir (file, then environment) counts.
printf 'spool_dir = %s\n' "$T/confspool" >"$T/spool.conf"
IN=$T/good.json run put -c "$T/spool.conf" -d "$T/dspool"
is 0 "$rc" "put with -d and a spool_dir in the config"
is 1 "$(count "$T/dspool/new")" "-d beats spool_dir"
is 0 "$(count "$T/confspool/new")" "nothing in the configured spool"
IN=$T/good.json run put -c "$T/spool.conf"
is 1 "$(count "$T/confspool/new")" "without -d spool_dir is used"
IN=$T/good.json CALLTRAIL_CONF=$T/spool.conf run put
is 2 "$(count "$T/confspool/new")" "CALLTRAIL_CONF names the config"

# A broken config is an error even with -d: the host is misconfigured.
printf 'spool_dir = %s\nno_such_key = 1\n' "$T/confspool" >"$T/bad.conf"
IN=$T/good.json run put -c "$T/bad.conf" -d "$S"
is 78 "$rc" "unknown config key: exit 78 even with -d"
like "$errout" "no_such_key" "the message names the key"
is 3 "$(count "$S/new")" "nothing written on a config error"

run put -c "$T/empty.conf" -d "$S" "$T/no-such-file.json"
is 66 "$rc" "unreadable FILE: 66"
like "$errout" "no-such-file.json" "the message names the file"

# --- invalid records: 65, the field named, nothing written ----------------
# bad NAME EXPECTED-ERE JSON
bad() {
	printf '%s' "$3" >"$T/bad.json"
	n_new=$(count "$S/new")
	run put -c "$T/empty.conf" -d "$S" "$T/bad.json"
	is 65 "$rc" "$1: exit 65"
	like "$errout" "$2" "$1: message names the field"
	if [ "$(count "$S/new")" = "$n_new" ] && [ "$(count "$S/tmp")" = 0 ] && [ -z "$out" ]; then
		ok 0 "$1: nothing written"
	else
		ok 1 "$1: nothing written"
	fi
	# Every refusal, not only the last: no address of the record (or
	# its local part with the domain) in what the agent's log gets.
	case "$errout" in
	*jane@*|*"1+1@x.com"*|*@acme.com*|*@x.com*)
		ok 1 "$1: no email address in the message"; diag "$errout";;
	*)	ok 0 "$1: no email address in the message";;
	esac
}
T1='"start_time":"2025-10-29T18:04:05Z","end_time":"2025-10-29T18:10:05Z"'
bad "not json" "invalid record: record:" 'hello'
bad "empty input" "record:" ''
bad "array" "record: must be a JSON object" '[1,2]'
bad "session_id missing" "session_id: required" "{$T1}"
bad "session_id chars" "session_id: must be 1-128" "{\"session_id\":\"a/b\",$T1}"
bad "session_id too long" "session_id: must be 1-128" "{\"session_id\":\"$(printf '%0129d' 0)\",$T1}"
bad "user_email rules" "user_email:" "{\"session_id\":\"s\",\"user_email\":\"jane@acme\",$T1}"
bad "user_email control" "user_email:" "{\"session_id\":\"s\",\"user_email\":\"jane\\u0001@acme.com\",$T1}"
bad "user_email too long" "user_email:" "{\"session_id\":\"s\",\"user_email\":\"$(printf '%065d' 0)@acme.com\",$T1}"
bad "user_email formula" "user_email:" "{\"session_id\":\"s\",\"user_email\":\"=1+1@x.com\",$T1}"
bad "user_email type" "user_email: must be a string" "{\"session_id\":\"s\",\"user_email\":7,$T1}"
bad "start_time missing" "start_time: required" '{"session_id":"s","end_time":"2025-10-29T18:10:05Z"}'
bad "end_time invalid date" "end_time: not an RFC 3339" '{"session_id":"s","start_time":"2025-02-28T18:04:05Z","end_time":"2025-02-30T18:10:05Z"}'
bad "end before start" "end_time: before start_time" '{"session_id":"s","start_time":"2025-10-29T18:04:05Z","end_time":"2025-10-29T18:04:04Z"}'
bad "duration negative" "duration_seconds:" "{\"session_id\":\"s\",\"duration_seconds\":-3,$T1}"
bad "user_metadata type" "user_metadata: must be an object" "{\"session_id\":\"s\",\"user_metadata\":[],$T1}"
bad "metrics_summary type" "metrics_summary: must be an object" "{\"session_id\":\"s\",\"metrics_summary\":1,$T1}"
bad "tier type" "discovered_signals.qualification_tier: must be a string" "{\"session_id\":\"s\",\"discovered_signals\":{\"qualification_tier\":1},$T1}"
bad "tool_calls type" "tool_calls: must be an array" "{\"session_id\":\"s\",\"tool_calls\":{},$T1}"

# --- the 1 MiB cap ----------------------------------------------------------
# A valid record padded with blanks to exactly N bytes.
pad() {
	printf '%s' "$good" >"$T/pad.json"
	len=$(wc -c <"$T/pad.json")
	head -c $(($1 - len)) /dev/zero | tr '\0' ' ' >>"$T/pad.json"
}
pad 1048576
run put -c "$T/empty.conf" -d "$S" "$T/pad.json"
is 0 "$rc" "a record of exactly 1 MiB is accepted"
pad 1048577
n_new=$(count "$S/new")
run put -c "$T/empty.conf" -d "$S" "$T/pad.json"
is 65 "$rc" "1 MiB + 1 byte: exit 65"
like "$errout" "larger than 1048576 bytes" "1 MiB + 1 byte: says why"
is "$n_new" "$(count "$S/new")" "1 MiB + 1 byte: nothing written"
# An endless stdin is refused after the cap, not read for ever.
yes '{"padding":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}' |
	timeout 20 "$BIN" put -c "$T/empty.conf" -d "$S" - >/dev/null 2>"$T/err"
rc=$?
is 65 "$rc" "endless stdin: refused with 65 (not read for ever)"

# --- write failures: 74, a clear message, nothing left behind ---------------
# The file size limit stands in for a full disk anywhere (root or not).
pad 65536
n_new=$(count "$S/new")
(trap '' XFSZ; ulimit -f 16; exec "$BIN" put -c "$T/empty.conf" -d "$S" "$T/pad.json") \
	>/dev/null 2>"$T/err"
rc=$?
is 74 "$rc" "write past the file size limit: exit 74"
like "$(cat "$T/err")" "File too large" "the message gives the system's reason"
is 0 "$(count "$S/tmp")" "nothing left in tmp/"
is "$n_new" "$(count "$S/new")" "nothing added to new/"

# A real full file system: a 128 KiB tmpfs, filled up.
if [ "$(id -u)" != 0 ]; then
	skip "full file system: needs root to mount a tmpfs"
	skip "full file system: needs root"
	skip "full file system: needs root"
	skip "full file system: needs root"
elif ! { mkdir "$T/full" && mount -t tmpfs -o size=128k tmpfs "$T/full"; } 2>/dev/null; then
	skip "full file system: mount -t tmpfs refused here"
	skip "full file system: mount refused"
	skip "full file system: mount refused"
	skip "full file system: mount refused"
else
	run put -c "$T/empty.conf" -d "$T/full/spool" "$T/good.json"
	[ "$rc" = 0 ] || diag "first put on the tmpfs: $errout"
	dd if=/dev/zero of="$T/full/filler" bs=4096 2>/dev/null
	n_new=$(count "$T/full/spool/new")
	run put -c "$T/empty.conf" -d "$T/full/spool" "$T/good.json"
	is 74 "$rc" "full file system: exit 74"
	like "$errout" "No space left on device" "full file system: says No space left on device"
	is 0 "$(count "$T/full/spool/tmp")" "full file system: nothing left in tmp/"
	is "$n_new" "$(count "$T/full/spool/new")" "full file system: nothing added to new/"
	umount "$T/full"
fi

# --- email-from-metadata ------------------------------------------------------
# efm EXPECTED METADATA DESCRIPTION
efm() {
	run email-from-metadata "$2"
	is 0 "$rc" "email-from-metadata $3: exit 0"
	is "$1" "$out" "email-from-metadata $3"
}
efm "jane@acme.com" '{"user_email":"jane@acme.com","session_start":"2025-10-29T18:04:05.123Z"}' "token metadata"
efm "" '{"user_email":"","session_start":"2025-10-29T18:04:05.123Z"}' "empty email"
efm "" '{"session_start":"2025-10-29T18:04:05.123Z"}' "no user_email"
efm "" 'not json at all' "garbage"
efm "" '' "empty string"
efm "" '{"user_email":"jane@acme.com"' "truncated JSON"
efm "" '["jane@acme.com"]' "an array"
efm "" '{"user_email":42}' "a number"
efm "" '{"user_email":null}' "null"
efm "" '{"user_email":"=cmd|x@acme.com"}' "an address that breaks the rules"
efm "" '"{\"user_email\":\"jane@acme.com\"}"' "double-encoded JSON"
efm "Jane.Doe@Example.COM" '{"user_email":"  Jane.Doe@Example.COM "}' "trimmed, case kept"
efm "" '{"user_email":"a\u001bb@x.com"}' "an escaped control character"
efm "" "{\"user_email\":\"a$(printf '\033')b@x.com\"}" "a raw control character"
run email-from-metadata
is 64 "$rc" "email-from-metadata without STRING: usage error 64"

done_testing
