package budget

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInsufficientError(t *testing.T) {
	tests := []struct {
		name     string
		capacity int64
		existing []Request
		reqs     []Request
		want     InsufficientError
		wantText string
	}{
		{
			name:     "new workload with more than three holders",
			capacity: 256 * mib,
			existing: []Request{
				{Name: "comfort", Runtime: "wasm", Bytes: 96 * mib},
				{Name: "beta", Runtime: "wasm", Bytes: 10 * mib},
				{Name: "sensor-logger", Runtime: "container", Bytes: 128 * mib},
				{Name: "alpha", Runtime: "wasm", Bytes: 10 * mib},
			},
			reqs: []Request{{Name: "co2-alert", Runtime: "wasm", Bytes: 64 * mib}},
			want: InsufficientError{
				Name: "co2-alert", Need: 64 * mib, Free: 12 * mib, Capacity: 256 * mib,
				Holders: []Holding{
					{Name: "sensor-logger", Runtime: "container", Reserved: 128 * mib},
					{Name: "comfort", Runtime: "wasm", Reserved: 96 * mib},
					{Name: "alpha", Runtime: "wasm", Reserved: 10 * mib},
					{Name: "beta", Runtime: "wasm", Reserved: 10 * mib},
				},
			},
			wantText: "co2-alert needs 64 MiB; 12 MiB of 256 MiB free (sensor-logger 128 MiB, comfort 96 MiB, alpha 10 MiB, ...)",
		},
		{
			name:     "replacement names the growth",
			capacity: 100 * mib,
			existing: []Request{
				{Name: "co2-alert", Runtime: "wasm", Bytes: 32 * mib},
				{Name: "comfort", Runtime: "wasm", Bytes: 60 * mib},
			},
			reqs: []Request{{Name: "co2-alert", Runtime: "wasm", Bytes: 48 * mib}},
			want: InsufficientError{
				Name: "co2-alert", Need: 16 * mib, Reserved: 32 * mib, Free: 8 * mib, Capacity: 100 * mib,
				Holders: []Holding{{Name: "comfort", Runtime: "wasm", Reserved: 60 * mib}},
			},
			wantText: "co2-alert needs 16 MiB more to grow from 32 MiB to 48 MiB; 8 MiB of 100 MiB free (comfort 60 MiB)",
		},
		{
			name:     "empty budget lists no holders",
			capacity: 32 * mib,
			reqs:     []Request{{Name: "big", Runtime: "container", Bytes: 48 * mib}},
			want: InsufficientError{
				Name: "big", Need: 48 * mib, Free: 32 * mib, Capacity: 32 * mib, Holders: []Holding{},
			},
			wantText: "big needs 48 MiB; 32 MiB of 32 MiB free",
		},
		{
			name:     "earlier set members count as holders",
			capacity: 100 * mib,
			existing: []Request{
				{Name: "old", Runtime: "wasm", Bytes: 50 * mib},
				{Name: "idle", Runtime: "wasm", Bytes: 0},
			},
			// "old" shrinks first (50 to 40 MiB) and "first" takes 30 MiB, so
			// 30 MiB are left for "second".
			reqs: []Request{
				{Name: "first", Runtime: "wasm", Bytes: 30 * mib},
				{Name: "second", Runtime: "container", Bytes: 31 * mib},
				{Name: "old", Runtime: "wasm", Bytes: 40 * mib},
			},
			want: InsufficientError{
				Name: "second", Need: 31 * mib, Free: 30 * mib, Capacity: 100 * mib,
				Holders: []Holding{
					{Name: "old", Runtime: "wasm", Reserved: 40 * mib},
					{Name: "first", Runtime: "wasm", Reserved: 30 * mib},
				},
			},
			wantText: "second needs 31 MiB; 30 MiB of 100 MiB free (old 40 MiB, first 30 MiB)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accountant := newAccountant(t, tt.capacity, tt.existing...)

			err := accountant.Reserve(tt.reqs...)

			var insufficient *InsufficientError
			require.ErrorAs(t, err, &insufficient)
			assert.Equal(t, tt.want, *insufficient)
			assert.EqualError(t, err, tt.wantText)
			assert.Equal(t, tt.want.Need-tt.want.Free, insufficient.Shortfall())
		})
	}
}
