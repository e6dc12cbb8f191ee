package exchange

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/policy"
)

func TestRequestAllowedReturnsAStoredGrant(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	e := fr.src.add("fr-grandest", "air-quality", "open", testContent(1000))

	ctx := context.Background()
	before := time.Now()
	ans, err := de.svc.Request(ctx, fr.m, "air-quality", "research", "cardio-x", testResearcher)
	if err != nil {
		t.Fatal(err)
	}
	if !ans.Decision.Allow || ans.Grant == "" || ans.GrantID == "" {
		t.Fatalf("answer = %+v, want an allowance with a grant", ans)
	}
	if ans.Decision.MaxValidity != time.Hour || !slices.Equal(ans.Decision.Obligations, []string{"cite the source"}) {
		t.Errorf("decision = %+v", ans.Decision)
	}
	if ans.ExpiresAt.Before(before.Add(time.Hour-2*time.Second)) || ans.ExpiresAt.After(time.Now().Add(time.Hour+time.Second)) {
		t.Errorf("grant expires at %v, want about an hour from now", ans.ExpiresAt)
	}

	// The policy saw the registry's facts and the vouched researcher.
	in := fr.auth.last(t)
	if in.Requester.Node.Node != "de-bw" || in.Requester.Country != "DE" || in.Requester.Researcher != testResearcher {
		t.Errorf("requester = %+v", in.Requester)
	}
	if in.Resource.ID != "air-quality" || in.Resource.Owner != "fr-grandest" || in.Resource.Classification != "open" {
		t.Errorf("resource = %+v", in.Resource)
	}
	if in.Project == nil || in.Project.ID != "cardio-x" || in.Purpose != "research" || in.Self.Node != "fr-grandest" {
		t.Errorf("project/purpose/self = %+v / %q / %+v", in.Project, in.Purpose, in.Self)
	}

	// The grant is on record on both sides, with its claims.
	held, ok := de.svc.Grant(GrantHeld, ans.GrantID)
	if !ok || held.Token != ans.Grant || held.SHA256 != e.SHA256 || held.Size != e.Size || held.Resource != "fr-grandest/air-quality" {
		t.Errorf("held grant = %+v, %v", held, ok)
	}
	issued, ok := fr.svc.Grant(GrantIssued, ans.GrantID)
	if !ok || issued.Holder != "de-bw" || issued.HolderPeer != de.m.PeerID.String() || issued.Token != "" {
		t.Errorf("issued grant = %+v, %v", issued, ok)
	}
	if gs := de.svc.Grants(context.Background()); len(gs) != 1 || gs[0].Role != GrantHeld {
		t.Errorf("requester's grants = %+v", gs)
	}

	// The owner's audit trail has the decision (with the input's hash)
	// and the grant.
	decisions := fr.rec.of(RecordDecision)
	if len(decisions) != 1 || decisions[0].subject != "de-bw -> fr-grandest/air-quality" {
		t.Fatalf("decision records = %+v", decisions)
	}
	if d := decisions[0].details.(decisionRecord); !d.Allow || d.Bundle != "test-bundle" || len(d.InputSHA256) != 64 {
		t.Errorf("decision record = %+v", d)
	}
	if len(fr.rec.of(RecordGrantIssued)) != 1 || len(de.rec.of(RecordGrantReceived)) != 1 {
		t.Errorf("grant records: issued %d, received %d", len(fr.rec.of(RecordGrantIssued)), len(de.rec.of(RecordGrantReceived)))
	}
}

func TestRequestDeniedReturnsReasonsAndNoGrant(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	fr.src.add("fr-grandest", "icu-stays", "restricted", testContent(100))

	ans, err := de.svc.Request(context.Background(), fr.m, "icu-stays", "research", "no-such-project", testResearcher)
	var denied *policy.DeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("err = %v, want a *policy.DeniedError", err)
	}
	if ans.Decision.Allow || ans.Grant != "" || ans.GrantID != "" {
		t.Errorf("answer = %+v, want a denial without grant", ans)
	}
	if !slices.Equal(ans.Decision.Reasons, []string{"Restricted data needs a joint project."}) ||
		!slices.Equal(denied.Decision.Rules, []string{"needs_project"}) {
		t.Errorf("decision = %+v", ans.Decision)
	}
	if in := fr.auth.last(t); in.Project != nil {
		t.Errorf("an unknown project reached the policy as %+v, want nil", in.Project)
	}
	if gs := append(de.svc.Grants(context.Background()), fr.svc.Grants(context.Background())...); len(gs) != 0 {
		t.Errorf("grants after a denial: %+v", gs)
	}
	if d := fr.rec.of(RecordDecision); len(d) != 1 || d[0].details.(decisionRecord).Allow {
		t.Errorf("decision records = %+v", d)
	}
	if len(fr.rec.of(RecordGrantIssued)) != 0 {
		t.Error("a grant was recorded for a denial")
	}
}

func TestRequestForAnUnknownDatasetIsDeniedWithAReason(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]

	_, err := de.svc.Request(context.Background(), fr.m, "nothing-here", "research", "", testResearcher)
	var denied *policy.DeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("err = %v, want a *policy.DeniedError", err)
	}
	if !slices.Equal(denied.Decision.Rules, []string{ruleUnknownResource}) || len(denied.Decision.Reasons) != 1 {
		t.Errorf("decision = %+v", denied.Decision)
	}
	if len(fr.rec.of(RecordDecision)) != 1 {
		t.Error("the denial of an unknown dataset was not recorded")
	}
}

