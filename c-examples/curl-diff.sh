#!/usr/bin/env bash
# curl-diff.sh: runs the same command lines with curl and with h2get against the same TLS
# test servers (h2testserver --tls, started here) and compares what they do: the exit code
# (which must also be the case's expected one), stdout (bodies, -i/-I/-D - heads and -w
# output) and every file they write (-o, -O, -D), all with `date:` lines removed. stderr is
# not compared (the messages are worded differently). Every command gets `-A curl-diff`
# first (h2get's own user-agent is h2get/VERSION, curl's curl/VERSION); a case's own -A or
# -H 'User-Agent: ...' comes later and wins, in both.
#
#   ./curl-diff.sh                        run every case: "ok - curl-diff: NAME" or "not ok -
#                                         ...", then "# N passed, N failed"; exit 1 if any failed
#   ./curl-diff.sh NAME...                run only these cases
#   ./curl-diff.sh --table                print the README's table of the cases (no server)
#   ./curl-diff.sh --check-readme FILE    check that FILE (README.md) has that table between
#                                         its curl-diff markers, and that every case named in
#                                         its h2get flag table exists
#
# Environment: BUILD (default build: h2get is $BUILD/h2get), SERVER_BIN (default
# ../target/release/h2testserver), CURL (default curl; the tests were written against curl
# 7.88 with HTTP/2), H2GET_WRAP (a command h2get runs under, as words: run-tests.sh's
# VALGRIND=1 runs a few cases with valgrind --error-exitcode=99, whose errors thus show as an
# exit code that is not the case's).
set -euo pipefail

CALLER_DIR=$PWD
cd "$(dirname "$0")"
BUILD=${BUILD:-build}
SERVER_BIN=${SERVER_BIN:-../target/release/h2testserver}
CURL=${CURL:-curl}

