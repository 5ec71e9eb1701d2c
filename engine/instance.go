package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hybridd/hybridd/bus"
	"github.com/hybridd/hybridd/bus/topic"
	"github.com/hybridd/hybridd/metrics"
)

// instance is one running workload: its runner, its subscriptions, its
// queue and the workers that drain the queue into the runner.
type instance struct {
	rec     *record
	runtime string
	reasons []string
	runner  runner
	log     *logbook
	logger  *slog.Logger
	metrics *metrics.Metrics
	bus     *bus.Client

	filters []*topic.Filter
	output  *topic.Template
	queue   *bus.Queue
	subs    []*bus.Subscription
	workers sync.WaitGroup
	since   time.Time

	invocations atomic.Uint64
	failures    atomic.Uint64
	dropped     atomic.Uint64
	lastDropLog atomic.Int64
}

// QueueCapacity bounds each workload's backlog. A QoS 0 message that finds
// the queue full is dropped and counted. A QoS 1 or 2 message waits for
// room instead: the MQTT client then hands no further message to any
// workload, messages wait in the client's receive buffer and at the broker,
// and none is lost. The client acknowledges a message only after every
// workload has handled it, so a crash loses nothing the broker kept.
const QueueCapacity = 1024

func newInstance(rec *record, runtime string, run runner, log *logbook, deps instanceDeps) (*instance, error) {
	spec := rec.Workload.Spec
	inst := &instance{
		rec: rec, runtime: runtime, runner: run, log: log,
		logger:  deps.logger.With("workload", rec.Workload.Name),
		metrics: deps.metrics, bus: deps.bus,
		since: time.Now(),
	}
	queue, err := bus.NewQueue(QueueCapacity)
	if err != nil {
		return nil, err
	}
	inst.queue = queue
	if spec.Trigger.MQTT != nil {
		for _, f := range spec.Trigger.MQTT.Topics {
			filter, err := topic.ParseFilter(f)
			if err != nil {
				return nil, err
			}
			inst.filters = append(inst.filters, filter)
		}
	}
	if spec.Output.Topic != "" {
		tmpl, err := topic.ParseTemplate(spec.Output.Topic)
		if err != nil {
			return nil, err
		}
		inst.output = tmpl
	}
	return inst, nil
}

type instanceDeps struct {
	logger  *slog.Logger
	metrics *metrics.Metrics
	bus     *bus.Client
}

// start launches the workers and subscribes. On error nothing is left running.
func (inst *instance) start(ctx context.Context) (retErr error) {
	if len(inst.filters) == 0 {
		return nil
	}
	workers := inst.rec.Workload.Spec.Concurrency
	for i := 0; i < workers; i++ {
		inst.workers.Add(1)
		go inst.work()
	}
	defer func() {
		if retErr != nil {
			inst.stop(ctx)
		}
	}()
	qos := inst.rec.Workload.Spec.Trigger.MQTT.QoS
	for _, filter := range inst.filters {
		sub, err := inst.bus.Subscribe(ctx, filter.Subscription(), qos, inst.enqueue)
		if err != nil {
			return fmt.Errorf("subscribe to %q: %w", filter.Subscription(), err)
		}
		inst.subs = append(inst.subs, sub)
	}
	return nil
}

// enqueue runs on the MQTT client's delivery goroutine, so it only hands
// the message to the queue and never publishes. For a QoS 1 or 2 message
// it blocks while the queue is full (see QueueCapacity). The client keeps
// reading acknowledgements and pings meanwhile, on another goroutine.
func (inst *instance) enqueue(msg bus.Message) {
	if msg.QoS == 0 && inst.queue.Offer(msg) {
		return
	}
	if msg.QoS > 0 && inst.queue.OfferWait(context.Background(), msg) {
		return
	}
	msg.Done()
	inst.dropped.Add(1)
	inst.metrics.AddDropped(inst.rec.Workload.Name, 1)
	now := time.Now().UnixNano()
	last := inst.lastDropLog.Load()
	if now-last > int64(10*time.Second) && inst.lastDropLog.CompareAndSwap(last, now) {
		inst.logger.Warn("queue full, dropping messages", "topic", msg.Topic, "dropped", inst.dropped.Load())
	}
}

func (inst *instance) work() {
	defer inst.workers.Done()
	for {
		msg, err := inst.queue.Receive(context.Background())
		if err != nil {
			return // The queue is closed and drained.
		}
		inst.handle(msg)
		msg.Done()
	}
}

// handle invokes the runner for one message and publishes the results.
func (inst *instance) handle(msg bus.Message) {
	spec := inst.rec.Workload.Spec
	name := inst.rec.Workload.Name
	ctx, cancel := context.WithTimeout(context.Background(), spec.Timeout)
	defer cancel()

	begin := time.Now()
	out, err := inst.runner.Invoke(ctx, input{Topic: msg.Topic, Payload: msg.Payload})
	outcome := classify(err)
	inst.metrics.ObserveInvocation(name, inst.runtime, outcome, time.Since(begin))
	inst.invocations.Add(1)
	if err != nil {
		inst.failures.Add(1)
		inst.log.Printf("invocation on %s failed (%s): %v", msg.Topic, outcome, err)
		inst.logger.Debug("invocation failed", "topic", msg.Topic, "outcome", outcome, "error", err)
		return
	}

	bindings := inst.bind(msg.Topic)
	for _, line := range splitLines(out.Stdout) {
		inst.publish(msg, bindings, "", line)
	}
	for _, p := range out.Published {
		inst.publish(msg, bindings, p.Topic, p.Payload)
	}
}

// bind returns the template names bound by the first filter matching the topic.
func (inst *instance) bind(name string) topic.Bindings {
	for _, f := range inst.filters {
		if b, ok := f.Match(name); ok {
			return b
		}
	}
	return topic.Bindings{}
}

// publish sends one result; an empty target means the output template.
func (inst *instance) publish(trigger bus.Message, bindings topic.Bindings, target string, payload []byte) {
	if target == "" {
		if inst.output == nil {
			inst.log.Printf("output discarded (no spec.output.topic): %s", payload)
			return
		}
		expanded, err := inst.output.Expand(bindings)
		if err != nil {
			inst.log.Printf("output discarded: %v", err)
			return
		}
		target = expanded
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := inst.bus.Publish(ctx, bus.Message{Topic: target, Payload: payload, QoS: trigger.QoS})
	if err != nil {
		inst.log.Printf("publish to %s failed: %v", target, err)
		inst.logger.Warn("publish failed", "topic", target, "error", err)
	}
}

// stop unsubscribes, lets the workers finish what is queued, and closes the
// runner. Messages still queued when ctx ends are dropped and counted.
func (inst *instance) stop(ctx context.Context) {
	for _, sub := range inst.subs {
		if err := sub.Unsubscribe(ctx); err != nil {
			inst.logger.Warn("unsubscribe failed", "error", err)
		}
	}
	inst.queue.Close()
	done := make(chan struct{})
	go func() {
		inst.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		inst.logger.Warn("workers still busy at shutdown", "error", ctx.Err())
	}
	if err := inst.runner.Close(ctx); err != nil && !errors.Is(err, context.Canceled) {
		inst.logger.Warn("close runner failed", "error", err)
	}
}

// splitLines returns the non-empty lines of stdout without their line ends.
func splitLines(stdout []byte) [][]byte {
	var lines [][]byte
	for _, line := range bytes.Split(stdout, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) > 0 {
			lines = append(lines, line)
		}
	}
	return lines
}
