#!/usr/bin/env bash
# Team mode (issue 16): one leader with ITEMS heartbeat items on a minute schedule against
# PostgreSQL next to the same daemon on bbolt, in the same run; then the failover time of two
# `run --leader-elect` replicas on one PostgreSQL over KILLS kill -9s of the leader.
#
#   bench/team-bench.sh
#
# 1. Throughput: ITEMS (default 5000) `tcp.connect` items, `every minute`, each against its own
#    loopback address and port of a listener this script starts (it accepts and closes), so
#    every run passes and costs the same. The daemon (default --max-concurrent) runs MINUTES
#    (default 3) ticks on bbolt, then on PostgreSQL (scripts/pg-testenv, a fresh database per
#    round), ROUNDS times (default 1), alternating. Per tick, from the receipts (`runs -o json
#    --limit 0`): runs recorded, drain time (tick → last run's end) and runs per second
#    (runs / drain); p95 of clankerd_run_record_seconds from /metrics (the time from asking
#    the store to record a run's end to its commit); the daemon's CPU seconds (utime+stime)
#    and peak RSS (VmHWM) from /proc; the PostgreSQL server's CPU seconds (postmaster, its
#    reaped and its live children), which runs with fsync on (bbolt fsyncs too). Medians over ticks and rounds, ratios PG/bbolt.
# 2. Failover: the replicas elect through a Lease on the test apiserver (scripts/kube-testenv)
#    and through the PostgreSQL advisory lock (VIA, default "lease postgres"); the leader is
#    killed -9 KILLS times (default 10) and restarted as a standby each time; the failover time
#    is from the kill to the "leading" log line of the other replica (its time= field).
# Both print markdown tables ready for bench/README.md.
#
# Environment: CLANKERD_BIN=path reuses a built clankerd; ITEMS, MINUTES, ROUNDS, KILLS, VIA.
set -euo pipefail
cd "$(dirname "$0")/.."
items=${ITEMS:-5000} minutes=${MINUTES:-3} rounds=${ROUNDS:-1} kills=${KILLS:-10}
via=${VIA:-lease postgres}
ports=100 hosts=$(((items + 99) / 100))
# PostgreSQL runs as nobody when we are root: its directory must be reachable (under /tmp).
work=$(mktemp -d /tmp/team-bench.XXXXXX)
chmod 0755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  scripts/pg-testenv stop "$work/pg" 2>/dev/null || true
  scripts/kube-testenv stop "$work/kube" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

clankerd=${CLANKERD_BIN:-$work/clankerd}
[ -n "${CLANKERD_BIN:-}" ] || go build -o "$clankerd" ./cmd/clankerd
hz=$(getconf CLK_TCK)

