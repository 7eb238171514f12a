package kubetest

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	env       *Env
	envReason string
)

func TestMain(m *testing.M) { os.Exit(Main(m, &env, &envReason)) }

func TestSubstituteTimes(t *testing.T) {
	now := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "t: ${ago:3d}", want: "t: 2026-11-29T18:00:00Z"},
		{in: "t: ${in:90m}", want: "t: 2026-12-02T19:30:00Z"},
		{in: "a: ${ago:10s} b: ${in:1d}", want: "a: 2026-12-02T17:59:50Z b: 2026-12-03T18:00:00Z"},
		{in: "no placeholder", want: "no placeholder"},
		{in: "t: ${ago:3x}", wantErr: true},
		{in: "t: ${ago:1.5d}", wantErr: true},
	}
	for _, tt := range tests {
		got, err := substituteTimes(tt.in, now)
		if tt.wantErr {
			if err == nil {
				t.Errorf("substituteTimes(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("substituteTimes(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestLoadFixturePeers loads the peers benchmark's fixture and checks that statuses, times,
// certificates and default service accounts are what the fixture says.
func TestLoadFixturePeers(t *testing.T) {
	Require(t, env, envReason)
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := LoadFixture(t.Context(), cfg, "../../../bench/testdata/peers", now); err != nil {
		t.Fatal(err)
	}
	ctx, c := t.Context(), env.Client
	pod, err := c.CoreV1().Pods("shop").Get(ctx, "api-crashloop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != corev1.PodRunning || len(pod.Status.ContainerStatuses) != 1 ||
		pod.Status.ContainerStatuses[0].State.Waiting == nil || pod.Status.ContainerStatuses[0].State.Waiting.Reason != "CrashLoopBackOff" {
		t.Errorf("shop/api-crashloop status = %+v, want Running in CrashLoopBackOff", pod.Status)
	}
	if pod.Spec.ServiceAccountName != "default" {
		t.Errorf("shop/api-crashloop service account = %q, want default (as admission writes it)", pod.Spec.ServiceAccountName)
	}
	cj, err := c.BatchV1().CronJobs("edge").Get(ctx, "nightly-report", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cj.Status.LastScheduleTime == nil || now.Sub(cj.Status.LastScheduleTime.Time).Round(time.Hour) != 96*time.Hour {
		t.Errorf("edge/nightly-report lastScheduleTime = %v, want 4 days before %v", cj.Status.LastScheduleTime, now)
	}
	pv, err := c.CoreV1().PersistentVolumes().Get(ctx, "pv-released", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pv.Status.Phase != corev1.VolumeReleased {
		t.Errorf("pv-released phase = %q, want Released", pv.Status.Phase)
	}
	for _, tt := range []struct {
		name    string
		expired bool
	}{{"legacy-tls-expired", true}, {"admin-tls-expiring", false}} {
		s, err := c.CoreV1().Secrets("edge").Get(ctx, tt.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(s.Data[corev1.TLSCertKey])
		if block == nil || len(s.Data[corev1.TLSPrivateKeyKey]) == 0 {
			t.Fatalf("secret edge/%s has no certificate or key", tt.name)
		}
		crt, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if got := crt.NotAfter.Before(now); got != tt.expired {
			t.Errorf("secret edge/%s notAfter %v: expired = %v, want %v", tt.name, crt.NotAfter, got, tt.expired)
		}
	}
	for _, ns := range []string{"shop", "edge", "healthy"} {
		if _, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			t.Errorf("namespace %s has no default ServiceAccount: %v", ns, err)
		}
	}
}
