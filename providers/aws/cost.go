package aws

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	ce "github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"

	"github.com/clankerd/clankerd/checks"
)

// Cost Explorer answers from us-east-1 for the whole account.
const costRegion = "us-east-1"

func (c *conn) ce() *ce.Client {
	return ce.NewFromConfig(c.cfg, func(o *ce.Options) { o.Region = costRegion })
}

const dateLayout = time.DateOnly

func day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// threshold is what a cost increase must exceed: a percentage and/or an amount.
type threshold struct {
	pct, usd       float64
	hasPct, hasUSD bool
}

func parseThreshold(s string) (threshold, error) {
	var t threshold
	for _, part := range splitComma(s) {
		if v, ok := strings.CutSuffix(part, "%"); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || n < 0 {
				return t, fmt.Errorf("%q is not a percentage such as 20%%", part)
			}
			t.pct, t.hasPct = n, true
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimPrefix(part, "$"), 64)
		if err != nil || n < 0 {
			return t, fmt.Errorf("%q is neither a percentage (20%%) nor a USD amount (50 or $50)", part)
		}
		t.usd, t.hasUSD = n, true
	}
	if !t.hasPct && !t.hasUSD {
		return t, errors.New("give a percentage (20%), an amount in USD (50), or both (20%,50)")
	}
	return t, nil
}

func validateThreshold(s string) error {
	_, err := parseThreshold(s)
	return err
}

// windowDays is a window parameter in whole days (at least one).
func windowDays(d time.Duration) int {
	n := int(d / (24 * time.Hour))
	if n < 1 {
		n = 1
	}
	return n
}

func (p *Provider) costIncrease(ctx context.Context, c *conn, params checks.Params) ([]checks.Finding, error) {
	th, _ := parseThreshold(params.Get("threshold")) // validated at bind
	days := windowDays(params.Duration("window"))
	end := day(p.now())
	mid := end.AddDate(0, 0, -days)
	start := mid.AddDate(0, 0, -days)
	in := &ce.GetCostAndUsageInput{
		TimePeriod:  &cetypes.DateInterval{Start: awssdk.String(start.Format(dateLayout)), End: awssdk.String(end.Format(dateLayout))},
		Granularity: cetypes.GranularityDaily,
		Metrics:     []string{"UnblendedCost"},
		GroupBy:     []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeDimension, Key: awssdk.String("SERVICE")}},
	}
	before, after := map[string]float64{}, map[string]float64{}
	client := c.ce()
	for {
		page, err := client.GetCostAndUsage(ctx, in)
		if err != nil {
			return nil, c.apiError("ce:GetCostAndUsage", "", err)
		}
		for _, r := range page.ResultsByTime {
			from, err := time.Parse(dateLayout, awssdk.ToString(r.TimePeriod.Start))
			if err != nil {
				return nil, fmt.Errorf("ce:GetCostAndUsage: unreadable period start %q", awssdk.ToString(r.TimePeriod.Start))
			}
			into := after
			if from.Before(mid) {
				into = before
			}
			for _, g := range r.Groups {
				if len(g.Keys) == 0 {
					continue
				}
				m, ok := g.Metrics["UnblendedCost"]
				if !ok {
					continue
				}
				v, err := strconv.ParseFloat(awssdk.ToString(m.Amount), 64)
				if err != nil {
					return nil, fmt.Errorf("ce:GetCostAndUsage: unreadable amount %q for %s", awssdk.ToString(m.Amount), g.Keys[0])
				}
				into[g.Keys[0]] += v
			}
		}
		if awssdk.ToString(page.NextPageToken) == "" {
			break
		}
		in.NextPageToken = page.NextPageToken
	}
	services := make([]string, 0, len(after))
	for s := range after {
		services = append(services, s)
	}
	sort.Strings(services)
	var out []checks.Finding
	for _, s := range services {
		prev, cur := before[s], after[s]
		rise := cur - prev
		if rise <= 0 || (th.hasUSD && rise <= th.usd) {
			continue
		}
		pct := math.Inf(1)
		if prev > 0 {
			pct = rise / prev * 100
		}
		if th.hasPct && pct <= th.pct {
			continue
		}
		pctText := "new spend"
		if !math.IsInf(pct, 1) {
			pctText = fmt.Sprintf("+%.0f%%", pct)
		}
		sev := checks.Medium
		if pct >= 100 && rise >= 100 {
			sev = checks.High
		}
		out = append(out, checks.Finding{
			Resource: "cost/service/" + s,
			Problem:  "increase",
			Severity: sev,
			Summary:  fmt.Sprintf("%s cost $%.0f over the last %d days, up $%.0f (%s) from $%.0f the %d days before", s, cur, days, rise, pctText, prev, days),
			Evidence: map[string]string{"service": s, "previous_usd": fmt.Sprintf("%.0f", prev), "current_usd": fmt.Sprintf("%.0f", cur), "window_days": strconv.Itoa(days)},
			Fix:      fmt.Sprintf("see what grew: Cost Explorer, filter Service = %s, group by usage type", s),
		})
	}
	return out, nil
}

