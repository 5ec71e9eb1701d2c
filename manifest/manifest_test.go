package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// workdir makes a temporary directory holding threshold.wasm and
// logger.tar, changes into it for the test and returns its path.
func workdir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	for _, name := range []string{"threshold.wasm", "logger.tar"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600))
	}
	t.Chdir(dir)
	return dir
}

const minimalWasm = `apiVersion: hybridd/v1
kind: Workload
metadata:
  name: co2-alert
spec:
  wasm:
    module: threshold.wasm
  trigger:
    mqtt:
      topic: sensors/{device}/telemetry
`

func TestParseDefaults(t *testing.T) {
	dir := workdir(t)

	got, err := Parse("manifest.yaml", []byte(minimalWasm))
	require.NoError(t, err)
	require.Len(t, got, 1)

	w := got[0]
	assert.Equal(t, "co2-alert", w.Name)
	assert.Nil(t, w.Labels)
	assert.Equal(t, Position{File: "manifest.yaml", Line: 1, Column: 1}, w.Source)
	assert.Equal(t, RuntimeAuto, w.Spec.Runtime)
	assert.Equal(t, &WasmSpec{Module: filepath.Join(dir, "threshold.wasm")}, w.Spec.Wasm)
	assert.Nil(t, w.Spec.Container)
	assert.Equal(t, &MQTTTrigger{Topics: []string{"sensors/{device}/telemetry"}, QoS: 1}, w.Spec.Trigger.MQTT)
	assert.Empty(t, w.Spec.Output.Topic)
	assert.Nil(t, w.Spec.Env)
	assert.Equal(t, Resources{Memory: 32 << 20}, w.Spec.Resources)
	assert.Equal(t, 5*time.Second, w.Spec.Timeout)
	assert.Equal(t, 1, w.Spec.Concurrency)
}

func TestParseFullWorkload(t *testing.T) {
	dir := workdir(t)
	src := `apiVersion: hybridd/v1
kind: Workload
metadata:
  name: logger
  labels: {app: sensors, example.com/tier: edge}
spec:
  runtime: container
  container:
    image: oci-archive:logger.tar
    mode: service
    command: [/bin/logger, --verbose]
    user: 1000:1001
    capabilities: [net_bind_service, CAP_NET_RAW, sys_time]
    restart: on-failure
    ports: [8080, 443]
    devices: [/dev/ttyUSB0]
    hostPaths: [/var/lib/sensors/]
  trigger:
    mqtt:
      topics:
        - $share/loggers/sensors/{device}/telemetry
        - sensors/{device}/status
      qos: 0
  output:
    topic: logs/{device}
  env: {FIELD: co2, ABOVE: "1000", COUNT: !!str 3}
  resources:
    memory: 1.5Gi
    cpu: 500m
  timeout: 250ms
  concurrency: 8
`
	got, err := Parse("manifest.yaml", []byte(src))
	require.NoError(t, err)
	require.Len(t, got, 1)

	w := got[0]
	assert.Equal(t, map[string]string{"app": "sensors", "example.com/tier": "edge"}, w.Labels)
	assert.Equal(t, RuntimeContainer, w.Spec.Runtime)
	assert.Equal(t, &ContainerSpec{
		Image:        "oci-archive:" + filepath.Join(dir, "logger.tar"),
		Mode:         ModeService,
		Command:      []string{"/bin/logger", "--verbose"},
		User:         "1000:1001",
		Capabilities: []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_TIME"},
		Restart:      RestartOnFailure,
		Ports:        []int{8080, 443},
		Devices:      []string{"/dev/ttyUSB0"},
		HostPaths:    []string{"/var/lib/sensors"},
	}, w.Spec.Container)
	assert.Equal(t, &MQTTTrigger{
		Topics: []string{"$share/loggers/sensors/{device}/telemetry", "sensors/{device}/status"},
		QoS:    0,
	}, w.Spec.Trigger.MQTT)
	assert.Equal(t, "logs/{device}", w.Spec.Output.Topic)
	assert.Equal(t, map[string]string{"FIELD": "co2", "ABOVE": "1000", "COUNT": "3"}, w.Spec.Env)
	assert.Equal(t, Resources{Memory: 3 << 29, CPU: 500}, w.Spec.Resources)
	assert.Equal(t, 250*time.Millisecond, w.Spec.Timeout)
	assert.Equal(t, 8, w.Spec.Concurrency)
}

func TestParseContainerDefaults(t *testing.T) {
	workdir(t)
	src := `apiVersion: hybridd/v1
kind: Workload
metadata: {name: logger}
spec:
  container:
    image: docker.io/library/alpine:3.20
    command: [/bin/cat]
  trigger: {mqtt: {topic: "sensors/#"}}
`
	got, err := Parse("manifest.yaml", []byte(src))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, &ContainerSpec{
		Image:   "docker.io/library/alpine:3.20",
		Mode:    ModeFunction,
		Command: []string{"/bin/cat"},
		User:    "65534:65534",
		Restart: RestartAlways,
	}, got[0].Spec.Container)
}

func TestParseServiceNeedsNoTrigger(t *testing.T) {
	workdir(t)
	src := `apiVersion: hybridd/v1
kind: Workload
metadata: {name: gateway}
spec:
  container: {image: "alpine:3.20", mode: service}
`
	got, err := Parse("manifest.yaml", []byte(src))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Nil(t, got[0].Spec.Trigger.MQTT)
	assert.Nil(t, got[0].Spec.Container.Command)
}

