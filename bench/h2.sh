#!/usr/bin/env bash
# HTTP/2, side by side: askr-proxy against Debian's nginx and h2o, with h2load, over TLS (ALPN h2)
# and in cleartext with prior knowledge (h2c), on loopback, in one run.
#
#   bench/h2.sh [BUILD]     BUILD: the build folder holding proxy/askr-proxy and
#                           worker/askr-worker [the repository's build/]
#
# Two workloads, every server serving both from the same folder:
#   static   a 4 KiB file (4k.bin, FILE_SIZE bytes of random data)
#   php      a hello-world script (index.php: echo "Hello, world!\n";) through PHP
# and these servers (each one process tree, listening on one TLS and one h2c port):
#   askr-uring   askr-proxy, io_uring backend; PHP through php-fpm ([[pool]] fastcgi)
#   askr-epoll   askr-proxy, epoll backend; PHP through php-fpm
#   askr-pool    askr-proxy, io_uring backend; PHP through Askr's own askr-worker pool
#                (classic mode: every request runs the script from scratch, as php-fpm does)
#   nginx        Debian's nginx-light, `listen ... ssl http2` and `listen ... http2` (h2c);
#                PHP through php-fpm (fastcgi_pass unix:SOCK)
#   h2o          Debian's h2o 2.2; PHP through php-fpm (file.custom-handler, fastcgi.connect)
# One php-fpm master and static pool (Debian's php8.2-fpm, opcache on) serves every front end
# that uses php-fpm; the askr-worker pool has as many workers as php-fpm has children.
#
# Measured, for each workload, transport and server: `h2load -c CONNS -m STREAMS` (the PHP page:
# `-m PHP_STREAMS`) for DURATION
# seconds (after WARMUP seconds of warm-up inside the same h2load run), requests/s, the
# Askr / h2o and Askr / nginx ratios (2xx responses only), and the CPU time of the front end and of the PHP
# processes over the run (run time from /proc/PID/task/*/schedstat): the front end's share of
# all CPU time used tells whether the PHP page is limited by PHP or by the proxy.
#
# Before anything is measured, each server and transport answers a short h2load run
# (CHECK_REQUESTS requests) on each workload that must come back with as many 2xx as requests
# and exactly requests x body size bytes of DATA, over the protocol claimed (h2 by ALPN, TLS 1.3,
# the cipher and group below; or h2c). Every measured run is checked for failed or non-2xx
# requests as well; the report lists them.
#
# Environment (defaults in brackets):
#   SERVER_CPUS [1]       cores the servers and php-fpm / askr-worker are pinned to
#   CLIENT_CPUS [0]       cores h2load is pinned to
#   THREADS [1]           Askr loop threads = nginx worker processes = h2o threads
#   H2LOAD_THREADS [1]    h2load -t
#   CONNS [100]           h2load -c
#   STREAMS [100]         h2load -m (concurrent streams per connection) on the static file
#   PHP_STREAMS [10]      h2load -m on the PHP page: CONNS x PHP_STREAMS requests in flight must
#                         fit php-fpm's listen backlog (4096, and net.core.somaxconn), or nginx
#                         and h2o, which connect to php-fpm per request, get EAGAIN and answer 502
#   DURATION [10]         seconds measured per h2load run (h2load -D)
#   WARMUP [2]            seconds of warm-up before each (h2load --warm-up-time)
#   ROUNDS [3]            interleaved rounds; the median round is reported
#   CHILDREN [4]          php-fpm pm.max_children (pm = static) = askr-worker pool workers
#   FILE_SIZE [4096]      bytes of the static file
#   TRANSPORTS [tls h2c]  any of these
#   STATIC_SERVERS [askr-uring askr-epoll nginx h2o]   servers measured on the static file
#   PHP_SERVERS [askr-uring askr-pool nginx h2o]       servers measured on the PHP page (empty:
#                         the static file alone; no php-fpm or askr-worker is then needed)
#   CHECK_REQUESTS [1000] requests of the check run (h2load -n, 10 connections x 10 streams)
#   CIPHER [TLS_AES_128_GCM_SHA256]  the TLS 1.3 cipher (h2load --tls13-ciphers, and the servers'
#                         lists where they take one)
#   GROUP [X25519]        key exchange group (nginx ssl_ecdh_curve, Askr [tls] groups; h2o 2.2
#                         has no setting and is checked to pick it)
#   KTLS [off]            off: user-space TLS on every server; auto: Askr [tls] ktls = "auto"
#                         and nginx "ssl_conf_command Options KTLS" (h2o 2.2 has no kernel TLS),
#                         taken only where the kernel has TLS; the report says how many of
#                         Askr's connections went to the kernel
#   NGINX [nginx]  H2O [h2o]  H2LOAD [h2load]
#   PHP_FPM [/usr/sbin/php-fpm8.2]      PHP_INI [/etc/php/8.2/fpm/php.ini]
#   OUT [bench/results-h2.md]           where the markdown report is written (overwritten)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
bench_name=h2.sh
repo="$(cd "$here/.." && pwd)"

