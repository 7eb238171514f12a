// Package testnet holds network peers for tests: listeners that accept and hang up.
package testnet

import "net"

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
