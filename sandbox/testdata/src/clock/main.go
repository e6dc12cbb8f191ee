// Command clock prints what it can learn of time and randomness: the wall
// clock, the clock after a one-hour sleep, random numbers from
// crypto/rand and math/rand/v2.
package main

import (
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"
)

func main() {
	start := time.Now()
	fmt.Println("now", start.UnixNano())
	time.Sleep(time.Hour)
	fmt.Println("slept", time.Since(start))
	b := make([]byte, 16)
	if _, err := crand.Read(b); err != nil {
		panic(err)
	}
	fmt.Println("crypto", hex.EncodeToString(b))
	fmt.Println("math", rand.Uint64())
}
