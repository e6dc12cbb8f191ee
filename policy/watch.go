package policy

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// reloadDebounce lets an editor finish writing (save, rename, chmod)
// before the directory is compiled again.
const reloadDebounce = 200 * time.Millisecond

// Watch reloads the bundle whenever a file under the policy directory
// changes, until Close. Bursts of events are coalesced.
func (e *Engine) Watch() error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := addTree(w, e.dir); err != nil {
		w.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer w.Close()
		e.watch(ctx, w)
	}()
	return nil
}

func (e *Engine) watch(ctx context.Context, w *fsnotify.Watcher) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Create) {
				// A new subdirectory is watched too.
				if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
					_ = addTree(w, ev.Name)
				}
			}
			if relevant(ev.Name) {
				timer.Reset(reloadDebounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			e.log.Warn("policy watcher", "err", err)
		case <-timer.C:
			_, _ = e.Reload(ctx)
		}
	}
}

// relevant ignores editor swap and backup files.
func relevant(path string) bool {
	base := filepath.Base(path)
	if strings.HasPrefix(base, ".") || strings.HasSuffix(base, "~") {
		return false
	}
	return strings.HasSuffix(base, ".rego") || strings.HasSuffix(base, ".json") || !strings.Contains(base, ".")
}

func addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return w.Add(path)
		}
		return nil
	})
}
