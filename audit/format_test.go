package audit

import (
	"testing"

	"github.com/xborder/xborder/internal/boltfile/damage"
)

// audit.db through a rolling upgrade: a trail from before format stamps
// is stamped and keeps verifying; one from a newer release is refused.
func TestStoreFormatVersions(t *testing.T) {
	l, pub, path := newLog(t, 5)
	key := l.key
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	damage.Versions(t, path, storeFormat.Version, func() error {
		l, err := Open(path, key)
		if err != nil {
			return err
		}
		return l.Close()
	})
	l, err := Open(path, key)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rep, err := l.Verify(pub, nil)
	if err != nil || !rep.OK || rep.Records != 5 {
		t.Fatalf("the trail after the stamps: %+v, %v", rep, err)
	}
}
