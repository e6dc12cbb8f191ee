package dsp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xborder/xborder/policy"
)

// ConsumerError is a consumer operation refused before anything was sent
// or after the provider answered: Code and Reasons say why, Status the
// HTTP status the node's API answers with.
type ConsumerError struct {
	Status  int
	Code    string
	Reasons []string
}

func (e *ConsumerError) Error() string { return e.Code + ": " + strings.Join(e.Reasons, " ") }

func consumerRefusal(status int, code string, format string, args ...any) *ConsumerError {
	return &ConsumerError{Status: status, Code: code, Reasons: []string{fmt.Sprintf(format, args...)}}
}

// provider finds a configured participant this node can address.
func (s *Service) provider(id string) (Participant, error) {
	p, ok := s.d.Participants(id)
	if !ok {
		return Participant{}, consumerRefusal(http.StatusBadRequest, CodeNotFound,
			"%s is not a participant this node's configuration lists (dataspace.participants).", quote(id))
	}
	if p.Address == "" {
		return Participant{}, consumerRefusal(http.StatusBadRequest, CodeNotFound,
			"Participant %s has no address in this node's configuration (dataspace.participants[].address).", p.ID)
	}
	return p, nil
}

// RequestCatalog asks a provider for its catalogue.
func (s *Service) RequestCatalog(ctx context.Context, providerID string) (Catalog, error) {
	p, err := s.provider(providerID)
	if err != nil {
		return Catalog{}, err
	}
	var c Catalog
	if err := s.post(ctx, p.ID, p.Address+"/catalog/request", NewCatalogRequest(), &c); err != nil {
		return Catalog{}, s.peerRefusal(err)
	}
	return c, nil
}

// RequestDataset asks a provider for one dataset with its offers.
func (s *Service) RequestDataset(ctx context.Context, providerID, id string) (Dataset, error) {
	p, err := s.provider(providerID)
	if err != nil {
		return Dataset{}, err
	}
	var d Dataset
	if err := s.do(ctx, http.MethodGet, p.ID, p.Address+"/catalog/datasets/"+url.PathEscape(id), nil, &d); err != nil {
		return Dataset{}, s.peerRefusal(err)
	}
	return d, nil
}

// peerRefusal turns a provider's error into a ConsumerError naming it.
func (s *Service) peerRefusal(err error) error {
	var pe *PeerError
	if errors.As(err, &pe) {
		reasons := pe.Reasons
		if len(reasons) == 0 {
			reasons = []string{fmt.Sprintf("%s answered HTTP %d.", pe.URL, pe.Status)}
		}
		code := pe.Code
		if code == "" {
			code = "provider_refused"
		}
		return &ConsumerError{Status: http.StatusBadGateway, Code: code, Reasons: reasons}
	}
	var ce *ConsumerError
	if errors.As(err, &ce) {
		return err
	}
	return &ConsumerError{Status: http.StatusBadGateway, Code: "provider_unreachable", Reasons: []string{err.Error()}}
}

// NegotiateRequest is what a local researcher asks to negotiate.
type NegotiateRequest struct {
	Provider   string
	Dataset    string
	Offer      string // an offer ID of the dataset; empty: the offer for Purpose
	Purpose    string
	Researcher policy.Researcher
}

// offerAdmits reports whether an offer's purpose constraint, if it has
// one, admits purpose.
func offerAdmits(o Offer, purpose string) bool {
	found, ok := false, false
	for _, r := range o.Permission {
		for _, c := range r.Constraint {
			left := strings.TrimPrefix(strings.TrimPrefix(c.LeftOperand, "odrl:"), "http://www.w3.org/ns/odrl/2/")
			if left != LeftPurpose {
				continue
			}
			found = true
			switch v := c.RightOperand.(type) {
			case string:
				ok = ok || (c.Operator == "eq" && v == purpose)
			case []any:
				for _, x := range v {
					if s, _ := x.(string); s == purpose && (c.Operator == "isAnyOf" || c.Operator == "isPartOf") {
						ok = true
					}
				}
			}
		}
	}
	return !found || ok
}

