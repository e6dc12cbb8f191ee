package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/policy"
)

// Dataspace is this node's Dataspace Protocol participant as the local
// API drives it: the consumer's operations, and what the node holds. The
// node implements it with its *dsp.Service and its audit trail.
type Dataspace interface {
	DataspaceConsumer
	DataspaceRecords
}

// DataspaceConsumer is the consumer's side of the protocol, towards
// another participant (*dsp.Service has these methods). Its refusals are
// *dsp.ConsumerError.
type DataspaceConsumer interface {
	RequestCatalog(ctx context.Context, provider string) (dsp.Catalog, error)
	RequestDataset(ctx context.Context, provider, id string) (dsp.Dataset, error)
	// Negotiate returns once the provider took the request; the
	// negotiation goes on, and WaitNegotiation follows it to FINALIZED or
	// TERMINATED.
	Negotiate(ctx context.Context, req dsp.NegotiateRequest) (*dsp.Negotiation, error)
	WaitNegotiation(ctx context.Context, pid string) (*dsp.Negotiation, error)
	StartTransfer(ctx context.Context, agreementID string, researcher policy.Researcher) (*dsp.Transfer, error)
	WaitTransfer(ctx context.Context, pid string, states ...dsp.TransferState) (*dsp.Transfer, error)
	// Pull reads a STARTED transfer's content, verifies its SHA-256 and
	// completes the transfer; it returns the verified file's path.
	Pull(ctx context.Context, pid string, progress func(done, total int64)) (string, error)
}

// DataspaceRecords is what the node holds of its negotiations and
// transfers, in both roles, and who it is in the dataspace.
type DataspaceRecords interface {
	Negotiations() ([]dsp.Negotiation, error)
	// Negotiation and Transfer find a process by this node's PID; one
	// that does not exist is an error wrapping dsp.ErrNotFound.
	Negotiation(pid string) (*dsp.Negotiation, error)
	Transfers() ([]dsp.Transfer, error)
	Transfer(pid string) (*dsp.Transfer, error)
	// Identity is this node's participant ID and the public JWK of the
	// key that signs its tokens, for a partner's configuration.
	Identity() (participantID string, jwk json.RawMessage, err error)
	// RecordDownload puts a download of a completed transfer's verified
	// file by a local user on the audit record (as the exchange records
	// transfer.downloaded); the file is not served when it fails.
	RecordDownload(ctx context.Context, by policy.Researcher, t *dsp.Transfer) error
}

// errNoDataspace is the answer of every /v1/dsp endpoint on a node that
// is not a participant.
const errNoDataspace = "this node is not configured as a dataspace participant (config: dataspace)"

// Bounds of the wait_s of a negotiation or a transfer.
const (
	defaultDataspaceWait = 30 * time.Second
	maxDataspaceWait     = 120 * time.Second
)

// DataspaceCatalogRequest is the body of POST /v1/dsp/catalogue.
type DataspaceCatalogRequest struct {
	Provider string `json:"provider"`
}

// DataspaceNegotiateRequest is the body of POST /v1/dsp/negotiations.
type DataspaceNegotiateRequest struct {
	Provider string `json:"provider"`
	Dataset  string `json:"dataset"`
	// Offer is one of the dataset's offer IDs; empty: the offer whose
	// purpose constraint admits Purpose.
	Offer   string `json:"offer,omitempty"`
	Purpose string `json:"purpose"`
	// WaitS is how long the node waits for FINALIZED or TERMINATED
	// before answering 202 (absent: 30, at most 120, 0: not at all).
	WaitS *int `json:"wait_s,omitempty"`
}

// DataspaceTransferRequest is the body of POST /v1/dsp/transfers.
type DataspaceTransferRequest struct {
	Agreement string `json:"agreement"`
	// WaitS is how long the node waits for the provider to start the
	// transfer (as for a negotiation); the pull itself takes its time.
	WaitS *int `json:"wait_s,omitempty"`
}

