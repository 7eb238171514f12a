package probe

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/testnet"
)

// countingServer is a loopback HTTP server that counts the requests it gets.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// agentRun runs c as an agent's run under reach, returning its error.
func agentRun(t *testing.T, reach *checks.Reach, c checks.Check, raw map[string]string) (checks.Result, error) {
	t.Helper()
	return c.Run(checks.WithReach(t.Context(), reach), bind(t, c, raw))
}

// wantRefused requires err to be the policy's refusal of addr.
func wantRefused(t *testing.T, what string, err error, addr string) {
	t.Helper()
	var de *checks.DestinationError
	if !errors.As(err, &de) {
		t.Fatalf("%s: %v, want a refused destination", what, err)
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), checks.DestinationsSetting) {
		t.Errorf("%s: %q does not name %s and the setting", what, err, addr)
	}
}

// TestProbesUnderReach: an agent's probes are refused on loopback (an error, not a
// finding, and the server sees nothing), and reach it once the operator allows it.
func TestProbesUnderReach(t *testing.T) {
	srv, hits := countingServer(t, func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("SecretAccessKey=abc")) })
	host := srv.Listener.Addr().String()
	none := &checks.Reach{}
	loopback := &checks.Reach{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

	_, err := agentRun(t, none, &HTTPStatus{}, map[string]string{"url": srv.URL + "/"})
	wantRefused(t, "http.status", err, host)
	_, err = agentRun(t, none, &TCPConnect{}, map[string]string{"addr": host})
	wantRefused(t, "tcp.connect", err, host)
	_, err = agentRun(t, none, &TLSExpiry{}, map[string]string{"addr": host})
	wantRefused(t, "tls.expiry", err, host)
	if n := hits.Load(); n != 0 {
		t.Errorf("the server got %d requests from refused runs", n)
	}
	// The metadata address is refused before any packet leaves (no route needed).
	_, err = agentRun(t, none, &HTTPStatus{}, map[string]string{"url": "http://169.254.169.254/latest/meta-data/", "timeout": "2s"})
	wantRefused(t, "metadata", err, "169.254.169.254:80")

	if res, err := agentRun(t, loopback, &HTTPStatus{}, map[string]string{"url": srv.URL + "/"}); err != nil || len(res.Findings) != 0 {
		t.Errorf("allowed loopback: %+v %v", res, err)
	}
	if res, err := agentRun(t, loopback, &TCPConnect{}, map[string]string{"addr": host}); err != nil || len(res.Findings) != 0 {
		t.Errorf("allowed loopback tcp: %+v %v", res, err)
	}
	// Operator runs (no policy in the context) are not restricted.
	if res := run(t, &HTTPStatus{}, map[string]string{"url": srv.URL + "/"}); len(res.Findings) != 0 {
		t.Errorf("operator run: %+v", res)
	}
}

// TestRedirectUnderReach: the policy is enforced on every connection the HTTP client
// makes, so a redirect from an allowed destination to a refused one is refused. Tests
// can only serve on loopback, so the allowed destination is 127.0.0.1 and the refused
// one 127.0.0.2 (Linux routes all of 127/8 to the loopback interface).
func TestRedirectUnderReach(t *testing.T) {
	target, inner := testnet.SecondLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("SecretAccessKey=abc")) }))
	front, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/creds", http.StatusFound)
	})
	reach := &checks.Reach{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	_, err := agentRun(t, reach, &HTTPStatus{}, map[string]string{"url": front.URL + "/"})
	wantRefused(t, "redirect to 127.0.0.2", err, target.Listener.Addr().String())
	if n := inner.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}

// TestCAFile: every ca= file that cannot be used gives the same error, quickly, and
// never reads more than 1 MiB: a device, a FIFO, a directory, a missing file, a file
// too big, one that is not PEM.
func TestCAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "unreadable.pem")
	if err := os.WriteFile(unreadable, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/dev/zero", "/dev/null", fifo, dir, filepath.Join(dir, "missing.pem"), big, notPEM, unreadable} {
		start := time.Now()
		for _, c := range []checks.Check{&TLSExpiry{}, &HTTPStatus{}} {
			raw := map[string]string{"addr": "127.0.0.1:1", "ca": path}
			if _, isHTTP := c.(*HTTPStatus); isHTTP {
				raw = map[string]string{"url": "http://127.0.0.1:1/", "ca": path}
			}
			_, err := c.Run(t.Context(), bind(t, c, raw))
			if !errors.Is(err, errCAFile) {
				t.Errorf("%s ca=%s: %v, want the one ca error", c.Spec().ID, path, err)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("ca=%s took %s", path, d)
		}
	}
	if _, err := rootPool(newPKI(t).caFile); err != nil {
		t.Errorf("a real CA file: %v", err)
	}
}
