package api

import (
	"testing"

	"github.com/xborder/xborder/exchange"
)

// The exchange decides who sees which transfer by the API's role names.
func TestCallerCarriesTheAPIRoles(t *testing.T) {
	if RoleOperator != exchange.CallerOperator || RoleAuditor != exchange.CallerAuditor {
		t.Fatalf("API roles %q/%q, exchange roles %q/%q", RoleOperator, RoleAuditor, exchange.CallerOperator, exchange.CallerAuditor)
	}
	u := User{Subject: "anna", Role: RoleResearcher, Org: "Uni Freiburg"}
	if c := u.Caller(); c != (exchange.Caller{Subject: "anna", Org: "Uni Freiburg", Role: RoleResearcher}) {
		t.Fatalf("caller %+v", c)
	}
}
