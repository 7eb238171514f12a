package route

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/checks/probe"
	awsprovider "github.com/clankerd/clankerd/providers/aws"
	githubprovider "github.com/clankerd/clankerd/providers/github"
	"github.com/clankerd/clankerd/providers/kube"
)

// catalog is the full catalog of this build.
func catalog(t testing.TB) *checks.Registry {
	t.Helper()
	r := checks.NewRegistry()
	for _, reg := range []func(*checks.Registry) error{probe.Register, kube.New(kube.Options{}).Register, awsprovider.New(awsprovider.Options{}).Register, githubprovider.New(githubprovider.Options{}).Register} {
		if err := reg(r); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// withNames gives a provider's extractor the names a test says exist, instead of
// those of the kubeconfig, the cluster and the AWS config files.
type withNames struct {
	ownExtractor
	names map[string][]string
}

// ownExtractor is a provider's extractor and what it says about its checks.
type ownExtractor interface {
	checks.Extractor
	Owner
}

func (w withNames) Names(context.Context) map[string][]string { return w.names }

// providers are this build's providers, knowing the names of the kinds given.
func providers(kubeNames, awsNames map[string][]string) []Provider {
	return []Provider{
		withNames{kube.New(kube.Options{}), kubeNames},
		withNames{awsprovider.New(awsprovider.Options{}), awsNames},
		// GitHub has no token in the routing table: its checks route by their words,
		// and category questions ("anything exposed?") leave them out.
		withNames{githubprovider.New(githubprovider.Options{}), nil},
	}
}

// testProviders know the names of the routing table: contexts prod-eu and staging,
// namespaces payments, shop and kube-system, the Deployments production/billing-worker
// (4 replicas), production/checkout-api (3) and queue in shop and payments, AWS
// profiles prod and dev.
func testProviders() []Provider {
	return providers(
		map[string][]string{"context": {"prod-eu", "staging"}, "namespace": {"payments", "shop", "kube-system"},
			"deployment": {"payments/queue", "production/billing-worker", "production/checkout-api", "shop/queue"},
			"replicas":   {"payments/queue=1", "production/billing-worker=4", "production/checkout-api=3", "shop/queue=2"}},
		map[string][]string{"profile": {"prod", "dev"}})
}

type question struct {
	line   int
	text   string
	routes []string
	params map[string]string
	// miss marks a question the rules are known to route wrongly ("? " before it):
	// it counts in precision and recall, and fails nothing.
	miss bool
	// heldOut marks the questions after the "# held-out" line: written after the
	// rules were tuned on the others.
	heldOut bool
}

func readQuestions(t testing.TB) []question {
	t.Helper()
	f, err := os.Open("testdata/questions.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []question
	heldOut := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		heldOut = heldOut || strings.HasPrefix(line, "# held-out")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "|")
		if len(parts) < 2 {
			t.Fatalf("questions.txt:%d: want QUESTION | ROUTES [| PARAMS]", n)
		}
		q := question{line: n, text: strings.TrimSpace(parts[0]), params: map[string]string{}, heldOut: heldOut}
		if rest, ok := strings.CutPrefix(q.text, "? "); ok {
			q.text, q.miss = rest, true
		}
		for _, r := range strings.Split(parts[1], ",") {
			if r = strings.TrimSpace(r); r != "-" {
				q.routes = append(q.routes, r)
			}
		}
		if len(parts) > 2 {
			for _, kv := range strings.Fields(parts[2]) {
				k, v, _ := strings.Cut(kv, "=")
				q.params[k] = v
			}
		}
		out = append(out, q)
	}
	return out
}

// minQuestions is how many questions the routing table holds at least.
const minQuestions = 150

// TestRoutingTable routes every question of testdata/questions.txt without a model and
// compares the checks and parameters. A question whose routes are "-" must not route.
func TestRoutingTable(t *testing.T) {
	r := New(catalog(t), testProviders()...)
	qs := readQuestions(t)
	if len(qs) < minQuestions {
		t.Fatalf("only %d questions in the routing table, want %d", len(qs), minQuestions)
	}
	for _, q := range qs {
		if problem := routeProblem(t, r, q); problem != "" && !q.miss {
			t.Errorf("questions.txt:%d %q %s", q.line, q.text, problem)
		} else if problem == "" && q.miss {
			t.Logf("questions.txt:%d %q now routes right: remove its \"? \"", q.line, q.text)
		}
	}
}

// routeProblem routes q and says what is wrong, "" when nothing is.
func routeProblem(t *testing.T, r *Router, q question) string {
	res := r.Route(t.Context(), q.text)
	got := routedChecks(res)
	want := slices.Sorted(slices.Values(q.routes))
	if len(want) == 0 {
		if res.Confident {
			return fmt.Sprintf("routed to %v, want no route", got)
		}
		return ""
	}
	if !res.Confident || !slices.Equal(got, want) {
		return fmt.Sprintf("routed to %v (confident %v, closest %v, ambiguous %v), want %v", got, res.Confident, res.Closest, res.Ambiguous, want)
	}
	for k, v := range q.params {
		if !slices.ContainsFunc(res.Routes, func(rt Route) bool { return rt.Params[k] == v }) {
			return fmt.Sprintf("params %v, want %s=%s", res.Routes[0].Params, k, v)
		}
	}
	// Every routed parameter binds.
	for _, rt := range res.Routes {
		spec, _, _ := r.catalog.Lookup(rt.Check)
		if _, err := spec.Bind(rt.Params, nil); err != nil {
			return fmt.Sprintf("%s params %v do not bind: %v", rt.Check, rt.Params, err)
		}
	}
	if _, kind, _ := r.catalog.Lookup(want[0]); res.Write != (kind == checks.KindTask) {
		return fmt.Sprintf("write = %v", res.Write)
	}
	return ""
}

// routedChecks are the checks a result routes to, sorted.
func routedChecks(res Result) []string {
	var got []string
	for _, rt := range res.Routes {
		got = append(got, rt.Check)
	}
	slices.Sort(got)
	return got
}

// The least precision and recall the whole routing table may measure;
// bench/README.md reports the figures themselves.
const (
	minPrecision = 0.95
	minRecall    = 0.90
)

// TestRoutingPrecisionRecall measures the rules over the routing table, all of it and
// the held-out part: precision is the share of routed checks that the table expects,
// recall the share of expected checks that were routed (a question that must not
// route counts one expected "no route"). Run with -v to see the figures for
// bench/README.md.
func TestRoutingPrecisionRecall(t *testing.T) {
	r := New(catalog(t), testProviders()...)
	qs := readQuestions(t)
	all := measure(t, r, qs)
	t.Logf("all: %s", all)
	t.Logf("held-out: %s", measure(t, r, slices.DeleteFunc(slices.Clone(qs), func(q question) bool { return !q.heldOut })))
	if all.precision() < minPrecision || all.recall() < minRecall {
		t.Errorf("precision %.3f, recall %.3f: want at least %.2f and %.2f", all.precision(), all.recall(), minPrecision, minRecall)
	}
}

// figures count what the rules routed over some questions.
type figures struct{ questions, routed, expected, right, exact int }

func (f figures) precision() float64 { return float64(f.right) / float64(max(f.routed, 1)) }
func (f figures) recall() float64    { return float64(f.right) / float64(max(f.expected, 1)) }

func (f figures) String() string {
	return fmt.Sprintf("%d questions: precision %.3f (%d of %d routed checks right), recall %.3f (%d of %d expected), %d questions exactly right (checks and parameters)",
		f.questions, f.precision(), f.right, f.routed, f.recall(), f.right, f.expected, f.exact)
}

// measure routes the questions and counts.
func measure(t *testing.T, r *Router, qs []question) figures {
	f := figures{questions: len(qs)}
	for _, q := range qs {
		got := routedChecks(r.Route(t.Context(), q.text))
		if len(q.routes) == 0 {
			f.expected++
			if len(got) == 0 {
				f.right++
			}
		}
		f.routed += len(got)
		f.expected += len(q.routes)
		for _, g := range got {
			if slices.Contains(q.routes, g) {
				f.right++
			}
		}
		if routeProblem(t, r, q) == "" {
			f.exact++
		}
	}
	return f
}

func TestUnroutable(t *testing.T) {
	r := New(catalog(t), providers(nil, nil)...)
	for _, q := range []string{"", "hello there", "what is the meaning of life?", "????"} {
		res := r.Route(t.Context(), q)
		if res.Confident || len(res.Routes) > 0 {
			t.Errorf("%q routed to %+v", q, res.Routes)
		}
		if err := res.Error(q); err == nil || !strings.Contains(err.Error(), "clankerd") {
			t.Errorf("%q: error %v does not say what to do", q, err)
		}
	}
}

func TestWriteMissingTarget(t *testing.T) {
	r := New(catalog(t), providers(nil, nil)...)
	res := r.Route(t.Context(), "scale it up to 5")
	if !res.Write || len(res.Routes) != 1 || len(res.Missing) == 0 {
		t.Errorf("scale without a target: %+v", res)
	}
}

func FuzzRoute(f *testing.F) {
	for _, s := range []string{"are all production pods healthy?", "scale a/b to 5", "$$$ 5 days", "in the  namespace", "\x00\xff", "to 99999999999999999999"} {
		f.Add(s)
	}
	r := New(catalog(f), testProviders()...)
	f.Fuzz(func(t *testing.T, q string) {
		res := r.Route(context.Background(), q)
		if len(res.Routes) > MaxRoutes {
			t.Errorf("%d routes", len(res.Routes))
		}
		if res.Confident != (len(res.Routes) > 0) {
			t.Errorf("confident %v with %d routes", res.Confident, len(res.Routes))
		}
	})
}

func BenchmarkRoute(b *testing.B) {
	r := New(catalog(b), testProviders()...)
	qs := readQuestions(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.Route(context.Background(), qs[i%len(qs)].text)
	}
}

// countingNames counts how often the router asks a provider what exists.
type countingNames struct {
	Provider
	n int
}

func (c *countingNames) Names(ctx context.Context) map[string][]string {
	c.n++
	return c.Provider.Names(ctx)
}

// TestNamesReadOncePerQuestion: a provider's vocabulary may cost an API call, so a
// question reads each once, change requests included; an unroutable one not at all.
func TestNamesReadOncePerQuestion(t *testing.T) {
	var counted []*countingNames
	var ps []Provider
	for _, p := range testProviders() {
		c := &countingNames{Provider: p}
		counted, ps = append(counted, c), append(ps, c)
	}
	r := New(catalog(t), ps...)
	for q, want := range map[string]int{"scale shop/api to 5": 1, "are all pods healthy?": 1, "what is the meaning of life?": 0} {
		for _, c := range counted {
			c.n = 0
		}
		r.Route(t.Context(), q)
		for i, c := range counted {
			if c.n != want {
				t.Errorf("%q read the vocabulary of provider %d %d times, want %d", q, i, c.n, want)
			}
		}
	}
}

// widgetProvider is a provider the router knows nothing about: it proposes a widget
// that exists, a second one that must lose, and a parameter its check lacks.
type widgetProvider struct{}

func (widgetProvider) Names(context.Context) map[string][]string {
	return map[string][]string{"widget": {"W1"}}
}

func (widgetProvider) Extract(q checks.Question, _ checks.Spec, names map[string][]string) []checks.Proposal {
	return []checks.Proposal{
		{Param: "widget", Value: q.Name(names["widget"]), From: "a widget that exists"},
		{Param: "widget", Value: "w2", From: "a guess"},
		{Param: "colour", Value: "red", From: "nowhere"},
	}
}

// TestProviderProposals: a new provider's check routes with its parameters without
// touching the router; the provider's first value wins, then the generic ones follow.
func TestProviderProposals(t *testing.T) {
	reg := checks.NewRegistry()
	widget := checks.Spec{ID: "widget.errors", Description: "widget errors", Keywords: []string{"widget"},
		Params: []checks.ParamSpec{{Name: "widget", Type: checks.String}, {Name: "threshold", Type: checks.Int}}}
	if err := reg.AddCheck(fakeCheck{widget}); err != nil {
		t.Fatal(err)
	}
	res := New(reg, widgetProvider{}).Route(t.Context(), "does widget w1 have more than 3 errors?")
	if len(res.Routes) != 1 {
		t.Fatalf("routes %+v", res)
	}
	rt := res.Routes[0]
	want := `matched "widget", "error"; widget=W1 from a widget that exists; threshold=3 from more than 3`
	if len(rt.Params) != 2 || rt.Params["widget"] != "W1" || rt.Params["threshold"] != "3" || rt.Why != want {
		t.Errorf("params %v, why %q, want %q", rt.Params, rt.Why, want)
	}
}

type fakeCheck struct{ spec checks.Spec }

func (f fakeCheck) Spec() checks.Spec { return f.spec }
func (fakeCheck) Run(context.Context, checks.Params) (checks.Result, error) {
	return checks.Result{}, nil
}

// TestTasksDeclareTheirVerbs: a question that starts with a verb a task declares is a
// change request, with no word of it known to the router.
func TestTasksDeclareTheirVerbs(t *testing.T) {
	reg := checks.NewRegistry()
	reboot := checks.Spec{ID: "widget.reboot", Description: "reboot a widget", Keywords: []string{"widget", "reboot"}, Verbs: []string{"reboot"},
		Params: []checks.ParamSpec{{Name: "widget", Type: checks.String, Required: true}}}
	if err := reg.AddTask(fakeTask{fakeCheck{reboot}}); err != nil {
		t.Fatal(err)
	}
	for q, write := range map[string]bool{"reboot widget w1": true, "please reboot widget w1": true, "did widget w1 reboot?": false} {
		if res := New(reg, widgetProvider{}).Route(t.Context(), q); res.Write != write {
			t.Errorf("%q: write = %v, want %v (%+v)", q, res.Write, write, res)
		}
	}
}

type fakeTask struct{ fakeCheck }

func (fakeTask) Plan(context.Context, checks.Params) (checks.Plan, error) { return checks.Plan{}, nil }
func (fakeTask) Apply(context.Context, checks.Plan) (checks.Applied, error) {
	return checks.Applied{}, nil
}

// TestAmbiguousDeployment: a Deployment named without its namespace that two
// namespaces have is asked back, listing both, instead of routing to another task.
func TestAmbiguousDeployment(t *testing.T) {
	r := New(catalog(t), testProviders()...)
	res := r.Route(t.Context(), "scale queue to 3")
	if res.Confident || len(res.Routes) > 0 {
		t.Fatalf("routed: %+v", res)
	}
	err := res.Error("scale queue to 3")
	if err == nil || !strings.Contains(err.Error(), "payments/queue, shop/queue") {
		t.Errorf("error %v does not list the candidates", err)
	}
}

// TestCategoriesOfConfiguredProviders: a category question runs the checks of every
// provider that names something that exists, and leaves out those of one with nothing
// configured (no AWS profile here).
func TestCategoriesOfConfiguredProviders(t *testing.T) {
	r := New(catalog(t), providers(map[string][]string{"context": {"prod-eu"}}, map[string][]string{"profile": nil})...)
	got := routedChecks(r.Route(t.Context(), "anything exposed?"))
	if !slices.Equal(got, []string{"k8s.exposure.public"}) {
		t.Errorf("routed to %v, want only the Kubernetes exposure check", got)
	}
	got = routedChecks(r.Route(t.Context(), "are we wasting money?"))
	if len(got) != 0 {
		t.Errorf("waste without AWS configured routed to %v", got)
	}
}
