package exchange

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/policy"
)

// TestRequestForAHiddenEntryIsAnsweredAsForAnUnknownOne: Strasbourg
// publishes a confidential entry it shows only to Luxembourg (the shipped
// catalogue policy). When Baden-Württemberg asks for it, Strasbourg's
// answer, on the wire and as the requester's node reports it, is byte for
// byte the answer it gives once the entry is gone: nothing tells de-bw
// that the entry exists. Strasbourg's audit trail records the truth; the
// named partner's request goes to the exchange policy.
func TestRequestForAHiddenEntryIsAnsweredAsForAnUnknownOne(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw", "lu-luxembourg")
	fr, de, lu := fed["fr-grandest"], fed["de-bw"], fed["lu-luxembourg"]
	ctx := context.Background()
	engine, err := policy.NewEngine(ctx, "../policies", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	// The owner decides with the shipped policies.
	if err := fr.svc.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := testServiceConfig()
	cfg.DataDir = fr.dir
	owner, err := newService(cfg, fr.serviceDeps(engine))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = owner.Close() })

	const id = "steel-recipes"
	fr.src.add("fr-grandest", id, "confidential", testContent(100))
	fr.src.mu.Lock()
	e := fr.src.entries[id]
	e.Partners = []string{"lu-luxembourg"}
	fr.src.entries[id] = e
	fr.src.mu.Unlock()
	if ok, err := engine.CatalogueVisible(ctx, visibleInput(de.m, e)); err != nil || ok {
		t.Fatalf("the shipped catalogue policy shows the entry to de-bw: %v %v", ok, err)
	}

	// ask returns what de-bw's node reports and the frame on the wire.
	ask := func() (Answer, []byte, error) {
		t.Helper()
		ans, err := de.svc.Request(ctx, fr.m, id, "research", "", testResearcher)
		tok, serr := nodejws.Sign(de.key, de.m.PeerID, requestTokenType, testRequestClaims(de, fr, fr.m.Name+"/"+id, time.Now()))
		if serr != nil {
			t.Fatal(serr)
		}
		var frame answerFrame
		if err := rawExchange(t, de, fr.m.PeerID, RequestProtocol, requestFrame{Token: tok}, &frame); err != nil {
			t.Fatal(err)
		}
		wire, _ := json.Marshal(frame)
		return ans, wire, err
	}
	hiddenAns, hiddenWire, hiddenErr := ask()
	fr.src.mu.Lock()
	delete(fr.src.entries, id)
	fr.src.mu.Unlock()
	unknownAns, unknownWire, unknownErr := ask()

	var denied *policy.DeniedError
	if !errors.As(hiddenErr, &denied) || !slices.Equal(denied.Decision.Rules, []string{ruleUnknownResource}) {
		t.Fatalf("hidden entry: %v, want the denial of an unknown entry", hiddenErr)
	}
	if !strings.Contains(hiddenErr.Error(), "publishes no dataset or model") {
		t.Errorf("hidden entry: %v", hiddenErr)
	}
	if hiddenErr.Error() != unknownErr.Error() || !reflect.DeepEqual(hiddenAns, unknownAns) {
		t.Errorf("the answers differ:\nhidden  %v %+v\nunknown %v %+v", hiddenErr, hiddenAns, unknownErr, unknownAns)
	}
	if !bytes.Equal(hiddenWire, unknownWire) {
		t.Errorf("the frames differ:\nhidden  %s\nunknown %s", hiddenWire, unknownWire)
	}

	// The owner's trail says what happened: two requests for a hidden
	// entry, then two for an entry it does not publish.
	var rules []string
	for _, r := range fr.rec.of(RecordDecision) {
		d := r.details.(decisionRecord)
		rules = append(rules, d.Rules...)
		if d.Rules[0] == ruleHiddenResource && !strings.Contains(d.Reasons[0], "hides it from de-bw") {
			t.Errorf("audit reason: %q", d.Reasons[0])
		}
	}
	if want := []string{ruleHiddenResource, ruleHiddenResource, ruleUnknownResource, ruleUnknownResource}; !slices.Equal(rules, want) {
		t.Errorf("audited rules %v, want %v", rules, want)
	}

	// The partner the owner named is answered by the exchange policy.
	fr.src.mu.Lock()
	fr.src.entries[id] = e
	fr.src.mu.Unlock()
	_, err = lu.svc.Request(ctx, fr.m, id, "research", "", testResearcher)
	if !errors.As(err, &denied) || slices.Contains(denied.Decision.Rules, ruleUnknownResource) || denied.Decision.Bundle == "" {
		t.Errorf("named partner: %v, want the exchange policy's decision", err)
	}
}
