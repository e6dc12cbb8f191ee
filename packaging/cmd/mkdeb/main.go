// Command mkdeb builds xborder's Debian package with nfpm used as a library:
// the static binary, its systemd unit and environment file, the man pages
// and shell completions generated from that binary, and the maintainer
// scripts of packaging/debian. `make package` runs it.
//
// It lives in its own module (packaging/go.mod): every nfpm release imports
// goreleaser/fileglob, which needs gobwas/glob's syntax/ast package, and
// xborder's module graph has gobwas/glob v1.1.0 (through OPA), which no
// longer has it.
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// opts are mkdeb's inputs, all paths absolute or relative to the working
// directory.
type opts struct {
	Version     string // Debian version, e.g. 1.2.0 or 0.0.0~git20261207.3d08940
	Arch        string // Debian architecture
	Binary      string // the xborder binary to ship
	ManDir      string // man pages (section 1) from `xborder gen-man`, uncompressed
	Completions string // xborder.bash, xborder.zsh, xborder.fish from `xborder completion`
	DebianDir   string // packaging/debian: the unit, the env file, the maintainer scripts
	DocDir      string // docs shipped in /usr/share/doc/xborder (OPERATIONS.md)
	OutDir      string
}

// debVersion is what dpkg accepts as an upstream version without epoch or
// revision: it starts with a digit.
var debVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

func main() {
	var o opts
	flag.StringVar(&o.Version, "version", "", "Debian version of the package (starts with a digit)")
	flag.StringVar(&o.Arch, "arch", "amd64", "Debian architecture")
	flag.StringVar(&o.Binary, "bin", "bin/xborder", "the xborder binary")
	flag.StringVar(&o.ManDir, "man", "", "directory of the man pages (xborder gen-man)")
	flag.StringVar(&o.Completions, "completions", "", "directory with xborder.bash, xborder.zsh, xborder.fish")
	flag.StringVar(&o.DebianDir, "debian", "packaging/debian", "directory of the unit, env file and maintainer scripts")
	flag.StringVar(&o.DocDir, "doc", "docs", "directory holding OPERATIONS.md")
	flag.StringVar(&o.OutDir, "out", "dist", "output directory")
	flag.Parse()
	path, err := build(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkdeb: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

func build(o opts) (string, error) {
	if !debVersion.MatchString(o.Version) {
		return "", fmt.Errorf("version %q: a Debian version starts with a digit and holds only letters, digits and . + ~", o.Version)
	}
	for _, p := range []string{o.Binary, o.ManDir, o.Completions, o.DebianDir, o.DocDir} {
		if p == "" {
			return "", errors.New("-bin, -man, -completions, -debian and -doc are required")
		}
		if _, err := os.Stat(p); err != nil {
			return "", err
		}
	}
	stage, err := os.MkdirTemp("", "mkdeb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)

	contents := files.Contents{
		{Source: o.Binary, Destination: "/usr/bin/xborder", FileInfo: &files.ContentFileInfo{Mode: 0o755}},
		{Source: filepath.Join(o.DebianDir, "xborder.service"), Destination: "/lib/systemd/system/xborder.service",
			FileInfo: &files.ContentFileInfo{Mode: 0o644}},
		// A conffile: dpkg keeps the operator's edits on upgrade and
		// remove, and deletes the file on purge.
		{Source: filepath.Join(o.DebianDir, "xborder.env"), Destination: "/etc/xborder/xborder.env",
			Type: files.TypeConfigNoReplace, FileInfo: &files.ContentFileInfo{Mode: 0o644}},
		{Source: filepath.Join(o.DocDir, "OPERATIONS.md"), Destination: "/usr/share/doc/xborder/OPERATIONS.md",
			FileInfo: &files.ContentFileInfo{Mode: 0o644}},
	}
	for name, dst := range map[string]string{
		"xborder.bash": "/usr/share/bash-completion/completions/xborder",
		"xborder.zsh":  "/usr/share/zsh/vendor-completions/_xborder",
		"xborder.fish": "/usr/share/fish/vendor_completions.d/xborder.fish",
	} {
		src := filepath.Join(o.Completions, name)
		if fi, err := os.Stat(src); err != nil || fi.Size() == 0 {
			return "", fmt.Errorf("completion %s missing or empty", src)
		}
		contents = append(contents, &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: 0o644}})
	}
	pages, err := gzipManPages(o.ManDir, filepath.Join(stage, "man1"))
	if err != nil {
		return "", err
	}
	for _, p := range pages {
		contents = append(contents, &files.Content{Source: p, Destination: "/usr/share/man/man1/" + filepath.Base(p),
			FileInfo: &files.ContentFileInfo{Mode: 0o644}})
	}

	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          "xborder",
		Arch:          o.Arch,
		Platform:      "linux",
		Version:       o.Version,
		VersionSchema: "none", // the Makefile gives a Debian version already
		Section:       "net",
		Priority:      "optional",
		Maintainer:    "xborder operators <operators@xborder.invalid>",
		Homepage:      "https://github.com/xborder/xborder",
		Description: "node of a cross-border AI data federation\n" +
			"xborder runs one partner region's node of a federation that shares dataset\n" +
			"and model catalogues, decides every cross-border request with Rego policies,\n" +
			"moves data peer to peer and keeps a replicated registry of joint projects.\n" +
			"This package runs the node as the systemd service xborder.service, as its\n" +
			"own system user, with its data in /var/lib/xborder.",
		Overridables: nfpm.Overridables{
			// The postinst creates the user with adduser, or with
			// useradd (passwd) where adduser is not installed;
			// procps has the unit's ExecReload=/bin/kill.
			Depends:  []string{"adduser | passwd", "procps"},
			Contents: contents,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(o.DebianDir, "postinst"),
				PreRemove:   filepath.Join(o.DebianDir, "prerm"),
				PostRemove:  filepath.Join(o.DebianDir, "postrm"),
			},
			Deb: nfpm.Deb{Compression: "xz"},
		},
	})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(o.OutDir, fmt.Sprintf("xborder_%s_%s.deb", o.Version, o.Arch))
	// Written beside the target and renamed: a failed build leaves no
	// truncated .deb that a later step would install.
	tmp, err := os.CreateTemp(o.OutDir, ".xborder-*.deb")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := deb.Default.Package(info, tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("deb: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", err
	}
	return out, os.Rename(tmp.Name(), out)
}

// gzipManPages compresses each NAME.1 of dir into dst/NAME.1.gz, as Debian
// ships man pages: gzip -9n, no name and no time in the header, so that the
// package is reproducible.
func gzipManPages(dir, dst string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".1") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if _, err := zw.Write(raw); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		p := filepath.Join(dst, e.Name()+".gz")
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if !slices.ContainsFunc(out, func(p string) bool { return filepath.Base(p) == "xborder.1.gz" }) {
		return nil, fmt.Errorf("%s has no xborder.1: run `xborder gen-man %s` first", dir, dir)
	}
	return out, nil
}
