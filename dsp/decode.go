package dsp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/xborder/xborder/dsp/dspschema"
)

// MaxMessageBytes bounds a protocol message's body. The largest message a
// participant sends is an offer or an agreement: a few kilobytes.
const MaxMessageBytes = 1 << 20

// MessageError is a message this participant cannot accept: malformed
// JSON, a wrong @type, a missing field. It is answered with HTTP 400 and
// its reason.
type MessageError struct {
	Type   string // the expected @type
	Reason string
	// Err is the schema's refusal (a *dspschema.Error) when the message
	// failed its JSON Schema, nil otherwise.
	Err error
}

// Unwrap returns the schema's refusal, if that is what refused the message.
func (e *MessageError) Unwrap() error { return e.Err }

func (e *MessageError) Error() string {
	if e.Type == "" {
		return e.Reason
	}
	return e.Type + ": " + e.Reason
}

func badMessage(typ, format string, args ...any) *MessageError {
	return &MessageError{Type: typ, Reason: fmt.Sprintf(format, args...)}
}

// officialSchema checks a message against the DSP 2025-1 JSON Schema of its
// @type (dsp/dspschema, embedded; nothing is fetched).
func officialSchema(typ string, doc []byte) error {
	s, ok := dspschema.ForType(typ)
	if !ok {
		return nil
	}
	return dspschema.Validate(s, doc)
}

// Decode reads one message of type typ from r into v: at most
// MaxMessageBytes, one JSON object, the protocol's context, the expected
// @type, and the official schema of that type.
func Decode(r io.Reader, typ string, v any) error {
	raw, err := io.ReadAll(io.LimitReader(r, MaxMessageBytes+1))
	if err != nil {
		return badMessage(typ, "reading the body: %v", err)
	}
	return DecodeBytes(raw, typ, v)
}

// DecodeBytes is Decode on a body already read.
func DecodeBytes(raw []byte, typ string, v any) error {
	if len(raw) > MaxMessageBytes {
		return badMessage(typ, "the body is larger than %d bytes", MaxMessageBytes)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return badMessage(typ, "the body is empty; a JSON-LD %s was expected", typ)
	}
	var h struct {
		Context json.RawMessage `json:"@context"`
		Type    json.RawMessage `json:"@type"`
	}
	// JSON v2 here too: "@Type" is not "@type".
	if err := jsonv2.Unmarshal(raw, &h); err != nil {
		return badMessage(typ, "the body is not a JSON object: %v", jsonReason(err))
	}
	var ctx []string
	if len(h.Context) == 0 {
		return badMessage(typ, "@context is missing; it must be an array naming %s", ContextURL)
	}
	if err := json.Unmarshal(h.Context, &ctx); err != nil || !slices.Contains(ctx, ContextURL) {
		return badMessage(typ, "@context must be an array of strings naming %s", ContextURL)
	}
	var got string
	if err := json.Unmarshal(h.Type, &got); err != nil || got == "" {
		return badMessage(typ, "@type is missing or not a string; %q was expected", typ)
	}
	if got != typ {
		return badMessage(typ, "@type is %q; this endpoint takes %q", got, typ)
	}
	if err := officialSchema(typ, raw); err != nil {
		reason := err.Error()
		var se *dspschema.Error
		if errors.As(err, &se) {
			reason = "does not match the DSP 2025-1 schema: " + se.Reason()
		}
		return &MessageError{Type: typ, Reason: reason, Err: err}
	}
	if typ != TypeCatalogError && typ != TypeNegotiationError && typ != TypeTransferError {
		if name := emptyIdentifier(raw); name != "" {
			return badMessage(typ, "%s is empty; it must name something", name)
		}
	}
	// Decoded with JSON v2 semantics: names match case-sensitively, as
	// JSON-LD terms do (encoding/json would read "Constraint" into
	// constraint, past the schema, which ignores the unknown name), a name
	// given twice and invalid UTF-8 are refused, and so is a second value.
	if err := jsonv2.Unmarshal(raw, v); err != nil {
		return badMessage(typ, "%v", jsonReason(err))
	}
	return nil
}

// jsonReason turns encoding/json's errors into a sentence naming the field.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q holds a %s where a %s was expected", te.Field, te.Value, te.Type)
		}
		return fmt.Sprintf("a %s where a %s was expected", te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, err)
	}
	return err.Error()
}

// identifiers are the fields that name a process, an agreement, an offer or
// a party. The schemas take "" for them; the protocol cannot use it, and a
// message written back would lose the field (omitempty) and fail its
// schema. Error objects are exempt: a provider may not know a process.
var identifiers = [][]string{
	{"providerPid"}, {"consumerPid"}, {"callbackAddress"}, {"agreementId"}, {"participantId"}, {"dataset"},
	{"offer", "@id"}, {"offer", "target"},
	{"agreement", "@id"}, {"agreement", "target"}, {"agreement", "assigner"}, {"agreement", "assignee"},
}

// emptyIdentifier names the first identifier of raw that is "" (as a
// dotted path), or returns "".
func emptyIdentifier(raw []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return ""
	}
	for _, path := range identifiers {
		obj := top
		for i, key := range path {
			val, ok := obj[key]
			if !ok {
				break
			}
			if i < len(path)-1 {
				obj = nil
				if json.Unmarshal(val, &obj) != nil {
					break
				}
				continue
			}
			if string(bytes.TrimSpace(val)) == `""` {
				return strings.Join(path, ".")
			}
		}
	}
	return ""
}