python3 bench/team.py listen "$work/base" "$hosts" "$ports" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/base" ] && break; sleep 0.1; done
python3 bench/team.py heartbeat "$items" "$(cat "$work/base")" "$ports" > "$work/hb.md"
"$clankerd" lint "$work/hb.md" >/dev/null
# Durable commits on both sides: bbolt fsyncs every transaction, so PostgreSQL does too.
PG_TESTENV_FSYNC=on scripts/pg-testenv start "$work/pg" 2>/dev/null
pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)")
base_dsn=$(scripts/pg-testenv dsn "$work/pg")
# newdb NAME: creates a database on the test server and prints its DSN.
newdb() {
  "$pgbin/psql" -q -d "$base_dsn" -c "CREATE DATABASE $1" >/dev/null
  echo "${base_dsn/\/postgres?//$1?}"
}
# pgcpu: CPU seconds of the PostgreSQL server so far: the postmaster with its reaped
# children, and its live ones.
pgcpu() {
  local pm
  pm=$(head -1 "$work/pg/data/postmaster.pid")
  { awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
    for c in $(pgrep -P "$pm"); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done
  } | awk -v hz="$hz" '{s += $1} END {printf "%.2f\n", s / hz}'
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== 1. $items items every minute, $minutes ticks per store, $rounds round(s); load average $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$work/rows.tsv"
# bench_store NAME ROUND: one daemon on that store for $minutes ticks; appends its row.
bench_store() {
  local name=$1 round=$2 dir="$work/$1-$2" store=() port pid now first stop pg0=0 cpu rss p95
  mkdir -p "$dir"
  [ "$name" = postgres ] && store=(--store "$(newdb "r${round}")") && pg0=$(pgcpu)
  port=$(free_port)
  "$clankerd" --state-dir "$dir" "${store[@]}" --log-level error run --heartbeat "$work/hb.md" \
    --metrics-listen "127.0.0.1:$port" 2>"$dir/log" &
  pid=$!; pids+=("$pid")
  for _ in $(seq 1 300); do [ -S "$dir/clankerd.sock" ] && break; sleep 0.1; done
  # The first tick at least 5 s away; stop 5 s before the tick after the last one.
  now=$(date +%s); first=$(((now + 5) / 60 * 60 + 60))
  stop=$((first + minutes * 60 - 5))
  sleep $((stop - $(date +%s)))
  curl -sf "http://127.0.0.1:$port/metrics" > "$dir/metrics"
  cpu=$(awk -v hz="$hz" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$pid/stat")
  rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true
  p95=$(python3 bench/team.py p95 "$dir/metrics")
  local pgs=-
  if [ "$name" = postgres ]; then sleep 1; pgs=$(awk -v a="$pg0" -v b="$(pgcpu)" 'BEGIN {printf "%.2f", b - a}'); fi
  "$clankerd" --state-dir "$dir" "${store[@]}" --log-level error runs -o json --limit 0 > "$dir/runs.json"
  python3 bench/team.py ticks "$dir/runs.json" "$first" > "$dir/ticks.tsv"
  sed "s/^/  $name tick /" "$dir/ticks.tsv" >&2
  # One row per tick: the CPU, RSS and p95 are the daemon's whole life (per round).
  while IFS=$'\t' read -r _ n drain rate; do
    echo -e "$name\t$round\t$n\t$drain\t$rate\t$p95\t$cpu\t$rss\t$pgs" >> "$work/rows.tsv"
  done < "$dir/ticks.tsv"
}
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then order="bbolt postgres"; else order="postgres bbolt"; fi
  for s in $order; do bench_store "$s" "$round"; done
done
python3 bench/team.py table "$work/rows.tsv"

echo
echo "== 2. failover over $kills kill -9s ($via); load average $(cut -d' ' -f1-3 /proc/loadavg)"
case " $via " in *" lease "*)
  scripts/kube-testenv build >/dev/null
  scripts/kube-testenv start "$work/kube" 2>/dev/null
  export KUBECONFIG="$work/kube/kubeconfig" ;;
esac
printf '## Every 1 second\n- `tcp.connect` addr=127.0.0.2:%s\n' "$(cat "$work/base")" > "$work/hb1.md"
: > "$work/failover.tsv"
# replica VIA DSN SLOT N: starts a replica; its pid in rpid[SLOT], its log in rlog[SLOT].
declare -A rpid rlog
replica() {
  local dir="$work/fo-$1-$3-$4"
  mkdir -p "$dir"
  "$clankerd" --state-dir "$dir" --store "$2" run --heartbeat "$work/hb1.md" \
    --leader-elect --leader-elect-via "$1" 2>"$dir/log" &
  rpid[$3]=$!; rlog[$3]="$dir/log"; pids+=($!)
  for _ in $(seq 1 300); do [ -S "$dir/clankerd.sock" ] && break; sleep 0.1; done
}
leads() { grep -q 'leading: scheduling' "${rlog[$1]}"; }
for v in $via; do
  dsn=$(newdb "failover_$v")
  replica "$v" "$dsn" a 0; replica "$v" "$dsn" b 0
  for _ in $(seq 1 300); do leads a || leads b && break; sleep 0.1; done
  for i in $(seq 1 "$kills"); do
    if leads a; then l=a o=b; else l=b o=a; fi
    sleep 3 # the standby is campaigning, the leader has renewed at least once
    t0=$(date +%s.%N)
    kill -9 "${rpid[$l]}"; wait "${rpid[$l]}" 2>/dev/null || true
    for _ in $(seq 1 900); do leads "$o" && break; sleep 0.1; done
    t1=$(grep -m1 'leading: scheduling' "${rlog[$o]}" | grep -o 'time=[^ ]*' | cut -d= -f2)
    secs=$(python3 -c "import datetime,sys; print('%.2f' % (datetime.datetime.fromisoformat(sys.argv[1].replace('Z','+00:00')).timestamp() - float(sys.argv[2])))" "$t1" "$t0")
    echo "  $v kill $i: $secs s" >&2
    echo -e "$v\t$i\t$secs" >> "$work/failover.tsv"
    replica "$v" "$dsn" "$l" "$i"
  done
  kill -TERM "${rpid[a]}" "${rpid[b]}"; wait "${rpid[a]}" "${rpid[b]}" 2>/dev/null || true
done
python3 bench/team.py failover "$work/failover.tsv"
