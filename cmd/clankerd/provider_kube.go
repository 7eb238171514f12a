//go:build !clankerd_nokube

package main

import "github.com/clankerd/clankerd/providers/kube"

// kubeProvider links the Kubernetes provider; build with -tags clankerd_nokube to
// leave it (and client-go) out.
func kubeProvider(o providerOptions) provider {
	return kube.New(kube.Options{Watch: o.Watch, Logger: o.Logger})
}
