// Command loop never ends.
package main

var n int

func main() {
	for {
		n++
	}
}
