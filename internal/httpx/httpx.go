// Package httpx holds what clankerd's HTTP listeners share: refusing an address other
// machines could reach unless the operator asked for it, refusing requests for other
// host names on loopback, and serving until the context ends.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ErrRemoteListen: a listen address that other machines could reach, given without
// the flag that allows it.
var ErrRemoteListen = errors.New("listen address is not loopback")

// IsLoopbackHost reports whether host is "localhost" or a loopback IP address.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckListen refuses a HOST:PORT that is not loopback unless allowRemote is set.
// flag and allowFlag name the command-line flags in the message (--metrics-listen,
// --metrics-allow-remote).
func CheckListen(addr string, allowRemote bool, flag, allowFlag string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: want HOST:PORT, such as 127.0.0.1:9464: %w", flag, addr, err)
	}
	if allowRemote || IsLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("%w: %s %q would serve other machines; use 127.0.0.1:PORT, or add %s if that is what you want", ErrRemoteListen, flag, addr, allowFlag)
}

// LoopbackHostOnly refuses, with 403, a request whose Host header is not a loopback
// name or address (localhost, 127.0.0.1, [::1], with or without a port). A web page
// can make the visitor's browser send requests to a loopback port under a name of its
// own that it then points at 127.0.0.1 (DNS rebinding); the browser sends that name as
// Host, and lets the page read the answer.
func LoopbackHostOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHostHeader(r.Host) {
			http.Error(w, fmt.Sprintf("host %q not allowed (DNS rebinding protection): this server listens on loopback and answers Host: localhost, 127.0.0.1 or [::1]", r.Host), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackHostHeader reports whether a Host header names a loopback host.
func loopbackHostHeader(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return IsLoopbackHost(host)
}

// isLoopbackListener reports whether ln accepts TCP connections on a loopback address
// only.
func isLoopbackListener(ln net.Listener) bool {
	a, ok := ln.Addr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// Serve serves srv on ln until ctx is done, then shuts it down, letting requests in
// flight finish for up to grace. It returns early with an error if the server stops by
// itself. On a loopback TCP listener, requests for other host names are refused
// (LoopbackHostOnly); a listener the operator opened to other machines
// (--allow-remote) answers any Host, as any machine can reach it anyway.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	if isLoopbackListener(ln) {
		srv.Handler = LoopbackHostOnly(srv.Handler)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s stopped: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
