package exchange

import (
	"encoding/json"
	"fmt"
	"math"
)

// Size limits of a catalogue entry. Every member serves its entries to
// every other member over the catalogue protocol, whose pages are bounded
// (CatalogueConfig.PageBytes, under the reader's frame cap); an entry
// without limits could fill a page on its own, and a few of them would
// stop every partner's sync. Publish refuses a publication over a limit
// with a *ValidationError that names the field and the limit (HTTP 400);
// an owner serves an entry over them (stored before the limits existed) as
// withdrawn, and a member drops one received from a partner, each with a
// logged reason. Lengths are in bytes of UTF-8.
const (
	MaxTitleBytes       = 512
	MaxDescriptionBytes = 32 << 10
	MaxKeywords         = 64  // keywords of one entry
	MaxKeywordBytes     = 128 // one keyword
	MaxLicenseBytes     = 512
	MaxPartners         = 64 // named partners of a confidential entry
	MaxPartnerBytes     = 64 // one partner's member name
	MaxMediaTypeBytes   = 255
	MaxFileNameBytes    = 255
	MaxPublisherBytes   = 512 // the owner's organisation, checked on receipt
	// MaxModelTextBytes bounds a model card's task and architecture.
	MaxModelTextBytes = 2 << 10
	// MaxModelItems bounds each list of a model card: training datasets,
	// metrics, intended uses, excluded uses.
	MaxModelItems = 64
	// MaxModelItemBytes bounds one intended or excluded use and one
	// metric name.
	MaxModelItemBytes = 1 << 10
	// MaxEntryBytes bounds a whole entry as JSON, the form in which it
	// travels; it also covers what the field limits leave open (escaping
	// of special characters, fields set by the owner node).
	MaxEntryBytes = 128 << 10
)

// limitChecker collects limit violations as ValidationError lines.
type limitChecker struct{ probs []string }

func (l *limitChecker) text(field, v string, limit int) {
	if len(v) > limit {
		l.probs = append(l.probs, fmt.Sprintf("%s: %d bytes, limit %d bytes", field, len(v), limit))
	}
}

func (l *limitChecker) list(field string, vs []string, items, itemBytes int) {
	if len(vs) > items {
		l.probs = append(l.probs, fmt.Sprintf("%s: %d items, limit %d", field, len(vs), items))
		return
	}
	for i, v := range vs {
		l.text(fmt.Sprintf("%s[%d]", field, i), v, itemBytes)
	}
}

// entryFields are the fields a publication and an entry share.
type entryFields struct {
	title, description, license, mediaType string
	keywords, partners                     []string
	model                                  *ModelCard
}

// check adds the violations of the field limits.
func (l *limitChecker) check(f entryFields) {
	l.text("title", f.title, MaxTitleBytes)
	l.text("description", f.description, MaxDescriptionBytes)
	l.list("keywords", f.keywords, MaxKeywords, MaxKeywordBytes)
	l.text("license", f.license, MaxLicenseBytes)
	l.list("partners", f.partners, MaxPartners, MaxPartnerBytes)
	l.text("media_type", f.mediaType, MaxMediaTypeBytes)
	if m := f.model; m != nil {
		l.text("model.task", m.Task, MaxModelTextBytes)
		l.text("model.architecture", m.Architecture, MaxModelTextBytes)
		if len(m.TrainingDatasets) > MaxModelItems {
			l.probs = append(l.probs, fmt.Sprintf("model.training_datasets: %d items, limit %d", len(m.TrainingDatasets), MaxModelItems))
		}
		if len(m.Metrics) > MaxModelItems {
			l.probs = append(l.probs, fmt.Sprintf("model.metrics: %d items, limit %d", len(m.Metrics), MaxModelItems))
		} else {
			for name := range m.Metrics {
				if len(name) > MaxModelItemBytes {
					l.probs = append(l.probs, fmt.Sprintf("model.metrics: a name of %d bytes, limit %d bytes", len(name), MaxModelItemBytes))
				}
			}
		}
		l.list("model.intended_uses", m.IntendedUses, MaxModelItems, MaxModelItemBytes)
		l.list("model.excluded_uses", m.ExcludedUses, MaxModelItems, MaxModelItemBytes)
	}
}

// limitProblems lists the limits a publication exceeds.
func (p *Publication) limitProblems() []string {
	var l limitChecker
	l.check(entryFields{p.Title, p.Description, p.License, p.MediaType, p.Keywords, p.Partners, p.Model})
	l.text("file_name", p.FileName, MaxFileNameBytes)
	return l.probs
}

// entryLimitProblems lists the limits an entry exceeds, its encoded size
// included: what an owner checks before it serves an entry and a member
// before it stores one received from a partner. It also checks the entry's
// ID, which becomes part of the member's cache key.
func entryLimitProblems(e Entry) []string {
	probs, _ := entryLimits(e)
	return probs
}

// entryLimits is entryLimitProblems and the entry's encoded size.
func entryLimits(e Entry) ([]string, int) {
	var l limitChecker
	if ValidateID(e.ID) != nil {
		l.probs = append(l.probs, "id: not a catalogue entry ID")
	}
	l.check(entryFields{e.Title, e.Description, e.License, e.MediaType, e.Keywords, e.Partners, e.Model})
	l.text("publisher", e.Publisher, MaxPublisherBytes)
	// A dictionary's size counts in the entry's encoded size; an invalid
	// one (a partner's, or one stored before it was checked) would mislead
	// every analysis planned from it.
	l.probs = append(l.probs, dictionaryProblems(e.Kind, e.Dictionary)...)
	n := encodedSize(e)
	if n > MaxEntryBytes {
		l.probs = append(l.probs, fmt.Sprintf("entry: %d bytes as JSON, limit %d bytes", n, MaxEntryBytes))
	}
	return l.probs, n
}

// encodedSize is the length of v's JSON encoding, as it travels in a
// delta page (json.Marshal of a slice encodes each element the same way);
// a value that cannot be encoded counts as too large.
func encodedSize(v any) int {
	raw, err := json.Marshal(v)
	if err != nil {
		return math.MaxInt
	}
	return len(raw)
}
