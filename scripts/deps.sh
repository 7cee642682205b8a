#!/usr/bin/env bash
# Installs the Debian packages Askr needs that are missing. Idempotent and quiet when all is
# there. Usage: scripts/deps.sh [build|test|bench]...
set -euo pipefail
# ASKR_DEPS=skip: a machine with no package archive to install from (a benchmark host that the
# binaries were carried to, see bench/carry.sh); whoever runs there has put the programs on PATH.
[ "${ASKR_DEPS:-}" = skip ] && exit 0

build=(build-essential cmake ninja-build pkg-config liburing-dev libtomlplusplus-dev libssl-dev libphp8.2-embed php8.2-dev libxml2-dev
       libnghttp2-dev)
test=(googletest libgtest-dev openssl curl clang-14 libclang-rt-14-dev php8.2-fpm php8.2-cli nginx-light
      # The real apps of tests/integration/apps_test.cc. `php` (the metapackage) is satisfied
      # by php8.2-fpm; without it, wordpress's "libapache2-mod-php | php" pulls in Apache.
      php php8.2-mysql mariadb-server wordpress wordpress-theme-twentytwentythree
      php-symfony-framework-bundle php-laravel-framework
      # tests/vm: Debian's kernel (which has kernel TLS) under QEMU with a busybox initramfs.
      qemu-system-x86 busybox-static
      # HTTP/2 clients of tests/integration/http2_test.cc: nghttp and h2load, hand-built frames
      # (python3-h2 brings hyperframe and hpack), Node's http2 module.
      nghttp2-client python3-h2 nodejs
      # tests/integration/testssl_test.cc: an outside audit of the TLS listener.
      testssl.sh)
bench=(nginx-light h2o wrk strace procps linux-perf valgrind)

want=("${build[@]}")
for set in "$@"; do
  case "$set" in
    build) ;;
    test) want+=("${test[@]}") ;;
    bench) want+=("${test[@]}" "${bench[@]}") ;;
    *) echo "deps.sh: unknown set '$set'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The packaged nginx must not start a system instance: tests and benchmarks start their own.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Nor a system h2o or MariaDB (their packages enable and, where services may start, start
# one; the app tests start a private mariadbd): the services of those packages that were just
# installed are stopped and disabled.
for svc in nginx h2o mariadb; do
  [[ " ${missing[*]} " == *" $svc"[\ -]* ]] || continue
  [ -e "/lib/systemd/system/$svc.service" ] || continue
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
  else
    $sudo service "$svc" stop >/dev/null 2>&1 || true
  fi
done
