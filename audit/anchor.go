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
	if head.Seq <= seq {
		if head.Seq < seq {
			s.noteAnchorsAhead(head, seq)
		}
		return nil
	}
	if err := s.deps.Registry.CommitAnchor(ctx, head.Seq, head.Hash, prev); err != nil {
		return fmt.Errorf("anchor seq %d: %w", head.Seq, err)
	}
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

// noteAnchorsAhead records, once per run, that the registry anchors
// records this trail does not hold: its records after head up to the
// anchored seq are gone, as after a restore from a backup. Verification
// still reports those anchors (the trail cannot prove what it lost); this
// record, the first after the gap, says when the node found out and what
// the registry held.
func (s *Service) noteAnchorsAhead(head Head, anchored uint64) {
	s.aheadOnce.Do(func() {
		s.log.Warn("the registry anchors audit records this trail does not hold: the records after its head are lost (was the node restored from a backup?)",
			"head_seq", head.Seq, "anchored_seq", anchored)
		_ = s.record(TypeAnchorsAhead, s.cfg.Name, map[string]any{"head_seq": head.Seq, "head": head.Hash, "anchored_seq": anchored})
	})
}
