// Package testwasm builds Go packages as WASI preview-1 modules for the
// tests that run them in the sandbox, as `make wasm` builds the examples.
package testwasm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	built = map[string][]byte{} // by package path as given
)

// Build returns the module that `GOOS=wasip1 GOARCH=wasm go build pkg`
// makes, pkg relative to the test's package directory; a package is built
// once per test process.
func Build(tb testing.TB, pkg string) []byte {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if bin, ok := built[pkg]; ok {
		return bin
	}
	dir, err := os.MkdirTemp("", "testwasm-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "module.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatal(fmt.Errorf("build %s for wasip1: %v\n%s", pkg, err, msg))
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	built[pkg] = bin
	return bin
}