# One case a line: NAME, the exit code both must return, then the arguments (bash words;
# $S is the test server's https://127.0.0.1:PORT, $LS https://localhost:PORT, $PORT its
# port, $CA its CA file, $EXPIRED an https server whose certificate has expired and
# $EXPIRED_CA its CA, $CLOSED https://127.0.0.1:PORT of a port nobody listens on). Each
# tool runs in a directory of its own holding form.txt ("a=1\nb=2\r\n"), up.bin (1000 random
# bytes) and fmt.txt (a -w format). Redirects: /redirect/CODE?to=URL.
CASES=$(
    cat <<'EOF'
get                 0  --cacert $CA $S/
get-https-name      0  --cacert $CA $LS/bytes/10
include             0  -i --cacert $CA $S/bytes/10
head                0  -I --cacert $CA $S/bytes/10
head-write-out      0  -I -w '%{http_code} %{size_download} %{size_header}\n' --cacert $CA $S/
status-404          0  --cacert $CA $S/status/404
fail-404            22 -f --cacert $CA $S/status/404
fail-include-404    22 -f -i --cacert $CA $S/status/404
fail-with-body      22 --fail-with-body -i --cacert $CA $S/status/404
fail-200            0  -f --cacert $CA $S/bytes/5
fail-output-file    22 -f -o out.bin --cacert $CA $S/status/404
last-url-decides    0  -f -w '%{http_code} %{exitcode}\n' --cacert $CA $S/status/404 $S/bytes/3
last-url-fails      22 -f -w '%{http_code} %{exitcode}\n' --cacert $CA $S/bytes/3 $S/status/404
fail-early          22 --fail-early -f -w '%{http_code}\n' --cacert $CA $S/status/404 $S/bytes/3
location            0  -L -w '%{http_code} %{num_redirects} %{url_effective} %{size_download}\n' --cacert $CA "$S/redirect/302?to=%2Fbytes%2F10"
location-absolute   0  -L -w '%{url_effective} %{num_redirects}\n' --cacert $CA "$S/redirect/301?to=$LS/bytes/4"
no-location         0  -w '%{http_code} %{num_redirects} %{url_effective}\n' -i --cacert $CA "$S/redirect/302?to=%2Fbytes%2F10"
location-post-307   0  -L -d hello --cacert $CA "$S/redirect/307?to=%2Fecho"
location-post-302   0  -L -d hello -w '%{http_code}\n' --cacert $CA "$S/redirect/302?to=%2Fecho"
max-redirs          47 -L --max-redirs 1 -w '%{num_redirects} %{exitcode}\n' --cacert $CA "$S/redirect/301?to=%2Fredirect%2F302%3Fto%3D%252Fbytes%252F10"
max-redirs-0        47 -L --max-redirs 0 -i -w '%{http_code} %{num_redirects}\n' --cacert $CA "$S/redirect/302?to=%2Fbytes%2F10"
data                0  -i -d hello -d world --cacert $CA $S/echo
data-file           0  -i -d @form.txt --cacert $CA $S/echo
data-binary-file    0  -i --data-binary @form.txt --cacert $CA $S/echo
data-raw            0  -i --data-raw @form.txt --cacert $CA $S/echo
data-empty          0  -i -d '' --cacert $CA $S/echo
data-method         0  -i -X PUT -d x=1 --cacert $CA $S/echo
data-content-type   0  -i -d '{}' -H 'Content-Type: application/json' --cacert $CA $S/echo
upload-file         0  -i -T up.bin --cacert $CA $S/echo
upload-file-name    0  -w '%{http_code} %{url_effective}\n' -T up.bin --cacert $CA $S/
header-add          0  -i -H 'X-A: b' -H 'X-Two:   spaced value' --cacert $CA $S/echo
header-remove       0  -i -H 'Accept:' -H 'User-Agent:' --cacert $CA $S/echo
header-empty        0  -i -H 'X-Empty;' --cacert $CA $S/echo
header-replace      0  -i -H 'Accept: text/html' -H 'User-Agent: mine/1' --cacert $CA $S/echo
header-host         0  -i -H "Host: localhost:$PORT" --cacert $CA $S/echo
user-agent          0  -i -A 'agent/2' --cacert $CA $S/echo
user-agent-none     0  -i -A '' --cacert $CA $S/echo
user                0  -i -u 'alice:s3cret' --cacert $CA $S/echo
referer             0  -i -e 'https://from.example/page' --cacert $CA $S/echo
compressed          0  --compressed -w '%{size_download}\n' --cacert $CA $S/bytes/100
output              0  -o out.bin --cacert $CA $S/bytes/100000
output-stdout       0  -o - --cacert $CA $S/bytes/10
output-per-url      0  -o first.bin --cacert $CA $S/bytes/5 $S/bytes/7
output-after-url    0  --cacert $CA $S/bytes/5 -o second.bin $S/bytes/7 -o third.bin
remote-name         0  -O --cacert $CA $S/bytes/1000
remote-name-query   0  -O --cacert $CA "$S/bytes/12?x=1"
dump-header         0  -D head.txt -o body.bin --cacert $CA $S/
dump-header-stdout  0  -D - --cacert $CA $S/bytes/3
dump-header-urls    0  -D head.txt -o /dev/null -o /dev/null --cacert $CA $S/bytes/3 $S/status/404
write-out           0  -o /dev/null -w '%{http_code} %{http_version} %{size_download} %{size_header} %{num_headers} %{content_type} %{url_effective} %{url} %{urlnum} %{num_redirects} %{exitcode} %{method} %{filename_effective}|%header{content-length}|%%|\t|\x\n' --cacert $CA $S/bytes/10
write-out-file      0  -s -w @fmt.txt --cacert $CA $S/bytes/3
write-out-urls      0  -w '%{urlnum}:%{http_code}:%{size_download}\n' --cacert $CA $S/bytes/1 $S/status/418 $S/bytes/2
write-out-post      0  -o /dev/null -w '%{method} %{http_code}\n' -d a=b --cacert $CA $S/echo
write-out-remote    0  -o /dev/null -w '%{remote_ip} %{remote_port} %{local_ip} %{num_connects}\n' --cacert $CA $S/bytes/3 $S/bytes/4
max-time-ok         0  -m 2.5 --cacert $CA $S/bytes/3
max-time            28 -m 0.5 -w '%{http_code} %{exitcode}\n' --cacert $CA $S/delay/5000
resolve             0  --resolve "localhost:$PORT:127.0.0.1" --cacert $CA $LS/bytes/3
connect-to          0  --connect-to "localhost:$PORT:127.0.0.1:$PORT" --cacert $CA $LS/bytes/3
ipv4                0  -4 --cacert $CA $LS/bytes/3
ipv6-only           7  -6 -w '%{http_code}\n' --cacert $CA $S/
http2-flags         0  --http2 --http2-prior-knowledge --cacert $CA $S/bytes/3
insecure            0  -k $S/bytes/3
url-option          0  --cacert $CA --url $S/bytes/3
stream-reset        92 -w '%{http_code} %{exitcode}\n' --cacert $CA $S/reset/2
refused-stream      56 --cacert $CA $S/reset/7
refused             7  -w '%{http_code} %{exitcode} %{url_effective}\n' $CLOSED/
bad-url             3  -w '%{http_code} %{exitcode}\n' 'https://exa mple.com/'
bad-port            3  'https://127.0.0.1:99999/'
unsupported-scheme  1  'foo://127.0.0.1/'
not-resolved        6  -w '%{http_code} %{exitcode}\n' https://no-such-host.invalid/
unknown-ca          60 -w '%{http_code} %{exitcode}\n' $S/
other-ca            60 --cacert $EXPIRED_CA $S/
name-mismatch       60 --resolve "wrong.test:$PORT:127.0.0.1" --cacert $CA "https://wrong.test:$PORT/"
expired             60 --cacert $EXPIRED_CA $EXPIRED/
cacert-missing      77 --cacert no-such-ca.pem $S/
upload-missing      26 -w '%{http_code} %{exitcode}\n' -T no-such-file $S/echo
output-dir-missing  23 -o no/such/dir/out --cacert $CA $S/bytes/3
remote-name-empty   23 -O -w '%{http_code} %{exitcode}\n' --cacert $CA $S/
unknown-option      2  --no-such-option $S/
proxy-scheme        7  -x bad://proxy --cacert $CA $S/
EOF
)

