package dsp

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile"
)

// Role is this node's part in a negotiation or a transfer.
type Role string

// The two roles of the protocol.
const (
	RoleProvider Role = "provider"
	RoleConsumer Role = "consumer"
)

// Negotiation is a contract negotiation as this node keeps it, in either
// role. Its key is this node's process ID: the providerPid when it
// provides, the consumerPid when it consumes.
type Negotiation struct {
	Role        Role             `json:"role"`
	ProviderPID string           `json:"provider_pid"`
	ConsumerPID string           `json:"consumer_pid"`
	State       NegotiationState `json:"state"`
	// Participant is the other party's participant ID (the authenticated
	// caller for a provider, the provider for a consumer).
	Participant string `json:"participant"`
	// PeerAddress is where the other party takes messages: the consumer's
	// callbackAddress, or the provider's DSP base URL.
	PeerAddress string `json:"peer_address"`
	Dataset     string `json:"dataset"`
	Offer       Offer  `json:"offer"`
	Purpose     string `json:"purpose,omitempty"`
	// Agreement, once agreed, and the provider's signature over its
	// canonical JSON (JWS compact, by the node key).
	Agreement    *Agreement `json:"agreement,omitempty"`
	AgreementJWS string     `json:"agreement_jws,omitempty"`
	// ValidUntil is when the agreement stops authorising transfers.
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// Code and Reasons explain a termination.
	Code    string   `json:"code,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	// Researcher is the local user who started a consumer negotiation.
	Researcher string `json:"researcher,omitempty"`
	// Outbox is the message this node still owes the other party
	// (delivered by the sender, resumed after a restart), and Attempts how
	// often it was tried.
	Outbox   string    `json:"outbox,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// Key is the process ID this node stores the negotiation under.
func (n *Negotiation) Key() string {
	if n.Role == RoleConsumer {
		return n.ConsumerPID
	}
	return n.ProviderPID
}

// Transfer is a transfer process as this node keeps it, in either role.
type Transfer struct {
	Role        Role          `json:"role"`
	ProviderPID string        `json:"provider_pid"`
	ConsumerPID string        `json:"consumer_pid"`
	State       TransferState `json:"state"`
	Participant string        `json:"participant"`
	PeerAddress string        `json:"peer_address"`
	AgreementID string        `json:"agreement_id"`
	Dataset     string        `json:"dataset"`
	Format      string        `json:"format"`
	// SHA256 and Size of the content served or expected.
	SHA256    string `json:"sha256,omitempty"`
	Size      int64  `json:"size,omitempty"`
	MediaType string `json:"media_type,omitempty"`
	// TokenSHA256 is the digest of the data-plane token a provider issued,
	// valid until TokenExpires; the token itself is never stored.
	TokenSHA256  string    `json:"token_sha256,omitempty"`
	TokenExpires time.Time `json:"token_expires,omitzero"`
	// DataAddress is what a consumer received to pull from.
	DataAddress *DataAddress `json:"data_address,omitempty"`
	Code        string       `json:"code,omitempty"`
	Reasons     []string     `json:"reasons,omitempty"`
	// BytesServed counts what the data plane served (provider).
	BytesServed int64 `json:"bytes_served,omitempty"`
	// File is where a consumer stored the verified content.
	File       string    `json:"file,omitempty"`
	Researcher string    `json:"researcher,omitempty"`
	Outbox     string    `json:"outbox,omitempty"`
	Attempts   int       `json:"attempts,omitempty"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
}

// Key is the process ID this node stores the transfer under.
func (t *Transfer) Key() string {
	if t.Role == RoleConsumer {
		return t.ConsumerPID
	}
	return t.ProviderPID
}

var (
	bucketNegotiations = []byte("negotiations")
	bucketTransfers    = []byte("transfers")
	bucketAgreements   = []byte("agreements") // agreement ID → negotiation key
)

var storeFormat = boltfile.Format{Name: "dataspace store", Version: 1}

// ErrNotFound is a process this node does not hold.
var ErrNotFound = errors.New("no such process")

// store keeps negotiations and transfers in DATA/dsp.db. Each change is
// one bbolt transaction, so a process is either in its old state or its
// new one after a crash.
type store struct {
	db *bolt.DB
}

func openStore(path string) (*store, error) {
	db, err := boltfile.OpenFormat(path, &bolt.Options{Timeout: 2 * time.Second}, boltfile.RestoreFromBackup, storeFormat)
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketNegotiations, bucketTransfers, bucketAgreements} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("dataspace store %s: %w", path, err)
	}
	return &store{db: db}, nil
}

func (s *store) Close() error { return s.db.Close() }

func get[T any](tx *bolt.Tx, bucket []byte, key string) (*T, error) {
	raw := tx.Bucket(bucket).Get([]byte(key))
	if raw == nil {
		return nil, ErrNotFound
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("dataspace store: %s %q: %w", bucket, key, err)
	}
	return &v, nil
}

func put(tx *bolt.Tx, bucket []byte, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put([]byte(key), raw)
}

func (s *store) negotiation(key string) (*Negotiation, error) {
	var n *Negotiation
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		n, err = get[Negotiation](tx, bucketNegotiations, key)
		return err
	})
	return n, err
}

// createNegotiation stores a new negotiation; its key must be new.
func (s *store) createNegotiation(n *Negotiation) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketNegotiations).Get([]byte(n.Key())) != nil {
			return fmt.Errorf("dataspace store: negotiation %q exists", n.Key())
		}
		return put(tx, bucketNegotiations, n.Key(), n)
	})
}

// updateNegotiation reads, changes and writes one negotiation in one
// transaction. fn returning an error leaves it unchanged.
func (s *store) updateNegotiation(key string, fn func(n *Negotiation) error) (*Negotiation, error) {
	var n *Negotiation
	err := s.db.Update(func(tx *bolt.Tx) (err error) {
		if n, err = get[Negotiation](tx, bucketNegotiations, key); err != nil {
			return err
		}
		if err := fn(n); err != nil {
			return err
		}
		if n.Agreement != nil && n.Agreement.ID != "" {
			if err := tx.Bucket(bucketAgreements).Put(agreementKey(n.Role, n.Agreement.ID), []byte(key)); err != nil {
				return err
			}
		}
		return put(tx, bucketNegotiations, key, n)
	})
	return n, err
}

// agreementKey indexes an agreement by this node's role in it: a node
// that consumes from itself holds it twice.
func agreementKey(r Role, id string) []byte { return []byte(string(r) + "\x00" + id) }

// agreement finds the negotiation that holds an agreement, in a role.
func (s *store) agreement(r Role, id string) (*Negotiation, error) {
	var n *Negotiation
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		key := tx.Bucket(bucketAgreements).Get(agreementKey(r, id))
		if key == nil {
			return ErrNotFound
		}
		n, err = get[Negotiation](tx, bucketNegotiations, string(key))
		return err
	})
	return n, err
}

func (s *store) negotiations() ([]Negotiation, error) {
	var out []Negotiation
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketNegotiations).ForEach(func(k, v []byte) error {
			var n Negotiation
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("dataspace store: negotiation %q: %w", k, err)
			}
			out = append(out, n)
			return nil
		})
	})
	return out, err
}

func (s *store) transfer(key string) (*Transfer, error) {
	var t *Transfer
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		t, err = get[Transfer](tx, bucketTransfers, key)
		return err
	})
	return t, err
}

func (s *store) createTransfer(t *Transfer) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketTransfers).Get([]byte(t.Key())) != nil {
			return fmt.Errorf("dataspace store: transfer %q exists", t.Key())
		}
		return put(tx, bucketTransfers, t.Key(), t)
	})
}

func (s *store) updateTransfer(key string, fn func(t *Transfer) error) (*Transfer, error) {
	var t *Transfer
	err := s.db.Update(func(tx *bolt.Tx) (err error) {
		if t, err = get[Transfer](tx, bucketTransfers, key); err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		return put(tx, bucketTransfers, key, t)
	})
	return t, err
}

func (s *store) transfers() ([]Transfer, error) {
	var out []Transfer
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTransfers).ForEach(func(k, v []byte) error {
			var t Transfer
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("dataspace store: transfer %q: %w", k, err)
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}

// Backup writes a consistent copy of dsp.db to sink (one read
// transaction; the service keeps running).
func (s *Service) Backup(sink boltfile.Sink) error {
	return boltfile.Copy(s.store.db, "dsp.db", sink)
}
