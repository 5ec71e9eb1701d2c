package wasmhost

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const officeReading = `{"device":"office-1","ts":"2015-02-04 17:51:00","temperature":23.18,"humidity":27.272,"light":426,"co2":1017.5,"humidity_ratio":0.00479,"occupancy":1}`

func TestThresholdAlert(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		topic   string
		payload string
		stdout  string
		code    uint32 // expected exit code; 0 means success
		stderr  string
	}{
		{
			name:    "above prints one line",
			env:     map[string]string{"FIELD": "co2", "ABOVE": "1000"},
			payload: officeReading,
			stdout:  `{"device":"office-1","ts":"2015-02-04 17:51:00","field":"co2","value":1017.5,"above":1000}` + "\n",
		},
		{
			name:    "equal prints nothing",
			env:     map[string]string{"FIELD": "co2", "ABOVE": "1017.5"},
			payload: officeReading,
		},
		{
			name:    "below prints nothing",
			env:     map[string]string{"FIELD": "light", "ABOVE": "500"},
			payload: officeReading,
		},
		{
			name:    "device from the topic",
			env:     map[string]string{"FIELD": "humidity_ratio", "ABOVE": "0.001"},
			topic:   "sensors/lab-2/telemetry",
			payload: `{"ts":"2015-02-04 17:52:00","humidity_ratio":0.00479}`,
			stdout:  `{"device":"lab-2","ts":"2015-02-04 17:52:00","field":"humidity_ratio","value":0.00479,"above":0.001}` + "\n",
		},
		{
			name:    "two readings in one payload",
			env:     map[string]string{"FIELD": "co2", "ABOVE": "1e3"},
			payload: `{"device":"a","ts":"t1","co2":999}` + "\n" + `{"device":"b","ts":"t2","co2":1200}`,
			stdout:  `{"device":"b","ts":"t2","field":"co2","value":1200,"above":1000}` + "\n",
		},
		{
			name:    "missing field",
			env:     map[string]string{"FIELD": "co2", "ABOVE": "1000"},
			payload: `{"device":"a","temperature":20}`,
			code:    1,
			stderr:  "threshold-alert: reading has no field \"co2\"\n",
		},
		{
			name:    "field not a number",
			env:     map[string]string{"FIELD": "co2", "ABOVE": "1000"},
			payload: `{"device":"a","co2":"high"}`,
			code:    1,
			stderr:  "threshold-alert: field \"co2\" is \"high\", not a number\n",
		},
		{
			name:    "not JSON",
			env:     map[string]string{"FIELD": "co2", "ABOVE": "1000"},
			payload: `co2=1200`,
			code:    1,
			stderr:  "threshold-alert: reading 1 is not a JSON object: invalid character 'c' looking for beginning of value\n",
		},
		{
			name:    "empty FIELD",
			env:     map[string]string{"ABOVE": "1000"},
			payload: officeReading,
			code:    1,
			stderr:  "threshold-alert: FIELD is empty: set it to the reading field to watch, e.g. co2\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			m := load(t, "threshold-alert", ModuleConfig{Env: tt.env, Log: &stderr})
			topic := tt.topic
			if topic == "" {
				topic = "sensors/office-1/telemetry"
			}

			out, err := m.Invoke(context.Background(), Input{Topic: topic, Payload: []byte(tt.payload)})
			if tt.code == 0 {
				require.NoError(t, err)
			} else {
				var exit *ExitError
				require.ErrorAs(t, err, &exit)
				assert.Equal(t, tt.code, exit.Code)
			}
			assert.Equal(t, tt.stdout, string(out.Stdout))
			assert.Equal(t, tt.stderr, stderr.String())
		})
	}
}

func TestDewPoint(t *testing.T) {
	// Expected values were computed outside Go, in Python, from the same
	// Magnus coefficients (a = 17.625, b = 243.04 °C): 3.2888, 9.2611 and
	// -7.9156 °C before rounding.
	tests := []struct {
		name    string
		payload string
		stdout  string
	}{
		{"office reading", officeReading, `{"device":"office-1","ts":"2015-02-04 17:51:00","dew_point":3.29}`},
		{"20 °C at 50 %", `{"device":"d","ts":"t","temperature":20,"humidity":50}`, `{"device":"d","ts":"t","dew_point":9.26}`},
		{"below freezing", `{"device":"d","ts":"t","temperature":-5,"humidity":80}`, `{"device":"d","ts":"t","dew_point":-7.92}`},
	}
	m := load(t, "dew-point", ModuleConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := m.Invoke(context.Background(), Input{Topic: "sensors/x/telemetry", Payload: []byte(tt.payload)})
			require.NoError(t, err)
			assert.Equal(t, tt.stdout+"\n", string(out.Stdout))
		})
	}
}

func TestDewPointRejectsZeroHumidity(t *testing.T) {
	var stderr bytes.Buffer
	m := load(t, "dew-point", ModuleConfig{Log: &stderr})

	_, err := m.Invoke(context.Background(), Input{Payload: []byte(`{"device":"d","temperature":20,"humidity":0}`)})
	var exit *ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, "dew-point: humidity 0 %RH is out of range: it must be above 0 and at most 100\n", stderr.String())
}
