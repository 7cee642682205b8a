#!/usr/bin/env bash
# Scaling with cores: askr-proxy (one pinned event loop per core, one SO_REUSEPORT listener per
# loop) against Debian's nginx (one worker process per core) on a 100-byte file, keep-alive,
# for several thread counts N, on loopback.
#
#   bench/scale.sh
#
# For each N in NS every server runs with N threads (Askr `threads = N`, nginx
# `worker_processes N`) pinned to cores SERVER_FIRST_CPU .. SERVER_FIRST_CPU+N-1; wrk runs on
# CLIENT_CPUS, which must not overlap them. All servers for all N are started at once, each on
# its own port (idle ones use no CPU), so the rounds can interleave every N and every server.
# Besides requests/s the report gives, per run, how busy the server's cores and the client's
# cores were (from /proc/stat) and the spread of CPU time over the server's loops or workers (from
# /proc/PID/task/*/stat), which tell a server that is saturated from one that is starved by the
# client or by an uneven spread of connections.
#
# Environment (defaults in brackets):
#   NS ["1 2 4 8"]            thread counts to measure
#   SERVER_FIRST_CPU [0]      first server core; N threads use SERVER_FIRST_CPU..+N-1
#   CLIENT_CPUS [8-15]        cores wrk is pinned to (taskset list syntax)
#   WRK_THREADS [8]           wrk -t
#   CONNS [256]               wrk -c
#   DURATION [8]              seconds per wrk run
#   ROUNDS [2]                interleaved rounds; the median over rounds is reported
#   WARMUP [2]                seconds of an uncounted wrk run per server before round 1
#   SERVERS ["askr-uring askr-epoll nginx"]   any of: askr-uring askr-epoll nginx nginx-reuseport
#                             (nginx-reuseport: nginx with `listen ... reuseport`, one listening
#                             socket per worker as Askr has)
#   ASKR [build/proxy/askr-proxy]   the binary under test
#   NGINX [nginx]  WRK [wrk]  the nginx and wrk binaries
#   MIME_TYPES [/etc/nginx/mime.types]
#   LIB_PATH []               directory put in front of LD_LIBRARY_PATH for ASKR, NGINX and WRK
#                             alone (for binaries brought from another machine)
#   ASKR_REV []               commit to name in the report when the tree is no git checkout
#   RAW []                    directory to copy every wrk output and server log into
#   OUT [bench/results-scale.md]   where the markdown report is written (overwritten)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

NS="${NS:-1 2 4 8}"
SERVER_FIRST_CPU="${SERVER_FIRST_CPU:-0}"
CLIENT_CPUS="${CLIENT_CPUS:-8-15}"
WRK_THREADS="${WRK_THREADS:-8}"
CONNS="${CONNS:-256}"
DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-2}"
WARMUP="${WARMUP:-2}"
SERVERS="${SERVERS:-askr-uring askr-epoll nginx}"
ASKR="${ASKR:-$repo/build/proxy/askr-proxy}"
NGINX="${NGINX:-nginx}"
WRK="${WRK:-wrk}"
MIME_TYPES="${MIME_TYPES:-/etc/nginx/mime.types}"
LIB_PATH="${LIB_PATH:-}"
ASKR_REV="${ASKR_REV:-}"
RAW="${RAW:-}"
OUT="${OUT:-$here/results-scale.md}"
# Kept from the children: nginx reads NGINX from its environment as a list of inherited sockets.
export -n NS SERVER_FIRST_CPU CLIENT_CPUS WRK_THREADS CONNS DURATION ROUNDS WARMUP SERVERS ASKR \
  NGINX WRK MIME_TYPES LIB_PATH ASKR_REV RAW OUT

. "$here/lib.sh"
bench_name=scale.sh

# ---------------------------------------------------------------------------------------------
# Prerequisites.
[ "$(id -u)" -eq 0 ] || die "run as root (nginx runs with 'user root;')"
for t in python3 taskset awk; do command -v "$t" >/dev/null || die "$t is required"; done
if [ "$NGINX" = nginx ] && [ "$WRK" = wrk ] &&
  { ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; }; then
  "$repo/scripts/deps.sh" bench
