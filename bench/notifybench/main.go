// Command notifybench measures notification delivery in a real daemon: it serves N
// HTTP endpoints of which a share fails (a different share every minute), runs
// `clankerd run` with one `http.status` check per endpoint every minute, receives the
// notifications on a local webhook, and reports notifications per minute, the latency
// from queueing to delivery, and the daemon's RSS and CPU time. With -notify=false
// the daemon has no targets: the baseline. Everything listens on 127.0.0.1 only.
//
//	go run ./bench/notifybench -clankerd /tmp/clankerd -duration 3m30s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	os.Exit(run())
}

type options struct {
	clankerd string
	checks   int
	failing  float64
	duration time.Duration
	notify   bool
}

func run() int {
	var o options
	flag.StringVar(&o.clankerd, "clankerd", "", "the clankerd binary (required)")
	flag.IntVar(&o.checks, "checks", 500, "checks, each firing every minute")
	flag.Float64Var(&o.failing, "failing", 0.1, "share of checks failing at any time; the failing set moves every minute")
	flag.DurationVar(&o.duration, "duration", 3*time.Minute+30*time.Second, "how long the daemon runs")
	flag.Parse()
	if o.clankerd == "" {
		fmt.Fprintln(os.Stderr, "notifybench: -clankerd PATH is required")
		return 2
	}
	// The baseline first: the same daemon and checks without notification targets.
	var results []result
	for _, notify := range []bool{false, true} {
		o.notify = notify
		fmt.Fprintf(os.Stderr, "notifybench: %d checks, notifications %v, %s...\n", o.checks, notify, o.duration)
		res, err := measure(o)
		if err != nil {
			fmt.Fprintln(os.Stderr, "notifybench:", err)
			return 1
		}
		out, _ := json.Marshal(res)
		fmt.Println(string(out))
		results = append(results, res)
	}
	base, got := results[0], results[1]
	fmt.Printf("\n| what | with notifications | baseline: no targets | ratio |\n|---|---|---|---|\n")
	fmt.Printf("| minute ticks (runs) | %.0f (%d) | %.0f (%d) | – |\n", got.Ticks, got.RunsRecorded, base.Ticks, base.RunsRecorded)
	fmt.Printf("| notifications per minute | %.1f (%d in all, %d findings told) | 0 | – |\n", got.PerMinute, got.Notifications, got.FindingsTold)
	fmt.Printf("| latency queue → delivery | p50 %.1f ms, p95 %.1f ms, max %.1f ms | – | – |\n", got.LatencyP50ms, got.LatencyP95ms, got.LatencyMaxms)
	fmt.Printf("| peak RSS | %.1f MiB | %.1f MiB | %.2f× |\n", got.RSSMaxMiB, base.RSSMaxMiB, got.RSSMaxMiB/base.RSSMaxMiB)
	fmt.Printf("| daemon CPU per run | %.2f ms (%.2f s) | %.2f ms (%.2f s) | %.2f× |\n", got.CPUPerRunms, got.CPUSeconds, base.CPUPerRunms, base.CPUSeconds, got.CPUPerRunms/base.CPUPerRunms)
	fmt.Printf("| repeated idempotency keys, outbox left | %d, %d | –, %d | – |\n", got.DuplicateKeys, got.OutboxDepthLeft, base.OutboxDepthLeft)
	return 0
}

