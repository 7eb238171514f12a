//go:build !clankerd_nokube

package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/testenv/testnet"
	"github.com/clankerd/clankerd/tasks"
)

// kubeconfigToken is the bearer token of the kubeconfig teamUser wrote.
func kubeconfigToken(t *testing.T, path string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.AuthInfos["u"].Token
}

// flapper is a TCP port that is open and closed in turn, so a `tcp.connect` item on
// it keeps making news (a new finding, then its resolution) for the notifications.
type flapper struct {
	addr string
	stop chan struct{}
	done chan struct{}
}

func startFlapper(t *testing.T, every time.Duration) *flapper {
	t.Helper()
	f := &flapper{addr: closedPort(t), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		var ln net.Listener
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-f.stop:
				if ln != nil {
					ln.Close()
				}
				return
			case <-tick.C:
			}
			if ln != nil {
				ln.Close()
				ln = nil
				continue
			}
			if l, err := net.Listen("tcp", f.addr); err == nil {
				ln = l
				go func() {
					for {
						c, err := l.Accept()
						if err != nil {
							return
						}
						c.Close()
					}
				}()
			}
		}
	}()
	t.Cleanup(func() { close(f.stop); <-f.done })
	return f
}

// TestTeamReplicasEndToEnd runs team mode as the deployment does: two `clankerd run`
// replicas on one PostgreSQL, electing a leader through a Lease on the real
// apiserver, sharing the plan-signing key, each serving the team API over HTTPS with
// TokenReview and SubjectAccessReview. Only the leader runs checks; 100 concurrent
// approvals through both replicas apply the plan once; after kill -9 of the leader
// the other takes over within the lease, no scheduled tick runs twice, no
// notification reaches the webhook twice, and a plan queued before the kill is
// approved through the restarted replica.
func TestTeamReplicasEndToEnd(t *testing.T) {
	kenv := startKube(t)
	pg := startPostgres(t)
	dsn := pg.NewDatabase(t)
	if _, err := kenv.Client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: teamNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	viewer, _ := teamUser(t, kenv, "viewer", "clankerd-viewer")
	approver, approverName := teamUser(t, kenv, "approver", "clankerd-approver")

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	// Every clankerd of this test, the replicas and the CLI that queues plans, signs
	// with the team's key.
	t.Setenv("CLANKERD_INTEGRITY_KEY", base64.StdEncoding.EncodeToString(key))
	hook := newHookReceiver(t, "s3cret")
	dir := t.TempDir()
	notifyCfg := filepath.Join(dir, "notify.yaml")
	writeFile(t, notifyCfg, fmt.Sprintf("delivery:\n  retry_initial: 100ms\n  retry_max: 300ms\ntargets:\n  - name: ops\n    type: webhook\n    url: %s/hook\n    secret_env: TEST_HOOK_SECRET\n", hook.URL))
	flap := startFlapper(t, 1500*time.Millisecond)
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 1 second\n- `tcp.connect` addr=%s timeout=500ms\n", flap.addr))
	env := []string{
		"KUBECONFIG=" + kenv.Kubeconfig, "POD_NAMESPACE=" + teamNamespace, "CLANKERD_STORE=" + dsn,
		"TEST_HOOK_SECRET=s3cret",
	}
	certFile, keyFile := testnet.WriteServerCert(t, t.TempDir(), "clankerd")
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)

	type replica struct {
		name, url string
		d         *daemonProc
	}
	start := func(name, addr string) *replica {
		d := startDaemonEnv(t, env, t.TempDir(), "--heartbeat", hb, "--notify-config", notifyCfg,
			"--leader-elect", "--leader-elect-via", "lease",
			"--listen", addr, "--tls-cert", certFile, "--tls-key", keyFile, "--api-kubeconfig", kenv.Kubeconfig)
		return &replica{name: name, url: "https://" + addr, d: d}
	}
	addrA, addrB := testnet.ClosedPort(t), testnet.ClosedPort(t)
	a, b := start("a", addrA), start("b", addrB)
	waitFor(t, 60*time.Second, "one replica leading", func() bool { return leads(a.d) || leads(b.d) })
	leader, other := a, b
	if !leads(a.d) {
		leader, other = b, a
	}

	reader := t.TempDir() // no daemon here: the CLI reads PostgreSQL itself
	runs := func() []storeReceipt { return storeRuns(t, reader, dsn) }
	waitFor(t, 30*time.Second, "the leader's runs", func() bool { return len(runs()) >= 3 })
	if leads(other.d) {
		t.Fatal("both replicas lead")
	}
	waitFor(t, 30*time.Second, "notifications from the leader", func() bool {
		accepted, _, _, _ := hook.state()
		return len(accepted) >= 2
	})

	// A plan, approved by 100 concurrent requests through both replicas: applied once.
	client := func(r *replica, kubeconfig string) *control.Client {
		rt := bearer{token: kubeconfigToken(t, kubeconfig), next: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, MaxConnsPerHost: 20}}
		c, err := control.DialAPI(t.Context(), r.url, rt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	hbTask, target := fileTask(t, "Daily at 03:00", "v2")
	id := queuePlan(t, reader, hbTask, "--store", dsn)
	plan, err := control.OpPlan.Do(t.Context(), client(other, viewer), id)
	if err != nil {
		t.Fatalf("the viewer reads the plan through %s: %v", other.name, err)
	}
	if _, err := control.OpApprove.Do(t.Context(), client(other, viewer), control.Decision{ID: id, Digest: plan.Digest}); err == nil || !strings.Contains(err.Error(), "may not approve plans") {
		t.Errorf("the viewer's approve: %v, want refused", err)
	}
	clients := []*control.Client{client(a, approver), client(b, approver)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	applied, notPending, other500 := 0, 0, []error{}
	for i := range 100 {
		wg.Go(func() {
			rec, err := control.OpApprove.Do(context.Background(), clients[i%2], control.Decision{ID: id, Digest: plan.Digest})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && rec.State == tasks.PlanApplied:
				applied++
			case err != nil && strings.Contains(err.Error(), "not pending"):
				notPending++
			default:
				other500 = append(other500, fmt.Errorf("%v (%s)", err, rec.State))
			}
		})
	}
	wg.Wait()
	if applied != 1 || notPending != 99 || len(other500) > 0 {
		t.Errorf("100 concurrent approvals: %d applied, %d not pending, others %v; want 1 and 99", applied, notPending, other500)
	}
	if data, _ := os.ReadFile(target); string(data) != "v2" {
		t.Errorf("target = %q, want v2", data)
	}
	var audit struct {
		Audit []struct{ Action, Subject, Actor string } `json:"audit"`
	}
	jsonOut(t, reader, 0, &audit, "--store", dsn, "audit", "--limit", "0")
	appliedRecords := 0
	for _, r := range audit.Audit {
		if r.Subject == id && r.Action == "plan.applied" {
			appliedRecords++
		}
		if r.Subject == id && r.Action == "plan.approved" && r.Actor != approverName {
			t.Errorf("approval audited as %q, want %s", r.Actor, approverName)
		}
	}
	if appliedRecords != 1 {
		t.Errorf("%d plan.applied records, want 1", appliedRecords)
	}

	// A second plan waits while the leader is killed.
	hbTask2, target2 := fileTask(t, "Daily at 04:00", "v3")
	id2 := queuePlan(t, reader, hbTask2, "--store", dsn)

	before, _, _, _ := hook.state()
	killed := time.Now()
	if err := leader.d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-leader.d.done
	waitFor(t, 40*time.Second, "the other replica to take over", func() bool { return leads(other.d) })
	took := time.Since(killed)
	t.Logf("the other replica leads %s after kill -9 of the leader", took.Round(100*time.Millisecond))
	if took > 25*time.Second {
		t.Errorf("the take-over took %s, more than the 15 s lease allows", took)
	}
	n := len(runs())
	waitFor(t, 30*time.Second, "the new leader's runs", func() bool { return len(runs()) >= n+3 })
	waitFor(t, 30*time.Second, "notifications from the new leader", func() bool {
		accepted, _, _, _ := hook.state()
		return len(accepted) >= len(before)+2
	})

	// The killed replica comes back as a standby; the plan queued before the kill is
	// approved through it.
	var restarted *replica
	if leader == a {
		restarted = start("a", addrA)
	} else {
		restarted = start("b", addrB)
	}
	var approved tasks.PlanRecord
	waitFor(t, 30*time.Second, "the restarted replica's API", func() bool {
		c, err := control.DialAPI(t.Context(), restarted.url, bearer{token: kubeconfigToken(t, approver), next: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}})
		if err != nil {
			return false
		}
		defer c.Close()
		p, err := control.OpPlan.Do(t.Context(), c, id2)
		if err != nil {
			return false
		}
		approved, err = control.OpApprove.Do(t.Context(), c, control.Decision{ID: id2, Digest: p.Digest})
		return err == nil || !errors.Is(err, control.ErrNoDaemon)
	})
	if approved.State != tasks.PlanApplied {
		t.Errorf("the plan queued before the kill: %s, want applied through the restarted replica", approved.State)
	}
	if data, _ := os.ReadFile(target2); string(data) != "v3" {
		t.Errorf("target2 = %q, want v3", data)
	}
	if leads(restarted.d) {
		t.Error("the restarted replica leads while the other holds the Lease")
	}

	restarted.d.stop(t, syscall.SIGTERM, 30*time.Second)
	other.d.stop(t, syscall.SIGTERM, 30*time.Second)

	eachTickOnce(t, runs())
	accepted, _, _, problems := hook.state()
	if len(problems) > 0 {
		t.Errorf("webhook problems: %v", problems)
	}
	repeats := 0
	for k, n := range accepted {
		if n > 1 {
			// Only a delivery in flight at the kill may come again, with its key.
			repeats++
			t.Logf("notification %s arrived %d times (in flight at the kill)", k, n)
		}
	}
	if repeats > 1 {
		t.Errorf("%d notifications arrived more than once, want at most the one in flight at the kill", repeats)
	}
	if r := cli(t, reader, "--store", dsn, "audit", "verify"); r.code != 0 {
		t.Errorf("audit verify: %+v", r)
	}
}