func (p *Provider) costAnomalies(ctx context.Context, c *conn, params checks.Params) ([]checks.Finding, error) {
	client := c.ce()
	mons, err := client.GetAnomalyMonitors(ctx, &ce.GetAnomalyMonitorsInput{})
	if err != nil {
		return nil, c.apiError("ce:GetAnomalyMonitors", "", err)
	}
	if len(mons.AnomalyMonitors) == 0 {
		return nil, checks.Skip("Cost Anomaly Detection has no monitor in this account; create one (Billing console → Cost Anomaly Detection) or use aws.cost.increase")
	}
	end := day(p.now())
	start := end.AddDate(0, 0, -windowDays(params.Duration("window")))
	minImpact := params.Float("min_impact")
	in := &ce.GetAnomaliesInput{DateInterval: &cetypes.AnomalyDateInterval{StartDate: awssdk.String(start.Format(dateLayout)), EndDate: awssdk.String(end.Format(dateLayout))}}
	if minImpact > 0 {
		in.TotalImpact = &cetypes.TotalImpactFilter{NumericOperator: cetypes.NumericOperatorGreaterThanOrEqual, StartValue: minImpact}
	}
	var out []checks.Finding
	for {
		page, err := client.GetAnomalies(ctx, in)
		if err != nil {
			return nil, c.apiError("ce:GetAnomalies", "", err)
		}
		for _, a := range page.Anomalies {
			impact := 0.0
			if a.Impact != nil {
				impact = a.Impact.TotalImpact
			}
			if impact < minImpact || a.Feedback == cetypes.AnomalyFeedbackTypeNo {
				continue
			}
			var causes []string
			for _, rc := range a.RootCauses {
				parts := []string{}
				for _, v := range []*string{rc.Service, rc.Region, rc.UsageType} {
					if s := awssdk.ToString(v); s != "" {
						parts = append(parts, s)
					}
				}
				if len(parts) > 0 {
					causes = append(causes, strings.Join(parts, " / "))
				}
			}
			sev := checks.Medium
			if impact >= 1000 {
				sev = checks.High
			}
			summary := fmt.Sprintf("cost anomaly since %s: $%.0f above expected", awssdk.ToString(a.AnomalyStartDate), impact)
			if len(causes) > 0 {
				summary += " (" + strings.Join(causes, "; ") + ")"
			}
			out = append(out, checks.Finding{
				Resource: "cost/anomaly/" + awssdk.ToString(a.AnomalyId),
				Problem:  "anomaly",
				Severity: sev,
				Summary:  summary,
				Evidence: map[string]string{"impact_usd": fmt.Sprintf("%.0f", impact), "start": awssdk.ToString(a.AnomalyStartDate), "root_causes": strings.Join(causes, "; "), "dimension": awssdk.ToString(a.DimensionValue)},
				Fix:      "open it in the Billing console (Cost Anomaly Detection) and give feedback so the model learns",
			})
		}
		if awssdk.ToString(page.NextPageToken) == "" {
			return out, nil
		}
		in.NextPageToken = page.NextPageToken
	}
}

func (p *Provider) costForecast(ctx context.Context, c *conn, params checks.Params) ([]checks.Finding, error) {
	budget := params.Float("budget")
	today := day(p.now())
	first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	next := first.AddDate(0, 1, 0)
	client := c.ce()
	spent := 0.0
	if today.After(first) {
		out, err := client.GetCostAndUsage(ctx, &ce.GetCostAndUsageInput{
			TimePeriod:  &cetypes.DateInterval{Start: awssdk.String(first.Format(dateLayout)), End: awssdk.String(today.Format(dateLayout))},
			Granularity: cetypes.GranularityMonthly,
			Metrics:     []string{"UnblendedCost"},
		})
		if err != nil {
			return nil, c.apiError("ce:GetCostAndUsage", "", err)
		}
		for _, r := range out.ResultsByTime {
			if m, ok := r.Total["UnblendedCost"]; ok {
				v, err := strconv.ParseFloat(awssdk.ToString(m.Amount), 64)
				if err != nil {
					return nil, fmt.Errorf("ce:GetCostAndUsage: unreadable amount %q", awssdk.ToString(m.Amount))
				}
				spent += v
			}
		}
	}
	fc, err := client.GetCostForecast(ctx, &ce.GetCostForecastInput{
		TimePeriod:  &cetypes.DateInterval{Start: awssdk.String(today.Format(dateLayout)), End: awssdk.String(next.Format(dateLayout))},
		Metric:      cetypes.MetricUnblendedCost,
		Granularity: cetypes.GranularityMonthly,
	})
	var noData *cetypes.DataUnavailableException
	switch {
	case errors.As(err, &noData):
		return nil, checks.Skip("Cost Explorer has too little history to forecast this month (new account, or Cost Explorer enabled recently)")
	case err != nil:
		return nil, c.apiError("ce:GetCostForecast", "", err)
	}
	rest := 0.0
	if fc.Total != nil {
		rest, err = strconv.ParseFloat(awssdk.ToString(fc.Total.Amount), 64)
		if err != nil {
			return nil, fmt.Errorf("ce:GetCostForecast: unreadable amount %q", awssdk.ToString(fc.Total.Amount))
		}
	}
	projected := spent + rest
	if projected <= budget {
		return nil, nil
	}
	sev := checks.Medium
	if projected > budget*1.2 {
		sev = checks.High
	}
	month := first.Format("2006-01")
	return []checks.Finding{{
		Resource: "cost/forecast/" + month,
		Problem:  "over_budget",
		Severity: sev,
		Summary:  fmt.Sprintf("%s is forecast to end at $%.0f, over the $%.0f budget by $%.0f ($%.0f spent so far)", month, projected, budget, projected-budget, spent),
		Evidence: map[string]string{"budget_usd": fmt.Sprintf("%.0f", budget), "over_by_pct": fmt.Sprintf("%.0f", math.Floor((projected-budget)/budget*100/10)*10)},
		Fix:      "run aws.cost.increase to see which services grew, and the waste checks (aws.ec2.volumes.unattached, aws.ec2.eip.unassociated, aws.ec2.instances.stopped)",
	}}, nil
}
