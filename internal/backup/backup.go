// Package backup is the format of a node's backup archive: a tar stream
// (gzip-compressed or not) of the data dir's files as the node copied
// them while it ran, followed by MANIFEST.json, which names each file with
// its size and SHA-256, and MANIFEST.sig, the manifest's Ed25519
// signature by the node's key.
//
// A Writer is the archive as the node's stores write their files into it
// (it is their boltfile.Sink). Verify reads an archive and Extract
// restores one into an empty directory; both refuse, as an *Error, an
// archive that is truncated, whose manifest is not signed by the peer it
// names, that holds a file the manifest does not list (or lists with
// another hash), an entry that is not a plain relative path to a regular
// file, or a format version they do not know.
package backup

import (
	"archive/tar"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// FormatVersion is the version of the archive format this package writes
// and the only one it reads.
const FormatVersion = 1

// The manifest's entries; no file of the data dir may take these names.
const (
	ManifestName  = "MANIFEST.json"
	SignatureName = "MANIFEST.sig"
)

// signingDomain separates the manifest's signature from every other
// signature made with the node's key.
const signingDomain = "xborder-backup/1\x00"

// Limits on what a reader accepts.
const (
	// MaxManifestBytes bounds the manifest held in memory (about a
	// million files).
	MaxManifestBytes = 256 << 20
	// MaxPathBytes bounds a file's path.
	MaxPathBytes = 1024
)

// File is one file of the archive as the manifest lists it.
type File struct {
	Path   string `json:"path"` // relative to the data dir, slash-separated
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lowercase hex
}

// Manifest describes an archive: whose node it is and what it holds.
type Manifest struct {
	Format       int       `json:"format"`
	Node         string    `json:"node"`
	PeerID       string    `json:"peer_id"`
	FederationID string    `json:"federation_id"`
	Created      time.Time `json:"created"`
	Files        []File    `json:"files"`
}

// Size is the total size of the files the manifest lists.
func (m Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Writer writes an archive. Create each file, write exactly its size,
// then Close with the manifest's header fields and the node's key. A
// Writer is not safe for concurrent use.
type Writer struct {
	gz      *gzip.Writer
	tw      *tar.Writer
	created time.Time
	files   []File
	seen    map[string]bool
	cur     *entry
	err     error // sticky: an archive that failed once is not continued
}

// NewWriter starts an archive on w, gzip-compressed when compress.
func NewWriter(w io.Writer, compress bool) *Writer {
	a := &Writer{created: time.Now().UTC().Truncate(time.Second), seen: map[string]bool{}}
	if compress {
		a.gz = gzip.NewWriter(w)
		w = a.gz
	}
	a.tw = tar.NewWriter(w)
	return a
}

// entry is the file being written.
type entry struct {
	a    *Writer
	file File
	h    hash.Hash
	n    int64
}

func (e *entry) Write(p []byte) (int, error) {
	if e.a.cur != e {
		return 0, fmt.Errorf("%s: written after the next file was started", e.file.Path)
	}
	if e.a.err != nil {
		return 0, e.a.err
	}
	if e.n+int64(len(p)) > e.file.Size {
		e.a.err = fmt.Errorf("%s: more than the %d bytes announced (the file grew while it was copied)", e.file.Path, e.file.Size)
		return 0, e.a.err
	}
	n, err := e.a.tw.Write(p)
	e.h.Write(p[:n])
	e.n += int64(n)
	if err != nil {
		e.a.err = err
	}
	return n, err
}

// Create starts the file name (a slash-separated path relative to the
// data dir) of exactly size bytes; the returned writer takes its content.
func (a *Writer) Create(name string, size int64) (io.Writer, error) {
	if err := a.finish(); err != nil {
		return nil, err
	}
	if err := checkPath(name); err != nil {
		a.err = err
		return nil, err
	}
	if a.seen[name] {
		a.err = &Error{Path: name, Err: fmt.Errorf("%w: the file is written twice", ErrUnsafePath)}
		return nil, a.err
	}
	if size < 0 {
		a.err = fmt.Errorf("%s: negative size %d", name, size)
		return nil, a.err
	}
	a.seen[name] = true
	if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600,
		ModTime: a.created, Format: tar.FormatPAX}); err != nil {
		a.err = err
		return nil, err
	}
	a.cur = &entry{a: a, file: File{Path: name, Size: size}, h: sha256.New()}
	return a.cur, nil
}

// finish closes the file being written, which must be complete.
func (a *Writer) finish() error {
	if a.err != nil {
		return a.err
	}
	e := a.cur
	if e == nil {
		return nil
	}
	a.cur = nil
	if e.n != e.file.Size {
		a.err = fmt.Errorf("%s: %d of the %d bytes announced were written (the file shrank while it was copied)", e.file.Path, e.n, e.file.Size)
		return a.err
	}
	e.file.SHA256 = hex.EncodeToString(e.h.Sum(nil))
	a.files = append(a.files, e.file)
	return nil
}

// Close completes the archive: it writes the manifest (m's node, peer and
// federation, with the format, the creation time and every file written)
// and its signature by key, and returns the manifest. It does not close
// the underlying writer.
func (a *Writer) Close(m Manifest, key ed25519.PrivateKey) (Manifest, error) {
	if err := a.finish(); err != nil {
		return Manifest{}, err
	}
	m.Format, m.Created, m.Files = FormatVersion, a.created, a.files
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	raw = append(raw, '\n')
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, signed(raw))) + "\n"
	for _, f := range []struct {
		name string
		body []byte
	}{{ManifestName, raw}, {SignatureName, []byte(sig)}} {
		if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Size: int64(len(f.body)), Mode: 0o600,
			ModTime: a.created, Format: tar.FormatPAX}); err != nil {
			return Manifest{}, err
		}
		if _, err := a.tw.Write(f.body); err != nil {
			return Manifest{}, err
		}
	}
	if err := a.tw.Close(); err != nil {
		return Manifest{}, err
	}
	if a.gz != nil {
		if err := a.gz.Close(); err != nil {
			return Manifest{}, err
		}
	}
	a.err = errors.New("the archive is closed")
	return m, nil
}

func signed(manifest []byte) []byte {
	return append([]byte(signingDomain), manifest...)
}

// checkPath refuses a name that is not a clean, relative, slash-separated
// path inside the data dir, or that is one of the manifest's names.
func checkPath(name string) error {
	bad := func(why string) error {
		return &Error{Path: name, Err: fmt.Errorf("%w: %s", ErrUnsafePath, why)}
	}
	switch {
	case name == "":
		return bad("empty path")
	case len(name) > MaxPathBytes:
		return bad(fmt.Sprintf("longer than %d bytes", MaxPathBytes))
	case !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\\"):
		return bad("not a plain path (NUL, backslash or invalid UTF-8)")
	case strings.HasPrefix(name, "/"):
		return bad("an absolute path")
	case path.Clean(name) != name:
		return bad("not a clean path")
	case name == ".." || strings.HasPrefix(name, "../"):
		return bad("outside the data dir")
	case name == ManifestName || name == SignatureName:
		return bad("the manifest's own name")
	}
	for _, el := range strings.Split(name, "/") {
		if el == "." || el == ".." {
			return bad("a . or .. element")
		}
	}
	return nil
}
