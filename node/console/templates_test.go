package console

import (
	"io/fs"
	"path"
	"testing"
)

// The page templates are parsed on the first page served, not by New:
// every embedded page must parse, and each be found under its file name.
func TestPageTemplatesParse(t *testing.T) {
	pages, err := sharedPages()
	if err != nil {
		t.Fatalf("the embedded templates do not parse: %v", err)
	}
	names, err := fs.Glob(templatesFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		name := path.Base(n)
		if name == "layout.html" || name == "partials.html" {
			continue
		}
		if pages[name] == nil {
			t.Errorf("page %s was not parsed", name)
		}
	}
	if len(pages) == 0 {
		t.Fatal("no page parsed")
	}
}
