#!/usr/bin/env bash
# A/B of the response splice (pool -> pipe -> client) against copying, for PHP responses with a
# Content-Length of 64 KiB .. 4 MiB: askr-proxy (threads = 1, io_uring) with an askr-worker pool
# in classic mode, readfile() of a file in the page cache, wrk over keep-alive connections.
# Rounds alternate splice off (response_splice_threshold = 0) and on (= 1); each prints
# requests/s and the proxy's CPU time per request (utime + stime from /proc).
#
#   bench/response_splice.sh [BUILD_DIR]
# Environment: SIZES (bytes, space-separated), SECONDS_PER_RUN [4], ROUNDS [2], CONNS [8],
# WORKERS [2].
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
secs="${SECONDS_PER_RUN:-4}" rounds="${ROUNDS:-2}" conns="${CONNS:-8}" workers="${WORKERS:-2}"
tmp="$(mktemp -d /tmp/askr-splice-bench.XXXXXX)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/www"
read -ra sizes <<<"${SIZES:-65536 262144 1048576 4194304}"
for n in "${sizes[@]}"; do head -c "$n" /dev/urandom >"$tmp/www/$n.bin"; done
cat >"$tmp/www/r.php" <<'PHP'
<?php
$f = __DIR__ . '/' . (int)$_GET['n'] . '.bin';
header('Content-Type: application/octet-stream');
header('Content-Length: ' . filesize($f));
readfile($f);
PHP
port=$((20000 + RANDOM % 20000))
start() { # THRESHOLD
  cat >"$tmp/askr.toml" <<TOML
[server]
threads = 1
io_backend = "io_uring"
error_log = "$tmp/error.log"
[[listen]]
address = "127.0.0.1:$port"
[[site]]
root = "$tmp/www"
index = ["index.php"]
php = "app"
[[pool]]
name = "app"
workers = $workers
mode = "classic"
response_splice_threshold = $1
[pool.ini]
output_buffering = "0"
[limits]
keepalive_requests = 1000000
TOML
  "$build/proxy/askr-proxy" -c "$tmp/askr.toml" 2>>"$tmp/error.log" &
  pid=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/r.php?n=65536" && return; sleep 0.1; done
  echo "askr-proxy did not start" >&2; cat "$tmp/error.log" >&2; exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
printf '%-8s %-7s %5s %10s %9s %14s\n' size splice round req/s p99 proxy_us/req
for r in $(seq "$rounds"); do
  for mode in 0 1; do
    start "$mode"
    for n in "${sizes[@]}"; do
      wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/r.php?n=$n" >/dev/null  # warm-up
      t0=$(cpu_ticks)
      out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/r.php?n=$n")
      t1=$(cpu_ticks)
      reqs=$(awk '/requests in/{print $1}' <<<"$out")
      rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
      p99=$(awk '$1 == "99%"{print $2}' <<<"$out")
      us=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$reqs" 'BEGIN{printf "%.0f", t * 1e6 / hz / n}')
      printf '%-8s %-7s %5s %10s %9s %14s\n' "$n" "$([ "$mode" = 1 ] && echo on || echo off)" "$r" "$rps" "$p99" "$us"
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
    pid=""
  done
done
grep -h "responses spliced" "$tmp/error.log" | tail -2 || true
