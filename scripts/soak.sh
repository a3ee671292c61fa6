#!/usr/bin/env bash
# Soak test (by hand, not CI): SOAK_REQUESTS (default 1,000,000) GETs from SOAK_THREADS
# (default 64) threads through ONE client against nghttpd (h2c, `--no-tls -n 1`: one worker
# thread, 100 concurrent streams per connection), bodies checked: /f1 (1 byte), every 64th
# request /f16k. The driver is the ignored test `soak` in tests/faults.rs; it prints RSS, peak
# RSS, open descriptors and threads at 10 k, 100 k and 1 M requests and fails on any error, on
# descriptors growing after 10 k, or on RSS growing by more than 16 MiB from 100 k to the end.
#
#   scripts/soak.sh                # writes benches/results/soak-YYYY-MM-DD.txt
#   SOAK_REQUESTS=200000 scripts/soak.sh
#
# Needs nghttpd (Debian: nghttp2-server). Takes about a minute per million requests on an idle
# 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

export SOAK_REQUESTS=${SOAK_REQUESTS:-1000000}
export SOAK_THREADS=${SOAK_THREADS:-64}
mkdir -p benches/results
out=benches/results/soak-$(date +%F).txt

cargo test -q --release --test faults --no-run

{
  echo "# h2client soak: $SOAK_REQUESTS requests, $SOAK_THREADS threads, one client, nghttpd --no-tls -n 1"
  echo "# $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (+ local changes)')"
  echo "# $(uname -srm), $(nproc) cores, $(nghttpd --version 2>/dev/null | head -n 1)"
  cargo test -q --release --test faults -- --ignored --exact soak --nocapture --test-threads 1 2>&1 \
    | grep --line-buffered -v -e "^running [0-9]* test" -e "^$" || true
} | tee "$out"
# grep exits 1 when it filtered everything: the test's own status is in the output.
if grep -q 'test result: ok' "$out"; then
  echo "soak: passed; figures in $out"
else
  echo "soak: FAILED (see $out)" >&2
  exit 1
fi
