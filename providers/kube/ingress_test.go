package kube

import (
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// service creates a Service selecting app=NAME with port 80 named http.
func service(t *testing.T, ns, name string, mutate func(*corev1.Service)) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)},
		}},
	}
	if mutate != nil {
		mutate(svc)
	}
	if _, err := env.Client.CoreV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating service %s: %v", name, err)
	}
}

func tlsSecret(t *testing.T, ns, name string, crt, key []byte) {
	t.Helper()
	_, err := env.Client.CoreV1().Secrets(ns).Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating secret %s: %v", name, err)
	}
}

// ingress creates an Ingress routing / to service:port (a number, or a port name).
func ingress(t *testing.T, ns, name, svc, port string, mutate func(*networkingv1.Ingress)) {
	t.Helper()
	backend := networkingv1.IngressServiceBackend{Name: svc}
	if n, err := strconv.Atoi(port); err == nil {
		backend.Port.Number = int32(n)
	} else {
		backend.Port.Name = port
	}
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: name + ".example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &backend},
			}}}},
		}}},
	}
	if mutate != nil {
		mutate(ing)
	}
	if _, err := env.Client.NetworkingV1().Ingresses(ns).Create(t.Context(), ing, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ingress %s: %v", name, err)
	}
}

func inDays(n int) time.Time { return time.Now().Add(time.Duration(n) * 24 * time.Hour) }

func withTLS(secret string) func(*networkingv1.Ingress) {
	return func(i *networkingv1.Ingress) {
		i.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{i.Name + ".example.com"}, SecretName: secret}}
	}
}

func withClass(class string) func(*networkingv1.Ingress) {
	return func(i *networkingv1.Ingress) { i.Spec.IngressClassName = &class }
}

func TestIngressBroken(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	service(t, ns, "web", nil)
	service(t, ns, "elsewhere", func(s *corev1.Service) {
		s.Spec.Type, s.Spec.ExternalName, s.Spec.Selector, s.Spec.Ports = corev1.ServiceTypeExternalName, "api.example.net", nil, nil
	})
	crt, key := certPEM(t, inDays(90), "ok.example.com")
	tlsSecret(t, ns, "web-tls", crt, key)

	// Healthy look-alikes: a port by number and by name, an ExternalName backend, a
	// TLS secret that exists, a class that exists.
	ingress(t, ns, "ok", "web", "80", withTLS("web-tls"))
	ingress(t, ns, "ok-named-port", "web", "http", nil)
	ingress(t, ns, "ok-external", "elsewhere", "443", nil)
	// Planted problems.
	ingress(t, ns, "no-service", "ghost", "80", nil)
	ingress(t, ns, "no-port", "web", "8443", nil)
	ingress(t, ns, "no-port-name", "web", "grpc", nil)
	ingress(t, ns, "no-secret", "web", "80", withTLS("shop-tls"))
	ingress(t, ns, "no-class", "web", "80", withClass(ns+"-traefik"))

	raw := map[string]string{"namespace": ns}
	planted := []string{
		"ingress/" + ns + "/no-service backend_service_missing high",
		"ingress/" + ns + "/no-port backend_port_missing high",
		"ingress/" + ns + "/no-port-name backend_port_missing high",
		"ingress/" + ns + "/no-secret tls_secret_missing high",
	}
	// No IngressClass exists: an ingressClassName cannot be judged.
	if classes, _ := env.Client.NetworkingV1().IngressClasses().List(t.Context(), metav1.ListOptions{}); len(classes.Items) == 0 {
		expect(t, "without ingress classes", found(t, p, "k8s.ingress.broken", raw), planted...)
	}
	class, err := env.Client.NetworkingV1().IngressClasses().Create(t.Context(), &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-nginx"}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.NetworkingV1().IngressClasses().Delete(t.Context(), class.Name, metav1.DeleteOptions{})
	})
	ingress(t, ns, "ok-class", "web", "80", withClass(class.Name))
	expect(t, "k8s.ingress.broken", found(t, p, "k8s.ingress.broken", raw),
		append(planted, "ingress/"+ns+"/no-class ingress_class_missing high")...)
	watching := cluster(t, Options{Watch: true})
	expect(t, "watching", found(t, watching, "k8s.ingress.broken", raw),
		append(planted, "ingress/"+ns+"/no-class ingress_class_missing high")...)

	res, err := run(t, p, "k8s.ingress.broken", raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if f.Resource == "ingress/"+ns+"/no-port" && f.Evidence["service_ports"] != "web:8443" {
			t.Errorf("no-port evidence %v, want service_ports=web:8443", f.Evidence)
		}
		if f.Resource == "ingress/"+ns+"/no-class" && !strings.Contains(f.Fix, class.Name) {
			t.Errorf("no-class fix %q does not name the existing class %s", f.Fix, class.Name)
		}
	}

	// secrets=false leaves TLS secrets unchecked.
	got := found(t, p, "k8s.ingress.broken", map[string]string{"namespace": ns, "secrets": "false"})
	for _, g := range got {
		if strings.Contains(g, "tls_secret_missing") {
			t.Errorf("secrets=false reported %s", g)
		}
	}

	// Fixing each problem resolves it on the next run.
	service(t, ns, "ghost", nil)
	crt2, key2 := certPEM(t, inDays(90), "shop.example.com")
	tlsSecret(t, ns, "shop-tls", crt2, key2)
	for _, name := range []string{"no-port", "no-port-name", "no-class"} {
		if err := env.Client.NetworkingV1().Ingresses(ns).Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ingress(t, ns, "no-port", "web", "80", nil)
	ingress(t, ns, "no-port-name", "web", "http", nil)
	ingress(t, ns, "no-class", "web", "80", withClass(class.Name))
	expect(t, "after the fixes", found(t, p, "k8s.ingress.broken", raw))
}

