package oci

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	cgroupsv1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	cgroupsv2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
)

// cleanupTimeout bounds the removal of a container whose start failed,
// which runs on a context detached from the caller's.
const cleanupTimeout = 30 * time.Second

// createContainer creates container v.Name with a fresh read-only snapshot
// of its image and the spec built from v and extra.
func (c *Client) createContainer(ctx context.Context, v validated, mode string, extra ...oci.SpecOpts) (containerd.Container, error) {
	img, err := c.resolveImage(ctx, v.Image)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", v.Name, err)
	}
	labels := map[string]string{LabelWorkload: v.Name, LabelMode: mode}
	ctr, err := c.ctr.NewContainer(ctx, v.Name,
		containerd.WithImage(img),
		containerd.WithSnapshotter(c.cfg.Snapshotter),
		containerd.WithNewSnapshot(v.Name, img, snapshots.WithLabels(labels)),
		containerd.WithContainerLabels(labels),
		containerd.WithNewSpec(v.specOpts(img, extra...)...),
	)
	if err != nil {
		if errdefs.IsAlreadyExists(err) {
			return nil, fmt.Errorf("container %s already exists in namespace %s: close it, or call Remove or Reap for leftovers: %w", v.Name, c.cfg.Namespace, err)
		}
		return nil, fmt.Errorf("create container %s: %w", v.Name, err)
	}
	return ctr, nil
}

// startTask creates and starts the container's task and returns the
// channel that receives its exit.
func (c *Client) startTask(ctx context.Context, ctr containerd.Container, ioc cio.Creator, t *tracker) (_ containerd.Task, _ <-chan containerd.ExitStatus, retErr error) {
	task, err := ctr.NewTask(ctx, ioc)
	if err != nil {
		return nil, nil, fmt.Errorf("create task of container %s: %w", ctr.ID(), err)
	}
	defer func() {
		if retErr != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			if _, err := task.Delete(dctx, containerd.WithProcessKill); err != nil {
				c.log.Warn("delete task after failed start", "container", ctr.ID(), "error", err)
			}
		}
	}()
	// Wait is set up before Start so that a fast exit is not missed. It
	// lives as long as the task, not as long as this call.
	exitC, err := task.Wait(context.WithoutCancel(ctx))
	if err != nil {
		return nil, nil, fmt.Errorf("wait on task of container %s: %w", ctr.ID(), err)
	}
	if err := task.Start(ctx); err != nil {
		return nil, nil, fmt.Errorf("start task of container %s: %w", ctr.ID(), err)
	}
	t.started(task.Pid())
	return task, exitC, nil
}

// stopTask stops a task with SIGTERM, then SIGKILL to all its processes
// after grace, and deletes it. A task that already exited is only deleted.
func (c *Client) stopTask(ctx context.Context, task containerd.Task, grace time.Duration) error {
	status, err := task.Status(ctx)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("task of container %s: status: %w", task.ID(), err)
	}
	if status.Status != containerd.Stopped && status.Status != containerd.Created {
		exitC, err := task.Wait(ctx)
		if err != nil {
			return fmt.Errorf("task of container %s: wait: %w", task.ID(), err)
		}
		if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
			c.log.Warn("send SIGTERM", "container", task.ID(), "error", err)
		}
		timer := time.NewTimer(grace)
		select {
		case <-exitC:
			timer.Stop()
		case <-timer.C:
			c.log.Warn("container did not stop within the grace period, sending SIGKILL", "container", task.ID(), "grace", grace)
			if err := task.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("task of container %s: SIGKILL: %w", task.ID(), err)
			}
			select {
			case <-exitC:
			case <-ctx.Done():
				return fmt.Errorf("task of container %s: wait after SIGKILL: %w", task.ID(), ctx.Err())
			}
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("task of container %s: wait after SIGTERM: %w", task.ID(), ctx.Err())
		}
	}
	if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete task of container %s: %w", task.ID(), err)
	}
	return nil
}

