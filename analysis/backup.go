package analysis

import "github.com/xborder/xborder/internal/boltfile"

// Backup writes a consistent copy of analysis.db (the analyses run from
// this node, released results, query nonces) to sink while the service
// runs.
func (s *Service) Backup(sink boltfile.Sink) error {
	return boltfile.Copy(s.db.db, DBFile, sink)
}
