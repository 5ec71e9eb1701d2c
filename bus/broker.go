package bus

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// DefaultBrokerListen is the address the embedded broker listens on when
// BrokerConfig.Listen is empty: loopback only, the standard MQTT port.
const DefaultBrokerListen = "127.0.0.1:1883"

// BrokerConfig sets up an embedded broker.
type BrokerConfig struct {
	// Listen is the TCP address to listen on, host:port. Port 0 picks a free
	// port; Broker.Addr returns it. Empty means DefaultBrokerListen.
	Listen string
	// Logger receives the broker's records, each one level quieter than
	// mochi-mqtt logs it, Error excepted. Nil discards them.
	Logger *slog.Logger
}

// Broker is an embedded MQTT v5 broker (mochi-mqtt) for hosts without one.
//
// It accepts every client without authentication, so it must listen only
// where every local process may use the bus: loopback, unless configured
// otherwise.
//
// TODO: add username and password authentication before hybridd can offer
// the embedded broker on a non-loopback address.
type Broker struct {
	server *mqtt.Server
	addr   string
	once   sync.Once
	err    error
}

// StartBroker starts a broker listening on cfg.Listen. Stop it with Close.
func StartBroker(cfg BrokerConfig) (_ *Broker, retErr error) {
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultBrokerListen
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return nil, fmt.Errorf("invalid broker listen address %q: %w (use host:port, e.g. 127.0.0.1:1883)", listen, err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	server := mqtt.New(&mqtt.Options{
		Logger:       slog.New(quietHandler{logger.Handler()}),
		InlineClient: false,
	})
	defer func() {
		if retErr != nil {
			_ = server.Close()
		}
	}()
	// TODO: replace AllowHook with an authenticating hook; see Broker.
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("add broker auth hook: %w", err)
	}
	if err := server.AddHook(new(quotaRepairHook), nil); err != nil {
		return nil, fmt.Errorf("add broker quota hook: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: listen})
	if err := server.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", listen, err)
	}
	addr := tcp.Address() // The bound address, once AddListener has listened.
	if err := server.Serve(); err != nil {
		return nil, fmt.Errorf("start broker on %s: %w", addr, err)
	}
	logger.Info("embedded MQTT broker started", "listener", addr)
	return &Broker{server: server, addr: addr}, nil
}

// Addr returns the address the broker listens on, with the actual port.
func (b *Broker) Addr() string {
	return b.addr
}

// URL returns the URL for Config.URL: mqtt://Addr().
func (b *Broker) URL() string {
	return "mqtt://" + b.addr
}

// Close disconnects all clients and stops listening. Later calls return the
// first call's result.
func (b *Broker) Close() error {
	b.once.Do(func() { b.err = b.server.Close() })
	return b.err
}

// quietHandler logs every record below Error one level lower, so that
// mochi-mqtt's lifecycle and per-client records stay out of hybridd's Info
// output.
type quietHandler struct {
	slog.Handler
}

func (h quietHandler) level(l slog.Level) slog.Level {
	switch {
	case l >= slog.LevelError:
		return l
	case l >= slog.LevelWarn:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, h.level(l))
}

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = h.level(r.Level)
	return h.Handler.Handle(ctx, r)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(attrs)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}
