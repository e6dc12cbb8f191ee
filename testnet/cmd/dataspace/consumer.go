package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/xborder/xborder/dsp"
)

// consumer leads one run against one provider.
type consumer struct {
	cfg    config
	signer *dsp.Signer
	http   *http.Client
	cb     *callbacks
	base   string // the provider's DSP base, from its version document
}

func newConsumer(cfg config, key ed25519.PrivateKey) (*consumer, error) {
	c := &consumer{cfg: cfg, signer: dsp.NewSigner(cfg.ID, key, nil),
		http: &http.Client{Timeout: 30 * time.Second}, cb: &callbacks{inbox: map[string]chan any{}}}
	if cfg.ProviderKey != "" {
		pemKey, err := os.ReadFile(cfg.ProviderKey)
		if err != nil {
			return nil, err
		}
		// The provider is the one participant this consumer knows: its
		// callbacks carry tokens signed by its key, for this participant.
		// Its country decides nothing here: ZZ, the user-assigned code.
		vc := dsp.DefaultVerifierConfig()
		vc.Audience = cfg.ID
		vc.Participants = []dsp.ParticipantConfig{{ID: cfg.ProviderID, Country: "ZZ", PublicKey: string(pemKey)}}
		v, err := dsp.NewTokenVerifier(vc)
		if err != nil {
			return nil, fmt.Errorf("the provider's key: %w", err)
		}
		c.cb.verifier = v
	}
	return c, nil
}

// The report: one field per step, each saying whether it ended as
// expected, what it saw and how long it took.
type (
	step struct {
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
		MS    int64  `json:"ms"`
	}
	versionStep struct {
		step
		Versions []dsp.ProtocolVersion `json:"versions,omitempty"`
		Base     string                `json:"base,omitempty"`
	}
	catalogueStep struct {
		step
		ParticipantID string           `json:"participant_id,omitempty"`
		Datasets      []datasetSummary `json:"datasets"`
	}
	datasetSummary struct {
		ID     string         `json:"id"`
		Title  string         `json:"title,omitempty"`
		Offers []offerSummary `json:"offers"`
	}
	// offerSummary is an offer's purpose constraint: "eq" and one
	// purpose, or "isAnyOf" and those the offer is made for on request.
	offerSummary struct {
		ID       string   `json:"id"`
		Operator string   `json:"purpose_operator,omitempty"`
		Purposes []string `json:"purposes,omitempty"`
	}
	negotiationStep struct {
		step
		Dataset     string   `json:"dataset"`
		Offer       string   `json:"offer,omitempty"`
		ConsumerPID string   `json:"consumer_pid,omitempty"`
		ProviderPID string   `json:"provider_pid,omitempty"`
		States      []string `json:"states,omitempty"` // as this consumer saw them
		State       string   `json:"state,omitempty"`
		AgreementID string   `json:"agreement_id,omitempty"`
		Code        string   `json:"code,omitempty"`
		Reasons     []string `json:"reasons,omitempty"`
	}
	transferStep struct {
		step
		ConsumerPID string `json:"consumer_pid,omitempty"`
		ProviderPID string `json:"provider_pid,omitempty"`
		Endpoint    string `json:"endpoint,omitempty"`
		Status      int    `json:"status,omitempty"` // of the GET of the endpoint
		Bytes       int64  `json:"bytes"`
		SHA256      string `json:"sha256,omitempty"`             // of what was pulled
		Stated      string `json:"stated_sha256,omitempty"`      // the data address's sha256 property
		ReprDigest  string `json:"repr_digest,omitempty"`        // the Repr-Digest header, as hex
		Verified    bool   `json:"verified"`                     // all three agree
		State       string `json:"state,omitempty"`              // the provider's, after the completion
		TokenAfter  int    `json:"token_after_status,omitempty"` // the GET again once completed
	}
	report struct {
		Participant string           `json:"participant"`
		Provider    string           `json:"provider"`
		Version     versionStep      `json:"version"`
		Catalogue   catalogueStep    `json:"catalogue"`
		Refused     *negotiationStep `json:"refused,omitempty"`
		Negotiation *negotiationStep `json:"negotiation,omitempty"`
		Transfer    *transferStep    `json:"transfer,omitempty"`
		OK          bool             `json:"ok"`
		MS          int64            `json:"ms"`
	}
)

func (s *step) done(start time.Time, err error) {
	s.MS = time.Since(start).Milliseconds()
	s.OK = err == nil
	if err != nil {
		s.Error = err.Error()
	}
}

