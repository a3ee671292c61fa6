#!/usr/bin/env bash
# Installs h2client into a temporary prefix, then builds the C examples against the installed
# library found through pkg-config (shared and static) and runs them against the test server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Cargo's output directory: $CARGO_TARGET_DIR if set (relative to the current directory, as
# cargo takes it), else target.
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
export CARGO_TARGET_DIR=$target
tmp=$(mktemp -d "${TMPDIR:-/tmp}/h2client-install.XXXXXX")
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
prefix="$tmp/prefix"
make -s -C "$root" install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
fail=0
check() { if "$@"; then echo "ok - install: $*"; else echo "not ok - install: $*"; fail=1; fi; }

check test -L "$prefix/lib/libh2client.so.0"
check test "$(readlink "$prefix/lib/libh2client.so")" = libh2client.so.0
soname=$(objdump -p "$prefix/lib/libh2client.so.0" | awk '/SONAME/ {print $2}')
check test "$soname" = libh2client.so.0
check test "$(pkg-config --modversion h2client)" = "$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)"

# A program checking the header's version macros against the library's h2_version().
cat > "$tmp/version.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <h2client.h>
int main(void) {
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", H2CLIENT_VERSION_MAJOR, H2CLIENT_VERSION_MINOR,
             H2CLIENT_VERSION_PATCH);
    if (strcmp(want, h2_version()) != 0 || strcmp(H2CLIENT_VERSION_STRING, h2_version()) != 0 ||
        H2CLIENT_VERSION_NUMBER != H2CLIENT_VERSION_MAJOR * 10000 + H2CLIENT_VERSION_MINOR * 100 +
                                       H2CLIENT_VERSION_PATCH) {
        fprintf(stderr, "header %s, library %s\n", want, h2_version());
        return 1;
    }
    return 0;
}
C
cc="${CC:-gcc}"
# shellcheck disable=SC2046
check $cc -std=c11 -Wall -Werror "$tmp/version.c" $(pkg-config --cflags --libs h2client) \
  -Wl,-rpath,"$prefix/lib" -o "$tmp/version"
check "$tmp/version"
# shellcheck disable=SC2046
check $cc -std=c11 -Wall -Werror "$root/c-examples/get.c" $(pkg-config --cflags --libs h2client) \
  -Wl,-rpath,"$prefix/lib" -o "$tmp/get"
# shellcheck disable=SC2046
check $cc -std=c11 -Wall -Werror "$root/c-examples/get.c" $(pkg-config --cflags h2client) \
  "$prefix/lib/libh2client.a" $(pkg-config --static --libs-only-l h2client | sed 's/-lh2client//') -o "$tmp/get-static"
check test -z "$(ldd "$tmp/get-static" | grep h2client || true)"
if [ -f "$prefix/include/h2client.hpp" ] && [ -f "$root/c-examples/get.cpp" ]; then
  # shellcheck disable=SC2046
  check "${CXX:-g++}" -std=c++17 -Wall -Werror "$root/c-examples/get.cpp" $(pkg-config --cflags --libs h2client) \
    -Wl,-rpath,"$prefix/lib" -o "$tmp/get-cpp"
fi

"$target/release/h2testserver" --port 0 > "$tmp/server.out" &
server_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/server.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/server.out")
check sh -c "'$tmp/get' '$url/' | grep -q 'hello from h2testserver'"
check sh -c "'$tmp/get-static' '$url/' | grep -q 'hello from h2testserver'"
if [ -x "$tmp/get-cpp" ]; then check sh -c "'$tmp/get-cpp' '$url/' | grep -q 'hello from h2testserver'"; fi

# The Go and Ruby bindings, built and tested against the installed library (pkg-config).
export H2TESTSERVER="$target/release/h2testserver"
(
  cd "$root/bindings/go"
  export LD_LIBRARY_PATH="$prefix/lib" GOFLAGS=-mod=mod
  # Go's build cache keeps the flags a cached package was built with, not pkg-config's
  # current answer: an earlier run's (deleted) prefix would be linked against. The prefix in
  # CGO_* is part of the cache key.
  CGO_CFLAGS="$(pkg-config --cflags h2client)" CGO_LDFLAGS="$(pkg-config --libs h2client)"
  export CGO_CFLAGS CGO_LDFLAGS
  go vet ./... && go test -count=1 ./...
) > "$tmp/go.log" 2>&1 && echo "ok - install: go vet and go test (bindings/go)" \
  || { echo "not ok - install: go test (bindings/go)"; sed 's/^/#   /' "$tmp/go.log" | tail -n 40; fail=1; }
(
  cd "$root/bindings/ruby"
  env -u H2CLIENT_LIB ruby -w -Ilib -Itest test/all_test.rb
) > "$tmp/ruby.log" 2>&1 && echo "ok - install: ruby minitest (bindings/ruby)" \
  || { echo "not ok - install: ruby minitest (bindings/ruby)"; sed 's/^/#   /' "$tmp/ruby.log" | tail -n 40; fail=1; }
grep -E "^[0-9]+ runs" "$tmp/ruby.log" | sed 's/^/# ruby: /' || true
grep -E "^(ok|FAIL)" "$tmp/go.log" | sed 's/^/# go: /' || true

make -s -C "$root" uninstall PREFIX="$prefix" >/dev/null
check test ! -e "$prefix/lib/libh2client.so.0"
check test ! -e "$prefix/include/h2client.h"
exit $fail
