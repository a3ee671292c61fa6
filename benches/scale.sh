#!/usr/bin/env bash
# benches/scale.sh: per-request CPU of h2client at -m1000 against -m100 (issue #6).
#
#   benches/scale.sh [-n REQUESTS] [--rounds R] [--no-nice] [--no-build] [-h]
#
# Starts nghttpd (one worker, --max-concurrent-streams=1000, a 1 KiB file) on loopback,
# pinned to the 2nd allowed CPU (not h2o: h2o 2.2.5 advertises SETTINGS_MAX_CONCURRENT_STREAMS
# 100 whatever http2-max-concurrent-requests-per-connection says, so -m1000 would be -m100), then runs h2bench (the C benchmark over
# the library's queue API; compiled from c-examples/h2bench.c against target/release, the
# default build: glibc malloc since 2026-12-07, mimalloc before) pinned to the 1st CPU, with H2CLIENT_WORKER_THREADS=1:
#
#   /usr/bin/time -f '%U %S %M' env H2CLIENT_WORKER_THREADS=1 h2bench -n N -c1 -m100  URL
#   /usr/bin/time -f '%U %S %M' env H2CLIENT_WORKER_THREADS=1 h2bench -n N -c1 -m1000 URL
#
# alternating, R rounds each (default N=200000, R=3). Prints each run's client CPU time
# (user+sys) per request in microseconds, req/s and max RSS, the medians, and the ratio
# CPU/request at -m1000 over -m100, per round and of the medians (target <= 1.2: a deeper
# pipeline must not make each request dearer). Both processes run at nice -5 unless
# --no-nice (other work on the machine makes the absolute figures noisy; the ratio within a
# round is what matters). Exit status 1 if a request failed or the ratio of the medians is
# over 1.2. --no-build: use target/release/libh2client.so as it is (default: cargo build
# --release --lib first). Everything started is stopped by PID on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=200000
ROUNDS=3
NICE=(nice -n -5)
TARGET=1.2
BUILD=1

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
    case $1 in
    -n) N=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --no-nice) NICE=() ;;
    --no-build) BUILD=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "scale.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if ((${#NICE[@]})) && ! "${NICE[@]}" true 2>/dev/null; then
    echo "scale.sh: nice -n -5 not permitted; running at the default priority" >&2
    NICE=()
