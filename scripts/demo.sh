#!/usr/bin/env bash
# The demo: starts the project's HTTP/2 test server on a free local port and fetches several
# URLs from it concurrently with h2get (one client, one connection, multiplexed streams);
# then does the same over HTTPS against a second test server in --tls mode, trusting the CA
# that server generated (written to a temporary directory).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Cargo's output directory: $CARGO_TARGET_DIR if set (relative to the current directory, as
# cargo takes it), else target.
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
export CARGO_TARGET_DIR=$target
make -s -C "$root/c-examples" >/dev/null
server="$target/release/h2testserver"
h2get="$root/c-examples/build/h2get"

tmp=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in ${pids[@]+"${pids[@]}"}; do
    kill "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_server OUT READY ARGS...: starts the test server with ARGS, its stdout in OUT, and
# waits (up to 10 s) for a line matching READY.
start_server() {
  local out=$1 ready=$2
  shift 2
  # Created here, before the server starts: the background job's redirect may come later
  # than the first grep below.
  : >"$out"
  "$server" --port 0 "$@" >"$out" &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q "$ready" "$out" && return 0
    sleep 0.1
  done
  echo "demo: the test server ($*) did not start" >&2
  exit 1
}

# ---- HTTP/2 over cleartext (h2c) ----
start_server "$tmp/h2c.out" '^listening on '
url=$(sed -n 's/^listening on //p' "$tmp/h2c.out")
echo "demo: test server at $url"
echo "demo: h2get -v -i -P 4 $url/ $url/bytes/32 $url/trailers $url/status/404"
echo
"$h2get" -v -i -P 4 "$url/" "$url/bytes/32" "$url/trailers" "$url/status/404"
echo
echo "demo: 8 concurrent requests for 64 KiB each on one connection; bytes received:"
for i in $(seq 8); do printf '%s/bytes/65536 ' "$url"; done | xargs "$h2get" -P 8 | wc -c

# ---- HTTP/2 over TLS ----
mkdir "$tmp/tls"
start_server "$tmp/tls.out" '^ca certificate: ' --tls --tls-dir "$tmp/tls"
turl=$(sed -n 's/^listening on //p' "$tmp/tls.out")
ca=$(sed -n 's/^ca certificate: //p' "$tmp/tls.out")
echo
echo "demo: TLS test server (--tls) at $turl; its CA certificate: $ca"
echo "demo: h2get -i --cacert $ca $turl/ $turl/bytes/32"
echo
"$h2get" -i --cacert "$ca" "$turl/" "$turl/bytes/32"
echo
