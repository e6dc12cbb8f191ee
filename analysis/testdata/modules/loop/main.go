// Command loop is a predictor that never ends.
package main

var n int

func main() {
	for {
		n++
	}
}
