//go:build clankerd_nokube

package main

// kubeProvider links nothing: this build has no Kubernetes checks or tasks.
func kubeProvider(providerOptions) provider { return nil }
