// Package oidc is the node as an OpenID Connect relying party: researchers
// sign in with their own institution's identity provider (Keycloak,
// LemonLDAP::NG, Azure AD, an eduGAIN proxy, LS Login) through the
// authorisation code flow with PKCE, state and nonce, and API clients
// present JWT access tokens that issuer signed.
//
// One RelyingParty serves one issuer. It discovers the issuer's endpoints
// and keys (github.com/coreos/go-oidc/v3; the JWKS is fetched again when a
// token names a key it does not know, so the issuer may rotate its keys),
// keeps each login's state, nonce and PKCE verifier in a bounded in-memory
// table where each is used once, and turns a verified token into an
// Identity: issuer, subject and the claims the configuration names.
//
// DeviceLogin is the other side: a tool without a browser (the CLI)
// signing its user in with the device authorization grant (RFC 8628).
//
// Which identity may do what is not decided here: the identity's claims go
// to the policy (data.xborder.api.role, data.xborder.api.allow). Every
// refusal is a *RefusedError that wraps one of the Err* sentinels, so a
// caller both audits the reason and answers with it.
package oidc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is one issuer a node trusts to say who its users are.
type Config struct {
	// Name is how the console and the audit trail name the issuer
	// ("uni-freiburg", "ls-login").
	Name string `json:"name" yaml:"name"`
	// DisplayName is what the console's sign-in button says ("Universität
	// Freiburg"); empty: Name.
	DisplayName string `json:"display_name,omitempty" yaml:"display_name,omitempty"`
	// Issuer is the issuer's URL exactly as its discovery document and its
	// tokens' "iss" say it.
	Issuer string `json:"issuer" yaml:"issuer"`
	// ClientID is the node's client id at the issuer; ID tokens must name
	// it as their audience.
	ClientID string `json:"client_id" yaml:"client_id"`
	// ClientSecretFile holds the client secret (one line); empty for a
	// public client, which then relies on PKCE alone.
	ClientSecretFile string `json:"client_secret_file,omitempty" yaml:"client_secret_file,omitempty"`
	// RedirectURL is the node's callback the issuer sends the browser back
	// to, registered at the issuer.
	RedirectURL string `json:"redirect_url,omitempty" yaml:"redirect_url,omitempty"`
	// Scopes asked for; "openid" is always among them.
	Scopes []string `json:"scopes,omitempty" yaml:"scopes,omitempty"`
	// AccessTokenAudience is the "aud" an API client's access token must
	// carry; empty means ClientID.
	AccessTokenAudience string `json:"access_token_audience,omitempty" yaml:"access_token_audience,omitempty"`
	// CAFile, when set, is a PEM file of certificate authorities trusted
	// for the issuer's HTTPS besides the system's: an issuer under a
	// region's own CA.
	CAFile string `json:"ca_file,omitempty" yaml:"ca_file,omitempty"`
	// DeviceClientID is the public client `xborder login` signs in with
	// through the device authorisation grant (RFC 8628); empty: the
	// issuer offers no CLI sign-in.
	DeviceClientID string `json:"device_client_id,omitempty" yaml:"device_client_id,omitempty"`
	// Claims names the claims an Identity is read from.
	Claims ClaimNames `json:"claims" yaml:"claims,omitempty"`
	// LoginTTL bounds the time between the redirect to the issuer and the
	// callback: a state older than that is refused.
	LoginTTL time.Duration `json:"login_ttl" yaml:"login_ttl,omitempty"`
	// MaxPendingLogins bounds the table of logins under way, so that a
	// flood of sign-in starts cannot exhaust the node's memory.
	MaxPendingLogins int `json:"max_pending_logins" yaml:"max_pending_logins,omitempty"`
	// ClockSkew is the tolerance for an "iat" or "nbf" slightly in the
	// future (the issuer's clock ahead of ours).
	ClockSkew time.Duration `json:"clock_skew" yaml:"clock_skew,omitempty"`
}

// ClaimNames says which claims of a token carry what. Issuers differ:
// Keycloak puts groups in "groups", eduGAIN proxies and LS Login put
// eduPersonEntitlement in "eduperson_entitlement" and
// eduPersonScopedAffiliation in "eduperson_scoped_affiliation".
type ClaimNames struct {
	Email        string `json:"email" yaml:"email,omitempty"`
	Name         string `json:"name" yaml:"name,omitempty"`
	Groups       string `json:"groups" yaml:"groups,omitempty"`
	Entitlements string `json:"entitlements" yaml:"entitlements,omitempty"`
	Affiliation  string `json:"affiliation" yaml:"affiliation,omitempty"`
	// Required are claims a token must carry (besides "sub", always
	// required); a token without one is refused with ErrMissingClaim.
	Required []string `json:"required" yaml:"required,omitempty"`
}

