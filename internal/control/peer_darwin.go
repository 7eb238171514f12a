package control

import "golang.org/x/sys/unix"

// peerCred reads LOCAL_PEERCRED (the peer's uid) and LOCAL_PEERPID of the socket fd.
func peerCred(fd int) (Peer, error) {
	x, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return Peer{}, err
	}
	pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil {
		pid = 0
	}
	return Peer{UID: int(x.Uid), PID: pid}, nil
}
