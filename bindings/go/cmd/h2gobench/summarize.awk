# summarize.awk: medians over the rounds of vs-nethttp.sh's output, per configuration and
# client: req/s and CPU us/request, and their ratios to net/http's medians.
#   awk -f summarize.awk run.txt
/^== / { cfg = $2 " " $4; next }
/h2gobench: / {
    line = $0
    who = "nethttp"
    if (line ~ /^[^ ]+: h2gobench: streaming/) { who = line; sub(/:.*/, "", who) }
    match(line, /, [0-9]+ req\/s/); rps = substr(line, RSTART + 2, RLENGTH - 8) + 0
    match(line, /\([0-9.]+ us\/req\)/); cpu = substr(line, RSTART + 1, RLENGTH - 9) + 0
    k = cfg SUBSEP who
    if (!(k in n)) { order[++nk] = k }
    n[k]++; R[k, n[k]] = rps; C[k, n[k]] = cpu
}
function median(A, k, m,   i, j, t, v) {
    for (i = 1; i <= m; i++) v[i] = A[k, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
}
END {
    for (i = 1; i <= nk; i++) {
        k = order[i]; split(k, p, SUBSEP)
        mr[k] = median(R, k, n[k]); mc[k] = median(C, k, n[k])
    }
    printf "%-14s %-22s %10s %12s %8s %8s\n", "config", "client", "req/s", "CPU us/req", "req/s x", "CPU x"
    for (i = 1; i <= nk; i++) {
        k = order[i]; split(k, p, SUBSEP); base = p[1] SUBSEP "nethttp"
        printf "%-14s %-22s %10.0f %12.2f %8.2f %8.2f\n", p[1], p[2], mr[k], mc[k], mr[k] / mr[base], mc[k] / mc[base]
    }
}
