package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/hybridd/hybridd/daemon"
	"github.com/hybridd/hybridd/internal/quantity"
)

type serveOptions struct {
	daemon.Options
	memoryBudget string
	logLevel     string
}

func newServeCommand() *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon",
		Long: `Run the hybridd daemon. Without --mqtt-url it starts an embedded MQTT broker
on --mqtt-listen; with it, it joins that broker. Deployed workloads are stored
in --state-dir and started again after a restart.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := new(slog.LevelVar)
			if err := level.UnmarshalText([]byte(opts.logLevel)); err != nil {
				return err
			}
			opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			if opts.memoryBudget != "" {
				n, err := quantity.ParseBytes(opts.memoryBudget)
				if err != nil {
					return fmt.Errorf("--memory-budget: %w", err)
				}
				if n == 0 {
					return fmt.Errorf("invalid --memory-budget %q (use a positive quantity such as 512Mi, or leave it out for the default)", opts.memoryBudget)
				}
				opts.MemoryBudget = n
			}
			opts.Version = version
			if opts.InitPath == "" {
				opts.InitPath = defaultInitPath()
			}
			return daemon.Run(cmd.Context(), opts.Options)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.MQTTURL, "mqtt-url", "", "URL of an external MQTT broker, e.g. mqtt://127.0.0.1:1883 (default: start the embedded broker)")
	f.StringVar(&opts.MQTTListen, "mqtt-listen", "127.0.0.1:1883", "address of the embedded MQTT broker")
	f.StringVar(&opts.MQTTClientID, "mqtt-client-id", "", `MQTT client identifier, unique per broker (default "hybridd-" plus the host name)`)
	f.DurationVar(&opts.MQTTSessionExpiry, "mqtt-session-expiry", time.Hour, "how long the broker keeps hybridd's session and its queued messages while hybridd is down; 0 starts clean each time")
	f.StringVar(&opts.MetricsListen, "metrics-listen", "127.0.0.1:9464", "address of the Prometheus /metrics endpoint; empty disables it")
	socketFlag(cmd, &opts.Socket)
	f.StringVar(&opts.StateDir, "state-dir", "/var/lib/hybridd", "directory for the desired state, copied artifacts and the compilation cache")
	f.StringVar(&opts.memoryBudget, "memory-budget", "", "host memory budget as a quantity, e.g. 512Mi (default: half the memory available to the daemon)")
	f.StringVar(&opts.ContainerdAddress, "containerd-address", "/run/containerd/containerd.sock", "containerd socket; empty disables container workloads")
	f.StringVar(&opts.ContainerdNamespace, "containerd-namespace", "hybridd", "containerd namespace for hybridd's images and containers")
	f.StringVar(&opts.InitPath, "init-binary", "", "path of hybridd-init, the idle process of function containers (default: next to the hybridd binary)")
	f.StringVar(&opts.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

// defaultInitPath returns hybridd-init next to the running binary.
func defaultInitPath() string {
	exe, err := os.Executable()
	if err != nil {
		return "hybridd-init"
	}
	return filepath.Join(filepath.Dir(exe), "hybridd-init")
}
