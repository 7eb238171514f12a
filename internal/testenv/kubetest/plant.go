package kubetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// PlantDemo plants one of each kind of problem clankerd's Kubernetes checks find, in
// the namespace "shop" and cluster-wide, for a demo on the test apiserver (which has
// no controllers: the status of every object is written here).
func PlantDemo(ctx context.Context, c kubernetes.Interface) error {
	ns := "shop"
	steps := []func() error{
		func() error {
			_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			return err
		},
		func() error { return DeploymentWithStatus(ctx, c, ns, "api", 3, 1, "registry.example/api:2.4.1", true) },
		func() error { return DeploymentWithStatus(ctx, c, ns, "web", 2, 2, "nginx:latest", false) },
		func() error {
			return podWithStatus(ctx, c, ns, "api-7c9d-x2x", "api", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", Image: "registry.example/api:2.4.1", RestartCount: 14,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off restarting failed container"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}},
			}}})
		},
		func() error {
			return podWithStatus(ctx, c, ns, "worker-0", "worker", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
				Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/3 nodes are available: 3 Insufficient memory.",
			}}})
		},
		func() error {
			_, err := c.CoreV1().Services(ns).Create(ctx, &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: "payments", Namespace: ns},
				Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "payments"}, Ports: []corev1.ServicePort{{Port: 8080}}},
			}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := c.CoreV1().Services(ns).Create(ctx, &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: "public-api", Namespace: ns},
				Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "api"}, Ports: []corev1.ServicePort{{Port: 443}}},
			}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := c.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: "data-db-0", Namespace: ns},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}}},
			}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "ci-deployer-admin"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "ci", Name: "deployer"}},
			}, metav1.CreateOptions{})
			return err
		},
		func() error { return node(ctx, c, "worker-1", false, corev1.ConditionTrue) },
		func() error { return node(ctx, c, "worker-2", false, corev1.ConditionUnknown) },
		func() error {
			return podWithStatus(ctx, c, ns, "web-5f6d-abc", "web", corev1.PodStatus{Phase: corev1.PodRunning})
		},
		func() error { return node(ctx, c, "worker-3", true, corev1.ConditionTrue) },
		func() error {
			now := metav1.Now()
			j, err := c.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{Name: "migrate-2026", Namespace: ns},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "migrate", Image: "registry.example/migrate:1"}}}}},
			}, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			j.Status = batchv1.JobStatus{StartTime: &now, Failed: 1, Conditions: []batchv1.JobCondition{
				{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
				{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
			}}
			_, err = c.BatchV1().Jobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{})
			return err
		},
		func() error {
			_, err := c.CoreV1().Events(ns).Create(ctx, &corev1.Event{
				ObjectMeta:     metav1.ObjectMeta{Name: "api-backoff", Namespace: ns},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "api-7c9d-x2x"},
				Type:           corev1.EventTypeWarning, Reason: "BackOff", Message: "Back-off restarting failed container app",
				FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 12, Source: corev1.EventSource{Component: "kubelet"},
			}, metav1.CreateOptions{})
			return err
		},
		// An Ingress to a Service that does not exist (k8s.ingress.broken).
		func() error {
			prefix := networkingv1.PathTypePrefix
			_, err := c.NetworkingV1().Ingresses(ns).Create(ctx, &networkingv1.Ingress{
				ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
				Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "checkout.shop.example", IngressRuleValue: networkingv1.IngressRuleValue{
					HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
						Service: &networkingv1.IngressServiceBackend{Name: "checkout-v2", Port: networkingv1.ServiceBackendPort{Number: 80}},
					}}}},
				}}}},
			}, metav1.CreateOptions{})
			return err
		},
		// A ResourceQuota at 95% of its pods (k8s.quota.exhausted).
		func() error {
			q, err := c.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{
				ObjectMeta: metav1.ObjectMeta{Name: "shop-pods", Namespace: ns},
				Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("20")}},
			}, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			q.Status = corev1.ResourceQuotaStatus{
				Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("20")},
				Used: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("19")},
			}
			_, err = c.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, q, metav1.UpdateOptions{})
			return err
		},
		// A volume left Released by a deleted claim (k8s.pvc.pending).
		func() error {
			pv, err := c.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
				ObjectMeta: metav1.ObjectMeta{Name: "pv-old-orders"},
				Spec: corev1.PersistentVolumeSpec{
					Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("50Gi")},
					AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/mnt/orders"}},
					ClaimRef:               &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: ns, Name: "orders-old"},
				},
			}, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			pv.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumeReleased}
			_, err = c.CoreV1().PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("planting step %d: %w", i+1, err)
		}
	}
	return nil
}

