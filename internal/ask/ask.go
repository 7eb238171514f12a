// Package ask answers a plain-language question with real checks: it routes the
// question (rules first, a model only when the rules are not confident), runs the
// checks it maps to and summarises their results. A change request becomes a pending
// plan, and only when the caller allows it; nothing here applies a change.
package ask

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/route"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// Errors callers map to exit codes.
var (
	// ErrUnroutable: no check matches the question and no model could pick one.
	ErrUnroutable = errors.New("question not routable")
	// ErrWriteRefused: the question asks for a change and the caller did not allow
	// plans.
	ErrWriteRefused = errors.New("change request refused")
	// ErrIncomplete: the question maps to a check or task but leaves out a required
	// parameter.
	ErrIncomplete = errors.New("question leaves out a required parameter")
)

// Catalog is the registry: the specs of checks and tasks by id.
type Catalog interface {
	Lookup(id string) (checks.Spec, checks.Kind, bool)
}

// ModelRouter picks checks with a model when the rules are not confident. Its routes
// are validated against the catalog before anything runs.
type ModelRouter interface {
	RouteQuestion(ctx context.Context, question string, deep bool) ([]route.Route, error)
}

// Service answers questions.
type Service struct {
	Router  *route.Router
	Catalog Catalog
	// Model is optional: without it, a question the rules cannot route is an
	// ErrUnroutable error listing the closest checks.
	Model ModelRouter
	// Runner runs the checks a question routes to and records them in its State, like
	// `clankerd check`; its Planner drafts the plans of change requests, queued as its
	// Actor.
	Runner *runner.Runner
}

// Request is one question.
type Request struct {
	Question string
	// Maker allows a change request to become a pending plan (never applied).
	Maker bool
	// Deep asks the escalation model when a model routes.
	Deep bool
	// Agent is set when an agent asked (an MCP client): the checks the question routes
	// to run with an agent's trust, held to the runner's agent policy. A question the
	// model routes runs with an agent's trust whoever asked: the model chose the checks
	// and their parameters.
	Agent bool
}

// Answer is what a question got.
type Answer struct {
	Question string        `json:"question"`
	RoutedBy string        `json:"routed_by"` // "rules" or "model"
	Routes   []route.Route `json:"routes"`
	// Outcomes of the checks run, in route order.
	Outcomes []runner.Outcome `json:"-"`
	// Plan is the pending plan a change request queued (with Maker); PlanCreated is
	// false when the same change was pending already.
	Plan        *tasks.PlanRecord `json:"plan,omitempty"`
	PlanCreated bool              `json:"-"`
	// Preview is the plan a change request would queue, drafted from live state and
	// queued nowhere (without Maker); Estimate is set when the question asked what the
	// change would cost.
	Preview  *tasks.Draft `json:"preview,omitempty"`
	Estimate bool         `json:"-"`
	// Changes are the change log of the change-tracking checks the question routed to
	// (every item of those checks, heartbeat items too), newest first, since the time
	// the question names (default ChangesWindow); ChangesSince is that time.
	Changes      []store.ChangeRecord `json:"changes,omitempty"`
	ChangesSince time.Time            `json:"changes_since,omitzero"`
	Answer       string               `json:"answer"`
}

// ChangesWindow is how far back an answer looks in the change log when the question
// names no time ("any new public endpoints?").
const ChangesWindow = 7 * 24 * time.Hour

// maxChanges bounds the change records an answer carries.
const maxChanges = 50

// Ask routes the question, then runs the checks it maps to (recording them like
// `clankerd check`), or queues a plan for a change request when allowed.
func (s *Service) Ask(ctx context.Context, req Request) (Answer, error) {
	ans := Answer{Question: req.Question, RoutedBy: "rules"}
	res := s.Router.Route(ctx, req.Question)
	if change, ok := costQuestion(req.Question); ok {
		// "Estimate the cost of scaling shop/api to 5": the change it names, previewed
		// (even with Maker), whether the rules read it as a change request themselves
		// or only the change it names routes.
		alt := res
		if !alt.Write {
			alt = s.routeChange(ctx, change)
		}
		if alt.Write {
			res, req.Maker, ans.Estimate = alt, false, true
		}
	}
	if !res.Confident {
		if s.Model == nil {
			return ans, fmt.Errorf("%w: %w", ErrUnroutable, res.Error(req.Question))
		}
		routes, err := s.Model.RouteQuestion(ctx, req.Question, req.Deep)
		if err != nil {
			return ans, fmt.Errorf("%w: the rules found no check for %q and the model could not route it: %w", ErrUnroutable, req.Question, err)
		}
		res = route.Result{Routes: routes, Confident: true}
		for _, r := range routes {
			if r.Kind == checks.KindTask.String() {
				res.Write = true
			}
		}
		ans.RoutedBy = "model"
	}
	ans.Routes = res.Routes
	trust := heartbeat.Operator
	if req.Agent || ans.RoutedBy == "model" {
		trust = heartbeat.Agent
	}
	items := make([]heartbeat.Item, 0, len(res.Routes))
	var bindErrs []error
	for _, rt := range res.Routes {
		spec, kind, ok := s.Catalog.Lookup(rt.Check)
		if !ok {
			return ans, fmt.Errorf("%w: %s is not a check of this build", ErrUnroutable, rt.Check)
		}
		params, err := spec.Bind(rt.Params, nil)
		if err != nil {
			bindErrs = append(bindErrs, fmt.Errorf("%s: %w", rt.Check, err))
			continue
		}
		items = append(items, heartbeat.NewItem(heartbeat.OriginAsk, trust, rt.Check, kind, params, req.Question))
	}
	if len(bindErrs) > 0 {
		return ans, fmt.Errorf("%w: %w; name it in the question (\"…db.internal:5432\", \"…namespace shop\") or use `clankerd check`", ErrIncomplete, errors.Join(bindErrs...))
	}
	if res.Write {
		return s.plan(ctx, req, ans, items[0])
	}
	ans.Outcomes = s.Runner.RunAll(ctx, items)
	ans.Answer = Summarize(ans.Outcomes)
	if err := s.addChanges(ctx, &ans, items); err != nil {
		return ans, err
	}
	return ans, nil
}

