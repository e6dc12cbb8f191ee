package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Why an archive is refused (the Err of an *Error, for errors.Is).
var (
	ErrTruncated  = errors.New("the archive is truncated or not a backup archive")
	ErrManifest   = errors.New("the archive's manifest is missing or malformed")
	ErrFormat     = errors.New("unknown archive format version")
	ErrSignature  = errors.New("the manifest's signature does not verify against the peer ID it names")
	ErrForeign    = errors.New("the archive is another node's")
	ErrDamaged    = errors.New("a file does not match the manifest")
	ErrUnsafePath = errors.New("unsafe entry")
	ErrNotEmpty   = errors.New("the target directory is not empty")
)

// Error is an archive refused: Path names the entry at fault ("" for the
// archive as a whole) and Err says why (one of the Err* above, wrapped).
type Error struct {
	Path string
	Err  error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "backup archive refused: " + e.Err.Error()
	}
	return fmt.Sprintf("backup archive refused: %s: %v", e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func refuse(p string, kind error, format string, args ...any) error {
	if format == "" {
		return &Error{Path: p, Err: kind}
	}
	return &Error{Path: p, Err: fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))}
}

// Verify reads a whole archive and checks it as Extract does, writing
// nothing. It returns the verified manifest.
func Verify(r io.Reader) (Manifest, error) {
	return read(r, func(string) (io.WriteCloser, error) { return discard{}, nil })
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Close() error                { return nil }

// ExtractOptions are the checks of an Extract beyond the archive's own.
type ExtractOptions struct {
	// PeerID, when set, is the node the archive must be of.
	PeerID string
	// Check, when set, is called with the extracted and verified
	// directory before it is moved into place; an error refuses the
	// archive (the node checks its key and genesis against the
	// manifest).
	Check func(dir string, m Manifest) error
}

// Extract restores the archive read from r into dir, which must not exist
// or be empty (else ErrNotEmpty). The files are written into a new
// directory next to dir and moved into place only once every check
// passed; on any error nothing is left behind.
func Extract(r io.Reader, dir string, opts ExtractOptions) (Manifest, error) {
	dir = filepath.Clean(dir)
	if err := checkEmpty(dir); err != nil {
		return Manifest{}, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return Manifest{}, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".restore-")
	if err != nil {
		return Manifest{}, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return Manifest{}, err
	}
	defer root.Close()
	m, err := read(r, func(name string) (io.WriteCloser, error) {
		// Every path was checked; the root refuses any escape anyway.
		if d := filepath.Dir(filepath.FromSlash(name)); d != "." {
			if err := root.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
		}
		f, err := root.OpenFile(filepath.FromSlash(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		return syncCloser{f}, nil
	})
	if err != nil {
		return Manifest{}, err
	}
	if opts.PeerID != "" && m.PeerID != opts.PeerID {
		return Manifest{}, refuse("", ErrForeign, "it is the backup of %s (%s), not of %s", m.Node, m.PeerID, opts.PeerID)
	}
	if opts.Check != nil {
		if err := opts.Check(tmp, m); err != nil {
			return Manifest{}, err
		}
	}
	if err := syncDir(tmp); err != nil {
		return Manifest{}, err
	}
	// dir is empty (checked above): an empty dir gives way to the
	// restored one; one that filled up meanwhile makes Remove fail.
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Manifest{}, refuse("", ErrNotEmpty, "%s: %v", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return Manifest{}, err
	}
	done = true
	return m, syncDir(parent)
}

// checkEmpty refuses a dir that exists and is not an empty directory.
func checkEmpty(dir string) error {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !info.IsDir():
		return refuse("", ErrNotEmpty, "%s is a file", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return refuse("", ErrNotEmpty, "%s holds %s; restore into an empty or new directory", dir, entries[0].Name())
	}
	return nil
}

type syncCloser struct{ f *os.File }

func (s syncCloser) Write(p []byte) (int, error) { return s.f.Write(p) }
func (s syncCloser) Close() error {
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return err
	}
	return s.f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// read reads the archive, writing each file through create, and checks
// it once it has read the end.
func read(r io.Reader, create func(name string) (io.WriteCloser, error)) (Manifest, error) {
	br := bufio.NewReader(r)
	var in io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return Manifest{}, refuse("", ErrTruncated, "gzip: %v", err)
		}
		defer gz.Close()
		in = gz
	}
	tr := tar.NewReader(in)
	got := map[string]File{}
	var manifest, sig []byte
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// Read to the end: a gzip stream checks its length and CRC
			// there, so that a cut in its trailer is caught too.
			if _, err := io.Copy(io.Discard, in); err != nil {
				return Manifest{}, refuse("", ErrTruncated, "%v", err)
			}
			break
		}
		if err != nil {
			return Manifest{}, refuse("", ErrTruncated, "%v", err)
		}
		name := h.Name
		if h.Typeflag != tar.TypeReg {
			return Manifest{}, refuse(name, ErrUnsafePath, "not a regular file (tar type %q): links and devices are refused", h.Typeflag)
		}
		if _, dup := got[name]; dup || (name == ManifestName && manifest != nil) || (name == SignatureName && sig != nil) {
			return Manifest{}, refuse(name, ErrUnsafePath, "the archive holds it twice")
		}
		if name == ManifestName || name == SignatureName {
			limit := int64(MaxManifestBytes)
			if name == SignatureName {
				limit = 1024
			}
			if h.Size > limit {
				return Manifest{}, refuse(name, ErrManifest, "larger than %d bytes", limit)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return Manifest{}, refuse(name, ErrTruncated, "%v", err)
			}
			if name == ManifestName {
				manifest = b
			} else {
				sig = b
			}
			continue
		}
		if err := checkPath(name); err != nil {
			return Manifest{}, err
		}
		w, err := create(name)
		if err != nil {
			return Manifest{}, fmt.Errorf("restore %s: %w", name, err)
		}
		hs := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, hs), tr)
		if cerr := w.Close(); err == nil && cerr != nil {
			return Manifest{}, fmt.Errorf("restore %s: %w", name, cerr)
		}
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return Manifest{}, fmt.Errorf("restore %s: %w", name, err)
			}
			return Manifest{}, refuse(name, ErrTruncated, "%v", err)
		}
		got[name] = File{Path: name, Size: n, SHA256: hex.EncodeToString(hs.Sum(nil))}
	}
	m, err := checkManifest(manifest, sig)
	if err != nil {
		return Manifest{}, err
	}
	listed := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if err := checkPath(f.Path); err != nil {
			return Manifest{}, err
		}
		if listed[f.Path] {
			return Manifest{}, refuse(f.Path, ErrManifest, "listed twice")
		}
		listed[f.Path] = true
		g, ok := got[f.Path]
		switch {
		case !ok:
			return Manifest{}, refuse(f.Path, ErrDamaged, "listed in the manifest but missing from the archive")
		case g.Size != f.Size:
			return Manifest{}, refuse(f.Path, ErrDamaged, "%d bytes, the manifest says %d", g.Size, f.Size)
		case g.SHA256 != f.SHA256:
			return Manifest{}, refuse(f.Path, ErrDamaged, "SHA-256 %s, the manifest says %s", g.SHA256, f.SHA256)
		}
	}
	for p := range got {
		if !listed[p] {
			return Manifest{}, refuse(p, ErrDamaged, "in the archive but not in the manifest")
		}
	}
	return m, nil
}

