package metrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/notify"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// scrape GETs /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// values returns a family's samples as "label=value,... → number" lines, sorted.
func values(fams map[string]*dto.MetricFamily, name string) []string {
	f := fams[name]
	if f == nil {
		return nil
	}
	var out []string
	for _, m := range f.Metric {
		var labels []string
		for _, l := range m.Label {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		var v float64
		switch {
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Histogram != nil:
			v = float64(m.Histogram.GetSampleCount())
		}
		out = append(out, strings.Join(labels, ",")+" "+strconv.FormatFloat(v, 'f', -1, 64))
	}
	sort.Strings(out)
	return out
}

func TestScrape(t *testing.T) {
	now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{Now: func() time.Time { return now }, News: notify.News{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, err := New(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	record := func(item, check string, status checks.Status, took time.Duration, fs ...checks.Finding) {
		t.Helper()
		err := db.Update(t.Context(), func(tx *store.Tx) error {
			seq, err := tx.BeginRun(store.Receipt{Item: item, Check: check, Pos: "HB.md:" + item, Started: now})
			if err != nil {
				return err
			}
			res, err := tx.EndRun(seq, store.RunEnd{Ended: now.Add(took), Status: status, Findings: fs})
			m.ObserveRun(res.Receipt)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	high := checks.Finding{Resource: "a", Problem: "down", Severity: checks.High, Summary: "s"}
	low := checks.Finding{Resource: "b", Problem: "slow", Severity: checks.Low, Summary: "s"}
	record("1", "http.status", checks.Fail, 2*time.Second, high, low)
	record("2", "http.status", checks.Pass, 20*time.Millisecond)
	record("3", "tcp.connect", checks.Error, time.Second)
	err = db.Update(t.Context(), func(tx *store.Tx) error {
		seq, err := tx.BeginRun(store.Receipt{Item: "4", Check: "github.repos.visibility", Pos: "HB.md:4", Started: now})
		if err != nil {
			return err
		}
		_, err = tx.EndRun(seq, store.RunEnd{Ended: now, Status: checks.Pass, Evidence: map[string]string{
			"api": "https://api.github.com/", "token": "GH_TOKEN", "rate_limit_remaining": "4321", "rate_limit": "5000",
			"rate_limit_reset": "2026-11-24T03:40:00Z", "requests": "2", "not_modified": "0"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(t.Context(), func(tx *store.Tx) error {
		_, err := tx.AddReceipt(store.Receipt{Item: "2", Check: "http.status", Pos: "HB.md:2", Status: checks.Skipped, Error: "outside active hours"})
		if err != nil {
			return err
		}
		_, err = tx.AddMute(store.Mute{Check: "http.status", Resource: "b", Owner: "ann", Reason: "r", ExpiresAt: now.Add(time.Hour)})
		return errors.Join(err, tx.PutPlan(tasks.PlanRecord{ID: "p-1", State: tasks.PlanPending, ExpiresAt: now.Add(time.Hour)}))
	})
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveRun(store.Receipt{Check: "http.status", Status: checks.Skipped, Started: now, Ended: now})
	m.ObserveDelivery(notify.Attempt{Target: "ops", Outcome: store.Delivered, Latency: 3 * time.Second})
	m.ObserveRecord(3 * time.Millisecond)
	m.ObserveRecord(40 * time.Millisecond)
	m.ObserveDelivery(notify.Attempt{Target: "ops"})
	if err := m.ModelCalls(func() (int, int) { return 7, 2 }); err != nil {
		t.Fatal(err)
	}

	fams := scrape(t, m.Handler())
	tests := []struct {
		name string
		want []string
	}{
		{"clankerd_runs_total", []string{"check=http.status,status=fail 1", "check=http.status,status=pass 1", "check=http.status,status=skipped 1", "check=tcp.connect,status=error 1"}},
		{"clankerd_run_duration_seconds", []string{"check=http.status 2", "check=tcp.connect 1"}},
		{"clankerd_open_findings", []string{"check=http.status,severity=high 1", "check=http.status,severity=low 1"}},
		{"clankerd_muted_findings", []string{"check=http.status 1"}},
		{"clankerd_pending_plans", []string{" 1"}},
		// Two events: the run's new findings (one of them muted) and the error run.
		{"clankerd_notification_outbox_depth", []string{" 3"}},
		{"clankerd_last_successful_run_timestamp_seconds", []string{"check=github.repos.visibility,item=4,pos=HB.md:4 1795489200", "check=http.status,item=1,pos=HB.md:1 1795489202", "check=http.status,item=2,pos=HB.md:2 1795489200.02"}},
		{"clankerd_github_rate_limit_remaining", []string{"host=api.github.com,token=GH_TOKEN 4321"}},
		{"clankerd_github_rate_limit", []string{"host=api.github.com,token=GH_TOKEN 5000"}},
		{"clankerd_github_rate_limit_reset_timestamp_seconds", []string{"host=api.github.com,token=GH_TOKEN 1795491600"}},
		{"clankerd_notification_attempts_total", []string{"result=delivered,target=ops 1", "result=retry,target=ops 1"}},
		{"clankerd_notification_delivery_seconds", []string{"target=ops 1"}},
		{"clankerd_run_record_seconds", []string{" 2"}},
		{"clankerd_state_scrape_error", []string{" 0"}},
		{"clankerd_model_calls_total", []string{" 7"}},
		{"clankerd_model_calls_skipped_total", []string{" 2"}},
	}
	for _, tt := range tests {
		if got := values(fams, tt.name); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s = %q, want %q", tt.name, got, tt.want)
		}
	}
	// The record times land in their buckets: 3 ms by 5 ms, both by 50 ms.
	if h := fams["clankerd_run_record_seconds"].GetMetric()[0].GetHistogram(); h != nil {
		for _, b := range h.GetBucket() {
			want := map[float64]uint64{0.0025: 0, 0.005: 1, 0.025: 1, 0.05: 2}
			if n, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != n {
				t.Errorf("clankerd_run_record_seconds bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), n)
			}
		}
	}
	if fams["process_resident_memory_bytes"] == nil || fams["go_goroutines"] == nil {
		t.Error("process and Go runtime metrics are missing")
	}
}
