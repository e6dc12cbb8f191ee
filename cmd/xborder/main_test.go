package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Every node a test starts must be gone, goroutines included, after Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
