package main

import (
	"github.com/spf13/cobra"
)

func newLogsCommand() *cobra.Command {
	var socket string
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a workload's log: guest stderr, container output and hybridd's events",
		Args:  argsBetween(1, 1, "workload name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return newClient(socket).Logs(cmd.Context(), args[0], follow, cmd.OutOrStdout())
		},
	}
	socketFlag(cmd, &socket)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until interrupted")
	return cmd
}
