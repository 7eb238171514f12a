// Package store keeps clankerd's state: run receipts, findings with their lifecycle,
// plans, and the hash-chained audit log, in one bbolt file (the default) or in
// PostgreSQL (a team's shared store). Every write happens in one Update transaction,
// so a state change and its audit record commit together.
package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/clankerd/clankerd/tasks"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the database's file name in clankerd's state directory.
const FileName = "state.db"

// SchemaVersion is the layout of the buckets this build reads and writes. Version 2
// added the index of resolved findings by the time they were resolved; Open migrates
// a version 1 file.
const SchemaVersion = 2

// Errors callers decide on.
var (
	// ErrLocked: another process holds the database's file lock. Open returns it
	// wrapped, together with bbolt's timeout error, in a message that says what to do.
	ErrLocked = errors.New("state database is in use by another process")
	// ErrNotFound: no record with that id.
	ErrNotFound = errors.New("not found")
)

// Bucket names. Every bucket is created once, at Open.
var (
	bucketMeta             = []byte("meta")
	bucketRuns             = []byte("runs")              // seq → Receipt
	bucketRunsByItem       = []byte("runs_by_item")      // item \x00 seq → nil
	bucketItems            = []byte("items")             // item → ItemState
	bucketFindings         = []byte("findings")          // fingerprint → FindingRecord
	bucketFindingsByItem   = []byte("findings_by_item")  // item \x00 fingerprint → nil
	bucketFindingsByState  = []byte("findings_by_state") // state \x00 fingerprint → nil
	bucketFindingsByRun    = []byte("findings_by_run")   // StateRun \x00 fingerprint → nil, for new/changed/resolved
	bucketFindingsResolved = []byte("findings_resolved") // ResolvedAt (unix ns) \x00 fingerprint → nil, for resolved
	bucketPlans            = []byte("plans")             // id → tasks.PlanRecord
	bucketPlansPending     = []byte("plans_pending")     // item → plan id
	bucketAudit            = []byte("audit")             // seq → AuditRecord
	bucketMutes            = []byte("mutes")             // id → Mute
	bucketOutbox           = []byte("outbox")            // seq → OutboxEvent
	bucketDeliveries       = []byte("outbox_deliveries") // seq \x00 target → Delivery
	bucketNotifyTargets    = []byte("notify_targets")    // target → TargetState
	bucketNotifyErroring   = []byte("notify_erroring")   // item → time it started erroring
	bucketNotifyMuted      = []byte("notify_muted")      // item \x00 fingerprint → mute id that held back its news
	bucketBaselines        = []byte("baselines")         // item → Baseline
	bucketChanges          = []byte("changes")           // seq → ChangeRecord

	allBuckets = [][]byte{
		bucketMeta, bucketRuns, bucketRunsByItem, bucketItems, bucketFindings, bucketFindingsByItem,
		bucketFindingsByState, bucketFindingsByRun, bucketFindingsResolved, bucketPlans, bucketPlansPending, bucketAudit,
		bucketMutes, bucketOutbox, bucketDeliveries, bucketNotifyTargets, bucketNotifyErroring, bucketNotifyMuted,
		bucketBaselines, bucketChanges,
	}

	keySchema    = []byte("schema")
	keyAuditHead = []byte("audit_head")
)

// Retention bounds the receipts kept. Zero fields disable that bound.
type Retention struct {
	MaxRuns int
	MaxAge  time.Duration
}

// DefaultRetention keeps at most 100,000 receipts and none older than 30 days.
var DefaultRetention = Retention{MaxRuns: 100_000, MaxAge: 30 * 24 * time.Hour}

