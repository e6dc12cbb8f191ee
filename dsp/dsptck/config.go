package dsptck

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config says which provider to test and with which ids.
type Config struct {
	// ProviderURL is the provider's DSP base (the kit's
	// dataspacetck.dsp.connector.http.url), e.g. http://127.0.0.1:8080/dsp.
	ProviderURL string
	// RootURL is where /.well-known/dspace-version is served (the kit's
	// dataspacetck.dsp.connector.http.base.url). Empty: ProviderURL's
	// scheme and host.
	RootURL string
	// ProviderID is the provider's participant id: the audience of the
	// tokens and the assigner the kit names in a counter-offer.
	ProviderID string

	// Token returns the bearer token sent with every request to the
	// provider (Authorization: Bearer <token>), for audience aud
	// (ProviderID). Nil sends no Authorization header.
	Token func(aud string) (string, error)

	// ValidateSchema checks a document against the official JSON Schema of
	// schema: a message @type ("Catalog", "ContractOfferMessage", ...) or
	// "ProtocolVersion" for the version document. Required. Wire it to
	// dsp/dspschema:
	//
	//	ValidateSchema: func(name string, doc []byte) error {
	//		s, ok := dspschema.ForType(name)
	//		if name == "ProtocolVersion" { s, ok = dspschema.ProtocolVersion, true }
	//		if !ok { return fmt.Errorf("no schema for %s", name) }
	//		return dspschema.Validate(s, doc)
	//	}
	ValidateSchema func(schema string, doc []byte) error

	// Cases holds the ids each case uses, by case id ("CN:01-01"). A case
	// missing here takes DefaultCases' ids (the kit's sample properties).
	Cases map[string]Case
	// Only, when set, runs these case ids and no others; it is the way to
	// run a case the kit disables (TP:02-04).
	Only []string

	// Wait bounds every wait for a callback or a state (the kit's
	// dataspacetck.dsp.default.wait, 15 s by default).
	Wait time.Duration
	// Pull makes the transfer cases read the data address of every
	// TransferStartMessage as an EDC consumer does (endpoint, the
	// "authorization" property sent as the Authorization header) and
	// require the data while the transfer is STARTED and a refusal once it
	// is terminated or completed.
	Pull bool

	// HTTPClient sends the requests; nil is a client with a 30 s timeout.
	HTTPClient *http.Client
	// CallbackHost is the loopback address the callback server listens on;
	// empty is 127.0.0.1.
	CallbackHost string
}

// Case holds the ids one case uses; which fields matter depends on the
// case's group: CAT uses DatasetID, CN DatasetID and OfferID, TP
// AgreementID (or NegotiateFor) and Format.
type Case struct {
	DatasetID   string
	OfferID     string
	AgreementID string
	// NegotiateFor, for a TP case without an AgreementID, is the offer the
	// harness first negotiates to FINALIZED (as the kit's consumer would:
	// accepting an offer the provider makes, verifying its agreement); the
	// transfer then names the agreement it got. The Java kit needs the
	// agreements to exist beforehand (its TP_xx_yy_AGREEMENTID); a provider
	// without a way to seed them is tested this way.
	NegotiateFor OfferRef
	// Format is the TransferRequestMessage's format; empty is
	// "HttpData-PULL".
	Format string
}

// OfferRef names one offer of a dataset of the provider.
type OfferRef struct {
	DatasetID string
	OfferID   string
}

func (o OfferRef) set() bool { return o.DatasetID != "" || o.OfferID != "" }

// DefaultFormat is the transfer format the kit's sample configuration
// names for every TP case.
const DefaultFormat = "HttpData-PULL"

// DefaultWait is the kit's default wait.
const DefaultWait = 15 * time.Second

// DefaultConfig returns a Config for the provider at providerURL with the
// kit's sample ids, the default wait and the pull check; ValidateSchema and
// Token are left for the caller.
func DefaultConfig(providerURL, providerID string) Config {
	return Config{
		ProviderURL: providerURL,
		ProviderID:  providerID,
		Cases:       DefaultCases(),
		Wait:        DefaultWait,
		Pull:        true,
	}
}

