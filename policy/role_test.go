package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The shipped identity policy gives a role to identities its tables list,
// from issuers it trusts, and none to anyone else.
func TestAPIRoleShipped(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine(ctx, "../policies", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	lsLogin := "https://login.aai.lifescience-ri.eu/oidc/"
	cases := []struct {
		name string
		id   APIIdentity
		want string
	}{
		{"LS Login entitlement", APIIdentity{Issuer: lsLogin, Subject: "a",
			Entitlements: []string{"urn:geant:lifescience-ri.eu:group:xborder:auditors#aai.lifescience-ri.eu"}}, "auditor"},
		{"staff of Freiburg", APIIdentity{Issuer: "https://proxy.myaccessid.org/", Subject: "b",
			Affiliation: []string{"staff@uni-freiburg.de"}}, "researcher"},
		{"a student of Freiburg", APIIdentity{Issuer: lsLogin, Subject: "c", Affiliation: []string{"student@uni-freiburg.de"}}, ""},
		{"an issuer nobody trusts", APIIdentity{Issuer: "https://idp.example.org/", Subject: "d",
			Affiliation: []string{"staff@uni-freiburg.de"}}, ""},
		{"nothing but a subject (null lists)", APIIdentity{Issuer: lsLogin, Subject: "e"}, ""},
	}
	for _, c := range cases {
		got, err := e.APIRole(ctx, APIRoleInput{Identity: c.id})
		if err != nil || got != c.want {
			t.Errorf("%s: role %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

// A region's policy written before data.xborder.api.role existed still
// loads; the point then gives no role and says why. A rule whose value is
// not a string is a *ShapeError.
func TestAPIRoleOptionalAndShape(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "../policies")
	for _, f := range []string{"api_identity.rego", "api_identity_test.rego"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	e, err := NewEngine(ctx, dir, nil)
	if err != nil {
		t.Fatalf("a policy without the role point: %v", err)
	}
	defer e.Close()
	r, err := e.APIRole(ctx, APIRoleInput{Identity: APIIdentity{Issuer: "https://proxy.myaccessid.org/", Affiliation: []string{"staff@kit.edu"}}})
	if r != "" || !errors.Is(err, ErrNoRolePolicy) || !errors.Is(err, ErrNoDecision) {
		t.Fatalf("without the point: %q %v", r, err)
	}
	if ok, err := e.APIAllow(ctx, APIInput{User: APIUser{Role: "operator"}, Method: "GET", Path: "/v1/status"}); err != nil || !ok {
		t.Fatalf("the other points still decide: %v %v", ok, err)
	}

	bad := []byte("package xborder.api\n\nrole := [\"researcher\"]\n")
	if err := os.WriteFile(filepath.Join(dir, "api_identity.rego"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	e2, err := NewEngine(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	var se *ShapeError
	if r, err := e2.APIRole(ctx, APIRoleInput{}); r != "" || !errors.As(err, &se) || se.Point != APIRole {
		t.Fatalf("a role that is a list: %q %v", r, err)
	}
}
