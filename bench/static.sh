#!/usr/bin/env bash
# Static files, side by side: askr-proxy (io_uring and epoll backends) against Debian's nginx
# and h2o, serving the same files from the same directory, on loopback, in one run.
#
#   bench/static.sh
#
# Measures, for each server:
#   1. throughput and p99 latency with wrk (keep-alive) on files of 100 B, 4 KiB, 16 KiB,
#      64 KiB and 1 MiB, and the server's CPU time per request over each run (utime + stime
#      from /proc/PID/stat; nginx: master + workers);
#   2. resident memory per idle keep-alive connection (IDLE_CONNS connections held open);
#   3. system calls per request under load (strace -c on the serving process);
#   4. heap allocation calls per request on the 100-byte file (an LD_PRELOAD counter,
#      bench/alloccount.c), on a separate instance of each server.
#
# Environment (defaults in brackets):
#   SERVER_CPUS [1]       cores the servers are pinned to (taskset list syntax: "1", "2-5")
#   CLIENT_CPUS [0]       cores wrk and the idle-connection client are pinned to
#   THREADS [1]           Askr loop threads = nginx worker processes = h2o threads
#   WRK_THREADS [1]       wrk -t
#   CONNS [64]            wrk -c
#   DURATION [10]         seconds per wrk run
#   ROUNDS [3]            interleaved rounds per server and file; the median run is reported
#   WARMUP [2]            seconds of wrk per server before the rounds, not counted
#   FILES [small.bin 4k.bin 16k.bin 64k.bin big.bin]   files measured for throughput
#   STRACE_DURATION [5]   seconds of the wrk run traced for syscall counts (0: skip)
#   IDLE_CONNS [10000]    idle keep-alive connections for the memory measurement
#   ALLOC_DURATION [5]    seconds of the wrk run whose allocations are counted (0: skip)
#   ASKR [build/proxy/askr-proxy]   the binary under test
#   NGINX [nginx]         the nginx binary
#   H2O [h2o]             the h2o binary
#   OUT [bench/results-static.md]   where the markdown report is written (overwritten)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
repo="$(cd "$here/.." && pwd)"

SERVER_CPUS="${SERVER_CPUS:-1}"
CLIENT_CPUS="${CLIENT_CPUS:-0}"
THREADS="${THREADS:-1}"
WRK_THREADS="${WRK_THREADS:-1}"
CONNS="${CONNS:-64}"
DURATION="${DURATION:-10}"
ROUNDS="${ROUNDS:-3}"
WARMUP="${WARMUP:-2}"
FILES="${FILES:-small.bin 4k.bin 16k.bin 64k.bin big.bin}"
STRACE_DURATION="${STRACE_DURATION:-5}"
IDLE_CONNS="${IDLE_CONNS:-10000}"
ALLOC_DURATION="${ALLOC_DURATION:-5}"
ASKR="${ASKR:-$repo/build/proxy/askr-proxy}"
NGINX="${NGINX:-nginx}"
H2O="${H2O:-h2o}"
OUT="${OUT:-$here/results-static.md}"

# ---------------------------------------------------------------------------------------------
# Prerequisites.
"$repo/scripts/deps.sh" bench
command -v python3 >/dev/null || die "python3 is required"
command -v "$H2O" >/dev/null || die "no h2o at $H2O"
[ "$ALLOC_DURATION" = 0 ] || command -v cc >/dev/null || die "cc is required (for bench/alloccount.c)"
[ "$STRACE_DURATION" = 0 ] || command -v strace >/dev/null || die "strace is required"
if [ ! -x "$ASKR" ]; then
  echo "building askr-proxy"
  "$repo/scripts/build.sh"
fi
[ -x "$ASKR" ] || die "no askr-proxy at $ASKR"
[ "$(id -u)" -eq 0 ] || die "run as root (nginx runs with 'user root;', strace attaches to the servers)"

# The servers and the idle client each need more than IDLE_CONNS descriptors.
raise_nofile
[ "$nofile" -ge $((IDLE_CONNS + 200)) ] ||
  die "open-file hard limit $nofile is below IDLE_CONNS+200; raise it or lower IDLE_CONNS"

# ---------------------------------------------------------------------------------------------
# Cleanup on any exit (lib.sh): the servers, a running strace, the temporary directory.
bench_init static.sh askr-bench
strace_pid=""
bench_on_exit() { [ -z "$strace_pid" ] || kill -INT "$strace_pid" 2>/dev/null; }

