#!/bin/sh
# t/upload-file.sh — `calltrail-export upload` to the default file:// target,
# end to end with the real binary: keys, byte-exact gunzip, sent/DAY moves,
# quarantine of bad records, reruns, batches over several days, about one
# fsync per record, the summary line, exit codes, two runs at once, kill -9
# and SIGTERM mid-run, and a full archive disk.
. "$top_srcdir/t/lib.sh"

EXPORT=$top_builddir/exporter/calltrail-export
[ -x "$EXPORT" ] || bail "no $EXPORT (build first)"
command -v python3 >/dev/null || skip_all "python3 is needed to make and check records"

SPOOL=$T/spool
ARCH=$T/archive
TODAY=$(date -u +%Y-%m-%d)
cat >"$T/conf" <<EOF
spool_dir = $SPOOL
target = file://$ARCH
keep_days = 35
EOF
# The environment must not point the test elsewhere.
unset CALLTRAIL_CONF AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
	AWS_SHARED_CREDENTIALS_FILE AWS_PROFILE

# gen.py SPOOL N TAG: write N valid records into new/ by the Maildir rule
# (tmp/, then rename), ending today; session ids carry '.', '-' and '_'.
cat >"$T/gen.py" <<'EOF'
import json, os, sys, time, datetime
spool, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pad = sys.argv[4] if len(sys.argv) > 4 else ""
for d in ("tmp", "new"):
    os.makedirs(os.path.join(spool, d), exist_ok=True)
