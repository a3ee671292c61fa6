#!/usr/bin/env bash
# The demo: starts the project's HTTP/2 test server on a free local port and fetches several
# URLs from it concurrently with h2get (one client, one connection, multiplexed streams).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
make -s -C "$root/c-examples" >/dev/null
server="$root/target/release/h2testserver"
h2get="$root/c-examples/build/h2get"

out=$(mktemp)
"$server" --port 0 >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q '^listening on ' "$out" && break
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$out")
[ -n "$url" ] || { echo "demo: the test server did not start" >&2; exit 1; }
echo "demo: test server at $url"
echo "demo: h2get -v -i -P 4 $url/ $url/bytes/32 $url/trailers $url/status/404"
echo
"$h2get" -v -i -P 4 "$url/" "$url/bytes/32" "$url/trailers" "$url/status/404"
echo
echo "demo: 8 concurrent requests for 64 KiB each on one connection; bytes received:"
for i in $(seq 8); do printf '%s/bytes/65536 ' "$url"; done | xargs "$h2get" -P 8 | wc -c