// addChanges puts the change log of the change-tracking checks among items into the
// answer: what the heartbeat's items recorded says what changed, where this
// question's own first run only records a baseline.
func (s *Service) addChanges(ctx context.Context, ans *Answer, items []heartbeat.Item) error {
	var tracked []string
	for _, it := range items {
		if spec, _, ok := s.Catalog.Lookup(it.ID); ok && spec.Tracks && !slices.Contains(tracked, it.ID) {
			tracked = append(tracked, it.ID)
		}
	}
	if len(tracked) == 0 {
		return nil
	}
	now := time.Now()
	since := changesSince(ans.Question, now)
	ans.ChangesSince = since
	for _, id := range tracked {
		cs, err := control.OpChanges.Do(ctx, s.Runner.State, store.ChangeFilter{Item: id, Since: since, Limit: maxChanges})
		if err != nil {
			return fmt.Errorf("reading the change log of %s: %w", id, err)
		}
		ans.Changes = append(ans.Changes, cs...)
	}
	slices.SortStableFunc(ans.Changes, func(a, b store.ChangeRecord) int { return b.Time.Compare(a.Time) })
	if len(ans.Changes) > maxChanges {
		ans.Changes = ans.Changes[:maxChanges]
	}
	ans.Answer += "\n" + changesLine(ans.Changes, since)
	return nil
}

// changesLine sums the change log up in a line of the answer.
func changesLine(cs []store.ChangeRecord, since time.Time) string {
	if len(cs) == 0 {
		return fmt.Sprintf("No change recorded since %s.", since.UTC().Format(time.RFC3339))
	}
	var parts []string
	for _, c := range cs {
		if len(parts) == 5 {
			parts = append(parts, fmt.Sprintf("and %d more (clankerd changes)", len(cs)-5))
			break
		}
		what := string(c.Kind)
		if c.Resource != "" {
			what += " " + flat(c.Resource)
		}
		if c.Severity != "" {
			what += " (" + string(c.Severity) + ")"
		}
		parts = append(parts, what)
	}
	return fmt.Sprintf("%d change(s) recorded since %s: %s.", len(cs), since.UTC().Format(time.RFC3339), strings.Join(parts, "; "))
}

// changesSince reads the time a question asks about: "since yesterday", "today",
// "this week", "in the last 3 days"; ChangesWindow when it names none.
func changesSince(q string, now time.Time) time.Time {
	q = strings.ToLower(q)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	if m := lastN.FindStringSubmatch(q); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour, "week": 7 * 24 * time.Hour}[m[2]]
		return now.Add(-time.Duration(n) * unit)
	}
	switch {
	case strings.Contains(q, "yesterday"):
		return day.AddDate(0, 0, -1)
	case strings.Contains(q, "today"):
		return day
	case strings.Contains(q, "last hour"):
		return now.Add(-time.Hour)
	case strings.Contains(q, "this week"), strings.Contains(q, "last week"):
		return now.Add(-7 * 24 * time.Hour)
	case strings.Contains(q, "this month"), strings.Contains(q, "last month"):
		return now.Add(-30 * 24 * time.Hour)
	}
	return now.Add(-ChangesWindow)
}

var lastN = regexp.MustCompile(`(?:last|past)\s+(\d+)\s*(minute|hour|day|week)s?`)

// plan queues the change as a pending plan, when the caller allows it; otherwise it
// shows the plan it would queue. An agent's change request is refused: it proposes
// plans with its own tool.
func (s *Service) plan(ctx context.Context, req Request, ans Answer, it heartbeat.Item) (Answer, error) {
	if !req.Maker && req.Agent {
		return ans, fmt.Errorf("%w: %q asks for a change (%s %s); clankerd makes changes only as plans a person approves: propose one with clankerd_propose_plan", ErrWriteRefused, req.Question, it.ID, it.Params.Identity())
	}
	if !req.Maker {
		draft, err := s.Runner.Preview(ctx, it)
		if err != nil {
			return ans, err
		}
		ans.Preview = &draft
		ans.Answer = Previewed(draft)
		return ans, nil
	}
	q, err := s.Runner.Propose(ctx, it)
	if err != nil {
		return ans, err
	}
	plan := q.Plan
	ans.Plan, ans.PlanCreated = &plan, q.Created
	ans.Answer = Queued(plan)
	return ans, nil
}

