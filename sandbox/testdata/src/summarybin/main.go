// Command summarybin prints the count, mean and standard deviation of the
// little-endian float64 values of /data/input.f64. summarizeBinary is the
// same code as the native function BenchmarkSummaryNativeVsSandboxed
// measures against.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

func main() {
	f, err := os.Open("/data/input.f64")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	n, mean, sd, err := summarizeBinary(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d %.9g %.9g\n", n, mean, sd)
}

func summarizeBinary(r io.Reader) (n int, mean, sd float64, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var m2 float64
	var b [8]byte
	for {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return 0, 0, 0, err
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
		n++
		d := v - mean
		mean += d / float64(n)
		m2 += d * (v - mean)
	}
	if n > 1 {
		sd = math.Sqrt(m2 / float64(n-1))
	}
	return n, mean, sd, nil
}
