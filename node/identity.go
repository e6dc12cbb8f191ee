package node

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// KeyFile is the name of the node's private key inside the data dir.
const KeyFile = "key"

// ErrKeyExists is returned by CreateKey when the data dir already holds a
// key: an identity is never overwritten, because the federation knows the
// node by it.
var ErrKeyExists = errors.New("a node key already exists")

// Identity is the node's private key and the peer ID derived from it.
type Identity struct {
	Key    ed25519.PrivateKey
	PeerID peer.ID
}

// LibP2PKey returns the key in the form go-libp2p expects.
func (id Identity) LibP2PKey() crypto.PrivKey {
	k, err := crypto.UnmarshalEd25519PrivateKey(id.Key)
	if err != nil {
		// An ed25519.PrivateKey is always 64 bytes; this cannot fail.
		panic(fmt.Sprintf("ed25519 key conversion: %v", err))
	}
	return k
}

// PublicKey returns the node's public key.
func (id Identity) PublicKey() ed25519.PublicKey {
	return id.Key.Public().(ed25519.PublicKey)
}

func identityFromKey(k ed25519.PrivateKey) (Identity, error) {
	pub, err := crypto.UnmarshalEd25519PublicKey(k.Public().(ed25519.PublicKey))
	if err != nil {
		return Identity{}, err
	}
	pid, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Key: k, PeerID: pid}, nil
}

// CreateKey generates a new Ed25519 key and writes it to path as PKCS#8 PEM
// with mode 0600. It refuses to overwrite an existing file.
func CreateKey(path string) (Identity, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Identity{}, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return Identity{}, fmt.Errorf("encode key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return Identity{}, fmt.Errorf("%s: %w", path, ErrKeyExists)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("create key file: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return Identity{}, fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return Identity{}, fmt.Errorf("write key file %s: %w", path, err)
	}
	return identityFromKey(k)
}

// LoadKey reads the node key written by CreateKey. It refuses a key file
// that other users can read, as ssh does, because whoever holds the key
// speaks for the region.
func LoadKey(path string) (Identity, error) {
	info, err := os.Stat(path)
	if err != nil {
		return Identity{}, fmt.Errorf("read node key: %w (run `xborder init` first)", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return Identity{}, fmt.Errorf("node key %s has mode %v: it must be readable by its owner only (chmod 600 %s)", path, info.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return Identity{}, fmt.Errorf("read node key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		return Identity{}, fmt.Errorf("node key %s: not a PEM \"PRIVATE KEY\" block", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return Identity{}, fmt.Errorf("node key %s: %w", path, err)
	}
	k, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return Identity{}, fmt.Errorf("node key %s: %T is not an Ed25519 key", path, parsed)
	}
	return identityFromKey(k)
}

// Card is a member's public identity: what `xborder identity --json` prints
// and what the genesis file lists for every founding member.
type Card struct {
	Name    string   `json:"name"`
	Country string   `json:"country"`
	Org     string   `json:"org"`
	PeerID  string   `json:"peer_id"`
	Addrs   []string `json:"addrs"`
}
