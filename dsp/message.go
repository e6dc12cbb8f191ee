package dsp

import (
	"bytes"
	"encoding/json"
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"
)

// The Dataspace Protocol's names, as the 2025-1 specification and its
// JSON-LD context spell them.
const (
	// ContextURL is the protocol's JSON-LD context; every message names it
	// in its @context.
	ContextURL = "https://w3id.org/dspace/2025/1/context.jsonld"
	// Version is the protocol version this package speaks.
	Version = "2025-1"
	// Binding is the protocol binding served: HTTPS.
	Binding = "HTTPS"
	// HTTPEndpointType names an HTTP data address (the type EDC reads for
	// an HTTP-pull transfer).
	HTTPEndpointType = "https://w3id.org/idsa/v4.1/HTTP"
	// FormatHTTPPull is the distribution format of an HTTP-pull transfer.
	FormatHTTPPull = "HttpData-PULL"
)

// Message types (@type).
const (
	TypeCatalogRequest         = "CatalogRequestMessage"
	TypeDatasetRequest         = "DatasetRequestMessage"
	TypeCatalog                = "Catalog"
	TypeDataset                = "Dataset"
	TypeDistribution           = "Distribution"
	TypeDataService            = "DataService"
	TypeCatalogError           = "CatalogError"
	TypeContractRequest        = "ContractRequestMessage"
	TypeContractOffer          = "ContractOfferMessage"
	TypeContractAgreement      = "ContractAgreementMessage"
	TypeAgreementVerification  = "ContractAgreementVerificationMessage"
	TypeNegotiationEvent       = "ContractNegotiationEventMessage"
	TypeNegotiationTermination = "ContractNegotiationTerminationMessage"
	TypeNegotiation            = "ContractNegotiation"
	TypeNegotiationError       = "ContractNegotiationError"
	TypeTransferRequest        = "TransferRequestMessage"
	TypeTransferStart          = "TransferStartMessage"
	TypeTransferSuspension     = "TransferSuspensionMessage"
	TypeTransferCompletion     = "TransferCompletionMessage"
	TypeTransferTermination    = "TransferTerminationMessage"
	TypeTransferProcess        = "TransferProcess"
	TypeTransferError          = "TransferError"
	TypeOffer                  = "Offer"
	TypeAgreement              = "Agreement"
	TypeDataAddress            = "DataAddress"
	TypeEndpointProperty       = "EndpointProperty"
)

// NegotiationState is a contract negotiation's state.
type NegotiationState string

// The contract negotiation states (DSP 2025-1, section 8.1).
const (
	NegRequested  NegotiationState = "REQUESTED"
	NegOffered    NegotiationState = "OFFERED"
	NegAccepted   NegotiationState = "ACCEPTED"
	NegAgreed     NegotiationState = "AGREED"
	NegVerified   NegotiationState = "VERIFIED"
	NegFinalized  NegotiationState = "FINALIZED"
	NegTerminated NegotiationState = "TERMINATED"
)

// TransferState is a transfer process's state.
type TransferState string

// The transfer process states (DSP 2025-1, section 10.1).
const (
	TPRequested  TransferState = "REQUESTED"
	TPStarted    TransferState = "STARTED"
	TPSuspended  TransferState = "SUSPENDED"
	TPCompleted  TransferState = "COMPLETED"
	TPTerminated TransferState = "TERMINATED"
)

// Event types of a ContractNegotiationEventMessage.
const (
	EventAccepted  = "ACCEPTED"
	EventFinalized = "FINALIZED"
)

// Header is what every message carries: its JSON-LD context and type.
type Header struct {
	Context []string `json:"@context"`
	Type    string   `json:"@type"`
}

func header(typ string) Header { return Header{Context: []string{ContextURL}, Type: typ} }

// CatalogRequestMessage asks a provider for its catalogue.
type CatalogRequestMessage struct {
	Header
	Filter []json.RawMessage `json:"filter,omitempty"`
}

// DatasetRequestMessage asks a provider for one dataset.
type DatasetRequestMessage struct {
	Header
	Dataset string `json:"dataset"`
}

// Catalog is a provider's catalogue as a participant may see it.
type Catalog struct {
	Context       []string `json:"@context,omitempty"`
	ID            string   `json:"@id"`
	Type          string   `json:"@type"`
	ParticipantID string   `json:"participantId,omitempty"`
	DCAT
	Dataset []Dataset     `json:"dataset,omitempty"`
	Catalog []Catalog     `json:"catalog,omitempty"`
	Service []DataService `json:"service,omitempty"`
}