func TestParseRelativePaths(t *testing.T) {
	dir := workdir(t)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "deploy", "modules"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "deploy", "modules", "alert.wasm"), []byte("x"), 0o600))
	src := `apiVersion: hybridd/v1
kind: Workload
metadata: {name: a}
spec:
  wasm: {module: modules/alert.wasm}
  container: {image: "oci-archive:../logger.tar", command: [/bin/cat]}
  trigger: {mqtt: {topic: a}}
---
apiVersion: hybridd/v1
kind: Workload
metadata: {name: b}
spec:
  wasm: {module: "oci-archive:` + filepath.Join(dir, "threshold.wasm") + `"}
  trigger: {mqtt: {topic: b}}
`
	got, err := Parse(filepath.Join("deploy", "manifest.yaml"), []byte(src))
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, filepath.Join(dir, "deploy", "modules", "alert.wasm"), got[0].Spec.Wasm.Module)
	assert.Equal(t, "oci-archive:"+filepath.Join(dir, "logger.tar"), got[0].Spec.Container.Image)
	assert.Equal(t, "oci-archive:"+filepath.Join(dir, "threshold.wasm"), got[1].Spec.Wasm.Module)
}

func TestParseMultiDocument(t *testing.T) {
	workdir(t)
	doc := func(name string) string {
		return "apiVersion: hybridd/v1\nkind: Workload\nmetadata: {name: " + name + "}\n" +
			"spec: {wasm: {module: threshold.wasm}, trigger: {mqtt: {topic: t}}}\n"
	}
	// Empty and comment-only documents sit between the workloads; the
	// YAML library alone would drop every document after them.
	src := doc("one") + // lines 1-4
		"---\n" + // line 5
		"---\n# nothing here\n" + // lines 6-7
		"---\n" + doc("two") + // lines 8-12
		"...\n---\n\n" + doc("three") // lines 13-19

	got, err := Parse("manifest.yaml", []byte(src))
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, "one", got[0].Name)
	assert.Equal(t, Position{File: "manifest.yaml", Line: 1, Column: 1}, got[0].Source)
	assert.Equal(t, "two", got[1].Name)
	assert.Equal(t, Position{File: "manifest.yaml", Line: 8, Column: 1}, got[1].Source)
	assert.Equal(t, "three", got[2].Name)
	assert.Equal(t, Position{File: "manifest.yaml", Line: 14, Column: 1}, got[2].Source)
}

func TestParseFiles(t *testing.T) {
	workdir(t)
	require.NoError(t, os.WriteFile("a.yaml", []byte(minimalWasm), 0o600))
	other := `apiVersion: hybridd/v1
kind: Workload
metadata:
  name: other
spec: {wasm: {module: threshold.wasm}, trigger: {mqtt: {topic: x}}}
`
	require.NoError(t, os.WriteFile("b.yaml", []byte(other), 0o600))
	require.NoError(t, os.WriteFile("c.yaml", []byte("# same name as a.yaml\n"+minimalWasm), 0o600))

	got, err := ParseFiles("a.yaml", "b.yaml")
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "co2-alert", got[0].Name)
	assert.Equal(t, "other", got[1].Name)
	assert.Equal(t, "b.yaml", got[1].Source.File)

	_, err = ParseFiles("a.yaml", "b.yaml", "c.yaml")
	require.EqualError(t, err, `c.yaml:5:3: metadata.name: duplicate workload name "co2-alert" (first at a.yaml:4:3; names must be unique on the host)`)

	_, err = ParseFiles()
	require.EqualError(t, err, "no manifest files given (name at least one file)")

	_, err = ParseFiles("a.yaml", "missing.yaml")
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestParseFileReadError(t *testing.T) {
	workdir(t)
	_, err := ParseFile("missing.yaml")
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.EqualError(t, err, "read manifest: open missing.yaml: no such file or directory")
}

func TestParseFileReadsFile(t *testing.T) {
	workdir(t)
	require.NoError(t, os.WriteFile("m.yaml", []byte(minimalWasm), 0o600))
	got, err := ParseFile("m.yaml")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "m.yaml", got[0].Source.File)
}

func TestErrorListEntries(t *testing.T) {
	workdir(t)
	src := "apiVersion: hybridd/v1\nkind: Workload\nmetadata: {name: x}\nspec:\n  concurrency: 0\n  timeout: 0s\n  wasm: {module: threshold.wasm}\n  trigger: {mqtt: {topic: a}}\n"
	_, err := Parse("m.yaml", []byte(src))

	var list *ErrorList
	require.ErrorAs(t, err, &list)
	require.Len(t, list.Errors, 2)
	assert.Equal(t, &Error{Pos: Position{File: "m.yaml", Line: 5, Column: 3}, Field: "spec.concurrency", Msg: "0 is out of range (use 1 to 1024)"}, list.Errors[0])
	assert.Equal(t, &Error{Pos: Position{File: "m.yaml", Line: 6, Column: 3}, Field: "spec.timeout", Msg: "0s must be greater than 0"}, list.Errors[1])

	var first *Error
	require.True(t, errors.As(err, &first))
	assert.Equal(t, "spec.concurrency", first.Field)
}
