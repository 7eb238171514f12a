#!/usr/bin/env bash
# Kubernetes scan benchmark: every k8s check in one `clankerd check`, against
# `kubectl get ... -A -o json` of the same kinds on the same test apiserver, paired run
# by run with farm-bench; then the daemon's ticks served from its informer cache.
#
#   bench/kube-bench.sh [PODS DEPLOYMENTS SERVICES]   (default 10000 2000 500)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
pods=${1:-10000} deps=${2:-2000} svcs=${3:-500}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; scripts/kube-testenv stop "$work/cluster" || true; rm -rf "$work"' EXIT

scripts/kube-testenv build >/dev/null
scripts/kube-testenv start "$work/cluster"
export KUBECONFIG="$work/cluster/kubeconfig"
go build -o "$work/clankerd" ./cmd/clankerd
echo "== loading $pods pods, $deps deployments, $svcs services"
start=$(date +%s)
go run ./internal/testenv/kubetest/kubeplant load "$pods" "$deps" "$svcs"
echo "loaded in $(( $(date +%s) - start ))s"

# Every Kubernetes check this build knows (new checks join by themselves), on defaults.
kube_heartbeat "$work/clankerd" > "$work/hb.md"

echo "== API requests of one clankerd check"
"$work/clankerd" --state-dir "$work/state-count" --log-level debug check "$work/hb.md" >/dev/null 2>"$work/count.log" || true
grep -o 'msg="kubernetes API requests" requests=[0-9]*' "$work/count.log" || echo "(no request count logged)"
grep -c '"fingerprint"' <("$work/clankerd" --state-dir "$work/state-count" check "$work/hb.md" -o json) | sed 's/^/findings: /' || true

echo "== clankerd check (A) vs kubectl get -A -o json (B)"
farm-bench -n 5 --timeout 900 \
  --vs "sh -c 'exec kubectl get pods,deployments,statefulsets,daemonsets,services,nodes,pvc,jobs -A -o json >/dev/null'" \
  -- "$work/clankerd" --state-dir "$work/state" --log-level error check "$work/hb.md" -o json

echo "== daemon: ticks served from the informer cache"
sed 's/## Hourly/## Every 10 seconds/' "$work/hb.md" > "$work/hb-daemon.md"
"$work/clankerd" --state-dir "$work/state-daemon" --log-level error run --heartbeat "$work/hb-daemon.md" &
daemon=$!
sleep 45
"$work/clankerd" --state-dir "$work/state-daemon" runs --limit 0 -o json > "$work/runs.json"
awk '/^VmRSS/ {printf "daemon RSS with informers on this cluster: %.0f MiB\n", $2/1024}' "/proc/$daemon/status"
python3 - "$work/runs.json" <<'PY'
import json, sys
from datetime import datetime
runs = json.load(open(sys.argv[1]))["runs"]
def ms(r):
    f = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
    return (f(r["ended"]) - f(r["started"])).total_seconds() * 1000
ticks = sorted({r["scheduled"] for r in runs})
first, later = ticks[0], ticks[1:]
cold = [ms(r) for r in runs if r["scheduled"] == first]
warm = sorted(ms(r) for r in runs if r["scheduled"] in later)
print(f"first tick (informers sync): max {max(cold):.0f} ms per check")
if warm:
    print(f"later ticks ({len(later)} ticks, {len(warm)} runs): median {warm[len(warm)//2]:.1f} ms, max {warm[-1]:.1f} ms per check")
PY
kill -TERM "$daemon"; wait "$daemon" || true
