package node

import (
	"log/slog"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/xborder/xborder/node/api"
)

func TestMain(m *testing.M) {
	// raft never resolves an apply future whose entry was committed but not
	// applied when it shut down; the registry stops waiting on it at Close
	// and leaves that one goroutine behind (see consensus.Registry.wait).
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/xborder/xborder/consensus.(*Registry).wait.func1"))
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o644) }

// testLogger sends a node's logs at Warn and above to the test log, so
// they show up only when a test fails (as nodetest.Logger does).
func testLogger(t testing.TB, name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", name)
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// counterValue sums a counter family from the node's registry.
func counterValue(t *testing.T, n *Node, name string) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// operator is the node's operator, who sees every transfer.
var operator = api.User{Subject: "ops@region", Role: api.RoleOperator}