day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
for i in range(n):
    rec = {"session_id": "voice_%s.%d-x_y" % (tag, i),
           "user_email": "caller%d@example.com" % i,
           "start_time": day + "T00:00:00Z",
           "end_time": day + "T00:%02d:%02d.123456" % (i // 60 % 60, i % 60),
           "discovered_signals": {"qualification_tier": "warm"},
           "pad": pad and os.urandom(int(pad)).hex()}
    name = "%d.%d.%x%04x.json" % (time.time_ns(), os.getpid(), i, len(tag))
    tmp = os.path.join(spool, "tmp", name)
    with open(tmp, "w") as f:
        f.write(json.dumps(rec, separators=(",", ":")))
    os.rename(tmp, os.path.join(spool, "new", name))
EOF

# check.py SPOOL ARCHIVE: every record in sent/ has its object at the
# right key, gunzipping to the record's bytes; no object without a
# record; prints "records objects" and the first problem found.
cat >"$T/check.py" <<'EOF'
import gzip, hashlib, json, os, sys, datetime
spool, arch = sys.argv[1], sys.argv[2]
want = {}
for day in sorted(os.listdir(os.path.join(spool, "sent"))):
    d = os.path.join(spool, "sent", day)
    for name in os.listdir(d):
        data = open(os.path.join(d, name), "rb").read()
        rec = json.loads(data)
        end = datetime.datetime.fromisoformat(rec["end_time"].replace("Z", "+00:00"))
        if end.tzinfo is None:
            end = end.replace(tzinfo=datetime.timezone.utc)
        end = end.astimezone(datetime.timezone.utc)
        if end.strftime("%Y-%m-%d") != day:
            print("record %s filed under %s" % (name, day)); sys.exit(1)
        key = "sessions/year=%04d/month=%02d/day=%02d/%s_%s.json.gz" % (
            end.year, end.month, end.day, rec["session_id"],
            hashlib.sha256(data).hexdigest()[:12])
        want[key] = data
have = set()
for root, dirs, files in os.walk(arch):
    for f in (f for f in files if not f.startswith(".")):
        have.add(os.path.relpath(os.path.join(root, f), arch))
for key, data in want.items():
    if key not in have:
        print("missing object %s" % key); sys.exit(1)
    if gzip.decompress(open(os.path.join(arch, key), "rb").read()) != data:
        print("object %s does not gunzip to its record" % key); sys.exit(1)
extra = have - set(want)
if extra:
    print("objects without a record: %s" % sorted(extra)[0]); sys.exit(1)
print(len(want), len(have))
EOF

count() { find "$1" -type f -name '*.json' 2>/dev/null | wc -l | tr -d ' '; }
run() { "$EXPORT" -c "$T/conf" upload >"$T/out" 2>"$T/err"; echo $? >"$T/rc"; }

# ---- the basics -----------------------------------------------------------
python3 "$T/gen.py" "$SPOOL" 50 a || bail "gen.py failed"
printf 'this is not JSON\n' >"$SPOOL/new/100.1.aa.json"
printf '{"session_id":"voice_bad","start_time":"%sT10:00:00Z","end_time":"%sT09:00:00Z"}' \
	"$TODAY" "$TODAY" >"$SPOOL/new/101.1.bb.json"
run
is 0 "$(cat "$T/rc")" "upload exits 0 when everything was stored or refused"
like "$(cat "$T/err")" \
	'upload: stored 50, refused 2, retried 0, left 0 \(target file://'"$ARCH"'\) in [0-9.]+ s' \
	"one summary line with the counts and the target"
is 1 "$(grep -c 'upload: stored' "$T/err")" "exactly one summary line"
is "50 50" "$(python3 "$T/check.py" "$SPOOL" "$ARCH")" \
	"every record stored at its key, gunzipping byte-exact"
is 50 "$(count "$SPOOL/sent/$TODAY")" "records moved to sent/$TODAY/"
is "0 0" "$(count "$SPOOL/new") $(count "$SPOOL/cur")" "new/ and cur/ are empty"
printf 'this is not JSON\n' >"$T/notjson"
cmp -s "$T/notjson" "$SPOOL/failed/100.1.aa.json"
ok $? "the non-JSON record is kept as it was in failed/"
like "$(cat "$SPOOL/failed/100.1.aa.json.why")" 'JSON' "its .why says it is not JSON"
like "$(cat "$SPOOL/failed/101.1.bb.json.why")" 'end_time' \
	"the schema-breaking record's .why names end_time"
key=$(cd "$ARCH" && find . -type f -name 'voice_a.7-x_y_*' | head -1)
like "$key" "^\./sessions/year=${TODAY%%-*}/month=[0-9]{2}/day=[0-9]{2}/voice_a\.7-x_y_[0-9a-f]{12}\.json\.gz\$" \
	"the key is sessions/year=/month=/day=/<session_id>_<12 hex>.json.gz"
is 600 "$(stat -c %a "$ARCH/$key")" "objects are mode 0600 (the owner's alone)"
is 700 "$(stat -c %a "$(dirname "$ARCH/$key")")" "archive directories are mode 0700"
is 700 "$(stat -c %a "$ARCH")" "... the archive itself too"
is 00 "$(od -An -tx1 -j3 -N1 "$ARCH/$key" | tr -d ' ')" "no file name in the gzip header"
is "00000000" "$(od -An -tx1 -j4 -N4 "$ARCH/$key" | tr -d ' ')" "gzip mtime is 0"
like "$(cat "$SPOOL/.last-run.json")" '"exit":0,"stored":50,"refused":2,"retried":0,"left":0' \
	".last-run.json records the run"
is 600 "$(stat -c %a "$SPOOL/.last-run.json")" ".last-run.json is mode 0600"

# ---- reruns ---------------------------------------------------------------
run
is 0 "$(cat "$T/rc")" "a rerun exits 0"
is "" "$(cat "$T/err")" "a rerun has nothing to do, and prints nothing"
is "50 50" "$(python3 "$T/check.py" "$SPOOL" "$ARCH")" "a rerun changes nothing in the archive"
is 4 "$(ls "$SPOOL/failed" | wc -l | tr -d ' ')" "refused records and their .why are never deleted"

# A record stored again (a lost reply, a crash before the move) rewrites
# the same key with the same bytes.
one=$(ls "$SPOOL/sent/$TODAY" | head -1)
sum1=$(cd "$ARCH" && find . -type f -exec sha256sum {} + | sort | sha256sum)
cp "$SPOOL/sent/$TODAY/$one" "$SPOOL/new/$one" && rm "$SPOOL/sent/$TODAY/$one"
run
like "$(cat "$T/err")" 'stored 1, refused 0' "a record uploaded twice is stored again"
sum2=$(cd "$ARCH" && find . -type f -exec sha256sum {} + | sort | sha256sum)
is "$sum1" "$sum2" "... under the same key with the same bytes"

# ---- housekeeping: sent/ days older than keep_days go, newer ones stay -----
old=$(date -u -d '-36 days' +%Y-%m-%d)
kept=$(date -u -d '-35 days' +%Y-%m-%d)
mkdir -p "$SPOOL/sent/$old" "$SPOOL/sent/$kept"
cp "$SPOOL/sent/$TODAY/$one" "$SPOOL/sent/$old/" && cp "$SPOOL/sent/$TODAY/$one" "$SPOOL/sent/$kept/"
run
ok "$(test ! -e "$SPOOL/sent/$old"; echo $?)" "sent/$old (36 days old) is pruned"
ok "$(test -f "$SPOOL/sent/$kept/$one"; echo $?)" "sent/$kept (35 days old) is kept"
rm -rf "${SPOOL:?}/sent/$kept"

# ---- one batch across several days -----------------------------------------
# 150 records whose days alternate (today, 1 and 2 days ago) are stored in
# batches that each write into three archive directories and three sent/DAY/.
MS=$T/mspool
printf 'spool_dir = %s\ntarget = file://%s/march\n' "$MS" "$T" >"$T/multi.conf"
python3 - "$MS" <<'EOF2' || bail "making mixed-day records failed"
import json, os, sys, datetime
spool = sys.argv[1]
for d in ("tmp", "new"):
    os.makedirs(os.path.join(spool, d), exist_ok=True)
now = datetime.datetime.now(datetime.timezone.utc)
for i in range(150):
    day = (now - datetime.timedelta(days=i % 3)).strftime("%Y-%m-%d")
    rec = {"session_id": "voice_m%d" % i, "user_email": "",
           "start_time": day + "T01:00:00Z", "end_time": day + "T01:00:%02dZ" % (i % 60)}
    name = "%d.1.%04x.json" % (1000 + i, i)
    with open(os.path.join(spool, "tmp", name), "w") as f:
        f.write(json.dumps(rec))
    os.rename(os.path.join(spool, "tmp", name), os.path.join(spool, "new", name))
EOF2
"$EXPORT" -c "$T/multi.conf" upload 2>"$T/em"
is 0 $? "a run over three days exits 0"
like "$(cat "$T/em")" 'stored 150, refused 0, retried 0, left 0' "... storing all 150"
is "150 150" "$(python3 "$T/check.py" "$MS" "$T/march")" \
	"... each under its own day, in the archive and in sent/DAY/"
is 3 "$(ls "$MS/sent" | wc -l | tr -d ' ')" "... in three sent/DAY/ directories"
is "0 0" "$(count "$MS/new") $(count "$MS/cur")" "... leaving new/ and cur/ empty"
is 0 "$(find "$T/march" "$ARCH" -name '.tmp-*' | wc -l | tr -d ' ')" \
	"no temporary file is left in the archive"

# The point of batching: about one fsync per record (each object's own),
# not four; directories are synced once per batch of 256, so 200 records
# cost 200 object fsyncs plus about a dozen (the claim, the archive's
# directories once per run, one batch's archive directory, sent/DAY/ and
# cur/, .last-run.json).  Batches of 64 would take about ten more.
# Counted with strace.
if strace -f -qq -e trace=none true 2>/dev/null; then
	python3 "$T/gen.py" "$T/sspool" 200 s || bail "gen.py failed"
	printf 'spool_dir = %s\ntarget = file://%s/sarch\n' "$T/sspool" "$T" >"$T/s.conf"
	strace -f -qq -c -e trace=fsync -o "$T/strace" "$EXPORT" -c "$T/s.conf" upload 2>"$T/es"
	like "$(cat "$T/es")" 'stored 200, refused 0' "a traced run stores 200 records"
	fs=$(awk '$NF == "fsync" {print $4}' "$T/strace")
	ok "$([ "${fs:-0}" -ge 200 ] && [ "${fs:-0}" -le 216 ]; echo $?)" \
		"... with ${fs:-?} fsyncs (200 to 216): one per object plus a few per batch of 256"
else
	skip "strace is not usable here"
	skip "strace is not usable here"
fi

# ---- exit codes and help --------------------------------------------------
"$EXPORT" --help >"$T/help" 2>&1
is 0 $? "--help exits 0"
like "$(tr '\n' ' ' <"$T/help")" 'upload.*csv.*status.*-c FILE.*75.*78' \
	"--help names every command, the options and the exit codes"
"$EXPORT" --version >"$T/v" 2>&1
like "$(cat "$T/v")" '^calltrail-export [0-9]' "--version prints the version"
"$EXPORT" -c "$T/conf" frobnicate 2>"$T/e"
is 64 $? "an unknown command is a usage error (64)"
"$EXPORT" -c "$T/conf" upload extra 2>"$T/e"
is 64 $? "upload takes no arguments (64)"
printf 'spool_dir = %s\nno_such_key = 1\n' "$SPOOL" >"$T/bad.conf"
"$EXPORT" -c "$T/bad.conf" upload 2>"$T/e"
is 78 $? "an unknown configuration key exits 78"
like "$(cat "$T/e")" 'no_such_key' "... with a message naming the key"
printf 'spool_dir = %s\ntarget = file://relative/dir\n' "$SPOOL" >"$T/bad.conf"
"$EXPORT" -c "$T/bad.conf" upload 2>"$T/e"
is 78 $? "a relative file:// target exits 78"
like "$(cat "$T/e")" 'target' "... with a message naming target"
printf 'spool_dir = %s\ntarget = file:///x/../etc\n' "$SPOOL" >"$T/bad.conf"
"$EXPORT" -c "$T/bad.conf" upload 2>"$T/e"
is 78 $? "a file:// target with .. exits 78"
printf 'spool_dir = %s\ntarget = s3://bucket/p\n' "$SPOOL" >"$T/bad.conf"
HOME=$T "$EXPORT" -c "$T/bad.conf" upload 2>"$T/e"
is 78 $? "an s3:// target without credentials exits 78"
like "$(cat "$T/e")" 'AWS_ACCESS_KEY_ID' "... with a message naming AWS_ACCESS_KEY_ID"

# ---- a target that does not answer: everything kept, exit 75 --------------
# (an s3:// endpoint on a port nobody listens on: connection refused)
python3 "$T/gen.py" "$T/dspool" 10 z || bail "gen.py failed"
printf 'spool_dir = %s\ntarget = s3://bucket/p\ns3_endpoint = http://127.0.0.1:%s\ns3_retries = 1\n' \
	"$T/dspool" "$(free_port)" >"$T/down.conf"
AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY \
	CT_S3_BACKOFF_MS=10 "$EXPORT" -c "$T/down.conf" upload 2>"$T/e"
is 75 $? "a target that does not answer exits 75"
like "$(cat "$T/e")" 'not answering.*kept for the next run' "... saying so"
like "$(cat "$T/e")" 'stored 0, refused 0, retried [1-9][0-9]*, left 10 ' \
	"... retried, and counts every record as left"
is "10 0" "$(count "$T/dspool/new") $(count "$T/dspool/cur")" "... every record back in new/"
like "$(cat "$T/dspool/.last-run.json")" '"exit":75,.*"left":10' ".last-run.json says 75 and 10 left"
grep -q 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY' "$T/e" "$T/dspool/.last-run.json"
ok $((!$?)) "... and the secret appears nowhere"

# ---- two runs at once -----------------------------------------------------
# A held lock: the run says so and exits 0 without touching anything.
python3 "$T/gen.py" "$SPOOL" 300 b || bail "gen.py failed"
python3 -c 'import fcntl,os,sys,time
fd=os.open(sys.argv[1], os.O_RDWR|os.O_CREAT, 0o600); fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close(); time.sleep(30)' "$SPOOL/.lock" "$T/locked" &
holder=$!
bg_pid $holder
wait_for 10 test -f "$T/locked" || bail "lock holder did not start"
run
is 0 "$(cat "$T/rc")" "a run finding the lock held exits 0"
like "$(cat "$T/err")" 'another calltrail-export upload is running; nothing to do' \
	"... and says another run is active"
is 300 "$(count "$SPOOL/new")" "... leaving new/ alone"
kill $holder; wait $holder 2>/dev/null

# Two real runs started together: one works, the other steps aside, and
# every record ends up stored exactly once.
"$EXPORT" -c "$T/conf" upload 2>"$T/e1" & p1=$!
"$EXPORT" -c "$T/conf" upload 2>"$T/e2" & p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
is "0 0" "$r1 $r2" "two runs at once both exit 0"
is 1 "$(cat "$T/e1" "$T/e2" | grep -c 'upload: stored 300,')" \
	"one of them stored all 300 records"
is "350 350" "$(python3 "$T/check.py" "$SPOOL" "$ARCH")" \
	"every record stored exactly once, byte-exact"

# ---- kill -9 mid-run, then a rerun ----------------------------------------
N=1000
python3 "$T/gen.py" "$SPOOL" $N c || bail "gen.py failed"
before=$(find "$ARCH" -type f | wc -l)
"$EXPORT" -c "$T/conf" upload 2>"$T/ek" & pk=$!
bg_pid $pk
# Freeze it as soon as some are stored, so the kill lands mid-run even on
# a fast disk; SIGKILL works on a stopped process.
wait_for 30 sh -c "[ \$(find '$ARCH' -type f | wc -l) -ge $((before + 50)) ]"
kill -STOP $pk
kill -9 $pk; wait $pk 2>/dev/null
mid=$(( $(find "$ARCH" -type f | wc -l) - before ))
ok "$([ "$mid" -gt 0 ] && [ "$mid" -lt $N ]; echo $?)" "killed with -9 after $mid of $N stored"
total=$(( $(count "$SPOOL/new") + $(count "$SPOOL/cur") + $(count "$SPOOL/sent") ))
is $((350 + N)) "$total" "after kill -9 every record is in new/, cur/ or sent/"
# A killed run can leave temporary files in the archive.  The next run
# to write into a directory removes the ones over an hour old there, and
# leaves young ones (another writer may be using them).
DD=$(dirname "$ARCH/$key")
: >"$DD/.tmp-stale1" && touch -d '-2 hours' "$DD/.tmp-stale1"
: >"$DD/.tmp-young1"
# Temporaries live in ARCH/.tmp/: whatever day a killed run was writing,
# the next run finds its leftovers there.
TD=$ARCH/.tmp
: >"$TD/.tmp-0123456789abcdef" && touch -d '-2 hours' "$TD/.tmp-0123456789abcdef"
: >"$TD/.tmp-fedcba9876543210"
# Objects whose names start like a temporary (a session id ".tmp-abc" was
# once accepted): old, in the written day and in .tmp/, they must stay.
for f in "$DD/.tmp-abc_0123456789ab.json.gz" "$TD/.tmp-abc_0123456789ab.json.gz" \
	"$TD/.tmp-0123456789abcdef_0123456789ab.json.gz"; do
	: >"$f" && touch -d '-3 hours' "$f"
done
run
is 0 "$(cat "$T/rc")" "the rerun exits 0"
like "$(cat "$T/err")" 'put back' "the rerun recovers the killed run's cur/"
ok "$(test ! -e "$DD/.tmp-stale1" && test -f "$DD/.tmp-young1"; echo $?)" \
	"... removes the archive's temporary files over an hour old, not young ones"
ok "$(test ! -e "$TD/.tmp-0123456789abcdef" && test -f "$TD/.tmp-fedcba9876543210"; echo $?)" \
	"... in ARCH/.tmp/ too, where every run's temporaries are"
ok "$(test -f "$DD/.tmp-abc_0123456789ab.json.gz" && test -f "$TD/.tmp-abc_0123456789ab.json.gz" &&
	test -f "$TD/.tmp-0123456789abcdef_0123456789ab.json.gz"; echo $?)" \
	"... and never an object, whatever its name"
rm -f "$DD"/.tmp-* "$TD"/.tmp-*
# Versions before ARCH/.tmp/ left their temporaries beside the keys.  In
# a past day nobody writes again, listing the day (csv --source target)
# removes the stale ones of exactly that pattern, and nothing else.
PD=$ARCH/sessions/year=2020/month=01/day=02
mkdir -p "$PD"
: >"$PD/.tmp-Ab3xZ9" && touch -d '-2 hours' "$PD/.tmp-Ab3xZ9"
: >"$PD/.tmp-young2"
for f in "$PD/.tmp-abc_0123456789ab.json.gz" "$PD/.tmp-Ab3xZ9_0123456789ab.json.gz" \
	"$PD/.tmp-Ab3xZ"; do
	: >"$f" && touch -d '-3 hours' "$f"
done
"$EXPORT" -c "$T/conf" csv --day 2020-01-02 --source target --out "$T/pastcsv" \
	>/dev/null 2>"$T/ep"
is 0 $? "csv --source target of a past day exits 0"
ok "$(test ! -e "$PD/.tmp-Ab3xZ9" && test -f "$PD/.tmp-young2"; echo $?)" \
	"... removing an older version's stale temporary there, not a young one"
ok "$(test -f "$PD/.tmp-abc_0123456789ab.json.gz" && test -f "$PD/.tmp-Ab3xZ" &&
	test -f "$PD/.tmp-Ab3xZ9_0123456789ab.json.gz"; echo $?)" \
	"... and nothing that is not exactly that pattern"
