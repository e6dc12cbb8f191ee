package analysis

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/internal/frame"
	"github.com/xborder/xborder/internal/nodejws"
)

// openSession, as the session of a fuzzed request frame, stands for a GLM
// session opened at the owner for that input alone (a copy of a real one,
// at the iteration before the one the frame asks for), so that crafted
// iterations reach the computation instead of stopping at the lookup.
const openSession = "open-session"

// fuzzRig is an owner (fr-grandest) with a cohort, a member that asks it
// (lu-luxembourg), and a second owner (de-bw) whose real contribution the
// requester's side combines with a fuzzed one.
type fuzzRig struct {
	f          *federation
	fr, lu, de *testNode
	summary    Query // as fr-grandest receives them
	glm        Query
	// template is a real GLM session at fr-grandest, after iteration 0.
	template session
	// deSummary is de-bw's signed summary for the same analysis, and its part.
	deSummary     string
	deSummaryPart Part
	// Real frames: requests to the owner, its answers, and the payloads of
	// the contributions in them.
	requests, answers, payloads [][]byte
}

func newFuzzRig(tb testing.TB) *fuzzRig {
	tb.Helper()
	f := newFederation(tb, "fr-grandest", "lu-luxembourg", "de-bw")
	for i, owner := range []string{"fr-grandest", "de-bw"} {
		f.publish(owner, Dataset{ID: "cohort", Classification: "restricted", Dictionary: dictionaryOf(cohort.Dictionary())},
			cohort.Generate(owner, 300, uint64(i+1)))
	}
	r := &fuzzRig{f: f, fr: f.nodes["fr-grandest"], lu: f.nodes["lu-luxembourg"], de: f.nodes["de-bw"]}
	r.summary = Query{Analysis: "fuzz-summary", Dataset: "cohort", Kind: KindSummary, Variables: []string{"bmi"}, Purpose: "research"}
	r.glm = Query{Analysis: "fuzz-glm", Dataset: "cohort", Kind: KindGLM, Family: "binomial", Formula: "diabetes ~ age + bmi", Purpose: "research"}
	formula, err := tabular.ParseFormula(r.glm.Formula, cohort.Dictionary())
	if err != nil {
		tb.Fatal(err)
	}
	design, err := tabular.NewDesign(formula, cohort.Dictionary())
	if err != nil {
		tb.Fatal(err)
	}
	r.glm.Design = &design

	ctx := context.Background()
	ask := func(to *testNode, req request) answer {
		tb.Helper()
		ans, err := r.lu.svc.roundTrip(ctx, to.m.PeerID, req)
		if err != nil {
			tb.Fatal(err)
		}
		raw, _ := json.Marshal(ans)
		r.answers = append(r.answers, raw)
		if ans.Contribution != "" {
			payload, err := base64.RawURLEncoding.DecodeString(strings.Split(ans.Contribution, ".")[1])
			if err != nil {
				tb.Fatal(err)
			}
			r.payloads = append(r.payloads, payload)
		}
		return ans
	}
	summaryToken := r.query(tb, r.fr, r.summary)
	if ans := ask(r.fr, request{Token: summaryToken}); ans.Contribution == "" {
		tb.Fatalf("the summary was not answered: %+v", ans)
	}
	ask(r.fr, request{Token: summaryToken}) // a replay: refused
	unknown := r.summary
	unknown.Dataset = "nothing"
	if ans := ask(r.fr, request{Token: r.query(tb, r.fr, unknown)}); ans.Decision == nil || ans.Decision.Allow {
		tb.Fatalf("a query on no dataset: %+v", ans)
	}
	opened := ask(r.fr, request{Token: r.query(tb, r.fr, r.glm)})
	if opened.Session == "" {
		tb.Fatalf("the fit was not opened: %+v", opened)
	}
	if ans := ask(r.fr, request{Session: opened.Session, Iteration: 1, Beta: []float64{-5, 0.05, 0.1}}); ans.Contribution == "" {
		tb.Fatalf("iteration 1: %+v", ans)
	}
	r.fr.svc.sessions.mu.Lock()
	r.template = *r.fr.svc.sessions.byID[opened.Session]
	r.fr.svc.sessions.mu.Unlock()
	ask(r.fr, request{Session: opened.Session, Close: true})

	deAns := ask(r.de, request{Token: r.query(tb, r.de, r.summary)})
	r.deSummary = deAns.Contribution
	r.deSummaryPart = Part{Dataset: "de-bw/cohort", Owner: "de-bw", PeerID: r.de.m.PeerID.String(), Query: r.summary,
		Contributions: []string{deAns.Contribution}}
	if _, err := openContribution(r.deSummary, r.deSummaryPart, 0); err != nil {
		tb.Fatal(err)
	}

	for _, req := range []request{
		{Token: r.query(tb, r.fr, r.summary)},
		{Token: r.query(tb, r.fr, r.glm)},
		{Token: summaryToken}, // already used
		{Session: openSession, Iteration: 1, Beta: []float64{-5, 0.05, 0.1}},
		{Session: openSession, Iteration: 2, Beta: []float64{-60 * 50, 0, 60}},
		{Session: openSession, Iteration: 3, Beta: []float64{1e300, -1e300, 1e-300}},
		{Session: openSession, Iteration: 1, Beta: []float64{0, 0}},
		{Session: openSession, Close: true},
		{Session: opened.Session, Iteration: 2, Beta: []float64{0, 0, 0}},
		{Token: "a.b.c"},
		{Token: "x", Session: "y"},
		{},
	} {
		raw, _ := json.Marshal(req)
		r.requests = append(r.requests, raw)
	}
	// The owner's answers pile up in its audit trail; forget them between
	// inputs.
	r.fr.rec.mu.Lock()
	r.fr.rec.records = nil
	r.fr.rec.mu.Unlock()
	return r
}

