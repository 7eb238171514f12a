package kube

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/clankerd/clankerd/checks"
)

// networkChecks are the checks of what routes traffic and admission: Ingresses and
// HTTPRoutes, admission webhooks, and TLS certificates.
func (p *Provider) networkChecks() []checkDef {
	return []checkDef{
		{spec("k8s.ingress.broken", "Ingresses and Gateway API HTTPRoutes whose backend Service or port, TLS secret, ingress class or parent Gateway does not exist", checks.CategoryHealth,
			// Phrases, not "ingress" alone: an ingress without TLS is k8s.exposure.public.
			[]string{"broken ingress", "broken ingresses", "ingress broken", "ingress backend", "ingress backends", "ingresses", "ingress routes", "missing backend", "missing service", "ingress class", "ingressclass", "httproute", "httproutes", "broken routes", "gateway api", "missing tls secret"},
			secretsParam),
			p.ingressBroken},
		{spec("k8s.webhooks.broken", "admission webhooks whose Service is missing or has no ready endpoints, or whose CA bundle has expired", checks.CategoryHealth,
			[]string{"webhook", "webhooks", "admission", "admission webhook", "admission webhooks", "validating", "mutating", "validatingwebhookconfiguration", "mutatingwebhookconfiguration", "failurepolicy", "writes refused", "cabundle"}),
			p.webhooksBroken},
		{spec("k8s.certs.expiry", "TLS certificates (kubernetes.io/tls Secrets, cert-manager Certificates) expired or expiring soon, with the Ingresses that use them", checks.CategoryHealth,
			// Phrases, not the single words of tls.expiry: a question about one host's
			// certificate goes to the probe.
			[]string{"tls secrets", "tls secret", "certificate secrets", "cert-manager", "cert manager", "certmanager", "cert-manager certificates", "expiring soon", "certificates expiring soon", "expired certificates", "expiring certificates", "certificate expiry in the cluster", "ingress certificates", "certificate renewal"},
			checks.ParamSpec{Name: "warn", Type: checks.Duration, Default: "14d", Doc: "report certificates that expire within this long"}),
			p.certsExpiry},
	}
}

var ingressClassesKind = kindReader[networkingv1.IngressClass]{
	name: "ingressclasses",
	list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]networkingv1.IngressClass, string, error) {
		l, err := c.NetworkingV1().IngressClasses().List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	},
	informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Networking().V1().IngressClasses().Informer()
	},
}

// brokenRefs collects, for one object, what it points at that does not exist, by
// problem.
type brokenRefs map[string][]string

func (b brokenRefs) add(problem, what string) {
	if !slices.Contains(b[problem], what) {
		b[problem] = append(b[problem], what)
	}
}

func (p *Provider) ingressBroken(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Finding, error) {
	ings, err := read(ctx, c, ingressesKind)
	if err != nil {
		return nil, err
	}
	svcs, err := read(ctx, c, servicesKind)
	if err != nil {
		return nil, err
	}
	classes, err := read(ctx, c, ingressClassesKind)
	if err != nil {
		return nil, err
	}
	var secrets map[string]bool
	if params.Bool("secrets") {
		if secrets, err = objectNames(ctx, c, "secrets", s.namespace); err != nil {
			return nil, fmt.Errorf("%w; or set secrets=false to leave TLS secrets unchecked", err)
		}
	}
	services := servicesByName(svcs)
	classNames := make([]string, 0, len(classes))
	for _, ic := range classes {
		classNames = append(classNames, ic.Name)
	}
	slices.Sort(classNames)

	var out []checks.Finding
	for _, ing := range inScope(s, ings) {
		broken := brokenRefs{}
		backends := ingressBackends(ing)
		for _, b := range backends {
			checkServicePort(broken, services, ing.Namespace, b.Name, servicePortOf(b.Port))
		}
		if secrets != nil {
			for _, t := range ing.Spec.TLS {
				if t.SecretName != "" && !secrets[ing.Namespace+"/"+t.SecretName] {
					broken.add("tls_secret_missing", t.SecretName)
				}
			}
		}
		if cl := ing.Spec.IngressClassName; cl != nil && len(classNames) > 0 && !slices.Contains(classNames, *cl) {
			broken.add("ingress_class_missing", *cl)
		}
		out = append(out, ingressFindings(ing, broken, classNames)...)
	}
	routes, err := p.httpRoutesBroken(ctx, c, s, services)
	if err != nil {
		return nil, err
	}
	return append(out, routes...), nil
}