BUILD="${1:-$repo/build}"
SERVER_CPUS="${SERVER_CPUS:-1}"
CLIENT_CPUS="${CLIENT_CPUS:-0}"
THREADS="${THREADS:-1}"
H2LOAD_THREADS="${H2LOAD_THREADS:-1}"
CONNS="${CONNS:-100}"
STREAMS="${STREAMS:-100}"
PHP_STREAMS="${PHP_STREAMS:-10}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
ROUNDS="${ROUNDS:-3}"
CHILDREN="${CHILDREN:-4}"
FILE_SIZE="${FILE_SIZE:-4096}"
TRANSPORTS="${TRANSPORTS:-tls h2c}"
STATIC_SERVERS="${STATIC_SERVERS:-askr-uring askr-epoll nginx h2o}"
PHP_SERVERS="${PHP_SERVERS-askr-uring askr-pool nginx h2o}"
CHECK_REQUESTS="${CHECK_REQUESTS:-1000}"
CIPHER="${CIPHER:-TLS_AES_128_GCM_SHA256}"
GROUP="${GROUP:-X25519}"
KTLS="${KTLS:-off}"
case "$KTLS" in
  off | auto) ;;
  *) die "KTLS must be off or auto" ;;
esac
NGINX="${NGINX:-nginx}"
H2O="${H2O:-h2o}"
H2LOAD="${H2LOAD:-h2load}"
PHP_FPM="${PHP_FPM:-/usr/sbin/php-fpm8.2}"
PHP_INI="${PHP_INI:-/etc/php/8.2/fpm/php.ini}"
OUT="${OUT:-$here/results-h2.md}"
ASKR="$BUILD/proxy/askr-proxy"
ASKR_WORKER="$BUILD/worker/askr-worker"

# ---------------------------------------------------------------------------------------------
# Prerequisites.
"$repo/scripts/deps.sh" bench
for c in python3 openssl curl "$H2O" "$H2LOAD" "$NGINX"; do
  command -v "$c" >/dev/null || die "$c is required"
done
[ -x "$ASKR" ] || die "no askr-proxy at $ASKR (build first: scripts/build.sh release)"
if [ -n "$PHP_SERVERS" ]; then
  [ -x "$ASKR_WORKER" ] || die "no askr-worker at $ASKR_WORKER"
  [ -x "$PHP_FPM" ] || die "no php-fpm at $PHP_FPM"
fi
[ "$(id -u)" -eq 0 ] || die "run as root (nginx and h2o run with 'user root', php-fpm with -R)"
for t in $TRANSPORTS; do [[ $t == tls || $t == h2c ]] || die "unknown transport '$t'"; done
raise_nofile

bench_init h2.sh askr-bench-h2

