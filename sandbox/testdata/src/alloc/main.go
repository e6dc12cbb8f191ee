// Command alloc keeps allocating 8 MiB blocks until it is stopped.
package main

import "fmt"

func main() {
	var keep [][]byte
	for {
		b := make([]byte, 8<<20)
		for j := range b {
			b[j] = byte(j)
		}
		keep = append(keep, b)
		fmt.Println(len(keep)*8, "MiB")
	}
}