// run takes the steps in order; a step that fails stops those that need
// it.
func (c *consumer) run(ctx context.Context) (rep report) {
	start := time.Now()
	rep = report{Participant: c.cfg.ID, Provider: c.cfg.ProviderID}
	defer func() { rep.MS = time.Since(start).Milliseconds() }()

	t := time.Now()
	err := c.version(ctx, &rep.Version)
	rep.Version.done(t, err)
	if err != nil {
		return rep
	}
	t = time.Now()
	cat, err := c.catalogue(ctx, &rep.Catalogue)
	rep.Catalogue.done(t, err)
	if err != nil {
		return rep
	}
	rep.OK = true
	if c.cfg.Refused != "" {
		rep.Refused = c.negotiate(ctx, cat, c.cfg.Refused, c.cfg.Purpose)
		// Expected: the provider terminates the negotiation and says why.
		if rep.Refused.Error == "" && (rep.Refused.State != string(dsp.NegTerminated) || len(rep.Refused.Reasons) == 0) {
			rep.Refused.Error = fmt.Sprintf("the negotiation ended %s with reasons %q; a termination with the policy's reasons was expected", rep.Refused.State, rep.Refused.Reasons)
		}
		rep.Refused.OK = rep.Refused.Error == ""
		rep.OK = rep.OK && rep.Refused.OK
	}
	if c.cfg.Open != "" {
		rep.Negotiation = c.negotiate(ctx, cat, c.cfg.Open, c.cfg.Purpose)
		if rep.Negotiation.Error == "" && rep.Negotiation.State != string(dsp.NegFinalized) {
			rep.Negotiation.Error = fmt.Sprintf("the negotiation ended %s (%s %q); FINALIZED was expected", rep.Negotiation.State, rep.Negotiation.Code, rep.Negotiation.Reasons)
		}
		rep.Negotiation.OK = rep.Negotiation.Error == ""
		rep.OK = rep.OK && rep.Negotiation.OK
		if rep.Negotiation.OK {
			rep.Transfer = c.transfer(ctx, rep.Negotiation.AgreementID)
			rep.OK = rep.OK && rep.Transfer.OK
		}
	}
	return rep
}

// version reads the provider's /.well-known/dspace-version (no token)
// and takes the HTTPS binding of 2025-1.
func (c *consumer) version(ctx context.Context, st *versionStep) error {
	target := strings.TrimSuffix(c.cfg.Provider, "/") + "/.well-known/dspace-version"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, dsp.MaxMessageBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %s", target, resp.StatusCode, clip(raw))
	}
	var v dsp.VersionResponse
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("GET %s: %v", target, err)
	}
	st.Versions = v.ProtocolVersions
	for _, pv := range v.ProtocolVersions {
		if pv.Version == dsp.Version && strings.EqualFold(pv.Binding, dsp.Binding) {
			st.Base = strings.TrimSuffix(c.cfg.Provider, "/") + pv.Path
			c.base = st.Base
			return nil
		}
	}
	return fmt.Errorf("the provider serves no %s over %s: %s", dsp.Version, dsp.Binding, clip(raw))
}

// catalogue requests the provider's catalogue and summarises its offers.
func (c *consumer) catalogue(ctx context.Context, st *catalogueStep) (dsp.Catalog, error) {
	var cat dsp.Catalog
	status, raw, err := c.send(ctx, http.MethodPost, c.base+"/catalog/request", dsp.NewCatalogRequest())
	if err == nil {
		err = answer(status, raw, dsp.TypeCatalog, dsp.TypeCatalogError, &cat)
	}
	if err != nil {
		return cat, err
	}
	st.ParticipantID = cat.ParticipantID
	st.Datasets = []datasetSummary{}
	for _, d := range cat.Dataset {
		s := datasetSummary{ID: d.ID, Title: d.Title, Offers: []offerSummary{}}
		for _, o := range d.HasPolicy {
			op, purposes := purposeOf(o)
			s.Offers = append(s.Offers, offerSummary{ID: o.ID, Operator: op, Purposes: purposes})
		}
		st.Datasets = append(st.Datasets, s)
	}
	return cat, nil
}

// purposeOf reads an offer's purpose constraint.
func purposeOf(o dsp.Offer) (operator string, purposes []string) {
	for _, r := range o.Permission {
		for _, k := range r.Constraint {
			if k.LeftOperand != dsp.LeftPurpose {
				continue
			}
			switch v := k.RightOperand.(type) {
			case string:
				return k.Operator, []string{v}
			case []any:
				for _, p := range v {
					if s, ok := p.(string); ok {
						purposes = append(purposes, s)
					}
				}
				return k.Operator, purposes
			}
		}
	}
	return "", nil
}

