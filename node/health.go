package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/node/api"
)

// auditAppender is the audit trail as the node writes it (the wrapTrail
// test seam).
type auditAppender = audit.Appender

// appliedWaiter is the local registry replica as a write waits for it to
// apply a command (*consensus.Registry).
type appliedWaiter interface {
	WaitApplied(ctx context.Context, index uint64) error
	AppliedIndex() uint64
}

// applyWait bounds how long a registry write waits for the local replica
// to apply it before saying it is committed but not applied here.
const applyWait = 5 * time.Second

// writeHealth is whether the registry replica's last write failed: the
// node is not ready while it does. The last write error sets it; a later
// successful write clears it. (The audit service keeps its own.)
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

// errAuditNotOpen is a record's failure before the trail is open.
var errAuditNotOpen = errors.New("the audit trail is not open")

// appendAudit writes a record; the audit service keeps the trail's health.
func (n *Node) appendAudit(typ, subject string, details any) error {
	if n.audit == nil {
		return errAuditNotOpen
	}
	return n.audit.Record(typ, subject, details)
}

// checkWrites adds the audit trail's and the registry replica's write
// health to a readiness answer. A failing trail is probed by the audit
// service; a replica that had not applied a write in time is ready again
// once it has.
func (n *Node) checkWrites(r *api.Readiness) {
	r.Checks["audit"] = "writable"
	if n.audit != nil {
		var ok bool
		if ok, r.Checks["audit"] = n.audit.Health(); !ok {
			r.Ready = false
		}
	}
	since, err := n.registryHealth.failing()
	var na *consensus.NotAppliedError
	if errors.As(err, &na) {
		if w := n.appliedWaiter(); w != nil && w.AppliedIndex() >= na.Index {
			n.registryHealth.observe(nil)
			err = nil
		}
	}
	if err != nil {
		r.Ready = false
		r.Checks["registry_writes"] = fmt.Sprintf("since %s: %v", since.UTC().Format(time.RFC3339), err)
	}
	if reg := n.registry.Load(); reg != nil {
		if err := reg.Current(); err != nil {
			// Decisions that read the registry are refused meanwhile.
			r.Ready = false
			r.Checks["registry_current"] = err.Error()
		}
	}
}
