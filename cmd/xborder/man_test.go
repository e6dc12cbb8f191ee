package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The package ships these pages: one per command, hidden commands left
// out, the date fixed by SOURCE_DATE_EPOCH so that builds are reproducible.
func TestGenManWritesTheCommandTree(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "86400")
	dir := t.TempDir()
	if code, _, errs := xb(t, "gen-man", dir); code != exitOK {
		t.Fatalf("gen-man: exit %d, %q", code, errs)
	}
	run, err := os.ReadFile(filepath.Join(dir, "xborder-run.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".TH \"XBORDER\" \"1\" \"Jan 1970\"", "SIGHUP", "--genesis FILE"} {
		if !strings.Contains(string(run), want) {
			t.Errorf("xborder-run.1 lacks %q", want)
		}
	}
	for _, page := range []string{"xborder.1", "xborder-init.1", "xborder-healthcheck.1", "xborder-completion-bash.1"} {
		if _, err := os.Stat(filepath.Join(dir, page)); err != nil {
			t.Errorf("missing %s: %v", page, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "xborder-gen-man.1")); err == nil {
		t.Error("the hidden gen-man command has a man page")
	}
	if code, _, _ := xb(t, "gen-man"); code != exitUsage {
		t.Errorf("gen-man without DIR: exit %d, want %d", code, exitUsage)
	}
}