// negotiate requests a dataset's offer for purpose and follows the
// negotiation to its end: it verifies an agreement, and reports a
// termination's code and reasons.
func (c *consumer) negotiate(ctx context.Context, cat dsp.Catalog, dataset, purpose string) *negotiationStep {
	start := time.Now()
	st := &negotiationStep{Dataset: dataset}
	err := func() error {
		offer, err := pickOffer(cat, dataset, purpose)
		if err != nil {
			return err
		}
		offer.Target, st.Offer = dataset, offer.ID
		st.ConsumerPID = newPID()
		inbox := c.cb.open("negotiations", st.ConsumerPID)
		defer c.cb.close("negotiations", st.ConsumerPID)

		req := dsp.ContractRequestMessage{Header: dsp.NewMessage(dsp.TypeContractRequest),
			ConsumerPID: st.ConsumerPID, Offer: offer, CallbackAddress: c.cfg.Callback}
		var n dsp.ContractNegotiation
		status, raw, err := c.send(ctx, http.MethodPost, c.base+"/negotiations/request", req)
		if err == nil {
			err = answer(status, raw, dsp.TypeNegotiation, dsp.TypeNegotiationError, &n)
		}
		if err != nil {
			return err
		}
		st.ProviderPID = n.ProviderPID
		st.saw(string(n.State))
		at := c.base + "/negotiations/" + url.PathEscape(n.ProviderPID)
		for st.State != string(dsp.NegFinalized) && st.State != string(dsp.NegTerminated) {
			msg, err := next(ctx, inbox, c.cfg.Wait)
			if err != nil {
				return fmt.Errorf("in state %s: %w", st.State, err)
			}
			switch m := msg.(type) {
			case *dsp.ContractAgreementMessage:
				st.AgreementID = m.Agreement.ID
				st.saw(string(dsp.NegAgreed))
				v := dsp.ContractAgreementVerificationMessage{Header: dsp.NewMessage(dsp.TypeAgreementVerification),
					ProviderPID: n.ProviderPID, ConsumerPID: st.ConsumerPID}
				status, raw, err := c.send(ctx, http.MethodPost, at+"/agreement/verification", v)
				if err == nil {
					err = answer(status, raw, "", dsp.TypeNegotiationError, nil)
				}
				if err != nil {
					return fmt.Errorf("verification: %w", err)
				}
				st.saw(string(dsp.NegVerified))
			case *dsp.ContractNegotiationEventMessage:
				if m.EventType == dsp.EventFinalized {
					st.saw(string(dsp.NegFinalized))
				}
			case *dsp.ContractNegotiationTerminationMessage:
				st.Code, st.Reasons = m.Code, m.Reason
				st.saw(string(dsp.NegTerminated))
			case *dsp.ContractOfferMessage:
				// This consumer takes the catalogue's offers as they are; a
				// counter-offer ends the negotiation.
				t := dsp.ContractNegotiationTerminationMessage{Header: dsp.NewMessage(dsp.TypeNegotiationTermination),
					ProviderPID: n.ProviderPID, ConsumerPID: st.ConsumerPID, Code: "counter_offer_declined"}
				_, _, _ = c.send(ctx, http.MethodPost, at+"/termination", t)
				return fmt.Errorf("the provider countered with offer %s; this consumer takes only the catalogue's offers", m.Offer.ID)
			}
		}
		return nil
	}()
	st.done(start, err)
	return st
}

func (st *negotiationStep) saw(state string) {
	st.State = state
	st.States = append(st.States, state)
}

// pickOffer finds a dataset's offer for purpose: one whose constraint is
// "purpose eq" it, or else one made for several purposes on request
// ("purpose isAnyOf" a list holding it), narrowed to "eq" it: the
// consumer states which purpose it asks for.
func pickOffer(cat dsp.Catalog, dataset, purpose string) (dsp.Offer, error) {
	for _, d := range cat.Dataset {
		if d.ID != dataset {
			continue
		}
		for _, o := range d.HasPolicy {
			if op, ps := purposeOf(o); op == "eq" && slices.Equal(ps, []string{purpose}) {
				return o, nil
			}
		}
		for _, o := range d.HasPolicy {
			if op, ps := purposeOf(o); op == "isAnyOf" && slices.Contains(ps, purpose) {
				return narrow(o, purpose), nil
			}
		}
		return dsp.Offer{}, fmt.Errorf("dataset %s has no offer for the purpose %q", dataset, purpose)
	}
	return dsp.Offer{}, fmt.Errorf("the catalogue lists no dataset %s", dataset)
}

