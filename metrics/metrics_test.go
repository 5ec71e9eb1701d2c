package metrics

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestMetrics(t *testing.T) *Metrics {
	t.Helper()
	m := New()
	require.NoError(t, m.RegisterSources(Sources{
		MQTT: func() (uint64, uint64) { return 7, 3 },
		Budget: func() BudgetState {
			return BudgetState{
				Capacity: 1 << 30, Reserved: 96 << 20, Used: 40 << 20,
				Workloads: []WorkloadMemory{
					{Name: "co2-alert", Runtime: "wasm", Reserved: 33 << 20, Used: 17 << 20},
					{Name: "logger", Runtime: "container", Reserved: 63 << 20, Used: 23 << 20},
				},
			}
		},
	}))
	return m
}

func TestInvocationCounters(t *testing.T) {
	m := newTestMetrics(t)
	m.ObserveInvocation("co2-alert", "wasm", OutcomeSuccess, 2*time.Millisecond)
	m.ObserveInvocation("co2-alert", "wasm", OutcomeSuccess, 3*time.Millisecond)
	m.ObserveInvocation("co2-alert", "wasm", OutcomeTimeout, time.Second)

	assert.Equal(t, 2.0, testutil.ToFloat64(m.invocations.WithLabelValues("co2-alert", "wasm", OutcomeSuccess)))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.invocations.WithLabelValues("co2-alert", "wasm", OutcomeTimeout)))
	assert.Equal(t, 1, testutil.CollectAndCount(m.invocationDuration))
}

func TestSourcesExposition(t *testing.T) {
	m := newTestMetrics(t)
	expected := `
# HELP hybridd_memory_budget_bytes The host memory budget: its capacity, the sum of reservations, and the observed usage of the workloads.
# TYPE hybridd_memory_budget_bytes gauge
hybridd_memory_budget_bytes{state="capacity"} 1.073741824e+09
hybridd_memory_budget_bytes{state="reserved"} 1.00663296e+08
hybridd_memory_budget_bytes{state="used"} 4.194304e+07
# HELP hybridd_mqtt_messages_received_total MQTT messages delivered to hybridd by the broker.
# TYPE hybridd_mqtt_messages_received_total counter
hybridd_mqtt_messages_received_total 7
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected),
		"hybridd_memory_budget_bytes", "hybridd_mqtt_messages_received_total"))

	count, err := testutil.GatherAndCount(m.Registry(), "hybridd_workload_memory_bytes")
	require.NoError(t, err)
	assert.Equal(t, 4, count, "two workloads, each with a reserved and a used series")
}

func TestForgetWorkloadDeletesSeries(t *testing.T) {
	m := newTestMetrics(t)
	m.ObserveInvocation("a", "wasm", OutcomeSuccess, time.Millisecond)
	m.ObserveInvocation("b", "wasm", OutcomeError, time.Millisecond)
	m.AddDropped("a", 2)

	m.ForgetWorkload("a")

	assert.Equal(t, 1, testutil.CollectAndCount(m.invocations))
	assert.Equal(t, 0, testutil.CollectAndCount(m.dropped))
}

// TestExpositionPassesPromtool runs Prometheus' own linter on what /metrics serves.
func TestExpositionPassesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool not found: install the Debian package prometheus")

	m := newTestMetrics(t)
	m.ObserveInvocation("co2-alert", "wasm", OutcomeSuccess, time.Millisecond)
	m.ObserveColdStart("wasm", 5*time.Millisecond)
	m.ObserveCompile(20 * time.Millisecond)
	m.AddDropped("co2-alert", 1)
	m.AddPublishDenied("co2-alert", 1)
	m.SetContainerStart("logger", 300*time.Millisecond)
	m.AddContainerExit("logger", "oom")

	server := httptest.NewServer(m.Handler())
	defer server.Close()
	response, err := server.Client().Get(server.URL)
	require.NoError(t, err)
	body, err := io.ReadAll(response.Body)
	response.Body.Close()
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	output, err := cmd.CombinedOutput()
	assert.NoError(t, err, "promtool check metrics:\n%s", output)
	assert.Empty(t, strings.TrimSpace(string(output)), "promtool reported problems")
}
