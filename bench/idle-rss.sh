#!/usr/bin/env bash
# Idle daemon memory and binary size, for the default build and the lean builds.
#
# For each build (default, clankerd_noaws, clankerd_nokube, both tags; each plain and
# as a release build with -trimpath -ldflags="-s -w") it prints the binary's size and
# the RSS of `clankerd run` with a 100-check heartbeat after it settled, total and
# private (anonymous: heap, stacks), as a markdown table. The baseline, measured in
# the same run, is the default plain build with 100 checks: every row gives its cold
# RSS as a ratio to it (the same build with a 1-check heartbeat shows what the checks
# cost).
#
# Most of the RSS of an idle Go daemon is the binary's own file-backed pages, and how
# many of them the kernel maps depends on the page cache, not only on the binary: the
# kernel maps whole page-cache folios (and fault-around neighbours), and a binary that
# was read sequentially (copied, checksummed) sits in the cache in large folios, up to
# 2 MiB that are mapped whole. So every figure is taken twice:
#   cold: the binary is dropped from the page cache first (a daemon started at boot);
#   warm: the binary was read sequentially into the cache first (the worst case).
# Only this script's own copy of the binary is dropped or read.
#
#   bench/idle-rss.sh [SECONDS_TO_SETTLE]   (default 5)
#   BUILDS="default both" bench/idle-rss.sh   (a subset: default noaws nokube both)
#   BASE=REV bench/idle-rss.sh                (also the default build of git revision REV,
#                                              to measure a change against its parent)
#   REPEAT=N bench/idle-rss.sh                (daemons started per figure, default 3; the
#                                              median is shown)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
settle=${1:-5}
builds=${BUILDS:-default noaws nokube both}
base_rev=${BASE:-}
repeat=${REPEAT:-3}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

tags_of() {
  case $1 in
    default) echo "" ;;
    noaws) echo clankerd_noaws ;;
    nokube) echo clankerd_nokube ;;
    both) echo clankerd_noaws,clankerd_nokube ;;
    *) echo "unknown build $1: use default, noaws, nokube or both" >&2; exit 2 ;;
  esac
}

heartbeats "$work"

# rss_of BINARY HEARTBEAT → "TOTAL PRIVATE" in KiB after the daemon settled.
rss_of() {
  idle_daemon "$1" "$2" "$(mktemp -d "$work/state.XXXX")" "$settle"
  rss "$daemon_pid"
  kill -TERM "$daemon_pid"; wait "$daemon_pid" || true
}

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }

echo "building ($builds; plain and -trimpath -ldflags=\"-s -w\")..." >&2
go build -o "$work/default" ./cmd/clankerd
for b in $builds; do
  tags=$(tags_of "$b")
  [ "$b" = default ] || go build -tags "$tags" -o "$work/$b" ./cmd/clankerd
  go build -tags "$tags" -trimpath -ldflags="-s -w" -o "$work/$b-sw" ./cmd/clankerd
done
if [ -n "$base_rev" ]; then
  mkdir "$work/src"
  git archive "$base_rev" | tar -x -C "$work/src"
  (cd "$work/src" && go build -o "$work/base" ./cmd/clankerd)
fi

# row NAME BINARY HEARTBEAT: a table row, each figure the median of $repeat daemons
# (by total RSS, with the private memory of the same daemon), and the cold RSS as a
# ratio to $ref (KiB); leaves the row's cold RSS in $cold.
row() {
  local line="| $1 | $(awk -v s="$(stat -c %s "$2")" 'BEGIN {printf "%.1f MB", s/1e6}')"
  for state in cold warm; do
    read -r rss anon <<<"$(for _ in $(seq 1 "$repeat"); do cache "$2" "$state"; rss_of "$2" "$3"; done |
      sort -n | awk '{line[NR] = $0} END {print line[int((NR + 1) / 2)]}')"
    line="$line | $(mib "$rss") MiB ($(mib "$anon"))"
    if [ "$state" = cold ]; then cold=$rss; fi
  done
  echo "$line | $(awk -v a="$cold" -v b="${ref:-$cold}" 'BEGIN {printf "%.2f", a/b}') |"
}

echo "| build, heartbeat | size | cold: RSS (private) | warm: RSS (private) | cold RSS / default's |"
echo "|---|---|---|---|---|"
ref=""
row "default, 100 checks" "$work/default" "$work/hb100.md"
ref=$cold
row "default, 1 check" "$work/default" "$work/hb1.md"
if [ -n "$base_rev" ]; then
  row "default at $base_rev, 100 checks" "$work/base" "$work/hb100.md"
fi
for b in $builds; do
  if [ "$b" != default ]; then
    row "$b, 100 checks" "$work/$b" "$work/hb100.md"
  fi
  row "$b -trimpath -s -w, 100 checks" "$work/$b-sw" "$work/hb100.md"
done
echo "goal: idle RSS <= 30 MiB with 100 checks (default build)"
