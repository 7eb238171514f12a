package control

import "golang.org/x/sys/unix"

// peerCred reads SO_PEERCRED: the uid and pid of the process that connected (or
// listened) at the other end of the socket fd.
func peerCred(fd int) (Peer, error) {
	u, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Peer{}, err
	}
	return Peer{UID: int(u.Uid), PID: int(u.Pid)}, nil
}
