package exchange

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/internal/frame"
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
	if err := frame.Read(st, s.cfg.MaxMessage, &req); err != nil {
		s.log.Warn("reset "+what+" stream", "peer", remote, "reason", err)
		_ = st.Reset()
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
	defer cancel()
	reply := answer(ctx, remote, req)
	if err := frame.Write(st, s.cfg.MaxMessage, reply); err != nil {
		s.log.Warn("reset "+what+" stream", "peer", remote, "reason", fmt.Errorf("write answer: %w", err))
		_ = st.Reset()
		return
	}
	_ = st.Close()
}
