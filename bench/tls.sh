#!/usr/bin/env bash
# TLS, side by side: askr-proxy (io_uring and epoll backends) against Debian's nginx, with the
# same certificate, protocol, cipher, key exchange group and core pinning, on loopback, in one
# run.
#
#   bench/tls.sh
#
# Measures, for each server:
#   1. new TLS handshakes per second, once with an ECDSA P-256 certificate and once with an
#      RSA 2048 one: wrk with "Connection: close" on a 100-byte file, so that every request is
#      a new TCP connection and a TLS handshake. wrk resumes sessions when the server lets it,
#      so both servers run without session tickets and without a session cache: every
#      handshake is a full one (Askr's counters at the end confirm that none was resumed);
#   2. requests per second over keep-alive TLS connections (wrk https) on a 100 B and a 1 MiB
#      file, with the ECDSA certificate;
# and the server's CPU time per handshake or request (utime + stime from /proc/PID/stat; nginx:
# master + workers). TLS 1.3 with TLS_AES_128_GCM_SHA256 and X25519 by default on both.
#
# Environment (defaults in brackets):
#   SERVER_CPUS [1]       cores the servers are pinned to (taskset list syntax: "1", "2-5")
#   CLIENT_CPUS [0]       cores wrk is pinned to
#   THREADS [1]           Askr loop threads = nginx worker processes
#   WRK_THREADS [1]       wrk -t
#   CONNS [64]            wrk -c (keep-alive runs)
#   HS_CONNS [32]         wrk -c for the handshake runs (each connection: one request, closed)
#   DURATION [10]         seconds per wrk run
#   ROUNDS [3]            interleaved rounds; the median round is reported
#   WARMUP [2]            seconds of wrk per server before the rounds, not counted
#   SERVERS [askr-uring askr-epoll nginx]   any of these
#   PROTOCOL [TLSv1.3]    TLSv1.3 or TLSv1.2 (the only version both servers accept)
#   CIPHER                the one cipher both servers allow [TLS_AES_128_GCM_SHA256 for TLS 1.3,
#                         ECDHE-ECDSA-AES128-GCM-SHA256 / ECDHE-RSA-AES128-GCM-SHA256 for 1.2]
#   GROUP [X25519]        the one key exchange group both servers allow
#   KINDS [hs ka]         what is measured: hs = new handshakes, ka = keep-alive requests
#   SERVER_CPU_CAP [0]    when not 0, each server instance may use only this percent of one
#                         core (lib.sh's cpu_cap: a cgroup with CPU bandwidth control, root
#                         only). wrk's side of a handshake costs more CPU than either server's
#                         (it verifies the signature), so on two cores an uncapped handshake run
#                         is bound by the client and shows both servers level; capped alike
#                         (e.g. 50), the servers are the limit and the run compares them
#   KTLS [off]            off: user-space TLS on both; auto: Askr ktls = "auto" and nginx
#                         "ssl_conf_command Options KTLS" (only where the kernel has TLS)
#   ASKR [build/proxy/askr-proxy]   the binary under test
#   NGINX [nginx]         the nginx binary
#   OUT [bench/results-tls.md]   where the markdown report is written (overwritten)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
repo="$(cd "$here/.." && pwd)"

SERVER_CPUS="${SERVER_CPUS:-1}"
CLIENT_CPUS="${CLIENT_CPUS:-0}"
THREADS="${THREADS:-1}"
WRK_THREADS="${WRK_THREADS:-1}"
CONNS="${CONNS:-64}"
HS_CONNS="${HS_CONNS:-32}"
DURATION="${DURATION:-10}"
ROUNDS="${ROUNDS:-3}"
WARMUP="${WARMUP:-2}"
SERVERS="${SERVERS:-askr-uring askr-epoll nginx}"
SERVER_CPU_CAP="${SERVER_CPU_CAP:-0}"
KINDS="${KINDS:-hs ka}"
PROTOCOL="${PROTOCOL:-TLSv1.3}"
GROUP="${GROUP:-X25519}"
KTLS="${KTLS:-off}"
ASKR="${ASKR:-$repo/build/proxy/askr-proxy}"
NGINX="${NGINX:-nginx}"
OUT="${OUT:-$here/results-tls.md}"

