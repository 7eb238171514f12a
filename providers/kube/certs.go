package kube

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/checks"
)

// tlsCert is all k8s.certs.expiry keeps of a kubernetes.io/tls Secret: its name and
// labels, and the leaf certificate's expiry and names. Never the key, never the raw
// data: each page of Secrets is reduced to these as soon as it arrives.
type tlsCert struct {
	meta       metav1.ObjectMeta // namespace, name and labels only
	notAfter   time.Time
	dnsNames   []string
	commonName string
	unreadable string // why tls.crt could not be read, when it could not
}

// slimTLSSecret reduces a TLS Secret to what the check needs.
func slimTLSSecret(s *corev1.Secret) tlsCert {
	c := tlsCert{meta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name, Labels: s.Labels}}
	crt := s.Data[corev1.TLSCertKey]
	if len(crt) == 0 {
		c.unreadable = "tls.crt is empty"
		return c
	}
	var block *pem.Block
	for rest := crt; ; {
		if block, rest = pem.Decode(rest); block == nil || block.Type == "CERTIFICATE" {
			break
		}
	}
	if block == nil {
		c.unreadable = "tls.crt holds no PEM certificate"
		return c
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		c.unreadable = "tls.crt: " + err.Error()
		return c
	}
	c.notAfter, c.dnsNames, c.commonName = leaf.NotAfter, leaf.DNSNames, leaf.Subject.CommonName
	return c
}

// tlsSecretType selects the Secrets that hold certificates, so no other Secret is
// ever sent to clankerd.
const tlsSecretType = "type=" + string(corev1.SecretTypeTLS)

// tlsCerts lists the TLS Secrets in namespace ns ("" = all) once per round,
// paginated, each page slimmed at once. Listing Secrets is opt-in (secretsRole); a
// forbidden LIST says so.
func tlsCerts(ctx context.Context, c *conn, ns string) ([]tlsCert, error) {
	return checks.Memo(ctx, "k8s/"+c.name+"/tls-secrets/"+ns, func(ctx context.Context) ([]tlsCert, error) {
		var out []tlsCert
		opts := metav1.ListOptions{Limit: pageSize, FieldSelector: tlsSecretType}
		for {
			l, err := c.client.CoreV1().Secrets(ns).List(ctx, opts)
			if err != nil {
				return nil, c.secretsError(err)
			}
			for i := range l.Items {
				out = append(out, slimTLSSecret(&l.Items[i]))
			}
			if l.Continue == "" {
				return out, nil
			}
			opts.Continue = l.Continue
		}
	})
}

// cert-manager, read only where it is served.
const certManagerAPI = "cert-manager.io/v1"

// certificate is what the check reads of a cert-manager Certificate.
type certificate struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName string   `json:"secretName"`
		DNSNames   []string `json:"dnsNames"`
	} `json:"spec"`
	Status struct {
		NotAfter   *metav1.Time `json:"notAfter"`
		Conditions []struct {
			Type               string      `json:"type"`
			Status             string      `json:"status"`
			Reason             string      `json:"reason"`
			Message            string      `json:"message"`
			LastTransitionTime metav1.Time `json:"lastTransitionTime"`
		} `json:"conditions"`
	} `json:"status"`
}

// notReadyFor is how long a cert-manager Certificate may stay not Ready (being
// issued) before it is a finding.
const notReadyFor = time.Hour

