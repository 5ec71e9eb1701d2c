package oci

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Defaults of ContainerSpec.
const (
	DefaultUser        = "65534:65534" // nobody:nogroup
	DefaultStopTimeout = 10 * time.Second
	// MinMemoryLimit is the smallest accepted limit: runc's own setup runs
	// inside the container's cgroup and needs a few MiB.
	MinMemoryLimit = 6 << 20
	// tmpSize is the size of the tmpfs mounted at /tmp.
	tmpSize = "16m"
	// cpuPeriod is the CFS period that CPUMillis is converted against.
	cpuPeriod = 100_000 // microseconds
)

// ContainerSpec describes one container. The zero values of the optional
// fields give the security defaults. These are user 65534:65534, no
// capabilities, no new privileges, a read-only root filesystem with a
// tmpfs at /tmp, and containerd's default seccomp profile. The network
// namespace is private and has only a loopback interface.
type ContainerSpec struct {
	// Name is the container ID in containerd: lower-case letters, digits,
	// '-', '_' and '.', starting with a letter or digit, at most 64
	// characters.
	Name string
	// Image is a reference passed to EnsureImage before, or an image name
	// in containerd's store.
	Image string
	// Command is the exec'd command per message in function mode (required
	// there) and the container's process in service mode (empty: the
	// image's entrypoint and cmd).
	Command []string
	// Env entries are KEY=value, added to the image's environment.
	Env []string
	// MemoryLimit is the cgroup memory limit in bytes; swap is not allowed
	// on top of it. Zero means no limit; otherwise at least MinMemoryLimit.
	MemoryLimit uint64
	// CPUMillis is the CPU quota in thousandths of a CPU (1000 = one CPU),
	// enforced by the CFS quota. Zero means no quota.
	CPUMillis int64
	// User is "uid" or "uid:gid", numeric. Default DefaultUser. A bare uid
	// runs with gid equal to the uid.
	User string
	// Capabilities lists Linux capabilities to keep, e.g.
	// "CAP_NET_BIND_SERVICE" (the "CAP_" prefix is optional). Default none.
	// They form the bounding, effective and permitted sets, and for a
	// non-root user also the inheritable and ambient sets, so that the
	// process keeps them across execve.
	Capabilities []string
	// HostNetwork shares the host's network namespace. Service containers
	// always do, because they must reach the MQTT broker on the host's
	// loopback interface.
	HostNetwork bool
	// Log receives the container's stdout and stderr in service mode and
	// each exec's stderr in function mode. Nil: Config.LogDir for
	// services, discarded otherwise.
	Log io.Writer
	// StopTimeout is the grace period between SIGTERM and SIGKILL when the
	// container stops. Default DefaultStopTimeout.
	StopTimeout time.Duration
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// capabilityRE matches a capability name after the "CAP_" prefix.
var capabilityRE = regexp.MustCompile(`^[A-Z][A-Z_]*$`)

// knownCapabilities are the Linux capabilities up to CAP_CHECKPOINT_RESTORE
// (capability.h of Linux 5.9), the newest that runc 1.1 supports.
var knownCapabilities = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID
		SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
		SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE
		SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN
		SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE`) {
		knownCapabilities["CAP_"+c] = true
	}
}

// validated is a ContainerSpec with defaults applied and values parsed.
type validated struct {
	ContainerSpec
	uid, gid uint32
	caps     []string
}

func (s ContainerSpec) validate(needCommand bool) (validated, error) {
	v := validated{ContainerSpec: s}
	if !nameRE.MatchString(s.Name) {
		return v, fmt.Errorf("invalid container name %q: use 1 to 64 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit: %w", s.Name, errdefs.ErrInvalidArgument)
	}
	if s.Image == "" {
		return v, fmt.Errorf("container %s: image is empty: set an image reference: %w", s.Name, errdefs.ErrInvalidArgument)
	}
	if needCommand && len(s.Command) == 0 {
		return v, fmt.Errorf("container %s: command is empty: a function container needs the command to exec per message: %w", s.Name, errdefs.ErrInvalidArgument)
	}
	for _, e := range s.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return v, fmt.Errorf("container %s: invalid environment entry %q: use KEY=value: %w", s.Name, e, errdefs.ErrInvalidArgument)
		}
	}
	if s.MemoryLimit != 0 && s.MemoryLimit < MinMemoryLimit {
		return v, fmt.Errorf("container %s: memory limit %d bytes is below the minimum of %d (6Mi): %w", s.Name, s.MemoryLimit, MinMemoryLimit, errdefs.ErrInvalidArgument)
	}
	if s.CPUMillis < 0 {
		return v, fmt.Errorf("container %s: invalid CPU quota %dm: use 0 for none or a positive number of millicpus: %w", s.Name, s.CPUMillis, errdefs.ErrInvalidArgument)
	}

	if v.StopTimeout <= 0 {
		v.StopTimeout = DefaultStopTimeout
	}
	if v.User == "" {
		v.User = DefaultUser
	}
	var err error
	if v.uid, v.gid, err = parseUser(v.User); err != nil {
		return v, fmt.Errorf("container %s: %w", s.Name, err)
	}

	for _, c := range s.Capabilities {
		name := strings.ToUpper(c)
		if !strings.HasPrefix(name, "CAP_") {
			name = "CAP_" + name
		}
		if !capabilityRE.MatchString(strings.TrimPrefix(name, "CAP_")) || !knownCapabilities[name] {
			return v, fmt.Errorf("container %s: unknown capability %q: use a Linux capability name such as CAP_NET_BIND_SERVICE: %w", s.Name, c, errdefs.ErrInvalidArgument)
		}
		v.caps = append(v.caps, name)
	}
	return v, nil
}

// parseUser parses "uid" or "uid:gid". Names are rejected because the
// root filesystem would have to be read to resolve them.
func parseUser(user string) (uint32, uint32, error) {
	uidStr, gidStr, hasGID := strings.Cut(user, ":")
	uid, err := strconv.ParseUint(uidStr, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid user %q: use numeric uid or uid:gid, e.g. 65534:65534: %w", user, errdefs.ErrInvalidArgument)
	}
	gid := uid
	if hasGID {
		if gid, err = strconv.ParseUint(gidStr, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("invalid user %q: use numeric uid or uid:gid, e.g. 65534:65534: %w", user, errdefs.ErrInvalidArgument)
		}
	}
	return uint32(uid), uint32(gid), nil
}

// specOpts returns the runtime spec options of v: the image config, the
// process and environment, the security defaults and the limits. The
// process args are left to the caller's extra options, which run after
// the image config and before the security options.
func (v validated) specOpts(img containerd.Image, extra ...oci.SpecOpts) []oci.SpecOpts {
	opts := []oci.SpecOpts{oci.WithImageConfig(img)}
	opts = append(opts, extra...)
	opts = append(opts,
		oci.WithEnv(v.Env),
		oci.WithUIDGID(v.uid, v.gid),
		oci.WithNoNewPrivileges,
		oci.WithCapabilities(v.caps),
	)
	if v.uid != 0 && len(v.caps) > 0 {
		// A non-root process loses its effective and permitted sets at
		// execve unless the capabilities are also ambient (capabilities(7)).
		opts = append(opts, oci.WithAmbientCapabilities(v.caps))
	}
	opts = append(opts,
		oci.WithRootFSReadonly(),
		// The default profile allows syscalls by the capabilities above,
		// so it must follow them.
		seccomp.WithDefaultProfile(),
		oci.WithMounts([]specs.Mount{{
			Destination: "/tmp",
			Type:        "tmpfs",
			Source:      "tmpfs",
			Options:     []string{"nosuid", "nodev", "mode=1777", "size=" + tmpSize},
		}, {
			// The container's own cgroup, read-only, so that a workload
			// can read its memory and CPU limits.
			Destination: "/sys/fs/cgroup",
			Type:        "cgroup",
			Source:      "cgroup",
			Options:     []string{"nosuid", "noexec", "nodev", "relatime", "ro"},
		}}),
	)
	if v.MemoryLimit > 0 {
		opts = append(opts, oci.WithMemoryLimit(v.MemoryLimit))
		if swapAccounting() {
			// memory+swap equal to memory forbids swapping.
			opts = append(opts, oci.WithMemorySwap(int64(v.MemoryLimit)))
		}
	}
	if v.CPUMillis > 0 {
		opts = append(opts, oci.WithCPUCFS(v.CPUMillis*cpuPeriod/1000, cpuPeriod))
	}
	if v.HostNetwork {
		opts = append(opts,
			oci.WithHostNamespace(specs.NetworkNamespace),
			oci.WithHostHostsFile,
			oci.WithHostResolvconf)
	}
	return opts
}

// swapAccounting reports whether the memory+swap limit can be set: always
// on cgroup v2, and on cgroup v1 when the kernel accounts swap.
func swapAccounting() bool {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return true
	}
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	return err == nil
}

// withProcessArgsIfSet replaces the process args when args is not empty.
func withProcessArgsIfSet(args []string) oci.SpecOpts {
	return func(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
		if len(args) == 0 {
			return nil
		}
		return oci.WithProcessArgs(args...)(ctx, client, c, s)
	}
}
