package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/oidc/oidctest"
)

// approver plays the user at the provider's device page: it opens the
// verification URI with the code, signs in (first with a wrong password,
// which must show the form again) and approves or denies. What went wrong
// comes back on the channel.
func approver(p DevicePrompt, user, action string) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			c := &http.Client{Timeout: 10 * time.Second}
			resp, err := c.Get(p.VerificationURIComplete)
			if err != nil {
				return err
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{`id="user_code"`, `value="` + p.UserCode + `"`, `id="username"`, `id="password"`, `id="submit"`} {
				if !strings.Contains(string(page), want) {
					return fmt.Errorf("the device page lacks %s: %s", want, page)
				}
			}
			form := url.Values{"user_code": {p.UserCode}, "username": {user}, "password": {"wrong"}, "action": {action}}
			resp, err = c.PostForm(p.VerificationURI, form)
			if err != nil {
				return err
			}
			page, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(page), "Wrong username or password") {
				return fmt.Errorf("a wrong password: status %d, page %s", resp.StatusCode, page)
			}
			form.Set("password", testPassword)
			resp, err = c.PostForm(p.VerificationURI, form)
			if err != nil {
				return err
			}
			page, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `id="result"`) {
				return fmt.Errorf("approval: status %d, page %s", resp.StatusCode, page)
			}
			return nil
		}()
	}()
	return done
}

func deviceConfig(tp *oidctest.Provider) DeviceConfig {
	return DeviceConfig{Issuer: tp.Issuer(), ClientID: testDeviceClient, Scopes: []string{"openid", "email", "profile"}}
}

