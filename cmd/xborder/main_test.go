package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Every node a test starts must be gone, goroutines included, after Close.
func TestMain(m *testing.M) {
	// raft never resolves an apply future whose entry was committed but not
	// applied when it shut down; the registry stops waiting on it at Close
	// and leaves that one goroutine behind (see consensus.Registry.wait).
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/xborder/xborder/consensus.(*Registry).wait.func1"))
}
