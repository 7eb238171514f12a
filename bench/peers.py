#!/usr/bin/env python3
"""The tables of bench/peers-bench.sh, as markdown ready for bench/README.md.

  peers.py score EXPECT.tsv CLANKERD.json K8SGPT.json POPEYE.json
      which planted problems each tool finds, and what it reports on healthy objects
  peers.py table TIMES.tsv REQUESTS.tsv PODS DEPLOYMENTS SERVICES
      wall, CPU and peak memory of each command, and the ratios to kubectl's and the floor's
"""
import json
import statistics
import sys
from collections import defaultdict

TOOLS = ("clankerd", "k8sgpt", "popeye")
# Kinds whose pods and ReplicaSets are named after them: a finding on one of those names its
# owning workload too.
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"}
# Popeye's levels: 0 ok, 1 info, 2 warning, 3 error. Only warnings and errors count.
POPEYE_MIN_LEVEL = 2


def split_ref(ref):
    """'ns/name' or 'name' (cluster-scoped, also '-/name' or '/name') as (ns, name)."""
    ns, _, name = ref.rpartition("/")
    return ("" if ns in ("", "-") else ns), name


def clankerd_findings(doc):
    """(ns, name, text) of every finding of `clankerd check -o json`; resource is
    kind/namespace/name or kind/name."""
    out = []

    def walk(v):
        if isinstance(v, dict):
            if "fingerprint" in v and "resource" in v:
                parts = v["resource"].split("/")
                ns, name = (parts[1], parts[2]) if len(parts) >= 3 else ("", parts[-1])
                out.append((ns, name, "%s: %s" % (v.get("check", ""), v.get("summary", ""))))
                return
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(doc)
    return out


def k8sgpt_findings(doc):
    """(ns, name, text) of every failure of `k8sgpt analyze -o json`."""
    out = []
    for r in doc.get("results") or []:
        ns, name = split_ref(r.get("name", ""))
        for e in r.get("error") or [{"Text": ""}]:
            out.append((ns, name, "%s: %s" % (r.get("kind", ""), e.get("Text", ""))))
    return out


def popeye_findings(doc):
    """(ns, name, text) of every Popeye issue of level warning or error."""
    out = []
    for s in (doc.get("popeye") or {}).get("sections") or []:
        for fqn, issues in (s.get("issues") or {}).items():
            ns, name = split_ref(fqn)
            for i in issues or []:
                if i.get("level", 0) >= POPEYE_MIN_LEVEL:
                    out.append((ns, name, "%s: %s" % (s.get("linter", ""), i.get("message", ""))))
    return out


def load(path, parse):
    try:
        with open(path) as f:
            return parse(json.load(f))
    except (OSError, ValueError) as e:
        print("warning: cannot read %s (%s): counted as no findings" % (path, e), file=sys.stderr)
        return []


def names(problem, ns, name):
    kind, pns, pname = problem
    if (pns, pname) == (ns, name):
        return True
    return kind in WORKLOADS and pns == ns and name.startswith(pname + "-")


