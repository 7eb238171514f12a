package kube

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "planted"}}
}

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}}
}

func TestPodsUnhealthy(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	status := func(phase corev1.PodPhase, state corev1.ContainerState) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "x", State: state}}}
		}
	}
	pod(t, ns, "healthy", func(p *corev1.Pod) {
		status(corev1.PodRunning, running())(p)
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ago(time.Hour)}}
	})
	pod(t, ns, "crash", status(corev1.PodRunning, waiting("CrashLoopBackOff")))
	pod(t, ns, "pull", status(corev1.PodPending, waiting("ImagePullBackOff")))
	pod(t, ns, "config", status(corev1.PodPending, waiting("CreateContainerConfigError")))
	pod(t, ns, "oom", func(p *corev1.Pod) {
		status(corev1.PodRunning, running())(p)
		p.Status.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ago(time.Minute)}}
	})
	pod(t, ns, "unschedulable", func(p *corev1.Pod) {
		p.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/3 nodes are available: 3 Insufficient cpu.",
		}}}
	})
	pod(t, ns, "evicted", func(p *corev1.Pod) {
		p.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: memory."}
	})
	pod(t, ns, "notready", func(p *corev1.Pod) {
		status(corev1.PodRunning, running())(p)
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: ago(10 * time.Minute)}}
	})
	pod(t, ns, "justnotready", func(p *corev1.Pod) {
		status(corev1.PodRunning, running())(p)
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: ago(time.Minute)}}
	})
	pod(t, ns, "done", func(p *corev1.Pod) { p.Status = corev1.PodStatus{Phase: corev1.PodSucceeded} })

	params := map[string]string{"namespace": ns}
	got := found(t, p, "k8s.pods.unhealthy", params)
	expect(t, "k8s.pods.unhealthy", got,
		"pod/"+ns+"/crash crashloop high",
		"pod/"+ns+"/pull image_pull high",
		"pod/"+ns+"/config config_error high",
		"pod/"+ns+"/oom oomkilled high",
		"pod/"+ns+"/unschedulable unschedulable high",
		"pod/"+ns+"/evicted evicted medium",
		"pod/"+ns+"/notready not_ready medium",
	)
	// A longer for= forgives the pod that has not been ready for 10 minutes.
	if got := found(t, p, "k8s.pods.unhealthy", map[string]string{"namespace": ns, "selector": "app=notready", "for": "15m"}); len(got) != 0 {
		t.Errorf("for=15m: %v", got)
	}
	// Fixing the crashing pod resolves its finding on the next run.
	crash, err := env.Client.CoreV1().Pods(ns).Get(t.Context(), "crash", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	crash.Status.ContainerStatuses[0].State = running()
	if _, err := env.Client.CoreV1().Pods(ns).UpdateStatus(t.Context(), crash, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := found(t, p, "k8s.pods.unhealthy", map[string]string{"namespace": ns, "selector": "app=crash"}); len(got) != 0 {
		t.Errorf("after the fix: %v", got)
	}
}

func TestPodsRestarts(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	restarts := func(n int32) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "x", RestartCount: n, State: running()}}}
		}
	}
	pod(t, ns, "calm", restarts(2))
	pod(t, ns, "flappy", restarts(7))
	pod(t, ns, "storm", restarts(80))
	expect(t, "k8s.pods.restarts", found(t, p, "k8s.pods.restarts", map[string]string{"namespace": ns}),
		"pod/"+ns+"/flappy restarts medium", "pod/"+ns+"/storm restarts high")
	expect(t, "k8s.pods.restarts", found(t, p, "k8s.pods.restarts", map[string]string{"namespace": ns, "threshold": "10"}),
		"pod/"+ns+"/storm restarts medium")
}

func podTemplate(name string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
	}
}

