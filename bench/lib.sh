# Shell helpers shared by the benchmarks in bench/. Sourced, not run:
#
#   here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
#   . "$here/lib.sh"
#   bench_init NAME [PREFIX] # NAME prefixes messages (die, note); /tmp/PREFIX.XXXXXX is $tmp
#
# What it offers (each function says its arguments in a comment):
#   die, note                 messages on stderr, die exits 1
#   bench_init                sets $tmp (removed on exit), $pids (killed on exit), $repo, traps
#   bench_on_exit             hook: define it before exit to run first on cleanup (optional)
#   stop_pid                  stops one process the script started, and forgets it
#   free_port                 a free TCP port on 127.0.0.1
#   expand_cpus, cpu_mask     "1,3-5" -> "1 3 4 5"; a worker_cpu_affinity mask for a list
#   raise_nofile              raises the open-file limit; sets $nofile and $nginx_nofile
#   nginx_conf_head, nginx_fastcgi_conf_head, nginx_temp_paths
#                             the top of an nginx.conf: static files / in front of php-fpm
#   nginx_start               nginx with a configuration, checked first, pinned to SERVER_CPUS
#   askr_start                askr-proxy with a configuration, checked first, pinned to SERVER_CPUS
#   askr_conf_tail            the end of an askr-proxy configuration: keep-alive, no access log
#   warn_load                 sets $load_start, warns when the machine is not idle
#   wait_http                 waits until a URL answers, or the server exits
#   wrk_run, wrk_field        wrk pinned to CLIENT_CPUS; fields from its output
#   proc_cpu_ticks, cpu_mark, cpu_since, cpu_us_per_request, cpu_busy_pct
#                             a server's CPU time from /proc/PID/stat around a run
#   cpu_snapshot, cpu_delta   run time (schedstat, ns) of a process group between two moments
#   core_snapshot             busy, idle and steal ticks of some cores, from /proc/stat
#   pss_mean                  mean PSS of processes (smaps_rollup)
#   cpu_cap                   caps processes at a share of one core (a cgroup of their own)
#   pool_ini_toml             php.ini's active lines as an Askr pool's [pool.ini]
#   php_fpm_conf, start_php_fpm  a php-fpm static pool's configuration; php-fpm started with one
#   strace_field              calls in all, or the most frequent ones, from strace -c output
#   median, median_round      the median value / round (lower middle for an even ROUNDS)
#   rounds_rps, ratio_rounds  "a / b / c" lists over rounds of wrk outputs PREFIX.R.txt
#   wrk_errors_line           a server's non-2xx responses and socket errors over all rounds
#   div, div_1, fmt_int, slash_join  number formatting for the report tables
#   log_notes                 a server log's lines of note (errors, warnings), for the report
#   publish_report            prints the report, writes it to $OUT
#   machine_line, wrk_version, nginx_version, askr_rev   report header facts
#
# Conventions: wrk outputs of measured runs are PREFIX.ROUND.txt (ROUND = 1..ROUNDS), for
# example "$tmp/wrk.nginx.small.bin.2.txt" with PREFIX "$tmp/wrk.nginx.small.bin". The
# variables read: ROUNDS, CLIENT_CPUS, WRK_THREADS, CONNS, WRK (default wrk), and the array
# binenv (a command prefix for the client, e.g. env LD_LIBRARY_PATH=...; default empty).

bench_name="bench"
# nginx reads the sockets it inherits on a binary upgrade from the environment variable NGINX
# (and logs an [emerg] line for anything else there): the scripts' NGINX, the path of the nginx
# binary, stays a shell variable and never reaches nginx's environment.
export -n NGINX 2>/dev/null || true
die() { echo "$bench_name: $*" >&2; exit 1; }
note() { echo "$bench_name: $*" >&2; }

