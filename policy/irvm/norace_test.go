//go:build !race

package irvm_test

const raceEnabled = false