case "$PROTOCOL" in
  TLSv1.3 | TLSv1.2) ;;
  *) die "PROTOCOL must be TLSv1.3 or TLSv1.2" ;;
esac
case "$KTLS" in
  off | auto) ;;
  *) die "KTLS must be off or auto" ;;
esac

# ---------------------------------------------------------------------------------------------
# Prerequisites.
"$repo/scripts/deps.sh" bench
command -v python3 >/dev/null || die "python3 is required"
command -v openssl >/dev/null || die "openssl is required"
if [ ! -x "$ASKR" ]; then
  echo "building askr-proxy"
  "$repo/scripts/build.sh"
fi
[ -x "$ASKR" ] || die "no askr-proxy at $ASKR"
[ "$(id -u)" -eq 0 ] || die "run as root (nginx runs with 'user root;')"
raise_nofile

bench_init tls.sh askr-bench-tls
cp "$ASKR" "$tmp/askr-proxy"
ASKR_BIN="$tmp/askr-proxy"
warn_load

# ---------------------------------------------------------------------------------------------
# Certificates: one self-signed ECDSA P-256 and one RSA 2048 for localhost, both servers load
# the same files. Files: 100 B and 1 MiB of random bytes.
for kind in ec rsa; do
  if [ "$kind" = ec ]; then key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1); else key=(-newkey rsa:2048); fi
  openssl req -x509 "${key[@]}" -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$tmp/$kind.key" -out "$tmp/$kind.pem" 2>/dev/null || die "openssl req failed"
done
mkdir -p "$tmp/www"
head -c 100 /dev/urandom >"$tmp/www/small.bin"
head -c 1048576 /dev/urandom >"$tmp/www/big.bin"
chmod 755 "$tmp" "$tmp/www"
chmod 644 "$tmp/www/"*.bin "$tmp/"*.pem "$tmp/"*.key

cipher_for() { # CERT-KIND
  if [ -n "${CIPHER:-}" ]; then echo "$CIPHER"
  elif [ "$PROTOCOL" = TLSv1.3 ]; then echo TLS_AES_128_GCM_SHA256
  elif [ "$1" = ec ]; then echo ECDHE-ECDSA-AES128-GCM-SHA256
  else echo ECDHE-RSA-AES128-GCM-SHA256; fi
}

# ---------------------------------------------------------------------------------------------
# Servers: each of SERVERS twice, once per certificate (instance KIND.CERT), each on its own
# loopback port, all pinned to SERVER_CPUS. Only one is under load at a time.
declare -A port pid label
label[askr-uring]="Askr (io_uring)"
label[askr-epoll]="Askr (epoll)"
label[nginx]="nginx"
servers=($SERVERS)
for s in "${servers[@]}"; do [ -n "${label[$s]:-}" ] || die "unknown server '$s' in SERVERS"; done
certs=(ec rsa)
cert_label() { if [ "$1" = ec ]; then echo "ECDSA P-256"; else echo "RSA 2048"; fi; }

start_askr() { # NAME BACKEND CERT
  local name=$1 backend=$2 cert=$3 c ciphers_line
  c=$(cipher_for "$cert")
  if [ "$PROTOCOL" = TLSv1.3 ]; then ciphers_line="ciphersuites = \"$c\""; else ciphers_line="ciphers = \"$c\""; fi
  port[$name]=$(free_port)
  cat >"$tmp/$name.toml" <<EOF
[server]
threads = $THREADS
io_backend = "$backend"
error_log = "$tmp/$name.log"

[[listen]]
address = "127.0.0.1:${port[$name]}"
tls = true

[[site]]
root = "$tmp/www"
tls_certificate = "$tmp/$cert.pem"
tls_certificate_key = "$tmp/$cert.key"

[tls]
protocols = ["$PROTOCOL"]
$ciphers_line
groups = "$GROUP"
ktls = "$KTLS"
session_tickets = false

$(askr_conf_tail)
EOF
  askr_start "$ASKR_BIN" "$tmp/$name.toml" "$tmp/$name.log"
  pid[$name]=$!
  pids+=("$!")
}

