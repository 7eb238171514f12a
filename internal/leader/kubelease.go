package leader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// KubeLease elects a leader through a coordination.k8s.io Lease
// (k8s.io/client-go/tools/leaderelection). The RBAC it needs is in
// contrib/kubernetes/clankerd-lease.yaml. Zero durations take the defaults; a
// KubeLease runs once at a time and must not be copied after Run.
type KubeLease struct {
	Client kubernetes.Interface
	// Namespace of the Lease; see Namespace. "" is "default".
	Namespace string
	// Name of the Lease; "" is DefaultName.
	Name string
	// Identity of this replica; "" is DefaultIdentity().
	Identity string
	// LeaseDuration (15s) is how long others wait after the last renewal before they
	// take over; RenewDeadline (10s) is how long the leader retries renewing before it
	// gives up; RetryPeriod (2s) is the time between attempts.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// ReleaseOnCancel hands the Lease over at once when Run's context ends (after lead
	// has returned), instead of letting it expire. NewKubeLease sets it.
	ReleaseOnCancel bool

	mu       sync.Mutex
	identity string
	leading  atomic.Bool
	holder   atomic.Pointer[string]
}

var _ Elector = (*KubeLease)(nil)

// NewKubeLease is a KubeLease with the defaults filled in and ReleaseOnCancel set.
func NewKubeLease(client kubernetes.Interface, namespace string) *KubeLease {
	return &KubeLease{
		Client: client, Namespace: namespace, Name: DefaultName, Identity: DefaultIdentity(),
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		ReleaseOnCancel: true,
	}
}

// Run implements Elector.
func (k *KubeLease) Run(ctx context.Context, lead func(ctx context.Context)) error {
	if k.Client == nil {
		return errors.New("leader election through a Lease needs a Kubernetes client")
	}
	if lead == nil {
		return errors.New("leader election needs a lead function")
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: k.namespace(), Name: k.name()},
		Client:     k.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: k.ID()},
	}
	cfg := leaderelection.LeaderElectionConfig{
		Lock:          lock,
		LeaseDuration: orDefault(k.LeaseDuration, 15*time.Second),
		RenewDeadline: orDefault(k.RenewDeadline, 10*time.Second),
		RetryPeriod:   orDefault(k.RetryPeriod, 2*time.Second),
		Name:          k.name(),
		// Released by Run itself after lead has returned: client-go releases while
		// OnStartedLeading may still be running, which could briefly make two leaders.
		ReleaseOnCancel: false,
	}
	for ctx.Err() == nil {
		if err := k.term(ctx, cfg, lead); err != nil {
			return err
		}
		if ctx.Err() != nil && k.ReleaseOnCancel {
			k.release(lock, cfg.RenewDeadline)
		}
	}
	return nil
}

// term is one term: it waits to acquire the Lease, leads until the Lease is lost or
// ctx ends, and returns once lead has returned.
func (k *KubeLease) term(ctx context.Context, cfg leaderelection.LeaderElectionConfig, lead func(ctx context.Context)) error {
	// client-go starts OnStartedLeading in a goroutine that may still be starting
	// when its Run returns: over guards against leading after the term is over.
	var (
		mu      sync.Mutex
		over    bool
		leading sync.WaitGroup
	)
	cfg.Callbacks = leaderelection.LeaderCallbacks{
		OnStartedLeading: func(lctx context.Context) {
			mu.Lock()
			if over || lctx.Err() != nil {
				mu.Unlock()
				return
			}
			leading.Add(1)
			mu.Unlock()
			defer leading.Done()
			k.leading.Store(true)
			defer k.leading.Store(false)
			lead(lctx)
		},
		OnStoppedLeading: func() {},
		OnNewLeader:      func(id string) { k.holder.Store(&id) },
	}
	le, err := leaderelection.NewLeaderElector(cfg)
	if err != nil {
		return fmt.Errorf("configuring leader election on Lease %s/%s: %w", k.namespace(), k.name(), err)
	}
	le.Run(ctx) // cancels lctx before it returns
	mu.Lock()
	over = true
	mu.Unlock()
	leading.Wait()
	return nil
}

// release gives up the Lease if this replica still holds it, as client-go's
// ReleaseOnCancel does (holder "", duration 1s), but only after lead has returned.
func (k *KubeLease) release(lock *resourcelock.LeaseLock, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rec, _, err := lock.Get(ctx)
	if err != nil || rec.HolderIdentity != k.ID() {
		return
	}
	now := metav1.NewTime(time.Now())
	_ = lock.Update(ctx, resourcelock.LeaderElectionRecord{
		LeaderTransitions: rec.LeaderTransitions, LeaseDurationSeconds: 1, RenewTime: now, AcquireTime: now,
	})
}

// IsLeader implements Elector.
func (k *KubeLease) IsLeader() bool { return k.leading.Load() }

// Leader implements Elector: the Lease's holder as last observed.
func (k *KubeLease) Leader() string {
	if p := k.holder.Load(); p != nil {
		return *p
	}
	return ""
}

// ID is this replica's identity in the Lease (Identity, else one made up once).
func (k *KubeLease) ID() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.identity == "" {
		k.identity = k.Identity
		if k.identity == "" {
			k.identity = DefaultIdentity()
		}
	}
	return k.identity
}

func (k *KubeLease) namespace() string {
	if k.Namespace == "" {
		return "default"
	}
	return k.Namespace
}

func (k *KubeLease) name() string {
	if k.Name == "" {
		return DefaultName
	}
	return k.Name
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
