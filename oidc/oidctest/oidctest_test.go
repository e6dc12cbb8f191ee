package oidctest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/xborder/xborder/oidc/oidctest"
)

const (
	clientID  = "node"
	secret    = "node-secret"
	callback  = "http://127.0.0.1:9/callback"
	signedOut = "http://127.0.0.1:9/signed-out"
)

var ada = oidctest.User{ID: "u-ada", Username: "ada", Password: "pw-ada", Claims: map[string]any{
	"email": "ada@uni.example", "name": "Ada", "groups": []string{"researchers"},
	"eduperson_entitlement": []string{"urn:x:researchers"}}}

func start(t *testing.T) *oidctest.Provider {
	t.Helper()
	p, err := oidctest.Start(oidctest.Config{Users: []oidctest.User{ada},
		Clients: []oidctest.Client{{ID: clientID, Secret: secret, RedirectURIs: []string{callback}, PostLogoutRedirectURIs: []string{signedOut}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// client is a browser that stops at redirects to 127.0.0.1:9 and
// returns them.
func client(stop *url.URL) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == "127.0.0.1:9" {
			*stop = *req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

func TestCodeFlowLoginPageAndJWTAccessToken(t *testing.T) {
	p := start(t)
	ctx := context.Background()
	prov, err := gooidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	oc := oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: prov.Endpoint(), RedirectURL: callback,
		Scopes: []string{"openid", "email", "profile"}}
	verifier := oauth2.GenerateVerifier()
	var stop url.URL
	c := client(&stop)
	resp, err := c.Get(oc.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	login := resp.Request.URL
	for _, want := range []string{`id="username"`, `id="password"`, `id="submit"`, `<form method="post"`} {
		if !strings.Contains(string(page), want) {
			t.Fatalf("the login page lacks %s: %s", want, page)
		}
	}
	form := url.Values{"authRequestID": {login.Query().Get("authRequestID")}, "username": {"ada"}, "password": {"wrong"}}
	resp, err = c.PostForm(p.Issuer()+oidctest.LoginPath, form)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(page), `id="error"`) || !strings.Contains(string(page), `id="username"`) {
		t.Fatalf("a wrong password: status %d, %s", resp.StatusCode, page)
	}
	form.Set("password", "pw-ada")
	resp, err = c.PostForm(p.Issuer()+oidctest.LoginPath, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if stop.Query().Get("state") != "st4te" || stop.Query().Get("code") == "" {
		t.Fatalf("callback %s", stop.String())
	}
	tok, err := oc.Exchange(ctx, stop.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	v := prov.Verifier(&gooidc.Config{ClientID: clientID})
	rawID, _ := tok.Extra("id_token").(string)
	for name, raw := range map[string]string{"ID token": rawID, "access token": tok.AccessToken} {
		it, err := v.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var cl map[string]any
		_ = it.Claims(&cl)
		if it.Subject != "u-ada" || cl["email"] != "ada@uni.example" || cl["name"] != "Ada" ||
			len(cl["groups"].([]any)) != 1 || len(cl["eduperson_entitlement"].([]any)) != 1 {
			t.Fatalf("%s claims %v", name, cl)
		}
	}

	// RP-initiated logout back to a registered URI.
	stop = url.URL{}
	end := url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {signedOut}, "state": {"bye"}}
	resp, err = c.Get(p.Issuer() + "/end_session?" + end.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if stop.Path != "/signed-out" || stop.Query().Get("state") != "bye" {
		t.Fatalf("end session went to %q (status %d)", stop.String(), resp.StatusCode)
	}
	// An unregistered one is refused.
	end.Set("post_logout_redirect_uri", "https://evil.example/")
	resp, err = c.Get(p.Issuer() + "/end_session?" + end.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("an unregistered post-logout URI: status %d", resp.StatusCode)
	}
}

func TestKeysAndDiscovery(t *testing.T) {
	p := start(t)
	jwks := func() []string {
		var d struct{ DeviceAuth, JWKS string }
		var raw map[string]any
		getJSON(t, p.Issuer()+"/.well-known/openid-configuration", &raw)
		d.DeviceAuth, _ = raw["device_authorization_endpoint"].(string)
		d.JWKS, _ = raw["jwks_uri"].(string)
		if !strings.HasPrefix(d.DeviceAuth, p.Issuer()) || raw["end_session_endpoint"] == nil {
			t.Fatalf("discovery %v", raw)
		}
		var set struct{ Keys []struct{ Kid string } }
		getJSON(t, d.JWKS, &set)
		var ids []string
		for _, k := range set.Keys {
			ids = append(ids, k.Kid)
		}
		return ids
	}
	first := p.CurrentKey().ID()
	if got := jwks(); len(got) != 1 || got[0] != first {
		t.Fatalf("jwks %v, want [%s]", got, first)
	}
	second := p.RotateKey(true).ID()
	if got := jwks(); len(got) != 2 || second == first {
		t.Fatalf("after a rotation keeping the old key: %v", got)
	}
	third := p.RotateKey(false).ID()
	if got := jwks(); len(got) != 1 || got[0] != third || p.CurrentKey().ID() != third {
		t.Fatalf("after a rotation dropping the old keys: %v", got)
	}
}

func TestNewServesAGivenIssuer(t *testing.T) {
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer srv.Close()
	p, err := oidctest.New(oidctest.Config{Issuer: srv.URL + "/", Users: []oidctest.User{ada}})
	if err != nil {
		t.Fatal(err)
	}
	h = p.Handler()
	defer p.Close()
	var d map[string]any
	getJSON(t, srv.URL+"/.well-known/openid-configuration", &d)
	if d["issuer"] != srv.URL || p.Issuer() != srv.URL {
		t.Fatalf("issuer %v, %s", d["issuer"], p.Issuer())
	}
	for _, bad := range []oidctest.Config{{Issuer: ""}, {Issuer: "idp:8080"},
		{Issuer: "http://idp", Users: []oidctest.User{ada, ada}}, {Issuer: "http://idp", Clients: []oidctest.Client{{}}}} {
		if _, err := oidctest.New(bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestPublicClientCodeFlow(t *testing.T) {
	p, err := oidctest.Start(oidctest.Config{Users: []oidctest.User{ada},
		Clients: []oidctest.Client{{ID: "spa", RedirectURIs: []string{callback}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	prov, err := gooidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	ep := prov.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams
	oc := oauth2.Config{ClientID: "spa", Endpoint: ep, RedirectURL: callback, Scopes: []string{"openid"}}
	verifier := oauth2.GenerateVerifier()
	var stop url.URL
	c := client(&stop)
	resp, err := c.Get(oc.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.PostForm(p.Issuer()+oidctest.LoginPath, url.Values{
		"authRequestID": {resp.Request.URL.Query().Get("authRequestID")}, "username": {"ada"}, "password": {"pw-ada"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code := stop.Query().Get("code")
	if code == "" {
		t.Fatalf("callback %s", stop.String())
	}
	// PKCE is what binds the code: without the verifier it is refused.
	if _, err := oc.Exchange(ctx, code); err == nil {
		t.Fatal("a public client's code redeemed without its verifier")
	}
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.Verifier(&gooidc.Config{ClientID: "spa"}).Verify(ctx, tok.AccessToken); err != nil {
		t.Fatalf("the access token: %v", err)
	}
}

func TestPagesRefuseBadInputWith4xx(t *testing.T) {
	p := start(t)
	for _, c := range []struct {
		method, path string
		form         url.Values
		want         int
	}{
		{"GET", oidctest.LoginPath, nil, http.StatusBadRequest},
		{"GET", oidctest.LoginPath + "?authRequestID=nope", nil, http.StatusBadRequest},
		{"POST", oidctest.LoginPath, url.Values{"authRequestID": {strings.Repeat("x", 600)}}, http.StatusBadRequest},
		{"GET", oidctest.DevicePath, nil, http.StatusOK},
		{"POST", oidctest.DevicePath, url.Values{"user_code": {"NOPE-NOPE"}, "username": {"ada"}, "password": {"pw-ada"}}, http.StatusBadRequest},
		{"POST", oidctest.DevicePath, url.Values{"user_code": {"NOPE-NOPE"}, "username": {"ada"}, "password": {"x"}}, http.StatusUnauthorized},
		{"POST", oidctest.DevicePath, url.Values{"user_code": {""}, "username": {"nobody"}}, http.StatusUnauthorized},
		{"PUT", oidctest.DevicePath, nil, http.StatusMethodNotAllowed},
		{"POST", oidctest.DevicePath + "?user_code=%zz", nil, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(c.method, p.Issuer()+c.path, strings.NewReader(c.form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s %v: status %d, want %d", c.method, c.path, c.form, resp.StatusCode, c.want)
		}
	}
}
