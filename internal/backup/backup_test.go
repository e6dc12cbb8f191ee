package backup

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// identity is a node key and the peer ID it gives.
type identity struct {
	key ed25519.PrivateKey
	id  string
}

func newIdentity(t testing.TB) identity {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return identityOf(t, key)
}

// fixedIdentity is the same identity at every call with seed.
func fixedIdentity(t testing.TB, seed byte) identity {
	return identityOf(t, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
}

func identityOf(t testing.TB, key ed25519.PrivateKey) identity {
	t.Helper()
	pk, err := crypto.UnmarshalEd25519PublicKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := peer.IDFromPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return identity{key: key, id: pid.String()}
}

var sampleFiles = []struct{ name, body string }{
	{"key", "-----BEGIN PRIVATE KEY-----\nnot really\n"},
	{"config.yaml", "name: fr-grandest\ncountry: FR\n"},
	{"policies/api.rego", "package xborder.api\n"},
	{"raft/snapshots/2-10-1/state.bin", strings.Repeat("state", 1000)},
	{"blobs/sha256/ab/" + strings.Repeat("ab", 32), ""},
}

// archive writes sampleFiles as node signs them.
func archive(t testing.TB, signer identity, named identity, compress bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, compress)
	for _, f := range sampleFiles {
		fw, err := w.Create(f.name, int64(len(f.body)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(fw, f.body); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(Manifest{Node: "fr-grandest", PeerID: named.id, FederationID: "fed"}, signer.key); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func wantRefused(t *testing.T, err error, kind error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, kind) {
		t.Fatalf("want an *Error wrapping %q, got %T: %v", kind, err, err)
	}
	return e
}

func TestArchiveRoundTrip(t *testing.T) {
	node := newIdentity(t)
	for _, compress := range []bool{false, true} {
		raw := archive(t, node, node, compress)
		m, err := Verify(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("compress=%v: %v", compress, err)
		}
		if m.Format != FormatVersion || m.PeerID != node.id || m.Node != "fr-grandest" || len(m.Files) != len(sampleFiles) {
			t.Fatalf("manifest %+v", m)
		}
		dir := filepath.Join(t.TempDir(), "restored")
		if _, err := Extract(bytes.NewReader(raw), dir, ExtractOptions{PeerID: node.id}); err != nil {
			t.Fatal(err)
		}
		for _, f := range sampleFiles {
			got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.name)))
			if err != nil || string(got) != f.body {
				t.Fatalf("%s: %q, %v", f.name, got, err)
			}
			info, _ := os.Stat(filepath.Join(dir, filepath.FromSlash(f.name)))
			if info.Mode().Perm() != 0o600 {
				t.Fatalf("%s: mode %v", f.name, info.Mode())
			}
		}
		if _, err := os.Stat(filepath.Join(dir, ManifestName)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the manifest is not a file of the data dir: %v", err)
		}
	}
}

// Every prefix of an archive is refused, or (cut only in the trailing
// zero blocks) holds all of it.
func TestTruncatedArchiveIsRefused(t *testing.T) {
	node := newIdentity(t)
	for _, compress := range []bool{false, true} {
		raw := archive(t, node, node, compress)
		for n := 0; n < len(raw); n += 1 + n/50 {
			m, err := Verify(bytes.NewReader(raw[:n]))
			if err == nil {
				if compress || len(m.Files) != len(sampleFiles) {
					t.Fatalf("compress=%v: a prefix of %d of %d bytes was accepted", compress, n, len(raw))
				}
				continue
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("prefix %d: %T %v", n, err, err)
			}
		}
		dir := filepath.Join(t.TempDir(), "restored")
		_, err := Extract(bytes.NewReader(raw[:len(raw)/2]), dir, ExtractOptions{})
		wantRefused(t, err, ErrTruncated)
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("a refused archive left the target behind")
		}
		if left, _ := os.ReadDir(filepath.Dir(dir)); len(left) != 0 {
			t.Fatalf("a refused archive left %v behind", left)
		}
	}
}

