// Package oidctest is a real OpenID provider for tests, demos and the
// testnet: zitadel's op package (discovery, authorisation code flow with
// PKCE, token endpoint, JWKS, end-session, device authorization grant)
// over the storage of its example server, with the users, clients and
// claims the caller chooses, a real login page, a device approval page,
// JWT access tokens carrying the users' claims, and a signing key that can
// be rotated.
//
// It keeps everything in memory and changes no global state: a test may run
// several providers side by side. It is not meant for production: the
// passwords are kept in plain text.
package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// User is someone who can sign in. Claims go into the ID token and the
// JWT access token as they are ("email", "name", "groups",
// "eduperson_entitlement", "eduperson_scoped_affiliation", ...); "sub" is
// the ID.
type User struct {
	ID       string
	Username string
	Password string
	Claims   map[string]any
}

// Client is a relying party registered at the provider.
type Client struct {
	ID string
	// Secret makes it a confidential client (client_secret_basic or
	// client_secret_post); empty makes it a public one (PKCE only).
	Secret string
	// RedirectURIs are the callbacks of the authorisation code flow.
	RedirectURIs []string
	// PostLogoutRedirectURIs are where the end-session endpoint may send
	// the browser back to.
	PostLogoutRedirectURIs []string
	// Device allows the device authorization grant (RFC 8628) too.
	Device bool
}

// Config is a provider's users, clients and settings.
type Config struct {
	// Issuer is the provider's URL; empty means the URL of the loopback
	// server Start runs it on. New requires it.
	Issuer  string
	Users   []User
	Clients []Client
	// Logger receives the provider's own lines (sign-ins, device
	// approvals); nil discards them. (zitadel's op package logs request
	// errors to slog.Default, which this package leaves alone.)
	Logger *slog.Logger
	// DevicePollInterval is the interval the device authorization
	// response tells the device to poll at; 0 means 5 s. The protocol
	// counts whole seconds: it is rounded up to at least 1 s.
	DevicePollInterval time.Duration
	// DeviceCodeLifetime is how long a device code may be approved; 0
	// means 5 minutes.
	DeviceCodeLifetime time.Duration
	// TokenLifetime is the ID token's lifetime; 0 means 1 hour. (Access
	// tokens live 5 minutes and refresh tokens 5 hours, as in the example
	// storage. A refresh token is issued when the scope offline_access is
	// asked for, to every client, device clients too; it is rotated at
	// each use, and revoked at the revocation endpoint or by
	// RevokeRefreshTokens.)
	TokenLifetime time.Duration
}

// Paths of the pages the provider serves besides the op's endpoints.
const (
	LoginPath     = "/login"
	DevicePath    = "/device"
	LoggedOutPath = "/logged-out"
)

// Provider is a running OpenID provider.
type Provider struct {
	issuer string
	op     *op.Provider
	store  *store
	srv    *httptest.Server // nil when the caller serves Handler
	mux    *http.ServeMux
	log    *slog.Logger
}

// Start runs a provider on a loopback server with an ephemeral port; the
// issuer is that server's URL unless cfg.Issuer says otherwise. Close
// stops it.
func Start(cfg Config) (*Provider, error) {
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	if cfg.Issuer == "" {
		cfg.Issuer = srv.URL
	}
	p, err := New(cfg)
	if err != nil {
		srv.Close()
		return nil, err
	}
	h = p.Handler()
	p.srv = srv
	return p, nil
}

// New prepares a provider for the caller to serve with Handler at
// cfg.Issuer (the testnet's identity provider container).
func New(cfg Config) (*Provider, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("oidctest: issuer %q is not an absolute URL", cfg.Issuer)
	}
	issuer := strings.TrimSuffix(cfg.Issuer, "/")
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	users := &userStore{byID: map[string]*User{}, byName: map[string]*User{}}
	for i := range cfg.Users {
		usr := cfg.Users[i]
		if usr.ID == "" || usr.Username == "" {
			return nil, fmt.Errorf("oidctest: user %d needs an id and a username", i)
		}
		if users.byID[usr.ID] != nil || users.byName[usr.Username] != nil {
			return nil, fmt.Errorf("oidctest: user %q or %q given twice", usr.ID, usr.Username)
		}
		users.byID[usr.ID], users.byName[usr.Username] = &usr, &usr
	}
	exampleClients := map[string]*storage.Client{}
	clients := map[string]*client{}
	for _, c := range cfg.Clients {
		if c.ID == "" {
			return nil, errors.New("oidctest: a client needs an id")
		}
		if clients[c.ID] != nil {
			return nil, fmt.Errorf("oidctest: client %q given twice", c.ID)
		}
		clients[c.ID] = &client{Client: c, issuer: issuer, idLifetime: cfg.TokenLifetime}
		// The example storage checks secrets and stores device codes
		// against its own table of clients; the op is given ours.
		exampleClients[c.ID] = storage.WebClient(c.ID, c.Secret, c.RedirectURIs...)
	}
	first, err := NewKey("")
	if err != nil {
		return nil, err
	}
	st := &store{
		Storage:   storage.NewStorageWithClients(users, exampleClients),
		users:     users,
		clients:   clients,
		signing:   first,
		published: []*Key{first},
	}
	poll := cfg.DevicePollInterval
	if poll <= 0 {
		poll = 5 * time.Second
	}
	poll = (poll + time.Second - 1).Truncate(time.Second) // whole seconds, rounded up
	lifetime := cfg.DeviceCodeLifetime
	if lifetime <= 0 {
		lifetime = 5 * time.Minute
	}
	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:])
	opCfg := &op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: LoggedOutPath,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedClaims:          op.DefaultSupportedClaims,
		SupportedUILocales:       []language.Tag{language.English},
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime:     lifetime,
			PollInterval: poll,
			UserFormPath: DevicePath,
			UserCode:     op.UserCodeBase20,
		},
	}
	opts := []op.Option{op.WithLogger(log)}
	if u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	o, err := op.NewProvider(opCfg, st, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidctest: %w", err)
	}
	p := &Provider{issuer: issuer, op: o, store: st, mux: http.NewServeMux(), log: log}
	p.mux.HandleFunc(LoginPath, p.login)
	p.mux.HandleFunc(DevicePath, p.device)
	p.mux.HandleFunc(LoggedOutPath, func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusOK, pageLoggedOut, nil)
	})
	p.mux.Handle("/", o)
	return p, nil
}

