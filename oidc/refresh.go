package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ErrRefreshRefused is an issuer refusing a refresh token (invalid_grant):
// the session it stood for has ended (revoked, signed out, expired, or
// the token already used). Only a new sign-in helps. A *RefusedError
// wraps it.
var ErrRefreshRefused = errors.New("the identity provider refused the refresh token: the session has ended")

// errNoRefreshToken is a Refresh without a refresh token.
var errNoRefreshToken = errors.New("oidc: refresh: no refresh token")

// RefreshConfig is a client renewing its tokens with a refresh token
// (RFC 6749, 6): the client the tokens were issued to.
type RefreshConfig struct {
	// Issuer is the identity provider's issuer URL, discovered as in New.
	Issuer string
	// ClientID is the client the refresh token was issued to.
	ClientID string
	// ClientSecret is empty for a public client.
	ClientSecret string
	// Scopes are those of the sign-in. They are not sent (a refresh
	// keeps the sign-in's scopes); kept for the caller's records.
	Scopes []string
	// HTTPClient reaches the issuer; nil means a client with a 30 s
	// timeout.
	HTTPClient *http.Client
}

// Refresh redeems refreshToken at the issuer's token endpoint for a new
// access token. The answer's refresh token replaces the old one when the
// issuer rotates them (else Token.RefreshToken is the old one); its ID
// token, when there is one, is verified as DeviceLogin verifies it
// (signature, issuer, audience, expiry).
//
// An issuer refusing the refresh token (invalid_grant) is a *RefusedError
// wrapping ErrRefreshRefused; any other refusal by the token endpoint
// wraps ErrTokenEndpoint; an issuer that cannot be reached is neither.
func Refresh(ctx context.Context, cfg RefreshConfig, refreshToken string) (Token, error) {
	refuse := func(reason error, err error) error {
		return &RefusedError{Issuer: cfg.Issuer, Reason: reason, Err: err}
	}
	if cfg.ClientID == "" {
		return Token{}, errors.New("oidc: refresh: client id is empty")
	}
	if refreshToken == "" {
		return Token{}, errNoRefreshToken
	}
	ctx, _, p, err := discover(ctx, "refresh", cfg.Issuer, cfg.HTTPClient)
	if err != nil {
		return Token{}, err
	}
	ep := p.Endpoint()
	ep.AuthStyle = authStyle(cfg.ClientSecret)
	oc := oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: ep}
	// A token with no access token is not valid: the source refreshes at
	// once.
	tok, err := oc.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		switch {
		case ctx.Err() != nil:
			return Token{}, fmt.Errorf("oidc: refresh: %w", ctx.Err())
		case errors.As(err, &re) && re.ErrorCode == "invalid_grant":
			return Token{}, refuse(ErrRefreshRefused, err)
		case errors.As(err, &re):
			return Token{}, refuse(ErrTokenEndpoint, err)
		}
		return Token{}, fmt.Errorf("oidc: refresh at %s: %w", cfg.Issuer, err)
	}
	if tok.AccessToken == "" {
		return Token{}, refuse(ErrTokenEndpoint, errors.New("the answer holds no access token"))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw != "" {
		if _, err := p.VerifierContext(ctx, &gooidc.Config{ClientID: cfg.ClientID}).Verify(ctx, raw); err != nil {
			return Token{}, refuse(ErrIDTokenNotValid, err)
		}
	}
	return Token{AccessToken: tok.AccessToken, IDToken: raw, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry, Scopes: cfg.Scopes}, nil
}

// ErrNoRevocationEndpoint is an issuer whose discovery document names no
// revocation endpoint (RFC 7009): its refresh tokens end only with the
// session. A *RefusedError wraps it.
var ErrNoRevocationEndpoint = errors.New("the identity provider offers no token revocation endpoint")

// maxRevocationAnswer bounds what is read of a revocation endpoint's
// error answer.
const maxRevocationAnswer = 64 << 10

// Revoke asks the issuer to revoke refreshToken (RFC 7009), as the client
// it was issued to, ending the session it stands for (issuers revoke the
// access tokens issued with it too, or let them run out). A token the
// issuer does not know is revoked already: the endpoint answers 200.
func Revoke(ctx context.Context, cfg RefreshConfig, refreshToken string) error {
	if cfg.ClientID == "" {
		return errors.New("oidc: revoke: client id is empty")
	}
	if refreshToken == "" {
		return errors.New("oidc: revoke: no refresh token")
	}
	ctx, client, p, err := discover(ctx, "revoke", cfg.Issuer, cfg.HTTPClient)
	if err != nil {
		return err
	}
	var meta struct {
		Revocation string `json:"revocation_endpoint"`
	}
	if err := p.Claims(&meta); err != nil || meta.Revocation == "" {
		return &RefusedError{Issuer: cfg.Issuer, Reason: ErrNoRevocationEndpoint}
	}
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}}
	if cfg.ClientSecret == "" {
		form.Set("client_id", cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, meta.Revocation, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("oidc: revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cfg.ClientSecret != "" {
		// RFC 6749, 2.3.1: both parts form-encoded.
		req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("oidc: revoke at %s: %w", cfg.Issuer, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxRevocationAnswer))
	var answer struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	detail := fmt.Sprintf("status %d", resp.StatusCode)
	if json.Unmarshal(body, &answer) == nil && answer.Error != "" {
		detail = strings.TrimSpace(answer.Error + " " + answer.Description)
	}
	return &RefusedError{Issuer: cfg.Issuer, Reason: ErrTokenEndpoint, Detail: "revocation: " + detail}
}
