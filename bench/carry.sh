#!/usr/bin/env bash
# Carries the benchmarks' programs to a machine that has no package archive to install from (a
# larger machine lent for a run, with another distribution on it): the Askr binaries built here,
# the Debian 12 peers and clients, PHP 8.2 (php-fpm, the CLI, libphp and their extensions), the
# PHP libraries of the Symfony test app, and the shared libraries all of these were linked
# against.
#
#   bench/carry.sh pack DIR [BUILD]   here: Debian 12 with the bench packages installed
#                                     (scripts/deps.sh bench) and Askr built in BUILD [build];
#                                     writes DIR/carry.tar.xz (and DIR/rev), nothing else
#   bench/carry.sh unpack DIR         there, from the repository root, as root: unpacks
#                                     DIR/carry.tar.xz into DIR, writes DIR/bin, one small
#                                     launcher per program that runs it with DIR/lib, then prints
#                                     the environment the bench scripts need, to be eval'ed
#
# Then, there:  eval "$(bench/carry.sh unpack DIR)"; bench/static.sh ...  (ASKR, ASKR_BIN,
# ASKR_WORKER_BIN, H2O, NGINX, H2LOAD, BUILD, PHP_FPM, PHP_CLI, PHP_INI and ASKR_REV as printed;
# scripts/deps.sh is skipped by ASKR_DEPS=skip). For the device tool, DIR is best a folder of
# the repository that git ignores, such as build-carry (carry: ["build-carry"]).
#
# Only the programs and the libraries they load travel: the C library is the other machine's (a
# newer glibc runs these binaries). What the programs look for at paths compiled into them goes
# to those paths there, file by file where missing, never over a file that is there:
#   /etc/nginx                mime.types and fastcgi_params (the bench configurations include them)
#   /etc/php/8.2              php.ini, conf.d and mods-available of fpm, cli and embed
#   /usr/lib/php/20220829     the extensions that those conf.d directories load
#   /usr/share/php            the packages that Symfony/Bundle/FrameworkBundle/autoload.php pulls
#                             in (the Symfony app of tests/apps; bench/php.sh APPS="hello app
#                             symfony"; not Laravel, nor WordPress and MariaDB)
#   /usr/share/zoneinfo       the time zones (Debian's PHP reads the system's; without them it
#                             warns at start and date() crashes)
# The libraries the extensions load are in DIR/lib with the others: the PHP launchers set
# LD_LIBRARY_PATH, and PHP's dlopen() of an extension finds them there. Everything is packed into
# one xz-compressed tar so that DIR stays small (the libraries alone are ~105 MB, ICU and the
# image codecs that gd.so loads being most of it).
set -euo pipefail

die() { echo "carry.sh: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: bench/carry.sh pack DIR [BUILD] | unpack DIR"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
programs=(askr-proxy askr-worker nginx wrk h2load h2o curl openssl php-fpm8.2 php8.2)
php_api=20220829
php_etc=/etc/php/8.2
php_ext=/usr/lib/php/$php_api
php_share=/usr/share/php
zoneinfo=/usr/share/zoneinfo

# Copies every library FILE loads (ldd: also the libraries of its libraries) into LIBDIR, except
# the C library's own, which the other machine has.
copy_libs() { # FILE LIBDIR
  ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
    { grep -v -E '/(libc|libm|libpthread|libdl|librt|libresolv|libutil|libanl|ld-linux[^/]*)\.so' || true; } |
    while read -r lib; do cp -L -n "$lib" "$2/"; done
}

# Where PROGRAM is here.
program_path() { # PROGRAM BUILD
  case "$1" in
    askr-proxy) echo "$2/proxy/askr-proxy" ;;
    askr-worker) echo "$2/worker/askr-worker" ;;
    php-fpm8.2) echo /usr/sbin/php-fpm8.2 ;;
    *) command -v "$1" || die "no $1 here (scripts/deps.sh bench)" ;;
  esac
}

