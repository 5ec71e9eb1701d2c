package oci_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hybridd/hybridd/internal/testenv"
	"github.com/hybridd/hybridd/oci"
	"github.com/hybridd/hybridd/ociarchive"
)

// binaries holds the static programs the tests put into images.
var binaries struct {
	dir     string
	initBin string
	archive string // probe image archive
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "oci-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binaries.dir = dir
	binaries.initBin = filepath.Join(dir, "hybridd-init")
	probe := filepath.Join(dir, "probe")
	for pkg, out := range map[string]string{"../cmd/hybridd-init": binaries.initBin, "./testdata/probe": probe} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, msg)
			return 1
		}
	}
	binaries.archive = filepath.Join(dir, "probe.tar")
	err = ociarchive.Build(binaries.archive, ociarchive.Image{
		Name:       "hybridd.local/probe:test",
		Files:      []ociarchive.File{{Source: probe, Dest: "/bin/probe", Mode: 0o755}},
		Entrypoint: []string{"/bin/probe"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "build probe image:", err)
		return 1
	}
	return m.Run()
}

// env is one containerd daemon and a client connected to it.
type env struct {
	cd     *testenv.Containerd
	client *oci.Client
	logDir string
	image  oci.Image
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cd := testenv.StartContainerd(t)
	logDir := t.TempDir()
	client, err := oci.Connect(context.Background(), oci.Config{
		Address:   cd.Address,
		Namespace: cd.Namespace,
		InitPath:  binaries.initBin,
		LogDir:    logDir,
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })

	var progress bytes.Buffer
	img, err := client.EnsureImage(context.Background(), oci.ArchivePrefix+binaries.archive, &progress)
	require.NoError(t, err)
	require.Equal(t, "hybridd.local/probe:test", img.Name)
	require.Contains(t, progress.String(), "importing "+binaries.archive)
	return &env{cd: cd, client: client, logDir: logDir, image: img}
}

// testWriter sends log records to the test log while the test runs.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (e *env) startFunction(t *testing.T, spec oci.ContainerSpec) *oci.Function {
	t.Helper()
	if spec.Image == "" {
		spec.Image = e.image.Ref
	}
	f, err := e.client.StartFunction(context.Background(), spec)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, f.Close(context.Background())) })
	return f
}

func exec1(t *testing.T, f *oci.Function) oci.Output {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := f.Exec(ctx, oci.Input{Topic: "test/topic"})
	require.NoError(t, err, "stderr: %s", out.Stderr)
	return out
}

// statusField returns the value of "key=value" in the probe's output.
func statusField(t *testing.T, out []byte, key string) string {
	t.Helper()
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s in probe output %q", key, out)
	return ""
}

func TestContainerd(t *testing.T) {
	e := newEnv(t)

	t.Run("function output", func(t *testing.T) { testFunctionOutput(t, e) })
	t.Run("security defaults", func(t *testing.T) { testSecurityDefaults(t, e) })
	t.Run("requested capability", func(t *testing.T) { testRequestedCapability(t, e) })
	t.Run("read-only root", func(t *testing.T) { testReadOnlyRoot(t, e) })
	t.Run("limits in cgroup", func(t *testing.T) { testLimits(t, e) })
	t.Run("OOM kill", func(t *testing.T) { testOOMKill(t, e) })
	t.Run("exec timeout", func(t *testing.T) { testExecTimeout(t, e) })
	t.Run("exit error and stdout cap", func(t *testing.T) { testExitError(t, e) })
	t.Run("service restart policies", func(t *testing.T) { testServicePolicies(t, e) })
	t.Run("service log and memory", func(t *testing.T) { testServiceLogAndMemory(t, e) })
	t.Run("close leaves nothing", func(t *testing.T) { testCloseLeavesNothing(t, e) })
	t.Run("reap leftovers", func(t *testing.T) { testReap(t, e) })
	t.Run("image errors", func(t *testing.T) { testImageErrors(t, e) })
	t.Run("spec errors", func(t *testing.T) { testSpecErrors(t, e) })
}

