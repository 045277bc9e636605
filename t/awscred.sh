#!/bin/sh
# t/awscred.sh — the AWS credential chain (SPEC section 5) against
# stand-ins on loopback that follow AWS's documentation (t/aws-standin.js):
# each source resolved by calltrail (t/awscred-drv) and, from the same
# environment, by the AWS SDK for JavaScript's own providers
# (t/awscred-sdk.js): both must name the same access key id.  Then the
# order of the chain, the refresh before expiry, the errors naming their
# source, and no secret or token anywhere in what was printed.
. "${top_srcdir:-.}/t/lib.sh"
need_node_modules
command -v node >/dev/null || skip_all "node is not installed"
[ -d "$NODE_PATH/@aws-sdk/credential-providers" ] ||
	bail "@aws-sdk/credential-providers is missing from $NODE_PATH (npm ci in t/node)"

DRV=$top_builddir/t/awscred-drv
OUT=$T/all-output            # everything any program printed, for the leak check

node "$top_srcdir/t/aws-standin.js" "$T/standin.port" 2>"$T/standin.log" &
bg_pid $!
wait_for 20 test -s "$T/standin.port" || bail "aws-standin did not start: $(cat "$T/standin.log")"
P=$(cat "$T/standin.port")
stats() { curl -sf "http://127.0.0.1:$P/__standin/stats"; }
stat_of() { stats | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]))' "$1"; }

