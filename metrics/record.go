package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ObserveInvocation counts one invocation and records its duration.
func (m *Metrics) ObserveInvocation(workload, runtime, outcome string, d time.Duration) {
	m.invocations.WithLabelValues(workload, runtime, outcome).Inc()
	m.invocationDuration.WithLabelValues(workload, runtime).Observe(d.Seconds())
}

// ObserveColdStart records how long a workload took to become ready.
func (m *Metrics) ObserveColdStart(runtime string, d time.Duration) {
	m.coldStart.WithLabelValues(runtime).Observe(d.Seconds())
}

// ObserveCompile records one module compilation or cache load.
func (m *Metrics) ObserveCompile(d time.Duration) {
	m.compileDuration.Observe(d.Seconds())
}

// AddDropped counts n messages dropped from a workload's full queue.
func (m *Metrics) AddDropped(workload string, n uint64) {
	m.dropped.WithLabelValues(workload).Add(float64(n))
}

// AddPublishDenied counts n publishes rejected by the output-topic check.
func (m *Metrics) AddPublishDenied(workload string, n uint64) {
	m.publishDenied.WithLabelValues(workload).Add(float64(n))
}

// SetContainerStart records the start time of a workload's container.
func (m *Metrics) SetContainerStart(workload string, d time.Duration) {
	m.containerStart.WithLabelValues(workload).Set(d.Seconds())
}

// AddContainerExit counts one exit of a container task; reason is "exit" or "oom".
func (m *Metrics) AddContainerExit(workload, reason string) {
	m.containerExits.WithLabelValues(workload, reason).Inc()
}

// ForgetWorkload deletes every series labelled with the workload, so that
// label values stay bounded by the workloads that exist.
func (m *Metrics) ForgetWorkload(workload string) {
	for _, vec := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.invocations, m.invocationDuration, m.dropped, m.publishDenied, m.containerStart, m.containerExits} {
		vec.DeletePartialMatch(prometheus.Labels{"workload": workload})
	}
}