rm -rf "$ARCH/sessions/year=2020"
is "$((350 + N)) $((350 + N))" "$(python3 "$T/check.py" "$SPOOL" "$ARCH")" \
	"after the rerun every record is stored exactly once, byte-exact"

# ---- SIGTERM mid-run: a clean stop, the rest back in new/ -----------------
python3 "$T/gen.py" "$SPOOL" $N d || bail "gen.py failed"
before=$(find "$ARCH" -type f | wc -l)
"$EXPORT" -c "$T/conf" upload 2>"$T/et" & pt=$!
bg_pid $pt
wait_for 30 sh -c "[ \$(find '$ARCH' -type f | wc -l) -ge $((before + 50)) ]"
kill -STOP $pt
kill -TERM $pt; kill -CONT $pt; wait $pt; rt=$?
is 75 "$rt" "SIGTERM mid-run stops with 75 (records left for the next run)"
is 0 "$(count "$SPOOL/cur")" "... leaving nothing in cur/"
like "$(cat "$T/et")" 'left [1-9]' "... and the summary counts what was left"
run
is "$((350 + 2 * N)) $((350 + 2 * N))" "$(python3 "$T/check.py" "$SPOOL" "$ARCH")" \
	"the next run stores the rest, each record exactly once"

# ---- an archive on a full file system --------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	for i in 1 2 3 4 5; do skip "full-disk case needs root to mount a tmpfs"; done
elif ! { mkdir -p "$T/full" && mount -t tmpfs -o size=256k tmpfs "$T/full"; } 2>/dev/null; then
	for i in 1 2 3 4 5; do skip "full-disk case: cannot mount a tmpfs here"; done