// A byte flipped in any file's content is caught by the manifest's hash.
func TestFlippedByteIsRefused(t *testing.T) {
	node := newIdentity(t)
	raw := archive(t, node, node, false)
	for _, f := range sampleFiles {
		if f.body == "" {
			continue
		}
		i := bytes.Index(raw, []byte(f.body))
		for _, at := range []int{i, i + len(f.body)/2, i + len(f.body) - 1} {
			bad := bytes.Clone(raw)
			bad[at] ^= 0x20
			e := wantRefused(t, func() error { _, err := Verify(bytes.NewReader(bad)); return err }(), ErrDamaged)
			if e.Path != f.name {
				t.Fatalf("flip in %s reported as %q", f.name, e.Path)
			}
		}
	}
	// In the manifest itself: its signature no longer verifies.
	i := bytes.Index(raw, []byte(`"fr-grandest"`))
	bad := bytes.Clone(raw)
	bad[i+1] = 'x'
	_, err := Verify(bytes.NewReader(bad))
	wantRefused(t, err, ErrSignature)
}

// A manifest signed by another key than the one its peer ID names is
// refused; a sound archive of another node is refused when the restore
// names the node it expects.
func TestForeignArchiveIsRefused(t *testing.T) {
	node, other := newIdentity(t), newIdentity(t)
	_, err := Verify(bytes.NewReader(archive(t, other, node, false)))
	wantRefused(t, err, ErrSignature)
	dir := filepath.Join(t.TempDir(), "restored")
	_, err = Extract(bytes.NewReader(archive(t, other, other, true)), dir, ExtractOptions{PeerID: node.id})
	wantRefused(t, err, ErrForeign)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a foreign archive left the target behind")
	}
}

type rawEntry struct {
	hdr  tar.Header
	body string
}

// craft writes entries as a tar, then a manifest listing listed (with
// format) signed by node.
func craft(t *testing.T, node identity, format int, entries []rawEntry, listed []File) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	m := Manifest{Format: format, Node: "n", PeerID: node.id, Created: time.Unix(0, 0).UTC(), Files: listed}
	raw, _ := json.Marshal(m)
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(node.key, signed(raw)))
	entries = append(entries, rawEntry{tar.Header{Name: ManifestName, Typeflag: tar.TypeReg, Mode: 0o600}, string(raw)},
		rawEntry{tar.Header{Name: SignatureName, Typeflag: tar.TypeReg, Mode: 0o600}, sig})
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fileOf(name, body string) File {
	var buf bytes.Buffer
	w := NewWriter(&buf, false)
	fw, _ := w.Create("x", int64(len(body)))
	io.WriteString(fw, body)
	_ = w.finish()
	return File{Path: name, Size: int64(len(body)), SHA256: w.files[0].SHA256}
}

