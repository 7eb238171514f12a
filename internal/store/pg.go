package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgWriterLock is the transaction advisory lock every PostgreSQL write transaction
// takes first (the ASCII bytes of "clankerd"), so that writers serialise across every
// process sharing the database exactly as bbolt's single writer does. After it, READ
// COMMITTED statements see every earlier commit: a plan is approved once however many
// replicas race, and the audit log stays one chain.
const pgWriterLock int64 = 0x636c616e6b657264

// Cursor pages: the first page is small (most scans are a short index prefix), each
// next one twice as large, up to pgPageMax rows.
const (
	pgPageMin = 16
	pgPageMax = 256
)

// errReadOnly is what a write in a View transaction returns, as with bbolt.
var errReadOnly = errors.New("store: write in a read-only transaction")

// pgEngine keeps the buckets in one table, kv(bucket, key, value), and their counters
// in kv_seq (migration 1).
type pgEngine struct {
	pool *pgxpool.Pool
	// where is the redacted DSN, for messages.
	where string
}

var _ engine = (*pgEngine)(nil)

func (e *pgEngine) update(ctx context.Context, fn func(kvTx) error) error {
	return e.run(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, true, fn)
}

func (e *pgEngine) view(ctx context.Context, fn func(kvTx) error) error {
	return e.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, false, fn)
}

func (e *pgEngine) run(ctx context.Context, opts pgx.TxOptions, write bool, fn func(kvTx) error) error {
	ptx, err := e.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("beginning a transaction on the PostgreSQL store %s: %w; check that the server is up and the DSN (--store, CLANKERD_STORE)", e.where, err)
	}
	defer func() { _ = ptx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit
	if write {
		if _, err := ptx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", pgWriterLock); err != nil {
			return fmt.Errorf("waiting for the write lock of the PostgreSQL store %s: %w", e.where, err)
		}
	}
	tx := &pgTx{ctx: ctx, tx: ptx, write: write, where: e.where, writes: map[string]uint64{}}
	fnErr := fn(tx)
	if fnErr == nil {
		_ = tx.flush()
	}
	if tx.err != nil {
		// A failed statement aborted the transaction; it is the cause of whatever fn
		// made of the nil it read.
		return tx.err
	}
	if fnErr != nil {
		return fnErr
	}
	if err := ptx.Commit(ctx); err != nil {
		return fmt.Errorf("committing to the PostgreSQL store %s: %w", e.where, err)
	}
	for _, h := range tx.hooks {
		h()
	}
	return nil
}

func (e *pgEngine) backup(io.Writer) (int64, error) {
	return 0, fmt.Errorf("the state is in the PostgreSQL store %s: back it up with pg_dump, or copy it to a bbolt file with `clankerd store copy`", e.where)
}

// pgListenRetry is how long listen waits before it reconnects after losing its
// connection.
const pgListenRetry = time.Second

// listen holds one connection of its own that LISTENs to topic, and reconnects when it
// is lost; after a reconnection it calls fn once, for what was announced while it was
// not listening.
func (e *pgEngine) listen(topic string, fn func()) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for reconnect := false; ; reconnect = true {
			e.waitForNotifications(ctx, topic, fn, reconnect)
			select {
			case <-ctx.Done():
				return
			case <-time.After(pgListenRetry):
			}
		}
	}()
	return func() { cancel(); <-done }
}

// waitForNotifications calls fn for every notification on topic, and once after
// LISTEN when reconnect, until ctx is done or the connection fails.
func (e *pgEngine) waitForNotifications(ctx context.Context, topic string, fn func(), reconnect bool) {
	pooled, err := e.pool.Acquire(ctx)
	if err != nil {
		return
	}
	conn := pooled.Hijack() // a LISTENing connection is not for the pool
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{topic}.Sanitize()); err != nil {
		return
	}
	if reconnect {
		fn()
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return
		}
		fn()
	}
}

func (e *pgEngine) close() error {
	e.pool.Close()
	return nil
}

// pgTx is one transaction. Writes are queued and sent in one round trip with the next
// read (which so sees them) or before the commit. Bucket methods without an error
// result (Get, cursor moves), and queued writes, keep the first failure in err; the
// transaction then returns it and does not commit.
type pgTx struct {
	ctx   context.Context
	tx    pgx.Tx
	write bool
	where string
	err   error
	hooks []func()
	// writes counts the writes to each bucket, so a cursor knows its page is stale.
	writes map[string]uint64
	// pending are the writes not sent yet.
	pending *pgx.Batch
}

