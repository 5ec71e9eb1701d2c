package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hybridd/hybridd/internal/quantity"
	"github.com/hybridd/hybridd/manifest"
	"github.com/hybridd/hybridd/metrics"
	"github.com/hybridd/hybridd/oci"
	"github.com/hybridd/hybridd/ociarchive"
	"github.com/hybridd/hybridd/selector"
)

// pingTimeout bounds the containerd check made for each decision, so that
// a deploy returns quickly while containerd hangs.
const pingTimeout = 2 * time.Second

// sigkillExitCode is the exit code of a process ended by SIGKILL (128+9),
// which is how the kernel's OOM killer ends it.
const sigkillExitCode = 137

// oomEventWait bounds the wait for containerd's /tasks/oom event after an
// exec died of SIGKILL. With containerd 1.6 on cgroup v1 the event arrived
// before Exec returned in the end-to-end tests.
const oomEventWait = 2 * time.Second

// ContainersConfig configures the containerd side of the engine.
type ContainersConfig struct {
	Address   string
	Namespace string
	// InitPath is the host path of hybridd-init, the idle process of
	// function containers.
	InitPath string
	// MQTTURL is given to service containers as HYBRIDD_MQTT_URL.
	MQTTURL string
	// LogDir holds the output files of service containers.
	LogDir  string
	Logger  *slog.Logger
	Metrics *metrics.Metrics
}

// Containers connects to containerd on first use and again after it was
// lost, so that a daemon started while containerd is down picks it up later.
// It is safe for concurrent use.
type Containers struct {
	cfg ContainersConfig

	mu     sync.Mutex
	client *oci.Client
}

// NewContainers returns a lazy containerd connection; nothing is dialled yet.
func NewContainers(cfg ContainersConfig) *Containers {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	return &Containers{cfg: cfg}
}

// Address returns containerd's socket path.
func (c *Containers) Address() string { return c.cfg.Address }

// Ping returns nil when containerd responds, connecting first when needed.
func (c *Containers) Ping(ctx context.Context) error {
	_, err := c.connect(ctx)
	return err
}

func (c *Containers) connect(ctx context.Context) (*oci.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		if err := c.client.Ping(ctx); err == nil {
			return c.client, nil
		}
		c.client.Close()
		c.client = nil
	}
	client, err := oci.Connect(ctx, oci.Config{
		Address: c.cfg.Address, Namespace: c.cfg.Namespace, InitPath: c.cfg.InitPath,
		LogDir: c.cfg.LogDir, Logger: c.cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	// Containers left by a daemon that did not shut down cleanly would
	// collide with the names used now.
	if removed, err := client.Reap(ctx); err != nil {
		c.cfg.Logger.Warn("remove leftover containers failed", "error", err)
	} else if len(removed) > 0 {
		c.cfg.Logger.Info("removed leftover containers", "containers", removed)
	}
	c.cfg.Logger.Info("connected to containerd", "address", c.cfg.Address, "namespace", c.cfg.Namespace)
	c.client = client
	return client, nil
}

// Close drops the connection. Running containers are stopped by their runners.
func (c *Containers) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		c.client.Close()
		c.client = nil
	}
}

// Inspect classifies an artifact as wasm or container image, for the selector.
func (c *Containers) Inspect(ref string) (selector.ArtifactKind, error) {
	return archiveInspector{}.Inspect(ref)
}

// archiveInspector reads OCI archives from disk.
type archiveInspector struct{}

func (archiveInspector) Inspect(ref string) (selector.ArtifactKind, error) {
	path, ok := strings.CutPrefix(ref, archivePrefix)
	if !ok {
		// TODO: inspect registry references without pulling them (fetch the
		// manifest only); until then they are taken for container images.
		return selector.ArtifactContainer, nil
	}
	info, err := ociarchive.Inspect(path)
	if err != nil {
		return 0, err
	}
	if info.Kind == ociarchive.KindWasm {
		return selector.ArtifactWasm, nil
	}
	return selector.ArtifactContainer, nil
}

