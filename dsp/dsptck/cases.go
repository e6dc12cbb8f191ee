package dsptck

import (
	"net/http"
	"slices"
)

type group int

const (
	groupMET group = iota
	groupCAT
	groupCN
	groupTP
)

// A testCase is one case of the kit: its id and display name as the kit
// spells them, and its steps. disabled marks a case the kit itself
// disables; it runs only when Config.Only names it.
type testCase struct {
	id, name string
	group    group
	disabled bool
	run      func(f *flow)
}

// cases are the kit's provider-side cases (dsp-tck main, e8b7af9):
// Metadata01Test, Catalog01Test, ContractNegotiationProvider0{1,2,3}Test,
// TransferProcessProvider0{1,2,3}Test. The comment of each says what the
// provider must do (tck.md has the table). They are set in init: the steps
// refer to Config, whose Validate refers to the cases.
var cases []testCase

func init() { cases = providerCases() }

func providerCases() []testCase {
	return []testCase{
		// --- metadata ---
		{id: "MET:01-01", name: "Verify metadata request", group: groupMET, run: func(f *flow) {
			f.versions()
		}},

		// --- catalogue ---
		{id: "CAT:01-01", name: "Verify catalog request", group: groupCAT, run: func(f *flow) {
			// The dataset must be in the catalogue the kit's participant sees.
			f.catalogHas(f.ids.DatasetID)
		}},
		{id: "CAT:01-02", name: "Verify dataset request", group: groupCAT, run: func(f *flow) {
			f.dataset(f.ids.DatasetID)
		}},
		{id: "CAT:01-03", name: "Verify dataset request not found", group: groupCAT, run: func(f *flow) {
			// The dataset must not exist.
			f.datasetNotFound(f.ids.DatasetID)
		}},

		// --- contract negotiation, provider ---
		{id: "CN:01-01", name: "Verify contract request, offer received, consumer terminated", group: groupCN, run: func(f *flow) {
			// Provider: on the request, an offer.
			f.request()
			f.expect("offers")
			f.terminate(false)
			f.providerState("TERMINATED")
		}},
		{id: "CN:01-02", name: "Verify contract request, offer received, consumer counter-offer, provider terminated", group: groupCN, run: func(f *flow) {
			// Provider: on the request, an offer; on the counter-offer, a
			// termination. The kit's counter-offer names offer
			// CD123:ACN0102:456 and target ACN0102 whatever the configured ids.
			f.request()
			f.expect("offers")
			f.counter("CD123:ACN0102:456", "ACN0102", false)
			f.expect("termination")
		}},
		{id: "CN:01-03", name: "Verify contract request, offer received, consumer accepted, provider agreement, consumer verified, provider finalized", group: groupCN, run: func(f *flow) {
			// Provider: offer; on ACCEPTED, an agreement; on verification, FINALIZED.
			f.request()
			f.expect("offers")
			f.accept()
			f.expect("agreement")
			f.verify(false)
			f.expectFinalized()
		}},
		{id: "CN:01-04", name: "Verify contract request, provider agreement, consumer verified, provider finalized", group: groupCN, run: func(f *flow) {
			// Provider: on the request, an agreement; on verification, FINALIZED.
			f.request()
			f.expect("agreement")
			f.verify(false)
			f.expectFinalized()
		}},
		{id: "CN:02-01", name: "Verify contract request, provider terminated", group: groupCN, run: func(f *flow) {
			// Provider: on the request, a termination (a refusal).
			f.request()
			f.expect("termination")
		}},
		{id: "CN:02-02", name: "Verify contract request, consumer terminated", group: groupCN, run: func(f *flow) {
			// Provider: nothing; the negotiation stays REQUESTED.
			f.request()
			f.terminate(false)
			f.providerState("TERMINATED")
		}},
		{id: "CN:02-03", name: "Verify contract request, provider agreement, consumer terminated", group: groupCN, run: func(f *flow) {
			// Provider: on the request, an agreement.
			f.request()
			f.expect("agreement")
			f.terminate(false)
			f.providerState("TERMINATED")
		}},
		{id: "CN:02-04", name: "Verify contract request, offer received, consumer terminated", group: groupCN, run: func(f *flow) {
			// Provider: on the request, an offer.
			f.request()
			f.expect("offers")
			f.terminate(false)
			f.providerState("TERMINATED")
		}},
		{id: "CN:02-05", name: "Verify contract request, offer received, provider terminated", group: groupCN, run: func(f *flow) {
			// Provider: an offer, then, unprompted, a termination.
			f.request()
			f.expect("offers")
			f.expect("termination")
		}},
		{id: "CN:02-06", name: "Verify contract request, offer received, consumer accepted, provider terminated", group: groupCN, run: func(f *flow) {
			// Provider: an offer; on ACCEPTED, a termination.
			f.request()
			f.expect("offers")
			f.accept()
			f.expect("termination")
		}},
		{id: "CN:02-07", name: "Verify contract request, provider agreement, consumer verified, provider terminated", group: groupCN, run: func(f *flow) {
			// Provider: an agreement; on verification, a termination.
			f.request()
			f.expect("agreement")
			f.verify(false)
			f.expect("termination")
		}},
		{id: "CN:03-01", name: "Verify contract request, provider agreement, consumer verified, provider finalized, invalid consumer terminated", group: groupCN, run: func(f *flow) {
			// Provider: agreement; on verification, FINALIZED; then refuses a
			// termination (400/409).
			f.request()
			f.expect("agreement")
			f.verify(false)
			f.expectFinalized()
			f.providerState("FINALIZED")
			f.terminate(true)
		}},
		{id: "CN:03-02", name: "Verify contract request, offer received, invalid consumer verified", group: groupCN, run: func(f *flow) {
			// Provider: an offer; refuses a verification in OFFERED.
			f.request()
			f.expect("offers")
			f.verify(true)
		}},
		{id: "CN:03-03", name: "Verify contract request, offer received, consumer accepted, illegal consumer verified", group: groupCN, run: func(f *flow) {
			// Provider: an offer; on ACCEPTED nothing; refuses a verification in ACCEPTED.
			f.request()
			f.expect("offers")
			f.accept()
			f.verify(true)
		}},
		{id: "CN:03-04", name: "Verify contract request, offer received, consumer counter-offer (x2), provider terminated", group: groupCN, run: func(f *flow) {
			// Provider: an offer; takes the counter-offer (2xx) and refuses a
			// second one at once (a request in REQUESTED). Terminating after
			// the first is allowed too: a request is refused in TERMINATED.
			f.request()
			f.expect("offers")
			f.counter(f.ids.OfferID, f.ids.DatasetID, false)
			f.counter(f.ids.OfferID, f.ids.DatasetID, true)
			f.trailing = []string{"termination"}
		}},

		// --- transfer process, provider (the agreements exist beforehand) ---
		{id: "TP:01-01", name: "Verify transfer request, provider started, provider terminated", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.expect("start")
			f.expect("termination")
			f.providerState("TERMINATED")
		}},
		{id: "TP:01-02", name: "Verify transfer request, provider started, provider completed", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.expect("start")
			f.expect("completion")
			f.providerState("COMPLETED")
		}},
		{id: "TP:01-03", name: "Verify transfer request, provider started, provider suspended, provider terminated", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.expect("start")
			f.expect("suspension")
			f.expect("termination")
			f.providerState("TERMINATED")
		}},
		{id: "TP:01-04", name: "Verify transfer request, provider started, provider suspended, provider started, provider completed", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.expect("start")
			f.expect("suspension")
			f.expect("start")
			f.expect("completion")
			f.providerState("COMPLETED")
		}},
		{id: "TP:01-05", name: "Verify transfer request, provider terminated", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.expect("termination")
			f.providerState("TERMINATED")
		}},
		{id: "TP:02-01", name: "Verify transfer request, provider started, consumer terminated", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.expect("start")
			f.providerState("STARTED")
			f.tp("termination", false)
			f.providerState("TERMINATED")
		}},
		{id: "TP:02-02", name: "Verify transfer request, provider started, consumer completed", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.expect("start")
			f.providerState("STARTED")
			f.tp("completion", false)
			f.providerState("COMPLETED")
		}},
		{id: "TP:02-03", name: "Verify transfer request, provider started, consumer suspended, consumer terminated", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.expect("start")
			f.providerState("STARTED")
			f.tp("suspension", false)
			f.providerState("SUSPENDED")
			f.tp("termination", false)
			f.providerState("TERMINATED")
		}},
		{id: "TP:02-04", name: "Verify transfer request, provider started, consumer suspended, consumer started, consumer completed", group: groupTP, disabled: true, run: func(f *flow) {
			f.transferRequest()
			f.expect("start")
			f.providerState("STARTED")
			f.tp("suspension", false)
			f.providerState("SUSPENDED")
			f.tp("start", false)
			f.providerState("STARTED")
			f.tp("completion", false)
			f.providerState("COMPLETED")
		}},
		{id: "TP:02-05", name: "Verify transfer request, consumer terminated", group: groupTP, run: func(f *flow) {
			// Provider: nothing; the process stays REQUESTED.
			f.transferRequest()
			f.providerState("REQUESTED")
			f.tp("termination", false)
			f.providerState("TERMINATED")
		}},
		{id: "TP:03-01", name: "Verify transfer request, consumer completed", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.providerState("REQUESTED")
			f.tp("completion", true)
			f.providerState("REQUESTED")
		}},
		{id: "TP:03-02", name: "Verify transfer request, consumer suspended", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.providerState("REQUESTED")
			f.tp("suspension", true)
			f.providerState("REQUESTED")
		}},
		{id: "TP:03-03", name: "Verify transfer request, provider started, consumer suspended, consumer completed", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.expect("start")
			f.providerState("STARTED")
			f.tp("suspension", false)
			f.providerState("SUSPENDED")
			f.tp("completion", true)
			f.providerState("SUSPENDED")
		}},
		{id: "TP:03-04", name: "Verify transfer request, provider started, consumer terminated, consumer started", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.expect("start")
			f.providerState("STARTED")
			f.tp("termination", false)
			f.providerState("TERMINATED")
			f.tp("start", true)
			f.providerState("TERMINATED")
		}},
		{id: "TP:03-05", name: "Verify transfer request, provider started, consumer terminated, consumer suspended", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.expect("start")
			f.providerState("STARTED")
			f.tp("termination", false)
			f.providerState("TERMINATED")
			f.tp("suspension", true)
			f.providerState("TERMINATED")
		}},
		{id: "TP:03-06", name: "Verify transfer request, provider started, consumer terminated, consumer completed", group: groupTP, run: func(f *flow) {
			f.transferRequest()
			f.expect("start")
			f.providerState("STARTED")
			f.tp("termination", false)
			f.providerState("TERMINATED")
			f.tp("completion", true)
			f.providerState("TERMINATED")
		}},
	}
}

