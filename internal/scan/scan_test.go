package scan

import (
	"context"
	"strings"
	"testing"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/route"
)

type fakeCheck struct{ spec checks.Spec }

func (c fakeCheck) Spec() checks.Spec { return c.spec }
func (c fakeCheck) Run(context.Context, checks.Params) (checks.Result, error) {
	return checks.Result{}, nil
}

type fakeTask struct{ spec checks.Spec }

func (t fakeTask) Spec() checks.Spec { return t.spec }
func (fakeTask) Plan(context.Context, checks.Params) (checks.Plan, error) {
	return checks.Plan{}, nil
}

func (fakeTask) Apply(context.Context, checks.Plan) (checks.Applied, error) {
	return checks.Applied{}, nil
}

// prefix owns the checks whose id starts with it, like a provider.
type prefix string

func (p prefix) Owns(id string) bool { return strings.HasPrefix(id, string(p)) }

var (
	kubeParams = []checks.ParamSpec{{Name: "context", Type: checks.String}, {Name: "namespace", Type: checks.String}}
	awsParams  = []checks.ParamSpec{{Name: "profile", Type: checks.String}}
	ghParams   = []checks.ParamSpec{{Name: "api_url", Type: checks.URL}, {Name: "repos", Type: checks.List}, {Name: "owner", Type: checks.String}, {Name: "topic", Type: checks.String}}
)

func registry(t *testing.T) *checks.Registry {
	t.Helper()
	r := checks.NewRegistry()
	cs := []checks.Check{
		fakeCheck{checks.Spec{ID: "k8s.pods.unhealthy", Params: kubeParams}},
		fakeCheck{checks.Spec{ID: "k8s.nodes.notready", Params: kubeParams[:1]}},
		fakeCheck{checks.Spec{ID: "aws.s3.public", Params: awsParams}},
		fakeCheck{checks.Spec{ID: "gh.repos.visibility", Params: ghParams}},
		fakeCheck{checks.Spec{ID: "aws.cost.forecast", Params: append(awsParams, checks.ParamSpec{Name: "budget", Type: checks.Float, Required: true})}},
		fakeCheck{checks.Spec{ID: "http.status", Params: []checks.ParamSpec{{Name: "url", Type: checks.URL, Required: true}}}},
	}
	ts := []checks.Task{fakeTask{checks.Spec{ID: "k8s.deployment.scale", Params: kubeParams[:1]}}}
	if err := r.AddAll(cs, ts); err != nil {
		t.Fatal(err)
	}
	return r
}

func ids(items []heartbeat.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func TestItemsAreTheOwnedChecks(t *testing.T) {
	reg := registry(t)
	for _, tc := range []struct {
		name   string
		owners []route.Owner
		want   string
		left   string
	}{
		{"all", []route.Owner{prefix("k8s."), prefix("aws.")}, "aws.s3.public k8s.nodes.notready k8s.pods.unhealthy", "aws.cost.forecast"},
		{"kube", []route.Owner{prefix("k8s.")}, "k8s.nodes.notready k8s.pods.unhealthy", ""},
		{"aws", []route.Owner{prefix("aws.")}, "aws.s3.public", "aws.cost.forecast"},
		{"none", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Items(reg, tc.owners, Scope{})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(ids(plan.Items), " "); got != tc.want {
				t.Errorf("items = %s, want %s (no task, no probe)", got, tc.want)
			}
			var left []string
			for _, l := range plan.Left {
				left = append(left, l.Check)
				if !strings.Contains(l.Reason, "budget=") {
					t.Errorf("%s left out because %q, want the parameter it needs", l.Check, l.Reason)
				}
			}
			if got := strings.Join(left, " "); got != tc.left {
				t.Errorf("left out = %s, want %s", got, tc.left)
			}
			for _, it := range plan.Items {
				if it.File != heartbeat.OriginScan || it.Kind != heartbeat.ItemCheck || it.Fix != "" || it.Trust != heartbeat.Operator {
					t.Errorf("item %+v is not a scan's read-only operator check", it)
				}
			}
		})
	}
}

func TestScopeGoesOnlyToChecksThatTakeIt(t *testing.T) {
	plan, err := Items(registry(t), []route.Owner{prefix("k8s."), prefix("aws."), prefix("gh.")}, Scope{
		Context: "prod", Namespace: "shop", Profile: "audit",
		Owner: "acme", Repos: "acme/api,acme/web", Topic: "prod", APIURL: "https://ghe.example.com/api/v3/",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Items) != 4 {
		t.Fatalf("items = %v", ids(plan.Items))
	}
	want := map[string]string{
		"aws.s3.public":       "profile=audit",
		"gh.repos.visibility": "api_url=https://ghe.example.com/api/v3/ owner=acme repos=acme/api,acme/web topic=prod",
		"k8s.nodes.notready":  "context=prod",
		"k8s.pods.unhealthy":  "context=prod namespace=shop",
	}
	for _, it := range plan.Items {
		if got := it.Params.Identity(); got != want[it.ID] {
			t.Errorf("%s params = %q, want %q", it.ID, got, want[it.ID])
		}
	}
}

// A second scan of the same scope is the same items, so its findings continue the
// first one's history; another scope is other items.
func TestItemKeysAreStablePerScope(t *testing.T) {
	reg, owners := registry(t), []route.Owner{prefix("k8s.")}
	keys := func(s Scope) map[string]string {
		plan, err := Items(reg, owners, s)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, it := range plan.Items {
			out[it.ID] = it.Key
		}
		return out
	}
	first, again, other := keys(Scope{Namespace: "shop"}), keys(Scope{Namespace: "shop"}), keys(Scope{Namespace: "billing"})
	for id, k := range first {
		if again[id] != k {
			t.Errorf("%s: key %s, then %s for the same scope", id, k, again[id])
		}
	}
	if first["k8s.pods.unhealthy"] == other["k8s.pods.unhealthy"] {
		t.Error("two namespaces share one item key")
	}
	if first["k8s.nodes.notready"] != other["k8s.nodes.notready"] {
		t.Error("a namespace changed the key of a check that takes no namespace")
	}
}
