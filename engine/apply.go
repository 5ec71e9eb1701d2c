package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hybridd/hybridd/budget"
	"github.com/hybridd/hybridd/manifest"
	"github.com/hybridd/hybridd/selector"
)

// change is one workload of an Apply call on its way to running.
type change struct {
	rec      *record
	kind     Change
	decision selector.Decision
	runner   runner
}

// Apply makes the workloads desired and starts them. It is all or nothing:
// when one workload cannot be admitted or started, nothing of the call is
// applied and the running workloads are untouched. A workload whose runtime
// is not available now is accepted as pending. Unchanged workloads stay as
// they are; changed ones are replaced.
func (e *Engine) Apply(ctx context.Context, workloads []manifest.Workload) ([]Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()

	changes, err := e.prepareLocked(ctx, workloads)
	if err != nil {
		return nil, err
	}
	restore, err := e.admitLocked(ctx, changes)
	if err != nil {
		return nil, err
	}
	if err := e.commitLocked(ctx, changes); err != nil {
		// commitLocked has closed the new runners, so only the reservations
		// made for them remain to undo.
		restore()
		return nil, err
	}

	statuses := make([]Status, 0, len(changes))
	for _, c := range changes {
		s := e.statusLocked(c.rec.Workload.Name)
		s.Change = c.kind
		statuses = append(statuses, s)
	}
	return statuses, nil
}

// prepareLocked imports artifacts and decides the runtime of each changed
// workload. It changes no running state.
func (e *Engine) prepareLocked(ctx context.Context, workloads []manifest.Workload) ([]*change, error) {
	var errs []error
	changes := make([]*change, 0, len(workloads))
	host := &hostFacts{containers: e.cfg.Containers}
	for _, w := range workloads {
		rec, err := e.store.newRecord(w)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c := &change{rec: rec, kind: ChangeCreated}
		if old, ok := e.desired[w.Name]; ok {
			c.kind = ChangeReplaced
			if old.Digest == rec.Digest {
				c.kind = ChangeUnchanged
			}
		}
		if c.kind != ChangeUnchanged {
			// The decision reads the files the manifest named, so that its
			// reasons name them too; the runner then loads the copies.
			c.decision = decide(ctx, w, e.cfg.Budget, host)
			c.decision.Artifact = copiedArtifact(w.Spec, rec.Workload.Spec, c.decision.Artifact)
			if c.decision.Err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", w.Name, c.decision.Err))
			}
		}
		changes = append(changes, c)
	}
	return changes, errors.Join(errs...)
}

// copiedArtifact maps an artifact reference of the original spec to the
// matching reference of the record's spec, which names the copies.
func copiedArtifact(original, copied manifest.Spec, ref string) string {
	if original.Wasm != nil && ref == original.Wasm.Module {
		return copied.Wasm.Module
	}
	if original.Container != nil && ref == original.Container.Image {
		return copied.Container.Image
	}
	return ref
}

// admitLocked reserves memory for every runnable change and starts its
// runner. On failure it undoes both, so nothing of the call remains. On
// success it returns restore, which puts the reservations back as they were
// before the call, for a later step of Apply that fails.
func (e *Engine) admitLocked(ctx context.Context, changes []*change) (restore func(), retErr error) {
	before := e.cfg.Budget.Snapshot()
	var requests []budget.Request
	for _, c := range changes {
		if c.kind != ChangeUnchanged && c.decision.Runtime != "" && !c.decision.Pending {
			requests = append(requests, budget.Request{
				Name: c.rec.Workload.Name, Runtime: string(c.decision.Runtime), Bytes: c.decision.Memory,
			})
		}
	}
	if err := e.cfg.Budget.Reserve(requests...); err != nil {
		return nil, fmt.Errorf("admission rejected: %w", err)
	}
	// The deferred cleanup calls undo, not restore, because an error return
	// sets restore to nil.
	undo := func() { restoreReservations(e.cfg.Budget, before, requests) }
	defer func() {
		if retErr == nil {
			return
		}
		for _, c := range changes {
			if c.runner != nil {
				_ = c.runner.Close(ctx)
				c.runner = nil
			}
		}
		undo()
	}()

	for _, c := range changes {
		if c.kind == ChangeUnchanged || c.decision.Runtime == "" || c.decision.Pending {
			continue
		}
		name := c.rec.Workload.Name
		begin := time.Now()
		run, err := e.factories[c.decision.Runtime].start(ctx, c.rec, c.decision, e.logbookLocked(name))
		if err != nil {
			return nil, fmt.Errorf("%s: start %s runtime: %w", name, c.decision.Runtime, err)
		}
		c.runner = run
		e.cfg.Metrics.ObserveColdStart(string(c.decision.Runtime), time.Since(begin))
	}
	return undo, nil
}