// pgMaxPending bounds the writes queued before they are sent on their own.
const pgMaxPending = 512

// queue adds a write to the pending ones.
func (t *pgTx) queue(sql string, args ...any) error {
	if t.pending == nil {
		t.pending = &pgx.Batch{}
	}
	t.pending.Queue(sql, args...)
	if t.pending.Len() >= pgMaxPending {
		return t.flush()
	}
	return nil
}

// send sends the pending writes followed by the statement sql (none when ""), in one
// round trip, and returns the results positioned at the statement's; the caller
// closes them.
func (t *pgTx) send(sql string, args ...any) (pgx.BatchResults, error) {
	if t.err != nil {
		return nil, t.err
	}
	b := t.pending
	t.pending = nil
	if b == nil {
		b = &pgx.Batch{}
	}
	writes := b.Len()
	if sql != "" {
		b.Queue(sql, args...)
	}
	br := t.tx.SendBatch(t.ctx, b)
	for range writes {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, t.fail("writing", err)
		}
	}
	return br, nil
}

// flush sends the pending writes.
func (t *pgTx) flush() error {
	if t.pending == nil || t.err != nil {
		return t.err
	}
	br, err := t.send("")
	if err != nil {
		return err
	}
	if err := br.Close(); err != nil {
		return t.fail("writing", err)
	}
	return nil
}

// queryRow runs sql after the pending writes and scans its one row into dest; found
// is false when it returned none.
func (t *pgTx) queryRow(what, sql string, args []any, dest ...any) (found bool, err error) {
	br, err := t.send(sql, args...)
	if err != nil {
		return false, err
	}
	err = br.QueryRow().Scan(dest...)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, t.fail(what, err)
	}
	return true, nil
}

func (t *pgTx) Bucket(name []byte) kvBucket { return &pgBucket{tx: t, name: string(name)} }

func (t *pgTx) CreateBucketIfNotExists([]byte) error { return nil }

func (t *pgTx) OnCommit(fn func()) { t.hooks = append(t.hooks, fn) }

// Announce sends a NOTIFY, which PostgreSQL delivers when the transaction commits.
func (t *pgTx) Announce(topic string) {
	if t.write && t.err == nil {
		_ = t.queue("SELECT pg_notify($1, '')", topic)
	}
}

// fail records the first failed statement and returns it.
func (t *pgTx) fail(what string, err error) error {
	err = fmt.Errorf("%s in the PostgreSQL store %s: %w", what, t.where, err)
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *pgTx) writable(bucket string) error {
	if !t.write {
		return errReadOnly
	}
	if t.err != nil {
		return t.err
	}
	t.writes[bucket]++
	return nil
}

type pgBucket struct {
	tx   *pgTx
	name string
}

func (b *pgBucket) Get(key []byte) []byte {
	var v []byte
	found, err := b.tx.queryRow("reading "+b.name, "SELECT value FROM kv WHERE bucket = $1 AND key = $2", []any{b.name, key}, &v)
	if !found || err != nil || len(v) == 0 {
		return nil // an empty value is nil, as bbolt returns it
	}
	return v
}

func (b *pgBucket) Put(key, value []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("store: empty key in %s", b.name)
	}
	if err := b.tx.writable(b.name); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	return b.tx.queue(`INSERT INTO kv (bucket, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value`, b.name, bytes.Clone(key), bytes.Clone(value))
}

func (b *pgBucket) Delete(key []byte) error {
	if err := b.tx.writable(b.name); err != nil {
		return err
	}
	return b.tx.queue("DELETE FROM kv WHERE bucket = $1 AND key = $2", b.name, bytes.Clone(key))
}

func (b *pgBucket) ForEach(fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return b.tx.err
}

func (b *pgBucket) NextSequence() (uint64, error) {
	if err := b.tx.writable(b.name); err != nil {
		return 0, err
	}
	var v int64
	_, err := b.tx.queryRow("incrementing the sequence of "+b.name, `INSERT INTO kv_seq (bucket, value) VALUES ($1, 1)
		ON CONFLICT (bucket) DO UPDATE SET value = kv_seq.value + 1 RETURNING value`, []any{b.name}, &v)
	return uint64(v), err
}

func (b *pgBucket) Sequence() uint64 {
	var v int64
	_, _ = b.tx.queryRow("reading the sequence of "+b.name, "SELECT value FROM kv_seq WHERE bucket = $1", []any{b.name}, &v)
	return uint64(v)
}