// query is q, signed by lu-luxembourg for owner, valid for the longest a
// query may be (a fuzzing run outlasts the default).
func (r *fuzzRig) query(tb testing.TB, owner *testNode, q Query) string {
	tb.Helper()
	now := time.Now()
	tok, err := nodejws.Sign(r.lu.key, r.lu.m.PeerID, queryTokenType, queryClaims{
		Issuer: r.lu.m.PeerID.String(), Audience: owner.m.PeerID.String(), ID: newTokenID(),
		IssuedAt: now.Unix(), Expires: now.Add(maxQueryLifetime).Unix(), Researcher: researcher.researcher(), Query: q,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// part is fr-grandest's share of an analysis of q.
func (r *fuzzRig) part(q Query) Part {
	return Part{Dataset: "fr-grandest/cohort", Owner: "fr-grandest", PeerID: r.fr.m.PeerID.String(), Query: q}
}

var refusalCodes = []RefusalCode{RefusalNotMember, RefusalBadToken, RefusalReplay, RefusalExpired, RefusalRegistryBehind,
	RefusalBadQuery, RefusalDisclosure, RefusalDifferencing, RefusalSession, RefusalBusy, RefusalAudit, RefusalInternal}

// FuzzRequestFrame feeds the owner what a member's node could send: any
// bytes as the frame of a round. A frame that does not decode resets the
// stream (frame.Read's error); one that does is answered, never with a
// panic, and the answer is one of: a refusal with a known code and a
// reason and nothing else; a denial; the end of a session; or a
// contribution the owner signed, which opens as the answer to the query
// or iteration asked, over at least the minimum subset of rows.
func FuzzRequestFrame(f *testing.F) {
	r := newFuzzRig(f)
	for _, raw := range r.requests {
		f.Add(raw)
	}
	f.Add([]byte(`{"token":"","session":"","iteration":-1,"beta":[],"close":false}`))
	f.Add([]byte(`{"session":"open-session","iteration":1,"beta":[1,2,3],"extra":1}`))
	f.Add([]byte(`{"session":"open-session","iteration":1,"beta":[1,2,3]} {}`))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req request
		if err := frame.Decode(raw, &req); err != nil {
			return
		}
		asked := req.Session
		if req.Session == openSession {
			sess := r.template
			sess.iteration = max(req.Iteration-1, 0)
			if err := r.fr.svc.sessions.add(&sess); err != nil {
				t.Fatal(err)
			}
			req.Session = sess.id
			defer r.fr.svc.sessions.end(sess.id, r.lu.m.PeerID)
		}
		ans := r.fr.svc.answer(ctx, r.lu.m.PeerID, req)
		if ans.Session != "" {
			defer r.fr.svc.sessions.end(ans.Session, r.lu.m.PeerID)
		}
		r.fr.rec.mu.Lock()
		r.fr.rec.records = nil
		r.fr.rec.mu.Unlock()
		if _, err := json.Marshal(ans); err != nil {
			t.Fatalf("the answer cannot be sent: %v", err)
		}
		switch {
		case ans.Code != "":
			if !slices.Contains(refusalCodes, ans.Code) || ans.Reason == "" || ans.Contribution != "" || ans.Session != "" || ans.Decision != nil {
				t.Fatalf("a malformed refusal: %+v", ans)
			}
		case ans.Contribution == "":
			if ans.Session != "" || (ans.Decision != nil && ans.Decision.Allow) {
				t.Fatalf("an answer with neither a refusal nor a contribution: %+v", ans)
			}
			if ans.Decision == nil && !req.Close {
				t.Fatalf("an empty answer to %+v", req)
			}
		case req.Token != "":
			// An opening: it can only be a query lu-luxembourg signed.
			var c queryClaims
			if err := nodejws.Open(req.Token, r.lu.m.PeerID, queryTokenType, &c); err != nil {
				t.Fatalf("a query that does not verify was answered: %v", err)
			}
			if ans.Decision == nil || !ans.Decision.Allow {
				t.Fatalf("a contribution without an allowing decision: %+v", ans)
			}
			if (c.Query.Kind == KindGLM) != (ans.Session != "") {
				t.Fatalf("a %s opened session %q", c.Query.Kind, ans.Session)
			}
			checkContribution(t, ans.Contribution, r.part(c.Query), 0)
		default:
			if asked != openSession {
				t.Fatalf("session %q, which the owner does not hold, was answered", asked)
			}
			glm := r.glm
			glm.Analysis = r.template.analysis
			c := checkContribution(t, ans.Contribution, r.part(glm), req.Iteration)
			if !slices.Equal(c.Beta, req.Beta) || c.Partial == nil || c.Partial.P != len(req.Beta) || c.Partial.N != r.template.rows {
				t.Fatalf("iteration %d at %v answered with %+v", req.Iteration, req.Beta, c)
			}
		}
	})
}

// checkContribution opens what an owner released as the requester does,
// and checks it is over at least the minimum subset.
func checkContribution(t *testing.T, token string, part Part, iteration int) Contribution {
	t.Helper()
	c, err := openContribution(token, part, iteration)
	if err != nil {
		t.Fatalf("the owner released a contribution the requester refuses: %v", err)
	}
	if c.Rows < c.Limits.MinSubsetRows || c.Limits.MinSubsetRows < 2 {
		t.Fatalf("a contribution over %d rows under limits %+v", c.Rows, c.Limits)
	}
	return c
}

// FuzzAnswerFrame feeds the requester's side what an owner could send:
// any bytes as the frame of an answer, and any JSON as a contribution
// that owner signed (a member's node may be faulty or hostile and still
// hold its key). Nothing panics; a contribution accepted is the one the
// part asked for; a combination accepted can be stored (JSON, so no
// value that is not finite) and verifies.
func FuzzAnswerFrame(f *testing.F) {
	r := newFuzzRig(f)
	for _, a := range r.answers {
		for _, p := range r.payloads {
			f.Add(a, p)
		}
	}
	f.Add([]byte(`{"decision":{"allow":true},"contribution":"e30.e30.e30"}`), []byte(`{"summary":{"n":1e308,"mean":-1e308}}`))
	// The owner's real summary, with values at the edge of what JSON
	// carries: combined with another owner's, they overflow.
	var extreme Contribution
	if err := json.Unmarshal(r.payloads[0], &extreme); err != nil || extreme.Summary == nil {
		f.Fatalf("the first payload is not a summary: %v", err)
	}
	extreme.Summary.Mean, extreme.Summary.M2 = -1.7e308, 1.7e308
	raw, _ := json.Marshal(extreme)
	f.Add(r.answers[0], raw)
	f.Add([]byte(`{"code":"busy","reason":""}`), []byte(`null`))
	ctx := context.Background()
	parts := []struct {
		part      Part
		iteration int
	}{{r.part(r.summary), 0}, {r.part(r.glm), 0}, {r.part(r.glm), 1}}
	f.Fuzz(func(t *testing.T, raw, payload []byte) {
		var ans answer
		if frame.Decode(raw, &ans) == nil {
			for _, p := range parts {
				if c, err := openContribution(ans.Contribution, p.part, p.iteration); err == nil {
					wellFormed(t, c, p.part, p.iteration)
				}
			}
		}
		if !json.Valid(payload) {
			return
		}
		token, err := nodejws.Sign(r.fr.key, r.fr.m.PeerID, contributionTokenType, json.RawMessage(payload))
		if err != nil {
			return
		}
		for _, p := range parts {
			c, err := openContribution(token, p.part, p.iteration)
			if err != nil {
				continue
			}
			wellFormed(t, c, p.part, p.iteration)
			part := p.part
			part.Contributions = []string{token}
			res := Result{Analysis: part.Query.Analysis, Requester: "lu-luxembourg", Researcher: researcher.Subject,
				Spec: Spec{Kind: part.Query.Kind, Datasets: []string{part.Dataset}, Family: part.Query.Family, Formula: part.Query.Formula, Purpose: "research"}}
			if part.Query.Kind != KindGLM {
				res.Parts = []Part{part, r.deSummaryPart}
				res.Spec.Datasets = append(res.Spec.Datasets, r.deSummaryPart.Dataset)
				de, _ := openContribution(r.deSummary, r.deSummaryPart, 0)
				comb, err := combine(part.Query.Kind, []Contribution{c, de})
				if err != nil {
					continue
				}
				if _, err := json.Marshal(comb); err != nil {
					t.Fatalf("the combination cannot be stored: %v (%+v)", err, comb.Summary)
				}
				res.Combined = comb
				if err := Verify(ctx, res); err != nil {
					t.Fatalf("a combination of signed contributions does not verify: %v", err)
				}
				continue
			}
			res.Parts = []Part{part}
			var ve *VerifyError
			if err := Verify(ctx, res); err != nil && !errors.As(err, &ve) {
				t.Fatalf("Verify: untyped error %v", err)
			}
		}
	})
}

// wellFormed checks what openContribution promises of what it accepts.
func wellFormed(t *testing.T, c Contribution, part Part, iteration int) {
	t.Helper()
	want, _ := digest(part.Query)
	if c.Request != want || c.Owner != part.Owner || c.Owner+"/"+c.Dataset != part.Dataset ||
		c.Analysis != part.Query.Analysis || c.Kind != part.Query.Kind || c.Iteration != iteration {
		t.Fatalf("accepted for %s at iteration %d: %+v", part.Dataset, iteration, c)
	}
}

// FuzzSpec validates any JSON as a researcher's spec: never a panic, a
// *SpecError or nothing, and a spec that validates is within its bounds.
func FuzzSpec(f *testing.F) {
	for _, s := range []Spec{
		{Kind: KindSummary, Datasets: cohorts, Variables: []string{"bmi"}, Filter: "age >= 50", Purpose: "research"},
		{Kind: KindTable, Datasets: cohorts, Variables: []string{"sex", "smoker"}, Purpose: "research"},
		{Kind: KindTable, Datasets: cohorts, Variables: []string{"sbp"}, By: "sex", Purpose: "research", Project: "p"},
		{Kind: KindHistogram, Datasets: cohorts, Variables: []string{"age"}, Breaks: []float64{30, 45, 60, 75, 90}, Purpose: "research"},
		{Kind: KindCorrelation, Datasets: cohorts, Variables: []string{"age", "sbp", "bmi"}, Purpose: "research"},
		{Kind: KindGLM, Datasets: cohorts, Formula: "diabetes ~ age + bmi + sex", Family: "binomial", Purpose: "research"},
		{Kind: "regression", Datasets: []string{"a/b/c", "a/b/c", "/x"}, Breaks: []float64{2, 1}},
	} {
		raw, _ := json.Marshal(s)
		f.Add(raw)
	}
	f.Add([]byte(`{"kind":"histogram","datasets":["a/b"],"variables":["v"],"breaks":[1,1e308,-1e308],"purpose":" "}`))
	f.Add([]byte(`{"kind":"glm","datasets":null,"variables":["x"],"family":"Gamma"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var s Spec
		if json.Unmarshal(raw, &s) != nil {
			return
		}
		err := s.Validate()
		_ = s.Owners()
		var se *SpecError
		switch {
		case err != nil && !errors.As(err, &se):
			t.Fatalf("untyped error %v", err)
		case err != nil && len(se.Problems) == 0:
			t.Fatal("a SpecError lists no problem")
		case err != nil:
			return
		}
		if !slices.Contains(Kinds, s.Kind) || len(s.Datasets) == 0 || len(s.Datasets) > MaxDatasets || len(s.Variables) > MaxVariables ||
			strings.TrimSpace(s.Purpose) == "" || len(s.Owners()) > len(s.Datasets) {
			t.Fatalf("a spec out of bounds validates: %+v", s)
		}
		for _, d := range s.Datasets {
			if owner, id, ok := strings.Cut(d, "/"); !ok || owner == "" || id == "" || strings.Contains(id, "/") {
				t.Fatalf("dataset %q validates", d)
			}
		}
		if s.Kind == KindHistogram && !slices.IsSorted(s.Breaks) {
			t.Fatalf("breaks %v validate", s.Breaks)
		}
		if _, err := digest(s); err != nil {
			t.Fatalf("a valid spec has no digest: %v", err)
		}
	})
}