var (
	httpRoutesResource = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	gatewaysResource   = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
)

func routeObject(name, gateway string, backends ...map[string]any) map[string]any {
	return map[string]any{
		"kind":     "HTTPRoute",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": gateway}},
			"rules":      []any{map[string]any{"backendRefs": toAny(backends)}},
		},
	}
}

func toAny(ms []map[string]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

func backendRef(name string, port int64) map[string]any {
	return map[string]any{"name": name, "port": port}
}

func TestHTTPRoutesBroken(t *testing.T) {
	p := cluster(t, Options{})
	ns := namespace(t)
	servedNote(t, p, "k8s.ingress.broken", "httproutes", ns)
	installCRDs(t, "gateway-api-crds.yaml")
	service(t, ns, "web", nil)
	createCustom(t, gatewaysResource, ns, map[string]any{"kind": "Gateway", "metadata": map[string]any{"name": "public"},
		"spec": map[string]any{"gatewayClassName": "example", "listeners": []any{map[string]any{"name": "http", "port": int64(80), "protocol": "HTTP"}}}})

	createCustom(t, httpRoutesResource, ns, routeObject("ok", "public", backendRef("web", 80)))
	// A backend of another kind is not a Service: not judged.
	createCustom(t, httpRoutesResource, ns, routeObject("ok-other-kind", "public", map[string]any{"group": "example.com", "kind": "Bucket", "name": "assets"}))
	createCustom(t, httpRoutesResource, ns, routeObject("no-service", "public", backendRef("ghost", 80)))
	createCustom(t, httpRoutesResource, ns, routeObject("no-port", "public", backendRef("web", 9090)))
	createCustom(t, httpRoutesResource, ns, routeObject("no-gateway", "private", backendRef("web", 80)))

	raw := map[string]string{"namespace": ns}
	expect(t, "k8s.ingress.broken", found(t, p, "k8s.ingress.broken", raw),
		"httproute/"+ns+"/no-service backend_service_missing high",
		"httproute/"+ns+"/no-port backend_port_missing high",
		"httproute/"+ns+"/no-gateway parent_gateway_missing high",
	)

	service(t, ns, "ghost", nil)
	createCustom(t, gatewaysResource, ns, map[string]any{"kind": "Gateway", "metadata": map[string]any{"name": "private"}})
	expect(t, "after the fixes", found(t, p, "k8s.ingress.broken", raw),
		"httproute/"+ns+"/no-port backend_port_missing high")
}

// servedNote checks, before a test installs an optional API's CRDs, that the check
// says in its result that it left that part out, rather than passing silently. The
// CRDs stay for the rest of the test binary: when an earlier test installed them,
// there is nothing left to see.
func servedNote(t *testing.T, p *Provider, id, key, ns string) {
	t.Helper()
	if crdsInstalled(t, key) {
		t.Logf("%s: %s already served (an earlier test installed its CRDs): the note cannot be seen", id, key)
		return
	}
	res, err := run(t, p, id, map[string]string{"namespace": ns})
	if err != nil {
		t.Fatalf("%s without the optional API: %v", id, err)
	}
	if got := res.Evidence[key]; !strings.HasPrefix(got, "not checked: the cluster does not serve ") {
		t.Errorf("%s without the optional API: evidence %s=%q, want it to say the part was not checked", id, key, got)
	}
}

// crdsInstalled reports whether a CRD serving the resource (its plural name: the
// evidence key of servedNote) exists.
func crdsInstalled(t *testing.T, resource string) bool {
	t.Helper()
	l, err := dynamicClient(t).Resource(crdsResource).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range l.Items {
		if strings.HasPrefix(crd.GetName(), resource+".") {
			return true
		}
	}
	return false
}
