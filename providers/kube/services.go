package kube

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/clankerd/clankerd/checks"
)

func (p *Provider) servicesNoEndpoints(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Finding, error) {
	svcs, err := read(ctx, c, servicesKind)
	if err != nil {
		return nil, err
	}
	ready, err := readyEndpoints(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []checks.Finding
	for _, svc := range inScope(s, svcs) {
		if len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		if ready[svc.Namespace+"/"+svc.Name] > 0 {
			continue
		}
		out = append(out, checks.Finding{
			Resource: ref("service", svc), Problem: "no_endpoints", Severity: checks.High,
			Summary:  fmt.Sprintf("service %s/%s has no ready endpoints: nothing answers behind it", svc.Namespace, svc.Name),
			Evidence: map[string]string{"selector": selectorText(svc.Spec.Selector)},
			Fix:      "check that pods with these labels exist and are Ready",
		})
	}
	return out, nil
}

// readyEndpoints counts the ready endpoint addresses of each Service, keyed by
// "namespace/name".
func readyEndpoints(ctx context.Context, c *conn) (map[string]int, error) {
	epSlices, err := read(ctx, c, endpointSlicesKind)
	if err != nil {
		return nil, err
	}
	ready := map[string]int{}
	for _, sl := range epSlices {
		svc := sl.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ready[sl.Namespace+"/"+svc] += len(ep.Addresses)
			}
		}
	}
	return ready, nil
}

func selectorText(sel map[string]string) string {
	parts := make([]string, 0, len(sel))
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (p *Provider) exposurePublic(ctx context.Context, c *conn, s scope, _ checks.Params) ([]checks.Finding, error) {
	svcs, err := read(ctx, c, servicesKind)
	if err != nil {
		return nil, err
	}
	ings, err := read(ctx, c, ingressesKind)
	if err != nil {
		return nil, err
	}
	var out []checks.Finding
	for _, svc := range inScope(s, svcs) {
		ports := servicePorts(svc)
		switch svc.Spec.Type {
		case corev1.ServiceTypeLoadBalancer:
			sev, how := checks.Medium, "open to any source address"
			if len(svc.Spec.LoadBalancerSourceRanges) > 0 {
				sev, how = checks.Info, "limited to "+strings.Join(svc.Spec.LoadBalancerSourceRanges, ",")
			}
			out = append(out, checks.Finding{
				Resource: ref("service", svc), Problem: "loadbalancer", Severity: sev,
				Summary:  fmt.Sprintf("service %s/%s is a LoadBalancer on ports %s, %s", svc.Namespace, svc.Name, ports, how),
				Evidence: map[string]string{"type": "LoadBalancer", "ports": ports, "source_ranges": strings.Join(svc.Spec.LoadBalancerSourceRanges, ",")},
				Fix:      "set loadBalancerSourceRanges, or make it ClusterIP behind an ingress with TLS",
			})
		case corev1.ServiceTypeNodePort:
			out = append(out, checks.Finding{
				Resource: ref("service", svc), Problem: "nodeport", Severity: checks.Low,
				Summary:  fmt.Sprintf("service %s/%s is a NodePort: reachable on every node's address (ports %s)", svc.Namespace, svc.Name, ports),
				Evidence: map[string]string{"type": "NodePort", "ports": ports},
				Fix:      "use ClusterIP unless nodes' addresses must serve it",
			})
		}
	}
	for _, ing := range inScope(s, ings) {
		if len(ing.Spec.TLS) > 0 {
			continue
		}
		var hosts []string
		for _, r := range ing.Spec.Rules {
			if r.Host != "" {
				hosts = append(hosts, r.Host)
			}
		}
		sort.Strings(hosts)
		out = append(out, checks.Finding{
			Resource: ref("ingress", ing), Problem: "ingress_no_tls", Severity: checks.Medium,
			Summary:  fmt.Sprintf("ingress %s/%s serves %s without TLS", ing.Namespace, ing.Name, orAll(strings.Join(hosts, ","))),
			Evidence: map[string]string{"hosts": strings.Join(hosts, ",")},
			Fix:      "add a tls: section with a certificate (cert-manager can issue one)",
		})
	}
	return out, nil
}

func servicePorts(svc *corev1.Service) string {
	var ps []string
	for _, port := range svc.Spec.Ports {
		p := strconv.Itoa(int(port.Port))
		if port.NodePort != 0 && svc.Spec.Type != corev1.ServiceTypeClusterIP {
			p += ":" + strconv.Itoa(int(port.NodePort))
		}
		ps = append(ps, p+"/"+string(port.Protocol))
	}
	return strings.Join(ps, ",")
}

func orAll(hosts string) string {
	if hosts == "" {
		return "every host"
	}
	return hosts
}
