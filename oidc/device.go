package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The reasons a device sign-in (DeviceLogin) fails, besides the context's
// own errors (context.Canceled, context.DeadlineExceeded). A
// *RefusedError wraps one of them.
var (
	ErrNoDeviceEndpoint  = errors.New("the identity provider offers no device authorization endpoint")
	ErrDeviceRequest     = errors.New("the identity provider refused the device authorization request")
	ErrDeviceDenied      = errors.New("the user denied the device sign-in")
	ErrDeviceExpired     = errors.New("the device code expired before the user approved it")
	ErrIDTokenNotValid   = errors.New("the identity provider's ID token does not verify")
	errDevicePromptEmpty = errors.New("the identity provider gave no user code or verification URI")
)

// DeviceConfig is a device (a command-line tool, a headless machine)
// signing its user in with the device authorization grant (RFC 8628).
type DeviceConfig struct {
	// Issuer is the identity provider's issuer URL, discovered as in New.
	Issuer string
	// ClientID is the device's client id at the issuer.
	ClientID string
	// ClientSecret is empty for a public client (the usual case for a
	// tool people install).
	ClientSecret string
	// Scopes asked for; "openid" is always among them.
	Scopes []string
	// HTTPClient reaches the issuer; nil means a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// OfflineAccess asks for a refresh token too (the scope
	// offline_access), when the issuer lists that scope among its
	// scopes_supported: some issuers (zitadel) issue refresh tokens only
	// then, and some refuse scopes they do not know.
	OfflineAccess bool
}

// ScopeOfflineAccess is the scope that asks for a refresh token (OpenID
// Connect Core 1.0, 11).
const ScopeOfflineAccess = "offline_access"

// DevicePrompt is what to show the user: go to VerificationURI and enter
// UserCode (or open VerificationURIComplete, which carries the code),
// before ExpiresAt.
type DevicePrompt struct {
	VerificationURI         string
	VerificationURIComplete string
	UserCode                string
	ExpiresAt               time.Time
}

// Token is what a device sign-in obtains. The ID token has been verified
// (signature, issuer, audience, expiry); the access token is for the
// resource servers to verify.
type Token struct {
	AccessToken  string
	IDToken      string
	RefreshToken string
	// Expiry is the access token's.
	Expiry time.Time
	// Scopes are those asked for (the issuer may have granted fewer).
	Scopes []string
}

// discover fetches the issuer's discovery document for the calls a tool
// makes (DeviceLogin, Refresh, Revoke; op names the call in errors),
// with client (nil: one with a 30 s timeout). The context returned
// carries the client for go-oidc's later fetches.
func discover(ctx context.Context, op, issuer string, client *http.Client) (context.Context, *http.Client, *gooidc.Provider, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	ctx = gooidc.ClientContext(ctx, client)
	p, err := gooidc.NewProvider(ctx, issuer)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, nil, fmt.Errorf("oidc: %s: %w", op, ctx.Err())
		}
		return nil, nil, nil, fmt.Errorf("oidc: %s: discovery of %s: %w", op, issuer, err)
	}
	return ctx, client, p, nil
}

// DeviceLogin signs a user in on a device: it discovers the issuer, asks
// for a device code, hands the user code and the verification URI to
// prompt (which shows them and returns at once), then polls the token
// endpoint at the interval the issuer asks for (slowing down when told)
// until the user approves or denies, the code expires, or ctx ends. An
// error of prompt ends the sign-in with that error.
func DeviceLogin(ctx context.Context, cfg DeviceConfig, prompt func(DevicePrompt) error) (Token, error) {
	refuse := func(reason error, err error) error {
		return &RefusedError{Issuer: cfg.Issuer, Reason: reason, Err: err}
	}
	if cfg.ClientID == "" {
		return Token{}, errors.New("oidc: device login: client id is empty")
	}
	ctx, _, p, err := discover(ctx, "device login", cfg.Issuer, cfg.HTTPClient)
	if err != nil {
		return Token{}, err
	}
	ep := p.Endpoint()
	if ep.DeviceAuthURL == "" {
		return Token{}, refuse(ErrNoDeviceEndpoint, nil)
	}
	ep.AuthStyle = authStyle(cfg.ClientSecret)
	scopes := Config{Scopes: cfg.Scopes}.scopes()
	if cfg.OfflineAccess && !contains(scopes, ScopeOfflineAccess) {
		var meta struct {
			ScopesSupported []string `json:"scopes_supported"`
		}
		if p.Claims(&meta) == nil && contains(meta.ScopesSupported, ScopeOfflineAccess) {
			scopes = append(scopes, ScopeOfflineAccess)
		}
	}
	oc := oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: ep, Scopes: scopes}
	da, err := oc.DeviceAuth(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return Token{}, fmt.Errorf("oidc: device login: %w", ctx.Err())
		}
		return Token{}, refuse(ErrDeviceRequest, err)
	}
	if da.UserCode == "" || da.VerificationURI == "" || da.DeviceCode == "" {
		return Token{}, refuse(ErrDeviceRequest, errDevicePromptEmpty)
	}
	if err := prompt(DevicePrompt{VerificationURI: da.VerificationURI, VerificationURIComplete: da.VerificationURIComplete,
		UserCode: da.UserCode, ExpiresAt: da.Expiry}); err != nil {
		return Token{}, fmt.Errorf("oidc: device login: %w", err)
	}
	tok, err := oc.DeviceAccessToken(ctx, da)
	if err != nil {
		var re *oauth2.RetrieveError
		switch {
		case ctx.Err() != nil:
			return Token{}, fmt.Errorf("oidc: device login: %w", ctx.Err())
		case errors.As(err, &re) && re.ErrorCode == "access_denied":
			return Token{}, refuse(ErrDeviceDenied, nil)
		case errors.As(err, &re) && re.ErrorCode == "expired_token",
			// oauth2 stops polling at the code's expiry on its own.
			errors.Is(err, context.DeadlineExceeded) && !da.Expiry.IsZero() && !time.Now().Before(da.Expiry):
			return Token{}, refuse(ErrDeviceExpired, nil)
		}
		return Token{}, refuse(ErrTokenEndpoint, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Token{}, refuse(ErrNoIDToken, nil)
	}
	if _, err := p.VerifierContext(ctx, &gooidc.Config{ClientID: cfg.ClientID}).Verify(ctx, raw); err != nil {
		return Token{}, refuse(ErrIDTokenNotValid, err)
	}
	return Token{AccessToken: tok.AccessToken, IDToken: raw, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry, Scopes: scopes}, nil
}

// authStyle is how a client authenticates at the token endpoint.
func authStyle(secret string) oauth2.AuthStyle {
	if secret == "" {
		// A public client has nothing for Basic authentication: its
		// client_id goes in the form (not tried as a header first).
		return oauth2.AuthStyleInParams
	}
	// Basic, which every issuer must support (RFC 6749, 2.3.1), and
	// nothing else: some issuers (zitadel's op) answer a poll with the
	// secret in the form "authorization_pending" before they check it,
	// so a wrong secret would only show when the code expires.
	return oauth2.AuthStyleInHeader
}
