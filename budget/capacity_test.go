package budget

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCgroupV2Max(t *testing.T) {
	tests := []struct {
		name        string
		content     string
		wantLimit   int64
		wantLimited bool
		wantErr     string
	}{
		{name: "byte count", content: "1073741824\n", wantLimit: 1 << 30, wantLimited: true},
		{name: "max", content: "max\n", wantLimited: false},
		{name: "garbage", content: "lots\n", wantErr: `invalid memory.max value "lots": expected a byte count or "max"`},
		{name: "negative", content: "-1\n", wantErr: `invalid memory.max value "-1": expected a byte count or "max"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit, limited, err := parseCgroupV2Max(strings.NewReader(tt.content))

			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantLimit, limit)
			assert.Equal(t, tt.wantLimited, limited)
		})
	}
}

func TestParseCgroupV1Limit(t *testing.T) {
	tests := []struct {
		name        string
		content     string
		wantLimit   int64
		wantLimited bool
		wantErr     string
	}{
		{name: "byte count", content: "268435456\n", wantLimit: 256 << 20, wantLimited: true},
		{name: "unlimited with 4 KiB pages", content: "9223372036854771712\n", wantLimited: false},
		{name: "unlimited with 64 KiB pages", content: "9223372036854710272\n", wantLimited: false},
		{name: "garbage", content: "none", wantErr: `invalid memory.limit_in_bytes value "none": expected a byte count`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit, limited, err := parseCgroupV1Limit(strings.NewReader(tt.content))

			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantLimit, limit)
			assert.Equal(t, tt.wantLimited, limited)
		})
	}
}

const meminfoFixture = `MemTotal:        8052392 kB
MemFree:          512000 kB
MemAvailable:    4096000 kB
Buffers:          102400 kB
`

func TestParseMemAvailable(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    int64
		wantErr string
	}{
		{name: "present", content: meminfoFixture, want: 4096000 * 1024},
		{name: "missing", content: "MemTotal: 8052392 kB\n", wantErr: "no MemAvailable line (Linux 3.14 and later provide it): set the memory budget explicitly"},
		{name: "no unit", content: "MemAvailable: 4096000\n", wantErr: `invalid MemAvailable line "MemAvailable: 4096000": expected "MemAvailable: N kB"`},
		{name: "not a number", content: "MemAvailable: x kB\n", wantErr: `invalid MemAvailable value "x": expected a count of kB`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			available, err := parseMemAvailable(strings.NewReader(tt.content))

			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, available)
		})
	}
}

func TestParseProcCgroup(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    cgroupPaths
		wantErr string
	}{
		{
			name:    "unified",
			content: "0::/system.slice/hybridd.service\n",
			want:    cgroupPaths{v2: "/system.slice/hybridd.service", hasV2: true},
		},
		{
			name:    "hybrid",
			content: "5:cpu,cpuacct:/\n4:memory:/docker/abc\n0::/\n",
			want:    cgroupPaths{v2: "/", hasV2: true, v1Memory: "/docker/abc", hasV1Memory: true},
		},
		{
			name:    "memory shares a hierarchy",
			content: "3:memory,blkio:/user.slice\n",
			want:    cgroupPaths{v1Memory: "/user.slice", hasV1Memory: true},
		},
		{
			name:    "malformed",
			content: "0:/only-two-fields\n",
			wantErr: `invalid line "0:/only-two-fields": expected hierarchy-ID:controllers:path`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths, err := parseProcCgroup(strings.NewReader(tt.content))

			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, paths)
		})
	}
}

// writeFiles creates each file of files, given relative to dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
}

func TestDefaultCapacitySources(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string // relative to a temporary host root
		want       int64
		wantSource string // "ROOT" is replaced by the temporary host root
		wantErr    string
	}{
		{
			name: "cgroup v2 limit on own cgroup",
			files: map[string]string{
				"proc/self/cgroup": "0::/system.slice/hybridd.service\n",
				"sys/fs/cgroup/system.slice/hybridd.service/memory.max": "1073741824\n",
				"sys/fs/cgroup/system.slice/memory.max":                 "max\n",
				"proc/meminfo":                                          meminfoFixture,
			},
			want:       512 << 20,
			wantSource: "50% of the cgroup memory limit in ROOT/sys/fs/cgroup/system.slice/hybridd.service/memory.max (1 GiB)",
		},
		{
			name: "cgroup v2 lower limit on a parent",
			files: map[string]string{
				"proc/self/cgroup": "0::/system.slice/hybridd.service\n",
				"sys/fs/cgroup/system.slice/hybridd.service/memory.max": "max\n",
				"sys/fs/cgroup/system.slice/memory.max":                 "536870912\n",
				"proc/meminfo":                                          meminfoFixture,
			},
			want:       256 << 20,
			wantSource: "50% of the cgroup memory limit in ROOT/sys/fs/cgroup/system.slice/memory.max (512 MiB)",
		},
		{
			name: "cgroup v2 without limit uses MemAvailable",
			files: map[string]string{
				"proc/self/cgroup":                    "0::/user.slice\n",
				"sys/fs/cgroup/user.slice/memory.max": "max\n",
				"proc/meminfo":                        meminfoFixture,
			},
			want:       4096000 * 1024 / 2,
			wantSource: "50% of MemAvailable in ROOT/proc/meminfo (3.90 GiB)",
		},
		{
			name: "cgroup v2 path from another namespace",
			files: map[string]string{
				"proc/self/cgroup":          "0::/../outside\n",
				"sys/fs/cgroup/memory.max":  "268435456\n",
				"proc/meminfo":              meminfoFixture,
				"sys/outside/memory.max":    "1\n",
				"sys/fs/outside/memory.max": "1\n",
			},
			want:       128 << 20,
			wantSource: "50% of the cgroup memory limit in ROOT/sys/fs/cgroup/memory.max (256 MiB)",
		},
		{
			name: "cgroup v1 limit on a hybrid hierarchy",
			files: map[string]string{
				"proc/self/cgroup": "4:memory:/docker/abc\n0::/\n",
				"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "268435456\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes":            "9223372036854771712\n",
				"sys/fs/cgroup/memory.max":                              "1\n",
				"proc/meminfo":                                          meminfoFixture,
			},
			want:       128 << 20,
			wantSource: "50% of the cgroup memory limit in ROOT/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes (256 MiB)",
		},
		{
			name: "cgroup v1 unlimited uses MemAvailable",
			files: map[string]string{
				"proc/self/cgroup":                           "4:memory:/\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
				"proc/meminfo":                               meminfoFixture,
			},
			want:       4096000 * 1024 / 2,
			wantSource: "50% of MemAvailable in ROOT/proc/meminfo (3.90 GiB)",
		},
		{
			name:       "no cgroups uses MemAvailable",
			files:      map[string]string{"proc/meminfo": meminfoFixture},
			want:       4096000 * 1024 / 2,
			wantSource: "50% of MemAvailable in ROOT/proc/meminfo (3.90 GiB)",
		},
		{
			name: "invalid limit file",
			files: map[string]string{
				"proc/self/cgroup":         "0::/\n",
				"sys/fs/cgroup/memory.max": "lots\n",
			},
			wantErr: `parse ROOT/sys/fs/cgroup/memory.max: invalid memory.max value "lots": expected a byte count or "max"`,
		},
		{
			name: "no memory available",
			files: map[string]string{
				"proc/self/cgroup":         "0::/\n",
				"sys/fs/cgroup/memory.max": "0\n",
			},
			wantErr: "the cgroup memory limit in ROOT/sys/fs/cgroup/memory.max (0 B) leaves no memory for workloads: set the memory budget explicitly",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tt.files)

			capacity, source, err := defaultCapacity(hostFiles{
				procCgroup: filepath.Join(root, "proc/self/cgroup"),
				cgroupRoot: filepath.Join(root, "sys/fs/cgroup"),
				meminfo:    filepath.Join(root, "proc/meminfo"),
			})

			if tt.wantErr != "" {
				assert.EqualError(t, err, strings.ReplaceAll(tt.wantErr, "ROOT", root))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, capacity)
			assert.Equal(t, strings.ReplaceAll(tt.wantSource, "ROOT", root), source)
		})
	}
}

func TestDefaultCapacityOnThisHost(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo on this system")
	}

	capacity, source, err := DefaultCapacity()

	require.NoError(t, err)
	assert.Positive(t, capacity)
	assert.True(t, strings.HasPrefix(source, "50% of "), "source %q", source)
}
