package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/redact/redacttest"
)

// forgedName is what an attacker's certificate calls itself: it clears the screen,
// prints a green verdict and starts a line of its own with another. The common name
// also turns the rest of the line around (a bidi override, which a DNS name, ASCII
// only, cannot hold).
const (
	forgedName   = "\x1b[2J\x1b[H\x1b[32mPASS all checks ok\x1b[0m\nPASS    all  0 failed"
	forgedCommon = forgedName + "\u202eko"
)

// forgedTLSServer serves a self-signed certificate whose subject and issuer are
// forgedCommon and whose DNS name is forgedName, expiring in two days: tls.expiry
// reports it expiring, untrusted and not valid for 127.0.0.1, quoting its names.
func forgedTLSServer(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: forgedCommon}, DNSNames: []string{forgedName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// assertEscaped fails the test when out lets the forged name act: a raw escape or
// bidi character (as written, or as JSON writes it), or a line that starts with the
// forged verdict. Unless it is a table that cuts the name off, out must show the
// name's escaped form.
func assertEscaped(t *testing.T, surface, out string, table bool) {
	t.Helper()
	for _, bad := range []string{"\x1b", `\u001b`, "\u202e", "\u009b"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s holds %q:\n%q", surface, bad, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "PASS") {
			t.Errorf("%s has a line of the certificate's own: %q", surface, line)
		}
	}
	if !table && !strings.Contains(out, `\x1b[2J\x1b[H\x1b[32mPASS all checks ok`) && !strings.Contains(out, `\\x1b[2J\\x1b[H\\x1b[32mPASS all checks ok`) {
		t.Errorf("%s does not show the escaped name:\n%.3000s", surface, out)
	}
}

// TestTerminalEscapeEndToEnd checks a TLS server whose certificate names carry
// terminal escape sequences, a forged line and a bidi override, and requires that no
// output of the built binary lets them act, and that each shows them escaped: `check`
// in text, JSON, JUnit and SARIF, `findings`, the MCP run_command tool (structured and text
// content), and every notification target the daemon sends the finding to.
func TestTerminalEscapeEndToEnd(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	addr := forgedTLSServer(t)
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, fmt.Sprintf("## Every 1 second\n- `tls.expiry` addr=%s\n", addr))

	for _, args := range [][]string{{"check", hb}, {"check", hb, "-o", "json"}, {"check", hb, "-o", "junit"}, {"check", hb, "-o", "sarif"}} {
		r := cli(t, state, args...)
		if r.code != 1 {
			t.Errorf("clankerd %v: exit %d, want 1\n%s", args, r.code, r.stderr)
		}
		assertEscaped(t, "clankerd "+strings.Join(args, " "), r.stdout, false)
	}
	assertEscaped(t, "clankerd findings", cli(t, state, "findings").stdout, true)
	assertEscaped(t, "clankerd findings -o json", cli(t, state, "findings", "-o", "json").stdout, false)

	session := stdioSession(t, state)
	res := callJSON(t, session, "clanker_run_command", map[string]any{"check": "tls.expiry", "params": map[string]string{"addr": addr}}, nil)
	structured, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	assertEscaped(t, "clanker_run_command structured content", string(structured), false)
	assertEscaped(t, "clanker_run_command text content", resultText(res), false)
	if err := session.Close(); err != nil { // the daemon below needs the database
		t.Fatal(err)
	}

	sinks := newNotifySinks(t, dir)
	d := startDaemonEnv(t, []string{"PATH=" + sinks.bin + string(os.PathListSeparator) + os.Getenv("PATH")}, state, "--heartbeat", hb, "--notify-config", sinks.config)
	waitFor(t, 30*time.Second, "the finding delivered to every target", func() bool {
		var st control.Status
		jsonOut(t, state, 0, &st, "status")
		delivering := 0
		for _, tg := range st.Targets {
			if tg.Delivered > 0 {
				delivering++
			}
		}
		return delivering == 4
	})
	d.stop(t, syscall.SIGTERM, 20*time.Second)
	for surface, out := range sinks.received() {
		assertEscaped(t, surface, out, false)
	}
}

// corpusServer answers the request for /N with the N-th case of the corpus in a
// header line a debugging proxy might write; net/http quotes the malformed line in
// its error, which http.status puts in the finding's summary and evidence.
func corpusServer(t *testing.T, cases []redacttest.Case) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		if _, err := fmt.Sscanf(r.URL.Path, "/%d", &n); err != nil || n >= len(cases) {
			http.NotFound(w, r)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n[debug] %s\r\n\r\n", cases[n].Text)
		buf.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSecretCorpusEndToEnd has a server answer with each one-line secret shape of
// the corpus, checks it with one http.status item per shape, and requires that none
// of it shows in `check` (text, JSON, JUnit, SARIF) or `findings` (text, JSON).
func TestSecretCorpusEndToEnd(t *testing.T) {
	var cases []redacttest.Case
	for _, c := range redacttest.Secrets() {
		if !strings.ContainsAny(c.Text, "\r\n") { // a header line is one line
			cases = append(cases, c)
		}
	}
	srv := corpusServer(t, cases)
	state, dir := t.TempDir(), t.TempDir()
	var hb strings.Builder
	hb.WriteString("## Hourly\n")
	for i := range cases {
		fmt.Fprintf(&hb, "- `http.status` url=%s/%d\n", srv.URL, i)
	}
	path := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, path, hb.String())

	outputs := map[string]string{}
	for _, args := range [][]string{{"check", path}, {"check", path, "-o", "json"}, {"check", path, "-o", "junit"}, {"check", path, "-o", "sarif"}, {"findings"}, {"findings", "-o", "json"}} {
		r := cli(t, state, args...)
		outputs["clankerd "+strings.Join(args, " ")] = r.stdout + r.stderr
	}
	if !strings.Contains(outputs["clankerd check "+path], "malformed MIME header line") {
		t.Fatalf("the server's header line did not reach the finding:\n%.2000s", outputs["clankerd check "+path])
	}
	for _, c := range cases {
		for surface, out := range outputs {
			if leaks := c.Leaks(out); leaks != nil {
				i := max(0, strings.Index(out, leaks[0]))
				t.Errorf("secrets.txt:%d (%s): %s shows %q: …%s…", c.Line, c.Name, surface, leaks, out[max(0, i-150):min(len(out), i+80)])
			}
		}
	}
}
