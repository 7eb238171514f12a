// Package httpx holds what clankerd's HTTP listeners share: refusing an address other
// machines could reach unless the operator asked for it, and serving until the
// context ends.
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

// Serve serves srv on ln until ctx is done, then shuts it down, letting requests in
// flight finish for up to grace. It returns early with an error if the server stops by
// itself.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
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
