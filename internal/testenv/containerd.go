package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
)

// Paths of the Debian packages "containerd" and "runc".
const (
	containerdBinary = "/usr/bin/containerd"
	shimBinary       = "/usr/bin/containerd-shim-runc-v2"
	runcBinary       = "/usr/sbin/runc"
)

// containerdStartTimeout bounds the wait for a fresh daemon to respond on
// its socket. A start normally takes well under a second.
const containerdStartTimeout = 30 * time.Second

// Containerd is a private containerd daemon started for one test.
type Containerd struct {
	// Address is the path of the daemon's gRPC unix socket.
	Address string
	// Namespace is unique per call, so that parallel test packages never
	// see each other's containers, cgroups or runc state.
	Namespace string
	// Dir holds the daemon's config, root, state and sockets.
	Dir string
}

// StartContainerd starts /usr/bin/containerd with a private root, state dir
// and socket, and stops it when the test ends. The daemon runs only the
// plugins that images, containers and tasks need (no CRI), with the
// overlayfs snapshotter. At cleanup it deletes every task, container and
// image left in its namespace, kills containerd and the shims it started,
// and unmounts what is left under its directory.
//
// The test is skipped when it does not run as root and fails when the
// Debian packages containerd or runc are not installed.
func StartContainerd(t testing.TB) *Containerd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("containerd tests need root (run them with sudo or as root)")
	}
	for _, bin := range []string{containerdBinary, shimBinary, runcBinary} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s not found: install the Debian packages containerd and runc (apt-get install containerd runc)", bin)
		}
	}

	// The directory stays short because a unix socket path may not
	// exceed 108 bytes, and t.TempDir paths contain the test name.
	dir, err := os.MkdirTemp("", "ctd")
	if err != nil {
		t.Fatalf("create containerd directory: %v", err)
	}
	ns := "hybridd-test-" + strconv.Itoa(os.Getpid()) + "-" + randomHex(4)
	cd := &Containerd{
		Address:   filepath.Join(dir, "c.sock"),
		Namespace: ns,
		Dir:       dir,
	}
	configPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(containerdConfig(dir)), 0o600); err != nil {
		t.Fatalf("write containerd config: %v", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatalf("create containerd log: %v", err)
	}

	cmd := exec.Command(containerdBinary, "--config", configPath)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Its own process group keeps terminal signals meant for "go test"
	// from reaching the daemon before the cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", containerdBinary, err)
	}
	exited := make(chan struct{})
	go func() {
		// Owned by the cleanup below, which waits on exited.
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	t.Cleanup(func() { cd.stop(t, cmd, exited) })

	if err := cd.waitServing(exited); err != nil {
		t.Fatalf("containerd did not start: %v\n%s", err, tail(filepath.Join(dir, "containerd.log"), 20))
	}
	return cd
}

// containerdConfig returns a version 2 config that keeps every path of the
// daemon under dir and disables the plugins the tests do not use.
func containerdConfig(dir string) string {
	disabled := []string{
		"io.containerd.grpc.v1.cri",
		"io.containerd.internal.v1.tracing",
		"io.containerd.tracing.processor.v1.otlp",
		"io.containerd.snapshotter.v1.aufs",
		"io.containerd.snapshotter.v1.btrfs",
		"io.containerd.snapshotter.v1.devmapper",
		"io.containerd.snapshotter.v1.zfs",
	}
	quoted := make([]string, len(disabled))
	for i, p := range disabled {
		quoted[i] = strconv.Quote(p)
	}
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = [%[3]s]

[grpc]
  address = %[4]q

[ttrpc]
  address = %[5]q

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[6]q
`,
		filepath.Join(dir, "root"),
		filepath.Join(dir, "state"),
		strings.Join(quoted, ", "),
		filepath.Join(dir, "c.sock"),
		filepath.Join(dir, "c.sock.ttrpc"),
		filepath.Join(dir, "opt"),
	)
}

// waitServing polls the socket until the health service responds, the
// daemon exits, or containerdStartTimeout passes.
func (cd *Containerd) waitServing(exited <-chan struct{}) error {
	deadline := time.Now().Add(containerdStartTimeout)
	for {
		select {
		case <-exited:
			return errors.New("containerd exited during start")
		default:
		}
		if _, err := os.Stat(cd.Address); err == nil {
			ok, err := cd.ping()
			if ok {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("socket %s did not respond within %s: %v", cd.Address, containerdStartTimeout, err)
			}
		} else if time.Now().After(deadline) {
			return fmt.Errorf("socket %s did not appear within %s", cd.Address, containerdStartTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (cd *Containerd) ping() (bool, error) {
	client, err := containerd.New(cd.Address)
	if err != nil {
		return false, err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return client.IsServing(ctx)
}

// stop removes what the tests left in the namespace, stops the daemon and
// its shims, unmounts leftovers and removes the directory.
func (cd *Containerd) stop(t testing.TB, cmd *exec.Cmd, exited <-chan struct{}) {
	if err := cd.deleteLeftovers(); err != nil {
		t.Logf("delete leftovers in containerd namespace %s: %v", cd.Namespace, err)
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}

	for _, pid := range cd.shimPIDs() {
		t.Logf("kill leftover containerd shim %d", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, m := range cd.mountsUnder() {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			t.Logf("unmount %s: %v", m, err)
		}
	}
	if err := os.RemoveAll(cd.Dir); err != nil {
		t.Logf("remove containerd directory: %v", err)
	}
}

// deleteLeftovers kills and deletes every task and container in the
// namespace (with their snapshots), then every image.
func (cd *Containerd) deleteLeftovers() error {
	client, err := containerd.New(cd.Address, containerd.WithDefaultNamespace(cd.Namespace))
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = namespaces.WithNamespace(ctx, cd.Namespace)

	var errs []error
	list, err := client.Containers(ctx)
	if err != nil {
		return err
	}
	for _, c := range list {
		if task, err := c.Task(ctx, nil); err == nil {
			_, err := task.Delete(ctx, containerd.WithProcessKill)
			errs = append(errs, err)
		}
		errs = append(errs, c.Delete(ctx, containerd.WithSnapshotCleanup))
	}
	imgs, err := client.ImageService().List(ctx)
	errs = append(errs, err)
	for _, img := range imgs {
		errs = append(errs, client.ImageService().Delete(ctx, img.Name))
	}
	return errors.Join(errs...)
}

// shimPIDs lists the shim processes started by this daemon. A shim's
// command line contains "-address" followed by the daemon's socket.
func (cd *Containerd) shimPIDs() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-address" && args[i+1] == cd.Address {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// mountsUnder lists the mount points below cd.Dir, deepest first.
func (cd *Containerd) mountsUnder() []string {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var points []string
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		if p := fields[4]; strings.HasPrefix(p, cd.Dir+"/") {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	return points
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tail returns the last n lines of a file, for failure messages.
func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
