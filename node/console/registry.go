package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
)

type projectsData struct {
	Projects []consensus.Project
	Index    uint64
	Themes   []string
	Members  []string
	Datasets []string // own and remote entries, for the proposal form
	Error    string
}

func (c *Console) projectsData(x *rc) (projectsData, error) {
	ps, idx, err := c.svc.Registry.Projects(x.ctx())
	d := projectsData{Projects: ps, Index: idx, Themes: exchange.Themes}
	for _, p := range c.svc.Backend.Peers(x.ctx()) {
		d.Members = append(d.Members, p.Name)
	}
	if x.may("GET", "/v1/catalogue") {
		for _, l := range c.svc.Catalogue.Search(x.ctx(), exchange.Filter{Kind: exchange.KindDataset}) {
			d.Datasets = append(d.Datasets, l.Ref())
		}
	}
	return d, err
}

func (c *Console) projects(x *rc) {
	d, err := c.projectsData(x)
	if err != nil {
		c.failErr(x, err, Prefix)
		return
	}
	c.render(x, http.StatusOK, "projects.html", &page{Title: "projects.title", Active: "nav.projects", Data: d})
}

func (c *Console) proposeProject(x *rc) {
	f := x.r.PostFormValue
	p := consensus.ProjectProposal{ID: strings.TrimSpace(f("id")), Title: strings.TrimSpace(f("title")),
		Themes: x.r.PostForm["themes"], Partners: formList(f("partners")), Datasets: formList(f("datasets")),
		EthicsRef: strings.TrimSpace(f("ethics"))}
	if _, err := c.svc.Registry.Submit(x.ctx(), consensus.OpProjectPropose, p); err != nil {
		c.failErr(x, err, Prefix+"projects")
		return
	}
	c.redirect(x, Prefix+"projects/"+p.ID+"?ok=proposed")
}

type projectData struct {
	consensus.Project
	Self     string
	Member   bool
	Datasets []string
	Pending  []pendingRow
	Asked    bool // this node's join waits for approvals
}

// pendingRow is a change that waits for approvals, as the project page
// shows it; Approve when this node is among those awaited.
type pendingRow struct {
	api.PendingStatus
	Approve bool
	Decline bool // an approver refuses, the member that asked withdraws
}

func (c *Console) project(x *rc) {
	p, _, err := c.svc.Registry.Project(x.ctx(), x.r.PathValue("id"))
	if err != nil {
		c.failErr(x, err, Prefix+"projects")
		return
	}
	d := projectData{Project: p, Self: c.name, Member: slices.Contains(p.Partners, c.name)}
	for _, ps := range api.PendingOf(p) {
		d.Pending = append(d.Pending, pendingRow{PendingStatus: ps, Approve: slices.Contains(ps.Awaiting, c.name),
			Decline: ps.By == c.name || slices.Contains(ps.Approvers, c.name)})
		if ps.Kind == consensus.PendingJoin && ps.Member == c.name {
			d.Asked = true
		}
	}
	if x.may("GET", "/v1/catalogue") {
		for _, l := range c.svc.Catalogue.Search(x.ctx(), exchange.Filter{Kind: exchange.KindDataset}) {
			if !slices.Contains(p.Datasets, l.Ref()) {
				d.Datasets = append(d.Datasets, l.Ref())
			}
		}
	}
	c.render(x, http.StatusOK, "project.html", &page{Title: "project.title", Active: "nav.projects", Data: d})
}

func (c *Console) joinProject(x *rc) {
	id := x.r.PathValue("id")
	if _, err := c.svc.Registry.Submit(x.ctx(), consensus.OpProjectJoin, consensus.ProjectRef{ID: id}); err != nil {
		c.failErr(x, err, Prefix+"projects/"+id)
		return
	}
	c.redirect(x, Prefix+"projects/"+id+"?ok=join_requested")
}

func (c *Console) approveChange(x *rc) { c.decide(x, consensus.OpProjectApprove) }

func (c *Console) declineChange(x *rc) { c.decide(x, consensus.OpProjectDecline) }

// decide approves or declines a pending change of a project.
func (c *Console) decide(x *rc, op string) {
	id := x.r.PathValue("id")
	a := consensus.Approval{ID: id, Member: strings.TrimSpace(x.r.PostFormValue("member")), Dataset: strings.TrimSpace(x.r.PostFormValue("dataset"))}
	if (a.Member == "") == (a.Dataset == "") {
		c.failErr(x, errors.Join(errBadForm, errors.New("name exactly one of member and dataset")), Prefix+"projects/"+id)
		return
	}
	if _, err := c.svc.Registry.Submit(x.ctx(), op, a); err != nil {
		c.failErr(x, err, Prefix+"projects/"+id)
		return
	}
	if op == consensus.OpProjectDecline {
		c.redirect(x, Prefix+"projects/"+id+"?ok=declined")
		return
	}
	c.redirect(x, Prefix+"projects/"+id+"?ok=approved")
}