# Sets bench_name, repo, tmp and pids; on any exit, the processes in pids get SIGTERM, then
# SIGKILL after 5 s, and tmp is removed. Only processes the script started are signalled.
bench_init() { # NAME [TMP-PREFIX]
  bench_name=$1
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  tmp="$(mktemp -d "/tmp/${2:-askr-bench}.XXXXXX")"
  pids=()
  cgroups=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  set +e
  if declare -F bench_on_exit >/dev/null; then bench_on_exit; fi
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  for g in "${cgroups[@]}"; do rmdir "$g" 2>/dev/null; done
  rm -rf "$tmp"
}

# Stops one process this script started and forgets it (its PID may be reused afterwards).
stop_pid() { # PID
  local p=$1 q rest=()
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for q in "${pids[@]}"; do [ "$q" = "$p" ] || rest+=("$q"); done
  pids=("${rest[@]}")
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# "1,3-5" -> "1 3 4 5"
expand_cpus() { # LIST
  local part i out=() parts
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

# A CPU mask for a taskset list, highest CPU first ("1" -> "10", "0,2" -> "101"): nginx's
# `worker_cpu_affinity auto MASK`, so that each worker is pinned to one of those cores (plain
# `auto` would start from CPU 0, outside the taskset).
cpu_mask() { # LIST
  local max=0 c i mask="" cpus
  cpus=($(expand_cpus "$1"))
  for c in "${cpus[@]}"; do ((c > max)) && max=$c; done
  for ((i = max; i >= 0; i--)); do
    if [[ " ${cpus[*]} " == *" $i "* ]]; then mask+="1"; else mask+="0"; fi
  done
  echo "$mask"
}

# Raises the soft open-file limit to the hard one (the hard one to 65536 first, if allowed).
# Sets nofile (the limit) and nginx_nofile (for worker_rlimit_nofile, at most 30000).
raise_nofile() {
  ulimit -Hn 65536 2>/dev/null || true
  ulimit -Sn "$(ulimit -Hn)"
  nofile="$(ulimit -Hn)"
  [ "$nofile" = unlimited ] && nofile=1048576
  nginx_nofile=$((nofile < 30000 ? nofile : 30000))
}

# The top of an nginx.conf as the benchmarks run nginx: as root, THREADS workers pinned to
# SERVER_CPUS, no daemon, its files under $tmp/NAME*, no access log, sendfile with
# open_file_cache, long keep-alive. The http block is left open for the caller's server blocks;
# MORE is one more http directive.
nginx_conf_head() { # NAME [KEEPALIVE_REQUESTS] [MORE]
  local name=$1
  cat <<EOF
user root;
worker_processes $THREADS;
worker_cpu_affinity auto $(cpu_mask "$SERVER_CPUS");
worker_rlimit_nofile $nginx_nofile;
daemon off;
master_process on;
error_log $tmp/$name.log;
pid $tmp/$name.pid;
lock_file $tmp/$name.lock;

events {
    worker_connections 20000;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 60s;
    keepalive_requests ${2:-1000000};
    keepalive_timeout 300s;
EOF
  if [ -n "${3:-}" ]; then printf '    %s\n' "$3"; fi
  nginx_temp_paths "$tmp/$name"
}

# The top of an nginx.conf for nginx in front of php-fpm: as root, THREADS workers pinned to
# SERVER_CPUS, no daemon, error log LOG, pid and lock files BASE.pid and BASE.lock, temporary
# files under $tmp/nginx, 4096 connections per worker, no access log, long keep-alive (no
# sendfile or open_file_cache: nothing static is served). The http block is left open.
nginx_fastcgi_conf_head() { # LOG BASE
  cat <<EOF
user root;
worker_processes $THREADS;
worker_cpu_affinity auto $(cpu_mask "$SERVER_CPUS");
daemon off;
master_process on;
error_log $1;
pid $2.pid;
lock_file $2.lock;

events {
    worker_connections 4096;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
EOF
  nginx_temp_paths "$tmp/nginx"
}

# nginx's temporary file paths (http context) under DIR.
nginx_temp_paths() { # DIR
  cat <<EOF
    client_body_temp_path $1/body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
EOF
}

# The end of an askr-proxy configuration as the benchmarks run it: KEEPALIVE_REQUESTS requests
# per connection (1000000 by default), a 300 s keep-alive timeout, DRAIN as [timeouts] drain
# (none by default), no access log.
askr_conf_tail() { # [KEEPALIVE_REQUESTS] [DRAIN]
  cat <<EOF
[limits]
keepalive_requests = ${1:-1000000}

[timeouts]
keepalive = "300s"
EOF
  if [ -n "${2:-}" ]; then echo "drain = \"$2\""; fi
  cat <<EOF

[access_log]
format = "off"
EOF
}

# askr-proxy BIN with the configuration CONF, checked first (a bad one: dies after what the
# check says), its stderr appended to LOG, pinned to SERVER_CPUS, in the background: its PID
# is in $! after the call. WRAPPER (e.g. env NAME=VALUE) goes before the binary.
askr_start() { # BIN CONF LOG [WRAPPER...]
  local bin=$1 conf=$2 log=$3
  shift 3
  "$bin" -t -c "$conf" >/dev/null 2>&1 || { "$bin" -t -c "$conf"; die "bad askr config"; }
  taskset -c "$SERVER_CPUS" "$@" "$bin" -c "$conf" 2>>"$log" &
}

# nginx ($NGINX) with the configuration CONF, checked first (a bad one: dies with LOG), prefix
# PREFIX, error log LOG, pinned to SERVER_CPUS, in the background: its PID is in $! after the
# call. WRAPPER (e.g. env LD_PRELOAD=...) goes before the binary.
nginx_start() { # PREFIX LOG CONF [WRAPPER...]
  local prefix=$1 log=$2 conf=$3
  shift 3
  "$NGINX" -t -q -p "$prefix" -e "$log" -c "$conf" ||
    { cat "$log" >&2; die "bad nginx config"; }
  taskset -c "$SERVER_CPUS" "$@" "$NGINX" -p "$prefix" -e "$log" -c "$conf" &
}

# Anything else running skews the numbers; the report says so.
warn_load() {
  load_start=$(cut -d' ' -f1-3 /proc/loadavg)
  if awk -v l="${load_start%% *}" 'BEGIN{exit !(l > 0.5)}'; then
    note "warning: load average is $load_start before the run; results will be noisy"
  fi
}

# Waits (up to TRIES x 0.1 s, 100 by default) until URL answers with a status in 200-399; dies
# when PID exits or it never does, with the end of LOG. CURL_OPTIONS go to curl (e.g. -k for a
# self-signed certificate).
wait_http() { # URL PID LOG [TRIES [CURL_OPTION...]]
  local url=$1 pid=$2 log=$3 tries=${4:-100} code
  shift $(($# < 4 ? $# : 4))
  for _ in $(seq "$tries"); do
    kill -0 "$pid" 2>/dev/null || die "server exited at start; log: $(tail -20 "$log" 2>/dev/null)"
    code=$(curl -s "$@" -o /dev/null -w '%{http_code}' "$url" || true)
    [[ $code == [23]?? ]] && return 0
    sleep 0.1
  done
  die "no answer from $url; log: $(tail -20 "$log" 2>/dev/null)"
}

# wrk, keep-alive, pinned to CLIENT_CPUS, with WRK_THREADS threads and CONNS connections; its
# output (also on failure) goes to OUTFILE.
wrk_run() { # URL SECONDS OUTFILE [MORE WRK ARGUMENTS]
  local url=$1 secs=$2 out=$3
  shift 3
  taskset -c "$CLIENT_CPUS" "${binenv[@]}" "${WRK:-wrk}" -t"$WRK_THREADS" -c"$CONNS" \
    -d"$secs"s --latency "$@" "$url" >"$out" 2>&1 || true
}
wrk_field() { # OUTFILE rps|p50|p99|requests|bytes|non2xx|sockerr
  case "$2" in
    rps) awk '/^Requests\/sec:/{print $2}' "$1" | grep . || echo 0 ;;
    p50) awk '$1=="50%"{print $2}' "$1" | grep . || echo "?" ;;
    p99) awk '$1=="99%"{print $2}' "$1" | grep . || echo "?" ;;
    requests) awk '/ requests in /{print $1}' "$1" | grep . || echo 0 ;;
    bytes) awk '/ requests in /{print $5}' "$1" | tr -d , ;;
    non2xx) awk '/Non-2xx or 3xx responses:/{print $NF}' "$1" | grep . || echo 0 ;;
    sockerr) sed -n 's/^ *Socket errors: *//p' "$1" | grep . || echo none ;;
  esac
}

