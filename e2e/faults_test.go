package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hybridd/hybridd/internal/testenv"
)

// assembleWAT builds a test module with wat2wasm into dir.
func assembleWAT(t testing.TB, dir, name string) string {
	t.Helper()
	wat2wasm, err := exec.LookPath("wat2wasm")
	require.NoError(t, err, "wat2wasm not found: install the Debian package wabt")
	out := filepath.Join(dir, name+".wasm")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	output, err := exec.CommandContext(ctx, wat2wasm, filepath.Join("testdata", name+".wat"), "-o", out).CombinedOutput()
	require.NoError(t, err, "wat2wasm %s: %s", name, output)
	return out
}

// TestFaultyGuestKeepsHostServing sends a loop, a trap and a non-zero exit
// between good messages; each good message still gets its output, in order.
func TestFaultyGuestKeepsHostServing(t *testing.T) {
	d := startDaemon(t, daemonOptions{})
	dir := t.TempDir()
	module := assembleWAT(t, dir, "faulty")
	manifest := writeManifest(t, dir, "faulty.yaml", fmt.Sprintf(`apiVersion: hybridd/v1
kind: Workload
metadata:
  name: faulty
spec:
  wasm:
    module: %s
  trigger:
    mqtt:
      topic: in/{id}
  output:
    topic: out/{id}
  resources:
    memory: 1Mi
  timeout: 300ms
`, module))
	d.mustRun("deploy", manifest)

	sub := testenv.StartSub(t, d.mqttAddr, "out/#", 4, 60*time.Second)
	for i, payload := range []string{"good-1", "loop", "good-2", "trap", "good-3", "x-exit", "good-4"} {
		testenv.Pub(t, d.mqttAddr, fmt.Sprintf("in/%d", i), payload, 1)
	}
	messages := sub.Wait()
	assert.Equal(t, []string{"out/0 good-1", "out/2 good-2", "out/4 good-3", "out/6 good-4"}, messages)

	metrics := d.scrape()
	for outcome, count := range map[string]int{"success": 4, "timeout": 1, "trap": 1, "error": 1} {
		assert.Contains(t, metrics,
			fmt.Sprintf(`hybridd_invocations_total{outcome=%q,runtime="wasm",workload="faulty"} %d`, outcome, count))
	}

	logs := d.mustRun("logs", "faulty")
	assert.Contains(t, logs, "(timeout)")
	assert.Contains(t, logs, "(trap)")
}

func TestMalformedManifestChangesNothing(t *testing.T) {
	d := startDaemon(t, daemonOptions{})
	d.mustRun("deploy", exampleManifest)
	before := d.mustRun("ps", "-o", "json")

	dir := t.TempDir()
	bad := writeManifest(t, dir, "bad.yaml", `apiVersion: hybridd/v1
kind: Workload
metadata:
  name: co2-alert
spec:
  wasm:
    module: missing.wasm
  trigger:
    mqtt:
      topic: sensors/+/telemetry
  resources:
    memory: 12 MB
`)
	_, stderr, code := d.run("deploy", bad)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, bad+":12:5: spec.resources.memory: invalid quantity \"12 MB\" (use Ki, Mi, Gi, e.g. 12Mi)")
	assert.Contains(t, stderr, bad+":7:5: spec.wasm.module:")
	assert.Contains(t, stderr, filepath.Join(dir, "missing.wasm"))

	after := d.mustRun("ps", "-o", "json")
	assert.JSONEq(t, stripVolatile(before), stripVolatile(after))
}

// stripVolatile drops the counters that may move between two ps calls.
func stripVolatile(psJSON string) string {
	var out []string
	for _, line := range strings.Split(psJSON, "\n") {
		if strings.Contains(line, `"memoryUsed"`) {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func TestRestartRestoresWorkloads(t *testing.T) {
	d := startDaemon(t, daemonOptions{})
	d.mustRun("deploy", exampleManifest)
	d.restart()

	out := d.mustRun("ps")
	assert.Regexp(t, `(?m)^co2-alert\s+wasm\s+command\s+running`, out)

	sub := testenv.StartSub(t, d.mqttAddr, "alerts/#", 1, 30*time.Second)
	testenv.Pub(t, d.mqttAddr, "sensors/hall/telemetry", `{"device":"hall","ts":"t","co2":1500}`, 1)
	assert.Equal(t, []string{`alerts/hall/co2 {"device":"hall","ts":"t","field":"co2","value":1500,"above":1000}`}, sub.Wait())
}

func TestRemoveStopsWorkload(t *testing.T) {
	d := startDaemon(t, daemonOptions{})
	d.mustRun("deploy", exampleManifest)
	assert.Equal(t, "co2-alert removed\n", d.mustRun("rm", "co2-alert"))

	out := d.mustRun("ps")
	assert.NotContains(t, out, "co2-alert")
	assert.Contains(t, out, "dew-point")

	_, stderr, code := d.run("rm", "co2-alert")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, `workload not found: "co2-alert"`)
}

// TestPublishCSVReplaysDataSet checks every message and its order through
// mosquitto: the embedded broker may reorder what it sends to a subscriber
// whose Receive Maximum is used up, as mosquitto_sub's is in a burst.
func TestPublishCSVReplaysDataSet(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	d := startDaemon(t, daemonOptions{MQTTURL: broker.URL()})
	data := filepath.Join(repoRoot, "examples/wasm-sensors/data/datatest.txt")
	sub := testenv.StartSub(t, d.mqttAddr, "sensors/#", 2665, 90*time.Second)
	d.mustRun("publish", "--mqtt-url", "mqtt://"+d.mqttAddr, "--csv", data, "--device", "office-1",
		"sensors/{device}/telemetry")
	messages := sub.Wait()

	expected := readOccupancy(t, "office-1")
	require.Len(t, messages, len(expected))
	for i, m := range messages {
		assert.Equal(t, "sensors/office-1/telemetry "+expected[i].json, m)
	}
}