// removeContainer stops the container's task, if any, and deletes the
// container with its snapshot.
func (c *Client) removeContainer(ctx context.Context, ctr containerd.Container, grace time.Duration) error {
	task, err := ctr.Task(ctx, nil)
	switch {
	case err == nil:
		if err := c.stopTask(ctx, task, grace); err != nil {
			return err
		}
	case !errdefs.IsNotFound(err):
		return fmt.Errorf("container %s: load task: %w", ctr.ID(), err)
	}
	if err := ctr.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container %s: %w", ctr.ID(), err)
	}
	return nil
}

// Remove stops and deletes the container name with its task and snapshot,
// waiting DefaultStopTimeout between SIGTERM and SIGKILL. It is for
// leftovers of earlier runs; containers started by this client are
// removed by their Close. A missing container is not an error.
func (c *Client) Remove(ctx context.Context, name string) error {
	ctx = c.nsctx(ctx)
	ctr, err := c.ctr.LoadContainer(ctx, name)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load container %s: %w", name, err)
	}
	return c.removeContainer(ctx, ctr, DefaultStopTimeout)
}

// Reap removes what earlier runs of hybridd left in the namespace: every
// container labeled LabelWorkload that this client did not start, with
// its task and snapshot, and every active snapshot labeled LabelWorkload
// that no container uses. It returns the names of the removed containers.
func (c *Client) Reap(ctx context.Context) ([]string, error) {
	ctx = c.nsctx(ctx)
	list, err := c.ctr.Containers(ctx, fmt.Sprintf("labels.%q", LabelWorkload))
	if err != nil {
		return nil, fmt.Errorf("list containers in namespace %s: %w", c.cfg.Namespace, err)
	}
	var (
		removed []string
		errs    []error
		inUse   = map[string]bool{}
	)
	for _, ctr := range list {
		if c.tracker(ctr.ID()) != nil {
			if info, err := ctr.Info(ctx, containerd.WithoutRefreshedMetadata); err == nil {
				inUse[info.SnapshotKey] = true
			}
			continue
		}
		if err := c.removeContainer(ctx, ctr, DefaultStopTimeout); err != nil {
			errs = append(errs, err)
			continue
		}
		c.log.Info("removed leftover container", "container", ctr.ID())
		removed = append(removed, ctr.ID())
	}

	sn := c.ctr.SnapshotService(c.cfg.Snapshotter)
	var stale []string
	err = sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if info.Kind == snapshots.KindActive && !inUse[info.Name] {
			stale = append(stale, info.Name)
		}
		return nil
	}, fmt.Sprintf("labels.%q", LabelWorkload))
	if err != nil {
		errs = append(errs, fmt.Errorf("list snapshots: %w", err))
	}
	for _, key := range stale {
		if err := sn.Remove(ctx, key); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove snapshot %s: %w", key, err))
			continue
		}
		c.log.Info("removed leftover snapshot", "container", key)
	}
	return removed, errors.Join(errs...)
}

// memoryUsage returns the working set of the task's cgroup: usage minus
// inactive file cache, the value the kernel reclaims last before an OOM
// kill.
func (c *Client) memoryUsage(ctx context.Context, task containerd.Task) (uint64, error) {
	m, err := task.Metrics(ctx)
	if err != nil {
		return 0, fmt.Errorf("container %s: read metrics: %w", task.ID(), err)
	}
	data, err := typeurl.UnmarshalAny(m.Data)
	if err != nil {
		return 0, fmt.Errorf("container %s: decode metrics: %w", task.ID(), err)
	}
	switch s := data.(type) {
	case *cgroupsv1.Metrics:
		if s.Memory == nil || s.Memory.Usage == nil {
			return 0, fmt.Errorf("container %s: cgroup v1 metrics have no memory usage", task.ID())
		}
		return workingSet(s.Memory.Usage.Usage, s.Memory.TotalInactiveFile), nil
	case *cgroupsv2.Metrics:
		if s.Memory == nil {
			return 0, fmt.Errorf("container %s: cgroup v2 metrics have no memory usage", task.ID())
		}
		return workingSet(s.Memory.Usage, s.Memory.InactiveFile), nil
	default:
		return 0, fmt.Errorf("container %s: unknown metrics type %T", task.ID(), data)
	}
}

func workingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile > usage {
		return 0
	}
	return usage - inactiveFile
}
