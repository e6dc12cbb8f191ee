package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	bolt "go.etcd.io/bbolt"
)

// Protocol lets a partner verify this node's trail against the registry's
// anchors. Every message is a length-prefixed JSON frame (4-byte
// big-endian length) of at most MaxFrame bytes: the verifier's request,
// the owner's answer, then batches of links (and records, when the owner's
// policy discloses them) until a batch says done.
const Protocol = "/xborder/audit/1.0.0"

// offered are the versions of Protocol a verifier asks for, newest first
// (docs/DESIGN.md, "Versions"): libp2p settles on the first one the
// partner serves, so a partner still running the previous release
// answers in the version it knows.
var offered = []protocol.ID{Protocol}

// Detail is how much of its trail a node discloses to a verifier.
type Detail string

const (
	// DetailChain: the links only (seq, prev, hash, signature): enough to
	// verify the chain, the signatures and every anchor, and nothing of
	// what the records say.
	DetailChain Detail = "chain"
	// DetailRecords: the whole records, so that each hash is recomputed.
	DetailRecords Detail = "records"
)

// Limits of the protocol.
const (
	MaxFrame     = 4 << 20
	batchLinks   = 1024
	batchRecords = 128
	frameTimeout = 30 * time.Second
)

// Discloser decides whether a partner may verify this node's trail, and
// with how much detail (in xborder, the node's audit policy).
type Discloser interface {
	DiscloseAudit(ctx context.Context, requester peer.ID, detail Detail) (allow bool, reasons []string, err error)
}

// RefusedError is a partner's refusal to disclose its trail.
type RefusedError struct {
	Peer    peer.ID
	Reasons []string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("partner %s refused to disclose its audit trail: %v", e.Peer, e.Reasons)
}

type verifyRequest struct {
	Detail Detail `json:"detail"`
}

type verifyAnswer struct {
	Allow   bool     `json:"allow"`
	Reasons []string `json:"reasons,omitempty"`
	Error   string   `json:"error,omitempty"`
}

type batch struct {
	Links   []Link   `json:"links"`
	Records []Record `json:"records,omitempty"`
	Done    bool     `json:"done,omitempty"`
}

// Serve answers partners' verification requests on h, each decided by d.
// It returns a function that stops serving.
func (l *Log) Serve(h host.Host, d Discloser, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	slots := make(chan struct{}, maxServing)
	h.SetStreamHandler(Protocol, func(s network.Stream) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			_ = s.SetDeadline(time.Now().Add(frameTimeout))
			_ = writeFrame(s, verifyAnswer{Error: "busy: other partners are verifying this node's trail; try again shortly"})
			_ = s.Close()
			return
		}
		sctx, scancel := context.WithTimeout(ctx, maxServe)
		defer scancel()
		if err := l.serve(sctx, s, d); err != nil {
			log.Warn("audit verification stream reset", "peer", s.Conn().RemotePeer(), "err", err)
			_ = s.Reset()
			return
		}
		_ = s.Close()
	})
	return func() {
		h.RemoveStreamHandler(Protocol)
		cancel()
	}
}

// Limits of serving: verifications at once, and how long one may take.
const (
	maxServing = 4
	maxServe   = 15 * time.Minute
)

// errBatchFull ends a batch's read transaction.
var errBatchFull = errors.New("batch full")

