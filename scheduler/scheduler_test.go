package scheduler

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clankerd/clankerd/heartbeat"
)

// recorder is a Dispatcher that records ticks; runs block until release is closed
// (when set) or their context ends.
type recorder struct {
	mu       sync.Mutex
	ticks    []Tick
	at       []time.Time
	release  chan struct{}
	hold     time.Duration
	inflight atomic.Int32
	maxSeen  atomic.Int32
	now      func() time.Time
}

func (r *recorder) Dispatch(ctx context.Context, t Tick) {
	r.mu.Lock()
	r.ticks = append(r.ticks, t)
	r.at = append(r.at, r.now())
	r.mu.Unlock()
	if t.Skip != "" {
		return
	}
	n := r.inflight.Add(1)
	defer r.inflight.Add(-1)
	for {
		m := r.maxSeen.Load()
		if n <= m || r.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if r.hold > 0 {
		select {
		case <-time.After(r.hold):
		case <-ctx.Done():
		}
	}
	if r.release != nil {
		select {
		case <-r.release:
		case <-ctx.Done():
		}
	}
}

func (r *recorder) snapshot() ([]Tick, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Tick(nil), r.ticks...), append([]time.Time(nil), r.at...)
}

func (r *recorder) runs() []Tick {
	ticks, _ := r.snapshot()
	var out []Tick
	for _, t := range ticks {
		if t.Skip == "" {
			out = append(out, t)
		}
	}
	return out
}

// job is an item keyed key that fires on the cron spec, in UTC.
func job(t *testing.T, key, spec string) Job {
	t.Helper()
	s, err := heartbeat.ParseSchedule("`"+spec+"`", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return Job{Item: heartbeat.Item{Key: key, ID: "test.check", File: "HB.md", Line: 1, Schedule: s}}
}

// start runs a scheduler with the jobs in the synctest bubble; stop ends it and
// returns Wait's error.
func start(t *testing.T, rec *recorder, opts Options, jobs ...Job) (s *Scheduler, stop func(grace time.Duration) error) {
	t.Helper()
	opts.Dispatcher = rec
	if rec.now == nil {
		rec.now = time.Now
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Update(jobs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return s, func(grace time.Duration) error {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run returned %v", err)
		}
		return s.Wait(grace)
	}
}

func TestFiresOnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		s, stop := start(t, rec, Options{}, job(t, "a", "*/5 * * * *"))
		if e := s.Entries(); len(e) != 1 || !e[0].Next.Equal(time.Now().Add(5*time.Minute)) {
			t.Errorf("entries = %+v", e)
		}
		time.Sleep(16 * time.Minute)
		synctest.Wait()
		if err := stop(time.Second); err != nil {
			t.Fatal(err)
		}
		ticks, at := rec.snapshot()
		if len(ticks) != 3 {
			t.Fatalf("%d ticks in 16 minutes of every-5m, want 3", len(ticks))
		}
		start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, tk := range ticks {
			want := start.Add(time.Duration(i+1) * 5 * time.Minute)
			if !tk.Scheduled.Equal(want) || !at[i].Equal(want) || tk.CatchUp || tk.Missed != 0 || tk.Round == nil {
				t.Errorf("tick %d = %+v at %s, want scheduled and fired at %s", i, tk, at[i], want)
			}
		}
	})
}

func TestCatchUpAfterDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		j := job(t, "a", "*/5 * * * *")
		j.LastScheduled = time.Now().Add(-3 * time.Hour)
		_, stop := start(t, rec, Options{}, j)
		synctest.Wait()
		ticks := rec.runs()
		if len(ticks) != 1 {
			t.Fatalf("%d dispatches at start, want one catch-up", len(ticks))
		}
		// Ticks from 21:05 to 00:00: 36; one runs, 35 are missed.
		if tk := ticks[0]; !tk.CatchUp || tk.Missed != 35 || !tk.Scheduled.Equal(time.Now()) {
			t.Errorf("catch-up tick = %+v", tk)
		}
		time.Sleep(6 * time.Minute)
		synctest.Wait()
		if err := stop(time.Second); err != nil {
			t.Fatal(err)
		}
		if ticks := rec.runs(); len(ticks) != 2 || ticks[1].CatchUp || ticks[1].Missed != 0 {
			t.Errorf("after catching up: %+v", ticks)
		}
	})
}

