#!/usr/bin/env bash
# Checks that what `make test` needs is installed (run first by `make test`, and by .ci/run).
# scripts/debian-packages.txt lists the Debian packages and, for each, the command (or file,
# or Ruby gem) that shows it is there. When something is missing:
#   - as root, or with sudo that needs no password (`sudo -n true`), installs the missing
#     packages with apt-get, saying which, with the system daemons kept from starting (a
#     policy-rc.d that forbids it, as .ci/run always did: the tests start their own nginx and
#     h2o, and nothing on the machine has to be stopped or killed by name);
#   - otherwise stops at once with the command to run (`sudo apt-get install ...`).
# Prints one OK line when nothing is missing.
#
#   scripts/check-deps.sh               check; install what is missing if allowed to
#   scripts/check-deps.sh --no-install  check only
#
# Also checked: cargo's rustfmt and clippy (`make lint`; rustup installs them). cargo-fuzz is
# not: fuzz/smoke installs it from crates.io when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
list=$root/scripts/debian-packages.txt
may_install=1
case ${1:-} in
  "") ;;
  --no-install) may_install=0 ;;
  *) echo "usage: $0 [--no-install]" >&2; exit 2 ;;
esac

# find_cmd NAME: prints NAME's path; looks in PATH, then the sbin directories a non-root PATH
# lacks (where nginx and nghttpd are, and where the tests look too).
find_cmd() {
  local d
  local IFS=:
  for d in $PATH /usr/sbin /sbin /usr/local/sbin; do
    if [ -n "$d" ] && [ -f "$d/$1" ] && [ -x "$d/$1" ]; then
      echo "$d/$1"
      return 0
    fi
  done
  return 1
}

# present CHECK: a command, an absolute path (a file), or ruby:GEM.
present() {
  local ruby
  case $1 in
    /*) [ -e "$1" ] ;;
    ruby:*) ruby=$(find_cmd ruby) && "$ruby" -e "require '${1#ruby:}'" >/dev/null 2>&1 ;;
    *) find_cmd "$1" >/dev/null ;;
  esac
}

# Fills missing_pkgs (packages) and missing_what (the checks that failed).
scan() {
  local pkg check checks ok
  missing_pkgs=()
  missing_what=()
  npkgs=0
  while read -r pkg checks; do
    case $pkg in "" | "#"*) continue ;; esac
    npkgs=$((npkgs + 1))
    ok=1
    for check in $checks; do
      if ! present "$check"; then
        ok=0
        missing_what+=("$check")
      fi
    done
    [ "$ok" -eq 1 ] || missing_pkgs+=("$pkg")
  done <"$list"
}

# The command a user without these rights runs.
hint() {
  echo "check-deps: missing: ${missing_what[*]}" >&2
  echo "check-deps: install them with:  sudo apt-get install --no-install-recommends ${missing_pkgs[*]}" >&2
}

scan
if [ ${#missing_pkgs[@]} -gt 0 ]; then
  if [ "$may_install" -eq 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    hint
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo)
  else
    hint
    exit 1
  fi
  echo "check-deps: installing ${missing_pkgs[*]} (for ${missing_what[*]}) with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The tests start their own nginx and h2o: keep the packages' post-install scripts from
  # starting the system daemons (Debian's policy-rc.d: 101 = action forbidden), so that
  # nothing has to be stopped, and nothing else on the machine is ever killed by name. An
  # existing policy-rc.d is left as it is.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | ${sudo[@]+"${sudo[@]}"} tee "$policy" >/dev/null
    ${sudo[@]+"${sudo[@]}"} chmod 755 "$policy"
    trap '${sudo[@]+"${sudo[@]}"} rm -f "$policy"' EXIT
  fi
  apt_install() {
    ${sudo[@]+"${sudo[@]}"} apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null
  }
  if ! apt_install; then
    # A fresh system may have no package lists yet (.ci/run updates them first).
    echo "check-deps: apt-get install failed: running apt-get update, then trying again" >&2
    ${sudo[@]+"${sudo[@]}"} apt-get update -qq
    apt_install
  fi
  scan
  if [ ${#missing_pkgs[@]} -gt 0 ]; then
    echo "check-deps: still missing after apt-get install: ${missing_what[*]} (${missing_pkgs[*]})" >&2
    exit 1
  fi
fi

# make lint: rustfmt and clippy, from rustup rather than Debian.
rust_missing=()
cargo fmt --version >/dev/null 2>&1 || rust_missing+=(rustfmt)
cargo clippy --version >/dev/null 2>&1 || rust_missing+=(clippy)
if [ ${#rust_missing[@]} -gt 0 ]; then
  echo "check-deps: missing: cargo ${rust_missing[*]}" >&2
  echo "check-deps: install them with:  rustup component add ${rust_missing[*]}" >&2
  exit 1
fi

fuzz="cargo-fuzz installed"
cargo fuzz --version >/dev/null 2>&1 || fuzz="cargo-fuzz not installed yet: fuzz/smoke installs it"
echo "check-deps: OK ($npkgs Debian packages of scripts/debian-packages.txt, rustfmt, clippy; $fuzz)"
