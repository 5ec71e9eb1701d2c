// Package testenv starts the real programs that integration tests run
// against: mosquitto and containerd, each on a private socket or a free
// loopback port, and stopped when the test ends.
package testenv

import (
	"net"
	"testing"
)

// FreeAddr returns a loopback TCP address ("127.0.0.1:PORT") that was free a
// moment ago. Another process may take the port before the caller binds it,
// which is rare enough on a test machine to accept.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free loopback port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
