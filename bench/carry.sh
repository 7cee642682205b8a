#!/usr/bin/env bash
# Carries the benchmarks' programs to a machine that has no package archive to install from (a
# larger machine lent for a run, with another distribution on it): the Askr binaries built here,
# the Debian 12 peers and clients, and the shared libraries they were linked against.
#
#   bench/carry.sh pack DIR [BUILD]   here: Debian 12 with the bench packages installed
#                                     (scripts/deps.sh bench) and Askr built in BUILD [build]
#   bench/carry.sh unpack DIR         there, from the repository root: writes DIR/bin, one small
#                                     launcher per program that runs it with DIR/lib, then prints
#                                     the environment the bench scripts need, to be eval'ed
#
# Then, there:  eval "$(bench/carry.sh unpack DIR)"; bench/static.sh ...  (ASKR, H2O, NGINX and
# BUILD as printed; scripts/deps.sh is skipped by ASKR_DEPS=skip). Only the peers' programs and
# libraries travel: the C library is the other machine's (a newer glibc runs these binaries), and
# nginx's mime.types and fastcgi_params (which the bench configurations include) go to
# /etc/nginx there when missing.
set -euo pipefail

die() { echo "carry.sh: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: bench/carry.sh pack DIR [BUILD] | unpack DIR"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
programs=(askr-proxy nginx wrk h2load h2o curl openssl)

case "$1" in
  pack)
    dir=$2 build=${3:-$repo/build}
    [ -x "$build/proxy/askr-proxy" ] || die "no askr-proxy in $build (scripts/build.sh release)"
    rm -rf "$dir"
    mkdir -p "$dir/real" "$dir/lib" "$dir/etc"
    for p in "${programs[@]}"; do
      if [ "$p" = askr-proxy ]; then src=$build/proxy/askr-proxy; else src=$(command -v "$p") ||
        die "no $p here (scripts/deps.sh bench)"; fi
      strip -o "$dir/real/$p" "$src"
      # Every library the program loads, except the C library's own, which the other machine has.
      ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
        grep -v -E '/(libc|libm|libpthread|libdl|librt|libresolv|libutil|libanl|ld-linux[^/]*)\.so' |
        while read -r lib; do cp -L -n "$lib" "$dir/lib/"; done
    done
    cp /etc/nginx/mime.types /etc/nginx/fastcgi_params "$dir/etc/"
    git -C "$repo" rev-parse --short HEAD >"$dir/rev" 2>/dev/null || echo unknown >"$dir/rev"
    du -sh "$dir"
    ;;
  unpack)
    dir=$(cd "$2" && pwd)
    mkdir -p "$dir/bin" "$dir/build/proxy"
    for p in "${programs[@]}"; do
      printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/lib exec %s/real/%s "$@"\n' "$dir" "$dir" "$p" >"$dir/bin/$p"
      chmod 755 "$dir/bin/$p"
    done
    cp "$dir/bin/askr-proxy" "$dir/build/proxy/askr-proxy"
    for f in mime.types fastcgi_params; do
      [ -e "/etc/nginx/$f" ] || { mkdir -p /etc/nginx && cp "$dir/etc/$f" /etc/nginx/; }
    done
    for p in "${programs[@]}"; do
      ! LD_LIBRARY_PATH=$dir/lib ldd "$dir/real/$p" 2>&1 | grep 'not found' >&2 || die "$p cannot run here"
    done
    echo "export PATH=$dir/bin:\$PATH ASKR_DEPS=skip ASKR=$dir/bin/askr-proxy NGINX=$dir/bin/nginx" \
      "H2O=$dir/bin/h2o H2LOAD=$dir/bin/h2load BUILD=$dir/build"
    ;;
  *) die "unknown command '$1'" ;;
esac
