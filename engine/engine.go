// Package engine is hybridd's reconciler. The desired state is the set of
// applied workloads, stored in the state dir. The current state is what
// runs in wazero and containerd. Apply and Remove change the desired state
// and act at once. A loop retries what could not run yet (containerd down,
// budget full, a failed start) and observes memory usage.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/hybridd/hybridd/budget"
	"github.com/hybridd/hybridd/bus"
	"github.com/hybridd/hybridd/manifest"
	"github.com/hybridd/hybridd/metrics"
	"github.com/hybridd/hybridd/wasmhost"
)

// ErrNotFound is returned for a workload name that is not deployed.
var ErrNotFound = errors.New("workload not found")

// Config holds the engine's dependencies. Bus, Wasm, Budget and Metrics are
// required; Containers may be nil on a host without containerd.
type Config struct {
	StateDir   string
	Bus        *bus.Client
	Wasm       *wasmhost.Host
	Containers *Containers
	Budget     *budget.Accountant
	Metrics    *metrics.Metrics
	Logger     *slog.Logger
	// ReconcileInterval is how often the loop retries and observes. Default 5s.
	ReconcileInterval time.Duration
}

// Engine applies workloads and keeps them running. Its methods are safe for
// concurrent use; changes are serialized.
type Engine struct {
	cfg       Config
	logger    *slog.Logger
	store     *store
	factories map[manifest.Runtime]runnerFactory

	mu       sync.Mutex
	desired  map[string]*record
	running  map[string]*instance
	waiting  map[string]*waitState
	logs     map[string]*logbook
	kick     chan struct{}
	loopDone chan struct{}
}

// waitState describes a desired workload that is not running.
type waitState struct {
	runtime  manifest.Runtime
	state    State
	reasons  []string
	err      string
	attempts int
	next     time.Time
}

// New loads the desired state from cfg.StateDir. Call Run to start it.
func New(cfg Config) (*Engine, error) {
	if cfg.ReconcileInterval <= 0 {
		cfg.ReconcileInterval = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	st, err := newStore(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	desired, err := st.load()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg: cfg, logger: cfg.Logger, store: st,
		desired:  desired,
		running:  make(map[string]*instance),
		waiting:  make(map[string]*waitState),
		logs:     make(map[string]*logbook),
		kick:     make(chan struct{}, 1),
		loopDone: make(chan struct{}),
		factories: map[manifest.Runtime]runnerFactory{
			manifest.RuntimeWasm: &wasmFactory{host: cfg.Wasm, metrics: cfg.Metrics},
		},
	}
	if cfg.Containers != nil {
		e.factories[manifest.RuntimeContainer] = cfg.Containers
	}
	for name := range desired {
		e.waiting[name] = &waitState{state: StatePending, reasons: []string{"restored from the state dir"}}
		e.logs[name] = newLogbook()
	}
	return e, nil
}

// Run starts the workloads of the stored desired state and reconciles until
// ctx is done. It returns after the loop has stopped; Close stops workloads.
func (e *Engine) Run(ctx context.Context) {
	defer close(e.loopDone)
	ticker := time.NewTicker(e.cfg.ReconcileInterval)
	defer ticker.Stop()
	for {
		e.reconcile(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-e.kick:
		}
	}
}

// Kick requests a pass of the loop now, e.g. after containerd came back.
func (e *Engine) Kick() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Close stops every running workload and releases its reservation. The
// desired state stays in the state dir, so the next start brings them back.
func (e *Engine) Close(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var wg sync.WaitGroup
	for name, inst := range e.running {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst.stop(ctx)
			e.logger.Info("workload stopped", "workload", name)
		}()
		e.cfg.Budget.Release(name)
		delete(e.running, name)
	}
	wg.Wait()
}

// List returns the status of every desired workload, sorted by name.
func (e *Engine) List(ctx context.Context) []Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	snapshot := e.cfg.Budget.Snapshot()
	reserved := make(map[string]budget.Holding)
	for _, h := range snapshot.Holders {
		reserved[h.Name] = h
	}
	list := make([]Status, 0, len(e.desired))
	for name := range e.desired {
		s := e.statusLocked(name)
		s.MemoryReserved = reserved[name].Reserved
		s.MemoryUsed = reserved[name].Used
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

func (e *Engine) statusLocked(name string) Status {
	if inst, ok := e.running[name]; ok {
		s := Status{
			Name: name, Runtime: inst.runtime, Kind: inst.runner.Kind(),
			State: StateRunning, Reasons: inst.reasons,
			Invocations: inst.invocations.Load(), Failures: inst.failures.Load(),
			Dropped: inst.dropped.Load(), Since: inst.since,
		}
		if c, ok := inst.runner.(interface{ containerStatus() *ContainerState }); ok {
			s.Container = c.containerStatus()
		}
		return s
	}
	w := e.waiting[name]
	if w == nil {
		return Status{Name: name, State: StatePending}
	}
	return Status{Name: name, Runtime: string(w.runtime), State: w.state, Reasons: w.reasons, Error: w.err}
}

// Logs returns the kept log lines of a workload and, when follow is set, a
// channel of new lines that closes when ctx is done.
func (e *Engine) Logs(ctx context.Context, name string, follow bool) ([]string, <-chan string, error) {
	e.mu.Lock()
	book, ok := e.logs[name]
	e.mu.Unlock()
	if !ok {
		return nil, nil, fmt.Errorf("%w: %q (hybridd ps lists the deployed workloads)", ErrNotFound, name)
	}
	if !follow {
		return book.Lines(), nil, nil
	}
	lines, ch := book.Follow(ctx)
	return lines, ch, nil
}
