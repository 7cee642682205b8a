#!/usr/bin/env bash
# What one PHP request costs askr-proxy and askr-worker, counted rather than timed, so that the
# figures do not move with other load on the machine: user-space instructions (valgrind's
# callgrind), heap allocations (bench/alloccount.c: malloc, calloc and realloc calls) and system
# calls (strace -c), per request. hello.php over HTTP/1.1 keep-alive, one request at a time
# (h2load --h1 -c1), askr-proxy with one loop thread and a pool of one worker.
#
#   bench/php_cost.sh
#
# Environment (defaults in brackets):
#   MODES [worker classic]       pool modes
#   BACKENDS [epoll io_uring]    askr-proxy's io_backend
#   N [2000] WARM [500]          requests counted, after WARM requests that are not
#   ASKR [build/proxy/askr-proxy]  ASKR_WORKER [build/worker/askr-worker]
#   KEEP                         a folder to keep the callgrind dumps in, for callgrind_annotate
#                                (proxy.MODE.BACKEND.callgrind, worker.MODE.callgrind)
#
# Each function below leaves its figures in $result. Each figure comes from a run of its own, with a fresh askr-proxy: WARM requests, then the
# counters are zeroed (callgrind_control -z; the allocation counters read; strace attached), N
# requests are made, and the counters are read again.
# - askr-proxy's instructions: askr-proxy under callgrind, serving its own pool (on io_uring,
#   an external pool: see proxy_instructions).
# - askr-worker's instructions: askr-worker started alone under callgrind (--listen), with an
#   empty environment as the supervisor gives it, behind askr-proxy as an external pool with
#   kept connections (callgrind_control does not reach a worker that the zygote forked under
#   valgrind). The same worker code serves the request either way; measured once per mode.
# - Allocations: askr-proxy and its workers with alloccount.so preloaded.
# - System calls: strace -c -f attached to askr-proxy and, separately, to the serving worker.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODES="${MODES:-worker classic}"
BACKENDS="${BACKENDS:-epoll io_uring}"
N="${N:-2000}"
WARM="${WARM:-500}"
ASKR="${ASKR:-$here/../build/proxy/askr-proxy}"
ASKR_WORKER="${ASKR_WORKER:-$here/../build/worker/askr-worker}"

. "$here/lib.sh"
for c in valgrind callgrind_control callgrind_annotate strace h2load curl cc; do
  command -v "$c" >/dev/null || die "$c is required (scripts/deps.sh bench)"
done
[ -x "$ASKR" ] && [ -x "$ASKR_WORKER" ] || die "build first: scripts/build.sh release"
bench_init php_cost.sh askr-bench-phpcost
cc -shared -fPIC -O2 -o "$tmp/alloccount.so" "$here/alloccount.c" -ldl
mkdir -p "$tmp/www" "$tmp/workers"
echo '<?php echo "Hello, world!\n";' >"$tmp/www/index.php"
cat >"$tmp/workers/hello.php" <<'PHP'
<?php
$handler = static function (): void {
    echo "Hello, world!\n";
};
while (askr_handle_request($handler)) {
}
PHP

# askr-proxy's configuration: PORT MODE BACKEND POOL (own: its own pool; else the socket of an
# external one).
config() {
  local pool
  if [ "$4" = own ]; then
    pool="workers = 1
mode = \"$2\""
    [ "$2" = worker ] && pool+="
worker_script = \"$tmp/workers/hello.php\""
  else
    pool="fastcgi = \"unix:$4\"
keepalive = true"
  fi
  cat >"$tmp/askr.toml" <<CONF
[server]
threads = 1
io_backend = "$3"
error_log = "$tmp/askr.log"
[[listen]]
address = "127.0.0.1:$1"
[[site]]
root = "$tmp/www"
index = ["index.php"]
php = "app"
[[pool]]
name = "app"
$pool
[limits]
keepalive_requests = 1000000
[access_log]
format = "off"
CONF
}

url=""
start() { # PORT PID-OF-SERVER
  url="http://127.0.0.1:$1/index.php"
  wait_http "$url" "$2" "$tmp/askr.log" 600
  h2load --h1 -c1 -n"$WARM" "$url" >/dev/null 2>&1
}
measured() {
  h2load --h1 -c1 -n"$N" "$url" >"$tmp/h2load.txt" 2>&1
  grep -q "$N succeeded" "$tmp/h2load.txt" || die "requests failed: $(grep succeeded "$tmp/h2load.txt")"
}
# The newest child of askr-proxy: its serving worker (the zygote forks them as its siblings).
worker_of() { ps -o pid= --ppid "$1" | sort -n | tail -1 | tr -d ' '; }
per_request() { awk -v a="$1" -v n="$N" 'BEGIN { printf "%.1f", a / n }'; }
callgrind_total() { # DUMP [NAME-TO-KEEP-IT-UNDER]
  [ -z "${KEEP:-}" ] || [ -z "${2:-}" ] || { mkdir -p "$KEEP" && cp "$1" "$KEEP/$2.callgrind"; }
  callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}
allocs() { od -An -tu8 -w8 "$1" | head -3 | awk '{ s += $1 } END { print s + 0 }'; }

