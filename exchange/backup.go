package exchange

import (
	"io/fs"
	"path/filepath"

	"github.com/xborder/xborder/internal/boltfile"
)

// Backup writes a consistent copy of node.db to sink, then every stored
// blob under blobs/sha256/ (names relative to the data dir), while the
// catalogue keeps serving. node.db goes first: a blob is stored before
// the entry that names it is committed and is never removed once named,
// so every blob the copied node.db names is still there to be copied.
// Blobs stored since are copied too (unnamed, they are harmless).
func (c *Catalogue) Backup(sink boltfile.Sink) error {
	if err := boltfile.Copy(c.db, "node.db", sink); err != nil {
		return err
	}
	return c.blobs.Backup(sink)
}

// Backup writes every stored blob to sink as blobs/sha256/XX/SUM. A file
// being stored (.incoming-*) is left out.
func (b *Blobs) Backup(sink boltfile.Sink) error {
	return filepath.WalkDir(b.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || !hexSHA256.MatchString(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(filepath.Dir(filepath.Dir(b.dir)), path)
		if err != nil {
			return err
		}
		return boltfile.CopyFile(sink, filepath.ToSlash(rel), path)
	})
}

// Backup writes a consistent copy of exchange.db (grants, request
// nonces) to sink while the service runs.
func (s *Service) Backup(sink boltfile.Sink) error {
	return boltfile.Copy(s.db.db, ExchangeDBFile, sink)
}
