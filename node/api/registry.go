package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/policy"
)

// Registry is the replicated registry as the API exposes it: reads from
// the local replica, writes checked by the node's policy first
// (*consensus.Clerk).
type Registry interface {
	Projects(ctx context.Context) ([]consensus.Project, uint64, error)
	Project(ctx context.Context, id string) (consensus.Project, uint64, error)
	Members(ctx context.Context) ([]consensus.Member, []consensus.Proposal, uint64, error)
	Submit(ctx context.Context, op string, args any) (uint64, error)
	// WaitApplied returns once the local replica has applied index, or
	// with an error when ctx ends or the registry closes first: the
	// signal behind blocking reads (?index=N).
	WaitApplied(ctx context.Context, index uint64) error
	// DeclaredPolicies lists every member with the policy bundle it
	// declared in the registry.
	DeclaredPolicies(ctx context.Context) ([]consensus.DeclaredPolicy, error)
}

// ProjectList is the answer of GET /v1/projects.
type ProjectList struct {
	Projects     []consensus.Project `json:"projects"`
	AppliedIndex uint64              `json:"applied_index"`
}

// ProjectAnswer is the answer of GET /v1/projects/{id}.
type ProjectAnswer struct {
	Project consensus.Project `json:"project"`
	// Pending are the project's changes waiting for approvals, each with
	// the approvers still awaited.
	Pending      []PendingStatus `json:"pending"`
	AppliedIndex uint64          `json:"applied_index"`
}

// PendingStatus is a pending join or attachment and who must still approve.
type PendingStatus struct {
	consensus.PendingChange
	Approvers []string `json:"approvers"`
	Awaiting  []string `json:"awaiting"`
}

// PendingOf lists a project's pending changes with their approvers.
func PendingOf(p consensus.Project) []PendingStatus {
	out := make([]PendingStatus, 0, len(p.Pending))
	for _, c := range p.Pending {
		out = append(out, PendingStatus{PendingChange: c, Approvers: p.Approvers(c), Awaiting: p.Awaiting(c)})
	}
	return out
}

// ApproveRequest is the body of POST /v1/projects/{id}/approve and
// /decline: exactly one of member (a pending join) and dataset (a pending
// attachment).
type ApproveRequest struct {
	Member  string `json:"member,omitempty"`
	Dataset string `json:"dataset,omitempty"`
}

// MemberList is the answer of GET /v1/members.
type MemberList struct {
	Members      []consensus.Member   `json:"members"`
	Proposals    []consensus.Proposal `json:"proposals"`
	AppliedIndex uint64               `json:"applied_index"`
}

// Committed is the answer of a registry write: 200 once the local replica
// applied it; 202 with NotApplied when the registry committed it but this
// node's replica had not applied it in time (reads here lag behind).
type Committed struct {
	Index      uint64 `json:"index"`
	NotApplied bool   `json:"not_applied,omitempty"`
	Warning    string `json:"warning,omitempty"`
}

// VoteRequest is the body of POST /v1/members/{name}/vote.
type VoteRequest struct {
	Vote string `json:"vote"` // yes or no
}

// AttachRequest is the body of POST /v1/projects/{id}/attach.
type AttachRequest struct {
	Dataset string `json:"dataset"` // owner/id
}

