#!/usr/bin/env bash
# Change tracking (issue 15): what the change-tracking checks add to a round. The same
# `clankerd check` round with and without them, run in turn round after round (RUNS rounds
# after a warm-up round that also records the baselines), each under /usr/bin/time; medians,
# and ratios taken round by round; plus the API requests of each.
#
#   bench/changes-bench.sh [PODS DEPLOYMENTS SERVICES GROUPS]   (default 10000 2000 500 1000)
#
# 1. Kubernetes: the test apiserver loaded with `kubeplant load`, every k8s check with and
#    without k8s.changes.exposure and k8s.changes.access.
# 2. AWS: moto_server loaded with GROUPS security groups (`awsplant load GROUPS 0 0`), every
#    AWS check but the Cost Explorer ones, with and without aws.changes.exposure and
#    aws.changes.access.
# Environment: CLANKERD_BIN=path reuses a built clankerd; RUNS (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
pods=${1:-10000} deps=${2:-2000} svcs=${3:-500} groups=${4:-1000}
runs=${RUNS:-5}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; scripts/kube-testenv stop "$work/cluster" 2>/dev/null || true; rm -rf "$work"' EXIT
clankerd=${CLANKERD_BIN:-$work/clankerd}
[ -n "${CLANKERD_BIN:-}" ] || go build -o "$clankerd" ./cmd/clankerd
go build -o "$work/kubeplant" ./internal/testenv/kubetest/kubeplant
go build -o "$work/awsplant" ./internal/testenv/awstest/awsplant

# pair NAME WITHOUT_HB WITH_HB: the two rounds in turn, times to $work/NAME.tsv.
pair() {
  local name=$1 without=$2 with=$3
  : > "$work/$name.tsv"
  for round in $(seq 0 "$runs"); do
    for v in without with; do
      local hb=$without
      [ "$v" = with ] && hb=$with
      /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$clankerd" --state-dir "$work/state-$name-$v" --log-level error check "$hb" -o json >/dev/null 2>&1 || true
      [ "$round" -eq 0 ] || echo -e "$v\t$round\t$(tail -1 "$work/time" | tr ' ' '\t')" >> "$work/$name.tsv"
    done
  done
}
# table NAME TITLE REQ_WITHOUT REQ_WITH
table() {
  python3 - "$work/$1.tsv" "$2" "$3" "$4" <<'PY'
import sys, statistics as st
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
by = {}
for v, rnd, wall, user, sys_, peak in rows:
    by.setdefault(v, {})[rnd] = (float(wall), float(user) + float(sys_), int(peak) / 1024)
med = lambda v, i: st.median(x[i] for x in by[v].values())
ratio = lambda i: st.median(by["with"][r][i] / by["without"][r][i] for r in by["with"] if r in by["without"] and by["without"][r][i] > 0)
print(f"\n{sys.argv[2]} ({len(by['with'])} rounds, medians)\n")
print("| | without the change-tracking checks | with them | ratio (round by round) |")
print("|---|---|---|---|")
print(f"| wall | {med('without', 0):.2f} s | {med('with', 0):.2f} s | {ratio(0):.2f}× |")
print(f"| CPU | {med('without', 1):.2f} s | {med('with', 1):.2f} s | {ratio(1):.2f}× |")
print(f"| peak RSS | {med('without', 2):.0f} MiB | {med('with', 2):.0f} MiB | {ratio(2):.2f}× |")
print(f"| API requests | {sys.argv[3]} | {sys.argv[4]} | |")
PY
}

echo "== 1. Kubernetes: $pods pods, $deps deployments, $svcs services"
scripts/kube-testenv build >/dev/null
scripts/kube-testenv start "$work/cluster" 2>/dev/null
export KUBECONFIG="$work/cluster/kubeconfig"
"$work/kubeplant" load "$pods" "$deps" "$svcs"
kube_heartbeat "$clankerd" > "$work/kube-with.md"
grep -v 'k8s\.changes\.' "$work/kube-with.md" > "$work/kube-without.md"
echo "with: $(grep -c '^- ' "$work/kube-with.md") checks, without: $(grep -c '^- ' "$work/kube-without.md")"
kreq() {
  "$clankerd" --state-dir "$work/state-req-$1" --log-level debug check "$2" >/dev/null 2>"$work/req.log" || true
  grep -o 'msg="kubernetes API requests" requests=[0-9]*' "$work/req.log" | grep -o '[0-9]*$' || echo -
}
kw=$(kreq without "$work/kube-without.md") kt=$(kreq with "$work/kube-with.md")
pair kube "$work/kube-without.md" "$work/kube-with.md"
"$clankerd" --state-dir "$work/state-kube-with" baseline show | sed 's/^/  /'
table kube "Kubernetes, $pods pods" "$kw" "$kt"
scripts/kube-testenv stop "$work/cluster" 2>/dev/null
unset KUBECONFIG

echo
echo "== 2. AWS: $groups security groups on moto"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
for _ in $(seq 50); do curl -s "$AWS_ENDPOINT_URL/moto-api/" >/dev/null && break; sleep 0.2; done
"$work/awsplant" load "$AWS_ENDPOINT_URL" "$groups" 0 0
{
  echo "## Hourly"
  "$clankerd" lint --list -o json | python3 -c '
import json, sys
for c in sorted(json.load(sys.stdin)["checks"], key=lambda c: c["id"]):
    if c["kind"] == "check" and c["id"].startswith("aws.") and not c["id"].startswith("aws.cost.") \
       and not any(p.get("required") for p in c.get("params", [])):
        print("- `%s` timeout=10m" % c["id"])
'
} > "$work/aws-with.md"
grep -v 'aws\.changes\.' "$work/aws-with.md" > "$work/aws-without.md"
echo "with: $(grep -c '^- ' "$work/aws-with.md") checks, without: $(grep -c '^- ' "$work/aws-without.md")"
areq() {
  "$clankerd" --state-dir "$work/state-req-$1" --log-level debug check "$2" >/dev/null 2>"$work/req.log" || true
  grep -o 'msg="AWS API requests" requests=[0-9]*' "$work/req.log" | grep -o '[0-9]*$' || echo -
}
aw=$(areq without "$work/aws-without.md") at=$(areq with "$work/aws-with.md")
pair aws "$work/aws-without.md" "$work/aws-with.md"
"$clankerd" --state-dir "$work/state-aws-with" baseline show | sed 's/^/  /'
table aws "AWS, $groups security groups" "$aw" "$at"
