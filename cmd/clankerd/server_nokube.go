//go:build clankerd_nokube

package main

import (
	"errors"

	"k8s.io/client-go/kubernetes"
)

// reviewClient: this build has no Kubernetes client for the reviews.
func reviewClient(string) (kubernetes.Interface, string, error) {
	return nil, "", errors.New("this build leaves Kubernetes out (clankerd_nokube), and callers are authenticated by TokenReview: build without the tag")
}
