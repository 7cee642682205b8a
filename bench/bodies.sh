#!/usr/bin/env bash
# Large bodies to and from PHP: the front end's CPU time per MiB, Askr against nginx, both in
# front of one php-fpm pool, over HTTP/1.1 in cleartext and with TLS, over HTTP/2 with TLS (ALPN
# h2) and in cleartext with prior knowledge (h2c).
# - up: curl POSTs a SIZE_MB MiB file (streamed from disk, with Content-Length) RUNS times in a
#   row per server and transport; the page reads php://input whole and answers its length, which
#   must be the file's.
# - down: curl GETs a page that sends the same file with readfile() (no Content-Length: PHP
#   streams it), RUNS times; curl must receive every byte.
# nginx runs as an operator who streams bodies runs it, as Askr streams them: request bodies go
# to PHP as they arrive (fastcgi_request_buffering off, client_max_body_size 0; by default nginx
# first writes them to a temporary file) and responses never go to disk
# (fastcgi_max_temp_file_size 0; by default nginx spills what the client has not read yet).
#
#   bench/bodies.sh [BUILD]
#
# Environment (defaults in brackets):
#   SIZE_MB [50]         MiB per body
#   DIRECTIONS [up down] request bodies (up), response bodies (down)
#   RUNS [5]             bodies per server, transport, direction and round
#   ROUNDS [3]           interleaved rounds; the median round is reported
#   SERVER_CPUS [1]      cores askr-proxy, nginx and php-fpm are pinned to
#   CLIENT_CPUS [0]      cores curl is pinned to
#   THREADS [1]          Askr loop threads = nginx worker processes
#   CHILDREN [2]         php-fpm pm.max_children (pm = static)
#   TRANSPORTS [h1 h1-tls h2-tls h2c]
#   NGINX [nginx]  PHP_FPM [/usr/sbin/php-fpm8.2]  PHP_INI [/etc/php/8.2/fpm/php.ini]
#   OUT [bench/results-bodies.md]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
repo="$(cd "$here/.." && pwd)"
BUILD="${1:-$repo/build}"
SIZE_MB="${SIZE_MB:-50}"
DIRECTIONS="${DIRECTIONS:-up down}"
RUNS="${RUNS:-5}"
ROUNDS="${ROUNDS:-3}"
SERVER_CPUS="${SERVER_CPUS:-1}"
CLIENT_CPUS="${CLIENT_CPUS:-0}"
THREADS="${THREADS:-1}"
CHILDREN="${CHILDREN:-2}"
TRANSPORTS="${TRANSPORTS:-h1 h1-tls h2-tls h2c}"
NGINX="${NGINX:-nginx}"
PHP_FPM="${PHP_FPM:-/usr/sbin/php-fpm8.2}"
PHP_INI="${PHP_INI:-/etc/php/8.2/fpm/php.ini}"
OUT="${OUT:-$here/results-bodies.md}"
ASKR_BIN="$BUILD/proxy/askr-proxy"

"$repo/scripts/deps.sh" bench
for c in curl openssl "$NGINX" "$PHP_FPM"; do command -v "$c" >/dev/null || die "$c is required"; done
[ -x "$ASKR_BIN" ] || die "no askr-proxy at $ASKR_BIN (build first: scripts/build.sh release)"
[ "$(id -u)" -eq 0 ] || die "run as root (nginx and php-fpm run as root)"
bench_init bodies.sh askr-bench-bodies
warn_load
mkdir -p "$tmp/www" "$tmp/nginx"
cat >"$tmp/www/upload.php" <<'EOF'
<?php echo strlen(file_get_contents('php://input'));
EOF
cat >"$tmp/www/download.php" <<EOF
<?php readfile('$tmp/body.bin');
EOF
head -c "$((SIZE_MB << 20))" /dev/urandom >"$tmp/body.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -keyout "$tmp/cert.key" -out "$tmp/cert.pem" 2>/dev/null || die "openssl req failed"
chmod -R a+rX "$tmp"
start_php_fpm "$CHILDREN"

declare -A port tls_port h2c_port pid label
label[askr]="Askr (io_uring)"
label[nginx]="nginx"
servers=(askr nginx)

port[askr]=$(free_port)
tls_port[askr]=$(free_port)
h2c_port[askr]=${port[askr]} # one cleartext listener: HTTP/1.1 or h2c by the client preface
cat >"$tmp/askr.toml" <<EOF
[server]
threads = $THREADS
error_log = "$tmp/askr.log"

