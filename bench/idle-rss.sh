#!/usr/bin/env bash
# Idle daemon memory: RSS of `clankerd run` with a 100-check heartbeat, against the same
# daemon with a 1-check heartbeat measured in the same run (the baseline).
#
#   bench/idle-rss.sh [SECONDS_TO_SETTLE]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
settle=${1:-5}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/clankerd" ./cmd/clankerd

# Items spread over the three probes, scheduled hourly so the daemon is idle.
{
  echo "## Hourly"
  for i in $(seq 1 100); do
    case $((i % 3)) in
      0) echo "- \`http.status\` url=http://127.0.0.1:9/item$i expect=200" ;;
      1) echo "- \`tcp.connect\` addr=127.0.0.1:$((20000 + i))" ;;
      2) echo "- \`tls.expiry\` addr=127.0.0.1:$((30000 + i)) warn=14d" ;;
    esac
  done
} > "$work/hb100.md"
printf '## Hourly\n- `tcp.connect` addr=127.0.0.1:9\n' > "$work/hb1.md"

rss_of() { # heartbeat → RSS in KiB after the daemon settled
  local state="$work/state-$(basename "$1")"
  "$work/clankerd" --state-dir "$state" --log-level error run --heartbeat "$1" &
  local pid=$!
  for _ in $(seq 1 100); do [ -S "$state/clankerd.sock" ] && break; sleep 0.1; done
  sleep "$settle"
  awk '/^VmRSS/ {r=$2} /^RssAnon/ {a=$2} END {print r, a}' "/proc/$pid/status"
  kill -TERM "$pid"; wait "$pid" || true
}

read -r base base_anon <<<"$(rss_of "$work/hb1.md")"
read -r full full_anon <<<"$(rss_of "$work/hb100.md")"
awk -v b="$base" -v f="$full" -v ba="$base_anon" -v fa="$full_anon" 'BEGIN {
  printf "idle RSS, 1 check (baseline): %.1f MiB (private %.1f MiB)\n", b/1024, ba/1024
  printf "idle RSS, 100 checks:         %.1f MiB (private %.1f MiB; %.2fx the baseline; goal <= 30 MiB)\n", f/1024, fa/1024, f/b
}'
