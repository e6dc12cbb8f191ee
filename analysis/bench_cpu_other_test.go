//go:build !unix

package analysis

import "time"

// processCPU is not measured here: the benchmarks' CPU figures read 0.
func processCPU() time.Duration { return 0 }