func TestDeviceLogin(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var user <-chan error
	var shown DevicePrompt
	tok, err := DeviceLogin(ctx, deviceConfig(tp), func(p DevicePrompt) error {
		shown = p
		user = approver(p, "test-user@127.0.0.1", "approve")
		return nil
	})
	if uerr := <-user; uerr != nil {
		t.Fatal(uerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(shown.VerificationURI, tp.Issuer()+oidctest.DevicePath) || len(shown.UserCode) != 9 ||
		!strings.Contains(shown.VerificationURIComplete, shown.UserCode) || time.Until(shown.ExpiresAt) < time.Minute {
		t.Fatalf("prompt %+v", shown)
	}
	if tok.AccessToken == "" || tok.IDToken == "" || !tok.Expiry.After(time.Now()) {
		t.Fatalf("token %+v", tok)
	}
	// The access token is a JWT for the device's client id with the
	// user's claims: a node accepting that audience verifies it.
	rp := newRP(t, tp, func(c *Config) { c.AccessTokenAudience = testDeviceClient }, Deps{})
	id, err := rp.VerifyAccessToken(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "id1" || id.Email != "ada@uni-freiburg.de" || len(id.Entitlements) != 1 || len(id.Affiliation) != 2 || id.Groups[0] != "xborder-researchers" {
		t.Fatalf("identity %+v", id)
	}
	// The node's own audience does not admit it, unless the device
	// client is configured as the node's CLI client.
	_, err = newRP(t, tp, nil, Deps{}).VerifyAccessToken(ctx, tok.AccessToken)
	wantRefused(t, err, ErrWrongAudience)
	cli := newRP(t, tp, func(c *Config) { c.DeviceClientID = testDeviceClient }, Deps{})
	if id, err := cli.VerifyAccessToken(ctx, tok.AccessToken); err != nil || id.Email != "ada@uni-freiburg.de" {
		t.Fatalf("with device_client_id: identity %+v, %v", id, err)
	}
	// ...but not when an API audience is configured: then only that one.
	_, err = newRP(t, tp, func(c *Config) {
		c.DeviceClientID, c.AccessTokenAudience = testDeviceClient, "https://node.example/api"
	},
		Deps{}).VerifyAccessToken(ctx, tok.AccessToken)
	wantRefused(t, err, ErrWrongAudience)

	// A confidential client (with its secret) gets tokens for its own
	// client id, which the node's relying party accepts as they are.
	cfg := deviceConfig(tp)
	cfg.ClientID, cfg.ClientSecret = testClientID, testSecret
	tok, err = DeviceLogin(ctx, cfg, func(p DevicePrompt) error {
		user = approver(p, "test-user@127.0.0.1", "approve")
		return nil
	})
	if uerr := <-user; uerr != nil {
		t.Fatal(uerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if id, err := newRP(t, tp, nil, Deps{}).VerifyAccessToken(ctx, tok.AccessToken); err != nil || id.Email != "ada@uni-freiburg.de" {
		t.Fatalf("identity %+v, %v", id, err)
	}
	// A wrong secret is refused at the first poll (the device
	// authorization request carries no secret).
	cfg.ClientSecret = "not-the-secret"
	_, err = DeviceLogin(ctx, cfg, func(DevicePrompt) error { return nil })
	if !errors.Is(err, ErrTokenEndpoint) || !strings.Contains(err.Error(), "unauthorized_client") {
		t.Fatalf("want a refusal at the token endpoint, got %v", err)
	}
}

func TestDeviceLoginDenied(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var user <-chan error
	_, err := DeviceLogin(ctx, deviceConfig(tp), func(p DevicePrompt) error {
		user = approver(p, "test-user@127.0.0.1", "deny")
		return nil
	})
	if uerr := <-user; uerr != nil {
		t.Fatal(uerr)
	}
	var re *RefusedError
	if !errors.Is(err, ErrDeviceDenied) || !errors.As(err, &re) {
		t.Fatalf("want a refusal for a denied device, got %v", err)
	}
}

func TestDeviceLoginExpires(t *testing.T) {
	tp := newTestProvider(t, testRedirect, func(c *oidctest.Config) { c.DeviceCodeLifetime = 2 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var shown DevicePrompt
	_, err := DeviceLogin(ctx, deviceConfig(tp), func(p DevicePrompt) error { shown = p; return nil })
	if !errors.Is(err, ErrDeviceExpired) {
		t.Fatalf("want an expired device code, got %v", err)
	}
	// The code can no longer be approved.
	resp, err := http.PostForm(shown.VerificationURI, url.Values{"user_code": {shown.UserCode},
		"username": {"test-user@127.0.0.1"}, "password": {testPassword}, "action": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("approving an expired code: status %d", resp.StatusCode)
	}
}

func TestDeviceLoginCancelled(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := DeviceLogin(ctx, deviceConfig(tp), func(DevicePrompt) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want the context's cancellation, got %v", err)
	}
	// An error of the prompt ends the sign-in with it.
	shown := errors.New("no terminal")
	_, err = DeviceLogin(context.Background(), deviceConfig(tp), func(DevicePrompt) error { return shown })
	if !errors.Is(err, shown) {
		t.Fatalf("want the prompt's error, got %v", err)
	}
}

func TestDeviceLoginNeedsTheEndpoint(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	issuer := discoveryWithout(t, tp, "device_authorization_endpoint")
	cfg := deviceConfig(tp)
	cfg.Issuer = issuer
	_, err := DeviceLogin(context.Background(), cfg, func(DevicePrompt) error { t.Error("prompted"); return nil })
	if !errors.Is(err, ErrNoDeviceEndpoint) || !strings.Contains(err.Error(), "no device authorization endpoint") {
		t.Fatalf("want a refusal naming the missing endpoint, got %v", err)
	}
}

// discoveryWithout serves tp's discovery document without field, under
// an issuer URL of its own, and returns that URL.
func discoveryWithout(t *testing.T, tp *oidctest.Provider, field string) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(tp.Issuer() + "/.well-known/openid-configuration")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var d map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		delete(d, field)
		d["issuer"] = srv.URL
		_ = json.NewEncoder(w).Encode(d)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
