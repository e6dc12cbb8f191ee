package dspschema

import "strings"

// Base is the address under which the protocol publishes its schemas and
// contexts; every embedded schema's $id starts with it.
const Base = "https://w3id.org/dspace/2025/1/"

// Schema names one schema: the absolute $id of an embedded schema file,
// optionally followed by a JSON-pointer fragment into its definitions.
type Schema string

// The schemas of the protocol's documents, one per message or response.
const (
	CatalogRequestMessage Schema = Base + "catalog/catalog-request-message-schema.json"
	DatasetRequestMessage Schema = Base + "catalog/dataset-request-message-schema.json"
	Catalog               Schema = Base + "catalog/catalog-schema.json"
	Dataset               Schema = Base + "catalog/dataset-schema.json"
	CatalogError          Schema = Base + "catalog/catalog-error-schema.json"

	ContractRequestMessage                Schema = Base + "negotiation/contract-request-message-schema.json"
	ContractOfferMessage                  Schema = Base + "negotiation/contract-offer-message-schema.json"
	ContractAgreementMessage              Schema = Base + "negotiation/contract-agreement-message-schema.json"
	ContractAgreementVerificationMessage  Schema = Base + "negotiation/contract-agreement-verification-message-schema.json"
	ContractNegotiationEventMessage       Schema = Base + "negotiation/contract-negotiation-event-message-schema.json"
	ContractNegotiationTerminationMessage Schema = Base + "negotiation/contract-negotiation-termination-message-schema.json"
	ContractNegotiation                   Schema = Base + "negotiation/contract-negotiation-schema.json"
	ContractNegotiationError              Schema = Base + "negotiation/contract-negotiation-error-schema.json"

	TransferRequestMessage     Schema = Base + "transfer/transfer-request-message-schema.json"
	TransferStartMessage       Schema = Base + "transfer/transfer-start-message-schema.json"
	TransferSuspensionMessage  Schema = Base + "transfer/transfer-suspension-message-schema.json"
	TransferCompletionMessage  Schema = Base + "transfer/transfer-completion-message-schema.json"
	TransferTerminationMessage Schema = Base + "transfer/transfer-termination-message-schema.json"
	TransferProcess            Schema = Base + "transfer/transfer-process-schema.json"
	TransferError              Schema = Base + "transfer/transfer-error-schema.json"
	DataAddress                Schema = Base + "transfer/data-address-schema.json"

	ProtocolVersion Schema = Base + "common/protocol-version-schema.json"
	DIDService      Schema = Base + "common/did-service-schema.json"
	Context         Schema = Base + "common/context-schema.json"
)

// Parts of the ODRL policy schema that appear inside other documents and that
// the dsp package checks on their own (an offer read from a catalogue, an
// agreement before it is stored). The root of contract-schema.json is not
// offered: its oneOf accepts no Offer without a target, because such an
// Offer matches both MessageOffer and Offer.
const (
	// Offer is an offer as a dataset's hasPolicy carries it (no target).
	Offer Schema = Base + "negotiation/contract-schema.json#/definitions/Offer"
	// MessageOffer is an offer inside a contract request or offer message.
	MessageOffer Schema = Base + "negotiation/contract-schema.json#/definitions/MessageOffer"
	// Agreement is the agreement of a ContractAgreementMessage.
	Agreement Schema = Base + "negotiation/contract-schema.json#/definitions/Agreement"
)

// info is what the package knows about one schema: a short name for messages
// and the JSON-LD @type a document of this schema carries ("" when none).
type info struct {
	schema Schema
	name   string
	typ    string
}

// known lists every schema the package offers, in a stable order.
var known = []info{
	{CatalogRequestMessage, "CatalogRequestMessage", "CatalogRequestMessage"},
	{DatasetRequestMessage, "DatasetRequestMessage", "DatasetRequestMessage"},
	{Catalog, "Catalog", "Catalog"},
	{Dataset, "Dataset", "Dataset"},
	{CatalogError, "CatalogError", "CatalogError"},
	{ContractRequestMessage, "ContractRequestMessage", "ContractRequestMessage"},
	{ContractOfferMessage, "ContractOfferMessage", "ContractOfferMessage"},
	{ContractAgreementMessage, "ContractAgreementMessage", "ContractAgreementMessage"},
	{ContractAgreementVerificationMessage, "ContractAgreementVerificationMessage", "ContractAgreementVerificationMessage"},
	{ContractNegotiationEventMessage, "ContractNegotiationEventMessage", "ContractNegotiationEventMessage"},
	{ContractNegotiationTerminationMessage, "ContractNegotiationTerminationMessage", "ContractNegotiationTerminationMessage"},
	{ContractNegotiation, "ContractNegotiation", "ContractNegotiation"},
	{ContractNegotiationError, "ContractNegotiationError", "ContractNegotiationError"},
	{TransferRequestMessage, "TransferRequestMessage", "TransferRequestMessage"},
	{TransferStartMessage, "TransferStartMessage", "TransferStartMessage"},
	{TransferSuspensionMessage, "TransferSuspensionMessage", "TransferSuspensionMessage"},
	{TransferCompletionMessage, "TransferCompletionMessage", "TransferCompletionMessage"},
	{TransferTerminationMessage, "TransferTerminationMessage", "TransferTerminationMessage"},
	{TransferProcess, "TransferProcess", "TransferProcess"},
	{TransferError, "TransferError", "TransferError"},
	{DataAddress, "DataAddress", "DataAddress"},
	{ProtocolVersion, "ProtocolVersion", ""},
	{DIDService, "DIDService", ""},
	{Context, "Context", ""},
	// Offer and Agreement are not mapped from @type: an "Offer" inside a
	// message and one inside a catalogue follow different schemas.
	{Offer, "Offer", ""},
	{MessageOffer, "MessageOffer", ""},
	{Agreement, "Agreement", ""},
}

func lookup(s Schema) (info, bool) {
	for _, in := range known {
		if in.schema == s {
			return in, true
		}
	}
	return info{}, false
}

// Schemas returns every schema the package validates against, in a stable
// order.
func Schemas() []Schema {
	out := make([]Schema, len(known))
	for i, in := range known {
		out[i] = in.schema
	}
	return out
}

// Name is the short name of the schema ("ContractRequestMessage"); for a
// schema the package does not know it is the last segment of its address.
func (s Schema) Name() string {
	if in, ok := lookup(s); ok {
		return in.name
	}
	str := string(s)
	if i := strings.LastIndexAny(str, "/#"); i >= 0 {
		str = str[i+1:]
	}
	return str
}

// String returns the schema's address.
func (s Schema) String() string { return string(s) }

// ForType maps the JSON-LD @type of a protocol document in compacted form
// ("ContractRequestMessage", "TransferProcess", "Catalog") to its schema.
func ForType(jsonldType string) (Schema, bool) {
	if jsonldType == "" {
		return "", false
	}
	for _, in := range known {
		if in.typ == jsonldType {
			return in.schema, true
		}
	}
	return "", false
}
