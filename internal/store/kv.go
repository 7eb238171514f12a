package store

import (
	"context"
	"io"
)

// engine is the ordered key/value layer the store's records live in: bbolt for a
// local state directory (boltkv.go), PostgreSQL for a team (pg.go). Everything above
// it — findings, audit chain, plans, outbox — is written once, against kvTx.
//
// Both engines give the same guarantees: one write transaction at a time across every
// process sharing the state, readers that see one consistent snapshot, and keys in
// byte-wise order.
type engine interface {
	// update runs fn in the one write transaction, committed when fn returns nil;
	// OnCommit hooks run after the commit.
	update(ctx context.Context, fn func(kvTx) error) error
	// view runs fn in a read-only snapshot.
	view(ctx context.Context, fn func(kvTx) error) error
	// backup writes a consistent copy to w, if the engine can.
	backup(w io.Writer) (int64, error)
	// listen calls fn after other processes commit a transaction that announced
	// topic (kvTx.Announce), until stop is called; an engine only one process writes
	// to has nothing to listen to.
	listen(topic string, fn func()) (stop func())
	close() error
}

// kvTx is one transaction of an engine.
type kvTx interface {
	// Bucket returns the named bucket; buckets exist once createBucket made them.
	Bucket(name []byte) kvBucket
	// CreateBucketIfNotExists makes a bucket (bbolt); a PostgreSQL bucket needs none.
	CreateBucketIfNotExists(name []byte) error
	// OnCommit registers fn to run after the transaction commits.
	OnCommit(fn func())
	// Announce tells the listeners of topic in other processes, once the transaction
	// commits.
	Announce(topic string)
}

// kvBucket is a set of keys in byte-wise order, with a sequence counter.
type kvBucket interface {
	// Get returns the value at key, or nil when the key is absent or its value empty
	// (as bbolt does). The value is valid only within the transaction.
	Get(key []byte) []byte
	Put(key, value []byte) error
	Delete(key []byte) error
	Cursor() kvCursor
	// ForEach calls fn for every key in order, stopping at the first error.
	ForEach(fn func(k, v []byte) error) error
	// NextSequence increments the bucket's counter and returns it.
	NextSequence() (uint64, error)
	// Sequence is the counter's value; SetSequence sets it (copying a database).
	Sequence() uint64
	SetSequence(v uint64) error
	Stats() bucketStats
}

// bucketStats counts a bucket's keys.
type bucketStats struct {
	KeyN int
}

// kvCursor walks a bucket in key order. Each method returns the key and value it lands
// on, or nil at the end. After the transaction writes to the bucket the cursor must
// be repositioned (Seek, First, Last) before relying on Next and Prev, as with bbolt.
type kvCursor interface {
	First() (k, v []byte)
	Last() (k, v []byte)
	Next() (k, v []byte)
	Prev() (k, v []byte)
	Seek(seek []byte) (k, v []byte)
}
