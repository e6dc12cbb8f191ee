package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/xborder/xborder/analysis"
)

// Analyses is the federated analysis service as the API exposes it
// (*analysis.Service).
type Analyses interface {
	Start(ctx context.Context, c analysis.Caller, spec analysis.Spec) (analysis.Status, error)
	Analysis(ctx context.Context, c analysis.Caller, id string) (analysis.Status, error)
	// Wait returns the analysis once its version is past after, or the
	// current state when ctx ends.
	Wait(ctx context.Context, c analysis.Caller, id string, after uint64) (analysis.Status, error)
	Analyses(ctx context.Context, c analysis.Caller) ([]analysis.Status, error)
}

// AnalysisCaller is the user as the analyses know them.
func (u User) AnalysisCaller() analysis.Caller {
	return analysis.Caller{Subject: u.Subject, Org: u.Org, Role: u.Role}
}

// An analysis read may wait for a change: GET /v1/analyses/{id}?after=V
// holds the answer until the analysis' version passes V (or ?wait=, at
// most MaxIndexWait, elapses), so a client follows progress without
// polling. POST /v1/analyses?wait=D holds the answer until the analysis
// has ended, within D.
const maxResultBody = 32 << 20

// VerifyAnswer is the answer of POST /v1/analyses/verify.
type VerifyAnswer struct {
	Valid   bool   `json:"valid"`
	Problem string `json:"problem,omitempty"`
	// Members says, for each contribution's owner, whether the registry
	// lists that peer ID under that name.
	Members map[string]bool `json:"members"`
	// FormerKeys names the owners whose contributions a key signed that a
	// re-key vote has since replaced, with when: genuine only if the
	// result was made before then, which the signature cannot show (a
	// stolen key can sign with any date).
	FormerKeys map[string]time.Time `json:"former_keys,omitempty"`
}

func (s *Server) routeAnalyses() {
	s.handle("POST /v1/analyses", true, func(w http.ResponseWriter, r *http.Request) {
		var spec analysis.Spec
		if code, err := decodeBody(w, r, &spec); err != nil {
			writeError(w, code, err.Error())
			return
		}
		wait, ok := waitParam(w, r)
		if !ok {
			return
		}
		u, _ := UserFrom(r.Context())
		st, err := s.analyses.Start(r.Context(), u.AnalysisCaller(), spec)
		if err != nil {
			writeAnalysisError(w, err)
			return
		}
		if wait > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), wait)
			defer cancel()
			for !st.Done() && ctx.Err() == nil {
				if st, err = s.analyses.Wait(ctx, u.AnalysisCaller(), st.ID, st.Version); err != nil {
					writeAnalysisError(w, err)
					return
				}
			}
		}
		code := http.StatusAccepted
		if st.Done() {
			code = http.StatusOK
		}
		writeJSON(w, code, st)
	})
	s.handle("GET /v1/analyses", true, func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		list, err := s.analyses.Analyses(r.Context(), u.AnalysisCaller())
		if err != nil {
			writeAnalysisError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, list)
	})
	s.handle("GET /v1/analyses/{id}", true, func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		id := r.PathValue("id")
		raw := r.URL.Query().Get("after")
		if raw == "" {
			st, err := s.analyses.Analysis(r.Context(), u.AnalysisCaller(), id)
			if err != nil {
				writeAnalysisError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, st)
			return
		}
		after, err := strconv.ParseUint(raw, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("after %q: want the version of the analysis last seen (an unsigned integer)", raw))
			return
		}
		wait, ok := waitParam(w, r)
		if !ok {
			return
		}
		if wait == 0 {
			wait = DefaultIndexWait
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		st, err := s.analyses.Wait(ctx, u.AnalysisCaller(), id, after)
		if err != nil {
			writeAnalysisError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	s.handle("POST /v1/analyses/verify", true, func(w http.ResponseWriter, r *http.Request) {
		var res analysis.Result
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxResultBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&res); err != nil {
			var tooBig *http.MaxBytesError
			switch {
			case errors.As(err, &tooBig):
				writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the result exceeds %d bytes", maxResultBody))
			case errors.Is(err, io.EOF):
				writeError(w, http.StatusBadRequest, "the request body is empty")
			default:
				writeError(w, http.StatusBadRequest, "the request body is not an analysis result: "+err.Error())
			}
			return
		}
		out := VerifyAnswer{Valid: true, Members: map[string]bool{}}
		if err := analysis.Verify(r.Context(), res); err != nil {
			out.Valid, out.Problem = false, err.Error()
		}
		members, _, _, err := s.registry.Members(r.Context())
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "the registry cannot be read: "+err.Error())
			return
		}
		for _, p := range res.Parts {
			listed := false
			for _, m := range members {
				if m.Name != p.Owner {
					continue
				}
				listed = m.PeerID == p.PeerID
				for _, k := range m.FormerKeys {
					if k.PeerID == p.PeerID {
						if out.FormerKeys == nil {
							out.FormerKeys = map[string]time.Time{}
						}
						out.FormerKeys[p.Owner] = time.UnixMilli(k.Until).UTC()
					}
				}
			}
			out.Members[p.Owner] = listed
			if until, former := out.FormerKeys[p.Owner]; !listed && former && out.Valid {
				out.Valid, out.Problem = false, fmt.Sprintf("%s signed with a key the federation replaced at %s (a re-key vote): "+
					"genuine only if the result predates that, which its signature cannot show", p.Owner, until.Format(time.RFC3339))
			} else if !listed && out.Valid {
				out.Valid, out.Problem = false, fmt.Sprintf("%s is not the member %s of this federation", p.PeerID, p.Owner)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// waitParam reads ?wait= (a Go duration, at most MaxIndexWait); 0 when
// absent. It answers 400 and returns false for a malformed one.
func waitParam(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, true
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("wait %q: want a duration such as 10s (at most %v)", v, MaxIndexWait))
		return 0, false
	}
	return min(d, MaxIndexWait), true
}

// writeAnalysisError: a spec that cannot be answered is 400 with every
// problem; an analysis the caller may not see 404; a closing node, or an
// audit trail that cannot record the start, 503.
func writeAnalysisError(w http.ResponseWriter, err error) {
	var spec *analysis.SpecError
	switch {
	case errors.As(err, &spec):
		writeJSON(w, http.StatusBadRequest, Error{Error: err.Error(), Code: http.StatusBadRequest, Reasons: spec.Problems})
	case errors.Is(err, analysis.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, analysis.ErrClosed), errors.Is(err, analysis.ErrAuditUnavailable):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}
