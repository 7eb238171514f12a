package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/testnet"
)

// bind binds raw params through the check's spec, as the heartbeat parser does.
func bind(t *testing.T, c checks.Check, raw map[string]string) checks.Params {
	t.Helper()
	p, err := c.Spec().Bind(raw, nil)
	if err != nil {
		t.Fatalf("binding %v: %v", raw, err)
	}
	return p
}

// run runs c and fails the test when it returns an error.
func run(t *testing.T, c checks.Check, raw map[string]string) checks.Result {
	t.Helper()
	res, err := c.Run(t.Context(), bind(t, c, raw))
	if err != nil {
		t.Fatalf("Run(%v) error: %v", raw, err)
	}
	return res
}

// one returns the only finding of res, checking its problem.
func one(t *testing.T, res checks.Result, problem string) checks.Finding {
	t.Helper()
	if len(res.Findings) != 1 {
		t.Fatalf("findings = %+v, want one %q", res.Findings, problem)
	}
	f := res.Findings[0]
	if f.Problem != problem {
		t.Fatalf("problem = %q (%s), want %q", f.Problem, f.Summary, problem)
	}
	if res.Status() != checks.Fail {
		t.Errorf("status = %s with a %s finding", res.Status(), f.Severity)
	}
	return f
}

func TestHTTPStatus(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("all systems go")) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 503) })
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/created", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(201) })
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n := r.PathValue("n")
		if n == "0" {
			w.Write([]byte("landed"))
			return
		}
		next := map[string]string{"3": "2", "2": "1", "1": "0"}[n]
		http.Redirect(w, r, "/hop/"+next, http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := &HTTPStatus{}

	passes := []map[string]string{
		{"url": srv.URL + "/ok"},
		{"url": srv.URL + "/ok", "expect": "200", "contains": "systems go"},
		{"url": srv.URL + "/created", "expect": "2xx"},
		{"url": srv.URL + "/created", "expect": "200-204"},
		{"url": srv.URL + "/missing", "expect": "404, 410"},
		{"url": srv.URL + "/hop/3", "expect": "200", "contains": "landed"},
		{"url": srv.URL + "/hop/1", "max_redirects": "0", "expect": "302"},
		{"url": srv.URL + "/ok", "method": "HEAD"},
	}
	for _, raw := range passes {
		if res := run(t, c, raw); len(res.Findings) != 0 || res.Status() != checks.Pass || res.Evidence["latency_ms"] == "" {
			t.Errorf("%v: %+v", raw, res)
		}
	}

	f := one(t, run(t, c, map[string]string{"url": srv.URL + "/fail", "expect": "200"}), "unexpected_status")
	if f.Severity != checks.High || f.Evidence["status"] != "503" || f.Evidence["expect"] != "200" || f.Resource != srv.URL+"/fail" {
		t.Errorf("503 finding = %+v", f)
	}
	f = one(t, run(t, c, map[string]string{"url": srv.URL + "/missing"}), "unexpected_status")
	if f.Severity != checks.Medium || f.Evidence["status"] != "404" {
		t.Errorf("404 finding = %+v", f)
	}
	f = one(t, run(t, c, map[string]string{"url": srv.URL + "/ok", "contains": "outage"}), "missing_text")
	if f.Evidence["contains"] != "outage" {
		t.Errorf("missing text finding = %+v", f)
	}
	one(t, run(t, c, map[string]string{"url": srv.URL + "/hop/3", "max_redirects": "2"}), "too_many_redirects")
	one(t, run(t, c, map[string]string{"url": srv.URL + "/loop"}), "too_many_redirects")
	f = one(t, run(t, c, map[string]string{"url": srv.URL + "/hop/1", "max_redirects": "0", "expect": "200"}), "unexpected_status")
	if f.Evidence["status"] != "302" {
		t.Errorf("redirect not checked itself: %+v", f)
	}

	if _, err := c.Run(t.Context(), bind(t, c, map[string]string{"url": srv.URL, "method": "HEAD", "contains": "x"})); err == nil {
		t.Error("contains with HEAD is not an error")
	}
}