// Options configure Open.
type Options struct {
	// Timeout is how long Open waits for the file lock (default 1s).
	Timeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Retention for receipts; nil means DefaultRetention (and a zero Retention keeps
	// everything).
	Retention *Retention
	// NewID returns a fresh random identifier for mutes and notification events
	// (default: 8 random bytes in hex).
	NewID func() string
	// News decides what of a run or a new plan is worth telling people, in the
	// transaction that records it (package notify); nil queues nothing.
	News News
	// Checkpoint anchors the audit log's head outside the database; its zero value
	// keeps none.
	Checkpoint Checkpoint
}

// News is called inside the transaction that records an ended run or a new pending
// plan, so that the notifications it queues commit, or fail, with the record.
type News interface {
	RunEnded(tx *Tx, res RunResult) error
	PlanQueued(tx *Tx, p tasks.PlanRecord) error
}

// DB is an open state database.
type DB struct {
	kv        engine
	path      string
	now       func() time.Time
	newID     func() string
	retention Retention
	news      News

	// outboxReady gets a value after a commit that queued notification events;
	// stopListening stops listening for those of other processes.
	outboxReady   chan struct{}
	stopListening func()

	mu     sync.Mutex
	writes int
	closed bool

	checkpoint Checkpoint
	anchorMu   sync.Mutex
	// anchorSeq is the record the checkpoint names; anchorHeld, when set, is why
	// appends leave the checkpoint alone (it was missing or did not match the log at
	// Open); anchorErr is the last failure to write it.
	anchorSeq  uint64
	anchorHeld error
	anchorErr  error
}

// Open opens (creating if needed) the database at path. The directory is created with
// mode 0700 and the file with 0600.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the state directory for %s: %w", path, err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, &lockedError{path: path, wait: opts.Timeout, err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("opening the state database %s: %w", path, err)
	}
	return newDB(context.Background(), boltEngine{bdb}, path, opts)
}

// newDB makes the database over an open engine, with the defaults of opts filled in,
// creates its buckets and checks its schema version and audit checkpoint. On failure
// it closes the engine.
func newDB(ctx context.Context, kv engine, path string, opts Options) (*DB, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = randomID
	}
	if opts.Retention == nil {
		opts.Retention = &DefaultRetention
	}
	db := &DB{kv: kv, path: path, now: opts.Now, newID: opts.NewID, retention: *opts.Retention, news: opts.News, outboxReady: make(chan struct{}, 1), checkpoint: opts.Checkpoint}
	if err := errors.Join(db.init(ctx), db.openCheckpoint()); err != nil {
		kv.close()
		return nil, err
	}
	db.stopListening = kv.listen(outboxTopic, db.signalOutbox)
	return db, nil
}

// lockedError is what Open returns when the file lock was not granted in time: it
// matches both ErrLocked and bbolt's timeout error.
type lockedError struct {
	path string
	wait time.Duration
	err  error
}

func (e *lockedError) Error() string {
	return fmt.Sprintf("the state database %s is in use by another process (is `clankerd run` running? stop it, or use its control socket / another --state-dir); waited %s for the lock", e.path, e.wait)
}

func (e *lockedError) Unwrap() []error { return []error{ErrLocked, e.err} }

func (db *DB) init(ctx context.Context) error {
	return db.kv.update(ctx, func(tx kvTx) error {
		for _, name := range allBuckets {
			if err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("creating bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get(keySchema)
		if v == nil {
			return meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
		}
		n, err := strconv.Atoi(string(v))
		switch {
		case err != nil:
			return fmt.Errorf("%s: unreadable schema version %q; restore the file from a backup or move it away", db.path, v)
		case n > SchemaVersion:
			return fmt.Errorf("%s has schema version %d, newer than this build understands (%d); upgrade clankerd", db.path, n, SchemaVersion)
		case n == 1:
			if err := (&Tx{tx: tx, db: db}).indexResolved(); err != nil {
				return fmt.Errorf("migrating %s from schema version 1: %w", db.path, err)
			}
			return meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
		}
		return nil
	})
}

// indexResolved adds every resolved finding to the resolved-at index (migration from
// schema version 1, which did not have it).
func (tx *Tx) indexResolved() error {
	return tx.scanPrefix(bucketFindingsByState, []byte(FindingResolved), func(fp []byte) error {
		rec, err := tx.finding(string(fp))
		if err != nil {
			return err
		}
		return tx.bucket(bucketFindingsResolved).Put(indexKey(timeKey(rec.ResolvedAt), fp), nil)
	})
}

// Path is the database file, or the PostgreSQL store's DSN without its password.
func (db *DB) Path() string { return db.path }

// Close closes the database; calling it again does nothing.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	db.stopListening()
	return db.kv.close()
}

// Tx is a transaction; its methods read and write records.
type Tx struct {
	tx kvTx
	db *DB
	// mutes are the active mutes, read once per transaction by markMuted.
	mutes     []Mute
	mutesRead bool
	// groups are audited with every entry appended in the transaction that names
	// none (WithAuditGroups).
	groups []string
}

// Update runs fn in a read-write transaction, committed when fn returns nil.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.kv.update(ctx, func(tx kvTx) error { return fn(&Tx{tx: tx, db: db, groups: auditGroups(ctx)}) })
}

