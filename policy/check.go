package policy

import (
	"strings"
)

// CheckResult summarises a successful strict compile.
type CheckResult struct {
	Modules   int
	DataFiles int
}

// Check compiles every module of dir, tests included, strictly: the same
// check as `opa check --strict`.
func Check(dir string) (CheckResult, error) {
	_, res, err := compileDir(dir, true)
	if err != nil {
		return CheckResult{}, err
	}
	n := 0
	paths, _ := listFiles(dir, true)
	for _, p := range paths {
		if strings.HasSuffix(p, ".json") {
			n++
		}
	}
	return CheckResult{Modules: len(res.Modules), DataFiles: n}, nil
}
