package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Anchor is a head a node committed to the replicated registry.
type Anchor struct {
	Seq  uint64 `json:"seq"`
	Head string `json:"head"`
}

// Link is what the hash chain needs of a record, and nothing of its
// content but its hash: a partner recomputes each link's hash from its
// sequence number, the previous hash and the content hash, checks the
// signature, and so verifies the chain and every anchor without reading
// what the records say.
type Link struct {
	V       int    `json:"v,omitempty"`
	Seq     uint64 `json:"seq"`
	Prev    string `json:"prev"`
	Content string `json:"content,omitempty"` // format 2: hex SHA-256 of the record's content
	Hash    string `json:"hash"`
	Sig     string `json:"sig"`
}

// Link returns the record's link.
func (r *Record) Link() Link {
	l := Link{V: r.V, Seq: r.Seq, Prev: r.Prev, Hash: r.Hash, Sig: r.Sig}
	if r.V == 2 {
		l.Content = r.contentHash()
	}
	return l
}

// Report is the outcome of a verification.
type Report struct {
	OK      bool   `json:"ok"`
	Records uint64 `json:"records"`
	Head    string `json:"head"`
	// ContentVerified is false when only links were checked (a partner
	// that withheld record details): the chain, the signatures and the
	// anchors are verified, each record's content is not.
	ContentVerified bool `json:"content_verified"`
	// FirstBad names the first record that does not fit, and why.
	FirstBad *Bad      `json:"first_bad,omitempty"`
	Anchors  []Checked `json:"anchors"`
	// Keys are the runs of records each of the node's keys signed, in
	// order: one run for a node that never changed its key; after a
	// re-key, the records before it under the old key and the later ones
	// under the new.
	Keys []KeySpan `json:"keys,omitempty"`
}

// KeySpan is a run of consecutive records signed with one key.
type KeySpan struct {
	Key    int    `json:"key"`               // the key's index in the keys verified against, oldest first
	PeerID string `json:"peer_id,omitempty"` // the key's peer ID, when the verifier knows it
	First  uint64 `json:"first"`             // seq of its first record
	Last   uint64 `json:"last"`              // seq of its last record
}

// errNoKeys: a verification needs the key of the trail's node.
var errNoKeys = errors.New("audit: no key to verify the trail against")