# Private copies of the binaries: a rebuild during the run cannot change what is measured.
# askr-proxy finds askr-worker next to itself.
mkdir -p "$tmp/bin"
cp "$ASKR" "$tmp/bin/askr-proxy"
[ -z "$PHP_SERVERS" ] || cp "$ASKR_WORKER" "$tmp/bin/askr-worker"
ASKR_BIN="$tmp/bin/askr-proxy"
warn_load

# ---------------------------------------------------------------------------------------------
# Content and certificate (one self-signed ECDSA P-256 for 127.0.0.1, loaded by every server).
mkdir -p "$tmp/www"
head -c "$FILE_SIZE" /dev/urandom >"$tmp/www/4k.bin"
printf '<?php echo "Hello, world!\\n";\n' >"$tmp/www/index.php"
php_body=14 # "Hello, world!\n"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$tmp/cert.key" -out "$tmp/cert.pem" 2>/dev/null || die "openssl req failed"
chmod 755 "$tmp" "$tmp/www"
chmod 644 "$tmp/www/"* "$tmp/cert."*

declare -A wpath wsize
wpath[static]=/4k.bin wsize[static]=$FILE_SIZE
wpath[php]=/index.php wsize[php]=$php_body

# ---------------------------------------------------------------------------------------------
# php-fpm: one master and one static pool for the whole run, pinned to SERVER_CPUS.
# php.ini's active lines as [pool.ini] for the askr-worker pool (askr-worker reads no php.ini),
# opcache on, as bench/php.sh does: both PHP sides run with the same settings.
ini_toml="$tmp/pool-ini.toml"
if [ -n "$PHP_SERVERS" ]; then
  start_php_fpm "$CHILDREN"
  pool_ini_toml "$PHP_INI" "$ini_toml"
else # no PHP page measured: the servers' PHP routes point at a socket nothing listens on
  sock="$tmp/php.sock" fpm_pid=""
  : >"$ini_toml"
fi

# ---------------------------------------------------------------------------------------------
# Servers: every one started once, listening on a TLS port and an h2c port, all pinned to
# SERVER_CPUS; only one is under load at a time.
declare -A tls_port h2c_port pid label
label[askr-uring]="Askr (io_uring), php-fpm"
label[askr-epoll]="Askr (epoll), php-fpm"
label[askr-pool]="Askr (io_uring), askr-worker pool"
label[nginx]="nginx"
label[h2o]="h2o"
read -ra static_servers <<<"$STATIC_SERVERS"
read -ra php_servers <<<"$PHP_SERVERS"
read -ra transports <<<"$TRANSPORTS"
all_servers=()
for s in "${static_servers[@]}" "${php_servers[@]}"; do
  [ -n "${label[$s]:-}" ] || die "unknown server '$s'"
  [[ " ${all_servers[*]} " == *" $s "* ]] || all_servers+=("$s")
done

start_askr() { # NAME BACKEND fpm|pool
  local name=$1 queue=$((CONNS * PHP_STREAMS > 256 ? CONNS * PHP_STREAMS : 256)) pool ini=""
  if [ "$3" = fpm ]; then
    pool="fastcgi = \"unix:$sock\""
  else
    pool="workers = $CHILDREN
mode = \"classic\""
    ini=$(cat "$ini_toml")
  fi
  cat >"$tmp/$name.toml" <<EOF
[server]
threads = $THREADS
io_backend = "$2"
error_log = "$tmp/$name.log"

[[listen]]
address = "127.0.0.1:${tls_port[$name]}"
tls = true

[[listen]]
address = "127.0.0.1:${h2c_port[$name]}"
http2 = true

[[site]]
root = "$tmp/www"
index = ["index.php"]
php = "app"
tls_certificate = "$tmp/cert.pem"
tls_certificate_key = "$tmp/cert.key"

[[pool]]
name = "app"
$pool
# Requests wait in Askr's queue for a PHP process; never let the queue overflow.
queue = $queue

$ini

[tls]
protocols = ["TLSv1.3"]
ciphersuites = "$CIPHER"
groups = "$GROUP"
ktls = "$KTLS"

[http2]
max_concurrent_streams = $((STREAMS > 100 ? STREAMS : 100))
max_streams = 1000000000

$(askr_conf_tail 1000000000 2s)
EOF
  askr_start "$ASKR_BIN" "$tmp/$name.toml" "$tmp/$name.log"
  pid[$name]=$!
  pids+=("$!")
}

