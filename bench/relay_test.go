package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hybridd/hybridd/bus"
	"github.com/hybridd/hybridd/internal/testenv"
)

// Topics of the end-to-end benchmarks. Every path, the baseline relay
// included, takes messages on bench/in/DEVICE and publishes one result per
// message on bench/out/DEVICE.
const (
	inTopic     = "bench/in/office-1"
	outFilter   = "bench/out/#"
	relayFilter = "bench/in/+"
)

// officeReading is one telemetry message of the occupancy data set.
const officeReading = `{"device":"office-1","ts":"2015-02-04 17:51:00","temperature":23.18,"humidity":27.272,"light":426,"co2":721.25,"humidity_ratio":0.00479,"occupancy":1}`

// Bounds of one end-to-end measurement. The throughput phase keeps up to
// throughputWindow messages in flight; the latency phase sends one message
// at a time, so that its latencies contain no queueing behind other
// messages.
const (
	throughputWindow = 64
	phaseTimeLimit   = 60 * time.Second
)

// relayEnv, when set in the environment of the test binary, makes it run
// the baseline relay instead of the benchmarks. Its value is
// "LISTEN_ADDRESS QUEUE_DIR"; QUEUE_DIR "-" keeps the outbound queue in
// memory.
const relayEnv = "HYBRIDD_BENCH_RELAY"

// runRelay is the baseline: the embedded broker and a bus.Client set up as
// `hybridd serve` sets up its own (outbound queue on disk, acknowledgement
// after handling), which republishes every message on bench/in/+ to
// bench/out/ with the same last level and runs no workload. It prints
// "ready" once subscribed, answers each "stats" line on stdin with the
// process's allocation counters, and exits when stdin closes.
func runRelay(config string) error {
	listen, queueDir, ok := strings.Cut(config, " ")
	if !ok {
		return fmt.Errorf("invalid %s %q (use LISTEN_ADDRESS QUEUE_DIR)", relayEnv, config)
	}
	broker, err := bus.StartBroker(bus.BrokerConfig{Listen: listen})
	if err != nil {
		return err
	}
	defer broker.Close()
	if queueDir == "-" {
		queueDir = ""
	}
	ctx := context.Background()
	client, err := bus.Dial(ctx, bus.Config{
		URL: broker.URL(), ClientID: "bench-relay", QueueDir: queueDir,
		AckAfterHandling: true, DeferConnect: true,
	})
	if err != nil {
		return err
	}
	defer client.Close(ctx)
	_, err = client.Subscribe(ctx, relayFilter, 1, func(m bus.Message) {
		device := m.Topic[strings.LastIndexByte(m.Topic, '/')+1:]
		if err := client.Publish(ctx, bus.Message{Topic: "bench/out/" + device, Payload: m.Payload, QoS: m.QoS}); err != nil {
			fmt.Fprintln(os.Stderr, "relay publish:", err)
		}
		m.Done()
	})
	if err != nil {
		return err
	}
	if err := client.Start(); err != nil {
		return err
	}
	awaitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.AwaitConnection(awaitCtx); err != nil {
		return err
	}
	fmt.Println("ready")

	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		if lines.Text() == "stats" {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			fmt.Printf("%d %d\n", m.Mallocs, m.TotalAlloc)
		}
	}
	return nil
}

// server is the process that relays the benchmark's messages: hybridd
// serve or the baseline relay. It reports its allocation counters.
type server interface {
	brokerURL() string
	pid() int
	// allocs returns the process's heap allocations so far: count and bytes.
	allocs(b testing.TB) (count, bytes float64)
}

// relayProcess is the baseline relay running in a child process.
type relayProcess struct {
	url   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// startRelay starts the baseline relay with its outbound queue on disk, as
// hybridd serve has it, or in memory.
func startRelay(b *testing.B, onDisk bool) *relayProcess {
	b.Helper()
	addr := testenv.FreeAddr(b)
	queueDir := "-"
	if onDisk {
		queueDir = filepath.Join(b.TempDir(), "outbox")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), relayEnv+"="+addr+" "+queueDir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start relay: %v", err)
	}
	r := &relayProcess{url: "mqtt://" + addr, cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	b.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("relay exited with %v", err)
		}
	})
	if !r.out.Scan() || r.out.Text() != "ready" {
		b.Fatalf("relay did not start: %q %v", r.out.Text(), r.out.Err())
	}
	return r
}

func (r *relayProcess) brokerURL() string { return r.url }
func (r *relayProcess) pid() int          { return r.cmd.Process.Pid }

