// Package signins keeps the tokens `xborder login` obtained, one per node
// API address, in the user's config dir (tokens.json). The file holds
// bearer tokens and refresh tokens, which renew the access tokens for as
// long as the identity provider keeps the session (hours to weeks): it is
// written mode 0600 in a directory of mode 0700, and atomically (a
// temporary file beside it, then a rename), so that a crash mid-write
// leaves the previous file whole.
package signins

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// FileName is the file in the config dir.
const FileName = "tokens.json"

// EnvDir overrides the config dir (tests, several identities side by side).
const EnvDir = "XBORDER_CONFIG_DIR"

// formatVersion is the version of tokens.json this package writes.
const formatVersion = 1

// maxFileSize bounds what is read: a file this large is not one this
// package wrote.
const maxFileSize = 4 << 20

// SignIn is a saved sign-in at one node.
type SignIn struct {
	// Token is the identity provider's access token, sent as the bearer
	// token.
	Token string `json:"token"`
	// Expires is when the token stops being valid.
	Expires time.Time `json:"expires"`
	// Provider is the node's name for the identity provider, Issuer its URL.
	Provider string `json:"provider"`
	Issuer   string `json:"issuer"`
	// RefreshToken, when the provider issued one, renews Token at the
	// issuer when it expires. It is a long-lived secret: whoever holds it
	// gets access tokens in the user's name until the provider ends the
	// session.
	RefreshToken string `json:"refresh_token,omitempty"`
	// ClientID is the client the tokens were issued to (the node's
	// device_client_id), Scopes those asked for: a refresh needs them.
	ClientID string   `json:"client_id,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
	// IDPCAFile is the absolute path of the certificates trusted for the
	// issuer (login's --idp-ca-file), if any.
	IDPCAFile string `json:"idp_ca_file,omitempty"`
	// Subject, Email and Role are who the node took the token for when
	// it was saved.
	Subject string    `json:"subject"`
	Email   string    `json:"email,omitempty"`
	Role    string    `json:"role"`
	Saved   time.Time `json:"saved"`
}

// file is tokens.json.
type file struct {
	Version int               `json:"version"`
	Nodes   map[string]SignIn `json:"nodes"`
}

// CorruptError is a tokens.json that cannot be read as one: login
// rewrites it.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("the saved sign-ins in %s cannot be read (%v): run `xborder login` to rewrite the file, or remove it", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Store is tokens.json in a directory.
type Store struct {
	dir string
}

// DefaultDir is $XBORDER_CONFIG_DIR, else os.UserConfigDir()/xborder.
func DefaultDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config dir to keep sign-ins in (set %s): %w", EnvDir, err)
	}
	return filepath.Join(base, "xborder"), nil
}

// Open is the store in dir; nothing is read or created before use.
func Open(dir string) *Store { return &Store{dir: dir} }

// Path is tokens.json's path.
func (s *Store) Path() string { return filepath.Join(s.dir, FileName) }

// Get is the sign-in saved for the node at addr; ok is false when there
// is none (or no file at all).
func (s *Store) Get(addr string) (in SignIn, ok bool, err error) {
	f, err := s.read()
	if err != nil {
		return SignIn{}, false, err
	}
	in, ok = f.Nodes[addr]
	return in, ok, nil
}

// Put saves the sign-in for the node at addr, keeping the others. A
// corrupt file is replaced by one holding this sign-in alone; replaced
// tells so.
func (s *Store) Put(addr string, in SignIn) (replaced bool, err error) {
	f, err := s.read()
	var ce *CorruptError
	switch {
	case errors.As(err, &ce):
		f, replaced = &file{Nodes: map[string]SignIn{}}, true
	case err != nil:
		return false, err
	}
	f.Nodes[addr] = in
	return replaced, s.write(f)
}

// Delete removes the sign-in saved for the node at addr; found is false
// when there was none.
func (s *Store) Delete(addr string) (found bool, err error) {
	f, err := s.read()
	if err != nil {
		return false, err
	}
	if _, found = f.Nodes[addr]; !found {
		return false, nil
	}
	delete(f.Nodes, addr)
	return true, s.write(f)
}

// read loads tokens.json; a missing file is an empty one.
func (s *Store) read() (*file, error) {
	path := s.Path()
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &file{Nodes: map[string]SignIn{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read saved sign-ins: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("read saved sign-ins: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, &CorruptError{Path: path, Err: errors.New("not a regular file")}
	}
	// Bearer tokens others can read are others' tokens too: refuse to use
	// them rather than carry on quietly.
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s holds bearer tokens but others may read it (mode %04o): run `chmod 600 %s` and sign in again (`xborder login`)", path, st.Mode().Perm(), path)
	}
	raw, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read saved sign-ins: %w", err)
	}
	f, err := parse(raw)
	if err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	return f, nil
}

// parse reads tokens.json's content.
func parse(raw []byte) (*file, error) {
	if len(raw) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	var f file
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	if f.Version != formatVersion {
		return nil, fmt.Errorf("format version %d, this xborder reads %d", f.Version, formatVersion)
	}
	if f.Nodes == nil {
		f.Nodes = map[string]SignIn{}
	}
	for addr, in := range f.Nodes {
		if addr == "" || in.Token == "" || in.Expires.IsZero() {
			return nil, fmt.Errorf("the entry for %q lacks its address, token or expiry", addr)
		}
	}
	return &f, nil
}

// write replaces tokens.json atomically: a temporary file in the same
// directory, synced, then renamed over it.
func (s *Store) write(f *file) error {
	f.Version = formatVersion
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	// The directory is xborder's own: others have no business listing it.
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, FileName+".*.tmp")
	if err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file 0600 already; said again, since it holds
	// tokens.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.Path()); err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	done = true
	return nil
}
