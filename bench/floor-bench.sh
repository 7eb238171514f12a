#!/usr/bin/env bash
# clankerd's Kubernetes checks against the physical floor (issue 14): `clankerd check` of every
# k8s.* check and bench/kubefloor on the same loaded test apiserver, paired round by round, and
# optionally a second clankerd build (BASE) in the same rounds, with its findings compared.
#
#   bench/floor-bench.sh [PODS DEPLOYMENTS SERVICES]   (default 10000 2000 500)
#
# Each round runs the floor, then BASE's clankerd (when given), then this tree's clankerd, each
# under /usr/bin/time with a fresh state directory, after one warm-up round; medians, and ratios
# to the floor taken round by round. Every binary's page cache is dropped once before the rounds
# (bench/lib.sh `cache cold`), so builds of different ages start alike. It prints a markdown
# table, each clankerd's own API request count, and whether BASE and this tree report the same
# findings (fingerprints, summaries, evidence).
#
# Environment: RUNS (default 5); CLANKERD_BIN=path reuses a built clankerd; BASE=rev builds
# that revision too (in a temporary worktree), or BASE_BIN=path uses a built one.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
kube_load_args "$@"
work=$(mktemp -d)
trap 'scripts/kube-testenv stop "$work/load" 2>/dev/null || true; [ -z "${base_tree:-}" ] || git worktree remove --force "$base_tree"; rm -rf "$work"' EXIT

scripts/kube-testenv build >/dev/null
clankerd=${CLANKERD_BIN:-$work/clankerd}
[ -n "${CLANKERD_BIN:-}" ] || go build -o "$clankerd" ./cmd/clankerd
base=${BASE_BIN:-}
if [ -z "$base" ] && [ -n "${BASE:-}" ]; then
  base_tree=$work/base-tree
  git worktree add --detach "$base_tree" "$BASE" >/dev/null
  (cd "$base_tree" && go build -o "$work/clankerd-base" ./cmd/clankerd)
  base=$work/clankerd-base
fi
go build -o "$work/kubefloor" ./bench/kubefloor
go build -o "$work/kubeplant" ./internal/testenv/kubetest/kubeplant
kube_heartbeat "$clankerd" > "$work/hb.md"

scripts/kube-testenv start "$work/load" 2>/dev/null
export KUBECONFIG="$work/load/kubeconfig"
"$work/kubeplant" load "$pods" "$deps" "$svcs"

# check NAME BINARY ARGS...: one clankerd check of the heartbeat with a fresh state directory.
check() {
  rm -rf "$work/state-$1"
  "$2" --state-dir "$work/state-$1" "${@:3}" check "$work/hb.md" -o json
}
# findings NAME BINARY: the findings as JSON without times (what must not change).
findings() {
  { check "$1" "$2" --log-level error 2>/dev/null || true; } | python3 -c '
import json, sys
d = json.load(sys.stdin)
for r in d["results"]:
    r.pop("duration_ms", None)
    for f in r["findings"]:
        f.pop("first_seen", None); f.pop("last_seen", None)
print(json.dumps(d["results"], indent=1, sort_keys=True))'
}
requests() {
  { check count "$1" --log-level debug || true; } 2>&1 >/dev/null | grep -o 'msg="kubernetes API requests" requests=[0-9]*' | grep -o '[0-9]*$' || echo -
}

names="floor clankerd"
[ -z "$base" ] || names="floor base clankerd"
bin() { case $1 in base) echo "$base" ;; clankerd) echo "$clankerd" ;; esac; }
echo "== $(grep -c '^- ' "$work/hb.md") checks on $pods pods, $deps Deployments, $svcs Services; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$base" ]; then
  findings base "$base" > "$work/findings-base.json"
  findings clankerd "$clankerd" > "$work/findings-clankerd.json"
  if cmp -s "$work/findings-base.json" "$work/findings-clankerd.json"; then
    echo "findings: identical ($(grep -c '"fingerprint"' "$work/findings-clankerd.json") findings)"
  else
    echo "findings: DIFFERENT"; diff "$work/findings-base.json" "$work/findings-clankerd.json" | head -40
  fi
fi
for t in $names; do
  if [ "$t" = floor ]; then cache "$work/kubefloor" cold; else cache "$(bin "$t")" cold; echo "$t: $(requests "$(bin "$t")") API requests (its own count)"; fi
done
: > "$work/times.tsv"
for round in $(seq 0 "$runs"); do
  for t in $names; do
    if [ "$t" = floor ]; then
      /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$work/kubefloor" >/dev/null 2>&1 || true
    else
      rm -rf "$work/state-$t"
      /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$(bin "$t")" --state-dir "$work/state-$t" --log-level error check "$work/hb.md" -o json >/dev/null 2>&1 || true
    fi
    [ "$round" -eq 0 ] || echo "$t $round $(tail -1 "$work/time")" >> "$work/times.tsv"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work/times.tsv" <<'EOF'
import statistics, sys
rounds, order = {}, []
for line in open(sys.argv[1]):
    t, r, wall, user, sys_, rss = line.split()
    order += [t] if t not in order else []
    rounds.setdefault(r, {})[t] = (float(wall), float(user) + float(sys_), int(rss) / 1024)
med = statistics.median
print("| command | wall | CPU | peak RSS | wall / floor (each round) | CPU / floor | peak / floor |")
print("|---|---|---|---|---|---|---|")
for t in order:
    col = lambda k: [v[t][k] for v in rounds.values()]
    ratio = lambda k: [v[t][k] / v["floor"][k] for v in rounds.values()]
    print("| %s | %.2f s | %.2f s | %.1f MiB (%.1f–%.1f) | %.2f× (%s) | %.2f× | %.2f× |" % (
        t, med(col(0)), med(col(1)), med(col(2)), min(col(2)), max(col(2)),
        med(ratio(0)), " ".join("%.2f" % x for x in ratio(0)), med(ratio(1)), med(ratio(2))))
EOF
