// Package leader elects one leader among clankerd replicas, through a Kubernetes
// Lease or a PostgreSQL advisory lock.
package leader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
)

// Elector runs a function while this replica is the leader.
type Elector interface {
	// Run blocks until ctx is done. Whenever this replica becomes the leader it calls
	// lead with a context that is cancelled the moment leadership is lost; lead must
	// return promptly then. Run returns only after lead has returned.
	Run(ctx context.Context, lead func(ctx context.Context)) error
	// IsLeader reports whether this replica leads now.
	IsLeader() bool
	// Leader is the identity of the current holder ("" when unknown or nobody).
	Leader() string
	// ID is this replica's identity.
	ID() string
}

// DefaultName is the lease (or lock) name replicas of one deployment share.
const DefaultName = "clankerd"

// DefaultIdentity is the host name, "_" and a random suffix, unique per process.
func DefaultIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "clankerd"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "_" + hex.EncodeToString(b)
}
