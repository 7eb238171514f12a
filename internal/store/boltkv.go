package store

import (
	"context"
	"io"

	bolt "go.etcd.io/bbolt"
)

// boltEngine is the engine of a local state directory: one bbolt file, whose file lock
// makes its process the only writer.
type boltEngine struct {
	db *bolt.DB
}

var _ engine = boltEngine{}

func (e boltEngine) update(_ context.Context, fn func(kvTx) error) error {
	return e.db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (e boltEngine) view(_ context.Context, fn func(kvTx) error) error {
	return e.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (e boltEngine) backup(w io.Writer) (int64, error) {
	var n int64
	err := e.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// listen has nothing to do: the file lock keeps other processes out.
func (e boltEngine) listen(string, func()) func() { return func() {} }

func (e boltEngine) close() error { return e.db.Close() }

type boltTx struct {
	tx *bolt.Tx
}

func (t boltTx) Bucket(name []byte) kvBucket { return boltBucket{t.tx.Bucket(name)} }

func (t boltTx) CreateBucketIfNotExists(name []byte) error {
	_, err := t.tx.CreateBucketIfNotExists(name)
	return err
}

func (t boltTx) OnCommit(fn func()) { t.tx.OnCommit(fn) }

func (t boltTx) Announce(string) {}

// boltBucket is a bbolt bucket; only Cursor and Stats need translating.
type boltBucket struct {
	*bolt.Bucket
}

func (b boltBucket) Cursor() kvCursor { return b.Bucket.Cursor() }

func (b boltBucket) Stats() bucketStats { return bucketStats{KeyN: b.Bucket.Stats().KeyN} }
