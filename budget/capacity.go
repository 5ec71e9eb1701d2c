package budget

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hybridd/hybridd/internal/quantity"
)

// DefaultCapacityPercent is the share of the daemon's available memory that
// DefaultCapacity hands to workloads. The rest is left to the daemon itself
// (wazero's compiled code, containerd's shims, the MQTT broker) and to the
// page cache.
const DefaultCapacityPercent = 50

// cgroupV1Unlimited is the smallest cgroup v1 memory.limit_in_bytes read as
// "no limit". The kernel writes the largest page-aligned int64 there when no
// limit is set, and that value depends on the page size, so any value of
// 4 EiB or more counts as unlimited.
const cgroupV1Unlimited = int64(1) << 62

// hostFiles are the files DefaultCapacity reads. Tests point them at fixtures.
type hostFiles struct {
	procCgroup string // the process's cgroup membership, /proc/self/cgroup
	cgroupRoot string // the cgroup file system mount, /sys/fs/cgroup
	meminfo    string // /proc/meminfo
}

// DefaultCapacity returns DefaultCapacityPercent of the memory available to
// the daemon, and a description of where that figure comes from.
//
// The available memory is the cgroup memory limit when the daemon runs under
// one: memory.max on cgroup v2, memory.limit_in_bytes on cgroup v1. The
// lowest limit between the daemon's cgroup and the root of the cgroup mount
// wins. Without a limit it is MemAvailable from /proc/meminfo, read once
// when DefaultCapacity runs.
//
// NOTE: the cgroup directory is found by joining /sys/fs/cgroup and the path
// in /proc/self/cgroup, without reading /proc/self/mountinfo. Where the two
// disagree, only the limits found on the way up to the mount root count.
func DefaultCapacity() (bytes int64, source string, err error) {
	return defaultCapacity(hostFiles{
		procCgroup: "/proc/self/cgroup",
		cgroupRoot: "/sys/fs/cgroup",
		meminfo:    "/proc/meminfo",
	})
}

func defaultCapacity(files hostFiles) (int64, string, error) {
	available, from, err := availableMemory(files)
	if err != nil {
		return 0, "", err
	}

	// Dividing first keeps available*percent from overflowing int64, and the
	// remainder term keeps the result exact.
	capacity := available/100*DefaultCapacityPercent + available%100*DefaultCapacityPercent/100
	if capacity <= 0 {
		return 0, "", fmt.Errorf("%s leaves no memory for workloads: set the memory budget explicitly", from)
	}
	source := fmt.Sprintf("%d%% of %s", DefaultCapacityPercent, from)
	return capacity, source, nil
}

// availableMemory returns the cgroup limit, or MemAvailable when no cgroup
// limits the daemon, with a description such as "MemAvailable in
// /proc/meminfo (3.5 GiB)".
func availableMemory(files hostFiles) (int64, string, error) {
	limit, limitFile, err := cgroupMemoryLimit(files)
	if err != nil {
		return 0, "", err
	}
	if limitFile != "" {
		return limit, fmt.Sprintf("the cgroup memory limit in %s (%s)", limitFile, quantity.FormatBytes(limit)), nil
	}

	available, err := readMemAvailable(files.meminfo)
	if err != nil {
		return 0, "", err
	}
	return available, fmt.Sprintf("MemAvailable in %s (%s)", files.meminfo, quantity.FormatBytes(available)), nil
}

// cgroupMemoryLimit returns the lowest memory limit on the way from the
// daemon's cgroup up to the mount root, and the file it was read from. An
// empty file name means no limit. A missing /proc/self/cgroup (a system
// without cgroups) also means no limit.
func cgroupMemoryLimit(files hostFiles) (int64, string, error) {
	membership, err := os.Open(files.procCgroup)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("read cgroup membership: %w", err)
	}
	defer membership.Close()

	paths, err := parseProcCgroup(membership)
	if err != nil {
		return 0, "", fmt.Errorf("parse %s: %w", files.procCgroup, err)
	}

	// On a hybrid hierarchy the memory controller is still on cgroup v1,
	// and the v2 tree carries no memory limits.
	switch {
	case paths.hasV1Memory:
		root := filepath.Join(files.cgroupRoot, "memory")
		return lowestLimit(root, paths.v1Memory, "memory.limit_in_bytes", parseCgroupV1Limit)
	case paths.hasV2:
		return lowestLimit(files.cgroupRoot, paths.v2, "memory.max", parseCgroupV2Max)
	default:
		return 0, "", nil
	}
}

// limitParser reads one cgroup limit file. limited is false when the file
// sets no limit.
type limitParser func(r io.Reader) (limit int64, limited bool, err error)

