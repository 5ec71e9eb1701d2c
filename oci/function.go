package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Limits of the captured output of one exec. Bytes past them are dropped;
// Output.StdoutTruncated reports a cut stdout.
const (
	MaxStdout = 1 << 20
	MaxStderr = 64 << 10
)

// InitDest is the path of the read-only bind mount of the host's
// hybridd-init binary in a function container.
const InitDest = "/.hybridd-init"

// execCleanupTimeout bounds killing and deleting an exec process after
// the caller's context ended.
const execCleanupTimeout = 10 * time.Second

// ErrExecTimeout is wrapped by the error of an Exec whose context ended
// before the command exited. The command was killed.
var ErrExecTimeout = errors.New("exec cut off at the context deadline")

// ExitError is returned by Exec when the command exits with a code other
// than 0. The Output is returned beside it.
type ExitError struct {
	Container string
	ExitCode  int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("container %s: command exited with code %d", e.Container, e.ExitCode)
}

// Input is one message handed to a function.
type Input struct {
	// Topic is passed as HYBRIDD_TOPIC.
	Topic string
	// Payload is the command's stdin.
	Payload []byte
}

// Output is the result of one exec.
type Output struct {
	// Stdout holds up to MaxStdout bytes of the command's stdout.
	Stdout []byte
	// Stderr holds up to MaxStderr bytes of the command's stderr.
	Stderr          []byte
	ExitCode        int
	StdoutTruncated bool
}

// Function is a long-lived container in which each message runs as an
// exec of the workload's command. Exec is safe for concurrent use.
type Function struct {
	client    *Client
	spec      validated
	ctr       containerd.Container
	task      containerd.Task
	process   specs.Process // template of each exec's process
	tracker   *tracker
	startedIn time.Duration
	execSeq   atomic.Uint64

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

// StartFunction creates and starts a function container. Its process is
// hybridd-init (Config.InitPath) bind-mounted read-only at InitDest, so
// the image needs nothing but spec.Command. The container gets the
// security defaults of ContainerSpec and, unless spec.HostNetwork is set,
// a network namespace with only loopback.
func (c *Client) StartFunction(ctx context.Context, spec ContainerSpec) (_ *Function, retErr error) {
	began := time.Now()
	v, err := spec.validate(true)
	if err != nil {
		return nil, err
	}
	if err := c.checkInit(); err != nil {
		return nil, err
	}
	ctx = c.nsctx(ctx)

	ctr, err := c.createContainer(ctx, v, "function",
		oci.WithProcessArgs(InitDest),
		oci.WithMounts([]specs.Mount{{
			Destination: InitDest,
			Type:        "bind",
			Source:      c.cfg.InitPath,
			Options:     []string{"rbind", "ro", "nosuid", "nodev"},
		}}),
	)
	if err != nil {
		return nil, err
	}
	t := c.track(v.Name)
	defer func() {
		if retErr != nil {
			c.undoStart(ctx, v.Name, ctr)
		}
	}()

	ociSpec, err := ctr.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("container %s: read spec: %w", v.Name, err)
	}
	ioc := cio.NullIO
	if v.Log != nil {
		ioc = cio.NewCreator(cio.WithStreams(nil, v.Log, v.Log))
	}
	task, _, err := c.startTask(ctx, ctr, ioc, t)
	if err != nil {
		return nil, err
	}
	f := &Function{
		client:    c,
		spec:      v,
		ctr:       ctr,
		task:      task,
		process:   *ociSpec.Process,
		tracker:   t,
		startedIn: time.Since(began),
	}
	c.log.Info("function container started", "workload", v.Name, "container", ctr.ID(), "started_in", f.startedIn)
	return f, nil
}

// checkInit checks that Config.InitPath names an executable file.
func (c *Client) checkInit() error {
	p := c.cfg.InitPath
	if p == "" {
		return fmt.Errorf("config InitPath is empty: set it to the host path of the hybridd-init binary: %w", errdefs.ErrInvalidArgument)
	}
	if !filepath.IsAbs(p) {
		return fmt.Errorf("config InitPath %q is not absolute: %w", p, errdefs.ErrInvalidArgument)
	}
	info, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("hybridd-init binary: %w (build it with CGO_ENABLED=0 go build ./cmd/hybridd-init)", err)
	}
	if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("hybridd-init binary %s is not an executable file (mode %s): %w", p, info.Mode(), errdefs.ErrInvalidArgument)
	}
	return nil
}

