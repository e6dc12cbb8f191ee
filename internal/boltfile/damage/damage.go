// Package damage damages a bbolt file the ways a disk, a crash or an
// operator's mistake does, for the tests that show xborder reports each
// one as a damaged file instead of panicking.
package damage

import (
	"crypto/rand"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Kind is one way to damage a file.
type Kind struct {
	Name   string
	Damage func(path string) error
}

// Kinds are the damages a node must survive: garbage over the whole file,
// both meta pages zeroed, the file cut in half, and a bucket's root page
// overwritten.
var Kinds = []Kind{
	{"garbage", Garbage},
	{"zeroed-meta", ZeroMeta},
	{"truncated", Truncate},
	{"overwritten-root", OverwriteRoot},
}

// Garbage overwrites the whole file with random bytes.
func Garbage(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return writeAt(path, random(int(info.Size())), 0)
}

// ZeroMeta zeroes meta pages 0 and 1.
func ZeroMeta(path string) error {
	ps, err := pageSize(path)
	if err != nil {
		return err
	}
	return writeAt(path, make([]byte, 2*ps), 0)
}

// Truncate cuts the file to half its pages.
func Truncate(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	ps, err := pageSize(path)
	if err != nil {
		return err
	}
	return os.Truncate(path, info.Size()/int64(ps)/2*int64(ps))
}

// OverwriteRoot overwrites with random bytes the root page of the bucket
// whose root is a page of its own (the largest one's), or, when every
// bucket is small enough to live inline, the page holding them all.
func OverwriteRoot(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	ps := db.Info().PageSize
	var root uint64
	err = db.View(func(tx *bolt.Tx) error {
		root = uint64(tx.Cursor().Bucket().Root())
		most := 0
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			if n := b.Stats().KeyN; b.Root() != 0 && n > most {
				root, most = uint64(b.Root()), n
			}
			return nil
		})
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if root < 2 {
		return fmt.Errorf("%s: no bucket root page found", path)
	}
	return writeAt(path, random(ps), int64(root)*int64(ps))
}

func pageSize(path string) (int, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return db.Info().PageSize, nil
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func writeAt(path string, b []byte, off int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, off); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