func testFunctionOutput(t *testing.T, e *env) {
	f := e.startFunction(t, oci.ContainerSpec{Name: "digest", Command: []string{"/bin/probe", "digest"}})
	assert.Positive(t, f.StartedIn())
	assert.True(t, f.Status().Running)

	for i, payload := range [][]byte{[]byte(`{"device":"office-1","co2":721.25}`), {}, bytes.Repeat([]byte("abc"), 100_000)} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		topic := fmt.Sprintf("sensors/dev-%d/telemetry", i)
		out, err := f.Exec(ctx, oci.Input{Topic: topic, Payload: payload})
		cancel()
		require.NoError(t, err)
		want := fmt.Sprintf("topic=%s len=%d sha256=%x\n", topic, len(payload), sha256.Sum256(payload))
		assert.Equal(t, want, string(out.Stdout))
		assert.Equal(t, "digest done\n", string(out.Stderr))
		assert.Equal(t, 0, out.ExitCode)
	}
}

func testSecurityDefaults(t *testing.T, e *env) {
	f := e.startFunction(t, oci.ContainerSpec{Name: "status", Command: []string{"/bin/probe", "status"}})
	out := exec1(t, f)
	assert.Equal(t, "1", statusField(t, out.Stdout, "NoNewPrivs"))
	assert.Equal(t, "0000000000000000", statusField(t, out.Stdout, "CapEff"))
	assert.Equal(t, "0000000000000000", statusField(t, out.Stdout, "CapPrm"))
	assert.Equal(t, "0000000000000000", statusField(t, out.Stdout, "CapBnd"))
	assert.Equal(t, "65534 65534 65534 65534", statusField(t, out.Stdout, "Uid"))
	assert.Equal(t, "65534 65534 65534 65534", statusField(t, out.Stdout, "Gid"))
}

func testRequestedCapability(t *testing.T, e *env) {
	// CAP_NET_BIND_SERVICE is bit 10 and CAP_KILL bit 5 (linux/capability.h).
	want := fmt.Sprintf("%016x", 1<<10|1<<5)
	f := e.startFunction(t, oci.ContainerSpec{
		Name:         "caps",
		Command:      []string{"/bin/probe", "status"},
		Capabilities: []string{"CAP_NET_BIND_SERVICE", "kill"},
	})
	out := exec1(t, f)
	assert.Equal(t, want, statusField(t, out.Stdout, "CapEff"))
	assert.Equal(t, want, statusField(t, out.Stdout, "CapBnd"))
	assert.Equal(t, "1", statusField(t, out.Stdout, "NoNewPrivs"))
}

func testReadOnlyRoot(t *testing.T, e *env) {
	root := e.startFunction(t, oci.ContainerSpec{Name: "write-root", Command: []string{"/bin/probe", "write", "/probe-file"}, User: "0:0"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := root.Exec(ctx, oci.Input{})
	var exitErr *oci.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 1, exitErr.ExitCode)
	assert.Contains(t, string(out.Stdout), "read-only file system")

	tmp := e.startFunction(t, oci.ContainerSpec{Name: "write-tmp", Command: []string{"/bin/probe", "write", "/tmp/probe-file"}})
	assert.Equal(t, "ok\n", string(exec1(t, tmp).Stdout))
}

func testLimits(t *testing.T, e *env) {
	const limit = 48 << 20
	f := e.startFunction(t, oci.ContainerSpec{
		Name:        "limits",
		Command:     []string{"/bin/probe", "cgroup"},
		MemoryLimit: limit,
		CPUMillis:   250,
	})
	out := exec1(t, f)
	assert.Contains(t, string(out.Stdout), fmt.Sprintf("memory %d\n", limit))
	assert.Contains(t, string(out.Stdout), "cpu 25000\n") // 250m of a 100000µs period

	// The same limit read from the host, where containerd puts the
	// container's cgroup at /NAMESPACE/NAME.
	hostFile := filepath.Join("/sys/fs/cgroup/memory", e.client.Namespace(), "limits", "memory.limit_in_bytes")
	if raw, err := os.ReadFile(hostFile); err == nil {
		assert.Equal(t, fmt.Sprint(limit), strings.TrimSpace(string(raw)))
	} else {
		t.Logf("host cgroup v1 file not readable (%v), checked from inside only", err)
	}

	usage, err := f.MemoryUsage(context.Background())
	require.NoError(t, err)
	assert.Positive(t, usage)
	assert.LessOrEqual(t, usage, uint64(limit))
}

func testOOMKill(t *testing.T, e *env) {
	f := e.startFunction(t, oci.ContainerSpec{
		Name:        "oom",
		Command:     []string{"/bin/probe", "alloc", "64"},
		MemoryLimit: 24 << 20,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := f.Exec(ctx, oci.Input{})
	var exitErr *oci.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 137, exitErr.ExitCode, "SIGKILL by the OOM killer is 128+9")
	assert.NotContains(t, string(out.Stdout), "allocated")
	require.Eventually(t, func() bool { return f.Status().OOMKills >= 1 }, 20*time.Second, 20*time.Millisecond,
		"no /tasks/oom event for the container")
	assert.True(t, f.Status().Running, "the OOM kill of an exec leaves the container running")
}

func testExecTimeout(t *testing.T, e *env) {
	f := e.startFunction(t, oci.ContainerSpec{Name: "hang", Command: []string{"/bin/probe", "hang-on-hang"}})
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := f.Exec(ctx, oci.Input{Payload: []byte("hang")})
		cancel()
		require.ErrorIs(t, err, oci.ErrExecTimeout, "round %d", i)
		require.ErrorIs(t, err, context.DeadlineExceeded, "round %d", i)

		// The next message is handled by the same container.
		payload := []byte(fmt.Sprintf("after timeout %d", i))
		ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
		out, err := f.Exec(ctx, oci.Input{Topic: "t", Payload: payload})
		cancel()
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("topic=t len=%d sha256=%x\n", len(payload), sha256.Sum256(payload)), string(out.Stdout))
	}
	assert.True(t, f.Status().Running)
}

