package dsptck

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// required is what the official schemas require of each document the
// harness receives, for the self-test only (dsp/dspschema is the real
// validator; the node's test wires it).
var required = map[string][]string{
	"ProtocolVersion":                       {"protocolVersions"},
	"Catalog":                               {"@context", "@id", "@type", "participantId"},
	"Dataset":                               {"@context", "@id", "hasPolicy", "distribution"},
	"CatalogError":                          {"@context", "@type"},
	"ContractNegotiation":                   {"@context", "@type", "providerPid", "consumerPid", "state"},
	"ContractNegotiationError":              {"@context", "@type", "providerPid", "consumerPid"},
	"ContractOfferMessage":                  {"@context", "@type", "providerPid", "offer"},
	"ContractAgreementMessage":              {"@context", "@type", "providerPid", "consumerPid", "agreement"},
	"ContractNegotiationEventMessage":       {"@context", "@type", "providerPid", "consumerPid", "eventType"},
	"ContractNegotiationTerminationMessage": {"@context", "@type", "providerPid", "consumerPid"},
	"TransferProcess":                       {"@context", "@type", "providerPid", "consumerPid", "state"},
	"TransferError":                         {"@context", "@type", "providerPid", "consumerPid"},
	"TransferStartMessage":                  {"@context", "@type", "providerPid", "consumerPid"},
	"TransferCompletionMessage":             {"@context", "@type", "providerPid", "consumerPid"},
	"TransferSuspensionMessage":             {"@context", "@type", "providerPid", "consumerPid"},
	"TransferTerminationMessage":            {"@context", "@type", "providerPid", "consumerPid"},
}

func requiredFields(name string, raw []byte) error {
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	req, ok := required[name]
	if !ok {
		return fmt.Errorf("no schema for %s", name)
	}
	for _, k := range req {
		if _, ok := d[k]; !ok {
			return fmt.Errorf("%s is required", k)
		}
	}
	if o, ok := d["offer"].(map[string]any); ok {
		if _, ok := o["permission"]; !ok {
			return errors.New("offer: permission or prohibition is required")
		}
	}
	return nil
}

func fakeConfig(fp *fakeProvider) Config {
	cfg := DefaultConfig(fp.srv.URL+"/dsp", "urn:fake")
	cfg.ValidateSchema = requiredFields
	cfg.Token = func(aud string) (string, error) { return "token-for-" + aud, nil }
	cfg.Wait = 10 * time.Second
	return cfg
}

// TestRunAgainstScriptedProvider runs every case, the disabled TP:02-04
// too, against a provider that does what the kit expects.
func TestRunAgainstScriptedProvider(t *testing.T) {
	fp := newFakeProvider(t, "")
	cfg := fakeConfig(fp)
	cfg.Only = CaseIDs()
	Run(t, cfg)
}

// TestRunNegotiatesAgreementsFirst runs the TP cases without agreement
// ids: the harness negotiates each case's NegotiateFor offer (offer,
// ACCEPTED, agreement, verification, FINALIZED) and transfers under the
// agreement it got.
func TestRunNegotiatesAgreementsFirst(t *testing.T) {
	fp := newFakeProvider(t, "")
	cfg := fakeConfig(fp)
	for id, c := range DefaultCases() {
		if strings.HasPrefix(id, "TP:") {
			cfg.Cases[id] = Case{NegotiateFor: OfferRef{DatasetID: "for-" + c.AgreementID, OfferID: "offer-" + c.AgreementID}}
			cfg.Only = append(cfg.Only, id)
		}
	}
	slices.Sort(cfg.Only)
	Run(t, cfg)
	fp.mu.Lock()
	defer fp.mu.Unlock()
	negotiated := 0
	for _, p := range fp.procs {
		if p.area == "negotiations" && p.state == "FINALIZED" {
			negotiated++
		}
	}
	if negotiated != len(cfg.Only) {
		t.Fatalf("%d negotiations finalized for %d TP cases", negotiated, len(cfg.Only))
	}
}

