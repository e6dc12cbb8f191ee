package dsptck

import (
	"context"
	"slices"
	"testing"
)

// Run runs the kit's provider-side cases against cfg.ProviderURL, each as a
// subtest named SubtestName(id) (CN_01_01), in the kit's order. It starts
// the callback server the provider posts to and closes it when the cases
// are done. A case fails when the provider answers, calls back or moves
// otherwise than the kit expects, or when a document it sends fails its
// schema.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := newHarness(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	t.Logf("dsptck: provider %s, callbacks at %s", cfg.ProviderURL, h.callbackAddress())

	for _, tc := range cases {
		if len(cfg.Only) > 0 {
			if !slices.Contains(cfg.Only, tc.id) {
				continue
			}
		} else if tc.disabled {
			// The kit disables this case (@Disabled); Only runs it.
			continue
		}
		t.Run(SubtestName(tc.id), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := &flow{t: t, ctx: ctx, h: h, ids: cfg.caseIDs(tc)}
			t.Logf("%s: %s (ids %+v)", tc.id, tc.name, f.ids)
			tc.run(f)
			f.finish()
		})
	}
	if s := h.strays(); len(s) > 0 {
		t.Errorf("the provider posted to paths no case waited for: %v", s)
	}
}
