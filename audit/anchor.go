package audit

import (
	"context"
	"fmt"
	"time"
)

// anchorLoop commits the trail's head to the registry whenever it moved,
// so that partners can tell if this node later rewrites its history.
func (s *Service) anchorLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.AnchorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(ctx, s.cfg.AnchorTimeout)
		if err := s.Anchor(actx); err != nil {
			s.log.Debug("audit anchor not committed yet", "err", err)
		}
		cancel()
	}
}

// Anchor commits the trail's head to the registry when it moved past the
// latest anchor, extending this node's chain of anchors. One anchor at a
// time: the periodic loop and the one at shutdown must not race to extend
// the same anchor.
func (s *Service) Anchor(ctx context.Context) error {
	s.anchorMu.Lock()
	defer s.anchorMu.Unlock()
	head, err := s.trail.Head()
	if err != nil || head.Seq == 0 {
		return err
	}
	prev, seq, err := s.deps.Registry.LatestAnchor(s.cfg.Name)
	if err != nil {
		return err
	}
	if seq > 0 && seq != s.anchoredSeq {
		// An anchor this run did not commit (the last run's, or the
		// registry caught up with anchors this trail lost): check the
		// trail still holds what it names.
		s.checkLatestAnchor(head, seq)
	}
	if head.Seq <= seq {
		return nil
	}
	if err := s.deps.Registry.CommitAnchor(ctx, head.Seq, head.Hash, prev); err != nil {
		return fmt.Errorf("anchor seq %d: %w", head.Seq, err)
	}
	s.anchoredSeq = head.Seq
	return nil
}

// finalAnchor records the stop and anchors the trail at a clean shutdown,
// so that the records written since the last periodic anchor are covered.
func (s *Service) finalAnchor() {
	open, leader := s.deps.Registry.State()
	if !open {
		return
	}
	_ = s.record(TypeStop, s.cfg.Name, map[string]any{"peer_id": s.self.String()})
	if !leader {
		// Nothing can commit now (the federation is stopping too): the
		// next start anchors these records.
		s.log.Info("no registry leader: the audit trail is anchored at the next start")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.FinalAnchorTimeout)
	defer cancel()
	if err := s.Anchor(ctx); err != nil {
		s.log.Warn("the audit trail was not anchored at shutdown; the next start anchors it", "err", err)
	}
}

// checkLatestAnchor compares the registry's latest anchor of this trail,
// at seq, with the trail. A trail that does not hold the anchored record
// (it ends before it) or holds another one there (it went on writing
// from an earlier head) lost records: it was restored from a backup taken
// before them. Verification reports those anchors, since the trail
// cannot prove what it lost; this says so once per run, in the log and
// in an audit.anchors_ahead record.
func (s *Service) checkLatestAnchor(head Head, seq uint64) {
	chain, err := s.deps.Registry.AnchorChain(s.cfg.Name)
	if err != nil || len(chain) == 0 || chain[len(chain)-1].Seq != seq {
		return // not caught up yet; the next tick checks again
	}
	anchored := chain[len(chain)-1]
	kind := "behind"
	if head.Seq >= seq {
		hash, err := s.trail.hashAt(seq)
		if err != nil || hash == anchored.Head {
			if err == nil {
				s.anchoredSeq = seq // checked: the trail holds it
			}
			return
		}
		kind = "diverged"
	}
	s.aheadOnce.Do(func() {
		s.log.Warn("the registry anchors audit records this trail does not hold: records were lost (was the node restored from a backup?)",
			"head_seq", head.Seq, "anchored_seq", seq, "trail", kind)
		_ = s.record(TypeAnchorsAhead, s.cfg.Name, map[string]any{"head_seq": head.Seq, "head": head.Hash,
			"anchored_seq": seq, "anchored_head": anchored.Head, "trail": kind})
	})
}
