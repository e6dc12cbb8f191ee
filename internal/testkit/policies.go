package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/xborder/xborder"
)

// ShippedPolicies copies the shipped policy directory into a fresh temp
// dir, which a test may edit, and returns it.
func ShippedPolicies(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, xborder.Policies()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TrustIssuer adds to a policy directory what a region writes to admit
// an identity provider: a local_identity.rego listing the issuer in
// data.xborder.api.trusted_issuers.
func TrustIssuer(t testing.TB, dir, issuer, label string) {
	t.Helper()
	rule := fmt.Sprintf("package xborder.api\n\ntrusted_issuers[%q] := %q\n", issuer, label)
	if err := os.WriteFile(filepath.Join(dir, "local_identity.rego"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
}
