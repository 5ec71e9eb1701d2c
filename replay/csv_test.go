package replay

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const occupancyFile = "../examples/wasm-sensors/data/datatest.txt"

func TestSnakeCase(t *testing.T) {
	cases := map[string]string{
		"HumidityRatio": "humidity_ratio",
		"CO2":           "co2",
		"Temperature":   "temperature",
		"date":          "date",
		"Light Level":   "light_level",
		"HTTPServer":    "http_server",
		"CO2Level":      "co2_level",
		"already_snake": "already_snake",
		" -x- ":         "x",
	}
	for in, want := range cases {
		assert.Equal(t, want, SnakeCase(in), "SnakeCase(%q)", in)
	}
}

func TestOccupancyFirstRow(t *testing.T) {
	f, err := os.Open(occupancyFile)
	require.NoError(t, err)
	defer f.Close()

	r, err := NewCSVReader(f, Options{Device: "office-1"})
	require.NoError(t, err)
	assert.Equal(t, []string{"ts", "temperature", "humidity", "light", "co2", "humidity_ratio", "occupancy"}, r.Keys())

	row, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t,
		`{"device":"office-1","ts":"2015-02-02 14:19:00","temperature":23.7,"humidity":26.272,"light":585.2,"co2":749.2,"humidity_ratio":0.00476416302416414,"occupancy":1}`,
		string(row))
}

// TestOccupancyAllRows compares every converted row with the file read
// directly by encoding/csv, skipping the unnamed row-number column.
func TestOccupancyAllRows(t *testing.T) {
	data, err := os.ReadFile(occupancyFile)
	require.NoError(t, err)
	records, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		// The header has one field fewer than the rows, which ReadAll
		// rejects by default; read again with variable field counts.
		reader := csv.NewReader(strings.NewReader(string(data)))
		reader.FieldsPerRecord = -1
		records, err = reader.ReadAll()
	}
	require.NoError(t, err)
	rows := records[1:]

	r, err := NewCSVReader(strings.NewReader(string(data)), Options{})
	require.NoError(t, err)
	count := 0
	for {
		line, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		var got map[string]any
		require.NoError(t, json.Unmarshal(line, &got))
		want := rows[count]
		assert.Equal(t, want[1], got["ts"])
		co2, err := strconv.ParseFloat(want[5], 64)
		require.NoError(t, err)
		assert.Equal(t, co2, got["co2"])
		count++
	}
	assert.Equal(t, 2665, count)
	assert.Equal(t, len(rows), count)
}

func TestCSVErrors(t *testing.T) {
	cases := []struct {
		name, input, want string
	}{
		{"empty file", "", "invalid CSV: the file is empty (the first line must name the columns)"},
		{"unnamed column", "a,,b\n1,2,3\n", "invalid CSV header: column 2 has no name"},
		{"clashing names", "Co2,CO2\n1,2\n", `invalid CSV header: columns 1 and 2 both become key "co2"`},
		{"short row", "a,b,c\n1,2,3\n1\n", "invalid CSV line 3: 1 fields, but the header names 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewCSVReader(strings.NewReader(tc.input), Options{})
			for err == nil {
				_, err = r.Next()
			}
			assert.EqualError(t, err, tc.want)
		})
	}
}

func TestValuesKeepTypes(t *testing.T) {
	r, err := NewCSVReader(strings.NewReader("Name,Value,Big\nx,1e3,.5\n"), Options{})
	require.NoError(t, err)
	row, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, `{"name":"x","value":1e3,"big":0.5}`, string(row))
}
