# Test servers for run-tests.sh and curl-diff.sh (sourced, not run): start_server and
# stop_servers. The sourcing script sets SERVER_BIN and TMP, and calls stop_servers on exit.

server_pids=()

# stop_servers: stops every server start_server started (SIGTERM, then SIGKILL after 5 s:
# never hangs here).
stop_servers() {
    local pid i
    for pid in "${server_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    server_pids=()
}

# start_server VAR [ARGS...]: starts h2testserver --port 0 ARGS in the background and sets
# VAR to its base URL (http:// or, with --tls, https://127.0.0.1:PORT), parsed from its first
# stdout line (waits up to 10 s). With --tls it also waits for the certificate lines and sets
# VAR_CA to the CA file's path, and with --require-client-cert VAR_CERT and VAR_KEY to the
# client certificate's and key's.
start_server() {
    local var=$1
    shift
    local out=$TMP/server-$var.out
    local want='^listening on http://'
    [[ " $* " == *" --tls "* ]] && want='^ca certificate: '
    [[ " $* " == *" --require-client-cert "* ]] && want='^client key: '
    "$SERVER_BIN" --port 0 "$@" >"$out" 2>"$TMP/server-$var.err" &
    local pid=$!
    server_pids+=("$pid")
    local port="" i
    for ((i = 0; i < 100; i++)); do
        if grep -q "$want" "$out" 2>/dev/null; then
            port=$(sed -n '1s|^listening on https\{0,1\}://[^ ]*:\([0-9][0-9]*\)$|\1|p' "$out")
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z $port ]]; then
        echo "Bail out! h2testserver $* did not start within 10 s"
        sed 's/^/# /' "$out" "$TMP/server-$var.err"
        exit 1
    fi
    local scheme
    scheme=$(sed -n '1s|^listening on \([a-z]*\)://.*|\1|p' "$out")
    printf -v "$var" '%s://127.0.0.1:%s' "$scheme" "$port"
    printf -v "${var}_CA" '%s' "$(sed -n 's|^ca certificate: ||p' "$out")"
    printf -v "${var}_CERT" '%s' "$(sed -n 's|^client certificate: ||p' "$out")"
    printf -v "${var}_KEY" '%s' "$(sed -n 's|^client key: ||p' "$out")"
}