def score(expect_path, *paths):
    problems, healthy = [], []
    with open(expect_path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            what, kind, ns, name, cls = line.rstrip("\n").split("\t")
            ns = "" if ns == "-" else ns
            (problems if what == "problem" else healthy).append((kind, ns, name, cls))
    parsers = (clankerd_findings, k8sgpt_findings, popeye_findings)
    findings = {t: load(p, parse) for t, p, parse in zip(TOOLS, paths, parsers)}
    healthy_keys = {(ns, name) for _, ns, name, _ in healthy}

    def on_healthy(ns, name):
        return ns == "healthy" or (ns, name) in healthy_keys

    found = {t: [any(names(p[:3], ns, n) for ns, n, _ in findings[t]) for p in problems] for t in TOOLS}
    noise = {t: [f for f in findings[t] if on_healthy(f[0], f[1])] for t in TOOLS}
    old = [i for i, p in enumerate(problems) if p[3] not in NEW_CLASSES and (p[0], p[3]) not in EXTENDED]
    new = [i for i in range(len(problems)) if i not in old]
    row = lambda label, cells: print("| %s | %s |" % (label, " | ".join(str(c) for c in cells)))
    print("| on the planted fixture | %s |" % " | ".join(TOOLS))
    print("|---|" + "---|" * len(TOOLS))
    row("planted problems found (of %d)" % len(problems), [sum(found[t]) for t in TOOLS])
    row("… of classes the 13 checks cover (of %d)" % len(old), [sum(found[t][i] for i in old) for t in TOOLS])
    row("… of classes issue 14 adds (of %d)" % len(new), [sum(found[t][i] for i in new) for t in TOOLS])
    row("findings on healthy objects", [len(noise[t]) for t in TOOLS])
    row("healthy objects reported (of %d)" % len(healthy), [len({(f[0], f[1]) for f in noise[t]}) for t in TOOLS])
    row("findings in all", [len(findings[t]) for t in TOOLS])
    print()
    print("| planted problem | meant for | %s |" % " | ".join(TOOLS))
    print("|---|---|" + "---|" * len(TOOLS))
    for i, (kind, ns, name, cls) in enumerate(problems):
        cells = ["✔" if found[t][i] else "–" for t in TOOLS]
        print("| %s %s | `%s` | %s |" % (kind, ns + "/" + name if ns else name, cls, " | ".join(cells)))
    for t in TOOLS:
        if noise[t]:
            print("\n%s on healthy objects:" % t)
            for ns, name, text in sorted(set(noise[t])):
                print("- %s/%s: %s" % (ns or "-", name, text[:140]))


# The checks issue 14 adds, and the (kind, check) pairs it adds to existing checks.
NEW_CLASSES = {"k8s.ingress.broken", "k8s.hpa.broken", "k8s.pdb.blocking", "k8s.certs.expiry",
               "k8s.webhooks.broken", "k8s.refs.missing", "k8s.quota.exhausted"}
EXTENDED = {("CronJob", "k8s.jobs.failed"), ("PersistentVolume", "k8s.pvc.pending")}


def table(times_path, requests_path, pods, deps, svcs):
    rounds = defaultdict(dict)  # round -> tool -> (wall, cpu, peak MiB)
    order = []
    with open(times_path) as f:
        for line in f:
            t, r, wall, user, sys_, maxrss = line.split("\t")
            if t not in order:
                order.append(t)
            rounds[r][t] = (float(wall), float(user) + float(sys_), int(maxrss) / 1024)
    requests = {}
    with open(requests_path) as f:
        for line in f:
            t, n = line.rstrip("\n").split("\t")
            requests[t] = n
    if requests.get("clankerd-self", "-") != "-":
        requests["clankerd"] = "%s (it counts %s)" % (requests.get("clankerd", "-"), requests["clankerd-self"])
    med = lambda t, k: statistics.median(rounds[r][t][k] for r in rounds if t in rounds[r])
    ratio = lambda t, base, k: statistics.median(rounds[r][t][k] / rounds[r][base][k]
                                                 for r in rounds if t in rounds[r] and base in rounds[r])
    print("%s pods, %s Deployments, %s Services; medians of %d rounds, ratios taken round by round"
          % (pods, deps, svcs, len(rounds)))
    print()
    print("| command | wall | CPU | peak RSS | wall / kubectl | CPU / kubectl | peak / kubectl | wall / floor | peak / floor | API requests |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for t in order:
        print("| %s | %.2f s | %.2f s | %.0f MiB | %.2f× | %.2f× | %.2f× | %.2f× | %.2f× | %s |" % (
            LABELS.get(t, t), med(t, 0), med(t, 1), med(t, 2),
            ratio(t, "kubectl", 0), ratio(t, "kubectl", 1), ratio(t, "kubectl", 2),
            ratio(t, "floor", 0), ratio(t, "floor", 2), requests.get(t, "-")))


LABELS = {
    "kubectl": "kubectl get (the kinds) -A -o json",
    "floor": "floor (bench/kubefloor)",
    "clankerd": "clankerd check (every k8s check)",
    "k8sgpt": "k8sgpt analyze --explain=false",
    "popeye": "popeye -A",
}


def main(argv):
    if len(argv) == 5 and argv[0] == "score":
        score(*argv[1:])
    elif len(argv) == 6 and argv[0] == "table":
        table(*argv[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
