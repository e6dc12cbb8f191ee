package analysis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/policy"
)

// Audit record types written by the owner's side.
const (
	RecordDecision = "analysis.decision"
	RecordRefused  = "analysis.refused"
	RecordReleased = "analysis.released"
)

// Rules named by the denials the owner gives without asking its policy.
const (
	ruleUnknownDataset = "analysis.unknown_dataset"
	ruleNoDecision     = "analysis.no_decision"
	// ruleHiddenDataset is recorded at the owner only: the requester is
	// told the dataset is unknown, as for an exchange request.
	ruleHiddenDataset = "analysis.hidden_dataset"
)

// decisionRecord is the audit record of an owner's decision.
type decisionRecord struct {
	Analysis    string   `json:"analysis"`
	Request     string   `json:"request"` // digest of the query
	Kind        Kind     `json:"kind"`
	Allow       bool     `json:"allow"`
	Reasons     []string `json:"reasons"`
	Rules       []string `json:"rules"`
	Bundle      string   `json:"bundle"`
	InputSHA256 string   `json:"input_sha256,omitempty"`
	Researcher  string   `json:"researcher"`
	Purpose     string   `json:"purpose"`
	Project     string   `json:"project,omitempty"`
	// An evaluation's model and the program an evaluation or a module run
	// would run.
	Model        string `json:"model,omitempty"`
	ModuleSHA256 string `json:"module_sha256,omitempty"`
}

// releaseRecord is the audit record of aggregates released: which
// request, how many rows, and the digest of the signed contribution.
type releaseRecord struct {
	Analysis     string `json:"analysis"`
	Request      string `json:"request"`
	Kind         Kind   `json:"kind"`
	Iteration    int    `json:"iteration,omitempty"`
	Rows         int    `json:"rows"`
	Contribution string `json:"contribution_sha256"`
	// For an evaluation or a module run: the program that ran, the
	// dataset's content it ran on, and the model evaluated; the output
	// released is the signed contribution, whose digest is above.
	Model         string `json:"model,omitempty"`
	ModuleSHA256  string `json:"module_sha256,omitempty"`
	DatasetSHA256 string `json:"dataset_sha256,omitempty"`
}

type refusalRecord struct {
	Peer     string      `json:"peer"`
	Analysis string      `json:"analysis,omitempty"`
	Code     RefusalCode `json:"code"`
	Reason   string      `json:"reason"`
	// For a program's run refused: the program, the dataset's content and
	// the SHA-256 of the output that was not released.
	ModuleSHA256  string `json:"module_sha256,omitempty"`
	DatasetSHA256 string `json:"dataset_sha256,omitempty"`
	OutputSHA256  string `json:"output_sha256,omitempty"`
}

// answer dispatches one round.
func (s *Service) answer(ctx context.Context, remote peer.ID, req request) answer {
	m, ok := s.deps.Registry.MemberByPeer(remote)
	if !ok {
		return s.refuse(remote.String(), remote, "", refusef(RefusalNotMember, "peer %s is not a member of the federation", remote))
	}
	switch {
	case req.Token != "" && req.Session == "":
		c, err := s.verifyQuery(req.Token, remote)
		if err != nil {
			return s.refuse(m.Name, remote, "", err)
		}
		return s.open(ctx, m, c.Researcher, c.Query, payload{module: req.Module, parameters: req.Parameters})
	case len(req.Module) > 0 || len(req.Parameters) > 0:
		return s.refuse(m.Name, remote, "", refusef(RefusalBadToken, "only an opening request carries a program"))
	case req.Token == "" && req.Session != "" && req.Close:
		s.sessions.end(req.Session, remote)
		return answer{}
	case req.Token == "" && req.Session != "":
		return s.iterate(m, req)
	}
	return s.refuse(m.Name, remote, "", refusef(RefusalBadToken, "a round carries either a signed query or a session"))
}

