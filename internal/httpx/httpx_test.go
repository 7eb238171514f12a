package httpx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCheckListen(t *testing.T) {
	tests := []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:9464", false, true},
		{"[::1]:9464", false, true},
		{"localhost:9464", false, true},
		{"0.0.0.0:9464", false, false},
		{":9464", false, false},
		{"192.168.1.5:9464", false, false},
		{"0.0.0.0:9464", true, true},
		{"127.0.0.1", false, false},
	}
	for _, tt := range tests {
		err := CheckListen(tt.addr, tt.remote, "--x-listen", "--x-allow-remote")
		if (err == nil) != tt.ok {
			t.Errorf("CheckListen(%q, %v) = %v, want ok %v", tt.addr, tt.remote, err, tt.ok)
		}
		if err != nil && tt.addr != "127.0.0.1" && !errors.Is(err, ErrRemoteListen) {
			t.Errorf("CheckListen(%q): %v does not match ErrRemoteListen", tt.addr, err)
		}
	}
}

func TestServeStopsWithTheContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }), ReadHeaderTimeout: time.Second}
	go func() { done <- Serve(ctx, srv, ln, time.Second) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel = %v", err)
	}
}

func TestLoopbackHostOnly(t *testing.T) {
	tests := []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:9464", true},
		{"127.0.0.1", true},
		{"localhost:9464", true},
		{"localhost", true},
		{"[::1]:9464", true},
		{"[::1]", true},
		{"127.1.2.3:80", true},
		{"attacker.example", false},
		{"attacker.example:9464", false},
		{"localhost.attacker.example", false},
		{"127.0.0.1.nip.io:9464", false},
		{"", false},
	}
	h := LoopbackHostOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		r.Host = tt.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Code == http.StatusNoContent; got != tt.ok {
			t.Errorf("Host %q: %d %s, want ok %v", tt.host, w.Code, w.Body, tt.ok)
		}
		if !tt.ok && (w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "DNS rebinding")) {
			t.Errorf("Host %q refused with %d %q", tt.host, w.Code, w.Body)
		}
	}
}

// Serve guards a loopback listener's Host, and leaves an open one (--allow-remote) as
// it is.
func TestServeChecksHostOnLoopback(t *testing.T) {
	for _, tt := range []struct {
		listen string
		guard  bool
	}{{"127.0.0.1:0", true}, {"0.0.0.0:0", false}} {
		ln, err := net.Listen("tcp", tt.listen)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }), ReadHeaderTimeout: time.Second}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, srv, ln, time.Second) }()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+port+"/", nil)
		req.Host = "attacker.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if refused := resp.StatusCode == http.StatusForbidden; refused != tt.guard {
			t.Errorf("listening on %s, Host attacker.example: %d", tt.listen, resp.StatusCode)
		}
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