// DCAT is the DCAT-AP description a catalogue, dataset or distribution
// carries besides what the protocol requires, in the dct: and dcat:
// prefixes the protocol's context defines.
type DCAT struct {
	Title        string   `json:"dct:title,omitempty"`
	Description  string   `json:"dct:description,omitempty"`
	Identifier   string   `json:"dct:identifier,omitempty"`
	Keyword      []string `json:"dcat:keyword,omitempty"`
	Theme        []IRI    `json:"dcat:theme,omitempty"`
	License      *IRI     `json:"dct:license,omitempty"`
	Publisher    *IRI     `json:"dct:publisher,omitempty"`
	Spatial      []IRI    `json:"dct:spatial,omitempty"`
	Issued       string   `json:"dct:issued,omitempty"`
	Modified     string   `json:"dct:modified,omitempty"`
	Version      string   `json:"dcat:version,omitempty"`
	LandingPage  *IRI     `json:"dcat:landingPage,omitempty"`
	AccessRights *IRI     `json:"dct:accessRights,omitempty"`
	Conforms     []IRI    `json:"dct:conformsTo,omitempty"`
}

// IRI is a JSON-LD node reference.
type IRI struct {
	ID string `json:"@id"`
}

// Dataset is a catalogue entry with the offers it is available under.
type Dataset struct {
	Context []string `json:"@context,omitempty"`
	ID      string   `json:"@id"`
	Type    string   `json:"@type"`
	DCAT
	HasPolicy    []Offer        `json:"hasPolicy"`
	Distribution []Distribution `json:"distribution"`
}

// Distribution is how a dataset's content is reached.
type Distribution struct {
	Type          string  `json:"@type"`
	Format        string  `json:"format"`
	AccessService string  `json:"accessService"`
	MediaType     string  `json:"dcat:mediaType,omitempty"`
	ByteSize      int64   `json:"dcat:byteSize,omitempty"`
	HasPolicy     []Offer `json:"hasPolicy,omitempty"`
}

// UnmarshalJSON reads accessService in both forms the protocol allows: the
// data service's @id, or the DataService object itself (the official
// dataset example writes it so); either way AccessService holds the @id.
func (d *Distribution) UnmarshalJSON(b []byte) error {
	type plain Distribution
	var v struct {
		plain
		AccessService json.RawMessage `json:"accessService"`
	}
	// JSON v2, as DecodeBytes: names match case-sensitively.
	if err := jsonv2.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = Distribution(v.plain)
	d.AccessService = ""
	raw := bytes.TrimSpace(v.AccessService)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
	case raw[0] == '{':
		var svc DataService
		if err := jsonv2.Unmarshal(raw, &svc); err != nil {
			return err
		}
		d.AccessService = svc.ID
	default:
		if err := jsonv2.Unmarshal(raw, &d.AccessService); err != nil {
			return err
		}
	}
	return nil
}

// DataService is the endpoint a catalogue's distributions are served by.
type DataService struct {
	ID          string `json:"@id"`
	Type        string `json:"@type"`
	EndpointURL string `json:"endpointURL"`
}

// Offer is an ODRL offer. In a catalogue it has no target (the dataset
// holding it is the target); in a negotiation message it names one.
type Offer struct {
	ID          string `json:"@id"`
	Type        string `json:"@type"`
	Target      string `json:"target,omitempty"`
	Assigner    string `json:"assigner,omitempty"`
	Profile     any    `json:"profile,omitempty"`
	Permission  []Rule `json:"permission,omitempty"`
	Prohibition []Rule `json:"prohibition,omitempty"`
	Obligation  []Rule `json:"obligation,omitempty"`
}

// UnmarshalJSON reads an offer; one without @type (a catalogue's hasPolicy
// may leave it out, its range being odrl:Offer) reads as an Offer, so the
// copy a consumer sends back in its request carries the @type the
// request's schema requires.
func (o *Offer) UnmarshalJSON(b []byte) error {
	type plain Offer
	var v plain
	if err := jsonv2.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.Type == "" {
		v.Type = TypeOffer
	}
	*o = Offer(v)
	return nil
}

// Agreement is an ODRL agreement: the offer agreed, with both parties and
// the time.
type Agreement struct {
	ID          string `json:"@id"`
	Type        string `json:"@type"`
	Target      string `json:"target"`
	Assigner    string `json:"assigner"`
	Assignee    string `json:"assignee"`
	Timestamp   string `json:"timestamp,omitempty"`
	Profile     any    `json:"profile,omitempty"`
	Permission  []Rule `json:"permission,omitempty"`
	Prohibition []Rule `json:"prohibition,omitempty"`
	Obligation  []Rule `json:"obligation,omitempty"`
}

// Rule is an ODRL permission, prohibition or duty.
type Rule struct {
	Action     string       `json:"action"`
	Constraint []Constraint `json:"constraint,omitempty"`
	Duty       []Rule       `json:"duty,omitempty"`
	// Description states a duty in words (an obligation of the owner's
	// policy, whose action is ActionObligation).
	Description string `json:"dct:description,omitempty"`
}

// Constraint is an ODRL constraint: atomic (left operand, operator,
// right operand) or logical (and, or, xone, andSequence of constraints).
type Constraint struct {
	LeftOperand  string       `json:"leftOperand,omitempty"`
	Operator     string       `json:"operator,omitempty"`
	RightOperand any          `json:"rightOperand,omitempty"`
	And          []Constraint `json:"and,omitempty"`
	Or           []Constraint `json:"or,omitempty"`
	Xone         []Constraint `json:"xone,omitempty"`
	AndSequence  []Constraint `json:"andSequence,omitempty"`
}

// MarshalJSON writes a logical operand the constraint was given empty
// ("or": []) as empty instead of leaving it out: a constraint left with no
// operand at all would match neither ODRL form and fail the schema.
func (c Constraint) MarshalJSON() ([]byte, error) {
	type plain Constraint
	present := func(cs []Constraint) *[]Constraint {
		if cs == nil {
			return nil
		}
		return &cs
	}
	return json.Marshal(struct {
		plain
		And         *[]Constraint `json:"and,omitempty"`
		Or          *[]Constraint `json:"or,omitempty"`
		Xone        *[]Constraint `json:"xone,omitempty"`
		AndSequence *[]Constraint `json:"andSequence,omitempty"`
	}{plain(c), present(c.And), present(c.Or), present(c.Xone), present(c.AndSequence)})
}

// ErrorMessage is the body of a CatalogError, ContractNegotiationError or
// TransferError: a code and the reasons, in words.
type ErrorMessage struct {
	Header
	ProviderPID string   `json:"providerPid,omitempty"`
	ConsumerPID string   `json:"consumerPid,omitempty"`
	Code        string   `json:"code,omitempty"`
	Reason      []string `json:"reason,omitempty"`
}

// ContractRequestMessage is a consumer's request for an offer.
type ContractRequestMessage struct {
	Header
	ProviderPID     string `json:"providerPid,omitempty"`
	ConsumerPID     string `json:"consumerPid"`
	Offer           Offer  `json:"offer"`
	CallbackAddress string `json:"callbackAddress,omitempty"`
}

// ContractOfferMessage is a provider's offer (initial or counter).
type ContractOfferMessage struct {
	Header
	ProviderPID     string `json:"providerPid"`
	ConsumerPID     string `json:"consumerPid,omitempty"`
	Offer           Offer  `json:"offer"`
	CallbackAddress string `json:"callbackAddress,omitempty"`
}

// ContractAgreementMessage carries the provider's agreement.
type ContractAgreementMessage struct {
	Header
	ProviderPID     string    `json:"providerPid"`
	ConsumerPID     string    `json:"consumerPid"`
	Agreement       Agreement `json:"agreement"`
	CallbackAddress string    `json:"callbackAddress,omitempty"`
}

// ContractAgreementVerificationMessage is the consumer's verification of
// an agreement.
type ContractAgreementVerificationMessage struct {
	Header
	ProviderPID string `json:"providerPid"`
	ConsumerPID string `json:"consumerPid"`
}

// ContractNegotiationEventMessage announces ACCEPTED (consumer) or
// FINALIZED (provider).
type ContractNegotiationEventMessage struct {
	Header
	ProviderPID string `json:"providerPid"`
	ConsumerPID string `json:"consumerPid"`
	EventType   string `json:"eventType"`
}

// ContractNegotiationTerminationMessage ends a negotiation, with a code
// and reasons.
type ContractNegotiationTerminationMessage struct {
	Header
	ProviderPID string   `json:"providerPid"`
	ConsumerPID string   `json:"consumerPid"`
	Code        string   `json:"code,omitempty"`
	Reason      []string `json:"reason,omitempty"`
}

// ContractNegotiation is a negotiation's state as either party reports it.
type ContractNegotiation struct {
	Header
	ProviderPID string           `json:"providerPid"`
	ConsumerPID string           `json:"consumerPid"`
	State       NegotiationState `json:"state"`
}

