package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// ErrTargetNotEmpty: Copy's target already holds records.
var ErrTargetNotEmpty = errors.New("the target store is not empty")

// CopyResult is what Copy moved and verified.
type CopyResult struct {
	From    string       `json:"from"`
	To      string       `json:"to"`
	Buckets []BucketCopy `json:"buckets"`
	// AuditRecords is how many records the target's audit chain holds, verified.
	AuditRecords int `json:"audit_records"`
}

// BucketCopy is one bucket as Copy found it in the source and then in the target.
type BucketCopy struct {
	Bucket   string `json:"bucket"`
	Keys     int    `json:"keys"`
	Sequence uint64 `json:"sequence"`
}

// Copy copies every record of src into dst verbatim — the keys, values and sequence
// counters of every bucket — in one transaction of dst, so a failed copy leaves dst as
// it was. Then it verifies dst: the same number of keys and the same sequence in every
// bucket, the same audit head, and an audit chain that verifies. dst must be empty
// (nothing but its schema version) unless replace is set: then its records are
// deleted first, in the same transaction.
func Copy(ctx context.Context, src, dst *DB, replace bool) (CopyResult, error) {
	res := CopyResult{From: src.Path(), To: dst.Path()}
	var head auditHead
	err := src.View(ctx, func(from *Tx) error {
		var err error
		if head, err = from.auditHead(); err != nil {
			return err
		}
		return dst.Update(ctx, func(to *Tx) error {
			if !replace {
				if err := to.requireEmpty(); err != nil {
					return err
				}
			} else if err := to.clear(); err != nil {
				return err
			}
			res.Buckets, err = copyBuckets(from, to)
			return err
		})
	})
	if err != nil {
		return res, fmt.Errorf("copying %s to %s: %w", res.From, res.To, err)
	}
	err = dst.View(ctx, func(tx *Tx) error {
		for _, want := range res.Buckets {
			b := tx.bucket([]byte(want.Bucket))
			if n, seq := b.Stats().KeyN, b.Sequence(); n != want.Keys || seq != want.Sequence {
				return fmt.Errorf("bucket %s holds %d keys at sequence %d after the copy, the source %d at %d", want.Bucket, n, seq, want.Keys, want.Sequence)
			}
		}
		got, err := tx.auditHead()
		if err != nil {
			return err
		}
		if got != head {
			return fmt.Errorf("the audit head is record %d after the copy, the source's %d", got.Seq, head.Seq)
		}
		res.AuditRecords, err = tx.VerifyAudit()
		return err
	})
	if err != nil {
		return res, fmt.Errorf("verifying the copy in %s: %w", res.To, err)
	}
	return res, nil
}

func copyBuckets(from, to *Tx) ([]BucketCopy, error) {
	var out []BucketCopy
	for _, name := range allBuckets {
		src, dst := from.bucket(name), to.bucket(name)
		c := BucketCopy{Bucket: string(name), Sequence: src.Sequence()}
		err := src.ForEach(func(k, v []byte) error {
			c.Keys++
			return dst.Put(bytes.Clone(k), bytes.Clone(v))
		})
		if err != nil {
			return nil, fmt.Errorf("copying bucket %s: %w", name, err)
		}
		if err := dst.SetSequence(c.Sequence); err != nil {
			return nil, fmt.Errorf("copying the sequence of bucket %s: %w", name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// requireEmpty fails with ErrTargetNotEmpty when a bucket holds a key (besides the
// schema version) or a sequence.
func (tx *Tx) requireEmpty() error {
	for _, name := range allBuckets {
		b := tx.bucket(name)
		n := b.Stats().KeyN
		if bytes.Equal(name, bucketMeta) && b.Get(keySchema) != nil {
			n--
		}
		if n > 0 || b.Sequence() > 0 {
			return fmt.Errorf("%w: bucket %s holds %d keys at sequence %d; copy into an empty database, or pass --replace to delete what it holds", ErrTargetNotEmpty, name, n, b.Sequence())
		}
	}
	return nil
}

// clear deletes every key and sequence of every bucket.
func (tx *Tx) clear() error {
	for _, name := range allBuckets {
		b := tx.bucket(name)
		var keys [][]byte
		if err := b.ForEach(func(k, _ []byte) error { keys = append(keys, bytes.Clone(k)); return nil }); err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		if err := b.SetSequence(0); err != nil {
			return err
		}
	}
	return nil
}
