package checks

import (
	"slices"
	"testing"
)

func TestNewQuestion(t *testing.T) {
	q := NewQuestion("Scale shop/api to 5! Is db.internal:5432 up? (10.0.0.0/8, $50, 20%)")
	want := []string{"scale", "shop/api", "to", "5", "is", "db.internal:5432", "up", "10.0.0.0/8", "$50", "20%"}
	if !slices.Equal(q.Words, want) || q.Lower != "scale shop/api to 5! is db.internal:5432 up? (10.0.0.0/8, $50, 20%)" {
		t.Errorf("words %q, lower %q", q.Words, q.Lower)
	}
}

func TestQuestionWords(t *testing.T) {
	for _, tc := range []struct {
		question, got, want string
	}{
		{"cordon the node worker-3", NewQuestion("cordon the node worker-3").After([]string{"cordon"}, "node"), "worker-3"},
		{"scale it to 5", NewQuestion("scale it to 5").After([]string{"scale"}), ""},
		{"scale", NewQuestion("scale").After([]string{"scale"}), ""},
		{"restart, then restart api", NewQuestion("restart, then restart api").After([]string{"restart"}), "then"},
		{"failed jobs in Staging", NewQuestion("failed jobs in Staging").Name([]string{"prod-eu", "STAGING"}), "STAGING"},
		{"failed jobs in staging", NewQuestion("failed jobs in staging").Name(nil), ""},
		{"production pods", NewQuestion("production pods").Production([]string{"dev", "Prod-EU"}), "Prod-EU"},
		{"prod pods, two look like it", NewQuestion("prod pods").Production([]string{"prod-eu", "prod-us"}), ""},
		{"pods, production unsaid", NewQuestion("pods").Production([]string{"prod-eu"}), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.question, tc.got, tc.want)
		}
	}
	if q := NewQuestion("is it open to the world?"); !q.Mentions("public", "world") || q.Mentions("internet") {
		t.Errorf("Mentions of %q", q.Words)
	}
}

// TestExtraction: the first non-empty value of a parameter the spec declares is kept.
func TestExtraction(t *testing.T) {
	e := NewExtraction(Spec{ID: "a.b", Params: []ParamSpec{{Name: "namespace"}, {Name: "replicas", Type: Int}}})
	e.Set("namespace", "", "nothing")
	e.Set("namespace", "shop", "the question")
	e.Set("namespace", "payments", "a namespace that exists")
	e.Set("profile", "prod", "an undeclared parameter")
	e.Set("timeout", "5m", "a common parameter")
	e.Set("replicas", "5", `"to 5"`)
	var got []string
	for _, p := range e.Proposals() {
		got = append(got, p.String())
	}
	want := []string{"namespace=shop from the question", "timeout=5m from a common parameter", `replicas=5 from "to 5"`}
	if !slices.Equal(got, want) || !e.Declares("replicas") || e.Declares("profile") || e.Value("namespace") != "shop" || e.Value("profile") != "" {
		t.Errorf("proposals %q", got)
	}
}

// TestQuestionKeepsURLsWhole: a URL is one word as written, so a probe gets the URL
// that was asked about, and its userinfo stays together for redaction.
func TestQuestionKeepsURLsWhole(t *testing.T) {
	q := NewQuestion("Is https://Admin:pw@api.example.com/Health?api_key=k1&x=2 up?")
	want := []string{"is", "https://Admin:pw@api.example.com/Health?api_key=k1&x=2", "up"}
	if !slices.Equal(q.Words, want) {
		t.Errorf("words = %q, want %q", q.Words, want)
	}
}
