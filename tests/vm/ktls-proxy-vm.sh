#!/bin/sh
# Runs inside the VM (tests/vm/vm-run.sh): the real askr-proxy on a TLS listener with kernel
# TLS, a static root and a classic askr-worker pool, driven by curl.
#
#   sh ktls-proxy-vm.sh test [BACKEND...]    (default: io_uring epoll)
#   sh ktls-proxy-vm.sh bench RUNS
#
# test: over TLS 1.2 and 1.3 on each backend, a 10 MiB static file (sendfile), a 1 MiB PHP
# response (spliced from the worker) and a 10 MiB upload (spliced to the worker, checked by
# PHP) must be byte-exact, and every connection must have gone through the kernel both ways:
# /proc/net/tls_stat (TlsTxSw, TlsRxSw: sessions the kernel took) moves by as much as Askr's
# own counters (the stop log line) say.
# bench: the proxy's CPU time (utime + stime) for a 10 MiB download and a 10 MiB upload over
# TLS 1.3, ktls = "on" against "off", RUNS of each, alternating; prints bytes per CPU second.
set -e
mode=${1:-test}
[ $# -gt 0 ] && shift
fail() {
  echo "FAIL: $*"
  [ -f /tmp/proxy.log ] && grep -v "curl/" /tmp/proxy.log | tail -40
  sleep 1  # the console drains before poweroff
  exit 1
}

mkdir -p /tmp/www /tmp/run
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout /tmp/run/key.pem -out /tmp/run/cert.pem -subj /CN=ktls.test 2>/dev/null ||
  fail "openssl req"
head -c 10485760 /dev/urandom >/tmp/www/big.bin
big_sum=$(sha256sum </tmp/www/big.bin | cut -d' ' -f1)
echo small >/tmp/www/small.txt
cat >/tmp/www/body.php <<'EOF'
<?php
$b = file_get_contents('php://input');
header('Content-Type: text/plain');
echo strlen($b), ' ', hash('sha256', $b), "\n";
EOF
cat >/tmp/www/big.php <<'EOF'
<?php
header('Content-Type: application/octet-stream');
header('Content-Length: 1048576');
echo str_repeat("0123456789abcde\n", 65536);
EOF
php_sum=$(yes 0123456789abcde | head -c 1048576 | sha256sum | cut -d' ' -f1)
url=https://127.0.0.1:8443

tls_stat() {  # one counter of /proc/net/tls_stat
  awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat
}
# The sum over the loops of one of Askr's kTLS counters (1 tx, 2 rx, 3 user), from the stop
# log line ("... ktls 3 tx, 3 rx, 0 user").
askr_count() {
  sed -n "s/.*ktls \([0-9]*\) tx, \([0-9]*\) rx, \([0-9]*\) user.*/\\$1/p" /tmp/proxy.log |
    awk '{ s += $1 } END { print s + 0 }'
}

start_proxy() {  # BACKEND KTLS LOG_LEVEL
  cat >/tmp/run/askr.toml <<EOF
[server]
threads = 1
log_level = "${3:-info}"
io_backend = "$1"
temp_dir = "/tmp/run"

[[listen]]
address = "127.0.0.1:8443"
tls = true

[[pool]]
name = "php"
workers = 1
mode = "classic"
  [pool.ini]
  post_max_size = "64M"
  memory_limit = "256M"

[[site]]
root = "/tmp/www"
php = "php"
tls_certificate = "/tmp/run/cert.pem"
tls_certificate_key = "/tmp/run/key.pem"

[limits]
max_body_size = "64M"

[tls]
ktls = "$2"
EOF
  rm -f /tmp/proxy.log  # the last run's log must not say "started:" for this one
  askr-proxy -c /tmp/run/askr.toml 2>/tmp/proxy.log &
  pid=$!
  # Started once the log says so (a request would count as a connection; the probe at start
  # moves /proc/net/tls_stat before this line).
  tries=0
  until grep -qs "started:" /tmp/proxy.log; do
    tries=$((tries + 1))
    [ $tries -lt 150 ] || fail "$1: askr-proxy did not start"
    sleep 0.2
  done
}

stop_proxy() {
  kill -TERM $pid
  wait $pid || fail "askr-proxy exited with $?"
}

cpu_ticks() {  # utime + stime of the proxy, in clock ticks
  awk '{ print $14 + $15 }' /proc/$pid/stat
}

if [ "$mode" = bench ]; then
  runs=${1:-5}
  for ktls in on off; do : >/tmp/run/$ktls.down; : >/tmp/run/$ktls.up; done
  i=0
  while [ $i -lt "$runs" ]; do
    for ktls in on off; do
      start_proxy io_uring $ktls info
      t0=$(cpu_ticks)
      curl -sk --http1.1 --tlsv1.3 $url/big.bin -o /dev/null
      t1=$(cpu_ticks)
      curl -sk --http1.1 --tlsv1.3 -H 'Content-Type: application/octet-stream' \
        --data-binary @/tmp/www/big.bin $url/body.php -o /dev/null
      t2=$(cpu_ticks)
      stop_proxy
      echo $((t1 - t0)) >>/tmp/run/$ktls.down
      echo $((t2 - t1)) >>/tmp/run/$ktls.up
    done
    i=$((i + 1))
  done
  hz=100  # USER_HZ
  for dir in down up; do
    for ktls in on off; do
      ticks=$(sort -n /tmp/run/$ktls.$dir | tr '\n' ' ')
      med=$(sort -n /tmp/run/$ktls.$dir | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
      [ "$med" -gt 0 ] || med=1
      echo "$dir ktls=$ktls: proxy CPU ticks per 10 MiB [$ticks] median $med:" \
        "$(awk -v t="$med" -v hz=$hz 'BEGIN { printf "%.1f", 10 * hz / t }') MiB per CPU second"
    done
  done
  exit 0
fi

backends=${*:-io_uring epoll}
for backend in $backends; do
  start_proxy "$backend" on debug
  tx0=$(tls_stat TlsTxSw)
  rx0=$(tls_stat TlsRxSw)
  conns=0
  # HTTP/1.1: the PHP response and the upload take the splice paths (HTTP/2 copies).
  for v in "--http1.1 --tlsv1.2 --tls-max 1.2" "--http1.1 --tlsv1.3"; do
    what="$backend $v"
    t0=$(date +%s)
    rc=0
    curl -sSk --max-time 120 $v $url/big.bin -o /tmp/run/got 2>/tmp/run/curl.err || rc=$?
    got=$(sha256sum </tmp/run/got | cut -d' ' -f1)
    [ "$got" = "$big_sum" ] || fail "$what: 10 MiB static file differs" \
      "(curl exit $rc: $(cat /tmp/run/curl.err), $(wc -c </tmp/run/got) bytes)"
    got=$(curl -sk --max-time 120 $v $url/big.php | sha256sum | cut -d' ' -f1)
    [ "$got" = "$php_sum" ] || fail "$what: 1 MiB PHP response differs"
    got=$(curl -sk --max-time 120 $v -H 'Content-Type: application/octet-stream' \
      --data-binary @/tmp/www/big.bin $url/body.php)
    [ "$got" = "10485760 $big_sum" ] || fail "$what: 10 MiB upload arrived as: $got"
    conns=$((conns + 3))
    echo "ok: $what: 10 MiB download, 1 MiB PHP response, 10 MiB upload ($(($(date +%s) - t0)) s)"
  done
  # HTTP/2 (ALPN h2) over the same kernel TLS: frames of a 10 MiB file byte for byte.
  got=$(curl -sk --http2 --max-time 120 --tlsv1.3 $url/big.bin | sha256sum | cut -d' ' -f1)
  [ "$got" = "$big_sum" ] || fail "$backend: 10 MiB static file over HTTP/2 differs"
  conns=$((conns + 1))
  echo "ok: $backend: 10 MiB download over HTTP/2"
  stop_proxy
  tx=$(($(tls_stat TlsTxSw) - tx0))
  rx=$(($(tls_stat TlsRxSw) - rx0))
  atx=$(askr_count 1)
  arx=$(askr_count 2)
  auser=$(askr_count 3)
  echo "$backend: $conns connections; kernel: TlsTxSw +$tx, TlsRxSw +$rx;" \
    "askr: ktls $atx tx, $arx rx, $auser user"
  [ "$tx" -eq "$conns" ] && [ "$rx" -eq "$conns" ] ||
    fail "$backend: not every connection went through the kernel both ways"
  [ "$atx" -eq "$tx" ] && [ "$arx" -eq "$rx" ] && [ "$auser" -eq 0 ] ||
    fail "$backend: askr's counters disagree with the kernel's"
  grep -q "responses spliced" /tmp/proxy.log || fail "$backend: the PHP response was not spliced"
  [ "$(grep -c 'receiving stopped, .* body bytes left to splice' /tmp/proxy.log)" -eq 2 ] ||
    fail "$backend: the uploads were not spliced to the worker"
  if grep -q "sendfile failed\|TLS error\|kernel TLS receive" /tmp/proxy.log; then
    fail "$backend: errors in the log"
  fi
done
echo "PASS"
