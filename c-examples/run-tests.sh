#!/usr/bin/env bash
# Tests the C examples (build/get, get-static, h2get, threads, poll, stream, cancel, fork,
# lifetimes) and the C++ binding's programs (build/get-cpp, cpp_test, cpp_test-noexcept)
# against h2testserver.
# Prints TAP-like "ok - NAME" / "not ok - NAME" lines; exits 1 if any check failed.
#
#   VALGRIND=1   run each C program under valgrind (smaller counts); a run whose log lacks
#                "ERROR SUMMARY: 0 errors" fails its own "valgrind clean" check. Of the HTTPS
#                checks only a few run under valgrind (TLS handshakes are slow there), with
#                valgrind.supp (false positives in rustls/ring's crypto, explained there).
#                Under make SANITIZE=address, LeakSanitizer runs without suppressions: the
#                programs must exit without a leak report, with or without h2_global_cleanup
#   BUILD=DIR    where the programs are (default build)
#
# The big-body checks (100 MiB through h2get, 50 MB and 64 MiB through stream) need about
# 600 MB in $TMPDIR; under VALGRIND=1 they run with small sizes.
set -euo pipefail

cd "$(dirname "$0")"
BUILD=${BUILD:-build}
SERVER_BIN=${SERVER_BIN:-../target/release/h2testserver}
VALGRIND=${VALGRIND:-}
[[ $VALGRIND == 0 ]] && VALGRIND=
SANITIZED=
ldd "$BUILD/h2get" 2>/dev/null | grep -q 'lib[a-z]*san\.so' && SANITIZED=1
if [[ -n $VALGRIND && -n $SANITIZED ]]; then
    echo "Bail out! VALGRIND=1 cannot run sanitizer builds (rebuild with make, without SANITIZE)"
    exit 1
fi
# Peak-RSS limits are checked only in plain runs: under a sanitizer every allocation, the
# library's included (it uses malloc), goes through ASan's allocator, whose quarantine keeps
# freed memory (up to 256 MiB) and whose redzones and shadow memory inflate the rest.
MEASURE_RSS=1
[[ -n $VALGRIND || -n $SANITIZED ]] && MEASURE_RSS=

for p in get get-static h2get threads poll stream cancel fork h2bench lifetimes; do
    [[ -x $BUILD/$p ]] || { echo "Bail out! $BUILD/$p not built (run make)"; exit 1; }
