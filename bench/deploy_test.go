package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkDeployCompileCache measures the wall time of `hybridd deploy`
// for the Go module threshold-alert.wasm (about 3 MiB), cold and warm.
// Cold runs with an empty compilation cache. Warm runs in a daemon
// restarted on the same state dir after the workload was removed, so that
// only the on-disk cache remains.
// One op is one cold and one warm deploy with a fresh state dir. B/op and
// allocs/op count the benchmark process, not the daemon.
func BenchmarkDeployCompileCache(b *testing.B) {
	info, err := os.Stat(artifacts.thresholdGo)
	if err != nil {
		b.Fatal(err)
	}
	section := fmt.Sprintf("  runtime: wasm\n  wasm:\n    module: %s\n", artifacts.thresholdGo)
	manifest := workloadManifest("co2-alert", section, "  env:\n    FIELD: co2\n    ABOVE: \"1000\"\n", "64Mi")

	var cold, warm time.Duration
	var coldCompile, warmCompile float64
	runs := 0
	for b.Loop() {
		stateDir := filepath.Join(b.TempDir(), "state")
		d := startDaemon(b, daemonOptions{StateDir: stateDir})
		cold += d.deploy(manifest)
		coldCompile += d.metric("hybridd_wasm_compile_seconds_sum")
		d.mustRun("rm", "co2-alert")
		d.stop()

		d.start()
		warm += d.deploy(manifest)
		warmCompile += d.metric("hybridd_wasm_compile_seconds_sum")
		d.stop()
		runs++
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(info.Size())/(1<<20), "module-MiB")
	b.ReportMetric(float64(cold.Milliseconds())/float64(runs), "cold-ms")
	b.ReportMetric(float64(warm.Milliseconds())/float64(runs), "warm-ms")
	b.ReportMetric(cold.Seconds()/warm.Seconds(), "speedup")
	// The daemon's own load time (hybridd_wasm_compile_seconds), without
	// the CLI, the upload and the artifact copy.
	b.ReportMetric(coldCompile*1000/float64(runs), "cold-load-ms")
	b.ReportMetric(warmCompile*1000/float64(runs), "warm-load-ms")
}
