package console

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

type auditData struct {
	Records []audit.Record
	Head    audit.Head
	Type    string
	Limit   int
	Types   []string
}

// auditTypes are the record types the filter offers.
var auditTypes = []string{"node.start", "policy.reload", "policy.reload_refused", "registry.decision", "registry.submit",
	"catalogue.publish", "catalogue.withdraw", exchange.RecordDecision, exchange.RecordGrantIssued, exchange.RecordGrantReceived,
	exchange.RecordRequestDenied, exchange.RecordRequestRefused, exchange.RecordAgreementDecision, exchange.RecordAgreementSigned}

func (c *Console) auditList(x *rc) {
	q := x.r.URL.Query()
	d := auditData{Type: q.Get("type"), Limit: 50, Types: auditTypes}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n >= 1 && n <= 1000 {
		d.Limit = n
	}
	recs, head, err := c.svc.Audit.AuditRecords(x.ctx(), audit.Filter{Type: d.Type, Limit: d.Limit})
	if err != nil {
		c.failErr(x, err, Prefix)
		return
	}
	d.Records, d.Head = recs, head
	if d.Type != "" && !slices.Contains(d.Types, d.Type) {
		d.Types = append(d.Types, d.Type)
	}
	c.render(x, http.StatusOK, "audit.html", &page{Title: "audit.title", Active: "nav.audit", Data: d})
}

func (c *Console) auditVerify(x *rc) {
	rep, err := c.svc.Audit.VerifyAudit(x.ctx())
	if err != nil {
		c.failErr(x, err, Prefix+"audit")
		return
	}
	code := http.StatusOK
	c.render(x, code, "verify.html", &page{Title: "verify.title", Active: "nav.audit", Data: rep})
}

type policiesData struct {
	Info      policy.Info
	Peers     []api.PeerPolicy
	PeersErr  string
	ShowPeers bool
	Reloaded  bool
	ReloadErr string
}

func (c *Console) policiesData(x *rc) policiesData {
	d := policiesData{Info: c.svc.Policies.Info()}
	if d.ShowPeers = x.may("GET", "/v1/policy/peers"); d.ShowPeers {
		var err error
		if d.Peers, err = c.peerPolicies(x.ctx()); err != nil {
			d.PeersErr = err.Error()
		}
	}
	return d
}

// peerPolicies is each member's declared bundle compared with this
// node's, as GET /v1/policy/peers answers it.
func (c *Console) peerPolicies(ctx context.Context) ([]api.PeerPolicy, error) {
	declared, err := c.svc.Registry.DeclaredPolicies(ctx)
	if err != nil {
		return nil, err
	}
	return api.PeerPolicies(declared, c.svc.Policies.Info().Hash), nil
}

func (c *Console) policies(x *rc) {
	c.render(x, http.StatusOK, "policies.html", &page{Title: "policies.title", Active: "nav.policies", Data: c.policiesData(x)})
}

func (c *Console) reloadPolicy(x *rc) {
	_, err := c.svc.Policies.Reload(x.ctx())
	d := c.policiesData(x)
	code := http.StatusOK
	if err != nil {
		d.ReloadErr, code = err.Error(), http.StatusUnprocessableEntity
	} else {
		d.Reloaded = true
	}
	c.render(x, code, "policies.html", &page{Title: "policies.title", Active: "nav.policies", Data: d})
}

// playgroundData is the decision playground: a decision point, an input
// document and, once evaluated, the answer.
type playgroundData struct {
	Points  []policy.Point
	Point   string
	Input   string
	Explain string
	Source  string // message key: where the prefilled input comes from
	Ran     bool
	Error   string
	Result  *policy.EvalResult
	// Decision is the result read as a decision {allow, reasons, ...}
	// when it has that shape.
	Decision  *policy.Decision
	IsBool    bool
	BoolValue bool
}

func (c *Console) playground(x *rc) {
	point := x.r.URL.Query().Get("point")
	if !slices.Contains(policy.Points, policy.Point(point)) {
		point = string(policy.ExchangeDecision)
	}
	input, source := c.sampleInput(x, policy.Point(point))
	raw, _ := json.MarshalIndent(input, "", "  ")
	d := playgroundData{Points: policy.Points, Point: point, Input: string(raw), Source: source}
	c.render(x, http.StatusOK, "playground.html", &page{Title: "playground.title", Active: "nav.policies", Data: d})
}

