package httpx

import (
	"context"
	"errors"
	"net"
	"net/http"
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
