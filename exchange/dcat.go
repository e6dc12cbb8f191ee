package exchange

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/piprate/json-gold/ld"
)

// The catalogue's DCAT-AP 3.0.1 graph, with models described per
// MLDCAT-AP 3.0.0, for national and EU data portals to harvest. The graph
// is built as expanded JSON-LD (full IRIs, typed literals) and serialised
// by json-gold: compacted JSON-LD and N-Triples (which the API also serves
// as Turtle, of which it is a subset). docs/DESIGN.md ("The DCAT-AP export") lists the mapping.
//
// IRIs, all under the catalogue's PublicURL, never the request's Host:
//
//	{public}/v1/dcat                          the catalogue of the node's entries
//	{public}/v1/dcat/federation               the catalogue of every member's (DCATFederation)
//	{public}/datasets/{owner}/{id}            a dataset or model
//	{public}/datasets/{owner}/{id}#distribution  its distribution
//	{public}/datasets/{owner}/{id}#file       a model's file (mldcat:File)
//	{public}/publishers/{owner}               a member as publisher
//	{public}/licences/{slug}                  a licence named in free text
//	{public}/tasks/{slug}                     a model's task

// DCATGraph is the catalogue as an RDF graph, ready to serialise.
type DCATGraph struct {
	nodes []any // expanded JSON-LD node objects, sorted by @id
}

// DCAT builds the graph of the node's own entries that
// data.xborder.catalogue.visible shows the public: its open entries, and
// the protected ones whose owner chose to list them (metadata and access
// rights, never the data).
func (c *Catalogue) DCAT(ctx context.Context) *DCATGraph {
	c.mu.RLock()
	own := slices.Collect(maps.Values(c.own))
	c.mu.RUnlock()
	var issued, modified time.Time
	// The catalogue changed last when a listed entry was published,
	// updated or withdrawn; it was first issued with its first listed
	// entry. A withdrawn entry keeps its classification and flag.
	for _, e := range own {
		if !c.publiclyVisible(ctx, e) {
			continue
		}
		if issued.IsZero() || e.Issued.Before(issued) {
			issued = e.Issued
		}
		if e.Modified.After(modified) {
			modified = e.Modified
		}
	}
	b := c.newDCATBuilder(ctx)
	return b.catalogue(b.base+"/v1/dcat", c.self.Org+" — xborder catalogue",
		"Datasets and models that "+c.self.Org+" shares in the cross-border AI federation: the open ones, "+
			"and the protected ones it lists with their access rights and how to ask for access.",
		c.self, issued, modified, c.publicListings(ctx, Filter{Owner: c.self.Name}))
}

// PubliclyVisible reports whether the public catalogue lists an entry:
// what the console links to and the landing page at its IRI answers.
func (c *Catalogue) PubliclyVisible(ctx context.Context, l Listing) bool {
	return c.publiclyVisible(ctx, l.Entry)
}

// publiclyVisible asks data.xborder.catalogue.visible whether the public
// may see e. A policy error hides the entry: the export fails closed.
func (c *Catalogue) publiclyVisible(ctx context.Context, e Entry) bool {
	ok, err := c.authz.CatalogueVisible(ctx, publicInput(e))
	if err != nil {
		c.log.Warn("public catalogue: visibility not decided; entry left out", "entry", e.Ref(), "err", err)
		return false
	}
	return ok
}

// publicListings are the listings matching f that the public may see.
func (c *Catalogue) publicListings(ctx context.Context, f Filter) []Listing {
	var out []Listing
	for _, l := range c.search(f) {
		if c.publiclyVisible(ctx, l.Entry) {
			out = append(out, l)
		}
	}
	return out
}