// Handler serves the provider: the op's endpoints and the login, device
// and logged-out pages.
func (p *Provider) Handler() http.Handler { return p.mux }

// Issuer is the provider's issuer URL (no trailing slash).
func (p *Provider) Issuer() string { return p.issuer }

// Close stops the server Start started; for New, it does nothing.
func (p *Provider) Close() {
	if p.srv != nil {
		p.srv.Close()
	}
}

// RotateKey makes a new key the signing key and returns it; keepOld
// keeps the previous keys in the JWKS (a graceful rotation), otherwise
// they leave it at once.
func (p *Provider) RotateKey(keepOld bool) *Key {
	k, err := NewKey("")
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	s := p.store
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signing = k
	if keepOld {
		s.published = append([]*Key{k}, s.published...)
	} else {
		s.published = []*Key{k}
	}
	return k
}

// RevokeRefreshTokens ends the sessions of a user at a client, as an
// administrator at a real provider would: the refresh tokens (and access
// token records) issued to that client for the user are forgotten, and
// redeeming one is refused with invalid_grant.
func (p *Provider) RevokeRefreshTokens(userID, clientID string) {
	_ = p.store.TerminateSession(context.Background(), userID, clientID) // the example storage's never fails
}

// CurrentKey is the key the provider signs with now.
func (p *Provider) CurrentKey() *Key {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	return p.store.signing
}

// SignWithCurrentKey signs claims as the provider would: a token one may
// then spoil claim by claim (issuer, audience, expiry...).
func (p *Provider) SignWithCurrentKey(claims map[string]any) string {
	return p.CurrentKey().Sign(claims)
}

// SignWithUnpublishedKey signs claims with a fresh key the provider does
// not publish (a forger's), under the kid of the provider's current key
// so that only the signature gives it away.
func (p *Provider) SignWithUnpublishedKey(claims map[string]any) string {
	k, err := NewKey(p.CurrentKey().ID())
	if err != nil {
		panic(err)
	}
	return k.Sign(claims)
}

// Key is an RS256 signing key with its key id.
type Key struct {
	id  string
	key *rsa.PrivateKey
}

// NewKey makes an RSA key (2048 bits) with the id kid, or a random id if
// kid is empty.
func NewKey(kid string) (*Key, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("oidctest: %w", err)
	}
	if kid == "" {
		kid = randomString(9)
	}
	return &Key{id: kid, key: k}, nil
}

// ID is the key's id, the "kid" of its tokens and in the JWKS.
func (k *Key) ID() string { return k.id }

// SignatureAlgorithm, Key and ID make a Key an op.SigningKey.
func (k *Key) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }

// Key is the private key (op.SigningKey).
func (k *Key) Key() any { return k.key }

