package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/hybridd/hybridd/internal/testenv"
	"github.com/hybridd/hybridd/selector"
)

// planOutput is the JSON of `hybridd plan -o json`, decoded into the test's
// own types.
type planOutput struct {
	Daemon  bool        `json:"daemon"`
	Entries []planEntry `json:"entries"`
	Budget  struct {
		Capacity int64 `json:"capacity"`
		Reserved int64 `json:"reserved"`
		Free     int64 `json:"free"`
	} `json:"budget"`
}

type planEntry struct {
	Name    string   `json:"name"`
	Runtime string   `json:"runtime"`
	Pending bool     `json:"pending"`
	Reasons []string `json:"reasons"`
	Memory  int64    `json:"memory"`
	Fits    bool     `json:"fits"`
	Budget  string   `json:"budget"`
	Error   string   `json:"error"`
}

// planJSON runs `hybridd plan -o json` and decodes its output.
func planJSON(t *testing.T, d *daemon, args ...string) planOutput {
	t.Helper()
	out := d.mustRun(append([]string{"plan", "-o", "json"}, args...)...)
	var plan planOutput
	require.NoError(t, json.Unmarshal([]byte(out), &plan), "plan -o json output:\n%s", out)
	return plan
}

// entryNamed returns the plan entry of a workload and fails the test when
// there is none.
func entryNamed(t *testing.T, plan planOutput, name string) planEntry {
	t.Helper()
	for _, e := range plan.Entries {
		if e.Name == name {
			return e
		}
	}
	require.Failf(t, "workload missing from the plan", "no entry %q in %+v", name, plan.Entries)
	return planEntry{}
}

// manifestWorkload is the part of a manifest document the tests compute
// expectations from, read with a YAML library instead of hybridd's parser.
type manifestWorkload struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Runtime string `yaml:"runtime"`
		Wasm    *struct {
			Module string `yaml:"module"`
		} `yaml:"wasm"`
		Container *struct {
			Image string `yaml:"image"`
			Mode  string `yaml:"mode"`
		} `yaml:"container"`
		Resources struct {
			Memory string `yaml:"memory"`
		} `yaml:"resources"`
		Concurrency int `yaml:"concurrency"`
	} `yaml:"spec"`
}

// readWorkloads decodes every document of a manifest file.
func readWorkloads(t *testing.T, path string) []manifestWorkload {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var workloads []manifestWorkload
	dec := yaml.NewDecoder(f)
	for {
		var w manifestWorkload
		err := dec.Decode(&w)
		if errors.Is(err, io.EOF) {
			return workloads
		}
		require.NoError(t, err, "decode %s", path)
		workloads = append(workloads, w)
	}
}

// parseMemory reads a quantity with an optional Ki, Mi or Gi suffix. An
// empty value is the manifest's documented default of 32Mi.
func parseMemory(t *testing.T, text string) int64 {
	t.Helper()
	if text == "" {
		return 32 << 20
	}
	shift := 0
	for suffix, s := range map[string]int{"Ki": 10, "Mi": 20, "Gi": 30} {
		if strings.HasSuffix(text, suffix) {
			text, shift = strings.TrimSuffix(text, suffix), s
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	require.NoError(t, err, "memory quantity %q", text)
	return n << shift
}

// wasmReservation is the selector's rule for a wasm workload: its memory
// limit plus the per-instance overhead, for each of concurrency instances.
func wasmReservation(memory int64, concurrency int) int64 {
	if concurrency == 0 {
		concurrency = 1
	}
	return (memory + selector.WasmInstanceOverhead) * int64(concurrency)
}

// expectedRuntime returns the runtime the example manifest's workloads get
// when containerd is reachable: wasm when there is a wasm section, and a
// container otherwise. It does not apply to the other manifests.
func expectedRuntime(w manifestWorkload) string {
	if w.Spec.Wasm != nil && w.Spec.Runtime != "container" {
		return "wasm"
	}
	return "container"
}

// expectedReservation applies the selector's memory rule to w for runtime.
func expectedReservation(t *testing.T, w manifestWorkload, runtime string) int64 {
	memory := parseMemory(t, w.Spec.Resources.Memory)
	if runtime == "wasm" {
		return wasmReservation(memory, w.Spec.Concurrency)
	}
	return memory
}

// mib formats a whole number of MiB as hybridd prints it, e.g. "65 MiB".
func mib(t *testing.T, bytes int64) string {
	t.Helper()
	require.Zero(t, bytes%(1<<20), "%d bytes is not a whole number of MiB", bytes)
	return fmt.Sprintf("%d MiB", bytes>>20)
}

// planBlock returns the lines that `hybridd plan` prints for one workload:
// from its name up to the next blank line.
func planBlock(t *testing.T, out, name string) string {
	t.Helper()
	start := strings.Index(out, "\n"+name+"\n")
	require.NotEqual(t, -1, start, "no block for %s in the plan:\n%s", name, out)
	block := out[start+1:]
	if end := strings.Index(block, "\n\n"); end >= 0 {
		block = block[:end]
	}
	return block
}

// runMkimage builds an OCI archive with the mkimage tool built by TestMain.
func runMkimage(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "mkimage"), args...).CombinedOutput()
	require.NoError(t, err, "mkimage %s: %s", strings.Join(args, " "), out)
}

