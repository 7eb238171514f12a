package kube

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/clankerd/clankerd/checks"
)

// exposureFacts are the facts of k8s.changes.exposure: what is reachable from
// outside the cluster, one fact per port and source range, host and path, listener,
// or host network use.
func (p *Provider) exposureFacts(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Fact, error) {
	svcs, err := read(ctx, c, servicesKind)
	if err != nil {
		return nil, err
	}
	ings, err := read(ctx, c, ingressesKind)
	if err != nil {
		return nil, err
	}
	var out []checks.Fact
	for _, svc := range inScope(s, svcs) {
		out = append(out, serviceFacts(svc)...)
	}
	for _, ing := range inScope(s, ings) {
		out = append(out, ingressFacts(ing)...)
	}
	gws, err := gatewayFacts(ctx, c, s)
	if err != nil {
		return nil, err
	}
	hosts, err := hostNetworkFacts(ctx, c, s)
	if err != nil {
		return nil, err
	}
	return slices.Concat(out, gws, hosts), nil
}

// anywhere is the source range of a LoadBalancer without loadBalancerSourceRanges.
const anywhere = "0.0.0.0/0"

// serviceFacts are the ports a Service opens outside the cluster: a LoadBalancer's
// per source range, a NodePort's node ports, and external IPs. ClusterIP, headless
// and ExternalName Services open nothing.
func serviceFacts(svc *corev1.Service) []checks.Fact {
	res := ref("service", svc)
	var out []checks.Fact
	for _, port := range svc.Spec.Ports {
		pp := portText(port.Port, port.Protocol)
		switch svc.Spec.Type {
		case corev1.ServiceTypeLoadBalancer:
			ranges := slices.Sorted(slices.Values(svc.Spec.LoadBalancerSourceRanges))
			if len(ranges) == 0 {
				ranges = []string{anywhere}
			}
			kind, internal := "LoadBalancer ", internalLoadBalancer(svc)
			if internal {
				kind = "internal LoadBalancer "
			}
			for _, r := range ranges {
				r = strings.TrimSpace(r)
				f := checks.Fact{
					Resource: res, Key: kind + pp + " from " + r, Severity: sourceRangeSeverity(r),
					Summary: "load balancer port " + pp + " open to " + r,
					Fix:     "narrow loadBalancerSourceRanges, or make the Service ClusterIP behind an ingress with TLS",
				}
				if internal {
					f.Severity, f.Summary = checks.Low, "internal load balancer port "+pp+" open to "+r+" within the network"
				}
				out = append(out, f)
			}
		case corev1.ServiceTypeNodePort:
			out = append(out, checks.Fact{
				Resource: res, Key: fmt.Sprintf("NodePort %s on node port %d", pp, port.NodePort), Severity: checks.Medium,
				Summary: fmt.Sprintf("port %s reachable on every node's address at %d", pp, port.NodePort),
				Fix:     "use ClusterIP unless the nodes' addresses must serve it",
			})
		}
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		for _, ip := range slices.Sorted(slices.Values(svc.Spec.ExternalIPs)) {
			out = append(out, checks.Fact{
				Resource: res, Key: "externalIP " + ip + " " + pp, Severity: checks.Medium,
				Summary: "port " + pp + " served on external address " + ip,
				Fix:     "remove the address from externalIPs unless it is meant to serve this port",
			})
		}
	}
	return out
}

// internalLoadBalancerAnnotations are the annotations by which cloud providers make a
// LoadBalancer Service's address private, with the value that does.
var internalLoadBalancerAnnotations = map[string]string{
	"service.beta.kubernetes.io/aws-load-balancer-internal":              "", // any value but "false"
	"service.beta.kubernetes.io/aws-load-balancer-scheme":                "internal",
	"networking.gke.io/load-balancer-type":                               "Internal",
	"cloud.google.com/load-balancer-type":                                "Internal",
	"service.beta.kubernetes.io/azure-load-balancer-internal":            "true",
	"service.beta.kubernetes.io/oci-load-balancer-internal":              "true",
	"service.beta.kubernetes.io/openstack-internal-load-balancer":        "true",
	"service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type":     "private",
	"service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": "intranet",
}

// internalLoadBalancer reports whether a LoadBalancer Service asks its cloud for a
// private address.
func internalLoadBalancer(svc *corev1.Service) bool {
	for k, v := range svc.Annotations {
		want, ok := internalLoadBalancerAnnotations[k]
		if ok && (strings.EqualFold(v, want) || want == "" && v != "" && !strings.EqualFold(v, "false")) {
			return true
		}
	}
	return false
}

