#!/usr/bin/env bash
# Runs the interop tests and prints a Markdown table of peer x case (PASS / FAIL) for the
# README:
#
#   scripts/interop-matrix.sh [TEST ...]      # default: interop interop_go chunking
#
# tests/interop_go.rs and tests/chunking.rs record each case in
# <target>/interop-matrix/results.tsv (peer, mode, case, verdict) themselves; the outcomes of
# tests/interop.rs are read from its libtest lines (`test tls::static_files::h2o ... ok`).
# The table goes to stdout and to <target>/interop-matrix/matrix.md; the test logs are kept
# beside it. Exits non-zero if any case failed.
set -uo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-$PWD/target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
dir=$target/interop-matrix
rm -rf "$dir"
mkdir -p "$dir"

tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(interop interop_go chunking)

for t in "${tests[@]}"; do
  echo "interop-matrix: cargo test --release --test $t" >&2
  cargo test --release --test "$t" >"$dir/$t.log" 2>&1 || true
done

# interop.rs: test names are CASE::SERVER, tls::CASE::SERVER, SERVER_CASE or tls::SERVER_CASE.
if [ -f "$dir/interop.log" ]; then
  awk '
    /^test .* \.\.\. (ok|FAILED)$/ {
      name = $2; verdict = ($NF == "ok") ? "PASS" : "FAIL"
      mode = "h2c"
      if (name ~ /^tls::/) { mode = "TLS"; sub(/^tls::/, "", name) }
      n = split(name, p, "::")
      if (n == 2) { kase = p[1]; peer = p[2] }
      else { peer = name; sub(/_.*/, "", peer); kase = name; sub(/^[^_]*_/, "", kase) }
      printf "%s\t%s\t%s\t%s\n", peer, mode, kase, verdict
    }' "$dir/interop.log" >>"$dir/results.tsv"
fi

if [ ! -s "$dir/results.tsv" ]; then
  echo "interop-matrix: no results (see the logs in $dir)" >&2
  exit 1
fi

awk -F '\t' '
  BEGIN {
    ncol = split("nghttpd h2c,nghttpd TLS,h2o h2c,h2o TLS,nginx h2c,nginx TLS,go TLS,testserver h2c,testserver TLS", order, ",")
  }
  {
    col = $1 " " $2
    if (!(col in seen_col)) { seen_col[col] = 1; extra[++nextra] = col }
    if (!($3 in seen_row)) { seen_row[$3] = 1; rows[++nrows] = $3 }
    k = $3 SUBSEP col
    if (!(k in cell) || $4 == "FAIL") cell[k] = $4
    if ($4 == "FAIL") failed++
  }
  END {
    # Columns: the known ones in their order, then any other.
    for (i = 1; i <= ncol; i++) if (order[i] in seen_col) { cols[++nc] = order[i]; used[order[i]] = 1 }
    for (i = 1; i <= nextra; i++) if (!(extra[i] in used)) cols[++nc] = extra[i]
    line = "| case |"; sep = "|---|"
    for (c = 1; c <= nc; c++) { line = line " " cols[c] " |"; sep = sep "---|" }
    print line; print sep
    for (r = 1; r <= nrows; r++) {
      line = "| " rows[r] " |"
      for (c = 1; c <= nc; c++) {
        k = rows[r] SUBSEP cols[c]
        line = line " " ((k in cell) ? cell[k] : "—") " |"
      }
      print line
    }
    exit failed > 0
  }' "$dir/results.tsv" | tee "$dir/matrix.md"
status=${PIPESTATUS[0]}
echo "interop-matrix: $(grep -c PASS "$dir/results.tsv") passed, $(grep -c FAIL "$dir/results.tsv") failed; logs in $dir" >&2
exit "$status"
