package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce gathers the bursts of events one save makes (write, chmod, rename) into
// one reload.
const debounce = 250 * time.Millisecond

// watcher watches the directories of the heartbeat files, not the files: editors that
// save by writing a new file and renaming it over the old one replace the inode a
// file watch would follow. A directory given as a heartbeat entry (a ConfigMap
// mounted as a volume) is watched whole: any file added, changed or removed there is
// a change. The kubelet updates a mounted ConfigMap by swapping the symlink
// "..data" in that directory, so a swap there is a change to every file in it too.
type watcher struct {
	fs    *fsnotify.Watcher
	files map[string]bool
	// dirs are the directories whose every event is a change.
	dirs map[string]bool
}

// kubeletDataLink is the symlink the kubelet's atomic writer swaps when it updates a
// mounted ConfigMap or Secret.
const kubeletDataLink = "..data"

func newWatcher(entries []string, log *slog.Logger) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("starting the heartbeat file watcher: %w", err)
	}
	w := &watcher{fs: fw, files: map[string]bool{}, dirs: map[string]bool{}}
	watched := map[string]bool{}
	for _, p := range entries {
		abs, err := filepath.Abs(p)
		if err != nil {
			fw.Close()
			return nil, fmt.Errorf("resolving %s: %w", p, err)
		}
		dir := filepath.Dir(abs)
		if isDir(abs) {
			dir = abs
			w.dirs[abs] = true
		} else {
			w.files[abs] = true
		}
		watched[dir] = true
	}
	for dir := range watched {
		if err := fw.Add(dir); err != nil {
			fw.Close()
			return nil, fmt.Errorf("watching %s for heartbeat changes: %w (does the directory exist?)", dir, err)
		}
		log.Debug("watching heartbeat directory", "dir", dir)
	}
	return w, nil
}

// changes reports whether ev changes a heartbeat file.
func (w *watcher) changes(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	name := filepath.Clean(ev.Name)
	dir := filepath.Dir(name)
	return w.files[name] || w.dirs[dir] || filepath.Base(name) == kubeletDataLink
}

func (w *watcher) Close() error { return w.fs.Close() }

// watch reloads the heartbeat files after they change on disk or on SIGHUP, until ctx
// is done.
func (d *daemon) watch(ctx context.Context, w *watcher) {
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-d.cfg.Reload:
			d.log.Info("SIGHUP: reloading heartbeat files")
			d.reload(ctx, "sighup")
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if !w.changes(ev) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(debounce)
			} else {
				timer.Reset(debounce)
			}
			fire = timer.C
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			d.log.Error("heartbeat file watcher", "err", err)
		case <-fire:
			fire = nil
			d.reload(ctx, "file changed")
		}
	}
}