# nginx as a careful operator runs it: sendfile, tcp_nopush, open_file_cache, one listener with
# `ssl http2` and one with `http2` alone (h2c with prior knowledge), the same protocol, cipher
# and group as Askr; PHP with fastcgi_pass, a new FastCGI connection per request.
start_nginx() { # NAME
  local name=$1 ktls_line=""
  [ "$KTLS" = auto ] && ktls_line="ssl_conf_command Options KTLS;"
  mkdir -p "$tmp/$name"
  {
    nginx_conf_head "$name" 1000000000 "http2_max_concurrent_streams $((STREAMS > 128 ? STREAMS : 128));"
    cat <<EOF

    server {
        listen 127.0.0.1:${tls_port[$name]} ssl http2;
        listen 127.0.0.1:${h2c_port[$name]} http2;
        root $tmp/www;
        index index.php;
        ssl_certificate $tmp/cert.pem;
        ssl_certificate_key $tmp/cert.key;
        ssl_protocols TLSv1.3;
        ssl_conf_command Ciphersuites $CIPHER;
        ssl_ecdh_curve $GROUP;
        $ktls_line

        location ~ \.php\$ {
            fastcgi_pass unix:$sock;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
        }
    }
}
EOF
  } >"$tmp/$name.conf"
  nginx_start "$tmp/$name" "$tmp/$name.log" "$tmp/$name.conf"
  pid[$name]=$!
  pids+=("$!")
}

# h2o 2.2: one host per port (TLS and cleartext; h2o speaks h2c with prior knowledge on a
# cleartext listener), the same paths; no access log; no OCSP stapling (nothing to reach).
# h2o 2.2 has no TLS 1.3 cipher setting: h2load offers only CIPHER, and the check below makes
# sure that is what runs.
start_h2o() { # NAME
  local name=$1 p paths
  paths="    paths:
      \"/\":
        file.dir: $tmp/www
        file.index: [index.php]
        file.custom-handler:
          extension: .php
          fastcgi.connect:
            port: $sock
            type: unix"
  cat >"$tmp/$name.yaml" <<EOF
user: root
num-threads: $THREADS
max-connections: 20000
http2-max-concurrent-requests-per-connection: $STREAMS
http2-idle-timeout: 300
error-log: $tmp/$name.log
pid-file: $tmp/$name.pid
hosts:
  "127.0.0.1:${tls_port[$name]}":
    listen:
      host: 127.0.0.1
      port: ${tls_port[$name]}
      ssl:
        certificate-file: $tmp/cert.pem
        key-file: $tmp/cert.key
        ocsp-update-interval: 0
$paths
  "127.0.0.1:${h2c_port[$name]}":
    listen:
      host: 127.0.0.1
      port: ${h2c_port[$name]}
$paths
EOF
  "$H2O" -t -c "$tmp/$name.yaml" >"$tmp/$name.test" 2>&1 ||
    { cat "$tmp/$name.test" >&2; die "bad h2o config"; }
  taskset -c "$SERVER_CPUS" "$H2O" -c "$tmp/$name.yaml" 2>>"$tmp/$name.log" &
  pid[$name]=$!
  pids+=("$!")
}