// Entries that would write outside the target, links and devices, names
// the manifest does not list and an unknown format are refused, and
// nothing is written outside the target.
func TestUnsafeEntriesAreRefused(t *testing.T) {
	node := newIdentity(t)
	reg := func(name string) rawEntry {
		return rawEntry{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600}, "pwned"}
	}
	cases := map[string]struct {
		entries []rawEntry
		listed  []File
		kind    error
	}{
		"parent":           {[]rawEntry{reg("../evil")}, []File{fileOf("../evil", "pwned")}, ErrUnsafePath},
		"nested parent":    {[]rawEntry{reg("policies/../../evil")}, nil, ErrUnsafePath},
		"absolute":         {[]rawEntry{reg("/tmp/evil")}, nil, ErrUnsafePath},
		"dot":              {[]rawEntry{reg("./key")}, nil, ErrUnsafePath},
		"backslash":        {[]rawEntry{reg(`..\evil`)}, nil, ErrUnsafePath},
		"symlink":          {[]rawEntry{{tar.Header{Name: "policies", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, ""}}, nil, ErrUnsafePath},
		"hard link":        {[]rawEntry{{tar.Header{Name: "key", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}, ""}}, nil, ErrUnsafePath},
		"directory":        {[]rawEntry{{tar.Header{Name: "raft/", Typeflag: tar.TypeDir, Mode: 0o700}, ""}}, nil, ErrUnsafePath},
		"device":           {[]rawEntry{{tar.Header{Name: "null", Typeflag: tar.TypeChar}, ""}}, nil, ErrUnsafePath},
		"duplicate":        {[]rawEntry{reg("key"), reg("key")}, []File{fileOf("key", "pwned")}, ErrUnsafePath},
		"unlisted":         {[]rawEntry{reg("key"), reg("extra")}, []File{fileOf("key", "pwned")}, ErrDamaged},
		"missing":          {[]rawEntry{reg("key")}, []File{fileOf("key", "pwned"), fileOf("gone", "")}, ErrDamaged},
		"listed unsafe":    {nil, []File{fileOf("../evil", "")}, ErrUnsafePath},
		"manifest as file": {[]rawEntry{reg(ManifestName)}, nil, ErrUnsafePath},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "data", "restored")
			_, err := Extract(bytes.NewReader(craft(t, node, FormatVersion, c.entries, c.listed)), dir, ExtractOptions{})
			wantRefused(t, err, c.kind)
			for _, p := range []string{filepath.Join(base, "evil"), filepath.Join(base, "data", "evil"), dir} {
				if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s exists after a refused archive", p)
				}
			}
		})
	}
	t.Run("format", func(t *testing.T) {
		_, err := Verify(bytes.NewReader(craft(t, node, FormatVersion+1, []rawEntry{reg("key")}, []File{fileOf("key", "pwned")})))
		wantRefused(t, err, ErrFormat)
	})
	t.Run("sound crafted archive", func(t *testing.T) { // the cases above fail for their reason only
		if _, err := Verify(bytes.NewReader(craft(t, node, FormatVersion, []rawEntry{reg("key")}, []File{fileOf("key", "pwned")}))); err != nil {
			t.Fatal(err)
		}
	})
}

func TestExtractRefusesANonEmptyTarget(t *testing.T) {
	node := newIdentity(t)
	raw := archive(t, node, node, false)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte("the live node's key"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Extract(bytes.NewReader(raw), dir, ExtractOptions{})
	wantRefused(t, err, ErrNotEmpty)
	if got, _ := os.ReadFile(filepath.Join(dir, "key")); string(got) != "the live node's key" {
		t.Fatal("the target was touched")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	_, err = Extract(bytes.NewReader(raw), file, ExtractOptions{})
	wantRefused(t, err, ErrNotEmpty)
	// An empty directory is a fine target.
	empty := t.TempDir()
	if _, err := Extract(bytes.NewReader(raw), empty, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
}

// The node's Check refusing the extracted dir leaves nothing behind.
func TestExtractCheckRefusal(t *testing.T) {
	node := newIdentity(t)
	dir := filepath.Join(t.TempDir(), "restored")
	sentinel := errors.New("the key is not the manifest's peer")
	_, err := Extract(bytes.NewReader(archive(t, node, node, false)), dir, ExtractOptions{Check: func(d string, m Manifest) error {
		if _, err := os.Stat(filepath.Join(d, "key")); err != nil {
			t.Errorf("check runs on the extracted files: %v", err)
		}
		return sentinel
	}})
	if !errors.Is(err, sentinel) {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(filepath.Dir(dir)); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// A file that shrinks or grows while it is copied fails the archive.
func TestWriterRefusesAFileOfAnotherSize(t *testing.T) {
	node := newIdentity(t)
	w := NewWriter(io.Discard, false)
	fw, _ := w.Create("a", 4)
	if _, err := fw.Write([]byte("12345")); err == nil {
		t.Fatal("a longer file was accepted")
	}
	w = NewWriter(io.Discard, false)
	fw, _ = w.Create("a", 4)
	fw.Write([]byte("12"))
	if _, err := w.Close(Manifest{PeerID: node.id}, node.key); err == nil {
		t.Fatal("a shorter file was accepted")
	}
	w = NewWriter(io.Discard, false)
	if _, err := w.Create("../a", 0); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("unsafe name: %v", err)
	}
}
