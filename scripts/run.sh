#!/usr/bin/env bash
# Installs what is missing, builds release, and serves the demo site on http://127.0.0.1:8080/
# in the foreground (Ctrl-C stops it gracefully).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
scripts/build.sh release
exec build/proxy/askr-proxy -c conf/askr.toml "$@"