func TestPlanExampleManifestWithDaemon(t *testing.T) {
	ctd := testenv.StartContainerd(t)
	d := startDaemon(t, daemonOptions{Containerd: ctd.Address, Namespace: ctd.Namespace, Budget: "1Gi"})
	workloads := readWorkloads(t, exampleManifest)
	require.NotEmpty(t, workloads)

	plan := planJSON(t, d, exampleManifest)
	assert.True(t, plan.Daemon)
	assert.Equal(t, int64(1<<30), plan.Budget.Capacity)
	assert.Equal(t, int64(0), plan.Budget.Reserved)
	assert.Equal(t, int64(1<<30), plan.Budget.Free)
	require.Len(t, plan.Entries, len(workloads))

	table := d.mustRun("plan", exampleManifest)
	assert.Contains(t, table, "Facts and budget of the daemon at "+d.socket+".\n")
	assert.Contains(t, table, "Budget: 1 GiB free of 1 GiB.\n")

	var total int64
	for i, w := range workloads {
		name := w.Metadata.Name
		e := plan.Entries[i]
		assert.Equal(t, name, e.Name, "entries keep the manifest's order")

		runtime := expectedRuntime(w)
		memory := expectedReservation(t, w, runtime)
		total += memory
		assert.Equal(t, runtime, e.Runtime, name)
		assert.False(t, e.Pending, name)
		assert.Empty(t, e.Error, name)
		assert.Equal(t, memory, e.Memory, name)
		assert.True(t, e.Fits, name)
		assert.Equal(t, "fits", e.Budget, name)
		require.NotEmpty(t, e.Reasons, name)

		block := planBlock(t, table, name)
		assert.Contains(t, block, "\n  runtime:  "+runtime+"\n", name)
		assert.Contains(t, block, "\n  memory:   "+mib(t, memory)+"\n", name)
		assert.Contains(t, block, "\n  budget:   fits\n", name)
		for _, reason := range e.Reasons {
			assert.Contains(t, block, "\n    - "+reason, name)
		}
	}
	assert.LessOrEqual(t, total, int64(1<<30), "the example fits the test's budget")

	alert := entryNamed(t, plan, "co2-alert")
	assert.Equal(t, []string{
		"runtime wasm requested",
		"spec.wasm.module " + filepath.Join(repoRoot, "examples/wasm-sensors/bin/threshold-alert.wasm") + " is a core WebAssembly module",
	}, alert.Reasons)
	counter := entryNamed(t, plan, "alert-counter")
	assert.Equal(t, "spec.container.mode is service, and only a container runs a long-lived service", counter.Reasons[0])

	ps := d.mustRun("ps", "-o", "json")
	assert.JSONEq(t, "[]", ps, "plan deploys nothing")
}

