package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
)

func newDatasetCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dataset",
		Short: "Publish and withdraw this node's datasets and models",
	}
	var p exchange.Publication
	var cardFile, dictFile, predictorFile string
	var predictorInputs []string
	publish := &cobra.Command{
		Use:   "publish FILE --id ID --title T --description D --theme health|industry|bioeconomy --classification open|restricted|sensitive|confidential",
		Short: "Store a file and publish it in the federation catalogue",
		Long: `publish stores FILE under its SHA-256 in the node's data dir and publishes
its metadata (DCAT-AP fields) in the catalogue; partners see it on their next
sync, filtered by this node's catalogue policy. Publishing an existing ID
updates the entry.

A model (--kind model) carries a model card, a JSON file given with
--model-card: {"task", "architecture", "training_datasets": ["OWNER/ID"],
"metrics": {"name": number}, "intended_uses": [], "excluded_uses": []}.
Its training datasets are the model's provenance: every region whose data
trained it must be a party to any agreement that shares it.

A tabular dataset may carry its data dictionary, a JSON file given with
--dictionary: {"columns": [{"name", "type": number|integer|categorical|
boolean|text, "unit", "description", "levels": [], "identifier": bool}]}.
Partners see it in the catalogue and plan federated analyses from it
without seeing a row; a column marked identifier is never released,
filtered on or modelled (type text is for identifier columns only). The
first level of a categorical column is the reference of a model.

A model may carry a predictor (--predictor, a WebAssembly module built for
WASI preview 1, e.g. GOOS=wasip1 GOARCH=wasm): the program that scores a
dataset's rows, reading the model's file on standard input and the columns
--predictor-inputs names at /data/input.csv, and writing one score in [0, 1]
per row. Partners evaluate the model with it on their own labelled data,
which never leaves them (xborder evaluate).`,
		Example: `  xborder dataset publish icu-2025.csv --id icu-2025 --title "ICU admissions 2025" \
      --description "Daily ICU admissions in Grand Est hospitals" --theme health \
      --classification sensitive --personal-data --license CC-BY-4.0 --keywords icu,hospital
  xborder dataset publish tumour-seg.onnx --kind model --id tumour-seg --title "Tumour segmentation" \
      --theme health --classification restricted --license research-only --model-card card.json
  xborder dataset publish diabetes-risk.json --kind model --id diabetes-risk --title "Diabetes risk" \
      --theme health --classification restricted --license research-only --model-card card.json \
      --predictor bin/wasm/predictor.wasm --predictor-inputs age,bmi,sex,smoker
  xborder dataset publish cohort.csv --id cohort-2025 --title "Cardiology cohort 2025" --theme health \
      --classification sensitive --personal-data --dictionary cohort-dictionary.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "id", "title", "theme", "classification"); err != nil {
				return err
			}
			if cardFile != "" {
				card, err := readModelCard(cardFile)
				if err != nil {
					return usageErr(err)
				}
				p.Model = card
			}
			if predictorFile != "" {
				if p.Model == nil {
					return usageErr(errors.New("--predictor needs --model-card (a model's card names the predictor's inputs)"))
				}
				if len(predictorInputs) > 0 {
					p.Model.Predictor = &exchange.Predictor{Inputs: predictorInputs}
				}
				if p.Model.Predictor == nil || len(p.Model.Predictor.Inputs) == 0 {
					return usageErr(errors.New("--predictor needs the columns it reads: --predictor-inputs age,bmi,... or \"predictor\": {\"inputs\": [...]} in the model card"))
				}
			}
			if dictFile != "" {
				dict, err := readDictionary(dictFile)
				if err != nil {
					return usageErr(err)
				}
				p.Dictionary = dict
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var e exchange.Entry
			if err := c.upload(cmd.Context(), "/v1/datasets", p, args[0], predictorFile, &e); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, e)
			}
			fmt.Fprintf(g.out, "published %s (%s, %d bytes, sha256 %s, catalogue version %d)\n", e.Ref(), e.Kind, e.Size, e.SHA256, e.Version)
			return nil
		},
	}
	f := publish.Flags()
	f.StringVar(&p.ID, "id", "", "entry ID")
	f.StringVar(&p.Kind, "kind", "dataset", "dataset or model")
	f.StringVar(&p.Title, "title", "", "title (at most 512 bytes)")
	f.StringVar(&p.Description, "description", "", "description (at most 32 KiB)")
	f.StringVar(&p.Theme, "theme", "", "health, industry or bioeconomy")
	f.StringVar(&p.Classification, "classification", "", "open, restricted, sensitive or confidential")
	f.StringSliceVar(&p.Partners, "partners", nil, "partners who may see a confidential entry")
	f.BoolVar(&p.PersonalData, "personal-data", false, "the content holds personal data")
	f.BoolVar(&p.RequiresProject, "requires-project", false, "share only within a joint project")
	f.BoolVar(&p.PublicListing, "list-publicly", false, "list a restricted or sensitive entry in the public DCAT catalogue (metadata and how to ask for access, never the data)")
	f.StringVar(&p.License, "license", "", "license (e.g. CC-BY-4.0)")
	f.StringSliceVar(&p.Keywords, "keywords", nil, "keywords (at most 64, each at most 128 bytes)")
	f.StringVar(&p.MediaType, "media-type", "", "media type (default: from the file)")
	f.StringVar(&cardFile, "model-card", "", "the model card of a model (JSON file)")
	f.StringVar(&dictFile, "dictionary", "", "the data dictionary of a tabular dataset (JSON file)")
	f.StringVar(&predictorFile, "predictor", "", "a model's scoring program, a WebAssembly (WASI) module that partners may run on their labelled data to evaluate the model")
	f.StringSliceVar(&predictorInputs, "predictor-inputs", nil, "the dataset columns the predictor reads (default: the model card's predictor.inputs)")
	publish.Flags().BoolVar(&g.json, "json", false, "print JSON")
	withdraw := &cobra.Command{
		Use:     "withdraw ID",
		Short:   "Withdraw an entry from the catalogue",
		Example: "  xborder dataset withdraw icu-2025",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var e exchange.Entry
			if err := c.send(cmd.Context(), "DELETE", "/v1/datasets/"+url.PathEscape(args[0]), nil, "", &e); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "withdrew %s (catalogue version %d)\n", e.Ref(), e.Version)
			return nil
		},
	}
	cmd.AddCommand(publish, withdraw)
	return cmd
}

func newCatalogueCmd(g *globals) *cobra.Command {
	var f exchange.Filter
	cmd := &cobra.Command{
		Use:   "catalogue [--theme T] [--country CC] [--owner NAME] [--kind K] [--q TEXT]",
		Short: "The federation catalogue as this node sees it",
		Long: `catalogue lists this node's entries and the partners' entries it holds in
its cache (kept while a partner is offline; the age of each partner's last
sync is shown).`,
		Example: `  xborder catalogue --theme health
  xborder catalogue --country DE --q sensors --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"theme": f.Theme, "country": f.Country, "owner": f.Owner, "kind": f.Kind, "classification": f.Classification, "q": f.Q} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var l api.CatalogueList
			if err := c.get(cmd.Context(), "/v1/catalogue?"+q.Encode(), &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, l)
			}
			rows := [][]string{}
			for _, e := range l.Entries {
				rows = append(rows, []string{e.Owner, e.ID, e.Kind, e.Country, e.Theme, e.Classification, fmt.Sprint(e.Size), e.Title})
			}
			if err := printTable(g.out, []string{"OWNER", "ID", "KIND", "COUNTRY", "THEME", "CLASS", "BYTES", "TITLE"}, rows); err != nil {
				return err
			}
			for _, p := range l.Peers {
				age := "never"
				if !p.SyncedAt.IsZero() {
					age = time.Since(p.SyncedAt).Round(time.Second).String() + " ago"
				}
				line := fmt.Sprintf("%s: synced %s (version %d)", p.Owner, age, p.Version)
				if p.LastError != "" {
					line += "; last error: " + p.LastError
				}
				fmt.Fprintln(g.err, line)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Theme, "theme", "", "health, industry or bioeconomy")
	fl.StringVar(&f.Country, "country", "", "owner's country code")
	fl.StringVar(&f.Owner, "owner", "", "owner member name")
	fl.StringVar(&f.Kind, "kind", "", "dataset or model")
	fl.StringVar(&f.Classification, "classification", "", "open, restricted, sensitive or confidential")
	fl.StringVar(&f.Q, "q", "", "words in the title, description or keywords")
	fl.BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

// readModelCard reads a model card file, refusing unknown fields so that a
// misspelt field is not silently dropped.
func readModelCard(path string) (*exchange.ModelCard, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model card: %w", err)
	}
	var card exchange.ModelCard
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&card); err != nil {
		return nil, fmt.Errorf("model card %s: %w", path, err)
	}
	return &card, nil
}

// readDictionary reads a data dictionary file, refusing unknown fields so
// that a misspelt field (say "level" for "levels") is not silently dropped.
func readDictionary(path string) (*tabular.Dictionary, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data dictionary: %w", err)
	}
	var d tabular.Dictionary
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("data dictionary %s: %w", path, err)
	}
	return &d, nil
}
