//go:build testnet

package testnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/oidc"
)

// The identity provider container (testnet/cmd/idp) as testnet.sh and
// docker-compose.yml set it up.
const (
	idpIssuer   = "https://idp:8443"
	idpHostPort = "127.0.0.1:17443"
	idpName     = "eucor-idp" // its name in each node's identity_providers
	idpCLI      = "xborder-cli"
)

// An identity provider's user, as testnet/cmd/idp defines them.
type idpUser struct{ username, password, sub, email string }

var (
	anna    = idpUser{"anna", "anna-testnet", "u-anna", "anna.becker@uni-freiburg.de"}        // staff@uni-freiburg.de
	camille = idpUser{"camille", "camille-testnet", "u-camille", "camille.martin@unistra.fr"} // staff@unistra.fr
	lea     = idpUser{"lea", "lea-testnet", "u-lea", "lea.petit@etu.unistra.fr"}              // student@unistra.fr
)

// browser is an HTTP client that reaches the testnet by the names the
// nodes and the provider give each other (http://NAME:7401,
// https://idp:8443) through their ports published on the host, trusts
// the testnet's CA alone, and keeps its cookies: what a person's browser
// on the network would do.
func browser(t *testing.T) *http.Client {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(stateDir, "idp", "ca.pem"))
	if err != nil {
		t.Fatalf("no identity provider in the testnet state (%v): run `make testnet-down` and `make testnet`", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		t.Fatal("idp/ca.pem holds no certificate")
	}
	hosts := map[string]string{"idp:8443": idpHostPort}
	for _, m := range members {
		hosts[m.Name+":7401"] = fmt.Sprintf("127.0.0.1:%d", m.Port)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			to, ok := hosts[addr]
			if !ok {
				return nil, fmt.Errorf("%s is not on the testnet", addr)
			}
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, to)
		}}}
}

// page is an HTML answer: where the browser ended up and what it shows.
type page struct {
	status int
	url    *url.URL
	body   string
}

func (p page) has(id string) bool { return strings.Contains(p.body, `id="`+id+`"`) }

// text is the text of the element with that id (the first tag's content).
func (p page) text(id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(strings.TrimSpace(m[1]))
}

func visit(t *testing.T, c *http.Client, req *http.Request) page {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, url: resp.Request.URL, body: string(b)}
}

func getPage(t *testing.T, c *http.Client, u string) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return visit(t, c, req)
}

func postPage(t *testing.T, c *http.Client, u string, form url.Values) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return visit(t, c, req)
}

// consoleSignIn plays a person at a node's console: the sign-in page
// lists the provider, its button leads to the provider's login page,
// whose form sends the browser back to the node's callback with a code.
// It returns the callback's answer.
func consoleSignIn(t *testing.T, c *http.Client, nodeName string, u idpUser) page {
	t.Helper()
	base := "http://" + nodeName + ":7401"
	p := getPage(t, c, base+"/console/signin")
	if p.status != http.StatusOK || !p.has("signin-"+idpName) {
		t.Fatalf("%s's sign-in page (%d) lists no %s button: %.400s", nodeName, p.status, idpName, p.body)
	}
	p = getPage(t, c, base+"/console/signin/"+idpName)
	if p.status != http.StatusOK || p.url.Host != "idp:8443" || p.url.Path != "/login" || !p.has("username") {
		t.Fatalf("%s's sign-in button led to %s (%d), not the provider's login page: %.400s", nodeName, p.url, p.status, p.body)
	}
	p = postPage(t, c, idpIssuer+"/login", url.Values{"authRequestID": {p.url.Query().Get("authRequestID")},
		"username": {u.username}, "password": {u.password}})
	if p.url.Host != nodeName+":7401" || p.url.Path != "/console/oidc/callback" {
		t.Fatalf("%s's login at the provider ended at %s (%d), not %s's callback: %.400s", u.username, p.url, p.status, nodeName, p.body)
	}
	return p
}

// refusedIdentities are a node's identity.refused audit records since a
// time.
func refusedIdentities(ctx context.Context, n *tnode, since time.Time) ([]string, error) {
	var l struct {
		Records []struct {
			Time    time.Time `json:"time"`
			Details struct {
				Via      string `json:"via"`
				Issuer   string `json:"issuer"`
				Reason   string `json:"reason"`
				Identity *struct {
					Email string `json:"email"`
				} `json:"identity"`
			} `json:"details"`
		} `json:"records"`
	}
	if err := n.get(ctx, "/v1/audit?type=identity.refused&limit=10000", &l); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range l.Records {
		d := r.Details
		if r.Time.Before(since) || d.Identity == nil {
			continue
		}
		out = append(out, d.Via+" "+d.Issuer+" "+d.Identity.Email)
	}
	return out, nil
}

