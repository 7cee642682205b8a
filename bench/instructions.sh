#!/usr/bin/env bash
# User-space instructions per request, counted by valgrind's callgrind: a measure of what a server
# does itself that does not move with other load on the machine, as requests/s and CPU time do.
# Askr (io_uring), nginx and h2o serve the same file over HTTP/2 in cleartext (h2load, prior
# knowledge), over HTTP/2 on TLS 1.3 (ALPN h2) and over HTTP/1.1 (h2load --h1), each alone under
# callgrind: a warm-up, then the
# counters are zeroed, N requests are made and the counters are dumped. Reported per server and
# protocol: instructions per request, and how they split over the server's own code and each
# library it calls (nghttp2, libc, libcrypto...). The kernel's work (system calls, the TCP stack)
# is not counted; bench/static.sh and bench/h2.sh measure CPU time.
#
#   bench/instructions.sh
#
# Environment (defaults in brackets):
#   PROTOCOLS [h2c h2 h1]    SERVERS [askr nginx h2o]   (h2: HTTP/2 over TLS 1.3,
#                            TLS_AES_128_GCM_SHA256, X25519, an ECDSA P-256 certificate)
#   N [20000]                requests counted (h2load -n)
#   WARM [5000]              requests before the counters are zeroed
#   CONNS [10] STREAMS [100] h2load -c and -m (HTTP/1.1: -c only, one request at a time)
#   FILE_SIZE [4096]         bytes of the file
#   ASKR [build/proxy/askr-proxy]  NGINX [nginx]  H2O [h2o]  H2LOAD [h2load]
#   OUT [bench/results-instructions.md]
#   KEEP                     a folder to keep each callgrind dump in (SERVER.PROTOCOL.callgrind),
#                            for callgrind_annotate
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROTOCOLS="${PROTOCOLS:-h2c h2 h1}"
SERVERS="${SERVERS:-askr nginx h2o}"
N="${N:-20000}"
WARM="${WARM:-5000}"
CONNS="${CONNS:-10}"
STREAMS="${STREAMS:-100}"
FILE_SIZE="${FILE_SIZE:-4096}"
ASKR="${ASKR:-$here/../build/proxy/askr-proxy}"
NGINX="${NGINX:-nginx}"
H2O="${H2O:-h2o}"
H2LOAD="${H2LOAD:-h2load}"
OUT="${OUT:-$here/results-instructions.md}"

. "$here/lib.sh"
"$here/../scripts/deps.sh" bench
for c in valgrind callgrind_control callgrind_annotate curl "$H2LOAD" "$NGINX" "$H2O"; do
  command -v "$c" >/dev/null || die "$c is required"
done
[ -x "$ASKR" ] || die "no askr-proxy at $ASKR (build first: scripts/build.sh release)"
[ "$(id -u)" -eq 0 ] || die "run as root (nginx and h2o run with 'user root')"
bench_init instructions.sh askr-bench-instr
mkdir -p "$tmp/www"
head -c "$FILE_SIZE" /dev/urandom >"$tmp/www/file.bin"
chmod 755 "$tmp" "$tmp/www"
chmod 644 "$tmp/www/file.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$tmp/cert.key" -out "$tmp/cert.pem" 2>/dev/null || die "openssl req failed"
chmod 644 "$tmp/cert."*
cipher=TLS_AES_128_GCM_SHA256

# One server, one protocol: its configuration on PORT (h1 and h2c alike on a plain listener:
# Askr and nginx take h2c by prior knowledge on an http2 listener, h2o on any; h2 on a TLS one,
# TLS 1.3 with the same cipher and group on all three).
config() { # SERVER PORT PROTOCOL
  local s=$1 port=$2 h2="" tls=""
  case "$s" in
    askr)
      [ "$3" = h2c ] && h2="http2 = true"
      [ "$3" = h2 ] && h2="tls = true" && tls="tls_certificate = \"$tmp/cert.pem\"