func (r *relayProcess) allocs(b testing.TB) (float64, float64) {
	b.Helper()
	if _, err := io.WriteString(r.stdin, "stats\n"); err != nil {
		b.Fatal(err)
	}
	var count, bytes float64
	if !r.out.Scan() {
		b.Fatalf("relay stats: %v", r.out.Err())
	}
	if _, err := fmt.Sscan(r.out.Text(), &count, &bytes); err != nil {
		b.Fatalf("relay stats %q: %v", r.out.Text(), err)
	}
	return count, bytes
}

func (d *daemon) brokerURL() string { return d.mqttURL }

func (d *daemon) allocs(b testing.TB) (float64, float64) {
	return d.metric("go_memstats_mallocs_total"), d.metric("go_memstats_alloc_bytes_total")
}

// loadClients are the benchmark's own publisher and subscriber, both
// bus.Clients with in-memory queues.
type loadClients struct {
	pub     *bus.Client
	results chan time.Time // arrival time of each result
	payload []byte
}

func dialLoad(b *testing.B, url string, payload []byte) *loadClients {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := &loadClients{results: make(chan time.Time, 4*throughputWindow), payload: payload}
	name := strings.ReplaceAll(b.Name(), "/", "-")
	sub, err := bus.Dial(ctx, bus.Config{URL: url, ClientID: "bench-sub-" + name})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sub.Close(context.Background()) })
	if err := sub.AwaitConnection(ctx); err != nil {
		b.Fatal(err)
	}
	_, err = sub.Subscribe(ctx, outFilter, 1, func(m bus.Message) {
		select {
		case l.results <- time.Now():
		default:
			// More results than messages in flight: a result without a
			// message, which the count check after the phase reports.
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	l.pub, err = bus.Dial(ctx, bus.Config{URL: url, ClientID: "bench-pub-" + name})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.pub.Close(context.Background()) })
	if err := l.pub.AwaitConnection(ctx); err != nil {
		b.Fatal(err)
	}
	return l
}

// phase publishes n messages with up to window of them awaiting
// their result, and returns the time from the first publish to the last
// result and each message's latency from publish to result. Results are
// matched to messages by order, which holds because every path handles
// one topic's messages in order (concurrency 1) and MQTT keeps the order
// of one client's QoS 1 messages.
func (l *loadClients) phase(b *testing.B, n, window int) (time.Duration, []time.Duration) {
	b.Helper()
	ctx := context.Background()
	sent := make([]time.Time, n)
	latencies := make([]time.Duration, 0, n)
	timeout := time.NewTimer(phaseTimeLimit)
	defer timeout.Stop()
	await := func() {
		select {
		case at := <-l.results:
			latencies = append(latencies, at.Sub(sent[len(latencies)]))
		case <-timeout.C:
			b.Fatalf("%d of %d results arrived within %s", len(latencies), n, phaseTimeLimit)
		}
	}

	begin := time.Now()
	for i := range n {
		for i-len(latencies) >= window {
			await()
		}
		sent[i] = time.Now()
		if err := l.pub.Publish(ctx, bus.Message{Topic: inTopic, Payload: l.payload, QoS: 1}); err != nil {
			b.Fatal(err)
		}
	}
	for len(latencies) < n {
		await()
	}
	elapsed := time.Since(begin)
	select {
	case <-l.results:
		b.Fatalf("more results than the %d messages", n)
	case <-time.After(50 * time.Millisecond):
	}
	return elapsed, latencies
}

// baselineThroughput is the baseline relay's messages per second in this
// run, for the ratio of the other paths; zero until the baseline ran.
var baselineThroughput float64

// relayPath is one way through the host that the end-to-end benchmark
// measures.
type relayPath struct {
	name string
	// start returns the process that relays the messages, with the
	// workload deployed.
	start func(b *testing.B) server
	// payload is what each message carries.
	payload string
	// messages is the count of the throughput phase; the warm-up and
	// latency phases send a quarter of it.
	messages int
}