func TestHTTPStatusUnreachable(t *testing.T) {
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); slow.Close() })
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	c := &HTTPStatus{}

	f := one(t, run(t, c, map[string]string{"url": slow.URL, "timeout": "200ms"}), "timeout")
	if f.Severity != checks.High || f.Evidence["timeout"] != "200ms" {
		t.Errorf("timeout finding = %+v", f)
	}
	one(t, run(t, c, map[string]string{"url": closedURL}), "unreachable")
	f = one(t, run(t, c, map[string]string{"url": "http://nothing.invalid/"}), "dns")
	if f.Evidence["error"] != "no such host" {
		t.Errorf("dns finding = %+v", f)
	}
	f = one(t, run(t, c, map[string]string{"url": "http://admin:hunter2@nothing.invalid/x"}), "dns")
	for _, s := range []string{f.Resource, f.Summary, f.Fix} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password leaked: %q", s)
		}
	}
	if !strings.Contains(f.Resource, "admin:xxxxx@") {
		t.Errorf("resource %q is not redacted", f.Resource)
	}

	// A cancelled run is not an observation of the target: it is an error.
	ctx, cancel := contextCancelled(t)
	defer cancel()
	if _, err := c.Run(ctx, bind(t, c, map[string]string{"url": slow.URL})); err == nil {
		t.Error("a cancelled run returned findings instead of an error")
	}
}

func TestParamValidation(t *testing.T) {
	tests := []struct {
		c    checks.Check
		raw  map[string]string
		want string
	}{
		{&HTTPStatus{}, map[string]string{"url": "http://x/", "expect": "abc"}, `"abc" is not a status`},
		{&HTTPStatus{}, map[string]string{"url": "http://x/", "expect": "299-200"}, "not a status range"},
		{&HTTPStatus{}, map[string]string{"url": "http://x/", "expect": "6xx"}, "not a status"},
		{&HTTPStatus{}, map[string]string{"url": "http://x/", "max_redirects": "-1"}, "must not be negative"},
		{&HTTPStatus{}, map[string]string{"url": "http://x/", "method": "POST"}, "not one of GET, HEAD"},
		{&HTTPStatus{}, map[string]string{"url": "x.example"}, "absolute http"},
		{&TCPConnect{}, map[string]string{"addr": "db"}, "not host:port"},
		{&TCPConnect{}, map[string]string{"addr": "db:99999"}, "no valid port"},
		{&TLSExpiry{}, map[string]string{"addr": "a b"}, "not host:port or host"},
		{&TLSExpiry{}, map[string]string{"addr": "x:443", "warn": "two weeks"}, "not a duration"},
	}
	for _, tt := range tests {
		_, err := tt.c.Spec().Bind(tt.raw, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %v: error %v, want %q", tt.c.Spec().ID, tt.raw, err, tt.want)
		}
	}
	if _, err := (&TLSExpiry{}).Spec().Bind(map[string]string{"addr": "example.com"}, nil); err != nil {
		t.Errorf("tls.expiry addr without port: %v", err)
	}
}

func TestTCPConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go testnet.AcceptAndClose(ln)
	addr := ln.Addr().String()
	c := &TCPConnect{}
	if res := run(t, c, map[string]string{"addr": addr}); len(res.Findings) != 0 || res.Evidence["remote"] != addr {
		t.Errorf("open port: %+v", res)
	}
	ln.Close()
	f := one(t, run(t, c, map[string]string{"addr": addr}), "unreachable")
	if f.Resource != "tcp://"+addr || f.Evidence["error"] != "connection refused" {
		t.Errorf("closed port: %+v", f)
	}
	one(t, run(t, c, map[string]string{"addr": "nothing.invalid:22"}), "dns")
}

