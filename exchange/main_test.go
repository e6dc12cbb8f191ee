package exchange

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them: every
// Service must have stopped its jobs, handlers and pruner by Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