done
[[ -x $SERVER_BIN ]] || { echo "Bail out! $SERVER_BIN not built (run make)"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/h2c-tests.XXXXXX")
# shellcheck source=test-servers.sh
. ./test-servers.sh
cleanup() {
    stop_servers
    rm -rf "$TMP"
}
trap cleanup EXIT

passed=0
failed=0
failed_names=()
vg_runs=0
vg_clean=0

ok() {
    echo "ok - $1"
    passed=$((passed + 1))
}

not_ok() {
    echo "not ok - $1"
    failed=$((failed + 1))
    failed_names+=("$1")
}

# Diagnostics about the last run (`#`-prefixed, as TAP comments).
show_run() {
    echo "# command: ${last_cmd}"
    echo "# exit status: $rc"
    if [[ -s $TMP/out ]]; then
        echo "# stdout (first 10 lines, made printable):"
        head -c 2000 "$TMP/out" | cat -v | head -n 10 | sed 's/^/#   /'
    fi
    if ((rc > 128 && rc != 255)); then
        echo "# (exit status $rc: killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo '?'))"
    fi
    if [[ -s $TMP/err ]]; then
        echo "# stderr (first 20 lines):"
        head -c 4000 "$TMP/err" | cat -v | head -n 20 | sed 's/^/#   /'
    fi
}

# check NAME EXPR: evaluates EXPR (about the last run) and reports.
check() {
    if eval "$2"; then
        ok "$1"
    else
        not_ok "$1"
        echo "# failed condition: $2"
        show_run
    fi
}

# run PROG ARGS...: runs $BUILD/PROG (under valgrind if asked; in directory $RUN_DIR if set,
# else here) with stdout in $TMP/out and
# stderr in $TMP/err, its exit status in $rc and its wall time (ms) in $elapsed_ms. Never
# fails itself; a run that exceeds its time limit gets rc 124. With INT_AFTER=SECONDS, the
# program gets a SIGINT after that long instead (timeout --preserve-status -s INT: rc is the
# program's own). With RSS=1 (not under valgrind) its peak RSS in KiB goes to $rss_kb, from
# /usr/bin/time, if installed (else rss_kb is empty).
# run_native PROG ARGS...: the same, never under valgrind.
run() {
    local prog=$1
    shift
    local bin=$BUILD/$prog
    [[ $bin == /* ]] || bin=$PWD/$bin
    local -a cmd=("$bin" "$@")
    local limit=60 vglog=""
    if [[ -n $VALGRIND && -z ${NO_VALGRIND:-} ]]; then
        vg_runs=$((vg_runs + 1))
        vglog=$TMP/valgrind-$vg_runs.log
        # 40 callers: the suppressions match frames (rustls's record buffer, the runtime's
        # build) that sit deeper than valgrind's default 12 in some stacks.
        cmd=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1
            --num-callers=40 --suppressions="$PWD/valgrind.supp" --log-file="$vglog" "${cmd[@]}")
        limit=300
    fi
    rss_kb=""
    rm -f "$TMP/rss"
    if [[ -n ${RSS:-} && -z $vglog && -x /usr/bin/time ]]; then
        cmd=(/usr/bin/time -f %M -o "$TMP/rss" "${cmd[@]}")
    fi
    local -a tmo=(timeout -k 5 "$limit")
    [[ -n ${INT_AFTER:-} ]] && tmo=(timeout -k 10 --preserve-status -s INT "$INT_AFTER")
    last_cmd="${cmd[*]}"
    local t0 t1
    t0=$(date +%s%N)
    rc=0
    (cd "${RUN_DIR:-.}" && exec "${tmo[@]}" "${cmd[@]}") <"${STDIN_FILE:-/dev/null}" >"$TMP/out" \
        2>"$TMP/err" || rc=$?
    t1=$(date +%s%N)
    elapsed_ms=$(((t1 - t0) / 1000000))
    [[ -s $TMP/rss ]] && rss_kb=$(tail -n 1 "$TMP/rss")
    if [[ -n $vglog ]]; then
        local name="valgrind clean: $prog $* (${elapsed_ms} ms)"
        if grep -q "ERROR SUMMARY: 0 errors" "$vglog" 2>/dev/null; then
            vg_clean=$((vg_clean + 1))
            ok "$name"
        else
            not_ok "$name"
            head -n 80 "$vglog" | sed "s/^/#   /"
        fi
        grep -h "ERROR SUMMARY\|definitely lost" "$vglog" | sed 's/^==[0-9]*== */# /' >>"$TMP/vg-summary"
    fi
    return 0
}

run_native() {
    NO_VALGRIND=1 run "$@"
}

# The body of a "HEAD\n\nBODY" output (get's format) or "HEAD\r\n\r\nBODY" (h2get -i's, as
# curl's).
body_of() {
    python3 -c 'import sys, re; d = open(sys.argv[1], "rb").read(); p = re.split(rb"\r?\n\r?\n", d, maxsplit=1); sys.stdout.buffer.write(p[1] if len(p) > 1 else b"")' "$1"
}

# has_line FILE LINE: FILE has LINE, with or without a CR before its newline.
has_line() {
    grep -aqxF -- "$2" <(tr -d '\r' <"$1")
}

# pattern N: the test server's /bytes/N body (byte i is 'a' + i % 26).
pattern() {
    python3 -c 'import sys; n = int(sys.argv[1]); sys.stdout.buffer.write((b"abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n])' "$1"
}

# is_prefix FILE N: FILE is a prefix of the /bytes/N pattern, non-empty and shorter than it.
is_prefix() {
    python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); n = int(sys.argv[2]); sys.exit(0 if 0 < len(d) < n and d == (b"abcdefghijklmnopqrstuvwxyz" * (len(d) // 26 + 1))[:len(d)] else 1)' "$1" "$2"
}

# A free port with nothing listening on it.
closed_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_server URL

if [[ -n $VALGRIND ]]; then
    T_THREADS=8 N_REQS=20 C_THREADS=4 C_REQS=10 M_THREADS=16 M_REQS=5
    # poll, stream, h2get streaming: small sizes; SIGINT later (valgrind starts slowly).
    POLL_N=50 POLL_C=10 DL_SIZE=1000000 UP_SIZE=$((1 << 20)) BIG=2000000 UP_BIG=$((1 << 20))
    INT_DELAY=4 CANCEL_LIMIT=3000
else
    T_THREADS=64 N_REQS=1000 C_THREADS=8 C_REQS=200 M_THREADS=64 M_REQS=50
    POLL_N=1000 POLL_C=100 DL_SIZE=50000000 UP_SIZE=$((64 << 20)) BIG=104857600
    UP_BIG=$((20 << 20)) INT_DELAY=0.5 CANCEL_LIMIT=1000
fi

pattern 100000 >"$TMP/bytes100000"
{ pattern 10; pattern 20; pattern 30; } >"$TMP/bytes10-20-30"
python3 -c 'import os, sys; sys.stdout.buffer.write(os.urandom(1 << 20))' >"$TMP/mib"

# ---- get ------------------------------------------------------------------------------
run get "$URL/"
check "get /: status 200" '[[ $rc == 0 && $(head -n 1 "$TMP/out") == "HTTP/2 200" ]]'
check "get /: headers, blank line, hello body" \
    'grep -qx "content-length: 24" "$TMP/out" && [[ "$(body_of "$TMP/out")" == "hello from h2testserver" ]]'

run get "$URL/bytes/100000"
body_of "$TMP/out" >"$TMP/body"
check "get /bytes/100000: body matches the pattern" '[[ $rc == 0 ]] && cmp -s "$TMP/body" "$TMP/bytes100000"'

run get-static "$URL/bytes/100000"
body_of "$TMP/out" >"$TMP/body"
check "get-static /bytes/100000: body matches the pattern" \
    '[[ $rc == 0 ]] && cmp -s "$TMP/body" "$TMP/bytes100000"'
check "get-static does not load libh2client.so" '! ldd "$BUILD/get-static" | grep -q libh2client'

run get "$URL/status/404"
check "get /status/404: exit 0, status 404" '[[ $rc == 0 && $(head -n 1 "$TMP/out") == "HTTP/2 404" ]]'

run get "http://127.0.0.1:$(closed_port)/"
check "get on a closed port: exit 1, get: H2_E_CONNECT: ..." \
    '[[ $rc == 1 ]] && grep -q "^get: H2_E_CONNECT: " "$TMP/err"'

# The examples hand the whole URL to the library (h2_request_new_url), which parses it.
run get "$URL?x#fragment"
check "get URL?query#fragment: the library adds the / path and drops the fragment" \
    '[[ $rc == 0 ]] && [[ "$(body_of "$TMP/out")" == "hello from h2testserver" ]]'

run get "ftp://127.0.0.1/"
check "get ftp://: exit 1, get: H2_E_INVALID_URL: ... unsupported scheme" \
    '[[ $rc == 1 && ! -s $TMP/out ]] && grep -q "^get: H2_E_INVALID_URL: .*unsupported scheme" "$TMP/err"'

# ---- h2get ----------------------------------------------------------------------------
run h2get -P 3 "$URL/bytes/10" "$URL/bytes/20" "$URL/bytes/30"
check "h2get 3 URLs -P 3: bodies concatenated in URL order" \
    '[[ $rc == 0 && ! -s $TMP/err ]] && cmp -s "$TMP/out" "$TMP/bytes10-20-30"'

run h2get "$URL/delay/300" "$URL/bytes/10" "$URL/delay/100"
printf 'delayed 300\nabcdefghijdelayed 100\n' >"$TMP/expected"
check "h2get: URL order kept when later URLs finish first" \
    '[[ $rc == 0 ]] && cmp -s "$TMP/out" "$TMP/expected"'

run h2get -P 1 "$URL/bytes/10" "$URL/bytes/20" "$URL/bytes/30"
check "h2get -P 1: same bytes" '[[ $rc == 0 ]] && cmp -s "$TMP/out" "$TMP/bytes10-20-30"'

# -o and -O go with the URLs in order (as in curl); the URLs without one write to stdout.
run h2get -o "$TMP/o.bin" "$URL/bytes/10" "$URL/bytes/20" -o - "$URL/bytes/30" -o "$TMP/o3.bin"
check "h2get -o FILE URL URL -o - URL -o FILE: the n-th -o for the n-th URL" \
    '[[ $rc == 0 && "$(cat "$TMP/out")" == "abcdefghijklmnopqrst" && "$(cat "$TMP/o.bin")" == abcdefghij && "$(cat "$TMP/o3.bin")" == "$(pattern 30)" ]]'

rm -f "$TMP/7"
RUN_DIR=$TMP run h2get -O "$URL/bytes/7?q=1"
check "h2get -O: the body in a file named as the URL's last path segment" \
    '[[ $rc == 0 && ! -s $TMP/out && "$(cat "$TMP/7")" == abcdefg ]]'

run h2get -O "$URL/"
check "h2get -O on a URL without a file name: exit 23, nothing written" \
    '[[ $rc == 23 && ! -s $TMP/out ]] && grep -q ": H2_E_INVALID_ARGUMENT: -O: the URL has no file name" "$TMP/err"'

run h2get -i "$URL/bytes/10"
check "h2get -i: status line, headers, blank line, body, as curl writes them (CRLF)" \
    '[[ $rc == 0 && $(head -n 1 "$TMP/out") == $'\''HTTP/2 200 \r'\'' ]] && grep -qx $'\''content-length: 10\r'\'' "$TMP/out" && [[ "$(body_of "$TMP/out")" == abcdefghij ]]'

run h2get -I "$URL/bytes/10"
check "h2get -I: HEAD, the head alone" \
    '[[ $rc == 0 ]] && [[ "$(cat "$TMP/out")" == $'\''HTTP/2 200 \r\ncontent-type: application/octet-stream\r\ncontent-length: 10\r\n\r'\'' ]]'

run h2get -D "$TMP/head.txt" -w '%{http_code} %{size_download} %{size_header} %{num_headers} %{content_type}|%header{content-length}\n' "$URL/bytes/10" "$URL/status/404"
check "h2get -D FILE -w: both heads in FILE, the -w line after each body" \
    '[[ $rc == 0 && "$(cat "$TMP/out")" == "abcdefghij200 10 75 2 application/octet-stream|10"$'\''\n'\''"404 0 34 1 |0" && $(grep -c "^HTTP/2 " "$TMP/head.txt") == 2 ]]'

run h2get -s -f -w '%{http_code} %{exitcode} %{errormsg}\n' "$URL/status/404" "$URL/bytes/3"
check "h2get -f, a 404 then a 200: exit 0 (the last URL's), nothing of the 404, -w for both" \
    '[[ $rc == 0 && ! -s $TMP/err && "$(cat "$TMP/out")" == "404 22 The requested URL returned error: 404"$'\''\n'\''"abc200 0 " ]]'

run h2get -f "$URL/bytes/3" "$URL/status/404"
check "h2get -f, a 200 then a 404: exit 22, h2get: URL: HTTP 404: ..." \
    '[[ $rc == 22 && "$(cat "$TMP/out")" == abc ]] && grep -q "^h2get: http://[^ ]*/status/404: HTTP 404: " "$TMP/err"'

run h2get --fail-early -f "$URL/status/500" "$URL/bytes/3"
check "h2get --fail-early -f: stops at the 500, exit 22" '[[ $rc == 22 && ! -s $TMP/out ]]'

run h2get -w '%{nope}%{http_code}\n' "$URL/bytes/1"
check "h2get -w with an unknown variable: a warning, the rest written" \
    '[[ $rc == 0 && "$(cat "$TMP/out")" == a200 ]] && grep -q "^h2get: warning: unknown --write-out variable: .nope." "$TMP/err"'

