package node

import "github.com/xborder/xborder/internal/boltfile"

// Every bbolt store records the release that created or last migrated
// it, so that an older release refusing the store can say which one
// wrote it (see boltfile.FormatError).
func init() { boltfile.Release = Version }
