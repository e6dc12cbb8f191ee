package audit

import (
	"fmt"
	"sync"
	"time"
)

// writeHealth is whether the trail's last write failed: the node is not
// ready while it does. The last write error sets it; a later successful
// write, or probe, clears it.
type writeHealth struct {
	mu    sync.Mutex
	err   error
	since time.Time
}

func (h *writeHealth) observe(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.err, h.since = nil, time.Time{}
	case h.err == nil:
		h.err, h.since = err, time.Now()
	default:
		h.err = err
	}
}

// failing returns since when writes fail and the last failure; a zero
// time and nil while they work.
func (h *writeHealth) failing() (time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.since, h.err
}

// Health is the trail's readiness check: ok and "writable" while its
// writes work. A trail whose last write failed is probed by writing the
// record of its recovery (TypeRecovered); while that fails too it is not
// ready and check says since when and why.
func (s *Service) Health() (ok bool, check string) {
	since, err := s.health.failing()
	if err == nil {
		return true, "writable"
	}
	if perr := s.Record(TypeRecovered, s.cfg.Name, map[string]any{
		"failing_since": since.UTC(), "last_error": err.Error()}); perr != nil {
		return false, fmt.Sprintf("the audit trail cannot be written since %s (%v); the node refuses to act until it can",
			since.UTC().Format(time.RFC3339), perr)
	}
	s.log.Info("the audit trail can be written again", "failing_since", since)
	return true, "writable"
}