fi
if [ ! -x "$ASKR" ] && [ "$ASKR" = "$repo/build/proxy/askr-proxy" ]; then
  echo "building askr-proxy"
  "$repo/scripts/build.sh"
fi
[ -x "$ASKR" ] || die "no askr-proxy at $ASKR"
command -v "$NGINX" >/dev/null || die "no nginx at $NGINX"
command -v "$WRK" >/dev/null || die "no wrk at $WRK"
[ -r "$MIME_TYPES" ] || die "no mime.types at $MIME_TYPES"

binenv=()
[ -n "$LIB_PATH" ] && binenv=(env "LD_LIBRARY_PATH=$LIB_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")

ncpu=$(nproc)
client_list=($(expand_cpus "$CLIENT_CPUS"))
maxn=0
for n in $NS; do ((n > maxn)) && maxn=$n; done
last_server_cpu=$((SERVER_FIRST_CPU + maxn - 1))
((last_server_cpu < ncpu)) || die "N=$maxn needs cores $SERVER_FIRST_CPU-$last_server_cpu; this machine has $ncpu"
for c in "${client_list[@]}"; do
  ((c < ncpu)) || die "client core $c does not exist ($ncpu cores)"
  ((c < SERVER_FIRST_CPU || c > last_server_cpu)) ||
    die "client core $c overlaps the server cores $SERVER_FIRST_CPU-$last_server_cpu"
done
for s in $SERVERS; do
  case "$s" in askr-uring | askr-epoll | nginx | nginx-reuseport) ;; *) die "unknown server '$s'" ;; esac
done

raise_nofile

# ---------------------------------------------------------------------------------------------
# Cleanup on any exit (lib.sh): only the processes this script started.
bench_init scale.sh askr-scale

cp "$ASKR" "$tmp/askr-proxy"
ASKR_BIN="$tmp/askr-proxy"

warn_load

mkdir -p "$tmp/www"
head -c 100 /dev/urandom >"$tmp/www/small.bin"
chmod 755 "$tmp" "$tmp/www"
chmod 644 "$tmp/www/small.bin"

# Exit 0 when GET /small.bin on PORT answers 200 with exactly the file's bytes.
check_get() { # PORT
  python3 - "$1" "$tmp/www/small.bin" <<'EOF' 2>/dev/null
import sys, urllib.request
port, path = sys.argv[1], sys.argv[2]
with urllib.request.urlopen(f"http://127.0.0.1:{port}/small.bin", timeout=2) as r:
    body = r.read()
    ok = r.status == 200 and body == open(path, "rb").read()
sys.exit(0 if ok else 1)
EOF
}

# nginx's worker_cpu_affinity mask for cores FIRST..FIRST+N-1.
nginx_mask() { cpu_mask "$1-$(($1 + $2 - 1))"; } # FIRST N

declare -A port pid cpus alive_ok label
label[askr-uring]="Askr (io_uring)"
label[askr-epoll]="Askr (epoll)"
label[nginx]="nginx"
label[nginx-reuseport]="nginx (reuseport)"

start_askr() { # KEY BACKEND N
  local key=$1 backend=$2 n=$3
  cat >"$tmp/$key.toml" <<EOF
[server]
threads = $n
io_backend = "$backend"
error_log = "$tmp/$key.log"

[[listen]]
address = "127.0.0.1:${port[$key]}"

[[site]]
root = "$tmp/www"

$(askr_conf_tail)
EOF
  "${binenv[@]}" "$ASKR_BIN" -t -c "$tmp/$key.toml" >"$tmp/$key.check" 2>&1 ||
    { cat "$tmp/$key.check" >&2; return 1; }
  taskset -c "${cpus[$key]}" "${binenv[@]}" "$ASKR_BIN" -c "$tmp/$key.toml" 2>>"$tmp/$key.log" &
  pid[$key]=$!
  pids+=("$!")
}

