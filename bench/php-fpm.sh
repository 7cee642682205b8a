#!/usr/bin/env bash
# PHP through php-fpm, side by side: nginx -> php-fpm against askr-proxy -> the same php-fpm
# pool, on loopback, in one run.
#
#   bench/php-fpm.sh
#
# One php-fpm master and pool (Debian's php8.2-fpm, pm = static, opcache on) serves all four
# front ends in turn:
#   nginx      fastcgi_pass unix:SOCK (a new FastCGI connection per request, the usual setup)
#   nginx-ka   upstream { server unix:SOCK; keepalive N; } + fastcgi_keep_conn on
#   askr       [[pool]] fastcgi = "unix:SOCK" (keepalive off, the default)
#   askr-ka    the same with keepalive = true, max_connections = N
# where N = CHILDREN / THREADS, so that kept connections never outnumber php-fpm's children.
#
# Measures, for each front end, on a hello-world script and on a ~20 KB HTML page:
#   1. requests/s, p50 and p99 latency with wrk (keep-alive clients);
#   2. CPU time the front end itself uses per request (its processes' run time during the wrk
#      run / requests completed), and the same for php-fpm's processes.
#
# A front end that keeps FastCGI connections holds php-fpm children for as long as it runs, so
# only one front end runs at a time: each measurement starts its front end, warms it up, runs
# wrk and stops it again.
#
# Environment (defaults in brackets):
#   SERVER_CPUS [1]       cores the front ends and php-fpm are pinned to (taskset list syntax)
#   CLIENT_CPUS [0]       cores wrk is pinned to
#   THREADS [1]           Askr loop threads = nginx worker processes
#   CHILDREN [4]          php-fpm pm.max_children (pm = static)
#   WRK_THREADS [1]       wrk -t
#   CONNS [32]            wrk -c
#   DURATION [10]         seconds per wrk run
#   WARMUP [2]            seconds of wrk before each measured run (not counted)
#   ROUNDS [3]            interleaved rounds per front end and workload; the median is reported
#   ASKR_BIN [build/proxy/askr-proxy]   the askr-proxy binary under test
#   ASKR_REV [the repository's HEAD]     what ASKR_BIN was built from, for the report
#                         (e.g. "commit abc1234"), when it is not this checkout
#   NGINX [nginx]         the nginx binary
#   PHP_FPM [/usr/sbin/php-fpm8.2]      the php-fpm binary
#   PHP_INI [/etc/php/8.2/fpm/php.ini]  php.ini for php-fpm (Debian's loads opcache from conf.d)
#   OUT [bench/results-php-fpm.md]      where the markdown report is written (overwritten)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

SERVER_CPUS="${SERVER_CPUS:-1}"
CLIENT_CPUS="${CLIENT_CPUS:-0}"
THREADS="${THREADS:-1}"
CHILDREN="${CHILDREN:-4}"
WRK_THREADS="${WRK_THREADS:-1}"
CONNS="${CONNS:-32}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
ROUNDS="${ROUNDS:-3}"
ASKR_BIN="${ASKR_BIN:-$repo/build/proxy/askr-proxy}"
ASKR_REV="${ASKR_REV:-}"
NGINX="${NGINX:-nginx}"
PHP_FPM="${PHP_FPM:-/usr/sbin/php-fpm8.2}"
PHP_INI="${PHP_INI:-/etc/php/8.2/fpm/php.ini}"
OUT="${OUT:-$here/results-php-fpm.md}"

. "$here/lib.sh"
bench_name=php-fpm.sh

# ---------------------------------------------------------------------------------------------
# Prerequisites.
"$repo/scripts/deps.sh" bench
command -v python3 >/dev/null || die "python3 is required"
if [ ! -x "$ASKR_BIN" ]; then
  echo "building askr-proxy"
  "$repo/scripts/build.sh"
fi
[ -x "$ASKR_BIN" ] || die "no askr-proxy at $ASKR_BIN"
[ -x "$PHP_FPM" ] || die "no php-fpm at $PHP_FPM"
[ "$(id -u)" -eq 0 ] || die "run as root (nginx runs with 'user root;', php-fpm with -R)"
[ "$CHILDREN" -ge "$THREADS" ] || die "CHILDREN ($CHILDREN) must be at least THREADS ($THREADS)"
# Kept FastCGI connections per Askr loop / per nginx worker: threads x this <= children.
KEEP=$((CHILDREN / THREADS))