// Previewed says in a sentence what the change of draft d would be, and that nothing
// was queued.
func Previewed(d tasks.Draft) string {
	return fmt.Sprintf("preview: %s: %s (risk %s). Nothing was queued and nothing has changed; ask again with --maker to queue this plan", d.Target, d.Change, d.Risk)
}

// costQuestion takes the change out of a question about its cost: "estimate the cost
// of scaling shop/api to 5", "what would it cost to scale shop/api to 5?".
func costQuestion(q string) (change string, ok bool) {
	m := costPrefix.FindStringSubmatchIndex(strings.ToLower(q))
	if m == nil {
		return "", false
	}
	return strings.TrimRight(strings.TrimSpace(q[m[1]:]), "?"), true
}

var costPrefix = regexp.MustCompile(`^\s*(?:estimate|what(?:'s| is| would be| will be)?|how much (?:would|will|does)?)\s*(?:the\s+)?(?:(?:monthly\s+)?cost(?:\s+change)?\s+(?:of|to|for)|(?:would|will|does)?\s*it\s+cost\s+to)\s+`)

// routeChange routes the change a cost question names; a gerund at its start
// ("scaling", "stopping") is tried as the verb it comes from.
func (s *Service) routeChange(ctx context.Context, change string) route.Result {
	first, rest, _ := strings.Cut(change, " ")
	candidates := []string{change}
	if stem, ok := strings.CutSuffix(strings.ToLower(first), "ing"); ok && len(stem) > 1 {
		candidates = append(candidates, stem+"e", stem)
		if n := len(stem); n > 2 && stem[n-1] == stem[n-2] {
			candidates = append(candidates, stem[:n-1])
		}
		for i := 1; i < len(candidates); i++ {
			candidates[i] += " " + rest
		}
	}
	var res route.Result
	for _, c := range candidates {
		if res = s.Router.Route(ctx, c); res.Write {
			return res
		}
	}
	return res
}

// Queued says in a sentence that plan p waits for a person.
func Queued(p tasks.PlanRecord) string {
	return fmt.Sprintf("queued plan %s: %s: %s (risk %s). Nothing has changed; a person approves it with: clankerd approve %s", p.ID, p.Target, p.Change, p.Risk, p.ID)
}

// Summarize says in a few lines what the checks found.
func Summarize(outcomes []runner.Outcome) string {
	var lines []string
	failed, errored, skipped := 0, 0, 0
	for _, o := range outcomes {
		switch {
		case o.Err != nil || o.Receipt.Status == checks.Error:
			errored++
			msg := o.Receipt.Error
			if o.Err != nil {
				msg = o.Err.Error()
			}
			lines = append(lines, fmt.Sprintf("%s could not be evaluated: %s", o.Item.ID, oneLine(msg)))
		case o.Receipt.Status == checks.Fail:
			failed++
			fs := slices.Clone(o.Findings)
			sort.SliceStable(fs, func(i, j int) bool { return fs[i].Severity.Rank() > fs[j].Severity.Rank() })
			var open []string
			n := 0
			for _, f := range fs {
				if !f.State.Open() {
					continue
				}
				n++
				if len(open) < 3 {
					open = append(open, fmt.Sprintf("%s %s: %s", f.Severity, flat(f.Resource), flat(f.Summary)))
				}
			}
			more := ""
			if n > len(open) {
				more = fmt.Sprintf(" (and %d more)", n-len(open))
			}
			lines = append(lines, fmt.Sprintf("%s found %d problem(s): %s%s", o.Item.ID, n, strings.Join(open, "; "), more))
		case o.Receipt.Status == checks.Skipped:
			skipped++
			lines = append(lines, fmt.Sprintf("%s was skipped: %s", o.Item.ID, oneLine(o.Receipt.Error)))
		case strings.HasPrefix(o.Receipt.Evidence["baseline"], "recorded"):
			lines = append(lines, o.Item.ID+" recorded its baseline: "+oneLine(o.Receipt.Evidence["baseline"]))
		default:
			lines = append(lines, o.Item.ID+" found no problem")
		}
	}
	head := "No problems found."
	switch {
	case failed > 0:
		head = fmt.Sprintf("Problems found by %d of %d check(s).", failed, len(outcomes))
	case errored > 0:
		head = fmt.Sprintf("%d of %d check(s) could not be evaluated; no problem found by the others.", errored, len(outcomes))
	case skipped == len(outcomes):
		head = "Nothing could be checked here."
	case skipped > 0:
		head = fmt.Sprintf("No problems found (%d of %d check(s) skipped).", skipped, len(outcomes))
	}
	return head + "\n" + strings.Join(lines, "\n")
}

func oneLine(s string) string {
	s = flat(s)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// flat puts s on one line, so that text from a server cannot start a line of the
// answer; it is not cut short, so that a secret in it is whole when it is redacted.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }
