#!/bin/sh
# t/salesforce.sh — `calltrail-export salesforce` against a Salesforce
# stand-in (t/sf-standin.js, written from Salesforce's documentation),
# which jsforce's Bulk 2.0 client cross-checks (t/sf-jsforce.js).
#
# Each scenario gets a fresh org.  The day's records go through the real
# spool (calltrail-spool put, calltrail-export upload), and the org's
# records after a push are compared with the day's CSV from
# `calltrail-export csv`.
. "$top_srcdir/t/lib.sh"

EXPORT=$top_builddir/exporter/calltrail-export
SPOOLPUT=$top_builddir/src/calltrail-spool
[ -x "$EXPORT" ] || bail "no $EXPORT (build first)"
[ -x "$SPOOLPUT" ] || bail "no $SPOOLPUT (build first)"
command -v node >/dev/null || skip_all "node is not installed"
command -v openssl >/dev/null || skip_all "openssl is not installed"
need_node_modules
[ -d "$NODE_PATH/jsforce" ] || bail "jsforce missing from $NODE_PATH (npm ci in t/node)"
unset CALLTRAIL_CONF AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
export CT_SF_BACKOFF_MS=5 CT_SF_POLL_MS=10

DAY=$(date -u +%Y-%m-%d)
OUT=$T/all-output          # every byte calltrail printed, checked at the end
: >"$OUT"

# ---- keys: the connected app's certificate, and a key it does not hold
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" \
	-days 2 -subj /CN=calltrail-test 2>/dev/null || bail "openssl req failed"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/wrong.pem" 2>/dev/null ||
	bail "openssl genpkey failed"
chmod 600 "$T/key.pem" "$T/wrong.pem"
SECRET=cs-$(openssl rand -hex 24)
printf '%s\n' "$SECRET" >"$T/secret"
chmod 600 "$T/secret"
KEY=3MVG9-calltrail-test-consumer-key
USER=integration@calltrail.example