for s in "${all_servers[@]}"; do
  tls_port[$s]=$(free_port)
  h2c_port[$s]=$(free_port)
  case "$s" in
    askr-uring) start_askr "$s" io_uring fpm ;;
    askr-epoll) start_askr "$s" epoll fpm ;;
    askr-pool) start_askr "$s" io_uring pool ;;
    nginx) start_nginx "$s" ;;
    h2o) start_h2o "$s" ;;
  esac
done

# The front end's processes (run time counted as "front"): askr-proxy itself, h2o itself,
# nginx's master and workers. The PHP side: php-fpm's master and children; askr-proxy's
# children (the askr-worker processes) for askr-pool.
front_snapshot() { # NAME
  case "$1" in
    nginx) cpu_snapshot "${pid[$1]}" 1 1 ;;
    *) cpu_snapshot "${pid[$1]}" 1 0 ;;
  esac
}
php_snapshot() { # NAME
  if [ "$1" = askr-pool ]; then cpu_snapshot "${pid[$1]}" 0 1
  elif [ -n "$fpm_pid" ]; then cpu_snapshot "$fpm_pid" 1 1; fi
}
alive() { kill -0 "${pid[$1]}" 2>/dev/null; }

url() { # NAME TRANSPORT WORKLOAD
  if [ "$2" = tls ]; then echo "https://127.0.0.1:${tls_port[$1]}${wpath[$3]}"
  else echo "http://127.0.0.1:${h2c_port[$1]}${wpath[$3]}"; fi
}

# h2load pinned to CLIENT_CPUS; TLS 1.3 with CIPHER only, ALPN h2 only. A bound on its run time:
# h2load 1.52 with -D1 was seen to spin past its duration against nginx.
h2load_run() { # URL OUTFILE [MORE H2LOAD ARGUMENTS]
  local u=$1 o=$2
  shift 2
  timeout $((DURATION + WARMUP + 60)) taskset -c "$CLIENT_CPUS" "$H2LOAD" --tls13-ciphers="$CIPHER" --npn-list=h2 "$@" "$u" \
    >"$o" 2>&1 || true
}
# Fields of h2load's summary.
h2_field() { # OUTFILE ok_rps|rps|done|succeeded|failed|2xx|non2xx|data|proto|tlsproto|cipher|tempkey
  case "$2" in
    ok_rps) awk -v r="$(h2_field "$1" rps)" -v ok="$(h2_field "$1" 2xx)" -v d="$(h2_field "$1" done)" \
      'BEGIN{ if (d > 0) printf "%.2f\n", r * ok / d; else print 0 }' ;;
    rps) awk '/^finished in/{ for (i = 1; i <= NF; i++) if ($(i+1) ~ /^req\/s/) { v = $i; sub(/,$/, "", v); print v } }' "$1" | grep . || echo 0 ;;
    done) awk '/^requests:/{ for (i = 1; i <= NF; i++) if ($(i+1) ~ /^done/) print $i }' "$1" | grep . || echo 0 ;;
    succeeded) awk '/^requests:/{ for (i = 1; i <= NF; i++) if ($(i+1) ~ /^succeeded/) print $i }' "$1" | grep . || echo 0 ;;
    failed) awk '/^requests:/{ f = 0; for (i = 1; i <= NF; i++) if ($(i+1) ~ /^(failed|errored|timeout)/) f += $i; print f }' "$1" | grep . || echo "?" ;;
    2xx) awk '/^status codes:/{ print $3 }' "$1" | grep . || echo 0 ;;
    non2xx) awk '/^status codes:/{ print $5 + $7 + $9 }' "$1" | grep . || echo "?" ;;
    data) sed -n 's/^traffic:.* (\([0-9]*\)) data.*/\1/p' "$1" | grep . || echo 0 ;;
    proto) sed -n 's/^Application protocol: *//p' "$1" ;;
    tlsproto) sed -n 's/^TLS Protocol: *//p' "$1" ;;
    cipher) sed -n 's/^Cipher: *//p' "$1" ;;
    tempkey) sed -n 's/^Server Temp Key: *//p' "$1" ;;
  esac
}

