// Package metrics owns hybridd's Prometheus registry and every collector.
// No other package imports client_golang: they report through the methods
// here, or through functions that metrics reads at scrape time.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "hybridd"

// Outcome labels of hybridd_invocations_total.
const (
	OutcomeSuccess = "success"
	OutcomeError   = "error"
	OutcomeTimeout = "timeout"
	OutcomeTrap    = "trap"
)

// Metrics holds the collectors. Its methods are safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry

	invocations        *prometheus.CounterVec
	invocationDuration *prometheus.HistogramVec
	coldStart          *prometheus.HistogramVec
	compileDuration    prometheus.Histogram
	dropped            *prometheus.CounterVec
	publishDenied      *prometheus.CounterVec
	containerStart     *prometheus.GaugeVec
	containerExits     *prometheus.CounterVec
}

// New creates a registry with the Go and process collectors and hybridd's own.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "invocations_total",
			Help:      "Invocations of workload functions, by workload, runtime and outcome (success, error, timeout, trap).",
		}, []string{"workload", "runtime", "outcome"}),
		invocationDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "invocation_duration_seconds",
			Help:      "Time from the start of an invocation to its end, including instantiation of command modules and exec of container functions.",
			Buckets:   []float64{0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"workload", "runtime"}),
		coldStart: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "cold_start_seconds",
			Help:      "Time to make a workload ready: module load and instance pool creation, or container creation and start.",
			Buckets:   prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"runtime"}),
		compileDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "wasm_compile_seconds",
			Help:      "Time to compile a wasm module, or to load it from the compilation cache.",
			Buckets:   prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "mqtt_messages_dropped_total",
			Help:      "Messages dropped because a workload's queue was full.",
		}, []string{"workload"}),
		publishDenied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "publish_denied_total",
			Help:      "Publishes a workload attempted to topics its output template does not allow.",
		}, []string{"workload"}),
		containerStart: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "container_start_seconds",
			Help:      "Time the workload's current container took to be created and started.",
		}, []string{"workload"}),
		containerExits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "container_exits_total",
			Help:      "Exits of a workload's container task, by reason (exit, oom).",
		}, []string{"workload", "reason"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.invocations, m.invocationDuration, m.coldStart, m.compileDuration,
		m.dropped, m.publishDenied, m.containerStart, m.containerExits,
	)
	return m
}

// Handler serves the exposition format for GET /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Registry returns the registry, for tests and for gathering without HTTP.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }
