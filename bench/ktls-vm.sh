#!/usr/bin/env bash
# Kernel TLS against user-space TLS, in the VM of the kTLS test (Debian's kernel under QEMU,
# software emulation): askr-proxy's CPU time (utime + stime) for a 10 MiB download and a 10 MiB
# upload (to a PHP page) over TLS 1.3, with ktls = "on" and "off", RUNS of each alternating;
# prints the ticks of each run and the median as MiB per CPU second. The kernel gets its AES-NI
# and CLMUL drivers (vm-run.sh -a), as OpenSSL uses those instructions too. The figures compare
# the two modes with each other only: under emulation they say nothing of native speed.
#
#   bench/ktls-vm.sh [BUILD_DIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
runs="${2:-5}"
exec tests/vm/vm-run.sh "$build/vm-cache" -t 590 -a \
  -b "$build/proxy/askr-proxy" -b "$build/worker/askr-worker" \
  -b "$(command -v curl)" -b "$(command -v openssl)" \
  -f /usr/lib/ssl/openssl.cnf=usr/lib/ssl/openssl.cnf \
  -f tests/vm/ktls-proxy-vm.sh=ktls-proxy-vm.sh -- sh /ktls-proxy-vm.sh bench "$runs"