# The extension files that PHP's fpm, cli and embed SAPIs load (extension= and zend_extension=
# lines of their php.ini and conf.d), one path a line.
php_extensions() {
  cat "$php_etc"/{fpm,cli}/php.ini "$php_etc"/{fpm,cli,embed}/conf.d/*.ini 2>/dev/null |
    sed -nE 's/^[ \t]*(zend_)?extension[ \t]*=[ \t]*"?([^"; \t]+).*/\2/p' | sort -u |
    while read -r e; do
      case "$e" in /*) ;; *.so) e=$php_ext/$e ;; *) e=$php_ext/$e.so ;; esac
      [ -e "$e" ] || die "PHP loads $e, which is not there"
      echo "$e"
    done
}

# The package folders of /usr/share/php that the Symfony app's autoloader loads (Debian's
# autoload.php files require, or include when present, those of the packages they use), relative
# to /usr/share/php.
php_share_dirs() {
  [ -r "$php_share/Symfony/Bundle/FrameworkBundle/autoload.php" ] ||
    die "php-symfony-framework-bundle is not installed (scripts/deps.sh bench)"
  php8.2 -n -d include_path=".:$php_share" -r '
    require_once "Symfony/Bundle/FrameworkBundle/autoload.php";
    foreach (get_included_files() as $f) if (basename($f) === "autoload.php") echo dirname($f), "\n";' |
    sed -n "s|^$php_share/||p" | sort -u
}

pack() { # DIR BUILD
  local dir=$1 build=$2 stage p src e
  [ -x "$build/proxy/askr-proxy" ] || die "no askr-proxy in $build (scripts/build.sh release)"
  [ -x "$build/worker/askr-worker" ] || die "no askr-worker in $build (scripts/build.sh release)"
  command -v xz >/dev/null || die "no xz here (xz-utils)"
  rm -rf "$dir"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  stage="$dir/stage"
  mkdir -p "$stage/real" "$stage/lib" "$stage/etc" "$stage/root$php_ext" "$stage/root$php_share"
  for p in "${programs[@]}"; do
    src=$(program_path "$p" "$build")
    [ -x "$src" ] || die "no $p at $src (scripts/deps.sh bench)"
    strip -o "$stage/real/$p" "$src"
    copy_libs "$src" "$stage/lib"
  done
  cp /etc/nginx/mime.types /etc/nginx/fastcgi_params "$stage/etc/"
  # PHP: its configuration as it is here (conf.d holds absolute symbolic links into
  # mods-available), the extensions it loads and their libraries, the Symfony app's packages.
  mkdir -p "$stage/root/etc/php" "$stage/root/usr/share"
  cp -a "$php_etc" "$stage/root/etc/php/"
  cp -a "$zoneinfo" "$stage/root/usr/share/"
  for e in $(php_extensions); do
    strip -o "$stage/root$php_ext/$(basename "$e")" "$e"
    copy_libs "$e" "$stage/lib"
  done
  (cd "$php_share" && cp -a --parents $(php_share_dirs) "$stage/root$php_share/")
  git -C "$repo" rev-parse --short HEAD >"$dir/rev" 2>/dev/null || echo unknown >"$dir/rev"
  echo "packed $(du -sh "$stage" | cut -f1) into $dir/carry.tar.xz" >&2
  tar -C "$stage" -cf - . | xz -T0 -6 >"$dir/carry.tar.xz"
  rm -rf "$stage"
  du -sh "$dir"
}

# Copies the files of the tree under SRC to the same paths under DST where DST has none (a
# file or link that is there is kept as it is); prints how many files DST gained.
install_missing() { # SRC DST
  local before
  mkdir -p "$2"
  before=$(find "$2" ! -type d | wc -l)
  tar -C "$1" -cf - . | tar -C "$2" --skip-old-files -xf -
  echo $(($(find "$2" ! -type d | wc -l) - before))
}

unpack() { # DIR
  local dir p t n
  dir=$(cd "$1" && pwd)
  [ -e "$dir/carry.tar.xz" ] || die "no $dir/carry.tar.xz (bench/carry.sh pack $1, on the Debian 12 machine)"
  rm -rf "$dir/real" "$dir/lib" "$dir/etc" "$dir/root"
  if command -v xz >/dev/null; then
    tar -C "$dir" -xJf "$dir/carry.tar.xz"
  else # Python's lzma module where xz-utils is missing
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' \
      "$dir/carry.tar.xz" | tar -C "$dir" -xf - || die "cannot unpack $dir/carry.tar.xz (no xz here)"
  fi
  mkdir -p "$dir/bin" "$dir/build/proxy" "$dir/build/worker"
  for p in "${programs[@]}"; do
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/lib exec %s/real/%s "$@"\n' "$dir" "$dir" "$p" >"$dir/bin/$p"
    chmod 755 "$dir/bin/$p"
  done
  # The build tree's layout, which the bench scripts default to (askr-proxy finds askr-worker in
  # ../worker/ next to itself).
  cp "$dir/bin/askr-proxy" "$dir/build/proxy/askr-proxy"
  cp "$dir/bin/askr-worker" "$dir/build/worker/askr-worker"
  for f in mime.types fastcgi_params; do
    [ -e "/etc/nginx/$f" ] || { mkdir -p /etc/nginx && cp "$dir/etc/$f" /etc/nginx/; }
  done
  for t in "$php_etc" "$php_ext" "$php_share" "$zoneinfo"; do
    n=$(install_missing "$dir/root$t" "$t")
    echo "carry.sh: $t: $n files added" >&2
  done
  for p in "${programs[@]}"; do
    ! LD_LIBRARY_PATH=$dir/lib ldd "$dir/real/$p" 2>&1 | grep 'not found' >&2 || die "$p cannot run here"
  done
  for p in "$dir/root$php_ext"/*.so; do
    ! LD_LIBRARY_PATH=$dir/lib ldd "$p" 2>&1 | grep 'not found' >&2 ||
      die "PHP extension $(basename "$p") cannot load here"
  done
  echo "export PATH=$dir/bin:\$PATH ASKR_DEPS=skip ASKR=$dir/bin/askr-proxy" \
    "ASKR_BIN=$dir/build/proxy/askr-proxy ASKR_WORKER_BIN=$dir/build/worker/askr-worker" \
    "NGINX=$dir/bin/nginx H2O=$dir/bin/h2o H2LOAD=$dir/bin/h2load BUILD=$dir/build" \
    "PHP_FPM=$dir/bin/php-fpm8.2 PHP_CLI=$dir/bin/php8.2 PHP_INI=$php_etc/fpm/php.ini" \
    "ASKR_REV='commit $(cat "$dir/rev")'"
}

case "$1" in
  pack) pack "$2" "${3:-$repo/build}" ;;
  unpack) unpack "$2" ;;
  *) die "unknown command '$1'" ;;
esac