// DCATFederation builds the graph of the entries of every member this
// node sees that this node's catalogue.visible shows the public (open
// ones, and protected ones their owner chose to list): its own and those synced from its partners, so that a
// portal harvests the federation from one node. Members do not know each
// other's public URL, so every IRI is minted under this node's: a
// partner's entry is {public}/datasets/{owner}/{id}, which this node
// answers (DatasetDCAT), and it is attributed to its owner by its
// dct:publisher, {public}/publishers/{owner}, and its dct:identifier,
// "owner/id", the same on every node. The catalogue itself is published
// by this node, which compiled it.
func (c *Catalogue) DCATFederation(ctx context.Context) *DCATGraph {
	open := c.publicListings(ctx, Filter{})
	// Partners' withdrawn entries are forgotten, so the dates are those of
	// the entries listed: the first issued, the last modified.
	var issued, modified time.Time
	for _, l := range open {
		if issued.IsZero() || l.Issued.Before(issued) {
			issued = l.Issued
		}
		if l.Modified.After(modified) {
			modified = l.Modified
		}
	}
	b := c.newDCATBuilder(ctx)
	return b.catalogue(b.base+"/v1/dcat/federation", "Cross-border AI federation — catalogue compiled by "+c.self.Org,
		"Datasets and models of every member of the cross-border AI federation that "+c.self.Org+
			" sees, each published by its owner: the open ones, and the protected ones their owners list "+
			"with their access rights and how to ask for access.", c.self, issued, modified, open)
}

// DatasetDCAT is the graph of one entry of the federation catalogue that
// the public may see (its dataset, distribution, publisher and the
// concepts they use), as its IRI {public}/datasets/{owner}/{id} answers
// machines. An entry the public may not see is ErrNotFound, exactly like
// one that does not exist, so the public learns nothing of unlisted
// protected entries. A model's mldcat:trainedOn links the training
// datasets the public may see by their IRIs, which answer with their own
// graphs.
func (c *Catalogue) DatasetDCAT(ctx context.Context, owner, id string) (*DCATGraph, Listing, error) {
	l, err := c.Get(owner, id)
	if err != nil || !c.publiclyVisible(ctx, l.Entry) {
		return nil, Listing{}, fmt.Errorf("%s/%s: %w", owner, id, ErrNotFound)
	}
	var open []string
	if l.Kind == KindModel && l.Model != nil {
		for _, r := range l.Model.TrainingDatasets {
			o, tid, _ := ParseRef(r)
			if t, err := c.Get(o, tid); err == nil && c.publiclyVisible(ctx, t.Entry) {
				open = append(open, r)
			}
		}
	}
	inGraph := map[string]bool{}
	for _, r := range open {
		inGraph[r] = true
	}
	b := c.newDCATBuilder(ctx)
	b.dataset(l.Entry, inGraph)
	return b.graph(), l, nil
}

// EntryDCAT is the graph of entry e alone, with IRIs under publicURL; a
// model's mldcat:trainedOn links those of its training datasets named in
// open (refs owner/id), the ones the public may know of. The caller
// decides that the public may see e.
func EntryDCAT(publicURL string, e Entry, open []string) *DCATGraph {
	inGraph := map[string]bool{}
	for _, r := range open {
		inGraph[r] = true
	}
	b := newDCATBuilder(publicURL)
	b.dataset(e, inGraph)
	return b.graph()
}

// newDCATBuilder is a builder whose models carry the quality this
// catalogue's Quality source knows of them.
func (c *Catalogue) newDCATBuilder(ctx context.Context) *dcatBuilder {
	b := newDCATBuilder(c.cfg.PublicURL)
	if c.quality != nil {
		b.quality = func(ref string) []QualityMeasurement { return c.quality.ModelQuality(ctx, ref) }
	}
	return b
}

// dcatBuilder accumulates the graph's nodes by @id.
type dcatBuilder struct {
	base    string
	nodes   map[string]map[string]any
	blanks  int
	quality func(ref string) []QualityMeasurement // nil: none known
}

func newDCATBuilder(publicURL string) *dcatBuilder {
	return &dcatBuilder{base: strings.TrimRight(publicURL, "/"), nodes: map[string]map[string]any{}}
}