[[listen]]
address = "127.0.0.1:${port[askr]}"

[[listen]]
address = "127.0.0.1:${tls_port[askr]}"
tls = true

[[site]]
root = "$tmp/www"
php = "app"
tls_certificate = "$tmp/cert.pem"
tls_certificate_key = "$tmp/cert.key"

[[pool]]
name = "app"
fastcgi = "unix:$sock"

[limits]
max_body_size = "$((SIZE_MB + 1))m"

[access_log]
format = "off"
EOF
askr_start "$ASKR_BIN" "$tmp/askr.toml" "$tmp/askr.log"
pid[askr]=$!
pids+=("$!")

port[nginx]=$(free_port)
tls_port[nginx]=$(free_port)
h2c_port[nginx]=$(free_port) # nginx 1.22: a cleartext `http2` listener speaks h2c alone
{
  nginx_fastcgi_conf_head "$tmp/nginx.log" "$tmp/nginx"
  cat <<EOF
    client_max_body_size 0;

    server {
        listen 127.0.0.1:${port[nginx]};
        listen 127.0.0.1:${tls_port[nginx]} ssl http2;
        listen 127.0.0.1:${h2c_port[nginx]} http2;
        ssl_certificate $tmp/cert.pem;
        ssl_certificate_key $tmp/cert.key;
        root $tmp/www;

        location ~ \.php\$ {
            fastcgi_pass unix:$sock;
            fastcgi_request_buffering off;
            fastcgi_max_temp_file_size 0;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
        }
    }
}
EOF
} >"$tmp/nginx.conf"
nginx_start "$tmp/nginx" "$tmp/nginx.log" "$tmp/nginx.conf"
pid[nginx]=$!
pids+=("$!")

for s in "${servers[@]}"; do
  wait_http "http://127.0.0.1:${port[$s]}/upload.php" "${pid[$s]}" "$tmp/$s.log"
done

# The server's processes: askr-proxy (its threads), or nginx's master and workers.
server_pids() { # NAME
  if [ "$1" = nginx ]; then echo "${pid[nginx]} $(pgrep -P "${pid[nginx]}" | tr '\n' ' ')"; else echo "${pid[$1]}"; fi
}
url() { # NAME TRANSPORT PAGE
  case $2 in
    h1) echo "--http1.1 http://127.0.0.1:${port[$1]}/$3" ;;
    h1-tls) echo "-k --http1.1 https://127.0.0.1:${tls_port[$1]}/$3" ;;
    h2-tls) echo "-k --http2 https://127.0.0.1:${tls_port[$1]}/$3" ;;
    h2c) echo "--http2-prior-knowledge http://127.0.0.1:${h2c_port[$1]}/$3" ;;
    *) die "unknown transport '$2'" ;;
  esac
}
transfer() { # NAME TRANSPORT DIRECTION -> the body's length in bytes and the HTTP version
  # shellcheck disable=SC2046
  case $3 in
    up) taskset -c "$CLIENT_CPUS" curl -sS --fail -X POST -T "$tmp/body.bin" \
      -H 'Content-Type: application/octet-stream' -w ' %{http_version}' $(url "$1" "$2" upload.php) ;;
    down) taskset -c "$CLIENT_CPUS" curl -sS --fail -o /dev/null \
      -w '%{size_download} %{http_version}' $(url "$1" "$2" download.php) ;;
    *) die "unknown direction '$3'" ;;
  esac
}

read -ra transports <<<"$TRANSPORTS"
read -ra directions <<<"$DIRECTIONS"
want=$((SIZE_MB << 20))
for d in "${directions[@]}"; do
  for t in "${transports[@]}"; do
    for s in "${servers[@]}"; do
      got=$(transfer "$s" "$t" "$d") || die "$s $t $d: the transfer failed"
      version=${got##* }
      case $t in h2*) [ "$version" = 2 ] || die "$s $t: HTTP/$version, not 2" ;;
        *) [ "$version" = 1.1 ] || die "$s $t: HTTP/$version, not 1.1" ;; esac
      [ "${got%% *}" = "$want" ] || die "$s $t $d: ${got%% *} bytes of $want went through"
    done
  done
done

