package dspschema

import (
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Example is one official example document of the protocol.
type Example struct {
	// Name is the file's path under schemas/, e.g.
	// "negotiation/example/contract-request-message_initial.json".
	Name string
	// Schema is the schema the example illustrates.
	Schema Schema
	// Body is the file's content, a copy the caller may change.
	Body []byte
	// Erratum is empty for an example that matches its schema; otherwise it
	// says why the published example and the published schema disagree.
	Erratum string
}

// errata are the published examples that fail their published schema, with
// the reason. Tests expect exactly these to fail, so a fixed release shows.
var errata = map[string]string{
	"common/example/dataservice-did-service.json": "the DID service schema requires serviceEndpoint to end in /catalog, " +
		"but a DataService entry points at the version endpoint (/.well-known/dspace-version)",
}

// exampleSchemas assigns each published example file to its schema. Most are
// named after their schema; the rest (variants such as _initial or -full, the
// nested catalogue, both DID services) are listed by hand. A test fails when
// an embedded example is missing here, so a newer release cannot slip one by.
var exampleSchemas = map[string]Schema{
	"catalog/example/catalog-request-message.json": CatalogRequestMessage,
	"catalog/example/dataset-request-message.json": DatasetRequestMessage,
	"catalog/example/catalog.json":                 Catalog,
	"catalog/example/nested-catalog.json":          Catalog,
	"catalog/example/dataset.json":                 Dataset,
	"catalog/example/catalog-error.json":           CatalogError,

	"negotiation/example/contract-request-message.json":                 ContractRequestMessage,
	"negotiation/example/contract-request-message_initial.json":         ContractRequestMessage,
	"negotiation/example/contract-offer-message.json":                   ContractOfferMessage,
	"negotiation/example/contract-offer-message_initial.json":           ContractOfferMessage,
	"negotiation/example/contract-agreement-message.json":               ContractAgreementMessage,
	"negotiation/example/contract-agreement-message-full.json":          ContractAgreementMessage,
	"negotiation/example/contract-agreement-verification-message.json":  ContractAgreementVerificationMessage,
	"negotiation/example/contract-negotiation-event-message.json":       ContractNegotiationEventMessage,
	"negotiation/example/contract-negotiation-termination-message.json": ContractNegotiationTerminationMessage,
	"negotiation/example/contract-negotiation.json":                     ContractNegotiation,
	"negotiation/example/contract-negotiation-error.json":               ContractNegotiationError,

	"transfer/example/transfer-request-message.json":     TransferRequestMessage,
	"transfer/example/transfer-start-message.json":       TransferStartMessage,
	"transfer/example/transfer-suspension-message.json":  TransferSuspensionMessage,
	"transfer/example/transfer-completion-message.json":  TransferCompletionMessage,
	"transfer/example/transfer-termination-message.json": TransferTerminationMessage,
	"transfer/example/transfer-process.json":             TransferProcess,
	"transfer/example/transfer-error.json":               TransferError,

	"common/example/protocol-version.json":           ProtocolVersion,
	"common/example/catalogservice-did-service.json": DIDService,
	"common/example/dataservice-did-service.json":    DIDService,
}

// Examples returns every official example with its schema, sorted by name.
// Examples whose file has no schema assigned are left out (a test of this
// package makes sure there are none).
func Examples() []Example {
	var out []Example
	for _, name := range exampleFiles() {
		s, ok := exampleSchemas[name]
		if !ok {
			continue
		}
		body, err := fs.ReadFile(files, "schemas/"+name)
		if err != nil {
			continue // cannot happen: the name came from the same embed.FS
		}
		out = append(out, Example{Name: name, Schema: s, Body: body, Erratum: errata[name]})
	}
	return out
}

// ExamplesOf returns the official examples of schema s.
func ExamplesOf(s Schema) []Example {
	var out []Example
	for _, ex := range Examples() {
		if ex.Schema == s {
			out = append(out, ex)
		}
	}
	return out
}

// exampleFiles lists the embedded example files, relative to schemas/.
func exampleFiles() []string {
	var names []string
	_ = fs.WalkDir(files, "schemas", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if path.Base(path.Dir(p)) == "example" && strings.HasSuffix(p, ".json") {
			names = append(names, strings.TrimPrefix(p, "schemas/"))
		}
		return nil
	})
	sort.Strings(names)
	return names
}

// The addresses under which the protocol publishes its JSON-LD contexts.
const (
	ContextURL     = Base + "context.jsonld"
	ODRLProfileURL = Base + "odrl-profile.jsonld"
)

// JSONLDContext returns the embedded copy of the JSON-LD context published at
// url (ContextURL or ODRLProfileURL), for a JSON-LD processor that must not
// fetch it.
func JSONLDContext(url string) ([]byte, bool) {
	var name string
	switch url {
	case ContextURL:
		name = "schemas/context/dspace.jsonld"
	case ODRLProfileURL:
		name = "schemas/context/odrl.jsonld"
	default:
		return nil, false
	}
	b, err := fs.ReadFile(files, name)
	return b, err == nil
}
