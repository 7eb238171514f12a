package kube

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clankerd/clankerd/checks"
)

// referencing is a pod spec that reads a ConfigMap through envFrom, a Secret through
// env, and mounts a claim; an empty name leaves that reference out.
func referencing(configMap, secret, claim string) corev1.PodSpec {
	spec := podTemplate("app").Spec
	c := &spec.Containers[0]
	if configMap != "" {
		c.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: configMap}}}}
	}
	if secret != "" {
		c.Env = []corev1.EnvVar{{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "password",
		}}}, {Name: "PLAIN", Value: "dropped by slim"}}
	}
	if claim != "" {
		spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
	}
	return spec
}

func deploymentWith(t *testing.T, ns, name string, spec corev1.PodSpec) {
	t.Helper()
	tmpl := podTemplate(name)
	tmpl.Spec = spec
	if _, err := env.Client.AppsV1().Deployments(ns).Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr(int32(1)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: tmpl},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// refTargets creates the objects a spec can reference.
func refTargets(t *testing.T, ns string, configMaps, secrets, claims, accounts []string) {
	t.Helper()
	core := env.Client.CoreV1()
	for _, n := range configMaps {
		if _, err := core.ConfigMaps(ns).Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range secrets {
		if _, err := core.Secrets(ns).Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: n}, StringData: map[string]string{"password": "hunter2"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range claims {
		if _, err := core.PersistentVolumeClaims(ns).Create(t.Context(), &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: n},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range accounts {
		if _, err := core.ServiceAccounts(ns).Create(t.Context(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRefsMissing(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	refTargets(t, ns, []string{"app-config"}, []string{"db"}, []string{"data"}, []string{"runner"})

	// Healthy look-alikes: everything exists, an optional reference, the default
	// ServiceAccount, a finished Job and a Succeeded pod.
	good := referencing("app-config", "db", "data")
	good.ServiceAccountName = "runner"
	good.Volumes = append(good.Volumes, corev1.Volume{Name: "opt", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "not-there"}, Optional: ptr(true),
	}}})
	deploymentWith(t, ns, "good", good)
	dflt := referencing("", "", "")
	dflt.ServiceAccountName = "default"
	deploymentWith(t, ns, "plain", dflt)
	pod(t, ns, "finished", func(p *corev1.Pod) {
		p.Spec = referencing("gone-cm", "", "")
		p.Status = corev1.PodStatus{Phase: corev1.PodSucceeded}
	})
	done, err := env.Client.BatchV1().Jobs(ns).Create(t.Context(), &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "done", Namespace: ns},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: func() corev1.PodSpec {
			s := referencing("gone-cm", "", "")
			s.RestartPolicy = corev1.RestartPolicyNever
			return s
		}()}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	done.Status = batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}}
	if _, err := env.Client.BatchV1().Jobs(ns).UpdateStatus(t.Context(), done, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Problems: a Deployment missing all four kinds, its pod (folded into it), a bare
	// pod with a projected Secret, a CronJob with a missing image pull secret.
	broken := referencing("missing-cm", "missing-secret", "missing-claim")
	broken.ServiceAccountName = "ghost"
	deploymentWith(t, ns, "broken", broken)
	pod(t, ns, "broken-7d9f8-abcde", func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": "broken", "pod-template-hash": "7d9f8"}
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "broken-7d9f8", UID: types.UID("0b1c"), Controller: ptr(true)}}
		p.Spec = referencing("missing-cm", "", "")
	})
	pod(t, ns, "lonely", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "creds", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "gone-proj"}}},
		}}}}}
	})
	cronJob(t, ns, "nightly", "0 2 * * *", func(s *batchv1.CronJobSpec) {
		s.JobTemplate.Spec.Template.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
	}, nil)

	params := map[string]string{"namespace": ns}
	want := []string{
		"deployment/" + ns + "/broken refs_missing high",
		"pod/" + ns + "/lonely refs_missing high",
		"cronjob/" + ns + "/nightly refs_missing high",
	}
	expect(t, "k8s.refs.missing", found(t, p, "k8s.refs.missing", params), want...)
	res, err := run(t, p, "k8s.refs.missing", params)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if f.Resource != "deployment/"+ns+"/broken" {
			continue
		}
		wantEv := map[string]string{"configmaps": "missing-cm", "secrets": "missing-secret", "persistentvolumeclaims": "missing-claim", "serviceaccount": "ghost"}
		for k, v := range wantEv {
			if f.Evidence[k] != v {
				t.Errorf("evidence %s = %q, want %q (%v)", k, f.Evidence[k], v, f.Evidence)
			}
		}
		if !strings.Contains(f.Summary, "configmap missing-cm, secret missing-secret, persistentvolumeclaim missing-claim, serviceaccount ghost") {
			t.Errorf("summary: %s", f.Summary)
		}
	}
	// The daemon's watch cache keeps the same references.
	watching := cluster(t, Options{Watch: true})
	expect(t, "watching", found(t, watching, "k8s.refs.missing", params), want...)
	// secrets=false leaves Secret references alone.
	expect(t, "secrets=false", found(t, p, "k8s.refs.missing", map[string]string{"namespace": ns, "secrets": "false"}),
		"deployment/"+ns+"/broken refs_missing high",
	)

	// Creating what is missing resolves the findings on the next run.
	refTargets(t, ns, []string{"missing-cm"}, []string{"missing-secret", "gone-proj", "regcred"}, []string{"missing-claim"}, []string{"ghost"})
	if got := found(t, p, "k8s.refs.missing", params); len(got) != 0 {
		t.Errorf("after the fix: %v", got)
	}
}