raise_nofile

# ---------------------------------------------------------------------------------------------
# Cleanup on any exit (lib.sh): only the processes this script started, by their PID.
bench_init php-fpm.sh askr-bench-fpm


# A private copy of the binary: a rebuild during the run cannot change what is measured.
cp "$ASKR_BIN" "$tmp/askr-proxy"
ASKR_COPY="$tmp/askr-proxy"

# Anything else running skews the numbers; say so in the report.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
awk -v l="${load_start%% *}" 'BEGIN{exit !(l > 0.5)}' &&
  echo "php-fpm.sh: warning: load average is $load_start before the run; results will be noisy" >&2

# ---------------------------------------------------------------------------------------------
# Scripts.
mkdir -p "$tmp/www" "$tmp/nginx"
cat >"$tmp/www/index.php" <<'EOF'
<?php echo "Hello, world!\n";
EOF
# About 20 KB of HTML: a table rendered from an array in a loop.
cat >"$tmp/www/page.php" <<'EOF'
<?php
$rows = [];
for ($i = 1; $i <= 230; $i++) {
    $rows[] = [
        'id' => $i,
        'name' => "Product number $i",
        'price' => $i * 1.25,
        'stock' => ($i * 37) % 101,
    ];
}
$title = 'Inventory';
?><!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title><?= htmlspecialchars($title) ?></title></head>
<body>
<h1><?= htmlspecialchars($title) ?></h1>
<table>
<thead><tr><th>ID</th><th>Name</th><th>Price</th><th>Stock</th></tr></thead>
<tbody>
<?php foreach ($rows as $row): ?>
<tr class="<?= $row['id'] % 2 ? 'odd' : 'even' ?>"><td><?= $row['id'] ?></td><td><?= htmlspecialchars($row['name']) ?></td><td><?= number_format($row['price'], 2) ?></td><td><?= $row['stock'] ?></td></tr>
<?php endforeach; ?>
</tbody>
</table>
<p><?= count($rows) ?> products.</p>
</body>
</html>
EOF
# Says whether opcache is on in the pool and how many scripts it holds (checked, not measured).
cat >"$tmp/www/opcache.php" <<'EOF'
<?php
$s = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
echo $s ? "enabled={$s['opcache_enabled']} cached_scripts={$s['opcache_statistics']['num_cached_scripts']}\n"
        : "opcache off\n";
EOF
chmod 755 "$tmp" "$tmp/www"
chmod 644 "$tmp/www/"*.php

# ---------------------------------------------------------------------------------------------
# php-fpm: one master and one static pool for the whole run, pinned to SERVER_CPUS.
fpm_modules=$("$PHP_FPM" -c "$PHP_INI" -m 2>/dev/null || true)
grep -qx 'Zend OPcache' <<<"$fpm_modules" ||
  die "$PHP_FPM -c $PHP_INI does not load Zend OPcache"
start_php_fpm "$CHILDREN"

# ---------------------------------------------------------------------------------------------
# Front ends. Each is started for one measurement and stopped after it.
declare -A label
servers=(nginx askr nginx-ka askr-ka)
label[nginx]="nginx"
label[askr]="Askr"
label[nginx-ka]="nginx, keep-alive"
label[askr-ka]="Askr, keep-alive"
cur_pid=""
cur_port=""

write_askr_conf() { # NAME PORT
  local name=$1 port=$2 keep=""
  [ "$name" = askr-ka ] && keep=$'keepalive = true\nmax_connections = '"$KEEP"
  # A request waits in Askr's queue for a FastCGI connection; never let the queue overflow.
  local queue=$(( CONNS > 256 ? CONNS : 256 ))
  cat >"$tmp/$name.toml" <<EOF
[server]
threads = $THREADS
error_log = "$tmp/$name.log"

[[listen]]
address = "127.0.0.1:$port"

[[site]]
root = "$tmp/www"
index = ["index.php"]
php = "fpm"

[[pool]]
name = "fpm"
fastcgi = "unix:$sock"
queue = $queue
$keep

$(askr_conf_tail 1000000 2s)
EOF
}

