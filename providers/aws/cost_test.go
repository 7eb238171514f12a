package aws

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// dailyCosts builds a moto Cost Explorer result: for each service, per-day amounts
// for the days from start.
func dailyCosts(start time.Time, days int, perDay func(service string, day int) float64, services ...string) string {
	var byTime []map[string]any
	for d := range days {
		from := start.AddDate(0, 0, d)
		var groups []map[string]any
		for _, s := range services {
			groups = append(groups, map[string]any{"Keys": []string{s}, "Metrics": map[string]any{"UnblendedCost": map[string]string{"Amount": fmt.Sprintf("%.2f", perDay(s, d)), "Unit": "USD"}}})
		}
		byTime = append(byTime, map[string]any{"TimePeriod": map[string]string{"Start": from.Format(time.DateOnly), "End": from.AddDate(0, 0, 1).Format(time.DateOnly)}, "Groups": groups, "Total": map[string]any{}, "Estimated": false})
	}
	b, _ := json.Marshal(map[string]any{"results": []any{map[string]any{"ResultsByTime": byTime, "DimensionValueAttributes": []any{}}}})
	return string(b)
}

func TestCostIncrease(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	p, _ := account(t, Options{Now: func() time.Time { return now }})
	start := time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC) // 14 days before the 20th
	before := map[string]float64{"Amazon Elastic Compute Cloud - Compute": 10, "Amazon Simple Storage Service": 1, "Amazon Relational Database Service": 5, "AWS Lambda": 0, "AmazonCloudWatch": 50}
	after := map[string]float64{"Amazon Elastic Compute Cloud - Compute": 25, "Amazon Simple Storage Service": 1.5, "Amazon Relational Database Service": 5.5, "AWS Lambda": 3, "AmazonCloudWatch": 80}
	var services []string
	for s := range before {
		services = append(services, s)
	}
	moto.SeedCostAndUsage(t, dailyCosts(start, 14, func(s string, d int) float64 {
		if d < 7 {
			return before[s]
		}
		return after[s]
	}, services...))

	// EC2 +150% (+$105): high; CloudWatch +60% (+$210): medium; Lambda is new spend
	// (+$21): medium; S3 +50% but +$3.50 and RDS +10% stay under the default 20%,$10.
	expect(t, "aws.cost.increase", found(t, p, "aws.cost.increase", nil),
		"cost/service/Amazon Elastic Compute Cloud - Compute increase high",
		"cost/service/AmazonCloudWatch increase medium",
		"cost/service/AWS Lambda increase medium",
	)
	res, err := run(t, p, "aws.cost.increase", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if strings.HasPrefix(f.Resource, "cost/service/Amazon Elastic") && (f.Evidence["previous_usd"] != "70" || f.Evidence["current_usd"] != "175" || !strings.Contains(f.Summary, "+150%")) {
			t.Errorf("EC2 increase: %+v", f)
		}
	}
	// Only percentages: S3's +50% counts now.
	expect(t, "aws.cost.increase threshold=40%", found(t, p, "aws.cost.increase", map[string]string{"threshold": "40%"}),
		"cost/service/Amazon Elastic Compute Cloud - Compute increase high",
		"cost/service/AmazonCloudWatch increase medium",
		"cost/service/AWS Lambda increase medium",
		"cost/service/Amazon Simple Storage Service increase medium",
	)
	// Only amounts.
	expect(t, "aws.cost.increase threshold=100", found(t, p, "aws.cost.increase", map[string]string{"threshold": "$100"}),
		"cost/service/Amazon Elastic Compute Cloud - Compute increase high",
		"cost/service/AmazonCloudWatch increase medium",
	)
}

func TestThresholdParam(t *testing.T) {
	for _, bad := range []string{"", "abc", "-5%", "20%%"} {
		if err := validateThreshold(bad); err == nil {
			t.Errorf("threshold %q accepted", bad)
		}
	}
	th, err := parseThreshold("15%,$40")
	if err != nil || !th.hasPct || !th.hasUSD || th.pct != 15 || th.usd != 40 {
		t.Errorf("parseThreshold = %+v, %v", th, err)
	}
}

// wire is an httptest server speaking AWS's wire formats for the operations moto
// does not implement (Cost Explorer GetAnomalyMonitors, GetAnomalies and
// GetCostForecast; the IAM credential report's root row) or cannot be made to
// refuse (AccessDenied). Responses follow the shapes in AWS's API reference: JSON
// 1.1 with X-Amz-Target for Cost Explorer, the query protocol's XML for IAM and STS,
// EC2's own XML error envelope.
type wire struct {
	*httptest.Server
	mu    sync.Mutex
	calls []string
}