# A private copy of the binary: a rebuild during the run cannot change what is measured.
cp "$ASKR" "$tmp/askr-proxy"
ASKR_BIN="$tmp/askr-proxy"
cc -shared -fPIC -O2 -o "$tmp/alloccount.so" "$here/alloccount.c" -ldl ||
  die "cannot build bench/alloccount.c"

warn_load

# ---------------------------------------------------------------------------------------------
# Files.
declare -A fsize
fsize[small.bin]=100
fsize[4k.bin]=4096
fsize[16k.bin]=16384
fsize[64k.bin]=65536
fsize[big.bin]=1048576
files=($FILES)
mkdir -p "$tmp/www"
for f in "${!fsize[@]}"; do head -c "${fsize[$f]}" /dev/urandom >"$tmp/www/$f"; done
for f in "${files[@]}"; do [ -n "${fsize[$f]:-}" ] || die "unknown file '$f' in FILES"; done
chmod 755 "$tmp" "$tmp/www"
chmod 644 "$tmp/www/"*.bin
size_label() { # FILE
  awk -v b="${fsize[$1]}" 'BEGIN{ if (b >= 1048576) printf "%g MiB", b/1048576;
    else if (b >= 1024) printf "%g KiB", b/1024; else printf "%d B", b }'
}

# ---------------------------------------------------------------------------------------------
# Servers: askr-uring, askr-epoll, nginx, h2o, each on its own loopback port, all pinned to
# SERVER_CPUS. Only one is under load at a time; the others sit idle. An instance name is a
# KIND or KIND.TAG (the allocation count starts separate instances under the preload library).
declare -A port pid label
servers=(askr-uring askr-epoll nginx h2o)
label[askr-uring]="Askr (io_uring)"
label[askr-epoll]="Askr (epoll)"
label[nginx]="nginx"
label[h2o]="h2o"
preload=() # command prefix for the next server started (env LD_PRELOAD=...)

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

$(askr_conf_tail)
EOF
  askr_start "$ASKR_BIN" "$tmp/$name.toml" "$tmp/$name.log" "${preload[@]}"
  pid[$name]=$!
  pids+=("$!")
}

start_nginx() { # NAME
  local name=$1
  port[$name]=$(free_port)
  mkdir -p "$tmp/$name"
  {
    nginx_conf_head "$name"
    cat <<EOF

    server {
        listen 127.0.0.1:${port[$name]};
        root $tmp/www;
    }
}
EOF
  } >"$tmp/$name.conf"
  nginx_start "$tmp/$name" "$tmp/$name.log" "$tmp/$name.conf" "${preload[@]}"
  pid[$name]=$!
  pids+=("$!")
}

# h2o: no access-log directive (no access log), THREADS threads, file.dir on the same folder.
start_h2o() { # NAME
  local name=$1
  port[$name]=$(free_port)
  cat >"$tmp/$name.yaml" <<EOF
listen:
  host: 127.0.0.1
  port: ${port[$name]}
user: root
num-threads: $THREADS
max-connections: 20000
http1-request-timeout: 300
error-log: $tmp/$name.log
pid-file: $tmp/$name.pid
hosts:
  "127.0.0.1:${port[$name]}":
    paths:
      "/":
        file.dir: $tmp/www
EOF
  "$H2O" -t -c "$tmp/$name.yaml" >"$tmp/$name.test" 2>&1 ||
    { cat "$tmp/$name.test" >&2; die "bad h2o config"; }
  taskset -c "$SERVER_CPUS" "${preload[@]}" "$H2O" -c "$tmp/$name.yaml" 2>>"$tmp/$name.log" &
  pid[$name]=$!
  pids+=("$!")
}

start_server() { # NAME (KIND[.TAG])
  case "${1%%.*}" in
    askr-uring) start_askr "$1" io_uring ;;
    askr-epoll) start_askr "$1" epoll ;;
    nginx) start_nginx "$1" ;;
    h2o) start_h2o "$1" ;;
  esac
}

# The processes whose memory counts for a server: Askr's and h2o's one process, nginx's
# master and workers.
server_pids() {
  if [ "${1%%.*}" = nginx ]; then echo "${pid[$1]} $(pgrep -P "${pid[$1]}" | tr '\n' ' ')"
  else echo "${pid[$1]}"; fi
}

# The process strace attaches to: Askr's and h2o's process (all threads), nginx's worker.
serving_pid() {
  if [ "${1%%.*}" = nginx ]; then pgrep -P "${pid[$1]}" | head -1; else echo "${pid[$1]}"; fi
}

alive() { kill -0 "${pid[$1]}" 2>/dev/null; }

wait_ready() { # NAME
  wait_http "http://127.0.0.1:${port[$1]}/small.bin" "${pid[$1]}" "$tmp/$1.log"
}

# Every file must come back whole and identical before anything is measured.
check_files() { # NAME
  local name=$1 f code
  for f in "${!fsize[@]}"; do
    code=$(curl -s -o "$tmp/check.$f" -w '%{http_code}' "http://127.0.0.1:${port[$name]}/$f")
    [ "$code" = 200 ] || die "$name: GET /$f answered $code"
    cmp -s "$tmp/check.$f" "$tmp/www/$f" || die "$name: GET /$f body differs from the file"
  done
  rm -f "$tmp"/check.*
}

for s in "${servers[@]}"; do start_server "$s"; done
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
# machine spreads over all of them. Around each run, the server's CPU time (utime + stime of
# its processes: Askr's and h2o's one process, nginx's master and workers) and the wall clock
# are read; $tmp/cpu.NAME.FILE.ROUND.txt holds "CPU_SECONDS WALL_SECONDS".
run_wrk() { # NAME FILE SECONDS OUTFILE
  wrk_run "http://127.0.0.1:${port[$1]}/$2" "$3" "$4"
  alive "$1" || die "$1 died under wrk; log: $(tail -20 "$tmp/$1.log")"
}

for s in "${servers[@]}"; do # warm-up, not counted
  run_wrk "$s" small.bin "$WARMUP" "$tmp/warmup.txt"
done
for r in $(seq "$ROUNDS"); do
  for f in "${files[@]}"; do
    for s in "${servers[@]}"; do
      echo "throughput: round $r/$ROUNDS, ${label[$s]}, $f" >&2
      cpu_pids=$(server_pids "$s")
      mark=$(cpu_mark $cpu_pids)
      run_wrk "$s" "$f" "$DURATION" "$tmp/wrk.$s.$f.$r.txt"
      cpu_since "$mark" $cpu_pids >"$tmp/cpu.$s.$f.$r.txt"
    done
  done
done

# ---------------------------------------------------------------------------------------------
# Syscalls per request: strace -c on the serving process during one wrk run on small.bin.
declare -A sc_total sc_reqs sc_top
[ "$STRACE_DURATION" = 0 ] && sc_servers=() || sc_servers=("${servers[@]}")
for s in "${sc_servers[@]}"; do
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
# Heap allocations per request on small.bin: a separate instance of each server, started under
# the counting library with its counters in a shared file, warmed up with wrk; the counters
# are read before and after one ALLOC_DURATION-second wrk run, and their growth divided by
# the requests wrk completed. The measured instances above run without the library.
read_counts() { od -An -v -tu8 -w8 "$1" | awk '{printf "%s%s", (NR>1?" ":""), $1} END{print ""}'; }
declare -A al_reqs al_delta
alloc_servers=()
if [ "$ALLOC_DURATION" != 0 ]; then
  alloc_servers=("${servers[@]}")
  for s in "${alloc_servers[@]}"; do
    echo "allocations: ${label[$s]}" >&2
    name="$s.alloc"
    rm -f "$tmp/$name.counts"
    preload=(env "LD_PRELOAD=$tmp/alloccount.so" "ALLOCCOUNT_FILE=$tmp/$name.counts")
    start_server "$name"
    preload=()
    wait_ready "$name"
    run_wrk "$name" small.bin "$WARMUP" "$tmp/warmup.txt"
    c0=$(read_counts "$tmp/$name.counts")
    run_wrk "$name" small.bin "$ALLOC_DURATION" "$tmp/wrk.alloc.$s.txt"
    c1=$(read_counts "$tmp/$name.counts")
    stop_pid "${pid[$name]}"
    al_reqs[$s]=$(wrk_field "$tmp/wrk.alloc.$s.txt" requests)
    # Per counter: after - before (malloc calloc realloc free aligned_alloc posix_memalign
    # memalign valloc pvalloc).
    al_delta[$s]=$(awk -v a="$c0" -v b="$c1" 'BEGIN{ n = split(a, x, " "); split(b, y, " ");
      for (i = 1; i <= n; i++) printf "%s%d", (i>1?" ":""), y[i] - x[i]; print "" }')
  done
fi

# ---------------------------------------------------------------------------------------------
# Report.
nginx_ver=$(nginx_version)
h2o_ver=$("$H2O" --version 2>&1 | awk 'NR==1{print $3}')
askr_version=$( ("$ASKR_BIN" --version 2>&1 || true) | head -1)
if rev=$(askr_rev proxy shared) && [ -n "$rev" ]; then askr_version+=" (commit $rev)"; fi
cmdline="SERVER_CPUS=$SERVER_CPUS CLIENT_CPUS=$CLIENT_CPUS THREADS=$THREADS WRK_THREADS=$WRK_THREADS CONNS=$CONNS DURATION=$DURATION ROUNDS=$ROUNDS WARMUP=$WARMUP FILES=\"$FILES\" STRACE_DURATION=$STRACE_DURATION IDLE_CONNS=$IDLE_CONNS ALLOC_DURATION=$ALLOC_DURATION bench/static.sh"
peers=(nginx h2o)
is_askr() { [[ $1 == askr-* ]]; }
# Server CPU µs/request and core busy % of one throughput run.
cpu_cols() { # WRK_OUTFILE CPU_FILE -> "US BUSY"
  local c w
  read -r c w <"$2"
  echo "$(cpu_us_per_request "$c" "$(wrk_field "$1" requests)") $(cpu_busy_pct "$c" "$w")"
}

