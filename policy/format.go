package policy

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
)

// FormatResult is one module that formatting changed (or would change).
type FormatResult struct {
	Path      string
	Original  []byte
	Formatted []byte
}

// Format formats every .rego file of dir as `opa fmt` does. With write, the
// changed files are rewritten in place.
func Format(dir string, write bool) ([]FormatResult, error) {
	paths, err := listFiles(dir, true)
	if err != nil {
		return nil, err
	}
	var out []FormatResult
	for _, p := range paths {
		if !strings.HasSuffix(p, ".rego") {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		formatted, err := format.SourceWithOpts(p, src, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("format %s: %w", p, err)
		}
		if bytes.Equal(src, formatted) {
			continue
		}
		out = append(out, FormatResult{Path: p, Original: src, Formatted: formatted})
		if write {
			info, err := os.Stat(p)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(p, formatted, info.Mode().Perm()); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
