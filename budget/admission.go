package budget

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hybridd/hybridd/internal/quantity"
)

// maxListedHolders is the number of holders that InsufficientError.Error
// names before it writes "...".
const maxListedHolders = 3

// InsufficientError reports a set of requests that does not fit the budget.
// It describes the first growing request that does not fit once the set's
// shrinking requests and the growing requests before it are counted.
type InsufficientError struct {
	// Name is the workload of the request that does not fit.
	Name string
	// Need is the number of bytes the request adds: its size minus Reserved.
	Need int64
	// Reserved is the current reservation of Name, 0 for a new workload.
	Reserved int64
	// Free is the number of bytes left for the request.
	Free     int64
	Capacity int64
	// Holders are the other reservations, counting the earlier requests of
	// the set, largest first. Holders of 0 bytes are left out.
	Holders []Holding
}

// Error returns a message such as "co2-alert needs 64 MiB; 12 MiB of 256 MiB
// free (sensor-logger 128 MiB, comfort 96 MiB, ...)". It names at most three
// holders.
func (e *InsufficientError) Error() string {
	var message strings.Builder

	if e.Reserved > 0 {
		fmt.Fprintf(&message, "%s needs %s more to grow from %s to %s", e.Name,
			quantity.FormatBytes(e.Need), quantity.FormatBytes(e.Reserved), quantity.FormatBytes(e.Reserved+e.Need))
	} else {
		fmt.Fprintf(&message, "%s needs %s", e.Name, quantity.FormatBytes(e.Need))
	}
	fmt.Fprintf(&message, "; %s of %s free", quantity.FormatBytes(e.Free), quantity.FormatBytes(e.Capacity))

	if len(e.Holders) == 0 {
		return message.String()
	}
	listed := make([]string, 0, maxListedHolders+1)
	for _, holder := range e.Holders[:min(len(e.Holders), maxListedHolders)] {
		listed = append(listed, holder.Name+" "+quantity.FormatBytes(holder.Reserved))
	}
	if len(e.Holders) > maxListedHolders {
		listed = append(listed, "...")
	}
	fmt.Fprintf(&message, " (%s)", strings.Join(listed, ", "))
	return message.String()
}

// Shortfall returns the number of bytes that must be released before the
// request fits.
func (e *InsufficientError) Shortfall() int64 {
	return e.Need - e.Free
}

// admit decides whether reqs fit together. The caller holds a.mu.
//
// The set is applied at once, so only its final total must fit. Counting the
// shrinking requests first and then the growing ones in their given order
// never passes a larger total than the final one. The first request that
// crosses the capacity is the one the error reports.
func (a *Accountant) admit(reqs []Request) error {
	if err := validateRequests(reqs); err != nil {
		return err
	}

	ordered := slices.Clone(reqs)
	slices.SortStableFunc(ordered, func(x, y Request) int {
		return compareGrowth(a.delta(x), a.delta(y))
	})

	total := a.reserved
	for i, req := range ordered {
		delta := a.delta(req)
		free := a.capacity - total
		if delta > free {
			return a.insufficient(req, free, ordered[:i])
		}
		total += delta
	}
	return nil
}

// delta returns how many bytes req adds to the total. The caller holds a.mu.
func (a *Accountant) delta(req Request) int64 {
	return req.Bytes - a.holdings[req.Name].Reserved
}

// compareGrowth orders shrinking or unchanged requests before growing ones,
// and keeps the given order within each group.
func compareGrowth(x, y int64) int {
	xGrows, yGrows := x > 0, y > 0
	switch {
	case xGrows == yGrows:
		return 0
	case yGrows:
		return -1
	default:
		return 1
	}
}

// insufficient builds the error for req, which did not fit after the
// requests in counted. The caller holds a.mu.
func (a *Accountant) insufficient(req Request, free int64, counted []Request) *InsufficientError {
	reserved := a.holdings[req.Name].Reserved
	tentative := make(map[string]Holding, len(a.holdings)+len(counted))
	for name, holding := range a.holdings {
		tentative[name] = holding
	}
	for _, earlier := range counted {
		holding := tentative[earlier.Name]
		holding.Name, holding.Runtime, holding.Reserved = earlier.Name, earlier.Runtime, earlier.Bytes
		tentative[earlier.Name] = holding
	}
	delete(tentative, req.Name)

	holders := make([]Holding, 0, len(tentative))
	for _, holding := range tentative {
		if holding.Reserved > 0 {
			holders = append(holders, holding)
		}
	}
	slices.SortFunc(holders, func(x, y Holding) int {
		if x.Reserved != y.Reserved {
			return cmp.Compare(y.Reserved, x.Reserved)
		}
		return strings.Compare(x.Name, y.Name)
	})

	return &InsufficientError{
		Name:     req.Name,
		Need:     req.Bytes - reserved,
		Reserved: reserved,
		Free:     free,
		Capacity: a.capacity,
		Holders:  holders,
	}
}

// validateRequests rejects requests that no budget could admit as written.
func validateRequests(reqs []Request) error {
	seen := make(map[string]bool, len(reqs))
	for i, req := range reqs {
		if req.Name == "" {
			return fmt.Errorf("memory request %d has no workload name: set Request.Name", i)
		}
		if req.Bytes < 0 {
			return fmt.Errorf("memory request for %s is %d bytes: use 0 or more", req.Name, req.Bytes)
		}
		if seen[req.Name] {
			return fmt.Errorf("two memory requests for %s: send one request per workload", req.Name)
		}
		seen[req.Name] = true
	}
	return nil
}
