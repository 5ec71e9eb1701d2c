package bench

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// idleWorkloads is the count of idle reactors BenchmarkDaemonMemory deploys.
const idleWorkloads = 100

// settleTime is how long the daemon idles before each RSS reading, so that
// start-up and deploy garbage is collected or returned first.
// NOTE: the Go runtime returns freed memory to the OS lazily (scavenger),
// so RSS after a deploy may still hold some of its garbage.
const settleTime = 3 * time.Second

// BenchmarkDaemonMemory reads the resident set (VmRSS) of a real hybridd
// serve idle, and again with idleWorkloads WAT reactors deployed, each with
// one warm instance and nothing to do. bytes/workload is the RSS each
// reactor adds beyond its linear memory:
// (RSS100 − RSSidle) / 100 − linear memory per instance. One op is one
// such measurement with a fresh daemon. B/op and allocs/op count the
// benchmark process, not the daemon.
func BenchmarkDaemonMemory(b *testing.B) {
	var idle, loaded, linear float64
	runs := 0
	for b.Loop() {
		d := startDaemon(b, daemonOptions{})
		time.Sleep(settleTime)
		idle += rssBytes(b, d.pid())

		d.deploy(idleManifest(idleWorkloads))
		time.Sleep(settleTime)
		loaded += rssBytes(b, d.pid())
		linear += linearMemory(b, d, idleWorkloads)
		d.stop()
		runs++
	}
	idle /= float64(runs)
	loaded /= float64(runs)
	linear /= float64(runs)
	b.ReportMetric(0, "ns/op") // the time of a measurement means nothing here
	b.ReportMetric(idle/(1<<20), "rss-idle-MiB")
	b.ReportMetric(loaded/(1<<20), "rss-100-MiB")
	b.ReportMetric(linear, "linear-bytes/workload")
	b.ReportMetric((loaded-idle)/idleWorkloads-linear, "bytes/workload")
}

// idleManifest returns n reactor workloads on distinct topics that nothing
// publishes to.
func idleManifest(n int) string {
	docs := make([]string, n)
	for i := range docs {
		docs[i] = fmt.Sprintf(`apiVersion: hybridd/v1
kind: Workload
metadata:
  name: idle-%03d
spec:
  runtime: wasm
  wasm:
    module: %s
  trigger:
    mqtt:
      topic: bench/idle/%03d/{device}
  output:
    topic: bench/idle-out/%03d/{device}
  resources:
    memory: 1Mi
  concurrency: 1
`, i, artifacts.reactorWAT, i, i)
	}
	return strings.Join(docs, "---\n")
}

// linearMemory returns the mean linear memory of the n running workloads,
// from hybridd ps.
func linearMemory(b *testing.B, d *daemon, n int) float64 {
	b.Helper()
	out, _ := d.mustRun("ps", "-o", "json")
	var entries []struct {
		Name       string `json:"name"`
		State      string `json:"state"`
		MemoryUsed int64  `json:"memoryUsed"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		b.Fatalf("hybridd ps -o json: %v\n%s", err, out)
	}
	if len(entries) != n {
		b.Fatalf("hybridd ps lists %d workloads, want %d:\n%s", len(entries), n, out)
	}
	var sum float64
	for _, e := range entries {
		sum += float64(e.MemoryUsed)
	}
	return sum / float64(n)
}
