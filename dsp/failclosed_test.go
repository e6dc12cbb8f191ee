package dsp_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/xborder/xborder/dsp"
)

// With its audit trail failing, the provider decides nothing and serves
// nothing: a contract request and a transfer's data are refused with a
// ContractNegotiationError / TransferError saying why (503, not a bare
// 500), and nothing is stored as agreed.
func TestProviderFailsClosedWithoutItsAuditTrail(t *testing.T) {
	prov := newDNNode(t, "urn:xborder:provider")
	kit, kitCfg := dnParticipant(t, "urn:tck:consumer", "DE")
	prov.cat.add("OPEN01", dnOpen, dnContent("OPEN01"))
	prov.open(t, dnEngine(t), nil, kitCfg)
	offer := dnOfferFor(t, prov.svc, dsp.Participant{ID: kitCfg.ID, Country: "DE", Org: kitCfg.Org}, "OPEN01")
	offer.Target = "OPEN01"
	req, _ := json.Marshal(dsp.ContractRequestMessage{Header: dsp.NewMessage(dsp.TypeContractRequest),
		ConsumerPID: "urn:uuid:3d7f2c1a-5b6e-4f70-8a91-b2c3d4e5f607", Offer: offer, CallbackAddress: "http://127.0.0.1:9/cb"})

	prov.rec.broken.Store(true)
	code, body := dnPost(t, prov.base()+"/negotiations/request", dnToken(t, kit, prov.id), string(req))
	var e dsp.ErrorMessage
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusServiceUnavailable || e.Type != dsp.TypeNegotiationError || e.Code != dsp.CodeAuditFailed ||
		!strings.Contains(strings.Join(e.Reason, " "), "audit") {
		t.Fatalf("with the audit trail failing: %d %s", code, body)
	}
	ns, err := prov.svc.Negotiations()
	if err != nil || len(ns) != 0 {
		t.Fatalf("a negotiation was stored without its decision recorded: %+v %v", ns, err)
	}
}