run h2get "127.0.0.1:${URL##*:}/bytes/4"
check "h2get HOST:PORT/PATH (no scheme): http:// is guessed, as curl does" '[[ $rc == 0 && "$(cat "$TMP/out")" == abcd ]]'

run h2get -d hello -X POST "$URL/echo"
check "h2get -d hello -X POST /echo: echoes hello" '[[ $rc == 0 && "$(cat "$TMP/out")" == hello ]]'

run h2get -i -d hello "$URL/echo"
check "h2get -d without -X: method POST, form content-type, accept */*" \
    '[[ $rc == 0 ]] && has_line "$TMP/out" "x-echo-method: POST" && has_line "$TMP/out" "x-echo-h-content-type: application/x-www-form-urlencoded" && has_line "$TMP/out" "x-echo-h-accept: */*"'

printf 'a=1\nb=2\r\n' >"$TMP/form"
run h2get -d "@$TMP/form" "$URL/echo"
check "h2get -d @FILE: CR and LF dropped, as curl does" '[[ $rc == 0 && "$(cat "$TMP/out")" == a=1b=2 ]]'

run h2get --data-binary "@$TMP/mib" "$URL/echo"
check "h2get --data-binary @FILE (1 MiB): echoed byte-exactly" '[[ $rc == 0 ]] && cmp -s "$TMP/out" "$TMP/mib"'

STDIN_FILE=$TMP/mib run h2get --data-binary @- "$URL/echo"
check "h2get --data-binary @- (stdin): echoed byte-exactly" '[[ $rc == 0 ]] && cmp -s "$TMP/out" "$TMP/mib"'

run h2get -T "$TMP/mib" "$URL/echo"
check "h2get -T FILE: PUT, echoed byte-exactly" '[[ $rc == 0 ]] && cmp -s "$TMP/out" "$TMP/mib"'

run h2get -w '%{http_code} %{exitcode}\n' -d @/nonexistent/file "$URL/echo"
check "h2get -d @missing-file: exit 26 (curl's read error), -w written" \
    '[[ $rc == 26 && "$(cat "$TMP/out")" == "000 26" ]] && grep -q ": H2_E_INVALID_ARGUMENT: -d @/nonexistent/file: " "$TMP/err"'

run h2get -i -H 'x-a: b' -H 'X-Two:   spaced value' -H 'Accept:' -H 'X-Empty;' -A agent/1 -e https://from/ -u 'alice:s3cret' "$URL/echo"
check "h2get -H (added, removed with 'N:', empty with 'N;'), -A, -e, -u" \
    '[[ $rc == 0 ]] && has_line "$TMP/out" "x-echo-h-x-a: b" && has_line "$TMP/out" "x-echo-h-x-two: spaced value" && ! grep -q x-echo-h-accept "$TMP/out" && has_line "$TMP/out" "x-echo-h-x-empty: " && has_line "$TMP/out" "x-echo-h-user-agent: agent/1" && has_line "$TMP/out" "x-echo-h-referer: https://from/" && has_line "$TMP/out" "x-echo-h-authorization: Basic YWxpY2U6czNjcmV0"'

run h2get -i "$URL/echo"
check "h2get: user-agent h2get/VERSION by default" \
    '[[ $rc == 0 ]] && grep -Eqx $'\''x-echo-h-user-agent: h2get/[0-9]+\\.[0-9]+\\.[0-9]+.*\r'\'' "$TMP/out"'

run h2get -v "$URL/"
check "h2get -v: '* Connected to', the request as curl -v shows it for HTTP/2" \
    '[[ $rc == 0 ]] && grep -Eq "^\* Connected to 127\.0\.0\.1 \(127\.0\.0\.1\) port [0-9]+ \(#[0-9]+\)$" "$TMP/err" && grep -qx "\* \[HTTP/2\] \[1\] \[:method: GET\]" "$TMP/err" && grep -qx "\* \[HTTP/2\] \[1\] \[:path: /\]" "$TMP/err" && grep -qx "> GET / HTTP/2" "$TMP/err" && grep -Eqx "> Host: 127\.0\.0\.1:[0-9]+" "$TMP/err" && grep -qx "> accept: \*/\*" "$TMP/err" && grep -qx "> " "$TMP/err"'
check "h2get -v: < response lines" \
    'grep -qx "< HTTP/2 200 " "$TMP/err" && grep -qx "< content-length: 24" "$TMP/err" && grep -qx "< " "$TMP/err"'
check "h2get -v: body alone on stdout" '[[ "$(cat "$TMP/out")" == "hello from h2testserver" ]]'

# -L: redirects are followed only when asked, up to --max-redirs.
run h2get "$URL/redirect/302?to=%2Fbytes%2F10"
check "h2get without -L: the 302's own body" '[[ $rc == 0 && "$(cat "$TMP/out")" == redirect ]]'
run h2get -L "$URL/redirect/302?to=%2Fbytes%2F10"
check "h2get -L: follows 302 to /bytes/10" '[[ $rc == 0 && "$(cat "$TMP/out")" == abcdefghij ]]'
run h2get -i -L -d hello -w '%{num_redirects} %{url_effective}' "$URL/redirect/307?to=%2Fecho"
check "h2get -L -d: 307 re-sends the POST and its body; -w num_redirects, url_effective" \
    '[[ $rc == 0 ]] && has_line "$TMP/out" "HTTP/2 200 " && has_line "$TMP/out" "x-echo-method: POST" && [[ "$(tail -n 1 "$TMP/out")" == "hello1 $URL/echo" ]]'
run h2get -L --max-redirs 1 "$URL/redirect/301?to=%2Fredirect%2F302%3Fto%3D%252Fbytes%252F10"
check "h2get -L --max-redirs 1, two redirects: exit 47, H2_E_TOO_MANY_REDIRECTS" \
    '[[ $rc == 47 ]] && grep -q ": H2_E_TOO_MANY_REDIRECTS: too many redirects (more than 1): " "$TMP/err"'
run h2get -L --max-redirs 0 "$URL/redirect/302?to=%2Fbytes%2F10"
check "h2get -L --max-redirs 0 on a redirect: exit 47, no body" '[[ $rc == 47 && ! -s $TMP/out ]]'

run h2get -v -i "$URL/trailers"
check "h2get /trailers: trailers on stderr with -v, not on stdout" \
    '[[ $rc == 0 ]] && grep -qx "< x-trailer-one: 1" "$TMP/err" && grep -qx "< x-trailer-two: two" "$TMP/err" && ! grep -q x-trailer "$TMP/out"'

run h2get "$URL/status/503"
check "h2get /status/503: exit 0 (any HTTP status is a response)" '[[ $rc == 0 ]]'

# ---- h2get: streamed bodies -------------------------------------------------------------
# Bodies go to the output as they arrive (h2_call_read), uploads from --data-binary @FILE and
# -T FILE stream from the file (h2_call_write): memory stays bounded whatever the size.
pattern "$BIG" >"$TMP/big"
RSS=1 run h2get -o "$TMP/big.out" "$URL/bytes/$BIG"
check "h2get -o FILE /bytes/$BIG: byte-exact" \
    '[[ $rc == 0 && ! -s $TMP/out && ! -s $TMP/err ]] && cmp -s "$TMP/big.out" "$TMP/big"'
if [[ -n $MEASURE_RSS && -n $rss_kb ]]; then
    check "h2get /bytes/$BIG: peak RSS under 32 MiB (${rss_kb} KiB)" '(( rss_kb < 32768 ))'
fi
rm -f "$TMP/big.out"

python3 -c 'import os, sys; sys.stdout.buffer.write(os.urandom(int(sys.argv[1])))' "$UP_BIG" >"$TMP/upbig"
RSS=1 run h2get -o "$TMP/upbig.out" --data-binary "@$TMP/upbig" "$URL/echo"
check "h2get --data-binary @FILE ($UP_BIG bytes) to /echo: echoed byte-exactly" \
    '[[ $rc == 0 && ! -s $TMP/err ]] && cmp -s "$TMP/upbig.out" "$TMP/upbig"'
