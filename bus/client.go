package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// Client is an MQTT v5 client that stays connected: it reconnects with
// backoff, resubscribes on every new connection, and queues publishes while
// the broker is away. Create it with Dial and stop it with Close.
//
// A Client is safe for concurrent use.
type Client struct {
	cfg settings
	log *slog.Logger
	// conn is nil until Start; it is written once, under subscribeMu.
	conn    atomic.Pointer[autopaho.ConnectionManager]
	started chan struct{} // closed by Start
	outbox  *countingQueue
	routes  routeTable
	stats   counters

	// subIDsAvailable is false when the current connection's broker does
	// not accept subscription identifiers, so routing matches topics.
	subIDsAvailable atomic.Bool
	connected       atomic.Bool
	closed          atomic.Bool

	// subscribeMu serializes SUBSCRIBE and UNSUBSCRIBE exchanges so that
	// the broker receives them in the order the route table changed.
	subscribeMu sync.Mutex
	// pendingUnsubscribes holds filters to unsubscribe on the next
	// connection. Guarded by subscribeMu.
	pendingUnsubscribes map[string]struct{}

	life    context.Context // cancelled by Close; ends background work
	cancel  context.CancelFunc
	workers sync.WaitGroup // resubscribe goroutines

	retryLog rateLimiter
}

// Dial starts a Client and returns at once, without waiting for the broker:
// if the broker is down, the client keeps trying to connect in the
// background and logs the failures at Warn. Use AwaitConnection to wait for
// the first connection. ctx bounds only Dial itself. Dial returns an error
// when cfg is invalid or QueueDir cannot be used.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	outbox, err := newOutbox(s.queueDir)
	if err != nil {
		return nil, err
	}

	c := &Client{cfg: s, log: s.logger.With("broker", s.brokerURL.String()), outbox: outbox}
	c.routes.init()
	c.pendingUnsubscribes = make(map[string]struct{})
	// Assume identifiers until a CONNACK reports otherwise. If the broker
	// does not support them, paho rejects a SUBSCRIBE that carries one.
	c.subIDsAvailable.Store(true)
	c.retryLog.interval = retryLogInterval
	c.life, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.started = make(chan struct{})
	if s.deferConnect {
		return c, nil
	}
	if err := c.Start(); err != nil {
		c.cancel()
		return nil, err
	}
	return c, nil
}

// Start begins connecting. Dial calls it unless Config.DeferConnect is set;
// then the caller subscribes first and calls Start once, so that messages
// of a resumed session find their handlers. A second call does nothing.
func (c *Client) Start() error {
	c.subscribeMu.Lock()
	defer c.subscribeMu.Unlock()
	if c.conn.Load() != nil {
		return nil
	}
	if c.closed.Load() {
		return ErrClosed
	}
	conn, err := autopaho.NewConnection(c.life, c.autopahoConfig())
	if err != nil {
		return fmt.Errorf("start MQTT connection to %s: %w", c.cfg.brokerURL, err)
	}
	c.conn.Store(conn)
	close(c.started)
	c.log.Info("connecting to MQTT broker", "client", c.cfg.clientID)
	return nil
}

func (c *Client) autopahoConfig() autopaho.ClientConfig {
	return autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{c.cfg.brokerURL},
		KeepAlive:                     c.cfg.keepAlive,
		CleanStartOnInitialConnection: !c.cfg.resume,
		SessionExpiryInterval:         c.cfg.sessionExpiry,
		ReconnectBackoff: autopaho.NewExponentialBackoff(
			minReconnectDelay, c.cfg.maxDelay, min(time.Second, c.cfg.maxDelay), 2),
		ConnectTimeout:    connectTimeout,
		Queue:             c.outbox,
		AttemptConnection: c.dialBroker,
		OnConnectionUp:    c.onConnectionUp,
		OnConnectionDown:  c.onConnectionDown,
		OnConnectError:    c.onConnectError,
		ConnectUsername:   c.cfg.username,
		ConnectPassword:   c.cfg.password,
		ConnectPacketBuilder: func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if c.cfg.receiveMax > 0 {
				if cp.Properties == nil {
					cp.Properties = &paho.ConnectProperties{}
				}
				receiveMax := c.cfg.receiveMax
				cp.Properties.ReceiveMaximum = &receiveMax
			}
			return cp, nil
		},
		ClientConfig: paho.ClientConfig{
			ClientID:                   c.cfg.clientID,
			OnPublishReceived:          []func(paho.PublishReceived) (bool, error){c.route},
			OnServerDisconnect:         c.onServerDisconnect,
			EnableManualAcknowledgment: c.cfg.ackAfter,
		},
	}
}

