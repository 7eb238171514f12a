// Package testnet holds network peers for tests: listeners that accept and hang up.
package testnet

import (
	"net"
	"testing"
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
