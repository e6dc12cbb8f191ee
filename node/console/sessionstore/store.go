// Package sessionstore keeps the web console's sessions in a bbolt file
// (DATA/sessions.db), so that a session outlives a restart of the node and
// an operator can list and revoke it.
//
// The browser holds a random token of 256 bits; the file holds only its
// SHA-256, which is also the session's ID as operators see it. A copy of
// the file (a backup, a stolen disk) therefore signs nobody in, and an ID
// shown in a listing cannot be replayed as a cookie.
//
// A session ends at whichever comes first: its absolute expiry (set at
// sign-in), its idle timeout (no request for Config.IdleTimeout), sign-out
// or revocation. An expired session is refused and deleted when it is
// next looked up, listed or purged.
package sessionstore

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile"
	"github.com/xborder/xborder/policy"
)

// File is the store's file name in the node's data directory.
const File = "sessions.db"

// Remedy is what the operator should do about a damaged sessions.db: it
// holds nothing but who is signed in, so losing it only signs everybody
// out.
const Remedy = "move it aside and restart (every console user is signed out), or restore it from backup"

// How a user signed in.
const (
	MethodCode = "code" // a one-time code minted by `xborder console`
	MethodOIDC = "oidc" // an OpenID Connect issuer (Issuer, IDTokenHint)
)

var (
	// ErrNotFound: no session has this token or ID (never issued here,
	// signed out, revoked or purged).
	ErrNotFound = errors.New("no such console session")
	// ErrExpired: the session passed its absolute expiry or idle timeout.
	ErrExpired = errors.New("the console session has expired")
	// ErrFull: Config.MaxSessions live sessions exist already.
	ErrFull = errors.New("too many open console sessions")
	// ErrBadSession: what Create was given cannot be a session.
	ErrBadSession = errors.New("invalid console session")
)

// storeFormat is sessions.db's layout version (see boltfile.Format).
var storeFormat = boltfile.Format{Name: "console session store", Version: 1}

var bucketSessions = []byte("sessions")

// Config says where the store lives and how long sessions last.
type Config struct {
	// Path is the bbolt file, DATA/sessions.db.
	Path string
	// Lifetime is a session's longest life from sign-in, whatever its
	// activity; a sign-in may ask for less.
	Lifetime time.Duration
	// IdleTimeout ends a session that made no request for this long.
	IdleTimeout time.Duration
	// MaxSessions bounds the live sessions, so that a flood of sign-ins
	// cannot fill the disk.
	MaxSessions int
}

// DefaultConfig is a 12 h lifetime and a 1 h idle timeout in
// dataDir/sessions.db.
func DefaultConfig(dataDir string) Config {
	return Config{Path: filepath.Join(dataDir, File), Lifetime: 12 * time.Hour, IdleTimeout: time.Hour, MaxSessions: 10000}
}

// Validate reports a config the store cannot run with.
func (c Config) Validate() error {
	switch {
	case c.Path == "":
		return errors.New("sessions: path is empty")
	case c.Lifetime < time.Minute:
		return fmt.Errorf("sessions: lifetime %v is under a minute", c.Lifetime)
	case c.IdleTimeout < time.Minute:
		return fmt.Errorf("sessions: idle timeout %v is under a minute", c.IdleTimeout)
	case c.MaxSessions < 1:
		return fmt.Errorf("sessions: max sessions %d is under 1", c.MaxSessions)
	}
	return nil
}

// Deps are the store's clock and log.
type Deps struct {
	Now func() time.Time // default time.Now
	Log *slog.Logger
}

// Session is one signed-in browser as the store keeps it. It holds no
// secret: ID is the hash of the browser's token.
type Session struct {
	ID      string `json:"id"` // hex SHA-256 of the token
	Subject string `json:"sub"`
	Role    string `json:"role"`
	Org     string `json:"org,omitempty"`
	// Method is how the user signed in: MethodCode or MethodOIDC.
	Method string `json:"method"`
	// Issuer and IDTokenHint are the OpenID Connect issuer and the ID
	// token to hand it at sign-out (MethodOIDC only).
	Issuer      string `json:"iss,omitempty"`
	IDTokenHint string `json:"id_token_hint,omitempty"`
	// Identity is who the issuer said the user is at sign-in (MethodOIDC
	// only): every request of the session is decided with it
	// (data.xborder.api.allow's input.identity).
	Identity *policy.APIIdentity `json:"identity,omitempty"`
	Created  time.Time           `json:"created"`
	LastSeen time.Time           `json:"last_seen"`
	// Expires is the absolute end; IdleExpires (LastSeen+IdleTimeout,
	// computed) the end without activity.
	Expires     time.Time `json:"expires"`
	IdleExpires time.Time `json:"-"`
}

// Store is the console's session store.
type Store struct {
	cfg Config
	db  *bolt.DB
	now func() time.Time
	log *slog.Logger
}

// Open opens (or creates) the store at cfg.Path.
func Open(cfg Config, d Deps) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	db, err := boltfile.OpenFormat(cfg.Path, &bolt.Options{Timeout: 2 * time.Second}, Remedy, storeFormat)
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketSessions)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("prepare %s: %w", cfg.Path, err)
	}
	return &Store{cfg: cfg, db: db, now: d.Now, log: d.Log}, nil
}