fi
for t in nghttpd gcc taskset curl; do
    command -v $t >/dev/null || { echo "scale.sh: $t is missing" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "scale.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

log() { printf '[scale %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/h2scale.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# CPUs: the client on the first allowed one, the server on the second.
cpus=()
IFS=, read -ra ranges <<<"$(taskset -cp $$ | sed 's/.*: *//')"
for r in "${ranges[@]}"; do
    if [[ $r == *-* ]]; then
        for ((i = ${r%-*}; i <= ${r#*-}; i++)); do cpus+=("$i"); done
    else
        cpus+=("$r")
    fi
done
CLIENT_CPU=${cpus[0]}
SERVER_CPU=${cpus[1]:-${cpus[0]}}

# h2bench against the default release build of the library (glibc malloc; mimalloc before
# 2026-12-07).
LIB=$ROOT/target/release/libh2client.so
if ((BUILD)) || [[ ! -e $LIB ]]; then
    log "cargo build --release --lib"
    (cd "$ROOT" && cargo build --release --lib) >&2
fi
mkdir -p "$TMP/lib"
ln -sfn "$LIB" "$TMP/lib/libh2client.so.0"
H2BENCH=$TMP/h2bench
gcc -std=c11 -O2 -Wall -Wextra -Werror -I "$ROOT/include" "$ROOT/c-examples/h2bench.c" \
    -L "$ROOT/target/release" -lh2client -Wl,-rpath,"$TMP/lib" -lpthread -lm -o "$H2BENCH"

# nghttpd with 1000 concurrent streams per connection.
mkdir -p "$TMP/doc"
head -c 1024 /dev/urandom >"$TMP/doc/1kib"
PORT=
for p in $(shuf -i 20000-60999 -n 100); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[[ -n $PORT ]] || { echo "scale.sh: no free port" >&2; exit 1; }
SERVER_CMD="${NICE[*]} taskset -c $SERVER_CPU nghttpd --no-tls -n 1 --max-concurrent-streams=1000 -d DOCROOT $PORT"
"${NICE[@]}" taskset -c "$SERVER_CPU" nghttpd --no-tls -n 1 --max-concurrent-streams=1000 \
    -d "$TMP/doc" "$PORT" >"$TMP/nghttpd.log" 2>&1 &
PIDS+=($!)
URL=http://127.0.0.1:$PORT/1kib
for ((i = 0; i < 100; i++)); do
    curl -s --http2-prior-knowledge -o /dev/null --max-time 1 "$URL" && break
    kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$TMP"/*.log >&2; echo "scale.sh: nghttpd died" >&2; exit 1; }
    sleep 0.1
done
SERVER_LIMIT=unknown
if command -v nghttp >/dev/null; then
    SERVER_LIMIT=$(nghttp -nv "$URL" 2>/dev/null |
        sed -n 's/.*SETTINGS_MAX_CONCURRENT_STREAMS(0x03):\([0-9]*\).*/\1/p' | head -1)
fi
log "nghttpd on $URL (SETTINGS_MAX_CONCURRENT_STREAMS ${SERVER_LIMIT:-unknown}); client CPU $CLIENT_CPU, server CPU $SERVER_CPU"

RECORDS=$TMP/records # m round cpu_us_per_req reqps rss_kib failed
: >"$RECORDS"
BAD=0
run_one() { # M ROUND
    local m=$1 round=$2 out=$TMP/out tf=$TMP/time rc=0
    "${NICE[@]}" /usr/bin/time -f '%U %S %M' -o "$tf" \
        env H2CLIENT_WORKER_THREADS=1 taskset -c "$CLIENT_CPU" "$H2BENCH" -n "$N" -c1 -m"$m" "$URL" \
        >"$out" 2>&1 || rc=$?
    local ok failed reqps cpu rss
    ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded, \([0-9]*\) failed.*/\1/p' "$out")
    failed=$(sed -n 's/^requests: .* \([0-9]*\) succeeded, \([0-9]*\) failed.*/\2/p' "$out")
    reqps=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' "$out")
    read -r cpu rss < <(awk 'NF==3 && $1 ~ /^[0-9.]+$/ {printf "%.3f %d\n", $1+$2, $3}' "$tf")
    if ((rc != 0)) || [[ -z $ok || $ok != "$N" || ${failed:-1} != 0 ]]; then
        log "FAILED: -m$m round $round (exit $rc):"
        tail -8 "$out" >&2
        BAD=1
    fi
    local us
    us=$(awk -v c="$cpu" -v n="$N" 'BEGIN { printf "%.3f", c * 1e6 / n }')
    echo "$m $round $us ${reqps:-0} ${rss:-0} ${failed:-?}" >>"$RECORDS"
    log "  -m$m round $round: $us us CPU/request, ${reqps:-?} req/s, max RSS ${rss:-?} KiB, failed ${failed:-?}"
}

START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= ROUNDS; r++)); do
    run_one 100 "$r"
    run_one 1000 "$r"
done
END_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$RECORDS"; }

echo "h2client per-request CPU at -m1000 vs -m100 (benches/scale.sh)"
echo "date:      $(date '+%Y-%m-%d %H:%M:%S %Z')"
echo "commit:    $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "machine:   nproc $(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "load avg:  $START_LOAD at the start, $END_LOAD at the end"
echo "server:    $SERVER_CMD (SETTINGS_MAX_CONCURRENT_STREAMS ${SERVER_LIMIT:-unknown}), 1 KiB file"
echo "client:    ${NICE[*]} /usr/bin/time -f '%U %S %M' env H2CLIENT_WORKER_THREADS=1 taskset -c $CLIENT_CPU h2bench -n $N -c1 -m{100,1000} $URL"
echo "           (h2bench: gcc -O2 c-examples/h2bench.c -lh2client against target/release, default build)"
echo
printf '%-6s %-6s %14s %12s %12s %7s\n' round "-m" "CPU us/req" "req/s" "max RSS KiB" failed
sort -k2,2n -k1,1n "$RECORDS" | awk '{ printf "%-6s %-6s %14s %12s %12s %7s\n", $2, $1, $3, $4, $5, $6 }'
echo
for ((r = 1; r <= ROUNDS; r++)); do
    a=$(awk -v r="$r" '$1 == 100 && $2 == r { print $3 }' "$RECORDS")
    b=$(awk -v r="$r" '$1 == 1000 && $2 == r { print $3 }' "$RECORDS")
    awk -v a="$a" -v b="$b" -v r="$r" 'BEGIN { printf "round %d: ratio -m1000/-m100 = %.3f\n", r, b / a }'
done
M100=$(col 100 3 | median)
M1000=$(col 1000 3 | median)
RATIO=$(awk -v a="$M100" -v b="$M1000" 'BEGIN { printf "%.3f", b / a }')
echo "median CPU us/request: -m100 $M100, -m1000 $M1000; ratio $RATIO (target <= $TARGET)"
echo "median req/s: -m100 $(col 100 4 | median), -m1000 $(col 1000 4 | median)"
echo "median max RSS KiB: -m100 $(col 100 5 | median), -m1000 $(col 1000 5 | median)"
if ((BAD)); then
    echo "FAIL: some requests failed"
    exit 1
fi
if awk -v x="$RATIO" -v t="$TARGET" 'BEGIN { exit !(x > t) }'; then
    echo "FAIL: ratio $RATIO over the target $TARGET"
    exit 1
fi
echo "PASS"