# Runs: every direction, transport and server in turn each round; "CPU_SECONDS WALL_SECONDS"
# per run.
for r in $(seq "$ROUNDS"); do
  for d in "${directions[@]}"; do
    for t in "${transports[@]}"; do
      for s in "${servers[@]}"; do
        read -ra ps <<<"$(server_pids "$s")"
        mark=$(cpu_mark "${ps[@]}")
        for _ in $(seq "$RUNS"); do
          transfer "$s" "$t" "$d" >/dev/null || die "$s $t $d: a transfer failed"
        done
        cpu_since "$mark" "${ps[@]}" >"$tmp/run.$d.$t.$s.$r.txt"
        kill -0 "${pid[$s]}" 2>/dev/null || die "$s died; log: $(tail -20 "$tmp/$s.log")"
      done
    done
  done
done

# µs of CPU per MiB of a run, and ms per body.
us_per_mib() { awk -v c="$1" -v m="$((RUNS * SIZE_MB))" 'BEGIN{ printf "%.0f\n", c * 1e6 / m }'; }
ms_per_body() { awk -v w="$1" -v n="$RUNS" 'BEGIN{ printf "%.0f\n", w * 1000 / n }'; }
report="$tmp/report.md"
{
  echo "# Large bodies to and from PHP: Askr vs nginx, in front of one php-fpm pool"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Machine: $(machine_line)"
  echo "- Servers: askr-proxy ($(askr_rev proxy)); $("$NGINX" -v 2>&1 | sed 's|.*/||'); php-fpm $("$PHP_FPM" -v | awk 'NR==1{print $2}') ($CHILDREN children); curl $(curl --version | awk 'NR==1{print $2}')"
  echo "- Pinning: servers and php-fpm on CPU(s) $SERVER_CPUS, $THREADS Askr loop(s) / nginx worker(s); curl on CPU(s) $CLIENT_CPUS"
  echo "- Command: \`SIZE_MB=$SIZE_MB DIRECTIONS=\"$DIRECTIONS\" RUNS=$RUNS ROUNDS=$ROUNDS SERVER_CPUS=$SERVER_CPUS CLIENT_CPUS=$CLIENT_CPUS THREADS=$THREADS CHILDREN=$CHILDREN TRANSPORTS=\"$TRANSPORTS\" bench/bodies.sh\`"
  echo "- Load average (1, 5, 15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "Each run: $RUNS bodies of $SIZE_MB MiB in a row. Up: \`curl -X POST -T FILE\` (Content-Length), the"
  echo "page reading php://input whole. Down: \`curl -o /dev/null\` of a page that sends the file with"
  echo "readfile() (no Content-Length). CPU: utime + stime of the front end (askr-proxy; nginx master +"
  echo "workers) over the run, per MiB (resolution 1/$clk_tck s); php-fpm's is not counted."
  echo "$ROUNDS rounds interleaved; the median round by CPU per MiB is reported, with every round."
  echo "Askr / nginx: the ratio of CPU per MiB (lower is better for Askr)."
  echo
  echo "| Direction | Transport | Server | CPU µs / MiB | ms / body | Askr / nginx CPU | All rounds (µs / MiB) |"
  echo "|---|---|---|---:|---:|---:|---|"
  declare -A med
  for d in "${directions[@]}"; do
    for t in "${transports[@]}"; do
      for s in "${servers[@]}"; do
        rounds=()
        for r in $(seq "$ROUNDS"); do
          read -r c w <"$tmp/run.$d.$t.$s.$r.txt"
          rounds+=("$(us_per_mib "$c") $(ms_per_body "$w")")
        done
        sorted=$(printf '%s\n' "${rounds[@]}" | sort -n)
        mid=$(sed -n "$(((ROUNDS + 1) / 2))p" <<<"$sorted")
        med[$s]=${mid%% *}
        all=$(printf '%s\n' "${rounds[@]}" | awk '{print $1}' | paste -sd/ | sed 's|/| / |g')
        echo "$d|$t|$s|${mid%% *}|${mid##* }|$all" >>"$tmp/rows.txt"
      done
      ratio=$(awk -v a="${med[askr]}" -v n="${med[nginx]}" 'BEGIN{ if (n > 0) printf "%.2f\n", a / n; else print "—" }')
      while IFS='|' read -r rd rt rs cpu ms all; do
        [ "$rd" = "$d" ] && [ "$rt" = "$t" ] || continue
        echo "| $rd | $rt | ${label[$rs]} | $cpu | $ms | $([ "$rs" = askr ] && echo "$ratio" || echo —) | $all |"
      done <"$tmp/rows.txt"
    done
  done
} >"$report"
publish_report "$report"
