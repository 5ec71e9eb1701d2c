// Package telemetry decodes the sensor readings that the example functions
// receive on sensors/<device>/telemetry, one JSON object per reading.
package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Reading is one decoded reading, keyed by field name.
type Reading struct {
	fields map[string]json.RawMessage
}

// Decode reads every JSON object in r, in order.
func Decode(r io.Reader) ([]Reading, error) {
	dec := json.NewDecoder(r)
	var readings []Reading
	for {
		var fields map[string]json.RawMessage
		err := dec.Decode(&fields)
		if errors.Is(err, io.EOF) {
			return readings, nil
		}
		if err != nil {
			return readings, fmt.Errorf("reading %d is not a JSON object: %w", len(readings)+1, err)
		}
		if fields == nil {
			return readings, fmt.Errorf("reading %d is null, not a JSON object", len(readings)+1)
		}
		readings = append(readings, Reading{fields: fields})
	}
}

// Number returns the value of field, which must be a JSON number.
func (r Reading) Number(field string) (float64, error) {
	raw, ok := r.fields[field]
	if !ok {
		return 0, fmt.Errorf("reading has no field %q", field)
	}
	var value float64
	if len(raw) == 0 || !isNumberStart(raw[0]) || json.Unmarshal(raw, &value) != nil {
		return 0, fmt.Errorf("field %q is %s, not a number", field, raw)
	}
	return value, nil
}

func isNumberStart(b byte) bool { return b == '-' || (b >= '0' && b <= '9') }

// Timestamp returns the raw JSON value of "ts", or null if it is missing.
func (r Reading) Timestamp() json.RawMessage {
	if ts, ok := r.fields["ts"]; ok {
		return ts
	}
	return json.RawMessage("null")
}

// Device returns the reading's "device" string, or else the second level of
// topic, as in sensors/<device>/telemetry.
func (r Reading) Device(topic string) (string, error) {
	if raw, ok := r.fields["device"]; ok {
		var device string
		if err := json.Unmarshal(raw, &device); err != nil {
			return "", fmt.Errorf("field \"device\" is %s, not a string", raw)
		}
		return device, nil
	}
	levels := strings.Split(topic, "/")
	if len(levels) < 2 || levels[1] == "" {
		return "", fmt.Errorf("reading has no \"device\" field and topic %q has no second level to take it from", topic)
	}
	return levels[1], nil
}

// Marshal encodes v as one line of JSON without HTML escaping. Floats come
// out in the shortest form that parses back to the same value, e.g. 1000 and
// 1017.5.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeBytes reads every JSON object in data, in order.
func DecodeBytes(data []byte) ([]Reading, error) {
	return Decode(bytes.NewReader(data))
}