// internalLoadBalancerOnly keeps the annotations of a Service that internalLoadBalancer
// reads; the others are dropped when it is slimmed.
func internalLoadBalancerOnly(annotations map[string]string) map[string]string {
	var out map[string]string
	for k, v := range annotations {
		if _, ok := internalLoadBalancerAnnotations[k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

func portText(port int32, proto corev1.Protocol) string {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	return strconv.Itoa(int(port)) + "/" + string(proto)
}

// sourceRangeSeverity ranks a LoadBalancer's source range: from anywhere high, from
// private addresses low, from some public range medium.
func sourceRangeSeverity(cidr string) checks.Severity {
	p, err := netip.ParsePrefix(cidr)
	switch {
	case err != nil:
		return checks.Medium
	case p.Bits() == 0:
		return checks.High
	case p.Addr().IsPrivate() || p.Addr().IsLoopback():
		return checks.Low
	}
	return checks.Medium
}

// ingressFacts are the URLs an Ingress serves, one per host and path: https when a
// TLS block covers the host, http otherwise. A rule without a host, and the default
// backend, serve every host (*).
func ingressFacts(ing *networkingv1.Ingress) []checks.Fact {
	type route struct{ host, path string }
	var routes []route
	if ing.Spec.DefaultBackend != nil {
		routes = append(routes, route{"*", "/"})
	}
	for _, r := range ing.Spec.Rules {
		host := cmp.Or(r.Host, "*")
		if r.HTTP == nil || len(r.HTTP.Paths) == 0 {
			routes = append(routes, route{host, "/"})
			continue
		}
		for _, path := range r.HTTP.Paths {
			routes = append(routes, route{host, cmp.Or(path.Path, "/")})
		}
	}
	out := make([]checks.Fact, 0, len(routes))
	for _, rt := range routes {
		f := checks.Fact{
			Resource: ref("ingress", ing), Key: "https://" + rt.host + rt.path, Severity: checks.Low,
			Summary: "serves https://" + rt.host + rt.path,
			Fix:     "remove the rule from the ingress unless it is meant to be served",
		}
		if !tlsCovers(ing.Spec.TLS, rt.host) {
			f.Key, f.Severity = "http://"+rt.host+rt.path, checks.Medium
			f.Summary = "serves http://" + rt.host + rt.path + " without TLS"
			f.Fix = "add a tls: section with a certificate for the host (cert-manager can issue one), or remove the rule"
		}
		out = append(out, f)
	}
	return out
}

// tlsCovers reports whether a TLS block of an Ingress covers host: by name, by a
// wildcard one label deep, or by a block without hosts (the controller's default).
func tlsCovers(tls []networkingv1.IngressTLS, host string) bool {
	for _, t := range tls {
		if len(t.Hosts) == 0 {
			return true
		}
		for _, h := range t.Hosts {
			if h == host {
				return true
			}
			if suffix, ok := strings.CutPrefix(h, "*."); ok {
				if label, rest, found := strings.Cut(host, "."); found && label != "" && label != "*" && rest == suffix {
					return true
				}
			}
		}
	}
	return false
}

// gatewayFacts are the listeners of Gateway API Gateways, where the API is served.
func gatewayFacts(ctx context.Context, c *conn, s scope) ([]checks.Fact, error) {
	ok, err := served(ctx, c, gatewayAPI, "gateways")
	if err != nil || !ok {
		if err == nil {
			note(ctx, "gateways", "not checked: the cluster does not serve "+gatewayAPI)
		}
		return nil, err
	}
	gws, err := listJSON[gateway](ctx, c, gatewayAPI, "gateways")
	if err != nil {
		return nil, err
	}
	var out []checks.Fact
	for _, g := range inScope(s, gws) {
		for _, l := range g.Spec.Listeners {
			host := "*"
			if l.Hostname != nil && *l.Hostname != "" {
				host = *l.Hostname
			}
			sev := checks.Medium
			if l.Protocol == "HTTPS" || l.Protocol == "TLS" {
				sev = checks.Low
			}
			out = append(out, checks.Fact{
				Resource: ref("gateway", g), Key: fmt.Sprintf("listener %s %s %d host %s", l.Name, l.Protocol, l.Port, host), Severity: sev,
				Summary: fmt.Sprintf("listens for %s on port %d for host %s", l.Protocol, l.Port, host),
				Fix:     "remove the listener unless the gateway is meant to serve it",
			})
		}
	}
	return out, nil
}

// hostNetworkFacts are the workloads whose pods use the node's network or bind host
// ports, each named by what runs it (a Deployment, DaemonSet, StatefulSet, CronJob or
// Job through its template, a bare pod by itself), so a rollout that renames pods
// makes no new fact. This is the one place k8s.changes.exposure reads pods.
func hostNetworkFacts(ctx context.Context, c *conn, s scope) ([]checks.Fact, error) {
	specs, err := podSpecsInScope(ctx, c, s)
	if err != nil {
		return nil, err
	}
	var out []checks.Fact
	for _, w := range specs {
		if w.spec.HostNetwork {
			out = append(out, checks.Fact{
				Resource: w.resource, Key: "hostNetwork", Severity: checks.High,
				Summary: "pods on the node's network: they can bind any port of the node's addresses",
				Fix:     "drop hostNetwork unless it is a node agent that needs it",
			})
		}
		if w.spec.HostNetwork {
			continue // every port is the node's: the apiserver sets hostPort on pods, not on templates
		}
		for _, cs := range [][]checkedContainer{w.spec.InitContainers, w.spec.Containers} {
			for _, ctr := range cs {
				for _, port := range ctr.Ports {
					if port.HostPort == 0 {
						continue
					}
					pp := portText(port.HostPort, port.Protocol)
					out = append(out, checks.Fact{
						Resource: w.resource, Key: "hostPort " + pp, Severity: checks.Medium,
						Summary: "pods bind port " + pp + " on the node's addresses",
						Fix:     "drop hostPort and expose the port through a Service",
					})
				}
			}
		}
	}
	return out, nil
}

// hostPortsOnly keeps the container ports bound on the node, and of them only what
// k8s.changes.exposure reads; the others are dropped when a pod is slimmed.
func hostPortsOnly(ports []corev1.ContainerPort) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, p := range ports {
		if p.HostPort != 0 {
			out = append(out, corev1.ContainerPort{HostPort: p.HostPort, Protocol: p.Protocol})
		}
	}
	return out
}