if [[ -n $MEASURE_RSS && -n $rss_kb ]]; then
    check "h2get --data-binary @FILE ($UP_BIG bytes): peak RSS under 32 MiB (${rss_kb} KiB)" \
        '(( rss_kb < 32768 ))'
fi
rm -f "$TMP/upbig.out"

run h2get -i --data-binary "@$TMP/mib" "$URL/echo"
check "h2get --data-binary @FILE: content-length sent with the streamed body" \
    '[[ $rc == 0 ]] && has_line "$TMP/out" "x-echo-h-content-length: 1048576"'

printf 'x' >"$TMP/x"
run h2get -d a -d "@$TMP/x" -d b "$URL/echo"
check "h2get -d a -d @FILE -d b: parts joined with '&' (a&x&b)" \
    '[[ $rc == 0 && "$(cat "$TMP/out")" == "a&x&b" ]]'

run h2get -P 3 --data-binary "@$TMP/mib" "$URL/echo" "$URL/echo" "$URL/echo"
cat "$TMP/mib" "$TMP/mib" "$TMP/mib" >"$TMP/mib3"
check "h2get -P 3 --data-binary @FILE, 3 URLs: each upload echoed, in URL order" \
    '[[ $rc == 0 ]] && cmp -s "$TMP/out" "$TMP/mib3"'

if [[ -z $VALGRIND ]]; then
    # Later URLs are started but read only in their turn: their windows fill and the server
    # waits. Bodies larger than a stream window (4 MiB) check that nothing deadlocks.
    { pattern 20000000; pattern 10; pattern 20000000; } >"$TMP/big3"
    RSS=1 run h2get -P 3 "$URL/bytes/20000000" "$URL/bytes/10" "$URL/bytes/20000000"
    check "h2get -P 3, three URLs, two of 20 MB: bodies in URL order on stdout, byte-exact" \
        '[[ $rc == 0 ]] && cmp -s "$TMP/out" "$TMP/big3"'
    rm -f "$TMP/out" "$TMP/big3"
fi

# SIGINT: the signal thread cancels the calls; blocked reads return H2_E_CANCELED.
SLOW=/slow-bytes/1000000/1000/10 # 1000 pieces 10 ms apart: 10 s
INT_AFTER=$INT_DELAY run h2get "$URL$SLOW"
check "h2get, SIGINT while downloading $SLOW: exit 130, H2_E_CANCELED" \
    '[[ $rc == 130 ]] && grep -Eq "^h2get: http://127\.0\.0\.1:[0-9]+$SLOW: H2_E_CANCELED: " "$TMP/err"'
check "h2get, SIGINT: the body so far was written as it arrived (a prefix of the pattern)" \
    'is_prefix "$TMP/out" 1000000'
if [[ -z $VALGRIND ]]; then
    check "h2get, SIGINT: exits promptly (${elapsed_ms} ms from the start, SIGINT at 500 ms)" \
        '(( elapsed_ms < 1500 ))'
fi

INT_AFTER=$INT_DELAY run_native h2get "$URL/bytes/10" "$URL$SLOW" "$URL/delay/30000"
check "h2get, SIGINT with 3 URLs: exit 130, one H2_E_CANCELED line per unfinished URL" \
    '[[ $rc == 130 && $(grep -c "H2_E_CANCELED" "$TMP/err") == 2 ]] && grep -q "$SLOW: H2_E_CANCELED" "$TMP/err" && grep -q "/delay/30000: H2_E_CANCELED" "$TMP/err" && [[ $(head -c 10 "$TMP/out") == abcdefghij ]]'

# ---- h2get failures --------------------------------------------------------------------
run h2get "$URL/reset/7"
check "h2get /reset/7: exit 56 (as curl), H2_E_REFUSED with REFUSED_STREAM" \
    '[[ $rc == 56 ]] && grep -Eq "^h2get: .*/reset/7: H2_E_REFUSED: .*REFUSED_STREAM" "$TMP/err"'

run h2get "$URL/reset/2"
check "h2get /reset/2: exit 92 (as curl), H2_E_STREAM_RESET with INTERNAL_ERROR" \
    '[[ $rc == 92 ]] && grep -Eq "^h2get: .*/reset/2: H2_E_STREAM_RESET: .*INTERNAL_ERROR" "$TMP/err"'

run h2get --timeout 100 "$URL/delay/3000"
check "h2get --timeout 100 /delay/3000: exit 28, H2_E_TIMEOUT, timed out" \
    '[[ $rc == 28 ]] && grep -Eq "^h2get: .*/delay/3000: H2_E_TIMEOUT: .*timed out" "$TMP/err"'
if [[ -z $VALGRIND ]]; then
    check "h2get --timeout 100: returns well before the 3 s delay" '(( elapsed_ms < 2000 ))'
fi

run h2get -m 0.2 -w '%{http_code} %{exitcode}\n' "$URL/delay/3000"
check "h2get -m 0.2 (fractional seconds) /delay/3000: exit 28, -w 000 28" \
    '[[ $rc == 28 && "$(cat "$TMP/out")" == "000 28" ]] && grep -q ": H2_E_TIMEOUT: " "$TMP/err"'

run h2get "http://127.0.0.1:$(closed_port)/"
check "h2get on a closed port: exit 7, H2_E_CONNECT, refused" \
    '[[ $rc == 7 ]] && grep -Eq "^h2get: http://127\.0\.0\.1:[0-9]+/: H2_E_CONNECT: .*refused" "$TMP/err"'

run h2get "$URL/bytes/5" "$URL/reset/2" "$URL/bytes/3"
check "h2get ok+failed+ok: exit 0 (the last URL's, as curl), the good bodies in order, one error line" \
    '[[ $rc == 0 && "$(cat "$TMP/out")" == abcdeabc && $(grep -c "^h2get: " "$TMP/err") == 1 ]]'

run h2get -s "$URL/bytes/5" "$URL/reset/2"
check "h2get -s ok+failed: exit 92, no error line" '[[ $rc == 92 && "$(cat "$TMP/out")" == abcde && ! -s $TMP/err ]]'

run h2get -sS "$URL/reset/2"
check "h2get -sS: the error line" '[[ $rc == 92 ]] && grep -q ": H2_E_STREAM_RESET: " "$TMP/err"'

run h2get --fail-early "$URL/reset/2" "$URL/bytes/3"
check "h2get --fail-early: stops at the reset, exit 92" '[[ $rc == 92 && ! -s $TMP/out ]]'

# ---- h2get usage errors ----------------------------------------------------------------
# error_lines: every stderr line of the last run is "h2get: [URL: ]H2_E_NAME: message", or
# the usage hint after one.
error_lines() {
    [[ -s $TMP/err ]] && ! grep -Evq -e "^Try 'h2get --help' for more information\.$" \
        -e '^h2get: (.+: )?H2_E_[A-Z_]+: .' "$TMP/err"
}

run h2get "$URL/bytes/3" "http://localhost:${URL##*:}/bytes/4"
check "h2get with two origins (127.0.0.1 and localhost): both fetched on one client, exit 0" \
    '[[ $rc == 0 ]] && [[ $(cat "$TMP/out") == abcabcd ]]'

run h2get --resolve "h2client.invalid:${URL##*:}:127.0.0.1" "http://h2client.invalid:${URL##*:}/bytes/3" \
    --connect-to "other.invalid:80:127.0.0.1:${URL##*:}" "http://other.invalid/bytes/4" --interface 127.0.0.1
check "h2get --resolve, --connect-to, --interface: names no DNS knows are fetched from 127.0.0.1" \
    '[[ $rc == 0 ]] && [[ $(cat "$TMP/out") == abcabcd ]]'

run h2get --unix-socket "$TMP/no-such.sock" "http://h2client.invalid/"
check "h2get --unix-socket with no socket there: exit 7, H2_E_CONNECT naming the path" \
    '[[ $rc == 7 ]] && error_lines && grep -q "H2_E_CONNECT: no Unix socket at $TMP/no-such.sock" "$TMP/err"'

run h2get --resolve "bad-entry" "$URL/"
check "h2get --resolve with a malformed entry: exit 2, H2_E_INVALID_ARGUMENT" \
    '[[ $rc == 2 ]] && error_lines && grep -q "H2_E_INVALID_ARGUMENT" "$TMP/err"'