// Exec runs the function's command once with in.Payload on stdin and
// HYBRIDD_TOPIC set to in.Topic. When ctx ends first, the command is
// killed with SIGKILL and the error wraps ErrExecTimeout and ctx.Err();
// the next Exec is not affected. A non-zero exit returns *ExitError with
// the Output. Each exec's stderr is also copied to ContainerSpec.Log,
// which must be safe for concurrent use when execs overlap.
func (f *Function) Exec(ctx context.Context, in Input) (Output, error) {
	if f.closed.Load() {
		return Output{}, fmt.Errorf("container %s is closed: %w", f.spec.Name, errdefs.ErrFailedPrecondition)
	}
	id := fmt.Sprintf("exec-%d", f.execSeq.Add(1))
	pspec := f.process
	pspec.Terminal = false
	pspec.Args = append([]string(nil), f.spec.Command...)
	pspec.Env = append(append([]string(nil), f.process.Env...), "HYBRIDD_TOPIC="+in.Topic)

	stdout := &cappedBuffer{limit: MaxStdout}
	stderr := &cappedBuffer{limit: MaxStderr, forward: f.spec.Log}
	// Operations on the exec process must complete even after ctx ended,
	// so they run on a detached context with their own bound.
	opCtx, cancel := context.WithTimeout(f.client.nsctx(context.WithoutCancel(ctx)), execCleanupTimeout+f.spec.StopTimeout)
	defer cancel()
	proc, err := f.task.Exec(opCtx, id, &pspec,
		cio.NewCreator(cio.WithStreams(bytes.NewReader(in.Payload), stdout, stderr)))
	if err != nil {
		return Output{}, fmt.Errorf("container %s: create exec: %w", f.spec.Name, err)
	}
	deleted := false
	defer func() {
		if deleted {
			return
		}
		_ = proc.Kill(opCtx, syscall.SIGKILL)
		if _, err := proc.Delete(opCtx); err != nil && !errdefs.IsNotFound(err) {
			f.client.log.Warn("delete exec process", "container", f.spec.Name, "exec", id, "error", err)
		}
	}()
	exitC, err := proc.Wait(opCtx)
	if err != nil {
		return Output{}, fmt.Errorf("container %s: wait on exec: %w", f.spec.Name, err)
	}
	if err := proc.Start(opCtx); err != nil {
		return Output{}, fmt.Errorf("container %s: start %q: %w", f.spec.Name, f.spec.Command, err)
	}
	// The shim holds its own writer on the stdin FIFO, so the command reads
	// EOF only after the shim closes it and the payload copy has finished.
	if err := proc.CloseIO(opCtx, containerd.WithStdinCloser); err != nil {
		return Output{}, fmt.Errorf("container %s: close stdin of exec: %w", f.spec.Name, err)
	}

	var (
		status  containerd.ExitStatus
		timeout bool
	)
	select {
	case status = <-exitC:
	case <-ctx.Done():
		timeout = true
		if err := proc.Kill(opCtx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
			f.client.log.Warn("kill exec after deadline", "container", f.spec.Name, "exec", id, "error", err)
		}
		status = <-exitC
	}
	code, _, err := status.Result()
	if err != nil {
		return Output{}, fmt.Errorf("container %s: exec result: %w", f.spec.Name, err)
	}
	// Delete waits until the stdout and stderr copies have finished.
	// TODO: bound that wait; a background child of the command that keeps
	// stdout open holds Delete until the child exits.
	deleted = true
	if _, err := proc.Delete(opCtx); err != nil && !errdefs.IsNotFound(err) {
		return Output{}, fmt.Errorf("container %s: delete exec: %w", f.spec.Name, err)
	}

	out := Output{
		Stdout:          stdout.Bytes(),
		Stderr:          stderr.Bytes(),
		ExitCode:        int(code),
		StdoutTruncated: stdout.truncated,
	}
	if timeout {
		return out, fmt.Errorf("container %s: %q: %w: %w", f.spec.Name, f.spec.Command, ErrExecTimeout, ctx.Err())
	}
	if code != 0 {
		return out, &ExitError{Container: f.spec.Name, ExitCode: int(code)}
	}
	return out, nil
}

// Status returns the observed state of the container.
func (f *Function) Status() Status { return f.tracker.status() }

// StartedIn returns the time StartFunction took, from validation to the
// started task.
func (f *Function) StartedIn() time.Duration { return f.startedIn }

// Name returns the container name.
func (f *Function) Name() string { return f.spec.Name }

// MemoryUsage returns the container's working set in bytes (cgroup memory
// usage minus inactive file cache), including running execs.
func (f *Function) MemoryUsage(ctx context.Context) (uint64, error) {
	return f.client.memoryUsage(f.client.nsctx(ctx), f.task)
}

// Close stops the container (SIGTERM, then SIGKILL after the stop
// timeout) and deletes it with its snapshot. Execs still running fail.
// Calls after the first return the first result.
func (f *Function) Close(ctx context.Context) error {
	f.closeOnce.Do(func() {
		f.closed.Store(true)
		ctx = f.client.nsctx(ctx)
		f.closeErr = f.client.removeContainer(ctx, f.ctr, f.spec.StopTimeout)
		f.client.untrack(f.spec.Name)
		if f.closeErr == nil {
			f.client.log.Info("function container removed", "workload", f.spec.Name, "container", f.ctr.ID())
		}
	})
	return f.closeErr
}

// cappedBuffer keeps the first limit bytes written to it and copies every
// write to forward, when set. It never returns a write error, so that
// the command is not blocked by a full buffer.
type cappedBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	limit     int
	truncated bool
	forward   io.Writer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - b.buf.Len(); room < len(p) {
		b.buf.Write(p[:max(room, 0)])
		b.truncated = true
	} else {
		b.buf.Write(p)
	}
	if b.forward != nil {
		_, _ = b.forward.Write(p)
	}
	return len(p), nil
}

func (b *cappedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// undoStart removes a container whose start failed, so nothing of it stays
// in containerd.
func (c *Client) undoStart(ctx context.Context, name string, ctr containerd.Container) {
	c.untrack(name)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := c.removeContainer(dctx, ctr, time.Second); err != nil {
		c.log.Warn("remove container after failed start", "container", name, "error", err)
	}
}