func (s *Server) routeRegistry() {
	s.handle("GET /v1/projects", true, func(w http.ResponseWriter, r *http.Request) {
		if !s.waitForIndex(w, r) {
			return
		}
		ps, idx, err := s.registry.Projects(r.Context())
		if err != nil {
			writeRegistryError(w, err)
			return
		}
		if ps == nil {
			ps = []consensus.Project{}
		}
		writeJSON(w, http.StatusOK, ProjectList{Projects: ps, AppliedIndex: idx})
	})
	s.handle("GET /v1/projects/{id}", true, func(w http.ResponseWriter, r *http.Request) {
		if !s.waitForIndex(w, r) {
			return
		}
		p, idx, err := s.registry.Project(r.Context(), r.PathValue("id"))
		if err != nil {
			writeRegistryError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, ProjectAnswer{Project: p, Pending: PendingOf(p), AppliedIndex: idx})
	})
	s.handle("POST /v1/projects", true, func(w http.ResponseWriter, r *http.Request) {
		var p consensus.ProjectProposal
		if code, err := decodeBody(w, r, &p); err != nil {
			writeError(w, code, err.Error())
			return
		}
		s.submit(w, r, consensus.OpProjectPropose, p)
	})
	s.handle("POST /v1/projects/{id}/join", true, func(w http.ResponseWriter, r *http.Request) {
		s.submit(w, r, consensus.OpProjectJoin, consensus.ProjectRef{ID: r.PathValue("id")})
	})
	s.handle("POST /v1/projects/{id}/close", true, func(w http.ResponseWriter, r *http.Request) {
		s.submit(w, r, consensus.OpProjectClose, consensus.ProjectRef{ID: r.PathValue("id")})
	})
	s.handle("POST /v1/projects/{id}/attach", true, func(w http.ResponseWriter, r *http.Request) {
		var a AttachRequest
		if code, err := decodeBody(w, r, &a); err != nil {
			writeError(w, code, err.Error())
			return
		}
		s.submit(w, r, consensus.OpProjectAttach, consensus.DatasetAttachment{ID: r.PathValue("id"), Dataset: a.Dataset})
	})
	for verb, op := range map[string]string{"approve": consensus.OpProjectApprove, "decline": consensus.OpProjectDecline} {
		s.handle("POST /v1/projects/{id}/"+verb, true, func(w http.ResponseWriter, r *http.Request) {
			var a ApproveRequest
			if code, err := decodeBody(w, r, &a); err != nil {
				writeError(w, code, err.Error())
				return
			}
			if (a.Member == "") == (a.Dataset == "") {
				writeError(w, http.StatusBadRequest, "name exactly one of member (a pending join) and dataset (a pending attachment)")
				return
			}
			s.submit(w, r, op, consensus.Approval{ID: r.PathValue("id"), Member: a.Member, Dataset: a.Dataset})
		})
	}
	s.handle("GET /v1/members", true, func(w http.ResponseWriter, r *http.Request) {
		if !s.waitForIndex(w, r) {
			return
		}
		ms, ps, idx, err := s.registry.Members(r.Context())
		if err != nil {
			writeRegistryError(w, err)
			return
		}
		if ps == nil {
			ps = []consensus.Proposal{}
		}
		writeJSON(w, http.StatusOK, MemberList{Members: ms, Proposals: ps, AppliedIndex: idx})
	})
	s.handle("POST /v1/members", true, func(w http.ResponseWriter, r *http.Request) {
		var c consensus.MemberChange
		if code, err := decodeBody(w, r, &c); err != nil {
			writeError(w, code, err.Error())
			return
		}
		if c.Action == "" {
			c.Action = "add"
		}
		s.submit(w, r, consensus.OpMemberPropose, c)
	})
	s.handle("POST /v1/members/{name}/vote", true, func(w http.ResponseWriter, r *http.Request) {
		var v VoteRequest
		if code, err := decodeBody(w, r, &v); err != nil {
			writeError(w, code, err.Error())
			return
		}
		if v.Vote != "yes" && v.Vote != "no" {
			writeError(w, http.StatusBadRequest, `vote must be "yes" or "no"`)
			return
		}
		s.submit(w, r, consensus.OpMemberVote, consensus.Vote{Candidate: r.PathValue("name"), Vote: v.Vote})
	})
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request, op string, args any) {
	idx, err := s.registry.Submit(r.Context(), op, args)
	var na *consensus.NotAppliedError
	if errors.As(err, &na) {
		writeJSON(w, http.StatusAccepted, Committed{Index: na.Index, NotApplied: true, Warning: err.Error()})
		return
	}
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Committed{Index: idx})
}

// writeRegistryError maps registry and policy errors to HTTP answers:
// 403 with reasons for a policy denial, 400 for arguments this node
// finds invalid before asking, 409 for a command the registry
// refused, 404 for a missing record, 413 for a command over the registry's
// size limit, 503 without a leader (not applied), 504 when the leader got
// the command but no answer came (it may commit).
func writeRegistryError(w http.ResponseWriter, err error) {
	var denied *policy.DeniedError
	var rejected *consensus.RejectedError
	var invalid *exchange.ValidationError
	switch {
	case errors.As(err, &denied):
		writeJSON(w, http.StatusForbidden, Error{
			Error: "denied by this node's policy (" + string(denied.Point) + "): " + strings.Join(denied.Decision.Reasons, " "),
			Code:  http.StatusForbidden, Denied: true, Reasons: denied.Decision.Reasons, Rules: denied.Decision.Rules,
		})
	case errors.As(err, &invalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.As(err, &rejected):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, exchange.ErrAuditUnavailable):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, consensus.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, consensus.ErrCommandTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error()+"; send shorter fields")
	case errors.Is(err, consensus.ErrOutcomeUnknown):
		// Not a failure to retry blindly: the command may yet commit.
		writeError(w, http.StatusGatewayTimeout, err.Error()+"; read the registry before submitting it again")
	case errors.Is(err, consensus.ErrNoLeader), errors.Is(err, consensus.ErrStale), errors.Is(err, consensus.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}
