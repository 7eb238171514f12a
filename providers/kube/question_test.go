package kube

import (
	"slices"
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
	// Deployments named without their namespace resolve against those that exist;
	// relative numbers against their replicas.
	live := map[string][]string{"namespace": {"production", "staging"},
		"deployment": {"production/billing-worker", "production/checkout-api", "staging/checkout-api"},
		"replicas":   {"production/billing-worker=4", "production/checkout-api=3", "staging/checkout-api=1"}}
	x.Expect("scale billing-worker to 2 replicas", "k8s.deployment.scale", live, `deployment=production/billing-worker from the one Deployment named "billing-worker"`)
	x.Expect("generate a plan to scale billing-worker from 4 to 2 replicas", "k8s.deployment.scale", live, `deployment=production/billing-worker from the one Deployment named "billing-worker"`)
	x.Expect("scale billing-worker in production to 2", "k8s.deployment.scale", live, "deployment=production/billing-worker from the question")
	x.Expect("scale checkout-api to 5", "k8s.deployment.scale", live, `deployment is one of production/checkout-api, staging/checkout-api for "checkout-api" (a Deployment in several namespaces)`)
	x.Expect("scale checkout-api in staging to 5", "k8s.deployment.scale", live, "deployment=staging/checkout-api from the question")
	x.Expect("scale billing-worker +2", "k8s.deployment.scale", live, `deployment=production/billing-worker from the one Deployment named "billing-worker"`, `replicas=6 from "+2" on 4 replicas`)
	x.Expect("scale billing-worker up by 2 more replicas", "k8s.deployment.scale", live, `deployment=production/billing-worker from the one Deployment named "billing-worker"`, `replicas=6 from "2 more" on 4 replicas`)
	x.Expect("scale down billing-worker by 3", "k8s.deployment.scale", live, `deployment=production/billing-worker from the one Deployment named "billing-worker"`, `replicas=1 from "by 3" on 4 replicas`)
	x.Expect("plan 2 additional production/checkout-api pods", "k8s.deployment.scale", live, "deployment=production/checkout-api from the question", `replicas=5 from "2 additional" on 3 replicas`)
	x.Expect("scale payments/api -1", "k8s.deployment.scale", live, "deployment=payments/api from the question")
	x.Expect("restart billing-worker", "k8s.deployment.restart", live, `deployment=production/billing-worker from the one Deployment named "billing-worker"`)
	x.Expect("restart nothing-like-it", "k8s.deployment.restart", live)
	// A StatefulSet is named NAMESPACE/NAME, or by name in a namespace the question
	// gives; its name is never taken for a Deployment's.
	x.Expect("scale statefulset shop/db to 3", "k8s.statefulset.scale", names, "statefulset=shop/db from the question")
	x.Expect("scale statefulset shop/db to 3", "k8s.deployment.scale", names)
	x.Expect("scale the stateful set db in namespace shop to 3", "k8s.statefulset.scale", nil, "statefulset=shop/db from the question")
	x.Expect("scale sts db to 3", "k8s.statefulset.scale", live)
	x.Expect("scale billing-worker to 2 replicas", "k8s.statefulset.scale", live)
	// A check of another package has none of the parameters.
	x.Expect("is the certificate of shop.example.com in namespace shop on production expiring?", "", names)
}

// TestNamesListDeployments reads the Deployments of the current context from the test
// apiserver (shared by the package's tests, hence names no other test uses), so that a bare name resolves to the one namespace that has it and a name
// in two namespaces lists both.
func TestNamesListDeployments(t *testing.T) {
	p := cluster(t, Options{})
	one, two := namespace(t), namespace(t)
	deployment(t, one, "names-billing", 4, "", "")
	deployment(t, one, "names-queue", 1, "", "")
	deployment(t, two, "names-queue", 2, "", "")
	names := p.Names(t.Context())
	for _, want := range []string{one + "/names-billing", one + "/names-queue", two + "/names-queue"} {
		if !slices.Contains(names["deployment"], want) {
			t.Errorf("deployments %v lack %s", names["deployment"], want)
		}
	}
	if !slices.Contains(names["replicas"], one+"/names-billing=4") {
		t.Errorf("replicas %v", names["replicas"])
	}
	x := checktest.NewExtractions(t, p)
	x.Expect("scale names-billing +2", "k8s.deployment.scale", names,
		`deployment=`+one+`/names-billing from the one Deployment named "names-billing"`, `replicas=6 from "+2" on 4 replicas`)
	x.Expect("scale names-queue to 3", "k8s.deployment.scale", names,
		`deployment is one of `+one+`/names-queue, `+two+`/names-queue for "names-queue" (a Deployment in several namespaces)`)
}
