package e2e

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hybridd/hybridd/internal/testenv"
)

type average struct {
	Device string  `json:"device"`
	TS     string  `json:"ts"`
	Field  string  `json:"field"`
	Mean   float64 `json:"mean"`
	N      int     `json:"n"`
}

// TestMovingAverageReactorFromExample replays readings through the
// temperature-avg workload of the example manifest and compares each mean
// with one computed here over the same window of 5.
func TestMovingAverageReactorFromExample(t *testing.T) {
	d := startDaemon(t, daemonOptions{})
	out := d.mustRun("deploy", exampleManifest)
	assert.Regexp(t, `(?m)^temperature-avg\s+wasm\s+created running`, out)
	assert.Regexp(t, `(?m)^temperature-avg\s+wasm\s+reactor\s+running`, d.mustRun("ps"))

	readings := readOccupancy(t, "office-1")[:300]
	var lines []string
	var expected []average
	for i, r := range readings {
		lines = append(lines, r.json)
		first := max(0, i-4)
		sum := 0.0
		for _, w := range readings[first : i+1] {
			sum += w.temperature
		}
		n := i + 1 - first
		expected = append(expected, average{Device: "office-1", TS: r.ts, Field: "temperature", Mean: sum / float64(n), N: n})
	}

	sub := testenv.StartSub(t, d.mqttAddr, "derived/+/temperature_avg", len(readings), 120*time.Second)
	publishLines(t, d.mqttAddr, "sensors/office-1/telemetry", lines)
	messages := sub.Wait()
	require.Len(t, messages, len(expected))

	// The reactor must see the readings in order, or its means differ from
	// the expected ones. The results themselves are matched by timestamp:
	// mochi-mqtt v2.7.9 may reorder what it sends to mosquitto_sub once the
	// subscriber's Receive Maximum is used up.
	byTS := make(map[string]average, len(expected))
	for _, w := range expected {
		byTS[w.TS] = w
	}
	for _, m := range messages {
		topic, payload, _ := strings.Cut(m, " ")
		assert.Equal(t, "derived/office-1/temperature_avg", topic)
		var got average
		require.NoError(t, json.Unmarshal([]byte(payload), &got), "payload %q", payload)
		want, ok := byTS[got.TS]
		require.True(t, ok, "result for an unknown or repeated reading: %s", payload)
		delete(byTS, got.TS)
		assert.Equal(t, want.N, got.N, "reading %s", got.TS)
		assert.InDelta(t, want.Mean, got.Mean, 1e-9*math.Max(1, math.Abs(want.Mean)), "reading %s", got.TS)
	}
	assert.Empty(t, byTS, "readings without a result")
}
