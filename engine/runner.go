package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hybridd/hybridd/bus/topic"
	"github.com/hybridd/hybridd/metrics"
	"github.com/hybridd/hybridd/ociarchive"
	"github.com/hybridd/hybridd/selector"
	"github.com/hybridd/hybridd/wasmhost"
)

// input is one message handed to a runner.
type input struct {
	Topic   string
	Payload []byte
}

// output is the result of one invocation: raw stdout, whose lines go to
// the output topic, and the messages a reactor published itself.
type output struct {
	Stdout    []byte
	Published []published
}

type published struct {
	Topic   string
	Payload []byte
}

// runner runs one workload in one runtime. Invoke is called concurrently by
// up to spec.concurrency workers; a runner without triggers (a container
// service) is never invoked.
type runner interface {
	Invoke(ctx context.Context, in input) (output, error)
	// Kind names the flavour for `hybridd ps`: command, reactor, function, service.
	Kind() string
	// MemoryUsed returns the memory last observed in use, in bytes.
	MemoryUsed(ctx context.Context) int64
	Close(ctx context.Context) error
}

// runnerFactory starts runners; the engine has one per runtime.
type runnerFactory interface {
	start(ctx context.Context, r *record, d selector.Decision, log *logbook) (runner, error)
}

// wasmFactory loads modules into the wazero host.
type wasmFactory struct {
	host    *wasmhost.Host
	metrics *metrics.Metrics
}

func (f *wasmFactory) start(ctx context.Context, r *record, d selector.Decision, log *logbook) (runner, error) {
	wasm, err := readModule(d.Artifact)
	if err != nil {
		return nil, err
	}
	spec := r.Workload.Spec
	// A reactor may publish to "" (the output topic) or to a topic the
	// output template allows, with any value in each {name} level.
	allow := func(t string) bool { return t == "" }
	if spec.Output.Topic != "" {
		tmpl, err := topic.ParseTemplate(spec.Output.Topic)
		if err != nil {
			return nil, err
		}
		allow = func(t string) bool { return t == "" || tmpl.Allows(t) }
	}
	begin := time.Now()
	module, err := f.host.Load(ctx, wasm, wasmhost.ModuleConfig{
		Name:         r.Workload.Name,
		Env:          spec.Env,
		MemoryLimit:  spec.Resources.Memory,
		Timeout:      spec.Timeout,
		Concurrency:  spec.Concurrency,
		Log:          log,
		AllowPublish: allow,
	})
	if err != nil {
		return nil, err
	}
	f.metrics.ObserveCompile(time.Since(begin))
	return &wasmRunner{module: module, name: r.Workload.Name, metrics: f.metrics}, nil
}

type wasmRunner struct {
	module  *wasmhost.Module
	name    string
	metrics *metrics.Metrics
	denied  atomic.Uint64 // denied publishes already counted in metrics
}

func (w *wasmRunner) Invoke(ctx context.Context, in input) (output, error) {
	out, err := w.module.Invoke(ctx, wasmhost.Input{Topic: in.Topic, Payload: in.Payload})
	result := output{Stdout: out.Stdout}
	for _, p := range out.Published {
		result.Published = append(result.Published, published{Topic: p.Topic, Payload: p.Payload})
	}
	return result, err
}

func (w *wasmRunner) Kind() string {
	if w.module.Kind() == wasmhost.KindReactor {
		return "reactor"
	}
	return "command"
}

// MemoryUsed also moves the count of denied publishes into the metrics.
func (w *wasmRunner) MemoryUsed(context.Context) int64 {
	denied := w.module.Denied()
	if previous := w.denied.Swap(denied); denied > previous {
		w.metrics.AddPublishDenied(w.name, denied-previous)
	}
	return int64(w.module.MemoryBytes())
}

func (w *wasmRunner) Close(ctx context.Context) error { return w.module.Close(ctx) }

// readModule reads a wasm file, or the module of an "oci-archive:PATH" wasm artifact.
func readModule(ref string) ([]byte, error) {
	if path, ok := strings.CutPrefix(ref, archivePrefix); ok {
		return ociarchive.ReadWasm(path)
	}
	wasm, err := os.ReadFile(ref)
	if err != nil {
		return nil, fmt.Errorf("read module: %w", err)
	}
	return wasm, nil
}

// classify maps an invocation error to the outcome label of the metrics.
func classify(err error) string {
	var trap *wasmhost.TrapError
	switch {
	case err == nil:
		return metrics.OutcomeSuccess
	case errors.Is(err, wasmhost.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return metrics.OutcomeTimeout
	case errors.As(err, &trap):
		return metrics.OutcomeTrap
	default:
		return metrics.OutcomeError
	}
}
