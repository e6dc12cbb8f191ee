// Command echo reads its standard input and /data/input.csv and writes a
// summary of both: what a module given a request and a dataset sees.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

func main() {
	req, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	f, err := os.Open("/data/input.csv")
	if err != nil {
		fail(err)
	}
	defer f.Close()
	rows, sum := 0, 0.0
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ",")
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			fail(err)
		}
		rows++
		sum += v
	}
	if err := sc.Err(); err != nil {
		fail(err)
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"request": string(req), "args": os.Args, "env": os.Environ(), "rows": rows, "sum": sum,
	})
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