run h2get "$URL/a" "https://127.0.0.1:${URL##*:}/b"
check "h2get with mixed schemes (https to an h2c server fails): exit 35 (TLS), the last URL's" '[[ $rc == 35 ]] && error_lines'

run h2get -H 'bad header: x' "$URL/"
check "h2get -H 'bad header: x' (refused by the library): exit 2, h2get: H2_E_INVALID_ARGUMENT: -H '...': ..." \
    '[[ $rc == 2 ]] && error_lines && grep -q "^h2get: H2_E_INVALID_ARGUMENT: -H '\''bad header: x'\'': h2_request_add_header: invalid header name" "$TMP/err"'

run h2get -H 'no-colon' "$URL/"
check "h2get -H without a colon: exit 2, h2get: H2_E_INVALID_ARGUMENT: -H '...': expected..." \
    '[[ $rc == 2 ]] && error_lines && grep -q "^h2get: H2_E_INVALID_ARGUMENT: -H '\''no-colon'\'': expected '\''name: value'\''" "$TMP/err"'

run h2get -X 'BAD METHOD' "$URL/"
check "h2get -X 'BAD METHOD': exit 2, H2_E_INVALID_ARGUMENT" \
    '[[ $rc == 2 ]] && error_lines && grep -q "H2_E_INVALID_ARGUMENT" "$TMP/err"'

run h2get --bogus "$URL/"
check "h2get --bogus: exit 2, h2get: H2_E_INVALID_ARGUMENT: unknown option, usage hint" \
    '[[ $rc == 2 ]] && error_lines && grep -q "^h2get: H2_E_INVALID_ARGUMENT: unknown option '\''--bogus'\''" "$TMP/err" && grep -q "h2get --help" "$TMP/err"'

run h2get -j "$URL/"
check "h2get -j (unknown): exit 2" '[[ $rc == 2 ]] && error_lines && grep -q "unknown option .-j." "$TMP/err"'

run h2get "$URL/" -X
check "h2get -X without a value: exit 2" \
    '[[ $rc == 2 ]] && error_lines && grep -q "needs a value" "$TMP/err"'

run h2get -P 0 "$URL/"
check "h2get -P 0: exit 2" '[[ $rc == 2 ]] && error_lines'

run h2get --timeout abc "$URL/"
check "h2get --timeout abc: exit 2" '[[ $rc == 2 ]] && error_lines'

run h2get -m -1 "$URL/"
check "h2get -m -1: exit 2" '[[ $rc == 2 ]] && error_lines'

run h2get -u alice "$URL/"
check "h2get -u USER without a password: exit 2 (no prompt)" '[[ $rc == 2 ]] && error_lines'

run h2get -I -d x "$URL/"
check "h2get -I -d: exit 2 (HEAD with a body)" '[[ $rc == 2 ]] && error_lines'

run h2get -T /nonexistent/file "$URL/echo"
check "h2get -T missing-file: exit 26, h2get: URL: H2_E_INVALID_ARGUMENT: -T FILE: ..." \
    '[[ $rc == 26 ]] && error_lines && grep -q ": H2_E_INVALID_ARGUMENT: -T /nonexistent/file: " "$TMP/err"'

run h2get -o /nonexistent/dir/out "$URL/"
check "h2get -o in a missing directory: exit 23, h2get: URL: H2_E_INVALID_ARGUMENT: -o FILE: ..." \
    '[[ $rc == 23 ]] && error_lines && grep -q ": H2_E_INVALID_ARGUMENT: /nonexistent/dir/out: cannot write: " "$TMP/err"'

run h2get
check "h2get without URL: exit 2, h2get: H2_E_INVALID_ARGUMENT: no URL given" \
    '[[ $rc == 2 ]] && error_lines && grep -q "^h2get: H2_E_INVALID_ARGUMENT: no URL given" "$TMP/err"'

run h2get 'http://exa mple/'
check "h2get 'http://exa mple/': exit 3, h2get: URL: H2_E_INVALID_URL (the library's URL parser)" \
    '[[ $rc == 3 ]] && error_lines && grep -q "^h2get: http://exa mple/: H2_E_INVALID_URL: invalid URL" "$TMP/err"'

run h2get "http://127.0.0.1:99999/"
check "h2get with an invalid port: exit 3, h2get: URL: H2_E_INVALID_URL: invalid port" \
    '[[ $rc == 3 ]] && error_lines && grep -q "^h2get: http://127\.0\.0\.1:99999/: H2_E_INVALID_URL: invalid URL .*: invalid port" "$TMP/err"'

run h2get "https://127.0.0.1:${URL##*:}/"
check "h2get https:// to the h2c server: exit 35, H2_E_TLS, says it is h2c: use http://" \
    '[[ $rc == 35 ]] && error_lines && grep -Eq "^h2get: https://127\.0\.0\.1:[0-9]+/: H2_E_TLS: server at 127\.0\.0\.1:[0-9]+ answered our TLS ClientHello with an HTTP/2 SETTINGS frame in cleartext: it speaks HTTP/2 without TLS \(h2c\); use http://$" "$TMP/err"'

run h2get --help
check "h2get --help: usage on stdout, exit 0" '[[ $rc == 0 ]] && grep -q "^usage: h2get" "$TMP/out"'

# ---- HTTPS (h2get; get has no option for a CA file) ------------------------------------
# Each server writes its certificates into its own --tls-dir. Under VALGRIND=1 only the
# checks using `run` (not `run_native`) run under valgrind.
mkdir -p "$TMP/tls" "$TMP/tls-mtls" "$TMP/tls-expired" "$TMP/tls-name" "$TMP/tls-alpn"
start_server TLS --tls --tls-dir "$TMP/tls"
start_server MTLS --tls --tls-dir "$TMP/tls-mtls" --require-client-cert
start_server EXPIRED --tls --tls-dir "$TMP/tls-expired" --tls-expired
start_server BADNAME --tls --tls-dir "$TMP/tls-name" --tls-name example.test
start_server ALPN11 --tls --tls-dir "$TMP/tls-alpn" --tls-alpn http/1.1
CA=$TLS_CA

run h2get --cacert "$CA" "$TLS/bytes/100000"
check "h2get --cacert https:// /bytes/100000: body byte-exact" \
    '[[ $rc == 0 && ! -s $TMP/err ]] && cmp -s "$TMP/out" "$TMP/bytes100000"'

run_native h2get -i --cacert "$CA" "$TLS/bytes/10"
check "h2get -i --cacert https://: HTTP/2 200, headers, body" \
    '[[ $rc == 0 ]] && has_line "$TMP/out" "HTTP/2 200 " && has_line "$TMP/out" "content-length: 10" && [[ "$(body_of "$TMP/out")" == abcdefghij ]]'

run_native h2get -P 3 --cacert "$CA" "$TLS/bytes/10" "$TLS/bytes/20" "$TLS/bytes/30"
check "h2get --cacert https:// 3 URLs -P 3: bodies in URL order" \
    '[[ $rc == 0 && ! -s $TMP/err ]] && cmp -s "$TMP/out" "$TMP/bytes10-20-30"'

run_native h2get -v --cacert "$CA" "$TLS/delay/300" "$TLS/bytes/10" "$TLS/delay/100"
printf 'delayed 300\nabcdefghijdelayed 100\n' >"$TMP/expected"
check "h2get --cacert https://: concurrent on one connection, URL order kept" \
    '[[ $rc == 0 ]] && cmp -s "$TMP/out" "$TMP/expected" && [[ $(grep -c "^\* Connected to " "$TMP/err") == 1 ]]'
check "h2get -v --cacert: '*  CAfile: FILE', the TLS version, cipher and ALPN on stderr" \
    'grep -qxF "*  CAfile: $CA" "$TMP/err" && grep -Eqx "\* SSL connection using TLSv1\.[23] / TLS[0-9A-Z_]+" "$TMP/err" && grep -qx "\* ALPN: server accepted h2" "$TMP/err"'


