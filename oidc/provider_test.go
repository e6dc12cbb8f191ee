package oidc

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/oidc/oidctest"
)

const (
	testClientID = "xborder-node"
	testSecret   = "s3cret-of-the-node"
	// testDeviceClient is a public client of the device authorization
	// grant (a command-line tool).
	testDeviceClient = "xborder-cli"
	testPassword     = "verysecure"
	testSignedOut    = "https://node.example/signed-out"
)

// testUsers are the provider's users: Ada has every claim the node
// reads, test-user2 has no email.
var testUsers = []oidctest.User{
	{ID: "id1", Username: "test-user@127.0.0.1", Password: testPassword, Claims: map[string]any{
		"email":                        "ada@uni-freiburg.de",
		"name":                         "Ada Researcher",
		"eduperson_entitlement":        []string{"urn:geant:lifescience-ri.eu:group:xborder:researchers#aai.lifescience-ri.eu"},
		"eduperson_scoped_affiliation": []string{"member@uni-freiburg.de", "staff@uni-freiburg.de"},
		"groups":                       []string{"xborder-researchers"},
	}},
	{ID: "id2", Username: "test-user2", Password: testPassword, Claims: map[string]any{"name": "No Email"}},
}

// newTestProvider runs a real OpenID provider (package oidctest) on
// loopback with the node's client, a device client and testUsers.
func newTestProvider(t testing.TB, redirect string, edit ...func(*oidctest.Config)) *oidctest.Provider {
	t.Helper()
	cfg := oidctest.Config{
		Users: testUsers,
		Clients: []oidctest.Client{
			{ID: testClientID, Secret: testSecret, RedirectURIs: []string{redirect}, PostLogoutRedirectURIs: []string{testSignedOut}, Device: true},
			{ID: testDeviceClient, Device: true},
		},
		DevicePollInterval: time.Second,
	}
	for _, e := range edit {
		e(&cfg)
	}
	p, err := oidctest.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// browser follows the sign-in from the node's URL, signs in on the
// provider's login page as user (a real form POST), and stops at the
// callback: it returns the callback's query.
func browser(t *testing.T, start, redirect, user string) url.Values {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var got url.Values
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirect) {
				got = req.URL.Query()
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return fmt.Errorf("too many redirects")
			}
			return nil
		}}
	resp, err := c.Get(start)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != nil {
		return got
	}
	login := resp.Request.URL
	if resp.StatusCode != http.StatusOK || !strings.HasSuffix(login.Path, oidctest.LoginPath) {
		t.Fatalf("the sign-in did not reach the login page (status %d at %s)", resp.StatusCode, login)
	}
	resp, err = c.PostForm(login.Scheme+"://"+login.Host+login.Path, url.Values{
		"authRequestID": {login.Query().Get("authRequestID")}, "username": {user}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got == nil {
		t.Fatalf("the sign-in did not come back to %s (status %d at %s)", redirect, resp.StatusCode, resp.Request.URL)
	}
	return got
}

// testConfig is a relying party's configuration for the provider at
// issuer.
func testConfig(t testing.TB, issuer, redirect string) Config {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Name, c.Issuer, c.ClientID, c.ClientSecretFile, c.RedirectURL = "test-idp", issuer, testClientID, secret, redirect
	return c
}