func testExitError(t *testing.T, e *env) {
	f := e.startFunction(t, oci.ContainerSpec{Name: "exit3", Command: []string{"/bin/probe", "exit", "3"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := f.Exec(ctx, oci.Input{})
	var exitErr *oci.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 3, exitErr.ExitCode)
	assert.Equal(t, 3, out.ExitCode)
	assert.Equal(t, "exiting 3\n", string(out.Stdout))
	assert.Equal(t, "exiting 3\n", string(out.Stderr))
	assert.EqualError(t, err, "container exit3: command exited with code 3")

	big := e.startFunction(t, oci.ContainerSpec{Name: "bigout", Command: []string{"/bin/probe", "bigout", fmt.Sprint(oci.MaxStdout + 1000)}})
	out = exec1(t, big)
	assert.Len(t, out.Stdout, oci.MaxStdout)
	assert.True(t, out.StdoutTruncated)
}

func testServicePolicies(t *testing.T, e *env) {
	cases := []struct {
		name         string
		restart      oci.RestartPolicy
		code         string
		wantRestarts bool
	}{
		{"on-failure-fail", oci.RestartOnFailure, "3", true},
		{"on-failure-ok", oci.RestartOnFailure, "0", false},
		{"always-ok", oci.RestartAlways, "0", true},
		{"never-fail", oci.RestartNever, "3", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := e.client.StartService(context.Background(), oci.ServiceSpec{
				ContainerSpec:  oci.ContainerSpec{Name: "svc-" + tc.name, Image: e.image.Ref, Command: []string{"/bin/probe", "exit", tc.code}},
				Restart:        tc.restart,
				BackoffInitial: 10 * time.Millisecond,
				BackoffMax:     100 * time.Millisecond,
			})
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, s.Close(context.Background())) })

			if tc.wantRestarts {
				require.Eventually(t, func() bool { return s.Status().Restarts >= 2 }, 30*time.Second, 10*time.Millisecond)
			} else {
				require.Eventually(t, func() bool { st := s.Status(); return st.Exits >= 1 && !st.Running }, 30*time.Second, 10*time.Millisecond)
				// The supervisor has returned; no restart can follow.
				assert.Equal(t, 0, s.Status().Restarts)
			}
			st := s.Status()
			assert.Equal(t, tc.code, fmt.Sprint(st.LastExitCode))
		})
	}
}

