package manifest

import (
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultUser is the uid:gid a container runs as unless the manifest sets
// one: nobody:nogroup.
const DefaultUser = "65534:65534"

// userSpec is "uid" or "uid:gid" in decimal.
var userSpec = regexp.MustCompile(`^([0-9]+)(:([0-9]+))?$`)

// maxID is the largest valid uid or gid. Linux reserves 4294967295 (-1 as
// a 32-bit value) to mean "no change".
const maxID = 1<<32 - 2

// containerKeys are the fields of spec.container.
var containerKeys = []string{"image", "mode", "command", "user", "capabilities", "restart", "ports", "devices", "hostPaths"}

// container reads spec.container and applies its defaults.
func (d *decoder) container(f *fields) *ContainerSpec {
	v, ok := d.get(f, "container")
	if !ok {
		return nil
	}
	c := d.mapping(v, "spec.container", containerKeys...)
	if c == nil {
		return nil
	}
	out := &ContainerSpec{
		Image: d.image(c),
		Mode: ContainerMode(d.enum(c, "mode", string(ModeFunction),
			string(ModeFunction), string(ModeService))),
		User: d.user(c),
		Restart: RestartPolicy(d.enum(c, "restart", string(RestartAlways),
			string(RestartAlways), string(RestartOnFailure), string(RestartNever))),
	}
	out.Command = d.command(c, out.Mode)
	out.Capabilities = d.capabilities(c)
	out.Ports = d.ports(c)
	out.Devices = d.absolutePaths(c, "devices", "/dev/ttyUSB0")
	out.HostPaths = d.absolutePaths(c, "hostPaths", "/var/lib/sensors")
	return out
}

// image reads spec.container.image: an oci-archive:PATH, resolved like a
// wasm module, or a registry reference.
func (d *decoder) image(c *fields) string {
	const field = "spec.container.image"
	v, ok := d.get(c, "image")
	if !c.has("image") {
		d.missing(c.node, "spec.container", "image", "add a registry reference such as docker.io/library/alpine:3.20, or oci-archive:PATH")
		return ""
	}
	if !ok {
		return ""
	}
	s, ok := d.str(v, field)
	if !ok {
		return ""
	}
	if strings.HasPrefix(s, ociArchivePrefix) {
		resolved, err := d.localArtifact(s)
		if err != nil {
			d.errorf(v.at, field, "%v", err)
			return ""
		}
		return resolved
	}
	if _, err := name.ParseReference(s); err != nil {
		d.errorf(v.at, field, "invalid image reference %q: %v (use a registry reference such as docker.io/library/alpine:3.20, or oci-archive:PATH for a local archive)", s, err)
		return ""
	}
	return s
}

// command reads spec.container.command, which function mode requires.
func (d *decoder) command(c *fields, mode ContainerMode) []string {
	const field = "spec.container.command"
	v, ok := d.get(c, "command")
	if !c.has("command") {
		if mode == ModeFunction {
			d.missing(c.node, "spec.container", "command", "function mode runs it once per message, e.g. command: [/bin/logger]")
		}
		return nil
	}
	if !ok {
		return nil
	}
	args, ok := d.stringList(v, field)
	if !ok {
		return nil
	}
	if len(args) == 0 && mode == ModeFunction {
		d.errorf(v.at, field, "must not be empty in function mode (name the program to run per message, e.g. [/bin/logger])")
		return nil
	}
	if len(args) > 0 && args[0] == "" {
		d.errorf(v.at, index(field, 0), "the program name must not be empty")
		return nil
	}
	return args
}

// user reads spec.container.user, "uid[:gid]", written as a string or, for
// a uid alone, as a number.
func (d *decoder) user(c *fields) string {
	const field = "spec.container.user"
	v, ok := d.get(c, "user")
	if !ok || isNull(v) {
		return DefaultUser
	}
	text, ok := scalarText(v)
	if !ok {
		d.errorf(v.at, field, "expected uid or uid:gid, got %s", describe(v))
		return DefaultUser
	}
	m := userSpec.FindStringSubmatch(text)
	if m == nil || !validID(m[1]) || (m[3] != "" && !validID(m[3])) {
		d.errorf(v.at, field, "invalid user %q (use a numeric uid or uid:gid from 0 to %d, e.g. 1000:1000)", text, maxID)
		return DefaultUser
	}
	return text
}

// validID reports whether s is a decimal uid or gid within range.
func validID(s string) bool {
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n <= maxID
}

// capabilities reads spec.container.capabilities and returns them in the
// canonical CAP_NAME form.
func (d *decoder) capabilities(c *fields) []string {
	const field = "spec.container.capabilities"
	v, ok := d.get(c, "capabilities")
	if !ok {
		return nil
	}
	var out []string
	d.eachString(v, field, func(iv value, itemField, s string) {
		capName := canonicalCapability(s)
		switch {
		case !knownCapability(capName):
			d.errorf(iv.at, itemField, "unknown capability %q (use a Linux capability such as CAP_NET_BIND_SERVICE)", s)
		case slices.Contains(out, capName):
			d.errorf(iv.at, itemField, "%s is listed twice (remove one)", capName)
		default:
			out = append(out, capName)
		}
	})
	return out
}

// ports reads spec.container.ports.
func (d *decoder) ports(c *fields) []int {
	const field = "spec.container.ports"
	v, ok := d.get(c, "ports")
	if !ok {
		return nil
	}
	var out []int
	d.eachItem(v, field, func(iv value, itemField string) {
		port, ok := d.integer(iv, itemField, 1, 65535)
		switch {
		case !ok:
		case slices.Contains(out, int(port)):
			d.errorf(iv.at, itemField, "port %d is listed twice (remove one)", port)
		default:
			out = append(out, int(port))
		}
	})
	return out
}

// absolutePaths reads a list of absolute host paths, such as devices.
func (d *decoder) absolutePaths(c *fields, key, example string) []string {
	field := child("spec.container", key)
	v, ok := d.get(c, key)
	if !ok {
		return nil
	}
	var out []string
	d.eachString(v, field, func(iv value, itemField, s string) {
		if !filepath.IsAbs(s) {
			d.errorf(iv.at, itemField, "path %q is not absolute (use a path such as %s)", s, example)
			return
		}
		out = append(out, filepath.Clean(s))
	})
	return out
}

// canonicalCapability returns s in upper case with the CAP_ prefix.
func canonicalCapability(s string) string {
	upper := strings.ToUpper(s)
	if !strings.HasPrefix(upper, "CAP_") {
		upper = "CAP_" + upper
	}
	return upper
}

// knownCapability reports whether name is a Linux capability: the 41 from
// CAP_CHOWN (0) to CAP_CHECKPOINT_RESTORE (40, Linux 5.9), as listed by
// the CAP_* constants of golang.org/x/sys/unix v0.48.0.
func knownCapability(name string) bool {
	switch strings.TrimPrefix(name, "CAP_") {
	case "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
		"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
		"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
		"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
		"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
		"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
		"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
		"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE":
		return true
	}
	return false
}