# ---- the day: records through the real spool -------------------------------
# spool DIR SID EMAIL HHMMSS [TIER]
spool() {
	tier=${5:+,\"discovered_signals\":{\"qualification_tier\":\"$5\"\}}
	printf '{"session_id":"%s","user_email":"%s","start_time":"%sT%s.000Z","end_time":"%sT%s.500Z"%s}' \
		"$2" "$3" "$DAY" "$4" "$DAY" "$4" "$tier" >"$T/rec.json"
	"$SPOOLPUT" put -d "$1" "$T/rec.json" >/dev/null || bail "spool put failed"
}
# conf NAME SPOOL [extra lines]: a configuration, $T/NAME.conf for the
# org running now (render)
conf() {
	cat >"$T/$1.tmpl" <<EOF
spool_dir = $2
target = file://$T/archive-$1
csv_dir = $T/csv-$1
salesforce_login_url = http://127.0.0.1:@LOGIN@
salesforce_client_id = $KEY
salesforce_username = $USER
salesforce_private_key_file = $T/key.pem
salesforce_object = Lead
salesforce_api_version = 62.0
$3
EOF
	render "$1"
}
render() { sed "s/@LOGIN@/$LOGIN_PORT/" "$T/$1.tmpl" >"$T/$1.conf"; }

S=$T/spool
mkdir -p "$S"
spool "$S" s-ann-1 "ann@example.com" 09:00:00 warm
spool "$S" s-ann-2 "Ann@Example.com" 15:00:00 hot
spool "$S" s-bob "bob@example.com" 10:00:00
spool "$S" s-shared "shared@example.com" 11:00:00 cold
spool "$S" s-conv "conv@example.com" 12:00:00 hot
spool "$S" s-nobody "nobody@example.com" 13:00:00 hot
spool "$S" s-oneil "o'neil@example.com" 14:00:00 warm
TIER200=$(printf 'x%.0s' $(seq 1 200))
S2=$T/spool2
mkdir -p "$S2"
spool "$S2" r-ann "ann@example.com" 09:00:00 hot
spool "$S2" r-long "long@example.com" 10:00:00 "$TIER200"

# The org: Leads keyed by email; BOB in capitals (emails match
# case-insensitively); two Leads share one email; a converted Lead.
cat >"$T/records.json" <<'EOF'
{"Lead": [
 {"FirstName": "Ann", "LastName": "A", "Email": "ann@example.com", "Company": "A Inc"},
 {"FirstName": "Bob", "LastName": "B", "Email": "BOB@example.com", "Company": "B Inc",
  "Voice_Qualification_Tier__c": "kept"},
 {"FirstName": "Sha", "LastName": "One", "Email": "shared@example.com", "Company": "S1"},
 {"FirstName": "Sha", "LastName": "Two", "Email": "Shared@example.com", "Company": "S2"},
 {"FirstName": "Con", "LastName": "V", "Email": "conv@example.com", "Company": "C",
  "IsConverted": true, "Last_Voice_Session__c": "before"},
 {"FirstName": "Lon", "LastName": "G", "Email": "long@example.com", "Company": "L"},
 {"FirstName": "Ona", "LastName": "O'Neil", "Email": "o'neil@example.com", "Company": "O"}
],
"Contact": [
 {"FirstName": "Ann", "LastName": "A", "Email": "ann@example.com"}
]}
EOF

ORG_PID=
# org [UPLOADMAX]: a fresh stand-in; sets LOGIN_PORT, API
org() {
	if [ -n "$ORG_PID" ]; then
		tokens >>"$T/tokens"
		kill "$ORG_PID" 2>/dev/null; wait "$ORG_PID" 2>/dev/null
	fi
	LOGIN_PORT=$(free_port)
	API_PORT=$(free_port)
	API=http://127.0.0.1:$API_PORT
	fields=${ORG_FIELDS:-'{}'}
	cat >"$T/org.json" <<EOF
{"loginPort": $LOGIN_PORT, "instancePort": $API_PORT, "cert": "$T/cert.pem",
 "consumerKey": "$KEY", "clientSecret": "$SECRET", "username": "$USER",
 "uploadMax": ${1:-150000000}, "fieldLengths": $fields,
 "records": $(cat "$T/records.json")}
EOF
	rm -f "$T/org.out"   # the old one said "ready" too
	node "$top_srcdir/t/sf-standin.js" "$T/org.json" >"$T/org.out" 2>&1 &
	ORG_PID=$!
	bg_pid "$ORG_PID"
	wait_for 10 grep -q ready "$T/org.out" || bail "the stand-in did not start: $(cat "$T/org.out")"
	node -e '1' # keep the shell's $? clean
}
# get PATH: the stand-in's admin answer
get() { node -e 'fetch(process.argv[1]).then(r=>r.text()).then(t=>process.stdout.write(t))' "$API$1"; }
fault() { node -e 'fetch(process.argv[1],{method:"POST",body:process.argv[2]}).then(r=>r.text()).then(()=>{})' \
	"$API/__admin/fault" "$1"; }
leads() { get '/__admin/records?object=Lead'; }
tokens() { get /__admin/tokens | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
	for (const t of JSON.parse(s)) console.log(t)})'; }
# count METHOD REGEX: requests in the stand-in's log
count() { get /__admin/log | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
	console.log(JSON.parse(s).filter(e=>e.method===process.argv[1]&&new RegExp(process.argv[2]).test(e.path)).length)})' "$1" "$2"; }
# push CONF [ARGS]: run the command; output kept in $T/o, $T/e, $T/rc
push() {
	c=$1; shift
	render "$c"
	"$EXPORT" -c "$T/$c.conf" salesforce --day "$DAY" "$@" >"$T/o" 2>"$T/e"
	echo $? >"$T/rc"
	cat "$T/o" "$T/e" >>"$OUT"
}
rc() { cat "$T/rc"; }

