#!/bin/sh
# Instructions per request (user space, every thread of the client process) of the Ruby
# binding and of the same work in C, counted by callgrind: free of the timing noise of a
# shared machine, blind to the kernel (syscalls, wake-ups), which both sides pay alike.
#
#   H2CLIENT_LIB=$PWD/../../target/release/libh2client.so bench/instructions.sh URL [RUBY_LIB_DIR]
#
# URL as for overhead.rb (a server already running); RUBY_LIB_DIR the binding's lib
# directory (default ./lib, run from bindings/ruby). Each program runs twice, with 500 and
# 2500 timed requests; the difference over 2000 is the count per request (start-up and
# warm-up cancel out). Needs valgrind and cc.
set -eu
url=${1:?usage: instructions.sh URL [RUBY_LIB_DIR]}
rubylib=${2:-lib}
lib=${H2CLIENT_LIB:?set H2CLIENT_LIB to the full path of libh2client.so}
export H2CLIENT_LIB
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
origin=$(printf '%s' "$url" | sed -E 's#^(https?://[^/]+).*#\1#')
path=$(printf '%s' "$url" | sed -E 's#^https?://[^/]+##')
[ -n "$path" ] || path=/
ln -s "$lib" "$tmp/libh2client.so.0"
ln -s "$lib" "$tmp/libh2client.so"
${CC:-cc} -std=c11 -O2 -I"$root/include" -o "$tmp/c_get" "$here/c_get.c" -L"$tmp" -lh2client \
  -Wl,-rpath,"$tmp" -lpthread -ldl -lm

# Instructions collected by callgrind for the command.
count() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "$@" 2>&1 \
    | sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p'
}

# Instructions per request: the command with N appended, for 500 and 2500.
per_request() {
  a=$(count "$@" 500)
  b=$(count "$@" 2500)
  echo $(((b - a) / 2000))
}

c=$(per_request "$tmp/c_get" "$origin" "$path")
echo "instructions per request, GET $path ($lib)"
printf '%-20s %8d %6s\n' "C get" "$c" "1.00x"
for v in get header stream bare; do
  r=$(per_request ruby -I"$rubylib" "$here/loop.rb" "$v" "$url")
  printf '%-20s %8d %5d.%02dx\n' "ruby $v" "$r" $((r / c)) $((r * 100 / c % 100))
done
