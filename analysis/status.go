package analysis

import (
	"fmt"
	"strings"
	"time"

	"github.com/xborder/xborder/policy"
)

// Caller is the local user on whose behalf the node runs an analysis,
// vouched for to the owners it asks.
type Caller struct {
	Subject string
	Org     string
	// Role is the API role; operators and auditors see every analysis,
	// a researcher those she started.
	Role string
}

func (c Caller) researcher() policy.Researcher {
	return policy.Researcher{Sub: c.Subject, Org: c.Org, Role: c.Role}
}

func (c Caller) sees(st Status) bool {
	return c.Role == "operator" || c.Role == "auditor" || (st.Researcher != "" && st.Researcher == c.Subject)
}

// State is where an analysis, or one region's part of it, stands.
type State string

// States of an analysis and of each region's part.
const (
	StatePending State = "pending" // not asked yet
	StateRunning State = "running"
	StateDone    State = "done"
	StateDenied  State = "denied"  // the region's policy said no
	StateRefused State = "refused" // the region's node refused (disclosure rules, bad query, busy...)
	StateFailed  State = "failed"  // unreachable, or an answer that does not verify
)

// RegionOutcome is one dataset's part of an analysis.
type RegionOutcome struct {
	Dataset   string           `json:"dataset"` // owner/id
	Owner     string           `json:"owner"`
	State     State            `json:"state"`
	Decision  *policy.Decision `json:"decision,omitempty"`
	Code      RefusalCode      `json:"code,omitempty"`
	Reason    string           `json:"reason,omitempty"`
	Rows      int              `json:"rows,omitempty"`
	Iteration int              `json:"iteration,omitempty"`
}

// Message says in a sentence how the region's part went.
func (r RegionOutcome) Message() string {
	switch r.State {
	case StateDenied:
		if r.Decision != nil && len(r.Decision.Reasons) > 0 {
			return "denied by its policy: " + strings.Join(r.Decision.Reasons, " ")
		}
		return "denied by its policy"
	case StateRefused:
		return fmt.Sprintf("refused (%s): %s", r.Code, r.Reason)
	case StateFailed:
		return "failed: " + r.Reason
	case StateDone:
		return fmt.Sprintf("contributed %d rows", r.Rows)
	}
	return string(r.State)
}

// Status is an analysis as its researcher follows it: each region's part
// as it goes, then the result or why there is none.
type Status struct {
	ID         string          `json:"id"`
	Spec       Spec            `json:"spec"`
	Researcher string          `json:"researcher"`
	State      State           `json:"state"`
	Regions    []RegionOutcome `json:"regions"`
	// Iteration is the GLM iteration in progress.
	Iteration int       `json:"iteration,omitempty"`
	Result    *Result   `json:"result,omitempty"`
	Error     string    `json:"error,omitempty"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished,omitzero"`
	// Version grows with every change, for a caller waiting for the next.
	Version uint64 `json:"version"`
}

// Done reports whether the analysis has ended, with or without a result.
func (s Status) Done() bool { return s.State != StateRunning && s.State != StatePending }