# ---- the happy path -----------------------------------------------------------
org
conf main "$S"
"$EXPORT" -c "$T/main.conf" upload >/dev/null 2>&1 || bail "upload failed"
"$EXPORT" -c "$T/main.conf" csv --day "$DAY" >>"$OUT" 2>&1 || bail "csv failed"
CSV=$T/csv-main/salesforce-leads-$DAY.csv
leads >"$T/before.json"
echo '{"day":"2000-01-01","exit":0}' >"$S/.salesforce-2000-01-01.json"
push main
is 0 "$(rc)" "push: exit 0 ($(cat "$T/e"))"
[ ! -e "$S/.salesforce-2000-01-01.json" ]; ok $? "a push record older than keep_days is removed"
like "$(cat "$T/o")" "rows 6, records updated 5, failed 0, not found 2, emails on several records 1" \
	"the summary line counts rows, updates, not found and shared emails"
leads >"$T/after.json"
# Every unconverted Lead whose email is a row carries the row's values.
node -e '
const fs=require("fs"), [csv, before, after]=process.argv.slice(1);
const {parse}=require("csv-parse/sync");
const rows=parse(fs.readFileSync(csv),{columns:true,strict:true});
const b=JSON.parse(fs.readFileSync(before)), a=JSON.parse(fs.readFileSync(after));
let bad=[];
for (const l of a) {
  const row=rows.find(r=>r.Email===l.Email.toLowerCase());
  const old=b.find(x=>x.Id===l.Id);
  if (!row || l.IsConverted) { if (JSON.stringify(old)!==JSON.stringify(l)) bad.push("changed "+l.Id); continue; }
  if (l.Last_Voice_Session__c!==row.Last_Voice_Session__c) bad.push(l.Id+" session");
  if (Date.parse(l.Last_Voice_Call_Date__c)!==Date.parse(row.Last_Voice_Call_Date__c)) bad.push(l.Id+" date");
  const tier=row.Voice_Qualification_Tier__c===""?old.Voice_Qualification_Tier__c:row.Voice_Qualification_Tier__c;
  if (l.Voice_Qualification_Tier__c!==tier) bad.push(l.Id+" tier");
  if (l.Voice_Calls__c!==Number(row.Voice_Calls__c)) bad.push(l.Id+" calls");
}
if (bad.length) { console.log(bad.join(", ")); process.exit(1); }' "$CSV" "$T/before.json" "$T/after.json"
ok $? "the org's Leads carry the day's CSV rows (an unknown tier leaves the field as it was)"
like "$(node -e 'const a=require(process.argv[1]);console.log(a.filter(l=>/^shared@/i.test(l.Email)).map(l=>l.Last_Voice_Session__c).join(" "))' "$T/after.json")" \
	"^s-shared s-shared$" "two Leads sharing one email are both updated"
is "before" "$(node -e 'const a=require(process.argv[1]);console.log(a.find(l=>l.IsConverted).Last_Voice_Session__c)' "$T/after.json")" \
	"a converted Lead is left alone"
R=$T/csv-main/salesforce-results-$DAY.csv
[ -f "$R" ]; ok $? "the results file is written beside the CSV"
cp "$R" "$T/clean-results.csv"
is "640" "$(stat -c %a "$R")" "the results file is mode 0640"
node -e '
const {parse}=require("csv-parse/sync");
const rows=parse(require("fs").readFileSync(process.argv[1]),{columns:true,strict:true});
const out=rows.map(r=>r.email+" "+r.outcome+" "+(r.record_id?"id":"-")).join("; ");
console.log(out);' "$R" >"$T/res.txt"
is "ann@example.com updated id; bob@example.com updated id; conv@example.com not found -; nobody@example.com not found -; o'neil@example.com updated id; shared@example.com updated id; shared@example.com updated id" \
	"$(cat "$T/res.txt")" "the results file lists every row: updated with its record, or not found (a quote in an email is escaped in SOQL)"
is 1 "$(count POST /services/oauth2/token)" "one sign-in"
is 1 "$(count POST '/jobs/ingest$')" "one ingest job"

"$EXPORT" -c "$T/main.conf" status >"$T/st" 2>&1
like "$(cat "$T/st")" "salesforce +$DAY exit 0: rows 6, updated 5, failed 0, not found 2, several 1" \
	"status shows the day's last push"
"$EXPORT" -c "$T/main.conf" status --json >"$T/st" 2>&1
is "5 2" "$(node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1]));
	const p=s.salesforce[process.argv[2]];console.log(p.updated+" "+p.not_found)' "$T/st" "$DAY")" \
	"status --json shows the push's counts"