// TestRunCatchesFaultyProviders runs the harness, in a child process,
// against providers with one fault each, and requires the case that meets
// the fault to fail naming it.
func TestRunCatchesFaultyProviders(t *testing.T) {
	if fault := os.Getenv("DSPTCK_FAULT"); fault != "" {
		fp := newFakeProvider(t, fault)
		cfg := fakeConfig(fp)
		cfg.Wait = 2 * time.Second
		cfg.Only = strings.Split(os.Getenv("DSPTCK_ONLY"), ",")
		Run(t, cfg)
		return
	}
	for _, tc := range []struct{ fault, only, want string }{
		{"refuse-404", "CN:03-02", "status 404; the kit fails a refusal that is a 404"},
		{"refuse-404", "TP:03-01", "status 404; the kit fails a refusal that is a 404"},
		{"bad-offer", "CN:01-01", "permission or prohibition is required"},
		{"no-callback-pid", "TP:01-05", "names consumerPid \"someone-else\""},
	} {
		t.Run(tc.fault+"/"+SubtestName(tc.only), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRunCatchesFaultyProviders$", "-test.v")
			cmd.Env = append(os.Environ(), "DSPTCK_FAULT="+tc.fault, "DSPTCK_ONLY="+tc.only)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the harness passed a provider with fault %s:\n%s", tc.fault, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("the failure does not say %q:\n%s", tc.want, out)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig("http://127.0.0.1:1/dsp", "urn:p")
	if err := cfg.Validate(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "ValidateSchema") {
		t.Fatalf("a config without a schema validator: %v", err)
	}
	cfg.ValidateSchema = requiredFields
	if err := cfg.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	cfg.Cases = map[string]Case{"CN:09-09": {}, "TP:01-01": {Format: "x"},
		"TP:01-02": {AgreementID: "a", NegotiateFor: OfferRef{"d", "o"}}, "TP:01-03": {NegotiateFor: OfferRef{DatasetID: "d"}},
		"TP:01-04": {NegotiateFor: OfferRef{"d", "o"}}}
	cfg.ProviderURL = "dsp"
	err := cfg.Validate()
	for _, want := range []string{`"CN:09-09"`, "TP:01-01 needs an AgreementID, or a NegotiateFor", "TP:01-02 has both",
		"TP:01-03: NegotiateFor needs a DatasetID and an OfferID", `ProviderURL "dsp"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "TP:01-04") {
		t.Errorf("a TP case with a NegotiateFor and no AgreementID is refused: %v", err)
	}
}

func TestDefaultCasesAreTheKitSamples(t *testing.T) {
	d := DefaultCases()
	for id, want := range map[string]Case{
		"CAT:01-03": {DatasetID: "CAT0103"},
		"CN:02-05":  {DatasetID: "ACN0205", OfferID: "CD123:ACN0205:456"},
		"TP:03-06":  {AgreementID: "ATP0306", Format: "HttpData-PULL"},
	} {
		if d[id] != want {
			t.Errorf("DefaultCases()[%s] = %+v, want %+v", id, d[id], want)
		}
	}
	if len(d) != 34 || len(CaseIDs()) != 35 || !slices.Contains(CaseIDs(), "MET:01-01") {
		t.Errorf("%d cases: %v", len(d), CaseIDs())
	}
	if SubtestName("CN:01-03") != "CN_01_03" || CaseName("TP:01-05") != "TP:01-05: Verify transfer request, provider terminated" {
		t.Errorf("names: %s, %s", SubtestName("CN:01-03"), CaseName("TP:01-05"))
	}
}

// FuzzCallback posts arbitrary bodies and paths to the callback server:
// every one is answered 200, 400, 404 (an unknown path) or 409, never a
// panic or a 5xx.
func FuzzCallback(f *testing.F) {
	f.Add("offers", `{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"ContractOfferMessage","providerPid":"p","consumerPid":"c","offer":{"permission":[]}}`)
	f.Add("events", `{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"ContractNegotiationEventMessage","providerPid":"p","consumerPid":"c","eventType":"ACCEPTED"}`)
	f.Add("agreement", `{"@type":["ContractAgreementMessage"]}`)
	f.Add("termination", `[]`)
	f.Add("start", `{"@context":"x"}`)
	f.Fuzz(func(t *testing.T, kind, body string) {
		cfg := DefaultConfig("http://127.0.0.1:1/dsp", "urn:p")
		cfg.ValidateSchema = requiredFields
		h, err := newHarness(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer h.close()
		for _, area := range []string{"negotiations", "transfers"} {
			p := h.newProcess(area)
			p.providerPID = "p"
			resp, err := h.client.Post(h.callbackAddress()+"/"+area+"/"+p.consumerPID+"/"+url.PathEscape(kind), "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case 200, 400, 404, 409:
			default:
				t.Fatalf("%s/%s: status %d", area, kind, resp.StatusCode)
			}
		}
	})
}