// node returns the node with this @id, created on first use, and adds the
// types (full IRIs) to it.
func (b *dcatBuilder) node(id string, types ...string) map[string]any {
	n, ok := b.nodes[id]
	if !ok {
		n = map[string]any{"@id": id}
		b.nodes[id] = n
	}
	for _, t := range types {
		have, _ := n["@type"].([]any)
		if !slices.Contains(have, any(t)) {
			n["@type"] = append(have, t)
		}
	}
	return n
}

// blank returns a new blank node.
func (b *dcatBuilder) blank(types ...string) (string, map[string]any) {
	b.blanks++
	id := "_:b" + strconv.Itoa(b.blanks)
	return id, b.node(id, types...)
}

// add adds values (from ref, plain, typed, tagged) to a property, once.
func add(n map[string]any, prop string, vals ...map[string]any) {
	have, _ := n[prop].([]any)
	for _, v := range vals {
		if !slices.ContainsFunc(have, func(h any) bool { return maps.Equal(h.(map[string]any), v) }) {
			have = append(have, v)
		}
	}
	if len(have) > 0 {
		n[prop] = have
	}
}

func ref(iri string) map[string]any     { return map[string]any{"@id": iri} }
func plain(s string) map[string]any     { return map[string]any{"@value": s} }
func typed(s, dt string) map[string]any { return map[string]any{"@value": s, "@type": dt} }
func dateTime(t time.Time) map[string]any {
	return typed(t.UTC().Format(time.RFC3339), nsXSD+"dateTime")
}

// concept adds a skos:Concept with its label (and further types).
func (b *dcatBuilder) concept(c concept, types ...string) string {
	n := b.node(c.IRI, append([]string{nsSKOS + "Concept"}, types...)...)
	add(n, nsSKOS+"prefLabel", map[string]any{"@value": c.Label, "@language": "en"})
	return c.IRI
}

func (b *dcatBuilder) datasetIRI(e Entry) string {
	return b.base + "/datasets/" + url.PathEscape(e.Owner) + "/" + url.PathEscape(e.ID)
}

// publisher is a member as a foaf:Agent. The node does not hold the
// publisher's ADMS type (regional authority, academia...), so dct:type,
// which DCAT-AP recommends, is left out rather than guessed.
func (b *dcatBuilder) publisher(member, org string) string {
	id := b.base + "/publishers/" + url.PathEscape(member)
	n := b.node(id, nsFOAF+"Agent", nsFOAF+"Organization")
	add(n, nsFOAF+"name", plain(org))
	return id
}

// contact is the publisher's contact point: its organisation, reached
// through its node. The node holds no e-mail address or telephone number.
func (b *dcatBuilder) contact(member, org string) string {
	id := b.base + "/publishers/" + url.PathEscape(member) + "#contact"
	n := b.node(id, nsVCARD+"Kind", nsVCARD+"Organization")
	add(n, nsVCARD+"fn", plain(org))
	add(n, nsVCARD+"hasURL", ref(b.base+"/"))
	return id
}

// location is a country of the EU country authority; "" for a country
// outside the table.
func (b *dcatBuilder) location(code string) string {
	c, ok := countries[code]
	if !ok {
		return ""
	}
	id := nsEU + "country/" + c.ISO3
	n := b.node(id, nsDCT+"Location")
	add(n, nsSKOS+"prefLabel", map[string]any{"@value": c.Name, "@language": "en"})
	w, s, e, no := c.BBox[0], c.BBox[1], c.BBox[2], c.BBox[3]
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	add(n, nsDCAT+"bbox", typed(fmt.Sprintf("POLYGON((%s %s,%s %s,%s %s,%s %s,%s %s))",
		f(w), f(s), f(e), f(s), f(e), f(no), f(w), f(no), f(w), f(s)), nsGSP+"wktLiteral"))
	add(n, nsDCAT+"centroid", typed(fmt.Sprintf("POINT(%s %s)", f(c.CentroidLon), f(c.Lat)), nsGSP+"wktLiteral"))
	return id
}