else
	trap 'umount "$T/full" 2>/dev/null; _cleanup' EXIT
	FS=$T/fullspool
	printf 'spool_dir = %s\ntarget = file://%s/archive\n' "$FS" "$T/full" >"$T/full.conf"
	python3 "$T/gen.py" "$FS" 40 e 8192 || bail "gen.py failed"
	"$EXPORT" -c "$T/full.conf" upload 2>"$T/ef"
	rf=$?
	is 74 "$rf" "an archive on a full disk exits 74"
	like "$(cat "$T/ef")" 'No space left on device' "... saying the disk is full"
	is 0 "$(count "$FS/cur")" "... leaving nothing in cur/"
	is 40 "$(( $(count "$FS/new") + $(count "$FS/sent") ))" "... and losing no record"
	stored=$(count "$FS/sent")
	objs=$(find "$T/full/archive" -type f -name '*.gz' | wc -l | tr -d ' ')
	is "$stored" "$objs" "... every record in sent/ has its object"
	umount "$T/full"
fi

# ---- a clock behind the newest day filed: no pruning, and why --------------
# A day 5 days ahead, last filed into 5 days from now: the clock was set
# back since.
AHEAD=$(date -u -d '+5 days' +%Y-%m-%d)
mkdir -p "$SPOOL/sent/$AHEAD" "$SPOOL/sent/2000-01-01"
touch -d '+5 days' "$SPOOL/sent/$AHEAD"
run
is 74 "$(cat "$T/rc")" "upload with sent/ holding a day 5 days ahead of the clock: 74"
like "$(cat "$T/err")" "clock says $TODAY, before the newest day filed, .*sent/$AHEAD.*not pruning" \
	"... saying the clock is behind the newest day filed"
