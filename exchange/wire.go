package exchange

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/policy"
)

// Protocols of the request → grant → transfer flow. Every message on them
// is a length-prefixed JSON frame (4-byte big-endian length), capped by
// ServiceConfig.MaxMessage; a transfer's content follows its header
// frame as raw bytes.
const (
	RequestProtocol  = "/xborder/request/1.0.0"
	TransferProtocol = "/xborder/transfer/1.0.0"
)

// requestFrame carries a signed request JWT to the owner.
type requestFrame struct {
	Token string `json:"token"`
}

// Answer is the owner's reply to a request: its decision and, when it
// allows, a grant.
type Answer struct {
	Decision policy.Decision `json:"decision"`
	// Grant is a JWT signed by the owner; empty when denied.
	Grant     string    `json:"grant,omitempty"`
	GrantID   string    `json:"grant_id,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// answerFrame is an Answer, or a refusal when the request could not be
// verified (Code is then set and Answer is empty).
type answerFrame struct {
	Answer
	Code   RefusalCode `json:"code,omitempty"`
	Reason string      `json:"reason,omitempty"`
}

// transferFrame opens a transfer: the grant, the dataset the requester
// wants (so that the owner can refuse a grant for another one), and the
// offset to resume from.
type transferFrame struct {
	Grant   string `json:"grant"`
	Dataset string `json:"dataset"`
	Offset  int64  `json:"offset"`
}

// transferHeader precedes the content: Size-Offset raw bytes follow it.
// A refusal sets Code and nothing follows.
type transferHeader struct {
	Size   int64       `json:"size"`
	SHA256 string      `json:"sha256"`
	Offset int64       `json:"offset"`
	Code   RefusalCode `json:"code,omitempty"`
	Reason string      `json:"reason,omitempty"`
}

// writeExchangeFrame writes v as one frame; the receiver's cap applies,
// so the sender checks it too rather than have the stream reset.
func writeExchangeFrame(w io.Writer, limit int, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(raw) > limit {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(raw), limit)
	}
	buf := make([]byte, 4+len(raw))
	binary.BigEndian.PutUint32(buf, uint32(len(raw)))
	copy(buf[4:], raw)
	_, err = w.Write(buf)
	return err
}

// readExchangeFrame reads one frame of at most limit bytes into v,
// refusing unknown fields and trailing data: a peer speaking another
// version of the protocol is told so, not half understood.
func readExchangeFrame(r io.Reader, limit int, v any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if uint64(size) > uint64(limit) {
		return fmt.Errorf("%w: %d bytes announced, limit %d", ErrMessageTooLarge, size, limit)
	}
	raw := make([]byte, size)
	if _, err := io.ReadFull(r, raw); err != nil {
		return err
	}
	return decodeExchangeJSON(raw, v)
}

// decodeExchangeJSON decodes exactly one JSON value with known fields.
func decodeExchangeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed message: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("malformed message: data after the JSON value")
	}
	return nil
}

// serveOne answers a request-reply stream: one frame in, one frame out,
// within StreamTimeout. A malformed or oversized frame resets the stream
// with a logged reason; the answer is computed under the service's
// context, so Close cancels it.
func serveOne[Req, Reply any](s *Service, st network.Stream, what string, answer func(ctx context.Context, remote peer.ID, req Req) Reply) {
	if !s.adopt(st) {
		_ = st.Reset()
		return
	}
	defer s.release(st)
	remote := st.Conn().RemotePeer()
	_ = st.SetDeadline(s.now().Add(s.cfg.StreamTimeout))
	var req Req
	if err := readExchangeFrame(st, s.cfg.MaxMessage, &req); err != nil {
		s.log.Warn("reset "+what+" stream", "peer", remote, "reason", err)
		_ = st.Reset()
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
	defer cancel()
	reply := answer(ctx, remote, req)
	if err := writeExchangeFrame(st, s.cfg.MaxMessage, reply); err != nil {
		s.log.Warn("reset "+what+" stream", "peer", remote, "reason", fmt.Errorf("write answer: %w", err))
		_ = st.Reset()
		return
	}
	_ = st.Close()
}
