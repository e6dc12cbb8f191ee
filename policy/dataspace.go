package policy

import (
	"context"
	"maps"
	"slices"
)

// NoDataspacePolicyRule is the rule a refusal names when the policy in
// force has no data.xborder.dataspace.decision.
const NoDataspacePolicyRule = "no_dataspace_policy"

// Dataspace decides, on the consumer side of the Dataspace Protocol,
// whether this node's researcher may take a dataset from a provider of a
// dataspace for a purpose. A policy without data.xborder.dataspace.decision
// (written before the point existed) takes nothing from a dataspace and
// says so. An error (a policy error, a decision of the wrong shape, an
// overrun deadline, ErrNoDecision) is a refusal too: callers deny.
func (e *Engine) Dataspace(ctx context.Context, in DataspaceInput) (Decision, error) {
	b := e.active.Load()
	if !b.Defines(DataspaceDecision) {
		return Decision{Bundle: b.Hash, Rules: []string{NoDataspacePolicyRule}, Reasons: []string{
			"This node's policy has no data.xborder.dataspace.decision rule, so it takes no data from a dataspace; its legal team adds one (see docs/policies.md)."},
			Obligations: []string{}}, nil
	}
	return e.decide(ctx, b, DataspaceDecision, in)
}

// Purposes returns the purpose vocabulary of the active bundle: the keys
// of data.data.purposes (policies/data/purposes.json), sorted. A provider
// of a dataspace derives its offers by asking data.xborder.exchange.decision
// once per purpose. A bundle without the document has none.
func (e *Engine) Purposes() []string { return e.active.Load().Purposes() }

// Purposes returns the keys of the bundle's data.data.purposes, sorted.
func (b *Bundle) Purposes() []string {
	data, _ := b.documents["data"].(map[string]any)
	purposes, _ := data["purposes"].(map[string]any)
	if len(purposes) == 0 {
		return []string{}
	}
	return slices.Sorted(maps.Keys(purposes))
}