tls_certificate_key = \"$tmp/cert.key\"
[tls]
protocols = [\"TLSv1.3\"]
ciphersuites = \"$cipher\"
groups = \"X25519\""
      cat >"$tmp/askr.toml" <<EOF
[server]
threads = 1
error_log = "$tmp/askr.log"
[[listen]]
address = "127.0.0.1:$port"
$h2
[[site]]
root = "$tmp/www"
$tls
[http2]
max_streams = 1000000000
[limits]
keepalive_requests = 1000000000
[access_log]
format = "off"
EOF
      echo "$ASKR -c $tmp/askr.toml" ;;
    nginx)
      [ "$3" = h2c ] && h2=" http2"
      [ "$3" = h2 ] && h2=" ssl http2" && tls="ssl_certificate $tmp/cert.pem;
        ssl_certificate_key $tmp/cert.key;
        ssl_protocols TLSv1.3;
        ssl_conf_command Ciphersuites $cipher;
        ssl_ecdh_curve X25519;"
      mkdir -p "$tmp/nginx"
      cat >"$tmp/nginx.conf" <<EOF
master_process off;
daemon off;
user root;
error_log $tmp/nginx.log;
pid $tmp/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=1000 inactive=60s;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port$h2;
        root $tmp/www;
        $tls
    }
}
EOF
      echo "$NGINX -p $tmp/nginx -e $tmp/nginx.log -c $tmp/nginx.conf" ;;
    h2o)
      [ "$3" = h2 ] && tls="  ssl:
    certificate-file: $tmp/cert.pem
    key-file: $tmp/cert.key
    ocsp-update-interval: 0"
      cat >"$tmp/h2o.yaml" <<EOF
listen:
  host: 127.0.0.1
  port: $port
$tls
user: root
num-threads: 1
error-log: $tmp/h2o.log
pid-file: $tmp/h2o.pid
hosts:
  "127.0.0.1:$port":
    paths:
      "/":
        file.dir: $tmp/www
EOF
      echo "$H2O -c $tmp/h2o.yaml" ;;
    *) die "unknown server '$s'" ;;
  esac
}

load() { # URL PROTOCOL REQUESTS OUTFILE
  local more=(-m"$STREAMS")
  [ "$2" = h1 ] && more=(--h1)
  [ "$2" = h2 ] && more+=(--tls13-ciphers="$cipher" --npn-list=h2)
  "$H2LOAD" -c"$CONNS" "${more[@]}" -n"$3" "$1" >"$4" 2>&1 || true
}

# Instructions of a dump by object (file name of the binary or library), per request. Functions
# that were running when the counters were zeroed and dumped (the thread's start, the loop) show
# their inclusive count, at 100% or, when another thread (the main one's signal wait) ran a few
# instructions meanwhile, just under: lines of 99% and more are left out, their own instructions
# being negligible and no function of the server's own taking that share.
split() { # DUMP REQUESTS
  callgrind_annotate --threshold=100 --inclusive=no --auto=no "$1" 2>/dev/null |
    grep -E '^ *[0-9,]+ \(' | grep -v -e 'PROGRAM TOTALS' -e '(100.0%)' -e '(99\.[0-9]*%)' |
    awk -v n="$2" -v self="$3" '{ v = $1; gsub(",", "", v); o = self
      if (match($0, /\[\/[^]]*\]$/)) { o = substr($0, RSTART + 1, RLENGTH - 2); sub(/.*\//, "", o) }
      s[o] += v; t += v }
      END { printf "%.0f", t / n; for (k in s) if (s[k] / n >= 1) printf "\t%s %.0f", k, s[k] / n; print "" }'
}

