package store

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// kvEngines are the engines available here, each opening an empty database.
func kvEngines(t *testing.T) map[string]func(t *testing.T) *DB {
	t.Helper()
	out := map[string]func(t *testing.T) *DB{
		"bbolt": func(t *testing.T) *DB {
			db, err := Open(filepath.Join(t.TempDir(), FileName), Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
	if pgEnv != nil {
		out["postgres"] = func(t *testing.T) *DB { return openPG(t, pgEnv.NewDatabase(t), Options{}) }
	}
	return out
}

// walk is what a cursor reads: the keys it lands on, "-" for the end.
type walk func(b kvBucket) []string

func keyOf(k, _ []byte) string {
	if k == nil {
		return "-"
	}
	return string(k)
}

// The cursor moves the store relies on behave the same on every engine, also when the
// transaction writes to the bucket while walking it, and across page boundaries.
func TestCursorSemantics(t *testing.T) {
	var many []string
	for i := range 600 {
		many = append(many, fmt.Sprintf("k%04d", i))
	}
	tests := []struct {
		name string
		keys []string
		walk walk
		want []string
	}{
		{"first and next to the end", []string{"b", "a", "c"}, func(b kvBucket) []string {
			c := b.Cursor()
			return []string{keyOf(c.First()), keyOf(c.Next()), keyOf(c.Next()), keyOf(c.Next())}
		}, []string{"a", "b", "c", "-"}},
		{"last and prev to the start", []string{"b", "a", "c"}, func(b kvBucket) []string {
			c := b.Cursor()
			return []string{keyOf(c.Last()), keyOf(c.Prev()), keyOf(c.Prev()), keyOf(c.Prev())}
		}, []string{"c", "b", "a", "-"}},
		{"seek lands on the key or the next", []string{"a", "c", "e"}, func(b kvBucket) []string {
			c := b.Cursor()
			return []string{keyOf(c.Seek([]byte("c"))), keyOf(c.Seek([]byte("d"))), keyOf(c.Seek([]byte("f"))), keyOf(c.Seek(nil))}
		}, []string{"c", "e", "-", "a"}},
		{"seek then prev", []string{"a", "c", "e"}, func(b kvBucket) []string {
			c := b.Cursor()
			return []string{keyOf(c.Seek([]byte("d"))), keyOf(c.Prev()), keyOf(c.Prev()), keyOf(c.Next())}
		}, []string{"e", "c", "a", "c"}},
		{"empty bucket", nil, func(b kvBucket) []string {
			c := b.Cursor()
			return []string{keyOf(c.First()), keyOf(c.Last()), keyOf(c.Seek([]byte("a")))}
		}, []string{"-", "-", "-"}},
		{"byte order, not text order", []string{"a\x00z", "a", "a\x01", "\xff", "A"}, func(b kvBucket) []string {
			var out []string
			_ = b.ForEach(func(k, _ []byte) error { out = append(out, string(k)); return nil })
			return out
		}, []string{"A", "a", "a\x00z", "a\x01", "\xff"}},
		{"collect, then delete, then walk again", []string{"a", "b", "c", "d"}, func(b kvBucket) []string {
			c := b.Cursor()
			for k, _ := c.Seek([]byte("b")); k != nil && string(k) < "d"; k, _ = c.Seek([]byte("b")) {
				if err := b.Delete(k); err != nil {
					return []string{err.Error()}
				}
			}
			var out []string
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				out = append(out, string(k))
			}
			return out
		}, []string{"a", "d"}},
		{"delete the current key, next goes on after it", []string{"a", "b", "c", "d"}, func(b kvBucket) []string {
			c := b.Cursor()
			k, _ := c.Seek([]byte("b"))
			if err := b.Delete(k); err != nil {
				return []string{err.Error()}
			}
			return []string{keyOf(c.Seek([]byte("b"))), keyOf(c.Next()), keyOf(c.Next())}
		}, []string{"c", "d", "-"}},
		{"put ahead of the cursor is seen after repositioning", []string{"a", "c"}, func(b kvBucket) []string {
			c := b.Cursor()
			first := keyOf(c.First())
			if err := b.Put([]byte("b"), []byte("v")); err != nil {
				return []string{err.Error()}
			}
			return []string{first, keyOf(c.Seek([]byte("a"))), keyOf(c.Next()), keyOf(c.Next())}
		}, []string{"a", "a", "b", "c"}},
		{"600 keys across pages, forward", many, func(b kvBucket) []string {
			var out []string
			c := b.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				out = append(out, string(k))
			}
			return out
		}, many},
		{"600 keys across pages, backward", many, func(b kvBucket) []string {
			var out []string
			c := b.Cursor()
			for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
				out = append(out, string(k))
			}
			return out
		}, reversed(many)},
	}
	for name, open := range kvEngines(t) {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					var got []string
					err := db.kv.update(t.Context(), func(tx kvTx) error {
						bucket := []byte("test_" + tt.name)
						if err := tx.CreateBucketIfNotExists(bucket); err != nil {
							return err
						}
						b := tx.Bucket(bucket)
						for _, k := range tt.keys {
							if err := b.Put([]byte(k), []byte("v"+k)); err != nil {
								return err
							}
						}
						got = tt.walk(b)
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got, tt.want) {
						t.Errorf("got %q, want %q", abbreviate(got), abbreviate(tt.want))
					}
				})
			}
			t.Run("values, sequences and counts", func(t *testing.T) {
				err := db.kv.update(t.Context(), func(tx kvTx) error {
					_ = tx.CreateBucketIfNotExists([]byte("test_seq"))
					b := tx.Bucket([]byte("test_seq"))
					if err := b.Put([]byte("empty"), nil); err != nil {
						return err
					}
					if v := b.Get([]byte("empty")); v != nil {
						t.Errorf("Get of a key put with a nil value = %#v, want nil as bbolt returns", v)
					}
					if k, v := b.Cursor().First(); string(k) != "empty" || v != nil {
						t.Errorf("the cursor on a key put with a nil value = %q %#v", k, v)
					}
					if v := b.Get([]byte("absent")); v != nil {
						t.Errorf("Get of an absent key = %#v", v)
					}
					for want := uint64(1); want <= 3; want++ {
						if got, err := b.NextSequence(); got != want || err != nil {
							t.Errorf("NextSequence = %d, %v; want %d", got, err, want)
						}
					}
					if err := b.SetSequence(41); err != nil {
						return err
					}
					if got, _ := b.NextSequence(); got != 42 || b.Sequence() != 42 {
						t.Errorf("after SetSequence(41), NextSequence = %d, Sequence = %d", got, b.Sequence())
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				// (bbolt counts committed keys only)
				err = db.kv.view(t.Context(), func(tx kvTx) error {
					if n := tx.Bucket([]byte("test_seq")).Stats().KeyN; n != 1 {
						t.Errorf("KeyN = %d, want 1", n)
					}
					if err := tx.Bucket([]byte("test_seq")).Put([]byte("x"), nil); err == nil {
						t.Error("a write in a read-only transaction succeeded")
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// abbreviate keeps failure messages of the 600-key walks readable.
func abbreviate(s []string) []string {
	if len(s) <= 10 {
		return s
	}
	return append(append(slices.Clone(s[:5]), "…"), s[len(s)-5:]...)
}
