package console

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

type catalogueData struct {
	Filter  exchange.Filter
	Entries []exchange.Listing
	// Public holds the refs (OWNER/ID) of the entries the public
	// catalogue lists, whose RDF the page links.
	Public          map[string]bool
	Themes          []string
	Classifications []string
	Kinds           []string
	Countries       []string
	Owners          []string
}

func (c *Console) catalogue(x *rc) {
	q := x.r.URL.Query()
	f := exchange.Filter{Theme: q.Get("theme"), Country: q.Get("country"), Owner: q.Get("owner"),
		Kind: q.Get("kind"), Classification: q.Get("classification"), Q: q.Get("q")}
	d := catalogueData{Filter: f, Entries: c.svc.Catalogue.Search(x.ctx(), f), Themes: exchange.Themes,
		Classifications: exchange.Classifications, Kinds: []string{exchange.KindDataset, exchange.KindModel},
		Public: map[string]bool{}}
	for _, l := range d.Entries {
		if c.svc.Catalogue.PubliclyVisible(x.ctx(), l) {
			d.Public[l.Ref()] = true
		}
	}
	for _, p := range c.svc.Backend.Peers(x.ctx()) {
		d.Owners = append(d.Owners, p.Name)
		if !slices.Contains(d.Countries, p.Country) {
			d.Countries = append(d.Countries, p.Country)
		}
	}
	sort.Strings(d.Countries)
	c.render(x, http.StatusOK, "catalogue.html", &page{Title: "catalogue.title", Active: "nav.catalogue", Data: d})
}

type entryData struct {
	exchange.Listing
	Ref        string
	Public     bool                // the public catalogue lists it
	Projects   []consensus.Project // that list the entry
	Agreements []api.AgreementView // whose model it is
	Active     []consensus.Project // active projects, for the request form
	Purposes   []string
	ShowProj   bool
	ShowAgr    bool
	// Performance is a model's committed evaluations, nil when the role
	// may not read them (GET /v1/evaluations) or the entry is no model.
	Performance *performance
	// ShowModules: the role may read the registry's modules, which the
	// predictor's digest links to.
	ShowModules bool
}

func (c *Console) entry(x *rc) {
	owner, id := x.r.PathValue("owner"), x.r.PathValue("id")
	l, err := c.svc.Catalogue.Entry(x.ctx(), owner, id)
	if err != nil {
		c.failErr(x, err, Prefix+"catalogue")
		return
	}
	d := entryData{Listing: l, Ref: l.Ref(), Purposes: c.purposes(x), Public: c.svc.Catalogue.PubliclyVisible(x.ctx(), l)}
	if d.ShowProj = x.may("GET", "/v1/projects"); d.ShowProj {
		ps, _, _ := c.svc.Registry.Projects(x.ctx())
		for _, p := range ps {
			if slices.Contains(p.Datasets, d.Ref) {
				d.Projects = append(d.Projects, p)
			}
			if p.Status == "active" {
				d.Active = append(d.Active, p)
			}
		}
	}
	if d.ShowAgr = x.may("GET", "/v1/agreements"); d.ShowAgr {
		as, _, _ := c.svc.Agreements.Agreements(x.ctx())
		for _, a := range as {
			if a.Model == d.Ref {
				d.Agreements = append(d.Agreements, a)
			}
		}
	}
	if l.Kind == exchange.KindModel && x.may("GET", "/v1/evaluations") {
		d.Performance = c.performance(x, l)
	}
	d.ShowModules = x.may("GET", "/v1/modules")
	c.render(x, http.StatusOK, "entry.html", &page{Title: "entry.title", Active: "nav.catalogue", Data: d})
}

