package consensus

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Member is a federation member as the registry holds it.
type Member struct {
	Name     string   `json:"name"`
	Country  string   `json:"country"`
	Org      string   `json:"org"`
	PeerID   string   `json:"peer_id"`
	Addrs    []string `json:"addrs"`
	Voter    bool     `json:"voter"`    // a raft voter (at most MaxVoters)
	Founding bool     `json:"founding"` // listed in the genesis
	Joined   int64    `json:"joined"`   // ts of the deciding vote; 0 for founders
	// FormerKeys are the node keys re-key votes replaced, oldest first:
	// what the member signed with them (audit records, anchors, commands)
	// stays attributable to it, and none of them is accepted again.
	FormerKeys []FormerKey `json:"former_keys,omitempty"`
}

// FormerKey is a node key a member held until a re-key vote replaced it.
type FormerKey struct {
	PeerID string `json:"peer_id"`
	// Since is when the key became the member's: the ts of the vote that
	// admitted the member or gave it this key (0 for a founding key).
	Since int64 `json:"since"`
	// Until is the ts of the deciding vote that replaced it, and
	// UntilIndex that vote's raft log index: from that entry on, every
	// replica refuses the key's commands.
	Until      int64  `json:"until"`
	UntilIndex uint64 `json:"until_index"`
}

// KeySince is when the member's current key became its key: the ts of
// its last re-key, else of its admission (0 for a founder's genesis key).
func (m Member) KeySince() int64 {
	if n := len(m.FormerKeys); n > 0 {
		return m.FormerKeys[n-1].Until
	}
	return m.Joined
}

// HeldKey reports whether pid is, or was, one of the member's node keys.
func (m Member) HeldKey(pid string) bool {
	return m.PeerID == pid || slices.ContainsFunc(m.FormerKeys, func(k FormerKey) bool { return k.PeerID == pid })
}

// Project is a joint cross-border project.
type Project struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Themes    []string `json:"themes"`
	Lead      string   `json:"lead"`
	Partners  []string `json:"partners"`
	Datasets  []string `json:"datasets"` // owner/id
	EthicsRef string   `json:"ethics_ref"`
	Created   int64    `json:"created"`
	Closed    int64    `json:"closed,omitempty"`
	Status    string   `json:"status"` // active or closed
	// Pending are the changes that wait for approvals: a member's request
	// to join and the attachment of a dataset whose owner is not a
	// partner. A pending member is not a partner and gets nothing that
	// partners get.
	Pending []PendingChange `json:"pending,omitempty"`
}

// Kinds of pending project changes.
const (
	PendingJoin   = "join"
	PendingAttach = "attach"
)

// PendingChange is a join or an attachment waiting for its approvals.
type PendingChange struct {
	Kind      string   `json:"kind"`              // join or attach
	Member    string   `json:"member,omitempty"`  // join: the candidate
	Dataset   string   `json:"dataset,omitempty"` // attach: owner/id
	By        string   `json:"by"`                // who asked
	Requested int64    `json:"requested"`         // ts of the request
	Approvals []string `json:"approvals"`         // who approved, sorted
}

// Approvers are the members whose approval a pending change needs, sorted.
// A join needs the lead and the owner of every dataset attached to the
// project at the time of each approval (a dataset attached while a join
// waits adds its owner); an attachment needs the dataset's owner and,
// when the owner is not a partner, the lead.
func (p Project) Approvers(c PendingChange) []string {
	var need []string
	switch c.Kind {
	case PendingJoin:
		need = append(need, p.Lead)
		for _, d := range p.Datasets {
			if owner, _, ok := strings.Cut(d, "/"); ok {
				need = append(need, owner)
			}
		}
		need = slices.DeleteFunc(need, func(n string) bool { return n == c.Member })
	case PendingAttach:
		owner, _, _ := strings.Cut(c.Dataset, "/")
		need = append(need, owner)
		if !slices.Contains(p.Partners, owner) {
			need = append(need, p.Lead)
		}
	}
	return sortedSet(need)
}

// Awaiting are the approvers of a pending change who have not approved it.
func (p Project) Awaiting(c PendingChange) []string {
	return slices.DeleteFunc(p.Approvers(c), func(n string) bool { return slices.Contains(c.Approvals, n) })
}

// PendingJoin finds the pending join of member.
func (p Project) PendingJoin(member string) (int, bool) {
	i := slices.IndexFunc(p.Pending, func(c PendingChange) bool { return c.Kind == PendingJoin && c.Member == member })
	return i, i >= 0
}

// PendingAttachment finds the pending attachment of dataset.
func (p Project) PendingAttachment(dataset string) (int, bool) {
	i := slices.IndexFunc(p.Pending, func(c PendingChange) bool { return c.Kind == PendingAttach && c.Dataset == dataset })
	return i, i >= 0
}

// Proposal is a pending membership change and its votes.
type Proposal struct {
	Candidate  Member          `json:"candidate"`
	Action     string          `json:"action"` // add, remove or rekey
	ProposedBy string          `json:"proposed_by"`
	Opened     int64           `json:"opened"`
	Votes      map[string]bool `json:"votes"` // member name -> yes
}

// Anchor is an audit chain head a member committed. A member's anchors
// form a chain: each names the ID of the one it extends.
type Anchor struct {
	Member string `json:"member"`
	Seq    uint64 `json:"seq"`
	Head   string `json:"head"`
	Prev   string `json:"prev,omitempty"` // ID of the anchor this one extends; "" for the first
	ID     string `json:"id,omitempty"`   // hex SHA-256 of member, seq, head and prev
	TS     int64  `json:"ts"`
}

