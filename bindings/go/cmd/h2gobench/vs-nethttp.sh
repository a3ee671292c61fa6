#!/usr/bin/env bash
# vs-nethttp.sh URL [ROUNDS] [BIN...]: h2gobench against net/http's own Transport, HTTP/2
# over TLS (-insecure), client pinned to CPU 0 (start the server on CPU 1, e.g.
# `taskset -c 1 h2o -c h2o.conf` serving a 1 KiB file /1k and a 1 MiB file /1m). Each
# configuration runs ROUNDS times (default 3), the clients alternating: net/http, then each
# h2gobench binary BIN (default: ./h2gobench) in streaming mode. Prints h2gobench's lines
# (req/s and CPU us/request of the process, from getrusage, over the measured requests).
set -euo pipefail
url=$1; rounds=${2:-3}; shift $(( $# >= 2 ? 2 : 1 ))
bins=("$@"); ((${#bins[@]})) || bins=(./h2gobench)
configs=("/1k 20000 1" "/1k 20000 4" "/1k 50000 64" "/1m 1000 1" "/1m 2000 8")
for cfg in "${configs[@]}"; do
    read -r path n c <<<"$cfg"
    for ((r = 1; r <= rounds; r++)); do
        echo "== $path n=$n c=$c round $r"
        taskset -c 0 "${bins[0]}" -url "$url" -path "$path" -n "$n" -c "$c" -mode nethttp -insecure
        for b in "${bins[@]}"; do
            echo -n "$b: "
            taskset -c 0 "$b" -url "$url" -path "$path" -n "$n" -c "$c" -mode streaming -insecure
        done
    done
done
