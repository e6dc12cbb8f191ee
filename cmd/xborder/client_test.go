package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
)

// TestLargeAnswersAreRead: the CLI reads an answer of any size. A node
// whose federation catalogue encodes to over 18 MB (2,000 entries with long descriptions) is
// listed whole; before, the CLI cut the answer at 16 MiB and failed with
// "unexpected end of JSON input".
func TestLargeAnswersAreRead(t *testing.T) {
	const n = 2000
	list := api.CatalogueList{Peers: []exchange.PeerState{{Owner: "de-bw", Version: n}}}
	for i := range n {
		list.Entries = append(list.Entries, exchange.Listing{Entry: exchange.Entry{
			ID: fmt.Sprintf("sensor-%05d", i), Owner: "de-bw", Kind: exchange.KindDataset, Country: "DE", Theme: "industry",
			Classification: "open", Title: fmt.Sprintf("Line sensor %d", i), Description: strings.Repeat("vibration and temperature ", 400),
			Keywords: []string{"sensors"}, Partners: []string{}}})
	}
	answer, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	if len(answer) <= 18<<20 {
		t.Fatalf("the answer is %d bytes; the test needs more than 18 MiB", len(answer))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/catalogue" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"error":"unexpected request","code":400}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
		_, _ = w.Write([]byte("\n"))
	}))
	t.Cleanup(srv.Close)

	code, out, errs := xb(t, "--addr", srv.URL, "--token", "tok", "catalogue", "--json")
	if code != 0 {
		t.Fatalf("catalogue of %d bytes: exit %d: %s", len(answer), code, errs)
	}
	var got api.CatalogueList
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != n || got.Entries[n-1].ID != fmt.Sprintf("sensor-%05d", n-1) || len(got.Peers) != 1 {
		t.Fatalf("got %d entries, last %q", len(got.Entries), got.Entries[len(got.Entries)-1].ID)
	}
}

// TestTrailingDataInAnAnswerIsAnError: the answer is one JSON document.
func TestTrailingDataInAnAnswerIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"entries":[],"peers":[]} {"entries":[]}`))
	}))
	t.Cleanup(srv.Close)
	if code, _, errs := xb(t, "--addr", srv.URL, "--token", "tok", "catalogue", "--json"); code != exitError || !strings.Contains(errs, "more than one JSON document") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}
