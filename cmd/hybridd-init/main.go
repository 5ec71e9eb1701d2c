// Command hybridd-init is the process of a hybridd function container. It
// does nothing but wait: hybridd runs each message as an exec inside the
// container, so the image itself needs no init or shell.
//
// As PID 1 of the container's PID namespace it reaps the zombies that
// orphaned exec children leave behind, and exits 0 on SIGTERM or SIGINT.
// Build it static (CGO_ENABLED=0) so that it runs in any image; hybridd
// bind-mounts it read-only into the container.
package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		reap()
		os.Exit(0)
	}
}

// reap collects every child that has exited. Several exits may arrive as
// one SIGCHLD, so it loops until no exited child is left.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
