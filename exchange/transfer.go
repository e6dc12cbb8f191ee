package exchange

import (
	"errors"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/internal/frame"
)

// Audit record types of transfers, written on both sides.
const (
	RecordTransferStarted   = "exchange.transfer.started"
	RecordTransferCompleted = "exchange.transfer.completed"
	RecordTransferFailed    = "exchange.transfer.failed"
	RecordTransferRefused   = "exchange.transfer.refused"
)

// transferRecord is the detail of a transfer audit record.
type transferRecord struct {
	Side    string `json:"side"` // owner or requester
	Peer    string `json:"peer"`
	GrantID string `json:"grant_id,omitempty"`
	JobID   string `json:"job_id,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Size    int64  `json:"size"`
	Offset  int64  `json:"offset"`
	Bytes   int64  `json:"bytes"` // moved on this stream (owner) or in total (requester)
	Code    string `json:"code,omitempty"`
	Error   string `json:"error,omitempty"`
	Path    string `json:"path,omitempty"`
	// Researcher is the subject who started the job (requester side).
	Researcher string `json:"researcher,omitempty"`
}

// handleTransfer serves one transfer stream (owner side): it checks the
// grant, then writes the blob from the requested offset, chunk by chunk,
// each write under a fresh IdleTimeout deadline. A slow reader slows the
// writes (yamux flow control) rather than filling memory; a stalled one
// is reset.
func (s *Service) handleTransfer(st network.Stream) {
	if !s.adopt(st) {
		_ = st.Reset()
		return
	}
	defer s.release(st)
	remote := st.Conn().RemotePeer()
	_ = st.SetDeadline(s.now().Add(s.cfg.StreamTimeout))
	var req transferFrame
	if err := frame.Read(st, s.cfg.MaxMessage, &req); err != nil {
		s.log.Warn("reset transfer stream", "peer", remote, "reason", err)
		_ = st.Reset()
		return
	}
	member, ok := s.reg.MemberByPeer(remote)
	if !ok {
		s.refuseTransfer(st, remote.String(), remote, refusef(RefusalNotMember, "peer %s is not a member of the federation", remote))
		return
	}
	gc, e, err := s.checkGrantPresented(req.Grant, req.Dataset, remote, s.now())
	if err != nil {
		s.refuseTransfer(st, member.Name, remote, err)
		return
	}
	subject := member.Name + " -> " + gc.Subject
	if req.Offset < 0 || req.Offset > e.Size {
		s.refuseTransfer(st, member.Name, remote, refusef(RefusalBadOffset, "offset %d is outside the %d bytes of %s", req.Offset, e.Size, gc.Subject))
		return
	}
	if !s.acquireTransfer(remote) {
		s.refuseTransfer(st, member.Name, remote, refusef(RefusalBusy, "%d transfers to this peer are already running; retry later", s.cfg.MaxTransfersPerPeer))
		return
	}
	defer s.releaseTransfer(remote)
	blob, err := s.openServedBlob(e, req.Offset)
	if err != nil {
		s.log.Error("open blob for transfer", "subject", subject, "err", err)
		s.refuseTransfer(st, member.Name, remote, refusef(RefusalUnavailable, "the owner cannot read %s", gc.Subject))
		return
	}
	defer blob.Close()
	rec := transferRecord{Side: "owner", Peer: remote.String(), GrantID: gc.ID, SHA256: e.SHA256, Size: e.Size, Offset: req.Offset}
	// Not a byte leaves before the transfer is on record.
	if err := s.record(RecordTransferStarted, subject, rec); err != nil {
		s.refuseTransfer(st, member.Name, remote, auditRefusal("serve transfers"))
		return
	}
	if err := frame.Write(st, s.cfg.MaxMessage, transferHeader{Size: e.Size, SHA256: e.SHA256, Offset: req.Offset}); err != nil {
		s.log.Warn("reset transfer stream", "peer", remote, "reason", fmt.Errorf("write header: %w", err))
		_ = st.Reset()
		rec.Error = err.Error()
		_ = s.record(RecordTransferFailed, subject, rec)
		return
	}
	sent, err := s.sendContent(st, blob, e.Size-req.Offset)
	rec.Bytes = sent
	if err != nil {
		_ = st.Reset()
		rec.Error = err.Error()
		s.log.Info("transfer broken", "subject", subject, "sent", sent, "err", err)
		_ = s.record(RecordTransferFailed, subject, rec)
		return
	}
	_ = st.Close()
	// The bytes are gone: a failure to record the end is logged; the
	// start is on record already.
	_ = s.record(RecordTransferCompleted, subject, rec)
}

// sendContent copies n bytes of blob to the stream.
func (s *Service) sendContent(st network.Stream, blob io.Reader, n int64) (int64, error) {
	buf := make([]byte, s.cfg.ChunkSize)
	var sent int64
	for sent < n {
		if s.ctx.Err() != nil {
			return sent, ErrServiceClosed
		}
		want := min(int64(len(buf)), n-sent)
		k, err := io.ReadFull(blob, buf[:want])
		if err != nil {
			return sent, fmt.Errorf("read blob: %w", err)
		}
		_ = st.SetWriteDeadline(s.now().Add(s.cfg.IdleTimeout))
		k, err = st.Write(buf[:k])
		sent += int64(k)
		if err != nil {
			return sent, fmt.Errorf("write to stream: %w", err)
		}
		if h := s.hooks.afterChunk; h != nil {
			if err := h(st, sent); err != nil {
				return sent, err
			}
		}
	}
	return sent, nil
}

// openServedBlob opens an entry's blob at offset, after checking that it
// has the entry's size: a truncated blob would otherwise make requesters
// retry a short stream until their grant expires.
func (s *Service) openServedBlob(e Entry, offset int64) (io.ReadSeekCloser, error) {
	f, err := s.src.OpenBlob(e.SHA256)
	if err != nil {
		return nil, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err == nil && size != e.Size {
		err = fmt.Errorf("blob %s has %d bytes, the entry says %d", e.SHA256, size, e.Size)
	}
	if err == nil {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// refuseTransfer answers a transfer stream with a refusal and records it.
func (s *Service) refuseTransfer(st network.Stream, who string, remote peer.ID, err error) {
	var r *RefusedError
	if !errors.As(err, &r) {
		r = refusef(RefusalInternal, "%v", err)
	}
	s.log.Info("transfer refused", "peer", remote, "code", r.Code, "reason", r.Reason)
	_ = s.record(RecordTransferRefused, who+" -> "+s.self.Name, refusalRecord{Peer: remote.String(), Code: r.Code, Reason: r.Reason})
	if err := frame.Write(st, s.cfg.MaxMessage, transferHeader{Code: r.Code, Reason: r.Reason}); err != nil {
		_ = st.Reset()
		return
	}
	_ = st.Close()
}

// acquireTransfer takes one of the remote peer's transfer slots.
func (s *Service) acquireTransfer(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving[p] >= s.cfg.MaxTransfersPerPeer {
		return false
	}
	s.serving[p]++
	return true
}

func (s *Service) releaseTransfer(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving[p]--; s.serving[p] <= 0 {
		delete(s.serving, p)
	}
}