// licence is the entry's licence as a dct:LicenseDocument: a known SPDX
// identifier becomes the EU licence authority's or SPDX's IRI, free text a
// document of this node's with the text as its label; "" when none.
func (b *dcatBuilder) licence(text string) string {
	text = strings.TrimSpace(text)
	if text == "" {
		return ""
	}
	l, known := licences[strings.ToLower(text)]
	if !known {
		// Its ADMS type is unknown: DCAT-AP's recommended dct:type stays out.
		id := b.base + "/licences/" + slug(text)
		add(b.node(id, nsDCT+"LicenseDocument"), nsRDFS+"label", plain(text))
		return id
	}
	n := b.node(l.IRI, nsDCT+"LicenseDocument")
	for _, t := range l.Types {
		add(n, nsDCT+"type", ref(b.concept(concept{"http://purl.org/adms/licencetype/" + t, licenceTypeLabels[t]})))
	}
	return l.IRI
}

// catalogue builds the whole graph: the catalogue iri, published by self,
// listing the open entries.
func (b *dcatBuilder) catalogue(iri, title, description string, self Member, issued, modified time.Time, open []Listing) *DCATGraph {
	cat := b.node(iri, nsDCAT+"Catalog")
	add(cat, nsDCT+"title", plain(title))
	add(cat, nsDCT+"description", plain(description))
	add(cat, nsDCT+"publisher", ref(b.publisher(self.Name, self.Org)))
	if !issued.IsZero() {
		add(cat, nsDCT+"issued", dateTime(issued))
		add(cat, nsDCT+"modified", dateTime(modified))
	}
	if loc := b.location(self.Country); loc != "" {
		add(cat, nsDCT+"spatial", ref(loc))
	}
	add(cat, nsFOAF+"homepage", ref(b.base+"/"))
	b.node(b.base+"/", nsFOAF+"Document")
	scheme := b.node(nsEU+"data-theme", nsSKOS+"ConceptScheme")
	add(scheme, nsDCT+"title", map[string]any{"@value": "Data theme", "@language": "en"})
	add(cat, nsDCAT+"themeTaxonomy", ref(nsEU+"data-theme"))
	// Not held by the node, so left out: the catalogue's dct:language (the
	// language of its metadata is whatever publishers wrote) and a
	// dct:license of the metadata itself.

	inGraph := map[string]bool{}
	for _, l := range open {
		inGraph[l.Ref()] = true
	}
	for _, l := range open {
		add(cat, nsDCAT+"dataset", ref(b.dataset(l.Entry, inGraph)))
	}

	return b.graph()
}

// graph is what the builder holds, sorted by @id.
func (b *dcatBuilder) graph() *DCATGraph {
	g := &DCATGraph{}
	for _, id := range slices.Sorted(maps.Keys(b.nodes)) {
		g.nodes = append(g.nodes, b.nodes[id])
	}
	return g
}