// Without the right to list a kind, each check fails with an error naming the
// permission; Secret names need their own role. (Not parallel: it changes what
// "nobody" may do.)
func TestAutoscalerBudgetRefQuotaChecksNeedRBAC(t *testing.T) {
	cluster(t, Options{})
	nobody := New(Options{Kubeconfig: env.NobodyKubeconfig})
	defer nobody.Close()
	noGrants(t)
	for id, resource := range map[string]string{
		"k8s.hpa.broken":      "horizontalpodautoscalers",
		"k8s.pdb.blocking":    "poddisruptionbudgets",
		"k8s.refs.missing":    "configmaps",
		"k8s.quota.exhausted": "resourcequotas",
	} {
		_, err := run(t, nobody, id, nil)
		if err == nil || !strings.Contains(err.Error(), "forbidden by RBAC") || !strings.Contains(err.Error(), `cannot list resource "`+resource+`"`) {
			t.Errorf("%s without rights: %v; want forbidden naming list %s", id, err, resource)
		}
	}

	applyClusterRole(t, "clankerd-read.yaml")
	reader := New(Options{Kubeconfig: env.NobodyKubeconfig})
	defer reader.Close()
	_, err := run(t, reader, "k8s.refs.missing", nil)
	for _, want := range []string{"list on secrets", "clankerd-secrets-read", "contrib/kubernetes/clankerd-secrets.yaml", "secrets=false", `cannot list resource "secrets"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("k8s.refs.missing with the read role only: %v; want it to say %q", err, want)
		}
	}
	if _, err := run(t, reader, "k8s.refs.missing", map[string]string{"secrets": "false"}); err != nil {
		t.Errorf("secrets=false with the read role: %v", err)
	}
}

// The new kinds are read once per round, whichever checks need them: running every
// check of this family a second time in the same round sends no request.
func TestAutoscalerBudgetRefQuotaChecksShareTheRound(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	deployment(t, ns, "web", 1, "", "")
	hpa(t, ns, "web", "Deployment", "web", 1, 3)
	pdb(t, ns, "web", "web", minAvailable(1), 0, 0, 0)
	reg := checks.NewRegistry()
	if err := p.Register(reg); err != nil {
		t.Fatal(err)
	}
	ctx := checks.WithRound(t.Context(), checks.NewRound())
	ids := []string{"k8s.hpa.broken", "k8s.pdb.blocking", "k8s.refs.missing", "k8s.quota.exhausted", "k8s.jobs.failed", "k8s.pvc.pending", "k8s.workloads.unavailable"}
	runAll := func() int64 {
		before := p.Requests()
		for _, id := range ids {
			c, _ := reg.Check(id)
			params, err := c.Spec().Bind(map[string]string{"namespace": ns}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Run(ctx, params); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
		return p.Requests() - before
	}
	if n := runAll(); n == 0 {
		t.Fatal("the first run sent no request")
	}
	if n := runAll(); n != 0 {
		t.Errorf("running the checks again in the same round sent %d requests, want 0", n)
	}
}

// The daemon's watch cache serves the new kinds: the same findings as a LIST.
func TestAutoscalerBudgetRefQuotaChecksWatched(t *testing.T) {
	listing, watching := cluster(t, Options{}), cluster(t, Options{Watch: true})
	ns := namespace(t)
	hpa(t, ns, "orphan", "Deployment", "gone", 0, 5)
	pdb(t, ns, "stale", "renamed", minAvailable(1), 0, 0, 0)
	quota(t, ns, "full", corev1.ResourceList{"pods": mustQuantity("2")}, corev1.ResourceList{"pods": mustQuantity("2")})
	pv(t, ns, ns+"-released", "data", corev1.VolumeReleased)
	params := map[string]string{"namespace": ns}
	for _, id := range []string{"k8s.hpa.broken", "k8s.pdb.blocking", "k8s.quota.exhausted", "k8s.pvc.pending"} {
		want := found(t, listing, id, params)
		if len(want) != 1 {
			t.Errorf("%s listing: %v, want one finding", id, want)
		}
		expect(t, id+" watched", found(t, watching, id, params), want...)
	}
}