# A clean slate: no home, no AWS variable from the caller, and never the
# real metadata address.
for v in $(env | sed -n 's/^\(AWS_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
HOME=$T/nohome; export HOME
AWS_EC2_METADATA_DISABLED=true; export AWS_EC2_METADATA_DISABLED
AWS_REGION=us-east-1; export AWS_REGION
unset CALLTRAIL_CONF
printf 'spool_dir = %s/spool\n' "$T" >"$T/calltrail.conf"
CONF=$T/calltrail.conf

drv() { "$DRV" -c "$CONF" "$@" 2>&1 | tee -a "$OUT"; }
sdk() { NODE_NO_WARNINGS=1 node "$top_srcdir/t/awscred-sdk.js" "$1" 2>&1 | tee -a "$OUT"; }
keyof() { printf '%s\n' "$1" | sed -n 's/.*key=\([^ ]*\).*/\1/p' | head -n 1; }
srcof() { printf '%s\n' "$1" | sed -n 's/^source=\(.*\) key=.*/\1/p' | head -n 1; }

# check NAME SDK-PROVIDER WANT-SOURCE WANT-KEY: both resolve WANT-KEY.
check() {
	c=$(drv get); s=$(sdk "$2")
	is "$3 $4" "$(srcof "$c") $(keyof "$c")" "$1: calltrail resolves $4 from $3"
	is "$4" "$(keyof "$s")" "$1: the AWS SDK's provider resolves the same key ($s)"
}

# ---- the environment
AWS_ACCESS_KEY_ID=AKIAENVSTANDIN01 AWS_SECRET_ACCESS_KEY=env-STANDINSECRET-1 \
	AWS_SESSION_TOKEN=env-STANDINTOKEN-1; export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
check "environment" env environment AKIAENVSTANDIN01
like "$(drv get)" "token=yes expires_in=-1" "environment: the session token is taken, no expiry"
unset AWS_SESSION_TOKEN AWS_SECRET_ACCESS_KEY
like "$(drv get)" "^error configuration.*environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET" \
	"environment: half a key pair is an error naming the variables"
unset AWS_ACCESS_KEY_ID

# ---- the shared files: credentials file, config file, AWS_PROFILE
mkdir -p "$T/aws"
cat >"$T/aws/credentials" <<EOF
[default]
aws_access_key_id = AKIADEFSTANDIN01
aws_secret_access_key = def-STANDINSECRET-2
[ci]
aws_access_key_id=AKIACISTANDIN01
aws_secret_access_key=ci-STANDINSECRET-3
aws_session_token = ci-STANDINTOKEN-3
EOF
cat >"$T/aws/config" <<EOF
[default]
region = eu-central-1
[profile viaconfig]
aws_access_key_id = AKIACFGSTANDIN01
aws_secret_access_key = cfg-STANDINSECRET-4
region = ap-south-1
[profile proc]
credential_process = node "$T/proc dir/creds.js" --key 'AKIAPROCSTANDIN1'
region = eu-west-1
[profile broken]
credential_process = node "$T/proc dir/creds.js" --fail
EOF
AWS_SHARED_CREDENTIALS_FILE=$T/aws/credentials AWS_CONFIG_FILE=$T/aws/config
export AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE
check "credentials file, default profile" ini "shared credentials file" AKIADEFSTANDIN01
AWS_PROFILE=ci; export AWS_PROFILE
check "credentials file, AWS_PROFILE=ci" ini "shared credentials file" AKIACISTANDIN01
AWS_PROFILE=viaconfig
check "config file, [profile viaconfig]" ini "shared credentials file" AKIACFGSTANDIN01
AWS_PROFILE=nosuch
like "$(drv get)" '^error configuration.*profile "nosuch".*neither' "a named profile that is missing is an error"

# credential_process: run without a shell, its words split like botocore's
mkdir -p "$T/proc dir"
cat >"$T/proc dir/creds.js" <<'EOF'
const a = process.argv.slice(2);
if (a[0] === "--fail") { console.error("creds.js: no credentials for you"); process.exit(3); }
const exp = new Date(Date.now() + 3600e3).toISOString();
console.log(JSON.stringify({ Version: 1, AccessKeyId: a[1], SecretAccessKey: "proc-STANDINSECRET-5",
  SessionToken: "proc-STANDINTOKEN-5", Expiration: exp }));
EOF
AWS_PROFILE=proc
check "credential_process" process credential_process AKIAPROCSTANDIN1
like "$(drv get)" "token=yes expires_in=35[0-9][0-9]" "credential_process: token and Expiration taken"
AWS_PROFILE=broken
like "$(drv get)" 'error configuration.*credential_process: "node" exited with status 3' \
	"credential_process: a failing program is an error naming the source"
is "[node]
[/a b/c.js]
[--x=1 2]
[it's]
[]" "$("$DRV" split "node '/a b/c.js' \"--x=1 2\" it\\'s ''")" "credential_process: the command line is split like a shell's words, without one"
like "$("$DRV" split "node 'unbalanced")" "^error" "credential_process: an unbalanced quote is refused"
unset AWS_PROFILE

# ---- region: AWS_REGION, AWS_DEFAULT_REGION, s3_region, the profile's, us-east-1
is "us-east-1" "$(drv region)" "region: AWS_REGION first"
unset AWS_REGION
is "eu-central-1" "$(drv region)" "region: the default profile's region"
is "ap-south-1" "$(AWS_PROFILE=viaconfig drv region)" "region: AWS_PROFILE's region"
printf 's3_region = sa-east-1\n' >>"$CONF"
is "sa-east-1" "$(drv region)" "region: s3_region beats the profile"
is "us-west-2" "$(AWS_DEFAULT_REGION=us-west-2 drv region)" "region: AWS_DEFAULT_REGION beats s3_region"
printf 'spool_dir = %s/spool\n' "$T" >"$CONF"
is "us-east-1" "$(AWS_CONFIG_FILE=/nonexistent drv region)" "region: us-east-1 at last"
like "$(AWS_REGION='Not A Region' drv region)" '^error configuration.*AWS_REGION' "region: a bad name is refused, naming its origin"
AWS_REGION=us-east-1; export AWS_REGION
unset AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE

# ---- web identity: STS AssumeRoleWithWebIdentity
printf 'eyJ-web-identity-STANDINTOKEN' >"$T/webid.token"
ln -s "$T/webid.token" "$T/webid.link"   # projected volumes are symlinks
AWS_WEB_IDENTITY_TOKEN_FILE=$T/webid.link AWS_ROLE_ARN=arn:aws:iam::123456789012:role/calltrail
AWS_ENDPOINT_URL_STS=http://127.0.0.1:$P/
export AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ENDPOINT_URL_STS
check "web identity (STS)" tokenfile "web identity" ASIASTSSTANDIN01
AWS_ROLE_ARN=arn:aws:iam::123456789012:role/other
like "$(drv get)" "^error remote.*web identity.*STS refused: AccessDenied" "web identity: STS's refusal is named"
AWS_ROLE_ARN=arn:aws:iam::123456789012:role/calltrail
printf 'wrong-token\n' >"$T/webid.token"
like "$(drv get)" "^error temporary.*InvalidIdentityToken" "web identity: a token STS cannot validate"
unset AWS_ENDPOINT_URL_STS
AWS_ENDPOINT_URL=http://127.0.0.1:$P/; export AWS_ENDPOINT_URL
printf 'eyJ-web-identity-STANDINTOKEN' >"$T/webid.token"
like "$(drv get)" "source=web identity key=ASIASTSSTANDIN01" "web identity: AWS_ENDPOINT_URL when AWS_ENDPOINT_URL_STS is unset"
unset AWS_ENDPOINT_URL AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN

# ---- the container endpoint
AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$P/container/creds
AWS_CONTAINER_AUTHORIZATION_TOKEN=container-auth-STANDINTOKEN
export AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN
check "container endpoint" container "container credentials" ASIACONTAINERSTANDIN01
unset AWS_CONTAINER_AUTHORIZATION_TOKEN
printf 'container-auth-STANDINTOKEN' >"$T/ct.token"
AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$T/ct.token; export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
check "container endpoint, token file (EKS Pod Identity)" http "container credentials" ASIACONTAINERSTANDIN01
unset AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
like "$(drv get)" "^error remote.*container credentials: .*HTTP 401" "container: a missing authorization token is a 401, named"
AWS_CONTAINER_CREDENTIALS_FULL_URI=http://example.com:$P/container/creds
like "$(drv get)" "^error configuration.*must be https" "container: plain http only to loopback or the ECS/EKS address"
unset AWS_CONTAINER_CREDENTIALS_FULL_URI

# ---- IMDSv2
unset AWS_EC2_METADATA_DISABLED
AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$P; export AWS_EC2_METADATA_SERVICE_ENDPOINT
u0=$(stat_of unauthorized)
check "IMDSv2" imds IMDSv2 ASIAIMDSSTANDIN01
is "$u0" "$(stat_of unauthorized)" "IMDSv2: calltrail never asked without the session token"
like "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/latest/meta-data/iam/security-credentials/")" \
	"^401$" "IMDSv2: the stand-in answers 401 without the token (a v1 request)"
AWS_EC2_METADATA_DISABLED=true; export AWS_EC2_METADATA_DISABLED
like "$(drv get)" "^error configuration.*no AWS credentials.*AWS_EC2_METADATA_DISABLED" \
	"IMDSv2: AWS_EC2_METADATA_DISABLED honoured"
unset AWS_EC2_METADATA_DISABLED

# Order: every source configured at once; each removal reveals the next.
AWS_WEB_IDENTITY_TOKEN_FILE=$T/webid.link AWS_ROLE_ARN=arn:aws:iam::123456789012:role/calltrail
AWS_ENDPOINT_URL_STS=http://127.0.0.1:$P/
AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$P/container/creds
AWS_CONTAINER_AUTHORIZATION_TOKEN=container-auth-STANDINTOKEN
AWS_SHARED_CREDENTIALS_FILE=$T/aws/credentials
AWS_ACCESS_KEY_ID=AKIAENVSTANDIN01 AWS_SECRET_ACCESS_KEY=env-STANDINSECRET-1
export AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ENDPOINT_URL_STS AWS_CONTAINER_CREDENTIALS_FULL_URI \
	AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_SHARED_CREDENTIALS_FILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
order=$(drv get | cut -d' ' -f1-2)
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
order="$order,$(drv get | cut -d' ' -f1-2)"
unset AWS_SHARED_CREDENTIALS_FILE
order="$order,$(drv get | cut -d' ' -f1-3)"
unset AWS_WEB_IDENTITY_TOKEN_FILE
order="$order,$(drv get | cut -d' ' -f1-2)"
unset AWS_CONTAINER_CREDENTIALS_FULL_URI
order="$order,$(drv get | cut -d' ' -f1)"
is "source=environment key=AKIAENVSTANDIN01,source=shared credentials,source=web identity key=ASIASTSSTANDIN01,source=container credentials,source=IMDSv2" \
	"$order" "the chain's order: environment, shared files, web identity, container, IMDSv2"
unset AWS_ROLE_ARN AWS_ENDPOINT_URL_STS AWS_CONTAINER_AUTHORIZATION_TOKEN

# ---- refresh: credentials that expire in 5 min 2 s are asked for again
# once fewer than 5 minutes are left; a forced get (ExpiredToken) always asks.
STANDIN_TTL=302 node "$top_srcdir/t/aws-standin.js" "$T/standin2.port" 2>>"$T/standin.log" &
bg_pid $!
wait_for 20 test -s "$T/standin2.port" || bail "second aws-standin did not start"
P=$(cat "$T/standin2.port")
AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$P
r=$(drv -n 5 -i 1000 get)
n=$(stat_of imds)
like "$r" "expires_in=30[01]" "refresh: the stand-in's credentials expire in about 5 min 2 s"
ok "$([ "$n" -ge 2 ] && [ "$n" -le 4 ] && echo 0 || echo 1)" "refresh: 5 gets over 4 s asked IMDS again before expiry ($n fetches)"
drv -n 3 -f get >/dev/null
is "$((n + 3))" "$(stat_of imds)" "refresh: a forced get (after ExpiredToken) asks the source again"
# no role attached
STANDIN_ROLE= node "$top_srcdir/t/aws-standin.js" "$T/standin3.port" 2>>"$T/standin.log" &
bg_pid $!
wait_for 20 test -s "$T/standin3.port" || bail "third aws-standin did not start"
AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$(cat "$T/standin3.port")
like "$(drv get)" "^error configuration: IMDSv2: no role attached to the instance" "IMDSv2: no role attached, said so"
AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$(free_port)
like "$(drv get)" "^error .*IMDSv2: .* not reachable" "IMDSv2: an endpoint that does not answer is named"

# ---- nothing secret was ever printed
if grep -n 'STANDINSECRET\|STANDINTOKEN' "$OUT" >"$T/leaks"; then
	ok 1 "no secret key or token in any output"; sed 's/^/# /' "$T/leaks"
else
	ok 0 "no secret key or token in any output ($(wc -l <"$OUT") lines checked)"
fi
done_testing
