#!/usr/bin/env bash
# Static files, side by side: askr-proxy (io_uring and epoll backends) against Debian's nginx,
# serving the same two files from the same directory, on loopback, in one run.
#
#   bench/static.sh
#
# Measures, for each server:
#   1. throughput and p99 latency with wrk (keep-alive) on a 100-byte and a 1 MiB file;
#   2. resident memory per idle keep-alive connection (IDLE_CONNS connections held open);
#   3. system calls per request under load (strace -c on the serving process).
#
# Environment (defaults in brackets):
#   SERVER_CPUS [1]       cores the servers are pinned to (taskset list syntax: "1", "2-5")
#   CLIENT_CPUS [0]       cores wrk and the idle-connection client are pinned to
#   THREADS [1]           Askr loop threads = nginx worker processes
#   WRK_THREADS [1]       wrk -t
#   CONNS [64]            wrk -c
#   DURATION [10]         seconds per wrk run
#   ROUNDS [3]            interleaved rounds per server and file; the median run is reported
#   STRACE_DURATION [5]   seconds of the wrk run traced for syscall counts
#   IDLE_CONNS [10000]    idle keep-alive connections for the memory measurement
#   ASKR [build/proxy/askr-proxy]   the binary under test
#   NGINX [nginx]         the nginx binary
#   OUT [bench/results-static.md]   where the markdown report is written (overwritten)
set -euo pipefail
# nginx takes a NGINX variable for sockets handed over on upgrade; never pass ours on.
export -n NGINX 2>/dev/null || true

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

SERVER_CPUS="${SERVER_CPUS:-1}"
CLIENT_CPUS="${CLIENT_CPUS:-0}"
THREADS="${THREADS:-1}"
WRK_THREADS="${WRK_THREADS:-1}"
CONNS="${CONNS:-64}"
DURATION="${DURATION:-10}"
ROUNDS="${ROUNDS:-3}"
STRACE_DURATION="${STRACE_DURATION:-5}"
IDLE_CONNS="${IDLE_CONNS:-10000}"
ASKR="${ASKR:-$repo/build/proxy/askr-proxy}"
NGINX="${NGINX:-nginx}"
OUT="${OUT:-$here/results-static.md}"