// start imports the image and starts the workload's container.
func (c *Containers) start(ctx context.Context, r *record, d selector.Decision, log *logbook) (runner, error) {
	client, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	spec := r.Workload.Spec
	if _, err := client.EnsureImage(ctx, d.Artifact, log); err != nil {
		return nil, err
	}
	cs := oci.ContainerSpec{
		// The digest suffix lets a replacement start before its predecessor stops.
		Name:         r.Workload.Name + "-" + strings.TrimPrefix(r.Digest, "sha256:")[:12],
		Image:        d.Artifact,
		Command:      spec.Container.Command,
		Env:          envList(spec.Env),
		MemoryLimit:  uint64(spec.Resources.Memory),
		CPUMillis:    spec.Resources.CPU,
		User:         spec.Container.User,
		Capabilities: spec.Container.Capabilities,
		Log:          log,
	}
	base := &containerRunner{name: r.Workload.Name, memoryLimit: int64(spec.Resources.Memory), metrics: c.cfg.Metrics, log: log}
	if spec.Container.Mode == manifest.ModeService {
		cs.HostNetwork = true
		svc, err := client.StartService(ctx, oci.ServiceSpec{
			ContainerSpec: cs, Restart: oci.RestartPolicy(spec.Container.Restart), MQTTURL: c.cfg.MQTTURL,
		})
		if err != nil {
			return nil, err
		}
		base.container = svc
		c.cfg.Metrics.SetContainerStart(r.Workload.Name, svc.StartedIn())
		return &serviceRunner{containerRunner: base}, nil
	}
	fn, err := client.StartFunction(ctx, cs)
	if err != nil {
		return nil, err
	}
	base.container = fn
	c.cfg.Metrics.SetContainerStart(r.Workload.Name, fn.StartedIn())
	return &functionRunner{containerRunner: base, fn: fn}, nil
}

func envList(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

// container is the part of the function and service APIs that runners share.
type container interface {
	Status() oci.Status
	MemoryUsage(ctx context.Context) (uint64, error)
	Close(ctx context.Context) error
}

// containerRunner observes a container's exits and OOM kills.
type containerRunner struct {
	name        string
	memoryLimit int64 // cgroup memory limit in bytes, 0 for none
	container   container
	metrics     *metrics.Metrics
	log         *logbook

	mu   sync.Mutex
	seen oci.Status
}

func (c *containerRunner) MemoryUsed(ctx context.Context) int64 {
	c.observeExits()
	used, err := c.container.MemoryUsage(ctx)
	if err != nil {
		return 0
	}
	return int64(used)
}

// observeExits counts exits and OOM kills that happened since the last call.
func (c *containerRunner) observeExits() oci.Status {
	st := c.container.Status()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := c.seen.OOMKills; i < st.OOMKills; i++ {
		// NOTE: an OOM kill of an exec is counted here too, although the
		// container itself keeps running.
		c.metrics.AddContainerExit(c.name, "oom")
		c.log.Printf("out of memory: the kernel killed a process in the container at its limit of %s (spec.resources.memory)",
			quantity.FormatQuantity(c.memoryLimit))
	}
	for i := c.seen.Exits; i < st.Exits; i++ {
		c.metrics.AddContainerExit(c.name, "exit")
	}
	if st.Exits > c.seen.Exits {
		c.log.Printf("container process exited with code %d (restarts so far: %d)", st.LastExitCode, st.Restarts)
	}
	c.seen = st
	return st
}

func (c *containerRunner) containerStatus() *ContainerState {
	st := c.observeExits()
	return &ContainerState{Running: st.Running, Restarts: st.Restarts, Exits: st.Exits,
		LastExitCode: st.LastExitCode, OOMKills: st.OOMKills}
}

func (c *containerRunner) Close(ctx context.Context) error { return c.container.Close(ctx) }

// functionRunner handles each message with an exec in the container.
type functionRunner struct {
	*containerRunner
	fn *oci.Function
}

func (f *functionRunner) Kind() string { return "function" }

// Invoke runs one exec. When an exec dies of SIGKILL while the container's
// OOM count rises, its error names the OOM kill and the memory limit, and
// the OOM kill is counted at once instead of at the next status read.
func (f *functionRunner) Invoke(ctx context.Context, in input) (output, error) {
	oomKills := f.fn.Status().OOMKills
	out, err := f.fn.Exec(ctx, oci.Input{Topic: in.Topic, Payload: in.Payload})
	var exitErr *oci.ExitError
	switch {
	case errors.Is(err, oci.ErrExecTimeout):
		err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	case errors.As(err, &exitErr) && exitErr.ExitCode == sigkillExitCode:
		// NOTE: with concurrent execs, the OOM kill may have hit another
		// exec of the same container.
		if f.waitOOMKill(oomKills) {
			err = fmt.Errorf("%w: killed by the OOM killer at the container's memory limit of %s (raise spec.resources.memory)",
				err, quantity.FormatQuantity(f.memoryLimit))
		}
		f.observeExits()
	case err == nil && out.StdoutTruncated:
		err = fmt.Errorf("stdout exceeded %d bytes; the output was discarded", oci.MaxStdout)
	}
	return output{Stdout: out.Stdout}, err
}

// waitOOMKill waits up to oomEventWait for the container's OOM kill count
// to exceed before and reports whether it did.
func (f *functionRunner) waitOOMKill(before int) bool {
	deadline := time.Now().Add(oomEventWait)
	for f.fn.Status().OOMKills <= before {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// serviceRunner is a long-running container that talks MQTT itself.
type serviceRunner struct {
	*containerRunner
}

func (s *serviceRunner) Kind() string { return "service" }

func (s *serviceRunner) Invoke(context.Context, input) (output, error) {
	return output{}, errors.New("a service container handles its own messages")
}
