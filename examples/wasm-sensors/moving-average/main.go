// Command moving-average is a hybridd reactor that keeps, per device, the
// last WINDOW values of FIELD and publishes their mean on every reading as
// {"device":...,"ts":...,"field":...,"mean":...,"n":...}, where n is the
// number of values averaged (at most WINDOW). It publishes to the
// workload's output topic.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o moving-average.wasm .
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/hybridd/hybridd/examples/wasm-sensors/internal/telemetry"
	"github.com/hybridd/hybridd/sdk/go/reactor"
)

type average struct {
	Device string          `json:"device"`
	TS     json.RawMessage `json:"ts"`
	Field  string          `json:"field"`
	Mean   float64         `json:"mean"`
	N      int             `json:"n"`
}

// window holds the last values of one device in a ring.
type window struct {
	values []float64
	next   int
}

func (w *window) add(value float64, size int) float64 {
	if len(w.values) < size {
		w.values = append(w.values, value)
	} else {
		w.values[w.next] = value
		w.next = (w.next + 1) % size
	}

	// Summing afresh keeps the mean free of the drift a running sum gathers.
	sum := 0.0
	for _, v := range w.values {
		sum += v
	}
	return sum / float64(len(w.values))
}

type averager struct {
	field   string
	size    int
	devices map[string]*window
}

// init registers the handler: a reactor built with -buildmode=c-shared runs
// package initializers in _initialize, but never calls main.
func init() {
	a, err := newAverager(os.Getenv("FIELD"), os.Getenv("WINDOW"))
	if err != nil {
		reactor.Log(reactor.LevelError, "moving-average: "+err.Error())
		reactor.Handle(func(string, []byte) error { return err })
		return
	}
	reactor.Handle(a.handle)
}

func main() {}

func newAverager(field, size string) (*averager, error) {
	if field == "" {
		return nil, errors.New("FIELD is empty: set it to the reading field to average, e.g. co2")
	}
	n, err := strconv.Atoi(size)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("WINDOW %q is not a positive integer: set it to the number of readings to average, e.g. 10", size)
	}
	return &averager{field: field, size: n, devices: map[string]*window{}}, nil
}

func (a *averager) handle(topic string, payload []byte) error {
	readings, err := telemetry.DecodeBytes(payload)
	if err != nil {
		return err
	}
	for _, reading := range readings {
		if err := a.add(reading, topic); err != nil {
			return err
		}
	}
	return nil
}

func (a *averager) add(reading telemetry.Reading, topic string) error {
	value, err := reading.Number(a.field)
	if err != nil {
		return err
	}
	device, err := reading.Device(topic)
	if err != nil {
		return err
	}

	w := a.devices[device]
	if w == nil {
		w = &window{}
		a.devices[device] = w
	}
	mean := w.add(value, a.size)
	line, err := telemetry.Marshal(average{Device: device, TS: reading.Timestamp(), Field: a.field, Mean: mean, N: len(w.values)})
	if err != nil {
		return err
	}
	return reactor.Publish("", line[:len(line)-1]) // without the newline
}
