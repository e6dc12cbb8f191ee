package console

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/xborder/xborder/node/api"
)

// country is one of the federation's countries on the node-drawn map: a
// rough outline around the Upper Rhine, where its member's node sits, and
// where its label goes. The outlines are schematic, not borders.
type country struct {
	Code           string
	Points         string
	NodeX, NodeY   int
	LabelX, LabelY int
}

var countriesMap = []country{
	{"BE", "20,60 150,25 190,70 178,128 120,150 60,125 10,95", 95, 85, 60, 55},
	{"LU", "178,128 205,118 218,162 192,186 170,160", 194, 152, 196, 200},
	{"DE", "150,25 480,12 490,268 385,300 330,312 300,252 272,165 218,162 205,118 190,70", 385, 160, 430, 60},
	{"FR", "60,125 120,150 178,128 170,160 192,186 218,162 272,165 300,252 312,330 245,385 120,405 40,300", 190, 280, 110, 360},
	{"CH", "312,330 330,312 385,300 490,290 482,405 300,412 262,382", 395, 360, 450, 400},
}

// fedMember is one member as the federation page shows it.
type fedMember struct {
	api.Peer
	RaftRole       string // leader, follower, non-voter, ""
	LastSync       time.Time
	SyncError      string
	PolicyHash     string
	PolicyDeclared bool
	PolicySame     bool
	X, Y           int
}

type fedLink struct {
	X1, Y1, X2, Y2 int
	Connected      bool
}

type fedData struct {
	Status     api.Status
	Members    []fedMember
	Countries  []country
	Links      []fedLink
	ShowSyncs  bool
	ShowPolicy bool
	PolicyErr  string
}

func (c *Console) federation(x *rc) {
	ctx := x.ctx()
	d := fedData{Status: c.svc.Backend.Status(ctx), Countries: countriesMap}
	syncs := map[string]int{}
	d.ShowSyncs = x.may("GET", "/v1/catalogue")
	cs := c.svc.Catalogue.CatalogueSyncs(ctx)
	if d.ShowSyncs {
		for i, s := range cs {
			syncs[s.Owner] = i
		}
	}
	policies := map[string]api.PeerPolicy{}
	if d.ShowPolicy = x.may("GET", "/v1/policy/peers"); d.ShowPolicy {
		pp, err := c.peerPolicies(ctx)
		if err != nil {
			d.PolicyErr = err.Error()
		}
		for _, p := range pp {
			policies[p.Member] = p
		}
	}
	var unknown int
	var self *fedMember
	for _, p := range c.svc.Backend.Peers(ctx) {
		m := fedMember{Peer: p}
		if rs := d.Status.Raft; rs != nil {
			switch {
			case rs.Leader == p.Name:
				m.RaftRole = "leader"
			case slices.Contains(rs.Voters, p.Name):
				m.RaftRole = "follower"
			case slices.Contains(rs.NonVoters, p.Name):
				m.RaftRole = "nonvoter"
			}
		}
		if i, ok := syncs[p.Name]; ok {
			m.LastSync, m.SyncError = cs[i].SyncedAt, cs[i].LastError
		}
		if pp, ok := policies[p.Name]; ok {
			m.PolicyHash, m.PolicyDeclared, m.PolicySame = pp.Hash, pp.Declared, pp.SameAsLocal
		}
		placed := false
		for _, ct := range countriesMap {
			if strings.EqualFold(ct.Code, p.Country) {
				m.X, m.Y, placed = ct.NodeX, ct.NodeY, true
				// A second member in the same country sits beside the first.
				for _, o := range d.Members {
					if o.X == m.X && o.Y == m.Y {
						m.X += 22
					}
				}
				break
			}
		}
		if !placed {
			m.X, m.Y = 30+unknown*40, 440
			unknown++
		}
		d.Members = append(d.Members, m)
	}
	for i := range d.Members {
		if d.Members[i].Self {
			self = &d.Members[i]
		}
	}
	if self != nil {
		for _, m := range d.Members {
			if !m.Self {
				d.Links = append(d.Links, fedLink{X1: self.X, Y1: self.Y, X2: m.X, Y2: m.Y, Connected: m.Connected})
			}
		}
	}
	c.render(x, http.StatusOK, "federation.html", &page{Title: "federation.title", Active: "nav.federation", Data: d})
}
