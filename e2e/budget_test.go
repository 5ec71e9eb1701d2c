package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hybridd/hybridd/internal/testenv"
)

// psEntry is one workload of `hybridd ps -o json`, decoded into the test's
// own type.
type psEntry struct {
	Name           string   `json:"name"`
	Runtime        string   `json:"runtime"`
	State          string   `json:"state"`
	Reasons        []string `json:"reasons"`
	Error          string   `json:"error"`
	MemoryReserved int64    `json:"memoryReserved"`
}

func psJSON(t *testing.T, d *daemon) []psEntry {
	t.Helper()
	out := d.mustRun("ps", "-o", "json")
	var entries []psEntry
	require.NoError(t, json.Unmarshal([]byte(out), &entries), "ps -o json output:\n%s", out)
	return entries
}

// budgetMetrics contains the memory budget gauges of the exposition.
type budgetMetrics struct {
	capacity int64
	reserved int64
	// workloads maps each workload to its reserved bytes.
	workloads map[string]int64
}

var workloadReservedSeries = regexp.MustCompile(`^hybridd_workload_memory_bytes\{kind="reserved",runtime="[a-z]+",workload="([a-z0-9-]+)"\}$`)

// scrapeBudget reads the budget gauges from the daemon's /metrics.
func scrapeBudget(t *testing.T, d *daemon) budgetMetrics {
	t.Helper()
	m := budgetMetrics{capacity: -1, reserved: -1, workloads: map[string]int64{}}
	for _, line := range strings.Split(d.scrape(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		space := strings.LastIndexByte(line, ' ')
		require.NotEqual(t, -1, space, "metrics line %q", line)
		series, text := line[:space], line[space+1:]
		value, err := strconv.ParseFloat(text, 64)
		require.NoError(t, err, "metrics line %q", line)
		switch {
		case series == `hybridd_memory_budget_bytes{state="capacity"}`:
			m.capacity = int64(value)
		case series == `hybridd_memory_budget_bytes{state="reserved"}`:
			m.reserved = int64(value)
		default:
			if match := workloadReservedSeries.FindStringSubmatch(series); match != nil {
				m.workloads[match[1]] = int64(value)
			}
		}
	}
	return m
}

// checkReservations compares `hybridd ps -o json` and /metrics with the
// reservations computed by the test: every listed workload is running and
// holds exactly its expected reservation.
func checkReservations(t *testing.T, d *daemon, capacity int64, expected map[string]int64) {
	t.Helper()
	var sum int64
	for _, bytes := range expected {
		sum += bytes
	}
	require.LessOrEqual(t, sum, capacity, "the test's own expectation exceeds the budget")

	listed := map[string]int64{}
	for _, e := range psJSON(t, d) {
		assert.Equal(t, "running", e.State, "%s: %s", e.Name, e.Error)
		listed[e.Name] = e.MemoryReserved
	}
	assert.Equal(t, expected, listed, "hybridd ps -o json memoryReserved")

	m := scrapeBudget(t, d)
	assert.Equal(t, capacity, m.capacity, `hybridd_memory_budget_bytes{state="capacity"}`)
	assert.Equal(t, sum, m.reserved, `hybridd_memory_budget_bytes{state="reserved"}`)
	assert.Equal(t, expected, m.workloads, `hybridd_workload_memory_bytes{kind="reserved"}`)
}

// echoWorkload returns a manifest document for the faulty test module, which
// copies an ordinary payload to its output. The workload subscribes to
// in/NAME/{id} and publishes on out/NAME/{id}. memory is a quantity.
func echoWorkload(name, module, memory string, concurrency int, env string) string {
	return fmt.Sprintf(`apiVersion: hybridd/v1
kind: Workload
metadata:
  name: %s
spec:
  wasm:
    module: %s
  trigger:
    mqtt:
      topic: in/%s/{id}
  output:
    topic: out/%s/{id}
  env:
    VERSION: %q
  resources:
    memory: %s
  concurrency: %d
`, name, module, name, name, env, memory, concurrency)
}

// waitRunning polls `hybridd ps` until every workload is running, at most
// for a bounded time, and returns the last listing.
func waitRunning(t *testing.T, d *daemon, count int) []psEntry {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries := psJSON(t, d)
		running := 0
		for _, e := range entries {
			if e.State == "running" {
				running++
			}
		}
		if running == count && len(entries) == count || time.Now().After(deadline) {
			return entries
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkEcho sends one message to a workload and expects it back.
func checkEcho(t *testing.T, d *daemon, name, payload string) {
	t.Helper()
	sub := testenv.StartSub(t, d.mqttAddr, "out/"+name+"/#", 1, 30*time.Second)
	testenv.Pub(t, d.mqttAddr, "in/"+name+"/probe", payload, 1)
	assert.Equal(t, []string{"out/" + name + "/probe " + payload}, sub.Wait(), "%s answers", name)
}

func TestBudgetAdmissionThroughDaemon(t *testing.T) {
	const capacity = 256 << 20
	d := startDaemon(t, daemonOptions{Budget: "256Mi"})
	dir := t.TempDir()
	module := assembleWAT(t, dir, "faulty")
	deploy := func(name, memory string, concurrency int, env string) (string, string, int) {
		path := writeManifest(t, dir, name+".yaml", echoWorkload(name, module, memory, concurrency, env))
		return d.run("deploy", path)
	}
	mustDeploy := func(name, memory string, concurrency int, env string) string {
		out, stderr, code := deploy(name, memory, concurrency, env)
		require.Equal(t, 0, code, "deploy %s: %s\n%s", name, stderr, d.log)
		return out
	}

	// Four holders leave 12 MiB: (63+1)*2 + (47+1)*2 + 15+1 + 3+1 = 244 MiB.
	holders := writeManifest(t, dir, "holders.yaml", strings.Join([]string{
		echoWorkload("sensor-logger", module, "63Mi", 2, "1"),
		echoWorkload("comfort", module, "47Mi", 2, "1"),
		echoWorkload("dew", module, "15Mi", 1, "1"),
		echoWorkload("tiny", module, "3Mi", 1, "1"),
	}, "---\n"))
	out := d.mustRun("deploy", holders)
	reason := "spec.wasm.module " + module + " is a core WebAssembly module and spec.container is not set"
	for _, name := range []string{"sensor-logger", "comfort", "dew", "tiny"} {
		assert.Regexp(t, firstReasonColumn(name, "wasm", reason), out)
	}
	expected := map[string]int64{"sensor-logger": 128 << 20, "comfort": 96 << 20, "dew": 16 << 20, "tiny": 4 << 20}
	checkReservations(t, d, capacity, expected)

	t.Run("exactly full fits", func(t *testing.T) {
		mustDeploy("co2-alert", "11Mi", 1, "1")
		expected["co2-alert"] = 12 << 20
		checkReservations(t, d, capacity, expected)

		assert.Equal(t, "co2-alert removed\n", d.mustRun("rm", "co2-alert"))
		delete(expected, "co2-alert")
		checkReservations(t, d, capacity, expected)
	})

	t.Run("one byte over is rejected", func(t *testing.T) {
		before := d.mustRun("ps", "-o", "json")
		// 11 MiB + 1 byte of linear memory reserves 12 MiB + 1 byte.
		_, stderr, code := deploy("co2-alert", strconv.Itoa(11<<20+1), 1, "1")
		assert.NotEqual(t, 0, code)
		message := "co2-alert needs 12.00 MiB; 12 MiB of 256 MiB free (sensor-logger 128 MiB, comfort 96 MiB, dew 16 MiB, ...)"
		assert.Equal(t, "hybridd: admission rejected: "+message+"\n", stderr)
		assert.JSONEq(t, stripVolatile(before), stripVolatile(d.mustRun("ps", "-o", "json")))
		checkReservations(t, d, capacity, expected)

		plan := planJSON(t, d, filepath.Join(dir, "co2-alert.yaml"))
		require.Len(t, plan.Entries, 1)
		assert.Equal(t, int64(12<<20+1), plan.Entries[0].Memory)
		assert.False(t, plan.Entries[0].Fits)
		assert.Equal(t, message, plan.Entries[0].Budget)
		assert.Equal(t, int64(capacity-244<<20), plan.Budget.Free)
	})

	t.Run("rejected set applies none", func(t *testing.T) {
		before := d.mustRun("ps", "-o", "json")
		// tiny grows by 2 MiB and each new workload needs 8 MiB: 18 MiB
		// against 12 MiB free.
		set := writeManifest(t, dir, "set.yaml", strings.Join([]string{
			echoWorkload("tiny", module, "5Mi", 1, "2"),
			echoWorkload("new-a", module, "7Mi", 1, "1"),
			echoWorkload("new-b", module, "7Mi", 1, "1"),
		}, "---\n"))
		_, stderr, code := d.run("deploy", set)
		assert.NotEqual(t, 0, code)
		assert.Equal(t, "hybridd: admission rejected: new-b needs 8 MiB; 2 MiB of 256 MiB free (sensor-logger 128 MiB, comfort 96 MiB, dew 16 MiB, ...)\n", stderr)

		assert.JSONEq(t, stripVolatile(before), stripVolatile(d.mustRun("ps", "-o", "json")))
		checkReservations(t, d, capacity, expected)
		checkEcho(t, d, "tiny", "still-here")
	})

	t.Run("failed start applies none", func(t *testing.T) {
		before := d.mustRun("ps", "-o", "json")
		// A wasm header with a body that does not decode passes the
		// selector, so admission reserves for it and its start fails.
		broken := filepath.Join(dir, "broken.wasm")
		require.NoError(t, os.WriteFile(broken, []byte("\x00asm\x01\x00\x00\x00\xff\xff\xff"), 0o644))
		set := writeManifest(t, dir, "broken-set.yaml", strings.Join([]string{
			echoWorkload("tiny", module, "5Mi", 1, "3"),
			echoWorkload("broken", broken, "1Mi", 1, "1"),
		}, "---\n"))
		_, stderr, code := d.run("deploy", set)
		assert.NotEqual(t, 0, code)
		assert.Contains(t, stderr, "broken: start wasm runtime: ")

		assert.JSONEq(t, stripVolatile(before), stripVolatile(d.mustRun("ps", "-o", "json")))
		checkReservations(t, d, capacity, expected)
		checkEcho(t, d, "tiny", "after-failed-start")
	})

	t.Run("replacement counts the difference", func(t *testing.T) {
		// dew grows from 16 MiB to 28 MiB: the 12 MiB difference is exactly
		// what is free, while the whole 28 MiB is not.
		out := mustDeploy("dew", "27Mi", 1, "2")
		assert.Regexp(t, firstReasonColumn("dew", "wasm", reason), out)
		assert.Contains(t, out, "replaced running")
		expected["dew"] = 28 << 20
		checkReservations(t, d, capacity, expected)

		_, stderr, code := deploy("tiny", "4Mi", 1, "2")
		assert.NotEqual(t, 0, code)
		assert.Equal(t, "hybridd: admission rejected: tiny needs 1 MiB more to grow from 4 MiB to 5 MiB; 0 B of 256 MiB free (sensor-logger 128 MiB, comfort 96 MiB, dew 28 MiB)\n", stderr)
		checkReservations(t, d, capacity, expected)

		// Shrinking always fits and frees the difference.
		mustDeploy("sensor-logger", "63Mi", 1, "2")
		expected["sensor-logger"] = 64 << 20
		checkReservations(t, d, capacity, expected)
	})

	t.Run("rm releases", func(t *testing.T) {
		assert.Equal(t, "comfort removed\n", d.mustRun("rm", "comfort"))
		delete(expected, "comfort")
		checkReservations(t, d, capacity, expected)

		plan := planJSON(t, d, holders)
		assert.Equal(t, int64(capacity-(64+28+4)<<20), plan.Budget.Free)
	})

	t.Run("restart keeps reservations", func(t *testing.T) {
		d.restart()
		entries := waitRunning(t, d, len(expected))
		require.Len(t, entries, len(expected), "workloads after restart: %+v", entries)
		checkReservations(t, d, capacity, expected)
		checkEcho(t, d, "dew", "after-restart")
	})
}

// TestDeployAndPsShowDecision deploys the example manifest with containerd
// and checks that deploy and ps show each runtime and deciding reason, and
// that the reservations match the selector's rule.
func TestDeployAndPsShowDecision(t *testing.T) {
	ctd := testenv.StartContainerd(t)
	d := startDaemon(t, daemonOptions{Containerd: ctd.Address, Namespace: ctd.Namespace, Budget: "1Gi"})
	workloads := readWorkloads(t, exampleManifest)
	plan := planJSON(t, d, exampleManifest)

	deployed := d.mustRun("deploy", exampleManifest)
	expected := map[string]int64{}
	for _, w := range workloads {
		name := w.Metadata.Name
		runtime := expectedRuntime(w)
		expected[name] = expectedReservation(t, w, runtime)
		reason := entryNamed(t, plan, name).Reasons[0]
		assert.Regexp(t, firstReasonColumn(name, runtime, reason), deployed)
		assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(name)+`\s+`+runtime+`\s+created running\s`, deployed)
	}

	listing := d.mustRun("ps")
	for _, w := range workloads {
		name := w.Metadata.Name
		reason := entryNamed(t, plan, name).Reasons[0]
		assert.Regexp(t, firstReasonColumn(name, expectedRuntime(w), reason), listing)
	}
	for _, e := range psJSON(t, d) {
		require.NotEmpty(t, e.Reasons, e.Name)
		assert.Equal(t, entryNamed(t, plan, e.Name).Reasons, e.Reasons, e.Name)
		assert.Equal(t, entryNamed(t, plan, e.Name).Runtime, e.Runtime, e.Name)
	}
	checkReservations(t, d, 1<<30, expected)
}

// TestFailedSaveKeepsReservations makes the desired state unwritable, so a
// deploy is admitted and started but cannot be stored, and then checks that
// the budget is as before.
func TestFailedSaveKeepsReservations(t *testing.T) {
	d := startDaemon(t, daemonOptions{Budget: "64Mi"})
	dir := t.TempDir()
	module := assembleWAT(t, dir, "faulty")
	d.mustRun("deploy", writeManifest(t, dir, "first.yaml", echoWorkload("first", module, "7Mi", 1, "1")))
	expected := map[string]int64{"first": 8 << 20}
	checkReservations(t, d, 64<<20, expected)
	before := d.mustRun("ps", "-o", "json")

	// A non-empty directory in place of the desired state file makes the
	// rename that stores it fail, even for root.
	desired := filepath.Join(d.stateDir, "desired.json")
	require.NoError(t, os.Remove(desired))
	require.NoError(t, os.MkdirAll(filepath.Join(desired, "blocker"), 0o755))

	set := writeManifest(t, dir, "set.yaml", strings.Join([]string{
		echoWorkload("first", module, "15Mi", 1, "2"),
		echoWorkload("second", module, "7Mi", 1, "1"),
	}, "---\n"))
	_, stderr, code := d.run("deploy", set)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "desired.json")

	assert.JSONEq(t, stripVolatile(before), stripVolatile(d.mustRun("ps", "-o", "json")))
	checkReservations(t, d, 64<<20, expected)
	checkEcho(t, d, "first", "after-failed-save")
}

// TestConcurrentDeploysFillBudget sends more deploys at once than the budget
// holds: exactly as many as fit are admitted, and the rest are rejected.
func TestConcurrentDeploysFillBudget(t *testing.T) {
	d := startDaemon(t, daemonOptions{Budget: "64Mi"})
	dir := t.TempDir()
	module := assembleWAT(t, dir, "faulty")

	// Each workload reserves 15 MiB + 1 MiB, so 4 of the 6 fit.
	const workloads, fitting = 6, 4
	type result struct {
		name, stderr string
		code         int
	}
	results := make(chan result, workloads)
	for i := range workloads {
		name := fmt.Sprintf("w%d", i)
		path := writeManifest(t, dir, name+".yaml", echoWorkload(name, module, "15Mi", 1, "1"))
		go func() {
			_, stderr, code := d.run("deploy", path)
			results <- result{name, stderr, code}
		}()
	}

	expected := map[string]int64{}
	for range workloads {
		r := <-results
		if r.code == 0 {
			expected[r.name] = 16 << 20
			continue
		}
		assert.True(t, strings.HasPrefix(r.stderr, "hybridd: admission rejected: "+r.name+" needs 16 MiB; 0 B of 64 MiB free ("),
			"%s: %s", r.name, r.stderr)
	}
	assert.Len(t, expected, fitting)
	checkReservations(t, d, 64<<20, expected)
}
