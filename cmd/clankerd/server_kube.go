//go:build !clankerd_nokube

package main

import (
	"fmt"

	"k8s.io/client-go/kubernetes"

	"github.com/clankerd/clankerd/providers/kube"
)

// reviewClient is the client a team server makes its TokenReviews and
// SubjectAccessReviews with: the daemon's own credentials, found like kubectl
// (kubeconfig, else the pod's service account; kube.LoadConfig), and the API's host.
func reviewClient(kubeconfig string) (kubernetes.Interface, string, error) {
	cfg, _, _, err := kube.LoadConfig(kubeconfig, "")
	if err != nil {
		return nil, "", err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("a client for %s: %w", cfg.Host, err)
	}
	return client, cfg.Host, nil
}