// verifyQuery checks a signed query as it arrives from remote.
func (s *Service) verifyQuery(token string, remote peer.ID) (queryClaims, error) {
	now := s.now()
	var c queryClaims
	if err := nodejws.Open(token, remote, queryTokenType, &c); err != nil {
		return c, refusef(RefusalBadToken, "query not signed by the sending peer %s: %v", remote, err)
	}
	switch {
	case c.Issuer != remote.String():
		return c, refusef(RefusalBadToken, "query issued by %q, not by the sending peer %s", c.Issuer, remote)
	case c.Audience != s.deps.Self.PeerID.String():
		return c, refusef(RefusalBadToken, "query addressed to %q, not to this node", c.Audience)
	case c.ID == "" || len(c.ID) > 128:
		return c, refusef(RefusalBadToken, "query jti missing or longer than 128 bytes")
	case c.IssuedAt <= 0 || c.Expires <= c.IssuedAt:
		return c, refusef(RefusalBadToken, "query iat/exp missing or inconsistent")
	case time.Duration(c.Expires-c.IssuedAt)*time.Second > maxQueryLifetime:
		return c, refusef(RefusalBadToken, "query valid for %ds, more than the %v allowed", c.Expires-c.IssuedAt, maxQueryLifetime)
	case now.After(time.Unix(c.Expires, 0).Add(queryClockSkew)):
		return c, refusef(RefusalExpired, "query expired at %s", time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	case time.Unix(c.IssuedAt, 0).After(now.Add(queryClockSkew)):
		return c, refusef(RefusalExpired, "query issued in the future; check the clocks")
	case c.Researcher.Sub == "":
		return c, refusef(RefusalBadToken, "query names no researcher")
	}
	if err := s.db.useNonce(remote.String(), c.ID, time.Unix(c.Expires, 0).Add(queryClockSkew), now); err != nil {
		if errors.Is(err, errReplay) {
			return c, refusef(RefusalReplay, "query %s was already received", c.ID)
		}
		s.log.Error("record query nonce", "err", err)
		return c, refusef(RefusalInternal, "the owner could not record the query")
	}
	return c, nil
}

// open decides a query, and when its policy allows, computes and releases
// the first contribution (for a GLM, iteration 0, and a session).
func (s *Service) open(ctx context.Context, m Member, researcher policy.Researcher, q Query, pl payload) answer {
	reqSum, err := digest(q)
	if err != nil {
		return s.refuse(m.Name, m.PeerID, q.Analysis, refusef(RefusalBadQuery, "%v", err))
	}
	if err := s.deps.Registry.Current(); err != nil {
		return s.refuse(m.Name, m.PeerID, q.Analysis, refusef(RefusalRegistryBehind,
			"the owner's copy of the federation registry is catching up (%v); it decides nothing until it has, try again shortly", err))
	}
	var progs *programs
	if q.Kind == KindEvaluate || q.Kind == KindModule {
		if progs, err = s.programs(q, pl); err != nil {
			return s.refuse(m.Name, m.PeerID, q.Analysis, err)
		}
	} else if len(pl.module) > 0 || len(pl.parameters) > 0 {
		return s.refuse(m.Name, m.PeerID, q.Analysis, refusef(RefusalBadQuery, "a %s carries no program", q.Kind))
	}
	dd, err := s.decide(ctx, m, researcher, q, progs)
	if err != nil {
		s.log.Error("evaluate analysis policy", "analysis", q.Analysis, "err", err)
		return s.refuse(m.Name, m.PeerID, q.Analysis, refusef(RefusalInternal, "the owner could not evaluate its policy"))
	}
	subject := m.Name + " -> " + s.deps.Self.Name + "/" + q.Dataset
	if err := s.deps.Recorder.Record(RecordDecision, subject, decisionRecord{
		Analysis: q.Analysis, Request: reqSum, Kind: q.Kind,
		Allow: dd.record.Allow, Reasons: dd.record.Reasons, Rules: dd.record.Rules, Bundle: dd.record.Bundle,
		InputSHA256: dd.inputSum, Researcher: researcher.Sub, Purpose: q.Purpose, Project: q.Project,
		Model: q.Model, ModuleSHA256: q.ModuleSHA256,
	}); err != nil {
		return s.refuse(m.Name, m.PeerID, q.Analysis, refusef(RefusalAudit, "the owner's audit trail is unavailable, so it decides nothing"))
	}
	reply := dd.reply.Decision
	if !reply.Allow {
		return answer{Decision: &reply}
	}
	c, sess, err := s.compute(ctx, dd.dataset, q, dd.reply.Limits, progs)
	if err != nil {
		var ar *auditedRefusal
		if errors.As(err, &ar) {
			ar.dataset = dd.dataset.SHA256
		}
		return s.refuse(m.Name, m.PeerID, q.Analysis, err)
	}
	c.Analysis, c.Request, c.Bundle = q.Analysis, reqSum, reply.Bundle
	if err := s.db.release(m.Name, q.Dataset, c.rows, dd.reply.Limits.MinSubsetRows, s.cfg.MaxReleases); err != nil {
		return s.refuse(m.Name, m.PeerID, q.Analysis, releaseRefusal(err))
	}
	if sess != nil {
		sess.member, sess.analysis, sess.request, sess.bundle, sess.lastUsed = m.PeerID, q.Analysis, reqSum, reply.Bundle, s.now()
		if err := s.sessions.add(sess); err != nil {
			return s.refuse(m.Name, m.PeerID, q.Analysis, err)
		}
	}
	tok, err := s.sign(subject, c.Contribution)
	if err != nil {
		if sess != nil {
			s.sessions.end(sess.id, m.PeerID)
		}
		return s.refuse(m.Name, m.PeerID, q.Analysis, err)
	}
	ans := answer{Decision: &reply, Contribution: tok}
	if sess != nil {
		ans.Session = sess.id
	}
	return ans
}

// iterate answers one GLM iteration of an open session.
func (s *Service) iterate(m Member, req request) answer {
	if s.hooks.iterate != nil {
		s.hooks.iterate(req.Iteration)
	}
	sess, err := s.sessions.next(req.Session, m.PeerID, req.Iteration, s.now())
	if err != nil {
		return s.refuse(m.Name, m.PeerID, "", err)
	}
	if len(req.Beta) != sess.p {
		s.sessions.end(sess.id, m.PeerID)
		return s.refuse(m.Name, m.PeerID, sess.analysis, refusef(RefusalBadQuery, "%d coefficients sent, the design has %d", len(req.Beta), sess.p))
	}
	part, err := stats.IRLSPartial(sess.family, sess.x, sess.y, sess.p, req.Beta, sess.rules)
	if err != nil {
		s.sessions.end(sess.id, m.PeerID)
		return s.refuse(m.Name, m.PeerID, sess.analysis, computeRefusal(err))
	}
	c := Contribution{
		Analysis: sess.analysis, Request: sess.request, Owner: s.deps.Self.Name,
		Dataset: sess.dataset.ID, DatasetSHA256: sess.dataset.SHA256, Kind: KindGLM,
		Rows: sess.rows, Limits: sess.limits, Bundle: sess.bundle,
		Iteration: req.Iteration, Beta: req.Beta, Partial: &part,
	}
	tok, err := s.sign(m.Name+" -> "+s.deps.Self.Name+"/"+sess.dataset.ID, c)
	if err != nil {
		s.sessions.end(sess.id, m.PeerID)
		return s.refuse(m.Name, m.PeerID, sess.analysis, err)
	}
	return answer{Contribution: tok}
}

// sign records the release of a contribution and signs it; nothing is
// released that the audit trail does not hold.
func (s *Service) sign(subject string, c Contribution) (string, error) {
	c.Owner = s.deps.Self.Name
	c.IssuedAt = s.now().UTC().Truncate(time.Second)
	tok, err := nodejws.Sign(s.deps.Key, s.deps.Self.PeerID, contributionTokenType, c)
	if err != nil {
		s.log.Error("sign contribution", "err", err)
		return "", refusef(RefusalInternal, "the owner could not sign its contribution")
	}
	sum := sha256.Sum256([]byte(tok))
	if err := s.deps.Recorder.Record(RecordReleased, subject, releaseRecord{
		Analysis: c.Analysis, Request: c.Request, Kind: c.Kind, Iteration: c.Iteration, Rows: c.Rows,
		Contribution: hex.EncodeToString(sum[:]), Model: c.Model, ModuleSHA256: c.ModuleSHA256,
		DatasetSHA256: moduleDataset(c),
	}); err != nil {
		return "", refusef(RefusalAudit, "the owner's audit trail is unavailable, so it releases nothing")
	}
	return tok, nil
}

// refuse records a refusal and turns it into the answer.
func (s *Service) refuse(who string, remote peer.ID, analysis string, err error) answer {
	var r *RefusedError
	if !errors.As(err, &r) {
		r = refusef(RefusalInternal, "%v", err)
	}
	s.log.Info("analysis refused", "peer", remote, "code", r.Code, "reason", r.Reason)
	rec := refusalRecord{Peer: remote.String(), Analysis: analysis, Code: r.Code, Reason: r.Reason}
	var ar *auditedRefusal
	if errors.As(err, &ar) {
		rec.ModuleSHA256, rec.DatasetSHA256, rec.OutputSHA256 = ar.module, ar.dataset, ar.output
	}
	// A refusal is no action: it is sent even if its record fails.
	_ = s.deps.Recorder.Record(RecordRefused, who+" -> "+s.deps.Self.Name, rec)
	return answer{Code: r.Code, Reason: r.Reason}
}

// releaseRefusal turns the store's refusal into the owner's answer.
func releaseRefusal(err error) error {
	var de *DifferencingError
	var be *BudgetError
	switch {
	case errors.As(err, &de):
		return &RefusedError{Code: RefusalDifferencing, Reason: de.Error()}
	case errors.As(err, &be):
		return &RefusedError{Code: RefusalDisclosure, Reason: be.Error()}
	}
	return refusef(RefusalInternal, "the owner could not remember the rows it releases, so it releases nothing: %v", err)
}

// computeRefusal turns an error of the computation into the answer: the
// disclosure rules' refusals and bad input are the researcher's to read.
func computeRefusal(err error) error {
	var ar *auditedRefusal
	if errors.As(err, &ar) {
		return ar
	}
	var r *RefusedError
	var de *stats.DisclosureError
	var ie *stats.InputError
	var se *stats.SingularError
	switch {
	case errors.As(err, &r):
		return r
	case errors.As(err, &de):
		return &RefusedError{Code: RefusalDisclosure, Reason: de.Error()}
	case errors.As(err, &ie), errors.As(err, &se), badInput(err):
		return &RefusedError{Code: RefusalBadQuery, Reason: err.Error()}
	}
	return refusef(RefusalInternal, "the owner could not compute: %v", err)
}

// ownDecision is the owner's answer to a verified query: what the asking
// node is told, and what the owner's trail records (they differ only for
// a dataset the catalogue policy hides from the asking member).
type ownDecision struct {
	reply    policy.AnalysisDecision
	record   policy.Decision
	dataset  Dataset
	inputSum string
}

func denied(rule, reason string) policy.AnalysisDecision {
	return policy.AnalysisDecision{Decision: policy.Decision{Reasons: []string{reason}, Rules: []string{rule}, Obligations: []string{}}}
}

// decide builds the analysis policy's input and asks it. A dataset this
// node does not publish, or one the catalogue policy hides from the asking
// member, gets the same denial, so that a denial reveals nothing.
func (s *Service) decide(ctx context.Context, m Member, researcher policy.Researcher, q Query, progs *programs) (ownDecision, error) {
	self := s.deps.Self
	unknown := denied(ruleUnknownDataset, fmt.Sprintf("%s publishes no dataset %q (it may have been withdrawn).", self.Name, q.Dataset))
	d, ok := s.deps.Datasets.Own(q.Dataset)
	if !ok || d.Kind != "dataset" {
		return ownDecision{reply: unknown, record: unknown.Decision}, nil
	}
	if m.PeerID != self.PeerID {
		visible, err := s.deps.Authz.CatalogueVisible(ctx, policy.CatalogueInput{
			Requester: policy.Node{Node: m.Name, PeerID: m.PeerID.String(), Country: m.Country, Org: m.Org},
			Entry: policy.CatalogueEntry{
				ID: d.ID, Owner: d.Owner, Kind: d.Kind, Classification: d.Classification, Theme: d.Theme,
				Partners: nonNil(d.Partners), PersonalData: d.PersonalData, PublicListing: d.PublicListing,
			},
		})
		if err != nil || !visible {
			why := fmt.Sprintf("%s exists, but data.xborder.catalogue.visible hides it from %s, so the requester was told it is not published.", d.Ref(), m.Name)
			if err != nil {
				s.log.Error("catalogue policy failed; the dataset is treated as hidden", "dataset", d.Ref(), "requester", m.Name, "err", err)
			}
			return ownDecision{reply: unknown, record: denied(ruleHiddenDataset, why).Decision}, nil
		}
	}
	in := policy.AnalysisInput{
		Requester: policy.Requester{
			Node:       policy.Node{Node: m.Name, PeerID: m.PeerID.String(), Country: m.Country, Org: m.Org},
			Researcher: researcher,
		},
		Dataset: policy.Resource{
			Kind: d.Kind, ID: d.ID, Owner: self.Name, Theme: d.Theme, Classification: d.Classification,
			PersonalData: d.PersonalData, License: d.License, RequiresProject: d.RequiresProject, Partners: nonNil(d.Partners),
		},
		Analysis: policy.AnalysisRequest{
			Kind: string(q.Kind), Variables: columnsOf(d, q, progs), Filter: q.Filter, Family: q.Family, Formula: q.Formula,
			Label: q.Label,
		},
		Purpose: q.Purpose,
		Self:    policy.Node{Node: self.Name, PeerID: self.PeerID.String(), Country: self.Country, Org: self.Org},
		Time:    s.now().UTC(),
	}
	if q.Design != nil {
		in.Analysis.Parameters = q.Design.P()
	}
	s.policyFacts(&in, progs)
	if q.Project != "" {
		if p, ok := s.deps.Registry.Project(q.Project); ok {
			in.Project = &p
		}
	}
	sum, err := digest(in)
	if err != nil {
		return ownDecision{}, err
	}
	dec, err := s.deps.Authz.Analysis(ctx, in)
	if errors.Is(err, policy.ErrNoDecision) {
		dec, err = denied(ruleNoDecision, "The owner's policy gave no decision for this analysis, so it is refused."), nil
	}
	if err != nil {
		return ownDecision{}, err
	}
	return ownDecision{reply: dec, record: dec.Decision, dataset: d, inputSum: sum}, nil
}

// columnsOf lists the dictionary columns a query reads, with their types,
// for the policy; a column the dictionary lacks is listed with no type
// (the computation then refuses the query).
func columnsOf(d Dataset, q Query, progs *programs) []policy.AnalysisColumn {
	names := append([]string{}, q.Variables...)
	switch {
	case q.Kind == KindEvaluate && progs != nil && progs.model != nil:
		// The predictor's inputs, and the label its scores are held to.
		names = append(names, progs.model.Predictor.Inputs...)
		names = append(names, q.Label)
	case q.Kind == KindModule && d.Dictionary != nil:
		// A module sees every column but the identifiers.
		for _, c := range d.Dictionary.Columns {
			if !c.Identifier {
				names = append(names, c.Name)
			}
		}
	}
	if q.By != "" {
		names = append(names, q.By)
	}
	if q.Design != nil {
		names = append(names, q.Design.Response)
		for _, c := range q.Design.Columns {
			if c.Term != "" && !slices.Contains(names, c.Term) {
				names = append(names, c.Term)
			}
		}
	}
	out := make([]policy.AnalysisColumn, 0, len(names))
	for _, n := range names {
		col := policy.AnalysisColumn{Name: n}
		if d.Dictionary != nil {
			if c, ok := d.Dictionary.Column(n); ok {
				col.Type = string(c.Type)
			}
		}
		out = append(out, col)
	}
	return out
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// table parses the dataset's content, CSV or Parquet as its media type
// says, with its dictionary (cached).
func (s *Service) table(d Dataset) (*tabular.Table, error) {
	if d.Dictionary == nil {
		return nil, errNoDictionary(d.Ref())
	}
	return s.tables.get(d.SHA256, func() (*tabular.Table, error) {
		f, err := s.deps.Datasets.Open(d.SHA256)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", d.Ref(), err)
		}
		defer f.Close()
		t, err := tabular.Read(f, f.Size(), d.MediaType, *d.Dictionary)
		var (
			re *tabular.ReadError
			de *tabular.DictionaryError
			me *tabular.MediaTypeError
		)
		switch {
		case errors.As(err, &me):
			return nil, refusef(RefusalBadQuery, "%s is not a table: %v", d.Ref(), err)
		case errors.As(err, &re), errors.As(err, &de):
			return nil, refusef(RefusalBadQuery, "%s does not match its data dictionary: %v", d.Ref(), err)
		case err != nil:
			// The owner's disk, not the dataset.
			return nil, fmt.Errorf("read %s: %w", d.Ref(), err)
		}
		return t, nil
	})
}

// badInput reports whether err is the tabular package's refusal of a
// query that does not fit the dataset (rather than a failure of the owner).
func badInput(err error) bool {
	var (
		de *tabular.DesignError
		ce *tabular.ColumnError
		fe *tabular.FilterError
		me *tabular.FormulaError
		re *tabular.ReadError
		ye *tabular.DictionaryError
	)
	return errors.As(err, &de) || errors.As(err, &ce) || errors.As(err, &fe) || errors.As(err, &me) ||
		errors.As(err, &re) || errors.As(err, &ye)
}

// moduleDataset is the dataset content a program ran on, for the audit
// record of its release.
func moduleDataset(c Contribution) string {
	if c.ModuleSHA256 == "" {
		return ""
	}
	return c.DatasetSHA256
}
