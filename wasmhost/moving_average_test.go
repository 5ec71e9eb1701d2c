package wasmhost

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hybridd/hybridd/internal/testenv"
)

// occupancyRow is one row of the Occupancy Detection test file.
type occupancyRow struct {
	ts  string
	co2 float64
	raw []string
}

// readOccupancy returns the first n rows of datatest.txt. Its header names
// one column fewer than each row has: field 0 is R's row number.
func readOccupancy(t *testing.T, n int) []occupancyRow {
	t.Helper()
	f, err := os.Open("../examples/wasm-sensors/data/datatest.txt")
	require.NoError(t, err)
	defer f.Close()

	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	require.NoError(t, err)
	require.Equal(t, []string{"date", "Temperature", "Humidity", "Light", "CO2", "HumidityRatio", "Occupancy"}, header)

	rows := make([]occupancyRow, 0, n)
	for len(rows) < n {
		record, err := r.Read()
		require.NoError(t, err)
		require.Len(t, record, len(header)+1)
		co2, err := strconv.ParseFloat(record[5], 64)
		require.NoError(t, err)
		rows = append(rows, occupancyRow{ts: record[1], co2: co2, raw: record})
	}
	return rows
}

// telemetryJSON renders a row as a telemetry reading without a "device" key,
// so that the reactor takes the device from the topic.
func (row occupancyRow) telemetryJSON() []byte {
	return fmt.Appendf(nil, `{"ts":%q,"temperature":%s,"humidity":%s,"light":%s,"co2":%s,"humidity_ratio":%s,"occupancy":%s}`,
		row.raw[1], row.raw[2], row.raw[3], row.raw[4], row.raw[5], row.raw[6], row.raw[7])
}

func TestMovingAverageMatchesCSV(t *testing.T) {
	const window = 10
	rows := readOccupancy(t, 200)
	m := load(t, "moving-average", ModuleConfig{Env: map[string]string{"FIELD": "co2", "WINDOW": strconv.Itoa(window)}})
	require.Equal(t, KindReactor, m.Kind())

	// Rows alternate between two devices, each with its own window.
	devices := []string{"office-1", "office-2"}
	history := map[string][]float64{}
	for i, row := range rows {
		device := devices[i%2]
		out, err := m.Invoke(context.Background(), Input{Topic: "sensors/" + device + "/telemetry", Payload: row.telemetryJSON()})
		require.NoError(t, err, "row %d", i)
		require.Len(t, out.Published, 1, "row %d", i)
		assert.Empty(t, out.Published[0].Topic, "row %d goes to the output topic", i)

		history[device] = append(history[device], row.co2)
		last := history[device][max(0, len(history[device])-window):]
		sum := 0.0
		for _, v := range last {
			sum += v
		}

		var got struct {
			Device string  `json:"device"`
			TS     string  `json:"ts"`
			Field  string  `json:"field"`
			Mean   float64 `json:"mean"`
			N      int     `json:"n"`
		}
		require.NoError(t, json.Unmarshal(out.Published[0].Payload, &got), "row %d", i)
		assert.Equal(t, device, got.Device, "row %d", i)
		assert.Equal(t, row.ts, got.TS, "row %d", i)
		assert.Equal(t, "co2", got.Field, "row %d", i)
		assert.Equal(t, len(last), got.N, "row %d", i)
		// The reactor sums its ring in storage order, so the last bits may differ.
		assert.InDelta(t, sum/float64(len(last)), got.Mean, 1e-9, "row %d", i)
	}
}

func TestMovingAverageBadReading(t *testing.T) {
	var log testenv.SyncBuffer
	m := load(t, "moving-average", ModuleConfig{Env: map[string]string{"FIELD": "co2", "WINDOW": "3"}, Log: &log})

	_, err := m.Invoke(context.Background(), Input{Topic: "sensors/a/telemetry", Payload: []byte(`{"co2":"n/a"}`)})
	var exit *ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, uint32(1), exit.Code, "the SDK's status for a handler error")
	assert.Contains(t, log.String(), `level=ERROR msg="field \"co2\" is \"n/a\", not a number"`)

	// The instance stays warm and keeps working.
	out, err := m.Invoke(context.Background(), Input{Topic: "sensors/a/telemetry", Payload: []byte(`{"co2":600}`)})
	require.NoError(t, err)
	require.Len(t, out.Published, 1)
	assert.JSONEq(t, `{"device":"a","ts":null,"field":"co2","mean":600,"n":1}`, string(out.Published[0].Payload))
}

func TestMovingAverageBadEnv(t *testing.T) {
	var log testenv.SyncBuffer
	m := load(t, "moving-average", ModuleConfig{Env: map[string]string{"FIELD": "co2", "WINDOW": "zero"}, Log: &log})

	_, err := m.Invoke(context.Background(), Input{Topic: "sensors/a/telemetry", Payload: []byte(`{"co2":600}`)})
	var exit *ExitError
	require.ErrorAs(t, err, &exit)
	assert.Contains(t, log.String(), `WINDOW \"zero\" is not a positive integer`)
}