// DefaultCases returns the ids of the kit's config/tck/sample.tck.properties:
// CAT0101, ACN0101 with offer CD123:ACN0101:456, ATP0101 with HttpData-PULL,
// and so on for every case.
func DefaultCases() map[string]Case {
	out := make(map[string]Case, len(cases))
	for _, c := range cases {
		num := strings.NewReplacer(":", "", "-", "").Replace(c.id[strings.Index(c.id, ":")+1:])
		switch c.group {
		case groupCAT:
			out[c.id] = Case{DatasetID: "CAT" + num}
		case groupCN:
			out[c.id] = Case{DatasetID: "ACN" + num, OfferID: "CD123:ACN" + num + ":456"}
		case groupTP:
			out[c.id] = Case{AgreementID: "ATP" + num, Format: DefaultFormat}
		}
	}
	return out
}

// ErrConfig is wrapped by every error Config.Validate returns.
var ErrConfig = errors.New("dsptck: bad configuration")

// Validate checks that the configuration can run: a provider URL, a schema
// validator, known case ids, and the ids each case needs.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...)))
	}
	if u, err := url.Parse(c.ProviderURL); err != nil || u.Scheme == "" || u.Host == "" {
		bad("ProviderURL %q is not an absolute URL", c.ProviderURL)
	}
	if c.RootURL != "" {
		if u, err := url.Parse(c.RootURL); err != nil || u.Scheme == "" || u.Host == "" {
			bad("RootURL %q is not an absolute URL", c.RootURL)
		}
	}
	if c.ValidateSchema == nil {
		bad("ValidateSchema is nil: every document received must be checked against the official schemas")
	}
	if c.Wait < 0 {
		bad("Wait %v is negative", c.Wait)
	}
	for id := range c.Cases {
		if _, ok := caseByID(id); !ok {
			bad("Cases names %q, which is not a case of the kit", id)
		}
	}
	for _, id := range c.Only {
		if _, ok := caseByID(id); !ok {
			bad("Only names %q, which is not a case of the kit", id)
		}
	}
	for _, tc := range cases {
		ids := c.caseIDs(tc)
		switch tc.group {
		case groupCAT:
			if ids.DatasetID == "" {
				bad("%s needs a DatasetID", tc.id)
			}
		case groupCN:
			if ids.DatasetID == "" || ids.OfferID == "" {
				bad("%s needs a DatasetID and an OfferID", tc.id)
			}
		case groupTP:
			switch {
			case ids.AgreementID == "" && !ids.NegotiateFor.set():
				bad("%s needs an AgreementID, or a NegotiateFor to negotiate one", tc.id)
			case ids.AgreementID != "" && ids.NegotiateFor.set():
				bad("%s has both an AgreementID and a NegotiateFor; give one", tc.id)
			case ids.NegotiateFor.set() && (ids.NegotiateFor.DatasetID == "" || ids.NegotiateFor.OfferID == ""):
				bad("%s: NegotiateFor needs a DatasetID and an OfferID", tc.id)
			}
		}
	}
	return errors.Join(errs...)
}

// caseIDs returns the ids case tc runs with: the configured ones, else the
// kit's sample ones.
func (c *Config) caseIDs(tc testCase) Case {
	ids, ok := c.Cases[tc.id]
	if !ok {
		ids = DefaultCases()[tc.id]
	}
	if ids.Format == "" {
		ids.Format = DefaultFormat
	}
	return ids
}

func (c *Config) wait() time.Duration {
	if c.Wait == 0 {
		return DefaultWait
	}
	return c.Wait
}

func (c *Config) rootURL() string {
	if c.RootURL != "" {
		return strings.TrimSuffix(c.RootURL, "/")
	}
	u, err := url.Parse(c.ProviderURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// SubtestName is the name Run gives case id's subtest: CN:01-03 → CN_01_03.
func SubtestName(id string) string {
	return strings.NewReplacer(":", "_", "-", "_").Replace(id)
}