func testServiceLogAndMemory(t *testing.T, e *env) {
	const held = 20 << 20
	s, err := e.client.StartService(context.Background(), oci.ServiceSpec{
		ContainerSpec: oci.ContainerSpec{
			Name:        "svc-serve",
			Image:       e.image.Ref,
			Command:     []string{"/bin/probe", "serve", "20"},
			MemoryLimit: 64 << 20,
		},
		MQTTURL: "mqtt://127.0.0.1:1883",
	})
	require.NoError(t, err)
	logFile := filepath.Join(e.logDir, "svc-serve.log")
	require.Eventually(t, func() bool {
		raw, _ := os.ReadFile(logFile)
		return strings.Contains(string(raw), "serving HYBRIDD_MQTT_URL=mqtt://127.0.0.1:1883\n")
	}, 30*time.Second, 10*time.Millisecond)

	usage, err := s.MemoryUsage(context.Background())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, usage, uint64(held))
	assert.LessOrEqual(t, usage, uint64(64<<20))
	assert.True(t, s.Status().Running)

	// SIGTERM ends the probe with code 0 well within the grace period.
	require.NoError(t, s.Close(context.Background()))
	raw, err := os.ReadFile(logFile)
	require.NoError(t, err)
	assert.Contains(t, string(raw), fmt.Sprintf("stopping after holding %d bytes", held))
	assert.Equal(t, 0, s.Status().Restarts)
}

func testCloseLeavesNothing(t *testing.T, e *env) {
	ctx := context.Background()
	f, err := e.client.StartFunction(ctx, oci.ContainerSpec{Name: "closer", Image: e.image.Ref, Command: []string{"/bin/probe", "digest"}})
	require.NoError(t, err)
	s, err := e.client.StartService(ctx, oci.ServiceSpec{
		ContainerSpec: oci.ContainerSpec{Name: "svc-closer", Image: e.image.Ref, Command: []string{"/bin/probe", "hang"}, StopTimeout: 200 * time.Millisecond},
	})
	require.NoError(t, err)
	require.NoError(t, f.Close(ctx))
	require.NoError(t, s.Close(ctx), "a process that ignores SIGTERM gets SIGKILL after the grace period")
	require.NoError(t, f.Close(ctx), "a second Close returns the first result")

	assertNothingLeft(t, e, "closer", "svc-closer")
}

// assertNothingLeft lists containers, tasks and snapshots through the
// containerd client and checks that none of names is left.
func assertNothingLeft(t *testing.T, e *env, names ...string) {
	t.Helper()
	ctr := e.client.Containerd()
	ctx := namespaceCtx(e)
	for _, name := range names {
		_, err := ctr.LoadContainer(ctx, name)
		assert.True(t, errdefs.IsNotFound(err), "container %s still exists (err %v)", name, err)
		_, err = ctr.SnapshotService(oci.DefaultSnapshotter).Stat(ctx, name)
		assert.True(t, errdefs.IsNotFound(err), "snapshot %s still exists (err %v)", name, err)
	}
	tasks, err := ctr.TaskService().List(ctx, nil)
	require.NoError(t, err)
	for _, task := range tasks.Tasks {
		for _, name := range names {
			assert.NotEqual(t, name, task.ID, "task %s still exists", name)
		}
	}
}

func namespaceCtx(e *env) context.Context {
	return namespacesWith(context.Background(), e.client.Namespace())
}

func testReap(t *testing.T, e *env) {
	ctx := context.Background()
	// A second client stands for a hybridd that crashed: its container
	// stays behind when the client goes away without Close.
	crashed, err := oci.Connect(ctx, oci.Config{Address: e.cd.Address, Namespace: e.cd.Namespace, InitPath: binaries.initBin})
	require.NoError(t, err)
	_, err = crashed.EnsureImage(ctx, oci.ArchivePrefix+binaries.archive, nil)
	require.NoError(t, err)
	_, err = crashed.StartFunction(ctx, oci.ContainerSpec{Name: "leftover", Image: e.image.Ref, Command: []string{"/bin/probe", "digest"}})
	require.NoError(t, err)
	require.NoError(t, crashed.Close())

	// A snapshot with hybridd's label and no container, as a crash
	// between snapshot and container creation leaves it.
	sn := e.client.Containerd().SnapshotService(oci.DefaultSnapshotter)
	img, err := e.client.Containerd().GetImage(namespaceCtx(e), e.image.Name)
	require.NoError(t, err)
	diffIDs, err := img.RootFS(namespaceCtx(e))
	require.NoError(t, err)
	parent := chainID(diffIDs)
	_, err = sn.Prepare(namespaceCtx(e), "orphan-snapshot", parent, snapshots.WithLabels(map[string]string{oci.LabelWorkload: "orphan"}))
	require.NoError(t, err)

	live := e.startFunction(t, oci.ContainerSpec{Name: "live", Command: []string{"/bin/probe", "digest"}})

	removed, err := e.client.Reap(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"leftover"}, removed)
	assertNothingLeft(t, e, "leftover", "orphan-snapshot")
	// The client's own container survives.
	assert.Equal(t, "topic=test/topic len=0 sha256="+fmt.Sprintf("%x", sha256.Sum256(nil))+"\n", string(exec1(t, live).Stdout))

	require.NoError(t, e.client.Remove(ctx, "no-such-container"), "removing a missing container is not an error")
}

