package control

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/httpx"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/testenv/testnet"
	"github.com/clankerd/clankerd/tasks"
)

// okTask plans a change whose target never drifts, so approving applies it.
type okTask struct{}

func (okTask) Spec() checks.Spec { return checks.Spec{ID: "test.ok"} }
func (okTask) Plan(context.Context, checks.Params) (checks.Plan, error) {
	return checks.Plan{Target: "x/ok", Observed: map[string]string{"v": "1"}, Change: "v 1 → 2", Risk: checks.RiskLow}, nil
}
func (okTask) Apply(context.Context, checks.Plan) (checks.Applied, error) {
	return checks.Applied{Summary: "v is 2"}, nil
}

// fakeAuthn accepts the tokens it maps; "review-down" cannot be reviewed.
type fakeAuthn map[string]Caller

func (f fakeAuthn) Authenticate(_ context.Context, token string) (Caller, error) {
	if token == "review-down" {
		return Caller{}, errors.New("connection refused")
	}
	c, ok := f[token]
	if !ok {
		return Caller{}, ErrUnauthenticated
	}
	return c, nil
}

// fakeAuthz grants each user the accesses it lists ("approve plans"); user "broken"
// cannot be reviewed.
type fakeAuthz map[string][]string

func (f fakeAuthz) Authorize(_ context.Context, c Caller, a Access) (bool, error) {
	if c.User == "broken" {
		return false, errors.New("apiserver unavailable")
	}
	return slices.Contains(f[c.User], a.Verb+" "+a.Resource), nil
}

var (
	testAuthn = fakeAuthn{
		"t-viewer":   {User: "vera"},
		"t-proposer": {User: "pat"},
		"t-approver": {User: "alice", Groups: []string{"sre", "system:authenticated"}, UID: "u-1"},
		"t-broken":   {User: "broken"},
	}
	testAuthz = fakeAuthz{
		"vera":  {"list findings", "list plans", "get plans", "get status"},
		"pat":   {"list plans", "get plans", "create plans"},
		"alice": {"list plans", "get plans", "approve plans", "reject plans", "list audit"},
	}
)

// tokenTransport sends token as a bearer token ("" sends none).
type tokenTransport struct {
	token string
	base  http.RoundTripper
}

func (t tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if t.token != "" {
		r.Header.Set("Authorization", "Bearer "+t.token)
	}
	return t.base.RoundTrip(r)
}

// apiEnv is a team API on a loopback port over a fresh database.
type apiEnv struct {
	url   string
	local *Local
	pool  *x509.CertPool
}

func serveAPI(t *testing.T) *apiEnv {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := lookup{"test.drift": driftTask{}, "test.ok": okTask{}}
	local := &Local{DB: db, Tasks: &tasks.Service{Store: db, Tasks: reg, Key: []byte("test key")}}
	certFile, keyFile := testnet.WriteServerCert(t, dir, "clankerd")
	certs, err := httpx.LoadCertFiles(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&Server{Local: local}).ServeAPI(ctx, ln, certs.TLSConfig(), testAuthn, testAuthz, time.Second)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeAPI: %v", err)
		}
	})
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &apiEnv{url: "https://" + ln.Addr().String(), local: local, pool: pool}
}

// client is a Client of the API sending token.
func (e *apiEnv) client(t *testing.T, token string) *Client {
	t.Helper()
	rt := tokenTransport{token, &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.pool}}}
	c, err := DialAPI(t.Context(), e.url, rt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// queue queues a test.ok plan directly and returns it.
func (e *apiEnv) queue(t *testing.T, item string) tasks.PlanRecord {
	t.Helper()
	draft, err := (&tasks.Planner{Tasks: lookup{"test.ok": okTask{}}}).Draft(t.Context(), tasks.Request{Task: "test.ok", Item: item, Source: "HB.md:1"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := OpQueuePlan.Do(t.Context(), e.local, QueueRequest{Draft: draft, Actor: "scheduler"})
	if err != nil {
		t.Fatal(err)
	}
	return q.Plan
}

// TestAPIRefusals: a missing or refused token is 401, a review that fails is 503,
// an access RBAC does not grant (or an operation only the daemon performs) is 403
// naming the verb and resource, and a refused approval leaves the plan pending.
func TestAPIRefusals(t *testing.T) {
	e := serveAPI(t)
	p := e.queue(t, "item")
	approve := func(c *Client) error {
		_, err := OpApprove.Do(t.Context(), c, Decision{ID: p.ID, Digest: p.Digest})
		return err
	}
	status := func(c *Client) error { _, err := OpStatus.Do(t.Context(), c, None{}); return err }
	beginRun := func(c *Client) error {
		_, err := OpBeginRun.Do(t.Context(), c, store.Receipt{Item: "i", Check: "tcp.connect", Started: time.Now()})
		return err
	}
	tests := []struct {
		name  string
		token string
		call  func(*Client) error
		want  error
		say   string
	}{
		{"no token", "", status, ErrUnauthenticated, "send a bearer token"},
		{"unknown token", "t-nobody", status, ErrUnauthenticated, "not authenticated"},
		{"token review down", "review-down", status, ErrReviewUnavailable, "TokenReview"},
		{"viewer approves", "t-viewer", approve, ErrForbidden, "vera may not approve plans (API group clankerd.dev)"},
		{"proposer approves", "t-proposer", approve, ErrForbidden, "pat may not approve plans"},
		{"approver records a run", "t-approver", beginRun, ErrForbidden, "only the daemon records runs"},
		{"access review down", "t-broken", status, ErrReviewUnavailable, "SubjectAccessReview of get status.clankerd.dev for broken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(e.client(t, tt.token))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.say) {
				t.Errorf("error = %v, want %v saying %q", err, tt.want, tt.say)
			}
		})
	}
	got, err := OpPlan.Do(t.Context(), e.local, p.ID)
	if err != nil || got.State != tasks.PlanPending {
		t.Errorf("after refused approvals the plan is %s (%v), want pending", got.State, err)
	}
	// The statuses on the wire.
	for token, want := range map[string]int{"": 401, "t-nobody": 401, "review-down": 503, "t-viewer": 403, "t-broken": 503} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url+"/v1/approve", strings.NewReader(`{"id":"`+p.ID+`"}`))
		resp, err := e.client(t, token).http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("token %q: HTTP %d, want %d", token, resp.StatusCode, want)
		}
	}
}

