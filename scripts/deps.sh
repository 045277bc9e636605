#!/usr/bin/env bash
# scripts/deps.sh — install what building and testing calltrail needs on
# Debian 12: the -dev packages, the real peers the tests run (nginx,
# spawn-fcgi, Node.js for LiveKit's verifier, s3rver and csv-parse), and
# the test peers from npm (t/node, from the committed lockfile).
# As root it runs apt-get; otherwise it only checks and says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential autoconf automake pkg-config
      libfcgi-dev libjson-c-dev libjwt-dev libssl-dev libcurl4-openssl-dev zlib1g-dev
      nginx-light spawn-fcgi curl python3 nodejs mandoc time clang
      valgrind wrk strace
      dpkg-dev debhelper lintian systemd procps)
# t/browser.sh drives Debian's Chromium (headless) with playwright-core.
pkgs+=(chromium)
pkgs+=(openssl)   # t/salesforce.sh: the connected app's key and certificate
pkgs+=(libexpat1-dev)   # expat: the XML S3 and STS reply with (src/xml.c)
# Ceph's RADOS Gateway, a real S3 for t/rgw.sh (63 packages, 64 MiB)
pkgs+=(radosgw ceph-mon ceph-osd)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

if [ "$(id -u)" = 0 ] && [ -z "${CALLTRAIL_SKIP_APT:-}" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${pkgs[@]}"
	# Debian's nginx starts a system instance on port 80; the tests and the
	# demo run their own on loopback ports, so keep the machine quiet.
	if command -v service >/dev/null 2>&1; then service nginx stop >/dev/null 2>&1 || true; fi
else
	missing=()
	for p in "${pkgs[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "deps: missing Debian packages: ${missing[*]}" >&2
		echo "deps: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
fi

# The npm test peers, exactly as locked.
if [ ! -d t/node/node_modules/livekit-server-sdk ] ||
   [ t/node/package-lock.json -nt t/node/node_modules/.package-lock.json ]; then
	(cd t/node && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "deps: ready"
