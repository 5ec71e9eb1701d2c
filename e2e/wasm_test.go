package e2e

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hybridd/hybridd/internal/testenv"
)

var exampleManifest = filepath.Join(repoRoot, "examples/wasm-sensors/manifest.yaml")

// reading is one row of the occupancy data set, read without hybridd's code.
type reading struct {
	ts          string
	co2         float64
	temperature float64
	humidity    float64
	json        string
}

// readOccupancy parses the data set with encoding/csv and builds the
// telemetry JSON by hand, as an independent client would.
func readOccupancy(t testing.TB, device string) []reading {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "examples/wasm-sensors/data/datatest.txt"))
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	require.NoError(t, err)

	var readings []reading
	for _, row := range rows[1:] {
		// Fields: row number, date, Temperature, Humidity, Light, CO2, HumidityRatio, Occupancy.
		num := func(i int) float64 {
			v, err := strconv.ParseFloat(row[i], 64)
			require.NoError(t, err)
			return v
		}
		readings = append(readings, reading{
			ts: row[1], temperature: num(2), humidity: num(3), co2: num(5),
			json: fmt.Sprintf(`{"device":%q,"ts":%q,"temperature":%s,"humidity":%s,"light":%s,"co2":%s,"humidity_ratio":%s,"occupancy":%s}`,
				device, row[1], row[2], row[3], row[4], row[5], row[6], row[7]),
		})
	}
	return readings
}

// publishLines sends each line as one message with mosquitto_pub -l.
func publishLines(t testing.TB, addr, topic string, lines []string) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mosquitto_pub", "-h", host, "-p", port, "-V", "mqttv5",
		"-q", "1", "-t", topic, "-l")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "mosquitto_pub -l: %s", out)
}

type alert struct {
	Device string  `json:"device"`
	TS     string  `json:"ts"`
	Field  string  `json:"field"`
	Value  float64 `json:"value"`
	Above  float64 `json:"above"`
}

// checkCO2Alerts replays the data set through a daemon and compares the
// alerts with those computed from the file.
func checkCO2Alerts(t *testing.T, d *daemon) {
	readings := readOccupancy(t, "office-1")
	var expected []alert
	var lines []string
	for _, r := range readings {
		lines = append(lines, r.json)
		if r.co2 > 1000 {
			expected = append(expected, alert{Device: "office-1", TS: r.ts, Field: "co2", Value: r.co2, Above: 1000})
		}
	}
	require.Len(t, expected, 595, "the data set's count of readings with co2 above 1000")

	sub := testenv.StartSub(t, d.mqttAddr, "alerts/#", len(expected), 240*time.Second)
	publishLines(t, d.mqttAddr, "sensors/office-1/telemetry", lines)
	messages := sub.Wait()

	// No alert beyond the expected ones: once co2-alert has handled every
	// reading, its alert topic received exactly that many messages.
	extra := testenv.StartSub(t, d.mqttAddr, "alerts/#", 1, 2*time.Second)
	waitForMetric(t, d, `hybridd_invocations_total{outcome="success",runtime="wasm",workload="co2-alert"} 2665`)
	assert.Empty(t, extra.Wait(), "alerts after the expected ones")

	var got []alert
	for _, m := range messages {
		topic, payload, _ := strings.Cut(m, " ")
		assert.Equal(t, "alerts/office-1/co2", topic)
		var a alert
		require.NoError(t, json.Unmarshal([]byte(payload), &a), "alert payload %q", payload)
		got = append(got, a)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].TS < got[j].TS })
	assert.Equal(t, expected, got)
}

func TestDeployReplayAlertsEmbeddedBroker(t *testing.T) {
	d := startDaemon(t, daemonOptions{})
	out := d.mustRun("deploy", exampleManifest)
	assert.Regexp(t, `(?m)^co2-alert\s+wasm\s+created running`, out)
	assert.Regexp(t, `(?m)^dew-point\s+wasm\s+created running`, out)

	checkCO2Alerts(t, d)

	metrics := d.scrape()
	assert.Contains(t, metrics, `hybridd_invocations_total{outcome="success",runtime="wasm",workload="co2-alert"} 2665`)
	assert.Contains(t, metrics, "hybridd_mqtt_messages_received_total")
}

// TestDeployReplayAlertsMosquitto runs co2-alert alone, to keep the test
// short: the embedded-broker test above runs the whole example manifest.
func TestDeployReplayAlertsMosquitto(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	d := startDaemon(t, daemonOptions{MQTTURL: broker.URL()})
	manifest := thresholdManifest(t, t.TempDir(), "co2-alert", "co2", "1000")
	d.mustRun("deploy", manifest)
	checkCO2Alerts(t, d)
}

func TestDeployTwiceIsUnchanged(t *testing.T) {
	d := startDaemon(t, daemonOptions{})
	d.mustRun("deploy", exampleManifest)
	out := d.mustRun("deploy", exampleManifest)
	assert.Regexp(t, `(?m)^co2-alert\s+wasm\s+unchanged running`, out)
	assert.Regexp(t, `(?m)^dew-point\s+wasm\s+unchanged running`, out)
}

func TestChangedSpecReplacesWorkload(t *testing.T) {
	d := startDaemon(t, daemonOptions{})
	dir := t.TempDir()
	manifest := func(above string) string {
		return thresholdManifest(t, dir, "alert", "temperature", above)
	}
	out := d.mustRun("deploy", manifest("20"))
	assert.Regexp(t, `(?m)^alert\s+wasm\s+created running`, out)
	out = d.mustRun("deploy", manifest("30"))
	assert.Regexp(t, `(?m)^alert\s+wasm\s+replaced running`, out)

	sub := testenv.StartSub(t, d.mqttAddr, "alerts/#", 1, 30*time.Second)
	testenv.Pub(t, d.mqttAddr, "sensors/lab/telemetry", `{"device":"lab","ts":"t1","temperature":25}`, 1)
	testenv.Pub(t, d.mqttAddr, "sensors/lab/telemetry", `{"device":"lab","ts":"t2","temperature":31}`, 1)
	messages := sub.Wait()
	require.Len(t, messages, 1, "only the reading above the new threshold alerts")
	assert.Equal(t, `alerts/lab/temperature {"device":"lab","ts":"t2","field":"temperature","value":31,"above":30}`, messages[0])
}

// thresholdManifest writes a manifest of one threshold-alert workload: an
// alert on alerts/{device}/FIELD for each reading whose FIELD is above.
func thresholdManifest(t testing.TB, dir, name, field, above string) string {
	t.Helper()
	module := filepath.Join(repoRoot, "examples/wasm-sensors/bin/threshold-alert.wasm")
	return writeManifest(t, dir, name+".yaml", fmt.Sprintf(`apiVersion: hybridd/v1
kind: Workload
metadata:
  name: %s
spec:
  wasm:
    module: %s
  trigger:
    mqtt:
      topic: sensors/{device}/telemetry
  output:
    topic: alerts/{device}/%s
  env:
    FIELD: %s
    ABOVE: %q
  resources:
    memory: 64Mi
`, name, module, field, field, above))
}

// waitForMetric polls /metrics until it contains line, for up to two minutes.
func waitForMetric(t testing.TB, d *daemon, line string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(d.scrape(), line) {
		if time.Now().After(deadline) {
			t.Fatalf("metrics never contained %q", line)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
