package kube

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/clankerd/clankerd/checks"
)

var resourceQuotasKind = kindReader[corev1.ResourceQuota]{
	name: "resourcequotas",
	list: func(ctx context.Context, c kubernetes.Interface, o metav1.ListOptions) ([]corev1.ResourceQuota, string, error) {
		l, err := c.CoreV1().ResourceQuotas("").List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	},
	informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
		return f.Core().V1().ResourceQuotas().Informer()
	},
}

// quotaExhausted reports ResourceQuotas whose use of a hard limit is at or above the
// threshold. A hard limit of zero with nothing used is a policy (forbid the resource),
// not exhaustion, and is quiet.
func (p *Provider) quotaExhausted(ctx context.Context, c *conn, s scope, params checks.Params) ([]checks.Finding, error) {
	quotas, err := read(ctx, c, resourceQuotasKind)
	if err != nil {
		return nil, err
	}
	threshold := params.Float("threshold")
	var out []checks.Finding
	for _, q := range inScope(s, quotas) {
		var over []string
		worst := 0.0
		evidence := map[string]string{}
		for name, hard := range q.Status.Hard {
			used, ok := q.Status.Used[name]
			if !ok {
				continue
			}
			h, u := hard.AsApproximateFloat64(), used.AsApproximateFloat64()
			var pct float64
			switch {
			case h > 0:
				pct = 100 * u / h
			case u > 0:
				pct = math.Inf(1)
			default:
				continue
			}
			if pct < threshold {
				continue
			}
			over = append(over, string(name))
			worst = math.Max(worst, pct)
			evidence[string(name)] = fmt.Sprintf("%s/%s (%s)", used.String(), hard.String(), percent(pct))
		}
		if len(over) == 0 {
			continue
		}
		sort.Strings(over)
		problem, sev := "quota_near_limit", checks.Medium
		if worst >= 100 {
			problem, sev = "quota_exhausted", checks.High
		}
		out = append(out, checks.Finding{
			Resource: ref("resourcequota", q), Problem: problem, Severity: sev,
			Summary:  fmt.Sprintf("ResourceQuota %s/%s is at %s of its limit on %s", q.Namespace, q.Name, percent(worst), strings.Join(over, ", ")),
			Evidence: evidence,
			Fix:      "raise the quota's hard limits, or free what the namespace no longer needs; at 100% new pods and objects are refused",
		})
	}
	return out, nil
}

func percent(p float64) string {
	if math.IsInf(p, 1) {
		return "over 100%"
	}
	return fmt.Sprintf("%.0f%%", math.Floor(p))
}