# The same day again: the same end state (and a key file others may
# read draws one warning).
chmod 640 "$T/key.pem"
push main
chmod 600 "$T/key.pem"
like "$(cat "$T/e")" "warning: salesforce_private_key_file .* can be read by group or others" \
	"a key file group or others can read: one warning"
is 0 "$(rc)" "a second run exits 0"
leads >"$T/again.json"
cmp -s "$T/after.json" "$T/again.json"
ok $? "a second run reaches the same end state"
is 2 "$(count POST '/jobs/ingest$')" "the second run sends the updates again"

# ---- --dry-run ------------------------------------------------------------------
org
conf main "$S"
push main --dry-run
is 0 "$(rc)" "--dry-run exits 0"
like "$(cat "$T/o")" "would update Lead 00Q[A-Za-z0-9]{15} \(s\*\*\*@example.com\)" \
	"--dry-run says what it would update, emails masked"
like "$(cat "$T/o")" "dry run\): rows 6, records to update 5, not found 2" "--dry-run counts"
leads >"$T/dry.json"
cmp -s "$T/before.json" "$T/dry.json"
ok $? "--dry-run changes nothing in the org"
is 0 "$(count POST '/jobs/ingest$')" "--dry-run creates no ingest job"
is 1 "$(count POST '/jobs/query$')" "--dry-run queries"

# ---- client credentials -----------------------------------------------------------
org
conf cc "$S" "salesforce_client_secret_file = $T/secret"
sed -i '/^salesforce_private_key_file/d; /^salesforce_username/d' "$T/cc.tmpl"
push cc
is 0 "$(rc)" "client-credentials flow: exit 0 ($(cat "$T/e"))"
leads >"$T/cc.json"
cmp -s "$T/after.json" "$T/cc.json"
ok $? "client-credentials flow: the same end state as the JWT bearer flow"

# ---- --source target, and Contacts ------------------------------------------------
org
push main --source target
is 0 "$(rc)" "--source target: exit 0 ($(cat "$T/e"))"
leads >"$T/tgt.json"
cmp -s "$T/after.json" "$T/tgt.json"
ok $? "--source target: the rows of the target's partition, the same end state"
conf contact "$S" "salesforce_object = Contact"
sed -i '/^salesforce_object = Lead/d' "$T/contact.tmpl"
push contact
is 0 "$(rc)" "salesforce_object = Contact: exit 0"
like "$(cat "$T/o")" "rows 6, records updated 1, failed 0, not found 5" "... updates the one Contact"
is s-ann-2 "$(get '/__admin/records?object=Contact' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].Last_Voice_Session__c))')" \
	"... with the day's row"

# ---- a refused row: exit 65, listed in the results file ------------------------
# The calls' tiers fit the 255 characters docs/salesforce.md asks for, but
# this org's admin made the field Text(100): Salesforce refuses that row.
ORG_FIELDS='{"Voice_Qualification_Tier__c": 100}' org
conf refuse "$S2"
"$EXPORT" -c "$T/refuse.conf" upload >/dev/null 2>&1 || bail "upload failed"
push refuse
is 65 "$(rc)" "a row Salesforce refuses: exit 65"
like "$(cat "$T/o")" "rows 2, records updated 1, failed 1, not found 0" "the summary counts the refused row"
like "$(grep '^long@example.com' "$T/csv-refuse/salesforce-results-$DAY.csv")" \
	"^long@example.com,00Q[A-Za-z0-9]+,failed,STRING_TOO_LONG:" "the refused row and Salesforce's error are in the results file"
like "$(grep '^ann@example.com' "$T/csv-refuse/salesforce-results-$DAY.csv")" ",updated," \
	"the other row is updated"

# ---- faults ---------------------------------------------------------------------------
org
fault '{"expireAfter": 3}'
push main
is 0 "$(rc)" "a 401 INVALID_SESSION_ID mid-run: signs in again and goes on ($(cat "$T/e"))"
is 2 "$(count POST /services/oauth2/token)" "... with a second sign-in"
leads >"$T/f.json"; cmp -s "$T/after.json" "$T/f.json"
ok $? "... and the same end state"