func (p *Provider) certsExpiry(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Finding, error) {
	certs, err := tlsCerts(ctx, c, s.namespace)
	if err != nil {
		return nil, err
	}
	ings, err := read(ctx, c, ingressesKind)
	if err != nil {
		return nil, err
	}
	usedBy := map[string][]string{} // namespace/secret → ingresses
	for _, ing := range ings {
		for _, t := range ing.Spec.TLS {
			key := ing.Namespace + "/" + t.SecretName
			if t.SecretName != "" && !slices.Contains(usedBy[key], ing.Name) {
				usedBy[key] = append(usedBy[key], ing.Name)
			}
		}
	}
	var managed []*certificate
	if ok, err := served(ctx, c, certManagerAPI, "certificates"); err != nil {
		return nil, err
	} else if ok {
		if managed, err = listJSON[certificate](ctx, c, certManagerAPI, "certificates"); err != nil {
			return nil, err
		}
	} else {
		note(ctx, "certificates", "not checked: the cluster does not serve "+certManagerAPI+" (cert-manager)")
	}
	managedBy := map[string]string{} // namespace/secret → Certificate
	for _, mc := range managed {
		managedBy[mc.Namespace+"/"+mc.Spec.SecretName] = mc.Name
	}

	exp := expiryJudge{now: p.now(), warn: params.Duration("warn")}
	var out []checks.Finding
	listed := map[string]bool{}
	for i := range certs {
		cert := &certs[i]
		key := cert.meta.Namespace + "/" + cert.meta.Name
		listed[key] = true
		if !s.has(&cert.meta) {
			continue
		}
		ev := map[string]string{}
		if u := usedBy[key]; len(u) > 0 {
			ev["ingresses"] = strings.Join(u, ",")
		}
		if mc := managedBy[key]; mc != "" {
			ev["certificate"] = mc
		}
		if cert.unreadable != "" {
			ev["error"] = cert.unreadable
			out = append(out, checks.Finding{
				Resource: ref("secret", &cert.meta), Problem: "cert_unreadable", Severity: checks.Low,
				Summary:  fmt.Sprintf("secret %s is of type kubernetes.io/tls but its certificate cannot be read: %s%s", key, cert.unreadable, usedText(usedBy[key])),
				Evidence: ev,
				Fix:      "put the PEM certificate chain in tls.crt (kubectl create secret tls " + cert.meta.Name + " --cert=... --key=...)",
			})
			continue
		}
		ev["dns_names"] = strings.Join(cert.dnsNames, ",")
		ev["common_name"] = cert.commonName
		if f, ok := exp.judge("secret", &cert.meta, cert.notAfter, ev); ok {
			f.Summary += usedText(usedBy[key])
			out = append(out, f)
		}
	}
	for _, mc := range inScope(s, managed) {
		if f, ok := certificateNotReady(mc, exp.now); ok {
			out = append(out, f)
		}
		// A Certificate whose Secret was listed is judged by the certificate in it.
		if listed[mc.Namespace+"/"+mc.Spec.SecretName] || mc.Status.NotAfter == nil {
			continue
		}
		ev := map[string]string{"secret": mc.Spec.SecretName, "dns_names": strings.Join(mc.Spec.DNSNames, ",")}
		if f, ok := exp.judge("certificate", mc, mc.Status.NotAfter.Time, ev); ok {
			f.Fix = "see why cert-manager does not renew it: kubectl describe certificate -n " + mc.Namespace + " " + mc.Name
			out = append(out, f)
		}
	}
	return out, nil
}

// expiryJudge turns a certificate's expiry into a finding.
type expiryJudge struct {
	now  time.Time
	warn time.Duration
}

func (e expiryJudge) judge(kind string, o metav1.Object, notAfter time.Time, ev map[string]string) (checks.Finding, bool) {
	left := notAfter.Sub(e.now)
	if left > e.warn {
		return checks.Finding{}, false
	}
	ev["not_after"] = notAfter.UTC().Format(time.RFC3339)
	name := o.GetNamespace() + "/" + o.GetName()
	day := notAfter.UTC().Format(time.DateOnly)
	if left <= 0 {
		return checks.Finding{
			Resource: ref(kind, o), Problem: "cert_expired", Severity: checks.Critical,
			Summary:  fmt.Sprintf("the certificate in %s %s expired on %s: clients refuse it", kind, name, day),
			Evidence: ev,
			Fix:      "renew the certificate now and replace tls.crt and tls.key (or fix the cert-manager Certificate that issues it)",
		}, true
	}
	sev := checks.Medium
	if left < e.warn/2 {
		sev = checks.High
	}
	return checks.Finding{
		Resource: ref(kind, o), Problem: "cert_expiring", Severity: sev,
		// The date, not a countdown: a summary that changed every run would make the
		// finding "changed" on every run.
		Summary:  fmt.Sprintf("the certificate in %s %s expires on %s", kind, name, day),
		Evidence: ev,
		Fix:      "renew it before then; if cert-manager issues it, see why renewal has not happened",
	}, true
}

func certificateNotReady(mc *certificate, now time.Time) (checks.Finding, bool) {
	for _, cond := range mc.Status.Conditions {
		if cond.Type != "Ready" || cond.Status != "False" || now.Sub(cond.LastTransitionTime.Time) < notReadyFor {
			continue
		}
		return checks.Finding{
			Resource: ref("certificate", mc), Problem: "certificate_not_ready", Severity: checks.Medium,
			Summary:  fmt.Sprintf("cert-manager certificate %s/%s has not been Ready for over %s: %s", mc.Namespace, mc.Name, notReadyFor, cond.Message),
			Evidence: map[string]string{"reason": cond.Reason, "secret": mc.Spec.SecretName},
			Fix:      "kubectl describe certificate -n " + mc.Namespace + " " + mc.Name + " and the CertificateRequest and Order it made",
		}, true
	}
	return checks.Finding{}, false
}

func usedText(ingresses []string) string {
	if len(ingresses) == 0 {
		return ""
	}
	return "; used by ingress " + strings.Join(ingresses, ", ")
}