// restoreReservations puts back the reservations that requests replaced.
func restoreReservations(acct *budget.Accountant, before budget.Snapshot, requests []budget.Request) {
	held := make(map[string]budget.Holding)
	for _, h := range before.Holders {
		held[h.Name] = h
	}
	for _, r := range requests {
		acct.Release(r.Name)
	}
	for _, r := range requests {
		if h, ok := held[r.Name]; ok {
			// Only what was released above is given back, so it fits.
			_ = acct.Reserve(budget.Request{Name: h.Name, Runtime: h.Runtime, Bytes: h.Reserved})
		}
	}
}

// commitLocked stores the desired state and swaps in the new runners.
func (e *Engine) commitLocked(ctx context.Context, changes []*change) error {
	next := make(map[string]*record, len(e.desired)+len(changes))
	for name, r := range e.desired {
		next[name] = r
	}
	for _, c := range changes {
		next[c.rec.Workload.Name] = c.rec
	}
	if err := e.store.save(next); err != nil {
		for _, c := range changes {
			if c.runner != nil {
				_ = c.runner.Close(ctx)
			}
		}
		return err
	}
	e.desired = next

	for _, c := range changes {
		if c.kind == ChangeUnchanged {
			continue
		}
		name := c.rec.Workload.Name
		e.stopLocked(ctx, name, c.runner == nil)
		if c.runner == nil {
			e.waiting[name] = &waitState{
				runtime: c.decision.Runtime, state: StatePending, reasons: c.decision.Reasons,
			}
			e.logbookLocked(name).Printf("pending: %s", strings.Join(c.decision.Reasons, "; "))
			continue
		}
		e.runLocked(ctx, c.rec, c.decision, c.runner)
	}
	if err := e.store.pruneArtifacts(e.desired); err != nil {
		e.logger.Warn("prune artifacts failed", "error", err)
	}
	return nil
}

// runLocked subscribes a started runner and records it as running. A failed
// subscription leaves the workload failed for the loop to retry.
func (e *Engine) runLocked(ctx context.Context, rec *record, d selector.Decision, run runner) {
	name := rec.Workload.Name
	book := e.logbookLocked(name)
	inst, err := newInstance(rec, string(d.Runtime), run, book, instanceDeps{
		logger: e.logger, metrics: e.cfg.Metrics, bus: e.cfg.Bus,
	})
	if err == nil {
		inst.reasons = d.Reasons
		err = inst.start(ctx)
	}
	if err != nil {
		_ = run.Close(ctx)
		e.cfg.Budget.Release(name)
		e.failLocked(name, d, err)
		return
	}
	delete(e.waiting, name)
	e.running[name] = inst
	book.Printf("running on %s (%s): %s", d.Runtime, run.Kind(), strings.Join(d.Reasons, "; "))
	e.logger.Info("workload running", "workload", name, "runtime", d.Runtime, "kind", run.Kind())
}

// stopLocked stops the running instance of name, if any. When release is
// set, its reservation is released too.
func (e *Engine) stopLocked(ctx context.Context, name string, release bool) {
	inst, ok := e.running[name]
	if !ok {
		return
	}
	delete(e.running, name)
	inst.stop(ctx)
	if release {
		e.cfg.Budget.Release(name)
	}
}

// Remove stops the named workloads and deletes them from the desired state. An unknown name fails
// the whole call before anything is removed.
func (e *Engine) Remove(ctx context.Context, names []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var missing []string
	for _, name := range names {
		if _, ok := e.desired[name]; !ok {
			missing = append(missing, fmt.Sprintf("%q", name))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (hybridd ps lists the deployed workloads)", ErrNotFound, strings.Join(missing, ", "))
	}

	next := make(map[string]*record, len(e.desired))
	for name, r := range e.desired {
		next[name] = r
	}
	for _, name := range names {
		delete(next, name)
	}
	if err := e.store.save(next); err != nil {
		return err
	}
	e.desired = next
	for _, name := range names {
		e.stopLocked(ctx, name, true)
		e.cfg.Budget.Release(name)
		delete(e.waiting, name)
		delete(e.logs, name)
		e.cfg.Metrics.ForgetWorkload(name)
		e.logger.Info("workload removed", "workload", name)
	}
	if err := e.store.pruneArtifacts(e.desired); err != nil {
		e.logger.Warn("prune artifacts failed", "error", err)
	}
	return nil
}

func (e *Engine) logbookLocked(name string) *logbook {
	book, ok := e.logs[name]
	if !ok {
		book = newLogbook()
		e.logs[name] = book
	}
	return book
}
