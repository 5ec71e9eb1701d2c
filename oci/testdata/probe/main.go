// Command probe is the program inside the test images of package oci. Its
// first argument picks what it does; each mode prints what the tests
// compare against values they compute themselves.
//
//	probe digest          print topic, length and SHA-256 of stdin
//	probe status          print NoNewPrivs, CapEff, CapPrm, CapBnd, Uid, Gid from /proc/self/status
//	probe write PATH      create PATH and print "ok", or print the error and exit 1
//	probe cgroup          print the memory limit and CPU quota of its cgroup
//	probe alloc MIB       allocate and touch MIB MiB, then print "allocated"
//	probe hang            sleep until killed
//	probe hang-on-hang    sleep until killed when stdin is "hang", else act as digest
//	probe exit CODE       print "exiting CODE" to stdout and stderr, exit with CODE
//	probe serve [MIB]     print the MQTT URL, hold MIB MiB, exit 0 on SIGTERM
//	probe bigout BYTES    write BYTES bytes of "x" to stdout
package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: probe MODE [ARG]")
	}
	arg := ""
	if len(os.Args) > 2 {
		arg = os.Args[2]
	}
	switch os.Args[1] {
	case "digest":
		digest()
	case "status":
		status()
	case "write":
		if err := os.WriteFile(arg, []byte("probe\n"), 0o644); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("ok")
	case "cgroup":
		fmt.Printf("memory %s\n", firstFile("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"))
		fmt.Printf("cpu %s\n", firstFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu.max"))
	case "alloc":
		hold(mebibytes(arg))
		fmt.Println("allocated")
	case "hang-on-hang":
		digestOrHang()
	case "hang":
		for {
			time.Sleep(time.Hour)
		}
	case "exit":
		code, err := strconv.Atoi(arg)
		if err != nil {
			fail("exit code: " + err.Error())
		}
		fmt.Printf("exiting %d\n", code)
		fmt.Fprintf(os.Stderr, "exiting %d\n", code)
		os.Exit(code)
	case "serve":
		serve(arg)
	case "bigout":
		n, err := strconv.Atoi(arg)
		if err != nil {
			fail("byte count: " + err.Error())
		}
		w := bufio.NewWriter(os.Stdout)
		for i := 0; i < n; i++ {
			w.WriteByte('x')
		}
		w.Flush()
	default:
		fail("unknown mode " + os.Args[1])
	}
}

func digest() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err.Error())
	}
	fmt.Printf("topic=%s len=%d sha256=%x\n", os.Getenv("HYBRIDD_TOPIC"), len(data), sha256.Sum256(data))
	fmt.Fprintln(os.Stderr, "digest done")
}

func digestOrHang() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err.Error())
	}
	if string(data) == "hang" {
		for {
			time.Sleep(time.Hour)
		}
	}
	fmt.Printf("topic=%s len=%d sha256=%x\n", os.Getenv("HYBRIDD_TOPIC"), len(data), sha256.Sum256(data))
}

func status() {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fail(err.Error())
	}
	for _, line := range strings.Split(string(raw), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch key {
		case "NoNewPrivs", "CapEff", "CapPrm", "CapBnd", "Uid", "Gid":
			fmt.Printf("%s=%s\n", key, strings.Join(strings.Fields(value), " "))
		}
	}
}

func serve(arg string) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM)
	var held []byte
	if arg != "" {
		held = hold(mebibytes(arg))
	}
	fmt.Printf("serving HYBRIDD_MQTT_URL=%s\n", os.Getenv("HYBRIDD_MQTT_URL"))
	<-signals
	fmt.Printf("stopping after holding %d bytes\n", len(held))
}

// hold allocates n bytes and writes every page so that the memory counts
// against the cgroup.
func hold(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b
}

func mebibytes(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		fail("size in MiB: " + s)
	}
	return n << 20
}

func firstFile(paths ...string) string {
	for _, p := range paths {
		if raw, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(raw))
		}
	}
	return "unknown"
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "probe: "+msg)
	os.Exit(2)
}