# nginx as a careful operator runs it for static files over TLS: sendfile, tcp_nopush,
# open_file_cache; no session cache and no tickets (full handshakes only, as Askr's), the same
# protocol, cipher and group.
start_nginx() { # NAME CERT
  local name=$1 cert=$2 c cipher_lines ktls_line=""
  c=$(cipher_for "$cert")
  if [ "$PROTOCOL" = TLSv1.3 ]; then cipher_lines="ssl_conf_command Ciphersuites $c;"
  else cipher_lines="ssl_ciphers $c;"; fi
  [ "$KTLS" = auto ] && ktls_line="ssl_conf_command Options KTLS;"
  port[$name]=$(free_port)
  mkdir -p "$tmp/$name"
  {
    nginx_conf_head "$name"
    cat <<EOF

    server {
        listen 127.0.0.1:${port[$name]} ssl;
        root $tmp/www;
        ssl_certificate $tmp/$cert.pem;
        ssl_certificate_key $tmp/$cert.key;
        ssl_protocols $PROTOCOL;
        $cipher_lines
        ssl_ecdh_curve $GROUP;
        ssl_session_cache off;
        ssl_session_tickets off;
        $ktls_line
    }
}
EOF
  } >"$tmp/$name.conf"
  nginx_start "$tmp/$name" "$tmp/$name.log" "$tmp/$name.conf"
  pid[$name]=$!
  pids+=("$!")
}

start_server() { # NAME (KIND.CERT)
  local kind=${1%%.*} cert=${1#*.}
  case "$kind" in
    askr-uring) start_askr "$1" io_uring "$cert" ;;
    askr-epoll) start_askr "$1" epoll "$cert" ;;
    nginx) start_nginx "$1" "$cert" ;;
  esac
}

server_pids() {
  if [ "${1%%.*}" = nginx ]; then echo "${pid[$1]} $(pgrep -P "${pid[$1]}" | tr '\n' ' ')"
  else echo "${pid[$1]}"; fi
}
alive() { kill -0 "${pid[$1]}" 2>/dev/null; }
url() { echo "https://127.0.0.1:${port[$1]}/$2"; }

