#!/bin/sh
# Measures the Go binding's cost per request against the C API on the same server, in the
# same run: sequential and concurrent GETs of / through http.Client (h2gobench) and through
# h2_client_do (c-examples/threads.c, built here against the same library through
# pkg-config). Each configuration runs ROUNDS times, interleaved; the medians are printed.
#
#   PKG_CONFIG_PATH=<prefix>/lib/pkgconfig [H2TESTSERVER=...] cmd/h2gobench/compare.sh [ROUNDS] [N]
#
# Run from bindings/go. H2TESTSERVER defaults to ../../target/release/h2testserver.
set -eu
ROUNDS=${1:-5}
N=${2:-20000}
REPO=$(cd ../.. && pwd)
SERVER=${H2TESTSERVER:-$REPO/target/release/h2testserver}
LIBDIR=$(pkg-config --variable=libdir h2client)
WORK=$(mktemp -d)
trap 'kill $SPID 2>/dev/null || true; rm -rf "$WORK"' EXIT INT TERM

cc -O2 -std=c11 "$REPO/c-examples/threads.c" $(pkg-config --cflags --libs h2client) \
   -Wl,-rpath,"$LIBDIR" -lpthread -o "$WORK/threads"
CGO_LDFLAGS="-Wl,-rpath,$LIBDIR" go build -o "$WORK/h2gobench" ./cmd/h2gobench

"$SERVER" --host 127.0.0.1 --port 0 > "$WORK/server.out" 2>&1 &
SPID=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
    grep -q listening "$WORK/server.out" && break
    sleep 0.5
done
URL=$(sed -n 's/^listening on //p' "$WORK/server.out")
[ -n "$URL" ] || { echo "compare.sh: the test server did not start" >&2; exit 1; }

# µs per request = wall time / requests; CPU = user + system time of the process (the
# library's threads included) / requests.
c_run() { # threads n_per_thread
    echo "cpu" > "$WORK/time"
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "cpu %U %S" -o "$WORK/time" "$WORK/threads" -t "$1" -n "$2" "$URL" > "$WORK/c.out" || true
    else
        "$WORK/threads" -t "$1" -n "$2" "$URL" > "$WORK/c.out" || true
    fi
    wall=$(sed -n 's/.* ok, .* in \([0-9.]*\) s.*/\1/p' "$WORK/c.out")
    awk -v n=$(($1 * $2)) -v wall="$wall" '/^cpu/ {
        printf "%.1f", wall * 1e6 / n; if (NF == 3) printf " %.1f", ($2 + $3) * 1e6 / n; print "" }' "$WORK/time"
}
go_run() { # concurrency extra-flags...
    c=$1; shift
    "$WORK/h2gobench" -url "$URL" -n "$N" -c "$c" "$@" | sed -n 's/.*req\/s, \([0-9.]*\) us\/req wall, CPU [0-9.]* s (\([0-9.]*\) us.*/\1 \2/p'
}
for r in $(seq "$ROUNDS"); do
    echo "C-t1 $(c_run 1 "$N")"
    echo "Go-http-c1 $(go_run 1)"
    echo "Go-RoundTrip-c1 $(go_run 1 -direct)"
    echo "Go-buffered-c1 $(go_run 1 -mode buffered)"
    echo "C-t64 $(c_run 64 $((N / 64)))"
    echo "Go-http-c64 $(go_run 64)"
    echo "Go-buffered-c64 $(go_run 64 -mode buffered)"
done > "$WORK/results"
echo "median over $ROUNDS rounds of $N GETs of / (us/request wall, and CPU us/request of that run):"
for k in C-t1 Go-http-c1 Go-RoundTrip-c1 Go-buffered-c1 C-t64 Go-http-c64 Go-buffered-c64; do
    grep "^$k " "$WORK/results" | awk '{ print $2, $3 }' | sort -n |
        awk -v k="$k" '{ w[NR] = $1; c[NR] = $2 } END {
            m = int((NR + 1) / 2); printf "  %-16s median %7.1f us wall", k, w[m];
            if (c[m] != "") printf " (CPU %6.1f us)", c[m]; printf ", min %7.1f   [all: ", w[1];
            for (i = 1; i <= NR; i++) printf "%s ", w[i]; print "]" }'
done
