package node

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xborder/xborder/internal/boltfile"
	"github.com/xborder/xborder/internal/boltfile/damage"
)

// A data dir that a newer release wrote stops this release's start with
// a *boltfile.FormatError naming the store, the release that wrote it and
// that downgrades are not supported, whichever store it is; and the store
// is left as that release wrote it.
func TestStoreFromANewerReleaseStopsTheStart(t *testing.T) {
	golden, cfg := writtenDataDir(t)
	for _, name := range []string{"node.db", "exchange.db", "audit.db", "registry.db", "analysis.db", "sessions.db"} {
		t.Run(name, func(t *testing.T) {
			dir := copyDataDir(t, golden)
			path := filepath.Join(dir, name)
			if err := damage.Stamp(path, 99, "9.0.0"); err != nil {
				t.Fatal(err)
			}
			n, err := Open(dir, cfg, WithLogger(testLogger(t, cfg.Name)))
			must(t, err)
			err = n.Start(context.Background())
			_ = n.Close()
			var fe *boltfile.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("start: want a *boltfile.FormatError, got %T: %v", err, err)
			}
			if fe.File != path || fe.Found != 99 || fe.Release != "9.0.0" {
				t.Fatalf("%+v", fe)
			}
			if msg := err.Error(); !strings.Contains(msg, "downgrades are not supported") || strings.Contains(msg, "\n") {
				t.Fatalf("not one line saying so: %q", msg)
			}
			if v, err := damage.Format(path); err != nil || v != 99 {
				t.Fatalf("the store's format is now %d (%v)", v, err)
			}
		})
	}
	// The stores this release wrote name it.
	for _, name := range []string{"node.db", "audit.db", "registry.db"} {
		v, err := damage.Format(filepath.Join(golden, name))
		if err != nil || v != 1 {
			t.Errorf("%s: format %d, %v", name, v, err)
		}
	}
}
