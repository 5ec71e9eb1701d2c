// Package budget is the host's memory accountant, shared by the wasm and the
// container runtime.
//
// Admission reserves a workload's declared memory before it starts and
// rejects what does not fit. The sum of reservations never exceeds the
// capacity, at every instant and under concurrent use. Observed usage is
// recorded next to each reservation for metrics, and never affects admission.
package budget

import (
	"fmt"
	"sort"
	"sync"
)

// Request is a reservation of Bytes requested for the workload Name.
type Request struct {
	// Name identifies the workload. A request for a name that already holds
	// a reservation replaces that reservation.
	Name string
	// Runtime is the runtime the workload runs in, e.g. "wasm" or
	// "container". The accountant only stores it for Snapshot.
	Runtime string
	// Bytes is the size of the reservation, 0 or more.
	Bytes int64
}

// Holding is one workload's reservation and its observed usage, in bytes.
type Holding struct {
	Name     string
	Runtime  string
	Reserved int64
	Used     int64
}

// Snapshot is the state of an Accountant at one instant, in bytes.
type Snapshot struct {
	Capacity int64
	// Reserved is the sum of all reservations, at most Capacity.
	Reserved int64
	// Used is the sum of the observed usage of all holders.
	Used int64
	// Holders is sorted by name.
	Holders []Holding
}

// Accountant tracks the memory reservations of one host. It is safe for
// concurrent use.
type Accountant struct {
	capacity int64

	mu       sync.Mutex
	reserved int64
	holdings map[string]Holding
}

// New returns an empty Accountant with capacity bytes to hand out.
func New(capacity int64) (*Accountant, error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("invalid memory budget capacity %d bytes: use a positive size", capacity)
	}
	accountant := &Accountant{
		capacity: capacity,
		holdings: make(map[string]Holding),
	}
	return accountant, nil
}

// Reserve admits a set of requests all or nothing. Either every request is
// reserved, or Reserve returns an error and leaves every reservation as it
// was. A set that does not fit returns an *InsufficientError. Invalid
// requests (no name, negative size, a name twice) return a plain error.
func (a *Accountant) Reserve(reqs ...Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()

	if err := a.admit(reqs); err != nil {
		return err
	}
	for _, req := range reqs {
		a.apply(req)
	}
	return nil
}

// Check returns the error that Reserve would return for the same requests,
// without reserving anything.
func (a *Accountant) Check(reqs ...Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()

	return a.admit(reqs)
}

// Release drops the reservation of name. Releasing a name without a
// reservation does nothing.
func (a *Accountant) Release(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()

	a.reserved -= a.holdings[name].Reserved
	delete(a.holdings, name)
}

// SetUsed records the observed memory usage of name, such as the size of a
// wasm linear memory or a container's cgroup usage. It ignores names without
// a reservation, so a late observation cannot recreate a released workload.
// A negative value is stored as 0.
func (a *Accountant) SetUsed(name string, bytes int64) {
	a.mu.Lock()
	defer a.mu.Unlock()

	holding, ok := a.holdings[name]
	if !ok {
		return
	}
	holding.Used = max(bytes, 0)
	a.holdings[name] = holding
}

// Snapshot returns a copy of the current reservations and usage.
func (a *Accountant) Snapshot() Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()

	snapshot := Snapshot{
		Capacity: a.capacity,
		Reserved: a.reserved,
		Holders:  make([]Holding, 0, len(a.holdings)),
	}
	for _, holding := range a.holdings {
		snapshot.Used += holding.Used
		snapshot.Holders = append(snapshot.Holders, holding)
	}
	sort.Slice(snapshot.Holders, func(i, j int) bool {
		return snapshot.Holders[i].Name < snapshot.Holders[j].Name
	})
	return snapshot
}

// Free returns the bytes not reserved by anyone.
func (a *Accountant) Free() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()

	return a.capacity - a.reserved
}

// apply stores one admitted request. The caller holds a.mu.
func (a *Accountant) apply(req Request) {
	previous, replaced := a.holdings[req.Name]
	holding := Holding{Name: req.Name, Runtime: req.Runtime, Reserved: req.Bytes}

	// Usage observed for the same runtime still describes the running
	// workload. Usage of another runtime belongs to an instance that the
	// caller is about to replace.
	if replaced && previous.Runtime == req.Runtime {
		holding.Used = previous.Used
	}
	a.reserved += req.Bytes - previous.Reserved
	a.holdings[req.Name] = holding
}