// DataspaceNegotiation is a contract negotiation as the API shows it.
type DataspaceNegotiation struct {
	// PID is this node's process ID (the consumer's when it consumes,
	// the provider's when it provides): the {pid} of its URL.
	PID         string    `json:"pid"`
	Role        dsp.Role  `json:"role"`
	ProviderPID string    `json:"provider_pid"`
	ConsumerPID string    `json:"consumer_pid"`
	State       string    `json:"state"`
	Participant string    `json:"participant"`
	Dataset     string    `json:"dataset"`
	Offer       string    `json:"offer"`
	Purpose     string    `json:"purpose,omitempty"`
	Agreement   string    `json:"agreement,omitempty"`
	ValidUntil  time.Time `json:"valid_until,omitzero"`
	Researcher  string    `json:"researcher,omitempty"`
	Code        string    `json:"code,omitempty"`
	Reasons     []string  `json:"reasons,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// DataspaceTransfer is a transfer process as the API shows it. File is
// the verified file's name in the node's data dir, never its path.
type DataspaceTransfer struct {
	PID         string    `json:"pid"`
	Role        dsp.Role  `json:"role"`
	ProviderPID string    `json:"provider_pid"`
	ConsumerPID string    `json:"consumer_pid"`
	State       string    `json:"state"`
	Participant string    `json:"participant"`
	Agreement   string    `json:"agreement"`
	Dataset     string    `json:"dataset"`
	Format      string    `json:"format,omitempty"`
	SHA256      string    `json:"sha256,omitempty"`
	Size        int64     `json:"size,omitempty"`
	MediaType   string    `json:"media_type,omitempty"`
	File        string    `json:"file,omitempty"`
	BytesServed int64     `json:"bytes_served,omitempty"`
	Researcher  string    `json:"researcher,omitempty"`
	Code        string    `json:"code,omitempty"`
	Reasons     []string  `json:"reasons,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// DataspaceIdentity is the answer of GET /v1/dsp/identity.
type DataspaceIdentity struct {
	ParticipantID string          `json:"participant_id"`
	JWK           json.RawMessage `json:"jwk"`
}

// DataspaceError is the body of a refusal by the dataspace: this node's
// consumer policy (403, denied), the provider (502, with its code and
// reasons), or the caller's mistake (400, 404, 409). It is an Error (code
// is the HTTP status) with the protocol's code besides; a negotiation or
// transfer that ended TERMINATED comes with it.
type DataspaceError struct {
	Error       string                `json:"error"`
	Code        int                   `json:"code"`
	Denied      bool                  `json:"denied,omitempty"`
	DSPCode     string                `json:"dsp_code"`
	Reasons     []string              `json:"reasons"`
	Negotiation *DataspaceNegotiation `json:"negotiation,omitempty"`
	Transfer    *DataspaceTransfer    `json:"transfer,omitempty"`
}

func negotiationView(n *dsp.Negotiation) DataspaceNegotiation {
	v := DataspaceNegotiation{
		PID: n.Key(), Role: n.Role, ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, State: string(n.State),
		Participant: n.Participant, Dataset: n.Dataset, Offer: n.Offer.ID, Purpose: n.Purpose, ValidUntil: n.ValidUntil,
		Researcher: n.Researcher, Code: n.Code, Reasons: n.Reasons, Created: n.Created, Updated: n.Updated,
	}
	if n.Agreement != nil {
		v.Agreement = n.Agreement.ID
	}
	return v
}

func transferView(t *dsp.Transfer) DataspaceTransfer {
	v := DataspaceTransfer{
		PID: t.Key(), Role: t.Role, ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID, State: string(t.State),
		Participant: t.Participant, Agreement: t.AgreementID, Dataset: t.Dataset, Format: t.Format, SHA256: t.SHA256,
		Size: t.Size, MediaType: t.MediaType, BytesServed: t.BytesServed, Researcher: t.Researcher,
		Code: t.Code, Reasons: t.Reasons, Created: t.Created, Updated: t.Updated,
	}
	if t.File != "" {
		v.File = filepath.Base(t.File)
	}
	return v
}

// seesAll: operators, auditors and legal see every process, provider
// side included; anyone else the consumer processes they started.
func seesAll(u User) bool {
	return u.Role == RoleOperator || u.Role == RoleAuditor || u.Role == RoleLegal
}

func sees(u User, role dsp.Role, researcher string) bool {
	return seesAll(u) || (role == dsp.RoleConsumer && researcher != "" && researcher == u.Subject)
}

func (u User) researcher() policy.Researcher {
	return policy.Researcher{Sub: u.Subject, Org: u.Org, Role: u.Role}
}

// waitFor reads wait_s: absent the default, 0 no wait, otherwise up to
// the maximum.
func waitFor(waitS *int) (time.Duration, error) {
	if waitS == nil {
		return defaultDataspaceWait, nil
	}
	if *waitS < 0 || time.Duration(*waitS)*time.Second > maxDataspaceWait {
		return 0, fmt.Errorf("wait_s %d: must be between 0 and %d seconds", *waitS, int(maxDataspaceWait/time.Second))
	}
	return time.Duration(*waitS) * time.Second, nil
}

// mountDataspace serves the protocol itself (outside the API's bearer
// auth: the protocol authenticates its participants with their own
// tokens) and the version discovery document.
func (s *Server) mountDataspace(d Deps) {
	base := d.DataspaceBasePath
	if base == "" {
		base = "/dsp"
	}
	count := func(route string, h http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
			defer func() { s.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc() }()
			h.ServeHTTP(rec, r)
		}
	}
	if d.DataspaceProtocol != nil {
		s.mux.Handle(base+"/", count(base+"/", d.DataspaceProtocol))
	}
	if d.DataspaceWellKnown != nil {
		s.mux.Handle("GET /.well-known/dspace-version", count("/.well-known/dspace-version", d.DataspaceWellKnown))
	}
}