# Before anything is measured: both files byte for byte, and the protocol, cipher and
# certificate type the run claims.
check_server() { # NAME
  local name=$1 cert=${1#*.} f out want_key
  wait_http "$(url "$name" small.bin)" "${pid[$name]}" "$tmp/$name.log" 100 -k
  for f in small.bin big.bin; do
    curl -sk -o "$tmp/check.bin" "$(url "$name" "$f")" || die "$name: GET /$f failed"
    cmp -s "$tmp/check.bin" "$tmp/www/$f" || die "$name: GET /$f body differs from the file"
  done
  out=$(openssl s_client -connect "127.0.0.1:${port[$name]}" -servername localhost </dev/null 2>&1 || true)
  grep -q "Protocol *: *$PROTOCOL\|New, $PROTOCOL" <<<"$out" || die "$name: not $PROTOCOL: $out"
  grep -q "Cipher is $(cipher_for "$cert")" <<<"$out" || die "$name: not $(cipher_for "$cert"): $out"
  if [ "$cert" = ec ]; then want_key="256 bit"; else want_key="2048 bit"; fi
  grep -q "Server public key is $want_key" <<<"$out" || die "$name: not a $want_key key: $out"
  grep -qi "Server Temp Key: $GROUP" <<<"$out" || die "$name: not $GROUP: $out"
}

instances=()
for s in "${servers[@]}"; do for c in "${certs[@]}"; do instances+=("$s.$c"); done; done
for i in "${instances[@]}"; do start_server "$i"; done
for i in "${instances[@]}"; do check_server "$i"; done
if [ "$SERVER_CPU_CAP" != 0 ]; then
  for i in "${instances[@]}"; do cpu_cap "$i" "$SERVER_CPU_CAP" $(server_pids "$i"); done
fi

# ---------------------------------------------------------------------------------------------
# Runs. Handshakes: wrk -c HS_CONNS with "Connection: close" on small.bin, per certificate.
# Keep-alive: wrk -c CONNS on small.bin and big.bin, ECDSA certificate. ROUNDS rounds, every
# server and test in turn in each. $tmp/cpu.PREFIX.ROUND.txt: "CPU_SECONDS WALL_SECONDS".
run_one() { # INSTANCE FILE SECONDS OUTFILE CONNS [WRK ARGS]
  local inst=$1 file=$2 secs=$3 outf=$4 conns=$5
  shift 5
  CONNS=$conns wrk_run "$(url "$inst" "$file")" "$secs" "$outf" "$@"
  alive "$inst" || die "$inst died under wrk; log: $(tail -20 "$tmp/$inst.log")"
}
measure() { # INSTANCE FILE PREFIX ROUND CONNS [WRK ARGS]
  local inst=$1 file=$2 prefix=$3 r=$4 conns=$5 cpids mark
  shift 5
  cpids=$(server_pids "$inst")
  mark=$(cpu_mark $cpids)
  run_one "$inst" "$file" "$DURATION" "$prefix.$r.txt" "$conns" "$@"
  cpu_since "$mark" $cpids >"$tmp/cpu.$(basename "$prefix").$r.txt"
}

tests=() # "KIND CERT FILE": hs = handshakes, ka = keep-alive
if [[ " $KINDS " == *" hs "* ]]; then
  for c in "${certs[@]}"; do tests+=("hs $c small.bin"); done
fi
if [[ " $KINDS " == *" ka "* ]]; then tests+=("ka ec small.bin" "ka ec big.bin"); fi
[ ${#tests[@]} -gt 0 ] || die "KINDS names nothing to measure (hs, ka)"

for i in "${instances[@]}"; do # warm-up, not counted
  run_one "$i" small.bin "$WARMUP" "$tmp/warmup.txt" "$CONNS"
done
for r in $(seq "$ROUNDS"); do
  for t in "${tests[@]}"; do
    read -r kind cert file <<<"$t"
    for s in "${servers[@]}"; do
      echo "round $r/$ROUNDS: ${label[$s]}, $kind $(cert_label "$cert") $file" >&2
      if [ "$kind" = hs ]; then
        measure "$s.$cert" "$file" "$tmp/wrk.$kind.$cert.$file.$s" "$r" "$HS_CONNS" -H "Connection: close"
      else
        measure "$s.$cert" "$file" "$tmp/wrk.$kind.$cert.$file.$s" "$r" "$CONNS"
      fi
    done
  done
done

# Askr's own counters (written at stop): full handshakes and resumptions over the whole run.
declare -A askr_tls
for i in "${instances[@]}"; do
  [[ $i == askr-* ]] || continue
  stop_pid "${pid[$i]}"
  askr_tls[$i]=$(awk -F': tls: ' '/: tls: /{ split($2, f, ", "); for (k in f) { split(f[k], v, " ");
      n[v[2]] += v[1] } } END { printf "%d handshakes, %d resumed, %d failed", n["handshakes"],
      n["resumed"], n["failed"] }' "$tmp/$i.log")
done

# ---------------------------------------------------------------------------------------------
# Report.
nginx_ver=$(nginx_version)
askr_version=$( ("$ASKR_BIN" --version 2>&1 || true) | head -1)
if rev=$(askr_rev proxy shared) && [ -n "$rev" ]; then askr_version+=" (commit $rev)"; fi
cmdline="SERVER_CPUS=$SERVER_CPUS CLIENT_CPUS=$CLIENT_CPUS THREADS=$THREADS WRK_THREADS=$WRK_THREADS CONNS=$CONNS HS_CONNS=$HS_CONNS SERVER_CPU_CAP=$SERVER_CPU_CAP KINDS=\"$KINDS\" DURATION=$DURATION ROUNDS=$ROUNDS WARMUP=$WARMUP SERVERS=\"$SERVERS\" PROTOCOL=$PROTOCOL GROUP=$GROUP KTLS=$KTLS${CIPHER:+ CIPHER=$CIPHER} bench/tls.sh"
has_nginx=false
[[ " ${servers[*]} " == *" nginx "* ]] && has_nginx=true
cpu_cols() { # WRK_OUTFILE CPU_FILE -> "US BUSY"
  local c w
  read -r c w <"$2"
  echo "$(cpu_us_per_request "$c" "$(wrk_field "$1" requests)") $(cpu_busy_pct "$c" "$w")"
}
test_label() { # KIND CERT FILE
  if [ "$1" = hs ]; then echo "new handshakes, $(cert_label "$2")"
  else echo "keep-alive, $3 ($( [ "$3" = big.bin ] && echo 1 MiB || echo 100 B))"; fi
}

report="$tmp/report.md"
{
  echo "# TLS: Askr vs nginx"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Machine: $(machine_line)"
  echo "- Servers: $askr_version; nginx $nginx_ver; OpenSSL $(openssl version | awk '{print $2}'). Client: wrk $(wrk_version)"
  echo "- $PROTOCOL only, cipher $(cipher_for ec) (ECDSA) / $(cipher_for rsa) (RSA), group $GROUP, kTLS $KTLS, on both servers"
  echo "- Servers pinned to CPU(s) $SERVER_CPUS, $THREADS Askr loop(s) / $THREADS nginx worker(s); wrk pinned to CPU(s) $CLIENT_CPUS"
  if [ "$SERVER_CPU_CAP" != 0 ]; then
    echo "- Each server capped at $SERVER_CPU_CAP % of one core (CPU bandwidth control, its own cgroup), so that the servers, not wrk, limit the runs"
  fi
  echo "- Command: \`$cmdline\`"
  echo "- Load average (1, 5, 15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "New handshakes: \`wrk -t$WRK_THREADS -c$HS_CONNS -d${DURATION}s -H 'Connection: close'\` on the"
  echo "100-byte file: each request opens a TCP connection, makes a full TLS handshake (no session"
  echo "tickets, no session cache on either server, so wrk cannot resume) and is closed by the"
  echo "server after the response, so requests/s is handshakes/s. Keep-alive: \`wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s\` over TLS connections kept"
  echo "open, ECDSA certificate. $ROUNDS rounds interleaved (every server and test in turn each round);"
  echo "the median round by requests/s is reported, with every round and the Askr / nginx ratio"
  echo "round by round. Server CPU: utime + stime of the server's processes (nginx: master +"
  echo "workers) over the same run, per request (µs) and per wall second (core busy %)."
  echo
  echo "| Test | Server | Requests/s | p99 latency | Askr / nginx | Server CPU µs/request | Server core busy % | Askr CPU / nginx CPU | Non-2xx | Socket errors | All rounds (req/s) | Askr / nginx, round by round |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|"
  for t in "${tests[@]}"; do
    read -r kind cert file <<<"$t"
    base="$tmp/wrk.$kind.$cert.$file"
    nginx_rps="" nginx_us=""
    if $has_nginx; then
      m=$(median_round "$base.nginx")
      nginx_rps=$(wrk_field "$base.nginx.$m.txt" rps)
      read -r nginx_us _ < <(cpu_cols "$base.nginx.$m.txt" "$tmp/cpu.$(basename "$base").nginx.$m.txt")
    fi
    for s in "${servers[@]}"; do
      m=$(median_round "$base.$s")
      w="$base.$s.$m.txt"
      rps=$(wrk_field "$w" rps)
      read -r us busy < <(cpu_cols "$w" "$tmp/cpu.$(basename "$base").$s.$m.txt")
      [ "$busy" = "—" ] || busy+="%"
      ratio="—" cpu_ratio="—" byround="—"
      if [[ $s == askr-* ]] && $has_nginx; then
        ratio=$(div "$rps" "$nginx_rps")
        cpu_ratio=$(div "$us" "$nginx_us")
        byround=$(ratio_rounds "$base.$s" "$base.nginx")
      fi
      printf '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$(test_label "$kind" "$cert" "$file")" "${label[$s]}" "$rps" "$(wrk_field "$w" p99)" \
        "$ratio" "$us" "$busy" "$cpu_ratio" "$(wrk_field "$w" non2xx)" "$(wrk_field "$w" sockerr)" \
        "$(rounds_rps "$base.$s")" "$byround"
    done
  done
  echo
  if [ ${#askr_tls[@]} -gt 0 ]; then
    echo "Askr's TLS counters over the whole run (warm-up, checks and every round; a failed"
    echo "handshake is one that wrk cut short when a run ended):"
    echo
    for i in "${instances[@]}"; do
      [ -n "${askr_tls[$i]:-}" ] && echo "- ${label[${i%%.*}]}, $(cert_label "${i#*.}"): ${askr_tls[$i]}"
    done
    echo
  fi
  for i in "${instances[@]}"; do log_notes "$i" "$tmp/$i.log" ': tls: '; done
} >"$report"

publish_report "$report"
