package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newVersionCommand() *cobra.Command {
	var socket string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of the CLI and, when reachable, of the daemon",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "client: %s\n", version)
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
			defer cancel()
			resp, err := newClient(socket).Version(ctx)
			if err != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "daemon: not reachable at %s\n", socket)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "daemon: %s\n", resp.Version)
			return nil
		},
	}
	socketFlag(cmd, &socket)
	return cmd
}