// purposes is the federation's purpose vocabulary, from the policy's
// reference data (data.data.purposes), for the request form's suggestions.
func (c *Console) purposes(x *rc) []string {
	res, err := c.svc.Policies.Eval(x.ctx(), "data.data.purposes", map[string]any{}, policy.ExplainOff)
	if err != nil || !res.Defined {
		return nil
	}
	m, _ := res.Value.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// decisionData is the answer to an access request, allowed or not.
type decisionData struct {
	Ref, Owner, ID   string
	Purpose, Project string
	Allow            bool
	Reasons, Rules   []string
	Obligations      []string
	Bundle           string
	Agreement        string
	GrantID          string
	ExpiresAt        string
}

func (c *Console) request(x *rc) {
	owner, id := x.r.PathValue("owner"), x.r.PathValue("id")
	purpose, project := strings.TrimSpace(x.r.PostFormValue("purpose")), strings.TrimSpace(x.r.PostFormValue("project"))
	d := decisionData{Ref: owner + "/" + id, Owner: owner, ID: id, Purpose: purpose, Project: project}
	ans, err := c.svc.Exchange.RequestAccess(x.ctx(), x.user().Caller(), owner, id, purpose, project)
	var denied *policy.DeniedError
	switch {
	case errors.As(err, &denied):
		dd := denied.Decision
		d.Reasons, d.Rules, d.Obligations, d.Bundle = dd.Reasons, dd.Rules, dd.Obligations, dd.Bundle
		c.render(x, http.StatusForbidden, "decision.html", &page{Title: "decision.title", Active: "nav.catalogue", Data: d})
		return
	case err != nil:
		c.failErr(x, err, Prefix+"catalogue/"+owner+"/"+id)
		return
	}
	dd := ans.Decision
	d.Allow, d.Reasons, d.Rules, d.Obligations, d.Bundle, d.Agreement = dd.Allow, dd.Reasons, dd.Rules, dd.Obligations, dd.Bundle, dd.Agreement
	d.GrantID = ans.GrantID
	if !ans.ExpiresAt.IsZero() {
		d.ExpiresAt = ans.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	code := http.StatusOK
	if !d.Allow {
		code = http.StatusForbidden
	}
	c.render(x, code, "decision.html", &page{Title: "decision.title", Active: "nav.catalogue", Data: d})
}

func (c *Console) fetch(x *rc) {
	owner, id := x.r.PathValue("owner"), x.r.PathValue("id")
	purpose, project := strings.TrimSpace(x.r.PostFormValue("purpose")), strings.TrimSpace(x.r.PostFormValue("project"))
	job, err := c.svc.Exchange.StartFetch(x.ctx(), x.user().Caller(), owner, id, purpose, project)
	if err != nil {
		c.failErr(x, err, Prefix+"catalogue/"+owner+"/"+id)
		return
	}
	c.redirect(x, Prefix+"transfers/"+job.ID)
}

func (c *Console) withdraw(x *rc) {
	owner, id := x.r.PathValue("owner"), x.r.PathValue("id")
	if owner != c.name {
		c.failErr(x, fmtErr("%s/%s: %w (%s); only its owner withdraws it", owner, id, errNotOwn, c.name), Prefix+"catalogue")
		return
	}
	if _, err := c.svc.Catalogue.Withdraw(x.ctx(), id); err != nil {
		c.failErr(x, err, Prefix+"catalogue/"+owner+"/"+id)
		return
	}
	c.redirect(x, Prefix+"catalogue?ok=withdrawn")
}

type publishData struct {
	P               exchange.Publication
	Update          bool
	Themes          []string
	Classifications []string
	Error           string
	Problems        []string
	Metrics         string
	// Dictionary is the data dictionary as the form's JSON text, kept
	// as typed when the form comes back with problems.
	Dictionary string
}

// dictionaryText is a dictionary as the publish form shows it.
func dictionaryText(d *tabular.Dictionary) string {
	if d == nil {
		return ""
	}
	raw, _ := json.MarshalIndent(d, "", "  ")
	return string(raw)
}

func (c *Console) publishForm(x *rc) {
	d := publishData{Themes: exchange.Themes, Classifications: exchange.Classifications}
	d.P.Kind = exchange.KindDataset
	if id := x.r.URL.Query().Get("id"); id != "" {
		l, err := c.svc.Catalogue.Entry(x.ctx(), c.name, id)
		if err != nil {
			c.failErr(x, err, Prefix+"catalogue")
			return
		}
		e := l.Entry
		d.Update = true
		d.P = exchange.Publication{ID: e.ID, Kind: e.Kind, Title: e.Title, Description: e.Description, Theme: e.Theme,
			Classification: e.Classification, Partners: e.Partners, PersonalData: e.PersonalData, RequiresProject: e.RequiresProject,
			License: e.License, Keywords: e.Keywords, MediaType: e.MediaType, Model: e.Model, PublicListing: e.PublicListing,
			Dictionary: e.Dictionary}
		// An update shows the dictionary it would otherwise drop.
		d.Dictionary = dictionaryText(e.Dictionary)
		if e.Model != nil {
			d.Metrics = metricsText(e.Model.Metrics)
		}
	}
	c.render(x, http.StatusOK, "publish.html", &page{Title: "publish.title", Active: "nav.catalogue", Data: d})
}

func metricsText(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + strconv.FormatFloat(m[k], 'g', -1, 64))
	}
	return b.String()
}