# Before anything is measured: every request of a short run answered 200 with the whole body,
# over the protocol the run claims.
check() { # NAME TRANSPORT WORKLOAD
  local n=$1 t=$2 w=$3 o="$tmp/check.$1.$2.$3.txt" want
  h2load_run "$(url "$n" "$t" "$w")" "$o" -n "$CHECK_REQUESTS" -c10 -m10
  alive "$n" || die "$n died during the check; log: $(tail -20 "$tmp/$n.log")"
  want=$((CHECK_REQUESTS * wsize[$w]))
  [ "$(h2_field "$o" 2xx)" = "$CHECK_REQUESTS" ] && [ "$(h2_field "$o" succeeded)" = "$CHECK_REQUESTS" ] ||
    die "$n $t $w: not $CHECK_REQUESTS x 2xx: $(cat "$o")"
  [ "$(h2_field "$o" data)" = "$want" ] || die "$n $t $w: $(h2_field "$o" data) bytes of DATA, not $want: $(cat "$o")"
  if [ "$t" = tls ]; then
    [ "$(h2_field "$o" proto)" = h2 ] || die "$n: not h2 by ALPN: $(cat "$o")"
    [ "$(h2_field "$o" tlsproto)" = TLSv1.3 ] || die "$n: not TLS 1.3: $(cat "$o")"
    [ "$(h2_field "$o" cipher)" = "$CIPHER" ] || die "$n: not $CIPHER: $(cat "$o")"
    grep -qi "^$GROUP" <<<"$(h2_field "$o" tempkey)" || die "$n: not $GROUP: $(cat "$o")"
  else
    [ "$(h2_field "$o" proto)" = h2c ] || die "$n: not h2c: $(cat "$o")"
  fi
}

# Ready when the static file answers 200 on both ports (curl: h2 by ALPN, h2c by prior knowledge).
for s in "${all_servers[@]}"; do
  for i in $(seq 101); do
    alive "$s" || die "$s exited at start; log: $(tail -20 "$tmp/$s.log")"
    [ "$(curl -sk -o /dev/null -w '%{http_code}' "$(url "$s" tls static)" || true)" = 200 ] &&
      [ "$(curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code}' "$(url "$s" h2c static)" || true)" = 200 ] &&
      break
    [ "$i" -le 100 ] || die "$s: no answer; log: $(tail -20 "$tmp/$s.log")"
    sleep 0.1
  done
done
for t in "${transports[@]}"; do
  for s in "${static_servers[@]}"; do check "$s" "$t" static; done
  for s in "${php_servers[@]}"; do check "$s" "$t" php; done
done

# ---------------------------------------------------------------------------------------------
# Runs: ROUNDS rounds, every transport, workload and server in turn in each.
# $tmp/h2.W.T.S.R.txt: h2load's output; $tmp/cpu.W.T.S.R.txt: "FRONT_NS PHP_NS WALL_NS".
measure() { # NAME TRANSPORT WORKLOAD ROUND
  local n=$1 t=$2 w=$3 r=$4 base="$3.$2.$1.$4" t0 t1
  front_snapshot "$n" >"$tmp/f0"
  php_snapshot "$n" >"$tmp/p0"
  t0=$(date +%s%N)
  h2load_run "$(url "$n" "$t" "$w")" "$tmp/h2.$base.txt" -t"$H2LOAD_THREADS" -c"$CONNS" \
    -m"$([ "$w" = php ] && echo "$PHP_STREAMS" || echo "$STREAMS")" -D"$DURATION" \
    --warm-up-time="$WARMUP"
  t1=$(date +%s%N)
  front_snapshot "$n" >"$tmp/f1"
  php_snapshot "$n" >"$tmp/p1"
  alive "$n" || die "$n died under h2load; log: $(tail -20 "$tmp/$n.log")"
  echo "$(cpu_delta "$tmp/f0" "$tmp/f1" | cut -d' ' -f1) $(cpu_delta "$tmp/p0" "$tmp/p1" | cut -d' ' -f1) $((t1 - t0))" \
    >"$tmp/cpu.$base.txt"
}

