//go:build !clankerd_nokube

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/clankerd/clankerd/internal/testenv/kubetest"
	"github.com/clankerd/clankerd/internal/testenv/testnet"
)

// teamNamespace holds the ServiceAccounts the team tests act as.
const teamNamespace = "team"

// teamUser makes a ServiceAccount bound cluster-wide to the contrib ClusterRole role
// ("" none) and writes a kubeconfig whose user is its TokenRequest token; it returns
// the kubeconfig's path and the account's Kubernetes user name.
func teamUser(t *testing.T, kenv *kubetest.Env, name, role string) (kubeconfig, user string) {
	t.Helper()
	ctx := context.Background()
	core, rbac := kenv.Client.CoreV1(), kenv.Client.RbacV1()
	if _, err := core.ServiceAccounts(teamNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if role != "" {
		if _, err := rbac.ClusterRoles().Get(ctx, role, metav1.GetOptions{}); err != nil {
			if _, err := rbac.ClusterRoles().Create(ctx, kubetest.ContribClusterRole(t, role), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-" + role},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: teamNamespace}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := core.ServiceAccounts(teamNamespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s: %v", name, err)
	}
	return userKubeconfig(t, kenv, name, tok.Status.Token), "system:serviceaccount:" + teamNamespace + ":" + name
}

// userKubeconfig is the admin kubeconfig with its user's credentials replaced by token.
func userKubeconfig(t *testing.T, kenv *kubetest.Env, name, token string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(kenv.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{"u": {Token: token}}
	for _, c := range cfg.Contexts {
		c.AuthInfo = "u"
	}
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// teamServer is a daemon serving the team API.
type teamServer struct {
	url, ca, state string
	daemon         *daemonProc
}

// startTeamServer starts `clankerd run --listen` on a loopback port, reviewing with
// the admin kubeconfig, and waits for its /healthz.
func startTeamServer(t *testing.T, kenv *kubetest.Env, state, hb string) *teamServer {
	t.Helper()
	certFile, keyFile := testnet.WriteServerCert(t, t.TempDir(), "clankerd")
	addr := testnet.ClosedPort(t)
	d := startDaemon(t, state, "--heartbeat", hb, "--listen", addr, "--tls-cert", certFile, "--tls-key", keyFile, "--api-kubeconfig", kenv.Kubeconfig)
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 2 * time.Second}
	url := "https://" + addr
	waitFor(t, 30*time.Second, "the team API's /healthz", func() bool {
		resp, err := hc.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return &teamServer{url: url, ca: certFile, state: state, daemon: d}
}

// as runs the CLI against the team server with kubeconfig's credentials, in a state
// directory of its own (nothing local is read).
func (s *teamServer) as(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	env := []string{"KUBECONFIG=" + kubeconfig, "CLANKERD_SERVER=" + s.url}
	return cliEnv(t, env, t.TempDir(), append([]string{"--server-ca", s.ca}, args...)...)
}

// planState is the state of plan id as the server's own state directory has it.
func planState(t *testing.T, state, id string) string {
	t.Helper()
	var p struct{ State string }
	jsonOut(t, state, 0, &p, "plan", "show", id)
	return p.State
}

// TestTeamAPIEndToEnd: through the built binary, against the real apiserver, with
// three ServiceAccounts bound to the shipped ClusterRoles: the viewer reads but its
// approval is refused (403) and the plan stays pending; the proposer proposes but
// cannot approve; the approver's approval is applied and audited under its user name
// and groups; a bad token is refused (401), and with the apiserver down nothing is
// allowed (503).
func TestTeamAPIEndToEnd(t *testing.T) {
	kenv := startKube(t)
	if _, err := kenv.Client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: teamNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	viewer, _ := teamUser(t, kenv, "viewer", "clankerd-viewer")
	proposer, proposerName := teamUser(t, kenv, "proposer", "clankerd-proposer")
	approver, approverName := teamUser(t, kenv, "approver", "clankerd-approver")
	lateApprover, _ := teamUser(t, kenv, "late-approver", "clankerd-approver")

	state := t.TempDir()
	hb, target := fileTask(t, "Daily at 03:00", "v2")
	id := queuePlan(t, state, hb)
	srv := startTeamServer(t, kenv, state, hb)

	// The viewer reads, and cannot approve.
	if r := srv.as(t, viewer, "findings", "-o", "json"); r.code != 0 {
		t.Errorf("viewer findings: %+v", r)
	}
	if r := srv.as(t, viewer, "plans", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Errorf("viewer plans: %+v", r)
	}
	r := srv.as(t, viewer, "approve", id, "--yes")
	if r.code != exitRefused || !strings.Contains(r.stderr, "may not approve plans") || !strings.Contains(r.stderr, "clankerd.dev") {
		t.Errorf("viewer approve: %+v, want a 403 naming approve on plans", r)
	}
	if got := planState(t, state, id); got != "pending" {
		t.Errorf("after the viewer's approve the plan is %s, want pending", got)
	}

	// The proposer proposes, and cannot approve.
	question, proposed := makerQuestion(t, "v3")
	r = srv.as(t, proposer, "ask", question, "--maker", "-o", "json")
	var ans struct {
		Plan *struct{ ID string } `json:"plan"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ans) != nil || ans.Plan == nil {
		t.Fatalf("proposer ask --maker: %+v", r)
	}
	if r := srv.as(t, proposer, "approve", ans.Plan.ID, "--yes"); r.code == 0 || !strings.Contains(r.stderr, proposerName+" may not approve plans") {
		t.Errorf("proposer approve: %+v", r)
	}
	if r := srv.as(t, viewer, "ask", question, "--maker", "-o", "json"); r.code == 0 || !strings.Contains(r.stderr, "may not create plans") {
		t.Errorf("viewer proposes: %+v", r)
	}

	// The approver approves: applied, and audited as the ServiceAccount with its groups.
	if r := srv.as(t, approver, "approve", id, "--yes"); r.code != 0 || !strings.Contains(r.stdout, "applied") {
		t.Fatalf("approver approve: %+v", r)
	}
	if data, _ := os.ReadFile(target); string(data) != "v2" {
		t.Errorf("target = %q after the approval, want v2", data)
	}
	var audit struct {
		Audit []struct {
			Action, Subject, Actor string
			Groups                 []string
		} `json:"audit"`
	}
	jsonOut(t, state, 0, &audit, "audit", "--limit", "0")
	var approved, created bool
	for _, a := range audit.Audit {
		switch {
		case a.Subject == id && a.Action == "plan.approved":
			approved = true
			if a.Actor != approverName || !slices.Contains(a.Groups, "system:serviceaccounts:"+teamNamespace) || !slices.Contains(a.Groups, "system:authenticated") {
				t.Errorf("approval audited as %q %q, want %s with its groups", a.Actor, a.Groups, approverName)
			}
		case a.Subject == ans.Plan.ID && a.Action == "plan.created":
			created = true
			if !strings.Contains(a.Actor, proposerName) {
				t.Errorf("proposal audited as %q, want by %s", a.Actor, proposerName)
			}
		}
	}
	if !approved || !created {
		t.Errorf("audit lacks the approval (%v) or the proposal (%v): %+v", approved, created, audit)
	}
	if data, _ := os.ReadFile(proposed); string(data) != "v1" {
		t.Errorf("the proposed plan changed its target: %q", data)
	}

	// A token the cluster does not know.
	if r := srv.as(t, userKubeconfig(t, kenv, "forged", "not-a-token"), "plans"); r.code == 0 || !strings.Contains(r.stderr, "not authenticated") {
		t.Errorf("bad token: %+v, want 401", r)
	}

	teamMCP(t, kenv, state, approver, viewer)

	// The apiserver down: a review cannot be made, so nothing is allowed, even to an
	// approver (whose token and decision are not cached yet).
	kenv.Stop()
	if r := srv.as(t, lateApprover, "approve", ans.Plan.ID, "--yes"); r.code == 0 || !strings.Contains(r.stderr, "could not review") {
		t.Errorf("approve with the apiserver down: %+v, want 503", r)
	}
	if got := planState(t, state, ans.Plan.ID); got != "pending" {
		t.Errorf("after an approve with the apiserver down the plan is %s, want pending", got)
	}
}

// TestTeamFlagsRefused: the team API is HTTPS only, on both ends, and a kubeconfig
// user that a TokenReview cannot check is refused before anything is sent.
func TestTeamFlagsRefused(t *testing.T) {
	state := t.TempDir()
	tokenless := filepath.Join(t.TempDir(), "kubeconfig")
	writeFile(t, tokenless, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {client-certificate-data: eA==, client-key-data: eA==}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n")
	withToken := filepath.Join(t.TempDir(), "kubeconfig")
	writeFile(t, withToken, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: abc}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n")
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		say  string
	}{
		{"listen without TLS", nil, []string{"run", "--listen", "127.0.0.1:0"}, exitBadInput, "HTTPS only"},
		{"TLS without listen", nil, []string{"run", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, exitBadInput, "add --listen"},
		{"plain http server", []string{"KUBECONFIG=" + withToken}, []string{"--server", "http://127.0.0.1:1", "plans"}, exitBadInput, "only https:// is accepted"},
		{"mcp with Kubernetes tokens over stdio", nil, []string{"mcp", "--auth", "kubernetes"}, exitBadInput, "is for --transport http"},
		{"mcp with Kubernetes tokens without TLS", nil, []string{"mcp", "--transport", "http", "--auth", "kubernetes", "--listen", "127.0.0.1:0"}, exitBadInput, "HTTPS only"},
		{"client certificate only", []string{"KUBECONFIG=" + tokenless}, []string{"--server", "https://127.0.0.1:1", "plans"}, exitBadInput, "client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cliEnv(t, tt.env, state, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.say) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", r.code, r.stderr, tt.code, tt.say)
			}
		})
	}
}

// teamMCP: `clankerd mcp --auth kubernetes` beside the team server serves MCP over
// HTTPS to Kubernetes identities: the approver's token connects, and even it has no
// tool that decides; the viewer cannot propose.
func teamMCP(t *testing.T, kenv *kubetest.Env, state, approver, viewer string) {
	t.Helper()
	certFile, keyFile := testnet.WriteServerCert(t, t.TempDir(), "mcp")
	addr := testnet.ClosedPort(t)
	ctx, cancel := context.WithCancel(t.Context())
	var stderr syncBuffer
	cmd := exec.CommandContext(ctx, binary, "--state-dir", state, "mcp", "--transport", "http", "--auth", "kubernetes", "--listen", addr,
		"--tls-cert", certFile, "--tls-key", keyFile, "--api-kubeconfig", kenv.Kubeconfig)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("mcp stderr:\n%s", stderr.String())
		}
	}()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tlsTransport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	url := "https://" + addr + "/mcp"
	waitFor(t, 30*time.Second, "the team MCP server", func() bool {
		resp, err := (&http.Client{Transport: tlsTransport}).Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusUnauthorized
	})
	session := func(kubeconfig string) *mcp.ClientSession {
		t.Helper()
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Transport: bearer{token: cfg.BearerToken, next: tlsTransport}}
		s, err := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "1"}, nil).Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc}, nil)
		if err != nil {
			t.Fatalf("connecting to the team MCP server: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := session(approver)
	tools, err := a.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools.Tools {
		if strings.Contains(tool.Name, "approve") || strings.Contains(tool.Name, "reject") {
			t.Errorf("the approver's MCP session has a tool that decides: %s", tool.Name)
		}
	}
	if res, err := a.CallTool(t.Context(), &mcp.CallToolParams{Name: "clankerd_plans", Arguments: map[string]any{}}); err != nil || res.IsError {
		t.Errorf("approver's clankerd_plans: %v %+v", err, res)
	}
	v := session(viewer)
	if _, err := v.CallTool(t.Context(), &mcp.CallToolParams{Name: "clankerd_propose_plan", Arguments: map[string]any{"task": "test.file.set", "params": map[string]string{"path": "/nonexistent", "content": "x"}}}); err == nil || !strings.Contains(err.Error(), "may not create plans") {
		t.Errorf("viewer's clankerd_propose_plan: %v, want a refusal", err)
	}
}

// TestTeamDeploymentRunsTheCLI: the Deployment of contrib/kubernetes/team starts
// `clankerd run` with flags this CLI accepts, serving the team API over HTTPS.
func TestTeamDeploymentRunsTheCLI(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "contrib", "kubernetes", "team", "30-deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(data, &d); err != nil {
		t.Fatal(err)
	}
	argv := d.Spec.Template.Spec.Containers[0].Args
	cmd, rest, err := (&cmdline{stdout: &strings.Builder{}, stderr: &strings.Builder{}}).rootCommand().Find(argv)
	if err != nil || cmd.Name() != "run" {
		t.Fatalf("%q: %v, runs %q; want the daemon", argv, err, cmd.Name())
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("%q: flags do not parse: %v", argv, err)
	}
	for _, flag := range []string{"listen", "tls-cert", "tls-key"} {
		if f := cmd.Flags().Lookup(flag); f == nil || f.Value.String() == "" {
			t.Errorf("the Deployment does not set --%s", flag)
		}
	}
}
