package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/boltfile"
	"github.com/xborder/xborder/internal/boltfile/damage"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/console/sessionstore"
)

// storeFiles are the node's bbolt files and what an operator does about a
// damaged one: the registry's files are replicas the partners hold too.
var storeFiles = []struct{ name, remedy string }{
	{"node.db", boltfile.RestoreFromBackup},
	{exchange.ExchangeDBFile, boltfile.RestoreFromBackup},
	{"audit.db", boltfile.RestoreFromBackup},
	{"registry.db", boltfile.ResyncFromPartners},
	{filepath.Join("raft", "raft.db"), boltfile.ResyncFromPartners},
	{sessionstore.File, sessionstore.Remedy},
}

// writtenDataDir runs a one-member federation until each of its files
// holds data (catalogue entries, audit records, a committed audit anchor),
// stops it and returns its data dir and config.
func writtenDataDir(t *testing.T) (string, Config) {
	t.Helper()
	f := newTestFed(t, "grand-est-ai", []string{"fr-grandest"}, nil)
	n := f.start(0)
	ctx := context.Background()
	for i := range 12 {
		id := fmt.Sprintf("air-quality-%02d", i)
		_, err := n.catalogue.Publish(ctx, exchange.Publication{ID: id, Title: "Air quality " + id, Theme: "health",
			Description:    strings.Repeat("Hourly PM2.5 and NO2 readings of the Upper Rhine stations. ", 4),
			Classification: "open", FileName: id + ".csv"}, strings.NewReader("station,pm25\nstrasbourg,12\n"))
		must(t, err)
	}
	testkit.Eventually(t, 30*time.Second, "the audit head is anchored in the registry", func() bool {
		a, err := n.registry.Load().Anchor("fr-grandest")
		return err == nil && a.Seq > 1
	})
	must(t, n.Close())
	return f.dirs[0], f.cfgs[0]
}

// copyDataDir copies a stopped node's data dir, key mode included.
func copyDataDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "fr-grandest")
	must(t, os.CopyFS(dst, os.DirFS(src)))
	must(t, os.Chmod(filepath.Join(dst, KeyFile), 0o600))
	return dst
}

// Each of the node's bbolt files, damaged each of four ways, stops the
// start with an error that names the file and the remedy: never a panic,
// never another file's error.
func TestDamagedStoreStopsTheStartNamingTheFileAndTheRemedy(t *testing.T) {
	golden, cfg := writtenDataDir(t)
	for _, file := range storeFiles {
		for _, kind := range damage.Kinds {
			t.Run(file.name+"/"+kind.Name, func(t *testing.T) {
				dir := copyDataDir(t, golden)
				path := filepath.Join(dir, file.name)
				must(t, kind.Damage(path))
				n, err := Open(dir, cfg, WithLogger(testLogger(t, cfg.Name)))
				must(t, err)
				err = n.Start(context.Background())
				_ = n.Close()
				var ce *boltfile.CorruptError
				if !errors.As(err, &ce) {
					t.Fatalf("start: want a *boltfile.CorruptError, got %T: %v", err, err)
				}
				if ce.File != path || ce.Remedy != file.remedy {
					t.Fatalf("the error names %s with remedy %q, want %s with %q", ce.File, ce.Remedy, path, file.remedy)
				}
				if msg := err.Error(); strings.Contains(msg, "\n") {
					t.Fatalf("not one line: %q", msg)
				}
			})
		}
	}
}
