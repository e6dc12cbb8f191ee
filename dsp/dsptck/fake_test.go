package dsptck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeProvider is a scripted DSP provider: what it does at each step is
// keyed by dataset or agreement id, as the providers that pass the Java kit
// do (EDC's tck extension). It exists to test the harness; the real target
// is the xborder node.
type fakeProvider struct {
	t      *testing.T
	srv    *httptest.Server
	broken string // a fault to inject: "refuse-404", "bad-offer", "no-callback-pid"

	mu    sync.Mutex
	procs map[string]*fakeProc
	wg    sync.WaitGroup
}

type fakeProc struct {
	area, providerPID, consumerPID, key, callback, state, token string
}

// negotiation scripts: reaction to request, counter-offer, ACCEPTED, verification.
var negScript = map[string][4]string{
	"ACN0101": {"offer"}, "ACN0204": {"offer"},
	"ACN0102": {"offer", "terminate"},
	"ACN0103": {"offer", "", "agree", "finalize"},
	"ACN0104": {"agree", "", "", "finalize"}, "ACN0301": {"agree", "", "", "finalize"},
	"ACN0201": {"terminate"},
	"ACN0202": {},
	"ACN0203": {"agree"},
	"ACN0205": {"offer,terminate"},
	"ACN0206": {"offer", "", "terminate"},
	"ACN0207": {"agree", "", "", "terminate"},
	"ACN0302": {"offer"}, "ACN0303": {"offer"}, "ACN0304": {"offer"},
}

// negotiationScript is the script of a dataset; a dataset "for-<agreement
// id>" is offered, agreed under that agreement id once accepted, and
// finalized (the negotiation the harness runs for a TP case without an
// agreement id).
func negotiationScript(key string) [4]string {
	if strings.HasPrefix(key, "for-") {
		return [4]string{"offer", "", "agree", "finalize"}
	}
	return negScript[key]
}

// transfer scripts: what follows a TransferRequestMessage.
var tpScript = map[string]string{
	"ATP0101": "start,terminate", "ATP0102": "start,complete", "ATP0103": "start,suspend,terminate",
	"ATP0104": "start,suspend,start,complete", "ATP0105": "terminate",
	"ATP0201": "start", "ATP0202": "start", "ATP0203": "start", "ATP0204": "start",
	"ATP0205": "", "ATP0301": "", "ATP0302": "",
	"ATP0303": "start", "ATP0304": "start", "ATP0305": "start", "ATP0306": "start",
}

func newFakeProvider(t *testing.T, broken string) *fakeProvider {
	fp := &fakeProvider{t: t, broken: broken, procs: map[string]*fakeProc{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/dspace-version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, doc{"protocolVersions": []doc{{"version": "2025-1", "path": "/dsp", "binding": "HTTPS"}}})
	})
	mux.HandleFunc("POST /dsp/catalog/request", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, doc{"@context": []string{contextURL}, "@id": "urn:catalog", "@type": "Catalog", "participantId": "urn:fake",
			"dataset": []doc{fakeDataset("CAT0101", false), fakeDataset("CAT0102", false)}})
	})
	mux.HandleFunc("GET /dsp/catalog/datasets/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if id != "CAT0101" && id != "CAT0102" {
			writeJSON(w, 404, doc{"@context": []string{contextURL}, "@type": "CatalogError", "code": "404", "reason": []string{"no dataset " + id}})
			return
		}
		writeJSON(w, 200, fakeDataset(id, true))
	})
	mux.HandleFunc("POST /dsp/{area}/request", fp.start)
	mux.HandleFunc("POST /dsp/{area}/{pid}/{step...}", fp.step)
	mux.HandleFunc("GET /dsp/{area}/{pid}", func(w http.ResponseWriter, r *http.Request) {
		p := fp.proc(r.PathValue("pid"))
		if p == nil {
			http.NotFound(w, r)
			return
		}
		fp.mu.Lock()
		defer fp.mu.Unlock()
		writeJSON(w, 200, fp.procDoc(p))
	})
	mux.HandleFunc("GET /dsp/data/{pid}", func(w http.ResponseWriter, r *http.Request) {
		p := fp.proc(r.PathValue("pid"))
		fp.mu.Lock()
		defer fp.mu.Unlock()
		if p == nil || p.state != "STARTED" || r.Header.Get("Authorization") != p.token {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte("region,value\nGrand Est,42\n"))
	})
	fp.srv = httptest.NewServer(mux)
	t.Cleanup(func() { fp.srv.Close(); fp.wg.Wait() })
	return fp
}

