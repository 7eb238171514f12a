package kube

import (
	"context"

	"github.com/clankerd/clankerd/checks"
)

// changeChecks are the change-tracking checks, for checkList: they report facts of
// exposure and access (checks.Fact), which the store compares with the item's
// baseline; they never compare anything themselves.
func (p *Provider) changeChecks() []trackDef {
	return []trackDef{
		{spec: trackingSpec("k8s.changes.exposure", "what is reachable from outside the cluster, as facts compared with a baseline: LoadBalancer and NodePort Services (ports, source ranges), external IPs, Ingress hosts and paths with or without TLS, Gateway listeners, and workloads on the node's network or host ports", checks.CategoryExposure,
			// Not "public endpoint" or "permission": those words ask about the whole
			// category (Categories), which this check is part of.
			[]string{"new endpoints", "new exposure", "exposure changes", "exposure changed", "new loadbalancers", "new loadbalancer", "new nodeports", "new nodeport", "new ingresses", "new ingress", "new services exposed", "newly exposed", "drift", "baseline", "gateway listeners"}),
			track: p.exposureFacts},
		{spec: trackingSpec("k8s.changes.access", "who may do what, as facts compared with a baseline: RBAC bindings flattened to subject and role, the atomic grants of every Role and ClusterRole, and ServiceAccount tokens stored as Secrets (names only)", checks.CategoryAccess,
			[]string{"new rolebindings", "new rolebinding", "new role bindings", "new bindings", "new clusterrolebindings", "rolebindings", "rolebinding", "clusterrolebindings", "role bindings", "access changes", "access changed", "rbac changes", "role changes", "roles changed", "new roles", "who gained", "gained access", "service account tokens", "token secrets", "drift", "baseline"},
			secretsParam),
			track: p.accessFacts},
	}
}

// trackingSpec builds the spec of a change-tracking check: the scope every
// Kubernetes check takes but the selector (a label selector would make objects come
// and go from the inventory as their labels change), what the first run compares
// with, and Tracks set.
func trackingSpec(id, description, category string, keywords []string, params ...checks.ParamSpec) checks.Spec {
	return checks.Spec{
		ID:          id,
		Description: description,
		Params:      append([]checks.ParamSpec{contextParam, namespaceParam, checks.BaselineParam()}, params...),
		Keywords:    append([]string{"kubernetes", "k8s", "cluster"}, keywords...),
		Categories:  []string{category},
		Tracks:      true,
	}
}

// runTracking is the shape of every change-tracking check: connect and read as run
// does, then return the facts for the store to compare (checks.Track) with the run's
// evidence. A read that fails is an error, never an empty inventory, which would say
// that everything was removed.
func (p *Provider) runTracking(ctx context.Context, params checks.Params, track func(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Fact, error)) (checks.Result, error) {
	var facts []checks.Fact
	res, err := p.run(ctx, params, func(ctx context.Context, c *conn, s scope) ([]checks.Finding, error) {
		var err error
		facts, err = track(ctx, c, s, params)
		return nil, err
	})
	if err != nil {
		return checks.Result{}, err
	}
	tracked, err := checks.Track(params, facts)
	if err != nil {
		return checks.Result{}, err
	}
	tracked.Evidence = res.Evidence
	return tracked, nil
}
