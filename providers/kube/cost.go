package kube

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/clankerd/clankerd/checks"
)

// hoursPerMonth is the average month (8760 h / 12).
const hoursPerMonth = 730

// Prices are on-demand prices of compute capacity.
type Prices struct {
	// VCPUHour is USD per vCPU-hour; GiBHour USD per GiB-hour of memory.
	VCPUHour, GiBHour float64
}

// DefaultPrices are general-purpose on-demand list prices (GCP N2, us-central1:
// $0.031611 per vCPU-hour, $0.004237 per GiB-hour), which also price an AWS m6i.large
// (2 vCPU, 8 GiB, $0.096/h) within 1%. Set your own with kube_price_vcpu_hour and
// kube_price_gib_hour in the heartbeat front matter.
var DefaultPrices = Prices{VCPUHour: 0.031611, GiBHour: 0.004237}

var (
	priceCPUParam = checks.ParamSpec{Name: "price_vcpu_hour", Type: checks.Float, FrontMatter: "kube_price_vcpu_hour", Tuning: true,
		Doc: fmt.Sprintf("USD per vCPU-hour for cost estimates (default %g)", DefaultPrices.VCPUHour)}
	priceMemParam = checks.ParamSpec{Name: "price_gib_hour", Type: checks.Float, FrontMatter: "kube_price_gib_hour", Tuning: true,
		Doc: fmt.Sprintf("USD per GiB-hour of memory for cost estimates (default %g)", DefaultPrices.GiBHour)}
)

func (p *Provider) prices(params checks.Params) Prices {
	pr := p.opts.Prices
	if params.Has("price_vcpu_hour") {
		pr.VCPUHour = params.Float("price_vcpu_hour")
	}
	if params.Has("price_gib_hour") {
		pr.GiBHour = params.Float("price_gib_hour")
	}
	return pr
}

// podRequests sums the CPU and memory requests of a pod template's containers (init
// containers run before, not beside, them).
func podRequests(spec *corev1.PodSpec) (cpu, mem resource.Quantity, complete bool) {
	complete = true
	for _, c := range spec.Containers {
		if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			cpu.Add(q)
		} else {
			complete = false
		}
		if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
			mem.Add(q)
		} else {
			complete = false
		}
	}
	return cpu, mem, complete
}

// monthlyCost prices cores and bytes of memory held for a month, to the cent.
func (pr Prices) monthlyCost(cores, memBytes float64) float64 {
	return math.Round((cores*pr.VCPUHour+memBytes/(1<<30)*pr.GiBHour)*hoursPerMonth*100) / 100
}
