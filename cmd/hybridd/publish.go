package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hybridd/hybridd/bus"
	"github.com/hybridd/hybridd/replay"
)

type publishOptions struct {
	mqttURL string
	qos     int
	retain  bool
	csvFile string
	device  string
	rate    float64
	connect time.Duration
}

func newPublishCommand() *cobra.Command {
	var opts publishOptions
	cmd := &cobra.Command{
		Use:   "publish --mqtt-url URL TOPIC [PAYLOAD]",
		Short: "Publish a message, or replay a CSV data set as telemetry",
		Long: `Publish one message to TOPIC; without PAYLOAD the payload is read from stdin.

With --csv FILE, each row of the file becomes one JSON object: the header
names become snake_case keys, numbers stay numbers, a column named date, time,
timestamp or datetime becomes "ts", and --device adds a "device" key. A
"{device}" level in TOPIC is replaced by --device.`,
		Example: `  hybridd publish --mqtt-url mqtt://127.0.0.1:1883 sensors/office-1/telemetry '{"co2":1200}'
  hybridd publish --mqtt-url mqtt://127.0.0.1:1883 --csv datatest.txt --device office-1 --rate 100 'sensors/{device}/telemetry'`,
		Args: argsBetween(1, 2, "topic"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPublish(cmd, opts, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.mqttURL, "mqtt-url", "mqtt://127.0.0.1:1883", "URL of the MQTT broker")
	f.IntVar(&opts.qos, "qos", 1, "MQTT quality of service: 0, 1 or 2")
	f.BoolVar(&opts.retain, "retain", false, "ask the broker to retain the message")
	f.StringVar(&opts.csvFile, "csv", "", "CSV file to replay, one message per row")
	f.StringVar(&opts.device, "device", "", `device name written as "device" in each CSV row and into "{device}" in TOPIC`)
	f.Float64Var(&opts.rate, "rate", 0, "messages per second in CSV mode; 0 sends as fast as the broker accepts")
	f.DurationVar(&opts.connect, "connect-timeout", 10*time.Second, "how long to wait for the broker to accept the connection")
	return cmd
}

func runPublish(cmd *cobra.Command, opts publishOptions, args []string) error {
	if opts.qos < 0 || opts.qos > 2 {
		return fmt.Errorf("invalid --qos %d (use 0, 1 or 2)", opts.qos)
	}
	if opts.rate < 0 {
		return fmt.Errorf("invalid --rate %g (use 0 for no limit, or a positive number of messages per second)", opts.rate)
	}
	topic := args[0]
	if strings.Contains(topic, "{device}") {
		if opts.device == "" {
			return fmt.Errorf("topic %q uses {device}: pass --device", topic)
		}
		topic = strings.ReplaceAll(topic, "{device}", opts.device)
	}

	var payloads func() ([]byte, error)
	switch {
	case opts.csvFile != "" && len(args) == 2:
		return errors.New("both --csv and PAYLOAD given: pass one of them")
	case opts.csvFile != "":
		f, err := os.Open(opts.csvFile)
		if err != nil {
			return fmt.Errorf("open CSV file: %w", err)
		}
		defer f.Close()
		reader, err := replay.NewCSVReader(f, replay.Options{Device: opts.device})
		if err != nil {
			return fmt.Errorf("%s: %w", opts.csvFile, err)
		}
		payloads = reader.Next
	default:
		payload, err := singlePayload(cmd, args)
		if err != nil {
			return err
		}
		sent := false
		payloads = func() ([]byte, error) {
			if sent {
				return nil, io.EOF
			}
			sent = true
			return payload, nil
		}
	}
	return publishAll(cmd, opts, topic, payloads)
}

func singlePayload(cmd *cobra.Command, args []string) ([]byte, error) {
	if len(args) == 2 {
		return []byte(args[1]), nil
	}
	payload, err := io.ReadAll(cmd.InOrStdin())
	if err != nil {
		return nil, fmt.Errorf("read payload from stdin: %w", err)
	}
	return payload, nil
}

// publishAll sends every payload, paced by --rate; each QoS 1 or 2 message
// is acknowledged by the broker before the next is sent.
func publishAll(cmd *cobra.Command, opts publishOptions, topic string, next func() ([]byte, error)) error {
	ctx := cmd.Context()
	client, err := bus.Dial(ctx, bus.Config{
		URL:      opts.mqttURL,
		ClientID: fmt.Sprintf("hybridd-publish-%d", os.Getpid()),
	})
	if err != nil {
		return err
	}
	defer client.Close(ctx)
	connectCtx, cancel := context.WithTimeout(ctx, opts.connect)
	defer cancel()
	if err := client.AwaitConnection(connectCtx); err != nil {
		return fmt.Errorf("no MQTT broker accepted the connection at %s within %s (start one, or pass --mqtt-url): %w",
			opts.mqttURL, opts.connect, err)
	}

	var tick <-chan time.Time
	if opts.rate > 0 {
		ticker := time.NewTicker(time.Duration(float64(time.Second) / opts.rate))
		defer ticker.Stop()
		tick = ticker.C
	}
	count := 0
	for {
		payload, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", opts.csvFile, err)
		}
		if tick != nil && count > 0 {
			select {
			case <-tick:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		msg := bus.Message{Topic: topic, Payload: payload, QoS: byte(opts.qos), Retain: opts.retain}
		if err := client.PublishWait(ctx, msg); err != nil {
			return err
		}
		count++
	}
	if opts.csvFile != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "published %d messages to %s\n", count, topic)
	}
	return nil
}
