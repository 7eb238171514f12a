#!/usr/bin/env bash
# Kubernetes checks against the peers (issue 14): clankerd, k8sgpt and Popeye on the same test
# apiserver (real kube-apiserver + etcd, scripts/kube-testenv), next to two yardsticks: kubectl's
# JSON list of the kinds clankerd reads (the baseline of the ratios) and the physical floor
# (bench/kubefloor: one paginated protobuf LIST per kind, each page discarded at once).
#
#   bench/peers-bench.sh [PODS DEPLOYMENTS SERVICES]   (default 10000 2000 500)
#
# 1. Detection: a fresh apiserver holding only the planted fixture (bench/testdata/peers); each
#    tool runs once; the score is how many planted problems each finds and how many findings it
#    reports on healthy objects (expect.tsv).
# 2. Cost: a second apiserver loaded with `kubeplant load PODS DEPLOYMENTS SERVICES`; the five
#    commands run in turn, round after round (RUNS rounds after one warm-up round), each under
#    /usr/bin/time; medians, and ratios taken round by round; the API requests each sends.
# Both print a markdown table ready for bench/README.md.
#
# Environment: CLANKERD_BIN=path reuses a built clankerd; RUNS (default 5). The peers come from
# scripts/peers-install (built from the Go module proxy into the test cache when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
kube_load_args "$@"
work=$(mktemp -d)
trap 'scripts/kube-testenv stop "$work/fixture" 2>/dev/null || true; scripts/kube-testenv stop "$work/load" 2>/dev/null || true; rm -rf "$work"' EXIT

scripts/kube-testenv build >/dev/null
scripts/peers-install build
peers=$(scripts/peers-install bin)
clankerd=${CLANKERD_BIN:-$work/clankerd}
[ -n "${CLANKERD_BIN:-}" ] || go build -o "$clankerd" ./cmd/clankerd
go build -o "$work/kubefloor" ./bench/kubefloor
go build -o "$work/kubeplant" ./internal/testenv/kubetest/kubeplant

# Every Kubernetes check this build knows (new checks join by themselves), hourly, with its
# defaults; checks with a required parameter cannot run on defaults and are left out.
kube_heartbeat "$clankerd" > "$work/hb.md"
echo "== $(grep -c '^- ' "$work/hb.md") clankerd checks: $(grep -o 'k8s\.[a-z.]*' "$work/hb.md" | tr '\n' ' ')"

# The kinds clankerd reads with every check enabled (kubefloor's default), in kubectl's words;
# kubectl lists configmaps and secrets whole and every event, where clankerd and the floor
# take metadata, TLS secrets and Warning events only.
kinds=pods,deployments,statefulsets,daemonsets,nodes,persistentvolumeclaims,services,endpointslices,jobs,cronjobs,ingresses,clusterroles,clusterrolebindings,rolebindings,events,ingressclasses,horizontalpodautoscalers.autoscaling,poddisruptionbudgets,resourcequotas,persistentvolumes,configmaps,secrets,serviceaccounts,validatingwebhookconfigurations,mutatingwebhookconfigurations

# k8sgpt: no AI backend (--explain=false), its core analyzers plus its HPA and PDB analyzers
# (the classes of this issue; NetworkPolicy is a best-practice note and Log needs a kubelet).
k8sgpt_filters=Pod,Deployment,ReplicaSet,PersistentVolumeClaim,Service,Ingress,StatefulSet,CronJob,Node,ValidatingWebhookConfiguration,MutatingWebhookConfiguration,HorizontalPodAutoScaler,PodDisruptionBudget

# tool NAME: the command line of one tool, its results on stdout.
tool() {
  case $1 in
    kubectl) echo "kubectl get $kinds -A -o json" ;;
    floor) echo "$work/kubefloor" ;;
    clankerd) echo "$clankerd --state-dir $work/state-$cluster --log-level error check $work/hb.md -o json" ;;
    k8sgpt) echo "env HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_CACHE_HOME=$work/home/.cache $peers/k8sgpt analyze --explain=false --no-cache -o json --filter $k8sgpt_filters" ;;
    popeye) echo "env HOME=$work/home $peers/popeye -A -o json --force-exit-zero" ;;
  esac
}
mkdir -p "$work/home/.config" "$work/home/.cache"

# requests NAME: runs the tool once and prints the API requests it sent, read from the
# apiserver's own request counter (apiserver_request_total, which does not count the scrapes;
# nothing else talks to this apiserver meanwhile but its own loops, a request every few
# seconds).
requests() {
  local before after
  before=$(apiserver_requests)
  $(tool "$1") >/dev/null 2>&1 || true
  after=$(apiserver_requests)
  echo $((after - before))
}
apiserver_requests() {
  kubectl get --raw /metrics | awk '/^apiserver_request_total\{/ {n += $NF} END {printf "%d\n", n}'
}

echo "== 1. planted fixture: what each tool finds"
cluster=fixture
scripts/kube-testenv start "$work/fixture" 2>/dev/null
export KUBECONFIG="$work/fixture/kubeconfig"
"$work/kubeplant" fixture bench/testdata/peers
for t in clankerd k8sgpt popeye; do
  $(tool $t) > "$work/fixture-$t.json" 2>"$work/fixture-$t.log" || true
done
python3 bench/peers.py score bench/testdata/peers/expect.tsv \
  "$work/fixture-clankerd.json" "$work/fixture-k8sgpt.json" "$work/fixture-popeye.json"
scripts/kube-testenv stop "$work/fixture"

echo
echo "== 2. cost on $pods pods, $deps deployments, $svcs services"
cluster=load
scripts/kube-testenv start "$work/load" 2>/dev/null
export KUBECONFIG="$work/load/kubeconfig"
start=$(date +%s)
"$work/kubeplant" load "$pods" "$deps" "$svcs"
echo "loaded in $(($(date +%s) - start))s"
tools="kubectl floor clankerd k8sgpt popeye"
: > "$work/requests.tsv"
for t in $tools; do echo -e "$t\t$(requests "$t")" >> "$work/requests.tsv"; done
"$clankerd" --state-dir "$work/state-count" --log-level debug check "$work/hb.md" >/dev/null 2>"$work/count.log" || true
echo -e "clankerd-self\t$(grep -o 'msg="kubernetes API requests" requests=[0-9]*' "$work/count.log" | grep -o '[0-9]*$' || echo -)" >> "$work/requests.tsv"
: > "$work/times.tsv"
for round in $(seq 0 "$runs"); do
  for t in $tools; do
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" $(tool "$t") >/dev/null 2>&1 || true
    [ "$round" -eq 0 ] || echo -e "$t\t$round\t$(tail -1 "$work/time" | tr ' ' '\t')" >> "$work/times.tsv"
  done
done
python3 bench/peers.py table "$work/times.tsv" "$work/requests.tsv" "$pods" "$deps" "$svcs"