func (b *pgBucket) SetSequence(v uint64) error {
	if err := b.tx.writable(b.name); err != nil {
		return err
	}
	return b.tx.queue(`INSERT INTO kv_seq (bucket, value) VALUES ($1, $2)
		ON CONFLICT (bucket) DO UPDATE SET value = excluded.value`, b.name, int64(v))
}

func (b *pgBucket) Stats() bucketStats {
	var n int
	_, _ = b.tx.queryRow("counting "+b.name, "SELECT count(*) FROM kv WHERE bucket = $1", []any{b.name}, &n)
	return bucketStats{KeyN: n}
}

func (b *pgBucket) Cursor() kvCursor { return &pgCursor{b: b} }

// pgCursor reads its bucket a page at a time and moves within the page until the page
// ends or the transaction writes to the bucket; then it reads the next page from the
// key it is on, so a key deleted or added behind it is seen as bbolt would see it
// after repositioning.
type pgCursor struct {
	b    *pgBucket
	page []kvPair
	i    int
	// desc: the page runs from high keys to low; full: rows may follow it.
	desc, full bool
	gen        uint64
	fetches    int
	// cur is the key the cursor is on; loaded is set after the first read.
	cur    []byte
	loaded bool
}

type kvPair struct{ k, v []byte }

// read runs the page's query after the pending writes and keeps its rows.
func (c *pgCursor) read(q string, args []any) error {
	what := "reading " + c.b.name
	br, err := c.b.tx.send(q, args...)
	if err != nil {
		return err
	}
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return c.b.tx.fail(what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var p kvPair
		if err := rows.Scan(&p.k, &p.v); err != nil {
			return c.b.tx.fail(what, err)
		}
		if len(p.v) == 0 {
			p.v = nil // as bbolt returns an empty value
		}
		c.page = append(c.page, p)
	}
	if err := rows.Err(); err != nil {
		return c.b.tx.fail(what, err)
	}
	return nil
}

func (c *pgCursor) First() ([]byte, []byte) { return c.reposition("", nil, false) }

func (c *pgCursor) Last() ([]byte, []byte) { return c.reposition("", nil, true) }

func (c *pgCursor) Seek(seek []byte) ([]byte, []byte) {
	if seek == nil {
		seek = []byte{} // NULL would match nothing
	}
	return c.reposition(">=", seek, false)
}

// reposition starts over: small pages again, and not on a key unless one is found.
func (c *pgCursor) reposition(op string, key []byte, desc bool) ([]byte, []byte) {
	c.fetches, c.cur = 0, nil
	return c.load(op, key, desc)
}

func (c *pgCursor) Next() ([]byte, []byte) { return c.step(false) }

func (c *pgCursor) Prev() ([]byte, []byte) { return c.step(true) }

// step moves one key forward (desc false) or back.
func (c *pgCursor) step(desc bool) ([]byte, []byte) {
	if c.cur == nil {
		// Not on a key: an empty bucket, or a Seek past the last key (from where
		// Prev goes to the last key, as with bbolt).
		if desc {
			return c.Last()
		}
		if !c.loaded {
			return c.First()
		}
		return nil, nil
	}
	fresh := c.desc == desc && c.gen == c.b.tx.writes[c.b.name]
	switch {
	case fresh && c.i+1 < len(c.page):
		c.i++
		p := c.page[c.i]
		c.cur = p.k
		return p.k, p.v
	case fresh && !c.full:
		return nil, nil
	}
	op := ">"
	if desc {
		op = "<"
	}
	return c.load(op, c.cur, desc)
}

// load reads a page of keys op key (all keys when op is ""), in descending order when
// desc, and returns its first row.
func (c *pgCursor) load(op string, key []byte, desc bool) ([]byte, []byte) {
	limit := min(pgPageMax, pgPageMin<<min(c.fetches, 8))
	c.fetches++
	q, args := "SELECT key, value FROM kv WHERE bucket = $1", []any{c.b.name}
	if op != "" {
		q += " AND key " + op + " $2"
		args = append(args, key)
	}
	if desc {
		q += " ORDER BY key DESC"
	} else {
		q += " ORDER BY key"
	}
	q += " LIMIT " + strconv.Itoa(limit)
	c.page, c.i, c.desc, c.full, c.gen, c.loaded = nil, 0, desc, false, c.b.tx.writes[c.b.name], true
	if err := c.read(q, args); err != nil {
		c.page = nil
		return nil, nil
	}
	c.full = len(c.page) == limit
	if len(c.page) == 0 {
		return nil, nil
	}
	c.cur = c.page[0].k
	return c.page[0].k, c.page[0].v
}
