package main

import (
	"strings"
	"testing"
)

// dataset publish offers the owner's choice to list a protected entry in
// the public catalogue.
func TestCLIDatasetPublishHasListPublicly(t *testing.T) {
	code, out, errOut := xb(t, "dataset", "publish", "--help")
	if code != 0 || !strings.Contains(out+errOut, "--list-publicly") {
		t.Errorf("dataset publish --help = %d:\n%s%s", code, out, errOut)
	}
}
