//go:build !clankerd_nokube

package main

import (
	"fmt"

	"k8s.io/client-go/kubernetes"

	"github.com/clankerd/clankerd/internal/leader"
	"github.com/clankerd/clankerd/providers/kube"
)

// kubeLeaseElector elects through a Lease named name, with the daemon's own
// credentials (in a pod its service account, else the kubeconfig's current context),
// in the daemon's namespace (leader.Namespace). The RBAC it needs is in
// contrib/kubernetes/clankerd-lease.yaml.
func kubeLeaseElector(name string) (leader.Elector, error) {
	cfg, ctxName, ns, err := kube.LoadConfig("", "")
	if err != nil {
		return nil, fmt.Errorf("--leader-elect through a Kubernetes Lease: %w (or use --leader-elect-via postgres with a postgres:// --store)", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("--leader-elect: a client for %s: %w", ctxName, err)
	}
	l := leader.NewKubeLease(client, leader.Namespace(ns))
	l.Name = name
	return l, nil
}
