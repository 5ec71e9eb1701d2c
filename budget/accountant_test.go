package budget

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mib = int64(1) << 20

func newAccountant(t *testing.T, capacity int64, existing ...Request) *Accountant {
	t.Helper()
	accountant, err := New(capacity)
	require.NoError(t, err)
	require.NoError(t, accountant.Reserve(existing...))
	return accountant
}

func TestNewRejectsNonPositiveCapacity(t *testing.T) {
	tests := []struct {
		capacity int64
		wantErr  string
	}{
		{capacity: 0, wantErr: "invalid memory budget capacity 0 bytes: use a positive size"},
		{capacity: -1, wantErr: "invalid memory budget capacity -1 bytes: use a positive size"},
	}
	for _, tt := range tests {
		t.Run(tt.wantErr, func(t *testing.T) {
			accountant, err := New(tt.capacity)

			assert.Nil(t, accountant)
			assert.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestReserveEdges(t *testing.T) {
	tests := []struct {
		name         string
		capacity     int64
		existing     []Request
		reqs         []Request
		wantFits     bool
		wantReserved int64 // total after the call, which equals the total before it on failure
	}{
		{
			name:         "exactly full fits",
			capacity:     256 * mib,
			existing:     []Request{{Name: "a", Bytes: 192 * mib}},
			reqs:         []Request{{Name: "b", Bytes: 64 * mib}},
			wantFits:     true,
			wantReserved: 256 * mib,
		},
		{
			name:         "one byte over fails",
			capacity:     256 * mib,
			existing:     []Request{{Name: "a", Bytes: 192 * mib}},
			reqs:         []Request{{Name: "b", Bytes: 64*mib + 1}},
			wantFits:     false,
			wantReserved: 192 * mib,
		},
		{
			name:         "replacement counts only the difference",
			capacity:     100,
			existing:     []Request{{Name: "a", Bytes: 60}, {Name: "b", Bytes: 30}},
			reqs:         []Request{{Name: "a", Bytes: 70}},
			wantFits:     true,
			wantReserved: 100,
		},
		{
			name:         "replacement one byte past the difference fails",
			capacity:     100,
			existing:     []Request{{Name: "a", Bytes: 60}, {Name: "b", Bytes: 30}},
			reqs:         []Request{{Name: "a", Bytes: 71}},
			wantFits:     false,
			wantReserved: 90,
		},
		{
			name:         "shrinking replacement always fits",
			capacity:     100,
			existing:     []Request{{Name: "a", Bytes: 100}},
			reqs:         []Request{{Name: "a", Bytes: 10}},
			wantFits:     true,
			wantReserved: 10,
		},
		{
			name:         "set fits because a shrink pays for a growth",
			capacity:     100,
			existing:     []Request{{Name: "a", Bytes: 50}, {Name: "b", Bytes: 50}},
			reqs:         []Request{{Name: "a", Bytes: 80}, {Name: "b", Bytes: 20}},
			wantFits:     true,
			wantReserved: 100,
		},
		{
			name:         "failed set reserves none of its members",
			capacity:     100,
			existing:     []Request{{Name: "a", Bytes: 40}},
			reqs:         []Request{{Name: "b", Bytes: 30}, {Name: "c", Bytes: 31}},
			wantFits:     false,
			wantReserved: 40,
		},
		{
			name:         "zero bytes fits a full budget",
			capacity:     100,
			existing:     []Request{{Name: "a", Bytes: 100}},
			reqs:         []Request{{Name: "b", Bytes: 0}},
			wantFits:     true,
			wantReserved: 100,
		},
		{
			name:         "empty set fits",
			capacity:     100,
			existing:     []Request{{Name: "a", Bytes: 100}},
			reqs:         nil,
			wantFits:     true,
			wantReserved: 100,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accountant := newAccountant(t, tt.capacity, tt.existing...)
			before := accountant.Snapshot()

			checkErr := accountant.Check(tt.reqs...)
			assert.Equal(t, before, accountant.Snapshot(), "Check must not change the reservations")

			err := accountant.Reserve(tt.reqs...)
			assert.Equal(t, checkErr, err, "Check and Reserve must decide alike")

			after := accountant.Snapshot()
			assert.Equal(t, tt.wantReserved, after.Reserved)
			assert.Equal(t, tt.capacity-tt.wantReserved, accountant.Free())
			if !tt.wantFits {
				var insufficient *InsufficientError
				assert.ErrorAs(t, err, &insufficient)
				assert.Equal(t, before, after, "a failed set must leave the reservations unchanged")
				return
			}
			require.NoError(t, err)
			for _, req := range tt.reqs {
				holding, ok := findHolding(after, req.Name)
				assert.True(t, ok, "holder %s", req.Name)
				assert.Equal(t, req.Bytes, holding.Reserved, "holder %s", req.Name)
			}
		})
	}
}

func findHolding(snapshot Snapshot, name string) (Holding, bool) {
	for _, holding := range snapshot.Holders {
		if holding.Name == name {
			return holding, true
		}
	}
	return Holding{}, false
}

func TestReserveInvalidRequests(t *testing.T) {
	tests := []struct {
		name    string
		reqs    []Request
		wantErr string
	}{
		{
			name:    "missing name",
			reqs:    []Request{{Name: "a", Bytes: 1}, {Bytes: 1}},
			wantErr: "memory request 1 has no workload name: set Request.Name",
		},
		{
			name:    "negative size",
			reqs:    []Request{{Name: "a", Bytes: -5}},
			wantErr: "memory request for a is -5 bytes: use 0 or more",
		},
		{
			name:    "name twice",
			reqs:    []Request{{Name: "a", Bytes: 1}, {Name: "a", Bytes: 2}},
			wantErr: "two memory requests for a: send one request per workload",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accountant := newAccountant(t, 100)

			err := accountant.Reserve(tt.reqs...)

			assert.EqualError(t, err, tt.wantErr)
			var insufficient *InsufficientError
			assert.False(t, errors.As(err, &insufficient), "invalid input is not a budget shortage")
			assert.Empty(t, accountant.Snapshot().Holders)
		})
	}
}

func TestReleaseFreesReservation(t *testing.T) {
	accountant := newAccountant(t, 100, Request{Name: "a", Bytes: 70}, Request{Name: "b", Bytes: 30})

	accountant.Release("a")

	assert.Equal(t, int64(70), accountant.Free())
	assert.Equal(t, []Holding{{Name: "b", Reserved: 30}}, accountant.Snapshot().Holders)
	require.NoError(t, accountant.Reserve(Request{Name: "c", Bytes: 70}), "released bytes must be reservable")
	assert.Equal(t, int64(0), accountant.Free())
}

func TestReleaseUnknownNameKeepsState(t *testing.T) {
	accountant := newAccountant(t, 100, Request{Name: "a", Bytes: 70})
	before := accountant.Snapshot()

	accountant.Release("nobody")

	assert.Equal(t, before, accountant.Snapshot())
}

func TestSetUsed(t *testing.T) {
	accountant := newAccountant(t, 100,
		Request{Name: "a", Runtime: "wasm", Bytes: 40},
		Request{Name: "b", Runtime: "container", Bytes: 50},
	)

	accountant.SetUsed("a", 12)
	accountant.SetUsed("b", 55)
	accountant.SetUsed("ghost", 99)

	want := Snapshot{
		Capacity: 100,
		Reserved: 90,
		Used:     67,
		Holders: []Holding{
			{Name: "a", Runtime: "wasm", Reserved: 40, Used: 12},
			{Name: "b", Runtime: "container", Reserved: 50, Used: 55},
		},
	}
	assert.Equal(t, want, accountant.Snapshot())

	accountant.SetUsed("a", -3)
	holding, _ := findHolding(accountant.Snapshot(), "a")
	assert.Equal(t, int64(0), holding.Used, "negative usage is stored as 0")
}

func TestReplacementKeepsUsageOfSameRuntime(t *testing.T) {
	tests := []struct {
		name     string
		runtime  string
		wantUsed int64
	}{
		{name: "same runtime", runtime: "wasm", wantUsed: 12},
		{name: "other runtime", runtime: "container", wantUsed: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accountant := newAccountant(t, 100, Request{Name: "a", Runtime: "wasm", Bytes: 40})
			accountant.SetUsed("a", 12)

			require.NoError(t, accountant.Reserve(Request{Name: "a", Runtime: tt.runtime, Bytes: 20}))

			want := []Holding{{Name: "a", Runtime: tt.runtime, Reserved: 20, Used: tt.wantUsed}}
			assert.Equal(t, want, accountant.Snapshot().Holders)
		})
	}
}

func TestSnapshotSortedByName(t *testing.T) {
	accountant := newAccountant(t, 100,
		Request{Name: "zeta", Bytes: 1},
		Request{Name: "alpha", Bytes: 2},
		Request{Name: "mid", Bytes: 3},
	)

	var names []string
	for _, holding := range accountant.Snapshot().Holders {
		names = append(names, holding.Name)
	}

	assert.Equal(t, []string{"alpha", "mid", "zeta"}, names)
}