run_native h2get --cacert "$CA" "https://localhost:${TLS##*:}/"
check "h2get --cacert https://localhost:PORT/ (SNI, DNS name in the certificate): 200" \
    '[[ $rc == 0 && "$(cat "$TMP/out")" == "hello from h2testserver" ]]'

run h2get "$TLS/"
check "h2get https:// without --cacert: exit 60, H2_E_TLS, unknown CA" \
    '[[ $rc == 60 && ! -s $TMP/out ]] && grep -Eq "^h2get: https://127\.0\.0\.1:[0-9]+/: H2_E_TLS: .*unknown CA" "$TMP/err"'

run_native get "$TLS/"
check "get https:// (system CA store): exit 1, get: H2_E_TLS: ... unknown CA" \
    '[[ $rc == 1 ]] && grep -q "^get: H2_E_TLS: .*unknown CA" "$TMP/err"'

run_native h2get --cacert "$MTLS_CA" "$TLS/"
check "h2get --cacert OTHER-CA: exit 60, H2_E_TLS, unknown CA" \
    '[[ $rc == 60 ]] && grep -q "H2_E_TLS: .*unknown CA" "$TMP/err"'

run_native h2get -k "$TLS/bytes/10"
check "h2get -k https:// (no CA): succeeds, no warning without -v" \
    '[[ $rc == 0 && "$(cat "$TMP/out")" == abcdefghij && ! -s $TMP/err ]]'

run_native h2get --insecure -v "$TLS/bytes/10"
check "h2get --insecure -v: '* TLS: certificate verification DISABLED (-k)' on stderr" \
    '[[ $rc == 0 && "$(cat "$TMP/out")" == abcdefghij ]] && grep -qxF "* TLS: certificate verification DISABLED (-k)" "$TMP/err"'

# ---- h2get -x / --noproxy: through microsocks (SOCKS5 with a password) on loopback ----
MICROSOCKS=$(command -v microsocks || true)
if [[ -z $MICROSOCKS ]]; then
    echo "Bail out! microsocks not installed (scripts/check-deps.sh, or: sudo apt-get install --no-install-recommends microsocks)"
    exit 1
fi
SOCKS_PORT=""
for ((try = 0; try < 5; try++)); do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$MICROSOCKS" -i 127.0.0.1 -p "$port" -u h2 -P get >/dev/null 2>&1 &
    pid=$!
    server_pids+=("$pid")
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null; then
            sleep 0.05
            kill -0 "$pid" 2>/dev/null && SOCKS_PORT=$port
            break
        fi
        sleep 0.1
    done
    [[ -n $SOCKS_PORT ]] && break
done
[[ -n $SOCKS_PORT ]] || { echo "Bail out! microsocks did not start"; exit 1; }

run h2get -x "socks5h://h2:get@127.0.0.1:$SOCKS_PORT" --cacert "$CA" "https://localhost:${TLS##*:}/bytes/100000"
check "h2get -x socks5h://user:pass@... https://localhost: body byte-exact through the proxy" \
    '[[ $rc == 0 && ! -s $TMP/err ]] && cmp -s "$TMP/out" "$TMP/bytes100000"'

run_native h2get --proxy "socks5://h2:wrong@127.0.0.1:$SOCKS_PORT" "$URL/bytes/10"
check "h2get --proxy with a wrong password: exit 97 (curl's proxy handshake error), H2_E_PROXY" \
    '[[ $rc == 97 ]] && grep -q "H2_E_PROXY: .*rejected the user name and password" "$TMP/err" && ! grep -q wrong "$TMP/err"'

run_native h2get -x "socks5://h2:wrong@127.0.0.1:$SOCKS_PORT" --noproxy 127.0.0.1 "$URL/bytes/10"
check "h2get -x ... --noproxy 127.0.0.1: direct, succeeds" '[[ $rc == 0 && "$(cat "$TMP/out")" == abcdefghij ]]'

run_native h2get -x "gopher://127.0.0.1:1" "$URL/bytes/10"
check "h2get -x with an unsupported scheme: exit 7 (as curl), H2_E_INVALID_URL" \
    '[[ $rc == 7 ]] && grep -q "^h2get: H2_E_INVALID_URL: .*unsupported proxy scheme" "$TMP/err"'

https_proxy="socks5://h2:wrong@127.0.0.1:$SOCKS_PORT" run_native h2get -x "" --cacert "$CA" "$TLS/bytes/10"
check "h2get -x \"\": no proxy even if https_proxy names one" '[[ $rc == 0 && "$(cat "$TMP/out")" == abcdefghij ]]'

https_proxy="socks5://h2:wrong@127.0.0.1:$SOCKS_PORT" run_native h2get --cacert "$CA" "$TLS/bytes/10"
check "h2get without -x: https_proxy from the environment is used" \
    '[[ $rc == 97 ]] && grep -q "H2_E_PROXY" "$TMP/err"'

run_native h2get --cacert "$EXPIRED_CA" "$EXPIRED/"
check "h2get on an expired certificate: exit 60, H2_E_TLS, expired" \
    '[[ $rc == 60 ]] && grep -q "H2_E_TLS: .*expired" "$TMP/err"'

run_native h2get -k "$EXPIRED/bytes/10"
check "h2get -k on an expired certificate: succeeds" '[[ $rc == 0 && "$(cat "$TMP/out")" == abcdefghij ]]'

run_native h2get --cacert "$BADNAME_CA" "$BADNAME/"
check "h2get on a certificate for example.test: exit 60, H2_E_TLS, name mismatch" \
    '[[ $rc == 60 ]] && grep -q "H2_E_TLS: .*name mismatch" "$TMP/err"'

run_native h2get --cacert "$ALPN11_CA" "$ALPN11/"
check "h2get on a server with ALPN http/1.1 only: exit 35, H2_E_TLS, did not negotiate h2" \
    '[[ $rc == 35 ]] && grep -q "H2_E_TLS: .*did not negotiate h2" "$TMP/err"'

# The server rejects the handshake after the client has finished its part (TLS 1.3), so
# whether the client is writing when the connection closes is a race: try a few times.
for ((i = 0; i < 5; i++)); do
    run_native h2get --cacert "$MTLS_CA" "$MTLS/bytes/10"
    grep -q "H2_E_TLS: " "$TMP/err" && break
done
check "h2get on a server requiring a client certificate, without one: exit 35, H2_E_TLS (5 runs)" \
    '[[ $rc == 35 ]] && grep -q "^h2get: https://127\.0\.0\.1:[0-9]*/bytes/10: H2_E_TLS: " "$TMP/err"'

run h2get --cacert "$MTLS_CA" --cert "$MTLS_CERT" --key "$MTLS_KEY" "$MTLS/bytes/10"
check "h2get --cert --key (mutual TLS): 200" \
    '[[ $rc == 0 && "$(cat "$TMP/out")" == abcdefghij && ! -s $TMP/err ]]'

run_native h2get --cacert /nonexistent/ca.pem "$TLS/"
check "h2get --cacert /nonexistent/ca.pem: exit 77 (as curl), h2get: H2_E_TLS: ... the path" \
    '[[ $rc == 77 ]] && grep -q "^h2get: H2_E_TLS: .*/nonexistent/ca\.pem" "$TMP/err"'

run_native h2get --cacert "$TMP/bytes10-20-30" "$TLS/"
check "h2get --cacert NOT-PEM: exit 77, H2_E_TLS" \
    '[[ $rc == 77 ]] && grep -q "^h2get: H2_E_TLS: " "$TMP/err"'

run_native h2get --cert /nonexistent/cert.pem --key "$MTLS_KEY" "$MTLS/"
check "h2get --cert /nonexistent/cert.pem: exit 58 (as curl), H2_E_TLS with the path" \
    '[[ $rc == 58 ]] && grep -q "^h2get: H2_E_TLS: .*/nonexistent/cert\.pem" "$TMP/err"'

run_native h2get --cacert "$MTLS_CA" --cert "$MTLS_CERT" "$MTLS/"
check "h2get --cert without --key: exit 2, usage error" \
    '[[ $rc == 2 ]] && error_lines && grep -q "needs --key" "$TMP/err" && grep -q "h2get --help" "$TMP/err"'

