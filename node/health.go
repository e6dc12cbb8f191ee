package node

import (
	"errors"
	"fmt"
	"time"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/node/api"
)

// auditAppender is the audit trail as the node writes it (the wrapTrail
// test seam).
type auditAppender = audit.Appender

// appliedWaiter is the local registry replica as a write waits for it to
// apply a command; a test wraps it (wrapApplied) to hold it back.
type appliedWaiter = consensus.AppliedWaiter

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