func fakeDataset(id string, root bool) doc {
	d := doc{"@id": id, "@type": "Dataset",
		"hasPolicy":    []doc{{"@id": "offer-" + id, "@type": "Offer", "permission": []doc{{"action": "use"}}}},
		"distribution": []doc{{"@type": "Distribution", "format": "HttpData-PULL", "accessService": doc{"@id": "urn:svc", "@type": "DataService", "endpointURL": "http://x/dsp"}}}}
	if root {
		d["@context"] = []string{contextURL}
	}
	return d
}

func writeJSON(w http.ResponseWriter, status int, d doc) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(d)
}

func (fp *fakeProvider) proc(pid string) *fakeProc {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.procs[pid]
}

func (fp *fakeProvider) procDoc(p *fakeProc) doc {
	typ := "ContractNegotiation"
	if p.area == "transfers" {
		typ = "TransferProcess"
	}
	return doc{"@context": []string{contextURL}, "@type": typ, "providerPid": p.providerPID, "consumerPid": p.consumerPID, "state": p.state}
}

func (fp *fakeProvider) refuse(w http.ResponseWriter, p *fakeProc, why string) {
	status := http.StatusConflict
	if fp.broken == "refuse-404" {
		status = http.StatusNotFound
	}
	typ := "ContractNegotiationError"
	if p.area == "transfers" {
		typ = "TransferError"
	}
	writeJSON(w, status, doc{"@context": []string{contextURL}, "@type": typ, "providerPid": p.providerPID, "consumerPid": p.consumerPID, "code": "409", "reason": []string{why}})
}

// start takes a ContractRequestMessage or TransferRequestMessage.
func (fp *fakeProvider) start(w http.ResponseWriter, r *http.Request) {
	var m doc
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	p := &fakeProc{area: r.PathValue("area"), providerPID: "urn:uuid:" + newUUID(), state: "REQUESTED"}
	p.consumerPID, _ = m["consumerPid"].(string)
	p.callback, _ = m["callbackAddress"].(string)
	var then string
	if p.area == "negotiations" {
		o, _ := m["offer"].(map[string]any)
		p.key, _ = o["target"].(string)
		then = negotiationScript(p.key)[0]
	} else {
		p.key, _ = m["agreementId"].(string)
		then = tpScript[p.key]
	}
	fp.mu.Lock()
	fp.procs[p.providerPID] = p
	writeJSON(w, 201, fp.procDoc(p))
	fp.mu.Unlock()
	fp.later(p, then)
}

// step takes every message on an existing process.
func (fp *fakeProvider) step(w http.ResponseWriter, r *http.Request) {
	p := fp.proc(r.PathValue("pid"))
	if p == nil {
		http.NotFound(w, r)
		return
	}
	fp.mu.Lock()
	from, then, next := p.state, "", ""
	allowed := false
	switch p.area + "/" + r.PathValue("step") {
	case "negotiations/request":
		allowed, next, then = from == "OFFERED", "REQUESTED", negotiationScript(p.key)[1]
	case "negotiations/events":
		allowed, next, then = from == "OFFERED", "ACCEPTED", negotiationScript(p.key)[2]
	case "negotiations/agreement/verification":
		allowed, next, then = from == "AGREED", "VERIFIED", negotiationScript(p.key)[3]
	case "negotiations/termination":
		allowed, next = from != "FINALIZED" && from != "TERMINATED", "TERMINATED"
	case "transfers/termination":
		allowed, next = from != "COMPLETED" && from != "TERMINATED", "TERMINATED"
	case "transfers/completion":
		allowed, next = from == "STARTED", "COMPLETED"
	case "transfers/suspension":
		allowed, next = from == "STARTED", "SUSPENDED"
	case "transfers/start":
		allowed, next = from == "SUSPENDED", "STARTED"
	}
	if !allowed {
		fp.mu.Unlock()
		fp.refuse(w, p, fmt.Sprintf("%s is not allowed in %s", r.PathValue("step"), from))
		return
	}
	p.state = next
	fp.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	fp.later(p, then)
}