write_nginx_conf() { # NAME PORT
  local name=$1 port=$2 upstream="" pass="unix:$sock" keepconn=""
  if [ "$name" = nginx-ka ]; then
    upstream="upstream php { server unix:$sock; keepalive $KEEP; }"
    pass="php"
    keepconn="fastcgi_keep_conn on;"
  fi
  {
    nginx_fastcgi_conf_head "$tmp/$name.log" "$tmp/$name"
    cat <<EOF

    $upstream

    server {
        listen 127.0.0.1:$port;
        root $tmp/www;
        index index.php;

        location ~ \.php\$ {
            fastcgi_pass $pass;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            $keepconn
        }
    }
}
EOF
  } >"$tmp/$name.conf"
}

start_server() { # NAME
  local name=$1
  cur_port=$(free_port)
  if [[ $name == askr* ]]; then
    write_askr_conf "$name" "$cur_port"
    askr_start "$ASKR_COPY" "$tmp/$name.toml" "$tmp/$name.log"
  else
    write_nginx_conf "$name" "$cur_port"
    nginx_start "$tmp/nginx" "$tmp/$name.log" "$tmp/$name.conf"
  fi
  cur_pid=$!
  pids+=("$cur_pid")
  for _ in $(seq 100); do
    kill -0 "$cur_pid" 2>/dev/null || die "$name exited at start; log: $(cat "$tmp/$name.log")"
    curl -s -o /dev/null "http://127.0.0.1:$cur_port/index.php" && return 0
    sleep 0.1
  done
  die "$name did not answer on 127.0.0.1:$cur_port"
}

stop_server() {
  stop_pid "$cur_pid"
  cur_pid=""
  # Requests a front end left behind in php-fpm's backlog are run (and their answers dropped)
  # before the next front end starts.
  sleep 1
}

# Processes whose CPU time counts: Askr's one process; nginx's master and workers.
server_pids() { echo "$cur_pid $(pgrep -P "$cur_pid" | tr '\n' ' ')"; }
fpm_pids() { echo "$fpm_pid $(pgrep -P "$fpm_pid" | tr '\n' ' ')"; }

