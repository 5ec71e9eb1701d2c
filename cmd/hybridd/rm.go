package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newRmCommand() *cobra.Command {
	var socket string
	cmd := &cobra.Command{
		Use:   "rm NAME...",
		Short: "Stop and remove workloads",
		Long:  "Stop the named workloads, release their memory and forget them. An unknown name removes nothing.",
		Args:  argsBetween(1, -1, "workload name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := newClient(socket).Remove(cmd.Context(), args); err != nil {
				return err
			}
			for _, name := range args {
				fmt.Fprintf(cmd.OutOrStdout(), "%s removed\n", name)
			}
			return nil
		},
	}
	socketFlag(cmd, &socket)
	return cmd
}
