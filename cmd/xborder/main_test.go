package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/xborder/xborder/cmd/xborder/internal/signins"
)

// Every node a test starts must be gone, goroutines included, after Close.
// No test reads or writes the sign-ins of whoever runs them: the config
// dir is one of the tests' own.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xborder-config-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv(signins.EnvDir, dir)
	// raft never resolves an apply future whose entry was committed but not
	// applied when it shut down; the registry stops waiting on it at Close
	// and leaves that one goroutine behind (see consensus.Registry.wait).
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/xborder/xborder/consensus.(*Registry).wait.func1"),
		goleak.Cleanup(func(code int) {
			os.RemoveAll(dir)
			os.Exit(code)
		}))
}
