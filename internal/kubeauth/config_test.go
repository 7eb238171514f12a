package kubeauth

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/clankerd/clankerd/internal/testenv/testnet"
)

// writeKubeconfig writes a kubeconfig whose current context's user is user.
func writeKubeconfig(t *testing.T, user *clientcmdapi.AuthInfo) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1", CertificateAuthorityData: []byte("not the team server's CA")}
	cfg.AuthInfos["u"] = user
	cfg.Contexts["ctx"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "ctx"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTransport: the kubeconfig user's token goes to the team server, whose
// certificate is checked against --server-ca, not the cluster's CA; a user with only
// a client certificate is refused with why.
func TestTransport(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testnet.WriteServerCert(t, dir, "team")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("Authorization") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	get := func(rt http.RoundTripper) error {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/healthz", nil)
		resp, err := rt.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	withToken := writeKubeconfig(t, &clientcmdapi.AuthInfo{Token: "tok-123"})
	rt, err := Transport(ClientOptions{Kubeconfig: withToken, ServerCA: certFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := get(rt); err != nil || got != "Bearer tok-123" {
		t.Errorf("request: %v, Authorization %q, want the kubeconfig's token", err, got)
	}
	rt, err = Transport(ClientOptions{Kubeconfig: withToken})
	if err != nil {
		t.Fatal(err)
	}
	if err := get(rt); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without --server-ca the self-signed server was trusted: %v", err)
	}
	rt, err = Transport(ClientOptions{Kubeconfig: withToken, InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := get(rt); err != nil {
		t.Errorf("--insecure-skip-tls-verify: %v", err)
	}

	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("tok-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rt, err = Transport(ClientOptions{Kubeconfig: writeKubeconfig(t, &clientcmdapi.AuthInfo{TokenFile: tokenFile}), ServerCA: certFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := get(rt); err != nil || got != "Bearer tok-file" {
		t.Errorf("token file: %v, Authorization %q", err, got)
	}

	pem, _ := os.ReadFile(certFile)
	key, _ := os.ReadFile(keyFile)
	certOnly := writeKubeconfig(t, &clientcmdapi.AuthInfo{ClientCertificateData: pem, ClientKeyData: key})
	if _, err := Transport(ClientOptions{Kubeconfig: certOnly, ServerCA: certFile}); !errors.Is(err, ErrNoReviewableCredential) || !strings.Contains(err.Error(), "client certificate") {
		t.Errorf("client certificate only: %v, want ErrNoReviewableCredential", err)
	}
	if _, err := Transport(ClientOptions{Kubeconfig: withToken, ServerCA: certFile, InsecureSkipVerify: true}); err == nil {
		t.Error("--server-ca with --insecure-skip-tls-verify accepted")
	}
}