// lowestLimit reads fileName in the directory of cgroupPath under root and
// in each parent up to root, and returns the lowest limit found. Missing
// files are skipped: the root cgroup has no limit file, and a cgroup path
// from another namespace may not exist under this mount.
func lowestLimit(root, cgroupPath, fileName string, parse limitParser) (int64, string, error) {
	root = filepath.Clean(root)
	dir := filepath.Join(root, cgroupPath)
	if dir != root && !strings.HasPrefix(dir, root+string(filepath.Separator)) {
		dir = root
	}

	var lowest int64
	var lowestFile string
	for {
		limit, limited, err := readLimit(filepath.Join(dir, fileName), parse)
		if err != nil {
			return 0, "", err
		}
		if limited && (lowestFile == "" || limit < lowest) {
			lowest, lowestFile = limit, filepath.Join(dir, fileName)
		}
		if dir == root {
			return lowest, lowestFile, nil
		}
		dir = filepath.Dir(dir)
	}
}

func readLimit(path string, parse limitParser) (int64, bool, error) {
	file, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read cgroup memory limit: %w", err)
	}
	defer file.Close()

	limit, limited, err := parse(file)
	if err != nil {
		return 0, false, fmt.Errorf("parse %s: %w", path, err)
	}
	return limit, limited, nil
}

// cgroupPaths is the daemon's place in the cgroup hierarchies.
type cgroupPaths struct {
	v2          string // the path of the "0::" line
	hasV2       bool
	v1Memory    string // the path of the cgroup v1 line with the memory controller
	hasV1Memory bool
}

// parseProcCgroup parses /proc/self/cgroup, whose lines have the form
// "hierarchy-ID:controller-list:cgroup-path" (see cgroups(7)).
func parseProcCgroup(r io.Reader) (cgroupPaths, error) {
	var paths cgroupPaths
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" {
			continue
		}
		fields := strings.SplitN(line, ":", 3)
		if len(fields) != 3 {
			return cgroupPaths{}, fmt.Errorf("invalid line %q: expected hierarchy-ID:controllers:path", line)
		}
		id, controllers, path := fields[0], fields[1], fields[2]

		if id == "0" && controllers == "" {
			paths.v2, paths.hasV2 = path, true
			continue
		}
		for _, controller := range strings.Split(controllers, ",") {
			if controller == "memory" {
				paths.v1Memory, paths.hasV1Memory = path, true
			}
		}
	}
	if err := scanner.Err(); err != nil {
		return cgroupPaths{}, err
	}
	return paths, nil
}

// parseCgroupV2Max parses a cgroup v2 memory.max file: a byte count, or
// "max" for no limit.
func parseCgroupV2Max(r io.Reader) (int64, bool, error) {
	text, err := readTrimmed(r)
	if err != nil {
		return 0, false, err
	}
	if text == "max" {
		return 0, false, nil
	}
	limit, err := strconv.ParseInt(text, 10, 64)
	if err != nil || limit < 0 {
		return 0, false, fmt.Errorf("invalid memory.max value %q: expected a byte count or \"max\"", text)
	}
	return limit, true, nil
}

// parseCgroupV1Limit parses a cgroup v1 memory.limit_in_bytes file. Values
// of cgroupV1Unlimited or more mean no limit.
func parseCgroupV1Limit(r io.Reader) (int64, bool, error) {
	text, err := readTrimmed(r)
	if err != nil {
		return 0, false, err
	}
	limit, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("invalid memory.limit_in_bytes value %q: expected a byte count", text)
	}
	if limit >= uint64(cgroupV1Unlimited) {
		return 0, false, nil
	}
	return int64(limit), true, nil
}

// parseMemAvailable returns the MemAvailable field of /proc/meminfo in
// bytes. Linux reports it in kB, which means KiB.
func parseMemAvailable(r io.Reader) (int64, error) {
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) == 0 || fields[0] != "MemAvailable:" {
			continue
		}
		if len(fields) != 3 || fields[2] != "kB" {
			return 0, fmt.Errorf("invalid MemAvailable line %q: expected \"MemAvailable: N kB\"", scanner.Text())
		}
		kibibytes, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil || kibibytes < 0 || kibibytes > (1<<53) {
			return 0, fmt.Errorf("invalid MemAvailable value %q: expected a count of kB", fields[1])
		}
		return kibibytes * 1024, nil
	}
	if err := scanner.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no MemAvailable line (Linux 3.14 and later provide it): set the memory budget explicitly")
}

func readMemAvailable(path string) (int64, error) {
	file, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read available memory: %w", err)
	}
	defer file.Close()

	available, err := parseMemAvailable(file)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return available, nil
}

// readTrimmed reads a small kernel file, at most 64 bytes, without its
// surrounding white space.
func readTrimmed(r io.Reader) (string, error) {
	content, err := io.ReadAll(io.LimitReader(r, 64))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(content)), nil
}