func TestPlanWithoutDaemonReadsHost(t *testing.T) {
	// Nothing listens on this socket, so the CLI plans with its own facts.
	absent := &daemon{t: t, socket: filepath.Join(t.TempDir(), "absent.sock")}
	workloads := readWorkloads(t, exampleManifest)
	args := []string{"--containerd-address", "", "--memory-budget", "256Mi", exampleManifest}

	table := absent.mustRun(append([]string{"plan"}, args...)...)
	assert.Contains(t, table, "No daemon at "+absent.socket+": planned with this host's facts (containerd at -) and an empty budget.\n")
	assert.Contains(t, table, "Budget: 256 MiB free of 256 MiB.\n")

	plan := planJSON(t, absent, args...)
	assert.False(t, plan.Daemon)
	assert.Equal(t, int64(256<<20), plan.Budget.Capacity)
	assert.Equal(t, int64(256<<20), plan.Budget.Free)
	require.Len(t, plan.Entries, len(workloads))

	var wasmTotal int64
	for i, w := range workloads {
		e := plan.Entries[i]
		assert.Equal(t, w.Metadata.Name, e.Name)
		require.NotEmpty(t, e.Reasons, w.Metadata.Name)
		if expectedRuntime(w) == "container" {
			// Without containerd a container workload waits.
			assert.Equal(t, "", e.Runtime, w.Metadata.Name)
			assert.True(t, e.Pending, w.Metadata.Name)
			assert.Equal(t, expectedReservation(t, w, "container"), e.Memory, w.Metadata.Name)
			assert.Equal(t, "not admitted while pending", e.Budget, w.Metadata.Name)
			assert.Equal(t, "containerd is not reachable: container workloads are disabled because the containerd address is empty (set --containerd-address to containerd's socket), so the container cannot start now",
				e.Reasons[0], w.Metadata.Name)
			assert.Contains(t, planBlock(t, table, w.Metadata.Name), "\n  runtime:  - (pending)\n")
			continue
		}
		memory := expectedReservation(t, w, "wasm")
		wasmTotal += memory
		assert.Equal(t, "wasm", e.Runtime, w.Metadata.Name)
		assert.Equal(t, memory, e.Memory, w.Metadata.Name)
		assert.Contains(t, planBlock(t, table, w.Metadata.Name), "\n  memory:   "+mib(t, memory)+"\n")
	}

	// Each wasm workload fits 256 MiB alone, and whether they fit together
	// decides the budget column of all of them.
	for _, e := range plan.Entries {
		if e.Runtime != "wasm" {
			continue
		}
		if wasmTotal <= 256<<20 {
			assert.True(t, e.Fits, e.Name)
			assert.Equal(t, "fits", e.Budget, e.Name)
		} else {
			assert.False(t, e.Fits, e.Name)
			assert.True(t, strings.HasPrefix(e.Budget, "fits alone, but not together with the rest: "), e.Budget)
		}
	}
}

// planCase is one manifest of TestPlanSelectorChoices and the decision it
// must get.
type planCase struct {
	name string
	down bool   // plan on the daemon whose containerd is unreachable
	spec string // the spec section, indented by two spaces
	// resources replaces the default "memory: 16Mi" when set.
	resources string
	runtime   string
	pending   bool
	memory    int64
	reason    string   // the first reason
	more      []string // prefixes of the following reasons, when checked
}