for r in $(seq "$ROUNDS"); do
  for t in "${transports[@]}"; do
    for w in static php; do
      if [ "$w" = static ]; then list=("${static_servers[@]}"); else list=("${php_servers[@]}"); fi
      for s in "${list[@]}"; do
        echo "round $r/$ROUNDS: ${label[$s]}, $t, $w" >&2
        measure "$s" "$t" "$w" "$r"
      done
    done
  done
done

# ---------------------------------------------------------------------------------------------
# Report.
median_of() { # W T S -> median round by requests/s
  local r
  for r in $(seq "$ROUNDS"); do echo "$(h2_field "$tmp/h2.$1.$2.$3.$r.txt" ok_rps) $r"; done |
    sort -g | awk -v n="$ROUNDS" 'NR==int((n+1)/2){print $2}'
}
rps_of() { h2_field "$tmp/h2.$1.$2.$3.$(median_of "$1" "$2" "$3").txt" ok_rps; }
all_rounds() { # W T S
  local r out=()
  for r in $(seq "$ROUNDS"); do out+=("$(printf '%.0f' "$(h2_field "$tmp/h2.$1.$2.$3.$r.txt" ok_rps)")"); done
  slash_join "${out[@]}"
}
has() { # SERVER LIST...
  local x=$1
  shift
  [[ " $* " == *" $x "* ]]
}

nginx_ver=$(nginx_version)
h2o_ver=$("$H2O" --version 2>&1 | awk 'NR==1{print $3}')
askr_version=$( ("$ASKR_BIN" --version 2>&1 || true) | head -1)
if rev=$(askr_rev proxy shared worker) && [ -n "$rev" ]; then askr_version+=" (source checkout: commit $rev)"; fi
cmdline="SERVER_CPUS=$SERVER_CPUS CLIENT_CPUS=$CLIENT_CPUS THREADS=$THREADS H2LOAD_THREADS=$H2LOAD_THREADS CONNS=$CONNS STREAMS=$STREAMS PHP_STREAMS=$PHP_STREAMS DURATION=$DURATION WARMUP=$WARMUP ROUNDS=$ROUNDS CHILDREN=$CHILDREN FILE_SIZE=$FILE_SIZE TRANSPORTS=\"$TRANSPORTS\" KTLS=$KTLS bench/h2.sh $BUILD"

# Askr says at stop how many TLS connections went to the kernel (per loop: "ktls N tx, N rx,
# N user"): stopped here, before the report, to say it.
ktls_seen=""
if [ "$KTLS" = auto ]; then
  for s in "${all_servers[@]}"; do
    [[ $s == askr-* ]] || continue
    stop_pid "${pid[$s]}"
    ktls_seen+="${ktls_seen:+; }${label[$s]}: $(grep -o 'ktls [0-9]* tx, [0-9]* rx, [0-9]* user' "$tmp/$s.log" |
      awk '{tx += $2; rx += $4; user += $6} END {printf "%d to the kernel for sending, %d for receiving, %d in user space", tx, rx, user}')"
  done
fi

