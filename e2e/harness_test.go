package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hybridd/hybridd/internal/testenv"
)

// binDir holds the hybridd binary built once for the package's tests.
var binDir string

// repoRoot is the repository's top directory.
var repoRoot, _ = filepath.Abs("..")

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "hybridd-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	binDir = dir
	builds := [][]string{
		{"build", "-o", filepath.Join(dir, "hybridd"), "./cmd/hybridd"},
		{"build", "-o", filepath.Join(dir, "hybridd-init"), "./cmd/hybridd-init"},
		{"build", "-o", filepath.Join(dir, "mkimage"), "./tools/mkimage"},
	}
	for _, args := range builds {
		if err := goBuild(nil, args...); err != nil {
			return 0, err
		}
	}
	if err := buildExampleModules(); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// buildExampleModules builds the example wasm modules and the alert-counter
// image where the example manifest expects them, as `make build` does.
func buildExampleModules() error {
	out := filepath.Join(repoRoot, "examples/wasm-sensors/bin")
	wasip1 := []string{"GOOS=wasip1", "GOARCH=wasm"}
	for _, name := range []string{"threshold-alert", "dew-point"} {
		if err := goBuild(wasip1, "build", "-o", filepath.Join(out, name+".wasm"), "./examples/wasm-sensors/"+name); err != nil {
			return err
		}
	}
	if err := goBuild(wasip1, "build", "-buildmode=c-shared", "-o", filepath.Join(out, "moving-average.wasm"),
		"./examples/wasm-sensors/moving-average"); err != nil {
		return err
	}

	counter := filepath.Join(out, "alert-counter")
	if err := goBuild([]string{"CGO_ENABLED=0"}, "build", "-o", counter, "./examples/alert-counter"); err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(binDir, "mkimage"), "-o", filepath.Join(out, "alert-counter.tar"),
		"-name", "hybridd.example/alert-counter:latest", "-entrypoint", "/alert-counter", counter+":/alert-counter")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mkimage alert-counter.tar: %v\n%s", err, output)
	}
	return nil
}

func goBuild(env []string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// daemon is a running `hybridd serve`.
type daemon struct {
	t          testing.TB
	socket     string
	stateDir   string
	mqttAddr   string
	metricsURL string
	args       []string
	cmd        *exec.Cmd
	log        *testenv.SyncBuffer
	done       chan error
}

// daemonOptions select the broker and containerd of a daemon.
type daemonOptions struct {
	// MQTTURL joins an external broker; empty starts the embedded one.
	MQTTURL string
	// Containerd is the containerd socket; empty disables containers.
	Containerd string
	Namespace  string
	// StateDir reuses a state dir, e.g. to test a restart.
	StateDir string
	Budget   string
}

// startDaemon runs hybridd serve on private paths and free loopback ports
// and waits until its socket responds. It is stopped when the test ends.
func startDaemon(t testing.TB, opts daemonOptions) *daemon {
	t.Helper()
	dir := t.TempDir()
	d := &daemon{
		t:        t,
		socket:   filepath.Join(dir, "hybridd.sock"),
		stateDir: opts.StateDir,
		log:      new(testenv.SyncBuffer),
	}
	if d.stateDir == "" {
		d.stateDir = filepath.Join(dir, "state")
	}
	metricsAddr := testenv.FreeAddr(t)
	d.metricsURL = "http://" + metricsAddr + "/metrics"
	d.args = []string{"serve", "--socket", d.socket, "--state-dir", d.stateDir,
		"--metrics-listen", metricsAddr, "--containerd-address", opts.Containerd,
		"--init-binary", filepath.Join(binDir, "hybridd-init"),
		"--mqtt-client-id", "hybridd-e2e-" + filepath.Base(dir), "--log-level", "debug"}
	if opts.Namespace != "" {
		d.args = append(d.args, "--containerd-namespace", opts.Namespace)
	}
	if opts.Budget != "" {
		d.args = append(d.args, "--memory-budget", opts.Budget)
	}
	if opts.MQTTURL != "" {
		d.args = append(d.args, "--mqtt-url", opts.MQTTURL)
		d.mqttAddr = strings.TrimPrefix(opts.MQTTURL, "mqtt://")
	} else {
		d.mqttAddr = testenv.FreeAddr(t)
		d.args = append(d.args, "--mqtt-listen", d.mqttAddr)
	}
	d.start()
	t.Cleanup(d.stop)
	return d
}

func (d *daemon) start() {
	d.t.Helper()
	d.cmd = exec.Command(filepath.Join(binDir, "hybridd"), d.args...)
	d.cmd.Stdout = d.log
	d.cmd.Stderr = d.log
	require.NoError(d.t, d.cmd.Start())
	d.done = make(chan error, 1)
	go func() { d.done <- d.cmd.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-d.done:
			d.t.Fatalf("hybridd serve exited during start: %v\n%s", err, d.log)
		default:
		}
		if out, _, code := d.run("version"); code == 0 && !strings.Contains(out, "not reachable") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("hybridd serve did not answer on %s within 30s:\n%s", d.socket, d.log)
}

// stop sends SIGTERM and expects a clean exit.
func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("hybridd serve exited with %v:\n%s", err, d.log)
		}
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Kill()
		d.t.Errorf("hybridd serve did not stop within 60s of SIGTERM:\n%s", d.log)
	}
	d.cmd = nil
}

// restart stops the daemon and starts it again with the same flags.
func (d *daemon) restart() {
	d.stop()
	d.start()
}

// run runs a hybridd CLI command against this daemon.
func (d *daemon) run(args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "hybridd"), args...)
	cmd.Env = append(os.Environ(), "HYBRIDD_SOCKET="+d.socket)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		code = -1
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

// mustRun runs a CLI command and fails the test unless it exits 0.
func (d *daemon) mustRun(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.run(args...)
	require.Equal(d.t, 0, code, "hybridd %s\nstdout:\n%s\nstderr:\n%s\ndaemon log:\n%s",
		strings.Join(args, " "), out, errOut, d.log)
	return out
}

// scrape returns the metrics exposition.
func (d *daemon) scrape() string {
	d.t.Helper()
	resp, err := http.Get(d.metricsURL)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	return string(body)
}

// writeManifest writes a manifest into dir and returns its path.
func writeManifest(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}