declare -A result
for p in $PROTOCOLS; do
  for s in $SERVERS; do
    echo "$s, $p" >&2
    port=$(free_port)
    read -ra cmd <<<"$(config "$s" "$port" "$p")"
    rm -f "$tmp"/cg.*
    (cd "$tmp" && exec valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "${cmd[@]}" \
      2>"$tmp/valgrind.$s.log") &
    vpid=$!
    pids+=("$vpid")
    url="http://127.0.0.1:$port/file.bin"
    [ "$p" = h2 ] && url="https://127.0.0.1:$port/file.bin"
    for i in $(seq 300); do
      kill -0 "$vpid" 2>/dev/null || die "$s exited at start: $(tail -5 "$tmp/valgrind.$s.log")"
      case "$p" in
        h2c) curl -sf --http2-prior-knowledge -o /dev/null "$url" && break ;;
        h2) curl -sfk --http2 -o /dev/null "$url" && break ;;
        *) curl -sf -o /dev/null "$url" && break ;;
      esac
      [ "$i" -lt 300 ] || die "$s: no answer"
      sleep 0.2
    done
    load "$url" "$p" "$WARM" "$tmp/warm.txt"
    callgrind_control -z "$vpid" >/dev/null
    load "$url" "$p" "$N" "$tmp/h2load.$s.$p.txt"
    callgrind_control -d "$vpid" >/dev/null
    ok=$(awk '/^status codes:/{ print $3 }' "$tmp/h2load.$s.$p.txt")
    [ "$ok" = "$N" ] || die "$s $p: $ok of $N requests answered 2xx: $(cat "$tmp/h2load.$s.$p.txt")"
    if [ "$p" = h2 ]; then
      grep -q "^Application protocol: h2" "$tmp/h2load.$s.$p.txt" &&
        grep -q "^Cipher: $cipher" "$tmp/h2load.$s.$p.txt" ||
        die "$s $p: not HTTP/2 over TLS with $cipher: $(cat "$tmp/h2load.$s.$p.txt")"
    fi
    sleep 1
    dump=$(ls -t "$tmp"/cg.*.* 2>/dev/null | head -1)
    [ -n "$dump" ] || die "$s: no callgrind dump"
    bin=$(basename "${cmd[0]}")
    result[$s.$p]=$(split "$dump" "$N" "$bin")
    [ -z "${KEEP:-}" ] || { mkdir -p "$KEEP" && cp "$dump" "$KEEP/$s.$p.callgrind"; }
    stop_pid "$vpid"
  done
done

{
  echo "# Instructions per request: Askr, nginx and h2o under callgrind"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Machine: $(machine_line)"
  echo "- Askr: $("$ASKR" --version 2>&1 | head -1) ($(askr_rev proxy shared || echo '?')); nginx $(nginx_version); h2o $("$H2O" --version 2>&1 | awk 'NR==1{print $3}'); $(valgrind --version)"
  echo "- Command: \`PROTOCOLS=\"$PROTOCOLS\" SERVERS=\"$SERVERS\" N=$N WARM=$WARM CONNS=$CONNS STREAMS=$STREAMS FILE_SIZE=$FILE_SIZE bench/instructions.sh\`"
  echo
  echo "A $FILE_SIZE-byte file, one thread or worker each (nginx with \`master_process off\`),"
  echo "\`h2load -c$CONNS -m$STREAMS\` (h2c: prior knowledge; h2: TLS 1.3, $cipher, X25519, ALPN h2)"
  echo "or \`h2load -c$CONNS --h1\` (HTTP/1.1)."
  echo "Counted: the server's instructions in user space over $N requests after $WARM of warm-up,"
  echo "divided by $N, and split over the server's own binary and the libraries it calls."
  echo "The kernel's share of a request (system calls, TCP) is not in these counts."
  echo
  echo "| Protocol | Server | Instructions / request | Split (instructions / request) |"
  echo "|---|---|---:|---|"
  for p in $PROTOCOLS; do
    for s in $SERVERS; do
      IFS=$'\t' read -r total rest <<<"${result[$s.$p]}"
      printf '| %s | %s | %s | %s |\n' "$p" "$s" "$total" "$(echo "$rest" | tr '\t' '\n' |
        sort -k2 -n -r | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')"
    done
  done
} >"$OUT"
cat "$OUT"
echo "written: $OUT" >&2