// servicesByName indexes Services by "namespace/name".
func servicesByName(svcs []*corev1.Service) map[string]*corev1.Service {
	out := make(map[string]*corev1.Service, len(svcs))
	for _, svc := range svcs {
		out[svc.Namespace+"/"+svc.Name] = svc
	}
	return out
}

// ingressBackends are the Service backends of an Ingress: its default backend and
// the backend of every path.
func ingressBackends(ing *networkingv1.Ingress) []*networkingv1.IngressServiceBackend {
	var out []*networkingv1.IngressServiceBackend
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
		out = append(out, b.Service)
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, path := range r.HTTP.Paths {
			if path.Backend.Service != nil {
				out = append(out, path.Backend.Service)
			}
		}
	}
	return out
}

// servicePort is a port a route asks of a Service: by number, or by name.
type servicePort struct {
	number int32
	name   string
}

func servicePortOf(p networkingv1.ServiceBackendPort) servicePort {
	return servicePort{number: p.Number, name: p.Name}
}

func (sp servicePort) String() string {
	if sp.name != "" {
		return sp.name
	}
	return strconv.Itoa(int(sp.number))
}

// checkServicePort records a backend Service that does not exist, or lacks the
// port. ExternalName Services forward to a name, so any port is theirs.
func checkServicePort(broken brokenRefs, services map[string]*corev1.Service, ns, name string, port servicePort) {
	svc := services[ns+"/"+name]
	if svc == nil {
		broken.add("backend_service_missing", name)
		return
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || port == (servicePort{}) {
		return
	}
	for _, sp := range svc.Spec.Ports {
		if (port.name != "" && sp.Name == port.name) || (port.name == "" && sp.Port == port.number) {
			return
		}
	}
	broken.add("backend_port_missing", name+":"+port.String())
}

// brokenText says how one kind of broken reference reads: the evidence key for what
// is missing, the summary after "KIND NAMESPACE/NAME" (%s is what is missing) and the
// fix.
type brokenText struct {
	problem, evidence, summary, fix string
}

// findings makes one finding, severity high, per kind of broken reference, in the
// order of texts.
func (b brokenRefs) findings(kind string, o metav1.Object, texts []brokenText) []checks.Finding {
	var out []checks.Finding
	for _, t := range texts {
		missing := b[t.problem]
		if len(missing) == 0 {
			continue
		}
		out = append(out, checks.Finding{
			Resource: ref(kind, o), Problem: t.problem, Severity: checks.High,
			Summary:  kind + " " + o.GetNamespace() + "/" + o.GetName() + " " + fmt.Sprintf(t.summary, strings.Join(missing, ", ")),
			Evidence: map[string]string{t.evidence: strings.Join(missing, ",")},
			Fix:      t.fix,
		})
	}
	return out
}

func ingressFindings(ing *networkingv1.Ingress, broken brokenRefs, classes []string) []checks.Finding {
	out := broken.findings("ingress", ing, []brokenText{
		{"backend_service_missing", "services", "routes to service %s, which does not exist: those requests fail (503)",
			"create the Service in namespace " + ing.Namespace + ", or point the ingress rule at the right one"},
		{"backend_port_missing", "service_ports", "routes to %s, a port its service does not have: those requests fail",
			"use a port number or name the Service declares (kubectl get service -n " + ing.Namespace + " -o wide)"},
		{"tls_secret_missing", "secrets", "names TLS secret %s, which does not exist: the controller serves its default certificate and browsers refuse it",
			"create the kubernetes.io/tls secret in namespace " + ing.Namespace + " (or let cert-manager issue it), or fix secretName"},
		{"ingress_class_missing", "ingress_class", "asks for ingress class %s, which does not exist: no controller serves it",
			"set ingressClassName to one of " + strings.Join(classes, ", ")},
	})
	for _, f := range out {
		if f.Problem == "ingress_class_missing" {
			f.Evidence["classes"] = strings.Join(classes, ",")
		}
	}
	return out
}

// Gateway API, read only where it is served.
const gatewayAPI = "gateway.networking.k8s.io/v1"

// httpRoute is what k8s.ingress.broken reads of a Gateway API HTTPRoute.
type httpRoute struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ParentRefs []gatewayRef `json:"parentRefs"`
		Rules      []struct {
			BackendRefs []gatewayRef `json:"backendRefs"`
		} `json:"rules"`
	} `json:"spec"`
}

