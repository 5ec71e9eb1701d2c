package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Paths of the programs from Debian's mosquitto, mosquitto-clients and
// coreutils packages.
const (
	mosquittoPath    = "/usr/sbin/mosquitto"
	mosquittoPubPath = "/usr/bin/mosquitto_pub"
	mosquittoSubPath = "/usr/bin/mosquitto_sub"
	stdbufPath       = "/usr/bin/stdbuf"
)

// Timeouts for starting and stopping programs. They are generous because
// they only bound waits for events that are expected to happen.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
	pubTimeout   = 10 * time.Second
)

// Mosquitto is a mosquitto broker that a test started on a free loopback
// port. It accepts anonymous clients and keeps no state on disk.
type Mosquitto struct {
	// Addr is the broker's address, 127.0.0.1:PORT. It stays the same
	// across Restart.
	Addr string

	t       testing.TB
	config  string
	logPath string

	mu   sync.Mutex
	proc *process // nil while stopped
}

// process is one running mosquitto.
type process struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan struct{} // closed when the process has exited
}

// StartMosquitto starts mosquitto and waits until it accepts connections.
// The broker is stopped when the test ends.
func StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	requireProgram(t, mosquittoPath, "mosquitto")
	dir := t.TempDir()
	m := &Mosquitto{
		Addr:    FreeAddr(t),
		t:       t,
		config:  filepath.Join(dir, "mosquitto.conf"),
		logPath: filepath.Join(dir, "mosquitto.log"),
	}
	_, port, _ := net.SplitHostPort(m.Addr)
	// max_queued_messages 0 lifts mosquitto's default limit of 1000
	// messages queued per client beyond those in flight. hybridd
	// acknowledges a message only after handling it, so a burst waits at
	// the broker, and the default limit would drop its tail.
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nlog_dest stderr\nlog_type all\n", port)
	if err := os.WriteFile(m.config, []byte(conf), 0o600); err != nil {
		t.Fatalf("write mosquitto config: %v", err)
	}
	t.Cleanup(m.Stop)
	m.start()
	return m
}

// URL returns the broker's URL, mqtt://Addr.
func (m *Mosquitto) URL() string {
	return "mqtt://" + m.Addr
}

// Stop stops the broker, which closes every client connection. It does
// nothing if the broker is already stopped.
func (m *Mosquitto) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return
	}
	p := m.proc
	m.proc = nil
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cancel()
}

// Restart stops the broker if it runs and starts it again on the same port.
func (m *Mosquitto) Restart() {
	m.t.Helper()
	m.Stop()
	m.start()
}

func (m *Mosquitto) start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	logFile, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		m.t.Fatalf("open mosquitto log: %v", err)
	}
	defer logFile.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, mosquittoPath, "-c", m.config)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		cancel()
		m.t.Fatalf("start mosquitto: %v", err)
	}
	p := &process{cmd: cmd, cancel: cancel, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	m.proc = p
	if err := waitForListener(m.Addr, p.done); err != nil {
		m.t.Fatalf("mosquitto on %s: %v\nlog:\n%s", m.Addr, err, m.logTail())
	}
}

// waitForListener polls addr until it accepts a TCP connection, the process
// exits or startTimeout passes.
func waitForListener(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-exited:
			return errors.New("exited before accepting connections")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not accepting connections after %s: %w", startTimeout, err)
		}
	}
}

// Log returns mosquitto's log since StartMosquitto, across restarts.
func (m *Mosquitto) Log() string {
	data, _ := os.ReadFile(m.logPath)
	return string(data)
}

// logTail returns the end of mosquitto's log, for failure messages.
func (m *Mosquitto) logTail() string {
	data := []byte(m.Log())
	const keep = 4000
	if len(data) > keep {
		data = data[len(data)-keep:]
	}
	return string(data)
}

// requireProgram fails the test if path is not an executable file.
func requireProgram(t testing.TB, path, debianPackage string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("%s not found: install the Debian package %s (apt-get install %s)", path, debianPackage, debianPackage)
	}
}

// hostPort accepts host:port or an mqtt:// URL and returns host and port.
func hostPort(t testing.TB, addr string) (string, string) {
	t.Helper()
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil {
			t.Fatalf("invalid broker URL %q: %v", addr, err)
		}
		addr = u.Host
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("invalid broker address %q: %v (use host:port or mqtt://host:port)", addr, err)
	}
	return host, port
}