// Scenario 13: researchers sign in across the border with the regions'
// identity provider (the idp container, https://idp:8443). Every node
// lists it; fr-grandest's and de-bw's policies trust its issuer, ch-basel's
// (the shipped one) does not. A Freiburg researcher signs in at Grand Est's
// console and is a researcher there, and signs out through the provider; at
// Basel's console she is refused (403, the page says why) and Basel's audit
// trail records it; a Strasbourg researcher is a researcher at
// Baden-Württemberg's console; a student is refused at Grand Est. Her
// access token from the device grant (the CLI's client, the test approving
// on the provider's device page) is accepted by Grand Est's API and
// refused (403) by Basel's.
func TestScenario13CrossRegionSignIn(t *testing.T) {
	healthy(t, settle)
	ctx := context.Background()
	fr, de, ch := byName(t, "fr-grandest"), byName(t, "de-bw"), byName(t, "ch-basel")
	start := time.Now()
	since := start.Add(-2 * time.Second) // the containers' clocks are the host's
	lap := start
	step := func(what string) {
		t.Logf("%-52s %v", what, time.Since(lap).Round(time.Millisecond))
		lap = time.Now()
	}

	// The provider answers on the network's name (the container may still
	// be starting).
	probe := browser(t)
	testkit.EventuallyNil(t, converge, "the identity provider answers at "+idpIssuer, func() error {
		resp, err := probe.Get(idpIssuer + "/.well-known/openid-configuration")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var d struct {
			Issuer string `json:"issuer"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || d.Issuer != idpIssuer {
			return fmt.Errorf("discovery: %d, issuer %q, %v", resp.StatusCode, d.Issuer, err)
		}
		return nil
	})
	step("provider discovery")

	// Anna (Freiburg) at Grand Est: signed in, a researcher.
	b := browser(t)
	p := consoleSignIn(t, b, "fr-grandest", anna)
	if p.status != http.StatusOK || !p.has("continue") {
		t.Fatalf("anna at fr-grandest: %d, %q: %.600s", p.status, p.text("signin-error"), p.body)
	}
	home := getPage(t, b, "http://fr-grandest:7401/console/")
	if home.status != http.StatusOK || home.text("user") != idpName+":"+anna.sub || home.text("role") != "researcher" {
		t.Fatalf("anna's console at fr-grandest: %d, user %q, role %q", home.status, home.text("user"), home.text("role"))
	}
	step("anna signs in at fr-grandest (researcher)")

	// She signs out: the node ends her session and sends her through the
	// provider's end-session back to its sign-in page.
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(home.body)
	if csrf == nil {
		t.Fatal("no csrf token on the console's page")
	}
	p = postPage(t, b, "http://fr-grandest:7401/console/signout", url.Values{"csrf": {html.UnescapeString(csrf[1])}})
	// The node answers with a page of its own that moves on to the
	// provider's end-session (a form's redirect to another origin is
	// stopped by the console's form-action 'self'); a browser follows it.
	next := regexp.MustCompile(`id="continue" href="([^"]+)"`).FindStringSubmatch(p.body)
	if p.status != http.StatusOK || next == nil || !strings.HasPrefix(html.UnescapeString(next[1]), idpIssuer+"/") {
		t.Fatalf("sign-out at fr-grandest (%d) does not move on to the provider: %.400s", p.status, p.body)
	}
	p = getPage(t, b, html.UnescapeString(next[1]))
	if p.status != http.StatusOK || p.url.Host != "fr-grandest:7401" || p.url.Path != "/console/signin" || p.url.Query().Get("ok") != "signed_out" {
		t.Fatalf("sign-out ended at %s (%d): %.400s", p.url, p.status, p.body)
	}
	if p = getPage(t, b, "http://fr-grandest:7401/console/"); p.has("user") {
		t.Fatalf("after sign-out the console still shows %q", p.text("user"))
	}
	step("anna signs out through the provider")

	// At Basel, whose policy does not trust the provider: refused, and
	// the page says why.
	p = consoleSignIn(t, browser(t), "ch-basel", anna)
	msg := p.text("signin-error")
	if p.status != http.StatusForbidden || !strings.Contains(msg, anna.email) || !strings.Contains(msg, "may not use this node") {
		t.Fatalf("anna at ch-basel: %d, %q; want 403 saying she may not use this node", p.status, msg)
	}
	t.Logf("ch-basel refuses anna: %s", msg)
	step("anna refused at ch-basel (403)")

	// Camille (Strasbourg) at Baden-Württemberg: a researcher.
	b = browser(t)
	if p = consoleSignIn(t, b, "de-bw", camille); p.status != http.StatusOK {
		t.Fatalf("camille at de-bw: %d, %q", p.status, p.text("signin-error"))
	}
	if home = getPage(t, b, "http://de-bw:7401/console/"); home.text("user") != idpName+":"+camille.sub || home.text("role") != "researcher" {
		t.Fatalf("camille's console at de-bw: user %q, role %q", home.text("user"), home.text("role"))
	}
	step("camille signs in at de-bw (researcher)")

	// Léa, a student: the provider vouches for her, the policy gives a
	// student no role.
	p = consoleSignIn(t, browser(t), "fr-grandest", lea)
	if msg := p.text("signin-error"); p.status != http.StatusForbidden || !strings.Contains(msg, lea.email) {
		t.Fatalf("lea at fr-grandest: %d, %q; want 403", p.status, msg)
	}
	step("lea (student) refused at fr-grandest (403)")

	// Anna's access token from the device grant, the test approving on the
	// provider's device page as she would in her browser.
	dev := browser(t)
	tok, err := oidc.DeviceLogin(ctx, oidc.DeviceConfig{Issuer: idpIssuer, ClientID: idpCLI, HTTPClient: dev},
		func(pr oidc.DevicePrompt) error {
			p := postPage(t, dev, idpIssuer+"/device", url.Values{"user_code": {pr.UserCode},
				"username": {anna.username}, "password": {anna.password}, "action": {"approve"}})
			if p.status != http.StatusOK || !p.has("result") {
				return fmt.Errorf("device page: %d %.300s", p.status, p.body)
			}
			return nil
		})
	if err != nil {
		t.Fatalf("device login: %v", err)
	}
	step("device grant (xborder-cli), approved by anna")
	if _, err := fr.as(tok.AccessToken).catalogue(ctx, ""); err != nil {
		t.Fatalf("fr-grandest's API refuses anna's access token: %v", err)
	}
	// A researcher may not read the audit trail: the token made her a
	// researcher, no more.
	if err := fr.as(tok.AccessToken).get(ctx, "/v1/audit?limit=1", nil); statusOf(err) != http.StatusForbidden {
		t.Errorf("anna's token at fr-grandest's audit trail: %v; want 403", err)
	}
	err = ch.as(tok.AccessToken).get(ctx, "/v1/catalogue", nil)
	if statusOf(err) != http.StatusForbidden || !strings.Contains(err.Error(), "may do nothing at this node") {
		t.Fatalf("ch-basel's API answered anna's access token with %v; want 403", err)
	}
	t.Logf("ch-basel's API: %v", err)
	step("her token: fr-grandest 200, ch-basel 403")

	// The trails: Basel's records the refused sign-in (and the refused
	// token), Grand Est's the sign-in, Baden-Württemberg's Camille's.
	testkit.EventuallyNil(t, converge, "ch-basel audits anna's refusals", func() error {
		got, err := refusedIdentities(ctx, ch, since)
		if err != nil {
			return err
		}
		for _, want := range []string{"console " + idpName + " " + anna.email, "api " + idpName + " " + anna.email} {
			if !strings.Contains(strings.Join(got, "\n"), want) {
				return fmt.Errorf("no identity.refused record %q among %q", want, got)
			}
		}
		return nil
	})
	for _, c := range []struct {
		n     *tnode
		email string
	}{{fr, anna.email}, {de, camille.email}} {
		testkit.EventuallyNil(t, converge, c.n.Name+" audits the sign-in of "+c.email, func() error {
			var l struct {
				Records []struct {
					Time    time.Time `json:"time"`
					Details struct {
						Method string `json:"method"`
						Issuer string `json:"issuer"`
						Email  string `json:"email"`
					} `json:"details"`
				} `json:"records"`
			}
			if err := c.n.get(ctx, "/v1/audit?type=console.signin&limit=10000", &l); err != nil {
				return err
			}
			for _, r := range l.Records {
				if d := r.Details; !r.Time.Before(since) && d.Method == "oidc" && d.Issuer == idpName && d.Email == c.email {
					return nil
				}
			}
			return fmt.Errorf("no console.signin record of %s among %d", c.email, len(l.Records))
		})
	}
	step("audit records")
	t.Logf("scenario 13: %v", time.Since(start).Round(time.Millisecond))
}
