package engine

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/hybridd/hybridd/budget"
	"github.com/hybridd/hybridd/manifest"
	"github.com/hybridd/hybridd/metrics"
	"github.com/hybridd/hybridd/selector"
)

// maxBackoff caps the wait between start attempts of a failed workload.
const maxBackoff = time.Minute

// hostFacts are the facts the selector needs that do not depend on the
// workload. They are probed at most once per deploy, plan or reconcile
// pass, because a containerd that is down costs a connect timeout per probe.
type hostFacts struct {
	containers *Containers
	probed     bool
	address    string
	err        error
	inspector  selector.ArtifactInspector
}

// get probes containerd on the first call and returns the same facts after.
func (h *hostFacts) get(ctx context.Context) *hostFacts {
	if h.probed {
		return h
	}
	h.probed = true
	if h.containers == nil {
		// The address stays empty, so the reason does not name a socket.
		h.err = errors.New("container workloads are disabled because the containerd address is empty (set --containerd-address to containerd's socket)")
		h.inspector = archiveInspector{}
		return h
	}
	h.address = h.containers.Address()
	h.err = h.containers.Ping(ctx)
	h.inspector = h.containers
	return h
}

// decide runs the selector with the facts of a budget and the host. The
// free budget counts the workload's own reservation, since a replacement
// only needs the difference.
func decide(ctx context.Context, w manifest.Workload, acct *budget.Accountant, host *hostFacts) selector.Decision {
	facts := selector.Facts{BudgetFree: acct.Free()}
	for _, h := range acct.Snapshot().Holders {
		if h.Name == w.Name {
			facts.BudgetFree += h.Reserved
		}
	}
	probed := host.get(ctx)
	facts.ContainerdAddress = probed.address
	facts.ContainerdErr = probed.err
	facts.Inspector = probed.inspector
	return selector.Decide(w, facts)
}

// Reconcile makes one pass now. The daemon calls it before the MQTT client
// connects, so that restored workloads are subscribed when a resumed
// session delivers the messages the broker kept for them.
func (e *Engine) Reconcile(ctx context.Context) { e.reconcile(ctx) }

// reconcile makes one pass: start what is desired but not running when its
// time has come, and observe memory usage.
func (e *Engine) reconcile(ctx context.Context) {
	e.mu.Lock()
	now := time.Now()
	host := &hostFacts{containers: e.cfg.Containers}
	// Sorted, so that admission after a restart is the same every time.
	for _, name := range slices.Sorted(maps.Keys(e.desired)) {
		rec := e.desired[name]
		if _, ok := e.running[name]; ok {
			continue
		}
		w := e.waiting[name]
		if w != nil && now.Before(w.next) {
			continue
		}
		e.tryStartLocked(ctx, rec, host)
	}
	running := make(map[string]*instance, len(e.running))
	for name, inst := range e.running {
		running[name] = inst
	}
	e.mu.Unlock()

	// Usage is read without the lock: a container's cgroup read may be slow.
	for name, inst := range running {
		e.cfg.Budget.SetUsed(name, inst.runner.MemoryUsed(ctx))
	}
}

// tryStartLocked decides, admits and starts one desired workload.
func (e *Engine) tryStartLocked(ctx context.Context, rec *record, host *hostFacts) {
	name := rec.Workload.Name
	d := decide(ctx, rec.Workload, e.cfg.Budget, host)
	if d.Err != nil {
		e.failLocked(name, d, d.Err)
		return
	}
	if d.Runtime == "" || d.Pending {
		e.waiting[name] = &waitState{runtime: d.Runtime, state: StatePending, reasons: d.Reasons}
		return
	}
	err := e.cfg.Budget.Reserve(budget.Request{Name: name, Runtime: string(d.Runtime), Bytes: d.Memory})
	if err != nil {
		e.waiting[name] = &waitState{runtime: d.Runtime, state: StatePending,
			reasons: append([]string{"waiting for memory: " + err.Error()}, d.Reasons...)}
		return
	}
	begin := time.Now()
	run, err := e.factories[d.Runtime].start(ctx, rec, d, e.logbookLocked(name))
	if err != nil {
		e.cfg.Budget.Release(name)
		e.failLocked(name, d, err)
		return
	}
	e.cfg.Metrics.ObserveColdStart(string(d.Runtime), time.Since(begin))
	e.runLocked(ctx, rec, d, run)
}

// failLocked records a failed start and schedules the next attempt with
// exponential backoff.
func (e *Engine) failLocked(name string, d selector.Decision, err error) {
	w := e.waiting[name]
	attempts := 1
	if w != nil && w.state == StateFailed {
		attempts = w.attempts + 1
	}
	backoff := e.cfg.ReconcileInterval << min(attempts-1, 6)
	backoff = min(backoff, maxBackoff)
	e.waiting[name] = &waitState{
		runtime: d.Runtime, state: StateFailed, reasons: d.Reasons,
		err: err.Error(), attempts: attempts, next: time.Now().Add(backoff),
	}
	e.logbookLocked(name).Printf("start failed (attempt %d, next in %s): %v", attempts, backoff, err)
	e.logger.Warn("workload start failed", "workload", name, "attempt", attempts, "retry_in", backoff, "error", err)
}

// Plan returns what Apply would decide for each workload, without changing
// anything.
func (e *Engine) Plan(ctx context.Context, workloads []manifest.Workload) []PlanEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Plan(ctx, workloads, e.cfg.Budget, e.cfg.Containers)
}

// Plan decides each workload against a budget and a containerd connection
// (nil for none), without changing either. Fits reports whether the workload
// alone fits the free budget, counting its current reservation when it
// replaces one. Entries that fit alone but not together say so.
func Plan(ctx context.Context, workloads []manifest.Workload, acct *budget.Accountant, containers *Containers) []PlanEntry {
	entries := make([]PlanEntry, 0, len(workloads))
	var requests []budget.Request
	host := &hostFacts{containers: containers}
	for _, w := range workloads {
		d := decide(ctx, w, acct, host)
		entry := PlanEntry{
			Name: w.Name, Runtime: string(d.Runtime), Pending: d.Pending,
			Reasons: d.Reasons, Memory: d.Memory,
		}
		switch {
		case d.Err != nil:
			entry.Error = d.Err.Error()
		case d.Runtime == "" || d.Pending:
			entry.Budget = "not admitted while pending"
		default:
			req := budget.Request{Name: w.Name, Runtime: string(d.Runtime), Bytes: d.Memory}
			requests = append(requests, req)
			if err := acct.Check(req); err != nil {
				entry.Budget = err.Error()
			} else {
				entry.Fits = true
				entry.Budget = "fits"
			}
		}
		entries = append(entries, entry)
	}
	if err := acct.Check(requests...); err != nil && len(requests) > 1 {
		for i := range entries {
			if entries[i].Fits {
				entries[i].Fits = false
				entries[i].Budget = "fits alone, but not together with the rest: " + err.Error()
			}
		}
	}
	return entries
}

// BudgetState converts the accountant's snapshot for the metrics package.
func (e *Engine) BudgetState() metrics.BudgetState {
	snap := e.cfg.Budget.Snapshot()
	state := metrics.BudgetState{Capacity: snap.Capacity, Reserved: snap.Reserved, Used: snap.Used}
	for _, h := range snap.Holders {
		state.Workloads = append(state.Workloads, metrics.WorkloadMemory{
			Name: h.Name, Runtime: h.Runtime, Reserved: h.Reserved, Used: h.Used,
		})
	}
	return state
}
