package quantity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"4096", 4096},
		{"+4096", 4096},
		{"1Ki", 1024},
		{"64Mi", 64 << 20},
		{"1.5Gi", 3 << 29},
		{"0.5Ki", 512},
		{".5Ki", 512},
		{"5.Ki", 5 * 1024},
		{"2Ti", 2 << 40},
		{"1Pi", 1 << 50},
		{"7Ei", 7 << 60},
		{"1k", 1000},
		{"12M", 12_000_000},
		{"1G", 1_000_000_000},
		{"1T", 1_000_000_000_000},
		{"1P", 1_000_000_000_000_000},
		{"1E", 1_000_000_000_000_000_000},
		{"1.5k", 1500},
		{"1e3", 1000},
		{"1E3", 1000},
		{"1e+3", 1000},
		{"1000e-3", 1},
		{"128974848e0", 128974848},
		{"9223372036854775807", 9223372036854775807},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBytes(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseBytesErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"12 MB", `invalid quantity "12 MB" (use Ki, Mi, Gi, e.g. 12Mi)`},
		{"12MB", `invalid quantity "12MB" (use Ki, Mi, Gi, e.g. 12Mi)`},
		{"1.5GB", `invalid quantity "1.5GB" (use Ki, Mi, Gi, e.g. 1.5Gi)`},
		{"2 EB", `invalid quantity "2 EB" (use Ki, Mi, Gi, e.g. 2Ei)`},
		{"4kb", `invalid quantity "4kb" (use Ki, Mi, Gi, e.g. 4Ki)`},
		{"1K", `invalid quantity "1K" (use Ki, Mi, Gi, e.g. 1Ki)`},
		{"", `invalid quantity "" (use Ki, Mi, Gi, e.g. 64Mi)`},
		{"Mi", `invalid quantity "Mi" (use Ki, Mi, Gi, e.g. 64Mi)`},
		{".", `invalid quantity "." (use Ki, Mi, Gi, e.g. 64Mi)`},
		{"1.2.3", `invalid quantity "1.2.3" (use Ki, Mi, Gi, e.g. 64Mi)`},
		{" 1Mi", `invalid quantity " 1Mi" (use Ki, Mi, Gi, e.g. 1Mi)`},
		{"1Mi ", `invalid quantity "1Mi " (use Ki, Mi, Gi, e.g. 1Mi)`},
		{"1e", `invalid quantity "1e" (use Ki, Mi, Gi, e.g. 1Mi)`},
		{"1e+", `invalid quantity "1e+" (use Ki, Mi, Gi, e.g. 64Mi)`},
		{"1e+-3", `invalid quantity "1e+-3" (use Ki, Mi, Gi, e.g. 64Mi)`},
		{"1e3Mi", `invalid quantity "1e3Mi" (use Ki, Mi, Gi, e.g. 64Mi)`},
		{"1MiMi", `invalid quantity "1MiMi" (use Ki, Mi, Gi, e.g. 1Mi)`},
		{"0x10", `invalid quantity "0x10" (use Ki, Mi, Gi, e.g. 64Mi)`},
		{"1e31", `invalid quantity "1e31": exponent out of range (use an exponent from e-30 to e30)`},
		{"500m", `invalid quantity "500m": "m" means milli, not a byte unit (use Mi for mebibytes, e.g. 500Mi)`},
		{"-1Mi", `invalid quantity "-1Mi": must not be negative`},
		{"-1", `invalid quantity "-1": must not be negative`},
		{"0.5", `invalid quantity "0.5": 0.500 is not a whole number of bytes (use a whole number, e.g. 0)`},
		{"1.1Ki", `invalid quantity "1.1Ki": 1126.400 is not a whole number of bytes (use a whole number, e.g. 1126)`},
		{"1e-1", `invalid quantity "1e-1": 0.100 is not a whole number of bytes (use a whole number, e.g. 0)`},
		{"8Ei", `invalid quantity "8Ei": larger than the maximum 9223372036854775807 bytes`},
		{"9223372036854775808", `invalid quantity "9223372036854775808": larger than the maximum 9223372036854775807 bytes`},
		{"1e19", `invalid quantity "1e19": larger than the maximum 9223372036854775807 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBytes(tt.in)
			require.EqualError(t, err, tt.want)
			assert.Zero(t, got)
		})
	}
}

func TestParseMillis(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"500m", 500},
		{"1m", 1},
		{"1", 1000},
		{"1.5", 1500},
		{"0.1", 100},
		{".25", 250},
		{"2k", 2_000_000},
		{"1e-3", 1},
		{"15e-1", 1500},
		{"1500m", 1500},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMillis(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseMillisErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", `invalid CPU quantity "" (use millicores or cores, e.g. 500m or 1.5)`},
		{"half", `invalid CPU quantity "half" (use millicores or cores, e.g. 500m or 1.5)`},
		{"500 m", `invalid CPU quantity "500 m" (use millicores or cores, e.g. 500m or 1.5)`},
		{"1Ki", `invalid CPU quantity "1Ki": Ki is a byte unit (use millicores or cores, e.g. 500m or 1.5)`},
		{"-500m", `invalid CPU quantity "-500m": must not be negative`},
		{"0.0005", `invalid CPU quantity "0.0005": finer than 1m (round to whole millicores, e.g. 0m)`},
		{"1.5m", `invalid CPU quantity "1.5m": finer than 1m (round to whole millicores, e.g. 1m)`},
		{"1e-40", `invalid CPU quantity "1e-40": exponent out of range (use an exponent from e-30 to e30)`},
		{"10E", `invalid CPU quantity "10E": larger than the maximum 9223372036854775807m`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMillis(tt.in)
			require.EqualError(t, err, tt.want)
			assert.Zero(t, got)
		})
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{512, "512 B"},
		{1023, "1023 B"},
		{1024, "1 KiB"},
		{1025, "1.00 KiB"},
		{1536, "1.5 KiB"},
		{64 << 20, "64 MiB"},
		{64<<20 - 1, "63.99 MiB"},
		{12 << 20, "12 MiB"},
		{3 << 29, "1.5 GiB"},
		{5 << 28, "1.25 GiB"},
		{256 << 20, "256 MiB"},
		{1 << 40, "1 TiB"},
		{1 << 50, "1 PiB"},
		{1 << 60, "1 EiB"},
		{9223372036854775807, "7.99 EiB"},
		{-(64 << 20), "-64 MiB"},
		{-9223372036854775808, "-8 EiB"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, FormatBytes(tt.in))
		})
	}
}

func TestFormatQuantity(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{1000, "1000"},
		{1024, "1Ki"},
		{1536, "1536"},
		{64 << 20, "64Mi"},
		{3 << 29, "1536Mi"},
		{4 << 30, "4Gi"},
		{1 << 40, "1Ti"},
		{3 << 50, "3Pi"},
		{7 << 60, "7Ei"},
		{9223372036854775807, "9223372036854775807"},
		{-(64 << 20), "-64Mi"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, FormatQuantity(tt.in))
		})
	}
}

func TestFormatQuantityRoundTrip(t *testing.T) {
	values := []int64{0, 1, 512, 1024, 1536, 65536, 64 << 20, 3 << 29, 1<<62 + 1, 9223372036854775807}
	for _, n := range values {
		text := FormatQuantity(n)
		got, err := ParseBytes(text)
		require.NoError(t, err, text)
		assert.Equal(t, n, got, text)
	}
}