// dataset adds an entry (a dataset, or a model typed as both
// mldcat:MachineLearningModel and dcat:Dataset, so that portals that
// harvest datasets only still list it) and returns its IRI.
func (b *dcatBuilder) dataset(e Entry, inGraph map[string]bool) string {
	id := b.datasetIRI(e)
	d := b.node(id, nsDCAT+"Dataset")
	add(d, nsDCT+"identifier", plain(e.Ref()))
	add(d, nsDCT+"title", plain(e.Title))
	desc := e.Description
	if strings.TrimSpace(desc) == "" {
		desc = e.Title // DCAT-AP requires a description; the title is all the owner gave
	}
	add(d, nsDCT+"description", plain(desc))
	for _, k := range e.Keywords {
		add(d, nsDCAT+"keyword", plain(k))
	}
	if t, ok := euDataTheme[e.Theme]; ok {
		scheme := nsEU + "data-theme"
		b.concept(t)
		add(b.node(t.IRI), nsSKOS+"inScheme", ref(scheme))
		add(d, nsDCAT+"theme", ref(t.IRI))
	}
	pub := b.publisher(e.Owner, e.Publisher)
	add(d, nsDCT+"publisher", ref(pub))
	add(d, nsDCAT+"contactPoint", ref(b.contact(e.Owner, e.Publisher)))
	if loc := b.location(e.Country); loc != "" {
		add(d, nsDCT+"spatial", ref(loc))
	}
	add(d, nsDCT+"issued", dateTime(e.Issued))
	add(d, nsDCT+"modified", dateTime(e.Modified))
	add(d, nsDCAT+"version", plain(strconv.FormatUint(e.Version, 10)))
	open := e.Classification == "open"
	add(d, nsDCT+"accessRights", ref(b.concept(accessRight(e), nsDCT+"RightsStatement")))
	// MLDCAT-AP requires a collection date on every dataset. The node does
	// not hold when the data were collected; the nearest fact it holds is
	// when the current content was collected into the catalogue.
	add(d, nsMLDCAT+"collectionDate", typed(e.Modified.UTC().Format(time.DateOnly), nsXSD+"date"))
	// The dataset's IRI answers a browser with its landing page; this is
	// that page's own address, for harvesters that look for one.
	page := id + "?format=html"
	b.node(page, nsFOAF+"Document")
	add(d, nsDCAT+"landingPage", ref(page))
	// Not held, so left out: dct:temporal (the period the data cover),
	// dct:language and dct:accrualPeriodicity.
	lic := b.licence(e.License)

	// An open entry's content is fetched through a member node from its
	// catalogue URL. A protected entry's is not downloadable at all: its
	// access URL is its landing page, which says how to ask for access,
	// and the distribution's dct:rights says it too.
	access := b.base + "/v1/catalogue/" + url.PathEscape(e.Owner) + "/" + url.PathEscape(e.ID)
	if !open {
		access = page
	}
	b.node(access, nsDCAT+"Resource")
	dist := b.node(id+"#distribution", nsDCAT+"Distribution")
	add(d, nsDCAT+"distribution", ref(id+"#distribution"))
	if open {
		add(dist, nsDCT+"description", plain("The content of "+e.Title+", checked against its SHA-256 on every transfer."))
	} else {
		how := HowToAsk(e)
		add(dist, nsDCT+"description", plain("The content of "+e.Title+" is not downloadable from this catalogue. "+how))
		rights := b.node(id+"#access", nsDCT+"RightsStatement")
		add(rights, nsRDFS+"label", map[string]any{"@value": how, "@language": "en"})
		add(dist, nsDCT+"rights", ref(id+"#access"))
	}
	add(dist, nsDCAT+"accessURL", ref(access))
	add(dist, nsDCAT+"byteSize", typed(strconv.FormatInt(e.Size, 10), nsXSD+"nonNegativeInteger"))
	mt := bareMediaType(e.MediaType)
	format, knownFormat := fileTypes[mt]
	if mt != "" {
		add(dist, nsDCAT+"mediaType", ref(nsIANA+mt))
		b.node(nsIANA+mt, nsDCT+"MediaType")
	}
	if knownFormat {
		add(dist, nsDCT+"format", ref(b.concept(format, nsDCT+"MediaTypeOrExtent")))
	}
	if lic != "" {
		add(dist, nsDCT+"license", ref(lic))
	}
	// A version's content never changes (it is addressed by its digest),
	// but its owner may withdraw it at any time: available, not stable.
	add(dist, nsDCATAP+"availability", ref(b.concept(concept{nsEU + "planned-availability/AVAILABLE", "available"})))
	add(dist, nsDCT+"issued", dateTime(e.Issued))
	add(dist, nsDCT+"modified", dateTime(e.Modified))
	// A protected entry's digest stays out: with content of few possible
	// values (a small table of personal data), it would let anyone
	// confirm a guess of the content.
	sum := ""
	if open {
		var cs map[string]any
		sum, cs = b.blank(nsSPDX + "Checksum")
		add(cs, nsSPDX+"algorithm", ref(nsSPDX+"checksumAlgorithm_sha256"))
		b.node(nsSPDX+"checksumAlgorithm_sha256", nsSPDX+"ChecksumAlgorithm")
		add(cs, nsSPDX+"checksumValue", typed(e.SHA256, nsXSD+"hexBinary"))
		add(dist, nsSPDX+"checksum", ref(sum))
	}
	// MLDCAT-AP requires a quality measurement on every distribution. The
	// quality the node measures is integrity: every transfer is checked
	// against the SHA-256 above.
	integrity := b.base + "/quality/sha256-integrity"
	q := b.node(integrity, nsMLDCAT+"DataQuality")
	add(q, nsDCT+"identifier", plain("sha256-integrity"))
	add(q, nsDCT+"title", map[string]any{"@value": "Content verified against its SHA-256 on every transfer", "@language": "en"})
	mid, m := b.blank(nsDQV + "QualityMeasurement")
	add(m, nsDCT+"type", ref(integrity))
	add(m, nsDQV+"value", typed("true", nsXSD+"boolean"))
	add(dist, nsDQV+"hasQualityMeasurement", ref(mid))

	if e.Kind == KindModel && e.Model != nil {
		b.model(d, e, access, sum, lic, pub, inGraph)
	}
	return id
}