func (c *Console) attachDataset(x *rc) {
	id := x.r.PathValue("id")
	ds := strings.TrimSpace(x.r.PostFormValue("dataset"))
	if _, err := c.svc.Registry.Submit(x.ctx(), consensus.OpProjectAttach, consensus.DatasetAttachment{ID: id, Dataset: ds}); err != nil {
		c.failErr(x, err, Prefix+"projects/"+id)
		return
	}
	c.redirect(x, Prefix+"projects/"+id+"?ok=attached")
}

type agreementsData struct {
	Agreements []api.AgreementView
	Models     []string
	Members    []string
	Purposes   []string
	From       string
	Until      string
}

func (c *Console) agreementList(x *rc) {
	list, _, err := c.svc.Agreements.Agreements(x.ctx())
	if err != nil {
		c.failErr(x, err, Prefix)
		return
	}
	now := c.now().UTC()
	d := agreementsData{Agreements: list, Purposes: c.purposes(x), From: now.Format("2006-01-02"), Until: now.AddDate(1, 0, -1).Format("2006-01-02")}
	for _, p := range c.svc.Backend.Peers(x.ctx()) {
		d.Members = append(d.Members, p.Name)
	}
	if x.may("GET", "/v1/catalogue") {
		for _, l := range c.svc.Catalogue.Search(x.ctx(), exchange.Filter{Kind: exchange.KindModel}) {
			d.Models = append(d.Models, l.Ref())
		}
	}
	c.render(x, http.StatusOK, "agreements.html", &page{Title: "agreements.title", Active: "nav.agreements", Data: d})
}

func parseDay(s string) (time.Time, error) {
	return time.Parse("2006-01-02", strings.TrimSpace(s))
}

func (c *Console) proposeAgreement(x *rc) {
	f := x.r.PostFormValue
	a := consensus.Agreement{ID: strings.TrimSpace(f("id")), Model: strings.TrimSpace(f("model")),
		Parties: formList(f("parties")), Purposes: formList(f("purposes")), Conditions: strings.TrimSpace(f("conditions"))}
	var err error
	if a.ValidFrom = c.now(); strings.TrimSpace(f("from")) != "" {
		if a.ValidFrom, err = parseDay(f("from")); err != nil {
			c.failErr(x, errors.Join(errBadForm, errors.New(x.t("agreements.bad_date", f("from")))), Prefix+"agreements")
			return
		}
		if a.ValidFrom.Before(c.now()) && a.ValidFrom.After(c.now().Add(-24*time.Hour)) {
			a.ValidFrom = c.now() // today: from now on
		}
	}
	if a.ValidUntil, err = parseDay(f("until")); err != nil {
		c.failErr(x, errors.Join(errBadForm, errors.New(x.t("agreements.bad_date", f("until")))), Prefix+"agreements")
		return
	}
	a.ValidUntil = a.ValidUntil.Add(24*time.Hour - time.Second) // to the end of that day
	v, err := c.svc.Agreements.ProposeAgreement(x.ctx(), a)
	var refused *exchange.AgreementRefusedError
	if errors.As(err, &refused) {
		c.render(x, http.StatusForbidden, "agreement.html", &page{Title: "agreement.title", Active: "nav.agreements",
			Flash: x.t("agreement.refused"), Data: c.agreementData(v)})
		return
	}
	if err != nil {
		c.failErr(x, err, Prefix+"agreements")
		return
	}
	c.redirect(x, Prefix+"agreements/"+v.ID+"?ok=agreement_proposed")
}

type agreementData struct {
	api.AgreementView
	Self       string
	Party      bool
	SelfSigned bool
	Refused    bool
	Signed     int
}

func (c *Console) agreementData(v api.AgreementView) agreementData {
	d := agreementData{AgreementView: v, Self: c.name, Party: slices.Contains(v.Parties, c.name)}
	for _, p := range v.PartyStates {
		if p.Signed {
			d.Signed++
			if p.Member == c.name {
				d.SelfSigned = true
			}
		}
		if p.Refused() {
			d.Refused = true
		}
	}
	if v.InRegistry {
		d.Signed = len(v.Document.Signatures)
		d.SelfSigned = d.Party
	}
	return d
}

func (c *Console) agreement(x *rc) {
	v, _, err := c.svc.Agreements.Agreement(x.ctx(), x.r.PathValue("id"))
	if err != nil {
		c.failErr(x, err, Prefix+"agreements")
		return
	}
	c.render(x, http.StatusOK, "agreement.html", &page{Title: "agreement.title", Active: "nav.agreements", Data: c.agreementData(v)})
}

func (c *Console) signAgreement(x *rc) {
	id := x.r.PathValue("id")
	if _, err := c.svc.Agreements.SignAgreement(x.ctx(), id); err != nil {
		c.failErr(x, err, Prefix+"agreements/"+id)
		return
	}
	c.redirect(x, Prefix+"agreements/"+id+"?ok=signed")
}

func (c *Console) revokeAgreement(x *rc) {
	id := x.r.PathValue("id")
	if _, err := c.svc.Agreements.RevokeAgreement(x.ctx(), id, strings.TrimSpace(x.r.PostFormValue("reason"))); err != nil {
		c.failErr(x, err, Prefix+"agreements/"+id)
		return
	}
	c.redirect(x, Prefix+"agreements/"+id+"?ok=revoked")
}