func caseByID(id string) (testCase, bool) {
	i := slices.IndexFunc(cases, func(c testCase) bool { return c.id == id })
	if i < 0 {
		return testCase{}, false
	}
	return cases[i], true
}

// CaseIDs returns the ids of the kit's provider-side cases in the kit's
// order; disabled ones (TP:02-04) are included.
func CaseIDs() []string {
	out := make([]string, len(cases))
	for i, c := range cases {
		out[i] = c.id
	}
	return out
}

// CaseName returns the kit's display name of case id ("CN:01-01: Verify
// contract request, ...").
func CaseName(id string) string {
	c, ok := caseByID(id)
	if !ok {
		return ""
	}
	return c.id + ": " + c.name
}

// expectFinalized waits for the FINALIZED event (expectFinalizedEvent).
func (f *flow) expectFinalized() {
	f.t.Helper()
	cb := f.expect("events")
	if ev := cb.body["eventType"]; ev != "FINALIZED" {
		f.t.Fatalf("event %v, FINALIZED was expected", ev)
	}
}

// --- metadata and catalogue ---

// versions reads /.well-known/dspace-version (Metadata01Test).
func (f *flow) versions() {
	f.t.Helper()
	target := f.h.cfg.rootURL() + "/.well-known/dspace-version"
	r := f.get(target)
	f.wantOK(r, "GET "+target)
	d := f.body(r, "ProtocolVersion", target)
	list, _ := d["protocolVersions"].([]any)
	for _, e := range list {
		v, _ := e.(map[string]any)
		if v["version"] == "2025-1" && v["path"] != nil && v["binding"] != nil {
			return
		}
	}
	f.t.Fatalf("%s names no version 2025-1 with a path and a binding: %s", target, clip(r.raw))
}