# ---- --table / --check-readme ------------------------------------------------------------
table() {
    echo '| case | arguments (curl and h2get alike) | exit |'
    echo '|---|---|---|'
    local name code rest
    while read -r name code rest; do
        [[ -z $name ]] && continue
        rest=${rest//|/\\|}
        printf '| %s | `%s` | %s |\n' "$name" "$rest" "$code"
    done <<<"$CASES"
}

if [[ ${1:-} == --table ]]; then
    table
    exit 0
fi

if [[ ${1:-} == --check-readme ]]; then
    readme=${2:?--check-readme needs the README}
    [[ $readme == /* ]] || readme=$CALLER_DIR/$readme
    ok=1
    # The generated table between the markers.
    got=$(sed -n '/^<!-- curl-diff cases: begin/,/^<!-- curl-diff cases: end/p' "$readme" | sed '1d;$d')
    if [[ "$got" != "$(table)" ]]; then
        echo "# $readme: the curl-diff case table differs from ./curl-diff.sh --table:"
        diff <(table) <(printf '%s\n' "$got") | head -n 20 | sed 's/^/#   /' || true
        ok=0
    fi
    # Every case the flag table names (`case` in its last column) exists.
    names=$(awk '{print $1}' <<<"$CASES")
    while read -r n; do
        if ! grep -qx -- "$n" <<<"$names"; then
            echo "# $readme: the h2get flag table names a case that curl-diff.sh does not have: $n"
            ok=0
        fi
    done < <(sed -n '/^<!-- h2get flags: begin/,/^<!-- h2get flags: end/p' "$readme" |
        grep '^|' | awk -F'|' '{print $(NF-1)}' | grep -o '`[a-z0-9-]*`' | tr -d '`' | sort -u)
    ((ok)) && exit 0 || exit 1
fi

# ---- running the cases -------------------------------------------------------------------
H2GET=$BUILD/h2get
[[ -x $H2GET ]] || { echo "Bail out! $H2GET not built (run make)"; exit 1; }
[[ -x $SERVER_BIN ]] || { echo "Bail out! $SERVER_BIN not built (run make)"; exit 1; }
command -v "$CURL" >/dev/null || { echo "Bail out! no curl (apt-get install curl)"; exit 1; }
H2GET=$(cd "$(dirname "$H2GET")" && pwd)/h2get

TMP=$(mktemp -d "${TMPDIR:-/tmp}/curl-diff.XXXXXX")
# shellcheck source=test-servers.sh
. ./test-servers.sh
cleanup() {
    stop_servers
    rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$TMP/S" "$TMP/EXPIRED"
start_server S --tls --tls-dir "$TMP/S"
start_server EXPIRED --tls --tls-dir "$TMP/EXPIRED" --tls-expired
PORT=${S##*:}
LS=https://localhost:$PORT
CLOSED=https://127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
CA=$S_CA

# The input files every run directory starts with.
mkdir -p "$TMP/inputs"
printf 'a=1\nb=2\r\n' >"$TMP/inputs/form.txt"
head -c 1000 /dev/urandom >"$TMP/inputs/up.bin"
printf '%s' '%{http_code} %{size_download}\n' >"$TMP/inputs/fmt.txt"

# What a run wrote, comparable: its files (inputs excluded) without `date:` lines.
normalize() {
    local dir=$1 f
    for f in "$dir"/*; do
        [[ -f $f ]] || continue
        grep -aiv '^date: ' "$f" >"$f.norm" || true
        mv "$f.norm" "$f"
    done
}

passed=0
failed=0
failed_names=()
only=("$@")

while read -r name code rest; do
    [[ -z $name ]] && continue
    if ((${#only[@]})) && [[ " ${only[*]} " != *" $name "* ]]; then
        continue
    fi
    eval "args=($rest)"
    declare -A rc=()
    for tool in curl h2get; do
        d=$TMP/run/$name/$tool
        mkdir -p "$d/files"
        cp "$TMP/inputs/"* "$d/files/"
        prog=("$CURL")
        # shellcheck disable=SC2206 # H2GET_WRAP is words
        [[ $tool == h2get ]] && prog=(${H2GET_WRAP:-} "$H2GET")
        r=0
        (cd "$d/files" && timeout -k 5 120 "${prog[@]}" -A curl-diff "${args[@]}" \
            >"$d/stdout" 2>"$d/stderr" </dev/null) || r=$?
        rc[$tool]=$r
        for f in "$TMP/inputs/"*; do
            cmp -s "$f" "$d/files/${f##*/}" && rm "$d/files/${f##*/}"
        done
        normalize "$d/files"
        grep -aiv '^date: ' "$d/stdout" >"$d/stdout.norm" || true
    done
    c=$TMP/run/$name/curl
    h=$TMP/run/$name/h2get
    why=()
    [[ ${rc[curl]} == "$code" ]] || why+=("curl exited ${rc[curl]}, not $code")
    [[ ${rc[h2get]} == "$code" ]] || why+=("h2get exited ${rc[h2get]}, not $code")
    cmp -s "$c/stdout.norm" "$h/stdout.norm" || why+=("stdout differs")
    if ! diff -r "$c/files" "$h/files" >/dev/null 2>&1; then
        why+=("files differ: curl wrote [$(cd "$c/files" && ls | tr '\n' ' ')], h2get [$(cd "$h/files" && ls | tr '\n' ' ')]")
    fi
    grep -q 'Sanitizer\|runtime error' "$h/stderr" && why+=("sanitizer report on h2get's stderr")
    if ((${#why[@]} == 0)); then
        echo "ok - curl-diff: $name"
        passed=$((passed + 1))
    else
        echo "not ok - curl-diff: $name"
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "# arguments: $rest"
        printf '# %s\n' "${why[@]}"
        for tool in curl h2get; do
            d=$TMP/run/$name/$tool
            echo "# $tool stdout (first 12 lines, printable):"
            head -c 2000 "$d/stdout" | cat -v | head -n 12 | sed 's/^/#   /'
            echo "# $tool stderr (first 6 lines):"
            head -n 6 "$d/stderr" | cut -c 1-300 | sed 's/^/#   /'
        done
        if ! cmp -s "$c/stdout.norm" "$h/stdout.norm"; then
            echo "# diff curl h2get (stdout):"
            diff <(cat -v "$c/stdout.norm") <(cat -v "$h/stdout.norm") | head -n 20 | sed 's/^/#   /' || true
        fi
    fi
    unset rc
done <<<"$CASES"

echo "# curl-diff: $passed passed, $failed failed"
if ((failed > 0)); then
    printf '# failed: %s\n' "${failed_names[@]}"
    exit 1
fi
