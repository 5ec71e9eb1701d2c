package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hybridd/hybridd/engine"
	"github.com/hybridd/hybridd/internal/testenv"
	"github.com/hybridd/hybridd/ociarchive"
)

// testImages are the container images of the tests, built once per run
// from the project's own static binaries.
var testImages struct {
	once sync.Once
	err  error
	// probe runs oci/testdata/probe as /bin/probe.
	probe string
	// counter runs examples/alert-counter as its entrypoint.
	counter string
}

// containerImages builds the probe and alert-counter images into binDir
// and returns their archive paths.
func containerImages(t *testing.T) (probe, counter string) {
	t.Helper()
	testImages.once.Do(func() {
		static := []string{"CGO_ENABLED=0"}
		probeBin := filepath.Join(binDir, "probe")
		counterBin := filepath.Join(binDir, "alert-counter")
		if testImages.err = goBuild(static, "build", "-o", probeBin, "./oci/testdata/probe"); testImages.err != nil {
			return
		}
		if testImages.err = goBuild(static, "build", "-o", counterBin, "./examples/alert-counter"); testImages.err != nil {
			return
		}
		testImages.probe = filepath.Join(binDir, "probe.tar")
		testImages.err = ociarchive.Build(testImages.probe, ociarchive.Image{
			Name:       "hybridd.e2e/probe:test",
			Files:      []ociarchive.File{{Source: probeBin, Dest: "/bin/probe", Mode: 0o755}},
			Entrypoint: []string{"/bin/probe"},
		})
		if testImages.err != nil {
			return
		}
		testImages.counter = filepath.Join(binDir, "alert-counter.tar")
		testImages.err = ociarchive.Build(testImages.counter, ociarchive.Image{
			Name:       "hybridd.e2e/alert-counter:test",
			Files:      []ociarchive.File{{Source: counterBin, Dest: "/alert-counter", Mode: 0o755}},
			Entrypoint: []string{"/alert-counter"},
		})
	})
	require.NoError(t, testImages.err, "build the container test images")
	return testImages.probe, testImages.counter
}

// probeDigest is the line `probe digest` prints for a payload that
// arrived on topic, computed here without the probe's code.
func probeDigest(topic, payload string) string {
	return fmt.Sprintf("topic=%s len=%d sha256=%x", topic, len(payload), sha256.Sum256([]byte(payload)))
}

// containerdContents is what exists in one containerd namespace.
type containerdContents struct {
	Containers []string
	Tasks      []string
	// ActiveSnapshots are the writable snapshots, i.e. container root
	// filesystems. The committed snapshots of unpacked image layers stay
	// with the image and are not listed.
	ActiveSnapshots []string
}

// listContainerd lists containers, tasks and active snapshots in a
// namespace through containerd's own client.
func listContainerd(t *testing.T, address, namespace string) containerdContents {
	t.Helper()
	client, err := containerd.New(address)
	require.NoError(t, err)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = namespaces.WithNamespace(ctx, namespace)

	var contents containerdContents
	list, err := client.Containers(ctx)
	require.NoError(t, err)
	for _, c := range list {
		contents.Containers = append(contents.Containers, c.ID())
	}
	tasks, err := client.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
	require.NoError(t, err)
	for _, task := range tasks.Tasks {
		contents.Tasks = append(contents.Tasks, task.ID)
	}
	err = client.SnapshotService("overlayfs").Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if info.Kind == snapshots.KindActive {
			contents.ActiveSnapshots = append(contents.ActiveSnapshots, info.Name)
		}
		return nil
	})
	require.NoError(t, err)
	sort.Strings(contents.Containers)
	sort.Strings(contents.Tasks)
	sort.Strings(contents.ActiveSnapshots)
	return contents
}

// containerNames returns the workload names of container IDs, which
// engine.Containers forms as NAME-DIGEST12.
func containerNames(ids []string) []string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		if i := strings.LastIndexByte(id, '-'); i > 0 {
			id = id[:i]
		}
		names = append(names, id)
	}
	return names
}