// Bad is a record that breaks the chain.
type Bad struct {
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

// Checked is an anchor and whether the trail still matches it.
type Checked struct {
	Anchor
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
}

// ErrBroken is wrapped by a verification's error when the trail does not
// verify.
var ErrBroken = errors.New("the audit trail does not verify")

// chainCheck verifies a trail one record (or link) at a time, in order:
// sequence numbers without gaps, each record chained to the one before,
// each signature checked against the node's keys, the hash of every
// anchored record noted; with content, each hash recomputed.
//
// keys are every key the node held, oldest first (one, unless a re-key
// replaced it). A record verifies against the key of the record before it
// or a later one, never an earlier one: once the trail moves to a new key,
// a replaced key (perhaps a stolen one) signs nothing after it.
type chainCheck struct {
	keys     []ed25519.PublicKey
	cur      int // index of the key the last record verified against
	rep      Report
	prev     Link
	anchored map[uint64]string // anchored seq -> hash found there
}

func newChainCheck(keys []ed25519.PublicKey, anchors []Anchor, content bool) *chainCheck {
	c := &chainCheck{keys: keys, anchored: make(map[uint64]string, len(anchors))}
	c.rep.ContentVerified = content
	c.rep.Anchors = []Checked{}
	for _, a := range anchors {
		c.anchored[a.Seq] = ""
	}
	return c
}

// next checks one link; rec is its record when the content is at hand.
// It returns ErrBroken after noting the first bad record.
func (c *chainCheck) next(l Link, rec *Record) error {
	bad := func(format string, args ...any) error {
		c.rep.FirstBad = &Bad{Seq: l.Seq, Reason: fmt.Sprintf(format, args...)}
		return ErrBroken
	}
	if l.Seq != c.prev.Seq+1 {
		if l.Seq <= c.prev.Seq {
			return bad("follows seq %d: records are out of order or repeated", c.prev.Seq)
		}
		return bad("follows seq %d: records %d to %d are missing", c.prev.Seq, c.prev.Seq+1, l.Seq-1)
	}
	if l.Prev != c.prev.Hash {
		return bad("does not chain to record %d (prev %.12s, expected %.12s)", c.prev.Seq, l.Prev, c.prev.Hash)
	}
	switch {
	case rec != nil:
		if h := rec.computeHash(); h != l.Hash {
			return bad("content changed: hash %.12s, recorded %.12s", h, l.Hash)
		}
	case l.V == 2:
		if h := linkHash(l.Seq, l.Prev, l.Content); h != l.Hash {
			return bad("its link does not hash to its hash (%.12s, recorded %.12s)", h, l.Hash)
		}
	default:
		// Fail closed: a link of the first format binds nothing.
		return bad("is in the first record format, whose link cannot be checked without the record; verify with the records")
	}
	hash, herr := hex.DecodeString(l.Hash)
	sig, serr := base64.RawURLEncoding.DecodeString(l.Sig)
	if herr != nil || len(hash) != 32 || serr != nil {
		return bad("signature does not verify against the node's key")
	}
	signer := -1
	for i := c.cur; i < len(c.keys) && signer < 0; i++ {
		if ed25519.Verify(c.keys[i], hash, sig) {
			signer = i
		}
	}
	if signer < 0 {
		for i := range c.cur {
			if ed25519.Verify(c.keys[i], hash, sig) {
				return bad("signed with a key the node had replaced before record %d (key %d of %d)", c.rep.Keys[len(c.rep.Keys)-1].First, i+1, len(c.keys))
			}
		}
		return bad("signature does not verify against the node's key")
	}
	if n := len(c.rep.Keys); n == 0 || c.rep.Keys[n-1].Key != signer {
		c.rep.Keys = append(c.rep.Keys, KeySpan{Key: signer, First: l.Seq, Last: l.Seq})
	} else {
		c.rep.Keys[n-1].Last = l.Seq
	}
	c.cur = signer
	if _, ok := c.anchored[l.Seq]; ok {
		c.anchored[l.Seq] = l.Hash
	}
	c.prev = l
	c.rep.Records++
	return nil
}

// finish checks every anchor against what the walk found.
func (c *chainCheck) finish(anchors []Anchor) (Report, error) {
	rep := c.rep
	rep.Head = c.prev.Hash
	for _, a := range anchors {
		ch := Checked{Anchor: a, OK: true}
		if h := c.anchored[a.Seq]; h == "" {
			ch.OK, ch.Reason = false, fmt.Sprintf("anchored record %d is not in the trail", a.Seq)
		} else if h != a.Head {
			ch.OK, ch.Reason = false, fmt.Sprintf("record %d was rewritten after it was anchored", a.Seq)
		}
		rep.Anchors = append(rep.Anchors, ch)
		if !ch.OK && rep.FirstBad == nil {
			rep.FirstBad = &Bad{Seq: a.Seq, Reason: ch.Reason}
		}
	}
	rep.OK = rep.FirstBad == nil
	if !rep.OK {
		return rep, fmt.Errorf("%w: record %d: %s", ErrBroken, rep.FirstBad.Seq, rep.FirstBad.Reason)
	}
	return rep, nil
}

// Verify walks the whole trail: sequence numbers without gaps, each record
// chained to the one before, each hash recomputed, each signature checked
// against pub, and every anchor found unchanged in the trail.
func (l *Log) Verify(pub ed25519.PublicKey, anchors []Anchor) (Report, error) {
	return l.VerifyKeys([]ed25519.PublicKey{pub}, anchors)
}

// VerifyKeys is Verify for a node whose key was replaced: keys are every
// key it held, oldest first, and each record must verify against the
// key of the record before it or a later one (Report.Keys says which
// records each key signed).
func (l *Log) VerifyKeys(keys []ed25519.PublicKey, anchors []Anchor) (Report, error) {
	if len(keys) == 0 {
		return Report{}, errNoKeys
	}
	c := newChainCheck(keys, anchors, true)
	err := l.db.View(func(tx *bolt.Tx) error {
		return l.walk(tx, 1, func(seq uint64, r *Record, derr error) error {
			if derr != nil {
				c.rep.FirstBad = &Bad{Seq: seq, Reason: derr.Error()}
				return ErrBroken
			}
			return c.next(r.Link(), r)
		})
	})
	if err != nil && !errors.Is(err, ErrBroken) {
		return c.rep, err
	}
	if errors.Is(err, ErrBroken) {
		c.rep.Head = c.prev.Hash
		rep, _ := c.finish(anchors)
		rep.OK = false
		return rep, fmt.Errorf("%w: record %d: %s", ErrBroken, rep.FirstBad.Seq, rep.FirstBad.Reason)
	}
	return c.finish(anchors)
}

// VerifyLinks verifies a trail received from a partner: links (and, when
// records is not nil, each link's record, same index) in order from the
// first, the signatures against pub, and every anchor.
func VerifyLinks(pub ed25519.PublicKey, anchors []Anchor, next func() (Link, *Record, bool, error)) (Report, error) {
	return VerifyLinksKeys([]ed25519.PublicKey{pub}, anchors, next)
}

// VerifyLinksKeys is VerifyLinks against every key the partner held,
// oldest first (see VerifyKeys).
func VerifyLinksKeys(keys []ed25519.PublicKey, anchors []Anchor, next func() (Link, *Record, bool, error)) (Report, error) {
	if len(keys) == 0 {
		return Report{}, errNoKeys
	}
	c := newChainCheck(keys, anchors, true)
	for {
		l, rec, ok, err := next()
		if err != nil {
			return c.rep, err
		}
		if !ok {
			break
		}
		if rec == nil {
			c.rep.ContentVerified = false
		} else if rec.Link() != l {
			c.rep.FirstBad = &Bad{Seq: l.Seq, Reason: "the record sent does not match its link"}
			break
		}
		if c.next(l, rec) != nil {
			break
		}
	}
	if c.rep.FirstBad != nil {
		rep, _ := c.finish(anchors)
		rep.OK = false
		return rep, fmt.Errorf("%w: record %d: %s", ErrBroken, rep.FirstBad.Seq, rep.FirstBad.Reason)
	}
	return c.finish(anchors)
}

// walk calls fn for each stored record from seq from on, in order; a
// record that does not decode (or is stored under another seq) is passed
// with its error.
func (l *Log) walk(tx *bolt.Tx, from uint64, fn func(seq uint64, r *Record, err error) error) error {
	c := tx.Bucket(bRecords).Cursor()
	for k, v := c.Seek(seqKey(from)); k != nil; k, v = c.Next() {
		seq := binary.BigEndian.Uint64(k)
		var r Record
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			if err := fn(seq, nil, fmt.Errorf("unreadable: %v", err)); err != nil {
				return err
			}
			continue
		}
		if r.Seq != seq {
			if err := fn(seq, nil, fmt.Errorf("stored under seq %d but says seq %d (records moved)", seq, r.Seq)); err != nil {
				return err
			}
			continue
		}
		if err := fn(seq, &r, nil); err != nil {
			return err
		}
	}
	return nil
}
