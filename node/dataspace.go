package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/policy"
)

// dataspaceCatalogue is the node's own catalogue as the dataspace
// provider reads it: each entry with its DCAT-AP terms (the export's
// mapping, the export's IRIs) and its policy facts.
type dataspaceCatalogue struct {
	cat       *exchange.Catalogue
	self      string
	publicURL string
}

func (c dataspaceCatalogue) Entries(ctx context.Context) []dsp.Entry {
	var out []dsp.Entry
	for _, l := range c.cat.Search(ctx, exchange.Filter{Owner: c.self}) {
		if l.Local && !l.Withdrawn {
			out = append(out, c.entry(l.Entry))
		}
	}
	return out
}

func (c dataspaceCatalogue) Entry(_ context.Context, id string) (dsp.Entry, bool) {
	e, ok := c.cat.Lookup(id)
	if !ok || e.Withdrawn {
		return dsp.Entry{}, false
	}
	return c.entry(e), true
}

func (c dataspaceCatalogue) Open(_ context.Context, sum string) (io.ReadSeekCloser, error) {
	return c.cat.OpenBlob(sum)
}

func (c dataspaceCatalogue) entry(e exchange.Entry) dsp.Entry {
	t := exchange.EntryDCATTerms(c.publicURL, e)
	d := dsp.DCAT{
		Title: t.Title, Description: t.Description, Identifier: t.Identifier, Keyword: t.Keywords,
		Publisher: &dsp.IRI{ID: t.Publisher}, LandingPage: &dsp.IRI{ID: t.LandingPage},
		AccessRights: &dsp.IRI{ID: t.AccessRights}, Version: t.Version,
		Issued: t.Issued.UTC().Format("2006-01-02T15:04:05Z"), Modified: t.Modified.UTC().Format("2006-01-02T15:04:05Z"),
	}
	for _, th := range t.Themes {
		d.Theme = append(d.Theme, dsp.IRI{ID: th})
	}
	if t.Licence != "" {
		d.License = &dsp.IRI{ID: t.Licence}
	}
	if t.Spatial != "" {
		d.Spatial = []dsp.IRI{{ID: t.Spatial}}
	}
	partners := e.Partners
	if partners == nil {
		partners = []string{}
	}
	return dsp.Entry{
		ID: e.ID, SHA256: e.SHA256, Size: e.Size, MediaType: e.MediaType, DCAT: d,
		Visibility: policy.CatalogueEntry{ID: e.ID, Owner: e.Owner, Kind: e.Kind, Classification: e.Classification,
			Theme: e.Theme, Partners: partners, PersonalData: e.PersonalData, PublicListing: e.PublicListing},
		Resource: policy.Resource{Kind: e.Kind, ID: e.ID, Owner: e.Owner, Theme: e.Theme, Classification: e.Classification,
			PersonalData: e.PersonalData, License: e.License, RequiresProject: e.RequiresProject, Partners: partners},
	}
}

// DataspaceConfig is the `dataspace:` section of config.yaml: the node as
// a participant of dataspaces (Dataspace Protocol 2025-1, HTTPS binding),
// served on the API listener under BasePath.
type DataspaceConfig struct {
	// Enabled turns the protocol's endpoints and the consumer on.
	Enabled bool `yaml:"enabled"`
	// ParticipantID names this node in the dataspace; empty:
	// urn:xborder:NAME.
	ParticipantID string `yaml:"participant_id,omitempty"`
	// BasePath is where the protocol is served; empty: /dsp.
	BasePath string `yaml:"base_path,omitempty"`
	// DataTokenTTL is how long an HTTP-pull token lasts; zero: 10m.
	DataTokenTTL Duration `yaml:"data_token_ttl,omitempty"`
	// Participants are the dataspace's participants this node deals with:
	// who they are (id, country, organisation), the key their tokens are
	// signed with, and where their DSP endpoints are.
	Participants []dsp.ParticipantConfig `yaml:"participants,omitempty"`
}

// participantID is the configured ID or the default for member name.
func (c DataspaceConfig) participantID(name string) string {
	if c.ParticipantID != "" {
		return c.ParticipantID
	}
	return "urn:xborder:" + name
}

