package exchange

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xborder/xborder/policy"
)

// idCases is the one table of dataset and model IDs: publish, request and
// fetch must agree on every one of them.
var idCases = []struct {
	id    string
	valid bool
}{
	{"icu-2025", true},
	{"a", true},
	{"0day", true},
	{"v1.2_final", true},
	{"air.quality.partials", true},
	{strings.Repeat("a", MaxIDLength), true},
	{"", false},
	{"Upper", false},
	{"x.partial", false},
	{"icu.2025.partial", false},
	{"a..b", false},
	{"..", false},
	{"../etc", false},
	{"a/b", false},
	{`a\b`, false},
	{".hidden", false},
	{"-rf", false},
	{"_x", false},
	{"a b", false},
	{"café", false},
	{"a\x00b", false},
	{strings.Repeat("a", MaxIDLength+1), false},
}

func TestValidateID(t *testing.T) {
	for _, c := range idCases {
		err := ValidateID(c.id)
		if (err == nil) != c.valid {
			t.Errorf("ValidateID(%q) = %v, want valid %v", c.id, err, c.valid)
		}
		var invalid *ValidationError
		if err != nil && (!errors.Is(err, ErrBadID) || !errors.As(err, &invalid) || len(invalid.Problems) != 1) {
			t.Errorf("ValidateID(%q) = %#v, want a *ValidationError wrapping ErrBadID", c.id, err)
		}
	}
}

func TestParseRef(t *testing.T) {
	for _, c := range idCases {
		owner, id, err := ParseRef("fr-grandest/" + c.id)
		if (err == nil) != c.valid || (err == nil && (owner != "fr-grandest" || id != c.id)) {
			t.Errorf("ParseRef(fr-grandest/%q) = %q, %q, %v; want valid %v", c.id, owner, id, err, c.valid)
		}
	}
	for _, ref := range []string{"icu", "/icu", "../x/icu", "fr grandest/icu", "fr-grandest/a/b"} {
		var invalid *ValidationError
		if _, _, err := ParseRef(ref); !errors.As(err, &invalid) {
			t.Errorf("ParseRef(%q) = %v, want a *ValidationError", ref, err)
		}
	}
}

// TestOneIDRuleForPublishRequestAndFetch runs the ID table through a real
// catalogue's Publish and real services' Request and Fetch on libp2p
// hosts: an ID one of them refuses, all refuse with ErrBadID before
// anything is stored or sent; the others are refused for other reasons
// only (an unknown dataset, a grant for another dataset).
func TestOneIDRuleForPublishRequestAndFetch(t *testing.T) {
	// fr-grandest's catalogue publishes; its service serves from the fake
	// catalogue.
	fed := newReqFed(t, fedOptions{catalogues: true}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	owner := fr
	fr.src.add("fr-grandest", "air-quality", "open", testContent(100))
	ctx := context.Background()
	ans, err := de.svc.Request(ctx, fr.m, "air-quality", "research", "", testResearcher)
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range idCases {
		_, err := owner.cat.Publish(ctx, Publication{ID: c.id, Title: "T", Theme: "health", Classification: "open"}, strings.NewReader("a,b\n"))
		var invalid *ValidationError
		badID := errors.As(err, &invalid) && strings.Contains(strings.Join(invalid.Problems, " "), "id: ")
		if c.valid && err != nil || !c.valid && !badID {
			t.Errorf("publish %q: %v (valid %v)", c.id, err, c.valid)
		}

		decisionsBefore := len(fr.rec.of(RecordDecision))
		_, err = de.svc.Request(ctx, fr.m, c.id, "research", "", testResearcher)
		var denied *policy.DeniedError
		switch {
		case c.valid && !errors.As(err, &denied): // unknown at the owner: denied with a reason
			t.Errorf("request %q: %v, want the owner's denial", c.id, err)
		case !c.valid && !errors.Is(err, ErrBadID):
			t.Errorf("request %q: %v, want ErrBadID", c.id, err)
		case !c.valid && len(fr.rec.of(RecordDecision)) != decisionsBefore:
			t.Errorf("request %q reached the owner", c.id)
		}

		job, err := de.svc.Fetch(ctx, fr.m, c.id, ans.Grant)
		if job != nil {
			t.Fatalf("fetch %q started a job", c.id)
		}
		switch {
		case c.valid && !errors.Is(err, ErrInvalidGrant): // the grant is for air-quality
			t.Errorf("fetch %q: %v, want ErrInvalidGrant", c.id, err)
		case !c.valid && !errors.Is(err, ErrBadID):
			t.Errorf("fetch %q: %v, want ErrBadID", c.id, err)
		}
	}
}

// FuzzValidateID: an ID the rule accepts is always a single, plain file
// name under DATA/downloads/OWNER, distinct from any download in progress.
func FuzzValidateID(f *testing.F) {
	for _, c := range idCases {
		f.Add(c.id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidateID(id) != nil {
			return
		}
		dir := filepath.Join("downloads", "fr-grandest")
		p := filepath.Join(dir, id)
		if filepath.Dir(p) != dir || filepath.Base(p) != id || strings.HasSuffix(id, partialSuffix) ||
			strings.HasPrefix(id, ".") || strings.HasPrefix(id, "-") || len(id) > MaxIDLength {
			t.Fatalf("ValidateID accepts %q", id)
		}
		if _, got, err := ParseRef("fr-grandest/" + id); err != nil || got != id {
			t.Fatalf("ParseRef refuses fr-grandest/%q: %v", id, err)
		}
	})
}