run_native h2get --key "$MTLS_KEY" "$MTLS/"
check "h2get --key without --cert: exit 2" '[[ $rc == 2 ]]'

run_native h2get --cacert
check "h2get --cacert without a value: exit 2" '[[ $rc == 2 ]] && grep -q "needs a value" "$TMP/err"'

run_native h2get --help
check "h2get --help: documents --cacert, -k, --cert, --key" \
    '[[ $rc == 0 ]] && grep -q -- "--cacert FILE" "$TMP/out" && grep -q -- "-k, --insecure" "$TMP/out" && grep -q -- "--cert FILE" "$TMP/out" && grep -q -- "--key FILE" "$TMP/out"'

# ---- h2get against curl (curl-diff.sh) ------------------------------------------------------
# The same command lines run with curl and with h2get against the same TLS test servers
# (curl-diff.sh starts its own); each case is one check here. Under VALGRIND=1 a few of them,
# with h2get under valgrind (TLS handshakes are slow there).
if ! command -v curl >/dev/null; then
    echo "Bail out! curl not installed (scripts/check-deps.sh, or: sudo apt-get install curl)"
    exit 1
fi
diff_cases=()
diff_wrap=""
if [[ -n $VALGRIND ]]; then
    diff_cases=(get include head fail-404 location data-file upload-file header-remove user
        write-out output remote-name dump-header-urls max-redirs refused bad-url unknown-ca
        upload-missing output-dir-missing)
    diff_wrap="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=40 --suppressions=$PWD/valgrind.supp"
fi
BUILD=$BUILD SERVER_BIN=$SERVER_BIN H2GET_WRAP=$diff_wrap ./curl-diff.sh "${diff_cases[@]}" \
    >"$TMP/curl-diff.out" 2>&1 || true
while IFS= read -r line; do
    case $line in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) not_ok "${line#not ok - }" ;;
    *) echo "$line" ;;
    esac
done <"$TMP/curl-diff.out"
check "curl-diff.sh ran to the end" 'grep -q "^# curl-diff: [0-9]* passed, [0-9]* failed$" "$TMP/curl-diff.out"'
check "README.md: the h2get tables name curl-diff.sh's cases, its case table is current" \
    './curl-diff.sh --check-readme ../README.md >"$TMP/readme-check" 2>&1 || { cat "$TMP/readme-check"; false; }'

# ---- threads ---------------------------------------------------------------------------
run threads -t "$T_THREADS" -n "$N_REQS" "$URL/"
check "threads -t $T_THREADS -n $N_REQS /: $((T_THREADS * N_REQS)) ok, 0 failed" \
    '[[ $rc == 0 ]] && grep -Eq "^threads: $T_THREADS threads x $N_REQS requests: $((T_THREADS * N_REQS)) ok, 0 failed in [0-9]+\.[0-9]{3} s \([0-9]+ req/s\)$" "$TMP/out"'
sed 's/^/# /' "$TMP/out"

run threads -t "$C_THREADS" -n "$C_REQS" -c 1000 "$URL/bytes/1000"
check "threads -c 1000 /bytes/1000: bodies verified, 0 failed" \
    '[[ $rc == 0 ]] && grep -q "$((C_THREADS * C_REQS)) ok, 0 failed" "$TMP/out"'

run threads -t 2 -n 2 -c 5 "$URL/bytes/6"
check "threads -c detects a wrong body: exit 1" '[[ $rc == 1 ]] && grep -q "0 ok, 4 failed" "$TMP/out"'

run threads -t 2 -n 2 -p /bytes/5 -c 5 "$URL/status/404"
check "threads -p PATH: PATH on URL's origin (its path ignored), bodies verified" \
    '[[ $rc == 0 ]] && grep -q "4 ok, 0 failed" "$TMP/out"'

run threads -t 2 -n 3 "$URL/reset/2"
check "threads counts failures per code: exit 1" \
    '[[ $rc == 1 ]] && grep -q "0 ok, 6 failed" "$TMP/out" && grep -q "H2_E_STREAM_RESET: 6" "$TMP/out"'

start_server URL2 --max-concurrent-streams 10
run threads -t "$M_THREADS" -n "$M_REQS" "$URL2/delay/20"
check "threads -t $M_THREADS -n $M_REQS /delay/20 on a server with 10 streams/conn: 0 failed" \
    '[[ $rc == 0 ]] && grep -q "$((M_THREADS * M_REQS)) ok, 0 failed" "$TMP/out"'
sed 's/^/# /' "$TMP/out"

# ---- poll: one completion queue in an epoll loop -------------------------------------------
run poll -n "$POLL_N" -c "$POLL_C" "$URL/bytes/1000"
check "poll -n $POLL_N -c $POLL_C /bytes/1000: all ok (status 200, 1000 bytes each)" \
    '[[ $rc == 0 ]] && grep -Eq "^poll: $POLL_N requests, $POLL_N ok, 0 failed in [0-9]+\.[0-9]{3} s \([0-9]+ req/s\)$" "$TMP/out"'
check "poll: every body checked against the /bytes pattern (the path read from the library's URL)" \
    'grep -qx "poll: $POLL_N bodies checked against the /bytes pattern" "$TMP/out"'
check "poll: never more than $POLL_C in flight" \
    'grep -Eq "at most ([0-9]+) in flight" "$TMP/out" && (( $(sed -n "s/.*at most \([0-9]*\) in flight.*/\1/p" "$TMP/out") <= POLL_C ))'
sed 's/^/# /' "$TMP/out"

# ---- h2bench: a smoke run (not for timing) ---------------------------------------------------
run_native h2bench -n 20000 -c 2 -m 50 -t 1 "$URL/bytes/1024"
check "h2bench -n 20000 -c 2 -m 50: 20000 succeeded, h2load-style output" \
    '[[ $rc == 0 ]] && grep -q "^requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed, 0 errored, 0 timeout" "$TMP/out" && grep -q "^finished in" "$TMP/out" && grep -q "^time for request:" "$TMP/out"'
run_native h2bench --blocking -D 1 -c 1 -m 4 "$URL/"
check "h2bench --blocking -D 1: some requests, 0 failed" \
    '[[ $rc == 0 ]] && grep -Eq "^requests: [1-9][0-9]* total, .* 0 failed, 0 errored" "$TMP/out"'
run_native h2bench -n 4 "$URL/bytes/1?a#f" "$URL?b"
check "h2bench: URLs with a query and a fragment (parsed by the library): 4 succeeded" \
    '[[ $rc == 0 ]] && grep -q "^requests: 4 total, 4 started, 4 done, 4 succeeded, 0 failed" "$TMP/out"'
run_native h2bench -n 2 "$URL/" "http://localhost:${URL##*:}/"
check "h2bench with two origins: exit 2 (one connection per client, as h2load)" \
    '[[ $rc == 2 ]] && grep -q "^h2bench: all URLs must share scheme://host:port" "$TMP/err"'
run_native h2bench -n 1 "http://127.0.0.1:99999/"
check "h2bench with a bad URL: exit 2, the library's message" \
    '[[ $rc == 2 ]] && grep -q "^h2bench: bad request (GET http://127.0.0.1:99999/): invalid URL .*invalid port" "$TMP/err"'

run poll -n 20 -c 5 "$URL/reset/2"
check "poll /reset/2: exit 1, 0 ok, 20 failed" \
    '[[ $rc == 1 ]] && grep -q "^poll: 20 requests, 0 ok, 20 failed" "$TMP/out" && grep -q "H2_E_STREAM_RESET" "$TMP/err"'

run_native poll -n 10 -c 3 "$URL/bytes/1000/x"
check "poll on a 404: exit 1" '[[ $rc == 1 ]] && grep -q "0 ok, 10 failed" "$TMP/out"'

# ---- stream: h2_call_read / h2_call_write in bounded memory ---------------------------------
pattern "$DL_SIZE" >"$TMP/dl.expected"
RSS=1 run stream download "$URL/bytes/$DL_SIZE" "$TMP/dl"
check "stream download /bytes/$DL_SIZE: byte-exact" \
    '[[ $rc == 0 ]] && cmp -s "$TMP/dl" "$TMP/dl.expected"'
