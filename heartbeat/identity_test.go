package heartbeat

import (
	"testing"

	"github.com/clankerd/clankerd/checks"
)

func TestItemIdentity(t *testing.T) {
	params := checks.NewParams(map[string]string{"namespace": "shop"})
	ask := NewItem(OriginAsk, Operator, "k8s.pods.unhealthy", checks.KindCheck, params, "are pods healthy?")
	again := NewItem(OriginAsk, Agent, "k8s.pods.unhealthy", checks.KindCheck, params, "any broken pods?")
	agent := NewItem(OriginAgent, Agent, "k8s.pods.unhealthy", checks.KindCheck, params, "")
	task := NewItem(OriginAgent, Agent, "k8s.deployment.scale", checks.KindTask, params, "")
	switch {
	case ask.Key != again.Key:
		t.Errorf("the same check asked twice (once by an agent) has two keys: %q, %q", ask.Key, again.Key)
	case ask.Key == agent.Key:
		t.Errorf("an agent's run shares the key of a question's: %q", ask.Key)
	case ask.Kind != ItemCheck || task.Kind != ItemTask:
		t.Errorf("kinds: %s, %s", ask.Kind, task.Kind)
	case ask.File != OriginAsk || ask.Text != "are pods healthy?":
		t.Errorf("question item: %+v", ask)
	case ask.Trust != Operator || again.Trust != Agent || agent.Trust != Agent:
		t.Errorf("trust: %s, %s, %s", ask.Trust, again.Trust, agent.Trust)
	}

	q := Item{Key: questionKey("/hb.md", "Are  pods OK?"), Kind: ItemQuestion, File: "hb.md", Line: 3, Text: "Are pods OK?"}
	if q.Key != questionKey("/hb.md", "are pods ok?") {
		t.Error("a question's key depends on case or spacing")
	}
	r1, r2 := q.RoutedTo("k8s.pods.unhealthy", params), q.RoutedTo("k8s.pods.restarting", params)
	if r1.Key == r2.Key || r1.Line != 3 || !r1.Routed || r1.Kind != ItemCheck {
		t.Errorf("routed items: %+v %+v", r1, r2)
	}

	for _, key := range []string{ask.Key, r1.Key, "0123456789abcdef"} {
		it := Item{Key: key}
		if got := OwnerKey(it.FixKey("fp1")); got != key {
			t.Errorf("OwnerKey(FixKey(%q)) = %q", key, got)
		}
		if got := OwnerKey(key); got != key {
			t.Errorf("OwnerKey(%q) = %q", key, got)
		}
	}
}
