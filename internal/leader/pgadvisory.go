package leader

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGAdvisory elects a leader through a PostgreSQL session advisory lock, for replicas
// outside Kubernetes that share one PostgreSQL. Each replica keeps one dedicated
// connection and polls pg_try_advisory_lock every RetryPeriod; the holder pings its
// connection as often and stops leading when a ping fails, since the server releases
// the lock when the session ends.
//
// The server can end a session (pg_terminate_backend, a restart) before the old
// holder notices, so a replica that gets the lock waits 2.5 RetryPeriods, still
// pinging, before it calls lead: by then the old holder's ping has failed. A replica
// that lost leadership waits 2 RetryPeriods before it tries again, so a healthy one
// takes over. A PGAdvisory runs once at a time.
type PGAdvisory struct {
	// DSN of the PostgreSQL server (a postgres:// URL or key=value string).
	DSN string
	// Name of the election; the lock key is AdvisoryKey(Name). "" is DefaultName.
	Name string
	// Identity of this replica, sent as the session's application_name so Leader can
	// report the holder; "" is DefaultIdentity().
	Identity string
	// RetryPeriod (2s) is the time between lock attempts and between pings.
	RetryPeriod time.Duration

	mu       sync.Mutex
	identity string
	leading  atomic.Bool
	holder   atomic.Pointer[string]
}

var _ Elector = (*PGAdvisory)(nil)

// AdvisoryKey is the advisory lock key of an election name: the first 8 bytes of
// SHA-256("clankerd/"+name).
func AdvisoryKey(name string) int64 {
	sum := sha256.Sum256([]byte("clankerd/" + name))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// Run implements Elector. It returns an error only for a DSN that cannot be parsed;
// connection failures are retried until ctx ends.
func (p *PGAdvisory) Run(ctx context.Context, lead func(ctx context.Context)) error {
	if lead == nil {
		return errors.New("leader election needs a lead function")
	}
	cfg, err := pgx.ParseConfig(p.DSN)
	if err != nil {
		return fmt.Errorf("parsing the PostgreSQL DSN for leader election: %w", err)
	}
	cfg.RuntimeParams["application_name"] = p.ID()
	retry := orDefault(p.RetryPeriod, 2*time.Second)
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = max(5*retry, 5*time.Second)
	}
	// A holder cut off by the network stops leading at its next failed ping; these make
	// the server end its session (and free the lock) soon after, instead of hours later.
	keepalive := strconv.Itoa(max(1, int(retry/time.Second)))
	for k, v := range map[string]string{"tcp_keepalives_idle": keepalive, "tcp_keepalives_interval": keepalive, "tcp_keepalives_count": "3"} {
		if _, set := cfg.RuntimeParams[k]; !set {
			cfg.RuntimeParams[k] = v
		}
	}
	for ctx.Err() == nil {
		wait := retry
		if p.session(ctx, cfg, retry, lead) {
			wait = 2 * retry // lost leadership: let a healthy replica take over
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

// session is one connection: it polls for the lock, leads while it holds it, and
// returns when the connection fails or ctx ends, reporting whether it led.
func (p *PGAdvisory) session(ctx context.Context, cfg *pgx.ConnConfig, retry time.Duration, lead func(ctx context.Context)) (led bool) {
	key := AdvisoryKey(p.name())
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false
	}
	defer func() {
		// Unlocking is a courtesy (closing the session releases the lock too) that
		// hands over at once instead of after the next poll.
		cctx, cancel := context.WithTimeout(context.Background(), retry)
		defer cancel()
		if led && !conn.IsClosed() {
			_, _ = conn.Exec(cctx, "select pg_advisory_unlock($1)", key)
		}
		_ = conn.Close(cctx)
	}()

	var (
		locked     bool
		lockedAt   time.Time
		stopLead   context.CancelFunc
		leadDone   chan struct{}
		pingBudget = retry / 2
		grace      = 2*retry + pingBudget // the old holder has noticed by then
	)
	stop := func() {
		if stopLead != nil {
			stopLead()
			<-leadDone
			stopLead = nil
		}
	}
	defer stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, pingBudget)
		if !locked {
			err = conn.QueryRow(qctx, "select pg_try_advisory_lock($1)", key).Scan(&locked)
			if locked {
				lockedAt = time.Now()
			}
		} else {
			err = conn.Ping(qctx)
		}
		if err == nil {
			p.observeHolder(qctx, conn, key)
		}
		cancel()
		if err != nil || ctx.Err() != nil {
			return led
		}
		if locked && stopLead == nil && time.Since(lockedAt) >= grace {
			var lctx context.Context
			lctx, stopLead = context.WithCancel(ctx)
			leadDone = make(chan struct{})
			led = true
			p.leading.Store(true)
			go func() {
				defer close(leadDone)
				defer p.leading.Store(false)
				lead(lctx)
			}()
		}
		next := retry
		if locked && stopLead == nil {
			next = min(retry, grace-time.Since(lockedAt)) // lead as soon as the grace is over
		}
		timer := time.NewTimer(next)
		select {
		case <-ctx.Done():
			timer.Stop()
			return led
		case <-timer.C:
		}
	}
}

// observeHolder records the application_name of the session holding the lock.
func (p *PGAdvisory) observeHolder(ctx context.Context, conn *pgx.Conn, key int64) {
	var holder string
	err := conn.QueryRow(ctx, `select coalesce(max(a.application_name), '')
		from pg_locks l join pg_stat_activity a on a.pid = l.pid
		where l.locktype = 'advisory' and l.granted and l.objsubid = 1
		  and l.database = (select oid from pg_database where datname = current_database())
		  and l.classid = $1::bigint::oid and l.objid = $2::bigint::oid`,
		int64(uint64(key)>>32), int64(uint64(key)&0xffffffff)).Scan(&holder)
	if err == nil {
		p.holder.Store(&holder)
	}
}

// IsLeader implements Elector.
func (p *PGAdvisory) IsLeader() bool { return p.leading.Load() }

// Leader implements Elector: the identity of the lock's holder as last observed.
func (p *PGAdvisory) Leader() string {
	if h := p.holder.Load(); h != nil {
		return *h
	}
	return ""
}

// ID is this replica's identity (Identity, else one made up once).
func (p *PGAdvisory) ID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.identity == "" {
		p.identity = p.Identity
		if p.identity == "" {
			p.identity = DefaultIdentity()
		}
	}
	return p.identity
}

func (p *PGAdvisory) name() string {
	if p.Name == "" {
		return DefaultName
	}
	return p.Name
}
