package kube

import (
	"context"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// check is one Kubernetes check: a spec and a function that looks at the cluster.
type check struct {
	spec checks.Spec
	p    *Provider
	look func(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Finding, error)
	// track, for a change-tracking check (spec.Tracks), reads the facts instead.
	track func(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Fact, error)
}

var _ checks.Check = (*check)(nil)

func (k *check) Spec() checks.Spec { return k.spec }

func (k *check) Run(ctx context.Context, params checks.Params) (checks.Result, error) {
	if k.track != nil {
		return k.p.runTracking(ctx, params, k.track)
	}
	return k.p.run(ctx, params, func(ctx context.Context, c *conn, s scope) ([]checks.Finding, error) {
		return k.look(ctx, c, s, params)
	})
}

func (p *Provider) now() time.Time {
	if p.opts.Now != nil {
		return p.opts.Now()
	}
	return time.Now()
}

// checkList is the catalog of Kubernetes checks; their ids are the contract.
func (p *Provider) checkList() []checks.Check {
	defs := []checkDef{
		{spec("k8s.pods.unhealthy", "pods in CrashLoopBackOff, failing image pulls, config errors, OOMKilled, unschedulable, failed/evicted, or not ready for too long", checks.CategoryHealth,
			[]string{"pods", "pod", "pod status", "pod health", "health", "status", "healthy", "unhealthy", "pods not ready", "crashloop", "crashloopbackoff", "crashing", "imagepullbackoff", "oomkilled", "pending", "evicted", "not ready"},
			checks.ParamSpec{Name: "for", Type: checks.Duration, Default: "5m", Doc: "report pods not ready or pending for longer than this"}),
			p.podsUnhealthy},
		{spec("k8s.pods.restarts", "pods whose containers restarted more than a threshold", checks.CategoryHealth,
			[]string{"pods", "restarts", "restarting", "restart count", "crashing", "flapping"},
			checks.ParamSpec{Name: "threshold", Type: checks.Int, Default: "5", Doc: "report pods with more restarts than this"}),
			p.podsRestarts},
		{spec("k8s.workloads.unavailable", "Deployments, StatefulSets and DaemonSets with fewer available replicas than desired, or stuck rollouts", checks.CategoryHealth,
			[]string{"deployments", "deployment", "statefulsets", "daemonsets", "workloads", "replicas", "available", "rollout", "degraded"}),
			p.workloadsUnavailable},
		{spec("k8s.nodes.notready", "nodes not Ready, under memory/disk/PID pressure, or cordoned", checks.CategoryHealth,
			[]string{"nodes", "node", "notready", "not ready", "pressure", "disk", "memory", "cordoned"}),
			p.nodesNotReady},
		{spec("k8s.pvc.pending", "PersistentVolumeClaims that are not Bound, and PersistentVolumes left Released or Failed", checks.CategoryHealth,
			[]string{"pvc", "volume", "volumes", "storage", "persistentvolumeclaim", "pending", "disk", "persistentvolume", "persistentvolumes", "pv", "released"}),
			p.pvcPending},
		{spec("k8s.services.noendpoints", "Services with a selector and no ready endpoints", checks.CategoryHealth,
			[]string{"services", "service", "endpoints", "no endpoints", "backends"}),
			p.servicesNoEndpoints},
		{spec("k8s.jobs.failed", "failed Jobs, CronJobs whose last run failed, and CronJobs that missed a scheduled run", checks.CategoryHealth,
			[]string{"jobs", "job", "cronjobs", "cronjob", "batch", "failed", "missed", "late", "schedule"},
			checks.ParamSpec{Name: "late", Type: checks.Duration, Default: "1h", Doc: "report CronJobs whose next run is overdue by more than this"}),
			p.jobsFailed},
		{spec("k8s.exposure.public", "LoadBalancer and NodePort Services, and Ingresses without TLS", checks.CategoryExposure,
			[]string{"public", "exposed", "exposure", "internet", "loadbalancer", "nodeport", "ingress", "tls", "loadbalancer services", "nodeport services", "ingresses without tls"}),
			p.exposurePublic},
		{spec("k8s.rbac.clusteradmin", "cluster-admin (or * on *) bound to anything but system subjects", checks.CategoryAccess,
			[]string{"rbac", "cluster-admin", "clusteradmin", "admin", "permissions", "roles", "service accounts", "privileges"}),
			p.rbacClusterAdmin},
		{spec("k8s.pods.privileged", "privileged containers, host namespaces, hostPath volumes, privilege escalation, running as root", "",
			[]string{"privileged", "security", "root", "running as root", "run as root", "hostpath", "hostnetwork", "escalation", "insecure"}, excludeParam),
			p.podsPrivileged},
		{spec("k8s.images.latest", "containers running :latest or untagged images", "",
			[]string{"images", "image", "latest", "tag", "untagged"}, excludeParam),
			p.imagesLatest},
		{spec("k8s.resources.missing", "containers without CPU/memory requests or memory limits", "",
			[]string{"resources", "requests", "limits", "cpu", "memory", "quota"}, excludeParam),
			p.resourcesMissing},
		{spec("k8s.events.warning", "recent Warning events, grouped by object", checks.CategoryHealth,
			[]string{"events", "warnings", "warning"},
			checks.ParamSpec{Name: "since", Type: checks.Duration, Default: "1h", Doc: "look at events from this long ago"}),
			p.eventsWarning},
	}
	defs = append(defs, p.autoscalerBudgetRefQuotaChecks()...)
	defs = append(defs, p.networkChecks()...)
	out := make([]checks.Check, 0, len(defs))
	for _, d := range defs {
		out = append(out, &check{spec: d.spec, p: p, look: d.look})
	}
	for _, d := range p.changeChecks() {
		out = append(out, &check{spec: d.spec, p: p, track: d.track})
	}
	return out
}

// checkDef is one entry of the catalog: a check's spec and the function that looks.
type checkDef struct {
	spec checks.Spec
	look func(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Finding, error)
}

// trackDef is one change-tracking entry of the catalog: a check's spec and the
// function that reads its facts.
type trackDef struct {
	spec  checks.Spec
	track func(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Fact, error)
}
