// Package oci runs hybridd's container workloads through containerd: it
// imports or pulls images, creates containers with resource limits and
// security defaults, runs function containers (one exec per message) and
// service containers (long-running, restarted per policy), and reports
// exits, OOM kills and memory usage.
//
// The package takes its own plain spec structs, so it does not depend on
// manifest parsing. A Client is safe for concurrent use.
package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
)

// Defaults of Config.
const (
	DefaultNamespace   = "hybridd"
	DefaultSnapshotter = "overlayfs"
	DefaultDialTimeout = 5 * time.Second
)

// Labels that hybridd puts on its containers and snapshots, so that Reap
// finds the leftovers of earlier runs.
const (
	LabelWorkload = "hybridd.io/workload"
	LabelMode     = "hybridd.io/mode"
)

// Config configures a Client.
type Config struct {
	// Address is containerd's gRPC socket, e.g. /run/containerd/containerd.sock.
	Address string
	// Namespace is the containerd namespace of every image, container and
	// task the client creates. Default DefaultNamespace.
	Namespace string
	// InitPath is the host path of the static hybridd-init binary, which
	// function containers run as their process. StartFunction fails when it
	// is empty.
	InitPath string
	// LogDir, when set, receives one log file per service container,
	// LogDir/NAME.log, written by containerd's shim. It is used when the
	// service's ContainerSpec.Log is nil.
	LogDir string
	// Snapshotter unpacks images and holds container root filesystems.
	// Default DefaultSnapshotter.
	Snapshotter string
	// DialTimeout bounds the first contact with containerd in Connect.
	// Default DefaultDialTimeout.
	DialTimeout time.Duration
	// Logger receives lifecycle and error records (keys workload,
	// container, error). Default: records are discarded.
	Logger *slog.Logger
}

// Client manages hybridd's containers in one containerd namespace. Close
// releases it; containers it started keep running until their own Close.
type Client struct {
	cfg    Config
	ctr    *containerd.Client
	log    *slog.Logger
	images sync.Map // EnsureImage reference -> containerd image name

	mu       sync.Mutex
	trackers map[string]*tracker // container ID -> status

	stopEvents context.CancelFunc
	eventsDone chan struct{}
}

// Connect dials containerd at cfg.Address and checks that it responds
// within cfg.DialTimeout. It fails fast, with an error naming the address,
// when the socket is missing or containerd does not respond. The returned
// Client watches containerd's task events until Close.
func Connect(ctx context.Context, cfg Config) (_ *Client, retErr error) {
	if cfg.Address == "" {
		return nil, fmt.Errorf("containerd address is empty: set it to the socket path, e.g. /run/containerd/containerd.sock: %w", errdefs.ErrInvalidArgument)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if err := identifiers.Validate(cfg.Namespace); err != nil {
		return nil, fmt.Errorf("invalid containerd namespace %q: %w", cfg.Namespace, err)
	}
	if cfg.Snapshotter == "" {
		cfg.Snapshotter = DefaultSnapshotter
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if path, ok := socketPath(cfg.Address); ok {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("containerd socket %s not found: start containerd or set the address of a running one: %w", path, errdefs.ErrUnavailable)
		}
	}

	ctr, err := containerd.New(cfg.Address,
		containerd.WithDefaultNamespace(cfg.Namespace),
		containerd.WithTimeout(cfg.DialTimeout))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", cfg.Address, err)
	}
	defer func() {
		if retErr != nil {
			ctr.Close()
		}
	}()
	c := &Client{
		cfg:      cfg,
		ctr:      ctr,
		log:      cfg.Logger,
		trackers: map[string]*tracker{},
	}
	if err := c.Ping(ctx); err != nil {
		return nil, err
	}

	eventsCtx, stop := context.WithCancel(c.nsctx(context.WithoutCancel(ctx)))
	c.stopEvents = stop
	c.eventsDone = make(chan struct{})
	go c.watchEvents(eventsCtx)
	return c, nil
}

// socketPath returns the file system path of a unix socket address.
func socketPath(address string) (string, bool) {
	if rest, ok := strings.CutPrefix(address, "unix://"); ok {
		return rest, true
	}
	if strings.Contains(address, "://") {
		return "", false
	}
	return address, true
}

