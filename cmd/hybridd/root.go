package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/hybridd/hybridd/api"
)

// defaultSocket is the daemon socket used unless --socket or HYBRIDD_SOCKET sets another.
const defaultSocket = "/run/hybridd/hybridd.sock"

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "hybridd",
		Short:         "Run IoT workloads as WASI modules or OCI containers on one MQTT bus",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCommand(),
		newDeployCommand(),
		newPlanCommand(),
		newPsCommand(),
		newRmCommand(),
		newLogsCommand(),
		newPublishCommand(),
		newVersionCommand(),
	)
	return root
}

// socketFlag adds --socket to a command that talks to the daemon.
func socketFlag(cmd *cobra.Command, socket *string) {
	def := defaultSocket
	if env := os.Getenv("HYBRIDD_SOCKET"); env != "" {
		def = env
	}
	cmd.Flags().StringVar(socket, "socket", def, "path of the daemon's control socket (env HYBRIDD_SOCKET)")
}

func newClient(socket string) *api.Client { return api.NewClient(socket) }
