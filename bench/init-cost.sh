#!/usr/bin/env bash
# What package initialisers cost, and what the idle daemon keeps resident, by package.
#
#   bench/init-cost.sh [BUILD] [TOP]   (BUILD: default, noaws, nokube, both; TOP: 15)
#
# 1. GODEBUG=inittrace=1 clankerd version: the packages whose init took the most clock
#    time and allocated the most, and the totals per module (median of 5 runs).
# 2. The idle daemon (100 checks, the binary dropped from the page cache first, as in
#    bench/idle-rss.sh): which packages and modules the resident pages of the binary
#    belong to (bench/rsspages reads /proc/PID/pagemap). That is what the
#    initialisers made the process touch: their code, the type descriptors and the
#    runtime tables (pclntab) of what ran, and the neighbouring pages the kernel maps
#    along (fault-around, 64 KiB at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-default}
top=${2:-15}
case $build in
  default) tags="" ;;
  noaws) tags=clankerd_noaws ;;
  nokube) tags=clankerd_nokube ;;
  both) tags=clankerd_noaws,clankerd_nokube ;;
  *) echo "unknown build $build: use default, noaws, nokube or both" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
bin=$work/clankerd
go build -tags "$tags" -o "$bin" ./cmd/clankerd
go build -o "$work/rsspages" ./bench/rsspages

# Module paths of the binary, for the per-module totals.
go version -m "$bin" | awk '$1 == "dep" || $1 == "mod" {print $2}' > "$work/modules"

for i in 1 2 3 4 5; do
  GODEBUG=inittrace=1 "$bin" version 2>&1 >/dev/null | awk -v run="$i" '$1 == "init" {print run, $2, $5, $8}'
done > "$work/trace"
# package → median clock (ms) and bytes over the runs
awk '{print $2, $3, $4}' "$work/trace" | sort -k1,1 -k2,2n | awk '
  function flush() { if (n) printf "%s %s %s\n", pkg, c[int((n+1)/2)], b[int((n+1)/2)] }
  $1 != pkg { flush(); pkg = $1; n = 0 }
  { n++; c[n] = $2; b[n] = $3 }
  END { flush() }' > "$work/median"

echo "== package initialisers of the $build build (GODEBUG=inittrace=1, median of 5 runs)"
awk '{n++; t += $2; a += $3} END {printf "%d packages with init work: %.1f ms, %.1f MiB allocated\n", n, t, a/1048576}' "$work/median"
echo
echo "by clock time:"
sort -k2,2nr "$work/median" | awk -v top="$top" 'NR <= top {printf "  %6.2f ms  %8.0f KiB  %s\n", $2, $3/1024, $1}'
echo
echo "by bytes allocated:"
sort -k3,3nr "$work/median" | awk -v top="$top" 'NR <= top {printf "  %8.0f KiB  %6.2f ms  %s\n", $3/1024, $2, $1}'
echo
echo "by module:"
awk 'NR == FNR {mods[++m] = $1; next}
  { mod = "std"
    for (i = 1; i <= m; i++) if ((index($1, mods[i]) == 1) && (length($1) == length(mods[i]) || substr($1, length(mods[i]) + 1, 1) == "/") && length(mods[i]) > length(best)) { best = mods[i] }
    if (best != "") mod = best; best = ""
    t[mod] += $2; a[mod] += $3 }
  END { for (k in t) printf "%s %.2f %d\n", k, t[k], a[k] }' "$work/modules" "$work/median" |
  sort -k3,3nr | awk -v top="$top" 'NR <= top {printf "  %8.0f KiB  %6.2f ms  %s\n", $3/1024, $2, $1}'

echo
echo "== resident pages of the idle daemon's binary ($build build, 100 checks, cold page cache)"
heartbeats "$work"
cache "$bin" cold
idle_daemon "$bin" "$work/hb100.md" "$work/state" 5
pid=$daemon_pid
read -r total private <<<"$(rss "$pid")"
awk -v r="$total" -v a="$private" 'BEGIN {printf "RSS %.1f MiB, private %.1f MiB\n", r/1024, a/1024}'
"$work/rsspages" -top "$top" "$pid" "$bin"
kill -TERM "$pid"; wait "$pid" || true
