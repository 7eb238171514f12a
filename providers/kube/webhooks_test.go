package kube

import (
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// readySlice writes the EndpointSlice the endpoints controller would for a Service.
func readySlice(t *testing.T, ns, service string, ready bool) {
	t.Helper()
	_, err := env.Client.DiscoveryV1().EndpointSlices(ns).Create(t.Context(), &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: service + "-abc", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.7"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// hookClient is a webhook's client config: a Service in ns, or a URL when svc starts
// with https://.
func hookClient(ns, svc string, ca []byte) admissionv1.WebhookClientConfig {
	if strings.HasPrefix(svc, "https://") {
		return admissionv1.WebhookClientConfig{URL: &svc, CABundle: ca}
	}
	return admissionv1.WebhookClientConfig{Service: &admissionv1.ServiceReference{Namespace: ns, Name: svc}, CABundle: ca}
}

// harmlessRules match a resource no cluster has, so the planted webhooks, failing
// closed, never refuse a real write.
var harmlessRules = []admissionv1.RuleWithOperations{{
	Operations: []admissionv1.OperationType{admissionv1.Create},
	Rule:       admissionv1.Rule{APIGroups: []string{"clankerd.test"}, APIVersions: []string{"v1"}, Resources: []string{"widgets"}},
}}

func validatingHook(t *testing.T, ns, name, svc string, policy admissionv1.FailurePolicyType, ca []byte) {
	t.Helper()
	none := admissionv1.SideEffectClassNone
	cfg := &admissionv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name, Labels: map[string]string{"clankerd-test": ns}},
		Webhooks: []admissionv1.ValidatingWebhook{{
			Name: name + ".clankerd.test", ClientConfig: hookClient(ns, svc, ca), Rules: harmlessRules,
			FailurePolicy: &policy, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	create := env.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	if _, err := create.Create(t.Context(), cfg, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating %s: %v", cfg.Name, err)
	}
	t.Cleanup(func() { _ = create.Delete(t.Context(), cfg.Name, metav1.DeleteOptions{}) })
}

func mutatingHook(t *testing.T, ns, name, svc string, policy *admissionv1.FailurePolicyType, ca []byte) {
	t.Helper()
	none := admissionv1.SideEffectClassNone
	cfg := &admissionv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name, Labels: map[string]string{"clankerd-test": ns}},
		Webhooks: []admissionv1.MutatingWebhook{{
			Name: name + ".clankerd.test", ClientConfig: hookClient(ns, svc, ca), Rules: harmlessRules,
			FailurePolicy: policy, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	create := env.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	if _, err := create.Create(t.Context(), cfg, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating %s: %v", cfg.Name, err)
	}
	t.Cleanup(func() { _ = create.Delete(t.Context(), cfg.Name, metav1.DeleteOptions{}) })
}

func TestWebhooksBroken(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	service(t, ns, "hooks", nil)
	readySlice(t, ns, "hooks", true)
	service(t, ns, "stopped", nil)
	readySlice(t, ns, "stopped", false)
	validCA, _ := certPEM(t, inDays(365), "hooks."+ns+".svc")
	expiredCA, _ := certPEM(t, inDays(-3), "old."+ns+".svc")
	fail, ignore := admissionv1.Fail, admissionv1.Ignore

	// Healthy: a Service with ready endpoints and a valid CA; a URL webhook; no CA.
	validatingHook(t, ns, "ok", "hooks", fail, validCA)
	validatingHook(t, ns, "ok-url", "https://hooks.example.com/validate", fail, validCA)
	mutatingHook(t, ns, "ok-no-ca", "hooks", nil, nil)
	// Planted problems.
	validatingHook(t, ns, "gone", "ghost", fail, validCA)
	validatingHook(t, ns, "gone-ignored", "ghost", ignore, nil)
	mutatingHook(t, ns, "down", "stopped", nil, validCA) // failurePolicy defaults to Fail
	mutatingHook(t, ns, "expired", "hooks", &ignore, expiredCA)
	validatingHook(t, ns, "expired-url", "https://hooks.example.com/old", fail, expiredCA)

	raw := map[string]string{"selector": "clankerd-test=" + ns}
	expect(t, "k8s.webhooks.broken", found(t, p, "k8s.webhooks.broken", raw),
		"validatingwebhookconfiguration/"+ns+"-gone service_missing critical",
		"validatingwebhookconfiguration/"+ns+"-gone-ignored service_missing medium",
		"mutatingwebhookconfiguration/"+ns+"-down no_ready_endpoints critical",
		"mutatingwebhookconfiguration/"+ns+"-expired ca_expired medium",
		"validatingwebhookconfiguration/"+ns+"-expired-url ca_expired critical",
	)
	// The daemon's watch cache sees the same.
	watching := cluster(t, Options{Watch: true})
	expect(t, "watching", found(t, watching, "k8s.webhooks.broken", raw),
		"validatingwebhookconfiguration/"+ns+"-gone service_missing critical",
		"validatingwebhookconfiguration/"+ns+"-gone-ignored service_missing medium",
		"mutatingwebhookconfiguration/"+ns+"-down no_ready_endpoints critical",
		"mutatingwebhookconfiguration/"+ns+"-expired ca_expired medium",
		"validatingwebhookconfiguration/"+ns+"-expired-url ca_expired critical",
	)
	// namespace= keeps the webhooks served from that namespace: URL webhooks go.
	expect(t, "namespace=", found(t, p, "k8s.webhooks.broken", map[string]string{"namespace": ns}),
		"validatingwebhookconfiguration/"+ns+"-gone service_missing critical",
		"validatingwebhookconfiguration/"+ns+"-gone-ignored service_missing medium",
		"mutatingwebhookconfiguration/"+ns+"-down no_ready_endpoints critical",
		"mutatingwebhookconfiguration/"+ns+"-expired ca_expired medium",
	)
	res, err := run(t, p, "k8s.webhooks.broken", raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if strings.HasSuffix(f.Resource, "-gone") && (f.Evidence["services"] != ns+"/ghost" || f.Evidence["webhooks"] != "gone.clankerd.test" || !strings.Contains(f.Summary, "refuses every write")) {
			t.Errorf("gone: %+v", f)
		}
		if strings.HasSuffix(f.Resource, "-expired") && f.Evidence["ca_not_after"] == "" {
			t.Errorf("expired: no ca_not_after in %v", f.Evidence)
		}
	}

	// Fixing each resolves it on the next run.
	service(t, ns, "ghost", nil)
	readySlice(t, ns, "ghost", true)
	slice, err := env.Client.DiscoveryV1().EndpointSlices(ns).Get(t.Context(), "stopped-abc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	slice.Endpoints[0].Conditions.Ready = ptr(true)
	if _, err := env.Client.DiscoveryV1().EndpointSlices(ns).Update(t.Context(), slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	hooks := env.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	cfg, err := hooks.Get(t.Context(), ns+"-expired", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Webhooks[0].ClientConfig.CABundle = validCA
	if _, err := hooks.Update(t.Context(), cfg, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(t, "after the fixes", found(t, p, "k8s.webhooks.broken", raw),
		"validatingwebhookconfiguration/"+ns+"-expired-url ca_expired critical")
}

func TestCAExpired(t *testing.T) {
	now := time.Now()
	old, _ := certPEM(t, now.Add(-time.Hour), "old")
	fresh, _ := certPEM(t, now.Add(time.Hour), "fresh")
	tests := []struct {
		name   string
		bundle []byte
		want   bool
	}{
		{"empty", nil, false},
		{"not PEM", []byte("garbage"), false},
		{"expired", old, true},
		{"valid", fresh, false},
		{"rotating: one of two still valid", append(append([]byte{}, old...), fresh...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := caExpired(tt.bundle, now); got != tt.want {
				t.Errorf("caExpired = %v, want %v", got, tt.want)
			}
		})
	}
}
