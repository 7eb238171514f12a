package view

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/ask"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// planted is what every text of the records below holds: an AWS access key id and a
// terminal escape sequence.
const (
	secret  = "AKIAIOSFODNN7EXAMPLE"
	escape  = "\x1b[2J"
	planted = "seen " + secret + " " + escape + " end"
)

// fill sets every exported string of v (struct fields, map values, slice elements,
// however deep) to planted, so that a field added to a record later is covered too.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(planted)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				fill(f)
			}
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem())
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return
		}
		m := reflect.MakeMap(v.Type())
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e)
		m.SetMapIndex(reflect.ValueOf("note").Convert(v.Type().Key()), e)
		v.Set(m)
	}
}

func filled[T any]() T {
	var v T
	fill(reflect.ValueOf(&v).Elem())
	return v
}

// TestEveryOutputIsCleaned builds every output type from records whose every text is
// planted, and requires that no output, in JSON or as text, shows the secret or the
// escape sequence, and that the redacted form shows where the text was.
func TestEveryOutputIsCleaned(t *testing.T) {
	finding := filled[store.FindingRecord]()
	plan := filled[tasks.PlanRecord]()
	outcome := runner.Outcome{Item: heartbeat.Item{ID: planted, Key: planted, File: planted, Kind: heartbeat.ItemQuestion, Text: planted},
		Receipt: filled[store.Receipt](), Findings: []store.RunFinding{{FindingRecord: finding}}, Plan: &plan, FixPlans: []tasks.PlanRecord{plan},
		Explanations: map[string]string{finding.Fingerprint: planted}, ExplainErrors: []string{planted}}
	answer := filled[ask.Answer]()
	answer.Outcomes, answer.Plan = []runner.Outcome{outcome}, &plan
	results := NewResults([]runner.Outcome{outcome})
	notice, _ := NewNotification(filled[store.OutboxEvent](), "")
	status := NewStatus(filled[control.Status]())
	ans := NewAnswer(answer)
	plans := Plans([]tasks.PlanRecord{plan})
	findings := Findings([]store.FindingRecord{finding}, func(string) string { return planted })
	receipts := Receipts([]store.Receipt{filled[store.Receipt]()})
	mutes := Mutes([]store.Mute{filled[store.Mute]()})
	audit := AuditRecords([]store.AuditRecord{filled[store.AuditRecord]()})

	texts := map[string]func(w *bytes.Buffer){
		"results":      func(w *bytes.Buffer) { results.WriteText(w) },
		"junit":        func(w *bytes.Buffer) { _ = results.WriteJUnit(w) },
		"answer":       func(w *bytes.Buffer) { ans.WriteText(w) },
		"findings":     func(w *bytes.Buffer) { _ = WriteFindings(w, findings) },
		"plans":        func(w *bytes.Buffer) { _ = WritePlans(w, plans) },
		"plan":         func(w *bytes.Buffer) { WritePlan(w, plans[0]) },
		"runs":         func(w *bytes.Buffer) { _ = WriteReceipts(w, receipts) },
		"status":       func(w *bytes.Buffer) { _ = status.WriteText(w, time.Now()) },
		"mutes":        func(w *bytes.Buffer) { _ = WriteMutes(w, mutes, time.Now()) },
		"audit":        func(w *bytes.Buffer) { _ = WriteAudit(w, audit) },
		"slack":        func(w *bytes.Buffer) { w.WriteString(SlackText(notice)) },
		"desktop":      func(w *bytes.Buffer) { w.WriteString(Headline(notice) + "\n" + PlainText(notice)) },
		"log":          func(w *bytes.Buffer) { NewLogger(w, 0).Info(planted, "resource", planted) },
		"redact error": func(w *bytes.Buffer) { w.WriteString(Redact(planted)) },
	}
	jsons := map[string]any{
		"results": results, "answer": ans, "findings": findings, "plans": plans, "runs": receipts,
		"status": status, "mutes": mutes, "audit": audit, "notification": notice,
	}
	for name, v := range jsons {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		texts[name+" json"] = func(w *bytes.Buffer) { w.Write(data) }
	}
	for name, write := range texts {
		var b bytes.Buffer
		write(&b)
		out := b.String()
		switch {
		case strings.Contains(out, secret):
			t.Errorf("%s shows the secret:\n%s", name, out)
		case strings.Contains(out, escape) || strings.Contains(out, `\u001b`):
			t.Errorf("%s shows the escape sequence: %q", name, out)
		case !strings.Contains(out, "[REDACTED]"):
			t.Errorf("%s shows no redacted text (was the field dropped?):\n%s", name, out)
		}
	}
	if finding.Summary != planted || plan.Observed["note"] != planted {
		t.Error("building the outputs changed the records they were built from")
	}
}