# askr-worker on its own for MODE, listening on $tmp/w.sock, with an empty environment as the
# supervisor gives it, run by the command words after LOG if any (valgrind's); $wpid.
start_worker() { # MODE LOG [COMMAND...]
  local log="$2" args=(--mode "$1")
  if [ "$1" = worker ]; then args+=(--script "$tmp/workers/hello.php"); fi
  shift 2
  rm -f "$tmp/w.sock"
  env -i PATH=/usr/bin:/bin "$@" "$ASKR_WORKER" "${args[@]}" --listen "$tmp/w.sock" 2>"$log" &
  wpid=$!
  pids+=("$wpid")
}

# askr-proxy with $tmp/askr.toml, run by the command words after LOG if any (env, valgrind),
# once it answers on PORT; $pid.
start_proxy() { # PORT LOG [COMMAND...]
  local port="$1" log="$2"
  shift 2
  "$@" "$ASKR" -c "$tmp/askr.toml" 2>"$log" &
  pid=$!
  pids+=("$pid")
  start "$port" "$pid"
}

# PID runs under callgrind: its counters zeroed, the measured requests made, the counters
# dumped (kept as NAME with KEEP); $result: its instructions per request.
count_instructions() { # PID NAME
  callgrind_control -z "$1" >/dev/null 2>&1
  measured
  callgrind_control -d "$1" >/dev/null 2>&1
  result=$(per_request "$(callgrind_total "$tmp/cg.$1.1" "$2")")
}

proxy_instructions() { # MODE BACKEND
  local port pid wpid=""
  port=$(free_port)
  config "$port" "$1" "$2" own
  if [ "$2" = io_uring ]; then
    # Under valgrind (3.19: no pidfd_open) askr-proxy on io_uring cannot supervise its workers:
    # the worker runs on its own, as an external pool with kept connections.
    start_worker "$1" "$tmp/w.log"
    config "$port" "$1" "$2" "$tmp/w.sock"
  fi
  rm -f "$tmp"/cg.*
  start_proxy "$port" "$tmp/valgrind.log" env ASKR_WORKER_BIN="$ASKR_WORKER" \
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p"
  count_instructions "$pid" "proxy.$1.$2"
  stop_pid "$pid"
  if [ -n "$wpid" ]; then stop_pid "$wpid"; fi
}

worker_instructions() { # MODE
  local port pid wpid
  port=$(free_port)
  config "$port" "$1" epoll "$tmp/w.sock"
  rm -f "$tmp"/cg.*
  start_worker "$1" "$tmp/valgrind.log" valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p"
  start_proxy "$port" "$tmp/proxy.log"
  count_instructions "$wpid" "worker.$1"
  stop_pid "$pid"
  stop_pid "$wpid"
}

allocations() { # MODE BACKEND -> "PROXY / WORKER"
  local port pid p0 w0
  port=$(free_port)
  config "$port" "$1" "$2" own
  printf '#!/bin/sh\nALLOCCOUNT_FILE=%s LD_PRELOAD=%s exec %s "$@"\n' "$tmp/al.w" \
    "$tmp/alloccount.so" "$ASKR_WORKER" >"$tmp/worker.sh"
  chmod +x "$tmp/worker.sh"
  rm -f "$tmp/al.p" "$tmp/al.w"
  start_proxy "$port" "$tmp/proxy.log" env ASKR_WORKER_BIN="$tmp/worker.sh" \
    ALLOCCOUNT_FILE="$tmp/al.p" LD_PRELOAD="$tmp/alloccount.so"
  p0=$(allocs "$tmp/al.p")
  w0=$(allocs "$tmp/al.w")
  measured
  result="$(per_request $(($(allocs "$tmp/al.p") - p0))) / $(per_request $(($(allocs "$tmp/al.w") - w0)))"
  stop_pid "$pid"
}

syscalls() { # MODE BACKEND -> "PROXY-CALLS|PROXY-LIST|WORKER-CALLS|WORKER-LIST"
  local port pid wpid s1 s2
  port=$(free_port)
  config "$port" "$1" "$2" own
  start_proxy "$port" "$tmp/proxy.log" env ASKR_WORKER_BIN="$ASKR_WORKER"
  wpid=$(worker_of "$pid")
  strace -f -c -S calls -o "$tmp/st.p" -p "$pid" 2>/dev/null &
  s1=$!
  strace -f -c -S calls -o "$tmp/st.w" -p "$wpid" 2>/dev/null &
  s2=$!
  sleep 1
  measured
  kill -INT "$s1" "$s2"
  wait "$s1" "$s2" 2>/dev/null || true
  stop_pid "$pid"
  local side out=""
  for side in p w; do
    out+="$(per_request "$(strace_field "$tmp/st.$side" calls)")|"
    out+="$(awk -v n="$N" '$1 ~ /^[0-9.]+$/ && $NF != "total" && $4 / n >= 0.5 {
      printf "%s%s %.1f", (k++ ? ", " : ""), $NF, $4 / n }' "$tmp/st.$side")|"
  done
  result="${out%|}"
}

echo "| Mode | Backend | askr-proxy instructions | askr-worker instructions | Allocations (proxy / worker) | System calls, askr-proxy | System calls, askr-worker |"
echo "|---|---|---:|---:|---|---|---|"
result=""
for m in $MODES; do
  worker_instructions "$m"
  wi=$result
  for b in $BACKENDS; do
    proxy_instructions "$m" "$b"
    pi=$result
    allocations "$m" "$b"
    al=$result
    syscalls "$m" "$b"
    IFS='|' read -r pc pl wc wl <<<"$result"
    echo "| $m | $b | $pi | $wi | $al | $pc ($pl) | $wc ($wl) |"
  done
done