report="$tmp/report.md"
{
  echo "# Static files: Askr vs nginx and h2o"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Machine: $(machine_line)"
  echo "- Servers: $askr_version; nginx $nginx_ver; h2o $h2o_ver. Client: wrk $(wrk_version)"
  echo "- Servers pinned to CPU(s) $SERVER_CPUS, $THREADS Askr loop(s) / $THREADS nginx worker(s) / $THREADS h2o thread(s);"
  echo "  wrk pinned to CPU(s) $CLIENT_CPUS"
  echo "- Command: \`$cmdline\`"
  echo "- Load average (1, 5, 15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "## Throughput"
  echo
  echo "\`wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s --latency\`, keep-alive, $ROUNDS rounds interleaved"
  echo "(every server and file in turn each round). Reported: the median round by requests/s,"
  echo "with the p99 latency and errors of that same round; all rounds are listed. A round runs"
  echo "the servers back to back, so the round-by-round ratio is the one least moved by load"
  echo "that comes and goes on the machine. Server CPU: utime + stime (/proc/PID/stat) of the"
  echo "server's processes (Askr and h2o: the process, all threads; nginx: master + workers, the"
  echo "master idle), read just before and just after the same median round's wrk run, divided"
  echo "by the requests wrk completed (µs/request), and by the wall time between the two reads"
  echo "(core busy %: 100% is one core fully used; below that the server waited for the client,"
  echo "which shares the machine, so requests/s understates the difference in cost). Askr CPU /"
  echo "nginx CPU is the ratio of the µs/request of the median rounds: lower is better for Askr."
  echo "Kernel work done in softirq context (loopback TCP delivery) is charged to whatever runs"
  echo "on the core at the time, or to ksoftirqd, so it is counted only in part. CPU times have"
  echo "a resolution of 1/$clk_tck s. Files: $(for f in "${files[@]}"; do printf '%s %s; ' "$f" "$(size_label "$f")"; done | sed 's/; $//')."
  echo
  echo "| Server | File | Requests/s | p99 latency | Askr / nginx | Askr / h2o | Server CPU µs/request | Server core busy % | Askr CPU / nginx CPU | Non-2xx | Socket errors | All rounds (req/s) | Askr / nginx, round by round | Askr / h2o, round by round |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|"
  for f in "${files[@]}"; do
    declare -A peer_rps=()
    for q in "${peers[@]}"; do
      peer_rps[$q]=$(wrk_field "$tmp/wrk.$q.$f.$(median_round "$tmp/wrk.$q.$f").txt" rps)
    done
    m=$(median_round "$tmp/wrk.nginx.$f")
    read -r nginx_us _ < <(cpu_cols "$tmp/wrk.nginx.$f.$m.txt" "$tmp/cpu.nginx.$f.$m.txt")
    for s in "${servers[@]}"; do
      m=$(median_round "$tmp/wrk.$s.$f")
      w="$tmp/wrk.$s.$f.$m.txt"
      rps=$(wrk_field "$w" rps)
      read -r cpu_us cpu_busy < <(cpu_cols "$w" "$tmp/cpu.$s.$f.$m.txt")
      if is_askr "$s"; then cpu_ratio=$(div "$cpu_us" "$nginx_us"); else cpu_ratio="—"; fi
      [ "$cpu_busy" = "—" ] || cpu_busy+="%"
      ratios=() byround=()
      for q in "${peers[@]}"; do
        if is_askr "$s"; then
          ratios+=("$(div "$rps" "${peer_rps[$q]}")")
          byround+=("$(ratio_rounds "$tmp/wrk.$s.$f" "$tmp/wrk.$q.$f")")
        else ratios+=("—"); byround+=("—"); fi
      done
      printf '| %s | %s (%s) | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "${label[$s]}" "$f" "$(size_label "$f")" "$rps" "$(wrk_field "$w" p99)" "${ratios[0]}" \
        "${ratios[1]}" "$cpu_us" "$cpu_busy" "$cpu_ratio" "$(wrk_field "$w" non2xx)" \
        "$(wrk_field "$w" sockerr)" "$(rounds_rps "$tmp/wrk.$s.$f")" \
        "${byround[0]}" "${byround[1]}"
    done
  done
  echo
  echo "Errors over all rounds (sum of Non-2xx responses; any socket-error line that is not all zeros):"
  echo
  for s in "${servers[@]}"; do wrk_errors_line "${label[$s]}" "$tmp/wrk.$s" "${files[@]}"; done
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
  if [ ${#sc_servers[@]} -gt 0 ]; then
    echo "## System calls per request"
    echo
    echo "\`strace -c -f -p PID\` (Askr and h2o: the process, all threads; nginx: the worker) during one"
    echo "\`wrk -t$WRK_THREADS -c$CONNS -d${STRACE_DURATION}s\` run on small.bin; total calls / requests wrk completed."
    echo "strace slows the server a lot, so these runs' requests/s mean nothing; only the ratio does."
    echo "With io_uring most I/O is submitted through the ring, so one \`io_uring_enter\` covers many"
    echo "operations: fewer syscalls, not necessarily less kernel work."
    echo
    echo "| Server | Requests | Syscalls | Syscalls / request | Top 5 (calls / request) | Non-2xx | Socket errors |"
    echo "|---|---:|---:|---:|---|---:|---|"
    for s in "${servers[@]}"; do
      per=$(awk -v a="${sc_total[$s]}" -v n="${sc_reqs[$s]}" 'BEGIN{ if (n>0) printf "%.3f", a/n; else print "n/a" }')
      w="$tmp/wrk.strace.$s.txt"
      printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${label[$s]}" "${sc_reqs[$s]}" "${sc_total[$s]}" \
        "$per" "${sc_top[$s]}" "$(wrk_field "$w" non2xx)" "$(wrk_field "$w" sockerr)"
    done
    echo
  fi
  if [ ${#alloc_servers[@]} -gt 0 ]; then
    echo "## Heap allocations per request"
    echo
    echo "A separate instance of each server (same configuration) runs under \`LD_PRELOAD\` of"
    echo "\`bench/alloccount.c\`, which counts calls to malloc, calloc, realloc, free, aligned_alloc,"
    echo "posix_memalign, memalign, valloc and pvalloc in counters shared through a file (nginx:"
    echo "master and worker together; the master is idle). After ${WARMUP} s of wrk on small.bin"
    echo "(not counted), the counters are read before and after one"
    echo "\`wrk -t$WRK_THREADS -c$CONNS -d${ALLOC_DURATION}s\` run on small.bin; their growth is divided by"
    echo "the requests wrk completed (the run's connection set-up and tear-down are included)."
    echo "\"Allocations\" is every call but free."
    echo
    echo "| Server | Requests | Allocations | Allocations / request | malloc / calloc / realloc / aligned (per request) | free / request | Non-2xx | Socket errors |"
    echo "|---|---:|---:|---:|---|---:|---:|---|"
    for s in "${alloc_servers[@]}"; do
      w="$tmp/wrk.alloc.$s.txt"
      awk -v d="${al_delta[$s]}" -v n="${al_reqs[$s]}" -v l="${label[$s]}" \
        -v e1="$(wrk_field "$w" non2xx)" -v e2="$(wrk_field "$w" sockerr)" 'BEGIN{
          split(d, x, " "); al = x[1] + x[2] + x[3] + x[5] + x[6] + x[7] + x[8] + x[9]
          if (n <= 0) n = 0
          f = (n > 0) ? 1 / n : 0
          printf "| %s | %d | %d | %s | %.3f / %.3f / %.3f / %.3f | %.3f | %s | %s |\n", l, n, al,
            (n > 0) ? sprintf("%.3f", al / n) : "n/a", x[1] * f, x[2] * f, x[3] * f,
            (x[5] + x[6] + x[7] + x[8] + x[9]) * f, x[4] * f, e1, e2 }'
    done
    echo
  fi
  for s in "${servers[@]}"; do
    for lg in "$tmp/$s.log" "$tmp/$s.alloc.log"; do
      log_notes "${label[$s]} ($(basename "$lg"))" "$lg"
    done
  done
} >"$report"

publish_report "$report"