// handleDataspace registers a /v1/dsp route; without a dataspace it
// answers 501.
func (s *Server) handleDataspace(pattern string, h func(w http.ResponseWriter, r *http.Request, u User)) {
	s.handle(pattern, true, func(w http.ResponseWriter, r *http.Request) {
		if s.dataspace == nil {
			writeError(w, http.StatusNotImplemented, errNoDataspace)
			return
		}
		u, _ := UserFrom(r.Context())
		h(w, r, u)
	})
}

func (s *Server) routeDataspace() {
	s.handleDataspace("POST /v1/dsp/catalogue", func(w http.ResponseWriter, r *http.Request, _ User) {
		var req DataspaceCatalogRequest
		if code, err := decodeBody(w, r, &req); err != nil {
			writeError(w, code, err.Error())
			return
		}
		if strings.TrimSpace(req.Provider) == "" {
			writeError(w, http.StatusBadRequest, "provider is empty: name a participant of dataspace.participants")
			return
		}
		c, err := s.dataspace.RequestCatalog(r.Context(), req.Provider)
		if err != nil {
			writeDataspaceError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
	s.handleDataspace("GET /v1/dsp/catalogue/{provider}/datasets/{id}", func(w http.ResponseWriter, r *http.Request, _ User) {
		d, err := s.dataspace.RequestDataset(r.Context(), r.PathValue("provider"), r.PathValue("id"))
		if err != nil {
			writeDataspaceError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
	})
	s.handleDataspace("POST /v1/dsp/negotiations", s.negotiate)
	s.handleDataspace("GET /v1/dsp/negotiations", func(w http.ResponseWriter, r *http.Request, u User) {
		ns, err := s.dataspace.Negotiations()
		if err != nil {
			writeDataspaceError(w, err)
			return
		}
		out := []DataspaceNegotiation{}
		for i := range ns {
			if sees(u, ns[i].Role, ns[i].Researcher) {
				out = append(out, negotiationView(&ns[i]))
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	// Another researcher's negotiation is answered like one that does not
	// exist.
	s.handleDataspace("GET /v1/dsp/negotiations/{pid}", func(w http.ResponseWriter, r *http.Request, u User) {
		n, err := s.dataspace.Negotiation(r.PathValue("pid"))
		if err != nil || !sees(u, n.Role, n.Researcher) {
			if err == nil || errors.Is(err, dsp.ErrNotFound) {
				writeError(w, http.StatusNotFound, "no negotiation "+r.PathValue("pid"))
				return
			}
			writeDataspaceError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, negotiationView(n))
	})
	s.handleDataspace("POST /v1/dsp/transfers", s.transfer)
	s.handleDataspace("GET /v1/dsp/transfers", func(w http.ResponseWriter, r *http.Request, u User) {
		ts, err := s.dataspace.Transfers()
		if err != nil {
			writeDataspaceError(w, err)
			return
		}
		out := []DataspaceTransfer{}
		for i := range ts {
			if sees(u, ts[i].Role, ts[i].Researcher) {
				out = append(out, transferView(&ts[i]))
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	s.handleDataspace("GET /v1/dsp/transfers/{pid}", func(w http.ResponseWriter, r *http.Request, u User) {
		t, ok := s.visibleTransfer(w, r, u)
		if ok {
			writeJSON(w, http.StatusOK, transferView(t))
		}
	})
	// The verified file of a completed transfer, for the researcher who
	// started it or an operator; each download is an audit record.
	s.handleDataspace("GET /v1/dsp/transfers/{pid}/content", func(w http.ResponseWriter, r *http.Request, u User) {
		t, ok := s.visibleTransfer(w, r, u)
		if !ok {
			return
		}
		mine := u.Role == RoleOperator || (t.Researcher != "" && t.Researcher == u.Subject)
		if !mine || t.Role != dsp.RoleConsumer || t.State != dsp.TPCompleted || t.File == "" {
			writeError(w, http.StatusNotFound, "no completed transfer "+t.Key()+" of yours")
			return
		}
		f, err := os.Open(t.File)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("the file of transfer %s cannot be opened: %v", t.Key(), err))
			return
		}
		defer f.Close()
		if err := s.dataspace.RecordDownload(r.Context(), u.researcher(), t); err != nil {
			writeError(w, http.StatusServiceUnavailable, "the download cannot be recorded in the audit trail, so it is not served: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("X-Xborder-Sha256", t.SHA256)
		http.ServeContent(w, r, "", t.Updated, f)
	})
	s.handleDataspace("GET /v1/dsp/identity", func(w http.ResponseWriter, r *http.Request, _ User) {
		id, jwk, err := s.dataspace.Identity()
		if err != nil {
			writeDataspaceError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, DataspaceIdentity{ParticipantID: id, JWK: jwk})
	})
}

// visibleTransfer finds the transfer of the path's {pid} if u may see
// it, or answers 404.
func (s *Server) visibleTransfer(w http.ResponseWriter, r *http.Request, u User) (*dsp.Transfer, bool) {
	t, err := s.dataspace.Transfer(r.PathValue("pid"))
	if err != nil && !errors.Is(err, dsp.ErrNotFound) {
		writeDataspaceError(w, err)
		return nil, false
	}
	if err != nil || !sees(u, t.Role, t.Researcher) {
		writeError(w, http.StatusNotFound, "no transfer "+r.PathValue("pid"))
		return nil, false
	}
	return t, true
}

// negotiate starts a negotiation for the calling user and waits for its
// end: 201 FINALIZED, 202 still under way, a DataspaceError when this
// node's policy or the provider refused.
func (s *Server) negotiate(w http.ResponseWriter, r *http.Request, u User) {
	var req DataspaceNegotiateRequest
	if code, err := decodeBody(w, r, &req); err != nil {
		writeError(w, code, err.Error())
		return
	}
	var missing []string
	for _, f := range [][2]string{{"provider", req.Provider}, {"dataset", req.Dataset}, {"purpose", req.Purpose}} {
		if strings.TrimSpace(f[1]) == "" {
			missing = append(missing, f[0])
		}
	}
	if len(missing) > 0 {
		writeError(w, http.StatusBadRequest, "missing "+strings.Join(missing, ", "))
		return
	}
	wait, err := waitFor(req.WaitS)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	n, err := s.dataspace.Negotiate(r.Context(), dsp.NegotiateRequest{
		Provider: req.Provider, Dataset: req.Dataset, Offer: req.Offer, Purpose: req.Purpose, Researcher: u.researcher(),
	})
	if err != nil {
		writeDataspaceError(w, err)
		return
	}
	if wait > 0 && n.State != dsp.NegFinalized && n.State != dsp.NegTerminated {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		waited, err := s.dataspace.WaitNegotiation(ctx, n.Key())
		cancel()
		switch {
		case waited != nil && (err == nil || errors.Is(err, context.DeadlineExceeded)):
			n = waited
		case err != nil:
			writeDataspaceError(w, err)
			return
		}
	}
	v := negotiationView(n)
	switch n.State {
	case dsp.NegFinalized:
		writeJSON(w, http.StatusCreated, v)
	case dsp.NegTerminated:
		writeJSON(w, http.StatusBadGateway, DataspaceError{
			Error: fmt.Sprintf("negotiation %s with %s was terminated: %s", n.Key(), n.Participant, codeReasons(n.Code, n.Reasons)),
			Code:  http.StatusBadGateway, Denied: n.Code == dsp.CodeDenied, DSPCode: orDefault(n.Code, "terminated"),
			Reasons: nonNil(n.Reasons), Negotiation: &v,
		})
	default:
		writeJSON(w, http.StatusAccepted, v)
	}
}

// transfer starts a transfer under an agreement the calling user
// negotiated (an operator: any), waits for the provider to start it,
// pulls and verifies the content: 201 COMPLETED, 202 not started yet.
func (s *Server) transfer(w http.ResponseWriter, r *http.Request, u User) {
	var req DataspaceTransferRequest
	if code, err := decodeBody(w, r, &req); err != nil {
		writeError(w, code, err.Error())
		return
	}
	if strings.TrimSpace(req.Agreement) == "" {
		writeError(w, http.StatusBadRequest, "missing agreement: the agreement ID of a FINALIZED negotiation (xborder dsp negotiations)")
		return
	}
	wait, err := waitFor(req.WaitS)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// An agreement binds the researcher it was negotiated for and her
	// purpose: another researcher cannot use it (it is answered as
	// unknown, like another's negotiation).
	if u.Role != RoleOperator {
		ns, err := s.dataspace.Negotiations()
		if err != nil {
			writeDataspaceError(w, err)
			return
		}
		for i := range ns {
			n := &ns[i]
			if n.Role == dsp.RoleConsumer && n.Agreement != nil && n.Agreement.ID == req.Agreement && n.Researcher != u.Subject {
				writeJSON(w, http.StatusNotFound, DataspaceError{
					Error: "dataspace: no agreement " + req.Agreement + " of yours", Code: http.StatusNotFound,
					DSPCode: dsp.CodeAgreement, Reasons: []string{fmt.Sprintf("This node negotiated no agreement %q for you.", req.Agreement)},
				})
				return
			}
		}
	}
	t, err := s.dataspace.StartTransfer(r.Context(), req.Agreement, u.researcher())
	if err != nil {
		writeDataspaceError(w, err)
		return
	}
	if t.State == dsp.TPRequested && wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		waited, err := s.dataspace.WaitTransfer(ctx, t.Key(), dsp.TPStarted)
		cancel()
		switch {
		case waited != nil && (err == nil || errors.Is(err, context.DeadlineExceeded)):
			t = waited
		case err != nil:
			writeDataspaceError(w, err)
			return
		}
	}
	if t.State == dsp.TPStarted {
		if _, err := s.dataspace.Pull(r.Context(), t.Key(), nil); err != nil {
			writeDataspaceError(w, err)
			return
		}
		if t, err = s.dataspace.Transfer(t.Key()); err != nil {
			writeDataspaceError(w, err)
			return
		}
	}
	v := transferView(t)
	switch t.State {
	case dsp.TPCompleted:
		writeJSON(w, http.StatusCreated, v)
	case dsp.TPTerminated:
		writeJSON(w, http.StatusBadGateway, DataspaceError{
			Error: fmt.Sprintf("transfer %s from %s was terminated: %s", t.Key(), t.Participant, codeReasons(t.Code, t.Reasons)),
			Code:  http.StatusBadGateway, Denied: t.Code == dsp.CodeDenied, DSPCode: orDefault(t.Code, "terminated"),
			Reasons: nonNil(t.Reasons), Transfer: &v,
		})
	default:
		writeJSON(w, http.StatusAccepted, v)
	}
}

// writeDataspaceError answers a *dsp.ConsumerError with its status, code
// and reasons (denied when a policy refused: this node's, 403, or the
// provider's); a process that does not exist 404; anything else (the
// store, the audit trail) 503 naming what failed.
func writeDataspaceError(w http.ResponseWriter, err error) {
	var ce *dsp.ConsumerError
	switch {
	case errors.As(err, &ce):
		status := ce.Status
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		writeJSON(w, status, DataspaceError{
			Error: "dataspace: " + codeReasons(ce.Code, ce.Reasons), Code: status,
			Denied:  ce.Code == dsp.CodeDenied || status == http.StatusForbidden,
			DSPCode: orDefault(ce.Code, "refused"), Reasons: nonNil(ce.Reasons),
		})
	case errors.Is(err, dsp.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, "the dataspace could not complete the request: "+err.Error())
	}
}

func codeReasons(code string, reasons []string) string {
	if len(reasons) == 0 {
		return orDefault(code, "no reason given")
	}
	return orDefault(code, "refused") + ": " + strings.Join(reasons, " ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
