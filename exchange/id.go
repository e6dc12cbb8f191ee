package exchange

import (
	"fmt"
	"strings"
)

// MaxIDLength is the longest dataset or model ID.
const MaxIDLength = 128

// partialSuffix marks a download in progress (DATA/downloads/OWNER/ID.partial);
// no ID ends with it, so a final file appears only by the rename after the
// SHA-256 check.
const partialSuffix = ".partial"

// ValidateID checks a dataset or model ID against the one rule that
// publish, request, fetch and every parser of OWNER/ID apply:
//
//   - 1 to MaxIDLength characters;
//   - lower-case letters a-z, digits 0-9, '.', '_' and '-' only (so no
//     path separator, no space, nothing a shell or URL must escape);
//   - the first character a letter or a digit (no hidden file, no option);
//   - no ".." anywhere (never a parent directory);
//   - not ending in ".partial" (the name of a download in progress).
//
// An ID becomes a file name under DATA/downloads/OWNER on the requester,
// which is why the rule is strict. The error is a *ValidationError that
// wraps ErrBadID and says which part of the rule the ID breaks.
func ValidateID(id string) error {
	why := idProblem(id)
	if why == "" {
		return nil
	}
	return &ValidationError{What: "dataset or model ID", Problems: []string{fmt.Sprintf("%q %s", id, why)}, Err: ErrBadID}
}

func idProblem(id string) string {
	switch {
	case id == "":
		return "is empty"
	case len(id) > MaxIDLength:
		return fmt.Sprintf("is %d characters, over %d", len(id), MaxIDLength)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Sprintf("contains %q: only lower-case letters, digits, '.', '_' and '-' are allowed", r)
		}
	}
	switch first := id[0]; {
	case first == '.' || first == '_' || first == '-':
		return "must start with a letter or a digit"
	case strings.Contains(id, ".."):
		return `contains ".."`
	case strings.HasSuffix(id, partialSuffix):
		return `ends in ".partial", which marks a download in progress`
	}
	return ""
}

// ParseRef splits a federation-wide reference OWNER/ID and checks both
// parts: the owner is a member name, the ID follows ValidateID. The error
// is a *ValidationError.
func ParseRef(ref string) (owner, id string, err error) {
	owner, id, ok := strings.Cut(ref, "/")
	if !ok || owner == "" {
		return "", "", &ValidationError{What: "reference", Problems: []string{fmt.Sprintf("%q is not OWNER/ID (e.g. fr-grandest/icu-2025)", ref)}, Err: ErrBadID}
	}
	if !validName(owner) {
		return "", "", &ValidationError{What: "reference", Problems: []string{fmt.Sprintf("%q: the owner %q is not a member name", ref, owner)}, Err: ErrBadName}
	}
	if err := ValidateID(id); err != nil {
		return "", "", err
	}
	return owner, id, nil
}
