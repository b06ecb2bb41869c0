#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (servers and oracle tools), when they are missing.
# On a machine where we are not root, prints the one line to run instead.
set -euo pipefail
need=()
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# A second XMLDSig implementation checks the trusted lists the tests sign.
command -v xmlsec1 >/dev/null 2>&1 || need+=(xmlsec1)
# The IMAP server of the PEC channel's tests.
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
# The archive's PdD tests check a bag the way an auditor would: unzip, sha256sum, python3.
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# The credential tests make Java keystores (JKS, JCEKS) with keytool, and check the systemd unit.
command -v keytool >/dev/null 2>&1 || need+=(default-jre-headless)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "test-deps: missing Debian packages; run: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