// DeploymentWithStatus creates a deployment of want replicas of one container of the
// image (with CPU and memory requests when requests is set) and writes its status with
// available of them ready.
func DeploymentWithStatus(ctx context.Context, c kubernetes.Interface, ns, name string, want, available int32, image string, requests bool) error {
	ctr := corev1.Container{Name: "app", Image: image}
	if requests {
		ctr.Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
		}
	}
	d, err := c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &want, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: corev1.PodSpec{Containers: []corev1.Container{ctr}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	d.Status = appsv1.DeploymentStatus{Replicas: want, ReadyReplicas: available, AvailableReplicas: available}
	_, err = c.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	return err
}

func podWithStatus(ctx context.Context, c kubernetes.Interface, ns, name, app string, status corev1.PodStatus) error {
	image := "registry.example/" + app + ":2.4.1"
	if app == "web" {
		image = "nginx:latest"
	}
	return CreatePod(ctx, c, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}, status)
}

// CreatePod creates the pod, then writes its status (there is no kubelet to do it).
func CreatePod(ctx context.Context, c kubernetes.Interface, pod *corev1.Pod, status corev1.PodStatus) error {
	p, err := c.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	p.Status = status
	_, err = c.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	return err
}

func node(ctx context.Context, c kubernetes.Interface, name string, cordoned bool, ready corev1.ConditionStatus) error {
	n, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Unschedulable: cordoned}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	reason := "KubeletReady"
	if ready != corev1.ConditionTrue {
		reason = "NodeStatusUnknown"
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: reason, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}}
	_, err = c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}

// Load creates pods, deployments and services spread over namespaces, as a benchmark
// load: realistic objects (a few labels, resources, a status), created concurrently.
func Load(ctx context.Context, c kubernetes.Interface, pods, deployments, services int) error {
	const namespaces = 20
	for i := range namespaces {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("load-%02d", i)}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	work := make(chan func() error)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for w := range work {
				if err := w(); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		})
	}
	ns := func(i int) string { return fmt.Sprintf("load-%02d", i%namespaces) }
	for i := range deployments {
		work <- func() error {
			return DeploymentWithStatus(ctx, c, ns(i), fmt.Sprintf("svc-%04d", i), 5, 5, fmt.Sprintf("registry.example/svc-%04d:1.%d", i, i%7), true)
		}
	}
	for i := range pods {
		work <- func() error {
			app := fmt.Sprintf("svc-%04d", i%max(deployments, 1))
			return ownedPod(ctx, c, ns(i), fmt.Sprintf("%s-6b7d9-%06d", app, i), app, corev1.PodStatus{
				Phase: corev1.PodRunning, PodIP: "10.1.2.3", StartTime: &metav1.Time{Time: time.Now().Add(-time.Hour)},
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "registry.example/" + app + ":2.4.1", Ready: true, RestartCount: int32(i % 3),
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(time.Now().Add(-time.Hour))}}}},
			})
		}
	}
	for i := range services {
		work <- func() error {
			_, err := c.CoreV1().Services(ns(i)).Create(ctx, &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%04d", i), Namespace: ns(i)},
				Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": fmt.Sprintf("svc-%04d", i)}, Ports: []corev1.ServicePort{{Port: 80}}},
			}, metav1.CreateOptions{})
			return err
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// ownedPod creates a pod as a Deployment's ReplicaSet would: owner reference,
// pod-template-hash, requests and limits, a non-root security context.
func ownedPod(ctx context.Context, c kubernetes.Interface, ns, name, app string, status corev1.PodStatus) error {
	isController, nonRoot := true, true
	return CreatePod(ctx, c, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns,
			Labels:          map[string]string{"app": app, "pod-template-hash": "6b7d9", "team": "platform"},
			Annotations:     map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: app + "-6b7d9", UID: "0b1c2d3e-0000-4000-8000-000000000001", Controller: &isController}},
		},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &nonRoot},
			Containers: []corev1.Container{{
				Name: "app", Image: "registry.example/" + app + ":2.4.1",
				Env:   []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "PORT", Value: "8080"}},
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
			}},
		},
	}, status)
}
