package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fixture lays out mkdeb's inputs with a stand-in binary and the repository's
// real unit, env file, scripts and OPERATIONS.md.
func fixture(t *testing.T) opts {
	t.Helper()
	dir := t.TempDir()
	write := func(p, s string, mode os.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
	}
	o := opts{
		Version: "1.2.3~rc1", Arch: "amd64",
		Binary:      filepath.Join(dir, "xborder"),
		ManDir:      filepath.Join(dir, "man"),
		Completions: filepath.Join(dir, "completions"),
		DebianDir:   "../../debian",
		DocDir:      "../../../docs",
		OutDir:      filepath.Join(dir, "dist"),
	}
	write(o.Binary, "#!/bin/sh\n", 0o755)
	write(filepath.Join(o.ManDir, "xborder.1"), ".TH \"XBORDER\" \"1\"\n", 0o644)
	write(filepath.Join(o.ManDir, "xborder-run.1"), ".TH \"XBORDER\" \"1\"\nSIGHUP\n", 0o644)
	for _, sh := range []string{"bash", "zsh", "fish"} {
		write(filepath.Join(o.Completions, "xborder."+sh), "# "+sh+"\n", 0o644)
	}
	return o
}

func TestBuildWritesTheDeb(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "86400")
	o := fixture(t)
	path, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "xborder_1.2.3~rc1_amd64.deb" {
		t.Fatalf("package named %s", path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("!<arch>\ndebian-binary")) {
		t.Fatal("not a Debian ar archive")
	}
	entries, _ := os.ReadDir(o.OutDir)
	if len(entries) != 1 {
		t.Fatalf("output dir holds %d files, want the package alone", len(entries))
	}
	// Two builds of the same inputs at the same SOURCE_DATE_EPOCH are
	// identical.
	again, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	if raw2, _ := os.ReadFile(again); !bytes.Equal(raw, raw2) {
		t.Error("two builds differ: the package is not reproducible")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed: contents not checked")
	}
	list, err := exec.Command("dpkg-deb", "-c", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v: %s", err, list)
	}
	for _, want := range []string{
		"-rwxr-xr-x root/root", "./usr/bin/xborder",
		"./lib/systemd/system/xborder.service", "./etc/xborder/xborder.env",
		"./usr/share/man/man1/xborder.1.gz", "./usr/share/man/man1/xborder-run.1.gz",
		"./usr/share/bash-completion/completions/xborder", "./usr/share/zsh/vendor-completions/_xborder",
		"./usr/share/fish/vendor_completions.d/xborder.fish", "./usr/share/doc/xborder/OPERATIONS.md",
		"1970-01-02 00:00",
	} {
		if !strings.Contains(string(list), want) {
			t.Errorf("package lacks %q:\n%s", want, list)
		}
	}
	ctl, err := exec.Command("dpkg-deb", "-f", path, "Depends", "Version").CombinedOutput()
	if err != nil || !strings.Contains(string(ctl), "Depends: adduser | passwd, procps") || !strings.Contains(string(ctl), "Version: 1.2.3~rc1") {
		t.Errorf("control fields: %v: %s", err, ctl)
	}
	conf, err := exec.Command("dpkg-deb", "--ctrl-tarfile", path).Output()
	if err != nil || !bytes.Contains(conf, []byte("/etc/xborder/xborder.env")) || !bytes.Contains(conf, []byte("deb-systemd-helper purge")) {
		t.Errorf("control archive lacks the conffile or the postrm: %v", err)
	}
}

func TestBuildRefusesBadInput(t *testing.T) {
	for _, v := range []string{"", "v1.2.3", "1.2.3-1", "dev", "1.0 beta"} {
		o := fixture(t)
		o.Version = v
		if _, err := build(o); err == nil || !strings.Contains(err.Error(), "Debian version") {
			t.Errorf("version %q: %v", v, err)
		}
	}
	o := fixture(t)
	if err := os.Remove(filepath.Join(o.ManDir, "xborder.1")); err != nil {
		t.Fatal(err)
	}
	if _, err := build(o); err == nil || !strings.Contains(err.Error(), "no xborder.1") {
		t.Errorf("without xborder.1: %v", err)
	}
	o = fixture(t)
	if err := os.WriteFile(filepath.Join(o.Completions, "xborder.zsh"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := build(o); err == nil || !strings.Contains(err.Error(), "xborder.zsh") {
		t.Errorf("empty zsh completion: %v", err)
	}
	o = fixture(t)
	o.Binary = filepath.Join(t.TempDir(), "missing")
	if _, err := build(o); err == nil {
		t.Error("a missing binary was packaged")
	}
	if entries, _ := os.ReadDir(o.OutDir); len(entries) != 0 {
		t.Errorf("a refused build left %d files in the output dir", len(entries))
	}
}