// result is one measurement, printed as JSON.
type result struct {
	Notify          bool    `json:"notify"`
	Checks          int     `json:"checks"`
	Minutes         float64 `json:"minutes"`
	Notifications   int     `json:"notifications"`
	FindingsTold    int     `json:"findings_told"`
	PerMinute       float64 `json:"notifications_per_minute"`
	LatencyP50ms    float64 `json:"latency_p50_ms"`
	LatencyP95ms    float64 `json:"latency_p95_ms"`
	LatencyMaxms    float64 `json:"latency_max_ms"`
	RSSMaxMiB       float64 `json:"rss_max_mib"`
	RSSEndMiB       float64 `json:"rss_end_mib"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUPerRunms     float64 `json:"cpu_per_run_ms"`
	Ticks           float64 `json:"ticks"`
	DuplicateKeys   int     `json:"duplicate_keys"`
	RunsRecorded    int     `json:"runs_recorded"`
	OutboxDepthLeft int     `json:"outbox_depth_left"`
}

// failingAt reports whether endpoint i fails at t: a failing share that moves by one
// slot every minute, switching at :30 so that runs at :00 see a stable set.
func failingAt(i int, share float64, t time.Time) bool {
	slots := int(1 / share)
	minute := int(t.Add(-30*time.Second).Unix() / 60)
	return (i+minute)%slots == 0
}

func measure(o options) (result, error) {
	res := result{Notify: o.notify, Checks: o.checks}
	work, err := os.MkdirTemp("", "notifybench")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(work)

	// The checked endpoints.
	targets, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer targets.Close()
	go http.Serve(targets, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/item/"))
		if failingAt(i, o.failing, time.Now()) {
			http.Error(w, "planted failure", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	}))

	// The webhook receiver.
	var mu sync.Mutex
	var latencies []time.Duration
	keys := map[string]int{}
	findings := 0
	hook, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer hook.Close()
	go http.Serve(hook, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n struct {
			Key      string    `json:"idempotency_key"`
			Created  time.Time `json:"created"`
			Findings []any     `json:"findings"`
		}
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		latencies = append(latencies, time.Since(n.Created))
		keys[n.Key]++
		findings += len(n.Findings)
		mu.Unlock()
	}))

	hb := filepath.Join(work, "HEARTBEAT.md")
	var b strings.Builder
	b.WriteString("## Every 1 minute\n")
	for i := range o.checks {
		fmt.Fprintf(&b, "- `http.status` url=http://%s/item/%d expect=200 timeout=5s\n", targets.Addr(), i)
	}
	if err := os.WriteFile(hb, []byte(b.String()), 0o600); err != nil {
		return res, err
	}
	cfg := filepath.Join(work, "notify.yaml")
	notifyYAML := "targets: []\n"
	if o.notify {
		notifyYAML = fmt.Sprintf("targets:\n  - name: bench\n    type: webhook\n    url: http://%s/hook\n", hook.Addr())
	}
	if err := os.WriteFile(cfg, []byte(notifyYAML), 0o600); err != nil {
		return res, err
	}

	// Start 40s into a minute, so that every configuration sees the same minute ticks
	// (at +20s, +1m20s, ...) and they have finished before the end.
	now := time.Now()
	wait := (100*time.Second - time.Duration(now.Second())*time.Second - time.Duration(now.Nanosecond())) % time.Minute
	time.Sleep(wait)

	state := filepath.Join(work, "state")
	ctx, cancel := context.WithTimeout(context.Background(), o.duration+time.Minute)
	defer cancel()
	daemon := exec.CommandContext(ctx, o.clankerd, "--state-dir", state, "--log-level", "error", "run",
		"--heartbeat", hb, "--notify-config", cfg, "--max-concurrent", "16")
	daemon.Stderr = os.Stderr
	if err := daemon.Start(); err != nil {
		return res, err
	}
	pid := daemon.Process.Pid
	start := time.Now()
	var rssMax float64
	for time.Since(start) < o.duration {
		time.Sleep(2 * time.Second)
		if rss, err := rssMiB(pid); err == nil {
			rssMax = max(rssMax, rss)
			res.RSSEndMiB = rss
		}
	}
	res.RSSMaxMiB = rssMax
	res.CPUSeconds, _ = cpuSeconds(pid)
	res.Minutes = time.Since(start).Minutes()
	st, err := status(o.clankerd, state)
	if err != nil {
		return res, err
	}
	res.OutboxDepthLeft = st.OutboxDepth
	if err := daemon.Process.Signal(os.Interrupt); err != nil {
		return res, err
	}
	if err := daemon.Wait(); err != nil {
		return res, fmt.Errorf("the daemon: %w", err)
	}
	res.RunsRecorded, err = countRuns(o.clankerd, state)
	if err != nil {
		return res, err
	}
	res.Ticks = float64(res.RunsRecorded) / float64(o.checks)
	res.CPUPerRunms = 1000 * res.CPUSeconds / float64(max(res.RunsRecorded, 1))

	mu.Lock()
	defer mu.Unlock()
	res.Notifications, res.FindingsTold = len(latencies), findings
	res.PerMinute = float64(len(latencies)) / res.Ticks // one tick a minute
	for _, n := range keys {
		if n > 1 {
			res.DuplicateKeys++
		}
	}
	if len(latencies) > 0 {
		slices.Sort(latencies)
		pct := func(p float64) float64 {
			return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
		}
		res.LatencyP50ms, res.LatencyP95ms, res.LatencyMaxms = pct(0.5), pct(0.95), pct(1)
	}
	return res, nil
}

func rssMiB(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// cpuSeconds is the process's user and system time, from /proc/PID/stat.
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100, nil // USER_HZ is 100 on Linux
}

type statusJSON struct {
	OutboxDepth int `json:"outbox_depth"`
}

func status(clankerd, state string) (statusJSON, error) {
	var st statusJSON
	out, err := exec.Command(clankerd, "--state-dir", state, "status", "-o", "json").Output()
	if err != nil {
		return st, fmt.Errorf("clankerd status: %w", err)
	}
	return st, json.Unmarshal(out, &st)
}

func countRuns(clankerd, state string) (int, error) {
	out, err := exec.Command(clankerd, "--state-dir", state, "runs", "--limit", "0", "-o", "json").Output()
	if err != nil {
		return 0, fmt.Errorf("clankerd runs: %w", err)
	}
	var runs struct {
		Runs []json.RawMessage `json:"runs"`
	}
	err = json.Unmarshal(out, &runs)
	return len(runs.Runs), err
}
