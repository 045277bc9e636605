# t/rgw-lib.sh — sourced after t/lib.sh: Ceph's RADOS Gateway, a real S3
# implementation (SigV4 checked by the server, listings that page,
# SSE-KMS), started from nothing in about 2 s and gone at exit.
#
# One monitor and one OSD whose objects live in RAM (memstore), pools of
# size 1, no cephx (radosgw then needs "ms mon client mode = crc secure":
# its default "secure" never connects without cephx), paxos proposing
# every 0.1 s, and radosgw's beast frontend on a free loopback port with
# the "testing" KMS backend holding one key.  The shape is Ceph's
# vstart.sh, cut down to what S3 needs.  Everything (config, mon store,
# logs, sockets) lives in $T/ceph; every daemon is registered with bg_pid,
# so lib.sh's exit trap stops them all.
#
# Gives: $RGW_PORT, $RGW_URL, the user's keys in $RGW_AK/$RGW_SK, the KMS
# key's name in $RGW_KMS_KEY, rgw_conf FILE [PREFIX] (a calltrail.conf for
# s3://bucket/PREFIX), rgw_log (the tail of the daemons' logs, for a bail).

for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool ceph; do
	command -v "$b" >/dev/null ||
		skip_all "$b is not installed (apt-get install radosgw ceph-mon ceph-osd)"
done

CEPH=$T/ceph
CEPH_CONF=$CEPH/ceph.conf
RGW_AK=CALLTRAILRGWKEY0001
RGW_SK=calltrail-rgw-secret-0123456789abcdef
RGW_KMS_KEY=calltrail-test-key
export CEPH_CONF

rgw_log() {
	for f in "$CEPH"/log/*.log "$CEPH"/*.out; do
		[ -f "$f" ] && { echo "== $f"; tail -n 15 "$f"; }
	done 2>/dev/null | sed 's/^/# /'
}

rgw_start() {
	mon_port=$(free_port)
	RGW_PORT=$(free_port)
	RGW_URL=http://127.0.0.1:$RGW_PORT
	fsid=$(cat /proc/sys/kernel/random/uuid)
	osd_uuid=$(cat /proc/sys/kernel/random/uuid)
	mkdir -p "$CEPH/run" "$CEPH/log" "$CEPH/mon.a" "$CEPH/osd.0"
	# the testing KMS backend: NAME=BASE64 of a 256-bit key
	kms=$(head -c 32 /dev/urandom | base64)
	cat >"$CEPH_CONF" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
run dir = $CEPH/run
admin socket = $CEPH/run/\$name.asok
log file = $CEPH/log/\$name.log
pid file = $CEPH/run/\$name.pid
keyring = $CEPH/keyring
mon data = $CEPH/mon.\$id
osd data = $CEPH/osd.\$id
osd objectstore = memstore
memstore device bytes = 1073741824
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd crush chooseleaf type = 0
paxos propose interval = 0.1
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = $RGW_KMS_KEY=$kms
rgw crypt require ssl = false
EOF
	# The mon's own key: ceph-mon --mkfs wants a keyring even without cephx.
	ceph-authtool --create-keyring "$CEPH/keyring" --gen-key -n mon. --cap mon 'allow *' \
		>"$CEPH/setup.out" 2>&1 &&
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$CEPH/monmap" \
		>>"$CEPH/setup.out" 2>&1 &&
	ceph-mon --mkfs -i a --monmap "$CEPH/monmap" --keyring "$CEPH/keyring" \
		>>"$CEPH/setup.out" 2>&1 || bail "ceph-mon --mkfs failed: $(rgw_log)"
	ceph-mon -f -i a >"$CEPH/mon.out" 2>&1 &
	bg_pid $!
	# "osd new" waits for the monitor's quorum, so it is the readiness check
	timeout 30 ceph osd new "$osd_uuid" >>"$CEPH/setup.out" 2>&1 ||
		bail "the Ceph monitor did not start: $(rgw_log)"
	ceph-osd --mkfs -i 0 --osd-uuid "$osd_uuid" >>"$CEPH/setup.out" 2>&1 ||
		bail "ceph-osd --mkfs failed: $(rgw_log)"
	ceph-osd -f -i 0 >"$CEPH/osd.out" 2>&1 &
	bg_pid $!
	radosgw -f -n client.rgw >"$CEPH/rgw.out" 2>&1 &
	bg_pid $!
	wait_for 60 curl -sf -o /dev/null "$RGW_URL/" ||
		bail "radosgw did not answer on $RGW_URL: $(rgw_log)"
	radosgw-admin user create --uid=calltrail --display-name=calltrail \
		--access-key="$RGW_AK" --secret-key="$RGW_SK" >"$CEPH/user.out" 2>&1 ||
		bail "radosgw-admin user create failed: $(tail -n 5 "$CEPH/user.out")"
}

# rgw_conf FILE [PREFIX]: a calltrail.conf for s3://bucket/PREFIX on rgw.
rgw_conf() {
	cat >"$1" <<EOF
spool_dir = $T/spool
target = s3://bucket${2:+/$2}
s3_endpoint = $RGW_URL
s3_region = us-east-1
s3_concurrency = 8
csv_dir = $T/csv
keep_days = 3650
EOF
}

rgw_t0=$(date +%s.%N)
rgw_start
diag "radosgw up in $(awk -v a="$rgw_t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s on $RGW_URL"
