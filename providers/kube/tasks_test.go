package kube

import (
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/testenv/kubetest"
	"github.com/clankerd/clankerd/internal/testenv/plantest"
	"github.com/clankerd/clankerd/tasks"
)

func deployment(t *testing.T, ns, name string, n int32, cpu, mem string) *appsv1.Deployment {
	t.Helper()
	d, err := env.Client.AppsV1().Deployments(ns).Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       appsv1.DeploymentSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: requesting(name, cpu, mem)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// requesting is the pod template of app name, its container requesting cpu and mem
// (nothing when cpu is "").
func requesting(name, cpu, mem string) corev1.PodTemplateSpec {
	tmpl := podTemplate(name)
	if cpu != "" {
		tmpl.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: mustQuantity(cpu), corev1.ResourceMemory: mustQuantity(mem)}
	}
	return tmpl
}

func liveReplicas(t *testing.T, ns, name string) int {
	t.Helper()
	d, err := env.Client.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return replicas(d.Spec.Replicas)
}

// replicasOf reads the desired replicas of a workload of kind k.
func replicasOf(t *testing.T, k scaleKind, p *Provider, ns, name string) int {
	t.Helper()
	c, err := p.connect("")
	if err != nil {
		t.Fatal(err)
	}
	w, err := k.get(t.Context(), c, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return replicas(w.replicas)
}

// approveStale approves a plan whose object changed after it and expects it refused,
// marked stale, saying why.
func approveStale(t *testing.T, m *plantest.Machinery, id, why string) {
	t.Helper()
	got, err := m.Approve(t.Context(), id, "alice")
	if !errors.Is(err, tasks.ErrStale) || got.State != tasks.PlanStale || !strings.Contains(got.Error, why) {
		t.Errorf("approve after drift: %v, %+v", err, got)
	}
}

func TestScalePlanApproveDrift(t *testing.T) {
	p := cluster(t, Options{Prices: Prices{VCPUHour: 0.04, GiBHour: 0.005}})
	ns := namespace(t)
	deployment(t, ns, "api", 2, "500m", "1Gi")
	m := plantest.New(t, p, time.Hour)
	it := m.Item(t, "k8s.deployment.scale", map[string]string{"deployment": ns + "/api", "replicas": "5"}, "")

	plan := m.Queue(t, it)
	if plan.State != tasks.PlanPending || plan.Target != "deployment/"+ns+"/api" || plan.Observed["replicas"] != "2" || plan.Observed["generation"] != "1" || plan.Observed["resource_version"] == "" {
		t.Fatalf("plan = %+v", plan)
	}
	if plan.Observed["pod_cpu_request"] != "500m" || plan.Observed["pod_memory_request"] != "1Gi" || !strings.Contains(plan.Change, "replicas 2 → 5; requests +1.5 CPU, +3 GiB memory") {
		t.Errorf("observed/change = %v %q", plan.Observed, plan.Change)
	}
	// 3 more pods × (0.5 vCPU × $0.04 + 1 GiB × $0.005) × 730 h = $54.75
	if plan.MonthlyCostChangeUSD == nil || *plan.MonthlyCostChangeUSD < 54.74 || *plan.MonthlyCostChangeUSD > 54.76 {
		t.Errorf("cost = %v", plan.MonthlyCostChangeUSD)
	}
	if plan.Risk != checks.RiskLow {
		t.Errorf("scaling up outside prod: risk %s %v", plan.Risk, plan.RiskReasons)
	}
	if liveReplicas(t, ns, "api") != 2 {
		t.Fatal("queueing changed the deployment")
	}
	if _, err := m.Approve(t.Context(), plan.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := liveReplicas(t, ns, "api"); got != 5 {
		t.Errorf("replicas after approve = %d, want 5", got)
	}

	// The object changes after the plan: approve refuses and changes nothing.
	it2 := m.Item(t, "k8s.deployment.scale", map[string]string{"deployment": ns + "/api", "replicas": "1"}, "")
	stale := m.Queue(t, it2)
	if stale.Risk != checks.RiskMedium {
		t.Errorf("scaling down: risk %s", stale.Risk)
	}
	d, _ := env.Client.AppsV1().Deployments(ns).Get(t.Context(), "api", metav1.GetOptions{})
	four := int32(4)
	d.Spec.Replicas = &four
	if _, err := env.Client.AppsV1().Deployments(ns).Update(t.Context(), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	approveStale(t, m, stale.ID, `replicas was "5" when planned, is "4" now`)
	if liveReplicas(t, ns, "api") != 4 {
		t.Error("a stale plan changed the deployment")
	}

	// The object is deleted after the plan.
	it3 := m.Item(t, "k8s.deployment.scale", map[string]string{"deployment": ns + "/api", "replicas": "0"}, "")
	gone := m.Queue(t, it3)
	if gone.Risk != checks.RiskHigh || !strings.Contains(strings.Join(gone.RiskReasons, ";"), "scales to zero") {
		t.Errorf("scale to zero: %s %v", gone.Risk, gone.RiskReasons)
	}
	if err := env.Client.AppsV1().Deployments(ns).Delete(t.Context(), "api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(t.Context(), gone.ID, "alice"); !errors.Is(err, tasks.ErrStale) || !strings.Contains(err.Error(), "(gone)") {
		t.Errorf("approve after delete: %v", err)
	}

	var actions []string
	_ = m.DB.View(t.Context(), func(tx *store.Tx) error {
		recs, _ := tx.AuditLog(store.AuditFilter{})
		for _, r := range recs {
			if r.Subject == plan.ID {
				actions = append(actions, r.Action)
			}
		}
		if _, err := tx.VerifyAudit(); err != nil {
			t.Error(err)
		}
		return nil
	})
	if strings.Join(actions, ",") != "plan.created,plan.approved,plan.applying,plan.applied" {
		t.Errorf("audit of the applied plan: %v", actions)
	}
}

func TestExpiredPlanRefused(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	deployment(t, ns, "web", 1, "", "")
	m := plantest.New(t, p, 200*time.Millisecond)
	plan := m.Queue(t, m.Item(t, "k8s.deployment.scale", map[string]string{"deployment": ns + "/web", "replicas": "3"}, ""))
	if plan.MonthlyCostChangeUSD != nil || !strings.Contains(plan.CostNote, "does not request") {
		t.Errorf("cost without requests: %v %q", plan.MonthlyCostChangeUSD, plan.CostNote)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := m.Approve(t.Context(), plan.ID, "alice"); !errors.Is(err, tasks.ErrExpired) {
		t.Errorf("approve after expiry: %v", err)
	}
	if liveReplicas(t, ns, "web") != 1 {
		t.Error("an expired plan changed the deployment")
	}
}

func TestRestartCordonDelete(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	deployment(t, ns, "api", 3, "", "")
	m := plantest.New(t, p, time.Hour)

	restart := m.Queue(t, m.Item(t, "k8s.deployment.restart", map[string]string{"deployment": ns + "/api"}, ""))
	if _, err := m.Approve(t.Context(), restart.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	d, _ := env.Client.AppsV1().Deployments(ns).Get(t.Context(), "api", metav1.GetOptions{})
	if d.Spec.Template.Annotations[restartedAtAnnotation] == "" || d.Generation != 2 {
		t.Errorf("restart did not touch the template: %v gen %d", d.Spec.Template.Annotations, d.Generation)
	}

	node, err := env.Client.CoreV1().Nodes().Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: ns + "-node"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.CoreV1().Nodes().Delete(t.Context(), node.Name, metav1.DeleteOptions{}) })
	pod(t, ns, "tenant", func(p *corev1.Pod) { p.Spec.NodeName = node.Name; p.Status.Phase = corev1.PodRunning })
	cordon := m.Queue(t, m.Item(t, "k8s.node.cordon", map[string]string{"node": node.Name}, ""))
	if cordon.Risk != checks.RiskHigh || cordon.Observed["pods"] != "1" {
		t.Errorf("cordon of a node with a pod: %s %v", cordon.Risk, cordon.Observed)
	}
	if _, err := m.Approve(t.Context(), cordon.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	n, _ := env.Client.CoreV1().Nodes().Get(t.Context(), node.Name, metav1.GetOptions{})
	if !n.Spec.Unschedulable {
		t.Error("node not cordoned")
	}
	uncordon := m.Queue(t, m.Item(t, "k8s.node.uncordon", map[string]string{"node": node.Name}, ""))
	if _, err := m.Approve(t.Context(), uncordon.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	n, _ = env.Client.CoreV1().Nodes().Get(t.Context(), node.Name, metav1.GetOptions{})
	if n.Spec.Unschedulable {
		t.Error("node not uncordoned")
	}

	del := m.Queue(t, m.Item(t, "k8s.pod.delete", map[string]string{"pod": ns + "/tenant"}, ""))
	if del.Risk != checks.RiskHigh || del.Observed["controller"] != "none" {
		t.Errorf("deleting a bare pod: %s %v", del.Risk, del.Observed)
	}
	if _, err := m.Approve(t.Context(), del.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	// Bound to a node, the pod is deleted gracefully: marked, and gone once the
	// kubelet confirms (this test cluster has none).
	if got, err := env.Client.CoreV1().Pods(ns).Get(t.Context(), "tenant", metav1.GetOptions{}); err == nil && got.DeletionTimestamp == nil {
		t.Error("the pod was not deleted")
	}
}

func TestFixQueuesPlansForNewFindings(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	d := deployment(t, ns, "api", 2, "", "")
	d.Status = appsv1.DeploymentStatus{Replicas: 2, AvailableReplicas: 0}
	if _, err := env.Client.AppsV1().Deployments(ns).UpdateStatus(t.Context(), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	m := plantest.New(t, p, time.Hour)
	it := m.Item(t, "k8s.workloads.unavailable", map[string]string{"namespace": ns}, "k8s.deployment.restart")
	o := m.Runner.RunItem(t.Context(), it, runner.Trigger{Kind: store.TriggerSchedule})
	if o.Receipt.Status != checks.Fail || len(o.FixPlans) != 1 {
		t.Fatalf("run = %+v, fix plans %+v", o.Receipt, o.FixPlans)
	}
	fix := o.FixPlans[0]
	if fix.Task != "k8s.deployment.restart" || fix.Params.Get("deployment") != ns+"/api" || fix.State != tasks.PlanPending || !strings.HasPrefix(fix.Source, "fix:") {
		t.Errorf("fix plan = %+v", fix)
	}
	// The finding is unchanged on the next run: no second plan.
	if o := m.Runner.RunItem(t.Context(), it, runner.Trigger{Kind: store.TriggerSchedule}); len(o.FixPlans) != 0 {
		t.Errorf("second run queued %d more fix plans", len(o.FixPlans))
	}
}

func TestStoppedAPIServerResolvesNothing(t *testing.T) {
	cluster(t, Options{}) // skips or fails without the binaries
	own, err := kubetest.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	p := New(Options{Kubeconfig: own.Kubeconfig})
	defer p.Close()
	m := plantest.New(t, p, time.Hour)
	_, err = own.Client.CoreV1().PersistentVolumeClaims("default").Create(t.Context(), &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	it := m.Item(t, "k8s.pvc.pending", map[string]string{"timeout": "5s"}, "")
	if o := m.Runner.RunItem(t.Context(), it, runner.Trigger{Kind: store.TriggerManual}); o.Receipt.Status != checks.Fail || o.Receipt.Findings.New != 1 {
		t.Fatalf("first run = %+v", o.Receipt)
	}
	own.Stop()
	o := m.Runner.RunItem(t.Context(), it, runner.Trigger{Kind: store.TriggerManual})
	if o.Receipt.Status != checks.Error || !strings.Contains(o.Receipt.Error, "cannot reach the apiserver") {
		t.Errorf("run against the stopped apiserver = %+v", o.Receipt)
	}
	open, _ := m.Findings(t.Context(), store.FindingFilter{States: []store.FindingState{store.FindingNew, store.FindingUnchanged}})
	if len(open) != 1 {
		t.Errorf("after the error run %d findings are open, want the 1 still open", len(open))
	}
}

func statefulSet(t *testing.T, ns, name string, n int32, cpu, mem string) *appsv1.StatefulSet {
	t.Helper()
	st, err := env.Client.AppsV1().StatefulSets(ns).Create(t.Context(), &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       appsv1.StatefulSetSpec{Replicas: &n, ServiceName: name, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: requesting(name, cpu, mem)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A StatefulSet is planned with the facts of a Deployment (its Service, no metrics
// API, the cost of its pods), scaled through its scale subresource on approve, and
// refused when it changed after the plan.
func TestStatefulSetScalePlanApproveDrift(t *testing.T) {
	p := cluster(t, Options{Prices: Prices{VCPUHour: 0.04, GiBHour: 0.005}})
	ns := namespace(t)
	statefulSet(t, ns, "db", 3, "500m", "1Gi")
	if _, err := env.Client.CoreV1().Services(ns).Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "db"}, Ports: []corev1.ServicePort{{Port: 5432}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	m := plantest.New(t, p, time.Hour)

	down := m.Queue(t, m.Item(t, "k8s.statefulset.scale", map[string]string{"statefulset": ns + "/db", "replicas": "2"}, ""))
	if down.Target != "statefulset/"+ns+"/db" || down.Observed["replicas"] != "3" || down.Observed["generation"] != "1" || down.Observed["uid"] == "" ||
		!strings.Contains(down.Change, "replicas 3 → 2; requests -0.5 CPU, -1 GiB memory") {
		t.Fatalf("plan = %+v", down)
	}
	// One pod fewer × (0.5 vCPU × $0.04 + 1 GiB × $0.005) × 730 h = -$18.25
	if down.MonthlyCostChangeUSD == nil || *down.MonthlyCostChangeUSD > -18.24 || *down.MonthlyCostChangeUSD < -18.26 {
		t.Errorf("cost = %v", down.MonthlyCostChangeUSD)
	}
	if down.Utilization != "utilization unknown: no metrics API" || down.Risk != checks.RiskMedium || !strings.Contains(strings.Join(down.RiskReasons, "; "), "scales down with its load unknown") || len(down.Dependencies) != 1 ||
		down.Dependencies[0].Resource != "service/"+ns+"/db" {
		t.Errorf("facts: %q %s %v: %s", down.Utilization, down.Risk, down.Dependencies, strings.Join(down.RiskReasons, "; "))
	}
	if _, err := m.Approve(t.Context(), down.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := replicasOf(t, statefulSetScale, p, ns, "db"); got != 2 {
		t.Errorf("replicas after approve = %d, want 2", got)
	}

	zero := m.Queue(t, m.Item(t, "k8s.statefulset.scale", map[string]string{"statefulset": ns + "/db", "replicas": "0"}, ""))
	if zero.Risk != checks.RiskHigh || !strings.Contains(strings.Join(zero.RiskReasons, ";"), "removes the last replica") {
		t.Errorf("scale to zero: %s %v", zero.Risk, zero.RiskReasons)
	}
	// Someone scales it after the plan (kubectl scale): approve refuses.
	if _, err := env.Client.AppsV1().StatefulSets(ns).UpdateScale(t.Context(), "db",
		&autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: autoscalingv1.ScaleSpec{Replicas: 5}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	approveStale(t, m, zero.ID, `replicas was "2" when planned, is "5" now`)
	if replicasOf(t, statefulSetScale, p, ns, "db") != 5 {
		t.Error("a stale plan changed the statefulset")
	}

	gone := m.Queue(t, m.Item(t, "k8s.statefulset.scale", map[string]string{"statefulset": ns + "/db", "replicas": "4"}, ""))
	if err := env.Client.AppsV1().StatefulSets(ns).Delete(t.Context(), "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(t.Context(), gone.ID, "alice"); !errors.Is(err, tasks.ErrStale) || !strings.Contains(err.Error(), "(gone)") {
		t.Errorf("approve after delete: %v", err)
	}
}