// later runs the script's next actions after the answer has gone.
func (fp *fakeProvider) later(p *fakeProc, actions string) {
	if actions == "" {
		return
	}
	fp.wg.Add(1)
	go func() {
		defer fp.wg.Done()
		for _, a := range strings.Split(actions, ",") {
			fp.act(p, a)
		}
	}()
}

func (fp *fakeProvider) act(p *fakeProc, action string) {
	fp.mu.Lock()
	m := doc{"@context": []string{contextURL}, "providerPid": p.providerPID, "consumerPid": p.consumerPID}
	var kind string
	switch action {
	case "offer":
		kind, p.state = "offers", "OFFERED"
		m["@type"] = "ContractOfferMessage"
		m["offer"] = doc{"@id": "CD123:" + p.key + ":456", "@type": "Offer", "target": p.key, "permission": []doc{{"action": "use"}}}
		if fp.broken == "bad-offer" {
			delete(m["offer"].(doc), "permission")
		}
	case "agree":
		kind, p.state = "agreement", "AGREED"
		m["@type"] = "ContractAgreementMessage"
		id := "urn:agreement:" + p.key
		if a, ok := strings.CutPrefix(p.key, "for-"); ok {
			id = a
		}
		m["agreement"] = doc{"@id": id, "@type": "Agreement", "target": p.key, "assigner": "urn:fake", "assignee": tckParticipant,
			"timestamp": "2026-01-02T03:04:05Z", "permission": []doc{{"action": "use"}}}
	case "finalize":
		kind, p.state = "events", "FINALIZED"
		m["@type"], m["eventType"] = "ContractNegotiationEventMessage", "FINALIZED"
	case "terminate":
		kind, p.state = "termination", "TERMINATED"
		m["@type"] = "ContractNegotiationTerminationMessage"
		if p.area == "transfers" {
			m["@type"] = "TransferTerminationMessage"
		}
		m["code"] = "refused"
	case "start":
		kind, p.state, p.token = "start", "STARTED", "tok-"+newUUID()
		m["@type"] = "TransferStartMessage"
		m["dataAddress"] = doc{"@type": "DataAddress", "endpointType": httpEndpointType, "endpoint": fp.srv.URL + "/dsp/data/" + p.providerPID,
			"endpointProperties": []doc{{"@type": "EndpointProperty", "name": "authorization", "value": p.token}, {"@type": "EndpointProperty", "name": "authType", "value": "bearer"}}}
	case "complete":
		kind, p.state = "completion", "COMPLETED"
		m["@type"] = "TransferCompletionMessage"
	case "suspend":
		kind, p.state = "suspension", "SUSPENDED"
		m["@type"], m["code"] = "TransferSuspensionMessage", "paused"
	}
	if fp.broken == "no-callback-pid" {
		m["consumerPid"] = "someone-else"
	}
	target := p.callback + "/" + p.area + "/" + p.consumerPID + "/" + kind
	fp.mu.Unlock()
	b, _ := json.Marshal(m)
	resp, err := http.Post(target, "application/json", bytes.NewReader(b))
	if err != nil {
		fp.t.Logf("fake provider: callback %s: %v", target, err)
		return
	}
	resp.Body.Close()
}
