// Command threshold-alert is a WASI command module that prints one alert
// line for each reading on stdin whose FIELD is above ABOVE.
//
// Environment: FIELD (e.g. co2) and ABOVE (a number, e.g. 1000). A reading
// that lacks FIELD, has a FIELD that is not a number, or is not JSON makes
// the module exit with code 1 and a reason on stderr.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o threshold-alert.wasm .
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/hybridd/hybridd/examples/wasm-sensors/internal/telemetry"
)

type alert struct {
	Device string          `json:"device"`
	TS     json.RawMessage `json:"ts"`
	Field  string          `json:"field"`
	Value  float64         `json:"value"`
	Above  float64         `json:"above"`
}

func main() {
	if err := run(os.Stdin, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "threshold-alert:", err)
		os.Exit(1)
	}
}

func run(stdin io.Reader, stdout io.Writer, getenv func(string) string) error {
	field := getenv("FIELD")
	if field == "" {
		return errors.New("FIELD is empty: set it to the reading field to watch, e.g. co2")
	}
	above, err := strconv.ParseFloat(getenv("ABOVE"), 64)
	if err != nil {
		return fmt.Errorf("ABOVE %q is not a number: set it to the threshold, e.g. 1000", getenv("ABOVE"))
	}

	readings, err := telemetry.Decode(stdin)
	if err != nil {
		return err
	}
	for _, reading := range readings {
		if err := check(reading, field, above, getenv("HYBRIDD_TOPIC"), stdout); err != nil {
			return err
		}
	}
	return nil
}

func check(reading telemetry.Reading, field string, above float64, topic string, stdout io.Writer) error {
	value, err := reading.Number(field)
	if err != nil {
		return err
	}
	if !(value > above) {
		return nil
	}

	device, err := reading.Device(topic)
	if err != nil {
		return err
	}
	line, err := telemetry.Marshal(alert{Device: device, TS: reading.Timestamp(), Field: field, Value: value, Above: above})
	if err != nil {
		return err
	}
	_, err = stdout.Write(line)
	return err
}
