package kube

import (
	"testing"

	"github.com/clankerd/clankerd/internal/testenv/checktest"
)

// TestExtract takes the parameters of Kubernetes checks and tasks from questions, with
// the names a kubeconfig and a cluster would give.
func TestExtract(t *testing.T) {
	names := map[string][]string{"context": {"prod-eu", "staging"}, "namespace": {"payments", "shop", "kube-system"}}
	twoProd := map[string][]string{"context": {"prod-eu", "prod-us"}, "namespace": {"shop", "shop-prod"}}
	x := checktest.NewExtractions(t, New(Options{}))
	x.Expect("any pods in crashloopbackoff in namespace payments?", "k8s.pods.unhealthy", nil, "namespace=payments from the question")
	x.Expect("are the pods in the checkout namespace healthy?", "k8s.pods.unhealthy", nil, "namespace=checkout from the question")
	x.Expect("pods with more than 10 restarts in shop", "k8s.pods.restarts", names, "namespace=shop from a namespace that exists")
	x.Expect("failed jobs in Staging", "k8s.jobs.failed", names, "context=staging from a kubeconfig context")
	x.Expect("are all production pods healthy?", "k8s.pods.unhealthy", names, `context=prod-eu from "production"`)
	// Two contexts look like production: the one namespace that does is taken.
	x.Expect("are all prod pods healthy?", "k8s.pods.unhealthy", twoProd, `namespace=shop-prod from "production"`)
	x.Expect("are all production pods in staging healthy?", "k8s.pods.unhealthy", names, "context=staging from a kubeconfig context")
	x.Expect("scale payments/api to 5 replicas", "k8s.deployment.scale", names, "deployment=payments/api from the question")
	x.Expect("restart deployment checkout in namespace shop", "k8s.deployment.restart", nil, "deployment=shop/checkout from the question")
	x.Expect("restart the deployment checkout in payments", "k8s.deployment.restart", names, "deployment=payments/checkout from the question")
	x.Expect("restart deployment checkout", "k8s.deployment.restart", names)
	x.Expect("kill pod shop/api-7d9f", "k8s.pod.delete", nil, "pod=shop/api-7d9f from the question")
	x.Expect("cordon node worker-3", "k8s.node.cordon", nil, "node=worker-3 from the question")
	x.Expect("please drain the node worker-3 in prod-eu", "k8s.node.cordon", names,
		"context=prod-eu from a kubeconfig context", "node=worker-3 from the question")
	x.Expect("uncordon node 3", "k8s.node.uncordon", nil)
	// A check of another package has none of the parameters.
	x.Expect("is the certificate of shop.example.com in namespace shop on production expiring?", "", names)
}