start_nginx() { # KEY N REUSEPORT("" or " reuseport")
  local key=$1 n=$2 rp=$3 d="$tmp/$1"
  mkdir -p "$d"
  cat >"$d/nginx.conf" <<EOF
user root;
worker_processes $n;
worker_cpu_affinity auto $(nginx_mask "$SERVER_FIRST_CPU" "$n");
worker_rlimit_nofile $nginx_nofile;
daemon off;
master_process on;
error_log $tmp/$key.log;
pid $d/nginx.pid;
lock_file $d/nginx.lock;

events {
    worker_connections 20000;
}

http {
    include $MIME_TYPES;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;

    server {
        listen 127.0.0.1:${port[$key]}$rp;
        root $tmp/www;
    }
}
EOF
  "${binenv[@]}" "$NGINX" -t -q -p "$d" -e "$tmp/$key.log" -c "$d/nginx.conf" >"$tmp/$key.check" 2>&1 ||
    { cat "$tmp/$key.check" "$tmp/$key.log" >&2 2>/dev/null; return 1; }
  taskset -c "${cpus[$key]}" "${binenv[@]}" "$NGINX" -p "$d" -e "$tmp/$key.log" -c "$d/nginx.conf" &
  pid[$key]=$!
  pids+=("$!")
}

# The tasks that serve: Askr's loop threads, nginx's worker processes ("PID/TID" paths in /proc).
serving_tasks() { # KEY
  local key=$1 p t
  if [[ $key == askr-* ]]; then
    for t in /proc/"${pid[$key]}"/task/*; do
      [[ "$(cat "$t/comm" 2>/dev/null)" == askr-loop-* ]] && echo "$t"
    done
  else
    for t in /proc/[0-9]*/stat; do
      { read -r line <"$t"; } 2>/dev/null || continue
      line=${line##*) }
      set -- $line
      [ "$2" = "${pid[$key]}" ] && echo "${t%/stat}"
    done
  fi
}

# utime+stime in clock ticks of each serving task, one per line.
task_ticks() { # KEY
  local t
  for t in $(serving_tasks "$1"); do
    sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}'
  done
}

is_alive() { kill -0 "${pid[$1]}" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# Start every server for every N.
keys=()
failed=()
for n in $NS; do
  for s in $SERVERS; do
    key="$s.$n"
    port[$key]=$(free_port)
    cpus[$key]="$SERVER_FIRST_CPU"
    ((n > 1)) && cpus[$key]="$SERVER_FIRST_CPU-$((SERVER_FIRST_CPU + n - 1))"
    case "$s" in
      askr-uring) start_askr "$key" io_uring "$n" || { failed+=("$key (bad config)"); continue; } ;;
      askr-epoll) start_askr "$key" epoll "$n" || { failed+=("$key (bad config)"); continue; } ;;
      nginx) start_nginx "$key" "$n" "" || { failed+=("$key (bad config)"); continue; } ;;
      nginx-reuseport) start_nginx "$key" "$n" " reuseport" || { failed+=("$key (bad config)"); continue; } ;;
    esac
    keys+=("$key")
  done
done
ready=()
for key in "${keys[@]}"; do
  ok=""
  for _ in $(seq 100); do
    is_alive "$key" || break
    if check_get "${port[$key]}"; then ok=1; break; fi
    sleep 0.1
  done
  if [ -n "$ok" ]; then
    ready+=("$key")
  else
    note "$key did not serve small.bin; left out. Log:"
    tail -5 "$tmp/$key.log" >&2 2>/dev/null || true
    failed+=("$key (did not start or did not serve the file: $(tail -1 "$tmp/$key.log" 2>/dev/null))")
  fi