// model adds what MLDCAT-AP 3.0.0 says of a machine-learning model, from
// its card.
func (b *dcatBuilder) model(d map[string]any, e Entry, access, checksum, lic, pub string, inGraph map[string]bool) {
	id := d["@id"].(string)
	b.node(id, nsMLDCAT+"MachineLearningModel")
	card := e.Model
	add(d, nsMLDCAT+"version", plain(strconv.FormatUint(e.Version, 10)))
	add(d, nsDCT+"created", dateTime(e.Issued))
	add(d, nsMLDCAT+"hasProvider", ref(pub))
	if lic != "" {
		add(d, nsDCT+"license", ref(lic))
	}
	if t := strings.TrimSpace(card.Task); t != "" {
		add(d, nsDCT+"type", ref(b.concept(concept{b.base + "/tasks/" + slug(t), t})))
	}
	if a := strings.TrimSpace(card.Architecture); a != "" {
		add(d, nsMLDCAT+"modelArchitecture", plain(a))
	}
	for _, u := range card.IntendedUses {
		add(d, nsMLDCAT+"intendedUse", plain(u))
	}
	// At most one mldcat:limitations and one mldcat:evaluationResults: the
	// lists are joined.
	if len(card.ExcludedUses) > 0 {
		add(d, nsMLDCAT+"limitations", plain("Not for: "+strings.Join(card.ExcludedUses, "; ")))
	}
	if len(card.Metrics) > 0 {
		var rs []string
		for _, name := range slices.Sorted(maps.Keys(card.Metrics)) {
			rs = append(rs, name+" = "+strconv.FormatFloat(card.Metrics[name], 'g', -1, 64))
		}
		add(d, nsMLDCAT+"evaluationResults", plain(strings.Join(rs, "; ")))
	}
	// mldcat:trainedOn links the training datasets that this graph lists.
	// Protected ones are not listed yet, so a model trained only on
	// protected data has no mldcat:trainedOn (MLDCAT-AP wants one) until
	// protected entries can be listed with their access rights.
	for _, r := range card.TrainingDatasets {
		if inGraph[r] {
			owner, tid, _ := ParseRef(r)
			add(d, nsMLDCAT+"trainedOn", ref(b.datasetIRI(Entry{Owner: owner, ID: tid})))
		}
	}
	if b.quality != nil {
		b.measurements(d, b.quality(e.Ref()))
	}
	file := b.node(id+"#file", nsMLDCAT+"File")
	add(d, nsMLDCAT+"hasFile", ref(id+"#file"))
	if checksum != "" {
		add(file, nsDCT+"identifier", plain("sha256:"+e.SHA256))
	} else {
		add(file, nsDCT+"identifier", plain(e.Ref()+"#file"))
	}
	add(file, nsDCT+"title", plain("Model file of "+e.Title))
	add(file, nsMLDCAT+"url", ref(access))
	format, ok := fileTypes[bareMediaType(e.MediaType)]
	if !ok {
		format = fileTypeBinary
	}
	add(file, nsDCT+"format", ref(b.concept(format, nsDCT+"MediaTypeOrExtent")))
	if checksum != "" {
		add(file, nsSPDX+"checksum", ref(checksum))
	}
}