die() { echo "static.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Prerequisites.
"$repo/scripts/deps.sh" bench
command -v python3 >/dev/null || die "python3 is required"
if [ ! -x "$ASKR" ]; then
  echo "building askr-proxy"
  "$repo/scripts/build.sh"
fi
[ -x "$ASKR" ] || die "no askr-proxy at $ASKR"
[ "$(id -u)" -eq 0 ] || die "run as root (nginx runs with 'user root;', strace attaches to the servers)"

# Both servers and the idle client each need more than IDLE_CONNS descriptors.
ulimit -Hn 65536 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
nofile="$(ulimit -Hn)"
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nofile" -ge $((IDLE_CONNS + 200)) ] ||
  die "open-file hard limit $nofile is below IDLE_CONNS+200; raise it or lower IDLE_CONNS"
nginx_nofile=$(( nofile < 30000 ? nofile : 30000 ))

# ---------------------------------------------------------------------------------------------
# Cleanup on any exit.
tmp="$(mktemp -d /tmp/askr-bench.XXXXXX)"
pids=()
strace_pid=""
cleanup() {
  set +e
  [ -n "$strace_pid" ] && kill -INT "$strace_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private copy of the binary: a rebuild during the run cannot change what is measured.
cp "$ASKR" "$tmp/askr-proxy"
ASKR_BIN="$tmp/askr-proxy"

# Anything else running skews the numbers; say so in the report.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
awk -v l="${load_start%% *}" 'BEGIN{exit !(l > 0.5)}' &&
  echo "static.sh: warning: load average is $load_start before the run; results will be noisy" >&2

# ---------------------------------------------------------------------------------------------
# Files.
mkdir -p "$tmp/www"
head -c 100 /dev/urandom >"$tmp/www/small.bin"
head -c 1048576 /dev/urandom >"$tmp/www/big.bin"
chmod 755 "$tmp" "$tmp/www"
chmod 644 "$tmp/www/"*.bin

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# "1,3-5" -> "1 3 4 5"
expand_cpus() {
  local part i out=()
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part == *-* ]]; then
      for ((i = ${part%-*}; i <= ${part#*-}; i++)); do out+=("$i"); done
    else
      out+=("$part")
    fi
  done
  echo "${out[@]}"
}

# nginx's worker_cpu_affinity mask for SERVER_CPUS, so that each worker is pinned to one of
# them as each Askr loop is (plain `auto` would start from CPU 0, outside the taskset).
nginx_mask() {
  local max=0 c i mask=""
  local cpus=($(expand_cpus "$SERVER_CPUS"))
  for c in "${cpus[@]}"; do ((c > max)) && max=$c; done
  for ((i = max; i >= 0; i--)); do
    if [[ " ${cpus[*]} " == *" $i "* ]]; then mask+="1"; else mask+="0"; fi
  done
  echo "$mask"
}

# ---------------------------------------------------------------------------------------------
# Servers: askr-uring, askr-epoll, nginx, each on its own loopback port, all pinned to
# SERVER_CPUS. Only one is under load at a time; the others sit idle.
declare -A port pid label
servers=(askr-uring askr-epoll nginx)
label[askr-uring]="Askr (io_uring)"
label[askr-epoll]="Askr (epoll)"
label[nginx]="nginx"

start_askr() { # NAME BACKEND
  local name=$1 backend=$2
  port[$name]=$(free_port)
  cat >"$tmp/$name.toml" <<EOF
[server]
threads = $THREADS
io_backend = "$backend"
error_log = "$tmp/$name.log"

[[listen]]
address = "127.0.0.1:${port[$name]}"

[[site]]
root = "$tmp/www"

[limits]
keepalive_requests = 1000000

[timeouts]
keepalive = "300s"

[access_log]
format = "off"
EOF
  "$ASKR_BIN" -t -c "$tmp/$name.toml" 2>/dev/null ||
    { "$ASKR_BIN" -t -c "$tmp/$name.toml"; die "bad askr config"; }
  taskset -c "$SERVER_CPUS" "$ASKR_BIN" -c "$tmp/$name.toml" 2>>"$tmp/$name.log" &
  pid[$name]=$!
  pids+=("$!")
}

start_nginx() {
  port[nginx]=$(free_port)
  mkdir -p "$tmp/nginx"
  cat >"$tmp/nginx.conf" <<EOF
user root;
worker_processes $THREADS;
worker_cpu_affinity auto $(nginx_mask);
worker_rlimit_nofile $nginx_nofile;
daemon off;
master_process on;
error_log $tmp/nginx.log;
pid $tmp/nginx.pid;
lock_file $tmp/nginx.lock;

events {
    worker_connections 20000;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;

    server {
        listen 127.0.0.1:${port[nginx]};
        root $tmp/www;
    }
}
EOF
  "$NGINX" -t -q -p "$tmp/nginx" -e "$tmp/nginx.log" -c "$tmp/nginx.conf" ||
    { cat "$tmp/nginx.log" >&2; die "bad nginx config"; }
  taskset -c "$SERVER_CPUS" "$NGINX" -p "$tmp/nginx" -e "$tmp/nginx.log" -c "$tmp/nginx.conf" &
  pid[nginx]=$!
  pids+=("$!")
}

# The processes whose memory counts for a server: Askr's one process, nginx's master and workers.
server_pids() {
  if [ "$1" = nginx ]; then echo "${pid[nginx]} $(pgrep -P "${pid[nginx]}" | tr '\n' ' ')"
  else echo "${pid[$1]}"; fi
}

# The process strace attaches to: Askr's process (all its threads), nginx's worker.
serving_pid() {
  if [ "$1" = nginx ]; then pgrep -P "${pid[nginx]}" | head -1; else echo "${pid[$1]}"; fi
}

alive() { kill -0 "${pid[$1]}" 2>/dev/null; }

wait_ready() { # NAME
  local name=$1
  for _ in $(seq 100); do
    alive "$name" || die "$name exited at start; log: $(cat "$tmp/$name.log" 2>/dev/null)"
    curl -s -o /dev/null "http://127.0.0.1:${port[$name]}/small.bin" && return 0
    sleep 0.1
  done
  die "$name did not answer on 127.0.0.1:${port[$name]}"
}

# Both files must come back whole and identical before anything is measured.
check_files() { # NAME
  local name=$1 f code
  for f in small.bin big.bin; do
    code=$(curl -s -o "$tmp/check.$f" -w '%{http_code}' "http://127.0.0.1:${port[$name]}/$f")
    [ "$code" = 200 ] || die "$name: GET /$f answered $code"
    cmp -s "$tmp/check.$f" "$tmp/www/$f" || die "$name: GET /$f body differs from the file"
  done
  rm -f "$tmp"/check.*
}

start_askr askr-uring io_uring
start_askr askr-epoll epoll
start_nginx
for s in "${servers[@]}"; do wait_ready "$s"; check_files "$s"; done

# ---------------------------------------------------------------------------------------------
# Memory per idle keep-alive connection.
cat >"$tmp/idle.py" <<'EOF'
# Opens N keep-alive connections to 127.0.0.1:PORT, sends one GET on each and reads the whole
# response, then holds them all idle and reports the servers' RSS (sum over PIDS) before and
# after, and how many connections were still open at the end.
import errno, resource, selectors, socket, sys, time

port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
pids = [int(p) for p in sys.argv[4:]]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def rss_kb():
    total = 0
    for p in pids:
        with open(f"/proc/{p}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    total += int(line.split()[1])
    return total

req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
time.sleep(1)
before = rss_kb()

sel = selectors.DefaultSelector()
held, ok, bad = [], 0, 0
pending = 0
BATCH = 256  # connections in flight at once; below nginx's default listen backlog (511)
started = 0

def parse(buf):
    """Returns (status, complete) for a response in buf."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None, False
    head = buf[:end].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    length = 0
    for h in head[1:]:
        k, _, v = h.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    return status, len(buf) >= end + 4 + length

while ok + bad < n:
    while started < n and pending < BATCH:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            bad += 1; started += 1; s.close(); continue
        sel.register(s, selectors.EVENT_WRITE, [b""])
        started += 1; pending += 1
    for key, ev in sel.select(timeout=10):
        s, state = key.fileobj, key.data
        if ev & selectors.EVENT_WRITE:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                sel.unregister(s); s.close(); bad += 1; pending -= 1; continue
            s.send(req)
            sel.modify(s, selectors.EVENT_READ, state)
            continue
        try:
            chunk = s.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            sel.unregister(s); s.close(); bad += 1; pending -= 1; continue
        state[0] += chunk
        status, done = parse(state[0])
        if done:
            sel.unregister(s); pending -= 1
            if status == 200:
                ok += 1; held.append(s)
            else:
                bad += 1; s.close()

time.sleep(2)
after = rss_kb()
still_open = 0
for s in held:
    try:
        if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
            continue
        still_open += 1  # unexpected data; still counts as open
    except BlockingIOError:
        still_open += 1
    except OSError:
        pass
print(before, after, ok, bad, still_open)
for s in held:
    s.close()
EOF

declare -A mem_before mem_after mem_ok mem_bad mem_open
for s in "${servers[@]}"; do
  echo "memory: $IDLE_CONNS idle connections to ${label[$s]}" >&2
  read -r mem_before[$s] mem_after[$s] mem_ok[$s] mem_bad[$s] mem_open[$s] < <(
    taskset -c "$CLIENT_CPUS" python3 "$tmp/idle.py" "${port[$s]}" "$IDLE_CONNS" /small.bin \
      $(server_pids "$s"))
  alive "$s" || die "$s died during the idle-connection test; log: $(tail -20 "$tmp/$s.log")"
  sleep 1
done

# ---------------------------------------------------------------------------------------------
# Throughput: ROUNDS rounds; in each, every file on every server in turn, so noise on the
# machine spreads over all of them.
run_wrk() { # NAME FILE SECONDS OUTFILE
  taskset -c "$CLIENT_CPUS" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$3"s --latency \
    "http://127.0.0.1:${port[$1]}/$2" >"$4" 2>&1 || true
  alive "$1" || die "$1 died under wrk; log: $(tail -20 "$tmp/$1.log")"
}
wrk_field() { # OUTFILE FIELD
  case "$2" in
    rps) awk '/^Requests\/sec:/{print $2}' "$1" ;;
    p99) awk '$1=="99%"{print $2}' "$1" ;;
    requests) awk '/ requests in /{print $1}' "$1" ;;
    non2xx) awk '/Non-2xx or 3xx responses:/{print $NF}' "$1" | grep . || echo 0 ;;
    sockerr) sed -n 's/^ *Socket errors: *//p' "$1" | grep . || echo none ;;
  esac
}

files=(small.bin big.bin)
for s in "${servers[@]}"; do # warm-up, not counted
  run_wrk "$s" small.bin 2 "$tmp/warmup.txt"
done
for r in $(seq "$ROUNDS"); do
  for f in "${files[@]}"; do
    for s in "${servers[@]}"; do
      echo "throughput: round $r/$ROUNDS, ${label[$s]}, $f" >&2
      run_wrk "$s" "$f" "$DURATION" "$tmp/wrk.$s.$f.$r.txt"
    done
  done
done

# The median run by requests/s (for an even ROUNDS, the lower of the two middle runs).
median_run() { # NAME FILE -> round number
  for r in $(seq "$ROUNDS"); do
    echo "$(wrk_field "$tmp/wrk.$1.$2.$r.txt" rps) $r"
  done | sort -g | awk -v n="$ROUNDS" 'NR==int((n+1)/2){print $2}'
}

# ---------------------------------------------------------------------------------------------
# Syscalls per request: strace -c on the serving process during one wrk run on small.bin.
declare -A sc_total sc_reqs sc_top
for s in "${servers[@]}"; do
  echo "syscalls: ${label[$s]}" >&2
  target=$(serving_pid "$s")
  strace -c -f -p "$target" -o "$tmp/strace.$s.txt" 2>/dev/null &
  strace_pid=$!
  sleep 1
  run_wrk "$s" small.bin "$STRACE_DURATION" "$tmp/wrk.strace.$s.txt"
  kill -INT "$strace_pid"
  wait "$strace_pid" || true
  strace_pid=""
  sc_total[$s]=$(awk '$NF=="total"{print $4}' "$tmp/strace.$s.txt")
  sc_reqs[$s]=$(wrk_field "$tmp/wrk.strace.$s.txt" requests)
  sc_top[$s]=$(awk '$1 ~ /^[0-9.]+$/ && $NF!="total" && NF>=5 {print $4, $NF}' "$tmp/strace.$s.txt" |
    sort -rn | head -5 |
    awk -v n="${sc_reqs[$s]}" '{printf "%s%s %.3f", (NR>1?", ":""), $2, $1/n}')
done

# ---------------------------------------------------------------------------------------------
# Report.
cpu_model=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
nginx_version=$("$NGINX" -v 2>&1 | sed 's/^nginx version: nginx\///')
wrk_version=$( (wrk -v 2>&1 || true) | awk 'NR==1{print $2}')
askr_version=$( ("$ASKR_BIN" --version 2>&1 || true) | head -1)
if rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null); then
  git -C "$repo" diff --quiet HEAD -- proxy shared CMakeLists.txt 2>/dev/null ||
    rev+=" with uncommitted changes under proxy/ or shared/"
  askr_version+=" (commit $rev)"
fi
cmdline="SERVER_CPUS=$SERVER_CPUS CLIENT_CPUS=$CLIENT_CPUS THREADS=$THREADS WRK_THREADS=$WRK_THREADS CONNS=$CONNS DURATION=$DURATION ROUNDS=$ROUNDS STRACE_DURATION=$STRACE_DURATION IDLE_CONNS=$IDLE_CONNS bench/static.sh"

report="$tmp/report.md"
{
  echo "# Static files: Askr vs nginx"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Machine: $(nproc) CPUs, $cpu_model, kernel $(uname -r)"
  echo "- Servers: $askr_version; nginx $nginx_version. Client: wrk $wrk_version"
  echo "- Servers pinned to CPU(s) $SERVER_CPUS, $THREADS Askr loop(s) / $THREADS nginx worker(s);"
  echo "  wrk pinned to CPU(s) $CLIENT_CPUS"
  echo "- Command: \`$cmdline\`"
  echo "- Load average (1, 5, 15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "## Throughput"
  echo
  echo "\`wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s --latency\`, keep-alive, $ROUNDS rounds interleaved"
  echo "(every server and file in turn each round). Reported: the median round by requests/s,"
  echo "with the p99 latency and errors of that same round; all rounds are listed. A round runs"
  echo "the three servers back to back, so the round-by-round ratio is the one least moved by load"
  echo "that comes and goes on the machine."
  echo
  echo "| Server | File | Requests/s | p99 latency | Askr / nginx | Non-2xx | Socket errors | All rounds (req/s) | Askr / nginx, round by round |"
  echo "|---|---|---:|---:|---:|---:|---|---|---|"
  for f in "${files[@]}"; do
    nr=$(median_run nginx "$f")
    nginx_rps=$(wrk_field "$tmp/wrk.nginx.$f.$nr.txt" rps)
    for s in "${servers[@]}"; do
      m=$(median_run "$s" "$f")
      w="$tmp/wrk.$s.$f.$m.txt"
      rps=$(wrk_field "$w" rps)
      if [ "$s" = nginx ]; then ratio="—"
      else ratio=$(awk -v a="$rps" -v b="$nginx_rps" 'BEGIN{printf "%.2f", a/b}'); fi
      all=$(for r in $(seq "$ROUNDS"); do printf '%.0f ' "$(wrk_field "$tmp/wrk.$s.$f.$r.txt" rps)"; done)
      byround="—"
      if [ "$s" != nginx ]; then
        byround=$(for r in $(seq "$ROUNDS"); do
          awk -v a="$(wrk_field "$tmp/wrk.$s.$f.$r.txt" rps)" \
            -v b="$(wrk_field "$tmp/wrk.nginx.$f.$r.txt" rps)" 'BEGIN{printf "%.2f ", a/b}'
        done)
      fi
      printf '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s |\n' "${label[$s]}" "$f" "$rps" \
        "$(wrk_field "$w" p99)" "$ratio" "$(wrk_field "$w" non2xx)" "$(wrk_field "$w" sockerr)" \
        "$(echo $all | sed 's/ / \/ /g')" "$(echo $byround | sed 's/ / \/ /g')"
    done
  done
  echo
  echo "Errors over all rounds (sum of Non-2xx responses; any socket-error line that is not all zeros):"
  echo
  for s in "${servers[@]}"; do
    n2=0; se=""
    for f in "${files[@]}"; do for r in $(seq "$ROUNDS"); do
      w="$tmp/wrk.$s.$f.$r.txt"
      n2=$((n2 + $(wrk_field "$w" non2xx)))
      e=$(wrk_field "$w" sockerr)
      [ "$e" = none ] || se+=" [$f round $r: $e]"
    done; done
    echo "- ${label[$s]}: non-2xx $n2; socket errors:${se:- none}"
  done
  echo
  echo "## Memory per idle keep-alive connection"
  echo
  echo "$IDLE_CONNS connections, each sends one \`GET /small.bin\`, reads the response and stays"
  echo "open and idle. RSS is the sum of \`Rss\` in /proc/PID/smaps_rollup over the server's"
  echo "processes (nginx: master + workers), taken 1 s before connecting and 2 s after the last"
  echo "response. Kernel socket buffers are not in RSS and not counted."
  echo
  echo "| Server | RSS before | RSS after | Per connection | Answered 200 | Failed | Still open at the end |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for s in "${servers[@]}"; do
    per=$(awk -v a="${mem_after[$s]}" -v b="${mem_before[$s]}" -v n="${mem_ok[$s]}" \
      'BEGIN{ if (n>0) printf "%.0f B", (a-b)*1024/n; else print "n/a" }')
    printf '| %s | %s KiB | %s KiB | %s | %s | %s | %s |\n' "${label[$s]}" "${mem_before[$s]}" \
      "${mem_after[$s]}" "$per" "${mem_ok[$s]}" "${mem_bad[$s]}" "${mem_open[$s]}"
  done
  echo
  echo "## System calls per request"
  echo
  echo "\`strace -c -f -p PID\` (Askr: its process, all threads; nginx: the worker) during one"
  echo "\`wrk -t$WRK_THREADS -c$CONNS -d${STRACE_DURATION}s\` run on small.bin; total calls / requests wrk completed."
  echo "strace slows the server a lot, so these runs' requests/s mean nothing; only the ratio does."
  echo "With io_uring most I/O is submitted through the ring, so one \`io_uring_enter\` covers many"
  echo "operations: fewer syscalls, not necessarily less kernel work."
  echo
  echo "| Server | Requests | Syscalls | Syscalls / request | Top 5 (calls / request) | Non-2xx | Socket errors |"
  echo "|---|---:|---:|---:|---|---:|---|"
  for s in "${servers[@]}"; do
    per=$(awk -v a="${sc_total[$s]}" -v n="${sc_reqs[$s]}" 'BEGIN{printf "%.3f", a/n}')
    w="$tmp/wrk.strace.$s.txt"
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${label[$s]}" "${sc_reqs[$s]}" "${sc_total[$s]}" \
      "$per" "${sc_top[$s]}" "$(wrk_field "$w" non2xx)" "$(wrk_field "$w" sockerr)"
  done
  echo
  for s in askr-uring askr-epoll nginx; do
    if grep -qiE 'error|warn|alert|crit|emerg' "$tmp/$s.log" 2>/dev/null; then
      echo "Log lines of note from ${label[$s]}:"
      echo
      echo '```'
      { grep -iE 'error|warn|alert|crit|emerg' "$tmp/$s.log" || true; } | head -20 || true
      echo '```'
      echo
    fi
  done
} >"$report"

cat "$report"
cp "$report" "$OUT"
echo "written: $OUT" >&2
