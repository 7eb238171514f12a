package kube

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cronJob creates a CronJob and writes the last schedule time its controller would
// (none when last is nil).
func cronJob(t *testing.T, ns, name, schedule string, mutate func(*batchv1.CronJobSpec), last *metav1.Time) *batchv1.CronJob {
	t.Helper()
	spec := batchv1.CronJobSpec{Schedule: schedule, JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "job", Image: "registry.example/job:1"}}}},
	}}}
	if mutate != nil {
		mutate(&spec)
	}
	cj, err := env.Client.BatchV1().CronJobs(ns).Create(t.Context(), &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if last != nil {
		cj = setLastSchedule(t, cj, *last)
	}
	return cj
}

func setLastSchedule(t *testing.T, cj *batchv1.CronJob, last metav1.Time) *batchv1.CronJob {
	t.Helper()
	cj.Status.LastScheduleTime = &last
	cj, err := env.Client.BatchV1().CronJobs(cj.Namespace).UpdateStatus(t.Context(), cj, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("status of cronjob: %v", err)
	}
	return cj
}

func TestCronJobsLate(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	longAgo, recently := ago(3*time.Hour), ago(2*time.Minute)
	stuck := cronJob(t, ns, "stuck", "*/5 * * * *", nil, &longAgo)
	// Healthy look-alikes: ran on time, suspended on purpose, created before its first run.
	cronJob(t, ns, "fresh", "*/5 * * * *", nil, &recently)
	cronJob(t, ns, "paused", "*/5 * * * *", func(s *batchv1.CronJobSpec) { s.Suspend = ptr(true) }, &longAgo)
	cronJob(t, ns, "new", "0 2 * * *", nil, nil)

	params := map[string]string{"namespace": ns}
	expect(t, "k8s.jobs.failed", found(t, p, "k8s.jobs.failed", params), "cronjob/"+ns+"/stuck cronjob_missed medium")
	if got := found(t, p, "k8s.jobs.failed", map[string]string{"namespace": ns, "late": "4h"}); len(got) != 0 {
		t.Errorf("late=4h: %v", got)
	}
	// A run resolves it on the next check.
	setLastSchedule(t, stuck, ago(time.Minute))
	if got := found(t, p, "k8s.jobs.failed", params); len(got) != 0 {
		t.Errorf("after a run: %v", got)
	}
}

// spec.timeZone decides when a run is due: 03:00 in Tokyo is 18:00 UTC.
func TestCronJobLateTimeZone(t *testing.T) {
	cluster(t, Options{})
	ns := namespace(t)
	last := metav1.NewTime(time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)) // 03:00 JST on December 1
	cronJob(t, ns, "tokyo", "0 3 * * *", func(s *batchv1.CronJobSpec) { s.TimeZone = ptr("Asia/Tokyo") }, &last)
	tests := []struct {
		name string
		now  time.Time
		want []string
	}{
		// Read in UTC, the next run would have been due at 03:00 UTC, 14 hours before.
		{"before the next run in Tokyo", last.Add(23 * time.Hour), nil},
		{"two hours after it", last.Add(26 * time.Hour), []string{"cronjob/" + ns + "/tokyo cronjob_missed medium"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			p := cluster(t, Options{Now: func() time.Time { return now }})
			expect(t, tt.name, found(t, p, "k8s.jobs.failed", map[string]string{"namespace": ns}), tt.want...)
		})
	}
}

// pv creates a PersistentVolume once bound to ns/claim and writes its phase.
func pv(t *testing.T, ns, name, claim string, phase corev1.PersistentVolumePhase) *corev1.PersistentVolume {
	t.Helper()
	api := env.Client.CoreV1().PersistentVolumes()
	v, err := api.Create(t.Context(), &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data/" + name}},
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: ns, Name: claim},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return setPVPhase(t, v, phase)
}

func setPVPhase(t *testing.T, v *corev1.PersistentVolume, phase corev1.PersistentVolumePhase) *corev1.PersistentVolume {
	t.Helper()
	v.Status = corev1.PersistentVolumeStatus{Phase: phase}
	v, err := env.Client.CoreV1().PersistentVolumes().UpdateStatus(t.Context(), v, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("status of pv: %v", err)
	}
	return v
}

func TestPersistentVolumesReleased(t *testing.T) {
	p := cluster(t, Options{})
	ns, other := namespace(t), namespace(t)
	released := pv(t, ns, ns+"-released", "data", corev1.VolumeReleased)
	pv(t, ns, ns+"-failed", "logs", corev1.VolumeFailed)
	// Healthy look-alikes, and a released volume of another namespace's claim.
	pv(t, ns, ns+"-bound", "cache", corev1.VolumeBound)
	pv(t, ns, ns+"-available", "spare", corev1.VolumeAvailable)
	pv(t, other, other+"-released", "data", corev1.VolumeReleased)

	params := map[string]string{"namespace": ns}
	expect(t, "k8s.pvc.pending", found(t, p, "k8s.pvc.pending", params),
		"persistentvolume/"+ns+"-released pv_released low",
		"persistentvolume/"+ns+"-failed pv_failed medium",
	)
	// Reusing the released volume resolves it on the next run.
	released.Spec.ClaimRef = nil
	released, err := env.Client.CoreV1().PersistentVolumes().Update(t.Context(), released, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setPVPhase(t, released, corev1.VolumeAvailable)
	expect(t, "after the fix", found(t, p, "k8s.pvc.pending", params), "persistentvolume/"+ns+"-failed pv_failed medium")
}