// psStatus returns one workload from `hybridd ps -o json`.
func psStatus(t *testing.T, d *daemon, name string) engine.Status {
	t.Helper()
	var list []engine.Status
	out := d.mustRun("ps", "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &list), "ps -o json: %s", out)
	for _, s := range list {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("workload %s not in ps -o json:\n%s", name, out)
	return engine.Status{}
}

// metricValue returns the value of one sample line of the exposition, or
// -1 when the line is missing.
func metricValue(t *testing.T, exposition, sample string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`)
	m := re.FindStringSubmatch(exposition)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err, "value of %s", sample)
	return v
}

// waitCounterSubscribed publishes test alerts for the device "warmup"
// until the alert-counter service publishes a count, so that later alerts
// are known to reach it. It gives up after 60 attempts, half a second apart.
func waitCounterSubscribed(t *testing.T, d *daemon) {
	t.Helper()
	sub := testenv.StartSub(t, d.mqttAddr, "counts/warmup/alerts", 1, 60*time.Second)
	answered := make(chan []string, 1)
	go func() { answered <- sub.Wait() }()
	for range 60 {
		testenv.Pub(t, d.mqttAddr, "alerts/warmup/co2", `{"device":"warmup"}`, 1)
		select {
		case messages := <-answered:
			require.Len(t, messages, 1, "alert-counter did not answer a test alert:\n%s", d.mustRun("logs", "alert-counter"))
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Fatalf("alert-counter did not answer a test alert within 60 attempts:\n%s", d.mustRun("logs", "alert-counter"))
}

// mixedManifest declares a wasm command module, a container function
// running the probe and the alert-counter service.
func mixedManifest(probe, counter string) string {
	module := filepath.Join(repoRoot, "examples/wasm-sensors/bin/threshold-alert.wasm")
	return fmt.Sprintf(`apiVersion: hybridd/v1
kind: Workload
metadata:
  name: co2-alert
spec:
  runtime: wasm
  wasm:
    module: %s
  trigger:
    mqtt:
      topic: sensors/{device}/telemetry
      qos: 1
  output:
    topic: alerts/{device}/co2
  env:
    FIELD: co2
    ABOVE: "1000"
  resources:
    memory: 64Mi
---
apiVersion: hybridd/v1
kind: Workload
metadata:
  name: digest
spec:
  runtime: container
  container:
    image: oci-archive:%s
    mode: function
    command: [/bin/probe, digest]
  trigger:
    mqtt:
      topic: sensors/{device}/telemetry
      qos: 1
  output:
    topic: digests/{device}
  resources:
    memory: 32Mi
  timeout: 30s
---
apiVersion: hybridd/v1
kind: Workload
metadata:
  name: alert-counter
spec:
  runtime: container
  container:
    image: oci-archive:%s
    mode: service
  resources:
    memory: 32Mi
`, module, probe, counter)
}

// faultManifest declares a function whose exec hangs on the payload
// "hang" and a function that allocates 64 MiB under a 16 MiB limit. The
// timeout of 1s is about ten times what one exec took on a loaded 2-core
// machine, so that the message after the hang does not time out as well.
func faultManifest(probe string) string {
	return fmt.Sprintf(`apiVersion: hybridd/v1
kind: Workload
metadata:
  name: hang
spec:
  runtime: container
  container:
    image: oci-archive:%[1]s
    mode: function
    command: [/bin/probe, hang-on-hang]
  trigger:
    mqtt:
      topic: hang/{id}
      qos: 1
  output:
    topic: hung/{id}
  resources:
    memory: 16Mi
  timeout: 1s
---
apiVersion: hybridd/v1
kind: Workload
metadata:
  name: oom
spec:
  runtime: container
  container:
    image: oci-archive:%[1]s
    mode: function
    command: [/bin/probe, alloc, "64"]
  trigger:
    mqtt:
      topic: oom/{id}
      qos: 1
  output:
    topic: oom-out/{id}
  resources:
    memory: 16Mi
  timeout: 30s
`, probe)
}

// TestContainerWorkloads runs wasm and container workloads on one daemon
// and one bus, then checks timeouts, OOM kills, rejected deploys and that
// rm and shutdown leave nothing in containerd. The subtests share the
// daemon and run in order.
func TestContainerWorkloads(t *testing.T) {
	probe, counter := containerImages(t)
	cd := testenv.StartContainerd(t)
	d := startDaemon(t, daemonOptions{Containerd: cd.Address, Namespace: cd.Namespace})
	dir := t.TempDir()

	t.Run("mixed deploy shares the bus", func(t *testing.T) {
		out := d.mustRun("deploy", writeManifest(t, dir, "mixed.yaml", mixedManifest(probe, counter)))
		assert.Regexp(t, `(?m)^co2-alert\s+wasm\s+created running`, out)
		assert.Regexp(t, `(?m)^digest\s+container\s+created running`, out)
		assert.Regexp(t, `(?m)^alert-counter\s+container\s+created running`, out)

		ps := d.mustRun("ps")
		assert.Regexp(t, `(?m)^co2-alert\s+wasm\s+command\s+running`, ps)
		assert.Regexp(t, `(?m)^digest\s+container\s+function\s+running`, ps)
		assert.Regexp(t, `(?m)^alert-counter\s+container\s+service\s+running`, ps)

		waitCounterSubscribed(t, d)

		// "+/lab/#" matches the reading itself, the alert, the digest and the count.
		sub := testenv.StartSub(t, d.mqttAddr, "+/lab/#", 4, 60*time.Second)
		reading := `{"device":"lab","ts":"t1","co2":1500}`
		testenv.Pub(t, d.mqttAddr, "sensors/lab/telemetry", reading, 1)
		messages := sub.Wait()
		sort.Strings(messages)
		assert.Equal(t, []string{
			`alerts/lab/co2 {"device":"lab","ts":"t1","field":"co2","value":1500,"above":1000}`,
			`counts/lab/alerts {"device":"lab","alerts":1}`,
			"digests/lab " + probeDigest("sensors/lab/telemetry", reading),
			"sensors/lab/telemetry " + reading,
		}, messages)

		metrics := d.scrape()
		assert.Equal(t, 1.0, metricValue(t, metrics,
			`hybridd_invocations_total{outcome="success",runtime="container",workload="digest"}`))
		assert.Equal(t, 1.0, metricValue(t, metrics,
			`hybridd_invocation_duration_seconds_count{runtime="container",workload="digest"}`))
		assert.Equal(t, 1.0, metricValue(t, metrics,
			`hybridd_invocations_total{outcome="success",runtime="wasm",workload="co2-alert"}`))
	})

	t.Run("hanging exec times out", func(t *testing.T) {
		out := d.mustRun("deploy", writeManifest(t, dir, "faults.yaml", faultManifest(probe)))
		assert.Regexp(t, `(?m)^hang\s+container\s+created running`, out)
		assert.Regexp(t, `(?m)^oom\s+container\s+created running`, out)

		sub := testenv.StartSub(t, d.mqttAddr, "hung/#", 1, 60*time.Second)
		testenv.Pub(t, d.mqttAddr, "hang/1", "hang", 1)
		testenv.Pub(t, d.mqttAddr, "hang/2", "after the hang", 1)
		assert.Equal(t, []string{"hung/2 " + probeDigest("hang/2", "after the hang")}, sub.Wait())

		metrics := d.scrape()
		assert.Equal(t, 1.0, metricValue(t, metrics,
			`hybridd_invocations_total{outcome="timeout",runtime="container",workload="hang"}`))
		assert.Equal(t, 1.0, metricValue(t, metrics,
			`hybridd_invocations_total{outcome="success",runtime="container",workload="hang"}`))
		assert.Equal(t, 2.0, metricValue(t, metrics,
			`hybridd_invocation_duration_seconds_count{runtime="container",workload="hang"}`))
		assert.Contains(t, d.mustRun("logs", "hang"), "failed (timeout)")
	})

	t.Run("exec over memory limit is an OOM kill", func(t *testing.T) {
		testenv.Pub(t, d.mqttAddr, "oom/1", "x", 1)
		// The metrics are read without a ps call in between, because ps
		// also moves the OOM count into the metrics.
		const failed = `hybridd_invocations_total{outcome="error",runtime="container",workload="oom"}`
		metrics := d.scrape()
		for deadline := time.Now().Add(60 * time.Second); metricValue(t, metrics, failed) < 0 && time.Now().Before(deadline); {
			time.Sleep(250 * time.Millisecond)
			metrics = d.scrape()
		}
		assert.Equal(t, 1.0, metricValue(t, metrics, failed))
		// containerd may report one OOM kill as several events.
		assert.GreaterOrEqual(t, metricValue(t, metrics, `hybridd_container_exits_total{reason="oom",workload="oom"}`), 1.0)
		assert.Equal(t, -1.0, metricValue(t, metrics, `hybridd_container_exits_total{reason="exit",workload="oom"}`),
			"the container's own process did not exit")

		logs := d.mustRun("logs", "oom")
		assert.Contains(t, logs, "invocation on oom/1 failed (error): container oom-")
		assert.Contains(t, logs, "command exited with code 137: killed by the OOM killer at the container's memory limit of 16Mi")

		st := psStatus(t, d, "oom")
		require.NotNil(t, st.Container, "ps -o json has no container state for oom")
		assert.Positive(t, st.Container.OOMKills)
		assert.True(t, st.Container.Running, "an OOM kill of an exec leaves the container running")
		assert.Equal(t, 0, st.Container.Exits)
		assert.Equal(t, engine.StateRunning, st.State)
		assert.Equal(t, uint64(1), st.Invocations)
		assert.Equal(t, uint64(1), st.Failures)
	})

	t.Run("deploy rejects bad images", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.tar")
		for name, image := range map[string]string{
			"missing-archive": "oci-archive:" + missing,
			"bad-reference":   "registry.example/Bad Name:1",
		} {
			path := writeManifest(t, dir, name+".yaml", fmt.Sprintf(`apiVersion: hybridd/v1
kind: Workload
metadata:
  name: %s
spec:
  runtime: container
  container:
    image: %q
    mode: function
    command: [/bin/probe, digest]
  trigger:
    mqtt:
      topic: in/{id}
  resources:
    memory: 16Mi
`, name, image))
			_, stderr, code := d.run("deploy", path)
			assert.NotEqual(t, 0, code, "deploy of %s", image)
			assert.Contains(t, stderr, "spec.container.image", "deploy of %s", image)
			assert.Contains(t, stderr, strings.TrimPrefix(image, "oci-archive:"), "deploy of %s", image)
		}
		ps := d.mustRun("ps")
		assert.NotContains(t, ps, "missing-archive")
		assert.NotContains(t, ps, "bad-reference")
	})

	t.Run("rm and shutdown leave nothing in containerd", func(t *testing.T) {
		before := listContainerd(t, cd.Address, cd.Namespace)
		assert.Equal(t, []string{"alert-counter", "digest", "hang", "oom"}, containerNames(before.Containers))
		assert.Equal(t, before.Containers, before.Tasks)
		assert.Equal(t, before.Containers, before.ActiveSnapshots)

		assert.Equal(t, "digest removed\n", d.mustRun("rm", "digest"))
		afterRm := listContainerd(t, cd.Address, cd.Namespace)
		assert.Equal(t, []string{"alert-counter", "hang", "oom"}, containerNames(afterRm.Containers))
		assert.Equal(t, afterRm.Containers, afterRm.Tasks)
		assert.Equal(t, afterRm.Containers, afterRm.ActiveSnapshots)

		d.stop()
		afterStop := listContainerd(t, cd.Address, cd.Namespace)
		assert.Empty(t, afterStop.Containers)
		assert.Empty(t, afterStop.Tasks)
		assert.Empty(t, afterStop.ActiveSnapshots)
	})
}

// TestContainerPendingUntilContainerdStarts deploys a container function
// while nothing listens at the containerd address, then starts containerd
// there and waits for the reconcile loop to start the workload.
func TestContainerPendingUntilContainerdStarts(t *testing.T) {
	probe, _ := containerImages(t)
	// The daemon's address is a symbolic link created only after
	// containerd runs, because testenv picks containerd's directory itself.
	// The path stays short, within the 108 bytes of a unix socket path.
	linkDir, err := os.MkdirTemp("", "ctdl")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(linkDir) })
	address := filepath.Join(linkDir, "c.sock")
	namespace := fmt.Sprintf("hybridd-e2e-pending-%d", os.Getpid())
	d := startDaemon(t, daemonOptions{Containerd: address, Namespace: namespace})

	manifest := writeManifest(t, t.TempDir(), "digest.yaml", fmt.Sprintf(`apiVersion: hybridd/v1
kind: Workload
metadata:
  name: digest
spec:
  runtime: container
  container:
    image: oci-archive:%s
    mode: function
    command: [/bin/probe, digest]
  trigger:
    mqtt:
      topic: in/{id}
      qos: 1
  output:
    topic: out/{id}
  resources:
    memory: 16Mi
  timeout: 30s
`, probe))
	out := d.mustRun("deploy", manifest)
	assert.Regexp(t, `(?m)^digest\s+\S+\s+created pending\s+.*not reachable at `+regexp.QuoteMeta(address), out)
	assert.Equal(t, engine.StatePending, psStatus(t, d, "digest").State)

	cd := testenv.StartContainerd(t)
	// Cleanups run in reverse order of registration, so the daemon stops
	// and removes its container before containerd stops.
	t.Cleanup(d.stop)
	require.NoError(t, os.Symlink(cd.Address, address))

	// The reconcile loop runs every 5s, and 60s leaves room for a loaded machine.
	deadline := time.Now().Add(60 * time.Second)
	st := psStatus(t, d, "digest")
	for st.State != engine.StateRunning && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		st = psStatus(t, d, "digest")
	}
	require.Equal(t, engine.StateRunning, st.State, "digest did not start after containerd came up:\n%s", d.mustRun("logs", "digest"))
	assert.Equal(t, "container", st.Runtime)
	assert.Equal(t, "function", st.Kind)

	sub := testenv.StartSub(t, d.mqttAddr, "out/#", 1, 60*time.Second)
	testenv.Pub(t, d.mqttAddr, "in/7", "late payload", 1)
	assert.Equal(t, []string{"out/7 " + probeDigest("in/7", "late payload")}, sub.Wait())

	d.stop()
	left := listContainerd(t, cd.Address, namespace)
	assert.Empty(t, left.Containers)
	assert.Empty(t, left.Tasks)
	assert.Empty(t, left.ActiveSnapshots)
}
