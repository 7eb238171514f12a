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
// file watch would follow.
type watcher struct {
	fs    *fsnotify.Watcher
	files map[string]bool
}

func newWatcher(paths []string, log *slog.Logger) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("starting the heartbeat file watcher: %w", err)
	}
	w := &watcher{fs: fw, files: map[string]bool{}}
	dirs := map[string]bool{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			fw.Close()
			return nil, fmt.Errorf("resolving %s: %w", p, err)
		}
		w.files[abs] = true
		dirs[filepath.Dir(abs)] = true
	}
	for dir := range dirs {
		if err := fw.Add(dir); err != nil {
			fw.Close()
			return nil, fmt.Errorf("watching %s for heartbeat changes: %w (does the directory exist?)", dir, err)
		}
		log.Debug("watching heartbeat directory", "dir", dir)
	}
	return w, nil
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
			if !w.files[filepath.Clean(ev.Name)] || ev.Op == fsnotify.Chmod {
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
