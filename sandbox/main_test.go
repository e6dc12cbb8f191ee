package sandbox_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// The test modules are Go programs under testdata/src, built for wasip1
// once per test process (the build cache makes later builds cheap).
var (
	// cacheDir is the compiled-code cache every test's sandbox shares, so
	// that each module is compiled once per process (compiling is slow
	// under -race).
	cacheDir string

	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	var err error
	if cacheDir, err = os.MkdirTemp("", "sandbox-cache-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(cacheDir)
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines outlived the sandboxes:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// module is the test module built from testdata/src/name.
func module(tb testing.TB, name string) []byte {
	tb.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "sandbox-wasm-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", buildDir+"/", "./testdata/src/...")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build of the test modules: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	bin, err := os.ReadFile(filepath.Join(buildDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}