// DefaultConfig returns the defaults; Name, Issuer, ClientID and
// RedirectURL are the operator's to fill in.
func DefaultConfig() Config {
	return Config{
		Scopes: []string{"openid", "email", "profile"},
		Claims: ClaimNames{
			Email:        "email",
			Name:         "name",
			Groups:       "groups",
			Entitlements: "eduperson_entitlement",
			Affiliation:  "eduperson_scoped_affiliation",
			Required:     []string{"email"},
		},
		LoginTTL:         10 * time.Minute,
		MaxPendingLogins: 10000,
		ClockSkew:        time.Minute,
	}
}

// WithDefaults fills the fields left empty with DefaultConfig's values:
// a configuration file names only what differs.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if len(c.Scopes) == 0 {
		c.Scopes = d.Scopes
	}
	fill := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	fill(&c.Claims.Email, d.Claims.Email)
	fill(&c.Claims.Name, d.Claims.Name)
	fill(&c.Claims.Groups, d.Claims.Groups)
	fill(&c.Claims.Entitlements, d.Claims.Entitlements)
	fill(&c.Claims.Affiliation, d.Claims.Affiliation)
	if c.Claims.Required == nil {
		c.Claims.Required = d.Claims.Required
	}
	if c.LoginTTL == 0 {
		c.LoginTTL = d.LoginTTL
	}
	if c.MaxPendingLogins == 0 {
		c.MaxPendingLogins = d.MaxPendingLogins
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = d.ClockSkew
	}
	return c
}

// Label is how people see the issuer: DisplayName, or Name.
func (c Config) Label() string {
	if c.DisplayName != "" {
		return c.DisplayName
	}
	return c.Name
}

// Validate says what is wrong with a configuration, naming the field.
func (c Config) Validate() error {
	var errs []error
	if !validName(c.Name) {
		errs = append(errs, fmt.Errorf("oidc: name %q must be 1 to 64 lower-case letters, digits and dashes", c.Name))
	}
	if u, err := url.Parse(c.Issuer); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, fmt.Errorf("oidc %s: issuer %q is not an absolute URL", c.Name, c.Issuer))
	} else if u.Scheme != "https" && !isLoopback(u.Hostname()) {
		// Tokens and secrets cross this connection: plain HTTP only to a
		// provider on this machine (tests, a local Keycloak).
		errs = append(errs, fmt.Errorf("oidc %s: issuer %q must use https", c.Name, c.Issuer))
	}
	if c.ClientID == "" {
		errs = append(errs, fmt.Errorf("oidc %s: client_id is empty", c.Name))
	}
	if u, err := url.Parse(c.RedirectURL); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, fmt.Errorf("oidc %s: redirect_url %q is not an absolute URL", c.Name, c.RedirectURL))
	}
	if c.CAFile != "" {
		if _, err := c.rootCAs(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ClientSecretFile != "" {
		if _, err := os.Stat(c.ClientSecretFile); err != nil {
			errs = append(errs, fmt.Errorf("oidc %s: client_secret_file: %w", c.Name, err))
		}
	}
	if c.LoginTTL <= 0 {
		errs = append(errs, fmt.Errorf("oidc %s: login_ttl must be positive", c.Name))
	}
	if c.MaxPendingLogins <= 0 {
		errs = append(errs, fmt.Errorf("oidc %s: max_pending_logins must be positive", c.Name))
	}
	if c.ClockSkew < 0 || c.ClockSkew > 10*time.Minute {
		errs = append(errs, fmt.Errorf("oidc %s: clock_skew must be between 0 and 10m", c.Name))
	}
	if c.Claims.Email == "" && contains(c.Claims.Required, "email") {
		errs = append(errs, fmt.Errorf("oidc %s: email is required but claims.email names no claim", c.Name))
	}
	return errors.Join(errs...)
}

func (c Config) scopes() []string {
	out := []string{"openid"}
	for _, s := range c.Scopes {
		if s != "openid" && s != "" && !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (c Config) accessAudience() string {
	if c.AccessTokenAudience != "" {
		return c.AccessTokenAudience
	}
	return c.ClientID
}

// rootCAs is the system's pool with CAFile's certificates added.
func (c Config) rootCAs() (*x509.CertPool, error) {
	b, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("oidc %s: ca_file: %w", c.Name, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("oidc %s: ca_file %s holds no PEM certificate", c.Name, c.CAFile)
	}
	return pool, nil
}

// httpClient is the client that reaches the issuer: 30 s per request,
// trusting CAFile's authorities too.
func (c Config) httpClient() (*http.Client, error) {
	if c.CAFile == "" {
		return &http.Client{Timeout: 30 * time.Second}, nil
	}
	pool, err := c.rootCAs()
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: 30 * time.Second, Transport: t}, nil
}

// readSecret reads the client secret from its file (trailing newline and
// spaces dropped).
func (c Config) readSecret() (string, error) {
	if c.ClientSecretFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(c.ClientSecretFile)
	if err != nil {
		return "", fmt.Errorf("oidc %s: client secret: %w", c.Name, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("oidc %s: client secret file %s is empty", c.Name, c.ClientSecretFile)
	}
	return s, nil
}

// validName keeps names safe in a URL path, a cookie and the audit trail.
func validName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