// BenchmarkEndToEnd publishes messages to a broker on loopback and receives
// the results each path publishes: the baseline relay, and `hybridd serve`
// (the real binary, embedded broker) with a WAT reactor, the Go
// moving-average reactor, a WAT command module and a container function.
//
// One op is one message. ns/op and msgs/s come from the throughput phase
// (throughputWindow messages in flight); p50-µs and p99-µs from the
// latency phase (one message at a time). B/op, allocs/op and
// server-cpu-µs/msg are those of the relaying process, the daemon or the
// relay, over both phases; the benchmark's own clients are not counted.
// ratio is msgs/s over the baseline's msgs/s in the same run.
func BenchmarkEndToEnd(b *testing.B) {
	wasmPath := func(module, env string) func(b *testing.B) server {
		return func(b *testing.B) server {
			d := startDaemon(b, daemonOptions{})
			d.deploy(workloadManifest("bench", fmt.Sprintf("  wasm:\n    module: %s\n", module), env, "16Mi"))
			return d
		}
	}
	paths := []relayPath{
		{
			name:     "baseline-relay",
			start:    func(b *testing.B) server { return startRelay(b, true) },
			payload:  officeReading,
			messages: 2000,
		},
		{
			// The relay without the fsync per message of the on-disk
			// queue, which shows what that queue costs every path.
			name:     "baseline-relay-memory-queue",
			start:    func(b *testing.B) server { return startRelay(b, false) },
			payload:  officeReading,
			messages: 2000,
		},
		{
			// 'c' makes reactor.wat count the message and publish the count.
			name:     "reactor-wat",
			start:    wasmPath(artifacts.reactorWAT, ""),
			payload:  "c" + officeReading,
			messages: 2000,
		},
		{
			name:     "reactor-go",
			start:    wasmPath(artifacts.movingAverage, "  env:\n    FIELD: co2\n    WINDOW: \"10\"\n"),
			payload:  officeReading,
			messages: 2000,
		},
		{
			name:     "command-wat",
			start:    wasmPath(artifacts.echoWAT, ""),
			payload:  officeReading,
			messages: 2000,
		},
		{
			// An exec costs tens of milliseconds, so fewer messages keep
			// the phase within seconds.
			name:     "container-function",
			start:    startContainerPath,
			payload:  officeReading,
			messages: 100,
		},
	}
	for _, path := range paths {
		b.Run(path.name, func(b *testing.B) { benchmarkPath(b, path) })
	}
}

func benchmarkPath(b *testing.B, path relayPath) {
	srv := path.start(b)
	load := dialLoad(b, srv.brokerURL(), []byte(path.payload))
	// One unmeasured phase lets the broker, the clients and the workload
	// reach their steady state.
	short := max(path.messages/4, 1)
	load.phase(b, short, throughputWindow)

	var (
		throughputTime time.Duration
		latencies      []time.Duration
		messages       int
		handled        int
	)
	allocs0, bytes0 := srv.allocs(b)
	cpu0 := cpuSeconds(b, srv.pid())
	for b.Loop() {
		elapsed, _ := load.phase(b, path.messages, throughputWindow)
		throughputTime += elapsed
		messages += path.messages
		_, lat := load.phase(b, short, 1)
		latencies = append(latencies, lat...)
		handled += path.messages + short
	}
	cpu := cpuSeconds(b, srv.pid()) - cpu0
	allocs1, bytes1 := srv.allocs(b)

	perMessage := throughputTime.Seconds() / float64(messages)
	rate := 1 / perMessage
	slices.Sort(latencies)
	b.ReportMetric(perMessage*1e9, "ns/op")
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(float64(percentile(latencies, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(latencies, 0.99).Microseconds()), "p99-µs")
	// The counters cover both phases.
	b.ReportMetric((allocs1-allocs0)/float64(handled), "allocs/op")
	b.ReportMetric((bytes1-bytes0)/float64(handled), "B/op")
	b.ReportMetric(cpu/float64(handled)*1e6, "server-cpu-µs/msg")
	switch {
	case path.name == "baseline-relay":
		baselineThroughput = rate
	case strings.HasPrefix(path.name, "baseline"):
	case baselineThroughput > 0:
		b.ReportMetric(rate/baselineThroughput, "ratio")
	}
}

// percentile returns the p-quantile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// startContainerPath starts a private containerd and a daemon that uses it,
// and deploys the probe image as a function that prints the digest of each
// message.
func startContainerPath(b *testing.B) server {
	cd := testenv.StartContainerd(b)
	d := startDaemon(b, daemonOptions{Containerd: cd.Address, Namespace: cd.Namespace})
	section := fmt.Sprintf("  runtime: container\n  container:\n    image: oci-archive:%s\n    mode: function\n    command: [/bin/probe, digest]\n", artifacts.probeArchive)
	d.deploy(workloadManifest("bench", section, "", "32Mi"))
	return d
}

// workloadManifest returns a manifest of one workload that takes messages
// on bench/in/{device} and publishes on bench/out/{device}. runtime holds
// the spec's lines that choose the artifact, env its env section, both
// indented by two spaces.
func workloadManifest(name, runtime, env, memory string) string {
	return fmt.Sprintf(`apiVersion: hybridd/v1
kind: Workload
metadata:
  name: %s
spec:
%s  trigger:
    mqtt:
      topic: bench/in/{device}
      qos: 1
  output:
    topic: bench/out/{device}
%s  resources:
    memory: %s
  timeout: 10s
  concurrency: 1
`, name, runtime, env, memory)
}