# CPU time of processes, from /proc/PID/stat: utime + stime (fields 14 and 15, in clock ticks
# of clk_tck per second; a process's line counts all its threads, not its children), summed
# over the PIDs. The command name (field 2) may hold spaces and parentheses: fields are
# counted after its last ')'.
clk_tck=$(getconf CLK_TCK)
proc_cpu_ticks() { # PID... -> ticks
  local p line f sum=0
  for p in "$@"; do
    line=$(<"/proc/$p/stat") || die "cannot read /proc/$p/stat"
    read -ra f <<<"${line##*) }"
    sum=$((sum + f[11] + f[12])) # f[0] is field 3
  done
  echo "$sum"
}
# A mark before a run: "TICKS NANOSECONDS" (CPU ticks of the PIDs, wall clock).
cpu_mark() { # PID... -> "TICKS NS"
  echo "$(proc_cpu_ticks "$@") $(date +%s%N)"
}
# After the run: the PIDs' CPU seconds and the wall seconds since MARK (same PIDs).
cpu_since() { # MARK PID... -> "CPU_SECONDS WALL_SECONDS"
  local mark=$1 ns ticks
  shift
  ns=$(date +%s%N)
  ticks=$(proc_cpu_ticks "$@")
  awk -v m="$mark" -v t="$ticks" -v ns="$ns" -v hz="$clk_tck" 'BEGIN{ split(m, a, " ");
    printf "%.2f %.3f\n", (t - a[1]) / hz, (ns - a[2]) / 1e9 }'
}
# Microseconds of CPU per request; CPU time over wall time in % (of one core).
cpu_us_per_request() { # CPU_SECONDS REQUESTS
  awk -v c="$1" -v n="$2" 'BEGIN{ if (c == "" || n == "" || n <= 0) print "—"; else printf "%.1f\n", c * 1e6 / n }'
}
cpu_busy_pct() { # CPU_SECONDS WALL_SECONDS
  awk -v c="$1" -v w="$2" 'BEGIN{ if (c == "" || w == "" || w <= 0) print "—"; else printf "%.0f\n", 100 * c / w }'
}

