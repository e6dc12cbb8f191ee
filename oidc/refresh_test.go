package oidc

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/xborder/xborder/oidc/oidctest"
)

// deviceSignIn signs the test user in on a device, asking for a refresh
// token when offline.
func deviceSignIn(t *testing.T, ctx context.Context, tp *oidctest.Provider, offline bool) Token {
	t.Helper()
	cfg := deviceConfig(tp)
	cfg.OfflineAccess = offline
	var user <-chan error
	tok, err := DeviceLogin(ctx, cfg, func(p DevicePrompt) error {
		user = approver(p, "test-user@127.0.0.1", "approve")
		return nil
	})
	if uerr := <-user; uerr != nil {
		t.Fatal(uerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func refreshConfig(tp *oidctest.Provider) RefreshConfig {
	return RefreshConfig{Issuer: tp.Issuer(), ClientID: testDeviceClient, Scopes: []string{"openid", "email", "profile", ScopeOfflineAccess}}
}

func TestRefresh(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Without offline_access the provider issues no refresh token.
	if tok := deviceSignIn(t, ctx, tp, false); tok.RefreshToken != "" || slices.Contains(tok.Scopes, ScopeOfflineAccess) {
		t.Fatalf("a sign-in without offline access: refresh token %q, scopes %v", tok.RefreshToken, tok.Scopes)
	}
	if _, err := Refresh(ctx, refreshConfig(tp), ""); err == nil {
		t.Fatal("a refresh without a refresh token went through")
	}

	first := deviceSignIn(t, ctx, tp, true)
	if first.RefreshToken == "" || !slices.Contains(first.Scopes, ScopeOfflineAccess) {
		t.Fatalf("a sign-in with offline access: %+v", first)
	}
	next, err := Refresh(ctx, refreshConfig(tp), first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// A new access token for the same user and client, a new (rotated)
	// refresh token, and a verified ID token.
	if next.AccessToken == "" || next.AccessToken == first.AccessToken || next.RefreshToken == "" ||
		next.RefreshToken == first.RefreshToken || next.IDToken == "" || !next.Expiry.After(time.Now()) {
		t.Fatalf("refreshed token %+v", next)
	}
	rp := newRP(t, tp, func(c *Config) { c.DeviceClientID = testDeviceClient }, Deps{})
	if id, err := rp.VerifyAccessToken(ctx, next.AccessToken); err != nil || id.Subject != "id1" || id.Email != "ada@uni-freiburg.de" {
		t.Fatalf("the refreshed access token: %+v, %v", id, err)
	}

	// The used refresh token is spent: redeeming it again is refused.
	_, err = Refresh(ctx, refreshConfig(tp), first.RefreshToken)
	wantRefused(t, err, ErrRefreshRefused)
	// So is one the provider never issued.
	_, err = Refresh(ctx, refreshConfig(tp), "not-a-refresh-token")
	wantRefused(t, err, ErrRefreshRefused)
	// ...and one of another client.
	cfg := refreshConfig(tp)
	cfg.ClientID, cfg.ClientSecret = testClientID, testSecret
	_, err = Refresh(ctx, cfg, next.RefreshToken)
	wantRefused(t, err, ErrRefreshRefused)
	// A wrong secret is the client's fault, not the session's end.
	cfg.ClientSecret = "not-the-secret"
	_, err = Refresh(ctx, cfg, next.RefreshToken)
	if re := wantRefused(t, err, ErrTokenEndpoint); errors.Is(re, ErrRefreshRefused) {
		t.Fatalf("a wrong secret read as an ended session: %v", err)
	}

	// The session ended at the provider (an administrator's revocation):
	// refused.
	tp.RevokeRefreshTokens("id1", testDeviceClient)
	_, err = Refresh(ctx, refreshConfig(tp), next.RefreshToken)
	wantRefused(t, err, ErrRefreshRefused)

	// The user revoked it herself (RFC 7009): refused.
	tok := deviceSignIn(t, ctx, tp, true)
	if err := Revoke(ctx, refreshConfig(tp), tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err = Refresh(ctx, refreshConfig(tp), tok.RefreshToken)
	wantRefused(t, err, ErrRefreshRefused)
	// Revoking a token the provider does not know is no error: it is
	// revoked already.
	if err := Revoke(ctx, refreshConfig(tp), tok.RefreshToken); err != nil {
		t.Fatalf("revoking a revoked token: %v", err)
	}
	// A client whose secret is wrong is refused.
	cfg = refreshConfig(tp)
	cfg.ClientID, cfg.ClientSecret = testClientID, "not-the-secret"
	wantRefused(t, Revoke(ctx, cfg, tok.RefreshToken), ErrTokenEndpoint)

	// An issuer that cannot be reached is no refusal: the session may
	// well live on.
	cfg = refreshConfig(tp)
	cfg.Issuer = "http://127.0.0.1:1"
	if _, err := Refresh(ctx, cfg, tok.RefreshToken); err == nil || errors.Is(err, ErrRefreshRefused) {
		t.Fatalf("an unreachable issuer: %v", err)
	}
}

func TestRevokeNeedsTheEndpoint(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	issuer := discoveryWithout(t, tp, "revocation_endpoint")
	cfg := refreshConfig(tp)
	cfg.Issuer = issuer
	wantRefused(t, Revoke(context.Background(), cfg, "some-refresh-token"), ErrNoRevocationEndpoint)
}
