// Command alert-counter is the container service example of hybridd. It
// connects to the MQTT broker named by HYBRIDD_MQTT_URL, subscribes to
// alerts/#, keeps a count of alerts per device, and after each alert
// publishes {"device":DEVICE,"alerts":N} on counts/DEVICE/alerts.
//
// The device is the second topic level (alerts/DEVICE/...), or the
// "device" field of a JSON payload when the topic has only one level.
// Build it static for the container image:
//
//	CGO_ENABLED=0 go build -o alert-counter ./examples/alert-counter
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// queueSize bounds the alerts waiting to be counted; more are dropped and
// logged, because the MQTT read loop must never block.
const queueSize = 256

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("alert-counter stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	raw := os.Getenv("HYBRIDD_MQTT_URL")
	if raw == "" {
		return errors.New("HYBRIDD_MQTT_URL is not set: set it to the broker URL, e.g. mqtt://127.0.0.1:1883")
	}
	broker, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid HYBRIDD_MQTT_URL %q: %w", raw, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	alerts := make(chan *paho.Publish, queueSize)
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{broker},
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			log.Info("connected", "broker", broker.Redacted())
			// Subscribing again after each reconnect, from a goroutine
			// because this callback must not block.
			go func() {
				_, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "alerts/#", QoS: 1}}})
				if err != nil && ctx.Err() == nil {
					log.Warn("subscribe to alerts/#", "error", err)
				}
			}()
		},
		OnConnectError: func(err error) { log.Warn("connect to broker", "broker", broker.Redacted(), "error", err) },
		ClientConfig: paho.ClientConfig{
			ClientID: "alert-counter-" + fmt.Sprint(os.Getpid()),
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					select {
					case alerts <- pr.Packet:
					default:
						log.Warn("alert queue full, dropping alert", "topic", pr.Packet.Topic)
					}
					return true, nil
				},
			},
		},
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		return fmt.Errorf("start MQTT connection to %s: %w", broker.Redacted(), err)
	}

	count(ctx, log, cm, alerts)

	disconnectCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = cm.Disconnect(disconnectCtx)
	<-cm.Done()
	log.Info("stopped")
	return nil
}

// count handles alerts until ctx ends.
func count(ctx context.Context, log *slog.Logger, cm *autopaho.ConnectionManager, alerts <-chan *paho.Publish) {
	counts := map[string]int{}
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-alerts:
			device := deviceOf(p.Topic, p.Payload)
			if device == "" {
				log.Warn("alert without a device, ignored", "topic", p.Topic)
				continue
			}
			counts[device]++
			body, _ := json.Marshal(struct {
				Device string `json:"device"`
				Alerts int    `json:"alerts"`
			}{device, counts[device]})
			_, err := cm.Publish(ctx, &paho.Publish{Topic: "counts/" + device + "/alerts", QoS: 1, Payload: body})
			if err != nil && ctx.Err() == nil {
				log.Warn("publish count", "device", device, "error", err)
			}
		}
	}
}

// deviceOf returns the device an alert is about, "" when unknown.
func deviceOf(topic string, payload []byte) string {
	levels := strings.Split(topic, "/")
	if len(levels) >= 2 && levels[1] != "" {
		return levels[1]
	}
	var msg struct {
		Device string `json:"device"`
	}
	if json.Unmarshal(payload, &msg) == nil && !strings.ContainsAny(msg.Device, "/+#") {
		return msg.Device
	}
	return ""
}