func TestNoCatchUpWhenNothingWasMissed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		j := job(t, "a", "0 * * * *")
		j.LastScheduled = time.Now() // fired at 00:00; next at 01:00
		_, stop := start(t, rec, Options{}, j)
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		stop(time.Second)
		if n := len(rec.runs()); n != 0 {
			t.Errorf("%d runs, want none", n)
		}
	})
}

func TestSleepCollapsesIntoOneRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var offset atomic.Int64
		now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		rec := &recorder{now: now}
		_, stop := start(t, rec, Options{Now: now, MaxSleep: 30 * time.Second}, job(t, "a", "*/5 * * * *"))
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		// The machine sleeps for an hour: the wall clock jumps, timers did not run.
		offset.Store(int64(time.Hour))
		time.Sleep(31 * time.Second)
		synctest.Wait()
		stop(time.Second)
		ticks := rec.runs()
		if len(ticks) != 2 {
			t.Fatalf("%d runs, want 2 (one before the sleep, one catch-up): %+v", len(ticks), ticks)
		}
		// Wall clock after waking: 01:05:31; ticks 00:10 … 01:05 collapse into one.
		if tk := ticks[1]; !tk.CatchUp || tk.Missed != 11 || tk.Scheduled.Format("15:04") != "01:05" {
			t.Errorf("catch-up after sleep = %+v", tk)
		}
	})
}

func TestOverlappingTickIsSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{hold: 150 * time.Second}
		_, stop := start(t, rec, Options{}, job(t, "a", "* * * * *"))
		time.Sleep(3*time.Minute + time.Second)
		synctest.Wait()
		stop(time.Minute)
		ticks, _ := rec.snapshot()
		// 00:01 runs until 00:03:30; 00:02 and 00:03 are skipped.
		var skipped []string
		for _, tk := range ticks {
			if tk.Skip != "" {
				skipped = append(skipped, tk.Scheduled.Format("15:04"))
				if !strings.HasPrefix(tk.Skip, "previous run still in progress (started 2000-01-01T00:01:00Z)") {
					t.Errorf("skip reason = %q", tk.Skip)
				}
			}
		}
		if len(rec.runs()) != 1 || strings.Join(skipped, ",") != "00:02,00:03" {
			t.Errorf("runs %d, skipped %v", len(rec.runs()), skipped)
		}
	})
}

func TestActiveHours(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		j := job(t, "a", "*/10 * * * *")
		j.Item.ActiveHours = &heartbeat.ActiveHours{Start: 15, End: 24 * 60, Location: time.UTC} // 00:15 to midnight
		_, stop := start(t, rec, Options{}, j)
		time.Sleep(21 * time.Minute)
		synctest.Wait()
		stop(time.Second)
		ticks, _ := rec.snapshot()
		if len(ticks) != 2 || ticks[0].Skip != "outside active hours" || ticks[1].Skip != "" || ticks[1].Scheduled.Minute() != 20 {
			t.Errorf("ticks = %+v", ticks)
		}
	})
}

func TestConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{hold: 10 * time.Second}
		var jobs []Job
		for _, k := range strings.Split("a b c d e f g h i j", " ") {
			jobs = append(jobs, job(t, k, "* * * * *"))
		}
		_, stop := start(t, rec, Options{MaxConcurrent: 3}, jobs...)
		time.Sleep(61 * time.Second)
		synctest.Wait()
		if n := rec.inflight.Load(); n != 3 {
			t.Errorf("%d in flight, want 3", n)
		}
		time.Sleep(50 * time.Second)
		synctest.Wait()
		stop(time.Second)
		if m := rec.maxSeen.Load(); m != 3 {
			t.Errorf("max in flight = %d, want 3", m)
		}
		runs := rec.runs()
		seen := map[string]bool{}
		for _, tk := range runs {
			seen[tk.Job.Item.Key] = true
			if tk.Round != runs[0].Round {
				t.Error("ticks of one wake-up do not share a round")
			}
		}
		if len(runs) != 10 || len(seen) != 10 {
			t.Errorf("%d runs of %d jobs, want all 10 once", len(runs), len(seen))
		}
	})
}

