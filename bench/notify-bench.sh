#!/usr/bin/env bash
# Notification delivery under load: a daemon with 500 http.status checks firing every
# minute, 10% of them failing (a different 10% each minute, so every minute brings news
# of new and resolved findings), delivering to a local webhook; against the same daemon
# with no notification targets, measured in the same run (the baseline).
#
#   bench/notify-bench.sh [DURATION]   (default 3m30s per configuration)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-3m30s}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/clankerd" ./cmd/clankerd
go build -o "$work/notifybench" ./bench/notifybench
"$work/notifybench" -clankerd "$work/clankerd" -checks 500 -failing 0.1 -duration "$duration"