// measurements adds a model's measured performance as dqv quality
// measurements (MLDCAT-AP 3.0.0): each names its metric (an
// mldcat:DataQuality), its value, its confidence interval when it has
// one, and the evaluation it comes from, as a dqv:QualityMeasurementDataset
// whose identifier is the region and the signed evaluation. The data the
// model was evaluated on is named by its region only: a protected
// dataset's name is not the public's to know.
func (b *dcatBuilder) measurements(d map[string]any, ms []QualityMeasurement) {
	id := d["@id"].(string)
	for _, m := range ms {
		metric := b.base + "/quality/" + slug(m.Metric)
		q := b.node(metric, nsMLDCAT+"DataQuality")
		add(q, nsDCT+"identifier", plain(m.Metric))
		add(q, nsDCT+"title", map[string]any{"@value": metricTitle(m.Metric), "@language": "en"})

		where := m.Region
		if where == "" {
			where = "pooled"
		}
		eval := id + "#evaluation-" + slug(m.Analysis) + "-" + slug(where)
		ed := b.node(eval, nsDQV+"QualityMeasurementDataset")
		add(ed, nsDCT+"identifier", plain(m.Analysis+"/"+where))
		add(ed, nsMLDCAT+"evaluationEngine", plain("xborder sandboxed predictor; metrics computed by the data owner's node"))

		mid := eval + "-" + slug(m.Metric)
		n := b.node(mid, nsDQV+"QualityMeasurement")
		add(n, nsDCT+"type", ref(metric))
		add(n, nsDQV+"value", typed(strconv.FormatFloat(m.Value, 'g', -1, 64), nsXSD+"double"))
		if m.Interval {
			add(n, nsMLDCAT+"intervalStart", typed(strconv.FormatFloat(m.Lower, 'g', -1, 64), nsXSD+"double"))
			add(n, nsMLDCAT+"intervalEnd", typed(strconv.FormatFloat(m.Upper, 'g', -1, 64), nsXSD+"double"))
		}
		add(n, nsQB+"dataSet", ref(eval))
		add(d, nsDQV+"hasQualityMeasurement", ref(mid))
	}
}

// metricTitle names a metric for people.
func metricTitle(metric string) string {
	name, at, ok := strings.Cut(metric, "@")
	title := map[string]string{"auc": "Area under the ROC curve", "brier": "Brier score", "accuracy": "Accuracy",
		"sensitivity": "Sensitivity", "specificity": "Specificity", "n": "Evaluated rows"}[name]
	if title == "" {
		title = name
	}
	if ok {
		title += " at threshold " + at
	}
	return title
}

// accessRight is the entry's access right in the EU access-right
// vocabulary: PUBLIC for open data, RESTRICTED for restricted data (shared
// under conditions, per request), NON_PUBLIC for sensitive, confidential
// or personal data.
func accessRight(e Entry) concept {
	switch {
	case e.Classification == "open":
		return concept{nsEU + "access-right/PUBLIC", "public"}
	case e.Classification == "restricted" && !e.PersonalData:
		return concept{nsEU + "access-right/RESTRICTED", "restricted"}
	default:
		return concept{nsEU + "access-right/NON_PUBLIC", "non-public"}
	}
}

// HowToAsk says, in a sentence, how to ask for access to a protected
// entry: through a member node, whose request the owner's policy decides.
func HowToAsk(e Entry) string {
	return fmt.Sprintf("Access is decided per request by %s's policy (%s, %s): ask through your region's xborder node, "+
		"with `xborder request %s --purpose PURPOSE`, or contact %s.", e.Publisher, e.Owner, e.Classification, e.Ref(), e.Publisher)
}