// Ping checks that containerd responds within the dial timeout.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	if _, err := c.ctr.Version(ctx); err != nil {
		return fmt.Errorf("containerd at %s is not reachable: %w", c.cfg.Address, errors.Join(errdefs.ErrUnavailable, err))
	}
	return nil
}

// Namespace returns the containerd namespace the client works in.
func (c *Client) Namespace() string { return c.cfg.Namespace }

// Containerd returns the underlying containerd client, for tests and
// tools that list what exists. Callers must not close it.
func (c *Client) Containerd() *containerd.Client { return c.ctr }

// Close stops the event watcher and closes the connection. It does not
// stop containers: Close each Function and Service first, or call Reap.
func (c *Client) Close() error {
	c.stopEvents()
	<-c.eventsDone
	return c.ctr.Close()
}

// nsctx returns ctx carrying the client's namespace.
func (c *Client) nsctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, c.cfg.Namespace)
}

// track registers a status record for a container.
func (c *Client) track(id string) *tracker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &tracker{}
	c.trackers[id] = t
	return t
}

func (c *Client) untrack(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.trackers, id)
}

func (c *Client) tracker(id string) *tracker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trackers[id]
}

// watchEvents follows /tasks/exit and /tasks/oom in the client's namespace
// and updates the trackers. It resubscribes after errors until ctx ends.
func (c *Client) watchEvents(ctx context.Context) {
	defer close(c.eventsDone)
	ns := fmt.Sprintf("namespace==%q", c.cfg.Namespace)
	delay := 100 * time.Millisecond
	for {
		envelopes, errs := c.ctr.Subscribe(ctx, ns+`,topic=="/tasks/exit"`, ns+`,topic=="/tasks/oom"`)
		err := c.dispatchEvents(ctx, envelopes, errs)
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("containerd event stream failed, resubscribing", "error", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

func (c *Client) dispatchEvents(ctx context.Context, envelopes <-chan *events.Envelope, errs <-chan error) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			if err == nil {
				err = errors.New("event stream closed")
			}
			return err
		case env := <-envelopes:
			if env == nil || env.Event == nil {
				continue
			}
			ev, err := typeurl.UnmarshalAny(env.Event)
			if err != nil {
				c.log.Warn("decode containerd event", "topic", env.Topic, "error", err)
				continue
			}
			switch e := ev.(type) {
			case *apievents.TaskExit:
				// Exec processes have their own ID; only the init process
				// carries the container ID.
				if t := c.tracker(e.ContainerID); t != nil && e.ID == e.ContainerID {
					t.exited(e.Pid, int(e.ExitStatus))
				}
			case *apievents.TaskOOM:
				if t := c.tracker(e.ContainerID); t != nil {
					t.oomKilled()
					c.log.Warn("container OOM kill", "container", e.ContainerID)
				}
			}
		}
	}
}

// Status is the observed state of a function or service container.
type Status struct {
	// Running is true while the container's task runs.
	Running bool
	// Restarts counts the task restarts of a service.
	Restarts int
	// Exits counts the exits of the container's main process.
	Exits int
	// LastExitCode is the exit code of the latest exit; valid when Exits > 0.
	LastExitCode int
	// OOMKills counts the OOM events containerd reported for the
	// container's cgroup, including those of exec processes.
	OOMKills int
}

// tracker holds the Status of one container. The event watcher and the
// service supervisor update it; Status readers copy it.
type tracker struct {
	mu  sync.Mutex
	st  Status
	pid uint32 // PID of the running task's main process
}

func (t *tracker) status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st
}

// exited records an exit of the main process pid. An exit event that
// arrives after a restart names an older pid and leaves Running alone.
func (t *tracker) exited(pid uint32, code int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pid == t.pid {
		t.st.Running = false
	}
	t.st.Exits++
	t.st.LastExitCode = code
}

// started records a running task with main process pid.
func (t *tracker) started(pid uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pid = pid
	t.st.Running = true
}

func (t *tracker) oomKilled() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.OOMKills++
}

func (t *tracker) update(f func(*Status)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f(&t.st)
}
