package oci

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
)

// RestartPolicy decides whether a service's task is restarted after it exits.
type RestartPolicy string

const (
	RestartAlways    RestartPolicy = "always"
	RestartOnFailure RestartPolicy = "on-failure" // after a non-zero exit code
	RestartNever     RestartPolicy = "never"
)

// Defaults of ServiceSpec.
const (
	DefaultBackoffInitial = 500 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
)

// ServiceSpec describes a long-running container that talks MQTT itself.
type ServiceSpec struct {
	ContainerSpec
	// Restart is the restart policy. Default RestartAlways.
	Restart RestartPolicy
	// MQTTURL is passed to the container as HYBRIDD_MQTT_URL.
	MQTTURL string
	// BackoffInitial is the delay before the first restart; each further
	// restart doubles it up to BackoffMax. A task that ran for BackoffMax
	// or longer resets the delay. Defaults DefaultBackoffInitial and
	// DefaultBackoffMax.
	BackoffInitial time.Duration
	BackoffMax     time.Duration
}

// Service is a running service container and the supervisor goroutine
// that restarts it. Its methods are safe for concurrent use.
type Service struct {
	client    *Client
	spec      ServiceSpec
	v         validated
	ctr       containerd.Container
	tracker   *tracker
	startedIn time.Duration

	mu   sync.Mutex
	task containerd.Task // current task, nil between exit and restart

	stop      context.CancelFunc
	done      chan struct{} // closed when the supervisor returns
	closeOnce sync.Once
	closeErr  error
}

// StartService creates and starts a service container and supervises it:
// when its task exits, the task is deleted and, if the restart policy
// requires it, started again after an exponential backoff. The container always
// shares the host's network namespace, because it must reach the MQTT
// broker that listens on the host's loopback interface. Its stdout and
// stderr go to spec.Log, else to Config.LogDir/NAME.log, else nowhere.
func (c *Client) StartService(ctx context.Context, spec ServiceSpec) (_ *Service, retErr error) {
	began := time.Now()
	spec.HostNetwork = true
	switch spec.Restart {
	case "":
		spec.Restart = RestartAlways
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		return nil, fmt.Errorf("container %s: invalid restart policy %q: use always, on-failure or never: %w", spec.Name, spec.Restart, errdefs.ErrInvalidArgument)
	}
	if spec.BackoffInitial <= 0 {
		spec.BackoffInitial = DefaultBackoffInitial
	}
	if spec.BackoffMax < spec.BackoffInitial {
		spec.BackoffMax = max(DefaultBackoffMax, spec.BackoffInitial)
	}
	if spec.MQTTURL != "" {
		spec.Env = append(append([]string(nil), spec.Env...), "HYBRIDD_MQTT_URL="+spec.MQTTURL)
	}
	v, err := spec.validate(false)
	if err != nil {
		return nil, err
	}
	ctx = c.nsctx(ctx)

	ctr, err := c.createContainer(ctx, v, "service", withProcessArgsIfSet(v.Command))
	if err != nil {
		return nil, err
	}
	t := c.track(v.Name)
	defer func() {
		if retErr != nil {
			c.undoStart(ctx, v.Name, ctr)
		}
	}()

	s := &Service{client: c, spec: spec, v: v, ctr: ctr, tracker: t, done: make(chan struct{})}
	task, exitC, err := c.startTask(ctx, ctr, s.ioCreator(), t)
	if err != nil {
		return nil, err
	}
	s.task = task
	s.startedIn = time.Since(began)

	superCtx, stop := context.WithCancel(c.nsctx(context.WithoutCancel(ctx)))
	s.stop = stop
	go s.supervise(superCtx, exitC)
	c.log.Info("service container started", "workload", v.Name, "container", ctr.ID(), "started_in", s.startedIn)
	return s, nil
}