// errRemoteContext is what the document loader answers: the export never
// fetches a context.
var errRemoteContext = errors.New("dcat: remote JSON-LD documents are not loaded")

type noRemoteLoader struct{}

func (noRemoteLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	return nil, fmt.Errorf("%w: %s", errRemoteContext, u)
}

func ldOptions() *ld.JsonLdOptions {
	o := ld.NewJsonLdOptions("")
	o.DocumentLoader = noRemoteLoader{}
	o.ProcessingMode = ld.JsonLd_1_1
	return o
}

// dcatContext is the inline context of the JSON-LD form: prefixes only,
// since the values carry their own types.
func dcatContext() map[string]any {
	ctx := map[string]any{}
	for _, p := range dcatPrefixes {
		ctx[p.Prefix] = p.NS
	}
	return map[string]any{"@context": ctx}
}

// JSONLD is the graph as compacted JSON-LD with an inline context.
func (g *DCATGraph) JSONLD() (map[string]any, error) {
	out, err := ld.NewJsonLdProcessor().Compact(g.nodes, dcatContext(), ldOptions())
	if err != nil {
		return nil, fmt.Errorf("dcat: compact JSON-LD: %w", err)
	}
	return out, nil
}

// dataset is the graph's triples.
func (g *DCATGraph) dataset() (*ld.RDFDataset, error) {
	out, err := ld.NewJsonLdProcessor().ToRDF(g.nodes, ldOptions())
	if err != nil {
		return nil, fmt.Errorf("dcat: to RDF: %w", err)
	}
	return out.(*ld.RDFDataset), nil
}

// NTriples is the graph as N-Triples, one triple a line, sorted.
func (g *DCATGraph) NTriples() ([]byte, error) {
	ds, err := g.dataset()
	if err != nil {
		return nil, err
	}
	out, err := (&ld.NQuadRDFSerializer{}).Serialize(ds)
	if err != nil {
		return nil, fmt.Errorf("dcat: N-Triples: %w", err)
	}
	lines := strings.SplitAfter(out.(string), "\n")
	slices.Sort(lines)
	return []byte(strings.Join(lines, "")), nil
}

// DCATTerms are the DCAT-AP terms of an entry as IRIs and text, for a
// description published outside the DCAT export (a dataspace's catalogue):
// the same mapping, the same IRIs.
type DCATTerms struct {
	DatasetIRI   string
	LandingPage  string
	Title        string
	Description  string
	Identifier   string // owner/id
	Keywords     []string
	Themes       []string // EU data-theme IRIs
	Licence      string   // "" when none
	Publisher    string
	Spatial      string // EU country IRI, "" when not in the table
	AccessRights string // EU access-right IRI
	MediaType    string // IANA IRI, "" when none
	Issued       time.Time
	Modified     time.Time
	Version      string
}

// EntryDCATTerms maps e as the DCAT export does, with IRIs under
// publicURL.
func EntryDCATTerms(publicURL string, e Entry) DCATTerms {
	b := newDCATBuilder(publicURL)
	id := b.datasetIRI(e)
	t := DCATTerms{
		DatasetIRI: id, LandingPage: id + "?format=html", Title: e.Title, Description: e.Description,
		Identifier: e.Ref(), Keywords: e.Keywords, Licence: b.licence(e.License), Publisher: b.publisher(e.Owner, e.Publisher),
		Spatial: b.location(e.Country), AccessRights: accessRight(e).IRI, Issued: e.Issued, Modified: e.Modified,
		Version: strconv.FormatUint(e.Version, 10),
	}
	if strings.TrimSpace(t.Description) == "" {
		t.Description = e.Title
	}
	if th, ok := euDataTheme[e.Theme]; ok {
		t.Themes = []string{th.IRI}
	}
	if mt := bareMediaType(e.MediaType); mt != "" {
		t.MediaType = nsIANA + mt
	}
	return t
}