// Sign signs claims into a compact JWT with typ JWT and the key's kid. It
// panics only if claims do not marshal to JSON (a test's mistake).
func (k *Key) Sign(claims map[string]any) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.id))
	if err != nil {
		panic(err)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Sprintf("oidctest: claims do not marshal: %v", err))
	}
	jws, err := sig.Sign(b)
	if err != nil {
		panic(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return s
}

// publicKey is how the JWKS publishes a Key.
type publicKey struct{ k *Key }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// userStore gives the example storage the configured users.
type userStore struct {
	byID, byName map[string]*User
}

func (u *userStore) GetUserByID(id string) *storage.User { return u.example(u.byID[id]) }
func (u *userStore) GetUserByUsername(name string) *storage.User {
	return u.example(u.byName[name])
}
func (u *userStore) ExampleClientID() string { return "" }

func (u *userStore) example(usr *User) *storage.User {
	if usr == nil {
		return nil
	}
	email, _ := usr.Claims["email"].(string)
	return &storage.User{ID: usr.ID, Username: usr.Username, Password: usr.Password, Email: email,
		EmailVerified: email != "", PreferredLanguage: language.English}
}

// check says whether username and password are a user's.
func (u *userStore) check(username, password string) (*User, bool) {
	usr := u.byName[username]
	if usr == nil || usr.Password != password {
		return nil, false
	}
	return usr, true
}

// client is a configured Client as the op sees it.
type client struct {
	Client
	issuer     string
	idLifetime time.Duration
}

func (c *client) GetID() string                    { return c.ID }
func (c *client) RedirectURIs() []string           { return c.Client.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.Client.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType {
	if c.Secret == "" {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() zoidc.AuthMethod {
	if c.Secret == "" {
		return zoidc.AuthMethodNone
	}
	return zoidc.AuthMethodBasic
}

func (c *client) ResponseTypes() []zoidc.ResponseType {
	return []zoidc.ResponseType{zoidc.ResponseTypeCode}
}

func (c *client) GrantTypes() []zoidc.GrantType {
	g := []zoidc.GrantType{zoidc.GrantTypeCode, zoidc.GrantTypeRefreshToken}
	if c.Device {
		g = append(g, zoidc.GrantTypeDeviceCode)
	}
	return g
}

func (c *client) LoginURL(id string) string {
	return c.issuer + LoginPath + "?authRequestID=" + url.QueryEscape(id)
}

// AccessTokenType is JWT: the node verifies access tokens itself.
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

func (c *client) IDTokenLifetime() time.Duration {
	if c.idLifetime > 0 {
		return c.idLifetime
	}
	return time.Hour
}

// DevMode allows http redirect URIs (the tests' loopback callbacks).
func (c *client) DevMode() bool { return true }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) IsScopeAllowed(string) bool { return false }

func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }

// store is the example storage with the configured clients and claims
// and a signing key that can be rotated.
type store struct {
	*storage.Storage
	users     *userStore
	clients   map[string]*client
	mu        sync.Mutex
	signing   *Key
	published []*Key
}

func (s *store) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("client not found")
	}
	return c, nil
}

func (s *store) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signing, nil
}

func (s *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *store) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]op.Key, 0, len(s.published))
	for _, k := range s.published {
		out = append(out, publicKey{k})
	}
	return out, nil
}

// claimsOf are a user's claims; "sub" is never taken from them.
func (s *store) claimsOf(userID string) map[string]any {
	usr := s.users.byID[userID]
	if usr == nil {
		return nil
	}
	out := make(map[string]any, len(usr.Claims))
	for k, v := range usr.Claims {
		if k != "sub" {
			out[k] = v
		}
	}
	return out
}

// fill puts a user's claims into userinfo (the ID token, the userinfo
// endpoint).
func (s *store) fill(ui *zoidc.UserInfo, userID string) {
	ui.Subject = userID
	for k, v := range s.claimsOf(userID) {
		switch k {
		case "email":
			if e, ok := v.(string); ok {
				ui.Email = e
				continue
			}
		case "name":
			if n, ok := v.(string); ok {
				ui.Name = n
				continue
			}
		case "preferred_username":
			if n, ok := v.(string); ok {
				ui.PreferredUsername = n
				continue
			}
		}
		ui.AppendClaims(k, v)
	}
}

// SetUserinfoFromScopes puts the user's claims into the ID token.
func (s *store) SetUserinfoFromScopes(_ context.Context, ui *zoidc.UserInfo, userID, _ string, _ []string) error {
	s.fill(ui, userID)
	return nil
}

// SetUserinfoFromRequest is called after SetUserinfoFromScopes for the
// ID token; the example's would overwrite the claims with its own.
func (s *store) SetUserinfoFromRequest(_ context.Context, ui *zoidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	s.fill(ui, req.GetSubject())
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint for a token the
// example storage knows.
func (s *store) SetUserinfoFromToken(ctx context.Context, ui *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.fill(ui, ui.Subject)
	return nil
}

// CreateAccessAndRefreshTokens creates the tokens of a grant that comes
// with a refresh token (scope offline_access). The example storage takes
// the client id of a code grant or a refresh from the request, but has
// none for a device grant: its refresh token would then belong to no
// client, and the op refuses to redeem it (invalid_grant). A device
// grant is handed on as the refresh request it is the start of.
func (s *store) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	if d, ok := req.(*op.DeviceAuthorizationState); ok && current == "" {
		req = storage.RefreshTokenRequestFromBusiness(&storage.RefreshToken{ApplicationID: d.ClientID, UserID: d.Subject,
			Audience: d.GetAudience(), Scopes: d.Scopes, AuthTime: d.AuthTime, AMR: d.AMR})
	}
	return s.Storage.CreateAccessAndRefreshTokens(ctx, req, current)
}

// GetPrivateClaimsFromScopes puts the user's claims into the JWT access
// token.
func (s *store) GetPrivateClaimsFromScopes(_ context.Context, userID, _ string, _ []string) (map[string]any, error) {
	return s.claimsOf(userID), nil
}
