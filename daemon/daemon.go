// Package daemon assembles `hybridd serve`: the MQTT bus (an embedded
// broker unless an external one is given), the wasm host, the containerd
// connection, the memory budget, the engine, the control socket and the
// metrics endpoint. It owns their start and shutdown order.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/hybridd/hybridd/api"
	"github.com/hybridd/hybridd/budget"
	"github.com/hybridd/hybridd/bus"
	"github.com/hybridd/hybridd/engine"
	"github.com/hybridd/hybridd/metrics"
	"github.com/hybridd/hybridd/wasmhost"
)

// Options are the settings of `hybridd serve`.
type Options struct {
	// MQTTURL joins an external broker; empty starts the embedded one on MQTTListen.
	MQTTURL    string
	MQTTListen string
	// MQTTClientID is the daemon's MQTT client identifier; it must be unique
	// per broker. Default "hybridd-" plus the host name.
	MQTTClientID string
	// MQTTSessionExpiry is how long the broker keeps hybridd's session,
	// with the QoS 1 and 2 messages for it, while hybridd is away. Zero
	// starts a clean session on every start.
	MQTTSessionExpiry time.Duration
	// MetricsListen is the address of the Prometheus endpoint; empty disables it.
	MetricsListen string
	Socket        string
	StateDir      string
	// MemoryBudget is the host budget in bytes; 0 picks the default fraction
	// of the memory available to the daemon.
	MemoryBudget int64
	// ContainerdAddress is containerd's socket; empty disables containers.
	ContainerdAddress   string
	ContainerdNamespace string
	// InitPath is the host path of hybridd-init, mounted into function containers.
	InitPath string
	Version  string
	Logger   *slog.Logger
	// Ready, when set, is called once the socket accepts requests.
	Ready func()
}

// Run serves until ctx is done, then shuts everything down in reverse order.
func Run(ctx context.Context, opts Options) (retErr error) {
	logger := opts.Logger
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return fmt.Errorf("create state dir %s: %w (pass --state-dir to use another)", opts.StateDir, err)
	}
	var cleanups []func(context.Context)
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i](shutdownCtx)
		}
		logger.Info("hybridd stopped")
	}()

	capacity, source, err := budgetCapacity(opts.MemoryBudget)
	if err != nil {
		return err
	}
	acct, err := budget.New(capacity)
	if err != nil {
		return err
	}
	logger.Info("memory budget", "bytes", capacity, "source", source)

	mqttURL := opts.MQTTURL
	// The Receive Maximum bounds the messages an external broker sends
	// ahead of their acknowledgements. It stays unset for the embedded
	// broker: mochi-mqtt v2.7.9 stops sending for good once a client's
	// receive quota has run out a few times.
	receiveMaximum := uint16(engine.QueueCapacity)
	if mqttURL == "" {
		receiveMaximum = 0
		broker, err := bus.StartBroker(bus.BrokerConfig{Listen: opts.MQTTListen, Logger: logger})
		if err != nil {
			return fmt.Errorf("start embedded MQTT broker on %s: %w (pass --mqtt-listen with a free address, or --mqtt-url)", opts.MQTTListen, err)
		}
		cleanups = append(cleanups, func(context.Context) { broker.Close() })
		mqttURL = broker.URL()
		logger.Info("embedded MQTT broker listening", "address", broker.Addr())
	}

	clientID := opts.MQTTClientID
	if clientID == "" {
		clientID = "hybridd-" + hostname()
	}
	client, err := bus.Dial(ctx, bus.Config{
		URL: mqttURL, ClientID: clientID,
		QueueDir:         filepath.Join(opts.StateDir, "outbox"),
		SessionExpiry:    opts.MQTTSessionExpiry,
		ResumeSession:    opts.MQTTSessionExpiry > 0,
		AckAfterHandling: true,
		DeferConnect:     true,
		ReceiveMaximum:   receiveMaximum,
		Logger:           logger,
	})
	if err != nil {
		return fmt.Errorf("connect to MQTT broker %s: %w", mqttURL, err)
	}
	cleanups = append(cleanups, func(ctx context.Context) { _ = client.Close(ctx) })

	host, err := wasmhost.New(ctx, wasmhost.Config{CacheDir: filepath.Join(opts.StateDir, "wasm-cache"), Logger: logger})
	if err != nil {
		return fmt.Errorf("start wasm host: %w", err)
	}
	cleanups = append(cleanups, func(ctx context.Context) { _ = host.Close(ctx) })

	m := metrics.New()
	var containers *engine.Containers
	if opts.ContainerdAddress != "" {
		containers = engine.NewContainers(engine.ContainersConfig{
			Address: opts.ContainerdAddress, Namespace: opts.ContainerdNamespace,
			InitPath: opts.InitPath, MQTTURL: mqttURL,
			LogDir: filepath.Join(opts.StateDir, "logs"), Logger: logger, Metrics: m,
		})
		cleanups = append(cleanups, func(context.Context) { containers.Close() })
	}

	eng, err := engine.New(engine.Config{
		StateDir: opts.StateDir, Bus: client, Wasm: host, Containers: containers,
		Budget: acct, Metrics: m, Logger: logger,
	})
	if err != nil {
		return err
	}
	if err := m.RegisterSources(metrics.Sources{
		MQTT: func() (uint64, uint64) {
			stats := client.Stats()
			return stats.Received, stats.Published
		},
		Budget: eng.BudgetState,
	}); err != nil {
		return err
	}
	eng.Reconcile(ctx)
	if err := client.Start(); err != nil {
		return err
	}
	loopCtx, stopLoop := context.WithCancel(context.Background())
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		eng.Run(loopCtx)
	}()
	cleanups = append(cleanups, func(ctx context.Context) {
		stopLoop()
		<-loopDone
		eng.Close(ctx)
	})

	if opts.MetricsListen != "" {
		stop, err := serveMetrics(opts.MetricsListen, m, logger)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, stop)
	}

	listener, err := api.Listen(opts.Socket)
	if err != nil {
		return err
	}
	server := api.NewServer(eng, opts.Version, logger)
	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(listener) }()
	cleanups = append(cleanups, func(ctx context.Context) {
		_ = server.Shutdown(ctx)
		os.Remove(opts.Socket)
	})
	logger.Info("hybridd serving", "socket", opts.Socket, "mqtt", mqttURL, "metrics", opts.MetricsListen, "state_dir", opts.StateDir)
	if opts.Ready != nil {
		opts.Ready()
	}

	select {
	case <-ctx.Done():
		logger.Info("shutting down", "reason", context.Cause(ctx))
		return nil
	case err := <-serveErr:
		return fmt.Errorf("control socket: %w", err)
	}
}

func serveMetrics(addr string, m *metrics.Metrics, logger *slog.Logger) (func(context.Context), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w (pass --metrics-listen with a free address)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "error", err)
		}
	}()
	logger.Info("metrics listening", "address", l.Addr().String())
	return func(ctx context.Context) { _ = srv.Shutdown(ctx) }, nil
}

func budgetCapacity(flag int64) (int64, string, error) {
	if flag > 0 {
		return flag, "--memory-budget", nil
	}
	capacity, source, err := budget.DefaultCapacity()
	if err != nil {
		return 0, "", fmt.Errorf("determine the memory budget: %w (pass --memory-budget, e.g. 512Mi)", err)
	}
	return capacity, source, nil
}

func hostname() string {
	name, err := os.Hostname()
	if err != nil {
		return "host"
	}
	return name
}