// narrow returns a copy of o whose purpose constraints name purpose only.
func narrow(o dsp.Offer, purpose string) dsp.Offer {
	o.Permission = slices.Clone(o.Permission)
	for i, r := range o.Permission {
		r.Constraint = slices.Clone(r.Constraint)
		for j, k := range r.Constraint {
			if k.LeftOperand == dsp.LeftPurpose {
				r.Constraint[j] = dsp.Constraint{LeftOperand: dsp.LeftPurpose, Operator: "eq", RightOperand: purpose}
			}
		}
		o.Permission[i] = r
	}
	return o
}

// transfer requests an HTTP-pull transfer under an agreement, pulls the
// content from the data address of the TransferStartMessage, checks its
// SHA-256 and completes the transfer.
func (c *consumer) transfer(ctx context.Context, agreementID string) *transferStep {
	start := time.Now()
	st := &transferStep{ConsumerPID: newPID()}
	err := func() error {
		inbox := c.cb.open("transfers", st.ConsumerPID)
		defer c.cb.close("transfers", st.ConsumerPID)
		req := dsp.TransferRequestMessage{Header: dsp.NewMessage(dsp.TypeTransferRequest), ConsumerPID: st.ConsumerPID,
			AgreementID: agreementID, Format: dsp.FormatHTTPPull, CallbackAddress: c.cfg.Callback}
		var tp dsp.TransferProcess
		status, raw, err := c.send(ctx, http.MethodPost, c.base+"/transfers/request", req)
		if err == nil {
			err = answer(status, raw, dsp.TypeTransferProcess, dsp.TypeTransferError, &tp)
		}
		if err != nil {
			return err
		}
		st.ProviderPID = tp.ProviderPID
		msg, err := next(ctx, inbox, c.cfg.Wait)
		if err != nil {
			return err
		}
		started, ok := msg.(*dsp.TransferStartMessage)
		if !ok {
			return fmt.Errorf("the provider sent %+v instead of a TransferStartMessage", msg)
		}
		if err := c.pull(ctx, started.DataAddress, st); err != nil {
			return err
		}
		at := c.base + "/transfers/" + url.PathEscape(tp.ProviderPID)
		done := dsp.TransferCodeMessage{Header: dsp.NewMessage(dsp.TypeTransferCompletion), ProviderPID: tp.ProviderPID, ConsumerPID: st.ConsumerPID}
		status, raw, err = c.send(ctx, http.MethodPost, at+"/completion", done)
		if err == nil {
			err = answer(status, raw, "", dsp.TypeTransferError, nil)
		}
		if err != nil {
			return fmt.Errorf("completion: %w", err)
		}
		status, raw, err = c.send(ctx, http.MethodGet, at, nil)
		if err == nil {
			err = answer(status, raw, dsp.TypeTransferProcess, dsp.TypeTransferError, &tp)
		}
		if err != nil {
			return fmt.Errorf("the transfer's state: %w", err)
		}
		st.State = string(tp.State)
		// Once completed, the data address's token must no longer work.
		if st.TokenAfter, _, err = c.get(ctx, started.DataAddress, io.Discard); err != nil {
			return err
		}
		if st.State != string(dsp.TPCompleted) {
			return fmt.Errorf("the provider's transfer is %s after the completion", st.State)
		}
		return nil
	}()
	st.done(start, err)
	return st
}

// pull GETs the data address and checks what arrives against the SHA-256
// the provider states.
func (c *consumer) pull(ctx context.Context, a *dsp.DataAddress, st *transferStep) error {
	if a == nil || a.Endpoint == "" {
		return fmt.Errorf("the TransferStartMessage has no data address to pull from")
	}
	st.Endpoint = a.Endpoint
	st.Stated, _ = a.Property("sha256")
	h, n := sha256.New(), new(counter)
	status, hdr, err := c.get(ctx, a, io.MultiWriter(h, n))
	st.Status = status
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", a.Endpoint, status)
	}
	st.SHA256 = hex.EncodeToString(h.Sum(nil))
	st.Bytes = int64(*n)
	st.ReprDigest = reprDigest(hdr.Get("Repr-Digest"))
	st.Verified = st.SHA256 == st.Stated && st.SHA256 == st.ReprDigest
	if !st.Verified {
		return fmt.Errorf("pulled %d bytes with SHA-256 %s; the data address states %q and Repr-Digest %q", st.Bytes, st.SHA256, st.Stated, st.ReprDigest)
	}
	return nil
}

