package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/policy"
)

var funcs = template.FuncMap{
	"bytes": func(n int64) string {
		const unit = 1024
		if n < unit {
			return fmt.Sprintf("%d B", n)
		}
		div, exp := int64(unit), 0
		for m := n / unit; m >= unit; m /= unit {
			div *= unit
			exp++
		}
		return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"unixms": func(ms int64) time.Time {
		if ms == 0 {
			return time.Time{}
		}
		return time.UnixMilli(ms).UTC()
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
	"join": strings.Join,
	"pct": func(a, b int64) int64 {
		if b <= 0 {
			return 0
		}
		return a * 100 / b
	},
	"rtt": func(ms float64) string {
		if ms <= 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f ms", ms)
	},
	"pretty": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	},
	"rawjson": func(raw json.RawMessage) string {
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return string(raw)
		}
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // the template escapes; keep the text readable
		_ = enc.Encode(v)
		return strings.TrimSpace(b.String())
	},
	"has": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
	"metric":  func(v float64) string { return fmt.Sprintf("%.4g", v) },
	"num":     num,
	"pvalue":  pvalue,
	"exp":     math.Exp,
	"supmark": suppressionMark,
	"bins":    binRange,
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, errors.New("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, errors.New("dict: keys must be strings")
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
}

// sharedPages are the parsed page templates, parsed on first use and
// shared by the consoles of the process: they are embedded, and their
// functions (funcs) hold no console's state.
var sharedPages = sync.OnceValues(parsePages)

// parsePages parses templates/layout.html with each page template.
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templatesFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templatesFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := path.Base(n)
		if name == "layout.html" || name == "partials.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templatesFS, n)
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// classify maps a node error to the HTTP status the API would answer, with
// the policy's reasons when a policy refused.
func classify(err error) (code int, reasons, rules []string) {
	var denied *policy.DeniedError
	var refusedAgr *exchange.AgreementRefusedError
	var refused *exchange.RefusedError
	var integrity *exchange.IntegrityError
	var invalid *exchange.ValidationError
	var rejected *consensus.RejectedError
	var tooBig *http.MaxBytesError
	var notApplied *consensus.NotAppliedError
	var badSpec *analysis.SpecError
	switch {
	case errors.As(err, &badSpec):
		return http.StatusBadRequest, badSpec.Problems, nil
	case errors.Is(err, analysis.ErrNotFound):
		return http.StatusNotFound, nil, nil
	case errors.Is(err, analysis.ErrClosed):
		return http.StatusServiceUnavailable, nil, nil
	case errors.As(err, &denied):
		return http.StatusForbidden, denied.Decision.Reasons, denied.Decision.Rules
	case errors.As(err, &refusedAgr):
		for _, p := range refusedAgr.Draft.Refusals() {
			if p.Error != "" {
				reasons = append(reasons, p.Member+": "+p.Error)
				continue
			}
			for _, r := range p.Decision.Reasons {
				reasons = append(reasons, p.Member+": "+r)
			}
			rules = append(rules, p.Decision.Rules...)
		}
		return http.StatusForbidden, reasons, rules
	case errors.Is(err, exchange.ErrAuditUnavailable):
		return http.StatusServiceUnavailable, nil, nil
	case errors.As(err, &refused):
		return http.StatusForbidden, nil, nil
	case errors.As(err, &integrity):
		return http.StatusBadGateway, nil, nil
	case errors.As(err, &invalid):
		return http.StatusBadRequest, invalid.Problems, nil
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, nil, nil
	case errors.As(err, &rejected):
		return http.StatusConflict, nil, nil
	case errors.As(err, &notApplied):
		return http.StatusAccepted, nil, nil
	case errors.Is(err, exchange.ErrNotFound), errors.Is(err, consensus.ErrNotFound), errors.Is(err, exchange.ErrNoDraft):
		return http.StatusNotFound, nil, nil
	case errors.Is(err, exchange.ErrAgreementExists), errors.Is(err, exchange.ErrAgreementRefused), errors.Is(err, exchange.ErrTransferRunning):
		return http.StatusConflict, nil, nil
	case errors.Is(err, exchange.ErrBadName):
		return http.StatusBadRequest, nil, nil
	case errors.Is(err, consensus.ErrCommandTooLarge):
		return http.StatusRequestEntityTooLarge, nil, nil
	case errors.Is(err, consensus.ErrNoLeader), errors.Is(err, consensus.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, nil, nil
	case errors.Is(err, errNotOwn):
		return http.StatusForbidden, nil, nil
	case errors.Is(err, errBadForm):
		return http.StatusBadRequest, nil, nil
	}
	return http.StatusBadGateway, nil, nil
}

var errBadForm = errors.New("the form is incomplete")
