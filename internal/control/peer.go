package control

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/user"
	"strconv"
)

// Peer is the process at the other end of a unix socket connection, as the kernel
// reports it (SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS): nothing the process
// says about itself.
type Peer struct {
	UID int
	// PID is 0 when the system does not report it.
	PID int
}

// errNoPeer: the connection is not a unix socket whose peer the kernel reports.
var errNoPeer = errors.New("the peer's credentials are not known")

// peerOfConn asks the kernel who is at the other end of c.
func peerOfConn(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("%w: %T is not a unix socket", errNoPeer, c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("%w: %v", errNoPeer, err)
	}
	var p Peer
	var perr error
	if err := raw.Control(func(fd uintptr) { p, perr = peerCred(int(fd)) }); err != nil {
		return Peer{}, fmt.Errorf("%w: %v", errNoPeer, err)
	}
	if perr != nil {
		return Peer{}, fmt.Errorf("%w: %v", errNoPeer, perr)
	}
	return p, nil
}

// UserName is the name of the user with uid, for the audit log; "uid:N" when the
// system has no name for it.
func UserName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid:" + strconv.Itoa(uid)
}

// peerKey is the context key of a socket request's peer.
type peerKey struct{}

// peerInfo is what the server learnt about a connection's peer.
type peerInfo struct {
	peer Peer
	err  error
}

func withPeer(ctx context.Context, c net.Conn) context.Context {
	p, err := peerOfConn(c)
	return context.WithValue(ctx, peerKey{}, peerInfo{p, err})
}

// peerFrom is the peer of the socket request ctx belongs to; ok is false for an
// operation performed in this process.
func peerFrom(ctx context.Context) (p Peer, ok bool, err error) {
	info, ok := ctx.Value(peerKey{}).(peerInfo)
	return info.peer, ok, info.err
}