func TestPlanSelectorChoices(t *testing.T) {
	ctd := testenv.StartContainerd(t)
	up := startDaemon(t, daemonOptions{Containerd: ctd.Address, Namespace: ctd.Namespace, Budget: "100Mi"})
	dir := t.TempDir()
	unreachable := filepath.Join(dir, "nothing-listens.sock")
	down := startDaemon(t, daemonOptions{Containerd: unreachable, Budget: "100Mi"})

	module := assembleWAT(t, dir, "faulty")
	wasmArtifact := filepath.Join(dir, "echo-wasm.tar")
	runMkimage(t, "-o", wasmArtifact, "-wasm", module)
	image := filepath.Join(dir, "counter.tar")
	runMkimage(t, "-o", image, "-entrypoint", "/alert-counter",
		filepath.Join(repoRoot, "examples/wasm-sensors/bin/alert-counter")+":/alert-counter")

	const trigger = "  trigger:\n    mqtt:\n      topic: in/{id}\n"
	cost := "wasm is preferred because it starts in milliseconds without a container process, and it reserves 17 MiB where a container would reserve 16 MiB"
	downPrefix := "containerd is not reachable at " + unreachable + ": "
	cases := []planCase{{
		name:    "wasm file",
		spec:    "  wasm:\n    module: " + module + "\n" + trigger,
		runtime: "wasm", memory: 17 << 20,
		reason: "spec.wasm.module " + module + " is a core WebAssembly module and spec.container is not set",
	}, {
		name:    "wasm artifact as module",
		spec:    "  wasm:\n    module: oci-archive:" + wasmArtifact + "\n" + trigger,
		runtime: "wasm", memory: 17 << 20,
		reason: "spec.wasm.module oci-archive:" + wasmArtifact + " is a wasm artifact and spec.container is not set",
	}, {
		name:    "wasm artifact as image",
		spec:    "  container:\n    image: oci-archive:" + wasmArtifact + "\n    command: [/echo]\n" + trigger,
		runtime: "wasm", memory: 17 << 20,
		reason: "spec.container.image oci-archive:" + wasmArtifact + " is a wasm artifact, so it runs in wasm",
	}, {
		name:    "container image",
		spec:    "  container:\n    image: oci-archive:" + image + "\n    command: [/alert-counter]\n" + trigger,
		runtime: "container", memory: 16 << 20,
		reason: "spec.container.image oci-archive:" + image + " is a container image and spec.wasm is not set",
	}, {
		name:    "service mode",
		spec:    "  container:\n    image: oci-archive:" + image + "\n    mode: service\n",
		runtime: "container", memory: 16 << 20,
		reason: "spec.container.mode is service, and only a container runs a long-lived service",
	}, {
		name: "both sections",
		spec: "  wasm:\n    module: " + module + "\n  container:\n    image: oci-archive:" + image +
			"\n    command: [/alert-counter]\n" + trigger,
		runtime: "wasm", memory: 17 << 20,
		reason: cost,
	}, {
		name: "both sections containerd down",
		down: true,
		spec: "  wasm:\n    module: " + module + "\n  container:\n    image: oci-archive:" + image +
			"\n    command: [/alert-counter]\n" + trigger,
		runtime: "wasm", memory: 17 << 20,
		reason: cost,
		more:   []string{downPrefix},
	}, {
		name: "both sections wasm over budget",
		spec: "  wasm:\n    module: " + module + "\n  container:\n    image: oci-archive:" + image +
			"\n    command: [/alert-counter]\n" + trigger,
		resources: "  resources:\n    memory: 64Mi\n  concurrency: 2\n",
		runtime:   "container", memory: 64 << 20,
		reason: "the wasm reservation of 130 MiB does not fit the 100 MiB of budget free, but the container reservation of 64 MiB does",
		more:   []string{"wasm is preferred because"},
	}, {
		name: "container requested containerd down",
		down: true,
		spec: "  runtime: container\n  container:\n    image: oci-archive:" + image +
			"\n    command: [/alert-counter]\n" + trigger,
		pending: true, memory: 16 << 20,
		reason: "container requested but " + downPrefix,
	}}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := up
			if c.down {
				d = down
			}
			resources := c.resources
			if resources == "" {
				resources = "  resources:\n    memory: 16Mi\n"
			}
			path := writeManifest(t, t.TempDir(), "m.yaml",
				"apiVersion: hybridd/v1\nkind: Workload\nmetadata:\n  name: probe\nspec:\n"+c.spec+resources)

			plan := planJSON(t, d, path)
			require.Len(t, plan.Entries, 1)
			e := plan.Entries[0]
			assert.Equal(t, c.runtime, e.Runtime)
			assert.Equal(t, c.pending, e.Pending)
			assert.Empty(t, e.Error)
			assert.Equal(t, c.memory, e.Memory)
			require.NotEmpty(t, e.Reasons)
			if strings.HasSuffix(c.reason, ": ") {
				assert.True(t, strings.HasPrefix(e.Reasons[0], c.reason), "first reason %q, expected prefix %q", e.Reasons[0], c.reason)
			} else {
				assert.Equal(t, c.reason, e.Reasons[0])
			}
			require.GreaterOrEqual(t, len(e.Reasons), 1+len(c.more), "reasons %q", e.Reasons)
			for i, prefix := range c.more {
				assert.True(t, strings.HasPrefix(e.Reasons[1+i], prefix), "reason %d %q, expected prefix %q", 1+i, e.Reasons[1+i], prefix)
			}
		})
	}

	t.Run("wasm requested without wasm section", func(t *testing.T) {
		path := writeManifest(t, t.TempDir(), "m.yaml", "apiVersion: hybridd/v1\nkind: Workload\nmetadata:\n  name: probe\nspec:\n"+
			"  runtime: wasm\n  container:\n    image: oci-archive:"+image+"\n    command: [/alert-counter]\n"+trigger)
		out, stderr, code := up.run("plan", "-o", "json", path)
		assert.NotEqual(t, 0, code)
		assert.Empty(t, out)
		assert.Contains(t, stderr, path+":6:3: spec.wasm: required field is missing (runtime wasm needs a wasm section")
	})
}

// firstReasonColumn matches a deploy or ps row: the name, the runtime and,
// last, the first reason.
func firstReasonColumn(name, runtime, reason string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+` + regexp.QuoteMeta(runtime) + `\s.*\s` + regexp.QuoteMeta(reason) + `$`)
}
