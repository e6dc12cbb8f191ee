package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/internal/boltfile"
	"github.com/xborder/xborder/policy"
)

// Record types the Service writes itself.
const (
	// TypeDisclosure records an audit policy decision on a partner's
	// request to verify this trail, and a verification of a partner's
	// trail by this node.
	TypeDisclosure = "audit.disclosure"
	// TypeRecovered is written by the readiness probe when a trail that
	// failed can be written again: the trail itself tells how long it was
	// down.
	TypeRecovered = "audit.recovered"
	// TypeStop is the node's last record at a clean shutdown, which the
	// final anchor covers.
	TypeStop = "node.stop"
	// TypeAnchorsAhead is written when the registry's latest anchor of
	// the trail names a record the trail does not hold, or holds with
	// another hash: records were lost (a restore from a backup taken
	// before them).
	TypeAnchorsAhead = "audit.anchors_ahead"
)

// Config is how a node runs its audit trail.
type Config struct {
	// Path is the trail's file (audit.db in the data dir).
	Path string
	// Name, Country and Org are this member as the registry and its
	// audit policy know it.
	Name    string
	Country string
	Org     string
	// AnchorInterval is how often the trail's head is committed to the
	// registry when it moved.
	AnchorInterval time.Duration
	// AnchorTimeout bounds one periodic anchor.
	AnchorTimeout time.Duration
	// FinalAnchorTimeout bounds the anchor at a clean shutdown.
	FinalAnchorTimeout time.Duration
}

// DefaultConfig is the configuration of a trail at path.
func DefaultConfig(path string) Config {
	return Config{Path: path, AnchorInterval: 30 * time.Second, AnchorTimeout: 10 * time.Second, FinalAnchorTimeout: 3 * time.Second}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Path == "":
		return errors.New("audit: Path is empty")
	case c.Name == "":
		return errors.New("audit: Name is empty")
	case c.AnchorInterval <= 0:
		return fmt.Errorf("audit: AnchorInterval %v must be positive", c.AnchorInterval)
	case c.AnchorTimeout <= 0:
		return fmt.Errorf("audit: AnchorTimeout %v must be positive", c.AnchorTimeout)
	case c.FinalAnchorTimeout <= 0:
		return fmt.Errorf("audit: FinalAnchorTimeout %v must be positive", c.FinalAnchorTimeout)
	}
	return nil
}

// Appender is the trail as records are appended to it: the *Log, or in
// tests a trail whose writes fail as on a full disk.
type Appender interface {
	Append(typ, subject string, details any) (Record, error)
}

// Anchorer is the replicated registry as the trail's anchors need it.
type Anchorer interface {
	// LatestAnchor returns the ID and sequence number of member's latest
	// anchor; "" and 0 when it has none.
	LatestAnchor(member string) (id string, seq uint64, err error)
	// AnchorChain returns member's anchors in order, checked to form one
	// chain; none while the registry is not open.
	AnchorChain(member string) ([]Anchor, error)
	// CommitAnchor commits an anchor of head at seq naming the anchor prev
	// and returns once the local replica has applied it, so that the next
	// anchor can name this one.
	CommitAnchor(ctx context.Context, seq uint64, head, prev string) error
	// State tells whether the registry is open and whether it knows a
	// leader (without one nothing commits).
	State() (open, leader bool)
}

// Member is a federation member as the audit protocol addresses it.
type Member struct {
	Name    string
	Country string
	Org     string
	PeerID  peer.ID
	// FormerKeys are the node keys re-key votes replaced, oldest first:
	// the member's trail verifies with them up to where its current key
	// takes over.
	FormerKeys []peer.ID
}

// Keys are the member's keys as a trail verifies with them, oldest first
// (its former keys, then its current one), with their peer IDs.
func (m Member) Keys() ([]ed25519.PublicKey, []peer.ID, error) {
	ids := append(slices.Clone(m.FormerKeys), m.PeerID)
	keys := make([]ed25519.PublicKey, 0, len(ids))
	for _, id := range ids {
		pub, err := id.ExtractPublicKey()
		if err != nil {
			return nil, nil, fmt.Errorf("the peer ID %s of %s holds no key: %w", id, m.Name, err)
		}
		raw, err := pub.Raw()
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, nil, fmt.Errorf("the peer ID %s of %s holds no Ed25519 key", id, m.Name)
		}
		keys = append(keys, ed25519.PublicKey(raw))
	}
	return keys, ids, nil
}

// namePeers puts the peer ID of each key into the report's key runs.
func namePeers(rep *Report, ids []peer.ID) {
	for i := range rep.Keys {
		if k := rep.Keys[i].Key; k >= 0 && k < len(ids) {
			rep.Keys[i].PeerID = ids[k].String()
		}
	}
}

// Members resolves federation members.
type Members interface {
	// MemberByName returns the member called name. An error says why
	// there is none (the node wraps its own sentinel for an unknown name);
	// it is returned to the caller unchanged.
	MemberByName(name string) (Member, error)
	// MemberByPeer returns the member holding peer ID p.
	MemberByPeer(p peer.ID) (Member, bool)
}

// Policy decides disclosure (data.xborder.audit.decision; *policy.Engine).
type Policy interface {
	Audit(ctx context.Context, in policy.AuditInput) (policy.Decision, error)
}