# Total CPU time in nanoseconds of the given processes, all their threads: the scheduler's own
# run time (/proc/PID/task/TID/schedstat, first field), user and system together.
cpu_ns() { # PID...
  local p t total=0 v
  for p in "$@"; do
    for t in /proc/"$p"/task/*/schedstat; do
      read -r v _ <"$t" 2>/dev/null || continue
      total=$((total + v))
    done
  done
  echo "$total"
}

# Checks a front end's answers: 200 and the expected bodies.
check_answers() { # NAME
  local name=$1 code
  code=$(curl -s -o "$tmp/check.body" -w '%{http_code}' "http://127.0.0.1:$cur_port/index.php")
  [ "$code" = 200 ] || die "$name: GET /index.php answered $code"
  [ "$(cat "$tmp/check.body")" = "Hello, world!" ] || die "$name: GET /index.php body: $(head -c 200 "$tmp/check.body")"
  code=$(curl -s -o "$tmp/check.body" -w '%{http_code}' "http://127.0.0.1:$cur_port/page.php")
  [ "$code" = 200 ] || die "$name: GET /page.php answered $code"
  cmp -s "$tmp/check.body" "$tmp/page.expected" || die "$name: GET /page.php body differs from the reference"
  code=$(curl -s -o "$tmp/check.body" -w '%{http_code}' "http://127.0.0.1:$cur_port/opcache.php")
  [ "$code" = 200 ] || die "$name: GET /opcache.php answered $code"
  opcache_line=$(cat "$tmp/check.body")
  rm -f "$tmp/check.body"
}

run_wrk() { wrk_run "http://127.0.0.1:$cur_port$1" "$2" "$3"; } # PATH SECONDS OUTFILE

declare -A path
workloads=(hello page)
path[hello]=/index.php
path[page]=/page.php

# The reference page: rendered through the pool by the first front end, then every front end
# must answer the same bytes.
start_server askr
curl -s -o "$tmp/page.expected" "http://127.0.0.1:$cur_port/page.php"
page_bytes=$(stat -c %s "$tmp/page.expected")
[ "$page_bytes" -gt 10000 ] || die "page.php rendered only $page_bytes bytes"
stop_server
for s in "${servers[@]}"; do
  start_server "$s"
  check_answers "$s"
  stop_server
done

# ---------------------------------------------------------------------------------------------
# Measurement: ROUNDS rounds; in each, every workload on every front end in turn, so noise on
# the machine spreads over all of them.
measure() { # NAME WORKLOAD ROUND
  local s=$1 w=$2 r=$3 sp fp s0 f0 s1 f1
  start_server "$s"
  run_wrk "${path[$w]}" "$WARMUP" "$tmp/warmup.txt"
  sp=$(server_pids); fp=$(fpm_pids)
  s0=$(cpu_ns $sp); f0=$(cpu_ns $fp)
  run_wrk "${path[$w]}" "$DURATION" "$tmp/wrk.$s.$w.$r.txt"
  s1=$(cpu_ns $sp); f1=$(cpu_ns $fp)
  kill -0 "$cur_pid" 2>/dev/null || die "$s died under wrk; log: $(tail -20 "$tmp/$s.log")"
  kill -0 "$fpm_pid" 2>/dev/null || die "php-fpm died under wrk; log: $(tail -20 "$tmp/php-fpm.log")"
  echo "$((s1 - s0)) $((f1 - f0))" >"$tmp/cpu.$s.$w.$r.txt"
  stop_server
}

load_rounds=()
for r in $(seq "$ROUNDS"); do
  for w in "${workloads[@]}"; do
    for s in "${servers[@]}"; do
      echo "round $r/$ROUNDS, ${label[$s]}, $w" >&2
      measure "$s" "$w" "$r"
    done
  done
  load_rounds+=("$(cut -d' ' -f1 /proc/loadavg)")
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# CPU microseconds per request: WHICH = 1 (front end) or 2 (php-fpm).
cpu_us() { # NAME WORKLOAD ROUND WHICH
  local req
  req=$(wrk_field "$tmp/wrk.$1.$2.$3.txt" requests)
  awk -v n="$req" -v w="$4" '{ if (n > 0) printf "%.1f", $w / 1000 / n; else print "n/a" }' \
    "$tmp/cpu.$1.$2.$3.txt"
}

# The median round by requests/s (lib.sh: median, median_round).
median_run() { median_round "$tmp/wrk.$1.$2"; } # NAME WORKLOAD -> round number
# The nginx variant an Askr variant is compared with.
peer() { case "$1" in askr) echo nginx ;; askr-ka) echo nginx-ka ;; esac; }
rounds_of() { # NAME WORKLOAD FIELD|cpu1|cpu2 -> "a / b / c"
  local r v out=()
  for r in $(seq "$ROUNDS"); do
    case "$3" in
      cpu1) v=$(cpu_us "$1" "$2" "$r" 1) ;;
      cpu2) v=$(cpu_us "$1" "$2" "$r" 2) ;;
      rps) v=$(printf '%.0f' "$(wrk_field "$tmp/wrk.$1.$2.$r.txt" rps)") ;;
      *) v=$(wrk_field "$tmp/wrk.$1.$2.$r.txt" "$3") ;;
    esac
    out+=("$v")
  done
  local IFS=/
  echo "${out[*]}" | sed 's/\// \/ /g'
}
ratio_rounds() { # ASKR NGINX WORKLOAD rps|cpu1
  local r a b out=()
  for r in $(seq "$ROUNDS"); do
    if [ "$4" = rps ]; then
      a=$(wrk_field "$tmp/wrk.$1.$3.$r.txt" rps); b=$(wrk_field "$tmp/wrk.$2.$3.$r.txt" rps)
    else
      a=$(cpu_us "$1" "$3" "$r" 1); b=$(cpu_us "$2" "$3" "$r" 1)
    fi
    out+=("$(awk -v a="$a" -v b="$b" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }')")
  done
  local IFS=/
  echo "${out[*]}" | sed 's/\// \/ /g'
}

# ---------------------------------------------------------------------------------------------
# Report.
cpu_model=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
nginx_version=$("$NGINX" -v 2>&1 | sed 's/^nginx version: nginx\///')
fpm_version=$("$PHP_FPM" -v 2>/dev/null | awk 'NR==1{print $2}')
wrk_version=$( (wrk -v 2>&1 || true) | awk 'NR==1{print $2}')
askr_version=$( ("$ASKR_COPY" --version 2>&1 || true) | awk 'NR == 1')
if [ -n "$ASKR_REV" ]; then
  askr_version+=" ($ASKR_REV)"
elif rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null); then
  git -C "$repo" diff --quiet HEAD -- proxy shared CMakeLists.txt 2>/dev/null ||
    rev+=" with uncommitted changes under proxy/ or shared/"
  askr_version+=" (commit $rev)"
fi
askr_backend=$(grep -ohE 'io_uring|epoll' "$tmp/askr.log" 2>/dev/null | awk 'NR == 1' || true)
cmdline="SERVER_CPUS=$SERVER_CPUS CLIENT_CPUS=$CLIENT_CPUS THREADS=$THREADS CHILDREN=$CHILDREN WRK_THREADS=$WRK_THREADS CONNS=$CONNS DURATION=$DURATION WARMUP=$WARMUP ROUNDS=$ROUNDS bench/php-fpm.sh"

report="$tmp/report.md"
{
  echo "# PHP through php-fpm: Askr vs nginx"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Machine: $(nproc) CPUs, $cpu_model, kernel $(uname -r)"
  echo "- Front ends: $askr_version${askr_backend:+ ($askr_backend backend)}; nginx $nginx_version."
  echo "  PHP: php-fpm $fpm_version, pm = static, $CHILDREN children, opcache: $opcache_line."
  echo "  Client: wrk $wrk_version"
  echo "- Front ends and php-fpm pinned to CPU(s) $SERVER_CPUS, $THREADS Askr loop(s) / $THREADS nginx"
  echo "  worker(s); wrk pinned to CPU(s) $CLIENT_CPUS"
  echo "- Keep-alive variants: $KEEP kept FastCGI connection(s) per Askr loop / nginx worker"
  echo "- Command: \`$cmdline\`"
  echo "- Load average (1, 5, 15 min) at start: $load_start; at end: $load_end;"
  echo "  1-min load after each round: ${load_rounds[*]}"
  echo
  echo "## Throughput and latency"
  echo
  echo "\`wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s --latency\` (after ${WARMUP}s of warm-up), keep-alive clients,"
  echo "$ROUNDS rounds interleaved. Workloads: \`hello\` = \`/index.php\`, \`echo \"Hello, world!\\n\";\`"
  echo "(14 bytes); \`page\` = \`/page.php\`, a $page_bytes-byte HTML table rendered from an array."
  echo "Reported: the median round by requests/s, with the p50, p99 and errors of that same round;"
  echo "every round is listed. Askr / nginx compares matching variants (default with default,"
  echo "keep-alive with keep-alive); the round-by-round ratio compares runs made a minute apart."
  echo
  echo "| Front end | Workload | Requests/s | p50 | p99 | Askr / nginx | Non-2xx | Socket errors | All rounds (req/s) | Askr / nginx, round by round |"
  echo "|---|---|---:|---:|---:|---:|---:|---|---|---|"
  for w in "${workloads[@]}"; do
    for s in "${servers[@]}"; do
      m=$(median_run "$s" "$w")
      f="$tmp/wrk.$s.$w.$m.txt"
      rps=$(wrk_field "$f" rps)
      ratio="—"; byround="—"
      if p=$(peer "$s") && [ -n "$p" ]; then
        pm=$(median_run "$p" "$w")
        ratio=$(awk -v a="$rps" -v b="$(wrk_field "$tmp/wrk.$p.$w.$pm.txt" rps)" 'BEGIN{printf "%.2f", a/b}')
        byround=$(ratio_rounds "$s" "$p" "$w" rps)
      fi
      printf '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s |\n' "${label[$s]}" "$w" "$rps" \
        "$(wrk_field "$f" p50)" "$(wrk_field "$f" p99)" "$ratio" "$(wrk_field "$f" non2xx)" \
        "$(wrk_field "$f" sockerr)" "$(rounds_of "$s" "$w" rps)" "$byround"
    done
  done
  echo
  echo "Latency, every round (p50 / p99):"
  echo
  echo "| Front end | Workload | p50 by round | p99 by round |"
  echo "|---|---|---|---|"
  for w in "${workloads[@]}"; do
    for s in "${servers[@]}"; do
      printf '| %s | %s | %s | %s |\n' "${label[$s]}" "$w" "$(rounds_of "$s" "$w" p50)" "$(rounds_of "$s" "$w" p99)"
    done
  done
  echo
  if [ "$CONNS" -gt "$((KEEP * THREADS))" ]; then
    echo "nginx, keep-alive, with more clients ($CONNS) than kept FastCGI connections ($((KEEP * THREADS))): nginx"
    echo "opens a FastCGI connection for every request in progress (\`keepalive $KEEP\` only caps the idle"
    echo "ones it keeps) and has no queue of its own, while each php-fpm child serves one kept"
    echo "connection for as long as nginx keeps it. Requests on the other connections wait in"
    echo "php-fpm's listen backlog until nginx closes a kept connection (after 1000 requests, the"
    echo "upstream \`keepalive_requests\` default). wrk counts an answer slower than its 2 s timeout"
    echo "as a \`timeout\` socket error and leaves it out of the latency percentiles, and does not"
    echo "count at all a request still unanswered when the run ends, so this variant's p50/p99"
    echo "describe the clients being served, not those waiting. Askr queues such"
    echo "requests itself (\`max_connections = $KEEP\`, \`queue\`) and hands them out in order."
    echo
  fi
  echo "Errors over all rounds (sum of Non-2xx responses; any socket-error line that is not all zeros):"
  echo
  for s in "${servers[@]}"; do wrk_errors_line "${label[$s]}" "$tmp/wrk.$s" "${workloads[@]}"; done
  echo
  echo "## CPU time per request"
  echo
  echo "Run time of the front end's processes (Askr: its process, all threads; nginx: master and"
  echo "workers) and of php-fpm's (master and children) during the measured wrk run, from"
  echo "\`/proc/PID/task/TID/schedstat\` (user and system time together, in nanoseconds), divided by"
  echo "the requests wrk completed. The front end's figure is what the proxy costs per request; it"
  echo "moves much less with load on the machine than requests/s do. Medians of the rounds, then"
  echo "every round."
  echo
  echo "| Front end | Workload | Front end µs/request | Askr / nginx | php-fpm µs/request | Front end, by round | Askr / nginx, by round | php-fpm, by round |"
  echo "|---|---|---:|---:|---:|---|---|---|"
  for w in "${workloads[@]}"; do
    for s in "${servers[@]}"; do
      c1=$(for r in $(seq "$ROUNDS"); do echo "$(cpu_us "$s" "$w" "$r" 1)"; done | median)
      c2=$(for r in $(seq "$ROUNDS"); do echo "$(cpu_us "$s" "$w" "$r" 2)"; done | median)
      ratio="—"; byround="—"
      if p=$(peer "$s") && [ -n "$p" ]; then
        pc=$(for r in $(seq "$ROUNDS"); do echo "$(cpu_us "$p" "$w" "$r" 1)"; done | median)
        ratio=$(awk -v a="$c1" -v b="$pc" 'BEGIN{printf "%.2f", a/b}')
        byround=$(ratio_rounds "$s" "$p" "$w" cpu1)
      fi
      printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${label[$s]}" "$w" "$c1" "$ratio" "$c2" \
        "$(rounds_of "$s" "$w" cpu1)" "$byround" "$(rounds_of "$s" "$w" cpu2)"
    done
  done
  echo
  for s in "${servers[@]}" php-fpm; do
    if grep -qiE 'error|warn|alert|crit|emerg' "$tmp/$s.log" 2>/dev/null; then
      echo "Log lines of note from ${label[$s]:-$s} ($(grep -ciE 'error|warn|alert|crit|emerg' "$tmp/$s.log") in all; the first 20):"
      echo
      echo '```'
      grep -iE 'error|warn|alert|crit|emerg' "$tmp/$s.log" | awk 'NR <= 20'
      echo '```'
      echo
    fi
  done
} >"$report"

publish_report "$report"