// ioCreator returns where the task's stdout and stderr go.
func (s *Service) ioCreator() cio.Creator {
	switch {
	case s.v.Log != nil:
		return cio.NewCreator(cio.WithStreams(nil, s.v.Log, s.v.Log))
	case s.client.cfg.LogDir != "":
		// The shim appends to the file itself, so the log survives a
		// restart of hybridd.
		return cio.LogFile(filepath.Join(s.client.cfg.LogDir, s.v.Name+".log"))
	default:
		return cio.NullIO
	}
}

// supervise waits for each task to exit and restarts it per policy until
// ctx ends. It is owned by the Service: Close cancels ctx and waits.
func (s *Service) supervise(ctx context.Context, exitC <-chan containerd.ExitStatus) {
	defer close(s.done)
	delay := s.spec.BackoffInitial
	startedAt := time.Now()
	for {
		var status containerd.ExitStatus
		select {
		case <-ctx.Done():
			return
		case status = <-exitC:
		}
		if ctx.Err() != nil {
			return
		}
		code := int(status.ExitCode())
		s.tracker.update(func(st *Status) { st.Running = false; st.LastExitCode = code })
		s.deleteTask(ctx)
		if !s.shouldRestart(code) {
			s.client.log.Info("service exited, not restarting", "workload", s.v.Name, "exit_code", code, "restart", s.spec.Restart)
			return
		}
		if time.Since(startedAt) >= s.spec.BackoffMax {
			delay = s.spec.BackoffInitial
		}

		for {
			s.client.log.Info("service exited, restarting", "workload", s.v.Name, "exit_code", code, "delay", delay)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, s.spec.BackoffMax)
			task, next, err := s.client.startTask(ctx, s.ctr, s.ioCreator(), s.tracker)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.client.log.Warn("restart service", "workload", s.v.Name, "error", err)
				continue
			}
			s.mu.Lock()
			s.task = task
			s.mu.Unlock()
			s.tracker.update(func(st *Status) { st.Restarts++ })
			exitC = next
			startedAt = time.Now()
			break
		}
	}
}

func (s *Service) shouldRestart(code int) bool {
	switch s.spec.Restart {
	case RestartAlways:
		return true
	case RestartOnFailure:
		return code != 0
	default:
		return false
	}
}

// deleteTask deletes the exited task so that a new one can be created.
func (s *Service) deleteTask(ctx context.Context) {
	s.mu.Lock()
	task := s.task
	s.task = nil
	s.mu.Unlock()
	if task == nil {
		return
	}
	// The delete completes even when Close cancels ctx meanwhile, so that
	// Close never finds a half-deleted task.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
		s.client.log.Warn("delete exited service task", "workload", s.v.Name, "error", err)
	}
}

// Status returns the observed state of the service.
func (s *Service) Status() Status { return s.tracker.status() }

// StartedIn returns the time StartService took until the first task ran.
func (s *Service) StartedIn() time.Duration { return s.startedIn }

// Name returns the container name.
func (s *Service) Name() string { return s.v.Name }

// MemoryUsage returns the working set in bytes of the current task.
func (s *Service) MemoryUsage(ctx context.Context) (uint64, error) {
	s.mu.Lock()
	task := s.task
	s.mu.Unlock()
	if task == nil {
		return 0, fmt.Errorf("service %s has no running task: %w", s.v.Name, errdefs.ErrNotFound)
	}
	return s.client.memoryUsage(s.client.nsctx(ctx), task)
}

// Close stops the supervisor, then the task (SIGTERM, then SIGKILL after
// the stop timeout), and deletes the container with its snapshot. Calls
// after the first return the first result.
func (s *Service) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.stop()
		<-s.done
		s.closeErr = s.client.removeContainer(s.client.nsctx(ctx), s.ctr, s.v.StopTimeout)
		s.client.untrack(s.v.Name)
		if s.closeErr == nil {
			s.client.log.Info("service container removed", "workload", s.v.Name, "container", s.ctr.ID())
		}
	})
	return s.closeErr
}
