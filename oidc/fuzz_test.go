package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"testing"
	"time"
)

// FuzzCallback feeds arbitrary redirect queries through the callback's
// handling: parsing, then the exchange. Nothing panics, every refusal is a
// known one, and no state this party did not issue reaches the issuer.
func FuzzCallback(f *testing.F) {
	for _, s := range []string{"code=c&state=s", "error=access_denied", "code=%ff&state=%00", "state=a&state=b&code=c",
		"code=" + randomToken() + "&state=" + randomToken(), "error=x&error_description=%e2%80%ae", ";;&&=="} {
		f.Add(s)
	}
	tp := newTestProvider(f, testRedirect)
	cfg := testConfig(f, tp.Issuer(), testRedirect)
	rp, err := New(context.Background(), cfg, Deps{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		cb, err := ParseCallback(q)
		if err != nil {
			if !errors.Is(err, ErrBadCallback) && !errors.Is(err, ErrProviderDenied) {
				t.Fatalf("%q: unexpected error %v", raw, err)
			}
			return
		}
		_, err = rp.Exchange(context.Background(), cb.Code, cb.State)
		if !errors.Is(err, ErrStateUnknown) && !errors.Is(err, ErrBadCallback) {
			t.Fatalf("%q: a state never issued must be refused as unknown, got %v", raw, err)
		}
	})
}

// FuzzClaims reads arbitrary claim sets into an Identity: no panic, and
// every list holds only non-empty strings.
func FuzzClaims(f *testing.F) {
	for _, s := range []string{`{"email":"a@b","groups":["x",1,null,""],"eduperson_entitlement":"urn:x"}`,
		`{"email":7,"eduperson_scoped_affiliation":{"a":1}}`, `{}`, `{"email":""}`} {
		f.Add(s, "sub")
	}
	rp := &RelyingParty{cfg: DefaultConfig(), log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, raw, sub string) {
		var all map[string]any
		if json.Unmarshal([]byte(raw), &all) != nil {
			return
		}
		id, err := rp.fromClaims("https://idp.example", sub, time.Now(), all)
		if err != nil {
			if !errors.Is(err, ErrMissingClaim) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		for _, l := range [][]string{id.Groups, id.Entitlements, id.Affiliation} {
			for _, s := range l {
				if s == "" {
					t.Fatalf("an empty string in a list: %+v", id)
				}
			}
		}
	})
}
