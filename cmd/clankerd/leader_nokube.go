//go:build clankerd_nokube

package main

import (
	"errors"

	"github.com/clankerd/clankerd/internal/leader"
)

// kubeLeaseElector: this build has no Kubernetes client.
func kubeLeaseElector(string) (leader.Elector, error) {
	return nil, errors.New("--leader-elect through a Lease: this build leaves Kubernetes out (clankerd_nokube); use --leader-elect-via postgres with a postgres:// --store")
}