done
[ ${#ready[@]} -gt 0 ] || die "no server started"
for key in "${ready[@]}"; do alive_ok[$key]=1; done

# ---------------------------------------------------------------------------------------------
# Runs.
# Busy share (user+nice+system+irq+softirq over all ticks) of a set of CPUs between two
# /proc/stat snapshots, in percent; and the steal share.
cpu_busy() { # BEFORE AFTER "c1 c2 ..." busy|steal
  awk -v set=" $3 " -v what="$4" '
    FNR==1 { f++ }
    $1 ~ /^cpu[0-9]+$/ {
      c = substr($1, 4)
      if (index(set, " " c " ") == 0) next
      busy = $2 + $3 + $4 + $7 + $8; tot = $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9
      if (f == 1) { b0 += busy; t0 += tot; s0 += $9 } else { b1 += busy; t1 += tot; s1 += $9 }
    }
    END {
      if (t1 - t0 <= 0) { print "?"; exit }
      printf "%.0f", 100 * ((what == "steal") ? (s1 - s0) : (b1 - b0)) / (t1 - t0)
    }' "$1" "$2"
}

clk_tck=$(getconf CLK_TCK)
declare -A res_rps res_p99 res_srv res_cli res_steal res_spread res_non2xx res_sockerr

run_one() { # KEY SECONDS TAG
  local key=$1 secs=$2 tag=$3 n=${1##*.}
  local w="$tmp/wrk.$key.$tag.txt" t0 t1 srv_set
  srv_set=$(expand_cpus "${cpus[$key]}")
  task_ticks "$key" >"$tmp/ticks0"
  cat /proc/stat >"$tmp/stat0"
  t0=$(date +%s.%N)
  wrk_run "http://127.0.0.1:${port[$key]}/small.bin" "$secs" "$w"
  t1=$(date +%s.%N)
  cat /proc/stat >"$tmp/stat1"
  task_ticks "$key" >"$tmp/ticks1"
  if ! is_alive "$key"; then
    note "$key died under wrk; log: $(tail -5 "$tmp/$key.log" 2>/dev/null)"
    alive_ok[$key]=""
    failed+=("$key (died under load)")
    return 0
  fi
  [ "$tag" = warmup ] && return 0
  res_rps[$key.$tag]=$(wrk_field "$w" rps)
  res_p99[$key.$tag]=$(wrk_field "$w" p99)
  res_non2xx[$key.$tag]=$(wrk_field "$w" non2xx)
  res_sockerr[$key.$tag]=$(wrk_field "$w" sockerr)
  res_srv[$key.$tag]=$(cpu_busy "$tmp/stat0" "$tmp/stat1" "$srv_set" busy)
  res_cli[$key.$tag]=$(cpu_busy "$tmp/stat0" "$tmp/stat1" "${client_list[*]}" busy)
  res_steal[$key.$tag]=$(cpu_busy "$tmp/stat0" "$tmp/stat1" "$(seq -s ' ' 0 $((ncpu - 1)))" steal)
  # Per loop/worker CPU, percent of one core over the run: "min-max" over the N of them.
  res_spread[$key.$tag]=$(paste "$tmp/ticks0" "$tmp/ticks1" |
    awk -v hz="$clk_tck" -v dt="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" '
      NF == 2 { v = 100 * ($2 - $1) / hz / dt; if (n == 0 || v < lo) lo = v; if (n == 0 || v > hi) hi = v; n++ }
      END { if (n) printf "%.0f–%.0f", lo, hi; else print "?" }')
}

for key in "${ready[@]}"; do
  echo "warm-up: $key" >&2
  run_one "$key" "$WARMUP" warmup
done
for r in $(seq "$ROUNDS"); do
  for key in "${ready[@]}"; do
    [ -n "${alive_ok[$key]}" ] || continue
    echo "round $r/$ROUNDS: $key" >&2
    run_one "$key" "$DURATION" "$r"
    echo "  ${res_rps[$key.$r]:-died} req/s; server cores ${res_srv[$key.$r]:-?}% busy, client cores ${res_cli[$key.$r]:-?}%" >&2
  done
done

# Median over rounds (mean of the middle two for an even count); "" when a round is missing.
median_rps() { # KEY
  local r vals=()
  for r in $(seq "$ROUNDS"); do
    [ -n "${res_rps[$1.$r]:-}" ] || { echo ""; return; }
    vals+=("${res_rps[$1.$r]}")
  done
  printf '%s\n' "${vals[@]}" | sort -g |
    awk '{v[NR]=$1} END{ if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2 }'
}
rounds_of() { # KEY ARRAY-NAME -> "a / b / ..."
  local -n arr=$2
  local r out=()
  for r in $(seq "$ROUNDS"); do out+=("${arr[$1.$r]:-—}"); done
  local IFS=/
  echo "${out[*]}" | sed 's#/# / #g'
}

declare -A med
for key in "${ready[@]}"; do med[$key]=$(median_rps "$key"); done

# ---------------------------------------------------------------------------------------------
# Report.
cpu_model=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
os_name=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}" || echo "?")
smt=$(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list 2>/dev/null || echo "?")
numa=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
mem_gib=$(awk '/^MemTotal:/{printf "%.0f", $2/1048576}' /proc/meminfo)
nginx_version=$("${binenv[@]}" "$NGINX" -v 2>&1 | sed 's/^nginx version: nginx\///')
wrk_version=$( ("${binenv[@]}" "$WRK" -v 2>&1 || true) | awk 'NR==1{print $2}')
askr_version=$( ("${binenv[@]}" "$ASKR_BIN" --version 2>&1 || true) | head -1)
if [ -n "$ASKR_REV" ]; then
  askr_version+=" (commit $ASKR_REV)"
elif rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null); then
  git -C "$repo" diff --quiet HEAD -- proxy shared CMakeLists.txt 2>/dev/null ||
    rev+=" with uncommitted changes under proxy/ or shared/"
  askr_version+=" (commit $rev)"
fi
doctor=$( ("${binenv[@]}" "$ASKR_BIN" doctor 2>&1 || true) | grep -E '^(io_uring|SO_INCOMING_CPU|cores)' || true)
cmdline="NS=\"$NS\" SERVER_FIRST_CPU=$SERVER_FIRST_CPU CLIENT_CPUS=$CLIENT_CPUS WRK_THREADS=$WRK_THREADS CONNS=$CONNS DURATION=$DURATION ROUNDS=$ROUNDS WARMUP=$WARMUP SERVERS=\"$SERVERS\" bench/scale.sh"

servers_ready=()
for s in $SERVERS; do
  for key in "${ready[@]}"; do [ "${key%.*}" = "$s" ] && { servers_ready+=("$s"); break; }; done
done
n_first=$(for n in $NS; do echo "$n"; done | sort -n | head -1)
has_nginx=""
[[ " ${servers_ready[*]} " == *" nginx "* ]] && has_nginx=1

report="$tmp/report.md"
{
  echo "# Scaling with cores: Askr vs nginx, 100-byte file"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Machine: $ncpu CPUs, $cpu_model, ${mem_gib} GiB, $os_name, kernel $(uname -r);"
  echo "  CPU 0's SMT siblings: $smt; NUMA nodes: $numa"
  echo "- Servers: $askr_version; nginx $nginx_version. Client: wrk $wrk_version"
  echo "- N threads (Askr loops / nginx workers) pinned to the N cores from core $SERVER_FIRST_CPU up;"
  echo "  wrk pinned to cores $CLIENT_CPUS"
  echo "- Command: \`$cmdline\`"
  echo "- Load average (1, 5, 15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ -n "$doctor" ]; then
    echo "- \`askr-proxy doctor\` on this machine:"
    echo
    echo '```'
    echo "$doctor"
    echo '```'
  fi
  echo
  echo "\`wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s --latency\` on \`/small.bin\` (100 bytes), keep-alive;"
  echo "$ROUNDS rounds, each running every N and every server in turn; requests/s is the median"
  echo "over the rounds (the mean of the two middle ones for an even count)."
  echo
  echo "## Requests/s"
  echo
  hdr="| N | Server cores |"; sep="|---:|---|"
  for s in "${servers_ready[@]}"; do hdr+=" ${label[$s]} |"; sep+="---:|"; done
  if [ -n "$has_nginx" ]; then
    for s in "${servers_ready[@]}"; do
      [ "$s" = nginx ] && continue
      hdr+=" ${label[$s]} / nginx |"; sep+="---:|"
    done
  fi
  echo "$hdr"; echo "$sep"
  for n in $NS; do
    cores="$SERVER_FIRST_CPU"
    ((n > 1)) && cores="$SERVER_FIRST_CPU-$((SERVER_FIRST_CPU + n - 1))"
    line="| $n | $cores |"
    for s in "${servers_ready[@]}"; do line+=" $(fmt_int "${med[$s.$n]:-}") |"; done
    if [ -n "$has_nginx" ]; then
      for s in "${servers_ready[@]}"; do
        [ "$s" = nginx ] && continue
        line+=" $(div "${med[$s.$n]:-}" "${med[nginx.$n]:-}") |"
      done
    fi
    echo "$line"
  done
  echo
  echo "## Scaling efficiency"
  echo
  echo "Requests/s at N divided by N times requests/s at N=$n_first (times $n_first):"
  echo "1.00 is linear scaling."
  echo
  hdr="| N |"; sep="|---:|"
  for s in "${servers_ready[@]}"; do hdr+=" ${label[$s]} |"; sep+="---:|"; done
  echo "$hdr"; echo "$sep"
  for n in $NS; do
    line="| $n |"
    for s in "${servers_ready[@]}"; do
      line+=" $(awk -v a="${med[$s.$n]:-}" -v b="${med[$s.$n_first]:-}" -v n="$n" -v n0="$n_first" \
        'BEGIN{ if (a == "" || b == "" || b == 0) print "—"; else printf "%.2f", a * n0 / (n * b) }') |"
    done
    echo "$line"
  done
  echo
  echo "## Every run"
  echo
  echo "Per round (\`a / b\`): requests/s; wrk's p99 latency; how busy the server's cores and wrk's"
  echo "cores were (user+system+irq+softirq share of /proc/stat over the run: on loopback the kernel's"
  echo "TCP work for a send is mostly charged to the sending side's cores); the CPU time of each"
  echo "Askr loop thread or nginx worker over the run, lowest–highest of the N, in percent of one"
  echo "core; the steal share over all CPUs (time the hypervisor gave to others)."
  echo
  echo "| N | Server | Requests/s | p99 | Server cores busy % | wrk cores busy % | Per loop/worker CPU % | Steal % | Non-2xx | Socket errors |"
  echo "|---:|---|---|---|---|---|---|---|---|---|"
  for n in $NS; do
    for s in "${servers_ready[@]}"; do
      key="$s.$n"
      [ -n "${med[$key]+x}" ] || continue
      declare -A rps_i=()
      for r in $(seq "$ROUNDS"); do [ -n "${res_rps[$key.$r]:-}" ] && rps_i[$key.$r]=$(fmt_int "${res_rps[$key.$r]}"); done
      se=$(rounds_of "$key" res_sockerr)
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "${label[$s]}" \
        "$(rounds_of "$key" rps_i)" "$(rounds_of "$key" res_p99)" "$(rounds_of "$key" res_srv)" \
        "$(rounds_of "$key" res_cli)" "$(rounds_of "$key" res_spread)" "$(rounds_of "$key" res_steal)" \
        "$(rounds_of "$key" res_non2xx)" "$se"
      unset rps_i
    done
  done
  echo
  if [ ${#failed[@]} -gt 0 ]; then
    echo "Left out or failed:"
    echo
    for f in "${failed[@]}"; do echo "- $f"; done
  else
    echo "Every server started, served the file byte for byte before the runs and stayed up."
  fi
} >"$report"

if [ -n "$RAW" ]; then
  mkdir -p "$RAW"
  cp "$tmp"/wrk.*.txt "$RAW"/ 2>/dev/null || true
  for key in "${keys[@]}"; do cp "$tmp/$key.log" "$RAW/server.$key.log" 2>/dev/null || true; done
fi
cat "$report"
mkdir -p "$(dirname "$OUT")"
cp "$report" "$OUT"
echo "report written to $OUT" >&2