func (l *Log) serve(ctx context.Context, s network.Stream, d Discloser) error {
	deadline := func() time.Time {
		t := time.Now().Add(frameTimeout)
		if d, ok := ctx.Deadline(); ok && d.Before(t) {
			return d
		}
		return t
	}
	_ = s.SetDeadline(deadline())
	var req verifyRequest
	if err := readFrame(s, &req); err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if req.Detail != DetailChain && req.Detail != DetailRecords {
		return writeFrame(s, verifyAnswer{Error: fmt.Sprintf("detail %q is neither %q nor %q", req.Detail, DetailChain, DetailRecords)})
	}
	allow, reasons, err := d.DiscloseAudit(ctx, s.Conn().RemotePeer(), req.Detail)
	if err != nil {
		return writeFrame(s, verifyAnswer{Error: "the owner could not decide: " + err.Error()})
	}
	if err := writeFrame(s, verifyAnswer{Allow: allow, Reasons: reasons}); err != nil || !allow {
		return err
	}
	w := bufio.NewWriterSize(s, 64<<10)
	per := batchLinks
	if req.Detail == DetailRecords {
		per = batchRecords
	}
	// One short read transaction per batch, so that a slow reader never
	// holds the trail's file: the trail only grows, so reading on from the
	// next sequence number gives one consistent prefix of it.
	next := uint64(1)
	for {
		var b batch
		size := 0 // about what the batch's frame will take
		full := false
		err := l.db.View(func(tx *bolt.Tx) error {
			return l.walk(tx, next, func(seq uint64, r *Record, derr error) error {
				next = seq + 1
				// A record this node cannot read, or whose hash no longer
				// fits it, is sent as a gap: the verifier reports the
				// trail broken there.
				if derr != nil || r.computeHash() != r.Hash {
					return nil
				}
				b.Links = append(b.Links, r.Link())
				size += 300
				if req.Detail == DetailRecords {
					b.Records = append(b.Records, *r)
					size += len(r.Details) + len(r.Subject) + len(r.Type)
				}
				if len(b.Links) == per || size > MaxFrame/2 {
					full = true
					return errBatchFull
				}
				return nil
			})
		})
		if err != nil && !errors.Is(err, errBatchFull) {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b.Done = !full
		_ = s.SetDeadline(deadline())
		if err := writeFrame(w, b); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if b.Done {
			return nil
		}
	}
}

// FetchAndVerify asks partner p for its trail with the given detail over
// Protocol and verifies it against pub (the partner's key) and anchors
// (the partner's anchors from the registry). A refusal is a *RefusedError.
func FetchAndVerify(ctx context.Context, h host.Host, p peer.ID, pub ed25519.PublicKey, anchors []Anchor, detail Detail) (Report, error) {
	return FetchAndVerifyKeys(ctx, h, p, []ed25519.PublicKey{pub}, anchors, detail)
}

// FetchAndVerifyKeys is FetchAndVerify for a partner whose node key was
// replaced: keys are every key it held, oldest first (see VerifyKeys).
func FetchAndVerifyKeys(ctx context.Context, h host.Host, p peer.ID, keys []ed25519.PublicKey, anchors []Anchor, detail Detail) (Report, error) {
	if len(keys) == 0 {
		return Report{}, errNoKeys
	}
	ctx, cancel := context.WithTimeout(ctx, maxServe)
	defer cancel()
	// A verification only reads, so one that lost its stream before the
	// partner answered (a connection replaced under it: both members
	// dialled each other, or one restarted) is asked again, once, on a
	// fresh stream. Past the answer, a failure is the verification's.
	rep, err := fetchAndVerify(ctx, h, p, keys, anchors, detail)
	var lost *streamLostError
	if errors.As(err, &lost) && ctx.Err() == nil {
		rep, err = fetchAndVerify(ctx, h, p, keys, anchors, detail)
	}
	return rep, err
}

// streamLostError is a verification whose stream failed before the
// partner's answer was read.
type streamLostError struct{ err error }

func (e *streamLostError) Error() string { return e.err.Error() }
func (e *streamLostError) Unwrap() error { return e.err }

func fetchAndVerify(ctx context.Context, h host.Host, p peer.ID, keys []ed25519.PublicKey, anchors []Anchor, detail Detail) (Report, error) {
	s, err := h.NewStream(ctx, p, offered...)
	if err != nil {
		return Report{}, fmt.Errorf("open an audit stream to %s: %w", p, err)
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	_ = s.SetDeadline(time.Now().Add(frameTimeout))
	if err := writeFrame(s, verifyRequest{Detail: detail}); err != nil {
		return Report{}, &streamLostError{fmt.Errorf("send the audit request: %w", err)}
	}
	var ans verifyAnswer
	if err := readFrame(s, &ans); err != nil {
		return Report{}, &streamLostError{fmt.Errorf("read the partner's answer: %w", err)}
	}
	if ans.Error != "" {
		return Report{}, fmt.Errorf("partner %s: %s", p, ans.Error)
	}
	if !ans.Allow {
		return Report{}, &RefusedError{Peer: p, Reasons: ans.Reasons}
	}
	return readTrail(bufio.NewReaderSize(s, 64<<10), func() { _ = s.SetDeadline(time.Now().Add(frameTimeout)) }, keys, anchors)
}

// readTrail reads a partner's batches from r and verifies them as they
// come; beforeFrame runs before each frame is read (a fresh deadline).
func readTrail(r io.Reader, beforeFrame func(), keys []ed25519.PublicKey, anchors []Anchor) (Report, error) {
	var b batch
	i, done := 0, false
	next := func() (Link, *Record, bool, error) {
		for i >= len(b.Links) {
			if done {
				return Link{}, nil, false, nil
			}
			beforeFrame()
			b = batch{}
			if err := readFrame(r, &b); err != nil {
				return Link{}, nil, false, fmt.Errorf("read the partner's trail: %w", err)
			}
			if len(b.Records) != 0 && len(b.Records) != len(b.Links) {
				return Link{}, nil, false, errors.New("the partner sent a batch whose records do not match its links")
			}
			if len(b.Links) > batchLinks || (len(b.Links) == 0 && !b.Done) {
				return Link{}, nil, false, fmt.Errorf("the partner sent a batch of %d links (at most %d, and none only in the last)", len(b.Links), batchLinks)
			}
			i, done = 0, b.Done
		}
		l := b.Links[i]
		var rec *Record
		if len(b.Records) > 0 {
			rec = &b.Records[i]
		}
		i++
		return l, rec, true, nil
	}
	return VerifyLinksKeys(keys, anchors, next)
}

func writeFrame(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(raw) > MaxFrame {
		return fmt.Errorf("frame of %d bytes exceeds %d", len(raw), MaxFrame)
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(raw)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err = w.Write(raw)
	return err
}

func readFrame(r io.Reader, v any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > MaxFrame {
		return fmt.Errorf("frame of %d bytes exceeds %d", size, MaxFrame)
	}
	raw := make([]byte, size)
	if _, err := io.ReadFull(r, raw); err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}