func (c *Console) evaluate(x *rc) {
	d := playgroundData{Points: policy.Points, Point: x.r.PostFormValue("point"), Input: x.r.PostFormValue("input"),
		Explain: x.r.PostFormValue("explain"), Ran: true}
	code := http.StatusOK
	in, err := policy.ParseInput([]byte(d.Input))
	if err == nil && !slices.Contains(policy.Points, policy.Point(d.Point)) {
		err = fmtErr("%q is not a decision point", d.Point)
	}
	explain := policy.ExplainOff
	switch policy.Explain(d.Explain) {
	case policy.ExplainNotes, policy.ExplainFails, policy.ExplainFull:
		explain = policy.Explain(d.Explain)
	}
	if err == nil {
		var res policy.EvalResult
		if res, err = c.svc.Policies.Eval(x.ctx(), d.Point, in, explain); err == nil {
			d.Result = &res
			d.Decision = readDecision(res.Value)
			d.BoolValue, d.IsBool = res.Value.(bool)
		}
	}
	if err != nil {
		d.Error, code = err.Error(), http.StatusUnprocessableEntity
	}
	c.render(x, code, "playground.html", &page{Title: "playground.title", Active: "nav.policies", Data: d})
}

// readDecision reads a result of the decision shape {allow, reasons, ...}.
func readDecision(v any) *policy.Decision {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	if _, ok := m["allow"].(bool); !ok {
		return nil
	}
	raw, _ := json.Marshal(m)
	var d policy.Decision
	if json.Unmarshal(raw, &d) != nil {
		return nil
	}
	return &d
}

// sampleInput builds an input document for a decision point from the
// node's real state: for the exchange decision, the newest request this
// node decided as owner (its audit record names the requester, researcher,
// resource, purpose and project); for the others, own entries, members,
// projects and the signed-in user.
func (c *Console) sampleInput(x *rc, p policy.Point) (any, string) {
	ctx := x.ctx()
	st := c.svc.Backend.Status(ctx)
	self := policy.Node{Node: st.Name, PeerID: st.PeerID, Country: st.Country, Org: st.Org}
	members, _, _, _ := c.svc.Registry.Members(ctx)
	memberNode := func(name string) policy.Node {
		for _, m := range members {
			if m.Name == name {
				return policy.Node{Node: m.Name, PeerID: m.PeerID, Country: m.Country, Org: m.Org}
			}
		}
		return policy.Node{Node: name}
	}
	other := self
	for _, m := range members {
		if m.Name != st.Name {
			other = memberNode(m.Name)
			break
		}
	}
	own := c.svc.Catalogue.Search(ctx, exchange.Filter{Owner: st.Name})
	now := c.now().UTC().Truncate(time.Second)
	switch p {
	case policy.ExchangeDecision:
		if in, ok := c.lastExchangeInput(x, self, memberNode, now); ok {
			return in, "playground.source_audit"
		}
		in := policy.ExchangeInput{Requester: policy.Requester{Node: other, Researcher: policy.Researcher{Sub: "researcher@example.org", Org: other.Org, Role: api.RoleResearcher}},
			Purpose: "research", Agreements: []policy.Agreement{}, Self: self, Time: now,
			Resource: policy.Resource{Kind: exchange.KindDataset, ID: "example", Owner: st.Name, Theme: "health", Classification: "open", Partners: []string{}}}
		if len(own) > 0 {
			in.Resource = resourceOf(own[0].Entry)
		}
		return in, "playground.source_example"
	case policy.CatalogueVisible:
		e := policy.CatalogueEntry{ID: "example", Owner: st.Name, Kind: exchange.KindDataset, Classification: "confidential", Theme: "health", Partners: []string{}}
		if len(own) > 0 {
			o := own[0].Entry
			e = policy.CatalogueEntry{ID: o.ID, Owner: o.Owner, Kind: o.Kind, Classification: o.Classification, Theme: o.Theme, Partners: nonNil(o.Partners)}
		}
		return policy.CatalogueInput{Requester: other, Entry: e}, "playground.source_state"
	case policy.AgreementDecision:
		parties := []policy.Node{self, other}
		model := policy.ModelRef{Owner: st.Name, ID: "example-model", Theme: "health", TrainingDatasets: []policy.DatasetRef{}}
		for _, l := range own {
			if l.Kind == exchange.KindModel {
				model = policy.ModelRef{Owner: l.Owner, ID: l.ID, PersonalData: l.PersonalData, Theme: l.Theme, TrainingDatasets: []policy.DatasetRef{}}
				if l.Model != nil {
					for _, t := range l.Model.TrainingDatasets {
						o, id, _ := strings.Cut(t, "/")
						model.TrainingDatasets = append(model.TrainingDatasets, policy.DatasetRef{Owner: o, ID: id})
					}
				}
				break
			}
		}
		return policy.AgreementInput{Agreement: policy.AgreementDraft{ID: "example-agreement", Model: model, Parties: parties,
			Purposes: []string{"research"}, ValidFrom: now, ValidUntil: now.AddDate(1, 0, 0), Conditions: "Research use only."},
			Proposer: self, Self: self, Time: now}, "playground.source_state"
	case policy.RegistryDecision:
		return map[string]any{
			"command": map[string]any{"op": consensus.OpProjectPropose, "args": map[string]any{"id": "example-project", "title": "Example project",
				"themes": []string{"health"}, "partners": []string{st.Name, other.Node}, "datasets": []string{}, "ethics_ref": "ETHICS-REF"}},
			"member": self, "state": map[string]any{},
		}, "playground.source_state"
	case policy.MembershipDecision:
		ms := []policy.Member{}
		for _, m := range members {
			ms = append(ms, policy.Member{Name: m.Name, Country: m.Country})
		}
		return policy.MembershipInput{Candidate: policy.Candidate{Name: "xx-candidate", Country: "FR", Org: "Candidate region"},
			Members: ms, Self: self}, "playground.source_state"
	case policy.AnalysisDecisionPoint:
		in := policy.AnalysisInput{Requester: policy.Requester{Node: other, Researcher: policy.Researcher{Sub: "researcher@example.org", Org: other.Org, Role: api.RoleResearcher}},
			Dataset:  policy.Resource{Kind: exchange.KindDataset, ID: "example", Owner: st.Name, Theme: "health", Classification: "open", Partners: []string{}},
			Analysis: policy.AnalysisRequest{Kind: "summary", Variables: []policy.AnalysisColumn{{Name: "age", Type: "numeric"}}},
			Purpose:  "statistics", Self: self, Time: now}
		for _, l := range own {
			if l.Kind == exchange.KindDataset {
				in.Dataset = resourceOf(l.Entry)
				break
			}
		}
		return in, "playground.source_state"
	default: // api.allow
		u := x.user()
		return policy.APIInput{User: policy.APIUser{Sub: u.Subject, Role: api.RoleResearcher, Org: u.Org}, Method: "GET", Path: "/v1/audit"},
			"playground.source_state"
	}
}