grep "^stream: download: [0-9]* bytes in" "$TMP/err" | sed 's/^/# /'
[[ -n $rss_kb ]] && echo "# peak RSS: $rss_kb KiB"
rm -f "$TMP/dl" "$TMP/dl.expected"

python3 -c 'import os, sys; sys.stdout.buffer.write(os.urandom(int(sys.argv[1])))' "$UP_SIZE" >"$TMP/up"
RSS=1 run stream upload "$URL/echo" "$TMP/up"
check "stream upload of $UP_SIZE bytes to /echo: echo verified (length, FNV-1a, trailer)" \
    '[[ $rc == 0 ]] && grep -q "^stream: upload: echo verified: $UP_SIZE bytes" "$TMP/err"'
grep "^stream: upload: [0-9]* bytes sent" "$TMP/err" | sed 's/^/# /'
[[ -n $rss_kb ]] && echo "# peak RSS: $rss_kb KiB"
rm -f "$TMP/up"

run_native stream upload "$URL/reset/2" "$TMP/mib"
check "stream upload to /reset/2: exit 1, H2_E_STREAM_RESET" \
    '[[ $rc == 1 ]] && grep -q "H2_E_STREAM_RESET" "$TMP/err"'

run_native stream download "$URL/status/404" "$TMP/dl"
check "stream download of a 404: exit 1" '[[ $rc == 1 ]] && grep -q "HTTP status 404" "$TMP/err"'

# ---- cancel: h2_call_cancel from another thread -------------------------------------------
H2TESTSERVER_LOG=1 start_server LOGGED
run cancel -l "$CANCEL_LIMIT" "$LOGGED"
check "cancel: blocked h2_call_wait_headers and h2_call_read return H2_E_CANCELED" \
    '[[ $rc == 0 ]] && grep -q "^cancel: GET /delay/5000: h2_call_wait_headers returned H2_E_CANCELED after" "$TMP/out" && grep -q "^cancel: GET /wait-reset: h2_call_read returned H2_E_CANCELED after" "$TMP/out"'
cancel_ms=$(sed -n 's/^cancel: GET [^:]*: h2_call_[a-z_]* returned H2_E_CANCELED after \([0-9]*\) ms.*/\1/p' "$TMP/out" | sort -n | tail -n 1)
check "cancel: both return within $CANCEL_LIMIT ms of the start (cancel at 200 ms; slowest ${cancel_ms:-?} ms)" \
    '[[ -n $cancel_ms ]] && (( cancel_ms < CANCEL_LIMIT ))'
sed 's/^/# /' "$TMP/out"
# The server logs "conn C: stream StreamId(N): reset by client" when RST_STREAM arrives.
server_saw_reset() { # PATH: the stream that carried GET PATH was reset by the client
    local id
    id=$(sed -n "s|^\[h2testserver\] \(conn [0-9]*: stream StreamId([0-9]*)\): GET $1\$|\1|p" \
        "$TMP/server-LOGGED.err" | tail -n 1)
    [[ -n $id ]] && grep -qF "[h2testserver] $id: reset by client" "$TMP/server-LOGGED.err"
}
for ((i = 0; i < 30; i++)); do # the log line may come a moment later
    server_saw_reset /delay/5000 && server_saw_reset /wait-reset && break
    sleep 0.1
done
check "cancel: the server log shows RST_STREAM from the client for both streams" \
    'server_saw_reset /delay/5000 && server_saw_reset /wait-reset'
grep "GET /delay/5000\|GET /wait-reset\|reset by client" "$TMP/server-LOGGED.err" | sed 's/^/# server: /'

# ---- fork: the parent's client in a child fails with H2_E_FORKED; new clients work -------
run fork "$URL/"
check "fork: child 1 gets H2_E_FORKED from the parent's client, then a new client works" \
    '[[ $rc == 0 ]] && grep -qx "child 1: GET with the parent.s client fails with H2_E_FORKED: ok" "$TMP/out" && [[ $(grep -c "^child 1: GET / with the new client: ok" "$TMP/out") == 3 ]]'
check "fork: child 2 (new client only) fetches; the parent keeps working before and after" \
    '[[ $(grep -c "^child 2: GET / with the new client: ok" "$TMP/out") == 3 && $(grep -c "^parent: GET / after fork: ok" "$TMP/out") == 5 ]] && grep -qx "parent: GET / after the children exited: ok" "$TMP/out" && grep -qx "fork: all steps passed" "$TMP/out"'
check "fork: h2_global_cleanup in each child (its own runtime) and then in the parent: H2_OK" \
    'grep -qx "child 1: h2_global_cleanup: ok" "$TMP/out" && grep -qx "child 2: h2_global_cleanup: ok" "$TMP/out" && grep -qx "parent: h2_global_cleanup: ok" "$TMP/out"'
[[ $rc == 0 ]] || sed 's/^/# /' "$TMP/out" "$TMP/err"

# ---- lifetimes: no event callback after h2_client_free; the userdata is freed at once ----
# Under SANITIZE=address a late callback is a heap-use-after-free report (non-zero exit).
if [[ -n $VALGRIND ]]; then LIFE_N=3; else LIFE_N=20; fi
run lifetimes -n "$LIFE_N" "$URL/"
check "lifetimes: $LIFE_N clients with a slow event callback; none runs after h2_client_free" \
    '[[ $rc == 0 ]] && grep -q "^lifetimes: $LIFE_N clients, [1-9][0-9]* events, none after h2_client_free$" "$TMP/out" && ! grep -q AddressSanitizer "$TMP/err"'

# ---- C++ binding (include/h2client.hpp): get-cpp, cpp_test -------------------------------
for p in get-cpp cpp_test cpp_test-noexcept; do
    [[ -x $BUILD/$p ]] || { echo "Bail out! $BUILD/$p not built (run make)"; exit 1; }
done
run get-cpp "$URL/"
check "get-cpp /: status 200, headers, blank line, hello body" \
    '[[ $rc == 0 && $(head -n 1 "$TMP/out") == "HTTP/2 200" ]] && grep -qx "content-length: 24" "$TMP/out" && [[ "$(body_of "$TMP/out")" == "hello from h2testserver" ]]'

run_native get-cpp "$URL/bytes/100000"
body_of "$TMP/out" >"$TMP/body"
check "get-cpp /bytes/100000: body matches the pattern" '[[ $rc == 0 ]] && cmp -s "$TMP/body" "$TMP/bytes100000"'

run get-cpp "http://127.0.0.1:$(closed_port)/"
check "get-cpp on a closed port: exit 1, get.cpp: H2_E_CONNECT: ..." \
    '[[ $rc == 1 && ! -s $TMP/out ]] && grep -q "^get.cpp: H2_E_CONNECT: " "$TMP/err"'

# --tls: the https server above, for the https-to-http redirect checks.
cpp_args=(--tls "$TLS" "$CA")
[[ -n $VALGRIND ]] && cpp_args=(--quick "${cpp_args[@]}")
run cpp_test "${cpp_args[@]}" "$URL"
check "cpp_test: every check passed" \
    '[[ $rc == 0 ]] && grep -q "^cpp_test: [0-9]* checks, 0 failed$" "$TMP/out"'
sed 's/^/# /' "$TMP/out"

run cpp_test-noexcept "${cpp_args[@]}" "$URL"
check "cpp_test built with -fno-exceptions (non-throwing API): every check passed" \
    '[[ $rc == 0 ]] && grep -q "^cpp_test: [0-9]* checks, 0 failed (built without exceptions)$" "$TMP/out"'
sed 's/^/# /' "$TMP/out"

# ---- summary ---------------------------------------------------------------------------
if [[ -n $VALGRIND ]]; then
    echo "# valgrind: $vg_clean of $vg_runs runs with 'ERROR SUMMARY: 0 errors'"
    sort "$TMP/vg-summary" | uniq -c | sed 's/^/# /'
fi
echo "# $passed passed, $failed failed"
if ((failed > 0)); then
    printf '# failed: %s\n' "${failed_names[@]}"
    exit 1
fi