// messagePrefix starts the lines in which mosquitto_sub prints a message,
// so they differ from its debug lines.
const messagePrefix = "message: "

// SubProcess is a running mosquitto_sub.
type SubProcess struct {
	t      testing.TB
	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan struct{} // closed when stdout is drained

	mu       sync.Mutex
	messages []string
	output   []string // every line, for failure messages
}

// StartSub runs mosquitto_sub on the broker at addr (host:port or
// mqtt://host:port) with MQTT v5 and QoS 1 and returns once the broker has
// acknowledged the subscription to topic. The process exits after count
// messages, or after timeout.
func StartSub(t testing.TB, addr, topic string, count int, timeout time.Duration) *SubProcess {
	t.Helper()
	requireProgram(t, mosquittoSubPath, "mosquitto-clients")
	requireProgram(t, stdbufPath, "coreutils")
	host, port := hostPort(t, addr)
	seconds := max(1, int(timeout.Round(time.Second)/time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), timeout+stopTimeout)
	// stdbuf makes mosquitto_sub's stdout line-buffered, so that its SUBACK
	// line arrives while it runs and not when it exits.
	cmd := exec.CommandContext(ctx, stdbufPath, "-oL", mosquittoSubPath, "-h", host, "-p", port, "-V", "mqttv5",
		"-q", "1", "-t", topic, "-C", strconv.Itoa(count), "-W", strconv.Itoa(seconds),
		"-d", "-F", messagePrefix+"%t %p")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatalf("mosquitto_sub stdout: %v", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start mosquitto_sub: %v", err)
	}
	s := &SubProcess{t: t, cmd: cmd, cancel: cancel, done: make(chan struct{})}
	t.Cleanup(func() { s.cancel(); <-s.done })

	subscribed := make(chan struct{})
	go s.readLines(bufio.NewScanner(stdout), subscribed)
	select {
	case <-subscribed:
	case <-s.done:
		t.Fatalf("mosquitto_sub on %s exited before subscribing to %q:\n%s", addr, topic, s.outputText())
	case <-ctx.Done():
		t.Fatalf("mosquitto_sub on %s did not subscribe to %q:\n%s", addr, topic, s.outputText())
	}
	return s
}

func (s *SubProcess) readLines(scanner *bufio.Scanner, subscribed chan<- struct{}) {
	defer close(s.done)
	notified := false
	for scanner.Scan() {
		line := scanner.Text()
		s.mu.Lock()
		s.output = append(s.output, line)
		if msg, ok := strings.CutPrefix(line, messagePrefix); ok {
			s.messages = append(s.messages, msg)
		}
		s.mu.Unlock()
		if !notified && strings.Contains(line, "received SUBACK") {
			notified = true
			close(subscribed)
		}
	}
}

// Wait waits for mosquitto_sub to exit and returns the messages it received,
// each as "topic payload".
func (s *SubProcess) Wait() []string {
	<-s.done
	_ = s.cmd.Wait() // Exit status 27 means -W ran out, which the caller sees in the count.
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.messages...)
}

func (s *SubProcess) outputText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.output, "\n")
}

// Sub runs mosquitto_sub until it has count messages or timeout passes, and
// returns the messages as "topic payload". Publish from another goroutine,
// or use StartSub to publish only after the subscription is in place.
func Sub(t testing.TB, addr, topic string, count int, timeout time.Duration) []string {
	t.Helper()
	return StartSub(t, addr, topic, count, timeout).Wait()
}

// Pub publishes payload to topic with mosquitto_pub over MQTT v5 and fails
// the test if mosquitto_pub fails.
func Pub(t testing.TB, addr, topic, payload string, qos int) {
	t.Helper()
	requireProgram(t, mosquittoPubPath, "mosquitto-clients")
	host, port := hostPort(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), pubTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, mosquittoPubPath, "-h", host, "-p", port, "-V", "mqttv5",
		"-q", strconv.Itoa(qos), "-t", topic, "-m", payload)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub to %s, topic %q: %v\n%s", addr, topic, err, out)
	}
}