func (c *Console) publish(x *rc) {
	f := x.r.PostFormValue
	p := exchange.Publication{ID: strings.TrimSpace(f("id")), Kind: f("kind"), Title: strings.TrimSpace(f("title")),
		Description: strings.TrimSpace(f("description")), Theme: f("theme"), Classification: f("classification"),
		Partners: formList(f("partners")), PersonalData: f("personal_data") == "on", RequiresProject: f("requires_project") == "on",
		License: strings.TrimSpace(f("license")), Keywords: formList(f("keywords")), MediaType: strings.TrimSpace(f("media_type")),
		PublicListing: f("public_listing") == "on"}
	d := publishData{P: p, Update: f("update") == "1", Themes: exchange.Themes, Classifications: exchange.Classifications, Metrics: f("metrics"),
		Dictionary: f("dictionary")}
	if text := strings.TrimSpace(f("dictionary")); text != "" {
		var dict tabular.Dictionary
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&dict); err != nil {
			d.Problems = append(d.Problems, x.t("publish.bad_dictionary", err.Error()))
		} else {
			p.Dictionary = &dict
		}
	}
	if p.Kind == exchange.KindModel {
		m := &exchange.ModelCard{Task: strings.TrimSpace(f("task")), Architecture: strings.TrimSpace(f("architecture")),
			TrainingDatasets: formList(f("training_datasets")), IntendedUses: formList(f("intended_uses")),
			ExcludedUses: formList(f("excluded_uses")), Metrics: map[string]float64{}}
		for _, kv := range formList(f("metrics")) {
			k, v, ok := strings.Cut(kv, "=")
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if !ok || err != nil {
				d.Problems = append(d.Problems, x.t("publish.bad_metric", kv))
				continue
			}
			m.Metrics[strings.TrimSpace(k)] = n
		}
		p.Model, d.P.Model = m, m
	}
	var file io.ReadCloser
	if x.r.MultipartForm != nil {
		if fh := x.r.MultipartForm.File["file"]; len(fh) > 0 {
			if p.FileName == "" {
				p.FileName = fh[0].Filename
			}
			fl, err := fh[0].Open()
			if err == nil {
				file = fl
			}
		}
	}
	if file == nil {
		d.Problems = append(d.Problems, x.t("publish.no_file"))
	}
	if len(d.Problems) > 0 {
		c.render(x, http.StatusBadRequest, "publish.html", &page{Title: "publish.title", Active: "nav.catalogue", Data: d})
		return
	}
	defer file.Close()
	defer func() { _ = x.r.MultipartForm.RemoveAll() }()
	e, err := c.svc.Catalogue.Publish(x.ctx(), p, file)
	if err != nil {
		var invalid *exchange.ValidationError
		if errors.As(err, &invalid) {
			d.Problems = invalid.Problems
		} else {
			d.Error = err.Error()
		}
		code, _, _ := classify(err)
		c.render(x, code, "publish.html", &page{Title: "publish.title", Active: "nav.catalogue", Data: d})
		return
	}
	c.redirect(x, Prefix+"catalogue/"+e.Owner+"/"+e.ID+"?ok=published")
}

func (c *Console) transfers(x *rc) {
	jobs := c.svc.Exchange.Transfers(x.ctx(), x.user().Caller())
	slices.SortFunc(jobs, func(a, b exchange.JobStatus) int { return b.StartedAt.Compare(a.StartedAt) })
	c.render(x, http.StatusOK, "transfers.html", &page{Title: "transfers.title", Active: "nav.transfers", Data: jobs})
}

func (c *Console) transfer(x *rc) {
	job, ok := c.svc.Exchange.Transfer(x.ctx(), x.user().Caller(), x.r.PathValue("id"))
	if !ok {
		c.fail(x, http.StatusNotFound, x.t("error.not_found"))
		return
	}
	c.render(x, http.StatusOK, "transfer.html", &page{Title: "transfer.title", Active: "nav.transfers", Data: job})
}

// transferStatus is what the page's script polls.
func (c *Console) transferStatus(x *rc) {
	job, ok := c.svc.Exchange.Transfer(x.ctx(), x.user().Caller(), x.r.PathValue("id"))
	if !ok {
		writeJSON(x.w, http.StatusNotFound, map[string]string{"error": "no such transfer"})
		return
	}
	writeJSON(x.w, http.StatusOK, map[string]any{"state": job.State, "received": job.Received, "size": job.Size,
		"error": job.Error, "sha256": job.SHA256})
}

// transferContent serves a finished transfer's file to the researcher who
// started it (or an operator), once the download is on the audit record.
func (c *Console) transferContent(x *rc) {
	job, f, err := c.svc.Exchange.OpenTransfer(x.ctx(), x.user().Caller(), x.r.PathValue("id"))
	switch {
	case errors.Is(err, exchange.ErrNotFound):
		c.fail(x, http.StatusNotFound, x.t("error.not_found"))
		return
	case err != nil:
		code, _, _ := classify(err)
		c.fail(x, code, err.Error())
		return
	}
	defer f.Close()
	x.w.Header().Set("Content-Type", "application/octet-stream")
	x.w.Header().Set("Content-Disposition", `attachment; filename="`+safeFileName(job.Dataset)+`"`)
	x.w.Header().Set("X-Xborder-Sha256", job.SHA256)
	http.ServeContent(x.w, x.r, "", job.FinishedAt, f)
}

func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}