// View runs fn in a read-only transaction.
func (db *DB) View(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.kv.view(ctx, func(tx kvTx) error { return fn(&Tx{tx: tx, db: db}) })
}

// Backup writes a consistent copy of the database to w (a bbolt file; a PostgreSQL
// store is backed up with pg_dump).
func (db *DB) Backup(w io.Writer) (int64, error) { return db.kv.backup(w) }

func (tx *Tx) now() time.Time { return tx.db.now().UTC() }

func (tx *Tx) bucket(name []byte) kvBucket { return tx.tx.Bucket(name) }

// get decodes the JSON value at key into v; found is false when the key is absent.
func (tx *Tx) get(bucket, key []byte, v any) (found bool, err error) {
	data := tx.bucket(bucket).Get(key)
	if data == nil {
		return false, nil
	}
	return true, tx.decode(bucket, key, data, v)
}

// decode is the one place records are decoded; its error names the bucket and key.
func (tx *Tx) decode(bucket, key, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding %s/%s in %s: %w (the record is corrupt; restore the file from a backup, or move it away to start with an empty state)", bucket, keyString(bucket, key), tx.db.path, err)
	}
	return nil
}

// keyString shows a key readably: a sequence number for the seq-keyed buckets,
// quoted text otherwise.
func keyString(bucket, key []byte) string {
	if (bytes.Equal(bucket, bucketRuns) || bytes.Equal(bucket, bucketAudit) || bytes.Equal(bucket, bucketOutbox) || bytes.Equal(bucket, bucketChanges)) && len(key) == 8 {
		return strconv.FormatUint(seqFromKey(key), 10)
	}
	return strconv.Quote(string(key))
}

// put encodes v as JSON at key.
func (tx *Tx) put(bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s/%q: %w", bucket, key, err)
	}
	return tx.bucket(bucket).Put(key, data)
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

func seqFromKey(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// indexKey joins an index prefix and a suffix with a NUL byte.
func indexKey(prefix, suffix []byte) []byte {
	k := make([]byte, 0, len(prefix)+1+len(suffix))
	k = append(k, prefix...)
	k = append(k, 0)
	return append(k, suffix...)
}

// scanPrefix calls fn with the suffix of every key in bucket that starts with prefix
// followed by NUL, in key order.
func (tx *Tx) scanPrefix(bucket, prefix []byte, fn func(suffix []byte) error) error {
	p := indexKey(prefix, nil)
	c := tx.bucket(bucket).Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		if err := fn(append([]byte(nil), k[len(p):]...)); err != nil {
			return err
		}
	}
	return nil
}

// scanPrefixReverse yields the suffix of every key in bucket that starts with prefix
// followed by NUL, from the last key to the first.
func (tx *Tx) scanPrefixReverse(bucket, prefix []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		p := indexKey(prefix, nil)
		// prefix followed by \x01 sorts right after every key of the form prefix \x00 ...
		end := append(append([]byte(nil), prefix...), 1)
		c := tx.bucket(bucket).Cursor()
		k, _ := c.Seek(end)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, p); k, _ = c.Prev() {
			if !yield(append([]byte(nil), k[len(p):]...)) {
				return
			}
		}
	}
}