// gatewayRef is a parentRef or backendRef of a route. Group and Kind are pointers:
// unset means the default of the field (Gateway for parents, Service for backends),
// which differs from "".
type gatewayRef struct {
	Group     *string `json:"group"`
	Kind      *string `json:"kind"`
	Namespace *string `json:"namespace"`
	Name      string  `json:"name"`
	Port      *int32  `json:"port"`
}

// is reports whether the reference is to group/kind, where unset fields take the
// given defaults.
func (r gatewayRef) is(group, kind, defaultGroup, defaultKind string) bool {
	g, k := defaultGroup, defaultKind
	if r.Group != nil {
		g = *r.Group
	}
	if r.Kind != nil {
		k = *r.Kind
	}
	return g == group && k == kind
}

func (r gatewayRef) namespaceOr(ns string) string {
	if r.Namespace != nil && *r.Namespace != "" {
		return *r.Namespace
	}
	return ns
}

// gateway is what the checks read of a Gateway: its name (k8s.ingress.broken) and
// its listeners (k8s.changes.exposure).
type gateway struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Listeners []gatewayListener `json:"listeners"`
	} `json:"spec"`
}

// gatewayListener is one listener of a Gateway: where it accepts traffic.
type gatewayListener struct {
	Name     string  `json:"name"`
	Protocol string  `json:"protocol"`
	Port     int32   `json:"port"`
	Hostname *string `json:"hostname"`
}

// httpRoutesBroken finds HTTPRoutes whose backend Services or ports, or parent
// Gateways, do not exist. Without the Gateway API served there is nothing to check.
func (p *Provider) httpRoutesBroken(ctx context.Context, c *conn, s scope, services map[string]*corev1.Service) ([]checks.Finding, error) {
	ok, err := served(ctx, c, gatewayAPI, "httproutes")
	if err != nil || !ok {
		if err == nil {
			note(ctx, "httproutes", "not checked: the cluster does not serve "+gatewayAPI)
		}
		return nil, err
	}
	routes, err := listJSON[httpRoute](ctx, c, gatewayAPI, "httproutes")
	if err != nil {
		return nil, err
	}
	gateways := map[string]bool{}
	gatewaysServed, err := served(ctx, c, gatewayAPI, "gateways")
	if err != nil {
		return nil, err
	}
	if gatewaysServed {
		gws, err := listJSON[gateway](ctx, c, gatewayAPI, "gateways")
		if err != nil {
			return nil, err
		}
		for _, g := range gws {
			gateways[g.Namespace+"/"+g.Name] = true
		}
	}
	var out []checks.Finding
	for _, r := range inScope(s, routes) {
		broken := brokenRefs{}
		for _, pr := range r.Spec.ParentRefs {
			if !gatewaysServed || !pr.is("gateway.networking.k8s.io", "Gateway", "gateway.networking.k8s.io", "Gateway") {
				continue
			}
			if ns := pr.namespaceOr(r.Namespace); !gateways[ns+"/"+pr.Name] {
				broken.add("parent_gateway_missing", ns+"/"+pr.Name)
			}
		}
		for _, rule := range r.Spec.Rules {
			for _, br := range rule.BackendRefs {
				if !br.is("", "Service", "", "Service") {
					continue
				}
				var port servicePort
				if br.Port != nil {
					port.number = *br.Port
				}
				checkServicePort(broken, services, br.namespaceOr(r.Namespace), br.Name, port)
			}
		}
		out = append(out, routeFindings(r, broken)...)
	}
	return out, nil
}

func routeFindings(r *httpRoute, broken brokenRefs) []checks.Finding {
	return broken.findings("httproute", r, []brokenText{
		{"parent_gateway_missing", "gateways", "attaches to gateway %s, which does not exist: the route serves nothing",
			"create the Gateway, or fix parentRefs"},
		{"backend_service_missing", "services", "sends traffic to service %s, which does not exist: those requests fail (500)",
			"create the Service, or fix backendRefs"},
		{"backend_port_missing", "service_ports", "sends traffic to %s, a port its service does not have",
			"use a port the Service declares in backendRefs"},
	})
}
