//go:build !wasip1

package reactor

import (
	"fmt"
	"os"
)

// Publish returns ErrNotWasm outside GOOS=wasip1.
func Publish(topic string, payload []byte) error { return ErrNotWasm }

// Log writes msg to stderr outside GOOS=wasip1.
func Log(level Level, msg string) {
	fmt.Fprintf(os.Stderr, "level=%d msg=%q\n", level, msg)
}
