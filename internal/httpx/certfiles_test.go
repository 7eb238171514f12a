package httpx

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clankerd/clankerd/internal/testenv/testnet"
)

// servedName is the common name of the certificate srv presents in a handshake.
func servedName(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestCertFilesReload: a certificate replaced on disk is served from the next
// handshake on, without a restart; a key that does not match it keeps the last good
// pair.
func TestCertFilesReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testnet.WriteServerCert(t, dir, "one")
	c, err := LoadCertFiles(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Listener = tls.NewListener(srv.Listener, c.TLSConfig())
	srv.Start()
	defer srv.Close()
	if got := servedName(t, srv); got != "one" {
		t.Fatalf("serves %q, want one", got)
	}

	// Only the certificate replaced: it does not match the key, so "one" stays.
	twoCert, twoKey := testnet.WriteServerCert(t, t.TempDir(), "two")
	replace := func(from, to string) {
		t.Helper()
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(2 * time.Second)
		if err := os.Chtimes(to, later, later); err != nil {
			t.Fatal(err)
		}
	}
	replace(twoCert, certFile)
	if got := servedName(t, srv); got != "one" {
		t.Errorf("with a mismatched key, serves %q, want the last good one", got)
	}
	replace(twoKey, keyFile)
	if got := servedName(t, srv); got != "two" {
		t.Errorf("after the swap, serves %q, want two", got)
	}
}

func TestLoadCertFilesRefuses(t *testing.T) {
	dir := t.TempDir()
	certFile, _ := testnet.WriteServerCert(t, dir, "one")
	if _, err := LoadCertFiles(certFile, filepath.Join(dir, "missing.key")); err == nil {
		t.Error("a missing key loaded")
	}
	if _, err := LoadCertFiles(certFile, certFile); err == nil {
		t.Error("a certificate as its own key loaded")
	}
}
