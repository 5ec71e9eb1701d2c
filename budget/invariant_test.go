package budget

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	randomCapacity = 1000
	randomNames    = 12
	randomMaxBytes = 400
)

// randomRequests returns one to three requests for distinct names.
func randomRequests(rng *rand.Rand) []Request {
	count := 1 + rng.IntN(3)
	reqs := make([]Request, 0, count)
	for _, index := range rng.Perm(randomNames)[:count] {
		reqs = append(reqs, Request{
			Name:    fmt.Sprintf("w%d", index),
			Runtime: []string{"wasm", "container"}[rng.IntN(2)],
			Bytes:   rng.Int64N(randomMaxBytes + 1),
		})
	}
	return reqs
}

// checkInvariant returns an error unless snapshot reserves at most its
// capacity and its total equals the sum of its holders.
func checkInvariant(snapshot Snapshot) error {
	var sum int64
	for _, holding := range snapshot.Holders {
		sum += holding.Reserved
	}
	if sum != snapshot.Reserved {
		return fmt.Errorf("holders sum to %d bytes but Reserved is %d", sum, snapshot.Reserved)
	}
	if snapshot.Reserved > snapshot.Capacity {
		return fmt.Errorf("reserved %d bytes of a %d-byte capacity", snapshot.Reserved, snapshot.Capacity)
	}
	return nil
}

func TestReserveConcurrentInvariant(t *testing.T) {
	goroutines, opsEach := 8, 2000
	if testing.Short() {
		goroutines, opsEach = 4, 200
	}
	accountant := newAccountant(t, randomCapacity)

	var wg sync.WaitGroup
	failures := make([]error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(1, uint64(g)))
			for op := range opsEach {
				applyRandomOp(rng, accountant)
				if err := checkInvariant(accountant.Snapshot()); err != nil {
					failures[g] = fmt.Errorf("goroutine %d, operation %d: %w", g, op, err)
					return
				}
				if free := accountant.Free(); free < 0 {
					failures[g] = fmt.Errorf("goroutine %d, operation %d: Free returned %d", g, op, free)
					return
				}
			}
		})
	}
	wg.Wait()

	for _, failure := range failures {
		assert.NoError(t, failure)
	}
}

func applyRandomOp(rng *rand.Rand, accountant *Accountant) {
	name := fmt.Sprintf("w%d", rng.IntN(randomNames))
	switch rng.IntN(10) {
	case 0, 1, 2, 3, 4, 5:
		_ = accountant.Reserve(randomRequests(rng)...) // rejections are expected
	case 6, 7:
		accountant.Release(name)
	case 8:
		accountant.SetUsed(name, rng.Int64N(randomMaxBytes))
	default:
		_ = accountant.Check(randomRequests(rng)...)
	}
}

// TestReserveMatchesModel compares every Reserve with a plain map that
// applies a set only when its final total fits.
func TestReserveMatchesModel(t *testing.T) {
	ops := 5000
	if testing.Short() {
		ops = 500
	}
	rng := rand.New(rand.NewPCG(2, 0))
	accountant := newAccountant(t, randomCapacity)
	model := map[string]int64{}

	for op := range ops {
		if rng.IntN(4) == 0 {
			name := fmt.Sprintf("w%d", rng.IntN(randomNames))
			accountant.Release(name)
			delete(model, name)
			continue
		}

		reqs := randomRequests(rng)
		next := maps.Clone(model)
		for _, req := range reqs {
			next[req.Name] = req.Bytes
		}
		fits := sumValues(next) <= randomCapacity

		err := accountant.Reserve(reqs...)

		var insufficient *InsufficientError
		if fits {
			require.NoError(t, err, "operation %d", op)
			model = next
		} else {
			require.True(t, errors.As(err, &insufficient), "operation %d: %v", op, err)
		}
		require.Equal(t, model, reservedByName(accountant.Snapshot()), "operation %d", op)
	}
}

func sumValues(values map[string]int64) int64 {
	var sum int64
	for _, value := range values {
		sum += value
	}
	return sum
}

func reservedByName(snapshot Snapshot) map[string]int64 {
	reserved := make(map[string]int64, len(snapshot.Holders))
	for _, holding := range snapshot.Holders {
		reserved[holding.Name] = holding.Reserved
	}
	return reserved
}
