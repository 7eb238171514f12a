package kube

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestSlimTLSSecretKeepsNoKey(t *testing.T) {
	crt, key := certPEM(t, inDays(30), "shop.example.com", "www.example.com")
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "shop-tls", Labels: map[string]string{"app": "shop"}, Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": string(key)}},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key, "ca.crt": crt},
	}
	c := slimTLSSecret(s)
	if c.meta.Name != "shop-tls" || c.commonName != "shop.example.com" || strings.Join(c.dnsNames, ",") != "shop.example.com,www.example.com" || c.notAfter.IsZero() {
		t.Errorf("kept %+v", c)
	}
	if kept := fmt.Sprintf("%#v", c); strings.Contains(kept, "PRIVATE KEY") || strings.Contains(kept, "CERTIFICATE") || strings.Contains(kept, "last-applied") {
		t.Errorf("the slim certificate keeps secret data: %s", kept)
	}
	// Nothing in the type can hold raw bytes or a key.
	typ := reflect.TypeOf(tlsCert{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		if (f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Uint8) || strings.Contains(strings.ToLower(f.Name), "key") || strings.Contains(strings.ToLower(f.Name), "data") {
			t.Errorf("tlsCert.%s (%s) could hold key material", f.Name, f.Type)
		}
	}
	if len(c.meta.Annotations) != 0 || c.meta.ManagedFields != nil {
		t.Errorf("kept metadata beyond names and labels: %+v", c.meta)
	}
}

func TestSlimTLSSecretUnreadable(t *testing.T) {
	crt, _ := certPEM(t, inDays(30), "x.example.com")
	tests := []struct {
		name string
		crt  []byte
		want string
	}{
		{"empty", nil, "tls.crt is empty"},
		{"not PEM", []byte("hello"), "no PEM certificate"},
		{"a key first, then the certificate", append([]byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), crt...), ""},
		{"bad DER", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "tls.crt: x509"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := slimTLSSecret(&corev1.Secret{Data: map[string][]byte{corev1.TLSCertKey: tt.crt}})
			if (tt.want == "") != (c.unreadable == "") || !strings.Contains(c.unreadable, tt.want) {
				t.Errorf("unreadable = %q, want %q", c.unreadable, tt.want)
			}
		})
	}
}

var certificatesResource = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}

func TestCertsExpiry(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	plant := func(name string, notAfter time.Time) {
		crt, key := certPEM(t, notAfter, name+".example.com")
		tlsSecret(t, ns, name, crt, key)
	}
	// Healthy: a certificate with months left; an expired certificate in an Opaque
	// secret is not a TLS secret and is never listed.
	plant("fresh", inDays(90))
	crt, key := certPEM(t, inDays(-1), "opaque.example.com")
	if _, err := env.Client.CoreV1().Secrets(ns).Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "opaque", Namespace: ns},
		Data:       map[string][]byte{"tls.crt": crt, "tls.key": key},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Planted problems.
	plant("expired", inDays(-2))
	plant("soon", inDays(10))
	plant("very-soon", inDays(2))
	tlsSecret(t, ns, "garbage", []byte("not a certificate"), []byte("x"))
	ingress(t, ns, "shop", "web", "80", withTLS("expired"))

	raw := map[string]string{"namespace": ns}
	expect(t, "k8s.certs.expiry", found(t, p, "k8s.certs.expiry", raw),
		"secret/"+ns+"/expired cert_expired critical",
		"secret/"+ns+"/soon cert_expiring medium",
		"secret/"+ns+"/very-soon cert_expiring high",
		"secret/"+ns+"/garbage cert_unreadable low",
	)
	res, err := run(t, p, "k8s.certs.expiry", raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if f.Resource == "secret/"+ns+"/expired" && (f.Evidence["ingresses"] != "shop" || f.Evidence["dns_names"] != "expired.example.com" || !strings.Contains(f.Summary, "used by ingress shop")) {
			t.Errorf("expired: %+v", f)
		}
	}
	expect(t, "warn=1d", found(t, p, "k8s.certs.expiry", map[string]string{"namespace": ns, "warn": "1d"}),
		"secret/"+ns+"/expired cert_expired critical",
		"secret/"+ns+"/garbage cert_unreadable low",
	)

	// Renewing resolves it on the next run.
	for _, name := range []string{"expired", "soon", "very-soon", "garbage"} {
		s, err := env.Client.CoreV1().Secrets(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey] = certPEM(t, inDays(90), name+".example.com")
		if _, err := env.Client.CoreV1().Secrets(ns).Update(t.Context(), s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, "after renewal", found(t, p, "k8s.certs.expiry", raw))
}

// certManagerCertificate writes a cert-manager Certificate with the status cert-manager would.
func certManagerCertificate(t *testing.T, ns, name, secret string, notAfter time.Time, ready string, since time.Duration) {
	t.Helper()
	createCustom(t, certificatesResource, ns, map[string]any{
		"kind":     "Certificate",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"secretName": secret, "dnsNames": []any{name + ".example.com"}, "issuerRef": map[string]any{"name": "letsencrypt"}},
		"status": map[string]any{
			"notAfter": notAfter.UTC().Format(time.RFC3339),
			"conditions": []any{map[string]any{
				"type": "Ready", "status": ready, "reason": "Failed", "message": "planted",
				"lastTransitionTime": time.Now().Add(-since).UTC().Format(time.RFC3339),
			}},
		},
	})
}

func TestCertManagerCertificates(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	servedNote(t, p, "k8s.certs.expiry", "certificates", ns)
	installCRDs(t, "cert-manager-crds.yaml")
	crt, key := certPEM(t, inDays(3), "covered.example.com")
	tlsSecret(t, ns, "covered-tls", crt, key)

	certManagerCertificate(t, ns, "fine", "fine-tls", inDays(60), "True", 48*time.Hour)
	certManagerCertificate(t, ns, "issuing", "issuing-tls", inDays(60), "False", time.Minute) // just asked for: give it time
	// Planted: expiring with its secret not listed (not yet written), stuck not
	// Ready, and one whose secret is listed (judged once, by the secret).
	certManagerCertificate(t, ns, "lapsing", "lapsing-tls", inDays(3), "True", 48*time.Hour)
	certManagerCertificate(t, ns, "stuck", "stuck-tls", inDays(60), "False", 2*time.Hour)
	certManagerCertificate(t, ns, "covered", "covered-tls", inDays(3), "True", 48*time.Hour)

	expect(t, "k8s.certs.expiry", found(t, p, "k8s.certs.expiry", map[string]string{"namespace": ns}),
		"certificate/"+ns+"/lapsing cert_expiring high",
		"certificate/"+ns+"/stuck certificate_not_ready medium",
		"secret/"+ns+"/covered-tls cert_expiring high",
	)
	res, err := run(t, p, "k8s.certs.expiry", map[string]string{"namespace": ns})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if f.Resource == "secret/"+ns+"/covered-tls" && f.Evidence["certificate"] != "covered" {
			t.Errorf("covered-tls does not name its Certificate: %v", f.Evidence)
		}
	}

	// Renewed and issued (the status cert-manager writes), they resolve.
	certs := dynamicClient(t).Resource(certificatesResource).Namespace(ns)
	for _, name := range []string{"lapsing", "stuck"} {
		if err := certs.Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		certManagerCertificate(t, ns, name, name+"-tls", inDays(60), "True", time.Minute)
	}
	expect(t, "after renewal", found(t, p, "k8s.certs.expiry", map[string]string{"namespace": ns}),
		"secret/"+ns+"/covered-tls cert_expiring high")
}
