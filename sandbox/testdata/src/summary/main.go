// Command summary prints the count, mean and standard deviation of the
// last column of /data/input.csv. summarize is the same code as the
// native function BenchmarkSummaryNativeVsSandboxed measures against.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

func main() {
	f, err := os.Open("/data/input.csv")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	n, mean, sd, err := summarize(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d %.9g %.9g\n", n, mean, sd)
}

func summarize(r io.Reader) (n int, mean, sd float64, err error) {
	sc := bufio.NewScanner(bufio.NewReaderSize(r, 1<<16))
	sc.Scan() // header
	var m2 float64
	for sc.Scan() {
		line := sc.Bytes()
		v, err := strconv.ParseFloat(string(line[bytes.LastIndexByte(line, ',')+1:]), 64)
		if err != nil {
			return 0, 0, 0, err
		}
		n++
		d := v - mean
		mean += d / float64(n)
		m2 += d * (v - mean)
	}
	if err := sc.Err(); err != nil {
		return 0, 0, 0, err
	}
	if n > 1 {
		sd = math.Sqrt(m2 / float64(n-1))
	}
	return n, mean, sd, nil
}
