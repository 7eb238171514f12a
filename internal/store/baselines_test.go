package store

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
)

func fact(res, key string, sev checks.Severity) checks.Fact {
	return checks.Fact{Resource: res, Key: key, Severity: sev, Summary: key}
}

// trackRun records one completed run of a change-tracking item with the facts.
func trackRun(t *testing.T, db *DB, clk *clock, item string, inv *checks.Inventory) RunResult {
	t.Helper()
	clk.Advance(time.Minute)
	var res RunResult
	err := db.Update(t.Context(), func(tx *Tx) error {
		seq, err := tx.BeginRun(Receipt{Item: item, Check: "k8s.changes.exposure", Pos: "HB.md:3", Trigger: TriggerManual, Scheduled: clk.Now(), Started: clk.Now()})
		if err != nil {
			return err
		}
		status := checks.Pass
		if inv == nil {
			status = checks.Error
		}
		res, err = tx.EndRun(seq, RunEnd{Ended: clk.Now(), Status: status, Inventory: inv})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func facts(fs ...checks.Fact) *checks.Inventory { return &checks.Inventory{Facts: fs} }

// states sums a run's findings up as resource/problem → state.
func states(res RunResult) map[string]string {
	out := map[string]string{}
	for _, f := range res.Findings {
		out[f.Resource+" "+f.Problem] = string(f.State) + " " + string(f.Severity)
	}
	return out
}

func changeKinds(t *testing.T, db *DB, since time.Time) []string {
	t.Helper()
	var out []string
	mustView(t, db, func(tx *Tx) error {
		cs, err := tx.Changes(ChangeFilter{Since: since})
		for _, c := range slices.Backward(cs) {
			out = append(out, string(c.Kind)+" "+c.Resource)
		}
		return err
	})
	return out
}

func TestBaselineLifecycle(t *testing.T) {
	db, clk := openTest(t, Options{})
	const item = "hb-exposure"
	lb := fact("service/shop/web", "LoadBalancer 443/TCP from 0.0.0.0/0", checks.High)
	np := fact("service/shop/api", "NodePort 80/TCP on node port 30080", checks.Medium)
	admin := fact("service/shop/admin", "LoadBalancer 8443/TCP from 0.0.0.0/0", checks.High)
	web80 := fact("service/shop/web", "LoadBalancer 80/TCP from 0.0.0.0/0", checks.Critical)

	start := clk.Now()
	first := trackRun(t, db, clk, item, facts(lb, np))
	if len(first.Findings) != 0 || first.Receipt.Status != checks.Pass {
		t.Fatalf("first run: %s with findings %v, want pass and none: it records the baseline", first.Receipt.Status, states(first))
	}
	if first.Receipt.Evidence["baseline"] == "" {
		t.Errorf("first run's evidence %v does not say the baseline was recorded", first.Receipt.Evidence)
	}

	steps := []struct {
		name       string
		inv        *checks.Inventory
		wantStatus checks.Status
		want       map[string]string
		accept     string // a resource glob accepted after the run
	}{
		{"unchanged", facts(np, lb), checks.Pass, map[string]string{}, ""},
		{"a new resource", facts(lb, np, admin), checks.Fail,
			map[string]string{"service/shop/admin beyond_baseline": "new high"}, ""},
		{"a resource widens", facts(lb, np, admin, web80), checks.Fail,
			map[string]string{"service/shop/admin beyond_baseline": "unchanged high", "service/shop/web beyond_baseline": "new critical"}, ""},
		{"an error run changes nothing", nil, checks.Error, map[string]string{}, ""},
		{"reverting resolves", facts(lb, np, web80), checks.Fail,
			map[string]string{"service/shop/web beyond_baseline": "unchanged critical", "service/shop/admin beyond_baseline": "resolved high"}, "service/shop/w*"},
		{"accepted is quiet", facts(lb, np, web80), checks.Pass, map[string]string{}, ""},
		{"a removal is told once", facts(lb, web80), checks.Pass,
			map[string]string{"service/shop/api left_baseline": "new info"}, ""},
		{"and then resolves", facts(lb, web80), checks.Pass,
			map[string]string{"service/shop/api left_baseline": "resolved info"}, ""},
		{"coming back is news", facts(lb, web80, np), checks.Fail,
			map[string]string{"service/shop/api beyond_baseline": "new medium"}, ""},
	}
	for _, s := range steps {
		res := trackRun(t, db, clk, item, s.inv)
		if res.Receipt.Status != s.wantStatus {
			t.Errorf("%s: status %s, want %s (%s)", s.name, res.Receipt.Status, s.wantStatus, res.Receipt.Error)
		}
		if got := states(res); !equalMaps(got, s.want) {
			t.Errorf("%s: findings %v, want %v", s.name, got, s.want)
		}
		if s.accept != "" {
			err := db.Update(t.Context(), func(tx *Tx) error {
				_, err := tx.AcceptBaseline(BaselineSelector{Item: "k8s.changes.exposure", Resource: s.accept}, "alice", "the port 80 redirect is wanted")
				return err
			})
			if err != nil {
				t.Fatalf("%s: accept: %v", s.name, err)
			}
			mustView(t, db, func(tx *Tx) error {
				open, err := tx.Findings(FindingFilter{Item: item, States: []FindingState{FindingNew, FindingUnchanged, FindingChanged}})
				for _, f := range open {
					if f.Resource == "service/shop/web" {
						t.Errorf("%s: accepted finding %s still %s", s.name, f.Resource, f.State)
					}
				}
				return err
			})
		}
	}

	want := []string{"recorded ", "added service/shop/admin", "widened service/shop/web", "reverted service/shop/admin",
		"accepted service/shop/web", "removed service/shop/api", "added service/shop/api"}
	if got := changeKinds(t, db, start); !slices.Equal(got, want) {
		t.Errorf("change log:\n got %q\nwant %q", got, want)
	}
	mustView(t, db, func(tx *Tx) error {
		log, err := tx.AuditLog(AuditFilter{})
		if err != nil {
			return err
		}
		last := log[len(log)-1]
		if last.Action != "baseline.accepted" || last.Actor != "alice" || last.Detail["reason"] == "" {
			t.Errorf("last audit record %+v, want baseline.accepted by alice with the reason", last)
		}
		bs, err := tx.Baselines(BaselineSelector{Item: item})
		if err != nil || len(bs) != 1 {
			t.Fatalf("baselines of %s: %v %v", item, bs, err)
		}
		var keysIn []string
		for _, f := range bs[0].Facts {
			keysIn = append(keysIn, f.Resource+" "+f.Key)
		}
		wantIn := []string{"service/shop/web LoadBalancer 443/TCP from 0.0.0.0/0", "service/shop/web LoadBalancer 80/TCP from 0.0.0.0/0"}
		if !slices.Equal(keysIn, wantIn) {
			t.Errorf("baseline holds %q, want %q", keysIn, wantIn)
		}
		if len(bs[0].Beyond) != 1 || bs[0].Beyond[0].Resource != "service/shop/api" {
			t.Errorf("beyond the baseline: %+v, want the NodePort that came back", bs[0].Beyond)
		}
		return nil
	})
}

func TestBaselineEmptyAndReset(t *testing.T) {
	db, clk := openTest(t, Options{})
	lb := fact("service/shop/web", "LoadBalancer 443/TCP from 0.0.0.0/0", checks.High)
	res := trackRun(t, db, clk, "audit", &checks.Inventory{Facts: []checks.Fact{lb}, FromEmpty: true})
	if got := states(res); !equalMaps(got, map[string]string{"service/shop/web beyond_baseline": "new high"}) {
		t.Fatalf("baseline=empty first run: findings %v, want everything present", got)
	}
	err := db.Update(t.Context(), func(tx *Tx) error {
		_, err := tx.ResetBaseline(BaselineSelector{Item: "audit"}, "bob", "new account reviewed")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	res = trackRun(t, db, clk, "audit", facts(lb))
	if got := states(res); !equalMaps(got, map[string]string{"service/shop/web beyond_baseline": "resolved high"}) {
		t.Errorf("after reset: findings %v, want the old one resolved and nothing new", got)
	}
	err = db.Update(t.Context(), func(tx *Tx) error {
		_, err := tx.AcceptBaseline(BaselineSelector{Item: "audit"}, "bob", "")
		return err
	})
	if !errors.Is(err, ErrInvalidBaseline) {
		t.Errorf("accept without a reason: %v, want ErrInvalidBaseline", err)
	}
	err = db.Update(t.Context(), func(tx *Tx) error {
		_, err := tx.AcceptBaseline(BaselineSelector{Item: "audit"}, "bob", "why not")
		return err
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("accept with nothing beyond the baseline: %v, want ErrNotFound", err)
	}
	err = db.Update(t.Context(), func(tx *Tx) error {
		_, err := tx.ResetBaseline(BaselineSelector{Item: "nothing"}, "bob", "")
		return err
	})
	if !errors.Is(err, ErrNoBaseline) {
		t.Errorf("reset of an item without a baseline: %v, want ErrNoBaseline", err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
