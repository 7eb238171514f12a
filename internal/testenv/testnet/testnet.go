// Package testnet holds network peers for tests: listeners that accept and hang up,
// free ports, a server on a second loopback address.
package testnet

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// AcceptAndClose accepts connections on ln and closes each at once, until ln is
// closed. Run it in its own goroutine.
func AcceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// ClosedPort returns a loopback address where nothing listens (a port that was just
// free).
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// SecondLoopback serves h on 127.0.0.2, a loopback address other than the usual one
// (Linux routes all of 127/8 to the loopback interface), counting the requests it
// gets: tests of a redirect from an allowed address to a refused one need two. It
// skips the test where 127.0.0.2 cannot be listened on.
func SecondLoopback(t testing.TB, h http.Handler) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2 here: %v", err)
	}
	var hits atomic.Int32
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 5 * time.Second}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &hits
}
