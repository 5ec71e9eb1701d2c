package bench

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hybridd/hybridd/internal/testenv"
	"github.com/hybridd/hybridd/ociarchive"
)

// artifacts holds the programs and modules built once by TestMain.
var artifacts struct {
	hybridd       string // bin/hybridd, built as `make build` builds it
	initBinary    string // hybridd-init, mounted into function containers
	probeArchive  string // OCI archive of oci/testdata/probe
	reactorWAT    string // wasmhost/testdata/reactor.wat, assembled
	echoWAT       string // wasmhost/testdata/echo.wat, assembled
	thresholdGo   string // examples/wasm-sensors/threshold-alert, a Go command module
	movingAverage string // examples/wasm-sensors/moving-average, a Go reactor module
}

// repoRoot is the repository's top directory.
var repoRoot, _ = filepath.Abs("..")

func TestMain(m *testing.M) {
	// The test binary doubles as the baseline relay, so that the relay runs
	// in a process of its own, as `hybridd serve` does.
	if os.Getenv(relayEnv) != "" {
		if err := runRelay(os.Getenv(relayEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// The package has benchmarks only, so `go test ./...` without -bench
	// skips the build of their programs.
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "hybridd-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := buildArtifacts(dir); err != nil {
		fmt.Fprintln(os.Stderr, "bench setup:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildArtifacts builds every program and module the benchmarks use into
// dir. The Go builds hit the build cache after `make build`.
func buildArtifacts(dir string) error {
	a := &artifacts
	a.hybridd = filepath.Join(dir, "hybridd")
	a.initBinary = filepath.Join(dir, "hybridd-init")
	probe := filepath.Join(dir, "probe")
	a.thresholdGo = filepath.Join(dir, "threshold-alert.wasm")
	a.movingAverage = filepath.Join(dir, "moving-average.wasm")
	static := []string{"CGO_ENABLED=0"}
	wasip1 := []string{"GOOS=wasip1", "GOARCH=wasm"}
	builds := []struct {
		env  []string
		args []string
	}{
		// The flags of the Makefile's bin/hybridd, without the version.
		{static, []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", a.hybridd, "./cmd/hybridd"}},
		{static, []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", a.initBinary, "./cmd/hybridd-init"}},
		{static, []string{"build", "-o", probe, "./oci/testdata/probe"}},
		{wasip1, []string{"build", "-trimpath", "-o", a.thresholdGo, "./examples/wasm-sensors/threshold-alert"}},
		{wasip1, []string{"build", "-trimpath", "-buildmode=c-shared", "-o", a.movingAverage, "./examples/wasm-sensors/moving-average"}},
	}
	for _, build := range builds {
		cmd := exec.Command("go", build.args...)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), build.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(build.args, " "), err, out)
		}
	}

	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		return errors.New("wat2wasm not found in PATH: install the Debian package wabt (apt-get install wabt)")
	}
	a.reactorWAT = filepath.Join(dir, "reactor.wasm")
	a.echoWAT = filepath.Join(dir, "echo.wasm")
	for src, out := range map[string]string{"reactor.wat": a.reactorWAT, "echo.wat": a.echoWAT} {
		path := filepath.Join(repoRoot, "wasmhost", "testdata", src)
		if msg, err := exec.Command(wat2wasm, path, "-o", out).CombinedOutput(); err != nil {
			return fmt.Errorf("wat2wasm %s: %v\n%s", path, err, msg)
		}
	}

	a.probeArchive = filepath.Join(dir, "probe.tar")
	return ociarchive.Build(a.probeArchive, ociarchive.Image{
		Name:       "hybridd.local/probe:bench",
		Files:      []ociarchive.File{{Source: probe, Dest: "/bin/probe", Mode: 0o755}},
		Entrypoint: []string{"/bin/probe"},
	})
}

// daemon is a running `hybridd serve` with the embedded broker, on private
// paths and free loopback ports.
type daemon struct {
	b          testing.TB
	args       []string
	socket     string
	stateDir   string
	mqttURL    string
	metricsURL string
	cmd        *exec.Cmd
	log        testenv.SyncBuffer // the daemon's stdout and stderr
	done       chan error
}

// daemonOptions select containerd and the state dir of a daemon.
type daemonOptions struct {
	// Containerd is the socket of a private containerd; empty disables containers.
	Containerd string
	Namespace  string
	// StateDir reuses a state dir; empty makes a fresh one.
	StateDir string
}

// startDaemon starts hybridd serve and waits until its socket responds. The
// daemon is stopped when the benchmark ends.
func startDaemon(b testing.TB, opts daemonOptions) *daemon {
	b.Helper()
	dir, err := os.MkdirTemp("", "hbd") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	d := &daemon{b: b, socket: filepath.Join(dir, "s.sock"), stateDir: opts.StateDir}
	if d.stateDir == "" {
		d.stateDir = filepath.Join(dir, "state")
	}
	mqttAddr := testenv.FreeAddr(b)
	metricsAddr := testenv.FreeAddr(b)
	d.mqttURL = "mqtt://" + mqttAddr
	d.metricsURL = "http://" + metricsAddr + "/metrics"
	d.args = []string{"serve", "--socket", d.socket, "--state-dir", d.stateDir,
		"--mqtt-listen", mqttAddr, "--metrics-listen", metricsAddr,
		"--containerd-address", opts.Containerd, "--init-binary", artifacts.initBinary,
		"--mqtt-client-id", "hybridd-bench-" + filepath.Base(dir),
		"--memory-budget", "4Gi", "--log-level", "warn"}
	if opts.Namespace != "" {
		d.args = append(d.args, "--containerd-namespace", opts.Namespace)
	}
	d.start()
	b.Cleanup(d.stop)
	return d
}

func (d *daemon) start() {
	d.b.Helper()
	d.log.Reset()
	d.cmd = exec.Command(artifacts.hybridd, d.args...)
	d.cmd.Stdout = &d.log
	d.cmd.Stderr = &d.log
	if err := d.cmd.Start(); err != nil {
		d.b.Fatalf("start hybridd serve: %v", err)
	}
	d.done = make(chan error, 1)
	go func() { d.done <- d.cmd.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-d.done:
			d.cmd = nil
			d.b.Fatalf("hybridd serve exited during start: %v\n%s", err, d.log.String())
		default:
		}
		if _, err := os.Stat(d.socket); err == nil {
			if _, _, err := d.run("ps"); err == nil {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.b.Fatalf("hybridd serve did not answer on %s within 30s", d.socket)
}

// stop sends SIGTERM and waits for the daemon to exit.
func (d *daemon) stop() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			d.b.Errorf("hybridd serve exited with %v", err)
		}
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		d.b.Errorf("hybridd serve did not stop within 60s of SIGTERM")
	}
	d.cmd = nil
}

// pid returns the daemon's process id.
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// run runs a hybridd CLI command against the daemon and returns its
// stdout and how long it took.
func (d *daemon) run(args ...string) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, artifacts.hybridd, append([]string{"--socket", d.socket}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	begin := time.Now()
	err := cmd.Run()
	took := time.Since(begin)
	if err != nil {
		return stdout.String(), took, fmt.Errorf("hybridd %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), took, nil
}

// mustRun runs a CLI command and stops the benchmark unless it succeeds.
func (d *daemon) mustRun(args ...string) (string, time.Duration) {
	d.b.Helper()
	out, took, err := d.run(args...)
	if err != nil {
		d.b.Fatal(err)
	}
	return out, took
}

// deploy writes manifest into a fresh file and deploys it, returning the
// wall time of the deploy command.
func (d *daemon) deploy(manifest string) time.Duration {
	d.b.Helper()
	dir := d.b.TempDir()
	path := filepath.Join(dir, "manifest.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		d.b.Fatal(err)
	}
	_, took := d.mustRun("deploy", path)
	return took
}

// metric returns the sum of the samples of a metric family without labels
// or with any labels, from the daemon's /metrics.
func (d *daemon) metric(name string) float64 {
	d.b.Helper()
	resp, err := http.Get(d.metricsURL)
	if err != nil {
		d.b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		d.b.Fatal(err)
	}
	var sum float64
	found := false
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			d.b.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
		found = true
	}
	if !found {
		d.b.Fatalf("metric %s not found in %s", name, d.metricsURL)
	}
	return sum
}

// rssBytes returns VmRSS from /proc/PID/status.
func rssBytes(b testing.TB, pid int) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest) // "12345 kB"
			kib, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				b.Fatalf("VmRSS line %q: %v", line, err)
			}
			return kib * 1024
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// cpuSeconds returns the user plus system CPU time of a process from
// /proc/PID/stat, in seconds, at the kernel's 100 Hz clock-tick resolution.
func cpuSeconds(b testing.TB, pid int) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name in brackets may contain spaces; fields count from after it.
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		b.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	const clockTicks = 100 // USER_HZ on Linux
	return (utime + stime) / clockTicks
}
