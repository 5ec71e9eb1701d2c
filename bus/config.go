package bus

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strings"
	"time"
)

// Defaults for the zero values in Config.
const (
	DefaultKeepAlive         = 30 * time.Second
	DefaultMaxReconnectDelay = 30 * time.Second
	defaultPort              = "1883"
	minReconnectDelay        = 100 * time.Millisecond
	connectTimeout           = 10 * time.Second
)

// Config sets up a Client. Only URL and ClientID are required.
type Config struct {
	// URL is the broker's address: mqtt://host:port or tcp://host:port, with
	// optional user:password@ for authentication. The port defaults to 1883.
	URL string
	// ClientID identifies this client's session on the broker. It must be
	// stable across restarts for SessionExpiry to keep messages, and unique
	// among the broker's clients.
	ClientID string
	// KeepAlive is the longest silence before the client sends a PINGREQ,
	// in whole seconds up to 65535 s. Zero means DefaultKeepAlive.
	KeepAlive time.Duration
	// SessionExpiry is how long the broker keeps this client's session,
	// with its subscriptions and undelivered QoS 1 and 2 messages, after the
	// connection drops. Zero ends the session with the connection. The
	// first connection of a Client always starts a clean session, the
	// reconnections resume it. Whole seconds, at most 4294967295 s.
	SessionExpiry time.Duration
	// MaxReconnectDelay caps the randomized, growing delay between
	// connection attempts, which starts at 100 ms. Zero means
	// DefaultMaxReconnectDelay.
	MaxReconnectDelay time.Duration
	// QueueDir, if set, is a directory where publishes wait on disk until
	// they are sent, so they survive a broker outage and a restart of this
	// process. Empty keeps them in memory, where an outage longer than this
	// process's life loses them.
	QueueDir string
	// ResumeSession makes the first connection resume the broker's session
	// for ClientID instead of starting a clean one, so that QoS 1 and 2
	// messages the broker kept while this process was down are delivered.
	// Needs SessionExpiry above zero to matter.
	ResumeSession bool
	// AckAfterHandling delays the acknowledgement of each received QoS 1 or
	// 2 message until every handler it was delivered to called
	// Message.Done. A message still being handled when the connection or
	// the process ends is redelivered by the broker, if it kept the session.
	AckAfterHandling bool
	// DeferConnect makes Dial return without connecting; the caller then
	// calls Client.Start, typically after its first Subscribe calls.
	DeferConnect bool
	// ReceiveMaximum bounds the QoS 1 and 2 messages the broker sends
	// before it has their acknowledgements [MQTT-3.1.2.11.3]. With
	// AckAfterHandling it bounds the messages held by handlers. Zero
	// means 65535.
	ReceiveMaximum uint16
	// Logger receives connection events and errors. Nil discards them.
	Logger *slog.Logger
}

// settings holds a validated Config in the units autopaho takes.
type settings struct {
	brokerURL     *url.URL // without user information
	username      string
	password      []byte
	clientID      string
	keepAlive     uint16
	sessionExpiry uint32
	maxDelay      time.Duration
	queueDir      string
	resume        bool
	deferConnect  bool
	ackAfter      bool
	receiveMax    uint16
	logger        *slog.Logger
}

// settings validates cfg and fills in its defaults.
func (cfg Config) settings() (settings, error) {
	s := settings{
		clientID:     cfg.ClientID,
		queueDir:     cfg.QueueDir,
		logger:       cfg.Logger,
		maxDelay:     cfg.MaxReconnectDelay,
		resume:       cfg.ResumeSession,
		deferConnect: cfg.DeferConnect,
		ackAfter:     cfg.AckAfterHandling,
		receiveMax:   cfg.ReceiveMaximum,
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.clientID == "" {
		return s, fmt.Errorf("missing client ID: set Config.ClientID to a name unique on the broker, such as the host name")
	}

	var err error
	if s.brokerURL, s.username, s.password, err = parseBrokerURL(cfg.URL); err != nil {
		return s, err
	}

	keepAlive := cfg.KeepAlive
	if keepAlive == 0 {
		keepAlive = DefaultKeepAlive
	}
	if keepAlive < time.Second || keepAlive > math.MaxUint16*time.Second {
		return s, fmt.Errorf("invalid keep-alive %s: use 1s to %ds", cfg.KeepAlive, math.MaxUint16)
	}
	s.keepAlive = uint16(keepAlive / time.Second)

	if cfg.SessionExpiry < 0 || cfg.SessionExpiry > math.MaxUint32*time.Second {
		return s, fmt.Errorf("invalid session expiry %s: use 0 to %ds", cfg.SessionExpiry, uint32(math.MaxUint32))
	}
	s.sessionExpiry = uint32(cfg.SessionExpiry / time.Second)

	if s.maxDelay == 0 {
		s.maxDelay = DefaultMaxReconnectDelay
	}
	if s.maxDelay <= minReconnectDelay {
		return s, fmt.Errorf("invalid max reconnect delay %s: use more than %s", cfg.MaxReconnectDelay, minReconnectDelay)
	}
	return s, nil
}

// parseBrokerURL checks raw and splits off its user information, so that the
// URL can be logged without the password.
func parseBrokerURL(raw string) (*url.URL, string, []byte, error) {
	if raw == "" {
		return nil, "", nil, fmt.Errorf("missing broker URL: set Config.URL, e.g. mqtt://127.0.0.1:1883")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", nil, fmt.Errorf("invalid broker URL: %w", err)
	}
	redacted := u.Redacted()
	switch strings.ToLower(u.Scheme) {
	case "mqtt", "tcp":
	default:
		// TODO: support mqtts:// and ws://; only plain TCP is wired through
		// the identifier-rewriting connection so far.
		return nil, "", nil, fmt.Errorf("unsupported broker URL scheme %q in %q: use mqtt:// or tcp://", u.Scheme, redacted)
	}
	if u.Hostname() == "" {
		return nil, "", nil, fmt.Errorf("invalid broker URL %q: missing host, e.g. mqtt://127.0.0.1:1883", redacted)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, "", nil, fmt.Errorf("invalid broker URL %q: unexpected path, query or fragment (use mqtt://host:port)", redacted)
	}

	var username string
	var password []byte
	if u.User != nil {
		username = u.User.Username()
		if p, ok := u.User.Password(); ok {
			password = []byte(p)
		}
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), defaultPort)
	}
	clean := &url.URL{Scheme: "mqtt", Host: host}
	return clean, username, password, nil
}
