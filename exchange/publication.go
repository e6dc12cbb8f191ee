package exchange

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/analysis/tabular"
)

// Publication is what an operator gives to publish or update an entry.
type Publication struct {
	ID              string   `json:"id"`
	Kind            string   `json:"kind"`
	Title           string   `json:"title"`
	Description     string   `json:"description"`
	Theme           string   `json:"theme"`
	Classification  string   `json:"classification"`
	Partners        []string `json:"partners"`
	PersonalData    bool     `json:"personal_data"`
	RequiresProject bool     `json:"requires_project"`
	License         string   `json:"license"`
	Keywords        []string `json:"keywords"`
	MediaType       string   `json:"media_type"`
	FileName        string   `json:"file_name"` // for the media type when none is given
	// Model is the model card; required for kind model, refused for datasets.
	Model *ModelCard `json:"model,omitempty"`
	// Dictionary is the data dictionary of a tabular dataset (see
	// Entry.Dictionary); refused for models.
	Dictionary *tabular.Dictionary `json:"dictionary,omitempty"`
	// PublicListing lists a protected entry in the public catalogue (see
	// Entry.PublicListing).
	PublicListing bool `json:"public_listing,omitempty"`
}

// Validate checks a publication field by field.
func (p *Publication) Validate() error {
	var probs []string
	add := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	if why := idProblem(p.ID); why != "" {
		add("id: %q %s (see exchange.ValidateID)", p.ID, why)
	}
	if p.Kind == "" {
		p.Kind = KindDataset
	}
	if p.Kind != KindDataset && p.Kind != KindModel {
		add("kind: %q is not dataset or model", p.Kind)
	}
	if strings.TrimSpace(p.Title) == "" {
		add("title: empty")
	}
	if !slices.Contains(Themes, p.Theme) {
		add("theme: %q is not one of %s", p.Theme, strings.Join(Themes, ", "))
	}
	if !slices.Contains(Classifications, p.Classification) {
		add("classification: %q is not one of %s", p.Classification, strings.Join(Classifications, ", "))
	}
	if p.Classification == "confidential" && len(p.Partners) == 0 {
		add("partners: a confidential entry names the partners who may see it")
	}
	switch {
	case p.Kind == KindModel && p.Model == nil:
		add("model: a model entry carries a model card (task, architecture, training datasets, metrics, intended and excluded uses)")
	case p.Kind == KindModel:
		probs = append(probs, p.Model.problems()...)
	case p.Model != nil:
		add("model: only a model entry carries a model card")
	}
	probs = append(probs, dictionaryProblems(p.Kind, p.Dictionary)...)
	probs = append(probs, p.limitProblems()...)
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

// Publish stores content and publishes (or updates) the entry, then
// announces the new catalogue version and records the publication.
func (c *Catalogue) Publish(ctx context.Context, p Publication, content io.Reader) (Entry, error) {
	e, err := c.publish(ctx, p, content)
	if err == nil {
		c.record(RecordCataloguePublish, e, map[string]any{"sha256": e.SHA256, "size": e.Size,
			"classification": e.Classification, "version": e.Version})
	}
	return e, err
}

func (c *Catalogue) publish(ctx context.Context, p Publication, content io.Reader) (Entry, error) {
	if err := p.Validate(); err != nil {
		return Entry{}, err
	}
	if err := c.checkPredictor(p.Model); err != nil {
		return Entry{}, err
	}
	if err := c.checkEntrySize(p); err != nil {
		return Entry{}, err
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(content, head)
	head = head[:n]
	sum, size, err := c.blobs.Put(io.MultiReader(strings.NewReader(string(head)), content))
	if err != nil {
		return Entry{}, err
	}
	media := p.MediaType
	if media == "" {
		media = mediaTypeByName(p.FileName)
	}
	if media == "" {
		media = http.DetectContentType(head)
	}
	now := time.Now().UTC().Truncate(time.Second)
	e := Entry{ID: p.ID, Kind: p.Kind, Title: p.Title, Description: p.Description, Owner: c.self.Name,
		Publisher: c.self.Org, Country: c.self.Country, Theme: p.Theme, Classification: p.Classification,
		Partners: sortedSet(p.Partners), PersonalData: p.PersonalData, RequiresProject: p.RequiresProject,
		License: p.License, Keywords: sortedSet(p.Keywords), MediaType: media, Size: size, SHA256: sum,
		Issued: now, Modified: now, Model: p.Model.normalized(), Dictionary: cloneDictionary(p.Dictionary),
		PublicListing: p.PublicListing}
	c.mu.Lock()
	if old, ok := c.own[p.ID]; ok && !old.Withdrawn {
		e.Issued = old.Issued
	}
	return c.commitOwn(ctx, e)
}

// StoreModule stores a WebAssembly module — a model's predictor, or an
// analysis module a project reviews — in the blob store, and returns its
// SHA-256 and size. It refuses, as a *ValidationError, content that is
// not a binary WebAssembly module or is larger than MaxPredictorBytes.
// The module is not run here: only a data owner's sandbox ever runs it.
func (c *Catalogue) StoreModule(r io.Reader) (sum string, size int64, err error) {
	head := make([]byte, len(wasmMagic))
	n, _ := io.ReadFull(r, head)
	if n < len(wasmMagic) || !bytes.Equal(head, wasmMagic) {
		return "", 0, &ValidationError{Problems: []string{"module: not a binary WebAssembly module (version 1)"}}
	}
	limited := &io.LimitedReader{R: io.MultiReader(bytes.NewReader(head), r), N: MaxPredictorBytes + 1}
	if sum, size, err = c.blobs.Put(limited); err != nil {
		return "", 0, err
	}
	if size > MaxPredictorBytes {
		c.blobs.Remove(sum)
		return "", 0, &ValidationError{Problems: []string{fmt.Sprintf("module: larger than %d bytes", MaxPredictorBytes)}}
	}
	return sum, size, nil
}

// OpenModule opens a stored module (or any stored content) by its SHA-256;
// ErrNoBlob when this node holds none.
func (c *Catalogue) OpenModule(sum string) (*os.File, error) { return c.blobs.Open(sum) }

// checkPredictor refuses a model card whose predictor this node does not
// hold as named: a partner asked to evaluate the model would be sent a
// module no one here can produce.
func (c *Catalogue) checkPredictor(card *ModelCard) error {
	if card == nil || card.Predictor == nil {
		return nil
	}
	size, err := c.blobs.Size(card.Predictor.SHA256)
	switch {
	case errors.Is(err, ErrNoBlob):
		return &ValidationError{Problems: []string{"model.predictor.sha256: this node holds no module with this digest; upload the predictor with the publication"}}
	case err != nil:
		return err
	case size != card.Predictor.Size:
		return &ValidationError{Problems: []string{fmt.Sprintf("model.predictor.size: %d, but the module with this digest is %d bytes", card.Predictor.Size, size)}}
	}
	return nil
}

// checkEntrySize refuses, before anything is stored, a publication whose
// entry would encode to more than MaxEntryBytes: it measures the entry
// with the largest values the fields Publish fills in can take.
func (c *Catalogue) checkEntrySize(p Publication) error {
	media := p.MediaType
	if media == "" {
		media = mediaTypeByName(p.FileName)
	}
	if media == "" {
		media = strings.Repeat("m", 64) // longer than any sniffed type
	}
	now := time.Now().UTC().Truncate(time.Second)
	e := Entry{ID: p.ID, Kind: p.Kind, Title: p.Title, Description: p.Description, Owner: c.self.Name,
		Publisher: c.self.Org, Country: c.self.Country, Theme: p.Theme, Classification: p.Classification,
		Partners: sortedSet(p.Partners), PersonalData: p.PersonalData, RequiresProject: p.RequiresProject,
		License: p.License, Keywords: sortedSet(p.Keywords), MediaType: media, Size: math.MaxInt64,
		SHA256: strings.Repeat("0", sha256.Size*2), Issued: now, Modified: now, Version: math.MaxUint64,
		Model: p.Model.normalized(), Dictionary: p.Dictionary, PublicListing: p.PublicListing}
	if n := encodedSize(e); n > MaxEntryBytes {
		return &ValidationError{Problems: []string{fmt.Sprintf("entry: %d bytes as JSON, limit %d bytes", n, MaxEntryBytes)}}
	}
	return nil
}

// commitOwn stores an own entry under a new version, mirrors it in memory
// and announces the version. It is called with c.mu held and releases it
// before announcing.
func (c *Catalogue) commitOwn(ctx context.Context, e Entry) (Entry, error) {
	err := c.db.Update(func(tx *bolt.Tx) (err error) {
		e, err = putOwn(tx, e)
		return err
	})
	if err == nil {
		c.setOwn(e)
	}
	c.mu.Unlock()
	if err != nil {
		return Entry{}, err
	}
	c.announce(ctx)
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return e, nil
}

// Withdraw removes an own entry from the catalogue; partners drop it on
// their next sync. The withdrawal is recorded.
func (c *Catalogue) Withdraw(ctx context.Context, id string) (Entry, error) {
	c.mu.Lock()
	e, ok := c.own[id]
	if !ok || e.Withdrawn {
		c.mu.Unlock()
		return Entry{}, fmt.Errorf("%s/%s: %w", c.self.Name, id, ErrNotFound)
	}
	e.Withdrawn, e.Modified = true, time.Now().UTC().Truncate(time.Second)
	e, err := c.commitOwn(ctx, e)
	if err == nil {
		c.record(RecordCatalogueWithdraw, e, map[string]any{"version": e.Version})
	}
	return e, err
}

// Audit record types of the catalogue.
const (
	RecordCataloguePublish  = "catalogue.publish"
	RecordCatalogueWithdraw = "catalogue.withdraw"
)

// record keeps a change of an own entry in the audit trail. The change is
// made and announced by then: a record that cannot be written is logged,
// not undone.
func (c *Catalogue) record(typ string, e Entry, details map[string]any) {
	if err := c.rec.Record(typ, e.Ref(), details); err != nil {
		c.log.Error("audit record not written", "type", typ, "subject", e.Ref(), "err", err)
	}
}

func sortedSet(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// dictionaryProblems lists what is wrong with an entry's data dictionary,
// as ValidationError lines: only a dataset carries one, and it must be
// valid (tabular.Dictionary.Validate).
func dictionaryProblems(kind string, d *tabular.Dictionary) []string {
	if d == nil {
		return nil
	}
	if kind != KindDataset {
		return []string{"dictionary: only a dataset entry carries a data dictionary"}
	}
	var de *tabular.DictionaryError
	if err := d.Validate(); errors.As(err, &de) {
		probs := make([]string, len(de.Problems))
		for i, p := range de.Problems {
			probs[i] = "dictionary: " + p
		}
		return probs
	}
	return nil
}

// cloneDictionary copies a dictionary, so that the entry stored does not
// share the publication's slices.
func cloneDictionary(d *tabular.Dictionary) *tabular.Dictionary {
	if d == nil {
		return nil
	}
	c := tabular.Dictionary{Columns: slices.Clone(d.Columns)}
	for i := range c.Columns {
		c.Columns[i].Levels = slices.Clone(c.Columns[i].Levels)
	}
	return &c
}

// mediaTypes are the media types of extensions that Go's table and the
// system's may lack: the analyses choose how to read a dataset by its
// media type.
var mediaTypes = map[string]string{".parquet": "application/vnd.apache.parquet"}

// mediaTypeByName is the media type a file name's extension implies, or "".
func mediaTypeByName(name string) string {
	ext := filepath.Ext(name)
	if t, ok := mediaTypes[strings.ToLower(ext)]; ok {
		return t
	}
	return mime.TypeByExtension(ext)
}