// lastExchangeInput rebuilds the input of the newest exchange decision
// this node took, from its audit record and the current state (the record
// holds the input's digest, not the input).
func (c *Console) lastExchangeInput(x *rc, self policy.Node, member func(string) policy.Node, now time.Time) (policy.ExchangeInput, bool) {
	recs, _, err := c.svc.Audit.AuditRecords(x.ctx(), audit.Filter{Type: exchange.RecordDecision, Limit: 1})
	if err != nil || len(recs) == 0 {
		return policy.ExchangeInput{}, false
	}
	var det struct {
		Researcher string `json:"researcher"`
		Purpose    string `json:"purpose"`
		Project    string `json:"project"`
	}
	_ = json.Unmarshal(recs[0].Details, &det)
	who, ref, ok := strings.Cut(recs[0].Subject, " -> ")
	if !ok {
		return policy.ExchangeInput{}, false
	}
	owner, id, _ := strings.Cut(ref, "/")
	l, err := c.svc.Catalogue.Entry(x.ctx(), owner, id)
	if err != nil {
		return policy.ExchangeInput{}, false
	}
	req := member(who)
	in := policy.ExchangeInput{
		Requester: policy.Requester{Node: req, Researcher: policy.Researcher{Sub: det.Researcher, Org: req.Org, Role: api.RoleResearcher}},
		Resource:  resourceOf(l.Entry), Purpose: det.Purpose, Agreements: []policy.Agreement{}, Self: self, Time: now,
	}
	if det.Project != "" {
		if p, _, err := c.svc.Registry.Project(x.ctx(), det.Project); err == nil {
			in.Project = &policy.Project{ID: p.ID, Title: p.Title, Themes: nonNil(p.Themes), Lead: p.Lead, Partners: nonNil(p.Partners),
				Datasets: nonNil(p.Datasets), EthicsRef: p.EthicsRef, Status: p.Status}
		}
	}
	if as, _, err := c.svc.Agreements.Agreements(x.ctx()); err == nil {
		for _, a := range as {
			if a.Model == ref && a.InRegistry {
				in.Agreements = append(in.Agreements, policy.Agreement{ID: a.ID, Model: a.Model, Parties: a.Parties,
					Purposes: a.Purposes, ValidFrom: a.ValidFrom, ValidUntil: a.ValidUntil, Status: a.Status})
			}
		}
	}
	return in, true
}

func resourceOf(e exchange.Entry) policy.Resource {
	return policy.Resource{Kind: e.Kind, ID: e.ID, Owner: e.Owner, Theme: e.Theme, Classification: e.Classification,
		PersonalData: e.PersonalData, License: e.License, RequiresProject: e.RequiresProject, Partners: nonNil(e.Partners)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