// TestAPIAuditsTheCaller: what the API performs is audited under the authenticated
// user and groups, whatever the request claims as its actor.
func TestAPIAuditsTheCaller(t *testing.T) {
	e := serveAPI(t)
	ctx := t.Context()
	viewer, proposer, approver := e.client(t, "t-viewer"), e.client(t, "t-proposer"), e.client(t, "t-approver")
	if _, err := OpFindings.Do(ctx, viewer, store.FindingFilter{}); err != nil {
		t.Errorf("viewer lists findings: %v", err)
	}
	draft, err := (&tasks.Planner{Tasks: lookup{"test.ok": okTask{}}}).Draft(ctx, tasks.Request{Task: "test.ok", Item: "item", Source: "HB.md:1"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := OpQueuePlan.Do(ctx, proposer, QueueRequest{Draft: draft, Actor: "scheduler"})
	if err != nil || !q.Created {
		t.Fatalf("proposer queues: %+v %v", q, err)
	}
	applied, err := OpApprove.Do(ctx, approver, Decision{ID: q.Plan.ID, Digest: q.Plan.Digest, Actor: "mallory"})
	if err != nil || applied.State != tasks.PlanApplied || applied.DecidedBy != "alice" {
		t.Fatalf("approver approves: %s by %q, %v", applied.State, applied.DecidedBy, err)
	}
	recs, err := OpAudit.Do(ctx, approver, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var approved *store.AuditRecord
	for i, r := range recs {
		switch r.Action {
		case "plan.approved":
			approved = &recs[i]
		case "plan.created":
			if r.Actor != "scheduler (by pat)" || len(r.Groups) != 0 {
				t.Errorf("plan created by %q %q, want the claim qualified by the caller", r.Actor, r.Groups)
			}
		}
	}
	if approved == nil {
		t.Fatalf("no plan.approved record in %+v", recs)
	}
	if approved.Actor != "alice" || !slices.Equal(approved.Groups, []string{"sre", "system:authenticated"}) {
		t.Errorf("approval audited as %q %q, want alice with her groups", approved.Actor, approved.Groups)
	}
	if n, err := OpVerifyAudit.Do(ctx, e.local, AuditVerify{}); err != nil || n != len(recs) {
		t.Errorf("audit verify: %d %v", n, err)
	}
	if _, err := OpVerifyAudit.Do(WithCaller(ctx, Caller{User: "alice", Via: ViaAPI}), e.local, AuditVerify{Reanchor: true}); err == nil {
		t.Error("reanchored through the team API")
	}
}

// TestAPIHealthz answers probes without a token and without data.
func TestAPIHealthz(t *testing.T) {
	e := serveAPI(t)
	c := e.client(t, "")
	resp, err := c.http.Get(e.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: HTTP %d", resp.StatusCode)
	}
}

// TestDialAPIRefusesPlainHTTP: the token would cross the network in the clear.
func TestDialAPIRefusesPlainHTTP(t *testing.T) {
	if _, err := DialAPI(t.Context(), "http://127.0.0.1:1", http.DefaultTransport); err == nil || !strings.Contains(err.Error(), "only https://") {
		t.Errorf("DialAPI over http: %v", err)
	}
}

// TestAgentCannotDecide: an MCP caller cannot approve, reject, mute or accept, even
// with the RBAC to do so.
func TestAgentCannotDecide(t *testing.T) {
	e := serveAPI(t)
	p := e.queue(t, "item")
	ctx := WithCaller(t.Context(), Caller{User: "alice", Groups: []string{"sre"}, Via: ViaMCP})
	calls := map[string]func() error{
		"approve": func() error { _, err := OpApprove.Do(ctx, e.local, Decision{ID: p.ID, Digest: p.Digest}); return err },
		"reject":  func() error { _, err := OpReject.Do(ctx, e.local, Decision{ID: p.ID, Reason: "no"}); return err },
		"mute": func() error {
			_, err := OpMute.Do(ctx, e.local, store.Mute{Check: "tcp.connect", Reason: "x", ExpiresAt: time.Now().Add(time.Hour)})
			return err
		},
		"unmute":          func() error { _, err := OpUnmute.Do(ctx, e.local, Decision{ID: "m-1"}); return err },
		"baseline accept": func() error { _, err := OpAccept.Do(ctx, e.local, BaselineDecision{Reason: "x"}); return err },
		"baseline reset":  func() error { _, err := OpReset.Do(ctx, e.local, BaselineDecision{Reason: "x"}); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrAgentDecision) {
			t.Errorf("%s by an agent: %v, want ErrAgentDecision", name, err)
		}
	}
	if got, _ := OpPlan.Do(t.Context(), e.local, p.ID); got.State != tasks.PlanPending {
		t.Errorf("the plan is %s, want pending", got.State)
	}
}
