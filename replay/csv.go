// Package replay turns recorded data sets into telemetry messages, so that
// anyone can replay real sensor data over MQTT.
package replay

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// TimestampKey is the telemetry key of a reading's time.
const TimestampKey = "ts"

// DefaultTimestampColumns are header names (after snake_case conversion)
// whose column becomes the "ts" key.
var DefaultTimestampColumns = []string{"date", "time", "timestamp", "datetime"}

// Options shape the readings.
type Options struct {
	// Device, when set, is written first under the "device" key.
	Device string
	// TimestampColumns lists the snake_case names that become "ts"; the
	// first one present wins. Nil means DefaultTimestampColumns.
	TimestampColumns []string
}

// CSVReader reads a CSV file with a header line and returns one JSON object
// per row: keys are the header names in snake_case, values that parse as
// finite numbers are JSON numbers, the rest strings.
type CSVReader struct {
	csv  *csv.Reader
	keys []string
	opts Options
}

// NewCSVReader reads the header line from r.
func NewCSVReader(r io.Reader, opts Options) (*CSVReader, error) {
	if opts.TimestampColumns == nil {
		opts.TimestampColumns = DefaultTimestampColumns
	}
	reader := csv.NewReader(r)
	// Rows may have one field more than the header (see Next), so the
	// field count is checked per row instead of by encoding/csv.
	reader.FieldsPerRecord = -1
	header, err := reader.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("invalid CSV: the file is empty (the first line must name the columns)")
	}
	if err != nil {
		return nil, fmt.Errorf("invalid CSV header: %w", err)
	}
	keys := make([]string, len(header))
	seen := make(map[string]int)
	for i, name := range header {
		keys[i] = SnakeCase(name)
		if keys[i] == "" {
			return nil, fmt.Errorf("invalid CSV header: column %d has no name", i+1)
		}
		if j, dup := seen[keys[i]]; dup {
			return nil, fmt.Errorf("invalid CSV header: columns %d and %d both become key %q", j+1, i+1, keys[i])
		}
		seen[keys[i]] = i
	}
	for _, candidate := range opts.TimestampColumns {
		if i := slices.Index(keys, candidate); i >= 0 {
			keys[i] = TimestampKey
			break
		}
	}
	return &CSVReader{csv: reader, keys: keys, opts: opts}, nil
}

// Keys returns the JSON keys in column order.
func (c *CSVReader) Keys() []string { return slices.Clone(c.keys) }

// Next returns the next row as a JSON object, or io.EOF after the last row.
// A row with exactly one field more than the header starts with a row name,
// as R's write.csv writes it, and that field is skipped.
func (c *CSVReader) Next() ([]byte, error) {
	row, err := c.csv.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("invalid CSV: %w", err)
	}
	switch len(row) {
	case len(c.keys):
	case len(c.keys) + 1:
		row = row[1:]
	default:
		line, _ := c.csv.FieldPos(0)
		return nil, fmt.Errorf("invalid CSV line %d: %d fields, but the header names %d", line, len(row), len(c.keys))
	}

	var buf bytes.Buffer
	buf.WriteByte('{')
	if c.opts.Device != "" {
		writeMember(&buf, "device", quote(c.opts.Device))
	}
	for i, field := range row {
		writeMember(&buf, c.keys[i], jsonValue(field))
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func writeMember(buf *bytes.Buffer, key string, value []byte) {
	if buf.Len() > 1 {
		buf.WriteByte(',')
	}
	buf.Write(quote(key))
	buf.WriteByte(':')
	buf.Write(value)
}

// jsonValue keeps a number's own digits when they are valid JSON, so that
// replayed values compare equal to the file's text.
func jsonValue(field string) []byte {
	text := strings.TrimSpace(field)
	if f, err := strconv.ParseFloat(text, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		if json.Valid([]byte(text)) {
			return []byte(text)
		}
		return strconv.AppendFloat(nil, f, 'g', -1, 64)
	}
	return quote(field)
}

func quote(s string) []byte {
	data, _ := json.Marshal(s) // Marshal of a string cannot fail.
	return data
}

// SnakeCase converts a column name to a snake_case key: "HumidityRatio"
// becomes "humidity_ratio", "CO2" "co2", "Light Level" "light_level".
func SnakeCase(name string) string {
	runes := []rune(strings.TrimSpace(name))
	var b strings.Builder
	for i, r := range runes {
		switch {
		case unicode.IsUpper(r):
			if i > 0 && needsBreak(runes, i) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
		}
	}
	return strings.Trim(b.String(), "_")
}

// needsBreak reports whether an upper-case rune at i starts a new word:
// after a lower-case letter or a digit ("humidityRatio", "CO2Level"), or as the last
// capital of an acronym followed by a lower-case letter ("HTTPServer").
func needsBreak(runes []rune, i int) bool {
	prev := runes[i-1]
	if unicode.IsLower(prev) || unicode.IsDigit(prev) {
		return true
	}
	return unicode.IsUpper(prev) && i+1 < len(runes) && unicode.IsLower(runes[i+1])
}