# Run time of a group of processes: "PID NS" per process, its run time in nanoseconds, all
# threads, user and system together (/proc/PID/task/TID/schedstat, first field); with CHILDREN,
# also "reaped NS": the run time of ROOT's children that have ended and been waited for
# (cutime + cstime in /proc/ROOT/stat), so that a process that ends between two snapshots is
# counted in full. For example nginx (master and workers), php-fpm (master and
# children), askr-proxy alone, askr-proxy's children (the askr-worker processes).
cpu_snapshot() { # ROOT SELF(0|1) CHILDREN(0|1)
  local top=$1 p t total v pl=()
  if [ "$2" = 1 ]; then pl+=("$top"); fi
  if [ "$3" = 1 ]; then pl+=($( (pgrep -P "$top" || true) )); fi
  for p in "${pl[@]}"; do
    total=0
    for t in /proc/"$p"/task/*/schedstat; do
      read -r v _ 2>/dev/null <"$t" || continue
      total=$((total + v))
    done
    if [ -d "/proc/$p" ]; then echo "$p $total"; fi
  done
  if [ "$3" = 1 ]; then
    awk -v hz="$clk_tck" '{ sub(/^.*\) /, ""); printf "reaped %.0f\n", ($14 + $15) * 1e9 / hz }' \
      "/proc/$top/stat" 2>/dev/null || true
  fi
}
# Run time between two snapshots of a group; prints "NS GONE NEW": GONE processes of the first
# had ended by the second (their time until they ended is in "reaped"), NEW ones had started.
cpu_delta() { # BEFORE AFTER
  awk 'FNR == NR { a[$1] = $2; next }
       { if ($1 in a) { d += $2 - a[$1]; seen[$1] = 1 } else { d += $2; if ($1 != "reaped") nw++ } }
       END { for (p in a) if (!(p in seen)) { d -= a[p]; if (p != "reaped") gone++ }
             printf "%.0f %d %d\n", d, gone, nw }' "$1" "$2"
}
# Time of the cores in LIST (a taskset list) from /proc/stat, in clock ticks: "TOTAL IDLE
# STEAL" (idle includes iowait).
core_snapshot() { # LIST
  awk -v want=" $(expand_cpus "$1") " '$1 ~ /^cpu[0-9]+$/ && index(want, " " substr($1, 4) " ") {
      t += $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; idle += $5 + $6; st += $9 }
    END { printf "%.0f %.0f %.0f\n", t, idle, st }' /proc/stat
}

# Mean proportional set size of the PIDs in kB (Pss of /proc/PID/smaps_rollup): "MEAN COUNT",
# "— 0" when none could be read.
pss_mean() { # PID...
  local p
  for p in "$@"; do
    awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true
  done | awk '{ s += $1; n++ } END { if (n) printf "%.0f %d\n", s / n, n; else print "— 0" }'
}

# php.ini's active lines as a [pool.ini] table for an askr-worker pool (askr-worker reads no
# php.ini), with opcache on: both PHP sides of a benchmark then run with the same settings.
# Sections are ignored (php.ini's are only headings); a later line wins, as in php.ini.
pool_ini_toml() { # PHP_INI OUT
  awk '
  /^[ \t]*(;|$)/ || /^[ \t]*\[/ { next }
  {
    i = index($0, "="); if (i == 0) next
    k = substr($0, 1, i - 1); v = substr($0, i + 1)
    gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
    if (!(k in val)) order[++n] = k
    val[k] = v
  }
  END {
    val["opcache.enable"] = "1"
    found = 0; for (j = 1; j <= n; j++) if (order[j] == "opcache.enable") found = 1
    if (!found) order[++n] = "opcache.enable"
    print "[pool.ini]"
    for (j = 1; j <= n; j++) {
      v = val[order[j]]; gsub(/\\/, "\\\\", v); gsub(/"/, "\\\"", v)
      printf "\"%s\" = \"%s\"\n", order[j], v
    }
  }' "$1" >"$2"
}

# A php-fpm configuration: one static pool of CHILDREN on the Unix socket SOCK, run as root,
# opcache on; its pid file is CONF with .pid for .conf.
php_fpm_conf() { # SOCK CONF LOG CHILDREN
  cat >"$2" <<EOF
[global]
pid = ${2%.conf}.pid
error_log = $3

[bench]
user = root
group = root
listen = $1
listen.backlog = 4096
listen.mode = 0666
pm = static
pm.max_children = $4
php_admin_value[opcache.enable] = 1
EOF
}

# php-fpm for a benchmark: one master and one static pool of CHILDREN on $tmp/php.sock, opcache
# on, php.ini PHP_INI, pinned to SERVER_CPUS; returns once its children are up. Sets sock and
# fpm_pid (also in pids). Reads PHP_FPM, PHP_INI and SERVER_CPUS.
start_php_fpm() { # CHILDREN
  local children=$1
  sock="$tmp/php.sock"
  php_fpm_conf "$sock" "$tmp/php-fpm.conf" "$tmp/php-fpm.log" "$children"
  "$PHP_FPM" -t -R -c "$PHP_INI" -y "$tmp/php-fpm.conf" 2>"$tmp/php-fpm-test.log" ||
    { cat "$tmp/php-fpm-test.log" >&2; die "bad php-fpm config"; }
  taskset -c "$SERVER_CPUS" "$PHP_FPM" -F -R -c "$PHP_INI" -y "$tmp/php-fpm.conf" \
    2>>"$tmp/php-fpm.log" &
  fpm_pid=$!
  pids+=("$fpm_pid")
  for _ in $(seq 100); do
    kill -0 "$fpm_pid" 2>/dev/null || die "php-fpm exited at start: $(cat "$tmp/php-fpm.log")"
    [ -S "$sock" ] && [ "$(pgrep -P "$fpm_pid" | wc -l)" -ge "$children" ] && break
    sleep 0.1
  done
  [ -S "$sock" ] || die "php-fpm did not create $sock"
}

# Caps processes (all their threads, and children forked later) at PERCENT of one core's time,
# in a cgroup of their own: CPU bandwidth control, cgroup v2 cpu.max where the unified
# hierarchy has the cpu controller, else v1 cpu.cfs_quota_us. Two servers capped alike get the
# same CPU time per second, so a run where the client core has time to spare measures what each
# server does with that time. The cgroup is removed on exit.
cpu_cap() { # NAME PERCENT PID...
  local name=$1 pct=$2 dir p period=100000
  shift 2
  if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control ||
      echo +cpu >/sys/fs/cgroup/cgroup.subtree_control ||
      die "cannot enable the cpu controller in /sys/fs/cgroup"
    dir="/sys/fs/cgroup/askr-bench.$$.$name"
    mkdir -p "$dir" || die "cannot create $dir (run as root)"
    echo "$((period * pct / 100)) $period" >"$dir/cpu.max"
  elif [ -d /sys/fs/cgroup/cpu ]; then
    dir="/sys/fs/cgroup/cpu/askr-bench.$$.$name"
    mkdir -p "$dir" || die "cannot create $dir (run as root)"
    echo "$period" >"$dir/cpu.cfs_period_us"
    echo "$((period * pct / 100))" >"$dir/cpu.cfs_quota_us"
  else
    die "no cgroup cpu controller here: cannot cap the servers' CPU"
  fi
  cgroups+=("$dir")
  for p in "$@"; do echo "$p" >"$dir/cgroup.procs" || die "cannot move $p into $dir"; done
}

# From the summary strace -c writes (-o FILE): calls = the calls in all; top4 = the names of the
# four first rows ("a, b, c, d": the most frequent with -S calls).
strace_field() { # FILE calls|top4
  awk -v w="$2" '$NF == "total" { total = $4 }
    $1 ~ /^[0-9.]+$/ && $NF != "total" && top < 4 { names = names (top ? ", " : "") $NF; top++ }
    END { print (w == "calls") ? total + 0 : names }' "$1"
}

# The median of ROUNDS values on stdin, blank- or newline-separated (lower middle for an even
# ROUNDS).
median() { tr ' ' '\n' | grep . | sort -g | awk -v n="$ROUNDS" 'NR==int((n+1)/2)'; }
# The median round by requests/s of PREFIX.1.txt .. PREFIX.ROUNDS.txt.
median_round() { # PREFIX -> round number
  local r
  for r in $(seq "$ROUNDS"); do
    echo "$(wrk_field "$1.$r.txt" rps) $r"
  done | sort -g | awk -v n="$ROUNDS" 'NR==int((n+1)/2){print $2}'
}
# "a / b / c": requests/s of every round, rounded.
rounds_rps() { # PREFIX
  local r out=()
  for r in $(seq "$ROUNDS"); do out+=("$(printf '%.0f' "$(wrk_field "$1.$r.txt" rps)")"); done
  slash_join "${out[@]}"
}
# "a / b / c": requests/s of A over those of B, round by round.
ratio_rounds() { # PREFIX_A PREFIX_B
  local r out=()
  for r in $(seq "$ROUNDS"); do
    out+=("$(div "$(wrk_field "$1.$r.txt" rps)" "$(wrk_field "$2.$r.txt" rps)")")
  done
  slash_join "${out[@]}"
}

# One server's line in a report's errors over all rounds: "- LABEL: non-2xx N; socket errors:"
# then " [ITEM round R: ...]" for every wrk output whose socket-error line is not all zeros, or
# " none". The outputs are PREFIX.ITEM.R.txt for each ITEM and R = 1..ROUNDS; a missing one is
# skipped.
wrk_errors_line() { # LABEL PREFIX ITEM...
  local label=$1 prefix=$2 item r f e n2=0 se=""
  shift 2
  for item in "$@"; do for r in $(seq "$ROUNDS"); do
    f="$prefix.$item.$r.txt"
    [ -e "$f" ] || continue
    n2=$((n2 + $(wrk_field "$f" non2xx)))
    e=$(wrk_field "$f" sockerr)
    [ "$e" = none ] || se+=" [$item round $r: $e]"
  done; done
  echo "- $label: non-2xx $n2; socket errors:${se:- none}"
}

div() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "" || b == "" || b == 0) print "—"; else printf "%.2f", a/b }'; }
div_1() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "" || b == "" || b == 0) print "—"; else printf "%.1f", a/b }'; }
fmt_int() { awk -v x="$1" 'BEGIN{ if (x == "") print "—"; else printf "%.0f", x }'; }
slash_join() { # VALUE... -> "a / b / c"
  local out="" v
  for v in "$@"; do out+="${out:+ / }$v"; done
  echo "$out"
}

# A report's block of LOG's lines that speak of an error, warning, alert, critical condition or
# emergency, leaving out those that hold any of the EXCLUDED strings: "Log lines of note from
# TITLE:" and the first 20 in a code block; nothing when there are none.
log_notes() { # TITLE LOG [EXCLUDED...]
  local title=$1 log=$2 x lines ex=()
  shift 2
  for x in "$@"; do ex+=(-e "$x"); done
  lines=$(
    if [ ${#ex[@]} -gt 0 ]; then grep -v "${ex[@]}" "$log" 2>/dev/null; else cat "$log" 2>/dev/null; fi |
      grep -iE 'error|warn|alert|crit|emerg' | head -20
  ) || true
  [ -n "$lines" ] || return 0
  echo "Log lines of note from $title:"
  echo
  echo '```'
  printf '%s\n' "$lines"
  echo '```'
  echo
}

# Prints the report in REPORT, writes it to OUT and says so on stderr.
publish_report() { # REPORT
  cat "$1"
  cp "$1" "$OUT"
  echo "written: $OUT" >&2
}

machine_line() {
  echo "$(nproc) CPUs, $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
}
wrk_version() { ( ("${binenv[@]}" "${WRK:-wrk}" -v 2>&1 || true) | awk 'NR==1{print $2}'); }
# This checkout's short commit, with a note when any of DIRS (or CMakeLists.txt) differs from it;
# ASKR_REV ("commit HASH", as carry.sh unpack prints it) where the binaries were brought over.
askr_rev() { # DIR...
  local rev dirs=() d
  if [ -n "${ASKR_REV:-}" ]; then echo "${ASKR_REV#commit }"; return 0; fi
  rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null) || return 0
  if ! git -C "$repo" diff --quiet HEAD -- "$@" CMakeLists.txt 2>/dev/null; then
    for d in "$@"; do dirs+=("$d/"); done
    if [ ${#dirs[@]} -gt 1 ]; then
      d="$(IFS=,; echo "${dirs[*]:0:${#dirs[@]}-1}" | sed 's/,/, /g') or ${dirs[-1]}"
    else d="${dirs[0]}"; fi
    rev+=" with uncommitted changes under $d"
  fi
  echo "$rev"
}
nginx_version() { ("${binenv[@]}" "${NGINX:-nginx}" -v 2>&1 || true) | sed -n 's/^nginx version: nginx\///p'; }

declare -p binenv >/dev/null 2>&1 || binenv=()