// dsp derives the dataspace service's configuration.
func (c DataspaceConfig) dsp(cfg *Config, dataDir string) dsp.Config {
	d := dsp.DefaultConfig(dataDir)
	d.ParticipantID = c.participantID(cfg.Name)
	d.PublicURL = cfg.PublicBaseURL()
	if c.BasePath != "" {
		d.BasePath = c.BasePath
	}
	if c.DataTokenTTL > 0 {
		d.DataTokenTTL = c.DataTokenTTL.Std()
	}
	return d
}

func (c DataspaceConfig) validate(cfg *Config, p *problems) {
	if !c.Enabled {
		return
	}
	if err := c.dsp(cfg, ".").Validate(); err != nil {
		for _, e := range unjoin(err) {
			p.addf("%v", e)
		}
	}
	if err := dsp.ValidateParticipants("dataspace.participants", c.Participants); err != nil {
		for _, e := range unjoin(err) {
			p.addf("%v", e)
		}
	}
	for i, pc := range c.Participants {
		if !IsCountryCode(pc.Country) {
			p.addf("dataspace.participants[%d].country: %q is not an assigned ISO 3166-1 alpha-2 code", i, pc.Country)
		}
		if pc.ID == c.participantID(cfg.Name) {
			p.addf("dataspace.participants[%d].id: %q is this node's own participant id", i, pc.ID)
		}
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// openDataspace starts the node's dataspace participant when the
// configuration enables it.
func (n *Node) openDataspace() error {
	c := n.cfg.Dataspace
	if !c.Enabled {
		return nil
	}
	id := c.participantID(n.cfg.Name)
	vc := dsp.DefaultVerifierConfig()
	vc.Audience, vc.Participants, vc.Clock, vc.Logger = id, c.Participants, n.now, n.log.With("component", "dataspace")
	verifier, err := dsp.NewTokenVerifier(vc)
	if err != nil {
		return fmt.Errorf("dataspace participants: %w", err)
	}
	signer := dsp.NewSigner(id, n.id.Key, n.now)
	n.dsp, err = dsp.Open(c.dsp(&n.cfg, n.dataDir), dsp.Deps{
		Catalogue:      dataspaceCatalogue{cat: n.catalogue, self: n.cfg.Name, publicURL: n.cfg.PublicBaseURL()},
		Policy:         n.policy,
		ConsumerPolicy: n.policy,
		Recorder:       auditRecorder{n},
		Verifier:       verifier,
		Tokens:         signer,
		Participants:   verifier.Participant,
		Key:            n.id.Key,
		Self:           policy.Node{Node: n.cfg.Name, PeerID: n.id.PeerID.String(), Country: n.cfg.Country, Org: n.cfg.Org},
		Log:            n.log.With("component", "dataspace"),
		Clock:          n.now,
	})
	if err != nil {
		return fmt.Errorf("open dataspace: %w", err)
	}
	n.dspSigner = signer
	return nil
}

// dataspaceAPI is the dataspace participant as the local API drives it:
// the service's consumer operations and records, the node's identity in
// the dataspace, and the audit of a local download.
type dataspaceAPI struct {
	*dsp.Service
	n *Node
}

func (d dataspaceAPI) Identity() (string, json.RawMessage, error) {
	jwk, err := d.n.dspSigner.PublicJWK()
	if err != nil {
		return "", nil, err
	}
	return d.n.dspSigner.ParticipantID(), jwk, nil
}

// auditDataspaceDownload is the record of a local user's download of a
// file fetched from a dataspace.
const auditDataspaceDownload = "dsp.downloaded"

func (d dataspaceAPI) RecordDownload(_ context.Context, by policy.Researcher, t *dsp.Transfer) error {
	return d.n.record(auditDataspaceDownload, t.ConsumerPID, map[string]any{
		"by": by.Sub, "role": by.Role, "provider": t.Participant, "dataset": t.Dataset, "agreement": t.AgreementID, "sha256": t.SHA256,
	})
}
