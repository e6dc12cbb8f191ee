package exchange

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// Blobs is the content-addressed store under DATA/blobs/sha256/: a file's
// name is its SHA-256, so a stored blob can always be checked against its
// name.
type Blobs struct {
	dir string
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ErrNoBlob is returned for a digest the store does not hold.
var ErrNoBlob = errors.New("no blob with this digest")

// OpenBlobs opens (or creates) the store under dataDir.
func OpenBlobs(dataDir string) (*Blobs, error) {
	dir := filepath.Join(dataDir, "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create blob store: %w", err)
	}
	return &Blobs{dir: dir}, nil
}

// Path is where the blob with this digest lives (two-level fan-out).
func (b *Blobs) Path(sum string) string {
	return filepath.Join(b.dir, sum[:2], sum)
}

// Put stores content and returns its SHA-256 and size. The content is
// written to a temporary file and renamed into place only once hashed, so
// a half-written blob never carries a digest's name.
func (b *Blobs) Put(r io.Reader) (sum string, size int64, err error) {
	tmp, err := os.CreateTemp(b.dir, ".incoming-*")
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(tmp, h), r)
	if err != nil {
		return "", 0, fmt.Errorf("store content: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return "", 0, err
	}
	if err = tmp.Close(); err != nil {
		return "", 0, err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	dst := b.Path(sum)
	if err = os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", 0, err
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return "", 0, err
	}
	return sum, size, nil
}

// Open opens a stored blob for reading.
func (b *Blobs) Open(sum string) (*os.File, error) {
	if !hexSHA256.MatchString(sum) {
		return nil, fmt.Errorf("%q is not a SHA-256 digest: %w", sum, ErrNoBlob)
	}
	f, err := os.Open(b.Path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", sum, ErrNoBlob)
	}
	return f, err
}

// Size returns the size of a stored blob.
func (b *Blobs) Size(sum string) (int64, error) {
	if !hexSHA256.MatchString(sum) {
		return 0, fmt.Errorf("%q is not a SHA-256 digest: %w", sum, ErrNoBlob)
	}
	fi, err := os.Stat(b.Path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("%s: %w", sum, ErrNoBlob)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Remove deletes a blob no entry names.
func (b *Blobs) Remove(sum string) {
	if hexSHA256.MatchString(sum) {
		os.Remove(b.Path(sum))
	}
}
