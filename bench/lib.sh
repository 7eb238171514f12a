# Shared by the bench scripts (sourced): the heartbeats, the page-cache state of the
# binary, and starting an idle daemon.

# heartbeats DIR: writes DIR/hb100.md, 100 items spread over the three probes, and
# DIR/hb1.md, one item; both hourly, so the daemon is idle.
heartbeats() {
  {
    echo "## Hourly"
    for i in $(seq 1 100); do
      case $((i % 3)) in
        0) echo "- \`http.status\` url=http://127.0.0.1:9/item$i expect=200" ;;
        1) echo "- \`tcp.connect\` addr=127.0.0.1:$((20000 + i))" ;;
        2) echo "- \`tls.expiry\` addr=127.0.0.1:$((30000 + i)) warn=14d" ;;
      esac
    done
  } > "$1/hb100.md"
  printf '## Hourly\n- `tcp.connect` addr=127.0.0.1:9\n' > "$1/hb1.md"
}

# cache BINARY cold|warm: puts the binary's page cache in a known state. cold drops
# it (GNU dd: the whole file), as for a daemon started at boot; warm reads the binary
# sequentially into the cache first, so it sits there in large folios (the worst
# case). Only this one file is touched.
cache() {
  dd if="$1" iflag=nocache count=0 status=none
  if [ "$2" = warm ]; then cat "$1" > /dev/null; fi
}

# idle_daemon BINARY HEARTBEAT STATE_DIR SETTLE: starts `clankerd run`, waits for its
# control socket and SETTLE seconds more, and leaves its pid in $daemon_pid.
idle_daemon() {
  "$1" --state-dir "$3" --log-level error run --heartbeat "$2" &
  daemon_pid=$!
  for _ in $(seq 1 100); do [ -S "$3/clankerd.sock" ] && break; sleep 0.1; done
  sleep "$4"
}

# rss PID: "TOTAL PRIVATE" RSS in KiB (private: anonymous memory, heap and stacks).
rss() {
  awk '/^Rss:/ {r=$2} /^Anonymous:/ {a=$2} END {print r, a}' "/proc/$1/smaps_rollup"
}

# kube_heartbeat CLANKERD: prints an hourly heartbeat of every Kubernetes check that
# binary knows (new checks join by themselves), on their defaults; checks with a
# required parameter cannot run on defaults and are left out.
kube_heartbeat() {
  "$1" lint --list -o json | python3 -c '
import json, sys
ids = [c["id"] for c in json.load(sys.stdin)["checks"]
       if c["kind"] == "check" and c["id"].startswith("k8s.")
       and not any(p.get("required") for p in c.get("params", []))]
print("## Hourly")
for i in sorted(ids):
    print("- `%s`" % i)
'
}

# kube_load_args [PODS DEPLOYMENTS SERVICES]: the Kubernetes benches' load (default 10000
# 2000 500) in $pods, $deps and $svcs, and their rounds (RUNS, default 5) in $runs.
kube_load_args() {
  pods=${1:-10000} deps=${2:-2000} svcs=${3:-500}
  runs=${RUNS:-5}
}
