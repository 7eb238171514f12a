package kube

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/checks"
)

// A finding whose summary or evidence changed on every run would be "changed" on every
// run: the time-based findings describe themselves by dates, not by countdowns.
func TestTimeBasedFindingsDoNotChangeBetweenRuns(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	same := func(what string, a, b checks.Finding, okA, okB bool) {
		t.Helper()
		if !okA || !okB {
			t.Fatalf("%s: found %v then %v, want both", what, okA, okB)
		}
		if a.Summary != b.Summary || a.Severity != b.Severity || !maps.Equal(a.Evidence, b.Evidence) {
			t.Errorf("%s changes between runs:\n  %s %v\n  %s %v", what, a.Summary, a.Evidence, b.Summary, b.Evidence)
		}
	}

	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "backup", CreationTimestamp: metav1.NewTime(now.Add(-72 * time.Hour))},
		Spec:       batchv1.CronJobSpec{Schedule: "0 2 * * *"},
		Status:     batchv1.CronJobStatus{LastScheduleTime: &metav1.Time{Time: now.Add(-58 * time.Hour)}},
	}
	a, okA := cronJobLate(cj, now, time.Hour)
	b, okB := cronJobLate(cj, now.Add(10*time.Minute), time.Hour)
	same("a late cronjob", a, b, okA, okB)

	secret := &metav1.ObjectMeta{Namespace: "shop", Name: "shop-tls"}
	notAfter := now.Add(5 * 24 * time.Hour)
	judge := func(at time.Time) (checks.Finding, bool) {
		return expiryJudge{now: at, warn: 14 * 24 * time.Hour}.judge("secret", secret, notAfter, map[string]string{})
	}
	a, okA = judge(now)
	b, okB = judge(now.Add(25 * time.Hour))
	same("an expiring certificate", a, b, okA, okB)
	if want := fmt.Sprintf("expires on %s", notAfter.Format(time.DateOnly)); !strings.Contains(a.Summary, want) {
		t.Errorf("summary %q does not say %q", a.Summary, want)
	}
}
