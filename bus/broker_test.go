package bus

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBrokerPicksFreePort(t *testing.T) {
	b := startEmbedded(t)
	host, port, err := net.SplitHostPort(b.Addr())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotEqual(t, "0", port)
	assert.Equal(t, "mqtt://"+b.Addr(), b.URL())

	// A whole MQTT connection, closed before the broker: mochi-mqtt v2.7.9
	// races with itself when Close meets a connection still being accepted.
	c := dialConnected(t, b.URL(), "probe")
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	require.NoError(t, c.Close(ctx))

	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "a second Close is a no-op")
}

func TestBrokerRejectsListenAddress(t *testing.T) {
	b, err := StartBroker(BrokerConfig{Listen: "127.0.0.1"})
	assert.Nil(t, b)
	assert.EqualError(t, err, `invalid broker listen address "127.0.0.1": address 127.0.0.1: missing port in address (use host:port, e.g. 127.0.0.1:1883)`)
}

func TestBrokerReportsPortInUse(t *testing.T) {
	first := startEmbedded(t)
	b, err := StartBroker(BrokerConfig{Listen: first.Addr()})
	assert.Nil(t, b)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "listen on "+first.Addr()+": "), err.Error())
	assert.ErrorContains(t, err, "address already in use")
}

func TestQuietHandlerLowersLevels(t *testing.T) {
	var out bytes.Buffer
	inner := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})
	logger := slog.New(quietHandler{inner})
	logger.Debug("d")
	logger.Info("i")
	logger.Warn("w")
	logger.Error("e")
	assert.Equal(t, "level=DEBUG msg=d\nlevel=DEBUG msg=i\nlevel=INFO msg=w\nlevel=ERROR msg=e\n", out.String())
}
