package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeMetrics GETs /metrics and parses it with the Prometheus text parser; nil when
// the endpoint does not answer.
func scrapeMetrics(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// sample returns the value of the family's sample whose labels include want.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestDaemonMetrics(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 1 second\n- `tcp.connect` addr=%s\n- `tcp.connect` addr=%s timeout=1s\n", listen(t), closedPort(t)))

	if r := cli(t, state, "run", "--heartbeat", hb, "--metrics-listen", "0.0.0.0:9464"); r.code != 3 || !strings.Contains(r.stderr, "--metrics-allow-remote") {
		t.Errorf("a non-loopback metrics address: %+v", r)
	}

	addr := closedPort(t)
	d := startDaemon(t, state, "--heartbeat", hb, "--metrics-listen", addr)
	var fams map[string]*dto.MetricFamily
	waitFor(t, 20*time.Second, "runs in the metrics", func() bool {
		fams = scrapeMetrics(t, addr)
		pass, _ := sample(fams, "clankerd_runs_total", map[string]string{"check": "tcp.connect", "status": "pass"})
		fail, _ := sample(fams, "clankerd_runs_total", map[string]string{"check": "tcp.connect", "status": "fail"})
		return pass >= 2 && fail >= 2
	})
	if n, ok := sample(fams, "clankerd_open_findings", map[string]string{"check": "tcp.connect", "severity": "high"}); !ok || n != 1 {
		t.Errorf("open findings = %v (%v)", n, ok)
	}
	if n, ok := sample(fams, "clankerd_run_duration_seconds", map[string]string{"check": "tcp.connect"}); !ok || n < 4 {
		t.Errorf("run durations observed = %v", n)
	}
	if n, ok := sample(fams, "clankerd_pending_plans", nil); !ok || n != 0 {
		t.Errorf("pending plans = %v (%v)", n, ok)
	}
	if _, ok := sample(fams, "clankerd_notification_outbox_depth", nil); !ok {
		t.Error("no outbox depth")
	}
	last, ok := sample(fams, "clankerd_last_successful_run_timestamp_seconds", map[string]string{"check": "tcp.connect", "pos": hb + ":2"})
	if age := time.Since(time.Unix(int64(last), 0)); !ok || age < 0 || age > time.Minute {
		t.Errorf("last successful run %v ago (%v)", age, ok)
	}
	d.stop(t, syscall.SIGTERM, 20*time.Second)
	if !d.exitOK {
		t.Errorf("daemon with metrics exited %d", d.code)
	}
}

// Issue 12, hole 11: a page under a name its author points at 127.0.0.1 (DNS
// rebinding) could read /metrics through the visitor's browser, which sends the
// page's name as Host. A loopback listener answers only loopback Host names.
func TestMetricsRefuseForeignHost(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 1 minute\n- `tcp.connect` addr=%s\n", listen(t)))
	addr := closedPort(t)
	startDaemon(t, state, "--heartbeat", hb, "--metrics-listen", addr)
	get := func(host string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	waitFor(t, 20*time.Second, "/metrics", func() bool {
		code, _ := get(addr)
		return code == http.StatusOK
	})
	_, port, _ := net.SplitHostPort(addr)
	for _, host := range []string{"attacker.example", "attacker.example:" + port, "127.0.0.1.attacker.example:" + port} {
		if code, body := get(host); code != http.StatusForbidden || !strings.Contains(body, "DNS rebinding") || strings.Contains(body, "clankerd_") {
			t.Errorf("Host %s: %d %.200q, want 403", host, code, body)
		}
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "localhost"} {
		if code, body := get(host); code != http.StatusOK || !strings.Contains(body, "clankerd_pending_plans") {
			t.Errorf("Host %s: %d %.200q, want the metrics", host, code, body)
		}
	}
}
