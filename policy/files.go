package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// isPolicyFile selects what a bundle is made of: Rego modules and JSON data.
func isPolicyFile(path string, withTests bool) bool {
	switch {
	case strings.HasSuffix(path, "_test.rego"):
		return withTests
	case strings.HasSuffix(path, ".rego"), strings.HasSuffix(path, ".json"):
		return true
	}
	return false
}

// listFiles walks dir for the files a bundle (or its tests) is made of.
func listFiles(dir string, withTests bool) ([]string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("policy directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("policy directory %s is not a directory", dir)
	}
	var out []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if isPolicyFile(path, withTests) {
			out = append(out, path)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// hashFiles is the bundle hash: SHA-256 over each file's relative path and
// content hash, in path order, so that renaming a file changes it too.
func hashFiles(dir string, paths []string) (string, []File, error) {
	h := sha256.New()
	files := make([]File, 0, len(paths))
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return "", nil, err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		sum := sha256.Sum256(raw)
		f := File{Path: rel, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(raw))}
		fmt.Fprintf(h, "%s %s\n", f.Path, f.SHA256)
		files = append(files, f)
	}
	return hex.EncodeToString(h.Sum(nil)), files, nil
}
