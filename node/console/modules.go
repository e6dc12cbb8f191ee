package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/xborder/xborder/consensus"
)

// The registry's WebAssembly modules (GET /v1/modules): by project, with
// each data owner's approval, and the approve and withdraw forms for this
// node (POST /v1/modules/{project}/{sha256}/approve, .../withdraw).

// moduleOwner is the approval state of one owner of a dataset attached
// to the module's project (or of an approver that no longer owns one).
type moduleOwner struct {
	Name     string
	Approved bool
	At       time.Time
	// Attached is false for an approver that owns no attached dataset
	// any more: its approval is on record, but lets nothing run.
	Attached bool
}

// moduleRow is one module as the page shows it.
type moduleRow struct {
	consensus.Module
	Anchor string
	Owners []moduleOwner
	Schema string // an analysis module's output schema, indented
	// Approve: this node owns an attached dataset and has not approved;
	// Withdraw: it is the lead (WithdrawModule) or an approver.
	Approve, Withdraw, WithdrawModule bool
}

// moduleProject is a project and its modules.
type moduleProject struct {
	ID      string
	Title   string
	Lead    string
	Status  string
	Known   bool // the registry holds the project (it always should)
	Modules []moduleRow
}

type modulesData struct {
	Projects []moduleProject
	Self     string
	// The page's filters.
	Project, SHA256 string
}

func (c *Console) modules(x *rc) {
	if c.svc.Modules == nil {
		c.fail(x, http.StatusServiceUnavailable, x.t("modules.unavailable"))
		return
	}
	q := x.r.URL.Query()
	d := modulesData{Self: c.name, Project: q.Get("project"), SHA256: q.Get("sha256")}
	ms, _, err := c.svc.Modules.Modules(x.ctx(), d.Project)
	if err != nil {
		c.failErr(x, err, Prefix)
		return
	}
	byProject := map[string]int{}
	projects := map[string]*consensus.Project{}
	for _, m := range ms {
		if d.SHA256 != "" && m.SHA256 != d.SHA256 {
			continue
		}
		i, ok := byProject[m.Project]
		if !ok {
			mp := moduleProject{ID: m.Project}
			if p, _, err := c.svc.Registry.Project(x.ctx(), m.Project); err == nil {
				projects[m.Project] = &p
				mp.Title, mp.Lead, mp.Status, mp.Known = p.Title, p.Lead, p.Status, true
			}
			i = len(d.Projects)
			byProject[m.Project] = i
			d.Projects = append(d.Projects, mp)
		}
		d.Projects[i].Modules = append(d.Projects[i].Modules, c.moduleRow(x, m, projects[m.Project]))
	}
	slices.SortFunc(d.Projects, func(a, b moduleProject) int { return strings.Compare(a.ID, b.ID) })
	for _, p := range d.Projects {
		slices.SortStableFunc(p.Modules, func(a, b moduleRow) int {
			if a.Proposed != b.Proposed {
				return int(a.Proposed - b.Proposed)
			}
			return strings.Compare(a.Name, b.Name)
		})
	}
	c.render(x, http.StatusOK, "modules.html", &page{Title: "modules.title", Active: "nav.modules", Data: d})
}

// moduleRow lays a module out, with what this node may do to it; p is
// its project, nil when the registry does not hold it.
func (c *Console) moduleRow(x *rc, m consensus.Module, p *consensus.Project) moduleRow {
	r := moduleRow{Module: m, Anchor: "module-" + safeFileName(m.Project) + "-" + safeFileName(m.SHA256)}
	if len(m.Schema) > 0 {
		var b bytes.Buffer
		if json.Indent(&b, m.Schema, "", "  ") == nil {
			r.Schema = b.String()
		} else {
			r.Schema = string(m.Schema)
		}
	}
	attached := map[string]bool{}
	if p != nil {
		for _, ds := range p.Datasets {
			if owner, _, ok := strings.Cut(ds, "/"); ok && owner != "" {
				attached[owner] = true
			}
		}
	}
	names := make([]string, 0, len(attached)+len(m.Approvals))
	for o := range attached {
		names = append(names, o)
	}
	for _, a := range m.Approvals {
		if !attached[a] {
			names = append(names, a)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		o := moduleOwner{Name: n, Approved: slices.Contains(m.Approvals, n), Attached: attached[n]}
		if ts := m.ApprovedAt[n]; ts != 0 && o.Approved {
			o.At = time.UnixMilli(ts).UTC()
		}
		r.Owners = append(r.Owners, o)
	}
	if m.Withdrawn != 0 || p == nil {
		return r
	}
	path := "/v1/modules/" + m.Project + "/" + m.SHA256 + "/"
	self := c.name
	r.Approve = p.Status == "active" && attached[self] && !slices.Contains(m.Approvals, self) && x.may("POST", path+"approve")
	r.WithdrawModule = p.Lead == self
	r.Withdraw = (r.WithdrawModule || slices.Contains(m.Approvals, self)) && x.may("POST", path+"withdraw")
	return r
}

func (c *Console) approveModule(x *rc) { c.moduleOp(x, consensus.OpModuleApprove, "module_approved") }

func (c *Console) withdrawModule(x *rc) {
	c.moduleOp(x, consensus.OpModuleWithdraw, "module_withdrawn")
}

// moduleOp submits an approval or a withdrawal through the registry
// clerk, which the node's registry policy admits or refuses.
func (c *Console) moduleOp(x *rc, op, flash string) {
	ref := consensus.ModuleRef{Project: x.r.PathValue("project"), SHA256: x.r.PathValue("sha256")}
	back := Prefix + "modules?project=" + url.QueryEscape(ref.Project)
	if _, err := c.svc.Registry.Submit(x.ctx(), op, ref); err != nil {
		c.failErr(x, err, back)
		return
	}
	c.redirect(x, back+"&ok="+flash+"#module-"+safeFileName(ref.Project)+"-"+safeFileName(ref.SHA256))
}
