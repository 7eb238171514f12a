package kube

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/clankerd/clankerd/checks"
)

// TestHealthyLookAlikesAreQuiet plants, in one namespace, the objects that look
// alarming but are healthy — a Succeeded pod of a completed Job, a Deployment scaled to
// zero on purpose, a suspended CronJob, a Service without a selector, an ExternalName
// Service, a headless Service with ready endpoints, a PDB that allows disruptions, an
// HPA within its range, an image pinned by digest — and runs every Kubernetes check of
// the registry on that namespace: none may report anything in it.
func TestHealthyLookAlikesAreQuiet(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	ctx := t.Context()
	c := env.Client
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ready := func(p *corev1.Pod) {
		p.Status = corev1.PodStatus{
			Phase:             corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ago(time.Hour)}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: p.Spec.Containers[0].Image, Ready: true, State: running()}},
		}
	}

	// A completed Job and its Succeeded pod.
	job, err := c.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate", Namespace: ns},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "job", Image: "registry.example/job:1"}},
		}}},
	}, metav1.CreateOptions{})
	must("creating the job", err)
	done := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	job.Status = batchv1.JobStatus{StartTime: &done, CompletionTime: &done, Succeeded: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: done},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: done},
	}}
	_, err = c.BatchV1().Jobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{})
	must("completing the job", err)
	pod(t, ns, "migrate-x7k2p", func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		p.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "registry.example/app:1.2.3",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", ExitCode: 0}}}}}
	})

	// A Deployment scaled to zero on purpose.
	zero := int32(0)
	_, err = c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "parked", Namespace: ns},
		Spec:       appsv1.DeploymentSpec{Replicas: &zero, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "parked"}}, Template: podTemplate("parked")},
	}, metav1.CreateOptions{})
	must("creating the parked deployment", err)

	// A suspended CronJob that last ran long ago.
	suspended := true
	cron, err := c.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "paused-report", Namespace: ns},
		Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", Suspend: &suspended, JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "job", Image: "registry.example/job:1"}}}},
		}}},
	}, metav1.CreateOptions{})
	must("creating the suspended cronjob", err)
	long := metav1.NewTime(time.Now().Add(-30 * 24 * time.Hour))
	cron.Status.LastScheduleTime = &long
	_, err = c.BatchV1().CronJobs(ns).UpdateStatus(ctx, cron, metav1.UpdateOptions{})
	must("writing the cronjob status", err)

	// Services: without a selector, ExternalName, and headless with ready endpoints.
	for _, svc := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "manual"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 5432}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "upstream"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "peers"}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "peer-0"}, Ports: []corev1.ServicePort{{Port: 7000}}}},
	} {
		_, err := c.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
		must("creating service "+svc.Name, err)
	}
	yes := true
	_, err = c.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "peers-abc", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: "peers"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.7"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes}}},
	}, metav1.CreateOptions{})
	must("creating the endpoint slice", err)

	// A running, ready pod whose image is pinned by digest, behind the headless
	// Service, with a PDB that allows one disruption.
	pod(t, ns, "peer-0", func(p *corev1.Pod) {
		p.Spec.Containers[0].Image = "registry.example/peer@sha256:" + strings.Repeat("ab", 32)
		ready(p)
	})
	pod(t, ns, "peer-1", func(p *corev1.Pod) {
		p.Labels["app"] = "peer-0"
		ready(p)
	})
	one := intstr.FromInt32(1)
	pdb, err := c.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "peers", Namespace: ns},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "peer-0"}}},
	}, metav1.CreateOptions{})
	must("creating the PDB", err)
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: 1, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2,
		Conditions: []metav1.Condition{{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionTrue, Reason: policyv1.SufficientPodsReason, LastTransitionTime: ago(time.Hour)}}}
	_, err = c.PolicyV1().PodDisruptionBudgets(ns).UpdateStatus(ctx, pdb, metav1.UpdateOptions{})
	must("writing the PDB status", err)

	// An HPA within its range, on an existing Deployment that is fully available.
	three := int32(3)
	web, err := c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       appsv1.DeploymentSpec{Replicas: &three, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: podTemplate("web")},
	}, metav1.CreateOptions{})
	must("creating the web deployment", err)
	web.Status = appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, UpdatedReplicas: 3, ObservedGeneration: web.Generation}
	_, err = c.AppsV1().Deployments(ns).UpdateStatus(ctx, web, metav1.UpdateOptions{})
	must("writing the web deployment status", err)
	minReplicas := int32(2)
	hpa, err := c.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    &minReplicas, MaxReplicas: 10,
		},
	}, metav1.CreateOptions{})
	must("creating the HPA", err)
	hpa.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, DesiredReplicas: 3, Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
		{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "ReadyForNewScale", LastTransitionTime: ago(time.Hour)},
		{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionTrue, Reason: "ValidMetricFound", LastTransitionTime: ago(time.Hour)},
		{Type: autoscalingv2.ScalingLimited, Status: corev1.ConditionFalse, Reason: "DesiredWithinRange", LastTransitionTime: ago(time.Hour)},
	}}
	_, err = c.AutoscalingV2().HorizontalPodAutoscalers(ns).UpdateStatus(ctx, hpa, metav1.UpdateOptions{})
	must("writing the HPA status", err)

	reg := checks.NewRegistry()
	if err := p.Register(reg); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, s := range reg.Specs() {
		c, ok := reg.Check(s.ID)
		if !ok {
			continue // a task
		}
		params, err := s.Bind(map[string]string{"namespace": ns}, nil)
		if err != nil {
			t.Fatalf("%s: %v", s.ID, err)
		}
		res, err := c.Run(ctx, params)
		if _, skipped := checks.IsSkip(err); skipped {
			continue // an API this cluster does not serve
		}
		if err != nil {
			t.Errorf("%s: %v", s.ID, err)
			continue
		}
		ran++
		for _, f := range res.Findings {
			if strings.Contains(f.Resource, "/"+ns+"/") {
				t.Errorf("%s reports a healthy object: %s %s: %s", s.ID, f.Resource, f.Problem, f.Summary)
			}
		}
	}
	if ran < 13 {
		t.Errorf("only %d checks ran", ran)
	}
}