func testImageErrors(t *testing.T, e *env) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	missing := filepath.Join(t.TempDir(), "missing.tar")
	_, err := e.client.EnsureImage(ctx, oci.ArchivePrefix+missing, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing)
	assert.ErrorIs(t, err, os.ErrNotExist)

	_, err = e.client.EnsureImage(ctx, oci.ArchivePrefix+"relative.tar", nil)
	assert.ErrorIs(t, err, errdefs.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "oci-archive:relative.tar")

	_, err = e.client.EnsureImage(ctx, "Not A Reference!", nil)
	assert.ErrorIs(t, err, errdefs.ErrInvalidArgument)
	assert.Contains(t, err.Error(), `"Not A Reference!"`)

	// A registry on a closed loopback port: the pull fails without
	// leaving the machine.
	ref := "127.0.0.1:1/hybridd/missing:latest"
	_, err = e.client.EnsureImage(ctx, ref, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pull image "+ref)

	wasm := filepath.Join(t.TempDir(), "mod.wasm")
	require.NoError(t, os.WriteFile(wasm, []byte("\x00asm\x01\x00\x00\x00"), 0o644))
	wasmTar := filepath.Join(t.TempDir(), "mod.tar")
	require.NoError(t, ociarchive.BuildWasm(wasmTar, wasm))
	_, err = e.client.EnsureImage(ctx, oci.ArchivePrefix+wasmTar, nil)
	assert.ErrorContains(t, err, "contains a wasm artifact")

	_, err = e.client.StartFunction(ctx, oci.ContainerSpec{Name: "no-image", Image: "hybridd.local/absent:1", Command: []string{"x"}})
	assert.ErrorIs(t, err, errdefs.ErrNotFound)
	assert.ErrorContains(t, err, "image hybridd.local/absent:1 not found")
}

func testSpecErrors(t *testing.T, e *env) {
	ctx := context.Background()
	base := oci.ContainerSpec{Name: "ok", Image: e.image.Ref, Command: []string{"/bin/probe"}}
	cases := []struct {
		name   string
		modify func(*oci.ContainerSpec)
		want   string
	}{
		{"bad name", func(s *oci.ContainerSpec) { s.Name = "Bad Name" }, `invalid container name "Bad Name"`},
		{"no command", func(s *oci.ContainerSpec) { s.Command = nil }, "command is empty"},
		{"bad env", func(s *oci.ContainerSpec) { s.Env = []string{"NOEQUALS"} }, `invalid environment entry "NOEQUALS"`},
		{"small memory", func(s *oci.ContainerSpec) { s.MemoryLimit = 1 << 20 }, "memory limit 1048576 bytes is below the minimum"},
		{"bad user", func(s *oci.ContainerSpec) { s.User = "nobody" }, `invalid user "nobody"`},
		{"bad capability", func(s *oci.ContainerSpec) { s.Capabilities = []string{"CAP_FLY"} }, `unknown capability "CAP_FLY"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := base
			tc.modify(&spec)
			_, err := e.client.StartFunction(ctx, spec)
			assert.ErrorIs(t, err, errdefs.ErrInvalidArgument)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	_, err := e.client.StartService(ctx, oci.ServiceSpec{ContainerSpec: base, Restart: "sometimes"})
	assert.ErrorContains(t, err, `invalid restart policy "sometimes"`)
}

func TestConnectMissingSocket(t *testing.T) {
	addr := filepath.Join(t.TempDir(), "none.sock")
	_, err := oci.Connect(context.Background(), oci.Config{Address: addr})
	require.Error(t, err)
	assert.ErrorIs(t, err, errdefs.ErrUnavailable)
	assert.Contains(t, err.Error(), addr)
}

func namespacesWith(ctx context.Context, ns string) context.Context {
	return namespaces.WithNamespace(ctx, ns)
}

func chainID(diffIDs []digest.Digest) string {
	return identity.ChainID(diffIDs).String()
}