// checkManifest decodes the manifest, checks its format version first (a
// later format may differ in everything else) and then its signature
// against the peer ID it names.
func checkManifest(raw, sig []byte) (Manifest, error) {
	if raw == nil {
		return Manifest{}, refuse(ManifestName, ErrTruncated, "the archive ends before its manifest")
	}
	var v struct {
		Format int `json:"format"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return Manifest{}, refuse(ManifestName, ErrManifest, "%v", err)
	}
	if v.Format != FormatVersion {
		return Manifest{}, refuse(ManifestName, ErrFormat, "version %d; this xborder reads version %d", v.Format, FormatVersion)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, refuse(ManifestName, ErrManifest, "%v", err)
	}
	if sig == nil {
		return Manifest{}, refuse(SignatureName, ErrTruncated, "the archive ends before the manifest's signature")
	}
	pub, err := peerKey(m.PeerID)
	if err != nil {
		return Manifest{}, refuse(ManifestName, ErrManifest, "peer_id: %v", err)
	}
	s, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sig)))
	if err != nil || len(s) != ed25519.SignatureSize || !ed25519.Verify(pub, signed(raw), s) {
		return Manifest{}, refuse(SignatureName, ErrSignature, "")
	}
	return m, nil
}

// peerKey is the Ed25519 public key a peer ID embeds.
func peerKey(id string) (ed25519.PublicKey, error) {
	pid, err := peer.Decode(id)
	if err != nil {
		return nil, err
	}
	pk, err := pid.ExtractPublicKey()
	if err != nil {
		return nil, err
	}
	if pk.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("not an Ed25519 peer ID")
	}
	raw, err := pk.Raw()
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}