// get reads a data address into w with its token: the "authorization"
// endpoint property, sent as a bearer token when authType says so.
func (c *consumer) get(ctx context.Context, a *dsp.DataAddress, w io.Writer) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.Endpoint, nil)
	if err != nil {
		return 0, nil, err
	}
	token, _ := a.Property("authorization")
	if t, _ := a.Property("authType"); strings.EqualFold(t, "bearer") && !strings.HasPrefix(strings.ToLower(token), "bearer ") {
		token = "Bearer " + token
	}
	req.Header.Set("Authorization", token)
	client := &http.Client{} // the content may be large: no overall timeout, ctx bounds it
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, dsp.MaxMessageBytes))
		return resp.StatusCode, resp.Header, nil
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return resp.StatusCode, resp.Header, fmt.Errorf("reading %s: %w", a.Endpoint, err)
	}
	return resp.StatusCode, resp.Header, nil
}

// counter counts the bytes written to it.
type counter int64

func (c *counter) Write(p []byte) (int, error) {
	*c += counter(len(p))
	return len(p), nil
}

// reprDigest reads the sha-256 of a Repr-Digest header
// ("sha-256=:BASE64:") as hex.
func reprDigest(h string) string {
	for part := range strings.SplitSeq(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(k, "sha-256") {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(strings.Trim(v, ":"))
		if err == nil && len(raw) == sha256.Size {
			return hex.EncodeToString(raw)
		}
	}
	return ""
}

// send makes one request to the provider with a fresh token (the
// provider refuses a token it has seen before).
func (c *consumer) send(ctx context.Context, method, target string, msg any) (int, []byte, error) {
	var body io.Reader
	if msg != nil {
		raw, err := json.Marshal(msg)
		if err != nil {
			return 0, nil, err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return 0, nil, err
	}
	auth, err := c.signer.Authorization(c.cfg.ProviderID)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", auth)
	if msg != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, dsp.MaxMessageBytes+1))
	return resp.StatusCode, raw, err
}

// answer decodes a 2xx answer of type typ into v (nothing when typ is
// empty); another status is an error with the provider's error object's
// code and reasons.
func answer(status int, raw []byte, typ, errType string, v any) error {
	if status/100 == 2 {
		if typ == "" {
			return nil
		}
		return dsp.DecodeBytes(raw, typ, v)
	}
	var e dsp.ErrorMessage
	if dsp.DecodeBytes(raw, errType, &e) == nil {
		return fmt.Errorf("HTTP %d %s: %s", status, e.Code, strings.Join(e.Reason, " "))
	}
	return fmt.Errorf("HTTP %d: %s", status, clip(raw))
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// newPID is a process id: a random UUID as a URN.
func newPID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// print writes the report for a reader.
func (r report) print(w io.Writer) {
	mark := func(ok bool) string {
		if ok {
			return "ok  "
		}
		return "FAIL"
	}
	fmt.Fprintf(w, "%s version    %s (%d ms) %s\n", mark(r.Version.OK), r.Version.Base, r.Version.MS, r.Version.Error)
	fmt.Fprintf(w, "%s catalogue  %d datasets (%d ms) %s\n", mark(r.Catalogue.OK), len(r.Catalogue.Datasets), r.Catalogue.MS, r.Catalogue.Error)
	for _, d := range r.Catalogue.Datasets {
		for _, o := range d.Offers {
			fmt.Fprintf(w, "       %s  purpose %s %v\n", d.ID, o.Operator, o.Purposes)
		}
	}
	for _, n := range []*negotiationStep{r.Refused, r.Negotiation} {
		if n != nil {
			fmt.Fprintf(w, "%s negotiate  %s: %s %s %s (%d ms) %s\n", mark(n.OK), n.Dataset, strings.Join(n.States, " → "), n.Code, strings.Join(n.Reasons, " "), n.MS, n.Error)
		}
	}
	if t := r.Transfer; t != nil {
		fmt.Fprintf(w, "%s transfer   %d bytes, sha256 %s, verified %v, %s (%d ms) %s\n", mark(t.OK), t.Bytes, t.SHA256, t.Verified, t.State, t.MS, t.Error)
	}
}
