package analysis

import "encoding/json"

// jsonRoundTrip is v as a JSON decoder would give it back.
func jsonRoundTrip[T any](v T) (T, error) {
	var out T
	raw, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	err = json.Unmarshal(raw, &out)
	return out, err
}
