package view

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/approvals"
	"github.com/clankerd/clankerd/internal/ask"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/redact/redacttest"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/scan"
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
// however deep) to text, so that a field added to a record later is covered too.
func fill(v reflect.Value, text string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				fill(f, text)
			}
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), text)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), text)
		v.Set(s)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return
		}
		m := reflect.MakeMap(v.Type())
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, text)
		m.SetMapIndex(reflect.ValueOf("note").Convert(v.Type().Key()), e)
		v.Set(m)
	}
}

func filled[T any](text string) T {
	var v T
	fill(reflect.ValueOf(&v).Elem(), text)
	return v
}

// everyOutput builds every output type from records whose every text is text, and
// returns what each surface shows: the text forms, the JSON of each type, the
// notification renderings, a log line and an error shown through Redact.
func everyOutput(t *testing.T, text string) map[string]string {
	t.Helper()
	finding := filled[store.FindingRecord](text)
	plan := filled[tasks.PlanRecord](text)
	outcome := runner.Outcome{Item: heartbeat.Item{ID: text, Key: text, File: text, Kind: heartbeat.ItemQuestion, Text: text},
		Receipt: filled[store.Receipt](text), Findings: []store.RunFinding{{FindingRecord: finding}}, Plan: &plan, FixPlans: []tasks.PlanRecord{plan},
		Explanations: map[string]string{finding.Fingerprint: text}, ExplainErrors: []string{text}}
	answer := filled[ask.Answer](text)
	answer.Outcomes, answer.Plan = []runner.Outcome{outcome}, &plan
	results := NewResults([]runner.Outcome{outcome})
	specs := checks.NewRegistry()
	sarif := NewSARIF(results, specs, text)
	summary := NewScanSummary(results, specs, []scan.Left{{Check: text, Reason: text}})
	notice, _ := NewNotification(filled[store.OutboxEvent](text), "")
	status := NewStatus(filled[control.Status](text))
	ans := NewAnswer(answer)
	plans := Plans([]tasks.PlanRecord{plan})
	findings := Findings([]store.FindingRecord{finding}, func(string) string { return text })
	receipts := Receipts([]store.Receipt{filled[store.Receipt](text)})
	mutes := Mutes([]store.Mute{filled[store.Mute](text)})
	audit := AuditRecords([]store.AuditRecord{filled[store.AuditRecord](text)})
	rule := NewPolicyRule(text, filled[approvals.Rule](text), time.Now())
	if finding.Summary != text || plan.Observed["note"] != text {
		t.Error("building the outputs changed the records they were built from")
	}

	texts := map[string]func(w *bytes.Buffer){
		"results":      func(w *bytes.Buffer) { results.WriteText(w) },
		"junit":        func(w *bytes.Buffer) { _ = results.WriteJUnit(w) },
		"scan summary": func(w *bytes.Buffer) { summary.WriteText(w) },
		"answer":       func(w *bytes.Buffer) { ans.WriteText(w) },
		"findings":     func(w *bytes.Buffer) { _ = WriteFindings(w, findings) },
		"plans":        func(w *bytes.Buffer) { _ = WritePlans(w, plans) },
		"plan":         func(w *bytes.Buffer) { WritePlan(w, plans[0]) },
		"runs":         func(w *bytes.Buffer) { _ = WriteReceipts(w, receipts) },
		"status":       func(w *bytes.Buffer) { _ = status.WriteText(w, time.Now()) },
		"mutes":        func(w *bytes.Buffer) { _ = WriteMutes(w, mutes, time.Now()) },
		"audit":        func(w *bytes.Buffer) { _ = WriteAudit(w, audit) },
		"policy rule":  func(w *bytes.Buffer) { rule.WriteText(w) },
		"slack":        func(w *bytes.Buffer) { w.WriteString(SlackText(notice)) },
		"desktop":      func(w *bytes.Buffer) { w.WriteString(Headline(notice) + "\n" + PlainText(notice)) },
		"log":          func(w *bytes.Buffer) { NewLogger(w, 0).Info(text, "resource", text, "err", errors.New(text)) },
		"redact error": func(w *bytes.Buffer) { w.WriteString(Redact(text)) },
	}
	jsons := map[string]any{
		"results": results, "answer": ans, "findings": findings, "plans": plans, "runs": receipts,
		"status": status, "mutes": mutes, "audit": audit, "notification": notice, "policy rule": rule,
		"sarif": sarif,
	}
	for name, v := range jsons {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		texts[name+" json"] = func(w *bytes.Buffer) { w.Write(data) }
	}
	out := map[string]string{}
	for name, write := range texts {
		var b bytes.Buffer
		write(&b)
		out[name] = b.String()
	}
	return out
}

// TestEveryOutputIsCleaned builds every output from records whose every text is
// planted, and requires that no output, in JSON or as text, shows the secret or the
// escape sequence, and that the redacted and the escaped form show where the text
// was.
func TestEveryOutputIsCleaned(t *testing.T) {
	for name, out := range everyOutput(t, planted) {
		switch {
		case strings.Contains(out, secret):
			t.Errorf("%s shows the secret:\n%s", name, out)
		case strings.Contains(out, "\x1b") || strings.Contains(out, `\u001b`):
			t.Errorf("%s shows the escape character: %q", name, out)
		case !strings.Contains(out, "[REDACTED]"):
			t.Errorf("%s shows no redacted text (was the field dropped?):\n%s", name, out)
		case !strings.Contains(out, `\x1b[2J`) && !strings.Contains(out, `\\x1b[2J`):
			t.Errorf("%s does not show the escaped sequence: %q", name, out)
		}
	}
}

// TestCorpusThroughEveryOutput plants each secret shape of the corpus in every text of
// every output: no surface shows any of it.
func TestCorpusThroughEveryOutput(t *testing.T) {
	for _, c := range redacttest.Secrets() {
		t.Run(c.Name, func(t *testing.T) {
			for name, out := range everyOutput(t, c.Text) {
				if leaks := c.Leaks(out); leaks != nil {
					t.Errorf("secrets.txt:%d: %s shows %q:\n%.1500s", c.Line, name, leaks, out)
				}
			}
		})
	}
}