// dialBroker opens the TCP connection for one connection attempt and wraps
// it so that paho receives every subscription identifier (see
// subIDsProperty).
func (c *Client) dialBroker(ctx context.Context, _ autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
	dialer := net.Dialer{Timeout: connectTimeout}
	conn, err := dialer.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	return newSubIDConn(conn), nil
}

// AwaitConnection waits until the client is connected, and returns at once
// if it already is. It returns an error when ctx is done first or the
// client is closed.
func (c *Client) AwaitConnection(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	select {
	case <-c.started:
	case <-ctx.Done():
		return fmt.Errorf("wait for MQTT broker %s: %w (the client was not started)", c.cfg.brokerURL, ctx.Err())
	}
	if err := c.conn.Load().AwaitConnection(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("wait for MQTT broker %s: %w", c.cfg.brokerURL, ctx.Err())
		}
		return ErrClosed
	}
	return nil
}

// Connected reports whether the client has a connection to the broker now.
func (c *Client) Connected() bool {
	return c.connected.Load()
}

// Close sends what is still queued, if the broker is connected and ctx
// allows, then disconnects and stops the background goroutines. Publishes
// still queued in memory when ctx ends are lost. It returns ctx.Err() when ctx
// ends first.
func (c *Client) Close(ctx context.Context) error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	var flushErr error
	if c.connected.Load() {
		select {
		case <-c.outbox.WaitForEmpty():
		case <-ctx.Done():
			flushErr = fmt.Errorf("send queued publishes: %w", ctx.Err())
		}
	}
	var disconnectErr error
	if conn := c.conn.Load(); conn != nil {
		disconnectErr = conn.Disconnect(ctx)
	}
	c.cancel()
	c.workers.Wait()
	c.log.Info("disconnected from MQTT broker")
	if disconnectErr != nil {
		disconnectErr = fmt.Errorf("disconnect from MQTT broker %s: %w", c.cfg.brokerURL, disconnectErr)
	}
	return errors.Join(flushErr, disconnectErr)
}

// onConnectionUp runs on autopaho's connection goroutine after each CONNACK.
// It must not block, so resubscribing happens in a goroutine of its own.
func (c *Client) onConnectionUp(conn *autopaho.ConnectionManager, connack *paho.Connack) {
	available := connack.Properties == nil || connack.Properties.SubIDAvailable
	c.subIDsAvailable.Store(available)
	c.connected.Store(true)
	c.log.Info("connected to MQTT broker", "session_present", connack.SessionPresent,
		"subscription_ids", available)
	c.workers.Add(1)
	go func() {
		defer c.workers.Done()
		c.resubscribe(c.life, conn)
	}()
}

func (c *Client) onConnectionDown() bool {
	c.connected.Store(false)
	c.log.Warn("lost connection to MQTT broker; reconnecting")
	return true
}

func (c *Client) onConnectError(err error) {
	if suppressed, ok := c.retryLog.allow(); ok {
		c.log.Warn("connect to MQTT broker failed; retrying", "error", err, "suppressed", suppressed)
	}
}

func (c *Client) onServerDisconnect(d *paho.Disconnect) {
	reason := ""
	if d.Properties != nil {
		reason = d.Properties.ReasonString
	}
	c.log.Warn("MQTT broker closed the connection", "reason_code", d.ReasonCode, "reason", reason)
}