// narrowedTo is the copy of an offer a consumer sends for one purpose: a
// constraint admitting several purposes (isAnyOf) becomes "purpose eq P",
// so the provider decides the purpose asked for.
func narrowedTo(o Offer, purpose string) Offer {
	if purpose == "" {
		return o
	}
	perms := make([]Rule, len(o.Permission))
	for i, r := range o.Permission {
		cs := make([]Constraint, len(r.Constraint))
		for j, c := range r.Constraint {
			left := strings.TrimPrefix(strings.TrimPrefix(c.LeftOperand, "odrl:"), "http://www.w3.org/ns/odrl/2/")
			if _, many := c.RightOperand.([]any); left == LeftPurpose && many && (c.Operator == "isAnyOf" || c.Operator == "isPartOf") {
				c = Constraint{LeftOperand: c.LeftOperand, Operator: "eq", RightOperand: purpose}
			}
			cs[j] = c
		}
		r.Constraint = cs
		perms[i] = r
	}
	o.Permission = perms
	return o
}

// Negotiate asks a provider for an offer of one of its datasets, for a
// local researcher: this node's own policy decides first
// (data.xborder.dataspace.decision), then the provider. It returns the
// negotiation as soon as the provider accepted the request; WaitNegotiation
// follows it to FINALIZED or TERMINATED.
func (s *Service) Negotiate(ctx context.Context, req NegotiateRequest) (*Negotiation, error) {
	p, err := s.provider(req.Provider)
	if err != nil {
		return nil, err
	}
	d, err := s.RequestDataset(ctx, p.ID, req.Dataset)
	if err != nil {
		return nil, err
	}
	var offer *Offer
	for i, o := range d.HasPolicy {
		if (req.Offer != "" && o.ID == req.Offer) || (req.Offer == "" && offerAdmits(o, req.Purpose)) {
			offer = &d.HasPolicy[i]
			break
		}
	}
	if offer == nil {
		return nil, consumerRefusal(http.StatusBadRequest, CodeUnknownOffer,
			"%s offers dataset %s under no offer %s for purpose %s; see `xborder dsp catalogue %s` for its offers.",
			p.ID, quote(req.Dataset), quote(req.Offer), quote(req.Purpose), p.ID)
	}
	if err := s.decideConsume(ctx, p, d, *offer, req); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	o := narrowedTo(*offer, req.Purpose)
	o.Target = d.ID
	n := &Negotiation{
		Role: RoleConsumer, ConsumerPID: newPID(), State: NegRequested, Participant: p.ID, PeerAddress: p.Address,
		Dataset: d.ID, Offer: o, Purpose: req.Purpose, Researcher: req.Researcher.Sub, Created: now, Updated: now,
	}
	// Stored before the request leaves: the provider's agreement may come
	// back before its answer does.
	if err := s.store.createNegotiation(n); err != nil {
		return nil, err
	}
	s.recordNegotiation(n, "")
	msg := ContractRequestMessage{Header: header(TypeContractRequest), ConsumerPID: n.ConsumerPID, Offer: o, CallbackAddress: s.cfg.BaseURL()}
	var answer ContractNegotiation
	if err := s.post(ctx, p.ID, p.Address+"/negotiations/request", msg, &answer); err != nil {
		refusal := s.peerRefusal(err)
		var ce *ConsumerError
		errors.As(refusal, &ce)
		_, _ = s.transitionNegotiation(n.Key(), NegTerminated, "refusal", func(n *Negotiation) { n.Code, n.Reasons = ce.Code, ce.Reasons })
		return nil, refusal
	}
	n, err = s.store.updateNegotiation(n.Key(), func(n *Negotiation) error {
		if n.ProviderPID == "" {
			n.ProviderPID = answer.ProviderPID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.changed(n.Key())
	return n, nil
}

// handleAgreement is a provider's agreement to a negotiation this node
// consumes: checked against what was asked, then verified.
func (s *Service) handleAgreement(w http.ResponseWriter, r *http.Request) {
	_, msg, n, ok := negotiationMessage(s, w, r, TypeContractAgreement, func(m *ContractAgreementMessage) (string, string) { return m.ProviderPID, m.ConsumerPID })
	if !ok {
		return
	}
	fail := func(err error) { writeError(w, TypeNegotiationError, msg.ProviderPID, msg.ConsumerPID, err) }
	if n.Role != RoleConsumer {
		fail(invalidNegotiationState(n, NegAgreed, "ContractAgreementMessage to a provider"))
		return
	}
	a := msg.Agreement
	var problems []string
	if a.Target != n.Dataset {
		problems = append(problems, fmt.Sprintf("the agreement's target %s is not the dataset asked for, %s", quote(a.Target), quote(n.Dataset)))
	}
	if a.Assignee != s.cfg.ParticipantID {
		problems = append(problems, fmt.Sprintf("the agreement's assignee %s is not this participant, %s", quote(a.Assignee), s.cfg.ParticipantID))
	}
	if sp := statedPurpose(Offer{Permission: a.Permission}); sp != "" && n.Purpose != "" && sp != n.Purpose {
		problems = append(problems, fmt.Sprintf("the agreement is for purpose %s, not %s", quote(sp), quote(n.Purpose)))
	}
	if len(problems) > 0 {
		_, _ = s.transitionNegotiation(n.Key(), NegTerminated, "agreement refused", func(n *Negotiation) {
			n.Code, n.Reasons = "agreement_refused", problems
		})
		fail(refuse(http.StatusBadRequest, "agreement_refused", problems...))
		return
	}
	if _, err := s.transitionNegotiation(n.Key(), NegAgreed, "ContractAgreementMessage", func(n *Negotiation) {
		n.Agreement, n.Outbox, n.ValidUntil = &a, outVerification, agreementValidUntil(a)
		if n.ProviderPID == "" {
			n.ProviderPID = msg.ProviderPID
		}
	}); err != nil {
		fail(err)
		return
	}
	w.WriteHeader(http.StatusOK)
	s.kickNegotiation(n.Key())
}

// agreementValidUntil is when an agreement stops authorising use: its
// timestamp plus the "elapsedTime lteq" duration it states (whole days or
// seconds, as this provider writes them); zero when it states none.
func agreementValidUntil(a Agreement) time.Time {
	at, err := time.Parse(time.RFC3339, a.Timestamp)
	if err != nil {
		return time.Time{}
	}
	for _, r := range a.Permission {
		for _, c := range r.Constraint {
			v, ok := c.RightOperand.(string)
			if !ok || c.LeftOperand != LeftElapsedTime || c.Operator != "lteq" {
				continue
			}
			var n int64
			switch {
			case strings.HasPrefix(v, "PT") && strings.HasSuffix(v, "S"):
				if _, err := fmt.Sscanf(v, "PT%dS", &n); err == nil {
					return at.Add(time.Duration(n) * time.Second)
				}
			case strings.HasPrefix(v, "P") && strings.HasSuffix(v, "D"):
				if _, err := fmt.Sscanf(v, "P%dD", &n); err == nil {
					return at.AddDate(0, 0, int(n))
				}
			}
		}
	}
	return time.Time{}
}

// WaitNegotiation waits until a negotiation this node holds is FINALIZED
// or TERMINATED (or ctx ends) and returns it.
func (s *Service) WaitNegotiation(ctx context.Context, key string) (*Negotiation, error) {
	for {
		ch := s.next(key)
		n, err := s.store.negotiation(key)
		if err != nil {
			return nil, err
		}
		if (n.State == NegFinalized || n.State == NegTerminated) && n.Outbox == "" {
			return n, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return n, ctx.Err()
		case <-s.ctx.Done():
			return n, errors.New("dataspace: the node is stopping")
		}
	}
}

// Negotiation returns a negotiation this node holds, by its own PID.
func (s *Service) Negotiation(key string) (*Negotiation, error) { return s.store.negotiation(key) }

// Negotiations lists every negotiation this node holds.
func (s *Service) Negotiations() ([]Negotiation, error) { return s.store.negotiations() }

// Transfer returns a transfer this node holds, by its own PID.
func (s *Service) Transfer(key string) (*Transfer, error) { return s.store.transfer(key) }

// Transfers lists every transfer this node holds.
func (s *Service) Transfers() ([]Transfer, error) { return s.store.transfers() }

// StartTransfer asks the provider of a finalised agreement this node
// consumes to transfer its dataset (HTTP-pull), for a local researcher.
func (s *Service) StartTransfer(ctx context.Context, agreementID string, researcher policy.Researcher) (*Transfer, error) {
	n, err := s.store.agreement(RoleConsumer, agreementID)
	if err != nil {
		return nil, consumerRefusal(http.StatusNotFound, CodeAgreement, "This node negotiated no agreement %s.", quote(agreementID))
	}
	if n.State != NegFinalized {
		return nil, consumerRefusal(http.StatusConflict, CodeAgreement, "Agreement %s belongs to a negotiation that is %s, not FINALIZED.", quote(agreementID), n.State)
	}
	now := s.now().UTC()
	t := &Transfer{
		Role: RoleConsumer, ConsumerPID: newPID(), State: TPRequested, Participant: n.Participant, PeerAddress: n.PeerAddress,
		AgreementID: agreementID, Dataset: n.Dataset, Format: FormatHTTPPull, Researcher: researcher.Sub, Created: now, Updated: now,
	}
	if err := s.store.createTransfer(t); err != nil {
		return nil, err
	}
	s.recordTransfer(t, "")
	msg := TransferRequestMessage{Header: header(TypeTransferRequest), ConsumerPID: t.ConsumerPID, AgreementID: agreementID,
		Format: FormatHTTPPull, CallbackAddress: s.cfg.BaseURL()}
	var answer TransferProcess
	if err := s.post(ctx, n.Participant, n.PeerAddress+"/transfers/request", msg, &answer); err != nil {
		refusal := s.peerRefusal(err)
		var ce *ConsumerError
		errors.As(refusal, &ce)
		_, _ = s.transitionTransfer(t.Key(), TPTerminated, "refusal", func(t *Transfer) { t.Code, t.Reasons = ce.Code, ce.Reasons })
		return nil, refusal
	}
	t, err = s.store.updateTransfer(t.Key(), func(t *Transfer) error {
		if t.ProviderPID == "" {
			t.ProviderPID = answer.ProviderPID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.changed(t.Key())
	return t, nil
}

// WaitTransfer waits until a transfer this node holds is in one of the
// states, or ended, and returns it.
func (s *Service) WaitTransfer(ctx context.Context, key string, states ...TransferState) (*Transfer, error) {
	for {
		ch := s.next(key)
		t, err := s.store.transfer(key)
		if err != nil {
			return nil, err
		}
		if t.State == TPCompleted || t.State == TPTerminated {
			return t, nil
		}
		for _, st := range states {
			if t.State == st {
				return t, nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return t, ctx.Err()
		case <-s.ctx.Done():
			return t, errors.New("dataspace: the node is stopping")
		}
	}
}

// Pull reads a started transfer's content from the provider's data
// address into DATA/dataspace/<consumerPid>, verifying its SHA-256
// against the digest the provider states (the data address's sha256,
// the Repr-Digest header), then completes the transfer. It returns the
// path of the verified file.
func (s *Service) Pull(ctx context.Context, key string, progress func(done, total int64)) (string, error) {
	t, err := s.store.transfer(key)
	if err != nil {
		return "", err
	}
	if t.Role != RoleConsumer || t.State != TPStarted || t.DataAddress == nil {
		return "", consumerRefusal(http.StatusConflict, CodeInvalidState, "Transfer %s is %s; only a STARTED transfer this node consumes is pulled.", t.Key(), t.State)
	}
	token, _ := t.DataAddress.Property("authorization")
	want, _ := t.DataAddress.Property("sha256")
	dir := filepath.Join(s.cfg.DataDir, "dataspace")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	final := filepath.Join(dir, safeName(t.ConsumerPID))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.DataAddress.Endpoint, nil)
	if err != nil {
		return "", consumerRefusal(http.StatusBadGateway, "bad_data_address", "The provider's data address %s is not usable: %v", quote(t.DataAddress.Endpoint), err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := *s.d.HTTPClient
	client.Timeout = 0 // a large file takes its time; ctx bounds it
	resp, err := client.Do(req)
	if err != nil {
		return "", consumerRefusal(http.StatusBadGateway, "provider_unreachable", "Reading %s: %v", t.DataAddress.Endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", consumerRefusal(http.StatusBadGateway, "provider_refused", "%s answered HTTP %d.", t.DataAddress.Endpoint, resp.StatusCode)
	}
	if d := reprDigest(resp.Header.Get("Repr-Digest")); want == "" {
		want = d
	} else if d != "" && d != want {
		return "", consumerRefusal(http.StatusBadGateway, "integrity", "The provider states two digests for transfer %s: %s and %s.", t.Key(), want, d)
	}
	tmp, err := os.CreateTemp(dir, ".pull-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h, progressWriter(resp.ContentLength, progress)), resp.Body)
	if err != nil {
		return "", consumerRefusal(http.StatusBadGateway, "provider_unreachable", "Reading %s stopped after %d bytes: %v", t.DataAddress.Endpoint, n, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want == "" || got != want {
		reason := fmt.Sprintf("The content read has SHA-256 %s, not %s, the provider's statement; it was discarded.", got, want)
		if want == "" {
			reason = "The provider stated no SHA-256 for this content, so it cannot be verified; it was discarded."
		}
		_ = s.d.Recorder.Record("dsp.fetch", t.Key(), map[string]any{"provider": t.Participant, "dataset": t.Dataset, "verified": false, "sha256": got, "expected": want})
		return "", &ConsumerError{Status: http.StatusBadGateway, Code: "integrity", Reasons: []string{reason}}
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := s.d.Recorder.Record("dsp.fetch", t.Key(), map[string]any{"provider": t.Participant, "dataset": t.Dataset,
		"agreement": t.AgreementID, "verified": true, "sha256": got, "bytes": n, "researcher": t.Researcher}); err != nil {
		return "", consumerRefusal(http.StatusServiceUnavailable, CodeAuditFailed, "The fetch could not be recorded, so its file is not kept: %v", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", err
	}
	if _, err := s.store.updateTransfer(key, func(t *Transfer) error { t.SHA256, t.Size, t.File = got, n, final; return nil }); err != nil {
		return "", err
	}
	msg := TransferCodeMessage{Header: header(TypeTransferCompletion), ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID}
	if err := s.post(ctx, t.Participant, t.PeerAddress+"/transfers/"+t.ProviderPID+"/completion", msg, nil); err != nil {
		s.log.Warn("the provider did not take the transfer's completion", "pid", key, "err", err)
	}
	if _, err := s.transitionTransfer(key, TPCompleted, "TransferCompletionMessage", nil); err != nil {
		return "", err
	}
	return final, nil
}

// reprDigest reads the SHA-256 of a Repr-Digest header as hex.
func reprDigest(h string) string {
	for _, part := range strings.Split(h, ",") {
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

func safeName(pid string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, strings.ToLower(pid))
}

type progressFunc struct {
	total, done int64
	fn          func(done, total int64)
	last        time.Time
}

func progressWriter(total int64, fn func(done, total int64)) io.Writer {
	if fn == nil {
		return io.Discard
	}
	return &progressFunc{total: total, fn: fn}
}

func (p *progressFunc) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if now := time.Now(); now.Sub(p.last) > 200*time.Millisecond || p.done == p.total {
		p.last = now
		p.fn(p.done, p.total)
	}
	return len(b), nil
}