org
fault '{"limit": 2, "serverError": 2}'
push main
is 0 "$(rc)" "REQUEST_LIMIT_EXCEEDED and 503 are retried with backoff ($(cat "$T/e"))"
leads >"$T/f.json"; cmp -s "$T/after.json" "$T/f.json"
ok $? "... and the push completes"

org
fault '{"limit": 1000}'
push main
is 75 "$(rc)" "REQUEST_LIMIT_EXCEEDED that persists: exit 75"
like "$(cat "$T/e")" "REQUEST_LIMIT_EXCEEDED.*retries exhausted" "... naming the error"
org
fault '{"serverError": 1000}'
push main
is 75 "$(rc)" "5xx that persists: exit 75"

org
fault '{"failJob": "ingest"}'
push main
is 75 "$(rc)" "an ingest job that ends Failed: exit 75"
like "$(cat "$T/e")" "ingest job 750[0-9]+ ended Failed: InvalidBatch : the stand-in was told to fail this job" \
	"... with Salesforce's errorMessage"
fault '{"abortJob": "query"}'
push main
is 75 "$(rc)" "a query job that is Aborted: exit 75"
like "$(cat "$T/e")" "query job .* ended Aborted" "... saying so"
render main
"$EXPORT" -c "$T/main.conf" status --json >"$T/st" 2>&1
is 75 "$(node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(s.salesforce[process.argv[2]].exit)' "$T/st" "$DAY")" \
	"status --json shows the failed push"

org
fault '{"neverComplete": true}'
CT_SF_DEADLINE=2 push main
is 75 "$(rc)" "a job that never completes: exit 75 at the deadline"
like "$(cat "$T/e")" "still InProgress after 2s" "... saying how long it waited"

# Past the upload limit: several ingest jobs (both sides lowered).
org 400
CT_SF_UPLOAD_MAX=300 CT_SF_SOQL_MAX=120 push main
is 0 "$(rc)" "a push larger than one upload: exit 0 ($(cat "$T/e"))"
n=$(count POST '/jobs/ingest$')
[ "$n" -ge 2 ]; ok $? "... split over several ingest jobs ($n)"
n=$(count POST '/jobs/query$')
[ "$n" -ge 2 ]; ok $? "... and the emails over several queries under the SOQL limit ($n)"
leads >"$T/f.json"; cmp -s "$T/after.json" "$T/f.json"
ok $? "... with the same end state"

# A crash between steps (killed while a job runs), then a re-run.
org
fault '{"neverComplete": true}'
render main
"$EXPORT" -c "$T/main.conf" salesforce --day "$DAY" >>"$OUT" 2>&1 &
victim=$!
wait_for 10 sh -c "[ \"\$(node -e 'fetch(process.argv[1]).then(r=>r.json()).then(l=>console.log(l.filter(e=>e.method===\"PATCH\").length))' $API/__admin/log)\" -ge 1 ]"
kill -9 "$victim" 2>/dev/null; wait "$victim" 2>/dev/null
fault '{"neverComplete": false}'
push main
is 0 "$(rc)" "a re-run after a crash mid-push exits 0"
leads >"$T/f.json"; cmp -s "$T/after.json" "$T/f.json"
ok $? "... and ends in the state of one clean run"

# Killed at every other step, then a re-run: each ends where one clean
# run does (the org's records and the results file).  The stand-in holds
# the step's request unanswered (the hang fault) until the run is killed.
while IFS='|' read -r method path step; do
	org
	fault "{\"hang\": {\"method\": \"$method\", \"path\": \"$path\"}}"
	render main
	"$EXPORT" -c "$T/main.conf" salesforce --day "$DAY" >>"$OUT" 2>&1 &
	victim=$!
	wait_for 10 sh -c "[ \"\$(node -e 'fetch(process.argv[1]).then(r=>r.json()).then(h=>console.log(h.count))' $API/__admin/hung)\" -ge 1 ]"
	ok $? "killed $step: the run got there"
	kill -9 "$victim" 2>/dev/null; wait "$victim" 2>/dev/null
	fault '{"hang": null}'
	rm -f "$R"
	push main
	is 0 "$(rc)" "... a re-run exits 0 ($(cat "$T/e"))"
	leads >"$T/f.json"; cmp -s "$T/after.json" "$T/f.json"
	ok $? "... the org ends in the state of one clean run"
	cmp -s "$T/clean-results.csv" "$R"
	ok $? "... and the results file is the clean run's"