// pki is a test CA and helpers to issue leaves from it.
type pki struct {
	ca     *x509.Certificate
	key    *ecdsa.PrivateKey
	caFile string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "clankerd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &pki{ca: ca, key: key, caFile: file}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// leaf issues a server certificate for the names, valid from notBefore to notAfter;
// selfSigned leaves the CA out.
func (p *pki) leaf(t *testing.T, names []string, notBefore, notAfter time.Time, selfSigned bool) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	parent, signer := p.ca, p.key
	if selfSigned {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serveTLS serves cert on a loopback port and returns host:port.
func serveTLS(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("hello")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestTLSExpiry(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	day := 24 * time.Hour
	local := []string{"127.0.0.1", "localhost"}
	valid := serveTLS(t, p.leaf(t, local, now.Add(-day), now.Add(90*day), false))
	expired := serveTLS(t, p.leaf(t, local, now.Add(-90*day), now.Add(-day), false))
	expiring := serveTLS(t, p.leaf(t, local, now.Add(-day), now.Add(5*day), false))
	lastDay := serveTLS(t, p.leaf(t, local, now.Add(-day), now.Add(12*time.Hour), false))
	wrongHost := serveTLS(t, p.leaf(t, []string{"other.example"}, now.Add(-day), now.Add(90*day), false))
	selfSigned := serveTLS(t, p.leaf(t, local, now.Add(-day), now.Add(90*day), true))
	c := &TLSExpiry{}

	if res := run(t, c, map[string]string{"addr": valid, "ca": p.caFile}); len(res.Findings) != 0 || res.Evidence["tls_version"] == "" {
		t.Errorf("valid certificate: %+v", res)
	}
	f := one(t, run(t, c, map[string]string{"addr": expired, "ca": p.caFile}), "cert_expired")
	if f.Severity != checks.Critical || f.Evidence["not_after"] == "" || f.Evidence["issuer"] != "clankerd test CA" {
		t.Errorf("expired: %+v", f)
	}
	f = one(t, run(t, c, map[string]string{"addr": expiring, "ca": p.caFile, "warn": "14d"}), "cert_expiring")
	if f.Severity != checks.Medium || !strings.Contains(f.Summary, "within the 14d warning window") {
		t.Errorf("expiring: %+v", f)
	}
	if res := run(t, c, map[string]string{"addr": expiring, "ca": p.caFile, "warn": "4d"}); len(res.Findings) != 0 {
		t.Errorf("expiring in 5 days with warn=4d: %+v", res.Findings)
	}
	if f := one(t, run(t, c, map[string]string{"addr": lastDay, "ca": p.caFile}), "cert_expiring"); f.Severity != checks.High {
		t.Errorf("expiring within 3 days: %+v", f)
	}
	f = one(t, run(t, c, map[string]string{"addr": wrongHost, "ca": p.caFile}), "cert_hostname_mismatch")
	if !strings.Contains(f.Summary, "other.example") {
		t.Errorf("hostname mismatch: %+v", f)
	}
	if res := run(t, c, map[string]string{"addr": wrongHost, "ca": p.caFile, "servername": "other.example"}); len(res.Findings) != 0 {
		t.Errorf("servername= fixes the mismatch: %+v", res.Findings)
	}
	f = one(t, run(t, c, map[string]string{"addr": selfSigned, "ca": p.caFile}), "cert_untrusted")
	if f.Evidence["reason"] != "signed by an unknown authority" {
		t.Errorf("self-signed: %+v", f)
	}
	// Without ca= the test CA is unknown: the valid certificate is untrusted, and the
	// expired one reports both problems.
	one(t, run(t, c, map[string]string{"addr": valid}), "cert_untrusted")
	res := run(t, c, map[string]string{"addr": expired})
	if len(res.Findings) != 2 || res.Findings[0].Problem != "cert_expired" || res.Findings[1].Problem != "cert_untrusted" {
		t.Errorf("expired and untrusted: %+v", res.Findings)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	plain := ln.Addr().String()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("SSH-2.0-OpenSSH\r\n"))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	one(t, run(t, c, map[string]string{"addr": plain}), "tls_handshake")
	one(t, run(t, c, map[string]string{"addr": "nothing.invalid"}), "dns")

	if _, err := c.Run(t.Context(), bind(t, c, map[string]string{"addr": valid, "ca": filepath.Join(t.TempDir(), "none.pem")})); err == nil {
		t.Error("an unreadable ca= file is not an error")
	}
}

func TestHTTPSWithPrivateCA(t *testing.T) {
	p := newPKI(t)
	addr := serveTLS(t, p.leaf(t, []string{"127.0.0.1"}, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), false))
	c := &HTTPStatus{}
	if res := run(t, c, map[string]string{"url": "https://" + addr + "/", "ca": p.caFile, "contains": "hello"}); len(res.Findings) != 0 {
		t.Errorf("https with ca=: %+v", res.Findings)
	}
	f := one(t, run(t, c, map[string]string{"url": "https://" + addr + "/"}), "tls_error")
	if !strings.Contains(f.Summary, "unknown authority") {
		t.Errorf("https without ca=: %+v", f)
	}
	if res := run(t, c, map[string]string{"url": "https://" + addr + "/", "insecure": "true"}); len(res.Findings) != 0 {
		t.Errorf("insecure=true: %+v", res.Findings)
	}
}

func TestRegister(t *testing.T) {
	r := checks.NewRegistry()
	if err := Register(r); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"http.status", "tcp.connect", "tls.expiry"} {
		if _, ok := r.Check(id); !ok {
			t.Errorf("%s not registered", id)
		}
	}
	if err := Register(r); err == nil {
		t.Error("registering twice succeeded")
	}
}

func contextCancelled(t *testing.T) (ctx context.Context, cancel context.CancelFunc) {
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	return ctx, cancel
}
