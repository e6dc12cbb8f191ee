package console

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

//go:embed i18n/*.json
var i18nFS embed.FS

// Languages of the console's own text; data stays as published.
var Languages = []string{"en", "fr", "de"}

const defaultLang = "en"

// langCookie remembers a language picked with ?lang=.
const langCookie = "xborder_lang"

// messages maps language -> key -> text (fmt verbs for arguments).
type messages map[string]map[string]string

func loadMessages() (messages, error) {
	m := messages{}
	for _, l := range Languages {
		raw, err := i18nFS.ReadFile("i18n/" + l + ".json")
		if err != nil {
			return nil, err
		}
		var cat map[string]string
		if err := json.Unmarshal(raw, &cat); err != nil {
			return nil, fmt.Errorf("i18n/%s.json: %w", l, err)
		}
		m[l] = cat
	}
	return m, nil
}

// text translates key into lang, falling back to English and then to the
// key itself, so that a missing translation shows rather than breaks.
func (m messages) text(lang, key string, args ...any) string {
	s, ok := m[lang][key]
	if !ok {
		if s, ok = m[defaultLang][key]; !ok {
			s = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// pickLang: ?lang= (remembered in a cookie), then the cookie, then the
// browser's Accept-Language, then English.
func pickLang(w http.ResponseWriter, r *http.Request, secure bool) string {
	if l := r.URL.Query().Get("lang"); slices.Contains(Languages, l) {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure})
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil && slices.Contains(Languages, c.Value) {
		return c.Value
	}
	return fromAcceptLanguage(r.Header.Get("Accept-Language"))
}

// fromAcceptLanguage picks the supported language the header weighs
// highest (RFC 9110 section 12.5.4).
func fromAcceptLanguage(h string) string {
	best, bestQ := defaultLang, -1.0
	for part := range strings.SplitSeq(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if slices.Contains(Languages, primary) && q > bestQ && q > 0 {
			best, bestQ = primary, q
		}
	}
	return best
}