// computeID is the anchor's ID: what the next anchor names as its Prev.
func (a Anchor) computeID() string {
	h := sha256.New()
	fmt.Fprintf(h, "xborder-anchor\x00%s\x00%d\x00%s\x00%s", a.Member, a.Seq, a.Head, a.Prev)
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyAnchorChain checks that anchors, in order, form one member's
// chain: each ID recomputes, the first extends none, each later one names
// the one before and has a higher sequence number.
func VerifyAnchorChain(anchors []Anchor) error {
	prev := Anchor{}
	for i, a := range anchors {
		if a.ID != a.computeID() {
			return fmt.Errorf("anchor %d (seq %d): its id does not match its content", i, a.Seq)
		}
		if a.Prev != prev.ID || (i > 0 && (a.Seq <= prev.Seq || a.Member != prev.Member)) {
			return fmt.Errorf("anchor %d (seq %d) does not extend anchor %d (seq %d)", i, a.Seq, i-1, prev.Seq)
		}
		prev = a
	}
	return nil
}

// anchorKey orders a member's anchors by sequence number.
func anchorKey(member string, seq uint64) []byte {
	return append(append([]byte(member), 0), putU64(seq)...)
}

func putAnchorLink(tx *bolt.Tx, a Anchor) error {
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return tx.Bucket(bAnchorChain).Put(anchorKey(a.Member, a.Seq), raw)
}

// anchorChain lists a member's anchors, oldest first.
func anchorChain(tx *bolt.Tx, member string) ([]Anchor, error) {
	var out []Anchor
	prefix := append([]byte(member), 0)
	c := tx.Bucket(bAnchorChain).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var a Anchor
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// PolicyHash is the policy bundle a member last declared active.
type PolicyHash struct {
	Member string `json:"member"`
	Hash   string `json:"hash"`
	TS     int64  `json:"ts"`
}

var (
	bMeta        = []byte("meta")
	bMembers     = []byte("members")
	bProjects    = []byte("projects")
	bProposals   = []byte("proposals")
	bAnchors     = []byte("anchors")      // member -> its latest anchor
	bAnchorChain = []byte("anchor_chain") // member|seq -> every anchor
	bPolicies    = []byte("policies")
	bNonces      = []byte("nonces")    // nonce -> ts
	bNonceTS     = []byte("nonces_ts") // ts|nonce -> nil, for pruning in ts order

	// stateBuckets are what the state hash covers: the registry's content,
	// not the bookkeeping of how far the log was applied.
	stateBuckets = [][]byte{bMembers, bProjects, bProposals, bAnchors, bAnchorChain, bPolicies, bAgreements,
		bModules, bEvaluations}

	keyApplied = []byte("applied_index")
	keyMaxTS   = []byte("max_ts")
)

// ErrNotFound is returned by reads of a missing record.
var ErrNotFound = errors.New("not found")

func u64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func putU64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func initBuckets(tx *bolt.Tx) error {
	for _, b := range [][]byte{bMeta, bMembers, bProjects, bProposals, bAnchors, bAnchorChain, bPolicies, bAgreements,
		bModules, bEvaluations, bNonces, bNonceTS} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// get decodes one record; values are copied by the decoder, so they stay
// valid after the transaction.
func get[T any](tx *bolt.Tx, bucket []byte, key string) (T, error) {
	var v T
	raw := tx.Bucket(bucket).Get([]byte(key))
	if raw == nil {
		return v, fmt.Errorf("%s %q: %w", bucket, key, ErrNotFound)
	}
	return v, json.Unmarshal(raw, &v)
}

func put(tx *bolt.Tx, bucket []byte, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put([]byte(key), raw)
}

func list[T any](tx *bolt.Tx, bucket []byte) ([]T, error) {
	var out []T
	err := tx.Bucket(bucket).ForEach(func(_, raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// keyHolder finds the member that holds or held the peer ID as its node
// key: a key is never given to a second member, nor back to its own
// member once a re-key replaced it.
func keyHolder(tx *bolt.Tx, pid string) (Member, bool) {
	var found Member
	ok := false
	_ = tx.Bucket(bMembers).ForEach(func(_, raw []byte) error {
		var m Member
		if !ok && json.Unmarshal(raw, &m) == nil && m.HeldKey(pid) {
			found, ok = m, true
		}
		return nil
	})
	return found, ok
}

// formerKey finds a replaced key: only on the path of a refusal.
func formerKey(tx *bolt.Tx, pid string) (FormerKey, bool) {
	m, ok := keyHolder(tx, pid)
	if !ok || m.PeerID == pid {
		return FormerKey{}, false
	}
	i := slices.IndexFunc(m.FormerKeys, func(k FormerKey) bool { return k.PeerID == pid })
	return m.FormerKeys[i], true
}

// memberByPeer finds a member by its current peer ID.
func memberByPeer(tx *bolt.Tx, pid string) (Member, bool) {
	var found Member
	ok := false
	_ = tx.Bucket(bMembers).ForEach(func(_, raw []byte) error {
		var m Member
		if json.Unmarshal(raw, &m) == nil && m.PeerID == pid {
			found, ok = m, true
		}
		return nil
	})
	return found, ok
}

// stateHash is the SHA-256 of the registry content, bucket by bucket in a
// fixed order and key by key in bbolt's byte order: equal on every member
// that applied the same log.
func stateHash(tx *bolt.Tx) string {
	h := sha256.New()
	for _, name := range stateBuckets {
		h.Write(name)
		_ = tx.Bucket(name).ForEach(func(k, v []byte) error {
			var n [8]byte
			binary.BigEndian.PutUint64(n[:], uint64(len(k)))
			h.Write(n[:])
			h.Write(k)
			binary.BigEndian.PutUint64(n[:], uint64(len(v)))
			h.Write(n[:])
			h.Write(v)
			return nil
		})
	}
	return hex.EncodeToString(h.Sum(nil))
}
