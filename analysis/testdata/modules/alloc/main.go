// Command alloc is a predictor that keeps allocating 8 MiB blocks.
package main

import "fmt"

func main() {
	var keep [][]byte
	for {
		b := make([]byte, 8<<20)
		b[len(b)-1] = 1
		keep = append(keep, b)
		fmt.Println(len(keep))
	}
}