func newWire(t *testing.T, handle func(w http.ResponseWriter, op string, body []byte)) *wire {
	t.Helper()
	s := &wire{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		op := r.Header.Get("X-Amz-Target")
		if i := strings.LastIndexByte(op, '.'); i >= 0 {
			op = op[i+1:]
		}
		if op == "" {
			_ = r.ParseForm()
			form, _ := parseForm(string(body))
			op = form["Action"]
		}
		s.mu.Lock()
		s.calls = append(s.calls, op)
		s.mu.Unlock()
		handle(w, op, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func parseForm(body string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(body, "&") {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out, nil
}

func jsonReply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

func xmlReply(w http.ResponseWriter, op, result string) {
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%sResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><%sResult>%s</%sResult><ResponseMetadata><RequestId>7a62c49f</RequestId></ResponseMetadata></%sResponse>`, op, op, result, op, op)
}

const callerIdentity = `<Arn>arn:aws:iam::210987654321:user/ops</Arn><UserId>AIDAEXAMPLE</UserId><Account>210987654321</Account>`

func TestCostAnomaliesAndForecast(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	monitors := 1
	var forecastBody string
	srv := newWire(t, func(w http.ResponseWriter, op string, body []byte) {
		switch op {
		case "GetAnomalyMonitors":
			var ms []any
			for range monitors {
				ms = append(ms, map[string]any{"MonitorArn": "arn:aws:ce::210987654321:anomalymonitor/abc", "MonitorName": "services", "MonitorType": "DIMENSIONAL", "MonitorDimension": "SERVICE"})
			}
			jsonReply(w, map[string]any{"AnomalyMonitors": ms})
		case "GetAnomalies":
			jsonReply(w, map[string]any{"Anomalies": []any{
				map[string]any{"AnomalyId": "an-1", "AnomalyStartDate": "2026-11-17", "DimensionValue": "Amazon EC2", "MonitorArn": "arn:aws:ce::210987654321:anomalymonitor/abc",
					"AnomalyScore": map[string]any{"CurrentScore": 0.9, "MaxScore": 0.9}, "Impact": map[string]any{"MaxImpact": 800, "TotalImpact": 1500},
					"RootCauses": []any{map[string]any{"Service": "Amazon Elastic Compute Cloud - Compute", "Region": "us-east-1", "UsageType": "BoxUsage:p4d.24xlarge"}}},
				map[string]any{"AnomalyId": "an-2", "AnomalyStartDate": "2026-11-18", "Impact": map[string]any{"MaxImpact": 20, "TotalImpact": 40}},
			}})
		case "GetCostAndUsage": // month to date: 1st to the 20th
			jsonReply(w, map[string]any{"ResultsByTime": []any{map[string]any{"TimePeriod": map[string]string{"Start": "2026-11-01", "End": "2026-11-20"}, "Total": map[string]any{"UnblendedCost": map[string]string{"Amount": "800.00", "Unit": "USD"}}}}})
		case "GetCostForecast":
			forecastBody = string(body)
			jsonReply(w, map[string]any{"Total": map[string]string{"Amount": "450.00", "Unit": "USD"}, "ForecastResultsByTime": []any{}})
		default:
			w.WriteHeader(http.StatusBadRequest)
			jsonReply(w, map[string]any{"__type": "UnknownOperationException"})
		}
	})
	p := New(Options{MaxAttempts: 1, Now: func() time.Time { return now }})

	res, err := runAt(t, p, srv.URL, "aws.cost.anomalies", nil)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "aws.cost.anomalies", describeFindings(t, "", res.Findings), "cost/anomaly/an-1 anomaly high", "cost/anomaly/an-2 anomaly medium")
	if !strings.Contains(res.Findings[0].Summary, "BoxUsage:p4d.24xlarge") {
		t.Errorf("root cause missing: %s", res.Findings[0].Summary)
	}
	res, err = runAt(t, p, srv.URL, "aws.cost.anomalies", map[string]string{"min_impact": "100"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "aws.cost.anomalies min_impact", describeFindings(t, "", res.Findings), "cost/anomaly/an-1 anomaly high")

	// Without a monitor, the check does not apply.
	monitors = 0
	_, err = runAt(t, p, srv.URL, "aws.cost.anomalies", nil)
	if reason, ok := checks.IsSkip(err); !ok || !strings.Contains(reason, "no monitor") {
		t.Errorf("no monitor: %v", err)
	}

	// $800 spent + $450 forecast = $1250 against a $1000 budget: over by 25%.
	res, err = runAt(t, p, srv.URL, "aws.cost.forecast", map[string]string{"budget": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "aws.cost.forecast", describeFindings(t, "", res.Findings), "cost/forecast/2026-11 over_budget high")
	if !strings.Contains(res.Findings[0].Summary, "$1250") || !strings.Contains(forecastBody, `"Start":"2026-11-20"`) || !strings.Contains(forecastBody, `"End":"2026-12-01"`) {
		t.Errorf("forecast: %s (request %s)", res.Findings[0].Summary, forecastBody)
	}
	res, err = runAt(t, p, srv.URL, "aws.cost.forecast", map[string]string{"budget": "1300"})
	if err != nil || len(res.Findings) != 0 {
		t.Errorf("under budget: %v %v", res.Findings, err)
	}
}

func TestRootAccount(t *testing.T) {
	report := "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date\n" +
		"<root_account>,arn:aws:iam::210987654321:root,2020-01-01T00:00:00+00:00,not_supported,2026-11-01T00:00:00+00:00,not_supported,not_supported,%s,%s,2020-01-01T00:00:00+00:00,N/A,false,N/A,N/A\n"
	mfa, keys := "false", "true"
	srv := newWire(t, func(w http.ResponseWriter, op string, body []byte) {
		switch op {
		case "GetCallerIdentity":
			xmlReply(w, op, callerIdentity)
		case "GenerateCredentialReport":
			xmlReply(w, op, "<State>COMPLETE</State>")
		case "GetCredentialReport":
			content := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, report, mfa, keys))
			xmlReply(w, op, "<Content>"+content+"</Content><ReportFormat>text/csv</ReportFormat><GeneratedTime>2026-11-20T12:00:00Z</GeneratedTime>")
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	p := New(Options{MaxAttempts: 1})
	res, err := runAt(t, p, srv.URL, "aws.iam.root", nil)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "aws.iam.root", describeFindings(t, "", res.Findings),
		"arn:aws:iam::210987654321:root root_access_keys critical",
		"arn:aws:iam::210987654321:root root_mfa_off critical")
	mfa, keys = "true", "false"
	res, err = runAt(t, New(Options{MaxAttempts: 1}), srv.URL, "aws.iam.root", nil)
	if err != nil || len(res.Findings) != 0 {
		t.Errorf("root with MFA and no keys: %v %v", res.Findings, err)
	}
}
