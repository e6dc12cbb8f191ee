package exchange

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/xborder/xborder/policy"
)

// Caller is the local user on whose behalf the node requests, fetches and
// downloads: the API's authenticated user, whom this node vouches for to
// the owners it asks.
type Caller struct {
	Subject string
	Org     string
	// Role is the user's API role; the operator and auditor roles see
	// every transfer (see CallerOperator, CallerAuditor).
	Role string
}

// The API roles that matter to what a caller sees of the transfers.
const (
	CallerOperator = "operator"
	CallerAuditor  = "auditor"
)

// researcher is the caller as the owner's policy reads them.
func (c Caller) researcher() policy.Researcher {
	return policy.Researcher{Sub: c.Subject, Org: c.Org, Role: c.Role}
}

// startedBy reports whether the caller started the job.
func (c Caller) startedBy(job JobStatus) bool {
	return job.Requester != "" && job.Requester == c.Subject
}

// sees reports whether the caller may see a transfer: operators and
// auditors see every transfer, anyone else only those they started.
func (c Caller) sees(job JobStatus) bool {
	return c.Role == CallerOperator || c.Role == CallerAuditor || c.startedBy(job)
}

// RecordTransferDownloaded is the audit record type of a verified
// transfer's content served to a local user.
const RecordTransferDownloaded = "exchange.transfer.downloaded"

// member finds the owner a caller names.
func (s *Service) member(name string) (Member, error) {
	if m, ok := s.reg.MemberByName(name); ok {
		return m, nil
	}
	return Member{}, fmt.Errorf("%q is not a member of the federation: %w", name, ErrNotFound)
}

// RequestAccess asks the owner for owner/id on behalf of the caller.
func (s *Service) RequestAccess(ctx context.Context, c Caller, owner, id, purpose, project string) (Answer, error) {
	m, err := s.member(owner)
	if err != nil {
		return Answer{}, err
	}
	return s.Request(ctx, m, id, purpose, project, c.researcher())
}

// StartFetch starts the transfer of owner/id for the caller under a valid
// grant this node holds for it, or under one it requests first (which
// takes a purpose).
func (s *Service) StartFetch(ctx context.Context, c Caller, owner, id, purpose, project string) (JobStatus, error) {
	m, err := s.member(owner)
	if err != nil {
		return JobStatus{}, err
	}
	token := s.heldGrant(owner+"/"+id, s.now())
	if token == "" {
		if purpose == "" {
			return JobStatus{}, &ValidationError{What: "fetch",
				Problems: []string{"no valid grant is held for " + owner + "/" + id + ": give a purpose to request one"}}
		}
		ans, err := s.Request(ctx, m, id, purpose, project, c.researcher())
		if err != nil {
			return JobStatus{}, err
		}
		token = ans.Grant
	}
	job, err := s.FetchFor(ctx, c.Subject, m, id, token)
	if err != nil {
		return JobStatus{}, err
	}
	return job.Status(), nil
}

// heldGrant returns the token of a grant this node holds for ref that is
// valid for at least another minute, or "".
func (s *Service) heldGrant(ref string, now time.Time) string {
	for _, g := range s.grantsWithTokens() {
		// A model grant whose agreement was revoked or expired would be
		// refused by the owner: ask again instead, and get the reasons.
		if g.Agreement != "" && !s.agreementAuthorises(g.Resource, g.Agreement, now) {
			continue
		}
		if g.Role == GrantHeld && g.Resource == ref && g.ExpiresAt.After(now.Add(time.Minute)) && g.Token != "" {
			return g.Token
		}
	}
	return ""
}

// agreementAuthorises reports whether the registry holds agreement id on
// the model ref as in force at t and not revoked.
func (s *Service) agreementAuthorises(ref, id string, t time.Time) bool {
	for _, a := range s.reg.Agreements(ref) {
		if a.ID == id {
			return a.Status == "active" && !t.Before(a.ValidFrom) && t.Before(a.ValidUntil)
		}
	}
	return false
}

// Transfers lists the transfers the caller may see.
func (s *Service) Transfers(_ context.Context, c Caller) []JobStatus {
	jobs := s.Jobs()
	out := jobs[:0]
	for _, j := range jobs {
		if c.sees(j) {
			out = append(out, j)
		}
	}
	return out
}

// Transfer returns one transfer; one the caller may not see is answered
// like one that does not exist.
func (s *Service) Transfer(_ context.Context, c Caller, id string) (JobStatus, bool) {
	job, ok := s.Job(id)
	if !ok || !c.sees(job) {
		return JobStatus{}, false
	}
	return job, true
}

// OpenTransfer opens the file of a finished transfer for the researcher
// who started it, or an operator, once the download is on record
// (ErrAuditUnavailable when it cannot be).
func (s *Service) OpenTransfer(_ context.Context, c Caller, id string) (JobStatus, *os.File, error) {
	job, ok := s.Job(id)
	if !ok || job.State != JobDone || !(c.Role == CallerOperator || c.startedBy(job)) {
		return JobStatus{}, nil, fmt.Errorf("no finished transfer %q of yours: %w", id, ErrNotFound)
	}
	f, err := os.Open(job.Path)
	if err != nil {
		return JobStatus{}, nil, fmt.Errorf("open the file of transfer %s: %w", id, err)
	}
	if err := s.record(RecordTransferDownloaded, c.Subject+" <- "+job.Owner+"/"+job.Dataset, map[string]any{
		"job_id": job.ID, "grant_id": job.GrantID, "sha256": job.SHA256, "size": job.Size,
		"user": c.Subject, "role": c.Role, "org": c.Org, "requester": job.Requester,
	}); err != nil {
		f.Close()
		return JobStatus{}, nil, err
	}
	return job, f, nil
}

// Grants lists the grants this node issued and holds, newest first,
// including expired ones for a while, without their tokens: a token stays
// inside the node.
func (s *Service) Grants(context.Context) []GrantInfo {
	gs := s.grantsWithTokens()
	for i := range gs {
		gs[i].Token = ""
	}
	return gs
}