// catalogHas sends a CatalogRequestMessage and looks for dataset id in the
// catalogue's datasets (Catalog01Test.cat_01_01).
func (f *flow) catalogHas(id string) {
	f.t.Helper()
	r := f.post(message("CatalogRequestMessage", nil), "catalog", "request")
	f.wantOK(r, "CatalogRequestMessage to catalog/request")
	d := f.body(r, "Catalog", "catalog/request")
	list, _ := d["dataset"].([]any)
	if len(list) == 0 {
		f.t.Fatalf("the catalogue has no dataset: %s", clip(r.raw))
	}
	for _, e := range list {
		if ds, _ := e.(map[string]any); ds["@id"] == id {
			return
		}
	}
	f.t.Fatalf("the catalogue has no dataset %q", id)
}

// dataset GETs catalog/datasets/{id} (cat_01_02).
func (f *flow) dataset(id string) {
	f.t.Helper()
	r := f.get(f.h.providerURL("catalog", "datasets", id))
	f.wantOK(r, "GET catalog/datasets/"+id)
	d := f.body(r, "Dataset", "catalog/datasets/"+id)
	if d["@id"] != id {
		f.t.Fatalf("catalog/datasets/%s answered dataset %v", id, d["@id"])
	}
}

// datasetNotFound GETs an absent dataset (cat_01_03): the kit reads a
// CatalogError whatever the status; the mirror also wants a 4xx.
func (f *flow) datasetNotFound(id string) {
	f.t.Helper()
	r := f.get(f.h.providerURL("catalog", "datasets", id))
	if r.status < 400 || r.status > 499 {
		f.t.Fatalf("GET catalog/datasets/%s of an absent dataset: status %d, a 4xx (404) was expected; body: %s", id, r.status, clip(r.raw))
	}
	if r.status != http.StatusNotFound {
		f.t.Logf("note: an absent dataset is answered %d; the specification says 404", r.status)
	}
	f.body(r, "CatalogError", "catalog/datasets/"+id)
}
