"""Helpers of bench/team-bench.sh (team mode, issue 16).

  team.py listen PORTFILE HOSTS PORTS  listen on HOSTS loopback addresses (127.0.X.Y) x PORTS
                                       ports from a free base port (written to PORTFILE),
                                       accepting and closing connections until killed
  team.py heartbeat N BASE PORTS       an every-minute heartbeat of N tcp.connect items, each
                                       on its own address and port of that listener
                                       (Linux sends 127.0.X.Y only to sockets bound to it or to
                                       the wildcard, which this never binds)
  team.py p95 METRICS                  p95 of clankerd_run_record_seconds (histogram_quantile)
  team.py ticks RUNS.json SINCE        per scheduled tick at or after SINCE (Unix s): runs,
                                       drain seconds (last end - tick), runs per second
  team.py table ROWS.tsv               the throughput table (medians, ratios PG/bbolt)
  team.py failover TIMES.tsv           the failover table (median and max per election)
"""
import datetime
import json
import socket
import statistics
import sys


def serve(portfile, hosts, ports):
    """Binds hosts x ports listening sockets on loopback and accepts forever."""
    import selectors
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sel = selectors.DefaultSelector()
    base = None
    # Find a base port with ports free ones above it on every host.
    for start in range(40000, 60000 - ports, ports):
        socks = []
        try:
            for h in range(1, hosts + 1):
                for p in range(start, start + ports):
                    s = socket.socket()
                    socks.append(s)
                    s.bind(("127.0.%d.%d" % (h // 250, 1 + h % 250), p))
                    s.listen(64)
                    s.setblocking(False)
            base = start
            break
        except OSError:
            for s in socks:
                s.close()
    if base is None:
        raise SystemExit("team.py: no free port range on loopback")
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    with open(portfile, "w") as f:
        f.write("%d\n" % base)
    while True:
        for key, _ in sel.select():
            try:
                c, _ = key.fileobj.accept()
                c.close()
            except OSError:
                pass


def heartbeat(n, base, ports):
    print("## Every minute")
    for i in range(n):
        h, p = 1 + i // ports, base + i % ports
        print("- `tcp.connect` addr=127.0.%d.%d:%d" % (h // 250, 1 + h % 250, p))


def p95(path):
    buckets = []
    for line in open(path):
        if line.startswith("clankerd_run_record_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if total == 0:
        print("-")
        return
    rank, lo, below = 0.95 * total, 0.0, 0.0
    for le, n in buckets:
        if n >= rank:
            if le == float("inf"):
                print("%.4f" % lo)
            else:
                print("%.4f" % (lo + (le - lo) * (rank - below) / max(n - below, 1)))
            return
        lo, below = le, n


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def ticks(path, since):
    runs = json.load(open(path))
    runs = runs.get("runs", runs) if isinstance(runs, dict) else runs
    by = {}
    for r in runs:
        if r.get("trigger") != "schedule" or not r.get("ended"):
            continue
        t = ts(r["scheduled"])
        if t >= float(since) - 1:
            by.setdefault(t, []).append(ts(r["ended"]))
    for t in sorted(by):
        ends = by[t]
        drain = max(ends) - t
        print("%d\t%d\t%.1f\t%.1f" % (t, len(ends), drain, len(ends) / drain))


def table(path):
    rows = {}
    for line in open(path):
        store, rnd, runs, drain, rate, p95s, cpu, rss, pgcpu = line.rstrip("\n").split("\t")
        rows.setdefault(store, []).append((int(runs), float(drain), float(rate), float(p95s), float(cpu), int(rss), pgcpu))
    med = lambda xs: statistics.median(xs)
    out = {}
    print("| store | runs per tick | drain s (tick → last commit) | runs/s | p95 record ms | daemon CPU s | daemon peak RSS MiB | PostgreSQL CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for store in ("bbolt", "postgres"):
        if store not in rows:
            continue
        r = rows[store]
        pg = [float(x[6]) for x in r if x[6] != "-"]
        out[store] = [med([x[i] for x in r]) for i in range(6)] + [med(pg) if pg else None]
        o = out[store]
        print("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.0f | %s |" % (
            store, o[0], o[1], o[2], o[3] * 1000, o[4], o[5] / 1024, "-" if o[6] is None else "%.1f" % o[6]))
    if "bbolt" in out and "postgres" in out:
        b, p = out["bbolt"], out["postgres"]
        ratio = lambda i: "%.2f" % (p[i] / b[i]) if b[i] else "-"
        print("| PG/bbolt | | %s | %s | %s | %s | %s | |" % (ratio(1), ratio(2), ratio(3), ratio(4), ratio(5)))


def failover(path):
    by = {}
    for line in open(path):
        via, _, secs = line.split()
        by.setdefault(via, []).append(float(secs))
    print("| election | kills | median s | max s | min s |")
    print("|---|---:|---:|---:|---:|")
    for via, xs in by.items():
        print("| %s | %d | %.1f | %.1f | %.1f |" % (via, len(xs), statistics.median(xs), max(xs), min(xs)))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "listen":
        serve(args[0], int(args[1]), int(args[2]))
    elif cmd == "heartbeat":
        heartbeat(int(args[0]), int(args[1]), int(args[2]))
    elif cmd == "p95":
        p95(args[0])
    elif cmd == "ticks":
        ticks(args[0], args[1])
    elif cmd == "table":
        table(args[0])
    elif cmd == "failover":
        failover(args[0])
