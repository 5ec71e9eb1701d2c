package bus

import (
	"sync"
	"time"
)

// retryLogInterval is the shortest time between two log records about
// failed connection attempts.
const retryLogInterval = 30 * time.Second

// rateLimiter lets one event through per interval and counts the rest.
type rateLimiter struct {
	mu         sync.Mutex
	interval   time.Duration
	last       time.Time
	suppressed int
}

// allow reports whether the event may be logged now and, if so, how many
// events were suppressed since the last one that was.
func (r *rateLimiter) allow() (suppressed int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < r.interval {
		r.suppressed++
		return 0, false
	}
	suppressed, r.suppressed, r.last = r.suppressed, 0, now
	return suppressed, true
}
