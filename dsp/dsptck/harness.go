package dsptck

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The DSP 2025-1 JSON-LD context every message names.
const contextURL = "https://w3id.org/dspace/2025/1/context.jsonld"

// maxBody bounds what the harness reads of any answer or callback.
const maxBody = 4 << 20

// doc is a JSON object as received or sent; the harness checks the wire
// form, so plain maps are what it needs.
type doc = map[string]any

// harness is one run: the HTTP client towards the provider and the
// callback server the provider posts to.
type harness struct {
	cfg    *Config
	client *http.Client
	server *httptest.Server

	mu        sync.Mutex
	processes map[string]*process // by consumerPid
	stray     []string            // callbacks for no known process
}

// A process is one negotiation or transfer the harness leads as consumer.
type process struct {
	area        string // "negotiations" or "transfers"
	consumerPID string
	inbox       chan callback

	mu          sync.Mutex
	providerPID string
	state       string
	problems    []string // fail the case
	notes       []string // logged: what the Java kit would not forgive but the mirror does
}

// A callback is one message the provider posted to the harness.
type callback struct {
	kind string // the last path segment: offers, agreement, events, termination, start, ...
	typ  string
	body doc
	raw  []byte
}

func newHarness(cfg *Config) (*harness, error) {
	h := &harness{cfg: cfg, client: cfg.HTTPClient, processes: map[string]*process{}}
	if h.client == nil {
		h.client = &http.Client{Timeout: 30 * time.Second}
	}
	host := cfg.CallbackHost
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("dsptck: callback listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /negotiations/{pid}/{kind}", h.handleCallback)
	mux.HandleFunc("POST /transfers/{pid}/{kind}", h.handleCallback)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.stray = append(h.stray, r.Method+" "+r.URL.Path)
		h.mu.Unlock()
		http.Error(w, "No handler registered on this endpoint", http.StatusNotFound)
	})
	h.server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	h.server.Start()
	return h, nil
}

func (h *harness) close() { h.server.Close() }

// callbackAddress is the address the harness gives the provider, like the
// kit's dataspacetck.callback.address: a base without a path.
func (h *harness) callbackAddress() string { return h.server.URL }

func (h *harness) newProcess(area string) *process {
	p := &process{area: area, consumerPID: newUUID(), inbox: make(chan callback, 16)}
	h.mu.Lock()
	h.processes[p.consumerPID] = p
	h.mu.Unlock()
	return p
}

func (h *harness) strays() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.stray)
}

// callbackTypes is what each callback path carries.
var callbackTypes = map[string]map[string]string{
	"negotiations": {
		"offers":      "ContractOfferMessage",
		"agreement":   "ContractAgreementMessage",
		"events":      "ContractNegotiationEventMessage",
		"termination": "ContractNegotiationTerminationMessage",
	},
	"transfers": {
		"start":       "TransferStartMessage",
		"completion":  "TransferCompletionMessage",
		"suspension":  "TransferSuspensionMessage",
		"termination": "TransferTerminationMessage",
	},
}

// handleCallback receives what the provider sends to the consumer: it
// checks the message, moves the process's state as the kit's consumer
// would, answers, and queues the message for the case waiting for it.
func (h *harness) handleCallback(w http.ResponseWriter, r *http.Request) {
	area := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
	pid, kind := r.PathValue("pid"), r.PathValue("kind")
	typ, ok := callbackTypes[area][kind]
	h.mu.Lock()
	p := h.processes[pid]
	if !ok || p == nil || p.area != area {
		h.stray = append(h.stray, r.Method+" "+r.URL.Path)
		h.mu.Unlock()
		http.Error(w, "No handler registered on this endpoint", http.StatusNotFound)
		return
	}
	h.mu.Unlock()

	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		p.problem("%s %s: reading the body: %v", r.Method, r.URL.Path, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, err := h.check(typ, raw)
	if err != nil {
		p.problem("the provider posted to %s a %s that is not valid: %v", r.URL.Path, typ, err)
		writeError(w, http.StatusBadRequest, p, err.Error())
		return
	}
	if got, _ := body["consumerPid"].(string); got != pid {
		p.problem("%s posted to %s names consumerPid %q, not the path's %q", typ, r.URL.Path, got, pid)
		writeError(w, http.StatusBadRequest, p, "consumerPid does not match the path")
		return
	}
	providerPID, _ := body["providerPid"].(string)
	next, err := p.received(kind, providerPID, body)
	if err != nil {
		p.problem("%s posted to %s: %v", typ, r.URL.Path, err)
		writeError(w, http.StatusConflict, p, err.Error())
		return
	}
	answer := processDoc(p, next)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
	select {
	case p.inbox <- callback{kind: kind, typ: typ, body: body, raw: raw}:
	default:
		p.problem("more than %d callbacks queued for %s", cap(p.inbox), pid)
	}
}

// received moves the process as the kit's consumer state machine does on a
// provider message, and refuses what that machine refuses.
func (p *process) received(kind, providerPID string, body doc) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.providerPID == "" {
		// The kit's consumer fails here: it has not yet read the
		// providerPid from the answer to its request. The mirror takes the
		// answer as given and says so.
		p.notes = append(p.notes, fmt.Sprintf(
			"a %s callback arrived before the harness had read the answer to its request; the Java kit fails a case when that happens (send callbacks after answering)", kind))
		p.providerPID = providerPID
		if p.state == "" {
			p.state = "REQUESTED"
		}
	} else if providerPID != p.providerPID {
		return "", fmt.Errorf("providerPid %q, the answer to the request said %q", providerPID, p.providerPID)
	}
	var next string
	switch p.area + "/" + kind {
	case "negotiations/offers":
		next = "OFFERED"
	case "negotiations/agreement":
		next = "AGREED"
	case "negotiations/events":
		ev, _ := body["eventType"].(string)
		if ev != "FINALIZED" {
			return "", fmt.Errorf("eventType %q: a provider sends only FINALIZED", ev)
		}
		next = "FINALIZED"
	case "negotiations/termination", "transfers/termination":
		next = "TERMINATED"
	case "transfers/start":
		next = "STARTED"
	case "transfers/completion":
		next = "COMPLETED"
	case "transfers/suspension":
		next = "SUSPENDED"
	}
	if err := transition(p.area, p.state, next); err != nil {
		return "", err
	}
	p.state = next
	return next, nil
}

