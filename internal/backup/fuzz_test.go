package backup

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzVerify: no input makes the reader panic or accept an archive that
// is not the node's own: an accepted archive's manifest verified under
// the seed node's key.
func FuzzVerify(f *testing.F) {
	// Fixed keys: the fuzzing workers each build the seeds again.
	node, other := fixedIdentity(f, 1), fixedIdentity(f, 2)
	plain := archive(f, node, node, false)
	f.Add(plain)
	f.Add(archive(f, node, node, true))
	f.Add(archive(f, other, node, false))
	f.Add(plain[:len(plain)/2])
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Verify(bytes.NewReader(raw))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not an *Error: %T %v", err, err)
			}
			return
		}
		if m.PeerID != node.id {
			t.Fatalf("accepted an archive signed as %s", m.PeerID)
		}
	})
}
