#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with ctest: unit and integration tests
# (both I/O backends) on the release build, the same under ASan+UBSan, then each libFuzzer
# target for a short while over its seed corpus. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)

echo "== release build"
scripts/build.sh release
ctest --preset release -j "$jobs"

echo "== ASan+UBSan build"
scripts/build.sh asan
ctest --preset asan -j "$jobs"

echo "== fuzz targets (clang, libFuzzer)"
scripts/build.sh fuzz
ctest --preset fuzz -j "$jobs"
