package metrics

import "github.com/prometheus/client_golang/prometheus"

// BudgetState is the memory accountant's state at one instant, in bytes.
type BudgetState struct {
	Capacity  int64
	Reserved  int64
	Used      int64
	Workloads []WorkloadMemory
}

// WorkloadMemory is one workload's reservation and observed usage, in bytes.
type WorkloadMemory struct {
	Name     string
	Runtime  string
	Reserved int64
	Used     int64
}

// Sources are read at every scrape, so the exposition always equals the
// state of the packages that own the numbers. A nil function is skipped.
type Sources struct {
	// MQTT returns the bus client's monotonically increasing counts.
	MQTT func() (received, published uint64)
	// Budget returns the accountant's snapshot.
	Budget func() BudgetState
}

var (
	receivedDesc = prometheus.NewDesc(namespace+"_mqtt_messages_received_total",
		"MQTT messages delivered to hybridd by the broker.", nil, nil)
	publishedDesc = prometheus.NewDesc(namespace+"_mqtt_messages_published_total",
		"MQTT messages hybridd published, with results of workloads among them.", nil, nil)
	budgetDesc = prometheus.NewDesc(namespace+"_memory_budget_bytes",
		"The host memory budget: its capacity, the sum of reservations, and the observed usage of the workloads.",
		[]string{"state"}, nil)
	workloadMemoryDesc = prometheus.NewDesc(namespace+"_workload_memory_bytes",
		"Memory reserved for a workload at admission, and memory it was last observed to use.",
		[]string{"workload", "runtime", "kind"}, nil)
)

type sourceCollector struct{ sources Sources }

// RegisterSources adds collectors that read sources at scrape time. Call it
// once; a second call fails because the metric names would be registered twice.
func (m *Metrics) RegisterSources(sources Sources) error {
	return m.registry.Register(sourceCollector{sources: sources})
}

func (c sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- receivedDesc
	ch <- publishedDesc
	ch <- budgetDesc
	ch <- workloadMemoryDesc
}

func (c sourceCollector) Collect(ch chan<- prometheus.Metric) {
	if c.sources.MQTT != nil {
		received, published := c.sources.MQTT()
		ch <- prometheus.MustNewConstMetric(receivedDesc, prometheus.CounterValue, float64(received))
		ch <- prometheus.MustNewConstMetric(publishedDesc, prometheus.CounterValue, float64(published))
	}
	if c.sources.Budget == nil {
		return
	}
	state := c.sources.Budget()
	ch <- prometheus.MustNewConstMetric(budgetDesc, prometheus.GaugeValue, float64(state.Capacity), "capacity")
	ch <- prometheus.MustNewConstMetric(budgetDesc, prometheus.GaugeValue, float64(state.Reserved), "reserved")
	ch <- prometheus.MustNewConstMetric(budgetDesc, prometheus.GaugeValue, float64(state.Used), "used")
	for _, w := range state.Workloads {
		ch <- prometheus.MustNewConstMetric(workloadMemoryDesc, prometheus.GaugeValue, float64(w.Reserved), w.Name, w.Runtime, "reserved")
		ch <- prometheus.MustNewConstMetric(workloadMemoryDesc, prometheus.GaugeValue, float64(w.Used), w.Name, w.Runtime, "used")
	}
}