func TestWorkloadsUnavailable(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	c := env.Client.AppsV1()
	dep := func(name string, want, available int32, conds ...appsv1.DeploymentCondition) {
		d, err := c.Deployments(ns).Create(t.Context(), &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       appsv1.DeploymentSpec{Replicas: &want, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: podTemplate(name)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d.Status = appsv1.DeploymentStatus{Replicas: want, AvailableReplicas: available, ReadyReplicas: available, Conditions: conds}
		if _, err := c.Deployments(ns).UpdateStatus(t.Context(), d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dep("ok", 3, 3)
	dep("degraded", 3, 1)
	dep("down", 2, 0)
	dep("stuck", 2, 2, appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet has timed out progressing."})

	two := int32(2)
	st, err := c.StatefulSets(ns).Create(t.Context(), &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec:       appsv1.StatefulSetSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, Template: podTemplate("db")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st.Status = appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 1, AvailableReplicas: 1}
	if _, err := c.StatefulSets(ns).UpdateStatus(t.Context(), st, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ds, err := c.DaemonSets(ns).Create(t.Context(), &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns},
		Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}, Template: podTemplate("agent")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, NumberAvailable: 2}
	if _, err := c.DaemonSets(ns).UpdateStatus(t.Context(), ds, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(t, "k8s.workloads.unavailable", found(t, p, "k8s.workloads.unavailable", map[string]string{"namespace": ns}),
		"deployment/"+ns+"/degraded unavailable medium",
		"deployment/"+ns+"/down unavailable high",
		"deployment/"+ns+"/stuck progress_deadline high",
		"statefulset/"+ns+"/db unavailable medium",
		"daemonset/"+ns+"/agent unavailable medium",
	)
}

func TestNodesNotReady(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t) // labels the nodes of this test
	node := func(name string, unschedulable bool, conds ...corev1.NodeCondition) {
		n, err := env.Client.CoreV1().Nodes().Create(t.Context(), &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name, Labels: map[string]string{"clankerd-test": ns}},
			Spec:       corev1.NodeSpec{Unschedulable: unschedulable},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.CoreV1().Nodes().Delete(t.Context(), n.Name, metav1.DeleteOptions{}) })
		n.Status.Conditions = conds
		if _, err := env.Client.CoreV1().Nodes().UpdateStatus(t.Context(), n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cond := func(typ corev1.NodeConditionType, s corev1.ConditionStatus) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: s, Reason: "Planted", LastHeartbeatTime: ago(time.Minute), LastTransitionTime: ago(time.Hour)}
	}
	node("good", false, cond(corev1.NodeReady, corev1.ConditionTrue), cond(corev1.NodeMemoryPressure, corev1.ConditionFalse))
	node("down", false, cond(corev1.NodeReady, corev1.ConditionUnknown))
	node("full", false, cond(corev1.NodeReady, corev1.ConditionTrue), cond(corev1.NodeDiskPressure, corev1.ConditionTrue), cond(corev1.NodeMemoryPressure, corev1.ConditionTrue))
	node("maint", true, cond(corev1.NodeReady, corev1.ConditionTrue))
	res, err := run(t, p, "k8s.nodes.notready", map[string]string{"selector": "clankerd-test=" + ns})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "k8s.nodes.notready", found(t, p, "k8s.nodes.notready", map[string]string{"selector": "clankerd-test=" + ns}),
		"node/"+ns+"-down not_ready critical",
		"node/"+ns+"-full disk_pressure high",
		"node/"+ns+"-full memory_pressure high",
		"node/"+ns+"-maint cordoned info",
	)
	_ = res
}

func TestPVCPending(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	pvc := func(name string) *corev1.PersistentVolumeClaim {
		c, err := env.Client.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	bound := pvc("bound")
	bound.Status.Phase = corev1.ClaimBound
	if _, err := env.Client.CoreV1().PersistentVolumeClaims(ns).UpdateStatus(t.Context(), bound, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pvc("waiting")
	expect(t, "k8s.pvc.pending", found(t, p, "k8s.pvc.pending", map[string]string{"namespace": ns}),
		"persistentvolumeclaim/"+ns+"/waiting pvc_pending medium")
}

func TestServicesNoEndpoints(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	svc := func(name string, selector map[string]string) {
		_, err := env.Client.CoreV1().Services(ns).Create(t.Context(), &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       corev1.ServiceSpec{Selector: selector, Ports: []corev1.ServicePort{{Port: 80}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	svc("served", map[string]string{"app": "served"})
	svc("empty", map[string]string{"app": "nothing"})
	svc("headless-manual", nil) // no selector: endpoints are managed by hand
	slice := func(service string, ready bool) {
		_, err := env.Client.DiscoveryV1().EndpointSlices(ns).Create(t.Context(), &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: service + "-abc", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	slice("served", true)
	slice("empty", false)
	expect(t, "k8s.services.noendpoints", found(t, p, "k8s.services.noendpoints", map[string]string{"namespace": ns}),
		"service/"+ns+"/empty no_endpoints high")
}

func TestJobsFailed(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	b := env.Client.BatchV1()
	cron, err := b.CronJobs(ns).Create(t.Context(), &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns},
		Spec: batchv1.CronJobSpec{Schedule: "0 2 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "job", Image: "registry.example/job:1"}}}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job := func(name string, failed bool, owner *batchv1.CronJob, created time.Duration) {
		j := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "job", Image: "registry.example/job:1"}},
			}}},
		}
		if owner != nil {
			j.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(owner, batchv1.SchemeGroupVersion.WithKind("CronJob"))}
		}
		j, err := b.Jobs(ns).Create(t.Context(), j, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.Now()
		j.Status.StartTime = &now
		if failed {
			j.Status.Failed = 1
			j.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
				{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
			}
		} else {
			j.Status.Succeeded = 1
			j.Status.CompletionTime = &now
			j.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
			}
		}
		if _, err := b.Jobs(ns).UpdateStatus(t.Context(), j, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("job %s status: %v", name, err)
		}
	}
	job("migrate", true, nil, 0)
	job("backfill", false, nil, 0)
	job("nightly-1", false, cron, 0)
	time.Sleep(1100 * time.Millisecond) // creation timestamps have second precision
	job("nightly-2", true, cron, 0)
	expect(t, "k8s.jobs.failed", found(t, p, "k8s.jobs.failed", map[string]string{"namespace": ns}),
		"job/"+ns+"/migrate job_failed medium",
		"cronjob/"+ns+"/nightly cronjob_last_failed high",
	)
}

func TestExposurePublic(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	svc := func(name string, typ corev1.ServiceType, ranges ...string) {
		_, err := env.Client.CoreV1().Services(ns).Create(t.Context(), &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 443}}, LoadBalancerSourceRanges: ranges},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	svc("internal", corev1.ServiceTypeClusterIP)
	svc("public-lb", corev1.ServiceTypeLoadBalancer)
	svc("office-lb", corev1.ServiceTypeLoadBalancer, "203.0.113.0/24")
	svc("nodeport", corev1.ServiceTypeNodePort)
	ing := func(name string, tls bool) {
		i := &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: name + ".example.com"}}},
		}
		if tls {
			i.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{name + ".example.com"}, SecretName: "cert"}}
		}
		if _, err := env.Client.NetworkingV1().Ingresses(ns).Create(t.Context(), i, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ing("secure", true)
	ing("plain", false)
	expect(t, "k8s.exposure.public", found(t, p, "k8s.exposure.public", map[string]string{"namespace": ns}),
		"service/"+ns+"/public-lb loadbalancer medium",
		"service/"+ns+"/office-lb loadbalancer info",
		"service/"+ns+"/nodeport nodeport low",
		"ingress/"+ns+"/plain ingress_no_tls medium",
	)
}

func TestRBACClusterAdmin(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	r := env.Client.RbacV1()
	labels := map[string]string{"clankerd-test": ns}
	all, err := r.ClusterRoles().Create(t.Context(), &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-god"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.ClusterRoles().Delete(t.Context(), all.Name, metav1.DeleteOptions{}) })
	crb := func(name, role string, subjects ...rbacv1.Subject) {
		b, err := r.ClusterRoleBindings().Create(t.Context(), &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name, Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   subjects,
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.ClusterRoleBindings().Delete(t.Context(), b.Name, metav1.DeleteOptions{}) })
	}
	sa := func(ns, name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
	}
	user := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice@example.com"}
	crb("ci", "cluster-admin", sa("ci", "deployer"))
	crb("humans", "cluster-admin", user, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:masters"})
	crb("custom", all.Name, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "ops"})
	crb("system", "cluster-admin", sa("kube-system", "controller"))
	crb("viewer", "view", sa("ci", "reader"))
	got := found(t, p, "k8s.rbac.clusteradmin", map[string]string{"selector": "clankerd-test=" + ns})
	expect(t, "k8s.rbac.clusteradmin", got,
		"clusterrolebinding/"+ns+"-ci cluster_admin_serviceaccount critical",
		"clusterrolebinding/"+ns+"-humans cluster_admin_user high",
		"clusterrolebinding/"+ns+"-custom cluster_admin_group high",
	)
	// A RoleBinding to cluster-admin grants everything within its namespace.
	_, err = r.RoleBindings(ns).Create(t.Context(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ns-admin", Namespace: ns, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{sa(ns, "app")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got = found(t, p, "k8s.rbac.clusteradmin", map[string]string{"selector": "clankerd-test=" + ns})
	if len(got) != 4 || got[3] != "rolebinding/"+ns+"/ns-admin cluster_admin_serviceaccount critical" {
		t.Errorf("with a RoleBinding: %q", got)
	}
}

func TestPodsPrivilegedImagesResources(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	pod(t, ns, "clean", nil)
	pod(t, ns, "priv", func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
		p.Spec.HostNetwork = true
		p.Spec.Volumes = []corev1.Volume{{Name: "docker", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/run/docker.sock"}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "docker", MountPath: "/var/run/docker.sock"}}
	})
	pod(t, ns, "root", func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr(int64(0)), AllowPrivilegeEscalation: ptr(true)}
	})
	pod(t, ns, "latest", func(p *corev1.Pod) {
		p.Spec.Containers[0].Image = "nginx:latest"
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar", Image: "registry.example:5000/tools/busybox",
			SecurityContext: &corev1.SecurityContext{RunAsNonRoot: ptr(true)}})
	})
	pod(t, ns, "pinned", func(p *corev1.Pod) {
		p.Spec.Containers[0].Image = "nginx@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	})
	// Three replicas of one Deployment make one finding.
	for _, name := range []string{"web-5d8f7-a", "web-5d8f7-b", "web-5d8f7-c"} {
		pod(t, ns, name, func(p *corev1.Pod) {
			p.Labels = map[string]string{"app": "web", "pod-template-hash": "5d8f7"}
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5d8f7", UID: "11111111-1111-1111-1111-111111111111", Controller: ptr(true)}}
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
			p.Spec.Containers[0].SecurityContext = nil
		})
	}
	params := map[string]string{"namespace": ns}
	expect(t, "k8s.pods.privileged", found(t, p, "k8s.pods.privileged", params),
		"pod/"+ns+"/priv privileged critical",
		"pod/"+ns+"/priv host_namespace high",
		"pod/"+ns+"/priv host_path high",
		"pod/"+ns+"/root runs_as_root medium",
		"pod/"+ns+"/root privilege_escalation medium",
		"deployment/"+ns+"/web may_run_as_root low",
		"pod/"+ns+"/priv may_run_as_root low",
	)
	expect(t, "k8s.images.latest", found(t, p, "k8s.images.latest", params),
		"pod/"+ns+"/latest latest_tag low")
	expect(t, "k8s.resources.missing", found(t, p, "k8s.resources.missing", params),
		"deployment/"+ns+"/web no_requests low",
		"deployment/"+ns+"/web no_memory_limit low",
		"pod/"+ns+"/latest no_requests low",
		"pod/"+ns+"/latest no_memory_limit low",
	)
}

func TestEventsWarning(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	event := func(name, kind, object, typ, reason string, at time.Duration) {
		_, err := env.Client.CoreV1().Events(ns).Create(t.Context(), &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: ns, Name: object},
			Type:           typ, Reason: reason, Message: reason + " happened",
			FirstTimestamp: ago(at), LastTimestamp: ago(at), Count: 1,
			Source: corev1.EventSource{Component: "test"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	event("a", "Pod", "api", corev1.EventTypeWarning, "BackOff", time.Minute)
	event("b", "Pod", "api", corev1.EventTypeWarning, "Unhealthy", 2*time.Minute)
	event("c", "Deployment", "web", corev1.EventTypeWarning, "SomethingOdd", 5*time.Minute)
	event("d", "Pod", "old", corev1.EventTypeWarning, "BackOff", 3*time.Hour)
	event("e", "Pod", "fine", corev1.EventTypeNormal, "Pulled", time.Minute)
	res, err := run(t, p, "k8s.events.warning", map[string]string{"namespace": ns})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 2 || res.Findings[0].Resource != "deployment/"+ns+"/web" || res.Findings[1].Evidence["reasons"] != "BackOff,Unhealthy" || res.Findings[1].Severity != "medium" {
		t.Errorf("findings = %+v", res.Findings)
	}
	if got := found(t, p, "k8s.events.warning", map[string]string{"namespace": ns, "since": "4h"}); len(got) != 3 {
		t.Errorf("since=4h: %v", got)
	}
}

func TestCleanNamespaceHasNoFindings(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	pod(t, ns, "fine", func(p *corev1.Pod) {
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "x", Ready: true, State: running()}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ago(time.Hour)}}}
	})
	reg := p.checkList()
	for _, c := range reg {
		id := c.Spec().ID
		raw := map[string]string{"namespace": ns}
		if id == "k8s.nodes.notready" || id == "k8s.rbac.clusteradmin" {
			raw = map[string]string{"selector": "clankerd-test=" + ns}
		}
		if got := found(t, p, id, raw); len(got) != 0 {
			t.Errorf("%s in a clean namespace: %v", id, got)
		}
	}
}
