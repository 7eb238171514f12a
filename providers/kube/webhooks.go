package kube

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/clankerd/clankerd/checks"
)

var (
	validatingWebhooksKind = kindReader[admissionv1.ValidatingWebhookConfiguration]{
		name: "validatingwebhookconfigurations",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]admissionv1.ValidatingWebhookConfiguration, string, error) {
			l, err := c.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Admissionregistration().V1().ValidatingWebhookConfigurations().Informer()
		},
	}
	mutatingWebhooksKind = kindReader[admissionv1.MutatingWebhookConfiguration]{
		name: "mutatingwebhookconfigurations",
		list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]admissionv1.MutatingWebhookConfiguration, string, error) {
			l, err := c.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		},
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Admissionregistration().V1().MutatingWebhookConfigurations().Informer()
		},
	}
)

// webhook is what the check needs of one webhook of either kind of configuration.
type webhook struct {
	name          string
	client        admissionv1.WebhookClientConfig
	failurePolicy admissionv1.FailurePolicyType
}

// failClosed reports whether the apiserver refuses matching writes when the webhook
// cannot be called (failurePolicy Fail, the default).
func (w webhook) failClosed() bool {
	return w.failurePolicy == "" || w.failurePolicy == admissionv1.Fail
}

func (p *Provider) webhooksBroken(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Finding, error) {
	validating, err := read(ctx, c, validatingWebhooksKind)
	if err != nil {
		return nil, err
	}
	mutating, err := read(ctx, c, mutatingWebhooksKind)
	if err != nil {
		return nil, err
	}
	svcs, err := read(ctx, c, servicesKind)
	if err != nil {
		return nil, err
	}
	ready, err := readyEndpoints(ctx, c)
	if err != nil {
		return nil, err
	}
	w := webhookLook{services: servicesByName(svcs), ready: ready, now: p.now(), scope: s}
	// Webhook configurations belong to no namespace: namespace= keeps the webhooks
	// served from that namespace, selector= matches the configuration's labels.
	cfgScope := s
	cfgScope.namespace = ""
	var out []checks.Finding
	for _, cfg := range inScope(cfgScope, validating) {
		hooks := make([]webhook, len(cfg.Webhooks))
		for i, h := range cfg.Webhooks {
			hooks[i] = webhook{name: h.Name, client: h.ClientConfig, failurePolicy: policyOf(h.FailurePolicy)}
		}
		out = append(out, w.findings("validatingwebhookconfiguration", cfg, hooks)...)
	}
	for _, cfg := range inScope(cfgScope, mutating) {
		hooks := make([]webhook, len(cfg.Webhooks))
		for i, h := range cfg.Webhooks {
			hooks[i] = webhook{name: h.Name, client: h.ClientConfig, failurePolicy: policyOf(h.FailurePolicy)}
		}
		out = append(out, w.findings("mutatingwebhookconfiguration", cfg, hooks)...)
	}
	return out, nil
}

func policyOf(p *admissionv1.FailurePolicyType) admissionv1.FailurePolicyType {
	if p == nil {
		return admissionv1.Fail
	}
	return *p
}

// webhookLook holds what the webhook findings are judged against.
type webhookLook struct {
	services map[string]*corev1.Service
	ready    map[string]int
	now      time.Time
	scope    scope
}

// hookProblem is one problem shared by some webhooks of a configuration.
type hookProblem struct {
	hooks    []string
	failing  bool // any of them fails closed
	services []string
	notAfter time.Time
}

func (hp *hookProblem) add(h webhook, svc string) {
	hp.hooks = append(hp.hooks, h.name)
	hp.failing = hp.failing || h.failClosed()
	if svc != "" && !slices.Contains(hp.services, svc) {
		hp.services = append(hp.services, svc)
	}
}

func (w webhookLook) findings(kind string, cfg metav1.Object, hooks []webhook) []checks.Finding {
	problems := map[string]*hookProblem{}
	problem := func(name string) *hookProblem {
		if problems[name] == nil {
			problems[name] = &hookProblem{}
		}
		return problems[name]
	}
	for _, h := range hooks {
		if svc := h.client.Service; svc != nil {
			if w.scope.namespace != "" && svc.Namespace != w.scope.namespace {
				continue
			}
			key := svc.Namespace + "/" + svc.Name
			switch target := w.services[key]; {
			case target == nil:
				problem("service_missing").add(h, key)
			case target.Spec.Type != corev1.ServiceTypeExternalName && w.ready[key] == 0:
				problem("no_ready_endpoints").add(h, key)
			}
		} else if w.scope.namespace != "" {
			continue // a URL webhook is served from no namespace
		}
		if notAfter, ok := caExpired(h.client.CABundle, w.now); ok {
			hp := problem("ca_expired")
			hp.add(h, "")
			if hp.notAfter.IsZero() || notAfter.After(hp.notAfter) {
				hp.notAfter = notAfter
			}
		}
	}
	name := cfg.GetName()
	var out []checks.Finding
	for _, prob := range []string{"service_missing", "no_ready_endpoints", "ca_expired"} {
		hp := problems[prob]
		if hp == nil {
			continue
		}
		sev, effect := checks.Medium, "the apiserver skips them (failurePolicy Ignore), so what they enforce is not enforced"
		if hp.failing {
			sev, effect = checks.Critical, "the apiserver refuses every write they match (failurePolicy Fail)"
		}
		f := checks.Finding{
			Resource: ref(kind, cfg), Problem: prob, Severity: sev,
			Evidence: map[string]string{"webhooks": strings.Join(hp.hooks, ","), "fails_closed": fmt.Sprint(hp.failing)},
		}
		switch prob {
		case "service_missing":
			f.Summary = fmt.Sprintf("%s %s calls service %s, which does not exist: %s", kind, name, strings.Join(hp.services, ", "), effect)
			f.Evidence["services"] = strings.Join(hp.services, ",")
			f.Fix = "deploy the webhook's Service again, or delete the " + kind + " if its owner was uninstalled (kubectl delete " + kind + " " + name + ")"
		case "no_ready_endpoints":
			f.Summary = fmt.Sprintf("%s %s calls service %s, which has no ready endpoints: %s", kind, name, strings.Join(hp.services, ", "), effect)
			f.Evidence["services"] = strings.Join(hp.services, ",")
			f.Fix = "get the webhook's pods Ready (kubectl get pods behind the Service), or delete the " + kind + " if its owner was uninstalled"
		case "ca_expired":
			f.Summary = fmt.Sprintf("%s %s trusts a CA bundle that expired on %s: calls to it fail TLS verification, so %s", kind, name, hp.notAfter.UTC().Format(time.DateOnly), effect)
			f.Evidence["ca_not_after"] = hp.notAfter.UTC().Format(time.RFC3339)
			f.Fix = "rotate the webhook's serving certificate and update caBundle (cert-manager's CA injector does this when annotated)"
		}
		out = append(out, f)
	}
	return out
}

// caExpired reports whether every certificate in a PEM CA bundle has expired, and
// the latest expiry among them. An empty or unreadable bundle is not judged here.
func caExpired(bundle []byte, now time.Time) (time.Time, bool) {
	var latest time.Time
	for rest := bundle; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			continue
		}
		if cert.NotAfter.After(latest) {
			latest = cert.NotAfter
		}
	}
	return latest, !latest.IsZero() && now.After(latest)
}