report="$tmp/report.md"
{
  echo "# HTTP/2: Askr vs nginx and h2o"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Machine: $(machine_line)"
  echo "- Servers: $askr_version, binaries from $BUILD; nginx $nginx_ver; h2o $h2o_ver; php-fpm $("$PHP_FPM" -v 2>/dev/null | awk 'NR==1{print $2}'). Client: $("$H2LOAD" --version 2>&1 | head -1)"
  echo "- TLS: TLS 1.3, $CIPHER, $GROUP, one ECDSA P-256 certificate, ALPN h2 (checked on every server before the runs), kTLS $KTLS${ktls_seen:+ (TLS connections: $ktls_seen)}; h2c: cleartext with prior knowledge"
  echo "- Servers, php-fpm ($CHILDREN children, pm = static, opcache on) and the askr-worker pool ($CHILDREN workers, classic mode) pinned to CPU(s) $SERVER_CPUS, $THREADS Askr loop(s) / nginx worker(s) / h2o thread(s); h2load pinned to CPU(s) $CLIENT_CPUS"
  echo "- Command: \`$cmdline\`"
  echo "- Load average (1, 5, 15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "\`h2load -t$H2LOAD_THREADS -c$CONNS -m$STREAMS -D$DURATION --warm-up-time=$WARMUP\` on a $FILE_SIZE-byte file"
  echo "(static), and with \`-m$PHP_STREAMS\` on a hello-world PHP script (php: $((CONNS * PHP_STREAMS)) requests in flight, within"
  echo "php-fpm's listen backlog). $ROUNDS rounds interleaved (every transport,"
  echo "workload and server in turn each round); the median round by requests/s is reported, with"
  echo "every round. Requests/s counts 2xx responses only (h2load's req/s x 2xx / done): a server"
  echo "that answers part of the load with errors is not credited for them; the Failed and Non-2xx"
  echo "columns say how many there were (statuses in h2load's output). Front CPU / PHP CPU: run time of the front end's processes (askr-proxy, h2o;"
  echo "nginx master + workers) and of the PHP processes (php-fpm master + children; askr-proxy's"
  echo "askr-worker children) over the run, as % of one core; front share = front / (front + PHP)."
  echo "Everything runs on the same server core(s): a PHP page limited by PHP, not by the proxy, is"
  echo "one where the PHP processes take most of the core and the front share is small."
  echo
  echo "| Workload | Transport | Server | Requests/s | Askr / h2o | Askr / nginx | Front CPU % | PHP CPU % | Front share | Failed | Non-2xx | All rounds (req/s) |"
  echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for w in static php; do
    if [ "$w" = static ]; then list=("${static_servers[@]}"); else list=("${php_servers[@]}"); fi
    for t in "${transports[@]}"; do
      h2o_rps="" nginx_rps=""
      has h2o "${list[@]}" && h2o_rps=$(rps_of "$w" "$t" h2o)
      has nginx "${list[@]}" && nginx_rps=$(rps_of "$w" "$t" nginx)
      for s in "${list[@]}"; do
        m=$(median_of "$w" "$t" "$s")
        o="$tmp/h2.$w.$t.$s.$m.txt"
        rps=$(h2_field "$o" ok_rps)
        read -r fns pns wns <"$tmp/cpu.$w.$t.$s.$m.txt"
        fpct=$(awk -v a="$fns" -v b="$wns" 'BEGIN{ printf "%.0f%%", 100 * a / b }')
        ppct="—" share="—"
        if [ "$w" = php ]; then
          ppct=$(awk -v a="$pns" -v b="$wns" 'BEGIN{ printf "%.0f%%", 100 * a / b }')
          share=$(awk -v a="$fns" -v b="$pns" 'BEGIN{ if (a + b > 0) printf "%.0f%%", 100 * a / (a + b); else print "—" }')
        fi
        r_h2o="—" r_nginx="—"
        if [[ $s == askr-* ]]; then
          r_h2o=$(div "$rps" "$h2o_rps")
          r_nginx=$(div "$rps" "$nginx_rps")
        fi
        printf '| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$w" "$t" \
          "${label[$s]}" "$rps" "$r_h2o" "$r_nginx" "$fpct" "$ppct" "$share" \
          "$(h2_field "$o" failed)" "$(h2_field "$o" non2xx)" "$(all_rounds "$w" "$t" "$s")"
      done
    done
  done
  echo
  for s in "${all_servers[@]}"; do log_notes "$s" "$tmp/$s.log" ': tls: ' ': http2: '; done
} >"$report"

publish_report "$report"