// TransferRequestMessage asks a provider to transfer a dataset under an
// agreement.
type TransferRequestMessage struct {
	Header
	ConsumerPID     string       `json:"consumerPid"`
	AgreementID     string       `json:"agreementId"`
	Format          string       `json:"format"`
	DataAddress     *DataAddress `json:"dataAddress,omitempty"`
	CallbackAddress string       `json:"callbackAddress"`
}

// TransferStartMessage starts (or restarts) a transfer; for HTTP-pull it
// carries where and with which token the consumer reads.
type TransferStartMessage struct {
	Header
	ProviderPID string       `json:"providerPid"`
	ConsumerPID string       `json:"consumerPid"`
	DataAddress *DataAddress `json:"dataAddress,omitempty"`
}

// TransferCodeMessage is a suspension, completion or termination of a
// transfer (the completion has no code or reason).
type TransferCodeMessage struct {
	Header
	ProviderPID string   `json:"providerPid"`
	ConsumerPID string   `json:"consumerPid"`
	Code        string   `json:"code,omitempty"`
	Reason      []string `json:"reason,omitempty"`
}

// TransferProcess is a transfer's state as either party reports it.
type TransferProcess struct {
	Header
	ProviderPID string        `json:"providerPid"`
	ConsumerPID string        `json:"consumerPid"`
	State       TransferState `json:"state"`
}

// DataAddress is where a transfer's data is read (HTTP-pull) or written.
type DataAddress struct {
	Type               string             `json:"@type"`
	EndpointType       string             `json:"endpointType"`
	Endpoint           string             `json:"endpoint,omitempty"`
	EndpointProperties []EndpointProperty `json:"endpointProperties,omitempty"`
}

// EndpointProperty is one name-value property of a data address.
type EndpointProperty struct {
	Type  string `json:"@type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Property returns the value of a data address's named property.
func (a *DataAddress) Property(name string) (string, bool) {
	if a == nil {
		return "", false
	}
	for _, p := range a.EndpointProperties {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// VersionResponse is the body of /.well-known/dspace-version.
type VersionResponse struct {
	ProtocolVersions []ProtocolVersion `json:"protocolVersions"`
}

// ProtocolVersion names a version this participant serves, where and over
// which binding.
type ProtocolVersion struct {
	Version        string `json:"version"`
	Path           string `json:"path"`
	Binding        string `json:"binding"`
	IdentifierType string `json:"identifierType,omitempty"`
	ServiceID      string `json:"serviceId,omitempty"`
}

// Constructors: each fills the header.

// NewCatalogRequest returns a request for a provider's whole catalogue.
func NewCatalogRequest() CatalogRequestMessage {
	return CatalogRequestMessage{Header: header(TypeCatalogRequest)}
}

// NewDatasetRequest returns a request for one dataset.
func NewDatasetRequest(id string) DatasetRequestMessage {
	return DatasetRequestMessage{Header: header(TypeDatasetRequest), Dataset: id}
}

// NewNegotiation reports a negotiation's state.
func NewNegotiation(providerPID, consumerPID string, s NegotiationState) ContractNegotiation {
	return ContractNegotiation{Header: header(TypeNegotiation), ProviderPID: providerPID, ConsumerPID: consumerPID, State: s}
}

// NewTransferProcess reports a transfer's state.
func NewTransferProcess(providerPID, consumerPID string, s TransferState) TransferProcess {
	return TransferProcess{Header: header(TypeTransferProcess), ProviderPID: providerPID, ConsumerPID: consumerPID, State: s}
}

// NewError returns an error object of the given type (CatalogError,
// ContractNegotiationError or TransferError).
func NewError(typ, providerPID, consumerPID, code string, reasons ...string) ErrorMessage {
	return ErrorMessage{Header: header(typ), ProviderPID: providerPID, ConsumerPID: consumerPID, Code: code, Reason: reasons}
}

// NewMessage returns the header of a message of the given type, for the
// messages built field by field.
func NewMessage(typ string) Header { return header(typ) }

// String names a negotiation's state for logs.
func (s NegotiationState) String() string { return string(s) }

// Valid reports whether s is one of the protocol's states.
func (s NegotiationState) Valid() bool {
	switch s {
	case NegRequested, NegOffered, NegAccepted, NegAgreed, NegVerified, NegFinalized, NegTerminated:
		return true
	}
	return false
}

// Valid reports whether s is one of the protocol's states.
func (s TransferState) Valid() bool {
	switch s {
	case TPRequested, TPStarted, TPSuspended, TPCompleted, TPTerminated:
		return true
	}
	return false
}

func (s TransferState) String() string { return string(s) }

var _ fmt.Stringer = NegotiationState("")