// sent records a state the consumer moves to by its own message.
func (p *process) sent(next string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := transition(p.area, p.state, next); err != nil {
		return err
	}
	p.state = next
	return nil
}

func (p *process) current() (providerPID, state string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.providerPID, p.state
}

func (p *process) problem(format string, args ...any) {
	p.mu.Lock()
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
	p.mu.Unlock()
}

func (p *process) takeProblems() (problems, notes []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	problems, notes = p.problems, p.notes
	p.problems, p.notes = nil, nil
	return problems, notes
}

// transition is the kit's consumer-side state machine
// (statemachine/ContractNegotiation.java, TransferProcess.java).
func transition(area, from, to string) error {
	var allowed map[string][]string
	if area == "negotiations" {
		allowed = map[string][]string{
			"":          {"REQUESTED", "OFFERED", "TERMINATED"},
			"REQUESTED": {"OFFERED", "AGREED", "TERMINATED"},
			"OFFERED":   {"REQUESTED", "OFFERED", "ACCEPTED", "TERMINATED"},
			"ACCEPTED":  {"AGREED", "TERMINATED"},
			"AGREED":    {"VERIFIED", "TERMINATED"},
			"VERIFIED":  {"FINALIZED", "TERMINATED"},
		}
	} else {
		allowed = map[string][]string{
			"":          {"REQUESTED"},
			"REQUESTED": {"STARTED", "TERMINATED"},
			"SUSPENDED": {"STARTED", "TERMINATED"},
			"STARTED":   {"SUSPENDED", "TERMINATED", "COMPLETED"},
		}
	}
	if slices.Contains(allowed[from], to) {
		return nil
	}
	if from == "" {
		from = "INITIALIZED"
	}
	return fmt.Errorf("illegal state transition from %s to %s", from, to)
}

// processDoc is the kit's answer to a callback: the consumer's view of the
// process.
func processDoc(p *process, state string) doc {
	providerPID, _ := p.current()
	typ := "ContractNegotiation"
	if p.area == "transfers" {
		typ = "TransferProcess"
	}
	return doc{"@context": []string{contextURL}, "@type": typ, "providerPid": providerPID, "consumerPid": p.consumerPID, "state": state}
}

func writeError(w http.ResponseWriter, status int, p *process, reason string) {
	providerPID, _ := p.current()
	typ := "ContractNegotiationError"
	if p.area == "transfers" {
		typ = "TransferError"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(doc{
		"@context": []string{contextURL}, "@type": typ,
		"providerPid": providerPID, "consumerPid": p.consumerPID,
		"code": fmt.Sprint(status), "reason": []string{reason},
	})
}

// check parses a received document and checks what the kit checks before
// anything else (a JSON object, a string @type, the protocol context) and
// the official schema of typ.
func (h *harness) check(typ string, raw []byte) (doc, error) {
	var d doc
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if typ != "ProtocolVersion" {
		got, ok := d["@type"].(string)
		if !ok {
			return nil, fmt.Errorf("@type is %v, not a string (the kit reads it as one)", d["@type"])
		}
		if got != typ {
			return nil, fmt.Errorf("@type is %q, %q was expected", got, typ)
		}
		ctx, _ := d["@context"].([]any)
		if !slices.Contains(ctx, any(contextURL)) {
			return nil, fmt.Errorf("@context %v is not an array naming %s", d["@context"], contextURL)
		}
	}
	if err := h.cfg.ValidateSchema(typ, raw); err != nil {
		return nil, fmt.Errorf("schema %s: %w", typ, err)
	}
	return d, nil
}

// reply is one answer of the provider.
type reply struct {
	status int
	raw    []byte
}

// send makes one request to the provider with a fresh token.
func (h *harness) send(ctx context.Context, method, target string, body doc) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if h.cfg.Token != nil {
		tok, err := h.cfg.Token(h.cfg.ProviderID)
		if err != nil {
			return reply{}, fmt.Errorf("token for %s: %w", h.cfg.ProviderID, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: reading the answer: %w", method, target, err)
	}
	return reply{status: resp.StatusCode, raw: raw}, nil
}

// providerURL joins the DSP base and a path whose segments are escaped.
func (h *harness) providerURL(segments ...string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(h.cfg.ProviderURL, "/"))
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// newUUID returns a random version-4 UUID, bare as the kit's process ids
// are (no urn:uuid: prefix).
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// message builds a message the way the kit's NegotiationFunctions and
// TransferFunctions do, in the compacted form it puts on the wire: a
// random top-level @id, the protocol context as an array, the @type.
func message(typ string, fields doc) doc {
	m := doc{"@context": []string{contextURL}, "@id": newUUID(), "@type": typ}
	for k, v := range fields {
		m[k] = v
	}
	return m
}

// failOnProblems logs the notes and reports the problems the callback
// server recorded for p, stopping the case if there were any.
func failOnProblems(t *testing.T, p *process) {
	t.Helper()
	problems, notes := p.takeProblems()
	for _, n := range notes {
		t.Logf("note: %s", n)
	}
	if len(problems) > 0 {
		t.Fatalf("%s %s: %s", p.area, p.consumerPID, strings.Join(problems, "; "))
	}
}
