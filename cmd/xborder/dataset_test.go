package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
)

// dataset publish offers the owner's choice to list a protected entry in
// the public catalogue.
func TestCLIDatasetPublishHasListPublicly(t *testing.T) {
	code, out, errOut := xb(t, "dataset", "publish", "--help")
	if code != 0 || !strings.Contains(out+errOut, "--list-publicly") {
		t.Errorf("dataset publish --help = %d:\n%s%s", code, out, errOut)
	}
}

// datasetWithDictionary publishes a dataset with its data dictionary on
// the node in dir fr and waits for the partner in dir de to list it; a
// dictionary file with a misspelt field is a usage error, an invalid
// dictionary the node's refusal naming the problem.
func datasetWithDictionary(t *testing.T, tmp, fr, de string) {
	t.Helper()
	file := func(name, content string) string {
		path := filepath.Join(tmp, name)
		must(t, os.WriteFile(path, []byte(content), 0o600))
		return path
	}
	data := file("cohort.csv", "pid,age,sex\nP1,54,F\n")
	publish := func(dict string) (int, string, string) {
		return xb(t, "--data", fr, "dataset", "publish", data, "--id", "cohort", "--title", "Cohort", "--theme", "health",
			"--classification", "open", "--dictionary", dict, "--json")
	}
	misspelt := file("misspelt.json", `{"columns": [{"name": "sex", "type": "categorical", "level": ["F"]}]}`)
	if code, _, errs := publish(misspelt); code != exitUsage || !strings.Contains(errs, `unknown field "level"`) {
		t.Fatalf("a misspelt dictionary: exit %d %q", code, errs)
	}
	invalid := file("invalid.json", `{"columns": [{"name": "pid", "type": "text"}, {"name": "age", "type": "integer"}]}`)
	if code, _, errs := publish(invalid); code != exitError || !strings.Contains(errs, `dictionary: column \"pid\": type text is for identifier columns only`) &&
		!strings.Contains(errs, `dictionary: column "pid": type text is for identifier columns only`) {
		t.Fatalf("an invalid dictionary: exit %d %q", code, errs)
	}
	valid := file("dictionary.json", `{"columns": [{"name": "pid", "type": "text", "identifier": true},
		{"name": "age", "type": "integer", "unit": "year"}, {"name": "sex", "type": "categorical", "levels": ["F", "M"]}]}`)
	code, out, errs := publish(valid)
	if code != 0 {
		t.Fatalf("publish with a dictionary: exit %d %q", code, errs)
	}
	var e exchange.Entry
	must(t, json.Unmarshal([]byte(out), &e))
	if e.Dictionary == nil || len(e.Dictionary.Columns) != 3 || !e.Dictionary.Columns[0].Identifier {
		t.Fatalf("published dictionary: %+v", e.Dictionary)
	}
	testkit.EventuallyNil(t, 30*time.Second, "de-bw lists the dictionary", func() error {
		code, out, errs := xb(t, "--data", de, "catalogue", "--owner", "fr-grandest", "--json")
		if code != 0 {
			return fmt.Errorf("exit %d %q", code, errs)
		}
		var l api.CatalogueList
		must(t, json.Unmarshal([]byte(out), &l))
		for _, got := range l.Entries {
			if got.ID == "cohort" && got.Dictionary != nil && reflect.DeepEqual(*got.Dictionary, *e.Dictionary) {
				return nil
			}
		}
		return fmt.Errorf("catalogue %s", out)
	})
}