// Config is the store's configuration.
func (s *Store) Config() Config { return s.cfg }

// Close closes the file; every later call fails.
func (s *Store) Close() error { return s.db.Close() }

// Backup writes a consistent copy of sessions.db to sink while the store
// runs.
func (s *Store) Backup(sink boltfile.Sink) error { return boltfile.Copy(s.db, File, sink) }

// IDOf is the ID of the session a browser token opens.
func IDOf(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Create stores a new session for in (Subject, Role, Org, Method, Issuer,
// IDTokenHint) that lasts at most ttl (0 or more than Config.Lifetime:
// Config.Lifetime), and returns the browser's token and the session.
func (s *Store) Create(in Session, ttl time.Duration) (string, Session, error) {
	if in.Subject == "" || in.Role == "" || (in.Method != MethodCode && in.Method != MethodOIDC) {
		return "", Session{}, fmt.Errorf("%w: subject, role and method (%s or %s) are required", ErrBadSession, MethodCode, MethodOIDC)
	}
	if ttl <= 0 || ttl > s.cfg.Lifetime {
		ttl = s.cfg.Lifetime
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Session{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now()
	in.ID = IDOf(token)
	in.Created, in.LastSeen, in.Expires = now, now, now.Add(ttl)
	v, err := json.Marshal(in)
	if err != nil {
		return "", Session{}, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b.Stats().KeyN >= s.cfg.MaxSessions {
			if s.purge(b, now) == 0 {
				return ErrFull
			}
		}
		return b.Put([]byte(in.ID), v)
	})
	if err != nil {
		return "", Session{}, err
	}
	return token, s.withIdle(in), nil
}

// touchEvery is how stale LastSeen may get before a request writes it:
// one write a minute per session rather than one per page.
const touchEvery = time.Minute

// Lookup returns the live session the browser token opens and marks it
// seen. An expired session is deleted and gives ErrExpired; an unknown
// token ErrNotFound; a store that fails, its error (never a session).
func (s *Store) Lookup(token string) (Session, error) {
	if token == "" {
		return Session{}, ErrNotFound
	}
	id := []byte(IDOf(token))
	now := s.now()
	var sess Session
	var stale bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get(id)
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &sess); err != nil {
			return fmt.Errorf("session %.12s: %w", id, err)
		}
		stale = now.Sub(sess.LastSeen) >= touchEvery
		return nil
	})
	if err != nil {
		return Session{}, err
	}
	if s.expired(sess, now) {
		if err := s.Delete(sess.ID); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn("expired console session not deleted", "err", err)
		}
		return Session{}, ErrExpired
	}
	if stale {
		sess.LastSeen = now
		if err := s.touch(sess); err != nil {
			return Session{}, err
		}
	}
	return s.withIdle(sess), nil
}

// touch rewrites sess, unless it was deleted meanwhile (a revocation
// racing a request must win).
func (s *Store) touch(sess Session) error {
	v, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b.Get([]byte(sess.ID)) == nil {
			return ErrNotFound
		}
		return b.Put([]byte(sess.ID), v)
	})
}

// End deletes the session the browser token opens (sign-out).
func (s *Store) End(token string) (Session, error) {
	return s.remove(IDOf(token))
}

// Delete deletes the session with this ID (revocation), ErrNotFound when
// none has it.
func (s *Store) Delete(id string) error {
	_, err := s.remove(id)
	return err
}

// Get returns the session with this ID, as it is stored.
func (s *Store) Get(id string) (Session, error) {
	var sess Session
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &sess)
	})
	return s.withIdle(sess), err
}

func (s *Store) remove(id string) (Session, error) {
	var sess Session
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		v := b.Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		_ = json.Unmarshal(v, &sess) // deleted whatever it holds
		return b.Delete([]byte(id))
	})
	return s.withIdle(sess), err
}

// List returns the live sessions, oldest first, after purging the
// expired ones.
func (s *Store) List() ([]Session, error) {
	now := s.now()
	var out []Session
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		s.purge(b, now)
		return b.ForEach(func(k, v []byte) error {
			var sess Session
			if err := json.Unmarshal(v, &sess); err != nil {
				return fmt.Errorf("session %.12s: %w", k, err)
			}
			out = append(out, s.withIdle(sess))
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}

// Purge deletes the expired sessions and says how many.
func (s *Store) Purge() (int, error) {
	var n int
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = s.purge(tx.Bucket(bucketSessions), s.now())
		return nil
	})
	return n, err
}

func (s *Store) purge(b *bolt.Bucket, now time.Time) int {
	var dead [][]byte
	_ = b.ForEach(func(k, v []byte) error {
		var sess Session
		if json.Unmarshal(v, &sess) != nil || s.expired(sess, now) {
			dead = append(dead, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range dead {
		_ = b.Delete(k)
	}
	return len(dead)
}

func (s *Store) expired(sess Session, now time.Time) bool {
	return !now.Before(sess.Expires) || !now.Before(sess.LastSeen.Add(s.cfg.IdleTimeout))
}

func (s *Store) withIdle(sess Session) Session {
	if sess.ID != "" {
		sess.IdleExpires = sess.LastSeen.Add(s.cfg.IdleTimeout)
		if sess.IdleExpires.After(sess.Expires) {
			sess.IdleExpires = sess.Expires
		}
	}
	return sess
}