// TestRequestVerification sends hand-made request JWTs from bare streams:
// every one that a correct owner must not decide is refused with its
// code, recorded, and never answered with a grant.
func TestRequestVerification(t *testing.T) {
	fed := newReqFed(t, fedOptions{strangers: []string{"xx-stranger"}}, "fr-grandest", "de-bw", "ch-basel", "xx-stranger")
	fr, de, ch, xx := fed["fr-grandest"], fed["de-bw"], fed["ch-basel"], fed["xx-stranger"]
	fr.src.add("fr-grandest", "air-quality", "open", testContent(100))
	const res = "fr-grandest/air-quality"

	send := func(t *testing.T, from *testNode, token string) answerFrame {
		t.Helper()
		var ans answerFrame
		if err := rawExchange(t, from, fr.m.PeerID, RequestProtocol, requestFrame{Token: token}, &ans); err != nil {
			t.Fatalf("no answer: %v", err)
		}
		return ans
	}
	// sign signs with by's key, naming kid as the key's owner.
	sign := func(t *testing.T, by *testNode, c requestClaims, kid ...*testNode) string {
		t.Helper()
		id := by.m.PeerID
		if len(kid) > 0 {
			id = kid[0].m.PeerID
		}
		tok, err := nodejws.Sign(by.key, id, requestTokenType, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	t.Run("replay", func(t *testing.T) {
		tok := sign(t, de, testRequestClaims(de, fr, res, time.Now()))
		if first := send(t, de, tok); first.Code != "" || first.Grant == "" {
			t.Fatalf("first = %+v, want a grant", first)
		}
		if again := send(t, de, tok); again.Code != RefusalReplay || again.Grant != "" {
			t.Errorf("replay = %+v, want refusal %q", again, RefusalReplay)
		}
	})
	cases := []struct {
		name  string
		from  *testNode
		token func(t *testing.T) string
		want  RefusalCode
	}{
		{"expired", de, func(t *testing.T) string {
			c := testRequestClaims(de, fr, res, time.Now().Add(-5*time.Minute))
			return sign(t, de, c)
		}, RefusalExpired},
		{"issued in the future", de, func(t *testing.T) string {
			return sign(t, de, testRequestClaims(de, fr, res, time.Now().Add(5*time.Minute)))
		}, RefusalExpired},
		{"signed by another member's key", de, func(t *testing.T) string {
			return sign(t, ch, testRequestClaims(de, fr, res, time.Now()), de)
		}, RefusalBadToken},
		{"signed by another member's key, kid says so", de, func(t *testing.T) string {
			return sign(t, ch, testRequestClaims(de, fr, res, time.Now()))
		}, RefusalBadToken},
		{"another member's request relayed", de, func(t *testing.T) string {
			return sign(t, ch, testRequestClaims(ch, fr, res, time.Now()))
		}, RefusalBadToken},
		{"addressed to another node", de, func(t *testing.T) string {
			return sign(t, de, testRequestClaims(de, ch, res, time.Now()))
		}, RefusalBadToken},
		{"lifetime too long", de, func(t *testing.T) string {
			c := testRequestClaims(de, fr, res, time.Now())
			c.Expires = c.IssuedAt + int64(time.Hour/time.Second)
			return sign(t, de, c)
		}, RefusalBadToken},
		{"a grant presented as a request", de, func(t *testing.T) string {
			c := testRequestClaims(de, fr, res, time.Now())
			tok, err := nodejws.Sign(de.key, de.m.PeerID, grantTokenType, c)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, RefusalBadToken},
		{"not a JWT", de, func(*testing.T) string { return "hello" }, RefusalBadToken},
		{"non-member", xx, func(t *testing.T) string {
			return sign(t, xx, testRequestClaims(xx, fr, res, time.Now()))
		}, RefusalNotMember},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			refused := len(fr.rec.of(RecordRequestRefused))
			ans := send(t, tc.from, tc.token(t))
			if ans.Code != tc.want || ans.Reason == "" || ans.Grant != "" || ans.Decision.Allow {
				t.Errorf("answer = %+v, want refusal %q", ans, tc.want)
			}
			if got := len(fr.rec.of(RecordRequestRefused)); got != refused+1 {
				t.Errorf("%d refusal records, want %d", got, refused+1)
			}
		})
	}

	t.Run("non-member through the API", func(t *testing.T) {
		_, err := xx.svc.Request(context.Background(), fr.m, "air-quality", "research", "", testResearcher)
		var r *RefusedError
		if !errors.As(err, &r) || r.Code != RefusalNotMember || !errors.Is(err, ErrRefused) {
			t.Errorf("err = %v, want a refusal %q", err, RefusalNotMember)
		}
	})
}

// TestRequestStreamResetOnBadFrame checks that an oversized or malformed
// frame is not answered: the owner resets the stream.
func TestRequestStreamResetOnBadFrame(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	cfg := testServiceConfig()

	oversized := make([]byte, 4)
	binary.BigEndian.PutUint32(oversized, uint32(cfg.MaxMessage+1))
	malformed := append(binary.BigEndian.AppendUint32(nil, 9), []byte(`{"tok":1}`)...)
	trailing := append(binary.BigEndian.AppendUint32(nil, 15), []byte(`{"token":""} {}`)...)
	for name, raw := range map[string][]byte{"oversized": oversized, "malformed": malformed, "trailing data": trailing} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, err := de.h.NewStream(ctx, fr.m.PeerID, RequestProtocol)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			_ = st.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := st.Write(raw); err != nil {
				t.Fatal(err)
			}
			_ = st.CloseWrite()
			got, err := io.ReadAll(st)
			if err == nil || len(got) != 0 {
				t.Errorf("read %q, %v; want a reset stream", got, err)
			}
		})
	}
	if len(fr.rec.of(RecordDecision)) != 0 {
		t.Error("a bad frame reached the policy")
	}
}
