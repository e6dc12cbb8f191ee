package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/xborder/xborder/cmd/xborder/internal/tour"
	"github.com/xborder/xborder/node"
	"github.com/xborder/xborder/oidc"
	"github.com/xborder/xborder/oidc/oidctest"
)

// The demo's identity provider stands for the Eucor universities' (the
// Upper Rhine's) institutional login: an OpenID provider in the demo's
// own process, with a few accounts. It is a demonstration provider
// (passwords in the clear, in memory), never a region's.
const (
	demoIdPName     = "eucor"
	demoIdPLabel    = "Eucor universities (demo)"
	demoIdPPassword = "demo"
)

// demoPeople have accounts at the demo provider: a member of staff of the
// University of Strasbourg, a researcher of Freiburg, and a student.
var demoPeople = []struct {
	user, email, name, affiliation string
}{
	{"amelie", "amelie@unistra.fr", "Amélie Schmitt", "staff@unistra.fr"},
	{"jonas", "jonas@uni-freiburg.de", "Jonas Weber", "staff@uni-freiburg.de"},
	{"lea", "lea@unistra.fr", "Léa Muller", "student@unistra.fr"},
}

// demoTrusting are the regions whose policy trusts the Eucor provider: the
// Eucor universities are in France, Germany and Switzerland.
var demoTrusting = map[string]bool{"fr-grandest": true, "de-bw": true, "ch-basel": true}

// startDemoIdP starts the provider with a client for each node's console,
// configures each node to offer it and, in the regions that trust it, a
// policy rule of the region's own saying so.
func startDemoIdP(nodes []*demoNode) (*oidctest.Provider, error) {
	var users []oidctest.User
	for _, p := range demoPeople {
		users = append(users, oidctest.User{ID: p.user, Username: p.user, Password: demoIdPPassword, Claims: map[string]any{
			"email": p.email, "name": p.name, "eduperson_scoped_affiliation": []any{p.affiliation}}})
	}
	var clients []oidctest.Client
	for _, n := range nodes {
		base := apiURL(n.api)
		clients = append(clients, oidctest.Client{ID: "xborder-" + n.name, Secret: "secret-of-" + n.name,
			RedirectURIs:           []string{base + "/console/oidc/callback"},
			PostLogoutRedirectURIs: []string{base + "/console/signin?ok=signed_out"}})
	}
	clients = append(clients, oidctest.Client{ID: "xborder-cli", Device: true})
	idp, err := oidctest.Start(oidctest.Config{Users: users, Clients: clients, DevicePollInterval: time.Second})
	if err != nil {
		return nil, fmt.Errorf("the demo identity provider: %w", err)
	}
	for _, n := range nodes {
		if err := os.WriteFile(filepath.Join(n.dir, "eucor.secret"), []byte("secret-of-"+n.name+"\n"), 0o600); err != nil {
			idp.Close()
			return nil, err
		}
		cfg, err := node.LoadConfig(n.dir)
		if err != nil {
			idp.Close()
			return nil, err
		}
		cfg.IdentityProviders = []oidc.Config{{Name: demoIdPName, DisplayName: demoIdPLabel, Issuer: idp.Issuer(),
			ClientID: "xborder-" + n.name, ClientSecretFile: "eucor.secret", DeviceClientID: "xborder-cli"}}
		if err := node.WriteConfig(n.dir, cfg); err != nil {
			idp.Close()
			return nil, err
		}
		if demoTrusting[n.name] {
			rule := fmt.Sprintf("# This region trusts the Eucor universities' (demo) identity provider.\npackage xborder.api\n\ntrusted_issuers[%q] := %q\n", idp.Issuer(), demoIdPLabel)
			if err := os.WriteFile(filepath.Join(n.dir, cfg.Policies, "local_identity.rego"), []byte(rule), 0o644); err != nil {
				idp.Close()
				return nil, err
			}
		}
	}
	return idp, nil
}

var (
	consoleUser  = regexp.MustCompile(`id="user">([^<]*)<`)
	consoleRole  = regexp.MustCompile(`id="role">([^<]*)<`)
	consoleError = regexp.MustCompile(`id="signin-error">([^<]*)<`)
)

// consoleSignIn signs a person in at n's console as a browser does: the
// console sends it to the provider's login page, the form is filled in,
// the provider sends it back, and the console's first page names the
// session's subject and role, or its sign-in page the refusal.
func consoleSignIn(ctx context.Context, n *demoNode, user, password string) (tour.SignInResult, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(u string) (*http.Response, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, "", err
		}
		req.Header.Set("Accept-Language", "en")
		resp, err := c.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp, string(b), err
	}
	resp, _, err := get(apiURL(n.api) + "/console/signin/" + demoIdPName)
	if err != nil {
		return tour.SignInResult{}, err
	}
	login := resp.Request.URL
	if resp.StatusCode != http.StatusOK || login.Path != oidctest.LoginPath {
		return tour.SignInResult{}, fmt.Errorf("the console did not lead to the provider's login page (%d at %s)", resp.StatusCode, login.Path)
	}
	form := url.Values{"authRequestID": {login.Query().Get("authRequestID")}, "username": {user}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, login.Scheme+"://"+login.Host+oidctest.LoginPath, strings.NewReader(form.Encode()))
	if err != nil {
		return tour.SignInResult{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "en")
	resp, err = c.Do(req)
	if err != nil {
		return tour.SignInResult{}, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if m := consoleError.FindStringSubmatch(string(body)); m != nil {
		return tour.SignInResult{Refused: html.UnescapeString(m[1])}, nil
	}
	if resp.StatusCode != http.StatusOK {
		return tour.SignInResult{}, fmt.Errorf("the sign-in ended with %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}
	_, page, err := get(apiURL(n.api) + "/console/")
	if err != nil {
		return tour.SignInResult{}, err
	}
	u, r := consoleUser.FindStringSubmatch(page), consoleRole.FindStringSubmatch(page)
	if u == nil || r == nil {
		return tour.SignInResult{}, fmt.Errorf("the console's page after the sign-in names no user")
	}
	return tour.SignInResult{Subject: html.UnescapeString(u[1]), Role: html.UnescapeString(r[1])}, nil
}

// demoPerson is a demo account as the tour signs it in.
func demoPerson(i int) tour.Person {
	p := demoPeople[i]
	return tour.Person{User: p.user, Password: demoIdPPassword, Email: p.email, Affiliation: p.affiliation}
}
