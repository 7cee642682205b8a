#!/bin/sh
# Runs inside the VM (tests/vm/vm-run.sh): doctor must see kernel TLS for every version, cipher
# and direction, then askr_ktls_vm moves the records.
set -e
askr-proxy doctor >/tmp/doctor.txt 2>&1 || true
sed -n '/^kTLS/,/^SO_INCOMING_CPU/p' /tmp/doctor.txt | grep -v '^SO_INCOMING_CPU'
for v in TLS1.2 TLS1.3; do
  for c in AES-128-GCM AES-256-GCM CHACHA20-POLY1305; do
    grep -q "^  $v $c *send and receive" /tmp/doctor.txt ||
      { echo "FAIL: doctor does not offer $v $c both ways"; exit 1; }
  done
done
exec askr_ktls_vm "$@"