done <<'EOF'
POST|/jobs/query$|after sign-in, creating the query job
GET|/jobs/query/[^/]+/results$|during the query job, reading its results
PUT|/jobs/ingest/[^/]+/batches$|after the ingest job is created, before its upload
PATCH|/jobs/ingest/[^/]+$|after the upload, before UploadComplete
GET|/jobs/ingest/[^/]+/successfulResults/?$|after the ingest job, reading its results
EOF

# A reply over the size cap fails at once with a clear message: no retry
# (every reply of this kind would be as large).
org
fault '{"huge": 100}'
push main
is 75 "$(rc)" "a reply over the size cap fails the push: exit 75, not a configuration error"
like "$(cat "$T/e")" "POST [^ ]*/jobs/query: reply larger than 1048576 bytes" "... saying which reply and the cap"
is 1 "$(count POST '/jobs/query$')" "... at once: the request is not retried"
is 0 "$(count POST '/jobs/ingest$')" "... and nothing is updated"

# ---- sign-in refused, configuration -----------------------------------------------
org
conf wrong "$S"
sed -i "s|^salesforce_private_key_file.*|salesforce_private_key_file = $T/wrong.pem|" "$T/wrong.tmpl"
push wrong
is 77 "$(rc)" "a private key the app does not hold: exit 77"
like "$(cat "$T/e")" "sign-in refused .*invalid_grant" "... naming Salesforce's answer"
is 0 "$(count POST '/jobs/')" "... before any job"
sed -i "s|^salesforce_private_key_file.*|salesforce_private_key_file = $T/key.pem|; s|^salesforce_username.*|salesforce_username = someone@else.example|" "$T/wrong.tmpl"
push wrong
is 77 "$(rc)" "a user the app is not approved for: exit 77"
conf cc2 "$S" "salesforce_client_secret_file = $T/wrongsecret"
sed -i '/^salesforce_private_key_file/d' "$T/cc2.tmpl"
echo wrong >"$T/wrongsecret"; chmod 600 "$T/wrongsecret"
push cc2
is 77 "$(rc)" "a wrong client secret: exit 77"
conf none "$S"
sed -i '/^salesforce_private_key_file/d' "$T/none.tmpl"
push none
is 78 "$(rc)" "no key and no secret: exit 78"
like "$(cat "$T/e")" "salesforce_private_key_file or salesforce_client_secret_file" "... naming the keys"

# ---- jsforce runs the same sequence against the stand-in -------------------------------
org
node "$top_srcdir/t/sf-jsforce.js" "$T/org.json" "$T/key.pem" "$CSV" >"$T/js.out" 2>&1
ok $? "jsforce (Bulk 2.0) signs in, queries and updates against the stand-in"
sed 's/^/# jsforce: /' "$T/js.out"
leads >"$T/js.json"
cmp -s "$T/after.json" "$T/js.json"
ok $? "jsforce's push and calltrail's reach the same end state"

# ---- nothing secret in any output -------------------------------------------------------
leak=0
for s in "$SECRET" "$(sed -n 2p "$T/key.pem")" ann@example.com bob@example.com \
	shared@example.com conv@example.com nobody@example.com long@example.com \
	"o'neil@example.com"; do
	grep -qiF -- "$s" "$OUT" && { diag "found in output: $s"; leak=1; }
done
tokens >>"$T/tokens"
[ "$(wc -l <"$T/tokens")" -ge 10 ] || diag "few tokens issued: $(wc -l <"$T/tokens")"
for t in $(cat "$T/tokens"); do
	grep -qF -- "$t" "$OUT" && { diag "a token is in the output"; leak=1; }
done
is 0 "$leak" "no secret, key, token or whole email in any output"

done_testing
