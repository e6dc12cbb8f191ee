package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// setOwn records an own entry in memory; c.mu is held.
func (c *Catalogue) setOwn(e Entry) {
	c.own[e.ID] = e
	if e.Withdrawn {
		delete(c.listed, e.Ref())
		return
	}
	c.listed[e.Ref()], _ = json.Marshal(Listing{Entry: e, Local: true})
}

// setRemote records a partner's entry in memory; c.mu is held.
func (c *Catalogue) setRemote(r RemoteEntry) {
	c.remote[r.Ref()] = r
	c.listed[r.Ref()], _ = json.Marshal(Listing{Entry: r.Entry, FetchedAt: r.FetchedAt})
}

// dropRemote forgets a partner's entry; c.mu is held.
func (c *Catalogue) dropRemote(ref string) {
	delete(c.remote, ref)
	delete(c.listed, ref)
}

// ListingJSON is the whole federation catalogue as a JSON array of
// listings, sorted by owner/id, assembled from entries encoded when they
// changed: listing ten thousand entries encodes none of them.
func (c *Catalogue) ListingJSON(context.Context) []byte {
	c.mu.RLock()
	defer c.mu.RUnlock()
	refs := slices.Sorted(maps.Keys(c.listed))
	size := 2
	for _, r := range refs {
		size += len(c.listed[r]) + 1
	}
	out := make([]byte, 0, size)
	out = append(out, '[')
	for i, r := range refs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, c.listed[r]...)
	}
	return append(out, ']')
}

// Filter selects catalogue entries.
type Filter struct {
	Theme, Country, Owner, Kind, Classification string
	Q                                           string // words in title, description or keywords
}

// Listing is one entry of the federation catalogue as this node sees it.
type Listing struct {
	Entry
	Local     bool      `json:"local"`
	FetchedAt time.Time `json:"fetched_at,omitzero"` // when the owner last confirmed it
}

// Search lists own and cached entries that match, sorted by owner and id.
func (c *Catalogue) Search(_ context.Context, f Filter) []Listing { return c.search(f) }

func (c *Catalogue) search(f Filter) []Listing {
	words := strings.Fields(strings.ToLower(f.Q))
	match := func(e Entry) bool {
		switch {
		case e.Withdrawn,
			f.Theme != "" && e.Theme != f.Theme,
			f.Country != "" && !strings.EqualFold(e.Country, f.Country),
			f.Owner != "" && e.Owner != f.Owner,
			f.Kind != "" && e.Kind != f.Kind,
			f.Classification != "" && e.Classification != f.Classification:
			return false
		}
		if len(words) == 0 {
			return true
		}
		text := strings.ToLower(e.Title + " " + e.Description + " " + strings.Join(e.Keywords, " "))
		for _, w := range words {
			if !strings.Contains(text, w) {
				return false
			}
		}
		return true
	}
	c.mu.RLock()
	out := make([]Listing, 0, len(c.own)+len(c.remote))
	for _, e := range c.own {
		if match(e) {
			out = append(out, Listing{Entry: e, Local: true})
		}
	}
	for _, r := range c.remote {
		if match(r.Entry) {
			out = append(out, Listing{Entry: r.Entry, FetchedAt: r.FetchedAt})
		}
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b Listing) int {
		if c := strings.Compare(a.Owner, b.Owner); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Entry returns one entry of the federation catalogue.
func (c *Catalogue) Entry(_ context.Context, owner, id string) (Listing, error) {
	return c.Get(owner, id)
}

// Get returns one entry of the federation catalogue.
func (c *Catalogue) Get(owner, id string) (Listing, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if owner == c.self.Name {
		if e, ok := c.own[id]; ok && !e.Withdrawn {
			return Listing{Entry: e, Local: true}, nil
		}
	} else if r, ok := c.remote[owner+"/"+id]; ok {
		return Listing{Entry: r.Entry, FetchedAt: r.FetchedAt}, nil
	}
	return Listing{}, fmt.Errorf("%s/%s: %w", owner, id, ErrNotFound)
}
