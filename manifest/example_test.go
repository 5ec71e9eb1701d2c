package manifest_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hybridd/hybridd/manifest"
)

func ExampleParse() {
	dir, err := os.MkdirTemp("", "manifest-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "threshold-alert.wasm"), []byte("\x00asm"), 0o600); err != nil {
		fmt.Println(err)
		return
	}

	src := []byte(`apiVersion: hybridd/v1
kind: Workload
metadata:
  name: co2-alert
spec:
  wasm:
    module: threshold-alert.wasm
  trigger:
    mqtt:
      topic: sensors/{device}/telemetry
  output:
    topic: alerts/{device}/co2
  env: {FIELD: co2, ABOVE: "1000"}
  resources:
    memory: 16Mi
  timeout: 250ms
`)
	workloads, err := manifest.Parse(filepath.Join(dir, "manifest.yaml"), src)
	if err != nil {
		fmt.Println(err)
		return
	}
	w := workloads[0]
	fmt.Println(w.Name, w.Spec.Runtime, filepath.Base(w.Spec.Wasm.Module))
	fmt.Println(w.Spec.Trigger.MQTT.Topics, w.Spec.Trigger.MQTT.QoS, w.Spec.Output.Topic)
	fmt.Println(w.Spec.Resources.Memory, w.Spec.Timeout, w.Spec.Concurrency)

	// A number where a string belongs is an error naming file, line, column
	// and field.
	_, err = manifest.Parse("manifest.yaml", []byte(`apiVersion: hybridd/v1
kind: Workload
metadata: {name: co2-alert}
spec:
  container: {image: "alpine:3.20", mode: service}
  env:
    ABOVE: 1000
`))
	fmt.Println(err)
	// Output:
	// co2-alert auto threshold-alert.wasm
	// [sensors/{device}/telemetry] 1 alerts/{device}/co2
	// 16777216 250ms 1
	// manifest.yaml:7:5: spec.env.ABOVE: expected a string, got the number 1000 (quote it: "1000")
}
