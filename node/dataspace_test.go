package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/dsp/dspschema"
	"github.com/xborder/xborder/dsp/dsptck"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
)

// publicKeyPEM is a node's public key as a participant's configuration
// lists it.
func publicKeyPEM(t *testing.T, dir string) string {
	t.Helper()
	id, err := LoadKey(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(id.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// dataspaceFed is a federation whose members are dataspace participants
// of each other, each API on a port known before it starts (the other's
// configuration names it).
func dataspaceFed(t *testing.T, names []string, extra func(i int) []dsp.ParticipantConfig) *testFed {
	f := newTestFed(t, "grand-est-ai", names, nil)
	for i := range f.cfgs {
		f.cfgs[i].API = fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t, false))
	}
	for i := range f.cfgs {
		d := DataspaceConfig{Enabled: true}
		for j := range f.cfgs {
			if j != i {
				d.Participants = append(d.Participants, dsp.ParticipantConfig{
					ID: "urn:xborder:" + f.cfgs[j].Name, Country: f.cfgs[j].Country, Org: f.cfgs[j].Org,
					PublicKey: publicKeyPEM(t, f.dirs[j]), Address: "http://" + f.cfgs[j].API + "/dsp",
				})
			}
		}
		if extra != nil {
			d.Participants = append(d.Participants, extra(i)...)
		}
		f.cfgs[i].Dataspace = d
	}
	return f
}

// apiCall calls a node's local API as a user and decodes the answer.
func apiCall(t *testing.T, n *Node, u api.User, method, path string, body, out any) int {
	t.Helper()
	tok, err := api.IssueToken(n.id.Key, n.id.PeerID.String(), u, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, "http://"+n.APIAddr()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if b, ok := out.(*[]byte); ok {
			*b = raw
		} else if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// Two regions trade over the Dataspace Protocol, each the other's
// participant: Baden-Württemberg's researcher browses Grand Est's
// catalogue, is refused its personal health data with Grand Est's
// reasons, agrees to its open data, and fetches it after Grand Est
// restarted (the agreement was kept), verified; another researcher sees
// none of it.
func TestRegionsTradeOverTheDataspaceProtocol(t *testing.T) {
	f := dataspaceFed(t, []string{"fr-grandest", "de-bw"}, nil)
	fr, de := f.start(0), f.start(1)
	ctx := context.Background()
	content := []byte("station,day,no2\nstrasbourg,2025-01-01,31\nmulhouse,2025-01-01,24\n")
	_, err := fr.catalogue.Publish(ctx, exchange.Publication{ID: "air-quality", Title: "Air quality, Grand Est", Theme: "bioeconomy",
		Classification: "open", License: "CC-BY-4.0", FileName: "air.csv"}, bytes.NewReader(content))
	must(t, err)
	_, err = fr.catalogue.Publish(ctx, exchange.Publication{ID: "icu-admissions", Title: "ICU admissions", Theme: "health",
		Classification: "sensitive", PersonalData: true, PublicListing: true, FileName: "icu.csv"}, strings.NewReader("a,b\n1,2\n"))
	must(t, err)

	alice := api.User{Subject: "alice@uni-freiburg.de", Role: "researcher", Org: "Universität Freiburg"}
	bob := api.User{Subject: "bob@kit.edu", Role: "researcher", Org: "KIT"}
	const provider = "urn:xborder:fr-grandest"

	var cat dsp.Catalog
	if code := apiCall(t, de, alice, "POST", "/v1/dsp/catalogue", map[string]string{"provider": provider}, &cat); code != 200 {
		t.Fatalf("catalogue: %d %+v", code, cat)
	}
	offers := map[string][]dsp.Offer{}
	for _, d := range cat.Dataset {
		offers[d.ID] = d.HasPolicy
	}
	if len(offers["air-quality"]) == 0 || cat.ParticipantID != provider {
		t.Fatalf("the catalogue lists %v for %s, want air-quality with offers", offers, cat.ParticipantID)
	}

	// Personal health data: refused by Grand Est's policy, with its reasons.
	var refused api.DataspaceError
	code := apiCall(t, de, alice, "POST", "/v1/dsp/negotiations", map[string]any{"provider": provider, "dataset": "icu-admissions", "purpose": "research"}, &refused)
	if code != http.StatusBadGateway || refused.DSPCode != dsp.CodeDenied || !strings.Contains(strings.Join(refused.Reasons, " "), "members of the federation") {
		t.Fatalf("sensitive data: %d %+v, want the provider's refusal with its reasons", code, refused)
	}

	var agreed api.DataspaceNegotiation
	if code := apiCall(t, de, alice, "POST", "/v1/dsp/negotiations", map[string]any{"provider": provider, "dataset": "air-quality", "purpose": "research"}, &agreed); code != http.StatusCreated || agreed.State != "FINALIZED" || agreed.Agreement == "" {
		t.Fatalf("open data: %d %+v", code, agreed)
	}
	var other []byte
	if code := apiCall(t, de, bob, "GET", "/v1/dsp/negotiations/"+agreed.PID, nil, &other); code != http.StatusNotFound {
		t.Fatalf("another researcher reads alice's negotiation: %d %s", code, other)
	}

	// The provider restarts: the agreement it finalised is still in force.
	must(t, fr.Close())
	fr = f.start(0)

	var tr api.DataspaceTransfer
	if code := apiCall(t, de, alice, "POST", "/v1/dsp/transfers", map[string]any{"agreement": agreed.Agreement}, &tr); code != http.StatusCreated || tr.State != "COMPLETED" {
		t.Fatalf("transfer after the provider's restart: %d %+v", code, tr)
	}
	sum := sha256.Sum256(content)
	if tr.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("sha256 %s, want %x", tr.SHA256, sum)
	}
	var got []byte
	if code := apiCall(t, de, alice, "GET", "/v1/dsp/transfers/"+tr.PID+"/content", nil, &got); code != 200 || !bytes.Equal(got, content) {
		t.Fatalf("content: %d %q", code, got)
	}
	if code := apiCall(t, de, bob, "GET", "/v1/dsp/transfers/"+tr.PID+"/content", nil, &other); code != http.StatusNotFound {
		t.Fatalf("another researcher downloads alice's file: %d", code)
	}
	// The provider's side: the negotiation and the transfer, completed.
	testkit.Eventually(t, 20*time.Second, "the provider sees the transfer completed", func() bool {
		ts, err := fr.dsp.Transfers()
		return err == nil && len(ts) == 1 && ts[0].State == dsp.TPCompleted && ts[0].BytesServed == int64(len(content))
	})
}

// The compatibility kit's provider cases that a node answers by its own
// policy alone (no operator in the loop), against a running node.
func TestCompatibilityKitAgainstANode(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	must(t, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	must(t, err)
	const kitID = "urn:tck:consumer"
	f := dataspaceFed(t, []string{"fr-grandest"}, func(int) []dsp.ParticipantConfig {
		return []dsp.ParticipantConfig{{ID: kitID, Country: "DE", Org: "Compatibility kit",
			PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}}
	})
	fr := f.start(0)
	ctx := context.Background()
	publish := func(id, classification string, personal bool) {
		_, err := fr.catalogue.Publish(ctx, exchange.Publication{ID: id, Title: id, Theme: "health", Classification: classification,
			PersonalData: personal, PublicListing: true, FileName: id + ".csv"}, strings.NewReader("id,value\n1,"+id+"\n"))
		must(t, err)
	}
	cfg := dsptck.DefaultConfig("http://"+fr.APIAddr()+"/dsp", "urn:xborder:fr-grandest")
	signer := dsp.NewSigner(kitID, priv, time.Now)
	cfg.Token = func(aud string) (string, error) { return signer.Token(aud, 2*time.Minute) }
	cfg.ValidateSchema = func(name string, doc []byte) error {
		s, ok := dspschema.ForType(name)
		if name == "ProtocolVersion" {
			s, ok = dspschema.ProtocolVersion, true
		}
		if !ok {
			return fmt.Errorf("no schema for %s", name)
		}
		return dspschema.Validate(s, doc)
	}
	cfg.Only = []string{"MET:01-01", "CAT:01-01", "CAT:01-02", "CAT:01-03", "CN:01-01", "CN:01-02", "CN:01-03", "CN:01-04",
		"CN:02-01", "CN:02-03", "CN:02-04", "CN:03-01", "CN:03-02", "CN:03-04",
		"TP:02-01", "TP:02-02", "TP:02-03", "TP:03-03", "TP:03-04", "TP:03-05", "TP:03-06"}
	offerOf := func(ds string) string { return "urn:xborder:offer:" + ds + ":research" }
	for _, id := range cfg.Only {
		c := dsptck.Case{}
		ds := strings.ToLower(strings.NewReplacer(":", "", "-", "").Replace(id))
		switch {
		case strings.HasPrefix(id, "CAT:01-03"):
			c.DatasetID = "absent-" + ds
		case strings.HasPrefix(id, "CAT"):
			c.DatasetID = ds
			publish(ds, "open", false)
		case id == "CN:02-01":
			c.DatasetID, c.OfferID = ds, "urn:xborder:offer:"+ds+":on-request"
			publish(ds, "sensitive", true)
		case id == "CN:01-04" || id == "CN:02-03" || id == "CN:03-01":
			c.DatasetID, c.OfferID = ds, offerOf(ds)
			publish(ds, "open", false)
		case strings.HasPrefix(id, "CN"):
			c.DatasetID, c.OfferID = ds, "CD123:"+ds+":456"
			publish(ds, "open", false)
		case strings.HasPrefix(id, "TP"):
			c.Format, c.NegotiateFor = dsp.FormatHTTPPull, dsptck.OfferRef{DatasetID: ds, OfferID: offerOf(ds)}
			publish(ds, "open", false)
		}
		if id != "MET:01-01" {
			cfg.Cases[id] = c
		}
	}
	dsptck.Run(t, cfg)
}
