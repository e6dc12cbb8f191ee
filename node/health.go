package node

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/node/api"
)

// auditAppender is the audit trail as the node writes it: *audit.Log, or
// in tests a trail whose writes fail as on a full disk.
type auditAppender interface {
	Append(typ, subject string, details any) (audit.Record, error)
}

// appliedWaiter is the local registry replica as a write waits for it to
// apply a command; a test wraps it (wrapApplied) to hold it back.
type appliedWaiter = consensus.AppliedWaiter

// writeHealth is whether a store's last write failed: the node is not
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

// auditRecovered is the record a probe writes when the trail that failed
// can be written again: the trail itself tells how long it was down.
const auditRecovered = "audit.recovered"

// appendAudit writes a record and keeps the trail's health.
func (n *Node) appendAudit(typ, subject string, details any) error {
	if n.trail == nil {
		return errors.New("the audit trail is not open")
	}
	_, err := n.trail.Append(typ, subject, details)
	n.auditHealth.observe(err)
	return err
}

// checkWrites adds the audit trail's and the registry replica's write
// health to a readiness answer. A failing trail is probed by writing
// the record of its recovery; a replica that had not applied a write in
// time is ready again once it has.
func (n *Node) checkWrites(r *api.Readiness) {
	if since, err := n.auditHealth.failing(); err != nil && n.trail != nil {
		if perr := n.appendAudit(auditRecovered, n.cfg.Name, map[string]any{
			"failing_since": since.UTC(), "last_error": err.Error()}); perr != nil {
			r.Ready = false
			r.Checks["audit"] = fmt.Sprintf("the audit trail cannot be written since %s (%v); the node refuses to act until it can",
				since.UTC().Format(time.RFC3339), perr)
		} else {
			n.log.Info("the audit trail can be written again", "failing_since", since)
		}
	}
	if _, ok := r.Checks["audit"]; !ok {
		r.Checks["audit"] = "writable"
	}
	if n.clerk != nil {
		// A write committed but not applied here in time, until the
		// replica has applied it.
		if since, err := n.clerk.Lagging(); err != nil {
			r.Ready = false
			r.Checks["registry_writes"] = fmt.Sprintf("since %s: %v", since.UTC().Format(time.RFC3339), err)
		}
	}
	if reg := n.registry.Load(); reg != nil {
		if err := reg.Current(); err != nil {
			// Decisions that read the registry are refused meanwhile.
			r.Ready = false
			r.Checks["registry_current"] = err.Error()
		}
	}
}
