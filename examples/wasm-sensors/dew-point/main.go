// Command dew-point is a WASI command module that prints the dew point of
// each reading on stdin as {"device":...,"ts":...,"dew_point":...}, in °C
// rounded to two decimals.
//
// Each reading needs "temperature" (°C) and "humidity" (%RH, above 0 and at
// most 100). A reading without them makes the module exit with code 1 and a
// reason on stderr.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o dew-point.wasm .
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/hybridd/hybridd/examples/wasm-sensors/internal/telemetry"
)

// Magnus formula coefficients over water, a = 17.625 and b = 243.04 °C,
// from O. A. Alduchov and R. E. Eskridge, "Improved Magnus Form
// Approximation of Saturation Vapor Pressure", Journal of Applied
// Meteorology 35 (1996) 601–609. They are fitted for -40 °C to 50 °C.
const (
	magnusA = 17.625
	magnusB = 243.04
)

type dewPoint struct {
	Device   string          `json:"device"`
	TS       json.RawMessage `json:"ts"`
	DewPoint float64         `json:"dew_point"`
}

func main() {
	if err := run(os.Stdin, os.Stdout, os.Getenv("HYBRIDD_TOPIC")); err != nil {
		fmt.Fprintln(os.Stderr, "dew-point:", err)
		os.Exit(1)
	}
}

func run(stdin io.Reader, stdout io.Writer, topic string) error {
	readings, err := telemetry.Decode(stdin)
	if err != nil {
		return err
	}
	for _, reading := range readings {
		line, err := convert(reading, topic)
		if err != nil {
			return err
		}
		if _, err := stdout.Write(line); err != nil {
			return err
		}
	}
	return nil
}

func convert(reading telemetry.Reading, topic string) ([]byte, error) {
	temperature, err := reading.Number("temperature")
	if err != nil {
		return nil, err
	}
	humidity, err := reading.Number("humidity")
	if err != nil {
		return nil, err
	}
	if humidity <= 0 || humidity > 100 {
		return nil, fmt.Errorf("humidity %v %%RH is out of range: it must be above 0 and at most 100", humidity)
	}
	device, err := reading.Device(topic)
	if err != nil {
		return nil, err
	}

	rounded := math.Round(magnus(temperature, humidity)*100) / 100
	return telemetry.Marshal(dewPoint{Device: device, TS: reading.Timestamp(), DewPoint: rounded})
}

// magnus returns the dew point in °C for a temperature in °C and a relative
// humidity in percent: gamma = ln(RH/100) + a·T/(b+T), dew point = b·gamma/(a-gamma).
func magnus(temperature, humidity float64) float64 {
	gamma := math.Log(humidity/100) + magnusA*temperature/(magnusB+temperature)
	return magnusB * gamma / (magnusA - gamma)
}