// Deps are the Service's collaborators.
type Deps struct {
	// Key signs the records; its public key is the node's peer ID.
	Key      ed25519.PrivateKey
	Host     host.Host
	Registry Anchorer
	Members  Members
	Policy   Policy
	Log      *slog.Logger
	// WrapTrail, when set, wraps the trail records are appended to (tests
	// make its writes fail).
	WrapTrail func(Appender) Appender
}

// Service is a node's audit trail with its flows: records (fail closed),
// anchors in the registry, verification of this trail and of partners'
// trails, and disclosure to partners decided by the audit policy. It
// implements the local API's audit interface and the Recorder interfaces
// of the other rooms.
type Service struct {
	cfg    Config
	deps   Deps
	self   peer.ID
	log    *slog.Logger
	trail  *Log
	append Appender
	health writeHealth

	// anchorMu serialises anchoring: each anchor extends the one before.
	anchorMu  sync.Mutex
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	stopServe func()
	stopOnce  sync.Once
	closeOnce sync.Once
	closeErr  error
	// anchoredSeq is the latest anchor this run committed or checked
	// (under anchorMu); aheadOnce: checkLatestAnchor.
	anchoredSeq uint64
	aheadOnce   sync.Once
}

// OpenService opens (or creates) the trail at cfg.Path. It starts
// nothing: Start serves partners and anchors.
func OpenService(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case deps.Key == nil:
		return nil, errors.New("audit: Deps.Key is nil")
	case deps.Registry == nil || deps.Members == nil || deps.Policy == nil:
		return nil, errors.New("audit: Deps.Registry, Members and Policy are required")
	}
	sk, err := crypto.UnmarshalEd25519PrivateKey(deps.Key)
	if err != nil {
		return nil, fmt.Errorf("audit: key: %w", err)
	}
	self, err := peer.IDFromPrivateKey(sk)
	if err != nil {
		return nil, fmt.Errorf("audit: key: %w", err)
	}
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	trail, err := Open(cfg.Path, deps.Key)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, deps: deps, self: self, log: log, trail: trail, append: trail}
	if deps.WrapTrail != nil {
		s.append = deps.WrapTrail(trail)
	}
	return s, nil
}

// Start answers partners' verifications on the host (when there is one)
// and anchors the trail every AnchorInterval until Stop.
func (s *Service) Start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	if s.deps.Host != nil {
		s.stopServe = s.trail.Serve(s.deps.Host, s, s.log)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.anchorLoop(ctx)
	}()
}

// Stop stops answering partners, anchors what was written since the last
// anchor (while the registry still runs) and stops anchoring. Records can
// still be written until Close. It is idempotent.
func (s *Service) Stop() {
	s.stopOnce.Do(func() {
		if s.stopServe != nil {
			s.stopServe()
		}
		s.finalAnchor()
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
	})
}

// Backup writes a consistent copy of the trail's file (its base name,
// audit.db) to sink while records keep being appended.
func (s *Service) Backup(sink boltfile.Sink) error { return s.trail.Backup(sink) }

// Close stops the Service and closes the trail. It is idempotent.
func (s *Service) Close() error {
	s.Stop()
	s.closeOnce.Do(func() { s.closeErr = s.trail.Close() })
	return s.closeErr
}

// Record appends a record and keeps the trail's health (/readyz). The
// error is the trail's: the caller refuses to act and says so in its own
// terms (exchange.ErrAuditUnavailable).
func (s *Service) Record(typ, subject string, details any) error {
	_, err := s.append.Append(typ, subject, details)
	s.health.observe(err)
	return err
}

// RecordDecision records a policy decision with the digest of its input.
func (s *Service) RecordDecision(typ, subject string, input any, d policy.Decision) error {
	return s.Record(typ, subject, map[string]any{
		"allow": d.Allow, "reasons": d.Reasons, "rules": d.Rules, "obligations": d.Obligations,
		"bundle": d.Bundle, "input_sha256": Digest(input),
	})
}

// Digest is the hex SHA-256 of a value's JSON: records name inputs without
// copying them.
func Digest(v any) string {
	raw, _ := json.Marshal(v)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// Head is the trail's head.
func (s *Service) Head() (Head, error) { return s.trail.Head() }

// AuditRecords returns the records f selects and the head.
func (s *Service) AuditRecords(_ context.Context, f Filter) ([]Record, Head, error) {
	recs, err := s.trail.List(f)
	if err != nil {
		return nil, Head{}, err
	}
	head, err := s.trail.Head()
	return recs, head, err
}

// VerifyAudit checks the chain, the signatures against this node's key
// (and the member's former keys, which signed the records before a
// re-key), and every anchor the registry holds for this node.
func (s *Service) VerifyAudit(context.Context) (Report, error) {
	anchors, err := s.deps.Registry.AnchorChain(s.cfg.Name)
	if err != nil {
		return Report{}, err
	}
	me := Member{Name: s.cfg.Name, PeerID: s.self}
	if m, err := s.deps.Members.MemberByName(s.cfg.Name); err == nil {
		// The registry's former keys; this node's own key last, whatever
		// the registry says (a node whose key was replaced still checks
		// its own records).
		me.FormerKeys = slices.DeleteFunc(append(slices.Clone(m.FormerKeys), m.PeerID), func(p peer.ID) bool { return p == s.self })
	}
	keys, ids, err := me.Keys()
	if err != nil {
		return Report{}, err
	}
	rep, err := s.trail.VerifyKeys(keys, anchors)
	namePeers(&rep, ids)
	if errors.Is(err, ErrBroken) {
		return rep, nil // the report says what is broken
	}
	return rep, err
}
