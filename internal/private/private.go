// Package private keeps what only the user may read or change: the state directory
// and the secrets in it (the MCP token, the keys that sign plans and the audit
// checkpoint). A directory another user owns or can write, and a secret file that
// is not the user's own regular file of mode 0600, are refused with what to do,
// so a file planted by someone else is never trusted.
package private

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// MaxSecret bounds what ReadSecret reads: tokens and keys are short.
const MaxSecret = 64 << 10

// ErrExists is returned by CreateSecret when the file is already there.
var ErrExists = fs.ErrExist

// Dir makes dir with mode 0700 (and its missing parents) and refuses a directory that
// is not the user's own or that group or others can write: another user could plant
// a control socket or a token in it.
func Dir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the state directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("reading the state directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state directory %s is not a directory: give another --state-dir", dir)
	}
	if err := ownedByMe(fi); err != nil {
		return fmt.Errorf("state directory %s %w: use a directory of your own (--state-dir, CLANKERD_STATE_DIR)", dir, err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("state directory %s is writable by group or others (mode %04o): run `chmod 700 %s`, or use a directory of your own", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// ReadSecret reads the secret file at path. It refuses a symlink, anything but a
// regular file, a file another user owns and one group or others may read or write,
// saying how to fix it; a missing file is an error wrapping fs.ErrNotExist.
func ReadSecret(path string) ([]byte, error) {
	return readChecked(path, "secret file", MaxSecret, checkSecret)
}

// ReadOwnFile reads a file of the operator's that decides something but is no secret
// (approvals.yaml): a regular file, not a symlink, owned by the user and writable by
// nobody else (mode 0644 is fine). A file another user owns or can change is refused,
// as it could approve changes on the user's behalf; a missing file is an error
// wrapping fs.ErrNotExist. At most max bytes are read.
func ReadOwnFile(path string, max int64) ([]byte, error) {
	return readChecked(path, "file", max, checkOwnFile)
}

// readChecked opens path without following a symlink or blocking on a FIFO, checks
// what it opened with check and reads at most max bytes of it. what names the file
// in errors.
func readChecked(path, what string, max int64, check func(string, fs.FileInfo) error) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s %s: %w", what, path, err)
		}
		return nil, fmt.Errorf("%s %s cannot be opened (%w): it must be a regular file of yours, not a symlink", what, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if err := check(path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading the %s %s: %w", what, path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s %s is over %d bytes: it is not one clankerd reads; remove it", what, path, max)
	}
	return b, nil
}

func checkSecret(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("secret file %s is not a regular file: remove it and let clankerd make a new one", path)
	}
	if err := ownedByMe(fi); err != nil {
		return fmt.Errorf("secret file %s %w: remove it and let clankerd make a new one", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("secret file %s may be read or written by others (mode %04o): run `chmod 600 %s`, or remove it and let clankerd make a new one", path, fi.Mode().Perm(), path)
	}
	return nil
}

func checkOwnFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if err := ownedByMe(fi); err != nil {
		return fmt.Errorf("%s %w: only your own file is trusted; copy it to a file of yours", path, err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s may be changed by group or others (mode %04o), who could approve changes in your name: run `chmod go-w %s`", path, fi.Mode().Perm(), path)
	}
	return nil
}

// CreateSecret writes data to a new file at path with mode 0600. It never opens a
// file that exists (O_EXCL, so a planted file or symlink is not written through):
// then the error wraps ErrExists.
func CreateSecret(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("creating the secret file %s: %w", path, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("writing the secret file %s: %w", path, err)
	}
	return nil
}

// ReplaceSecret puts data at path in one step: a new file beside it (CreateSecret)
// renamed over it, so readers see the old or the new secret, never half of one.
func ReplaceSecret(path string, data []byte) error {
	buf := make([]byte, 8)
	if _, err := rand.Read(buf); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.%x.tmp", filepath.Base(path), buf))
	if err := CreateSecret(tmp, data); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("replacing the secret file %s: %w", path, err)
	}
	return nil
}

// Key is the random key of n bytes kept at path, made on first use. A key file that
// is not the user's own 0600 file, or not n bytes long, is refused.
func Key(path string, n int) ([]byte, error) {
	b, err := ReadSecret(path)
	if errors.Is(err, fs.ErrNotExist) {
		k := make([]byte, n)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		err = CreateSecret(path, k)
		if errors.Is(err, ErrExists) {
			// Another process made it first: use theirs.
			return Key(path, n)
		}
		if err != nil {
			return nil, err
		}
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, fmt.Errorf("key file %s holds %d bytes, not %d: it is not one clankerd made; restore it from a backup (plans and the audit checkpoint signed with the old key stop verifying without it)", path, len(b), n)
	}
	return b, nil
}

// OwnerOf is the uid that owns the file fi describes; ok is false when the system
// reports none.
func OwnerOf(fi fs.FileInfo) (uid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, false
	}
	return int(st.Uid), true
}

// ownedByMe says, as an error to wrap, that the file is not the user's.
func ownedByMe(fi fs.FileInfo) error {
	owner, ok := OwnerOf(fi)
	if !ok {
		return errors.New("has no owner this system reports")
	}
	if uid := os.Getuid(); owner != uid {
		return fmt.Errorf("is owned by uid %d, not by you (uid %d)", owner, uid)
	}
	return nil
}
