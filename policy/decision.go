package policy

import (
	"errors"
	"fmt"
	"github.com/open-policy-agent/opa/v1/ast"
	"strings"
	"time"
)

// Point is a decision point: the Rego rule a query evaluates.
type Point string

// The decision points of a bundle. Every bundle must define all of them but
// the optional ones (see optional).
const (
	ExchangeDecision   Point = "data.xborder.exchange.decision"
	CatalogueVisible   Point = "data.xborder.catalogue.visible"
	AgreementDecision  Point = "data.xborder.agreements.decision"
	RegistryDecision   Point = "data.xborder.registry.decision"
	MembershipDecision Point = "data.xborder.membership.decision"
	APIAllow           Point = "data.xborder.api.allow"
	AuditDecision      Point = "data.xborder.audit.decision"
	// AnalysisDecisionPoint decides a federated analysis on one of this
	// node's datasets (the decision's value is an AnalysisDecision, whose
	// name the constant cannot share).
	AnalysisDecisionPoint Point = "data.xborder.analysis.decision"
	// DataspaceDecision decides, on the consumer side, whether this node's
	// researcher may take a dataset from a provider of a dataspace (a
	// participant of the Dataspace Protocol outside the federation).
	DataspaceDecision Point = "data.xborder.dataspace.decision"
	// APIRole maps the identity an identity provider vouches for (OpenID
	// Connect claims) to the role it has at this node, or "" for none.
	APIRole Point = "data.xborder.api.role"
)

// Points lists every decision point.
var Points = []Point{ExchangeDecision, CatalogueVisible, AgreementDecision, RegistryDecision, MembershipDecision, APIAllow, AuditDecision, AnalysisDecisionPoint, DataspaceDecision, APIRole}

// optional are the decision points a policy may leave out (those added
// after a region's policy directory was written): a bundle without one
// still loads, and the point then refuses, saying why.
var optional = map[Point]bool{AuditDecision: true, AnalysisDecisionPoint: true, DataspaceDecision: true, APIRole: true}

// Decision is the answer of a decision point:
// `{allow, reasons[], rules[], obligations[], max_validity_s}` in Rego.
type Decision struct {
	Allow bool `json:"allow"`
	// Reasons are sentences a requester understands.
	Reasons []string `json:"reasons"`
	// Rules name the rules that fired, one per reason.
	Rules       []string      `json:"rules"`
	Obligations []string      `json:"obligations"`
	MaxValidity time.Duration `json:"-"`
	// MaxValiditySeconds mirrors MaxValidity on the wire.
	MaxValiditySeconds int64 `json:"max_validity_s"`
	// Agreement names the model-sharing agreement a model is shared under
	// (exchange decisions on models); empty otherwise.
	Agreement string `json:"agreement,omitempty"`
	// Bundle is the hash of the policy bundle that decided.
	Bundle string `json:"bundle"`
}

// ErrNoDecision is wrapped when a decision point is undefined for an input
// (no rule produced a value): callers treat it as a denial.
var ErrNoDecision = errors.New("the policy produced no decision")

// ShapeError reports a decision whose value is not of the expected shape,
// e.g. `allow` that is not a boolean.
type ShapeError struct {
	Point Point
	Field string
	Want  string
	Got   any
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("%s: %s must be %s, got %T (%v)", e.Point, e.Field, e.Want, e.Got, e.Got)
}

// DeniedError is a request the policy refused; it carries the decision so
// that callers can show its reasons.
type DeniedError struct {
	Point    Point
	Decision Decision
}

func (e *DeniedError) Error() string {
	if len(e.Decision.Reasons) == 0 {
		return "denied by policy"
	}
	return "denied by policy: " + strings.Join(e.Decision.Reasons, " ")
}

// asJSON is a value as a Go value, for error messages.
func asJSON(v ast.Value) any {
	if v == nil {
		return nil
	}
	x, err := ast.JSON(v)
	if err != nil {
		return v.String()
	}
	return x
}

// decodeDecision checks the shape of a decision object field by field.
func decodeDecision(p Point, v ast.Value) (Decision, error) {
	obj, ok := v.(ast.Object)
	if !ok {
		return Decision{}, &ShapeError{Point: p, Field: "the decision", Want: "an object", Got: asJSON(v)}
	}
	get := func(field string) ast.Value {
		if t := obj.Get(ast.StringTerm(field)); t != nil {
			return t.Value
		}
		return nil
	}
	var d Decision
	allow, ok := get("allow").(ast.Boolean)
	if !ok {
		return Decision{}, &ShapeError{Point: p, Field: "allow", Want: "a boolean", Got: asJSON(get("allow"))}
	}
	d.Allow = bool(allow)
	strs := func(field string) ([]string, error) {
		raw := get(field)
		if raw == nil {
			return []string{}, nil
		}
		list, ok := raw.(*ast.Array)
		if !ok {
			return nil, &ShapeError{Point: p, Field: field, Want: "an array of strings", Got: asJSON(raw)}
		}
		out := make([]string, 0, list.Len())
		for i := range list.Len() {
			s, ok := list.Elem(i).Value.(ast.String)
			if !ok {
				return nil, &ShapeError{Point: p, Field: field, Want: "an array of strings", Got: asJSON(raw)}
			}
			out = append(out, string(s))
		}
		return out, nil
	}
	var err error
	if d.Reasons, err = strs("reasons"); err != nil {
		return Decision{}, err
	}
	if d.Rules, err = strs("rules"); err != nil {
		return Decision{}, err
	}
	if d.Obligations, err = strs("obligations"); err != nil {
		return Decision{}, err
	}
	if raw := get("agreement"); raw != nil {
		a, ok := raw.(ast.String)
		if !ok {
			return Decision{}, &ShapeError{Point: p, Field: "agreement", Want: "a string", Got: asJSON(raw)}
		}
		d.Agreement = string(a)
	}
	if raw := get("max_validity_s"); raw != nil {
		n, ok := asSeconds(raw)
		if !ok {
			return Decision{}, &ShapeError{Point: p, Field: "max_validity_s", Want: "a non-negative number", Got: asJSON(raw)}
		}
		d.MaxValiditySeconds = n
		d.MaxValidity = time.Duration(n) * time.Second
	}
	return d, nil
}

// asSeconds accepts a non-negative number, truncated to whole seconds.
func asSeconds(v ast.Value) (int64, bool) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, false
	}
	f, ok := n.Float64()
	if !ok || f < 0 {
		return 0, false
	}
	return int64(f), true
}