func TestJitter(t *testing.T) {
	if a, b := jitterOffset("item-1", time.Minute), jitterOffset("item-1", time.Minute); a != b || a < 0 || a >= time.Minute {
		t.Errorf("offset not stable or out of range: %v %v", a, b)
	}
	distinct := map[time.Duration]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		distinct[jitterOffset(k, time.Hour)] = true
	}
	if len(distinct) < 4 {
		t.Errorf("offsets do not spread: %v", distinct)
	}
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		j := job(t, "item-1", "*/5 * * * *")
		j.Item.Jitter = time.Minute
		_, stop := start(t, rec, Options{}, j)
		time.Sleep(7 * time.Minute)
		synctest.Wait()
		stop(time.Second)
		ticks, at := rec.snapshot()
		want := time.Date(2000, 1, 1, 0, 5, 0, 0, time.UTC)
		if len(ticks) != 1 || !ticks[0].Scheduled.Equal(want) || !at[0].Equal(want.Add(jitterOffset("item-1", time.Minute))) {
			t.Errorf("tick %+v fired at %v", ticks, at)
		}
	})
}

func TestUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		s, stop := start(t, rec, Options{}, job(t, "keep", "*/10 * * * *"), job(t, "drop", "*/10 * * * *"))
		time.Sleep(3 * time.Minute)
		before := s.Entries()
		s.Update([]Job{job(t, "keep", "*/10 * * * *"), job(t, "new", "*/2 * * * *")})
		after := s.Entries()
		if len(after) != 2 || after[0].Key != "keep" || !after[0].Next.Equal(before[0].Next) || after[1].Key != "new" {
			t.Errorf("entries after update = %+v (before %+v)", after, before)
		}
		time.Sleep(8 * time.Minute)
		synctest.Wait()
		s.Update([]Job{job(t, "keep", "*/3 * * * *")})
		if e := s.Entries(); len(e) != 1 || e[0].Next.Format("15:04") != "00:12" {
			t.Errorf("changed schedule not recomputed from now: %+v", e)
		}
		stop(time.Second)
		count := map[string]int{}
		for _, tk := range rec.runs() {
			count[tk.Job.Item.Key]++
		}
		if count["drop"] != 0 || count["keep"] != 1 || count["new"] != 4 {
			t.Errorf("runs per job = %v", count)
		}
	})
}

func TestWaitGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{hold: 20 * time.Second}
		_, stop := start(t, rec, Options{}, job(t, "slow", "* * * * *"))
		time.Sleep(61 * time.Second)
		if err := stop(30 * time.Second); err != nil {
			t.Errorf("a run finishing inside the grace period: %v", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{release: make(chan struct{})}
		_, stop := start(t, rec, Options{}, job(t, "hang", "* * * * *"))
		time.Sleep(61 * time.Second)
		began := time.Now()
		err := stop(5 * time.Second)
		if err == nil || !strings.Contains(err.Error(), "HB.md:1 (test.check)") {
			t.Errorf("Wait error = %v", err)
		}
		if d := time.Since(began); d != 5*time.Second {
			t.Errorf("Wait took %s, want the 5s grace", d)
		}
	})
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a dispatcher succeeded")
	}
	if _, err := New(Options{Dispatcher: &recorder{}, MaxConcurrent: -1}); err == nil {
		t.Error("negative concurrency accepted")
	}
}

// OpenClaw's headings fire on their days: "Weekly (Monday)" on the Monday (the bubble
// starts on Saturday 2000-01-01), "Daily (morning)" every day at the morning time.
func TestWeekdayAndMorningHeadings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var jobs []Job
		for _, heading := range []string{"Weekly (Monday)", "Daily (morning)"} {
			s, err := heartbeat.ParseSchedule(heading, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, Job{Item: heartbeat.Item{Key: heading, ID: "test.check", File: "HB.md", Line: 1, Schedule: s}})
		}
		rec := &recorder{}
		_, stop := start(t, rec, Options{}, jobs...)
		time.Sleep(72 * time.Hour)
		synctest.Wait()
		if err := stop(time.Second); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tk := range rec.runs() {
			got = append(got, tk.Job.Item.Key+" "+tk.Scheduled.Format("Mon 01-02 15:04"))
		}
		want := []string{
			"Daily (morning) Sat 01-01 09:00",
			"Daily (morning) Sun 01-02 09:00",
			"Weekly (Monday) Mon 01-03 00:00",
			"Daily (morning) Mon 01-03 09:00",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("runs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}