ok "$(test -d "$SPOOL/sent/2000-01-01"; echo $?)" "... and pruning nothing"
# The same day filed now: a record whose end_time is in the future (an
# agent's clock ahead, or a year like 2099) says nothing about this
# clock, and must not stop every later prune and exit 74 for good.
touch "$SPOOL/sent/$AHEAD"
run
is 0 "$(cat "$T/rc")" "a record of a future day, filed now: upload exits 0"
ok "$(test ! -e "$SPOOL/sent/2000-01-01"; echo $?)" "... and prunes the old day"
rmdir "$SPOOL/sent/$AHEAD"

# ---- symlinks inside the archive are errors, never followed ---------------
Y=$(date -u +%Y) M=$(date -u +%m) D=$(date -u +%d)
SS=$T/symspool SA=$T/symarch
printf 'spool_dir = %s\ntarget = file://%s\ncsv_dir = %s/csv\n' "$SS" "$SA" "$T" >"$T/sym.conf"
mkdir -p "$SA/sessions" "$T/outside"
ln -s "$T/outside" "$SA/sessions/year=$Y"
python3 "$T/gen.py" "$SS" 5 y || bail "gen.py failed"
"$EXPORT" -c "$T/sym.conf" upload 2>"$T/ey"
ry=$?
ok "$([ $ry != 0 ]; echo $?)" "upload into a symlinked year= directory fails ($ry)"
like "$(cat "$T/ey")" "$SA/sessions/year=$Y\" is a symlink" "... naming it"
is 0 "$(ls -A "$T/outside" | wc -l | tr -d ' ')" "... writing nothing outside the archive"
is 5 "$(count "$SS/new")" "... and keeping every record for the next run"
rm "$SA/sessions/year=$Y"
mkdir -p "$SA/sessions/year=$Y/month=$M" "$T/outside/day"
ln -s "$T/outside/day" "$SA/sessions/year=$Y/month=$M/day=$D"
"$EXPORT" -c "$T/sym.conf" upload 2>"$T/ey"
like "$(cat "$T/ey")" "month=$M/day=$D\" is a symlink" "a symlinked day= directory: refused, named"
is 0 "$(ls "$T/outside/day" | wc -l | tr -d ' ')" "... nothing written through it"
"$EXPORT" -c "$T/sym.conf" csv --day "$TODAY" --source target >/dev/null 2>"$T/ey"
is 74 $? "csv --source target over a symlinked day= directory exits 74"
like "$(cat "$T/ey")" "day=$D\" is a symlink" "... naming it"

done_testing
