package policy_test

import (
	"context"
	"fmt"

	"github.com/xborder/xborder/policy"
)

// An engine loads a policy directory once and then decides typed inputs;
// every decision says why, and names the bundle that took it.
func ExampleEngine_Exchange() {
	ctx := context.Background()
	// testdata/minimal shares open data for any purpose its
	// data/purposes.json lists, and denies everything else.
	e, err := policy.NewEngine(ctx, "testdata/minimal", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()

	for _, purpose := range []string{"research", "marketing"} {
		d, err := e.Exchange(ctx, policy.ExchangeInput{
			Requester: policy.Requester{Node: policy.Node{Node: "de-bw", Country: "DE"},
				Researcher: policy.Researcher{Sub: "alice@uni-freiburg.de", Role: "researcher"}},
			Resource: policy.Resource{Kind: "dataset", ID: "air-quality", Owner: "fr-grandest", Classification: "open"},
			Purpose:  purpose,
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: allow=%t reasons=%q rules=%q valid_for=%v same_bundle=%t\n",
			purpose, d.Allow, d.Reasons, d.Rules, d.MaxValidity, d.Bundle == e.Info().Hash)
	}
	// Output:
	// research: allow=true reasons=["Open data is shared with every member."] rules=["open_data"] valid_for=24h0m0s same_bundle=true
	// marketing: allow=false reasons=["No rule allows this request."] rules=["default_deny"] valid_for=0s same_bundle=true
}
