#!/bin/sh
# t/spool-perm.sh — the spool shared by separate Unix users (SPEC section
# 4): the exporter's user owns it, an agent in its group can only drop
# records into it, anyone else can do nothing, and calltrail-export run by
# anyone but the owner (root too) exits 77 and changes nothing.  The users
# are scratch uids and gids switched to with setpriv: no account is made.
. "$top_srcdir/t/lib.sh"

SPOOLBIN=$top_builddir/src/calltrail-spool
EXPORT=$top_builddir/exporter/calltrail-export
[ -x "$SPOOLBIN" ] && [ -x "$EXPORT" ] || bail "build first"
[ "$(id -u)" = 0 ] || skip_all "needs root to switch users"
command -v setpriv >/dev/null || skip_all "no setpriv (util-linux)"
unset CALLTRAIL_CONF

OWNER=46001 GROUP=46002 AGENT=46003 AGENT2=46004 NOBODY=65534
# as WHO [GROUPS] -- CMD...: run CMD as uid WHO (gid WHO unless it is the
# owner), with the supplementary groups given.
owner() { setpriv --reuid=$OWNER --regid=$GROUP --clear-groups "$@"; }
agent() { setpriv --reuid=$AGENT --regid=$AGENT --groups=$GROUP "$@"; }
agent2() { setpriv --reuid=$AGENT2 --regid=$AGENT2 --groups=$GROUP "$@"; }
stranger() { setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$@"; }

# The scratch directory and the build tree must be reachable by them.
chmod 0755 "$T"
d=$(cd "$top_builddir" && pwd)
while [ "$d" != / ]; do
	[ -x "$d" ] && stranger test -x "$d" 2>/dev/null || { skip_all "$d is not searchable by others"; }
	d=$(dirname "$d")
done

# The owner's own directory (as /var/spool is root's, and tmpfiles.d or
# the owner makes calltrail/ in it).
mkdir "$T/var" && chown $OWNER:$GROUP "$T/var" && chmod 0755 "$T/var"
S=$T/var/spool
mkdir "$T/archive" && chown $OWNER:$GROUP "$T/archive" && chmod 0700 "$T/archive"
cat >"$T/conf" <<EOF
spool_dir = $S
target = file://$T/archive
csv_dir = $T/csv
EOF
chmod 0644 "$T/conf"
rec() { printf '{"session_id":"%s","start_time":"2025-10-29T18:00:00Z","end_time":"2025-10-29T18:05:00Z"}' "$1"; }

# --- the owner makes the spool --------------------------------------------------
rec own1 | owner "$SPOOLBIN" put -c "$T/conf" >"$T/out" 2>"$T/err"
is 0 $? "the owner's first put makes the spool"
is "$OWNER:$GROUP 710" "$(stat -c '%u:%g %a' "$S")" "root: the owner's, 0710"
is "3730 3730 700 700 700" "$(cd "$S" && stat -c %a tmp new cur sent failed | tr '\n' ' ' | sed 's/ $//')" \
	"tmp/ new/ 3730 (setgid, sticky, group wx); cur/ sent/ failed/ 0700"

# --- an agent in the group can put, and nothing else ------------------------
rec agent1 | agent "$SPOOLBIN" put -c "$T/conf" >"$T/out" 2>"$T/err"
is 0 $? "an agent in the group can put"
R=$(cat "$T/out")
is "$AGENT:$GROUP 640" "$(stat -c '%u:%g %a' "$R")" "its record carries the spool's group (setgid new/), mode 0640"
agent ls "$S/new" >/dev/null 2>&1
is 2 $? "the agent cannot list new/"
agent ls "$S" >/dev/null 2>&1
is 2 $? "... nor the spool's root"
agent2 rm -f "$R" 2>/dev/null
ok $([ -e "$R" ]; echo $?) "another agent cannot remove that record (sticky new/)"
# The agent's put made new/ durable without reading it: syncfs.
if command -v strace >/dev/null; then
	rec agent2 | strace -f -qq -e trace=syncfs -o "$T/strace" \
		setpriv --reuid=$AGENT --regid=$AGENT --groups=$GROUP \
		"$SPOOLBIN" put -c "$T/conf" >/dev/null 2>&1
	grep -q '^[0-9]* *syncfs(.*= 0' "$T/strace"
	ok $? "the agent's put, unable to open new/, makes it durable with syncfs"
	rec own2 | strace -f -qq -e trace=syncfs -o "$T/strace" \
		setpriv --reuid=$OWNER --regid=$GROUP --clear-groups \
		"$SPOOLBIN" put -c "$T/conf" >/dev/null 2>&1
	grep -q 'syncfs' "$T/strace"
	is 1 $? "the owner's put fsyncs new/ instead"
else
	skip "no strace"; skip "no strace"
fi

# --- put needs only tmp/ and new/ --------------------------------------------
# Until the exporter first runs (or after someone tidied up), cur/, sent/
# and failed/ may be missing: an agent's put must not try to make them.
rmdir "$S/cur" "$S/sent" "$S/failed"
rec agent3 | agent "$SPOOLBIN" put -c "$T/conf" >"$T/out" 2>"$T/err"
is 0 $? "an agent's put works with cur/, sent/ and failed/ missing"
[ -f "$(cat "$T/out")" ]; ok $? "... and its record is in new/"
ok $([ ! -e "$S/cur" ] && [ ! -e "$S/sent" ] && [ ! -e "$S/failed" ]; echo $?) \
	"... without making the exporter's directories"
# (the owner's upload below makes them again, 0700)

# --- someone outside the group can do nothing -------------------------------
rec x | stranger "$SPOOLBIN" put -c "$T/conf" >"$T/out" 2>"$T/err"
is 74 $? "a user outside the group cannot put (74)"
like "$(cat "$T/err")" "Permission denied" "... and is told why"

# --- root (or anyone but the owner) running the exporter: 77, nothing changed --
snap() { find "$S" "$T/archive" -printf '%p %U:%G %m %s\n' 2>/dev/null | sort; }
snap >"$T/before"
"$EXPORT" -c "$T/conf" upload >"$T/out" 2>"$T/err"
is 77 $? "root's upload exits 77 (EX_NOPERM)"
like "$(cat "$T/err")" "belongs to .*uid $OWNER.*run it as the spool's owner: sudo -u .*calltrail-export upload" \
	"... naming the owner and what to run"
snap >"$T/after"
cmp -s "$T/before" "$T/after"
ok $? "... and the spool and the archive are unchanged"
for cmd in "csv --day 2025-10-29" status; do
	"$EXPORT" -c "$T/conf" $cmd >/dev/null 2>&1
	is 77 $? "root's $cmd exits 77"
done
agent "$EXPORT" -c "$T/conf" upload >/dev/null 2>&1
is 77 $? "an agent's upload exits 77"
snap >"$T/after"
cmp -s "$T/before" "$T/after"
ok $? "nothing changed by any of them"

# --- the owner exports; the agent cannot read what left new/ ----------------
N=$(ls "$S/new" | wc -l)
owner "$EXPORT" -c "$T/conf" upload >"$T/out" 2>"$T/err"
is 0 $? "the owner's upload exits 0"
like "$(cat "$T/err")" "stored $N," "... storing the owner's and the agents' $N records"
sent=$(ls "$S/sent/2025-10-29" | head -n 1)
agent cat "$S/sent/2025-10-29/$sent" >/dev/null 2>&1
ok $([ $? != 0 ]; echo $?) "the agent cannot read a record in sent/"
agent ls "$S/sent" "$S/cur" "$S/failed" >/dev/null 2>&1
ok $([ $? != 0 ]; echo $?) "... nor list sent/, cur/ or failed/"
agent cat "$S/.last-run.json" >/dev/null 2>&1
ok $([ $? != 0 ]; echo $?) "... nor read the last run"
is "600" "$(stat -c %a "$S/.last-run.json")" ".last-run.json is 0600"
is "700" "$(stat -c %a "$S/sent/2025-10-29")" "sent/DAY is 0700"
is "700 700 700" "$(cd "$S" && stat -c %a cur sent failed | tr '\n' ' ' | sed 's/ $//')" \
	"the upload made cur/, sent/ and failed/ again, 0700"
owner "$EXPORT" -c "$T/conf" status >/dev/null 2>&1
is 0 $? "the owner's status exits 0"
n=$(find "$S" ! -user $OWNER ! -path "$S/sent/*" | wc -l)
is 0 "$n" "everything outside sent/ belongs to the owner (the agents' records are in sent/)"

done_testing
